//! Backend selection at startup and the per-semantic-root sandbox cache.
//!
//! Rules (see docs/config.md):
//! - candidates are the enabled, configured, compiled-in backends;
//! - their health checks run concurrently under one overall deadline;
//! - order: `sandbox.priority` list first (in its order), then by effective priority, highest first;
//! - the first healthy candidate whose `create` succeeds serves a semantic root; failures are kept;
//! - a pin (`sandbox.backend` / `ATLAS_SANDBOX`) fails closed: no fallback, ever;
//! - just-bash is the last resort: refused in production unless allowed, and logged as a
//!   security degradation.
//!
//! A one-shot command ([`Host::for_one_command`], `atlas-sandbox exec`) runs no health checks:
//! every check proves no more than `create` and the command itself will (a jail is built, a
//! sandbox is created, a request answered), so running them first only repeats that work. It
//! builds only the backends selection can use (just the pinned one under a pin), creates in
//! selection order, and treats a first command that fails with `Unavailable` (the backend could
//! not run it at all) like a failed `create`: that backend is passed over for the next one,
//! never under a pin. `atlas-sandbox backends` and long-running hosts use [`Host::start`],
//! which runs every check, so the report says which backends are healthy.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{
    ErrorKind, ExecDefaults, ExecOutput, ExecRequest, HealthStatus, PluginContext,
    PluginDescriptor, Sandbox, SandboxPlugin, SecurityProfile, SemanticLayer,
};
use serde::Serialize;

use crate::config::{Config, ConfigErrors, ConfigProblem, Origin, SandboxSettings};
use crate::registry::KNOWN_BACKENDS;

mod report;
pub use report::{BackendReport, InUse, Report};

/// The id of the unisolated last-resort backend.
pub const JUST_BASH: &str = "just-bash";

/// The state of one backend slot.
#[derive(Debug, Clone)]
pub enum SlotState {
    /// Built and usable (if enabled and healthy).
    Ready(Arc<dyn SandboxPlugin>),
    /// Needs configuration it does not have; listed, never selected.
    NotConfigured,
}

/// One backend as the host sees it.
#[derive(Debug, Clone)]
pub struct PluginSlot {
    /// The plugin id.
    pub id: String,
    /// The backend's version.
    pub version: String,
    /// `enabled` from config.
    pub enabled: bool,
    /// The effective priority (config override or default).
    pub priority: i32,
    /// The backend's default priority.
    pub default_priority: i32,
    /// The Cargo feature that compiled it in.
    pub cargo_feature: String,
    /// Its security profile (as configured when built, else the default one).
    pub security: SecurityProfile,
    /// Built or not configured.
    pub state: SlotState,
}

impl PluginSlot {
    /// A slot for a built plugin, enabled, at the plugin's own priority.
    pub fn ready(plugin: Box<dyn SandboxPlugin>) -> Self {
        let plugin: Arc<dyn SandboxPlugin> = Arc::from(plugin);
        PluginSlot {
            id: plugin.id().to_owned(),
            version: plugin.version().to_owned(),
            enabled: true,
            priority: plugin.priority(),
            default_priority: plugin.priority(),
            cargo_feature: plugin.id().to_owned(),
            security: plugin.security(),
            state: SlotState::Ready(plugin),
        }
    }

    /// Overrides the priority.
    #[must_use]
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Sets `enabled`.
    #[must_use]
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    fn plugin(&self) -> Option<&Arc<dyn SandboxPlugin>> {
        match &self.state {
            SlotState::Ready(p) if self.enabled => Some(p),
            _ => None,
        }
    }
}

/// Builds every enabled, configured backend from its validated table. Build errors are config
/// errors (the backend rejected a value its schema allowed).
pub fn build_slots(config: &Config, ctx: &PluginContext) -> Result<Vec<PluginSlot>, ConfigErrors> {
    build_slots_where(config, ctx, |_| true)
}

