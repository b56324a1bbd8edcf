//! The just-bash engine of a worker: one long-lived process that runs the in-process
//! interpreter for every command of the sandbox, so the session's memory layer (files written
//! under `/tmp` or the layer) lasts as it does in-process, and a command costs no fork.
//!
//! One worker can hold the interpreters of several sessions over the same layer (the host's
//! `sessions_per_worker`): each has its own memory layer, keyed by the request's `session`, so
//! files stay in their session; they share the process's memory budget, its rlimits and its
//! fate. A worker costs megabytes (its own relocated copy of the program, a jail init), an
//! interpreter kilobytes, so 1,000 sessions fit in tens of workers rather than 1,000.
//!
//! In the jail it is a child of the jail's init, not the init itself: pid 1 of a pid namespace
//! ignores the signals an abort, an RLIMIT_CPU overrun or a stack overflow raise, and those
//! must end the worker (one session), never leave it wedged. In a plain worker (no user
//! namespaces) it is the worker process itself.
//!
//! Its bounds beyond the interpreter's own: RLIMIT_AS at the address space it started with plus
//! `memory_limit_mb` (an allocation past it aborts this process, which ends the session and
//! nothing else), RLIMIT_CPU re-armed before each command, no file descriptors beyond
//! `max_open_files`, no process at all (RLIMIT_NPROC 0 and a seccomp filter refusing
//! execve/clone/fork/socket).

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};
use rustix::process::{Resource, Rlimit};

use super::{recv, send};
use crate::protocol::{MAX_MESSAGE, OUTPUT_CHUNK, Plan, Reply, Request};
use crate::seccomp;

/// The process's address space now (VmSize), in bytes. Read before Landlock hides `/proc`.
pub(crate) fn address_space_now() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmSize:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn set(resource: Resource, current: Option<u64>, maximum: Option<u64>) -> Result<(), String> {
    rustix::process::setrlimit(resource, Rlimit { current, maximum })
        .map_err(|e| format!("setrlimit({resource:?}): {e}"))
}

/// Confines this process for the interpreter (after the jail's or the plain worker's own
/// confinement), builds the interpreter over `root`, reports ready and serves until EOF.
/// Returns the exit code.
pub(crate) fn run(
    sock: OwnedFd,
    plan: &Plan,
    config: &JustBashConfig,
    root: &Path,
    address_space: u64,
    landlock: String,
) -> i32 {
    let sock_fd = sock.as_fd();
    let engine = match prepare(plan, config, root, address_space) {
        Ok(e) => e,
        Err(message) => {
            let _ = send(sock_fd, &Reply::SetupFailed { message }.encode(), &[]);
            return 1;
        }
    };
    if send(sock_fd, &Reply::Ready { landlock }.encode(), &[]).is_err() {
        return 1;
    }
    serve(sock_fd, plan, config, root, engine)
}

/// The most interpreters one worker holds, whatever the host asks (the host's own bound is
/// `sessions_per_worker`; this one keeps a confused host from growing the map without end).
const MAX_SESSIONS: usize = 4096;

fn prepare(
    plan: &Plan,
    config: &JustBashConfig,
    root: &Path,
    address_space: u64,
) -> Result<Engine, String> {
    // A write to a pipe whose reader went away (the caller stopped waiting) is an EPIPE
    // error for this loop, not the end of the session.
    // SAFETY: setting a signal's disposition to ignore has no preconditions.
    unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigIgn,
        )
    }
    .map_err(|e| format!("ignore SIGPIPE: {e}"))?;
    let engine = Engine::new(Some(root), config).map_err(|e| {
        format!(
            "the just-bash interpreter cannot open {}: {e}",
            root.display()
        )
    })?;
    let cap = address_space.saturating_add(plan.memory_limit_bytes);
    set(Resource::As, Some(cap), Some(cap))?;
    set(
        Resource::Nofile,
        Some(plan.max_open_files),
        Some(plan.max_open_files),
    )?;
    set(
        Resource::Fsize,
        Some(plan.max_file_size_bytes),
        Some(plan.max_file_size_bytes),
    )?;
    set(Resource::Nproc, Some(0), Some(0))?;
    set(Resource::Core, Some(0), Some(0))?;
    let filter = seccomp::interpreter_program().map_err(|e| format!("seccomp: {e}"))?;
    seccomp::install(&[filter]).map_err(|e| format!("seccomp: {e}"))?;
    Ok(engine)
}

/// CPU seconds this process has used so far.
fn cpu_used() -> u64 {
    use nix::sys::resource::{UsageWho, getrusage};
    use nix::sys::time::TimeValLike;
    getrusage(UsageWho::RUSAGE_SELF).map_or(0, |u| {
        (u.user_time().num_seconds() + u.system_time().num_seconds()).max(0) as u64 + 1
    })
}

