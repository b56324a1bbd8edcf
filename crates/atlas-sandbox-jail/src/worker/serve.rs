//! The jail's init: builds and confines the jail, then serves requests until the host goes.
//!
//! One thread, one `poll` over the host's socket and a signalfd for SIGCHLD. Each exec is a
//! fork: the child starts its own session (so its own process group, and no terminal), takes
//! the two pipe ends the host sent as stdout and stderr, gets the command rlimits and execs
//! `/bin/bash -c`. When it exits, the init kills its group (background jobs die with the
//! command); when no command is left running, it kills every other process of the namespace
//! (anything that escaped its group), which only pid 1 of a pid namespace can do safely.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, killpg, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

use super::{confine, engine, mount, recv, send};
use crate::protocol::{MAX_MESSAGE, Plan, PlanEngine, Reply, Request};
use crate::seccomp;

/// The shell every command runs in.
pub(crate) const SHELL: &str = "/bin/bash";
/// The whole environment of a command, the same on every backend
/// (`atlas_sandbox_sdk::COMMAND_ENV`): nothing of the host's reaches it.
fn command_env() -> Vec<CString> {
    atlas_sandbox_sdk::COMMAND_ENV
        .iter()
        .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
        .collect()
}
/// The jail's host name.
const HOSTNAME: &str = "atlas-jail";

/// Builds the jail, reports ready, serves. Returns the init's exit code.
pub(crate) fn init(sock: OwnedFd, plan: &Plan, lower: Option<OwnedFd>) -> i32 {
    // The keeper dies with the host; the init dies with the keeper.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let address_space = engine::address_space_now();
    if matches!(plan.engine, PlanEngine::JustBash(_)) {
        // Before Landlock hides /proc; the interpreter's process is a fork of this one (the
        // same stack), so the bounds learnt here hold there.
        atlas_sandbox_just_bash::learn_stack_bounds();
    }
    let landlock = match setup(plan, lower) {
        Ok(l) => l,
        Err(message) => {
            let _ = send(sock.as_fd(), &Reply::SetupFailed { message }.encode(), &[]);
            return 1;
        }
    };
    match &plan.engine {
        PlanEngine::Bash => {
            if send(sock.as_fd(), &Reply::Ready { landlock }.encode(), &[]).is_err() {
                return 1;
            }
            serve(sock.as_fd(), plan)
        }
        PlanEngine::JustBash(config) => {
            // SAFETY: the init is single-threaded.
            match unsafe { nix::unistd::fork() } {
                Ok(ForkResult::Child) => {
                    let _ = rustix::process::set_parent_process_death_signal(Some(
                        rustix::process::Signal::KILL,
                    ));
                    let code = engine::run(
                        sock,
                        plan,
                        config,
                        std::path::Path::new(mount::SEMANTIC),
                        address_space,
                        landlock,
                    );
                    crate::exit_now(code)
                }
                Ok(ForkResult::Parent { child }) => {
                    // The host sees EOF when the interpreter's process ends, however it ends.
                    drop(sock);
                    wait_for(child)
                }
                Err(e) => {
                    let message = format!("fork of the interpreter process failed: {e}");
                    let _ = send(sock.as_fd(), &Reply::SetupFailed { message }.encode(), &[]);
                    1
                }
            }
        }
    }
}

/// Waits for the jail's one long-lived child; its end is the jail's end.
fn wait_for(child: Pid) -> i32 {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, c)) => return c,
            Ok(WaitStatus::Signaled(_, s, _)) => return 128 + s as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 1,
        }
    }
}

fn setup(plan: &Plan, lower: Option<OwnedFd>) -> Result<String, String> {
    // Compiled before anything is confined: this is ordinary allocation and CPU work.
    let filters = seccomp::programs().map_err(|e| format!("seccomp filter: {e}"))?;
    mount::build(plan, lower)?;
    rustix::system::sethostname(HOSTNAME.as_bytes()).map_err(|e| format!("sethostname: {e}"))?;
    confine::drop_capabilities()?;
    rustix::thread::set_no_new_privs(true).map_err(|e| format!("no_new_privs: {e}"))?;
    // A command must not read the init's memory through /proc (it runs as the same uid).
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| format!("prctl(PR_SET_DUMPABLE, 0): {e}"))?;
    let landlock = confine::landlock(plan)?;
    seccomp::install(&filters).map_err(|e| format!("seccomp: {e}"))?;
    Ok(landlock)
}

