//! Starting a child without copying the host's address space.
//!
//! `fork` of a multi-threaded host copies its page tables and turns every page the host's other
//! threads write next into a copy-on-write fault, in both processes, until the child execs: on
//! the sidecar that was 0.2 ms of kernel time per command, a third of the server's whole cost.
//! `posix_spawn` avoids it with `clone(CLONE_VM | CLONE_VFORK)`, but cannot set the parent-death
//! signal, which is what makes a host killed by SIGKILL take its commands with it (escape
//! checklist T1). So this does what `posix_spawn` does, plus that one step.
//!
//! The child shares the host's memory until `execve`, so it runs only async-signal-safe libc
//! calls on data the parent prepared, and the parent's calling thread is suspended meanwhile.

use std::ffi::{CString, OsStr, c_int, c_void};
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use rustix::process::{WaitId, WaitIdOptions};
use tokio::io::unix::AsyncFd;
use tokio::net::unix::pipe;

use super::ProcessSpec;

/// The child's stack while it shares the host's memory: it only makes a few libc calls.
const STACK_BYTES: usize = 64 * 1024;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Exit {
    /// The exit code, when it exited by itself.
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

/// A started child: its process id and a pidfd to wait on.
/// Dropping it before it was waited for kills it and reaps it in the background.
pub(super) struct Child {
    pid: i32,
    pidfd: Option<AsyncFd<OwnedFd>>,
    exit: Option<Exit>,
}

/// A started child with the read ends of its stdout and stderr.
pub(super) type Started = (Child, pipe::Receiver, pipe::Receiver);

/// What the child needs, all prepared by the parent: pointers into the vectors the parent keeps
/// alive until the child has exec'd or exited.
#[repr(C)]
struct ChildArgs {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    cwd: *const libc::c_char,
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
    /// Descriptors the child gets as 3, 4, ... (all above 2 + `keep_len`, see `spawn`).
    keep: *const RawFd,
    keep_len: usize,
    parent: libc::pid_t,
    /// Namespace descriptors to `setns` into, in order (`ns_len` of them).
    ns: *const RawFd,
    ns_len: usize,
    /// The errno of the step that failed in the child (0: it exec'd). Shared memory under
    /// `CLONE_VM`, read by the parent once `CLONE_VFORK` lets it go on.
    error: AtomicI32,
}

impl Child {
    /// The process id (also its process group id).
    pub(super) fn id(&self) -> i32 {
        self.pid
    }

    /// Waits for the child to end and reaps it; later calls return the same answer.
    pub(super) async fn wait(&mut self) -> io::Result<Exit> {
        if let Some(e) = self.exit {
            return Ok(e);
        }
        let fd = self
            .pidfd
            .as_ref()
            .ok_or_else(|| io::Error::other("the child was already reaped"))?;
        loop {
            let mut ready = fd.readable().await?;
            let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG;
            match rustix::process::waitid(WaitId::PidFd(fd.get_ref().as_fd()), options) {
                Ok(Some(status)) => {
                    let exit = Exit {
                        code: status.exit_status(),
                        signal: status.terminating_signal(),
                    };
                    self.exit = Some(exit);
                    return Ok(exit);
                }
                Ok(None) => ready.clear_ready(),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.exit.is_some() {
            return;
        }
        let Some(fd) = self.pidfd.take() else {
            return;
        };
        let fd = fd.into_inner();
        // ESRCH: it is already a zombie; it still needs reaping.
        let _ = rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL);
        let reap = move || {
            let _ = rustix::process::waitid(WaitId::PidFd(fd.as_fd()), WaitIdOptions::EXITED);
        };
        // A SIGKILLed child is reaped within microseconds, but not on this thread: the caller
        // may be an async task being cancelled.
        match tokio::runtime::Handle::try_current() {
            Ok(h) => drop(h.spawn_blocking(reap)),
            Err(_) => drop(std::thread::spawn(reap)),
        }
    }
}

/// Starts `spec`: a clean environment, stdin from `/dev/null`, stdout and stderr into fresh
/// pipes that any uid may reopen (a command running as a jail's uid reopens `/dev/stdout`), no
/// other descriptor, its own process group, all signals at their defaults and unblocked, and SIGKILL when the host
/// thread that started it dies.
#[allow(unsafe_code)]
pub(super) fn spawn(spec: &ProcessSpec) -> io::Result<Started> {
    let program = cstring(resolve(spec)?.as_os_str())?;
    let arg0 = spec
        .arg0
        .as_deref()
        .unwrap_or_else(|| spec.program.as_os_str());
    let argv: Vec<CString> = std::iter::once(arg0)
        .chain(spec.args.iter().map(|a| a.as_os_str()))
        .map(cstring)
        .collect::<io::Result<_>>()?;
    let envp: Vec<CString> = spec
        .env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).map_err(|_| nul_error())
        })
        .collect::<io::Result<_>>()?;
    let cwd = spec
        .cwd
        .as_deref()
        .map(|d| cstring(d.as_os_str()))
        .transpose()?;
    let ns: Vec<RawFd> = spec.namespaces.iter().map(|f| f.as_raw_fd()).collect();
    let argv_ptrs = null_terminated(&argv);
    let envp_ptrs = null_terminated(&envp);

    // Moved above the numbers they are given in the child, so that no dup2 there overwrites
    // one still to be moved.
    let floor = 3 + spec.pass_fds.len() as RawFd;
    let keep_owned: Vec<OwnedFd> = spec
        .pass_fds
        .iter()
        .map(|f| rustix::io::fcntl_dupfd_cloexec(f.as_fd(), floor).map_err(io::Error::from))
        .collect::<io::Result<_>>()?;
    let keep: Vec<RawFd> = keep_owned.iter().map(AsRawFd::as_raw_fd).collect();
    let stdin = above_stdio(std::fs::File::open("/dev/null")?.into())?;
    let (out_r, out_w) = pipe_pair()?;
    let (err_r, err_w) = pipe_pair()?;
    // Mode 0622 on the pipe inodes (one per pipe, shared by both ends): the command may run as
    // another uid and reopen its own stdout through /proc/self/fd/1, as under plain bash.
    let writable = nix::sys::stat::Mode::from_bits_truncate(0o622);
    nix::sys::stat::fchmod(&out_w, writable).map_err(io::Error::from)?;
    nix::sys::stat::fchmod(&err_w, writable).map_err(io::Error::from)?;

    let args = ChildArgs {
        program: program.as_ptr(),
        argv: argv_ptrs.as_ptr(),
        envp: envp_ptrs.as_ptr(),
        cwd: cwd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        stdin: stdin.as_raw_fd(),
        stdout: out_w.as_raw_fd(),
        stderr: err_w.as_raw_fd(),
        keep: keep.as_ptr(),
        keep_len: keep.len(),
        parent: std::process::id() as libc::pid_t,
        ns: ns.as_ptr(),
        ns_len: ns.len(),
        error: AtomicI32::new(0),
    };
    // SAFETY: `child_main` only makes async-signal-safe calls on `args`, which lives (with
    // everything it points to) until this call returns.
    let pid = with_signals_blocked(|| unsafe {
        clone_vfork(child_main, std::ptr::from_ref(&args).cast_mut().cast())
    })?;
    let failed = args.error.load(Ordering::Acquire);
    if failed != 0 {
        // It exited with 127 before exec; reap it so no zombie stays.
        let _ = rustix::process::waitpid(
            rustix::process::Pid::from_raw(pid),
            rustix::process::WaitOptions::empty(),
        );
        return Err(io::Error::from_raw_os_error(failed));
    }
    // The child's ends close here: it holds its own copies.
    drop((stdin, out_w, err_w, keep_owned));
    // The pid cannot be reused before it is reaped, so the pidfd names this child.
    let pidfd = match rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| io::Error::other("clone returned pid 0"))
        .and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())
                .map_err(io::Error::from)
        }) {
        Ok(fd) => fd,
        Err(e) => {
            // SAFETY: our own unreaped child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            return Err(e);
        }
    };
    // SAFETY: an OwnedFd keeps its descriptor open and the same until dropped.
    let pidfd = unsafe { AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE) }
        .map_err(io::Error::from)?;
    let child = Child {
        pid,
        pidfd: Some(pidfd),
        exit: None,
    };
    Ok((
        child,
        pipe::Receiver::from_owned_fd(out_r)?,
        pipe::Receiver::from_owned_fd(err_r)?,
    ))
}

