//! The interpreter's state: variables, arrays, the record and its fields, and their cost.

use std::collections::HashMap;
use std::time::Instant;

use super::ast::Expr;
use super::eval::scalar_as_array;
use super::io::{is_literal, refill, single_char};
use super::re::compile;
use super::value::{Val, val_cost};
use super::{Awk, ER, err};
use crate::memory::{str_cost, strs_cost};

/// Makes `f` the run's `CONVFMT` (gawk's default `%.6g` is kept as none).
pub(super) fn set_convfmt(f: &str) -> Result<(), String> {
    if !super::value::convfmt_ok(f) {
        return Err(format!(
            "CONVFMT = \"{}\" (not one numeric conversion) is not supported in this sandbox",
            f.escape_default()
        ));
    }
    let f = (f != "%.6g").then(|| f.to_owned());
    super::value::CONVFMT.with(|c| *c.borrow_mut() = f);
    Ok(())
}

impl Awk<'_, '_, '_> {
    pub(super) fn get(&self, name: &str) -> Val {
        match name {
            "NF" => Val::Num(self.nf as f64),
            _ => self
                .vars
                .get(name)
                .cloned()
                .unwrap_or(Val::StrNum(String::new())),
        }
    }

    pub(super) fn fs(&self) -> String {
        self.vars
            .get("FS")
            .map(Val::str)
            .unwrap_or_else(|| " ".to_owned())
    }

    pub(super) fn split_with(&self, s: &str, fs: &str) -> Result<Vec<String>, String> {
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
    pub(super) fn account(&mut self) -> Result<(), String> {
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
    pub(super) fn fits(&self, n: u64) -> Result<(), String> {
        self.held.meter().fits(n).map_err(|o| o.message("awk"))
    }

    pub(super) fn set_record(&mut self, rec: &str) -> Result<(), String> {
        let old = self.record_cost();
        self.record.clear();
        self.record.push_str(rec);
        let fs = self.fs();
        let mut fields = std::mem::take(&mut self.fields);
        // In paragraph mode a newline also ends a field when FS is one other character
        // (not for a regex FS: gawk keeps newlines inside those fields).
        let para = single_char(&fs)
            .filter(|&c| c != ' ' && c != '\n')
            .filter(|_| self.paragraph);
        let split = match para {
            Some(c) if !rec.is_empty() => {
                let n = rec.matches([c, '\n']).count() + 1;
                self.fits(n as u64 * (str_cost("") + 24) + 2 * rec.len() as u64)
                    .map(|()| refill(&mut fields, rec.split([c, '\n'])))
            }
            _ => self.split_into(rec, &fs, &mut fields),
        };
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
    pub(super) fn set_counter(&mut self, name: &str, n: f64) {
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
                "fatal: attempt to use array `{}' in a scalar context",
                super::ast::shown(name)
            ));
        }
        Ok(())
    }

    /// The other half of [`Self::not_array`]: a scalar (assigned, read, or a special variable)
    /// used as an array is fatal in gawk.
    pub(super) fn as_array(&mut self, name: &str) -> Result<(), String> {
        let name: &str = &self.resolved(name);
        if name == "NF" || self.vars.contains_key(name) {
            return Err(scalar_as_array(name));
        }
        if !self.arrays.contains_key(name) {
            self.arrays.insert(name.to_owned(), HashMap::new());
        }
        Ok(())
    }

    /// Sets a scalar variable, keeping the byte count.
    pub(super) fn set_var(&mut self, name: &str, v: Val) -> Result<(), String> {
        self.scalar_use(name)?;
        if name == "CONVFMT" {
            set_convfmt(&v.str())?;
        }
        if name == "RS" {
            self.rs_changed = true;
            self.paragraph = v.str().is_empty();
        }
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
    pub(super) fn set_elem(&mut self, arr: &str, k: String, v: Val) -> Result<(), String> {
        let arr: &str = &self.resolved(arr);
        if arr == "NF" || self.vars.contains_key(arr) {
            return Err(scalar_as_array(arr));
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

    pub(super) fn array_cost(a: &HashMap<String, Val>) -> u64 {
        a.iter().map(|(k, v)| str_cost(k) + val_cost(v)).sum()
    }

    pub(super) fn field(&self, i: usize) -> Val {
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

    pub(super) fn key(&mut self, idx: &[Expr]) -> ER<String> {
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

    pub(super) fn assign(&mut self, target: &Expr, v: Val) -> ER<()> {
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

    pub(super) fn tick(&mut self) -> ER<()> {
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

    pub(super) fn regex_of(&mut self, e: &Expr) -> ER<super::re::AwkRe> {
        match e {
            Expr::Re(r) => Ok(r.clone()),
            other => {
                let s = self.eval(other)?.str();
                compile(&s).map_err(Err)
            }
        }
    }
}
