//! `[plugins.sidecar]` in atlas.toml.

use std::path::PathBuf;
use std::time::Duration;

use atlas_sandbox_sdk::{Error, HumanDuration, Secret, Shell};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The sidecar backend's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SidecarConfig {
    /// Base URL of the atlas-sidecar server, e.g. "http://127.0.0.1:8080" or
    /// "https://sandbox.internal/sidecar" (a path prefix is kept: requests go to <url>/exec).
    /// With `unix_socket` set, only the path of this URL is used (the host part is ignored).
    /// Falls back to ATLAS_SANDBOX_URL.
    pub url: String,
    /// Connect to the server over this unix socket instead of TCP (what `atlas-sandbox sidecar up`
    /// sets up: the container has no network at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix_socket: Option<PathBuf>,
    /// The server's bearer token (SIDECAR_AUTH_TOKEN on the server). Falls back to the
    /// SIDECAR_AUTH_TOKEN environment variable. Leave unset only for a server started with
    /// auth disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<Secret>,
    /// How much longer than the command's own timeout to wait for the server's answer (network,
    /// queueing, process start-up). When it passes, the result is exit 124 with timed_out.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// How many times a request refused with 429 (server busy) is retried, with exponential
    /// backoff and jitter, before the error is returned.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Ask the server for base64 output so binary bytes survive exactly; when false, output that
    /// is not UTF-8 arrives with U+FFFD replacement characters.
    #[serde(default = "default_true")]
    pub lossless_output: bool,
    /// The shell the server must run commands with: "bash" (the default) or "sh". The health
    /// check reads the server's shell from /health and is unhealthy when it is not bash, unless
    /// this says "sh" (start the server with `--shell bash`, its default).
    #[serde(default)]
    pub shell: Shell,
}

fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

fn default_max_retries() -> u32 {
    3
}

fn default_true() -> bool {
    true
}

impl SidecarConfig {
    /// A config for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        SidecarConfig {
            url: url.into(),
            unix_socket: None,
            auth_token: None,
            timeout: default_timeout(),
            max_retries: default_max_retries(),
            lossless_output: true,
            shell: Shell::Bash,
        }
    }

    /// Checks the values and returns the parsed base URL (with a trailing slash so joining keeps
    /// the path prefix: Atlas's `new URL("/exec", base)` dropped it).
    pub fn base_url(&self) -> Result<url::Url, Error> {
        let mut url = url::Url::parse(self.url.trim()).map_err(|e| {
            Error::config(format!(
                "[plugins.sidecar] url {:?} is not a valid URL: {e}",
                self.url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::config(format!(
                "[plugins.sidecar] url {:?} must start with http:// or https://",
                self.url
            )));
        }
        if url.cannot_be_a_base() || url.host().is_none() {
            return Err(Error::config(format!(
                "[plugins.sidecar] url {:?} has no host",
                self.url
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::config(format!(
                "[plugins.sidecar] url {:?} must not have a query or fragment",
                self.url
            )));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        if self.timeout.get().is_zero() {
            return Err(Error::config(
                "[plugins.sidecar] timeout must be greater than zero",
            ));
        }
        if self.max_retries > 20 {
            return Err(Error::config(format!(
                "[plugins.sidecar] max_retries is {}; at most 20 is allowed",
                self.max_retries
            )));
        }
        if let Some(t) = &self.auth_token
            && t.is_blank()
        {
            return Err(Error::config("[plugins.sidecar] auth_token is empty"));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_path_is_kept() {
        let c = SidecarConfig::new("https://h.example/prefix/sidecar");
        let base = c.base_url().unwrap();
        assert_eq!(
            base.join("exec").unwrap().as_str(),
            "https://h.example/prefix/sidecar/exec"
        );
        let c = SidecarConfig::new("http://127.0.0.1:8080");
        assert_eq!(
            c.base_url().unwrap().join("health").unwrap().as_str(),
            "http://127.0.0.1:8080/health"
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        for bad in ["ftp://x", "not a url", "http://h/?q=1", "unix:/x"] {
            let e = SidecarConfig::new(bad).base_url().unwrap_err();
            assert!(e.to_string().contains("url"), "{bad}: {e}");
        }
        let mut c = SidecarConfig::new("http://h");
        c.max_retries = 99;
        assert!(
            c.base_url()
                .unwrap_err()
                .to_string()
                .contains("max_retries")
        );
    }

    #[test]
    fn toml_shape_and_redaction() {
        let c: SidecarConfig = serde_json::from_value(serde_json::json!({
            "url": "http://127.0.0.1:8080",
            "auth_token": "tok-123",
            "timeout": "2s",
            "max_retries": 5
        }))
        .unwrap();
        assert_eq!(c.timeout.get(), Duration::from_secs(2));
        assert!(!format!("{c:?}").contains("tok-123"));
        assert!(
            serde_json::from_value::<SidecarConfig>(
                serde_json::json!({"url": "http://h", "authToken": "x"})
            )
            .is_err()
        );
    }
}
