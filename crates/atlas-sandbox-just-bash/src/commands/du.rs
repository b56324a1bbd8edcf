//! `du` (GNU coreutils): disk usage of the layer's files as the real `du` reports it on the
//! same files.
//!
//! How the overlay reports sizes: a file or directory of the semantic layer has the block count
//! and size its own filesystem gives (`st_blocks`, `st_size`, read through the confined disk
//! layer), so `du`, `du -k/-m/-h/-B` and `du -b/--apparent-size` print what GNU `du` prints
//! there. A file written in this sandbox lives in memory and counts as it would on tmpfs or
//! ext4 (whole 4 KiB pages). A directory made in this sandbox has no filesystem to measure:
//! `du` over one is refused (exit 2) rather than given a made-up size. Like GNU, an inode is
//! counted once (a second operand inside the first adds nothing).

use std::collections::HashSet;

use super::Ctx;
use super::opts::{self, Arg, Spec};
use super::sink::Sink;
use crate::interp::{R, UNSUPPORTED_EXIT};
use crate::vfs::{self, Kind};

struct Opts {
    all: bool,
    apparent: bool,
    block: u64,
    human: bool,
    total: bool,
    max_depth: Option<usize>,
    separate: bool,
    zero: bool,
    exclude: Vec<regex::Regex>,
    files: Vec<String>,
}

const SPEC: Spec = Spec::new(
    "du",
    "abkmhB:csd:S0xP",
    &[
        ("all", 'a', Arg::No),
        ("apparent-size", 'A', Arg::No),
        ("bytes", 'b', Arg::No),
        ("human-readable", 'h', Arg::No),
        ("block-size", 'B', Arg::Required),
        ("total", 'c', Arg::No),
        ("summarize", 's', Arg::No),
        ("max-depth", 'd', Arg::Required),
        ("separate-dirs", 'S', Arg::No),
        ("null", '0', Arg::No),
        ("one-file-system", 'x', Arg::No),
        ("no-dereference", 'P', Arg::No),
        ("exclude", 'E', Arg::Required),
    ],
)
.gnu(
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
);

enum Bad {
    Depth(String),
    Block(String),
    Refused(String),
}

fn block_size(v: &str) -> Option<u64> {
    let (num, mult) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => {
            let m = match &v[i..] {
                "K" | "KiB" | "k" => 1024,
                "M" | "MiB" => 1 << 20,
                "G" | "GiB" => 1 << 30,
                "KB" | "kB" => 1000,
                "MB" => 1_000_000,
                "GB" => 1_000_000_000,
                _ => return None,
            };
            (&v[..i], m)
        }
        None => (v, 1),
    };
    let n: u64 = if num.is_empty() { 1 } else { num.parse().ok()? };
    n.checked_mul(mult).filter(|&b| b > 0)
}

fn parse(flags: Vec<(char, Option<String>)>, files: Vec<String>) -> Result<Opts, Bad> {
    let mut o = Opts {
        all: false,
        apparent: false,
        block: 1024,
        human: false,
        total: false,
        max_depth: None,
        separate: false,
        zero: false,
        exclude: Vec::new(),
        files,
    };
    for (c, v) in flags {
        let v = v.unwrap_or_default();
        match c {
            'a' => o.all = true,
            'A' => o.apparent = true,
            'b' => {
                o.apparent = true;
                o.block = 1;
                o.human = false;
            }
            'k' => {
                o.block = 1024;
                o.human = false;
            }
            'm' => {
                o.block = 1 << 20;
                o.human = false;
            }
            'h' => o.human = true,
            'B' => {
                o.block = block_size(&v).ok_or(Bad::Block(v))?;
                o.human = false;
            }
            'c' => o.total = true,
            's' => o.max_depth = Some(0),
            'd' => o.max_depth = Some(v.parse().map_err(|_| Bad::Depth(v))?),
            'S' => o.separate = true,
            '0' => o.zero = true,
            'E' => {
                let rx = crate::interp::pattern_regex(&v, false)
                    .ok_or_else(|| Bad::Refused(format!("the pattern '{v}'")))?;
                o.exclude.push(rx);
            }
            // One filesystem, symlinks not followed: already so here.
            _ => {}
        }
    }
    if o.files.is_empty() {
        o.files.push(".".to_owned());
    }
    Ok(o)
}

