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
//! Test controls ([`Control`]): a start delay, a sandbox stuck in `starting`, a create that ends
//! in `error`, a sandbox that vanishes, the API key to accept, and what is alive.

// Handlers return an HTTP response as their error (the vendor's error body), as axum does.
#![allow(clippy::result_large_err)]

mod session;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use atlas_emulator_kit::{Kit, RunningEmulator, SandboxDir, serve};
use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
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
    auto_delete_interval: i64,
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
        match &self.fault {
            Some(CreateFault::StuckStarting) => "starting",
            Some(CreateFault::Error(_)) if self.created.elapsed() >= self.start_delay => "error",
            _ if self.created.elapsed() >= self.start_delay => "started",
            _ => "starting",
        }
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
            "desiredState": "started",
            "errorReason": error_reason,
            "recoverable": false,
            "autoStopInterval": self.auto_stop_interval,
            "autoArchiveInterval": 10080,
            "autoDeleteInterval": self.auto_delete_interval,
            "createdAt": iso8601(self.created_at),
            "updatedAt": iso8601(SystemTime::now()),
            "lastActivityAt": iso8601(self.last_activity),
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
        self.state.lock().unwrap_or_else(|p| p.into_inner())
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
            "/api/sandbox/{id}/toolbox-proxy-url",
            get(toolbox_proxy_url),
        )
        .route("/toolbox/{id}/files/bulk-upload", post(bulk_upload))
        .route("/toolbox/{id}/files/folder", post(create_folder))
        .route("/toolbox/{id}/work-dir", get(work_dir))
        .route("/toolbox/{id}/user-home-dir", get(user_home_dir))
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
// Errors

/// The API's NestJS `AllExceptionsFilter` body.
fn api_error(status: StatusCode, uri: &Uri, message: &str) -> Response {
    let body = json!({
        "path": uri.path(),
        "timestamp": iso8601(SystemTime::now()),
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    (status, Json(body)).into_response()
}

/// The daemon's `ErrorResponse`.
fn toolbox_error(
    status: StatusCode,
    method: &Method,
    uri: &Uri,
    code: &str,
    message: &str,
) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "message": message,
        "code": code,
        "path": uri.path(),
        "method": method.as_str(),
        "timestamp": iso8601(SystemTime::now()),
        "source": "DAYTONA_DAEMON",
    });
    (status, Json(body)).into_response()
}

fn authorize(control: &Control, headers: &HeaderMap, uri: &Uri) -> Result<(), Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    let expected = control.lock().api_key.clone();
    let ok = match expected {
        Some(k) => token == k,
        None => !token.is_empty(),
    };
    if ok {
        Ok(())
    } else {
        Err(api_error(StatusCode::UNAUTHORIZED, uri, "Unauthorized"))
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
    auto_delete_interval: Option<i64>,
    network_block_all: Option<bool>,
}

async fn create_sandbox(
    State(c): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = authorize(&c, &headers, &uri) {
        return r;
    }
    let body: CreateBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return api_error(StatusCode::BAD_REQUEST, &uri, &format!("invalid body: {e}"));
        }
    };
    if body.snapshot.as_deref() == Some("missing-snapshot") {
        return api_error(
            StatusCode::NOT_FOUND,
            &uri,
            "Snapshot missing-snapshot not found. Did you add it through the Daytona Dashboard?",
        );
    }
    let dir = match SandboxDir::new() {
        Ok(d) => d,
        Err(e) => {
            return api_error(StatusCode::INTERNAL_SERVER_ERROR, &uri, &e.to_string());
        }
    };
    if std::fs::create_dir_all(dir.map(WORK_DIR)).is_err() {
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &uri,
            "cannot create home",
        );
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mut st = c.lock();
    let fault = st.create_faults.pop_front();
    let sb = EmuSandbox {
        id: id.clone(),
        name: body.name.unwrap_or_else(|| id.clone()),
        labels: body.labels,
        env: body.env,
        target: body.target.unwrap_or_else(|| "us".to_owned()),
        snapshot: body.snapshot,
        network_block_all: body.network_block_all.unwrap_or(false),
        auto_stop_interval: body.auto_stop_interval.unwrap_or(15),
        auto_delete_interval: body.auto_delete_interval.unwrap_or(-1),
        created_at: SystemTime::now(),
        created: Instant::now(),
        start_delay: st.start_delay,
        fault,
        last_activity: SystemTime::now(),
        sessions: BTreeMap::new(),
        dir: Arc::new(dir),
    };
    let dto = sb.dto(&c.toolbox_url());
    st.sandboxes.insert(id, sb);
    (StatusCode::OK, Json(dto)).into_response()
}

