//! The awk lexer: source text to tokens.

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Num(f64),
    Str(String),
    Re(String),
    Ident(String),
    Builtin(String),
    /// A name written right before `(`: a call of a user-defined function.
    Call(String),
    Op(&'static str),
    Newline,
    Eof,
}

const OPS: &[&str] = &[
    "+=", "-=", "*=", "/=", "%=", "^=", "==", "!=", "<=", ">=", "&&", "||", "++", "--", "!~", "{",
    "}", "(", ")", "[", "]", ";", ",", "+", "-", "*", "/", "%", "^", "!", "<", ">", "~", "?", ":",
    "=", "$",
];
const BUILTINS: &[&str] = &[
    "length", "substr", "index", "split", "sub", "gsub", "match", "tolower", "toupper", "sprintf",
    "int", "sqrt", "exp", "log", "sin", "cos", "atan2", "rand", "srand", "system", "close",
    "fflush", "gensub", "asort", "asorti",
];
/// gawk's other built-ins: as user function calls they would be "not defined", which is
/// gawk's answer for a name it does not know, not for one the sandbox lacks.
const UNSUPPORTED_BUILTINS: &[&str] = &[
    "strftime",
    "systime",
    "mktime",
    "and",
    "or",
    "xor",
    "lshift",
    "rshift",
    "compl",
    "strtonum",
    "isarray",
    "typeof",
    "patsplit",
    "bindtextdomain",
    "dcgettext",
    "dcngettext",
];
/// Keywords that may stand right before `(` without being a call.
const KEYWORDS: &[&str] = &[
    "if", "while", "for", "do", "else", "in", "getline", "print", "printf", "return", "delete",
    "exit", "next", "nextfile", "function", "func", "break", "continue", "BEGIN", "END",
];

