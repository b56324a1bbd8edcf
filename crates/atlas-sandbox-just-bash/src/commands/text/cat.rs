//! `cat`, and the whole-input filters `tee`, `tac` and `rev`.

use super::super::opts::{Arg, Spec};
use super::super::{Ctx, or_stdin};
use super::{lines, strip_nl};
use crate::interp::R;

const CAT: Spec = Spec::new(
    "cat",
    "AbeEnstTuv",
    &[
        ("show-all", 'A', Arg::No),
        ("number-nonblank", 'b', Arg::No),
        ("show-ends", 'E', Arg::No),
        ("number", 'n', Arg::No),
        ("squeeze-blank", 's', Arg::No),
        ("show-tabs", 'T', Arg::No),
        ("show-nonprinting", 'v', Arg::No),
    ],
);

/// What `cat`'s options ask for.
#[derive(Default)]
struct CatOpts {
    number: bool,
    nonblank: bool,
    ends: bool,
    tabs: bool,
    nonprinting: bool,
    squeeze: bool,
}

impl CatOpts {
    fn plain(&self) -> bool {
        !(self.number
            || self.nonblank
            || self.ends
            || self.tabs
            || self.nonprinting
            || self.squeeze)
    }
}

/// `cat -v`'s notation for one byte: `^X` for controls, `M-` for the high half, `^?` for DEL.
fn push_visible(out: &mut Vec<u8>, b: u8) {
    let low = if b >= 128 {
        out.extend_from_slice(b"M-");
        b - 128
    } else {
        b
    };
    match low {
        0..=31 => out.extend_from_slice(&[b'^', low + 64]),
        127 => out.extend_from_slice(b"^?"),
        _ => out.push(low),
    }
}

pub(crate) fn cat(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&CAT, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut o = CatOpts::default();
    for (c, _) in &flags {
        match c {
            'A' => (o.nonprinting, o.ends, o.tabs) = (true, true, true),
            'b' => o.nonblank = true,
            'e' => (o.nonprinting, o.ends) = (true, true),
            'E' => o.ends = true,
            'n' => o.number = true,
            's' => o.squeeze = true,
            't' => (o.nonprinting, o.tabs) = (true, true),
            'T' => o.tabs = true,
            'v' => o.nonprinting = true,
            _ => {} // -u: unbuffered, nothing to do
        }
    }
    let files = or_stdin(files);
    let mut st = 0;
    let mut n = 0u64;
    // GNU carries the blank-line state across files (`-s` squeezes over a file boundary).
    let mut prev_blank = false;
    for f in &files {
        ctx.sh.tick()?;
        let data = match ctx.read_operand(f) {
            Ok(d) => d,
            Err(e) => {
                ctx.warn("cat", format!("{f}: {e}"));
                st = 1;
                continue;
            }
        };
        if o.plain() {
            ctx.io.out(&data);
            continue;
        }
        let mut out = Vec::with_capacity(data.len() + data.len() / 8);
        for l in lines(&data) {
            let body = strip_nl(l);
            let blank = body.is_empty() && l.len() == 1;
            if o.squeeze && blank && prev_blank {
                continue;
            }
            prev_blank = blank;
            if o.nonblank {
                if !body.is_empty() {
                    n += 1;
                    out.extend_from_slice(format!("{n:>6}\t").as_bytes());
                }
            } else if o.number {
                n += 1;
                out.extend_from_slice(format!("{n:>6}\t").as_bytes());
            }
            for &b in body {
                match b {
                    b'\t' if o.tabs => out.extend_from_slice(b"^I"),
                    b'\t' => out.push(b),
                    _ if o.nonprinting => push_visible(&mut out, b),
                    _ => out.push(b),
                }
            }
            if l.len() > body.len() {
                if o.ends {
                    out.push(b'$');
                }
                out.push(b'\n');
            }
        }
        ctx.io.out(&out);
    }
    Ok(st)
}

const TEE: Spec = Spec::new(
    "tee",
    "ai",
    &[
        ("append", 'a', Arg::No),
        ("ignore-interrupts", 'i', Arg::No),
    ],
);

pub(crate) fn tee(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&TEE, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let append = flags.iter().any(|(c, _)| *c == 'a');
    let data = ctx.stdin.take_all().to_vec();
    let mut st = 0;
    for f in &files {
        if let Err(e) = ctx.write_named(f, &data, append) {
            ctx.warn("tee", format!("{f}: {e}"));
            st = 1;
        }
    }
    ctx.io.out(&data);
    Ok(st)
}

const TAC: Spec = Spec::new(
    "tac",
    "bs:",
    &[("before", 'b', Arg::No), ("separator", 's', Arg::Required)],
)
.gnu("brs:", &["before", "regex", "separator", "help", "version"]);

/// `tac`: records (lines, or ended by `-s SEP`; with `-b` begun by it) in reverse order.
pub(crate) fn tac(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&TAC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut sep = b"\n".to_vec();
    let mut before = false;
    for (c, v) in flags {
        match c {
            'b' => before = true,
            _ => sep = v.unwrap_or_default().into_bytes(),
        }
    }
    let (inputs, failed) = ctx.read_all("tac", &files);
    let mut out = Vec::new();
    for (_, d) in &inputs {
        let mut records = tac_records(d, &sep, before);
        records.reverse();
        for r in records {
            out.extend_from_slice(r);
        }
    }
    ctx.io.out(&out);
    Ok(i32::from(failed))
}

/// `data` cut after each `sep` (or, `before`, at each `sep`), nothing lost or added. An empty
/// `sep` cuts nowhere (GNU prints such input unchanged).
fn tac_records<'a>(data: &'a [u8], sep: &[u8], before: bool) -> Vec<&'a [u8]> {
    if sep.is_empty() {
        return vec![data];
    }
    let mut records = Vec::new();
    let (mut start, mut at) = (0, 0);
    while let Some(p) = data[at..].windows(sep.len()).position(|w| w == sep) {
        let found = at + p;
        let end = if before { found } else { found + sep.len() };
        if end > start {
            records.push(&data[start..end]);
        }
        start = end;
        at = found + sep.len();
    }
    if start < data.len() {
        records.push(&data[start..]);
    }
    records
}

pub(crate) fn rev(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let files = match ctx.opts(&Spec::new("rev", "", &[]), args) {
        Ok((_, files)) => files,
        Err(st) => return Ok(st),
    };
    let (inputs, failed) = ctx.read_all("rev", &files);
    // util-linux rev reverses wide characters and gives up on bytes the C locale cannot read
    // as one: with a byte of 128 or more there its answer is an error this does not copy.
    if super::super::grep::c_locale(ctx) && inputs.iter().any(|(_, d)| !d.is_ascii()) {
        ctx.warn(
            "rev",
            "non-ASCII text in the C locale is not supported in this sandbox",
        );
        return Ok(2);
    }
    let mut out = String::new();
    for (_, d) in &inputs {
        for l in lines(d) {
            let s = String::from_utf8_lossy(strip_nl(l));
            out.extend(s.chars().rev());
            if l.ends_with(b"\n") {
                out.push('\n');
            }
        }
    }
    ctx.io.out(out.as_bytes());
    Ok(i32::from(failed))
}
