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

mod call;
mod control_plane;
mod files;
mod process;
mod session;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use atlas_emulator_kit::{Kit, RunningEmulator, serve};
use axum::routing::{get, post};

pub use session::{STDERR_PREFIX, STDOUT_PREFIX, demux, strip_prefixes};

use control_plane::{
    archive_sandbox, create_sandbox, delete_sandbox, get_sandbox, last_activity, list_sandboxes,
    set_autoarchive, set_autodelete, set_autostop, start_sandbox, stop_sandbox, toolbox_proxy_url,
};
use files::{bulk_upload, create_folder, home_dir};
use process::{
    command_logs, create_session, delete_session, execute, get_command, get_session, list_sessions,
    session_exec,
};
use state::{EmuSandbox, EmuState, Life};

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

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::process::{LogFormat, log_format};

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