/// Runs `f` with every signal blocked on this thread, then restores its mask. Around a
/// [`clone_vfork`] in a host with signal handlers: every signal stays blocked from before the
/// clone until the child has put all handlers back to their defaults (and unblocks them itself
/// before its exec), so a host handler never runs on the child's stack in shared memory.
#[allow(unsafe_code)]
pub fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: plain signal-mask calls on locals; the saved mask is this thread's own.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let r = f();
    // SAFETY: restores the mask saved above.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
    r
}

/// Runs `child_main(arg)` in a new child process that shares this process's memory until it
/// execs or exits, on a stack of its own, and returns its pid once it has (`CLONE_VFORK`
/// suspends the calling thread until then). `SIGCHLD` reports its end. What `posix_spawn` does,
/// for callers that need a step it cannot take.
///
/// # Safety
/// `child_main` runs in this process's memory while other threads go on: it may only make
/// async-signal-safe calls, must end in `execve` or `_exit`, and must not return into Rust code
/// of the caller. `arg` must stay valid until this returns. Signals a handler of this process
/// could catch in the child must be blocked around the call by the caller, if it has handlers.
pub unsafe fn clone_vfork(
    child_main: extern "C" fn(*mut c_void) -> c_int,
    arg: *mut c_void,
) -> io::Result<i32> {
    // Never read as values, so left uninitialised: zeroing it cost page faults on every spawn.
    let mut stack: Vec<u8> = Vec::with_capacity(STACK_BYTES);
    // SAFETY: the end of our own buffer, rounded down to the 16 bytes the ABI wants; the buffer
    // outlives the child's use of it (CLONE_VFORK returns once the child exec'd or exited).
    let top = unsafe { stack.as_mut_ptr().add(STACK_BYTES) };
    let top = (top as usize & !15) as *mut c_void;
    // SAFETY: the caller's promises above.
    let pid = unsafe {
        libc::clone(
            child_main,
            top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            arg,
        )
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    drop(stack);
    Ok(pid)
}

/// The child, between clone and exec, in the host's memory.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the parent's `ChildArgs`, alive until this process execs or exits. Every
    // call below is async-signal-safe and touches only that data and this stack.
    unsafe {
        let a = &*arg.cast::<ChildArgs>();
        let fail = |a: &ChildArgs| -> c_int {
            a.error.store(*libc::__errno_location(), Ordering::Release);
            libc::_exit(127)
        };
        // Handlers the host installed, and signals it ignores (SIGPIPE, and 32 which the C
        // library's own wrapper will not touch), must not carry into the command: `yes | head
        // -1` needs SIGPIPE's default. The raw call takes the kernel's struct; all zeros is
        // SIG_DFL, no flags, an empty mask, whatever the architecture's field order.
        let dfl = [0u64; 4];
        for sig in 1..=64 {
            libc::syscall(libc::SYS_rt_sigaction, sig, dfl.as_ptr(), 0usize, 8usize);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        if libc::setpgid(0, 0) != 0 {
            return fail(a);
        }
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return fail(a);
        }
        // The host died between clone and prctl: nobody would kill this command later.
        if libc::getppid() != a.parent {
            libc::_exit(127);
        }
        // Before close_range, which closes these descriptors. Possible here: this child has
        // its own thread group and filesystem context (no CLONE_THREAD, no CLONE_FS).
        for i in 0..a.ns_len {
            if libc::setns(*a.ns.add(i), 0) != 0 {
                return fail(a);
            }
        }
        for (from, to) in [(a.stdin, 0), (a.stdout, 1), (a.stderr, 2)] {
            if libc::dup2(from, to) < 0 {
                return fail(a);
            }
        }
        // The descriptors the spec passes, as 3, 4, ...: each source is above all of those
        // numbers, so none is overwritten before it is moved. dup2 leaves the copy open
        // across exec.
        for i in 0..a.keep_len {
            if libc::dup2(*a.keep.add(i), 3 + i as c_int) < 0 {
                return fail(a);
            }
        }
        // A descriptor the host inherited without close-on-exec (a jobserver pipe, whatever the
        // host's own parent passed) must not reach the command.
        let first = 3 + a.keep_len as u32;
        if libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) != 0 {
            for fd in first as c_int..4096 {
                libc::close(fd);
            }
        }
        if !a.cwd.is_null() && libc::chdir(a.cwd) != 0 {
            return fail(a);
        }
        if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
            return fail(a);
        }
        libc::execve(a.program, a.argv, a.envp);
        fail(a)
    }
}

