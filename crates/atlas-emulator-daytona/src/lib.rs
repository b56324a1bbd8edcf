//! A local emulator of Daytona: the control-plane API (`{base}/api`, NestJS-style errors) and the
//! toolbox daemon behind its proxy (`{base}/toolbox/{sandboxId}`), as the official
//! `@daytonaio/sdk` and our backend speak them.
//!
//! Each sandbox is a real temporary directory ([`SandboxDir`]) whose `/home/daytona` is the
//! working directory. `process/execute` runs the command with stdout and stderr merged into one
//! buffer and answers 408 (discarding the output) when its timeout passes, as the daemon does.
//! Sessions are real long-lived shells; each command's stdout and stderr lines are written to
//! one log with the 3-byte stream prefixes, and the logs endpoint answers in the format the
//! caller's SDK version selects (JSON with split streams, raw prefixed text, or combined text).
//! The socket.io event stream is not emulated: the SDK tolerates its absence and polls.
//!
//! Lifecycle as the API service has it: `stop` (only a started sandbox) kills its processes and
//! keeps its filesystem, `start` (a stopped, archiving or archived one; a started one is answered
//! as it is) brings it back after the start delay (`restoring` from archive). While a sandbox is
//! not running the toolbox proxy refuses every request with 503 and `X-Daytona-Sandbox-State`,
//! and no compute time is counted. The auto-stop (idle since the last activity), auto-archive
//! (since it stopped) and auto-delete (since it stopped; 0 = on stop) timers fire, checked on
//! every request; [`Control::set_minute`] shortens the emulated minute for tests.
//!
//! Test controls ([`Control`]): a start delay, a sandbox stuck in `starting`, a create that ends
//! in `error`, a sandbox that vanishes, the API key to accept, and what is alive.

// Handlers return an HTTP response as their error (the vendor's error body), as axum does.
#![allow(clippy::result_large_err)]

mod session;

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use atlas_emulator_kit::{Kit, RunningEmulator, SandboxDir, serve};
use axum::Json;
use axum::extract::{FromRequestParts, Multipart, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

pub use session::{STDERR_PREFIX, STDOUT_PREFIX, demux, strip_prefixes};
use session::{Session, SharedSession};

/// The vendor path of the sandbox user's home, which is also the daemon's working directory.
pub const WORK_DIR: &str = "/home/daytona";

/// What the next create does instead of starting normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateFault {
    /// The sandbox stays in `starting` for ever.
    StuckStarting,
    /// The sandbox goes to `error` with this reason.
    Error(String),
}

/// Where a sandbox is in its life (the create fault aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// Created; `started` once the start delay has passed.
    Booting,
    Started,
    /// Started again at `until` (`restoring` when it came from archive).
    Starting {
        until: Instant,
        from_archive: bool,
    },
    Stopped {
        since: Instant,
    },
    Archived {
        since: Instant,
    },
}

/// Daytona's answer to `autoArchiveInterval = 0`: its maximum (30 days here).
const MAX_AUTO_ARCHIVE_MINUTES: i64 = 30 * 24 * 60;

#[derive(Debug)]
struct EmuSandbox {
    id: String,
    name: String,
    labels: BTreeMap<String, String>,
    env: BTreeMap<String, String>,
    target: String,
    snapshot: Option<String>,
    network_block_all: bool,
    auto_stop_interval: i64,
    auto_archive_interval: i64,
    auto_delete_interval: i64,
    life: Life,
    /// When the auto-stop clock was last reset (creation, start, activity).
    active_at: Instant,
    /// Compute time of earlier runs; the current run counts from `running_since`.
    compute: Duration,
    running_since: Option<Instant>,
    created_at: SystemTime,
    created: Instant,
    start_delay: Duration,
    fault: Option<CreateFault>,
    last_activity: SystemTime,
    // Declared before `dir`: the session shells are killed before the directory is removed.
    sessions: BTreeMap<String, SharedSession>,
    dir: Arc<SandboxDir>,
}

