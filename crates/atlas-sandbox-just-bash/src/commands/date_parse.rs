//! The date strings of `date -d` and `touch -d`, read as gnulib's `parse_datetime` reads them,
//! for the forms models write: `@EPOCH`, ISO dates and date-times (`T`, fractions, `Z`, offsets),
//! `M/D/Y`, month names (`Mar 1 2025`, `1 Mar`), times with `am`/`pm`, relative items (`+1 day`,
//! `2 weeks ago`, `next monday`, `yesterday`), and `UTC`/`GMT`/`Z`. A string with a word gnulib
//! does not know, a character no rule takes, or a field out of range is GNU's "invalid date";
//! any other form gnulib may take but this reader does not is refused, never guessed.

use jiff::civil::Date;

use super::date_fmt::sunday0;

/// An instant: seconds since the epoch and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Instant {
    pub secs: i64,
    pub nsec: u32,
}

/// Why a string gave no instant.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DateError {
    /// GNU rejects it too: `invalid date '…'`.
    Invalid,
    /// GNU may accept it; this reader does not know the form.
    Unsupported,
}

use DateError::{Invalid, Unsupported};

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// A number: value, digit count, sign written (`+`/`-`) or not.
    Num(i64, usize, Option<i8>),
    /// A number with a fraction: whole part, nanoseconds, sign.
    Dec(i64, u32, Option<i8>),
    Word(String),
    Ch(char),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, DateError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || c == b'+' || c == b'-' {
            let mut sign = None;
            if c == b'+' || c == b'-' {
                sign = Some(if c == b'-' { -1 } else { 1 });
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i >= b.len() || !b[i].is_ascii_digit() {
                    // gnulib skips a sign no digit follows.
                    continue;
                }
            }
            let st = i;
            let mut v: i64 = 0;
            while i < b.len() && b[i].is_ascii_digit() {
                v = v
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i64::from(b[i] - b'0')))
                    .ok_or(Unsupported)?;
                i += 1;
            }
            let digits = i - st;
            if i + 1 < b.len() && (b[i] == b'.' || b[i] == b',') && b[i + 1].is_ascii_digit() {
                i += 1;
                let mut ns = 0u32;
                let mut n = 0;
                while i < b.len() && b[i].is_ascii_digit() {
                    if n < 9 {
                        ns = ns * 10 + u32::from(b[i] - b'0');
                        n += 1;
                    }
                    i += 1;
                }
                while n < 9 {
                    ns *= 10;
                    n += 1;
                }
                out.push(Tok::Dec(v, ns, sign));
            } else {
                out.push(Tok::Num(v, digits, sign));
            }
            continue;
        }
        if c.is_ascii_alphabetic() {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'.') {
                i += 1;
            }
            let w = s[st..i].to_ascii_lowercase();
            if !known_word(&w) {
                return Err(Invalid);
            }
            out.push(Tok::Word(w));
            continue;
        }
        if c == b'(' {
            return Err(Unsupported);
        }
        match c {
            b':' | b',' | b'/' | b'@' | b'.' => out.push(Tok::Ch(char::from(c))),
            _ if c.is_ascii_graphic() => return Err(Invalid),
            _ => return Err(Unsupported),
        }
        i += 1;
    }
    Ok(out)
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
/// gnulib's zone abbreviations and their offsets (east, seconds), as GNU date 9.1 reads them.
const ZONES: &[(&str, i64)] = &[
    ("gmt", 0),
    ("ut", 0),
    ("utc", 0),
    ("wet", 0),
    ("west", 3600),
    ("bst", 3600),
    ("art", -10800),
    ("brt", -10800),
    ("brst", -7200),
    ("nst", -12600),
    ("ndt", -9000),
    ("ast", -14400),
    ("adt", -10800),
    ("est", -18000),
    ("edt", -14400),
    ("cst", -21600),
    ("cdt", -18000),
    ("mst", -25200),
    ("mdt", -21600),
    ("pst", -28800),
    ("pdt", -25200),
    ("akst", -32400),
    ("akdt", -28800),
    ("hst", -36000),
    ("hast", -36000),
    ("hadt", -32400),
    ("sst", -43200),
    ("wat", 3600),
    ("cet", 3600),
    ("cest", 7200),
    ("met", 3600),
    ("mez", 3600),
    ("mesz", 7200),
    ("eet", 7200),
    ("eest", 10800),
    ("cat", 7200),
    ("sast", 7200),
    ("eat", 10800),
    ("msk", 10800),
    ("msd", 14400),
    ("ist", 19800),
    ("sgt", 28800),
    ("kst", 32400),
    ("jst", 32400),
    ("gst", 36000),
    ("nzst", 43200),
    ("nzdt", 46800),
    ("z", 0),
];

