//! Accepting a valid configuration table without compiling its schema.
//!
//! Compiling even a pruned schema with `jsonschema` first compiles the draft's meta-schema and
//! checks the schema against it: about half a millisecond, half of a one-shot `exec`'s
//! configuration work, spent on tables that are almost always valid. The generated schemas use
//! a small set of keywords (types, `properties`, `additionalProperties`, `required`, `const`,
//! `enum`, `oneOf`/`anyOf`, local `$ref`s, bounds, lengths, `items`, and a few patterns), whose
//! meaning is simple enough to evaluate directly.
//!
//! [`check`] answers only when it is certain: `Some(true)` when the value is valid,
//! `Some(false)` when it is not, `None` for anything it does not model (another keyword, a
//! remote `$ref`, a float where an integer is asked, a non-ASCII string against a pattern). The
//! caller accepts a table on `Some(true)` and hands everything else to `jsonschema`, which then
//! also writes the errors, so a table is never refused here and errors read as before. A test
//! holds every compiled-in schema to it: wherever this answers, `jsonschema` answers the same.

use serde_json::{Map, Value};

/// Keywords that describe and never constrain.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$comment",
    "$defs",
    "definitions",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    // Formats are annotations in both compiles `compile_schema` makes.
    "format",
];

/// How deep `$ref`s and nesting may go before the answer is "not modelled" (a schema that
/// refers to itself, say).
const MAX_DEPTH: usize = 32;

/// Whether `value` is valid under `schema` (2020-12 reading, formats as annotations), when that
/// can be decided here; `None` otherwise.
pub(crate) fn check(schema: &Value, value: &Value) -> Option<bool> {
    node(schema, schema, value, 0)
}

fn node(root: &Value, schema: &Value, value: &Value, depth: usize) -> Option<bool> {
    if depth > MAX_DEPTH {
        return None;
    }
    let map = match schema {
        Value::Bool(b) => return Some(*b),
        Value::Object(m) => m,
        _ => return None,
    };
    // Every keyword must be modelled before any answer is given: an unknown one could refuse
    // what the others accept.
    let mut valid = true;
    for (key, arg) in map {
        let ok = match key.as_str() {
            k if ANNOTATIONS.contains(&k) => true,
            "$ref" => node(root, resolve(root, arg)?, value, depth + 1)?,
            "type" => type_matches(arg, value)?,
            "const" => equal(arg, value)?,
            "enum" => {
                let mut any_unknown = false;
                let mut found = false;
                for item in arg.as_array()? {
                    match equal(item, value) {
                        Some(true) => found = true,
                        Some(false) => {}
                        None => any_unknown = true,
                    }
                }
                if !found && any_unknown {
                    return None;
                }
                found
            }
            "properties" | "additionalProperties" | "required" => {
                object_keyword(root, map, key, arg, value, depth)?
            }
            "items" => match value {
                Value::Array(items) if arg.is_object() || arg.is_boolean() => {
                    all(items.iter().map(|v| node(root, arg, v, depth + 1)))?
                }
                Value::Array(_) => return None,
                _ => true,
            },
            "minItems" | "maxItems" => match value {
                Value::Array(items) => bound_len(key, arg, items.len())?,
                _ => true,
            },
            "minLength" | "maxLength" => match value {
                Value::String(s) => bound_len(key, arg, s.chars().count())?,
                _ => true,
            },
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => match value {
                Value::Number(_) => bound_num(key, arg, value)?,
                _ => true,
            },
            "pattern" => match value {
                Value::String(s) => pattern(arg.as_str()?, s)?,
                _ => true,
            },
            "anyOf" => {
                let mut unknown = false;
                let mut any = false;
                for branch in arg.as_array()? {
                    match node(root, branch, value, depth + 1) {
                        Some(true) => any = true,
                        Some(false) => {}
                        None => unknown = true,
                    }
                }
                if !any && unknown {
                    return None;
                }
                any
            }
            "oneOf" => {
                let mut count = 0;
                for branch in arg.as_array()? {
                    // Exactly one: every branch must be decided.
                    if node(root, branch, value, depth + 1)? {
                        count += 1;
                    }
                }
                count == 1
            }
            "allOf" => all(arg
                .as_array()?
                .iter()
                .map(|b| node(root, b, value, depth + 1)))?,
            "not" => !node(root, arg, value, depth + 1)?,
            _ => return None,
        };
        valid &= ok;
    }
    Some(valid)
}

/// `Some(true)` when every answer is true, `Some(false)` when one is false and none unknown.
fn all(answers: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut valid = true;
    for a in answers {
        valid &= a?;
    }
    Some(valid)
}

/// A local reference (`#/$defs/<name>` or `#/definitions/<name>`); anything else is not
/// modelled.
fn resolve<'a>(root: &'a Value, reference: &Value) -> Option<&'a Value> {
    let r = reference.as_str()?;
    let (defs, name) = r
        .strip_prefix("#/$defs/")
        .map(|n| ("$defs", n))
        .or_else(|| r.strip_prefix("#/definitions/").map(|n| ("definitions", n)))?;
    // An escaped name (`~0`, `~1`, `%xx`) is left to jsonschema.
    if name.contains(['~', '%', '/']) {
        return None;
    }
    root.get(defs)?.get(name)
}

