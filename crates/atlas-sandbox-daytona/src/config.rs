//! The `[plugins.daytona]` table.

use std::collections::BTreeMap;
use std::time::Duration;

use atlas_sandbox_sdk::{CommandPath, Error, HumanDuration, Result, Secret, Shell};
use schemars::JsonSchema;
use serde::Deserialize;

/// Daytona's production API.
pub const DEFAULT_API_URL: &str = "https://app.daytona.io/api";

/// Configuration of the Daytona backend.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DaytonaConfig {
    /// Daytona API key (or a JWT when `organization_id` is set). Falls back to the environment
    /// variable DAYTONA_API_KEY.
    pub api_key: Secret,

    /// Base URL of the Daytona API. Falls back to DAYTONA_API_URL; defaults to
    /// https://app.daytona.io/api. Self-hosted deployments and the emulator set it.
    #[serde(default = "default_api_url")]
    pub api_url: String,

    /// Target region (e.g. "us", "eu"). Falls back to DAYTONA_TARGET; unset means the
    /// organization's default.
    #[serde(default)]
    pub target: Option<String>,

    /// Organization id, for JWT authentication: when set, `api_key` is sent as a JWT together with
    /// the X-Daytona-Organization-ID header. Falls back to DAYTONA_ORGANIZATION_ID.
    #[serde(default)]
    pub organization_id: Option<String>,

    /// Snapshot (id or name) to create sandboxes from. Unset means Daytona's default snapshot.
    /// Mutually exclusive with `image`.
    #[serde(default)]
    pub snapshot: Option<String>,

    /// Container image to build sandboxes from (e.g. "debian:12-slim"), sent as a one-line
    /// Dockerfile. Mutually exclusive with `snapshot`.
    #[serde(default)]
    pub image: Option<String>,

    /// Default wall-clock limit of one command when the request sets none (e.g. "30s").
    #[serde(default)]
    pub timeout: Option<HumanDuration>,

    /// How long to wait for a new sandbox to reach `started` before giving up and deleting it.
    #[serde(default = "default_create_timeout")]
    pub create_timeout: HumanDuration,

    /// Limit of one HTTP request to the API or the toolbox (commands are bounded separately by
    /// their own timeout).
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,

    /// Minutes of inactivity after which Daytona stops the sandbox (it is then deleted, since
    /// sandboxes are created with auto-delete on stop). 0 disables auto-stop: leaked sandboxes
    /// then run until `atlas-sandbox sweep` finds them.
    #[serde(default = "default_auto_stop_minutes")]
    pub auto_stop_minutes: u32,

    /// Block all network egress from the sandbox (Daytona `networkBlockAll`). Default true;
    /// Daytona's own default is open egress.
    #[serde(default = "default_true")]
    pub network_block_all: bool,

    /// Extra labels put on every sandbox, next to the atlas-sandbox tags.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,

    /// The shell each command runs with: "bash" (the default; `/bin/bash -c`) or "sh" (POSIX
    /// `/bin/sh -c`). With "bash", an image or snapshot without `/bin/bash` fails the first
    /// sandbox's setup and makes the backend unhealthy.
    #[serde(default)]
    pub shell: Shell,
    /// The `PATH` each command starts with (default "/usr/bin:/bin", as on every backend). Its
    /// other variables are the same everywhere too (`HOME=/tmp`, `LANG=C.UTF-8`, `TERM=dumb`,
    /// `TZ=UTC`, ...); list an image's own tool folders here (`/usr/local/bin:/usr/bin:/bin`).
    #[serde(default)]
    pub path: CommandPath,

    /// Keep a session's sandbox across idle periods and restarts: when the session goes idle (or
    /// the host shuts down) its sandbox is stopped, not deleted, and the next call starts it
    /// again with its files, `/tmp` included.
    #[serde(default)]
    pub persistent: bool,

    /// Ready sandboxes kept for the `default` layer, so a new session's first command needs
    /// one round trip. 0: no pool.
    #[serde(default)]
    pub pool_size: usize,

    /// Ready sandboxes kept per host-level layer (`<layer> = N`), next to `pool_size`.
    #[serde(default)]
    pub pools: BTreeMap<String, usize>,

    /// A hard cap on this plugin's sandboxes: running + stopped + pooled. Unset: no cap.
    #[serde(default)]
    pub max_sandboxes: Option<usize>,

    /// How long a stopped (paused) sandbox is kept before it is deleted. The host deletes it
    /// then; Daytona's own auto-delete is set to the same interval at creation, so one we lose
    /// track of goes too.
    #[serde(default = "default_paused_retention")]
    pub paused_retention: HumanDuration,

    /// Minutes after which Daytona moves a stopped persistent sandbox to archive storage
    /// (cheaper; a start then restores it, which takes longer). 0 means Daytona's maximum.
    /// Unset: Daytona's default (7 days), which a `paused_retention` of 24 h never reaches.
    #[serde(default)]
    pub auto_archive_minutes: Option<u32>,
}

fn default_paused_retention() -> HumanDuration {
    HumanDuration(atlas_sandbox_sdk::DEFAULT_PAUSED_RETENTION)
}

fn default_api_url() -> String {
    DEFAULT_API_URL.to_owned()
}

fn default_create_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}

fn default_request_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

fn default_auto_stop_minutes() -> u32 {
    15
}

fn default_true() -> bool {
    true
}

