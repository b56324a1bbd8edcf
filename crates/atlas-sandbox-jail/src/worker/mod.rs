//! The worker: the host executable re-run in worker mode (see the crate docs for why), which
//! builds the jail once and then forks one `bash -c` per command.
//!
//! Two processes per sandbox:
//! - the **keeper** (the exec'd process): becomes the unprivileged jail uid when the host is
//!   root, creates the user, mount, pid, net, ipc, uts and cgroup namespaces, writes its own
//!   uid/gid map, forks the jail's init and waits for it. It stays outside the jail's pid
//!   namespace so that `PR_SET_PDEATHSIG` chains host → keeper → init.
//! - the **init** (pid 1 of the new pid namespace): builds the root and pivots into it, drops
//!   every capability, sets no_new_privs, applies Landlock and seccomp, reports ready, and
//!   serves requests. When it exits, the kernel kills every process of the namespace.
//!
//! Everything here runs in a fresh single-threaded process, so `fork` and allocation are safe.

mod confine;
mod engine;
mod idmap;
mod mount;
mod serve;

pub(crate) use serve::SHELL;

use std::ffi::OsString;
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use crate::protocol::{MAX_MESSAGE, Mode, Plan, PlanEngine, Reply};

/// Sends one message (with fds, if any). Never raises SIGPIPE.
pub(crate) fn send(
    sock: BorrowedFd<'_>,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> rustix::io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(rustix::io::Errno::NOBUFS);
    }
    rustix::net::sendmsg(
        sock,
        &[IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

/// Receives one message and the fds that came with it (close-on-exec). `Ok(None)` at EOF.
pub(crate) fn recv(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> rustix::io::Result<Option<(usize, Vec<OwnedFd>)>> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let r = rustix::net::recvmsg(
        sock,
        &mut [IoSliceMut::new(buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(got) = msg {
            fds.extend(got);
        }
    }
    if r.bytes == 0 {
        return Ok(None);
    }
    if r.flags.contains(rustix::net::ReturnFlags::TRUNC) {
        return Err(rustix::io::Errno::MSGSIZE);
    }
    Ok(Some((r.bytes, fds)))
}

/// The worker's entry point, from the startup hook. Never returns.
pub(crate) fn main(fd: OsString) -> ! {
    let code = match fd.to_str().and_then(|s| s.parse::<i32>().ok()) {
        Some(raw) if raw > 2 => {
            // SAFETY: the host passed this descriptor (its end of the socketpair) to us and
            // nothing else in this fresh process owns it.
            let sock = unsafe { OwnedFd::from_raw_fd(raw) };
            keeper(sock)
        }
        _ => 2,
    };
    crate::exit_now(code)
}

fn fail(sock: BorrowedFd<'_>, message: String) -> i32 {
    let _ = send(sock, &Reply::SetupFailed { message }.encode(), &[]);
    1
}

fn keeper(sock: OwnedFd) -> i32 {
    let _ = rustix::io::fcntl_setfd(&sock, rustix::io::FdFlags::CLOEXEC);
    // A descriptor the host opened without close-on-exec (a library's, a test's) crossed the
    // exec; in the jail it would be a way around every mount and Landlock rule (runc's "Leaky
    // Vessels"). Only the standard streams and the socket stay.
    if let Err(message) = close_inherited(sock.as_raw_fd()) {
        return fail(sock.as_fd(), message);
    }
    let mut buf = vec![0u8; MAX_MESSAGE];
    let plan: Plan = match recv(sock.as_fd(), &mut buf) {
        Ok(Some((n, _))) => match serde_json::from_slice(&buf[..n]) {
            Ok(p) => p,
            Err(e) => return fail(sock.as_fd(), format!("bad jail plan from the host: {e}")),
        },
        _ => return 3,
    };
    if plan.mode == Mode::Plain {
        return plain(sock, &plan);
    }
    // Root only: later the keeper is the jail user, who may not idmap a host mount.
    let lower = match (plan.overlay, plan.drop_to) {
        (true, Some(to)) => match idmap::layer_clone(to) {
            Ok(fd) => Some(fd),
            Err(message) => return fail(sock.as_fd(), message),
        },
        _ => None,
    };
    if let Err(message) = enter_namespaces(&plan) {
        return fail(sock.as_fd(), message);
    }
    // SAFETY: this process is single-threaded (a fresh exec that started no thread).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let code = serve::init(sock, &plan, lower);
            crate::exit_now(code)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            // The host must see EOF when the init dies, so only the init keeps the socket.
            drop(sock);
            drop(lower);
            let _ = confine::drop_capabilities();
            let _ = rustix::thread::set_no_new_privs(true);
            loop {
                match nix::sys::wait::waitpid(child, None) {
                    Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => return c,
                    Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => return 128 + s as i32,
                    Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => return 1,
                }
            }
        }
        Err(e) => fail(sock.as_fd(), format!("fork of the jail's init failed: {e}")),
    }
}

/// The worker where user namespaces are unavailable: the interpreter in this process, as the
/// jail's unprivileged ids when the host is root, no_new_privs, the jail's seccomp filter and the
/// interpreter's rlimits and filter. Never used for the bash engine, which needs the jail.
fn plain(sock: OwnedFd, plan: &Plan) -> i32 {
    let PlanEngine::JustBash(config) = &plan.engine else {
        return fail(
            sock.as_fd(),
            "a plain worker runs only the just-bash engine".into(),
        );
    };
    let address_space = engine::address_space_now();
    let confined = (|| {
        let filters = crate::seccomp::programs().map_err(|e| format!("seccomp filter: {e}"))?;
        // As root: the jail's unprivileged ids (root without capabilities would still own
        // root's files), then nothing left to drop.
        become_unprivileged(plan)?;
        if rustix::process::geteuid().is_root() {
            confine::drop_capabilities()?;
        }
        rustix::thread::set_no_new_privs(true).map_err(|e| format!("no_new_privs: {e}"))?;
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            .map_err(|e| format!("prctl(PR_SET_DUMPABLE, 0): {e}"))?;
        crate::seccomp::install(&filters).map_err(|e| format!("seccomp: {e}"))
    })();
    if let Err(message) = confined {
        return fail(sock.as_fd(), message);
    }
    engine::run(
        sock,
        plan,
        config,
        std::path::Path::new(&plan.root),
        address_space,
        "not used (plain worker: no user namespaces)".into(),
    )
}

fn close_inherited(keep: std::os::fd::RawFd) -> Result<(), String> {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| format!("listing /proc/self/fd: {e}"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if fd > 2 && fd != keep {
            // Nothing in this fresh process owns these inherited descriptors. The listing's
            // own handle was among them and is already closed: that close fails with EBADF.
            let _ = nix::unistd::close(fd);
        }
    }
    Ok(())
}

/// Becomes `plan.drop_to` (the host is root), re-arms the parent-death signal the id change
/// cleared, and checks the host is still the parent.
fn become_unprivileged(plan: &Plan) -> Result<(), String> {
    use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};
    if let Some((uid, gid)) = plan.drop_to {
        let (uid, gid) = (
            rustix::process::Uid::from_raw(uid),
            rustix::process::Gid::from_raw(gid),
        );
        set_thread_groups(&[]).map_err(|e| format!("setgroups([]): {e}"))?;
        set_thread_res_gid(gid, gid, gid)
            .map_err(|e| format!("setresgid({}): {e}", gid.as_raw()))?;
        set_thread_res_uid(uid, uid, uid)
            .map_err(|e| format!("setresuid({}): {e}", uid.as_raw()))?;
        // Changing ids made us non-dumpable, which would make /proc/self/uid_map root's.
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::Dumpable)
            .map_err(|e| format!("prctl(PR_SET_DUMPABLE): {e}"))?;
    }
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| format!("prctl(PR_SET_PDEATHSIG): {e}"))?;
    if rustix::process::getppid().map(|p| p.as_raw_nonzero().get()) != Some(plan.host_pid) {
        return Err("the host exited while the worker was starting".into());
    }
    Ok(())
}

