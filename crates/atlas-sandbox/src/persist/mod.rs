//! Cloud sandboxes that outlive a session: paused when the session goes idle or the host shuts
//! down, resumed on the session's next call (after a restart too, through the [`store`]), pooled
//! ahead of demand, and capped.
//!
//! One [`Lasting`] serves the backend selection picks, when that backend offers
//! [`atlas_sandbox_sdk::Persistence`] and its table asks for any of it (`persistent`,
//! `pool_size`/`pools`, `max_sandboxes`). The session table hands it every session's sandbox
//! creation; what it hands back is a [`LastingSandbox`], which knows how to pause itself into the
//! store and how to replace a sandbox that vanished.
//!
//! The accounting behind `max_sandboxes` counts this process's live sandboxes, its pooled ones
//! (ready or being made), and every sandbox of the backend the store records that this process
//! is not using (paused ones, and live ones of a host that died). At the cap the least recently
//! used paused one is deleted first; when none is paused, a new session waits up to
//! [`CAPACITY_WAIT`] for one to free up, then gets a clear "at capacity" error.

mod lease;
mod pool;
mod report;
pub mod store;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use atlas_sandbox_sdk::{
    Error, ErrorKind, ExecOutput, ExecRequest, Persistence, Result, Sandbox, SandboxPlugin,
    SemanticLayer, SessionPolicy, async_trait,
};

use crate::host::Host;
use crate::session::SessionKey;
pub use lease::HostLease;
pub use report::{SandboxRow, sessions, sweep_unowned};
pub use store::{
    Entry, EntryState, HEARTBEAT_EVERY, Instance, LEASE, Store, StoreError, default_state_path,
};

/// How long a new session waits for a free slot when every sandbox under the cap is live.
pub const CAPACITY_WAIT: Duration = Duration::from_secs(2);

/// The key a session is stored under: `scope:layer:id`, or `stdio:<layer>` for the implicit
/// session of a stdio server.
pub fn store_key(key: &SessionKey) -> String {
    if key.scope == "stdio" && key.id == "stdio" {
        format!("stdio:{}", key.layer)
    } else {
        key.to_string()
    }
}

/// How a session got its sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Created for it (create + upload).
    Created,
    /// Taken from the warm pool.
    Pooled,
    /// Its paused (or still running) sandbox, resumed.
    Resumed,
}

#[derive(Debug, Default)]
struct Ledger {
    /// Sandboxes of this process serving sessions (or reserved for one being created).
    live: usize,
    /// Pooled sandboxes, ready or being created.
    pooled: usize,
}

/// The persistent-session, pool and cap manager of one backend.
pub struct Lasting {
    backend: String,
    plugin: Arc<dyn SandboxPlugin>,
    policy: SessionPolicy,
    store: Store,
    ledger: tokio::sync::Mutex<Ledger>,
    /// Store keys this process holds live (their entries are counted in `ledger.live`).
    mine: Mutex<HashSet<String>>,
    pools: pool::Pools,
    closed: AtomicBool,
}

impl std::fmt::Debug for Lasting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lasting")
            .field("backend", &self.backend)
            .field("policy", &self.policy)
            .field("store", &self.store.path())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs a store operation off the async threads; a failure is logged and becomes `None`.
async fn on_store<T: Send + 'static>(
    store: &Store,
    what: &'static str,
    f: impl FnOnce(&Store) -> std::result::Result<T, StoreError> + Send + 'static,
) -> Option<T> {
    let s = store.clone();
    match tokio::task::spawn_blocking(move || f(&s)).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, operation = what, "session store operation failed");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, operation = what, "session store task failed");
            None
        }
    }
}

impl Lasting {
    /// The manager for `host`'s selected backend, if that backend has persistence and its
    /// table asks for any (`persistent`, pools, `max_sandboxes`). The store is at `state_path`.
    pub fn for_host(host: &Host, state_path: &Path) -> Option<Arc<Lasting>> {
        let (backend, plugin) = host.lasting_backend()?;
        let policy = plugin.session_policy();
        Some(Lasting::new(
            backend,
            plugin,
            policy,
            Store::new(state_path),
        ))
    }

