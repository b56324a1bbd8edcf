//! The two traits a backend implements, and how it describes itself to the host.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::exec::{ExecDefaults, ExecOutput, ExecRequest};
use crate::semantic::SemanticLayer;

/// What a backend isolates. It is the backend's own claim, so it must be honest: a property the
/// backend cannot hold is `false`, and `caveats` says what the user should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityProfile {
    /// Commands cannot reach the network (or only what the config explicitly allows).
    pub network_isolation: bool,
    /// Commands cannot read or change files outside the semantic layer.
    pub filesystem_isolation: bool,
    /// Commands run without privileges on the host.
    pub unprivileged_execution: bool,
    /// One line: the isolation mechanism.
    pub description: String,
    /// Known limits of the isolation (e.g. "runs in the host process").
    pub caveats: Vec<String>,
}

/// The outcome of a health check. It is data: a failed check is `healthy: false`, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthStatus {
    /// Whether the backend can create sandboxes now.
    pub healthy: bool,
    /// What was checked, or why it failed.
    pub message: String,
    /// How long the check took.
    #[serde(serialize_with = "ser_ms", rename = "latency_ms")]
    pub latency: Duration,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

impl HealthStatus {
    /// A healthy status.
    pub fn healthy(message: impl Into<String>, latency: Duration) -> Self {
        HealthStatus {
            healthy: true,
            message: message.into(),
            latency,
        }
    }

    /// An unhealthy status.
    pub fn unhealthy(message: impl Into<String>, latency: Duration) -> Self {
        HealthStatus {
            healthy: false,
            message: message.into(),
            latency,
        }
    }

    /// Runs a check with a deadline and measures it: `Ok(msg)` is healthy, `Err(e)` and a missed
    /// deadline are unhealthy with the reason.
    pub async fn measure<F>(deadline: Duration, check: F) -> Self
    where
        F: Future<Output = Result<String>>,
    {
        let start = Instant::now();
        match crate::timeout::with_deadline(deadline, check).await {
            Ok(Ok(msg)) => HealthStatus::healthy(msg, start.elapsed()),
            Ok(Err(e)) => HealthStatus::unhealthy(e.to_string(), start.elapsed()),
            Err(_) => HealthStatus::unhealthy(
                format!("health check did not finish within {deadline:?}"),
                start.elapsed(),
            ),
        }
    }
}

/// A configured backend. The host holds it as `Box<dyn SandboxPlugin>`.
#[async_trait]
pub trait SandboxPlugin: Send + Sync + Debug {
    /// The plugin id, as in `[plugins.<id>]` (e.g. `"nsjail"`).
    fn id(&self) -> &'static str;

    /// The default priority: higher wins. The host may override it from config.
    fn priority(&self) -> i32;

    /// The plugin's version.
    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// What this backend, as configured, isolates.
    fn security(&self) -> SecurityProfile;

    /// Whether the backend can create sandboxes now. Must be cheap (no paid resources), must not
    /// panic, and should answer within a few seconds; the host adds its own deadline.
    async fn health_check(&self) -> HealthStatus;

    /// Creates a sandbox over the semantic layer. Called once per semantic root; the host caches it.
    async fn create(&self, layer: &SemanticLayer) -> Result<Box<dyn Sandbox>>;

    /// How the host treats this plugin's sandboxes across sessions (pause, pools, caps). The
    /// default: no persistence, no pool, no cap.
    fn session_policy(&self) -> crate::persist::SessionPolicy {
        crate::persist::SessionPolicy::default()
    }

    /// The pause / resume / list / delete operations of a remote backend, when it has them.
    fn persistence(&self) -> Option<&dyn crate::persist::Persistence> {
        None
    }

    /// Finds remote sandboxes this project created (by their tags) that are older than
    /// `older_than`, and kills them unless `dry_run`. Only backends with remote, billable
    /// resources implement it; the default says the backend has nothing to sweep.
    async fn sweep(&self, older_than: Duration, dry_run: bool) -> Result<SweepReport> {
        let _ = (older_than, dry_run);
        Err(Error::new(
            crate::error::ErrorKind::InvalidRequest,
            "this backend creates no remote sandboxes, so there is nothing to sweep",
        )
        .with_backend(self.id()))
    }
}

