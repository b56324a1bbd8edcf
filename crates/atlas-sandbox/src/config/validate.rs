//! Checking the tables of a loaded configuration: `[sandbox]`, the environment, backend
//! references and the `[plugins.<id>]` tables.

use super::*;

pub(super) fn validate_sandbox(
    ctx: &Ctx<'_>,
    value: Option<&Value>,
    opts: &LoadOptions,
    file: &Option<PathBuf>,
    errors: &mut ConfigErrors,
) -> Option<SandboxSettings> {
    let base = vec!["sandbox".to_owned()];
    let mut value = value
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    if !value.is_object() {
        errors.push(ConfigProblem {
            key: "sandbox".into(),
            value: Some(value.to_string()),
            origin: ctx.origin(&base),
            message: "must be a table".into(),
        });
        return None;
    }
    // Nothing but the defaults (no file or variable set a key): valid whatever the input, as a
    // test holds the defaults to the schema, so no schema to generate and compile.
    let defaults = serde_json::to_value(SandboxSection::default()).ok();
    if defaults.as_ref() != Some(&value) && !accepted_without_schema(&value) {
        let schema = schema::sandbox_schema();
        coerce_env_strings(ctx, &schema, &base, &mut value);
        if !validate_against(ctx, &schema, &value, &base, errors) {
            return None;
        }
        if !check_durations(ctx, &schema, &base, &value, errors) {
            return None;
        }
    }
    let section: SandboxSection = match serde_json::from_value(value) {
        Ok(s) => s,
        Err(e) => {
            errors.push(ConfigProblem {
                key: "sandbox".into(),
                value: None,
                origin: ctx.origin(&base),
                message: e.to_string(),
            });
            return None;
        }
    };
    let (semantic_root, semantic_root_source) = match &section.semantic_root {
        Some(p) => {
            let path = vec!["sandbox".to_owned(), "semantic_root".to_owned()];
            let origin = ctx.origin(&path).unwrap_or(Origin::Default);
            let base_dir = match (&origin, file) {
                (Origin::File { .. }, Some(f)) => f
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| opts.cwd.clone()),
                _ => opts.cwd.clone(),
            };
            let root = base_dir.join(p);
            if !root.is_dir() {
                errors.push(ConfigProblem {
                    key: "sandbox.semantic_root".into(),
                    value: Some(format!("{:?}", p.display().to_string())),
                    origin: Some(origin.clone()),
                    message: format!("{} is not a directory", root.display()),
                });
            }
            (root, SemanticRootSource::Configured { origin })
        }
        None => {
            let local = opts.cwd.join("semantic");
            if local.is_dir() {
                (local, SemanticRootSource::WorkingDirectory)
            } else {
                (
                    normalize_path(&opts.example_root),
                    SemanticRootSource::ExampleLayer,
                )
            }
        }
    };
    let backend = section.backend.clone().map(|b| {
        let path = vec!["sandbox".to_owned(), "backend".to_owned()];
        (b, ctx.origin(&path).unwrap_or(Origin::Default))
    });
    let state_path = match &section.state_path {
        Some(p) => {
            let path = vec!["sandbox".to_owned(), "state_path".to_owned()];
            match (ctx.origin(&path), file) {
                (Some(Origin::File { .. }), Some(f)) => f
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| opts.cwd.clone())
                    .join(p),
                _ => opts.cwd.join(p),
            }
        }
        // Without XDG_STATE_HOME or HOME the default is relative: the working directory's.
        None => opts.cwd.join(crate::persist::default_state_path(|k| {
            opts.var(k).map(str::to_owned)
        })),
    };
    let env = check_env(ctx, &section.env, opts, errors);
    Some(SandboxSettings {
        env,
        state_path,
        semantic_root,
        semantic_root_source,
        timeout: section.timeout.get(),
        max_output_bytes: usize::try_from(section.max_output_bytes).unwrap_or(usize::MAX),
        backend,
        priority: section.priority.clone(),
        production: section.production,
        allow_just_bash_in_production: section.allow_just_bash_in_production,
        health_check_timeout: section.health_check_timeout.get(),
    })
}

