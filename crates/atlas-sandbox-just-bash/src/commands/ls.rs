//! `ls`: GNU's listing (long format, sorting, classification, columns) over the sandbox's files.

use super::Ctx;
use super::opts::{Arg, Spec};
use super::walk::{full_stamp, ls_date, mode_string, utc};
use crate::interp::R;
use crate::vfs::{self, Kind, Meta};

fn human(n: u64) -> String {
    if n < 1024 {
        return n.to_string();
    }
    let units = ['K', 'M', 'G', 'T', 'P'];
    let mut v = n as f64;
    let mut u = 0;
    v /= 1024.0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if v < 10.0 {
        let r = (v * 10.0).ceil() / 10.0;
        if r >= 10.0 {
            format!("{:.0}{}", r, units[u])
        } else {
            format!("{:.1}{}", r, units[u])
        }
    } else {
        format!("{:.0}{}", v.ceil(), units[u])
    }
}

#[derive(Default)]
struct LsOpts {
    all: bool,
    almost: bool,
    long: bool,
    recursive: bool,
    dir_itself: bool,
    human: bool,
    by_size: bool,
    by_time: bool,
    reverse: bool,
    classify: bool,
    slash: bool,
    inode: bool,
    no_group: bool,
    /// `-g`: the long listing without the owner column.
    no_owner: bool,
    /// `-n`: the owner and group as numbers (the uid and gid `stat` reports).
    numeric: bool,
    /// `-C`, `-x`, `-m` (`-l` is `long`); one name a line otherwise, as GNU off a terminal.
    layout: Layout,
    /// `-Q`: names in double quotes, C escapes inside.
    quote: bool,
    /// Where `-C`, `-x` and `-m` wrap: `$COLUMNS` when exported, else 80.
    line_length: usize,
    time_style: TimeStyle,
    /// `-s`: allocated size in 1K blocks before each name.
    blocks: bool,
    /// `-X`: by extension.
    by_ext: bool,
}

/// How names are laid out when not in long format.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Layout {
    #[default]
    OnePerLine,
    /// `-C`: columns, sorted down each column.
    Columns,
    /// `-x`: columns, sorted across each line.
    Across,
    /// `-m`: `a, b, c`, wrapped at the line length.
    Commas,
}

/// GNU's narrowest column (a name and two blanks).
const MIN_COLUMN_WIDTH: usize = 3;
/// GNU's tab stops when padding columns (`--tabsize` default).
const TAB_SIZE: usize = 8;