/// One remote sandbox found by [`SandboxPlugin::sweep`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweptSandbox {
    /// The vendor's sandbox id.
    pub id: String,
    /// How old it is, if the vendor says.
    #[serde(serialize_with = "ser_opt_secs", rename = "age_secs")]
    pub age: Option<Duration>,
    /// Its tags/labels/metadata.
    pub tags: std::collections::BTreeMap<String, String>,
    /// Whether it was killed (false in a dry run or if the kill failed).
    pub killed: bool,
    /// Why the kill failed, if it did.
    pub error: Option<String>,
}

fn ser_opt_secs<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs()),
        None => s.serialize_none(),
    }
}

/// A sandbox a sweep found old enough but left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptSandbox {
    /// The vendor's sandbox id.
    pub id: String,
    /// How old it is, if the vendor says.
    #[serde(serialize_with = "ser_opt_secs", rename = "age_secs")]
    pub age: Option<Duration>,
    /// The host instance that created it ([`crate::INSTANCE_TAG`]).
    pub instance: String,
    /// Why it was kept, e.g. `host atlas-sandbox-123-ab12cd34 is running`.
    pub reason: String,
}

/// What a sweep found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Sandboxes matching the tags and age.
    pub sandboxes: Vec<SweptSandbox>,
    /// Sandboxes matching the tags and age that were not killed because a running host still
    /// uses them (their instance holds a live lease in the session store).
    #[serde(default)]
    pub kept: Vec<KeptSandbox>,
    /// Whether nothing was killed on purpose.
    pub dry_run: bool,
}

/// A live sandbox. `exec` may be called concurrently; `close` is idempotent.
#[async_trait]
pub trait Sandbox: Send + Sync + Debug {
    /// Runs one command. A non-zero exit, a timeout (exit 124) and truncated output are `Ok`;
    /// `Err` means the backend itself failed.
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput>;

    /// Releases everything the sandbox holds. Calling it again is a no-op returning `Ok`.
    async fn close(&self) -> Result<()>;

    /// The vendor's id of a sandbox that can be found again ([`crate::Persistence::resume`]);
    /// `None` for local sandboxes and for remote ones created without persistence.
    fn remote_id(&self) -> Option<String> {
        None
    }

    /// Pauses the sandbox so a later [`crate::Persistence::resume`] finds its files; this handle
    /// is spent afterwards (as after `close`). A backend that cannot pause says so.
    async fn pause(&self) -> Result<()> {
        Err(Error::new(
            crate::error::ErrorKind::InvalidRequest,
            "this sandbox cannot be paused",
        ))
    }
}

/// What the host gives a plugin when it builds it.
#[derive(Debug, Clone)]
pub struct PluginContext {
    /// The id of this host instance, for tagging remote resources ([`crate::INSTANCE_TAG`]):
    /// `sweep` finds leaked ones by their tags and spares those of an instance that is still
    /// running. The host makes it unique per host, `atlas-sandbox-<pid>-<random hex>` (a pid
    /// alone repeats: every container's server is pid 1, and pids are reused).
    pub instance_id: String,
    /// Defaults for requests that do not set their own.
    pub defaults: ExecDefaults,
}

impl Default for PluginContext {
    fn default() -> Self {
        PluginContext {
            instance_id: "atlas-sandbox-local".to_owned(),
            defaults: ExecDefaults::default(),
        }
    }
}

/// The default priority of a plugin built outside this workspace (Atlas gives its third-party
/// plugins the same): below nsjail (75), above the sidecar (50), so an operator who adds one
/// gets it ahead of the weaker local backends but never ahead of a microVM or nsjail without
/// saying so (`priority = ...` in its `[plugins.<id>]` table, or `sandbox.priority`).
pub const EXTERNAL_PLUGIN_PRIORITY: i32 = 60;

