//! `comm` (GNU coreutils): three columns for two sorted inputs, byte order (`LC_ALL=C`), with
//! GNU's order checks (a warning once per file and exit 1 by default, fatal with
//! `--check-order`, off with `--nocheck-order`).

use std::sync::Arc;

use super::Ctx;
use super::opts::{self, Arg, Spec};
use super::sink::Sink;
use crate::interp::R;

/// Long-only options get keys no short option has.
const SPEC: Spec = Spec::new(
    "comm",
    "123z",
    &[
        ("zero-terminated", 'z', Arg::No),
        ("check-order", 'C', Arg::No),
        ("nocheck-order", 'N', Arg::No),
        ("total", 'T', Arg::No),
        ("output-delimiter", 'D', Arg::Required),
    ],
)
.gnu(
    "123z",
    &[
        "check-order",
        "nocheck-order",
        "output-delimiter",
        "total",
        "zero-terminated",
        "help",
        "version",
    ],
);

#[derive(PartialEq)]
enum Check {
    Default,
    On,
    Off,
}

struct Opts {
    show: [bool; 3],
    check: Check,
    delim: Option<String>,
    zero: bool,
    total: bool,
    files: Vec<String>,
}

fn parse(flags: Vec<(char, Option<String>)>, files: Vec<String>) -> Opts {
    let mut o = Opts {
        show: [true; 3],
        check: Check::Default,
        delim: None,
        zero: false,
        total: false,
        files,
    };
    for (c, v) in flags {
        match c {
            '1' => o.show[0] = false,
            '2' => o.show[1] = false,
            '3' => o.show[2] = false,
            'z' => o.zero = true,
            'C' => o.check = Check::On,
            'N' => o.check = Check::Off,
            'T' => o.total = true,
            _ => o.delim = v,
        }
    }
    o
}

/// Splits into lines without terminators (a last line without one counts).
fn lines(data: &[u8], eol: u8) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = data.split(|&b| b == eol).collect();
    if data.is_empty() || data.last() == Some(&eol) {
        v.pop();
    }
    v
}

pub(super) fn comm(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let o = match ctx.opts(&SPEC, args) {
        Ok((flags, files)) => parse(flags, files),
        Err(st) => return Ok(st),
    };
    match o.files.len() {
        0 => {
            ctx.warn("comm", "missing operand");
            opts::try_help(ctx, "comm");
            return Ok(1);
        }
        1 => {
            ctx.warn("comm", format!("missing operand after '{}'", o.files[0]));
            opts::try_help(ctx, "comm");
            return Ok(1);
        }
        2 => {}
        _ => {
            ctx.warn("comm", format!("extra operand '{}'", o.files[2]));
            opts::try_help(ctx, "comm");
            return Ok(1);
        }
    }
    let mut data: Vec<Arc<Vec<u8>>> = Vec::new();
    for f in &o.files {
        match ctx.read_operand(f) {
            Ok(d) => data.push(d),
            Err(e) => {
                ctx.warn("comm", format!("{f}: {e}"));
                return Ok(1);
            }
        }
    }
    let eol = if o.zero { b'\0' } else { b'\n' };
    let n_lines = data
        .iter()
        .map(|d| memchr::memchr_iter(eol, d).count() + 1)
        .sum::<usize>();
    let _held = super::sink::hold(ctx, n_lines * std::mem::size_of::<&[u8]>())?;
    let a = lines(&data[0], eol);
    let b = lines(&data[1], eol);
    let delim = o.delim.clone().unwrap_or_else(|| "\t".to_owned());
    let delim = if delim.is_empty() {
        // GNU: an empty delimiter is a NUL byte.
        vec![0u8]
    } else {
        delim.into_bytes()
    };
    let mut sink = Sink::new();
    let (mut i, mut j) = (0usize, 0usize);
    let mut counts = [0u64; 3];
    let mut warned = [false; 2];
    let mut unpairable = false;
    let mut line = Vec::new();
    let mut steps = 0u32;
    while i < a.len() || j < b.len() {
        steps += 1;
        if steps.is_multiple_of(4096) {
            ctx.sh.tick()?;
        }
        let order = if i >= a.len() {
            std::cmp::Ordering::Greater
        } else if j >= b.len() {
            std::cmp::Ordering::Less
        } else {
            a[i].cmp(b[j])
        };
        let (col, text) = match order {
            std::cmp::Ordering::Less => (0, a[i]),
            std::cmp::Ordering::Greater => (1, b[j]),
            std::cmp::Ordering::Equal => (2, a[i]),
        };
        counts[col] += 1;
        if col != 2 {
            unpairable = true;
        }
        if o.show[col] {
            line.clear();
            let lead = match col {
                0 => 0,
                1 => usize::from(o.show[0]),
                _ => usize::from(o.show[0]) + usize::from(o.show[1]),
            };
            for _ in 0..lead {
                line.extend_from_slice(&delim);
            }
            line.extend_from_slice(text);
            line.push(eol);
            sink.put(ctx, &line)?;
        }
        // Step the file(s) the line came from, checking each new line against the last one.
        for (file, idx, list) in [(0usize, &mut i, &a), (1usize, &mut j, &b)] {
            let stepped = match order {
                std::cmp::Ordering::Equal => true,
                std::cmp::Ordering::Less => file == 0,
                std::cmp::Ordering::Greater => file == 1,
            };
            if !stepped {
                continue;
            }
            *idx += 1;
            let checking = o.check == Check::On || (o.check == Check::Default && unpairable);
            if checking && !warned[file] && *idx < list.len() && list[*idx - 1] > list[*idx] {
                sink.flush(ctx)?;
                ctx.warn("comm", format!("file {} is not in sorted order", file + 1));
                if o.check == Check::On {
                    return Ok(1);
                }
                warned[file] = true;
            }
        }
    }
    if o.total {
        let d = String::from_utf8_lossy(&delim).into_owned();
        let t = format!(
            "{}{d}{}{d}{}{d}total{}",
            counts[0], counts[1], counts[2], eol as char
        );
        sink.put(ctx, t.as_bytes())?;
    }
    sink.flush(ctx)?;
    if warned[0] || warned[1] {
        ctx.warn("comm", "input is not in sorted order");
        return Ok(1);
    }
    Ok(0)
}
