//! `seq`.

use super::super::Ctx;
use super::super::opts::{Arg, Spec};
use super::usage;
use crate::interp::R;

const SEQ: Spec = Spec::new(
    "seq",
    "f:s:w",
    &[
        ("format", 'f', Arg::Required),
        ("separator", 's', Arg::Required),
        ("equal-width", 'w', Arg::No),
    ],
)
.gnu("f:s:w", &["help", "version"])
.posix();

/// A `seq` operand: its value, digits after the point, and its width as written.
struct SeqNum {
    value: f64,
    precision: usize,
    width: usize,
}

fn seq_operand(a: &str) -> Option<SeqNum> {
    let t = a.trim_start_matches([' ', '\t']);
    let value: f64 = t.parse().ok().filter(|v: &f64| !v.is_nan())?;
    if t.contains(['x', 'X', 'i', 'I', 'n', 'N']) {
        return None;
    }
    let exp = t.find(['e', 'E']);
    let mantissa = &t[..exp.unwrap_or(t.len())];
    let mut precision = mantissa.split_once('.').map_or(0, |(_, f)| f.len());
    let mut width = t.len();
    if let Some(e) = exp {
        // `1.5e3`: the exponent moves the point (GNU's `scan_arg`).
        let shift: i64 = t[e + 1..].parse().unwrap_or(0);
        let p = precision as i64 - shift;
        precision = p.max(0) as usize;
        width = (mantissa.len() as i64 + (-shift).max(0) - i64::from(shift > 0 && precision == 0))
            as usize;
    }
    Some(SeqNum {
        value,
        precision,
        width,
    })
}

pub(crate) fn seq(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    // A negative number is an operand, not options: GNU stops there.
    let split = args
        .iter()
        .position(|a| {
            a.strip_prefix('-')
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit() || c == '.'))
        })
        .unwrap_or(args.len());
    let (flags, mut ops) = match ctx.opts(&SEQ, &args[..split]) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    ops.extend(args[split..].iter().cloned());
    let mut sep = "\n".to_owned();
    let mut equal_width = false;
    let mut format: Option<String> = None;
    for (c, v) in flags {
        match c {
            's' => sep = v.unwrap_or_default(),
            'w' => equal_width = true,
            _ => format = v,
        }
    }
    let mut nums = Vec::new();
    for a in &ops {
        match seq_operand(a) {
            Some(n) => nums.push(n),
            None => {
                ctx.warn("seq", format!("invalid floating point argument: ‘{a}’"));
                ctx.io.errln("Try 'seq --help' for more information.");
                return Ok(1);
            }
        }
    }
    let one = || SeqNum {
        value: 1.0,
        precision: 0,
        width: 1,
    };
    let (first, step, last) = match nums.len() {
        1 => (one(), one(), nums.remove(0)),
        2 => {
            let l = nums.remove(1);
            (nums.remove(0), one(), l)
        }
        3 => {
            let l = nums.remove(2);
            let s = nums.remove(1);
            (nums.remove(0), s, l)
        }
        0 => return usage(ctx, "seq", "missing operand"),
        _ => return usage(ctx, "seq", &format!("extra operand ‘{}’", ops[3])),
    };
    if step.value == 0.0 {
        ctx.warn("seq", format!("invalid Zero increment value: ‘{}’", ops[1]));
        ctx.io.errln("Try 'seq --help' for more information.");
        return Ok(1);
    }
    if format.is_some() && equal_width {
        ctx.warn(
            "seq",
            "format string may not be specified when printing equal width strings",
        );
        ctx.io.errln("Try 'seq --help' for more information.");
        return Ok(1);
    }
    // GNU's default format: as many decimals as the first number or the step has, and with
    // `-w` the width of the wider end.
    let prec = first.precision.max(step.precision);
    let width = if equal_width {
        let mut fw = first.width + (prec - first.precision);
        let mut lw = (last.width + prec).saturating_sub(last.precision);
        if last.precision > 0 && prec == 0 {
            lw -= 1;
        }
        if last.precision == 0 && prec > 0 {
            lw += 1;
        }
        if first.precision == 0 && prec > 0 {
            fw += 1;
        }
        fw.max(lw)
    } else {
        0
    };
    let conv = match &format {
        Some(f) => match SeqFormat::parse(f) {
            Ok(c) => Some(c),
            Err(e) => {
                ctx.warn("seq", &e);
                return Ok(if e.contains("not supported") { 2 } else { 1 });
            }
        },
        None => None,
    };
    let mut out = String::new();
    let mut n = 0u64;
    loop {
        let v = first.value + n as f64 * step.value;
        if (step.value > 0.0 && v > last.value) || (step.value < 0.0 && v < last.value) {
            break;
        }
        if n > 0 {
            out.push_str(&sep);
        }
        match &conv {
            Some(c) => c.push(&mut out, v),
            None => {
                let s = format!("{v:.prec$}");
                let s = if s == "-0" { "-0".to_owned() } else { s };
                if s.len() < width {
                    let (sign, body) = s.split_at(usize::from(s.starts_with('-')));
                    out.push_str(sign);
                    out.push_str(&"0".repeat(width - s.len()));
                    out.push_str(body);
                } else {
                    out.push_str(&s);
                }
            }
        }
        n += 1;
        if n.is_multiple_of(4096) {
            ctx.sh.tick()?;
            if out.len() > ctx.sh.limits.max_output_bytes {
                break;
            }
        }
    }
    if n > 0 {
        out.push('\n');
    }
    ctx.io.out(out.as_bytes());
    Ok(0)
}

