//! `chmod` (GNU coreutils): octal modes (`755`) and symbolic ones (`u+x`, `+x`, `go-w`,
//! `a=r,u+w`, `X`) on files of the sandbox; with no `ugoa` the umask (022) limits what is set.
//! Setuid/setgid/sticky letters, copying from another class (`g=u`) and `-R` are refused.

use super::Ctx;
use super::opts::{self, Arg, Spec};
use crate::interp::R;
use crate::vfs::{FsError, Kind};

const SPEC: Spec = Spec::new(
    "chmod",
    "f",
    &[("silent", 'f', Arg::No), ("quiet", 'f', Arg::No)],
)
.gnu(
    "cfvR",
    &[
        "changes",
        "silent",
        "quiet",
        "verbose",
        "no-preserve-root",
        "preserve-root",
        "reference",
        "recursive",
        "help",
        "version",
    ],
);

/// The shell's umask: the sandbox does not model another.
const UMASK: u32 = 0o022;

/// One clause of a symbolic mode: who (bits of `ugo`), the operator, and the permission letters.
struct Clause {
    who: u32,
    op: u8,
    perms: String,
}

/// Why a mode is not applied: GNU's "invalid mode", or a feature refused here.
enum BadMode {
    Invalid,
    Refused(String),
}

fn parse_symbolic(mode: &str) -> Result<Vec<Clause>, BadMode> {
    let mut out = Vec::new();
    for part in mode.split(',') {
        let b = part.as_bytes();
        let mut i = 0;
        let mut who = 0u32;
        while i < b.len() && b"ugoa".contains(&b[i]) {
            who |= match b[i] {
                b'u' => 0o4700,
                b'g' => 0o2070,
                b'o' => 0o1007,
                _ => 0o7777,
            };
            i += 1;
        }
        if i == b.len() {
            return Err(BadMode::Invalid);
        }
        while i < b.len() {
            let op = b[i];
            if !b"+-=".contains(&op) {
                return Err(BadMode::Invalid);
            }
            i += 1;
            let start = i;
            while i < b.len() && !b"+-=".contains(&b[i]) {
                i += 1;
            }
            let perms = &part[start..i];
            for c in perms.chars() {
                match c {
                    'r' | 'w' | 'x' | 'X' => {}
                    's' | 't' => {
                        return Err(BadMode::Refused(format!(
                            "the mode letter '{c}' (setuid, setgid, sticky)"
                        )));
                    }
                    'u' | 'g' | 'o' => {
                        return Err(BadMode::Refused(format!(
                            "copying permissions from another class ('{part}')"
                        )));
                    }
                    _ => return Err(BadMode::Invalid),
                }
            }
            out.push(Clause {
                who,
                op,
                perms: perms.to_owned(),
            });
        }
    }
    Ok(out)
}

/// The new mode of a file with `old` bits under the clauses.
fn apply(clauses: &[Clause], old: u32, is_dir: bool) -> u32 {
    let mut m = old;
    for c in clauses {
        let mut bits = 0u32;
        for p in c.perms.chars() {
            bits |= match p {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                // `X`: execute only for directories and files some class may execute already.
                _ if is_dir || m & 0o111 != 0 => 0o111,
                _ => 0,
            };
        }
        // No `ugoa`: every class, less what the umask withholds.
        let (who, mask) = if c.who == 0 {
            (0o777, !UMASK)
        } else {
            (c.who & 0o777, 0o7777)
        };
        let bits = bits & who & mask;
        m = match c.op {
            b'+' => m | bits,
            b'-' => m & !bits,
            _ => (m & !who) | bits,
        };
    }
    m
}

pub(super) fn chmod(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    // A mode like `-w` or `-x` is an operand, not an option, as GNU reads it.
    let is_mode = |a: &str| {
        a.len() > 1
            && a.starts_with('-')
            && a[1..].chars().all(|c| "rwxXst".contains(c))
            && !a[1..].is_empty()
    };
    let mut dash_modes = Vec::new();
    let rest: Vec<String> = args
        .iter()
        .filter(|a| {
            if is_mode(a) && dash_modes.is_empty() {
                dash_modes.push((*a).clone());
                false
            } else {
                true
            }
        })
        .cloned()
        .collect();
    let (flags, mut operands) = match ctx.opts(&SPEC, &rest) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let quiet = !flags.is_empty();
    if let Some(m) = dash_modes.pop() {
        operands.insert(0, m);
    }
    let Some(mode) = operands.first().cloned() else {
        return Ok(opts::usage(ctx, "chmod", "missing operand", 1));
    };
    if operands.len() < 2 {
        return Ok(opts::usage(
            ctx,
            "chmod",
            format!("missing operand after '{mode}'"),
            1,
        ));
    }
    let octal = !mode.is_empty() && mode.bytes().all(|b| (b'0'..=b'7').contains(&b));
    let clauses = if octal {
        match u32::from_str_radix(&mode, 8) {
            Ok(v) if v <= 0o7777 => {
                if v & 0o7000 != 0 {
                    return Ok(opts::unsupported(
                        ctx,
                        "chmod",
                        "setuid, setgid and sticky bits",
                    ));
                }
                None
            }
            _ => {
                return Ok(opts::usage(
                    ctx,
                    "chmod",
                    format!("invalid mode: '{mode}'"),
                    1,
                ));
            }
        }
    } else {
        match parse_symbolic(&mode) {
            Ok(c) => Some(c),
            Err(BadMode::Invalid) => {
                return Ok(opts::usage(
                    ctx,
                    "chmod",
                    format!("invalid mode: '{mode}'"),
                    1,
                ));
            }
            Err(BadMode::Refused(what)) => return Ok(opts::unsupported(ctx, "chmod", &what)),
        }
    };
    let mut st = 0;
    for f in &operands[1..] {
        let path = ctx.path(f);
        let meta = match ctx.sh.fs.stat(&path) {
            Ok(m) => m,
            Err(e) => {
                if !quiet {
                    ctx.warn("chmod", format!("cannot access '{f}': {e}"));
                }
                st = 1;
                continue;
            }
        };
        let new = match &clauses {
            None => u32::from_str_radix(&mode, 8).unwrap_or(0),
            Some(c) => apply(c, meta.mode & 0o7777, meta.kind == Kind::Dir),
        };
        match ctx.sh.fs.set_mode(&path, new) {
            Ok(()) => {}
            Err(FsError::PermissionDenied) if meta.kind == Kind::Dir => {
                return Ok(opts::unsupported(
                    ctx,
                    "chmod",
                    &format!("changing the mode of the layer's directory '{f}'"),
                ));
            }
            Err(e) => {
                if !quiet {
                    ctx.warn("chmod", format!("changing permissions of '{f}': {e}"));
                }
                st = 1;
            }
        }
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(mode: &str, old: u32) -> u32 {
        match parse_symbolic(mode) {
            Ok(c) => apply(&c, old, false),
            Err(_) => u32::MAX,
        }
    }

    #[test]
    fn symbolic_modes_as_gnu_applies_them() {
        assert_eq!(sym("+x", 0o644), 0o755);
        assert_eq!(sym("u+x", 0o644), 0o744);
        assert_eq!(sym("+w", 0o444), 0o644); // the umask keeps group and other out
        assert_eq!(sym("go-r", 0o644), 0o600);
        assert_eq!(sym("a=r,u+w", 0o755), 0o644);
        assert_eq!(sym("=rx", 0o600), 0o555);
        assert_eq!(sym("a+X", 0o644), 0o644);
        assert_eq!(sym("a+X", 0o744), 0o755);
        assert_eq!(sym("q+x", 0o644), u32::MAX);
    }
}
