//! `sort` (GNU coreutils 9.1, `LC_ALL=C`): keys (`-k F[.C][OPTS],F[.C][OPTS]`, `-t`), the
//! orderings `-n -g -h -M -V -R` (and per key), `-b -d -f -i -r`, `-u -s -c -o -z`. Where lines
//! compare equal under every key, the whole line decides in byte order, as GNU's last resort.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use super::Ctx;
use super::opts::{Arg, Spec};
use crate::interp::R;

/// How a key's text is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Order {
    /// Bytes (after `-f -d -i`).
    #[default]
    Text,
    /// `-n`: a leading decimal number.
    Numeric,
    /// `-g`: a leading floating-point number (strtod), the rest before every number.
    General,
    /// `-h`: a number with an SI suffix.
    Human,
    /// `-M`: a month name.
    Month,
    /// `-V`: GNU's version order (filevercmp).
    Version,
    /// `-R`: a random hash of the key (equal keys stay together).
    Random,
}

#[derive(Debug, Clone, Default)]
struct SortKey {
    start_field: usize,
    start_char: usize,
    end_field: Option<usize>,
    end_char: usize,
    order: Order,
    reverse: bool,
    fold: bool,
    blanks: bool,
    dictionary: bool,
    printable: bool,
}

impl SortKey {
    /// Whether any ordering option was given on the key itself (else it inherits the global ones).
    fn has_options(&self) -> bool {
        self.order != Order::Text
            || self.reverse
            || self.fold
            || self.blanks
            || self.dictionary
            || self.printable
    }

    /// Applies one option letter; `false` when it is not an ordering option.
    fn set(&mut self, o: char) -> bool {
        match o {
            'n' => self.order = Order::Numeric,
            'g' => self.order = Order::General,
            'h' => self.order = Order::Human,
            'M' => self.order = Order::Month,
            'V' => self.order = Order::Version,
            'R' => self.order = Order::Random,
            'r' => self.reverse = true,
            'f' => self.fold = true,
            'b' => self.blanks = true,
            'd' => self.dictionary = true,
            'i' => self.printable = true,
            _ => return false,
        }
        true
    }
}

fn parse_key(spec: &str) -> Option<SortKey> {
    let mut k = SortKey::default();
    let (start, end) = match spec.split_once(',') {
        Some((a, b)) => (a, Some(b)),
        None => (spec, None),
    };
    let parse_pos = |s: &str, k: &mut SortKey| -> Option<(usize, usize)> {
        let digits_end = s
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len());
        let (pos, opts) = s.split_at(digits_end);
        for o in opts.chars() {
            if !k.set(o) {
                return None;
            }
        }
        let (f, c) = match pos.split_once('.') {
            Some((f, c)) => (f.parse().ok()?, c.parse().ok()?),
            None => (pos.parse().ok()?, 0),
        };
        Some((f, c))
    };
    let (f, c) = parse_pos(start, &mut k)?;
    if f == 0 {
        return None;
    }
    k.start_field = f;
    k.start_char = c;
    if let Some(e) = end {
        let (f, c) = parse_pos(e, &mut k)?;
        k.end_field = Some(f);
        k.end_char = c;
    }
    Some(k)
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn key_slice<'l>(line: &'l [u8], k: &SortKey, sep: Option<u8>) -> &'l [u8] {
    // Field boundaries: with -t, split on the byte; without, a field is leading blanks + text.
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    match sep {
        Some(s) => {
            let mut st = 0;
            for (i, b) in line.iter().enumerate() {
                if *b == s {
                    starts.push(st);
                    ends.push(i);
                    st = i + 1;
                }
            }
            starts.push(st);
            ends.push(line.len());
        }
        None => {
            let mut i = 0;
            while i < line.len() {
                let st = i;
                while i < line.len() && is_blank(line[i]) {
                    i += 1;
                }
                while i < line.len() && !is_blank(line[i]) {
                    i += 1;
                }
                starts.push(st);
                ends.push(i);
            }
        }
    }
    let fi = k.start_field - 1;
    if fi >= starts.len() {
        return &[];
    }
    let mut s = starts[fi];
    if k.blanks || (sep.is_none() && k.start_char > 0) {
        while s < line.len() && is_blank(line[s]) {
            s += 1;
        }
    }
    if k.start_char > 0 {
        s = (s + k.start_char - 1).min(line.len());
    }
    let e = match k.end_field {
        None => line.len(),
        Some(ef) => {
            let ei = ef.saturating_sub(1);
            if ei >= starts.len() {
                line.len()
            } else if k.end_char == 0 {
                ends[ei]
            } else {
                let mut b = starts[ei];
                if sep.is_none() {
                    while b < line.len() && is_blank(line[b]) {
                        b += 1;
                    }
                }
                (b + k.end_char).min(ends[ei].max(b)).min(line.len())
            }
        }
    };
    if s >= e { &[] } else { &line[s..e] }
}