/// As [`build_slots`], building only the backends `wanted` accepts (the others are left out).
fn build_slots_where(
    config: &Config,
    ctx: &PluginContext,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<PluginSlot>, ConfigErrors> {
    let mut errors = ConfigErrors::default();
    let mut slots = Vec::new();
    for p in config.plugins.iter().filter(|p| wanted(p.descriptor.id)) {
        let d: &PluginDescriptor = &p.descriptor;
        let mut slot = PluginSlot {
            id: d.id.to_owned(),
            version: d.version.to_owned(),
            enabled: p.enabled,
            priority: p.effective_priority(),
            default_priority: d.default_priority,
            cargo_feature: d.cargo_feature.to_owned(),
            security: (d.default_security)(),
            state: SlotState::NotConfigured,
        };
        if let (true, Some(table)) = (p.enabled, &p.table) {
            match (d.build)(table.clone(), ctx) {
                Ok(plugin) => {
                    slot.security = plugin.security();
                    slot.state = SlotState::Ready(Arc::from(plugin));
                }
                Err(e) => errors.problems.push(ConfigProblem {
                    key: format!("plugins.{}", d.id),
                    value: None,
                    origin: p.origin.clone(),
                    message: e.to_string(),
                }),
            }
        }
        slots.push(slot);
    }
    if errors.is_empty() {
        Ok(slots)
    } else {
        Err(errors)
    }
}

/// Puts the just-bash slot (when built) in worker mode: its sandboxes run in worker processes
/// (the warm jail's just-bash engine, or a plain child with rlimits where user namespaces are
/// unavailable), up to `[server] just_bash_sessions_per_worker` sessions of one layer per
/// worker, so a crash ends the sessions of one worker, not this process. It keeps the id
/// `just-bash` and its `[plugins.just-bash]` table; `backends` shows the worker mode in its
/// security description and health message. `memory_mb` caps each worker's address space
/// beyond its start (`None`: the jail crate's default for `ContainedJustBash`). Returns
/// whether the slot was changed: false on a build without the `jail` feature or off Linux,
/// where just-bash stays in-process.
pub fn contain_just_bash(
    slots: &mut [PluginSlot],
    config: &Config,
    ctx: &PluginContext,
    memory_mb: Option<u64>,
) -> Result<bool, ConfigErrors> {
    #[cfg(all(feature = "jail", feature = "just-bash", target_os = "linux"))]
    {
        let Some(slot) = slots
            .iter_mut()
            .find(|s| s.id == JUST_BASH && matches!(s.state, SlotState::Ready(_)))
        else {
            return Ok(false);
        };
        let entry = config.plugins.iter().find(|p| p.descriptor.id == JUST_BASH);
        let table = entry
            .and_then(|p| p.table.clone())
            .unwrap_or_else(|| serde_json::json!({}));
        let problem = |message: String| {
            let mut errors = ConfigErrors::default();
            errors.problems.push(ConfigProblem {
                key: format!("plugins.{JUST_BASH}"),
                value: None,
                origin: entry.and_then(|p| p.origin.clone()),
                message,
            });
            errors
        };
        let jb: atlas_sandbox_just_bash::JustBashConfig =
            serde_json::from_value(table).map_err(|e| problem(e.to_string()))?;
        let mut plugin = atlas_sandbox_jail::ContainedJustBash::new(jb, ctx)
            .map_err(|e| problem(e.to_string()))?
            .with_sessions_per_worker(config.server.just_bash_sessions_per_worker);
        if let Some(mb) = memory_mb {
            plugin = plugin
                .with_jail_config(|c| c.memory_limit_mb = mb)
                .map_err(|e| problem(e.to_string()))?;
        }
        slot.security = plugin.security();
        slot.state = SlotState::Ready(Arc::new(plugin));
        Ok(true)
    }
    #[cfg(not(all(feature = "jail", feature = "just-bash", target_os = "linux")))]
    {
        let _ = (slots, config, ctx, memory_mb);
        Ok(false)
    }
}

/// Why a semantic root got no sandbox.
#[derive(Debug, Clone, Serialize)]
pub struct SelectError {
    /// The summary.
    pub message: String,
    /// Every backend that was not used, with the reason, in selection order.
    pub rejected: Vec<Rejection>,
}

/// A backend that was not used and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// The plugin id.
    pub id: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for r in &self.rejected {
            write!(f, "\n  {}: {}", r.id, r.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for SelectError {}

#[derive(Debug)]
struct Cached {
    id: String,
    sandbox: Arc<dyn Sandbox>,
}

/// The running host: the backends, their startup health, and the sandboxes in use.
#[derive(Debug)]
pub struct Host {
    settings: SandboxSettings,
    slots: Vec<PluginSlot>,
    health: HashMap<String, HealthStatus>,
    health_elapsed: Duration,
    /// Indices into `slots` of enabled, built backends, in selection order.
    order: Vec<usize>,
    /// Health checks deferred to `create` and the first command (a one-shot host).
    deferred: bool,
    cache: tokio::sync::Mutex<HashMap<PathBuf, Cached>>,
    /// The instance lease in the session store, while a backend can create remote sandboxes.
    lease: Option<crate::persist::HostLease>,
}

/// A new host instance id, `atlas-sandbox-<pid>-<8 random hex digits>`: the tag its remote
/// sandboxes carry and the key of its lease in the session store. The pid alone is not unique
/// (every container's server is pid 1, and pids are reused), and two hosts that shared an id
/// would keep each other's leftovers from `sweep`.
pub fn new_instance_id() -> String {
    format!(
        "atlas-sandbox-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

fn context_of(config: &Config) -> PluginContext {
    PluginContext {
        instance_id: new_instance_id(),
        defaults: ExecDefaults {
            timeout: config.sandbox.timeout,
            max_output_bytes: config.sandbox.max_output_bytes,
        },
    }
}

impl Host {
    /// Builds the backends of a validated config and starts the host. It holds an instance
    /// lease (see [`Host::hold_lease`]).
    pub async fn from_config(config: &Config) -> Result<Host, ConfigErrors> {
        let ctx = context_of(config);
        let slots = build_slots(config, &ctx)?;
        Ok(Host::start(config.sandbox.clone(), slots)
            .await
            .hold_lease(&ctx.instance_id))
    }

    /// As [`Host::from_config`], with just-bash sessions in worker processes when `workers`
    /// is true and this build can (Linux with the `jail` and `just-bash` features; see
    /// [`contain_just_bash`]). The explore server uses it with `[server] just_bash_worker`.
    pub async fn from_config_with_workers(
        config: &Config,
        workers: bool,
    ) -> Result<Host, ConfigErrors> {
        let ctx = context_of(config);
        let mut slots = build_slots(config, &ctx)?;
        if workers {
            contain_just_bash(
                &mut slots,
                config,
                &ctx,
                config.server.just_bash_worker_memory_mb,
            )?;
        }
        Ok(Host::start(config.sandbox.clone(), slots)
            .await
            .hold_lease(&ctx.instance_id))
    }

    /// A host for one command: no health checks (see the module docs), and under a pin only
    /// the pinned backend is built. It holds an instance lease (see [`Host::hold_lease`]),
    /// written in the background so the command does not wait for it.
    pub fn for_one_command(config: &Config) -> Result<Host, ConfigErrors> {
        let pin = config.sandbox.backend.as_ref().map(|(id, _)| id.as_str());
        let ctx = context_of(config);
        let slots = build_slots_where(config, &ctx, |id| pin.is_none_or(|p| p == id))?;
        Ok(Host::deferred(config.sandbox.clone(), slots).hold_lease(&ctx.instance_id))
    }

    /// Holds the lease of `instance_id` (the id its backends were built with) in the session
    /// store at `sandbox.state_path` while the host lives, when any ready backend creates remote
    /// sandboxes (has persistence): a heartbeat now and every 30 s from a background task,
    /// released by [`Host::shutdown`]. `atlas-sandbox sweep` leaves the sandboxes of an
    /// instance with a live lease alone, so it never deletes what a running host uses; a host
    /// killed without shutdown stops beating, and its sandboxes are swept once the lease lapses
    /// (90 s, [`crate::persist::LEASE`]). Without a tokio runtime there is no lease (logged).
    #[must_use]
    pub fn hold_lease(mut self, instance_id: &str) -> Host {
        let remote = self
            .slots
            .iter()
            .filter_map(PluginSlot::plugin)
            .any(|p| p.persistence().is_some());
        if remote && self.lease.is_none() {
            self.lease = crate::persist::HostLease::start(
                crate::persist::Store::new(&self.settings.state_path),
                instance_id.to_owned(),
            );
        }
        self
    }

    /// The instance id whose lease the host holds, if it holds one.
    pub fn instance_id(&self) -> Option<&str> {
        self.lease.as_ref().map(|l| l.instance_id())
    }

    /// A host whose health checks are deferred to `create` and the first command.
    pub fn deferred(settings: SandboxSettings, slots: Vec<PluginSlot>) -> Host {
        let order = selection_order(&slots, settings.priority.as_deref());
        Host {
            settings,
            slots,
            health: HashMap::new(),
            health_elapsed: Duration::ZERO,
            order,
            deferred: true,
            cache: tokio::sync::Mutex::new(HashMap::new()),
            lease: None,
        }
    }

    /// Runs the health checks (concurrently, one overall deadline) and orders the candidates.
    pub async fn start(settings: SandboxSettings, slots: Vec<PluginSlot>) -> Host {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + settings.health_check_timeout;
        let limit = settings.health_check_timeout;
        // Each check runs in its own task: one that blocks its thread or panics cannot hold up
        // the others or the deadline, and is aborted when the deadline passes.
        let checks = slots.iter().filter_map(|s| {
            let plugin = s.plugin()?.clone();
            let id = s.id.clone();
            let t0 = Instant::now();
            let mut task = tokio::spawn(async move { plugin.health_check().await });
            Some(async move {
                let status = match tokio::time::timeout_at(deadline, &mut task).await {
                    Ok(Ok(h)) => h,
                    Ok(Err(e)) => HealthStatus::unhealthy(
                        format!("the health check failed: {e}"),
                        t0.elapsed(),
                    ),
                    Err(_) => {
                        task.abort();
                        HealthStatus::unhealthy(
                            format!(
                                "no answer within the overall health-check deadline of {} \
                                 (sandbox.health_check_timeout)",
                                atlas_sandbox_sdk::HumanDuration(limit)
                            ),
                            t0.elapsed(),
                        )
                    }
                };
                (id, status)
            })
        });
        let health: HashMap<String, HealthStatus> = futures::future::join_all(checks)
            .await
            .into_iter()
            .collect();
        let health_elapsed = started.elapsed();
        let order = selection_order(&slots, settings.priority.as_deref());
        for (id, h) in &health {
            tracing::debug!(backend = %id, healthy = h.healthy, message = %h.message, "health check");
        }
        Host {
            settings,
            slots,
            health,
            health_elapsed,
            order,
            deferred: false,
            cache: tokio::sync::Mutex::new(HashMap::new()),
            lease: None,
        }
    }

    /// The settings the host runs with.
    pub fn settings(&self) -> &SandboxSettings {
        &self.settings
    }

    /// A request for `command` with the configured defaults.
    pub fn request(&self, command: impl Into<String>) -> ExecRequest {
        ExecRequest::new(command)
            .timeout(self.settings.timeout)
            .max_output_bytes(self.settings.max_output_bytes)
    }

    fn healthy(&self, id: &str) -> Result<(), String> {
        if self.deferred {
            // `create` and the first command are the check.
            return Ok(());
        }
        match self.health.get(id) {
            Some(h) if h.healthy => Ok(()),
            Some(h) => Err(format!("unhealthy: {}", h.message)),
            None => Err("no health result".into()),
        }
    }

    fn just_bash_refused(&self) -> Option<String> {
        (self.settings.production && !self.settings.allow_just_bash_in_production).then(|| {
            "refused: production mode (sandbox.production / ATLAS_ENV=production) does not allow \
             just-bash, which has no OS isolation; set sandbox.allow_just_bash_in_production = \
             true to accept that"
                .to_owned()
        })
    }

    /// Why each non-candidate slot (disabled, not configured) is out.
    fn inert_rejections(&self) -> Vec<Rejection> {
        self.slots
            .iter()
            .filter(|s| s.plugin().is_none())
            .map(|s| Rejection {
                id: s.id.clone(),
                reason: if s.enabled {
                    format!("not configured (add a [plugins.{}] table)", s.id)
                } else {
                    "disabled (enabled = false)".into()
                },
            })
            .collect()
    }

    /// The sandbox serving `root`, creating it on first use with the selection rules.
    pub async fn sandbox_for(&self, root: &Path) -> Result<Arc<dyn Sandbox>, SelectError> {
        let key = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(&key) {
            return Ok(c.sandbox.clone());
        }
        if self.slots.is_empty() {
            return Err(no_backend());
        }
        let layer = SemanticLayer::open(&key).map_err(|e| SelectError {
            message: format!("semantic root {} is not usable: {e}", root.display()),
            rejected: Vec::new(),
        })?;
        let (id, sandbox) = self.select(&layer, &[]).await?;
        let sandbox: Arc<dyn Sandbox> = Arc::from(sandbox);
        tracing::info!(backend = %id, root = %key.display(), "sandbox created");
        cache.insert(
            key,
            Cached {
                id,
                sandbox: sandbox.clone(),
            },
        );
        Ok(sandbox)
    }

    /// A new sandbox over `root` from the selection rules, owned by the caller (sessions use
    /// this; [`Host::sandbox_for`] caches one per root instead). Returns the backend id.
    pub async fn create_sandbox(
        &self,
        root: &Path,
    ) -> Result<(String, Box<dyn Sandbox>), SelectError> {
        if self.slots.is_empty() {
            return Err(no_backend());
        }
        let layer = SemanticLayer::open(root).map_err(|e| SelectError {
            message: format!("semantic root {} is not usable: {e}", root.display()),
            rejected: Vec::new(),
        })?;
        self.select(&layer, &[]).await
    }

    /// The backend selection would pick, when it offers persistence and its table asks for
    /// any of it (persistent sessions, pools, a cap): the one the session table's
    /// [`crate::persist::Lasting`] manages.
    pub fn lasting_backend(&self) -> Option<(String, Arc<dyn SandboxPlugin>)> {
        let (selected, _, _) = self.predicted();
        let id = selected?;
        let plugin = self.slots.iter().find(|s| s.id == id)?.plugin()?.clone();
        plugin.persistence()?;
        let policy = plugin.session_policy();
        (policy != atlas_sandbox_sdk::SessionPolicy::default()).then_some((id, plugin))
    }

    /// The backend serving `root`, if a sandbox was created for it.
    pub async fn backend_for(&self, root: &Path) -> Option<String> {
        let key = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        self.cache.lock().await.get(&key).map(|c| c.id.clone())
    }

    /// Runs `request` on the sandbox serving `root`, creating it on first use. On a one-shot
    /// host a freshly created sandbox whose first command fails with `Unavailable` (the backend
    /// could not run it at all, e.g. nsjail could not build the jail) is closed and passed over
    /// like a failed `create`, and the next backend runs the command; a pin never falls back.
    /// Returns the backend that ran it.
    pub async fn exec(
        &self,
        root: &Path,
        request: ExecRequest,
    ) -> Result<(String, ExecOutput), String> {
        let key = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(&key) {
            let (id, sandbox) = (c.id.clone(), c.sandbox.clone());
            drop(cache);
            return sandbox
                .exec(request)
                .await
                .map(|o| (id, o))
                .map_err(|e| e.to_string());
        }
        // Under a pin, selection says why the pinned backend is missing.
        if self.slots.is_empty() && self.settings.backend.is_none() {
            return Err(no_backend().to_string());
        }
        let layer = SemanticLayer::open(&key)
            .map_err(|e| format!("semantic root {} is not usable: {e}", root.display()))?;
        let mut passed: Vec<Rejection> = Vec::new();
        loop {
            let (id, sandbox) = self
                .select(&layer, &passed)
                .await
                .map_err(|e| e.to_string())?;
            let sandbox: Arc<dyn Sandbox> = Arc::from(sandbox);
            match sandbox.exec(request.clone()).await {
                Err(e)
                    if self.deferred
                        && self.settings.backend.is_none()
                        && e.kind() == ErrorKind::Unavailable =>
                {
                    tracing::warn!(backend = %id, error = %e, "the first command could not run; trying the next backend");
                    if let Err(c) = sandbox.close().await {
                        tracing::warn!(backend = %id, error = %c, "close failed");
                    }
                    passed.push(Rejection {
                        id,
                        reason: format!("the first command could not run: {e}"),
                    });
                }
                result => {
                    tracing::info!(backend = %id, root = %key.display(), "sandbox created");
                    cache.insert(
                        key,
                        Cached {
                            id: id.clone(),
                            sandbox,
                        },
                    );
                    return result.map(|o| (id, o)).map_err(|e| e.to_string());
                }
            }
        }
    }

    /// The first usable backend in order whose `create` succeeds, skipping those in `passed`
    /// (already tried by the caller; they head the rejections).
    async fn select(
        &self,
        layer: &SemanticLayer,
        passed: &[Rejection],
    ) -> Result<(String, Box<dyn Sandbox>), SelectError> {
        if let Some((pin, origin)) = &self.settings.backend {
            return self.select_pinned(pin, origin, layer).await;
        }
        let mut rejected = passed.to_vec();
        for &i in &self.order {
            let slot = &self.slots[i];
            let Some(plugin) = slot.plugin() else {
                continue;
            };
            if passed.iter().any(|r| r.id == slot.id) {
                continue;
            }
            if let Err(reason) = self.healthy(&slot.id) {
                rejected.push(Rejection {
                    id: slot.id.clone(),
                    reason,
                });
                continue;
            }
            if slot.id == JUST_BASH {
                if let Some(reason) = self.just_bash_refused() {
                    rejected.push(Rejection {
                        id: slot.id.clone(),
                        reason,
                    });
                    continue;
                }
                if self.settings.production || !rejected.is_empty() {
                    tracing::warn!(
                        production = self.settings.production,
                        passed_over = %rejected
                            .iter()
                            .map(|r| format!("{}: {}", r.id, r.reason))
                            .collect::<Vec<_>>()
                            .join("; "),
                        "SECURITY DEGRADATION: falling back to just-bash, which runs commands \
                         in-process with no OS isolation"
                    );
                }
            }
            match plugin.create(layer).await {
                Ok(sb) => {
                    let sb = crate::env::wrap_box(sb, &self.settings.env);
                    return Ok((slot.id.clone(), sb));
                }
                Err(e) => {
                    tracing::warn!(backend = %slot.id, error = %e, "create failed; trying the next backend");
                    rejected.push(Rejection {
                        id: slot.id.clone(),
                        reason: format!("create failed: {e}"),
                    });
                }
            }
        }
        rejected.extend(self.inert_rejections());
        Err(SelectError {
            message: "no backend could create a sandbox".into(),
            rejected,
        })
    }

    async fn select_pinned(
        &self,
        pin: &str,
        origin: &Origin,
        layer: &SemanticLayer,
    ) -> Result<(String, Box<dyn Sandbox>), SelectError> {
        let refuse = |reason: String| SelectError {
            message: format!(
                "backend '{pin}' is pinned ({origin}) and is not usable; refusing to run \
                 commands (a pin never falls back)"
            ),
            rejected: vec![Rejection {
                id: pin.to_owned(),
                reason,
            }],
        };
        let Some(slot) = self.slots.iter().find(|s| s.id == pin) else {
            return Err(refuse(match KNOWN_BACKENDS.iter().find(|k| k.id == pin) {
                Some(k) => format!(
                    "not compiled into this binary; rebuild with `--features {}`",
                    k.cargo_feature
                ),
                None => "unknown backend".into(),
            }));
        };
        let Some(plugin) = slot.plugin() else {
            return Err(refuse(if slot.enabled {
                format!("not configured (add a [plugins.{pin}] table)")
            } else {
                "disabled (enabled = false)".into()
            }));
        };
        self.healthy(pin).map_err(refuse)?;
        if pin == JUST_BASH {
            if let Some(reason) = self.just_bash_refused() {
                return Err(refuse(reason));
            }
            if self.settings.production {
                tracing::warn!(
                    "SECURITY DEGRADATION: just-bash is pinned in production; commands run \
                     in-process with no OS isolation"
                );
            }
        }
        match plugin.create(layer).await {
            Ok(sb) => Ok((pin.to_owned(), crate::env::wrap_box(sb, &self.settings.env))),
            Err(e) => Err(refuse(format!("create failed: {e}"))),
        }
    }

    /// Closes every cached sandbox and releases the instance lease; returns the close errors
    /// (each already logged). The session table's sandboxes are closed before this (its
    /// `close_all`), so nothing of this host is left running when the lease goes.
    pub async fn shutdown(&self) -> Vec<String> {
        let errors = self.close_cached().await;
        if let Some(l) = &self.lease {
            l.release().await;
        }
        errors
    }

    async fn close_cached(&self) -> Vec<String> {
        let drained: Vec<(PathBuf, Cached)> = self.cache.lock().await.drain().collect();
        let closes = drained.iter().map(|(root, c)| async move {
            match c.sandbox.close().await {
                Ok(()) => None,
                Err(e) => {
                    tracing::warn!(backend = %c.id, root = %root.display(), error = %e, "close failed");
                    Some(format!("{} ({}): {e}", c.id, root.display()))
                }
            }
        });
        futures::future::join_all(closes)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

fn no_backend() -> SelectError {
    SelectError {
        message: "no backend compiled in: build with --features just-bash (or another backend \
                  feature)"
            .into(),
        rejected: Vec::new(),
    }
}

/// The candidates (enabled, built) in selection order: the `sandbox.priority` list first, in its
/// order; then by effective priority, highest first; ties by id for a stable order.
fn selection_order(slots: &[PluginSlot], list: Option<&[String]>) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..slots.len())
        .filter(|&i| slots[i].plugin().is_some())
        .collect();
    idx.sort_by_key(|&i| {
        let s = &slots[i];
        let listed = list
            .and_then(|l| l.iter().position(|id| id == &s.id))
            .unwrap_or(usize::MAX);
        (listed, -(s.priority as i64), s.id.clone())
    });
    idx
}
