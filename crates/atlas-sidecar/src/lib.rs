//! The atlas-sidecar server: `POST /exec` runs `sh -c <command>` over a read-only semantic layer,
//! `GET /health` says whether it can, `GET /version` says what it is.
//!
//! Every command gets a clean environment, its own empty temporary HOME/TMPDIR (see
//! [`scratch`]), its own process group (killed at the deadline with exit 124, when the client
//! disconnects and when it exits), capped output, and a slot under a concurrency limit; requests
//! beyond it wait in a bounded line (see [`admission`]), and only past that line get 429. The
//! bearer token is compared in constant time; the server fails closed without one.

pub mod admission;
pub mod scratch;

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::IncomingStream;
use subtle::ConstantTimeEq;
use tokio::sync::watch;

use crate::admission::{Admission, Refused};
use crate::scratch::ScratchPool;

use atlas_sandbox_sdk::ExecRequest;
use atlas_sandbox_sdk::process::direct::DirectExec;
use atlas_sandbox_sdk::process::{ProcessSpec, run};
use atlas_sandbox_sidecar::protocol::{
    ErrorBody, ExecBody, ExecResponse, HealthBody, PROTOCOL_VERSION, VersionBody,
};

/// Where the server looks for `--shell` when it is a bare name and not in `/bin` (commands
/// themselves see `atlas_sandbox_sdk::COMMAND_ENV`'s `PATH`).
pub const COMMAND_PATH: &str = "/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin";

/// Commands running at once by default.
pub const DEFAULT_MAX_CONCURRENT: usize = 16;
/// Requests waiting for a slot by default: enough for 64 agents at once on the default limit,
/// small enough that the line's bodies (at most `max_body_bytes` each) stay a few MiB.
pub const DEFAULT_MAX_QUEUE: usize = 128;
/// How long a request waits for a slot by default (below the plugin's default grace of 5 s on
/// top of the command's timeout, so the client hears 429 rather than timing out itself).
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(4);

/// How the server behaves; built by `main` from flags and environment.
#[derive(Clone)]
pub struct ServerConfig {
    /// The semantic layer commands run in (read-only in the container).
    pub semantic_root: PathBuf,
    /// The bearer token; `None` only when auth was explicitly disabled.
    pub token: Option<Vec<u8>>,
    /// The absolute path of the shell, resolved at boot so a narrow `PATH` cannot break it.
    pub shell: PathBuf,
    /// Commands allowed to run at once; more wait in line.
    pub max_concurrent: usize,
    /// Requests that may wait for a running slot; more get 429 at once.
    pub max_queue: usize,
    /// How long a request may wait for a running slot before it gets 429.
    pub queue_timeout: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Timeout of a request that does not set one.
    pub default_timeout: Duration,
    /// Longest timeout a request may ask for.
    pub max_timeout: Duration,
    /// Largest per-stream output cap a request may ask for (and the default).
    pub max_output_bytes: usize,
    /// Where the per-command temporary directories are created.
    pub tmp_root: PathBuf,
    /// Run a line that is one external program with plain words as bash would, without
    /// starting bash (see `atlas_sandbox_sdk::process::direct`); on by default.
    pub direct_exec: bool,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("semantic_root", &self.semantic_root)
            .field("auth", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("shell", &self.shell)
            .field("max_concurrent", &self.max_concurrent)
            .field("max_queue", &self.max_queue)
            .field("queue_timeout", &self.queue_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("default_timeout", &self.default_timeout)
            .field("max_timeout", &self.max_timeout)
            .field("max_output_bytes", &self.max_output_bytes)
            .field("tmp_root", &self.tmp_root)
            .field("direct_exec", &self.direct_exec)
            .finish()
    }
}

impl ServerConfig {
    /// A config with the defaults for `semantic_root` and `token`.
    pub fn new(semantic_root: impl Into<PathBuf>, token: Option<Vec<u8>>) -> Self {
        ServerConfig {
            semantic_root: semantic_root.into(),
            token,
            shell: PathBuf::from("/bin/bash"),
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            max_queue: DEFAULT_MAX_QUEUE,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            max_body_bytes: 64 * 1024,
            default_timeout: atlas_sandbox_sdk::DEFAULT_TIMEOUT,
            max_timeout: Duration::from_secs(60),
            max_output_bytes: atlas_sandbox_sdk::DEFAULT_MAX_OUTPUT_BYTES,
            tmp_root: std::env::temp_dir(),
            direct_exec: true,
        }
    }
}

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A unix socket path (used by `atlas-sandbox sidecar up`: the container has no network).
    Unix(PathBuf),
}

