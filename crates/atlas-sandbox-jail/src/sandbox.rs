//! One sandbox: a jailed worker started by `create` and kept until `close`; each exec sends one
//! request over the socketpair, with the two pipes the command writes to (the bash engine) or
//! without, the output then coming back in the worker's replies (the just-bash engine).
//!
//! A just-bash worker can be shared: [`WorkerPool`] hands out further sandboxes over a live
//! worker of the same layer (each its own interpreter and memory layer inside it, see
//! `worker::engine`), and the worker ends when the last of them is closed or dropped.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{
    CappedBuffer, ExecOutput, ExecRequest, Result, Sandbox, SemanticLayer, TIMEOUT_EXIT_CODE,
    async_trait, overflow_limit,
};
use rustix::net::{AddressFamily, Shutdown, SocketFlags, SocketType};
use tokio::io::AsyncReadExt;
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;

use crate::error::JailError;
use crate::protocol::{MAX_MESSAGE, Mode, Plan, PlanEngine, Reply, Request};
use crate::worker::{recv, send};

/// How long a worker may take to build its jail.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to keep reading after the command exited and its group was killed, for processes
/// that left the group but still hold the pipes (the init kills them once the jail is idle).
const DRAIN_GRACE: Duration = Duration::from_millis(200);
/// How long `close` waits for the worker to exit before killing it.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// How long past the deadline a command may go without an exit status before the worker is
/// taken for wedged and killed (the just-bash engine stops itself at the deadline; the bash
/// engine's group is killed at it).
const WEDGED_GRACE: Duration = Duration::from_secs(1);

/// A sandbox over one semantic layer, backed by one jailed worker (which a just-bash sandbox
/// may share with other sessions of the same layer; see [`WorkerPool`]).
#[derive(Debug)]
pub struct JailSandbox {
    inner: Arc<Inner>,
    /// This sandbox's interpreter in a shared just-bash worker (0 for the first).
    session: u64,
    closed: AtomicBool,
}

/// The sandboxes open over one worker.
#[derive(Debug)]
struct Handles {
    open: usize,
    next_session: u64,
    /// False once the last handle went: a pool may no longer attach to it.
    accepting: bool,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    sock: AsyncFd<OwnedFd>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    closed: AtomicBool,
    gone: Mutex<Option<String>>,
    worker: Mutex<Option<Child>>,
    reader: Mutex<Option<tokio::task::JoinHandle<()>>>,
    handles: Mutex<Handles>,
    time_limit: Duration,
    landlock: String,
    /// The just-bash engine answers one command at a time: a command waits here, so its
    /// deadline starts when the interpreter is free.
    one_at_a_time: Option<tokio::sync::Mutex<()>>,
    /// The output comes back in the worker's replies rather than through pipes (the just-bash
    /// engine, which holds a command's whole output when it ends).
    inline_output: bool,
    /// Commands the worker started without bash (the direct start).
    direct_starts: AtomicU64,
}

/// An exec waiting for its end: where to send it, and the output that came inline so far.
#[derive(Debug)]
struct Pending {
    tx: oneshot::Sender<Done>,
    out: Vec<u8>,
    err: Vec<u8>,
    /// The most bytes kept per stream (the cap and one more, which tells the cap was passed).
    keep: usize,
}

impl Pending {
    fn new(tx: oneshot::Sender<Done>, cap: usize) -> Self {
        Pending {
            tx,
            out: Vec::new(),
            err: Vec::new(),
            keep: cap.saturating_add(1),
        }
    }

    fn push(&mut self, stderr: bool, data: &[u8]) {
        let buf = if stderr { &mut self.err } else { &mut self.out };
        let room = self.keep.saturating_sub(buf.len());
        buf.extend_from_slice(&data[..data.len().min(room)]);
    }
}

