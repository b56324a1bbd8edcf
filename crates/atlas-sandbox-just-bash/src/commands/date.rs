//! `date` (GNU coreutils 9.1): the time now, of `-d STRING` or of `-r FILE`'s mtime, as
//! `+FORMAT`, `-I`, `-R` or `--rfc-3339` shows it, in the zone `TZ` names (UTC, `UTC0`, a
//! POSIX fixed offset such as `JST-9` or `<+03>-3`). Named zones need a tz database the sandbox
//! does not carry, so they are refused rather than shown in UTC; so are setting the clock
//! (`-s`, `MMDDhhmm`), `-f` and `--debug`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Ctx;
use super::date_fmt::{Tm, Zone, format};
use super::date_parse::{DateError, Instant, parse};
use super::opts::{Arg, Spec, unsupported, usage};
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "date",
    "d:I::r:Ru",
    &[
        ("date", 'd', Arg::Required),
        ("iso-8601", 'I', Arg::Optional),
        ("reference", 'r', Arg::Required),
        ("rfc-email", 'R', Arg::No),
        ("rfc-822", 'R', Arg::No),
        ("rfc-2822", 'R', Arg::No),
        ("rfc-3339", '3', Arg::Required),
        ("utc", 'u', Arg::No),
        ("universal", 'u', Arg::No),
        ("uct", 'u', Arg::No),
    ],
)
.gnu(
    "d:f:I::r:Rs:u",
    &[
        "date",
        "debug",
        "file",
        "iso-8601",
        "reference",
        "rfc-email",
        "rfc-822",
        "rfc-2822",
        "rfc-3339",
        "set",
        "utc",
        "universal",
        "uct",
        "help",
        "version",
    ],
);

/// The current instant.
pub(crate) fn now() -> Instant {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Instant {
        secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nsec: d.subsec_nanos(),
    }
}

/// The zone `TZ` names, as glibc reads it; `Err` names what is refused.
pub(crate) fn zone_of(tz: Option<&str>) -> Result<Zone, String> {
    let utc = |a: &str| {
        Ok(Zone {
            off: 0,
            abbrev: a.to_owned(),
        })
    };
    let Some(tz) = tz else { return utc("UTC") };
    let t = tz.strip_prefix(':').unwrap_or(tz);
    match t {
        "" | "UTC" | "Etc/UTC" | "UCT" | "Etc/UCT" | "Universal" | "Etc/Universal" | "Zulu"
        | "Etc/Zulu" => {
            return utc("UTC");
        }
        "GMT" | "Etc/GMT" | "GMT0" | "Etc/GMT0" | "Greenwich" | "Etc/Greenwich" => {
            return utc("GMT");
        }
        _ => {}
    }
    posix_fixed(tz).ok_or_else(|| format!("time zone TZ='{tz}'"))
}

/// A POSIX TZ with no daylight-saving part: `NAME[+-]hh[:mm[:ss]]`, east being negative.
fn posix_fixed(tz: &str) -> Option<Zone> {
    let b = tz.as_bytes();
    let (name, rest) = if let Some(r) = tz.strip_prefix('<') {
        let end = r.find('>')?;
        (&r[..end], &r[end + 1..])
    } else {
        let n = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        (&tz[..n], &tz[n..])
    };
    if name.len() < 3 || rest.is_empty() {
        return None;
    }
    let (sign, digits) = match rest.as_bytes()[0] {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => (1, rest),
    };
    let mut parts = digits.split(':');
    let mut secs = 0i32;
    let mut mul = 3600;
    for (k, p) in parts.by_ref().enumerate() {
        if k > 2 || p.is_empty() || p.len() > 2 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let v: i32 = p.parse().ok()?;
        if (k == 0 && v > 24) || (k > 0 && v > 59) {
            return None;
        }
        secs += v * mul;
        mul /= 60;
    }
    Some(Zone {
        off: -sign * secs,
        abbrev: name.to_owned(),
    })
}

fn bad_arg(ctx: &mut Ctx<'_, '_>, v: &str, opt: &str, valid: &[&str]) -> i32 {
    ctx.warn("date", format!("invalid argument '{v}' for '--{opt}'"));
    ctx.io.errln("Valid arguments are:");
    for a in valid {
        ctx.io.errln(&format!("  - '{a}'"));
    }
    ctx.io.errln("Try 'date --help' for more information.");
    1
}

/// The argument a prefix names, as GNU's argmatch takes it (exact or unambiguous).
fn argmatch<'a>(v: &str, valid: &[&'a str]) -> Option<&'a str> {
    if let Some(e) = valid.iter().find(|a| **a == v) {
        return Some(e);
    }
    let m: Vec<_> = valid.iter().filter(|a| a.starts_with(v)).collect();
    match m.as_slice() {
        [one] if !v.is_empty() => Some(one),
        _ => None,
    }
}