impl std::str::FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(
                    "--listen unix: needs a socket path, e.g. unix:/run/sidecar.sock".into(),
                );
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        s.parse::<SocketAddr>().map(Listen::Tcp).map_err(|e| {
            format!("--listen {s:?} is neither HOST:PORT (e.g. 127.0.0.1:8080) nor unix:PATH ({e})")
        })
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Tcp(a) => write!(f, "{a}"),
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Why the server refused to start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No token and no explicit opt-out.
    #[error(
        "refusing to start without an auth token: set SIDECAR_AUTH_TOKEN (or, for local development only, pass --auth-disabled / SIDECAR_AUTH_DISABLE=1, which binds to loopback only)"
    )]
    NoToken,
    /// Auth disabled on an address other hosts can reach.
    #[error(
        "auth is disabled, so the server only binds to a loopback address or a unix socket; {0} is neither"
    )]
    NotLoopback(SocketAddr),
    /// The configured token is blank.
    #[error("SIDECAR_AUTH_TOKEN is empty or only whitespace")]
    BlankToken,
    /// A limit is zero.
    #[error("{0} must be greater than zero")]
    ZeroLimit(&'static str),
}

impl ServerConfig {
    /// Checks the combination of auth and listen address (fail closed).
    pub fn check(&self, listen: &Listen) -> Result<(), StartError> {
        match &self.token {
            Some(t) if t.iter().all(u8::is_ascii_whitespace) => return Err(StartError::BlankToken),
            Some(_) => {}
            None => {
                if let Listen::Tcp(addr) = listen
                    && !addr.ip().is_loopback()
                {
                    return Err(StartError::NotLoopback(*addr));
                }
            }
        }
        for (name, v) in [
            ("--max-concurrent", self.max_concurrent),
            ("--max-body-bytes", self.max_body_bytes),
            ("--max-output-bytes", self.max_output_bytes),
        ] {
            if v == 0 {
                return Err(StartError::ZeroLimit(name));
            }
        }
        if self.max_timeout.is_zero()
            || self.default_timeout.is_zero()
            || self.queue_timeout.is_zero()
        {
            return Err(StartError::ZeroLimit("the timeout"));
        }
        Ok(())
    }
}

/// A duplicate of the connection's socket, kept so a handler can notice the client hanging up
/// while its command runs: hyper does not read from the connection (and so does not notice) until
/// the handler returns.
#[derive(Clone, Debug)]
pub struct Conn(Option<Arc<OwnedFd>>);

impl Conn {
    fn of(io: &impl AsFd) -> Self {
        Conn(io.as_fd().try_clone_to_owned().ok().map(Arc::new))
    }

    /// Whether the peer closed its side (FIN or reset).
    fn peer_closed(&self) -> bool {
        let Some(fd) = &self.0 else {
            return false;
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd, owned by this frame, for a descriptor kept open by `fd`;
        // a zero timeout never blocks.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n > 0 && pfd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
    }
}

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        // Answers are small and written once: do not let Nagle hold them back.
        let _ = stream.io().set_nodelay(true);
        Conn::of(stream.io())
    }
}

impl Connected<IncomingStream<'_, tokio::net::UnixListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, tokio::net::UnixListener>) -> Self {
        Conn::of(stream.io())
    }
}

/// The connection of a request, when served by [`serve`] (absent for other callers).
struct Peer(Option<Conn>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<Conn>>()
                .map(|c| c.0.clone()),
        ))
    }
}

