//! Sessions: one sandbox per conversation, reused across calls, in a bounded table.
//!
//! A [`Session`] owns one sandbox of the selected backend, created on its first command and
//! reused after, so the files a command writes and its working directory are there for the next
//! command of the same session (shell variables are not: every command is a new shell; the
//! working directory is carried by `session_cwd`). The
//! [`SessionTable`] holds at most `max_sessions`, evicting the least recently used idle one, and
//! closes sessions idle for longer than `idle_timeout`. Closing a session closes its sandbox
//! (a cloud sandbox is deleted).
//!
//! Both the explore server and Rust programs use this module; the server only adds transports,
//! authentication and queueing on top.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{ExecOutput, ExecRequest, Sandbox};
use tokio::sync::{OnceCell, Semaphore};

use crate::host::{Host, SelectError};
use crate::persist::{Lasting, Origin};

/// Bounds of a [`SessionTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// The most sessions open at once; opening one more evicts the least recently used idle one.
    pub max_sessions: usize,
    /// A session unused for this long is closed.
    pub idle_timeout: Duration,
    /// The most commands one session runs at once (the rest wait for a permit).
    pub max_concurrent_per_session: usize,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            max_sessions: 1000,
            idle_timeout: Duration::from_secs(600),
            max_concurrent_per_session: 4,
        }
    }
}

/// Identifies a session: who opened it (`scope`: a token's name, `stdio`, or a program's own
/// label), over which layer, and the caller's session id. Two callers can use the same id
/// without ever sharing a sandbox, and one id over two layers is two sessions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    /// The principal that owns the session.
    pub scope: String,
    /// The resolved layer reference (`name` or `name/org`).
    pub layer: String,
    /// The caller's session id.
    pub id: String,
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.scope, self.layer, self.id)
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Unused for `idle_timeout`.
    Idle,
    /// Least recently used when the table was full.
    Evicted,
    /// Closed by its owner (`DELETE /v1/sessions/{id}`, [`SessionTable::close`]).
    Explicit,
    /// The table (the server) is shutting down.
    Shutdown,
}

/// What happens to a session's sandbox when the session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetireAction {
    /// Close the sandbox (kill local processes, delete remote sandboxes).
    Close,
    /// Pause it and keep it in the session store for the session's next call (a persistent
    /// cloud session that went idle, was evicted, or whose host shuts down).
    Pause,
}

/// A persistent session's sandbox is paused unless its owner ended the session on purpose.
fn retire_action(persistent: bool, reason: CloseReason) -> RetireAction {
    match reason {
        CloseReason::Idle | CloseReason::Evicted | CloseReason::Shutdown if persistent => {
            RetireAction::Pause
        }
        _ => RetireAction::Close,
    }
}

/// Why a session command failed (the command itself ran: a non-zero exit is `Ok`).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The session was closed (evicted, expired, deleted) while the caller held it.
    #[error("the session was closed; open a new one")]
    Closed,
    /// Every slot holds a session that is running a command.
    #[error("the session table is full ({0} sessions, all busy); retry later")]
    Full(usize),
    /// No backend could create a sandbox.
    #[error("{0}")]
    Select(#[from] SelectError),
    /// The backend failed (a bad request is `ErrorKind::InvalidRequest`).
    #[error("{0}")]
    Backend(#[from] atlas_sandbox_sdk::Error),
}

/// Counters of a table since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionStats {
    /// Sessions open now.
    pub open: usize,
    /// Sandboxes created.
    pub sandboxes_created: u64,
    /// Sandboxes closed.
    pub sandboxes_closed: u64,
    /// Sessions closed because they were idle.
    pub expired: u64,
    /// Sessions evicted because the table was full.
    pub evicted: u64,
    /// Sandboxes paused for a later resume (persistent cloud sessions).
    pub sandboxes_paused: u64,
    /// Sessions whose sandbox was a paused one, resumed.
    pub sandboxes_resumed: u64,
    /// Sessions whose sandbox came from a warm pool.
    pub sandboxes_pooled: u64,
}

