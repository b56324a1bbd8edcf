//! JSON Schemas of `atlas.toml`: the `[sandbox]` table, each backend's `[plugins.<id>]` table,
//! and the whole file (for editors: `#:schema ./schemas/atlas.schema.json`).

use atlas_sandbox_sdk::PluginDescriptor;
use serde_json::{Map, Value, json};

use crate::config::SandboxSection;
use crate::registry::KNOWN_BACKENDS;

const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The schema of the `[sandbox]` table.
pub fn sandbox_schema() -> Value {
    schemars::schema_for!(SandboxSection).to_value()
}

fn host_keys() -> Value {
    json!({
        "enabled": {
            "type": "boolean",
            "default": true,
            "description": "Whether the host may use this backend (default true)."
        },
        "priority": {
            "type": "integer",
            "description": "Overrides the backend's default priority; higher is tried first."
        }
    })
}

/// The schema of one `[plugins.<id>]` table as written in the file: the backend's own schema
/// plus the host keys `enabled` and `priority`.
pub fn plugin_table_schema(d: &PluginDescriptor) -> Value {
    let mut schema = (d.schema)();
    if let Value::Object(obj) = &mut schema {
        obj.insert("$schema".into(), Value::String(DRAFT.into()));
        obj.entry("title")
            .or_insert_with(|| Value::String(format!("[plugins.{}]", d.id)));
        if let Some(Value::Object(props)) = obj.get_mut("properties") {
            if let Value::Object(h) = host_keys() {
                for (k, v) in h {
                    props.entry(k).or_insert(v);
                }
            }
        } else if obj.get("type").and_then(Value::as_str) == Some("object") {
            obj.insert("properties".into(), host_keys());
        }
    }
    schema
}

/// Moves a schema's `$defs` to `defs` under a prefix and rewrites its `$ref`s to match, so
/// several generated schemas can live in one document.
fn hoist(mut schema: Value, prefix: &str, defs: &mut Map<String, Value>) -> Value {
    fn rewrite(v: &mut Value, prefix: &str) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get_mut("$ref")
                    && let Some(name) = r.strip_prefix("#/$defs/")
                {
                    *r = format!("#/$defs/{prefix}{name}");
                }
                for (_, child) in m.iter_mut() {
                    rewrite(child, prefix);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| rewrite(c, prefix)),
            _ => {}
        }
    }
    rewrite(&mut schema, prefix);
    if let Value::Object(m) = &mut schema {
        m.remove("$schema");
        if let Some(Value::Object(d)) = m.remove("$defs") {
            for (k, v) in d {
                defs.insert(format!("{prefix}{k}"), v);
            }
        }
    }
    schema
}

/// The schema of the whole `atlas.toml` for the given compiled-in backends. Known backends that
/// are not compiled in accept any table (the host reports them as a missing Cargo feature).
pub fn combined_schema(descriptors: &[PluginDescriptor]) -> Value {
    let mut defs = Map::new();
    let sandbox = hoist(sandbox_schema(), "sandbox.", &mut defs);
    let server = hoist(crate::config::tables::server_schema(), "server.", &mut defs);
    let layers = hoist(crate::config::tables::layers_schema(), "layers.", &mut defs);
    let mut plugins = Map::new();
    for k in KNOWN_BACKENDS {
        let entry = match descriptors.iter().find(|d| d.id == k.id) {
            Some(d) => hoist(plugin_table_schema(d), &format!("{}.", d.id), &mut defs),
            None => json!({
                "type": "object",
                "description": format!(
                    "The {} backend; not compiled into the binary that generated this schema \
                     (Cargo feature `{}`).",
                    k.id, k.cargo_feature
                )
            }),
        };
        plugins.insert(k.id.to_owned(), entry);
    }
    // Plugins from outside the workspace registered with `LoadOptions::with_plugin`.
    for d in descriptors {
        if !plugins.contains_key(d.id) {
            let entry = hoist(plugin_table_schema(d), &format!("{}.", d.id), &mut defs);
            plugins.insert(d.id.to_owned(), entry);
        }
    }
    let mut root = json!({
        "$schema": DRAFT,
        "title": "atlas.toml",
        "description": "Configuration of atlas-sandbox: the [sandbox] table, one \
                        [plugins.<id>] table per backend, named [layers.<name>] and the \
                        explore [server].",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "sandbox": sandbox,
            "layers": layers,
            "server": server,
            "plugins": {
                "type": "object",
                "description": "One table per backend, keyed by plugin id.",
                "additionalProperties": false,
                "properties": plugins
            }
        }
    });
    if !defs.is_empty()
        && let Value::Object(m) = &mut root
    {
        m.insert("$defs".into(), Value::Object(defs));
    }
    root
}

/// Pretty JSON with a trailing newline, as committed under `config/schemas/`.
pub fn to_pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_schema_is_a_valid_schema_and_accepts_a_sandbox_table() {
        let s = combined_schema(&[]);
        let v = jsonschema::validator_for(&s).unwrap();
        assert!(v.is_valid(&json!({"sandbox": {"timeout": "5s"}, "plugins": {"nsjail": {}}})));
        assert!(!v.is_valid(&json!({"sandbox": {"timout": "5s"}})));
        assert!(!v.is_valid(&json!({"plugins": {"nsjial": {}}})));
    }
}
