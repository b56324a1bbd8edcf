//! Running a child process the way every spawning backend must: a clean environment, stdin from
//! `/dev/null`, its own process group, a deadline enforced here with sub-second precision,
//! stdout and stderr read concurrently under a byte cap, and the whole group killed on timeout,
//! on runaway output, when the child exits (no orphans) and when the caller gives up (drop).

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;

use crate::exec::{CappedBuffer, ExecOutput, TIMEOUT_EXIT_CODE};

pub mod direct;
mod spawn;

pub use spawn::{clone_vfork, with_signals_blocked};

pub use crate::exec::OVERFLOW_KILL_FACTOR;

/// How long to keep reading after the child exited and its group was killed, for processes that
/// left the group but still hold the pipes.
const DRAIN_GRACE: Duration = Duration::from_millis(200);

/// The most one read takes from a pipe (a full pipe buffer).
const READ_CHUNK: usize = 64 * 1024;

/// A child process to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// The program (absolute path preferred; `PATH` is the one in `env`, not the host's).
    pub program: PathBuf,
    /// `argv[0]` when it is not `program` (a program run as bash would run it: by the name typed).
    pub arg0: Option<OsString>,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// The whole environment: nothing of the host's is inherited.
    pub env: Vec<(OsString, OsString)>,
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// Wall-clock limit; the group is killed and the exit code is 124.
    pub timeout: Duration,
    /// Cap of each of stdout and stderr.
    pub max_output_bytes: usize,
    /// Where each chunk of output goes as it is read, besides the capped result (a server that
    /// streams output live). The runner waits for room in the channel, so a slow reader slows
    /// the child down, as a socket would; the deadline still applies while it waits.
    pub tap: Option<tokio::sync::mpsc::Sender<OutputChunk>>,
    /// Namespaces the child joins (`setns`, in this order) before anything else: descriptors of
    /// `/proc/<pid>/ns/<kind>` of a process that holds them. A user namespace goes first, so
    /// that the child has the capabilities to join the mount namespace it owns.
    pub namespaces: Vec<std::sync::Arc<std::os::fd::OwnedFd>>,
    /// Descriptors the child gets open as 3, 4, ... in this order (every other one above 2 is
    /// closed): a pipe it reads its configuration from, a file it logs to.
    pub pass_fds: Vec<std::sync::Arc<std::os::fd::OwnedFd>>,
}

/// Which stream a chunk of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One read from a child's stdout or stderr, as [`ProcessSpec::tap`] delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    /// The stream.
    pub stream: StreamKind,
    /// The bytes, uncapped.
    pub data: Vec<u8>,
}

impl ProcessSpec {
    /// A spec for `program` with no arguments, an empty environment and the SDK defaults.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        ProcessSpec {
            program: program.into(),
            arg0: None,
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            timeout: crate::exec::DEFAULT_TIMEOUT,
            max_output_bytes: crate::exec::DEFAULT_MAX_OUTPUT_BYTES,
            tap: None,
            namespaces: Vec::new(),
            pass_fds: Vec::new(),
        }
    }

    /// Passes `fd` to the child as the next descriptor from 3 up (see
    /// [`ProcessSpec::pass_fds`]).
    #[must_use]
    pub fn pass_fd(mut self, fd: std::sync::Arc<std::os::fd::OwnedFd>) -> Self {
        self.pass_fds.push(fd);
        self
    }

    /// Joins the namespace open at `fd` before the program starts (see
    /// [`ProcessSpec::namespaces`]).
    #[must_use]
    pub fn namespace(mut self, fd: std::sync::Arc<std::os::fd::OwnedFd>) -> Self {
        self.namespaces.push(fd);
        self
    }

    /// Sets `argv[0]` (by default the program's path).
    #[must_use]
    pub fn arg0(mut self, a: impl Into<OsString>) -> Self {
        self.arg0 = Some(a.into());
        self
    }

    /// Appends an argument.
    #[must_use]
    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Appends arguments.
    #[must_use]
    pub fn args<I, A>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets one environment variable.
    #[must_use]
    pub fn env(mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Sets the working directory.
    #[must_use]
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets the timeout.
    #[must_use]
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Sets the per-stream cap.
    #[must_use]
    pub fn max_output_bytes(mut self, n: usize) -> Self {
        self.max_output_bytes = n;
        self
    }

    /// Streams every chunk of output to `tap` as it is read (see [`ProcessSpec::tap`]).
    #[must_use]
    pub fn tap(mut self, tap: tokio::sync::mpsc::Sender<OutputChunk>) -> Self {
        self.tap = Some(tap);
        self
    }
}

