//! Sandboxes that outlive a session: a persistent Vercel sandbox is a named record whose
//! sessions (microVMs) come and go. Stopping its session snapshots the filesystem (kept for
//! `snapshotExpiration`, newest only); `GET /v2/sandboxes/{name}?resume=true` starts a new
//! session restored from it. The session's own timeout (`sandbox_lifetime`) ends a running one
//! this host loses track of; the snapshot expiry ends what it left stopped. `sweep` removes
//! what leaked.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use atlas_sandbox_cloud::{SessionSlot, TAG_MARKER, age_from_tags};
use atlas_sandbox_sdk::{
    Error, ErrorKind, Persistence, RemoteSandbox, RemoteState, Result, Sandbox, SemanticLayer,
    SweepReport, SweptSandbox, async_trait,
};

use crate::ID;
use crate::client::VercelClient;
use crate::sandbox::{
    Kind, Session, Shared, VercelPlugin, VercelSandbox, build_archive, create_session, destroy,
    later, new_name,
};

/// Tag naming the session a persistent sandbox belongs to.
pub(crate) const OWNER_TAG: &str = "atlas-sandbox-owner";
/// Tag marking a sandbox created to be stopped and resumed.
pub(crate) const PERSISTENT_TAG: &str = "atlas-sandbox-persistent";

/// How many sandboxes `list` reads at most.
const LIST_MAX: usize = 10_000;

fn gone(name: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::SandboxGone,
        format!("the Vercel sandbox {name} {why}"),
    )
    .with_backend(ID)
    .with_context("sandbox", name)
    .set_temporary(false)
}

/// Resumes a sandbox by name: its running session, or a new one restored from its snapshot.
pub(crate) async fn resume_session(shared: &Shared, name: &str) -> Result<Session> {
    let started = Instant::now();
    let made = match shared.client.resume(name).await {
        Ok(Some(made)) => made,
        Ok(None) => return Err(gone(name, "does not exist (deleted)")),
        Err(e) if e.kind() == ErrorKind::SandboxGone => {
            // 410 `snapshot_not_found`: the record is there but its files expired.
            return Err(gone(name, &format!("cannot be resumed: {}", e.message())));
        }
        Err(e) => return Err(e.with_context("sandbox", name)),
    };
    if made.session.id.is_empty() {
        return Err(gone(name, "has no session to resume"));
    }
    tracing::debug!(sandbox = %name, session = %made.session.id, resumed = ?made.resumed, elapsed = ?started.elapsed(), "Vercel sandbox resumed");
    Ok(Session {
        name: made.sandbox.name,
        id: made.session.id,
        expires_at: Mutex::new(later(
            Instant::now(),
            Duration::from_millis(made.session.timeout),
        )),
    })
}

/// Stops a session (a persistent sandbox snapshots it); one already stopped is fine.
pub(crate) async fn stop_session(shared: &Shared, session_id: &str) -> Result<()> {
    match shared.client.stop(session_id).await {
        Err(e) if e.kind() == ErrorKind::SandboxGone => Ok(()),
        other => other,
    }
}

/// Pauses a sandbox known only by name: stops its session if one runs.
pub(crate) async fn pause_by_name(shared: &Shared, name: &str) -> Result<()> {
    let Some(found) = shared.client.get_sandbox(name).await? else {
        return Err(gone(name, "does not exist (deleted)"));
    };
    match found.sandbox.status.as_str() {
        "running" | "pending" => stop_session(shared, &found.session.id).await,
        _ => Ok(()),
    }
}

/// Deletes a persistent sandbox with its snapshots; one already gone is fine.
pub(crate) async fn delete_by_name(
    shared: &Shared,
    name: &str,
    session: Option<&Session>,
) -> Result<()> {
    if let Some(s) = session {
        // Stopped first so no microVM bills while the delete is answered.
        let _ = stop_session(shared, &s.id).await;
    }
    match shared.client.delete_with(name, true).await {
        Err(e) if e.kind() == ErrorKind::SandboxGone => Ok(()),
        other => other,
    }
}

/// The vendor's status of a persistent sandbox as the host's coarse state.
pub(crate) fn remote_state(status: &str, persistent: bool) -> RemoteState {
    match status {
        "running" => RemoteState::Running,
        "stopped" if persistent => RemoteState::Paused,
        other => RemoteState::Other(other.to_owned()),
    }
}