/// How often a running command checks whether its client is still there.
const HANGUP_POLL: Duration = Duration::from_millis(50);

struct AppState {
    config: ServerConfig,
    admission: Admission,
    scratch: Arc<ScratchPool>,
    /// What the shell does for a one-program line, asked of it on the first request (after
    /// the server has dropped its privileges, so the answer is the commands' own).
    direct: tokio::sync::OnceCell<Option<DirectExec>>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(ErrorBody {
            error: message.into(),
        }),
    )
        .into_response()
}

/// The router (exposed for in-process tests and benches).
pub fn router(config: ServerConfig) -> Router {
    let state = Arc::new(AppState {
        admission: Admission::new(
            config.max_concurrent,
            config.max_queue,
            config.queue_timeout,
        ),
        scratch: Arc::new(ScratchPool::new(&config.tmp_root, config.max_concurrent)),
        direct: tokio::sync::OnceCell::new(),
        config,
    });
    let body_limit = state.config.max_body_bytes;
    let exec = Router::new()
        .route("/exec", post(exec))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth));
    Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .merge(exec)
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not found")
}

/// Whether the `Authorization` header carries the expected bearer token.
fn authorized(expected: &[u8], headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
    else {
        return false;
    };
    let Some(scheme) = value.get(..7) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return false;
    }
    // `ct_eq` on slices of different lengths answers at once: the token's length is not secret
    // (generated tokens all have the same length), its bytes are.
    bool::from(value[7..].ct_eq(expected))
}

async fn auth(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if let Some(expected) = &state.config.token
        && !authorized(expected, request.headers())
    {
        let mut resp = error(StatusCode::UNAUTHORIZED, "Unauthorized");
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    }
    next.run(request).await
}

async fn version() -> Response {
    axum::Json(VersionBody {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        protocol: PROTOCOL_VERSION,
    })
    .into_response()
}

fn shell_usable(shell: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(shell) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(_) => Err(format!(
            "shell {} is not an executable file",
            shell.display()
        )),
        Err(e) => Err(format!("shell {} is missing: {e}", shell.display())),
    }
}

fn semantic_readable(root: &Path) -> Result<(), String> {
    match std::fs::read_dir(root) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "semantic directory {} is unreadable: {e}",
            root.display()
        )),
    }
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let cfg = &state.config;
    let shell = shell_usable(&cfg.shell);
    let semantic = semantic_readable(&cfg.semantic_root);
    let reasons: Vec<String> = [&shell, &semantic]
        .into_iter()
        .filter_map(|r| r.as_ref().err().cloned())
        .collect();
    let body = HealthBody {
        status: if reasons.is_empty() { "ok" } else { "error" }.to_owned(),
        reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        shell_available: shell.is_ok(),
        shell: Some(cfg.shell.display().to_string()),
        semantic_readable: semantic.is_ok(),
        running: state.admission.running(),
        max_concurrent: cfg.max_concurrent,
    };
    let status = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// The working directory of a request: inside the semantic root even through symlinks.
fn resolve_cwd(root: &Path, relative: &str) -> Result<PathBuf, (StatusCode, String)> {
    if relative.is_empty() {
        return Ok(root.to_path_buf());
    }
    let real_root = std::fs::canonicalize(root).map_err(|e| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("semantic directory is unreadable: {e}"),
        )
    })?;
    let real = std::fs::canonicalize(real_root.join(relative))
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("cwd {relative:?}: {e}")))?;
    // Component-wise comparison: "/semantic_evil" does not start with "/semantic".
    if !real.starts_with(&real_root) {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("cwd {relative:?} resolves outside the semantic root"),
        ));
    }
    if !real.is_dir() {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("cwd {relative:?} is not a directory"),
        ));
    }
    Ok(real)
}

