//! Path and file commands: basename dirname mkdir touch rm rmdir cp mv stat env xargs realpath
//! sleep. Writes go to the overlay's memory layer; the disk is never modified.

use std::time::{Duration, Instant};

use super::{Ctx, walk};
use crate::interp::R;
use crate::vfs::{self, FsError, Kind};

fn base_name(s: &str) -> String {
    let t = s.trim_end_matches('/');
    if t.is_empty() {
        return if s.is_empty() {
            String::new()
        } else {
            "/".to_owned()
        };
    }
    t.rsplit('/').next().unwrap_or(t).to_owned()
}

fn dir_name(s: &str) -> String {
    let t = s.trim_end_matches('/');
    if t.is_empty() {
        return if s.starts_with('/') {
            "/".to_owned()
        } else {
            ".".to_owned()
        };
    }
    match t.rfind('/') {
        None => ".".to_owned(),
        Some(i) => {
            let d = t[..i].trim_end_matches('/');
            if d.is_empty() {
                "/".to_owned()
            } else {
                d.to_owned()
            }
        }
    }
}

pub(super) fn basename(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let Some((flags, ops)) = ctx.flags_or_warn("basename", args, "s") else {
        return Ok(1);
    };
    let mut multiple = false;
    let mut suffix: Option<String> = None;
    for (c, v) in flags {
        match c {
            'a' => multiple = true,
            's' => {
                suffix = v;
                multiple = true;
            }
            'z' => {}
            other => {
                ctx.warn("basename", format!("invalid option -- '{other}'"));
                return Ok(1);
            }
        }
    }
    if ops.is_empty() {
        ctx.warn("basename", "missing operand");
        ctx.io.errln("Try 'basename --help' for more information.");
        return Ok(1);
    }
    let (names, suffix) = if multiple {
        (ops.clone(), suffix)
    } else {
        if ops.len() > 2 {
            ctx.warn("basename", format!("extra operand ‘{}’", ops[2]));
            ctx.io.errln("Try 'basename --help' for more information.");
            return Ok(1);
        }
        (vec![ops[0].clone()], ops.get(1).cloned())
    };
    let mut out = String::new();
    for n in names {
        let mut b = base_name(&n);
        if let Some(s) = &suffix
            && b.len() > s.len()
            && b.ends_with(s.as_str())
        {
            b.truncate(b.len() - s.len());
        }
        out.push_str(&b);
        out.push('\n');
    }
    ctx.io.out(out.as_bytes());
    Ok(0)
}

pub(super) fn dirname(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    if args.is_empty() {
        ctx.warn("dirname", "missing operand");
        ctx.io.errln("Try 'dirname --help' for more information.");
        return Ok(1);
    }
    let mut out = String::new();
    for a in args {
        out.push_str(&dir_name(a));
        out.push('\n');
    }
    ctx.io.out(out.as_bytes());
    Ok(0)
}

pub(super) fn mkdir(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let Some((flags, ops)) = ctx.flags_or_warn("mkdir", args, "m") else {
        return Ok(1);
    };
    let parents = flags.iter().any(|(c, _)| *c == 'p');
    if ops.is_empty() {
        ctx.warn("mkdir", "missing operand");
        return Ok(1);
    }
    let mut st = 0;
    for d in &ops {
        let p = ctx.path(d);
        if let Err(e) = ctx.sh.fs.mkdir(&p, parents) {
            ctx.warn("mkdir", format!("cannot create directory ‘{d}’: {e}"));
            st = 1;
        }
    }
    Ok(st)
}

pub(super) fn touch(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let Some((_, ops)) = ctx.flags_or_warn("touch", args, "dtr") else {
        return Ok(1);
    };
    let mut st = 0;
    for f in &ops {
        let p = ctx.path(f);
        let r = if ctx.sh.fs.exists(&p) {
            // Copy-up with a new mtime: the disk file stays untouched.
            ctx.sh.fs.write(&p, b"", true)
        } else {
            ctx.sh.fs.write(&p, b"", false)
        };
        if let Err(e) = r {
            ctx.warn("touch", format!("cannot touch '{f}': {e}"));
            st = 1;
        }
    }
    Ok(st)
}

