//! awk regexes: the cache of dynamic ones, Latin-1 text, and the translation to Rust's syntax.

use std::collections::HashMap;
use std::rc::Rc;

use regex::Regex;

use super::super::longest::{Flags, PosixText};

use super::super::grep::posix_to_regex;
use super::parse::PR;

thread_local! {
    /// Dynamic regexes (`FS`, `$0 ~ s`, `split(s, a, re)`) compiled once per thread, not once
    /// per record: a multi-character `-F` was compiled twice for every line.
    static REGEX_CACHE: std::cell::RefCell<HashMap<String, AwkRe>> =
        std::cell::RefCell::new(HashMap::new());
}

/// Most dynamic regexes a run keeps compiled.
const REGEX_CACHE_MAX: usize = 64;

thread_local! {
    /// This run reads bytes (the C locale): text is Latin-1 inside, so `\w` and kin are ASCII.
    pub(super) static LATIN1: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Each byte as the Latin-1 character of that value (the C locale's view of text).
pub(super) fn to_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Latin-1 text back to its bytes (each character is below 256).
pub(super) fn latin1_bytes(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// An awk regex: the `regex` crate's pattern, matched as POSIX says, leftmost-longest
/// (`sub(/a|ab/, "X")` on "abc" replaces "ab"; the `regex` crate would take "a").
#[derive(Clone, Debug)]
pub(crate) struct AwkRe(Rc<PosixText>);

/// One match of an [`AwkRe`].
#[derive(Clone, Copy)]
pub(crate) struct Span<'h> {
    hay: &'h str,
    start: usize,
    end: usize,
}

impl<'h> Span<'h> {
    pub(crate) fn start(&self) -> usize {
        self.start
    }
    pub(crate) fn end(&self) -> usize {
        self.end
    }
    pub(crate) fn as_str(&self) -> &'h str {
        &self.hay[self.start..self.end]
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

impl AwkRe {
    /// A pattern already in the `regex` crate's syntax (a literal `-F` separator, escaped).
    pub(crate) fn new(pattern: &str) -> Result<Self, regex::Error> {
        Regex::new(pattern).map(Self::wrap)
    }

    fn wrap(re: Regex) -> Self {
        let flags = Flags {
            unicode: true,
            ..Flags::default()
        };
        AwkRe(Rc::new(PosixText::new(re, flags)))
    }

    pub(crate) fn as_str(&self) -> &str {
        self.0.regex().as_str()
    }

    pub(crate) fn is_match(&self, s: &str) -> bool {
        self.0.regex().is_match(s)
    }

    pub(crate) fn find<'h>(&self, s: &'h str) -> Option<Span<'h>> {
        self.0
            .find_at(s, 0)
            .map(|(start, end)| Span { hay: s, start, end })
    }

    pub(crate) fn find_iter<'a, 'h>(&'a self, s: &'h str) -> impl Iterator<Item = Span<'h>> + 'a
    where
        'h: 'a,
    {
        self.0
            .find_iter(s)
            .map(move |(start, end)| Span { hay: s, start, end })
    }

    pub(crate) fn captures<'h>(&self, s: &'h str) -> Option<regex::Captures<'h>> {
        self.0.captures_at(s, 0)
    }

    pub(crate) fn captures_iter<'h>(&self, s: &'h str) -> std::vec::IntoIter<regex::Captures<'h>> {
        self.0.captures_all(s).into_iter()
    }

    /// The text between matches, as `regex`'s `split`.
    pub(crate) fn split<'h>(&self, s: &'h str) -> std::vec::IntoIter<&'h str> {
        let mut out = Vec::new();
        let mut last = 0;
        for (start, end) in self.0.find_iter(s) {
            out.push(&s[last..start]);
            last = end;
        }
        out.push(&s[last..]);
        out.into_iter()
    }
}

pub(super) fn compile(src: &str) -> PR<AwkRe> {
    let ascii = LATIN1.with(std::cell::Cell::get);
    let key = if ascii {
        format!("\u{1}{src}")
    } else {
        src.to_owned()
    };
    if let Some(re) = REGEX_CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(re);
    }
    let re = compile_uncached(src, ascii)?;
    REGEX_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= REGEX_CACHE_MAX {
            c.clear();
        }
        c.insert(key, re.clone());
    });
    Ok(re)
}

