//! The session → sandbox map of persistent sessions, and the leases of running host instances, in
//! one redb file (`sandbox.state_path`).
//!
//! Each operation opens the file, runs one transaction and closes it again, so another process
//! (`atlas-sandbox sessions`, `sweep`, a second server) can read the same file between two
//! operations; redb locks the file while it is open, and an operation that finds it locked
//! retries for a moment. A file that cannot be read as a store (corrupt, another format) is
//! moved aside with a warning and a new, empty one is started: losing the map costs a fresh
//! sandbox per session (and `sweep` finds the old ones), never a crash.
//!
//! **Instance leases.** The `sessions` table records only persistent sessions, but a running host
//! also has sandboxes no entry owns: those of its non-persistent sessions and of its warm pools.
//! So a host with a cloud backend writes a heartbeat under its instance id (the
//! [`atlas_sandbox_sdk::INSTANCE_TAG`] its sandboxes carry) every [`HEARTBEAT_EVERY`], and
//! releases it when it shuts down in order. `sweep` leaves alone every sandbox whose instance beat
//! within the last [`LEASE`]: that host is still running. A host killed with `kill -9` stops
//! beating, and after [`LEASE`] its sandboxes are swept as before.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// session key → JSON of [`Entry`].
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// instance id → JSON of [`Instance`].
const INSTANCES: TableDefinition<&str, &[u8]> = TableDefinition::new("instances");
/// How long an operation waits for another process to release the file.
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// How long an instance's heartbeat keeps its sandboxes from `sweep`: three missed heartbeats.
/// Long enough that a host whose store was held by another process for a moment (or a machine
/// briefly too busy to run the heartbeat) is not taken for dead; short enough that after a
/// `kill -9` the sweep can clean up within a couple of minutes.
pub const LEASE: Duration = Duration::from_secs(90);
/// How often a running host writes its heartbeat.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);
/// A lease whose last heartbeat is older than this is deleted on the next heartbeat of any
/// instance: its host is long gone, and the entry would only grow the table.
pub const PRUNE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// One running (or once running) host instance's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Its process id.
    pub pid: u32,
    /// The machine's host name, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// When the host started (Unix seconds).
    pub started: u64,
    /// Its last heartbeat (Unix seconds).
    pub heartbeat: u64,
}

impl Instance {
    /// This process, started and beating now.
    pub fn this_process() -> Instance {
        let now = now_secs();
        Instance {
            pid: std::process::id(),
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty()),
            started: now,
            heartbeat: now,
        }
    }

    /// Whether its last heartbeat is within `lease` of now.
    pub fn is_live(&self, lease: Duration) -> bool {
        now_secs().saturating_sub(self.heartbeat) <= lease.as_secs()
    }
}

/// Whether a recorded sandbox is in use or paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Serving a session of a running host (or of a host that died without pausing it).
    Live,
    /// Paused, waiting for its session's next call.
    Paused,
}

/// One persistent session's sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The backend id.
    pub backend: String,
    /// The vendor's sandbox id.
    pub sandbox_id: String,
    /// Live or paused.
    pub state: EntryState,
    /// When it was created (Unix seconds).
    pub created: u64,
    /// When it was last used: paused, resumed or created (Unix seconds).
    pub touched: u64,
}

impl Entry {
    /// Seconds since `touched`.
    pub fn idle(&self) -> Duration {
        Duration::from_secs(now_secs().saturating_sub(self.touched))
    }
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The store at one path.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

/// A store operation that failed (the caller logs it; the session goes on).
#[derive(Debug, thiserror::Error)]
#[error("session store {path}: {message}")]
pub struct StoreError {
    path: String,
    message: String,
}

/// The default `state_path`: `$XDG_STATE_HOME/atlas-sandbox/sessions.db`, else
/// `$HOME/.local/state/atlas-sandbox/sessions.db`, else `./.atlas-sandbox/sessions.db`.
pub fn default_state_path(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    env("XDG_STATE_HOME")
        .filter(|v| Path::new(v).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|v| Path::new(v).is_absolute())
                .map(|h| Path::new(&h).join(".local/state"))
        })
        .map_or_else(
            || PathBuf::from(".atlas-sandbox"),
            |base| base.join("atlas-sandbox"),
        )
        .join("sessions.db")
}

