//! The interpreter: expressions, built-in calls and statements.

use std::collections::HashMap;

use super::ast::{Expr, Stmt, shown};
use super::re::latin1_bytes;
use super::sprintf::sprintf;
use super::value::{Val, looks_numeric, val_cost};
use super::{Awk, ER, Flow, err};
use crate::memory::{str_cost, strs_cost};

impl Awk<'_, '_, '_> {
    pub(super) fn eval(&mut self, e: &Expr) -> ER<Val> {
        Ok(match e {
            Expr::Num(n) => Val::Num(*n),
            Expr::Str(s) => Val::Str(s.clone()),
            Expr::Re(r) => Val::Num(if r.is_match(&self.record) { 1.0 } else { 0.0 }),
            Expr::Var(n) => {
                // Reading a name in a scalar context makes it a scalar, as in gawk: a later
                // `n[k]` is then fatal.
                if n != "NF" && !self.vars.contains_key(n.as_str()) {
                    self.scalar_use(n).map_err(Err)?;
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
                let n: &str = &self.resolved(n);
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
                let arr: &str = &self.resolved(arr);
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
            Expr::Func(name, args) => self.call_user(name, args)?,
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
                Some(Expr::Var(n)) if self.arrays.contains_key(self.resolve(n)) => {
                    Val::Num(self.arrays[self.resolve(n)].len() as f64)
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
                let arr: &str = &self.resolved(arr);
                if let Some(Expr::Var(seps)) = args.get(3)
                    && *self.resolved(seps) == *arr
                {
                    return err(
                        "fatal: split: cannot use the same array for second and fourth args",
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
                if let Some(old) = self.arrays.insert(arr.to_owned(), HashMap::new()) {
                    self.bytes = self.bytes.saturating_sub(Self::array_cost(&old));
                }
                self.fits(strs_cost(&parts) * 3).map_err(Err)?;
                for (i, p) in parts.iter().enumerate() {
                    self.set_elem(arr, (i + 1).to_string(), Val::StrNum(p.clone()))
                        .map_err(Err)?;
                }
                if args.len() > 3 {
                    let seps = self.array_arg(args.get(3), "split: fourth argument")?;
                    self.split_seps(&s, &fs, &seps)?;
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
            "gensub" => self.gensub(args)?,
            "asort" | "asorti" => self.asort(name, args)?,
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

    pub(super) fn exec(&mut self, s: &Stmt) -> ER<()> {
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
                let arr: &str = &self.resolved(arr);
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
            Stmt::Return(e) => {
                let v = match e {
                    Some(e) => self.eval(e)?,
                    None => Val::StrNum(String::new()),
                };
                return Err(Ok(Flow::Return(v)));
            }
            Stmt::Delete(arr, idx) => match idx {
                _ if self.vars.contains_key(arr.as_str()) || arr == "NF" => {
                    return err(scalar_as_array(arr));
                }
                _ if self.aliases.contains_key(arr) => {
                    let target = self.resolve(arr).to_owned();
                    return self.exec(&Stmt::Delete(target, idx.clone()));
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

/// gawk's message, naming a parameter as such.
pub(super) fn scalar_as_array(name: &str) -> String {
    let what = if name.contains('\u{1}') {
        "scalar parameter"
    } else {
        "scalar"
    };
    format!("fatal: attempt to use {what} `{}' as an array", shown(name))
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
