//! Checks a script before brush-parser sees it: size, nesting, and the inputs its parsers
//! handle badly (number overflows, unbalanced braces, open `case`s).

use brush_parser::ast;

use super::*;

/// Deepest `(` nesting handed to brush-parser. Its PEG grammar backtracks without memoisation:
/// each unclosed `(` inside `((...))` doubles the work (about 1.7x per level measured), so 40
/// levels parse for minutes. Real commands stay far below this.
pub(super) const MAX_PAREN_DEPTH: usize = 16;

/// Most unmatched `{` in one word handed to the brace-expansion parser, which backtracks
/// exponentially on them (18 unmatched braces take seconds). Above this the word stays literal.
pub(super) const MAX_UNMATCHED_BRACES: usize = 8;

/// brush-parser unwraps integer parses of redirect fd numbers (`99999999999>f`) and of
/// directory-stack tildes (`~99999999999999999999`), panicking on overflow; refuse such input
/// before it gets there.
pub(super) fn number_overflow(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        // Digits are ASCII, so these byte offsets are char boundaries.
        let run = &s[start..i];
        if run.parse::<i32>().is_ok() {
            continue;
        }
        if matches!(b.get(i), Some(b'<' | b'>')) {
            return Some(format!("bash: {run}: file descriptor out of range"));
        }
        let tilde = match start.checked_sub(1).map(|p| b[p]) {
            Some(b'~') => true,
            Some(b'+' | b'-') => start >= 2 && b[start - 2] == b'~',
            _ => false,
        };
        if tilde {
            return Some(format!("bash: ~{run}: directory stack index out of range"));
        }
    }
    None
}

/// The deepest `(` nesting outside single quotes and backslash escapes, where brush-parser
/// sees parentheses as operators. `$(` does not count: its body is parsed (and checked) on its
/// own when it runs.
pub(super) fn paren_depth(s: &str) -> usize {
    let (mut depth, mut peak) = (0usize, 0usize);
    let (mut quoted, mut escaped) = (false, false);
    // For each open `(`: whether it came right after `$`.
    let mut opens: Vec<bool> = Vec::new();
    let mut prev = '\0';
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\'' => quoted = !quoted,
            _ if quoted => {}
            '\\' => escaped = true,
            '(' => {
                let dollar = prev == '$';
                opens.push(dollar);
                if !dollar {
                    depth += 1;
                    peak = peak.max(depth);
                }
            }
            // The guard pops in every case; only a counted `(` lowers the depth.
            ')' if opens.pop() == Some(false) => depth -= 1,
            _ => {}
        }
        prev = c;
    }
    peak
}

/// Whether brush-parser's brace-expansion parser may see `s`: it unwraps `i64` parses of
/// sequence bounds (`{1..99999999999999999999}` would panic) and backtracks exponentially on
/// unmatched `{`. Bash leaves such words unexpanded too.
pub(super) fn brace_parse_is_safe(s: &str) -> bool {
    let digits_fit = s
        .split(|c: char| !c.is_ascii_digit())
        .all(|run| run.is_empty() || run.parse::<i64>().is_ok());
    let mut open = 0usize;
    for c in s.chars() {
        match c {
            '{' => open += 1,
            '}' => open = open.saturating_sub(1),
            _ => {}
        }
    }
    digits_fit && open <= MAX_UNMATCHED_BRACES
}