fn type_matches(arg: &Value, value: &Value) -> Option<bool> {
    let one = |t: &Value| -> Option<bool> {
        Some(match (t.as_str()?, value) {
            ("null", Value::Null)
            | ("boolean", Value::Bool(_))
            | ("string", Value::String(_))
            | ("array", Value::Array(_))
            | ("object", Value::Object(_))
            | ("number", Value::Number(_)) => true,
            // 1.0 is an integer to jsonschema; floats are not modelled.
            ("integer", Value::Number(n)) => {
                if n.is_f64() {
                    return None;
                }
                true
            }
            ("null" | "boolean" | "string" | "array" | "object" | "number" | "integer", _) => false,
            _ => return None,
        })
    };
    match arg {
        Value::Array(types) => {
            let mut unknown = false;
            for t in types {
                match one(t) {
                    Some(true) => return Some(true),
                    Some(false) => {}
                    None => unknown = true,
                }
            }
            if unknown { None } else { Some(false) }
        }
        t => one(t),
    }
}

/// JSON equality as jsonschema sees it, when serde's equality decides it: numbers compare by
/// value there (`1` equals `1.0`), so two unequal numbers, or containers holding numbers, are
/// not modelled.
fn equal(expected: &Value, value: &Value) -> Option<bool> {
    if expected == value {
        return Some(true);
    }
    fn has_number(v: &Value) -> bool {
        match v {
            Value::Number(_) => true,
            Value::Array(a) => a.iter().any(has_number),
            Value::Object(m) => m.values().any(has_number),
            _ => false,
        }
    }
    if has_number(expected) && has_number(value) {
        return None;
    }
    Some(false)
}

fn object_keyword(
    root: &Value,
    schema: &Map<String, Value>,
    key: &str,
    arg: &Value,
    value: &Value,
    depth: usize,
) -> Option<bool> {
    let Value::Object(given) = value else {
        return Some(true);
    };
    match key {
        "properties" => all(arg
            .as_object()?
            .iter()
            .filter_map(|(name, sub)| given.get(name).map(|v| node(root, sub, v, depth + 1)))),
        "required" => Some(
            arg.as_array()?
                .iter()
                .map(Value::as_str)
                .collect::<Option<Vec<_>>>()?
                .iter()
                .all(|name| given.contains_key(*name)),
        ),
        _ => {
            // additionalProperties: the keys `properties` does not name (`patternProperties`
            // would take some of them: not modelled).
            if schema.contains_key("patternProperties") {
                return None;
            }
            let named = schema.get("properties").and_then(Value::as_object);
            all(given
                .iter()
                .filter(|(k, _)| !named.is_some_and(|n| n.contains_key(k.as_str())))
                .map(|(_, v)| node(root, arg, v, depth + 1)))
        }
    }
}

fn bound_len(key: &str, arg: &Value, len: usize) -> Option<bool> {
    let limit = usize::try_from(arg.as_u64()?).ok()?;
    Some(if key.starts_with("min") {
        len >= limit
    } else {
        len <= limit
    })
}

/// Bounds compared exactly on integers; a float on either side is not modelled.
fn bound_num(key: &str, arg: &Value, value: &Value) -> Option<bool> {
    let as_int = |v: &Value| -> Option<i128> {
        v.as_i64()
            .map(i128::from)
            .or_else(|| v.as_u64().map(i128::from))
    };
    let (bound, v) = (as_int(arg)?, as_int(value)?);
    Some(match key {
        "minimum" => v >= bound,
        "maximum" => v <= bound,
        "exclusiveMinimum" => v > bound,
        _ => v < bound,
    })
}

/// An ECMA-262 pattern, as jsonschema reads it, matched by the `regex` crate: for ASCII input
/// and a pattern of only what both dialects mean alike (no lookaround, backreferences or
/// ECMA-only escapes, which `regex` refuses to compile anyway), the two agree. Anything else is
/// not modelled.
fn pattern(p: &str, s: &str) -> Option<bool> {
    if !s.is_ascii() || p.contains("\\p") || p.contains("\\P") || p.contains("\\c") {
        return None;
    }
    let re = regex::Regex::new(p).ok()?;
    Some(re.is_match(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decides_the_common_shapes() {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "layer": {"$ref": "#/$defs/Layer", "default": "overlay"},
                "n": {"type": "integer", "minimum": 1, "format": "uint32"},
                "t": {"type": "string", "pattern": atlas_sandbox_sdk::DURATION_PATTERN},
                "opt": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]},
            },
            "$defs": {"Layer": {"oneOf": [
                {"const": "overlay", "type": "string"},
                {"const": "read-only", "type": "string"},
            ]}},
        });
        for (v, want) in [
            (json!({}), Some(true)),
            (json!({"layer": "read-only"}), Some(true)),
            (json!({"layer": "nope"}), Some(false)),
            (json!({"n": 3, "t": "10s", "opt": null}), Some(true)),
            (json!({"n": 0}), Some(false)),
            (json!({"n": 1.5}), None),
            (json!({"t": "10 parsecs!"}), Some(false)),
            (json!({"t": "10µs"}), None),
            (json!({"opt": ""}), Some(false)),
            (json!({"bogus": 1}), Some(false)),
            (json!([]), Some(false)),
        ] {
            assert_eq!(check(&schema, &v), want, "{v}");
        }
    }

    #[test]
    fn leaves_what_it_does_not_model() {
        for schema in [
            json!({"if": {"type": "string"}, "then": {"minLength": 2}}),
            json!({"$ref": "https://example.com/s.json"}),
            json!({"patternProperties": {"^a": true}, "additionalProperties": false}),
            json!({"$ref": "#/$defs/Loop", "$defs": {"Loop": {"$ref": "#/$defs/Loop"}}}),
        ] {
            assert_eq!(check(&schema, &json!({"a": "x"})), None, "{schema}");
        }
    }
}
