//! Warm pools: sandboxes created and loaded with a layer ahead of demand. A pooled sandbox is
//! taken by exactly one session (it leaves the pool when taken, and is deleted or paused with
//! that session, never put back), and the pool refills in the background, backing off while
//! the vendor refuses.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atlas_sandbox_sdk::{Sandbox, SemanticLayer};
use tokio::sync::Notify;

use super::{Lasting, lock};

/// The first wait after a refused create; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Default)]
struct PoolState {
    ready: HashMap<String, VecDeque<Box<dyn Sandbox>>>,
    stopped: bool,
}

/// The ready sandboxes of every pooled layer.
#[derive(Default)]
pub(super) struct Pools {
    state: Mutex<PoolState>,
    wake: Arc<Notify>,
    /// Creates under way, so a shutdown can wait for them: one that finishes after the pools
    /// stopped deletes its sandbox, and a host that exited before that would leave it behind.
    filling: std::sync::atomic::AtomicUsize,
    filled: Notify,
}

impl Pools {
    /// Takes a ready sandbox of `layer`, if there is one. It is no longer in the pool.
    pub(super) fn take(&self, layer: &str) -> Option<Box<dyn Sandbox>> {
        lock(&self.state).ready.get_mut(layer)?.pop_front()
    }

    /// Wakes the refill tasks.
    pub(super) fn wake(&self) {
        self.wake.notify_waiters();
    }

    pub(super) fn ready_counts(&self) -> HashMap<String, usize> {
        lock(&self.state)
            .ready
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect()
    }

    /// Stops refilling and hands back every ready sandbox (for deletion).
    pub(super) fn stop(&self) -> Vec<Box<dyn Sandbox>> {
        let mut st = lock(&self.state);
        st.stopped = true;
        let out = st.ready.drain().flat_map(|(_, v)| v).collect();
        drop(st);
        self.wake.notify_waiters();
        out
    }

    /// Waits (at most `limit`) until no create of a refill task is under way.
    pub(super) async fn settled(&self, limit: Duration) {
        use std::sync::atomic::Ordering;
        let wait = async {
            loop {
                let notified = self.filled.notified();
                if self.filling.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }

    fn len(&self, layer: &str) -> Option<usize> {
        let st = lock(&self.state);
        if st.stopped {
            return None;
        }
        Some(st.ready.get(layer).map_or(0, VecDeque::len))
    }

    /// Adds a ready sandbox; hands it back when the pools were stopped meanwhile.
    fn put(&self, layer: &str, sb: Box<dyn Sandbox>) -> Option<Box<dyn Sandbox>> {
        let mut st = lock(&self.state);
        if st.stopped {
            return Some(sb);
        }
        st.ready.entry(layer.to_owned()).or_default().push_back(sb);
        None
    }
}

impl std::fmt::Debug for Pools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.ready_counts()).finish()
    }
}

/// Keeps `size` sandboxes of `layer` ready until the manager shuts down or is dropped.
pub(super) fn spawn_refill(mgr: &Arc<Lasting>, layer: String, root: PathBuf, size: usize) {
    let weak = Arc::downgrade(mgr);
    let wake = mgr.pools.wake.clone();
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        loop {
            // Registered before the check, so a take between the check and the wait is seen.
            let notified = wake.notified();
            let Some(mgr) = weak.upgrade() else { return };
            let Some(have) = mgr.pools.len(&layer) else {
                return;
            };
            if have >= size {
                drop(mgr);
                // Also wake now and then: a manager dropped without shutdown ends the task.
                let _ = tokio::time::timeout(Duration::from_secs(30), notified).await;
                continue;
            }
            match fill_one(&mgr, &layer, &root).await {
                Ok(()) => backoff = FIRST_BACKOFF,
                Err(e) => {
                    tracing::warn!(
                        backend = %mgr.backend,
                        layer = %layer,
                        error = %e,
                        retry_in = ?backoff,
                        "could not add a sandbox to the warm pool"
                    );
                    drop(mgr);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    });
}

async fn fill_one(
    mgr: &Arc<Lasting>,
    layer: &str,
    root: &std::path::Path,
) -> atlas_sandbox_sdk::Result<()> {
    mgr.reserve(true).await?;
    // Counted until this create's sandbox is pooled or deleted (see `Pools::settled`).
    struct Filling<'a>(&'a Pools);
    impl Drop for Filling<'_> {
        fn drop(&mut self) {
            self.0
                .filling
                .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            self.0.filled.notify_waiters();
        }
    }
    mgr.pools
        .filling
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let _filling = Filling(&mgr.pools);
    if mgr.pools.len(layer).is_none() {
        // Stopped before this create began (a shutdown may have found none under way).
        let mut l = mgr.ledger.lock().await;
        l.pooled = l.pooled.saturating_sub(1);
        return Ok(());
    }
    let made = async {
        let opened = SemanticLayer::open(root).map_err(|e| {
            atlas_sandbox_sdk::Error::new(
                atlas_sandbox_sdk::ErrorKind::InvalidRequest,
                format!("semantic root {} is not usable: {e}", root.display()),
            )
        })?;
        mgr.persistence()?
            .create_persistent(&opened, &format!("pool:{layer}"))
            .await
    }
    .await;
    match made {
        Ok(sb) => {
            if let Some(back) = mgr.pools.put(layer, sb) {
                // Stopped while it was being made: it is nobody's, delete it.
                let _ = back.close().await;
                let mut l = mgr.ledger.lock().await;
                l.pooled = l.pooled.saturating_sub(1);
            }
            Ok(())
        }
        Err(e) => {
            let mut l = mgr.ledger.lock().await;
            l.pooled = l.pooled.saturating_sub(1);
            Err(e)
        }
    }
}