/// An exec's end: the worker's reply and the output that came inline with it.
#[derive(Debug)]
struct Done {
    reply: Reply,
    out: Vec<u8>,
    err: Vec<u8>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    async fn send(&self, bytes: &[u8], fds: &[std::os::fd::BorrowedFd<'_>]) -> std::io::Result<()> {
        loop {
            let mut guard = self.sock.writable().await?;
            match guard
                .try_io(|s| send(s.get_ref().as_fd(), bytes, fds).map_err(std::io::Error::from))
            {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    async fn recv(&self) -> std::io::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        Ok(self
            .recv_into(&mut buf)
            .await?
            .map(|(n, fds)| (buf[..n].to_vec(), fds)))
    }

    /// One message into `buf` (at least [`MAX_MESSAGE`] long): its length and fds.
    async fn recv_into(&self, buf: &mut [u8]) -> std::io::Result<Option<(usize, Vec<OwnedFd>)>> {
        loop {
            let mut guard = self.sock.readable().await?;
            match guard.try_io(|s| recv(s.get_ref().as_fd(), buf).map_err(std::io::Error::from)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// An exec's end when the worker gave no status well past the deadline: it is stuck (an
    /// interpreter bug the deadline checks cannot reach), so it ends, with its sessions.
    fn wedged(&self, out: CappedBuffer, mut err: CappedBuffer, start: Instant) -> ExecOutput {
        self.mark_gone(format!(
            "it gave no exit status within {WEDGED_GRACE:?} after the deadline and was killed"
        ));
        self.kill_worker();
        err.push(
            b"atlas-sandbox-jail: the command did not stop at its deadline; \
              the sandbox's worker was killed\n",
        );
        ExecOutput::from_streams(out, err, TIMEOUT_EXIT_CODE, true, start.elapsed())
    }

    /// The error of an exec whose reply will never come (the worker went).
    fn dropped(&self) -> atlas_sandbox_sdk::Error {
        let why = self
            .gone()
            .unwrap_or_else(|| "the worker dropped the command".into());
        JailError::WorkerGone(why).into()
    }

    /// Best effort, without waiting: used from `Drop` when a caller stops awaiting an exec.
    fn kill_now(self: &Arc<Self>, id: u64) {
        self.send_now(Request::Kill { id }.encode());
    }

    /// Sends `msg` now, or from a task when the socket is full (for `Drop`, which cannot wait).
    fn send_now(self: &Arc<Self>, msg: Vec<u8>) {
        if let Err(rustix::io::Errno::AGAIN) = send(self.sock.get_ref().as_fd(), &msg, &[])
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let me = Arc::clone(self);
            handle.spawn(async move {
                let _ = me.send(&msg, &[]).await;
            });
        }
    }

    /// Kills the keeper now (the jail follows by its parent-death signal); `close` or `Drop`
    /// reaps it.
    fn kill_worker(&self) {
        let _ = rustix::net::shutdown(self.sock.get_ref(), Shutdown::Both);
        if let Some(child) = lock(&self.worker).as_mut() {
            let _ = child.kill();
        }
    }

    fn mark_gone(&self, why: String) {
        let mut gone = lock(&self.gone);
        if gone.is_none() {
            *gone = Some(why);
        }
        // Dropping the senders wakes every waiting exec with an error.
        lock(&self.pending).clear();
    }

    fn gone(&self) -> Option<String> {
        lock(&self.gone).clone()
    }

    /// Ends the worker: EOF on its socket makes the init kill the jail and exit; the keeper
    /// follows. Waits for the keeper (no zombie), killing it after `CLOSE_GRACE`.
    async fn stop_worker(&self) {
        let _ = rustix::net::shutdown(self.sock.get_ref(), Shutdown::Both);
        if let Some(reader) = lock(&self.reader).take() {
            reader.abort();
        }
        let Some(mut child) = lock(&self.worker).take() else {
            return;
        };
        let start = Instant::now();
        let mut pause = Duration::from_micros(200);
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if start.elapsed() > CLOSE_GRACE => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                Ok(None) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = rustix::net::shutdown(self.sock.get_ref(), Shutdown::Both);
        if let Some(mut child) = lock(&self.worker).take() {
            // Never closed: kill the keeper (the init follows by its parent-death signal) and
            // reap it off this thread.
            let _ = child.kill();
            let _ = std::thread::Builder::new()
                .name("atlas-jail-reaper".into())
                .spawn(move || {
                    let _ = child.wait();
                });
        }
    }
}

/// Kills the exec's process group when the caller stops awaiting it.
struct KillOnDrop {
    inner: Weak<Inner>,
    id: u64,
    armed: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.armed
            && let Some(inner) = self.inner.upgrade()
        {
            lock(&inner.pending).remove(&self.id);
            inner.kill_now(self.id);
        }
    }
}

impl JailSandbox {
    /// Starts a worker over `layer` and waits until its jail is built.
    pub(crate) async fn create(
        plan: Plan,
        layer: &SemanticLayer,
        time_limit: Duration,
    ) -> Result<Self> {
        let root = layer.root().to_path_buf();
        if !root.is_dir() {
            return Err(JailError::Layer {
                path: root,
                detail: "not a directory".into(),
            }
            .into());
        }
        let (host, worker) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .map_err(|e| JailError::Io(format!("socketpair: {e}")))?;
        // The worker's end must block: it is a plain single-threaded loop.
        rustix::io::ioctl_fionbio(&worker, false)
            .map_err(|e| JailError::Io(format!("fionbio: {e}")))?;
        let child = crate::spawn::spawn_worker(worker, root.clone())
            .await
            .map_err(JailError::Spawn)?;
        // SAFETY: `host` is an open socket owned by the AsyncFd for its whole life.
        let sock = unsafe { AsyncFd::register(host) }
            .map_err(|e| JailError::Io(format!("register the socket: {e}")))?;
        let mut inner = Inner {
            root,
            sock,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            gone: Mutex::new(None),
            worker: Mutex::new(Some(child)),
            reader: Mutex::new(None),
            handles: Mutex::new(Handles {
                open: 1,
                next_session: 1,
                accepting: true,
            }),
            time_limit,
            landlock: String::new(),
            one_at_a_time: matches!(plan.engine, PlanEngine::JustBash(_))
                .then(|| tokio::sync::Mutex::new(())),
            inline_output: matches!(plan.engine, PlanEngine::JustBash(_)),
            direct_starts: AtomicU64::new(0),
        };
        let plan = serde_json::to_vec(&plan).map_err(|e| JailError::Io(e.to_string()))?;
        let first = tokio::time::timeout(START_TIMEOUT, async {
            inner.send(&plan, &[]).await?;
            inner.recv().await
        })
        .await;
        let failure = match first {
            Ok(Ok(Some((msg, _)))) => match Reply::decode(&msg) {
                Some(Reply::Ready { landlock }) => {
                    inner.landlock = landlock;
                    None
                }
                Some(Reply::SetupFailed { message }) => Some(JailError::Setup(message)),
                _ => Some(JailError::Io(
                    "unexpected first message from the worker".into(),
                )),
            },
            Ok(Ok(None)) | Ok(Err(_)) => {
                let status = lock(&inner.worker)
                    .as_mut()
                    .and_then(|c| c.wait().ok())
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "unknown status".into());
                Some(JailError::Setup(format!(
                    "the worker exited ({status}) before reporting; is this program's startup \
                     hook intact (the crate must be linked into the executable)?"
                )))
            }
            Err(_) => Some(JailError::StartTimeout(START_TIMEOUT)),
        };
        if let Some(e) = failure {
            inner.stop_worker().await;
            return Err(e.into());
        }
        let inner = Arc::new(inner);
        let reader = tokio::spawn(read_replies(Arc::downgrade(&inner)));
        *lock(&inner.reader) = Some(reader);
        Ok(JailSandbox {
            inner,
            session: 0,
            closed: AtomicBool::new(false),
        })
    }

    /// A further sandbox over this one's worker, unless the worker is gone or closing or
    /// already holds `limit` sandboxes.
    fn attach(inner: &Arc<Inner>, limit: usize) -> Option<JailSandbox> {
        if inner.gone().is_some() || inner.closed.load(Ordering::Acquire) {
            return None;
        }
        let mut h = lock(&inner.handles);
        if !h.accepting || h.open >= limit {
            return None;
        }
        h.open += 1;
        let session = h.next_session;
        h.next_session += 1;
        Some(JailSandbox {
            inner: Arc::clone(inner),
            session,
            closed: AtomicBool::new(false),
        })
    }

    /// Counts this handle out of its worker; true when it was the last one (the worker must
    /// then end).
    fn release(&self) -> bool {
        let mut h = lock(&self.inner.handles);
        h.open = h.open.saturating_sub(1);
        if h.open == 0 {
            h.accepting = false;
            true
        } else {
            false
        }
    }

    /// How far Landlock is enforced in this sandbox's jail, as the worker reported it.
    pub fn landlock_status(&self) -> &str {
        &self.inner.landlock
    }

    /// How many commands of this sandbox's worker ran without bash in between (the bash
    /// engine's direct start; see [`crate::JailConfig::direct_exec`]).
    pub fn direct_starts(&self) -> u64 {
        self.inner.direct_starts.load(Ordering::Relaxed)
    }

    /// The host pid of the worker's keeper process (tests check it is gone after `close`).
    pub fn worker_pid(&self) -> Option<u32> {
        lock(&self.inner.worker).as_ref().map(Child::id)
    }
}

async fn read_replies(inner: Weak<Inner>) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let Some(me) = inner.upgrade() else { return };
        let got = me.recv_into(&mut buf).await;
        match got {
            Ok(Some((n, _))) => {
                let reply = match Reply::decode(&buf[..n]) {
                    Some(Reply::Output { id, stderr, data }) => {
                        // A cancelled exec's output has no one waiting: it is dropped.
                        if let Some(p) = lock(&me.pending).get_mut(&id) {
                            p.push(stderr, &data);
                        }
                        continue;
                    }
                    Some(reply @ (Reply::Exited { .. } | Reply::SpawnFailed { .. })) => reply,
                    _ => continue,
                };
                let (Reply::Exited { id, .. } | Reply::SpawnFailed { id, .. }) = &reply else {
                    continue;
                };
                if let Some(p) = lock(&me.pending).remove(id) {
                    let _ = p.tx.send(Done {
                        reply,
                        out: p.out,
                        err: p.err,
                    });
                }
            }
            Ok(None) => return me.mark_gone("the worker exited".into()),
            Err(e) => return me.mark_gone(format!("reading from the worker: {e}")),
        }
    }
}

/// A pipe for one of a command's output streams: (read end, write end).
///
/// A pipe's inode belongs to the uid that made it, mode 0600. As root the host's uid is not the
/// command's (`jail_uid`), so reopening the command's own stdout by path (`>/dev/stdout`,
/// `>/dev/fd/2`: `/proc/self/fd/N`) would fail the owner check ("Permission denied") where bash
/// writes; hence 0666. That widens nothing: an anonymous pipe has no name, and the only path to
/// it is `/proc/<pid>/fd/<n>` of a holder (this process, the jail's non-dumpable init, the
/// command), which the kernel opens only for a caller with ptrace read access to that holder,
/// i.e. one of its uid or with `CAP_SYS_PTRACE` (other jails of `jail_uid` are in other pid
/// namespaces and Landlock domains). An unprivileged host gets the same by construction: its
/// pipes belong to the uid the command runs as.
fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| JailError::Io(format!("pipe: {e}")))?;
    rustix::fs::fchmod(&w, rustix::fs::Mode::from_raw_mode(0o666))
        .map_err(|e| JailError::Io(format!("fchmod of the pipe: {e}")))?;
    Ok((r, w))
}