#[derive(Debug, Default)]
struct Counters {
    created: AtomicU64,
    closed: AtomicU64,
    expired: AtomicU64,
    evicted: AtomicU64,
    paused: AtomicU64,
    resumed: AtomicU64,
    pooled: AtomicU64,
}

#[derive(Debug)]
struct State {
    last_used: Instant,
    in_flight: usize,
    closed: bool,
}

#[derive(Debug)]
struct SessionInner {
    key: SessionKey,
    root: PathBuf,
    host: Arc<Host>,
    lasting: Option<Arc<Lasting>>,
    sandbox: OnceCell<(String, Arc<dyn Sandbox>)>,
    sandbox_closed: AtomicBool,
    state: Mutex<State>,
    permits: Arc<Semaphore>,
    counters: Arc<Counters>,
    /// The directory the last command ended in and the one commands start in, inside the
    /// sandbox (see `session_cwd`).
    cwd: Mutex<crate::session_cwd::Cwd>,
}

/// A handle to one session. Cloning it is cheap; all clones are the same session.
#[derive(Debug, Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain counters behind, still consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Session {
    /// A session outside any table (closed by the caller).
    pub fn new(host: Arc<Host>, key: SessionKey, root: impl Into<PathBuf>) -> Session {
        Session::with(
            host,
            None,
            key,
            root.into(),
            SessionSettings::default().max_concurrent_per_session,
            Arc::default(),
        )
    }

    fn with(
        host: Arc<Host>,
        lasting: Option<Arc<Lasting>>,
        key: SessionKey,
        root: PathBuf,
        per_session: usize,
        counters: Arc<Counters>,
    ) -> Session {
        Session {
            inner: Arc::new(SessionInner {
                key,
                root,
                host,
                lasting,
                sandbox: OnceCell::new(),
                sandbox_closed: AtomicBool::new(false),
                state: Mutex::new(State {
                    last_used: Instant::now(),
                    in_flight: 0,
                    closed: false,
                }),
                permits: Arc::new(Semaphore::new(per_session.max(1))),
                counters,
                cwd: Mutex::new(Default::default()),
            }),
        }
    }

    /// The session's key.
    pub fn key(&self) -> &SessionKey {
        &self.inner.key
    }

    /// The semantic root it serves.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The backend of its sandbox, once created.
    pub fn backend(&self) -> Option<&str> {
        self.inner.sandbox.get().map(|(id, _)| id.as_str())
    }

    /// The per-session concurrency permits (`max_concurrent_per_session`).
    pub fn permits(&self) -> &Arc<Semaphore> {
        &self.inner.permits
    }

    /// How long since the last command ended (zero while one runs).
    pub fn idle_time(&self) -> Duration {
        let s = lock(&self.inner.state);
        if s.in_flight > 0 {
            Duration::ZERO
        } else {
            s.last_used.elapsed()
        }
    }

    /// Whether it was closed.
    pub fn is_closed(&self) -> bool {
        lock(&self.inner.state).closed
    }

    /// Marks a command in progress; the guard ends it. `None` once the session is closed.
    fn begin(&self) -> Option<InFlight> {
        let mut s = lock(&self.inner.state);
        if s.closed {
            return None;
        }
        s.in_flight += 1;
        Some(InFlight {
            session: self.clone(),
        })
    }

    /// Runs one command in the session's sandbox, creating the sandbox on first use. Returns the
    /// backend id with the output. Dropping the future stops the command (the backend kills it).
    pub async fn exec(&self, request: ExecRequest) -> Result<(String, ExecOutput), SessionError> {
        let _guard = self.begin().ok_or(SessionError::Closed)?;
        self.exec_in_flight(request).await
    }

    async fn exec_in_flight(
        &self,
        request: ExecRequest,
    ) -> Result<(String, ExecOutput), SessionError> {
        let inner = &self.inner;
        let (id, sandbox) = inner
            .sandbox
            .get_or_try_init(|| async {
                if let Some(l) = &inner.lasting {
                    let (sb, origin) = l.acquire(&inner.key, &inner.root).await?;
                    let c = &inner.counters;
                    c.created.fetch_add(1, Ordering::Relaxed);
                    match origin {
                        Origin::Resumed => c.resumed.fetch_add(1, Ordering::Relaxed),
                        Origin::Pooled => c.pooled.fetch_add(1, Ordering::Relaxed),
                        Origin::Created => 0,
                    };
                    tracing::debug!(session = %inner.key, backend = %l.backend(), ?origin, "session sandbox ready");
                    let env = &inner.host.settings().env;
                    return Ok::<_, SessionError>((
                        l.backend().to_owned(),
                        crate::env::wrap(sb, env),
                    ));
                }
                let (id, sb) = inner.host.create_sandbox(&inner.root).await?;
                inner.counters.created.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(session = %inner.key, backend = %id, "session sandbox created");
                Ok::<_, SessionError>((id, Arc::<dyn Sandbox>::from(sb)))
            })
            .await?;
        // A close that raced with the creation saw no sandbox to close; close it here.
        if self.is_closed() {
            self.close_sandbox().await;
            return Err(SessionError::Closed);
        }
        let cwd = lock(&inner.cwd).clone();
        if request.cwd.is_none()
            && cwd.at_home()
            && crate::session_cwd::keeps_directory(&request.command)
        {
            // Starts where it would wrapped and cannot move: nothing to carry or report.
            return Ok((id.clone(), sandbox.exec(request).await?));
        }
        let plain = request.clone();
        let mut request = request;
        let wrapped = crate::session_cwd::wrap(&mut request, &cwd);
        let chars = request.command.chars().count();
        if chars > atlas_sandbox_sdk::MAX_COMMAND_CHARS {
            return Err(atlas_sandbox_sdk::Error::invalid_request(format!(
                "the command is {} characters long; in a session the limit is {} (the session's \
                 working-directory prefix takes {})",
                chars - wrapped.prefix_chars(),
                atlas_sandbox_sdk::MAX_COMMAND_CHARS - wrapped.prefix_chars(),
                wrapped.prefix_chars()
            ))
            .into());
        }
        let out = sandbox.exec(request).await?;
        if wrapped.refused_unparsed(&out) {
            return Ok((id.clone(), sandbox.exec(plain).await?));
        }
        let (out, ended, home) = wrapped.unwrap(out);
        lock(&inner.cwd).update(ended, home);
        Ok((id.clone(), out))
    }

    async fn close_sandbox(&self) -> Option<String> {
        self.retire_sandbox(RetireAction::Close).await
    }

    async fn retire_sandbox(&self, action: RetireAction) -> Option<String> {
        let (id, sandbox) = self.inner.sandbox.get()?;
        if self.inner.sandbox_closed.swap(true, Ordering::AcqRel) {
            return None;
        }
        if action == RetireAction::Pause {
            // A refused pause is logged and the sandbox deleted by the persistence layer.
            return match sandbox.pause().await {
                Ok(()) => {
                    self.inner.counters.paused.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Err(e) => {
                    self.inner.counters.closed.fetch_add(1, Ordering::Relaxed);
                    Some(format!("{} ({id}): pause failed: {e}", self.inner.key))
                }
            };
        }
        self.inner.counters.closed.fetch_add(1, Ordering::Relaxed);
        match sandbox.close().await {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(session = %self.inner.key, backend = %id, error = %e, "close failed");
                Some(format!("{} ({id}): {e}", self.inner.key))
            }
        }
    }

    /// Ends the session: no new command starts, and its sandbox is retired (closed). Running
    /// commands are stopped by the close. Idempotent; returns the close error, if any.
    pub async fn close(&self, reason: CloseReason) -> Option<String> {
        {
            let mut s = lock(&self.inner.state);
            if s.closed {
                return None;
            }
            s.closed = true;
        }
        tracing::debug!(session = %self.inner.key, ?reason, "session closed");
        let persistent = self
            .inner
            .lasting
            .as_ref()
            .is_some_and(|l| l.policy().persistent);
        self.retire_sandbox(retire_action(persistent, reason)).await
    }
}