pub(super) fn rm(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let Some((flags, ops)) = ctx.flags_or_warn("rm", args, "") else {
        return Ok(1);
    };
    let recursive = flags.iter().any(|(c, _)| matches!(c, 'r' | 'R'));
    let force = flags.iter().any(|(c, _)| *c == 'f');
    if ops.is_empty() && !force {
        ctx.warn("rm", "missing operand");
        ctx.io.errln("Try 'rm --help' for more information.");
        return Ok(1);
    }
    let mut st = 0;
    for f in &ops {
        let p = ctx.path(f);
        match ctx.sh.fs.stat(&p) {
            Err(FsError::NotFound) if force => continue,
            Err(e) => {
                ctx.warn("rm", format!("cannot remove '{f}': {e}"));
                st = 1;
            }
            Ok(m) if m.kind == Kind::Dir && !recursive => {
                ctx.warn("rm", format!("cannot remove '{f}': Is a directory"));
                st = 1;
            }
            Ok(_) => {
                if let Err(e) = ctx.sh.fs.remove(&p, recursive) {
                    ctx.warn("rm", format!("cannot remove '{f}': {e}"));
                    st = 1;
                }
            }
        }
    }
    Ok(st)
}

pub(super) fn rmdir(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut st = 0;
    for f in args.iter().filter(|a| !a.starts_with('-')) {
        let p = ctx.path(f);
        let r = match ctx.sh.fs.stat(&p) {
            Ok(m) if m.kind != Kind::Dir => Err(FsError::NotDir),
            Ok(_) => ctx.sh.fs.remove(&p, false),
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            ctx.warn("rmdir", format!("failed to remove '{f}': {e}"));
            st = 1;
        }
    }
    Ok(st)
}

fn copy_tree(
    ctx: &mut Ctx<'_, '_>,
    from: &str,
    to: &str,
    visited: &mut u64,
) -> R<Result<(), FsError>> {
    ctx.sh.visit(visited)?;
    let m = match ctx.sh.fs.stat(from) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    if m.kind == Kind::Dir {
        if let Err(e) = ctx.sh.fs.mkdir(to, true) {
            return Ok(Err(e));
        }
        let entries = match ctx.sh.fs.read_dir(from) {
            Ok(e) => e,
            Err(e) => return Ok(Err(e)),
        };
        for e in entries {
            let (f, t) = (vfs::child_path(from, &e.name), vfs::child_path(to, &e.name));
            if let Err(err) =
                stacker::maybe_grow(256 * 1024, 4 << 20, || copy_tree(ctx, &f, &t, visited))?
            {
                return Ok(Err(err));
            }
        }
        Ok(Ok(()))
    } else {
        Ok(ctx.sh.fs.copy_file(from, to))
    }
}

fn cp_mv(ctx: &mut Ctx<'_, '_>, args: &[String], is_mv: bool) -> R<i32> {
    let cmd = if is_mv { "mv" } else { "cp" };
    let Some((flags, ops)) = ctx.flags_or_warn(cmd, args, "t") else {
        return Ok(1);
    };
    let recursive = is_mv || flags.iter().any(|(c, _)| matches!(c, 'r' | 'R' | 'a'));
    if ops.len() < 2 {
        ctx.warn(
            cmd,
            format!(
                "missing destination file operand after '{}'",
                ops.first().cloned().unwrap_or_default()
            ),
        );
        return Ok(1);
    }
    let (srcs, dst) = ops.split_at(ops.len() - 1);
    let dst = &dst[0];
    let dst_path = ctx.path(dst);
    let dst_is_dir = ctx.sh.fs.is_dir(&dst_path);
    if srcs.len() > 1 && !dst_is_dir {
        ctx.warn(cmd, format!("target '{dst}' is not a directory"));
        return Ok(1);
    }
    let mut st = 0;
    let mut visited = 0;
    for s in srcs {
        let sp = ctx.path(s);
        let target = if dst_is_dir {
            vfs::child_path(&dst_path, &base_name(s))
        } else {
            dst_path.clone()
        };
        let m = match ctx.sh.fs.stat(&sp) {
            Ok(m) => m,
            Err(e) => {
                ctx.warn(cmd, format!("cannot stat '{s}': {e}"));
                st = 1;
                continue;
            }
        };
        if m.kind == Kind::Dir && !recursive {
            ctx.warn(cmd, format!("-r not specified; omitting directory '{s}'"));
            st = 1;
            continue;
        }
        let r = copy_tree(ctx, &sp, &target, &mut visited)?;
        let r = match r {
            Ok(()) if is_mv => ctx.sh.fs.remove(&sp, true),
            other => other,
        };
        if let Err(e) = r {
            if is_mv {
                ctx.warn(cmd, format!("cannot move '{s}' to '{dst}': {e}"));
            } else {
                ctx.warn(cmd, format!("cannot create regular file '{dst}': {e}"));
            }
            st = 1;
        }
    }
    Ok(st)
}

