//! A static bound on the work and the memory of a jq filter, computed before jaq runs it.
//!
//! jaq has no fuel and no allocation hook: once `filter.run` starts, a cross product
//! (`[.[] as $a | .[] as $b | ...]`), a string repetition (`"x" * 1e9`) or a huge index
//! (`.[1e9] = 1`) cannot be interrupted. So the filter's syntax tree (jaq's own parser) is
//! walked once with the measured input: every term gets an upper bound on how many outputs it
//! yields and how big they can be (bytes in memory, longest string, largest number), and the
//! filter is refused when the bound passes the step budget or the exec's remaining memory.
//! The bounds over-approximate (a filter refused here might have fit); they never
//! under-approximate. A construct with no sound bound here (a recursive `def`, a fold whose
//! update may fork) is refused by name (`TooBig::Unsupported`).

mod arith;
mod flow;
mod names;
mod shape;

use arith::{math, out_num};

use flow::FnBind;
pub(super) use shape::{LEVELS, Shape};

use jaq_core::load::lex::{Lexer, StrPart};
use jaq_core::load::parse::{BinaryOp, Parser, Pattern, Term};
use jaq_core::ops::Math;
use jaq_core::path::Part;

/// What is known of a value: an upper bound on its bytes in memory, on the longest string and
/// the largest number anywhere inside it.
#[derive(Debug, Clone, Copy)]
pub(super) struct V {
    pub s: f64,
    pub str: f64,
    pub num: f64,
    /// The insides, when known (the measured input; arrays of known elements).
    pub shape: Option<Shape>,
}

/// A term's outputs: at most `n` of them, each within `v`, all together at most `tot` bytes
/// when known (the elements of a container add up to the container, not to `n` times it).
#[derive(Debug, Clone, Copy)]
struct O {
    n: f64,
    v: V,
    tot: Option<f64>,
}

impl O {
    fn total(&self) -> f64 {
        let all = mul(self.n, self.v.s);
        self.tot.map_or(all, |t| t.min(all))
    }
}

/// Smallest value (a number, `null`, a short string).
const NODE: f64 = 32.0;

fn mul(x: f64, y: f64) -> f64 {
    if x == 0.0 || y == 0.0 { 0.0 } else { x * y }
}

fn max(a: V, b: V) -> V {
    V {
        s: a.s.max(b.s),
        str: a.str.max(b.str),
        num: a.num.max(b.num),
        shape: shape::join(a.shape, b.shape),
    }
}

fn scalar(num: f64) -> V {
    V {
        s: NODE,
        str: 0.0,
        num,
        shape: None,
    }
}

struct Bound<'s> {
    /// Evaluation steps: outputs of every term times how often the term runs.
    work: f64,
    /// The biggest value any term may build.
    peak: f64,
    vars: Vec<(&'s str, V)>,
    /// Path length of the deepest input (for `paths`, `tostream`...).
    depth: f64,
    /// Local definitions and filter arguments in scope, innermost last.
    fns: Vec<FnBind<'s>>,
    /// The definitions being expanded (their addresses): calling one again is recursion.
    active: Vec<usize>,
    /// Calls being expanded, filter arguments included: the analysis recurses once per call.
    calls: usize,
    /// Scope entries copied by the calls being expanded.
    held: usize,
    /// Why the filter is refused by name, when it is.
    refused: Option<String>,
    /// A filter jq 1.6 does not define (`name/arity`): its compile error, not a refusal.
    undefined: Option<String>,
    /// Terms the analysis may still visit: expanding definitions and iterating folds is
    /// itself work, kept bounded.
    fuel: u64,
    max_steps: f64,
    max_bytes: f64,
    /// What `input` and `inputs` may read: this many values, each within `input`.
    inputs: f64,
    input: V,
}

/// Terms visited at most by one analysis.
const FUEL: u64 = 4_000_000;

/// Names that run their filter argument once per element of their input.
const ITERATES: &[&str] = &[
    "map",
    "INDEX",
    "map_values",
    "with_entries",
    "walk",
    "sort_by",
    "group_by",
    "unique_by",
    "min_by",
    "max_by",
    "any",
    "all",
    "del",
    "to_entries",
    "from_entries",
    "add",
];