fn serve(sock: BorrowedFd<'_>, plan: &Plan) -> i32 {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    if sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).is_err() {
        return 1;
    }
    let Ok(sfd) = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
    else {
        return 1;
    };
    let mut buf = vec![0u8; MAX_MESSAGE];
    // Running commands: leader pid → exec id, and whether it was started without bash.
    let mut running: HashMap<Pid, (u64, bool)> = HashMap::new();
    loop {
        let mut fds = [
            rustix::event::PollFd::new(&sock, rustix::event::PollFlags::IN),
            rustix::event::PollFd::new(&sfd, rustix::event::PollFlags::IN),
        ];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => return 1,
        }
        let sock_ready = !fds[0].revents().is_empty();
        let child_ready = !fds[1].revents().is_empty();
        if child_ready {
            while let Ok(Some(_)) = sfd.read_signal() {}
            reap(sock, &mut running);
        }
        if sock_ready {
            match recv(sock, &mut buf) {
                Ok(Some((n, fds))) => match Request::decode(&buf[..n]) {
                    Some(Request::Exec {
                        id, cwd, command, ..
                    }) => spawn(sock, plan, &mut running, id, &cwd, &command, fds),
                    Some(Request::Kill { id }) => {
                        if let Some((pid, _)) = running.iter().find(|(_, (i, _))| *i == id) {
                            let _ = killpg(*pid, Signal::SIGKILL);
                        }
                    }
                    // One jail per bash worker: there is no other session to forget.
                    Some(Request::Forget { .. }) | None => {}
                },
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                // EOF or a broken socket: the host closed the sandbox or died.
                Ok(None) | Err(_) => {
                    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
                    return 0;
                }
            }
        }
    }
}

fn reap(sock: BorrowedFd<'_>, running: &mut HashMap<Pid, (u64, bool)>) {
    // Every process of the namespace descends from this init (an orphan is re-parented to
    // it), so "no child at all" means nothing else is left to kill.
    let mut none_left = false;
    loop {
        let (pid, code, signal) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, c)) => (pid, Some(c), None),
            Ok(WaitStatus::Signaled(pid, s, _)) => (pid, None, Some(s as i32)),
            Err(nix::errno::Errno::ECHILD) => {
                none_left = true;
                break;
            }
            Ok(WaitStatus::StillAlive) | Err(_) => break,
            Ok(_) => continue,
        };
        if let Some((id, direct)) = running.remove(&pid) {
            // Background jobs of the command die with it.
            let _ = killpg(pid, Signal::SIGKILL);
            let reply = Reply::Exited {
                id,
                code,
                signal,
                timed_out: false,
                direct,
            };
            let _ = send(sock, &reply.encode(), &[]);
        }
    }
    if running.is_empty() && !none_left {
        // Whatever left its process group (setsid, a double fork) goes when the jail is idle.
        // (`kill(-1)` walks every process of the machine to find this namespace's.)
        let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
    }
}

fn spawn(
    sock: BorrowedFd<'_>,
    plan: &Plan,
    running: &mut HashMap<Pid, (u64, bool)>,
    id: u64,
    cwd: &str,
    command: &str,
    fds: Vec<OwnedFd>,
) {
    let failed = |message: String| {
        let _ = send(sock, &Reply::SpawnFailed { id, message }.encode(), &[]);
    };
    let [out, err] = match <[OwnedFd; 2]>::try_from(fds) {
        Ok(pair) => pair,
        Err(_) => return failed("the request did not carry stdout and stderr".into()),
    };
    let dir = if cwd.is_empty() {
        mount::SEMANTIC.to_owned()
    } else {
        format!("{}/{cwd}", mount::SEMANTIC)
    };
    let (Ok(dir), Ok(command), Ok(shell)) = (
        CString::new(dir),
        CString::new(command),
        CString::new(SHELL),
    ) else {
        return failed("the command or cwd contains a NUL byte".into());
    };
    // `$0` is the shell's path, as when bash is started by path (`/bin/bash -c`) elsewhere.
    let argv = [shell.clone(), c"-c".to_owned(), command];
    let env = command_env();
    // Planned before the clone: the child only makes system calls.
    let direct = direct_start(plan, argv[2].to_str().unwrap_or_default(), &dir);
    let child = Child {
        plan,
        out: &out,
        err: &err,
        dir: &dir,
        direct: direct.as_ref(),
        bash: Exec {
            program: &shell,
            argv: &argv,
            env: &env,
        },
    };
    match start(&child) {
        Ok(pid) => {
            running.insert(pid, (id, direct.is_some()));
        }
        Err(e) => failed(format!("clone: {e}")),
    }
}

/// What the child needs to become the command.
struct Child<'a> {
    plan: &'a Plan,
    out: &'a OwnedFd,
    err: &'a OwnedFd,
    dir: &'a CString,
    direct: Option<&'a Direct>,
    bash: Exec<'a>,
}

