//! What the commands parsed with `lexopt` share: GNU's option forms (`--long`, `--opt=value`,
//! `-abc` clusters, `-w5`, `--`), one refusal for an option this sandbox does not implement, and
//! an output buffer that flushes in steps (so a long dump is capped, metered and checks the
//! deadline as it goes instead of being built whole).

use lexopt::Parser;

use super::Ctx;
use crate::interp::{R, UNSUPPORTED_EXIT};

/// A `lexopt` parser over a command's arguments (without its name). A long option abbreviated
/// to an unambiguous prefix of one of the real tool's (`--che` for `--check`) is spelled out
/// first, as getopt_long accepts it.
pub(crate) fn parser(cmd: &str, args: &[String]) -> Parser {
    let long = REAL_OPTIONS
        .iter()
        .find(|(c, _, _)| *c == cmd)
        .map_or(&[][..], |(_, _, l)| *l);
    let mut out = Vec::with_capacity(args.len());
    let mut options = true;
    for a in args {
        if a == "--" {
            options = false;
        }
        match a.strip_prefix("--").filter(|_| options) {
            Some(body) if !body.is_empty() => {
                let (name, value) = match body.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (body, None),
                };
                let mut hits = long.iter().filter(|l| l.starts_with(name));
                let full = match (hits.next(), hits.next()) {
                    _ if long.contains(&name) => name,
                    (Some(one), None) => one,
                    _ => name,
                };
                out.push(match value {
                    Some(v) => format!("--{full}={v}"),
                    None => format!("--{full}"),
                });
            }
            _ => out.push(a.clone()),
        }
    }
    Parser::from_args(out)
}

/// The text of an option value (arguments are UTF-8 here: they come from the shell's strings).
pub(crate) fn text(p: &mut Parser) -> Result<String, lexopt::Error> {
    Ok(p.value()?.to_string_lossy().into_owned())
}

