//! The two array kinds bash has: sparse indexed arrays and associative arrays that list their
//! keys in the order bash 5.2's hash table does.

use std::collections::{BTreeMap, HashMap};

use brush_parser::ast;

use crate::memory::str_cost;

use super::*;

/// A node's bookkeeping beyond its strings (map node, index or hash and order).
const ENTRY_COST: u64 = 48;

/// An indexed array: bash's are sparse (`a[5]=x` leaves 0-4 unset), so a map by index.
#[derive(Debug, Clone, Default)]
pub(super) struct Indexed {
    map: BTreeMap<i64, String>,
    /// The elements' charge, kept current so charging an element is not a walk of the array.
    bytes: u64,
}

impl Indexed {
    pub(super) fn from_vec(v: Vec<String>) -> Self {
        let bytes = v.iter().map(|s| str_cost(s) + ENTRY_COST).sum();
        Indexed {
            map: v
                .into_iter()
                .enumerate()
                .map(|(i, s)| (i as i64, s))
                .collect(),
            bytes,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &String> {
        self.map.values()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&i64, &String)> {
        self.map.iter()
    }

    pub(super) fn to_vec(&self) -> Vec<String> {
        self.map.values().cloned().collect()
    }

    /// One past the highest index: where `a+=(x)` goes and what `a[-1]` counts back from.
    pub(super) fn end(&self) -> i64 {
        self.map
            .last_key_value()
            .map_or(0, |(k, _)| k.saturating_add(1))
    }

    /// The index a subscript names: negative ones count back from the end (`None` before 0).
    pub(super) fn resolve(&self, i: i64) -> Option<i64> {
        if i >= 0 {
            return Some(i);
        }
        let j = self.end().checked_add(i)?;
        (j >= 0).then_some(j)
    }

    pub(super) fn get(&self, i: i64) -> Option<&String> {
        self.map.get(&i)
    }

    /// bash wraps past the highest index to the lowest; that one index is refused instead.
    pub(super) fn check_index(i: i64) -> R<()> {
        if i == i64::MAX {
            return abort(
                UNSUPPORTED_EXIT,
                format!("bash: array index {i} is not supported in this sandbox"),
            );
        }
        Ok(())
    }

    pub(super) fn set(&mut self, i: i64, v: String) {
        self.bytes += str_cost(&v) + ENTRY_COST;
        if let Some(old) = self.map.insert(i, v) {
            self.bytes -= str_cost(&old) + ENTRY_COST;
        }
    }

    pub(super) fn remove(&mut self, i: i64) -> Option<String> {
        let old = self.map.remove(&i)?;
        self.bytes -= str_cost(&old) + ENTRY_COST;
        Some(old)
    }

    /// Elements from index `start` on, as `${a[@]:start}` picks them.
    pub(super) fn starting_at(&self, start: i64) -> impl Iterator<Item = &String> {
        self.map.range(start..).map(|(_, v)| v)
    }

    pub(super) fn cost(&self) -> u64 {
        24 + self.bytes
    }
}

/// bash 5.2's `hash_string` (hashlib.c): 32-bit FNV-1 over the key's bytes, each byte taken
/// as a signed `char` (x86-64), so bytes past 127 are sign-extended before the xor.
pub(super) fn bash_hash(key: &str) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for &b in key.as_bytes() {
        h = h.wrapping_mul(16_777_619);
        h ^= b as i8 as i32 as u32;
    }
    h
}

/// bash 5.2's associative arrays start with 1024 buckets (`ASSOC_HASH_BUCKETS`).
const START_BUCKETS: u32 = 1024;

/// An associative array. bash lists keys bucket by bucket (bucket = hash & (buckets - 1)),
/// each bucket newest-first (insertion is at the chain's head); when a new key finds
/// `entries >= 2 * buckets` the table grows fourfold first, which rebuilds every chain in
/// reverse. `rank` models the chain position: lower is nearer the head.
#[derive(Debug, Clone)]
pub(super) struct Assoc {
    map: HashMap<String, Entry>,
    buckets: u32,
    next_rank: i64,
    bytes: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    hash: u32,
    rank: i64,
}

impl Default for Assoc {
    fn default() -> Self {
        Assoc {
            map: HashMap::new(),
            buckets: START_BUCKETS,
            next_rank: 0,
            bytes: 0,
        }
    }
}

impl Assoc {
    pub(super) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(super) fn get(&self, k: &str) -> Option<&String> {
        self.map.get(k).map(|e| &e.value)
    }

