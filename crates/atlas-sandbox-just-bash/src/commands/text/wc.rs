//! `wc`.

use super::super::opts::{Arg, Spec};
use super::super::{Ctx, or_stdin};
use super::usage;
use crate::interp::R;
use crate::vfs::Kind;

const WC: Spec = Spec::new(
    "wc",
    "clmwL",
    &[
        ("bytes", 'c', Arg::No),
        ("chars", 'm', Arg::No),
        ("lines", 'l', Arg::No),
        ("words", 'w', Arg::No),
        ("max-line-length", 'L', Arg::No),
        ("files0-from", 'F', Arg::Required),
    ],
)
.gnu("clLmw", &["total", "help", "version"]);

fn usage_tail(ctx: &mut Ctx<'_, '_>) -> R<i32> {
    ctx.io.errln("Try 'wc --help' for more information.");
    Ok(1)
}

pub(crate) fn wc(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&WC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut show = [false; 5]; // lines words chars bytes maxlen
    let mut files0: Option<String> = None;
    for (c, v) in &flags {
        match c {
            'F' => files0 = v.clone(),
            'l' => show[0] = true,
            'w' => show[1] = true,
            'm' => show[2] = true,
            'c' => show[3] = true,
            'L' => show[4] = true,
            other => return usage(ctx, "wc", &format!("invalid option -- '{other}'")),
        }
    }
    if !show.iter().any(|s| *s) {
        show = [true, true, false, true, false];
    }
    let nshown = show.iter().filter(|s| **s).count();
    // `--files0-from`: the names, NUL-terminated, from a file or a pipe; GNU reads a pipe's
    // names as they come, so it cannot size the columns from the files and pads to 1.
    let mut listed_from: Option<(String, bool)> = None;
    let mut files = files;
    if let Some(src) = files0 {
        if let Some(extra) = files.first() {
            ctx.warn("wc", format!("extra operand '{extra}'"));
            ctx.io
                .errln("file operands cannot be combined with --files0-from");
            return usage_tail(ctx);
        }
        let from_pipe = src == "-" && !ctx.stdin.is_seekable();
        let list = match ctx.read_operand(&src) {
            Ok(d) => d,
            Err(e) => {
                ctx.warn("wc", format!("cannot open '{src}' for reading: {e}"));
                return Ok(1);
            }
        };
        let body = list.strip_suffix(b"\0").unwrap_or(&list);
        if list.is_empty() {
            return Ok(0);
        }
        files = body
            .split(|&b| b == 0)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        listed_from = Some((src, from_pipe));
    }
    let operands = files;
    let mut rows: Vec<([u64; 5], Option<String>)> = Vec::new();
    let mut st = 0;
    let mut any_nonregular = operands.is_empty();
    let mut regular_total: u64 = 0;
    let inputs = or_stdin(operands.clone());
    for (k, f) in inputs.iter().enumerate() {
        if let Some((src, _)) = &listed_from {
            if f.is_empty() {
                ctx.warn(
                    "wc",
                    format!("{src}:{}: invalid zero-length file name", k + 1),
                );
                st = 1;
                continue;
            }
            if src == "-" && f == "-" {
                ctx.warn(
                    "wc",
                    "when reading file names from stdin, no file name of '-' allowed",
                );
                st = 1;
                continue;
            }
        }
        if f == "-" {
            any_nonregular = true;
        } else {
            let p = ctx.path(f);
            match ctx.sh.fs.stat(&p) {
                Ok(m) if m.kind == Kind::File => regular_total += m.size,
                Ok(_) => any_nonregular = true,
                // GNU leaves an operand it cannot stat out of the total, and still pads.
                Err(_) => {}
            }
        }
        let data = match ctx.read_operand(f) {
            Ok(d) => d,
            Err(e) => {
                ctx.warn("wc", format!("{f}: {e}"));
                st = 1;
                // GNU opens a directory and fails on reading it: it still prints a row of zeros.
                if matches!(e, crate::vfs::FsError::IsDir) {
                    let name = (!operands.is_empty()).then(|| f.clone());
                    rows.push(([0; 5], name));
                }
                continue;
            }
        };
        let counts = count(&data, super::super::grep::c_locale(ctx));
        let name = if operands.is_empty() {
            None
        } else {
            Some(f.clone())
        };
        rows.push((counts, name));
    }
    // GNU: one count of one operand prints unpadded; otherwise the width is the digits of the
    // total size of regular operands (at least 7 when stdin or a non-regular file is counted).
    let width = if (inputs.len() == 1 && nshown == 1)
        || listed_from.as_ref().is_some_and(|(_, pipe)| *pipe)
    {
        1
    } else {
        let mut w = 1;
        let mut t = regular_total;
        while t >= 10 {
            t /= 10;
            w += 1;
        }
        if any_nonregular { w.max(7) } else { w }
    };
    let mut total = [0u64; 5];
    for (c, _) in &rows {
        for k in 0..4 {
            total[k] += c[k];
        }
        total[4] = total[4].max(c[4]);
    }
    let mut out = String::new();
    let mut emit = |c: &[u64; 5], name: Option<&str>| {
        let mut first = true;
        for k in [0, 1, 2, 3, 4] {
            if !show[k] {
                continue;
            }
            if !first {
                out.push(' ');
            }
            first = false;
            out.push_str(&format!("{:>width$}", c[k]));
        }
        if let Some(n) = name {
            out.push(' ');
            out.push_str(n);
        }
        out.push('\n');
    };
    for (c, name) in &rows {
        emit(c, name.as_deref());
    }
    if inputs.len() > 1 {
        emit(&total, Some("total"));
    }
    ctx.io.out(out.as_bytes());
    Ok(st)
}

/// `wc`'s five counts. Under the C locale (`c_locale`) a character is a byte, and as in
/// coreutils a byte that is neither printable nor a space neither starts nor ends a word and
/// takes no column.
fn count(data: &[u8], c_locale: bool) -> [u64; 5] {
    let lines = memchr::memchr_iter(b'\n', data).count() as u64;
    let mut words = 0u64;
    let mut in_word = false;
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    for &b in data {
        if is_ws(b) {
            in_word = false;
        } else if !in_word && (!c_locale || (0x21..0x7f).contains(&b)) {
            in_word = true;
            words += 1;
        }
    }
    let chars = if c_locale {
        data.len() as u64
    } else {
        String::from_utf8_lossy(data).chars().count() as u64
    };
    let mut maxlen = 0u64;
    for l in data.split(|b| *b == b'\n') {
        let mut w = 0u64;
        if c_locale {
            for &b in l {
                match b {
                    b'\t' => w = (w / 8 + 1) * 8,
                    0x20..=0x7e => w += 1,
                    _ => {}
                }
            }
        } else {
            for c in String::from_utf8_lossy(l).chars() {
                if c == '\t' {
                    w = (w / 8 + 1) * 8;
                } else {
                    w += 1;
                }
            }
        }
        maxlen = maxlen.max(w);
    }
    [lines, words, chars, data.len() as u64, maxlen]
}
