//! Word expansion: brace, tilde, parameters, substitutions, field splitting and quote removal.

use brush_parser::ast;
use brush_parser::word::{self, WordPiece};

use crate::memory::strs_cost;

use super::guard::{brace_parse_is_safe, number_overflow};
use super::*;

/// What one field of an expansion holds besides its text: the struct and two heap blocks.
pub(super) const FIELD_COST: u64 = 2 * 56 + 2 * 32;

/// One field being built during word expansion.
#[derive(Debug, Default, Clone)]
pub(super) struct Field {
    pub(super) text: String,
    pub(super) pat: String,
    pub(super) glob: bool,
    pub(super) keep: bool,
}

#[derive(Debug, Default)]
pub(super) struct Acc {
    pub(super) fields: Vec<Field>,
    pub(super) cur: Field,
    /// Set by an unquoted expansion that ended on a separator: the next text starts a field.
    pub(super) pending_break: bool,
    /// Bytes gathered so far (text and pattern), checked against the memory budget.
    pub(super) bytes: u64,
    /// Set by a quoted `"$@"`/`"${a[@]}"` that had no elements.
    pub(super) empty_multi: bool,
}

impl Acc {
    pub(super) fn flush_break(&mut self) {
        if self.pending_break {
            self.pending_break = false;
            let f = std::mem::take(&mut self.cur);
            if f.keep {
                self.fields.push(f);
            }
        }
    }

    pub(super) fn lit(&mut self, s: &str, quoted: bool) {
        self.bytes += 2 * s.len() as u64;
        self.flush_break();
        self.cur.text.push_str(s);
        if quoted {
            self.cur.pat.push_str(&glob_escape(s));
            self.cur.keep = true;
        } else {
            self.cur.pat.push_str(s);
            if has_glob(s) {
                self.cur.glob = true;
            }
            if !s.is_empty() {
                self.cur.keep = true;
            }
        }
    }

    /// An unquoted expansion result: split on IFS.
    pub(super) fn split(&mut self, s: &str, ifs: &str) {
        self.bytes += 2 * s.len() as u64;
        for c in s.chars() {
            if ifs.contains(c) {
                if c.is_whitespace() {
                    if self.cur.keep {
                        self.pending_break = true;
                    }
                } else {
                    self.pending_break = false;
                    let f = std::mem::take(&mut self.cur);
                    self.fields.push(f);
                }
            } else {
                self.flush_break();
                let mut b = [0u8; 4];
                let cs = c.encode_utf8(&mut b);
                self.cur.text.push_str(cs);
                if c == '\\' {
                    self.cur.pat.push_str("\\\\");
                } else {
                    self.cur.pat.push_str(cs);
                }
                if matches!(c, '*' | '?' | '[') {
                    self.cur.glob = true;
                }
                self.cur.keep = true;
            }
        }
    }

    pub(super) fn new_field(&mut self) {
        self.bytes += FIELD_COST;
        self.pending_break = false;
        let f = std::mem::take(&mut self.cur);
        self.fields.push(f);
    }

    pub(super) fn finish(mut self) -> Vec<Field> {
        if self.cur.keep {
            self.fields.push(self.cur);
        }
        self.fields
    }
}

