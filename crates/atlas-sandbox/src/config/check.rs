//! Checking a table against its JSON Schema: compiling only what applies, the errors worded
//! with key paths, origins and expected types, secrets redacted, environment strings coerced.

use super::*;

/// Whether `[sandbox]` is valid by what serde and two checks decide, so that its schema need
/// not be generated and compiled (about a millisecond, a tenth of a one-shot `exec`). The schema
/// adds exactly two constraints to what deserializing `SandboxSection` checks (a test holds the
/// schema to that): `max_output_bytes` is at least 1, and a duration has the shape of
/// `DURATION_PATTERN` (humantime alone also takes a bare `0`). Anything else, or any failure,
/// takes the schema's path, which also writes the error.
pub(super) fn accepted_without_schema(value: &Value) -> bool {
    let Ok(section) = serde_json::from_value::<SandboxSection>(value.clone()) else {
        return false;
    };
    let durations_shaped = ["timeout", "health_check_timeout"].iter().all(|k| {
        value
            .get(k)
            .is_none_or(|v| v.as_str().is_some_and(duration_shaped))
    });
    section.max_output_bytes >= 1 && durations_shaped
}

/// `DURATION_PATTERN` without a regex: whitespace-separated (or adjacent) groups of digits, an
/// optional fraction and a unit of letters or `µ`, with whitespace around.
pub(super) fn duration_shaped(s: &str) -> bool {
    let mut chars = s.trim().chars().peekable();
    let mut groups = 0;
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return groups > 0;
        }
        let mut digits = 0;
        while chars.next_if(char::is_ascii_digit).is_some() {
            digits += 1;
        }
        if digits == 0 {
            return false;
        }
        if chars.next_if_eq(&'.').is_some() {
            let mut fraction = 0;
            while chars.next_if(char::is_ascii_digit).is_some() {
                fraction += 1;
            }
            if fraction == 0 {
                return false;
            }
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut unit = 0;
        while chars
            .next_if(|c| c.is_ascii_alphabetic() || *c == 'µ')
            .is_some()
        {
            unit += 1;
        }
        if unit == 0 {
            return false;
        }
        groups += 1;
    }
}

/// Keywords that draft 7 lacks or reads differently from 2020-12.
pub(super) const NOT_IN_DRAFT7: &[&str] = &[
    "prefixItems",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
    "$anchor",
    "$vocabulary",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "dependentSchemas",
    "minContains",
    "maxContains",
];

/// Whether `schema` means the same under draft 7 as under 2020-12: none of the keywords above,
/// no `items` as an array (draft 7's tuple form, which 2020-12 calls `prefixItems`), and no
/// `$ref` beside a validating keyword (draft 7 ignores a `$ref`'s siblings).
pub(super) fn reads_the_same_in_draft7(schema: &Value) -> bool {
    const ANNOTATIONS: &[&str] = &[
        "$ref",
        "description",
        "title",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    ];
    match schema {
        Value::Object(map) => {
            if map.keys().any(|k| NOT_IN_DRAFT7.contains(&k.as_str()))
                || map.get("items").is_some_and(Value::is_array)
            {
                return false;
            }
            if map.contains_key("$ref") && map.keys().any(|k| !ANNOTATIONS.contains(&k.as_str())) {
                return false;
            }
            map.values().all(reads_the_same_in_draft7)
        }
        Value::Array(items) => items.iter().all(reads_the_same_in_draft7),
        _ => true,
    }
}

/// The validator of a configuration schema. The generated schemas declare 2020-12, whose
/// meta-schema (checked on every compile, `$dynamicRef` and all) costs a one-shot `exec` about a
/// millisecond, more than the rest of its configuration work: a schema whose keywords mean the
/// same in draft 7 is compiled as draft 7, with formats left as annotations as 2020-12 leaves
/// them. Any other schema is compiled as it declares.
pub(super) fn compile_schema(
    schema: &Value,
) -> Result<jsonschema::Validator, jsonschema::ValidationError<'static>> {
    if reads_the_same_in_draft7(schema) {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .should_validate_formats(false)
            .build(schema)
    } else {
        jsonschema::validator_for(schema)
    }
}