struct InFlight {
    session: Session,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = lock(&self.session.inner.state);
        s.in_flight = s.in_flight.saturating_sub(1);
        s.last_used = Instant::now();
    }
}

/// A session held for one command: the table will not evict or expire it meanwhile.
pub struct Lease {
    session: Session,
    _in_flight: InFlight,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("session", &self.session.inner.key)
            .finish()
    }
}

impl Lease {
    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Runs one command (see [`Session::exec`]).
    pub async fn exec(&self, request: ExecRequest) -> Result<(String, ExecOutput), SessionError> {
        if self.session.is_closed() {
            return Err(SessionError::Closed);
        }
        self.session.exec_in_flight(request).await
    }
}

/// The bounded table of open sessions.
#[derive(Debug)]
pub struct SessionTable {
    host: Arc<Host>,
    lasting: Option<Arc<Lasting>>,
    settings: SessionSettings,
    sessions: Mutex<HashMap<SessionKey, Session>>,
    counters: Arc<Counters>,
}

impl SessionTable {
    /// An empty table over `host`. When the backend selection picks offers persistence and its
    /// table asks for it (`persistent`, pools, `max_sandboxes`), the table's sessions go
    /// through a [`Lasting`] manager with its store at `sandbox.state_path`.
    pub fn new(host: Arc<Host>, settings: SessionSettings) -> Arc<SessionTable> {
        let lasting = Lasting::for_host(&host, &host.settings().state_path);
        if let Some(l) = &lasting {
            tracing::info!(backend = %l.backend(), policy = ?l.policy(), store = %l.store().path().display(), "cloud sessions that last");
        }
        Arc::new(SessionTable {
            lasting,
            host,
            settings,
            sessions: Mutex::new(HashMap::new()),
            counters: Arc::default(),
        })
    }

