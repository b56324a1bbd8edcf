//! Starting a worker: the host executable re-run in worker mode.
//!
//! The worker is `/proc/self/exe` started with one environment variable, which a startup hook
//! of this crate (an `.init_array` function, run by the C runtime before `main` in every
//! program that links the crate) recognises; the hook then runs the worker and never returns
//! to the program's own `main`. See the crate docs for why this design.
//!
//! It is spawned from one long-lived thread: `PR_SET_PDEATHSIG` fires when the *thread* that
//! forked the child exits, so forking from a tokio worker or blocking-pool thread (which exit
//! when idle) would kill sandboxes at random.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

/// The variable that puts the executable in worker mode; its value is the socket's fd number.
pub(crate) const WORKER_ENV: &str = "ATLAS_SANDBOX_JAIL_WORKER";
/// The worker's `argv[0]`, as `ps` shows it.
pub(crate) const WORKER_ARGV0: &str = "atlas-jail-worker";

static HOOK_RAN: AtomicBool = AtomicBool::new(false);

/// Whether the startup hook ran in this process, i.e. whether `/proc/self/exe` is a program
/// that can become a worker. It is false when the crate was loaded from a shared library
/// after the program started (language bindings), where the executable is someone else's.
/// Which file the hook lives in is asked only here, when a worker is about to be started, not
/// at every start of the program (reading `/proc/self/maps` of a large binary costs a one-shot
/// command a noticeable part of its time).
pub(crate) fn hook_ran() -> bool {
    static IN_MAIN: OnceLock<bool> = OnceLock::new();
    HOOK_RAN.load(Ordering::Relaxed) && *IN_MAIN.get_or_init(in_main_executable)
}

#[used]
#[unsafe(link_section = ".init_array")]
static STARTUP_HOOK: extern "C" fn() = startup_hook;

extern "C" fn startup_hook() {
    // Only an executable's own init functions run before `main`; a shared library's run at
    // dlopen, when the executable is not ours to re-run.
    HOOK_RAN.store(true, Ordering::Relaxed);
    if let Some(fd) = std::env::var_os(WORKER_ENV) {
        if !in_main_executable() {
            return;
        }
        // SAFETY: before `main`, in a process that has started no thread.
        unsafe { std::env::remove_var(WORKER_ENV) };
        // A panic must not unwind into the C runtime.
        let _ = std::panic::catch_unwind(|| crate::worker::main(fd));
        crate::exit_now(70);
    }
}

/// Whether this code is part of the main executable (not a shared library loaded into it):
/// the hook's own address lies in the same mapped file as the program's entry point.
fn in_main_executable() -> bool {
    // AT_ENTRY is the executable's entry point; a shared library maps elsewhere.
    // SAFETY: getauxval has no preconditions.
    let entry = unsafe { libc::getauxval(libc::AT_ENTRY) } as usize;
    let me = startup_hook as *const () as usize;
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return false;
    };
    let file_of = |addr: usize| {
        maps.lines().find_map(|line| {
            let mut it = line.split_whitespace();
            let range = it.next()?;
            let (lo, hi) = range.split_once('-')?;
            let (lo, hi) = (
                usize::from_str_radix(lo, 16).ok()?,
                usize::from_str_radix(hi, 16).ok()?,
            );
            if (lo..hi).contains(&addr) {
                let path = it.nth(4)?;
                Some(path.to_owned())
            } else {
                None
            }
        })
    };
    match (file_of(entry), file_of(me)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

struct Job {
    sock: OwnedFd,
    cwd: PathBuf,
    reply: tokio::sync::oneshot::Sender<io::Result<Child>>,
}

fn spawner() -> &'static mpsc::Sender<Job> {
    static SPAWNER: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        // Lives as long as the process: it is the parent thread of every worker.
        let _ = std::thread::Builder::new()
            .name("atlas-jail-spawner".into())
            .spawn(move || {
                for job in rx {
                    let r = start(&job.sock, &job.cwd);
                    drop(job.sock);
                    let _ = job.reply.send(r);
                }
            });
        tx
    })
}

/// Starts a worker whose end of the socketpair is `sock`, with `cwd` (the semantic root) as its
/// working directory.
pub(crate) async fn spawn_worker(sock: OwnedFd, cwd: PathBuf) -> io::Result<Child> {
    let (reply, rx) = tokio::sync::oneshot::channel();
    spawner()
        .send(Job { sock, cwd, reply })
        .map_err(|_| io::Error::other("the jail spawner thread is gone"))?;
    rx.await
        .map_err(|_| io::Error::other("the jail spawner thread dropped the request"))?
}

// The worker is a long-lived process talking over a socket, not a command run to completion
// under a deadline, so the SDK's runner (the one sanctioned spawner) does not fit; this is the
// only other spawn in the workspace.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
fn start(sock: &OwnedFd, cwd: &std::path::Path) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let raw = sock.as_raw_fd();
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg0(WORKER_ARGV0)
        .env_clear()
        .env(WORKER_ENV, raw.to_string())
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec the closure makes two async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(move || {
            // The worker's end crosses exec; every other descriptor stays close-on-exec.
            let fd = std::os::fd::BorrowedFd::borrow_raw(raw);
            rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            Ok(())
        });
    }
    cmd.spawn()
}
