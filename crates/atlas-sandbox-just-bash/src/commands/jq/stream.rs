//! `--stream`: each input value as jq's streaming parser reports it, one event per leaf or
//! empty container (`[path, value]`) and one after the last child of a container (`[path]`).
//! The events repeat their paths, so a deep input makes many long ones: their size is counted
//! before they are built and refused past the memory left.

use std::rc::Rc;

use super::value::J;

/// Bytes one event holds beside its leaf: the event, its path and each path step.
fn event_bytes(path_len: usize) -> f64 {
    32.0 * (path_len as f64 + 3.0)
}

/// The bytes the events of `v` would take (beside the leaves, already measured).
pub(super) fn size(v: &J) -> f64 {
    fn walk(v: &J, depth: usize) -> f64 {
        match v {
            J::Arr(a) if !a.is_empty() => {
                event_bytes(depth + 1) + a.iter().map(|x| walk(x, depth + 1)).sum::<f64>()
            }
            J::Obj(o) if !o.is_empty() => {
                event_bytes(depth + 1) + o.values().map(|x| walk(x, depth + 1)).sum::<f64>()
            }
            _ => event_bytes(depth),
        }
    }
    walk(v, 0)
}

/// The events of `v`, in jq's order.
pub(super) fn events(v: &J) -> Vec<J> {
    fn path_of(path: &[J]) -> J {
        J::Arr(Rc::new(path.to_vec()))
    }
    fn walk(v: &J, path: &mut Vec<J>, out: &mut Vec<J>) {
        let children: Vec<(J, &J)> = match v {
            J::Arr(a) => a.iter().enumerate().map(|(i, x)| (J::from(i), x)).collect(),
            J::Obj(o) => o.iter().map(|(k, x)| (J::Str(k.clone()), x)).collect(),
            _ => Vec::new(),
        };
        let Some((last, _)) = children.last().cloned() else {
            out.push(J::Arr(Rc::new(vec![path_of(path), v.clone()])));
            return;
        };
        for (k, x) in children {
            path.push(k);
            walk(x, path, out);
            path.pop();
        }
        path.push(last);
        out.push(J::Arr(Rc::new(vec![path_of(path)])));
        path.pop();
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}
