//! awk's `printf`/`sprintf`.

use super::super::{c_decimal, c_exponent, sign_flag};
use super::format;
use super::value::{Val, fmt_g, fmt_num, gawk_special};

/// awk's `printf`/`sprintf` formatting.
/// Widest field or precision `printf` honours; larger ones are clamped (Rust's formatter
/// rejects precisions above `u16::MAX`, and a huge width would be allocated in full).
const MAX_FIELD: usize = 10_000;

/// gawk's `sprintf`: `Err` when the arguments run out, which gawk makes a fatal error (exit 2)
/// rather than formatting the missing ones as empty.
/// C's printf as gawk has it; `latin1`: the C locale, where text is Latin-1 inside and `%c` of a
/// number is the byte of its low 8 bits.
const TWO_63: f64 = (1u64 << 63) as f64;

/// The value C's unsigned conversions see, as gawk hands it over: a negative number wraps
/// (`%u` of -1 is 2^64-1); none past 64 bits.
fn as_uintmax(n: f64) -> Option<u64> {
    let n = n.trunc();
    if (-TWO_63..0.0).contains(&n) {
        Some((n as i64) as u64)
    } else if (0.0..2.0 * TWO_63).contains(&n) {
        Some(n as u64)
    } else {
        None
    }
}

pub(super) fn sprintf(fmt: &str, args: &[Val], latin1: bool) -> Result<String, String> {
    let c: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut ai = 0;
    let ran_out = std::cell::Cell::new(false);
    let next = |ai: &mut usize| -> Val {
        let v = args.get(*ai).cloned().unwrap_or_else(|| {
            ran_out.set(true);
            Val::StrNum(String::new())
        });
        *ai += 1;
        v
    };
    while i < c.len() {
        if c[i] == '\\' && i + 1 < c.len() {
            // Escapes were handled by the lexer for string literals; keep others.
            out.push(c[i]);
            i += 1;
            continue;
        }
        if c[i] != '%' {
            out.push(c[i]);
            i += 1;
            continue;
        }
        if c.get(i + 1) == Some(&'%') {
            out.push('%');
            i += 2;
            continue;
        }
        let start = i;
        i += 1;
        let mut flags = String::new();
        while i < c.len() && "-+ #0".contains(c[i]) {
            flags.push(c[i]);
            i += 1;
        }
        let mut width = String::new();
        if c.get(i) == Some(&'*') {
            width = fmt_num(next(&mut ai).num());
            i += 1;
        }
        while i < c.len() && c[i].is_ascii_digit() {
            width.push(c[i]);
            i += 1;
        }
        let mut prec: Option<usize> = None;
        if c.get(i) == Some(&'.') {
            i += 1;
            let mut p = String::new();
            if c.get(i) == Some(&'*') {
                p = fmt_num(next(&mut ai).num());
                i += 1;
            }
            while i < c.len() && c[i].is_ascii_digit() {
                p.push(c[i]);
                i += 1;
            }
            prec = Some(p.parse::<usize>().unwrap_or(0).min(MAX_FIELD));
        }
        // gawk skips one length modifier (`%ld`, `%Lf`); with two (`%lld`) it prints the
        // directive as text and uses no argument.
        let mut modifiers = 0;
        while c.get(i).is_some_and(|m| "hlLjz".contains(*m)) {
            modifiers += 1;
            i += 1;
        }
        let Some(&conv) = c.get(i) else {
            out.push('%');
            break;
        };
        i += 1;
        if modifiers > 1 {
            out.push_str(&c[start..i].iter().collect::<String>());
            continue;
        }
        if conv == '%' {
            // gawk prints `%5%` as a bare `%`: the width and flags do not apply, no argument
            // is used.
            out.push('%');
            continue;
        }
        let v = next(&mut ai);
        if ran_out.get() {
            return Err("fatal: not enough arguments to satisfy format string".to_owned());
        }
        let sign = sign_flag(&flags);
        let signed = |s: String, n: f64| match sign {
            Some(c) if n >= 0.0 || (n == 0.0 && !n.is_sign_negative()) => format!("{c}{s}"),
            _ => s,
        };
        let alt = flags.contains('#');
        let finite = v.num().is_finite();
        let mut s = match conv {
            'd' | 'i' | 'o' | 'x' | 'X' | 'u' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G'
                if !v.num().is_finite() =>
            {
                gawk_special(v.num())
            }
            // Past 64 bits gawk prints the double's whole value (%d) or falls back to %g.
            'd' | 'i' if v.num().trunc().abs() >= TWO_63 => {
                signed(format!("{:.0}", v.num().trunc()), v.num())
            }
            'd' | 'i' => c_decimal(v.num().trunc() as i64, prec, sign),
            'o' | 'x' | 'X' | 'u' if as_uintmax(v.num()).is_none() => {
                if conv == 'u' {
                    format!("{:.0}", v.num().trunc())
                } else {
                    fmt_g(v.num(), 6)
                }
            }
            'o' => {
                let d = format!("{:o}", as_uintmax(v.num()).unwrap_or(0));
                let d = format::unsigned_precision(d, prec);
                if alt && !d.starts_with('0') {
                    format!("0{d}")
                } else {
                    d
                }
            }
            'x' | 'X' => {
                let n = as_uintmax(v.num()).unwrap_or(0);
                let d = if conv == 'x' {
                    format!("{n:x}")
                } else {
                    format!("{n:X}")
                };
                let d = format::unsigned_precision(d, prec);
                match (alt && n != 0, conv) {
                    (true, 'x') => format!("0x{d}"),
                    (true, _) => format!("0X{d}"),
                    _ => d,
                }
            }
            'u' => format::unsigned_precision(as_uintmax(v.num()).unwrap_or(0).to_string(), prec),
            'c' => match v {
                Val::Num(n) if latin1 => char::from((n as i64 & 0xff) as u8).to_string(),
                Val::Num(n) => char::from_u32(n as u32)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                other => other
                    .str()
                    .chars()
                    .next()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            },
            's' => {
                let s = v.str();
                match prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'f' | 'F' | 'e' | 'E' if alt => {
                let p = prec.unwrap_or(6);
                let t = if matches!(conv, 'f' | 'F') {
                    format!("{:.p$}", v.num())
                } else {
                    c_exponent(v.num(), p, conv == 'E')
                };
                signed(format::force_point(t), v.num())
            }
            'g' | 'G' if alt => {
                let t = format::fmt_g_alt(v.num(), prec.unwrap_or(6));
                let t = if conv == 'G' { t.to_uppercase() } else { t };
                signed(t, v.num())
            }
            'f' | 'F' => signed(format!("{:.*}", prec.unwrap_or(6), v.num()), v.num()),
            'e' | 'E' => signed(c_exponent(v.num(), prec.unwrap_or(6), conv == 'E'), v.num()),
            'g' => signed(fmt_g(v.num(), prec.unwrap_or(6)), v.num()),
            'G' => signed(fmt_g(v.num(), prec.unwrap_or(6)).to_uppercase(), v.num()),
            other => {
                out.push('%');
                out.push(other);
                continue;
            }
        };
        let w: usize = width.parse::<usize>().unwrap_or(0).min(MAX_FIELD);
        let len = s.chars().count();
        if len < w {
            let pad = w - len;
            if flags.contains('-') {
                s.push_str(&" ".repeat(pad));
            } else if flags.contains('0')
                && !matches!(conv, 's' | 'c')
                // C drops `0` for an integer conversion with a precision, and for inf/nan.
                && !(prec.is_some() && matches!(conv, 'd' | 'i' | 'o' | 'x' | 'X' | 'u'))
                && finite
            {
                // After the sign (`-`, `+` or ` `) and a `0x`.
                s = super::super::zero_fill(&s, s.len() + pad);
            } else {
                s = format!("{}{s}", " ".repeat(pad));
            }
        }
        out.push_str(&s);
    }
    Ok(out)
}
