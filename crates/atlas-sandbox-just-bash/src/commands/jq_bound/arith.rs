//! Bounds of numbers: what a builtin's outputs may hold, and arithmetic on bounds.

use jaq_core::ops::Math;

use super::{V, mul};

/// The largest number a builtin's outputs may hold, from `num` (its input's and arguments'):
/// numbers read from text or the clock, and steep math, are unbounded; offsets and indices stay
/// within the input's strings and elements; a sum within the elements times the largest.
/// Rounding and the bounded functions (`ceil`, `cos`, `acos`...) add at most a few units.
pub(super) fn out_num(name: &str, num: f64, v: V, elements: f64) -> f64 {
    const UNBOUNDED: &[&str] = &[
        "tonumber",
        "fromjson",
        "now",
        "mktime",
        "fromdate",
        "fromdateiso8601",
        "dateadd",
        "datesub",
        "date",
        "strptime",
        "gmtime",
        "localtime",
        "log",
        "log2",
        "log10",
        "log1p",
        "lgamma",
        "tgamma",
        "gamma",
        "lgamma_r",
        "frexp",
        "significand",
        "logb",
        "ilogb",
        "cosh",
        "sinh",
        "tanh",
        "expm1",
        "atanh",
        "acosh",
        "asinh",
        "tan",
        "pow10",
        "exp",
        "exp10",
        "exp2",
        "pow",
        "ldexp",
        "scalb",
        "scalbln",
        "infinite",
        "nextafter",
        "nexttoward",
        "fma",
        "drem",
        "remainder",
        "j0",
        "j1",
        "y0",
        "y1",
    ];
    const POSITIONS: &[&str] = &[
        "keys",
        "keys_unsorted",
        "to_entries",
        "with_entries",
        "paths",
        "leaf_paths",
        "path",
        "tostream",
        "indices",
        "index",
        "rindex",
        "match",
        "capture",
        "scan",
        "test",
        "sub",
        "gsub",
        "split",
        "explode",
        "getpath",
        "transpose",
        "group_by",
        "unique_by",
    ];
    if UNBOUNDED.contains(&name) {
        return f64::INFINITY;
    }
    let mut num = num.max(4.0) + 1.0;
    if POSITIONS.contains(&name) {
        // `explode` gives code points.
        num = num.max(v.str).max(elements).max(0x10FFFF as f64);
    }
    if name == "add" {
        num = num.max(mul(v.num, elements));
    }
    num
}

pub(super) fn math(m: &Math, a: V, b: V) -> V {
    match m {
        Math::Add => V {
            s: a.s + b.s,
            str: a.str + b.str,
            num: a.num + b.num,
            shape: None,
        },
        // A string times a number repeats it; objects merge; numbers multiply.
        Math::Mul => {
            let str = mul(a.str, b.num)
                .max(mul(b.str, a.num))
                .max(a.str)
                .max(b.str);
            V {
                s: a.s + b.s + str,
                str,
                num: mul(a.num, b.num),
                shape: None,
            }
        }
        // A string divided by a string splits it; a number divided by a small one grows.
        Math::Div => V {
            s: 2.0 * (a.s + b.s),
            str: a.str,
            num: if a.num == 0.0 { 0.0 } else { f64::INFINITY },
            shape: None,
        },
        Math::Sub | Math::Rem => V {
            s: a.s + b.s,
            str: a.str.max(b.str),
            num: a.num + b.num,
            shape: None,
        },
    }
}
