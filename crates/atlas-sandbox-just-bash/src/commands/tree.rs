//! `tree` (2.1): the listing and its report as the real `tree` prints them under `LC_ALL=C`:
//! ASCII lines (`--charset=utf-8` draws the Unicode ones), names in byte order, the root counted
//! among the directories once it shows something, `-a -d -f -i -L -P -I --noreport --dirsfirst --prune
//! --ignore-case -F -r -s -h --filelimit`. Options that print what this sandbox does not
//! know (owners, colours, link targets, HTML/XML) are refused; `-J` is tree's JSON (see `json`).

use super::Ctx;
use super::opts::{self, Arg, Spec, Why};
use super::sink::Sink;
use crate::interp::{R, UNSUPPORTED_EXIT};
use crate::vfs::{self, Kind};

mod json;

#[derive(Default)]
struct Opts {
    all: bool,
    dirs_only: bool,
    full_path: bool,
    no_indent: bool,
    level: Option<usize>,
    include: Vec<regex::Regex>,
    exclude: Vec<regex::Regex>,
    no_report: bool,
    dirs_first: bool,
    prune: bool,
    ignore_case: bool,
    classify: bool,
    reverse: bool,
    sizes: bool,
    human: bool,
    file_limit: Option<usize>,
    unicode: bool,
    /// `-J`: the listing as tree's JSON.
    json: bool,
    roots: Vec<String>,
}

/// tree 2.1's own options: those not implemented here are refused; any other is tree's usage
/// error, as the real tree answers it.
const REAL_SHORT: &str = "acdfghilnpqrstuvxACDFJQNSUXLRHToPI";
const REAL_LONG: &[&str] = &[
    "gitignore",
    "gitfile",
    "matchdirs",
    "metafirst",
    "ignore-case",
    "nolinks",
    "hintro",
    "houtro",
    "inodes",
    "device",
    "sort",
    "dirsfirst",
    "filesfirst",
    "filelimit",
    "si",
    "du",
    "prune",
    "charset",
    "timefmt",
    "fromfile",
    "fflinks",
    "info",
    "infofile",
    "noreport",
    "version",
    "help",
];

