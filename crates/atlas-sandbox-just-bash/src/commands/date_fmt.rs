//! GNU `date`'s `+FORMAT` (gnulib's `nstrftime` in the C locale): flags `_ - 0 + ^ #`, a width,
//! the `E`/`O` modifiers, `%:z`-style colons, and a directive it does not know copied as written
//! (padded to the width), as gnulib does. Calendar fields come from `jiff`.

use jiff::civil::Weekday;

/// The widest field printed; GNU would print any width, the sandbox refuses beyond this.
pub(crate) const MAX_WIDTH: usize = 1 << 16;

/// A time zone as `date` shows it: seconds east of UTC and its abbreviation.
#[derive(Clone, Debug)]
pub(crate) struct Zone {
    pub off: i32,
    pub abbrev: String,
}

/// Broken-down time, as `struct tm` holds it.
pub(crate) struct Tm {
    year: i64,
    mon: i64,
    mday: i64,
    hour: i64,
    min: i64,
    sec: i64,
    nsec: u32,
    wday: i64,
    yday: i64,
    iso_year: i64,
    iso_week: i64,
    secs: i64,
    off: i32,
    abbrev: String,
}

impl Tm {
    /// The year of `secs` in `zone`.
    pub(crate) fn year_of(secs: i64, zone: &Zone) -> Option<i64> {
        Tm::new(secs, 0, zone).map(|t| t.year)
    }

