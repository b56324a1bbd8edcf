//! The atlas-sandbox host: loads `atlas.toml` ([`config::load`]), validates every backend's
//! table against its JSON Schema before building it, selects a backend at startup
//! ([`Host::start`]) and hands out one sandbox per semantic root ([`Host::sandbox_for`]).
//!
//! Named layers ([`layers`]) and sessions ([`session`]: one sandbox per conversation in a
//! bounded table) are shared by Rust programs and the explore server.
//!
//! Backends are compiled in by Cargo feature and listed in [`registry::compiled_in`].

pub mod config;
pub mod env;
pub mod host;
pub mod layers;
pub mod persist;
pub mod registry;
pub mod schema;
#[cfg(feature = "server")]
pub mod serve;
pub mod session;
mod session_cwd;

pub use config::{Config, ConfigErrors, ConfigProblem, LoadOptions, Origin, SandboxSettings, load};
pub use host::{BackendReport, Host, PluginSlot, Rejection, Report, SelectError, SlotState};
pub use layers::{DEFAULT_LAYER, LayerError, Layers, ResolvedLayer};
pub use session::{
    CloseReason, Lease, Session, SessionError, SessionKey, SessionSettings, SessionStats,
    SessionTable,
};
