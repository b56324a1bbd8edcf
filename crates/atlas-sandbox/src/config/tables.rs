//! The `[layers.<name>]` and `[server]` tables: types, defaults and validation (the explore
//! server's settings live in the host's config like every other table, so `check` covers them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use atlas_sandbox_sdk::{HumanDuration, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    ConfigErrors, ConfigProblem, Ctx, Origin, check_durations, coerce_env_strings, validate_against,
};
use crate::layers::{self, LayerSection, Layers};

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8765";

fn default_listen() -> String {
    DEFAULT_LISTEN.to_owned()
}
fn default_max_sessions() -> usize {
    1000
}
fn default_idle_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}
fn default_max_concurrent() -> usize {
    64
}
fn default_max_concurrent_per_session() -> usize {
    4
}
fn default_queue_size() -> usize {
    256
}
fn default_queue_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
fn default_shutdown_grace() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
fn default_max_body_bytes() -> usize {
    1024 * 1024
}

/// One `[[server.tokens]]` entry: a bearer token and the layers it may use.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenSection {
    /// A label for logs, metrics and session ownership (default `token-<n>`, 1-based). Never the
    /// token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The bearer token (at least 16 characters). Prefer `token_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// The environment variable that holds the bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// The layers this token may use: `name`, `name/org`, `name/*` (every org of a pattern
    /// layer) or `*` (all).
    #[schemars(length(min = 1))]
    pub layers: Vec<String>,
}

/// The `[server]` table: the explore server (`atlas-sandbox mcp` and `serve`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// The address `serve` listens on. A non-loopback address needs `tokens`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Bearer tokens; with none, `serve` answers anyone who can reach it (loopback only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<TokenSection>,
    /// The most sessions open at once; one more evicts the least recently used idle session.
    #[serde(default = "default_max_sessions")]
    #[schemars(range(min = 1))]
    pub max_sessions: usize,
    /// A session unused this long is closed (its sandbox too).
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: HumanDuration,
    /// The most commands running at once in the whole server.
    #[serde(default = "default_max_concurrent")]
    #[schemars(range(min = 1))]
    pub max_concurrent: usize,
    /// The most commands running at once in one session.
    #[serde(default = "default_max_concurrent_per_session")]
    #[schemars(range(min = 1))]
    pub max_concurrent_per_session: usize,
    /// How many calls may wait for a slot; past that a call is refused at once (HTTP 429 with
    /// `Retry-After`, an MCP tool error "busy, retry").
    #[serde(default = "default_queue_size")]
    pub queue_size: usize,
    /// The longest a call waits for a slot before it is refused the same way.
    #[serde(default = "default_queue_timeout")]
    pub queue_timeout: HumanDuration,
    /// On SIGTERM or Ctrl-C, how long running commands may finish before every session is
    /// closed.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace: HumanDuration,
    /// The largest HTTP request body accepted, in bytes.
    #[serde(default = "default_max_body_bytes")]
    #[schemars(range(min = 1024))]
    pub max_body_bytes: usize,
    /// Run just-bash sessions in worker processes (Linux, with the `jail` and `just-bash`
    /// features): the warm jail's just-bash engine where user namespaces work, else a child
    /// with rlimits, so that a crash in the interpreter ends the sessions of one worker and not
    /// the server. false runs just-bash inside the server process (about 0.1 ms faster per
    /// command).
    #[serde(default = "default_just_bash_worker")]
    pub just_bash_worker: bool,
    /// The address space each just-bash worker may add to what it starts with, in MiB
    /// (RLIMIT_AS). A command that needs more ends its session (the worker aborts) and nothing
    /// else. Default: just-bash's `limits.max_total_memory_bytes` plus 256 MiB, at least 512.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 16))]
    pub just_bash_worker_memory_mb: Option<u64>,
    /// How many just-bash sessions of one layer share a worker process (each keeps its own
    /// files; they share the worker's memory cap and its fate). A worker costs megabytes (its
    /// own relocated copy of the program), a session in it a few KB: 1,000 sessions fit in
    /// about 16 workers. 1 gives every session its own worker (a crash then ends one session,
    /// at the cost of a worker each).
    #[serde(default = "default_just_bash_sessions_per_worker")]
    #[schemars(range(min = 1, max = 4096))]
    pub just_bash_sessions_per_worker: usize,
}

fn default_just_bash_worker() -> bool {
    true
}

fn default_just_bash_sessions_per_worker() -> usize {
    64
}

