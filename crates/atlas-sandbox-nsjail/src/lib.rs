//! The nsjail backend of atlas-sandbox.
//!
//! Every exec starts a fresh jail with the nsjail binary: new user, mount, pid, net, ipc and uts
//! namespaces; the semantic layer bind-mounted read-only (nosuid, nodev, noexec) at `/semantic`;
//! only `/usr` (or a configured static toolbox), three device nodes, a size- and inode-limited
//! tmpfs `/tmp` and optionally a fresh `/proc` beside it; an explicit one-to-one uid/gid map;
//! rlimits, a wall-time limit and a kafel seccomp policy; optional cgroup limits; and a clean
//! environment. The jail is described by a protobuf text config written once per sandbox
//! ([`jail::JailPlan::render`]); each exec passes only its log file, time limit, cwd and command.
//! nsjail is spawned through the SDK's [`atlas_sandbox_sdk::process::run`] (capped pipes, own
//! process group, sub-second deadline), and its own log, kept in a per-exec file, tells a jail
//! that could not be built (a backend error) apart from the command's exit status.

mod access;
mod config;
mod error;
mod idmap;
pub mod jail;
pub mod locate;
pub mod log;
mod plugin;
pub mod prestart;
mod sandbox;
mod state;

use atlas_sandbox_sdk::{
    PluginContext, PluginDescriptor, PluginFactory, Result, SandboxPlugin, SecurityProfile,
};

pub use config::{CgroupMode, ExtraMount, LayerMode, NsjailConfig, Seccomp};
pub use plugin::{EXPLORE_POLICY, NsjailPlugin, security_of};
pub use sandbox::NsjailSandbox;

/// The plugin id.
pub const ID: &str = "nsjail";
/// The default priority (below the cloud backends, above the sidecar and just-bash).
pub const DEFAULT_PRIORITY: i32 = 75;

/// The entry point the host registers.
#[derive(Debug, Clone, Copy, Default)]
pub struct NsjailFactory;

impl PluginFactory for NsjailFactory {
    type Config = NsjailConfig;

    const ID: &'static str = ID;
    const DEFAULT_PRIORITY: i32 = DEFAULT_PRIORITY;
    const CARGO_FEATURE: &'static str = "nsjail";
    // No env fallback for NSJAIL_PATH: `locate` reads it when the binary is looked for. Filling
    // `nsjail_path` from it made the table non-empty, so every one-shot command compiled the
    // table's schema (a millisecond) to check a value `locate` checks anyway.

    fn default_security() -> SecurityProfile {
        security_of(&NsjailConfig::default())
    }

    fn build(config: Self::Config, ctx: &PluginContext) -> Result<Box<dyn SandboxPlugin>> {
        Ok(Box::new(NsjailPlugin::new(config, ctx)?))
    }
}

/// The descriptor the host's registry lists.
pub fn descriptor() -> PluginDescriptor {
    PluginDescriptor::of::<NsjailFactory>(env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_matches_the_conventions() {
        let d = descriptor();
        assert_eq!(d.id, "nsjail");
        assert_eq!(d.default_priority, 75);
        assert_eq!(d.cargo_feature, "nsjail");
        let s = (d.default_security)();
        assert!(s.network_isolation && s.filesystem_isolation && s.unprivileged_execution);
        let plugin = (d.build)(serde_json::json!({}), &PluginContext::default()).unwrap();
        assert_eq!(plugin.id(), "nsjail");
        let e = (d.build)(
            serde_json::json!({"max_processes": 0}),
            &PluginContext::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("max_processes"), "{e}");
    }

    #[test]
    fn shipped_policy_denies_what_the_issue_names() {
        for needle in [
            "ptrace",
            "mount",
            "unshare",
            "clone {",
            "socket {",
            "0x5412",
            "bpf",
            "io_uring_setup",
            "keyctl",
            "DEFAULT ALLOW",
        ] {
            assert!(EXPLORE_POLICY.contains(needle), "{needle}");
        }
    }
}