/// The leading number `-n` reads: blanks, an optional `-`, digits, at most one `.` and digits
/// (no `+`, no exponent, as GNU's C-locale `-n`). Anything else is 0.
fn num_prefix(s: &[u8]) -> f64 {
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    let b = &s[start..];
    let mut end = usize::from(b.first() == Some(&b'-'));
    while end < b.len() && b[end].is_ascii_digit() {
        end += 1;
    }
    if end < b.len() && b[end] == b'.' {
        end += 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
    }
    std::str::from_utf8(&b[..end])
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.0)
}

/// The leading floating-point number `-g` reads (strtod: exponents, `inf`, `nan` as Rust
/// parses them, and C's hexadecimal `0x1F`, `0x1p3`), or `None` when there is none.
fn general_prefix(s: &[u8]) -> Option<f64> {
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    if let Some(v) = hex_prefix(&s[start..]) {
        return Some(v);
    }
    let t = std::str::from_utf8(&s[start..]).ok()?;
    // The longest prefix that parses; numbers are short, so 64 bytes bound the search.
    let max = t.len().min(64);
    (1..=max)
        .rev()
        .filter(|&n| t.is_char_boundary(n))
        .find_map(|n| {
            let p = &t[..n];
            // Rust accepts "infinity"/"nan" words and a leading `+` as strtod does; a trailing
            // `.` or `e` alone it rejects, and the shorter prefix is then taken.
            p.parse::<f64>().ok()
        })
}

