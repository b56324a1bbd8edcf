//! A local emulator of the Vercel Sandbox API, as the official `@vercel/sandbox` 3.5.0 SDK
//! speaks it (`reference/cloud.md` section 3): the same paths, query (`teamId` on every call),
//! bodies validated as the SDK's zod schemas expect, `{"error":{"code","message"}}` errors with
//! 404/410/422 where the vendor uses them, and commands streamed back as exact
//! `application/x-ndjson`.
//!
//! Each session is a real temporary directory ([`SandboxDir`]) where commands really run with
//! `sh -c` under their timeout; a stopped or deleted session's directory is removed. It is test
//! support: fault injection and request recording come from `atlas-emulator-kit`.
//!
//! Persistent sandboxes (`persistent`, the vendor's default) keep their filesystem across
//! sessions: stopping a session (by `stop` or when its timeout runs out) snapshots it, and
//! `GET /v2/sandboxes/{name}?resume=true` starts a new session restored from that snapshot
//! (`resumed: true`). A snapshot expires `snapshotExpiration` ms after it was taken (0: never);
//! resuming after that is 410 `snapshot_not_found`, as the SDK's `getOrCreate` expects. A stopped
//! session counts no compute time. [`VercelEmulator::set_time_scale`] runs the vendor's clocks
//! (session timeouts, snapshot expiry) faster for tests.
//!
//! Where the vendor's behaviour is not recorded, the emulator picks the plain reading and says
//! so: a command killed at its timeout exits 137 (SIGKILL); a `cwd` that does not exist is a
//! 400; a sandbox name already taken is a 409.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use atlas_emulator_kit::{
    Kit, OutputChunk, RunningEmulator, SandboxDir, StreamKind, cut_after, serve,
};
use atlas_sandbox_sdk::process::Ending;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Value, json};

/// The working directory of every session, as the vendor reports it.
pub const SESSION_CWD: &str = "/vercel/sandbox";
/// The session lifetime when the create body gives none (the vendor's 5 min).
pub const DEFAULT_TIMEOUT_MS: u64 = 5 * 60 * 1000;
/// The exit code of a command the emulator killed at its timeout: the vendor SIGKILLs it.
pub const KILLED_EXIT_CODE: i32 = 128 + 9;
/// Output kept per stream by the emulator (the vendor has no cap; this only bounds memory).
const OUTPUT_CAP: usize = 16 * 1024 * 1024;
/// The largest `data` of one log line.
const LOG_CHUNK: usize = 32 * 1024;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// A vendor-shaped error response, on the `Err` side of handlers and their helpers so that
/// `?` answers with it (boxed: a `Response` is large).
struct Reject(Box<Response>);

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// What a handler answers.
type Answer = Result<Response, Reject>;

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Reject {
    Reject(Box::new(
        (
            status,
            axum::Json(json!({"error": {"code": code, "message": message.into()}})),
        )
            .into_response(),
    ))
}

fn bad_request(message: impl Into<String>) -> Reject {
    error(StatusCode::BAD_REQUEST, "bad_request", message)
}

/// A 404 for an unknown `what` ("Sandbox", "Session", "Command").
fn not_found(what: &str) -> Reject {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("{what} not found"),
    )
}

fn sandbox_stopped() -> Reject {
    error(
        StatusCode::GONE,
        "sandbox_stopped",
        "The sandbox session is stopped",
    )
}

fn internal_error(message: impl Into<String>) -> Reject {
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
}

/// A 200 with a JSON body.
fn reply(body: Value) -> Answer {
    Ok(axum::Json(body).into_response())
}

/// What a finished command left.
#[derive(Debug, Clone)]
struct Done {
    exit_code: i32,
    duration_ms: u64,
}

