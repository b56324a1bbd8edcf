//! gawk's extensions models reach for: `ENVIRON`, `gensub`, `asort`/`asorti`, and `split`'s
//! fourth argument (the separators).

use std::cmp::Ordering;
use std::collections::HashMap;

use super::re::AwkRe;

use super::ast::Expr;
use super::io::{is_literal, single_char};
use super::re::{compile, to_latin1};
use super::value::{Val, looks_numeric};
use super::{Awk, ER, err};
use crate::memory::str_cost;

/// Longest string a builtin may build, as for concatenation.
const MAX_STRING: usize = 64 << 20;

impl Awk<'_, '_, '_> {
    /// `ENVIRON`: the shell's exported variables only (never the host's), with what gawk adds
    /// to its own environment when it is missing, and `_` as bash sets it for `awk`.
    pub(super) fn set_environ(&mut self, pairs: Vec<(String, String)>) -> Result<(), String> {
        self.arrays.insert("ENVIRON".into(), HashMap::new());
        let mut pairs = pairs;
        for (k, v) in [
            ("AWKPATH", ".:/usr/share/awk"),
            ("AWKLIBPATH", "/usr/lib/x86_64-linux-gnu/gawk"),
            ("_", "/usr/bin/awk"),
        ] {
            if !pairs.iter().any(|(n, _)| n == k) {
                pairs.push((k.to_owned(), v.to_owned()));
            }
        }
        for (k, v) in pairs {
            let (k, v) = if self.c_locale {
                (to_latin1(k.as_bytes()), to_latin1(v.as_bytes()))
            } else {
                (k, v)
            };
            self.set_elem("ENVIRON", k, Val::StrNum(v))?;
        }
        Ok(())
    }

    /// The array a builtin's argument names (`asort(a)`), or gawk's fatal error.
    pub(super) fn array_arg(&mut self, e: Option<&Expr>, what: &str) -> ER<String> {
        let Some(Expr::Var(n)) = e else {
            return err(format!("fatal: {what} not an array"));
        };
        let n = self.resolved(n).into_owned();
        if n == "NF" || self.vars.contains_key(&n) {
            return err(format!("fatal: {what} not an array"));
        }
        self.as_array(&n).map_err(Err)?;
        Ok(n)
    }

    /// `asort(src [, dest])` (values) and `asorti(src [, dest])` (indices, as strings): the
    /// sorted items become elements 1..n of `dest`, or of `src` when there is no `dest`.
    pub(super) fn asort(&mut self, name: &str, args: &[Expr]) -> ER<Val> {
        if args.len() > 2 {
            return err(format!(
                "{name}() with a sort order (third argument) is not supported in this sandbox"
            ));
        }
        let src = self.array_arg(args.first(), &format!("{name}: first argument"))?;
        let dest = match args.get(1) {
            Some(_) => self.array_arg(args.get(1), &format!("{name}: second argument"))?,
            None => src.clone(),
        };
        let items: Vec<Val> = {
            let a = &self.arrays[&src];
            if name == "asorti" {
                a.keys().map(|k| Val::StrNum(k.clone())).collect()
            } else {
                a.values().cloned().collect()
            }
        };
        self.fits(items.iter().map(|v| super::value::val_cost(v) + 24).sum())
            .map_err(Err)?;
        let mut items = items;
        // Each comparison is cheap, but a sort is n log n of them: charge the steps.
        for _ in 0..(items.len() / 64) {
            self.tick()?;
        }
        if name == "asorti" {
            items.sort_by_cached_key(Val::str);
        } else {
            items.sort_by(value_order);
        }
        if let Some(old) = self.arrays.insert(dest.clone(), HashMap::new()) {
            self.bytes = self.bytes.saturating_sub(Self::array_cost(&old));
        }
        let n = items.len();
        for (i, v) in items.into_iter().enumerate() {
            self.set_elem(&dest, (i + 1).to_string(), v).map_err(Err)?;
        }
        Ok(Val::Num(n as f64))
    }

    /// `gensub(re, repl, how [, target])`: a new string, the target unchanged. `how` is `g`/`G`
    /// for every match or N for the Nth; `\0` and `&` are the match, `\1`..`\9` its groups.
    pub(super) fn gensub(&mut self, args: &[Expr]) -> ER<Val> {
        let re = self.regex_of(&args[0])?;
        let repl: Vec<char> = self.eval(&args[1])?.str().chars().collect();
        let how = self.eval(&args[2])?;
        let global = matches!(&how, Val::Str(s) | Val::StrNum(s) if s.starts_with(['g', 'G']));
        let nth = if global {
            0
        } else {
            let n = how.num();
            if n < 1.0 {
                self.ctx.warn(
                    "awk",
                    format!(
                        "warning: gensub: third argument `{}' treated as 1",
                        how.str()
                    ),
                );
                1
            } else {
                n as usize
            }
        };
        let target = match args.get(3) {
            Some(e) => self.eval(e)?.str(),
            None => self.record.clone(),
        };
        Ok(Val::Str(self.substitute(&re, &repl, &target, global, nth)?))
    }

    fn substitute(
        &mut self,
        re: &AwkRe,
        repl: &[char],
        s: &str,
        global: bool,
        nth: usize,
    ) -> ER<String> {
        let mut out = String::new();
        let mut last = 0;
        for (count, caps) in re.captures_iter(s).enumerate() {
            if count.is_multiple_of(1024) {
                self.tick()?;
            }
            if !global && count + 1 < nth {
                continue;
            }
            let Some(m) = caps.get(0) else { continue };
            out.push_str(&s[last..m.start()]);
            let mut i = 0;
            while i < repl.len() {
                match repl[i] {
                    '\\' if i + 1 < repl.len() => {
                        let c = repl[i + 1];
                        if let Some(d) = c.to_digit(10) {
                            out.push_str(caps.get(d as usize).map_or("", |g| g.as_str()));
                        } else {
                            // `\&` is a literal `&`, `\\` a backslash; gawk drops any other
                            // backslash.
                            out.push(c);
                        }
                        i += 2;
                    }
                    '&' => {
                        out.push_str(m.as_str());
                        i += 1;
                    }
                    c => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            last = m.end();
            if out.len() > MAX_STRING {
                return err("string too long");
            }
            self.fits(2 * out.len() as u64).map_err(Err)?;
            if !global {
                break;
            }
        }
        out.push_str(&s[last..]);
        Ok(out)
    }

    /// `split(s, a, fs, seps)`: `seps[i]` is the separator after field i; with the default
    /// FS, leading and trailing blanks are `seps[0]` and `seps[n]`.
    pub(super) fn split_seps(&mut self, s: &str, fs: &str, seps: &str) -> ER<()> {
        if let Some(old) = self.arrays.insert(seps.to_owned(), HashMap::new()) {
            self.bytes = self.bytes.saturating_sub(Self::array_cost(&old));
        }
        if s.is_empty() {
            return Ok(());
        }
        let mut found: Vec<(usize, String)> = Vec::new();
        if fs.is_empty() {
            let n = s.chars().count();
            found.extend((1..n).map(|i| (i, String::new())));
        } else {
            let pattern = if fs == " " {
                "[ \t\n]+".to_owned()
            } else if single_char(fs).is_some() || is_literal(fs) {
                regex::escape(fs)
            } else {
                fs.to_owned()
            };
            let re = if fs == " " || single_char(fs).is_some() || is_literal(fs) {
                AwkRe::new(&pattern).map_err(|e| Err(e.to_string()))?
            } else {
                compile(&pattern).map_err(Err)?
            };
            let mut field = 1;
            let mut cost = 0u64;
            for m in re.find_iter(s) {
                if m.start() == m.end() {
                    continue;
                }
                let blank = fs == " ";
                let i = if blank && m.start() == 0 {
                    0
                } else if blank && m.end() == s.len() {
                    usize::MAX
                } else {
                    let i = field;
                    field += 1;
                    i
                };
                cost += str_cost(m.as_str()) + 32;
                self.fits(cost).map_err(Err)?;
                found.push((i, m.as_str().to_owned()));
            }
            for f in &mut found {
                if f.0 == usize::MAX {
                    f.0 = field;
                }
            }
        }
        for (i, sep) in found {
            self.set_elem(seps, i.to_string(), Val::StrNum(sep))
                .map_err(Err)?;
        }
        Ok(())
    }
}

/// gawk's order for `asort`: numbers (numerically) before strings (bytewise).
fn value_order(a: &Val, b: &Val) -> Ordering {
    let num = |v: &Val| match v {
        Val::Num(n) => Some(*n),
        Val::StrNum(s) => looks_numeric(s),
        Val::Str(_) => None,
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.str().cmp(&b.str()),
    }
}
