//! `which` (Debian's debianutils): the path of each name found in `$PATH`, `-a` every one. Here
//! every built-in command is a file in `/usr/bin` and `/bin` (the shell runs `/bin/ls` and
//! `/usr/bin/ls` as `ls`), as on a merged-`/usr` Debian system; shell builtins are not files,
//! except those coreutils also ships as programs. Functions and aliases are invisible to
//! `which`, as to the real one.

use super::Ctx;
use super::opts::{self, Spec, Why};
use crate::interp::R;

/// The directories where the built-in commands are found.
const COMMAND_DIRS: [&str; 2] = ["/usr/bin", "/bin"];

/// bash builtins that also exist as programs on Debian.
const BUILTIN_PROGRAMS: [&str; 8] = [
    "echo", "printf", "test", "[", "true", "false", "pwd", "kill",
];

/// Whether `dir/name` is a file this sandbox runs.
fn is_program(dir: &str, name: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    COMMAND_DIRS.contains(&dir)
        && (super::lookup(name).is_some() || BUILTIN_PROGRAMS.contains(&name))
}

pub(super) fn which(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    // debianutils' `which` is a getopts script: options end at the first name, and `-a` is its
    // only option.
    const SPEC: Spec = Spec::new("which", "a", &[]).gnu("a", &[]).posix();
    let (flags, names) = match opts::parse(&SPEC, args) {
        Ok(x) => x,
        Err(e) => {
            // getopts reads `--name` as the option `-`.
            let opt = match e.why {
                Why::Unknown(o) | Why::Refused(o) if !o.starts_with("--") => o,
                _ => "--".to_owned(),
            };
            // getopts complains on stderr; the script prints its usage on stdout.
            ctx.io.errln(&format!("Illegal option {opt}"));
            ctx.io.out(b"Usage: /usr/bin/which [-a] args\n");
            return Ok(2);
        }
    };
    let all = !flags.is_empty();
    if names.is_empty() {
        return Ok(1);
    }
    let path = ctx.sh.get_var("PATH").unwrap_or_default();
    let mut st = 0;
    let mut out = String::new();
    for name in &names {
        if name.contains('/') {
            let abs = ctx.path(name);
            let (adir, base) = abs.rsplit_once('/').unwrap_or(("", ""));
            let found = if is_program(if adir.is_empty() { "/" } else { adir }, base) {
                true
            } else {
                ctx.sh
                    .fs
                    .stat(&abs)
                    .is_ok_and(|m| m.kind == crate::vfs::Kind::File && m.mode & 0o111 != 0)
            };
            if found {
                out.push_str(name);
                out.push('\n');
            } else {
                st = 1;
            }
            continue;
        }
        let mut found = false;
        for dir in path.split(':') {
            // An empty entry is the current directory.
            let d = if dir.is_empty() { "." } else { dir };
            let hit = is_program(d, name) || {
                let p = ctx.path(&format!("{d}/{name}"));
                ctx.sh
                    .fs
                    .stat(&p)
                    .is_ok_and(|m| m.kind == crate::vfs::Kind::File && m.mode & 0o111 != 0)
            };
            if hit {
                out.push_str(&format!("{d}/{name}\n"));
                found = true;
                if !all {
                    break;
                }
            }
        }
        if !found {
            if crate::shell::absent_here(name) {
                ctx.io.out(out.as_bytes());
                ctx.io
                    .errln(&crate::shell::absent_lookup_message("which", name));
                return Ok(2);
            }
            st = 1;
        }
    }
    ctx.io.out(out.as_bytes());
    Ok(st)
}