#[async_trait]
impl Sandbox for JailSandbox {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        let start = Instant::now();
        request.validate().map_err(|e| e.with_backend(crate::ID))?;
        let inner = &self.inner;
        if self.closed.load(Ordering::Acquire) || inner.closed.load(Ordering::Acquire) {
            return Err(JailError::Closed.into());
        }
        if let Some(why) = inner.gone() {
            return Err(JailError::WorkerGone(why).into());
        }
        let rel = request
            .relative_cwd()
            .map_err(|e| e.with_backend(crate::ID))?;
        if !rel.is_empty() {
            // Resolved on the host without leaving the root: a symlinked cwd pointing outside
            // would not exist in the jail anyway.
            let inside = std::fs::canonicalize(inner.root.join(&rel))
                .map(|p| p.starts_with(&inner.root) && p.is_dir())
                .unwrap_or(false);
            if !inside {
                return Err(JailError::BadCwd(rel).into());
            }
        }
        let timeout = request.timeout.min(inner.time_limit);
        let _turn = match &inner.one_at_a_time {
            Some(m) => Some(m.lock().await),
            None => None,
        };
        if inner.inline_output {
            return self.exec_inline(request, rel, timeout, start).await;
        }
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (id, mut exited, mut guard) = self
            .submit(&request, rel, timeout, &[out_w.as_fd(), err_w.as_fd()])
            .await?;
        drop((out_w, err_w));
        let io = |e: std::io::Error| JailError::Io(format!("reading the command's output: {e}"));
        let mut stdout = tokio::net::unix::pipe::Receiver::from_owned_fd(out_r).map_err(io)?;
        let mut stderr = tokio::net::unix::pipe::Receiver::from_owned_fd(err_r).map_err(io)?;

