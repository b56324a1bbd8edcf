//! bc's tokens and grammar: statements by recursive descent, with GNU bc's precedence
//! (`||`, `&&`, `!`, comparisons, assignment, `+ -`, `* / %`, `^` right-associative, unary
//! minus binding tighter than `^`), nesting bounded at 200 levels.

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Num(String),
    Name(String),
    Str(String),
    Op(&'static str),
    Newline,
}

const OPS: [&str; 31] = [
    "++", "--", "+=", "-=", "*=", "/=", "%=", "^=", "==", "!=", "<=", ">=", "&&", "||", "+", "-",
    "*", "/", "%", "^", "=", "<", ">", "!", "(", ")", "{", "}", ",", ";", "[",
];

/// A token and the line it is on.
pub(super) type Lexed = (Tok, usize);

pub(super) fn lex(src: &str) -> Result<Vec<Lexed>, (usize, String)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                out.push((Tok::Newline, line));
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'\\' if b.get(i + 1) == Some(&b'\n') => {
                i += 2;
                line += 1;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = src[i + 2..]
                    .find("*/")
                    .ok_or((line, "unterminated comment".to_owned()))?;
                line += src[i..i + 2 + end].matches('\n').count();
                i += end + 4;
            }
            b'"' => {
                let end = src[i + 1..]
                    .find('"')
                    .ok_or((line, "unterminated string".to_owned()))?;
                let s = &src[i + 1..i + 1 + end];
                out.push((Tok::Str(s.to_owned()), line));
                line += s.matches('\n').count();
                i += end + 2;
            }
            b'0'..=b'9' | b'A'..=b'F' | b'.' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'0'..=b'9' | b'A'..=b'F' | b'.') {
                    i += 1;
                }
                out.push((Tok::Num(src[start..i].to_owned()), line));
            }
            b'a'..=b'z' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'a'..=b'z' | b'0'..=b'9' | b'_') {
                    i += 1;
                }
                out.push((Tok::Name(src[start..i].to_owned()), line));
            }
            _ => {
                let op = OPS
                    .iter()
                    .find(|op| src[i..].starts_with(**op))
                    .ok_or((line, format!("illegal character: {}", c as char)))?;
                out.push((Tok::Op(op), line));
                i += op.len();
            }
        }
    }
    Ok(out)
}

#[derive(Clone, Debug)]
pub(super) enum Target {
    Var(String),
    Scale,
    Ibase,
    Obase,
    Last,
}

#[derive(Clone, Debug)]
pub(super) enum Expr {
    Num(String),
    Get(Target),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    Assign(&'static str, Target, Box<Expr>),
    /// `++x` / `--x` (the new value) or `x++` / `x--` (the old one).
    Step(Target, bool, bool),
    Call(String, Vec<Expr>),
}

#[derive(Clone, Debug)]
pub(super) enum Stmt {
    Expr(Expr),
    Str(String),
    Print(Vec<Result<Expr, String>>),
    If(Expr, Box<Stmt>, Option<Box<Stmt>>),
    While(Expr, Box<Stmt>),
    For(Option<Expr>, Option<Expr>, Option<Expr>, Box<Stmt>),
    Break,
    Continue,
    Halt,
    Block(Vec<Stmt>),
}

pub(super) enum ParseError {
    Syntax(usize),
    Refused(String),
}

pub(super) struct Parser<'t> {
    pub(super) toks: &'t [Lexed],
    pub(super) pos: usize,
    pub(super) depth: usize,
    pub(super) math_lib: bool,
}

pub(super) type PResult<T> = Result<T, ParseError>;

