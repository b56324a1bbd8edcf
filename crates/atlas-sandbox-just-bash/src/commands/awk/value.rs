//! awk values and their number/string conversions.

use std::cell::RefCell;

use crate::memory::str_cost;

thread_local! {
    /// This run's `CONVFMT` when it is not gawk's default `%.6g`: numbers become strings
    /// deep in value code that has no interpreter at hand. Taken out while it formats, so a
    /// conversion inside that formatting uses the default rather than recursing.
    pub(super) static CONVFMT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Whether gawk can use `f` as `CONVFMT`: at most one conversion, a numeric one. gawk crashes
/// on `%s` (it converts the number to a string to format it, without end).
pub(super) fn convfmt_ok(f: &str) -> bool {
    let mut conversions = 0;
    let mut it = f.chars().peekable();
    while let Some(c) = it.next() {
        if c != '%' {
            continue;
        }
        if it.peek() == Some(&'%') {
            it.next();
            continue;
        }
        let mut conv = None;
        for d in it.by_ref() {
            if !matches!(d, '0'..='9' | '.' | '-' | '+' | ' ' | '#') {
                conv = Some(d);
                break;
            }
        }
        match conv {
            Some('d' | 'i' | 'o' | 'x' | 'X' | 'u' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G') => {
                conversions += 1;
            }
            _ => return false,
        }
    }
    conversions <= 1
}

#[derive(Debug, Clone)]
pub(super) enum Val {
    Num(f64),
    Str(String),
    /// Input-derived: numeric if it looks like a number.
    StrNum(String),
}

pub(super) fn looks_numeric(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok().filter(|_| {
        !t.eq_ignore_ascii_case("inf") && !t.eq_ignore_ascii_case("nan") && !t.contains(['x', 'X'])
    })
}

fn to_num_str(s: &str) -> f64 {
    let t = s.trim_start();
    let b = t.as_bytes();
    let mut end = 0;
    if end < b.len() && (b[end] == b'-' || b[end] == b'+') {
        end += 1;
    }
    while end < b.len() && b[end].is_ascii_digit() {
        end += 1;
    }
    if end < b.len() && b[end] == b'.' {
        end += 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
    }
    if end < b.len() && (b[end] == b'e' || b[end] == b'E') {
        let mut e = end + 1;
        if e < b.len() && (b[e] == b'-' || b[e] == b'+') {
            e += 1;
        }
        if e < b.len() && b[e].is_ascii_digit() {
            while e < b.len() && b[e].is_ascii_digit() {
                e += 1;
            }
            end = e;
        }
    }
    t[..end].parse().unwrap_or(0.0)
}

pub(super) fn fmt_num(n: f64) -> String {
    if n.is_finite() && n == n.trunc() {
        // gawk prints every integral value in full (1e30 is 1000000000000000019884624838656),
        // never in OFMT's exponent form.
        return if n.abs() < 1e16 {
            format!("{}", n as i64)
        } else {
            format!("{n:.0}")
        };
    }
    if !n.is_finite() {
        return gawk_special(n);
    }
    if let Some(f) = CONVFMT.with(|c| c.borrow_mut().take()) {
        let s = super::sprintf::sprintf(&f, &[Val::Num(n)], false).unwrap_or_default();
        CONVFMT.with(|c| *c.borrow_mut() = Some(f));
        return s;
    }
    fmt_g(n, 6)
}

/// gawk's spelling of infinities and NaN in output and in every numeric `printf` conversion.
pub(super) fn gawk_special(n: f64) -> String {
    let sign = if n.is_sign_negative() { '-' } else { '+' };
    format!("{sign}{}", if n.is_nan() { "nan" } else { "inf" })
}

pub(crate) fn fmt_g(n: f64, prec: usize) -> String {
    if !n.is_finite() {
        return if n.is_nan() {
            "nan".to_owned()
        } else if n > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        };
    }
    if n == 0.0 {
        return "0".to_owned();
    }
    let p = prec.max(1);
    // C picks the style from the exponent of the value *after* rounding to P significant
    // digits (999999.5 at P=6 rounds to 1.00000e+06, so it prints `1e+06`), so round first.
    let sci = format!("{:.*e}", p - 1, n);
    let (m, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = e.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        let s = format!("{:.*}", decimals, n);
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    }
}

impl Val {
    pub(super) fn num(&self) -> f64 {
        match self {
            Val::Num(n) => *n,
            Val::Str(s) | Val::StrNum(s) => to_num_str(s),
        }
    }
    pub(super) fn str(&self) -> String {
        match self {
            Val::Num(n) => fmt_num(*n),
            Val::Str(s) | Val::StrNum(s) => s.clone(),
        }
    }
    pub(super) fn truthy(&self) -> bool {
        match self {
            Val::Num(n) => *n != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::StrNum(s) => match looks_numeric(s) {
                Some(n) => n != 0.0,
                None => !s.is_empty(),
            },
        }
    }
}

pub(super) fn val_cost(v: &Val) -> u64 {
    match v {
        Val::Num(_) => 32,
        Val::Str(s) | Val::StrNum(s) => 8 + str_cost(s),
    }
}

#[cfg(test)]
mod tests {
    use super::fmt_g;

    #[test]
    fn g_rounds_before_choosing_the_style() {
        // Expected values are what glibc's printf("%g"/"%.3g"/"%.1g") prints.
        let cases: &[(f64, &str, &str, &str)] = &[
            (999_999.5, "1e+06", "1e+06", "1e+06"),
            (999_999.4, "999999", "1e+06", "1e+06"),
            (-999_999.5, "-1e+06", "-1e+06", "-1e+06"),
            (0.0001, "0.0001", "0.0001", "0.0001"),
            (0.000_099_999_95, "0.0001", "0.0001", "0.0001"),
            (123_456_789.0, "1.23457e+08", "1.23e+08", "1e+08"),
            (9.999_999_5, "10", "10", "1e+01"),
            (2.5, "2.5", "2.5", "2"),
            (1e-5, "1e-05", "1e-05", "1e-05"),
            (100_000.0, "100000", "1e+05", "1e+05"),
            (1e100, "1e+100", "1e+100", "1e+100"),
        ];
        for &(v, g6, g3, g1) in cases {
            assert_eq!(
                (
                    fmt_g(v, 6).as_str(),
                    fmt_g(v, 3).as_str(),
                    fmt_g(v, 1).as_str()
                ),
                (g6, g3, g1),
                "{v}"
            );
        }
    }
}
