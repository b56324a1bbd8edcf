//! One option parser for every built-in command, on `lexopt`, with GNU getopt_long's rules:
//! clusters (`-rn`, `-n5`), a value in the next word (`-A 3`) or after `=` (`--lines=5`), an
//! unambiguous prefix of a long option (`--cou` for `--count`), `--` ending options and `-` as an
//! operand. Options after operands are taken too, as GNU does, unless the command stops at its
//! first operand (`xargs`, `env`).
//!
//! An option the command does not implement is never ignored or read as a file: when GNU has it
//! the answer is a refusal naming it (`cmd: option '--x' is not supported by this sandbox`, exit 2);
//! when the command's GNU option list is given and lacks it too, GNU's own usage error.

use super::{Ctx, Parsed};
use crate::interp::UNSUPPORTED_EXIT;

/// Whether an option takes a value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    /// A flag.
    No,
    /// `-n 5`, `-n5`, `--lines 5`, `--lines=5`.
    Required,
    /// Only attached: `--color=never`, `-i.bak`.
    Optional,
}

/// A long option: its name (without `--`), the key the command matches on (its short letter, or
/// a private character for a long-only option), and whether it takes a value.
pub(crate) type Long = (&'static str, char, Arg);

/// What one command accepts.
pub(crate) struct Spec {
    /// The name in messages.
    pub cmd: &'static str,
    /// Short options in getopt's notation: `:` after a letter that takes a value, `::` after one
    /// whose value is optional and attached.
    pub short: &'static str,
    /// Long options.
    pub long: &'static [Long],
    /// GNU's whole option list (getopt notation, then long names), when known: an option in
    /// neither gets GNU's usage error instead of the sandbox's refusal.
    pub gnu: Option<(&'static str, &'static [&'static str])>,
    /// Exit status of a usage error (GNU: 1 for most coreutils, 2 for grep, ls, sort, diff).
    pub usage_status: i32,
    /// Options end at the first operand (`xargs CMD -x`, `env VAR=1 CMD -x`).
    pub stop_at_operand: bool,
}

impl Spec {
    /// A spec with the common defaults: usage status 1, options anywhere.
    pub(crate) const fn new(cmd: &'static str, short: &'static str, long: &'static [Long]) -> Self {
        Spec {
            cmd,
            short,
            long,
            gnu: None,
            usage_status: 1,
            stop_at_operand: false,
        }
    }

    /// With GNU's own options (see [`Spec::gnu`]).
    pub(crate) const fn gnu(mut self, short: &'static str, long: &'static [&'static str]) -> Self {
        self.gnu = Some((short, long));
        self
    }

    /// With the status of a usage error.
    pub(crate) const fn status(mut self, usage_status: i32) -> Self {
        self.usage_status = usage_status;
        self
    }

    /// Options end at the first operand.
    pub(crate) const fn posix(mut self) -> Self {
        self.stop_at_operand = true;
        self
    }

    fn short_arg(&self, c: char) -> Option<Arg> {
        short_arg_in(self.short, c)
    }
}

/// Whether `c` is in a getopt string, and what it takes.
fn short_arg_in(spec: &str, c: char) -> Option<Arg> {
    if c == ':' {
        return None;
    }
    let i = spec.find(c)?;
    let rest = &spec[i + c.len_utf8()..];
    Some(if rest.starts_with("::") {
        Arg::Optional
    } else if rest.starts_with(':') {
        Arg::Required
    } else {
        Arg::No
    })
}

/// Why parsing stopped: the message lines (each prefixed by the command name), the status, and
/// the reason, for a tool whose usage errors are worded unlike GNU's (`tree`).
#[derive(Debug)]
pub(crate) struct OptError {
    pub lines: Vec<String>,
    pub status: i32,
    pub why: Why,
}

/// The reason behind an [`OptError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Why {
    /// The real tool has the option (as written: `-x`, `--name`); this sandbox does not.
    Refused(String),
    /// Neither has it (`-x`, `--name`).
    Unknown(String),
    /// An option that needs a value got none (`-L`, `--name`).
    MissingValue(String),
    /// Anything else (an ambiguous prefix, a value given to a flag).
    Other,
}

impl Spec {
    fn refuse(&self, opt: &str) -> OptError {
        OptError {
            lines: vec![format!(
                "{}: option '{opt}' is not supported by this sandbox",
                self.cmd
            )],
            status: UNSUPPORTED_EXIT,
            why: Why::Refused(opt.to_owned()),
        }
    }

    fn usage(&self, msg: String) -> OptError {
        self.usage_why(msg, Why::Other)
    }

    fn usage_why(&self, msg: String, why: Why) -> OptError {
        OptError {
            lines: vec![format!("{}: {msg}", self.cmd), try_help_line(self.cmd)],
            status: self.usage_status,
            why,
        }
    }

    /// An option this command lacks: GNU's error when GNU lacks it too, else a refusal.
    fn unknown_short(&self, c: char) -> OptError {
        match self.gnu {
            Some((short, _)) if short_arg_in(short, c).is_none() => self.usage_why(
                format!("invalid option -- '{c}'"),
                Why::Unknown(format!("-{c}")),
            ),
            _ => self.refuse(&format!("-{c}")),
        }
    }

    /// Resolves a long name (exact, or a unique prefix as getopt_long allows).
    fn resolve_long(&self, name: &str) -> Result<Long, OptError> {
        if let Some(l) = self.long.iter().find(|l| l.0 == name) {
            return Ok(*l);
        }
        let gnu_longs: &[&str] = self.gnu.map_or(&[], |g| g.1);
        if gnu_longs.contains(&name) {
            return Err(self.refuse(&format!("--{name}")));
        }
        let ours: Vec<&Long> = self.long.iter().filter(|l| l.0.starts_with(name)).collect();
        let theirs: Vec<&&str> = gnu_longs
            .iter()
            .filter(|g| g.starts_with(name) && !self.long.iter().any(|l| l.0 == **g))
            .collect();
        // Two names for one option (`--colour`/`--color`) are not an ambiguity.
        let distinct = ours
            .iter()
            .map(|l| l.1)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        match (distinct, theirs.len()) {
            (1, 0) => Ok(*ours[0]),
            (0, 1) => Err(self.refuse(&format!("--{}", theirs[0]))),
            (0, 0) if self.gnu.is_some() => Err(self.usage_why(
                format!("unrecognized option '--{name}'"),
                Why::Unknown(format!("--{name}")),
            )),
            (0, 0) => Err(self.refuse(&format!("--{name}"))),
            _ => Err(self.usage(format!("option '--{name}' is ambiguous"))),
        }
    }
}

/// Parses `args` (without the command name) against `spec`: the options as `(key, value)` in
/// order, and the operands.
pub(crate) fn parse(spec: &Spec, args: &[String]) -> Result<Parsed, OptError> {
    use lexopt::Arg as A;
    let mut p = lexopt::Parser::from_args(args.iter());
    // getopt reads `-d=` as `-d` with the value `=` (`cut -d= -f1`).
    p.set_short_equals(false);
    let mut flags = Vec::new();
    let mut operands = Vec::new();
    let text = |v: std::ffi::OsString| v.to_string_lossy().into_owned();
    loop {
        let arg = match p.next() {
            Ok(Some(a)) => a,
            Ok(None) => break,
            Err(lexopt::Error::UnexpectedValue { option, .. }) => {
                return Err(spec.usage(format!("option '{option}' doesn't allow an argument")));
            }
            Err(e) => return Err(spec.usage(e.to_string())),
        };
        match arg {
            A::Value(v) => {
                operands.push(text(v));
                if spec.stop_at_operand {
                    if let Ok(rest) = p.raw_args() {
                        operands.extend(rest.map(text));
                    }
                    break;
                }
            }
            A::Short(c) => match spec.short_arg(c) {
                None => return Err(spec.unknown_short(c)),
                Some(Arg::No) => flags.push((c, None)),
                Some(Arg::Optional) => flags.push((c, p.optional_value().map(text))),
                Some(Arg::Required) => match p.value() {
                    Ok(v) => flags.push((c, Some(text(v)))),
                    Err(_) => {
                        return Err(spec.usage_why(
                            format!("option requires an argument -- '{c}'"),
                            Why::MissingValue(format!("-{c}")),
                        ));
                    }
                },
            },
            A::Long(name) => {
                let name = name.to_owned();
                let (full, key, takes) = spec.resolve_long(&name)?;
                match takes {
                    Arg::No => flags.push((key, None)),
                    Arg::Optional => flags.push((key, p.optional_value().map(text))),
                    Arg::Required => match p.value() {
                        Ok(v) => flags.push((key, Some(text(v)))),
                        Err(_) => {
                            return Err(spec.usage_why(
                                format!("option '--{full}' requires an argument"),
                                Why::MissingValue(format!("--{full}")),
                            ));
                        }
                    },
                }
            }
        }
    }
    Ok((flags, operands))
}

/// GNU's second usage line (diffutils names itself in front of it too).
fn try_help_line(cmd: &str) -> String {
    let lead = if matches!(cmd, "cmp" | "diff" | "diff3" | "sdiff") {
        format!("{cmd}: ")
    } else {
        String::new()
    };
    format!("{lead}Try '{cmd} --help' for more information.")
}

/// Prints GNU's second usage line.
pub(crate) fn try_help(ctx: &mut Ctx<'_, '_>, cmd: &str) {
    ctx.io.errln(&try_help_line(cmd));
}

/// A usage error after parsing (a missing or extra operand): the message, GNU's second line,
/// and `status`.
pub(crate) fn usage(ctx: &mut Ctx<'_, '_>, cmd: &str, msg: impl AsRef<str>, status: i32) -> i32 {
    ctx.warn(cmd, msg);
    try_help(ctx, cmd);
    status
}

/// Refuses a feature (an option value, a form) this sandbox does not implement: exit 2.
pub(crate) fn unsupported(ctx: &mut Ctx<'_, '_>, cmd: &str, what: &str) -> i32 {
    ctx.warn(cmd, format!("{what} is not supported by this sandbox"));
    UNSUPPORTED_EXIT
}

impl Ctx<'_, '_> {
    /// Writes a file a command names as its output (`sort -o`, `tee`, `uniq IN OUT`):
    /// `/dev/stdout`, `/dev/stderr` and `/dev/null` are the streams, as on Linux.
    pub(crate) fn write_named(
        &mut self,
        name: &str,
        data: &[u8],
        append: bool,
    ) -> Result<(), crate::vfs::FsError> {
        match self.path(name).as_str() {
            "/dev/stdout" | "/dev/fd/1" => self.io.out(data),
            "/dev/stderr" | "/dev/fd/2" => self.io.err(data),
            "/dev/null" => {}
            p => {
                let p = p.to_owned();
                return self.sh.fs.write(&p, data, append);
            }
        }
        Ok(())
    }

    /// [`parse`], or the status to exit with once the reason is on stderr.
    pub(crate) fn opts(&mut self, spec: &Spec, args: &[String]) -> Result<Parsed, i32> {
        parse(spec, args).map_err(|e| {
            for l in &e.lines {
                self.io.errln(l);
            }
            e.status
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &[Long] = &[
        ("count", 'c', Arg::No),
        ("context", 'C', Arg::Required),
        ("color", 'K', Arg::Optional),
        ("colour", 'K', Arg::Optional),
    ];
    const SPEC: Spec = Spec::new("t", "cnA:C:d:i::", LONG);

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    fn ok(spec: &Spec, a: &[&str]) -> Parsed {
        parse(spec, &args(a)).unwrap()
    }

    #[test]
    fn clusters_values_and_long_forms() {
        let (f, o) = ok(
            &SPEC,
            &[
                "-cn",
                "-A3",
                "x",
                "-A",
                "4",
                "--context=5",
                "--context",
                "6",
            ],
        );
        assert_eq!(
            f,
            vec![
                ('c', None),
                ('n', None),
                ('A', Some("3".into())),
                ('A', Some("4".into())),
                ('C', Some("5".into())),
                ('C', Some("6".into())),
            ]
        );
        assert_eq!(o, vec!["x"]);
        let (f, _) = ok(&SPEC, &["--cou", "--col=never", "--colour", "-i.bak", "-i"]);
        assert_eq!(
            f,
            vec![
                ('c', None),
                ('K', Some("never".into())),
                ('K', None),
                ('i', Some(".bak".into())),
                ('i', None),
            ]
        );
    }

    #[test]
    fn getopt_edge_cases() {
        // `-d=` is the delimiter `=`; `-` is an operand; `--` ends options.
        let (f, o) = ok(&SPEC, &["-d=", "-", "--", "-c", "--count"]);
        assert_eq!(f, vec![('d', Some("=".into()))]);
        assert_eq!(o, vec!["-", "-c", "--count"]);
        let posix = Spec::new("t", "n:", &[]).posix();
        let (f, o) = ok(&posix, &["-n", "1", "echo", "-n", "x"]);
        assert_eq!(f, vec![('n', Some("1".into()))]);
        assert_eq!(o, vec!["echo", "-n", "x"]);
    }

    #[test]
    fn unknown_options_are_refused_or_gnu_errors() {
        let e = parse(&SPEC, &args(&["-x"])).unwrap_err();
        assert_eq!(
            (e.status, e.lines[0].as_str()),
            (2, "t: option '-x' is not supported by this sandbox")
        );
        let e = parse(&SPEC, &args(&["--bogus=1"])).unwrap_err();
        assert_eq!(
            e.lines[0],
            "t: option '--bogus' is not supported by this sandbox"
        );
        let gnu = Spec::new("t", "n", &[])
            .gnu("nrz", &["reverse", "zero"])
            .status(2);
        let e = parse(&gnu, &args(&["-r"])).unwrap_err();
        assert_eq!(
            (e.status, e.lines[0].as_str()),
            (2, "t: option '-r' is not supported by this sandbox")
        );
        let e = parse(&gnu, &args(&["--rev"])).unwrap_err();
        assert_eq!(
            e.lines[0],
            "t: option '--reverse' is not supported by this sandbox"
        );
        let e = parse(&gnu, &args(&["-q"])).unwrap_err();
        assert_eq!(
            (e.status, e.lines[0].as_str()),
            (2, "t: invalid option -- 'q'")
        );
        let e = parse(&gnu, &args(&["--bogus"])).unwrap_err();
        assert_eq!(e.lines[0], "t: unrecognized option '--bogus'");
        let e = parse(&SPEC, &args(&["-A"])).unwrap_err();
        assert_eq!(
            (e.status, e.lines[0].as_str()),
            (1, "t: option requires an argument -- 'A'")
        );
        let e = parse(&SPEC, &args(&["--count=3"])).unwrap_err();
        assert_eq!(e.lines[0], "t: option '--count' doesn't allow an argument");
        let e = parse(&SPEC, &args(&["--co"])).unwrap_err();
        assert_eq!(e.lines[0], "t: option '--co' is ambiguous");
    }
}