fn zone_word(w: &str) -> Option<i64> {
    ZONES.iter().find(|(n, _)| *n == w).map(|(_, o)| *o)
}
const UNITS: &[&str] = &[
    "year",
    "month",
    "fortnight",
    "week",
    "day",
    "hour",
    "minute",
    "min",
    "second",
    "sec",
];
const REL_WORDS: &[&str] = &[
    "tomorrow",
    "yesterday",
    "today",
    "now",
    "last",
    "this",
    "next",
    "first",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "ago",
    "hence",
];

fn abbrev(w: &str) -> bool {
    w.len() == 3 || (w.len() == 4 && w.ends_with('.'))
}

/// A month (1..=12) by gnulib's rule: the full name, or its first three letters.
fn month_of(w: &str) -> Option<i64> {
    if w == "sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|m| if abbrev(w) { m[..3] == w[..3] } else { *m == w })
        .map(|i| i as i64 + 1)
}

fn day_of(w: &str) -> Option<i64> {
    match w {
        "tues" => return Some(2),
        "wednes" => return Some(3),
        "thur" | "thurs" => return Some(4),
        _ => {}
    }
    DAYS.iter()
        .position(|d| if abbrev(w) { d[..3] == w[..3] } else { *d == w })
        .map(|i| i as i64)
}

fn unit_of(w: &str) -> Option<&'static str> {
    let find = |w: &str| UNITS.iter().find(|u| **u == w).copied();
    find(w).or_else(|| w.strip_suffix('s').and_then(find))
}

/// Whether gnulib's `lookup_word` knows the word (an unknown one makes the string invalid).
fn known_word(w: &str) -> bool {
    matches!(w, "am" | "pm" | "a.m." | "p.m.")
        || month_of(w).is_some()
        || day_of(w).is_some()
        || zone_word(w).is_some()
        || w == "dst"
        || unit_of(w).is_some()
        || REL_WORDS.contains(&w)
        || (w.len() == 1 && w != "j")
        || zone_word(&w.replace('.', "")).is_some()
}

fn ordinal(w: &str) -> Option<i64> {
    Some(match w {
        "last" => -1,
        "this" => 0,
        "next" | "first" => 1,
        "third" => 3,
        "fourth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        "eleventh" => 11,
        "twelfth" => 12,
        _ => return None,
    })
}

#[derive(Default)]
struct Parsed {
    date: Option<(Option<i64>, i64, i64)>,
    time: Option<(i64, i64, i64, u32)>,
    zone: Option<i64>,
    day: Option<(i64, i64)>,
    rel: [i64; 6],
    rel_ns: i64,
    rels_seen: bool,
}

/// A year as gnulib reads it: two digits are 1969..=2068.
fn to_year(v: i64, digits: usize) -> i64 {
    if digits == 2 {
        v + if v < 69 { 2000 } else { 1900 }
    } else {
        v
    }
}

struct P {
    t: Vec<Tok>,
    i: usize,
    r: Parsed,
}

impl P {
    fn peek(&self, k: usize) -> Option<&Tok> {
        self.t.get(self.i + k)
    }
    fn word(&self, k: usize) -> Option<&str> {
        match self.peek(k) {
            Some(Tok::Word(w)) => Some(w.as_str()),
            _ => None,
        }
    }
    fn ch(&self, k: usize, c: char) -> bool {
        self.peek(k) == Some(&Tok::Ch(c))
    }
    fn unum(&self, k: usize) -> Option<(i64, usize)> {
        match self.peek(k) {
            Some(Tok::Num(v, d, None)) => Some((*v, *d)),
            _ => None,
        }
    }

    fn set_date(&mut self, y: Option<i64>, m: i64, d: i64) -> Result<(), DateError> {
        if self.r.date.is_some() {
            return Err(Invalid);
        }
        self.r.date = Some((y, m, d));
        Ok(())
    }

