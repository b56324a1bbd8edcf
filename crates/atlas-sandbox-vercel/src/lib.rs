//! atlas-sandbox backend for [Vercel Sandbox](https://vercel.com/docs/vercel-sandbox): each
//! semantic layer gets a Firecracker microVM, created with the layer uploaded as one tar.gz,
//! where commands run as `sh -c` and stream back as ndjson; the microVM is stopped and deleted
//! at close, and tagged so `sweep` finds any that leaked.
//!
//! The wire protocol is the one the official `@vercel/sandbox` SDK (3.5.0) speaks; the crate
//! `atlas-emulator-vercel` emulates it for tests, and `tests/fidelity-vercel` checks that
//! emulator with the official SDK.

mod client;
mod config;
mod error;
mod persist;
mod protocol;
mod sandbox;

use atlas_sandbox_cloud::RetryPolicy;
use atlas_sandbox_sdk::{
    PluginContext, PluginDescriptor, PluginFactory, Result, SandboxPlugin, SecurityProfile,
};

pub use config::{
    DEFAULT_API_URL, DEFAULT_RUNTIME, DEFAULT_SANDBOX_LIFETIME, NetworkPolicy, VercelConfig,
};
pub use sandbox::{SEMANTIC_DIR, STREAM_SWITCH, VercelPlugin, VercelSandbox};

/// The plugin id.
pub const ID: &str = "vercel";
/// The default priority: the highest of all backends (a microVM per layer, egress denied).
pub const DEFAULT_PRIORITY: i32 = 100;

/// The factory the host registers.
#[derive(Debug, Clone, Copy, Default)]
pub struct VercelFactory;

impl PluginFactory for VercelFactory {
    type Config = VercelConfig;

    const ID: &'static str = ID;
    const DEFAULT_PRIORITY: i32 = DEFAULT_PRIORITY;
    const CARGO_FEATURE: &'static str = "vercel";
    const ENV_FALLBACKS: &'static [(&'static str, &'static str)] = &[
        ("VERCEL_TOKEN", "token"),
        ("VERCEL_OIDC_TOKEN", "oidc_token"),
        ("VERCEL_TEAM_ID", "team_id"),
        ("VERCEL_PROJECT_ID", "project_id"),
    ];
    const REQUIRES_CONFIG: bool = true;

    fn default_security() -> SecurityProfile {
        sandbox::security_profile(NetworkPolicy::DenyAll, &[])
    }

    fn build(config: VercelConfig, ctx: &PluginContext) -> Result<Box<dyn SandboxPlugin>> {
        Ok(Box::new(build_plugin(config, ctx, RetryPolicy::default())?))
    }
}

/// Builds the plugin with a chosen retry policy (tests shorten the backoff).
pub fn build_plugin(
    config: VercelConfig,
    ctx: &PluginContext,
    retry: RetryPolicy,
) -> Result<VercelPlugin> {
    let creds = config.validate()?;
    let client = client::VercelClient::new(&config.api_url, creds, config.timeout.get(), retry)?;
    Ok(VercelPlugin::new(
        sandbox::Shared {
            client,
            settings: sandbox::Settings {
                runtime: config.runtime.trim().to_owned(),
                region: config.region.clone(),
                vcpus: config.vcpus,
                lifetime: config.sandbox_lifetime.get(),
                network_policy: config.network_policy,
                allowed_domains: config.allowed_domains.clone(),
                shell: config.shell,
                path: config.path.clone(),
                snapshot_expiration_ms: config.snapshot_expiration_ms(),
            },
            shell_missing: std::sync::Mutex::new(None),
            ctx: ctx.clone(),
        },
        config.session_policy(),
    ))
}

/// The descriptor the host's registry lists.
pub fn descriptor() -> PluginDescriptor {
    PluginDescriptor::of::<VercelFactory>(env!("CARGO_PKG_VERSION"))
}