impl Parser<'_> {
    pub(super) fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    pub(super) fn line(&self) -> usize {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(1, |t| t.1)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    fn eat(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, op: &str) -> PResult<()> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(ParseError::Syntax(self.line()))
        }
    }

    fn skip_newlines(&mut self) {
        while self.peek() == Some(&Tok::Newline) {
            self.pos += 1;
        }
    }

    fn nest<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= 200 {
            return Err(ParseError::Refused(
                "nesting deeper than 200 levels".to_owned(),
            ));
        }
        self.depth += 1;
        // A level is a dozen frames of recursive descent: grow the stack rather than trust it.
        let r = stacker::maybe_grow(64 * 1024, 1 << 20, || f(self));
        self.depth -= 1;
        r
    }

    /// One statement (none at a separator).
    pub(super) fn stmt(&mut self) -> PResult<Option<Stmt>> {
        self.nest(|p| p.stmt_inner())
    }

    fn stmt_inner(&mut self) -> PResult<Option<Stmt>> {
        let Some(tok) = self.peek().cloned() else {
            return Ok(None);
        };
        match tok {
            Tok::Newline | Tok::Op(";") => Ok(None),
            Tok::Str(s) => {
                self.pos += 1;
                Ok(Some(Stmt::Str(s)))
            }
            Tok::Op("{") => {
                self.pos += 1;
                let mut body = Vec::new();
                loop {
                    self.skip_newlines();
                    if self.eat("}") {
                        break;
                    }
                    if self.peek().is_none() {
                        return Err(ParseError::Syntax(self.line()));
                    }
                    if let Some(s) = self.stmt()? {
                        body.push(s);
                    }
                    if !(self.eat(";") || self.peek() == Some(&Tok::Newline) || self.is_op("}")) {
                        return Err(ParseError::Syntax(self.line()));
                    }
                }
                Ok(Some(Stmt::Block(body)))
            }
            Tok::Name(n) => match n.as_str() {
                "if" => {
                    self.pos += 1;
                    self.expect("(")?;
                    let c = self.expr()?;
                    self.expect(")")?;
                    self.skip_newlines();
                    let then = self.stmt()?.unwrap_or(Stmt::Block(Vec::new()));
                    // `else` may follow on the next line.
                    let save = self.pos;
                    self.skip_newlines();
                    let otherwise = if self.peek() == Some(&Tok::Name("else".to_owned())) {
                        self.pos += 1;
                        self.skip_newlines();
                        Some(Box::new(self.stmt()?.unwrap_or(Stmt::Block(Vec::new()))))
                    } else {
                        self.pos = save;
                        None
                    };
                    Ok(Some(Stmt::If(c, Box::new(then), otherwise)))
                }
                "while" => {
                    self.pos += 1;
                    self.expect("(")?;
                    let c = self.expr()?;
                    self.expect(")")?;
                    self.skip_newlines();
                    let body = self.stmt()?.unwrap_or(Stmt::Block(Vec::new()));
                    Ok(Some(Stmt::While(c, Box::new(body))))
                }
                "for" => {
                    self.pos += 1;
                    self.expect("(")?;
                    let init = if self.is_op(";") {
                        None
                    } else {
                        Some(self.expr()?)
                    };
                    self.expect(";")?;
                    let cond = if self.is_op(";") {
                        None
                    } else {
                        Some(self.expr()?)
                    };
                    self.expect(";")?;
                    let step = if self.is_op(")") {
                        None
                    } else {
                        Some(self.expr()?)
                    };
                    self.expect(")")?;
                    self.skip_newlines();
                    let body = self.stmt()?.unwrap_or(Stmt::Block(Vec::new()));
                    Ok(Some(Stmt::For(init, cond, step, Box::new(body))))
                }
                "break" => {
                    self.pos += 1;
                    Ok(Some(Stmt::Break))
                }
                "continue" => {
                    self.pos += 1;
                    Ok(Some(Stmt::Continue))
                }
                "halt" => {
                    self.pos += 1;
                    Ok(Some(Stmt::Halt))
                }
                "print" => {
                    self.pos += 1;
                    let mut items = Vec::new();
                    loop {
                        if let Some(Tok::Str(s)) = self.peek().cloned() {
                            self.pos += 1;
                            items.push(Err(s));
                        } else {
                            items.push(Ok(self.expr()?));
                        }
                        if !self.eat(",") {
                            break;
                        }
                    }
                    Ok(Some(Stmt::Print(items)))
                }
                "define" | "auto" | "return" => {
                    Err(ParseError::Refused(format!("'{n}' (function definitions)")))
                }
                "read" => Err(ParseError::Refused("read()".to_owned())),
                "limits" | "warranty" => Err(ParseError::Refused(format!("'{n}'"))),
                _ => Ok(Some(Stmt::Expr(self.expr()?))),
            },
            _ => Ok(Some(Stmt::Expr(self.expr()?))),
        }
    }

    fn expr(&mut self) -> PResult<Expr> {
        self.nest(|p| p.or())
    }

    fn or(&mut self) -> PResult<Expr> {
        let mut l = self.and()?;
        while self.eat("||") {
            let r = self.and()?;
            l = Expr::Bin("||", Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and(&mut self) -> PResult<Expr> {
        let mut l = self.not()?;
        while self.eat("&&") {
            let r = self.not()?;
            l = Expr::Bin("&&", Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn not(&mut self) -> PResult<Expr> {
        if self.eat("!") {
            let e = self.nest(|p| p.not())?;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.rel()
    }

    fn rel(&mut self) -> PResult<Expr> {
        let mut l = self.assign()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(o @ ("==" | "!=" | "<" | "<=" | ">" | ">="))) => *o,
                _ => return Ok(l),
            };
            self.pos += 1;
            let r = self.assign()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
    }

    fn assign(&mut self) -> PResult<Expr> {
        let l = self.add()?;
        let op = match self.peek() {
            Some(Tok::Op(o @ ("=" | "+=" | "-=" | "*=" | "/=" | "%=" | "^="))) => *o,
            _ => return Ok(l),
        };
        let Expr::Get(target) = l else {
            return Err(ParseError::Syntax(self.line()));
        };
        self.pos += 1;
        // Right-associative, and its right side may be a comparison: `x = 5 > 3` is `(x = 5) > 3`
        // in bc, but `x = y = 2` chains.
        let r = self.nest(|p| p.assign())?;
        Ok(Expr::Assign(op, target, Box::new(r)))
    }

    fn add(&mut self) -> PResult<Expr> {
        let mut l = self.mul()?;
        loop {
            let op = if self.eat("+") {
                "+"
            } else if self.eat("-") {
                "-"
            } else {
                return Ok(l);
            };
            let r = self.mul()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
    }

    fn mul(&mut self) -> PResult<Expr> {
        let mut l = self.pow()?;
        loop {
            let op = if self.eat("*") {
                "*"
            } else if self.eat("/") {
                "/"
            } else if self.eat("%") {
                "%"
            } else {
                return Ok(l);
            };
            let r = self.pow()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
    }

    fn pow(&mut self) -> PResult<Expr> {
        let base = self.unary()?;
        if self.eat("^") {
            let e = self.nest(|p| p.pow())?;
            return Ok(Expr::Bin("^", Box::new(base), Box::new(e)));
        }
        Ok(base)
    }

    fn unary(&mut self) -> PResult<Expr> {
        if self.eat("-") {
            let e = self.nest(|p| p.unary())?;
            return Ok(Expr::Neg(Box::new(e)));
        }
        for (op, up) in [("++", true), ("--", false)] {
            if self.eat(op) {
                let Expr::Get(t) = self.primary()? else {
                    return Err(ParseError::Syntax(self.line()));
                };
                return Ok(Expr::Step(t, up, true));
            }
        }
        let e = self.primary()?;
        if let Expr::Get(t) = &e {
            for (op, up) in [("++", true), ("--", false)] {
                if self.eat(op) {
                    return Ok(Expr::Step(t.clone(), up, false));
                }
            }
        }
        Ok(e)
    }

    fn primary(&mut self) -> PResult<Expr> {
        let Some(tok) = self.peek().cloned() else {
            return Err(ParseError::Syntax(self.line()));
        };
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Op("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Name(n) => {
                if self.is_op("[") {
                    return Err(ParseError::Refused("arrays".to_owned()));
                }
                if self.eat("(") {
                    let mut args = Vec::new();
                    if !self.eat(")") {
                        loop {
                            args.push(self.expr()?);
                            if self.eat(")") {
                                break;
                            }
                            self.expect(",")?;
                        }
                    }
                    let known = matches!(n.as_str(), "sqrt" | "length" | "scale");
                    if !known
                        && self.math_lib
                        && matches!(n.as_str(), "s" | "c" | "a" | "l" | "e" | "j")
                    {
                        return Err(ParseError::Refused(format!(
                            "the math library function {n}()"
                        )));
                    }
                    return Ok(Expr::Call(n, args));
                }
                Ok(Expr::Get(match n.as_str() {
                    "scale" => Target::Scale,
                    "ibase" => Target::Ibase,
                    "obase" => Target::Obase,
                    "last" => Target::Last,
                    "if" | "else" | "while" | "for" | "break" | "continue" | "quit" | "halt"
                    | "print" | "define" | "return" | "auto" | "sqrt" | "length" | "read" => {
                        return Err(ParseError::Syntax(self.line()));
                    }
                    _ => Target::Var(n),
                }))
            }
            _ => {
                // Not consumed: a newline here still ends the line for error recovery.
                self.pos -= 1;
                Err(ParseError::Syntax(self.line()))
            }
        }
    }
}