    fn set_zone(&mut self, off: i64) -> Result<(), DateError> {
        if self.r.zone.is_some() || off.abs() > 24 * 3600 {
            return Err(Invalid);
        }
        self.r.zone = Some(off);
        Ok(())
    }

    /// `HH[:MM[:SS[.frac]]]` after its hour, then `am`/`pm` or a zone offset.
    fn time(&mut self, hour: i64) -> Result<(), DateError> {
        let (mut min, mut sec, mut ns) = (0, 0, 0);
        let mut colon = false;
        if self.ch(0, ':') {
            colon = true;
            let (m, _) = self.unum(1).ok_or(Unsupported)?;
            min = m;
            self.i += 2;
            if self.ch(0, ':') {
                match self.peek(1) {
                    Some(Tok::Num(s, _, None)) => sec = *s,
                    Some(Tok::Dec(s, n, None)) => (sec, ns) = (*s, *n),
                    _ => return Err(Unsupported),
                }
                self.i += 2;
            }
        }
        let mut hour = hour;
        match self.word(0) {
            Some("am" | "a.m." | "pm" | "p.m.") => {
                let pm = self.word(0).is_some_and(|w| w.starts_with('p'));
                if !(1..=12).contains(&hour) {
                    return Err(Invalid);
                }
                hour = hour % 12 + if pm { 12 } else { 0 };
                self.i += 1;
            }
            _ if !colon => return Err(Unsupported),
            _ => {
                if hour > 23 {
                    return Err(Invalid);
                }
                if let Some(Tok::Num(v, d, Some(sg))) = self.peek(0).cloned() {
                    self.i += 1;
                    let off = if self.ch(0, ':') {
                        let (m, _) = self.unum(1).ok_or(Unsupported)?;
                        self.i += 2;
                        v * 3600 + m * 60
                    } else if d <= 2 {
                        v * 3600
                    } else {
                        (v / 100) * 3600 + (v % 100) * 60
                    };
                    self.set_zone(i64::from(sg) * off)?;
                }
            }
        }
        if min > 59 || sec > 59 {
            return Err(Invalid);
        }
        if self.r.time.is_some() {
            return Err(Invalid);
        }
        self.r.time = Some((hour, min, sec, ns));
        Ok(())
    }

    fn rel(&mut self, n: i64, unit: &str) -> Result<(), DateError> {
        let (k, mul) = match unit {
            "year" => (0, 1),
            "month" => (1, 1),
            "fortnight" => (2, 14),
            "week" => (2, 7),
            "day" => (2, 1),
            "hour" => (3, 1),
            "minute" | "min" => (4, 1),
            _ => (5, 1),
        };
        let mut n = n.checked_mul(mul).ok_or(Unsupported)?;
        if matches!(self.word(0), Some("ago")) {
            n = -n;
            self.i += 1;
        } else if matches!(self.word(0), Some("hence")) {
            self.i += 1;
        }
        self.r.rel[k] = self.r.rel[k].checked_add(n).ok_or(Unsupported)?;
        self.r.rels_seen = true;
        Ok(())
    }