/// Names that yield one output per element or match of their input.
const PER_ELEMENT: &[&str] = &[
    "paths",
    "leaf_paths",
    "tostream",
    "splits",
    "scan",
    "match",
    "capture",
];

impl<'s> Bound<'s> {
    fn elements(v: V) -> f64 {
        (v.s / NODE).max(1.0)
    }

    /// How many values `.[]` yields on `v` at most.
    fn children(v: V) -> f64 {
        shape::children(v).map_or(Self::elements(v), |c| c.min(Self::elements(v)))
    }

    fn note(&mut self, mult: f64, o: O) -> O {
        self.work += mul(mult, o.n.max(1.0));
        self.peak = self.peak.max(o.v.s);
        o
    }

    fn bind(&mut self, p: &'s Pattern<&'s str>, v: V) {
        match p {
            Pattern::Var(x) => self.vars.push((x, v)),
            // Destructuring binds values one level inside (or null).
            Pattern::Arr(ps) => ps.iter().for_each(|p| self.bind(p, shape::child(v, true))),
            Pattern::Obj(kvs) => kvs
                .iter()
                .for_each(|(_, p)| self.bind(p, shape::child(v, true))),
        }
    }

    fn t(&mut self, term: &'s Term<&'s str>, v: V, mult: f64) -> O {
        if self.fuel == 0 || self.refused.is_some() {
            return Self::inf();
        }
        self.fuel -= 1;
        let o = self.t_inner(term, v, mult);
        self.note(mult, o)
    }

