//! The plugin SDK of atlas-sandbox.
//!
//! A backend implements [`SandboxPlugin`] (describe itself, check its health, create a sandbox
//! over a [`SemanticLayer`]) and [`Sandbox`] (`exec` and `close`), and exposes a
//! [`PluginFactory`] whose config type the host validates against its JSON Schema before
//! building the plugin. The shared helpers live here so no backend writes them again:
//! [`SemanticLayer::collect`] (symlink-safe collection), [`beneath::RootDir`] (opens confined to a
//! directory by the kernel), [`CappedBuffer`] (output caps that never
//! split a character), [`timeout::with_deadline`], and with the `process` feature
//! [`process::run`] (process groups, deadlines, capped pipes).
//!
//! This crate depends on no backend.

mod config;
mod error;
mod exec;
mod persist;
mod plugin;
mod restore;
mod semantic;
mod shell;

pub mod beneath;
#[cfg(feature = "process")]
pub mod process;
pub mod timeout;

pub use config::{DURATION_PATTERN, HumanDuration, Secret};
pub use error::{Error, ErrorKind, Result};
pub use exec::{
    CappedBuffer, DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_TIMEOUT, ExecDefaults, ExecOutput, ExecRequest,
    MAX_COMMAND_CHARS, MAX_TIMEOUT, OVERFLOW_KILL_FACTOR, TIMEOUT_EXIT_CODE, complete_utf8_prefix,
    normalize_relative, overflow_limit, truncation_notice,
};
pub use persist::{
    DEFAULT_PAUSED_RETENTION, INSTANCE_TAG, OWNER_TAG, Persistence, RemoteSandbox, RemoteState,
    SessionPolicy,
};
pub use plugin::{
    EXTERNAL_PLUGIN_PRIORITY, HealthStatus, KeptSandbox, PluginContext, PluginDescriptor,
    PluginFactory, Sandbox, SandboxPlugin, SecurityProfile, SweepReport, SweptSandbox, schema_of,
};
pub use restore::restore_failed;
pub use semantic::{
    CollectLimits, CollectedDir, CollectedFile, CollectedLayer, FileTime, SemanticLayer,
    SkippedEntry,
};
pub use shell::{
    COMMAND_ENV, CommandPath, DEFAULT_COMMAND_PATH, Shell, is_plain_word_byte, shell_quote,
};

/// Re-exported so backend crates implement the traits with the same macro version.
pub use async_trait::async_trait;
