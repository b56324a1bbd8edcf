//! A local emulator of E2B: the control-plane REST API (`/v2/sandboxes`, `/sandboxes/{id}`,
//! timeout, kill) and envd (`process.Process/Start` and `SendSignal` over Connect with the JSON
//! codec, `POST`/`GET /files`, `GET /health`), on one loopback server, as the official SDK reaches
//! them with `E2B_API_URL` and `E2B_SANDBOX_URL` pointing at it.
//!
//! Each sandbox is a real temporary directory ([`SandboxDir`]) where commands really run with
//! `sh -c` under the `Connect-Timeout-Ms` deadline; a killed or expired sandbox's directory is
//! removed. Wire details follow the vendor as recorded in `reference/cloud.md`: 201 on create
//! with `envdVersion` of a current envd, `{code, message}` error bodies (404 bodies carry
//! `code: 404`, which the SDK reads), `X-Next-Token` paging, Connect envelopes with a final
//! end-of-stream frame, keepalive events, 502 from the proxy for a sandbox that is gone.
//! Faults (latency, error statuses, stream cuts, slow requests) come from the shared [`Kit`].
//!
//! Known limits: commands run in a host temp directory, so absolute paths inside a command
//! (`cat /home/user/semantic/x`) are not mapped; only `cwd` and file paths are.

mod envd;
mod lifecycle;
mod multipart;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use atlas_emulator_kit::{Kit, RunningEmulator, SandboxDir, serve};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::json;

/// The envd version the emulated sandboxes report (a current envd, so the SDK enables every
/// feature it gates on the version).
pub const ENVD_VERSION: &str = "0.6.13";
/// The server-side default lifetime when a create does not send `timeout` (seconds).
pub const DEFAULT_TIMEOUT_SECS: u64 = 300;

/// How the emulator behaves.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// The API key the control plane accepts; `None` accepts any non-empty key.
    pub api_key: Option<String>,
    /// The templates that exist (others get 404 on create).
    pub templates: Vec<String>,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            api_key: None,
            templates: vec!["base".to_owned()],
        }
    }
}

/// One emulated sandbox.
#[derive(Debug)]
pub(crate) struct EmuSandbox {
    pub(crate) id: String,
    template: String,
    metadata: BTreeMap<String, String>,
    pub(crate) token: String,
    started_at: SystemTime,
    end_at: Mutex<SystemTime>,
    allow_internet_access: Option<bool>,
    pub(crate) dir: SandboxDir,
    /// Running commands by pid: sending on the channel kills the command.
    pub(crate) processes: Mutex<HashMap<u32, tokio::sync::oneshot::Sender<envd::Stop>>>,
    /// A frozen sandbox accepts commands but never answers them (a dead VM behind a live proxy).
    pub(crate) frozen: AtomicBool,
    /// Paused at the end of its lifetime instead of killed (`autoPause` at creation).
    auto_pause: bool,
    /// Running or paused, and the compute time it has used.
    pub(crate) life: Mutex<Life>,
}

/// Where an emulated sandbox is in its life.
#[derive(Debug)]
pub(crate) struct Life {
    /// `Some(since)` while running; `None` while paused.
    pub(crate) running_since: Option<std::time::Instant>,
    /// Compute time used before `running_since`.
    pub(crate) used: Duration,
}

impl Life {
    fn running() -> Self {
        Life {
            running_since: Some(std::time::Instant::now()),
            used: Duration::ZERO,
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.running_since.is_none()
    }

    /// Stops the compute clock; false if it was already paused.
    pub(crate) fn pause(&mut self) -> bool {
        match self.running_since.take() {
            Some(t) => {
                self.used += t.elapsed();
                true
            }
            None => false,
        }
    }

    fn compute(&self) -> Duration {
        self.used + self.running_since.map(|t| t.elapsed()).unwrap_or_default()
    }
}

impl EmuSandbox {
    pub(crate) fn is_paused(&self) -> bool {
        lock(&self.life).is_paused()
    }

    /// Pauses it as E2B does: its processes stop, its files stay, no compute is counted.
    pub(crate) fn pause(&self) -> bool {
        let paused = lock(&self.life).pause();
        if paused {
            self.kill_all();
        }
        paused
    }