        let cap = request.max_output_bytes;
        let kill_after = overflow_limit(cap);
        let mut out = CappedBuffer::new(cap);
        let mut err = CappedBuffer::new(cap);
        let mut out_buf = vec![0u8; 64 * 1024];
        let mut err_buf = vec![0u8; 64 * 1024];
        let (mut out_open, mut err_open) = (true, true);
        let mut status: Option<Reply> = None;
        let mut killed = false;
        let mut timed_out = false;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let wedged = tokio::time::sleep(timeout + WEDGED_GRACE);
        tokio::pin!(wedged);
        let drain = tokio::time::sleep(Duration::from_secs(86_400));
        tokio::pin!(drain);
        let mut draining = false;
        let kill = |killed: &mut bool| {
            if !*killed {
                *killed = true;
                inner.kill_now(id);
            }
        };
        loop {
            if status.is_some() && !out_open && !err_open {
                break;
            }
            tokio::select! {
                r = stdout.read(&mut out_buf), if out_open => match r {
                    Ok(0) | Err(_) => out_open = false,
                    Ok(n) => {
                        out.push(&out_buf[..n]);
                        if out.dropped() > kill_after && status.is_none() {
                            kill(&mut killed);
                        }
                    }
                },
                r = stderr.read(&mut err_buf), if err_open => match r {
                    Ok(0) | Err(_) => err_open = false,
                    Ok(n) => {
                        err.push(&err_buf[..n]);
                        if err.dropped() > kill_after && status.is_none() {
                            kill(&mut killed);
                        }
                    }
                },
                r = &mut exited, if status.is_none() => match r {
                    Ok(done) => {
                        status = Some(done.reply);
                        draining = true;
                        drain.as_mut().reset(tokio::time::Instant::now() + DRAIN_GRACE);
                    }
                    Err(_) => {
                        guard.armed = false;
                        return Err(inner.dropped());
                    }
                },
                () = &mut deadline, if status.is_none() && !timed_out => {
                    timed_out = true;
                    kill(&mut killed);
                },
                () = &mut wedged, if status.is_none() => {
                    guard.armed = false;
                    return Ok(inner.wedged(out, err, start));
                },
                () = &mut drain, if draining => {
                    // On a starved runtime this timer can win against reads that were ready
                    // long ago: what already sits in the pipes is the command's output and
                    // must not be dropped (seen under load as an empty stdout with exit 0).
                    if out_open {
                        atlas_sandbox_sdk::process::read_buffered(&stdout, |b| {
                            out.push(b);
                        });
                    }
                    if err_open {
                        atlas_sandbox_sdk::process::read_buffered(&stderr, |b| {
                            err.push(b);
                        });
                    }
                    break;
                }
            }
        }
        guard.armed = false;
        self.finish(status, out, err, timed_out, start)
    }

    async fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        if !self.release() {
            // Other sessions keep the worker: only this session's interpreter goes. A
            // command of this session still running ends first (the worker answers one at a
            // time), so nothing of it outlives the close.
            let _turn = match &self.inner.one_at_a_time {
                Some(m) => Some(m.lock().await),
                None => None,
            };
            let msg = Request::Forget {
                session: self.session,
            }
            .encode();
            let _ = self.inner.send(&msg, &[]).await;
            return Ok(());
        }
        self.inner.closed.store(true, Ordering::Release);
        self.inner.mark_gone("the sandbox was closed".into());
        self.inner.stop_worker().await;
        Ok(())
    }
}