/// strtod's hexadecimal form: a sign, `0x`, hex digits with an optional point, an optional
/// binary exponent `p[+-]N`. `None` unless a hex digit follows the `0x`.
fn hex_prefix(s: &[u8]) -> Option<f64> {
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let body = s.strip_prefix(b"0x").or_else(|| s.strip_prefix(b"0X"))?;
    let digit = |b: &u8| char::from(*b).to_digit(16);
    let mut i = 0;
    let (mut v, mut scale, mut any, mut point) = (0f64, 0i32, false, false);
    while let Some(&b) = body.get(i) {
        if b == b'.' && !point {
            point = true;
        } else if let Some(d) = digit(&b) {
            v = v * 16.0 + f64::from(d);
            any = true;
            if point {
                scale -= 4;
            }
        } else {
            break;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if let Some(b'p' | b'P') = body.get(i) {
        let rest = &body[i + 1..];
        let (eneg, rest) = match rest.first() {
            Some(b'-') => (true, &rest[1..]),
            Some(b'+') => (false, &rest[1..]),
            _ => (false, rest),
        };
        let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if n > 0 {
            let e: i32 = std::str::from_utf8(&rest[..n.min(9)])
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            scale = scale.saturating_add(if eneg { -e } else { e });
        }
    }
    let v = v * 2f64.powi(scale);
    Some(if neg { -v } else { v })
}

fn human_value(s: &[u8]) -> (i32, f64) {
    let v = num_prefix(s);
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    let rest = &s[start..];
    let mut i = usize::from(rest.first() == Some(&b'-'));
    while i < rest.len() && (rest[i].is_ascii_digit() || rest[i] == b'.') {
        i += 1;
    }
    // GNU orders by the suffix first (none < K < M < G ...), then by the number.
    let power = match rest.get(i) {
        Some(b'k' | b'K') => 1,
        Some(b'M') => 2,
        Some(b'G') => 3,
        Some(b'T') => 4,
        Some(b'P') => 5,
        Some(b'E') => 6,
        Some(b'Z') => 7,
        Some(b'Y') => 8,
        _ => 0,
    };
    // A number with no non-zero digit has no unit (GNU's `max_digit > '0'`).
    let sign = if v < 0.0 { -1 } else { 1 };
    (if v == 0.0 { 0 } else { sign * power }, v)
}

/// `-M`: 1..=12 for a month name's first three letters (after blanks, any case), 0 otherwise.
fn month(s: &[u8]) -> u8 {
    const MONTHS: [&[u8; 3]; 12] = [
        b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT", b"NOV",
        b"DEC",
    ];
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    let t = &s[start..];
    if t.len() < 3 {
        return 0;
    }
    let head = [
        t[0].to_ascii_uppercase(),
        t[1].to_ascii_uppercase(),
        t[2].to_ascii_uppercase(),
    ];
    MONTHS
        .iter()
        .position(|m| **m == head)
        .map_or(0, |i| i as u8 + 1)
}

/// gnulib's `order` for version comparison: digits 0, letters themselves, `~` first, the rest
/// after every letter.
fn ver_order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// gnulib's `verrevcmp`: non-digit runs by [`ver_order`], digit runs by value.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = ver_order(a.get(i).copied());
            let bc = ver_order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// gnulib's `file_prefixlen`: the length without file suffixes (`.tar.gz`: a `.` then a
/// letter or `~`, then letters, digits and `~`).
fn file_prefixlen(s: &[u8]) -> usize {
    let n = s.len();
    let mut prefix = 0;
    let mut i = 0;
    loop {
        if i == n {
            return prefix;
        }
        i += 1;
        prefix = i;
        while i + 1 < n && s[i] == b'.' && (s[i + 1].is_ascii_alphabetic() || s[i + 1] == b'~') {
            i += 2;
            while i < n && (s[i].is_ascii_alphanumeric() || s[i] == b'~') {
                i += 1;
            }
        }
    }
}

/// gnulib's `filevercmp`, which `sort -V` uses.
fn filevercmp(a: &[u8], b: &[u8]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        _ => {}
    }
    // "." first, then "..", then other names with a leading dot, then the rest.
    if a[0] == b'.' {
        if b[0] != b'.' {
            return Ordering::Less;
        }
        for special in [&b"."[..], &b".."[..]] {
            match (a == special, b == special) {
                (true, true) => return Ordering::Equal,
                (true, false) => return Ordering::Less,
                (false, true) => return Ordering::Greater,
                _ => {}
            }
        }
    } else if b[0] == b'.' {
        return Ordering::Greater;
    }
    let (ap, bp) = (file_prefixlen(a), file_prefixlen(b));
    let first = verrevcmp(&a[..ap], &b[..bp]);
    if first != Ordering::Equal || (ap == a.len() && bp == b.len()) {
        return first;
    }
    verrevcmp(a, b)
}

/// The key's bytes after `-d` (blanks and alphanumerics only) and `-i` (printable only).
fn filtered<'a>(s: &'a [u8], k: &SortKey) -> std::borrow::Cow<'a, [u8]> {
    if !(k.dictionary || k.printable) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.iter()
            .copied()
            .filter(|&c| {
                (!k.dictionary || is_blank(c) || c.is_ascii_alphanumeric())
                    && (!k.printable || (0x20..0x7f).contains(&c))
            })
            .collect(),
    )
}