/// `-Q`'s quoting (GNU's `c` style): `"name"`, with `\`, `\"` and control characters escaped.
fn c_quote(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl LsOpts {
    fn shown_name(&self, name: &str) -> String {
        if self.quote {
            c_quote(name)
        } else {
            name.to_owned()
        }
    }
}

/// Pads from column `from` to `to` as GNU does: tabs to each tab stop on the way, then blanks.
fn indent(out: &mut String, mut from: usize, to: usize) {
    while from < to {
        if to / TAB_SIZE > (from + 1) / TAB_SIZE {
            out.push('\t');
            from += TAB_SIZE - from % TAB_SIZE;
        } else {
            out.push(' ');
            from += 1;
        }
    }
}

/// GNU's `calculate_columns`: the most columns whose line stays under `line_length`, and the
/// width of each of them.
fn column_widths(widths: &[usize], by_columns: bool, line_length: usize) -> Vec<usize> {
    let n = widths.len();
    let max_cols = (line_length / MIN_COLUMN_WIDTH).max(1).min(n);
    let mut fits = vec![true; max_cols];
    let mut line_len: Vec<usize> = (0..max_cols).map(|i| (i + 1) * MIN_COLUMN_WIDTH).collect();
    let mut cols: Vec<Vec<usize>> = (0..max_cols)
        .map(|i| vec![MIN_COLUMN_WIDTH; i + 1])
        .collect();
    for (filesno, &w) in widths.iter().enumerate() {
        for i in 0..max_cols {
            if !fits[i] {
                continue;
            }
            let idx = if by_columns {
                filesno / n.div_ceil(i + 1)
            } else {
                filesno % (i + 1)
            };
            let real = w + if idx == i { 0 } else { 2 };
            if cols[i][idx] < real {
                line_len[i] += real - cols[i][idx];
                cols[i][idx] = real;
                fits[i] = line_len[i] < line_length;
            }
        }
    }
    let best = (1..max_cols).rev().find(|&i| fits[i]).unwrap_or(0);
    cols.swap_remove(best)
}

/// `-C`, `-x` or `-m` over names already carrying their frills (`(text, width)`).
fn lay_out(items: &[(String, usize)], layout: Layout, line_length: usize, out: &mut String) {
    if items.is_empty() {
        return;
    }
    let widths: Vec<usize> = items.iter().map(|(_, w)| *w).collect();
    // No width limit (`-w 0`): GNU puts every name on one line, two spaces apart, no tabs.
    if line_length == usize::MAX && matches!(layout, Layout::Columns | Layout::Across) {
        let names: Vec<&str> = items.iter().map(|(t, _)| t.as_str()).collect();
        out.push_str(&names.join("  "));
        out.push('\n');
        return;
    }
    match layout {
        Layout::Commas => {
            let mut pos = 0;
            for (i, (text, w)) in items.iter().enumerate() {
                if i > 0 {
                    if pos + w + 2 < line_length {
                        out.push_str(", ");
                        pos += 2;
                    } else {
                        out.push_str(",\n");
                        pos = 0;
                    }
                }
                out.push_str(text);
                pos += w;
            }
            out.push('\n');
        }
        Layout::Columns => {
            let col_w = column_widths(&widths, true, line_length);
            let n = items.len();
            let rows = n.div_ceil(col_w.len());
            for row in 0..rows {
                let (mut filesno, mut pos, mut col) = (row, 0, 0);
                loop {
                    let (text, w) = &items[filesno];
                    out.push_str(text);
                    let max = col_w[col];
                    col += 1;
                    filesno += rows;
                    if filesno >= n {
                        break;
                    }
                    indent(out, pos + w, pos + max);
                    pos += max;
                }
                out.push('\n');
            }
        }
        Layout::Across => {
            let col_w = column_widths(&widths, false, line_length);
            let cols = col_w.len();
            let mut pos = 0;
            out.push_str(&items[0].0);
            let (mut name_len, mut max) = (items[0].1, col_w[0]);
            for (filesno, (text, w)) in items.iter().enumerate().skip(1) {
                let col = filesno % cols;
                if col == 0 {
                    out.push('\n');
                    pos = 0;
                } else {
                    indent(out, pos + name_len, pos + max);
                    pos += max;
                }
                out.push_str(text);
                name_len = *w;
                max = col_w[col];
            }
            out.push('\n');
        }
        Layout::OnePerLine => {
            for (text, _) in items {
                out.push_str(text);
                out.push('\n');
            }
        }
    }
}

/// `ls --time-style`.
#[derive(Default, Clone)]
enum TimeStyle {
    /// `Mon dd HH:MM` within six months, else `Mon dd  YYYY`.
    #[default]
    Locale,
    /// `2025-01-02 22:10`.
    LongIso,
    /// `2025-01-02 22:10:00.500000000 +0000`.
    FullIso,
    /// `01-02 22:10` within six months, else `2025-01-02 `.
    Iso,
    /// `+FORMAT`: strftime.
    Format(String),
}

impl TimeStyle {
    fn parse(s: &str) -> Option<Self> {
        let s = s.strip_prefix("posix-").unwrap_or(s);
        Some(match s {
            "locale" => TimeStyle::Locale,
            "long-iso" => TimeStyle::LongIso,
            "full-iso" => TimeStyle::FullIso,
            "iso" => TimeStyle::Iso,
            f if f.starts_with('+') && !f.contains('\n') => TimeStyle::Format(f[1..].to_owned()),
            _ => return None,
        })
    }

    fn render(&self, m: &Meta, now: i64) -> String {
        let Some(t) = utc(m.mtime) else {
            return m.mtime.to_string();
        };
        let recent = m.mtime <= now + 60 && now - m.mtime < 15_778_476;
        match self {
            TimeStyle::Locale => ls_date(m.mtime, now),
            TimeStyle::LongIso => t.strftime("%Y-%m-%d %H:%M").to_string(),
            TimeStyle::FullIso => full_stamp(m.mtime, m.mtime_nsec),
            TimeStyle::Iso if recent => t.strftime("%m-%d %H:%M").to_string(),
            TimeStyle::Iso => t.strftime("%Y-%m-%d ").to_string(),
            TimeStyle::Format(f) => {
                let mut out = String::new();
                use std::fmt::Write as _;
                if write!(out, "{}", t.strftime(f)).is_err() {
                    return m.mtime.to_string();
                }
                out
            }
        }
    }
}

struct LsEntry {
    name: String,
    meta: Meta,
}

fn sort_entries(v: &mut [LsEntry], o: &LsOpts) {
    v.sort_by(|a, b| {
        let ord = if o.by_size {
            b.meta
                .size
                .cmp(&a.meta.size)
                .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
        } else if o.by_ext {
            let ext = |n: &str| {
                n.rfind('.')
                    .filter(|&i| i > 0)
                    .map_or("", |i| &n[i + 1..])
                    .to_owned()
            };
            ext(&a.name)
                .as_bytes()
                .cmp(ext(&b.name).as_bytes())
                .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
        } else if o.by_time {
            (b.meta.mtime, b.meta.mtime_nsec)
                .cmp(&(a.meta.mtime, a.meta.mtime_nsec))
                .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
        } else {
            a.name.as_bytes().cmp(b.name.as_bytes())
        };
        if o.reverse { ord.reverse() } else { ord }
    });
}

fn suffix(m: &Meta, o: &LsOpts) -> &'static str {
    match m.kind {
        Kind::Dir if o.classify || o.slash => "/",
        Kind::Symlink if o.classify => "@",
        Kind::Special if o.classify => "|",
        Kind::File if o.classify && m.mode & 0o111 != 0 => "*",
        _ => "",
    }
}