    /// The host it creates sandboxes with.
    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    /// Its bounds.
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// The manager of persistent sessions, pools and the cap, when the backend has one.
    pub fn lasting(&self) -> Option<&Arc<Lasting>> {
        self.lasting.as_ref()
    }

    /// Starts the warm pools configured for the backend, over the layers given as `name →
    /// root` (the host-level layers with a fixed root).
    pub fn start_pools(&self, roots: &std::collections::BTreeMap<String, PathBuf>) {
        if let Some(l) = &self.lasting {
            l.start_pools(roots);
        }
    }

    /// The session for `key`, opened over `root` if it is not open; held for one command. When
    /// the table is full the least recently used idle session is closed first.
    pub async fn lease(&self, key: SessionKey, root: &Path) -> Result<Lease, SessionError> {
        let (lease, evicted) = {
            let mut map = lock(&self.sessions);
            if let Some(s) = map.get(&key)
                && let Some(g) = s.begin()
            {
                return Ok(Lease {
                    session: s.clone(),
                    _in_flight: g,
                });
            }
            // Absent, or closed by a concurrent delete: open a fresh one.
            map.remove(&key);
            let mut evicted = None;
            if map.len() >= self.settings.max_sessions.max(1) {
                let victim = map
                    .iter()
                    .filter(|(_, s)| lock(&s.inner.state).in_flight == 0)
                    .min_by_key(|(_, s)| lock(&s.inner.state).last_used)
                    .map(|(k, _)| k.clone());
                match victim {
                    Some(k) => evicted = map.remove(&k),
                    None => return Err(SessionError::Full(map.len())),
                }
            }
            let s = Session::with(
                self.host.clone(),
                self.lasting.clone(),
                key.clone(),
                root.to_path_buf(),
                self.settings.max_concurrent_per_session,
                self.counters.clone(),
            );
            let g = s.begin().ok_or(SessionError::Closed)?;
            map.insert(key, s.clone());
            (
                Lease {
                    session: s,
                    _in_flight: g,
                },
                evicted,
            )
        };
        if let Some(v) = evicted {
            self.counters.evicted.fetch_add(1, Ordering::Relaxed);
            v.close(CloseReason::Evicted).await;
        }
        Ok(lease)
    }