    fn kill_all(&self) {
        let mut procs = lock(&self.processes);
        for (_, tx) in procs.drain() {
            let _ = tx.send(envd::Stop::Vanished);
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The emulator's state, for tests that need to look inside or break things.
#[derive(Debug)]
pub struct EmulatorState {
    pub(crate) kit: Arc<Kit>,
    opts: EmulatorOptions,
    sandboxes: Mutex<BTreeMap<String, Arc<EmuSandbox>>>,
    pub(crate) next_pid: AtomicU32,
}

impl EmulatorState {
    /// The ids of the sandboxes alive now (expired ones are removed first).
    pub fn live_sandboxes(&self) -> Vec<String> {
        self.reap();
        lock(&self.sandboxes).keys().cloned().collect()
    }

    /// Makes a sandbox vanish as E2B does when it expires or crashes: its commands are killed
    /// and its directory removed. Returns whether it existed.
    pub fn vanish(&self, id: &str) -> bool {
        let removed = lock(&self.sandboxes).remove(id);
        match removed {
            Some(sb) => {
                sb.kill_all();
                true
            }
            None => false,
        }
    }

    /// Freezes a sandbox: commands are accepted but never answered (no output, no keepalive).
    pub fn freeze(&self, id: &str) -> bool {
        match self.get(id) {
            Some(sb) => {
                sb.frozen.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// The host directory of a sandbox's `/`, while it lives.
    pub fn sandbox_root(&self, id: &str) -> Option<PathBuf> {
        self.get(id).map(|s| s.dir.path().to_path_buf())
    }

    /// The metadata a sandbox was created with.
    pub fn metadata(&self, id: &str) -> Option<BTreeMap<String, String>> {
        self.get(id).map(|s| s.metadata.clone())
    }

    /// The kit (faults and recorded requests).
    pub fn kit(&self) -> &Arc<Kit> {
        &self.kit
    }

    /// Whether a sandbox is paused (`None`: it does not exist).
    pub fn is_paused(&self, id: &str) -> Option<bool> {
        self.get(id).map(|s| s.is_paused())
    }

    /// The compute time a sandbox has used: running time only, paused time is not billed.
    pub fn compute_time(&self, id: &str) -> Option<Duration> {
        self.get(id).map(|s| lock(&s.life).compute())
    }

    /// Moves a sandbox's lifetime end to `in_` from now (tests make the lifetime timer fire).
    pub fn expire_in(&self, id: &str, in_: Duration) -> bool {
        match self.get(id) {
            Some(sb) => {
                *lock(&sb.end_at) = SystemTime::now() + in_;
                true
            }
            None => false,
        }
    }

    /// The ids of the paused sandboxes.
    pub fn paused_sandboxes(&self) -> Vec<String> {
        self.reap();
        lock(&self.sandboxes)
            .values()
            .filter(|s| s.is_paused())
            .map(|s| s.id.clone())
            .collect()
    }

    /// Ends the lifetimes that are over: a sandbox created with `autoPause` is paused (its
    /// files kept), any other is killed. A paused sandbox has no lifetime running.
    fn reap(&self) {
        let now = SystemTime::now();
        let expired: Vec<Arc<EmuSandbox>> = {
            let mut map = lock(&self.sandboxes);
            let ids: Vec<String> = map
                .iter()
                .filter(|(_, s)| !s.is_paused() && *lock(&s.end_at) <= now)
                .map(|(k, _)| k.clone())
                .collect();
            let mut out = Vec::new();
            for id in ids {
                let auto_pause = map.get(&id).is_some_and(|s| s.auto_pause);
                if auto_pause {
                    if let Some(sb) = map.get(&id) {
                        tracing::info!(sandbox = %id, "emulated sandbox timed out; auto-paused");
                        sb.pause();
                    }
                } else if let Some(sb) = map.remove(&id) {
                    out.push(sb);
                }
            }
            out
        };
        for sb in expired {
            tracing::info!(sandbox = %sb.id, "emulated sandbox expired");
            sb.kill_all();
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<EmuSandbox>> {
        self.reap();
        lock(&self.sandboxes).get(id).cloned()
    }
}

pub(crate) fn api_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"code": status.as_u16(), "message": message.into()})),
    )
        .into_response()
}

pub(crate) fn check_api_key(st: &EmulatorState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = match &st.opts.api_key {
        Some(expected) => key == expected,
        None => !key.trim().is_empty(),
    };
    if ok {
        Ok(())
    } else {
        Err(Box::new(api_error(
            StatusCode::UNAUTHORIZED,
            "Invalid API key, please visit https://e2b.dev/docs/api-key for more information.",
        )))
    }
}

fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

async fn create(State(st): State<Arc<EmulatorState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check_api_key(&st, &headers) {
        return *r;
    }
    let v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, format!("invalid body: {e}")),
    };
    let Some(template) = v.get("templateID").and_then(|t| t.as_str()) else {
        return api_error(StatusCode::BAD_REQUEST, "templateID is required");
    };
    if !st.opts.templates.iter().any(|t| t == template) {
        return api_error(
            StatusCode::NOT_FOUND,
            format!("template '{template}' not found"),
        );
    }
    let timeout = match v.get("timeout") {
        None | Some(serde_json::Value::Null) => DEFAULT_TIMEOUT_SECS,
        Some(t) => match t.as_u64() {
            Some(t) => t,
            None => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "timeout must be a non-negative integer",
                );
            }
        },
    };
    let metadata: BTreeMap<String, String> = match v.get("metadata") {
        None | Some(serde_json::Value::Null) => BTreeMap::new(),
        Some(m) => match serde_json::from_value(m.clone()) {
            Ok(m) => m,
            Err(e) => return api_error(StatusCode::BAD_REQUEST, format!("invalid metadata: {e}")),
        },
    };
    let dir = match SandboxDir::new() {
        Ok(d) => d,
        Err(e) => {
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot create sandbox: {e}"),
            );
        }
    };
    for d in ["/home/user", "/tmp"] {
        if let Err(e) = std::fs::create_dir_all(dir.map(d)) {
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot create sandbox: {e}"),
            );
        }
    }
    let now = SystemTime::now();
    let sb = Arc::new(EmuSandbox {
        id: random_id(20),
        template: template.to_owned(),
        metadata,
        token: format!("{:032x}", rand::random::<u128>()),
        started_at: now,
        end_at: Mutex::new(now + Duration::from_secs(timeout)),
        allow_internet_access: v.get("allow_internet_access").and_then(|b| b.as_bool()),
        dir,
        processes: Mutex::new(HashMap::new()),
        frozen: AtomicBool::new(false),
        auto_pause: v
            .get("autoPause")
            .and_then(|b| b.as_bool())
            .unwrap_or(false),
        life: Mutex::new(Life::running()),
    });
    lock(&st.sandboxes).insert(sb.id.clone(), sb.clone());
    let body = sandbox_body(&sb);
    // Fault: the sandbox exists but its answer is cut (the connection dropped mid-response).
    if let Some(after) = st.kit.take_stream_cut("/v2/sandboxes") {
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let cut = bytes[..after.min(bytes.len())].to_vec();
        return (
            StatusCode::CREATED,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            cut,
        )
            .into_response();
    }
    (StatusCode::CREATED, Json(body)).into_response()
}

