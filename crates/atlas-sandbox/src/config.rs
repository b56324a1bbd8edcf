//! `atlas.toml`: layering (defaults, file, environment), validation against the JSON Schemas,
//! and the resolved configuration the host starts from.
//!
//! Every problem is collected and reported at once ([`ConfigErrors`]), each naming its key path
//! and where the value came from (file and line, or the environment variable).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use atlas_sandbox_sdk::{
    DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_TIMEOUT, HumanDuration, PluginDescriptor,
};
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value as FValue};
use figment::{Figment, Metadata, Profile, Provider, Source};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::layers::Layers;
use crate::registry::{self, KnownBackend};
use crate::schema;

mod prune;
mod quick;
pub mod tables;
pub use tables::{ServerSection, ServerSettings, TokenGrant, TokenSection};

/// The prefix of the environment variables that override `atlas.toml`.
pub const ENV_PREFIX: &str = "ATLAS_";
/// Separates nesting levels in override variables: `ATLAS_PLUGINS__E2B__API_KEY`.
pub const ENV_SEPARATOR: &str = "__";
/// The file looked for in the working directory when neither `--config` nor `ATLAS_CONFIG` is set.
pub const DEFAULT_CONFIG_FILE: &str = "atlas.toml";
/// The example semantic layer shipped with the workspace, used when no other root is found.
pub const EXAMPLE_SEMANTIC_ROOT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/semantic");

/// The keys of a `[plugins.<id>]` table that the host, not the backend, owns.
pub const HOST_PLUGIN_KEYS: &[&str] = &["enabled", "priority"];

fn default_timeout() -> HumanDuration {
    HumanDuration(DEFAULT_TIMEOUT)
}

fn default_max_output_bytes() -> u64 {
    DEFAULT_MAX_OUTPUT_BYTES as u64
}

fn default_health_check_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(3))
}

/// The `[sandbox]` table of `atlas.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxSection {
    /// The semantic layer directory commands run over. A relative path is resolved against the
    /// directory of the config file. Default: `./semantic` if it exists, else the example layer
    /// shipped with atlas-sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_root: Option<PathBuf>,
    /// The default wall-clock limit of one command.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// The default cap of each of stdout and stderr, in bytes.
    #[serde(default = "default_max_output_bytes")]
    #[schemars(range(min = 1))]
    pub max_output_bytes: u64,
    /// Pins one backend by id. A pinned backend fails closed: if it is unhealthy or cannot
    /// create a sandbox, commands are refused instead of falling back. Also `ATLAS_SANDBOX=<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// An explicit order of backend ids, tried first in this order; backends not listed follow
    /// by priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Vec<String>>,
    /// Production mode: falling back to just-bash (no isolation) is refused unless
    /// `allow_just_bash_in_production` is set. Also `ATLAS_ENV=production`.
    #[serde(default)]
    pub production: bool,
    /// Allows just-bash as the fallback in production mode (logged as a security degradation).
    #[serde(default)]
    pub allow_just_bash_in_production: bool,
    /// One overall deadline for the health checks of all backends at startup.
    #[serde(default = "default_health_check_timeout")]
    pub health_check_timeout: HumanDuration,
    /// The file that maps persistent sessions to their paused cloud sandboxes (one embedded
    /// database file). Default: `$XDG_STATE_HOME/atlas-sandbox/sessions.db` (else
    /// `~/.local/state/atlas-sandbox/sessions.db`). A relative path is resolved against the
    /// config file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_path: Option<PathBuf>,
    /// Environment variables every command sees, on every backend (`[sandbox.env]`, `NAME =
    /// "value"`). Only these literal values are passed: nothing of the host's own environment,
    /// and a name the host reads credentials from, or the value of a host secret, is refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

