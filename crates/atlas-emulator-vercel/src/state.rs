//! The emulator's records (sandboxes, sessions, snapshots, commands and their logs) and the
//! vendor clocks that stop sessions and expire snapshots. Handlers only reach them through
//! the `Data` lock, so the rules about time live here once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use atlas_emulator_kit::{SandboxDir, StreamKind};
use serde_json::{Value, json};

use crate::{KILLED_EXIT_CODE, LOG_CHUNK, OUTPUT_CAP, SESSION_CWD};

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}
pub(crate) fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..24]
    )
}

/// What a finished command left.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    pub(crate) exit_code: i32,
    pub(crate) duration_ms: u64,
}

/// A command's log as it grows: the lines already formed, and per stream the bytes that may
/// still become a character with the next read.
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub(crate) lines: Vec<(&'static str, String)>,
    pending: [Vec<u8>; 2],
    pub(crate) kept: [usize; 2],
    pub(crate) closed: bool,
}

impl Log {
    pub(crate) fn push(&mut self, stream: StreamKind, data: &[u8]) {
        let i = stream_index(stream);
        // The service keeps a bounded log; so does the emulator (the client stops reading
        // long before this).
        let room = OUTPUT_CAP.saturating_sub(self.kept[i]);
        let data = &data[..data.len().min(room)];
        self.kept[i] += data.len();
        self.pending[i].extend_from_slice(data);
        let whole = atlas_sandbox_sdk::complete_utf8_prefix(&self.pending[i]);
        let rest = self.pending[i].split_off(whole);
        let ready = std::mem::replace(&mut self.pending[i], rest);
        self.add_text(stream, &ready);
    }

    pub(crate) fn close(&mut self) {
        for stream in [StreamKind::Stdout, StreamKind::Stderr] {
            let rest = std::mem::take(&mut self.pending[stream_index(stream)]);
            self.add_text(stream, &rest);
        }
        self.closed = true;
    }

    fn add_text(&mut self, stream: StreamKind, bytes: &[u8]) {
        let name = match stream {
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
        };
        // Log lines carry text: bytes that are not UTF-8 become U+FFFD, as on the service.
        let text = String::from_utf8_lossy(bytes);
        let mut rest: &str = &text;
        while !rest.is_empty() {
            let mut end = rest.len().min(LOG_CHUNK);
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            let (chunk, tail) = rest.split_at(end);
            self.lines.push((name, chunk.to_owned()));
            rest = tail;
        }
    }
}

fn stream_index(stream: StreamKind) -> usize {
    match stream {
        StreamKind::Stdout => 0,
        StreamKind::Stderr => 1,
    }
}

#[derive(Debug)]
pub(crate) struct Cmd {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) args: Vec<String>,
    pub(crate) cwd: String,
    pub(crate) session_id: String,
    pub(crate) started_at: u64,
    pub(crate) done: tokio::sync::watch::Sender<Option<Done>>,
    pub(crate) kill: Mutex<Option<tokio::sync::oneshot::Sender<i32>>>,
    pub(crate) log: Mutex<Log>,
    /// Bumped on every change of `log`, to wake its readers.
    pub(crate) log_seq: tokio::sync::watch::Sender<u64>,
}

impl Cmd {
    pub(crate) fn json(&self) -> Value {
        let done = self.done.borrow().clone();
        let mut v = json!({
            "id": self.id, "name": self.name, "args": self.args, "cwd": self.cwd,
            "sessionId": self.session_id, "startedAt": self.started_at,
            "exitCode": done.as_ref().map(|d| d.exit_code),
        });
        if let Some(d) = done {
            v["durationMs"] = json!(d.duration_ms);
        }
        v
    }

    pub(crate) fn signal(&self, sig: i32) {
        if let Some(tx) = self.kill.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(sig);
        }
    }

    pub(crate) async fn finished(&self) -> Done {
        let mut rx = self.done.subscribe();
        loop {
            if let Some(d) = rx.borrow_and_update().clone() {
                return d;
            }
            if rx.changed().await.is_err() {
                return Done {
                    exit_code: KILLED_EXIT_CODE,
                    duration_ms: 0,
                };
            }
        }
    }

    pub(crate) fn log_mut<R>(&self, f: impl FnOnce(&mut Log) -> R) -> R {
        let r = f(&mut self.log.lock().unwrap_or_else(|p| p.into_inner()));
        self.log_seq.send_modify(|n| *n += 1);
        r
    }
}

#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) sandbox: String,
    pub(crate) status: String,
    pub(crate) memory: u64,
    pub(crate) vcpus: u64,
    pub(crate) region: String,
    pub(crate) runtime: Option<String>,
    pub(crate) timeout_ms: u64,
    pub(crate) requested_at: u64,
    pub(crate) started_at: u64,
    pub(crate) stopped_at: Option<u64>,
    pub(crate) updated_at: u64,
    pub(crate) network_policy: Value,
    pub(crate) dir: Option<Arc<SandboxDir>>,
    pub(crate) commands: HashMap<String, Arc<Cmd>>,
}

impl Session {
    pub(crate) fn json(&self) -> Value {
        let mut v = json!({
            "id": self.id, "memory": self.memory, "vcpus": self.vcpus, "region": self.region,
            "timeout": self.timeout_ms, "status": self.status, "requestedAt": self.requested_at,
            "startedAt": self.started_at, "createdAt": self.requested_at, "cwd": SESSION_CWD,
            "updatedAt": self.updated_at, "networkPolicy": self.network_policy,
        });
        if let Some(r) = &self.runtime {
            v["runtime"] = json!(r);
        }
        if let Some(s) = self.stopped_at {
            v["stoppedAt"] = json!(s);
            v["duration"] = json!(s.saturating_sub(self.started_at));
        }
        v
    }

