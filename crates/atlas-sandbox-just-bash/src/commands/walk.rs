//! Directory walkers: `find` and `grep -r` in readdir order (as GNU fts), `ls` sorted in the C
//! locale, `tree`.

use super::Ctx;
use crate::interp::{Input, Io, R, pattern_match};
use crate::vfs::{self, Kind, Meta};

/// Regular files under `dir`, pre-order, in the order the directories list them.
pub(crate) fn collect_files(
    ctx: &mut Ctx<'_, '_>,
    dir: &str,
    prefix: &str,
    exclude_dir: &[String],
    out: &mut Vec<(String, String)>,
    visited: &mut u64,
) -> R<()> {
    let Ok(entries) = ctx.sh.fs.read_dir(dir) else {
        return Ok(());
    };
    for e in entries {
        ctx.sh.visit(visited)?;
        let vpath = vfs::child_path(dir, &e.name);
        let disp = format!("{prefix}{}", e.name);
        match e.kind {
            Kind::File => out.push((vpath, disp)),
            Kind::Dir => {
                if exclude_dir.iter().any(|g| pattern_match(g, &e.name)) {
                    continue;
                }
                let prefix = format!("{disp}/");
                stacker::maybe_grow(256 * 1024, 4 << 20, || {
                    collect_files(ctx, &vpath, &prefix, exclude_dir, out, visited)
                })?;
            }
            Kind::Symlink | Kind::Special => {}
        }
    }
    Ok(())
}

/// A shell pattern compiled once per `find` run (not once per file).
#[derive(Debug, Clone)]
enum Glob {
    Literal(String, bool),
    /// `*suffix`: the common `-name '*.yml'` without a regex.
    Suffix(String),
    Re(regex::Regex, bool),
    Invalid,
}

impl Glob {
    fn new(pattern: &str, icase: bool) -> Self {
        if !crate::interp::has_glob(pattern) {
            let lit = crate::interp::unescape_pattern(pattern);
            return Glob::Literal(if icase { lit.to_lowercase() } else { lit }, icase);
        }
        if let Some(rest) = pattern.strip_prefix('*')
            && !icase
            && !crate::interp::has_glob(rest)
            && !rest.contains('\\')
        {
            return Glob::Suffix(rest.to_owned());
        }
        let p = if icase {
            pattern.to_lowercase()
        } else {
            pattern.to_owned()
        };
        match crate::interp::pattern_regex(&p, false) {
            Some(re) => Glob::Re(re, icase),
            None => Glob::Invalid,
        }
    }

    fn matches(&self, s: &str) -> bool {
        match self {
            Glob::Literal(l, false) => l == s,
            Glob::Suffix(x) => s.ends_with(x.as_str()),
            Glob::Literal(l, true) => *l == s.to_lowercase(),
            Glob::Re(re, false) => re.is_match(s),
            Glob::Re(re, true) => re.is_match(&s.to_lowercase()),
            Glob::Invalid => false,
        }
    }
}

#[derive(Debug, Clone)]
enum Expr {
    True,
    Name(Glob),
    Path(Glob),
    Regex(regex::Regex),
    Type(Vec<Kind>),
    Empty,
    Size(char, u64, char),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Print(bool),
    Prune,
    Delete,
    Quit,
    Exec(Vec<String>, bool),
    /// Modified after this time (`-newer FILE`, `-newermt DATE`).
    Newer(i64, u32),
    /// `-mtime`/`-mmin`: age in whole units of this many seconds, compared with `+n`/`-n`/`n`.
    Age(char, i64, i64),
    Links(char, u64),
    /// `-readable`, `-writable`, `-executable`: any of these permission bits.
    Perm(u32),
    Printf(String),
}

/// The predicates that take no argument.
fn bare_predicate(tok: &str) -> Option<Expr> {
    Some(match tok {
        "-empty" => Expr::Empty,
        "-print" | "-print0" => Expr::Print(tok == "-print0"),
        "-prune" => Expr::Prune,
        "-quit" => Expr::Quit,
        "-readable" => Expr::Perm(0o444),
        "-writable" => Expr::Perm(0o222),
        "-executable" => Expr::Perm(0o111),
        "-delete" => Expr::Delete,
        "-true" => Expr::True,
        "-false" => Expr::Not(Box::new(Expr::True)),
        // Options accepted for compatibility; they change nothing here.
        "-depth"
        | "-noleaf"
        | "-xdev"
        | "-mount"
        | "-follow"
        | "-nowarn"
        | "-ignore_readdir_race" => Expr::True,
        _ => return None,
    })
}

