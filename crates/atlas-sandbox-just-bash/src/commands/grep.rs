//! `grep` with GNU grep 3.x output (prefixes, `./` for a `.` operand, readdir order for `-r`,
//! context separators, binary-file notices), on the linear-time `regex` crate.

use regex::bytes::RegexBuilder;

use super::longest::{self, Longest};
use super::matcher::Matcher;
use super::opts::{Arg, Spec};
use super::{Ctx, walk};
use crate::interp::{R, pattern_match};
use crate::vfs::Kind;

/// The refusal of a backreference where the linear-time engine must run the pattern.
const BACKREF_REFUSED: &str = "backreferences are not supported in this sandbox";

/// Translates a POSIX BRE/ERE (GNU flavour) into `regex` crate syntax.
pub(crate) fn posix_to_regex(pat: &str, extended: bool) -> Result<String, String> {
    translate(pat, extended, false)
}

/// The same translation with backreferences kept (`\1`...), for `fancy-regex`, which takes
/// the `regex` crate's syntax plus them.
fn posix_to_backtracking(pat: &str, extended: bool) -> Result<String, String> {
    translate(pat, extended, true)
}

fn translate(pat: &str, extended: bool, backrefs: bool) -> Result<String, String> {
    let c: Vec<char> = pat.chars().collect();
    let mut out = String::with_capacity(pat.len() + 8);
    let mut i = 0;
    // Whether the previous token can be repeated (a `*` right after `(` or at the start is literal).
    let mut can_repeat = false;
    // Open ERE groups: a `)` with none open is an ordinary character, as in GNU regex.
    let mut groups = 0usize;
    // Groups opened so far (BRE and ERE): a backreference may name only one of them.
    let mut opened = 0usize;
    while i < c.len() {
        let ch = c[i];
        match ch {
            '\\' => {
                let Some(&n) = c.get(i + 1) else {
                    return Err("Trailing backslash".to_owned());
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
                        if n == '(' {
                            opened += 1;
                        }
                        can_repeat = n != '(' && n != '|';
                        continue;
                    }
                    '1'..='9' => {
                        if !backrefs {
                            return Err(BACKREF_REFUSED.to_owned());
                        }
                        if n.to_digit(10).is_some_and(|d| d as usize > opened) {
                            return Err("Invalid back reference".to_owned());
                        }
                        out.push('\\');
                        out.push(n);
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
                if ch == ')' && groups == 0 {
                    out.push_str("\\)");
                    can_repeat = true;
                    i += 1;
                    continue;
                }
                match ch {
                    '(' => {
                        groups += 1;
                        opened += 1;
                    }
                    ')' => groups -= 1,
                    _ => {}
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
    skip_binary: bool,
    /// `-Z`: a NUL after each file name instead of `:` or a newline.
    null: bool,
    initial_tab: bool,
    /// `-A`/`-B`/`-C`/`-NUM` was given, even as 0: GNU then puts `--` between groups that are
    /// not adjacent, in one file or across files.
    context: bool,
    /// The line terminator: `-z` reads and writes NUL-terminated lines.
    eol: u8,
    /// What goes between context groups: `--`, `--group-separator=SEP`, or nothing
    /// (`--no-group-separator`).
    group_separator: Option<String>,
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

const GREP_INCLUDE: char = '\u{e000}';
const GREP_EXCLUDE: char = '\u{e001}';
const GREP_EXCLUDE_DIR: char = '\u{e002}';
const GREP_COLOR: char = '\u{e003}';
const GREP_BINARY_FILES: char = '\u{e004}';
const GREP_NO_ICASE: char = '\u{e005}';
const GREP_LINE_BUFFERED: char = '\u{e006}';
const GREP_GROUP_SEP: char = '\u{e007}';
const GREP_NO_GROUP_SEP: char = '\u{e008}';

const GREP: Spec = Spec::new(
    "grep",
    "0123456789A:B:C:EFGHILPRTUZabce:f:hilm:noqrsvwxyz",
    &[
        ("after-context", 'A', Arg::Required),
        ("before-context", 'B', Arg::Required),
        ("context", 'C', Arg::Required),
        ("extended-regexp", 'E', Arg::No),
        ("fixed-strings", 'F', Arg::No),
        ("basic-regexp", 'G', Arg::No),
        ("perl-regexp", 'P', Arg::No),
        ("with-filename", 'H', Arg::No),
        ("no-filename", 'h', Arg::No),
        ("files-without-match", 'L', Arg::No),
        ("files-with-matches", 'l', Arg::No),
        ("dereference-recursive", 'R', Arg::No),
        ("recursive", 'r', Arg::No),
        ("binary", 'U', Arg::No),
        ("initial-tab", 'T', Arg::No),
        ("null", 'Z', Arg::No),
        ("null-data", 'z', Arg::No),
        ("text", 'a', Arg::No),
        ("byte-offset", 'b', Arg::No),
        ("count", 'c', Arg::No),
        ("regexp", 'e', Arg::Required),
        ("file", 'f', Arg::Required),
        ("ignore-case", 'i', Arg::No),
        ("no-ignore-case", GREP_NO_ICASE, Arg::No),
        ("max-count", 'm', Arg::Required),
        ("line-number", 'n', Arg::No),
        ("only-matching", 'o', Arg::No),
        ("quiet", 'q', Arg::No),
        ("silent", 'q', Arg::No),
        ("no-messages", 's', Arg::No),
        ("invert-match", 'v', Arg::No),
        ("word-regexp", 'w', Arg::No),
        ("line-regexp", 'x', Arg::No),
        ("include", GREP_INCLUDE, Arg::Required),
        ("exclude", GREP_EXCLUDE, Arg::Required),
        ("exclude-dir", GREP_EXCLUDE_DIR, Arg::Required),
        ("color", GREP_COLOR, Arg::Optional),
        ("colour", GREP_COLOR, Arg::Optional),
        ("binary-files", GREP_BINARY_FILES, Arg::Required),
        ("line-buffered", GREP_LINE_BUFFERED, Arg::No),
        ("group-separator", GREP_GROUP_SEP, Arg::Required),
        ("no-group-separator", GREP_NO_GROUP_SEP, Arg::No),
    ],
)
.gnu(
    "0123456789A:B:C:D:EFGHIPTUVX:abcd:e:f:hiLlm:noqRrsuvwxyZz",
    &[
        "devices",
        "directories",
        "exclude-from",
        "label",
        "no-ignore-case",
        "null",
        "version",
        "help",
    ],
)
.status(2);

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
        skip_binary: false,
        null: false,
        initial_tab: false,
        context: false,
        eol: b'\n',
        group_separator: Some("--".to_owned()),
    };
    let (mut extended, mut fixed, mut icase, mut word, mut line) =
        (false, false, false, false, false);
    let mut patterns: Vec<String> = Vec::new();
    let mut have_pattern = false;
    let (flags, mut operands) = match ctx.opts(&GREP, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut pcre = false;
    // `-5` is `-C 5`; the digits of one cluster make one number.
    let mut digits: Option<String> = None;
    for (c, v) in flags {
        if c.is_ascii_digit() {
            digits.get_or_insert_with(String::new).push(c);
            let n = digits
                .as_deref()
                .unwrap_or("0")
                .parse()
                .unwrap_or(usize::MAX);
            (o.before, o.after) = (n, n);
            o.context = true;
            continue;
        }
        digits = None;
        let v = v.unwrap_or_default();
        match c {
            'E' => (extended, fixed, pcre) = (true, false, false),
            'F' => (fixed, pcre) = (true, false),
            'G' => (extended, fixed, pcre) = (false, false, false),
            'P' => (pcre, fixed) = (true, false),
            'i' | 'y' => icase = true,
            GREP_NO_ICASE => icase = false,
            GREP_GROUP_SEP => o.group_separator = Some(v.clone()),
            GREP_NO_GROUP_SEP => o.group_separator = None,
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
            GREP_INCLUDE => o.include.push(v),
            GREP_EXCLUDE => o.exclude.push(v),
            GREP_EXCLUDE_DIR => o.exclude_dir.push(v),
            'e' => {
                patterns.push(v);
                have_pattern = true;
            }
            'f' => match ctx.read_operand(&v) {
                Ok(d) => {
                    let s = String::from_utf8_lossy(&d).into_owned();
                    patterns.extend(s.lines().map(str::to_owned));
                    have_pattern = true;
                }
                Err(e) => {
                    ctx.warn("grep", format!("{v}: {e}"));
                    return Ok(2);
                }
            },
            'm' => match v.parse::<i64>() {
                // A negative count is no limit, as in GNU grep 3.8.
                Ok(n) => o.max = u64::try_from(n).ok(),
                Err(_) => {
                    ctx.warn("grep", "invalid max count");
                    return Ok(2);
                }
            },
            'A' | 'B' | 'C' => {
                let Ok(n) = v.parse::<usize>() else {
                    ctx.warn("grep", format!("{v}: invalid context length argument"));
                    return Ok(2);
                };
                o.context = true;
                match c {
                    'A' => o.after = n,
                    'B' => o.before = n,
                    _ => (o.before, o.after) = (n, n),
                }
            }
            GREP_COLOR => match v.as_str() {
                "" | "never" | "no" | "none" | "auto" | "tty" | "if-tty" => {}
                w => {
                    ctx.warn(
                        "grep",
                        format!("option '--color={w}' is not supported by this sandbox"),
                    );
                    return Ok(2);
                }
            },
            GREP_BINARY_FILES => match v.as_str() {
                "binary" => {}
                "text" => o.text = true,
                w => {
                    ctx.warn(
                        "grep",
                        format!("option '--binary-files={w}' is not supported by this sandbox"),
                    );
                    return Ok(2);
                }
            },
            // -I (skip binary files), -U, -T, -Z, --line-buffered: nothing they change shows here.
            'I' => o.skip_binary = true,
            'Z' => o.null = true,
            'z' => o.eol = 0,
            'T' => o.initial_tab = true,
            _ => {}
        }
    }
    if !have_pattern {
        if operands.is_empty() {
            return grep_usage(ctx, "no pattern given").map(|_| 2);
        }
        let p = operands.remove(0);
        patterns.extend(p.split('\n').map(str::to_owned));
    }
    let re = if pcre {
        if patterns.len() > 1 {
            ctx.warn("grep", "the -P option only supports a single pattern");
            return Ok(2);
        }
        match Matcher::pcre(&patterns[0], icase, word, line, c_locale(ctx)) {
            Ok(m) => m,
            Err(e) => {
                ctx.warn("grep", e);
                return Ok(2);
            }
        }
    } else if !fixed
        && patterns.len() == 1
        && posix_to_regex(&patterns[0], extended).is_err_and(|e| e == BACKREF_REFUSED)
    {
        // A backreference needs a backtracking engine. Whether a line matches does not depend
        // on which of several matches an engine prefers, so lines are selected exactly; the
        // extent printed by -o does (POSIX wants the longest), so -o is refused.
        if o.only {
            ctx.warn(
                "grep",
                "-o with a backreference in the pattern is not supported in this sandbox",
            );
            return Ok(2);
        }
        let src = match posix_to_backtracking(&patterns[0], extended) {
            Ok(s) => s,
            Err(e) => {
                ctx.warn("grep", e);
                return Ok(2);
            }
        };
        match Matcher::pcre(&src, icase, word, line, c_locale(ctx)) {
            Ok(m) => m,
            Err(e) => {
                ctx.warn("grep", e);
                return Ok(2);
            }
        }
    } else {
        let mut parts = Vec::new();
        if patterns.is_empty() {
            // `-f` of an empty file gives no pattern at all, which matches no line (an empty
            // pattern would match every line).
            parts.push(r"[^\s\S]".to_owned());
        }
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
        // The C locale matches bytes: `.` is one byte, classes and case folding are ASCII. An
        // ASCII pattern says so exactly with Unicode off; a non-ASCII one keeps its literal
        // characters out of case folding.
        let c_loc = c_locale(ctx);
        let ascii = src.is_ascii();
        if c_loc && icase && !ascii {
            src = fold_ascii_only(&src);
        }
        // Under `-z` a newline is an ordinary character: `.` matches it, `^`/`$` do not.
        let zero = o.eol == 0;
        match RegexBuilder::new(&src)
            .case_insensitive(icase)
            .unicode(!(c_loc && ascii))
            .multi_line(!zero)
            .dot_matches_new_line(zero)
            .size_limit(1 << 24)
            .dfa_size_limit(1 << 24)
            .build()
        {
            Ok(r) => {
                // A lone fixed string has one length; anything else may have matches of
                // several lengths at one start, of which POSIX wants the longest.
                let longest = if fixed && patterns.len() == 1 {
                    None
                } else {
                    let flags = longest::Flags {
                        icase,
                        unicode: !(c_loc && ascii),
                        multi_line: !zero,
                        dot_nl: zero,
                    };
                    match Longest::new(&src, flags) {
                        Some(l) => Some(Box::new(l)),
                        None => {
                            ctx.warn(
                                "grep",
                                "the pattern is too large for this sandbox's matcher",
                            );
                            return Ok(2);
                        }
                    }
                };
                Matcher::Posix(r, longest)
            }
            Err(e) => {
                ctx.warn("grep", regex_error(&e));
                return Ok(2);
            }
        }
    };
    // GNU grep stops before opening any file when no line can match: `-m 0`, or no pattern at
    // all (`-f /dev/null`) without -v. Only -L still lists the files.
    if (o.max == Some(0) || (patterns.is_empty() && !o.invert)) && !o.files_without {
        return Ok(1);
    }
    let no_operands = operands.is_empty();
    if no_operands {
        operands.push(if o.recursive {
            ".".to_owned()
        } else {
            "-".to_owned()
        });
    }
    // GNU names files when there are several operands or `-r` walks a directory; `grep -r x
    // file.yml` prints bare lines.
    let multi = operands.len() > 1
        || (o.recursive && (no_operands || ctx.sh.fs.is_dir(&ctx.path(&operands[0]))));
    let show_name = o.with_name.unwrap_or(multi);
    if o.initial_tab && (show_name || o.line_numbers || o.byte_offset) && !o.count {
        ctx.warn("grep", "option '-T' is not supported by this sandbox");
        return Ok(2);
    }
    let mut state = GrepState {
        matched: false,
        error: false,
        out: Vec::new(),
        visited: 0,
        grouped: false,
    };
    for op in &operands {
        if o.quiet && state.matched {
            break;
        }
        if op == "-" {
            let data = ctx.stdin.take_all().to_vec();
            let used = search(
                ctx,
                &re,
                &o,
                "(standard input)",
                &data,
                show_name,
                &mut state,
            )?;
            // GNU grep leaves a regular file on stdin just after the last line it counted once
            // -m is reached, so `{ grep -m1 x; cat; } < file` goes on from there.
            if let Some(used) = used {
                ctx.stdin.unread(data.len() - used);
            }
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
                    // GNU reads the directory as a file with no line: -c counts 0, -L lists it.
                    if !o.quiet && (o.count || o.files_without) {
                        search(ctx, &re, &o, op, &[], show_name, &mut state)?;
                    }
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
                        Ok(d) => {
                            search(ctx, &re, &o, &disp, &d, show_name, &mut state)?;
                        }
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
                    search(ctx, &re, &o, op, &d, show_name, &mut state)?;
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
    if re.exhausted() {
        ctx.warn("grep", "exceeded PCRE's backtracking limit");
        return Ok(2);
    }
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
    /// A context group was printed already (from this file or an earlier one).
    grouped: bool,
}

fn is_binary(d: &[u8]) -> bool {
    memchr::memchr(0, d).is_some() || std::str::from_utf8(d).is_err()
}

fn line_matches(re: &Matcher, l: &[u8]) -> bool {
    re.is_match(l)
}

#[allow(clippy::too_many_arguments)]
fn search(
    ctx: &mut Ctx<'_, '_>,
    re: &Matcher,
    o: &Opts,
    name: &str,
    data: &[u8],
    show_name: bool,
    st: &mut GrepState,
) -> R<Option<usize>> {
    // Under `-z` NUL ends lines: it does not make a file binary.
    let binary = !o.text
        && if o.eol == 0 {
            std::str::from_utf8(data).is_err()
        } else {
            is_binary(data)
        };
    if binary && o.skip_binary {
        return Ok(None);
    }
    // `-P` searches line by line: its lookbehind must not see the line before.
    let simple = !o.invert && !o.context && o.eol == b'\n' && matches!(re, Matcher::Posix(..));
    // Lines as (start, end-without-newline).
    let mut matches: Vec<(usize, usize, u64)> = Vec::new();
    let limit = o.max.unwrap_or(u64::MAX);
    if limit == 0 {
        if o.count {
            emit_count(o, name, show_name, 0, st);
        }
        if o.files_without {
            st.out.extend_from_slice(name.as_bytes());
            st.out.push(if o.null { 0 } else { b'\n' });
        }
        return Ok(Some(0));
    }
    let mut all_lines: Vec<(usize, usize)> = Vec::new();
    if simple {
        // Fast path: let the regex find candidates in the whole buffer, then confirm per line.
        let mut pos = 0;
        let mut lineno: u64 = 1;
        let mut counted_to = 0;
        while pos <= data.len() {
            let Some((m_start, _)) = re.find_at(data, pos) else {
                break;
            };
            if m_start == data.len() && (data.is_empty() || data.ends_with(b"\n")) {
                // An empty match after the final newline (or in an empty file) is not a line.
                break;
            }
            let ls = memchr::memrchr(b'\n', &data[..m_start])
                .map(|i| i + 1)
                .unwrap_or(0);
            let le = memchr::memchr(b'\n', &data[m_start..])
                .map(|i| m_start + i)
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
            let end = memchr::memchr(o.eol, &data[start..])
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
    let used = (o.max.is_some() && matches.len() as u64 >= limit)
        .then(|| matches.last().map_or(0, |m| (m.1 + 1).min(data.len())));
    if o.quiet {
        return Ok(used);
    }
    let name_end = if o.null { 0 } else { b'\n' };
    if o.files_with {
        if !matches.is_empty() {
            st.out.extend_from_slice(name.as_bytes());
            st.out.push(name_end);
        }
        return Ok(used);
    }
    if o.files_without {
        if matches.is_empty() {
            st.out.extend_from_slice(name.as_bytes());
            st.out.push(name_end);
        }
        return Ok(used);
    }
    if o.count {
        emit_count(o, name, show_name, matches.len(), st);
        return Ok(used);
    }
    if binary {
        if !matches.is_empty() {
            ctx.io.out(&std::mem::take(&mut st.out));
            ctx.warn("grep", format!("{name}: binary file matches"));
        }
        return Ok(used);
    }
    let prefix = |st: &mut GrepState, n: u64, off: usize, sep: u8| {
        if show_name {
            st.out.extend_from_slice(name.as_bytes());
            st.out.push(if o.null { 0 } else { sep });
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
    if !o.context {
        for (s, e, n) in &matches {
            let l = &data[*s..*e];
            if o.only && !o.invert {
                for (ms, me) in re.find_all(l) {
                    if ms == me {
                        continue;
                    }
                    prefix(st, *n, s + ms, b':');
                    st.out.extend_from_slice(&l[ms..me]);
                    st.out.push(o.eol);
                }
            } else if !o.only {
                prefix(st, *n, *s, b':');
                st.out.extend_from_slice(l);
                st.out.push(o.eol);
            }
        }
        if st.out.len() > 1 << 16 {
            ctx.io.out(&std::mem::take(&mut st.out));
        }
        return Ok(used);
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
            if ((last_printed != 0 && n > last_printed + 1) || (last_printed == 0 && st.grouped))
                && let Some(sep) = &o.group_separator
            {
                st.out.extend_from_slice(sep.as_bytes());
                st.out.push(b'\n');
            }
            st.grouped = true;
            let line = &data[*s..*e];
            if is_match {
                after_left = o.after;
                if o.only {
                    // `-o` prints the matches alone; context lines only shape the groups.
                    if !o.invert {
                        for (ms, me) in re.find_all(line) {
                            if ms < me {
                                prefix(st, n, s + ms, b':');
                                st.out.extend_from_slice(&line[ms..me]);
                                st.out.push(o.eol);
                            }
                        }
                    }
                } else {
                    prefix(st, n, *s, b':');
                    st.out.extend_from_slice(line);
                    st.out.push(o.eol);
                }
            } else {
                after_left = after_left.saturating_sub(usize::from(!in_before));
                if !o.only {
                    prefix(st, n, *s, b'-');
                    st.out.extend_from_slice(line);
                    st.out.push(o.eol);
                }
            }
            last_printed = n;
        }
        if n >= total {
            break;
        }
    }
    if st.out.len() > 1 << 16 {
        ctx.io.out(&std::mem::take(&mut st.out));
    }
    Ok(used)
}

fn emit_count(o: &Opts, name: &str, show_name: bool, n: usize, st: &mut GrepState) {
    if show_name {
        st.out.extend_from_slice(name.as_bytes());
        st.out.push(if o.null { 0 } else { b':' });
    }
    st.out.extend_from_slice(n.to_string().as_bytes());
    st.out.push(b'\n');
}

/// Wraps each non-ASCII character outside a bracket expression in `(?-i:…)`: under the C
/// locale `grep -i` folds ASCII letters only.
pub(crate) fn fold_ascii_only(re: &str) -> String {
    let mut out = String::with_capacity(re.len() + 16);
    let mut in_class = 0usize;
    let mut escaped = false;
    for c in re.chars() {
        if escaped {
            out.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                out.push(c);
            }
            '[' => {
                in_class += 1;
                out.push(c);
            }
            ']' if in_class > 0 => {
                in_class -= 1;
                out.push(c);
            }
            c if !c.is_ascii() && in_class == 0 => {
                out.push_str("(?-i:");
                out.push(c);
                out.push(')');
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether the shell's locale is C/POSIX (or none is set, which is C).
pub(crate) fn c_locale(ctx: &Ctx<'_, '_>) -> bool {
    let v = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| ctx.sh.get_var(k).filter(|v| !v.is_empty()));
    matches!(v.as_deref(), None | Some("C" | "POSIX"))
}

/// A regex the translation let through but the engine refused, worded like GNU grep's errors
/// rather than the regex crate's multi-line report.
fn regex_error(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(_) => "regular expression too big".to_owned(),
        other => {
            let text = other.to_string();
            let last = text
                .lines()
                .rev()
                .find(|l| l.starts_with("error: "))
                .map(|l| l.trim_start_matches("error: ").to_owned())
                .unwrap_or(text);
            gnu_regex_message(&last).map_or_else(
                || format!("invalid regular expression: {last}"),
                str::to_owned,
            )
        }
    }
}

/// GNU regex's wording (`regcomp`, as grep and sed print it) for a `regex-syntax` error.
fn gnu_regex_message(syntax: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("unclosed group", "Unmatched ( or \\("),
        ("unopened group", "Unmatched ) or \\)"),
        ("unclosed character class", "Unmatched [, [^, [:, [., or [="),
        (
            "invalid repetition count range",
            "Invalid content of \\{\\}",
        ),
        ("unclosed counted repetition", "Unmatched \\{"),
        (
            "repetition quantifier expects a valid decimal",
            "Invalid content of \\{\\}",
        ),
        ("invalid character class range", "Invalid range end"),
        (
            "repetition operator missing expression",
            "Invalid preceding regular expression",
        ),
        ("incomplete escape sequence", "Trailing backslash"),
        ("invalid ASCII class", "Invalid character class name"),
        ("unrecognized UTF-8 class", "Invalid character class name"),
    ];
    TABLE
        .iter()
        .find(|(k, _)| syntax.contains(k))
        .map(|(_, v)| *v)
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
        assert_eq!(
            super::posix_to_backtracking(r"\(a\)\1", false).unwrap(),
            r"(a)\1"
        );
        assert!(super::posix_to_backtracking(r"\(a\)\2", false).is_err());
        assert_eq!(
            super::posix_to_backtracking(r"(x)y\1", true).unwrap(),
            r"(x)y\1"
        );
    }
}