/// A command's log as it grows: the lines already formed, and per stream the bytes that may
/// still become a character with the next read.
#[derive(Debug, Default)]
struct Log {
    lines: Vec<(&'static str, String)>,
    pending: [Vec<u8>; 2],
    kept: [usize; 2],
    closed: bool,
}

impl Log {
    fn push(&mut self, stream: StreamKind, data: &[u8]) {
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

    fn close(&mut self) {
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
struct Cmd {
    id: String,
    name: String,
    args: Vec<String>,
    cwd: String,
    session_id: String,
    started_at: u64,
    done: tokio::sync::watch::Sender<Option<Done>>,
    kill: Mutex<Option<tokio::sync::oneshot::Sender<i32>>>,
    log: Mutex<Log>,
    /// Bumped on every change of `log`, to wake its readers.
    log_seq: tokio::sync::watch::Sender<u64>,
}

impl Cmd {
    fn json(&self) -> Value {
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

    fn signal(&self, sig: i32) {
        if let Some(tx) = self.kill.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(sig);
        }
    }

    async fn finished(&self) -> Done {
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

    fn log_mut<R>(&self, f: impl FnOnce(&mut Log) -> R) -> R {
        let r = f(&mut self.log.lock().unwrap_or_else(|p| p.into_inner()));
        self.log_seq.send_modify(|n| *n += 1);
        r
    }
}

#[derive(Debug)]
struct Session {
    id: String,
    sandbox: String,
    status: String,
    memory: u64,
    vcpus: u64,
    region: String,
    runtime: Option<String>,
    timeout_ms: u64,
    requested_at: u64,
    started_at: u64,
    stopped_at: Option<u64>,
    updated_at: u64,
    network_policy: Value,
    dir: Option<Arc<SandboxDir>>,
    commands: HashMap<String, Arc<Cmd>>,
}

impl Session {
    fn json(&self) -> Value {
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

    fn running(&self) -> bool {
        self.status == "running"
    }

    /// Stops the microVM: commands are killed and its files are handed back (a persistent
    /// sandbox snapshots them; otherwise they disappear).
    fn stop(&mut self) -> Option<Arc<SandboxDir>> {
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
    fn compute_ms(&self) -> u64 {
        self.stopped_at
            .unwrap_or_else(now_ms)
            .saturating_sub(self.started_at)
    }
}

/// The filesystem of a persistent sandbox's last stopped session.
#[derive(Debug)]
struct Snap {
    id: String,
    dir: Arc<SandboxDir>,
    taken_at: u64,
    /// Its `snapshotExpiration` in the vendor's milliseconds; `None`: never.
    expiration_ms: Option<u64>,
}

#[derive(Debug)]
struct SandboxRec {
    name: String,
    project_id: String,
    persistent: bool,
    region: String,
    vcpus: u64,
    runtime: Option<String>,
    timeout_ms: u64,
    network_policy: Value,
    tags: BTreeMap<String, String>,
    created_at: u64,
    updated_at: u64,
    current_session_id: String,
    snapshot_expiration: Option<u64>,
    keep_last_snapshots: Option<Value>,
    snapshot: Option<Snap>,
    /// A snapshot was taken and has since expired: a resume cannot restore it.
    snapshot_lost: bool,
}

#[derive(Debug, Default)]
struct Data {
    sandboxes: BTreeMap<String, SandboxRec>,
    sessions: HashMap<String, Session>,
    created: usize,
    /// The vendor's clocks run this many times faster (0 or 1: real time).
    time_scale: u64,
}

impl Data {
    fn sandbox_json(&self, sb: &SandboxRec) -> Value {
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
    fn stop_session(&mut self, sid: &str) {
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
    fn expire_all(&mut self) {
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

#[derive(Debug)]
struct Inner {
    kit: Arc<Kit>,
    data: Mutex<Data>,
    expected_token: Mutex<Option<String>>,
    stalled_streams: std::sync::atomic::AtomicUsize,
}

/// The emulator's state, shared by its routes and by tests that inspect or disturb it.
#[derive(Debug, Clone)]
pub struct VercelEmulator {
    inner: Arc<Inner>,
}

impl VercelEmulator {
    /// An emulator with no sandboxes, reporting faults and requests through `kit`.
    pub fn new(kit: Arc<Kit>) -> Self {
        VercelEmulator {
            inner: Arc::new(Inner {
                kit,
                data: Mutex::new(Data::default()),
                expected_token: Mutex::new(None),
                stalled_streams: std::sync::atomic::AtomicUsize::new(0),
            }),
        }
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        self.inner.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Accept only this bearer token (any non-empty token is accepted by default).
    pub fn expect_token(&self, token: Option<&str>) {
        *self
            .inner
            .expected_token
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = token.map(str::to_owned);
    }

    /// Sessions still running (the billable microVMs).
    pub fn running_sessions(&self) -> usize {
        let mut d = self.data();
        d.expire_all();
        d.sessions.values().filter(|s| s.running()).count()
    }

    /// Sandbox records not deleted.
    pub fn sandbox_count(&self) -> usize {
        self.data().sandboxes.len()
    }

    /// How many sandboxes were ever created.
    pub fn created_count(&self) -> usize {
        self.data().created
    }

    /// Stops every running session, as the vendor does when a lifetime runs out or a host
    /// fails: the next call on it gets 410.
    pub fn stop_all_sessions(&self) -> usize {
        let mut d = self.data();
        let running: Vec<String> = d
            .sessions
            .values()
            .filter(|s| s.running())
            .map(|s| s.id.clone())
            .collect();
        for sid in &running {
            d.stop_session(sid);
        }
        running.len()
    }

    /// Runs the vendor's clocks (session timeouts, snapshot expiration) `factor` times faster.
    pub fn set_time_scale(&self, factor: u64) {
        self.data().time_scale = factor;
    }

    /// The status of a sandbox as `GET /v2/sandboxes/{name}` reports it.
    pub fn sandbox_status(&self, name: &str) -> Option<String> {
        let mut d = self.data();
        d.expire_all();
        let rec = d.sandboxes.get(name)?;
        Some(
            d.sessions
                .get(&rec.current_session_id)
                .map_or_else(|| "stopped".to_owned(), |s| s.status.clone()),
        )
    }

    /// Whether a sandbox holds a snapshot of its last session.
    pub fn has_snapshot(&self, name: &str) -> bool {
        let mut d = self.data();
        d.expire_all();
        d.sandboxes.get(name).is_some_and(|r| r.snapshot.is_some())
    }

    /// The create body's `snapshotExpiration` and `keepLastSnapshots` of a sandbox.
    pub fn snapshot_settings(&self, name: &str) -> Option<(Option<u64>, Option<Value>)> {
        let d = self.data();
        d.sandboxes
            .get(name)
            .map(|r| (r.snapshot_expiration, r.keep_last_snapshots.clone()))
    }

    /// The tags of a sandbox.
    pub fn tags(&self, name: &str) -> Option<BTreeMap<String, String>> {
        self.data().sandboxes.get(name).map(|r| r.tags.clone())
    }

    /// The compute time of all of a sandbox's sessions: a stopped one counts no more.
    pub fn compute_time(&self, name: &str) -> Duration {
        let mut d = self.data();
        d.expire_all();
        Duration::from_millis(
            d.sessions
                .values()
                .filter(|s| s.sandbox == name)
                .map(Session::compute_ms)
                .sum(),
        )
    }

    /// The next `count` command streams (`wait: true`) send their first line and then nothing
    /// more, while the connection stays open: an edge or server that hangs. The commands still
    /// run (and can be killed).
    pub fn stall_next_streams(&self, count: usize) {
        self.inner
            .stalled_streams
            .store(count, std::sync::atomic::Ordering::SeqCst);
    }

    /// The emulator's routes (without the kit's middleware; [`start`] adds it).
    pub fn router(&self) -> Router {
        let sessions = "/v2/sandboxes/sessions/{sid}";
        Router::new()
            .route("/v3/sandboxes", post(create))
            .route("/v2/sandboxes", post(create).get(list))
            .route(
                "/v2/sandboxes/{name}",
                get(get_sandbox).delete(delete_sandbox),
            )
            .route(sessions, get(get_session))
            .route(&format!("{sessions}/stop"), post(stop_session))
            .route(&format!("{sessions}/extend-timeout"), post(extend_timeout))
            .route(&format!("{sessions}/cmd"), post(run_command))
            .route(&format!("{sessions}/cmd/{{cid}}"), get(get_command))
            .route(&format!("{sessions}/cmd/{{cid}}/logs"), get(command_logs))
            .route(&format!("{sessions}/cmd/{{cid}}/kill"), post(kill_command))
            .route(&format!("{sessions}/fs/mkdir"), post(mkdir))
            .route(&format!("{sessions}/fs/write"), post(write_files))
            .route(&format!("{sessions}/fs/read"), post(read_file))
            .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "Not Found") })
            .layer(axum::middleware::from_fn_with_state(self.clone(), auth))
            .with_state(self.clone())
    }
}

/// Starts the emulator on `127.0.0.1:0` with the kit's middleware.
pub async fn start(kit: Arc<Kit>) -> RunningEmulator {
    start_with(kit, None).await.0
}

/// Starts the emulator on `addr` (or `127.0.0.1:0`) and returns its state for inspection.
///
/// # Panics
/// If the address cannot be bound (test support: a test cannot go on without its emulator).
pub async fn start_with(
    kit: Arc<Kit>,
    addr: Option<SocketAddr>,
) -> (RunningEmulator, VercelEmulator) {
    let emu = VercelEmulator::new(kit.clone());
    #[allow(clippy::expect_used)]
    let running = serve(emu.router(), kit, addr)
        .await
        .expect("bind the Vercel emulator");
    (running, emu)
}

/// Every call carries `Authorization: Bearer <token>` and `?teamId=`: the SDK sends both, and
/// a token without its team (Atlas's bug) is refused.
async fn auth(State(emu): State<VercelEmulator>, req: Request, next: Next) -> Answer {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    let expected = emu
        .inner
        .expected_token
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let ok = match expected {
        Some(t) => token == t,
        None => !token.is_empty(),
    };
    if !ok {
        return Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Not authorized: the token is missing or invalid",
        ));
    }
    let has_team = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .any(|kv| kv.strip_prefix("teamId=").is_some_and(|v| !v.is_empty()));
    if !has_team {
        return Err(bad_request("teamId is required"));
    }
    Ok(next.run(req).await)
}

fn parse_json(body: &Bytes) -> Result<Value, Reject> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid JSON body: {e}")))
}

/// A body field decoded as `T`: its default when absent or null, `invalid` as a 400 when it
/// does not decode.
fn optional_field<T: serde::de::DeserializeOwned + Default>(
    v: &Value,
    key: &str,
    invalid: &str,
) -> Result<T, Reject> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(x) => serde_json::from_value(x.clone()).map_err(|_| bad_request(invalid)),
    }
}

/// The response shape of a network policy (the SDK's `NetworkPolicyResponseValidator`).
fn policy_response(req: Option<&Value>) -> Result<Value, Reject> {
    match req {
        None => Ok(json!({"mode": "allow-all"})),
        Some(v) => match v.get("mode").and_then(Value::as_str) {
            Some("allow-all") => Ok(json!({"mode": "allow-all"})),
            Some("deny-all") => Ok(json!({"mode": "deny-all"})),
            Some(other) => Err(bad_request(format!(
                "unknown network policy mode {other:?}"
            ))),
            None => {
                let allow = v.get("allow");
                let domains: Vec<Value> = match allow {
                    Some(Value::Array(a)) => a.clone(),
                    Some(Value::Object(o)) => o.keys().map(|k| json!(k)).collect(),
                    None => Vec::new(),
                    Some(_) => return Err(bad_request("networkPolicy.allow must be a list")),
                };
                Ok(json!({"mode": "custom", "allowedDomains": domains}))
            }
        },
    }
}

fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..24]
    )
}

fn new_session(
    sandbox: &SandboxRec,
    timeout_ms: u64,
    restored: Option<Arc<SandboxDir>>,
) -> Result<Session, Reject> {
    let dir = match restored {
        Some(dir) => dir,
        None => {
            let dir = SandboxDir::new()
                .map_err(|e| internal_error(format!("cannot create the sandbox directory: {e}")))?;
            std::fs::create_dir_all(dir.map(SESSION_CWD))
                .map_err(|e| internal_error(format!("cannot create {SESSION_CWD}: {e}")))?;
            Arc::new(dir)
        }
    };
    let now = now_ms();
    Ok(Session {
        id: new_id("sbx"),
        sandbox: sandbox.name.clone(),
        status: "running".to_owned(),
        memory: sandbox.vcpus * 2048,
        vcpus: sandbox.vcpus,
        region: sandbox.region.clone(),
        runtime: sandbox.runtime.clone(),
        timeout_ms,
        requested_at: now,
        started_at: now,
        stopped_at: None,
        updated_at: now,
        network_policy: sandbox.network_policy.clone(),
        dir: Some(dir),
        commands: HashMap::new(),
    })
}

async fn create(State(emu): State<VercelEmulator>, body: Bytes) -> Answer {
    let v = parse_json(&body)?;
    let Some(project_id) = v.get("projectId").and_then(Value::as_str) else {
        return Err(bad_request("projectId is required"));
    };
    if v.get("runtime").is_some() && v.get("image").is_some() {
        return Err(bad_request("runtime and image cannot be used together"));
    }
    let timeout_ms = match v.get("timeout") {
        None | Some(Value::Null) => DEFAULT_TIMEOUT_MS,
        Some(t) => match t.as_u64() {
            Some(ms) if ms > 0 => ms,
            _ => {
                return Err(bad_request(
                    "timeout must be a positive number of milliseconds",
                ));
            }
        },
    };
    let vcpus = match v.pointer("/resources/vcpus") {
        None => 2,
        Some(n) => match n.as_u64() {
            Some(n) if (1..=8).contains(&n) => n,
            _ => return Err(bad_request("resources.vcpus must be between 1 and 8")),
        },
    };
    let network_policy = policy_response(v.get("networkPolicy"))?;
    let tags: BTreeMap<String, String> =
        optional_field(&v, "tags", "tags must map strings to strings")?;
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| new_id("sandbox"));
    let mut d = emu.data();
    if d.sandboxes.contains_key(&name) {
        return Err(error(
            StatusCode::CONFLICT,
            "sandbox_already_exists",
            format!("A sandbox named {name} already exists"),
        ));
    }
    let now = now_ms();
    let mut rec = SandboxRec {
        name: name.clone(),
        project_id: project_id.to_owned(),
        persistent: v.get("persistent").and_then(Value::as_bool).unwrap_or(true),
        region: v
            .get("region")
            .and_then(Value::as_str)
            .unwrap_or("iad1")
            .to_owned(),
        vcpus,
        runtime: v.get("runtime").and_then(Value::as_str).map(str::to_owned),
        timeout_ms,
        network_policy,
        tags,
        created_at: now,
        updated_at: now,
        current_session_id: String::new(),
        snapshot_expiration: match v.get("snapshotExpiration") {
            None | Some(Value::Null) => None,
            Some(e) => Some(e.as_u64().ok_or_else(|| {
                bad_request("snapshotExpiration must be a non-negative number of milliseconds")
            })?),
        },
        keep_last_snapshots: match v.get("keepLastSnapshots") {
            None | Some(Value::Null) => None,
            Some(k) => {
                let count = k.get("count").and_then(Value::as_u64);
                if !count.is_some_and(|c| (1..=10).contains(&c)) {
                    return Err(bad_request(
                        "keepLastSnapshots.count must be between 1 and 10",
                    ));
                }
                Some(k.clone())
            }
        },
        snapshot: None,
        snapshot_lost: false,
    };
    let session = new_session(&rec, timeout_ms, None)?;
    rec.current_session_id = session.id.clone();
    let body = json!({
        "sandbox": Value::Null, "session": session.json(), "routes": [],
    });
    d.sessions.insert(session.id.clone(), session);
    d.created += 1;
    let mut body = body;
    body["sandbox"] = d.sandbox_json(&rec);
    d.sandboxes.insert(name, rec);
    reply(body)
}

