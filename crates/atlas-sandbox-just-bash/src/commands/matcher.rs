//! grep's two regex engines behind one interface: the linear-time `regex` crate for POSIX
//! patterns (`-G`, `-E`, `-F`), and `fancy-regex`, a backtracking engine with a step limit, for
//! `-P` (lookaround, `\K`, lazy and atomic groups, backreferences).

use std::cell::Cell;

use fancy_regex::{Expr, LookAround};
use regex::bytes::Regex;

use super::longest::Longest;

/// Backtracking steps one `-P` search may take (PCRE2's default match limit is 10 million).
const PCRE_BACKTRACK_LIMIT: usize = 1_000_000;

/// Whether `pat` has an unescaped `{m,n}` with `m > n` (fancy-regex would read it as literal
/// text; PCRE2 refuses it).
fn count_out_of_order(pat: &str) -> bool {
    let b = pat.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'{' => {
                let body = &pat[i + 1..];
                let end = body.find('}').unwrap_or(body.len());
                if let Some((lo, hi)) = body[..end].split_once(',')
                    && let (Ok(lo), Ok(hi)) = (lo.parse::<u64>(), hi.parse::<u64>())
                    && lo > hi
                {
                    return true;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    false
}

/// A compiled grep pattern.
pub(crate) enum Matcher {
    /// POSIX patterns, translated, and what finds their longest match (`None` for a lone
    /// fixed string, whose matches all have its length).
    Posix(Regex, Option<Box<Longest>>),
    /// `-P`. `failed` records a search that ran out of steps (GNU: "exceeded PCRE's
    /// backtracking limit", exit 2), so the caller can report it after the file.
    Pcre {
        re: fancy_regex::Regex,
        failed: Cell<bool>,
        /// The C locale's `\p{..}`: PCRE without UTF reads each byte as the code point of that
        /// value, so the haystack is searched as Latin-1 text.
        latin1: bool,
    },
}

/// `hay` with each byte as the character of that code point.
fn latin1_text(hay: &[u8]) -> String {
    hay.iter().map(|&b| char::from(b)).collect()
}

/// A byte offset into `latin1(hay)` back to one into `hay`.
fn from_latin1(text: &str, pos: usize) -> usize {
    text[..pos].chars().count()
}

/// One into `hay` to one into `latin1(hay)`.
fn to_latin1(hay: &[u8], pos: usize) -> usize {
    hay[..pos]
        .iter()
        .map(|&b| if b < 0x80 { 1 } else { 2 })
        .sum()
}

/// PCRE2's wording (as `grep -P` prints it) for a `fancy-regex` error, found by the innermost
/// cause's text; an error without a counterpart keeps fancy-regex's words.
fn pcre_message(e: &fancy_regex::Error, pat: &str) -> String {
    let mut text = e.to_string();
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cause {
        text = c.to_string();
        cause = c.source();
    }
    if text.contains("error parsing pattern") {
        // fancy-regex hands the plain parts to the `regex` crate and keeps only "error parsing
        // pattern 0": the `regex` crate's own parse of the pattern names the fault.
        if let Err(inner) = regex::Regex::new(pat) {
            text = inner.to_string();
        }
    }
    const TABLE: &[(&str, &str)] = &[
        (
            "Opening parenthesis without closing",
            "missing closing parenthesis",
        ),
        ("unclosed group", "missing closing parenthesis"),
        ("without matching opening", "unmatched closing parenthesis"),
        // fancy-regex stops at a stray `)`.
        ("end of string not reached", "unmatched closing parenthesis"),
        ("unopened group", "unmatched closing parenthesis"),
        (
            "invalid character class range",
            "range out of order in character class",
        ),
        (
            "unclosed character class",
            "missing terminating ] for character class",
        ),
        (
            "Invalid character class",
            "missing terminating ] for character class",
        ),
        (
            "invalid repetition count range",
            "numbers out of order in {} quantifier",
        ),
        (
            "repetition operator missing expression",
            "quantifier does not follow a repeatable item",
        ),
        (
            "Target of repeat operator is invalid",
            "quantifier does not follow a repeatable item",
        ),
        ("incomplete escape sequence", "\\ at end of pattern"),
        (
            "Backslash without following character",
            "\\ at end of pattern",
        ),
    ];
    TABLE
        .iter()
        .find(|(k, _)| text.contains(k) || e.to_string().contains(k))
        .map_or(text, |(_, v)| (*v).to_owned())
}

impl Matcher {
    /// Compiles a Perl-compatible pattern the way `grep -P` reads it: per line, `^`/`$` at line
    /// ends. The error reads like GNU grep's.
    /// Under the C locale (`c_locale`) it matches bytes, as PCRE without UTF does: `.` is one
    /// byte and `\w`, `\d`, `\s` are ASCII.
    pub(crate) fn pcre(
        pat: &str,
        icase: bool,
        word: bool,
        line: bool,
        c_locale: bool,
    ) -> Result<Self, String> {
        if let Ok(tree) = Expr::parse_tree(pat)
            && has_variable_lookbehind(&tree.expr)
        {
            return Err("lookbehind assertion is not fixed length".to_owned());
        }
        if count_out_of_order(pat) {
            return Err("numbers out of order in {} quantifier".to_owned());
        }
        let mut src = pat.to_owned();
        if word {
            src = format!(r"(?<!\w)(?:{src})(?!\w)");
        }
        if line {
            src = format!("^(?:{src})$");
        }
        let build = |bytes: bool| {
            let mut b = fancy_regex::RegexBuilder::new(&src);
            b.case_insensitive(icase)
                .multi_line(true)
                .backtrack_limit(PCRE_BACKTRACK_LIMIT)
                .delegate_size_limit(1 << 24)
                .delegate_dfa_size_limit(1 << 24);
            if bytes {
                b.bytes_mode(fancy_regex::BytesMode::Ascii);
            }
            b.build()
        };
        let mut latin1 = false;
        let built = if c_locale {
            build(true).or_else(|e| {
                // `\p{..}` has no ASCII form: search Latin-1 text instead.
                if pat.contains("\\p") || pat.contains("\\P") {
                    latin1 = true;
                    build(false)
                } else {
                    Err(e)
                }
            })
        } else {
            build(false)
        };
        let re = built.map_err(|e| match e {
            fancy_regex::Error::CompileError(c)
                if matches!(
                    *c,
                    fancy_regex::CompileError::VariableLookBehindRequiresFeature
                ) =>
            {
                "lookbehind assertion is not fixed length".to_owned()
            }
            other => pcre_message(&other, pat),
        })?;
        Ok(Matcher::Pcre {
            re,
            failed: Cell::new(false),
            latin1,
        })
    }

    /// Whether a search ran out of backtracking steps.
    pub(crate) fn exhausted(&self) -> bool {
        matches!(self, Matcher::Pcre { failed, .. } if failed.get())
    }

    pub(crate) fn is_match(&self, hay: &[u8]) -> bool {
        match self {
            Matcher::Posix(re, _) => re.is_match(hay),
            Matcher::Pcre {
                re, failed, latin1, ..
            } => {
                let r = if *latin1 {
                    re.is_match(latin1_text(hay).as_str())
                } else {
                    re.is_match(hay)
                };
                r.unwrap_or_else(|_| {
                    failed.set(true);
                    false
                })
            }
        }
    }

    /// The first match at or after `pos`, as byte offsets.
    pub(crate) fn find_at(&self, hay: &[u8], pos: usize) -> Option<(usize, usize)> {
        match self {
            Matcher::Posix(re, longest) => re.find_at(hay, pos).map(|m| {
                let end = longest
                    .as_ref()
                    .and_then(|l| l.end_from(hay, m.start(), m.end()))
                    .unwrap_or(m.end());
                (m.start(), end)
            }),
            Matcher::Pcre {
                re, failed, latin1, ..
            } => {
                let found = if *latin1 {
                    let text = latin1_text(hay);
                    re.find_from_pos(text.as_str(), to_latin1(hay, pos))
                        .map(|m| {
                            m.map(|m| (from_latin1(&text, m.start()), from_latin1(&text, m.end())))
                        })
                } else {
                    re.find_from_pos(hay, pos)
                        .map(|m| m.map(|m| (m.start(), m.end())))
                };
                found.unwrap_or_else(|_| {
                    failed.set(true);
                    None
                })
            }
        }
    }

    /// Every match in `hay`, as byte offsets (empty matches included; the caller skips them).
    pub(crate) fn find_all(&self, hay: &[u8]) -> Vec<(usize, usize)> {
        match self {
            Matcher::Posix(re, None) => re.find_iter(hay).map(|m| (m.start(), m.end())).collect(),
            Matcher::Posix(..) => {
                // Each match ends where POSIX says, and the next search starts there.
                let mut out = Vec::new();
                let mut pos = 0;
                while pos <= hay.len() {
                    let Some((s, e)) = self.find_at(hay, pos) else {
                        break;
                    };
                    out.push((s, e));
                    pos = if e > s { e } else { e + 1 };
                }
                out
            }
            Matcher::Pcre {
                re, failed, latin1, ..
            } => {
                let mut out = Vec::new();
                let text = if *latin1 {
                    latin1_text(hay)
                } else {
                    String::new()
                };
                type Found<'h> = Box<dyn Iterator<Item = fancy_regex::Result<(usize, usize)>> + 'h>;
                let found: Found<'_> = if *latin1 {
                    Box::new(
                        re.find_iter(text.as_str())
                            .map(|m| m.map(|m| (m.start(), m.end()))),
                    )
                } else {
                    Box::new(re.find_iter(hay).map(|m| m.map(|m| (m.start(), m.end()))))
                };
                for m in found {
                    match m {
                        Ok((a, b)) if *latin1 => {
                            out.push((from_latin1(&text, a), from_latin1(&text, b)));
                        }
                        Ok(m) => out.push(m),
                        Err(_) => {
                            failed.set(true);
                            break;
                        }
                    }
                }
                out
            }
        }
    }
}

/// PCRE2 wants each branch of a lookbehind to have one length; anything else is its compile
/// error, which `grep -P` reports.
fn has_variable_lookbehind(e: &Expr) -> bool {
    match e {
        Expr::LookAround(inner, LookAround::LookBehind | LookAround::LookBehindNeg) => {
            let branches: Vec<&Expr> = match inner.as_ref() {
                Expr::Alt(v) => v.iter().collect(),
                other => vec![other],
            };
            branches.iter().any(|b| fixed_len(b).is_none()) || has_variable_lookbehind(inner)
        }
        other => other.children_iter().any(has_variable_lookbehind),
    }
}

/// The number of characters `e` always matches, if that is fixed.
fn fixed_len(e: &Expr) -> Option<usize> {
    match e {
        Expr::Empty | Expr::Assertion(_) | Expr::LookAround(..) | Expr::KeepOut => Some(0),
        Expr::Any { .. } | Expr::Delegate { .. } => Some(1),
        Expr::Literal { val, .. } => Some(val.chars().count()),
        Expr::LiteralBytes { bytes } => Some(bytes.len()),
        Expr::Concat(v) => v.iter().try_fold(0usize, |n, x| Some(n + fixed_len(x)?)),
        Expr::Alt(v) => {
            let first = fixed_len(v.first()?)?;
            v.iter()
                .all(|x| fixed_len(x) == Some(first))
                .then_some(first)
        }
        Expr::Group(x) => fixed_len(x),
        Expr::AtomicGroup(x) => fixed_len(x),
        Expr::Repeat { child, lo, hi, .. } if lo == hi => Some(fixed_len(child)? * lo),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Matcher;

    fn all(pat: &str, hay: &str) -> Vec<String> {
        let m = Matcher::pcre(pat, false, false, false, false).unwrap();
        m.find_all(hay.as_bytes())
            .into_iter()
            .map(|(s, e)| hay[s..e].to_owned())
            .collect()
    }

    #[test]
    fn pcre_features_agents_use() {
        assert_eq!(all(r"id: \K\w+", "id: net_revenue"), ["net_revenue"]);
        assert_eq!(
            all(r"(?<=table: )\S+", "table: shop.orders"),
            ["shop.orders"]
        );
        assert_eq!(all(r"\w+(?=_usd)", "amount_usd x"), ["amount"]);
        assert_eq!(
            all(r"(?:gross|net)_\d+", "net_1 gross_22"),
            ["net_1", "gross_22"]
        );
        assert_eq!(all(r"a.*?b", "aXbYb"), ["aXb"]);
        assert_eq!(all(r"(?i)REV", "rev"), ["rev"]);
    }

    #[test]
    fn c_locale_matches_bytes() {
        let c = |pat: &str, hay: &[u8]| {
            let m = Matcher::pcre(pat, false, false, false, true).unwrap();
            m.find_all(hay)
        };
        // `.` is one byte, `\w` is ASCII, `\p{Han}` sees no Han among single bytes.
        assert_eq!(c(r"f.$", "fé".as_bytes()), Vec::<(usize, usize)>::new());
        assert_eq!(c(r"f..$", "fé".as_bytes()), [(0, 3)]);
        assert_eq!(c(r"\w+", "éa".as_bytes()), [(2, 3)]);
        assert_eq!(
            c(r"\p{Han}", "日本".as_bytes()),
            Vec::<(usize, usize)>::new()
        );
        assert_eq!(c(r"x\p{L}", b"x\xe9"), [(0, 2)]);
    }

    #[test]
    fn pcre_errors_and_limits() {
        let e = Matcher::pcre(r"(?<=a+)b", false, false, false, true)
            .err()
            .unwrap();
        assert_eq!(e, "lookbehind assertion is not fixed length");
        assert!(Matcher::pcre(r"(?<=ab|c)d", false, false, false, true).is_ok());
        assert!(Matcher::pcre(r"(", false, false, false, true).is_err());
        // Catastrophic backtracking stops at the step limit and says so.
        let hay = format!("{}b", "a".repeat(40));
        let m = Matcher::pcre(r"^(a|a?)+?(?=b)c", false, false, false, true).unwrap();
        assert!(!m.is_match(hay.as_bytes()));
        assert!(m.exhausted());
    }
}
