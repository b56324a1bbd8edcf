//! The plugin and its sandboxes: one Vercel microVM per semantic layer, created with the
//! layer uploaded as one tar.gz, commands run as `sh -c`, stopped and deleted at close.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use atlas_sandbox_cloud::{SessionSlot, sandbox_tags, spawn_cleanup};
use atlas_sandbox_sdk::{
    CappedBuffer, CollectLimits, CommandPath, Error, ErrorKind, ExecOutput, ExecRequest,
    HealthStatus, PluginContext, Result, Sandbox, SandboxPlugin, SecurityProfile, SemanticLayer,
    Shell, SweepReport, TIMEOUT_EXIT_CODE, async_trait,
};
use bytes::Bytes;

use crate::client::{VercelClient, millis};
use crate::config::{MAX_SANDBOX_LIFETIME, NetworkPolicy};
use crate::error::VercelError;
use crate::protocol::{
    Command, CreateSandbox, KeepLastSnapshots, NdjsonDecoder, Resources, RunCommand, SIGKILL,
    StreamItem,
};
use crate::{DEFAULT_PRIORITY, ID};

/// Where the semantic layer lives in the microVM (the session's cwd is `/vercel/sandbox`).
pub const SEMANTIC_DIR: &str = "/vercel/sandbox/semantic";

/// Commands whose timeout is longer than this run detached (start, then `?wait=true` polls, then
/// the logs) instead of over one `wait` stream: Vercel's edge cuts streaming responses after
/// about 5 minutes, and a cut stream loses the exit code.
pub const STREAM_SWITCH: Duration = Duration::from_secs(4 * 60);

/// How long one `?wait=true` poll may be held open before it is re-issued (under the edge's cut).
const WAIT_POLL_BOUND: Duration = Duration::from_secs(4 * 60);

/// How long past the command's own timeout we wait for the vendor to report it, before we kill
/// it ourselves and report the timeout.
const DEADLINE_GRACE: Duration = Duration::from_secs(15);

/// The longest ndjson line accepted (output arrives in chunks far smaller).
const MAX_LINE: usize = 64 * 1024 * 1024;

/// How long the partial logs of a command killed at our deadline are waited for.
const LATE_LOGS_BOUND: Duration = Duration::from_secs(10);

/// How often a cut log stream is fetched again.
const LOG_ATTEMPTS: u32 = 3;

/// What the plugin and its sandboxes share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) client: VercelClient,
    pub(crate) settings: Settings,
    pub(crate) ctx: PluginContext,
    /// Set when a sandbox could not run the configured shell: the health check then reports the
    /// backend unhealthy with this reason.
    pub(crate) shell_missing: Mutex<Option<String>>,
}

/// The microVM's shape, from the config.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) runtime: String,
    pub(crate) region: Option<String>,
    pub(crate) vcpus: Option<u32>,
    pub(crate) lifetime: Duration,
    pub(crate) network_policy: NetworkPolicy,
    pub(crate) allowed_domains: Vec<String>,
    pub(crate) shell: Shell,
    /// The `PATH` of the environment every command starts with.
    pub(crate) path: CommandPath,
    /// `snapshotExpiration` of persistent sandboxes, in ms (0: never).
    pub(crate) snapshot_expiration_ms: u64,
}

impl Settings {
    fn network_policy_body(&self) -> serde_json::Value {
        match self.network_policy {
            NetworkPolicy::AllowAll => serde_json::json!({"mode": "allow-all"}),
            NetworkPolicy::DenyAll if self.allowed_domains.is_empty() => {
                serde_json::json!({"mode": "deny-all"})
            }
            NetworkPolicy::DenyAll => serde_json::json!({"allow": self.allowed_domains}),
        }
    }
}

/// The security profile for a network policy.
pub(crate) fn security_profile(
    policy: NetworkPolicy,
    allowed_domains: &[String],
) -> SecurityProfile {
    let mut caveats = vec![
        "runs on Vercel's infrastructure: the semantic layer is uploaded to Vercel".to_owned(),
        "commands run as the image's default user, which can use sudo inside the microVM; the \
         microVM is the boundary"
            .to_owned(),
        "deny-all is documented not to block the link-local metadata address 169.254.169.254"
            .to_owned(),
    ];
    let network_isolation = match policy {
        NetworkPolicy::AllowAll => {
            caveats.push("network_policy = \"allow-all\": commands can reach the internet".into());
            false
        }
        NetworkPolicy::DenyAll if allowed_domains.is_empty() => true,
        NetworkPolicy::DenyAll => {
            caveats.push(format!(
                "egress is allowed to: {}",
                allowed_domains.join(", ")
            ));
            false
        }
    };
    SecurityProfile {
        network_isolation,
        filesystem_isolation: true,
        unprivileged_execution: false,
        description: "a Firecracker microVM per semantic layer on Vercel Sandbox".to_owned(),
        caveats,
    }
}