/// GNU find's predicates this sandbox does not evaluate (no atime, ctime, owners or other
/// filesystems here).
const FIND_NOT_HERE: &[&str] = &[
    "-amin",
    "-atime",
    "-anewer",
    "-cmin",
    "-ctime",
    "-cnewer",
    "-used",
    "-user",
    "-group",
    "-uid",
    "-gid",
    "-nouser",
    "-nogroup",
    "-perm",
    "-inum",
    "-samefile",
    "-fstype",
    "-context",
    "-newerat",
    "-newerct",
    "-newerBt",
    "-newermm",
    "-newerma",
    "-newermc",
    "-newerca",
    "-neweraa",
    "-newercm",
    "-newercc",
    "-lname",
    "-ilname",
    "-fprint",
    "-fprint0",
    "-fprintf",
    "-fls",
    "-ls",
    // -ok asks on stdin before each run; running anyway would answer for the user.
    "-ok",
    "-okdir",
    "-execdir",
    "-daystart",
    "-regextype",
    "-files0-from",
    "-D",
    "-P",
    "-L",
    "-H",
    "-O0",
    "-O1",
    "-O2",
    "-O3",
];

/// Marks a parse error as a refusal (exit 2) rather than find's usage error (exit 1).
const NOT_SUPPORTED: &str = "\u{0}";

/// `+n`, `-n` or `n`.
fn signed_count(v: &str) -> Option<(char, u64)> {
    let (cmp, rest) = match v.chars().next() {
        Some(c @ ('+' | '-')) => (c, &v[1..]),
        _ => ('=', v),
    };
    Some((cmp, rest.parse().ok()?))
}

/// `-newermt`'s date: `YYYY-MM-DD`, with ` HH:MM[:SS]` or `THH:MM[:SS]`, in UTC, or `@SECONDS`.
fn parse_find_date(d: &str) -> Option<jiff::Timestamp> {
    let d = d.trim();
    if let Some(secs) = d.strip_prefix('@') {
        return jiff::Timestamp::from_second(secs.parse().ok()?).ok();
    }
    let civil: jiff::civil::DateTime = d.parse::<jiff::civil::DateTime>().ok().or_else(|| {
        d.parse::<jiff::civil::Date>()
            .ok()
            .map(|x| x.to_datetime(jiff::civil::Time::midnight()))
    })?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

struct FindParser<'a> {
    /// Stats a path named in the expression (`-newer FILE`).
    stat: &'a dyn Fn(&str) -> Option<Meta>,
    toks: &'a [String],
    pos: usize,
    maxdepth: Option<usize>,
    mindepth: usize,
    has_action: bool,
    depth_first: bool,
}

