//! `grep` with GNU grep 3.x output (prefixes, `./` for a `.` operand, readdir order for `-r`,
//! context separators, binary-file notices), on the linear-time `regex` crate.

use regex::bytes::{Regex, RegexBuilder};

use super::{Ctx, walk};
use crate::interp::{R, pattern_match};
use crate::vfs::Kind;

/// Translates a POSIX BRE/ERE (GNU flavour) into `regex` crate syntax.
pub(crate) fn posix_to_regex(pat: &str, extended: bool) -> Result<String, String> {
    let c: Vec<char> = pat.chars().collect();
    let mut out = String::with_capacity(pat.len() + 8);
    let mut i = 0;
    // Whether the previous token can be repeated (a `*` right after `(` or at the start is literal).
    let mut can_repeat = false;
    while i < c.len() {
        let ch = c[i];
        match ch {
            '\\' => {
                let Some(&n) = c.get(i + 1) else {
                    return Err("trailing backslash (\\)".to_owned());
                };
                i += 2;
                match n {
                    '(' | ')' | '{' | '}' | '|' | '+' | '?' if !extended => {
                        if n == '{' {
                            let (rep, used) = interval(&c[i..], true)?;
                            out.push_str(&rep);
                            i += used;
                        } else {
                            out.push(n);
                        }
                        can_repeat = n != '(' && n != '|';
                        continue;
                    }
                    '1'..='9' => {
                        return Err("backreferences are not supported in this sandbox".to_owned());
                    }
                    'w' | 'W' | 's' | 'S' | 'b' | 'B' | '<' | '>' => {
                        out.push('\\');
                        out.push(n);
                    }
                    '`' => out.push_str("\\A"),
                    '\'' => out.push_str("\\z"),
                    other => {
                        let mut b = [0u8; 4];
                        out.push_str(&regex::escape(other.encode_utf8(&mut b)));
                    }
                }
                can_repeat = true;
            }
            '[' => {
                let (cls, used) = bracket(&c[i..])?;
                out.push_str(&cls);
                i += used;
                can_repeat = true;
            }
            '*' => {
                if can_repeat {
                    out.push('*');
                } else {
                    out.push_str("\\*");
                    can_repeat = true;
                }
                i += 1;
            }
            '(' | ')' | '|' | '+' | '?' | '{' | '}' if extended => {
                if ch == '{' {
                    match interval(&c[i + 1..], false) {
                        Ok((rep, used)) if can_repeat => {
                            out.push_str(&rep);
                            i += used + 1;
                            continue;
                        }
                        _ => {
                            out.push_str("\\{");
                            i += 1;
                            can_repeat = true;
                            continue;
                        }
                    }
                }
                if ch == '}' {
                    out.push_str("\\}");
                } else if (ch == '+' || ch == '?') && !can_repeat {
                    out.push('\\');
                    out.push(ch);
                } else {
                    out.push(ch);
                }
                can_repeat = ch != '(' && ch != '|';
                i += 1;
            }
            '^' => {
                out.push('^');
                i += 1;
                can_repeat = false;
            }
            '$' => {
                out.push('$');
                i += 1;
                can_repeat = true;
            }
            '.' => {
                out.push('.');
                i += 1;
                can_repeat = true;
            }
            other => {
                let mut b = [0u8; 4];
                out.push_str(&regex::escape(other.encode_utf8(&mut b)));
                i += 1;
                can_repeat = true;
            }
        }
    }
    Ok(out)
}

/// `m,n}` (ERE) or `m,n\}` (BRE) after the `{`.
fn interval(c: &[char], bre: bool) -> Result<(String, usize), String> {
    let mut j = 0;
    let mut body = String::new();
    while j < c.len() {
        if bre && c[j] == '\\' && c.get(j + 1) == Some(&'}') {
            return check_interval(&body).map(|s| (s, j + 2));
        }
        if !bre && c[j] == '}' {
            return check_interval(&body).map(|s| (s, j + 1));
        }
        body.push(c[j]);
        j += 1;
    }
    Err("Unmatched \\{".to_owned())
}