impl Default for ServerSection {
    fn default() -> Self {
        // Deserializing an empty table applies every `default = ...` above.
        serde_json::from_value(Value::Object(Default::default()))
            .unwrap_or_else(|_| unreachable_default())
    }
}

#[allow(clippy::panic)]
fn unreachable_default() -> ServerSection {
    panic!("ServerSection has a default for every key")
}

/// A bearer token with its grants.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// The label.
    pub name: String,
    /// The token.
    pub token: Secret,
    /// The layer grants.
    pub layers: Vec<String>,
}

/// The resolved `[server]` settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `listen`.
    pub listen: String,
    /// Where `listen` was set.
    pub listen_origin: Origin,
    /// The tokens (empty: no authentication).
    pub tokens: Vec<TokenGrant>,
    /// `max_sessions`.
    pub max_sessions: usize,
    /// `idle_timeout`.
    pub idle_timeout: Duration,
    /// `max_concurrent`.
    pub max_concurrent: usize,
    /// `max_concurrent_per_session`.
    pub max_concurrent_per_session: usize,
    /// `queue_size`.
    pub queue_size: usize,
    /// `queue_timeout`.
    pub queue_timeout: Duration,
    /// `shutdown_grace`.
    pub shutdown_grace: Duration,
    /// `max_body_bytes`.
    pub max_body_bytes: usize,
    /// `just_bash_worker`.
    pub just_bash_worker: bool,
    /// `just_bash_worker_memory_mb`.
    pub just_bash_worker_memory_mb: Option<u64>,
    /// `just_bash_sessions_per_worker`.
    pub just_bash_sessions_per_worker: usize,
}

