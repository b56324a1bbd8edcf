//! Native filters with jq 1.6's answers and error texts, in place of jaq-json's (which work on
//! jaq's value) and of jaq-std's where jq 1.6 differs. They come before jaq-std's natives, so
//! a name here wins.

use std::rc::Rc;

use jaq_core::native::{Filter, Fun, bome, run, unary, v};
use jaq_core::{DataT, RunPtr};

use super::text;
use super::value::{J, ValR, fail, sub_indices};

pub(crate) fn funs<D: for<'a> DataT<V<'a> = J>>() -> impl Iterator<Item = Fun<D>> {
    base::<D>()
        .into_vec()
        .into_iter()
        .chain(super::feed::funs::<D>().into_vec())
        .chain(super::math::funs::<D>().into_vec())
        .chain(super::joins::funs::<D>().into_vec())
        .map(run::<D>)
}

fn base<D: for<'a> DataT<V<'a> = J>>() -> Box<[Filter<RunPtr<D>>]> {
    Box::new([
        ("tojson", v(0), |cv| bome(Ok(J::from(text::compact(&cv.1))))),
        ("fromjson", v(0), |cv| bome(fromjson(&cv.1))),
        ("tonumber", v(0), |cv| bome(tonumber(cv.1))),
        ("length", v(0), |cv| bome(length(&cv.1))),
        ("utf8bytelength", v(0), |cv| match &cv.1 {
            J::Str(s) => bome(Ok(J::from(s.len()))),
            x => bome(Err(fail(format!(
                "{} only strings have UTF-8 byte length",
                x.described()
            )))),
        }),
        ("_type", v(0), |cv| bome(Ok(J::str(cv.1.kind())))),
        // The value as jq's messages show it: `object ({"a":"bbbbb...)`.
        ("_described", v(0), |cv| bome(Ok(J::from(cv.1.described())))),
        ("_nan", v(0), |_| bome(Ok(J::Num(f64::NAN)))),
        ("_infinite", v(0), |_| bome(Ok(J::Num(f64::INFINITY)))),
        ("_isnan", v(0), |cv| bome(num_test(&cv.1, f64::is_nan))),
        ("_isinfinite", v(0), |cv| {
            bome(num_test(&cv.1, f64::is_infinite))
        }),
        ("_isnormal", v(0), |cv| {
            bome(num_test(&cv.1, f64::is_normal))
        }),
        ("keys_unsorted", v(0), |cv| bome(keys(&cv.1, false))),
        ("keys", v(0), |cv| bome(keys(&cv.1, true))),
        ("has", v(1), |cv| unary(cv, |x, k| has(&x, &k))),
        ("contains", v(1), |cv| {
            unary(cv, |x, y| contains(&x, &y).map(J::from))
        }),
        ("indices", v(1), |cv| unary(cv, |x, y| indices(x, &y))),
        ("reverse", v(0), |cv| bome(reverse(cv.1))),
        ("startswith", v(1), |cv| {
            unary(cv, |x, y| match (&x, &y) {
                (J::Str(a), J::Str(b)) => Ok(J::from(a.starts_with(&**b))),
                _ => Err(fail("startswith() requires string inputs")),
            })
        }),
        ("endswith", v(1), |cv| {
            unary(cv, |x, y| match (&x, &y) {
                (J::Str(a), J::Str(b)) => Ok(J::from(a.ends_with(&**b))),
                _ => Err(fail("endswith() requires string inputs")),
            })
        }),
        // jq 1.6 leaves anything but a string with that prefix as it is.
        ("ltrimstr", v(1), |cv| {
            unary(cv, |x, y| match (&x, &y) {
                (J::Str(a), J::Str(b)) if a.starts_with(&**b) => Ok(J::str(&a[b.len()..])),
                _ => Ok(x),
            })
        }),
        ("rtrimstr", v(1), |cv| {
            unary(cv, |x, y| match (&x, &y) {
                (J::Str(a), J::Str(b)) if a.ends_with(&**b) && a.len() > b.len() => {
                    Ok(J::str(&a[..a.len() - b.len()]))
                }
                _ => Ok(x),
            })
        }),
        ("_setpath", v(2), |mut cv| {
            let x = cv.0.pop_var();
            let p = cv.0.pop_var();
            bome(setpath(cv.1, &p, x))
        }),
        ("_delpaths", v(1), |cv| unary(cv, |x, ps| delpaths(x, &ps))),
        ("escape_sh", v(0), |cv| match &cv.1 {
            J::Str(s) => bome(Ok(J::from(s.replace('\'', "'\\''")))),
            x => bome(Err(fail(format!(
                "{} can not be escaped for shell",
                x.described()
            )))),
        }),
        ("escape_html", v(0), |cv| bome(on_str(&cv.1, escape_html))),
        ("encode_uri", v(0), |cv| bome(on_str(&cv.1, encode_uri))),
        ("decode_base64", v(0), |cv| match &cv.1 {
            J::Str(s) => bome(
                decode_base64(s)
                    .map(J::from)
                    .map_err(|why| fail(format!("{} {why}", cv.1.described()))),
            ),
            x => bome(Err(fail(format!("{} cannot be formatted", x.described())))),
        }),
        // jaq-std's `env` reads the host process's environment (its secrets included); the
        // filter sees the shell's exported variables, as jq run by that shell would.
        ("env", v(0), |_| bome(Ok(env::get()))),
        // jaq's `range/3` counts `while(. != $to)` when the step is 0 and loops for ever on a
        // bound that is not a number (numbers sort before strings): jq 1.6's answers, which
        // the static bound relies on (it counts from the bounds' numeric values).
        ("range", v(3), |mut cv| {
            let by = cv.0.pop_var();
            let to = cv.0.pop_var();
            let from = cv.0.pop_var();
            match (from, to, by) {
                (J::Num(from), J::Num(to), J::Num(by)) => Box::new(range(from, to, by)),
                _ => bome(Err(fail("Range bounds must be numeric"))),
            }
        }),
        // jaq-std's `stderr` and `debug` write through the `log` crate, which would put a
        // command's text in the host's own log; jq writes them to the command's stderr.
        ("stderr_empty", v(0), |cv| {
            side::write(text::compact(&cv.1).as_bytes());
            Box::new(core::iter::empty())
        }),
        ("debug_empty", v(0), |cv| {
            side::write(format!("[\"DEBUG:\",{}]\n", text::compact(&cv.1)).as_bytes());
            Box::new(core::iter::empty())
        }),
        // `halt_error` prints a string as it is, nothing for null, anything else as JSON on
        // a line.
        ("_halt_error_text", v(0), |cv| {
            match &cv.1 {
                J::Str(s) => side::write(s.as_bytes()),
                J::Null => {}
                x => side::write(format!("{}\n", text::compact(x)).as_bytes()),
            }
            Box::new(core::iter::empty())
        }),
    ])
}

