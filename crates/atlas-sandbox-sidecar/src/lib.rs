//! The sidecar backend (id `sidecar`, priority 50): commands run by an `atlas-sidecar` server,
//! usually in a container, reached over HTTP. The choice when the host cannot use namespaces.
//!
//! * [`protocol`]: the wire types, shared with the server crate (always compiled, tiny).
//! * feature `client` (default): the plugin, [`SidecarFactory`].
//! * feature `container`: [`container`], which builds and runs the server's container (bollard).

pub mod protocol;

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
pub mod config;
#[cfg(feature = "container")]
pub mod container;

#[cfg(feature = "client")]
pub use client::{SidecarFactory, SidecarPlugin, SidecarSandbox, descriptor};
#[cfg(feature = "client")]
pub use config::SidecarConfig;

/// The plugin id.
pub const ID: &str = "sidecar";