async fn get_sandbox(
    State(c): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authorize(&c, &headers, &uri) {
        return r;
    }
    let st = c.lock();
    match st.sandboxes.get(&id) {
        Some(sb) => Json(sb.dto(&c.toolbox_url())).into_response(),
        None => api_error(
            StatusCode::NOT_FOUND,
            &uri,
            &format!("Sandbox with ID or name {id} not found"),
        ),
    }
}

async fn delete_sandbox(
    State(c): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authorize(&c, &headers, &uri) {
        return r;
    }
    let removed = c.lock().sandboxes.remove(&id);
    match removed {
        Some(sb) => {
            let mut dto = sb.dto(&c.toolbox_url());
            dto["state"] = json!("destroying");
            dto["desiredState"] = json!("destroyed");
            // Dropping the sessions kills their shells; dropping the directory removes it.
            drop(sb);
            Json(dto).into_response()
        }
        None => api_error(
            StatusCode::NOT_FOUND,
            &uri,
            &format!("Sandbox with ID or name {id} not found"),
        ),
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    labels: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list_sandboxes(
    State(c): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = authorize(&c, &headers, &uri) {
        return r;
    }
    let filter: BTreeMap<String, String> = match q.labels.as_deref() {
        None | Some("") => BTreeMap::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(f) => f,
            Err(_) => {
                return api_error(StatusCode::BAD_REQUEST, &uri, "Invalid labels format");
            }
        },
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 200);
    let st = c.lock();
    let matching: Vec<&EmuSandbox> = st
        .sandboxes
        .values()
        .filter(|s| filter.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .filter(|s| q.cursor.as_deref().is_none_or(|cur| s.id.as_str() > cur))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .take(limit)
        .map(|s| s.dto(&c.toolbox_url()))
        .collect();
    let next = if matching.len() > limit {
        matching.get(limit - 1).map(|s| Value::String(s.id.clone()))
    } else {
        None
    };
    Json(json!({"items": page, "nextCursor": next.unwrap_or(Value::Null)})).into_response()
}

async fn last_activity(
    State(c): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authorize(&c, &headers, &uri) {
        return r;
    }
    let mut st = c.lock();
    match st.sandboxes.get_mut(&id) {
        Some(sb) => {
            sb.last_activity = SystemTime::now();
            StatusCode::CREATED.into_response()
        }
        None => api_error(
            StatusCode::NOT_FOUND,
            &uri,
            &format!("Sandbox with ID or name {id} not found"),
        ),
    }
}

async fn set_autostop(
    State(c): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path((id, interval)): Path<(String, i64)>,
) -> Response {
    if let Err(r) = authorize(&c, &headers, &uri) {
        return r;
    }
    let mut st = c.lock();
    match st.sandboxes.get_mut(&id) {
        Some(sb) => {
            sb.auto_stop_interval = interval;
            StatusCode::OK.into_response()
        }
        None => api_error(
            StatusCode::NOT_FOUND,
            &uri,
            &format!("Sandbox with ID or name {id} not found"),
        ),
    }
}

async fn toolbox_proxy_url(
    State(c): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authorize(&c, &headers, &uri) {
        return r;
    }
    if !c.lock().sandboxes.contains_key(&id) {
        return api_error(
            StatusCode::NOT_FOUND,
            &uri,
            &format!("Sandbox with ID or name {id} not found"),
        );
    }
    Json(json!({"url": c.toolbox_url()})).into_response()
}

// ---------------------------------------------------------------------------------------------
// Toolbox

/// Resolves the started sandbox a toolbox request is for, or the proxy's error.
fn toolbox_sandbox(
    c: &Control,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    id: &str,
) -> Result<Arc<SandboxDir>, Response> {
    authorize(c, headers, uri)?;
    let st = c.lock();
    let Some(sb) = st.sandboxes.get(id) else {
        return Err(toolbox_error(
            StatusCode::NOT_FOUND,
            method,
            uri,
            "NOT_FOUND",
            &format!("sandbox {id} not found"),
        ));
    };
    if sb.state() != "started" {
        return Err(toolbox_error(
            StatusCode::BAD_REQUEST,
            method,
            uri,
            "BAD_REQUEST",
            &format!("sandbox {id} is not started (state {})", sb.state()),
        ));
    }
    Ok(sb.dir.clone())
}

/// A path as the daemon resolves it: absolute as is, relative against its working directory.
fn vendor_path(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{WORK_DIR}/{path}")
    }
}

async fn bulk_upload(
    State(c): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> Response {
    let dir = match toolbox_sandbox(&c, &headers, &method, &uri, &id) {
        Ok(d) => d,
        Err(r) => return r,
    };
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
        Json(json!({"files": files})).into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": errors, "files": files})),
        )
            .into_response()
    }
}

