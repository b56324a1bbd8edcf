//! A useful subset of POSIX `awk`: BEGIN/END, pattern-action rules (expressions, regexes,
//! ranges), fields and `NF`/`NR`/`FS`/`OFS`/`ORS`, associative arrays, `print`/`printf`,
//! `if`/`while`/`do`/`for`/`for-in`, `next`/`exit`/`break`/`continue`/`delete`, and the string
//! and math built-ins, `print > file`/`>> file` (open until `close`, as in awk), `getline` from
//! the input or `< file`. Not supported (clear error, exit 2): user functions, pipes
//! (`cmd | getline`, `print | cmd`), `system()` with a command (`system("")` only flushes).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use regex::Regex;

use super::grep::posix_to_regex;

mod builtins;
mod format;
mod random;
use super::opts::{Arg, Spec};
use super::{Ctx, c_decimal, c_exponent, or_stdin};
use crate::interp::R;
use crate::memory::{Held, str_cost, strs_cost};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Re(String),
    Ident(String),
    Builtin(String),
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
    "fflush",
];

fn lex(src: &str) -> Result<Vec<Tok>, String> {
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
                "ENVIRON"
                    | "ARGV"
                    | "ARGC"
                    | "CONVFMT"
                    | "BEGINFILE"
                    | "ENDFILE"
                    | "ARGIND"
                    | "IGNORECASE"
                    | "PROCINFO"
                    | "FIELDWIDTHS"
                    | "FPAT"
                    | "RT"
                    | "ERRNO"
                    | "BINMODE"
                    | "LINT"
                    | "TEXTDOMAIN"
                    | "SYMTAB"
                    | "FUNCTAB"
            ) {
                return Err(format!("{w} is not supported in this sandbox"));
            }
            out.push(if BUILTINS.contains(&w.as_str()) {
                Tok::Builtin(w)
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

#[derive(Debug, Clone)]
enum Expr {
    Num(f64),
    Str(String),
    Re(Regex),
    Var(String),
    Field(Box<Expr>),
    Index(String, Vec<Expr>),
    In(Vec<Expr>, String),
    Assign(Box<Expr>, Option<&'static str>, Box<Expr>),
    Incr(Box<Expr>, bool, f64),
    Unary(&'static str, Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    Match(bool, Box<Expr>, Box<Expr>),
    Concat(Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
    Group(Box<Expr>),
    /// `getline [var] [< file]`.
    Getline(Option<Box<Expr>>, Option<Box<Expr>>),
}

#[derive(Debug, Clone)]
enum Stmt {
    Print(Vec<Expr>),
    Printf(Vec<Expr>),
    /// `print ... > file` (or `>>` when the flag is set).
    Redirect(Box<Stmt>, bool, Expr),
    Expr(Expr),
    If(Expr, Box<Stmt>, Option<Box<Stmt>>),
    While(Expr, Box<Stmt>),
    Do(Box<Stmt>, Expr),
    For(
        Option<Box<Stmt>>,
        Option<Expr>,
        Option<Box<Stmt>>,
        Box<Stmt>,
    ),
    ForIn(String, String, Box<Stmt>),
    Block(Vec<Stmt>),
    Next,
    Exit(Option<Expr>),
    /// `nextfile`: the rest of the current input file is skipped.
    NextFile,
    Break,
    Continue,
    Delete(String, Option<Vec<Expr>>),
}

#[derive(Debug, Clone)]
enum Pattern {
    Begin,
    End,
    All,
    Expr(Expr),
    Range(Expr, Expr),
}

struct P {
    t: Vec<Tok>,
    i: usize,
    no_in: bool,
    no_gt: bool,
}

type PR<T> = Result<T, String>;

impl P {
    fn peek(&self) -> &Tok {
        &self.t[self.i.min(self.t.len() - 1)]
    }
    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        self.i += 1;
        t
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }
    fn eat(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, op: &str) -> PR<()> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(format!(
                "syntax error: expected `{op}' near {:?}",
                self.peek()
            ))
        }
    }
    fn nl(&mut self) {
        while matches!(self.peek(), Tok::Newline) || self.is_op(";") {
            self.i += 1;
        }
    }
    fn only_nl(&mut self) {
        while matches!(self.peek(), Tok::Newline) {
            self.i += 1;
        }
    }

    fn program(&mut self) -> PR<Vec<(Pattern, Option<Vec<Stmt>>)>> {
        let mut items = Vec::new();
        loop {
            self.nl();
            if matches!(self.peek(), Tok::Eof) {
                return Ok(items);
            }
            let pat = match self.peek().clone() {
                Tok::Ident(w) if w == "BEGIN" => {
                    self.i += 1;
                    Pattern::Begin
                }
                Tok::Ident(w) if w == "END" => {
                    self.i += 1;
                    Pattern::End
                }
                Tok::Ident(w) if w == "function" => {
                    return Err(
                        "user-defined functions are not supported in this sandbox".to_owned()
                    );
                }
                Tok::Op("{") => Pattern::All,
                _ => {
                    let e = self.expr()?;
                    if self.eat(",") {
                        self.only_nl();
                        Pattern::Range(e, self.expr()?)
                    } else {
                        Pattern::Expr(e)
                    }
                }
            };
            let action = if self.is_op("{") {
                Some(self.block()?)
            } else {
                None
            };
            if action.is_none() && matches!(pat, Pattern::Begin | Pattern::End) {
                return Err("BEGIN and END need an action".to_owned());
            }
            items.push((pat, action));
        }
    }

    fn block(&mut self) -> PR<Vec<Stmt>> {
        self.expect("{")?;
        let mut out = Vec::new();
        loop {
            self.nl();
            if self.eat("}") {
                return Ok(out);
            }
            out.push(self.stmt()?);
        }
    }

    fn simple_or_block(&mut self) -> PR<Stmt> {
        self.only_nl();
        if self.is_op(";") {
            self.i += 1;
            return Ok(Stmt::Block(Vec::new()));
        }
        self.stmt()
    }

    fn end_simple(&mut self) {
        if self.is_op(";") || matches!(self.peek(), Tok::Newline) {
            self.i += 1;
        }
    }

    fn stmt(&mut self) -> PR<Stmt> {
        if self.is_op("{") {
            return Ok(Stmt::Block(self.block()?));
        }
        let tok = self.peek().clone();
        let s = match tok {
            Tok::Ident(w) => match w.as_str() {
                "if" => {
                    self.i += 1;
                    self.expect("(")?;
                    let c = self.expr()?;
                    self.expect(")")?;
                    let then = self.simple_or_block()?;
                    let save = self.i;
                    self.nl();
                    if matches!(self.peek(), Tok::Ident(e) if e == "else") {
                        self.i += 1;
                        let els = self.simple_or_block()?;
                        return Ok(Stmt::If(c, Box::new(then), Some(Box::new(els))));
                    }
                    self.i = save;
                    return Ok(Stmt::If(c, Box::new(then), None));
                }
                "while" => {
                    self.i += 1;
                    self.expect("(")?;
                    let c = self.expr()?;
                    self.expect(")")?;
                    return Ok(Stmt::While(c, Box::new(self.simple_or_block()?)));
                }
                "do" => {
                    self.i += 1;
                    let body = self.simple_or_block()?;
                    self.nl();
                    if !matches!(self.next(), Tok::Ident(w) if w == "while") {
                        return Err("syntax error: do without while".to_owned());
                    }
                    self.expect("(")?;
                    let c = self.expr()?;
                    self.expect(")")?;
                    self.end_simple();
                    return Ok(Stmt::Do(Box::new(body), c));
                }
                "for" => {
                    self.i += 1;
                    self.expect("(")?;
                    if let (Tok::Ident(v), Tok::Ident(kw), Tok::Ident(arr)) = (
                        self.t[self.i].clone(),
                        self.t.get(self.i + 1).cloned().unwrap_or(Tok::Eof),
                        self.t.get(self.i + 2).cloned().unwrap_or(Tok::Eof),
                    ) && kw == "in"
                        && matches!(self.t.get(self.i + 3), Some(Tok::Op(")")))
                    {
                        self.i += 4;
                        return Ok(Stmt::ForIn(v, arr, Box::new(self.simple_or_block()?)));
                    }
                    let init = if self.is_op(";") {
                        None
                    } else {
                        Some(Box::new(Stmt::Expr(self.expr()?)))
                    };
                    self.expect(";")?;
                    self.only_nl();
                    let cond = if self.is_op(";") {
                        None
                    } else {
                        Some(self.expr()?)
                    };
                    self.expect(";")?;
                    self.only_nl();
                    let step = if self.is_op(")") {
                        None
                    } else {
                        Some(Box::new(Stmt::Expr(self.expr()?)))
                    };
                    self.expect(")")?;
                    return Ok(Stmt::For(
                        init,
                        cond,
                        step,
                        Box::new(self.simple_or_block()?),
                    ));
                }
                "next" => {
                    self.i += 1;
                    Stmt::Next
                }
                "nextfile" => {
                    self.i += 1;
                    Stmt::NextFile
                }
                "break" => {
                    self.i += 1;
                    Stmt::Break
                }
                "continue" => {
                    self.i += 1;
                    Stmt::Continue
                }
                "exit" => {
                    self.i += 1;
                    let e = if matches!(self.peek(), Tok::Newline | Tok::Eof)
                        || self.is_op(";")
                        || self.is_op("}")
                    {
                        None
                    } else {
                        Some(self.expr()?)
                    };
                    Stmt::Exit(e)
                }
                "delete" => {
                    self.i += 1;
                    let Tok::Ident(name) = self.next() else {
                        return Err("syntax error in delete".to_owned());
                    };
                    let idx = if self.eat("[") {
                        let v = self.expr_list("]")?;
                        Some(v)
                    } else {
                        None
                    };
                    Stmt::Delete(name, idx)
                }
                "print" | "printf" => {
                    self.i += 1;
                    self.no_gt = true;
                    let args = if matches!(self.peek(), Tok::Newline | Tok::Eof)
                        || self.is_op(";")
                        || self.is_op("}")
                        || self.is_op(">")
                        || self.is_op("|")
                    {
                        Vec::new()
                    } else if self.is_op("(") {
                        // `print (a, b)` or `print (a)(b)`.
                        let save = self.i;
                        self.i += 1;
                        let list = self.expr_list(")");
                        match list {
                            Ok(l)
                                if matches!(self.peek(), Tok::Newline | Tok::Eof)
                                    || self.is_op(";")
                                    || self.is_op("}")
                                    || self.is_op(">")
                                    || self.is_op("|") =>
                            {
                                l
                            }
                            _ => {
                                self.i = save;
                                self.print_list()?
                            }
                        }
                    } else {
                        self.print_list()?
                    };
                    self.no_gt = false;
                    let inner = if w == "print" {
                        Stmt::Print(args)
                    } else {
                        Stmt::Printf(args)
                    };
                    if self.eat(">") {
                        let append = self.eat(">");
                        // gawk's `common_exp`: a concatenation, no comparison.
                        self.no_gt = true;
                        let target = self.concat();
                        self.no_gt = false;
                        Stmt::Redirect(Box::new(inner), append, target?)
                    } else {
                        inner
                    }
                }
                _ => Stmt::Expr(self.expr()?),
            },
            _ => Stmt::Expr(self.expr()?),
        };
        self.end_simple();
        Ok(s)
    }

    fn print_list(&mut self) -> PR<Vec<Expr>> {
        let mut v = vec![self.expr()?];
        while self.eat(",") {
            self.only_nl();
            v.push(self.expr()?);
        }
        Ok(v)
    }

    fn expr_list(&mut self, close: &str) -> PR<Vec<Expr>> {
        let mut v = Vec::new();
        let saved = (self.no_in, self.no_gt);
        self.no_in = false;
        self.no_gt = false;
        if !self.eat(close) {
            loop {
                self.only_nl();
                v.push(self.expr()?);
                if self.eat(close) {
                    break;
                }
                self.expect(",")?;
            }
        }
        (self.no_in, self.no_gt) = saved;
        Ok(v)
    }

    fn expr(&mut self) -> PR<Expr> {
        self.ternary()
    }

    fn ternary(&mut self) -> PR<Expr> {
        let c = self.or()?;
        if self.eat("?") {
            self.only_nl();
            let a = self.ternary()?;
            self.only_nl();
            self.expect(":")?;
            self.only_nl();
            let b = self.ternary()?;
            return Ok(Expr::Cond(Box::new(c), Box::new(a), Box::new(b)));
        }
        for op in ["=", "+=", "-=", "*=", "/=", "%=", "^="] {
            if self.is_op(op) {
                if !matches!(c, Expr::Var(_) | Expr::Index(..) | Expr::Field(_)) {
                    return Err("syntax error: assignment to a non-variable".to_owned());
                }
                self.i += 1;
                self.only_nl();
                let rhs = self.ternary()?;
                let bin = match op {
                    "=" => None,
                    "+=" => Some("+"),
                    "-=" => Some("-"),
                    "*=" => Some("*"),
                    "/=" => Some("/"),
                    "%=" => Some("%"),
                    _ => Some("^"),
                };
                return Ok(Expr::Assign(Box::new(c), bin, Box::new(rhs)));
            }
        }
        Ok(c)
    }

    fn or(&mut self) -> PR<Expr> {
        let mut l = self.and()?;
        while self.eat("||") {
            self.only_nl();
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }

    fn and(&mut self) -> PR<Expr> {
        let mut l = self.inop()?;
        while self.eat("&&") {
            self.only_nl();
            l = Expr::And(Box::new(l), Box::new(self.inop()?));
        }
        Ok(l)
    }

    fn inop(&mut self) -> PR<Expr> {
        let mut l = self.matchop()?;
        while !self.no_in && matches!(self.peek(), Tok::Ident(w) if w == "in") {
            self.i += 1;
            let Tok::Ident(arr) = self.next() else {
                return Err("syntax error after in".to_owned());
            };
            let keys = match l {
                Expr::Group(inner) => vec![*inner],
                other => vec![other],
            };
            l = Expr::In(keys, arr);
        }
        Ok(l)
    }

    fn matchop(&mut self) -> PR<Expr> {
        let mut l = self.cmp()?;
        loop {
            if self.eat("~") {
                l = Expr::Match(false, Box::new(l), Box::new(self.cmp()?));
            } else if self.eat("!~") {
                l = Expr::Match(true, Box::new(l), Box::new(self.cmp()?));
            } else {
                return Ok(l);
            }
        }
    }

    fn cmp(&mut self) -> PR<Expr> {
        let l = self.concat()?;
        for op in ["<=", ">=", "==", "!=", "<", ">"] {
            if op == ">" && self.no_gt {
                continue;
            }
            if self.eat(op) {
                let r = self.concat()?;
                return Ok(Expr::Bin(op, Box::new(l), Box::new(r)));
            }
        }
        Ok(l)
    }

    fn starts_operand(&self) -> bool {
        match self.peek() {
            Tok::Num(_) | Tok::Str(_) | Tok::Re(_) | Tok::Builtin(_) => true,
            Tok::Ident(w) => !matches!(w.as_str(), "in" | "getline"),
            Tok::Op(o) => matches!(*o, "$" | "!" | "(" | "-" | "+" | "++" | "--"),
            _ => false,
        }
    }

    fn concat(&mut self) -> PR<Expr> {
        let mut l = self.additive()?;
        while self.starts_operand() && !self.is_op("-") && !self.is_op("+") {
            let r = self.additive()?;
            l = Expr::Concat(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn additive(&mut self) -> PR<Expr> {
        let mut l = self.mult()?;
        loop {
            let op = if self.is_op("+") {
                "+"
            } else if self.is_op("-") {
                "-"
            } else {
                return Ok(l);
            };
            self.i += 1;
            l = Expr::Bin(op, Box::new(l), Box::new(self.mult()?));
        }
    }

    fn mult(&mut self) -> PR<Expr> {
        let mut l = self.unary()?;
        loop {
            let op = if self.is_op("*") {
                "*"
            } else if self.is_op("/") {
                "/"
            } else if self.is_op("%") {
                "%"
            } else {
                return Ok(l);
            };
            self.i += 1;
            let r = self.unary()?;
            if op != "*" && builtins::is_literal_zero(&r) {
                return Err("division by zero attempted".to_owned());
            }
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
    }

    fn unary(&mut self) -> PR<Expr> {
        if self.eat("!") {
            return Ok(Expr::Unary("!", Box::new(self.unary()?)));
        }
        if self.eat("-") {
            return Ok(Expr::Unary("-", Box::new(self.unary()?)));
        }
        if self.eat("+") {
            return Ok(Expr::Unary("+", Box::new(self.unary()?)));
        }
        self.power()
    }

    fn power(&mut self) -> PR<Expr> {
        let base = self.postfix()?;
        if self.eat("^") {
            let exp = self.unary()?;
            return Ok(Expr::Bin("^", Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> PR<Expr> {
        if self.eat("++") {
            return Ok(Expr::Incr(Box::new(self.postfix()?), true, 1.0));
        }
        if self.eat("--") {
            return Ok(Expr::Incr(Box::new(self.postfix()?), true, -1.0));
        }
        let e = self.primary()?;
        if matches!(e, Expr::Var(_) | Expr::Index(..) | Expr::Field(_)) {
            if self.eat("++") {
                return Ok(Expr::Incr(Box::new(e), false, 1.0));
            }
            if self.eat("--") {
                return Ok(Expr::Incr(Box::new(e), false, -1.0));
            }
        }
        Ok(e)
    }

    fn primary(&mut self) -> PR<Expr> {
        match self.next() {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::Re(r) => {
                let re = compile(&r)?;
                Ok(Expr::Re(re))
            }
            Tok::Op("$") => {
                let e = if self.eat("++") || self.eat("--") {
                    return Err("syntax error after $".to_owned());
                } else {
                    self.primary()?
                };
                Ok(Expr::Field(Box::new(e)))
            }
            Tok::Op("(") => {
                let saved = (self.no_in, self.no_gt);
                self.no_in = false;
                self.no_gt = false;
                let e = self.expr()?;
                if self.is_op(",") {
                    // `(a, b) in arr`.
                    let mut list = vec![e];
                    while self.eat(",") {
                        list.push(self.expr()?);
                    }
                    self.expect(")")?;
                    (self.no_in, self.no_gt) = saved;
                    if !matches!(self.peek(), Tok::Ident(w) if w == "in") {
                        return Err("syntax error: grouping list without in".to_owned());
                    }
                    self.i += 1;
                    let Tok::Ident(arr) = self.next() else {
                        return Err("syntax error after in".to_owned());
                    };
                    return Ok(Expr::In(list, arr));
                }
                self.expect(")")?;
                (self.no_in, self.no_gt) = saved;
                Ok(Expr::Group(Box::new(e)))
            }
            Tok::Op("-") => Ok(Expr::Unary("-", Box::new(self.primary()?))),
            Tok::Op("!") => Ok(Expr::Unary("!", Box::new(self.primary()?))),
            Tok::Builtin(name) => {
                if self.eat("(") {
                    let args = self.expr_list(")")?;
                    builtins::check_arity(&name, args.len())?;
                    Ok(Expr::Call(name, args))
                } else if name == "length" {
                    Ok(Expr::Call(name, Vec::new()))
                } else {
                    Err(format!("syntax error: {name} needs arguments"))
                }
            }
            Tok::Ident(name) if name == "getline" => {
                // `getline [var] [< file]`; `cmd | getline` is refused by the lexer.
                let var = match self.peek() {
                    Tok::Ident(w) if !matches!(w.as_str(), "in" | "getline") => {
                        Some(Box::new(self.primary()?))
                    }
                    Tok::Op("$") => Some(Box::new(self.primary()?)),
                    _ => None,
                };
                let file = if self.eat("<") {
                    Some(Box::new(self.primary()?))
                } else {
                    None
                };
                Ok(Expr::Getline(var, file))
            }
            Tok::Ident(name) => {
                if self.is_op("(") && matches!(self.t.get(self.i), Some(Tok::Op("("))) {
                    return Err(format!(
                        "calling function {name} is not supported in this sandbox (no user-defined functions)"
                    ));
                }
                if self.eat("[") {
                    let idx = self.expr_list("]")?;
                    return Ok(Expr::Index(name, idx));
                }
                Ok(Expr::Var(name))
            }
            other => Err(format!("syntax error at source line 1 near {other:?}")),
        }
    }
}

thread_local! {
    /// Dynamic regexes (`FS`, `$0 ~ s`, `split(s, a, re)`) compiled once per thread, not once
    /// per record: a multi-character `-F` was compiled twice for every line.
    static REGEX_CACHE: std::cell::RefCell<HashMap<String, Regex>> =
        std::cell::RefCell::new(HashMap::new());
}

/// Most dynamic regexes a run keeps compiled.
const REGEX_CACHE_MAX: usize = 64;

thread_local! {
    /// This run reads bytes (the C locale): text is Latin-1 inside, so `\w` and kin are ASCII.
    static LATIN1: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Each byte as the Latin-1 character of that value (the C locale's view of text).
fn to_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Latin-1 text back to its bytes (each character is below 256).
fn latin1_bytes(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

fn compile(src: &str) -> PR<Regex> {
    let ascii = LATIN1.with(std::cell::Cell::get);
    let key = if ascii {
        format!("\u{1}{src}")
    } else {
        src.to_owned()
    };
    if let Some(re) = REGEX_CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(re);
    }
    let re = compile_uncached(src, ascii)?;
    REGEX_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= REGEX_CACHE_MAX {
            c.clear();
        }
        c.insert(key, re.clone());
    });
    Ok(re)
}

/// awk's regex dialect as a POSIX ERE: awk reads backslash escapes everywhere, inside bracket
/// expressions too (`/[\[\]]/` is `[` or `]`, `[\t ]` a tab or a space), where POSIX keeps a
/// backslash literal. Each bracket expression is rebuilt with its members in POSIX-safe order.
fn awk_regex_to_posix(src: &str) -> String {
    fn escape(c: char) -> Option<char> {
        Some(match c {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            'f' => '\u{c}',
            'v' => '\u{b}',
            'a' => '\u{7}',
            'b' => '\u{8}',
            '/' => '/',
            '"' => '"',
            _ => return None,
        })
    }
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' if i + 1 < c.len() => {
                match escape(c[i + 1]) {
                    Some(e) => out.push(e),
                    // gawk's word boundary (`\b` is a backspace in awk).
                    None if c[i + 1] == 'y' => out.push_str("\\b"),
                    None => {
                        out.push('\\');
                        out.push(c[i + 1]);
                    }
                }
                i += 2;
            }
            '[' => {
                let mut j = i + 1;
                let negate = c.get(j) == Some(&'^');
                if negate {
                    j += 1;
                }
                // Members: single characters, ranges and `[:class:]` names.
                let mut chars: Vec<char> = Vec::new();
                let mut rest: Vec<String> = Vec::new();
                let mut first = true;
                let mut closed = false;
                while j < c.len() {
                    let ch = c[j];
                    if ch == ']' && !first {
                        closed = true;
                        j += 1;
                        break;
                    }
                    first = false;
                    if ch == '[' && matches!(c.get(j + 1), Some(':' | '.' | '=')) {
                        let kind = c[j + 1];
                        let end = (j + 2..c.len().saturating_sub(1))
                            .find(|&k| c[k] == kind && c[k + 1] == ']');
                        if let Some(end) = end {
                            rest.push(c[j..end + 2].iter().collect());
                            j = end + 2;
                            continue;
                        }
                    }
                    let (lo, next) = if ch == '\\' && j + 1 < c.len() {
                        (escape(c[j + 1]).unwrap_or(c[j + 1]), j + 2)
                    } else {
                        (ch, j + 1)
                    };
                    // A range `lo-hi` (a `-` before `]` is a literal).
                    if c.get(next) == Some(&'-') && next + 1 < c.len() && c[next + 1] != ']' {
                        let (hi, after) = if c[next + 1] == '\\' && next + 2 < c.len() {
                            (escape(c[next + 2]).unwrap_or(c[next + 2]), next + 3)
                        } else {
                            (c[next + 1], next + 2)
                        };
                        rest.push(format!("{lo}-{hi}"));
                        j = after;
                        continue;
                    }
                    chars.push(lo);
                    j = next;
                }
                if !closed {
                    // Unterminated: leave it to the translator's error.
                    out.extend(&c[i..]);
                    break;
                }
                out.push('[');
                if negate {
                    out.push('^');
                }
                if chars.contains(&']') {
                    out.push(']');
                }
                for m in &rest {
                    out.push_str(m);
                }
                for &ch in &chars {
                    if !matches!(ch, ']' | '-' | '^') {
                        out.push(ch);
                    }
                }
                if chars.contains(&'^') {
                    out.push('^');
                }
                if chars.contains(&'-') {
                    out.push('-');
                }
                out.push(']');
                i = j;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    out
}

/// Backslash escapes as in an awk string literal; an unknown escape keeps its backslash.
fn unescape_awk_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('/') => out.push('/'),
            Some('"') => out.push('"'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn compile_uncached(src: &str, ascii: bool) -> PR<Regex> {
    let mut t = posix_to_regex(&awk_regex_to_posix(src), true)?;
    if ascii {
        t = super::sed_script::ascii_classes(&t);
    }
    regex::RegexBuilder::new(&t)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| format!("invalid regex: {e}"))
}

#[derive(Debug, Clone)]
enum Val {
    Num(f64),
    Str(String),
    /// Input-derived: numeric if it looks like a number.
    StrNum(String),
}

fn looks_numeric(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok().filter(|_| {
        !t.eq_ignore_ascii_case("inf") && !t.eq_ignore_ascii_case("nan") && !t.contains(['x', 'X'])
    })
}

fn to_num_str(s: &str) -> f64 {
    let t = s.trim_start();
    let b = t.as_bytes();
    let mut end = 0;
    if end < b.len() && (b[end] == b'-' || b[end] == b'+') {
        end += 1;
    }
    while end < b.len() && b[end].is_ascii_digit() {
        end += 1;
    }
    if end < b.len() && b[end] == b'.' {
        end += 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
    }
    if end < b.len() && (b[end] == b'e' || b[end] == b'E') {
        let mut e = end + 1;
        if e < b.len() && (b[e] == b'-' || b[e] == b'+') {
            e += 1;
        }
        if e < b.len() && b[e].is_ascii_digit() {
            while e < b.len() && b[e].is_ascii_digit() {
                e += 1;
            }
            end = e;
        }
    }
    t[..end].parse().unwrap_or(0.0)
}

fn fmt_num(n: f64) -> String {
    if n.is_finite() && n == n.trunc() {
        // gawk prints every integral value in full (1e30 is 1000000000000000019884624838656),
        // never in OFMT's exponent form.
        return if n.abs() < 1e16 {
            format!("{}", n as i64)
        } else {
            format!("{n:.0}")
        };
    }
    if !n.is_finite() {
        return gawk_special(n);
    }
    fmt_g(n, 6)
}

/// gawk's spelling of infinities and NaN in output and in every numeric `printf` conversion.
fn gawk_special(n: f64) -> String {
    let sign = if n.is_sign_negative() { '-' } else { '+' };
    format!("{sign}{}", if n.is_nan() { "nan" } else { "inf" })
}

pub(crate) fn fmt_g(n: f64, prec: usize) -> String {
    if !n.is_finite() {
        return if n.is_nan() {
            "nan".to_owned()
        } else if n > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        };
    }
    if n == 0.0 {
        return "0".to_owned();
    }
    let p = prec.max(1);
    // C picks the style from the exponent of the value *after* rounding to P significant
    // digits (999999.5 at P=6 rounds to 1.00000e+06, so it prints `1e+06`), so round first.
    let sci = format!("{:.*e}", p - 1, n);
    let (m, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = e.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        let s = format!("{:.*}", decimals, n);
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    }
}

impl Val {
    fn num(&self) -> f64 {
        match self {
            Val::Num(n) => *n,
            Val::Str(s) | Val::StrNum(s) => to_num_str(s),
        }
    }
    fn str(&self) -> String {
        match self {
            Val::Num(n) => fmt_num(*n),
            Val::Str(s) | Val::StrNum(s) => s.clone(),
        }
    }
    fn truthy(&self) -> bool {
        match self {
            Val::Num(n) => *n != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::StrNum(s) => match looks_numeric(s) {
                Some(n) => n != 0.0,
                None => !s.is_empty(),
            },
        }
    }
}

enum Flow {
    Next,
    NextFile,
    Exit(i32),
    Break,
    Continue,
}

/// Files named by `print > f`, `print >> f` and `getline < f`, open until `close(f)` as in awk.
#[derive(Default)]
struct Streams {
    /// Output files and their pending bytes (written in steps of [`Streams::STEP`]).
    out: HashMap<String, Vec<u8>>,
    /// Input files: their bytes and the read position.
    inp: HashMap<String, (String, usize)>,
}

impl Streams {
    const STEP: usize = 64 * 1024;
    /// Open files at once: past this a program is refused rather than hold unbounded buffers.
    const MAX_OPEN: usize = 256;

    /// Bytes held: pending output and the text of files open for `getline`.
    fn pending(&self) -> u64 {
        self.out.values().map(|b| b.len() as u64).sum::<u64>()
            + self.inp.values().map(|(t, _)| t.len() as u64).sum::<u64>()
    }
}

/// The main input of the file being read: its text, where the next record starts, and `RS`.
struct MainInput {
    text: String,
    pos: usize,
    rs: String,
}

/// The next record of `text` from `*pos` under `rs` (`"\n"`, one character, or `""` for
/// paragraph mode), advancing `*pos`; `None` at the end.
/// Replaces the strings of `out` with `parts`, reusing the allocations it has.
fn refill<'a>(out: &mut Vec<String>, parts: impl Iterator<Item = &'a str>) {
    let mut n = 0;
    for p in parts {
        if let Some(slot) = out.get_mut(n) {
            slot.clear();
            slot.push_str(p);
        } else {
            out.push(p.to_owned());
        }
        n += 1;
    }
    out.truncate(n);
}

/// Whether a multi-character FS (a regular expression) has no regex syntax in it, so it
/// matches only itself and splits as a plain string (`-F': '`), without the regex engine.
fn is_literal(fs: &str) -> bool {
    !fs.contains([
        '\\', '.', '[', ']', '(', ')', '*', '+', '?', '{', '}', '|', '^', '$',
    ])
}

/// The character of a one-character FS other than `\\` (a literal separator, not a regex).
fn single_char(fs: &str) -> Option<char> {
    let mut it = fs.chars();
    match (it.next(), it.next()) {
        (Some(c), None) if c != '\\' => Some(c),
        _ => None,
    }
}

fn next_record<'t>(text: &'t str, pos: &mut usize, rs: &str) -> Option<&'t str> {
    if rs.is_empty() {
        // Paragraph mode: blank lines separate records; leading and trailing newlines go.
        let rest = &text[*pos..];
        let skip = rest.len() - rest.trim_start_matches('\n').len();
        *pos += skip;
        if *pos >= text.len() {
            return None;
        }
        let rest = &text[*pos..];
        return Some(match rest.find("\n\n") {
            Some(i) => {
                *pos += i;
                &rest[..i]
            }
            None => {
                *pos = text.len();
                rest.trim_end_matches('\n')
            }
        });
    }
    if *pos >= text.len() {
        return None;
    }
    let rest = &text[*pos..];
    // A one-character RS (nearly always "\n") is searched as a char, which is a memchr; a
    // string pattern runs the two-way substring search per record.
    let mut one = rs.chars();
    let found = match (one.next(), one.next()) {
        (Some(c), None) => rest.find(c),
        _ => rest.find(rs),
    };
    Some(match found {
        Some(i) => {
            *pos += i + rs.len();
            &rest[..i]
        }
        None => {
            *pos = text.len();
            rest
        }
    })
}

struct Awk<'c, 's, 'a> {
    /// The shell: files for redirections and `getline`, stderr.
    ctx: &'c mut Ctx<'s, 'a>,
    streams: Streams,
    main: Option<MainInput>,
    /// More input files follow the one being read.
    more_files: bool,
    /// Running BEGIN: a plain `getline` there would open the first input file.
    in_begin: bool,
    /// The status of the last `exit N`: an `exit` without one (in END) keeps it, as gawk does.
    exit_status: i32,
    /// Looked up several times per record (`NR`, `FNR`, `FS`, `OFS`...): a seeded fast hasher
    /// rather than SipHash; the keys are names from the program text.
    vars: HashMap<String, Val, foldhash::fast::RandomState>,
    arrays: HashMap<String, HashMap<String, Val>>,
    fields: Vec<String>,
    record: String,
    nf: usize,
    out: Vec<u8>,
    steps: u64,
    max_steps: u64,
    /// The exec's deadline: awk loops run inside one shell command, between the shell's checks.
    deadline: Instant,
    rng: random::GawkRandom,
    /// What `srand` returns next: the seed before it (gawk starts at 1).
    seed: i64,
    /// Bytes of variables, arrays, the record and its fields, kept up to date as they change.
    bytes: u64,
    /// Those bytes plus the pending output, charged to the exec's memory budget.
    held: Held,
    /// The C locale: `length` counts bytes.
    c_locale: bool,
}

impl Awk<'_, '_, '_> {
    /// Characters; in the C locale text is Latin-1 inside, so that is bytes.
    fn text_len(&self, s: &str) -> usize {
        s.chars().count()
    }
}

impl Awk<'_, '_, '_> {
    /// `print > name` / `>> name`: the first `>` of an open truncates, later ones append.
    fn write_stream(&mut self, name: &str, append: bool, bytes: Vec<u8>) -> ER<()> {
        match name {
            "/dev/stdout" | "-" => {
                self.out.extend_from_slice(&bytes);
                return self.account().map_err(Err);
            }
            "/dev/stderr" => {
                self.ctx.io.err(&bytes);
                return Ok(());
            }
            _ => {}
        }
        if !self.streams.out.contains_key(name) {
            if self.streams.out.len() >= Streams::MAX_OPEN {
                return err(format!(
                    "more than {} open output files is not supported in this sandbox",
                    Streams::MAX_OPEN
                ));
            }
            if !append {
                let path = self.ctx.path(name);
                if let Err(e) = self.ctx.sh.fs.write(&path, b"", false) {
                    return err(format!("cannot redirect to `{name}': {e}"));
                }
            }
            self.streams.out.insert(name.to_owned(), Vec::new());
        }
        let full = {
            let buf = self.streams.out.entry(name.to_owned()).or_default();
            buf.extend_from_slice(&bytes);
            buf.len() >= Streams::STEP
        };
        if full {
            self.flush_stream(name, false)?;
        }
        self.account().map_err(Err)
    }

    /// Writes what is pending for `name`; `close` also forgets the file (the next `>` truncates).
    fn flush_stream(&mut self, name: &str, close: bool) -> ER<()> {
        let pending = if close {
            self.streams.out.remove(name)
        } else {
            self.streams.out.get_mut(name).map(std::mem::take)
        };
        if let Some(bytes) = pending
            && !bytes.is_empty()
        {
            let path = self.ctx.path(name);
            if let Err(e) = self.ctx.sh.fs.write(&path, &bytes, true) {
                return err(format!("cannot redirect to `{name}': {e}"));
            }
        }
        Ok(())
    }

    /// Writes every open output file (at the end of the program).
    fn close_all(&mut self) -> ER<()> {
        let names: Vec<String> = self.streams.out.keys().cloned().collect();
        for n in names {
            self.flush_stream(&n, true)?;
        }
        Ok(())
    }

    /// `getline [var] [< file]`: 1 with a record, 0 at the end, -1 when the file cannot be read.
    fn getline(&mut self, var: Option<&Expr>, file: Option<&Expr>) -> ER<Val> {
        let rs = self
            .vars
            .get("RS")
            .map_or_else(|| "\n".to_owned(), Val::str);
        if rs.chars().count() > 1 {
            return err(format!(
                "getline with RS = \"{}\" is not supported in this sandbox",
                rs.escape_default()
            ));
        }
        let record = match file {
            Some(f) => {
                let name = self.eval(f)?.str();
                // What this program wrote there is on disk before it is read back.
                self.flush_stream(&name, false)?;
                if !self.streams.inp.contains_key(&name) {
                    let data = if name == "-" || name == "/dev/stdin" {
                        Ok(Arc::new(self.ctx.stdin.take_all().to_vec()))
                    } else {
                        self.ctx.read_operand(&name)
                    };
                    match data {
                        Ok(d) => {
                            let d = if self.c_locale {
                                to_latin1(&d)
                            } else {
                                String::from_utf8_lossy(&d).into_owned()
                            };
                            if self.streams.inp.len() >= Streams::MAX_OPEN {
                                return err(format!(
                                    "more than {} open input files is not supported in this sandbox",
                                    Streams::MAX_OPEN
                                ));
                            }
                            self.streams.inp.insert(name.clone(), (d, 0));
                            self.account().map_err(Err)?;
                        }
                        Err(_) => return Ok(Val::Num(-1.0)),
                    }
                }
                let Some((text, pos)) = self.streams.inp.get_mut(&name) else {
                    return Ok(Val::Num(-1.0));
                };
                let mut p = *pos;
                let rec = next_record(text, &mut p, &rs).map(str::to_owned);
                *pos = p;
                match rec {
                    Some(r) => r,
                    None => return Ok(Val::Num(0.0)),
                }
            }
            None => {
                let Some(m) = self.main.as_mut() else {
                    if self.in_begin {
                        return err(
                            "getline from the main input in BEGIN is not supported in this sandbox",
                        );
                    }
                    // In END: nothing left to read.
                    return Ok(Val::Num(0.0));
                };
                let mut p = m.pos;
                let rec = next_record(&m.text, &mut p, &m.rs).map(str::to_owned);
                m.pos = p;
                match rec {
                    Some(r) => {
                        let nr = self.get("NR").num() + 1.0;
                        let fnr = self.get("FNR").num() + 1.0;
                        self.vars.insert("NR".into(), Val::Num(nr));
                        self.vars.insert("FNR".into(), Val::Num(fnr));
                        r
                    }
                    None if self.more_files => {
                        return err(
                            "getline past the end of one input file into the next is not supported in this sandbox",
                        );
                    }
                    None => return Ok(Val::Num(0.0)),
                }
            }
        };
        match var {
            Some(v) => self.assign(v, Val::StrNum(record))?,
            None => self.set_record(&record).map_err(Err)?,
        }
        Ok(Val::Num(1.0))
    }
}

fn val_cost(v: &Val) -> u64 {
    match v {
        Val::Num(_) => 32,
        Val::Str(s) | Val::StrNum(s) => 8 + str_cost(s),
    }
}

type ER<T> = Result<T, Result<Flow, String>>;

fn err<T>(msg: impl Into<String>) -> ER<T> {
    Err(Err(msg.into()))
}

impl Awk<'_, '_, '_> {
    fn get(&self, name: &str) -> Val {
        match name {
            "NF" => Val::Num(self.nf as f64),
            _ => self
                .vars
                .get(name)
                .cloned()
                .unwrap_or(Val::StrNum(String::new())),
        }
    }

    fn fs(&self) -> String {
        self.vars
            .get("FS")
            .map(Val::str)
            .unwrap_or_else(|| " ".to_owned())
    }

    fn split_with(&self, s: &str, fs: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        self.split_into(s, fs, &mut out)?;
        Ok(out)
    }

    /// Splits `s` into `out`, reusing the strings `out` already holds: the record's fields are
    /// split anew for every record, and most records have as many fields as the last one.
    fn split_into(&self, s: &str, fs: &str, out: &mut Vec<String>) -> Result<(), String> {
        if s.is_empty() {
            out.clear();
            return Ok(());
        }
        // Count the fields before making them: a long string of separators is millions of
        // small strings.
        if fs.is_empty() {
            // gawk: an empty FS makes each character a field.
            self.fits(s.len() as u64 * (str_cost("") + 24))?;
            refill(out, s.char_indices().map(|(i, c)| &s[i..i + c.len_utf8()]));
            return Ok(());
        }
        let blank = |c: char| matches!(c, ' ' | '\t' | '\n');
        let count = if fs == " " {
            s.split(blank).filter(|f| !f.is_empty()).count()
        } else if let Some(c) = single_char(fs) {
            s.matches(c).count() + 1
        } else if is_literal(fs) {
            s.matches(fs).count() + 1
        } else {
            compile(fs)?.find_iter(s).count() + 1
        };
        self.fits(count as u64 * (str_cost("") + 24) + 2 * s.len() as u64)?;
        if fs == " " {
            refill(out, s.split(blank).filter(|f| !f.is_empty()));
        } else if let Some(c) = single_char(fs) {
            refill(out, s.split(c));
        } else if is_literal(fs) {
            refill(out, s.split(fs));
        } else {
            refill(out, compile(fs)?.split(s));
        }
        Ok(())
    }

    fn record_cost(&self) -> u64 {
        str_cost(&self.record) + strs_cost(&self.fields)
    }

    /// Charges the live bytes (plus pending output) to the exec's budget. Output past 64 KiB
    /// goes to stdout now (a loop in BEGIN never reaches the main loop's flush); once stdout is
    /// past its cap nothing more can be kept, so the program stops.
    fn account(&mut self) -> Result<(), String> {
        if self.out.len() > 1 << 16 {
            self.ctx.io.out(&std::mem::take(&mut self.out));
            if self.ctx.io.overflow {
                return Err("output size limit exceeded".to_owned());
            }
        }
        let total = self.bytes + self.out.len() as u64 + self.streams.pending();
        self.held.resize(total).map_err(|o| o.message("awk"))
    }

    /// Fails before making `n` more bytes past the budget.
    fn fits(&self, n: u64) -> Result<(), String> {
        self.held.meter().fits(n).map_err(|o| o.message("awk"))
    }

    fn set_record(&mut self, rec: &str) -> Result<(), String> {
        let old = self.record_cost();
        self.record.clear();
        self.record.push_str(rec);
        let fs = self.fs();
        let mut fields = std::mem::take(&mut self.fields);
        let split = self.split_into(rec, &fs, &mut fields);
        self.fields = fields;
        split?;
        self.nf = self.fields.len();
        self.bytes = self.bytes.saturating_sub(old) + self.record_cost();
        self.account()
    }

    fn rebuild(&mut self) -> Result<(), String> {
        let ofs = self
            .vars
            .get("OFS")
            .map(Val::str)
            .unwrap_or_else(|| " ".to_owned());
        let old = self.record_cost();
        if self.nf > self.fields.len() {
            // `NF = 100000000` makes that many empty fields and a record of separators.
            let more = (self.nf - self.fields.len()) as u64;
            self.fits(more * (str_cost("") + ofs.len() as u64))?;
        }
        self.fields.resize(self.nf, String::new());
        self.record = self.fields.join(&ofs);
        self.bytes = self.bytes.saturating_sub(old) + self.record_cost();
        self.account()
    }

    /// Sets a counter (`NR`, `FNR`) once per record, in place when the variable exists, so the
    /// main loop makes no new key per record.
    fn set_counter(&mut self, name: &str, n: f64) {
        if let Some(v) = self.vars.get_mut(name) {
            *v = Val::Num(n);
        } else {
            self.vars.insert(name.to_owned(), Val::Num(n));
        }
    }

    /// gawk fixes a name's kind at its first use: an array used as a scalar is fatal (exit 2).
    fn not_array(&self, name: &str) -> Result<(), String> {
        if self.arrays.contains_key(name) {
            return Err(format!(
                "fatal: attempt to use array `{name}' in a scalar context"
            ));
        }
        Ok(())
    }

    /// The other half of [`Self::not_array`]: a scalar (assigned, read, or a special variable)
    /// used as an array is fatal in gawk.
    fn as_array(&mut self, name: &str) -> Result<(), String> {
        if name == "NF" || self.vars.contains_key(name) {
            return Err(format!("fatal: attempt to use scalar `{name}' as an array"));
        }
        if !self.arrays.contains_key(name) {
            self.arrays.insert(name.to_owned(), HashMap::new());
        }
        Ok(())
    }

    /// Sets a scalar variable, keeping the byte count.
    fn set_var(&mut self, name: &str, v: Val) -> Result<(), String> {
        self.not_array(name)?;
        let new = val_cost(&v) + name.len() as u64;
        let old = self
            .vars
            .insert(name.to_owned(), v)
            .map_or(0, |o| val_cost(&o) + name.len() as u64);
        self.bytes = self.bytes.saturating_sub(old) + new;
        if new > old { self.account() } else { Ok(()) }
    }

    /// Sets an array element, keeping the byte count.
    fn set_elem(&mut self, arr: &str, k: String, v: Val) -> Result<(), String> {
        if arr == "NF" || self.vars.contains_key(arr) {
            return Err(format!("fatal: attempt to use scalar `{arr}' as an array"));
        }
        let new = val_cost(&v) + str_cost(&k);
        let klen = str_cost(&k);
        let old = self
            .arrays
            .entry(arr.to_owned())
            .or_default()
            .insert(k, v)
            .map_or(0, |o| val_cost(&o) + klen);
        self.bytes = self.bytes.saturating_sub(old) + new;
        if new > old { self.account() } else { Ok(()) }
    }

    fn array_cost(a: &HashMap<String, Val>) -> u64 {
        a.iter().map(|(k, v)| str_cost(k) + val_cost(v)).sum()
    }

    fn field(&self, i: usize) -> Val {
        if i == 0 {
            Val::StrNum(self.record.clone())
        } else {
            Val::StrNum(self.fields.get(i - 1).cloned().unwrap_or_default())
        }
    }

    fn set_field(&mut self, i: usize, v: String) -> ER<()> {
        if i > 100_000 {
            return err("field index too large");
        }
        if i == 0 {
            self.set_record(&v).map_err(Err)?;
            return Ok(());
        }
        if i > self.fields.len() {
            self.fields.resize(i, String::new());
        }
        self.fields[i - 1] = v;
        self.nf = self.nf.max(i);
        self.rebuild().map_err(Err)
    }

    fn key(&mut self, idx: &[Expr]) -> ER<String> {
        let subsep = self
            .vars
            .get("SUBSEP")
            .map(Val::str)
            .unwrap_or_else(|| "\x1c".to_owned());
        let mut parts = Vec::new();
        for e in idx {
            parts.push(self.eval(e)?.str());
        }
        Ok(parts.join(&subsep))
    }

    fn assign(&mut self, target: &Expr, v: Val) -> ER<()> {
        match target {
            Expr::Var(n) => {
                if n == "NF" {
                    let nf = v.num();
                    self.nf = if nf.is_finite() {
                        nf.max(0.0) as usize
                    } else {
                        0
                    };
                    self.rebuild().map_err(Err)?;
                } else {
                    self.set_var(n, v).map_err(Err)?;
                }
            }
            Expr::Index(n, idx) => {
                let k = self.key(idx)?;
                self.set_elem(n, k, v).map_err(Err)?;
            }
            Expr::Field(e) => {
                let i = self.eval(e)?.num().max(0.0) as usize;
                self.set_field(i, v.str())?;
            }
            _ => return err("assignment to a non-variable"),
        }
        Ok(())
    }

    fn tick(&mut self) -> ER<()> {
        self.steps += 1;
        if self.held.meter().tripped() {
            return err(self.held.meter().over().message("awk"));
        }
        if self.steps.is_multiple_of(1024) && Instant::now() >= self.deadline {
            return err("execution deadline exceeded");
        }
        if self.steps > self.max_steps {
            return err(format!(
                "too many steps (>{}), increase limits.max_loop_iterations",
                self.max_steps
            ));
        }
        Ok(())
    }

    fn regex_of(&mut self, e: &Expr) -> ER<Regex> {
        match e {
            Expr::Re(r) => Ok(r.clone()),
            other => {
                let s = self.eval(other)?.str();
                compile(&s).map_err(Err)
            }
        }
    }

    fn eval(&mut self, e: &Expr) -> ER<Val> {
        Ok(match e {
            Expr::Num(n) => Val::Num(*n),
            Expr::Str(s) => Val::Str(s.clone()),
            Expr::Re(r) => Val::Num(if r.is_match(&self.record) { 1.0 } else { 0.0 }),
            Expr::Var(n) => {
                // Reading a name in a scalar context makes it a scalar, as in gawk: a later
                // `n[k]` is then fatal.
                if n != "NF" && !self.vars.contains_key(n.as_str()) {
                    self.set_var(n, Val::StrNum(String::new())).map_err(Err)?;
                }
                self.get(n)
            }
            Expr::Group(e) => self.eval(e)?,
            Expr::Getline(var, file) => self.getline(var.as_deref(), file.as_deref())?,
            Expr::Field(e) => {
                let i = self.eval(e)?.num();
                if i < 0.0 {
                    return err(format!("trying to access out of range field {}", i as i64));
                }
                self.field(i as usize)
            }
            Expr::Index(n, idx) => {
                let k = self.key(idx)?;
                // Referencing an element creates it (as awk does).
                match self.arrays.get(n).and_then(|a| a.get(&k)) {
                    Some(v) => v.clone(),
                    None => {
                        self.set_elem(n, k, Val::StrNum(String::new()))
                            .map_err(Err)?;
                        Val::StrNum(String::new())
                    }
                }
            }
            Expr::In(idx, arr) => {
                self.as_array(arr).map_err(Err)?;
                let k = self.key(idx)?;
                Val::Num(
                    if self.arrays.get(arr).is_some_and(|a| a.contains_key(&k)) {
                        1.0
                    } else {
                        0.0
                    },
                )
            }
            Expr::Assign(t, op, rhs) => {
                let r = self.eval(rhs)?;
                let v = match op {
                    None => match r {
                        Val::StrNum(s) => Val::StrNum(s),
                        other => other,
                    },
                    Some(op) => {
                        let cur = self.eval(t)?.num();
                        Val::Num(arith(op, cur, r.num())?)
                    }
                };
                self.assign(t, v.clone())?;
                v
            }
            Expr::Incr(t, pre, d) => {
                let cur = self.eval(t)?.num();
                self.assign(t, Val::Num(cur + d))?;
                Val::Num(if *pre { cur + d } else { cur })
            }
            Expr::Unary(op, x) => {
                let v = self.eval(x)?;
                match *op {
                    "!" => Val::Num(if v.truthy() { 0.0 } else { 1.0 }),
                    "-" => Val::Num(-v.num()),
                    _ => Val::Num(v.num()),
                }
            }
            Expr::Bin(op, a, b) => {
                let x = self.eval(a)?;
                let y = self.eval(b)?;
                match *op {
                    "<" | "<=" | ">" | ">=" | "==" | "!=" => {
                        let numeric = |v: &Val| match v {
                            Val::Num(n) => Some(*n),
                            Val::StrNum(s) => looks_numeric(s),
                            Val::Str(_) => None,
                        };
                        let ord = match (numeric(&x), numeric(&y)) {
                            (Some(p), Some(q)) => p.partial_cmp(&q),
                            _ => Some(x.str().cmp(&y.str())),
                        };
                        let r = match (*op, ord) {
                            ("<", Some(o)) => o.is_lt(),
                            ("<=", Some(o)) => o.is_le(),
                            (">", Some(o)) => o.is_gt(),
                            (">=", Some(o)) => o.is_ge(),
                            ("==", Some(o)) => o.is_eq(),
                            ("!=", Some(o)) => o.is_ne(),
                            _ => false,
                        };
                        Val::Num(if r { 1.0 } else { 0.0 })
                    }
                    op => Val::Num(arith(op, x.num(), y.num())?),
                }
            }
            Expr::Match(neg, s, re) => {
                let s = self.eval(s)?.str();
                let re = self.regex_of(re)?;
                Val::Num(if re.is_match(&s) != *neg { 1.0 } else { 0.0 })
            }
            Expr::Concat(a, b) => {
                let mut s = self.eval(a)?.str();
                let b = self.eval(b)?.str();
                self.fits(2 * (s.len() + b.len()) as u64).map_err(Err)?;
                s.push_str(&b);
                if s.len() > 64 << 20 {
                    return err("string too long");
                }
                Val::Str(s)
            }
            Expr::Cond(c, a, b) => {
                if self.eval(c)?.truthy() {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
            Expr::And(a, b) => Val::Num(if self.eval(a)?.truthy() && self.eval(b)?.truthy() {
                1.0
            } else {
                0.0
            }),
            Expr::Or(a, b) => Val::Num(if self.eval(a)?.truthy() || self.eval(b)?.truthy() {
                1.0
            } else {
                0.0
            }),
            Expr::Call(name, args) => self.call(name, args)?,
        })
    }

    fn call(&mut self, name: &str, args: &[Expr]) -> ER<Val> {
        let arg = |s: &mut Self, i: usize| -> ER<Val> {
            match args.get(i) {
                Some(e) => s.eval(e),
                None => Ok(Val::StrNum(String::new())),
            }
        };
        Ok(match name {
            // Under the C locale a character is a byte.
            "length" => match args.first() {
                None => Val::Num(self.text_len(&self.record) as f64),
                Some(Expr::Var(n)) if self.arrays.contains_key(n) => {
                    Val::Num(self.arrays[n].len() as f64)
                }
                Some(_) => {
                    let s = arg(self, 0)?.str();
                    Val::Num(self.text_len(&s) as f64)
                }
            },
            "substr" => {
                let s: Vec<char> = arg(self, 0)?.str().chars().collect();
                // gawk 5.2 truncates both numbers, and a start before 1 moves to 1 without
                // shortening the length: substr("hello", -1, 3) is "hel", substr(s, 1.5, 2.3) "he".
                let m = arg(self, 1)?.num().trunc();
                let n = if args.len() > 2 {
                    arg(self, 2)?.num().trunc()
                } else {
                    f64::INFINITY
                };
                let start = m.max(1.0);
                let end = (start + n).min(s.len() as f64 + 1.0);
                if end <= start {
                    Val::Str(String::new())
                } else {
                    Val::Str(s[(start as usize - 1)..(end as usize - 1)].iter().collect())
                }
            }
            "index" => {
                let s = arg(self, 0)?.str();
                let t = arg(self, 1)?.str();
                Val::Num(s.find(&t).map(|b| self.text_len(&s[..b]) + 1).unwrap_or(0) as f64)
            }
            "split" => {
                let s = arg(self, 0)?.str();
                let Some(Expr::Var(arr)) = args.get(1) else {
                    return err("split: second argument must be an array");
                };
                if args.len() > 3 {
                    // gawk's fourth argument receives the separators; left empty it would be
                    // silently wrong.
                    return err(
                        "split() with a separators array (gawk's fourth argument) is not supported in this sandbox",
                    );
                }
                let fs = if args.len() > 2 {
                    match &args[2] {
                        // The regex / / is one blank, not the string " " (default splitting).
                        Expr::Re(r) if r.as_str() == " " => "[ ]".to_owned(),
                        Expr::Re(r) => r.as_str().to_owned(),
                        e => self.eval(e)?.str(),
                    }
                } else {
                    self.fs()
                };
                self.as_array(arr).map_err(Err)?;
                let parts = self.split_with(&s, &fs).map_err(Err)?;
                if let Some(old) = self.arrays.insert(arr.clone(), HashMap::new()) {
                    self.bytes = self.bytes.saturating_sub(Self::array_cost(&old));
                }
                self.fits(strs_cost(&parts) * 3).map_err(Err)?;
                for (i, p) in parts.iter().enumerate() {
                    self.set_elem(arr, (i + 1).to_string(), Val::StrNum(p.clone()))
                        .map_err(Err)?;
                }
                Val::Num(parts.len() as f64)
            }
            "sub" | "gsub" => {
                let re = match args.first() {
                    Some(e) => self.regex_of(e)?,
                    None => return err(format!("{name}: missing arguments")),
                };
                let rep = arg(self, 1)?.str();
                let target = args
                    .get(2)
                    .cloned()
                    .unwrap_or(Expr::Field(Box::new(Expr::Num(0.0))));
                let s = self.eval(&target)?.str();
                let mut count = 0;
                let mut out = String::new();
                let mut last = 0;
                for m in re.find_iter(&s) {
                    if name == "sub" && count == 1 {
                        break;
                    }
                    count += 1;
                    out.push_str(&s[last..m.start()]);
                    let mut chars = rep.chars().peekable();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' if matches!(chars.peek(), Some('&')) => {
                                out.push('&');
                                chars.next();
                            }
                            '&' => out.push_str(m.as_str()),
                            o => out.push(o),
                        }
                    }
                    last = m.end();
                }
                if count > 0 {
                    out.push_str(&s[last..]);
                    self.assign(&target, Val::Str(out))?;
                }
                Val::Num(count as f64)
            }
            "match" => {
                let s = arg(self, 0)?.str();
                let re = match args.get(1) {
                    Some(e) => self.regex_of(e)?,
                    None => return err("match: missing regex"),
                };
                if let Some(target) = args.get(2) {
                    self.match_captures(target, &re, &s)?;
                }
                let (start, len) = match re.find(&s) {
                    Some(m) => (
                        self.text_len(&s[..m.start()]) as f64 + 1.0,
                        self.text_len(m.as_str()) as f64,
                    ),
                    None => (0.0, -1.0),
                };
                self.vars.insert("RSTART".into(), Val::Num(start));
                self.vars.insert("RLENGTH".into(), Val::Num(len));
                Val::Num(start)
            }
            // The C locale maps ASCII letters only (`tolower("À")` is unchanged).
            "tolower" if self.c_locale => Val::Str(arg(self, 0)?.str().to_ascii_lowercase()),
            "toupper" if self.c_locale => Val::Str(arg(self, 0)?.str().to_ascii_uppercase()),
            "tolower" => Val::Str(arg(self, 0)?.str().to_lowercase()),
            "toupper" => Val::Str(arg(self, 0)?.str().to_uppercase()),
            "sprintf" => {
                let mut vals = Vec::new();
                for a in args {
                    vals.push(self.eval(a)?);
                }
                match vals.split_first() {
                    Some((f, rest)) => {
                        Val::Str(sprintf(&f.str(), rest, self.c_locale).map_err(Err)?)
                    }
                    None => return err("sprintf: no arguments"),
                }
            }
            "int" => Val::Num(arg(self, 0)?.num().trunc()),
            "sqrt" | "exp" | "log" => {
                let x = arg(self, 0)?.num();
                let y = match name {
                    "sqrt" => x.sqrt(),
                    "exp" => x.exp(),
                    _ => x.ln(),
                };
                // gawk warns (stderr) where libm sets EDOM/ERANGE; the result is still printed.
                let why = match name {
                    "exp" if y.is_infinite() || (y == 0.0 && x.is_finite()) => "is out of range",
                    "sqrt" | "log" if x < 0.0 => "received negative argument",
                    _ => "",
                };
                if !why.is_empty() {
                    let x = Val::Num(x).str();
                    let msg = if name == "exp" {
                        format!("warning: exp: argument {x} {why}")
                    } else {
                        format!("warning: {name}: {why} {x}")
                    };
                    self.ctx.warn("awk", msg);
                }
                Val::Num(y)
            }
            "sin" => Val::Num(arg(self, 0)?.num().sin()),
            "cos" => Val::Num(arg(self, 0)?.num().cos()),
            "atan2" => Val::Num(arg(self, 0)?.num().atan2(arg(self, 1)?.num())),
            "rand" => Val::Num(self.rng.next()),
            "srand" => {
                let was = self.seed;
                self.seed = if args.is_empty() {
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
                } else {
                    // C's `(long)` of the number, then `(unsigned int)` for the generator.
                    arg(self, 0)?.num() as i64
                };
                self.rng.seed(self.seed as u32);
                Val::Num(was as f64)
            }
            "close" => {
                let name = arg(self, 0)?.str();
                let was_open =
                    self.streams.inp.remove(&name).is_some() | self.streams.out.contains_key(&name);
                self.flush_stream(&name, true)?;
                Val::Num(if was_open { 0.0 } else { -1.0 })
            }
            "fflush" => Val::Num(0.0),
            // `system("")` only flushes output (gawk's idiom); commands never run here.
            "system" if args.len() == 1 => {
                let cmd = arg(self, 0)?.str();
                if !cmd.is_empty() {
                    return err("system() running a command is not supported in this sandbox");
                }
                Val::Num(0.0)
            }
            other => return err(format!("{other}() is not supported in this sandbox")),
        })
    }

    fn exec(&mut self, s: &Stmt) -> ER<()> {
        self.tick()?;
        match s {
            Stmt::Redirect(inner, append, target) => {
                let name = self.eval(target)?.str();
                // The statement prints into `out` as usual; its bytes are then moved.
                let mark = self.out.len();
                self.exec(inner)?;
                let bytes = self.out.split_off(mark);
                self.write_stream(&name, *append, bytes)?;
            }
            Stmt::Print(args) => {
                let ofs = self
                    .vars
                    .get("OFS")
                    .map(Val::str)
                    .unwrap_or_else(|| " ".to_owned());
                let ors = self
                    .vars
                    .get("ORS")
                    .map(Val::str)
                    .unwrap_or_else(|| "\n".to_owned());
                let mut line = String::new();
                if args.is_empty() {
                    line.push_str(&self.record);
                } else {
                    for (i, a) in args.iter().enumerate() {
                        if i > 0 {
                            line.push_str(&ofs);
                        }
                        let v = self.eval(a)?;
                        line.push_str(&match v {
                            Val::Num(n) if n != n.trunc() => {
                                let ofmt = self
                                    .vars
                                    .get("OFMT")
                                    .map(Val::str)
                                    .unwrap_or_else(|| "%.6g".to_owned());
                                sprintf(&ofmt, &[Val::Num(n)], false).unwrap_or_default()
                            }
                            other => other.str(),
                        });
                    }
                }
                line.push_str(&ors);
                if self.c_locale {
                    self.out.extend(latin1_bytes(&line));
                } else {
                    self.out.extend_from_slice(line.as_bytes());
                }
                self.account().map_err(Err)?;
            }
            Stmt::Printf(args) => {
                let mut vals = Vec::new();
                for a in args {
                    vals.push(self.eval(a)?);
                }
                if let Some((f, rest)) = vals.split_first() {
                    let s = sprintf(&f.str(), rest, self.c_locale).map_err(Err)?;
                    if self.c_locale {
                        self.out.extend(latin1_bytes(&s));
                    } else {
                        self.out.extend_from_slice(s.as_bytes());
                    }
                    self.account().map_err(Err)?;
                }
            }
            Stmt::Expr(e) => {
                self.eval(e)?;
            }
            Stmt::If(c, a, b) => {
                if self.eval(c)?.truthy() {
                    self.exec(a)?;
                } else if let Some(b) = b {
                    self.exec(b)?;
                }
            }
            Stmt::While(c, body) => {
                while self.eval(c)?.truthy() {
                    self.tick()?;
                    match self.exec(body) {
                        Err(Ok(Flow::Break)) => break,
                        Err(Ok(Flow::Continue)) => continue,
                        other => other?,
                    }
                }
            }
            Stmt::Do(body, c) => loop {
                self.tick()?;
                match self.exec(body) {
                    Err(Ok(Flow::Break)) => break,
                    Err(Ok(Flow::Continue)) => {}
                    other => other?,
                }
                if !self.eval(c)?.truthy() {
                    break;
                }
            },
            Stmt::For(init, cond, step, body) => {
                if let Some(i) = init {
                    self.exec(i)?;
                }
                loop {
                    self.tick()?;
                    if let Some(c) = cond
                        && !self.eval(c)?.truthy()
                    {
                        break;
                    }
                    match self.exec(body) {
                        Err(Ok(Flow::Break)) => break,
                        Err(Ok(Flow::Continue)) => {}
                        other => other?,
                    }
                    if let Some(s) = step {
                        self.exec(s)?;
                    }
                }
            }
            Stmt::ForIn(var, arr, body) => {
                self.as_array(arr).map_err(Err)?;
                let mut keys: Vec<String> = self
                    .arrays
                    .get(arr)
                    .map(|a| a.keys().cloned().collect())
                    .unwrap_or_default();
                // Deterministic order (awk leaves it unspecified): numeric keys numerically, then the rest.
                keys.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                    (Ok(_), Err(_)) => std::cmp::Ordering::Less,
                    (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
                    _ => a.cmp(b),
                });
                for k in keys {
                    self.set_var(var, Val::StrNum(k)).map_err(Err)?;
                    match self.exec(body) {
                        Err(Ok(Flow::Break)) => break,
                        Err(Ok(Flow::Continue)) => {}
                        other => other?,
                    }
                }
            }
            Stmt::Block(v) => {
                for s in v {
                    self.exec(s)?;
                }
            }
            Stmt::Next => return Err(Ok(Flow::Next)),
            Stmt::NextFile => return Err(Ok(Flow::NextFile)),
            Stmt::Exit(e) => {
                let code = match e {
                    Some(e) => self.eval(e)?.num() as i32,
                    None => self.exit_status,
                };
                self.exit_status = code;
                return Err(Ok(Flow::Exit(code)));
            }
            Stmt::Break => return Err(Ok(Flow::Break)),
            Stmt::Continue => return Err(Ok(Flow::Continue)),
            Stmt::Delete(arr, idx) => match idx {
                _ if self.vars.contains_key(arr.as_str()) || arr == "NF" => {
                    return err(format!("fatal: attempt to use scalar `{arr}' as an array"));
                }
                Some(idx) => {
                    let k = self.key(idx)?;
                    if let Some(v) = self.arrays.get_mut(arr).and_then(|a| a.remove(&k)) {
                        self.bytes = self.bytes.saturating_sub(val_cost(&v) + str_cost(&k));
                    }
                }
                None => {
                    // The name stays an array, empty.
                    if let Some(old) = self.arrays.insert(arr.clone(), HashMap::new()) {
                        self.bytes = self.bytes.saturating_sub(Self::array_cost(&old));
                    }
                }
            },
        }
        Ok(())
    }
}

fn arith(op: &str, x: f64, y: f64) -> ER<f64> {
    Ok(match op {
        "+" => x + y,
        "-" => x - y,
        "*" => x * y,
        "/" => {
            if y == 0.0 {
                return err("division by zero");
            }
            x / y
        }
        "%" => {
            if y == 0.0 {
                return err("division by zero in %");
            }
            x % y
        }
        "^" => x.powf(y),
        _ => 0.0,
    })
}

/// awk's `printf`/`sprintf` formatting.
/// Widest field or precision `printf` honours; larger ones are clamped (Rust's formatter
/// rejects precisions above `u16::MAX`, and a huge width would be allocated in full).
const MAX_FIELD: usize = 10_000;

/// gawk's `sprintf`: `Err` when the arguments run out, which gawk makes a fatal error (exit 2)
/// rather than formatting the missing ones as empty.
/// C's printf as gawk has it; `latin1`: the C locale, where text is Latin-1 inside and `%c` of a
/// number is the byte of its low 8 bits.
const TWO_63: f64 = (1u64 << 63) as f64;

/// The value C's unsigned conversions see, as gawk hands it over: a negative number wraps
/// (`%u` of -1 is 2^64-1); none past 64 bits.
fn as_uintmax(n: f64) -> Option<u64> {
    let n = n.trunc();
    if (-TWO_63..0.0).contains(&n) {
        Some((n as i64) as u64)
    } else if (0.0..2.0 * TWO_63).contains(&n) {
        Some(n as u64)
    } else {
        None
    }
}

fn sprintf(fmt: &str, args: &[Val], latin1: bool) -> Result<String, String> {
    let c: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut ai = 0;
    let ran_out = std::cell::Cell::new(false);
    let next = |ai: &mut usize| -> Val {
        let v = args.get(*ai).cloned().unwrap_or_else(|| {
            ran_out.set(true);
            Val::StrNum(String::new())
        });
        *ai += 1;
        v
    };
    while i < c.len() {
        if c[i] == '\\' && i + 1 < c.len() {
            // Escapes were handled by the lexer for string literals; keep others.
            out.push(c[i]);
            i += 1;
            continue;
        }
        if c[i] != '%' {
            out.push(c[i]);
            i += 1;
            continue;
        }
        if c.get(i + 1) == Some(&'%') {
            out.push('%');
            i += 2;
            continue;
        }
        let start = i;
        i += 1;
        let mut flags = String::new();
        while i < c.len() && "-+ #0".contains(c[i]) {
            flags.push(c[i]);
            i += 1;
        }
        let mut width = String::new();
        if c.get(i) == Some(&'*') {
            width = fmt_num(next(&mut ai).num());
            i += 1;
        }
        while i < c.len() && c[i].is_ascii_digit() {
            width.push(c[i]);
            i += 1;
        }
        let mut prec: Option<usize> = None;
        if c.get(i) == Some(&'.') {
            i += 1;
            let mut p = String::new();
            if c.get(i) == Some(&'*') {
                p = fmt_num(next(&mut ai).num());
                i += 1;
            }
            while i < c.len() && c[i].is_ascii_digit() {
                p.push(c[i]);
                i += 1;
            }
            prec = Some(p.parse::<usize>().unwrap_or(0).min(MAX_FIELD));
        }
        // gawk skips one length modifier (`%ld`, `%Lf`); with two (`%lld`) it prints the
        // directive as text and uses no argument.
        let mut modifiers = 0;
        while c.get(i).is_some_and(|m| "hlLjz".contains(*m)) {
            modifiers += 1;
            i += 1;
        }
        let Some(&conv) = c.get(i) else {
            out.push('%');
            break;
        };
        i += 1;
        if modifiers > 1 {
            out.push_str(&c[start..i].iter().collect::<String>());
            continue;
        }
        if conv == '%' {
            // gawk prints `%5%` as a bare `%`: the width and flags do not apply, no argument
            // is used.
            out.push('%');
            continue;
        }
        let v = next(&mut ai);
        if ran_out.get() {
            return Err("fatal: not enough arguments to satisfy format string".to_owned());
        }
        // C's sign flags: `+` wins over ` ` for every signed conversion.
        let sign = if flags.contains('+') {
            Some('+')
        } else if flags.contains(' ') {
            Some(' ')
        } else {
            None
        };
        let signed = |s: String, n: f64| match sign {
            Some(c) if n >= 0.0 || (n == 0.0 && !n.is_sign_negative()) => format!("{c}{s}"),
            _ => s,
        };
        let alt = flags.contains('#');
        let finite = v.num().is_finite();
        let mut s = match conv {
            'd' | 'i' | 'o' | 'x' | 'X' | 'u' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G'
                if !v.num().is_finite() =>
            {
                gawk_special(v.num())
            }
            // Past 64 bits gawk prints the double's whole value (%d) or falls back to %g.
            'd' | 'i' if v.num().trunc().abs() >= TWO_63 => {
                signed(format!("{:.0}", v.num().trunc()), v.num())
            }
            'd' | 'i' => c_decimal(v.num().trunc() as i64, prec, sign),
            'o' | 'x' | 'X' | 'u' if as_uintmax(v.num()).is_none() => {
                if conv == 'u' {
                    format!("{:.0}", v.num().trunc())
                } else {
                    fmt_g(v.num(), 6)
                }
            }
            'o' => {
                let d = format!("{:o}", as_uintmax(v.num()).unwrap_or(0));
                let d = format::unsigned_precision(d, prec);
                if alt && !d.starts_with('0') {
                    format!("0{d}")
                } else {
                    d
                }
            }
            'x' | 'X' => {
                let n = as_uintmax(v.num()).unwrap_or(0);
                let d = if conv == 'x' {
                    format!("{n:x}")
                } else {
                    format!("{n:X}")
                };
                let d = format::unsigned_precision(d, prec);
                match (alt && n != 0, conv) {
                    (true, 'x') => format!("0x{d}"),
                    (true, _) => format!("0X{d}"),
                    _ => d,
                }
            }
            'u' => format::unsigned_precision(as_uintmax(v.num()).unwrap_or(0).to_string(), prec),
            'c' => match v {
                Val::Num(n) if latin1 => char::from((n as i64 & 0xff) as u8).to_string(),
                Val::Num(n) => char::from_u32(n as u32)
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
                other => other
                    .str()
                    .chars()
                    .next()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            },
            's' => {
                let s = v.str();
                match prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'f' | 'F' | 'e' | 'E' if alt => {
                let p = prec.unwrap_or(6);
                let t = if matches!(conv, 'f' | 'F') {
                    format!("{:.p$}", v.num())
                } else {
                    c_exponent(v.num(), p, conv == 'E')
                };
                signed(format::force_point(t), v.num())
            }
            'g' | 'G' if alt => {
                let t = format::fmt_g_alt(v.num(), prec.unwrap_or(6));
                let t = if conv == 'G' { t.to_uppercase() } else { t };
                signed(t, v.num())
            }
            'f' | 'F' => signed(format!("{:.*}", prec.unwrap_or(6), v.num()), v.num()),
            'e' | 'E' => signed(c_exponent(v.num(), prec.unwrap_or(6), conv == 'E'), v.num()),
            'g' => signed(fmt_g(v.num(), prec.unwrap_or(6)), v.num()),
            'G' => signed(fmt_g(v.num(), prec.unwrap_or(6)).to_uppercase(), v.num()),
            other => {
                out.push('%');
                out.push(other);
                continue;
            }
        };
        let w: usize = width.parse::<usize>().unwrap_or(0).min(MAX_FIELD);
        let len = s.chars().count();
        if len < w {
            let pad = w - len;
            if flags.contains('-') {
                s.push_str(&" ".repeat(pad));
            } else if flags.contains('0')
                && !matches!(conv, 's' | 'c')
                // C drops `0` for an integer conversion with a precision, and for inf/nan.
                && !(prec.is_some() && matches!(conv, 'd' | 'i' | 'o' | 'x' | 'X' | 'u'))
                && finite
            {
                // After the sign (`-`, `+` or ` `) and a `0x`.
                s = super::zero_fill(&s, s.len() + pad);
            } else {
                s = format!("{}{s}", " ".repeat(pad));
            }
        }
        out.push_str(&s);
    }
    Ok(out)
}

pub(super) fn awk(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    const SPEC: Spec = Spec::new(
        "awk",
        "F:v:",
        &[
            ("field-separator", 'F', Arg::Required),
            ("assign", 'v', Arg::Required),
        ],
    )
    .status(2)
    .posix();
    let (flags, mut files) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut fs: Option<String> = None;
    let mut assigns = Vec::new();
    for (c, v) in flags {
        match c {
            'F' => fs = v,
            _ => assigns.extend(v),
        }
    }
    let program = (!files.is_empty()).then(|| files.remove(0));
    let Some(src) = program else {
        ctx.io
            .errln("usage: awk [-F fs][-v var=value][prog | -f progfile][file ...]");
        // gawk 5.2 prints its usage and exits 1 when there is no program.
        return Ok(1);
    };
    // The C locale reads bytes: the program, its input and its variables become Latin-1 text
    // (one character per byte), so `.`, `length` and `substr` count bytes; output turns back.
    let c_locale = super::grep::c_locale(ctx);
    LATIN1.with(|l| l.set(c_locale));
    let latin1 = |s: String| {
        if c_locale { to_latin1(s.as_bytes()) } else { s }
    };
    let src = latin1(src);
    let fs = fs.map(latin1);
    let assigns: Vec<String> = assigns.into_iter().map(latin1).collect();
    let files: Vec<String> = files
        .into_iter()
        .map(|f| {
            if assignment(&f).is_some() {
                latin1(f)
            } else {
                f
            }
        })
        .collect();
    let toks = match lex(&src) {
        Ok(t) => t,
        Err(e) => {
            // gawk exits 1 on a syntax error; what the sandbox lacks is refused with 2.
            let refused = e.contains("not supported");
            ctx.warn("awk", e);
            return Ok(if refused { 2 } else { 1 });
        }
    };
    let mut p = P {
        t: toks,
        i: 0,
        no_in: false,
        no_gt: false,
    };
    let items = match p.program() {
        Ok(it) => it,
        Err(e) => {
            // gawk exits 1 on a syntax error; what the sandbox lacks is refused with 2.
            let refused = e.contains("not supported");
            ctx.warn("awk", e);
            return Ok(if refused { 2 } else { 1 });
        }
    };
    let max_steps = ctx.sh.limits.max_loop_iterations.saturating_mul(100);
    let deadline = ctx.sh.deadline();
    let held = match ctx.sh.meter.hold(0) {
        Ok(h) => h,
        Err(o) => return crate::interp::over_budget(o),
    };
    let mut awk = Awk {
        ctx,
        streams: Streams::default(),
        main: None,
        more_files: false,
        in_begin: false,
        exit_status: 0,
        vars: HashMap::default(),
        arrays: HashMap::new(),
        fields: Vec::new(),
        record: String::new(),
        nf: 0,
        out: Vec::new(),
        steps: 0,
        max_steps,
        deadline,
        rng: random::GawkRandom::new(),
        seed: 1,
        bytes: 0,
        held,
        c_locale,
    };
    // `-F` is read as a string literal would be (`-F '\\|'` is the regex `\|`); `t` is a tab.
    let fs_val = fs.map(|f| {
        if f == "t" {
            "\t".to_owned()
        } else {
            unescape_awk_string(&f)
        }
    });
    awk.vars.insert(
        "FS".into(),
        Val::Str(fs_val.unwrap_or_else(|| " ".to_owned())),
    );
    awk.vars.insert("OFS".into(), Val::Str(" ".into()));
    awk.vars.insert("ORS".into(), Val::Str("\n".into()));
    awk.vars.insert("SUBSEP".into(), Val::Str("\x1c".into()));
    awk.vars.insert("NR".into(), Val::Num(0.0));
    for a in &assigns {
        if let Some((k, v)) = a.split_once('=') {
            awk.vars
                .insert(k.to_owned(), Val::StrNum(crate::commands::unescape_ansi(v)));
        }
    }
    let mut exit_code: Option<i32> = None;
    let mut fatal: Option<String> = None;
    let run_items = |awk: &mut Awk,
                     begin: bool,
                     end: bool,
                     exit_code: &mut Option<i32>,
                     fatal: &mut Option<String>|
     -> bool {
        for (pat, action) in &items {
            let applies = match pat {
                Pattern::Begin => begin,
                Pattern::End => end,
                _ => false,
            };
            if !applies {
                continue;
            }
            if let Some(stmts) = action {
                for s in stmts {
                    match awk.exec(s) {
                        Ok(()) => {}
                        Err(Ok(Flow::Exit(c))) => {
                            *exit_code = Some(c);
                            return false;
                        }
                        Err(Ok(_)) => break,
                        Err(Err(e)) => {
                            *fatal = Some(e);
                            return false;
                        }
                    }
                }
            }
        }
        true
    };
    let has_main = items
        .iter()
        .any(|(p, _)| !matches!(p, Pattern::Begin | Pattern::End));
    let has_end = items.iter().any(|(p, _)| matches!(p, Pattern::End));
    let st = 0;
    awk.in_begin = true;
    let begin_done = run_items(&mut awk, true, false, &mut exit_code, &mut fatal);
    awk.in_begin = false;
    if !begin_done && fatal.is_none() && exit_code.is_some() && has_end {
        // `exit` in BEGIN skips the input but still runs END (POSIX, gawk); a later `exit`
        // without a status keeps the first one.
        let saved_exit = exit_code;
        exit_code = None;
        run_items(&mut awk, false, true, &mut exit_code, &mut fatal);
        if exit_code.is_none() {
            exit_code = saved_exit;
        }
    }
    if begin_done && (has_main || has_end) {
        // Operands that are all `var=value` assignments leave stdin as the input, read after them.
        let only_assigns = !files.is_empty() && files.iter().all(|f| assignment(f).is_some());
        let mut inputs = or_stdin(files);
        if only_assigns {
            inputs.push("-".to_owned());
        }
        let mut lines_read = 0u64;
        let mut range_on = vec![false; items.len()];
        // A pattern without an action prints the record.
        let print_record = [Stmt::Print(Vec::new())];
        'files: for (fi, f) in inputs.iter().enumerate() {
            if let Some((k, v)) = assignment(f) {
                // Escapes are processed as in `-v` (`OFS='\t'` is a tab).
                awk.vars
                    .insert(k.to_owned(), Val::StrNum(crate::commands::unescape_ansi(v)));
                continue;
            }
            let data = match awk.ctx.read_operand(f) {
                Ok(d) => d,
                Err(crate::vfs::FsError::IsDir) => {
                    awk.ctx.warn(
                        "awk",
                        format!("warning: command line argument `{f}' is a directory: skipped"),
                    );
                    continue;
                }
                Err(e) => {
                    // gawk stops at an input file it cannot open: no later file, no END.
                    fatal = Some(format!("fatal: cannot open file `{f}' for reading: {e}"));
                    break 'files;
                }
            };
            awk.vars.insert(
                "FILENAME".into(),
                // Standard input is `-` to gawk, named or not.
                Val::Str(if awk.c_locale {
                    to_latin1(f.as_bytes())
                } else {
                    f.clone()
                }),
            );
            let text = if awk.c_locale {
                to_latin1(&data)
            } else {
                String::from_utf8_lossy(&data).into_owned()
            };
            let rs = awk.vars.get("RS").map_or_else(|| "\n".to_owned(), Val::str);
            let paragraphs = rs.is_empty() && awk.fs() == " ";
            if !(paragraphs || rs.chars().count() == 1) {
                awk.ctx.warn(
                    "awk",
                    format!(
                        "RS = \"{}\" (a regular expression, or paragraph mode with another FS) is not supported in this sandbox",
                        rs.escape_default()
                    ),
                );
                return Ok(2);
            }
            awk.vars.insert("FNR".into(), Val::Num(0.0));
            awk.more_files = fi + 1 < inputs.len();
            awk.main = Some(MainInput { text, pos: 0, rs });
            // `getline` reads on from the same place. The input is taken out while the
            // record is set, so the record is copied once, from the text, into `$0`.
            while let Some(mut m) = awk.main.take() {
                let mut p = m.pos;
                let Some(found) = next_record(&m.text, &mut p, &m.rs) else {
                    awk.main = Some(m);
                    break;
                };
                // `next_record` always answers a slice of the text it was given.
                let at = found.as_ptr() as usize - m.text.as_ptr() as usize;
                let range = at..at + found.len();
                m.pos = p;
                // NR may have been assigned or advanced by `getline`: count on from it.
                let nr = awk.get("NR").num() + 1.0;
                let fnr = awk.get("FNR").num() + 1.0;
                lines_read += 1;
                if lines_read.is_multiple_of(256) {
                    awk.ctx.sh.tick()?;
                }
                awk.set_counter("NR", nr);
                awk.set_counter("FNR", fnr);
                let set = awk.set_record(&m.text[range]);
                awk.main = Some(m);
                if let Err(e) = set {
                    fatal = Some(e);
                    break 'files;
                }
                for (k, (pat, action)) in items.iter().enumerate() {
                    let matched = match pat {
                        Pattern::Begin | Pattern::End => continue,
                        Pattern::All => Ok(true),
                        Pattern::Expr(e) => awk.eval(e).map(|v| v.truthy()),
                        Pattern::Range(a, b) => {
                            if range_on[k] {
                                awk.eval(b).map(|v| {
                                    if v.truthy() {
                                        range_on[k] = false;
                                    }
                                    true
                                })
                            } else {
                                match awk.eval(a) {
                                    Ok(v) if v.truthy() => awk.eval(b).map(|end| {
                                        range_on[k] = !end.truthy();
                                        true
                                    }),
                                    Ok(_) => Ok(false),
                                    Err(e) => Err(e),
                                }
                            }
                        }
                    };
                    let matched = match matched {
                        Ok(m) => m,
                        Err(Err(e)) => {
                            fatal = Some(e);
                            break 'files;
                        }
                        Err(Ok(_)) => false,
                    };
                    if !matched {
                        continue;
                    }
                    let stmts: &[Stmt] = match action {
                        Some(s) => s,
                        None => &print_record,
                    };
                    let mut next_record = false;
                    for s in stmts {
                        match awk.exec(s) {
                            Ok(()) => {}
                            Err(Ok(Flow::Next)) => {
                                next_record = true;
                                break;
                            }
                            Err(Ok(Flow::NextFile)) => {
                                // No more records of this file: the loop moves to the next.
                                awk.main = None;
                                next_record = true;
                                break;
                            }
                            Err(Ok(Flow::Exit(c))) => {
                                exit_code = Some(c);
                                break 'files;
                            }
                            Err(Ok(_)) => break,
                            Err(Err(e)) => {
                                fatal = Some(e);
                                break 'files;
                            }
                        }
                    }
                    if next_record {
                        break;
                    }
                }
                if awk.out.len() > 1 << 16 {
                    awk.ctx.io.out(&std::mem::take(&mut awk.out));
                    let _ = awk.account();
                }
            }
        }
        if fatal.is_none() {
            let saved_exit = exit_code;
            run_items(&mut awk, false, true, &mut exit_code, &mut fatal);
            if exit_code.is_none() {
                exit_code = saved_exit;
            }
        }
    }
    awk.main = None;
    if let Err(Err(e)) = awk.close_all()
        && fatal.is_none()
    {
        fatal = Some(e);
    }
    awk.ctx.io.out(&awk.out);
    if let Some(e) = fatal {
        awk.ctx.warn("awk", e);
        // A passed deadline stops the whole exec with 124, not just this awk.
        awk.ctx.sh.tick()?;
        return Ok(2);
    }
    Ok(exit_code.unwrap_or(st))
}

/// An operand `name=value` (a valid awk name before the `=`) is an assignment, not a file.
fn assignment(operand: &str) -> Option<(&str, &str)> {
    let (k, v) = operand.split_once('=')?;
    let mut chars = k.chars();
    let first = chars.next()?;
    ((first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then_some((k, v))
}

#[cfg(test)]
mod tests {
    use super::fmt_g;

    #[test]
    fn g_rounds_before_choosing_the_style() {
        // Expected values are what glibc's printf("%g"/"%.3g"/"%.1g") prints.
        let cases: &[(f64, &str, &str, &str)] = &[
            (999_999.5, "1e+06", "1e+06", "1e+06"),
            (999_999.4, "999999", "1e+06", "1e+06"),
            (-999_999.5, "-1e+06", "-1e+06", "-1e+06"),
            (0.0001, "0.0001", "0.0001", "0.0001"),
            (0.000_099_999_95, "0.0001", "0.0001", "0.0001"),
            (123_456_789.0, "1.23457e+08", "1.23e+08", "1e+08"),
            (9.999_999_5, "10", "10", "1e+01"),
            (2.5, "2.5", "2.5", "2"),
            (1e-5, "1e-05", "1e-05", "1e-05"),
            (100_000.0, "100000", "1e+05", "1e+05"),
            (1e100, "1e+100", "1e+100", "1e+100"),
        ];
        for &(v, g6, g3, g1) in cases {
            assert_eq!(
                (
                    fmt_g(v, 6).as_str(),
                    fmt_g(v, 3).as_str(),
                    fmt_g(v, 1).as_str()
                ),
                (g6, g3, g1),
                "{v}"
            );
        }
    }
}