pub(super) fn cp(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    cp_mv(ctx, args, false)
}

pub(super) fn mv(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    cp_mv(ctx, args, true)
}

pub(super) fn stat(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut format: Option<String> = None;
    let mut ops = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "-c" || a == "--format" {
            format = args.get(i + 1).cloned();
            i += 2;
            continue;
        }
        if let Some(f) = a
            .strip_prefix("--format=")
            .or_else(|| a.strip_prefix("--printf="))
        {
            format = Some(f.to_owned());
        } else if a == "-L" || a == "-t" {
        } else {
            ops.push(a.clone());
        }
        i += 1;
    }
    if ops.is_empty() {
        ctx.warn("stat", "missing operand");
        return Ok(1);
    }
    let mut st = 0;
    let mut out = String::new();
    for f in &ops {
        let p = ctx.path(f);
        let m = match ctx.sh.fs.stat(&p) {
            Ok(m) => m,
            Err(e) => {
                ctx.warn("stat", format!("cannot statx '{f}': {e}"));
                st = 1;
                continue;
            }
        };
        let kind = match m.kind {
            Kind::File if m.size == 0 => "regular empty file",
            Kind::File => "regular file",
            Kind::Dir => "directory",
            Kind::Symlink => "symbolic link",
            Kind::Special => "fifo",
        };
        match &format {
            Some(fmt) => {
                let mut s = String::new();
                let mut chars = fmt.chars();
                while let Some(c) = chars.next() {
                    if c != '%' {
                        s.push(c);
                        continue;
                    }
                    match chars.next() {
                        Some('n') => s.push_str(f),
                        Some('s') => s.push_str(&m.size.to_string()),
                        Some('F') => s.push_str(kind),
                        Some('a') => s.push_str(&format!("{:o}", m.mode)),
                        Some('A') => s.push_str(&mode_str(&m)),
                        Some('h') => s.push_str(&m.nlink.to_string()),
                        Some('i') => s.push_str(&m.ino.to_string()),
                        Some('b') => s.push_str(&m.blocks.to_string()),
                        Some('Y') => s.push_str(&m.mtime.to_string()),
                        Some('y') => s.push_str(&walk::full_stamp(m.mtime)),
                        Some('U') | Some('G') => s.push_str("user"),
                        Some('u') | Some('g') => s.push_str("1000"),
                        Some('%') => s.push('%'),
                        Some(o) => {
                            s.push('?');
                            let _ = o;
                        }
                        None => s.push('%'),
                    }
                }
                out.push_str(&s);
                out.push('\n');
            }
            None => {
                out.push_str(&format!(
                    "  File: {f}\n  Size: {:<15} Blocks: {:<10} IO Block: 4096   {kind}\nAccess: ({:04o}/{})  Uid: ( 1000/    user)   Gid: ( 1000/    user)\nModify: {}\n",
                    m.size,
                    m.blocks,
                    m.mode,
                    mode_str(&m),
                    walk::full_stamp(m.mtime)
                ));
            }
        }
    }
    ctx.io.out(out.as_bytes());
    Ok(st)
}

