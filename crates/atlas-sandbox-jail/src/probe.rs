//! The health checks: each names the missing piece and the setting that enables it. None of
//! them builds a jail; the only process is one cached fork that tries `unshare`.

use std::sync::OnceLock;

use landlock::{ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr};

use crate::spawn::hook_ran;

/// The namespaces a worker creates.
fn jail_namespaces() -> rustix::thread::UnshareFlags {
    use rustix::thread::UnshareFlags as F;
    F::NEWUSER | F::NEWNS | F::NEWPID | F::NEWNET | F::NEWIPC | F::NEWUTS | F::NEWCGROUP
}

/// Exit codes of the probe child beyond errno values.
const PROBE_NO_MOUNT_API: i32 = 200;
const PROBE_SETID: i32 = 201;
/// Everything else works, but `fsopen("overlay")` failed in the new namespaces.
const PROBE_NO_OVERLAY: i32 = 202;

/// The probe's answer: `Err` when no jail can be built at all, else whether the jail's user
/// namespace can create an overlayfs (`Err` names why not).
pub(crate) type Answer = Result<Result<(), String>, String>;

/// Whether this process can create the jail's namespaces as the identity a worker would have
/// (`drop_to` when the host is root), and whether it can mount an overlayfs there. Forks once
/// per process; later calls reuse the answer.
pub(crate) fn user_namespaces(drop_to: Option<(u32, u32)>) -> Answer {
    static ANSWER: OnceLock<Answer> = OnceLock::new();
    ANSWER.get_or_init(|| probe_unshare(drop_to)).clone()
}

fn probe_unshare(drop_to: Option<(u32, u32)>) -> Answer {
    // SAFETY: the child only makes raw syscalls (no allocation, no lock) and then _exits, which
    // is what is allowed after forking a multi-threaded process.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let code = probe_child(drop_to);
            crate::exit_now(code)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => loop {
            match nix::sys::wait::waitpid(child, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => return Ok(Ok(())),
                Ok(nix::sys::wait::WaitStatus::Exited(_, PROBE_NO_OVERLAY)) => {
                    return Ok(Err(
                        "the kernel cannot mount an overlayfs in a user namespace \
                         (fsopen(\"overlay\") failed there; Linux 5.11 or later with \
                         CONFIG_OVERLAY_FS is needed)"
                            .into(),
                    ));
                }
                Ok(nix::sys::wait::WaitStatus::Exited(_, PROBE_NO_MOUNT_API)) => {
                    return Err(
                        "the kernel lacks the new mount API (fsopen/open_tree, Linux \
                                5.2 or later is needed)"
                            .into(),
                    );
                }
                Ok(nix::sys::wait::WaitStatus::Exited(_, PROBE_SETID)) => {
                    return Err(
                        "cannot switch to jail_uid/jail_gid before creating the user \
                                namespace"
                            .into(),
                    );
                }
                Ok(nix::sys::wait::WaitStatus::Exited(_, errno)) => {
                    return Err(explain_userns(rustix::io::Errno::from_raw_os_error(errno)));
                }
                Ok(nix::sys::wait::WaitStatus::Signaled(_, sig, _)) => {
                    return Err(format!(
                        "user namespaces are forbidden: the unshare probe was killed by {sig} \
                         (a seccomp filter that kills instead of refusing?)"
                    ));
                }
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(format!("waiting for the unshare probe: {e}")),
            }
        },
        Err(e) => Err(format!("cannot fork the unshare probe: {e}")),
    }
}

fn probe_child(drop_to: Option<(u32, u32)>) -> i32 {
    if let Some((uid, gid)) = drop_to {
        let (uid, gid) = (
            rustix::process::Uid::from_raw(uid),
            rustix::process::Gid::from_raw(gid),
        );
        if rustix::thread::set_thread_groups(&[]).is_err()
            || rustix::thread::set_thread_res_gid(gid, gid, gid).is_err()
            || rustix::thread::set_thread_res_uid(uid, uid, uid).is_err()
        {
            return PROBE_SETID;
        }
    }
    // SAFETY: this child has one thread and shares nothing.
    if let Err(e) = unsafe { rustix::thread::unshare_unsafe(jail_namespaces()) } {
        return e.raw_os_error();
    }
    if rustix::mount::fsopen("tmpfs", rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC).is_err() {
        return PROBE_NO_MOUNT_API;
    }
    match rustix::mount::fsopen("overlay", rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC) {
        Ok(_) => 0,
        Err(_) => PROBE_NO_OVERLAY,
    }
}

fn read_sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Names why `unshare(CLONE_NEWUSER|...)` failed and the setting that allows it.
fn explain_userns(errno: rustix::io::Errno) -> String {
    let head = format!("user namespaces are forbidden here (unshare failed: {errno})");
    if read_sysctl("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return format!(
            "{head}: user.max_user_namespaces is 0; allow them with \
             `sysctl -w user.max_user_namespaces=15000`"
        );
    }
    if read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
    {
        return format!(
            "{head}: AppArmor restricts unprivileged user namespaces \
             (kernel.apparmor_restrict_unprivileged_userns = 1, Ubuntu 23.10 and later); \
             allow them with `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` or an \
             AppArmor profile that grants `userns` to this program"
        );
    }
    if read_sysctl("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return format!(
            "{head}: kernel.unprivileged_userns_clone is 0; allow them with \
             `sysctl -w kernel.unprivileged_userns_clone=1`"
        );
    }
    if errno == rustix::io::Errno::NOSPC {
        return format!(
            "{head}: the limit of user namespaces is reached; raise user.max_user_namespaces"
        );
    }
    if under_seccomp() {
        return format!(
            "{head}: a seccomp filter on this process refuses unshare/clone with \
             CLONE_NEWUSER (Docker's default profile does); run the container with \
             `--security-opt seccomp=unconfined` or a profile that allows them"
        );
    }
    format!("{head}: the kernel or a security module refuses them to this user")
}

fn under_seccomp() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Seccomp:") && l.split_whitespace().nth(1) == Some("2"))
        })
        .unwrap_or(false)
}

/// Whether the kernel can install seccomp filters.
pub(crate) fn seccomp() -> Result<(), String> {
    match rustix::thread::secure_computing_mode() {
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "seccomp is off: the kernel has no seccomp filter support ({e}); it needs \
             CONFIG_SECCOMP=y and CONFIG_SECCOMP_FILTER=y"
        )),
    }
}

/// Whether Landlock is enabled in this kernel.
pub(crate) fn landlock() -> Result<(), String> {
    let r = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(ABI::V1))
        .and_then(|r| r.create());
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "Landlock is absent: the kernel does not enable it ({e}); it needs Linux 5.13 or \
             later with CONFIG_SECURITY_LANDLOCK=y and `landlock` in the `lsm=` boot \
             parameter (set require_landlock = false to accept a jail without it)"
        )),
    }
}

/// Whether this program can become a worker.
pub(crate) fn worker_hook() -> Result<(), String> {
    if hook_ran() {
        Ok(())
    } else {
        Err(
            "the jail worker cannot start: this crate's startup hook did not run in the \
             executable (it must be linked into the program, not loaded from a shared library)"
                .into(),
        )
    }
}
