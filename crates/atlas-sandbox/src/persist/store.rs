//! The session → sandbox map of persistent sessions, in one redb file (`sandbox.state_path`).
//!
//! Each operation opens the file, runs one transaction and closes it again, so another process
//! (`atlas-sandbox sessions`, `sweep`, a second server) can read the same file between two
//! operations; redb locks the file while it is open, and an operation that finds it locked
//! retries for a moment. A file that cannot be read as a store (corrupt, another format) is
//! moved aside with a warning and a new, empty one is started: losing the map costs a fresh
//! sandbox per session (and `sweep` finds the old ones), never a crash.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// session key → JSON of [`Entry`].
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// How long an operation waits for another process to release the file.
const LOCK_WAIT: Duration = Duration::from_secs(3);

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
        if !self.path.exists() {
            return Ok(BTreeMap::new());
        }
        let db = self.open()?;
        let tx = db.begin_read().map_err(|e| self.err(e))?;
        let table = match tx.open_table(SESSIONS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.err(e)),
        };
        let mut out = BTreeMap::new();
        for row in table.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            match serde_json::from_slice::<Entry>(v.value()) {
                Ok(e) => {
                    out.insert(k.value().to_owned(), e);
                }
                Err(e) => {
                    tracing::warn!(store = %self.path.display(), key = %k.value(), error = %e, "skipping an unreadable session entry");
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
        self.write(|t| {
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
        self.write(|t| {
            let current = t
                .get(key)?
                .and_then(|v| serde_json::from_slice::<Entry>(v.value()).ok());
            if current.is_some_and(|e| e.sandbox_id == sandbox_id) {
                t.remove(key)?;
            }
            Ok(())
        })
    }

    fn write(
        &self,
        f: impl FnOnce(&mut redb::Table<'_, &str, &[u8]>) -> Result<(), redb::StorageError>,
    ) -> Result<(), StoreError> {
        let db = self.open()?;
        let tx = db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut t = tx.open_table(SESSIONS).map_err(|e| self.err(e))?;
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
