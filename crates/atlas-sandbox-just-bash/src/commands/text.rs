//! Text filters with GNU coreutils output: cat head tail wc sort uniq cut tr tee tac rev nl seq.

use std::cmp::Ordering;

use super::{Ctx, or_stdin, parse_flags};
use crate::interp::R;
use crate::vfs::Kind;

fn usage(ctx: &mut Ctx<'_, '_>, cmd: &str, msg: &str) -> R<i32> {
    ctx.warn(cmd, msg);
    ctx.io
        .errln(&format!("Try '{cmd} --help' for more information."));
    Ok(1)
}

/// Splits into lines keeping the terminator, so a missing final newline survives.
fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|b| *b == b'\n').collect()
}

fn strip_nl(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\n").unwrap_or(l)
}

/// GNU's line numbers (`cat -n`, `cat -b`, `nl`): six wide and a tab, counting on from `n`.
/// With `skip_blank` an empty line takes `blank_prefix` and no number.
fn number_lines(
    out: &mut Vec<u8>,
    data: &[u8],
    n: &mut u64,
    skip_blank: bool,
    blank_prefix: &[u8],
) {
    for l in lines(data) {
        if skip_blank && strip_nl(l).is_empty() {
            out.extend_from_slice(blank_prefix);
            out.extend_from_slice(l);
            continue;
        }
        *n += 1;
        out.extend_from_slice(format!("{n:>6}\t").as_bytes());
        out.extend_from_slice(l);
    }
}

pub(super) fn cat(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match parse_flags(args, "") {
        Ok(x) => x,
        Err(e) => return usage(ctx, "cat", &e),
    };
    let number = flags.iter().any(|(c, _)| *c == 'n');
    let number_nonblank = flags.iter().any(|(c, _)| *c == 'b');
    let files = or_stdin(files);
    let mut st = 0;
    let mut n = 0u64;
    for f in &files {
        ctx.sh.tick()?;
        let data = match ctx.read_operand(f) {
            Ok(d) => d,
            Err(e) => {
                ctx.warn("cat", format!("{f}: {e}"));
                st = 1;
                continue;
            }
        };
        if !number && !number_nonblank {
            ctx.io.out(&data);
            continue;
        }
        let mut out = Vec::with_capacity(data.len() + data.len() / 8);
        number_lines(&mut out, &data, &mut n, number_nonblank, b"");
        ctx.io.out(&out);
    }
    Ok(st)
}

/// `-n 5`, `-5`, `-n -5`, `-n +5`, `--lines=5`: normalises the legacy `-5` form first.
fn count_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut takes_value = false;
    for a in args {
        if takes_value {
            out.push(a.clone());
            takes_value = false;
            continue;
        }
        if a == "-n" || a == "-c" {
            takes_value = true;
            out.push(a.clone());
            continue;
        }
        if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| c.is_ascii_digit()) {
            out.push("-n".to_owned());
            out.push(a[1..].to_owned());
        } else if let Some(v) = a.strip_prefix("--lines=") {
            out.push("-n".to_owned());
            out.push(v.to_owned());
        } else if let Some(v) = a.strip_prefix("--bytes=") {
            out.push("-c".to_owned());
            out.push(v.to_owned());
        } else {
            out.push(a.clone());
        }
    }
    out
}

fn parse_count(s: &str) -> Option<(i64, bool)> {
    // Returns (count, from_start_or_negative marker).
    let (sign, body) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => (0, s),
    };
    let (num, mult) = match body.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => {
            let m = match &body[i..] {
                "b" => 512,
                "k" | "K" | "KiB" => 1024,
                "kB" => 1000,
                "M" | "MiB" => 1024 * 1024,
                "MB" => 1000 * 1000,
                "G" | "GiB" => 1 << 30,
                _ => return None,
            };
            (&body[..i], m)
        }
        None => (body, 1),
    };
    let n: i64 = num.parse().ok()?;
    Some((
        n.saturating_mul(mult) * if sign == -1 { -1 } else { 1 },
        sign == 1,
    ))
}

/// A `-n`/`-c` count, or `None` after saying why it is not one.
fn count_value(
    ctx: &mut Ctx<'_, '_>,
    cmd: &str,
    what: &str,
    v: &Option<String>,
) -> Option<(i64, bool)> {
    let count = v.as_deref().and_then(parse_count);
    if count.is_none() {
        ctx.warn(
            cmd,
            format!("invalid number of {what}: ‘{}’", v.as_deref().unwrap_or("")),
        );
    }
    count
}