impl JailSandbox {
    /// Sends the worker an `Exec` (with `fds` as the command's stdout and stderr, or none) and
    /// registers it: its id, where its end arrives, and the guard that kills it if the caller
    /// stops waiting.
    async fn submit(
        &self,
        request: &ExecRequest,
        rel: String,
        timeout: Duration,
        fds: &[std::os::fd::BorrowedFd<'_>],
    ) -> Result<(u64, oneshot::Receiver<Done>, KillOnDrop)> {
        let inner = &self.inner;
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, exited) = oneshot::channel();
        lock(&inner.pending).insert(id, Pending::new(tx, request.max_output_bytes));
        let mut guard = KillOnDrop {
            inner: Arc::downgrade(inner),
            id,
            armed: true,
        };
        let msg = Request::Exec {
            id,
            session: self.session,
            cwd: rel,
            command: request.command.clone(),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            max_output: request.max_output_bytes as u64,
        }
        .encode();
        if let Err(e) = inner.send(&msg, fds).await {
            guard.armed = false;
            lock(&inner.pending).remove(&id);
            return Err(JailError::Io(format!("sending the command: {e}")).into());
        }
        Ok((id, exited, guard))
    }

    /// The just-bash engine's exec: the request goes without pipes and the output comes back
    /// in the worker's replies (`Reply::Output`), then its end.
    async fn exec_inline(
        &self,
        request: ExecRequest,
        rel: String,
        timeout: Duration,
        start: Instant,
    ) -> Result<ExecOutput> {
        let inner = &self.inner;
        let (id, mut exited, mut guard) = self.submit(&request, rel, timeout, &[]).await?;
        let cap = request.max_output_bytes;
        let mut out = CappedBuffer::new(cap);
        let mut err = CappedBuffer::new(cap);
        let mut timed_out = false;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let wedged = tokio::time::sleep(timeout + WEDGED_GRACE);
        tokio::pin!(wedged);
        let status = loop {
            tokio::select! {
                r = &mut exited => match r {
                    Ok(done) => {
                        out.push(&done.out);
                        err.push(&done.err);
                        break Some(done.reply);
                    }
                    Err(_) => {
                        guard.armed = false;
                        return Err(inner.dropped());
                    }
                },
                () = &mut deadline, if !timed_out => {
                    // The engine stops itself at the deadline; this only marks the result.
                    timed_out = true;
                    inner.kill_now(id);
                },
                () = &mut wedged => {
                    guard.armed = false;
                    return Ok(inner.wedged(out, err, start));
                },
            }
        };
        guard.armed = false;
        self.finish(status, out, err, timed_out, start)
    }