async fn exec(
    State(state): State<Arc<AppState>>,
    Peer(peer): Peer,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let cfg = &state.config;
    let body = match body {
        Ok(b) => b,
        Err(rej) => {
            let status = rej.status();
            let msg = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "request body is larger than {} bytes (--max-body-bytes)",
                    cfg.max_body_bytes
                )
            } else {
                rej.body_text()
            };
            return error(status, msg);
        }
    };
    let body: ExecBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "invalid JSON body: {e}; expected {{\"command\": string, \"timeout_ms\"?: number, \"cwd\"?: string}}"
                ),
            );
        }
    };
    let timeout = body
        .timeout_ms
        .map_or(cfg.default_timeout, Duration::from_millis)
        .min(cfg.max_timeout);
    let mut request = ExecRequest::new(body.command)
        .timeout(timeout)
        .max_output_bytes(
            body.max_output_bytes
                .unwrap_or(cfg.max_output_bytes)
                .min(cfg.max_output_bytes),
        );
    // Atlas's clients send cwd as "/semantic/<dir>"; accept that spelling of a relative path.
    request.cwd = body.cwd.map(|c| {
        let root = cfg.semantic_root.to_string_lossy();
        for prefix in [root.as_ref(), "/semantic"] {
            match c.strip_prefix(prefix) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                    return rest.trim_start_matches('/').to_owned();
                }
                _ => {}
            }
        }
        c
    });
    if let Err(e) = request.validate() {
        return error(StatusCode::BAD_REQUEST, e.message());
    }
    let relative = match request.relative_cwd() {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.message()),
    };
    let queued_at = Instant::now();
    let _slot = match state
        .admission
        .admit(HANGUP_POLL, || peer.as_ref().is_some_and(Conn::peer_closed))
        .await
    {
        Ok(slot) => slot,
        Err(Refused::ClientGone) => {
            tracing::info!(
                waited_ms = queued_at.elapsed().as_millis() as u64,
                "client disconnected while waiting for a slot; nothing was run"
            );
            return error(StatusCode::REQUEST_TIMEOUT, "client disconnected");
        }
        Err(why) => {
            let message = match why {
                Refused::QueueFull => format!(
                    "{} commands are running (--max-concurrent) and {} more are waiting \
                     (--max-queue); retry shortly",
                    cfg.max_concurrent, cfg.max_queue
                ),
                _ => format!(
                    "{} commands are running (--max-concurrent) and none finished within the \
                     queue timeout of {} (--queue-timeout); retry shortly",
                    cfg.max_concurrent,
                    atlas_sandbox_sdk::HumanDuration(cfg.queue_timeout)
                ),
            };
            let mut resp = error(StatusCode::TOO_MANY_REQUESTS, message);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return resp;
        }
    };
    let cwd = match resolve_cwd(&cfg.semantic_root, &relative) {
        Ok(c) => c,
        Err((status, message)) => return error(status, message),
    };
    let scratch = match state.scratch.acquire() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(
                "cannot create a temp dir in {}: {e}",
                cfg.tmp_root.display()
            );
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot create the command's temp dir",
            );
        }
    };
    // The environment of every backend (atlas_sandbox_sdk::COMMAND_ENV), with HOME and TMPDIR
    // pointing at this request's own scratch directory.
    let env = command_env(scratch.path());
    let shell_spec = {
        let mut spec = ProcessSpec::new(&cfg.shell).arg("-c").arg(&request.command);
        for (k, v) in &env {
            spec = spec.env(k, v);
        }
        spec.cwd(&cwd)
            .timeout(request.timeout)
            .max_output_bytes(request.max_output_bytes)
    };
    let direct_spec = match direct_plan(&state, &request.command).await {
        Some((d, plan)) => d.environment(&plan, &shell_spec.env, &cwd).map(|env| {
            let mut spec = ProcessSpec::new(&plan.program)
                .arg0(&plan.argv[0])
                .args(&plan.argv[1..]);
            spec.env = env;
            spec.cwd(&cwd)
                .timeout(request.timeout)
                .max_output_bytes(request.max_output_bytes)
        }),
        None => None,
    };
    let started = Instant::now();
    // Declared before the runner so that, when hyper drops this handler because the client
    // went away, the runner (and with it the process group) is gone before the line is logged.
    let mut watch = DisconnectLog {
        started,
        timeout: request.timeout,
        command: &request.command,
        armed: true,
    };
    let mut running = Box::pin(async {
        if let Some(d) = &direct_spec {
            match run(d).await {
                Ok(r) => {
                    tracing::debug!(program = %d.program.display(), "ran without the shell");
                    return Ok(r);
                }
                // The file would not start (a script without `#!`, a race with its removal):
                // bash knows what to do with it, and has not run anything yet.
                Err(e) => tracing::debug!(
                    "direct start of {} failed ({e}); via the shell",
                    d.program.display()
                ),
            }
        }
        run(&shell_spec).await
    });
    let mut hangup =
        tokio::time::interval_at(tokio::time::Instant::now() + HANGUP_POLL, HANGUP_POLL);
    let result = loop {
        tokio::select! {
            r = &mut running => break Some(r),
            _ = hangup.tick() => {
                if peer.as_ref().is_some_and(Conn::peer_closed) {
                    break None;
                }
            }
        }
    };
    // Dropping the runner kills the command's process group before its temp dir is checked
    // for reuse: nothing of the command can write into it once it is handed on.
    drop(running);
    drop(scratch);
    let Some(result) = result else {
        drop(watch);
        return error(StatusCode::REQUEST_TIMEOUT, "client disconnected");
    };
    watch.armed = false;
    match result {
        Ok(r) => {
            tracing::debug!(
                exit = r.output.exit_code,
                timed_out = r.output.timed_out,
                ms = started.elapsed().as_millis() as u64,
                "exec"
            );
            axum::Json(ExecResponse::from_output(&r.output, body.encoding)).into_response()
        }
        Err(e) => {
            tracing::error!("cannot run {}: {e}", cfg.shell.display());
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot run the shell {}: {e}", cfg.shell.display()),
            )
        }
    }
}

