//! Daytona backend of atlas-sandbox.
//!
//! Each semantic layer gets one remote Daytona sandbox, created with `POST /sandbox` (labels
//! for `sweep`, egress blocked by default, auto-stop then auto-delete), polled until `started`
//! within `create_timeout` (deleted if it does not get there), and filled with one
//! `files/bulk-upload` request while the first toolbox shell session opens.
//!
//! Commands run through the toolbox session API, so stdout and stderr stay separate (Daytona's
//! simple `process/execute` merges them and drops all output on timeout). Each command is one
//! synchronous session exec, which returns the exit code and the prefixed log in a single round
//! trip. Sessions have no server-side deadline, so the deadline is ours: when it passes (or the
//! connection breaks), the command is found in its session, its partial log is read, and the
//! session is deleted, which kills the command's process group.
//!
//! One exception: a persistent sandbox just started again has no session (they die with a
//! stop), so its first command runs through `process/execute`, wrapped in a script that keeps
//! the streams apart and bounded and enforces the deadline inside the sandbox, and prints them
//! framed (`sandbox::wrap_execute`), while the first session opens beside it. A resume then
//! reaches its first result in two round trips instead of three.

mod client;
mod config;
mod error;
mod persist;
mod sandbox;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use atlas_sandbox_cloud::{RetryPolicy, TAG_MARKER, age_from_tags, http_client, sandbox_tags};
use atlas_sandbox_sdk::{
    CollectLimits, HealthStatus, PluginContext, PluginDescriptor, PluginFactory, Result, Sandbox,
    SandboxPlugin, SecurityProfile, SemanticLayer, SweepReport, SweptSandbox, async_trait,
};

pub use config::{DEFAULT_API_URL, DaytonaConfig};
pub use sandbox::DaytonaSandbox;

use client::Api;
use sandbox::{Kind, Lifecycle, Payload, Settings, provision};

/// The plugin id.
pub const ID: &str = "daytona";
/// The default priority.
pub const DEFAULT_PRIORITY: i32 = 85;
/// The in-sandbox semantic root, relative to the sandbox user's working directory
/// (`/home/daytona/semantic` in Daytona's default images).
pub const SEMANTIC_DIR: &str = sandbox::SEMANTIC_DIR;

/// How many sandboxes `sweep` looks at, at most.
const SWEEP_MAX: usize = 1000;

/// The entry point of the backend.
#[derive(Debug)]
pub struct DaytonaFactory;

/// The descriptor the host registers.
pub fn descriptor() -> PluginDescriptor {
    PluginDescriptor::of::<DaytonaFactory>(env!("CARGO_PKG_VERSION"))
}

fn security_profile(network_block_all: bool) -> SecurityProfile {
    let mut caveats = vec![
        "The semantic layer is copied to Daytona's infrastructure; commands run there, never on this host.".to_owned(),
        "Inside the sandbox, commands run as the sandbox user (Daytona's default images give it sudo): they can read and change the uploaded copy and anything else in that sandbox, but nothing of this host or of other semantic layers.".to_owned(),
        "Session output is line-based at the vendor: NUL bytes in output are dropped.".to_owned(),
    ];
    if !network_block_all {
        caveats.push(
            "network_block_all = false: commands can reach the internet from the sandbox."
                .to_owned(),
        );
    }
    SecurityProfile {
        network_isolation: network_block_all,
        filesystem_isolation: true,
        unprivileged_execution: true,
        description: "A remote Daytona sandbox (an isolated container run by Daytona) per semantic layer, egress blocked with networkBlockAll".to_owned(),
        caveats,
    }
}

impl PluginFactory for DaytonaFactory {
    type Config = DaytonaConfig;

    const ID: &'static str = ID;
    const DEFAULT_PRIORITY: i32 = DEFAULT_PRIORITY;
    const CARGO_FEATURE: &'static str = "daytona";
    const ENV_FALLBACKS: &'static [(&'static str, &'static str)] = &[
        ("DAYTONA_API_KEY", "api_key"),
        ("DAYTONA_API_URL", "api_url"),
        ("DAYTONA_TARGET", "target"),
        ("DAYTONA_ORGANIZATION_ID", "organization_id"),
    ];
    const REQUIRES_CONFIG: bool = true;

    fn default_security() -> SecurityProfile {
        security_profile(true)
    }

    fn build(config: DaytonaConfig, ctx: &PluginContext) -> Result<Box<dyn SandboxPlugin>> {
        Ok(Box::new(DaytonaPlugin::new(config, ctx)?))
    }
}

/// The configured Daytona plugin.
#[derive(Debug)]
pub struct DaytonaPlugin {
    settings: Arc<Settings>,
    tags_base: BTreeMap<String, String>,
    ctx: PluginContext,
    api_url: String,
    policy: atlas_sandbox_sdk::SessionPolicy,
}

impl DaytonaPlugin {
    /// Builds the plugin (no network call).
    pub fn new(config: DaytonaConfig, ctx: &PluginContext) -> Result<Self> {
        config.validate().map_err(|e| e.with_backend(ID))?;
        Self::with_retry(config, ctx, RetryPolicy::default())
    }

