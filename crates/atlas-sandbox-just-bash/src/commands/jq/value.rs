//! The value jq 1.6 computes with, for jaq to run filters on: every number a double (its sign
//! kept, NaN and infinities as they are), objects in insertion order, and jq 1.6's rules and
//! error texts for comparing, arithmetic and indexing. jaq's own value type reads numbers
//! exactly and answers differently in many of these places, which made answers silently wrong.

use std::cmp::Ordering;
use std::fmt;
use std::rc::Rc;

use indexmap::IndexMap;
use jaq_core::box_iter::box_once;
use jaq_core::path::Opt;
use jaq_core::{Error, Exn, ValR as JValR, ValX as JValX};

use super::text;

pub(crate) type Map = IndexMap<Rc<str>, J>;
pub(crate) type ValR = JValR<J>;
pub(crate) type ValX<'a> = JValX<'a, J>;

#[derive(Clone, Debug, Default)]
pub(crate) enum J {
    #[default]
    Null,
    Bool(bool),
    Num(f64),
    Str(Rc<str>),
    Arr(Rc<Vec<J>>),
    Obj(Rc<Map>),
}

/// An error whose value is `msg`, as jq's own runtime errors are (`try ... catch .` gives the
/// text).
pub(crate) fn fail(msg: impl Into<String>) -> Error<J> {
    Error::new(J::from(msg.into()))
}

impl J {
    pub(crate) fn str(s: &str) -> J {
        J::Str(s.into())
    }

    pub(crate) fn arr(v: Vec<J>) -> J {
        J::Arr(Rc::new(v))
    }

    pub(crate) fn obj(m: Map) -> J {
        J::Obj(Rc::new(m))
    }