    /// A manager over one plugin (which must offer persistence for `persistent` and pools).
    pub fn new(
        backend: String,
        plugin: Arc<dyn SandboxPlugin>,
        policy: SessionPolicy,
        store: Store,
    ) -> Arc<Lasting> {
        Arc::new(Lasting {
            backend,
            plugin,
            policy,
            store,
            ledger: tokio::sync::Mutex::new(Ledger::default()),
            mine: Mutex::new(HashSet::new()),
            pools: pool::Pools::default(),
            closed: AtomicBool::new(false),
        })
    }

    /// The backend it serves.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// Its policy.
    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// Its store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn persistence(&self) -> Result<&dyn Persistence> {
        self.plugin.persistence().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "backend '{}' cannot pause, resume or pool sandboxes",
                    self.backend
                ),
            )
            .with_backend(self.plugin.id())
        })
    }

    /// A sandbox for the session `key` over `root`: its recorded sandbox resumed, else a
    /// pooled one, else a new one (within the cap).
    pub async fn acquire(
        self: &Arc<Self>,
        key: &SessionKey,
        root: &Path,
    ) -> Result<(Arc<LastingSandbox>, Origin)> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(
                ErrorKind::Unavailable,
                "the host is shutting down; no new sandboxes",
            ));
        }
        let skey = store_key(key);
        if self.policy.persistent
            && let Some(sb) = self.try_resume(&skey, root).await
        {
            return Ok((sb, Origin::Resumed));
        }
        if let Some(sb) = self.pools.take(&key.layer) {
            {
                let mut l = self.ledger.lock().await;
                l.pooled = l.pooled.saturating_sub(1);
                l.live += 1;
            }
            self.pools.wake();
            let sb = self.adopt(&skey, root, Arc::from(sb)).await;
            tracing::debug!(session = %skey, backend = %self.backend, "session took a pooled sandbox");
            return Ok((sb, Origin::Pooled));
        }
        let sb = self.create_for(&skey, root).await?;
        Ok((sb, Origin::Created))
    }

    /// The session's recorded sandbox, resumed; `None` (after a loud warning, the old sandbox
    /// deleted and forgotten) when it cannot be.
    async fn try_resume(self: &Arc<Self>, skey: &str, root: &Path) -> Option<Arc<LastingSandbox>> {
        let k = skey.to_owned();
        let entry = on_store(&self.store, "read", move |s| s.get(&k))
            .await
            .flatten()?;
        if entry.backend != self.backend {
            return None;
        }
        if lock(&self.mine).contains(skey) {
            // Another session object of this process holds it live (a race on one key).
            return None;
        }
        // Resuming turns a sandbox the ledger counts through the store into a live one of ours:
        // the total does not change, so no cap check.
        self.ledger.lock().await.live += 1;
        lock(&self.mine).insert(skey.to_owned());
        let p = match self.persistence() {
            Ok(p) => p,
            Err(_) => {
                self.release(skey).await;
                return None;
            }
        };
        match p.resume(&entry.sandbox_id).await {
            Ok(sb) => {
                let mut e = entry.clone();
                e.state = EntryState::Live;
                e.touched = store::now_secs();
                let k = skey.to_owned();
                on_store(&self.store, "record resume", move |s| s.put(&k, &e)).await;
                tracing::info!(session = %skey, sandbox = %entry.sandbox_id, backend = %self.backend, "resumed the session's sandbox");
                Some(self.wrap(skey, root, Arc::from(sb), &entry.sandbox_id))
            }
            Err(err) => {
                tracing::warn!(
                    session = %skey,
                    sandbox = %entry.sandbox_id,
                    backend = %self.backend,
                    error = %err,
                    "could not resume the session's sandbox; deleting it and creating a fresh \
                     one (files written in the old sandbox are lost)"
                );
                if let Err(d) = p.delete(&entry.sandbox_id).await {
                    tracing::warn!(sandbox = %entry.sandbox_id, error = %d, "could not delete the sandbox that failed to resume; `atlas-sandbox sweep` will find it");
                }
                let (k, id) = (skey.to_owned(), entry.sandbox_id.clone());
                on_store(&self.store, "forget", move |s| s.remove(&k, &id)).await;
                self.release(skey).await;
                None
            }
        }
    }

    /// Creates a sandbox for a session, within the cap.
    async fn create_for(self: &Arc<Self>, skey: &str, root: &Path) -> Result<Arc<LastingSandbox>> {
        self.reserve(false).await?;
        lock(&self.mine).insert(skey.to_owned());
        let made = async {
            let layer = SemanticLayer::open(root).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidRequest,
                    format!("semantic root {} is not usable: {e}", root.display()),
                )
            })?;
            if self.policy.persistent {
                self.persistence()?.create_persistent(&layer, skey).await
            } else {
                self.plugin.create(&layer).await
            }
        }
        .await;
        match made {
            Ok(sb) => Ok(self.adopt(skey, root, Arc::from(sb)).await),
            Err(e) => {
                self.release(skey).await;
                Err(e)
            }
        }
    }

    /// Records a new sandbox of a persistent session and wraps it.
    async fn adopt(
        self: &Arc<Self>,
        skey: &str,
        root: &Path,
        sb: Arc<dyn Sandbox>,
    ) -> Arc<LastingSandbox> {
        lock(&self.mine).insert(skey.to_owned());
        let id = sb.remote_id().unwrap_or_default();
        if self.policy.persistent && !id.is_empty() {
            let now = store::now_secs();
            let e = Entry {
                backend: self.backend.clone(),
                sandbox_id: id.clone(),
                state: EntryState::Live,
                created: now,
                touched: now,
            };
            let k = skey.to_owned();
            on_store(&self.store, "record", move |s| s.put(&k, &e)).await;
        }
        self.wrap(skey, root, sb, &id)
    }

    fn wrap(
        self: &Arc<Self>,
        skey: &str,
        root: &Path,
        sb: Arc<dyn Sandbox>,
        id: &str,
    ) -> Arc<LastingSandbox> {
        Arc::new(LastingSandbox {
            mgr: self.clone(),
            skey: skey.to_owned(),
            root: root.to_path_buf(),
            current: tokio::sync::RwLock::new(sb),
            id: Mutex::new(id.to_owned()),
            done: AtomicBool::new(false),
        })
    }

    /// Counts one more sandbox (a session's, or a pool's with `pooled`) under the cap: deletes
    /// the least recently used paused sandbox when at the cap, waits up to [`CAPACITY_WAIT`]
    /// when every one is live, then refuses. A pool never evicts a paused session's sandbox
    /// and never waits.
    async fn reserve(&self, pooled: bool) -> Result<()> {
        let deadline = tokio::time::Instant::now() + CAPACITY_WAIT;
        loop {
            {
                let mut l = self.ledger.lock().await;
                let Some(max) = self.policy.max_sandboxes else {
                    if pooled {
                        l.pooled += 1;
                    } else {
                        l.live += 1;
                    }
                    return Ok(());
                };
                let others = self.recorded_elsewhere().await;
                let used = l.live + l.pooled + others.len();
                if used < max {
                    if pooled {
                        l.pooled += 1;
                    } else {
                        l.live += 1;
                    }
                    return Ok(());
                }
                if pooled {
                    return Err(self.at_capacity(max));
                }
                let lru = others
                    .into_iter()
                    .filter(|(_, e)| e.state == EntryState::Paused)
                    .min_by_key(|(_, e)| e.touched);
                if let Some((k, e)) = lru {
                    tracing::info!(
                        session = %k,
                        sandbox = %e.sandbox_id,
                        backend = %self.backend,
                        max_sandboxes = max,
                        "at max_sandboxes: deleting the least recently used paused sandbox"
                    );
                    self.persistence()?.delete(&e.sandbox_id).await?;
                    on_store(&self.store, "forget evicted", move |s| {
                        s.remove(&k, &e.sandbox_id)
                    })
                    .await;
                    l.live += 1;
                    return Ok(());
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(self.at_capacity(max));
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn at_capacity(&self, max: usize) -> Error {
        Error::new(
            ErrorKind::RateLimited,
            format!(
                "at capacity: backend '{}' has max_sandboxes = {max} sandboxes and every one is \
                 in use; retry later or raise plugins.{}.max_sandboxes",
                self.backend, self.backend
            ),
        )
        .with_backend(self.plugin.id())
    }

    /// The store's entries of this backend that this process does not hold live.
    async fn recorded_elsewhere(&self) -> Vec<(String, Entry)> {
        if !self.policy.persistent {
            return Vec::new();
        }
        let all = on_store(&self.store, "read", |s| s.all())
            .await
            .unwrap_or_default();
        let mine = lock(&self.mine).clone();
        all.into_iter()
            .filter(|(k, e)| e.backend == self.backend && !mine.contains(k))
            .collect()
    }

    /// One live sandbox of this process ended (paused into the store, or deleted).
    async fn release(&self, skey: &str) {
        lock(&self.mine).remove(skey);
        let mut l = self.ledger.lock().await;
        l.live = l.live.saturating_sub(1);
    }

    /// Deletes paused sandboxes idle longer than `paused_retention`; returns how many.
    pub async fn expire_paused(&self) -> usize {
        let retention = self.policy.paused_retention;
        let stale: Vec<(String, Entry)> = self
            .recorded_elsewhere()
            .await
            .into_iter()
            .filter(|(_, e)| e.state == EntryState::Paused && e.idle() >= retention)
            .collect();
        let Ok(p) = self.persistence() else { return 0 };
        let mut n = 0;
        for (k, e) in stale {
            match p.delete(&e.sandbox_id).await {
                Ok(()) => {
                    tracing::info!(session = %k, sandbox = %e.sandbox_id, "deleted a sandbox paused longer than paused_retention");
                    on_store(&self.store, "forget expired", move |s| {
                        s.remove(&k, &e.sandbox_id)
                    })
                    .await;
                    n += 1;
                }
                Err(err) => {
                    tracing::warn!(sandbox = %e.sandbox_id, error = %err, "could not delete an expired paused sandbox")
                }
            }
        }
        n
    }

    /// Starts the warm pools of `policy.pools` for the layers whose roots are given (`name →
    /// root`); pools of layers not given are reported and skipped.
    pub fn start_pools(self: &Arc<Self>, roots: &BTreeMap<String, PathBuf>) {
        for (name, size) in &self.policy.pools {
            match roots.get(name) {
                Some(root) => pool::spawn_refill(self, name.clone(), root.clone(), *size),
                None => tracing::warn!(
                    backend = %self.backend,
                    layer = %name,
                    "plugins.{}.pools names a layer this host does not serve (or a pattern \
                     layer, which cannot be pooled); no pool for it",
                    self.backend
                ),
            }
        }
    }

    /// How many pooled sandboxes are ready per layer.
    pub fn pooled(&self) -> HashMap<String, usize> {
        self.pools.ready_counts()
    }

    /// Stops the pools and deletes their sandboxes; no new session is served after.
    pub async fn shutdown(&self) -> Vec<String> {
        self.closed.store(true, Ordering::Release);
        let drained = self.pools.stop();
        let mut errors = Vec::new();
        for sb in drained {
            if let Err(e) = sb.close().await {
                errors.push(format!("{} (pooled): {e}", self.backend));
            }
            let mut l = self.ledger.lock().await;
            l.pooled = l.pooled.saturating_sub(1);
        }
        // A create that was under way deletes its sandbox when it lands; wait for it, so the
        // host does not exit first.
        self.pools.settled(Duration::from_secs(30)).await;
        errors
    }
}

/// A session's sandbox under a [`Lasting`] manager.
pub struct LastingSandbox {
    mgr: Arc<Lasting>,
    skey: String,
    root: PathBuf,
    current: tokio::sync::RwLock<Arc<dyn Sandbox>>,
    id: Mutex<String>,
    done: AtomicBool,
}

impl std::fmt::Debug for LastingSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LastingSandbox")
            .field("session", &self.skey)
            .field("sandbox", &*lock(&self.id))
            .finish()
    }
}

impl LastingSandbox {
    /// Replaces a persistent sandbox that vanished with a fresh one (loudly).
    async fn replace(&self, gone: &Arc<dyn Sandbox>, why: &Error) -> Result<Arc<dyn Sandbox>> {
        let mut cur = self.current.write().await;
        if !Arc::ptr_eq(&cur, gone) {
            return Ok(cur.clone());
        }
        let old = lock(&self.id).clone();
        tracing::warn!(
            session = %self.skey,
            sandbox = %old,
            backend = %self.mgr.backend,
            error = %why,
            "the session's sandbox is gone; creating a fresh one (its files are lost)"
        );
        let layer = SemanticLayer::open(&self.root).map_err(|e| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("semantic root {} is not usable: {e}", self.root.display()),
            )
        })?;
        let fresh: Arc<dyn Sandbox> = Arc::from(
            self.mgr
                .persistence()?
                .create_persistent(&layer, &self.skey)
                .await?,
        );
        let id = fresh.remote_id().unwrap_or_default();
        let now = store::now_secs();
        let e = Entry {
            backend: self.mgr.backend.clone(),
            sandbox_id: id.clone(),
            state: EntryState::Live,
            created: now,
            touched: now,
        };
        let k = self.skey.clone();
        on_store(&self.mgr.store, "record replacement", move |s| {
            s.put(&k, &e)
        })
        .await;
        *lock(&self.id) = id;
        *cur = fresh.clone();
        Ok(fresh)
    }
}