/// Rejects scripts nested deeper than `max` before they reach the recursive-descent parser,
/// so hostile input cannot overflow the stack.
/// The deepest bracket nesting in `s` (quotes not parsed: an upper bound).
pub(crate) fn bracket_depth(s: &str) -> usize {
    let (mut depth, mut peak) = (0usize, 0usize);
    for b in s.bytes() {
        match b {
            b'(' | b'{' | b'[' => {
                depth += 1;
                peak = peak.max(depth);
            }
            b')' | b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    peak
}

pub(super) fn check_nesting(script: &str, max: usize) -> R<usize> {
    // Counts brackets and compound-command keywords; quotes are not parsed, so the count can
    // only be too high, never too low. The parser and the interpreter recurse once per level.
    // Keywords and brackets are counted apart: a `case` pattern's `)` closes no bracket, so it
    // must not cancel the `case` it belongs to.
    let too_deep = || {
        abort(
            LIMIT_EXIT,
            format!("bash: script nested too deeply (more than {max} levels)"),
        )
    };
    let (mut kw, mut br): (usize, usize) = (0, 0);
    let mut peak: usize = 0;
    let mut word = String::new();
    let flush = |word: &mut String, kw: &mut usize| {
        match word.as_str() {
            "if" | "while" | "until" | "for" | "case" | "select" | "function" => *kw += 1,
            "fi" | "done" | "esac" => *kw = kw.saturating_sub(1),
            _ => {}
        }
        word.clear();
    };
    for c in script.chars() {
        if c.is_ascii_alphabetic() {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            flush(&mut word, &mut kw);
        }
        match c {
            '(' | '{' | '[' => br += 1,
            ')' | '}' | ']' => br = br.saturating_sub(1),
            _ => {}
        }
        peak = peak.max(kw + br);
        if peak > max {
            return too_deep();
        }
    }
    flush(&mut word, &mut kw);
    peak = peak.max(kw + br);
    if peak > max {
        return too_deep();
    }
    let open = open_cases(script);
    if open > MAX_OPEN_CASES {
        return abort(
            UNSUPPORTED_EXIT,
            format!(
                "bash: syntax error: unexpected end of file ({open} `case` commands without `esac`)"
            ),
        );
    }
    Ok(peak)
}

/// Most `case` commands left open (no `esac`) handed to brush-parser: its PEG grammar retries
/// every alternative of an unterminated `case` inside the one before, doubling the work per
/// `case` (22 take minutes). Such a script is a syntax error in bash anyway.
pub(super) const MAX_OPEN_CASES: usize = 4;

/// `case` words in command position minus `esac` words, outside quotes and comments.
pub(super) fn open_cases(script: &str) -> usize {
    let (mut cases, mut esacs) = (0usize, 0usize);
    let bytes = script.as_bytes();
    let mut i = 0;
    // Whether the next word starts a command (so `case` there is the keyword).
    let mut command_start = true;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\\' => {
                i += 2;
                command_start = false;
                continue;
            }
            b'\'' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += 1;
                }
                command_start = false;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                command_start = false;
            }
            b'#' if command_start || i == 0 || bytes[i - 1].is_ascii_whitespace() => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'{' | b'}' | b'!' | b'`' => {
                command_start = true;
            }
            b' ' | b'\t' | b'\r' => {}
            _ => {
                let start = i;
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t'
                            | b'\r'
                            | b'\n'
                            | b';'
                            | b'&'
                            | b'|'
                            | b'('
                            | b')'
                            | b'\''
                            | b'"'
                    )
                {
                    i += 1;
                }
                // Bytes, not `&str`: a `\\` skip above may have landed inside a multi-byte
                // character, so `start` need not be a char boundary.
                let w = &bytes[start..i];
                if command_start {
                    match w {
                        b"case" => cases += 1,
                        b"esac" => esacs += 1,
                        _ => {}
                    }
                }
                // After these keywords another command follows; after any other word the
                // rest are its arguments.
                command_start = matches!(
                    w,
                    b"then" | b"do" | b"else" | b"elif" | b"if" | b"while" | b"until" | b"time"
                );
                continue;
            }
        }
        i += 1;
    }
    cases.saturating_sub(esacs)
}

impl Shell<'_> {
    /// Parses a script, mapping failures to bash's message and exit 2.
    pub fn parse(&self, script: &str) -> R<ast::Program> {
        if script.len() > self.limits.max_source_bytes {
            return abort(
                LIMIT_EXIT,
                format!(
                    "bash: script too large ({} bytes; limit {})",
                    script.len(),
                    self.limits.max_source_bytes
                ),
            );
        }
        let depth = check_nesting(script, self.limits.max_nesting_depth)?;
        if let Some(msg) = number_overflow(script) {
            return abort(UNSUPPORTED_EXIT, msg);
        }
        if paren_depth(script) > MAX_PAREN_DEPTH {
            return abort(
                UNSUPPORTED_EXIT,
                format!(
                    "bash: syntax error: parentheses nested more than {MAX_PAREN_DEPTH} levels deep"
                ),
            );
        }
        let run = |opts: &brush_parser::ParserOptions| {
            let mut parser = brush_parser::Parser::new(std::io::Cursor::new(script), opts);
            // The PEG parser recurses per nesting level: give deep scripts a stack sized for
            // them.
            if depth > 16 {
                stacker::grow(STACK_SEGMENT + depth * 64 * 1024, || parser.parse_program())
            } else {
                parser.parse_program()
            }
        };
        let parsed = run(&self.parse_opts).map(|mut p| {
            empty_for_lists(script, &mut p);
            p
        });
        match parsed {
            Ok(p) => Ok(p),
            // bash reads extglob groups inside `[[ ]]` always, and elsewhere on lines after
            // `shopt -s extglob` (it parses line by line): try again when that is the case.
            Err(e) if extglob_groups_allowed(script) => {
                let opts = brush_parser::ParserOptions {
                    enable_extended_globbing: true,
                    ..self.parse_opts.clone()
                };
                run(&opts).or_else(|_| abort(UNSUPPORTED_EXIT, format!("bash: syntax error: {e}")))
            }
            Err(_) if uses_select(script) => abort(
                UNSUPPORTED_EXIT,
                "bash: select loops are not supported in this sandbox",
            ),
            Err(e) => abort(UNSUPPORTED_EXIT, format!("bash: syntax error: {e}")),
        }
    }
}