    /// jq's `jv_kind_name`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            J::Null => "null",
            J::Bool(_) => "boolean",
            J::Num(_) => "number",
            J::Str(_) => "string",
            J::Arr(_) => "array",
            J::Obj(_) => "object",
        }
    }

    fn rank(&self) -> u8 {
        match self {
            J::Null => 0,
            J::Bool(false) => 1,
            J::Bool(true) => 2,
            J::Num(_) => 3,
            J::Str(_) => 4,
            J::Arr(_) => 5,
            J::Obj(_) => 6,
        }
    }

    /// The value as jq 1.6 quotes it in an error: compact JSON cut to 11 bytes and `...` when
    /// longer than 14 (its 15-byte buffer).
    pub(crate) fn brief(&self) -> String {
        let s = text::compact(self);
        if s.len() <= 14 {
            return s;
        }
        let mut cut = 11;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", &s[..cut])
    }

    /// `kind (value)`, the way jq names an operand in its type errors.
    pub(crate) fn described(&self) -> String {
        format!("{} ({})", self.kind(), self.brief())
    }

    pub(crate) fn as_num(&self) -> Option<f64> {
        match self {
            J::Num(f) => Some(*f),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }

    fn binop_error(self, other: J, what: &str) -> Error<J> {
        fail(format!(
            "{} and {} {what}",
            self.described(),
            other.described()
        ))
    }

    /// jq's `jv_get`: the child of `self` at `k`, null where jq 1.6 answers null.
    pub(crate) fn get(&self, k: &J) -> ValR {
        match (self, k) {
            (J::Obj(o), J::Str(s)) => Ok(o.get(&**s).cloned().unwrap_or(J::Null)),
            (J::Arr(a), J::Num(f)) => Ok(array_index(*f, a.len())
                .and_then(|i| a.get(i).cloned())
                .unwrap_or(J::Null)),
            (J::Arr(_) | J::Str(_), J::Obj(_)) => self.slice_by(k),
            (J::Arr(a), J::Arr(b)) => {
                Ok(J::arr(sub_indices(a, b).into_iter().map(J::from).collect()))
            }
            (J::Null, J::Str(_) | J::Num(_) | J::Obj(_)) => Ok(J::Null),
            (_, J::Str(s)) => Err(fail(format!(
                "Cannot index {} with string \"{s}\"",
                self.kind()
            ))),
            _ => Err(fail(format!(
                "Cannot index {} with {}",
                self.kind(),
                k.kind()
            ))),
        }
    }

    /// `.[{"start": s, "end": e}]`, as `jv_get` slices with an object key.
    fn slice_by(&self, k: &J) -> ValR {
        let J::Obj(o) = k else {
            return Err(slice_error());
        };
        let (s, e) = (o.get("start"), o.get("end"));
        if s.is_none() || e.is_none() {
            return Err(slice_error());
        }
        self.clone().slice(s, e)
    }

    /// `.[s:e]` with jq 1.6's `parse_slice`: null bounds are the ends, negative ones count
    /// from the end, a fractional start rounds down and a fractional end up.
    fn slice(self, s: Option<&J>, e: Option<&J>) -> ValR {
        let len = match &self {
            J::Null => return Ok(J::Null),
            J::Arr(a) => a.len(),
            J::Str(s) => s.chars().count(),
            other => {
                return Err(fail(format!("Cannot index {} with object", other.kind())));
            }
        };
        let (start, end) = slice_bounds(s, e, len)?;
        Ok(match self {
            J::Arr(a) => J::arr(a[start..end].to_vec()),
            J::Str(s) => J::from(s.chars().skip(start).take(end - start).collect::<String>()),
            _ => J::Null,
        })
    }

    /// jq's `jv_set`: `self` with `v` at `k`.
    fn set(self, k: &J, v: J) -> ValR {
        match (self, k) {
            (t @ (J::Obj(_) | J::Null), J::Str(s)) => {
                let mut m = match t {
                    J::Obj(o) => Rc::unwrap_or_clone(o),
                    _ => Map::new(),
                };
                m.insert(s.clone(), v);
                Ok(J::obj(m))
            }
            (t @ (J::Arr(_) | J::Null), J::Num(f)) => {
                let mut a = match t {
                    J::Arr(a) => Rc::unwrap_or_clone(a),
                    _ => Vec::new(),
                };
                let mut i = trunc_int(*f);
                if i < 0 {
                    i += a.len() as i64;
                    if i < 0 {
                        return Err(fail("Out of bounds negative array index"));
                    }
                }
                let i = usize::try_from(i).map_err(|_| fail("Array index too large"))?;
                // The memory bound is checked on the filter's text before it runs; this
                // stops an index computed at run time from asking for gigabytes.
                if i > MAX_PAD {
                    return Err(fail("Array index too large"));
                }
                if i >= a.len() {
                    a.resize(i + 1, J::Null);
                }
                a[i] = v;
                Ok(J::arr(a))
            }
            (t @ (J::Arr(_) | J::Null), J::Obj(o)) => {
                let a = match t {
                    J::Arr(a) => Rc::unwrap_or_clone(a),
                    _ => Vec::new(),
                };
                let (s, e) = (o.get("start"), o.get("end"));
                if s.is_none() || e.is_none() {
                    return Err(slice_error());
                }
                let (start, end) = slice_bounds(s, e, a.len())?;
                match v {
                    J::Arr(ins) => {
                        let mut a = a;
                        a.splice(start..end, ins.iter().cloned());
                        Ok(J::arr(a))
                    }
                    _ => Err(fail(
                        "A slice of an array can only be assigned another array",
                    )),
                }
            }
            (t, _) => Err(fail(format!(
                "Cannot update field at object index of {}",
                t.kind()
            ))),
        }
    }

    /// jq's `jv_del` of one key (a path's last part).
    pub(crate) fn delete(self, k: &J) -> ValR {
        match (self, k) {
            (J::Null, _) => Ok(J::Null),
            (J::Obj(o), J::Str(s)) => {
                let mut m = Rc::unwrap_or_clone(o);
                m.shift_remove(&**s);
                Ok(J::obj(m))
            }
            (J::Arr(a), J::Num(f)) => {
                let mut a = Rc::unwrap_or_clone(a);
                let mut i = trunc_int(*f);
                if i < 0 {
                    i += a.len() as i64;
                    if i < 0 {
                        return Err(fail("Out of bounds negative array index"));
                    }
                }
                if let Ok(i) = usize::try_from(i)
                    && i < a.len()
                {
                    a.remove(i);
                }
                Ok(J::arr(a))
            }
            (J::Arr(a), J::Obj(o)) => {
                let mut a = Rc::unwrap_or_clone(a);
                let (s, e) = (o.get("start"), o.get("end"));
                if s.is_none() || e.is_none() {
                    return Err(slice_error());
                }
                let (start, end) = slice_bounds(s, e, a.len())?;
                a.drain(start..end);
                Ok(J::arr(a))
            }
            (t, k) => Err(fail(format!(
                "Cannot delete field at {} index of {}",
                k.kind(),
                t.kind()
            ))),
        }
    }

    pub(crate) fn iter_error(&self) -> Error<J> {
        fail(format!("Cannot iterate over {}", self.described()))
    }
}

