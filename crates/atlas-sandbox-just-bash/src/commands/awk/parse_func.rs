//! Parsing user-defined functions: definitions, parameters made local, and gawk's checks of
//! calls once the program is read.

use std::rc::Rc;

use super::ast::Func;
use super::lex::Tok;
use super::parse::{P, PR};

/// gawk's variables with a meaning of their own: none may name a parameter.
const SPECIAL: &[&str] = &[
    "ARGC",
    "ARGIND",
    "ARGV",
    "BINMODE",
    "CONVFMT",
    "ENVIRON",
    "ERRNO",
    "FIELDWIDTHS",
    "FILENAME",
    "FNR",
    "FPAT",
    "FS",
    "FUNCTAB",
    "IGNORECASE",
    "LINT",
    "NF",
    "NR",
    "OFMT",
    "OFS",
    "ORS",
    "PROCINFO",
    "RLENGTH",
    "RS",
    "RSTART",
    "RT",
    "SUBSEP",
    "SYMTAB",
    "TEXTDOMAIN",
];

impl P {
    /// A parameter gets a name no other function (nor the globals) can write, `f\u{1}a`:
    /// each call saves and restores those names, which makes them local and lets recursion work.
    pub(super) fn var_name(&mut self, n: String) -> String {
        if let Some((f, params)) = &self.func
            && params.contains(&n)
        {
            return format!("{f}\u{1}{n}");
        }
        self.globals.insert(n.clone());
        n
    }

    pub(super) fn ident(&mut self) -> PR<String> {
        match self.next() {
            Tok::Ident(n) => Ok(self.var_name(n)),
            other => Err(format!("syntax error near {other:?}")),
        }
    }

    /// `function name(a, b) { ... }`, the keyword already read.
    pub(super) fn function(&mut self) -> PR<()> {
        let name = match self.next() {
            Tok::Call(n) | Tok::Ident(n) => n,
            Tok::Builtin(b) => {
                return Err(format!(
                    "`{b}' is a built-in function, it cannot be redefined"
                ));
            }
            other => return Err(format!("syntax error near {other:?}")),
        };
        if self.funcs.contains_key(&name) {
            return Err(format!("error: function name `{name}' previously defined"));
        }
        self.expect("(")?;
        let mut params: Vec<String> = Vec::new();
        loop {
            self.only_nl();
            if self.eat(")") {
                break;
            }
            let Tok::Ident(p) = self.next() else {
                return Err(format!(
                    "syntax error in the parameters of function `{name}'"
                ));
            };
            if SPECIAL.contains(&p.as_str()) {
                return Err(format!(
                    "error: function `{name}': cannot use special variable `{p}' as a function parameter"
                ));
            }
            if p == name {
                return Err(format!(
                    "error: function `{name}': cannot use function name as parameter name"
                ));
            }
            if let Some(k) = params.iter().position(|q| *q == p) {
                return Err(format!(
                    "error: function `{name}': parameter #{}, `{p}', duplicates parameter #{}",
                    params.len() + 1,
                    k + 1
                ));
            }
            params.push(p);
            self.only_nl();
            if !self.is_op(")") {
                self.expect(",")?;
                self.only_nl();
                if self.is_op(")") {
                    return Err(format!(
                        "syntax error in the parameters of function `{name}'"
                    ));
                }
            }
        }
        self.only_nl();
        self.func = Some((name.clone(), params.clone()));
        let loops = std::mem::take(&mut self.loops);
        let body = self.block();
        self.loops = loops;
        self.func = None;
        let params = params
            .into_iter()
            .map(|p| format!("{name}\u{1}{p}"))
            .collect();
        self.funcs.insert(
            name,
            Rc::new(Func {
                params,
                body: body?,
            }),
        );
        Ok(())
    }

    /// gawk's checks once the whole program is read: names called must be defined (fatal,
    /// status 2), a function's name is no variable, extra arguments are a warning.
    pub(super) fn check_functions(&mut self) -> PR<()> {
        for name in self.funcs.keys() {
            if self.globals.contains(name) {
                return Err(format!(
                    "error: function `{name}' called with space between name and `(',\nor used as a variable or an array"
                ));
            }
        }
        let mut calls: Vec<(&String, &usize)> = self.calls.iter().collect();
        calls.sort();
        for (name, &n) in calls {
            match self.funcs.get(name) {
                None => return Err(format!("fatal: function `{name}' not defined")),
                Some(f) if n > f.params.len() => self.warnings.push(format!(
                    "warning: function `{name}' called with more arguments than declared"
                )),
                Some(_) => {}
            }
        }
        Ok(())
    }
}