fn check_interval(body: &str) -> Result<String, String> {
    let ok = !body.is_empty()
        && body.chars().all(|c| c.is_ascii_digit() || c == ',')
        && body.matches(',').count() <= 1;
    if !ok {
        return Err("Invalid content of \\{\\}".to_owned());
    }
    let body = if body.starts_with(',') {
        format!("0{body}")
    } else {
        body.to_owned()
    };
    Ok(format!("{{{body}}}"))
}

/// A POSIX bracket expression starting at `c[0] == '['`.
fn bracket(c: &[char]) -> Result<(String, usize), String> {
    let mut out = String::from("[");
    let mut j = 1;
    if c.get(j) == Some(&'^') {
        out.push('^');
        j += 1;
    }
    let mut first = true;
    loop {
        let Some(&ch) = c.get(j) else {
            return Err("Unmatched [, [^, [:, [., or [=".to_owned());
        };
        if ch == ']' && !first {
            out.push(']');
            return Ok((out, j + 1));
        }
        first = false;
        if ch == '[' && matches!(c.get(j + 1), Some(':' | '=' | '.')) {
            let kind = c[j + 1];
            let mut k = j + 2;
            let mut name = String::new();
            while k + 1 < c.len() && !(c[k] == kind && c[k + 1] == ']') {
                name.push(c[k]);
                k += 1;
            }
            if k + 1 >= c.len() {
                return Err("Unmatched [, [^, [:, [., or [=".to_owned());
            }
            if kind == ':' {
                const CLASSES: &[&str] = &[
                    "alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct",
                    "print", "graph", "cntrl", "xdigit",
                ];
                if !CLASSES.contains(&name.as_str()) {
                    return Err("Invalid character class name".to_owned());
                }
                out.push_str(&format!("[:{name}:]"));
            } else {
                for ch in name.chars() {
                    push_class_char(&mut out, ch);
                }
            }
            j = k + 2;
            continue;
        }
        if ch == '-'
            && j > 1
            && c.get(j + 1).is_some_and(|n| *n != ']')
            && !out.ends_with('[')
            && !out.ends_with('^')
        {
            out.push('-');
            j += 1;
            continue;
        }
        push_class_char(&mut out, ch);
        j += 1;
    }
}

fn push_class_char(out: &mut String, ch: char) {
    if matches!(ch, '[' | ']' | '\\' | '&' | '~' | '-' | '^') {
        out.push('\\');
    }
    out.push(ch);
}

struct Opts {
    invert: bool,
    count: bool,
    files_with: bool,
    files_without: bool,
    line_numbers: bool,
    only: bool,
    quiet: bool,
    no_messages: bool,
    with_name: Option<bool>,
    recursive: bool,
    max: Option<u64>,
    before: usize,
    after: usize,
    include: Vec<String>,
    exclude: Vec<String>,
    exclude_dir: Vec<String>,
    text: bool,
    byte_offset: bool,
}

pub(super) fn egrep(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut a = vec!["-E".to_owned()];
    a.extend_from_slice(args);
    grep(ctx, &a)
}

pub(super) fn fgrep(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut a = vec!["-F".to_owned()];
    a.extend_from_slice(args);
    grep(ctx, &a)
}

fn grep_usage(ctx: &mut Ctx<'_, '_>, msg: &str) -> R<i32> {
    ctx.warn("grep", msg);
    ctx.io.errln("Usage: grep [OPTION]... PATTERNS [FILE]...");
    ctx.io.errln("Try 'grep --help' for more information.");
    Ok(2)
}