/// Past this index, `.[i] = v` refuses instead of padding with nulls.
const MAX_PAD: usize = 1 << 24;

fn slice_error() -> Error<J> {
    fail("Start and end indices of an array slice must be numbers")
}

/// C's `(int)` cast as jq applies it to a double index: toward zero, NaN as 0, saturating.
fn trunc_int(f: f64) -> i64 {
    if f.is_nan() {
        0
    } else {
        f.clamp(i32::MIN as f64, i32::MAX as f64) as i64
    }
}

/// jq 1.6 reads `.[f]` of an array only when `f` is an integer (`jv_is_integer`), counting
/// negative ones from the end; any other number is null.
fn array_index(f: f64, len: usize) -> Option<usize> {
    if !(f.is_finite() && f.fract() == 0.0 && f.abs() <= i32::MAX as f64) {
        return None;
    }
    let i = f as i64;
    let i = if i < 0 { i + len as i64 } else { i };
    usize::try_from(i).ok()
}

fn slice_bounds(s: Option<&J>, e: Option<&J>, len: usize) -> Result<(usize, usize), Error<J>> {
    let num = |b: Option<&J>, default: f64| match b {
        None | Some(J::Null) => Ok(default),
        Some(J::Num(f)) => Ok(*f),
        Some(_) => Err(slice_error()),
    };
    let lenf = len as f64;
    let mut start = num(s, 0.0)?;
    let mut end = num(e, lenf)?;
    if start < 0.0 {
        start += lenf;
    }
    if end < 0.0 {
        end += lenf;
    }
    let start = if start.is_nan() {
        0.0
    } else {
        start.clamp(0.0, lenf)
    };
    let end = if end.is_nan() {
        start
    } else {
        end.clamp(start, lenf)
    };
    Ok((start.floor() as usize, (end.ceil() as usize).min(len)))
}

/// Where `b` occurs in `a` as a contiguous run (`jv_array_indexes`).
pub(crate) fn sub_indices(a: &[J], b: &[J]) -> Vec<f64> {
    if b.is_empty() {
        return Vec::new();
    }
    (0..a.len())
        .filter(|&i| a.len() - i >= b.len() && a[i..i + b.len()] == *b)
        .map(|i| i as f64)
        .collect()
}

impl fmt::Display for J {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text::compact(self))
    }
}

impl From<bool> for J {
    fn from(b: bool) -> J {
        J::Bool(b)
    }
}
impl From<isize> for J {
    fn from(i: isize) -> J {
        J::Num(i as f64)
    }
}
impl From<usize> for J {
    fn from(i: usize) -> J {
        J::Num(i as f64)
    }
}
impl From<f64> for J {
    fn from(f: f64) -> J {
        J::Num(f)
    }
}
impl From<String> for J {
    fn from(s: String) -> J {
        J::Str(s.into())
    }
}
impl From<jaq_core::val::Range<J>> for J {
    fn from(r: jaq_core::val::Range<J>) -> J {
        let mut m = Map::new();
        m.insert("start".into(), r.start.unwrap_or_default());
        m.insert("end".into(), r.end.unwrap_or_default());
        J::obj(m)
    }
}
impl FromIterator<J> for J {
    fn from_iter<I: IntoIterator<Item = J>>(it: I) -> J {
        J::arr(it.into_iter().collect())
    }
}