impl ServerSettings {
    /// The settings of an empty `[server]` table.
    pub fn from_section(s: ServerSection, tokens: Vec<TokenGrant>, listen_origin: Origin) -> Self {
        ServerSettings {
            listen: s.listen,
            listen_origin,
            tokens,
            max_sessions: s.max_sessions,
            idle_timeout: s.idle_timeout.get(),
            max_concurrent: s.max_concurrent,
            max_concurrent_per_session: s.max_concurrent_per_session,
            queue_size: s.queue_size,
            queue_timeout: s.queue_timeout.get(),
            shutdown_grace: s.shutdown_grace.get(),
            max_body_bytes: s.max_body_bytes,
            just_bash_worker: s.just_bash_worker,
            just_bash_worker_memory_mb: s.just_bash_worker_memory_mb,
            just_bash_sessions_per_worker: s.just_bash_sessions_per_worker,
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings::from_section(ServerSection::default(), Vec::new(), Origin::Default)
    }
}

/// The schema of `[server]`.
pub fn server_schema() -> Value {
    schemars::schema_for!(ServerSection).to_value()
}

/// The schema of the `[layers]` table (one `[layers.<name>]` per layer).
pub fn layers_schema() -> Value {
    let mut v = schemars::schema_for!(BTreeMap<String, LayerSection>).to_value();
    if let Value::Object(m) = &mut v {
        m.insert(
            "description".into(),
            Value::String(
                "Named semantic layers: [layers.<name>] with `root` (one directory) or `pattern` \
                 (one directory per org, addressed as <name>/<org>). `default` is \
                 [sandbox] semantic_root unless set here."
                    .into(),
            ),
        );
    }
    v
}

fn table_or_empty(
    ctx: &Ctx<'_>,
    key: &str,
    value: Option<&Value>,
    errors: &mut ConfigErrors,
) -> Option<Value> {
    let value = value
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    if value.is_object() {
        Some(value)
    } else {
        errors.push(ConfigProblem {
            key: key.into(),
            value: Some(value.to_string()),
            origin: ctx.origin(&[key.to_owned()]),
            message: "must be a table".into(),
        });
        None
    }
}

fn is_empty_table(v: &Value) -> bool {
    v.as_object().is_some_and(serde_json::Map::is_empty)
}

pub(super) fn validate_layers(
    ctx: &Ctx<'_>,
    value: Option<&Value>,
    default_root: &Path,
    base_dir: &Path,
    errors: &mut ConfigErrors,
) -> Layers {
    let base = vec!["layers".to_owned()];
    let fallback = Layers::single(default_root);
    let Some(mut value) = table_or_empty(ctx, "layers", value, errors) else {
        return fallback;
    };
    // An empty table (no file or variable set one) is valid whatever the input (a test holds
    // the schema to that): compiling the schema would be most of a one-shot `exec`'s own cost.
    if !is_empty_table(&value) {
        let schema = layers_schema();
        coerce_env_strings(ctx, &schema, &base, &mut value);
        if !validate_against(ctx, &schema, &value, &base, errors) {
            return fallback;
        }
    }
    let sections: BTreeMap<String, LayerSection> = match serde_json::from_value(value) {
        Ok(s) => s,
        Err(e) => {
            errors.push(ConfigProblem {
                key: "layers".into(),
                value: None,
                origin: ctx.origin(&base),
                message: e.to_string(),
            });
            return fallback;
        }
    };
    let (layers, problems) = layers::from_sections(&sections, default_root, base_dir);
    for (key, message) in problems {
        let path: Vec<String> = key.split('.').map(str::to_owned).collect();
        errors.push(ConfigProblem {
            origin: ctx.origin_near(&path),
            key,
            value: None,
            message,
        });
    }
    layers
}

pub(super) fn validate_server(
    ctx: &Ctx<'_>,
    value: Option<&Value>,
    env: &dyn Fn(&str) -> Option<String>,
    layers: &Layers,
    errors: &mut ConfigErrors,
) -> ServerSettings {
    let base = vec!["server".to_owned()];
    let Some(mut value) = table_or_empty(ctx, "server", value, errors) else {
        return ServerSettings::default();
    };
    if !is_empty_table(&value) {
        let schema = server_schema();
        coerce_env_strings(ctx, &schema, &base, &mut value);
        if !validate_against(ctx, &schema, &value, &base, errors)
            || !check_durations(ctx, &schema, &base, &value, errors)
        {
            return ServerSettings::default();
        }
    }
    let section: ServerSection = match serde_json::from_value(value) {
        Ok(s) => s,
        Err(e) => {
            errors.push(ConfigProblem {
                key: "server".into(),
                value: None,
                origin: ctx.origin(&base),
                message: e.to_string(),
            });
            return ServerSettings::default();
        }
    };
    let listen_path = vec!["server".to_owned(), "listen".to_owned()];
    let listen_origin = ctx.origin(&listen_path).unwrap_or(Origin::Default);
    if section.listen.parse::<std::net::SocketAddr>().is_err() {
        errors.push(ConfigProblem {
            key: "server.listen".into(),
            value: Some(format!("{:?}", section.listen)),
            origin: Some(listen_origin.clone()),
            message: "not an address: write IP:PORT, e.g. 127.0.0.1:8765 or [::1]:8765".into(),
        });
    }
    let mut tokens = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, t) in section.tokens.iter().enumerate() {
        let key = format!("server.tokens[{i}]");
        let path = vec!["server".to_owned(), "tokens".to_owned()];
        let origin = ctx.origin_near(&path);
        let mut problem = |k: String, message: String| {
            errors.push(ConfigProblem {
                key: k,
                value: None,
                origin: origin.clone(),
                message,
            })
        };
        let name = t.name.clone().unwrap_or_else(|| format!("token-{}", i + 1));
        if !names.insert(name.clone()) {
            problem(
                format!("{key}.name"),
                format!("the name {name:?} is used twice"),
            );
        }
        let token = match (&t.token, &t.token_env) {
            (Some(tok), None) => Some(tok.clone()),
            (None, Some(var)) => match env(var).filter(|v| !v.trim().is_empty()) {
                Some(v) => Some(Secret::new(v)),
                None => {
                    problem(
                        format!("{key}.token_env"),
                        format!("the environment variable {var} is not set or empty"),
                    );
                    None
                }
            },
            _ => {
                problem(
                    key.clone(),
                    "set exactly one of `token` and `token_env`".into(),
                );
                None
            }
        };
        if let Some(tok) = &token
            && tok.expose().chars().count() < 16
        {
            problem(
                key.clone(),
                "the token is shorter than 16 characters; use a long random value".into(),
            );
        }
        for (j, g) in t.layers.iter().enumerate() {
            let (name_part, org) = match g.split_once('/') {
                Some((n, o)) => (n, Some(o)),
                None => (g.as_str(), None),
            };
            let known = g == "*"
                || match (layers.get(name_part), org) {
                    (Some(layers::LayerSource::Root(_)), None) => true,
                    (Some(layers::LayerSource::Pattern { .. }), Some(o)) => {
                        o == "*" || layers::valid_org(o)
                    }
                    _ => false,
                };
            if !known {
                let names: Vec<&str> = layers.iter().map(|(n, _)| n).collect();
                problem(
                    format!("{key}.layers[{j}]"),
                    format!(
                        "{g:?} names no layer; layers: {} (a pattern layer is granted as \
                         <name>/<org> or <name>/*)",
                        names.join(", ")
                    ),
                );
            }
        }
        if let Some(token) = token {
            tokens.push(TokenGrant {
                name,
                token,
                layers: t.layers.clone(),
            });
        }
    }
    for (i, a) in tokens.iter().enumerate() {
        if tokens[..i].iter().any(|b| b.token == a.token) {
            errors.push(ConfigProblem {
                key: "server.tokens".into(),
                value: None,
                origin: ctx.origin(&["server".to_owned(), "tokens".to_owned()]),
                message: format!("token {:?} has the same value as another token", a.name),
            });
        }
    }
    ServerSettings::from_section(section, tokens, listen_origin)
}