impl FindParser<'_> {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(String::as_str)
    }

    fn next_arg(&mut self, opt: &str) -> Result<String, String> {
        self.pos += 1;
        let v = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or_else(|| format!("missing argument to `{opt}'"))?;
        self.pos += 1;
        Ok(v)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while matches!(self.peek(), Some("-o" | "-or")) {
            self.pos += 1;
            let r = self.and()?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.unary()?;
        loop {
            match self.peek() {
                None | Some("-o" | "-or" | ")") => break,
                Some("-a" | "-and") => {
                    self.pos += 1;
                }
                _ => {}
            }
            let r = self.unary()?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some("!" | "-not") => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some("(") => {
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(")") {
                    return Err("invalid expression; I was expecting to find a ')' somewhere but did not see one.".to_owned());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(_) => self.primary(),
            None => Err("invalid expression".to_owned()),
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let tok = self.peek().unwrap_or_default().to_owned();
        if let Some(e) = bare_predicate(&tok) {
            self.pos += 1;
            self.has_action |= matches!(e, Expr::Print(_) | Expr::Delete | Expr::Quit);
            // `-depth` visits a directory after its contents; `-delete` implies it (GNU), so a
            // directory is removed once it is empty.
            self.depth_first |= tok == "-depth" || matches!(e, Expr::Delete);
            return Ok(e);
        }
        let e = match tok.as_str() {
            "-name" | "-iname" => Expr::Name(Glob::new(&self.next_arg(&tok)?, tok == "-iname")),
            "-path" | "-wholename" | "-ipath" | "-iwholename" => {
                Expr::Path(Glob::new(&self.next_arg(&tok)?, tok.starts_with("-i")))
            }
            "-regex" | "-iregex" => {
                let r = self.next_arg(&tok)?;
                let re = regex::RegexBuilder::new(&format!("^(?:{r})$"))
                    .case_insensitive(tok == "-iregex")
                    .size_limit(1 << 22)
                    .build()
                    .map_err(|e| format!("invalid regular expression: {e}"))?;
                Expr::Regex(re)
            }
            "-type" | "-xtype" => {
                let t = self.next_arg(&tok)?;
                let mut kinds = Vec::new();
                for c in t.split(',') {
                    kinds.push(match c {
                        "f" => Kind::File,
                        "d" => Kind::Dir,
                        "l" => Kind::Symlink,
                        "p" | "s" | "b" | "c" => Kind::Special,
                        other => return Err(format!("Unknown argument to -type: {other}")),
                    });
                }
                Expr::Type(kinds)
            }
            "-maxdepth" | "-mindepth" => {
                let v = self.next_arg(&tok)?;
                let n: usize = v.parse().map_err(|_| {
                    format!("Expected a positive decimal integer argument to {tok}, but got ‘{v}’")
                })?;
                if tok == "-maxdepth" {
                    self.maxdepth = Some(n);
                } else {
                    self.mindepth = n;
                }
                Expr::True
            }
            "-size" => {
                let v = self.next_arg(&tok)?;
                let (cmp, rest) = match v.chars().next() {
                    Some(c @ ('+' | '-')) => (c, &v[1..]),
                    _ => ('=', v.as_str()),
                };
                let unit = rest
                    .chars()
                    .last()
                    .filter(|c| c.is_ascii_alphabetic())
                    .unwrap_or('b');
                let num: u64 = rest
                    .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                    .parse()
                    .map_err(|_| format!("invalid -size argument `{v}'"))?;
                Expr::Size(cmp, num, unit)
            }
            "-exec" => {
                self.pos += 1;
                let mut argv = Vec::new();
                loop {
                    let Some(t) = self.toks.get(self.pos) else {
                        return Err("missing argument to `-exec'".to_owned());
                    };
                    self.pos += 1;
                    if t == ";" {
                        break;
                    }
                    if t == "+" && argv.last().map(String::as_str) == Some("{}") {
                        self.has_action = true;
                        return Ok(Expr::Exec(argv, true));
                    }
                    argv.push(t.clone());
                }
                if argv.is_empty() {
                    return Err("missing argument to `-exec'".to_owned());
                }
                self.has_action = true;
                Expr::Exec(argv, false)
            }
            "-newer" => {
                let f = self.next_arg(&tok)?;
                let m =
                    (self.stat)(&f).ok_or_else(|| format!("‘{f}’: No such file or directory"))?;
                Expr::Newer(m.mtime, m.mtime_nsec)
            }
            "-newermt" => {
                let d = self.next_arg(&tok)?;
                let t = parse_find_date(&d).ok_or_else(|| {
                    format!("I cannot figure out how to interpret ‘{d}’ as a date or time")
                })?;
                Expr::Newer(t.as_second(), t.subsec_nanosecond().max(0) as u32)
            }
            "-mtime" | "-mmin" => {
                let v = self.next_arg(&tok)?;
                let (cmp, n) =
                    signed_count(&v).ok_or_else(|| format!("invalid argument `{v}' to `{tok}'"))?;
                Expr::Age(cmp, n as i64, if tok == "-mtime" { 86_400 } else { 60 })
            }
            "-links" => {
                let v = self.next_arg(&tok)?;
                let (cmp, n) =
                    signed_count(&v).ok_or_else(|| format!("invalid argument `{v}' to `{tok}'"))?;
                Expr::Links(cmp, n)
            }
            "-printf" => {
                let f = self.next_arg(&tok)?;
                check_find_printf(&f)?;
                self.has_action = true;
                Expr::Printf(f)
            }
            other if FIND_NOT_HERE.contains(&other) => {
                return Err(format!(
                    "{NOT_SUPPORTED}predicate '{other}' is not supported by this sandbox"
                ));
            }
            other if other.starts_with('-') => {
                return Err(format!("unknown predicate `{other}'"));
            }
            other => return Err(format!("paths must precede expression: `{other}'")),
        };
        Ok(e)
    }
}

struct FindRun {
    /// Where the walk started and how deep it is (`-printf %P %d`).
    start: String,
    depth: usize,
    now: i64,
    needs_stat: bool,
    pruned: bool,
    quit: bool,
    batch: Vec<(Vec<String>, Vec<String>)>,
    status: i32,
    visited: u64,
    /// `-depth` (or `-delete`): an entry is tested after what it contains.
    depth_first: bool,
}

/// Whether the expression reads more than the entry's kind (size, emptiness).
fn needs_stat(e: &Expr) -> bool {
    match e {
        Expr::Empty
        | Expr::Size(..)
        | Expr::Newer(..)
        | Expr::Age(..)
        | Expr::Links(..)
        | Expr::Perm(_)
        | Expr::Printf(_) => true,
        Expr::Not(a) => needs_stat(a),
        Expr::And(a, b) | Expr::Or(a, b) => needs_stat(a) || needs_stat(b),
        _ => false,
    }
}

fn eval(
    ctx: &mut Ctx<'_, '_>,
    e: &Expr,
    disp: &str,
    vpath: &str,
    meta: &Meta,
    run: &mut FindRun,
) -> R<bool> {
    Ok(match e {
        Expr::True => true,
        Expr::Name(g) => {
            let base = if disp == "/" {
                "/"
            } else {
                disp.trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or(disp)
            };
            g.matches(base)
        }
        Expr::Path(g) => g.matches(disp),
        Expr::Regex(re) => re.is_match(disp),
        Expr::Type(kinds) => kinds.contains(&meta.kind),
        Expr::Empty => match meta.kind {
            Kind::File => meta.size == 0,
            Kind::Dir => ctx
                .sh
                .fs
                .read_dir(vpath)
                .map(|e| e.is_empty())
                .unwrap_or(false),
            _ => false,
        },
        Expr::Size(cmp, n, unit) => {
            let unit_bytes: u64 = match unit {
                'c' => 1,
                'w' => 2,
                'k' => 1024,
                'M' => 1024 * 1024,
                'G' => 1 << 30,
                _ => 512,
            };
            let size = meta.size.div_ceil(unit_bytes);
            match cmp {
                '+' => size > *n,
                '-' => size < *n,
                _ => size == *n,
            }
        }
        Expr::Not(a) => !eval(ctx, a, disp, vpath, meta, run)?,
        // `-quit` ends find at once: nothing after it in the expression runs (`-quit -print`
        // prints nothing).
        Expr::And(a, b) => {
            eval(ctx, a, disp, vpath, meta, run)?
                && !run.quit
                && eval(ctx, b, disp, vpath, meta, run)?
        }
        Expr::Or(a, b) => {
            let left = eval(ctx, a, disp, vpath, meta, run)?;
            left || (!run.quit && eval(ctx, b, disp, vpath, meta, run)?)
        }
        Expr::Print(nul) => {
            let mut line = disp.as_bytes().to_vec();
            line.push(if *nul { 0 } else { b'\n' });
            ctx.io.out(&line);
            true
        }
        Expr::Prune => {
            run.pruned = true;
            true
        }
        Expr::Newer(s, ns) => (meta.mtime, meta.mtime_nsec) > (*s, *ns),
        Expr::Age(cmp, n, unit) => {
            // GNU: the age in whole units, rounded down (`-mtime 0` is the last 24 hours).
            let age = (run.now - meta.mtime).div_euclid(*unit);
            match cmp {
                '+' => age > *n,
                '-' => age < *n,
                _ => age == *n,
            }
        }
        Expr::Links(cmp, n) => match cmp {
            '+' => meta.nlink > *n,
            '-' => meta.nlink < *n,
            _ => meta.nlink == *n,
        },
        Expr::Perm(bits) => meta.mode & bits != 0,
        Expr::Printf(f) => {
            let line = find_printf(f, disp, meta, run);
            ctx.io.out(line.as_bytes());
            true
        }
        Expr::Quit => {
            run.quit = true;
            true
        }
        Expr::Delete => match ctx.sh.fs.remove(vpath, false) {
            Ok(()) => true,
            Err(err) => {
                ctx.warn("find", format!("cannot delete ‘{disp}’: {err}"));
                run.status = 1;
                false
            }
        },
        Expr::Exec(argv, batch) => {
            if *batch {
                match run.batch.iter_mut().find(|(a, _)| a == argv) {
                    Some((_, items)) => items.push(disp.to_owned()),
                    None => run.batch.push((argv.clone(), vec![disp.to_owned()])),
                }
                true
            } else {
                let cmd: Vec<String> = argv.iter().map(|a| a.replace("{}", disp)).collect();
                let st = run_argv(ctx, &cmd)?;
                st == 0
            }
        }
    })
}

/// Runs a command line from `find -exec` or `xargs` through the shell's dispatcher.
pub(crate) fn run_argv(ctx: &mut Ctx<'_, '_>, argv: &[String]) -> R<i32> {
    let mut input = Input::default();
    let mut sub = Io::new(ctx.sh.limits.max_output_bytes);
    let st = ctx.sh.dispatch(argv, &mut input, &mut sub)?;
    let (o, e) = sub.into_streams();
    ctx.io.out(&o);
    ctx.io.err(&e);
    Ok(st)
}

#[allow(clippy::too_many_arguments)]
fn find_walk(
    ctx: &mut Ctx<'_, '_>,
    expr: &Expr,
    vpath: &str,
    disp: &str,
    meta: &Meta,
    depth: usize,
    p: (&Option<usize>, usize, bool),
    run: &mut FindRun,
) -> R<()> {
    ctx.sh.visit(&mut run.visited)?;
    let (maxdepth, mindepth, default_print) = p;
    run.pruned = false;
    run.depth = depth;
    let this = |ctx: &mut Ctx<'_, '_>, run: &mut FindRun| {
        run.depth = depth;
        visit(
            ctx,
            expr,
            vpath,
            disp,
            meta,
            depth,
            mindepth,
            default_print,
            run,
        )
    };
    if !run.depth_first {
        this(ctx, run)?;
        if run.quit {
            return Ok(());
        }
    }
    if meta.kind == Kind::Dir && !run.pruned && !maxdepth.is_some_and(|m| depth >= m) {
        find_children(ctx, expr, vpath, disp, depth, p, run)?;
        if run.quit {
            return Ok(());
        }
    }
    if run.depth_first {
        this(ctx, run)?;
    }
    Ok(())
}

/// [`find_walk`] over the entries of directory `vpath`.
#[allow(clippy::too_many_arguments)]
fn find_children(
    ctx: &mut Ctx<'_, '_>,
    expr: &Expr,
    vpath: &str,
    disp: &str,
    depth: usize,
    p: (&Option<usize>, usize, bool),
    run: &mut FindRun,
) -> R<()> {
    let entries = match ctx.sh.fs.read_dir(vpath) {
        Ok(e) => e,
        Err(e) => {
            ctx.warn("find", format!("‘{disp}’: {e}"));
            run.status = 1;
            return Ok(());
        }
    };
    for e in entries {
        let child_v = vfs::child_path(vpath, &e.name);
        let child_d = if disp.ends_with('/') {
            format!("{disp}{}", e.name)
        } else {
            format!("{disp}/{}", e.name)
        };
        let m = if !run.needs_stat && e.kind != Kind::Symlink {
            Meta::kind_only(e.kind)
        } else {
            ctx.sh.fs.stat(&child_v).unwrap_or(Meta::kind_only(e.kind))
        };
        // Directories nest as deep as paths allow: grow the stack instead of overflowing it.
        stacker::maybe_grow(256 * 1024, 4 << 20, || {
            find_walk(ctx, expr, &child_v, &child_d, &m, depth + 1, p, run)
        })?;
        if run.quit {
            return Ok(());
        }
    }
    Ok(())
}

/// Tests one entry and prints it when the expression has no action of its own.
#[allow(clippy::too_many_arguments)]
fn visit(
    ctx: &mut Ctx<'_, '_>,
    expr: &Expr,
    vpath: &str,
    disp: &str,
    meta: &Meta,
    depth: usize,
    mindepth: usize,
    default_print: bool,
    run: &mut FindRun,
) -> R<()> {
    if depth >= mindepth {
        let ok = eval(ctx, expr, disp, vpath, meta, run)?;
        if ok && default_print {
            let mut line = disp.as_bytes().to_vec();
            line.push(b'\n');
            ctx.io.out(&line);
        }
    }
    Ok(())
}

pub(super) fn find(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if (a.starts_with('-') && a.len() > 1) || a == "!" || a == "(" {
            break;
        }
        starts.push(a.clone());
        i += 1;
    }
    if starts.is_empty() {
        starts.push(".".to_owned());
    }
    let cwd = ctx.sh.cwd.clone();
    let fs = &ctx.sh.fs;
    let stat = |f: &str| fs.stat(&vfs::resolve(&cwd, f)).ok();
    let mut p = FindParser {
        stat: &stat,
        toks: &args[i..],
        pos: 0,
        maxdepth: None,
        mindepth: 0,
        has_action: false,
        depth_first: false,
    };
    let parsed = if p.toks.is_empty() {
        Ok(Expr::True)
    } else {
        p.or()
    };
    let (maxdepth, mindepth, has_action) = (p.maxdepth, p.mindepth, p.has_action);
    let depth_first = p.depth_first;
    let extra = p.toks.get(p.pos).cloned();
    let expr = match parsed {
        Ok(e) => e,
        Err(msg) => {
            if let Some(refusal) = msg.strip_prefix(NOT_SUPPORTED) {
                ctx.warn("find", refusal);
                return Ok(2);
            }
            ctx.warn("find", msg);
            return Ok(1);
        }
    };
    if let Some(extra) = extra {
        ctx.warn("find", format!("unexpected extra predicate '{extra}'"));
        return Ok(1);
    }
    let default_print = !has_action;
    let needs_stat = needs_stat(&expr);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut run = FindRun {
        start: String::new(),
        depth: 0,
        now,
        needs_stat,
        pruned: false,
        quit: false,
        batch: Vec::new(),
        status: 0,
        visited: 0,
        depth_first,
    };
    for s in &starts {
        run.start = s.clone();
        let v = ctx.path(s);
        match ctx.sh.fs.stat(&v) {
            Ok(m) => find_walk(
                ctx,
                &expr,
                &v,
                s,
                &m,
                0,
                (&maxdepth, mindepth, default_print),
                &mut run,
            )?,
            Err(e) => {
                ctx.warn("find", format!("‘{s}’: {e}"));
                run.status = 1;
            }
        }
        if run.quit {
            break;
        }
    }
    for (argv, items) in std::mem::take(&mut run.batch) {
        let mut cmd: Vec<String> = argv[..argv.len() - 1].to_vec();
        cmd.extend(items);
        if run_argv(ctx, &cmd)? != 0 {
            run.status = 1;
        }
    }
    Ok(run.status)
}

/// Checks a `-printf` format once: a directive the sandbox cannot answer is refused up front.
fn check_find_printf(f: &str) -> Result<(), String> {
    let b = f.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        i += 1;
        while i < b.len()
            && (matches!(b[i], b'-' | b'+' | b' ' | b'#' | b'0' | b'.') || b[i].is_ascii_digit())
        {
            i += 1;
        }
        let Some(&c) = b.get(i) else { break };
        let ok = match c {
            b'%' | b'p' | b'f' | b'h' | b'P' | b'H' | b's' | b'd' | b'm' | b'M' | b'y' | b'Y'
            | b'k' | b'b' | b'n' | b'i' | b't' => true,
            b'T' => {
                i += 1;
                b.get(i).is_some_and(|k| b"@YmdHMSTFDjabeyZ+c".contains(k))
            }
            _ => false,
        };
        if !ok {
            let end = (i + 1).min(b.len());
            return Err(format!(
                "{NOT_SUPPORTED}-printf directive '%{}' is not supported by this sandbox",
                String::from_utf8_lossy(&b[i.min(end)..end])
            ));
        }
        i += 1;
    }
    Ok(())
}

/// `find -printf` for one entry (directives checked by [`check_find_printf`]).
fn find_printf(f: &str, disp: &str, meta: &Meta, run: &FindRun) -> String {
    let b = f.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let name = || -> String {
        if disp == "/" {
            return "/".to_owned();
        }
        let t = disp.trim_end_matches('/');
        t.rsplit('/').next().unwrap_or(t).to_owned()
    };
    let dir = || -> String {
        let t = disp.trim_end_matches('/');
        match t.rfind('/') {
            Some(0) => "/".to_owned(),
            Some(k) => t[..k].to_owned(),
            None => ".".to_owned(),
        }
    };
    let stamp = |k: u8| -> String {
        let frac = format!("{:09}0", meta.mtime_nsec);
        let Some(t) = utc(meta.mtime) else {
            return meta.mtime.to_string();
        };
        match k {
            b'@' => format!("{}.{frac}", meta.mtime),
            b'S' => format!("{}.{frac}", t.strftime("%S")),
            b'T' => format!("{}.{frac}", t.strftime("%H:%M:%S")),
            b'+' => format!(
                "{}+{}.{frac}",
                t.strftime("%Y-%m-%d"),
                t.strftime("%H:%M:%S")
            ),
            b'c' => t.strftime("%a %b %e %H:%M:%S %Y").to_string(),
            // `%t` is ctime's format with the sub-second part; `%Tc` (strftime's) has none.
            0 => format!(
                "{}.{frac} {}",
                t.strftime("%a %b %e %H:%M:%S"),
                t.strftime("%Y")
            ),
            other => {
                let spec = format!("%{}", char::from(other));
                t.strftime(&spec).to_string()
            }
        }
    };
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => {
                let c = b[i + 1];
                i += 2;
                match c {
                    b'n' => out.push('\n'),
                    b't' => out.push('\t'),
                    b'0' => out.push('\0'),
                    b'\\' => out.push('\\'),
                    b'a' => out.push('\u{7}'),
                    b'r' => out.push('\r'),
                    b'f' => out.push('\u{c}'),
                    b'v' => out.push('\u{b}'),
                    other => {
                        out.push('\\');
                        out.push(char::from(other));
                    }
                }
            }
            b'%' => {
                i += 1;
                let fs = i;
                while i < b.len() && matches!(b[i], b'-' | b'+' | b' ' | b'#' | b'0') {
                    i += 1;
                }
                let flags = &f[fs..i];
                let ws = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let width: usize = f[ws..i].parse::<usize>().unwrap_or(0).min(10_000);
                let mut prec = None;
                if i < b.len() && b[i] == b'.' {
                    i += 1;
                    let ps = i;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    prec = f[ps..i].parse::<usize>().ok();
                }
                let Some(&c) = b.get(i) else {
                    break;
                };
                i += 1;
                let mut text = match c {
                    b'%' => "%".to_owned(),
                    b'p' => disp.to_owned(),
                    b'f' => name(),
                    b'h' => dir(),
                    b'H' => run.start.clone(),
                    b'P' => disp
                        .strip_prefix(run.start.as_str())
                        .map(|r| r.trim_start_matches('/').to_owned())
                        .unwrap_or_default(),
                    b's' => meta.size.to_string(),
                    b'd' => run.depth.to_string(),
                    b'm' => format!("{:o}", meta.mode & 0o7777),
                    b'M' => mode_string(meta),
                    b'y' | b'Y' => match meta.kind {
                        Kind::File => "f",
                        Kind::Dir => "d",
                        Kind::Symlink => "l",
                        Kind::Special => "p",
                    }
                    .to_owned(),
                    b'k' => meta.blocks.div_ceil(2).to_string(),
                    b'b' => meta.blocks.to_string(),
                    b'n' => meta.nlink.to_string(),
                    b'i' => meta.ino.to_string(),
                    b't' => stamp(0),
                    b'T' => {
                        let k = b.get(i).copied().unwrap_or(b'@');
                        i += 1;
                        stamp(k)
                    }
                    _ => String::new(),
                };
                if let Some(p) = prec
                    && matches!(c, b'p' | b'f' | b'h' | b'P' | b'H')
                {
                    text = text.chars().take(p).collect();
                }
                let len = text.chars().count();
                if len < width {
                    let pad = " ".repeat(width - len);
                    if flags.contains('-') {
                        text.push_str(&pad);
                    } else {
                        text.insert_str(0, &pad);
                    }
                }
                out.push_str(&text);
            }
            other => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'%' && b[i] != b'\\' {
                    i += 1;
                }
                let _ = other;
                out.push_str(&f[start..i]);
            }
        }
    }
    out
}