fn range<'a>(from: f64, to: f64, by: f64) -> impl Iterator<Item = jaq_core::ValX<'a, J>> + 'a {
    let mut x = from;
    core::iter::from_fn(move || {
        let more = (by > 0.0 && x < to) || (by < 0.0 && x > to);
        more.then(|| {
            let y = x;
            x += by;
            Ok(J::Num(y))
        })
    })
}

/// The environment `env` and `$ENV` give: set by the runner before the filter runs (the
/// interpreter runs a command on one thread).
pub(crate) mod env {
    use super::J;
    use std::cell::RefCell;

    thread_local! {
        static ENV: RefCell<J> = const { RefCell::new(J::Null) };
    }

    pub(crate) fn set(v: J) {
        ENV.with(|e| *e.borrow_mut() = v);
    }

    pub(crate) fn get() -> J {
        ENV.with(|e| e.borrow().clone())
    }
}

/// What a filter writes to stderr while it runs (`stderr`, `debug`, `halt_error`), held for the
/// runner to pass to the command's stderr; natives have no handle on the command's streams. The
/// interpreter runs a command on one thread, so a thread-local is the command's own, and it is
/// capped so that a filter printing in a loop cannot grow it past the command's output cap.
pub(crate) mod side {
    use std::cell::RefCell;

    struct Side {
        bytes: Vec<u8>,
        cap: usize,
    }

    thread_local! {
        static SIDE: RefCell<Side> = const { RefCell::new(Side { bytes: Vec::new(), cap: 0 }) };
    }

    /// Starts a run whose stderr may hold up to `cap` bytes between two [`take`]s.
    pub(crate) fn begin(cap: usize) {
        SIDE.with(|s| {
            let mut s = s.borrow_mut();
            s.bytes.clear();
            s.cap = cap;
        });
    }

