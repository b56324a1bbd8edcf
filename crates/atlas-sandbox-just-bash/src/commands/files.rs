//! Path and file commands: basename dirname mkdir touch rm rmdir cp mv stat env xargs realpath
//! sleep. Writes go to the overlay's memory layer; the disk is never modified.

use std::time::{Duration, Instant};

use super::opts::{Arg, Spec};
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
    const SPEC: Spec = Spec::new(
        "basename",
        "as:z",
        &[
            ("multiple", 'a', Arg::No),
            ("suffix", 's', Arg::Required),
            ("zero", 'z', Arg::No),
        ],
    );
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let zero = flags.iter().any(|(c, _)| *c == 'z');
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
        out.push(if zero { '\0' } else { '\n' });
    }
    ctx.io.out(out.as_bytes());
    Ok(0)
}

pub(super) fn dirname(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    const SPEC: Spec = Spec::new("dirname", "z", &[("zero", 'z', Arg::No)]);
    let (flags, args) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let end = if flags.is_empty() { '\n' } else { '\0' };
    if args.is_empty() {
        ctx.warn("dirname", "missing operand");
        ctx.io.errln("Try 'dirname --help' for more information.");
        return Ok(1);
    }
    let mut out = String::new();
    for a in &args {
        out.push_str(&dir_name(a));
        out.push(end);
    }
    ctx.io.out(out.as_bytes());
    Ok(0)
}

pub(super) fn mkdir(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    const SPEC: Spec = Spec::new(
        "mkdir",
        "pv",
        &[("parents", 'p', Arg::No), ("verbose", 'v', Arg::No)],
    );
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let verbose = flags.iter().any(|(c, _)| *c == 'v');
    let parents = flags.iter().any(|(c, _)| *c == 'p');
    if ops.is_empty() {
        ctx.warn("mkdir", "missing operand");
        return Ok(1);
    }
    let mut st = 0;
    for d in &ops {
        let p = ctx.path(d);
        // `-pv` names every directory it makes, parents first, as written.
        let mut made = Vec::new();
        if verbose {
            let mut prefix = String::new();
            for (k, part) in d.split('/').enumerate() {
                if k > 0 {
                    prefix.push('/');
                }
                prefix.push_str(part);
                if part.is_empty() || part == "." || part == ".." {
                    continue;
                }
                if !ctx.sh.fs.exists(&ctx.path(&prefix))
                    && (parents || prefix.len() == d.trim_end_matches('/').len())
                {
                    made.push(prefix.clone());
                }
            }
        }
        match ctx.sh.fs.mkdir(&p, parents) {
            Err(e) => {
                ctx.warn("mkdir", format!("cannot create directory ‘{d}’: {e}"));
                st = 1;
            }
            Ok(()) => {
                for m in made {
                    ctx.io
                        .out(format!("mkdir: created directory '{m}'\n").as_bytes());
                }
            }
        }
    }
    Ok(st)
}

pub(super) use super::touch::touch;