pub(super) fn unescape_backquoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some('$' | '`' | '\\')) {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The width `{01..10}` pads its numbers to: bash pads every number of a sequence whose
/// endpoints have a leading zero to the wider endpoint. `None` when no sequence asks for it.
fn sequence_pad(s: &str) -> Option<usize> {
    let mut i = 0;
    while let Some(k) = s[i..].find('{') {
        let start = i + k + 1;
        let body_end = s[start..].find('}').map(|e| start + e)?;
        let body = &s[start..body_end];
        let mut parts = body.split("..");
        if let (Some(a), Some(z)) = (parts.next(), parts.next()) {
            let digits = |t: &str| t.trim_start_matches('-').to_owned();
            let num =
                |t: &str| !digits(t).is_empty() && digits(t).bytes().all(|c| c.is_ascii_digit());
            let padded = |t: &str| digits(t).len() > 1 && digits(t).starts_with('0');
            if num(a) && num(z) && (padded(a) || padded(z)) {
                return Some(a.len().max(z.len()));
            }
        }
        i = start;
    }
    None
}

/// Whether a character range (`{a..C}`) yields a quoting character: bash's results for those
/// (a backtick kept, a backslash removed) are not reproduced here.
fn spans_quoting(items: &[word::BraceExpressionOrText]) -> bool {
    items.iter().any(|item| match item {
        word::BraceExpressionOrText::Text(_) => false,
        word::BraceExpressionOrText::Expr(members) => members.iter().any(|m| match m {
            word::BraceExpressionMember::CharSequence { start, end, .. } => {
                let (lo, hi) = if start <= end {
                    (*start, *end)
                } else {
                    (*end, *start)
                };
                ['`', '\\', '\'', '"', '$']
                    .iter()
                    .any(|c| (lo..=hi).contains(c))
            }
            word::BraceExpressionMember::Child(c) => spans_quoting(c),
            _ => false,
        }),
    })
}

pub(super) fn brace_items(
    items: &[word::BraceExpressionOrText],
    limit: usize,
    pad: Option<usize>,
) -> Option<Vec<String>> {
    let mut acc: Vec<String> = vec![String::new()];
    for item in items {
        let alts: Vec<String> = match item {
            word::BraceExpressionOrText::Text(t) => vec![t.clone()],
            word::BraceExpressionOrText::Expr(members) => {
                let mut alts = Vec::new();
                for m in members {
                    match m {
                        word::BraceExpressionMember::NumberSequence {
                            start,
                            end,
                            increment,
                        } => {
                            // Wide arithmetic: `{-9223372036854775807..9223372036854775807}` must
                            // be refused by the limit, not overflow while counting.
                            let inc = u128::from(increment.unsigned_abs().max(1));
                            let count = u128::from(end.abs_diff(*start)) / inc + 1;
                            if count > limit as u128 {
                                return None;
                            }
                            let (start, step) = (i128::from(*start), inc as i128);
                            let step = if start <= i128::from(*end) {
                                step
                            } else {
                                -step
                            };
                            for k in 0..count as i128 {
                                let v = start + k * step;
                                alts.push(match pad {
                                    Some(w) if v < 0 => format!("-{:0w$}", -v, w = w - 1),
                                    Some(w) => format!("{v:0w$}"),
                                    None => v.to_string(),
                                });
                            }
                        }
                        word::BraceExpressionMember::CharSequence {
                            start,
                            end,
                            increment,
                        } => {
                            let inc = increment.unsigned_abs().max(1);
                            let (s, e) = (u64::from(*start as u32), u64::from(*end as u32));
                            let mut i = s;
                            loop {
                                if let Some(c) = u32::try_from(i).ok().and_then(char::from_u32) {
                                    alts.push(c.to_string());
                                }
                                if alts.len() > limit {
                                    return None;
                                }
                                if s <= e {
                                    match i.checked_add(inc) {
                                        Some(n) if n <= e => i = n,
                                        _ => break,
                                    }
                                } else {
                                    match i.checked_sub(inc) {
                                        Some(n) if n >= e => i = n,
                                        _ => break,
                                    }
                                }
                            }
                        }
                        word::BraceExpressionMember::Child(c) => {
                            alts.extend(brace_items(c, limit, pad)?)
                        }
                    }
                }
                alts
            }
        };
        if acc.len().saturating_mul(alts.len()) > limit {
            return None;
        }
        let mut next = Vec::with_capacity(acc.len() * alts.len());
        for a in &acc {
            for b in &alts {
                next.push(format!("{a}{b}"));
            }
        }
        acc = next;
    }
    Some(acc)
}

/// A `${` left in unquoted or double-quoted text: an expansion the word parser did not recognise
/// (it leaves `${s~~}` as the texts `$` and `{s~~}`).
fn unparsed_expansion(pieces: &[word::WordPieceWithSource]) -> Option<String> {
    let text = |k: usize| match pieces.get(k).map(|p| &p.piece) {
        Some(word::WordPiece::Text(t)) => Some(t.as_str()),
        _ => None,
    };
    for (k, p) in pieces.iter().enumerate() {
        match &p.piece {
            word::WordPiece::Text(t) => {
                let joined = match text(k + 1) {
                    Some(next) if t.ends_with('$') && next.starts_with('{') => format!("{t}{next}"),
                    _ => t.clone(),
                };
                if let Some(i) = joined.find("${") {
                    let rest = &joined[i..];
                    let end = rest.find('}').map_or(rest.len(), |e| e + 1);
                    return Some(rest[..end].to_owned());
                }
            }
            word::WordPiece::DoubleQuotedSequence(inner)
            | word::WordPiece::GettextDoubleQuotedSequence(inner) => {
                if let Some(found) = unparsed_expansion(inner) {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

impl Shell<'_> {
    pub(super) fn parse_word(&self, s: &str) -> R<Vec<word::WordPieceWithSource>> {
        if let Some(msg) = number_overflow(s) {
            return abort(UNSUPPORTED_EXIT, msg);
        }
        match word::parse(s, &self.parse_opts) {
            Ok(p) => {
                // The word parser keeps a `${...}` it does not know (`${s~~}`, bash's case
                // toggle) as plain text; bash expands it, so printing it would be silently wrong.
                if let Some(at) = unparsed_expansion(&p) {
                    return abort(
                        UNSUPPORTED_EXIT,
                        format!(
                            "bash: {at}: this parameter expansion is not supported in this sandbox"
                        ),
                    );
                }
                Ok(p)
            }
            Err(e) => abort(UNSUPPORTED_EXIT, format!("bash: bad substitution: {e}")),
        }
    }

    pub(super) fn expand_words_refs(&mut self, words: &[&ast::Word]) -> R<Vec<String>> {
        let mut out = Vec::new();
        // Fields already expanded stay charged while the next word expands.
        let mut held = self.meter.hold(0).or_else(over_budget)?;
        let mut bytes = 0;
        for w in words {
            let fields = self.expand_word(w)?;
            bytes += strs_cost(&fields);
            held.resize(bytes).or_else(over_budget)?;
            out.extend(fields);
        }
        Ok(out)
    }

    /// Full expansion of words into fields (brace, tilde, parameters, substitutions, splitting,
    /// globbing, quote removal).
    pub fn expand_words(&mut self, words: &[ast::Word]) -> R<Vec<String>> {
        let refs: Vec<&ast::Word> = words.iter().collect();
        self.expand_words_refs(&refs)
    }

    pub(super) fn expand_word(&mut self, w: &ast::Word) -> R<Vec<String>> {
        self.tick()?;
        let texts = self.brace_expand(&w.value)?;
        let mut out = Vec::new();
        for t in texts {
            let pieces = self.parse_word(&t)?;
            let mut acc = Acc::default();
            self.expand_pieces(&pieces, false, &mut acc)?;
            for f in acc.finish() {
                if f.glob && !self.opts.noglob {
                    let matches = self.glob(&f.pat)?;
                    if matches.is_empty() && self.opts.failglob {
                        return Err(Flow::Fatal(1, format!("bash: no match: {}", f.text)));
                    }
                    if matches.is_empty() {
                        if !self.opts.nullglob {
                            out.push(f.text);
                        }
                    } else {
                        out.extend(matches);
                    }
                } else {
                    out.push(f.text);
                }
            }
        }
        Ok(out)
    }

    pub(super) fn brace_expand(&mut self, s: &str) -> R<Vec<String>> {
        if !s.contains('{') || !s.contains('}') {
            return Ok(vec![s.to_owned()]);
        }
        if !brace_parse_is_safe(s) {
            return Ok(vec![s.to_owned()]);
        }
        let parsed = match word::parse_brace_expansions(s, &self.parse_opts) {
            Ok(Some(p)) => p,
            _ => return Ok(vec![s.to_owned()]),
        };
        let limit = self.limits.max_brace_expansion;
        let pad = sequence_pad(s);
        if pad.is_some_and(|w| w > 1024) {
            return abort(
                LIMIT_EXIT,
                "bash: brace expansion: padded sequence wider than 1024 characters",
            );
        }
        if spans_quoting(&parsed) {
            return abort(
                UNSUPPORTED_EXIT,
                "bash: brace expansion: a character range over quoting characters (` \\ ' \" $) is not supported in this sandbox",
            );
        }
        let out = brace_items(&parsed, limit, pad).ok_or_else(|| Flow::Abort {
            code: LIMIT_EXIT,
            msg: format!("bash: brace expansion: too many results (>{limit})"),
        })?;
        Ok(out)
    }

    /// Expansion without splitting or globbing (assignments, `case` words, here-strings).
    pub fn expand_str(&mut self, s: &str) -> R<String> {
        let pieces = self.parse_word(s)?;
        let mut acc = Acc::default();
        // The word is not split, but it is not inside double quotes either: a backslash at its
        // top level quotes the next character (`x='it'\''s'` is `it's`).
        for p in &pieces {
            match &p.piece {
                WordPiece::EscapeSequence(e) => {
                    let ch = e.strip_prefix('\\').unwrap_or(e);
                    if ch != "\n" {
                        acc.lit(ch, true);
                    }
                }
                _ => self.expand_pieces(std::slice::from_ref(p), true, &mut acc)?,
            }
        }
        let fields = acc.finish();
        let mut out = String::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&f.text);
        }
        Ok(out)
    }

    /// Expansion into a glob pattern: quoted parts are escaped.
    pub fn expand_pattern(&mut self, s: &str) -> R<String> {
        let pieces = self.parse_word(s)?;
        let mut acc = Acc::default();
        self.expand_pieces_pattern(&pieces, &mut acc)?;
        let fields = acc.finish();
        Ok(fields
            .into_iter()
            .map(|f| f.pat)
            .collect::<Vec<_>>()
            .join(" "))
    }

    pub(super) fn expand_pieces_pattern(
        &mut self,
        pieces: &[word::WordPieceWithSource],
        acc: &mut Acc,
    ) -> R<()> {
        // Unquoted expansions keep their glob characters active; nothing is split.
        for p in pieces {
            match &p.piece {
                WordPiece::Text(t) => acc.lit(t, false),
                WordPiece::ParameterExpansion(_)
                | WordPiece::CommandSubstitution(_)
                | WordPiece::BackquotedCommandSubstitution(_)
                | WordPiece::ArithmeticExpression(_) => {
                    let mut inner = Acc::default();
                    self.expand_pieces(std::slice::from_ref(p), true, &mut inner)?;
                    let s: Vec<String> = inner.finish().into_iter().map(|f| f.text).collect();
                    acc.lit(&s.join(" "), false);
                }
                _ => self.expand_pieces(std::slice::from_ref(p), false, acc)?,
            }
        }
        Ok(())
    }

    pub(super) fn expand_heredoc(&mut self, body: &str) -> R<String> {
        let pieces = match word::parse_heredoc(body, &self.parse_opts) {
            Ok(p) => p,
            Err(e) => return abort(UNSUPPORTED_EXIT, format!("bash: bad here-document: {e}")),
        };
        let mut acc = Acc::default();
        self.expand_pieces(&pieces, true, &mut acc)?;
        Ok(acc
            .finish()
            .into_iter()
            .map(|f| f.text)
            .collect::<Vec<_>>()
            .join(" "))
    }

    pub(super) fn ifs(&self) -> String {
        self.get_var("IFS").unwrap_or_else(|| " \t\n".to_owned())
    }

    pub(super) fn expand_pieces(
        &mut self,
        pieces: &[word::WordPieceWithSource],
        quoted: bool,
        acc: &mut Acc,
    ) -> R<()> {
        for p in pieces {
            match &p.piece {
                WordPiece::Text(t) => acc.lit(t, quoted),
                WordPiece::SingleQuotedText(t) => acc.lit(t, true),
                WordPiece::AnsiCQuotedText(t) => {
                    let utf8 = self.utf8_locale();
                    acc.lit(&crate::commands::unescape_dollar_quote(t, utf8), true)
                }
                WordPiece::EscapeSequence(e) => {
                    let ch = e.strip_prefix('\\').unwrap_or(e);
                    if quoted && !matches!(ch, "$" | "`" | "\"" | "\\" | "\n") {
                        acc.lit(e, true);
                    } else if ch == "\n" {
                    } else {
                        acc.lit(ch, true);
                    }
                }
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    let before = (acc.fields.len(), acc.cur.text.len(), acc.cur.keep);
                    acc.lit("", true);
                    acc.empty_multi = false;
                    self.expand_pieces(inner, true, acc)?;
                    // `"$@"` and `"${a[@]}"` with no elements are no word at all (unless the
                    // word has other text).
                    if acc.empty_multi
                        && inner.len() == 1
                        && acc.fields.len() == before.0
                        && acc.cur.text.len() == before.1
                    {
                        acc.cur.keep = before.2;
                    }
                }
                WordPiece::TildeExpansion(t) => {
                    let v = match t {
                        word::TildeExpr::Home => self.get_var("HOME").unwrap_or_default(),
                        word::TildeExpr::WorkingDir => self.cwd.clone(),
                        word::TildeExpr::OldWorkingDir => {
                            self.get_var("OLDPWD").unwrap_or_default()
                        }
                        // Another user's home is the host's account database's answer
                        // (`~root` is /root): this sandbox has none to give.
                        word::TildeExpr::UserHome(u) => {
                            return abort(
                                UNSUPPORTED_EXIT,
                                format!(
                                    "bash: ~{u}: other users' home directories are not supported in this sandbox"
                                ),
                            );
                        }
                        _ => "~".to_owned(),
                    };
                    acc.lit(&v, true);
                }
                WordPiece::ParameterExpansion(pe) => self.expand_param(pe, quoted, acc)?,
                WordPiece::CommandSubstitution(s) | WordPiece::BackquotedCommandSubstitution(s) => {
                    let s = if matches!(p.piece, WordPiece::BackquotedCommandSubstitution(_)) {
                        unescape_backquoted(s)
                    } else {
                        s.clone()
                    };
                    let v = self.command_subst(&s)?;
                    self.push_value(&v, quoted, acc)?;
                }
                WordPiece::ArithmeticExpression(e) => {
                    // An error in `$((…))` abandons the rest of the line (status 1) and the
                    // script goes on with the next one, as bash does.
                    let v = match self.arith_str(&e.value) {
                        Err(Flow::Abort { code: 1, msg }) => return Err(Flow::LineAbort(msg)),
                        v => v?,
                    };
                    self.push_value(&v.to_string(), quoted, acc)?;
                }
            }
        }
        Ok(())
    }

    pub(super) fn push_value(&self, v: &str, quoted: bool, acc: &mut Acc) -> R<()> {
        // The text lands twice (the field and its glob pattern) beside what is gathered already.
        self.fits(acc.bytes + 2 * v.len() as u64)?;
        if quoted {
            acc.lit(v, true);
        } else {
            let ifs = self.ifs();
            acc.split(v, &ifs);
        }
        Ok(())
    }

    /// Expands the word of `${x:-word}`/`${x:+word}`: unquoted, its text is split by IFS
    /// like any expansion result (`${u:-a:b:c}` with `IFS=:` is three fields).
    pub(super) fn expand_operand(&mut self, s: &str, quoted: bool, acc: &mut Acc) -> R<()> {
        let pieces = self.parse_word(s)?;
        if quoted {
            // Inside "${x:-…}" single quotes are ordinary characters, as in bash.
            for p in &pieces {
                match &p.piece {
                    WordPiece::SingleQuotedText(t) => acc.lit(&format!("'{t}'"), true),
                    _ => self.expand_pieces(std::slice::from_ref(p), true, acc)?,
                }
            }
            return Ok(());
        }
        let ifs = self.ifs();
        for p in &pieces {
            match &p.piece {
                WordPiece::Text(t) => acc.split(t, &ifs),
                _ => self.expand_pieces(std::slice::from_ref(p), false, acc)?,
            }
        }
        Ok(())
    }

    /// Expands a simple command's words; `<(…)` runs and becomes the path of a file holding
    /// its output (removed by [`Shell::drop_psubs`] when the command is done).
    pub(super) fn expand_items(
        &mut self,
        items: &[super::pipeline::WordItem<'_>],
        psubs: &mut Vec<String>,
    ) -> R<Vec<String>> {
        use super::pipeline::WordItem;
        let mut out = Vec::new();
        let mut held = self.meter.hold(0).or_else(over_budget)?;
        let mut bytes = 0;
        for (k, item) in items.iter().enumerate() {
            let fields = match item {
                WordItem::Word(w) => self.expand_word(w)?,
                WordItem::ArrayAssign(a, w) => {
                    let decl = out.first().is_some_and(|c: &String| {
                        matches!(
                            c.as_str(),
                            "declare" | "typeset" | "local" | "export" | "readonly"
                        )
                    });
                    match &a.name {
                        ast::AssignmentName::VariableName(n) if decl && k > 0 => vec![n.clone()],
                        _ => self.expand_word(w)?,
                    }
                }
                WordItem::ScalarAssign(a, w) => {
                    let decl = out.first().is_some_and(|c: &String| {
                        matches!(
                            c.as_str(),
                            "declare" | "typeset" | "local" | "export" | "readonly"
                        )
                    });
                    match (&a.name, &a.value) {
                        (ast::AssignmentName::VariableName(n), ast::AssignmentValue::Scalar(v))
                            if decl && k > 0 =>
                        {
                            // `local x=$(cmd)` keeps the output whole, as bash does.
                            let value = self.expand_str(&v.value)?;
                            let op = if a.append { "+=" } else { "=" };
                            vec![format!("{n}{op}{value}")]
                        }
                        _ => self.expand_word(w)?,
                    }
                }
                WordItem::Psub(kind, sub) => {
                    let path = self.process_subst(kind, sub)?;
                    psubs.push(path.clone());
                    vec![path]
                }
            };
            bytes += strs_cost(&fields);
            held.resize(bytes).or_else(over_budget)?;
            out.extend(fields);
        }
        Ok(out)
    }
}
