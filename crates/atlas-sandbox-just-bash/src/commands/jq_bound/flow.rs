//! Bounds of the constructs that loop inside jaq: `reduce`/`foreach`, `range`, local `def`s,
//! `recurse` and `combinations`. Each is accepted only where a sound upper bound exists;
//! otherwise it is refused by name (`Bound::refuse`), never run unbounded.

use std::rc::Rc;

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Def, Pattern, Term};
use jaq_core::path::Part;

use super::{Bound, NODE, O, V, max, mul, scalar};

/// A name a call may resolve to before the builtins: a local `def`, or a filter argument of the
/// `def` being analysed (its term, analysed where the call was written).
#[derive(Clone)]
pub(super) struct FnBind<'a> {
    pub name: &'a str,
    pub arity: usize,
    pub kind: Kind<'a>,
}

#[derive(Clone)]
pub(super) enum Kind<'a> {
    Def {
        def: &'a Def<&'a str, Term<&'a str>>,
        /// Variables in scope where it was defined.
        vars: usize,
    },
    Param {
        term: &'a Term<&'a str>,
        scope: Rc<Scope<'a>>,
        /// Definitions being expanded where the argument was written: a call inside the
        /// argument is recursive only if it was recursive there.
        active: usize,
    },
}

pub(super) struct Scope<'a> {
    pub vars: Vec<(&'a str, V)>,
    pub fns: Vec<FnBind<'a>>,
}

/// Most times a fold's bound is iterated before the remaining ones are extrapolated at a fixed
/// point; past it without one, the fold is refused (the analysis itself must stay cheap).
const MAX_FOLD_ITERATIONS: f64 = 1e6;
/// Nested expanded calls at most (each nests the analysis on the stack).
const MAX_CALL_DEPTH: usize = 400;
/// Scope entries copied for calls being expanded, at most (about 50 bytes each).
const MAX_HELD: usize = 200_000;
/// Folds this short are iterated exactly, numbers included (a sum stays usable as a bound).
const EXACT_FOLD_ITERATIONS: f64 = 1000.0;

impl<'a> Bound<'a> {
    pub(super) fn inf() -> O {
        O {
            n: f64::INFINITY,
            v: V {
                s: f64::INFINITY,
                str: f64::INFINITY,
                num: f64::INFINITY,
                shape: None,
            },
            tot: None,
        }
    }

    /// Refuses the filter, naming `what` (the first reason found is the one reported).
    pub(super) fn refuse(&mut self, what: String) -> O {
        self.refused.get_or_insert(what);
        Self::inf()
    }

    fn with_scope<T>(
        &mut self,
        vars: Vec<(&'a str, V)>,
        fns: Vec<FnBind<'a>>,
        f: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let old_vars = std::mem::replace(&mut self.vars, vars);
        let old_fns = std::mem::replace(&mut self.fns, fns);
        let r = f(self);
        self.vars = old_vars;
        self.fns = old_fns;
        r
    }

    pub(super) fn defs(
        &mut self,
        defs: &'a [Def<&'a str, Term<&'a str>>],
        body: &'a Term<&'a str>,
        v: V,
        mult: f64,
    ) -> O {
        let len = self.fns.len();
        for def in defs {
            self.fns.push(FnBind {
                name: def.name,
                arity: def.args.len(),
                kind: Kind::Def {
                    def,
                    vars: self.vars.len(),
                },
            });
        }
        let o = self.t(body, v, mult);
        self.fns.truncate(len);
        o
    }

    /// A call to a local `def` or a filter argument, or `None` for a builtin.
    pub(super) fn local_call(
        &mut self,
        name: &str,
        args: &'a [Term<&'a str>],
        v: V,
        mult: f64,
    ) -> Option<O> {
        let i = self
            .fns
            .iter()
            .rposition(|f| f.name == name && f.arity == args.len())?;
        // Each expanded call nests the analysis once more on the stack.
        if self.calls >= MAX_CALL_DEPTH {
            return Some(self.refuse(format!(
                "definitions calling each other more than {MAX_CALL_DEPTH} deep (too deep to bound)"
            )));
        }
        let bind = self.fns[i].clone();
        self.calls += 1;
        let o = self.expand(bind, i, args, v, mult);
        self.calls -= 1;
        Some(o)
    }

