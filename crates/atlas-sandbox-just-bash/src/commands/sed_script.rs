//! `sed` scripts parsed into a flat program: addresses (`n`, `$`, `/re/I`, `first~step`,
//! `0,/re/`, `addr,+N`, `addr,~N`), blocks as jumps, labels resolved to indexes.

use std::rc::Rc;

use super::grep::posix_to_regex;
use super::longest::{Flags, PosixText};

/// A regex, matched leftmost-longest as POSIX says, or `None` for the empty one (`//`: the
/// last regex used).
pub(super) type Rx = Option<Rc<PosixText>>;

#[derive(Debug, Clone)]
pub(super) enum Addr {
    Line(u64),
    Last,
    Re(Rx),
    /// `first~step`.
    Step(u64, u64),
    /// `0` in `0,/re/`.
    Zero,
    /// `,+N` (second address only).
    Plus(u64),
    /// `,~N` (second address only).
    Multiple(u64),
}

#[derive(Debug, Clone)]
pub(super) enum Cmd {
    Subst {
        re: Rx,
        rep: String,
        global: bool,
        nth: usize,
        print: bool,
        /// The `w FILE` flag.
        write: Option<String>,
    },
    /// `r FILE`: the file's bytes, when the cycle ends.
    ReadFile(String),
    /// `R FILE`: the file's next line, when the cycle ends.
    ReadLine(String),
    /// `w FILE`, and `W FILE` (the first line only).
    Write(String),
    WriteFirst(String),
    /// `F`: the input file's name.
    FileName,
    Delete,
    DeleteFirst,
    Print,
    PrintFirst,
    Quit(bool),
    LineNo,
    Translate(Vec<char>, Vec<char>),
    /// `None`: `a\` ends the script with no text, which GNU sed prints as nothing at all.
    Append(Option<String>),
    Insert(Option<String>),
    Change(Option<String>),
    Next,
    NextAppend,
    Hold,
    HoldAppend,
    Get,
    GetAppend,
    Exchange,
    List,
    Zap,
    /// Jump to an index (`b`), if a substitution happened (`t`), or if none did (`T`);
    /// `usize::MAX` is the end of the script.
    Branch(usize),
    BranchIf(usize),
    BranchUnless(usize),
    /// `{`: where its `}` is, to skip the block when the address does not match.
    Block(usize),
}

#[derive(Debug, Clone)]
pub(super) struct Inst {
    pub a1: Option<Addr>,
    pub a2: Option<Addr>,
    pub negate: bool,
    pub cmd: Cmd,
}

pub(super) struct Parser {
    s: Vec<char>,
    pub i: usize,
    extended: bool,
    /// The C locale (see `sed::latin1`): classes, word boundaries and case folding are ASCII.
    latin1: bool,
    prog: Vec<Inst>,
    /// Branches waiting for their label: (instruction, label).
    pending: Vec<(usize, String)>,
    labels: Vec<(String, usize)>,
    blocks: Vec<usize>,
}

/// Commands this sandbox does not run (files, shell commands): refused by name.
const NOT_HERE: &[char] = &['e', 'v', 'L'];

impl Parser {
    pub(super) fn new(script: &str, extended: bool) -> Self {
        Parser {
            s: script.chars().collect(),
            i: 0,
            extended,
            latin1: false,
            prog: Vec::new(),
            pending: Vec::new(),
            labels: Vec::new(),
            blocks: Vec::new(),
        }
    }