impl EmuSandbox {
    fn state(&self) -> &'static str {
        match self.life {
            Life::Booting => match &self.fault {
                Some(CreateFault::StuckStarting) => "starting",
                Some(CreateFault::Error(_)) if self.created.elapsed() >= self.start_delay => {
                    "error"
                }
                _ if self.created.elapsed() >= self.start_delay => "started",
                _ => "starting",
            },
            Life::Started => "started",
            Life::Starting {
                until,
                from_archive,
            } => match (Instant::now() >= until, from_archive) {
                (true, _) => "started",
                (false, true) => "restoring",
                (false, false) => "starting",
            },
            Life::Stopped { .. } => "stopped",
            Life::Archived { .. } => "archived",
        }
    }

    fn compute_time(&self) -> Duration {
        self.compute + self.running_since.map_or(Duration::ZERO, |t| t.elapsed())
    }

    /// Stops it at `at`: its processes die, its files stay, compute stops counting.
    fn stop_at(&mut self, at: Instant) {
        for (_, s) in std::mem::take(&mut self.sessions) {
            if let Ok(mut s) = s.try_lock() {
                s.kill();
            }
        }
        if let Some(since) = self.running_since.take() {
            self.compute += at.saturating_duration_since(since);
        }
        self.life = Life::Stopped { since: at };
    }

    /// Applies what time did: a start or boot that finished, then the auto-stop, auto-archive
    /// and auto-delete timers. `true`: the sandbox is to be destroyed.
    fn tick(&mut self, minute: Duration) -> bool {
        let now = Instant::now();
        let mins = |n: i64| minute.saturating_mul(u32::try_from(n.max(0)).unwrap_or(u32::MAX));
        if self.state() == "started" && !matches!(self.life, Life::Started) {
            self.life = Life::Started;
            self.running_since = Some(now);
            self.active_at = now;
        }
        if self.life == Life::Started && self.auto_stop_interval > 0 {
            let at = self.active_at + mins(self.auto_stop_interval);
            if now >= at {
                self.stop_at(at);
                if self.auto_delete_interval == 0 {
                    return true;
                }
            }
        }
        let since = match self.life {
            Life::Stopped { since } | Life::Archived { since } => since,
            _ => return false,
        };
        if self.auto_delete_interval >= 0 && now >= since + mins(self.auto_delete_interval) {
            return true;
        }
        let archive = match self.auto_archive_interval {
            0 => MAX_AUTO_ARCHIVE_MINUTES,
            n => n,
        };
        if matches!(self.life, Life::Stopped { .. }) && now >= since + mins(archive) {
            self.life = Life::Archived { since };
        }
        false
    }

    fn dto(&self, toolbox_url: &str) -> Value {
        let error_reason = match &self.fault {
            Some(CreateFault::Error(r)) if self.state() == "error" => Value::String(r.clone()),
            _ => Value::Null,
        };
        json!({
            "id": self.id,
            "organizationId": "org-emulated",
            "name": self.name,
            "snapshot": self.snapshot,
            "user": "daytona",
            "env": self.env,
            "labels": self.labels,
            "public": false,
            "networkBlockAll": self.network_block_all,
            "target": self.target,
            "cpu": 1,
            "gpu": 0,
            "memory": 1,
            "disk": 3,
            "state": self.state(),
            "desiredState": match self.state() {
                "stopped" => "stopped",
                "archived" => "archived",
                _ => "started",
            },
            "errorReason": error_reason,
            "recoverable": false,
            "autoStopInterval": self.auto_stop_interval,
            "autoArchiveInterval": self.auto_archive_interval,
            "autoDeleteInterval": self.auto_delete_interval,
            "createdAt": atlas_emulator_kit::rfc3339_millis(self.created_at),
            "updatedAt": atlas_emulator_kit::rfc3339_millis(SystemTime::now()),
            "lastActivityAt": atlas_emulator_kit::rfc3339_millis(self.last_activity),
            "sandboxClass": "container",
            "daemonVersion": "0.190.0",
            "runnerId": "runner-emulated",
            "toolboxProxyUrl": toolbox_url,
        })
    }
}

#[derive(Debug, Default)]
struct EmuState {
    sandboxes: BTreeMap<String, EmuSandbox>,
    start_delay: Duration,
    create_faults: VecDeque<CreateFault>,
    api_key: Option<String>,
    /// How long an emulated minute of the lifecycle intervals lasts (`None`: a minute).
    minute: Option<Duration>,
}

impl EmuState {
    /// Fires every sandbox's timers; the ones due for deletion go.
    fn tick(&mut self) {
        let minute = self.minute.unwrap_or(Duration::from_secs(60));
        self.sandboxes.retain(|_, sb| !sb.tick(minute));
    }
}

/// Test controls of a running emulator.
#[derive(Debug)]
pub struct Control {
    state: Mutex<EmuState>,
    base_url: OnceLock<String>,
    kit: Arc<Kit>,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, EmuState> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.tick();
        st
    }

    fn base(&self) -> &str {
        self.base_url.get().map(String::as_str).unwrap_or("")
    }

    /// The API URL to give a client (`DAYTONA_API_URL`): `{base}/api`.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.base())
    }

    /// The toolbox proxy URL the API hands out.
    pub fn toolbox_url(&self) -> String {
        format!("{}/toolbox", self.base())
    }

    /// How long new sandboxes stay in `starting` before `started`.
    pub fn set_start_delay(&self, delay: Duration) {
        self.lock().start_delay = delay;
    }

    /// The next create goes wrong this way.
    pub fn fail_next_create(&self, fault: CreateFault) {
        self.lock().create_faults.push_back(fault);
    }

    /// Only this bearer token is accepted (`None`: any non-empty token).
    pub fn set_api_key(&self, key: Option<&str>) {
        self.lock().api_key = key.map(str::to_owned);
    }

    /// Destroys a sandbox behind the client's back (expired, reclaimed). Returns whether it
    /// existed.
    pub fn vanish(&self, id: &str) -> bool {
        let removed = self.lock().sandboxes.remove(id);
        removed.is_some()
    }

    /// How long one minute of the auto-stop, auto-archive and auto-delete intervals lasts here
    /// (tests shorten it; the default is a real minute).
    pub fn set_minute(&self, minute: Duration) {
        self.lock().minute = Some(minute);
    }

    /// The vendor's state of a sandbox (`started`, `stopped`, `archived`, ...).
    pub fn state_of(&self, id: &str) -> Option<String> {
        self.lock().sandboxes.get(id).map(|s| s.state().to_owned())
    }

    /// The compute time a sandbox has used: only while it runs.
    pub fn compute_time(&self, id: &str) -> Option<Duration> {
        self.lock().sandboxes.get(id).map(EmuSandbox::compute_time)
    }

    /// The lifecycle intervals a sandbox carries: (auto-stop, auto-archive, auto-delete), in
    /// minutes.
    pub fn intervals(&self, id: &str) -> Option<(i64, i64, i64)> {
        self.lock().sandboxes.get(id).map(|s| {
            (
                s.auto_stop_interval,
                s.auto_archive_interval,
                s.auto_delete_interval,
            )
        })
    }

    /// Moves a stopped sandbox to archive storage now, as its auto-archive timer would.
    pub fn archive_now(&self, id: &str) -> bool {
        let mut st = self.lock();
        match st.sandboxes.get_mut(id) {
            Some(sb) => match sb.life {
                Life::Stopped { since } => {
                    sb.life = Life::Archived { since };
                    true
                }
                _ => false,
            },
            None => false,
        }
    }

    /// Ids of the sandboxes that exist (not deleted).
    pub fn live_sandboxes(&self) -> Vec<String> {
        self.lock().sandboxes.keys().cloned().collect()
    }

    /// The labels of a sandbox.
    pub fn labels(&self, id: &str) -> Option<BTreeMap<String, String>> {
        self.lock().sandboxes.get(id).map(|s| s.labels.clone())
    }

    /// The host path of a sandbox's `/`.
    pub fn sandbox_root(&self, id: &str) -> Option<PathBuf> {
        self.lock()
            .sandboxes
            .get(id)
            .map(|s| s.dir.path().to_path_buf())
    }

    /// How many sessions a sandbox has open.
    pub fn session_count(&self, id: &str) -> usize {
        self.lock()
            .sandboxes
            .get(id)
            .map(|s| s.sessions.len())
            .unwrap_or(0)
    }
}