    fn expand(
        &mut self,
        bind: FnBind<'a>,
        i: usize,
        args: &'a [Term<&'a str>],
        v: V,
        mult: f64,
    ) -> O {
        match bind.kind {
            Kind::Param {
                term,
                scope,
                active,
            } => {
                let copied = scope.vars.len() + scope.fns.len();
                if self.held + copied > MAX_HELD {
                    return self.refuse(
                        "definitions this many and this deep (too large to bound)".to_owned(),
                    );
                }
                self.fuel = self.fuel.saturating_sub(copied as u64);
                self.held += copied;
                let outer = self.active.split_off(active.min(self.active.len()));
                let o = self.with_scope(scope.vars.clone(), scope.fns.clone(), |b| {
                    b.t(term, v, mult)
                });
                self.active.extend(outer);
                self.held -= copied;
                o
            }
            Kind::Def { def, vars } => {
                let key = std::ptr::from_ref(def) as usize;
                if self.active.contains(&key) {
                    return self.refuse(format!(
                        "the recursive definition `{}/{}` (recursion cannot be bounded by the execution limits)",
                        def.name,
                        def.args.len()
                    ));
                }
                // `def f($x): body` is `def f(x): x as $x | body`: once per output of `x`.
                let mut n = 1.0;
                let mut new_vars = self.vars[..vars.min(self.vars.len())].to_vec();
                for (p, a) in def.args.iter().zip(args) {
                    if p.starts_with('$') {
                        let o = self.t(a, v, mul(mult, n));
                        n = mul(n, o.n);
                        new_vars.push((*p, o.v));
                    }
                }
                let caller = (!args.is_empty()).then(|| {
                    Rc::new(Scope {
                        vars: self.vars.clone(),
                        fns: self.fns.clone(),
                    })
                });
                let mut new_fns = self.fns[..=i].to_vec();
                if let Some(scope) = &caller {
                    for (p, a) in def.args.iter().zip(args) {
                        new_fns.push(FnBind {
                            name: p.strip_prefix('$').unwrap_or(p),
                            arity: 0,
                            kind: Kind::Param {
                                term: a,
                                scope: scope.clone(),
                                active: self.active.len(),
                            },
                        });
                    }
                }
                // The copied scopes are held until the call's analysis ends: their sizes are
                // the analysis's memory, kept small.
                let copied = new_vars.len()
                    + new_fns.len()
                    + caller.as_ref().map_or(0, |c| c.vars.len() + c.fns.len());
                if self.held + copied > MAX_HELD {
                    return self.refuse(
                        "definitions this many and this deep (too large to bound)".to_owned(),
                    );
                }
                self.fuel = self.fuel.saturating_sub(copied as u64);
                self.held += copied;
                self.active.push(key);
                let o = self.with_scope(new_vars, new_fns, |b| b.t(&def.body, v, mul(mult, n)));
                self.active.pop();
                self.held -= copied;
                O {
                    n: mul(n, o.n),
                    ..o
                }
            }
        }
    }

    /// `reduce xs as $x (init; update)` and `foreach xs as $x (init; update; extract)`: the
    /// update's bound iterated once per value of `xs` from the init's, its cost summed.
    pub(super) fn fold(
        &mut self,
        kind: &str,
        xs: &'a Term<&'a str>,
        pat: &'a Pattern<&'a str>,
        args: &'a [Term<&'a str>],
        v: V,
        mult: f64,
    ) -> O {
        let (Some(init), Some(update)) = (args.first(), args.get(1)) else {
            return self.refuse(format!("this form of `{kind}`"));
        };
        // jaq runs the rest of the fold once per value an update yields (jq 1.6 keeps the last
        // one, or null for none): only updates that surely yield one value agree.
        let mut budget = 100_000;
        if !self.one(update, &self.fns, &[], &mut budget, 0) {
            return self.refuse(format!(
                "`{kind}` whose update may yield no value or several (jaq runs the rest once per value, jq 1.6 keeps the last or null)"
            ));
        }
        // jq 1.6's grammar takes only a postfix term as the source: `reduce if ...`,
        // `reduce try ...`, `reduce -1 ...` are its syntax errors, which jaq parses.
        if matches!(
            xs,
            Term::IfThenElse(..)
                | Term::Fold(..)
                | Term::TryCatch(..)
                | Term::Neg(_)
                | Term::Label(..)
                | Term::Def(..)
        ) {
            return self.refuse(format!(
                "`{kind}` over a source that is not in parentheses (jq 1.6 rejects an `if`, `try`, `reduce`, `foreach`, `label`, `def` or `-` there)"
            ));
        }
        // jq 1.6 runs the source on `null` instead of the input for every value of the init
        // after the first (`[1,2] | reduce .[] as $x (0, 10; . + $x)` is 3, then an error).
        let mut budget = 100_000;
        if !self.one(init, &self.fns, &[], &mut budget, 0) {
            return self.refuse(format!(
                "`{kind}` whose initial value may be several values (jq 1.6 runs the source on null for the later ones)"
            ));
        }
        let src = self.t(xs, v, mult);
        let init = self.t(init, v, mult);
        let each = mul(mult, init.n);
        let count = src.n.ceil();
        if mul(each, count) > self.max_steps {
            self.work += mul(each, count);
            return Self::inf();
        }
        if count.is_nan() || count > MAX_FOLD_ITERATIONS {
            return self.refuse(format!(
                "`{kind}` over more than {MAX_FOLD_ITERATIONS} values (too long to bound)"
            ));
        }
        let len = self.vars.len();
        self.bind(pat, src.v);
        let mut acc = init.v;
        let mut seen = init.v;
        let mut outs = 0.0;
        let mut i = 0.0;
        while i < count {
            let before = self.work;
            let o = self.t(update, acc, each);
            let mut last = 1.0;
            if let Some(extract) = args.get(2) {
                let e = self.t(extract, o.v, each);
                last = e.n;
                seen = max(seen, e.v);
            }
            outs += last;
            let step = self.work - before;
            i += 1.0;
            let next = max(acc, o.v);
            seen = max(seen, next);
            if self.refused.is_some()
                || self.fuel == 0
                || next.s > self.max_bytes
                || self.work > self.max_steps
            {
                self.vars.truncate(len);
                // Reported as what passed its limit (the bytes here, the steps otherwise).
                return O {
                    n: init.n,
                    v: next,
                    tot: None,
                };
            }
            // A shape lost on the way is a change too: the next update sees a value whose
            // insides are bounded by the whole, and may build more from it.
            let same = next.s <= acc.s && next.str <= acc.str && next.shape == acc.shape;
            if same && next.num <= acc.num {
                // A fixed point: every further iteration costs at most what this one did.
                self.work += mul(count - i, step);
                outs += mul(count - i, last);
                break;
            }
            // Sizes settled while a number still grows: widen it, so that the next iteration
            // either reaches a fixed point or shows what an unbounded number does.
            acc = if same && count - i > EXACT_FOLD_ITERATIONS {
                V {
                    num: f64::INFINITY,
                    ..next
                }
            } else {
                next
            };
        }
        self.vars.truncate(len);
        match kind {
            "foreach" => O {
                n: mul(init.n, outs.max(1.0)),
                v: seen,
                tot: None,
            },
            _ => O {
                n: init.n,
                v: max(acc, init.v),
                tot: None,
            },
        }
    }

    /// Bounds of the looping builtins, or `None` for the others. `n` is the product of the
    /// argument's output counts, `arg_vals` their values.
    pub(super) fn loop_builtin(
        &mut self,
        name: &str,
        args: &'a [Term<&'a str>],
        n: f64,
        arg_vals: &[V],
        v: V,
        mult: f64,
    ) -> Option<O> {
        let arg = |i: usize| arg_vals.get(i).map_or(0.0, |a| a.num);
        let elements = Self::elements(v);
        let o = match (name, args.len()) {
            ("range", 1..=3) => {
                let (from, to) = match args.len() {
                    1 => (0.0, arg(0)),
                    _ => (arg(0), arg(1)),
                };
                let by = match args.get(2) {
                    None => 1.0,
                    Some(t) => match literal_num(t) {
                        Some(by) => by.abs(),
                        None => {
                            return Some(self.refuse(
                                "`range/3` with a step that is not a number literal (its count cannot be bounded)".to_owned(),
                            ));
                        }
                    },
                };
                // Every value lies between -from and to (or the other way round).
                let count = if by == 0.0 {
                    0.0
                } else {
                    (from + to) / by + 1.0
                };
                O {
                    n: mul(n, count.ceil()),
                    v: scalar(from + to + by),
                    tot: None,
                }
            }
            ("recurse" | "recurse_down", 0) => self.t_recurse(v, n),
            ("recurse", 1) => {
                if !descends(&args[0]) {
                    return Some(self.refuse(
                        "`recurse(f)` with f other than a descent into the value such as `.[]?` or `.children[]?` (it may never end)"
                            .to_owned(),
                    ));
                }
                // f runs once on every value yielded; its bound on the whole input covers each.
                let before = self.work;
                let _ = self.t(&args[0], v, mult);
                let step = self.work - before;
                self.work += mul(elements, step);
                self.t_recurse(v, n)
            }
            ("recurse", _) => {
                return Some(self.refuse(format!("`recurse/{}` (it may never end)", args.len())));
            }
            // The lengths of the arrays multiply; with at most `elements` elements in all,
            // their product is at most 3^(elements/3).
            ("combinations", 0) => {
                let count = 3f64.powf(elements / 3.0);
                self.work += mul(mult, mul(count, elements));
                O {
                    n: mul(n, count),
                    v: V {
                        s: v.s + NODE,
                        ..super::shape::plain(v)
                    },
                    tot: None,
                }
            }
            ("combinations", 1) => {
                // jq's `limit` takes all of `repeat` for a negative count: only a literal count
                // is bounded.
                let Some(k) = literal_num(&args[0]).filter(|k| *k >= 0.0).map(f64::ceil) else {
                    return Some(self.refuse(
                        "`combinations(n)` with n other than a non-negative number literal (its count cannot be bounded)"
                            .to_owned(),
                    ));
                };
                let count = elements.powf(k);
                self.work += mul(mult, mul(count, k));
                O {
                    n: mul(n, count),
                    v: V {
                        s: mul(k, v.s) + NODE,
                        ..super::shape::plain(v)
                    },
                    tot: None,
                }
            }
            // The values read before the filter ran, at most all of them.
            ("input", 0) => O {
                n,
                v: self.input,
                tot: None,
            },
            ("inputs", 0) => O {
                n: mul(n, self.inputs),
                v: self.input,
                tot: None,
            },
            ("env", 0) => O {
                n,
                v: self.var("$ENV").unwrap_or(scalar(0.0)),
                tot: None,
            },
            _ => return None,
        };
        Some(o)
    }

    /// `..`: every value inside the input, each byte in at most depth + 1 of them.
    pub(super) fn t_recurse(&self, v: V, n: f64) -> O {
        O {
            tot: Some(mul(n, mul(v.s, self.depth + 1.0))),
            n: mul(n, Self::elements(v)),
            v,
        }
    }

    pub(super) fn var(&self, x: &str) -> Option<V> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| *n == x)
            .map(|(_, v)| *v)
    }

    /// Whether `t` surely yields exactly one value (or an error) for one input, its names
    /// resolved in `fns` (`blocked`: filter arguments of the definition being looked into,
    /// unknown here). Conservative: `false` when unsure, or once `budget` terms were looked at.
    fn one(
        &self,
        t: &Term<&'a str>,
        fns: &[FnBind<'a>],
        blocked: &[&str],
        budget: &mut u32,
        depth: usize,
    ) -> bool {
        // `depth` counts definitions looked into: a recursive one would never end.
        if *budget == 0 || depth >= MAX_CALL_DEPTH {
            return false;
        }
        *budget -= 1;
        let mut one = |t: &Term<&'a str>| self.one(t, fns, blocked, budget, depth);
        match t {
            Term::Id | Term::Num(_) | Term::Var(_) | Term::Arr(_) => true,
            Term::Recurse | Term::Break(_) | Term::Label(..) => false,
            Term::Str(_, parts) => parts.iter().all(|p| match p {
                StrPart::Term(t) => one(t),
                _ => true,
            }),
            Term::Obj(kvs) => kvs
                .iter()
                .all(|(k, v)| one(k) && v.as_ref().is_none_or(&mut one)),
            Term::Neg(f) => one(f),
            Term::BinOp(l, op, r) => match op {
                BinaryOp::Comma => false,
                // `l |= f` yields the input once, whatever the paths; `l = r`, `l += r`,
                // `l //= r` once per value of `r`.
                BinaryOp::Update => true,
                BinaryOp::Assign | BinaryOp::UpdateMath(_) | BinaryOp::UpdateAlt => one(r),
                _ => one(l) && one(r),
            },
            Term::Fold(kind, _, _, args) => *kind == "reduce" && args.first().is_some_and(&mut one),
            Term::TryCatch(b, c) => c.as_ref().is_some_and(|c| one(b) && one(c)),
            Term::IfThenElse(branches, els) => {
                branches.iter().all(|(c, t)| one(c) && one(t))
                    && els.as_ref().is_none_or(|e| one(e))
            }
            // Local definitions shadow what `fns` says of their names.
            Term::Def(defs, body) => {
                let mut inner = fns.to_vec();
                inner.extend(defs.iter().map(|def| FnBind {
                    name: def.name,
                    arity: def.args.len(),
                    kind: Kind::Def { def, vars: 0 },
                }));
                self.one(body, &inner, blocked, budget, depth + 1)
            }
            Term::Path(base, path) => {
                one(base)
                    && path.0.iter().all(|(part, opt)| {
                        matches!(opt, jaq_core::path::Opt::Essential)
                            && match part {
                                Part::Index(i) => one(i),
                                Part::Range(None, None) => false,
                                Part::Range(a, b) => {
                                    a.as_ref().is_none_or(&mut one)
                                        && b.as_ref().is_none_or(&mut one)
                                }
                            }
                    })
            }
            Term::Call(name, args) => {
                if blocked.contains(name) {
                    return false;
                }
                if let Some(j) = fns.iter().rposition(|f| f.name == *name) {
                    let f = fns[j].clone();
                    if f.arity != args.len() || !args.iter().all(&mut one) {
                        return false;
                    }
                    return match &f.kind {
                        Kind::Def { def, .. } => {
                            let params: Vec<&str> = def
                                .args
                                .iter()
                                .map(|p| p.strip_prefix('$').unwrap_or(p))
                                .collect();
                            self.one(&def.body, &fns[..=j], &params, budget, depth + 1)
                        }
                        Kind::Param { term, scope, .. } => {
                            self.one(term, &scope.fns, &[], budget, depth + 1)
                        }
                    };
                }
                // Builtins that collect their argument's values into one.
                const COLLECTS: &[&str] = &[
                    "map",
                    "map_values",
                    "sort_by",
                    "group_by",
                    "unique_by",
                    "min_by",
                    "max_by",
                    "any",
                    "all",
                    "isempty",
                    "with_entries",
                    "del",
                ];
                // Builtins that yield one value for one value of each argument.
                const ONE: &[&str] = &[
                    "length",
                    "utf8bytelength",
                    "not",
                    "keys",
                    "keys_unsorted",
                    "has",
                    "in",
                    "contains",
                    "inside",
                    "startswith",
                    "endswith",
                    "ltrimstr",
                    "rtrimstr",
                    "tostring",
                    "tonumber",
                    "tojson",
                    "fromjson",
                    "type",
                    "floor",
                    "ceil",
                    "round",
                    "sqrt",
                    "fabs",
                    "abs",
                    "log",
                    "log2",
                    "log10",
                    "exp",
                    "exp2",
                    "exp10",
                    "pow",
                    "min",
                    "max",
                    "add",
                    "flatten",
                    "sort",
                    "unique",
                    "reverse",
                    "to_entries",
                    "from_entries",
                    "join",
                    "split",
                    "ascii_downcase",
                    "ascii_upcase",
                    "test",
                    "explode",
                    "implode",
                    "todate",
                    "fromdate",
                    "now",
                    "strftime",
                    "strptime",
                    "mktime",
                    "gmtime",
                    "todateiso8601",
                    "fromdateiso8601",
                    "delpaths",
                    "setpath",
                    "getpath",
                    "transpose",
                    "indices",
                    "index",
                    "rindex",
                    "sub",
                    "gsub",
                    "env",
                    "infinite",
                    "nan",
                    "null",
                    "true",
                    "false",
                    "isnan",
                    "isinfinite",
                    "isnormal",
                    "error",
                    "significand",
                    "logb",
                    "trunc",
                    "walk",
                    "halt_error",
                    "input",
                    "input_line_number",
                    "input_filename",
                    "IN",
                    "bsearch",
                    "format",
                    "INDEX",
                    "last",
                    "nth",
                    "get_search_list",
                    "sin",
                    "cos",
                    "tan",
                    "asin",
                    "acos",
                    "atan",
                    "sinh",
                    "cosh",
                    "tanh",
                    "asinh",
                    "acosh",
                    "atanh",
                    "exp2",
                    "log1p",
                    "expm1",
                    "cbrt",
                    "rint",
                    "nearbyint",
                    "gamma",
                    "lgamma",
                    "tgamma",
                    "frexp",
                    "modf",
                    "j0",
                    "j1",
                    "y0",
                    "y1",
                    "erf",
                    "erfc",
                    "atan2",
                    "fmin",
                    "fmax",
                    "fmod",
                    "ldexp",
                    "scalb",
                    "scalbln",
                    "nextafter",
                    "nexttoward",
                    "copysign",
                    "drem",
                    "fdim",
                    "hypot",
                    "fma",
                    "ascii",
                    "todateiso8601",
                    "dateadd",
                    "datesub",
                    "date",
                ];
                COLLECTS.contains(name) || (ONE.contains(name) && args.iter().all(&mut one))
            }
        }
    }
}

