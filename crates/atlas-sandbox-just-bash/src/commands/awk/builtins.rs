//! Rules gawk checks that the evaluator would otherwise let pass: how many arguments each
//! builtin takes, `match()`'s third argument (gawk's capture array), and a division by a
//! literal zero.

use super::ast::Expr;
use super::value::Val;
use super::{Awk, ER, err};

/// gawk rejects a builtin called with a wrong number of arguments when it parses the program;
/// ignoring the extra ones instead (`substr(s, 1, 2, 3)`) would print an answer gawk never gives.
pub(super) fn check_arity(name: &str, n: usize) -> Result<(), String> {
    let (min, max) = match name {
        "length" | "srand" | "fflush" => (0, 1),
        "rand" => (0, 0),
        "substr" | "sub" | "gsub" | "match" => (2, 3),
        "index" | "atan2" => (2, 2),
        "split" => (2, 4),
        "gensub" => (3, 4),
        "asort" | "asorti" => (1, 3),
        "close" => (1, 2),
        // gawk parses `sprintf()` and fails when it runs.
        "sprintf" => (0, usize::MAX),
        _ => (1, 1),
    };
    if n < min || n > max {
        return Err(format!("{n} is invalid as number of arguments for {name}"));
    }
    Ok(())
}

/// gawk folds `x / 0` and `x % 0` with a literal zero divisor (`-0` too, not `+0` or `(0)`)
/// while it parses the program: an error (status 1) before anything runs, not a fatal one
/// (status 2) after BEGIN printed.
pub(super) fn is_literal_zero(e: &Expr) -> bool {
    match e {
        Expr::Num(n) => *n == 0.0,
        Expr::Unary("-", inner) => matches!(**inner, Expr::Num(n) if n == 0.0),
        _ => false,
    }
}

impl Awk<'_, '_, '_> {
    /// gawk's `match(s, re, arr)`: `arr` is emptied, then holds the match (0) and each group
    /// that took part, with `arr[i, "start"]` and `arr[i, "length"]`.
    pub(super) fn match_captures(
        &mut self,
        target: &Expr,
        re: &super::re::AwkRe,
        s: &str,
    ) -> ER<()> {
        let Expr::Var(arr) = target else {
            return err("match: third argument is not an array");
        };
        let arr: &str = &self.resolved(arr);
        if self.vars.contains_key(arr) {
            return err("match: third argument is not an array");
        }
        if let Some(old) = self.arrays.remove(arr) {
            self.bytes = self.bytes.saturating_sub(Self::array_cost(&old));
        }
        self.arrays.entry(arr.to_owned()).or_default();
        let Some(caps) = re.captures(s) else {
            return Ok(());
        };
        let sep = self.vars.get("SUBSEP").map(Val::str).unwrap_or_default();
        for (i, m) in caps.iter().enumerate() {
            let Some(m) = m else { continue };
            let start = self.text_len(&s[..m.start()]) as f64 + 1.0;
            let len = self.text_len(m.as_str()) as f64;
            self.set_elem(arr, i.to_string(), Val::StrNum(m.as_str().to_owned()))
                .map_err(Err)?;
            self.set_elem(arr, format!("{i}{sep}start"), Val::Num(start))
                .map_err(Err)?;
            self.set_elem(arr, format!("{i}{sep}length"), Val::Num(len))
                .map_err(Err)?;
        }
        Ok(())
    }
}
