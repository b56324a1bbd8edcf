//! `strings` (GNU binutils): runs of at least `-n` (4) printable characters (ASCII and tab),
//! one per line, `-t d|o|x` with their offset. Other encodings (`-e`) are refused.

use super::Ctx;
use super::opts::{self, Arg, Spec};
use super::sink::Sink;
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "strings",
    "an:t:o",
    &[
        ("all", 'a', Arg::No),
        ("bytes", 'n', Arg::Required),
        ("radix", 't', Arg::Required),
    ],
);

pub(super) fn strings(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut min = 4usize;
    let mut radix: Option<char> = None;
    // `strings -8` is `-n 8`.
    let args: Vec<String> = args
        .iter()
        .map(|a| match a.strip_prefix('-') {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => format!("-n{n}"),
            _ => a.clone(),
        })
        .collect();
    let (flags, files) = match ctx.opts(&SPEC, &args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    for (c, v) in flags {
        let v = v.unwrap_or_default();
        match c {
            'n' => match v.parse::<usize>() {
                Ok(n) if n > 0 => min = n,
                _ => {
                    ctx.warn("strings", format!("invalid minimum string length {v}"));
                    return Ok(1);
                }
            },
            't' => {
                radix = match v.as_str() {
                    "d" => Some('d'),
                    "o" => Some('o'),
                    "x" => Some('x'),
                    _ => return Ok(opts::unsupported(ctx, "strings", &format!("radix '{v}'"))),
                };
            }
            'o' => radix = Some('o'),
            _ => {} // -a: the whole file is scanned anyway
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
