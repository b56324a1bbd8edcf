//! What `atlas-sandbox sessions` lists and what `sweep` removes for a backend with persistence:
//! the vendor's tagged sandboxes set against the session store: its session entries, and the
//! leases of the host instances that are running.

use std::collections::BTreeSet;
use std::time::Duration;

use atlas_sandbox_sdk::{
    INSTANCE_TAG, KeptSandbox, OWNER_TAG, RemoteState, Result, SandboxPlugin, SweepReport,
    SweptSandbox,
};
use serde::Serialize;

use super::store::{Entry, LEASE, Store};

/// One remote sandbox as `atlas-sandbox sessions` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxRow {
    /// The backend.
    pub backend: String,
    /// The vendor's id.
    pub id: String,
    /// `running`, `paused`, or the vendor's word.
    pub state: String,
    /// `session` (recorded in the store), `pooled` (a warm pool's), `live-host` (no entry owns
    /// it, but the host that created it is running: a non-persistent session's), or `unowned`.
    pub role: String,
    /// The host instance that created it (its `atlas-sandbox-instance` tag).
    pub instance: Option<String>,
    /// Whether that instance holds a live lease in the store (its host is running).
    pub host_running: bool,
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
    let (entries, live) = tokio::task::spawn_blocking(move || read_store(&s))
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the session store");
            Default::default()
        });
    Ok(listed
        .into_iter()
        .map(|r| {
            let owned = entries
                .iter()
                .find(|(_, e)| e.backend == backend && e.sandbox_id == r.id);
            let instance = r.tags.get(INSTANCE_TAG).cloned();
            let host_running = instance.as_ref().is_some_and(|i| live.contains(i));
            let role = match (owned, r.tags.get(OWNER_TAG)) {
                (Some(_), _) => "session",
                (None, Some(o)) if o.starts_with("pool:") => "pooled",
                _ if host_running => "live-host",
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
                instance,
                host_running,
                session: owned.map(|(k, _)| k.clone()),
                age_secs: r.age.map(|a| a.as_secs()),
                idle_secs: owned.map(|(_, e)| e.idle().as_secs()),
                id: r.id,
            };
            (row, r.tags)
        })
        .collect())
}

/// The session entries and the running instances (live leases, [`LEASE`]). A store that cannot
/// be read counts as empty, with a warning: then nothing is spared by it.
fn read_store(store: &Store) -> (Vec<(String, Entry)>, BTreeSet<String>) {
    let warn = |e: super::store::StoreError| {
        tracing::warn!(error = %e, "cannot read the session store");
    };
    let entries = store
        .all()
        .map_err(warn)
        .map(|m| m.into_iter().collect())
        .unwrap_or_default();
    let live = store
        .live_instances(LEASE)
        .map_err(warn)
        .unwrap_or_default();
    (entries, live)
}

/// Deletes (unless `dry_run`) the tagged sandboxes of `plugin` older than `older_than` that no
/// store entry owns and whose host is not running: what a killed host left (its pools, its
/// non-persistent sandboxes, sessions whose record was lost). Those of a host whose lease is
/// live are never deleted, whatever `older_than` says; they are listed in `kept`. A backend
/// without persistence uses its own sweep.
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
        if row.host_running {
            let instance = row.instance.unwrap_or_default();
            report.kept.push(KeptSandbox {
                id: row.id,
                age,
                reason: format!("host {instance} is running"),
                instance,
            });
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
