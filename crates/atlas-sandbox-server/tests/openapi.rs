//! `docs/openapi.json` is generated from the handlers and types; it must match them.

#![allow(clippy::unwrap_used)]

#[test]
fn committed_openapi_document_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let doc: serde_json::Value =
        serde_json::from_str(&atlas_sandbox_server::openapi_json()).unwrap();
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    assert!(
        committed == atlas_sandbox_server::openapi_json(),
        "docs/openapi.json is stale; run `cargo xtask schemas`"
    );
}
