//! `hexdump` (util-linux 2.38): the default two-byte hex format, `-C` (canonical, with the
//! characters), `-b`, `-c`, `-d`, `-o`, `-x`, several of them line by line, `-n`, `-s`, `-v`;
//! identical 16-byte lines collapse to `*` as there. `-e`/`-f` formats and `-L` are refused, and
//! so is `-s` over standard input, which the real tool fails to seek on a pipe.

use super::Ctx;
use super::opts::{self, Arg, Spec};
use super::sink::Sink;
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "hexdump",
    "bcCdoxn:s:v",
    &[
        ("one-byte-octal", 'b', Arg::No),
        ("one-byte-char", 'c', Arg::No),
        ("canonical", 'C', Arg::No),
        ("two-bytes-decimal", 'd', Arg::No),
        ("two-bytes-octal", 'o', Arg::No),
        ("two-bytes-hex", 'x', Arg::No),
        ("length", 'n', Arg::Required),
        ("skip", 's', Arg::Required),
        ("no-squeezing", 'v', Arg::No),
    ],
)
.gnu(
    "bcCde:f:L::n:os:vxhV",
    &[
        "one-byte-octal",
        "one-byte-char",
        "canonical",
        "two-bytes-decimal",
        "two-bytes-octal",
        "two-bytes-hex",
        "color",
        "format",
        "format-file",
        "length",
        "skip",
        "no-squeezing",
        "help",
        "version",
    ],
);

/// A display format: `D` is the default (`-x` with narrower columns).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fmt {
    D,
    C,
    B,
    Char,
    Dec,
    Oct,
    Hex,
}

pub(super) fn hexdump(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut fmts: Vec<Fmt> = Vec::new();
    let (mut length, mut skip, mut squeeze) = (None::<u64>, None::<u64>, true);
    for (c, v) in flags {
        let f = match c {
            'b' => Fmt::B,
            'c' => Fmt::Char,
            'C' => Fmt::C,
            'd' => Fmt::Dec,
            'o' => Fmt::Oct,
            'x' => Fmt::Hex,
            'v' => {
                squeeze = false;
                continue;
            }
            _ => {
                let v = v.unwrap_or_default();
                let what = if c == 'n' { "length" } else { "offset" };
                match size(&v) {
                    Some(Some(n)) if c == 'n' => length = Some(n),
                    Some(Some(n)) => skip = Some(n),
                    Some(None) => {
                        return Ok(opts::unsupported(
                            ctx,
                            "hexdump",
                            &format!("the {what} '{v}' (size suffixes)"),
                        ));
                    }
                    None => {
                        ctx.warn(
                            "hexdump",
                            format!("failed to parse {what}: '{v}': Invalid argument"),
                        );
                        return Ok(1);
                    }
                }
                continue;
            }
        };
        fmts.push(f);
    }
    if fmts.is_empty() {
        fmts.push(Fmt::D);
    }
    let files = if files.is_empty() {
        if skip.is_some() {
            return Ok(opts::unsupported(ctx, "hexdump", "-s over standard input"));
        }
        vec!["-".to_owned()]
    } else {
        files
    };
    let mut data: Vec<u8> = Vec::new();
    let mut read_any = false;
    for f in &files {
        match ctx.read_operand(f) {
            Ok(d) => {
                let _held = super::sink::hold(ctx, data.len() + d.len())?;
                data.extend_from_slice(&d);
                read_any = true;
            }
            // util-linux opens a directory, fails to read it and goes on as if it were empty.
            Err(e @ crate::vfs::FsError::IsDir) => {
                ctx.warn("hexdump", format!("{f}: {e}"));
                read_any = true;
            }
            Err(e) => ctx.warn("hexdump", format!("{f}: {e}")),
        }
    }
    if !read_any {
        ctx.warn("hexdump", "all input file arguments failed");
        return Ok(1);
    }
    if data.is_empty() || length == Some(0) {
        return Ok(0);
    }
    let start = usize::try_from(skip.unwrap_or(0))
        .unwrap_or(usize::MAX)
        .min(data.len());
    let end = match length {
        Some(n) => start.saturating_add(usize::try_from(n).unwrap_or(usize::MAX)),
        None => data.len(),
    }
    .min(data.len());
    let body = &data[start..end];
    let mut sink = Sink::new();
    let mut prev: Option<&[u8]> = None;
    let mut starred = false;
    for (k, block) in body.chunks(16).enumerate() {
        if squeeze && block.len() == 16 && prev == Some(block) {
            if !starred {
                sink.put(ctx, b"*\n")?;
                starred = true;
            }
            continue;
        }
        prev = Some(block);
        starred = false;
        let addr = start + k * 16;
        for &f in &fmts {
            if !sink.put(ctx, line(f, addr, block).as_bytes())? {
                sink.flush(ctx)?;
                return Ok(0);
            }
        }
    }
    let last = fmts[fmts.len() - 1];
    let addr = start + body.len();
    let tail = if last == Fmt::C {
        format!("{addr:08x}\n")
    } else {
        format!("{addr:07x}\n")
    };
    sink.put(ctx, tail.as_bytes())?;
    sink.flush(ctx)?;
    Ok(0)
}

