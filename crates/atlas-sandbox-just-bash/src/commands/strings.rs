//! `strings` (GNU binutils): runs of at least `-n` (4) printable characters (ASCII and tab),
//! one per line, `-t d|o|x` with their offset. Other encodings (`-e`) are refused.

use lexopt::Arg;

use super::Ctx;
use super::cli::{self, Sink};
use crate::interp::R;

pub(super) fn strings(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut min = 4usize;
    let mut radix: Option<char> = None;
    let mut files = Vec::new();
    // `strings -8` is `-n 8`.
    let args: Vec<String> = args
        .iter()
        .map(|a| match a.strip_prefix('-') {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => format!("-n{n}"),
            _ => a.clone(),
        })
        .collect();
    let mut p = cli::parser("strings", &args);
    loop {
        let arg = match p.next() {
            Ok(Some(a)) => a,
            Ok(None) => break,
            Err(e) => return Ok(cli::report(ctx, "strings", e, 1)),
        };
        match arg {
            Arg::Short('a') | Arg::Long("all") => {}
            Arg::Short('n') | Arg::Long("bytes") => {
                let v = match cli::text(&mut p) {
                    Ok(v) => v,
                    Err(e) => return Ok(cli::report(ctx, "strings", e, 1)),
                };
                match v.parse::<usize>() {
                    Ok(n) if n > 0 => min = n,
                    _ => {
                        ctx.warn("strings", format!("invalid minimum string length {v}"));
                        return Ok(1);
                    }
                }
            }
            Arg::Short('t') | Arg::Long("radix") => {
                let v = match cli::text(&mut p) {
                    Ok(v) => v,
                    Err(e) => return Ok(cli::report(ctx, "strings", e, 1)),
                };
                radix = match v.as_str() {
                    "d" => Some('d'),
                    "o" => Some('o'),
                    "x" => Some('x'),
                    _ => return Ok(cli::unsupported(ctx, "strings", &format!("radix '{v}'"))),
                };
            }
            Arg::Short('o') => radix = Some('o'),
            Arg::Value(v) => files.push(v.to_string_lossy().into_owned()),
            other => return Ok(cli::report(ctx, "strings", other.unexpected(), 1)),
        }
    }
    let files = super::or_stdin(files);
    let mut sink = Sink::new();
    let mut st = 0;
    for f in &files {
        let data = match ctx.read_operand(f) {
            Ok(d) => d,
            Err(e) => {
                ctx.warn("strings", format!("'{f}': {e}"));
                st = 1;
                continue;
            }
        };
        let printable = |b: u8| (0x20..0x7f).contains(&b) || b == b'\t';
        let mut i = 0;
        while i < data.len() {
            if !printable(data[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < data.len() && printable(data[i]) {
                i += 1;
            }
            if i - start < min {
                continue;
            }
            let mut line = match radix {
                Some('d') => format!("{start:7} "),
                Some('o') => format!("{start:7o} "),
                Some(_) => format!("{start:7x} "),
                None => String::new(),
            }
            .into_bytes();
            line.extend_from_slice(&data[start..i]);
            line.push(b'\n');
            if !sink.put(ctx, &line)? {
                break;
            }
        }
    }
    sink.flush(ctx)?;
    Ok(st)
}