async fn list(State(emu): State<VercelEmulator>, Query(q): Query<Vec<(String, String)>>) -> Answer {
    let get = |k: &str| q.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    let tags: Vec<(&str, &str)> = q
        .iter()
        .filter(|(k, _)| k == "tags")
        .filter_map(|(_, v)| v.split_once(':'))
        .collect();
    let limit: usize = get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let offset: usize = get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut d = emu.data();
    d.expire_all();
    let mut matching: Vec<&SandboxRec> = d
        .sandboxes
        .values()
        .filter(|s| get("project").is_none_or(|p| p == s.project_id))
        .filter(|s| get("namePrefix").is_none_or(|p| s.name.starts_with(p)))
        .filter(|s| {
            tags.iter()
                .all(|(k, v)| s.tags.get(*k).is_some_and(|x| x == v))
        })
        .collect();
    matching.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.name.cmp(&b.name)));
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| d.sandbox_json(s))
        .collect();
    let next = (offset + limit < matching.len()).then(|| (offset + limit).to_string());
    reply(json!({
        "sandboxes": page,
        "pagination": {"count": matching.len(), "next": next},
    }))
}

async fn get_sandbox(
    State(emu): State<VercelEmulator>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let mut d = emu.data();
    d.expire_all();
    let rec = d.sandboxes.get(&name).ok_or_else(|| not_found("Sandbox"))?;
    let sid = rec.current_session_id.clone();
    let stopped = d.sessions.get(&sid).is_none_or(|s| !s.running());
    let mut resumed = false;
    if stopped && q.get("resume").map(String::as_str) == Some("true") {
        if rec.persistent && rec.snapshot_lost {
            return Err(error(
                StatusCode::GONE,
                "snapshot_not_found",
                format!("The snapshot of sandbox {name} has expired"),
            ));
        }
        // A persistent sandbox's new session starts from its snapshot.
        let restored = match d.sandboxes.get_mut(&name) {
            Some(rec) if rec.persistent => rec.snapshot.take().map(|s| s.dir),
            _ => None,
        };
        let rec = d.sandboxes.get(&name).ok_or_else(|| not_found("Sandbox"))?;
        let session = new_session(rec, rec.timeout_ms, restored)?;
        let new_sid = session.id.clone();
        d.sessions.insert(new_sid.clone(), session);
        if let Some(rec) = d.sandboxes.get_mut(&name) {
            rec.current_session_id = new_sid;
            rec.updated_at = now_ms();
        }
        resumed = true;
    }
    let rec = d.sandboxes.get(&name).ok_or_else(|| not_found("Sandbox"))?;
    let session = d
        .sessions
        .get(&rec.current_session_id)
        .map(Session::json)
        .unwrap_or(Value::Null);
    reply(json!({
        "sandbox": d.sandbox_json(rec), "session": session, "routes": [], "resumed": resumed,
    }))
}