/// The configured Vercel backend.
#[derive(Debug)]
pub struct VercelPlugin {
    pub(crate) shared: Arc<Shared>,
    pub(crate) policy: atlas_sandbox_sdk::SessionPolicy,
}

impl VercelPlugin {
    pub(crate) fn new(shared: Shared, policy: atlas_sandbox_sdk::SessionPolicy) -> Self {
        VercelPlugin {
            shared: Arc::new(shared),
            policy,
        }
    }
}

#[async_trait]
impl SandboxPlugin for VercelPlugin {
    fn id(&self) -> &'static str {
        ID
    }

    fn priority(&self) -> i32 {
        DEFAULT_PRIORITY
    }

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    fn security(&self) -> SecurityProfile {
        let s = &self.shared.settings;
        security_profile(s.network_policy, &s.allowed_domains)
    }

    /// An authenticated list of one sandbox: checks the URL, the token and the team/project
    /// without creating (paying for) anything.
    async fn health_check(&self) -> HealthStatus {
        let client = &self.shared.client;
        let missing = self
            .shared
            .shell_missing
            .lock()
            .ok()
            .and_then(|s| s.clone());
        HealthStatus::measure(Duration::from_secs(10), async move {
            if let Some(reason) = missing {
                return Err(Error::unavailable(reason).with_backend(ID));
            }
            client.list(None, 1, None).await?;
            Ok(format!(
                "authenticated to the Vercel Sandbox API (project {})",
                client.project_id()
            ))
        })
        .await
    }

    async fn create(&self, layer: &SemanticLayer) -> Result<Box<dyn Sandbox>> {
        let layer = layer.clone();
        let archive = tokio::task::spawn_blocking(move || build_archive(&layer))
            .await
            .map_err(|e| {
                Error::backend_failure("archiving the semantic layer panicked")
                    .with_backend(ID)
                    .with_source(e)
            })??;
        let sandbox = VercelSandbox {
            shared: self.shared.clone(),
            kind: Kind::Ephemeral {
                archive: Arc::new(archive),
            },
            slot: SessionSlot::new(),
        };
        // Created now, not at the first command: a bad token or quota shows up here.
        sandbox.session().await?;
        Ok(Box::new(sandbox))
    }

    fn session_policy(&self) -> atlas_sandbox_sdk::SessionPolicy {
        self.policy.clone()
    }

    fn persistence(&self) -> Option<&dyn atlas_sandbox_sdk::Persistence> {
        Some(self)
    }

    async fn sweep(&self, older_than: Duration, dry_run: bool) -> Result<SweepReport> {
        crate::persist::sweep(&self.shared.client, older_than, dry_run).await
    }
}

/// The semantic layer as the one gzip-compressed tar that `fs/write` takes.
#[derive(Debug)]
pub(crate) struct Archive {
    pub(crate) tar_gz: Bytes,
    pub(crate) files: usize,
    /// What the archive does not carry (empty directories, modes, nanosecond times), set after
    /// it is extracted: [`atlas_sandbox_sdk::CollectedLayer::restore_script`], run from `/`.
    pub(crate) restore: Vec<String>,
}

/// Builds the upload: file entries only, named relative to `/` (`vercel/sandbox/semantic/...`),
/// as the SDK's `writeFiles` names them; the server creates the parent directories.
pub(crate) fn build_archive(layer: &SemanticLayer) -> Result<Archive> {
    let collected = layer.collect(&CollectLimits::default())?;
    let mtime = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let prefix = SEMANTIC_DIR.trim_start_matches('/');
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for f in &collected.files {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(f.contents.len() as u64);
        header.set_mode(f.mode & 0o777);
        header.set_mtime(mtime);
        tar.append_data(
            &mut header,
            format!("{prefix}/{}", f.path),
            f.contents.as_slice(),
        )
        .map_err(VercelError::Archive)?;
    }
    let mut gz = tar.into_inner().map_err(VercelError::Archive)?;
    gz.flush().map_err(VercelError::Archive)?;
    let bytes = gz.finish().map_err(VercelError::Archive)?;
    Ok(Archive {
        tar_gz: Bytes::from(bytes),
        files: collected.files.len(),
        restore: collected.restore_script(prefix),
    })
}

