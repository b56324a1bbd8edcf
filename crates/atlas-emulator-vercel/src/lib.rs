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

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use atlas_emulator_kit::{Kit, RunningEmulator, serve};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::routing::{get, post};
use serde_json::Value;

mod commands;
mod error;
mod files;
mod sandboxes;
mod sessions;
mod state;

use commands::{command_logs, get_command, kill_command, run_command};
use error::{Answer, bad_request, error};
use files::{mkdir, read_file, write_files};
use sandboxes::{create, delete_sandbox, get_sandbox, list};
use sessions::{extend_timeout, get_session, stop_session};
use state::{Data, Session};

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

#[cfg(test)]
mod tests {
    use atlas_emulator_kit::StreamKind;
    use serde_json::json;

    use super::state::Log;
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