    fn t_inner(&mut self, term: &'s Term<&'s str>, v: V, mult: f64) -> O {
        let one = |v| O {
            n: 1.0,
            v,
            tot: None,
        };
        match term {
            Term::Id => one(v),
            // Every byte of the input is inside at most depth + 1 of the values `..` yields:
            // together they are that many times the input, not one input per value.
            Term::Recurse => self.t_recurse(v, 1.0),
            Term::Num(x) => one(scalar(x.parse::<f64>().map_or(f64::INFINITY, f64::abs))),
            Term::Str(Some(fmt), _) if !names::known_format(fmt) => {
                self.refuse(format!("the format `{fmt}` (jq 1.6: not a valid format)"))
            }
            Term::Str(fmt, parts) => {
                let (mut n, mut len) = (1.0, 0.0);
                for p in parts {
                    match p {
                        StrPart::Str(s) => len += s.len() as f64,
                        StrPart::Char(_) => len += 4.0,
                        StrPart::Term(t) => {
                            let o = self.t(t, v, mult);
                            n = mul(n, o.n);
                            // Interpolation prints the value: its text is at most its size.
                            len += o.v.s;
                        }
                    }
                }
                if fmt.is_some() {
                    // `@html`, `@uri`, `@sh`... expand a character into at most 6.
                    len = len.max(v.s) * 6.0;
                }
                O {
                    tot: None,
                    n,
                    v: V {
                        s: len + NODE,
                        str: len,
                        num: len,
                        shape: None,
                    },
                }
            }
            Term::Arr(None) => one(scalar(0.0)),
            Term::Arr(Some(f)) => {
                let o = self.t(f, v, mult);
                one(shape::array_of(o.n, o.v, o.total() + NODE))
            }
            Term::Obj(kvs) => {
                let (mut n, mut acc) = (1.0, scalar(0.0));
                for (k_term, val) in kvs {
                    let k = self.t(k_term, v, mult);
                    // `{a}` is `{a: .a}`, `{$x}` is `{x: $x}`.
                    let val = match (val, k_term) {
                        (Some(val), _) => self.t(val, v, mult),
                        (None, Term::Var(x)) => one(self.var(x).unwrap_or(v)),
                        (None, _) => one(shape::child(v, true)),
                    };
                    n = mul(n, mul(k.n, val.n));
                    acc = V {
                        s: acc.s + k.v.s + val.v.s,
                        str: acc.str.max(k.v.str).max(val.v.str),
                        num: acc.num.max(k.v.num).max(val.v.num),
                        shape: None,
                    };
                }
                O {
                    n,
                    v: acc,
                    tot: None,
                }
            }
            Term::Neg(f) => self.t(f, v, mult),
            Term::BinOp(l, op, r) => self.binop(l, op, r, v, mult),
            Term::Label(_, f) => self.t(f, v, mult),
            Term::Break(_) => O {
                tot: None,
                n: 0.0,
                v: scalar(0.0),
            },
            Term::Fold(kind, xs, pat, args) => self.fold(kind, xs, pat, args, v, mult),
            Term::Def(defs, body) => self.defs(defs, body, v, mult),
            Term::TryCatch(b, c) => {
                let b = self.t(b, v, mult);
                match c {
                    Some(c) => {
                        let c = self.t(c, v, mult);
                        O {
                            tot: None,
                            n: b.n + c.n,
                            v: max(b.v, c.v),
                        }
                    }
                    None => b,
                }
            }
            Term::IfThenElse(branches, els) => {
                let (mut n, mut acc) = (0.0, scalar(0.0));
                let mut conds = 1.0;
                for (c, t) in branches {
                    let c = self.t(c, v, mult);
                    conds = mul(conds, c.n.max(1.0));
                    let t = self.t(t, v, mul(mult, conds));
                    n = f64::max(n, t.n);
                    acc = max(acc, t.v);
                }
                if let Some(e) = els {
                    let e = self.t(e, v, mul(mult, conds));
                    n = f64::max(n, e.n);
                    acc = max(acc, e.v);
                }
                O {
                    tot: None,
                    n: mul(conds, n.max(1.0)),
                    v: acc,
                }
            }
            Term::Call(name, args) => self.call(name, args, v, mult),
            Term::Var(x) => one(self.var(x).unwrap_or(v)),
            Term::Path(base, path) => {
                let mut o = self.t(base, v, mult);
                for (part, _) in &path.0 {
                    match part {
                        Part::Index(i_term) => {
                            let i = self.t(i_term, v, mul(mult, o.n));
                            o.n = mul(o.n, i.n);
                            if i.n > 1.0 {
                                // Several indices may pick the same value again.
                                o.tot = None;
                            }
                            let exact = matches!(i_term, Term::Str(None, _))
                                || flow::literal_num(i_term).is_some();
                            o.v = shape::child(o.v, exact);
                        }
                        Part::Range(None, None) => {
                            // The elements of each value add up to at most that value.
                            o.tot = Some(o.total());
                            o.n = mul(o.n, Self::children(o.v));
                            o.v = shape::child(o.v, true);
                        }
                        Part::Range(a, b) => {
                            for x in [a, b].into_iter().flatten() {
                                let x = self.t(x, v, mul(mult, o.n));
                                o.n = mul(o.n, x.n);
                            }
                        }
                    }
                }
                o
            }
        }
    }

    /// The largest index a path expression may write to (`.[1e9] = 1` makes 1e9 nulls).
    fn max_index(&mut self, t: &'s Term<&'s str>, v: V) -> f64 {
        match t {
            Term::Path(base, path) => {
                let mut m = self.max_index(base, v);
                for (part, _) in &path.0 {
                    if let Part::Index(i) = part {
                        let save = (self.work, self.peak);
                        m = m.max(self.t(i, v, 1.0).v.num);
                        (self.work, self.peak) = save;
                    }
                }
                m
            }
            Term::BinOp(l, _, r) => self.max_index(l, v).max(self.max_index(r, v)),
            _ => 0.0,
        }
    }

