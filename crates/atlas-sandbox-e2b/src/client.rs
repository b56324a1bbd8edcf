//! The E2B wire protocol: the control-plane REST API (create, info, list, timeout, kill) and
//! envd in the sandbox (Connect `process.Process/Start` streaming, multipart `POST /files`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use atlas_sandbox_cloud::{
    ErrorHints, Idempotent, RetryPolicy, retry_after, scrub, send, status_error,
};
use atlas_sandbox_sdk::{
    CappedBuffer, CollectedLayer, Error, ErrorKind, ExecOutput, Result, Secret, TIMEOUT_EXIT_CODE,
};
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;

use crate::ID;
use crate::config::Resolved;
use crate::connect::{
    EndStream, FLAG_DATA, FrameDecoder, ProcessConfig, StartRequest, StartResponse, decode_bytes,
    encode_envelope,
};
use crate::error::E2bError;

/// The envd port; E2B's proxy routes by it.
pub(crate) const ENVD_PORT: &str = "49983";
/// Where the semantic layer lives in the sandbox (the default user's home + `semantic`).
pub(crate) const SEMANTIC_DIR: &str = "/home/user/semantic";
/// How long after the command's own deadline we wait for envd to report it, before giving up
/// on the stream ourselves.
const DEADLINE_GRACE: Duration = Duration::from_secs(3);
/// The tag that identifies one create call, so a create whose answer was lost can be found and
/// killed instead of leaking.
const TAG_CREATE_NONCE: &str = "atlas-sandbox-create-nonce";

/// One remote sandbox, as created.
#[derive(Debug)]
pub(crate) struct RemoteSandbox {
    pub(crate) id: String,
    envd_base: String,
    access_token: Option<Secret>,
    /// When the lifetime was last set; extended while the sandbox is used.
    last_extended: Mutex<Instant>,
}

impl RemoteSandbox {
    /// Whether the lifetime should be extended now (more than half of it has passed); marks
    /// it extended so concurrent commands do not all extend.
    pub(crate) fn due_for_extension(&self, lifetime: Duration) -> bool {
        let mut last = self.last_extended.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() >= lifetime / 2 {
            *last = Instant::now();
            true
        } else {
            false
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreatedSandbox {
    #[serde(rename = "sandboxID")]
    pub(crate) sandbox_id: String,
    #[serde(rename = "envdVersion")]
    pub(crate) envd_version: String,
    #[serde(rename = "envdAccessToken", default)]
    envd_access_token: Option<String>,
    #[serde(default)]
    domain: Option<String>,
}

/// A sandbox as the list call returns it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ListedSandbox {
    #[serde(rename = "sandboxID")]
    pub(crate) sandbox_id: String,
    #[serde(rename = "startedAt", default)]
    pub(crate) started_at: Option<String>,
    #[serde(default)]
    pub(crate) metadata: Option<BTreeMap<String, String>>,
    /// `running` or `paused`.
    #[serde(default)]
    pub(crate) state: Option<String>,
}

/// A failed command, split by whether it may have run.
#[derive(Debug)]
pub(crate) enum RunError {
    /// The request never reached a live envd (the sandbox is gone, the proxy refused): the
    /// command did not run.
    NotStarted(Error),
    /// The command started (or may have): it must not be run again blindly.
    Failed(Error),
}

impl From<RunError> for Error {
    fn from(e: RunError) -> Self {
        match e {
            RunError::NotStarted(e) | RunError::Failed(e) => e,
        }
    }
}

/// What a command stream produced, before it becomes an `ExecOutput`.
struct StreamState {
    stdout: CappedBuffer,
    stderr: CappedBuffer,
    pid: Option<u32>,
    exit: Option<i32>,
    kill_sent: bool,
}

/// The client of one plugin: one pooled HTTP client, the resolved config.
#[derive(Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    pub(crate) cfg: Resolved,
    pub(crate) retry: RetryPolicy,
    /// Set when a sandbox of the template could not run the configured shell: the health check
    /// then reports the backend unhealthy with this reason.
    pub(crate) shell_missing: std::sync::Mutex<Option<String>>,
}

impl Client {
    pub(crate) fn new(cfg: Resolved) -> Result<Self> {
        let http = atlas_sandbox_cloud::http_client(cfg.request_timeout)
            .map_err(|e| e.with_backend(ID))?;
        Ok(Client {
            http,
            cfg,
            retry: RetryPolicy::default(),
            shell_missing: std::sync::Mutex::new(None),
        })
    }

