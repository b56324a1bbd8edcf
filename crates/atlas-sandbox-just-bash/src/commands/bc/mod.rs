//! `bc` (GNU bc 1.07), a bounded subset: arbitrary-precision arithmetic with `scale`, `ibase`
//! and `obase` (2 to 16), variables, `++`/`--` and the compound assignments, comparisons,
//! `!`/`&&`/`||`, `sqrt`, `length`, `scale`, strings and `print`, `if`/`else`, `while`, `for`,
//! `break`/`continue`, `{ }`, `quit`/`halt`, comments, and `-l` (scale 20; its library functions
//! `s c a l e j` are refused, as are `define`, arrays and `read`).
//!
//! Like GNU bc, a line with a syntax error runs none of its statements, a runtime error ends its
//! line, and both are reported on stderr with exit 0. Numbers are bounded to
//! [`MAX_DIGITS`] digits (a longer result is refused with exit 2) and every statement checks the
//! exec's deadline.

mod num;
mod parse;

use std::collections::HashMap;

use num::{Num, NumError};
use parse::{Expr, Lexed, ParseError, Parser, Stmt, Target, Tok, lex};

use super::Ctx;
use super::opts::{self, Arg, Spec};
use super::sink::Sink;
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "bc",
    "lqsw",
    &[
        ("mathlib", 'l', Arg::No),
        ("quiet", 'q', Arg::No),
        ("standard", 's', Arg::No),
        ("warn", 'w', Arg::No),
    ],
);

/// The longest number this sandbox's bc computes.
const MAX_DIGITS: usize = 20_000;

/// The largest `scale` accepted.
const MAX_SCALE: i64 = 5_000;

/// Why running stopped.
enum Stop {
    /// A runtime error: the message; the rest of the line is skipped.
    Runtime(String),
    /// A refusal (exit 2).
    Refused(String),
    Break,
    Continue,
    Halt,
    /// The shell's own stop (deadline, memory).
    Shell(crate::interp::Flow),
}

impl From<crate::interp::Flow> for Stop {
    fn from(f: crate::interp::Flow) -> Self {
        Stop::Shell(f)
    }
}

struct Machine {
    vars: HashMap<String, Num>,
    scale: u32,
    ibase: u32,
    obase: u32,
    last: Num,
    /// Characters on the current output line.
    col: usize,
}

fn num_error(e: NumError) -> Stop {
    match e {
        NumError::DivideByZero => Stop::Runtime("Divide by zero".to_owned()),
        NumError::NegativeSqrt => Stop::Runtime("Square root of a negative number".to_owned()),
        NumError::TooLong(n) => Stop::Refused(format!("a number of more than {n} digits")),
    }
}

impl Machine {
    /// A constant as bc reads it in the current `ibase` (a single digit is its own value).
    fn constant(&self, text: &str) -> Result<Num, Stop> {
        if text == "." {
            return Err(Stop::Runtime("syntax error".to_owned()));
        }
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if frac.contains('.') {
            return Err(Stop::Runtime("syntax error".to_owned()));
        }
        let digit = |c: char| c.to_digit(16).unwrap_or(0);
        if text.len() == 1 {
            return Ok(Num::int(i64::from(digit(
                text.chars().next().unwrap_or('0'),
            ))));
        }
        if self.ibase == 10 && !int.contains(|c: char| c.is_ascii_uppercase()) {
            let digits = format!("{int}{frac}");
            let v = digits.parse::<num_bigint::BigInt>().unwrap_or_default();
            return Num {
                v,
                scale: frac.len() as u32,
            }
            .bounded(MAX_DIGITS)
            .map_err(num_error);
        }
        if !frac.is_empty() {
            return Err(Stop::Refused(format!(
                "a fraction in ibase {} ('{text}')",
                self.ibase
            )));
        }
        let mut v = num_bigint::BigInt::from(0);
        for c in int.chars() {
            v = v * self.ibase + digit(c);
        }
        Num { v, scale: 0 }.bounded(MAX_DIGITS).map_err(num_error)
    }

    fn get(&self, t: &Target) -> Num {
        match t {
            Target::Var(n) => self.vars.get(n).cloned().unwrap_or_else(Num::zero),
            Target::Scale => Num::int(i64::from(self.scale)),
            Target::Ibase => Num::int(i64::from(self.ibase)),
            Target::Obase => Num::int(i64::from(self.obase)),
            Target::Last => self.last.clone(),
        }
    }