/// The `Sandbox` body of a create or connect answer.
pub(crate) fn sandbox_body(sb: &EmuSandbox) -> serde_json::Value {
    json!({
        "sandboxID": sb.id,
        "templateID": sb.template,
        "alias": sb.template,
        "clientID": "6532622b",
        "envdVersion": ENVD_VERSION,
        "envdAccessToken": sb.token,
        "trafficAccessToken": null,
        "domain": null,
    })
}

fn listed(sb: &EmuSandbox) -> serde_json::Value {
    json!({
        "templateID": sb.template,
        "alias": sb.template,
        "sandboxID": sb.id,
        "clientID": "6532622b",
        "startedAt": atlas_emulator_kit::rfc3339_millis(sb.started_at),
        "endAt": atlas_emulator_kit::rfc3339_millis(*lock(&sb.end_at)),
        "cpuCount": 2,
        "memoryMB": 512,
        "diskSizeMB": 1024,
        "metadata": sb.metadata,
        "state": if sb.is_paused() { "paused" } else { "running" },
        "envdVersion": ENVD_VERSION,
        "volumeMounts": [],
    })
}

async fn get_sandbox(
    State(st): State<Arc<EmulatorState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_api_key(&st, &headers) {
        return *r;
    }
    match st.get(&id) {
        Some(sb) => {
            let mut v = listed(&sb);
            v["envdAccessToken"] = json!(sb.token);
            v["allowInternetAccess"] = json!(sb.allow_internet_access);
            v["domain"] = serde_json::Value::Null;
            v["lifecycle"] = json!({
                "autoResume": false,
                "onTimeout": if sb.auto_pause { "pause" } else { "kill" },
            });
            Json(v).into_response()
        }
        None => not_found(&id),
    }
}

pub(crate) fn not_found(id: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        format!("sandbox \"{id}\" doesn't exist or you don't have access to it"),
    )
}

/// Decodes `%XX` escapes (and nothing else).
pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

