//! JSON text in and out as jq 1.6 reads and writes it: every number read as a double (so
//! `-0` keeps its sign and `1.50` is 1.5), numbers printed in jq 1.6's shortest form, NaN as
//! `null` and the infinities as the largest double.

use std::rc::Rc;

use super::value::{J, Map};

/// How values are printed: jq's `--indent`/`--tab`/`-c` and `-S`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Style {
    /// The text of one indent level; `None` prints on one line.
    pub(crate) indent: Option<String>,
    pub(crate) sort_keys: bool,
}

/// `tojson`, `tostring` and error messages: one line, no spaces.
pub(crate) fn compact(v: &J) -> String {
    let mut out = String::new();
    write(&mut out, &Style::default(), 0, v);
    out
}

pub(crate) fn write(out: &mut String, st: &Style, level: usize, v: &J) {
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Num(f) => out.push_str(&number_text(*f)),
        J::Str(s) => quote(out, s),
        J::Arr(a) if a.is_empty() => out.push_str("[]"),
        J::Obj(o) if o.is_empty() => out.push_str("{}"),
        J::Arr(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, st, level + 1);
                write(out, st, level + 1, x);
            }
            newline(out, st, level);
            out.push(']');
        }
        J::Obj(o) => {
            out.push('{');
            let mut entries: Vec<(&Rc<str>, &J)> = o.iter().collect();
            if st.sort_keys {
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            }
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, st, level + 1);
                quote(out, k);
                out.push(':');
                if st.indent.is_some() {
                    out.push(' ');
                }
                write(out, st, level + 1, x);
            }
            newline(out, st, level);
            out.push('}');
        }
    }
}

fn newline(out: &mut String, st: &Style, level: usize) {
    if let Some(ind) = &st.indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

/// A JSON string as jq 1.6 escapes it: the short escapes, other control characters and DEL
/// as `\u00XX`, everything else (including `/` and non-ASCII) as is.
pub(crate) fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// jq 1.6's `jvp_dtoa_fmt`: the shortest digits that read back to `f`, in exponent form when
/// the decimal point is 4 or more places left of them or more than 15 places right of them;
/// NaN is `null` and the infinities the largest double.
pub(crate) fn number_text(f: f64) -> String {
    if f.is_nan() {
        return "null".to_owned();
    }
    let f = if f.is_infinite() {
        f.signum() * f64::MAX
    } else {
        f
    };
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let decpt = exp.parse::<i32>().unwrap_or(0) + 1;
    let nd = digits.len() as i32;
    let sign = if f < 0.0 { "-" } else { "" };
    if decpt <= -4 || decpt > nd + 15 {
        let e = decpt - 1;
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let es = if e < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{es}{:02}", e.abs())
    } else if decpt <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-decpt) as usize))
    } else if decpt >= nd {
        format!("{sign}{digits}{}", "0".repeat((decpt - nd) as usize))
    } else {
        let (a, b) = digits.split_at(decpt as usize);
        format!("{sign}{a}.{b}")
    }
}

/// A JSON text that does not parse: jq's message and where its parser was.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub(crate) msg: String,
    pub(crate) line: usize,
    pub(crate) col: usize,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at line {}, column {}", self.msg, self.line, self.col)
    }
}

/// Reads a sequence of JSON texts (jq's input: values separated by whitespace or nothing).
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