    fn set(&mut self, t: &Target, v: Num) -> Result<(), Stop> {
        match t {
            Target::Var(n) => {
                self.vars.insert(n.clone(), v);
            }
            Target::Last => self.last = v,
            Target::Scale => {
                let n = v.to_i64().unwrap_or(i64::MAX);
                if !(0..=MAX_SCALE).contains(&n) {
                    return Err(Stop::Refused(format!("scale above {MAX_SCALE}")));
                }
                self.scale = n as u32;
            }
            Target::Ibase => {
                let n = v.to_i64().unwrap_or(0);
                // GNU clamps an ibase out of range (with a warning).
                self.ibase = n.clamp(2, 16) as u32;
            }
            Target::Obase => {
                let n = v.to_i64().unwrap_or(0);
                if !(2..=16).contains(&n) {
                    return Err(Stop::Refused(format!("obase {n} (only 2 to 16)")));
                }
                self.obase = n as u32;
            }
        }
        Ok(())
    }

    fn binary(&self, op: &str, a: &Num, b: &Num) -> Result<Num, Stop> {
        let s = self.scale;
        let r = match op {
            "+" => a.add(b),
            "-" => a.sub(b),
            "*" => a.mul(b, s),
            "/" => a.div(b, s).map_err(num_error)?,
            "%" => a.rem(b, s).map_err(num_error)?,
            "^" => {
                if b.scale > 0 && !b.rescale(0).add(&Num::zero()).sub(b).is_zero() {
                    // GNU warns and truncates the exponent.
                }
                let e = b
                    .to_i64()
                    .ok_or_else(|| Stop::Refused("an exponent that large".to_owned()))?;
                a.pow(e, s, MAX_DIGITS).map_err(num_error)?
            }
            _ => {
                let ord = a.cmp(b);
                let t = match op {
                    "==" => ord.is_eq(),
                    "!=" => ord.is_ne(),
                    "<" => ord.is_lt(),
                    "<=" => ord.is_le(),
                    ">" => ord.is_gt(),
                    _ => ord.is_ge(),
                };
                Num::int(i64::from(t))
            }
        };
        r.bounded(MAX_DIGITS).map_err(num_error)
    }

    fn eval(&mut self, ctx: &mut Ctx<'_, '_>, e: &Expr) -> Result<Num, Stop> {
        // As deep as the parser allowed (200 levels), on a stack grown as needed.
        stacker::maybe_grow(64 * 1024, 1 << 20, || self.eval_inner(ctx, e))
    }

    fn eval_inner(&mut self, ctx: &mut Ctx<'_, '_>, e: &Expr) -> Result<Num, Stop> {
        Ok(match e {
            Expr::Num(t) => self.constant(t)?,
            Expr::Get(t) => self.get(t),
            Expr::Neg(x) => self.eval(ctx, x)?.neg(),
            Expr::Not(x) => Num::int(i64::from(self.eval(ctx, x)?.is_zero())),
            Expr::Bin("&&", a, b) => {
                let t = !self.eval(ctx, a)?.is_zero() && !self.eval(ctx, b)?.is_zero();
                Num::int(i64::from(t))
            }
            Expr::Bin("||", a, b) => {
                let t = !self.eval(ctx, a)?.is_zero() || !self.eval(ctx, b)?.is_zero();
                Num::int(i64::from(t))
            }
            Expr::Bin(op, a, b) => {
                let x = self.eval(ctx, a)?;
                let y = self.eval(ctx, b)?;
                self.binary(op, &x, &y)?
            }
            Expr::Assign(op, t, rhs) => {
                let r = self.eval(ctx, rhs)?;
                let v = match *op {
                    "=" => r,
                    o => self.binary(&o[..1], &self.get(t), &r)?,
                };
                self.set(t, v)?;
                self.get(t)
            }
            Expr::Step(t, up, pre) => {
                let old = self.get(t);
                let one = Num::int(1);
                let new = if *up { old.add(&one) } else { old.sub(&one) };
                self.set(t, new)?;
                if *pre { self.get(t) } else { old }
            }
            Expr::Call(name, args) => {
                let one = |m: &mut Self, ctx: &mut Ctx<'_, '_>| -> Result<Num, Stop> {
                    match args.as_slice() {
                        [a] => m.eval(ctx, a),
                        _ => Err(Stop::Runtime(format!(
                            "Parameter number mismatch in {name}"
                        ))),
                    }
                };
                match name.as_str() {
                    "sqrt" => one(self, ctx)?.sqrt(self.scale).map_err(num_error)?,
                    "length" => Num::int(i64::from(one(self, ctx)?.length())),
                    "scale" => Num::int(i64::from(one(self, ctx)?.scale)),
                    _ => return Err(Stop::Runtime(format!("Function {name} not defined."))),
                }
            }
        })
    }