    pub(super) fn write(b: &[u8]) {
        SIDE.with(|s| {
            let mut s = s.borrow_mut();
            let room = s.cap.saturating_sub(s.bytes.len());
            let n = b.len().min(room);
            s.bytes.extend_from_slice(&b[..n]);
        });
    }

    /// What was written since the last call.
    pub(crate) fn take() -> Vec<u8> {
        SIDE.with(|s| std::mem::take(&mut s.borrow_mut().bytes))
    }
}

fn num_test(v: &J, f: fn(f64) -> bool) -> ValR {
    match v {
        J::Num(x) => Ok(J::from(f(*x))),
        x => Err(fail(format!("{} number required", x.described()))),
    }
}

fn fromjson(v: &J) -> ValR {
    let J::Str(s) = v else {
        return Err(fail(format!(
            "{} only strings can be parsed",
            v.described()
        )));
    };
    let (vals, err) = text::Reader::new(s.as_bytes()).all();
    if let Some(e) = err {
        return Err(fail(format!("{e} (while parsing '{s}')")));
    }
    match vals.len() {
        1 => Ok(vals.into_iter().next().map(|(v, _)| v).unwrap_or_default()),
        0 => Ok(J::Null),
        _ => Err(fail(format!(
            "Unexpected extra JSON values (while parsing '{s}')"
        ))),
    }
}

fn tonumber(v: J) -> ValR {
    match v {
        J::Num(_) => Ok(v),
        J::Str(ref s) => match fromjson(&v)? {
            n @ J::Num(_) => Ok(n),
            _ => Err(fail(format!("Cannot parse '{s}' as JSON"))),
        },
        x => Err(fail(format!(
            "{} cannot be parsed as a number",
            x.described()
        ))),
    }
}

fn length(v: &J) -> ValR {
    Ok(J::from(match v {
        J::Null => 0.0,
        J::Num(f) => f.abs(),
        J::Str(s) => s.chars().count() as f64,
        J::Arr(a) => a.len() as f64,
        J::Obj(o) => o.len() as f64,
        J::Bool(_) => return Err(fail(format!("{} has no length", v.described()))),
    }))
}

fn keys(v: &J, sorted: bool) -> ValR {
    match v {
        J::Obj(o) => {
            let mut ks: Vec<&Rc<str>> = o.keys().collect();
            if sorted {
                ks.sort();
            }
            Ok(ks.into_iter().map(|k| J::Str(k.clone())).collect())
        }
        J::Arr(a) => Ok((0..a.len()).map(J::from).collect()),
        x => Err(fail(format!("{} has no keys", x.described()))),
    }
}

fn has(v: &J, k: &J) -> ValR {
    match (v, k) {
        (J::Obj(o), J::Str(s)) => Ok(J::from(o.contains_key(&**s))),
        (J::Arr(a), J::Num(f)) => Ok(J::from(*f >= 0.0 && *f < a.len() as f64)),
        _ => Err(fail(format!(
            "Cannot check whether {} has a {} key",
            v.kind(),
            k.kind()
        ))),
    }
}