/// `total N`: the 1K blocks of `entries` (`-h`: human-readable).
fn total_line(entries: &[LsEntry], o: &LsOpts) -> String {
    let total: u64 = entries.iter().map(|e| e.meta.blocks / 2).sum();
    if o.human {
        format!("total {}\n", human(total * 1024))
    } else {
        format!("total {total}\n")
    }
}

fn render(entries: &[LsEntry], o: &LsOpts, now: i64, with_total: bool) -> String {
    let mut out = String::new();
    let kib = |e: &LsEntry| {
        let k = e.meta.blocks / 2;
        if o.human {
            human(k * 1024)
        } else {
            k.to_string()
        }
    };
    let bw = entries.iter().map(|e| kib(e).len()).max().unwrap_or(1);
    if !o.long {
        if o.blocks && with_total {
            out.push_str(&total_line(entries, o));
        }
        let iw = entries
            .iter()
            .map(|e| e.meta.ino.to_string().len())
            .max()
            .unwrap_or(1);
        let commas = o.layout == Layout::Commas;
        let items: Vec<(String, usize)> = entries
            .iter()
            .map(|e| {
                let mut text = String::new();
                if o.inode {
                    let w = if commas { 0 } else { iw };
                    text.push_str(&format!("{:>w$} ", e.meta.ino));
                }
                if o.blocks {
                    let w = if commas { 0 } else { bw };
                    text.push_str(&format!("{:>w$} ", kib(e)));
                }
                text.push_str(&o.shown_name(&e.name));
                text.push_str(suffix(&e.meta, o));
                let width = text.chars().count();
                (text, width)
            })
            .collect();
        lay_out(&items, o.layout, o.line_length, &mut out);
        return out;
    }
    if with_total {
        out.push_str(&total_line(entries, o));
    }
    let sizes: Vec<String> = entries
        .iter()
        .map(|e| {
            if o.human {
                human(e.meta.size)
            } else {
                e.meta.size.to_string()
            }
        })
        .collect();
    let lw = entries
        .iter()
        .map(|e| e.meta.nlink.to_string().len())
        .max()
        .unwrap_or(1);
    let sw = sizes.iter().map(String::len).max().unwrap_or(1);
    let iw = entries
        .iter()
        .map(|e| e.meta.ino.to_string().len())
        .max()
        .unwrap_or(1);
    for (e, size) in entries.iter().zip(&sizes) {
        if o.inode {
            out.push_str(&format!("{:>iw$} ", e.meta.ino));
        }
        if o.blocks {
            out.push_str(&format!("{:>bw$} ", kib(e)));
        }
        let id = if o.numeric { "1000 " } else { "user " };
        let group = if o.no_group { "" } else { id };
        let owner = if o.no_owner { "" } else { id };
        out.push_str(&format!(
            "{} {:>lw$} {owner}{group}{:>sw$} {} {}{}\n",
            mode_string(&e.meta),
            e.meta.nlink,
            size,
            o.time_style.render(&e.meta, now),
            o.shown_name(&e.name),
            suffix(&e.meta, o)
        ));
    }
    out
}