    /// The exec's result from the worker's last reply.
    fn finish(
        &self,
        status: Option<Reply>,
        out: CappedBuffer,
        err: CappedBuffer,
        mut timed_out: bool,
        start: Instant,
    ) -> Result<ExecOutput> {
        let exit_code = match status {
            Some(Reply::Exited {
                code,
                signal,
                timed_out: engine_timed_out,
                direct,
                ..
            }) => {
                if direct {
                    self.inner.direct_starts.fetch_add(1, Ordering::Relaxed);
                }
                timed_out |= engine_timed_out;
                if timed_out {
                    TIMEOUT_EXIT_CODE
                } else {
                    code.unwrap_or_else(|| 128 + signal.unwrap_or(0))
                }
            }
            Some(Reply::SpawnFailed { message, .. }) => {
                return Err(JailError::SpawnFailed(message).into());
            }
            _ => return Err(JailError::Io("no exit status from the worker".into()).into()),
        };
        Ok(ExecOutput::from_streams(
            out,
            err,
            exit_code,
            timed_out,
            start.elapsed(),
        ))
    }
}

impl Drop for JailSandbox {
    fn drop(&mut self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if self.release() {
            // The reader task holds the worker's state while it waits; without it, dropping
            // the last handle drops `Inner`, which kills the worker.
            if let Some(reader) = lock(&self.inner.reader).take() {
                reader.abort();
            }
        } else {
            let msg = Request::Forget {
                session: self.session,
            }
            .encode();
            self.inner.send_now(msg);
        }
    }
}