fn mode_str(m: &crate::vfs::Meta) -> String {
    let mut s = String::new();
    s.push(match m.kind {
        Kind::Dir => 'd',
        Kind::Symlink => 'l',
        Kind::Special => 'p',
        Kind::File => '-',
    });
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        s.push(if m.mode & (0o400 >> i) != 0 { c } else { '-' });
    }
    s
}

pub(super) fn env(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut i = 0;
    let mut assigns = Vec::new();
    while i < args.len() {
        let a = &args[i];
        if a == "-i" || a == "-" {
            i += 1;
            continue;
        }
        if let Some((k, v)) = a.split_once('=') {
            assigns.push((k.to_owned(), v.to_owned()));
            i += 1;
            continue;
        }
        break;
    }
    let rest = &args[i..];
    if rest.is_empty() {
        let mut pairs = ctx.sh.env_pairs();
        for (k, v) in assigns {
            pairs.retain(|(pk, _)| *pk != k);
            pairs.push((k, v));
        }
        let mut out = String::new();
        for (k, v) in pairs {
            out.push_str(&format!("{k}={v}\n"));
        }
        ctx.io.out(out.as_bytes());
        return Ok(0);
    }
    if !assigns.is_empty() {
        ctx.warn("env", "running a command with extra variables is not supported in this sandbox; use VAR=value cmd");
        return Ok(2);
    }
    walk::run_argv(ctx, rest)
}

pub(super) fn xargs(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut max_args: Option<usize> = None;
    let mut replace: Option<String> = None;
    let mut nul = false;
    let mut no_run_empty = false;
    let mut delim: Option<u8> = None;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        // GNU xargs: a value option as the last word is a usage error, not an index past the end.
        if matches!(a.as_str(), "-n" | "-I" | "-d" | "-P" | "-L" | "-s") && i + 1 == args.len() {
            ctx.warn(
                "xargs",
                format!("option requires an argument -- '{}'", &a[1..]),
            );
            return Ok(1);
        }
        match a.as_str() {
            "-n" => {
                max_args = args.get(i + 1).and_then(|v| v.parse().ok());
                i += 2;
                continue;
            }
            "-I" => {
                replace = args.get(i + 1).cloned();
                i += 2;
                continue;
            }
            "-d" => {
                delim = args
                    .get(i + 1)
                    .and_then(|d| crate::commands::unescape_ansi(d).bytes().next());
                i += 2;
                continue;
            }
            "-0" | "--null" => nul = true,
            "-r" | "--no-run-if-empty" => no_run_empty = true,
            "-t" | "-p" => {}
            "-P" | "-L" | "-s" => {
                i += 2;
                continue;
            }
            _ if a.starts_with("-n") && a.len() > 2 => max_args = a[2..].parse().ok(),
            _ if a.starts_with("-I") && a.len() > 2 => replace = Some(a[2..].to_owned()),
            _ => break,
        }
        i += 1;
    }
    let mut cmd: Vec<String> = args[i..].to_vec();
    if cmd.is_empty() {
        cmd.push("echo".to_owned());
    }
    let input = ctx.stdin.take_all().to_vec();
    let items: Vec<String> = if nul || delim.is_some() {
        let d = if nul { 0 } else { delim.unwrap_or(b'\n') };
        input
            .split(|b| *b == d)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    } else if replace.is_some() {
        String::from_utf8_lossy(&input)
            .lines()
            .map(|l| l.trim_start().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    } else {
        match split_xargs(&String::from_utf8_lossy(&input)) {
            Ok(v) => v,
            Err(e) => {
                ctx.warn("xargs", e);
                return Ok(1);
            }
        }
    };
    let mut st = 0;
    if items.is_empty() {
        if no_run_empty || replace.is_some() {
            return Ok(0);
        }
        let s = walk::run_argv(ctx, &cmd)?;
        return Ok(if s != 0 { 123 } else { 0 });
    }
    if let Some(r) = replace {
        for it in items {
            let argv: Vec<String> = cmd.iter().map(|a| a.replace(&r, &it)).collect();
            if walk::run_argv(ctx, &argv)? != 0 {
                st = 123;
            }
        }
        return Ok(st);
    }
    let chunk = max_args.unwrap_or(usize::MAX).max(1);
    for group in items.chunks(chunk.min(items.len().max(1))) {
        let mut argv = cmd.clone();
        argv.extend(group.iter().cloned());
        let s = walk::run_argv(ctx, &argv)?;
        if s == 127 {
            return Ok(127);
        }
        if s != 0 {
            st = 123;
        }
    }
    Ok(st)
}

