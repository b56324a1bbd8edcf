//! The plugin: maps `ExecRequest` to `POST <url>/exec` and the answer back to `ExecOutput`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{
    Error, ErrorKind, ExecOutput, ExecRequest, HealthStatus, PluginContext, PluginDescriptor,
    PluginFactory, Result, Sandbox, SandboxPlugin, Secret, SecurityProfile, SemanticLayer, Shell,
    TIMEOUT_EXIT_CODE, async_trait,
};
use rand::Rng as _;
use reqwest::StatusCode;

use crate::ID;
use crate::config::SidecarConfig;
use crate::protocol::{
    EXEC_PATH, ErrorBody, ExecBody, ExecResponse, HEALTH_PATH, HealthBody, OutputEncoding,
};

/// How long the health check may take.
const HEALTH_DEADLINE: Duration = Duration::from_secs(5);
/// First backoff after a 429; doubled each retry, with jitter, up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The sidecar backend's entry point.
#[derive(Debug, Clone, Copy, Default)]
pub struct SidecarFactory;

/// The descriptor the host registers.
pub fn descriptor() -> PluginDescriptor {
    PluginDescriptor::of::<SidecarFactory>(env!("CARGO_PKG_VERSION"))
}

fn security_profile() -> SecurityProfile {
    SecurityProfile {
        // Both are properties of how the server was deployed, which the client cannot see: it
        // claims neither (in the container that `sidecar up` starts, both hold: docs/security.md).
        network_isolation: false,
        filesystem_isolation: false,
        unprivileged_execution: true,
        description: "commands run by an atlas-sidecar server (sh -c, clean environment, own process group, temp HOME) inside its container".to_owned(),
        caveats: vec![
            "isolation is that of the container the server runs in; the plugin cannot verify how it was started".to_owned(),
            "network: commands have no network only when the container runs as `atlas-sandbox sidecar up` starts it (--network none, unix socket); a container on an ordinary network has open egress".to_owned(),
            "filesystem: the semantic layer is read-only only when mounted or baked read-only; run as a plain process (development) the server gives commands the host view of its user".to_owned(),
            "commands of all clients share one server: concurrency limit and /tmp size are global, not per tenant".to_owned(),
            "the semantic layer is the server's copy, not the one passed to create()".to_owned(),
        ],
    }
}

#[derive(Debug, thiserror::Error)]
enum SidecarError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("sidecar unreachable at {origin}: {source}")]
    Unreachable {
        origin: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("request to the sidecar failed: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("sidecar answered HTTP {status}: {message}")]
    Status { status: StatusCode, message: String },
    #[error("sidecar sent an answer that is not the protocol's: {0}")]
    Protocol(String),
}

impl SidecarError {
    fn into_sdk(self) -> Error {
        let (kind, temporary) = match &self {
            SidecarError::Client(_) => (ErrorKind::ConfigInvalid, false),
            SidecarError::Unreachable { .. } => (ErrorKind::Unavailable, true),
            SidecarError::Transport(_) => (ErrorKind::Backend, true),
            SidecarError::Status { status, .. } => match *status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => (ErrorKind::Auth, false),
                StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => {
                    (ErrorKind::InvalidRequest, false)
                }
                StatusCode::TOO_MANY_REQUESTS => (ErrorKind::RateLimited, true),
                StatusCode::SERVICE_UNAVAILABLE => (ErrorKind::Unavailable, true),
                _ => (ErrorKind::Backend, status.is_server_error()),
            },
            SidecarError::Protocol(_) => (ErrorKind::Backend, false),
        };
        let status = match &self {
            SidecarError::Status { status, .. } => Some(status.as_u16()),
            _ => None,
        };
        let mut e = Error::new(kind, self.to_string())
            .with_backend(ID)
            .set_temporary(temporary);
        if let Some(s) = status {
            e = e.with_context("status", s);
        }
        e
    }
}

impl PluginFactory for SidecarFactory {
    type Config = SidecarConfig;
    const ID: &'static str = ID;
    const DEFAULT_PRIORITY: i32 = 50;
    const CARGO_FEATURE: &'static str = "sidecar";
    const ENV_FALLBACKS: &'static [(&'static str, &'static str)] = &[
        ("ATLAS_SANDBOX_URL", "url"),
        (crate::protocol::TOKEN_ENV, "auth_token"),
    ];
    const REQUIRES_CONFIG: bool = true;

    fn default_security() -> SecurityProfile {
        security_profile()
    }

    fn build(config: SidecarConfig, _ctx: &PluginContext) -> Result<Box<dyn SandboxPlugin>> {
        Ok(Box::new(SidecarPlugin::new(config)?))
    }
}