impl Default for SandboxSection {
    fn default() -> Self {
        SandboxSection {
            semantic_root: None,
            timeout: default_timeout(),
            max_output_bytes: default_max_output_bytes(),
            backend: None,
            priority: None,
            production: false,
            allow_just_bash_in_production: false,
            health_check_timeout: default_health_check_timeout(),
            state_path: None,
            env: BTreeMap::new(),
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A config file, with the 1-based line of the key when it could be found.
    File {
        /// The file.
        path: PathBuf,
        /// The line of the key.
        line: Option<usize>,
    },
    /// An environment variable.
    Env {
        /// Its name.
        var: String,
    },
    /// A command-line argument.
    Argument {
        /// Its name, e.g. `--backend`.
        name: String,
    },
    /// The built-in default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File {
                path,
                line: Some(l),
            } => write!(f, "{}:{l}", path.display()),
            Origin::File { path, line: None } => write!(f, "{}", path.display()),
            Origin::Env { var } => write!(f, "environment variable {var}"),
            Origin::Argument { name } => write!(f, "command-line argument {name}"),
            Origin::Default => f.write_str("built-in default"),
        }
    }
}

/// One configuration problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    /// The dotted key path, e.g. `plugins.e2b.timeout` (empty for the file as a whole).
    pub key: String,
    /// The offending value as the user wrote it (`[REDACTED]` for secrets), when there is one.
    pub value: Option<String>,
    /// Where the value came from.
    pub origin: Option<Origin>,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str("config")?;
        } else {
            f.write_str(&self.key)?;
        }
        if let Some(v) = &self.value {
            write!(f, " = {v}")?;
        }
        if let Some(o) = &self.origin {
            write!(f, " ({o})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in the configuration. `Display` prints one per line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConfigErrors {
    /// The problems, in the order found.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigErrors {
    fn push(&mut self, p: ConfigProblem) {
        self.problems.push(p);
    }

    /// Whether there is no problem.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// One problem without a key.
    pub fn single(message: impl Into<String>) -> Self {
        ConfigErrors {
            problems: vec![ConfigProblem {
                key: String::new(),
                value: None,
                origin: None,
                message: message.into(),
            }],
        }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Where the semantic root came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SemanticRootSource {
    /// `sandbox.semantic_root`, set in a file or the environment.
    Configured {
        /// Where it was set.
        origin: Origin,
    },
    /// `./semantic` in the working directory.
    WorkingDirectory,
    /// The example layer shipped with atlas-sandbox.
    ExampleLayer,
}

impl fmt::Display for SemanticRootSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SemanticRootSource::Configured { origin } => {
                write!(f, "sandbox.semantic_root ({origin})")
            }
            SemanticRootSource::WorkingDirectory => {
                f.write_str("./semantic in the working directory")
            }
            SemanticRootSource::ExampleLayer => {
                f.write_str("the example layer shipped with atlas-sandbox (no ./semantic here)")
            }
        }
    }
}

/// The resolved `[sandbox]` settings.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// The semantic root.
    pub semantic_root: PathBuf,
    /// Where it came from.
    pub semantic_root_source: SemanticRootSource,
    /// Default command timeout.
    pub timeout: Duration,
    /// Default per-stream output cap.
    pub max_output_bytes: usize,
    /// The pinned backend and where the pin was set.
    pub backend: Option<(String, Origin)>,
    /// The explicit order.
    pub priority: Option<Vec<String>>,
    /// Production mode.
    pub production: bool,
    /// Whether just-bash may be the fallback in production.
    pub allow_just_bash_in_production: bool,
    /// The overall health-check deadline.
    pub health_check_timeout: Duration,
    /// The session store of persistent cloud sessions (`state_path`).
    pub state_path: PathBuf,
    /// `[sandbox.env]`, checked: exported in every command on every backend.
    pub env: BTreeMap<String, String>,
}

impl SandboxSettings {
    /// The defaults of `[sandbox]` over `semantic_root` (for embedding the host in a program).
    pub fn new(semantic_root: impl Into<PathBuf>) -> Self {
        let d = SandboxSection::default();
        SandboxSettings {
            semantic_root: semantic_root.into(),
            semantic_root_source: SemanticRootSource::Configured {
                origin: Origin::Default,
            },
            timeout: d.timeout.get(),
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            backend: None,
            priority: None,
            production: false,
            allow_just_bash_in_production: false,
            health_check_timeout: d.health_check_timeout.get(),
            state_path: crate::persist::default_state_path(|k| std::env::var(k).ok()),
            env: BTreeMap::new(),
        }
    }
}

