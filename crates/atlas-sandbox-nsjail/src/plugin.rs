//! The configured backend: finds nsjail, checks its health, creates sandboxes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use atlas_sandbox_sdk::{
    ExecRequest, HealthStatus, PluginContext, Result, Sandbox, SandboxPlugin, SecurityProfile,
    SemanticLayer, Shell, async_trait,
};

use crate::config::{CgroupMode, NsjailConfig, Seccomp};
use crate::error::NsjailError;
use crate::jail::{CGROUP_PARENT, CgroupLayout, HostFacts, JailPlan, scan_root_entries};
use crate::locate::find_nsjail_here;
use crate::sandbox::NsjailSandbox;
use crate::{DEFAULT_PRIORITY, ID};

/// The seccomp policy shipped with the backend (config/nsjail/explore.kafel).
pub const EXPLORE_POLICY: &str = include_str!("../../../config/nsjail/explore.kafel");

/// The health check's marker: healthy only if a jail really ran `echo` and printed it.
const HEALTH_MARKER: &str = "atlas-nsjail-ok";
/// How long the health check may take.
const HEALTH_DEADLINE: Duration = Duration::from_secs(5);

/// The nsjail backend.
#[derive(Debug, Clone)]
pub struct NsjailPlugin {
    config: NsjailConfig,
    ctx: PluginContext,
}

impl NsjailPlugin {
    /// A plugin for a validated config.
    pub fn new(config: NsjailConfig, ctx: &PluginContext) -> Result<Self> {
        config.validate()?;
        Ok(NsjailPlugin {
            config,
            ctx: ctx.clone(),
        })
    }

    /// The config it runs with.
    pub fn config(&self) -> &NsjailConfig {
        &self.config
    }

    /// The nsjail binary, or why there is none (with how to install it).
    pub fn nsjail_binary(&self) -> Result<PathBuf> {
        find_nsjail_here(self.config.nsjail_path.as_deref())
            .map_err(|why| NsjailError::NotFound(why).into())
    }

    /// Whether the jail has the configured shell. A toolbox jail holds only busybox (an `sh`,
    /// no bash); otherwise the jail sees the host's `/bin` and `/usr`, so the host's file decides.
    /// With `shell = "bash"` a missing bash makes the backend unhealthy, never a silent `sh`.
    pub(crate) fn check_shell(&self) -> Result<()> {
        let shell = self.config.shell;
        match (&self.config.toolbox, shell) {
            (Some(tb), Shell::Bash) => Err(shell.missing(
                ID,
                &format!("a toolbox jail ({})", tb.display()),
                "busybox has no bash",
            )),
            (Some(_), Shell::Sh) => Ok(()),
            (None, _) => {
                use std::os::unix::fs::PermissionsExt;
                let program = Path::new(shell.program());
                match std::fs::metadata(program) {
                    Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
                    Ok(_) => {
                        Err(shell.missing(ID, "the jail", "not an executable file on the host"))
                    }
                    Err(e) => Err(shell.missing(ID, "the jail", &format!("on the host: {e}"))),
                }
            }
        }
    }

    /// What the host looks like to the jail, and cgroup directories made ready if they are on.
    pub fn host_facts(&self) -> Result<HostFacts> {
        let euid = nix::unistd::geteuid().as_raw();
        let egid = nix::unistd::getegid().as_raw();
        let cgroups = match self.config.cgroups {
            CgroupMode::Off => None,
            CgroupMode::Auto => prepare_cgroups(euid).ok(),
            CgroupMode::On => Some(prepare_cgroups(euid).map_err(NsjailError::Cgroups)?),
        };
        Ok(HostFacts {
            euid,
            egid,
            root_entries: scan_root_entries(Path::new("/")),
            cgroups,
        })
    }

    async fn health(&self) -> Result<String> {
        let binary = self.nsjail_binary()?;
        self.check_shell()?;
        let dir = tempfile::Builder::new()
            .prefix("atlas-nsjail-health-")
            .tempdir()
            .map_err(|source| NsjailError::Workdir {
                path: std::env::temp_dir(),
                source,
            })?;
        // The jail user must be able to enter the (empty) layer.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).map_err(
            |source| NsjailError::Workdir {
                path: dir.path().to_path_buf(),
                source,
            },
        )?;
        let layer = SemanticLayer::open(dir.path())?;
        let sandbox = NsjailSandbox::create(self, binary.clone(), &layer).await?;
        let out = sandbox
            .exec(ExecRequest::new(format!("echo {HEALTH_MARKER}")).timeout(HEALTH_DEADLINE))
            .await;
        sandbox.close().await?;
        let out = out?;
        if out.exit_code == 0 && out.stdout_str().contains(HEALTH_MARKER) {
            Ok(format!(
                "nsjail at {} ran echo in a jail with {}",
                binary.display(),
                self.config.shell.program()
            ))
        } else {
            Err(atlas_sandbox_sdk::Error::backend_failure(format!(
                "echo in a jail gave exit {} and stdout {:?}, stderr {:?}",
                out.exit_code,
                out.stdout_str(),
                out.stderr_str()
            ))
            .with_backend(ID))
        }
    }
}