impl Shell<'_> {
    /// bash reads a `-c` script one command at a time, so the lines before a syntax error run
    /// first (this shell parses the whole script up front). The error then ends the script with
    /// status 2, or inside `[[ ]]` with the status of the last command, as bash 5.2 does.
    pub(super) fn run_until_syntax_error(
        &mut self,
        script: &str,
        err: Flow,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        let msg = match err {
            Flow::Abort {
                code: UNSUPPORTED_EXIT,
                msg,
            } if msg.starts_with("bash: syntax error") => msg,
            other => return Err(other),
        };
        let lines: Vec<&str> = script.split_inclusive('\n').collect();
        // The longest run of whole lines that parses: the commands bash runs before the error.
        let mut rest = script;
        for k in (1..lines.len()).rev() {
            let head = lines[..k].concat();
            if let Ok(p) = self.parse(&head) {
                self.run_program(&p, stdin, io)?;
                rest = &script[head.len()..];
                break;
            }
        }
        let first = rest.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        // An unclosed `(` in a `=~` regex is not a conditional error to bash: its reader takes
        // the rest of the input looking for the `)`, and the end of file is a plain syntax
        // error (status 2) when no line ran before it.
        let open_regex = rest.len() == script.len()
            && first
                .split_once("=~")
                .is_some_and(|(_, re)| re.matches('(').count() > re.matches(')').count());
        let in_cond = first.contains("[[") && !open_regex;
        let code = if in_cond {
            self.status
        } else {
            UNSUPPORTED_EXIT
        };
        Err(Flow::Fatal(code, msg))
    }
}

/// `for x in ; do` loops over nothing, but the parser gives it no word list, the same as
/// `for x; do`, which loops over `$@`: tell them apart by the `in` in the source text.
fn empty_for_lists(script: &str, p: &mut ast::Program) {
    for list in &mut p.complete_commands {
        empty_for_in_list(script, list);
    }
}

fn empty_for_in_list(script: &str, list: &mut ast::CompoundList) {
    for item in &mut list.0 {
        let ao = &mut item.0;
        empty_for_in_pipeline(script, &mut ao.first);
        for next in &mut ao.additional {
            match next {
                ast::AndOr::And(p) | ast::AndOr::Or(p) => empty_for_in_pipeline(script, p),
            }
        }
    }
}

fn empty_for_in_pipeline(script: &str, p: &mut ast::Pipeline) {
    for cmd in &mut p.seq {
        match cmd {
            ast::Command::Compound(c, _) => empty_for_in_compound(script, c),
            ast::Command::Function(f) => empty_for_in_compound(script, &mut f.body.0),
            ast::Command::Simple(_) | ast::Command::ExtendedTest(..) => {}
        }
    }
}

fn empty_for_in_compound(script: &str, c: &mut ast::CompoundCommand) {
    use ast::CompoundCommand as C;
    if let C::Arithmetic(a) = c
        && let Some(sub) = nested_subshells(script, a)
    {
        *c = sub;
        return;
    }
    match c {
        C::BraceGroup(b) => empty_for_in_list(script, &mut b.list),
        C::Subshell(s) => empty_for_in_list(script, &mut s.list),
        C::ForClause(f) => {
            if f.values.is_none() && has_in_word(script, f.loc.start.index, f.body.loc.start.index)
            {
                f.values = Some(Vec::new());
            }
            empty_for_in_list(script, &mut f.body.list);
        }
        C::ArithmeticForClause(f) => empty_for_in_list(script, &mut f.body.list),
        C::CaseClause(cc) => {
            for item in &mut cc.cases {
                if let Some(l) = &mut item.cmd {
                    empty_for_in_list(script, l);
                }
            }
        }
        C::IfClause(i) => {
            empty_for_in_list(script, &mut i.condition);
            empty_for_in_list(script, &mut i.then);
            for e in i.elses.iter_mut().flatten() {
                if let Some(cond) = &mut e.condition {
                    empty_for_in_list(script, cond);
                }
                empty_for_in_list(script, &mut e.body);
            }
        }
        C::WhileClause(w) | C::UntilClause(w) => {
            empty_for_in_list(script, &mut w.0);
            empty_for_in_list(script, &mut w.1.list);
        }
        C::Arithmetic(_) | C::Coprocess(_) => {}
    }
}