struct Inner {
    http: reqwest::Client,
    base: url::Url,
    exec_url: url::Url,
    health_url: url::Url,
    token: Option<Secret>,
    slack: Duration,
    max_retries: u32,
    encoding: OutputEncoding,
    shell: Shell,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SidecarClient")
            .field("base", &self.shown_base())
            .field("token", &self.token)
            .field("slack", &self.slack)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// The configured plugin. Its one `reqwest::Client` (a connection pool) is shared by every
/// sandbox it creates.
#[derive(Debug, Clone)]
pub struct SidecarPlugin {
    inner: Arc<Inner>,
}

impl SidecarPlugin {
    /// Builds the plugin (no network traffic yet).
    pub fn new(config: SidecarConfig) -> Result<Self> {
        let base = config.base_url().map_err(|e| e.with_backend(ID))?;
        let join = |p: &str| {
            base.join(p).map_err(|e| {
                Error::config(format!("[plugins.sidecar] url: cannot append {p:?}: {e}"))
                    .with_backend(ID)
            })
        };
        let exec_url = join(EXEC_PATH)?;
        let health_url = join(HEALTH_PATH)?;
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .connect_timeout(HEALTH_DEADLINE)
            .user_agent(concat!("atlas-sandbox-sidecar/", env!("CARGO_PKG_VERSION")));
        if let Some(sock) = &config.unix_socket {
            builder = builder.unix_socket(sock.as_path());
        }
        let http = builder
            .build()
            .map_err(|e| SidecarError::Client(e).into_sdk())?;
        Ok(SidecarPlugin {
            inner: Arc::new(Inner {
                http,
                base,
                exec_url,
                health_url,
                token: config.auth_token,
                slack: config.timeout.get(),
                max_retries: config.max_retries,
                encoding: if config.lossless_output {
                    OutputEncoding::Base64
                } else {
                    OutputEncoding::Utf8
                },
                shell: config.shell,
            }),
        })
    }