/// Kills a process group when dropped, unless disarmed: a caller that stops awaiting (an HTTP
/// client that disconnected) must not leave the command running.
struct GroupGuard {
    pgid: Option<Pid>,
}

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid {
            // ESRCH just means the group is already gone.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What ended the run, beyond the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The child exited by itself.
    Exited,
    /// The deadline passed and the group was killed.
    TimedOut,
    /// Output went far past the cap and the group was killed.
    OutputOverflow,
}

/// The result of [`run`]: the capped output and what ended it.
#[derive(Debug, Clone)]
pub struct ProcessResult {
    /// The output (exit 124 and `timed_out` after a timeout).
    pub output: ExecOutput,
    /// What ended the run.
    pub ending: Ending,
    /// The raw wait status: `Some(code)` for an exit, `None` if killed by a signal.
    pub raw_code: Option<i32>,
    /// The signal that killed the child, if any.
    pub signal: Option<i32>,
}

/// Runs a child process to completion under the spec's limits. `Err` only when it cannot be
/// started (missing program, bad cwd) or its pipes fail.
pub async fn run(spec: &ProcessSpec) -> io::Result<ProcessResult> {
    finish(start(spec)?, spec).await
}

/// A child started by [`start`], not yet waited for. Dropping it kills it (and its group) and
/// reaps it.
pub struct StartedProcess {
    inner: Option<spawn::Started>,
}

impl std::fmt::Debug for StartedProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartedProcess")
            .field("pid", &self.inner.as_ref().map(|(c, _, _)| c.id()))
            .finish_non_exhaustive()
    }
}

impl Drop for StartedProcess {
    fn drop(&mut self) {
        // Its group first (it may have started others); the child's own drop then kills and
        // reaps it.
        if let Some((child, _, _)) = &self.inner {
            GroupGuard {
                pgid: Some(Pid::from_raw(child.id())),
            }
            .kill();
        }
    }
}

/// Starts `spec`'s child without waiting for it: for a caller that has the child start up
/// (load, link, read its arguments) while it prepares what the child then reads from a
/// descriptor it passed (see [`ProcessSpec::pass_fds`]). [`finish`] runs it to completion.
pub fn start(spec: &ProcessSpec) -> io::Result<StartedProcess> {
    Ok(StartedProcess {
        inner: Some(spawn::spawn(spec)?),
    })
}