#[async_trait]
impl Sandbox for LastingSandbox {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        let sb = self.current.read().await.clone();
        match sb.exec(request.clone()).await {
            // The command's effects lived in the sandbox that is gone, so running it again in
            // a fresh one cannot apply them twice.
            Err(e) if e.kind() == ErrorKind::SandboxGone && self.mgr.policy.persistent => {
                let fresh = self.replace(&sb, &e).await?;
                fresh.exec(request).await
            }
            r => r,
        }
    }

    async fn close(&self) -> Result<()> {
        if self.done.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let sb = self.current.read().await.clone();
        let r = sb.close().await;
        let (k, id) = (self.skey.clone(), lock(&self.id).clone());
        if self.mgr.policy.persistent {
            on_store(&self.mgr.store, "forget closed", move |s| s.remove(&k, &id)).await;
        }
        self.mgr.release(&self.skey).await;
        r
    }

    fn remote_id(&self) -> Option<String> {
        Some(lock(&self.id).clone()).filter(|id| !id.is_empty())
    }

    /// Pauses into the store. A vendor that refuses is logged loudly and the sandbox deleted
    /// (the session's next call starts fresh): a sandbox we cannot pause must not keep billing.
    async fn pause(&self) -> Result<()> {
        if self.done.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let sb = self.current.read().await.clone();
        let id = lock(&self.id).clone();
        let result = sb.pause().await;
        match &result {
            Ok(()) => {
                let now = store::now_secs();
                let k = self.skey.clone();
                let backend = self.mgr.backend.clone();
                let sid = id.clone();
                on_store(&self.mgr.store, "record pause", move |s| {
                    let created = s.get(&k)?.map(|e| e.created).unwrap_or(now);
                    s.put(
                        &k,
                        &Entry {
                            backend,
                            sandbox_id: sid,
                            state: EntryState::Paused,
                            created,
                            touched: now,
                        },
                    )
                })
                .await;
                tracing::info!(session = %self.skey, sandbox = %id, "paused the session's sandbox");
            }
            Err(e) => {
                tracing::warn!(
                    session = %self.skey,
                    sandbox = %id,
                    backend = %self.mgr.backend,
                    error = %e,
                    "could not pause the session's sandbox; deleting it (the session's next \
                     call gets a fresh sandbox, without the files written so far)"
                );
                let deleted = match self.mgr.persistence() {
                    Ok(p) => p.delete(&id).await,
                    Err(e) => Err(e),
                };
                if let Err(d) = deleted {
                    tracing::warn!(sandbox = %id, error = %d, "could not delete it either; `atlas-sandbox sweep` will find it");
                }
                let k = self.skey.clone();
                on_store(&self.mgr.store, "forget unpaused", move |s| {
                    s.remove(&k, &id)
                })
                .await;
            }
        }
        self.mgr.release(&self.skey).await;
        result
    }
}