/// The body `head` and `tail` share: each file cut by `pick`, under a `==> name <==` header
/// when there are several (or `-v`) unless `-q`.
fn print_cut_files(
    ctx: &mut Ctx<'_, '_>,
    cmd: &str,
    files: Vec<String>,
    quiet: bool,
    verbose: bool,
    pick: impl Fn(&[u8]) -> &[u8],
) -> R<i32> {
    let files = or_stdin(files);
    let headers = (files.len() > 1 || verbose) && !quiet;
    let mut st = 0;
    let mut first = true;
    for f in &files {
        let data = match ctx.read_operand(f) {
            Ok(d) => d,
            Err(e) => {
                ctx.warn(cmd, format!("cannot open '{f}' for reading: {e}"));
                st = 1;
                continue;
            }
        };
        if headers {
            let name = if f == "-" { "standard input" } else { f };
            let sep = if first { "" } else { "\n" };
            ctx.io.out(format!("{sep}==> {name} <==\n").as_bytes());
        }
        first = false;
        ctx.io.out(pick(&data));
    }
    Ok(st)
}

pub(super) fn head(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let args = count_args(args);
    let (flags, files) = match parse_flags(&args, "nc") {
        Ok(x) => x,
        Err(e) => return usage(ctx, "head", &e),
    };
    let mut lines_n: i64 = 10;
    let mut bytes: Option<i64> = None;
    let mut quiet = false;
    let mut verbose = false;
    for (c, v) in &flags {
        match c {
            'n' => match count_value(ctx, "head", "lines", v) {
                Some((n, _)) => lines_n = n,
                None => return Ok(1),
            },
            'c' => match count_value(ctx, "head", "bytes", v) {
                Some((n, _)) => bytes = Some(n),
                None => return Ok(1),
            },
            'q' => quiet = true,
            'v' => verbose = true,
            other => return usage(ctx, "head", &format!("invalid option -- '{other}'")),
        }
    }
    print_cut_files(ctx, "head", files, quiet, verbose, |data| match bytes {
        Some(n) if n >= 0 => &data[..(n as usize).min(data.len())],
        Some(n) => &data[..data.len().saturating_sub((-n) as usize)],
        None => {
            if lines_n >= 0 {
                let mut end = 0;
                let mut count = 0;
                for i in memchr::memchr_iter(b'\n', data) {
                    if count == lines_n {
                        break;
                    }
                    count += 1;
                    end = i + 1;
                }
                if count < lines_n {
                    end = data.len();
                }
                &data[..end]
            } else {
                let ls = lines(data);
                let keep = ls.len().saturating_sub((-lines_n) as usize);
                let end: usize = ls[..keep].iter().map(|l| l.len()).sum();
                &data[..end]
            }
        }
    })
}

pub(super) fn tail(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let args = count_args(args);
    let (flags, files) = match parse_flags(&args, "nc") {
        Ok(x) => x,
        Err(e) => return usage(ctx, "tail", &e),
    };
    let mut lines_n: (i64, bool) = (10, false);
    let mut bytes: Option<(i64, bool)> = None;
    let mut quiet = false;
    let mut verbose = false;
    for (c, v) in &flags {
        match c {
            'n' => match count_value(ctx, "tail", "lines", v) {
                Some(n) => lines_n = n,
                None => return Ok(1),
            },
            'c' => bytes = v.as_deref().and_then(parse_count),
            'q' => quiet = true,
            'v' => verbose = true,
            'f' | 'F' => {
                ctx.warn("tail", "-f is not supported in this sandbox");
                return Ok(2);
            }
            other => return usage(ctx, "tail", &format!("invalid option -- '{other}'")),
        }
    }
    print_cut_files(ctx, "tail", files, quiet, verbose, |data| match bytes {
        Some((n, true)) => &data[((n.max(1) - 1) as usize).min(data.len())..],
        Some((n, false)) => &data[data.len().saturating_sub(n.unsigned_abs() as usize)..],
        None => {
            let (n, from_start) = lines_n;
            let ls = lines(data);
            let start = if from_start {
                ((n.max(1) - 1) as usize).min(ls.len())
            } else {
                ls.len().saturating_sub(n.unsigned_abs() as usize)
            };
            let skip: usize = ls[..start].iter().map(|l| l.len()).sum();
            &data[skip..]
        }
    })
}