const LS_TIME_STYLE: char = '\u{e000}';
const LS_SORT: char = '\u{e001}';
const LS_COLOR: char = '\u{e002}';

const LS: Spec = Spec::new(
    "ls",
    "aAdfFgGhilLmnopQrRsStUw:xXCH1",
    &[
        ("all", 'a', Arg::No),
        ("width", 'w', Arg::Required),
        ("almost-all", 'A', Arg::No),
        ("directory", 'd', Arg::No),
        ("classify", 'F', Arg::Optional),
        ("human-readable", 'h', Arg::No),
        ("inode", 'i', Arg::No),
        ("dereference", 'L', Arg::No),
        ("numeric-uid-gid", 'n', Arg::No),
        ("no-group", 'G', Arg::No),
        ("reverse", 'r', Arg::No),
        ("recursive", 'R', Arg::No),
        ("size", 's', Arg::No),
        ("time-style", LS_TIME_STYLE, Arg::Required),
        ("sort", LS_SORT, Arg::Required),
        ("color", LS_COLOR, Arg::Optional),
        ("colour", LS_COLOR, Arg::Optional),
        ("full-time", 'T', Arg::No),
        ("quote-name", 'Q', Arg::No),
    ],
)
.gnu(
    "abcdfghiklmnopqrstuvw:xABCDFGHI:LNQRST:UXZ1",
    &[
        "author",
        "escape",
        "block-size",
        "ignore-backups",
        "dired",
        "file-type",
        "format",
        "group-directories-first",
        "hide-control-chars",
        "hyperlink",
        "indicator-style",
        "ignore",
        "hide",
        "kibibytes",
        "literal",
        "show-control-chars",
        "quote-name",
        "quoting-style",
        "size",
        "si",
        "dereference-command-line",
        "dereference-command-line-symlink-to-dir",
        "tabsize",
        "time",
        "context",
        "zero",
        "help",
        "version",
    ],
)
.status(2);

/// `-w`'s number as GNU's xstrtoumax reads it: decimal, `0x` hex or `0` octal; `None` when it
/// is not one or does not fit.
fn parse_width(v: &str) -> Option<usize> {
    let t = v.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    usize::from_str_radix(digits, radix).ok()
}