/// Finds the cgroup controllers and creates the backend's parent directory under each (v1);
/// nsjail then creates and removes one child per jail.
fn prepare_cgroups(euid: u32) -> std::result::Result<CgroupLayout, String> {
    if euid != 0 {
        return Err("nsjail runs unprivileged; cgroup limits need root".into());
    }
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").is_file() {
        let controllers = std::fs::read_to_string(base.join("cgroup.controllers"))
            .map_err(|e| format!("cannot read /sys/fs/cgroup/cgroup.controllers: {e}"))?;
        for c in ["memory", "pids"] {
            if !controllers.split_whitespace().any(|x| x == c) {
                return Err(format!("cgroup v2 has no {c} controller"));
            }
        }
        return Ok(CgroupLayout::V2 {
            mount: base.to_path_buf(),
        });
    }
    let memory = base.join("memory");
    let pids = base.join("pids");
    let cpu = base.join("cpu");
    for m in [&memory, &pids, &cpu] {
        if !m.join("tasks").is_file() {
            return Err(format!(
                "no cgroup v1 controller mounted at {}",
                m.display()
            ));
        }
        let parent = m.join(CGROUP_PARENT);
        match std::fs::create_dir(&parent) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create {}: {e}", parent.display())),
        }
    }
    Ok(CgroupLayout::V1 { memory, pids, cpu })
}

/// The security profile of a config (an honest one: caveats included).
pub fn security_of(config: &NsjailConfig) -> SecurityProfile {
    let mut caveats = vec![
        "the jail shares the host kernel: a kernel bug reachable through the allowed syscalls \
         is an escape"
            .to_owned(),
        "run as root, the command is uid/gid jail_uid/jail_gid (99999) on the host; run \
         unprivileged, it maps to the service's own uid, which must own nothing mounted into \
         the jail"
            .to_owned(),
        "the process limit is per user namespace on kernels >= 5.14; use cgroups for a global \
         bound across concurrent jails"
            .to_owned(),
    ];
    match config.seccomp_choice() {
        Ok(Seccomp::Off) => caveats.push(
            "seccomp is off: nested namespaces, mount and ptrace are reachable in the jail"
                .to_owned(),
        ),
        Ok(Seccomp::File(p)) => caveats.push(format!(
            "the seccomp policy is the operator's own ({})",
            p.display()
        )),
        _ => caveats.push(
            "the seccomp policy is a denylist; it assumes a kernel without the x32 ABI".to_owned(),
        ),
    }
    if config.toolbox.is_none() {
        caveats.push("the host's /usr is visible read-only inside the jail".to_owned());
    }
    if config.proc {
        caveats.push("/proc is mounted: /proc/self/mountinfo shows host paths".to_owned());
    }
    if !config.extra_ro_mounts.is_empty() {
        caveats.push("extra read-only host paths are mounted (extra_ro_mounts)".to_owned());
    }
    let layer = match config.layer {
        crate::config::LayerMode::Overlay => {
            "the semantic layer as a per-sandbox overlay (changes kept in the sandbox's tmpfs, \
             host files untouched)"
        }
        crate::config::LayerMode::ReadOnly => "a read-only semantic layer",
    };
    SecurityProfile {
        network_isolation: true,
        filesystem_isolation: true,
        unprivileged_execution: true,
        description: format!(
            "a fresh nsjail per command: new user, mount, pid, net, ipc and uts namespaces, \
             {layer}, rlimits and a seccomp policy"
        ),
        caveats,
    }
}

#[async_trait]
impl SandboxPlugin for NsjailPlugin {
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
        HealthStatus::measure(HEALTH_DEADLINE, self.health()).await
    }

    async fn create(&self, layer: &SemanticLayer) -> Result<Box<dyn Sandbox>> {
        Ok(Box::new(self.create_jail(layer).await?))
    }
}

impl NsjailPlugin {
    /// [`SandboxPlugin::create`] with the concrete type (its config file and directory).
    pub async fn create_jail(&self, layer: &SemanticLayer) -> Result<NsjailSandbox> {
        let binary = self.nsjail_binary()?;
        NsjailSandbox::create(self, binary, layer).await
    }

    /// The request defaults the host gave this plugin.
    pub fn context(&self) -> &PluginContext {
        &self.ctx
    }

    /// The plan of a jail over `root` (for the sandbox and for `nsjail-config` inspection).
    pub(crate) fn plan<'a>(
        &'a self,
        host: &'a HostFacts,
        root: &'a Path,
        policy: Option<&'a Path>,
        state: Option<crate::jail::StatePaths<'a>>,
    ) -> JailPlan<'a> {
        JailPlan {
            config: &self.config,
            host,
            semantic_root: root,
            seccomp_policy: policy,
            state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(config: NsjailConfig) -> NsjailPlugin {
        NsjailPlugin::new(config, &PluginContext::default()).expect("valid config")
    }

    #[test]
    fn a_toolbox_jail_needs_shell_sh() {
        let toolbox = Some(PathBuf::from("/bin/sh"));
        let bash = plugin(NsjailConfig {
            toolbox: toolbox.clone(),
            ..NsjailConfig::default()
        });
        let e = bash.check_shell().expect_err("busybox has no bash");
        assert_eq!(e.kind(), atlas_sandbox_sdk::ErrorKind::Unavailable);
        assert!(e.to_string().contains("busybox has no bash"), "{e}");
        assert!(e.to_string().contains("shell = \"sh\""), "{e}");
        let sh = plugin(NsjailConfig {
            toolbox,
            shell: Shell::Sh,
            ..NsjailConfig::default()
        });
        sh.check_shell().expect("busybox sh");
    }

    #[test]
    fn the_host_jail_uses_the_hosts_bash() {
        let p = plugin(NsjailConfig::default());
        assert_eq!(
            p.check_shell().is_ok(),
            Path::new("/bin/bash").is_file(),
            "the jail sees the host's /bin"
        );
    }
}
