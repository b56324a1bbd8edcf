//! Variables, arrays, positional parameters and assignments, each charged to the memory budget.

use brush_parser::ast;

use crate::memory::{str_cost, strs_cost};
use crate::vfs::{self};

use super::*;

impl Shell<'_> {
    /// A scalar variable's value (an array's first element).
    pub fn get_var(&self, name: &str) -> Option<String> {
        match self.vars.get(name)? {
            Var::Str(s) => Some(s.clone()),
            Var::Arr(a) => a.first().cloned(),
        }
    }

    /// Sets a scalar variable.
    pub fn set_var(&mut self, name: &str, value: String) -> R<()> {
        self.check_len(&value)?;
        if name == "PWD" {
            self.cwd = vfs::resolve("/", &value);
        }
        self.put_var(name.to_owned(), Var::Str(value))
    }

    /// Stores a variable, charging its bytes (and giving back the old value's).
    pub(super) fn put_var(&mut self, name: String, v: Var) -> R<()> {
        let new = var_cost(&name, &v);
        let old = self.vars.get(&name).map_or(0, |o| var_cost(&name, o));
        self.meter.rebalance(old, new).or_else(over_budget)?;
        self.vars_bytes = self.vars_bytes.saturating_sub(old) + new;
        self.vars.insert(name, v);
        Ok(())
    }

    /// Puts back a variable saved earlier (or removes it when it did not exist).
    pub(super) fn restore_var(&mut self, name: &str, old: Option<Var>) {
        self.take_var(name);
        if let Some(v) = old {
            let cost = var_cost(name, &v);
            // Past the budget the meter trips and the script stops at its next step.
            if self.meter.charge(cost).is_ok() {
                self.vars_bytes += cost;
            }
            self.vars.insert(name.to_owned(), v);
        }
    }

    /// Removes a variable, giving back its bytes.
    pub(super) fn take_var(&mut self, name: &str) -> Option<Var> {
        let v = self.vars.remove(name)?;
        let cost = var_cost(name, &v);
        self.meter.release(cost);
        self.vars_bytes = self.vars_bytes.saturating_sub(cost);
        Some(v)
    }

    /// Replaces the positional parameters, charging their bytes.
    pub fn set_positional(&mut self, v: Vec<String>) -> R<Vec<String>> {
        let new = strs_cost(&v);
        self.meter
            .rebalance(self.pos_bytes, new)
            .or_else(over_budget)?;
        self.pos_bytes = new;
        Ok(std::mem::replace(&mut self.positional, v))
    }

    /// Fails with 126 when `n` more bytes would pass the memory budget.
    pub fn fits(&self, n: u64) -> R<()> {
        self.meter.fits(n).or_else(over_budget)
    }

    /// The exported variables, sorted, as `env` prints them.
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .exported
            .iter()
            .filter_map(|k| self.get_var(k).map(|v| (k.clone(), v)))
            .collect();
        v.sort();
        v
    }

    pub(super) fn save_state(&self) -> R<State> {
        let held = self
            .meter
            .hold(self.vars_bytes + self.pos_bytes)
            .or_else(over_budget)?;
        Ok(State {
            vars: self.vars.clone(),
            exported: self.exported.clone(),
            functions: self.functions.clone(),
            positional: self.positional.clone(),
            cwd: self.cwd.clone(),
            opts: self.opts.clone(),
            vars_bytes: self.vars_bytes,
            pos_bytes: self.pos_bytes,
            held,
        })
    }

    pub(super) fn restore_state(&mut self, s: State) {
        // The saved copy becomes the live state: its charge stays, the discarded state's goes.
        self.meter.release(self.vars_bytes + self.pos_bytes);
        s.held.keep();
        self.vars = s.vars;
        self.exported = s.exported;
        self.functions = s.functions;
        self.positional = s.positional;
        self.cwd = s.cwd;
        self.opts = s.opts;
        self.vars_bytes = s.vars_bytes;
        self.pos_bytes = s.pos_bytes;
    }

    pub(super) fn assign(&mut self, a: &ast::Assignment) -> R<()> {
        match (&a.name, &a.value) {
            (ast::AssignmentName::VariableName(n), ast::AssignmentValue::Scalar(w)) => {
                let v = self.expand_str(&w.value)?;
                let v = if a.append {
                    self.get_var(n).unwrap_or_default() + &v
                } else {
                    v
                };
                self.set_var(n, v)
            }
            (ast::AssignmentName::VariableName(n), ast::AssignmentValue::Array(items)) => {
                let mut new_vals = Vec::new();
                for (idx, w) in items {
                    if idx.is_some() {
                        return abort(
                            UNSUPPORTED_EXIT,
                            "bash: indexed array literals ([i]=v) are not supported in this sandbox",
                        );
                    }
                    new_vals.extend(self.expand_word(w)?);
                }
                // `a+=(...)` grows the array in place (a copy per append would be quadratic).
                let vals = if a.append {
                    let mut vals = match self.take_var(n) {
                        Some(Var::Arr(v)) => v,
                        Some(Var::Str(s)) => vec![s],
                        None => Vec::new(),
                    };
                    vals.extend(new_vals);
                    vals
                } else {
                    new_vals
                };
                self.put_var(n.clone(), Var::Arr(vals))
            }
            (ast::AssignmentName::ArrayElementName(n, idx), ast::AssignmentValue::Scalar(w)) => {
                let i = self.arith_str(idx)?;
                let v = self.expand_str(&w.value)?;
                if !(0..=100_000).contains(&i) {
                    return abort(1, format!("bash: {n}[{idx}]: bad array subscript"));
                }
                let mut arr = match self.take_var(n) {
                    Some(Var::Arr(a)) => a,
                    Some(Var::Str(s)) => vec![s],
                    None => Vec::new(),
                };
                let i = i as usize;
                if arr.len() <= i {
                    self.fits((i + 1 - arr.len()) as u64 * str_cost(""))?;
                    arr.resize(i + 1, String::new());
                }
                arr[i] = if a.append {
                    std::mem::take(&mut arr[i]) + &v
                } else {
                    v
                };
                self.check_len(&arr[i])?;
                self.put_var(n.clone(), Var::Arr(arr))
            }
            _ => abort(
                UNSUPPORTED_EXIT,
                "bash: this assignment form is not supported in this sandbox",
            ),
        }
    }

    /// `local NAME[=VALUE]`.
    pub fn declare_local(&mut self, name: &str, value: Option<String>) -> R<bool> {
        let Some(frame) = self.locals.last_mut() else {
            return Ok(false);
        };
        let old = self.vars.get(name).cloned();
        if let Some(v) = &old {
            // The saved value lives in the frame until the function returns.
            if let Err(e) = self.meter.charge(var_cost(name, v)) {
                return over_budget(e);
            }
        }
        frame.push((name.to_owned(), old));
        match value {
            Some(v) => self.set_var(name, v)?,
            None => {
                self.put_var(name.to_owned(), Var::Str(String::new()))?;
            }
        }
        Ok(true)
    }

    /// Drops the first `n` positional parameters (`shift`); false when there are fewer.
    pub fn shift_positional(&mut self, n: usize) -> bool {
        if n > self.positional.len() {
            return false;
        }
        let freed: u64 = self.positional.drain(..n).map(|s| str_cost(&s)).sum();
        self.meter.release(freed);
        self.pos_bytes = self.pos_bytes.saturating_sub(freed);
        true
    }

    /// Unsets a variable or function.
    pub fn unset(&mut self, name: &str, function: bool) {
        if function {
            self.functions.remove(name);
        } else {
            self.take_var(name);
            self.exported.remove(name);
        }
    }

    /// Marks a variable exported.
    pub fn export(&mut self, name: &str) {
        self.exported.insert(name.to_owned());
    }

    /// The last status.
    pub fn last_status(&self) -> i32 {
        self.status
    }
}
