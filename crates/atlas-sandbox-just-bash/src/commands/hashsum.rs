//! `md5sum`, `sha1sum`, `sha224sum`, `sha256sum`, `sha384sum`, `sha512sum` (GNU coreutils output,
//! `-c` included), over the RustCrypto hashes.

use sha2::Digest;

use super::Ctx;
use super::opts::{Arg, Long, Spec};
use super::sink::Sink;
use crate::interp::R;

/// Long-only options get keys no short option has.
const LONG: &[Long] = &[
    ("check", 'c', Arg::No),
    ("binary", 'b', Arg::No),
    ("text", 't', Arg::No),
    ("zero", 'z', Arg::No),
    ("warn", 'w', Arg::No),
    ("tag", 'T', Arg::No),
    ("quiet", 'Q', Arg::No),
    ("status", 'S', Arg::No),
    ("strict", 'R', Arg::No),
    ("ignore-missing", 'I', Arg::No),
];

const GNU_LONG: &[&str] = &[
    "binary",
    "check",
    "tag",
    "text",
    "zero",
    "ignore-missing",
    "quiet",
    "status",
    "strict",
    "warn",
    "help",
    "version",
];

/// The options of `cmd` (every one of these tools has the same).
const fn spec(cmd: &'static str) -> Spec {
    Spec::new(cmd, "cbtzw", LONG).gnu("bctwz", GNU_LONG)
}

/// Which hash a command computes.
#[derive(Clone, Copy)]
pub(super) enum Algo {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Algo {
    pub(super) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Algo::Md5 => md5::Md5::digest(data).to_vec(),
            Algo::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Algo::Sha224 => sha2::Sha224::digest(data).to_vec(),
            Algo::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Algo::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Algo::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// The name `--tag` prints.
    pub(super) fn tag(self) -> &'static str {
        match self {
            Algo::Md5 => "MD5",
            Algo::Sha1 => "SHA1",
            Algo::Sha224 => "SHA224",
            Algo::Sha256 => "SHA256",
            Algo::Sha384 => "SHA384",
            Algo::Sha512 => "SHA512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algo::Md5 => 32,
            Algo::Sha1 => 40,
            Algo::Sha224 => 56,
            Algo::Sha256 => 64,
            Algo::Sha384 => 96,
            Algo::Sha512 => 128,
        }
    }
}

pub(super) fn md5sum(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    run(ctx, args, "md5sum", Algo::Md5)
}
pub(super) fn sha1sum(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    run(ctx, args, "sha1sum", Algo::Sha1)
}
pub(super) fn sha224sum(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    run(ctx, args, "sha224sum", Algo::Sha224)
}
pub(super) fn sha256sum(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    run(ctx, args, "sha256sum", Algo::Sha256)
}
pub(super) fn sha384sum(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    run(ctx, args, "sha384sum", Algo::Sha384)
}
pub(super) fn sha512sum(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    run(ctx, args, "sha512sum", Algo::Sha512)
}

#[derive(Default)]
struct Opts {
    check: bool,
    binary: bool,
    tag: bool,
    zero: bool,
    quiet: bool,
    status: bool,
    strict: bool,
    warn: bool,
    ignore_missing: bool,
    files: Vec<String>,
}

fn parse(flags: Vec<(char, Option<String>)>, files: Vec<String>) -> Opts {
    let mut o = Opts {
        files,
        ..Opts::default()
    };
    for (c, _) in flags {
        match c {
            'c' => o.check = true,
            'b' => o.binary = true,
            't' => o.binary = false,
            'z' => o.zero = true,
            'w' => o.warn = true,
            'T' => o.tag = true,
            'Q' => o.quiet = true,
            'S' => o.status = true,
            'R' => o.strict = true,
            _ => o.ignore_missing = true,
        }
    }
    o
}

