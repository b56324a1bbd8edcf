//! The plugin (health, create, sweep) and the sandbox (exec, close) on top of the client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use atlas_sandbox_cloud::{SessionSlot, TAG_MARKER, age_from_tags, sandbox_tags, spawn_cleanup};
use atlas_sandbox_sdk::{
    CollectLimits, CollectedLayer, Error, ErrorKind, ExecOutput, ExecRequest, HealthStatus,
    PluginContext, Result, Sandbox, SandboxPlugin, SecurityProfile, SemanticLayer, SweepReport,
    SweptSandbox, async_trait,
};

use crate::ID;
use crate::client::{Client, RemoteSandbox, RunError, sandbox_path};
use crate::config::E2bConfig;

/// The most sandboxes one sweep looks at (100 pages of 100).
const SWEEP_MAX_PAGES: usize = 100;

/// What E2B isolates, as configured.
pub(crate) fn security_profile(allow_internet_access: bool) -> SecurityProfile {
    let mut caveats = vec![
        "the semantic layer is copied to E2B's cloud: the data leaves this machine".to_owned(),
        "commands run as the template's default user, which in E2B's base template has \
         passwordless sudo inside the VM (the VM, not our host)"
            .to_owned(),
        "each sandbox bills per second of runtime until it is closed or its lifetime ends"
            .to_owned(),
    ];
    if allow_internet_access {
        caveats.push(
            "allow_internet_access = true: commands can reach the internet (exfiltration is possible)"
                .to_owned(),
        );
    }
    SecurityProfile {
        network_isolation: !allow_internet_access,
        filesystem_isolation: true,
        unprivileged_execution: true,
        description: "E2B Firecracker microVM per semantic layer (managed cloud)".to_owned(),
        caveats,
    }
}

/// The configured E2B backend.
#[derive(Debug)]
pub struct E2bPlugin {
    pub(crate) client: Arc<Client>,
    pub(crate) ctx: PluginContext,
}

impl E2bPlugin {
    /// Builds the plugin from a config (validates it; makes no request).
    pub fn new(config: E2bConfig, ctx: &PluginContext) -> Result<Self> {
        let resolved = config.resolve()?;
        Ok(E2bPlugin {
            client: Arc::new(Client::new(resolved)?),
            ctx: ctx.clone(),
        })
    }

    /// A sandbox over a collected layer; the remote VM is created at its first command.
    fn sandbox_for(&self, layer: CollectedLayer) -> E2bSandbox {
        E2bSandbox {
            inner: Arc::new(Inner {
                client: self.client.clone(),
                layer,
                tags: sandbox_tags(&self.ctx),
                slot: SessionSlot::new(),
                persistent_id: None,
            }),
        }
    }

    /// A sandbox bound to a remote sandbox that outlives it (created persistent or resumed):
    /// it is never silently replaced, since a replacement would lack the files it had.
    pub(crate) fn sandbox_bound(&self, remote: RemoteSandbox) -> E2bSandbox {
        E2bSandbox {
            inner: Arc::new(Inner {
                client: self.client.clone(),
                layer: CollectedLayer::default(),
                tags: sandbox_tags(&self.ctx),
                persistent_id: Some(remote.id.clone()),
                slot: SessionSlot::with(remote),
            }),
        }
    }
}

