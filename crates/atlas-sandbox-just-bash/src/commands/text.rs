//! Text filters with GNU coreutils output: cat head tail wc uniq cut tr tee tac rev nl seq.

use super::opts::{Arg, Spec};
use super::{Ctx, or_stdin};
use crate::interp::R;
use crate::vfs::Kind;

pub(super) fn usage(ctx: &mut Ctx<'_, '_>, cmd: &str, msg: &str) -> R<i32> {
    ctx.warn(cmd, msg);
    ctx.io
        .errln(&format!("Try '{cmd} --help' for more information."));
    Ok(1)
}

/// Splits into lines keeping the terminator, so a missing final newline survives.
fn lines(data: &[u8]) -> Vec<&[u8]> {
    lines_by(data, b'\n')
}

/// [`lines`] with another terminator (`-z`: NUL).
fn lines_by(data: &[u8], eol: u8) -> Vec<&[u8]> {
    data.split_inclusive(|b| *b == eol).collect()
}

fn strip_nl(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\n").unwrap_or(l)
}

const CAT: Spec = Spec::new(
    "cat",
    "AbeEnstTuv",
    &[
        ("show-all", 'A', Arg::No),
        ("number-nonblank", 'b', Arg::No),
        ("show-ends", 'E', Arg::No),
        ("number", 'n', Arg::No),
        ("squeeze-blank", 's', Arg::No),
        ("show-tabs", 'T', Arg::No),
        ("show-nonprinting", 'v', Arg::No),
    ],
);

/// What `cat`'s options ask for.
#[derive(Default)]
struct CatOpts {
    number: bool,
    nonblank: bool,
    ends: bool,
    tabs: bool,
    nonprinting: bool,
    squeeze: bool,
}

impl CatOpts {
    fn plain(&self) -> bool {
        !(self.number
            || self.nonblank
            || self.ends
            || self.tabs
            || self.nonprinting
            || self.squeeze)
    }
}

/// `cat -v`'s notation for one byte: `^X` for controls, `M-` for the high half, `^?` for DEL.
fn push_visible(out: &mut Vec<u8>, b: u8) {
    let low = if b >= 128 {
        out.extend_from_slice(b"M-");
        b - 128
    } else {
        b
    };
    match low {
        0..=31 => out.extend_from_slice(&[b'^', low + 64]),
        127 => out.extend_from_slice(b"^?"),
        _ => out.push(low),
    }
}

