//! POSIX match extents. grep, sed and awk match leftmost-longest: of the matches that start
//! leftmost, the longest (`grep -oE 'order|orders'` prints `orders`), where the `regex` crate,
//! like Perl, takes the first alternative that matches (`order`). Both agree on where the
//! leftmost match starts; from there, a lazy DFA built to keep every match (`MatchKind::All`)
//! runs anchored until it dies, and the last match it saw is the longest.

use std::cell::RefCell;

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind};

/// The flags the `regex` crate pattern was built with, so both engines read it alike.
#[derive(Clone, Copy, Default)]
pub(crate) struct Flags {
    pub icase: bool,
    pub unicode: bool,
    pub multi_line: bool,
    pub dot_nl: bool,
}

/// The longest end of a match from a given start.
pub(crate) struct Longest {
    dfa: DFA,
    cache: RefCell<Cache>,
}

impl std::fmt::Debug for Longest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Longest")
    }
}

impl Longest {
    /// `None` when the DFA cannot be built within its size limits (the caller then refuses
    /// rather than report a possibly shorter match).
    pub(crate) fn new(pattern: &str, flags: Flags) -> Option<Self> {
        let dfa = DFA::builder()
            .syntax(
                syntax::Config::new()
                    .case_insensitive(flags.icase)
                    .unicode(flags.unicode)
                    .utf8(false)
                    .multi_line(flags.multi_line)
                    .dot_matches_new_line(flags.dot_nl),
            )
            .thompson(
                thompson::Config::new()
                    .utf8(false)
                    .nfa_size_limit(Some(1 << 24)),
            )
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(1 << 22)
                    // A word boundary past ASCII is checked as the `regex` crate does.
                    .unicode_word_boundary(true),
            )
            .build(pattern)
            .ok()?;
        let cache = RefCell::new(dfa.create_cache());
        Some(Longest { dfa, cache })
    }

    /// The end of the longest match that starts at `start`, given that one (ending at
    /// `first_end`) does. `None` when the DFA gave up (a Unicode word boundary next to a
    /// non-ASCII byte): the caller must not guess.
    pub(crate) fn end_from(&self, hay: &[u8], start: usize, first_end: usize) -> Option<usize> {
        let input = Input::new(hay)
            .range(start..)
            .anchored(Anchored::Yes)
            .earliest(false);
        let mut cache = self.cache.borrow_mut();
        match self.dfa.try_search_fwd(&mut cache, &input) {
            Ok(Some(m)) => Some(m.offset().max(first_end)),
            Ok(None) => Some(first_end),
            Err(_) => None,
        }
    }
}

/// A pattern over text (sed, awk) with POSIX match extents and the groups of that match. The
/// companions are built on first use: most patterns are only ever asked whether they match.
pub(crate) struct PosixText {
    re: regex::Regex,
    flags: Flags,
    /// The same pattern that must end where the text ends (`(?:...)\z`), for the groups of a
    /// longest match that is not the `regex` crate's own.
    to_end: std::cell::OnceCell<Option<regex::Regex>>,
    longest: std::cell::OnceCell<Option<Longest>>,
}

impl std::fmt::Debug for PosixText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.re.as_str())
    }
}

impl PosixText {
    /// Wraps `re`, which was built with `flags`.
    pub(crate) fn new(re: regex::Regex, flags: Flags) -> Self {
        PosixText {
            re,
            flags,
            to_end: std::cell::OnceCell::new(),
            longest: std::cell::OnceCell::new(),
        }
    }

    /// The `regex` crate pattern (for `is_match` and the like, where extents do not matter).
    pub(crate) fn regex(&self) -> &regex::Regex {
        &self.re
    }

    fn end(&self, hay: &str, start: usize, first_end: usize) -> usize {
        self.longest
            .get_or_init(|| Longest::new(self.re.as_str(), self.flags))
            .as_ref()
            .and_then(|l| l.end_from(hay.as_bytes(), start, first_end))
            .filter(|&e| hay.is_char_boundary(e))
            .unwrap_or(first_end)
    }

    /// The leftmost-longest match at or after `pos`.
    pub(crate) fn find_at(&self, hay: &str, pos: usize) -> Option<(usize, usize)> {
        let m = self.re.find_at(hay, pos)?;
        Some((m.start(), self.end(hay, m.start(), m.end())))
    }

    /// The groups of the leftmost-longest match at or after `pos`.
    pub(crate) fn captures_at<'h>(&self, hay: &'h str, pos: usize) -> Option<regex::Captures<'h>> {
        let m = self.re.find_at(hay, pos)?;
        let e = self.end(hay, m.start(), m.end());
        if e == m.end() {
            return self.re.captures_at(hay, m.start());
        }
        let to_end = self.to_end.get_or_init(|| {
            regex::RegexBuilder::new(&format!("(?:{})\\z", self.re.as_str()))
                .case_insensitive(self.flags.icase)
                .unicode(self.flags.unicode)
                .multi_line(self.flags.multi_line)
                .dot_matches_new_line(self.flags.dot_nl)
                .size_limit(1 << 24)
                .build()
                .ok()
        });
        to_end
            .as_ref()
            .and_then(|r| r.captures_at(&hay[..e], m.start()))
            .or_else(|| self.re.captures_at(hay, m.start()))
    }

    /// Every non-overlapping leftmost-longest match, walked as `regex` walks them: an empty
    /// match right where the previous one ended does not count, and after an empty match the
    /// search moves one character on. Lazy: a caller that stops early pays for no more.
    pub(crate) fn find_iter<'a, 'h>(&'a self, hay: &'h str) -> FindIter<'a, 'h> {
        FindIter {
            re: self,
            hay,
            pos: 0,
            last_end: None,
        }
    }

    /// The groups of every match [`PosixText::find_iter`] finds, walked the same way.
    pub(crate) fn captures_all<'h>(&self, hay: &'h str) -> Vec<regex::Captures<'h>> {
        let mut out = Vec::new();
        let mut pos = 0;
        let mut last_end: Option<usize> = None;
        while pos <= hay.len() {
            let Some(c) = self.captures_at(hay, pos) else {
                break;
            };
            let Some((s, e)) = c.get(0).map(|m| (m.start(), m.end())) else {
                break;
            };
            if s == e && last_end == Some(s) {
                pos = next_char(hay, s);
                continue;
            }
            last_end = Some(e);
            pos = if e > s { e } else { next_char(hay, e) };
            out.push(c);
        }
        out
    }
}

/// See [`PosixText::find_iter`].
pub(crate) struct FindIter<'a, 'h> {
    re: &'a PosixText,
    hay: &'h str,
    pos: usize,
    last_end: Option<usize>,
}

impl Iterator for FindIter<'_, '_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        while self.pos <= self.hay.len() {
            let (s, e) = self.re.find_at(self.hay, self.pos)?;
            if s == e && self.last_end == Some(s) {
                self.pos = next_char(self.hay, s);
                continue;
            }
            self.last_end = Some(e);
            self.pos = if e > s { e } else { next_char(self.hay, e) };
            return Some((s, e));
        }
        None
    }
}

fn next_char(hay: &str, i: usize) -> usize {
    hay[i..].chars().next().map_or(i + 1, |c| i + c.len_utf8())
}
