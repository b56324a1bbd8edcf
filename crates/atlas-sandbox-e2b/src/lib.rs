//! E2B as an atlas-sandbox backend: each semantic layer gets a Firecracker microVM in E2B's
//! cloud, created lazily on the first command, with the layer uploaded in one multipart request
//! and commands run through envd's Connect `process.Process/Start` stream.
//!
//! The client speaks the vendor's wire protocol directly (as recorded from the official
//! `e2b` SDK): `POST /v2/sandboxes` with metadata tags, an explicit lifetime and egress denied by
//! default; `POST /files` multipart; `/bin/sh -c` with `Connect-Timeout-Ms`; `DELETE
//! /sandboxes/{id}` on close and drop; an authenticated list call as the free health check; and
//! `sweep` over the tagged sandboxes. It is tested against `atlas-emulator-e2b`.

mod client;
mod config;
mod connect;
mod error;
mod lifecycle;
mod persist;
mod sandbox;

use atlas_sandbox_sdk::{
    PluginContext, PluginDescriptor, PluginFactory, Result, SandboxPlugin, SecurityProfile,
};

pub use config::{DEFAULT_DOMAIN, DEFAULT_TEMPLATE, E2bConfig};
pub use sandbox::{E2bPlugin, E2bSandbox};

/// The plugin id.
pub const ID: &str = "e2b";
/// Where the semantic layer is placed inside the sandbox.
pub const SANDBOX_SEMANTIC_DIR: &str = client::SEMANTIC_DIR;

/// The factory the host registers.
#[derive(Debug, Clone, Copy, Default)]
pub struct E2bFactory;

impl PluginFactory for E2bFactory {
    type Config = E2bConfig;

    const ID: &'static str = ID;
    const DEFAULT_PRIORITY: i32 = 90;
    const CARGO_FEATURE: &'static str = "e2b";
    const ENV_FALLBACKS: &'static [(&'static str, &'static str)] = &[
        ("E2B_API_KEY", "api_key"),
        ("E2B_API_URL", "api_url"),
        ("E2B_SANDBOX_URL", "sandbox_url"),
        ("E2B_DOMAIN", "domain"),
        ("E2B_SANDBOX_TEMPLATE", "template"),
        ("E2B_SANDBOX_TIMEOUT", "sandbox_lifetime:ms"),
    ];
    const REQUIRES_CONFIG: bool = true;

    fn default_security() -> SecurityProfile {
        sandbox::security_profile(false)
    }

    fn build(config: E2bConfig, ctx: &PluginContext) -> Result<Box<dyn SandboxPlugin>> {
        Ok(Box::new(E2bPlugin::new(config, ctx)?))
    }
}

/// The descriptor of this backend for the host's registry.
pub fn descriptor() -> PluginDescriptor {
    PluginDescriptor::of::<E2bFactory>(env!("CARGO_PKG_VERSION"))
}