/// Just-bash workers shared by the sessions of one layer: a new sandbox joins a live worker
/// of its layer with room (fewer than `per_worker` sandboxes) rather than starting its own,
/// once there are as many workers as CPUs (the engine answers one command at a time, so the
/// first sessions get a worker each). A worker costs megabytes, an interpreter in it
/// kilobytes; the price is that a worker's crash ends every session in it (never the host).
#[derive(Debug, Default)]
pub(crate) struct WorkerPool {
    workers: Mutex<HashMap<PoolKey, Vec<Weak<Inner>>>>,
}

/// Workers serve one layer in one confinement mode.
type PoolKey = (PathBuf, Mode);

impl WorkerPool {
    /// A sandbox over a live worker of `root` with room, if the pool has one to offer.
    pub(crate) fn attach(&self, root: &Path, mode: Mode, per_worker: usize) -> Option<JailSandbox> {
        let spread = std::thread::available_parallelism().map_or(1, usize::from);
        let mut map = lock(&self.workers);
        let list = map.get_mut(&(root.to_path_buf(), mode))?;
        let mut live: Vec<(usize, Arc<Inner>)> = Vec::new();
        list.retain(|w| match w.upgrade() {
            Some(inner) => {
                let h = lock(&inner.handles);
                let keep = h.accepting && inner.gone().is_none();
                let open = h.open;
                drop(h);
                if keep {
                    live.push((open, inner));
                }
                keep
            }
            None => false,
        });
        let (open, inner) = live.into_iter().min_by_key(|(open, _)| *open)?;
        if list.len() < spread && open > 0 {
            return None;
        }
        JailSandbox::attach(&inner, per_worker)
    }

    /// Offers `sandbox`'s worker to later sandboxes of the same layer.
    pub(crate) fn register(&self, root: &Path, mode: Mode, sandbox: &JailSandbox) {
        lock(&self.workers)
            .entry((root.to_path_buf(), mode))
            .or_default()
            .push(Arc::downgrade(&sandbox.inner));
    }
}
