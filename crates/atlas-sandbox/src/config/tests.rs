use super::*;

/// `load` skips the schema for `[sandbox]` when it holds only the defaults, for an empty
/// `[layers]` or `[server]`, and for an empty table of a backend that needs no config; that
/// is sound only while these hold.
#[test]
fn what_load_does_not_validate_is_valid() {
    let sandbox = jsonschema::validator_for(&schema::sandbox_schema()).unwrap();
    let defaults = serde_json::to_value(SandboxSection::default()).unwrap();
    assert!(sandbox.is_valid(&defaults), "{defaults}");
    for (name, s) in [
        ("layers", tables::layers_schema()),
        ("server", tables::server_schema()),
    ] {
        let v = jsonschema::validator_for(&s).unwrap();
        assert!(
            v.is_valid(&serde_json::json!({})),
            "[{name}] rejects an empty table"
        );
    }
    for d in registry::compiled_in()
        .into_iter()
        .filter(|d| !d.requires_config)
    {
        let v = jsonschema::validator_for(&(d.schema)()).unwrap();
        assert!(
            v.is_valid(&serde_json::json!({})),
            "{} needs no config but its schema rejects an empty table",
            d.id
        );
    }
}

/// `accepted_without_schema` is sound only while the `[sandbox]` schema constrains nothing
/// beyond serde's decoding, `max_output_bytes >= 1` and the duration pattern; and
/// `duration_shaped` is that pattern.
#[test]
fn the_sandbox_table_without_its_schema_agrees_with_it() {
    let schema = schema::sandbox_schema();
    fn walk(n: &Value, at: &str, seen: &mut Vec<String>) {
        match n {
            Value::Object(m) => {
                for (k, v) in m {
                    let known = [
                        "$schema",
                        "$defs",
                        "$ref",
                        "title",
                        "description",
                        "default",
                        "type",
                        "properties",
                        "additionalProperties",
                        "items",
                        "format",
                        "examples",
                    ];
                    if at.ends_with("/properties") || at.ends_with("/$defs") {
                        walk(v, &format!("{at}/{k}"), seen);
                        continue;
                    }
                    if !known.contains(&k.as_str()) {
                        seen.push(format!("{at}/{k}={v}"));
                    }
                    walk(v, &format!("{at}/{k}"), seen);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, at, seen)),
            _ => {}
        }
    }
    let mut seen = Vec::new();
    walk(&schema, "", &mut seen);
    let pattern = format!(
        "/$defs/Duration/pattern={}",
        Value::String(atlas_sandbox_sdk::DURATION_PATTERN.into())
    );
    seen.retain(|k| *k != pattern && k != "/properties/max_output_bytes/minimum=1");
    assert!(
        seen.is_empty(),
        "the [sandbox] schema gained constraints serde does not check; teach \
         accepted_without_schema them: {seen:?}"
    );
    let validator = compile_schema(&schema).unwrap();
    let shape = jsonschema::validator_for(&serde_json::json!({
        "type": "string", "pattern": atlas_sandbox_sdk::DURATION_PATTERN
    }))
    .unwrap();
    let strings = [
        "10s",
        "500ms",
        "2m",
        "1m 30s",
        "1m30s",
        " 5 s ",
        "1.5s",
        "1.s",
        ".5s",
        "0",
        "5",
        "",
        " ",
        "s",
        "5µs",
        "5 µs",
        "1h\t2m",
        "1h,2m",
        "-5s",
        "+5s",
        "5s6",
        "10 parsecs",
        "1e3s",
        "５s",
        "5\u{a0}s",
        "\u{2003}5s\u{2003}",
    ];
    for s in strings {
        assert_eq!(
            duration_shaped(s),
            shape.is_valid(&Value::String(s.into())),
            "{s:?}"
        );
        for key in ["timeout", "health_check_timeout"] {
            let v = serde_json::json!({ key: s });
            assert_eq!(
                accepted_without_schema(&v),
                validator.is_valid(&v) && s.parse::<HumanDuration>().is_ok(),
                "{v}"
            );
        }
    }
    for v in [
        serde_json::json!({"max_output_bytes": 0}),
        serde_json::json!({"max_output_bytes": 1}),
        serde_json::json!({"backend": "nsjail", "semantic_root": "/x"}),
        serde_json::json!({"backend": 5}),
        serde_json::json!({"bogus": 1}),
        serde_json::json!({"env": {"A": "b"}}),
        serde_json::json!({"env": {"A": 1}}),
        serde_json::json!({"priority": ["a"]}),
        serde_json::json!({"priority": "a"}),
        serde_json::json!({"timeout": 5}),
    ] {
        assert_eq!(accepted_without_schema(&v), validator.is_valid(&v), "{v}");
    }
}

