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

mod check;
mod prune;
mod quick;
mod validate;
pub use check::secret_name;
use check::*;
use validate::*;
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
    /// The semantic root `load` would pick, as the same rules read the same sources
    /// (`ATLAS_SANDBOX__SEMANTIC_ROOT`, `[sandbox] semantic_root` relative to the file,
    /// `./semantic`, the example layer); not canonicalized.
    pub semantic_root: PathBuf,
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
    let env_root = opts
        .env
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("ATLAS_SANDBOX__SEMANTIC_ROOT"))
        .map(|(_, v)| opts.cwd.join(v.trim()));
    let file_root = || {
        let p = doc.get("sandbox")?.get("semantic_root")?.as_str()?;
        let base = file.as_deref()?.parent()?;
        Some(base.join(p))
    };
    let semantic_root = env_root.or_else(file_root).unwrap_or_else(|| {
        let local = opts.cwd.join("semantic");
        if local.is_dir() {
            local
        } else {
            validate::normalize_path(&opts.example_root)
        }
    });
    Some(Peek {
        backend,
        table,
        semantic_root,
    })
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

#[cfg(test)]
mod tests;