    fn hints<'a>(&'a self, operation: &'a str, secrets: &'a [&'a Secret]) -> ErrorHints<'a> {
        ErrorHints {
            key_env_var: "E2B_API_KEY (or plugins.e2b.api_key)",
            secrets,
            operation,
        }
    }

    pub(crate) fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.cfg.api_url))
            .header("X-API-KEY", self.cfg.api_key.expose())
    }

    pub(crate) async fn checked(
        &self,
        resp: reqwest::Response,
        operation: &str,
    ) -> Result<reqwest::Response> {
        checked_e2b(resp, &self.hints(operation, &[&self.cfg.api_key])).await
    }

    /// `POST /v2/sandboxes`: creates a sandbox with our tags, the lifetime and egress setting.
    /// With `auto_pause` the vendor pauses it when its lifetime ends instead of killing it (the
    /// SDK's `lifecycle: {onTimeout: 'pause'}`), so a persistent sandbox we lose track of stops
    /// billing but keeps its files.
    pub(crate) async fn create(
        &self,
        tags: &BTreeMap<String, String>,
        auto_pause: bool,
    ) -> Result<RemoteSandbox> {
        let nonce = format!("{:032x}", rand::random::<u128>());
        let mut metadata = self.cfg.metadata.clone();
        metadata.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        metadata.insert(TAG_CREATE_NONCE.to_owned(), nonce.clone());
        let body = serde_json::json!({
            "templateID": self.cfg.template,
            "timeout": lifetime_secs(self.cfg.lifetime),
            "metadata": metadata,
            "allow_internet_access": self.cfg.allow_internet_access,
            "autoPause": auto_pause,
        });
        // Until we hold the new sandbox's id, a cancelled or failed create may still have made
        // one: the guard then finds it by its nonce and kills it.
        let mut guard = CreateGuard {
            client: self,
            stage: Some(Stage::Creating(nonce)),
        };
        // Not idempotent: `send` retries only a 429 (the server did not act).
        let sent = send(ID, &self.retry, Idempotent::No, || {
            self.api(reqwest::Method::POST, "/v2/sandboxes").json(&body)
        })
        .await;
        let resp = match sent {
            Ok(r) => {
                if r.status().is_client_error() {
                    // A 4xx (429 included) means nothing was created.
                    guard.disarm();
                }
                r
            }
            Err(e) => {
                if !matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Backend) {
                    guard.disarm(); // never connected: nothing was created
                }
                return Err(e.with_context("operation", "create sandbox"));
            }
        };
        let resp = self
            .checked(resp, "create sandbox")
            .await
            .map_err(|e| template_hint(e, &self.cfg.template))?;
        let created: CreatedSandbox = resp.json().await.map_err(|e| {
            Error::from(E2bError::BadResponse(format!("create: {e}")))
                .with_context("operation", "create sandbox")
        })?;
        if created.sandbox_id.is_empty() {
            return Err(E2bError::BadResponse("create: empty sandboxID".into()).into());
        }
        guard.disarm();
        tracing::info!(sandbox = %created.sandbox_id, envd = %created.envd_version, "created E2B sandbox");
        Ok(self.remote_of(created))
    }

    /// The handle of a sandbox as a create or connect answer describes it.
    pub(crate) fn remote_of(&self, created: CreatedSandbox) -> RemoteSandbox {
        let envd_base = self
            .cfg
            .envd_base(&created.sandbox_id, created.domain.as_deref());
        RemoteSandbox {
            id: created.sandbox_id,
            envd_base,
            access_token: created
                .envd_access_token
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            last_extended: Mutex::new(Instant::now()),
        }
    }

    /// Kills a sandbox in the background (the caller is gone or already has its error).
    fn kill_in_background(&self, id: String) {
        let me = Client {
            http: self.http.clone(),
            cfg: self.cfg.clone(),
            retry: self.retry,
            shell_missing: std::sync::Mutex::new(None),
        };
        atlas_sandbox_cloud::spawn_cleanup("kill abandoned E2B sandbox", async move {
            if let Err(e) = me.kill(&id).await {
                tracing::warn!(sandbox = %id, error = %e, "could not kill an abandoned sandbox; sweep will find it");
            }
        });
    }

    /// After a create whose outcome is unknown, finds the sandbox by its nonce tag and kills it
    /// (in the background: the caller already has its error to report).
    fn reap_lost_create(&self, nonce: &str) {
        let filter = BTreeMap::from([(TAG_CREATE_NONCE.to_owned(), nonce.to_owned())]);
        let http = self.http.clone();
        let cfg = self.cfg.clone();
        atlas_sandbox_cloud::spawn_cleanup("lost E2B create", async move {
            let me = Client {
                http,
                cfg,
                retry: RetryPolicy::default(),
                shell_missing: std::sync::Mutex::new(None),
            };
            // The create may still be in flight on the vendor side; look twice.
            for wait in [Duration::from_secs(1), Duration::from_secs(10)] {
                tokio::time::sleep(wait).await;
                if let Ok((found, _)) = me.list(&filter, 10, None).await {
                    for sb in found {
                        tracing::warn!(sandbox = %sb.sandbox_id, "killing a sandbox whose create answer was lost");
                        let _ = me.kill(&sb.sandbox_id).await;
                    }
                }
            }
        });
    }

    /// `GET /sandboxes/{id}`: whether the sandbox still exists.
    pub(crate) async fn exists(&self, id: &str) -> Result<bool> {
        self.on_sandbox(reqwest::Method::GET, id, "get sandbox")
            .await
    }

    /// `GET /v2/sandboxes` with a metadata filter: one page and the next-page token.
    pub(crate) async fn list(
        &self,
        metadata: &BTreeMap<String, String>,
        limit: u32,
        next_token: Option<&str>,
    ) -> Result<(Vec<ListedSandbox>, Option<String>)> {
        let filter = metadata_query(metadata);
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            let mut q: Vec<(&str, String)> = vec![
                ("metadata", filter.clone()),
                ("state", "running,paused".to_owned()),
                ("limit", limit.to_string()),
            ];
            if let Some(t) = next_token {
                q.push(("nextToken", t.to_owned()));
            }
            self.api(reqwest::Method::GET, "/v2/sandboxes").query(&q)
        })
        .await?;
        let resp = self.checked(resp, "list sandboxes").await?;
        let next = resp
            .headers()
            .get("x-next-token")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        let items: Vec<ListedSandbox> = resp
            .json()
            .await
            .map_err(|e| Error::from(E2bError::BadResponse(format!("list: {e}"))))?;
        Ok((items, next))
    }

    /// `POST /sandboxes/{id}/timeout`: the sandbox now expires `lifetime` from now.
    pub(crate) async fn extend(&self, id: &str) -> Result<()> {
        let body = serde_json::json!({ "timeout": lifetime_secs(self.cfg.lifetime) });
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            self.api(reqwest::Method::POST, &format!("/sandboxes/{id}/timeout"))
                .json(&body)
        })
        .await?;
        self.checked(resp, "extend sandbox lifetime").await?;
        Ok(())
    }

    /// `DELETE /sandboxes/{id}`: `Ok(false)` if it was already gone.
    pub(crate) async fn kill(&self, id: &str) -> Result<bool> {
        self.on_sandbox(reqwest::Method::DELETE, id, "kill sandbox")
            .await
    }

    /// `method /sandboxes/{id}`: `Ok(false)` when the sandbox does not exist (any more).
    async fn on_sandbox(&self, method: reqwest::Method, id: &str, what: &str) -> Result<bool> {
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            self.api(method.clone(), &format!("/sandboxes/{id}"))
        })
        .await?;
        match self.checked(resp, what).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::SandboxGone => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn envd(&self, sb: &RemoteSandbox, path: &str) -> reqwest::RequestBuilder {
        let mut b = self
            .http
            .post(format!("{}{path}", sb.envd_base))
            .header("E2b-Sandbox-Id", &sb.id)
            .header("E2b-Sandbox-Port", ENVD_PORT);
        if let Some(t) = &sb.access_token {
            b = b.header("X-Access-Token", t.expose());
        }
        b
    }

    /// Maps an envd HTTP error: 502 from E2B's proxy means the sandbox is gone.
    async fn envd_checked(
        &self,
        sb: &RemoteSandbox,
        resp: reqwest::Response,
        operation: &str,
    ) -> Result<reqwest::Response> {
        let status = resp.status().as_u16();
        if status == 502 {
            return Err(Error::from(E2bError::EnvdGone(status))
                .with_context("sandbox", &sb.id)
                .with_context("operation", operation));
        }
        let secrets: Vec<&Secret> = std::iter::once(&self.cfg.api_key)
            .chain(sb.access_token.as_ref())
            .collect();
        checked_e2b(resp, &self.hints(operation, &secrets))
            .await
            .map_err(|e| e.with_context("sandbox", &sb.id))
    }

    /// `POST /files`: the whole semantic layer in one multipart request, each part named `file`
    /// with the absolute destination path as its filename (envd creates parent directories).
    pub(crate) async fn upload(&self, sb: &RemoteSandbox, layer: &CollectedLayer) -> Result<()> {
        if layer.files.is_empty() {
            return Ok(());
        }
        let boundary = format!("atlas-sandbox-{:032x}", rand::random::<u128>());
        let body = multipart_body(&boundary, layer);
        let ctype = format!("multipart/form-data; boundary={boundary}");
        // Idempotent: every file is overwritten with the same bytes.
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            self.envd(sb, "/files")
                .header(reqwest::header::CONTENT_TYPE, &ctype)
                .body(body.clone())
        })
        .await
        .map_err(|e| e.with_context("operation", "upload semantic layer"))?;
        self.envd_checked(sb, resp, "upload semantic layer").await?;
        Ok(())
    }

    /// Gives the uploaded copy the layer's metadata, which a multipart upload does not carry:
    /// empty directories, modes and modification times
    /// ([`CollectedLayer::restore_script`]), one `/bin/sh -c` per chunk (one for any ordinary
    /// layer).
    pub(crate) async fn restore_metadata(
        &self,
        sb: &RemoteSandbox,
        layer: &CollectedLayer,
    ) -> Result<()> {
        // Relative to the `/` it runs in: see `restore_script`.
        for chunk in layer.restore_script(SEMANTIC_DIR.trim_start_matches('/')) {
            let out = self
                .start(
                    sb,
                    "/bin/sh",
                    vec!["-c", chunk.as_str()],
                    "/",
                    Duration::from_secs(60),
                    64 * 1024,
                )
                .await?;
            if out.exit_code != 0 {
                let status = out.exit_code.to_string();
                return Err(atlas_sandbox_sdk::restore_failed(
                    ID,
                    &status,
                    &out.stderr_str(),
                    "template",
                ));
            }
        }
        Ok(())
    }

    /// Runs `cmd args...` through `process.Process/Start` and collects its streamed output.
    pub(crate) async fn start(
        &self,
        sb: &RemoteSandbox,
        cmd: &str,
        args: Vec<&str>,
        cwd: &str,
        timeout: Duration,
        cap: usize,
    ) -> Result<ExecOutput> {
        self.run(sb, cmd, args, cwd, timeout, cap)
            .await
            .map_err(Error::from)
    }

    /// As [`Client::start`], telling apart failures where the command certainly did not start
    /// (the caller may then recreate the sandbox and run it again) from the others.
    pub(crate) async fn run(
        &self,
        sb: &RemoteSandbox,
        cmd: &str,
        args: Vec<&str>,
        cwd: &str,
        timeout: Duration,
        cap: usize,
    ) -> std::result::Result<ExecOutput, RunError> {
        let started = Instant::now();
        let request = StartRequest {
            process: ProcessConfig {
                cmd,
                args,
                // The same environment as on every backend (the operator's `path` aside):
                // constants only, nothing of the host's.
                envs: self
                    .cfg
                    .path
                    .env()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                cwd: Some(cwd),
            },
            stdin: false,
        };
        let json = serde_json::to_vec(&request).map_err(|e| {
            RunError::NotStarted(
                Error::backend_failure(format!("cannot encode the request: {e}")).with_backend(ID),
            )
        })?;
        let body = encode_envelope(FLAG_DATA, &json)
            .map_err(|e| RunError::NotStarted(E2bError::from(e).into()))?;
        let timeout_ms = timeout
            .as_millis()
            .clamp(1, u128::from(u32::MAX))
            .to_string();
        let idle = self.cfg.idle_timeout;
        let keepalive_secs = (idle.as_secs() / 3).max(1).to_string();
        let deadline = deadline_in(timeout.saturating_add(DEADLINE_GRACE));
        let resp = tokio::time::timeout_at(
            deadline,
            send(ID, &self.retry, Idempotent::No, || {
                self.envd(sb, "/process.Process/Start")
                    .header(reqwest::header::CONTENT_TYPE, "application/connect+json")
                    .header("Connect-Protocol-Version", "1")
                    .header("Connect-Timeout-Ms", &timeout_ms)
                    .header("Keepalive-Ping-Interval", &keepalive_secs)
                    // The stream lives as long as the command; our own deadlines bound it.
                    .timeout(timeout.saturating_add(DEADLINE_GRACE).saturating_add(idle))
                    .body(body.clone())
            }),
        )
        .await
        .map_err(|_| {
            RunError::Failed(
                Error::new(
                    ErrorKind::Timeout,
                    "envd did not answer the command request in time",
                )
                .with_backend(ID)
                .with_context("sandbox", &sb.id),
            )
        })?
        .map_err(RunError::NotStarted)?;
        let resp = self
            .envd_checked(sb, resp, "run command")
            .await
            .map_err(RunError::NotStarted)?;
        self.read_stream(sb, resp, started, deadline, cap)
            .await
            .map_err(RunError::Failed)
    }

    async fn read_stream(
        &self,
        sb: &RemoteSandbox,
        resp: reqwest::Response,
        started: Instant,
        deadline: tokio::time::Instant,
        cap: usize,
    ) -> Result<ExecOutput> {
        let idle = self.cfg.idle_timeout;

        let mut state = StreamState {
            stdout: CappedBuffer::new(cap),
            stderr: CappedBuffer::new(cap),
            pid: None,
            exit: None,
            kill_sent: false,
        };
        let mut decoder = FrameDecoder::new();
        let mut body = resp.bytes_stream();
        let overflow_limit = atlas_sandbox_sdk::overflow_limit(cap);
        loop {
            let next = tokio::select! {
                biased;
                _ = tokio::time::sleep_until(deadline) => {
                    // envd should have ended the command at its deadline; it did not answer.
                    self.kill_process(sb, state.pid);
                    return Ok(timed_out(state, started.elapsed()));
                }
                n = tokio::time::timeout(idle, body.next()) => n,
            };
            let chunk = match next {
                Err(_) => {
                    self.kill_process(sb, state.pid);
                    return Err(Error::from(E2bError::Idle(idle)).with_context("sandbox", &sb.id));
                }
                Ok(None) => {
                    // Whether it stopped between messages or inside one, the end never came.
                    let mut err = Error::from(E2bError::StreamCut).with_context("sandbox", &sb.id);
                    if let Err(partial) = decoder.finish() {
                        err = err.with_context("detail", partial);
                    }
                    return Err(err);
                }
                Ok(Some(Err(e))) => {
                    return Err(Error::from(E2bError::Transport(e)).with_context("sandbox", &sb.id));
                }
                Ok(Some(Ok(c))) => c,
            };
            decoder.push(&chunk);
            while let Some(frame) = decoder
                .next_frame()
                .map_err(|e| Error::from(E2bError::from(e)))?
            {
                if frame.is_end_stream() {
                    let result = finish_stream(state, &frame.payload, started.elapsed());
                    // Read the (empty) rest so the connection goes back to the pool instead of
                    // being torn down: a new TLS connection per command costs round trips.
                    let _ = tokio::time::timeout(Duration::from_millis(200), async {
                        while let Some(Ok(_)) = body.next().await {}
                    })
                    .await;
                    return result;
                }
                self.on_message(sb, &mut state, &frame.payload)?;
                // Per stream, as every backend counts it.
                let dropped = state.stdout.dropped().max(state.stderr.dropped());
                if dropped > overflow_limit && !state.kill_sent {
                    state.kill_sent = true;
                    tracing::warn!(sandbox = %sb.id, "command output far exceeds the cap; killing it");
                    self.kill_process(sb, state.pid);
                }
            }
        }
    }

    fn on_message(
        &self,
        sb: &RemoteSandbox,
        state: &mut StreamState,
        payload: &Bytes,
    ) -> Result<()> {
        let msg: StartResponse = serde_json::from_slice(payload)
            .map_err(|e| Error::from(E2bError::BadMessage(e.to_string())))?;
        let Some(event) = msg.event else {
            return Ok(());
        };
        if let Some(start) = event.start {
            state.pid = Some(start.pid);
            return Ok(());
        }
        if state.pid.is_none() {
            return Err(E2bError::BadMessage("the first event was not `start`".into()).into());
        }
        if let Some(data) = event.data {
            let decode = |s: &str| {
                decode_bytes(s).map_err(|e| {
                    Error::from(E2bError::BadMessage(format!("output is not base64: {e}")))
                })
            };
            if let Some(s) = data.stdout.as_deref() {
                state.stdout.push(&decode(s)?);
            }
            if let Some(s) = data.stderr.as_deref() {
                state.stderr.push(&decode(s)?);
            }
            if let Some(s) = data.pty.as_deref() {
                state.stdout.push(&decode(s)?);
            }
        } else if let Some(end) = event.end {
            state.exit = Some(end.shell_exit_code());
        } else if event.keepalive.is_some() {
            tracing::trace!(sandbox = %sb.id, "keepalive");
        }
        Ok(())
    }

    /// Sends SIGKILL to a command (best effort, in the background): used when we stop reading
    /// it before envd ended it.
    fn kill_process(&self, sb: &RemoteSandbox, pid: Option<u32>) {
        let Some(pid) = pid else { return };
        let req = self
            .envd(sb, "/process.Process/SendSignal")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Connect-Protocol-Version", "1")
            .json(&serde_json::json!({"process": {"pid": pid}, "signal": "SIGNAL_SIGKILL"}));
        atlas_sandbox_cloud::spawn_cleanup("kill E2B command", async move {
            if let Err(e) = req.send().await {
                tracing::debug!(error = %e, "could not signal the command");
            }
        });
    }

    /// Runs `<shell> -c 'exit 0'` in a new sandbox: a template without the configured shell fails
    /// here (and marks the backend unhealthy) instead of every command failing, or running in a
    /// shell the operator did not choose.
    async fn probe_shell(&self, sb: &RemoteSandbox) -> Result<()> {
        let shell = self.cfg.shell;
        let run = self
            .run(
                sb,
                shell.program(),
                vec!["-c", "exit 0"],
                "/",
                Duration::from_secs(15),
                4096,
            )
            .await;
        let detail = match run {
            Ok(out) if out.exit_code == 0 => return Ok(()),
            Ok(out) => atlas_sandbox_sdk::Shell::probe_detail(out.exit_code, &out.stderr_str()),
            Err(RunError::NotStarted(e) | RunError::Failed(e)) => {
                if e.is_temporary() || e.kind() != ErrorKind::Backend {
                    return Err(e);
                }
                e.message().to_owned()
            }
        };
        let err = shell.missing(
            ID,
            &format!("E2B template {:?}", self.cfg.template),
            &detail,
        );
        if let Ok(mut slot) = self.shell_missing.lock() {
            *slot = Some(err.message().to_owned());
        }
        Err(err)
    }

    /// Creates a sandbox session: create, upload the layer (one request), give the copy the
    /// layer's directories, modes and times (one command). Kills the sandbox if either fails.
    pub(crate) async fn create_session(
        &self,
        tags: &BTreeMap<String, String>,
        layer: &CollectedLayer,
        auto_pause: bool,
    ) -> Result<RemoteSandbox> {
        let sb = self.create(tags, auto_pause).await?;
        // If the caller gives up during the upload, the sandbox is killed, not leaked.
        let mut guard = CreateGuard {
            client: self,
            stage: Some(Stage::Created(sb.id.clone())),
        };
        // The shell is probed while the layer uploads, so it costs no extra round trip.
        let prepared = async {
            let upload = async {
                self.upload(&sb, layer).await?;
                self.restore_metadata(&sb, layer).await
            };
            let (up, shell) = tokio::join!(upload, self.probe_shell(&sb));
            up.and(shell)
        }
        .await;
        guard.disarm();
        if let Err(e) = prepared {
            if let Err(k) = self.kill(&sb.id).await {
                tracing::warn!(sandbox = %sb.id, error = %k, "could not kill the sandbox after a failed upload");
            }
            return Err(e);
        }
        Ok(sb)
    }
}