pub(super) fn date(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut utc = false;
    let mut date_str: Option<String> = None;
    let mut reference: Option<String> = None;
    let mut fmt: Option<String> = None;
    let mut formats = 0;
    for (c, v) in flags {
        match c {
            'u' => utc = true,
            'd' => date_str = v,
            'r' => reference = v,
            'R' => {
                formats += 1;
                fmt = Some("%a, %d %b %Y %H:%M:%S %z".into());
            }
            'I' => {
                const V: &[&str] = &["hours", "minutes", "date", "seconds", "ns"];
                let a = match v.as_deref() {
                    None => "date",
                    Some(s) => match argmatch(s, V) {
                        Some(a) => a,
                        None => return Ok(bad_arg(ctx, s, "iso-8601", V)),
                    },
                };
                formats += 1;
                fmt = Some(
                    match a {
                        "date" => "%Y-%m-%d",
                        "hours" => "%Y-%m-%dT%H%:z",
                        "minutes" => "%Y-%m-%dT%H:%M%:z",
                        "seconds" => "%Y-%m-%dT%H:%M:%S%:z",
                        _ => "%Y-%m-%dT%H:%M:%S,%N%:z",
                    }
                    .into(),
                );
            }
            _ => {
                const V: &[&str] = &["date", "seconds", "ns"];
                let s = v.unwrap_or_default();
                let Some(a) = argmatch(&s, V) else {
                    return Ok(bad_arg(ctx, &s, "rfc-3339", V));
                };
                formats += 1;
                fmt = Some(
                    match a {
                        "date" => "%Y-%m-%d",
                        "seconds" => "%Y-%m-%d %H:%M:%S%:z",
                        _ => "%Y-%m-%d %H:%M:%S.%N%:z",
                    }
                    .into(),
                );
            }
        }
    }
    let mut ops = ops.into_iter();
    if let Some(op) = ops.next() {
        if let Some(f) = op.strip_prefix('+') {
            if let Some(extra) = ops.next() {
                return Ok(usage(ctx, "date", format!("extra operand '{extra}'"), 1));
            }
            formats += 1;
            fmt = Some(f.to_owned());
        } else {
            if let Some(extra) = ops.next() {
                return Ok(usage(ctx, "date", format!("extra operand '{extra}'"), 1));
            }
            // Only an operand in the clock-setting form ([MMDDhhmm[[CC]YY][.ss]]) would set
            // the clock; anything else is GNU's invalid date.
            if !is_clock_setting(&op) {
                ctx.warn("date", format!("invalid date '{op}'"));
                return Ok(1);
            }
            return Ok(unsupported(ctx, "date", "setting the clock"));
        }
    }
    if formats > 1 {
        ctx.warn("date", "multiple output formats specified");
        return Ok(1);
    }
    if date_str.is_some() && reference.is_some() {
        return Ok(usage(
            ctx,
            "date",
            "the options to specify dates for printing are mutually exclusive",
            1,
        ));
    }
    let zone = if utc {
        Zone {
            off: 0,
            abbrev: "UTC".into(),
        }
    } else {
        match zone_of(ctx.sh.get_var("TZ").as_deref()) {
            Ok(z) => z,
            Err(what) => return Ok(unsupported(ctx, "date", &what)),
        }
    };
    let t = if let Some(s) = &date_str {
        match parse_for(s, &zone) {
            Ok(t) => t,
            Err(e) => return Ok(date_error(ctx, "date", s, e)),
        }
    } else if let Some(f) = &reference {
        let p = ctx.path(f);
        match ctx.sh.fs.stat(&p) {
            Ok(m) => Instant {
                secs: m.mtime,
                nsec: m.mtime_nsec,
            },
            Err(e) => {
                ctx.warn("date", format!("{f}: {e}"));
                return Ok(1);
            }
        }
    } else {
        now()
    };
    let Some(tm) = Tm::new(t.secs, t.nsec, &zone) else {
        return Ok(unsupported(ctx, "date", "a year outside 1..9999"));
    };
    let fmt = fmt.unwrap_or_else(|| "%a %b %e %H:%M:%S %Z %Y".into());
    match format(fmt.as_bytes(), &tm) {
        Ok(mut out) => {
            out.push(b'\n');
            ctx.io.out(&out);
            Ok(0)
        }
        Err(_) => Ok(unsupported(ctx, "date", "an output over 256 KiB")),
    }
}

/// Reads a date string in `zone` at the current time.
pub(crate) fn parse_for(s: &str, zone: &Zone) -> Result<Instant, DateError> {
    parse(s, now(), i64::from(zone.off))
}

/// GNU's `invalid date` (exit 1), or the sandbox's refusal for a form it does not read.
pub(crate) fn date_error(ctx: &mut Ctx<'_, '_>, cmd: &str, s: &str, e: DateError) -> i32 {
    let plain = s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'\'');
    match e {
        DateError::Invalid if plain => {
            ctx.warn(cmd, format!("invalid date '{s}'"));
            1
        }
        _ => unsupported(ctx, cmd, &format!("the date '{}'", s.escape_default())),
    }
}

/// Whether `op` has the shape GNU `date` reads as a time to set: `MMDDhhmm[[CC]YY][.ss]`.
fn is_clock_setting(op: &str) -> bool {
    let (digits, secs) = match op.split_once('.') {
        Some((d, s)) => (d, Some(s)),
        None => (op, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(digits)
        && matches!(digits.len(), 8 | 10 | 12)
        && secs.is_none_or(|s| s.len() == 2 && all_digits(s))
}
