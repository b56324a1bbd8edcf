//! `join` and `flatten` as jq 1.6 answers them, in one pass: written as a `reduce` in jq, each
//! step copies what was built so far inside jaq, so 100,000 strings took half a minute (past
//! the deadline, which cannot interrupt a filter).

use std::rc::Rc;

use jaq_core::native::{Filter, unary, v};
use jaq_core::{DataT, RunPtr};

use super::text;
use super::value::{J, ValR, fail};

/// The values `.[]` gives, or jq's error for a value it cannot iterate over.
fn items(x: &J) -> Result<Vec<J>, jaq_core::Error<J>> {
    match x {
        J::Arr(a) => Ok(a.to_vec()),
        J::Obj(o) => Ok(o.values().cloned().collect()),
        x => Err(fail(format!("Cannot iterate over {}", x.described()))),
    }
}

fn cannot_add(acc: &str, y: &J) -> jaq_core::Error<J> {
    fail(format!(
        "{} and {} cannot be added",
        J::str(acc).described(),
        y.described()
    ))
}

/// jq 1.6: `null` joins as nothing, booleans and numbers as their JSON, strings as they are;
/// anything else fails as the string sum it is in jq.
fn join(x: &J, sep: &J) -> ValR {
    let mut acc: Option<String> = None;
    for item in items(x)? {
        let mut s = match acc.take() {
            None => String::new(),
            Some(mut s) => {
                match sep {
                    J::Str(t) => s.push_str(t),
                    J::Null => {}
                    other => return Err(cannot_add(&s, other)),
                }
                s
            }
        };
        match &item {
            J::Null => {}
            J::Bool(_) | J::Num(_) => s.push_str(&text::compact(&item)),
            J::Str(t) => s.push_str(t),
            other => return Err(cannot_add(&s, other)),
        }
        acc = Some(s);
    }
    Ok(J::str(&acc.unwrap_or_default()))
}

fn flatten_into(x: &J, depth: &J, out: &mut Vec<J>) -> Result<(), jaq_core::Error<J>> {
    for item in items(x)? {
        match (&item, depth) {
            (J::Arr(_), J::Num(d)) if *d != 0.0 => flatten_into(&item, &J::Num(d - 1.0), out)?,
            // jq 1.6 subtracts 1 from the depth to go down.
            (J::Arr(_), d @ (J::Str(_) | J::Arr(_) | J::Obj(_))) => {
                return Err(fail(format!(
                    "{} and number (1) cannot be subtracted",
                    d.described()
                )));
            }
            _ => out.push(item),
        }
    }
    Ok(())
}

fn flatten(x: &J, depth: &J) -> ValR {
    // jq 1.6 compares the depth with 0: null and booleans sort below numbers.
    match depth {
        J::Num(d) if *d < 0.0 => return Err(fail("flatten depth must not be negative")),
        J::Null | J::Bool(_) => return Err(fail("flatten depth must not be negative")),
        _ => {}
    }
    let mut out = Vec::new();
    flatten_into(x, depth, &mut out)?;
    Ok(J::Arr(Rc::new(out)))
}

pub(crate) fn funs<D: for<'a> DataT<V<'a> = J>>() -> Box<[Filter<RunPtr<D>>]> {
    Box::new([
        ("_join", v(1), |cv| unary(cv, |x, sep| join(&x, &sep))),
        ("_flatten", v(1), |cv| unary(cv, |x, d| flatten(&x, &d))),
    ])
}