type Shared = Arc<Control>;

/// Starts the emulator on `127.0.0.1:0`.
pub async fn start(kit: Arc<Kit>) -> RunningEmulator {
    start_with_control(kit).await.0
}

/// Starts the emulator on `127.0.0.1:0` and returns its controls.
///
/// # Panics
/// If no loopback port can be bound (test support only).
#[allow(clippy::expect_used)]
pub async fn start_with_control(kit: Arc<Kit>) -> (RunningEmulator, Arc<Control>) {
    serve_on(kit, None)
        .await
        .expect("the Daytona emulator cannot bind a loopback port")
}

/// Starts the emulator on `addr` (or `127.0.0.1:0`).
pub async fn serve_on(
    kit: Arc<Kit>,
    addr: Option<SocketAddr>,
) -> std::io::Result<(RunningEmulator, Arc<Control>)> {
    let control = Arc::new(Control {
        state: Mutex::new(EmuState::default()),
        base_url: OnceLock::new(),
        kit: kit.clone(),
    });
    let running = serve(router(control.clone()), kit, addr).await?;
    let _ = control.base_url.set(running.base_url.clone());
    Ok((running, control))
}

fn router(control: Shared) -> axum::Router {
    axum::Router::new()
        .route("/api/sandbox", get(list_sandboxes).post(create_sandbox))
        .route("/api/sandbox/{id}", get(get_sandbox).delete(delete_sandbox))
        .route("/api/sandbox/{id}/last-activity", post(last_activity))
        .route("/api/sandbox/{id}/autostop/{interval}", post(set_autostop))
        .route(
            "/api/sandbox/{id}/autoarchive/{interval}",
            post(set_autoarchive),
        )
        .route(
            "/api/sandbox/{id}/autodelete/{interval}",
            post(set_autodelete),
        )
        .route("/api/sandbox/{id}/start", post(start_sandbox))
        .route("/api/sandbox/{id}/stop", post(stop_sandbox))
        .route("/api/sandbox/{id}/archive", post(archive_sandbox))
        .route(
            "/api/sandbox/{id}/toolbox-proxy-url",
            get(toolbox_proxy_url),
        )
        .route("/toolbox/{id}/files/bulk-upload", post(bulk_upload))
        .route("/toolbox/{id}/files/folder", post(create_folder))
        .route("/toolbox/{id}/work-dir", get(home_dir))
        .route("/toolbox/{id}/user-home-dir", get(home_dir))
        .route("/toolbox/{id}/process/execute", post(execute))
        .route(
            "/toolbox/{id}/process/session",
            get(list_sessions).post(create_session),
        )
        .route(
            "/toolbox/{id}/process/session/{sid}",
            get(get_session).delete(delete_session),
        )
        .route(
            "/toolbox/{id}/process/session/{sid}/exec",
            post(session_exec),
        )
        .route(
            "/toolbox/{id}/process/session/{sid}/command/{cid}",
            get(get_command),
        )
        .route(
            "/toolbox/{id}/process/session/{sid}/command/{cid}/logs",
            get(command_logs),
        )
        .with_state(control)
}

// ---------------------------------------------------------------------------------------------
// Requests and errors

/// What every handler needs besides its path, query and body: the emulator, the credentials, and
/// the method and URI that the vendor's error bodies echo.
///
/// Taking it never fails and handlers authorize explicitly, so axum's own rejections of a bad
/// path, query or body still come before a 401.
struct Call {
    c: Shared,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
}

impl FromRequestParts<Shared> for Call {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Infallible> {
        Ok(Call {
            c: state.clone(),
            headers: parts.headers.clone(),
            method: parts.method.clone(),
            uri: parts.uri.clone(),
        })
    }
}

