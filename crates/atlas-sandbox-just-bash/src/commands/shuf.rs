//! `shuf` (GNU coreutils): a random permutation of the input lines, of `-e` operands or of an
//! `-i LO-HI` range; `-n` keeps the first COUNT, `-r` draws with replacement (until `-n`, or
//! until stdout is past its cap). A range is never built: a sparse Fisher-Yates keeps only the
//! positions already swapped, so `shuf -i 1-1000000000 -n 5` costs five entries.

use std::collections::HashMap;

use super::Ctx;
use super::opts::{self, Arg, Spec};
use super::rand::Rng;
use super::sink::Sink;
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "shuf",
    "ei:n:o:rz",
    &[
        ("echo", 'e', Arg::No),
        ("input-range", 'i', Arg::Required),
        ("head-count", 'n', Arg::Required),
        ("output", 'o', Arg::Required),
        ("repeat", 'r', Arg::No),
        ("zero-terminated", 'z', Arg::No),
    ],
)
.gnu(
    "ei:n:o:rz",
    &[
        "echo",
        "input-range",
        "head-count",
        "output",
        "random-source",
        "repeat",
        "zero-terminated",
        "help",
        "version",
    ],
);

pub(super) fn shuf(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let (mut echo, mut repeat, mut zero) = (false, false, false);
    let mut range: Option<(u64, u64)> = None;
    let mut count: Option<u64> = None;
    let mut output: Option<String> = None;
    for (c, v) in flags {
        let v = v.unwrap_or_default();
        match c {
            'e' => echo = true,
            'r' => repeat = true,
            'z' => zero = true,
            'o' => output = Some(v),
            'n' => match v.parse::<u64>() {
                // Several -n: the smallest wins, as in GNU.
                Ok(n) => count = Some(count.map_or(n, |c| c.min(n))),
                Err(_) => {
                    ctx.warn("shuf", format!("invalid line count: '{v}'"));
                    return Ok(1);
                }
            },
            _ => {
                if range.is_some() {
                    ctx.warn("shuf", "multiple -i options specified");
                    return Ok(1);
                }
                match parse_range(&v) {
                    Ok(r) => range = Some(r),
                    Err(msg) => {
                        ctx.warn("shuf", msg);
                        return Ok(1);
                    }
                }
            }
        }
    }
    if echo && range.is_some() {
        return Ok(opts::usage(
            ctx,
            "shuf",
            "cannot combine -e and -i options",
            1,
        ));
    }
    if output.is_some() && repeat && count.is_none() {
        return Ok(opts::unsupported(
            ctx,
            "shuf",
            "-r without -n into a file (-o)",
        ));
    }
    let eol = if zero { b'\0' } else { b'\n' };
    // The pool: a range (lo, size) or lines.
    let lines: Vec<Vec<u8>>;
    let size: u64;
    if let Some((lo, hi)) = range {
        if let Some(op) = ops.first() {
            return Ok(opts::usage(ctx, "shuf", format!("extra operand '{op}'"), 1));
        }
        lines = Vec::new();
        size = if hi < lo { 0 } else { hi - lo + 1 };
    } else if echo {
        lines = ops.iter().map(|s| s.as_bytes().to_vec()).collect();
        size = lines.len() as u64;
    } else {
        if ops.len() > 1 {
            return Ok(opts::usage(
                ctx,
                "shuf",
                format!("extra operand '{}'", ops[1]),
                1,
            ));
        }
        let f = ops.first().cloned().unwrap_or_else(|| "-".to_owned());
        let data = match ctx.read_operand(&f) {
            Ok(d) => d,
            Err(e @ crate::vfs::FsError::IsDir) => {
                ctx.warn("shuf", format!("read error: {e}"));
                return Ok(1);
            }
            Err(e) => {
                ctx.warn("shuf", format!("{f}: {e}"));
                return Ok(1);
            }
        };
        let body = data.strip_suffix(&[eol]).unwrap_or(&data);
        lines = if data.is_empty() {
            Vec::new()
        } else {
            body.split(|&b| b == eol).map(<[u8]>::to_vec).collect()
        };
        size = lines.len() as u64;
    }
    let item = |i: u64| -> Vec<u8> {
        let mut v = match range {
            Some((lo, _)) => (lo + i).to_string().into_bytes(),
            None => lines[i as usize].clone(),
        };
        v.push(eol);
        v
    };
    let mut rng = Rng::new();
    let mut out = Vec::new();
    let mut sink = Sink::new();
    let mut emit = |ctx: &mut Ctx<'_, '_>, b: Vec<u8>| -> R<bool> {
        if output.is_some() {
            let _held = super::sink::hold(ctx, out.len() + b.len())?;
            out.extend_from_slice(&b);
            ctx.sh.tick()?;
            Ok(true)
        } else {
            sink.put(ctx, &b)
        }
    };
    if repeat {
        if size == 0 {
            if count != Some(0) {
                ctx.warn("shuf", "no lines to repeat");
                return Ok(1);
            }
            return Ok(0);
        }
        let mut left = count;
        while left != Some(0) {
            let b = item(rng.below(size));
            if !emit(ctx, b)? {
                break;
            }
            left = left.map(|n| n - 1);
        }
    } else {
        let k = count.map_or(size, |c| c.min(size));
        let mut swapped: HashMap<u64, u64> = HashMap::new();
        for i in 0..k {
            let j = i + rng.below(size - i);
            let at_j = swapped.get(&j).copied().unwrap_or(j);
            let at_i = swapped.get(&i).copied().unwrap_or(i);
            swapped.insert(j, at_i);
            swapped.remove(&i);
            if !emit(ctx, item(at_j))? {
                break;
            }
        }
    }
    if let Some(f) = output {
        if let Err(e) = ctx.write_named(&f, &out, false) {
            ctx.warn("shuf", format!("{f}: {e}"));
            return Ok(1);
        }
    } else {
        sink.flush(ctx)?;
    }
    Ok(0)
}

/// `LO-HI` with HI >= LO - 1 and at most 2^64 - 1 numbers; GNU's message on error.
fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let bad = |what: &str| format!("invalid input range: '{what}'");
    let Some((lo, hi)) = s.split_once('-') else {
        return Err(bad(s));
    };
    let num = |t: &str, whole: &str| -> Result<u64, String> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(whole));
        }
        t.parse::<u64>().map_err(|_| {
            format!("invalid input range: '{t}': Value too large for defined data type")
        })
    };
    let lo = num(lo, lo)?;
    let hi = num(hi, s)?;
    if hi.saturating_add(1) < lo || (lo == 0 && hi == u64::MAX) {
        return Err(bad(s));
    }
    Ok((lo, hi))
}