#[derive(Debug, Deserialize)]
struct FolderQuery {
    path: String,
    mode: Option<String>,
}

async fn create_folder(
    State(c): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
    Query(q): Query<FolderQuery>,
) -> Response {
    let dir = match toolbox_sandbox(&c, &headers, &method, &uri, &id) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let _ = q.mode;
    match std::fs::create_dir_all(dir.map(&vendor_path(&q.path))) {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(e) => toolbox_error(
            StatusCode::BAD_REQUEST,
            &method,
            &uri,
            "BAD_REQUEST",
            &e.to_string(),
        ),
    }
}

async fn work_dir(
    State(c): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    match toolbox_sandbox(&c, &headers, &method, &uri, &id) {
        Ok(_) => Json(json!({"dir": WORK_DIR})).into_response(),
        Err(r) => r,
    }
}

async fn user_home_dir(
    State(c): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    match toolbox_sandbox(&c, &headers, &method, &uri, &id) {
        Ok(_) => Json(json!({"dir": WORK_DIR})).into_response(),
        Err(r) => r,
    }
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

/// A toolbox request body as JSON, or the daemon's 400 answer.
fn toolbox_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    method: &Method,
    uri: &Uri,
) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        toolbox_error(
            StatusCode::BAD_REQUEST,
            method,
            uri,
            "INVALID_REQUEST_BODY",
            &format!("invalid request body: {e}"),
        )
    })
}

