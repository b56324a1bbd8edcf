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

    /// Sets a scalar variable (refused for a readonly one: that ends the shell, as in bash).
    pub fn set_var(&mut self, name: &str, value: String) -> R<()> {
        self.check_len(&value)?;
        self.check_writable(name)?;
        if name == "PWD" {
            self.cwd = vfs::resolve("/", &value);
            self.put_var(name.to_owned(), Var::Str(value))?;
            return self.dirstack_follow_cwd();
        }
        self.put_var(name.to_owned(), Var::Str(value))
    }

    /// Whether the locale (`LC_ALL`, `LC_CTYPE`, `LANG`) is UTF-8: lengths and `?` count
    /// characters there, bytes in C.
    pub(crate) fn utf8_locale(&self) -> bool {
        let loc = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|v| self.get_var(v).filter(|s| !s.is_empty()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        loc.contains("utf-8") || loc.contains("utf8")
    }

    /// Whether `name` or `name[i]` is set (`test -v`).
    pub(crate) fn is_set(&mut self, s: &str) -> bool {
        if let Some((name, rest)) = s.split_once('[')
            && let Some(idx) = rest.strip_suffix(']')
        {
            if idx == "@" || idx == "*" {
                return matches!(self.vars.get(name), Some(Var::Arr(a)) if !a.is_empty())
                    || matches!(self.vars.get(name), Some(Var::Str(_)));
            }
            let Ok(i) = self.arith_str(idx) else {
                return false;
            };
            return match self.vars.get(name) {
                Some(Var::Arr(a)) => {
                    let i = if i < 0 { a.len() as i64 + i } else { i };
                    (0..a.len() as i64).contains(&i)
                }
                Some(Var::Str(_)) => i == 0 || i == -1,
                None => false,
            };
        }
        self.vars.contains_key(s)
    }

    /// Fails when `name` is readonly.
    pub(super) fn check_writable(&self, name: &str) -> R<()> {
        if self.attr(name) & attr::READONLY != 0 {
            return Err(Flow::LineAbort(format!("bash: {name}: readonly variable")));
        }
        Ok(())
    }

    /// A variable's `declare` attributes.
    pub(super) fn attr(&self, name: &str) -> u8 {
        self.attrs.get(name).copied().unwrap_or(0)
    }

    /// Adds attributes (`declare -i/-r/-l/-u/-a`); a name with attributes and no value is
    /// declared but unset.
    pub(super) fn add_attr(&mut self, name: &str, a: u8) {
        let e = self.attrs.entry(name.to_owned()).or_insert(0);
        *e |= a;
        // -l and -u exclude each other: the last one given wins.
        if a & attr::LOWER != 0 {
            *e &= !attr::UPPER;
        }
        if a & attr::UPPER != 0 {
            *e &= !attr::LOWER;
        }
    }

    /// Removes attributes (`declare +i`).
    pub(super) fn remove_attr(&mut self, name: &str, a: u8) {
        if let Some(e) = self.attrs.get_mut(name) {
            *e &= !a;
        }
    }

    /// A value as a variable with these attributes stores it: `-i` evaluates it (and `+=` adds),
    /// `-l`/`-u` change its case.
    pub(super) fn attr_value(&mut self, name: &str, value: String, append: bool) -> R<String> {
        let a = self.attr(name);
        let old = self.get_var(name).unwrap_or_default();
        let v = if a & attr::INTEGER != 0 {
            let n = self.arith_str(&value)?;
            if append {
                let o = old;
                let o = self.arith_str(&o)?;
                o.wrapping_add(n).to_string()
            } else {
                n.to_string()
            }
        } else if append {
            old + &value
        } else {
            value
        };
        Ok(if a & attr::LOWER != 0 {
            v.to_lowercase()
        } else if a & attr::UPPER != 0 {
            v.to_uppercase()
        } else {
            v
        })
    }

    /// Assigns a scalar through the variable's attributes (`x=v`, `x+=v`, `declare x=v`).
    pub(super) fn assign_scalar(&mut self, name: &str, value: String, append: bool) -> R<()> {
        self.check_writable(name)?;
        let v = self.attr_value(name, value, append)?;
        // An array keeps its other elements: `a=v` sets element 0.
        if let Some(Var::Arr(_)) = self.vars.get(name) {
            let Some(Var::Arr(mut arr)) = self.take_var(name) else {
                return Ok(());
            };
            if arr.is_empty() {
                arr.push(v);
            } else {
                arr[0] = v;
            }
            return self.put_var(name.to_owned(), Var::Arr(arr));
        }
        self.set_var(name, v)
    }

    /// Stores an array (`a=(…)`, `declare -a a=(…)`, `read -a`, `mapfile`).
    pub(crate) fn set_array(&mut self, name: &str, vals: Vec<String>) -> R<()> {
        self.check_writable(name)?;
        for v in &vals {
            self.check_len(v)?;
        }
        self.put_var(name.to_owned(), Var::Arr(vals))
    }

    /// `unset 'a[i]'`: only the last element can go (the arrays here are dense).
    pub(super) fn unset_element(&mut self, name: &str, index: &str) -> R<()> {
        let i = self.arith_str(index)?;
        let Some(Var::Arr(mut arr)) = self.take_var(name) else {
            if i == 0 {
                self.take_var(name);
            }
            return Ok(());
        };
        let len = arr.len() as i64;
        let i = if i < 0 { len + i } else { i };
        if i == len - 1 {
            arr.pop();
        } else if (0..len).contains(&i) {
            self.put_var(name.to_owned(), Var::Arr(arr))?;
            return abort(
                UNSUPPORTED_EXIT,
                format!(
                    "bash: unset {name}[{index}]: sparse arrays (removing an element before the last) are not supported in this sandbox"
                ),
            );
        }
        self.put_var(name.to_owned(), Var::Arr(arr))
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
            attrs: self.attrs.clone(),
            aliases: self.aliases.clone(),
            vars_bytes: self.vars_bytes,
            pos_bytes: self.pos_bytes,
            in_fds: self.in_fds.clone(),
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
        self.attrs = s.attrs;
        self.aliases = s.aliases;
        self.vars_bytes = s.vars_bytes;
        self.pos_bytes = s.pos_bytes;
        self.in_fds = s.in_fds;
    }

    pub(super) fn assign(&mut self, a: &ast::Assignment) -> R<()> {
        match (&a.name, &a.value) {
            (ast::AssignmentName::VariableName(n), ast::AssignmentValue::Scalar(w)) => {
                let v = self.expand_str(&w.value)?;
                self.assign_scalar(n, v, a.append)
            }
            (ast::AssignmentName::VariableName(n), ast::AssignmentValue::Array(items)) => {
                self.check_writable(n)?;
                let mut new_vals = Vec::new();
                let mut indexed: Vec<(i64, String)> = Vec::new();
                let mut next = 0i64;
                for (idx, w) in items {
                    match idx {
                        Some(i) => {
                            next = self.arith_str(&i.value)?;
                            let v = self.expand_str(&w.value)?;
                            indexed.push((next, v));
                            next += 1;
                        }
                        None => {
                            for v in self.expand_word(w)? {
                                indexed.push((next, v));
                                next += 1;
                            }
                        }
                    }
                }
                if items.iter().any(|(i, _)| i.is_some()) {
                    // `([2]=b [0]=a)`: fine when the indexes fill 0..n; gaps would need sparse
                    // arrays.
                    indexed.sort_by_key(|(i, _)| *i);
                    indexed.dedup_by(|b, a| {
                        if a.0 == b.0 {
                            a.1 = std::mem::take(&mut b.1);
                            true
                        } else {
                            false
                        }
                    });
                    if a.append || indexed.iter().enumerate().any(|(k, (i, _))| *i != k as i64) {
                        return abort(
                            UNSUPPORTED_EXIT,
                            format!(
                                "bash: {n}=(…): sparse arrays (indexes with gaps) are not supported in this sandbox"
                            ),
                        );
                    }
                }
                new_vals.extend(indexed.into_iter().map(|(_, v)| v));
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
                self.check_writable(n)?;
                let i = self.arith_str(idx)?;
                let v = self.expand_str(&w.value)?;
                let len = match self.vars.get(n) {
                    Some(Var::Arr(a)) => a.len(),
                    Some(Var::Str(_)) => 1,
                    None => 0,
                } as i64;
                let i = if i < 0 { len + i } else { i };
                if i < 0 {
                    return Err(Flow::Fatal(
                        1,
                        format!("bash: {n}[{idx}]: bad array subscript"),
                    ));
                }
                if i > len {
                    return abort(
                        UNSUPPORTED_EXIT,
                        format!(
                            "bash: {n}[{idx}]=: sparse arrays (assigning past the end) are not supported in this sandbox"
                        ),
                    );
                }
                let v = if self.attr(n) & attr::INTEGER != 0 {
                    self.arith_str(&v)?.to_string()
                } else {
                    v
                };
                let mut arr = match self.take_var(n) {
                    Some(Var::Arr(a)) => a,
                    Some(Var::Str(s)) => vec![s],
                    None => Vec::new(),
                };
                let i = i as usize;
                if arr.len() <= i {
                    self.fits(str_cost(""))?;
                    arr.push(String::new());
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
        if self.locals.is_empty() {
            return Ok(false);
        }
        if self
            .locals
            .last()
            .is_some_and(|f| f.iter().any(|(n, ..)| n == name))
        {
            // Already local in this function: `local x=2` again only assigns.
            if let Some(v) = value {
                self.set_var(name, v)?;
            }
            return Ok(true);
        }
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
        let old_attr = self.attrs.remove(name);
        frame.push((name.to_owned(), old, old_attr));
        // `local x` without a value is declared but unset, as in bash.
        self.take_var(name);
        if let Some(v) = value {
            self.set_var(name, v)?;
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