impl DaytonaConfig {
    /// The host's policy for this plugin's sandboxes, from the session keys, checked by the
    /// rules every cloud backend shares ([`atlas_sandbox_cloud::session_policy`]).
    pub fn checked_policy(&self) -> Result<atlas_sandbox_sdk::SessionPolicy> {
        atlas_sandbox_cloud::session_policy(
            crate::ID,
            atlas_sandbox_cloud::PolicyKeys {
                persistent: self.persistent,
                pool_size: self.pool_size,
                pools: self.pools.clone(),
                max_sandboxes: self.max_sandboxes,
                paused_retention: self.paused_retention.get(),
            },
        )
    }

    /// [`DaytonaConfig::checked_policy`] of a validated config (the defaults if it is not).
    pub fn session_policy(&self) -> atlas_sandbox_sdk::SessionPolicy {
        self.checked_policy().unwrap_or_default()
    }

    /// Daytona's auto-delete interval for a persistent sandbox: `paused_retention` in whole
    /// minutes, rounded up so the vendor never deletes before the host would.
    pub(crate) fn auto_delete_minutes(&self) -> i64 {
        let secs = self.paused_retention.get().as_secs();
        i64::try_from(secs.div_ceil(60)).unwrap_or(i64::MAX)
    }

    /// A config with defaults and this key (for tests and programmatic use).
    pub fn new(api_key: Secret) -> Self {
        DaytonaConfig {
            api_key,
            api_url: default_api_url(),
            target: None,
            organization_id: None,
            snapshot: None,
            image: None,
            timeout: None,
            create_timeout: default_create_timeout(),
            request_timeout: default_request_timeout(),
            auto_stop_minutes: default_auto_stop_minutes(),
            network_block_all: true,
            labels: BTreeMap::new(),
            shell: Shell::Bash,
            path: CommandPath::default(),
            persistent: false,
            pool_size: 0,
            pools: BTreeMap::new(),
            max_sandboxes: None,
            paused_retention: default_paused_retention(),
            auto_archive_minutes: None,
        }
    }

    /// Checks what the schema cannot: URL shape, exclusive keys, label names.
    pub fn validate(&self) -> Result<()> {
        let url = self.api_url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::config(format!(
                "[plugins.daytona] api_url {url:?} must start with https:// (or http:// for a local server)"
            )));
        }
        if self.api_key.is_blank() {
            return Err(Error::config(
                "[plugins.daytona] api_key is empty; set DAYTONA_API_KEY or plugins.daytona.api_key",
            ));
        }
        if self.snapshot.is_some() && self.image.is_some() {
            return Err(Error::config(
                "[plugins.daytona] set either snapshot or image, not both",
            ));
        }
        for (key, value) in [
            ("snapshot", &self.snapshot),
            ("image", &self.image),
            ("target", &self.target),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(Error::config(format!(
                    "[plugins.daytona] {key} must not be empty"
                )));
            }
        }
        if self.image.as_deref().is_some_and(|i| i.contains('\n')) {
            return Err(Error::config("[plugins.daytona] image must be one line"));
        }
        if self.create_timeout.get().is_zero() || self.request_timeout.get().is_zero() {
            return Err(Error::config(
                "[plugins.daytona] create_timeout and request_timeout must be greater than zero",
            ));
        }
        if self.timeout.is_some_and(|t| t.get().is_zero()) {
            return Err(Error::config(
                "[plugins.daytona] timeout must be greater than zero",
            ));
        }
        // paused_retention at least 1m also suits Daytona, which counts auto-delete in minutes.
        self.checked_policy()?;
        for key in self.labels.keys() {
            if key.starts_with(atlas_sandbox_cloud::TAG_MARKER) {
                return Err(Error::config(format!(
                    "[plugins.daytona] label {key:?} is reserved (atlas-sandbox sets it)"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let c: DaytonaConfig =
            serde_json::from_value(serde_json::json!({"api_key": "dtn_x"})).unwrap();
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert!(c.network_block_all);
        assert_eq!(c.auto_stop_minutes, 15);
        assert!(c.validate().is_ok());
        let e = serde_json::from_value::<DaytonaConfig>(
            serde_json::json!({"api_key": "k", "apiKey": "k"}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("apiKey"), "{e}");
        assert!(serde_json::from_value::<DaytonaConfig>(serde_json::json!({})).is_err());
    }

    #[test]
    fn session_keys_follow_the_shared_rules() {
        let check = |extra: serde_json::Value| {
            let mut v = serde_json::json!({"api_key": "dtn_x"});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            let c: DaytonaConfig = serde_json::from_value(v).unwrap();
            c.validate().unwrap_err().to_string()
        };
        // Before, pool_size silently replaced pools.default.
        let e = check(serde_json::json!({"pool_size": 2, "pools": {"default": 1}}));
        assert!(e.contains("pool_size and pools.default"), "{e}");
        let e = check(serde_json::json!({"pool_size": 2, "max_sandboxes": 2}));
        assert!(e.contains("leaves no room for a session"), "{e}");
        let e = check(serde_json::json!({"paused_retention": "30s"}));
        assert!(e.contains("at least 1m"), "{e}");
    }

    #[test]
    fn validation_names_the_key() {
        let mut c = DaytonaConfig::new(Secret::new("k"));
        c.snapshot = Some("a".into());
        c.image = Some("b".into());
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("snapshot or image")
        );
        let mut c = DaytonaConfig::new(Secret::new("k"));
        c.api_url = "ftp://x".into();
        assert!(c.validate().unwrap_err().to_string().contains("api_url"));
        let mut c = DaytonaConfig::new(Secret::new("k"));
        c.labels.insert("atlas-sandbox".into(), "x".into());
        assert!(c.validate().unwrap_err().to_string().contains("reserved"));
    }

    #[test]
    fn debug_hides_the_key() {
        let c = DaytonaConfig::new(Secret::new("dtn_supersecret"));
        assert!(!format!("{c:?}").contains("supersecret"));
    }
}