/// `[sandbox.env]` as [`crate::env::check`] accepts it; each bad entry is an error naming it.
pub(super) fn check_env(
    ctx: &Ctx<'_>,
    env: &BTreeMap<String, String>,
    opts: &LoadOptions,
    errors: &mut ConfigErrors,
) -> BTreeMap<String, String> {
    // The variables the backends read credentials from, and any host variable named like one.
    let secret_names: Vec<&str> = opts
        .descriptors
        .iter()
        .flat_map(|d| d.env_fallbacks.iter())
        .filter(|(_, key)| is_secret_key(key))
        .map(|(var, _)| *var)
        .collect();
    let host_secret = |value: &str| {
        let value = value.trim();
        if value.len() < 8 {
            return None;
        }
        opts.env
            .iter()
            .find(|(k, v)| {
                (secret_names.contains(&k.as_str()) || is_secret_key(&k.to_ascii_lowercase()))
                    && v.trim() == value
            })
            .map(|(k, _)| k.clone())
    };
    let bad = crate::env::check(env, &secret_names, host_secret);
    if bad.is_empty() {
        return env.clone();
    }
    for (name, message) in bad {
        let mut path = vec!["sandbox".to_owned(), "env".to_owned()];
        if !name.is_empty() {
            path.push(name.clone());
        }
        errors.push(ConfigProblem {
            key: path.join("."),
            // The value is not echoed: it may be the very secret being refused.
            value: None,
            origin: ctx.origin(&path),
            message,
        });
    }
    BTreeMap::new()
}

/// Whether a key or variable name (lower case) holds a credential.
pub(super) fn is_secret_key(key: &str) -> bool {
    ["key", "token", "secret", "password"]
        .iter()
        .any(|w| key.split(['_', '-']).any(|part| part == *w))
}

/// Removes `..` and `.` lexically so the example root prints cleanly.
pub(super) fn normalize_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

pub(super) fn known(id: &str) -> Option<&'static KnownBackend> {
    registry::KNOWN_BACKENDS.iter().find(|k| k.id == id)
}

/// The backends this project knows, then any plugin from outside it that `opts` registers.
pub(super) fn known_ids(opts: &LoadOptions) -> String {
    let mut ids: Vec<&str> = registry::KNOWN_BACKENDS.iter().map(|k| k.id).collect();
    for d in &opts.descriptors {
        if !ids.contains(&d.id) {
            ids.push(d.id);
        }
    }
    ids.join(", ")
}

/// Checks `sandbox.backend` and `sandbox.priority` name known, compiled-in backends.
pub(super) fn check_backend_refs(
    ctx: &Ctx<'_>,
    s: &SandboxSettings,
    opts: &LoadOptions,
    errors: &mut ConfigErrors,
) {
    let compiled: BTreeSet<&str> = opts.descriptors.iter().map(|d| d.id).collect();
    let check = |id: &str, key: String, origin: Option<Origin>, errors: &mut ConfigErrors| {
        let problem = match known(id) {
            None if compiled.contains(id) => None,
            None => Some(format!(
                "unknown backend '{id}'; known backends: {}",
                known_ids(opts)
            )),
            Some(k) if !compiled.contains(id) => Some(format!(
                "backend '{id}' is not compiled into this binary; rebuild with `--features {}`",
                k.cargo_feature
            )),
            Some(_) => None,
        };
        if let Some(message) = problem {
            errors.push(ConfigProblem {
                key,
                value: Some(format!("{id:?}")),
                origin,
                message,
            });
        }
    };
    if let Some((id, origin)) = &s.backend {
        check(id, "sandbox.backend".into(), Some(origin.clone()), errors);
    }
    if let Some(list) = &s.priority {
        let path = vec!["sandbox".to_owned(), "priority".to_owned()];
        let origin = ctx.origin(&path);
        let mut seen = BTreeSet::new();
        for (i, id) in list.iter().enumerate() {
            let key = format!("sandbox.priority[{i}]");
            if !seen.insert(id.as_str()) {
                errors.push(ConfigProblem {
                    key,
                    value: Some(format!("{id:?}")),
                    origin: origin.clone(),
                    message: "listed twice".into(),
                });
                continue;
            }
            check(id, key, origin.clone(), errors);
        }
    }
}