pub(super) fn rm(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    const SPEC: Spec = Spec::new(
        "rm",
        "dfirRv",
        &[
            ("force", 'f', Arg::No),
            ("recursive", 'r', Arg::No),
            ("dir", 'd', Arg::No),
        ],
    );
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    if flags.iter().any(|(c, _)| matches!(c, 'i' | 'v' | 'd')) {
        let c = flags
            .iter()
            .find(|(c, _)| matches!(c, 'i' | 'v' | 'd'))
            .map_or('i', |f| f.0);
        ctx.warn(
            "rm",
            format!("option '-{c}' is not supported by this sandbox"),
        );
        return Ok(2);
    }
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
    let ops = match ctx.opts(&Spec::new("rmdir", "", &[]), args) {
        Ok((_, ops)) => ops,
        Err(st) => return Ok(st),
    };
    let mut st = 0;
    for f in &ops {
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
    const CP: Spec = Spec::new(
        "cp",
        "afpRr",
        &[
            ("archive", 'a', Arg::No),
            ("force", 'f', Arg::No),
            ("recursive", 'r', Arg::No),
        ],
    );
    const MV: Spec = Spec::new("mv", "f", &[("force", 'f', Arg::No)]);
    let (flags, ops) = match ctx.opts(if is_mv { &MV } else { &CP }, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
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

const STAT_PRINTF: char = '\u{e000}';

const STAT: Spec = Spec::new(
    "stat",
    "c:L",
    &[
        ("format", 'c', Arg::Required),
        ("printf", STAT_PRINTF, Arg::Required),
        ("dereference", 'L', Arg::No),
    ],
)
.gnu(
    "c:fLt",
    &["file-system", "terse", "cached", "help", "version"],
);

pub(super) fn stat(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, ops) = match ctx.opts(&STAT, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    // `-c` adds a newline; `--printf` takes backslash escapes and adds none.
    let mut format: Option<(String, bool)> = None;
    for (c, v) in flags {
        match c {
            'c' => format = v.map(|f| (f, false)),
            STAT_PRINTF => format = v.map(|f| (f, true)),
            _ => {}
        }
    }
    if ops.is_empty() {
        ctx.warn("stat", "missing operand");
        ctx.io.errln("Try 'stat --help' for more information.");
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
        match &format {
            Some((fmt, printf)) => match stat_format(fmt, *printf, f, &m) {
                Ok(s) => {
                    out.push_str(&s);
                    if !printf {
                        out.push('\n');
                    }
                }
                Err(directive) => {
                    ctx.io.out(out.as_bytes());
                    ctx.warn(
                        "stat",
                        format!("format directive '{directive}' is not supported by this sandbox"),
                    );
                    return Ok(2);
                }
            },
            None => {
                // GNU's default form also shows the device, the inode's access, change and
                // birth times, which the overlay does not keep: a shortened form would be a
                // different answer, so the whole form is refused and `-c` named instead.
                ctx.io.out(out.as_bytes());
                ctx.warn(
                    "stat",
                    "the default output form (device, access/change/birth times) is not supported by this sandbox; use -c FORMAT, e.g. stat -c '%n %s %A %y' FILE",
                );
                return Ok(2);
            }
        }
    }
    ctx.io.out(out.as_bytes());
    Ok(st)
}

/// `stat`'s `%F`.
fn file_kind(m: &crate::vfs::Meta) -> &'static str {
    match m.kind {
        Kind::File if m.size == 0 => "regular empty file",
        Kind::File => "regular file",
        Kind::Dir => "directory",
        Kind::Symlink => "symbolic link",
        Kind::Special => "fifo",
    }
}

/// One `stat -c`/`--printf` format over one file; `Err` names a directive the sandbox cannot
/// answer (times other than the mtime, devices, mount points, SELinux contexts).
fn stat_format(
    fmt: &str,
    printf: bool,
    name: &str,
    m: &crate::vfs::Meta,
) -> Result<String, String> {
    let fmt = if printf {
        String::from_utf8_lossy(&super::unescape_ansi_bytes(fmt)).into_owned()
    } else {
        fmt.to_owned()
    };
    let b = fmt.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            let next = fmt[i..].find('%').map_or(fmt.len(), |k| i + k);
            out.push_str(&fmt[i..next]);
            i = next;
            continue;
        }
        let start = i;
        i += 1;
        let fl = i;
        while i < b.len() && matches!(b[i], b'-' | b'+' | b' ' | b'#' | b'0' | b'\'' | b'I') {
            i += 1;
        }
        let flags = &fmt[fl..i];
        let w = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let width: usize = fmt[w..i].parse().unwrap_or(0).min(10_000);
        let mut prec: Option<usize> = None;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let p = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            prec = Some(fmt[p..i].parse().unwrap_or(0));
        }
        let Some(&conv) = b.get(i) else {
            out.push_str(&fmt[start..]);
            break;
        };
        if !conv.is_ascii() {
            // GNU prints `?` and then the character's other bytes raw, which a text answer
            // cannot hold: refuse the directive, whole character included (never cut inside it).
            let end = fmt[i..]
                .chars()
                .next()
                .map_or(b.len(), |c| i + c.len_utf8());
            return Err(fmt[start..end].to_owned());
        }
        i += 1;
        let type_bits = match m.kind {
            Kind::Dir => 0o040000,
            Kind::Symlink => 0o120000,
            Kind::Special => 0o010000,
            Kind::File => 0o100000,
        };
        let text = match conv {
            b'%' => "%".to_owned(),
            b'n' => name.to_owned(),
            b'N' => format!("'{name}'"),
            b's' => m.size.to_string(),
            b'F' => file_kind(m).to_owned(),
            b'a' if flags.contains('#') => format!("{:#o}", m.mode).replace("0o", "0"),
            b'a' => format!("{:o}", m.mode),
            b'A' => mode_str(m),
            b'f' => format!("{:x}", type_bits | m.mode),
            b'h' => m.nlink.to_string(),
            b'i' => m.ino.to_string(),
            b'b' => m.blocks.to_string(),
            b'B' => "512".to_owned(),
            b'o' => "4096".to_owned(),
            b'Y' => match prec {
                Some(p) if p > 0 => {
                    let frac = format!("{:09}", m.mtime_nsec);
                    let frac = if p <= 9 {
                        frac[..p].to_owned()
                    } else {
                        frac + &"0".repeat(p - 9)
                    };
                    format!("{}.{frac}", m.mtime)
                }
                _ => m.mtime.to_string(),
            },
            b'y' => walk::full_stamp(m.mtime, m.mtime_nsec),
            b'U' | b'G' => "user".to_owned(),
            b'u' | b'g' => "1000".to_owned(),
            b'x' | b'X' | b'z' | b'Z' | b'w' | b'W' | b'd' | b'D' | b't' | b'T' | b'm' | b'C'
            | b'r' | b'R' => return Err(fmt[start..i].to_owned()),
            _ => "?".to_owned(),
        };
        let len = text.chars().count();
        if len < width {
            let pad = width - len;
            if flags.contains('-') {
                out.push_str(&text);
                out.push_str(&" ".repeat(pad));
            } else if flags.contains('0') && text.bytes().all(|c| c.is_ascii_digit()) {
                out.push_str(&"0".repeat(pad));
                out.push_str(&text);
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(&text);
            }
        } else {
            out.push_str(&text);
        }
    }
    Ok(out)
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
    const SPEC: Spec = Spec::new(
        "env",
        "iu:0",
        &[
            ("ignore-environment", 'i', Arg::No),
            ("unset", 'u', Arg::Required),
            ("null", '0', Arg::No),
        ],
    )
    .gnu(
        "0iu:vC:S:",
        &[
            "chdir",
            "split-string",
            "block-signal",
            "default-signal",
            "ignore-signal",
            "list-signal-handling",
            "debug",
            "help",
            "version",
        ],
    )
    .status(125)
    .posix();
    let (flags, mut ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut clear = false;
    let mut unset = Vec::new();
    let mut end = '\n';
    for (c, v) in flags {
        match c {
            'i' => clear = true,
            'u' => unset.extend(v),
            _ => end = '\0',
        }
    }
    // `env - CMD`: a lone `-` is `-i`.
    if ops.first().is_some_and(|o| o == "-") {
        clear = true;
        ops.remove(0);
    }
    let mut assigns = Vec::new();
    let mut i = 0;
    while let Some((k, v)) = ops.get(i).and_then(|a| a.split_once('=')) {
        assigns.push((k.to_owned(), v.to_owned()));
        i += 1;
    }
    let args = &ops;
    let rest = &args[i..];
    if rest.is_empty() {
        let mut pairs = if clear {
            Vec::new()
        } else {
            // bash gives each command it runs `_`, the command's path, after the rest.
            let mut p = ctx.sh.env_pairs_bash_order();
            p.push(("_".to_owned(), "/usr/bin/env".to_owned()));
            p
        };
        pairs.retain(|(k, _)| !unset.contains(k));
        for (k, v) in assigns {
            pairs.retain(|(pk, _)| *pk != k);
            pairs.push((k, v));
        }
        let mut out = String::new();
        for (k, v) in pairs {
            out.push_str(&format!("{k}={v}{end}"));
        }
        ctx.io.out(out.as_bytes());
        return Ok(0);
    }
    if clear {
        ctx.warn(
            "env",
            "running a command with an empty environment (-i) is not supported by this sandbox",
        );
        return Ok(2);
    }
    // `-u NAME` and `NAME=value` hold for the command only: each changed variable is put back
    // (value and export) afterwards.
    let exported: std::collections::HashSet<String> =
        ctx.sh.env_pairs().into_iter().map(|(k, _)| k).collect();
    let mut changed: Vec<String> = unset.clone();
    changed.extend(assigns.iter().map(|(k, _)| k.clone()));
    changed.sort();
    changed.dedup();
    let saved: Vec<(String, Option<String>, bool)> = changed
        .iter()
        .map(|n| (n.clone(), ctx.sh.get_var(n), exported.contains(n)))
        .collect();
    for u in &unset {
        ctx.sh.unset(u, false);
    }
    let mut run = Ok(());
    for (k, v) in assigns {
        run = ctx.sh.set_var(&k, v);
        if run.is_err() {
            break;
        }
        ctx.sh.export(&k);
    }
    // The command reads env's own standard input.
    let st = match run {
        Ok(()) => ctx.sh.dispatch(rest, ctx.stdin, ctx.io),
        Err(e) => Err(e),
    };
    for (n, old, was_exported) in saved {
        ctx.sh.unset(&n, false);
        if let Some(v) = old {
            ctx.sh.set_var(&n, v)?;
            if was_exported {
                ctx.sh.export(&n);
            }
        }
    }
    st
}