    pub(super) fn contains(&self, k: &str) -> bool {
        self.map.contains_key(k)
    }

    /// Sets a key; an existing key keeps its place, a new one goes to its chain's head.
    pub(super) fn set(&mut self, k: String, v: String) {
        if let Some(e) = self.map.get_mut(&k) {
            self.bytes = self.bytes + str_cost(&v) - str_cost(&e.value);
            e.value = v;
            return;
        }
        self.bytes += str_cost(&k) + str_cost(&v) + ENTRY_COST;
        if self.map.len() as u64 >= 2 * u64::from(self.buckets) {
            // hash_rehash walks each old chain from its head, pushing onto the new chains'
            // heads: every chain comes out reversed.
            self.buckets = self.buckets.saturating_mul(4);
            let mut lowest = 0;
            for e in self.map.values_mut() {
                e.rank = -e.rank;
                lowest = lowest.min(e.rank);
            }
            self.next_rank = lowest;
        }
        self.next_rank -= 1;
        let hash = bash_hash(&k);
        self.map.insert(
            k,
            Entry {
                value: v,
                hash,
                rank: self.next_rank,
            },
        );
    }

    pub(super) fn remove(&mut self, k: &str) -> Option<String> {
        let e = self.map.remove(k)?;
        self.bytes -= str_cost(k) + str_cost(&e.value) + ENTRY_COST;
        Some(e.value)
    }

    /// Empties the array as `m=(…)` does (bash's hash_flush keeps the bucket count).
    pub(super) fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }

    /// Keys and values in bash's order.
    pub(super) fn entries(&self) -> Vec<(&String, &String)> {
        let mask = self.buckets.wrapping_sub(1);
        let mut v: Vec<(&String, &Entry)> = self.map.iter().collect();
        v.sort_by_key(|(_, e)| (e.hash & mask, e.rank));
        v.into_iter().map(|(k, e)| (k, &e.value)).collect()
    }

    pub(super) fn keys(&self) -> Vec<String> {
        self.entries().into_iter().map(|(k, _)| k.clone()).collect()
    }

    pub(super) fn values(&self) -> Vec<String> {
        self.entries().into_iter().map(|(_, v)| v.clone()).collect()
    }

    pub(super) fn cost(&self) -> u64 {
        24 + self.bytes
    }
}

/// How `declare -p` writes an associative key: bare unless it holds a character the shell
/// would treat specially, then double-quoted (bash's `sh_contains_shell_metas`).
pub(super) fn assoc_key_text(k: &str, utf8: bool) -> String {
    if k.chars()
        .any(|c| c.is_control() || (!utf8 && !c.is_ascii()))
    {
        return super::declare::quote_value(k, utf8);
    }
    let b = k.as_bytes();
    let special = b.iter().enumerate().any(|(i, &c)| match c {
        b' ' | b'\t' | b'\n' | b'\'' | b'"' | b'\\' | b'|' | b'&' | b';' | b'(' | b')' | b'<'
        | b'>' | b'!' | b'{' | b'}' | b'*' | b'[' | b'?' | b']' | b'^' | b'$' | b'`' => true,
        b'~' => i == 0 || matches!(b[i - 1], b'=' | b':'),
        b'#' => i == 0,
        _ => false,
    });
    if special {
        super::declare::dq(k)
    } else {
        k.to_owned()
    }
}

/// An evaluated subscript.
pub(super) enum Sub {
    /// An associative array's key.
    Key(String),
    /// An indexed array's index (negative: from the end).
    Index(i64),
}

/// The subscript text a `[k]=v` item of a compound assignment was written with.
type Items = [(Option<ast::Word>, ast::Word)];

