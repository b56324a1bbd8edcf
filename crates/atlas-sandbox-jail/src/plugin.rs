//! The configured backend: health, security profile, and `create`.

use std::time::{Duration, Instant};

use atlas_sandbox_sdk::process::direct::DirectExec;
use atlas_sandbox_sdk::{
    HealthStatus, PluginContext, Result, Sandbox, SandboxPlugin, SecurityProfile, SemanticLayer,
    async_trait,
};

use crate::config::{Engine, JailConfig};
use crate::protocol::{Mode, Plan, PlanEngine};
use crate::sandbox::JailSandbox;
use crate::{DEFAULT_PRIORITY, ID, probe};

/// The warm jail backend.
#[derive(Debug, Clone)]
pub struct JailPlugin {
    config: JailConfig,
    ctx: PluginContext,
}

const MIB: u64 = 1 << 20;

impl JailPlugin {
    /// A plugin for a validated config.
    pub fn new(config: JailConfig, ctx: &PluginContext) -> Result<Self> {
        config.validate()?;
        Ok(JailPlugin {
            config,
            ctx: ctx.clone(),
        })
    }

    /// The config it runs with.
    pub fn config(&self) -> &JailConfig {
        &self.config
    }

    /// The request defaults the host gave this plugin.
    pub fn context(&self) -> &PluginContext {
        &self.ctx
    }

    /// The unprivileged host ids the worker becomes when the host runs as root.
    fn drop_to(&self) -> Option<(u32, u32)> {
        rustix::process::geteuid()
            .is_root()
            .then_some((self.config.jail_uid, self.config.jail_gid))
    }

    pub(crate) fn plan(&self, mode: Mode, root: &std::path::Path) -> Plan {
        let c = &self.config;
        Plan {
            engine: match c.engine {
                Engine::Bash => PlanEngine::Bash,
                Engine::JustBash => PlanEngine::JustBash(Box::new(c.just_bash.clone())),
            },
            mode,
            root: root.to_string_lossy().into_owned(),
            host_pid: rustix::process::getpid().as_raw_nonzero().get(),
            jail_uid: c.jail_uid,
            jail_gid: c.jail_gid,
            drop_to: self.drop_to(),
            overlay: c.overlay(),
            tmpfs_size_bytes: c.tmpfs_size_mb * MIB,
            tmpfs_max_inodes: c.tmpfs_max_inodes,
            memory_limit_bytes: c.memory_limit_mb * MIB,
            max_processes: c.max_processes,
            max_file_size_bytes: c.max_file_size_mb * MIB,
            max_open_files: c.max_open_files,
            cpu_seconds: c.cpu_limit().as_secs_f64().ceil().max(1.0) as u64,
            extra_ro: c
                .extra_ro_mounts
                .iter()
                .map(|m| {
                    (
                        m.source.to_string_lossy().into_owned(),
                        m.target().to_string_lossy().into_owned(),
                    )
                })
                .collect(),
            require_landlock: c.require_landlock,
            direct: None,
        }
    }

    /// Every check, first failure first. Forks at most once per process (the cached probe).
    pub fn diagnose(&self) -> std::result::Result<String, String> {
        probe::worker_hook()?;
        probe::seccomp()?;
        let landlock = match probe::landlock() {
            Ok(()) => "Landlock on",
            Err(e) if self.config.require_landlock => return Err(e),
            Err(_) => "Landlock absent (require_landlock = false)",
        };
        let overlay = probe::user_namespaces(self.drop_to())?;
        let layer = match (self.config.overlay(), overlay) {
            (true, Ok(())) => "the layer under a private overlay",
            // Fail closed: falling back to the read-only layer is the config's choice only.
            (true, Err(why)) => {
                return Err(format!(
                    "{why}; set layer = \"read-only\" to mount the layer read-only instead"
                ));
            }
            (false, _) => "the layer read-only",
        };
        Ok(format!(
            "user namespaces, seccomp and the mount API available; {landlock}; {layer}"
        ))
    }

    /// [`SandboxPlugin::create`] with the concrete type.
    pub async fn create_jail(&self, layer: &SemanticLayer) -> Result<JailSandbox> {
        let mut plan = self.plan(Mode::Jail, layer.root());
        if self.config.engine == Engine::Bash && self.config.direct_exec {
            plan.direct = direct_probe().await;
        }
        JailSandbox::create(plan, layer, self.config.time_limit.get()).await
    }
}