fn serve(
    sock: BorrowedFd<'_>,
    plan: &Plan,
    config: &JustBashConfig,
    root: &Path,
    first: Engine,
) -> i32 {
    let mut buf = vec![0u8; MAX_MESSAGE];
    // The first session's interpreter was built (and the root checked) before `Ready`; the
    // others are built on their first command.
    let mut first = Some(first);
    let mut engines: HashMap<u64, Engine> = HashMap::new();
    loop {
        let (n, fds) = match recv(sock, &mut buf) {
            Ok(Some(got)) => got,
            Err(rustix::io::Errno::INTR) => continue,
            // EOF: the host closed the sandbox or died.
            Ok(None) => return 0,
            Err(_) => return 1,
        };
        let (id, session, cwd, command, timeout_ms, max_output) = match Request::decode(&buf[..n]) {
            Some(Request::Exec {
                id,
                session,
                cwd,
                command,
                timeout_ms,
                max_output,
            }) => (id, session, cwd, command, timeout_ms, max_output),
            Some(Request::Forget { session }) => {
                engines.remove(&session);
                continue;
            }
            // A kill for a command that already finished (this engine answers one at a time).
            Some(Request::Kill { .. }) | None => continue,
        };
        // No fds: the output goes back in `Output` replies.
        let pipes = match <[OwnedFd; 2]>::try_from(fds) {
            Ok(pair) => Some(pair),
            Err(fds) if fds.is_empty() => None,
            Err(_) => {
                let message = "the request carried neither both streams nor none".to_owned();
                let _ = send(sock, &Reply::SpawnFailed { id, message }.encode(), &[]);
                continue;
            }
        };
        // The soft limit is this command's share from now; the kernel's SIGXCPU ends the
        // worker when a command spins where the interpreter's own deadline cannot see it.
        let budget = cpu_used().saturating_add(plan.cpu_seconds);
        let _ = rustix::process::setrlimit(
            Resource::Cpu,
            Rlimit {
                current: Some(budget),
                maximum: None,
            },
        );
        if !engines.contains_key(&session) {
            let made = match first.take() {
                Some(e) => Ok(e),
                None if engines.len() >= MAX_SESSIONS => {
                    Err(format!("this worker already holds {MAX_SESSIONS} sessions"))
                }
                None => Engine::new(Some(root), config).map_err(|e| e.to_string()),
            };
            match made {
                Ok(e) => {
                    engines.insert(session, e);
                }
                Err(message) => {
                    let _ = send(sock, &Reply::SpawnFailed { id, message }.encode(), &[]);
                    continue;
                }
            }
        }
        let Some(engine) = engines.get(&session) else {
            continue;
        };
        let reply = match engine.exec_script(
            &command,
            &cwd,
            Duration::from_millis(timeout_ms),
            usize::MAX,
        ) {
            Ok(o) => {
                // One byte past the cap tells the host's buffer that the stream was cut.
                let keep = usize::try_from(max_output.saturating_add(1)).unwrap_or(usize::MAX);
                let stdout = &o.stdout[..o.stdout.len().min(keep)];
                let stderr = &o.stderr[..o.stderr.len().min(keep)];
                match &pipes {
                    Some([out, err]) => {
                        write_all(out, stdout);
                        write_all(err, stderr);
                    }
                    None => {
                        if send_output(sock, id, false, stdout).is_err()
                            || send_output(sock, id, true, stderr).is_err()
                        {
                            return 1;
                        }
                    }
                }
                Reply::Exited {
                    id,
                    code: Some(o.exit_code),
                    signal: None,
                    timed_out: o.timed_out,
                    direct: false,
                }
            }
            Err(e) => Reply::SpawnFailed {
                id,
                message: e.to_string(),
            },
        };
        drop(pipes);
        if send(sock, &reply.encode(), &[]).is_err() {
            return 1;
        }
    }
}

/// Sends one stream of exec `id` in `Output` replies (none for an empty stream).
fn send_output(sock: BorrowedFd<'_>, id: u64, stderr: bool, data: &[u8]) -> rustix::io::Result<()> {
    for chunk in data.chunks(OUTPUT_CHUNK) {
        let msg = Reply::Output {
            id,
            stderr,
            data: chunk.to_vec(),
        };
        send(sock, &msg.encode(), &[])?;
    }
    Ok(())
}

/// Writes what the reader takes; stops quietly when it went away.
fn write_all(fd: &OwnedFd, mut data: &[u8]) {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(0) => return,
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
    }
}