/// awk's regex dialect as a POSIX ERE: awk reads backslash escapes everywhere, inside bracket
/// expressions too (`/[\[\]]/` is `[` or `]`, `[\t ]` a tab or a space), where POSIX keeps a
/// backslash literal. Each bracket expression is rebuilt with its members in POSIX-safe order.
fn awk_regex_to_posix(src: &str) -> String {
    fn escape(c: char) -> Option<char> {
        Some(match c {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            'f' => '\u{c}',
            'v' => '\u{b}',
            'a' => '\u{7}',
            'b' => '\u{8}',
            '/' => '/',
            '"' => '"',
            _ => return None,
        })
    }
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' if i + 1 < c.len() => {
                match escape(c[i + 1]) {
                    Some(e) => out.push(e),
                    // gawk's word boundary (`\b` is a backspace in awk).
                    None if c[i + 1] == 'y' => out.push_str("\\b"),
                    None => {
                        out.push('\\');
                        out.push(c[i + 1]);
                    }
                }
                i += 2;
            }
            '[' => {
                let mut j = i + 1;
                let negate = c.get(j) == Some(&'^');
                if negate {
                    j += 1;
                }
                // Members: single characters, ranges and `[:class:]` names.
                let mut chars: Vec<char> = Vec::new();
                let mut rest: Vec<String> = Vec::new();
                let mut first = true;
                let mut closed = false;
                while j < c.len() {
                    let ch = c[j];
                    if ch == ']' && !first {
                        closed = true;
                        j += 1;
                        break;
                    }
                    first = false;
                    if ch == '[' && matches!(c.get(j + 1), Some(':' | '.' | '=')) {
                        let kind = c[j + 1];
                        let end = (j + 2..c.len().saturating_sub(1))
                            .find(|&k| c[k] == kind && c[k + 1] == ']');
                        if let Some(end) = end {
                            rest.push(c[j..end + 2].iter().collect());
                            j = end + 2;
                            continue;
                        }
                    }
                    let (lo, next) = if ch == '\\' && j + 1 < c.len() {
                        (escape(c[j + 1]).unwrap_or(c[j + 1]), j + 2)
                    } else {
                        (ch, j + 1)
                    };
                    // A range `lo-hi` (a `-` before `]` is a literal).
                    if c.get(next) == Some(&'-') && next + 1 < c.len() && c[next + 1] != ']' {
                        let (hi, after) = if c[next + 1] == '\\' && next + 2 < c.len() {
                            (escape(c[next + 2]).unwrap_or(c[next + 2]), next + 3)
                        } else {
                            (c[next + 1], next + 2)
                        };
                        rest.push(format!("{lo}-{hi}"));
                        j = after;
                        continue;
                    }
                    chars.push(lo);
                    j = next;
                }
                if !closed {
                    // Unterminated: leave it to the translator's error.
                    out.extend(&c[i..]);
                    break;
                }
                out.push('[');
                if negate {
                    out.push('^');
                }
                if chars.contains(&']') {
                    out.push(']');
                }
                for m in &rest {
                    out.push_str(m);
                }
                for &ch in &chars {
                    if !matches!(ch, ']' | '-' | '^') {
                        out.push(ch);
                    }
                }
                if chars.contains(&'^') {
                    out.push('^');
                }
                if chars.contains(&'-') {
                    out.push('-');
                }
                out.push(']');
                i = j;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    out
}

/// Backslash escapes as in an awk string literal; an unknown escape keeps its backslash.
pub(super) fn unescape_awk_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('/') => out.push('/'),
            Some('"') => out.push('"'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn compile_uncached(src: &str, ascii: bool) -> PR<AwkRe> {
    let mut t = posix_to_regex(&awk_regex_to_posix(src), true)?;
    if ascii {
        t = super::super::sed_script::ascii_classes(&t);
    }
    regex::RegexBuilder::new(&t)
        .size_limit(1 << 22)
        .build()
        .map(AwkRe::wrap)
        .map_err(|e| format!("invalid regex: {e}"))
}
