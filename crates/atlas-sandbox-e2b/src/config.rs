//! The `[plugins.e2b]` table.

use std::collections::BTreeMap;
use std::time::Duration;

use atlas_sandbox_sdk::{CommandPath, Error, HumanDuration, Result, Secret, Shell};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::ID;

/// The vendor's default domain.
pub const DEFAULT_DOMAIN: &str = "e2b.app";
/// The vendor's base template.
pub const DEFAULT_TEMPLATE: &str = "base";
/// The domains whose sandboxes are reached through `https://sandbox.<domain>` with routing
/// headers (as the official SDK does); other domains use `https://49983-<id>.<domain>`.
const ROUTED_DOMAINS: &[&str] = &["e2b.app", "e2b.dev", "e2b.pro", "e2b-staging.dev"];

/// Configuration of the E2B backend.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct E2bConfig {
    /// The E2B API key (`e2b_...`). When absent from the file it is read from `E2B_API_KEY`.
    pub api_key: Secret,
    /// The sandbox template (name or id) to start. Defaults to E2B's base template.
    #[serde(default = "default_template")]
    pub template: String,
    /// The longest one command may run on this backend: a request asking for more is cut to
    /// it (unset: the request's own timeout). Sent to envd as `Connect-Timeout-Ms`, which kills
    /// the command when it expires; the result is then exit 124.
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// How long a sandbox lives without use before E2B destroys it. It is set at creation and
    /// extended while commands run, so an abandoned sandbox stops billing soon.
    #[serde(default = "default_lifetime")]
    pub sandbox_lifetime: HumanDuration,
    /// The E2B domain (`E2B_DOMAIN`); the API and sandbox URLs are derived from it unless set.
    #[serde(default)]
    pub domain: Option<String>,
    /// Control-plane URL override (`E2B_API_URL`), e.g. a self-hosted deployment or an emulator.
    /// Defaults to `https://api.<domain>`.
    #[serde(default)]
    pub api_url: Option<String>,
    /// envd URL override (`E2B_SANDBOX_URL`) used for every sandbox, routed by the
    /// `E2b-Sandbox-Id` header. Defaults to E2B's sandbox proxy for the domain.
    #[serde(default)]
    pub sandbox_url: Option<String>,
    /// Whether commands may reach the internet. Off by default: the sandbox is created with
    /// `allow_internet_access: false` (egress denied).
    #[serde(default)]
    pub allow_internet_access: bool,
    /// Extra metadata tags put on every sandbox (the `atlas-sandbox*` tags are always added and
    /// cannot be overridden: `sweep` relies on them).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Limit of one control-plane request (create, upload, kill, list).
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    /// How long a command's output stream may stay silent (no output and no keepalive) before
    /// the sandbox is considered dead. envd is asked to send keepalives well within it.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: HumanDuration,
    /// The shell each command runs with: "bash" (the default; `/bin/bash -c`, as E2B's own SDK)
    /// or "sh" (POSIX `/bin/sh -c`). With "bash", a template without `/bin/bash` fails the first
    /// sandbox's setup and makes the backend unhealthy, naming the template.
    #[serde(default)]
    pub shell: Shell,
    /// The `PATH` each command starts with (default "/usr/bin:/bin", as on every backend). Its
    /// other variables are the same everywhere too (`HOME=/tmp`, `LANG=C.UTF-8`, `TERM=dumb`,
    /// `TZ=UTC`, ...); list a template's own tool folders here (`/usr/local/bin:/usr/bin:/bin`).
    #[serde(default)]
    pub path: CommandPath,
    /// Sessions that last: an idle session's sandbox (and every session's at shutdown) is paused
    /// instead of deleted, and its next call resumes it with its files. The sandbox is also
    /// created with auto-pause, so when its lifetime ends E2B pauses it rather than killing it.
    #[serde(default)]
    pub persistent: bool,
    /// Sandboxes kept created and loaded with the `default` layer ahead of demand; each serves
    /// exactly one session.
    #[serde(default)]
    pub pool_size: usize,
    /// Ready sandboxes per host-level layer name (`[plugins.e2b.pools] <layer> = N`).
    #[serde(default)]
    pub pools: BTreeMap<String, usize>,
    /// A hard cap on this backend's sandboxes, live + paused + pooled. Unset: no cap.
    #[serde(default)]
    pub max_sandboxes: Option<usize>,
    /// How long a paused sandbox is kept before it is deleted. E2B itself keeps paused
    /// sandboxes until they are deleted (docs/backends/e2b.md).
    #[serde(default = "default_paused_retention")]
    pub paused_retention: HumanDuration,
}