async fn list_sandboxes(
    State(st): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(r) = check_api_key(&st, &headers) {
        return *r;
    }
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    // `metadata` is itself `k=v&...` with each key and value URL-encoded.
    let filter: Vec<(String, String)> = param("metadata")
        .map(|m| {
            m.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (
                        percent_decode(&percent_decode(k)),
                        percent_decode(&percent_decode(v)),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let wants =
        |state: &str| param("state").is_none_or(|s| s.split(',').any(|x| x.trim() == state));
    let (wants_running, wants_paused) = (wants("running"), wants("paused"));
    let limit = match param("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => return api_error(StatusCode::BAD_REQUEST, "limit must be between 1 and 100"),
    };
    let offset = match param("nextToken").map(|t| t.parse::<usize>()) {
        None => 0,
        Some(Ok(o)) => o,
        Some(Err(_)) => return api_error(StatusCode::BAD_REQUEST, "invalid nextToken"),
    };
    let asc = param("order").is_some_and(|o| o == "asc");
    st.reap();
    let mut matching: Vec<Arc<EmuSandbox>> = lock(&st.sandboxes)
        .values()
        .filter(|s| {
            if s.is_paused() {
                wants_paused
            } else {
                wants_running
            }
        })
        .filter(|s| filter.iter().all(|(k, v)| s.metadata.get(k) == Some(v)))
        .cloned()
        .collect();
    matching.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
    if !asc {
        matching.reverse();
    }
    let total = matching.len();
    let page: Vec<serde_json::Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| listed(s))
        .collect();
    let mut resp = Json(page).into_response();
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        resp.headers_mut().insert("x-total-running", v);
    }
    if offset + limit < total
        && let Ok(v) = HeaderValue::from_str(&(offset + limit).to_string())
    {
        resp.headers_mut().insert("x-next-token", v);
    }
    resp
}

async fn set_timeout(
    State(st): State<Arc<EmulatorState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_api_key(&st, &headers) {
        return *r;
    }
    let secs = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("timeout").and_then(|t| t.as_u64()));
    let Some(secs) = secs else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "body must be {\"timeout\": <seconds>}",
        );
    };
    match st.get(&id) {
        Some(sb) if sb.is_paused() => api_error(
            StatusCode::CONFLICT,
            format!("sandbox \"{id}\" is paused; resume it with connect first"),
        ),
        Some(sb) => {
            *lock(&sb.end_at) = SystemTime::now() + Duration::from_secs(secs);
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found(&id),
    }
}

async fn kill(
    State(st): State<Arc<EmulatorState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_api_key(&st, &headers) {
        return *r;
    }
    st.reap();
    if st.vanish(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found(&id)
    }
}

async fn fallback() -> Response {
    api_error(StatusCode::NOT_FOUND, "not found")
}

/// The emulator's router over `state`.
pub fn router(state: Arc<EmulatorState>) -> axum::Router {
    axum::Router::new()
        .route("/v2/sandboxes", post(create).get(list_sandboxes))
        .route("/sandboxes", post(create))
        .route("/sandboxes/{id}", get(get_sandbox).delete(kill))
        .route("/sandboxes/{id}/timeout", post(set_timeout))
        .route("/sandboxes/{id}/pause", post(lifecycle::pause))
        .route("/v2/sandboxes/{id}/connect", post(lifecycle::connect))
        .route("/health", get(envd::health))
        .route("/files", post(envd::upload).get(envd::download))
        .route("/process.Process/{method}", post(envd::process_rpc))
        .fallback(fallback)
        .with_state(state)
}

/// Starts an emulator with default options on `127.0.0.1:0`.
///
/// # Panics
/// If no loopback port can be bound (test support only).
pub async fn start(kit: Arc<Kit>) -> RunningEmulator {
    #[allow(clippy::expect_used)]
    start_with(kit, EmulatorOptions::default(), None)
        .await
        .map(|(emu, _)| emu)
        .expect("cannot bind the E2B emulator on loopback")
}

/// A fresh emulator state over `kit`, for serving [`router`] with a server of one's own.
pub fn new_state(kit: Arc<Kit>, opts: EmulatorOptions) -> Arc<EmulatorState> {
    Arc::new(EmulatorState {
        kit,
        opts,
        sandboxes: Mutex::new(BTreeMap::new()),
        next_pid: AtomicU32::new(1000),
    })
}

/// Starts an emulator and returns its state as well, on `addr` (default `127.0.0.1:0`).
pub async fn start_with(
    kit: Arc<Kit>,
    opts: EmulatorOptions,
    addr: Option<SocketAddr>,
) -> std::io::Result<(RunningEmulator, Arc<EmulatorState>)> {
    let state = new_state(kit.clone(), opts);
    let emu = serve(router(state.clone()), kit, addr).await?;
    Ok((emu, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
        assert_eq!(percent_decode(&percent_decode("a%2520b")), "a b");
    }
}