/// One compiled-in backend's configuration.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// The backend.
    pub descriptor: PluginDescriptor,
    /// `enabled` (default true).
    pub enabled: bool,
    /// The `priority` override.
    pub priority: Option<i32>,
    /// The validated table without the host keys; `None` when the backend is not configured.
    pub table: Option<Value>,
    /// Where the table was set (the file line of `[plugins.<id>]` or the first variable).
    pub origin: Option<Origin>,
}

impl PluginConfig {
    /// The effective priority (override, else the backend's default).
    pub fn effective_priority(&self) -> i32 {
        self.priority.unwrap_or(self.descriptor.default_priority)
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    /// `[sandbox]`.
    pub sandbox: SandboxSettings,
    /// One entry per compiled-in backend, in registry order.
    pub plugins: Vec<PluginConfig>,
    /// The named layers (`[layers.<name>]`, plus `default`).
    pub layers: Layers,
    /// `[server]`.
    pub server: ServerSettings,
}

/// What [`load`] reads: the file choice, the environment and the compiled-in backends. Passing
/// the environment explicitly keeps loading pure and testable.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `--config FILE`.
    pub config_file: Option<PathBuf>,
    /// The environment variables.
    pub env: Vec<(String, String)>,
    /// The working directory (for `./atlas.toml` and `./semantic`).
    pub cwd: PathBuf,
    /// The compiled-in backends.
    pub descriptors: Vec<PluginDescriptor>,
    /// The example semantic layer (the fallback root).
    pub example_root: PathBuf,
    /// The one backend this load is for (a one-shot `exec --backend ID`): the other backends'
    /// tables are kept but not checked against their schemas, as they will not be built.
    /// Compiling a schema costs a millisecond, as much as the rest of a one-shot command's
    /// own work, and `check`, `backends` and the servers (`None`) still check every table.
    pub only_backend: Option<String>,
}

impl LoadOptions {
    /// The options of this process: its environment, working directory and compiled-in backends.
    pub fn from_process(config_file: Option<PathBuf>) -> Self {
        LoadOptions {
            config_file,
            env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            descriptors: registry::compiled_in(),
            example_root: PathBuf::from(EXAMPLE_SEMANTIC_ROOT),
            only_backend: None,
        }
    }

