//! `expr` (GNU coreutils): `|`, `&`, comparisons, `+ - * / %`, `:` (an anchored BRE), `match`,
//! `substr`, `index`, `length`, `+ token`, parentheses. Exit 0 when the result is neither empty
//! nor zero, 1 when it is, 2 for a usage or syntax error, 3 for an overflow (GNU uses bignums;
//! this sandbox's integers are 128-bit and past that it says so).

use super::Ctx;
use crate::interp::R;

#[derive(Clone, Debug)]
enum Val {
    Int(i128),
    Str(String),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Int(n) => n.to_string(),
            Val::Str(s) => s.clone(),
        }
    }

    /// GNU's `null`: zero, the empty string, or a string of zeros (with one leading `-`).
    fn is_null(&self) -> bool {
        match self {
            Val::Int(n) => *n == 0,
            Val::Str(s) => {
                let t = s.strip_prefix('-').unwrap_or(s);
                s.is_empty() || (!t.is_empty() && t.bytes().all(|b| b == b'0'))
            }
        }
    }

    fn int(&self) -> Option<i128> {
        match self {
            Val::Int(n) => Some(*n),
            Val::Str(s) => parse_int(s),
        }
    }
}

/// GNU's `looks_like_integer`: an optional `-`, then only digits.
fn parse_int(s: &str) -> Option<i128> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

enum Fail {
    /// Exit 2 with this message.
    Usage(String),
    /// Exit 3 with this message.
    Other(String),
}

type Res<T> = Result<T, Fail>;