pub(super) fn cat(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&CAT, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut o = CatOpts::default();
    for (c, _) in &flags {
        match c {
            'A' => (o.nonprinting, o.ends, o.tabs) = (true, true, true),
            'b' => o.nonblank = true,
            'e' => (o.nonprinting, o.ends) = (true, true),
            'E' => o.ends = true,
            'n' => o.number = true,
            's' => o.squeeze = true,
            't' => (o.nonprinting, o.tabs) = (true, true),
            'T' => o.tabs = true,
            'v' => o.nonprinting = true,
            _ => {} // -u: unbuffered, nothing to do
        }
    }
    let files = or_stdin(files);
    let mut st = 0;
    let mut n = 0u64;
    // GNU carries the blank-line state across files (`-s` squeezes over a file boundary).
    let mut prev_blank = false;
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
        if o.plain() {
            ctx.io.out(&data);
            continue;
        }
        let mut out = Vec::with_capacity(data.len() + data.len() / 8);
        for l in lines(&data) {
            let body = strip_nl(l);
            let blank = body.is_empty() && l.len() == 1;
            if o.squeeze && blank && prev_blank {
                continue;
            }
            prev_blank = blank;
            if o.nonblank {
                if !body.is_empty() {
                    n += 1;
                    out.extend_from_slice(format!("{n:>6}\t").as_bytes());
                }
            } else if o.number {
                n += 1;
                out.extend_from_slice(format!("{n:>6}\t").as_bytes());
            }
            for &b in body {
                match b {
                    b'\t' if o.tabs => out.extend_from_slice(b"^I"),
                    b'\t' => out.push(b),
                    _ if o.nonprinting => push_visible(&mut out, b),
                    _ => out.push(b),
                }
            }
            if l.len() > body.len() {
                if o.ends {
                    out.push(b'$');
                }
                out.push(b'\n');
            }
        }
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
    prefix: bool,
    pick: impl Fn(&[u8]) -> &[u8],
) -> R<i32> {
    let files = or_stdin(files);
    let headers = (files.len() > 1 || verbose) && !quiet;
    let mut st = 0;
    let mut first = true;
    for f in &files {
        let data = match ctx.read_operand(f) {
            Ok(d) => d,
            // GNU opens a directory, prints its header, and fails on reading it.
            Err(crate::vfs::FsError::IsDir) => {
                if headers {
                    let sep = if first { "" } else { "\n" };
                    ctx.io.out(format!("{sep}==> {f} <==\n").as_bytes());
                    first = false;
                }
                ctx.warn(cmd, format!("error reading '{f}': Is a directory"));
                st = 1;
                continue;
            }
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
        let kept = pick(&data);
        ctx.io.out(kept);
        if prefix && f == "-" {
            // `{ head -1; head -1; } < file` prints two lines: GNU head seeks a regular file back
            // to just after what it printed.
            let unused = data.len() - kept.len();
            ctx.stdin.unread(unused);
        }
    }
    Ok(st)
}

const HEAD: Spec = Spec::new(
    "head",
    "c:n:qvz",
    &[
        ("bytes", 'c', Arg::Required),
        ("lines", 'n', Arg::Required),
        ("quiet", 'q', Arg::No),
        ("silent", 'q', Arg::No),
        ("verbose", 'v', Arg::No),
        ("zero-terminated", 'z', Arg::No),
    ],
)
.gnu("c:n:qvz", &["help", "version"]);

const TAIL: Spec = Spec::new(
    "tail",
    "c:n:qvfFz",
    &[
        ("bytes", 'c', Arg::Required),
        ("lines", 'n', Arg::Required),
        ("quiet", 'q', Arg::No),
        ("silent", 'q', Arg::No),
        ("verbose", 'v', Arg::No),
        ("follow", 'f', Arg::Optional),
        ("zero-terminated", 'z', Arg::No),
    ],
)
.gnu(
    "c:n:fFqs:vz",
    &[
        "max-unchanged-stats",
        "pid",
        "retry",
        "sleep-interval",
        "help",
        "version",
    ],
);

pub(super) fn head(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let args = count_args(args);
    let (flags, files) = match ctx.opts(&HEAD, &args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut lines_n: i64 = 10;
    let mut bytes: Option<i64> = None;
    let mut quiet = false;
    let mut verbose = false;
    let mut eol = b'\n';
    for (c, v) in &flags {
        match c {
            'z' => eol = b'\0',
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
    let prefix = bytes.map_or(lines_n >= 0, |n| n >= 0);
    print_cut_files(
        ctx,
        "head",
        files,
        quiet,
        verbose,
        prefix,
        |data| match bytes {
            Some(n) if n >= 0 => &data[..(n as usize).min(data.len())],
            Some(n) => &data[..data.len().saturating_sub((-n) as usize)],
            None => {
                if lines_n >= 0 {
                    let mut end = 0;
                    let mut count = 0;
                    for i in memchr::memchr_iter(eol, data) {
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
                    let ls = lines_by(data, eol);
                    let keep = ls.len().saturating_sub((-lines_n) as usize);
                    let end: usize = ls[..keep].iter().map(|l| l.len()).sum();
                    &data[..end]
                }
            }
        },
    )
}

pub(super) fn tail(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let raw = args;
    let args = count_args(args);
    let (flags, files) = match ctx.opts(&TAIL, &args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    // GNU takes the obsolete `-N` with one file only.
    if files.len() > 1
        && let Some(legacy) = raw.iter().enumerate().find_map(|(k, a)| {
            let value_of_option =
                k > 0 && matches!(raw[k - 1].as_str(), "-n" | "-c" | "--lines" | "--bytes");
            (!value_of_option
                && a.len() > 1
                && a.starts_with('-')
                && a[1..].bytes().all(|b| b.is_ascii_digit()))
            .then_some(a)
        })
    {
        ctx.warn(
            "tail",
            format!("option used in invalid context -- {}", &legacy[1..2]),
        );
        return Ok(1);
    }
    let mut lines_n: (i64, bool) = (10, false);
    let mut bytes: Option<(i64, bool)> = None;
    let mut quiet = false;
    let mut verbose = false;
    let mut eol = b'\n';
    for (c, v) in &flags {
        match c {
            'z' => eol = b'\0',
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
    print_cut_files(
        ctx,
        "tail",
        files,
        quiet,
        verbose,
        false,
        |data| match bytes {
            Some((n, true)) => &data[((n.max(1) - 1) as usize).min(data.len())..],
            Some((n, false)) => &data[data.len().saturating_sub(n.unsigned_abs() as usize)..],
            None => {
                let (n, from_start) = lines_n;
                let ls = lines_by(data, eol);
                let start = if from_start {
                    ((n.max(1) - 1) as usize).min(ls.len())
                } else {
                    ls.len().saturating_sub(n.unsigned_abs() as usize)
                };
                let skip: usize = ls[..start].iter().map(|l| l.len()).sum();
                &data[skip..]
            }
        },
    )
}

const WC: Spec = Spec::new(
    "wc",
    "clmwL",
    &[
        ("bytes", 'c', Arg::No),
        ("chars", 'm', Arg::No),
        ("lines", 'l', Arg::No),
        ("words", 'w', Arg::No),
        ("max-line-length", 'L', Arg::No),
    ],
)
.gnu("clLmw", &["files0-from", "total", "help", "version"]);

pub(super) fn wc(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&WC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
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
    let inputs = or_stdin(operands.clone());
    for f in &inputs {
        if f == "-" {
            any_nonregular = true;
        } else {
            let p = ctx.path(f);
            match ctx.sh.fs.stat(&p) {
                Ok(m) if m.kind == Kind::File => regular_total += m.size,
                Ok(_) => any_nonregular = true,
                // GNU leaves an operand it cannot stat out of the total, and still pads.
                Err(_) => {}
            }
        }
        let data = match ctx.read_operand(f) {
            Ok(d) => d,
            Err(e) => {
                ctx.warn("wc", format!("{f}: {e}"));
                st = 1;
                // GNU opens a directory and fails on reading it: it still prints a row of zeros.
                if matches!(e, crate::vfs::FsError::IsDir) {
                    let name = (!operands.is_empty()).then(|| f.clone());
                    rows.push(([0; 5], name));
                }
                continue;
            }
        };
        let counts = count(&data, super::grep::c_locale(ctx));
        let name = if operands.is_empty() {
            None
        } else {
            Some(f.clone())
        };
        rows.push((counts, name));
    }
    // GNU: one count of one operand prints unpadded; otherwise the width is the digits of the
    // total size of regular operands (at least 7 when stdin or a non-regular file is counted).
    let width = if inputs.len() == 1 && nshown == 1 {
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

/// `wc`'s five counts. Under the C locale (`c_locale`) a character is a byte, and as in
/// coreutils a byte that is neither printable nor a space neither starts nor ends a word and
/// takes no column.
fn count(data: &[u8], c_locale: bool) -> [u64; 5] {
    let lines = memchr::memchr_iter(b'\n', data).count() as u64;
    let mut words = 0u64;
    let mut in_word = false;
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    for &b in data {
        if is_ws(b) {
            in_word = false;
        } else if !in_word && (!c_locale || (0x21..0x7f).contains(&b)) {
            in_word = true;
            words += 1;
        }
    }
    let chars = if c_locale {
        data.len() as u64
    } else {
        String::from_utf8_lossy(data).chars().count() as u64
    };
    let mut maxlen = 0u64;
    for l in data.split(|b| *b == b'\n') {
        let mut w = 0u64;
        if c_locale {
            for &b in l {
                match b {
                    b'\t' => w = (w / 8 + 1) * 8,
                    0x20..=0x7e => w += 1,
                    _ => {}
                }
            }
        } else {
            for c in String::from_utf8_lossy(l).chars() {
                if c == '\t' {
                    w = (w / 8 + 1) * 8;
                } else {
                    w += 1;
                }
            }
        }
        maxlen = maxlen.max(w);
    }
    [lines, words, chars, data.len() as u64, maxlen]
}

const UNIQ: Spec = Spec::new(
    "uniq",
    "cdDf:is:uw:z",
    &[
        ("count", 'c', Arg::No),
        ("repeated", 'd', Arg::No),
        ("all-repeated", 'D', Arg::Optional),
        ("zero-terminated", 'z', Arg::No),
        ("skip-fields", 'f', Arg::Required),
        ("ignore-case", 'i', Arg::No),
        ("skip-chars", 's', Arg::Required),
        ("unique", 'u', Arg::No),
        ("check-chars", 'w', Arg::Required),
    ],
)
.gnu("cdDf:is:uw:z", &["group", "help", "version"]);

/// How `uniq -D` delimits groups.
#[derive(PartialEq)]
enum AllRepeated {
    None,
    Prepend,
    Separate,
}

pub(super) fn uniq(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&UNIQ, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let (mut count, mut dups, mut uniques, mut icase) = (false, false, false, false);
    let mut skip_fields = 0usize;
    let mut skip_chars = 0usize;
    let mut check_chars = usize::MAX;
    let mut all_repeated: Option<AllRepeated> = None;
    let mut eol = b'\n';
    for (c, v) in &flags {
        let n = || -> Result<usize, String> {
            let v = v.as_deref().unwrap_or_default();
            v.parse::<usize>().or_else(|e| match e.kind() {
                std::num::IntErrorKind::PosOverflow => Ok(usize::MAX),
                _ => Err(v.to_owned()),
            })
        };
        let what = match c {
            'f' => "number of fields to skip",
            's' => "number of bytes to skip",
            'w' => "number of bytes to compare",
            _ => "",
        };
        match c {
            'c' => count = true,
            'd' => dups = true,
            'u' => uniques = true,
            'i' => icase = true,
            'z' => eol = b'\0',
            'D' => {
                all_repeated = Some(match v.as_deref() {
                    None | Some("none") => AllRepeated::None,
                    Some("prepend") => AllRepeated::Prepend,
                    Some("separate") => AllRepeated::Separate,
                    Some(other) => {
                        ctx.warn(
                            "uniq",
                            format!("invalid argument ‘{other}’ for ‘--all-repeated’"),
                        );
                        ctx.io.errln(
                            "Valid arguments are:\n  - ‘none’\n  - ‘prepend’\n  - ‘separate’",
                        );
                        ctx.io.errln("Usage: uniq [OPTION]... [INPUT [OUTPUT]]");
                        super::opts::try_help(ctx, "uniq");
                        return Ok(1);
                    }
                });
            }
            'f' | 's' | 'w' => match n() {
                Ok(k) if *c == 'f' => skip_fields = k,
                Ok(k) if *c == 's' => skip_chars = k,
                Ok(k) => check_chars = k,
                Err(v) => {
                    ctx.warn("uniq", format!("{v}: invalid {what}"));
                    return Ok(1);
                }
            },
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
    if all_repeated.is_some() && count {
        return usage(
            ctx,
            "uniq",
            "printing all duplicated lines and repeat counts is meaningless",
        );
    }
    let mut ls: Vec<&[u8]> = data.split(|b| *b == eol).collect();
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
        s = &s[skip_chars.min(s.len())..];
        s = &s[..check_chars.min(s.len())];
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
        if let Some(how) = &all_repeated {
            // Every line of each repeated group; with `-u` GNU drops the first of each.
            if n > 1 {
                let sep = match how {
                    AllRepeated::Prepend => true,
                    AllRepeated::Separate => !out.is_empty(),
                    AllRepeated::None => false,
                };
                if sep {
                    out.push(eol);
                }
                for l in &ls[i + usize::from(uniques)..j] {
                    out.extend_from_slice(l);
                    out.push(eol);
                }
            }
            i = j;
            continue;
        }
        let show = (!dups || n > 1) && (!uniques || n == 1);
        if show {
            if count {
                out.extend_from_slice(format!("{n:>7} ").as_bytes());
            }
            out.extend_from_slice(ls[i]);
            out.push(eol);
        }
        i = j;
    }
    match files.get(1) {
        Some(o) => {
            if let Err(e) = ctx.write_named(o, &out, false) {
                ctx.warn("uniq", format!("{o}: {e}"));
                return Ok(1);
            }
        }
        None => ctx.io.out(&out),
    }
    Ok(0)
}

/// Where GNU `cut -b/-c --output-delimiter` puts the delimiter: before the first position of
/// each selected range, once overlapping ranges are merged (adjacent ones stay apart: `-c1,2`
/// prints `a:b`), and, under `--complement`, of each gap between them.
fn range_starts(ranges: &[(usize, usize)], complement: bool) -> Vec<usize> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (a, b) in sorted {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    if !complement {
        return merged.into_iter().map(|(a, _)| a).collect();
    }
    let mut starts = Vec::new();
    let mut next = 1;
    for (a, b) in merged {
        if a > next {
            starts.push(next);
        }
        next = b.saturating_add(1);
    }
    if next != usize::MAX {
        starts.push(next);
    }
    starts
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

/// `cut`'s long-only options.
const CUT_COMPLEMENT: char = '\u{e000}';
const CUT_OUTPUT_DELIM: char = '\u{e001}';

const CUT: Spec = Spec::new(
    "cut",
    "b:c:d:f:ns",
    &[
        ("bytes", 'b', Arg::Required),
        ("characters", 'c', Arg::Required),
        ("delimiter", 'd', Arg::Required),
        ("fields", 'f', Arg::Required),
        ("only-delimited", 's', Arg::No),
        ("complement", CUT_COMPLEMENT, Arg::No),
        ("output-delimiter", CUT_OUTPUT_DELIM, Arg::Required),
    ],
)
.gnu("b:c:d:f:nsz", &["zero-terminated", "help", "version"]);

pub(super) fn cut(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&CUT, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let complement = flags.iter().any(|(c, _)| *c == CUT_COMPLEMENT);
    let out_delim: Option<String> = flags
        .iter()
        .rev()
        .find(|(c, _)| *c == CUT_OUTPUT_DELIM)
        .and_then(|(_, v)| v.clone());
    let mut delim = b'\t';
    let mut fields: Option<Vec<(usize, usize)>> = None;
    let mut chars: Option<Vec<(usize, usize)>> = None;
    let mut only_delim = false;
    for (c, v) in &flags {
        let v = v.clone().unwrap_or_default();
        match *c {
            // GNU cut reads an empty delimiter as NUL.
            'd' if v.is_empty() => delim = 0,
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
            'n' | CUT_COMPLEMENT | CUT_OUTPUT_DELIM => {}
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
    let starts = chars
        .as_deref()
        .map(|r| range_starts(r, complement))
        .unwrap_or_default();
    let (inputs, failed) = ctx.read_all("cut", &files);
    let mut out = Vec::new();
    for (_, data) in &inputs {
        for l in lines(data) {
            let nl = l.ends_with(b"\n");
            let body: &[u8] = strip_nl(l);
            if let Some(r) = &chars {
                let mut first = true;
                for (i, b) in body.iter().enumerate() {
                    if in_ranges(r, i + 1) {
                        if let Some(od) = &out_delim
                            && !first
                            && starts.contains(&(i + 1))
                        {
                            out.extend_from_slice(od.as_bytes());
                        }
                        first = false;
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

/// One `tr` set: its bytes, and where a `[c*]` (or `[c*0]`) fill goes, which only SET2 may
/// hold and which GNU grows until SET2 is as long as SET1.
struct TrSet {
    bytes: Vec<u8>,
    fill: Option<(usize, u8)>,
}

/// A `[c*n]`: the byte, the count (`None` for `[c*]`) and the bytes the construct takes.
type TrRepeat = (u8, Option<usize>, usize);

/// `[c*n]` at `b[i..]`: the byte, the count (`None` for `[c*]` / `[c*0]`) and the bytes taken.
/// GNU reads n as decimal, or octal when it starts with 0, and refuses any other n.
fn tr_repeat(b: &[u8], i: usize) -> Option<Result<TrRepeat, String>> {
    if b.get(i) != Some(&b'[') || b.get(i + 2) != Some(&b'*') {
        return None;
    }
    let c = *b.get(i + 1)?;
    let close = b[i + 3..].iter().position(|x| *x == b']')? + i + 3;
    let digits = &b[i + 3..close];
    let text = String::from_utf8_lossy(digits).into_owned();
    let bad = || Err(format!("invalid repeat count ‘{text}’ in [c*n] construct"));
    if !digits.iter().all(u8::is_ascii_digit) {
        return Some(bad());
    }
    let n = if digits.is_empty() {
        0
    } else if digits[0] == b'0' {
        match usize::from_str_radix(&text, 8) {
            Ok(n) => n,
            Err(_) => return Some(bad()),
        }
    } else {
        match text.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return Some(bad()),
        }
    };
    Some(Ok((c, (n > 0).then_some(n), close + 1 - i)))
}

fn expand_tr_set(s: &str, is_set2: bool) -> Result<TrSet, String> {
    let b = crate::commands::unescape_ansi(s).into_bytes();
    let mut out = Vec::new();
    let mut fill = None;
    let mut i = 0;
    while i < b.len() {
        if let Some(rep) = tr_repeat(&b, i) {
            let (c, n, took) = rep?;
            match n {
                // A finite count is bounded by what the sandbox may hold: GNU would build the
                // set too, and past 256 entries only SET1's length can reach the tail.
                Some(n) => out.extend(std::iter::repeat_n(c, n.min(1 << 16))),
                None if !is_set2 => {
                    return Err("the [c*] repeat construct may not appear in string1".to_owned());
                }
                None if fill.is_some() => {
                    return Err("only one [c*] repeat construct may appear in string2".to_owned());
                }
                None => fill = Some((out.len(), c)),
            }
            i += took;
            continue;
        }
        // `[=c=]`: in the C locale a character's equivalence class is the character itself.
        if b[i] == b'['
            && b.get(i + 1) == Some(&b'=')
            && b.get(i + 3) == Some(&b'=')
            && b.get(i + 4) == Some(&b']')
        {
            out.push(b[i + 2]);
            i += 5;
            continue;
        }
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
    Ok(TrSet { bytes: out, fill })
}

const TR: Spec = Spec::new(
    "tr",
    "cCdst",
    &[
        ("complement", 'c', Arg::No),
        ("delete", 'd', Arg::No),
        ("squeeze-repeats", 's', Arg::No),
        ("truncate-set1", 't', Arg::No),
    ],
);

pub(super) fn tr(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, sets) = match ctx.opts(&TR, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let (mut del, mut squeeze, mut comp, mut truncate) = (false, false, false, false);
    for (c, _) in &flags {
        match c {
            'd' => del = true,
            's' => squeeze = true,
            'c' | 'C' => comp = true,
            't' => truncate = true,
            other => return usage(ctx, "tr", &format!("invalid option -- '{other}'")),
        }
    }
    if sets.is_empty() {
        return usage(ctx, "tr", "missing operand");
    }
    let set1 = match expand_tr_set(&sets[0], false) {
        Ok(s) => s.bytes,
        Err(e) => {
            ctx.warn("tr", e);
            return Ok(1);
        }
    };
    let set2 = match sets.get(1).map(|s| expand_tr_set(s, true)) {
        Some(Ok(s)) => {
            let mut bytes = s.bytes;
            if let Some((at, c)) = s.fill {
                let len1 = if comp {
                    let mut seen = [false; 256];
                    set1.iter().for_each(|c| seen[*c as usize] = true);
                    seen.iter().filter(|x| !**x).count()
                } else {
                    set1.len()
                };
                let n = len1.saturating_sub(bytes.len());
                bytes.splice(at..at, std::iter::repeat_n(c, n));
            }
            Some(bytes)
        }
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
        let mut src: Vec<u8> = if comp {
            (0u8..=255).filter(|c| in1[*c as usize]).collect()
        } else {
            set1.clone()
        };
        // -t: SET1 is cut to SET2's length instead of SET2 padded with its last character.
        if truncate {
            src.truncate(s2.len());
        }
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

const TEE: Spec = Spec::new(
    "tee",
    "ai",
    &[
        ("append", 'a', Arg::No),
        ("ignore-interrupts", 'i', Arg::No),
    ],
);

pub(super) fn tee(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&TEE, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let append = flags.iter().any(|(c, _)| *c == 'a');
    let data = ctx.stdin.take_all().to_vec();
    let mut st = 0;
    for f in &files {
        if let Err(e) = ctx.write_named(f, &data, append) {
            ctx.warn("tee", format!("{f}: {e}"));
            st = 1;
        }
    }
    ctx.io.out(&data);
    Ok(st)
}

const TAC: Spec = Spec::new(
    "tac",
    "bs:",
    &[("before", 'b', Arg::No), ("separator", 's', Arg::Required)],
)
.gnu("brs:", &["before", "regex", "separator", "help", "version"]);

/// `tac`: records (lines, or ended by `-s SEP`; with `-b` begun by it) in reverse order.
pub(super) fn tac(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&TAC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut sep = b"\n".to_vec();
    let mut before = false;
    for (c, v) in flags {
        match c {
            'b' => before = true,
            _ => sep = v.unwrap_or_default().into_bytes(),
        }
    }
    let (inputs, failed) = ctx.read_all("tac", &files);
    let mut out = Vec::new();
    for (_, d) in &inputs {
        let mut records = tac_records(d, &sep, before);
        records.reverse();
        for r in records {
            out.extend_from_slice(r);
        }
    }
    ctx.io.out(&out);
    Ok(i32::from(failed))
}

/// `data` cut after each `sep` (or, `before`, at each `sep`), nothing lost or added. An empty
/// `sep` cuts nowhere (GNU prints such input unchanged).
fn tac_records<'a>(data: &'a [u8], sep: &[u8], before: bool) -> Vec<&'a [u8]> {
    if sep.is_empty() {
        return vec![data];
    }
    let mut records = Vec::new();
    let (mut start, mut at) = (0, 0);
    while let Some(p) = data[at..].windows(sep.len()).position(|w| w == sep) {
        let found = at + p;
        let end = if before { found } else { found + sep.len() };
        if end > start {
            records.push(&data[start..end]);
        }
        start = end;
        at = found + sep.len();
    }
    if start < data.len() {
        records.push(&data[start..]);
    }
    records
}

pub(super) fn rev(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let files = match ctx.opts(&Spec::new("rev", "", &[]), args) {
        Ok((_, files)) => files,
        Err(st) => return Ok(st),
    };
    let (inputs, failed) = ctx.read_all("rev", &files);
    // util-linux rev reverses wide characters and gives up on bytes the C locale cannot read
    // as one: with a byte of 128 or more there its answer is an error this does not copy.
    if super::grep::c_locale(ctx) && inputs.iter().any(|(_, d)| !d.is_ascii()) {
        ctx.warn(
            "rev",
            "non-ASCII text in the C locale is not supported in this sandbox",
        );
        return Ok(2);
    }
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

const NL: Spec = Spec::new(
    "nl",
    "b:i:n:s:v:w:",
    &[
        ("body-numbering", 'b', Arg::Required),
        ("line-increment", 'i', Arg::Required),
        ("number-format", 'n', Arg::Required),
        ("number-separator", 's', Arg::Required),
        ("starting-line-number", 'v', Arg::Required),
        ("number-width", 'w', Arg::Required),
    ],
)
.gnu(
    "b:d:f:h:i:l:n:ps:v:w:",
    &[
        "section-delimiter",
        "footer-numbering",
        "header-numbering",
        "join-blank-lines",
        "no-renumber",
        "help",
        "version",
    ],
);

pub(super) fn nl(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&NL, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let (mut all, mut width, mut sep, mut start, mut incr) =
        (false, 6usize, "\t".to_owned(), 1i64, 1i64);
    let mut format = "rn".to_owned();
    for (c, v) in flags {
        let v = v.unwrap_or_default();
        let num = |what: &str| -> Result<i64, String> {
            v.parse::<i64>()
                .map_err(|_| format!("invalid {what}: ‘{v}’"))
        };
        let bad = match c {
            'b' => match v.as_str() {
                "a" => {
                    all = true;
                    None
                }
                "t" => {
                    all = false;
                    None
                }
                _ => {
                    ctx.warn(
                        "nl",
                        format!("option '-b {v}' is not supported by this sandbox"),
                    );
                    return Ok(2);
                }
            },
            's' => {
                sep = v;
                None
            }
            'n' if matches!(v.as_str(), "ln" | "rn" | "rz") => {
                format = v;
                None
            }
            'n' => Some(format!("invalid line numbering format: ‘{v}’")),
            'w' => match num("line number field width") {
                Ok(n) if (1..=10_000).contains(&n) => {
                    width = n as usize;
                    None
                }
                Ok(_) => Some(format!("invalid line number field width: ‘{v}’")),
                Err(e) => Some(e),
            },
            'v' => num("starting line number").map(|n| start = n).err(),
            _ => num("line number increment").map(|n| incr = n).err(),
        };
        if let Some(msg) = bad {
            return usage(ctx, "nl", &msg);
        }
    }
    let (inputs, failed) = ctx.read_all("nl", &files);
    let mut out = Vec::new();
    let mut n = start;
    for (_, d) in &inputs {
        for l in lines(d) {
            if !all && strip_nl(l).is_empty() {
                out.extend_from_slice(" ".repeat(width + sep.len()).as_bytes());
                out.extend_from_slice(l);
                continue;
            }
            let num = match format.as_str() {
                "ln" => format!("{n:<width$}"),
                "rz" if n < 0 => format!("-{:0>w$}", -n, w = width.saturating_sub(1)),
                "rz" => format!("{n:0>width$}"),
                _ => format!("{n:>width$}"),
            };
            out.extend_from_slice(num.as_bytes());
            out.extend_from_slice(sep.as_bytes());
            out.extend_from_slice(l);
            // GNU nl ends a last line that had no newline with one.
            if !l.ends_with(b"\n") {
                out.push(b'\n');
            }
            n += incr;
        }
    }
    ctx.io.out(&out);
    Ok(i32::from(failed))
}

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

pub(super) fn seq(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
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
            'e' | 'E' => super::c_exponent(v, p, self.conv == 'E'),
            'G' => super::awk::fmt_g(v, p).to_uppercase(),
            _ => super::awk::fmt_g(v, p),
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
