//! What `atlas-sandbox sessions` lists and what `sweep` removes for a backend with persistence:
//! the vendor's tagged sandboxes set against the session store.

use std::time::Duration;

use atlas_sandbox_sdk::{RemoteState, Result, SandboxPlugin, SweepReport, SweptSandbox};
use serde::Serialize;

use super::store::Store;
use atlas_sandbox_sdk::OWNER_TAG;

/// One remote sandbox as `atlas-sandbox sessions` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxRow {
    /// The backend.
    pub backend: String,
    /// The vendor's id.
    pub id: String,
    /// `running`, `paused`, or the vendor's word.
    pub state: String,
    /// `session` (recorded in the store), `pooled` (a warm pool's), or `unowned`.
    pub role: String,
    /// The session key that owns it, if the store records one.
    pub session: Option<String>,
    /// Since creation, in seconds, when known.
    pub age_secs: Option<u64>,
    /// Since its session last used it (paused, resumed, created), in seconds.
    pub idle_secs: Option<u64>,
}

/// Every tagged sandbox of `plugin`, with its role from the store.
pub async fn sessions(
    backend: &str,
    plugin: &dyn SandboxPlugin,
    store: &Store,
) -> Result<Vec<SandboxRow>> {
    Ok(rows(backend, plugin, store)
        .await?
        .into_iter()
        .map(|(r, _)| r)
        .collect())
}

type Tags = std::collections::BTreeMap<String, String>;

async fn rows(
    backend: &str,
    plugin: &dyn SandboxPlugin,
    store: &Store,
) -> Result<Vec<(SandboxRow, Tags)>> {
    let Some(p) = plugin.persistence() else {
        return Ok(Vec::new());
    };
    let listed = p.list().await?;
    let s = store.clone();
    let entries = tokio::task::spawn_blocking(move || s.all())
        .await
        .ok()
        .and_then(|r| {
            r.map_err(|e| tracing::warn!(error = %e, "cannot read the session store"))
                .ok()
        })
        .unwrap_or_default();
    Ok(listed
        .into_iter()
        .map(|r| {
            let owned = entries
                .iter()
                .find(|(_, e)| e.backend == backend && e.sandbox_id == r.id);
            let role = match (owned, r.tags.get(OWNER_TAG)) {
                (Some(_), _) => "session",
                (None, Some(o)) if o.starts_with("pool:") => "pooled",
                _ => "unowned",
            };
            let row = SandboxRow {
                backend: backend.to_owned(),
                state: match &r.state {
                    RemoteState::Running => "running".to_owned(),
                    RemoteState::Paused => "paused".to_owned(),
                    RemoteState::Other(s) => s.clone(),
                },
                role: role.to_owned(),
                session: owned.map(|(k, _)| k.clone()),
                age_secs: r.age.map(|a| a.as_secs()),
                idle_secs: owned.map(|(_, e)| e.idle().as_secs()),
                id: r.id,
            };
            (row, r.tags)
        })
        .collect())
}

/// Deletes (unless `dry_run`) the tagged sandboxes of `plugin` older than `older_than` that no
/// store entry owns: what a killed host left (its pools, its non-persistent sandboxes, sessions
/// whose record was lost). A backend without persistence uses its own sweep.
pub async fn sweep_unowned(
    backend: &str,
    plugin: &dyn SandboxPlugin,
    store: &Store,
    older_than: Duration,
    dry_run: bool,
) -> Result<SweepReport> {
    let Some(p) = plugin.persistence() else {
        return plugin.sweep(older_than, dry_run).await;
    };
    let found = rows(backend, plugin, store).await?;
    let mut report = SweepReport {
        sandboxes: Vec::new(),
        kept: Vec::new(),
        dry_run,
    };
    for (row, tags) in found.into_iter().filter(|(r, _)| r.role != "session") {
        let age = row.age_secs.map(Duration::from_secs);
        // Unknown age: not ours to judge, leave it.
        if age.is_none_or(|a| a < older_than) {
            continue;
        }
        let (killed, error) = if dry_run {
            (false, None)
        } else {
            match p.delete(&row.id).await {
                Ok(()) => (true, None),
                Err(e) => (false, Some(e.to_string())),
            }
        };
        report.sandboxes.push(SweptSandbox {
            id: row.id,
            age,
            tags,
            killed,
            error,
        });
    }
    Ok(report)
}