    pub(crate) fn running(&self) -> bool {
        self.status == "running"
    }

    /// Stops the microVM: commands are killed and its files are handed back (a persistent
    /// sandbox snapshots them; otherwise they disappear).
    pub(crate) fn stop(&mut self) -> Option<Arc<SandboxDir>> {
        if !self.running() {
            return None;
        }
        for c in self.commands.values() {
            c.signal(9);
        }
        self.status = "stopped".to_owned();
        let now = now_ms();
        self.stopped_at = Some(now);
        self.updated_at = now;
        self.dir.take()
    }

    /// Milliseconds of compute: from start to stop, or to now while it runs.
    pub(crate) fn compute_ms(&self) -> u64 {
        self.stopped_at
            .unwrap_or_else(now_ms)
            .saturating_sub(self.started_at)
    }
}

/// The filesystem of a persistent sandbox's last stopped session.
#[derive(Debug)]
pub(crate) struct Snap {
    pub(crate) id: String,
    pub(crate) dir: Arc<SandboxDir>,
    taken_at: u64,
    /// Its `snapshotExpiration` in the vendor's milliseconds; `None`: never.
    expiration_ms: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct SandboxRec {
    pub(crate) name: String,
    pub(crate) project_id: String,
    pub(crate) persistent: bool,
    pub(crate) region: String,
    pub(crate) vcpus: u64,
    pub(crate) runtime: Option<String>,
    pub(crate) timeout_ms: u64,
    pub(crate) network_policy: Value,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
    pub(crate) current_session_id: String,
    pub(crate) snapshot_expiration: Option<u64>,
    pub(crate) keep_last_snapshots: Option<Value>,
    pub(crate) snapshot: Option<Snap>,
    /// A snapshot was taken and has since expired: a resume cannot restore it.
    pub(crate) snapshot_lost: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Data {
    pub(crate) sandboxes: BTreeMap<String, SandboxRec>,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) created: usize,
    /// The vendor's clocks run this many times faster (0 or 1: real time).
    pub(crate) time_scale: u64,
}

impl Data {
    pub(crate) fn sandbox_json(&self, sb: &SandboxRec) -> Value {
        let status = self
            .sessions
            .get(&sb.current_session_id)
            .map(|s| s.status.clone())
            .unwrap_or_else(|| "stopped".to_owned());
        let mut v = json!({
            "name": sb.name, "persistent": sb.persistent, "region": sb.region,
            "vcpus": sb.vcpus, "memory": sb.vcpus * 2048,
            "timeout": sb.timeout_ms, "networkPolicy": sb.network_policy,
            "createdAt": sb.created_at, "updatedAt": sb.updated_at,
            "currentSessionId": sb.current_session_id, "status": status, "tags": sb.tags,
            "cwd": SESSION_CWD,
        });
        // Optional fields are absent, never null: the SDK's zod schema rejects null.
        match &sb.runtime {
            Some(r) => v["runtime"] = json!(r),
            None => v["image"] = json!("vercel/sandbox/universal:latest"),
        }
        if let Some(snap) = &sb.snapshot {
            v["currentSnapshotId"] = json!(snap.id);
        }
        if let Some(e) = sb.snapshot_expiration {
            v["snapshotExpiration"] = json!(e);
        }
        if let Some(k) = &sb.keep_last_snapshots {
            v["keepLastSnapshots"] = k.clone();
        }
        v
    }

    /// A duration of the vendor's clock, in the emulator's (scaled) milliseconds.
    fn scaled(&self, ms: u64) -> u64 {
        ms / self.time_scale.max(1)
    }

    /// Stops a session; a persistent sandbox keeps its files as a snapshot that expires after
    /// its `snapshotExpiration`.
    pub(crate) fn stop_session(&mut self, sid: &str) {
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        let Some(dir) = s.stop() else {
            return;
        };
        let name = s.sandbox.clone();
        let expiration_ms = self
            .sandboxes
            .get(&name)
            .and_then(|rec| rec.snapshot_expiration)
            .filter(|ms| *ms > 0);
        if let Some(rec) = self.sandboxes.get_mut(&name)
            && rec.persistent
        {
            rec.snapshot = Some(Snap {
                id: new_id("snap"),
                dir,
                taken_at: now_ms(),
                expiration_ms,
            });
            rec.snapshot_lost = false;
            rec.updated_at = now_ms();
        }
    }

    /// Fires the vendor's clocks: sessions past their timeout stop (and snapshot), snapshots
    /// past their expiration are deleted.
    pub(crate) fn expire_all(&mut self) {
        let now = now_ms();
        let due: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.running() && now > s.started_at.saturating_add(self.scaled(s.timeout_ms)))
            .map(|s| s.id.clone())
            .collect();
        for sid in due {
            self.stop_session(&sid);
        }
        let scale = self.time_scale.max(1);
        for rec in self.sandboxes.values_mut() {
            if rec.snapshot.as_ref().is_some_and(|s| {
                s.expiration_ms
                    .is_some_and(|ms| now > s.taken_at.saturating_add(ms / scale))
            }) {
                rec.snapshot = None;
                rec.snapshot_lost = true;
            }
        }
    }
}
