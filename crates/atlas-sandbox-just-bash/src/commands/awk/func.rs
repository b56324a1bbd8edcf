//! Calls of user-defined functions: scalars by value, arrays by reference, extra parameters as
//! locals, and a bounded call depth.
//!
//! A parameter's name is private to its function (`f\u{1}a`, see `P::var_name`), so a call
//! saves whatever that name holds (an outer activation of the same function), binds the
//! arguments, runs the body and puts the saved values back: recursion sees its own locals, and
//! other functions never see them. An array argument is an alias: the parameter's name maps to
//! the array's own name (never to another alias), which every array access follows.

use std::borrow::Cow;
use std::collections::HashMap;

use super::ast::{Expr, shown};
use super::value::{Val, val_cost};
use super::{Awk, ER, Flow, err};

/// What a parameter's name held before a call rebound it.
struct Saved {
    var: Option<Val>,
    array: Option<HashMap<String, Val>>,
    alias: Option<String>,
}

impl Awk<'_, '_, '_> {
    /// The array a name stands for: itself, or the caller's array a parameter was given.
    pub(super) fn resolve<'n>(&'n self, name: &'n str) -> &'n str {
        if self.aliases.is_empty() {
            return name;
        }
        self.aliases.get(name).map_or(name, String::as_str)
    }

    /// [`Self::resolve`] for a name the caller holds, leaving `self` free.
    pub(super) fn resolved<'n>(&self, name: &'n str) -> Cow<'n, str> {
        match self.aliases.get(name) {
            Some(t) if !self.aliases.is_empty() => Cow::Owned(t.clone()),
            _ => Cow::Borrowed(name),
        }
    }

    /// A name about to be used as a scalar. A parameter given an array is gawk's fatal error;
    /// one given an untyped variable becomes a local scalar, and the caller's variable a scalar
    /// too (a later `x[1]` in the caller is then fatal, as in gawk).
    pub(super) fn scalar_use(&mut self, name: &str) -> Result<(), String> {
        if self.aliases.is_empty() {
            return Ok(());
        }
        let Some(target) = self.aliases.get(name).cloned() else {
            return Ok(());
        };
        if self.arrays.contains_key(&target) {
            return Err(format!(
                "fatal: attempt to use array `{} (from {})' in a scalar context",
                shown(name),
                shown(&target)
            ));
        }
        self.aliases.remove(name);
        if !self.vars.contains_key(&target) && target != "NF" {
            self.set_var(&target, Val::StrNum(String::new()))?;
        }
        Ok(())
    }

    /// Takes what `name` holds out of the tables (and out of the byte count).
    fn unbind(&mut self, name: &str) -> Saved {
        let var = self.vars.remove(name);
        let array = self.arrays.remove(name);
        let cost = var.as_ref().map_or(0, |v| val_cost(v) + name.len() as u64)
            + array.as_ref().map_or(0, Self::array_cost);
        self.bytes = self.bytes.saturating_sub(cost);
        Saved {
            var,
            array,
            alias: self.aliases.remove(name),
        }
    }

    fn rebind(&mut self, name: &str, s: Saved) {
        let cost = s
            .var
            .as_ref()
            .map_or(0, |v| val_cost(v) + name.len() as u64)
            + s.array.as_ref().map_or(0, Self::array_cost);
        self.bytes += cost;
        if let Some(v) = s.var {
            self.vars.insert(name.to_owned(), v);
        }
        if let Some(a) = s.array {
            self.arrays.insert(name.to_owned(), a);
        }
        if let Some(t) = s.alias {
            self.aliases.insert(name.to_owned(), t);
        }
    }

    pub(super) fn call_user(&mut self, name: &str, args: &[Expr]) -> ER<Val> {
        let Some(f) = self.funcs.get(name).cloned() else {
            return err(format!("fatal: function `{name}' not defined"));
        };
        let max = self.max_depth;
        if self.depth >= max {
            return err(format!(
                "function `{name}': more than {max} nested calls (limits.max_call_depth x 10)"
            ));
        }
        // Arguments are read in the caller's scope, before any parameter is rebound. A bare
        // name that is not a scalar goes by reference: an array, or an untyped name the callee
        // may make an array.
        let mut binds: Vec<Result<Val, String>> = Vec::with_capacity(f.params.len());
        for (i, a) in args.iter().enumerate() {
            let b = match a {
                Expr::Var(n) if n != "NF" => {
                    let t = self.resolve(n).to_owned();
                    if self.arrays.contains_key(&t) {
                        Err(t)
                    } else if let Some(v) = self.vars.get(&t) {
                        Ok(v.clone())
                    } else {
                        Err(t)
                    }
                }
                e => Ok(self.eval(e)?),
            };
            if i < f.params.len() {
                binds.push(b);
            }
        }
        self.tick()?;
        let saved: Vec<Saved> = f.params.iter().map(|p| self.unbind(p)).collect();
        let mut result = Ok(Val::StrNum(String::new()));
        for (p, b) in f.params.iter().zip(binds) {
            let bound = match b {
                Ok(v) => self.set_var(p, v),
                Err(target) => {
                    self.aliases.insert(p.clone(), target);
                    Ok(())
                }
            };
            if let Err(e) = bound {
                result = Err(Err(e));
                break;
            }
        }
        if result.is_ok() {
            self.depth += 1;
            // Each awk call nests a few interpreter frames: the stack grows on the heap.
            result = stacker::maybe_grow(64 * 1024, 1 << 20, || {
                for s in &f.body {
                    match self.exec(s) {
                        Ok(()) => {}
                        Err(Ok(Flow::Return(v))) => return Ok(v),
                        Err(e) => return Err(e),
                    }
                }
                Ok(Val::StrNum(String::new()))
            });
            self.depth -= 1;
        }
        for (p, s) in f.params.iter().zip(saved) {
            self.unbind(p);
            self.rebind(p, s);
        }
        result
    }
}
