//! Sandboxes that outlive a session: paused when idle, resumed by id, pooled, capped.
//!
//! Only remote (billable) backends implement this. The host owns the policy (when to pause, the
//! store of session → sandbox ids, pools, the `max_sandboxes` cap); a backend only knows how to
//! create a sandbox meant to last, pause it, find it again, list and delete what it made.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::plugin::Sandbox;
use crate::semantic::SemanticLayer;

/// The tag naming the session that owns a persistent sandbox (`pool:<layer>` for a pooled one).
/// Backends put it on what [`Persistence::create_persistent`] makes, from its `owner`.
pub const OWNER_TAG: &str = "atlas-sandbox-owner";

/// The tag naming the host instance that created a remote sandbox
/// ([`crate::PluginContext::instance_id`]). `sweep` spares the sandboxes of an instance whose
/// lease in the session store is live: that host is still running and still uses them.
pub const INSTANCE_TAG: &str = "atlas-sandbox-instance";

/// The default `paused_retention`: a paused sandbox is deleted a day after it was paused.
pub const DEFAULT_PAUSED_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How the host treats this plugin's sandboxes across sessions. Read from the plugin's own
/// config table (`persistent`, `pool_size`, `[plugins.<id>.pools]`, `max_sandboxes`,
/// `paused_retention`), so every key is validated with the rest of that table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Pause an idle session's sandbox (and on shutdown) instead of deleting it, and resume it on
    /// the session's next call.
    pub persistent: bool,
    /// Ready sandboxes to keep per host-level layer name (`default` is the `pool_size` key).
    pub pools: BTreeMap<String, usize>,
    /// A hard cap on this plugin's sandboxes: live + paused + pooled. `None`: no cap.
    pub max_sandboxes: Option<usize>,
    /// How long a paused sandbox is kept before the host deletes it.
    pub paused_retention: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            persistent: false,
            pools: BTreeMap::new(),
            max_sandboxes: None,
            paused_retention: DEFAULT_PAUSED_RETENTION,
        }
    }
}

/// Where a remote sandbox is in its life, as the vendor reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteState {
    /// Running (billing).
    Running,
    /// Paused, stopped or archived: files kept, no compute billed, commands refused.
    Paused,
    /// Starting, stopping, resuming, or a state this client does not know (the vendor's word).
    Other(String),
}

/// One remote sandbox this project created, as listed by [`Persistence::list`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteSandbox {
    /// The vendor's id (for Vercel, the persistent sandbox's name).
    pub id: String,
    /// Running, paused, or the vendor's own word.
    pub state: RemoteState,
    /// Since creation, when the vendor says.
    pub age: Option<Duration>,
    /// Its tags / labels / metadata (the `atlas-sandbox*` tags among them).
    pub tags: BTreeMap<String, String>,
}

/// What a remote backend offers for sessions that last. The host reaches it through
/// [`crate::SandboxPlugin::persistence`].
#[async_trait]
pub trait Persistence: Send + Sync + std::fmt::Debug {
    /// Creates a sandbox over the layer that is meant to be paused and resumed: the vendor-side
    /// safety nets (auto-pause on its timeout, auto-stop/archive/delete intervals, snapshot
    /// retention) are set from config so a sandbox we lose track of stops billing. `owner` (the
    /// session key) is recorded in its tags. The returned sandbox's [`Sandbox::remote_id`] is
    /// `Some`.
    async fn create_persistent(
        &self,
        layer: &SemanticLayer,
        owner: &str,
    ) -> Result<Box<dyn Sandbox>>;

    /// Finds a sandbox by id and makes it runnable again (resuming a paused one), with its files
    /// as they were. `ErrorKind::SandboxGone` means it is gone: the host then creates
    /// a fresh one, loudly.
    async fn resume(&self, id: &str) -> Result<Box<dyn Sandbox>>;

    /// Pauses a sandbox by id (used for sandboxes whose handle was dropped). Idempotent.
    async fn pause(&self, id: &str) -> Result<()>;

    /// Deletes a sandbox by id, whatever its state. Deleting one that is gone is `Ok`.
    async fn delete(&self, id: &str) -> Result<()>;

    /// Every sandbox carrying this project's tags, running or paused.
    async fn list(&self) -> Result<Vec<RemoteSandbox>>;
}