fn default_paused_retention() -> HumanDuration {
    HumanDuration(atlas_sandbox_sdk::DEFAULT_PAUSED_RETENTION)
}

fn default_template() -> String {
    DEFAULT_TEMPLATE.to_owned()
}

fn default_lifetime() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}

fn default_request_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}

fn default_idle_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

/// The validated, resolved settings the client works with.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) api_key: Secret,
    pub(crate) template: String,
    pub(crate) timeout: Option<Duration>,
    pub(crate) lifetime: Duration,
    pub(crate) domain: String,
    pub(crate) api_url: String,
    pub(crate) sandbox_url: Option<String>,
    pub(crate) allow_internet_access: bool,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) request_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) shell: Shell,
    pub(crate) path: CommandPath,
    pub(crate) policy: atlas_sandbox_sdk::SessionPolicy,
}

impl Resolved {
    /// How envd is reached for a sandbox whose create response named `sandbox_domain`.
    pub(crate) fn envd_base(&self, sandbox_id: &str, sandbox_domain: Option<&str>) -> String {
        if let Some(u) = &self.sandbox_url {
            return u.clone();
        }
        let domain = sandbox_domain
            .filter(|d| !d.is_empty())
            .unwrap_or(&self.domain);
        if ROUTED_DOMAINS.contains(&domain) {
            format!("https://sandbox.{domain}")
        } else {
            format!("https://49983-{sandbox_id}.{domain}")
        }
    }
}