async fn delete_sandbox(State(emu): State<VercelEmulator>, Path(name): Path<String>) -> Answer {
    let mut d = emu.data();
    let rec = d
        .sandboxes
        .remove(&name)
        .ok_or_else(|| not_found("Sandbox"))?;
    let body = d.sandbox_json(&rec);
    // Deleting the sandbox deletes its sessions and their files.
    let ids: Vec<String> = d
        .sessions
        .iter()
        .filter(|(_, s)| s.sandbox == name)
        .map(|(id, _)| id.clone())
        .collect();
    for id in ids {
        if let Some(mut s) = d.sessions.remove(&id) {
            s.stop();
        }
    }
    reply(json!({"sandbox": body, "routes": []}))
}

/// Runs `f` on a session: 404 if unknown, 410 `sandbox_stopped` if it is no longer running.
fn with_session<T>(
    emu: &VercelEmulator,
    sid: &str,
    need_running: bool,
    f: impl FnOnce(&mut Session) -> T,
) -> Result<T, Reject> {
    let mut d = emu.data();
    d.expire_all();
    let s = d
        .sessions
        .get_mut(sid)
        .ok_or_else(|| not_found("Session"))?;
    if need_running && !s.running() {
        return Err(sandbox_stopped());
    }
    Ok(f(s))
}