/// The directory relative `[layers]` paths are resolved against.
pub(super) fn base_dir(file: &Option<PathBuf>, cwd: &Path) -> PathBuf {
    file.as_ref()
        .and_then(|f| f.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cwd.to_path_buf())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::PathBuf;

    use crate::config::{LoadOptions, load};

    fn load_toml(toml: &str, env: &[(&str, &str)]) -> Result<crate::Config, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("semantic")).unwrap();
        std::fs::create_dir_all(dir.path().join(".orgs/acme")).unwrap();
        std::fs::write(dir.path().join("atlas.toml"), toml).unwrap();
        let opts = LoadOptions {
            config_file: None,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            cwd: dir.path().to_path_buf(),
            descriptors: Vec::new(),
            example_root: PathBuf::from("/example/semantic"),
            only_backend: None,
        };
        let r = load(&opts).map_err(|e| e.to_string());
        drop(dir);
        r
    }

    #[test]
    fn server_defaults_env_overrides_and_tokens() {
        let c = load_toml(
            "[layers.tenants]\npattern = \".orgs/{org}\"\n\n[server]\nmax_sessions = 5\n\n\
             [[server.tokens]]\nname = \"ci\"\ntoken_env = \"TOK\"\nlayers = [\"default\", \"tenants/*\"]\n",
            &[
                ("TOK", "0123456789abcdef0123"),
                ("ATLAS_SERVER__IDLE_TIMEOUT", "2m"),
            ],
        )
        .unwrap();
        assert_eq!(c.server.max_sessions, 5);
        assert_eq!(c.server.idle_timeout, std::time::Duration::from_secs(120));
        assert_eq!(c.server.listen, "127.0.0.1:8765");
        assert_eq!(c.server.tokens[0].name, "ci");
        assert_eq!(c.server.tokens[0].token.expose(), "0123456789abcdef0123");
        assert!(c.layers.get("tenants").is_some() && c.layers.get("default").is_some());
    }

    #[test]
    fn server_and_layer_problems_name_their_keys_and_hide_tokens() {
        let e = load_toml(
            "[layers.bad]\npattern = \"/nowhere/x\"\n\n[layers.both]\nroot = \"semantic\"\npattern = \"{org}\"\n\n\
             [server]\nlisten = \"localhost\"\nmax_concurent = 3\nidle_timeout = \"soon\"\n\n\
             [[server.tokens]]\ntoken = \"short-secret\"\nlayers = [\"nope\"]\n\n\
             [[server.tokens]]\ntoken_env = \"UNSET_VAR\"\nlayers = [\"default\"]\n",
            &[],
        )
        .unwrap_err();
        assert!(e.contains("server.max_concurent"), "{e}");
        assert!(e.contains("layers.bad.pattern"), "{e}");
        // Schema problems stop before semantic checks of the same table; fix and look again.
        let e = load_toml(
            "[layers.both]\nroot = \"semantic\"\npattern = \"{org}\"\n\n\
             [server]\nlisten = \"localhost\"\n\n\
             [[server.tokens]]\ntoken = \"short-secret\"\nlayers = [\"nope\"]\n\n\
             [[server.tokens]]\ntoken_env = \"UNSET_VAR\"\nlayers = [\"default\"]\n",
            &[],
        )
        .unwrap_err();
        assert!(e.contains("server.listen"), "{e}");
        assert!(e.contains("layers.both"), "{e}");
        assert!(e.contains("the token is shorter"), "{e}");
        assert!(e.contains("server.tokens[0].layers[0]"), "{e}");
        assert!(e.contains("server.tokens[1].token_env"), "{e}");
        assert!(!e.contains("short-secret"), "{e}");
    }
}
