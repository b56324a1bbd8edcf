//! A running host's instance lease: a heartbeat in the session store every
//! [`HEARTBEAT_EVERY`](super::store::HEARTBEAT_EVERY) while the host lives, released when it shuts
//! down in order. `sweep` leaves the sandboxes of an instance with a live lease alone (see the
//! [`store`](super::store) module).
//!
//! Nothing here is on a command's path: the first heartbeat is written by a background task, off
//! the async threads, so a one-shot `exec` does not wait for the store.

use std::sync::{Arc, Mutex};

use super::store::{HEARTBEAT_EVERY, Instance, Store, StoreError, now_secs};

#[derive(Debug, Default)]
struct State {
    /// Released: no heartbeat is written any more.
    released: bool,
    /// A heartbeat was written (so there is something to release).
    written: bool,
    /// A failed heartbeat was logged as a warning (the next ones are logged at debug).
    warned: bool,
}

/// The heartbeat of one host instance, beating until released or dropped.
#[derive(Debug)]
pub struct HostLease {
    instance_id: String,
    store: Store,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl HostLease {
    /// Starts beating for `instance_id` in `store` in the background (the first heartbeat at
    /// once). `None`, with a warning, outside a tokio runtime.
    pub fn start(store: Store, instance_id: String) -> Option<HostLease> {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(instance = %instance_id, "no async runtime: this host holds no lease, so `atlas-sandbox sweep` may delete its sandboxes");
            return None;
        };
        let state = Arc::new(Mutex::new(State::default()));
        let task = rt.spawn(beat(store.clone(), instance_id.clone(), state.clone()));
        Some(HostLease {
            instance_id,
            store,
            state,
            task,
        })
    }

    /// The instance id it holds.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Stops the heartbeat and removes the lease from the store (when one was written), so the
    /// host's leftovers, if any, are `sweep`'s at once. Idempotent.
    pub async fn release(&self) {
        self.task.abort();
        let (store, id, state) = (
            self.store.clone(),
            self.instance_id.clone(),
            self.state.clone(),
        );
        // Under the state's lock: a heartbeat being written finishes first, and none follows.
        let released = tokio::task::spawn_blocking(move || {
            let mut s = lock(&state);
            if std::mem::replace(&mut s.released, true) || !s.written {
                return Ok(());
            }
            store.release(&id)
        })
        .await;
        match released {
            Ok(Ok(())) => {
                tracing::debug!(instance = %self.instance_id, "released the instance lease")
            }
            Ok(Err(e)) => {
                tracing::warn!(instance = %self.instance_id, error = %e, "could not release the instance lease; it lapses on its own")
            }
            Err(e) => {
                tracing::warn!(instance = %self.instance_id, error = %e, "could not release the instance lease; it lapses on its own")
            }
        }
    }
}

impl Drop for HostLease {
    fn drop(&mut self) {
        // Without a release the lease lapses after `LEASE`, as a killed host's does.
        self.task.abort();
    }
}

async fn beat(store: Store, id: String, state: Arc<Mutex<State>>) {
    let mut me = Instance::this_process();
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        me.heartbeat = now_secs();
        let (s, i, m, st) = (store.clone(), id.clone(), me.clone(), state.clone());
        let wrote = tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            let mut g = lock(&st);
            if g.released {
                return Ok(());
            }
            s.heartbeat(&i, &m)?;
            g.written = true;
            Ok(())
        })
        .await;
        let error = match wrote {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        let first = !std::mem::replace(&mut lock(&state).warned, true);
        if first {
            tracing::warn!(instance = %id, error = %error, "could not write the instance heartbeat; until it is written, `atlas-sandbox sweep` may take this host for gone and delete its sandboxes");
        } else {
            tracing::debug!(instance = %id, error = %error, "could not write the instance heartbeat");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::LEASE;
    use super::*;

    async fn written(store: &Store, id: &str) {
        for _ in 0..400 {
            if store.live_instances(LEASE).unwrap().contains(id) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no heartbeat of {id}");
    }

    #[tokio::test]
    async fn beats_at_once_and_release_removes_the_lease() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path().join("sessions.db"));
        let lease = HostLease::start(store.clone(), "host-1".into()).unwrap();
        assert_eq!(lease.instance_id(), "host-1");
        written(&store, "host-1").await;
        assert_eq!(store.instances().unwrap()["host-1"].pid, std::process::id());
        lease.release().await;
        assert!(store.instances().unwrap().is_empty());
        lease.release().await;
        // No heartbeat after the release, even if the task had one under way.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(store.instances().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_dropped_lease_is_left_to_lapse() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path().join("sessions.db"));
        let lease = HostLease::start(store.clone(), "host-2".into()).unwrap();
        written(&store, "host-2").await;
        drop(lease);
        // As after a kill -9: the entry stays until LEASE has passed since its last heartbeat.
        assert!(store.instances().unwrap().contains_key("host-2"));
    }

    #[test]
    fn no_runtime_no_lease() {
        let d = tempfile::tempdir().unwrap();
        assert!(HostLease::start(Store::new(d.path().join("s.db")), "x".into()).is_none());
    }
}