pub(super) fn grep(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut o = Opts {
        invert: false,
        count: false,
        files_with: false,
        files_without: false,
        line_numbers: false,
        only: false,
        quiet: false,
        no_messages: false,
        with_name: None,
        recursive: false,
        max: None,
        before: 0,
        after: 0,
        include: Vec::new(),
        exclude: Vec::new(),
        exclude_dir: Vec::new(),
        text: false,
        byte_offset: false,
    };
    let (mut extended, mut fixed, mut icase, mut word, mut line) =
        (false, false, false, false, false);
    let mut patterns: Vec<String> = Vec::new();
    let mut have_pattern = false;
    let mut operands: Vec<String> = Vec::new();
    let mut i = 0;
    let mut end_opts = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if end_opts || a == "-" || !a.starts_with('-') {
            operands.push(a.clone());
            continue;
        }
        if a == "--" {
            end_opts = true;
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, val) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let need = |i: &mut usize| -> Option<String> {
                if val.is_some() {
                    return val.clone();
                }
                let v = args.get(*i).cloned();
                *i += 1;
                v
            };
            match name {
                "include" => o.include.extend(need(&mut i)),
                "exclude" => o.exclude.extend(need(&mut i)),
                "exclude-dir" => o.exclude_dir.extend(need(&mut i)),
                "regexp" => {
                    patterns.extend(need(&mut i));
                    have_pattern = true;
                }
                "color" | "colour" => {}
                "recursive" | "dereference-recursive" => o.recursive = true,
                "ignore-case" => icase = true,
                "invert-match" => o.invert = true,
                "count" => o.count = true,
                "files-with-matches" => o.files_with = true,
                "files-without-match" => o.files_without = true,
                "line-number" => o.line_numbers = true,
                "only-matching" => o.only = true,
                "quiet" | "silent" => o.quiet = true,
                "no-messages" => o.no_messages = true,
                "with-filename" => o.with_name = Some(true),
                "no-filename" => o.with_name = Some(false),
                "word-regexp" => word = true,
                "line-regexp" => line = true,
                "extended-regexp" => extended = true,
                "fixed-strings" => fixed = true,
                "basic-regexp" => extended = false,
                "text" => o.text = true,
                "max-count" => o.max = need(&mut i).and_then(|v| v.parse().ok()),
                "context" => {
                    let n = need(&mut i).and_then(|v| v.parse().ok()).unwrap_or(0);
                    o.before = n;
                    o.after = n;
                }
                "after-context" => o.after = need(&mut i).and_then(|v| v.parse().ok()).unwrap_or(0),
                "before-context" => {
                    o.before = need(&mut i).and_then(|v| v.parse().ok()).unwrap_or(0)
                }
                _ => return grep_usage(ctx, &format!("unrecognized option '{a}'")),
            }
            continue;
        }
        let chars: Vec<char> = a[1..].chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            j += 1;
            let value = |j: &mut usize, i: &mut usize| -> Option<String> {
                let rest: String = chars[*j..].iter().collect();
                *j = chars.len();
                if !rest.is_empty() {
                    return Some(rest);
                }
                let v = args.get(*i).cloned();
                *i += 1;
                v
            };
            match c {
                'E' => extended = true,
                'F' => fixed = true,
                'G' => extended = false,
                'P' => extended = true,
                'i' | 'y' => icase = true,
                'v' => o.invert = true,
                'c' => o.count = true,
                'l' => o.files_with = true,
                'L' => o.files_without = true,
                'n' => o.line_numbers = true,
                'o' => o.only = true,
                'q' => o.quiet = true,
                's' => o.no_messages = true,
                'H' => o.with_name = Some(true),
                'h' => o.with_name = Some(false),
                'r' | 'R' => o.recursive = true,
                'w' => word = true,
                'x' => line = true,
                'a' => o.text = true,
                'b' => o.byte_offset = true,
                'I' | 'U' | 'T' | 'Z' | 'z' => {}
                'e' => match value(&mut j, &mut i) {
                    Some(v) => {
                        patterns.push(v);
                        have_pattern = true;
                    }
                    None => return grep_usage(ctx, "option requires an argument -- 'e'"),
                },
                'f' => match value(&mut j, &mut i) {
                    Some(f) => match ctx.read_operand(&f) {
                        Ok(d) => {
                            let s = String::from_utf8_lossy(&d).into_owned();
                            patterns.extend(s.lines().map(str::to_owned));
                            have_pattern = true;
                        }
                        Err(e) => {
                            ctx.warn("grep", format!("{f}: {e}"));
                            return Ok(2);
                        }
                    },
                    None => return grep_usage(ctx, "option requires an argument -- 'f'"),
                },
                'm' => o.max = value(&mut j, &mut i).and_then(|v| v.parse().ok()),
                'A' | 'B' | 'C' => {
                    let v = value(&mut j, &mut i);
                    let Some(n) = v.as_deref().and_then(|v| v.parse::<usize>().ok()) else {
                        ctx.warn(
                            "grep",
                            format!("{}: invalid context length argument", v.unwrap_or_default()),
                        );
                        return Ok(2);
                    };
                    match c {
                        'A' => o.after = n,
                        'B' => o.before = n,
                        _ => {
                            o.after = n;
                            o.before = n;
                        }
                    }
                }
                d if d.is_ascii_digit() => {
                    let rest: String = std::iter::once(d)
                        .chain(
                            chars[j..]
                                .iter()
                                .copied()
                                .take_while(|c| c.is_ascii_digit()),
                        )
                        .collect();
                    j += rest.len() - 1;
                    let n = rest.parse().unwrap_or(0);
                    o.after = n;
                    o.before = n;
                }
                other => return grep_usage(ctx, &format!("invalid option -- '{other}'")),
            }
        }
    }
    if !have_pattern {
        if operands.is_empty() {
            return grep_usage(ctx, "no pattern given").map(|_| 2);
        }
        let p = operands.remove(0);
        patterns.extend(p.split('\n').map(str::to_owned));
    }
    let mut parts = Vec::new();
    for p in &patterns {
        let re = if fixed {
            regex::escape(p)
        } else {
            match posix_to_regex(p, extended) {
                Ok(r) => r,
                Err(e) => {
                    ctx.warn("grep", e);
                    return Ok(2);
                }
            }
        };
        parts.push(re);
    }
    let mut src = parts
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    if word {
        src = format!(r"\b(?:{src})\b");
    }
    if line {
        src = format!("^(?:{src})$");
    }
    let re = match RegexBuilder::new(&src)
        .case_insensitive(icase)
        .multi_line(true)
        .size_limit(1 << 24)
        .dfa_size_limit(1 << 24)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            ctx.warn("grep", format!("invalid regular expression: {e}"));
            return Ok(2);
        }
    };
    let no_operands = operands.is_empty();
    if no_operands {
        operands.push(if o.recursive {
            ".".to_owned()
        } else {
            "-".to_owned()
        });
    }
    let multi = operands.len() > 1 || o.recursive;
    let show_name = o.with_name.unwrap_or(multi);
    let mut state = GrepState {
        matched: false,
        error: false,
        out: Vec::new(),
        visited: 0,
    };
    for op in &operands {
        if o.quiet && state.matched {
            break;
        }
        if op == "-" {
            let data = ctx.stdin.take_all().to_vec();
            search(
                ctx,
                &re,
                &o,
                "(standard input)",
                &data,
                show_name,
                &mut state,
            )?;
            continue;
        }
        let path = ctx.path(op);
        match ctx.sh.fs.stat(&path) {
            Ok(m) if m.kind == Kind::Dir => {
                if !o.recursive {
                    if !o.no_messages {
                        ctx.warn("grep", format!("{op}: Is a directory"));
                    }
                    state.error = true;
                    continue;
                }
                // With no operand GNU grep searches `.` but prints names without `./`.
                let prefix = if no_operands {
                    String::new()
                } else if op.ends_with('/') {
                    op.clone()
                } else {
                    format!("{op}/")
                };
                let mut files = Vec::new();
                walk::collect_files(
                    ctx,
                    &path,
                    &prefix,
                    &o.exclude_dir,
                    &mut files,
                    &mut state.visited,
                )?;
                for (vpath, disp) in files {
                    if o.quiet && state.matched {
                        break;
                    }
                    let base = disp.rsplit('/').next().unwrap_or(&disp).to_owned();
                    if !o.include.is_empty() && !o.include.iter().any(|g| pattern_match(g, &base)) {
                        continue;
                    }
                    if o.exclude.iter().any(|g| pattern_match(g, &base)) {
                        continue;
                    }
                    ctx.sh.tick()?;
                    match ctx.sh.fs.read(&vpath) {
                        Ok(d) => search(ctx, &re, &o, &disp, &d, show_name, &mut state)?,
                        Err(e) => {
                            if !o.no_messages {
                                ctx.warn("grep", format!("{disp}: {e}"));
                            }
                            state.error = true;
                        }
                    }
                }
            }
            Ok(_) | Err(_) => match ctx.sh.fs.read(&path) {
                Ok(d) => {
                    let base = op.rsplit('/').next().unwrap_or(op);
                    if o.recursive
                        && !o.include.is_empty()
                        && !o.include.iter().any(|g| pattern_match(g, base))
                    {
                        continue;
                    }
                    search(ctx, &re, &o, op, &d, show_name, &mut state)?
                }
                Err(e) => {
                    if !o.no_messages {
                        ctx.warn("grep", format!("{op}: {e}"));
                    }
                    state.error = true;
                }
            },
        }
    }
    ctx.io.out(&state.out);
    if o.quiet && state.matched {
        return Ok(0);
    }
    Ok(if state.error {
        2
    } else if state.matched {
        0
    } else {
        1
    })
}

