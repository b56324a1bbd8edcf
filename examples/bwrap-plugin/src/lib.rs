//! An example of a sandbox plugin that lives outside this workspace's `crates/`: it depends only
//! on `atlas-sandbox-sdk` (to implement the plugin) and `atlas-sandbox` (to run it in a host next
//! to the compiled-in backends). See docs/external-plugins.md.
//!
//! The plugin (`bwrap`) runs each command as `bash -c` in a fresh bubblewrap sandbox: every
//! namespace unshared (no network), `/usr` and the layer read-only, a private `/tmp`, an empty
//! environment. Without `bwrap` on PATH it is unhealthy and says how to install it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::process::{self, ProcessSpec};
use atlas_sandbox_sdk::{
    EXTERNAL_PLUGIN_PRIORITY, Error, ErrorKind, ExecOutput, ExecRequest, HealthStatus,
    PluginContext, PluginDescriptor, PluginFactory, Result, Sandbox, SandboxPlugin,
    SecurityProfile, SemanticLayer, async_trait,
};
use schemars::JsonSchema;
use serde::Deserialize;

/// The plugin id: `[plugins.bwrap]`.
pub const ID: &str = "bwrap";

/// Where the layer appears inside the sandbox.
pub const SEMANTIC_MOUNT: &str = "/semantic";

/// `[plugins.bwrap]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BwrapConfig {
    /// The bubblewrap binary; found on PATH when unset.
    #[serde(default)]
    pub bwrap_path: Option<PathBuf>,
}

/// The factory the host registers with `LoadOptions::with_plugin(descriptor())`.
#[derive(Debug)]
pub struct BwrapFactory;

impl PluginFactory for BwrapFactory {
    type Config = BwrapConfig;
    const ID: &'static str = ID;
    const DEFAULT_PRIORITY: i32 = EXTERNAL_PLUGIN_PRIORITY;
    const CARGO_FEATURE: &'static str = "atlas-sandbox-example-bwrap";

    fn default_security() -> SecurityProfile {
        security()
    }

    fn build(config: BwrapConfig, ctx: &PluginContext) -> Result<Box<dyn SandboxPlugin>> {
        let bwrap = config
            .bwrap_path
            .clone()
            .or_else(|| process::find_in_path("bwrap", std::env::var_os("PATH").as_deref()));
        let _ = ctx; // per-command defaults arrive in each ExecRequest
        Ok(Box::new(BwrapPlugin { bwrap }))
    }
}

/// The descriptor to hand to the host.
pub fn descriptor() -> PluginDescriptor {
    PluginDescriptor::of::<BwrapFactory>(env!("CARGO_PKG_VERSION"))
}

fn security() -> SecurityProfile {
    SecurityProfile {
        network_isolation: true,
        filesystem_isolation: true,
        unprivileged_execution: true,
        description: "bubblewrap: fresh user, mount, pid, net, ipc and uts namespaces per command"
            .into(),
        caveats: vec![
            "no seccomp filter or resource limits (an example, not a hardened backend)".into(),
        ],
    }
}

/// The built plugin.
#[derive(Debug)]
pub struct BwrapPlugin {
    bwrap: Option<PathBuf>,
}

#[async_trait]
impl SandboxPlugin for BwrapPlugin {
    fn id(&self) -> &'static str {
        ID
    }

    fn priority(&self) -> i32 {
        EXTERNAL_PLUGIN_PRIORITY
    }

    fn security(&self) -> SecurityProfile {
        security()
    }

    async fn health_check(&self) -> HealthStatus {
        let t0 = Instant::now();
        let Some(bwrap) = &self.bwrap else {
            return HealthStatus::unhealthy(
                "bwrap not found on PATH; install bubblewrap (apt-get install bubblewrap) or set \
                 [plugins.bwrap] bwrap_path",
                t0.elapsed(),
            );
        };
        // One real sandbox: bwrap exists but user namespaces may be forbidden.
        let spec = ProcessSpec::new(bwrap)
            .args(jail_args(Path::new("/"), "", "true"))
            .timeout(Duration::from_secs(5));
        match process::run(&spec).await {
            Ok(r) if r.output.exit_code == 0 => {
                HealthStatus::healthy(format!("{} works", bwrap.display()), t0.elapsed())
            }
            Ok(r) => HealthStatus::unhealthy(
                format!(
                    "{} cannot build a sandbox (exit {}): {}; are user namespaces allowed \
                     (sysctl kernel.unprivileged_userns_clone)?",
                    bwrap.display(),
                    r.output.exit_code,
                    r.output.stderr_str().trim()
                ),
                t0.elapsed(),
            ),
            Err(e) => HealthStatus::unhealthy(
                format!("cannot run {}: {e}", bwrap.display()),
                t0.elapsed(),
            ),
        }
    }

    async fn create(&self, layer: &SemanticLayer) -> Result<Box<dyn Sandbox>> {
        let bwrap = self.bwrap.clone().ok_or_else(|| {
            Error::new(ErrorKind::Unavailable, "bwrap not found on PATH").with_backend(ID)
        })?;
        Ok(Box::new(BwrapSandbox {
            bwrap,
            root: layer.root().to_path_buf(),
            closed: std::sync::atomic::AtomicBool::new(false),
        }))
    }
}

/// bubblewrap's argv for one command over `root`, starting in `cwd` (relative to the layer).
fn jail_args(root: &Path, cwd: &str, command: &str) -> Vec<String> {
    let mut a: Vec<String> = [
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "LC_ALL",
        "C",
        "--setenv",
        "HOME",
        "/tmp",
        "--ro-bind",
        "/usr",
        "/usr",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    .map(String::from)
    .into();
    // Merged-/usr systems link /bin, /lib, ... into /usr; others get them bound read-only.
    for dir in ["/bin", "/sbin", "/lib", "/lib64", "/lib32"] {
        match std::fs::read_link(dir) {
            Ok(target) => a.extend(["--symlink".into(), target.display().to_string(), dir.into()]),
            Err(_) if Path::new(dir).is_dir() => {
                a.extend(["--ro-bind".into(), dir.into(), dir.into()]);
            }
            Err(_) => {}
        }
    }
    a.extend([
        "--ro-bind".into(),
        root.display().to_string(),
        SEMANTIC_MOUNT.into(),
    ]);
    let dir = if cwd.is_empty() {
        SEMANTIC_MOUNT.to_owned()
    } else {
        format!("{SEMANTIC_MOUNT}/{cwd}")
    };
    a.extend([
        "--chdir".into(),
        dir,
        "/bin/bash".into(),
        "-c".into(),
        command.into(),
    ]);
    a
}

/// One semantic root's sandbox: a fresh bubblewrap per command.
#[derive(Debug)]
pub struct BwrapSandbox {
    bwrap: PathBuf,
    root: PathBuf,
    closed: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Sandbox for BwrapSandbox {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        request.validate().map_err(|e| e.with_backend(ID))?;
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::new(ErrorKind::SandboxGone, "sandbox is closed").with_backend(ID));
        }
        let cwd = request.relative_cwd().map_err(|e| e.with_backend(ID))?;
        let spec = ProcessSpec::new(&self.bwrap)
            .args(jail_args(&self.root, &cwd, &request.command))
            .cwd("/")
            .timeout(request.timeout)
            .max_output_bytes(request.max_output_bytes);
        let result = process::run(&spec).await.map_err(|e| {
            Error::backend_failure(format!("cannot run {}: {e}", self.bwrap.display()))
                .with_backend(ID)
        })?;
        Ok(result.output)
    }

    async fn close(&self) -> Result<()> {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }
}
