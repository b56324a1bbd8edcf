//! jq 1.6's one-number math functions, on Rust's `f64` methods: on Linux they call the C
//! library's libm as jq does, so the last digit agrees (jaq-std's pure-Rust libm rounds
//! `exp(1)` one unit up). A value that is not a number fails with jq's message.

use jaq_core::native::{Filter, bome, v};
use jaq_core::{DataT, RunPtr};

use super::value::{J, ValR, fail};

fn on_num(x: &J, f: fn(f64) -> f64) -> ValR {
    match x {
        J::Num(n) => Ok(J::Num(f(*n))),
        x => Err(fail(format!("{} number required", x.described()))),
    }
}

pub(crate) fn funs<D: for<'a> DataT<V<'a> = J>>() -> Box<[Filter<RunPtr<D>>]> {
    Box::new([
        ("exp", v(0), |cv| bome(on_num(&cv.1, f64::exp))),
        ("exp2", v(0), |cv| bome(on_num(&cv.1, f64::exp2))),
        ("log", v(0), |cv| bome(on_num(&cv.1, f64::ln))),
        ("log10", v(0), |cv| bome(on_num(&cv.1, f64::log10))),
        ("log2", v(0), |cv| bome(on_num(&cv.1, f64::log2))),
        ("log1p", v(0), |cv| bome(on_num(&cv.1, f64::ln_1p))),
        ("expm1", v(0), |cv| bome(on_num(&cv.1, f64::exp_m1))),
        ("sin", v(0), |cv| bome(on_num(&cv.1, f64::sin))),
        ("cos", v(0), |cv| bome(on_num(&cv.1, f64::cos))),
        ("tan", v(0), |cv| bome(on_num(&cv.1, f64::tan))),
        ("asin", v(0), |cv| bome(on_num(&cv.1, f64::asin))),
        ("acos", v(0), |cv| bome(on_num(&cv.1, f64::acos))),
        ("atan", v(0), |cv| bome(on_num(&cv.1, f64::atan))),
        ("sinh", v(0), |cv| bome(on_num(&cv.1, f64::sinh))),
        ("cosh", v(0), |cv| bome(on_num(&cv.1, f64::cosh))),
        ("tanh", v(0), |cv| bome(on_num(&cv.1, f64::tanh))),
        ("sqrt", v(0), |cv| bome(on_num(&cv.1, f64::sqrt))),
        ("floor", v(0), |cv| bome(on_num(&cv.1, f64::floor))),
        ("ceil", v(0), |cv| bome(on_num(&cv.1, f64::ceil))),
        ("trunc", v(0), |cv| bome(on_num(&cv.1, f64::trunc))),
        ("fabs", v(0), |cv| bome(on_num(&cv.1, f64::abs))),
        ("round", v(0), |cv| bome(on_num(&cv.1, f64::round))),
        ("rint", v(0), |cv| bome(on_num(&cv.1, f64::round_ties_even))),
        ("nearbyint", v(0), |cv| {
            bome(on_num(&cv.1, f64::round_ties_even))
        }),
    ])
}