    /// bc's `out_char`: before the 69th character of a line goes a backslash and a newline.
    fn print_num(
        &mut self,
        sink: &mut Sink,
        ctx: &mut Ctx<'_, '_>,
        n: &Num,
        newline: bool,
    ) -> R<()> {
        let s = n.render(self.obase);
        let mut out = Vec::with_capacity(s.len() + s.len() / 60 + 2);
        for &c in s.as_bytes() {
            self.col += 1;
            if self.col == 69 {
                out.extend_from_slice(b"\\\n");
                self.col = 1;
            }
            out.push(c);
        }
        if newline {
            out.push(b'\n');
            self.col = 0;
        }
        sink.put(ctx, &out)?;
        Ok(())
    }

    fn print_text(&mut self, sink: &mut Sink, ctx: &mut Ctx<'_, '_>, t: &str) -> R<()> {
        match t.rfind('\n') {
            Some(i) => self.col = t.len() - i - 1,
            None => self.col += t.len(),
        }
        sink.put(ctx, t.as_bytes())?;
        Ok(())
    }

    fn run(&mut self, ctx: &mut Ctx<'_, '_>, sink: &mut Sink, s: &Stmt) -> Result<(), Stop> {
        stacker::maybe_grow(64 * 1024, 1 << 20, || self.run_inner(ctx, sink, s))
    }