/// One live microVM.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) expires_at: Mutex<Instant>,
}

impl Session {
    fn expires_at(&self) -> Instant {
        *self.expires_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push_expiry(&self, by: Duration) {
        let mut e = self.expires_at.lock().unwrap_or_else(|p| p.into_inner());
        *e = later((*e).max(Instant::now()), by);
    }
}

/// What a sandbox handle is for, which decides what happens when its microVM stops.
#[derive(Debug)]
pub(crate) enum Kind {
    /// A throwaway microVM: stopped and deleted at close, recreated from the layer (once) if
    /// the vendor stopped it.
    Ephemeral { archive: Arc<Archive> },
    /// A persistent sandbox found again by name: its stopped session is resumed from the
    /// vendor's snapshot, never recreated empty behind the caller's back.
    Persistent { name: String },
}

/// A sandbox over one semantic layer.
#[derive(Debug)]
pub struct VercelSandbox {
    pub(crate) shared: Arc<Shared>,
    pub(crate) kind: Kind,
    pub(crate) slot: SessionSlot<Session>,
}

impl VercelSandbox {
    async fn session(&self) -> Result<Arc<Session>> {
        let shared = self.shared.clone();
        match &self.kind {
            Kind::Ephemeral { archive } => {
                let archive = archive.clone();
                let name = new_name();
                self.slot
                    .get_or_create(ID, || create_session(shared, archive, name, None))
                    .await
            }
            Kind::Persistent { name } => {
                let name = name.clone();
                self.slot
                    .get_or_create(ID, || async move {
                        crate::persist::resume_session(&shared, &name).await
                    })
                    .await
            }
        }
    }

    /// Keeps the microVM alive while it is used: when less than half its lifetime (or less than
    /// the command needs) is left, extend it. One extra call every half-lifetime of use.
    async fn keep_alive(&self, s: &Session, command_timeout: Duration) -> Result<()> {
        let lifetime = self.shared.settings.lifetime;
        let need = command_timeout
            .saturating_add(DEADLINE_GRACE)
            .saturating_add(Duration::from_secs(30));
        let left = s.expires_at().saturating_duration_since(Instant::now());
        if left >= need.max(lifetime / 2) {
            return Ok(());
        }
        // The vendor refuses more than its maximum lifetime; a command that needs longer runs
        // in what it gets.
        let by = lifetime.max(need).min(MAX_SANDBOX_LIFETIME);
        match self.shared.client.extend_timeout(&s.id, by).await {
            Ok(_) => {
                s.push_expiry(by);
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::SandboxGone => Err(e),
            Err(e) => {
                // The plan's maximum lifetime may be reached: the command can still run in
                // what is left, and a microVM that does stop is recreated.
                tracing::warn!(sandbox = %s.name, error = %e, "could not extend the sandbox lifetime");
                Ok(())
            }
        }
    }

    async fn run_on(&self, s: &Session, req: &ExecRequest, cwd: &str) -> Result<ExecOutput> {
        self.keep_alive(s, req.timeout).await?;
        let runner = Runner {
            client: &self.shared.client,
            session_id: &s.id,
            shell: self.shared.settings.shell,
            path: &self.shared.settings.path,
            req,
            start: Instant::now(),
            deadline: tokio::time::Instant::from_std(later(
                Instant::now(),
                req.timeout.saturating_add(DEADLINE_GRACE),
            )),
        };
        if req.timeout > STREAM_SWITCH {
            runner.detached(cwd).await
        } else {
            runner.streaming(cwd).await
        }
    }
}

#[async_trait]
impl Sandbox for VercelSandbox {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        let start = Instant::now();
        request.validate().map_err(|e| e.with_backend(ID))?;
        let rel = request.relative_cwd().map_err(|e| e.with_backend(ID))?;
        let cwd = if rel.is_empty() {
            SEMANTIC_DIR.to_owned()
        } else {
            format!("{SEMANTIC_DIR}/{rel}")
        };
        let session = self.session().await?;
        let persistent = matches!(self.kind, Kind::Persistent { .. });
        let out = match self.run_on(&session, &request, &cwd).await {
            Err(e)
                if persistent
                    && e.kind() == ErrorKind::SandboxGone
                    && !self.slot.is_closed().await =>
            {
                // Its session stopped (lifetime, or stopped elsewhere): resume it from its
                // snapshot and run once more, as the vendor's SDK does.
                tracing::info!(sandbox = %session.name, error = %e, "the persistent Vercel sandbox's session stopped; resuming it");
                self.slot.invalidate(&session).await;
                let fresh = self.session().await?;
                self.run_on(&fresh, &request, &cwd).await?
            }
            Err(e) if persistent => return Err(e),
            Err(e) if e.kind() == ErrorKind::SandboxGone && !self.slot.is_closed().await => {
                tracing::warn!(sandbox = %session.name, error = %e, "the Vercel sandbox is gone; recreating it once");
                self.slot.invalidate(&session).await;
                let client = self.shared.client.clone();
                let old = session.clone();
                // The stopped microVM costs nothing, but its record would clutter the project.
                spawn_cleanup("stale vercel sandbox", async move {
                    let _ = destroy(&client, &old).await;
                });
                let fresh = self.session().await?;
                self.run_on(&fresh, &request, &cwd).await?
            }
            other => other?,
        };
        Ok(ExecOutput {
            duration: start.elapsed(),
            ..out
        })
    }