/// jq 1.6's `jv_cmp`: kinds in the order null, false, true, numbers, strings, arrays,
/// objects; NaN below every number (itself included); objects by their sorted keys first.
pub(crate) fn jq_cmp(a: &J, b: &J) -> Ordering {
    match (a, b) {
        (J::Num(x), J::Num(y)) => {
            if x.is_nan() {
                Ordering::Less
            } else if y.is_nan() {
                Ordering::Greater
            } else {
                x.partial_cmp(y).unwrap_or(Ordering::Equal)
            }
        }
        (J::Str(x), J::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (J::Arr(x), J::Arr(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                let c = jq_cmp(p, q);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (J::Obj(x), J::Obj(y)) => {
            let mut kx: Vec<&Rc<str>> = x.keys().collect();
            let mut ky: Vec<&Rc<str>> = y.keys().collect();
            kx.sort();
            ky.sort();
            let c = kx.cmp(&ky);
            if c != Ordering::Equal {
                return c;
            }
            for k in kx {
                let c = jq_cmp(&x[&**k], &y[&**k]);
                if c != Ordering::Equal {
                    return c;
                }
            }
            Ordering::Equal
        }
        _ => a.rank().cmp(&b.rank()),
    }
}

impl PartialEq for J {
    /// `jv_equal`: numbers by value (NaN equals nothing), the rest by `jv_cmp`.
    fn eq(&self, other: &J) -> bool {
        match (self, other) {
            (J::Num(x), J::Num(y)) => x == y,
            _ => jq_cmp(self, other) == Ordering::Equal,
        }
    }
}
impl Eq for J {}
impl PartialOrd for J {
    fn partial_cmp(&self, other: &J) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for J {
    fn cmp(&self, other: &J) -> Ordering {
        // Sorting needs a total order; jq's NaN is below every number, NaN included, which
        // only a total order that ties NaNs keeps consistent.
        if let (J::Num(x), J::Num(y)) = (self, other)
            && x.is_nan()
            && y.is_nan()
        {
            return Ordering::Equal;
        }
        jq_cmp(self, other)
    }
}

fn merge_deep(a: Rc<Map>, b: Rc<Map>) -> Rc<Map> {
    let mut m = Rc::unwrap_or_clone(a);
    for (k, v) in b.iter() {
        let merged = match (m.get(k), v) {
            (Some(J::Obj(x)), J::Obj(y)) => J::Obj(merge_deep(x.clone(), y.clone())),
            _ => v.clone(),
        };
        m.insert(k.clone(), merged);
    }
    Rc::new(m)
}

impl std::ops::Add for J {
    type Output = ValR;
    fn add(self, r: J) -> ValR {
        match (self, r) {
            (J::Null, x) | (x, J::Null) => Ok(x),
            (J::Num(a), J::Num(b)) => Ok(J::Num(a + b)),
            (J::Str(a), J::Str(b)) => Ok(J::from(format!("{a}{b}"))),
            (J::Arr(a), J::Arr(b)) => {
                let mut v = Rc::unwrap_or_clone(a);
                v.extend(b.iter().cloned());
                Ok(J::arr(v))
            }
            (J::Obj(a), J::Obj(b)) => {
                let mut m = Rc::unwrap_or_clone(a);
                for (k, v) in b.iter() {
                    m.insert(k.clone(), v.clone());
                }
                Ok(J::obj(m))
            }
            (l, r) => Err(l.binop_error(r, "cannot be added")),
        }
    }
}

impl std::ops::Sub for J {
    type Output = ValR;
    fn sub(self, r: J) -> ValR {
        match (self, r) {
            (J::Num(a), J::Num(b)) => Ok(J::Num(a - b)),
            (J::Arr(a), J::Arr(b)) => Ok(J::arr(
                a.iter().filter(|x| !b.contains(x)).cloned().collect(),
            )),
            (l, r) => Err(l.binop_error(r, "cannot be subtracted")),
        }
    }
}

impl std::ops::Mul for J {
    type Output = ValR;
    fn mul(self, r: J) -> ValR {
        match (self, r) {
            (J::Num(a), J::Num(b)) => Ok(J::Num(a * b)),
            // jq 1.6 repeats the string n-1 more times with n the truncated count, and gives
            // null when that is below one: `"ab" * 0.5` is "ab", `"ab" * 0` is null.
            (J::Str(s), J::Num(n)) | (J::Num(n), J::Str(s)) => {
                if n <= 0.0 || n.is_nan() {
                    return Ok(J::Null);
                }
                let times = (n.min(i32::MAX as f64) as usize).max(1);
                if s.len().saturating_mul(times) > MAX_PAD * 8 {
                    return Err(fail("Repeat string result too long"));
                }
                Ok(J::from(s.repeat(times)))
            }
            (J::Obj(a), J::Obj(b)) => Ok(J::Obj(merge_deep(a, b))),
            (l, r) => Err(l.binop_error(r, "cannot be multiplied")),
        }
    }
}

impl std::ops::Div for J {
    type Output = ValR;
    fn div(self, r: J) -> ValR {
        match (self, r) {
            (J::Num(a), J::Num(b)) if b == 0.0 => {
                Err(J::Num(a)
                    .binop_error(J::Num(b), "cannot be divided because the divisor is zero"))
            }
            (J::Num(a), J::Num(b)) => Ok(J::Num(a / b)),
            (J::Str(a), J::Str(b)) => Ok(split_str(&a, &b)),
            (l, r) => Err(l.binop_error(r, "cannot be divided")),
        }
    }
}

/// `"a,b" / ","`: jq 1.6 splits an empty string into no parts.
pub(crate) fn split_str(a: &str, sep: &str) -> J {
    if a.is_empty() {
        return J::arr(Vec::new());
    }
    if sep.is_empty() {
        return a.chars().map(|c| J::from(c.to_string())).collect();
    }
    a.split(sep).map(J::str).collect()
}

impl std::ops::Rem for J {
    type Output = ValR;
    fn rem(self, r: J) -> ValR {
        match (self, r) {
            // jq 1.6 takes both operands as integers (`intmax_t` casts) before `%`.
            (J::Num(a), J::Num(b)) => {
                let (x, y) = (cast_intmax(a), cast_intmax(b));
                if y == 0 {
                    return Err(J::Num(a).binop_error(
                        J::Num(b),
                        "cannot be divided (remainder) because the divisor is zero",
                    ));
                }
                Ok(J::Num(x.wrapping_rem(y) as f64))
            }
            (l, r) => Err(l.binop_error(r, "cannot be divided")),
        }
    }
}

/// The x86-64 conversion of a double to `intmax_t`: NaN and out-of-range values become the
/// lowest integer (1e20 % 7 is -1 in jq 1.6).
fn cast_intmax(f: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || !(-TWO_63..TWO_63).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

impl std::ops::Neg for J {
    type Output = ValR;
    fn neg(self) -> ValR {
        match self {
            J::Num(f) => Ok(J::Num(-f)),
            v => Err(fail(format!("{} cannot be negated", v.described()))),
        }
    }
}

impl jaq_core::ValT for J {
    /// jq 1.6 holds every literal as a double: `1.50` is 1.5, `1e1000` the largest double.
    fn from_num(n: &str) -> ValR {
        n.parse::<f64>()
            .map(J::Num)
            .map_err(|_| fail(format!("Invalid numeric literal {n}")))
    }

    fn from_map<I: IntoIterator<Item = (J, J)>>(iter: I) -> ValR {
        let mut m = Map::new();
        for (k, v) in iter {
            match k {
                J::Str(s) => {
                    m.insert(s, v);
                }
                k => return Err(fail(format!("Cannot use {} as object key", k.described()))),
            }
        }
        Ok(J::obj(m))
    }

    fn key_values(self) -> jaq_core::box_iter::BoxIter<'static, JValR<(J, J), J>> {
        match self {
            J::Arr(a) => Box::new(
                Rc::unwrap_or_clone(a)
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| Ok((J::from(i), x))),
            ),
            J::Obj(o) => Box::new(
                Rc::unwrap_or_clone(o)
                    .into_iter()
                    .map(|(k, v)| Ok((J::Str(k), v))),
            ),
            v => box_once(Err(v.iter_error())),
        }
    }

    fn values(self) -> Box<dyn Iterator<Item = ValR>> {
        match self {
            J::Arr(a) => Box::new(Rc::unwrap_or_clone(a).into_iter().map(Ok)),
            J::Obj(o) => Box::new(Rc::unwrap_or_clone(o).into_iter().map(|(_, v)| Ok(v))),
            v => box_once(Err(v.iter_error())),
        }
    }

    fn index(self, index: &J) -> ValR {
        self.get(index)
    }

    fn range(self, range: jaq_core::val::Range<&J>) -> ValR {
        self.slice(range.start, range.end)
    }

    /// `.[] |= f` as jq 1.6's `_modify`: the paths are taken first, each is updated in turn,
    /// and one whose update is empty is deleted, so later positions shift
    /// (`[1,2,3,4,5] | .[] |= empty` is `[2,4]`).
    fn map_values<'a, I: Iterator<Item = ValX<'a>>>(
        self,
        opt: Opt,
        f: impl Fn(J) -> I,
    ) -> ValX<'a> {
        match self {
            J::Arr(a) => {
                let n = a.len();
                let mut cur = J::Arr(a);
                for i in 0..n {
                    cur = update_at(cur, &J::from(i), &f)?;
                }
                Ok(cur)
            }
            J::Obj(o) => {
                let keys: Vec<Rc<str>> = o.keys().cloned().collect();
                let mut cur = J::Obj(o);
                for k in keys {
                    cur = update_at(cur, &J::Str(k), &f)?;
                }
                Ok(cur)
            }
            v => opt.fail(v, |v| Exn::from(v.iter_error())),
        }
    }

    fn map_index<'a, I: Iterator<Item = ValX<'a>>>(
        self,
        index: &J,
        opt: Opt,
        f: impl Fn(J) -> I,
    ) -> ValX<'a> {
        match opt {
            Opt::Essential => update_at(self, index, &f),
            Opt::Optional => match self.get(index) {
                Ok(_) => update_at(self, index, &f),
                Err(_) => Ok(self),
            },
        }
    }

    fn map_range<'a, I: Iterator<Item = ValX<'a>>>(
        self,
        range: jaq_core::val::Range<&J>,
        opt: Opt,
        f: impl Fn(J) -> I,
    ) -> ValX<'a> {
        let key = J::from(range.start.cloned()..range.end.cloned());
        self.map_index(&key, opt, f)
    }

    fn as_bool(&self) -> bool {
        !matches!(self, J::Null | J::Bool(false))
    }

    fn into_string(self) -> J {
        match self {
            J::Str(_) => self,
            v => J::from(text::compact(&v)),
        }
    }
}