fn cmp_key(a: &[u8], b: &[u8], k: &SortKey, seed: &std::hash::RandomState) -> Ordering {
    let (a, b) = if k.blanks {
        let trim =
            |s: &'_ [u8]| -> usize { s.iter().position(|&c| !is_blank(c)).unwrap_or(s.len()) };
        (&a[trim(a)..], &b[trim(b)..])
    } else {
        (a, b)
    };
    let o = match k.order {
        Order::Numeric => num_prefix(a)
            .partial_cmp(&num_prefix(b))
            .unwrap_or(Ordering::Equal),
        Order::General => match (general_prefix(a), general_prefix(b)) {
            // Not a number sorts first, then NaN, then the numbers.
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => match (x.is_nan(), y.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            },
        },
        Order::Human => {
            let (x, y) = (human_value(a), human_value(b));
            x.0.cmp(&y.0)
                .then(x.1.partial_cmp(&y.1).unwrap_or(Ordering::Equal))
        }
        Order::Month => month(a).cmp(&month(b)),
        Order::Version => filevercmp(a, b),
        Order::Random => {
            let (fa, fb) = (filtered(a, k), filtered(b, k));
            let h = |s: &[u8]| {
                if k.fold {
                    seed.hash_one(s.to_ascii_uppercase())
                } else {
                    seed.hash_one(s)
                }
            };
            h(&fa).cmp(&h(&fb))
        }
        Order::Text => {
            let (fa, fb) = (filtered(a, k), filtered(b, k));
            if k.fold {
                let up = |c: &u8| c.to_ascii_uppercase();
                fa.iter().map(up).cmp(fb.iter().map(up))
            } else {
                fa.cmp(&fb)
            }
        }
    };
    if k.reverse { o.reverse() } else { o }
}

const SORT: Spec = Spec::new(
    "sort",
    "bcCdfghik:mMnrRsS:t:o:uT:Vz",
    &[
        ("ignore-leading-blanks", 'b', Arg::No),
        ("check", 'c', Arg::Optional),
        ("dictionary-order", 'd', Arg::No),
        ("ignore-case", 'f', Arg::No),
        ("general-numeric-sort", 'g', Arg::No),
        ("human-numeric-sort", 'h', Arg::No),
        ("ignore-nonprinting", 'i', Arg::No),
        ("key", 'k', Arg::Required),
        ("month-sort", 'M', Arg::No),
        ("numeric-sort", 'n', Arg::No),
        ("reverse", 'r', Arg::No),
        ("random-sort", 'R', Arg::No),
        ("stable", 's', Arg::No),
        ("buffer-size", 'S', Arg::Required),
        ("field-separator", 't', Arg::Required),
        ("output", 'o', Arg::Required),
        ("unique", 'u', Arg::No),
        ("temporary-directory", 'T', Arg::Required),
        ("version-sort", 'V', Arg::No),
        ("zero-terminated", 'z', Arg::No),
        ("merge", 'm', Arg::No),
        ("parallel", 'P', Arg::Required),
    ],
)
.gnu(
    "bcCdfghik:mMno:rRsS:t:T:uVy:z",
    &[
        "random-source",
        "sort",
        "batch-size",
        "compress-program",
        "debug",
        "files0-from",
        "merge",
        "parallel",
        "help",
        "version",
    ],
)
.status(2);

