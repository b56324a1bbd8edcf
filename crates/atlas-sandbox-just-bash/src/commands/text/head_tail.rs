//! `head` and `tail`.

use super::super::opts::{Arg, Spec};
use super::super::{Ctx, or_stdin};
use super::{lines_by, usage};
use crate::interp::R;

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

pub(crate) fn head(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
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

pub(crate) fn tail(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
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
