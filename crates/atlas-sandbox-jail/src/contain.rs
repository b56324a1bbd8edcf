//! just-bash sessions in a worker process (issue 11's containment): the plugin a host uses in
//! place of in-process just-bash, so that a bug in the interpreter (an abort, a stack overflow,
//! an allocation past every budget, a loop no deadline check reaches) ends one session's
//! worker and never the host.
//!
//! Its id is `just-bash` and it reads the `[plugins.just-bash]` table, so selection, pins and
//! priorities are unchanged. Each sandbox gets the jail's just-bash engine where the jail can be
//! built (user namespaces, seccomp, the mount API; Landlock when the kernel has it) and
//! otherwise a plain worker: a child of the host with the seccomp filter, no_new_privs, no
//! capabilities, RLIMIT_AS/CPU/NOFILE/FSIZE and no right to start a process. The worker is
//! this program re-run (see the crate docs); the just-bash crate itself never spawns.
//!
//! Sessions of one layer share workers, up to `sessions_per_worker` each (see
//! `sandbox::WorkerPool`): a worker costs megabytes of memory, an interpreter kilobytes, so
//! one worker per session does not scale to a server's thousand open sessions. A crash then
//! ends the sessions of one worker, still never the host; `sessions_per_worker = 1` gives each
//! session its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_sandbox_just_bash::JustBashConfig;
use atlas_sandbox_sdk::{
    HealthStatus, PluginContext, Result, Sandbox, SandboxPlugin, SecurityProfile, SemanticLayer,
    async_trait,
};

use crate::config::{Engine, JailConfig};
use crate::plugin::JailPlugin;
use crate::protocol::Mode;
use crate::sandbox::{JailSandbox, WorkerPool};

const MIB: u64 = 1 << 20;

/// Sessions per worker unless the host says otherwise: 1,000 sessions in about 16 workers.
pub const DEFAULT_SESSIONS_PER_WORKER: usize = 64;

/// How a contained just-bash sandbox is confined on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Containment {
    /// The jail's just-bash engine (namespaces, pivot_root, seccomp, Landlock if present).
    Jail,
    /// A plain worker process with rlimits; the string says why the jail is unavailable.
    Plain(String),
}

/// just-bash, run in worker processes (shared by up to `sessions_per_worker` sandboxes of a layer).
#[derive(Debug, Clone)]
pub struct ContainedJustBash {
    jail: JailPlugin,
    plain_only: bool,
    sessions_per_worker: usize,
    pool: Arc<WorkerPool>,
}

impl ContainedJustBash {
    /// A contained just-bash over a validated `[plugins.just-bash]` config.
    pub fn new(config: JustBashConfig, ctx: &PluginContext) -> Result<Self> {
        // The address-space cap of the worker: the interpreter's own total budget plus room for
        // the program and allocator overhead, so the budget (exit 126) trips before the rlimit
        // (the worker's end) does.
        let memory_limit_mb = (config.limits.max_total_memory_bytes / MIB)
            .saturating_add(256)
            .clamp(512, 1 << 20);
        let jail = JailConfig {
            engine: Engine::JustBash,
            time_limit: config.limits.deadline,
            memory_limit_mb,
            // Weaker than the jail is still stronger than in-process: accept a kernel without
            // Landlock rather than fall back to the plain worker.
            require_landlock: false,
            just_bash: config,
            ..JailConfig::default()
        };
        Ok(ContainedJustBash {
            jail: JailPlugin::new(jail, ctx)?,
            plain_only: false,
            sessions_per_worker: DEFAULT_SESSIONS_PER_WORKER,
            pool: Arc::default(),
        })
    }

    /// With at most `n` sessions (sandboxes) per worker process (`1`: a worker each; `0` is
    /// taken as 1).
    #[must_use]
    pub fn with_sessions_per_worker(mut self, n: usize) -> Self {
        self.sessions_per_worker = n.max(1);
        self
    }

    /// Never builds a jail: every sandbox gets a plain worker (a host that forbids user
    /// namespaces gets this anyway; tests use it to check that path on any machine).
    #[must_use]
    pub fn plain_only(mut self) -> Self {
        self.plain_only = true;
        self
    }

    /// With the worker's limits changed (tests and embedders: `memory_limit_mb`, rlimits).
    pub fn with_jail_config(mut self, f: impl FnOnce(&mut JailConfig)) -> Result<Self> {
        let mut c = self.jail.config().clone();
        f(&mut c);
        self.jail = JailPlugin::new(c, self.jail.context())?;
        Ok(self)
    }