/// One path step of `_modify`: `getpath` (with its errors), the update's first output set
/// with `jv_set`, or the key deleted when the update is empty.
fn update_at<'a, I: Iterator<Item = ValX<'a>>>(v: J, k: &J, f: &impl Fn(J) -> I) -> ValX<'a> {
    let old = v.get(k)?;
    match f(old).next() {
        Some(y) => Ok(v.set(k, y?)?),
        None => Ok(v.delete(k)?),
    }
}

impl jaq_std::ValT for J {
    fn into_seq<S: FromIterator<J>>(self) -> Result<S, J> {
        match self {
            J::Arr(a) => Ok(Rc::unwrap_or_clone(a).into_iter().collect()),
            v => Err(v),
        }
    }

    fn is_int(&self) -> bool {
        matches!(self, J::Num(f) if f.is_finite() && f.fract() == 0.0)
    }

    fn as_isize(&self) -> Option<isize> {
        match self {
            J::Num(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as isize),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        self.as_num()
    }

    fn is_utf8_str(&self) -> bool {
        matches!(self, J::Str(_))
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        self.as_str().map(str::as_bytes)
    }

    fn as_sub_str(&self, sub: &[u8]) -> J {
        J::from(String::from_utf8_lossy(sub).into_owned())
    }

    fn from_utf8_bytes(b: impl AsRef<[u8]> + Send + 'static) -> J {
        J::from(String::from_utf8_lossy(b.as_ref()).into_owned())
    }
}