    async fn close(&self) -> Result<()> {
        let session = self.slot.close().await;
        match (&self.kind, session) {
            (Kind::Ephemeral { .. }, Some(s)) => destroy(&self.shared.client, &s).await,
            (Kind::Ephemeral { .. }, None) => Ok(()),
            (Kind::Persistent { name }, session) => {
                crate::persist::delete_by_name(&self.shared, name, session.as_deref()).await
            }
        }
    }

    fn remote_id(&self) -> Option<String> {
        match &self.kind {
            Kind::Persistent { name } => Some(name.clone()),
            Kind::Ephemeral { .. } => None,
        }
    }

    async fn pause(&self) -> Result<()> {
        let Kind::Persistent { name } = &self.kind else {
            return Err(Error::invalid_request(
                "this Vercel sandbox was not created persistent (plugins.vercel.persistent = true); it cannot be paused",
            )
            .with_backend(ID));
        };
        match self.slot.close().await {
            Some(s) => crate::persist::stop_session(&self.shared, &s.id).await,
            None => crate::persist::pause_by_name(&self.shared, name).await,
        }
    }
}

impl Drop for VercelSandbox {
    fn drop(&mut self) {
        if let Some(s) = self.slot.take_now() {
            let client = self.shared.client.clone();
            let persistent = matches!(self.kind, Kind::Persistent { .. });
            spawn_cleanup("vercel sandbox", async move {
                // A dropped persistent handle is stopped (snapshotted), not deleted: the
                // host's store may still name it.
                let done = if persistent {
                    match client.stop(&s.id).await {
                        Err(e) if e.kind() == ErrorKind::SandboxGone => Ok(()),
                        other => other,
                    }
                } else {
                    destroy(&client, &s).await
                };
                if let Err(e) = done {
                    tracing::warn!(sandbox = %s.name, error = %e, "could not stop a dropped Vercel sandbox; it stops at its lifetime");
                }
            });
        }
    }
}

/// A fresh sandbox name (names are unique per project, which makes a create retry-safe).
pub(crate) fn new_name() -> String {
    format!("atlas-{}", &uuid::Uuid::new_v4().simple().to_string()[..20])
}

/// Creates a microVM named `name` and uploads the layer: two calls. A failed upload stops it
/// again. With an `owner` the sandbox is persistent: stopping it snapshots its filesystem for
/// `snapshot_expiration`, keeping only the newest snapshot.
pub(crate) async fn create_session(
    shared: Arc<Shared>,
    archive: Arc<Archive>,
    name: String,
    owner: Option<String>,
) -> Result<Session> {
    let st = &shared.settings;
    let mut tags: BTreeMap<String, String> = sandbox_tags(&shared.ctx);
    if let Some(owner) = &owner {
        tags.insert(crate::persist::OWNER_TAG.to_owned(), owner.clone());
        tags.insert(crate::persist::PERSISTENT_TAG.to_owned(), "true".to_owned());
    }
    let persistent = owner.is_some();
    let body = CreateSandbox {
        project_id: shared.client.project_id(),
        name: &name,
        ports: [],
        timeout: millis(st.lifetime),
        persistent,
        resources: st.vcpus.map(|vcpus| Resources { vcpus }),
        runtime: Some(st.runtime.as_str()),
        region: st.region.as_deref(),
        network_policy: st.network_policy_body(),
        tags: &tags,
        snapshot_expiration: persistent.then_some(st.snapshot_expiration_ms),
        keep_last_snapshots: persistent.then_some(KeepLastSnapshots { count: 1 }),
    };
    let created_at = Instant::now();
    // A caller that gives up (its future dropped) while the create is answered or the layer
    // uploads must not leave a paid microVM running until its lifetime ends.
    let mut guard = SetupGuard {
        client: shared.client.clone(),
        stage: Some(SetupStage::Creating(name.clone())),
    };
    let made = match shared.client.create(&body).await {
        Ok(made) => made,
        Err(e) => {
            // A timeout or a 5xx after the last attempt may still have made the microVM: the
            // guard looks its name up. Any other failure made nothing.
            if !matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Backend) {
                guard.stage = None;
            }
            return Err(e);
        }
    };
    guard.stage = Some(SetupStage::Created {
        name: made.sandbox.name.clone(),
        session_id: made.session.id.clone(),
    });
    let session = Session {
        name: made.sandbox.name,
        id: made.session.id,
        expires_at: Mutex::new(later(
            created_at,
            Duration::from_millis(made.session.timeout),
        )),
    };
    let upload = async {
        if archive.files > 0 {
            shared
                .client
                .write_files(&session.id, archive.tar_gz.clone())
                .await?;
        }
        // Also makes the semantic directory when there was nothing to extract.
        restore_metadata(&shared, &session, &archive.restore).await
    };
    // The shell is probed while the layer uploads, so it costs no extra round trip.
    let (upload, probe) = tokio::join!(upload, probe_shell(&shared, &session));
    guard.stage = None;
    if let Err(e) = upload.and(probe) {
        if let Err(e2) = destroy(&shared.client, &session).await {
            tracing::warn!(sandbox = %session.name, error = %e2, "could not stop the sandbox after a failed setup");
        }
        return Err(e);
    }
    tracing::debug!(sandbox = %session.name, session = %session.id, files = archive.files, "Vercel sandbox ready");
    Ok(session)
}