/// Every generated configuration schema takes the draft 7 path, and there it accepts and
/// refuses what its declared 2020-12 reading does: the defaults, an unknown key, and every
/// top-level and nested key set to values of each JSON type.
#[test]
fn draft7_compiles_agree_with_2020_12() {
    let mut schemas = vec![
        ("sandbox".to_owned(), schema::sandbox_schema()),
        ("layers".to_owned(), tables::layers_schema()),
        ("server".to_owned(), tables::server_schema()),
    ];
    for d in registry::compiled_in() {
        schemas.push((format!("plugins.{}", d.id), (d.schema)()));
    }
    let probes = [
        serde_json::json!(null),
        serde_json::json!(true),
        serde_json::json!(0),
        serde_json::json!(-1),
        serde_json::json!(1.5),
        serde_json::json!(70000),
        serde_json::json!(""),
        serde_json::json!("x"),
        serde_json::json!("10s"),
        serde_json::json!([]),
        serde_json::json!(["a"]),
        serde_json::json!({}),
        serde_json::json!({"bogus": 1}),
    ];
    // Every `const` and `enum` value a schema names, to try at each of its keys.
    fn named_values(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Object(m) => {
                if let Some(c) = m.get("const") {
                    out.push(c.clone());
                }
                if let Some(Value::Array(items)) = m.get("enum") {
                    out.extend(items.iter().cloned());
                }
                m.values().for_each(|x| named_values(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| named_values(x, out)),
            _ => {}
        }
    }
    let mut decided = 0usize;
    let mut total = 0usize;
    for (name, schema) in schemas {
        assert!(
            reads_the_same_in_draft7(&schema),
            "[{name}]: the schema uses a keyword draft 7 reads differently; one-shot exec \
             pays the 2020-12 compile for it"
        );
        let fast = compile_schema(&schema).unwrap();
        let declared = jsonschema::validator_for(&schema).unwrap();
        let mut values = vec![serde_json::json!({}), serde_json::json!({"bogus": 1})];
        let keys: Vec<String> = schema["properties"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let mut named = Vec::new();
        named_values(&schema, &mut named);
        for key in &keys {
            let default = schema["properties"][key].get("default").cloned();
            for v in named.iter().chain(default.iter()) {
                values.push(serde_json::json!({ key.clone(): v.clone() }));
            }
            for p in &probes {
                values.push(serde_json::json!({ key.clone(): p.clone() }));
                if p.is_object() {
                    for inner in &probes {
                        values.push(serde_json::json!({ key.clone(): {"a": inner.clone()} }));
                    }
                }
            }
        }
        let errors = |validator: &jsonschema::Validator, v: &Value| -> Vec<String> {
            validator
                .iter_errors(v)
                .map(|e| format!("{} {e}", e.instance_path()))
                .collect()
        };
        // All the defaults at once: a table that spells out every key.
        values.push(Value::Object(
            keys.iter()
                .filter_map(|k| Some((k.clone(), schema["properties"][k].get("default")?.clone())))
                .collect(),
        ));
        for v in &values {
            total += 1;
            assert_eq!(
                fast.is_valid(v),
                declared.is_valid(v),
                "[{name}] draft 7 and 2020-12 disagree on {v}"
            );
            // The pruned schema refuses what the whole one does, with the same errors.
            let pruned_schema = prune::for_value(&schema, v);
            let pruned = compile_schema(&pruned_schema).unwrap();
            assert_eq!(
                errors(&pruned, v),
                errors(&fast, v),
                "[{name}] the schema pruned for {v} answers differently"
            );
            // Where `quick` answers without compiling, it answers as jsonschema does.
            for s in [&schema, pruned_schema.as_ref()] {
                if let Some(valid) = quick::check(s, v) {
                    decided += 1;
                    assert_eq!(valid, declared.is_valid(v), "[{name}] quick on {v}");
                }
            }
        }
    }
    // It must decide most of them, or one-shot commands are back to compiling schemas.
    eprintln!("quick decided {decided} of {} answers", total * 2);
    assert!(
        decided * 10 >= total * 2 * 9,
        "quick decided {decided} of {}",
        total * 2
    );
}

use atlas_sandbox_sdk::{
    HealthStatus, PluginContext, PluginFactory, Sandbox, SandboxPlugin, Secret, SecurityProfile,
    SemanticLayer, async_trait,
};

/// A cloud-like backend: needs an API key, has a vendor env fallback.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CloudConfig {
    /// The API key.
    api_key: Secret,
    /// Sandbox lifetime.
    #[serde(default)]
    #[allow(dead_code)]
    timeout: Option<HumanDuration>,
    /// Template id.
    #[serde(default)]
    #[allow(dead_code)]
    template: Option<String>,
}

/// A local backend: works with defaults.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LocalConfig {
    /// Memory limit in MiB.
    #[serde(default)]
    #[allow(dead_code)]
    memory_mb: Option<u32>,
}