/// The program to exec: a name without a slash is looked up on the spec's `PATH` (the
/// command's environment), else the host's, as `Command` does.
fn resolve(spec: &ProcessSpec) -> io::Result<PathBuf> {
    let p = &spec.program;
    if p.as_os_str().as_bytes().contains(&b'/') {
        return Ok(p.clone());
    }
    let own = spec
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone());
    let path = own.or_else(|| std::env::var_os("PATH"));
    super::find_in_path(&p.to_string_lossy(), path.as_deref()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{}: not found on PATH", Path::new(p).display()),
        )
    })
}

fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| nul_error())
}

fn nul_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "an argument, variable or path holds a NUL byte",
    )
}

fn null_terminated(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// A close-on-exec pipe whose ends are not descriptors 0–2 (see [`above_stdio`]).
fn pipe_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    Ok((above_stdio(r)?, above_stdio(w)?))
}

/// A host started with 0, 1 or 2 closed hands those numbers out again; the child's `dup2` onto
/// the same number would then keep close-on-exec set and the command would start without that
/// stream.
#[allow(unsafe_code)]
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    let raw = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))
        .map_err(io::Error::from)?;
    // SAFETY: a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::process::{ProcessSpec, run};

    fn gone_or_zombie(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(s) => s
                .rsplit(") ")
                .next()
                .is_some_and(|rest| rest.starts_with('Z')),
        }
    }

    fn wait_until(what: impl Fn() -> bool) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if what() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[tokio::test]
    async fn the_child_starts_with_default_signals_and_only_its_three_streams() {
        let r =
            run(&ProcessSpec::new("/bin/grep").args(["-E", "^Sig(Ign|Blk)", "/proc/self/status"]))
                .await
                .unwrap();
        assert_eq!(
            r.output.stdout_str(),
            "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
        );
        // 3 is the directory ls reads.
        let r = run(&ProcessSpec::new("/bin/ls").args(["/proc/self/fd"]))
            .await
            .unwrap();
        assert_eq!(r.output.stdout_str(), "0\n1\n2\n3\n");
        let r = run(&ProcessSpec::new("/bin/sh")
            .args(["-c", "yes | head -2; echo \"${PIPESTATUS:-done}\""]))
        .await
        .unwrap();
        assert_eq!(r.output.stdout_str(), "y\ny\ndone\n");
    }

    #[tokio::test]
    async fn argv0_cwd_and_a_bare_name_on_the_commands_path() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ProcessSpec::new("sh")
            .arg0("named")
            .args(["-c", "echo \"$0 $(pwd)\""])
            .env("PATH", "/usr/bin:/bin")
            .cwd(dir.path());
        let r = run(&spec).await.unwrap();
        assert_eq!(
            r.output.stdout_str(),
            format!("named {}\n", dir.path().display())
        );
        let e = run(&ProcessSpec::new("/bin/true").cwd(dir.path().join("missing")))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = run(&ProcessSpec::new("no-such-program-here").env("PATH", "/usr/bin:/bin"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = run(&ProcessSpec::new("/bin/echo").arg("a\0b"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn the_child_dies_with_the_thread_that_started_it() {
        let pid = std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let (child, _, _) = spawn(&ProcessSpec::new("/bin/sleep").arg("30")).unwrap();
                let pid = child.id();
                // Not dropped: only the parent-death signal may end it.
                std::mem::forget(child);
                pid
            })
        })
        .join()
        .unwrap();
        assert!(
            wait_until(|| gone_or_zombie(pid)),
            "the child outlived its thread"
        );
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }

    #[tokio::test]
    async fn a_dropped_child_is_killed_and_reaped() {
        let (child, _, _) = spawn(&ProcessSpec::new("/bin/sleep").arg("30")).unwrap();
        let pid = child.id();
        drop(child);
        assert!(
            wait_until(|| std::fs::metadata(format!("/proc/{pid}")).is_err()),
            "the dropped child is still there"
        );
    }
}
