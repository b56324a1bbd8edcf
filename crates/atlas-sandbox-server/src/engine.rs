//! What the server needs from the host: layers, sessions, the backend report.

use std::path::PathBuf;
use std::time::Duration;

use atlas_sandbox_sdk::{ExecOutput, ExecRequest};

/// A layer resolved for one caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The canonical reference (`name` or `name/org`).
    pub name: String,
    /// Its directory.
    pub root: PathBuf,
}

/// Which session a command runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRef {
    /// A named session of `scope` (the principal), kept between calls.
    Named {
        /// The principal.
        scope: String,
        /// The caller's id.
        id: String,
    },
    /// A session for this one call, closed after it.
    OneShot {
        /// The principal.
        scope: String,
    },
}

/// Why the engine could not run a command.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// No capacity now (a session's own limit, or the session table is full of busy sessions).
    #[error("{0}")]
    Busy(String),
    /// The request is invalid (too long, bad cwd, bad timeout).
    #[error("{0}")]
    InvalidRequest(String),
    /// No backend can run commands.
    #[error("{0}")]
    Unavailable(String),
    /// The session was closed meanwhile.
    #[error("the session was closed while the command waited; retry to open a new one")]
    Closed,
    /// The backend failed.
    #[error("{0}")]
    Backend(String),
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Sessions open.
    pub sessions_open: u64,
    /// Sandboxes created since start.
    pub sandboxes_created: u64,
    /// Sandboxes closed since start.
    pub sandboxes_closed: u64,
    /// Sessions expired (idle).
    pub sessions_expired: u64,
    /// Sessions evicted (table full).
    pub sessions_evicted: u64,
}

/// The host as the server sees it.
#[async_trait::async_trait]
pub trait Engine: Send + Sync + std::fmt::Debug + 'static {
    /// Resolves `reference` (`None` = the default layer) for a caller with `grants` (`None` =
    /// every layer). Unknown and forbidden must be indistinguishable: `None` for both.
    fn resolve_layer(&self, reference: Option<&str>, grants: Option<&[String]>) -> Option<Layer>;

    /// The names of the layers a caller may name, for the tool description (`name/*` for a
    /// pattern layer).
    fn layer_names(&self, grants: Option<&[String]>) -> Vec<String>;

    /// The default timeout and per-stream output cap of a command.
    fn defaults(&self) -> (Duration, usize);

    /// Runs `request` in `session` over `layer`; a per-session slot is awaited until
    /// `slot_deadline`, then `Busy`. Dropping the future stops the command.
    async fn exec(
        &self,
        session: SessionRef,
        layer: &Layer,
        request: ExecRequest,
        slot_deadline: tokio::time::Instant,
    ) -> Result<(String, ExecOutput), EngineError>;

    /// Closes the sessions of `scope` named `id`; how many there were.
    async fn close_session(&self, scope: &str, id: &str) -> usize;

    /// The `atlas-sandbox backends --json` report.
    async fn backends(&self) -> serde_json::Value;

    /// Counters.
    fn stats(&self) -> EngineStats;

    /// Closes every session and sandbox; returns close errors.
    async fn shutdown(&self) -> Vec<String>;
}