    /// Adds a plugin built outside this workspace: any crate implementing the SDK's
    /// [`atlas_sandbox_sdk::PluginFactory`], passed as
    /// `PluginDescriptor::of::<MyFactory>(env!("CARGO_PKG_VERSION"))`. It is treated like the
    /// compiled-in backends: its `[plugins.<id>]` table is validated against its schema, it is
    /// health-checked, ordered by priority (default
    /// [`atlas_sandbox_sdk::EXTERNAL_PLUGIN_PRIORITY`] if the factory uses it) and selected or
    /// pinned by id. Its id must be new: [`load`] refuses a second plugin with the same id.
    #[must_use]
    pub fn with_plugin(mut self, descriptor: PluginDescriptor) -> Self {
        self.descriptors.push(descriptor);
        self
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One environment variable as a figment provider, so that `find_metadata` names the exact
/// variable that set a value.
struct EnvVar {
    var: String,
    path: Vec<String>,
    value: FValue,
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::from(
            format!("environment variable {}", self.var),
            Source::Custom(self.var.clone()),
        )
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut value = self.value.clone();
        for key in self.path.iter().rev() {
            let mut d = Dict::new();
            d.insert(key.clone(), value);
            value = FValue::from(d);
        }
        let dict = value.into_dict().unwrap_or_default();
        Ok(Profile::Default.collect(dict))
    }
}

/// Maps an override variable name to its key path: `ATLAS_PLUGINS__JUST_BASH__X` →
/// `plugins.just-bash.x`. Only `ATLAS_SANDBOX__*`, `ATLAS_PLUGINS__*`, `ATLAS_SERVER__*` and
/// `ATLAS_LAYERS__*` are overrides, so other
/// `ATLAS_*` variables (test settings, `ATLAS_CONFIG`) never become unknown keys.
fn env_key_path(var: &str, ids: &[&str]) -> Option<Vec<String>> {
    let rest = var.strip_prefix(ENV_PREFIX)?;
    let mut path: Vec<String> = rest
        .split(ENV_SEPARATOR)
        .map(|s| s.to_ascii_lowercase())
        .collect();
    if path.len() < 2 || path.iter().any(|s| s.is_empty()) {
        return None;
    }
    if !["sandbox", "plugins", "server", "layers"].contains(&path[0].as_str()) {
        return None;
    }
    if path[0] == "plugins" {
        // Environment variable names cannot hold `-`; ids can.
        let id = path[1].replace('_', "-");
        if registry::KNOWN_BACKENDS.iter().any(|k| k.id == id) || ids.contains(&id.as_str()) {
            path[1] = id;
        }
    }
    Some(path)
}

fn origin_of(figment: &Figment, files: &FileIndex, path: &[String]) -> Option<Origin> {
    let md = figment.find_metadata(&path.join("."))?;
    Some(origin_from_metadata(md, files, path))
}

fn origin_from_metadata(md: &Metadata, files: &FileIndex, path: &[String]) -> Origin {
    match &md.source {
        Some(Source::File(p)) => Origin::File {
            line: files.line_of(p, path),
            path: p.clone(),
        },
        Some(Source::Custom(var)) => Origin::Env { var: var.clone() },
        _ => Origin::Default,
    }
}

/// The config file's text, kept to find the line of a key.
struct FileIndex {
    path: Option<PathBuf>,
    text: String,
}

impl FileIndex {
    /// Only one file is ever layered, so any file metadata refers to it (figment may report the
    /// path in another spelling than ours).
    fn line_of(&self, _file: &Path, path: &[String]) -> Option<usize> {
        self.path.as_ref()?;
        toml_key_line(&self.text, path)
    }
}

/// The 1-based line where the key `path` is written in a TOML document (for a table: its
/// header or first dotted key).
pub fn toml_key_line(text: &str, path: &[String]) -> Option<usize> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    for (i, seg) in path.iter().enumerate() {
        let (key, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == seg)?;
        if i + 1 == path.len() {
            let start = key.span().start;
            return Some(text.get(..start)?.matches('\n').count() + 1);
        }
        table = value.get_ref().as_table()?;
    }
    None
}