pub(super) fn wc(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut long_map = Vec::new();
    for a in args {
        match a.as_str() {
            "--lines" => long_map.push("-l".to_owned()),
            "--words" => long_map.push("-w".to_owned()),
            "--bytes" => long_map.push("-c".to_owned()),
            "--chars" => long_map.push("-m".to_owned()),
            "--max-line-length" => long_map.push("-L".to_owned()),
            _ => long_map.push(a.clone()),
        }
    }
    let (flags, files) = match parse_flags(&long_map, "") {
        Ok(x) => x,
        Err(e) => return usage(ctx, "wc", &e),
    };
    let mut show = [false; 5]; // lines words chars bytes maxlen
    for (c, _) in &flags {
        match c {
            'l' => show[0] = true,
            'w' => show[1] = true,
            'm' => show[2] = true,
            'c' => show[3] = true,
            'L' => show[4] = true,
            other => return usage(ctx, "wc", &format!("invalid option -- '{other}'")),
        }
    }
    if !show.iter().any(|s| *s) {
        show = [true, true, false, true, false];
    }
    let nshown = show.iter().filter(|s| **s).count();
    let operands = files;
    let mut rows: Vec<([u64; 5], Option<String>)> = Vec::new();
    let mut st = 0;
    let mut any_nonregular = operands.is_empty();
    let mut regular_total: u64 = 0;
    let mut failed_first = false;
    let inputs = or_stdin(operands.clone());
    for (i, f) in inputs.iter().enumerate() {
        if f == "-" {
            any_nonregular = true;
        } else {
            let p = ctx.path(f);
            match ctx.sh.fs.stat(&p) {
                Ok(m) if m.kind == Kind::File => regular_total += m.size,
                Ok(_) => any_nonregular = true,
                Err(_) => {
                    if i == 0 {
                        failed_first = true;
                    }
                }
            }
        }
        let data = match ctx.read_operand(f) {
            Ok(d) => d,
            Err(e) => {
                ctx.warn("wc", format!("{f}: {e}"));
                st = 1;
                continue;
            }
        };
        let counts = count(&data);
        let name = if operands.is_empty() {
            None
        } else {
            Some(f.clone())
        };
        rows.push((counts, name));
    }
    // GNU: one count of one operand prints unpadded; otherwise the width is the digits of the
    // total size of regular operands (at least 7 when stdin or a non-regular file is counted).
    let width = if (inputs.len() == 1 && nshown == 1) || failed_first {
        1
    } else {
        let mut w = 1;
        let mut t = regular_total;
        while t >= 10 {
            t /= 10;
            w += 1;
        }
        if any_nonregular { w.max(7) } else { w }
    };
    let mut total = [0u64; 5];
    for (c, _) in &rows {
        for k in 0..4 {
            total[k] += c[k];
        }
        total[4] = total[4].max(c[4]);
    }
    let mut out = String::new();
    let mut emit = |c: &[u64; 5], name: Option<&str>| {
        let mut first = true;
        for k in [0, 1, 2, 3, 4] {
            if !show[k] {
                continue;
            }
            if !first {
                out.push(' ');
            }
            first = false;
            out.push_str(&format!("{:>width$}", c[k]));
        }
        if let Some(n) = name {
            out.push(' ');
            out.push_str(n);
        }
        out.push('\n');
    };
    for (c, name) in &rows {
        emit(c, name.as_deref());
    }
    if inputs.len() > 1 {
        emit(&total, Some("total"));
    }
    ctx.io.out(out.as_bytes());
    Ok(st)
}

fn count(data: &[u8]) -> [u64; 5] {
    let lines = memchr::memchr_iter(b'\n', data).count() as u64;
    let mut words = 0u64;
    let mut in_word = false;
    for &b in data {
        let ws = matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
        if ws {
            in_word = false;
        } else if !in_word {
            in_word = true;
            words += 1;
        }
    }
    let chars = String::from_utf8_lossy(data).chars().count() as u64;
    let mut maxlen = 0u64;
    for l in data.split(|b| *b == b'\n') {
        let mut w = 0u64;
        for c in String::from_utf8_lossy(l).chars() {
            if c == '\t' {
                w = (w / 8 + 1) * 8;
            } else {
                w += 1;
            }
        }
        maxlen = maxlen.max(w);
    }
    [lines, words, chars, data.len() as u64, maxlen]
}