const HASH_LONG: &[&str] = &[
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

/// The options each real tool has (GNU coreutils 9.1, util-linux 2.38, diffutils 3.8): short
/// letters and long names. An option outside these is the tool's own usage error; one inside
/// that this sandbox lacks is refused.
const REAL_OPTIONS: &[(&str, &str, &[&str])] = &[
    ("md5sum", "bctwz", HASH_LONG),
    ("sha1sum", "bctwz", HASH_LONG),
    ("sha224sum", "bctwz", HASH_LONG),
    ("sha256sum", "bctwz", HASH_LONG),
    ("sha384sum", "bctwz", HASH_LONG),
    ("sha512sum", "bctwz", HASH_LONG),
    (
        "base64",
        "diw",
        &["decode", "ignore-garbage", "wrap", "help", "version"],
    ),
    (
        "paste",
        "dsz",
        &["delimiters", "serial", "zero-terminated", "help", "version"],
    ),
    (
        "comm",
        "123z",
        &[
            "check-order",
            "nocheck-order",
            "output-delimiter",
            "total",
            "zero-terminated",
            "help",
            "version",
        ],
    ),
    (
        "column",
        "tnONlEdeHRTWLJripcosxhV",
        &[
            "table",
            "table-name",
            "table-order",
            "table-columns",
            "table-columns-limit",
            "table-noextreme",
            "table-noheadings",
            "table-header-repeat",
            "table-hide",
            "table-right",
            "table-truncate",
            "table-wrap",
            "keep-empty-lines",
            "json",
            "tree",
            "tree-id",
            "tree-parent",
            "output-width",
            "output-separator",
            "separator",
            "fillrows",
            "help",
            "version",
        ],
    ),
    (
        "du",
        "0aBbcDdhHkLlmPSstXx",
        &[
            "null",
            "all",
            "apparent-size",
            "block-size",
            "bytes",
            "total",
            "dereference-args",
            "max-depth",
            "files0-from",
            "human-readable",
            "inodes",
            "dereference",
            "count-links",
            "no-dereference",
            "separate-dirs",
            "si",
            "summarize",
            "threshold",
            "time",
            "time-style",
            "exclude-from",
            "exclude",
            "one-file-system",
            "help",
            "version",
        ],
    ),
    (
        "od",
        "AaBbcDdeFfHhIijLlNOoSstvwXx",
        &[
            "address-radix",
            "skip-bytes",
            "read-bytes",
            "strings",
            "format",
            "output-duplicates",
            "width",
            "endian",
            "traditional",
            "help",
            "version",
        ],
    ),
    (
        "cmp",
        "bilns",
        &[
            "print-bytes",
            "ignore-initial",
            "verbose",
            "bytes",
            "quiet",
            "silent",
            "help",
            "version",
        ],
    ),
    (
        "fold",
        "bsw",
        &["bytes", "spaces", "width", "help", "version"],
    ),
    ("printenv", "0", &["null", "help", "version"]),
];

/// Whether `opt` (`-x` or `--name`) is an option of the real `cmd`. Commands not in the table
/// count every option as real (so what they lack is refused).
fn is_real_option(cmd: &str, opt: &str) -> bool {
    let Some((_, short, long)) = REAL_OPTIONS.iter().find(|(c, _, _)| *c == cmd) else {
        return true;
    };
    match opt.strip_prefix("--") {
        // GNU accepts any unambiguous prefix of a long option.
        Some(name) => long.iter().any(|l| l.starts_with(name)),
        None => opt
            .strip_prefix('-')
            .and_then(|c| c.chars().next())
            .is_some_and(|c| short.contains(c)),
    }
}

/// Reports a parse failure GNU-style and returns the exit status: an option this sandbox does not
/// implement (or that does not exist) is refused with exit 2 naming it; a missing or unwanted
/// value is GNU's usage error (exit `usage_exit`).
pub(crate) fn report(ctx: &mut Ctx<'_, '_>, cmd: &str, e: lexopt::Error, usage_exit: i32) -> i32 {
    match e {
        lexopt::Error::UnexpectedOption(o) if !is_real_option(cmd, &o) => {
            // Not an option of the real tool either: its own usage error, as it prints it.
            match o.strip_prefix("--") {
                Some(_) => ctx.warn(cmd, format!("unrecognized option '{o}'")),
                None => ctx.warn(
                    cmd,
                    format!("invalid option -- '{}'", o.trim_start_matches('-')),
                ),
            }
        }
        lexopt::Error::UnexpectedOption(o) => {
            ctx.warn(
                cmd,
                format!("option '{o}' is not supported by this sandbox"),
            );
            return UNSUPPORTED_EXIT;
        }
        lexopt::Error::MissingValue { option: Some(o) } => {
            if let Some(short) = o.strip_prefix('-').filter(|s| !s.starts_with('-')) {
                ctx.warn(cmd, format!("option requires an argument -- '{short}'"));
            } else {
                ctx.warn(cmd, format!("option '{o}' requires an argument"));
            }
        }
        lexopt::Error::UnexpectedValue { option, .. } => {
            ctx.warn(cmd, format!("option '{option}' doesn't allow an argument"));
        }
        other => ctx.warn(cmd, other.to_string()),
    }
    try_help(ctx, cmd);
    usage_exit
}

/// GNU's second usage line.
pub(crate) fn try_help(ctx: &mut Ctx<'_, '_>, cmd: &str) {
    // diffutils names itself in front of the line too.
    let lead = if cmd == "cmp" { "cmp: " } else { "" };
    ctx.io
        .errln(&format!("{lead}Try '{cmd} --help' for more information."));
}

/// Refuses a feature (an option value, a form) this sandbox does not implement: exit 2.
pub(crate) fn unsupported(ctx: &mut Ctx<'_, '_>, cmd: &str, what: &str) -> i32 {
    ctx.warn(cmd, format!("{what} is not supported by this sandbox"));
    UNSUPPORTED_EXIT
}

/// Output built in steps: every [`Sink::STEP`] bytes it goes to stdout (capped and metered
/// there) and the deadline is checked.
pub(crate) struct Sink {
    buf: Vec<u8>,
}

impl Sink {
    const STEP: usize = 32 * 1024;

    pub(crate) fn new() -> Self {
        Sink {
            buf: Vec::with_capacity(1024),
        }
    }

    /// Appends bytes, flushing when a step is full. `Ok(false)` once stdout is past its cap:
    /// nothing more can be kept, so the caller may stop.
    pub(crate) fn put(&mut self, ctx: &mut Ctx<'_, '_>, b: &[u8]) -> R<bool> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= Self::STEP {
            self.flush(ctx)?;
        }
        Ok(!ctx.io.overflow)
    }

    /// Writes what is buffered and checks the deadline and the memory budget.
    pub(crate) fn flush(&mut self, ctx: &mut Ctx<'_, '_>) -> R<()> {
        if !self.buf.is_empty() {
            ctx.io.out(&self.buf);
            self.buf.clear();
        }
        ctx.sh.tick()
    }
}

/// Charges a buffer of `len` bytes to the exec's memory budget for as long as the guard lives.
pub(crate) fn hold(ctx: &Ctx<'_, '_>, len: usize) -> R<crate::memory::Held> {
    ctx.sh
        .meter
        .hold(crate::memory::bytes_cost(len))
        .or_else(crate::interp::over_budget)
}

#[cfg(test)]
mod tests {
    use super::is_real_option;

    #[test]
    fn real_options_are_told_from_unknown_ones() {
        assert!(is_real_option("md5sum", "-c"));
        assert!(is_real_option("md5sum", "--che"));
        assert!(!is_real_option("md5sum", "--bogus"));
        assert!(!is_real_option("paste", "-x"));
        // A command without a table: everything counts as real, so what it lacks is refused.
        assert!(is_real_option("xxd", "-Z"));
    }
}
