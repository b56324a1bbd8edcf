//! Variables, arrays, positional parameters and assignments, each charged to the memory budget.

use brush_parser::ast;

use crate::memory::strs_cost;
use crate::vfs::{self};

use super::arrays::{self, Sub};
use super::*;

impl Shell<'_> {
    /// A scalar variable's value (an array's first element).
    pub fn get_var(&self, name: &str) -> Option<String> {
        match self.vars.get(name)? {
            Var::Str(s) => Some(s.clone()),
            Var::Arr(a) => a.get(0).cloned(),
            Var::Assoc(m) => m.get("0").cloned(),
        }
    }

    /// Sets a scalar variable (refused for a readonly one: that ends the shell, as in bash).
    pub fn set_var(&mut self, name: &str, value: String) -> R<()> {
        self.check_len(&value)?;
        // `read a[1]`, `printf -v 'm[k]'`: a name with a subscript is that element.
        if let Some((base, rest)) = name.split_once('[')
            && let Some(idx) = rest.strip_suffix(']')
            && !base.is_empty()
        {
            let sub = self.subscript(base, idx)?;
            return self.set_element(base, sub, idx, value, false);
        }
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
                return match self.vars.get(name) {
                    Some(Var::Arr(a)) => !a.is_empty(),
                    Some(Var::Assoc(m)) => !m.is_empty(),
                    Some(Var::Str(_)) => true,
                    None => false,
                };
            }
            return match self.subscript(name, idx) {
                Ok(Sub::Key(k)) => {
                    matches!(self.vars.get(name), Some(Var::Assoc(m)) if m.contains(&k))
                }
                Ok(Sub::Index(i)) => match self.vars.get(name) {
                    Some(Var::Arr(a)) => a.resolve(i).is_some_and(|i| a.get(i).is_some()),
                    Some(Var::Str(_)) => i == 0 || i == -1,
                    _ => false,
                },
                Err(_) => false,
            };
        }
        match self.vars.get(s) {
            Some(Var::Arr(a)) => a.get(0).is_some(),
            Some(Var::Assoc(m)) => m.contains("0"),
            Some(Var::Str(_)) => true,
            None => false,
        }
    }

    /// Whether `name` is (or is declared as) an associative array.
    pub(super) fn is_assoc(&self, name: &str) -> bool {
        matches!(self.vars.get(name), Some(Var::Assoc(_))) || self.attr(name) & attr::ASSOC != 0
    }

    /// Evaluates a subscript: a key (expanded as a word) for an associative array, an
    /// arithmetic index otherwise.
    pub(super) fn subscript(&mut self, name: &str, idx: &str) -> R<Sub> {
        if self.is_assoc(name) {
            Ok(Sub::Key(self.expand_str(idx)?))
        } else {
            Ok(Sub::Index(self.arith_str(idx)?))
        }
    }

    /// Sets one element (`a[i]=v`, `m[k]=v`, `a[i]+=v`), through the variable's attributes.
    /// `shown` is the subscript as written, for the error message.
    pub(super) fn set_element(
        &mut self,
        name: &str,
        sub: Sub,
        shown: &str,
        value: String,
        append: bool,
    ) -> R<()> {
        self.check_writable(name)?;
        let bad = || Flow::Fatal(1, format!("bash: {name}[{shown}]: bad array subscript"));
        let old = match (&sub, self.vars.get(name)) {
            (Sub::Key(k), Some(Var::Assoc(m))) => m.get(k).cloned(),
            (Sub::Index(i), Some(Var::Arr(a))) => {
                let Some(i) = a.resolve(*i) else {
                    return Err(bad());
                };
                a.get(i).cloned()
            }
            (Sub::Index(i), Some(Var::Str(s))) if *i == 0 || *i == -1 => Some(s.clone()),
            _ => None,
        };
        if matches!(&sub, Sub::Key(k) if k.is_empty()) {
            return Err(bad());
        }
        let v = self.elem_value(name, value, old, append)?;
        self.check_len(&v)?;
        let var = self.take_var(name);
        let var = match (sub, var) {
            (Sub::Key(k), var) => {
                let mut m = match var {
                    Some(Var::Assoc(m)) => m,
                    Some(Var::Str(s)) => {
                        let mut m = arrays::Assoc::default();
                        m.set("0".to_owned(), s);
                        m
                    }
                    _ => arrays::Assoc::default(),
                };
                m.set(k, v);
                Var::Assoc(m)
            }
            (Sub::Index(i), var) => {
                let mut a = match var {
                    Some(Var::Arr(a)) => a,
                    Some(Var::Str(s)) => arrays::Indexed::from_vec(vec![s]),
                    _ => arrays::Indexed::default(),
                };
                let Some(i) = a.resolve(i) else {
                    self.put_var(name.to_owned(), Var::Arr(a))?;
                    return Err(bad());
                };
                if let Err(e) = arrays::Indexed::check_index(i) {
                    self.put_var(name.to_owned(), Var::Arr(a))?;
                    return Err(e);
                }
                a.set(i, v);
                Var::Arr(a)
            }
        };
        self.put_var(name.to_owned(), var)
    }

    /// An element's new value as the variable's attributes make it (`-i` evaluates and `+=`
    /// adds, `-l`/`-u` change case; `+=` otherwise appends text).
    pub(super) fn elem_value(
        &mut self,
        name: &str,
        value: String,
        old: Option<String>,
        append: bool,
    ) -> R<String> {
        let a = self.attr(name);
        let v = if a & attr::INTEGER != 0 {
            let n = self.arith_str(&value)?;
            if append {
                let o = self.arith_str(old.as_deref().unwrap_or(""))?;
                o.wrapping_add(n).to_string()
            } else {
                n.to_string()
            }
        } else if append {
            old.unwrap_or_default() + &value
        } else {
            value
        };
        Ok(if a & attr::LOWER != 0 {
            super::param::lower(&v, self.utf8_locale())
        } else if a & attr::UPPER != 0 {
            super::param::upper(&v, self.utf8_locale())
        } else {
            v
        })
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

    /// Assigns a scalar through the variable's attributes (`x=v`, `x+=v`, `declare x=v`); on
    /// an array it sets element 0 (key "0" of an associative one), as bash does.
    pub(super) fn assign_scalar(&mut self, name: &str, value: String, append: bool) -> R<()> {
        self.check_writable(name)?;
        if self.is_assoc(name) {
            return self.set_element(name, Sub::Key("0".to_owned()), "0", value, append);
        }
        if matches!(self.vars.get(name), Some(Var::Arr(_))) || self.attr(name) & attr::ARRAY != 0 {
            return self.set_element(name, Sub::Index(0), "0", value, append);
        }
        let old = self.get_var(name);
        let v = self.elem_value(name, value, old, append)?;
        self.set_var(name, v)
    }

    /// Stores an array (`a=(…)`, `declare -a a=(…)`, `read -a`, `mapfile`).
    pub(crate) fn set_array(&mut self, name: &str, vals: Vec<String>) -> R<()> {
        self.check_writable(name)?;
        for v in &vals {
            self.check_len(v)?;
        }
        self.put_var(name.to_owned(), Var::arr(vals))
    }

    /// `unset 'a[i]'` / `unset 'm[k]'`; false (after the message) for a bad subscript.
    pub(super) fn unset_element(&mut self, name: &str, index: &str, io: &mut Io) -> R<bool> {
        let sub = self.subscript(name, index)?;
        let Some(var) = self.take_var(name) else {
            return Ok(true);
        };
        let var = match (sub, var) {
            (Sub::Key(k), Var::Assoc(mut m)) => {
                m.remove(&k);
                Var::Assoc(m)
            }
            (Sub::Index(i), Var::Arr(mut a)) => {
                let Some(j) = a.resolve(i) else {
                    self.put_var(name.to_owned(), Var::Arr(a))?;
                    io.errln(&format!("bash: unset: [{index}]: bad array subscript"));
                    return Ok(false);
                };
                a.remove(j);
                Var::Arr(a)
            }
            (Sub::Index(0 | -1), Var::Str(_)) => return Ok(true),
            (_, v) => v,
        };
        self.put_var(name.to_owned(), var)?;
        Ok(true)
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
    /// The environment in the order bash passes it to a command: its variable table's bucket
    /// order (`hash & 1023`, bash 5.2's 1024 buckets), which `env` and `printenv` print as is.
    pub fn env_pairs_bash_order(&self) -> Vec<(String, String)> {
        let mut v = self.env_pairs();
        v.sort_by_key(|(k, _)| super::arrays::bash_hash(k) & 1023);
        for (k, val) in &mut v {
            if k == "SHLVL" {
                *val = self.exported_shlvl(std::mem::take(val));
            }
        }
        v
    }

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
            out_files: self.out_files.clone(),
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
        self.out_files = s.out_files;
    }

    pub(super) fn assign(&mut self, a: &ast::Assignment) -> R<()> {
        match (&a.name, &a.value) {
            (ast::AssignmentName::VariableName(n), ast::AssignmentValue::Scalar(w)) => {
                let v = self.expand_str(&w.value)?;
                self.assign_scalar(n, v, a.append)
            }
            (ast::AssignmentName::VariableName(n), ast::AssignmentValue::Array(items)) => {
                self.check_writable(n)?;
                if self.is_assoc(n) {
                    self.assign_assoc(n, items, a.append)
                } else {
                    self.assign_indexed(n, items, a.append)
                }
            }
            (ast::AssignmentName::ArrayElementName(n, idx), ast::AssignmentValue::Scalar(w)) => {
                self.check_writable(n)?;
                let sub = self.subscript(n, idx)?;
                let v = self.expand_str(&w.value)?;
                self.set_element(n, sub, idx, v, a.append)
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