#[derive(Debug, Clone, Default)]
struct SortKey {
    start_field: usize,
    start_char: usize,
    end_field: Option<usize>,
    end_char: usize,
    numeric: bool,
    reverse: bool,
    fold: bool,
    blanks: bool,
    human: bool,
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
            match o {
                'n' => k.numeric = true,
                'r' => k.reverse = true,
                'f' => k.fold = true,
                'b' => k.blanks = true,
                'h' => k.human = true,
                _ => return None,
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
                while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
                    i += 1;
                }
                while i < line.len() && line[i] != b' ' && line[i] != b'\t' {
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
        while s < line.len() && (line[s] == b' ' || line[s] == b'\t') {
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
                    while b < line.len() && (line[b] == b' ' || line[b] == b'\t') {
                        b += 1;
                    }
                }
                (b + k.end_char).min(ends[ei].max(b)).min(line.len())
            }
        }
    };
    if s >= e { &[] } else { &line[s..e] }
}

fn num_prefix(s: &[u8]) -> f64 {
    let t = std::str::from_utf8(s).unwrap_or("").trim_start();
    let mut end = 0;
    let b = t.as_bytes();
    if end < b.len() && (b[end] == b'-' || b[end] == b'+') {
        end += 1;
    }
    while end < b.len() && (b[end].is_ascii_digit() || b[end] == b'.') {
        end += 1;
    }
    t[..end].parse().unwrap_or(0.0)
}

fn human_value(s: &[u8]) -> f64 {
    let t = std::str::from_utf8(s).unwrap_or("").trim();
    let v = num_prefix(t.as_bytes());
    let suffix = t
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
        .chars()
        .next();
    let m = match suffix {
        Some('K' | 'k') => 1e3,
        Some('M') => 1e6,
        Some('G') => 1e9,
        Some('T') => 1e12,
        _ => 1.0,
    };
    v * m
}

fn cmp_key(a: &[u8], b: &[u8], k: &SortKey) -> Ordering {
    let o = if k.numeric {
        num_prefix(a)
            .partial_cmp(&num_prefix(b))
            .unwrap_or(Ordering::Equal)
    } else if k.human {
        human_value(a)
            .partial_cmp(&human_value(b))
            .unwrap_or(Ordering::Equal)
    } else if k.fold {
        let fa: Vec<u8> = a.iter().map(|c| c.to_ascii_uppercase()).collect();
        let fb: Vec<u8> = b.iter().map(|c| c.to_ascii_uppercase()).collect();
        fa.cmp(&fb)
    } else {
        a.cmp(b)
    };
    if k.reverse { o.reverse() } else { o }
}