/// Starts the command with `clone(CLONE_VM | CLONE_VFORK)`: a fork would copy the worker's page
/// tables (it maps the whole host binary) for a child that execs at once, about a tenth of a
/// command's CPU. Sharing memory is safe here: the worker is single-threaded and stays suspended
/// until the child has exec'd or exited, it blocks SIGCHLD into a signalfd and installs no
/// handler, and the child only makes system calls (its error paths allocate a message, which at
/// worst leaks a few bytes of the worker's heap).
#[allow(unsafe_code)]
fn start(child: &Child<'_>) -> nix::Result<Pid> {
    extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `arg` is the `Child` that `start` keeps alive until this process execs or
        // exits (CLONE_VFORK).
        let c = unsafe { &*arg.cast::<Child<'_>>() };
        let bash = Exec {
            program: c.bash.program,
            argv: c.bash.argv,
            env: c.bash.env,
        };
        crate::exit_now(exec_command(c.plan, c.out, c.err, c.dir, c.direct, bash))
    }
    // SAFETY: see the function's comment; `child` outlives the call.
    let pid = unsafe {
        atlas_sandbox_sdk::process::clone_vfork(
            child_main,
            std::ptr::from_ref(child).cast_mut().cast(),
        )
    };
    pid.map(Pid::from_raw)
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// A program to exec with its words and environment.
struct Exec<'a> {
    program: &'a CString,
    argv: &'a [CString],
    env: &'a [CString],
}

/// A line bash would run as one external program, ready to exec without bash (see
/// `atlas_sandbox_sdk::process::direct`): the program, its words, and bash's environment for it
/// (the command environment plus `PWD` of `dir`, `SHLVL` and `_`).
struct Direct {
    program: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
}

fn direct_start(plan: &Plan, line: &str, dir: &CString) -> Option<Direct> {
    let d = plan.direct.as_ref()?;
    let path = atlas_sandbox_sdk::COMMAND_ENV
        .iter()
        .find(|(k, _)| *k == "PATH")
        .map_or("/usr/bin:/bin", |(_, v)| *v);
    // The search runs here, in the jail's own mount namespace: what it finds is what bash
    // would find.
    let planned = d.plan(line, path)?;
    let given: Vec<(std::ffi::OsString, std::ffi::OsString)> = atlas_sandbox_sdk::COMMAND_ENV
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    let dir = std::path::Path::new(std::ffi::OsStr::from_bytes(dir.as_bytes()));
    let env = d.environment(&planned, &given, dir)?;
    let cstr = |b: &[u8]| CString::new(b).ok();
    Some(Direct {
        program: cstr(planned.program.as_os_str().as_bytes())?,
        argv: planned
            .argv
            .iter()
            .map(|w| cstr(w.as_bytes()))
            .collect::<Option<_>>()?,
        env: env
            .iter()
            .map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                cstr(&kv)
            })
            .collect::<Option<_>>()?,
    })
}

/// In the cloned child: becomes the command (the planned program when there is one, else
/// bash). Returns only on failure (the exit code).
fn exec_command(
    plan: &Plan,
    out: &OwnedFd,
    err: &OwnedFd,
    dir: &CString,
    direct: Option<&Direct>,
    bash: Exec<'_>,
) -> i32 {
    let complain = |msg: &str| {
        let _ = rustix::io::write(err, msg.as_bytes());
    };
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    if rustix::process::setsid().is_err() {
        complain("atlas-sandbox-jail: setsid failed\n");
        return 126;
    }
    // Close-on-exec: only its copy on fd 0 reaches the command (as in bash, whose commands
    // start with 0-2 alone; seen as a stray fd 6 in `ls /proc/self/fd`).
    let null = match rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            complain(&format!("atlas-sandbox-jail: /dev/null: {e}\n"));
            return 126;
        }
    };
    // The received fds are never 0-2: the worker's own standard streams hold those numbers.
    if nix::unistd::dup2_stdin(&null).is_err()
        || nix::unistd::dup2_stdout(out).is_err()
        || nix::unistd::dup2_stderr(err).is_err()
    {
        return 126;
    }
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    if let Err(e) = confine::command_rlimits(plan) {
        complain(&format!("atlas-sandbox-jail: setrlimit: {e}\n"));
        return 126;
    }
    if let Err(e) = rustix::process::chdir(dir.as_c_str()) {
        complain(&format!("bash: cd: {}: {e}\n", dir.to_string_lossy()));
        return 1;
    }
    if let Some(d) = direct {
        // Whatever stops the program from starting (a script without `#!`, a file removed
        // since the search) is bash's to handle and report, as it would have.
        let _ = nix::unistd::execve(&d.program, &d.argv, &d.env);
    }
    let e = nix::unistd::execve(bash.program, bash.argv, bash.env).unwrap_err();
    complain(&format!(
        "atlas-sandbox-jail: cannot execute {SHELL}: {e}\n"
    ));
    127
}