/// What `/bin/bash` does with a one-program line, asked once per process: the jail binds the
/// host's `/usr`, so the host's bash is the jail's, and the command environment is fixed.
async fn direct_probe() -> Option<DirectExec> {
    static PROBE: tokio::sync::OnceCell<Option<DirectExec>> = tokio::sync::OnceCell::const_new();
    PROBE
        .get_or_init(|| async {
            let env: Vec<(String, String)> = atlas_sandbox_sdk::COMMAND_ENV
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let found = DirectExec::probe(
                std::path::Path::new(crate::worker::SHELL),
                &env,
                std::path::Path::new("/"),
            )
            .await;
            if found.is_none() {
                tracing::info!(
                    "jail: every command goes through bash: it did not answer the direct-start probe"
                );
            }
            found
        })
        .await
        .clone()
}

impl JailPlugin {}

/// The security profile of a config (an honest one: caveats included).
pub fn security_of(config: &JailConfig) -> SecurityProfile {
    let mut caveats = vec![
        "the jail shares the host kernel: a kernel bug reachable through the allowed syscalls \
         is an escape"
            .to_owned(),
        "one jail per sandbox: commands of the same sandbox share its /tmp and can see each \
         other's processes while they run"
            .to_owned(),
        "a command can run a script or program it wrote to /tmp, as bash allows, under the \
         same confinement (perl and python3 in /usr can already make any system call)"
            .to_owned(),
        "run as root, commands are uid/gid jail_uid/jail_gid (99999) on the host; run \
         unprivileged, they map to the service's own uid and keep its supplementary groups"
            .to_owned(),
        "the seccomp filter is a denylist (the nsjail explore policy plus x32 killed)".to_owned(),
        "the host's /usr is visible read-only inside the jail".to_owned(),
    ];
    if config.engine == Engine::JustBash {
        caveats.push(
            "engine = \"just-bash\": commands run in the just-bash interpreter inside the jail, \
             whose output can differ from bash + GNU tools where it lacks a feature"
                .to_owned(),
        );
    }
    if !config.require_landlock {
        caveats.push(
            "require_landlock = false: on a kernel without Landlock the jail runs without it"
                .to_owned(),
        );
    }
    if config.overlay() {
        caveats.push(
            "layer = \"overlay\": commands may change /semantic; the changes stay in the \
             sandbox's own tmpfs (with /tmp, in its size) and never reach the host's files; \
             run as root, the layer's owner appears as the jail user (an idmapped mount), so \
             files only that owner may read are readable to commands"
                .to_owned(),
        );
    }
    if !config.extra_ro_mounts.is_empty() {
        caveats.push("extra read-only host paths are mounted (extra_ro_mounts)".to_owned());
    }
    SecurityProfile {
        network_isolation: true,
        filesystem_isolation: true,
        unprivileged_execution: true,
        description: "a warm jail per sandbox: new user, mount, pid, net, ipc, uts and cgroup \
                      namespaces, pivot_root into a minimal read-only root, Landlock, seccomp, \
                      no capabilities, rlimits; one fork per command"
            .to_owned(),
        caveats,
    }
}

#[async_trait]
impl SandboxPlugin for JailPlugin {
    fn id(&self) -> &'static str {
        ID
    }

    fn priority(&self) -> i32 {
        DEFAULT_PRIORITY
    }

    fn security(&self) -> SecurityProfile {
        security_of(&self.config)
    }

    async fn health_check(&self) -> HealthStatus {
        let start = Instant::now();
        // Cheap after the first call; the first forks one short-lived probe.
        let me = self.clone();
        let r = tokio::time::timeout(
            HEALTH_DEADLINE,
            tokio::task::spawn_blocking(move || me.diagnose()),
        )
        .await;
        let elapsed = start.elapsed();
        match r {
            Ok(Ok(Ok(msg))) => HealthStatus::healthy(msg, elapsed),
            Ok(Ok(Err(msg))) => HealthStatus::unhealthy(msg, elapsed),
            Ok(Err(e)) => HealthStatus::unhealthy(format!("health check failed: {e}"), elapsed),
            Err(_) => HealthStatus::unhealthy(
                format!("health check did not finish within {HEALTH_DEADLINE:?}"),
                elapsed,
            ),
        }
    }

    async fn create(&self, layer: &SemanticLayer) -> Result<Box<dyn Sandbox>> {
        Ok(Box::new(self.create_jail(layer).await?))
    }
}

/// How long a health check may take at most (the first one forks an unshare probe).
const HEALTH_DEADLINE: Duration = Duration::from_secs(5);