    fn item(&mut self) -> Result<(), DateError> {
        let tok = self.peek(0).cloned().ok_or(Unsupported)?;
        match tok {
            Tok::Num(v, d, None) => {
                // YYYY-MM-DD (gnulib: an unsigned number and two negative ones).
                if let (Some(Tok::Num(m, _, Some(-1))), Some(Tok::Num(dd, _, Some(-1)))) =
                    (self.peek(1).cloned(), self.peek(2).cloned())
                {
                    self.i += 3;
                    self.set_date(Some(to_year(v, d)), m, dd)?;
                    if self.word(0) == Some("t") {
                        self.i += 1;
                        let (h, _) = self.unum(0).ok_or(Unsupported)?;
                        self.i += 1;
                        return self.time(h);
                    }
                    return Ok(());
                }
                if self.ch(1, '/') {
                    let (b, _) = self.unum(2).ok_or(Unsupported)?;
                    self.i += 3;
                    if self.ch(0, '/') {
                        let (c, cd) = self.unum(1).ok_or(Unsupported)?;
                        self.i += 2;
                        if d >= 4 {
                            return self.set_date(Some(v), b, c);
                        }
                        return self.set_date(Some(to_year(c, cd)), v, b);
                    }
                    if d >= 4 {
                        return Err(Unsupported);
                    }
                    return self.set_date(None, v, b);
                }
                if self.ch(1, ':') {
                    self.i += 1;
                    return self.time(v);
                }
                if let Some(w) = self.word(1).map(str::to_owned) {
                    if let Some(m) = month_of(&w) {
                        // `1 Mar [2025]`
                        self.i += 2;
                        if let Some((y, yd)) = self.unum(0) {
                            self.i += 1;
                            return self.set_date(Some(to_year(y, yd)), m, v);
                        }
                        return self.set_date(None, m, v);
                    }
                    if let Some(u) = unit_of(&w) {
                        self.i += 2;
                        return self.rel(v, u);
                    }
                    if matches!(w.as_str(), "am" | "pm" | "a.m." | "p.m.") {
                        self.i += 1;
                        return self.time(v);
                    }
                }
                // gnulib's bare number after a date without a year (`Sat Mar  1 10:00:00 UTC
                // 2025`, as `date` prints) is the year.
                if let Some((None, m, dd)) = self.r.date
                    && !self.r.rels_seen
                    && (self.r.time.is_some() || d > 2)
                    && !self.ch(1, ':')
                {
                    self.i += 1;
                    self.r.date = Some((Some(to_year(v, d)), m, dd));
                    return Ok(());
                }
                Err(Unsupported)
            }
            Tok::Num(v, _, Some(sg)) => {
                let u = self.word(1).and_then(unit_of).ok_or(Unsupported)?;
                self.i += 2;
                self.rel(i64::from(sg) * v, u)
            }
            Tok::Word(w) => {
                self.i += 1;
                if let Some(m) = month_of(&w) {
                    // `Mar 1`, `Mar 1 2025`, `Mar 1, 2025`
                    let (dd, _) = self.unum(0).ok_or(Unsupported)?;
                    self.i += 1;
                    if self.ch(0, ',') {
                        let (y, yd) = self.unum(1).ok_or(Unsupported)?;
                        self.i += 2;
                        return self.set_date(Some(to_year(y, yd)), m, dd);
                    }
                    if let Some((y, yd)) = self.unum(0) {
                        if yd <= 2 || self.ch(1, ':') {
                            return Err(Unsupported);
                        }
                        self.i += 1;
                        return self.set_date(Some(y), m, dd);
                    }
                    return self.set_date(None, m, dd);
                }
                if let Some(dn) = day_of(&w) {
                    if self.ch(0, ',') {
                        self.i += 1;
                    }
                    return self.set_day(0, dn);
                }
                if let Some(u) = unit_of(&w) {
                    return self.rel(1, u);
                }
                match w.as_str() {
                    "tomorrow" => self.rel_day(1),
                    "yesterday" => self.rel_day(-1),
                    "today" | "now" => self.rel_day(0),
                    _ if zone_word(&w).is_some() => {
                        // `UTC+1` is a zone with an offset; only `UTC +1 day` is read here.
                        if let Some(Tok::Num(_, _, Some(_))) = self.peek(0)
                            && self.word(1).and_then(unit_of).is_none()
                        {
                            return Err(Unsupported);
                        }
                        self.set_zone(zone_word(&w).unwrap_or(0))
                    }
                    _ => {
                        let n = ordinal(&w).ok_or(Unsupported)?;
                        let next = self.word(0).map(str::to_owned).ok_or(Unsupported)?;
                        self.i += 1;
                        if let Some(dn) = day_of(&next) {
                            return self.set_day(n, dn);
                        }
                        let u = unit_of(&next).ok_or(Unsupported)?;
                        self.rel(n, u)
                    }
                }
            }
            _ => Err(Unsupported),
        }
    }

    fn rel_day(&mut self, n: i64) -> Result<(), DateError> {
        self.r.rel[2] += n;
        self.r.rels_seen = true;
        Ok(())
    }