    /// A sandbox that talks to the server (the same as [`SandboxPlugin::create`], without a layer).
    pub fn sandbox(&self) -> SidecarSandbox {
        SidecarSandbox {
            inner: self.inner.clone(),
            closed: AtomicBool::new(false),
        }
    }
}

impl Inner {
    /// The base URL for messages and `Debug`: with the password it may carry redacted.
    fn shown_base(&self) -> String {
        let mut shown = self.base.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("REDACTED"));
        }
        shown.into()
    }

    fn origin(&self) -> String {
        self.shown_base().trim_end_matches('/').to_owned()
    }

    fn authorize(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t.expose()),
            None => rb,
        }
    }

    fn transport_error(&self, e: reqwest::Error) -> SidecarError {
        if e.is_connect() {
            SidecarError::Unreachable {
                origin: self.origin(),
                source: e.without_url(),
            }
        } else {
            SidecarError::Transport(e.without_url())
        }
    }

    async fn error_message(resp: reqwest::Response) -> String {
        let text = resp.text().await.unwrap_or_default();
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => b.error,
            Err(_) => text.chars().take(500).collect(),
        }
    }

    async fn health(&self) -> Result<String> {
        let resp = self
            .http
            .get(self.health_url.clone())
            .timeout(HEALTH_DEADLINE)
            .send()
            .await
            .map_err(|e| self.transport_error(e).into_sdk())?;
        let status = resp.status();
        if status != StatusCode::OK {
            let text = resp.text().await.unwrap_or_default();
            let message = serde_json::from_str::<HealthBody>(&text)
                .ok()
                .and_then(|h| h.reason)
                .unwrap_or_else(|| text.chars().take(500).collect());
            return Err(SidecarError::Status { status, message }.into_sdk());
        }
        let body = resp.text().await.unwrap_or_default();
        let server_shell = serde_json::from_str::<HealthBody>(&body)
            .ok()
            .and_then(|h| h.shell);
        check_server_shell(self.shell, server_shell.as_deref())?;
        // An empty object is rejected by the body parser *after* authentication: 400 proves the
        // token works without running anything, 401 proves it does not.
        let probe = self
            .authorize(self.http.post(self.exec_url.clone()))
            .timeout(HEALTH_DEADLINE)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body("{}")
            .send()
            .await
            .map_err(|e| self.transport_error(e).into_sdk())?;
        match probe.status() {
            StatusCode::BAD_REQUEST => Ok(format!("sidecar at {} is ready", self.origin())),
            status => Err(SidecarError::Status {
                status,
                message: Self::error_message(probe).await,
            }
            .into_sdk()),
        }
    }

    fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = BASE_BACKOFF
            .saturating_mul(1u32 << attempt.min(10))
            .min(MAX_BACKOFF);
        // Retry-After has whole-second granularity while commands take milliseconds, so it
        // bounds the wait rather than setting it.
        let cap = retry_after.map_or(exp, |r| exp.min(r.max(BASE_BACKOFF)));
        // Jitter in [cap/2, cap] so clients that were refused together do not return together.
        let half = cap / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
    }

    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        request.validate().map_err(|e| e.with_backend(ID))?;
        let cwd = request.relative_cwd().map_err(|e| e.with_backend(ID))?;
        let body = ExecBody {
            command: request.command.clone(),
            timeout_ms: Some(u64::try_from(request.timeout.as_millis()).unwrap_or(u64::MAX)),
            cwd: (!cwd.is_empty()).then_some(cwd),
            max_output_bytes: Some(request.max_output_bytes),
            encoding: self.encoding,
        };
        let body = serde_json::to_vec(&body)
            .map_err(|e| Error::backend_failure(format!("cannot encode the request: {e}")))?;
        let start = Instant::now();
        let deadline = request.timeout.saturating_add(self.slack);
        let mut attempt = 0u32;
        loop {
            let Some(remaining) = deadline
                .checked_sub(start.elapsed())
                .filter(|d| !d.is_zero())
            else {
                return Ok(timed_out(start.elapsed(), deadline));
            };
            let sent = self
                .authorize(self.http.post(self.exec_url.clone()))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .timeout(remaining)
                .body(body.clone())
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) if e.is_timeout() => return Ok(timed_out(start.elapsed(), deadline)),
                Err(e) => return Err(self.transport_error(e).into_sdk()),
            };
            let status = resp.status();
            if status == StatusCode::OK {
                let bytes = match resp.bytes().await {
                    Ok(b) => b,
                    Err(e) if e.is_timeout() => return Ok(timed_out(start.elapsed(), deadline)),
                    Err(e) => return Err(self.transport_error(e).into_sdk()),
                };
                let wire: ExecResponse = serde_json::from_slice(&bytes)
                    .map_err(|e| SidecarError::Protocol(e.to_string()).into_sdk())?;
                let output = wire
                    .into_output()
                    .map_err(|e| SidecarError::Protocol(format!("bad base64: {e}")).into_sdk())?;
                // The server clamps to its own cap; ours may be smaller.
                return Ok(output.capped(request.max_output_bytes));
            }
            if status == StatusCode::TOO_MANY_REQUESTS && attempt < self.max_retries {
                let wait = Self::backoff(attempt, retry_after(&resp));
                attempt += 1;
                if start.elapsed() + wait >= deadline {
                    return Ok(timed_out(start.elapsed(), deadline));
                }
                tokio::time::sleep(wait).await;
                continue;
            }
            let after = retry_after(&resp);
            let mut err = SidecarError::Status {
                status,
                message: Self::error_message(resp).await,
            }
            .into_sdk();
            if let Some(a) = after {
                err = err.with_retry_after(a);
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                err = err.with_context("retries", attempt);
            }
            return Err(err);
        }
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn timed_out(elapsed: Duration, deadline: Duration) -> ExecOutput {
    ExecOutput {
        stdout: Vec::new(),
        stderr: format!("sidecar did not answer within {deadline:?}; the command was abandoned\n")
            .into_bytes(),
        exit_code: TIMEOUT_EXIT_CODE,
        timed_out: true,
        stdout_truncated: false,
        stderr_truncated: false,
        duration: elapsed,
    }
}