/// `( (cmd) )` and `((cmd) )`: the parser takes any two `(` tokens for arithmetic `((`; bash
/// does only when both `((` and `))` touch, and otherwise runs a subshell in a subshell.
fn nested_subshells(script: &str, a: &ast::ArithmeticCommand) -> Option<ast::CompoundCommand> {
    let (s, e) = (a.loc.start.index, a.loc.end.index);
    let chars: Vec<char> = script.chars().skip(s).take(e.checked_sub(s)?).collect();
    if chars.len() < 4 || chars.len() != e - s {
        return None;
    }
    if chars[..2] == ['(', '('] && chars[chars.len() - 2..] == [')', ')'] {
        return None;
    }
    let inner: String = chars[1..chars.len() - 1].iter().collect();
    let opts = brush_parser::ParserOptions {
        enable_extended_globbing: false,
        ..Default::default()
    };
    let mut p = brush_parser::Parser::new(std::io::Cursor::new(inner.as_str()), &opts)
        .parse_program()
        .ok()?;
    // Spans inside are the inner text's: fix its own nested forms against it.
    empty_for_lists(&inner, &mut p);
    let items = p.complete_commands.into_iter().flat_map(|l| l.0).collect();
    Some(ast::CompoundCommand::Subshell(ast::SubshellCommand {
        list: ast::CompoundList(items),
        loc: a.loc.clone(),
    }))
}

/// Whether the source between a `for` and its `do` reads `for NAME in` and then only
/// separators.
fn has_in_word(script: &str, start: usize, end: usize) -> bool {
    use brush_parser::Token;
    let reads_for_in = |head: &str| {
        brush_parser::tokenize_str(head).is_ok_and(|tokens| {
            matches!(
                tokens.as_slice(),
                [Token::Word(f, _), Token::Word(_, _), Token::Word(i, _), rest @ ..]
                    if f == "for" && i == "in"
                        && rest.iter().all(|t| matches!(t, Token::Operator(..)))
            )
        })
    };
    // The parser's offsets count characters; for ASCII text they are byte offsets too.
    let byte_at = |n: usize| script.char_indices().nth(n).map(|(b, _)| b);
    let by_chars = byte_at(start)
        .zip(byte_at(end))
        .and_then(|(a, b)| script.get(a..b));
    by_chars.is_some_and(reads_for_in) || script.get(start..end).is_some_and(reads_for_in)
}

/// Whether `script` has a `select NAME` loop: the parser has no `select`, so a script with one
/// fails to parse, and the error must name the feature rather than read as the agent's mistake.
fn uses_select(script: &str) -> bool {
    use brush_parser::Token;
    let Ok(tokens) = brush_parser::tokenize_str(script) else {
        return false;
    };
    let mut command_start = true;
    for pair in tokens.windows(2) {
        match (&pair[0], &pair[1]) {
            (Token::Word(w, _), Token::Word(..)) if command_start && w == "select" => {
                return true;
            }
            (Token::Word(w, _), _) => {
                command_start = matches!(w.as_str(), "do" | "then" | "else" | "{" | "!" | "time")
            }
            (Token::Operator(..), _) => command_start = true,
        }
    }
    false
}

/// Whether every extglob group (`@(`, `!(`, `+(`, `?(`, `*(`) in `script` is one bash would
/// parse: inside `[[ … ]]`, or on a line after one that runs `shopt -s extglob`. `false` when
/// there is none.
fn extglob_groups_allowed(script: &str) -> bool {
    let mut any = false;
    let mut enabled = false;
    for line in script.lines() {
        let b = line.as_bytes();
        let mut in_test = 0usize;
        let (mut sq, mut dq, mut esc) = (false, false, false);
        for i in 0..b.len() {
            let c = b[i];
            if esc {
                esc = false;
                continue;
            }
            match c {
                b'\\' if !sq => esc = true,
                b'\'' if !dq => sq = !sq,
                b'"' if !sq => dq = !dq,
                _ if sq || dq => {}
                b'[' if b.get(i + 1) == Some(&b'[') => in_test += 1,
                b']' if b.get(i + 1) == Some(&b']') => in_test = in_test.saturating_sub(1),
                b'@' | b'!' | b'+' | b'?' | b'*' if b.get(i + 1) == Some(&b'(') => {
                    // `$(`, `$@(`… are not patterns; `!(` after `[[ ` or `==` is.
                    if i > 0 && b[i - 1] == b'$' {
                        continue;
                    }
                    any = true;
                    if in_test == 0 && !enabled {
                        return false;
                    }
                }
                _ => {}
            }
        }
        if line.contains("shopt -s extglob") {
            enabled = true;
        }
    }
    any
}