/// The number literal `t` is (`2`, `-1`), if it is one.
pub(super) fn literal_num(t: &Term<&str>) -> Option<f64> {
    match t {
        Term::Num(x) => x.parse().ok(),
        Term::Neg(t) => literal_num(t).map(|x| -x),
        _ => None,
    }
}

/// Whether `t` is a path that goes strictly down into the value at each run: fixed keys or
/// indices and at least one iteration (`.[]`, `.children[]?`). A key alone does not shrink
/// `null` (`null | .a` is `null`), so `recurse(.a)` never ends on it.
fn descends(t: &Term<&str>) -> bool {
    fn iterations(t: &Term<&str>) -> Option<usize> {
        match t {
            Term::Id => Some(0),
            Term::TryCatch(b, None) => iterations(b),
            Term::BinOp(l, BinaryOp::Pipe(None), r) => Some(iterations(l)? + iterations(r)?),
            Term::Path(base, path) => {
                let mut k = iterations(base)?;
                for (part, _) in &path.0 {
                    match part {
                        Part::Range(None, None) => k += 1,
                        Part::Index(i) if fixed(i) => {}
                        _ => return None,
                    }
                }
                Some(k)
            }
            _ => None,
        }
    }
    fn fixed(t: &Term<&str>) -> bool {
        match t {
            // Not a variable: an array index yields the positions of a sub-array, a new value.
            Term::Num(_) => true,
            Term::Str(None, parts) => parts.iter().all(|p| !matches!(p, StrPart::Term(_))),
            _ => false,
        }
    }
    iterations(t).is_some_and(|k| k > 0)
}