    fn binop(
        &mut self,
        l: &'s Term<&'s str>,
        op: &'s BinaryOp<&'s str>,
        r: &'s Term<&'s str>,
        v: V,
        mult: f64,
    ) -> O {
        match op {
            BinaryOp::Pipe(None) => {
                let a = self.t(l, v, mult);
                let b = self.t(r, a.v, mul(mult, a.n));
                // A right side that builds nothing bigger than its input keeps the total.
                let tot = (b.v.s <= a.v.s).then(|| mul(a.total(), b.n.max(1.0)));
                O {
                    tot,
                    n: mul(a.n, b.n),
                    v: b.v,
                }
            }
            BinaryOp::Pipe(Some(p)) => {
                let a = self.t(l, v, mult);
                let len = self.vars.len();
                self.bind(p, a.v);
                let b = self.t(r, v, mul(mult, a.n));
                self.vars.truncate(len);
                O {
                    tot: None,
                    n: mul(a.n, b.n),
                    v: b.v,
                }
            }
            BinaryOp::Comma | BinaryOp::Alt => {
                let a = self.t(l, v, mult);
                let b = self.t(r, v, mult);
                O {
                    tot: None,
                    n: a.n + b.n,
                    v: max(a.v, b.v),
                }
            }
            BinaryOp::Or | BinaryOp::And | BinaryOp::Cmp(_) => {
                let a = self.t(l, v, mult);
                let b = self.t(r, v, mul(mult, a.n));
                O {
                    tot: None,
                    n: mul(a.n, b.n),
                    v: scalar(1.0),
                }
            }
            BinaryOp::Math(m) => {
                let b = self.t(r, v, mult);
                let a = self.t(l, v, mul(mult, b.n));
                O {
                    tot: None,
                    n: mul(a.n, b.n),
                    v: math(m, a.v, b.v),
                }
            }
            BinaryOp::Assign | BinaryOp::Update | BinaryOp::UpdateMath(_) | BinaryOp::UpdateAlt => {
                let paths = self.t(l, v, mult);
                let idx = self.max_index(l, v);
                // The right side runs on each updated value (`|=`: once per path) or once on
                // the input (`=`, `+=`, `//=`); bound it on the whole input and, for `|=`, on one
                // small value too (its growth is largest at one end).
                let runs = if matches!(op, BinaryOp::Update) {
                    paths.n
                } else {
                    1.0
                };
                let whole = self.t(r, v, mul(mult, runs));
                let small = if matches!(op, BinaryOp::Update) {
                    self.t(
                        r,
                        V {
                            s: NODE,
                            ..shape::plain(v)
                        },
                        mult,
                    )
                } else {
                    whole
                };
                // What one updated path adds to the value: `=` and `//=` put the right side's
                // value there; `+=`... combine it with the old one (a sum grows by its right
                // side); `|=` maps the old value p to f(p), whose growth f(p) - p is largest at
                // one end (the bounds are convex in p): the whole input or one small value.
                // Paths add up: the result is the input plus each path's growth, which keeps a
                // fold like `reduce .[] as $x ({}; .[$x.k] += 1)` linear, not exponential.
                let (growth, per) = match op {
                    BinaryOp::Update => (
                        (whole.v.s - v.s).max(small.v.s - NODE).max(0.0),
                        max(whole.v, small.v),
                    ),
                    BinaryOp::UpdateMath(Math::Div) => {
                        let per = math(&Math::Div, v, whole.v);
                        (per.s + mul(v.str, NODE), per)
                    }
                    BinaryOp::UpdateMath(m) => {
                        let per = math(
                            m,
                            V {
                                s: 0.0,
                                ..shape::plain(v)
                            },
                            whole.v,
                        );
                        (per.s, per)
                    }
                    _ => (whole.v.s, whole.v),
                };
                let s = v.s + mul(paths.n.max(1.0), growth) + mul(idx, NODE);
                let n = if matches!(op, BinaryOp::Assign | BinaryOp::UpdateMath(_)) {
                    whole.n
                } else {
                    1.0
                };
                O {
                    tot: None,
                    n,
                    v: V {
                        s,
                        str: v.str.max(whole.v.str).max(per.str),
                        num: v.num.max(whole.v.num).max(per.num).max(idx),
                        shape: None,
                    },
                }
            }
        }
    }