/// Values read so far and the first error, if the text had one.
pub(crate) type ReadAll = (Vec<(J, usize)>, Option<ParseError>);

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    /// Every value of the text with the line jq's parser had reached after it (for the
    /// `(at <stdin>:N)` of a later error), and the first parse error.
    pub(crate) fn all(mut self) -> ReadAll {
        let mut vals = Vec::new();
        loop {
            self.ws();
            if self.pos >= self.b.len() {
                return (vals, None);
            }
            match self.value() {
                Ok(v) => {
                    // jq reads its input a line at a time: when a value is parsed, the whole
                    // line holding its last byte has been read (and counted).
                    let last = self.pos.saturating_sub(1);
                    let line = match self.b[last..].iter().position(|&c| c == b'\n') {
                        Some(p) => self.line_at(last + p + 1),
                        None => self.line_at(self.b.len()),
                    };
                    vals.push((v, line));
                }
                Err(msg) => {
                    let line = self.line_at(self.pos);
                    let col = self.pos
                        - self.b[..self.pos]
                            .iter()
                            .rposition(|&c| c == b'\n')
                            .map_or(0, |p| p + 1);
                    return (
                        vals,
                        Some(ParseError {
                            msg,
                            line: line + 1,
                            col,
                        }),
                    );
                }
            }
        }
    }

    fn line_at(&self, pos: usize) -> usize {
        self.b[..pos.min(self.b.len())]
            .iter()
            .filter(|&&c| c == b'\n')
            .count()
    }

    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.pos) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn value(&mut self) -> Result<J, String> {
        self.ws();
        let Some(&c) = self.b.get(self.pos) else {
            return Err("Unfinished JSON term at EOF".into());
        };
        match c {
            b'{' => {
                self.pos += 1;
                let mut m = Map::new();
                self.ws();
                if self.b.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(J::obj(m));
                }
                loop {
                    self.ws();
                    if self.b.get(self.pos) != Some(&b'"') {
                        return Err("Object keys must be strings".into());
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.b.get(self.pos) != Some(&b':') {
                        return Err("Objects must consist of key:value pairs".into());
                    }
                    self.pos += 1;
                    let v = self.value()?;
                    m.insert(Rc::from(k.as_str()), v);
                    self.ws();
                    match self.b.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(J::obj(m));
                        }
                        None => return Err("Unfinished JSON term at EOF".into()),
                        _ => return Err("Expected separator between values".into()),
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                let mut a = Vec::new();
                self.ws();
                if self.b.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(J::arr(a));
                }
                loop {
                    self.ws();
                    if self.b.get(self.pos) == Some(&b',') {
                        return Err("Expected value before ','".into());
                    }
                    a.push(self.value()?);
                    self.ws();
                    match self.b.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(J::arr(a));
                        }
                        None => return Err("Unfinished JSON term at EOF".into()),
                        _ => return Err("Expected separator between values".into()),
                    }
                }
            }
            b'"' => self.string().map(J::from),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal("true", J::Bool(true)),
            b'f' => self.literal("false", J::Bool(false)),
            b'n' => self.literal("null", J::Null),
            _ => Err("Invalid literal".into()),
        }
    }

    fn literal(&mut self, word: &str, v: J) -> Result<J, String> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            if self
                .b
                .get(self.pos)
                .is_some_and(|c| c.is_ascii_alphanumeric())
            {
                return Err("Invalid literal".into());
            }
            Ok(v)
        } else {
            Err("Invalid literal".into())
        }
    }

    fn number(&mut self) -> Result<J, String> {
        let start = self.pos;
        while let Some(c) = self.b.get(self.pos) {
            if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.pos += 1;
            } else {
                break;
            }
        }
        if self
            .b
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphabetic())
        {
            return Err("Invalid numeric literal".into());
        }
        let t = std::str::from_utf8(&self.b[start..self.pos]).unwrap_or("");
        t.parse::<f64>()
            .map(J::Num)
            .map_err(|_| "Invalid numeric literal".into())
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                return Err("Unfinished JSON term at EOF".into());
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(String::from_utf8_lossy(&bytes).into_owned()),
                b'\\' => {
                    let Some(&e) = self.b.get(self.pos) else {
                        return Err("Unfinished JSON term at EOF".into());
                    };
                    self.pos += 1;
                    let ch = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'/' => '/',
                        b'\\' => '\\',
                        b'"' => '"',
                        b'u' => self.unicode()?,
                        _ => return Err("Invalid escape".into()),
                    };
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c => bytes.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .b
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or("Invalid escape")?;
        self.pos += 4;
        Ok(h)
    }

    fn unicode(&mut self) -> Result<char, String> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.b[self.pos..].starts_with(b"\\u") {
                self.pos += 2;
                let lo = self.hex4()?;
                if (0xDC00..0xE000).contains(&lo) {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
                }
            }
            return Err("Invalid \\uXXXX\\uXXXX surrogate pair escape".into());
        }
        Ok(char::from_u32(hi).unwrap_or('\u{FFFD}'))
    }
}