async fn get_session(State(emu): State<VercelEmulator>, Path(sid): Path<String>) -> Answer {
    let session = with_session(&emu, &sid, false, |s| s.json())?;
    reply(json!({"session": session, "routes": []}))
}

async fn stop_session(State(emu): State<VercelEmulator>, Path(sid): Path<String>) -> Answer {
    let sandbox_name = with_session(&emu, &sid, false, |s| s.sandbox.clone())?;
    let mut d = emu.data();
    d.stop_session(&sid);
    let session = d
        .sessions
        .get(&sid)
        .map(Session::json)
        .unwrap_or(Value::Null);
    let sandbox = d
        .sandboxes
        .get(&sandbox_name)
        .map(|rec| d.sandbox_json(rec));
    let mut body = json!({"session": session});
    if let Some(sb) = sandbox {
        body["sandbox"] = sb;
    }
    reply(body)
}

async fn extend_timeout(
    State(emu): State<VercelEmulator>,
    Path(sid): Path<String>,
    body: Bytes,
) -> Answer {
    let v = parse_json(&body)?;
    let Some(by) = v.get("duration").and_then(Value::as_u64).filter(|d| *d > 0) else {
        return Err(bad_request(
            "duration must be a positive number of milliseconds",
        ));
    };
    let session = with_session(&emu, &sid, true, |s| {
        s.timeout_ms = s.timeout_ms.saturating_add(by);
        s.updated_at = now_ms();
        s.json()
    })?;
    reply(json!({"session": session}))
}

/// Resolves a vendor path against a cwd (absolute) the way `path.posix` would.
fn resolve(cwd: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{}/{path}", cwd.trim_end_matches('/'))
    }
}

