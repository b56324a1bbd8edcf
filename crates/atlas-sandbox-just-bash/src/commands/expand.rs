//! `expand` (GNU coreutils): tabs become the blanks that reach the next tab stop (every 8
//! columns, `-t N`, or an ascending list `-t 2,5` after whose last stop a tab is one blank);
//! `-i` only in a line's leading blanks. Columns count bytes and backspace steps back one, as
//! GNU counts them.

use super::Ctx;
use super::opts::{Arg, Spec};
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "expand",
    "it:",
    &[("initial", 'i', Arg::No), ("tabs", 't', Arg::Required)],
)
.gnu("it:", &["initial", "tabs", "help", "version"]);

/// Where tabs stop: every `n` columns, or at listed columns.
enum Stops {
    Every(usize),
    List(Vec<usize>),
}

impl Stops {
    /// The column a tab at `column` moves to.
    fn next(&self, column: usize) -> usize {
        match self {
            Stops::Every(n) => column + n - column % n,
            Stops::List(l) => l
                .iter()
                .copied()
                .find(|&s| s > column)
                .unwrap_or(column + 1),
        }
    }
}

/// `-t` values, each a number or a comma/blank separated list; GNU's messages for the rest.
fn parse_stops(specs: &[String]) -> Result<Stops, String> {
    let mut list: Vec<usize> = Vec::new();
    for spec in specs {
        for part in spec.split([',', ' ']).filter(|p| !p.is_empty()) {
            if part.starts_with(['/', '+']) {
                return Err(format!(
                    "tab stop '{part}' ('/' and '+' prefixes) is not supported by this sandbox"
                ));
            }
            let n: usize = part
                .parse()
                .map_err(|_| format!("tab size contains invalid character(s): ‘{part}’"))?;
            if n == 0 {
                return Err("tab size cannot be 0".to_owned());
            }
            if list.last().is_some_and(|&last| n <= last) {
                return Err("tab sizes must be ascending".to_owned());
            }
            list.push(n);
        }
    }
    Ok(match list.as_slice() {
        [] => Stops::Every(8),
        [n] => Stops::Every(*n),
        _ => Stops::List(list),
    })
}

pub(super) fn expand(ctx: &mut Ctx<'_, '_>, raw: &[String]) -> R<i32> {
    // `expand -4` is GNU's old spelling of `-t 4`.
    let args: Vec<String> = raw
        .iter()
        .map(|a| match a.strip_prefix('-') {
            Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit() || b == b',') => {
                format!("-t{d}")
            }
            _ => a.clone(),
        })
        .collect();
    let (flags, files) = match ctx.opts(&SPEC, &args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut initial = false;
    let mut specs = Vec::new();
    for (c, v) in flags {
        match c {
            'i' => initial = true,
            _ => specs.push(v.unwrap_or_default()),
        }
    }
    let stops = match parse_stops(&specs) {
        Ok(s) => s,
        Err(msg) => {
            let refused = msg.contains("not supported");
            ctx.warn("expand", msg);
            return Ok(if refused { 2 } else { 1 });
        }
    };
    let (inputs, failed) = ctx.read_all("expand", &files);
    let mut out = Vec::new();
    for (_, data) in &inputs {
        let (mut column, mut convert) = (0usize, true);
        for &c in data.iter() {
            if convert {
                match c {
                    b'\t' => {
                        let to = stops.next(column);
                        out.resize(out.len() + (to - column), b' ');
                        column = to;
                        continue;
                    }
                    0x08 => column = column.saturating_sub(1),
                    _ => column += 1,
                }
                convert = !initial || c == b' ';
            }
            out.push(c);
            if c == b'\n' {
                (column, convert) = (0, true);
            }
        }
        if out.len() > 1 << 16 {
            ctx.io.out(&out);
            out.clear();
        }
    }
    ctx.io.out(&out);
    Ok(i32::from(failed))
}