#[async_trait]
impl SandboxPlugin for E2bPlugin {
    fn id(&self) -> &'static str {
        ID
    }

    fn priority(&self) -> i32 {
        90
    }

    fn security(&self) -> SecurityProfile {
        security_profile(self.client.cfg.allow_internet_access)
    }

    fn session_policy(&self) -> atlas_sandbox_sdk::SessionPolicy {
        self.client.cfg.policy.clone()
    }

    fn persistence(&self) -> Option<&dyn atlas_sandbox_sdk::Persistence> {
        Some(self)
    }

    async fn health_check(&self) -> HealthStatus {
        // An authenticated list call: it proves the key and the API work and costs nothing.
        let deadline = self.client.cfg.request_timeout.min(Duration::from_secs(15));
        HealthStatus::measure(deadline, async {
            let missing = self
                .client
                .shell_missing
                .lock()
                .ok()
                .and_then(|s| s.clone());
            if let Some(reason) = missing {
                return Err(Error::unavailable(reason).with_backend(ID));
            }
            let filter = BTreeMap::from([(TAG_MARKER.to_owned(), "true".to_owned())]);
            let (items, more) = self.client.list(&filter, 1, None).await?;
            let running = if items.is_empty() {
                "no atlas sandbox running".to_owned()
            } else if more.is_some() {
                "several atlas sandboxes running".to_owned()
            } else {
                "one atlas sandbox running".to_owned()
            };
            Ok(format!(
                "E2B API at {} accepted the key; {running}",
                self.client.cfg.api_url
            ))
        })
        .await
    }

    async fn create(&self, layer: &SemanticLayer) -> Result<Box<dyn Sandbox>> {
        let collected = layer
            .collect_off_runtime(CollectLimits::default())
            .await
            .map_err(|e| e.with_backend(ID))?;
        Ok(Box::new(self.sandbox_for(collected)))
    }

    async fn sweep(&self, older_than: Duration, dry_run: bool) -> Result<SweepReport> {
        let filter = BTreeMap::from([(TAG_MARKER.to_owned(), "true".to_owned())]);
        let mut report = SweepReport {
            sandboxes: Vec::new(),
            kept: Vec::new(),
            dry_run,
        };
        let mut token: Option<String> = None;
        let mut found = Vec::new();
        for _ in 0..SWEEP_MAX_PAGES {
            let (items, next) = self.client.list(&filter, 100, token.as_deref()).await?;
            found.extend(items);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        for sb in found {
            let tags = sb.metadata.clone().unwrap_or_default();
            let age =
                age_from_tags(&tags).or_else(|| sb.started_at.as_deref().and_then(age_of_rfc3339));
            // Unknown age: not ours to judge, leave it.
            if age.is_none_or(|a| a < older_than) {
                continue;
            }
            let (killed, error) = if dry_run {
                (false, None)
            } else {
                match self.client.kill(&sb.sandbox_id).await {
                    Ok(_) => (true, None),
                    Err(e) => (false, Some(e.to_string())),
                }
            };
            report.sandboxes.push(SweptSandbox {
                id: sb.sandbox_id,
                age,
                tags,
                killed,
                error,
            });
        }
        Ok(report)
    }
}

#[derive(Debug)]
struct Inner {
    client: Arc<Client>,
    layer: CollectedLayer,
    tags: BTreeMap<String, String>,
    slot: SessionSlot<RemoteSandbox>,
    /// The id of a sandbox that must not be replaced when it vanishes.
    persistent_id: Option<String>,
}

/// A semantic layer bound to (at most) one live E2B sandbox, created on first use.
#[derive(Debug)]
pub struct E2bSandbox {
    inner: Arc<Inner>,
}

impl Inner {
    async fn session(&self) -> Result<Arc<RemoteSandbox>> {
        self.slot
            .get_or_create(ID, || {
                self.client.create_session(&self.tags, &self.layer, false)
            })
            .await
    }

    fn keep_alive(&self, sb: &Arc<RemoteSandbox>) {
        if sb.due_for_extension(self.client.cfg.lifetime) {
            let client = self.client.clone();
            let id = sb.id.clone();
            spawn_cleanup("extend E2B sandbox lifetime", async move {
                if let Err(e) = client.extend(&id).await {
                    tracing::warn!(sandbox = %id, error = %e, "could not extend the sandbox lifetime");
                }
            });
        }
    }
}