async fn run_command(
    State(emu): State<VercelEmulator>,
    Path(sid): Path<String>,
    uri: axum::http::Uri,
    body: Bytes,
) -> Answer {
    let v = parse_json(&body)?;
    let Some(name) = v.get("command").and_then(Value::as_str).map(str::to_owned) else {
        return Err(bad_request("command is required"));
    };
    let args: Vec<String> = optional_field(&v, "args", "args must be a list of strings")?;
    let env: BTreeMap<String, String> =
        optional_field(&v, "env", "env must map strings to strings")?;
    let cwd = resolve(
        SESSION_CWD,
        v.get("cwd").and_then(Value::as_str).unwrap_or(SESSION_CWD),
    );
    let wait = v.get("wait").and_then(Value::as_bool).unwrap_or(false);
    let logs = v.get("logs").and_then(Value::as_bool).unwrap_or(false);
    let timeout_ms = v.get("timeout").and_then(Value::as_u64);

    let (dir, remaining) = with_session(&emu, &sid, true, |s| {
        let dir = s.dir.clone()?;
        let remaining = s
            .started_at
            .saturating_add(s.timeout_ms)
            .saturating_sub(now_ms());
        Some((dir, remaining))
    })?
    .ok_or_else(sandbox_stopped)?;
    if !dir.map(&cwd).is_dir() {
        return Err(bad_request(format!("cwd {cwd} does not exist")));
    }
    // The argv as one shell line: `sh -c X` stays exactly that; anything else is quoted.
    let mut line = String::new();
    for (k, val) in &env {
        line.push_str(&format!(
            "export {k}={}; ",
            atlas_sandbox_sdk::shell_quote(val)
        ));
    }
    line.push_str("exec ");
    line.push_str(&atlas_sandbox_sdk::shell_quote(&name));
    for a in &args {
        line.push(' ');
        line.push_str(&atlas_sandbox_sdk::shell_quote(a));
    }
    let timeout = Duration::from_millis(timeout_ms.unwrap_or(remaining).max(1));
    let (kill_tx, kill_rx) = tokio::sync::oneshot::channel::<i32>();
    let cmd = Arc::new(Cmd {
        id: new_id("cmd"),
        name,
        args,
        cwd: cwd.clone(),
        session_id: sid.clone(),
        started_at: now_ms(),
        done: tokio::sync::watch::channel(None).0,
        kill: Mutex::new(Some(kill_tx)),
        log: Mutex::new(Log::default()),
        log_seq: tokio::sync::watch::channel(0).0,
    });
    with_session(&emu, &sid, true, |s| {
        s.commands.insert(cmd.id.clone(), cmd.clone());
    })?;
    let runner = cmd.clone();
    tokio::spawn(async move {
        let start = Instant::now();
        // Output reaches the log as it is read: the service streams logs while a command runs,
        // and a client that kills a command for its output volume must see that volume.
        let (tap_tx, mut tap_rx) = tokio::sync::mpsc::channel::<OutputChunk>(16);
        let run = dir.run_sh_streaming(&line, Some(&cwd), timeout, OUTPUT_CAP, Some(tap_tx));
        tokio::pin!(run);
        let mut kill_rx = kill_rx;
        let mut finished: Option<std::io::Result<atlas_sandbox_sdk::process::ProcessResult>> = None;
        let mut tap_open = true;
        let exit_code = loop {
            if !tap_open && let Some(r) = finished.take() {
                break match r {
                    Ok(p) if p.ending == Ending::TimedOut => KILLED_EXIT_CODE,
                    Ok(p) => p.output.exit_code,
                    Err(e) => {
                        runner.log_mut(|l| l.push(StreamKind::Stderr, format!("{e}\n").as_bytes()));
                        127
                    }
                };
            }
            tokio::select! {
                r = &mut run, if finished.is_none() => finished = Some(r),
                chunk = tap_rx.recv(), if tap_open => match chunk {
                    Some(c) => runner.log_mut(|l| l.push(c.stream, &c.data)),
                    None => tap_open = false,
                },
                // Leaving the loop drops the run, which kills its process group.
                // A kill after the command ended changes nothing; before, what was already read
                // still reaches the log.
                sig = &mut kill_rx, if finished.is_none() => {
                    while let Ok(c) = tap_rx.try_recv() {
                        runner.log_mut(|l| l.push(c.stream, &c.data));
                    }
                    break 128 + sig.unwrap_or(9);
                }
            }
        };
        runner.log_mut(Log::close);
        runner.done.send_replace(Some(Done {
            exit_code,
            duration_ms: start.elapsed().as_millis() as u64,
        }));
    });
    if !wait {
        return reply(json!({"command": cmd.json()}));
    }
    let cut = emu.inner.kit.take_stream_cut(uri.path());
    let stall = emu
        .inner
        .stalled_streams
        .fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |n| n.checked_sub(1),
        )
        .is_ok();
    Ok(ndjson(cut, move |tx| async move {
        tx.line(json!({"command": cmd.json()})).await?;
        if stall {
            // Hold the connection open without another byte until the client gives up.
            tx.tx.closed().await;
            return Err(());
        }
        if logs {
            send_logs(&tx, &cmd).await?;
        }
        cmd.finished().await;
        tx.line(json!({"command": cmd.json()})).await
    }))
}

/// Follows a command's log from its first line until the command has ended and every line is
/// sent.
async fn send_logs(tx: &LineSender, cmd: &Cmd) -> Result<(), ()> {
    let mut seq = cmd.log_seq.subscribe();
    let mut next = 0;
    loop {
        // Marked seen before reading, so a line added after the read wakes the wait below.
        seq.borrow_and_update();
        let (lines, closed) = {
            let log = cmd.log.lock().unwrap_or_else(|p| p.into_inner());
            (log.lines[next..].to_vec(), log.closed)
        };
        next += lines.len();
        for (stream, data) in lines {
            tx.line(json!({"stream": stream, "data": data})).await?;
        }
        if closed {
            return Ok(());
        }
        if seq.changed().await.is_err() {
            return Ok(());
        }
    }
}

/// The sending half of an ndjson response; applies a stream cut from the kit.
struct LineSender {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    cut: Option<usize>,
    sent: Mutex<usize>,
}

impl LineSender {
    async fn line(&self, v: Value) -> Result<(), ()> {
        let mut bytes = v.to_string().into_bytes();
        bytes.push(b'\n');
        let mut data = Bytes::from(bytes);
        if let Some(after) = self.cut {
            let mut sent = *self.sent.lock().unwrap_or_else(|p| p.into_inner());
            let piece = cut_after(data, &mut sent, after);
            *self.sent.lock().unwrap_or_else(|p| p.into_inner()) = sent;
            match piece {
                Some(p) if !p.is_empty() => data = p,
                _ => return Err(()),
            }
        }
        self.tx.send(data).await.map_err(|_| ())
    }
}

