//! The warm jail backend of atlas-sandbox: kernel isolation at close to in-process speed, with
//! nothing to install beyond Cargo.
//!
//! `create` starts one jailed worker per sandbox and keeps it until `close`: new user, mount,
//! pid, net, ipc, uts and cgroup namespaces; `pivot_root` into a minimal read-only root (the
//! host's `/usr` and its top-level links read-only, the semantic layer at `/semantic` under an
//! overlay whose changes stay in the session's tmpfs (or read-only, `layer = "read-only"`),
//! nosuid, nodev, noexec, a size-limited tmpfs `/tmp` for the session (nosuid, nodev,
//! executable), a fresh `/proc` limited to process directories, `/dev/null`, `/dev/zero`,
//! `/dev/urandom`); a one-to-one
//! uid/gid map to an unprivileged id; every capability dropped; no_new_privs; a Landlock
//! ruleset; a seccomp filter at least as strict as `config/nsjail/explore.kafel`. Each command
//! is then one request over a `SOCK_SEQPACKET` socketpair: the worker forks `bash -c` in its own
//! session with the command rlimits, its stdout and stderr are pipes the host sent along and
//! reads under the SDK's caps and overflow limit, its exit status comes back as a message, and
//! the deadline kills its process group (exit 124).
//!
//! # Why the worker is the host executable re-run
//!
//! The worker must set up namespaces, mounts, Landlock and seccomp, which means allocating,
//! reading files and compiling a BPF program. After `fork` in a multi-threaded process (the
//! host runs tokio) only async-signal-safe calls are allowed until `exec`: another thread may
//! have held the allocator's or a library's lock at the moment of the fork. So the worker has
//! to start from an `exec`. The candidates:
//!
//! - a separate worker binary shipped by the crate: Cargo builds no binaries for a library's
//!   dependents, so it would need a second install step (or a build script building a nested
//!   crate), which is what this backend exists to avoid;
//! - a fork server forked early, before the host starts threads: a library cannot choose when
//!   that is, and it would cost a process in every program that links the crate;
//! - **`/proc/self/exe` with a startup hook** (chosen): the crate registers an `.init_array`
//!   function that the C runtime runs before `main` in every executable linking the crate
//!   (test binaries and benches included, with no change to their `main`). With
//!   `ATLAS_SANDBOX_JAIL_WORKER=<fd>` in its environment, the re-run program becomes the worker
//!   and never reaches `main`. The fork before that `exec` is `std::process::Command`'s, with
//!   two async-signal-safe calls in `pre_exec`. Loaded from a shared library (language
//!   bindings) the executable is someone else's: the hook notices that its code is not in the
//!   main executable, and the health check reports the backend unusable instead of re-running
//!   a foreign program.
//!
//! The worker starts from one long-lived spawner thread, because `PR_SET_PDEATHSIG` fires when
//! the parent *thread* exits. It dies with the host twice over: the keeper process has a
//! parent-death signal, the jail's init has one towards the keeper, and the init exits when
//! its socket reaches EOF (the host closed the sandbox or died). The init is pid 1 of the
//! jail's pid namespace, so its exit kills every process in the jail.

#[cfg(target_os = "linux")]
mod config;
#[cfg(target_os = "linux")]
mod contain;
#[cfg(target_os = "linux")]
mod error;
#[cfg(target_os = "linux")]
mod plugin;
#[cfg(target_os = "linux")]
mod probe;
#[cfg(target_os = "linux")]
mod protocol;
#[cfg(target_os = "linux")]
mod sandbox;
#[cfg(target_os = "linux")]
mod seccomp;
#[cfg(target_os = "linux")]
mod spawn;
#[cfg(target_os = "linux")]
mod worker;

#[cfg(target_os = "linux")]
pub use linux::*;

/// Ends the process at once: no atexit handlers, no stdio flush (after a fork, and in the
/// worker, nothing of the host's may run).
#[cfg(target_os = "linux")]
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// The plugin id.
pub const ID: &str = "jail";
/// The default priority: above nsjail (75), the same boundary plus Landlock, and faster.
pub const DEFAULT_PRIORITY: i32 = 78;

#[cfg(target_os = "linux")]
mod linux {
    use atlas_sandbox_sdk::{
        PluginContext, PluginDescriptor, PluginFactory, Result, SandboxPlugin, SecurityProfile,
    };

    pub use crate::config::{Engine, ExtraMount, JailConfig, LayerMode};
    pub use crate::contain::{ContainedJustBash, Containment, DEFAULT_SESSIONS_PER_WORKER};
    pub use crate::plugin::{JailPlugin, security_of};
    pub use crate::sandbox::JailSandbox;
    use crate::{DEFAULT_PRIORITY, ID};

    /// The shell and environment every command gets (for tests and docs).
    pub const SHELL: &str = crate::worker::SHELL;

    /// The entry point the host registers.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct JailFactory;

    impl PluginFactory for JailFactory {
        type Config = JailConfig;

        const ID: &'static str = ID;
        const DEFAULT_PRIORITY: i32 = DEFAULT_PRIORITY;
        const CARGO_FEATURE: &'static str = "jail";

        fn default_security() -> SecurityProfile {
            security_of(&JailConfig::default())
        }

        fn build(config: Self::Config, ctx: &PluginContext) -> Result<Box<dyn SandboxPlugin>> {
            Ok(Box::new(JailPlugin::new(config, ctx)?))
        }
    }

    /// The descriptor the host's registry lists.
    pub fn descriptor() -> PluginDescriptor {
        PluginDescriptor::of::<JailFactory>(env!("CARGO_PKG_VERSION"))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use atlas_sandbox_sdk::PluginContext;

    #[test]
    fn descriptor_matches_the_conventions() {
        let d = descriptor();
        assert_eq!(d.id, "jail");
        assert_eq!(d.default_priority, 78);
        assert_eq!(d.cargo_feature, "jail");
        assert!(!d.requires_config);
        let s = (d.default_security)();
        assert!(s.network_isolation && s.filesystem_isolation && s.unprivileged_execution);
        let plugin = (d.build)(serde_json::json!({}), &PluginContext::default()).unwrap();
        assert_eq!(plugin.id(), "jail");
        let e = (d.build)(
            serde_json::json!({"max_processes": 0}),
            &PluginContext::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("max_processes"), "{e}");
    }

    #[test]
    fn the_startup_hook_ran_in_this_test_binary() {
        assert!(crate::spawn::hook_ran());
    }
}
