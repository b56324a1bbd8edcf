//! bash's `printf` reads a floating-point argument as C's `long double` (on x86-64 the x87
//! format: a 64-bit significand) and glibc prints that binary value exactly, rounding half to
//! even. An `f64` rounds the same decimal to another binary value, so near a tie the printed
//! digit differs: `printf '%.1f' 0.45` is `0.4` in bash (the long double is just below .45) and
//! `0.5` from an `f64` (just above). This module redoes both steps exactly with big integers.

use num_bigint::BigUint;
use num_traits::{One, Zero};

/// A finite long double: `(-1)^neg * m * 2^e`, `m` below 2^64.
pub(crate) struct LongDouble {
    neg: bool,
    m: BigUint,
    e: i64,
}

/// Longest digit string and widest decimal exponent handled here; past them (or for `inf`,
/// `nan`, hex floats) the caller keeps its `f64` path.
const MAX_DIGITS: usize = 400;
const MAX_EXP10: i64 = 400;

/// Parses a plain decimal (`-1.25`, `3e-2`, `.5`); `None` for anything else.
pub(crate) fn parse(s: &str) -> Option<LongDouble> {
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut digits = String::new();
    let mut frac_len: i64 = 0;
    let mut seen_point = false;
    while i < b.len() {
        match b[i] {
            c @ b'0'..=b'9' => {
                digits.push(char::from(c));
                if seen_point {
                    frac_len += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if digits.is_empty() || digits.len() > MAX_DIGITS {
        return None;
    }
    let mut exp: i64 = 0;
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let rest = &s[i + 1..];
        let body = rest.strip_prefix(['+', '-']).unwrap_or(rest);
        if body.is_empty() || body.len() > 6 || !body.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        exp = rest.parse().ok()?;
        i = b.len();
    }
    if i != b.len() {
        return None;
    }
    let exp10 = exp - frac_len;
    if exp10.abs() > MAX_EXP10 {
        return None;
    }
    let d = BigUint::parse_bytes(digits.as_bytes(), 10)?;
    if d.is_zero() {
        return Some(LongDouble {
            neg,
            m: BigUint::zero(),
            e: 0,
        });
    }
    let (num, den) = if exp10 >= 0 {
        (d * pow10(exp10 as u64), BigUint::one())
    } else {
        (d, pow10(exp10.unsigned_abs()))
    };
    // The significand: num * 2^k / den in [2^63, 2^64), rounded half to even.
    let mut k = 64 - (num.bits() as i64 - den.bits() as i64);
    loop {
        let (q, r, d) = scaled_div(&num, &den, k);
        if q.bits() > 64 {
            k -= 1;
            continue;
        }
        if q.bits() < 64 {
            k += 1;
            continue;
        }
        let mut m = q;
        let twice = &r << 1usize;
        if twice > d || (twice == d && m.bit(0)) {
            m += 1u32;
        }
        let mut e = -k;
        if m.bits() > 64 {
            m >>= 1usize;
            e += 1;
        }
        return Some(LongDouble { neg, m, e });
    }
}

fn pow10(n: u64) -> BigUint {
    num_traits::pow(BigUint::from(10u32), n as usize)
}

/// `num * 2^k / den` as (quotient, remainder, divisor actually used).
fn scaled_div(num: &BigUint, den: &BigUint, k: i64) -> (BigUint, BigUint, BigUint) {
    let (n, d) = if k >= 0 {
        (num << (k as usize), den.clone())
    } else {
        (num.clone(), den << (k.unsigned_abs() as usize))
    };
    let q = &n / &d;
    let r = &n - &q * &d;
    (q, r, d)
}

impl LongDouble {
    /// The value as `num / den`.
    fn ratio(&self) -> (BigUint, BigUint) {
        if self.e >= 0 {
            (&self.m << (self.e as usize), BigUint::one())
        } else {
            (
                self.m.clone(),
                BigUint::one() << (self.e.unsigned_abs() as usize),
            )
        }
    }

    /// `round(value * 10^shift)`, half to even (`shift` may be negative).
    fn scaled(&self, shift: i64) -> BigUint {
        let (mut num, mut den) = self.ratio();
        if shift >= 0 {
            num *= pow10(shift as u64);
        } else {
            den *= pow10(shift.unsigned_abs());
        }
        let q = &num / &den;
        let r = &num - &q * &den;
        let twice = r << 1usize;
        if twice > den || (twice == den && q.bit(0)) {
            q + 1u32
        } else {
            q
        }
    }

    fn sign(&self) -> &'static str {
        if self.neg { "-" } else { "" }
    }

    /// Whether it is negative (`-0` too): the caller adds `+` or ` ` only when it is not.
    pub(crate) fn negative(&self) -> bool {
        self.neg
    }

    /// C's `%.{prec}f`.
    pub(crate) fn fixed(&self, prec: usize) -> String {
        format!("{}{}", self.sign(), self.fixed_digits(prec))
    }

    fn fixed_digits(&self, prec: usize) -> String {
        let n = self.scaled(prec as i64).to_string();
        if prec == 0 {
            return n;
        }
        let n = if n.len() <= prec {
            format!("{}{n}", "0".repeat(prec + 1 - n.len()))
        } else {
            n
        };
        let (int, frac) = n.split_at(n.len() - prec);
        format!("{int}.{frac}")
    }

    /// The digits of `%.{prec}e` (`prec + 1` of them) and the decimal exponent.
    fn exp_parts(&self, prec: usize) -> (String, i64) {
        if self.m.is_zero() {
            return ("0".repeat(prec + 1), 0);
        }
        let (num, den) = self.ratio();
        // log10(2) ≈ 0.30103: a guess the loop corrects by one either way.
        let bits = num.bits() as i64 - den.bits() as i64;
        let mut x = (bits as f64 * std::f64::consts::LOG10_2).floor() as i64;
        for _ in 0..8 {
            let n = self.scaled(prec as i64 - x);
            let digits = n.to_string();
            match digits.len().cmp(&(prec + 1)) {
                std::cmp::Ordering::Greater => x += 1,
                std::cmp::Ordering::Less => x -= 1,
                std::cmp::Ordering::Equal => return (digits, x),
            }
        }
        // Not reached for a finite long double; the f64 answer's shape keeps it printable.
        let n = self.scaled(prec as i64 - x).to_string();
        (n, x)
    }

    /// C's `%.{prec}e` (`upper`: `%E`).
    pub(crate) fn exponent(&self, prec: usize, upper: bool) -> String {
        let (digits, x) = self.exp_parts(prec);
        let s = exp_text(self.sign(), &digits, x);
        if upper { s.to_uppercase() } else { s }
    }

    /// C's `%.{prec}g` (`upper`: `%G`): exponent form when the exponent is below -4 or not
    /// below the precision, trailing zeros dropped unless `alt` (`%#g`).
    pub(crate) fn general(&self, prec: usize, upper: bool, alt: bool) -> String {
        let trim_zeros = |s: &str| if alt { s.to_owned() } else { trim_zeros(s) };
        let p = prec.max(1);
        let (digits, x) = self.exp_parts(p - 1);
        let s = if x < -4 || x >= p as i64 {
            let (m, e) = split_exp(&exp_text("", &digits, x));
            format!("{}{}{e}", self.sign(), trim_zeros(&m))
        } else {
            let prec_f = (p as i64 - 1 - x).max(0) as usize;
            format!("{}{}", self.sign(), trim_zeros(&self.fixed_digits(prec_f)))
        };
        if upper { s.to_uppercase() } else { s }
    }
}

fn exp_text(sign: &str, digits: &str, x: i64) -> String {
    let (first, rest) = digits.split_at(1);
    let point = if rest.is_empty() { "" } else { "." };
    let esign = if x < 0 { '-' } else { '+' };
    format!("{sign}{first}{point}{rest}e{esign}{:02}", x.unsigned_abs())
}

fn split_exp(s: &str) -> (String, String) {
    match s.find('e') {
        Some(i) => (s[..i].to_owned(), s[i..].to_owned()),
        None => (s.to_owned(), String::new()),
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str, p: usize) -> String {
        parse(s).map(|ld| ld.fixed(p)).unwrap_or_default()
    }

    #[test]
    fn rounds_the_long_double_not_the_f64() {
        // What bash 5.2 printed on x86-64.
        assert_eq!(f("0.45", 1), "0.4");
        assert_eq!(f("0.35", 1), "0.3");
        assert_eq!(f("0.25", 1), "0.2");
        assert_eq!(f("2.355", 2), "2.36");
        assert_eq!(f("2.345", 2), "2.35");
        assert_eq!(f("1.0005", 3), "1.001");
        assert_eq!(f("2.5", 0), "2");
        assert_eq!(f("3.5", 0), "4");
        assert_eq!(f("-0.001", 2), "-0.00");
        assert_eq!(f("123", 2), "123.00");
        assert_eq!(f("1e3", 1), "1000.0");
    }

    #[test]
    fn exponent_and_general_forms() {
        let e = |s: &str, p| parse(s).map(|ld| ld.exponent(p, false)).unwrap();
        let g = |s: &str, p| parse(s).map(|ld| ld.general(p, false, false)).unwrap();
        assert_eq!(e("1.235", 2), "1.24e+00");
        assert_eq!(e("0", 3), "0.000e+00");
        assert_eq!(e("12345", 1), "1.2e+04");
        assert_eq!(e("9.99", 1), "1.0e+01");
        assert_eq!(g("2.5e-5", 6), "2.5e-05");
        assert_eq!(g("123456789", 6), "1.23457e+08");
        assert_eq!(g("100", 6), "100");
        assert_eq!(g("0.0001", 6), "0.0001");
        assert_eq!(g("0", 6), "0");
        assert_eq!(parse("1.5").unwrap().general(6, false, true), "1.50000");
    }

    #[test]
    fn leaves_other_forms_to_the_caller() {
        for s in ["inf", "nan", "0x10", "1e", "", "-", "1.2.3", "1e999999"] {
            assert!(parse(s).is_none(), "{s}");
        }
    }
}
