//! `nl`.

use super::super::Ctx;
use super::super::opts::{Arg, Spec};
use super::{lines, strip_nl, usage};
use crate::interp::R;

const NL: Spec = Spec::new(
    "nl",
    "b:i:n:s:v:w:",
    &[
        ("body-numbering", 'b', Arg::Required),
        ("line-increment", 'i', Arg::Required),
        ("number-format", 'n', Arg::Required),
        ("number-separator", 's', Arg::Required),
        ("starting-line-number", 'v', Arg::Required),
        ("number-width", 'w', Arg::Required),
    ],
)
.gnu(
    "b:d:f:h:i:l:n:ps:v:w:",
    &[
        "section-delimiter",
        "footer-numbering",
        "header-numbering",
        "join-blank-lines",
        "no-renumber",
        "help",
        "version",
    ],
);

pub(crate) fn nl(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&NL, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let (mut all, mut width, mut sep, mut start, mut incr) =
        (false, 6usize, "\t".to_owned(), 1i64, 1i64);
    let mut format = "rn".to_owned();
    for (c, v) in flags {
        let v = v.unwrap_or_default();
        let num = |what: &str| -> Result<i64, String> {
            v.parse::<i64>()
                .map_err(|_| format!("invalid {what}: ‘{v}’"))
        };
        let bad = match c {
            'b' => match v.as_str() {
                "a" => {
                    all = true;
                    None
                }
                "t" => {
                    all = false;
                    None
                }
                _ => {
                    ctx.warn(
                        "nl",
                        format!("option '-b {v}' is not supported by this sandbox"),
                    );
                    return Ok(2);
                }
            },
            's' => {
                sep = v;
                None
            }
            'n' if matches!(v.as_str(), "ln" | "rn" | "rz") => {
                format = v;
                None
            }
            'n' => Some(format!("invalid line numbering format: ‘{v}’")),
            'w' => match num("line number field width") {
                Ok(n) if (1..=10_000).contains(&n) => {
                    width = n as usize;
                    None
                }
                Ok(_) => Some(format!("invalid line number field width: ‘{v}’")),
                Err(e) => Some(e),
            },
            'v' => num("starting line number").map(|n| start = n).err(),
            _ => num("line number increment").map(|n| incr = n).err(),
        };
        if let Some(msg) = bad {
            return usage(ctx, "nl", &msg);
        }
    }
    let (inputs, failed) = ctx.read_all("nl", &files);
    let mut out = Vec::new();
    let mut n = start;
    for (_, d) in &inputs {
        for l in lines(d) {
            if !all && strip_nl(l).is_empty() {
                out.extend_from_slice(" ".repeat(width + sep.len()).as_bytes());
                out.extend_from_slice(l);
                continue;
            }
            let num = match format.as_str() {
                "ln" => format!("{n:<width$}"),
                "rz" if n < 0 => format!("-{:0>w$}", -n, w = width.saturating_sub(1)),
                "rz" => format!("{n:0>width$}"),
                _ => format!("{n:>width$}"),
            };
            out.extend_from_slice(num.as_bytes());
            out.extend_from_slice(sep.as_bytes());
            out.extend_from_slice(l);
            // GNU nl ends a last line that had no newline with one.
            if !l.ends_with(b"\n") {
                out.push(b'\n');
            }
            n += incr;
        }
    }
    ctx.io.out(&out);
    Ok(i32::from(failed))
}
