//! C `printf` details awk's `printf`/`sprintf` must honour: the `#` flag on floating-point
//! conversions and the precision of the unsigned ones.

/// `%#g`: `%g` keeping its trailing zeros and its point (`1.00000`, `2.00`).
pub(super) fn fmt_g_alt(n: f64, prec: usize) -> String {
    let p = prec.max(1);
    let sci = format!("{:.*e}", p - 1, n);
    let (m, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = e.parse().unwrap_or(0);
    if n != 0.0 && (exp < -4 || exp >= p as i32) {
        let m = force_point(m.to_owned());
        format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        let exp = if n == 0.0 { 0 } else { exp };
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        force_point(format!("{n:.decimals$}"))
    }
}

/// `#` with no decimals still prints the point: `%#.0f` of 5 is `5.`, `%#.0e` `5.e+00`.
pub(super) fn force_point(s: String) -> String {
    if s.contains('.') || !s.bytes().any(|b| b.is_ascii_digit()) {
        return s;
    }
    match s.find(['e', 'E']) {
        Some(i) => format!("{}.{}", &s[..i], &s[i..]),
        None => s + ".",
    }
}

/// `%o`/`%x`/`%u` digits at a precision: at least that many, and none for a zero at `.0`.
pub(super) fn unsigned_precision(digits: String, prec: Option<usize>) -> String {
    match prec {
        Some(0) if digits == "0" => String::new(),
        Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
        _ => digits,
    }
}
