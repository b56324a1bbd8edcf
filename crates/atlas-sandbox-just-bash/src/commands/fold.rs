//! `fold` (GNU coreutils): lines broken at `-w` columns (80), at the last blank with `-s`,
//! counting bytes with `-b`; columns follow tabs (to the next multiple of 8), backspace and
//! carriage return as GNU counts them.

use super::Ctx;
use super::opts::{Arg, Spec};
use super::sink::Sink;
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "fold",
    "sbw:",
    &[
        ("spaces", 's', Arg::No),
        ("bytes", 'b', Arg::No),
        ("width", 'w', Arg::Required),
    ],
)
.gnu("bsw:", &["bytes", "spaces", "width", "help", "version"]);

pub(super) fn fold(ctx: &mut Ctx<'_, '_>, raw: &[String]) -> R<i32> {
    let mut width = 80usize;
    let mut spaces = false;
    let mut bytes = false;
    // Digits in a cluster are GNU's old width spelling: `fold -40`, `fold -b5` (= -b -w5).
    let mut args: Vec<String> = Vec::with_capacity(raw.len());
    for a in raw {
        match a.strip_prefix('-') {
            Some(c) if !c.starts_with('-') && c.bytes().any(|b| b.is_ascii_digit()) => {
                let digits_at = c.find(|ch: char| ch.is_ascii_digit()).unwrap_or(c.len());
                let letters = &c[..digits_at];
                if letters.contains('w') {
                    args.push(a.clone());
                    continue;
                }
                if !letters.is_empty() {
                    args.push(format!("-{letters}"));
                }
                args.push(format!("-w{}", &c[digits_at..]));
            }
            _ => args.push(a.clone()),
        }
    }
    let (flags, files) = match ctx.opts(&SPEC, &args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    for (c, v) in flags {
        match c {
            's' => spaces = true,
            'b' => bytes = true,
            _ => {
                let v = v.unwrap_or_default();
                match v.parse::<usize>() {
                    Ok(n) if n > 0 => width = n,
                    _ => {
                        ctx.warn("fold", format!("invalid number of columns: '{v}'"));
                        return Ok(1);
                    }
                }
            }
        }
    }
    let files = super::or_stdin(files);
    let mut sink = Sink::new();
    let mut st = 0;
    for f in &files {
        let data = match ctx.read_operand(f) {
            Ok(d) => d,
            Err(e) => {
                ctx.warn("fold", format!("{f}: {e}"));
                st = 1;
                continue;
            }
        };
        let advance = |col: usize, c: u8| -> usize {
            if bytes {
                return col + 1;
            }
            match c {
                b'\t' => col + 8 - col % 8,
                8 => col.saturating_sub(1),
                b'\r' => 0,
                _ => col + 1,
            }
        };
        let mut line: Vec<u8> = Vec::new();
        let mut col = 0usize;
        for &c in data.iter() {
            if c == b'\n' {
                line.push(b'\n');
                sink.put(ctx, &line)?;
                line.clear();
                col = 0;
                continue;
            }
            loop {
                let next = advance(col, c);
                if next <= width {
                    col = next;
                    line.push(c);
                    break;
                }
                if spaces && let Some(pos) = line.iter().rposition(|&b| b == b' ' || b == b'\t') {
                    let rest = line.split_off(pos + 1);
                    line.push(b'\n');
                    sink.put(ctx, &line)?;
                    line = rest;
                    col = line.iter().fold(0, |c, &b| advance(c, b));
                    continue;
                }
                if line.is_empty() {
                    col = next;
                    line.push(c);
                    break;
                }
                line.push(b'\n');
                sink.put(ctx, &line)?;
                line.clear();
                col = 0;
            }
            if ctx.io.overflow {
                break;
            }
        }
        sink.put(ctx, &line)?;
    }
    sink.flush(ctx)?;
    Ok(st)
}