/// Runs a child [`start`]ed earlier to completion under `spec`'s limits (its timeout counts
/// from now), as [`run`] does.
pub async fn finish(mut started: StartedProcess, spec: &ProcessSpec) -> io::Result<ProcessResult> {
    let start = Instant::now();
    let Some((mut child, mut stdout, mut stderr)) = started.inner.take() else {
        return Err(io::Error::other("the process was already finished"));
    };
    let mut guard = GroupGuard {
        pgid: Some(Pid::from_raw(child.id())),
    };
    let cap = spec.max_output_bytes;
    let kill_after = crate::exec::overflow_limit(cap);
    let mut out = CappedBuffer::new(cap);
    let mut err = CappedBuffer::new(cap);
    // Read into spare capacity: zeroing two fresh 64 KiB buffers per command cost page faults.
    let mut out_buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut err_buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let (mut out_open, mut err_open) = (true, true);
    let mut status = None;
    let mut ending = Ending::Exited;

    let deadline_at = tokio::time::Instant::now() + spec.timeout;
    let deadline = tokio::time::sleep_until(deadline_at);
    tokio::pin!(deadline);
    let mut tap = spec.tap.clone();
    let drain = tokio::time::sleep(Duration::from_secs(86_400));
    tokio::pin!(drain);
    let mut draining = false;

    loop {
        if status.is_some() && !out_open && !err_open {
            break;
        }
        tokio::select! {
            r = read_chunk(&mut stdout, &mut out_buf), if out_open => match r {
                Ok(0) | Err(_) => out_open = false,
                Ok(n) => {
                    out.push(&out_buf[..n]);
                    if forward(&mut tap, StreamKind::Stdout, &out_buf[..n], deadline_at).await
                        && ending == Ending::Exited
                        && status.is_none()
                    {
                        ending = Ending::TimedOut;
                        guard.kill();
                    }
                    if out.dropped() > kill_after && ending == Ending::Exited {
                        ending = Ending::OutputOverflow;
                        guard.kill();
                    }
                }
            },
            r = read_chunk(&mut stderr, &mut err_buf), if err_open => match r {
                Ok(0) | Err(_) => err_open = false,
                Ok(n) => {
                    err.push(&err_buf[..n]);
                    if forward(&mut tap, StreamKind::Stderr, &err_buf[..n], deadline_at).await
                        && ending == Ending::Exited
                        && status.is_none()
                    {
                        ending = Ending::TimedOut;
                        guard.kill();
                    }
                    if err.dropped() > kill_after && ending == Ending::Exited {
                        ending = Ending::OutputOverflow;
                        guard.kill();
                    }
                }
            },
            s = child.wait(), if status.is_none() => {
                status = Some(s?);
                // Background jobs of the command die with it: nothing outlives the exec.
                guard.kill();
                draining = true;
                drain.as_mut().reset(tokio::time::Instant::now() + DRAIN_GRACE);
            },
            () = &mut deadline, if ending == Ending::Exited && status.is_none() => {
                ending = Ending::TimedOut;
                guard.kill();
            },
            () = &mut drain, if draining => {
                // On a starved runtime this timer can win against reads that were ready long
                // ago: what already sits in the pipes is the command's output (a loaded CI run
                // lost `((0)); echo $?`'s "1" this way), so it is taken before the loop ends.
                for (open, rx, buf, stream) in [
                    (out_open, &stdout, &mut out, StreamKind::Stdout),
                    (err_open, &stderr, &mut err, StreamKind::Stderr),
                ] {
                    if open {
                        let mut held = Vec::new();
                        read_buffered(rx, |b| {
                            buf.push(b);
                            held.extend_from_slice(b);
                        });
                        if !held.is_empty() {
                            forward(&mut tap, stream, &held, deadline_at).await;
                        }
                    }
                }
                break;
            }
        }
    }
    guard.pgid = None;

    let status = match status {
        Some(s) => s,
        None => child.wait().await?,
    };
    let raw_code = status.code;
    let signal = status.signal;
    let timed_out = ending == Ending::TimedOut;
    let exit_code = if timed_out {
        TIMEOUT_EXIT_CODE
    } else {
        raw_code.unwrap_or_else(|| 128 + signal.unwrap_or(0))
    };
    Ok(ProcessResult {
        output: ExecOutput::from_streams(out, err, exit_code, timed_out, start.elapsed()),
        ending,
        raw_code,
        signal,
    })
}

/// Hands `each` what a pipe holds now, without waiting (the fd is non-blocking), read straight
/// from the fd: the runtime's readiness may not have seen it yet. Bounded (64 reads of
/// [`READ_CHUNK`]), since a process that left the command's group could keep writing.
pub fn read_buffered(rx: &tokio::net::unix::pipe::Receiver, mut each: impl FnMut(&[u8])) {
    let mut scratch = vec![0u8; READ_CHUNK];
    for _ in 0..64 {
        match rustix::io::read(std::os::fd::AsFd::as_fd(rx), &mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(n) => each(&scratch[..n]),
        }
    }
}

