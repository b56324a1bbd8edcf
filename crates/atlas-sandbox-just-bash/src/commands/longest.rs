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