/// A handler's answer. The error is the vendor's error response, so `?` can answer early.
type Answer = Result<Response, Response>;

/// Control plane.
impl Call {
    /// The API's NestJS `AllExceptionsFilter` body.
    fn api_error(&self, status: StatusCode, message: &str) -> Response {
        let body = json!({
            "path": self.uri.path(),
            "timestamp": atlas_emulator_kit::rfc3339_millis(SystemTime::now()),
            "statusCode": status.as_u16(),
            "error": status.canonical_reason().unwrap_or("Error"),
            "message": message,
        });
        (status, Json(body)).into_response()
    }

    fn authorize(&self) -> Result<(), Response> {
        let token = self
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        let expected = self.c.lock().api_key.clone();
        let ok = match expected {
            Some(k) => token == k,
            None => !token.is_empty(),
        };
        if ok {
            Ok(())
        } else {
            Err(self.api_error(StatusCode::UNAUTHORIZED, "Unauthorized"))
        }
    }

    fn sandbox_not_found(&self, id: &str) -> Response {
        self.api_error(
            StatusCode::NOT_FOUND,
            &format!("Sandbox with ID or name {id} not found"),
        )
    }

    /// Runs `f` on sandbox `id` under the state lock, or answers the API's 404.
    fn with_sandbox<R>(
        &self,
        id: &str,
        f: impl FnOnce(&mut EmuSandbox) -> R,
    ) -> Result<R, Response> {
        let mut st = self.c.lock();
        match st.sandboxes.get_mut(id) {
            Some(sb) => Ok(f(sb)),
            None => Err(self.sandbox_not_found(id)),
        }
    }
}

/// Toolbox.
impl Call {
    /// The daemon's `ErrorResponse`.
    fn toolbox_error(&self, status: StatusCode, code: &str, message: &str) -> Response {
        let body = json!({
            "statusCode": status.as_u16(),
            "message": message,
            "code": code,
            "path": self.uri.path(),
            "method": self.method.as_str(),
            "timestamp": atlas_emulator_kit::rfc3339_millis(SystemTime::now()),
            "source": "DAYTONA_DAEMON",
        });
        (status, Json(body)).into_response()
    }

    fn bad_request(&self, message: &str) -> Response {
        self.toolbox_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    fn not_found(&self, message: &str) -> Response {
        self.toolbox_error(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// Resolves the started sandbox a toolbox request is for, or the proxy's error. Like the
    /// proxy, a request counts as activity (it resets the auto-stop clock). A sandbox that is
    /// not running is refused with 503 and its state in `X-Daytona-Sandbox-State`: the request
    /// reaches no daemon.
    fn sandbox(&self, id: &str) -> Result<Arc<SandboxDir>, Response> {
        self.authorize()?;
        let mut st = self.c.lock();
        let Some(sb) = st.sandboxes.get_mut(id) else {
            return Err(self.not_found(&format!("sandbox {id} not found")));
        };
        let state = sb.state();
        if state != "started" {
            let mut resp = self.toolbox_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                &format!("sandbox is in {state} state"),
            );
            if let Ok(v) = axum::http::HeaderValue::from_str(state) {
                resp.headers_mut().insert("x-daytona-sandbox-state", v);
            }
            return Err(resp);
        }
        sb.active_at = Instant::now();
        sb.last_activity = SystemTime::now();
        Ok(sb.dir.clone())
    }

    /// The session `sid` of sandbox `id`, after the checks of [`Call::sandbox`].
    fn session(&self, id: &str, sid: &str) -> Result<SharedSession, Response> {
        self.sandbox(id)?;
        session_of(&self.c, id, sid).ok_or_else(|| self.not_found("session not found"))
    }

    /// Command `cid` of session `sid`, after the checks of [`Call::session`].
    async fn command(
        &self,
        id: &str,
        sid: &str,
        cid: &str,
    ) -> Result<session::SessionCommand, Response> {
        let session = self.session(id, sid)?;
        let cmd = session.lock().await.commands.get(cid).cloned();
        cmd.ok_or_else(|| self.not_found("command not found"))
    }

    /// A toolbox request body as JSON, or the daemon's 400 answer.
    fn json<T: serde::de::DeserializeOwned>(&self, body: &[u8]) -> Result<T, Response> {
        serde_json::from_slice(body).map_err(|e| {
            self.toolbox_error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_BODY",
                &format!("invalid request body: {e}"),
            )
        })
    }

    /// An output body, which a test may have asked to be cut short on this path.
    fn output(&self, content_type: &'static str, body: bytes::Bytes) -> Response {
        let body = match self.c.kit.take_stream_cut(self.uri.path()) {
            Some(after) => cut_body(body, after),
            None => axum::body::Body::from(body),
        };
        ([("content-type", content_type)], body).into_response()
    }
}

// ---------------------------------------------------------------------------------------------
// Control plane

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    name: Option<String>,
    snapshot: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    target: Option<String>,
    auto_stop_interval: Option<i64>,
    auto_archive_interval: Option<i64>,
    auto_delete_interval: Option<i64>,
    network_block_all: Option<bool>,
}