/// The registered plugins (compiled in, or added with [`LoadOptions::with_plugin`]) have ids
/// that can name a `[plugins.<id>]` table and an `ATLAS_PLUGINS__<ID>__*` variable, each once.
fn check_descriptors(opts: &LoadOptions) -> Result<(), ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let mut seen = BTreeSet::new();
    for d in &opts.descriptors {
        let valid = d.id.starts_with(|c: char| c.is_ascii_lowercase())
            && d.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let message = if !valid {
            Some(format!(
                "plugin id {:?} is not valid: use lowercase ASCII letters, digits and `-`, \
                 starting with a letter",
                d.id
            ))
        } else if !seen.insert(d.id) {
            Some(format!(
                "two plugins are registered with the id '{}' (a plugin from outside the \
                 workspace must not reuse a compiled-in backend's id)",
                d.id
            ))
        } else {
            None
        };
        if let Some(message) = message {
            errors.push(ConfigProblem {
                key: format!("plugins.{}", d.id),
                value: None,
                origin: None,
                message,
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Loads, layers and validates the configuration, reporting every problem at once.
pub fn load(opts: &LoadOptions) -> Result<Config, ConfigErrors> {
    check_descriptors(opts)?;
    let mut errors = ConfigErrors::default();

    let file = pick_file(opts)?;
    let text = match &file {
        Some(p) => std::fs::read_to_string(p).map_err(|e| {
            ConfigErrors::single(format!("cannot read config file {}: {e}", p.display()))
        })?,
        None => String::new(),
    };
    if file.is_some()
        && let Err(e) = toml::de::DeTable::parse(&text)
    {
        let p = file.clone().unwrap_or_default();
        return Err(ConfigErrors {
            problems: vec![ConfigProblem {
                key: String::new(),
                value: None,
                origin: Some(Origin::File {
                    line: e
                        .span()
                        .and_then(|s| text.get(..s.start))
                        .map(|t| t.matches('\n').count() + 1),
                    path: p,
                }),
                message: format!("not valid TOML: {}", e.message()),
            }],
        });
    }
    let files = FileIndex {
        path: file.clone(),
        text,
    };

    let mut figment = Figment::from(Serialized::defaults(DefaultsProvider {
        sandbox: SandboxSection::default(),
    }));
    if let Some(p) = &file {
        figment = figment.merge(Toml::file_exact(p));
    }
    if let Some(pin) = opts.var("ATLAS_SANDBOX").filter(|v| !v.trim().is_empty()) {
        figment = figment.merge(EnvVar {
            var: "ATLAS_SANDBOX".into(),
            path: vec!["sandbox".into(), "backend".into()],
            value: FValue::from(pin.trim()),
        });
    }
    if opts.var("ATLAS_ENV").map(str::trim) == Some("production") {
        figment = figment.merge(EnvVar {
            var: "ATLAS_ENV".into(),
            path: vec!["sandbox".into(), "production".into()],
            value: FValue::from(true),
        });
    }
    let ids: Vec<&str> = opts.descriptors.iter().map(|d| d.id).collect();
    let mut env_vars: Vec<&(String, String)> = opts.env.iter().collect();
    env_vars.sort();
    for (var, val) in env_vars {
        if let Some(path) = env_key_path(var, &ids) {
            let value: FValue = val.parse().unwrap_or_else(|_| FValue::from(val.as_str()));
            figment = figment.merge(EnvVar {
                var: var.clone(),
                path,
                value,
            });
        }
    }
    // Vendor variables only fill keys nobody set (`join`).
    for d in &opts.descriptors {
        for (var, key) in d.env_fallbacks {
            if let Some(val) = opts.var(var).filter(|v| !v.trim().is_empty()) {
                // `key:ms`: the vendor's variable is a bare count of milliseconds, a duration
                // key here. Anything but digits is passed on for the schema to reject, naming
                // the variable.
                let (key, value) = match key.strip_suffix(":ms") {
                    Some(k) if val.trim().bytes().all(|b| b.is_ascii_digit()) => {
                        (k, format!("{}ms", val.trim()))
                    }
                    Some(k) => (k, val.to_owned()),
                    None => (*key, val.to_owned()),
                };
                figment = figment.join(EnvVar {
                    var: (*var).to_owned(),
                    path: vec!["plugins".into(), d.id.into(), key.to_owned()],
                    value: FValue::from(value),
                });
            }
        }
    }

    let root: Dict = match figment.extract() {
        Ok(r) => r,
        Err(e) => {
            for err in e {
                errors.push(ConfigProblem {
                    key: err.path.join("."),
                    value: None,
                    origin: err
                        .metadata
                        .as_ref()
                        .map(|m| origin_from_metadata(m, &files, &err.path)),
                    message: err.kind.to_string(),
                });
            }
            return Err(errors);
        }
    };
    let root = match serde_json::to_value(&root) {
        Ok(Value::Object(m)) => m,
        _ => return Err(ConfigErrors::single("the configuration is not a table")),
    };

    let ctx = Ctx {
        figment: &figment,
        files: &files,
    };

    for (key, _) in root.iter() {
        if !["sandbox", "plugins", "server", "layers"].contains(&key.as_str()) {
            let path = vec![key.clone()];
            errors.push(ConfigProblem {
                key: key.clone(),
                value: None,
                origin: origin_of(&figment, &files, &path),
                message: "unknown table or key; atlas.toml has only [sandbox], [plugins.<id>], \
                          [layers.<name>] and [server]"
                    .into(),
            });
        }
    }

    let sandbox = validate_sandbox(&ctx, root.get("sandbox"), opts, &file, &mut errors);
    let plugins = validate_plugins(&ctx, root.get("plugins"), opts, &mut errors);

    if let Some(s) = &sandbox {
        check_backend_refs(&ctx, s, opts, &mut errors);
    }

    let default_root = sandbox
        .as_ref()
        .map(|s| s.semantic_root.clone())
        .unwrap_or_default();
    let layers = tables::validate_layers(
        &ctx,
        root.get("layers"),
        &default_root,
        &tables::base_dir(&file, &opts.cwd),
        &mut errors,
    );
    let env = |name: &str| opts.var(name).map(str::to_owned);
    let server = tables::validate_server(&ctx, root.get("server"), &env, &layers, &mut errors);

    match sandbox {
        Some(sandbox) if errors.is_empty() => Ok(Config {
            file,
            sandbox,
            plugins,
            layers,
            server,
        }),
        _ => Err(errors),
    }
}

#[derive(Serialize)]
struct DefaultsProvider {
    sandbox: SandboxSection,
}

struct Ctx<'a> {
    figment: &'a Figment,
    files: &'a FileIndex,
}

impl Ctx<'_> {
    fn origin(&self, path: &[String]) -> Option<Origin> {
        origin_of(self.figment, self.files, path)
    }

    /// The origin of `path`, or of its nearest ancestor that has one (array elements and keys
    /// that do not exist have none of their own).
    fn origin_near(&self, path: &[String]) -> Option<Origin> {
        (1..=path.len())
            .rev()
            .find_map(|n| {
                let o = self.origin(&path[..n])?;
                match o {
                    Origin::File { line: None, .. } if n > 1 => None,
                    o => Some(o),
                }
            })
            .or_else(|| self.origin(&path[..1]))
    }
}

/// What a cheap look at a one-shot command's settings says, before [`load`] checks them: the
/// backend it is pinned to, and that backend's table as the config file writes it. Only a
/// guess to act on ahead of time (see `atlas_sandbox_nsjail::prestart`); `None` when anything
/// could change the answer in ways this does not read (an unreadable or invalid file, an
/// environment override of the backend's keys).
#[derive(Debug, Clone, PartialEq)]
pub struct Peek {
    /// The pinned backend: `--backend`, else `ATLAS_SANDBOX`, else `[sandbox] backend`.
    pub backend: String,
    /// `[plugins.<backend>]` from the file (empty when it has none).
    pub table: toml::Table,
}

/// See [`Peek`]. `cli_backend` is `--backend`.
pub fn peek(opts: &LoadOptions, cli_backend: Option<&str>) -> Option<Peek> {
    let file = pick_file(opts).ok()?;
    let doc: toml::Table = match &file {
        Some(p) => toml::from_str(&std::fs::read_to_string(p).ok()?).ok()?,
        None => toml::Table::new(),
    };
    let backend = cli_backend
        .map(str::to_owned)
        .or_else(|| {
            opts.var("ATLAS_SANDBOX")
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        })
        .or_else(|| {
            doc.get("sandbox")?
                .get("backend")?
                .as_str()
                .map(str::to_owned)
        })?;
    let prefix = format!(
        "ATLAS_PLUGINS__{}__",
        backend.to_ascii_uppercase().replace('-', "_")
    );
    if opts.env.iter().any(|(k, _)| k.starts_with(&prefix)) {
        return None;
    }
    let table = match doc.get("plugins").and_then(|p| p.get(&backend)) {
        Some(toml::Value::Table(t)) => t.clone(),
        Some(_) => return None,
        None => toml::Table::new(),
    };
    Some(Peek { backend, table })
}

fn pick_file(opts: &LoadOptions) -> Result<Option<PathBuf>, ConfigErrors> {
    let (path, why) = if let Some(p) = &opts.config_file {
        (opts.cwd.join(p), "--config")
    } else if let Some(p) = opts.var("ATLAS_CONFIG").filter(|v| !v.trim().is_empty()) {
        (opts.cwd.join(p), "ATLAS_CONFIG")
    } else {
        let p = opts.cwd.join(DEFAULT_CONFIG_FILE);
        return Ok(p.is_file().then_some(p));
    };
    if path.is_file() {
        Ok(Some(path))
    } else {
        Err(ConfigErrors::single(format!(
            "config file {} (from {why}) does not exist or is not a file",
            path.display()
        )))
    }
}

fn validate_sandbox(
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
fn check_env(
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
fn is_secret_key(key: &str) -> bool {
    ["key", "token", "secret", "password"]
        .iter()
        .any(|w| key.split(['_', '-']).any(|part| part == *w))
}

/// Removes `..` and `.` lexically so the example root prints cleanly.
fn normalize_path(p: &Path) -> PathBuf {
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

fn known(id: &str) -> Option<&'static KnownBackend> {
    registry::KNOWN_BACKENDS.iter().find(|k| k.id == id)
}

/// The backends this project knows, then any plugin from outside it that `opts` registers.
fn known_ids(opts: &LoadOptions) -> String {
    let mut ids: Vec<&str> = registry::KNOWN_BACKENDS.iter().map(|k| k.id).collect();
    for d in &opts.descriptors {
        if !ids.contains(&d.id) {
            ids.push(d.id);
        }
    }
    ids.join(", ")
}

/// Checks `sandbox.backend` and `sandbox.priority` name known, compiled-in backends.
fn check_backend_refs(
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

fn validate_plugins(
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

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn is_env(ctx: &Ctx<'_>, base: &[String], key: &str) -> bool {
    let mut p = base.to_vec();
    p.push(key.to_owned());
    matches!(ctx.origin(&p), Some(Origin::Env { .. }))
}

fn host_key_problem(
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
fn table_origin(ctx: &Ctx<'_>, path: &[String], table: &Value) -> Option<Origin> {
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

/// Whether `[sandbox]` is valid by what serde and two checks decide, so that its schema need
/// not be generated and compiled (about a millisecond, a tenth of a one-shot `exec`). The schema
/// adds exactly two constraints to what deserializing `SandboxSection` checks (a test holds the
/// schema to that): `max_output_bytes` is at least 1, and a duration has the shape of
/// `DURATION_PATTERN` (humantime alone also takes a bare `0`). Anything else, or any failure,
/// takes the schema's path, which also writes the error.
fn accepted_without_schema(value: &Value) -> bool {
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
fn duration_shaped(s: &str) -> bool {
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
const NOT_IN_DRAFT7: &[&str] = &[
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
fn reads_the_same_in_draft7(schema: &Value) -> bool {
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
fn compile_schema(
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
fn validate_against(
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
fn redacted(schema: &Value, rel: &[String], value: &Value) -> Value {
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

fn describe(
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
fn expected_of(root: &Value, node: &Value) -> Option<String> {
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

fn type_name(t: &str) -> String {
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

fn type_names(kind: &jsonschema::error::TypeKind) -> String {
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
fn deref<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
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
fn branches<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a Value> {
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

fn allowed_keys(schema: &Value, rel: &[String], plugin_table: bool) -> Vec<String> {
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

fn schema_types(root: &Value, node: &Value) -> Vec<String> {
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
fn check_durations(
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
fn coerce_env_strings(ctx: &Ctx<'_>, schema: &Value, base: &[String], value: &mut Value) {
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

#[cfg(test)]
mod tests {
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
                    .filter_map(|k| {
                        Some((k.clone(), schema["properties"][k].get("default")?.clone()))
                    })
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
        HealthStatus, PluginContext, PluginFactory, Sandbox, SandboxPlugin, Secret,
        SecurityProfile, SemanticLayer, async_trait,
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
        const ENV_FALLBACKS: &'static [(&'static str, &'static str)] =
            &[("E2B_API_KEY", "api_key")];
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
            Some(
                "[sandbox]\ntimeout = \"2s\"\n\n[plugins.e2b]\napi_key = \"k\"\ntemplat = \"x\"\n",
            ),
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
        assert!(
            text.contains("known plugins: vercel, e2b, daytona, jail, nsjail, sidecar, just-bash")
        );
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
}