#[async_trait]
impl SandboxPlugin for SidecarPlugin {
    fn id(&self) -> &'static str {
        ID
    }

    fn priority(&self) -> i32 {
        SidecarFactory::DEFAULT_PRIORITY
    }

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    fn security(&self) -> SecurityProfile {
        security_profile()
    }

    async fn health_check(&self) -> HealthStatus {
        HealthStatus::measure(HEALTH_DEADLINE, self.inner.health()).await
    }

    async fn create(&self, _layer: &SemanticLayer) -> Result<Box<dyn Sandbox>> {
        Ok(Box::new(self.sandbox()))
    }
}

/// A handle on the server; cheap, and `exec` may be called concurrently.
#[derive(Debug)]
pub struct SidecarSandbox {
    inner: Arc<Inner>,
    closed: AtomicBool,
}

#[async_trait]
impl Sandbox for SidecarSandbox {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(ErrorKind::SandboxGone, "the sandbox was closed")
                .with_backend(ID)
                .set_temporary(false));
        }
        self.inner.exec(request).await
    }

    async fn close(&self) -> Result<()> {
        // The server holds nothing per sandbox; the pool is shared with the plugin.
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}

/// The server runs commands with `server` (its /health `shell`); with `shell = "bash"` anything
/// but bash (or a server too old to say, whose default was `sh`) is unhealthy.
fn check_server_shell(wanted: Shell, server: Option<&str>) -> Result<()> {
    if wanted == Shell::Sh {
        return Ok(());
    }
    let name = server.map(|p| p.rsplit('/').next().unwrap_or(p));
    if name == Some("bash") {
        return Ok(());
    }
    let shown = server.unwrap_or("an unreported shell (a server older than this client runs sh)");
    Err(wanted.missing(
        ID,
        "the sidecar server",
        &format!("it runs {shown}; start it with --shell bash (its default)"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_must_run_bash_unless_sh_was_chosen() {
        check_server_shell(Shell::Bash, Some("/usr/bin/bash")).expect("bash");
        let e = check_server_shell(Shell::Bash, Some("/usr/bin/sh")).expect_err("sh");
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.to_string().contains("it runs /usr/bin/sh"), "{e}");
        assert!(e.to_string().contains("shell = \"sh\""), "{e}");
        check_server_shell(Shell::Bash, None).expect_err("old server");
        check_server_shell(Shell::Sh, Some("/bin/dash")).expect("sh chosen");
    }

    #[test]
    fn backoff_grows_is_jittered_and_bounded() {
        for attempt in 0..15 {
            let d = Inner::backoff(attempt, None);
            assert!(d <= MAX_BACKOFF, "{attempt}: {d:?}");
            assert!(d >= BASE_BACKOFF / 2);
        }
        assert!(Inner::backoff(0, None) <= BASE_BACKOFF);
        assert!(Inner::backoff(5, None) >= Duration::from_millis(800));
        let with_hint = Inner::backoff(10, Some(Duration::from_secs(1)));
        assert!(with_hint <= Duration::from_secs(1));
    }

    #[test]
    fn errors_map_to_kinds() {
        let e = SidecarError::Status {
            status: StatusCode::UNAUTHORIZED,
            message: "Unauthorized".into(),
        }
        .into_sdk();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert_eq!(e.backend(), "sidecar");
        let e = SidecarError::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "shell missing".into(),
        }
        .into_sdk();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
    }

    #[tokio::test]
    async fn a_password_in_the_url_is_not_in_errors_or_debug() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let p = SidecarPlugin::new(SidecarConfig::new(format!(
            "http://atlas:hunter2-secret@127.0.0.1:{port}/p"
        )))
        .unwrap();
        assert!(!format!("{p:?}").contains("hunter2-secret"), "{p:?}");
        let e = p.sandbox().exec(ExecRequest::new("ls")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        assert!(e.to_string().contains("unreachable"), "{e}");
        assert!(!e.to_string().contains("hunter2-secret"), "{e}");
        let h = p.health_check().await;
        assert!(!h.message.contains("hunter2-secret"), "{h:?}");
    }

    #[test]
    fn token_is_not_in_debug() {
        let mut c = SidecarConfig::new("http://127.0.0.1:1/p");
        c.auth_token = Some(Secret::new("tok-very-secret"));
        let p = SidecarPlugin::new(c).unwrap();
        assert!(!format!("{p:?}").contains("tok-very-secret"));
        assert!(format!("{p:?}").contains("/p/"));
    }
}