impl Shell<'_> {
    /// `m=([k]=v …)`, `m=(k v …)` (bash 5.1's pairs) and `m+=(…)` (which sets the keys
    /// given, as bash does, rather than appending to their values).
    pub(super) fn assign_assoc(&mut self, n: &str, items: &Items, append: bool) -> R<()> {
        let keyed = items.iter().filter(|(i, _)| i.is_some()).count();
        // brush splits `[a b]=1` at the space into bare words; bash reads one subscript.
        let split_subscript = items
            .iter()
            .any(|(i, w)| i.is_none() && w.value.starts_with('['));
        if keyed != 0 && keyed != items.len() || split_subscript {
            return abort(
                UNSUPPORTED_EXIT,
                format!(
                    "bash: {n}=(…): this associative array assignment (bare words with [key]=value, or an unquoted key with spaces) is not supported in this sandbox"
                ),
            );
        }
        // The values are expanded before the array changes: `m=(… "${m[@]}")` reads the old.
        let mut pairs: Vec<(String, String)> = Vec::new();
        if keyed == 0 {
            let mut words = Vec::new();
            for (_, w) in items {
                words.extend(self.expand_word(w)?);
            }
            let mut it = words.into_iter();
            while let Some(k) = it.next() {
                pairs.push((k, it.next().unwrap_or_default()));
            }
        } else {
            for (i, w) in items {
                let Some(i) = i else { continue };
                let k = self.expand_str(&i.value)?;
                let v = self.expand_str(&w.value)?;
                pairs.push((k, v));
            }
        }
        let mut m = match self.take_var(n) {
            Some(Var::Assoc(mut m)) => {
                if !append {
                    m.clear();
                }
                m
            }
            Some(Var::Str(s)) if append => {
                let mut m = Assoc::default();
                m.set("0".to_owned(), s);
                m
            }
            _ => Assoc::default(),
        };
        let mut bytes = m.cost();
        for (k, v) in pairs {
            if k.is_empty() {
                self.put_var(n.to_owned(), Var::Assoc(m))?;
                return Err(Flow::Fatal(1, format!("bash: {n}[]: bad array subscript")));
            }
            let v = self.elem_value(n, v, None, false)?;
            self.check_len(&v)?;
            bytes += str_cost(&k) + str_cost(&v) + ENTRY_COST;
            self.fits(bytes)?;
            m.set(k, v);
        }
        self.put_var(n.to_owned(), Var::Assoc(m))
    }

    /// `a=(x y)`, `a=([5]=x y)` (sparse), `a+=(…)` (after the highest index).
    pub(super) fn assign_indexed(&mut self, n: &str, items: &Items, append: bool) -> R<()> {
        // Everything is expanded before the array changes: `a=("${a[@]:1}")` reads the old.
        let mut parts: Vec<(Option<i64>, Vec<String>)> = Vec::new();
        for (idx, w) in items {
            self.tick()?;
            parts.push(match idx {
                Some(i) => (
                    Some(self.arith_str(&i.value)?),
                    vec![self.expand_str(&w.value)?],
                ),
                None => (None, self.expand_word(w)?),
            });
        }
        let mut a = match self.take_var(n) {
            Some(Var::Arr(a)) if append => a,
            Some(Var::Str(s)) if append => Indexed::from_vec(vec![s]),
            _ => Indexed::default(),
        };
        let mut next = a.end();
        let mut bytes = a.cost();
        for (idx, vals) in parts {
            if let Some(i) = idx {
                let Some(i) = a.resolve(i) else {
                    self.put_var(n.to_owned(), Var::Arr(a))?;
                    return Err(Flow::Fatal(1, format!("bash: {n}: bad array subscript")));
                };
                next = i;
            }
            for v in vals {
                let v = self.elem_value(n, v, None, false)?;
                self.check_len(&v)?;
                bytes += str_cost(&v) + ENTRY_COST;
                self.fits(bytes)?;
                Indexed::check_index(next)?;
                a.set(next, v);
                next = next.saturating_add(1);
            }
        }
        self.put_var(n.to_owned(), Var::Arr(a))
    }
}