/// One read of at most [`READ_CHUNK`] bytes into `buf`, replacing what it held. Cancel-safe:
/// nothing is read unless the read completes.
async fn read_chunk<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    buf.clear();
    r.read_buf(buf).await
}

/// Hands one chunk to the tap, waiting for room until the deadline. Returns true when the
/// deadline passed while waiting. A tap whose receiver is gone is dropped: nobody listens.
async fn forward(
    tap: &mut Option<tokio::sync::mpsc::Sender<OutputChunk>>,
    stream: StreamKind,
    data: &[u8],
    deadline: tokio::time::Instant,
) -> bool {
    let Some(tx) = tap.as_ref() else {
        return false;
    };
    let chunk = OutputChunk {
        stream,
        data: data.to_vec(),
    };
    match tokio::time::timeout_at(deadline, tx.send(chunk)).await {
        Ok(Ok(())) => false,
        Ok(Err(_closed)) => {
            *tap = None;
            false
        }
        Err(_elapsed) => true,
    }
}

/// The host's `PATH` search for a program name (for backends that look for a binary).
pub fn find_in_path(name: &str, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path_var = path_var?;
    std::env::split_paths(path_var)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(cmd: &str) -> ProcessSpec {
        ProcessSpec::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .env("PATH", "/usr/bin:/bin")
    }

    #[tokio::test]
    async fn exit_codes_and_streams() {
        let r = run(&sh("echo out; echo err >&2; exit 3")).await.unwrap();
        assert_eq!(r.output.stdout, b"out\n");
        assert_eq!(r.output.stderr, b"err\n");
        assert_eq!(r.output.exit_code, 3);
        assert!(!r.output.timed_out);
    }

    /// A started child reads what the parent writes into the descriptor it passed, after the
    /// start, and sees no descriptor above the ones passed; the timeout counts from `finish`.
    #[tokio::test]
    async fn started_child_reads_a_passed_descriptor() {
        use std::io::Write;
        let (r, mut w) = std::io::pipe().unwrap();
        let log = tempfile::tempfile().unwrap();
        let log = std::sync::Arc::new(std::os::fd::OwnedFd::from(log));
        let spec = sh("cat <&3; echo logged >&4; ls /proc/self/fd | sort -n | tr '\\n' ' '")
            .pass_fd(std::sync::Arc::new(r.into()))
            .pass_fd(log.clone())
            .timeout(Duration::from_millis(300));
        let started = start(&spec).unwrap();
        // Longer than the timeout: it only starts counting at finish.
        tokio::time::sleep(Duration::from_millis(400)).await;
        w.write_all(b"config\n").unwrap();
        drop(w);
        let r = finish(started, &spec).await.unwrap();
        assert!(!r.output.timed_out);
        // 0-2, the two passed, and ls's own directory descriptor.
        assert_eq!(
            r.output.stdout_str(),
            "config\n0 1 2 3 4 5 ",
            "{:?}",
            r.output
        );
        let logged = rustix::io::pread(&*log, &mut [0u8; 16], 0).unwrap();
        assert_eq!(logged, 7);
    }

    /// A started child dropped unfinished is killed and reaped.
    #[tokio::test]
    async fn dropped_started_child_is_killed() {
        let spec = sh("sleep 30");
        let started = start(&spec).unwrap();
        let pid = format!("{started:?}");
        drop(started);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let digits: String = pid.chars().filter(char::is_ascii_digit).collect();
        assert!(
            !std::path::Path::new(&format!("/proc/{digits}")).exists(),
            "{pid} still exists"
        );
    }

    #[tokio::test]
    async fn environment_is_clean() {
        // SAFETY of the test: only this test reads this variable.
        let r = run(&sh("env")).await.unwrap();
        let env = r.output.stdout_str().to_string();
        assert!(!env.contains("HOME="), "{env}");
        assert!(env.contains("PATH=/usr/bin:/bin"));
    }

    #[tokio::test]
    async fn timeout_kills_the_group_with_124() {
        let t = Instant::now();
        let r = run(&sh("sleep 30 & sleep 30; echo never").timeout(Duration::from_millis(300)))
            .await
            .unwrap();
        assert!(t.elapsed() < Duration::from_secs(5));
        assert_eq!(r.output.exit_code, 124);
        assert!(r.output.timed_out);
        assert_eq!(r.ending, Ending::TimedOut);
    }

    #[tokio::test]
    async fn runaway_output_is_capped_and_killed() {
        let t = Instant::now();
        let r = run(&sh("yes")
            .max_output_bytes(1000)
            .timeout(Duration::from_secs(20)))
        .await
        .unwrap();
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(r.output.stdout_truncated);
        assert_eq!(r.ending, Ending::OutputOverflow);
        assert!(r.output.stdout.starts_with(b"y\ny\n"));
        assert!(r.output.stdout_str().contains("[output truncated"));
    }

    #[tokio::test]
    async fn slightly_over_cap_keeps_real_status() {
        let r = run(&sh("head -c 5000 /dev/zero; exit 0").max_output_bytes(1000))
            .await
            .unwrap();
        assert_eq!(r.output.exit_code, 0);
        assert!(r.output.stdout_truncated);
    }

    #[tokio::test]
    async fn background_jobs_do_not_outlive_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("pid");
        let cmd = format!("sleep 60 & echo $! > {}; exit 0", marker.display());
        let t = Instant::now();
        let r = run(&sh(&cmd)).await.unwrap();
        assert_eq!(r.output.exit_code, 0);
        assert!(t.elapsed() < Duration::from_secs(5));
        let pid: i32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let alive = nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ");
        assert!(!alive, "background sleep {pid} survived");
    }

    #[tokio::test]
    async fn missing_program_is_an_error() {
        assert!(run(&ProcessSpec::new("/nonexistent/x")).await.is_err());
    }

    #[tokio::test]
    async fn tap_streams_output_while_the_child_runs() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let spec = sh("echo one; echo two >&2; sleep 2; echo three").tap(tx);
        let run = tokio::spawn(async move { run(&spec).await });
        // Both early chunks arrive long before the child ends.
        let mut early = Vec::new();
        while early.len() < 2 {
            let c = tokio::time::timeout(Duration::from_secs(1), rx.recv())
                .await
                .expect("a chunk within 1 s, while the child sleeps")
                .expect("the tap is open");
            early.push(c);
        }
        assert!(early.contains(&OutputChunk {
            stream: StreamKind::Stdout,
            data: b"one\n".to_vec()
        }));
        assert!(early.contains(&OutputChunk {
            stream: StreamKind::Stderr,
            data: b"two\n".to_vec()
        }));
        let last = rx.recv().await.unwrap();
        assert_eq!(last.data, b"three\n");
        assert!(
            rx.recv().await.is_none(),
            "the tap closes when the run ends"
        );
        let r = run.await.unwrap().unwrap();
        assert_eq!(r.output.stdout, b"one\nthree\n");
        assert_eq!(r.output.exit_code, 0);
    }

    #[tokio::test]
    async fn a_tap_nobody_reads_still_meets_the_deadline() {
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        let spec = sh("yes").tap(tx).timeout(Duration::from_millis(300));
        let r = tokio::time::timeout(Duration::from_secs(5), run(&spec))
            .await
            .expect("returns")
            .unwrap();
        assert_eq!(r.ending, Ending::TimedOut);
        assert_eq!(r.output.exit_code, TIMEOUT_EXIT_CODE);
    }

    #[tokio::test]
    async fn a_dropped_tap_is_ignored() {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        drop(rx);
        let r = run(&sh("echo fine").tap(tx)).await.unwrap();
        assert_eq!(r.output.stdout, b"fine\n");
    }
}