const USAGE: &str = "usage: tree [-acdfghilnpqrstuvxACDFJQNSUX] [-L level [-R]] [-H  baseHREF]
\t[-T title] [-o filename] [-P pattern] [-I pattern] [--gitignore]
\t[--gitfile[=]file] [--matchdirs] [--metafirst] [--ignore-case]
\t[--nolinks] [--hintro[=]file] [--houtro[=]file] [--inodes] [--device]
\t[--sort[=]<name>] [--dirsfirst] [--filesfirst] [--filelimit #] [--si]
\t[--du] [--prune] [--charset[=]X] [--timefmt[=]format] [--fromfile]
\t[--fflinks] [--info] [--infofile[=]file] [--noreport] [--version]
\t[--help] [--] [directory ...]";

/// What this sandbox implements. Long-only options get keys no short option has.
const SPEC: Spec = Spec::new(
    "tree",
    "adfiFrshxlnJL:P:I:",
    &[
        ("noreport", 'N', Arg::No),
        ("dirsfirst", 'D', Arg::No),
        ("prune", 'p', Arg::No),
        ("matchdirs", 'm', Arg::No),
        ("ignore-case", 'c', Arg::No),
        ("du", 'u', Arg::No),
        ("filelimit", 'T', Arg::Required),
        ("charset", 'C', Arg::Required),
    ],
)
.gnu(REAL_SHORT, REAL_LONG);

enum Bad {
    /// Not a tree option at all: tree's own usage error.
    Invalid(String),
    /// A value missing after the option.
    Missing(String),
    Level,
    Refused(String),
    Pattern(String),
}

fn patterns(spec: &str, ignore_case: bool) -> Result<Vec<regex::Regex>, Bad> {
    spec.split('|')
        .map(|p| {
            let p = if ignore_case {
                p.to_ascii_lowercase()
            } else {
                p.to_owned()
            };
            crate::interp::pattern_regex(&p, false).ok_or_else(|| Bad::Pattern(spec.to_owned()))
        })
        .collect()
}

fn parse(args: &[String]) -> Result<Opts, Bad> {
    let mut o = Opts::default();
    let (flags, roots) = opts::parse(&SPEC, args).map_err(|e| match e.why {
        Why::Refused(opt) => Bad::Refused(format!("option '{opt}'")),
        Why::Unknown(opt) => match opt.strip_prefix("--") {
            Some(l) => Bad::Invalid(format!("`--{l}'")),
            None => Bad::Invalid(format!("-`{}'", opt.trim_start_matches('-'))),
        },
        Why::MissingValue(opt) => Bad::Missing(opt),
        Why::Other => Bad::Invalid(e.lines[0].trim_start_matches("tree: ").to_owned()),
    })?;
    o.roots = roots;
    let (mut include, mut exclude) = (Vec::new(), Vec::new());
    for (c, v) in flags {
        let v = v.unwrap_or_default();
        match c {
            'a' => o.all = true,
            'J' => o.json = true,
            'd' => o.dirs_only = true,
            'f' => o.full_path = true,
            'i' => o.no_indent = true,
            'F' => o.classify = true,
            'r' => o.reverse = true,
            's' => o.sizes = true,
            'h' => {
                o.sizes = true;
                o.human = true;
            }
            'L' => {
                o.level = Some(
                    v.parse()
                        .ok()
                        .filter(|&n: &usize| n > 0)
                        .ok_or(Bad::Level)?,
                );
            }
            'P' => include.push(v),
            'I' => exclude.push(v),
            'N' => o.no_report = true,
            'D' => o.dirs_first = true,
            'p' => o.prune = true,
            'm' => return Err(Bad::Refused("--matchdirs".to_owned())),
            'c' => o.ignore_case = true,
            'u' => return Err(Bad::Refused("--du (directory totals)".to_owned())),
            'T' => {
                o.file_limit = Some(
                    v.parse()
                        .map_err(|_| Bad::Refused(format!("--filelimit {v}")))?,
                );
            }
            'C' => match v.to_ascii_lowercase().as_str() {
                "ascii" | "us-ascii" | "ansi_x3.4-1968" => o.unicode = false,
                "utf-8" | "utf8" => o.unicode = true,
                _ => return Err(Bad::Refused(format!("--charset={v}"))),
            },
            // One filesystem, no links followed: both are already so here.
            _ => {}
        }
    }
    o.include = include
        .iter()
        .map(|s| patterns(s, o.ignore_case))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    o.exclude = exclude
        .iter()
        .map(|s| patterns(s, o.ignore_case))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    if o.roots.is_empty() {
        o.roots.push(".".to_owned());
    }
    if o.json && (o.sizes || o.classify || o.no_indent || o.file_limit.is_some()) {
        return Err(Bad::Refused(
            "-J with -s, -h, -F, -i or --filelimit".to_owned(),
        ));
    }
    Ok(o)
}

impl Opts {
    fn name_matches(&self, list: &[regex::Regex], name: &str) -> bool {
        let n = if self.ignore_case {
            name.to_ascii_lowercase()
        } else {
            name.to_owned()
        };
        list.iter().any(|r| r.is_match(&n))
    }
}

struct Walk {
    dirs: u64,
    files: u64,
    visited: u64,
    refused_links: bool,
    /// 2 once `--filelimit` kept a directory closed (tree's exit status then).
    limit_hit: i32,
}

pub(super) fn tree(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let o = match parse(args) {
        Ok(o) => o,
        Err(Bad::Missing(opt)) => {
            ctx.io
                .errln(&format!("tree: Missing argument to {opt} option."));
            return Ok(1);
        }
        Err(Bad::Invalid(what)) => {
            ctx.io.errln(&format!("tree: Invalid argument {what}."));
            ctx.io.errln(USAGE);
            return Ok(1);
        }
        Err(Bad::Level) => {
            ctx.io.errln("tree: Invalid level, must be greater than 0.");
            return Ok(1);
        }
        Err(Bad::Refused(what)) => return Ok(opts::unsupported(ctx, "tree", &what)),
        Err(Bad::Pattern(p)) => {
            return Ok(opts::unsupported(
                ctx,
                "tree",
                &format!("the pattern '{p}'"),
            ));
        }
    };
    let mut w = Walk {
        dirs: 0,
        files: 0,
        visited: 0,
        refused_links: false,
        limit_hit: 0,
    };
    let mut sink = Sink::new();
    if o.json {
        return json::tree(ctx, &o, &mut w, &mut sink);
    }
    let mut st = 0;
    for root in &o.roots {
        let path = ctx.path(root);
        match ctx.sh.fs.stat(&path) {
            Ok(m) if m.kind == Kind::Dir => {
                let mark = if o.classify { "/" } else { "" };
                let head = format!("{}{root}{mark}\n", size_prefix(&o, m.size));
                sink.put(ctx, head.as_bytes())?;
                let before = w.dirs + w.files;
                walk(ctx, &o, &mut w, &mut sink, &path, root, "", 1)?;
                // tree 2.1 counts the root among the directories only when it showed something
                // below it.
                if w.dirs + w.files > before {
                    w.dirs += 1;
                }
                st = st.max(w.limit_hit);
            }
            Ok(_) => {
                w.files += 1;
                sink.put(ctx, format!("{root}  [error opening dir]\n").as_bytes())?;
            }
            Err(_) => {
                st = 2;
                sink.put(ctx, format!("{root}  [error opening dir]\n").as_bytes())?;
            }
        }
    }
    if !o.no_report {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let report = if o.dirs_only {
            format!("\n{}\n", plural(w.dirs, "directory", "directories"))
        } else {
            format!(
                "\n{}, {}\n",
                plural(w.dirs, "directory", "directories"),
                plural(w.files, "file", "files")
            )
        };
        sink.put(ctx, report.as_bytes())?;
    }
    sink.flush(ctx)?;
    if w.refused_links {
        ctx.warn(
            "tree",
            "symbolic links were listed without their targets: link targets are not supported by this sandbox",
        );
        return Ok(UNSUPPORTED_EXIT);
    }
    Ok(st)
}

fn human(n: u64) -> String {
    // tree's -h: one decimal under 10, none above, units K M G T P E.
    if n < 1024 {
        return n.to_string();
    }
    let units = ['K', 'M', 'G', 'T', 'P', 'E'];
    let mut v = n as f64;
    let mut u = 0;
    v /= 1024.0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if v < 9.95 {
        format!("{v:.1}{}", units[u])
    } else {
        format!("{:.0}{}", v.round(), units[u])
    }
}

fn size_prefix(o: &Opts, size: u64) -> String {
    if !o.sizes {
        return String::new();
    }
    if o.human {
        format!("[{:>4}]  ", human(size))
    } else {
        format!("[{size:>11}]  ")
    }
}

#[allow(clippy::too_many_arguments)]
fn walk(
    ctx: &mut Ctx<'_, '_>,
    o: &Opts,
    w: &mut Walk,
    sink: &mut Sink,
    dir: &str,
    shown: &str,
    indent: &str,
    depth: usize,
) -> R<()> {
    if o.level.is_some_and(|l| depth > l) {
        return Ok(());
    }
    let entries = listing(ctx, o, w, dir)?;
    let (branch, last_branch, pipe) = if o.unicode {
        ("├── ", "└── ", "│   ")
    } else {
        ("|-- ", "`-- ", "|   ")
    };
    let n = entries.len();
    for (i, e) in entries.into_iter().enumerate() {
        ctx.sh.visit(&mut w.visited)?;
        let last = i + 1 == n;
        let child = vfs::child_path(dir, &e.name);
        let child_shown = format!("{shown}/{}", e.name);
        let mut line = String::new();
        if !o.no_indent {
            line.push_str(indent);
            line.push_str(if last { last_branch } else { branch });
        }
        if o.sizes {
            let size = ctx.sh.fs.stat(&child).map(|m| m.size).unwrap_or(0);
            line.push_str(&size_prefix(o, size));
        }
        line.push_str(if o.full_path { &child_shown } else { &e.name });
        match e.kind {
            Kind::Dir if o.classify => line.push('/'),
            Kind::Symlink => {
                w.refused_links = true;
                if o.classify {
                    line.push('@');
                }
            }
            Kind::File
                if o.classify && ctx.sh.fs.stat(&child).is_ok_and(|m| m.mode & 0o111 != 0) =>
            {
                line.push('*');
            }
            _ => {}
        }
        let mut closed = false;
        // Only a directory tree would open is checked against the limit.
        if e.kind == Kind::Dir
            && let Some(limit) = o.file_limit
            && o.level.is_none_or(|l| depth < l)
        {
            let n = ctx.sh.fs.read_dir(&child).map_or(0, |v| {
                v.iter()
                    .filter(|c| o.all || !c.name.starts_with('.'))
                    .count()
            });
            if n > limit {
                line.push_str(&format!(
                    "  [{n} entries exceeds filelimit, not opening dir]"
                ));
                closed = true;
                w.limit_hit = 2;
            }
        }
        line.push('\n');
        if !sink.put(ctx, line.as_bytes())? {
            return Ok(());
        }
        if e.kind == Kind::Dir {
            w.dirs += 1;
            if closed {
                continue;
            }
            let next = format!("{indent}{}", if last { "    " } else { pipe });
            stacker::maybe_grow(256 * 1024, 4 << 20, || {
                walk(ctx, o, w, sink, &child, &child_shown, &next, depth + 1)
            })?;
        } else {
            w.files += 1;
        }
    }
    Ok(())
}

/// The entries of `dir` tree shows, in its order.
fn listing(ctx: &mut Ctx<'_, '_>, o: &Opts, w: &mut Walk, dir: &str) -> R<Vec<vfs::DirEntry>> {
    let Ok(mut entries) = ctx.sh.fs.read_dir(dir) else {
        return Ok(Vec::new());
    };
    entries.retain(|e| {
        if !o.all && e.name.starts_with('.') {
            return false;
        }
        if o.dirs_only && e.kind != Kind::Dir {
            return false;
        }
        if o.name_matches(&o.exclude, &e.name) {
            return false;
        }
        if !o.include.is_empty() && e.kind != Kind::Dir && !o.name_matches(&o.include, &e.name) {
            return false;
        }
        true
    });
    if o.prune {
        let mut kept = Vec::with_capacity(entries.len());
        for e in entries {
            if e.kind != Kind::Dir || has_shown_files(ctx, o, w, &vfs::child_path(dir, &e.name))? {
                kept.push(e);
            }
        }
        entries = kept;
    }
    entries.sort_by(|a, b| {
        let ord = if o.dirs_first {
            (b.kind == Kind::Dir)
                .cmp(&(a.kind == Kind::Dir))
                .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
        } else {
            a.name.as_bytes().cmp(b.name.as_bytes())
        };
        if o.reverse { ord.reverse() } else { ord }
    });
    if o.dirs_first && o.reverse {
        // `-r` reverses names inside each group; directories still come first.
        entries.sort_by_key(|e| e.kind != Kind::Dir);
    }
    Ok(entries)
}

/// `--prune`: whether a directory shows anything but empty directories.
fn has_shown_files(ctx: &mut Ctx<'_, '_>, o: &Opts, w: &mut Walk, dir: &str) -> R<bool> {
    let Ok(entries) = ctx.sh.fs.read_dir(dir) else {
        return Ok(false);
    };
    for e in entries {
        ctx.sh.visit(&mut w.visited)?;
        if (!o.all && e.name.starts_with('.')) || o.name_matches(&o.exclude, &e.name) {
            continue;
        }
        if e.kind == Kind::Dir {
            let child = vfs::child_path(dir, &e.name);
            if stacker::maybe_grow(256 * 1024, 4 << 20, || has_shown_files(ctx, o, w, &child))? {
                return Ok(true);
            }
        } else if !o.dirs_only && (o.include.is_empty() || o.name_matches(&o.include, &e.name)) {
            return Ok(true);
        }
    }
    Ok(false)
}