pub(super) fn sort(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut norm = Vec::new();
    for a in args {
        match a.as_str() {
            "--numeric-sort" => norm.push("-n".to_owned()),
            "--reverse" => norm.push("-r".to_owned()),
            "--unique" => norm.push("-u".to_owned()),
            "--ignore-case" => norm.push("-f".to_owned()),
            "--stable" => norm.push("-s".to_owned()),
            "--human-numeric-sort" => norm.push("-h".to_owned()),
            _ => {
                if let Some(v) = a.strip_prefix("--key=") {
                    norm.push("-k".to_owned());
                    norm.push(v.to_owned());
                } else if let Some(v) = a.strip_prefix("--field-separator=") {
                    norm.push("-t".to_owned());
                    norm.push(v.to_owned());
                } else {
                    norm.push(a.clone());
                }
            }
        }
    }
    let (flags, files) = match parse_flags(&norm, "ktoS") {
        Ok(x) => x,
        Err(e) => return usage(ctx, "sort", &e),
    };
    let mut global = SortKey {
        start_field: 1,
        ..Default::default()
    };
    let mut keys: Vec<SortKey> = Vec::new();
    let mut sep: Option<u8> = None;
    let mut unique = false;
    let mut stable = false;
    let mut output: Option<String> = None;
    let mut check = false;
    for (c, v) in &flags {
        match c {
            'n' => global.numeric = true,
            'r' => global.reverse = true,
            'f' => global.fold = true,
            'b' => global.blanks = true,
            'h' => global.human = true,
            'u' => unique = true,
            's' => stable = true,
            'c' | 'C' => check = true,
            'V' | 'g' | 'M' => global.numeric = global.numeric || *c == 'g',
            'S' | 'T' => {}
            'o' => output = v.clone(),
            't' => {
                let v = v.clone().unwrap_or_default();
                if v.len() != 1 {
                    ctx.warn("sort", "multi-character tab ‘".to_owned() + &v + "’");
                    return Ok(2);
                }
                sep = v.bytes().next();
            }
            'k' => match parse_key(v.as_deref().unwrap_or("")) {
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
            other => {
                ctx.warn("sort", format!("invalid option -- '{other}'"));
                ctx.io.errln("Try 'sort --help' for more information.");
                return Ok(2);
            }
        }
    }
    // Keys without their own options inherit the global ones.
    for k in &mut keys {
        if !(k.numeric || k.reverse || k.fold || k.blanks || k.human) {
            k.numeric = global.numeric;
            k.reverse = global.reverse;
            k.fold = global.fold;
            k.blanks = global.blanks;
            k.human = global.human;
        }
    }
    let mut inputs = Vec::new();
    if files.is_empty() {
        inputs.push(ctx.stdin.take_all().to_vec());
    }
    for f in &files {
        match ctx.read_operand(f) {
            Ok(d) => inputs.push(d.as_ref().clone()),
            Err(e) => {
                ctx.warn("sort", format!("cannot read: {f}: {e}"));
                return Ok(2);
            }
        }
    }
    let mut all: Vec<u8> = Vec::new();
    for d in &inputs {
        all.extend_from_slice(d);
        if !all.is_empty() && !all.ends_with(b"\n") {
            all.push(b'\n');
        }
    }
    let mut ls: Vec<&[u8]> = all.split(|b| *b == b'\n').collect();
    if ls.last().is_some_and(|l| l.is_empty()) {
        ls.pop();
    }
    let whole_key = global.numeric || global.fold || global.human || global.blanks;
    let compare = |a: &&[u8], b: &&[u8]| -> Ordering {
        if !keys.is_empty() {
            for k in &keys {
                let o = cmp_key(key_slice(a, k, sep), key_slice(b, k, sep), k);
                if o != Ordering::Equal {
                    return o;
                }
            }
        } else if whole_key {
            let o = cmp_key(a, b, &global);
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
        for w in ls.windows(2) {
            if compare(&w[0], &w[1]) == Ordering::Greater {
                let shown = String::from_utf8_lossy(w[1]).into_owned();
                let name = files.first().map(String::as_str).unwrap_or("-");
                ctx.warn("sort", format!("{name}:{}: disorder: {shown}", 2));
                return Ok(1);
            }
        }
        return Ok(0);
    }
    ls.sort_by(compare);
    if unique {
        ls.dedup_by(|a, b| compare(a, b) == Ordering::Equal);
    }
    let mut out = Vec::with_capacity(all.len());
    for l in ls {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    match output {
        Some(o) => {
            let p = ctx.path(&o);
            if let Err(e) = ctx.sh.fs.write(&p, &out, false) {
                ctx.warn("sort", format!("open failed: {o}: {e}"));
                return Ok(2);
            }
        }
        None => ctx.io.out(&out),
    }
    Ok(0)
}

pub(super) fn uniq(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match parse_flags(args, "fsw") {
        Ok(x) => x,
        Err(e) => return usage(ctx, "uniq", &e),
    };
    let (mut count, mut dups, mut uniques, mut icase) = (false, false, false, false);
    let mut skip_fields = 0usize;
    for (c, v) in &flags {
        match c {
            'c' => count = true,
            'd' => dups = true,
            'u' => uniques = true,
            'i' => icase = true,
            'f' => skip_fields = v.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0),
            's' | 'w' => {}
            other => return usage(ctx, "uniq", &format!("invalid option -- '{other}'")),
        }
    }
    let input = files.first().cloned().unwrap_or_else(|| "-".to_owned());
    let data = match ctx.read_operand(&input) {
        Ok(d) => d,
        Err(e) => {
            ctx.warn("uniq", format!("{input}: {e}"));
            return Ok(1);
        }
    };
    let mut ls: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    if ls.last().is_some_and(|l| l.is_empty()) {
        ls.pop();
    }
    let key = |l: &[u8]| -> Vec<u8> {
        let mut s = l;
        for _ in 0..skip_fields {
            let t = s
                .iter()
                .position(|b| *b != b' ' && *b != b'\t')
                .unwrap_or(s.len());
            s = &s[t..];
            let e = s
                .iter()
                .position(|b| *b == b' ' || *b == b'\t')
                .unwrap_or(s.len());
            s = &s[e..];
        }
        if icase {
            s.to_ascii_lowercase()
        } else {
            s.to_vec()
        }
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < ls.len() {
        let k = key(ls[i]);
        let mut j = i + 1;
        while j < ls.len() && key(ls[j]) == k {
            j += 1;
        }
        let n = j - i;
        let show = (!dups || n > 1) && (!uniques || n == 1);
        if show {
            if count {
                out.extend_from_slice(format!("{n:>7} ").as_bytes());
            }
            out.extend_from_slice(ls[i]);
            out.push(b'\n');
        }
        i = j;
    }
    match files.get(1) {
        Some(o) => {
            let p = ctx.path(o);
            if let Err(e) = ctx.sh.fs.write(&p, &out, false) {
                ctx.warn("uniq", format!("{o}: {e}"));
                return Ok(1);
            }
        }
        None => ctx.io.out(&out),
    }
    Ok(0)
}

fn parse_ranges(spec: &str) -> Option<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    for part in spec.split(',') {
        if part.is_empty() {
            return None;
        }
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => {
                let a = if a.is_empty() { 1 } else { a.parse().ok()? };
                let b = if b.is_empty() {
                    usize::MAX
                } else {
                    b.parse().ok()?
                };
                (a, b)
            }
            None => {
                let n = part.parse().ok()?;
                (n, n)
            }
        };
        if a == 0 || b < a {
            return None;
        }
        out.push((a, b));
    }
    Some(out)
}

pub(super) fn cut(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut norm = Vec::new();
    let mut complement = false;
    let mut out_delim: Option<String> = None;
    for a in args {
        if a == "--complement" {
            complement = true;
        } else if let Some(v) = a.strip_prefix("--output-delimiter=") {
            out_delim = Some(v.to_owned());
        } else if let Some(v) = a.strip_prefix("--delimiter=") {
            norm.push("-d".to_owned());
            norm.push(v.to_owned());
        } else if let Some(v) = a.strip_prefix("--fields=") {
            norm.push("-f".to_owned());
            norm.push(v.to_owned());
        } else {
            norm.push(a.clone());
        }
    }
    let (flags, files) = match parse_flags(&norm, "dfcb") {
        Ok(x) => x,
        Err(e) => return usage(ctx, "cut", &e),
    };
    let mut delim = b'\t';
    let mut fields: Option<Vec<(usize, usize)>> = None;
    let mut chars: Option<Vec<(usize, usize)>> = None;
    let mut only_delim = false;
    for (c, v) in &flags {
        let v = v.clone().unwrap_or_default();
        match c {
            'd' => {
                if v.len() != 1 {
                    ctx.warn("cut", "the delimiter must be a single character");
                    ctx.io.errln("Try 'cut --help' for more information.");
                    return Ok(1);
                }
                delim = v.as_bytes()[0];
            }
            'f' => match parse_ranges(&v) {
                Some(r) => fields = Some(r),
                None => return usage(ctx, "cut", &format!("invalid field value ‘{v}’")),
            },
            'c' | 'b' => match parse_ranges(&v) {
                Some(r) => chars = Some(r),
                None => {
                    return usage(
                        ctx,
                        "cut",
                        &format!("invalid byte/character position ‘{v}’"),
                    );
                }
            },
            's' => only_delim = true,
            'n' => {}
            other => return usage(ctx, "cut", &format!("invalid option -- '{other}'")),
        }
    }
    if fields.is_none() && chars.is_none() {
        return usage(
            ctx,
            "cut",
            "you must specify a list of bytes, characters, or fields",
        );
    }
    let in_ranges =
        |r: &[(usize, usize)], i: usize| r.iter().any(|(a, b)| i >= *a && i <= *b) != complement;
    let (inputs, failed) = ctx.read_all("cut", &files);
    let mut out = Vec::new();
    for (_, data) in &inputs {
        for l in lines(data) {
            let nl = l.ends_with(b"\n");
            let body: &[u8] = strip_nl(l);
            if let Some(r) = &chars {
                for (i, b) in body.iter().enumerate() {
                    if in_ranges(r, i + 1) {
                        out.push(*b);
                    }
                }
            } else if let Some(r) = &fields {
                if !body.contains(&delim) {
                    if only_delim {
                        continue;
                    }
                    out.extend_from_slice(body);
                } else {
                    let od = out_delim
                        .clone()
                        .map(String::into_bytes)
                        .unwrap_or_else(|| vec![delim]);
                    let mut first = true;
                    for (i, f) in body.split(|b| *b == delim).enumerate() {
                        if in_ranges(r, i + 1) {
                            if !first {
                                out.extend_from_slice(&od);
                            }
                            first = false;
                            out.extend_from_slice(f);
                        }
                    }
                }
            }
            if nl || !body.is_empty() {
                out.push(b'\n');
            }
        }
    }
    ctx.io.out(&out);
    Ok(i32::from(failed))
}

fn expand_tr_set(s: &str) -> Result<Vec<u8>, String> {
    let b = crate::commands::unescape_ansi(s).into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'['
            && b.get(i + 1) == Some(&b':')
            && let Some(end) = b[i + 2..].windows(2).position(|w| w == b":]")
        {
            let class = std::str::from_utf8(&b[i + 2..i + 2 + end]).unwrap_or("");
            let range: Box<dyn Fn(u8) -> bool> = match class {
                "upper" => Box::new(|c: u8| c.is_ascii_uppercase()),
                "lower" => Box::new(|c: u8| c.is_ascii_lowercase()),
                "digit" => Box::new(|c: u8| c.is_ascii_digit()),
                "alpha" => Box::new(|c: u8| c.is_ascii_alphabetic()),
                "alnum" => Box::new(|c: u8| c.is_ascii_alphanumeric()),
                "space" => {
                    Box::new(|c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
                }
                "blank" => Box::new(|c: u8| c == b' ' || c == b'\t'),
                "punct" => Box::new(|c: u8| c.is_ascii_punctuation()),
                "xdigit" => Box::new(|c: u8| c.is_ascii_hexdigit()),
                "cntrl" => Box::new(|c: u8| c.is_ascii_control()),
                "print" => Box::new(|c: u8| (32..127).contains(&c)),
                "graph" => Box::new(|c: u8| (33..127).contains(&c)),
                _ => return Err(format!("invalid character class ‘{class}’")),
            };
            out.extend((0u8..=255).filter(|c| range(*c)));
            i += end + 4;
            continue;
        }
        if i + 2 < b.len() && b[i + 1] == b'-' {
            let (a, z) = (b[i], b[i + 2]);
            if z < a {
                return Err(format!(
                    "range-endpoints of ‘{}-{}’ are in reverse collating sequence order",
                    a as char, z as char
                ));
            }
            out.extend(a..=z);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    Ok(out)
}

pub(super) fn tr(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, sets) = match parse_flags(args, "") {
        Ok(x) => x,
        Err(e) => return usage(ctx, "tr", &e),
    };
    let (mut del, mut squeeze, mut comp) = (false, false, false);
    for (c, _) in &flags {
        match c {
            'd' => del = true,
            's' => squeeze = true,
            'c' | 'C' => comp = true,
            't' => {}
            other => return usage(ctx, "tr", &format!("invalid option -- '{other}'")),
        }
    }
    if sets.is_empty() {
        return usage(ctx, "tr", "missing operand");
    }
    let set1 = match expand_tr_set(&sets[0]) {
        Ok(s) => s,
        Err(e) => {
            ctx.warn("tr", e);
            return Ok(1);
        }
    };
    let set2 = match sets.get(1).map(|s| expand_tr_set(s)) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            ctx.warn("tr", e);
            return Ok(1);
        }
        None => None,
    };
    if !del && !squeeze && set2.is_none() {
        ctx.warn("tr", format!("missing operand after ‘{}’", sets[0]));
        ctx.io.errln("Two strings must be given when translating.");
        ctx.io.errln("Try 'tr --help' for more information.");
        return Ok(1);
    }
    let mut in1 = [false; 256];
    for c in &set1 {
        in1[*c as usize] = true;
    }
    if comp {
        for v in in1.iter_mut() {
            *v = !*v;
        }
    }
    let mut map: [u8; 256] = std::array::from_fn(|i| i as u8);
    if !del
        && let Some(s2) = &set2
        && !s2.is_empty()
    {
        let src: Vec<u8> = if comp {
            (0u8..=255).filter(|c| in1[*c as usize]).collect()
        } else {
            set1.clone()
        };
        for (i, c) in src.iter().enumerate() {
            map[*c as usize] = *s2.get(i).unwrap_or(s2.last().unwrap_or(c));
        }
    }
    let squeeze_set: [bool; 256] = {
        let mut s = [false; 256];
        let src = if del || set2.is_none() {
            None
        } else {
            set2.as_ref()
        };
        match src {
            Some(s2) => s2.iter().for_each(|c| s[*c as usize] = true),
            None => {
                for (i, v) in in1.iter().enumerate() {
                    s[i] = *v;
                }
            }
        }
        if del && let Some(s2) = &set2 {
            s = [false; 256];
            s2.iter().for_each(|c| s[*c as usize] = true);
        }
        s
    };
    let data = ctx.stdin.take_all().to_vec();
    let mut out = Vec::with_capacity(data.len());
    let mut last: Option<u8> = None;
    for b in data {
        if del && in1[b as usize] {
            continue;
        }
        let c = if del {
            b
        } else if in1[b as usize] {
            map[b as usize]
        } else {
            b
        };
        if squeeze && squeeze_set[c as usize] && last == Some(c) {
            continue;
        }
        out.push(c);
        last = Some(c);
    }
    ctx.io.out(&out);
    Ok(0)
}