    /// Reads the script as the C locale does: each byte one character (see `sed::latin1`).
    pub(super) fn latin1(mut self, on: bool) -> Self {
        self.latin1 = on;
        self
    }

    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    /// The character a GNU escape at `self.i` (its letter `n`) stands for, and how many
    /// characters it takes from there; `None` when it is not one.
    fn gnu_escape(&self, n: char) -> Option<(char, usize)> {
        let digits = |radix: u32, max: usize| {
            let mut v = 0u32;
            let mut k = 0;
            while k < max {
                match self.s.get(self.i + 1 + k).and_then(|c| c.to_digit(radix)) {
                    Some(d) => v = v * radix + d,
                    None => break,
                }
                k += 1;
            }
            (k > 0)
                .then(|| char::from_u32(v).map(|c| (c, 1 + k)))
                .flatten()
        };
        match n {
            't' => Some(('\t', 1)),
            'r' => Some(('\r', 1)),
            'f' => Some(('\x0c', 1)),
            'v' => Some(('\x0b', 1)),
            'a' => Some(('\x07', 1)),
            'x' => digits(16, 2),
            'o' => digits(8, 3),
            'd' => digits(10, 3),
            'c' => self
                .s
                .get(self.i + 1)
                .filter(|c| c.is_ascii_alphabetic())
                .map(|c| (char::from(c.to_ascii_uppercase() as u8 ^ 0x40), 2)),
            _ => None,
        }
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.i += 1;
        }
    }

    /// Where the bracket expression whose body starts at `start` (just past `[`) ends: the
    /// index just past its `]`, or `None` when it does not close on this line.
    fn bracket_end(&self, start: usize) -> Option<usize> {
        let c = &self.s;
        let mut i = start;
        if c.get(i) == Some(&'^') {
            i += 1;
        }
        // A `]` first is a member.
        if c.get(i) == Some(&']') {
            i += 1;
        }
        while let Some(&ch) = c.get(i) {
            match ch {
                '\n' => return None,
                ']' => return Some(i + 1),
                '[' if matches!(c.get(i + 1), Some(':' | '.' | '=')) => {
                    let kind = c[i + 1];
                    let mut j = i + 2;
                    loop {
                        match c.get(j) {
                            None | Some('\n') => return None,
                            Some(&k) if k == kind && c.get(j + 1) == Some(&']') => break,
                            _ => j += 1,
                        }
                    }
                    i = j + 2;
                }
                _ => i += 1,
            }
        }
        None
    }

    fn delimited(&mut self, delim: char, what: char) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == '\\' {
                match self.peek() {
                    Some(n) if n == delim => {
                        out.push(n);
                        self.i += 1;
                    }
                    Some('n') => {
                        out.push('\n');
                        self.i += 1;
                    }
                    Some(n) if self.gnu_escape(n).is_some() => {
                        // GNU sed's character escapes (\t, \r, \xHH, \oNNN, \dNNN, \cX) stand for
                        // one literal character in a regex and in a replacement alike.
                        let (ch, used) = self.gnu_escape(n).unwrap_or(('\0', 1));
                        self.i += used;
                        // In a regex the character counts as if typed (\x2e is any character);
                        // in a replacement (`what` 'r') it is literal (\x26 is `&`).
                        if what == 'r' && matches!(ch, '\\' | '&') || what == 'y' && ch == '\\' {
                            out.push('\\');
                        }
                        out.push(ch);
                    }
                    Some(n) => {
                        out.push('\\');
                        out.push(n);
                        self.i += 1;
                    }
                    None => out.push('\\'),
                }
                continue;
            }
            if c == '[' && matches!(what, 's' | '/') {
                // A bracket expression ends only at its `]`: the delimiter inside it is a member
                // (`s/[/]/|/`), as in GNU sed.
                if let Some(end) = self.bracket_end(self.i) {
                    out.push('[');
                    // A backslash is a member there, except in GNU's character escapes (`\n`,
                    // `\t`...), which stand for their character.
                    while self.i < end {
                        let b = self.s[self.i];
                        self.i += 1;
                        let next = self.s.get(self.i).copied().filter(|_| self.i < end);
                        match (b, next) {
                            ('\\', Some('n')) => {
                                out.push('\n');
                                self.i += 1;
                            }
                            ('\\', Some(n)) if self.gnu_escape(n).is_some() => {
                                let (ch, used) = self.gnu_escape(n).unwrap_or(('\0', 1));
                                out.push(ch);
                                self.i += used;
                            }
                            _ => out.push(b),
                        }
                    }
                    continue;
                }
            }
            if c == delim {
                return Ok(out);
            }
            if c == '\n' && what == 'a' {
                break;
            }
            out.push(c);
        }
        Err(match what {
            's' | 'r' => "unterminated `s' command".to_owned(),
            'y' => "unterminated `y' command".to_owned(),
            _ => "unterminated address regex".to_owned(),
        })
    }

    fn regex(&self, src: &str, icase: bool) -> Result<Rx, String> {
        if src.is_empty() {
            return Ok(None);
        }
        let mut translated = posix_to_regex(src, self.extended)?;
        if self.latin1 {
            translated = ascii_classes(&translated);
            if icase {
                translated = crate::commands::grep::fold_ascii_only(&translated);
            }
        }
        regex::RegexBuilder::new(&translated)
            .case_insensitive(icase)
            // The pattern space may hold several lines (`N`, `G`): `.` matches a newline in sed.
            .dot_matches_new_line(true)
            .size_limit(1 << 22)
            .build()
            .map(|re| {
                let flags = Flags {
                    icase,
                    unicode: true,
                    multi_line: false,
                    dot_nl: true,
                };
                Some(Rc::new(PosixText::new(re, flags)))
            })
            .map_err(|e| format!("invalid regular expression: {e}"))
    }

    fn number(&mut self) -> u64 {
        let mut n = 0u64;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            n = n.saturating_mul(10).saturating_add(u64::from(d));
            self.i += 1;
        }
        n
    }

    fn addr(&mut self, second: bool) -> Result<Option<Addr>, String> {
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                let n = self.number();
                if self.peek() == Some('~') && !second {
                    self.i += 1;
                    let step = self.number();
                    return Ok(Some(Addr::Step(n, step)));
                }
                Ok(Some(if n == 0 && !second {
                    Addr::Zero
                } else {
                    Addr::Line(n)
                }))
            }
            Some('+' | '~') if second => {
                let plus = self.peek() == Some('+');
                self.i += 1;
                let n = self.number();
                Ok(Some(if plus {
                    Addr::Plus(n)
                } else {
                    Addr::Multiple(n)
                }))
            }
            Some('$') => {
                self.i += 1;
                Ok(Some(Addr::Last))
            }
            Some(d @ ('/' | '\\')) => {
                self.i += 1;
                let delim = if d == '\\' {
                    let c = self.peek().ok_or("unexpected end of script")?;
                    self.i += 1;
                    c
                } else {
                    '/'
                };
                let src = self.delimited(delim, '/')?;
                let mut icase = false;
                while let Some(f) = self.peek() {
                    match f {
                        'I' => icase = true,
                        'M' => {
                            return Err(
                                "the `M' address flag is not supported by this sandbox".to_owned()
                            );
                        }
                        _ => break,
                    }
                    self.i += 1;
                }
                Ok(Some(Addr::Re(self.regex(&src, icase)?)))
            }
            _ => Ok(None),
        }
    }

    fn text_arg(&mut self) -> Option<String> {
        // `a text`, `a\` newline `text`, and GNU's one-liner `a\text`.
        self.skip_blanks();
        if self.peek() == Some('\\') {
            self.i += 1;
            // Nothing after the backslash: no text at all.
            self.peek()?;
            if self.peek() == Some('\n') {
                self.i += 1;
            }
            // GNU keeps the blanks after `a\` (one-liner or not): they are the text's indent.
        } else {
            self.skip_blanks();
        }
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.i += 1;
            if c == '\\' {
                match self.peek() {
                    // A backslash at the end of a line continues the text on the next.
                    Some('\n') => {
                        self.i += 1;
                        out.push('\n');
                    }
                    Some(n) => {
                        self.i += 1;
                        out.push(match n {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    }
                    None => {}
                }
                continue;
            }
            out.push(c);
        }
        Some(out)
    }

    /// The file name of `r R w W` and `s///w`: the rest of the line after the blanks (`;`
    /// and `}` included, as in GNU); in the C locale each character back to its byte.
    fn file_name(&mut self) -> Result<String, String> {
        self.skip_blanks();
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.i += 1;
            name.push(c);
        }
        if name.is_empty() {
            return Err("missing filename in r/R/w/W commands".to_owned());
        }
        if self.latin1 {
            let bytes: Vec<u8> = name.chars().map(|c| c as u32 as u8).collect();
            name = String::from_utf8_lossy(&bytes).into_owned();
        }
        Ok(name)
    }

    fn label(&mut self) -> String {
        self.skip_blanks();
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c == '\n' || c == ';' {
                break;
            }
            self.i += 1;
            out.push(c);
        }
        out.trim_end().to_owned()
    }

    /// Parses the whole script.
    pub(super) fn program(mut self) -> Result<Vec<Inst>, (usize, String)> {
        self.parse().map_err(|e| (self.i, e))?;
        if !self.blocks.is_empty() {
            return Err((self.i, "unmatched `{'".to_owned()));
        }
        for (at, label) in std::mem::take(&mut self.pending) {
            let Some(&(_, target)) = self.labels.iter().find(|(l, _)| *l == label) else {
                return Err((self.i, format!("can't find label for jump to `{label}'")));
            };
            match &mut self.prog[at].cmd {
                Cmd::Branch(t) | Cmd::BranchIf(t) | Cmd::BranchUnless(t) => *t = target,
                _ => {}
            }
        }
        Ok(self.prog)
    }

    fn parse(&mut self) -> Result<(), String> {
        loop {
            while matches!(self.peek(), Some(' ' | '\t' | '\n' | ';')) {
                self.i += 1;
            }
            let Some(c) = self.peek() else {
                return Ok(());
            };
            if c == '}' {
                self.i += 1;
                let Some(open) = self.blocks.pop() else {
                    return Err("unexpected `}'".to_owned());
                };
                let end = self.prog.len();
                self.prog[open].cmd = Cmd::Block(end);
                continue;
            }
            let a1 = self.addr(false)?;
            let mut a2 = None;
            if a1.is_some() && self.peek() == Some(',') {
                self.i += 1;
                a2 = self.addr(true)?;
                if a2.is_none() {
                    return Err("unexpected `,'".to_owned());
                }
            }
            if matches!(a1, Some(Addr::Zero)) && !matches!(a2, Some(Addr::Re(_))) {
                return Err("invalid usage of line address 0".to_owned());
            }
            self.skip_blanks();
            let mut negate = false;
            while self.peek() == Some('!') {
                negate = true;
                self.i += 1;
                self.skip_blanks();
            }
            let Some(c) = self.peek() else {
                return Err("missing command".to_owned());
            };
            self.i += 1;
            let cmd = match c {
                's' => self.subst()?,
                'd' => Cmd::Delete,
                'D' => Cmd::DeleteFirst,
                'p' => Cmd::Print,
                'P' => Cmd::PrintFirst,
                'q' | 'Q' => {
                    self.skip_blanks();
                    if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        return Err(
                            "an exit code for `q' is not supported by this sandbox".to_owned()
                        );
                    }
                    Cmd::Quit(c == 'q')
                }
                '=' => Cmd::LineNo,
                'n' => Cmd::Next,
                'N' => Cmd::NextAppend,
                'h' => Cmd::Hold,
                'H' => Cmd::HoldAppend,
                'g' => Cmd::Get,
                'G' => Cmd::GetAppend,
                'x' => Cmd::Exchange,
                'l' => {
                    self.skip_blanks();
                    if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        return Err(
                            "a line length for `l' is not supported by this sandbox".to_owned()
                        );
                    }
                    Cmd::List
                }
                'z' => Cmd::Zap,
                'r' => Cmd::ReadFile(self.file_name()?),
                'R' => Cmd::ReadLine(self.file_name()?),
                'w' => Cmd::Write(self.file_name()?),
                'W' => Cmd::WriteFirst(self.file_name()?),
                'F' => Cmd::FileName,
                'y' => {
                    let delim = self.peek().ok_or("unterminated `y' command")?;
                    self.i += 1;
                    let a: Vec<char> = self.delimited(delim, 'y')?.chars().collect();
                    let b: Vec<char> = self.delimited(delim, 'y')?.chars().collect();
                    let unescape = |v: Vec<char>| -> Vec<char> {
                        let s: String = v.into_iter().collect();
                        s.replace("\\\\", "\\").chars().collect()
                    };
                    let (a, b) = (unescape(a), unescape(b));
                    if a.len() != b.len() {
                        return Err("strings for `y' command are different lengths".to_owned());
                    }
                    Cmd::Translate(a, b)
                }
                'a' => Cmd::Append(self.text_arg()),
                'i' => Cmd::Insert(self.text_arg()),
                'c' => Cmd::Change(self.text_arg()),
                '{' => {
                    self.blocks.push(self.prog.len());
                    Cmd::Block(0)
                }
                ':' => {
                    if a1.is_some() {
                        return Err(": doesn't want any addresses".to_owned());
                    }
                    let l = self.label();
                    if l.is_empty() {
                        return Err("\":\" lacks a label".to_owned());
                    }
                    self.labels.push((l, self.prog.len()));
                    continue;
                }
                'b' | 't' | 'T' => {
                    let l = self.label();
                    let at = self.prog.len();
                    if !l.is_empty() {
                        self.pending.push((at, l));
                    }
                    match c {
                        'b' => Cmd::Branch(usize::MAX),
                        't' => Cmd::BranchIf(usize::MAX),
                        _ => Cmd::BranchUnless(usize::MAX),
                    }
                }
                '#' => {
                    while !matches!(self.peek(), None | Some('\n')) {
                        self.i += 1;
                    }
                    continue;
                }
                other if NOT_HERE.contains(&other) => {
                    return Err(format!(
                        "the `{other}' command is not supported by this sandbox"
                    ));
                }
                other => return Err(format!("unknown command: `{other}'")),
            };
            let block = matches!(cmd, Cmd::Block(_));
            self.prog.push(Inst {
                a1,
                a2,
                negate,
                cmd,
            });
            if block {
                continue;
            }
            // After a command: blanks, then `;`, a newline, `}` or `#`.
            self.skip_blanks();
            match self.peek() {
                None | Some(';' | '\n' | '}' | '#') => {}
                Some(_) => return Err("extra characters after command".to_owned()),
            }
        }
    }

    fn subst(&mut self) -> Result<Cmd, String> {
        let delim = self.peek().ok_or("unterminated `s' command")?;
        self.i += 1;
        let pat = self.delimited(delim, 's')?;
        let rep = self.delimited(delim, 'r')?;
        let (mut global, mut nth, mut print, mut icase) = (false, 1usize, false, false);
        let mut write = None;
        while let Some(f) = self.peek() {
            match f {
                'g' => global = true,
                'p' => print = true,
                'i' | 'I' => icase = true,
                d if d.is_ascii_digit() => {
                    nth = usize::try_from(self.number()).unwrap_or(usize::MAX).max(1);
                    continue;
                }
                'w' => {
                    self.i += 1;
                    write = Some(self.file_name()?);
                    break;
                }
                'e' | 'm' | 'M' => {
                    return Err(format!(
                        "the `{f}' flag of `s' is not supported by this sandbox"
                    ));
                }
                _ => break,
            }
            self.i += 1;
        }
        Ok(Cmd::Subst {
            re: self.regex(&pat, icase)?,
            rep,
            global,
            nth,
            print,
            write,
        })
    }
}

/// `\w`, `\s`, `\b` and their kin made ASCII-only: in the C locale the bytes of a non-ASCII
/// character (here Latin-1 characters) are neither word characters nor blanks.
pub(crate) fn ascii_classes(re: &str) -> String {
    let mut out = String::with_capacity(re.len() + 16);
    let mut chars = re.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // The negated classes as `(?-u:\W)` would match lone bytes, which a `&str` regex
            // refuses to compile; spelled out, they match every other (Latin-1) character.
            Some('W') => out.push_str("[^0-9A-Za-z_]"),
            Some('S') => out.push_str("[^\\t\\n\\x0B\\x0C\\r ]"),
            Some(n @ ('w' | 's' | 'b' | 'B' | '<' | '>')) => {
                out.push_str("(?-u:\\");
                out.push(n);
                out.push(')');
            }
            Some(n) => {
                out.push('\\');
                out.push(n);
            }
            None => out.push('\\'),
        }
    }
    out
}