/// Maps an error status like `atlas_sandbox_cloud::check`, and also keeps E2B's
/// machine-readable `error_code` (`sandbox_capacity_unavailable`, ...): E2B's `code` is only the
/// HTTP status again.
async fn checked_e2b(resp: reqwest::Response, hints: &ErrorHints<'_>) -> Result<reqwest::Response> {
    let status = resp.status();
    if !status.is_client_error() && !status.is_server_error() {
        return Ok(resp);
    }
    let after = retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    let mut err = status_error(ID, status, &body, after, hints);
    let vendor_code = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("error_code")
                .and_then(|c| c.as_str())
                .map(str::to_owned)
        });
    if let Some(code) = vendor_code {
        err = err.with_context("e2b_error_code", scrub(&code, hints.secrets));
    }
    Err(err)
}

/// What a half-made session leaves behind if it is abandoned.
enum Stage {
    /// The create was sent: a sandbox with this nonce tag may exist.
    Creating(String),
    /// The sandbox exists, the layer is not uploaded yet.
    Created(String),
}

/// Cleans up after a session setup that fails or whose future is dropped midway.
struct CreateGuard<'a> {
    client: &'a Client,
    stage: Option<Stage>,
}

impl CreateGuard<'_> {
    fn disarm(&mut self) {
        self.stage = None;
    }
}