#[async_trait]
impl Sandbox for E2bSandbox {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        request.validate().map_err(|e| e.with_backend(ID))?;
        let rel = request.relative_cwd().map_err(|e| e.with_backend(ID))?;
        let cwd = sandbox_path(&rel);
        let timeout = match self.inner.client.cfg.timeout {
            Some(cap) => request.timeout.min(cap),
            None => request.timeout,
        };
        let mut recreated = false;
        loop {
            let sb = self.inner.session().await?;
            self.inner.keep_alive(&sb);
            let run = self
                .inner
                .client
                .run(
                    &sb,
                    self.inner.client.cfg.shell.program(),
                    vec!["-c", &request.command],
                    &cwd,
                    timeout,
                    request.max_output_bytes,
                )
                .await;
            match run {
                Ok(out) => return Ok(out),
                Err(RunError::NotStarted(e))
                    if e.kind() == ErrorKind::SandboxGone
                        && !recreated
                        && self.inner.persistent_id.is_none() =>
                {
                    tracing::warn!(sandbox = %sb.id, error = %e, "the E2B sandbox vanished; creating a new one");
                    self.inner.slot.invalidate(&sb).await;
                    recreated = true;
                }
                Err(RunError::NotStarted(e)) => return Err(e),
                Err(RunError::Failed(e)) => {
                    if matches!(
                        e.kind(),
                        ErrorKind::Timeout | ErrorKind::Backend | ErrorKind::SandboxGone
                    ) && e.is_temporary()
                        && let Ok(false) = self.inner.client.exists(&sb.id).await
                    {
                        // Forget it so the next command starts a fresh sandbox.
                        self.inner.slot.invalidate(&sb).await;
                        return Err(Error::new(
                            ErrorKind::SandboxGone,
                            format!(
                                "the sandbox vanished while the command ran: {}",
                                e.message()
                            ),
                        )
                        .with_backend(ID)
                        .with_context("sandbox", &sb.id));
                    }
                    return Err(e);
                }
            }
        }
    }

    async fn close(&self) -> Result<()> {
        if let Some(sb) = self.inner.slot.close().await {
            let killed = self.inner.client.kill(&sb.id).await?;
            tracing::info!(sandbox = %sb.id, killed, "closed E2B sandbox");
        }
        Ok(())
    }

    fn remote_id(&self) -> Option<String> {
        self.inner.persistent_id.clone()
    }

    async fn pause(&self) -> Result<()> {
        let Some(id) = self.inner.persistent_id.clone() else {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "this E2B sandbox was not created persistent, so it cannot be paused",
            )
            .with_backend(ID));
        };
        // The handle is spent either way: a failed pause leaves the sandbox to the caller
        // (which deletes it), never to this handle's drop.
        self.inner.slot.close().await;
        self.inner.client.pause(&id).await?;
        Ok(())
    }
}

impl Drop for E2bSandbox {
    fn drop(&mut self) {
        if let Some(sb) = self.inner.slot.take_now() {
            let client = self.inner.client.clone();
            spawn_cleanup("kill dropped E2B sandbox", async move {
                match client.kill(&sb.id).await {
                    Ok(_) => tracing::info!(sandbox = %sb.id, "killed dropped E2B sandbox"),
                    Err(e) => {
                        tracing::warn!(sandbox = %sb.id, error = %e, "could not kill a dropped sandbox; sweep will find it")
                    }
                }
            });
        }
    }
}

/// The age of an RFC 3339 timestamp (`2026-11-24T09:22:48.123Z`, `...+01:00`); a time in the
/// future is age zero.
pub(crate) fn age_of_rfc3339(s: &str) -> Option<Duration> {
    let t: jiff::Timestamp = s.parse().ok()?;
    Some(Duration::try_from(jiff::Timestamp::now().duration_since(t)).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
fn parse_rfc3339(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_parses() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-24T09:22:48.123456Z"),
            Some(1_795_512_168)
        );
        assert_eq!(
            parse_rfc3339("2026-11-24T10:22:48+01:00"),
            Some(1_795_512_168)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2026-02-30T00:00:00Z"), None);
        let age = age_of_rfc3339("2000-01-01T00:00:00Z").unwrap();
        assert!(age > Duration::from_secs(26 * 365 * 86_400), "{age:?}");
        assert_eq!(age_of_rfc3339("2999-01-01T00:00:00Z"), Some(Duration::ZERO));
    }

    #[test]
    fn security_is_honest_about_egress() {
        assert!(security_profile(false).network_isolation);
        let open = security_profile(true);
        assert!(!open.network_isolation);
        assert!(open.caveats.iter().any(|c| c.contains("internet")));
    }
}