pub(super) fn sort(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&SORT, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut global = SortKey {
        start_field: 1,
        ..Default::default()
    };
    let mut keys: Vec<SortKey> = Vec::new();
    let mut sep: Option<u8> = None;
    let mut unique = false;
    let mut stable = false;
    let mut zero = false;
    let mut output: Option<String> = None;
    let mut check = false;
    let mut merge = false;
    let mut orders = String::new();
    for (c, v) in &flags {
        match c {
            'n' | 'g' | 'h' | 'M' | 'V' | 'R' => {
                if !orders.contains(*c) {
                    orders.push(*c);
                }
                global.set(*c);
            }
            'r' | 'f' | 'b' | 'd' | 'i' => {
                global.set(*c);
            }
            'u' => unique = true,
            's' => stable = true,
            'z' => zero = true,
            'c' | 'C' => check = true,
            'S' | 'T' => {}
            'm' => merge = true,
            // Threads change nothing in the output; GNU only checks the number.
            'P' => {
                let v = v.as_deref().unwrap_or("");
                match v.trim_start().parse::<u64>() {
                    Ok(0) => {
                        ctx.warn("sort", "number in parallel must be nonzero");
                        return Ok(2);
                    }
                    Ok(_) => {}
                    Err(_) => {
                        ctx.warn("sort", format!("invalid --parallel argument '{v}'"));
                        return Ok(2);
                    }
                }
            }
            'o' => output = v.clone(),
            't' => {
                let v = v.clone().unwrap_or_default();
                if v.len() != 1 {
                    ctx.warn("sort", "multi-character tab ‘".to_owned() + &v + "’");
                    return Ok(2);
                }
                sep = v.bytes().next();
            }
            _ => match parse_key(v.as_deref().unwrap_or("")) {
                Some(k) => keys.push(k),
                None => {
                    ctx.warn(
                        "sort",
                        format!(
                            "invalid number at field start: invalid count at start of ‘{}’",
                            v.as_deref().unwrap_or("")
                        ),
                    );
                    return Ok(2);
                }
            },
        }
    }
    if orders.len() > 1 {
        // GNU names the options in its own order.
        let mut names: Vec<char> = orders.chars().collect();
        names.sort_by_key(|c| "ghMnRV".find(*c));
        let list: String = names.into_iter().collect();
        ctx.warn("sort", format!("options '-{list}' are incompatible"));
        return Ok(2);
    }
    // Keys without their own options inherit the global ones.
    for k in &mut keys {
        if !k.has_options() {
            k.order = global.order;
            k.reverse = global.reverse;
            k.fold = global.fold;
            k.blanks = global.blanks;
            k.dictionary = global.dictionary;
            k.printable = global.printable;
        }
    }
    let eol = if zero { b'\0' } else { b'\n' };
    let mut inputs = Vec::new();
    if files.is_empty() {
        inputs.push(ctx.stdin.take_all().to_vec());
    }
    for f in &files {
        match ctx.read_operand(f) {
            Ok(d) => inputs.push(d.as_ref().clone()),
            Err(crate::vfs::FsError::IsDir) => {
                ctx.warn("sort", format!("read failed: {f}: Is a directory"));
                return Ok(2);
            }
            Err(e) => {
                ctx.warn("sort", format!("cannot read: {f}: {e}"));
                return Ok(2);
            }
        }
    }
    let mut all: Vec<u8> = Vec::new();
    // How many lines each input holds, for -m.
    let mut counts: Vec<usize> = Vec::with_capacity(inputs.len());
    for d in &inputs {
        all.extend_from_slice(d);
        if !all.is_empty() && all.last() != Some(&eol) {
            all.push(eol);
        }
        let n = memchr::memchr_iter(eol, d).count();
        counts.push(n + usize::from(d.last().is_some_and(|&b| b != eol)));
    }
    let _held = super::sink::hold(ctx, all.len() + all.len() / 4)?;
    let mut ls: Vec<&[u8]> = all.split(|b| *b == eol).collect();
    if ls.last().is_some_and(|l| l.is_empty()) {
        ls.pop();
    }
    let seed = std::hash::RandomState::new();
    let whole_key = global.order != Order::Text
        || global.fold
        || global.blanks
        || global.dictionary
        || global.printable;
    let compare = |a: &&[u8], b: &&[u8]| -> Ordering {
        if !keys.is_empty() {
            for k in &keys {
                let o = cmp_key(key_slice(a, k, sep), key_slice(b, k, sep), k, &seed);
                if o != Ordering::Equal {
                    return o;
                }
            }
        } else if whole_key {
            let o = cmp_key(a, b, &global, &seed);
            if o != Ordering::Equal {
                return o;
            }
        } else {
            let o = a.cmp(b);
            return if global.reverse { o.reverse() } else { o };
        }
        if stable || unique {
            return Ordering::Equal;
        }
        let o = a.cmp(b);
        if global.reverse { o.reverse() } else { o }
    };
    if check {
        for (i, w) in ls.windows(2).enumerate() {
            let bad = if unique {
                compare(&w[0], &w[1]) != Ordering::Less
            } else {
                compare(&w[0], &w[1]) == Ordering::Greater
            };
            if bad {
                let shown = String::from_utf8_lossy(w[1]).into_owned();
                let name = files.first().map(String::as_str).unwrap_or("-");
                ctx.warn("sort", format!("{name}:{}: disorder: {shown}", i + 2));
                return Ok(1);
            }
        }
        return Ok(0);
    }
    if merge {
        ls = merge_runs(&ls, &counts, &compare);
    } else {
        ls.sort_by(compare);
    }
    if unique {
        ls.dedup_by(|a, b| compare(a, b) == Ordering::Equal);
    }
    let mut out = Vec::with_capacity(all.len());
    for l in ls {
        out.extend_from_slice(l);
        out.push(eol);
    }
    match output {
        Some(o) => {
            if let Err(e) = ctx.write_named(&o, &out, false) {
                ctx.warn("sort", format!("open failed: {o}: {e}"));
                return Ok(2);
            }
        }
        None => ctx.io.out(&out),
    }
    Ok(0)
}