/// Validates `value` (at key path `base`) against `schema`, pushing every error. Returns whether
/// it was valid.
pub(super) fn validate_against(
    ctx: &Ctx<'_>,
    schema: &Value,
    value: &Value,
    base: &[String],
    errors: &mut ConfigErrors,
) -> bool {
    // Only the part of the schema that can apply to this value is looked at (see `prune`), and
    // compiled only when `quick` cannot tell that the value is valid.
    let pruned = prune::for_value(schema, value);
    if quick::check(&pruned, value) == Some(true) {
        return true;
    }
    let validator = match compile_schema(&pruned) {
        Ok(v) => v,
        Err(e) => {
            errors.push(ConfigProblem {
                key: base.join("."),
                value: None,
                origin: None,
                message: format!("the backend's JSON Schema is itself invalid (a bug): {e}"),
            });
            return false;
        }
    };
    let mut ok = true;
    for err in validator.iter_errors(value) {
        ok = false;
        let mut path = base.to_vec();
        let mut key = base.join(".");
        for seg in err.instance_path().iter() {
            match seg {
                jsonschema::paths::LocationSegment::Property(p) => {
                    path.push(p.to_string());
                    key.push('.');
                    key.push_str(&p);
                }
                jsonschema::paths::LocationSegment::Index(i) => {
                    path.push(i.to_string());
                    key.push_str(&format!("[{i}]"));
                }
            }
        }
        let rel: Vec<String> = path[base.len()..].to_vec();
        match err.kind() {
            jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed = allowed_keys(schema, &rel, base.len() == 2 && base[0] == "plugins");
                for name in unexpected {
                    let mut p = path.clone();
                    p.push(name.clone());
                    errors.push(ConfigProblem {
                        key: format!("{key}.{name}"),
                        value: None,
                        origin: ctx.origin_near(&p),
                        message: format!("unknown key; allowed keys: {}", allowed.join(", ")),
                    });
                }
            }
            kind => {
                let sub = subschema_at(schema, &rel);
                let secret = is_secret(schema, &rel, path.last().map(String::as_str));
                let shown = if secret {
                    "[REDACTED]".to_owned()
                } else {
                    redacted(schema, &rel, err.instance()).to_string()
                };
                let message = describe(kind, sub, schema, &err);
                errors.push(ConfigProblem {
                    key,
                    value: (!rel.is_empty() || !err.instance().is_object()).then_some(shown),
                    origin: ctx.origin_near(&path),
                    message,
                });
            }
        }
    }
    ok
}