/// Gives the extracted copy the layer's directories, modes and modification times, one command
/// per chunk, from `/`.
async fn restore_metadata(shared: &Shared, session: &Session, chunks: &[String]) -> Result<()> {
    for chunk in chunks {
        let req = ExecRequest::new(chunk.as_str()).timeout(Duration::from_secs(60));
        let runner = Runner {
            client: &shared.client,
            session_id: &session.id,
            shell: Shell::Sh,
            path: &shared.settings.path,
            req: &req,
            start: Instant::now(),
            deadline: tokio::time::Instant::from_std(later(
                Instant::now(),
                req.timeout.saturating_add(DEADLINE_GRACE),
            )),
        };
        let out = runner.streaming("/").await?;
        if out.exit_code != 0 {
            let status = out.exit_code.to_string();
            return Err(atlas_sandbox_sdk::restore_failed(
                ID,
                &status,
                &out.stderr_str(),
                "runtime",
            ));
        }
    }
    Ok(())
}

/// Runs `<shell> -c 'exit 0'` in the new microVM: a runtime image without the configured shell
/// fails here (and marks the backend unhealthy) instead of every command failing, or running in
/// a shell the operator did not choose.
async fn probe_shell(shared: &Shared, session: &Session) -> Result<()> {
    let shell = shared.settings.shell;
    let req = ExecRequest::new("exit 0").timeout(Duration::from_secs(15));
    let runner = Runner {
        client: &shared.client,
        session_id: &session.id,
        shell,
        path: &shared.settings.path,
        req: &req,
        start: Instant::now(),
        deadline: tokio::time::Instant::from_std(later(
            Instant::now(),
            req.timeout.saturating_add(DEADLINE_GRACE),
        )),
    };
    // From `/`: the semantic directory may not exist yet while the layer uploads.
    let detail = match runner.streaming("/").await {
        Ok(out) if out.exit_code == 0 => return Ok(()),
        Ok(out) => Shell::probe_detail(out.exit_code, &out.stderr_str()),
        Err(e) if e.is_temporary() || e.kind() != ErrorKind::Backend => return Err(e),
        Err(e) => e.message().to_owned(),
    };
    let err = shell.missing(
        ID,
        &format!("Vercel runtime {:?}", shared.settings.runtime),
        &detail,
    );
    if let Ok(mut slot) = shared.shell_missing.lock() {
        *slot = Some(err.message().to_owned());
    }
    Err(err)
}

/// How far an abandoned session setup got.
enum SetupStage {
    /// The create was sent under this (unique) name; a microVM may or may not exist.
    Creating(String),
    /// The microVM exists; the layer is not uploaded yet.
    Created { name: String, session_id: String },
}