fn run(ctx: &mut Ctx<'_, '_>, args: &[String], cmd: &'static str, algo: Algo) -> R<i32> {
    let mut o = match ctx.opts(&spec(cmd), args) {
        Ok((flags, files)) => parse(flags, files),
        Err(st) => return Ok(st),
    };
    if o.files.is_empty() {
        o.files.push("-".to_owned());
    }
    if o.check {
        check(ctx, cmd, algo, &o)
    } else {
        sums(ctx, cmd, algo, &o)
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// GNU escapes a name holding `\` or a newline, and marks the line with a leading `\`.
pub(super) fn escape_name(name: &str) -> (bool, String) {
    if !name.contains(['\\', '\n', '\r']) {
        return (false, name.to_owned());
    }
    let s = name
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r");
    (true, s)
}

fn sums(ctx: &mut Ctx<'_, '_>, cmd: &str, algo: Algo, o: &Opts) -> R<i32> {
    let mut st = 0;
    let mut sink = Sink::new();
    for f in &o.files {
        let data = match ctx.read_operand(f) {
            Ok(d) => d,
            Err(e) => {
                ctx.warn(cmd, format!("{f}: {e}"));
                st = 1;
                continue;
            }
        };
        let sum = hex(&algo.digest(&data));
        let (escaped, name) = if o.zero {
            (false, f.clone())
        } else {
            escape_name(f)
        };
        let lead = if escaped { "\\" } else { "" };
        let end = if o.zero { '\0' } else { '\n' };
        let line = if o.tag {
            format!("{lead}{} ({name}) = {sum}{end}", algo.tag())
        } else {
            let mode = if o.binary { '*' } else { ' ' };
            format!("{lead}{sum} {mode}{name}{end}")
        };
        sink.put(ctx, line.as_bytes())?;
        ctx.sh.tick()?;
    }
    sink.flush(ctx)?;
    Ok(st)
}

/// One line of a checksum file: the expected sum and the file name.
fn parse_check_line(line: &str, algo: Algo) -> Option<(String, String)> {
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let unescape = |s: &str| -> String {
        if !escaped {
            return s.to_owned();
        }
        let mut out = String::new();
        let mut it = s.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                match it.next() {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some(o) => out.push(o),
                    None => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    // BSD style: `MD5 (name) = sum`.
    if let Some(rest) = line.strip_prefix(algo.tag())
        && let Some(rest) = rest.strip_prefix(" (")
        && let Some((name, sum)) = rest.rsplit_once(") = ")
    {
        return (sum.len() == algo.hex_len() && sum.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| (sum.to_ascii_lowercase(), unescape(name)));
    }
    let n = algo.hex_len();
    let sum = line.get(..n)?;
    if !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let rest = &line[n..];
    let name = rest
        .strip_prefix(" *")
        .or_else(|| rest.strip_prefix("  "))
        .or_else(|| rest.strip_prefix(' '))?;
    if name.is_empty() {
        return None;
    }
    Some((sum.to_ascii_lowercase(), unescape(name)))
}

fn check(ctx: &mut Ctx<'_, '_>, cmd: &str, algo: Algo, o: &Opts) -> R<i32> {
    let mut st = 0;
    let mut sink = Sink::new();
    for list in &o.files {
        let data = match ctx.read_operand(list) {
            Ok(d) => d,
            Err(e) => {
                ctx.warn(cmd, format!("{list}: {e}"));
                st = 1;
                continue;
            }
        };
        let text = String::from_utf8_lossy(&data).into_owned();
        let (mut bad_lines, mut unreadable, mut mismatched) = (0u64, 0u64, 0u64);
        let (mut formatted, mut verified) = (0u64, 0u64);
        for (i, raw) in text.split_terminator('\n').enumerate() {
            ctx.sh.tick()?;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.starts_with('#') {
                continue;
            }
            let Some((want, name)) = parse_check_line(line, algo) else {
                bad_lines += 1;
                if o.warn {
                    ctx.warn(
                        cmd,
                        format!(
                            "{list}: {}: improperly formatted {} checksum line",
                            i + 1,
                            algo.tag()
                        ),
                    );
                }
                continue;
            };
            formatted += 1;
            let shown = escape_name(&name).1;
            match ctx.read_operand(&name) {
                Ok(d) => {
                    verified += 1;
                    if hex(&algo.digest(&d)) == want {
                        if !o.quiet && !o.status {
                            sink.put(ctx, format!("{shown}: OK\n").as_bytes())?;
                        }
                    } else {
                        mismatched += 1;
                        if !o.status {
                            sink.put(ctx, format!("{shown}: FAILED\n").as_bytes())?;
                        }
                    }
                }
                Err(e) => {
                    if o.ignore_missing && e == crate::vfs::FsError::NotFound {
                        continue;
                    }
                    unreadable += 1;
                    if !o.status {
                        sink.flush(ctx)?;
                        ctx.warn(cmd, format!("{name}: {e}"));
                        sink.put(ctx, format!("{shown}: FAILED open or read\n").as_bytes())?;
                    }
                }
            }
        }
        sink.flush(ctx)?;
        if formatted == 0 {
            ctx.warn(
                cmd,
                format!("{list}: no properly formatted checksum lines found"),
            );
            st = 1;
            continue;
        }
        if o.ignore_missing && verified == 0 {
            ctx.warn(cmd, format!("{list}: no file was verified"));
            st = 1;
            continue;
        }
        if !o.status {
            let plural = |n: u64, one: &str, many: &str| {
                if n == 1 {
                    format!("{n} {one}")
                } else {
                    format!("{n} {many}")
                }
            };
            if bad_lines > 0 {
                ctx.warn(
                    cmd,
                    format!(
                        "WARNING: {} improperly formatted",
                        plural(bad_lines, "line is", "lines are")
                    ),
                );
            }
            if unreadable > 0 {
                ctx.warn(
                    cmd,
                    format!(
                        "WARNING: {} could not be read",
                        plural(unreadable, "listed file", "listed files")
                    ),
                );
            }
            if mismatched > 0 {
                ctx.warn(
                    cmd,
                    format!(
                        "WARNING: {} did NOT match",
                        plural(mismatched, "computed checksum", "computed checksums")
                    ),
                );
            }
        }
        if mismatched > 0 || unreadable > 0 || (o.strict && bad_lines > 0) {
            st = 1;
        }
    }
    Ok(st)
}