    /// The local time of `secs` in `zone`, or `None` outside jiff's years (-9999..=9999).
    pub(crate) fn new(secs: i64, nsec: u32, zone: &Zone) -> Option<Tm> {
        let local = secs.checked_add(i64::from(zone.off))?;
        let sod = local.rem_euclid(86400);
        let days = jiff::Span::new().try_days(local.div_euclid(86400)).ok()?;
        let d = jiff::civil::Date::constant(1970, 1, 1)
            .checked_add(days)
            .ok()?;
        // Years before 1 print as glibc and gnulib each sign them; not worth matching.
        if d.year() < 1 || d.iso_week_date().year() < 1 {
            return None;
        }
        let iso = d.iso_week_date();
        Some(Tm {
            year: i64::from(d.year()),
            mon: i64::from(d.month()),
            mday: i64::from(d.day()),
            hour: sod / 3600,
            min: sod / 60 % 60,
            sec: sod % 60,
            nsec,
            wday: i64::from(d.weekday().to_sunday_zero_offset()),
            yday: i64::from(d.day_of_year()) - 1,
            iso_year: i64::from(iso.year()),
            iso_week: i64::from(iso.week()),
            secs,
            off: zone.off,
            abbrev: zone.abbrev.clone(),
        })
    }
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Why formatting stopped: a width beyond [`MAX_WIDTH`].
pub(crate) struct TooWide;

/// Formats `fmt` as GNU `date +FORMAT` does.
pub(crate) fn format(fmt: &[u8], tm: &Tm) -> Result<Vec<u8>, TooWide> {
    let mut out = Vec::new();
    fmt_into(&mut out, fmt, tm, false, 0, None)?;
    if out.len() > MAX_WIDTH * 4 {
        return Err(TooWide);
    }
    Ok(out)
}

/// Appends `s` padded to `width` (gnulib's `width_cpy`), in the case asked.
fn cpy(out: &mut Vec<u8>, s: &[u8], pad: u8, width: Option<usize>, up: bool, low: bool) {
    let w = if pad == b'-' { 0 } else { width.unwrap_or(0) };
    if s.len() < w {
        let c = if pad == b'0' || pad == b'+' {
            b'0'
        } else {
            b' '
        };
        out.extend(std::iter::repeat_n(c, w - s.len()));
    }
    if low {
        out.extend(s.iter().map(u8::to_ascii_lowercase));
    } else if up {
        out.extend(s.iter().map(u8::to_ascii_uppercase));
    } else {
        out.extend_from_slice(s);
    }
}

/// gnulib's `do_number_body` and `do_number_sign_and_padding`.
#[allow(clippy::too_many_arguments)]
fn number(
    out: &mut Vec<u8>,
    digits: usize,
    neg: bool,
    mag: u64,
    pad: u8,
    width: Option<usize>,
    always_sign: bool,
    mut colon_mask: u32,
) {
    let mut buf: Vec<u8> = Vec::new();
    let mut v = mag;
    loop {
        if colon_mask & 1 != 0 {
            buf.push(b':');
        }
        colon_mask >>= 1;
        buf.push(b'0' + (v % 10) as u8);
        v /= 10;
        if v == 0 && colon_mask == 0 {
            break;
        }
    }
    buf.reverse();
    let pad = if pad == 0 { b'0' } else { pad };
    let mut width = width.unwrap_or(digits) as isize;
    let sign = if neg {
        Some(b'-')
    } else if always_sign {
        Some(b'+')
    } else {
        None
    };
    let shortage = width - isize::from(sign.is_some()) - buf.len() as isize;
    let padding = if pad == b'-' || shortage <= 0 {
        0
    } else {
        shortage
    };
    if let Some(s) = sign {
        if pad == b'_' {
            out.extend(std::iter::repeat_n(b' ', padding as usize));
            width -= padding;
        }
        out.push(s);
        width -= 1;
    }
    cpy(out, &buf, pad, usize::try_from(width).ok(), false, false);
}

fn fmt_into(
    out: &mut Vec<u8>,
    fmt: &[u8],
    tm: &Tm,
    upcase: bool,
    yr_spec: u8,
    first_width: Option<usize>,
) -> Result<(), TooWide> {
    let mut i = 0;
    let mut first = true;
    while i < fmt.len() {
        if fmt[i] != b'%' {
            out.push(fmt[i]);
            i += 1;
            first = false;
            continue;
        }
        let start = i;
        let mut pad = 0u8;
        let mut up = upcase;
        let mut change_case = false;
        i += 1;
        while i < fmt.len() {
            match fmt[i] {
                b'_' | b'-' | b'+' | b'0' => pad = fmt[i],
                b'^' => up = true,
                b'#' => change_case = true,
                _ => break,
            }
            i += 1;
        }
        let mut width = if first { first_width } else { None };
        first = false;
        if i < fmt.len() && fmt[i].is_ascii_digit() {
            let mut w = 0usize;
            while i < fmt.len() && fmt[i].is_ascii_digit() {
                w = w
                    .saturating_mul(10)
                    .saturating_add(usize::from(fmt[i] - b'0'));
                i += 1;
            }
            if w > MAX_WIDTH {
                return Err(TooWide);
            }
            width = Some(w);
        }
        let mut modifier = 0u8;
        if i < fmt.len() && (fmt[i] == b'E' || fmt[i] == b'O') {
            modifier = fmt[i];
            i += 1;
        }
        let mut colons = 0usize;
        if i < fmt.len() && fmt[i] == b':' {
            while i + colons < fmt.len() && fmt[i + colons] == b':' {
                colons += 1;
            }
            if i + colons < fmt.len() && fmt[i + colons] == b'z' && colons <= 3 {
                i += colons;
            } else {
                // gnulib copies through the first colon and goes on after it.
                cpy(out, &fmt[start..=i], pad, width, up, false);
                i += 1;
                continue;
            }
        }
        let c = fmt.get(i).copied().unwrap_or(0);
        if c == 0 || (c == b'%' && i != start + 1) {
            // A `%` ending the format, or one after flags: copied up to here, and a `%` here
            // starts the next directive.
            cpy(out, &fmt[start..i], pad, width, up, false);
            continue;
        }
        let bad_set: &[u8] = match modifier {
            b'E' => b"aAbBdDeFgGhHIjklmMNSUVwW",
            b'O' => b"aAcDFqxXY",
            _ => b"",
        };
        if bad_set.contains(&c) {
            cpy(out, &fmt[start..=i], pad, width, up, false);
            i += 1;
            continue;
        }
        let num = |out: &mut Vec<u8>, digits: usize, v: i64, dpad: u8| {
            let p = if pad == 0 { dpad } else { pad };
            number(out, digits, v < 0, v.unsigned_abs(), p, width, false, 0);
        };
        let yearish = |out: &mut Vec<u8>, digits: usize, neg: bool, mag: u64| {
            let p = if pad == 0 { yr_spec } else { pad };
            let limit = if digits == 2 { 99 } else { 9999 };
            let always = p == b'+' && (limit < mag || width.is_some_and(|w| digits < w));
            number(out, digits, neg, mag, p, width, always, 0);
        };
        let hour12 = if tm.hour % 12 == 0 { 12 } else { tm.hour % 12 };
        // gnulib's own recursion: flags reach the inner directives.
        let sub = |out: &mut Vec<u8>, f: &str| -> Result<(), TooWide> {
            let mut tmp = Vec::new();
            fmt_into(&mut tmp, f.as_bytes(), tm, up, pad, None)?;
            cpy(out, &tmp, pad, width, false, false);
            Ok(())
        };
        // `%c %x %X` come from the C library's strftime: only the width and `^` reach them, and
        // glibc does not pad the year.
        let libc = |out: &mut Vec<u8>, f: &str| -> Result<(), TooWide> {
            let mut tmp = Vec::new();
            fmt_into(&mut tmp, f.as_bytes(), tm, false, 0, None)?;
            cpy(out, &tmp, pad, width, up, false);
            Ok(())
        };
        if (modifier == b'O' && b"CdeHIjklmMSuUVwWyYgGqszNcxXDTRrFnt".contains(&c))
            || (modifier == b'E' && b"CdeHIjklmMSuUVwWyYgGqsNcxXDTRrFnt".contains(&c))
        {
            // With `E`/`O` the C library formats the field: flags are ignored, and a width pads
            // with spaces (zeros after `0`).
            let mut tmp = Vec::new();
            let mut d = b"%".to_vec();
            d.extend(std::iter::repeat_n(b':', colons));
            d.push(c);
            fmt_into(&mut tmp, &d, tm, false, 0, None)?;
            cpy(out, &tmp, pad, width, false, false);
            i += 1;
            continue;
        }
        match c {
            b'%' => cpy(out, b"%", pad, width, false, false),
            b'a' | b'A' => {
                let d = DAYS[tm.wday as usize];
                let s = if c == b'a' { &d[..3] } else { d };
                cpy(out, s.as_bytes(), pad, width, up || change_case, false);
            }
            b'b' | b'h' | b'B' => {
                let m = MONTHS[(tm.mon - 1) as usize];
                let s = if c == b'B' { m } else { &m[..3] };
                cpy(out, s.as_bytes(), pad, width, up || change_case, false);
            }
            b'c' => libc(out, "%a %b %e %H:%M:%S %-Y")?,
            b'x' => libc(out, "%m/%d/%y")?,
            b'X' => libc(out, "%H:%M:%S")?,
            b'D' => sub(out, "%m/%d/%y")?,
            b'T' => sub(out, "%H:%M:%S")?,
            b'R' => sub(out, "%H:%M")?,
            b'r' => sub(out, "%I:%M:%S %p")?,
            b'F' => {
                let (sw, yr) = match (pad, width) {
                    (0, None) => (Some(4), b'+'),
                    _ => (Some(width.unwrap_or(0).saturating_sub(6)), pad),
                };
                let mut tmp = Vec::new();
                fmt_into(&mut tmp, b"%Y-%m-%d", tm, up, yr, sw)?;
                cpy(out, &tmp, pad, width, false, false);
            }
            b'C' => yearish(out, 2, false, (tm.year / 100) as u64),
            b'y' => yearish(out, 2, false, (tm.year % 100) as u64),
            b'Y' => yearish(out, 4, false, tm.year as u64),
            b'G' => yearish(out, 4, false, tm.iso_year as u64),
            b'g' => yearish(out, 2, false, (tm.iso_year % 100) as u64),
            b'V' => num(out, 2, tm.iso_week, b'0'),
            b'd' => num(out, 2, tm.mday, b'0'),
            b'e' => num(out, 2, tm.mday, b'_'),
            b'H' => num(out, 2, tm.hour, b'0'),
            b'I' => num(out, 2, hour12, b'0'),
            b'k' => num(out, 2, tm.hour, b'_'),
            b'l' => num(out, 2, hour12, b'_'),
            b'j' => num(out, 3, tm.yday + 1, b'0'),
            b'm' => num(out, 2, tm.mon, b'0'),
            b'M' => num(out, 2, tm.min, b'0'),
            b'S' => num(out, 2, tm.sec, b'0'),
            b'q' => num(out, 1, (tm.mon - 1) / 3 + 1, b'0'),
            b'u' => num(out, 1, (tm.wday + 6) % 7 + 1, b'0'),
            b'w' => num(out, 1, tm.wday, b'0'),
            b'U' => num(out, 2, (tm.yday - tm.wday + 7) / 7, b'0'),
            b'W' => num(out, 2, (tm.yday - (tm.wday + 6) % 7 + 7) / 7, b'0'),
            b's' => {
                let p = if pad == 0 { b'0' } else { pad };
                number(
                    out,
                    1,
                    tm.secs < 0,
                    tm.secs.unsigned_abs(),
                    p,
                    width,
                    false,
                    0,
                );
            }
            b'N' => nanos(out, tm.nsec, pad, width),
            b'n' => cpy(out, b"\n", pad, width, false, false),
            b't' => cpy(out, b"\t", pad, width, false, false),
            b'p' | b'P' => {
                let s: &[u8] = if tm.hour >= 12 { b"PM" } else { b"AM" };
                let low = c == b'P' || change_case;
                cpy(out, s, pad, width, up, low);
            }
            b'Z' => cpy(out, tm.abbrev.as_bytes(), pad, width, up, change_case),
            b'z' => {
                let diff = i64::from(tm.off);
                let neg = diff < 0;
                let a = diff.unsigned_abs();
                let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
                let p = if pad == 0 { b'0' } else { pad };
                let colons = if colons == 3 && s != 0 {
                    2
                } else if colons == 3 && m != 0 {
                    1
                } else {
                    colons
                };
                match colons {
                    0 => number(out, 5, neg, h * 100 + m, p, width, true, 0),
                    1 => number(out, 6, neg, h * 100 + m, p, width, true, 0o4),
                    2 => number(out, 9, neg, h * 10000 + m * 100 + s, p, width, true, 0o24),
                    _ => number(out, 3, neg, h, p, width, true, 0),
                }
            }
            _ => cpy(out, &fmt[start..=i], pad, width, up, false),
        }
        i += 1;
    }
    Ok(())
}

/// `%N`: GNU 9.1 takes a width under 9 as a precision, drops trailing zeros when padding is
/// asked for and pads on the right.
fn nanos(out: &mut Vec<u8>, ns: u32, pad: u8, width: Option<usize>) {
    let digits = format!("{ns:09}");
    let Some(w) = width.filter(|&w| w > 0) else {
        if pad == b'_' {
            let t = digits.trim_end_matches('0');
            let t = if t.is_empty() { "0" } else { t };
            out.extend_from_slice(t.as_bytes());
            out.extend(std::iter::repeat_n(b' ', 9 - t.len()));
        } else {
            out.extend_from_slice(digits.as_bytes());
        }
        return;
    };
    let mut t = &digits[..w.min(9)];
    if pad == b'_' || pad == b'-' {
        t = t.trim_end_matches('0');
        if t.is_empty() {
            t = "0";
        }
    }
    out.extend_from_slice(t.as_bytes());
    if w > t.len() && pad != b'-' {
        let c = if pad == b'_' { b' ' } else { b'0' };
        out.extend(std::iter::repeat_n(c, w - t.len()));
    }
}

/// The weekday number GNU's day-of-week items use (Sunday = 0).
pub(crate) fn sunday0(w: Weekday) -> i64 {
    i64::from(w.to_sunday_zero_offset())
}