/// A valid number too large to fit (GNU reads it as the largest, i.e. no limit).
fn looks_numeric(v: &str) -> bool {
    let t = v.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

fn usage_w(ctx: &mut Ctx<'_, '_>, v: &str) -> R<i32> {
    ctx.warn("ls", format!("invalid line width: '{v}'"));
    Ok(2)
}

pub(super) fn ls(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, operands) = match ctx.opts(&LS, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut operands = operands;
    let mut o = LsOpts::default();
    let usage = |ctx: &mut Ctx<'_, '_>, msg: String| {
        ctx.warn("ls", msg);
        ctx.io.errln("Try 'ls --help' for more information.");
        Ok(2)
    };
    let mut width: Option<usize> = None;
    for (c, v) in flags {
        match c {
            'w' => {
                let v = v.unwrap_or_default();
                match parse_width(&v) {
                    // 0 is no limit, as is a width past the largest number.
                    Some(0) => width = Some(usize::MAX),
                    None if looks_numeric(&v) => width = Some(usize::MAX),
                    Some(n) => width = Some(n),
                    None => return usage_w(ctx, &v),
                }
            }
            'a' => o.all = true,
            'A' => o.almost = true,
            'l' => (o.long, o.layout) = (true, Layout::OnePerLine),
            'C' => (o.long, o.layout) = (false, Layout::Columns),
            'x' => (o.long, o.layout) = (false, Layout::Across),
            'm' => (o.long, o.layout) = (false, Layout::Commas),
            'Q' => o.quote = true,
            'R' => o.recursive = true,
            'd' => o.dir_itself = true,
            'h' => o.human = true,
            'S' => (o.by_size, o.by_time, o.by_ext) = (true, false, false),
            't' => (o.by_time, o.by_size, o.by_ext) = (true, false, false),
            'X' => (o.by_ext, o.by_time, o.by_size) = (true, false, false),
            's' => o.blocks = true,
            'r' => o.reverse = true,
            'F' => match v.as_deref() {
                None | Some("always" | "yes" | "force") => o.classify = true,
                Some("never" | "no" | "none" | "auto" | "tty" | "if-tty") => {}
                Some(w) => return usage(ctx, format!("invalid argument ‘{w}’ for ‘--classify’")),
            },
            'p' => o.slash = true,
            'i' => o.inode = true,
            'G' => o.no_group = true,
            'o' => {
                o.no_group = true;
                (o.long, o.layout) = (true, Layout::OnePerLine);
            }
            'g' => {
                o.no_owner = true;
                (o.long, o.layout) = (true, Layout::OnePerLine);
            }
            'n' => {
                o.numeric = true;
                (o.long, o.layout) = (true, Layout::OnePerLine);
            }
            // `-1` after `-l` changes nothing, as in GNU.
            '1' if !o.long => o.layout = Layout::OnePerLine,
            '1' => {}
            // Unsorted, all entries: the sorted order is one readdir may give.
            'f' => o.all = true,
            'T' => {
                o.long = true;
                o.time_style = TimeStyle::FullIso;
            }
            LS_TIME_STYLE => match TimeStyle::parse(v.as_deref().unwrap_or_default()) {
                Some(t) => o.time_style = t,
                None => {
                    let v = v.unwrap_or_default();
                    ctx.warn(
                        "ls",
                        format!("option '--time-style={v}' is not supported by this sandbox"),
                    );
                    return Ok(2);
                }
            },
            LS_SORT => match v.as_deref().unwrap_or_default() {
                "size" => (o.by_size, o.by_time) = (true, false),
                "extension" => (o.by_ext, o.by_time, o.by_size) = (true, false, false),
                "time" => (o.by_time, o.by_size) = (true, false),
                "name" | "none" => (o.by_time, o.by_size) = (false, false),
                w @ ("version" | "width") => {
                    ctx.warn(
                        "ls",
                        format!("option '--sort={w}' is not supported by this sandbox"),
                    );
                    return Ok(2);
                }
                w => return usage(ctx, format!("invalid argument ‘{w}’ for ‘--sort’")),
            },
            LS_COLOR => match v.as_deref() {
                None | Some("never" | "no" | "none" | "auto" | "tty" | "if-tty") => {}
                Some(w) => {
                    ctx.warn(
                        "ls",
                        format!("option '--color={w}' is not supported by this sandbox"),
                    );
                    return Ok(2);
                }
            },
            // 'U', 'L', 'H': unsorted and dereferencing change nothing this listing shows.
            _ => {}
        }
    }
    // GNU reads the width from an exported `COLUMNS` (a terminal's size never applies here:
    // the output is a pipe).
    o.line_length = width.unwrap_or(80);
    let exported_columns = ctx
        .sh
        .env_pairs()
        .into_iter()
        .find(|(k, _)| k == "COLUMNS")
        .map(|(_, v)| v);
    if let Some(c) = exported_columns.filter(|c| !c.is_empty() && width.is_none()) {
        match c.parse::<usize>() {
            Ok(n) if n > 0 => o.line_length = n,
            _ => {
                if o.layout != Layout::OnePerLine && !o.long {
                    ctx.warn(
                        "ls",
                        format!("ignoring invalid width in environment variable COLUMNS: ‘{c}’"),
                    );
                }
            }
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if operands.is_empty() {
        operands.push(".".to_owned());
    }
    let mut st = 0;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for op in &operands {
        let v = ctx.path(op);
        match ctx.sh.fs.stat(&v) {
            Ok(m) if m.kind == Kind::Dir && !o.dir_itself => dirs.push((op.clone(), v)),
            Ok(m) => files.push(LsEntry {
                name: op.clone(),
                meta: m,
            }),
            Err(e) => {
                ctx.warn("ls", format!("cannot access '{op}': {e}"));
                st = 2;
            }
        }
    }
    sort_entries(&mut files, &o);
    let mut out = render(&files, &o, now, false);
    let mut dir_list: Vec<LsEntry> = dirs
        .iter()
        .map(|(n, _)| LsEntry {
            name: n.clone(),
            meta: Meta {
                nlink: 0,
                ..Meta::kind_only(Kind::Dir)
            },
        })
        .collect();
    sort_entries(
        &mut dir_list,
        &LsOpts {
            reverse: o.reverse,
            ..Default::default()
        },
    );
    let show_headers = operands.len() > 1 || o.recursive;
    let mut first = files.is_empty();
    let mut queue: Vec<(String, String)> = dir_list
        .iter()
        .filter_map(|d| dirs.iter().find(|(n, _)| *n == d.name).cloned())
        .collect();
    queue.reverse();
    let mut visited = 0u64;
    while let Some((disp, v)) = queue.pop() {
        ctx.sh.visit(&mut visited)?;
        let entries = match ctx.sh.fs.read_dir(&v) {
            Ok(e) => e,
            Err(e) => {
                ctx.warn("ls", format!("cannot open directory '{disp}': {e}"));
                st = 2;
                continue;
            }
        };
        let mut list = Vec::new();
        if o.all {
            for (n, p) in [(".", v.clone()), ("..", vfs::parent(&v).to_owned())] {
                if let Ok(m) = ctx.sh.fs.stat(&p) {
                    list.push(LsEntry {
                        name: n.to_owned(),
                        meta: m,
                    });
                }
            }
        }
        for e in entries {
            if e.name.starts_with('.') && !o.all && !o.almost {
                continue;
            }
            ctx.sh.visit(&mut visited)?;
            let p = vfs::child_path(&v, &e.name);
            let meta = ctx.sh.fs.stat(&p).unwrap_or(Meta {
                mode: 0o777,
                ..Meta::kind_only(e.kind)
            });
            list.push(LsEntry { name: e.name, meta });
        }
        sort_entries(&mut list, &o);
        if !first {
            out.push('\n');
        }
        first = false;
        if show_headers {
            out.push_str(&format!("{}:\n", o.shown_name(&disp)));
        }
        out.push_str(&render(&list, &o, now, true));
        if o.recursive {
            let mut subs: Vec<(String, String)> = list
                .iter()
                .filter(|e| e.meta.kind == Kind::Dir && e.name != "." && e.name != "..")
                .map(|e| {
                    let d = if disp.ends_with('/') {
                        format!("{disp}{}", e.name)
                    } else {
                        format!("{disp}/{}", e.name)
                    };
                    (d, vfs::child_path(&v, &e.name))
                })
                .collect();
            subs.reverse();
            queue.extend(subs);
        }
        if out.len() > 1 << 16 {
            ctx.io.out(out.as_bytes());
            out.clear();
        }
    }
    ctx.io.out(out.as_bytes());
    Ok(st)
}