impl Drop for CreateGuard<'_> {
    fn drop(&mut self) {
        match self.stage.take() {
            Some(Stage::Creating(nonce)) => self.client.reap_lost_create(&nonce),
            Some(Stage::Created(id)) => self.client.kill_in_background(id),
            None => {}
        }
    }
}

/// `now + d`; when that overflows (a request may ask for `Duration::MAX`), a deadline decades
/// away instead of a panic.
pub(crate) fn deadline_in(d: Duration) -> tokio::time::Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 86_400);
    let now = tokio::time::Instant::now();
    now.checked_add(d).unwrap_or_else(|| now + FAR)
}

pub(crate) fn lifetime_secs(d: Duration) -> u64 {
    d.as_secs().max(1)
}

/// Adds the template name to a "not found" on create: a missing template is a config error.
fn template_hint(e: Error, template: &str) -> Error {
    if e.kind() == ErrorKind::SandboxGone {
        Error::config(format!(
            "E2B could not create a sandbox from template {template:?}: {} (check plugins.e2b.template)",
            e.message()
        ))
        .with_backend(ID)
    } else {
        e
    }
}

/// The `metadata` filter as the SDK writes it: `k=v&k2=v2` with each key and value
/// URL-encoded (the whole string is encoded again as a query value).
pub(crate) fn metadata_query(metadata: &BTreeMap<String, String>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in metadata {
        s.append_pair(&url_encode(k), &url_encode(v));
    }
    s.finish()
}