/// An `application/x-ndjson` response whose lines `produce` sends; it ends when `produce` does
/// (or at a cut: then the stream just stops, as a dropped connection).
fn ndjson<F, Fut>(cut: Option<usize>, produce: F) -> Response
where
    F: FnOnce(Arc<LineSender>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), ()>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let sender = Arc::new(LineSender {
        tx,
        cut,
        sent: Mutex::new(0),
    });
    tokio::spawn(async move {
        let _ = produce(sender).await;
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A command of a running session: a stopped session's commands are gone with it
/// (vercel/sandbox#338).
fn live_command(emu: &VercelEmulator, sid: &str, cid: &str) -> Result<Arc<Cmd>, Reject> {
    with_session(emu, sid, true, |s| s.commands.get(cid).cloned())?
        .ok_or_else(|| not_found("Command"))
}

async fn get_command(
    State(emu): State<VercelEmulator>,
    Path((sid, cid)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let cmd = live_command(&emu, &sid, &cid)?;
    if q.get("wait").map(String::as_str) == Some("true") {
        cmd.finished().await;
    }
    reply(json!({"command": cmd.json()}))
}

async fn command_logs(
    State(emu): State<VercelEmulator>,
    Path((sid, cid)): Path<(String, String)>,
    uri: axum::http::Uri,
) -> Answer {
    let cmd = live_command(&emu, &sid, &cid)?;
    let cut = emu.inner.kit.take_stream_cut(uri.path());
    Ok(ndjson(
        cut,
        move |tx| async move { send_logs(&tx, &cmd).await },
    ))
}

async fn kill_command(
    State(emu): State<VercelEmulator>,
    Path((sid, cid)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let v = parse_json(&body)?;
    let sig = v
        .get("signal")
        .and_then(Value::as_i64)
        .and_then(|s| i32::try_from(s).ok())
        .unwrap_or(15);
    if !(1..=64).contains(&sig) {
        return Err(bad_request("signal must be a signal number"));
    }
    let cmd = live_command(&emu, &sid, &cid)?;
    cmd.signal(sig);
    reply(json!({"command": cmd.json()}))
}

fn session_dir(emu: &VercelEmulator, sid: &str) -> Result<Arc<SandboxDir>, Reject> {
    with_session(emu, sid, true, |s| s.dir.clone())?.ok_or_else(sandbox_stopped)
}

/// Runs `op` on the file that an `fs` body's `path` (against its `cwd`) names, with `path` as
/// sent for messages. The session's directory is held until `op` returns, so that a concurrent
/// stop cannot delete it mid-operation.
fn on_session_file(
    emu: &VercelEmulator,
    sid: &str,
    body: &Bytes,
    op: impl FnOnce(&std::path::Path, &str) -> Answer,
) -> Answer {
    let v = parse_json(body)?;
    let Some(path) = v.get("path").and_then(Value::as_str) else {
        return Err(bad_request("path is required"));
    };
    let cwd = v.get("cwd").and_then(Value::as_str).unwrap_or(SESSION_CWD);
    let dir = session_dir(emu, sid)?;
    op(&dir.map(&resolve(cwd, path)), path)
}

async fn mkdir(State(emu): State<VercelEmulator>, Path(sid): Path<String>, body: Bytes) -> Answer {
    on_session_file(&emu, &sid, &body, |target, path| {
        if target.is_dir() {
            return reply(json!({}));
        }
        // Not recursive, like mkdir(2): the parent must exist.
        match std::fs::create_dir(target) {
            Ok(()) => reply(json!({})),
            Err(e) => Err(bad_request(format!("cannot create directory {path}: {e}"))),
        }
    })
}

async fn write_files(
    State(emu): State<VercelEmulator>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let extract_dir = headers
        .get("x-cwd")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/")
        .to_owned();
    if !extract_dir.starts_with('/') {
        return Err(bad_request("x-cwd must be an absolute path"));
    }
    let dir = session_dir(&emu, &sid)?;
    let result = tokio::task::spawn_blocking(move || extract(&dir, &extract_dir, &body)).await;
    match result {
        Ok(Ok(())) => reply(json!({})),
        Ok(Err(msg)) => Err(bad_request(msg)),
        Err(e) => Err(internal_error(e.to_string())),
    }
}

/// Extracts a gzip-compressed tar under `extract_dir`, creating parent directories.
fn extract(dir: &SandboxDir, extract_dir: &str, body: &[u8]) -> Result<(), String> {
    let gz = flate2::read::GzDecoder::new(body);
    let mut archive = tar::Archive::new(gz);
    let entries = archive
        .entries()
        .map_err(|e| format!("the body is not a gzip-compressed tar: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("bad tar entry: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("bad tar entry name: {e}"))?
            .to_string_lossy()
            .into_owned();
        let target = dir.map(&resolve(extract_dir, &path));
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(|e| format!("{path}: {e}"))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| format!("{path}: {e}"))?;
                }
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut data)
                    .map_err(|e| format!("{path}: {e}"))?;
                std::fs::write(&target, &data).map_err(|e| format!("{path}: {e}"))?;
                let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode | 0o400))
                    .map_err(|e| format!("{path}: {e}"))?;
            }
            other => return Err(format!("{path}: unsupported tar entry type {other:?}")),
        }
    }
    Ok(())
}