pub(super) fn tee(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match parse_flags(args, "") {
        Ok(x) => x,
        Err(e) => return usage(ctx, "tee", &e),
    };
    let append = flags.iter().any(|(c, _)| *c == 'a');
    let data = ctx.stdin.take_all().to_vec();
    let mut st = 0;
    for f in &files {
        let p = ctx.path(f);
        if let Err(e) = ctx.sh.fs.write(&p, &data, append) {
            ctx.warn("tee", format!("{f}: {e}"));
            st = 1;
        }
    }
    ctx.io.out(&data);
    Ok(st)
}

pub(super) fn tac(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (inputs, failed) = ctx.read_all("tac", args);
    let mut out = Vec::new();
    for (_, d) in &inputs {
        let mut ls = lines(d);
        ls.reverse();
        for l in ls {
            out.extend_from_slice(l);
        }
    }
    ctx.io.out(&out);
    Ok(i32::from(failed))
}

pub(super) fn rev(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (inputs, failed) = ctx.read_all("rev", args);
    let mut out = String::new();
    for (_, d) in &inputs {
        for l in lines(d) {
            let s = String::from_utf8_lossy(strip_nl(l));
            out.extend(s.chars().rev());
            if l.ends_with(b"\n") {
                out.push('\n');
            }
        }
    }
    ctx.io.out(out.as_bytes());
    Ok(i32::from(failed))
}