struct Parser<'a> {
    args: &'a [String],
    pos: usize,
    /// How deep `(` and the prefix keywords nest, bounded by `limits.max_nesting_depth`.
    depth: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.args.get(self.pos).map(String::as_str)
    }

    fn next_is(&mut self, tok: &str) -> bool {
        // An operator is only one while another argument follows it.
        if self.peek() == Some(tok) && self.pos + 1 < self.args.len() {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn take(&mut self) -> Res<String> {
        match self.args.get(self.pos) {
            Some(a) => {
                self.pos += 1;
                Ok(a.clone())
            }
            None => Err(Fail::Usage(format!(
                "syntax error: missing argument after '{}'",
                self.args[self.pos - 1]
            ))),
        }
    }

    fn or(&mut self) -> Res<Val> {
        let mut l = self.and()?;
        while self.next_is("|") {
            let r = self.and()?;
            l = if !l.is_null() {
                l
            } else if !r.is_null() {
                r
            } else {
                Val::Int(0)
            };
        }
        Ok(l)
    }

    fn and(&mut self) -> Res<Val> {
        let mut l = self.cmp()?;
        while self.next_is("&") {
            let r = self.cmp()?;
            l = if l.is_null() || r.is_null() {
                Val::Int(0)
            } else {
                l
            };
        }
        Ok(l)
    }

    fn cmp(&mut self) -> Res<Val> {
        let mut l = self.add()?;
        loop {
            let op = match self.peek() {
                Some(o @ ("<" | "<=" | "=" | "==" | "!=" | ">=" | ">")) => o.to_owned(),
                _ => return Ok(l),
            };
            if !self.next_is(&op) {
                return Ok(l);
            }
            let r = self.add()?;
            let ord = match (l.int(), r.int()) {
                (Some(a), Some(b)) => a.cmp(&b),
                _ => l.text().as_bytes().cmp(r.text().as_bytes()),
            };
            use std::cmp::Ordering::*;
            let t = match op.as_str() {
                "<" => ord == Less,
                "<=" => ord != Greater,
                "=" | "==" => ord == Equal,
                "!=" => ord != Equal,
                ">=" => ord != Less,
                _ => ord == Greater,
            };
            l = Val::Int(i128::from(t));
        }
    }

    fn arith(l: &Val, r: &Val, op: &str) -> Res<Val> {
        let (Some(a), Some(b)) = (l.int(), r.int()) else {
            return Err(Fail::Usage("non-integer argument".to_owned()));
        };
        if (op == "/" || op == "%") && b == 0 {
            return Err(Fail::Usage("division by zero".to_owned()));
        }
        let v = match op {
            "+" => a.checked_add(b),
            "-" => a.checked_sub(b),
            "*" => a.checked_mul(b),
            "/" => a.checked_div(b),
            _ => a.checked_rem(b),
        };
        v.map(Val::Int).ok_or_else(|| {
            Fail::Other(
                "integer result too large: this sandbox's expr uses 128-bit integers".to_owned(),
            )
        })
    }

    fn add(&mut self) -> Res<Val> {
        let mut l = self.mul()?;
        loop {
            let op = if self.next_is("+") {
                "+"
            } else if self.next_is("-") {
                "-"
            } else {
                return Ok(l);
            };
            let r = self.mul()?;
            l = Self::arith(&l, &r, op)?;
        }
    }

    fn mul(&mut self) -> Res<Val> {
        let mut l = self.colon()?;
        loop {
            let op = if self.next_is("*") {
                "*"
            } else if self.next_is("/") {
                "/"
            } else if self.next_is("%") {
                "%"
            } else {
                return Ok(l);
            };
            let r = self.colon()?;
            l = Self::arith(&l, &r, op)?;
        }
    }

    fn colon(&mut self) -> Res<Val> {
        let mut l = self.unary()?;
        while self.next_is(":") {
            let r = self.unary()?;
            l = matches(&l.text(), &r.text())?;
        }
        Ok(l)
    }

    fn unary(&mut self) -> Res<Val> {
        if self.depth >= self.max_depth {
            return Err(Fail::Other(format!(
                "expression nested too deeply (more than {} levels)",
                self.max_depth
            )));
        }
        self.depth += 1;
        let r = stacker::maybe_grow(64 * 1024, 1 << 20, || self.unary_inner());
        self.depth -= 1;
        r
    }

    fn unary_inner(&mut self) -> Res<Val> {
        let Some(tok) = self.peek().map(str::to_owned) else {
            return Err(Fail::Usage(match self.pos {
                0 => "missing operand".to_owned(),
                p => format!(
                    "syntax error: missing argument after '{}'",
                    self.args[p - 1]
                ),
            }));
        };
        // A keyword is one only when followed by an operand.
        let keyword = self.pos + 1 < self.args.len();
        match tok.as_str() {
            "+" if keyword => {
                self.pos += 1;
                Ok(Val::Str(self.take()?))
            }
            "length" if keyword => {
                self.pos += 1;
                let s = self.unary()?.text();
                Ok(Val::Int(s.len() as i128))
            }
            "match" if keyword => {
                self.pos += 1;
                let s = self.unary()?.text();
                let r = self.unary()?.text();
                matches(&s, &r)
            }
            "index" if keyword => {
                self.pos += 1;
                let s = self.unary()?.text();
                let chars = self.unary()?.text();
                let i = s
                    .bytes()
                    .position(|b| chars.as_bytes().contains(&b))
                    .map_or(0, |i| i + 1);
                Ok(Val::Int(i as i128))
            }
            "substr" if keyword => {
                self.pos += 1;
                let s = self.unary()?.text();
                let p = self.unary()?;
                let n = self.unary()?;
                let (Some(p), Some(n)) = (p.int(), n.int()) else {
                    return Ok(Val::Str(String::new()));
                };
                if p < 1 || n < 1 || p as usize > s.len() {
                    return Ok(Val::Str(String::new()));
                }
                let start = p as usize - 1;
                let end = start.saturating_add(usize::try_from(n).unwrap_or(usize::MAX));
                let b = &s.as_bytes()[start..end.min(s.len())];
                Ok(Val::Str(String::from_utf8_lossy(b).into_owned()))
            }
            "(" if keyword => {
                self.pos += 1;
                let v = self.or()?;
                match self.peek() {
                    Some(")") => {
                        self.pos += 1;
                        Ok(v)
                    }
                    Some(other) => Err(Fail::Usage(format!(
                        "syntax error: expecting ')' instead of '{other}'"
                    ))),
                    None => Err(Fail::Usage(format!(
                        "syntax error: expecting ')' after '{}'",
                        self.args[self.pos - 1]
                    ))),
                }
            }
            ")" if keyword => Err(Fail::Usage("syntax error: unexpected ')'".to_owned())),
            _ => {
                self.pos += 1;
                Ok(Val::Str(tok))
            }
        }
    }
}

/// `STRING : REGEX`: an anchored BRE; the first group's text if it has one, else the length of
/// the match.
fn matches(s: &str, re: &str) -> Res<Val> {
    let translated = super::grep::posix_to_regex(re, false)
        .map_err(|e| Fail::Usage(format!("Invalid regular expression: {e}")))?;
    let rx = regex::bytes::RegexBuilder::new(&format!("^(?:{translated})"))
        .unicode(false)
        .size_limit(1 << 20)
        .build()
        .map_err(|_| {
            Fail::Usage(format!(
                "regular expression '{re}' is not supported by this sandbox"
            ))
        })?;
    let groups = rx.captures_len() > 1;
    match rx.captures(s.as_bytes()) {
        Some(c) if groups => Ok(Val::Str(
            c.get(1)
                .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                .unwrap_or_default(),
        )),
        Some(c) => Ok(Val::Int(c.get(0).map_or(0, |m| m.len()) as i128)),
        None if groups => Ok(Val::Str(String::new())),
        None => Ok(Val::Int(0)),
    }
}

pub(super) fn expr(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let args = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        Some("--help" | "--version") if args.len() == 1 => {
            ctx.warn(
                "expr",
                format!("option '{}' is not supported by this sandbox", args[0]),
            );
            return Ok(crate::interp::UNSUPPORTED_EXIT);
        }
        _ => args,
    };
    if args.is_empty() {
        ctx.warn("expr", "missing operand");
        super::opts::try_help(ctx, "expr");
        return Ok(2);
    }
    let mut p = Parser {
        args,
        pos: 0,
        depth: 0,
        max_depth: ctx.sh.limits.max_nesting_depth,
    };
    let r = p.or().and_then(|v| match p.peek() {
        Some(extra) => Err(Fail::Usage(format!(
            "syntax error: unexpected argument '{extra}'"
        ))),
        None => Ok(v),
    });
    match r {
        Ok(v) => {
            ctx.io.out(format!("{}\n", v.text()).as_bytes());
            Ok(i32::from(v.is_null()))
        }
        Err(Fail::Usage(m)) => {
            ctx.warn("expr", m);
            Ok(2)
        }
        Err(Fail::Other(m)) => {
            ctx.warn("expr", m);
            Ok(3)
        }
    }
}