async fn create_sandbox(call: Call, body: axum::body::Bytes) -> Answer {
    call.authorize()?;
    let body: CreateBody = serde_json::from_slice(&body)
        .map_err(|e| call.api_error(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")))?;
    if body.snapshot.as_deref() == Some("missing-snapshot") {
        return Err(call.api_error(
            StatusCode::NOT_FOUND,
            "Snapshot missing-snapshot not found. Did you add it through the Daytona Dashboard?",
        ));
    }
    let dir = SandboxDir::new()
        .map_err(|e| call.api_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    if std::fs::create_dir_all(dir.map(WORK_DIR)).is_err() {
        return Err(call.api_error(StatusCode::INTERNAL_SERVER_ERROR, "cannot create home"));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mut st = call.c.lock();
    let fault = st.create_faults.pop_front();
    let sb = EmuSandbox {
        id: id.clone(),
        name: body.name.unwrap_or_else(|| id.clone()),
        labels: body.labels,
        env: body.env,
        target: body.target.unwrap_or_else(|| "us".to_owned()),
        snapshot: body.snapshot,
        network_block_all: body.network_block_all.unwrap_or(false),
        auto_stop_interval: body.auto_stop_interval.unwrap_or(15).max(0),
        auto_archive_interval: body.auto_archive_interval.unwrap_or(10080).max(0),
        auto_delete_interval: body.auto_delete_interval.unwrap_or(-1),
        life: Life::Booting,
        active_at: Instant::now(),
        compute: Duration::ZERO,
        running_since: None,
        created_at: SystemTime::now(),
        created: Instant::now(),
        start_delay: st.start_delay,
        fault,
        last_activity: SystemTime::now(),
        sessions: BTreeMap::new(),
        dir: Arc::new(dir),
    };
    let dto = sb.dto(&call.c.toolbox_url());
    st.sandboxes.insert(id, sb);
    Ok((StatusCode::OK, Json(dto)).into_response())
}

async fn get_sandbox(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    let toolbox_url = call.c.toolbox_url();
    call.with_sandbox(&id, |sb| Json(sb.dto(&toolbox_url)).into_response())
}

async fn delete_sandbox(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    let removed = call.c.lock().sandboxes.remove(&id);
    let sb = removed.ok_or_else(|| call.sandbox_not_found(&id))?;
    let mut dto = sb.dto(&call.c.toolbox_url());
    dto["state"] = json!("destroying");
    dto["desiredState"] = json!("destroyed");
    // Dropping the sessions kills their shells; dropping the directory removes it.
    drop(sb);
    Ok(Json(dto).into_response())
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    labels: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list_sandboxes(call: Call, Query(q): Query<ListQuery>) -> Answer {
    call.authorize()?;
    let filter: BTreeMap<String, String> = match q.labels.as_deref() {
        None | Some("") => BTreeMap::new(),
        Some(text) => serde_json::from_str(text)
            .map_err(|_| call.api_error(StatusCode::BAD_REQUEST, "Invalid labels format"))?,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 200);
    let st = call.c.lock();
    let matching: Vec<&EmuSandbox> = st
        .sandboxes
        .values()
        .filter(|s| filter.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .filter(|s| q.cursor.as_deref().is_none_or(|cur| s.id.as_str() > cur))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .take(limit)
        .map(|s| s.dto(&call.c.toolbox_url()))
        .collect();
    let next = if matching.len() > limit {
        matching.get(limit - 1).map(|s| Value::String(s.id.clone()))
    } else {
        None
    };
    Ok(Json(json!({"items": page, "nextCursor": next.unwrap_or(Value::Null)})).into_response())
}

async fn last_activity(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    call.with_sandbox(&id, |sb| {
        sb.last_activity = SystemTime::now();
        sb.active_at = Instant::now();
        StatusCode::CREATED.into_response()
    })
}

async fn set_autostop(call: Call, Path((id, interval)): Path<(String, i64)>) -> Answer {
    call.authorize()?;
    call.with_sandbox(&id, |sb| {
        sb.auto_stop_interval = interval.max(0);
        // The clock restarts with the new interval, as a fresh activity would.
        sb.active_at = Instant::now();
        StatusCode::OK.into_response()
    })
}

async fn set_autoarchive(call: Call, Path((id, interval)): Path<(String, i64)>) -> Answer {
    call.authorize()?;
    let toolbox_url = call.c.toolbox_url();
    call.with_sandbox(&id, |sb| {
        sb.auto_archive_interval = interval.max(0);
        Json(sb.dto(&toolbox_url)).into_response()
    })
}

async fn set_autodelete(call: Call, Path((id, interval)): Path<(String, i64)>) -> Answer {
    call.authorize()?;
    let toolbox_url = call.c.toolbox_url();
    call.with_sandbox(&id, |sb| {
        sb.auto_delete_interval = interval;
        Json(sb.dto(&toolbox_url)).into_response()
    })
}

/// The API service's state-machine refusals (`SandboxError`, a 400).
fn sandbox_error(call: &Call, message: &str) -> Response {
    call.api_error(StatusCode::BAD_REQUEST, message)
}

/// `start`: a started sandbox is answered as it is; a stopped, archiving or archived one
/// starts (restoring from archive), and anything mid-change is refused.
async fn start_sandbox(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    let toolbox_url = call.c.toolbox_url();
    let mut st = call.c.lock();
    let delay = st.start_delay;
    let minute = st.minute.unwrap_or(Duration::from_secs(60));
    let sb = st
        .sandboxes
        .get_mut(&id)
        .ok_or_else(|| call.sandbox_not_found(&id))?;
    match sb.state() {
        "started" => {}
        "stopped" | "archived" => {
            let from_archive = sb.state() == "archived";
            sb.life = Life::Starting {
                until: Instant::now() + delay,
                from_archive,
            };
            // The daemon restarts with no sessions and nothing running.
            sb.sessions.clear();
        }
        "starting" | "restoring" | "stopping" => {
            return Err(sandbox_error(&call, "State change in progress"));
        }
        _ => return Err(sandbox_error(&call, "Sandbox is not in valid state")),
    }
    // A start that is already due is applied now, so a zero delay answers `started`.
    let _ = sb.tick(minute);
    let sb = st
        .sandboxes
        .get(&id)
        .ok_or_else(|| call.sandbox_not_found(&id))?;
    Ok(Json(sb.dto(&toolbox_url)).into_response())
}

/// `stop`: only a started sandbox; its processes die and its files stay. With an auto-delete
/// interval of 0 the sandbox is destroyed instead.
async fn stop_sandbox(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    let toolbox_url = call.c.toolbox_url();
    let mut st = call.c.lock();
    let sb = st
        .sandboxes
        .get_mut(&id)
        .ok_or_else(|| call.sandbox_not_found(&id))?;
    match sb.state() {
        "started" => {}
        "starting" | "restoring" => return Err(sandbox_error(&call, "State change in progress")),
        _ => return Err(sandbox_error(&call, "Sandbox is not started")),
    }
    sb.stop_at(Instant::now());
    let mut dto = sb.dto(&toolbox_url);
    if sb.auto_delete_interval == 0 {
        dto["state"] = json!("destroying");
        dto["desiredState"] = json!("destroyed");
        st.sandboxes.remove(&id);
    }
    Ok(Json(dto).into_response())
}

/// `archive`: only a stopped sandbox that is not ephemeral.
async fn archive_sandbox(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    let toolbox_url = call.c.toolbox_url();
    call.with_sandbox(&id, |sb| match sb.life {
        Life::Stopped { since } if sb.auto_delete_interval != 0 => {
            sb.life = Life::Archived { since };
            Ok(Json(sb.dto(&toolbox_url)).into_response())
        }
        Life::Stopped { .. } => Err("Ephemeral sandboxes cannot be archived"),
        _ => Err("Sandbox is not stopped"),
    })?
    .map_err(|m| sandbox_error(&call, m))
}

async fn toolbox_proxy_url(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    call.with_sandbox(&id, |_| ())?;
    Ok(Json(json!({"url": call.c.toolbox_url()})).into_response())
}

// ---------------------------------------------------------------------------------------------
// Toolbox

/// A path as the daemon resolves it: absolute as is, relative against its working directory.
fn vendor_path(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{WORK_DIR}/{path}")
    }
}

async fn bulk_upload(call: Call, Path(id): Path<String>, mut multipart: Multipart) -> Answer {
    let dir = call.sandbox(&id)?;
    let mut dests: BTreeMap<String, String> = BTreeMap::new();
    let mut errors: Vec<String> = Vec::new();
    let mut files: Vec<Value> = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                errors.push(format!("reading part: {e}"));
                break;
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let index = name
            .trim_start_matches("files[")
            .trim_end_matches("].path")
            .trim_end_matches("].file")
            .to_owned();
        let data = match field.bytes().await {
            Ok(d) => d,
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        if name.ends_with(".path") {
            let dest = String::from_utf8_lossy(&data).trim().to_owned();
            if dest.is_empty() {
                errors.push(format!("path[{index}]: empty path"));
            } else {
                dests.insert(index, dest);
            }
        } else if name.ends_with(".file") {
            let Some(dest) = dests.get(&index) else {
                errors.push(format!("file[{index}]: missing .path metadata"));
                continue;
            };
            let host = dir.map(&vendor_path(dest));
            if let Some(parent) = host.parent()
                && let Err(e) = std::fs::create_dir_all(parent)
            {
                errors.push(format!("{dest}: mkdir: {e}"));
                continue;
            }
            match std::fs::write(&host, &data) {
                Ok(()) => files.push(json!({"path": dest, "bytes": data.len()})),
                Err(e) => errors.push(format!("{dest}: create: {e}")),
            }
        }
    }
    if errors.is_empty() {
        Ok(Json(json!({"files": files})).into_response())
    } else {
        Ok((
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": errors, "files": files})),
        )
            .into_response())
    }
}

#[derive(Debug, Deserialize)]
struct FolderQuery {
    path: String,
    mode: Option<String>,
}

async fn create_folder(call: Call, Path(id): Path<String>, Query(q): Query<FolderQuery>) -> Answer {
    let dir = call.sandbox(&id)?;
    let _ = q.mode;
    std::fs::create_dir_all(dir.map(&vendor_path(&q.path)))
        .map_err(|e| call.bad_request(&e.to_string()))?;
    Ok(StatusCode::CREATED.into_response())
}

/// `work-dir` and `user-home-dir`: the daemon works in the user's home.
async fn home_dir(call: Call, Path(id): Path<String>) -> Answer {
    call.sandbox(&id)?;
    Ok(Json(json!({"dir": WORK_DIR})).into_response())
}

#[derive(Debug, Deserialize)]
struct ExecuteBody {
    command: String,
    cwd: Option<String>,
    envs: Option<BTreeMap<String, String>>,
    timeout: Option<u64>,
}

fn valid_env_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `process/execute`: the daemon pipes the command to a shell with stdout and stderr in one
/// buffer; on timeout it kills the process group and answers 408, dropping the output.
async fn execute(call: Call, Path(id): Path<String>, body: axum::body::Bytes) -> Answer {
    let dir = call.sandbox(&id)?;
    let req: ExecuteBody = call.json(&body)?;
    if req.command.trim().is_empty() {
        return Err(call.bad_request("command cannot be empty or whitespace-only"));
    }
    let mut script = format!(
        "export HOME={}\nexec 2>&1\n",
        atlas_sandbox_sdk::shell_quote(&dir.map(WORK_DIR).to_string_lossy())
    );
    for (k, v) in req.envs.iter().flatten() {
        if !valid_env_key(k) {
            return Err(call.bad_request(&format!("invalid environment variable name: {k}")));
        }
        script.push_str(&format!(
            "export {k}={}\n",
            atlas_sandbox_sdk::shell_quote(v)
        ));
    }
    script.push_str(&req.command);
    let cwd = vendor_path(req.cwd.as_deref().unwrap_or(WORK_DIR));
    // No timeout field means no limit at the daemon; a day stands in for "none".
    let timeout = match req.timeout {
        Some(t) if t > 0 => Duration::from_secs(t),
        _ => Duration::from_secs(24 * 3600),
    };
    match dir
        .run_sh(&script, Some(&cwd), timeout, 256 * 1024 * 1024)
        .await
    {
        Ok(r) if r.output.timed_out => Err(call.toolbox_error(
            StatusCode::REQUEST_TIMEOUT,
            "PROCESS_EXECUTION_TIMEOUT",
            "command execution timeout",
        )),
        Ok(r) => Ok(Json(json!({
            "exitCode": r.output.exit_code,
            "result": String::from_utf8_lossy(&r.output.stdout),
        }))
        .into_response()),
        Err(e) => Ok(Json(json!({"exitCode": -1, "result": e.to_string()})).into_response()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSessionBody {
    session_id: String,
}

fn session_of(c: &Control, id: &str, sid: &str) -> Option<SharedSession> {
    c.lock().sandboxes.get(id)?.sessions.get(sid).cloned()
}

async fn create_session(call: Call, Path(id): Path<String>, body: axum::body::Bytes) -> Answer {
    let dir = call.sandbox(&id)?;
    let req: CreateSessionBody = call.json(&body)?;
    if session_of(&call.c, &id, &req.session_id).is_some() {
        return Err(call.toolbox_error(StatusCode::CONFLICT, "CONFLICT", "session already exists"));
    }
    let home = dir.map(WORK_DIR);
    let sdir = dir.map(&format!("/tmp/.daytona/sessions/{}", req.session_id));
    let tmp = dir.map("/tmp");
    let prefix = atlas_emulator_kit::private_tmp_prefix(&tmp).await;
    let session = Session::start(&req.session_id, sdir, &home, &home, &tmp, prefix.as_deref())
        .map_err(|e| {
            call.toolbox_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                &e.to_string(),
            )
        })?;
    let mut st = call.c.lock();
    let sb = st
        .sandboxes
        .get_mut(&id)
        .ok_or_else(|| call.not_found("sandbox not found"))?;
    sb.sessions
        .insert(req.session_id, Arc::new(tokio::sync::Mutex::new(session)));
    Ok(StatusCode::CREATED.into_response())
}

fn command_dto(cmd: &session::SessionCommand) -> Value {
    let mut v = json!({"id": cmd.id, "command": cmd.command});
    if let Some(code) = cmd.exit_code() {
        v["exitCode"] = json!(code);
    }
    v
}

async fn session_dto(s: &SharedSession) -> Value {
    let s = s.lock().await;
    let commands: Vec<Value> = s
        .order
        .iter()
        .filter_map(|id| s.commands.get(id))
        .map(command_dto)
        .collect();
    json!({"sessionId": s.id, "commands": commands})
}

async fn list_sessions(call: Call, Path(id): Path<String>) -> Answer {
    call.sandbox(&id)?;
    let sessions: Vec<SharedSession> = call
        .c
        .lock()
        .sandboxes
        .get(&id)
        .map(|s| s.sessions.values().cloned().collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for s in &sessions {
        out.push(session_dto(s).await);
    }
    Ok(Json(Value::Array(out)).into_response())
}

async fn get_session(call: Call, Path((id, sid)): Path<(String, String)>) -> Answer {
    let s = call.session(&id, &sid)?;
    Ok(Json(session_dto(&s).await).into_response())
}

async fn delete_session(call: Call, Path((id, sid)): Path<(String, String)>) -> Answer {
    call.sandbox(&id)?;
    let removed = call
        .c
        .lock()
        .sandboxes
        .get_mut(&id)
        .and_then(|s| s.sessions.remove(&sid));
    let s = removed.ok_or_else(|| call.not_found("session not found"))?;
    s.lock().await.kill();
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionExecBody {
    command: String,
    #[serde(default)]
    run_async: bool,
    #[serde(default, rename = "async")]
    legacy_async: bool,
}

/// How the daemon shapes session output for the caller, from its SDK version headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogFormat {
    /// JSON `{output, stdout, stderr}` split by the server (SDK >= 0.167).
    Json,
    /// The raw log with stream prefixes, for the client to split (SDK 0.27..0.167, or no SDK
    /// version with `X-Daytona-Split-Output: true`).
    Raw,
    /// Prefixes removed, streams merged (old SDKs, and callers that ask for nothing).
    Combined,
}

fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

fn log_format(headers: &HeaderMap) -> LogFormat {
    let sdk = headers
        .get("x-daytona-sdk-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    if sdk.is_empty() {
        let split = headers
            .get("x-daytona-split-output")
            .and_then(|v| v.to_str().ok())
            == Some("true");
        return if split {
            LogFormat::Raw
        } else {
            LogFormat::Combined
        };
    }
    if sdk.contains("dev") {
        return LogFormat::Json;
    }
    match parse_version(sdk) {
        Some(v) if v < (0, 27, 0) => LogFormat::Combined,
        Some(v) if v < (0, 167, 0) => LogFormat::Raw,
        Some(_) => LogFormat::Json,
        None => LogFormat::Raw,
    }
}

/// A command log as the JSON fields `output`, `stdout` and `stderr` in `format`: the streams are
/// split (and not null) only for the SDKs that read them from the server.
fn log_fields(log: &[u8], format: LogFormat) -> (Value, Value, Value) {
    match format {
        LogFormat::Combined => (
            json!(String::from_utf8_lossy(&strip_prefixes(log))),
            Value::Null,
            Value::Null,
        ),
        LogFormat::Raw => (
            json!(String::from_utf8_lossy(log)),
            Value::Null,
            Value::Null,
        ),
        LogFormat::Json => {
            let (out, err) = demux(log);
            (
                json!(String::from_utf8_lossy(log)),
                json!(String::from_utf8_lossy(&out)),
                json!(String::from_utf8_lossy(&err)),
            )
        }
    }
}

async fn session_exec(
    call: Call,
    Path((id, sid)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Answer {
    call.sandbox(&id)?;
    let req: SessionExecBody = call.json(&body)?;
    if req.command.trim().is_empty() {
        return Err(call.bad_request("command cannot be empty"));
    }
    let session =
        session_of(&call.c, &id, &sid).ok_or_else(|| call.not_found("session not found"))?;
    let cmd = session
        .lock()
        .await
        .execute(&req.command)
        .await
        .map_err(|e| call.bad_request(&format!("failed to write command: {e}")))?;
    if req.run_async || req.legacy_async {
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({"cmdId": cmd.id, "output": null, "stdout": null, "stderr": null, "exitCode": null})),
        )
            .into_response());
    }
    // Synchronous: wait for the exit code as the daemon does (no server-side deadline).
    let code = loop {
        if let Some(code) = cmd.exit_code() {
            break code;
        }
        if session_of(&call.c, &id, &sid).is_none() {
            return Err(call.bad_request("session cancelled"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (output, stdout, stderr) = log_fields(&cmd.log(), log_format(&call.headers));
    let resp = json!({
        "cmdId": cmd.id, "output": output, "stdout": stdout, "stderr": stderr, "exitCode": code,
    });
    Ok(call.output(
        "application/json; charset=utf-8",
        bytes::Bytes::from(resp.to_string()),
    ))
}

async fn get_command(call: Call, Path((id, sid, cid)): Path<(String, String, String)>) -> Answer {
    let cmd = call.command(&id, &sid, &cid).await?;
    Ok(Json(command_dto(&cmd)).into_response())
}

async fn command_logs(call: Call, Path((id, sid, cid)): Path<(String, String, String)>) -> Answer {
    let cmd = call.command(&id, &sid, &cid).await?;
    let log = cmd.log();
    let (content_type, body) = match log_format(&call.headers) {
        LogFormat::Json => {
            let (output, stdout, stderr) = log_fields(&log, LogFormat::Json);
            let v = json!({"output": output, "stdout": stdout, "stderr": stderr});
            (
                "application/json; charset=utf-8",
                bytes::Bytes::from(v.to_string()),
            )
        }
        LogFormat::Raw => ("text/plain; charset=utf-8", bytes::Bytes::from(log)),
        LogFormat::Combined => (
            "text/plain; charset=utf-8",
            bytes::Bytes::from(strip_prefixes(&log)),
        ),
    };
    Ok(call.output(content_type, body))
}

/// A body that stops after `after` bytes with an error, so the connection drops mid-response
/// (the client sees a truncated body, as when a proxy cuts a stream).
fn cut_body(body: bytes::Bytes, after: usize) -> axum::body::Body {
    let head = body.slice(..after.min(body.len()));
    let stream = futures::stream::iter(vec![
        Ok::<bytes::Bytes, std::io::Error>(head),
        Err(std::io::Error::other("stream cut by fault injection")),
    ]);
    axum::body::Body::from_stream(stream)
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_follows_sdk_version() {
        let mut h = HeaderMap::new();
        assert_eq!(log_format(&h), LogFormat::Combined);
        h.insert("x-daytona-split-output", "true".parse().unwrap());
        assert_eq!(log_format(&h), LogFormat::Raw);
        h.insert("x-daytona-sdk-version", "0.218.0".parse().unwrap());
        assert_eq!(log_format(&h), LogFormat::Json);
        h.insert("x-daytona-sdk-version", "0.100.0".parse().unwrap());
        assert_eq!(log_format(&h), LogFormat::Raw);
        h.insert("x-daytona-sdk-version", "0.20.1".parse().unwrap());
        assert_eq!(log_format(&h), LogFormat::Combined);
    }
}