    /// How sandboxes are confined here (forks one cached probe the first time).
    pub fn containment(&self) -> std::result::Result<Containment, String> {
        crate::probe::worker_hook().map_err(|e| {
            format!(
                "{e}; just-bash cannot run in a worker process here (turn worker mode off with \
                 [server] just_bash_worker = false to run it in-process)"
            )
        })?;
        let jail = if self.plain_only {
            Err("plain workers were asked for".to_owned())
        } else {
            self.jail.diagnose()
        };
        match jail {
            Ok(_) => Ok(Containment::Jail),
            Err(why) => {
                crate::probe::seccomp().map_err(|e| {
                    format!("{e}; the plain worker needs seccomp (or set [server] just_bash_worker = false)")
                })?;
                Ok(Containment::Plain(why))
            }
        }
    }

    /// Creates a sandbox with the concrete type.
    pub async fn create_contained(&self, layer: &SemanticLayer) -> Result<JailSandbox> {
        let mode = match tokio::task::spawn_blocking({
            let me = self.clone();
            move || me.containment()
        })
        .await
        {
            Ok(Ok(Containment::Jail)) => Mode::Jail,
            Ok(Ok(Containment::Plain(_))) => Mode::Plain,
            Ok(Err(why)) => return Err(crate::error::JailError::Setup(why).into()),
            Err(e) => return Err(crate::error::JailError::Io(e.to_string()).into()),
        };
        let shared = self.sessions_per_worker > 1;
        if shared
            && let Some(s) = self
                .pool
                .attach(layer.root(), mode, self.sessions_per_worker)
        {
            return Ok(s);
        }
        let c = self.jail.config();
        let mut plan = self.jail.plan(mode, layer.root());
        // Each interpreter holds one descriptor of the layer's directory for as long as its
        // session lives: a shared worker needs room for all of them beyond a command's own.
        plan.max_open_files = plan
            .max_open_files
            .saturating_add(self.sessions_per_worker as u64);
        let s = JailSandbox::create(plan, layer, c.time_limit.get()).await?;
        if shared {
            self.pool.register(layer.root(), mode, &s);
        }
        Ok(s)
    }
}

fn security() -> SecurityProfile {
    SecurityProfile {
        network_isolation: true,
        filesystem_isolation: true,
        unprivileged_execution: true,
        description: "the just-bash interpreter in worker processes (up to sessions_per_worker \
                      sessions of one layer each, every session its own memory layer): the warm \
                      jail's just-bash engine where user namespaces work, else a child of the \
                      host with seccomp, no_new_privs and rlimits; a crash ends the sessions of \
                      one worker, not the host"
            .to_owned(),
        caveats: vec![
            "output is the just-bash interpreter's, which can differ from bash + GNU tools where \
             it lacks a feature"
                .to_owned(),
            "without user namespaces the worker sees the host's filesystem; the interpreter's \
             confined reads (openat2 beneath the layer) are then its only filesystem boundary"
                .to_owned(),
        ],
    }
}

#[async_trait]
impl SandboxPlugin for ContainedJustBash {
    fn id(&self) -> &'static str {
        atlas_sandbox_just_bash::ID
    }

    fn priority(&self) -> i32 {
        0
    }

    fn security(&self) -> SecurityProfile {
        security()
    }

    async fn health_check(&self) -> HealthStatus {
        let start = Instant::now();
        let me = self.clone();
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::task::spawn_blocking(move || me.containment()),
        )
        .await;
        let elapsed = start.elapsed();
        match r {
            Ok(Ok(Ok(Containment::Jail))) => HealthStatus::healthy(
                "worker mode: sessions run in jailed workers (the jail's just-bash engine)",
                elapsed,
            ),
            Ok(Ok(Ok(Containment::Plain(why)))) => HealthStatus::healthy(
                format!(
                    "worker mode: sessions run in plain worker processes with rlimits (the jail \
                     is unavailable: {why})"
                ),
                elapsed,
            ),
            Ok(Ok(Err(why))) => HealthStatus::unhealthy(why, elapsed),
            Ok(Err(e)) => HealthStatus::unhealthy(format!("health check failed: {e}"), elapsed),
            Err(_) => HealthStatus::unhealthy("health check did not finish within 5s", elapsed),
        }
    }

    async fn create(&self, layer: &SemanticLayer) -> Result<Box<dyn Sandbox>> {
        Ok(Box::new(self.create_contained(layer).await?))
    }
}