/// Becomes the unprivileged jail user (when the host is root), checks the host is still the
/// parent, and enters new namespaces with a one-to-one uid/gid map.
fn enter_namespaces(plan: &Plan) -> Result<(), String> {
    use rustix::thread::UnshareFlags;
    become_unprivileged(plan)?;
    let euid = rustix::process::geteuid().as_raw();
    let egid = rustix::process::getegid().as_raw();
    let flags = UnshareFlags::NEWUSER
        | UnshareFlags::NEWNS
        | UnshareFlags::NEWPID
        | UnshareFlags::NEWNET
        | UnshareFlags::NEWIPC
        | UnshareFlags::NEWUTS
        | UnshareFlags::NEWCGROUP;
    // SAFETY: no CLONE_FILES/CLONE_FS sharing is involved: the process is single-threaded.
    unsafe { rustix::thread::unshare_unsafe(flags) }
        .map_err(|e| format!("unshare(CLONE_NEWUSER|NEWNS|NEWPID|NEWNET|...) failed: {e}"))?;
    let write = |file: &str, text: String| {
        std::fs::write(file, &text).map_err(|e| format!("writing {text:?} to {file}: {e}"))
    };
    write("/proc/self/setgroups", "deny".into())?;
    write(
        "/proc/self/uid_map",
        format!("{} {euid} 1\n", plan.jail_uid),
    )?;
    write(
        "/proc/self/gid_map",
        format!("{} {egid} 1\n", plan.jail_gid),
    )?;
    Ok(())
}