fn split_xargs(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                have = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\n') | None => {
                            let kind = if c == '\'' { "single" } else { "double" };
                            return Err(format!(
                                "unmatched {kind} quote; by default quotes are special to xargs unless you use the -0 option"
                            ));
                        }
                        Some(o) => cur.push(o),
                    }
                }
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    have = true;
                }
            }
            c if c.is_whitespace() => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                cur.push(c);
                have = true;
            }
        }
    }
    if have {
        out.push(cur);
    }
    Ok(out)
}

pub(super) fn realpath(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut out = String::new();
    let mut st = 0;
    for a in args.iter().filter(|a| !a.starts_with('-')) {
        let p = ctx.path(a);
        if ctx.sh.fs.exists(&p) {
            out.push_str(&p);
            out.push('\n');
        } else {
            ctx.warn("realpath", format!("{a}: No such file or directory"));
            st = 1;
        }
    }
    ctx.io.out(out.as_bytes());
    Ok(st)
}

pub(super) fn sleep(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut total = 0f64;
    for a in args {
        let (num, mult) = match a.chars().last() {
            Some('s') => (&a[..a.len() - 1], 1.0),
            Some('m') => (&a[..a.len() - 1], 60.0),
            Some('h') => (&a[..a.len() - 1], 3600.0),
            Some('d') => (&a[..a.len() - 1], 86400.0),
            _ => (a.as_str(), 1.0),
        };
        match num.parse::<f64>() {
            Ok(v) if v >= 0.0 => total += v * mult,
            _ => {
                ctx.warn("sleep", format!("invalid time interval ‘{a}’"));
                return Ok(1);
            }
        }
    }
    // Sleep in small steps so the deadline stops us on time.
    let end = Instant::now() + Duration::from_secs_f64(total.min(1e9));
    loop {
        ctx.sh.tick()?;
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
    Ok(0)
}

pub(super) fn file(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let ops: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if ops.is_empty() {
        ctx.io
            .errln("Usage: file [-bcdEhikLlNnprsSvzZ0] [--apple] [--extension] [--mime-encoding]");
        return Ok(1);
    }
    let brief = args.iter().any(|a| a == "-b");
    let mut out = String::new();
    for f in ops {
        let p = ctx.path(f);
        let kind = match ctx.sh.fs.stat(&p) {
            Err(e) => format!("cannot open `{f}' ({e})"),
            Ok(m) if m.kind == Kind::Dir => "directory".to_owned(),
            Ok(m) if m.kind == Kind::Symlink => "symbolic link".to_owned(),
            Ok(m) if m.kind == Kind::Special => "fifo (named pipe)".to_owned(),
            Ok(_) => match ctx.sh.fs.read(&p) {
                Err(e) => format!("cannot open `{f}' ({e})"),
                Ok(d) if d.is_empty() => "empty".to_owned(),
                Ok(d) if d.contains(&0) => "data".to_owned(),
                Ok(d) => match std::str::from_utf8(&d) {
                    Ok(s) if s.is_ascii() => "ASCII text".to_owned(),
                    Ok(_) => "Unicode text, UTF-8 text".to_owned(),
                    Err(_) => "ISO-8859 text".to_owned(),
                },
            },
        };
        if brief {
            out.push_str(&format!("{kind}\n"));
        } else {
            out.push_str(&format!("{f}: {kind}\n"));
        }
    }
    ctx.io.out(out.as_bytes());
    Ok(0)
}
