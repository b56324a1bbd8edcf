//! The sizes of the parsed inputs: what the filter's bound starts from, and what the exec is
//! charged while the filter runs.

use super::Val;
use crate::commands::jq_bound::{self, V};

/// Sizes of parsed input values, for the filter's bound and the memory budget.
#[derive(Debug)]
pub(super) struct Measure {
    /// Bytes in memory of every input.
    pub total: f64,
    /// The biggest input's bytes.
    biggest: f64,
    longest_str: f64,
    largest_num: f64,
    pub depth: usize,
    /// Biggest value and most children at each level below the top (the bound's `Shape`).
    items: [f64; jq_bound::LEVELS],
    fan: [f64; jq_bound::LEVELS],
}

impl Default for Measure {
    fn default() -> Self {
        Measure {
            total: 0.0,
            biggest: 0.0,
            longest_str: 0.0,
            largest_num: 0.0,
            depth: 0,
            items: [0.0; jq_bound::LEVELS],
            fan: [0.0; jq_bound::LEVELS],
        }
    }
}

impl Measure {
    pub(super) fn input(&mut self, v: &Val) {
        let size = self.walk(v, 0);
        self.total += size;
        self.biggest = self.biggest.max(size);
    }

    /// The bytes of `v`, found `level` levels below an input's top.
    fn walk(&mut self, v: &Val, level: usize) -> f64 {
        self.depth = self.depth.max(level + 1);
        let mut size = 32.0;
        let mut kids = 0.0;
        match v {
            Val::Str(s) => {
                size += s.len() as f64;
                self.longest_str = self.longest_str.max(s.len() as f64);
            }
            Val::Num(f) => {
                let f = if f.is_nan() { 0.0 } else { f.abs() };
                self.largest_num = self.largest_num.max(f);
            }
            Val::Arr(a) => {
                for x in a.iter() {
                    size += self.walk(x, level + 1);
                }
                kids = a.len() as f64;
            }
            Val::Obj(o) => {
                for (k, x) in o.iter() {
                    size += self.walk(&Val::Str(k.clone()), level + 1);
                    size += self.walk(x, level + 1);
                }
                kids = o.len() as f64;
            }
            _ => {}
        }
        let at = |l: usize| l.min(jq_bound::LEVELS - 1);
        self.fan[at(level)] = self.fan[at(level)].max(kids);
        if level > 0 {
            self.items[at(level - 1)] = self.items[at(level - 1)].max(size);
        }
        size
    }

    pub(super) fn bound(&self) -> V {
        let mut shape = jq_bound::Shape {
            items: self.items,
            fan: self.fan,
        };
        shape.settle();
        V {
            s: self.biggest.max(32.0),
            str: self.longest_str,
            num: self.largest_num,
            shape: Some(shape),
        }
    }
}