/// What JavaScript's `encodeURIComponent` escapes: all but ASCII alphanumerics and `-_.!~*'()`.
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// `encodeURIComponent`.
fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// The absolute in-sandbox path of a layer-relative path.
pub(crate) fn sandbox_path(rel: &str) -> String {
    if rel.is_empty() {
        SEMANTIC_DIR.to_owned()
    } else {
        format!("{SEMANTIC_DIR}/{rel}")
    }
}

/// A quoted-string for a Content-Disposition parameter (backslash escapes, as Go's
/// `mime.ParseMediaType` reads them). Collected names never contain newlines.
fn quote_param(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The multipart body: one `file` part per collected file.
pub(crate) fn multipart_body(boundary: &str, layer: &CollectedLayer) -> Bytes {
    let size: usize = layer
        .files
        .iter()
        .map(|f| f.contents.len() + f.path.len() + 200)
        .sum();
    let mut out = Vec::with_capacity(size + 64);
    for f in &layer.files {
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"file\"; filename=");
        out.extend_from_slice(quote_param(&sandbox_path(&f.path)).as_bytes());
        out.extend_from_slice(b"\r\nContent-Type: application/octet-stream\r\n\r\n");
        out.extend_from_slice(&f.contents);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
    Bytes::from(out)
}

fn timed_out(state: StreamState, elapsed: Duration) -> ExecOutput {
    ExecOutput::from_streams(state.stdout, state.stderr, TIMEOUT_EXIT_CODE, true, elapsed)
}

/// Interprets the end-of-stream message.
fn finish_stream(state: StreamState, payload: &[u8], elapsed: Duration) -> Result<ExecOutput> {
    let end: EndStream = if payload.is_empty() {
        EndStream::default()
    } else {
        serde_json::from_slice(payload)
            .map_err(|e| Error::from(E2bError::BadMessage(format!("end of stream: {e}"))))?
    };
    if let Some(err) = end.error {
        if err.code == "deadline_exceeded" {
            return Ok(timed_out(state, elapsed));
        }
        // A command that ended and then saw a transport-level error still has its result.
        if let Some(code) = state.exit {
            return Ok(ExecOutput::from_streams(
                state.stdout,
                state.stderr,
                code,
                false,
                elapsed,
            ));
        }
        return Err(E2bError::Rpc {
            code: err.code,
            message: err.message,
        }
        .into());
    }
    match state.exit {
        Some(code) => Ok(ExecOutput::from_streams(
            state.stdout,
            state.stderr,
            code,
            false,
            elapsed,
        )),
        None => Err(E2bError::BadMessage(
            "the stream ended without the command's end event".into(),
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_sandbox_sdk::CollectedFile;

    fn layer(files: &[&str]) -> CollectedLayer {
        CollectedLayer {
            files: files
                .iter()
                .map(|p| CollectedFile {
                    path: (*p).to_owned(),
                    contents: b"x: 1\n".to_vec(),
                    mode: 0o644,
                    mtime: Default::default(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn metadata_filter_is_encoded_like_the_sdk() {
        let m = BTreeMap::from([
            ("atlas-sandbox".to_owned(), "true".to_owned()),
            ("team".to_owned(), "a b&c".to_owned()),
        ]);
        assert_eq!(metadata_query(&m), "atlas-sandbox=true&team=a%2520b%2526c");
    }

    #[test]
    fn multipart_parts_carry_absolute_paths() {
        let l = layer(&["catalog.yml", "we\"ird.yml"]);
        let body = multipart_body("B", &l);
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/home/user/semantic/catalog.yml\"\r\n"));
        assert!(text.contains("filename=\"/home/user/semantic/we\\\"ird.yml\""));
        assert!(text.ends_with("--B--\r\n"));
        assert_eq!(text.matches("name=\"file\"").count(), 2);
    }

    #[test]
    fn end_stream_outcomes() {
        let st = |exit| StreamState {
            stdout: CappedBuffer::new(10),
            stderr: CappedBuffer::new(10),
            pid: Some(1),
            exit,
            kill_sent: false,
        };
        let d = Duration::ZERO;
        assert_eq!(finish_stream(st(Some(3)), b"{}", d).unwrap().exit_code, 3);
        let o = finish_stream(
            st(None),
            br#"{"error":{"code":"deadline_exceeded","message":"x"}}"#,
            d,
        )
        .unwrap();
        assert!(o.timed_out);
        assert_eq!(o.exit_code, 124);
        let e = finish_stream(
            st(None),
            br#"{"error":{"code":"unavailable","message":"gone"}}"#,
            d,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SandboxGone);
        assert!(finish_stream(st(None), b"{}", d).is_err());
    }
}