pub(super) fn mode_string(m: &Meta) -> String {
    let mut s = String::with_capacity(10);
    s.push(match m.kind {
        Kind::Dir => 'd',
        Kind::Symlink => 'l',
        Kind::Special => 'p',
        Kind::File => '-',
    });
    let bits = [0o400, 0o200, 0o100, 0o40, 0o20, 0o10, 0o4, 0o2, 0o1];
    let chars = ['r', 'w', 'x', 'r', 'w', 'x', 'r', 'w', 'x'];
    for (i, b) in bits.iter().enumerate() {
        let mut c = if m.mode & b != 0 { chars[i] } else { '-' };
        if i == 8 && m.mode & 0o1000 != 0 {
            c = if c == 'x' { 't' } else { 'T' };
        }
        if i == 2 && m.mode & 0o4000 != 0 {
            c = if c == 'x' { 's' } else { 'S' };
        }
        s.push(c);
    }
    s
}

/// A time in UTC (the sandbox's only zone), or `None` past the range a calendar date covers.
pub(super) fn utc(secs: i64) -> Option<jiff::Zoned> {
    Some(
        jiff::Timestamp::from_second(secs)
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC),
    )
}

/// `ls -l`'s date column (UTC): `Mon dd HH:MM` within six months, else `Mon dd  YYYY`. A time
/// no calendar date covers prints as its number of seconds, as GNU ls does.
pub(crate) fn ls_date(mtime: i64, now: i64) -> String {
    let Some(t) = utc(mtime) else {
        return mtime.to_string();
    };
    let recent = mtime <= now + 60 && now - mtime < 15_778_476;
    t.strftime(if recent { "%b %e %H:%M" } else { "%b %e  %Y" })
        .to_string()
}