    /// Builds the plugin with a retry policy (tests use short backoffs).
    pub fn with_retry(
        config: DaytonaConfig,
        ctx: &PluginContext,
        retry: RetryPolicy,
    ) -> Result<Self> {
        config.validate().map_err(|e| e.with_backend(ID))?;
        let request_timeout = config.request_timeout.get();
        let http = http_client(request_timeout).map_err(|e| e.with_backend(ID))?;
        let api = Api::new(
            http,
            &config.api_url,
            config.api_key.clone(),
            config.organization_id.clone(),
            retry,
        );
        let settings = Settings {
            api,
            snapshot: config.snapshot.clone(),
            image: config.image.clone(),
            target: config.target.clone(),
            labels: config.labels.clone(),
            auto_stop_minutes: config.auto_stop_minutes,
            network_block_all: config.network_block_all,
            create_timeout: config.create_timeout.get(),
            max_timeout: config.timeout.map(|t| t.get()),
            upload_timeout: request_timeout.max(Duration::from_secs(300)),
            shell: config.shell,
            path: config.path.clone(),
            auto_delete_minutes: config.auto_delete_minutes(),
            auto_archive_minutes: config.auto_archive_minutes,
            shell_missing: std::sync::Mutex::new(None),
        };
        Ok(DaytonaPlugin {
            settings: Arc::new(settings),
            tags_base: BTreeMap::from([(TAG_MARKER.to_owned(), "true".to_owned())]),
            ctx: ctx.clone(),
            api_url: config.api_url.trim().to_owned(),
            policy: config.session_policy(),
        })
    }
}

#[async_trait]
impl SandboxPlugin for DaytonaPlugin {
    fn id(&self) -> &'static str {
        ID
    }

    fn priority(&self) -> i32 {
        DEFAULT_PRIORITY
    }

    fn security(&self) -> SecurityProfile {
        security_profile(self.settings.network_block_all)
    }

    async fn health_check(&self) -> HealthStatus {
        // An authenticated list filtered by our label: proves the URL and the key without
        // creating (and paying for) a sandbox.
        HealthStatus::measure(Duration::from_secs(10), async {
            let missing = self
                .settings
                .shell_missing
                .lock()
                .ok()
                .and_then(|s| s.clone());
            if let Some(reason) = missing {
                return Err(atlas_sandbox_sdk::Error::unavailable(reason).with_backend(ID));
            }
            let found = self.settings.api.list_sandboxes(&self.tags_base, 1).await?;
            Ok(format!(
                "authenticated list call to {} succeeded ({} tagged sandbox{} seen)",
                self.api_url,
                found.len(),
                if found.len() == 1 { "" } else { "es" }
            ))
        })
        .await
    }

    async fn create(&self, layer: &SemanticLayer) -> Result<Box<dyn Sandbox>> {
        let collected = layer
            .collect_off_runtime(CollectLimits::default())
            .await
            .map_err(|e| e.with_backend(ID))?;
        let payload = Arc::new(Payload::from_layer(&collected));
        let tags = Arc::new(sandbox_tags(&self.ctx));
        let remote = provision(&self.settings, &tags, &payload, Lifecycle::Ephemeral).await?;
        Ok(Box::new(DaytonaSandbox::new(
            self.settings.clone(),
            Kind::Ephemeral { tags, payload },
            remote,
        )))
    }

    fn session_policy(&self) -> atlas_sandbox_sdk::SessionPolicy {
        self.policy.clone()
    }

    fn persistence(&self) -> Option<&dyn atlas_sandbox_sdk::Persistence> {
        Some(self)
    }

    async fn sweep(&self, older_than: Duration, dry_run: bool) -> Result<SweepReport> {
        let found = self
            .settings
            .api
            .list_sandboxes(&self.tags_base, SWEEP_MAX)
            .await?;
        let mut report = SweepReport {
            sandboxes: Vec::new(),
            kept: Vec::new(),
            dry_run,
        };
        for sb in found {
            let age = age_from_tags(&sb.labels);
            let old_enough = match age {
                Some(a) => a >= older_than,
                None => older_than.is_zero(),
            };
            if !old_enough {
                continue;
            }
            let (killed, error) = if dry_run {
                (false, None)
            } else {
                match self.settings.api.delete_sandbox(&sb.id).await {
                    Ok(()) => (true, None),
                    Err(e) => (false, Some(e.to_string())),
                }
            };
            report.sandboxes.push(SweptSandbox {
                id: sb.id,
                age,
                tags: sb.labels,
                killed,
                error,
            });
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_and_schema() {
        let d = descriptor();
        assert_eq!(d.id, "daytona");
        assert_eq!(d.default_priority, 85);
        assert!(d.requires_config);
        let schema = (d.schema)();
        let props = &schema["properties"];
        for key in [
            "api_key",
            "api_url",
            "target",
            "organization_id",
            "snapshot",
            "image",
            "timeout",
            "auto_stop_minutes",
            "network_block_all",
            "labels",
        ] {
            assert!(props.get(key).is_some(), "schema lacks {key}");
        }
        assert!(DaytonaFactory::default_security().network_isolation);
    }
}