pub(super) fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out: Vec<Tok> = Vec::new();
    while i < c.len() {
        let ch = c[i];
        if ch == '\\' && c.get(i + 1) == Some(&'\n') {
            i += 2;
            continue;
        }
        if ch == ' ' || ch == '\t' || ch == '\r' {
            i += 1;
            continue;
        }
        if ch == '#' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if ch == '\n' {
            out.push(Tok::Newline);
            i += 1;
            continue;
        }
        if ch.is_ascii_digit() || (ch == '.' && c.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let st = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                if (c[i] == 'e' || c[i] == 'E') && matches!(c.get(i + 1), Some('+' | '-')) {
                    i += 1;
                }
                i += 1;
            }
            let s: String = c[st..i].iter().collect();
            let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                i64::from_str_radix(h, 16)
                    .map(|v| v as f64)
                    .map_err(|_| format!("bad number {s}"))?
            } else if s.len() > 1
                && s.starts_with('0')
                && s.bytes().all(|b| (b'0'..=b'7').contains(&b))
            {
                // gawk reads a leading 0 in the program text as octal (`017` is 15); with an
                // 8, a 9, a point or an exponent it stays decimal.
                i64::from_str_radix(&s, 8)
                    .map(|v| v as f64)
                    .map_err(|_| format!("bad number {s}"))?
            } else {
                s.parse::<f64>().map_err(|_| format!("bad number {s}"))?
            };
            out.push(Tok::Num(v));
            continue;
        }
        if ch.is_ascii_alphabetic() || ch == '_' {
            let st = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let w: String = c[st..i].iter().collect();
            // gawk gives these names a meaning this awk lacks; as plain variables they would
            // silently be empty.
            if matches!(
                w.as_str(),
                "ARGV"
                    | "ARGC"
                    | "BEGINFILE"
                    | "ENDFILE"
                    | "ARGIND"
                    | "IGNORECASE"
                    | "PROCINFO"
                    | "FIELDWIDTHS"
                    | "FPAT"
                    | "ERRNO"
                    | "BINMODE"
                    | "LINT"
                    | "TEXTDOMAIN"
                    | "SYMTAB"
                    | "FUNCTAB"
            ) {
                return Err(format!("{w} is not supported in this sandbox"));
            }
            if UNSUPPORTED_BUILTINS.contains(&w.as_str()) {
                return Err(format!("{w} is not supported in this sandbox"));
            }
            out.push(if BUILTINS.contains(&w.as_str()) {
                Tok::Builtin(w)
            } else if c.get(i) == Some(&'(') && !KEYWORDS.contains(&w.as_str()) {
                Tok::Call(w)
            } else {
                Tok::Ident(w)
            });
            continue;
        }
        if ch == '"' {
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&d) = c.get(i) else {
                    return Err("non-terminated string".to_owned());
                };
                i += 1;
                match d {
                    '"' => break,
                    '\\' => {
                        let e = c.get(i).copied().unwrap_or('\\');
                        i += 1;
                        let unescaped = match e {
                            'n' => Some('\n'),
                            't' => Some('\t'),
                            'r' => Some('\r'),
                            '\\' => Some('\\'),
                            '"' => Some('"'),
                            '/' => Some('/'),
                            'a' => Some('\x07'),
                            'b' => Some('\x08'),
                            'f' => Some('\x0c'),
                            'v' => Some('\x0b'),
                            '0'..='7' => {
                                let mut v = e.to_digit(8).unwrap_or(0);
                                for _ in 0..2 {
                                    match c.get(i).and_then(|d| d.to_digit(8)) {
                                        Some(d) => {
                                            v = v * 8 + d;
                                            i += 1;
                                        }
                                        None => break,
                                    }
                                }
                                char::from_u32(v)
                            }
                            // gawk drops the backslash of any other escape ("\." is "."),
                            // warning on stderr.
                            _ => Some(e),
                        };
                        match unescaped {
                            Some(u) => s.push(u),
                            None => {
                                s.push('\\');
                                s.push(e);
                            }
                        }
                    }
                    other => s.push(other),
                }
            }
            out.push(Tok::Str(s));
            continue;
        }
        let prev_operand = matches!(
            out.last(),
            Some(
                Tok::Num(_)
                    | Tok::Str(_)
                    | Tok::Ident(_)
                    | Tok::Builtin(_)
                    | Tok::Call(_)
                    | Tok::Op(")" | "]" | "$" | "++" | "--")
            )
        );
        if ch == '/' && !prev_operand {
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&d) = c.get(i) else {
                    return Err("non-terminated regular expression".to_owned());
                };
                i += 1;
                if d == '\\' && c.get(i) == Some(&'/') {
                    s.push('/');
                    i += 1;
                    continue;
                }
                if d == '\\' {
                    s.push('\\');
                    if let Some(&n) = c.get(i) {
                        s.push(n);
                        i += 1;
                    }
                    continue;
                }
                if d == '/' {
                    break;
                }
                s.push(d);
            }
            out.push(Tok::Re(s));
            continue;
        }
        // gawk's `**` and `**=` are `^` and `^=`.
        if ch == '*' && c.get(i + 1) == Some(&'*') {
            let assign = c.get(i + 2) == Some(&'=');
            out.push(Tok::Op(if assign { "^=" } else { "^" }));
            i += if assign { 3 } else { 2 };
            continue;
        }
        let rest: String = c[i..c.len().min(i + 2)].iter().collect();
        match OPS.iter().find(|op| rest.starts_with(**op)) {
            Some(op) => {
                out.push(Tok::Op(op));
                i += op.len();
            }
            None if ch == '|' => {
                return Err(
                    "pipes to and from commands (`| getline`, `print | cmd`) are not supported in this sandbox"
                        .to_owned(),
                );
            }
            None => {
                return Err(format!(
                    "syntax error at source line 1: unexpected character '{ch}'"
                ));
            }
        }
    }
    out.push(Tok::Eof);
    Ok(out)
}