async fn read_file(
    State(emu): State<VercelEmulator>,
    Path(sid): Path<String>,
    body: Bytes,
) -> Answer {
    on_session_file(&emu, &sid, &body, |target, path| {
        match std::fs::read(target) {
            Ok(data) => {
                Ok(([(header::CONTENT_TYPE, "application/octet-stream")], data).into_response())
            }
            Err(_) => Err(error(
                StatusCode::NOT_FOUND,
                "file_not_found",
                format!("{path} not found"),
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_split_between_reads_is_not_mangled() {
        let mut log = Log::default();
        let bytes = "né€😀".as_bytes();
        for b in bytes {
            log.push(StreamKind::Stdout, std::slice::from_ref(b));
        }
        log.push(StreamKind::Stderr, b"\xffok");
        log.close();
        let out: String = log
            .lines
            .iter()
            .filter(|(s, _)| *s == "stdout")
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(out, "né€😀");
        let err: Vec<_> = log.lines.iter().filter(|(s, _)| *s == "stderr").collect();
        assert_eq!(err, [&("stderr", "\u{fffd}ok".to_owned())]);
    }

    async fn emu() -> (RunningEmulator, VercelEmulator, reqwest::Client) {
        let (run, emu) = start_with(Kit::new(), None).await;
        (run, emu, reqwest::Client::new())
    }

    fn url(run: &RunningEmulator, path: &str) -> String {
        format!("{}{path}?teamId=team_t", run.base_url)
    }

    /// Sends `req` as the SDK does, with a bearer token.
    async fn send(req: reqwest::RequestBuilder) -> reqwest::Response {
        req.bearer_auth("tok").send().await.unwrap()
    }

    async fn create(run: &RunningEmulator, c: &reqwest::Client) -> Value {
        let r = send(c.post(url(run, "/v3/sandboxes")).json(
            &json!({"projectId": "prj", "timeout": 60000, "persistent": false, "tags": {"a": "b"}}),
        ))
        .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Starts a command in session `sid`; `body` is the command as the SDK posts it.
    async fn run_cmd(
        run: &RunningEmulator,
        c: &reqwest::Client,
        sid: &str,
        body: Value,
    ) -> reqwest::Response {
        send(
            c.post(url(run, &format!("/v2/sandboxes/sessions/{sid}/cmd")))
                .json(&body),
        )
        .await
    }

    #[tokio::test]
    async fn auth_and_team_are_required() {
        let (run, _emu, c) = emu().await;
        let r = c.get(url(&run, "/v2/sandboxes")).send().await.unwrap();
        assert_eq!(r.status(), 403);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
        let r = c
            .get(format!("{}/v2/sandboxes", run.base_url))
            .bearer_auth("t")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }

    #[tokio::test]
    async fn create_run_stream_stop_delete() {
        let (run, emu, c) = emu().await;
        let made = create(&run, &c).await;
        assert_eq!(made["session"]["status"], "running");
        assert_eq!(made["sandbox"]["tags"]["a"], "b");
        let sid = made["session"]["id"].as_str().unwrap().to_owned();
        let name = made["sandbox"]["name"].as_str().unwrap().to_owned();
        let r = run_cmd(
            &run,
            &c,
            &sid,
            json!({"command": "sh", "args": ["-c", "echo hi; echo err >&2; exit 3"], "wait": true, "logs": true, "timeout": 5000}),
        )
        .await;
        assert_eq!(r.headers()["content-type"], "application/x-ndjson");
        let text = r.text().await.unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0]["command"]["exitCode"].is_null());
        assert_eq!(lines[0]["command"]["cwd"], SESSION_CWD);
        // Log lines come in the order the two pipes were read, as on the service: which stream's
        // line is first is a race.
        let logs = [&lines[1], &lines[2]];
        let out = json!({"stream": "stdout", "data": "hi\n"});
        let err = json!({"stream": "stderr", "data": "err\n"});
        assert!(logs == [&out, &err] || logs == [&err, &out], "{text}");
        assert_eq!(lines[3]["command"]["exitCode"], 3);
        assert_eq!(emu.running_sessions(), 1);

        let r = send(c.post(url(&run, &format!("/v2/sandboxes/sessions/{sid}/stop")))).await;
        assert_eq!(r.status(), 200);
        let r = run_cmd(&run, &c, &sid, json!({"command": "true"})).await;
        assert_eq!(r.status(), 410);
        let r = send(c.delete(url(&run, &format!("/v2/sandboxes/{name}")))).await;
        assert_eq!(r.status(), 200);
        assert_eq!((emu.running_sessions(), emu.sandbox_count()), (0, 0));
    }

    #[tokio::test]
    async fn upload_detached_logs_and_timeout() {
        let (run, _emu, c) = emu().await;
        let made = create(&run, &c).await;
        let sid = made["session"]["id"].as_str().unwrap().to_owned();
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut h = tar::Header::new_ustar();
        h.set_size(6);
        h.set_mode(0o644);
        tar.append_data(&mut h, "vercel/sandbox/semantic/m/a.yml", &b"a: 1\n\n"[..])
            .unwrap();
        let gz = tar.into_inner().unwrap().finish().unwrap();
        let r = send(
            c.post(url(&run, &format!("/v2/sandboxes/sessions/{sid}/fs/write")))
                .header("content-type", "application/gzip")
                .header("x-cwd", "/")
                .body(gz),
        )
        .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r: Value = run_cmd(
            &run,
            &c,
            &sid,
            json!({"command": "sh", "args": ["-c", "cat m/a.yml"], "cwd": "/vercel/sandbox/semantic"}),
        )
        .await
        .json()
        .await
        .unwrap();
        let cid = r["command"]["id"].as_str().unwrap().to_owned();
        let r: Value = send(c.get(format!(
            "{}/v2/sandboxes/sessions/{sid}/cmd/{cid}?teamId=t&wait=true",
            run.base_url
        )))
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(r["command"]["exitCode"], 0);
        let logs = send(c.get(url(
            &run,
            &format!("/v2/sandboxes/sessions/{sid}/cmd/{cid}/logs"),
        )))
        .await
        .text()
        .await
        .unwrap();
        assert_eq!(logs, "{\"data\":\"a: 1\\n\\n\",\"stream\":\"stdout\"}\n");
        let text = run_cmd(
            &run,
            &c,
            &sid,
            json!({"command": "sleep", "args": ["5"], "wait": true, "timeout": 300}),
        )
        .await
        .text()
        .await
        .unwrap();
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["command"]["exitCode"], KILLED_EXIT_CODE);
    }
}