struct GrepState {
    matched: bool,
    error: bool,
    out: Vec<u8>,
    visited: u64,
}

fn is_binary(d: &[u8]) -> bool {
    memchr::memchr(0, d).is_some() || std::str::from_utf8(d).is_err()
}

fn line_matches(re: &Regex, l: &[u8]) -> bool {
    re.is_match(l)
}

#[allow(clippy::too_many_arguments)]
fn search(
    ctx: &mut Ctx<'_, '_>,
    re: &Regex,
    o: &Opts,
    name: &str,
    data: &[u8],
    show_name: bool,
    st: &mut GrepState,
) -> R<()> {
    let binary = !o.text && is_binary(data);
    let simple = !o.invert && o.before == 0 && o.after == 0;
    // Lines as (start, end-without-newline).
    let mut matches: Vec<(usize, usize, u64)> = Vec::new();
    let limit = o.max.unwrap_or(u64::MAX);
    if limit == 0 {
        if o.count {
            emit_count(o, name, show_name, 0, st);
        }
        if o.files_without {
            st.out.extend_from_slice(name.as_bytes());
            st.out.push(b'\n');
        }
        return Ok(());
    }
    let mut all_lines: Vec<(usize, usize)> = Vec::new();
    if simple {
        // Fast path: let the regex find candidates in the whole buffer, then confirm per line.
        let mut pos = 0;
        let mut lineno: u64 = 1;
        let mut counted_to = 0;
        while pos <= data.len() {
            let Some(m) = re.find_at(data, pos) else {
                break;
            };
            if m.start() == data.len() && data.ends_with(b"\n") {
                // An empty match after the final newline is not a line.
                break;
            }
            let ls = memchr::memrchr(b'\n', &data[..m.start()])
                .map(|i| i + 1)
                .unwrap_or(0);
            let le = memchr::memchr(b'\n', &data[m.start()..])
                .map(|i| m.start() + i)
                .unwrap_or(data.len());
            if ls < pos {
                // The match began on a line already handled (spans lines); move on.
                pos = le + 1;
                continue;
            }
            if line_matches(re, &data[ls..le]) {
                lineno += memchr::memchr_iter(b'\n', &data[counted_to..ls]).count() as u64;
                counted_to = ls;
                matches.push((ls, le, lineno));
                if matches.len() as u64 >= limit || (o.quiet || o.files_with || o.files_without) {
                    break;
                }
            }
            if le >= data.len() {
                break;
            }
            pos = le + 1;
        }
    } else {
        let mut start = 0;
        let mut n = 0u64;
        while start < data.len() {
            let end = memchr::memchr(b'\n', &data[start..])
                .map(|i| start + i)
                .unwrap_or(data.len());
            n += 1;
            all_lines.push((start, end));
            if (line_matches(re, &data[start..end]) != o.invert) && (matches.len() as u64) < limit {
                matches.push((start, end, n));
            }
            start = end + 1;
        }
    }
    if !matches.is_empty() {
        st.matched = true;
    }
    if o.quiet {
        return Ok(());
    }
    if o.files_with {
        if !matches.is_empty() {
            st.out.extend_from_slice(name.as_bytes());
            st.out.push(b'\n');
        }
        return Ok(());
    }
    if o.files_without {
        if matches.is_empty() {
            st.out.extend_from_slice(name.as_bytes());
            st.out.push(b'\n');
        }
        return Ok(());
    }
    if o.count {
        emit_count(o, name, show_name, matches.len(), st);
        return Ok(());
    }
    if binary {
        if !matches.is_empty() {
            ctx.io.out(&std::mem::take(&mut st.out));
            ctx.warn("grep", format!("{name}: binary file matches"));
        }
        return Ok(());
    }
    let prefix = |st: &mut GrepState, n: u64, off: usize, sep: u8| {
        if show_name {
            st.out.extend_from_slice(name.as_bytes());
            st.out.push(sep);
        }
        if o.line_numbers {
            st.out.extend_from_slice(n.to_string().as_bytes());
            st.out.push(sep);
        }
        if o.byte_offset {
            st.out.extend_from_slice(off.to_string().as_bytes());
            st.out.push(sep);
        }
    };
    if o.before == 0 && o.after == 0 {
        for (s, e, n) in &matches {
            let l = &data[*s..*e];
            if o.only && !o.invert {
                for m in re.find_iter(l) {
                    if m.start() == m.end() {
                        continue;
                    }
                    prefix(st, *n, s + m.start(), b':');
                    st.out.extend_from_slice(m.as_bytes());
                    st.out.push(b'\n');
                }
            } else if !o.only {
                prefix(st, *n, *s, b':');
                st.out.extend_from_slice(l);
                st.out.push(b'\n');
            }
        }
        if st.out.len() > 1 << 16 {
            ctx.io.out(&std::mem::take(&mut st.out));
        }
        return Ok(());
    }
    // Context output with `--` between groups.
    let matched_set: std::collections::HashSet<u64> = matches.iter().map(|m| m.2).collect();
    let mut last_printed: u64 = 0;
    let mut after_left = 0usize;
    let total = all_lines.len() as u64;
    let last_match = matches.last().map(|m| m.2).unwrap_or(0);
    for (idx, (s, e)) in all_lines.iter().enumerate() {
        let n = idx as u64 + 1;
        let is_match = matched_set.contains(&n);
        let in_before = !is_match
            && matches
                .iter()
                .any(|m| m.2 > n && m.2 - n <= o.before as u64);
        if is_match || in_before || after_left > 0 {
            if n > last_match && !is_match && after_left == 0 {
                continue;
            }
            if last_printed != 0 && n > last_printed + 1 {
                st.out.extend_from_slice(b"--\n");
            }
            if is_match {
                prefix(st, n, *s, b':');
                after_left = o.after;
            } else {
                prefix(st, n, *s, b'-');
                after_left = after_left.saturating_sub(usize::from(!in_before));
            }
            st.out.extend_from_slice(&data[*s..*e]);
            st.out.push(b'\n');
            last_printed = n;
        }
        if n >= total {
            break;
        }
    }
    if st.out.len() > 1 << 16 {
        ctx.io.out(&std::mem::take(&mut st.out));
    }
    Ok(())
}

fn emit_count(_o: &Opts, name: &str, show_name: bool, n: usize, st: &mut GrepState) {
    if show_name {
        st.out.extend_from_slice(name.as_bytes());
        st.out.push(b':');
    }
    st.out.extend_from_slice(n.to_string().as_bytes());
    st.out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::posix_to_regex;

    #[test]
    fn bre_and_ere_translate() {
        assert_eq!(posix_to_regex(r"a\(b\)*c", false).unwrap(), "a(b)*c");
        assert_eq!(posix_to_regex("a+b?", false).unwrap(), r"a\+b\?");
        assert_eq!(posix_to_regex("a+b?", true).unwrap(), "a+b?");
        assert_eq!(posix_to_regex(r"x\{2,3\}", false).unwrap(), "x{2,3}");
        assert_eq!(posix_to_regex("*a", false).unwrap(), r"\*a");
        assert_eq!(
            posix_to_regex("[[:digit:]]+", true).unwrap(),
            "[[:digit:]]+"
        );
        assert_eq!(posix_to_regex(r"[\]", true).unwrap(), r"[\\]");
        assert!(posix_to_regex(r"\(a\)\1", false).is_err());
    }
}