pub(super) fn nl(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (inputs, failed) = ctx.read_all("nl", args);
    let mut out = Vec::new();
    let mut n = 0;
    for (_, d) in &inputs {
        number_lines(&mut out, d, &mut n, true, b"       ");
    }
    ctx.io.out(&out);
    Ok(i32::from(failed))
}

pub(super) fn seq(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut sep = "\n".to_owned();
    let mut nums = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-s" => {
                sep = args.get(i + 1).cloned().unwrap_or_default();
                i += 1;
            }
            s if s.starts_with("-s") => sep = s[2..].to_owned(),
            a => match a.parse::<i64>() {
                Ok(n) => nums.push(n),
                Err(_) => {
                    ctx.warn("seq", format!("invalid floating point argument: ‘{a}’"));
                    ctx.io.errln("Try 'seq --help' for more information.");
                    return Ok(1);
                }
            },
        }
        i += 1;
    }
    let (first, step, last) = match nums.as_slice() {
        [l] => (1, 1, *l),
        [f, l] => (*f, 1, *l),
        [f, s, l] => (*f, *s, *l),
        _ => return usage(ctx, "seq", "missing operand"),
    };
    if step == 0 {
        ctx.warn("seq", "invalid Zero increment value: ‘0’");
        return Ok(1);
    }
    let mut out = String::new();
    let mut v = first;
    let mut n = 0u64;
    while (step > 0 && v <= last) || (step < 0 && v >= last) {
        if n > 0 {
            out.push_str(&sep);
        }
        out.push_str(&v.to_string());
        n += 1;
        if n.is_multiple_of(4096) {
            ctx.sh.tick()?;
            if out.len() > ctx.sh.limits.max_output_bytes {
                break;
            }
        }
        v += step;
    }
    if n > 0 {
        out.push('\n');
    }
    ctx.io.out(out.as_bytes());
    Ok(0)
}