const XARGS: Spec = Spec::new(
    "xargs",
    "0a:d:E:e::I:i::L:l::n:P:rt",
    &[
        ("null", '0', Arg::No),
        ("arg-file", 'a', Arg::Required),
        ("eof", 'e', Arg::Optional),
        ("delimiter", 'd', Arg::Required),
        ("replace", 'i', Arg::Optional),
        ("max-lines", 'l', Arg::Optional),
        ("max-args", 'n', Arg::Required),
        ("max-procs", 'P', Arg::Required),
        ("no-run-if-empty", 'r', Arg::No),
        ("verbose", 't', Arg::No),
    ],
)
.gnu(
    "0a:d:E:e::I:i::L:l::n:oP:prs:tx",
    &[
        "interactive",
        "max-chars",
        "open-tty",
        "exit",
        "process-slot-var",
        "show-limits",
        "help",
        "version",
    ],
)
.posix();

pub(super) fn xargs(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut max_args: Option<usize> = None;
    let mut max_lines: Option<usize> = None;
    let mut replace: Option<String> = None;
    let mut nul = false;
    let mut no_run_empty = false;
    let mut trace = false;
    let mut delim: Option<u8> = None;
    let mut arg_file: Option<String> = None;
    let mut eof: Option<String> = None;
    let (flags, cmd) = match ctx.opts(&XARGS, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let number = |ctx: &mut Ctx<'_, '_>, v: &Option<String>, min: usize| -> Option<usize> {
        let v = v.as_deref().unwrap_or("1");
        match v.parse::<usize>() {
            Ok(n) if n >= min => Some(n),
            _ => {
                ctx.warn("xargs", format!("invalid number \"{v}\" for -n option"));
                None
            }
        }
    };
    // Of -I/-i, -n and -L the last one given wins; GNU warns about each it drops.
    let drop = |ctx: &mut Ctx<'_, '_>, was: &str, now: &str| {
        ctx.warn(
            "xargs",
            format!(
                "warning: options {was} and {now} are mutually exclusive, ignoring previous {} value",
                was.split('/').next().unwrap_or(was)
            ),
        );
    };
    for (c, v) in &flags {
        match c {
            'n' => match number(ctx, v, 1) {
                Some(n) => {
                    if replace.take().is_some() {
                        drop(ctx, "--replace", "--max-args/-n");
                    }
                    if max_lines.take().is_some() {
                        drop(ctx, "--max-lines", "--max-args/-n");
                    }
                    max_args = Some(n);
                }
                None => return Ok(1),
            },
            'L' | 'l' => match number(ctx, v, 1) {
                Some(n) => {
                    if replace.take().is_some() {
                        drop(ctx, "--replace", "-L");
                    }
                    if max_args.take().is_some() {
                        drop(ctx, "--max-args", "-L");
                    }
                    max_lines = Some(n);
                }
                None => return Ok(1),
            },
            'I' | 'i' => {
                if max_args.take().is_some() {
                    drop(ctx, "--max-args", "--replace/-I/-i");
                }
                if max_lines.take().is_some() {
                    drop(ctx, "--max-lines", "--replace/-I/-i");
                }
                replace = if *c == 'I' {
                    v.clone()
                } else {
                    Some(v.clone().unwrap_or_else(|| "{}".to_owned()))
                };
            }
            'd' => {
                delim = v
                    .as_deref()
                    .and_then(|d| crate::commands::unescape_ansi(d).bytes().next());
            }
            '0' => nul = true,
            'a' => arg_file = v.clone(),
            // An empty end-of-file string is none.
            'E' | 'e' => eof = v.clone().filter(|e| !e.is_empty()),
            'r' => no_run_empty = true,
            't' => trace = true,
            // Commands run one after another: -P changes timing, not what they print.
            _ => {}
        }
    }
    let mut cmd = cmd;
    if cmd.is_empty() {
        cmd.push("echo".to_owned());
    }
    if eof.is_some() && (nul || delim.is_some()) {
        ctx.warn(
            "xargs",
            "warning: the -E option has no effect if -0 or -d is used.\n",
        );
        eof = None;
    }
    // With -a the items come from the file and the commands read xargs's own stdin.
    let input = match &arg_file {
        Some(f) => match ctx.read_operand(f) {
            Ok(d) => d.to_vec(),
            Err(e) => {
                ctx.warn("xargs", format!("Cannot open input file '{f}': {e}"));
                return Ok(1);
            }
        },
        None => ctx.stdin.take_all().to_vec(),
    };
    // `-L n`: the items of n non-blank input lines per command (a line ending in a blank
    // continues on the next, as GNU's does).
    let mut line_groups: Option<Vec<Vec<String>>> = None;
    if let Some(n) = max_lines
        && replace.is_none()
        && !nul
        && delim.is_none()
    {
        let text = String::from_utf8_lossy(&input);
        let mut lines: Vec<Vec<String>> = Vec::new();
        let mut pending: Vec<String> = Vec::new();
        let mut ended = false;
        for l in text.lines() {
            match split_xargs(l) {
                Ok(v) => {
                    for item in v {
                        if eof.as_ref() == Some(&item) {
                            ended = true;
                            break;
                        }
                        pending.push(item);
                    }
                }
                Err(e) => {
                    ctx.warn("xargs", e);
                    return Ok(1);
                }
            }
            if ended {
                break;
            }
            if l.ends_with([' ', '\t']) || pending.is_empty() {
                continue;
            }
            lines.push(std::mem::take(&mut pending));
        }
        if !pending.is_empty() {
            lines.push(pending);
        }
        line_groups = Some(lines.chunks(n).map(|c| c.concat()).collect());
    }
    let from_file = arg_file.is_some();
    let run = |ctx: &mut Ctx<'_, '_>, argv: &[String]| -> R<i32> {
        if trace {
            ctx.io.errln(&argv.join(" "));
        }
        if from_file {
            let mut sub = crate::interp::Io::new(ctx.sh.limits.max_output_bytes);
            let st = ctx.sh.dispatch(argv, ctx.stdin, &mut sub)?;
            let (o, e) = sub.into_streams();
            ctx.io.out(&o);
            ctx.io.err(&e);
            return Ok(st);
        }
        walk::run_argv(ctx, argv)
    };
    let items: Vec<String> = if line_groups.is_some() {
        line_groups.iter().flatten().flatten().cloned().collect()
    } else if nul || delim.is_some() {
        let d = if nul { 0 } else { delim.unwrap_or(b'\n') };
        let mut items: Vec<String> = input
            .split(|b| *b == d)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        // A delimiter at the end ends the last item; it does not start an empty one.
        if items.last().is_some_and(String::is_empty) {
            items.pop();
        }
        items
    } else if replace.is_some() {
        String::from_utf8_lossy(&input)
            .lines()
            .map(|l| l.trim_start().to_owned())
            .take_while(|l| eof.as_ref() != Some(l))
            .filter(|l| !l.is_empty())
            .collect()
    } else {
        match split_xargs(&String::from_utf8_lossy(&input)) {
            Ok(mut v) => {
                if let Some(at) = v.iter().position(|i| eof.as_ref() == Some(i)) {
                    v.truncate(at);
                }
                v
            }
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
        let s = run(ctx, &cmd)?;
        return Ok(if s != 0 { 123 } else { 0 });
    }
    if let Some(r) = replace {
        for it in items {
            let argv: Vec<String> = cmd.iter().map(|a| a.replace(&r, &it)).collect();
            if run(ctx, &argv)? != 0 {
                st = 123;
            }
        }
        return Ok(st);
    }
    let chunk = max_args.unwrap_or(usize::MAX).max(1);
    let groups: Vec<Vec<String>> = match line_groups {
        Some(g) => g,
        None => items
            .chunks(chunk.min(items.len().max(1)))
            .map(<[String]>::to_vec)
            .collect(),
    };
    for group in groups {
        let mut argv = cmd.clone();
        argv.extend(group);
        let s = run(ctx, &argv)?;
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

pub(super) fn sleep(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let args = match ctx.opts(&Spec::new("sleep", "", &[]), args) {
        Ok((_, ops)) => ops,
        Err(st) => return Ok(st),
    };
    if args.is_empty() {
        ctx.warn("sleep", "missing operand");
        ctx.io.errln("Try 'sleep --help' for more information.");
        return Ok(1);
    }
    let mut total = 0f64;
    for a in &args {
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
    const SPEC: Spec = Spec::new(
        "file",
        "bL",
        &[("brief", 'b', Arg::No), ("dereference", 'L', Arg::No)],
    );
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    if ops.is_empty() {
        ctx.io
            .errln("Usage: file [-bcdEhikLlNnprsSvzZ0] [--apple] [--extension] [--mime-encoding]");
        return Ok(1);
    }
    let brief = flags.iter().any(|(c, _)| *c == 'b');
    // GNU pads after the colon so that the descriptions of all operands line up.
    let width = ops.iter().map(|f| f.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for f in &ops {
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
            let pad = " ".repeat(width - f.chars().count());
            out.push_str(&format!("{f}:{pad} {kind}\n"));
        }
    }
    ctx.io.out(out.as_bytes());
    Ok(0)
}