    /// A session outside the table for one call (the caller closes it), counted with the
    /// table's sandboxes.
    pub fn one_shot(&self, key: SessionKey, root: &Path) -> Session {
        Session::with(
            self.host.clone(),
            self.lasting.clone(),
            key,
            root.to_path_buf(),
            self.settings.max_concurrent_per_session,
            self.counters.clone(),
        )
    }

    /// Closes the session `key`; false if it was not open.
    pub async fn close(&self, key: &SessionKey) -> bool {
        let s = lock(&self.sessions).remove(key);
        match s {
            Some(s) => {
                s.close(CloseReason::Explicit).await;
                true
            }
            None => false,
        }
    }

    /// Closes every session of `scope` with id `id` (over any layer); returns how many.
    pub async fn close_id(&self, scope: &str, id: &str) -> usize {
        let found: Vec<Session> = {
            let mut map = lock(&self.sessions);
            let keys: Vec<SessionKey> = map
                .keys()
                .filter(|k| k.scope == scope && k.id == id)
                .cloned()
                .collect();
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        for s in &found {
            s.close(CloseReason::Explicit).await;
        }
        found.len()
    }

    /// Closes the sessions idle for `idle_timeout` or longer; returns how many.
    pub async fn reap_idle(&self) -> usize {
        let idle = self.settings.idle_timeout;
        let expired: Vec<Session> = {
            let mut map = lock(&self.sessions);
            let keys: Vec<SessionKey> = map
                .iter()
                .filter(|(_, s)| s.idle_time() >= idle && lock(&s.inner.state).in_flight == 0)
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        let n = expired.len();
        self.counters.expired.fetch_add(n as u64, Ordering::Relaxed);
        futures::future::join_all(expired.iter().map(|s| s.close(CloseReason::Idle))).await;
        if let Some(l) = &self.lasting {
            l.expire_paused().await;
        }
        n
    }

    /// Runs [`SessionTable::reap_idle`] periodically until the table is dropped.
    pub fn spawn_reaper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let every = (self.settings.idle_timeout / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(30));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(table) = weak.upgrade() else { break };
                table.reap_idle().await;
            }
        })
    }

    /// Closes every session (sandboxes included); returns the close errors.
    pub async fn close_all(&self) -> Vec<String> {
        let all: Vec<Session> = lock(&self.sessions).drain().map(|(_, s)| s).collect();
        let mut errors: Vec<String> =
            futures::future::join_all(all.iter().map(|s| s.close(CloseReason::Shutdown)))
                .await
                .into_iter()
                .flatten()
                .collect();
        if let Some(l) = &self.lasting {
            errors.extend(l.shutdown().await);
        }
        errors
    }

    /// The counters.
    pub fn stats(&self) -> SessionStats {
        SessionStats {
            open: lock(&self.sessions).len(),
            sandboxes_created: self.counters.created.load(Ordering::Relaxed),
            sandboxes_closed: self.counters.closed.load(Ordering::Relaxed),
            expired: self.counters.expired.load(Ordering::Relaxed),
            evicted: self.counters.evicted.load(Ordering::Relaxed),
            sandboxes_paused: self.counters.paused.load(Ordering::Relaxed),
            sandboxes_resumed: self.counters.resumed.load(Ordering::Relaxed),
            sandboxes_pooled: self.counters.pooled.load(Ordering::Relaxed),
        }
    }
}