#[derive(Debug)]
struct Nothing(&'static str);

#[async_trait]
impl SandboxPlugin for Nothing {
    fn id(&self) -> &'static str {
        self.0
    }
    fn priority(&self) -> i32 {
        0
    }
    fn security(&self) -> SecurityProfile {
        profile()
    }
    async fn health_check(&self) -> HealthStatus {
        HealthStatus::unhealthy("test double", Duration::ZERO)
    }
    async fn create(&self, _: &SemanticLayer) -> atlas_sandbox_sdk::Result<Box<dyn Sandbox>> {
        Err(atlas_sandbox_sdk::Error::unavailable("test double"))
    }
}

fn profile() -> SecurityProfile {
    SecurityProfile {
        network_isolation: false,
        filesystem_isolation: false,
        unprivileged_execution: false,
        description: "test".into(),
        caveats: vec![],
    }
}

struct Cloud;
impl PluginFactory for Cloud {
    type Config = CloudConfig;
    const ID: &'static str = "e2b";
    const DEFAULT_PRIORITY: i32 = 90;
    const CARGO_FEATURE: &'static str = "e2b";
    const ENV_FALLBACKS: &'static [(&'static str, &'static str)] = &[("E2B_API_KEY", "api_key")];
    const REQUIRES_CONFIG: bool = true;
    fn default_security() -> SecurityProfile {
        profile()
    }
    fn build(
        c: CloudConfig,
        _: &PluginContext,
    ) -> atlas_sandbox_sdk::Result<Box<dyn SandboxPlugin>> {
        assert!(!c.api_key.is_blank());
        Ok(Box::new(Nothing("e2b")))
    }
}