/// The environment of a command: every backend's, with HOME and TMPDIR in its scratch dir.
fn command_env(scratch: &Path) -> Vec<(String, String)> {
    let scratch = scratch.to_string_lossy();
    atlas_sandbox_sdk::COMMAND_ENV
        .iter()
        .filter(|(k, _)| *k != "HOME")
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .chain([
            ("HOME".to_owned(), scratch.to_string()),
            ("TMPDIR".to_owned(), scratch.to_string()),
        ])
        .collect()
}

/// The direct plan of `line` when the server may run it without the shell.
async fn direct_plan<'a>(
    state: &'a AppState,
    line: &str,
) -> Option<(
    &'a DirectExec,
    atlas_sandbox_sdk::process::direct::DirectPlan,
)> {
    let cfg = &state.config;
    if !cfg.direct_exec {
        return None;
    }
    let d = state
        .direct
        .get_or_init(|| async {
            let probe_dir = cfg.tmp_root.clone();
            let found =
                DirectExec::probe(&cfg.shell, &command_env(&probe_dir), &cfg.semantic_root).await;
            if found.is_none() {
                tracing::info!(
                    shell = %cfg.shell.display(),
                    "every command goes through the shell: it did not answer the direct-exec probe"
                );
            }
            found
        })
        .await
        .as_ref()?;
    let path = atlas_sandbox_sdk::COMMAND_ENV
        .iter()
        .find(|(k, _)| *k == "PATH")
        .map_or("/usr/bin:/bin", |(_, v)| *v);
    d.plan(line, path).map(|p| (d, p))
}

/// Logs, when dropped armed, that a client went away while its command ran (and so the
/// command was killed): whether the handler saw the hang-up itself or hyper dropped it.
struct DisconnectLog<'a> {
    started: Instant,
    timeout: Duration,
    command: &'a str,
    armed: bool,
}

impl Drop for DisconnectLog<'_> {
    fn drop(&mut self) {
        if self.armed {
            tracing::warn!(
                ran_ms = self.started.elapsed().as_millis() as u64,
                timeout_ms = self.timeout.as_millis() as u64,
                command = %preview(self.command),
                "client disconnected while its command ran; the command's process group was killed"
            );
        }
    }
}