pub(super) fn validate_plugins(
    ctx: &Ctx<'_>,
    value: Option<&Value>,
    opts: &LoadOptions,
    errors: &mut ConfigErrors,
) -> Vec<PluginConfig> {
    let empty = serde_json::Map::new();
    let tables = match value {
        None => &empty,
        Some(Value::Object(m)) => m,
        Some(other) => {
            errors.push(ConfigProblem {
                key: "plugins".into(),
                value: Some(other.to_string()),
                origin: ctx.origin(&["plugins".to_owned()]),
                message: "must be a table of [plugins.<id>] tables".into(),
            });
            &empty
        }
    };

    let compiled: BTreeMap<&str, &PluginDescriptor> =
        opts.descriptors.iter().map(|d| (d.id, d)).collect();
    for (id, table) in tables {
        if compiled.contains_key(id.as_str()) {
            continue;
        }
        let path = vec!["plugins".to_owned(), id.clone()];
        let origin = table_origin(ctx, &path, table);
        let where_ = origin
            .as_ref()
            .map(|o| format!(" in {o}"))
            .unwrap_or_default();
        let message = match known(id) {
            Some(_) if table.get("enabled") == Some(&Value::Bool(false)) => continue,
            Some(k) => format!(
                "plugin '{id}' is configured{where_} but this binary was built without the `{f}` \
                 Cargo feature; rebuild with `--features {f}` (or set enabled = false)",
                f = k.cargo_feature
            ),
            None => format!("unknown plugin '{id}'; known plugins: {}", known_ids(opts)),
        };
        errors.push(ConfigProblem {
            key: format!("plugins.{id}"),
            value: None,
            origin,
            message,
        });
    }

    let mut out = Vec::new();
    for d in &opts.descriptors {
        let path = vec!["plugins".to_owned(), d.id.to_owned()];
        let raw = tables.get(d.id);
        let origin = raw.and_then(|t| table_origin(ctx, &path, t));
        let mut table = match raw {
            None => serde_json::Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(other) => {
                errors.push(ConfigProblem {
                    key: path.join("."),
                    value: Some(other.to_string()),
                    origin,
                    message: "must be a table".into(),
                });
                continue;
            }
        };

        let enabled = match table.remove("enabled") {
            None => true,
            Some(Value::Bool(b)) => b,
            Some(Value::String(s)) if is_env(ctx, &path, "enabled") && parse_bool(&s).is_some() => {
                parse_bool(&s).unwrap_or(true)
            }
            Some(other) => {
                errors.push(host_key_problem(
                    ctx,
                    &path,
                    "enabled",
                    &other,
                    "expected true or false",
                ));
                true
            }
        };
        let priority = match table.remove("priority") {
            None => None,
            Some(Value::Number(n)) if n.as_i64().and_then(|v| i32::try_from(v).ok()).is_some() => {
                n.as_i64().and_then(|v| i32::try_from(v).ok())
            }
            Some(other) => {
                errors.push(host_key_problem(
                    ctx,
                    &path,
                    "priority",
                    &other,
                    "expected an integer (higher wins)",
                ));
                None
            }
        };

        if raw.is_none() && d.requires_config {
            out.push(PluginConfig {
                descriptor: *d,
                enabled,
                priority,
                table: None,
                origin: None,
            });
            continue;
        }
        // A table with only `enabled`/`priority` does not configure a backend that needs config.
        if d.requires_config && table.is_empty() {
            out.push(PluginConfig {
                descriptor: *d,
                enabled,
                priority,
                table: None,
                origin,
            });
            continue;
        }
        // An empty table of a backend that needs no config is valid whatever the input (a test
        // holds every compiled-in schema to that): no schema to generate and compile for it.
        if table.is_empty() && !d.requires_config {
            out.push(PluginConfig {
                descriptor: *d,
                enabled,
                priority,
                table: Some(Value::Object(table)),
                origin,
            });
            continue;
        }
        let mut value = Value::Object(table);
        // A disabled backend, or one this load is not for (`only_backend`), is never built, so a
        // half-written table is not an error yet.
        if !enabled
            || opts
                .only_backend
                .as_deref()
                .is_some_and(|only| only != d.id)
        {
            out.push(PluginConfig {
                descriptor: *d,
                enabled,
                priority,
                table: Some(value),
                origin,
            });
            continue;
        }
        let schema = (d.schema)();
        coerce_env_strings(ctx, &schema, &path, &mut value);
        if validate_against(ctx, &schema, &value, &path, errors)
            && check_durations(ctx, &schema, &path, &value, errors)
        {
            out.push(PluginConfig {
                descriptor: *d,
                enabled,
                priority,
                table: Some(value),
                origin,
            });
        }
    }
    out
}

pub(super) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

pub(super) fn is_env(ctx: &Ctx<'_>, base: &[String], key: &str) -> bool {
    let mut p = base.to_vec();
    p.push(key.to_owned());
    matches!(ctx.origin(&p), Some(Origin::Env { .. }))
}

pub(super) fn host_key_problem(
    ctx: &Ctx<'_>,
    base: &[String],
    key: &str,
    value: &Value,
    message: &str,
) -> ConfigProblem {
    let mut p = base.to_vec();
    p.push(key.to_owned());
    ConfigProblem {
        key: p.join("."),
        value: Some(value.to_string()),
        origin: ctx.origin(&p),
        message: message.into(),
    }
}

/// Where a table was set: its header line, or for a table built from variables, the first one.
pub(super) fn table_origin(ctx: &Ctx<'_>, path: &[String], table: &Value) -> Option<Origin> {
    if let Some(line) = ctx
        .files
        .path
        .as_ref()
        .and_then(|_| toml_key_line(&ctx.files.text, path))
        && let Some(p) = &ctx.files.path
    {
        return Some(Origin::File {
            path: p.clone(),
            line: Some(line),
        });
    }
    if let Value::Object(m) = table {
        for k in m.keys() {
            let mut p = path.to_vec();
            p.push(k.clone());
            if let Some(o) = ctx.origin(&p) {
                return Some(o);
            }
        }
    }
    ctx.origin(path)
}
