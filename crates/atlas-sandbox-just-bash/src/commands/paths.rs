//! `realpath` and `readlink`: paths resolved lexically over the overlay (it holds no symlinks
//! the sandbox follows), with GNU's existence rules and `realpath --relative-to/--relative-base`.

use super::Ctx;
use super::opts::{Arg, Spec};
use crate::interp::R;
use crate::vfs::{self, Kind};

pub(super) fn realpath(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    const SPEC: Spec = Spec::new(
        "realpath",
        "emLPqsz",
        &[
            ("canonicalize-existing", 'e', Arg::No),
            ("canonicalize-missing", 'm', Arg::No),
            ("logical", 'L', Arg::No),
            ("physical", 'P', Arg::No),
            ("quiet", 'q', Arg::No),
            ("strip", 's', Arg::No),
            ("no-symlinks", 's', Arg::No),
            ("zero", 'z', Arg::No),
            ("relative-to", 'R', Arg::Required),
            ("relative-base", 'B', Arg::Required),
        ],
    )
    .gnu("eEmLPqsz", &["help", "version"]);
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let has = |k: char| flags.iter().any(|(c, _)| *c == k);
    let mode = flags
        .iter()
        .rev()
        .find_map(|(c, _)| matches!(c, 'e' | 'm').then_some(*c));
    let (quiet, end) = (has('q'), if has('z') { '\0' } else { '\n' });
    if ops.is_empty() {
        ctx.warn("realpath", "missing operand");
        ctx.io.errln("Try 'realpath --help' for more information.");
        return Ok(1);
    }
    let mode = mode.unwrap_or('E');
    let value = |k: char| {
        flags
            .iter()
            .rev()
            .find(|(c, _)| *c == k)
            .and_then(|f| f.1.clone())
    };
    let (to, base) = (value('R'), value('B'));
    if to.is_none() && base.is_none() {
        return resolve_paths(ctx, "realpath", &ops, mode, quiet, Some(end));
    }
    // GNU: --relative-base alone is also the directory to be relative to; a --relative-to
    // outside the base makes every answer absolute.
    let to = to.or_else(|| base.clone());
    let mut dirs = Vec::new();
    for d in [&to, &base].into_iter().flatten() {
        let p = ctx.path(d);
        let ok = match mode {
            'm' => true,
            'e' => ctx.sh.fs.exists(&p),
            _ => ctx.sh.fs.exists(&p) || ctx.sh.fs.is_dir(vfs::parent(&p)),
        };
        if !ok || d.is_empty() {
            ctx.warn("realpath", format!("{d}: No such file or directory"));
            return Ok(1);
        }
        if mode == 'e' && !ctx.sh.fs.is_dir(&p) {
            ctx.warn("realpath", format!("{d}: Not a directory"));
            return Ok(1);
        }
        dirs.push(p);
    }
    let can_to = dirs[0].clone();
    let (rel_to, rel_base) = match dirs.get(1) {
        None => (Some(can_to), None),
        Some(b) if path_prefix(b, &can_to) => (Some(can_to), Some(b.clone())),
        Some(_) => (None, None),
    };
    let mut out = String::new();
    let mut st = 0;
    for a in &ops {
        let p = ctx.path(a);
        let ok = match mode {
            'm' => true,
            'e' => ctx.sh.fs.exists(&p),
            _ => ctx.sh.fs.exists(&p) || ctx.sh.fs.is_dir(vfs::parent(&p)),
        };
        if !ok || a.is_empty() {
            if !quiet {
                ctx.warn("realpath", format!("{a}: No such file or directory"));
            }
            st = 1;
            continue;
        }
        match &rel_to {
            Some(t) if rel_base.as_ref().is_none_or(|b| path_prefix(b, &p)) => {
                out.push_str(&relative(&p, t));
            }
            _ => out.push_str(&p),
        }
        out.push(end);
    }
    ctx.io.out(out.as_bytes());
    Ok(st)
}

/// Whether `path` is `prefix` or below it (`/` is the prefix of every path).
fn path_prefix(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|r| r.starts_with('/'))
}

/// `path` relative to the directory `dir`, both absolute and canonical.
fn relative(path: &str, dir: &str) -> String {
    let p: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let d: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
    let common = p.iter().zip(&d).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; d.len() - common];
    parts.extend(&p[common..]);
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// `realpath` and `readlink -f/-e/-m`: `e` needs every component, `E` all but the last, `m`
/// none. Paths resolve lexically (the layer holds no symlinks the sandbox follows).
fn resolve_paths(
    ctx: &mut Ctx<'_, '_>,
    cmd: &str,
    ops: &[String],
    mode: char,
    quiet: bool,
    end: Option<char>,
) -> R<i32> {
    let mut out = String::new();
    let mut st = 0;
    for a in ops {
        let p = ctx.path(a);
        let ok = match mode {
            'm' => true,
            'e' => ctx.sh.fs.exists(&p),
            _ => ctx.sh.fs.exists(&p) || ctx.sh.fs.is_dir(vfs::parent(&p)),
        };
        if ok && !a.is_empty() {
            out.push_str(&p);
            out.extend(end);
        } else {
            if !quiet {
                ctx.warn(cmd, format!("{a}: No such file or directory"));
            }
            st = 1;
        }
    }
    ctx.io.out(out.as_bytes());
    Ok(st)
}

pub(super) fn readlink(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    const SPEC: Spec = Spec::new(
        "readlink",
        "efmnqsvz",
        &[
            ("canonicalize", 'f', Arg::No),
            ("canonicalize-existing", 'e', Arg::No),
            ("canonicalize-missing", 'm', Arg::No),
            ("no-newline", 'n', Arg::No),
            ("quiet", 'q', Arg::No),
            ("silent", 's', Arg::No),
            ("verbose", 'v', Arg::No),
            ("zero", 'z', Arg::No),
        ],
    );
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let has = |k: char| flags.iter().any(|(c, _)| *c == k);
    if ops.is_empty() {
        ctx.warn("readlink", "missing operand");
        ctx.io.errln("Try 'readlink --help' for more information.");
        return Ok(1);
    }
    let mode = flags
        .iter()
        .rev()
        .find_map(|(c, _)| matches!(c, 'e' | 'f' | 'm').then_some(*c));
    let Some(mode) = mode else {
        // Plain `readlink`: a symlink's target, else nothing and status 1.
        for a in &ops {
            let p = ctx.path(a);
            if ctx.sh.fs.stat(&p).is_ok_and(|m| m.kind == Kind::Symlink) {
                ctx.warn(
                    "readlink",
                    "reading a symbolic link's target is not supported by this sandbox",
                );
                return Ok(2);
            }
        }
        return Ok(1);
    };
    let mode = if mode == 'f' { 'E' } else { mode };
    // `-n` drops the newline after a single name (GNU ignores it for several).
    let end = if has('z') {
        Some('\0')
    } else if has('n') && ops.len() == 1 {
        None
    } else {
        Some('\n')
    };
    // readlink is quiet unless `-v`.
    resolve_paths(ctx, "readlink", &ops, mode, !has('v'), end)
}