/// `process/execute`: the daemon pipes the command to a shell with stdout and stderr in one
/// buffer; on timeout it kills the process group and answers 408, dropping the output.
async fn execute(
    State(c): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let dir = match toolbox_sandbox(&c, &headers, &method, &uri, &id) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let req: ExecuteBody = match toolbox_json(&body, &method, &uri) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if req.command.trim().is_empty() {
        return toolbox_error(
            StatusCode::BAD_REQUEST,
            &method,
            &uri,
            "BAD_REQUEST",
            "command cannot be empty or whitespace-only",
        );
    }
    let mut script = format!(
        "export HOME={}\nexec 2>&1\n",
        session::sh_quote(&dir.map(WORK_DIR).to_string_lossy())
    );
    for (k, v) in req.envs.iter().flatten() {
        if !valid_env_key(k) {
            return toolbox_error(
                StatusCode::BAD_REQUEST,
                &method,
                &uri,
                "BAD_REQUEST",
                &format!("invalid environment variable name: {k}"),
            );
        }
        script.push_str(&format!("export {k}={}\n", session::sh_quote(v)));
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
        Ok(r) if r.output.timed_out => toolbox_error(
            StatusCode::REQUEST_TIMEOUT,
            &method,
            &uri,
            "PROCESS_EXECUTION_TIMEOUT",
            "command execution timeout",
        ),
        Ok(r) => Json(json!({
            "exitCode": r.output.exit_code,
            "result": String::from_utf8_lossy(&r.output.stdout),
        }))
        .into_response(),
        Err(e) => Json(json!({"exitCode": -1, "result": e.to_string()})).into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSessionBody {
    session_id: String,
}

/// The session `sid` of sandbox `id`, after the same checks as [`toolbox_sandbox`], or the
/// daemon's error answer.
fn toolbox_session(
    c: &Control,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    id: &str,
    sid: &str,
) -> Result<SharedSession, Response> {
    toolbox_sandbox(c, headers, method, uri, id)?;
    session_of(c, id, sid).ok_or_else(|| {
        toolbox_error(
            StatusCode::NOT_FOUND,
            method,
            uri,
            "NOT_FOUND",
            "session not found",
        )
    })
}

fn session_of(c: &Control, id: &str, sid: &str) -> Option<SharedSession> {
    c.lock().sandboxes.get(id)?.sessions.get(sid).cloned()
}

async fn create_session(
    State(c): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let dir = match toolbox_sandbox(&c, &headers, &method, &uri, &id) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let req: CreateSessionBody = match toolbox_json(&body, &method, &uri) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if session_of(&c, &id, &req.session_id).is_some() {
        return toolbox_error(
            StatusCode::CONFLICT,
            &method,
            &uri,
            "CONFLICT",
            "session already exists",
        );
    }
    let home = dir.map(WORK_DIR);
    let sdir = dir.map(&format!("/tmp/.daytona/sessions/{}", req.session_id));
    let session = match Session::start(&req.session_id, sdir, &home, &home) {
        Ok(s) => s,
        Err(e) => {
            return toolbox_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &method,
                &uri,
                "INTERNAL_SERVER_ERROR",
                &e.to_string(),
            );
        }
    };
    let mut st = c.lock();
    match st.sandboxes.get_mut(&id) {
        Some(sb) => {
            sb.sessions
                .insert(req.session_id, Arc::new(tokio::sync::Mutex::new(session)));
            StatusCode::CREATED.into_response()
        }
        None => toolbox_error(
            StatusCode::NOT_FOUND,
            &method,
            &uri,
            "NOT_FOUND",
            "sandbox not found",
        ),
    }
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

async fn list_sessions(
    State(c): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = toolbox_sandbox(&c, &headers, &method, &uri, &id) {
        return r;
    }
    let sessions: Vec<SharedSession> = c
        .lock()
        .sandboxes
        .get(&id)
        .map(|s| s.sessions.values().cloned().collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for s in &sessions {
        out.push(session_dto(s).await);
    }
    Json(Value::Array(out)).into_response()
}

async fn get_session(
    State(c): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path((id, sid)): Path<(String, String)>,
) -> Response {
    match toolbox_session(&c, &headers, &method, &uri, &id, &sid) {
        Ok(s) => Json(session_dto(&s).await).into_response(),
        Err(r) => r,
    }
}

async fn delete_session(
    State(c): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path((id, sid)): Path<(String, String)>,
) -> Response {
    if let Err(r) = toolbox_sandbox(&c, &headers, &method, &uri, &id) {
        return r;
    }
    let removed = c
        .lock()
        .sandboxes
        .get_mut(&id)
        .and_then(|s| s.sessions.remove(&sid));
    match removed {
        Some(s) => {
            s.lock().await.kill();
            StatusCode::NO_CONTENT.into_response()
        }
        None => toolbox_error(
            StatusCode::NOT_FOUND,
            &method,
            &uri,
            "NOT_FOUND",
            "session not found",
        ),
    }
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

async fn session_exec(
    State(c): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path((id, sid)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = toolbox_sandbox(&c, &headers, &method, &uri, &id) {
        return r;
    }
    let req: SessionExecBody = match toolbox_json(&body, &method, &uri) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if req.command.trim().is_empty() {
        return toolbox_error(
            StatusCode::BAD_REQUEST,
            &method,
            &uri,
            "BAD_REQUEST",
            "command cannot be empty",
        );
    }
    let Some(session) = session_of(&c, &id, &sid) else {
        return toolbox_error(
            StatusCode::NOT_FOUND,
            &method,
            &uri,
            "NOT_FOUND",
            "session not found",
        );
    };
    let cmd = match session.lock().await.execute(&req.command).await {
        Ok(cmd) => cmd,
        Err(e) => {
            return toolbox_error(
                StatusCode::BAD_REQUEST,
                &method,
                &uri,
                "BAD_REQUEST",
                &format!("failed to write command: {e}"),
            );
        }
    };
    if req.run_async || req.legacy_async {
        return (
            StatusCode::ACCEPTED,
            Json(json!({"cmdId": cmd.id, "output": null, "stdout": null, "stderr": null, "exitCode": null})),
        )
            .into_response();
    }
    // Synchronous: wait for the exit code as the daemon does (no server-side deadline).
    let code = loop {
        if let Some(code) = cmd.exit_code() {
            break code;
        }
        if session_of(&c, &id, &sid).is_none() {
            return toolbox_error(
                StatusCode::BAD_REQUEST,
                &method,
                &uri,
                "BAD_REQUEST",
                "session cancelled",
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let log = cmd.log();
    let resp = match log_format(&headers) {
        LogFormat::Combined => json!({
            "cmdId": cmd.id, "output": String::from_utf8_lossy(&strip_prefixes(&log)),
            "stdout": null, "stderr": null, "exitCode": code,
        }),
        LogFormat::Raw => json!({
            "cmdId": cmd.id, "output": String::from_utf8_lossy(&log),
            "stdout": null, "stderr": null, "exitCode": code,
        }),
        LogFormat::Json => {
            let (out, err) = demux(&log);
            json!({
                "cmdId": cmd.id, "output": String::from_utf8_lossy(&log),
                "stdout": String::from_utf8_lossy(&out), "stderr": String::from_utf8_lossy(&err),
                "exitCode": code,
            })
        }
    };
    let body = bytes::Bytes::from(resp.to_string());
    let body = match c.kit.take_stream_cut(uri.path()) {
        Some(after) => cut_body(body, after),
        None => axum::body::Body::from(body),
    };
    ([("content-type", "application/json; charset=utf-8")], body).into_response()
}

async fn get_command(
    State(c): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path((id, sid, cid)): Path<(String, String, String)>,
) -> Response {
    let session = match toolbox_session(&c, &headers, &method, &uri, &id, &sid) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let s = session.lock().await;
    match s.commands.get(&cid) {
        Some(cmd) => Json(command_dto(cmd)).into_response(),
        None => toolbox_error(
            StatusCode::NOT_FOUND,
            &method,
            &uri,
            "NOT_FOUND",
            "command not found",
        ),
    }
}

async fn command_logs(
    State(c): State<Shared>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
    Path((id, sid, cid)): Path<(String, String, String)>,
) -> Response {
    let session = match toolbox_session(&c, &headers, &method, &uri, &id, &sid) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let cmd = match session.lock().await.commands.get(&cid) {
        Some(cmd) => cmd.clone(),
        None => {
            return toolbox_error(
                StatusCode::NOT_FOUND,
                &method,
                &uri,
                "NOT_FOUND",
                "command not found",
            );
        }
    };
    let log = cmd.log();
    let (content_type, body) = match log_format(&headers) {
        LogFormat::Json => {
            let (out, err) = demux(&log);
            let v = json!({
                "output": String::from_utf8_lossy(&log),
                "stdout": String::from_utf8_lossy(&out),
                "stderr": String::from_utf8_lossy(&err),
            });
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
    let body = match c.kit.take_stream_cut(uri.path()) {
        Some(after) => cut_body(body, after),
        None => axum::body::Body::from(body),
    };
    ([("content-type", content_type)], body).into_response()
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

/// RFC 3339 UTC with milliseconds, as the API prints dates.
fn iso8601(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso8601(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            "2023-11-14T22:13:20.000Z"
        );
    }

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