/// A backend crate's entry point: its config type and how to build the plugin from it.
///
/// The host never constructs a config itself: it validates the raw table against
/// [`PluginFactory::Config`]'s JSON Schema, then deserializes and calls [`PluginFactory::build`].
pub trait PluginFactory: 'static {
    /// The backend's config, one `[plugins.<id>]` table. Unknown keys must be rejected
    /// (`#[serde(deny_unknown_fields)]`).
    type Config: DeserializeOwned + schemars::JsonSchema;

    /// The plugin id.
    const ID: &'static str;
    /// The default priority.
    const DEFAULT_PRIORITY: i32;
    /// The host's Cargo feature that compiles this backend in. A plugin from outside the
    /// workspace has none: it names its own crate (shown in `atlas-sandbox backends`).
    const CARGO_FEATURE: &'static str;
    /// The vendor's usual environment variables, used when the key is not set in config:
    /// `(variable, key)`, e.g. `("E2B_API_KEY", "api_key")`. A key written `name:ms` takes a
    /// variable holding a bare number of milliseconds into the duration key `name`
    /// (`("E2B_SANDBOX_TIMEOUT", "sandbox_lifetime:ms")`).
    const ENV_FALLBACKS: &'static [(&'static str, &'static str)] = &[];
    /// Whether the backend needs config to be usable at all (e.g. an API key). When `true`, an
    /// absent `[plugins.<id>]` table whose defaults fail validation means "not configured", not
    /// an error.
    const REQUIRES_CONFIG: bool = false;

    /// The security profile with default config, for listings before a config exists.
    fn default_security() -> SecurityProfile;

    /// Builds the plugin from a validated config.
    fn build(config: Self::Config, ctx: &PluginContext) -> Result<Box<dyn SandboxPlugin>>;
}

/// A type-erased [`PluginFactory`], so the host can keep a list of them.
#[derive(Clone, Copy)]
pub struct PluginDescriptor {
    /// The plugin id.
    pub id: &'static str,
    /// The default priority.
    pub default_priority: i32,
    /// The version of the backend crate.
    pub version: &'static str,
    /// The host feature that compiles it in.
    pub cargo_feature: &'static str,
    /// The vendor environment variables that fill missing keys.
    pub env_fallbacks: &'static [(&'static str, &'static str)],
    /// Whether an unconfigured plugin is skipped rather than built with defaults.
    pub requires_config: bool,
    /// The JSON Schema of the config table.
    pub schema: fn() -> serde_json::Value,
    /// The security profile with default config.
    pub default_security: fn() -> SecurityProfile,
    /// Deserializes a validated config and builds the plugin.
    pub build: fn(serde_json::Value, &PluginContext) -> Result<Box<dyn SandboxPlugin>>,
}

impl Debug for PluginDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginDescriptor")
            .field("id", &self.id)
            .field("default_priority", &self.default_priority)
            .field("cargo_feature", &self.cargo_feature)
            .finish_non_exhaustive()
    }
}

impl PluginDescriptor {
    /// The descriptor of a factory.
    pub fn of<F: PluginFactory>(version: &'static str) -> Self {
        PluginDescriptor {
            id: F::ID,
            default_priority: F::DEFAULT_PRIORITY,
            version,
            cargo_feature: F::CARGO_FEATURE,
            env_fallbacks: F::ENV_FALLBACKS,
            requires_config: F::REQUIRES_CONFIG,
            schema: schema_of::<F::Config>,
            default_security: F::default_security,
            build: build_erased::<F>,
        }
    }
}

/// The JSON Schema of a config type, as a JSON value.
pub fn schema_of<C: schemars::JsonSchema>() -> serde_json::Value {
    schemars::schema_for!(C).to_value()
}

fn build_erased<F: PluginFactory>(
    value: serde_json::Value,
    ctx: &PluginContext,
) -> Result<Box<dyn SandboxPlugin>> {
    let config: F::Config = serde_json::from_value(value)
        .map_err(|e| Error::config(format!("[plugins.{}]: {e}", F::ID)).with_backend(F::ID))?;
    F::build(config, ctx)
}
