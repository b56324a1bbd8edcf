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