/// `seq -f`: one `%[flags][width][.prec]` conversion among `f e g` (and their capitals).
struct SeqFormat {
    prefix: String,
    suffix: String,
    flags: String,
    width: usize,
    prec: Option<usize>,
    conv: char,
}

impl SeqFormat {
    fn parse(f: &str) -> Result<Self, String> {
        let unpct = |s: &str| s.replace("%%", "%");
        let mut i = 0;
        let b = f.as_bytes();
        let start = loop {
            match b.get(i) {
                None => return Err(format!("format ‘{f}’ has no % directive")),
                Some(b'%') if b.get(i + 1) == Some(&b'%') => i += 2,
                Some(b'%') => break i,
                Some(_) => i += 1,
            }
        };
        i += 1;
        let fl = i;
        while matches!(b.get(i), Some(b'-' | b'+' | b' ' | b'#' | b'0' | b'\'')) {
            i += 1;
        }
        let flags = f[fl..i].to_owned();
        let w = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let width = f[w..i].parse().unwrap_or(0);
        let mut prec = None;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let p = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            prec = Some(f[p..i].parse().unwrap_or(0));
        }
        let conv = match b.get(i) {
            Some(c @ (b'f' | b'F' | b'e' | b'E' | b'g' | b'G')) => *c as char,
            Some(b'a' | b'A') => {
                return Err("format '%a' is not supported by this sandbox".to_owned());
            }
            _ => {
                return Err(format!(
                    "format ‘{f}’ has unknown %{} directive",
                    &f[start + 1..]
                ));
            }
        };
        if flags.contains(['\'', '#']) || width > 10_000 || prec.is_some_and(|p| p > 10_000) {
            return Err(format!("format ‘{f}’ is not supported by this sandbox"));
        }
        let rest = &f[i + 1..];
        if rest.replace("%%", "").contains('%') {
            return Err(format!("format ‘{f}’ has too many % directives"));
        }
        Ok(SeqFormat {
            prefix: unpct(&f[..start]),
            suffix: unpct(rest),
            flags,
            width,
            prec,
            conv,
        })
    }

    fn push(&self, out: &mut String, v: f64) {
        let p = self.prec.unwrap_or(6);
        let mut s = match self.conv {
            'f' | 'F' => format!("{v:.p$}"),
            'e' | 'E' => super::super::c_exponent(v, p, self.conv == 'E'),
            'G' => super::super::awk::fmt_g(v, p).to_uppercase(),
            _ => super::super::awk::fmt_g(v, p),
        };
        if self.flags.contains('+') && !s.starts_with('-') {
            s.insert(0, '+');
        } else if self.flags.contains(' ') && !s.starts_with('-') {
            s.insert(0, ' ');
        }
        out.push_str(&self.prefix);
        if s.len() < self.width {
            let pad = self.width - s.len();
            if self.flags.contains('-') {
                s.push_str(&" ".repeat(pad));
            } else if self.flags.contains('0') {
                let signed = usize::from(s.starts_with(['-', '+', ' ']));
                s.insert_str(signed, &"0".repeat(pad));
            } else {
                s.insert_str(0, &" ".repeat(pad));
            }
        }
        out.push_str(&s);
        out.push_str(&self.suffix);
    }
}
