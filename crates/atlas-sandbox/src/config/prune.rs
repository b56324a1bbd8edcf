//! A configuration table is checked against only the part of its schema that can apply to it.
//!
//! A one-shot `exec` with a `[plugins.<id>]` table paid for compiling the backend's whole schema
//! (every property, every `$defs` entry, their patterns) to check the one or two keys the table
//! sets. For an object schema, a `properties` entry whose key the value does not have checks
//! nothing: `required` names keys on its own, and `additionalProperties` only looks at the
//! value's keys, which all keep their entries. A `$defs` entry that nothing left refers to is
//! never reached. Dropping both accepts and refuses exactly what the whole schema does, with
//! the same errors (a test holds every compiled-in schema to that).

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Keywords that find a subschema by something other than a `#/$defs/<name>` reference: with
/// any of them the schema is used whole.
const LOOKUPS: &[&str] = &[
    "$id",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
];

/// `schema` without the top-level `properties` entries `value` has no key for, and without the
/// `$defs` entries then unreachable. The schema itself when it is not an object schema with
/// properties, `value` is not an object, or the schema refers to subschemas in other ways.
pub(crate) fn for_value<'a>(schema: &'a Value, value: &Value) -> Cow<'a, Value> {
    let (Some(map), Some(given)) = (schema.as_object(), value.as_object()) else {
        return Cow::Borrowed(schema);
    };
    let Some(props) = map.get("properties").and_then(Value::as_object) else {
        return Cow::Borrowed(schema);
    };
    if uses_lookups(schema) {
        return Cow::Borrowed(schema);
    }
    let kept = keep(props, |k| given.contains_key(k));
    let mut out = keep(map, |k| k != "properties" && k != "$defs");
    out.insert("properties".into(), Value::Object(kept));
    if let Some(defs) = map.get("$defs").and_then(Value::as_object) {
        let Some(reached) = reachable_defs(&Value::Object(out.clone()), defs) else {
            return Cow::Borrowed(schema);
        };
        let defs = keep(defs, |k| reached.contains(k));
        if !defs.is_empty() {
            out.insert("$defs".into(), Value::Object(defs));
        }
    }
    Cow::Owned(Value::Object(out))
}

/// The entries of `map` whose key `wanted` accepts.
fn keep(map: &Map<String, Value>, wanted: impl Fn(&str) -> bool) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| wanted(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn uses_lookups(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| LOOKUPS.contains(&k.as_str()) || uses_lookups(v)),
        Value::Array(a) => a.iter().any(uses_lookups),
        _ => false,
    }
}

/// The `$defs` names reachable from `root` through `#/$defs/<name>` references, following
/// references inside the definitions too. `None` for any other reference (a JSON pointer
/// elsewhere, an escaped name): then nothing is dropped.
fn reachable_defs(root: &Value, defs: &Map<String, Value>) -> Option<BTreeSet<String>> {
    let mut reached = BTreeSet::new();
    let mut todo = Vec::new();
    refs_in(root, &mut todo)?;
    while let Some(name) = todo.pop() {
        if reached.insert(name.clone()) {
            refs_in(defs.get(&name)?, &mut todo)?;
        }
    }
    Some(reached)
}

fn refs_in(v: &Value, out: &mut Vec<String>) -> Option<()> {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k == "$ref" {
                    let name = v.as_str()?.strip_prefix("#/$defs/")?;
                    if name.contains(['/', '~', '%']) {
                        return None;
                    }
                    out.push(name.to_owned());
                } else {
                    refs_in(v, out)?;
                }
            }
            Some(())
        }
        Value::Array(a) => a.iter().try_for_each(|v| refs_in(v, out)),
        _ => Some(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_what_the_value_can_meet() {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["b"],
            "properties": {
                "a": {"$ref": "#/$defs/A"},
                "b": {"type": "string"},
                "c": {"$ref": "#/$defs/C"}
            },
            "$defs": {
                "A": {"oneOf": [{"$ref": "#/$defs/Inner"}]},
                "Inner": {"const": "x"},
                "C": {"type": "integer"}
            }
        });
        let p = for_value(&schema, &json!({"a": "x", "z": 1}));
        assert_eq!(
            p.as_ref(),
            &json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["b"],
                "properties": {"a": {"$ref": "#/$defs/A"}},
                "$defs": {
                    "A": {"oneOf": [{"$ref": "#/$defs/Inner"}]},
                    "Inner": {"const": "x"}
                }
            })
        );
        // Nothing dropped when the value is not an object, or a reference is not a plain
        // `$defs` name.
        assert!(matches!(for_value(&schema, &json!(1)), Cow::Borrowed(_)));
        let mut other = schema.clone();
        other["properties"]["a"] = json!({"$ref": "#/properties/b"});
        assert!(matches!(
            for_value(&other, &json!({"a": 1})),
            Cow::Borrowed(_)
        ));
        let mut anchored = schema.clone();
        anchored["$defs"]["C"]["$anchor"] = json!("c");
        assert!(matches!(
            for_value(&anchored, &json!({"a": 1})),
            Cow::Borrowed(_)
        ));
    }
}