/// Stops and deletes, in the background, the microVM of a setup whose future was dropped.
struct SetupGuard {
    client: VercelClient,
    stage: Option<SetupStage>,
}

impl Drop for SetupGuard {
    fn drop(&mut self) {
        let Some(stage) = self.stage.take() else {
            return;
        };
        let client = self.client.clone();
        spawn_cleanup("abandoned vercel sandbox setup", async move {
            let session = match stage {
                SetupStage::Created { name, session_id } => Some(Session {
                    name,
                    id: session_id,
                    expires_at: Mutex::new(Instant::now()),
                }),
                SetupStage::Creating(name) => {
                    // The create may still be in flight on the vendor side: look twice.
                    let mut found = None;
                    for wait in [Duration::from_secs(1), Duration::from_secs(10)] {
                        tokio::time::sleep(wait).await;
                        if let Ok(Some(made)) = client.get_sandbox(&name).await {
                            found = Some(Session {
                                name: made.sandbox.name,
                                id: made.session.id,
                                expires_at: Mutex::new(Instant::now()),
                            });
                            break;
                        }
                    }
                    found
                }
            };
            if let Some(s) = session
                && let Err(e) = destroy(&client, &s).await
            {
                tracing::warn!(sandbox = %s.name, error = %e, "could not stop an abandoned sandbox; sweep will find it");
            }
        });
    }
}

/// `at + by`, or a point decades away when that overflows: a request may ask for
/// `Duration::MAX` and a vendor answer may carry any number, neither may panic.
pub(crate) fn later(at: Instant, by: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 86_400);
    at.checked_add(by).unwrap_or_else(|| at + FAR)
}

/// Stops the session and deletes the sandbox; what is already gone is fine.
pub(crate) async fn destroy(client: &VercelClient, s: &Session) -> Result<()> {
    let gone_ok = |r: Result<()>| match r {
        Err(e) if e.kind() == ErrorKind::SandboxGone => Ok(()),
        other => other,
    };
    let stopped = gone_ok(client.stop(&s.id).await);
    let deleted = gone_ok(client.delete(&s.name).await);
    stopped.and(deleted)
}

/// The output of one command, capped as it arrives.
struct Collector {
    out: CappedBuffer,
    err: CappedBuffer,
    kill_after: u64,
}

impl Collector {
    fn new(cap: usize) -> Self {
        Collector {
            out: CappedBuffer::new(cap),
            err: CappedBuffer::new(cap),
            kill_after: atlas_sandbox_sdk::overflow_limit(cap),
        }
    }

    fn overflowed(&self) -> bool {
        self.out.dropped() > self.kill_after || self.err.dropped() > self.kill_after
    }
}

/// One command on one session.
struct Runner<'a> {
    client: &'a VercelClient,
    session_id: &'a str,
    shell: Shell,
    path: &'a CommandPath,
    req: &'a ExecRequest,
    start: Instant,
    /// Our own deadline: the command's timeout plus a grace for the vendor to report it.
    deadline: tokio::time::Instant,
}

enum Next {
    Finished(Command),
    /// The stream broke after the command started: ask for its end and logs instead.
    Recover(String),
}