impl Store {
    /// The store at `path`; nothing is read until the first operation.
    pub fn new(path: impl Into<PathBuf>) -> Store {
        Store { path: path.into() }
    }

    /// Its file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, message: impl std::fmt::Display) -> StoreError {
        StoreError {
            path: self.path.display().to_string(),
            message: message.to_string(),
        }
    }

    /// Opens (creating) the file, waiting for another process that holds it. A file that is
    /// not a readable store is moved aside (`<name>.corrupt-<unix secs>`) with a warning.
    fn open(&self) -> Result<Database, StoreError> {
        if let Some(dir) = self.path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| self.err(format!("cannot create its directory: {e}")))?;
        }
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let mut moved_aside = false;
        loop {
            match Database::create(&self.path) {
                Ok(db) => return Ok(db),
                Err(DatabaseError::DatabaseAlreadyOpen) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(DatabaseError::DatabaseAlreadyOpen) => {
                    return Err(self.err("held open by another process for more than 3s"));
                }
                Err(e) if !moved_aside => {
                    let aside = self
                        .path
                        .with_extension(format!("db.corrupt-{}", now_secs()));
                    tracing::warn!(
                        store = %self.path.display(),
                        moved_to = %aside.display(),
                        error = %e,
                        "the session store is unreadable; starting an empty one (persistent \
                         sessions get fresh sandboxes; `atlas-sandbox sweep` finds the old ones)"
                    );
                    std::fs::rename(&self.path, &aside).map_err(|r| {
                        self.err(format!("unreadable ({e}) and cannot be moved aside: {r}"))
                    })?;
                    moved_aside = true;
                }
                Err(e) => return Err(self.err(e)),
            }
        }
    }

    /// Every entry. A missing file is an empty map.
    pub fn all(&self) -> Result<BTreeMap<String, Entry>, StoreError> {
        self.read_all(SESSIONS, "session entry")
    }

    /// Every row of `table` as JSON of `T`; a missing file or table is empty, and a row that
    /// does not read as `T` is skipped with a warning (`what` names it), never an error.
    fn read_all<T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        what: &str,
    ) -> Result<BTreeMap<String, T>, StoreError> {
        if !self.path.exists() {
            return Ok(BTreeMap::new());
        }
        let db = self.open()?;
        let tx = db.begin_read().map_err(|e| self.err(e))?;
        let table = match tx.open_table(table) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.err(e)),
        };
        let mut out = BTreeMap::new();
        for row in table.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            match serde_json::from_slice::<T>(v.value()) {
                Ok(t) => {
                    out.insert(k.value().to_owned(), t);
                }
                Err(e) => {
                    tracing::warn!(store = %self.path.display(), key = %k.value(), error = %e, "skipping an unreadable {what}");
                }
            }
        }
        Ok(out)
    }

    /// The entry of `key`.
    pub fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        Ok(self.all()?.remove(key))
    }

    /// Sets the entry of `key`.
    pub fn put(&self, key: &str, entry: &Entry) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(entry).map_err(|e| self.err(e))?;
        self.write(SESSIONS, |t| {
            t.insert(key, bytes.as_slice())?;
            Ok(())
        })
    }

    /// Removes the entry of `key` if it still names `sandbox_id` (another host may have
    /// recorded a newer sandbox meanwhile).
    pub fn remove(&self, key: &str, sandbox_id: &str) -> Result<(), StoreError> {
        if !self.path.exists() {
            return Ok(());
        }
        self.write(SESSIONS, |t| {
            let current = t
                .get(key)?
                .and_then(|v| serde_json::from_slice::<Entry>(v.value()).ok());
            if current.is_some_and(|e| e.sandbox_id == sandbox_id) {
                t.remove(key)?;
            }
            Ok(())
        })
    }

    /// Records a heartbeat of `instance_id` (its entry replaced by `instance`), and deletes the
    /// leases of other instances that have not beaten for [`PRUNE_AFTER`].
    pub fn heartbeat(&self, instance_id: &str, instance: &Instance) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(instance).map_err(|e| self.err(e))?;
        let oldest = now_secs().saturating_sub(PRUNE_AFTER.as_secs());
        self.write(INSTANCES, |t| {
            // An entry that does not parse is pruned too: nothing can read it.
            t.retain(|k, v| {
                k == instance_id
                    || serde_json::from_slice::<Instance>(v).is_ok_and(|i| i.heartbeat >= oldest)
            })?;
            t.insert(instance_id, bytes.as_slice())?;
            Ok(())
        })
    }

    /// Removes the lease of `instance_id` (its host shut down in order).
    pub fn release(&self, instance_id: &str) -> Result<(), StoreError> {
        if !self.path.exists() {
            return Ok(());
        }
        self.write(INSTANCES, |t| {
            t.remove(instance_id)?;
            Ok(())
        })
    }

    /// Every recorded lease, live or stale. A missing file has none.
    pub fn instances(&self) -> Result<BTreeMap<String, Instance>, StoreError> {
        self.read_all(INSTANCES, "instance lease")
    }

    /// The ids of the instances whose last heartbeat is within `lease` of now: hosts that are
    /// running (see [`LEASE`]).
    pub fn live_instances(&self, lease: Duration) -> Result<BTreeSet<String>, StoreError> {
        Ok(self
            .instances()?
            .into_iter()
            .filter(|(_, i)| i.is_live(lease))
            .map(|(k, _)| k)
            .collect())
    }

    fn write(
        &self,
        table: TableDefinition<'_, &str, &[u8]>,
        f: impl FnOnce(&mut redb::Table<'_, &str, &[u8]>) -> Result<(), redb::StorageError>,
    ) -> Result<(), StoreError> {
        let db = self.open()?;
        let tx = db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut t = tx.open_table(table).map_err(|e| self.err(e))?;
            f(&mut t).map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, state: EntryState) -> Entry {
        Entry {
            backend: "e2b".into(),
            sandbox_id: id.into(),
            state,
            created: 1,
            touched: now_secs(),
        }
    }

    #[test]
    fn round_trip_and_conditional_remove() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path().join("a/b/sessions.db"));
        assert!(s.all().unwrap().is_empty(), "missing file: empty map");
        s.put("stdio:default", &entry("sb1", EntryState::Live))
            .unwrap();
        s.put("t:default:x", &entry("sb2", EntryState::Paused))
            .unwrap();
        assert_eq!(s.get("stdio:default").unwrap().unwrap().sandbox_id, "sb1");
        s.remove("stdio:default", "other").unwrap();
        assert!(
            s.get("stdio:default").unwrap().is_some(),
            "another id: kept"
        );
        s.remove("stdio:default", "sb1").unwrap();
        assert!(s.get("stdio:default").unwrap().is_none());
        // A second handle (a restarted host) sees the same map.
        let again = Store::new(s.path());
        assert_eq!(again.all().unwrap().len(), 1);
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_and_starts_empty() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sessions.db");
        std::fs::write(
            &p,
            b"this is not a redb file, just some bytes that are long enough",
        )
        .unwrap();
        let s = Store::new(&p);
        assert!(s.all().unwrap().is_empty());
        s.put("k", &entry("sb", EntryState::Paused)).unwrap();
        assert_eq!(s.all().unwrap().len(), 1);
        let aside = std::fs::read_dir(d.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
            .count();
        assert_eq!(aside, 1);
    }

    fn beat_at(heartbeat: u64) -> Instance {
        Instance {
            pid: 42,
            hostname: Some("h".into()),
            started: heartbeat,
            heartbeat,
        }
    }

    #[test]
    fn a_fresh_lease_is_live_and_a_stale_one_is_not() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path().join("sessions.db"));
        assert!(s.live_instances(LEASE).unwrap().is_empty(), "missing file");
        s.heartbeat("fresh", &Instance::this_process()).unwrap();
        s.heartbeat("stale", &beat_at(now_secs() - LEASE.as_secs() - 5))
            .unwrap();
        s.heartbeat("edge", &beat_at(now_secs() - LEASE.as_secs() + 5))
            .unwrap();
        let live = s.live_instances(LEASE).unwrap();
        assert_eq!(
            live,
            BTreeSet::from(["edge".to_owned(), "fresh".to_owned()])
        );
        assert_eq!(s.instances().unwrap().len(), 3, "a stale lease is kept");
        // Whole seconds: a heartbeat just made is live under a one-second lease even when a
        // second boundary falls between the two calls.
        s.heartbeat("fresh", &Instance::this_process()).unwrap();
        assert!(
            s.live_instances(Duration::from_secs(1))
                .unwrap()
                .contains("fresh")
        );
        // A later heartbeat renews a stale lease.
        s.heartbeat("stale", &beat_at(now_secs())).unwrap();
        assert!(s.live_instances(LEASE).unwrap().contains("stale"));
        let mine = &s.instances().unwrap()["fresh"];
        assert_eq!(mine.pid, std::process::id());
        // The leases live beside the sessions, not in their table.
        assert!(s.all().unwrap().is_empty());
    }

    #[test]
    fn a_released_lease_is_gone_and_old_ones_are_pruned() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path().join("sessions.db"));
        s.release("never").unwrap();
        assert!(!s.path().exists(), "releasing creates no file");
        s.put("k", &entry("sb", EntryState::Paused)).unwrap();
        s.heartbeat("a", &beat_at(now_secs())).unwrap();
        s.heartbeat("b", &beat_at(now_secs())).unwrap();
        s.release("a").unwrap();
        s.release("a").unwrap();
        assert_eq!(
            s.live_instances(LEASE).unwrap(),
            BTreeSet::from(["b".to_owned()])
        );
        let ancient = now_secs() - PRUNE_AFTER.as_secs() - 60;
        s.heartbeat("dead", &beat_at(ancient)).unwrap();
        assert!(
            s.instances().unwrap().contains_key("dead"),
            "the beating instance's own entry is never pruned"
        );
        s.heartbeat("b", &beat_at(now_secs())).unwrap();
        assert_eq!(
            s.instances().unwrap().keys().collect::<Vec<_>>(),
            ["b"],
            "another instance's heartbeat prunes a lease a day old"
        );
        assert_eq!(s.all().unwrap().len(), 1, "the sessions are untouched");
    }

    #[test]
    fn a_corrupt_file_has_no_leases_and_takes_new_ones() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sessions.db");
        std::fs::write(
            &p,
            b"this is not a redb file, just some bytes that are long enough",
        )
        .unwrap();
        let s = Store::new(&p);
        assert!(s.live_instances(LEASE).unwrap().is_empty());
        s.heartbeat("a", &Instance::this_process()).unwrap();
        assert!(s.live_instances(LEASE).unwrap().contains("a"));
        // An entry that is not an instance is skipped when read, and pruned on a heartbeat.
        s.write(INSTANCES, |t| {
            t.insert("garbage", b"{not json".as_slice())?;
            Ok(())
        })
        .unwrap();
        assert_eq!(
            s.live_instances(LEASE).unwrap(),
            BTreeSet::from(["a".to_owned()])
        );
        s.heartbeat("a", &Instance::this_process()).unwrap();
        use redb::ReadableTableMetadata as _;
        let db = s.open().unwrap();
        let tx = db.begin_read().unwrap();
        assert_eq!(tx.open_table(INSTANCES).unwrap().len().unwrap(), 1);
    }

    #[test]
    fn default_path_follows_xdg() {
        let env = |k: &str| match k {
            "XDG_STATE_HOME" => Some("/s".to_owned()),
            "HOME" => Some("/h".to_owned()),
            _ => None,
        };
        assert_eq!(
            default_state_path(env),
            PathBuf::from("/s/atlas-sandbox/sessions.db")
        );
        let env = |k: &str| (k == "HOME").then(|| "/h".to_owned());
        assert_eq!(
            default_state_path(env),
            PathBuf::from("/h/.local/state/atlas-sandbox/sessions.db")
        );
        assert_eq!(
            default_state_path(|_| None),
            PathBuf::from(".atlas-sandbox/sessions.db")
        );
    }
}