/// GNU's `-h`: powers of 1024, one decimal below 10, always rounded up.
fn human(bytes: u64) -> String {
    if bytes < 1024 {
        return bytes.to_string();
    }
    let units = ['K', 'M', 'G', 'T', 'P', 'E'];
    let mut u = 0usize;
    let mut base: u128 = 1024;
    while u + 1 < units.len() && u128::from(bytes) >= base * 1024 {
        base *= 1024;
        u += 1;
    }
    let n = u128::from(bytes);
    let tenths = (n * 10).div_ceil(base);
    if tenths < 100 {
        return format!("{}.{}{}", tenths / 10, tenths % 10, units[u]);
    }
    let whole = n.div_ceil(base);
    if whole >= 1024 && u + 1 < units.len() {
        return format!("1.0{}", units[u + 1]);
    }
    format!("{whole}{}", units[u])
}

struct Walk {
    seen: HashSet<u64>,
    visited: u64,
    memory_dir: Option<String>,
}

pub(super) fn du(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let o = match parse(flags, files) {
        Ok(o) => o,
        Err(Bad::Depth(v)) => {
            ctx.warn("du", format!("invalid maximum depth '{v}'"));
            opts::try_help(ctx, "du");
            return Ok(1);
        }
        Err(Bad::Block(v)) => {
            ctx.warn("du", format!("invalid -B argument '{v}'"));
            return Ok(1);
        }
        Err(Bad::Refused(what)) => return Ok(opts::unsupported(ctx, "du", &what)),
    };
    let mut w = Walk {
        seen: HashSet::new(),
        visited: 0,
        memory_dir: None,
    };
    let mut lines: Vec<(u64, String)> = Vec::new();
    let mut grand = 0u64;
    let mut st = 0;
    for f in &o.files {
        let path = ctx.path(f);
        match ctx.sh.fs.stat(&path) {
            Ok(_) => {
                grand += measure(ctx, &o, &mut w, &path, f, 0, &mut lines)?;
            }
            Err(e) => {
                ctx.warn("du", format!("cannot access '{f}': {e}"));
                st = 1;
            }
        }
    }
    if let Some(dir) = w.memory_dir {
        ctx.warn(
            "du",
            format!(
                "'{dir}': the size of a directory made in this sandbox is not supported (it has no filesystem to measure)"
            ),
        );
        return Ok(UNSUPPORTED_EXIT);
    }
    if o.total {
        lines.push((grand, "total".to_owned()));
    }
    let mut sink = Sink::new();
    let end = if o.zero { '\0' } else { '\n' };
    for (bytes, name) in lines {
        let size = if o.human {
            human(bytes)
        } else {
            bytes.div_ceil(o.block).to_string()
        };
        if !sink.put(ctx, format!("{size}\t{name}{end}").as_bytes())? {
            break;
        }
    }
    sink.flush(ctx)?;
    Ok(st)
}

/// The bytes under `path` (blocks × 512, or apparent sizes), listing what the options show.
fn measure(
    ctx: &mut Ctx<'_, '_>,
    o: &Opts,
    w: &mut Walk,
    path: &str,
    shown: &str,
    depth: usize,
    lines: &mut Vec<(u64, String)>,
) -> R<u64> {
    ctx.sh.visit(&mut w.visited)?;
    let Ok(m) = ctx.sh.fs.stat(path) else {
        return Ok(0);
    };
    if m.ino != 0 && !w.seen.insert(m.ino) {
        return Ok(0);
    }
    let own = if o.apparent { m.size } else { m.blocks * 512 };
    let listed = o.max_depth.is_none_or(|d| depth <= d);
    if m.kind != Kind::Dir {
        if listed && (o.all || depth == 0) {
            lines.push((own, shown.to_owned()));
        }
        return Ok(own);
    }
    if m.ino == 0 && w.memory_dir.is_none() {
        w.memory_dir = Some(shown.to_owned());
    }
    let entries = ctx.sh.fs.read_dir(path).unwrap_or_default();
    let mut names: Vec<(String, Kind)> = entries.into_iter().map(|e| (e.name, e.kind)).collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    let mut total = own;
    let mut files_only = own;
    let base = if shown.ends_with('/') && shown.len() > 1 {
        shown.trim_end_matches('/').to_owned()
    } else {
        shown.to_owned()
    };
    for (name, kind) in names {
        if o.exclude.iter().any(|r| r.is_match(&name)) {
            continue;
        }
        let child = vfs::child_path(path, &name);
        let child_shown = if base == "/" {
            format!("/{name}")
        } else {
            format!("{base}/{name}")
        };
        let n = stacker::maybe_grow(256 * 1024, 4 << 20, || {
            measure(ctx, o, w, &child, &child_shown, depth + 1, lines)
        })?;
        total += n;
        if kind != Kind::Dir {
            files_only += n;
        }
    }
    if listed {
        lines.push((
            if o.separate { files_only } else { total },
            shown.to_owned(),
        ));
    }
    Ok(total)
}