    fn set_day(&mut self, ord: i64, dn: i64) -> Result<(), DateError> {
        if self.r.day.is_some() {
            return Err(Invalid);
        }
        self.r.day = Some((ord, dn));
        Ok(())
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    // Month and day may overflow, as mktime lets them: carried into the year, then the day.
    let y = y.checked_add((m - 1).div_euclid(12))?;
    let m = (m - 1).rem_euclid(12) + 1;
    let first = Date::new(i16::try_from(y).ok()?, m as i8, 1).ok()?;
    let epoch = Date::constant(1970, 1, 1);
    let base = i64::from((first - epoch).get_days());
    base.checked_add(d - 1)
}

/// The civil date and time of `secs` at `off` seconds east.
fn civil(secs: i64, off: i64) -> Option<(i64, i64, i64, i64, i64, i64, i64)> {
    let local = secs.checked_add(off)?;
    let days = local.div_euclid(86400);
    let sod = local.rem_euclid(86400);
    let epoch = Date::constant(1970, 1, 1);
    let d = epoch
        .checked_add(jiff::Span::new().try_days(days).ok()?)
        .ok()?;
    Some((
        i64::from(d.year()),
        i64::from(d.month()),
        i64::from(d.day()),
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        sunday0(d.weekday()),
    ))
}

/// Reads `s` as GNU `date -d` does, at `now`, in a zone `tz_off` seconds east of UTC.
pub(crate) fn parse(s: &str, now: Instant, tz_off: i64) -> Result<Instant, DateError> {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('@') {
        let toks = tokenize(rest)?;
        return match toks.as_slice() {
            [Tok::Num(v, _, sg)] => Ok(Instant {
                secs: v * i64::from(sg.unwrap_or(1)),
                nsec: 0,
            }),
            [Tok::Dec(v, ns, sg)] => {
                let neg = *sg == Some(-1);
                if neg && *ns > 0 {
                    Ok(Instant {
                        secs: -v - 1,
                        nsec: 1_000_000_000 - ns,
                    })
                } else {
                    Ok(Instant {
                        secs: if neg { -v } else { *v },
                        nsec: *ns,
                    })
                }
            }
            [] | [Tok::Num(..), Tok::Num(..), ..] => Err(Invalid),
            _ => Err(Unsupported),
        };
    }
    let toks = tokenize(t)?;
    let mut p = P {
        t: toks,
        i: 0,
        r: Parsed::default(),
    };
    while p.i < p.t.len() {
        p.item()?;
    }
    let r = p.r;
    let (ny, nm, nd, nh, nmi, ns_, nwd) = civil(now.secs, tz_off).ok_or(Unsupported)?;
    let (mut y, mut m, mut d) = (ny, nm, nd);
    if let Some((yy, mm, dd)) = r.date {
        y = yy.unwrap_or(ny);
        (m, d) = (mm, dd);
        if !(1..=12).contains(&m) || d < 1 {
            return Err(Invalid);
        }
        let dim = Date::new(i16::try_from(y).map_err(|_| Unsupported)?, m as i8, 1)
            .map_err(|_| Unsupported)?
            .days_in_month();
        if d > i64::from(dim) {
            return Err(Invalid);
        }
    }
    let (mut h, mut mi, mut se, mut ns) = (0, 0, 0, 0u32);
    if let Some((a, b, c, n)) = r.time {
        (h, mi, se, ns) = (a, b, c, n);
    } else if r.rels_seen && r.date.is_none() && r.day.is_none() {
        (h, mi, se, ns) = (nh, nmi, ns_, now.nsec);
    }
    let off = r.zone.unwrap_or(tz_off);
    if let Some((ord, dn)) = r.day {
        // gnulib ignores a weekday beside a date (`Sat, 01 Mar 2025`).
        if r.date.is_none() {
            let wd = nwd;
            d += (dn - wd + 7) % 7 + 7 * (ord - i64::from(0 < ord && wd != dn));
        }
    }
    y = y.checked_add(r.rel[0]).ok_or(Unsupported)?;
    m = m.checked_add(r.rel[1]).ok_or(Unsupported)?;
    d = d.checked_add(r.rel[2]).ok_or(Unsupported)?;
    let days = days_from_civil(y, m, d).ok_or(Unsupported)?;
    let secs = days
        .checked_mul(86400)
        .and_then(|s| s.checked_add(h * 3600 + mi * 60 + se))
        .and_then(|s| s.checked_sub(off))
        .and_then(|s| s.checked_add(r.rel[3].checked_mul(3600)?))
        .and_then(|s| s.checked_add(r.rel[4].checked_mul(60)?))
        .and_then(|s| s.checked_add(r.rel[5]))
        .and_then(|s| s.checked_add(r.rel_ns))
        .ok_or(Unsupported)?;
    Ok(Instant { secs, nsec: ns })
}