    fn run_inner(&mut self, ctx: &mut Ctx<'_, '_>, sink: &mut Sink, s: &Stmt) -> Result<(), Stop> {
        ctx.sh.tick()?;
        match s {
            Stmt::Expr(e) => {
                let v = self.eval(ctx, e)?;
                if !matches!(e, Expr::Assign(..)) {
                    self.print_num(sink, ctx, &v, true)?;
                    self.last = v;
                }
            }
            Stmt::Str(t) => self.print_text(sink, ctx, t)?,
            Stmt::Print(items) => {
                for it in items {
                    match it {
                        Ok(e) => {
                            let v = self.eval(ctx, e)?;
                            self.print_num(sink, ctx, &v, false)?;
                            self.last = v;
                        }
                        Err(t) => self.print_text(sink, ctx, &print_escapes(t))?,
                    }
                }
            }
            Stmt::If(c, then, otherwise) => {
                if !self.eval(ctx, c)?.is_zero() {
                    self.run(ctx, sink, then)?;
                } else if let Some(o) = otherwise {
                    self.run(ctx, sink, o)?;
                }
            }
            Stmt::While(c, body) => {
                while !self.eval(ctx, c)?.is_zero() {
                    match self.run(ctx, sink, body) {
                        Err(Stop::Break) => break,
                        Err(Stop::Continue) | Ok(()) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Stmt::For(init, cond, step, body) => {
                if let Some(i) = init {
                    self.eval(ctx, i)?;
                }
                loop {
                    if let Some(c) = cond
                        && self.eval(ctx, c)?.is_zero()
                    {
                        break;
                    }
                    match self.run(ctx, sink, body) {
                        Err(Stop::Break) => break,
                        Err(Stop::Continue) | Ok(()) => {}
                        Err(e) => return Err(e),
                    }
                    if let Some(st) = step {
                        self.eval(ctx, st)?;
                    }
                }
            }
            Stmt::Break => return Err(Stop::Break),
            Stmt::Continue => return Err(Stop::Continue),
            Stmt::Halt => return Err(Stop::Halt),
            Stmt::Block(body) => {
                for st in body {
                    self.run(ctx, sink, st)?;
                }
            }
        }
        Ok(())
    }
}

fn print_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('f') => out.push('\x0c'),
            Some('r') => out.push('\r'),
            Some('q') => out.push('"'),
            Some('e') => out.push('\\'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

pub(super) fn bc(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    // -q, -s, -w change nothing this bc prints.
    let math_lib = flags.iter().any(|(c, _)| *c == 'l');
    let mut sources: Vec<(String, String)> = Vec::new();
    for f in &files {
        match ctx.read_operand(f) {
            Ok(d) => sources.push((f.clone(), String::from_utf8_lossy(&d).into_owned())),
            Err(e) => {
                ctx.warn("bc", format!("File {f} is unavailable: {e}"));
                return Ok(1);
            }
        }
    }
    sources.push((
        "(standard_in)".to_owned(),
        String::from_utf8_lossy(ctx.stdin.take_all()).into_owned(),
    ));
    let mut m = Machine {
        vars: HashMap::new(),
        scale: if math_lib { 20 } else { 0 },
        ibase: 10,
        obase: 10,
        last: Num::zero(),
        col: 0,
    };
    let mut sink = Sink::new();
    for (name, src) in &sources {
        let _held = super::sink::hold(ctx, src.len() * 8)?;
        let toks = match lex(src) {
            Ok(t) => t,
            Err((line, _)) => {
                sink.flush(ctx)?;
                ctx.io.errln(&format!("{name} {line}: syntax error"));
                continue;
            }
        };
        match run_source(ctx, &mut m, &mut sink, &toks, name, math_lib)? {
            Flow::Go => {}
            Flow::Quit => break,
            Flow::Refused(what) => {
                sink.flush(ctx)?;
                return Ok(opts::unsupported(ctx, "bc", &what));
            }
        }
    }
    sink.flush(ctx)?;
    Ok(0)
}

enum Flow {
    Go,
    Quit,
    Refused(String),
}

/// Parses and runs one source a line at a time: a line's statements run once all of it parsed.
fn run_source(
    ctx: &mut Ctx<'_, '_>,
    m: &mut Machine,
    sink: &mut Sink,
    toks: &[Lexed],
    name: &str,
    math_lib: bool,
) -> R<Flow> {
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        math_lib,
    };
    let mut pending: Vec<Stmt> = Vec::new();
    loop {
        // `quit` ends bc when it is read.
        if p.peek() == Some(&Tok::Name("quit".to_owned())) {
            for s in std::mem::take(&mut pending) {
                if let Some(f) = exec(ctx, m, sink, &s, name, p.line())? {
                    return Ok(f);
                }
            }
            return Ok(Flow::Quit);
        }
        let parsed = p.stmt();
        match parsed {
            Ok(stmt) => {
                if let Some(s) = stmt {
                    pending.push(s);
                }
                match p.peek() {
                    None | Some(Tok::Newline) => {
                        let line = p.line();
                        for s in std::mem::take(&mut pending) {
                            match exec(ctx, m, sink, &s, name, line)? {
                                None => {}
                                Some(Flow::Go) => break,
                                Some(f) => return Ok(f),
                            }
                        }
                        if p.peek().is_none() {
                            return Ok(Flow::Go);
                        }
                        p.pos += 1;
                    }
                    Some(Tok::Op(";")) => p.pos += 1,
                    Some(_) => {
                        let line = p.line();
                        syntax_error(ctx, sink, name, line, &mut p, &mut pending)?;
                        if p.peek().is_none() {
                            return Ok(Flow::Go);
                        }
                    }
                }
            }
            Err(ParseError::Syntax(line)) => {
                syntax_error(ctx, sink, name, line, &mut p, &mut pending)?;
                if p.peek().is_none() {
                    return Ok(Flow::Go);
                }
            }
            Err(ParseError::Refused(what)) => return Ok(Flow::Refused(what)),
        }
    }
}

fn syntax_error(
    ctx: &mut Ctx<'_, '_>,
    sink: &mut Sink,
    name: &str,
    line: usize,
    p: &mut Parser<'_>,
    pending: &mut Vec<Stmt>,
) -> R<()> {
    pending.clear();
    sink.flush(ctx)?;
    // yacc has read one token past the error: when the newline itself was unexpected, GNU bc
    // names the line after it.
    let line = if p.peek() == Some(&Tok::Newline) {
        line + 1
    } else {
        line
    };
    ctx.io.errln(&format!("{name} {line}: syntax error"));
    while let Some(t) = p.peek() {
        let end = *t == Tok::Newline;
        p.pos += 1;
        if end {
            break;
        }
    }
    Ok(())
}

/// Runs one top-level statement: `Some(Go)` when a runtime error ends the line.
fn exec(
    ctx: &mut Ctx<'_, '_>,
    m: &mut Machine,
    sink: &mut Sink,
    s: &Stmt,
    name: &str,
    line: usize,
) -> R<Option<Flow>> {
    match m.run(ctx, sink, s) {
        Ok(()) => Ok(None),
        Err(Stop::Runtime(msg)) => {
            sink.flush(ctx)?;
            ctx.io
                .errln(&format!("Runtime error ({name} {line}): {msg}"));
            Ok(Some(Flow::Go))
        }
        Err(Stop::Refused(what)) => Ok(Some(Flow::Refused(what))),
        Err(Stop::Halt) => Ok(Some(Flow::Quit)),
        // `break`/`continue` outside a loop: GNU rejects them when parsing.
        Err(Stop::Break | Stop::Continue) => {
            sink.flush(ctx)?;
            ctx.io.errln(&format!("{name} {line}: syntax error"));
            Ok(Some(Flow::Go))
        }
        Err(Stop::Shell(f)) => Err(f),
    }
}