    fn call(&mut self, name: &str, args: &'s [Term<&'s str>], v: V, mult: f64) -> O {
        if let Some(o) = self.local_call(name, args, v, mult) {
            return o;
        }
        if name.starts_with('@') && !names::known_format(name) {
            return self.refuse(format!("the format `{name}` (jq 1.6: not a valid format)"));
        }
        if names::jaq_only(name, args.len()) {
            self.undefined
                .get_or_insert_with(|| format!("{name}/{}", args.len()));
            return Self::inf();
        }
        let elements = Self::elements(v);
        let mut n = 1.0;
        // What a builtin builds is new: only the filters that give back their input keep its
        // shape (below).
        let mut out = shape::plain(v);
        let mut arg_vals = Vec::new();
        let mut arg_outs: Vec<O> = Vec::new();
        let iterates = ITERATES.contains(&name);
        // `any(gen; cond)`, `all(gen; cond)`, `IN(src; s)`: the second runs once per value of
        // the first.
        let per_value = matches!((name, args.len()), ("any" | "all" | "IN", 2));
        for (i, a) in args.iter().enumerate() {
            let whole = match arg_outs.first() {
                Some(src) if per_value && i == 1 => {
                    let each = max(v, src.v);
                    self.t(a, each, mul(mult, src.n.max(1.0)))
                }
                _ => self.t(a, v, mult),
            };
            arg_outs.push(whole);
            n = mul(n, whole.n.max(1.0));
            out.s += whole.v.s;
            if iterates {
                // `map(f)`, `sort_by(f)`...: f runs once per element; the elements add up to
                // the input, so bound f on one small element, times the elements.
                // With the input's shape known, f runs on one real element, as often as there
                // are elements.
                // `walk` runs f on every value inside, not only the children: it keeps the
                // count of every value. `with_entries` runs f on `{key, value}` entries.
                let known = shape::children(v).filter(|_| name != "walk");
                let (one, count) = match known {
                    Some(c) if name == "with_entries" => {
                        let e = shape::child(v, true);
                        (
                            V {
                                s: e.s + v.str + 3.0 * NODE,
                                shape: None,
                                ..e
                            },
                            c.min(elements),
                        )
                    }
                    Some(c) => (shape::child(v, true), c.min(elements)),
                    None => (
                        V {
                            s: NODE,
                            ..shape::plain(v)
                        },
                        elements,
                    ),
                };
                let small = self.t(a, one, mul(mult, count));
                out.s += mul(count, mul(small.n.max(1.0), small.v.s));
            }
            out.str = out.str.max(whole.v.str);
            out.num = out.num.max(whole.v.num);
            arg_vals.push(whole.v);
        }
        // `paths(f)` runs f on every value inside the input.
        if name == "paths" && args.len() == 1 {
            let before = self.work;
            let _ = self.t(&args[0], v, mult);
            let step = self.work - before;
            self.work += mul(elements, step);
        }
        if let Some(o) = self.loop_builtin(name, args, n, &arg_vals, v, mult) {
            return o;
        }
        let arg = |i: usize| arg_vals.get(i).copied().unwrap_or(scalar(0.0));
        match name {
            "explode" => out.s += mul(v.str, NODE),
            // A string of the same length (anything else is an error).
            "ascii_downcase" | "ascii_upcase" => {}
            "tojson" | "tostring" | "@json" | "@text" | "add" | "join" | "implode" | "fromjson" => {
                out.str = out.str.max(v.s * 2.0);
                out.s += v.s * 2.0;
            }
            "sub" | "gsub" => {
                // Every position of the string may be replaced by the replacement. jaq builds
                // the result by appending one match at a time to a copy (`reduce`): the work
                // grows with the matches times the length; a replacement that yields several
                // outputs multiplies per match.
                let matches = v.str + 1.0;
                let grown = mul(matches, arg(1).str + 1.0);
                out.str = out.str.max(grown);
                out.s += grown;
                self.work += mul(mult, mul(matches, (grown / 1024.0).max(1.0)));
                let per_match = args.get(1).map_or(1.0, |_| n.max(1.0));
                if per_match > 1.0 {
                    n = per_match.powf(matches);
                }
            }
            "test" | "match" | "scan" | "capture" | "splits" | "split" | "ascii" | "indices"
            | "index" | "rindex" => {
                self.work += mul(mult, v.str + 1.0);
            }
            "setpath" => out.s += mul(arg(0).num, NODE) + arg(1).s,
            // Each output is one path: at most as long as the input is deep.
            // An event is a path and one value inside the input.
            "tostream" => {
                out = V {
                    s: 2.0 * (self.depth + 2.0) * NODE + v.s,
                    str: v.str,
                    num: v.num.max(elements),
                    shape: None,
                }
            }
            "paths" | "leaf_paths" | "path" => {
                out = V {
                    s: (self.depth + 1.0) * NODE + out.s - v.s,
                    str: v.str,
                    num: elements,
                    shape: None,
                }
            }
            "to_entries" | "with_entries" | "from_entries" => out.s += v.s * 2.0,
            "transpose" => out.s += mul(elements, elements * NODE),
            "length" | "utf8bytelength" => out.num = out.num.max(v.s),
            "pow" | "exp" | "exp10" | "exp2" | "infinite" | "ldexp" | "scalb" => {
                out.num = f64::INFINITY
            }
            // A negative count takes all of f: only a literal count is trusted.
            // One object of every row, keyed by the key's text; a key filter that yields
            // several keys would fork the fold inside (once per key, for every row).
            "INDEX" => {
                let (rows, key) = match arg_outs.as_slice() {
                    // The key filter runs on each row, which may be bigger than the input.
                    [rows, _] => (*rows, self.t(&args[1], rows.v, mul(mult, rows.n))),
                    [key] => (
                        O {
                            n: Self::children(v),
                            v: shape::child(v, true),
                            tot: Some(v.s),
                        },
                        *key,
                    ),
                    _ => return Self::inf(),
                };
                if key.n > 1.0 {
                    return self.refuse(
                        "`INDEX` with a key filter that may yield several values".to_owned(),
                    );
                }
                n = 1.0;
                out = V {
                    s: rows.total() + mul(rows.n, 2.0 * key.v.s + NODE) + NODE,
                    str: rows.v.str.max(2.0 * key.v.s),
                    num: rows.v.num,
                    shape: None,
                };
            }
            // Each row paired with what it joins (a value of the index).
            "JOIN" => {
                let idx = arg(0);
                let pair = |row: V| V {
                    s: row.s + idx.s + 2.0 * NODE,
                    str: row.str.max(idx.str),
                    num: row.num.max(idx.num),
                    shape: None,
                };
                match arg_outs.as_slice() {
                    [_, key] => {
                        let rows = Self::children(v);
                        out = V {
                            s: v.s + mul(mul(rows, key.n.max(1.0)), idx.s + 2.0 * NODE) + NODE,
                            ..pair(v)
                        };
                        n = 1.0;
                    }
                    [_, rows, _] => {
                        let key = self.t(&args[2], rows.v, mul(mult, rows.n));
                        out = pair(rows.v);
                        n = mul(rows.n, key.n);
                    }
                    [_, rows, _, _] => {
                        let key = self.t(&args[2], rows.v, mul(mult, rows.n));
                        let pairs = mul(rows.n, key.n);
                        let g = self.t(&args[3], pair(rows.v), mul(mult, pairs));
                        out = g.v;
                        n = mul(pairs, g.n);
                    }
                    _ => return Self::inf(),
                }
            }
            // Values rebuilt from the events: at most all of them, each at most all the
            // events' values.
            "fromstream" => {
                if let [events] = arg_outs.as_slice() {
                    out = V {
                        s: events.total() + NODE,
                        shape: None,
                        ..events.v
                    };
                    n = events.n;
                }
            }
            "format" => {
                out.str = out.str.max(v.s * 6.0);
                out.s += v.s * 6.0;
            }
            "get_search_list" | "lgamma_r" => out.s += 256.0,
            "builtins" => out.s += 16384.0,
            // One string (or index) per child.
            "keys" | "keys_unsorted" if args.is_empty() => {
                let kids = Self::children(v);
                let key = V {
                    s: NODE + v.str.max(8.0),
                    str: v.str,
                    num: kids,
                    shape: None,
                };
                out = shape::array_of(kids, key, mul(kids, key.s) + NODE);
            }
            "limit" => {
                if let Some(k) = args
                    .first()
                    .and_then(flow::literal_num)
                    .filter(|k| *k >= 0.0)
                {
                    n = n.min(k.ceil());
                }
            }
            // These give back their input (or nothing): `values`, `objects`... are jaq's
            // `select(...)` of a type.
            "select" | "empty" | "not" | "type" | "has" | "contains" | "inside" | "startswith"
            | "endswith" | "any" | "all" | "isempty" | "values" | "objects" | "arrays"
            | "strings" | "scalars" | "iterables" | "scalars_or_empty" | "IN" | "bsearch" => {
                out = V {
                    s: v.s.min(out.s),
                    shape: v.shape,
                    ..out
                };
                if !matches!(
                    name,
                    "select"
                        | "scalars_or_empty"
                        | "values"
                        | "objects"
                        | "arrays"
                        | "strings"
                        | "scalars"
                        | "iterables"
                ) {
                    out = scalar(out.num.max(v.s));
                }
            }
            _ => {}
        }
        out.num = out_num(name, out.num, v, elements);
        if PER_ELEMENT.contains(&name) || name.starts_with('@') {
            n = mul(n, elements.max(v.str));
        }
        if name == "limit"
            && let Some(k) = args
                .first()
                .and_then(flow::literal_num)
                .filter(|k| *k >= 0.0)
        {
            n = n.min(k.ceil() + 1.0);
        }
        // The events' values are disjoint parts of the input.
        let tot = (name == "tostream").then(|| mul(n, 2.0 * (self.depth + 2.0) * NODE) + v.s);
        O { n, v: out, tot }
    }
}

