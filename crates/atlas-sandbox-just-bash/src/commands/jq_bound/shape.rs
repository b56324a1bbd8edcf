//! What is known of the values inside a value, level by level: the biggest child and the
//! most children any value holds at each depth below it.
//!
//! Without it, one element of the input (`.[]`, `.name`, `$x` in `reduce .[] as $x`) could only
//! be bounded by the whole input, and a fold over 200 records counted 200 whole inputs per
//! step. The measured input knows better; a value the filter builds does not, and gets `None`
//! (its children are then bounded by itself, as before).

use super::{NODE, V};

/// Levels kept; deeper ones are covered by the last (both arrays never increase with depth).
pub(crate) const LEVELS: usize = 8;

/// `items[d]`: bytes of the biggest value `d + 1` levels below; `fan[d]`: the most children any
/// value `d` levels below holds. Both are maxima over that depth and every deeper one, so they
/// never increase with `d`, and what bounds a value bounds each value inside it as well.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Shape {
    pub items: [f64; LEVELS],
    pub fan: [f64; LEVELS],
}

impl Shape {
    /// The shape one level down (the last level stays: it covers everything deeper).
    fn shifted(&self) -> Shape {
        let mut s = *self;
        s.items.copy_within(1.., 0);
        s.fan.copy_within(1.., 0);
        s
    }

    /// Makes both arrays non-increasing (each level the maximum of it and every deeper one).
    pub(crate) fn settle(&mut self) {
        for d in (0..LEVELS - 1).rev() {
            self.items[d] = self.items[d].max(self.items[d + 1]);
            self.fan[d] = self.fan[d].max(self.fan[d + 1]);
        }
    }
}

/// The value without what is known of its insides (for a value built from it).
pub(super) fn plain(v: V) -> V {
    V { shape: None, ..v }
}

/// A value one level inside `v` (an element, a field's value) or `null`. `exact`: the index is
/// a literal key or number; otherwise it may be an array, whose positions in `v` are a new
/// array of at most `v`'s children.
pub(super) fn child(v: V, exact: bool) -> V {
    let Some(sh) = v.shape else {
        return plain(v);
    };
    let mut inner = sh.shifted();
    let mut s = sh.items[0].max(NODE);
    if !exact {
        s = s.max((sh.fan[0] + 1.0) * NODE);
        inner.fan[0] = inner.fan[0].max(sh.fan[0]);
    }
    V {
        s: s.min(v.s.max(NODE)),
        str: v.str,
        num: if exact { v.num } else { v.num.max(sh.fan[0]) },
        shape: Some(inner),
    }
}

/// How many children `v` has at most, when known.
pub(super) fn children(v: V) -> Option<f64> {
    v.shape.map(|sh| sh.fan[0])
}

/// An array of `n` values each within `e`.
pub(super) fn array_of(n: f64, e: V, s: f64) -> V {
    let mut sh = Shape {
        items: [e.s; LEVELS],
        fan: [n; LEVELS],
    };
    match e.shape {
        Some(inner) => {
            sh.items[1..].copy_from_slice(&inner.items[..LEVELS - 1]);
            sh.fan[1..].copy_from_slice(&inner.fan[..LEVELS - 1]);
        }
        None => {
            sh.items[1..].fill(e.s);
            sh.fan[1..].fill(e.s / NODE);
        }
    }
    sh.settle();
    V {
        s,
        str: e.str,
        num: e.num,
        shape: Some(sh),
    }
}

/// What bounds both `a` and `b`.
pub(super) fn join(a: Option<Shape>, b: Option<Shape>) -> Option<Shape> {
    let (a, b) = (a?, b?);
    let mut s = a;
    for d in 0..LEVELS {
        s.items[d] = a.items[d].max(b.items[d]);
        s.fan[d] = a.fan[d].max(b.fan[d]);
    }
    Some(s)
}