/// A copy of `value` (at `rel`) with every secret inside it replaced by `[REDACTED]`.
pub(super) fn redacted(schema: &Value, rel: &[String], value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let mut p = rel.to_vec();
                    p.push(k.clone());
                    let v = if is_secret(schema, &p, Some(k)) {
                        Value::String("[REDACTED]".into())
                    } else {
                        redacted(schema, &p, v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, v)| {
                    let mut p = rel.to_vec();
                    p.push(i.to_string());
                    redacted(schema, &p, v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

pub(super) fn describe(
    kind: &jsonschema::error::ValidationErrorKind,
    sub: Option<&Value>,
    root: &Value,
    err: &jsonschema::ValidationError<'_>,
) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    let is_duration = sub.is_some_and(|s| {
        branches(root, s).iter().any(|b| {
            b.get("pattern").and_then(Value::as_str) == Some(atlas_sandbox_sdk::DURATION_PATTERN)
        })
    });
    match kind {
        K::Type { .. } | K::Pattern { .. } | K::AnyOf { .. } | K::OneOfNotValid { .. }
            if is_duration =>
        {
            "expected a duration such as \"10s\", \"500ms\" or \"2m\"".into()
        }
        K::Type { kind } => format!("expected {}", type_names(kind)),
        K::Required { property } => format!("missing required key {property}"),
        K::AnyOf { .. } | K::OneOfNotValid { .. } | K::Enum { .. } | K::Constant { .. } => sub
            .and_then(|s| expected_of(root, s))
            .unwrap_or_else(|| err.masked_with("the value").to_string()),
        _ => err.masked_with("the value").to_string(),
    }
}

/// "expected one of ..." or "expected a string" from a subschema's alternatives.
pub(super) fn expected_of(root: &Value, node: &Value) -> Option<String> {
    let mut values: Vec<String> = Vec::new();
    let mut types: Vec<String> = Vec::new();
    let mut stack = vec![node];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > 64 {
            break;
        }
        let n = deref(root, n);
        if let Some(c) = n.get("const") {
            values.push(c.to_string());
        }
        if let Some(Value::Array(e)) = n.get("enum") {
            values.extend(e.iter().filter(|v| !v.is_null()).map(Value::to_string));
        }
        match n.get("type") {
            Some(Value::String(t)) if n.get("const").is_none() && n.get("enum").is_none() => {
                types.push(t.clone())
            }
            Some(Value::Array(ts)) if n.get("enum").is_none() => {
                types.extend(ts.iter().filter_map(|t| t.as_str().map(str::to_owned)))
            }
            _ => {}
        }
        for k in ["anyOf", "oneOf"] {
            if let Some(Value::Array(items)) = n.get(k) {
                stack.extend(items.iter().rev());
            }
        }
    }
    types.retain(|t| t != "null");
    types.dedup();
    match (values.is_empty(), types.is_empty()) {
        (false, true) => Some(format!("expected one of {}", values.join(", "))),
        (false, false) => Some(format!(
            "expected one of {}, or {}",
            values.join(", "),
            types
                .iter()
                .map(|t| type_name(t))
                .collect::<Vec<_>>()
                .join(" or ")
        )),
        (true, false) => Some(format!(
            "expected {}",
            types
                .iter()
                .map(|t| type_name(t))
                .collect::<Vec<_>>()
                .join(" or ")
        )),
        (true, true) => None,
    }
}

pub(super) fn type_name(t: &str) -> String {
    match t {
        "integer" => "an integer".to_owned(),
        "object" => "a table".to_owned(),
        "array" => "a list".to_owned(),
        "boolean" => "true or false".to_owned(),
        "string" => "a string".to_owned(),
        "number" => "a number".to_owned(),
        other => other.to_owned(),
    }
}

pub(super) fn type_names(kind: &jsonschema::error::TypeKind) -> String {
    let raw = match kind {
        jsonschema::error::TypeKind::Single(t) => vec![t.to_string()],
        jsonschema::error::TypeKind::Multiple(ts) => ts.iter().map(|t| t.to_string()).collect(),
    };
    raw.iter()
        .filter(|t| *t != "null")
        .map(|t| type_name(t))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Follows a `$ref` of the form `#/$defs/Name` within `root`.
pub(super) fn deref<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..16 {
        let Some(r) = node.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(ptr) = r.strip_prefix('#') else {
            break;
        };
        match root.pointer(ptr) {
            Some(n) => node = n,
            None => break,
        }
    }
    node
}

/// The branches of a node to look through for properties: itself and its anyOf/oneOf/allOf.
pub(super) fn branches<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a Value> {
    let node = deref(root, node);
    let mut out = vec![node];
    for k in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(items)) = node.get(k) {
            for i in items {
                out.push(deref(root, i));
            }
        }
    }
    out
}

/// The subschema that describes the value at `path` (relative to the schema's root).
pub(crate) fn subschema_at<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut node = root;
    for seg in path {
        let next = branches(root, node).into_iter().find_map(|b| {
            b.get("properties")
                .and_then(|p| p.get(seg))
                .or_else(|| seg.parse::<usize>().ok().and_then(|_| b.get("items")))
                .or_else(|| b.get("additionalProperties").filter(|a| a.is_object()))
        })?;
        node = next;
    }
    Some(node)
}