/// `sort -m`: the inputs' lines (`counts` per input, in order) merged as GNU merges them, so
/// an input that is not sorted gives GNU's order too: the input whose current line is smallest
/// (the earlier input on a tie) gives the next line, then goes back among the others by its new
/// current line.
fn merge_runs<'a>(
    ls: &[&'a [u8]],
    counts: &[usize],
    compare: &dyn Fn(&&[u8], &&[u8]) -> Ordering,
) -> Vec<&'a [u8]> {
    let mut cursors: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for &n in counts {
        if n > 0 {
            cursors.push((start, start + n));
        }
        start += n;
    }
    // (input, position): ordered by line, then by input.
    let before = |a: &(usize, usize), b: &(usize, usize)| -> bool {
        match compare(&ls[a.1], &ls[b.1]) {
            Ordering::Less => true,
            Ordering::Equal => a.0 < b.0,
            Ordering::Greater => false,
        }
    };
    let mut ord: Vec<(usize, usize)> = Vec::new();
    for (k, &(s, _)) in cursors.iter().enumerate() {
        let at = ord
            .iter()
            .position(|o| before(&(k, s), o))
            .unwrap_or(ord.len());
        ord.insert(at, (k, s));
    }
    let mut out = Vec::with_capacity(ls.len());
    while !ord.is_empty() {
        let (k, pos) = ord.remove(0);
        out.push(ls[pos]);
        if pos + 1 < cursors[k].1 {
            let next = (k, pos + 1);
            let at = ord
                .iter()
                .position(|o| before(&next, o))
                .unwrap_or(ord.len());
            ord.insert(at, next);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_order_is_gnu_filevercmp() {
        let mut v: Vec<&[u8]> = vec![
            b"f10",
            b"f2",
            b"v1.10",
            b"v1.9",
            b"a.tar.gz",
            b"a-1.0~rc1",
            b"a-1.0",
        ];
        v.sort_by(|a, b| filevercmp(a, b));
        assert_eq!(
            v,
            // As GNU sort -V orders them (coreutils 9.1).
            vec![
                &b"a.tar.gz"[..],
                b"a-1.0~rc1",
                b"a-1.0",
                b"f2",
                b"f10",
                b"v1.9",
                b"v1.10"
            ]
        );
    }

    #[test]
    fn numbers_as_gnu_reads_them() {
        assert_eq!(num_prefix(b" 1.5.3"), 1.5);
        assert_eq!(num_prefix(b"+5"), 0.0);
        assert_eq!(general_prefix(b"1e3x"), Some(1000.0));
        assert_eq!(general_prefix(b"abc"), None);
        assert_eq!(month(b" feb"), 2);
        assert!(human_value(b"2K") > human_value(b"1000"));
    }
}