/// Why a filter is refused.
#[derive(Debug)]
pub(super) enum TooBig {
    Steps(f64),
    Bytes(f64),
    /// A construct with no bound here, named.
    Unsupported(String),
    /// A filter jq 1.6 does not define, as `name/arity`.
    Undefined(String),
}

/// Bounds `code` on `input` (one value of the input, the biggest) with `vars` (`--arg`s),
/// refusing it past `max_steps` steps or `max_bytes` bytes built. `inputs`: how many values
/// `input`/`inputs` may read. A filter jaq cannot parse passes: jaq reports its syntax error
/// itself.
pub(super) fn check(
    code: &str,
    input: V,
    depth: f64,
    vars: &[(String, V)],
    max_steps: f64,
    max_bytes: f64,
    inputs: f64,
) -> Result<(), TooBig> {
    let Ok(tokens) = Lexer::new(code).lex() else {
        return Ok(());
    };
    let Ok(term) = Parser::new(&tokens).parse(|p| p.term()) else {
        return Ok(());
    };
    let mut b = Bound {
        work: 0.0,
        peak: 0.0,
        vars: vars.iter().map(|(n, v)| (n.as_str(), *v)).collect(),
        depth,
        fns: Vec::new(),
        active: Vec::new(),
        calls: 0,
        held: 0,
        refused: None,
        undefined: None,
        fuel: FUEL,
        max_steps,
        max_bytes,
        inputs,
        input,
    };
    let o = b.t(&term, input, 1.0);
    if let Some(what) = b.undefined {
        return Err(TooBig::Undefined(what));
    }
    if let Some(what) = b.refused {
        return Err(TooBig::Unsupported(what));
    }
    if b.fuel == 0 {
        return Err(TooBig::Unsupported(
            "a filter this large once its definitions are expanded (too large to bound)".to_owned(),
        ));
    }
    let peak = b.peak.max(o.v.s);
    if b.work.is_nan() || b.work > max_steps {
        return Err(TooBig::Steps(b.work));
    }
    if peak.is_nan() || peak > max_bytes {
        return Err(TooBig::Bytes(peak));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