/// One line of `f` for the bytes of one 16-byte block at `addr`, padded as util-linux pads it.
fn line(f: Fmt, addr: usize, b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let word = |i: usize| u16::from(b[i]) | u16::from(b.get(i + 1).copied().unwrap_or(0)) << 8;
    match f {
        Fmt::C => {
            let _ = write!(s, "{addr:08x}  ");
            for (i, &x) in b.iter().enumerate() {
                let _ = write!(s, "{x:02x} ");
                if i == 7 {
                    s.push(' ');
                }
            }
            while s.len() < 59 {
                s.push(' ');
            }
            s.push_str(" |");
            for &x in b {
                s.push(if (0x20..0x7f).contains(&x) {
                    char::from(x)
                } else {
                    '.'
                });
            }
            s.push('|');
            return s + "\n";
        }
        Fmt::D => {
            let _ = write!(s, "{addr:07x}");
            for i in (0..b.len()).step_by(2) {
                let _ = write!(s, " {:04x}", word(i));
            }
            pad(&mut s, 47);
        }
        Fmt::Hex | Fmt::Dec | Fmt::Oct => {
            let _ = write!(s, "{addr:07x}");
            for i in (0..b.len()).step_by(2) {
                let _ = match f {
                    Fmt::Hex => write!(s, "    {:04x}", word(i)),
                    Fmt::Dec => write!(s, "   {:05}", word(i)),
                    _ => write!(s, "  {:06o}", word(i)),
                };
            }
            pad(&mut s, 71);
        }
        Fmt::B => {
            let _ = write!(s, "{addr:07x}");
            for &x in b {
                let _ = write!(s, " {x:03o}");
            }
            pad(&mut s, 71);
        }
        Fmt::Char => {
            let _ = write!(s, "{addr:07x}");
            for &x in b {
                let c = match x {
                    0 => "\\0".to_owned(),
                    7 => "\\a".to_owned(),
                    8 => "\\b".to_owned(),
                    9 => "\\t".to_owned(),
                    10 => "\\n".to_owned(),
                    11 => "\\v".to_owned(),
                    12 => "\\f".to_owned(),
                    13 => "\\r".to_owned(),
                    0x20..=0x7e => char::from(x).to_string(),
                    _ => format!("{x:03o}"),
                };
                let _ = write!(s, "{c:>4}");
            }
            pad(&mut s, 71);
        }
    }
    s.push('\n');
    s
}

fn pad(s: &mut String, width: usize) {
    while s.len() < width {
        s.push(' ');
    }
}

/// A length or offset: decimal, `0x` hex or `0` octal. `Some(None)`: a size suffix, refused;
/// `None`: not a number.
fn size(v: &str) -> Option<Option<u64>> {
    let t = v.trim();
    let digits_end = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        let n = h.bytes().take_while(u8::is_ascii_hexdigit).count();
        if n == 0 {
            return None;
        }
        if n < h.len() {
            return Some(None);
        }
        return Some(u64::from_str_radix(h, 16).ok());
    } else {
        t.bytes().take_while(u8::is_ascii_digit).count()
    };
    if digits_end == 0 {
        return None;
    }
    if digits_end < t.len() {
        return Some(None);
    }
    let radix = if t.len() > 1 && t.starts_with('0') {
        8
    } else {
        10
    };
    match u64::from_str_radix(t, radix) {
        Ok(n) => Some(Some(n)),
        Err(_) => None,
    }
}