/// The start of a command for a log line: one line, at most 120 characters.
fn preview(command: &str) -> String {
    let line: String = command
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    if command.chars().count() > 120 {
        format!("{line}…")
    } else {
        line
    }
}

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight commands finish (they
/// are bounded by their own deadlines) and returns; after `grace` more it returns anyway, which
/// drops the remaining commands and so kills their process groups.
pub async fn serve(
    listen: &Listen,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(&str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    config.check(listen)?;
    let grace = config.max_timeout + Duration::from_secs(5);
    let app = router(config);
    let (tx, mut rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let mut rx2 = rx.clone();
    let stop = async move {
        let _ = rx2.wait_for(|v| *v).await;
    };
    let hard_stop = async move {
        let _ = rx.wait_for(|v| *v).await;
        tokio::time::sleep(grace).await;
    };
    match listen {
        Listen::Tcp(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            let local = listener.local_addr()?;
            ready(&local.to_string())?;
            let server = axum::serve(
                listener,
                app.clone().into_make_service_with_connect_info::<Conn>(),
            )
            .with_graceful_shutdown(stop);
            tokio::select! {
                r = server => r?,
                () = hard_stop => tracing::warn!("shutdown grace of {grace:?} passed; stopping"),
            }
        }
        Listen::Unix(path) => {
            use std::os::unix::fs::PermissionsExt;
            // A socket left by a previous run blocks the bind.
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            let listener = tokio::net::UnixListener::bind(path)?;
            // Any local user may connect; the bearer token is what authorizes.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
            ready(&format!("unix:{}", path.display()))?;
            let server = axum::serve(
                listener,
                app.clone().into_make_service_with_connect_info::<Conn>(),
            )
            .with_graceful_shutdown(stop);
            tokio::select! {
                r = server => r?,
                () = hard_stop => tracing::warn!("shutdown grace of {grace:?} passed; stopping"),
            }
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn bearer_comparison() {
        assert!(authorized(b"s3cret", &headers("Bearer s3cret")));
        assert!(authorized(b"s3cret", &headers("bearer s3cret")));
        assert!(!authorized(b"s3cret", &headers("Bearer s3cre")));
        assert!(!authorized(b"s3cret", &headers("Bearer s3cret2")));
        assert!(!authorized(b"s3cret", &headers("Basic s3cret")));
        assert!(!authorized(b"s3cret", &headers("Bearer")));
        assert!(!authorized(b"s3cret", &HeaderMap::new()));
    }

    #[test]
    fn listen_parsing_and_fail_closed() {
        assert_eq!(
            "unix:/run/x.sock".parse::<Listen>().unwrap(),
            Listen::Unix("/run/x.sock".into())
        );
        assert!("localhost".parse::<Listen>().is_err());
        let open = ServerConfig::new("/semantic", None);
        let any: Listen = "0.0.0.0:8080".parse().unwrap();
        assert!(matches!(open.check(&any), Err(StartError::NotLoopback(_))));
        assert!(open.check(&"127.0.0.1:8080".parse().unwrap()).is_ok());
        assert!(open.check(&"[::1]:8080".parse().unwrap()).is_ok());
        let blank = ServerConfig::new("/semantic", Some(b"  ".to_vec()));
        assert!(matches!(blank.check(&any), Err(StartError::BlankToken)));
        let ok = ServerConfig::new("/semantic", Some(b"t".to_vec()));
        assert!(ok.check(&any).is_ok());
    }

    #[test]
    fn cwd_cannot_leave_the_root_through_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("semantic");
        std::fs::create_dir_all(root.join("entities")).unwrap();
        std::fs::create_dir_all(tmp.path().join("semantic_evil")).unwrap();
        std::os::unix::fs::symlink("../semantic_evil", root.join("evil")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        assert!(resolve_cwd(&root, "entities").is_ok());
        assert!(resolve_cwd(&root, "evil").is_err());
        assert!(resolve_cwd(&root, "etc").is_err());
        assert!(resolve_cwd(&root, "missing").is_err());
    }
}
