//! The non-live part of `cargo xtask check-backends`, as a test, so drift fails `cargo test`:
//! committed schemas match the compiled-in backends, every compiled backend has a docs page,
//! `config/atlas.toml` validates, and xtask knows the same backend ids as the registry.
//!
//! It checks what this build contains: under `--all-features` that is every registered backend.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use atlas_sandbox::config::{self, LoadOptions};
use atlas_sandbox::registry::{KNOWN_BACKENDS, compiled_in};
use atlas_sandbox::schema;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> Option<String> {
    std::fs::read_to_string(workspace().join(rel)).ok()
}

/// Backends registered as host features (`<id> = ["dep:atlas-sandbox-<id>"]`).
fn registered() -> Vec<&'static str> {
    let manifest = read("crates/atlas-sandbox/Cargo.toml").unwrap();
    KNOWN_BACKENDS
        .iter()
        .map(|k| k.id)
        .filter(|id| {
            manifest.contains(&format!("{id} = [\"dep:atlas-sandbox-{id}\"]"))
                || manifest.contains(&format!("\"{id}\" = [\"dep:atlas-sandbox-{id}\"]"))
        })
        .collect()
}

#[test]
fn committed_schemas_are_current() {
    let mut stale = Vec::new();
    for d in compiled_in() {
        let name = format!("config/schemas/{}.schema.json", d.id);
        let want = schema::to_pretty(&schema::plugin_table_schema(&d));
        if read(&name).as_deref() != Some(want.as_str()) {
            stale.push(name);
        }
    }
    // The whole-file schema covers every registered backend, so only a build with all of them
    // can regenerate it.
    if compiled_in().len() == registered().len() {
        let want = schema::to_pretty(&schema::combined_schema(&compiled_in()));
        if read("config/schemas/atlas.schema.json").as_deref() != Some(want.as_str()) {
            stale.push("config/schemas/atlas.schema.json".into());
        }
    }
    assert!(
        stale.is_empty(),
        "stale: {}; run `cargo xtask schemas`",
        stale.join(", ")
    );
}

#[test]
fn every_compiled_backend_has_a_docs_page() {
    let missing: Vec<String> = compiled_in()
        .iter()
        .map(|d| format!("docs/backends/{}.md", d.id))
        .filter(|p| !workspace().join(p).is_file())
        .collect();
    assert!(missing.is_empty(), "missing: {}", missing.join(", "));
}

#[test]
fn example_config_validates() {
    let text = read("config/atlas.toml").unwrap();
    assert!(
        text.starts_with("#:schema ./schemas/atlas.schema.json"),
        "config/atlas.toml must start with the #:schema line"
    );
    let opts = LoadOptions {
        config_file: Some(workspace().join("config/atlas.toml")),
        // Hermetic: the developer's ATLAS_* or vendor variables must not change the verdict.
        env: Vec::new(),
        cwd: workspace(),
        descriptors: compiled_in(),
        example_root: PathBuf::from(config::EXAMPLE_SEMANTIC_ROOT),
        only_backend: None,
    };
    let compiled: Vec<&str> = compiled_in().iter().map(|d| d.id).collect();
    match config::load(&opts) {
        Ok(c) => {
            atlas_sandbox::host::build_slots(&c, &Default::default())
                .unwrap_or_else(|e| panic!("config/atlas.toml does not build:\n{e}"));
            assert!(
                c.sandbox.semantic_root.is_dir(),
                "{:?}",
                c.sandbox.semantic_root
            );
        }
        Err(e) => {
            // Sections of backends this build lacks are expected; nothing else is.
            let real: Vec<String> = e
                .problems
                .iter()
                .filter(|p| {
                    let missing_feature = p.message.contains("built without the");
                    let id = p.key.strip_prefix("plugins.").unwrap_or("");
                    !missing_feature || compiled.contains(&id)
                })
                .map(|p| p.to_string())
                .collect();
            assert!(real.is_empty(), "config/atlas.toml:\n{}", real.join("\n"));
        }
    }
}

#[test]
fn xtask_knows_the_same_backends() {
    let xtask = read("xtask/src/main.rs").unwrap();
    let ids: Vec<String> = KNOWN_BACKENDS
        .iter()
        .map(|k| format!("{:?}", k.id))
        .collect();
    let line = format!("const BACKENDS: &[&str] = &[{}];", ids.join(", "));
    assert!(
        xtask.contains(&line),
        "xtask/src/main.rs should contain `{line}`"
    );
}