pub(super) fn allowed_keys(schema: &Value, rel: &[String], plugin_table: bool) -> Vec<String> {
    let mut keys: Vec<String> = subschema_at(schema, rel)
        .map(|n| {
            branches(schema, n)
                .into_iter()
                .filter_map(|b| b.get("properties").and_then(Value::as_object))
                .flat_map(|p| p.keys().cloned())
                .collect()
        })
        .unwrap_or_default();
    if plugin_table && rel.is_empty() {
        keys.extend(HOST_PLUGIN_KEYS.iter().map(|s| (*s).to_owned()));
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Whether the value at `rel` is a secret: its schema says `writeOnly`, or its key name says so.
pub(crate) fn is_secret(schema: &Value, rel: &[String], key: Option<&str>) -> bool {
    if key.is_some_and(secret_name) {
        return true;
    }
    subschema_at(schema, rel).is_some_and(|n| {
        branches(schema, n)
            .iter()
            .any(|b| b.get("writeOnly") == Some(&Value::Bool(true)))
    })
}

/// Key names that hold credentials.
pub fn secret_name(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["key", "token", "secret", "password"]
        .iter()
        .any(|w| k.contains(w))
}

pub(super) fn schema_types(root: &Value, node: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for b in branches(root, node) {
        match b.get("type") {
            Some(Value::String(t)) => out.push(t.clone()),
            Some(Value::Array(ts)) => {
                out.extend(ts.iter().filter_map(|t| t.as_str().map(str::to_owned)))
            }
            _ => {}
        }
    }
    out
}

/// The schema pattern only checks a duration's shape (`5 parsecs` passes); parse every duration
/// now so a bad unit is reported at its key rather than as a deserialization error of the table.
pub(super) fn check_durations(
    ctx: &Ctx<'_>,
    schema: &Value,
    base: &[String],
    value: &Value,
    errors: &mut ConfigErrors,
) -> bool {
    fn walk(
        ctx: &Ctx<'_>,
        schema: &Value,
        base: &[String],
        rel: &mut Vec<String>,
        value: &Value,
        errors: &mut ConfigErrors,
    ) -> bool {
        match value {
            Value::Object(m) => {
                let mut ok = true;
                for (k, v) in m {
                    rel.push(k.clone());
                    ok &= walk(ctx, schema, base, rel, v, errors);
                    rel.pop();
                }
                ok
            }
            Value::String(s) => {
                let is_duration = subschema_at(schema, rel).is_some_and(|sub| {
                    branches(schema, sub).iter().any(|b| {
                        b.get("pattern").and_then(Value::as_str)
                            == Some(atlas_sandbox_sdk::DURATION_PATTERN)
                    })
                });
                if !is_duration {
                    return true;
                }
                match s.parse::<HumanDuration>() {
                    Ok(_) => true,
                    Err(message) => {
                        let mut path = base.to_vec();
                        path.extend(rel.iter().cloned());
                        errors.push(ConfigProblem {
                            key: path.join("."),
                            value: Some(format!("{s:?}")),
                            origin: ctx.origin(&path),
                            message,
                        });
                        false
                    }
                }
            }
            _ => true,
        }
    }
    walk(ctx, schema, base, &mut Vec::new(), value, errors)
}

/// Environment values are parsed like TOML scalars (`123` → integer, `true` → bool). When such a
/// value came from a variable and the schema wants a string there (a numeric token, a project
/// id), it is turned back into the string the user wrote.
pub(super) fn coerce_env_strings(
    ctx: &Ctx<'_>,
    schema: &Value,
    base: &[String],
    value: &mut Value,
) {
    fn walk(
        ctx: &Ctx<'_>,
        schema: &Value,
        base: &[String],
        rel: &mut Vec<String>,
        value: &mut Value,
    ) {
        match value {
            Value::Object(m) => {
                for (k, v) in m.iter_mut() {
                    rel.push(k.clone());
                    walk(ctx, schema, base, rel, v);
                    rel.pop();
                }
            }
            Value::Number(_) | Value::Bool(_) => {
                let Some(sub) = subschema_at(schema, rel) else {
                    return;
                };
                let types = schema_types(schema, sub);
                let wants_string = types.iter().any(|t| t == "string");
                let accepts_as_is = types.iter().any(|t| match value {
                    Value::Bool(_) => t == "boolean",
                    Value::Number(n) => {
                        t == "number"
                            || (t == "integer" && n.is_i64())
                            || (t == "integer" && n.is_u64())
                    }
                    _ => false,
                });
                if wants_string && !accepts_as_is {
                    let mut full = base.to_vec();
                    full.extend(rel.iter().cloned());
                    if let Some(Origin::Env { .. }) = ctx.origin(&full) {
                        *value = Value::String(match value {
                            Value::Number(n) => n.to_string(),
                            Value::Bool(b) => b.to_string(),
                            _ => return,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    walk(ctx, schema, base, &mut Vec::new(), value);
}