#[async_trait]
impl Persistence for VercelPlugin {
    async fn create_persistent(
        &self,
        layer: &SemanticLayer,
        owner: &str,
    ) -> Result<Box<dyn Sandbox>> {
        let layer = layer.clone();
        let archive = tokio::task::spawn_blocking(move || build_archive(&layer))
            .await
            .map_err(|e| {
                Error::backend_failure("archiving the semantic layer panicked")
                    .with_backend(ID)
                    .with_source(e)
            })??;
        let name = new_name();
        let session = create_session(
            self.shared.clone(),
            Arc::new(archive),
            name.clone(),
            Some(owner.to_owned()),
        )
        .await?;
        Ok(Box::new(VercelSandbox {
            shared: self.shared.clone(),
            kind: Kind::Persistent { name },
            slot: SessionSlot::with(session),
        }))
    }

    async fn resume(&self, id: &str) -> Result<Box<dyn Sandbox>> {
        let session = resume_session(&self.shared, id).await?;
        Ok(Box::new(VercelSandbox {
            shared: self.shared.clone(),
            kind: Kind::Persistent {
                name: id.to_owned(),
            },
            slot: SessionSlot::with(session),
        }))
    }

    async fn pause(&self, id: &str) -> Result<()> {
        pause_by_name(&self.shared, id).await
    }

    async fn delete(&self, id: &str) -> Result<()> {
        delete_by_name(&self.shared, id, None).await
    }

    async fn list(&self) -> Result<Vec<RemoteSandbox>> {
        let tag = format!("{TAG_MARKER}:true");
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let now_ms = u64::try_from(now_ms).unwrap_or(u64::MAX);
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        while out.len() < LIST_MAX {
            let page = self
                .shared
                .client
                .list(Some(&tag), 100, cursor.as_deref())
                .await?;
            for sb in page.sandboxes {
                let tags = sb.tags.clone().unwrap_or_default();
                if tags.get(TAG_MARKER).map(String::as_str) != Some("true") {
                    continue;
                }
                let age = age_from_tags(&tags)
                    .unwrap_or_else(|| Duration::from_millis(now_ms.saturating_sub(sb.created_at)));
                out.push(RemoteSandbox {
                    state: remote_state(&sb.status, sb.persistent),
                    id: sb.name,
                    age: Some(age),
                    tags,
                });
            }
            match page.pagination.next {
                Some(next) if !next.is_empty() => cursor = Some(next),
                _ => break,
            }
        }
        Ok(out)
    }
}

/// Lists the project's sandboxes carrying our marker tag, older than `older_than`, and stops
/// and deletes them unless `dry_run`.
pub(crate) async fn sweep(
    client: &VercelClient,
    older_than: Duration,
    dry_run: bool,
) -> Result<SweepReport> {
    let tag = format!("{TAG_MARKER}:true");
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let mut report = SweepReport {
        sandboxes: Vec::new(),
        kept: Vec::new(),
        dry_run,
    };
    let mut cursor: Option<String> = None;
    for _page in 0..1000 {
        let page = client.list(Some(&tag), 100, cursor.as_deref()).await?;
        for sb in page.sandboxes {
            let tags = sb.tags.clone().unwrap_or_default();
            if tags.get(TAG_MARKER).map(String::as_str) != Some("true") {
                continue;
            }
            let age = age_from_tags(&tags)
                .unwrap_or_else(|| Duration::from_millis(now_ms.saturating_sub(sb.created_at)));
            if age < older_than {
                continue;
            }
            let mut swept = SweptSandbox {
                id: sb.name.clone(),
                age: Some(age),
                tags,
                killed: false,
                error: None,
            };
            if !dry_run {
                let session = Session {
                    name: sb.name.clone(),
                    id: sb.current_session_id.clone().unwrap_or_default(),
                    expires_at: Mutex::new(Instant::now()),
                };
                let r = if matches!(sb.status.as_str(), "running" | "pending")
                    && !session.id.is_empty()
                {
                    destroy(client, &session).await
                } else {
                    match client.delete(&sb.name).await {
                        Err(e) if e.kind() == ErrorKind::SandboxGone => Ok(()),
                        other => other,
                    }
                };
                match r {
                    Ok(()) => swept.killed = true,
                    Err(e) => swept.error = Some(e.to_string()),
                }
            }
            report.sandboxes.push(swept);
        }
        match page.pagination.next {
            Some(next) if !next.is_empty() => cursor = Some(next),
            _ => break,
        }
    }
    Ok(report)
}
