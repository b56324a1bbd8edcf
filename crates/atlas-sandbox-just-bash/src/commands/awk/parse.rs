//! The awk parser: tokens to the program's rules.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::ast::{Expr, Func, Pattern, Stmt};
use super::builtins;
use super::lex::Tok;
use super::re::compile;

pub(super) type PR<T> = Result<T, String>;

pub(super) struct P {
    pub(super) t: Vec<Tok>,
    pub(super) i: usize,
    pub(super) no_in: bool,
    pub(super) no_gt: bool,
    /// The function being parsed and its parameters (as written).
    pub(super) func: Option<(String, Vec<String>)>,
    pub(super) funcs: HashMap<String, Rc<Func>>,
    /// Functions called, and with how many arguments at most.
    pub(super) calls: HashMap<String, usize>,
    /// Global names used as variables or arrays: a function's name may not be one.
    pub(super) globals: HashSet<String>,
    pub(super) warnings: Vec<String>,
    /// Loops around the statement being parsed: `break` and `continue` need one.
    pub(super) loops: usize,
    /// The BEGIN or END action being parsed: `next` is an error there.
    pub(super) rule: Option<&'static str>,
}

impl P {
    pub(super) fn new(t: Vec<Tok>) -> P {
        P {
            t,
            i: 0,
            no_in: false,
            no_gt: false,
            func: None,
            funcs: HashMap::new(),
            calls: HashMap::new(),
            globals: HashSet::new(),
            warnings: Vec::new(),
            loops: 0,
            rule: None,
        }
    }

    pub(super) fn peek(&self) -> &Tok {
        &self.t[self.i.min(self.t.len() - 1)]
    }
    pub(super) fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        self.i += 1;
        t
    }
    pub(super) fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    /// The expression of `return`/`exit`, which may be left out before a statement's end.
    fn optional_expr(&mut self) -> PR<Option<Expr>> {
        if matches!(self.peek(), Tok::Newline | Tok::Eof) || self.is_op(";") || self.is_op("}") {
            return Ok(None);
        }
        self.expr().map(Some)
    }
    pub(super) fn eat(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    pub(super) fn expect(&mut self, op: &str) -> PR<()> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(format!(
                "syntax error: expected `{op}' near {:?}",
                self.peek()
            ))
        }
    }
    pub(super) fn nl(&mut self) {
        while matches!(self.peek(), Tok::Newline) || self.is_op(";") {
            self.i += 1;
        }
    }
    pub(super) fn only_nl(&mut self) {
        while matches!(self.peek(), Tok::Newline) {
            self.i += 1;
        }
    }

    pub(super) fn program(&mut self) -> PR<Vec<(Pattern, Option<Vec<Stmt>>)>> {
        let mut items = Vec::new();
        loop {
            self.nl();
            if matches!(self.peek(), Tok::Eof) {
                self.check_functions()?;
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
                Tok::Ident(w) if w == "function" || w == "func" => {
                    self.i += 1;
                    self.function()?;
                    continue;
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
            self.rule = match pat {
                Pattern::Begin => Some("BEGIN"),
                Pattern::End => Some("END"),
                _ => None,
            };
            let action = if self.is_op("{") {
                Some(self.block()?)
            } else {
                None
            };
            self.rule = None;
            if action.is_none() && matches!(pat, Pattern::Begin | Pattern::End) {
                return Err("BEGIN and END need an action".to_owned());
            }
            items.push((pat, action));
        }
    }

    pub(super) fn block(&mut self) -> PR<Vec<Stmt>> {
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

    fn loop_body(&mut self) -> PR<Stmt> {
        self.loops += 1;
        let body = self.simple_or_block();
        self.loops -= 1;
        body
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
                    return Ok(Stmt::While(c, Box::new(self.loop_body()?)));
                }
                "do" => {
                    self.i += 1;
                    let body = self.loop_body()?;
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
                        let (v, arr) = (self.var_name(v), self.var_name(arr));
                        return Ok(Stmt::ForIn(v, arr, Box::new(self.loop_body()?)));
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
                    return Ok(Stmt::For(init, cond, step, Box::new(self.loop_body()?)));
                }
                "next" | "nextfile" if self.rule.is_some() => {
                    return Err(format!(
                        "error: `{w}' used in {} action",
                        self.rule.unwrap_or_default()
                    ));
                }
                "break" | "continue" if self.loops == 0 => {
                    let what = if w == "break" {
                        "a loop or switch"
                    } else {
                        "a loop"
                    };
                    return Err(format!("error: `{w}' is not allowed outside {what}"));
                }
                "next" => {
                    self.i += 1;
                    Stmt::Next
                }
                "return" => {
                    if self.func.is_none() {
                        return Err("`return' used outside function context".to_owned());
                    }
                    self.i += 1;
                    Stmt::Return(self.optional_expr()?)
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
                    Stmt::Exit(self.optional_expr()?)
                }
                "delete" => {
                    self.i += 1;
                    let Tok::Ident(name) = self.next() else {
                        return Err("syntax error in delete".to_owned());
                    };
                    let name = self.var_name(name);
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

    pub(super) fn expr(&mut self) -> PR<Expr> {
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
            let arr = self.ident()?;
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
            Tok::Num(_) | Tok::Str(_) | Tok::Re(_) | Tok::Builtin(_) | Tok::Call(_) => true,
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
                    let arr = self.ident()?;
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
            Tok::Call(name) => {
                self.expect("(")?;
                let args = self.expr_list(")")?;
                let n = self.calls.entry(name.clone()).or_default();
                *n = (*n).max(args.len());
                Ok(Expr::Func(name, args))
            }
            Tok::Ident(name) => {
                let name = self.var_name(name);
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