struct Local;
impl PluginFactory for Local {
    type Config = LocalConfig;
    const ID: &'static str = "just-bash";
    const DEFAULT_PRIORITY: i32 = 0;
    const CARGO_FEATURE: &'static str = "just-bash";
    fn default_security() -> SecurityProfile {
        profile()
    }
    fn build(
        _: LocalConfig,
        _: &PluginContext,
    ) -> atlas_sandbox_sdk::Result<Box<dyn SandboxPlugin>> {
        Ok(Box::new(Nothing("just-bash")))
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    opts: LoadOptions,
}

fn fixture(toml: Option<&str>, env: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    if let Some(t) = toml {
        std::fs::write(dir.path().join("atlas.toml"), t).unwrap();
    }
    let opts = LoadOptions {
        config_file: None,
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        cwd: dir.path().to_path_buf(),
        descriptors: vec![
            PluginDescriptor::of::<Cloud>("0.0.0"),
            PluginDescriptor::of::<Local>("0.0.0"),
        ],
        example_root: PathBuf::from("/example/semantic"),
        only_backend: None,
    };
    Fixture { dir, opts }
}

fn errors(f: &Fixture) -> String {
    load(&f.opts).unwrap_err().to_string()
}

/// A one-shot command for one backend checks that backend's table; the others are
/// `check`'s business (and are not built).
#[test]
fn only_backend_checks_only_that_table() {
    let toml = "[plugins.e2b]\napi_key = 42\n[plugins.just-bash]\nmemory_mb = 64\n";
    let mut f = fixture(Some(toml), &[]);
    assert!(errors(&f).contains("plugins.e2b.api_key"), "{}", errors(&f));
    f.opts.only_backend = Some("just-bash".into());
    let c = load(&f.opts).unwrap();
    assert!(c.plugins.iter().any(|p| p.descriptor.id == "just-bash"));
    let bad = "[plugins.just-bash]\nmemory_mb = \"lots\"\n";
    let mut f = fixture(Some(bad), &[]);
    f.opts.only_backend = Some("just-bash".into());
    assert!(
        errors(&f).contains("plugins.just-bash.memory_mb"),
        "{}",
        errors(&f)
    );
}

#[test]
fn defaults_without_a_file() {
    let f = fixture(None, &[]);
    let c = load(&f.opts).unwrap();
    assert_eq!(c.file, None);
    assert_eq!(c.sandbox.timeout, Duration::from_secs(10));
    assert_eq!(c.sandbox.max_output_bytes, 1024 * 1024);
    assert_eq!(c.sandbox.health_check_timeout, Duration::from_secs(3));
    assert_eq!(c.sandbox.semantic_root, PathBuf::from("/example/semantic"));
    assert_eq!(
        c.sandbox.semantic_root_source,
        SemanticRootSource::ExampleLayer
    );
    let e2b = &c.plugins[0];
    assert!(
        e2b.table.is_none(),
        "needs config and has none: not configured"
    );
    assert!(
        c.plugins[1].table.is_some(),
        "just-bash works with defaults"
    );

    std::fs::create_dir(f.dir.path().join("semantic")).unwrap();
    let c = load(&f.opts).unwrap();
    assert_eq!(
        c.sandbox.semantic_root_source,
        SemanticRootSource::WorkingDirectory
    );
}

#[test]
fn file_values_and_env_overrides_layer() {
    let f = fixture(
        Some(
            "[sandbox]\ntimeout = \"2s\"\nsemantic_root = \"layer\"\n\n\
             [plugins.e2b]\napi_key = \"from-file\"\npriority = 5\n",
        ),
        &[
            ("ATLAS_SANDBOX__TIMEOUT", "5s"),
            ("ATLAS_PLUGINS__JUST_BASH__MEMORY_MB", "64"),
            ("ATLAS_PLUGINS__E2B__TEMPLATE", "12345"),
            ("ATLAS_SANDBOX", "e2b"),
            ("ATLAS_TEST_BACKEND", "whatever"),
            ("ATLAS_ENV", "production"),
            ("E2B_API_KEY", "from-vendor-var"),
        ],
    );
    std::fs::create_dir(f.dir.path().join("layer")).unwrap();
    let c = load(&f.opts).unwrap();
    assert_eq!(c.sandbox.timeout, Duration::from_secs(5));
    assert_eq!(c.sandbox.semantic_root, f.dir.path().join("layer"));
    assert!(c.sandbox.production);
    assert_eq!(
        c.sandbox.backend,
        Some((
            "e2b".into(),
            Origin::Env {
                var: "ATLAS_SANDBOX".into()
            }
        ))
    );
    let e2b = c.plugins[0].table.as_ref().unwrap();
    assert_eq!(
        e2b["api_key"], "from-file",
        "the vendor variable only fills gaps"
    );
    assert_eq!(
        e2b["template"], "12345",
        "a numeric env value for a string key stays a string"
    );
    assert_eq!(c.plugins[0].priority, Some(5));
    assert_eq!(c.plugins[0].effective_priority(), 5);
    assert_eq!(c.plugins[1].table.as_ref().unwrap()["memory_mb"], 64);
}

#[test]
fn vendor_fallback_configures_a_backend() {
    let f = fixture(None, &[("E2B_API_KEY", "sk-test")]);
    let c = load(&f.opts).unwrap();
    assert_eq!(c.plugins[0].table.as_ref().unwrap()["api_key"], "sk-test");
    assert!(
        crate::host::build_slots(&c, &PluginContext::default()).is_ok(),
        "the validated table deserializes and builds"
    );
}

#[test]
fn typo_in_file_names_key_file_and_line() {
    let f = fixture(
        Some("[sandbox]\ntimeout = \"2s\"\n\n[plugins.e2b]\napi_key = \"k\"\ntemplat = \"x\"\n"),
        &[],
    );
    let e = errors(&f);
    let file = f.dir.path().join("atlas.toml");
    assert_eq!(
        e,
        format!(
            "plugins.e2b.templat ({}:6): unknown key; allowed keys: api_key, enabled, \
             priority, template, timeout",
            file.display()
        )
    );
}

#[test]
fn wrong_type_from_env_names_the_variable() {
    let f = fixture(None, &[("ATLAS_SANDBOX__MAX_OUTPUT_BYTES", "lots")]);
    let e = errors(&f);
    assert_eq!(
        e,
        "sandbox.max_output_bytes = \"lots\" (environment variable \
         ATLAS_SANDBOX__MAX_OUTPUT_BYTES): expected an integer"
    );
    let f = fixture(None, &[("ATLAS_SANDBOX__TIMEOUT", "5 parsecs")]);
    let e = errors(&f);
    assert!(e.contains("ATLAS_SANDBOX__TIMEOUT"), "{e}");
    assert!(
        e.starts_with("sandbox.timeout = \"5 parsecs\" (environment variable"),
        "{e}"
    );
    assert!(e.contains("write it like"), "{e}");
    let f = fixture(None, &[("ATLAS_SANDBOX__TIMEOUT", "5")]);
    let e = errors(&f);
    assert!(e.contains("expected a duration"), "{e}");
}

#[test]
fn known_backend_without_its_feature() {
    let f = fixture(
        Some("[sandbox]\n\n[plugins.nsjail]\ntime_limit = \"5s\"\n"),
        &[],
    );
    let e = errors(&f);
    let file = f.dir.path().join("atlas.toml");
    assert_eq!(
        e,
        format!(
            "plugins.nsjail ({f}:3): plugin 'nsjail' is configured in {f}:3 but this binary \
             was built without the `nsjail` Cargo feature; rebuild with `--features nsjail` \
             (or set enabled = false)",
            f = file.display()
        )
    );
    let f = fixture(Some("[plugins.nsjail]\nenabled = false\n"), &[]);
    assert!(load(&f.opts).is_ok(), "a disabled, absent backend is fine");
    let f = fixture(None, &[("ATLAS_PLUGINS__NSJAIL__TIME_LIMIT", "5s")]);
    let e = errors(&f);
    assert!(
        e.contains("configured in environment variable ATLAS_PLUGINS__NSJAIL__TIME_LIMIT"),
        "{e}"
    );
}

#[test]
fn every_problem_is_reported_at_once_and_secrets_are_redacted() {
    let f = fixture(
        Some(
            "[sandbox]\ntimout = \"2s\"\nbackend = \"nsjial\"\n\n\
             [plugins.e2b]\napi_key = 42\nenabled = \"yes\"\n\n\
             [plugins.nsjial]\n\n[extra]\n",
        ),
        &[("ATLAS_PLUGINS__E2B__TIMEOUT", "soon")],
    );
    let e = load(&f.opts).unwrap_err();
    let text = e.to_string();
    let keys: Vec<&str> = e.problems.iter().map(|p| p.key.as_str()).collect();
    for k in [
        "extra",
        "sandbox.timout",
        "plugins.nsjial",
        "plugins.e2b.enabled",
        "plugins.e2b.api_key",
        "plugins.e2b.timeout",
    ] {
        assert!(keys.contains(&k), "{k} missing from:\n{text}");
    }
    assert!(text.contains("known plugins: vercel, e2b, daytona, jail, nsjail, sidecar, just-bash"));
    assert!(text.contains("plugins.e2b.api_key = [REDACTED]"), "{text}");
    assert!(!text.contains("42"), "{text}");
    assert!(
        text.contains(
            "plugins.e2b.timeout = \"soon\" (environment variable ATLAS_PLUGINS__E2B__TIMEOUT)"
        ),
        "{text}"
    );
    assert_eq!(text.lines().count(), e.problems.len());
}

#[test]
fn sandbox_backend_and_priority_are_checked() {
    let f = fixture(
        Some("[sandbox]\nbackend = \"nsjail\"\npriority = [\"e2b\", \"e2b\", \"zzz\"]\n"),
        &[],
    );
    let e = errors(&f);
    assert!(e.contains("sandbox.backend = \"nsjail\""), "{e}");
    assert!(e.contains("--features nsjail"), "{e}");
    assert!(e.contains("sandbox.priority[1] = \"e2b\""), "{e}");
    assert!(e.contains("listed twice"), "{e}");
    assert!(e.contains("unknown backend 'zzz'"), "{e}");
}

#[test]
fn missing_explicit_file_and_bad_toml() {
    let mut f = fixture(None, &[]);
    f.opts.config_file = Some(PathBuf::from("nope.toml"));
    assert!(errors(&f).contains("nope.toml (from --config) does not exist"));
    let f = fixture(Some("[sandbox\n"), &[]);
    let e = errors(&f);
    assert!(e.contains("atlas.toml:1"), "{e}");
    assert!(e.contains("not valid TOML"), "{e}");
}

#[test]
fn a_configured_semantic_root_must_exist() {
    let f = fixture(None, &[("ATLAS_SANDBOX__SEMANTIC_ROOT", "nowhere")]);
    let e = errors(&f);
    assert!(
        e.starts_with(
            "sandbox.semantic_root = \"nowhere\" (environment variable \
             ATLAS_SANDBOX__SEMANTIC_ROOT): "
        ),
        "{e}"
    );
    assert!(e.ends_with("nowhere is not a directory"), "{e}");
}

#[test]
fn line_lookup() {
    let t = "a = 1\n[plugins.e2b]\n# c\napi_key = \"x\"\n[plugins]\nnsjail.x = 1\n";
    let p = |s: &str| s.split('.').map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(toml_key_line(t, &p("plugins.e2b")), Some(2));
    assert_eq!(toml_key_line(t, &p("plugins.e2b.api_key")), Some(4));
    assert_eq!(toml_key_line(t, &p("plugins.nsjail.x")), Some(6));
    assert_eq!(toml_key_line(t, &p("plugins.zzz")), None);
}

#[test]
fn sandbox_env_is_checked_and_never_takes_host_secrets() {
    let f = fixture(
        Some("[sandbox.env]\nREGION = \"eu\"\nQUOTE = \"it's\"\n"),
        &[],
    );
    let c = load(&f.opts).unwrap();
    assert_eq!(c.sandbox.env.len(), 2);
    assert_eq!(c.sandbox.env["QUOTE"], "it's");

    let f = fixture(
        Some(
            "[sandbox.env]\nE2B_API_KEY = \"x\"\nCOPY = \"sk-live-0123456789\"\n\
             UID = \"0\"\n\"2BAD\" = \"v\"\n",
        ),
        &[("GITHUB_TOKEN", "sk-live-0123456789")],
    );
    let e = errors(&f);
    assert!(e.contains("sandbox.env.E2B_API_KEY"), "{e}");
    assert!(
        e.contains("sandbox.env.COPY") && e.contains("GITHUB_TOKEN"),
        "{e}"
    );
    assert!(e.contains("sandbox.env.UID"), "{e}");
    assert!(e.contains("sandbox.env.2BAD"), "{e}");
    assert!(
        !e.contains("sk-live-0123456789"),
        "the secret is not echoed: {e}"
    );
}
