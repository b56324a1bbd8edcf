//! `cut`.

use super::super::Ctx;
use super::super::opts::{Arg, Spec};
use super::{lines, strip_nl, usage};
use crate::interp::R;

/// Where GNU `cut -b/-c --output-delimiter` puts the delimiter: before the first position of
/// each selected range, once overlapping ranges are merged (adjacent ones stay apart: `-c1,2`
/// prints `a:b`), and, under `--complement`, of each gap between them.
fn range_starts(ranges: &[(usize, usize)], complement: bool) -> Vec<usize> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (a, b) in sorted {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    if !complement {
        return merged.into_iter().map(|(a, _)| a).collect();
    }
    let mut starts = Vec::new();
    let mut next = 1;
    for (a, b) in merged {
        if a > next {
            starts.push(next);
        }
        next = b.saturating_add(1);
    }
    if next != usize::MAX {
        starts.push(next);
    }
    starts
}

fn parse_ranges(spec: &str) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    for part in spec.split(',') {
        if part.is_empty() {
            return None;
        }
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => {
                let a = if a.is_empty() { 1 } else { a.parse().ok()? };
                let b = if b.is_empty() {
                    usize::MAX
                } else {
                    b.parse().ok()?
                };
                (a, b)
            }
            None => {
                let n = part.parse().ok()?;
                (n, n)
            }
        };
        if a == 0 || b < a {
            return None;
        }
        out.push((a, b));
    }
    Some(out)
}

/// `cut`'s long-only options.
const CUT_COMPLEMENT: char = '\u{e000}';
const CUT_OUTPUT_DELIM: char = '\u{e001}';

const CUT: Spec = Spec::new(
    "cut",
    "b:c:d:f:ns",
    &[
        ("bytes", 'b', Arg::Required),
        ("characters", 'c', Arg::Required),
        ("delimiter", 'd', Arg::Required),
        ("fields", 'f', Arg::Required),
        ("only-delimited", 's', Arg::No),
        ("complement", CUT_COMPLEMENT, Arg::No),
        ("output-delimiter", CUT_OUTPUT_DELIM, Arg::Required),
    ],
)
.gnu("b:c:d:f:nsz", &["zero-terminated", "help", "version"]);

pub(crate) fn cut(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&CUT, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let complement = flags.iter().any(|(c, _)| *c == CUT_COMPLEMENT);
    let out_delim: Option<String> = flags
        .iter()
        .rev()
        .find(|(c, _)| *c == CUT_OUTPUT_DELIM)
        .and_then(|(_, v)| v.clone());
    let mut delim = b'\t';
    let mut fields: Option<Vec<(usize, usize)>> = None;
    let mut chars: Option<Vec<(usize, usize)>> = None;
    let mut only_delim = false;
    for (c, v) in &flags {
        let v = v.clone().unwrap_or_default();
        match *c {
            // GNU cut reads an empty delimiter as NUL.
            'd' if v.is_empty() => delim = 0,
            'd' => {
                if v.len() != 1 {
                    ctx.warn("cut", "the delimiter must be a single character");
                    ctx.io.errln("Try 'cut --help' for more information.");
                    return Ok(1);
                }
                delim = v.as_bytes()[0];
            }
            'f' => match parse_ranges(&v) {
                Some(r) => fields = Some(r),
                None => return usage(ctx, "cut", &format!("invalid field value ‘{v}’")),
            },
            'c' | 'b' => match parse_ranges(&v) {
                Some(r) => chars = Some(r),
                None => {
                    return usage(
                        ctx,
                        "cut",
                        &format!("invalid byte/character position ‘{v}’"),
                    );
                }
            },
            's' => only_delim = true,
            'n' | CUT_COMPLEMENT | CUT_OUTPUT_DELIM => {}
            other => return usage(ctx, "cut", &format!("invalid option -- '{other}'")),
        }
    }
    if fields.is_none() && chars.is_none() {
        return usage(
            ctx,
            "cut",
            "you must specify a list of bytes, characters, or fields",
        );
    }
    let in_ranges =
        |r: &[(usize, usize)], i: usize| r.iter().any(|(a, b)| i >= *a && i <= *b) != complement;
    let starts = chars
        .as_deref()
        .map(|r| range_starts(r, complement))
        .unwrap_or_default();
    let (inputs, failed) = ctx.read_all("cut", &files);
    let mut out = Vec::new();
    for (_, data) in &inputs {
        for l in lines(data) {
            let nl = l.ends_with(b"\n");
            let body: &[u8] = strip_nl(l);
            if let Some(r) = &chars {
                let mut first = true;
                for (i, b) in body.iter().enumerate() {
                    if in_ranges(r, i + 1) {
                        if let Some(od) = &out_delim
                            && !first
                            && starts.contains(&(i + 1))
                        {
                            out.extend_from_slice(od.as_bytes());
                        }
                        first = false;
                        out.push(*b);
                    }
                }
            } else if let Some(r) = &fields {
                if !body.contains(&delim) {
                    if only_delim {
                        continue;
                    }
                    out.extend_from_slice(body);
                } else {
                    let od = out_delim
                        .clone()
                        .map(String::into_bytes)
                        .unwrap_or_else(|| vec![delim]);
                    let mut first = true;
                    for (i, f) in body.split(|b| *b == delim).enumerate() {
                        if in_ranges(r, i + 1) {
                            if !first {
                                out.extend_from_slice(&od);
                            }
                            first = false;
                            out.extend_from_slice(f);
                        }
                    }
                }
            }
            if nl || !body.is_empty() {
                out.push(b'\n');
            }
        }
    }
    ctx.io.out(&out);
    Ok(i32::from(failed))
}