impl Runner<'_> {
    fn body<'b>(&'b self, cwd: &'b str, wait: bool) -> RunCommand<'b> {
        RunCommand {
            command: self.shell.program(),
            args: ["-c", &self.req.command],
            cwd,
            // The same environment as on every backend (the operator's `path` aside):
            // constants only, nothing of the host's.
            env: self
                .path
                .env()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            sudo: false,
            wait: wait.then_some(true),
            logs: wait.then_some(true),
            timeout: millis(self.req.timeout),
        }
    }

    /// `wait` mode: one request, the output streamed back as ndjson.
    async fn streaming(&self, cwd: &str) -> Result<ExecOutput> {
        let body = self.body(cwd, true);
        let bound = self
            .req
            .timeout
            .saturating_add(DEADLINE_GRACE)
            .saturating_add(Duration::from_secs(5));
        let mut resp = self
            .client
            .run_streaming(self.session_id, &body, bound)
            .await?;
        let mut col = Collector::new(self.req.max_output_bytes);
        let mut dec = NdjsonDecoder::new(MAX_LINE);
        let mut cmd_id: Option<String> = None;
        let mut overflow_killed = false;
        let next = 'read: loop {
            let chunk = match tokio::time::timeout_at(self.deadline, resp.chunk()).await {
                Err(_) => {
                    if let Some(id) = &cmd_id
                        && let Err(e) = self.client.kill(self.session_id, id, SIGKILL).await
                    {
                        tracing::warn!(error = %e, "could not kill a command past its deadline");
                    }
                    return self.timed_out(col);
                }
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None)) => {
                    // A half line at the end is a cut stream, not a malformed one.
                    if let Ok(Some(StreamItem::Command(c))) = dec.finish()
                        && c.exit_code.is_some()
                    {
                        break 'read Next::Finished(c);
                    }
                    match &cmd_id {
                        Some(id) => break 'read Next::Recover(id.clone()),
                        None => {
                            return Err(VercelError::StreamEndedBeforeStart("empty stream").into());
                        }
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "the command stream broke");
                    match &cmd_id {
                        Some(id) => break 'read Next::Recover(id.clone()),
                        None => {
                            return Err(atlas_sandbox_cloud::transport_error(ID, e));
                        }
                    }
                }
            };
            for item in dec.push(&chunk)? {
                match item {
                    StreamItem::Command(c) if c.exit_code.is_some() => {
                        break 'read Next::Finished(c);
                    }
                    StreamItem::Command(c) => cmd_id = Some(c.id),
                    StreamItem::Stdout(d) => {
                        col.out.push(d.as_bytes());
                    }
                    StreamItem::Stderr(d) => {
                        col.err.push(d.as_bytes());
                    }
                    StreamItem::Error { code, message } => match &cmd_id {
                        // e.g. `sandbox_stream_closed`: the command lives on; fetch its end.
                        Some(id) => {
                            tracing::warn!(%code, %message, "the server closed the command stream");
                            break 'read Next::Recover(id.clone());
                        }
                        None => return Err(VercelError::Stream { code, message }.into()),
                    },
                }
            }
            if !overflow_killed
                && col.overflowed()
                && let Some(id) = &cmd_id
            {
                overflow_killed = true;
                if let Err(e) = self.client.kill(self.session_id, id, SIGKILL).await {
                    tracing::warn!(error = %e, "could not kill a command flooding its output");
                }
            }
        };
        match next {
            Next::Finished(c) => Ok(self.finish(col, &c)),
            Next::Recover(id) => {
                tracing::info!(command = %id, "recovering the command's end and output from its logs");
                self.await_and_collect(&id).await
            }
        }
    }

    /// Detached mode, for long commands: start, poll `?wait=true`, then read the logs.
    async fn detached(&self, cwd: &str) -> Result<ExecOutput> {
        let body = self.body(cwd, false);
        let cmd = self.client.run_detached(self.session_id, &body).await?;
        self.await_and_collect(&cmd.id).await
    }

    async fn await_and_collect(&self, cmd_id: &str) -> Result<ExecOutput> {
        let finished = loop {
            let now = tokio::time::Instant::now();
            if now >= self.deadline {
                // Kill first: the log stream of a running command lasts as long as it does.
                if let Err(e) = self.client.kill(self.session_id, cmd_id, SIGKILL).await {
                    tracing::warn!(error = %e, "could not kill a command past its deadline");
                }
                let partial = tokio::time::timeout(LATE_LOGS_BOUND, self.read_logs(cmd_id)).await;
                let col = match partial {
                    Ok(Ok(col)) => col,
                    _ => Collector::new(self.req.max_output_bytes),
                };
                return self.timed_out(col);
            }
            let bound = (self.deadline - now).min(WAIT_POLL_BOUND);
            match self
                .client
                .get_command(self.session_id, cmd_id, true, bound)
                .await
            {
                Ok(c) if c.exit_code.is_some() => break c,
                Ok(_) => continue,
                // The edge cut the held request, or it reached its bound: ask again.
                Err(e)
                    if e.is_temporary()
                        && !matches!(e.kind(), ErrorKind::SandboxGone | ErrorKind::RateLimited) =>
                {
                    tracing::debug!(error = %e, "re-polling the command");
                    continue;
                }
                Err(e) => return Err(e),
            }
        };
        let col = self.read_logs(cmd_id).await?;
        Ok(self.finish(col, &finished))
    }

    /// The whole log of a command, read again from the start if the stream breaks.
    async fn read_logs(&self, cmd_id: &str) -> Result<Collector> {
        let mut last_err = None;
        for _ in 0..LOG_ATTEMPTS {
            let mut col = Collector::new(self.req.max_output_bytes);
            let mut resp = self
                .client
                .logs(self.session_id, cmd_id, WAIT_POLL_BOUND)
                .await?;
            let mut dec = NdjsonDecoder::new(MAX_LINE);
            let mut broken = None;
            loop {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        for item in dec.push(&chunk)? {
                            match item {
                                StreamItem::Stdout(d) => {
                                    col.out.push(d.as_bytes());
                                }
                                StreamItem::Stderr(d) => {
                                    col.err.push(d.as_bytes());
                                }
                                StreamItem::Command(_) => {}
                                StreamItem::Error { code, message } => {
                                    broken =
                                        Some(Error::from(VercelError::Stream { code, message }));
                                }
                            }
                        }
                        if broken.is_some() {
                            break;
                        }
                    }
                    Ok(None) => {
                        match dec.finish() {
                            Ok(Some(StreamItem::Stdout(d))) => {
                                col.out.push(d.as_bytes());
                            }
                            Ok(Some(StreamItem::Stderr(d))) => {
                                col.err.push(d.as_bytes());
                            }
                            Ok(_) => {}
                            // A half line at the end: the stream was cut; read it again.
                            Err(e) => broken = Some(Error::from(e).set_temporary(true)),
                        }
                        break;
                    }
                    Err(e) => {
                        broken = Some(atlas_sandbox_cloud::transport_error(ID, e));
                        break;
                    }
                }
            }
            match broken {
                None => return Ok(col),
                Some(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| VercelError::Lost.into()))
    }

    /// Our deadline passed without an answer from the vendor: report the timeout with what
    /// output arrived (the caller has killed the command).
    fn timed_out(&self, col: Collector) -> Result<ExecOutput> {
        Ok(ExecOutput::from_streams(
            col.out,
            col.err,
            TIMEOUT_EXIT_CODE,
            true,
            self.start.elapsed(),
        ))
    }

    /// The vendor SIGKILLs a command at its timeout; that is reported as exit 124, like every
    /// backend. Any other exit keeps its real code.
    fn finish(&self, col: Collector, c: &Command) -> ExecOutput {
        let code = c.exit_code.unwrap_or(0);
        let ran = c
            .duration_ms
            .map(Duration::from_millis)
            .unwrap_or_else(|| self.start.elapsed());
        let killed = code == 128 + SIGKILL || code < 0;
        let timed_out = killed && ran + Duration::from_millis(50) >= self.req.timeout;
        ExecOutput::from_streams(
            col.out,
            col.err,
            if timed_out { TIMEOUT_EXIT_CODE } else { code },
            timed_out,
            self.start.elapsed(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_holds_relative_file_entries_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("models/deep")).unwrap();
        std::fs::create_dir_all(dir.path().join("empty")).unwrap();
        std::fs::write(dir.path().join("catalog.yml"), "a: 1\n").unwrap();
        std::fs::write(dir.path().join("models/deep/orders.yml"), "name: orders\n").unwrap();
        let layer = SemanticLayer::open(dir.path()).unwrap();
        let a = build_archive(&layer).unwrap();
        assert_eq!(a.files, 2);
        let gz = flate2::read::GzDecoder::new(&a.tar_gz[..]);
        let mut ar = tar::Archive::new(gz);
        let mut names = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            assert_eq!(e.header().entry_type(), tar::EntryType::Regular);
            names.push(e.path().unwrap().display().to_string());
        }
        assert_eq!(
            names,
            [
                "vercel/sandbox/semantic/catalog.yml",
                "vercel/sandbox/semantic/models/deep/orders.yml"
            ]
        );
    }

    #[test]
    fn network_policy_bodies() {
        let mut s = Settings {
            runtime: "node24".into(),
            region: None,
            vcpus: None,
            lifetime: Duration::from_secs(600),
            network_policy: NetworkPolicy::DenyAll,
            allowed_domains: vec![],
            shell: Shell::Bash,
            path: CommandPath::default(),
            snapshot_expiration_ms: 0,
        };
        assert_eq!(
            s.network_policy_body(),
            serde_json::json!({"mode": "deny-all"})
        );
        assert!(security_profile(s.network_policy, &s.allowed_domains).network_isolation);
        s.allowed_domains = vec!["example.com".into()];
        assert_eq!(
            s.network_policy_body(),
            serde_json::json!({"allow": ["example.com"]})
        );
        assert!(!security_profile(s.network_policy, &s.allowed_domains).network_isolation);
        s.network_policy = NetworkPolicy::AllowAll;
        assert_eq!(
            s.network_policy_body(),
            serde_json::json!({"mode": "allow-all"})
        );
    }
}