/// GNU's full timestamp, as `diff` headers and `stat` print it: `2026-11-24 09:19:00.000000000
/// +0000` (the sandbox keeps no sub-second times).
pub(crate) fn full_stamp(secs: i64, nsec: u32) -> String {
    match utc(secs) {
        Some(t) => format!(
            "{}.{nsec:09} {}",
            t.strftime("%Y-%m-%d %H:%M:%S"),
            t.strftime("%z")
        ),
        None => secs.to_string(),
    }
}

/// The timestamp of `diff -c` headers, GNU's default there: `Thu Dec  3 17:55:22 2026` (UTC).
pub(crate) fn ctime_stamp(secs: i64, nsec: u32) -> String {
    match utc(secs) {
        Some(t) => t.strftime("%a %b %e %H:%M:%S %Y").to_string(),
        None => format!("{secs}.{nsec:09}"),
    }
}

#[cfg(test)]
mod date_tests {
    use super::{full_stamp, ls_date};

    #[test]
    fn dates_are_gnu_shaped() {
        // 2026-11-24 09:19:05 UTC; GNU `TZ=UTC ls -l` and `stat`/`diff` print these.
        let t = 1_795_511_945;
        assert_eq!(ls_date(t, t + 10), "Nov 24 09:19");
        assert_eq!(ls_date(t, t + 200 * 86_400), "Nov 24  2026");
        assert_eq!(ls_date(0, t), "Jan  1  1970");
        assert_eq!(ls_date(-86_400, t), "Dec 31  1969");
        assert_eq!(full_stamp(t, 0), "2026-11-24 09:19:05.000000000 +0000");
        assert_eq!(
            full_stamp(t, 5_000_000),
            "2026-11-24 09:19:05.005000000 +0000"
        );
        assert_eq!(
            full_stamp(951_782_400, 0),
            "2000-02-29 00:00:00.000000000 +0000"
        );
        assert_eq!(ls_date(i64::MAX, t), i64::MAX.to_string());
    }
}