/// jq 1.6's `jv_contains`: both of one kind, objects and arrays by their parts, strings by
/// substring.
fn contains(a: &J, b: &J) -> Result<bool, jaq_core::Error<J>> {
    match (a, b) {
        (J::Obj(x), J::Obj(y)) => {
            for (k, yv) in y.iter() {
                match x.get(k) {
                    Some(xv) if contains(xv, yv)? => {}
                    _ => return Ok(false),
                }
            }
            Ok(true)
        }
        (J::Arr(x), J::Arr(y)) => {
            for yv in y.iter() {
                let mut found = false;
                for xv in x.iter() {
                    if xv.kind() == yv.kind() && contains(xv, yv)? {
                        found = true;
                        break;
                    }
                }
                if !found {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        (J::Str(x), J::Str(y)) => Ok(x.contains(&**y)),
        _ if a.kind() == b.kind() => Ok(a == b),
        _ => Err(fail(format!(
            "{} and {} cannot have their containment checked",
            a.described(),
            b.described()
        ))),
    }
}

/// jq 1.6's `indices`: byte offsets in a string, runs in an array, and otherwise `.[$i]`.
fn indices(x: J, y: &J) -> ValR {
    match (&x, y) {
        (J::Str(a), J::Str(b)) => {
            if b.is_empty() {
                return Ok(J::Null);
            }
            let hits = (0..a.len())
                .filter(|&i| a.as_bytes()[i..].starts_with(b.as_bytes()))
                .map(J::from)
                .collect();
            Ok(hits)
        }
        (J::Arr(a), J::Arr(b)) => Ok(sub_indices(a, b).into_iter().map(J::from).collect()),
        (J::Arr(a), y) => Ok(sub_indices(a, std::slice::from_ref(y))
            .into_iter()
            .map(J::from)
            .collect()),
        _ => x.get(y),
    }
}

/// jq 1.6's `def reverse: [.[length - 1 - range(0;length)]]`.
fn reverse(v: J) -> ValR {
    match v {
        J::Null => Ok(J::arr(Vec::new())),
        J::Arr(a) => {
            let mut a = Rc::unwrap_or_clone(a);
            a.reverse();
            Ok(J::arr(a))
        }
        J::Obj(ref o) if o.is_empty() => Ok(J::arr(Vec::new())),
        J::Str(ref s) if s.is_empty() => Ok(J::arr(Vec::new())),
        J::Num(f) if f <= 0.0 => Ok(J::arr(Vec::new())),
        x => Err(fail(format!("Cannot index {} with number", x.kind()))),
    }
}

fn path_parts(p: &J) -> Result<&[J], jaq_core::Error<J>> {
    match p {
        J::Arr(a) => Ok(a),
        _ => Err(fail("Path must be specified as an array")),
    }
}

/// `jv_setpath`: each step read with `jv_get`'s errors, the last one set.
fn setpath(v: J, p: &J, x: J) -> ValR {
    let parts = path_parts(p)?;
    set_in(v, parts, x)
}

fn set_in(v: J, parts: &[J], x: J) -> ValR {
    let Some((k, rest)) = parts.split_first() else {
        return Ok(x);
    };
    let child = v.get(k)?;
    let new = set_in(child, rest, x)?;
    jaq_core::ValT::map_index(v, k, jaq_core::path::Opt::Essential, |_| {
        std::iter::once(Ok(new.clone()))
    })
    .map_err(|e| e.get_err().unwrap_or_else(|_| fail("path update failed")))
}

/// `jv_delpaths`: paths sorted, deleted from the last so earlier positions stay valid.
fn delpaths(v: J, ps: &J) -> ValR {
    let J::Arr(ps) = ps else {
        return Err(fail("Paths must be specified as an array"));
    };
    let mut paths: Vec<&J> = ps.iter().collect();
    paths.sort();
    let mut v = v;
    for p in paths.into_iter().rev() {
        let parts = path_parts(p)?;
        v = del_in(v, parts)?;
    }
    Ok(v)
}

fn del_in(v: J, parts: &[J]) -> ValR {
    match parts {
        [] => Ok(J::Null),
        [k] => v.delete(k),
        [k, rest @ ..] => {
            let child = v.get(k)?;
            if matches!(child, J::Null) {
                return Ok(v);
            }
            let new = del_in(child, rest)?;
            set_in(v, std::slice::from_ref(k), new)
        }
    }
}

fn on_str(v: &J, f: fn(&str) -> String) -> ValR {
    match v {
        J::Str(s) => Ok(J::from(f(s))),
        x => Err(fail(format!("{} cannot be formatted", x.described()))),
    }
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// jq 1.6 keeps letters, digits and `-_.!~*'()` and percent-encodes every other byte.
fn encode_uri(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// jq's decoder: the base64 characters up to the first `=`, each full group of four as three
/// bytes and a trailing two or three as one or two; the bytes read as UTF-8 with replacement
/// characters. Any other character before the `=`, or one lone trailing character, is jq's
/// error (they were skipped, which decoded to a different string).
fn decode_base64(s: &str) -> Result<String, &'static str> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = s
        .bytes()
        .take_while(|&c| c != b'=')
        .map(val)
        .collect::<Option<_>>()
        .ok_or("is not valid base64 data")?;
    if sextets.len() % 4 == 1 {
        return Err("trailing base64 byte found");
    }
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for g in sextets.chunks(4) {
        let n = g
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = match g.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..keep]);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}