fn check_url(key: &str, value: &str) -> Result<String> {
    let parsed = url::Url::parse(value.trim()).map_err(|e| {
        Error::config(format!("[plugins.e2b] {key} = {value:?} is not a URL: {e}")).with_backend(ID)
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::config(format!(
            "[plugins.e2b] {key} = {value:?} must be an http:// or https:// URL with a host"
        ))
        .with_backend(ID));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::config(format!(
            "[plugins.e2b] {key} = {value:?} must not have a query or fragment"
        ))
        .with_backend(ID));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

impl E2bConfig {
    /// Checks the values and derives the URLs.
    pub(crate) fn resolve(self) -> Result<Resolved> {
        if self.api_key.is_blank() {
            return Err(Error::config(
                "[plugins.e2b] api_key is empty; set E2B_API_KEY or plugins.e2b.api_key",
            )
            .with_backend(ID));
        }
        let template = self.template.trim().to_owned();
        if template.is_empty() {
            return Err(Error::config("[plugins.e2b] template must not be empty").with_backend(ID));
        }
        if let Some(t) = self.timeout
            && t.get().is_zero()
        {
            return Err(
                Error::config("[plugins.e2b] timeout must be greater than zero").with_backend(ID),
            );
        }
        let lifetime = self.sandbox_lifetime.get();
        if lifetime < Duration::from_secs(10) || lifetime > Duration::from_secs(24 * 3600) {
            return Err(Error::config(format!(
                "[plugins.e2b] sandbox_lifetime = {} must be between 10s and 24h",
                self.sandbox_lifetime
            ))
            .with_backend(ID));
        }
        for (key, d) in [
            ("request_timeout", self.request_timeout),
            ("idle_timeout", self.idle_timeout),
        ] {
            if d.get() < Duration::from_secs(1) {
                return Err(Error::config(format!(
                    "[plugins.e2b] {key} = {d} must be at least 1s"
                ))
                .with_backend(ID));
            }
        }
        let domain = match self.domain.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_DOMAIN.to_owned(),
            Some(d) => {
                if d.contains(['/', ':', ' ']) {
                    return Err(Error::config(format!(
                        "[plugins.e2b] domain = {d:?} must be a bare domain such as \"e2b.app\""
                    ))
                    .with_backend(ID));
                }
                d.to_owned()
            }
        };
        let api_url = match &self.api_url {
            Some(u) => check_url("api_url", u)?,
            None => format!("https://api.{domain}"),
        };
        let sandbox_url = self
            .sandbox_url
            .as_deref()
            .map(|u| check_url("sandbox_url", u))
            .transpose()?;
        for (k, v) in &self.metadata {
            if k.is_empty() || k.starts_with(atlas_sandbox_cloud::TAG_MARKER) {
                return Err(Error::config(format!(
                    "[plugins.e2b] metadata key {k:?} is empty or reserved (atlas-sandbox*)"
                ))
                .with_backend(ID));
            }
            if v.len() > 1024 {
                return Err(Error::config(format!(
                    "[plugins.e2b] metadata value of {k:?} is longer than 1024 bytes"
                ))
                .with_backend(ID));
            }
        }
        let policy = atlas_sandbox_cloud::session_policy(
            ID,
            atlas_sandbox_cloud::PolicyKeys {
                persistent: self.persistent,
                pool_size: self.pool_size,
                pools: self.pools,
                max_sandboxes: self.max_sandboxes,
                paused_retention: self.paused_retention.get(),
            },
        )?;
        Ok(Resolved {
            policy,
            api_key: self.api_key,
            template,
            timeout: self.timeout.map(HumanDuration::get),
            lifetime,
            domain,
            api_url,
            sandbox_url,
            allow_internet_access: self.allow_internet_access,
            metadata: self.metadata,
            request_timeout: self.request_timeout.get(),
            shell: self.shell,
            path: self.path,
            idle_timeout: self.idle_timeout.get(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: serde_json::Value) -> Result<Resolved> {
        serde_json::from_value::<E2bConfig>(v)
            .map_err(|e| Error::config(e.to_string()))?
            .resolve()
    }

    #[test]
    fn defaults_follow_the_vendor() {
        let r = cfg(serde_json::json!({"api_key": "e2b_x"})).unwrap();
        assert_eq!(r.template, "base");
        assert_eq!(r.api_url, "https://api.e2b.app");
        assert!(!r.allow_internet_access);
        assert_eq!(r.envd_base("abc", None), "https://sandbox.e2b.app");
        let r = cfg(serde_json::json!({"api_key": "e2b_x", "domain": "e2b.example.com"})).unwrap();
        assert_eq!(r.api_url, "https://api.e2b.example.com");
        assert_eq!(
            r.envd_base("abc", None),
            "https://49983-abc.e2b.example.com"
        );
        let r = cfg(serde_json::json!({
            "api_key": "e2b_x",
            "api_url": "http://127.0.0.1:9/",
            "sandbox_url": "http://127.0.0.1:9"
        }))
        .unwrap();
        assert_eq!(r.api_url, "http://127.0.0.1:9");
        assert_eq!(r.envd_base("abc", Some("other.dev")), "http://127.0.0.1:9");
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = cfg(serde_json::json!({"api_key": "k", "api_url": "ftp://x"})).unwrap_err();
        assert!(e.to_string().contains("api_url"), "{e}");
        let e = cfg(serde_json::json!({"api_key": "k", "sandbox_lifetime": "1s"})).unwrap_err();
        assert!(e.to_string().contains("sandbox_lifetime"), "{e}");
        let e = cfg(serde_json::json!({"api_key": "k", "metadata": {"atlas-sandbox": "x"}}))
            .unwrap_err();
        assert!(e.to_string().contains("reserved"), "{e}");
        let e = cfg(serde_json::json!({"api_key": "k", "timeout": "0s"})).unwrap_err();
        assert!(e.to_string().contains("timeout"), "{e}");
        let e = cfg(serde_json::json!({"api_key": "k", "bogus": 1})).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = cfg(serde_json::json!({"template": "base"})).unwrap_err();
        assert!(e.to_string().contains("api_key"), "{e}");
    }

    #[test]
    fn key_is_redacted_in_debug() {
        let c: E2bConfig =
            serde_json::from_value(serde_json::json!({"api_key": "e2b_topsecret"})).unwrap();
        assert!(!format!("{c:?}").contains("topsecret"));
        let r = c.resolve().unwrap();
        assert!(!format!("{r:?}").contains("topsecret"));
    }
}
