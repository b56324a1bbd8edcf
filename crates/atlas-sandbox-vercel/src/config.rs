//! `[plugins.vercel]`: credentials, the microVM's shape and lifetime, and its network policy.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atlas_sandbox_sdk::{CommandPath, Error, HumanDuration, Result, Secret, Shell};
use base64::Engine as _;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::ID;

/// The vendor's production API base, as `@vercel/sandbox` hard-codes it.
pub const DEFAULT_API_URL: &str = "https://vercel.com/api";
/// A current Node.js image (the vendor offers `node22`, `node24`, `python3.13`).
pub const DEFAULT_RUNTIME: &str = "node24";
/// How long a microVM lives unless extended (the vendor's default is 5 min).
pub const DEFAULT_SANDBOX_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// The longest lifetime the vendor allows on any plan (5 h on Pro; 45 min on Hobby).
pub(crate) const MAX_SANDBOX_LIFETIME: Duration = Duration::from_secs(5 * 60 * 60);
/// The shortest lifetime worth asking for.
pub(crate) const MIN_SANDBOX_LIFETIME: Duration = Duration::from_secs(60);
/// The bound of one API request (not of a command, whose stream lasts as long as it runs).
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest API request bound accepted.
pub(crate) const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Network egress of the microVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkPolicy {
    /// No egress at all, except the domains in `allowed_domains` if any are listed.
    #[default]
    DenyAll,
    /// Full internet access. Commands written by an LLM can then exfiltrate the semantic layer.
    AllowAll,
}

/// The `[plugins.vercel]` table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VercelConfig {
    /// A Vercel access token. Falls back to the VERCEL_TOKEN environment variable. Needs
    /// `team_id` and `project_id` as well: the API accepts a token only with all three.
    #[serde(default)]
    pub token: Option<Secret>,
    /// A Vercel OIDC token (a JWT), used when no `token` is set. Falls back to
    /// VERCEL_OIDC_TOKEN. Its `owner_id` and `project_id` claims fill `team_id` and `project_id`
    /// when those are not set. It is used as is: refresh it (`vercel env pull`) before it expires.
    #[serde(default)]
    pub oidc_token: Option<Secret>,
    /// The team (owner) id, `team_...`. Falls back to VERCEL_TEAM_ID.
    #[serde(default)]
    pub team_id: Option<String>,
    /// The project id, `prj_...`, that the sandboxes are billed to. Falls back to
    /// VERCEL_PROJECT_ID.
    #[serde(default)]
    pub project_id: Option<String>,
    /// The microVM runtime image: `node24`, `node22` or `python3.13`.
    #[serde(default = "default_runtime")]
    #[schemars(length(min = 1))]
    pub runtime: String,
    /// The region to run in (e.g. `iad1`); the vendor's default when unset.
    #[serde(default)]
    pub region: Option<String>,
    /// Virtual CPUs of the microVM (2 GB of memory each); the vendor's default when unset.
    #[serde(default)]
    #[schemars(range(min = 1, max = 8))]
    pub vcpus: Option<u32>,
    /// The bound of one API call (create, upload, stop, delete...). Commands are bounded by
    /// their own timeout instead, whatever this says.
    #[serde(default = "default_request_timeout")]
    pub timeout: HumanDuration,
    /// How long a microVM lives before the vendor stops it; it is extended while in use. Between
    /// 1 min and 5 h (Hobby plans stop at 45 min).
    #[serde(default = "default_lifetime")]
    pub sandbox_lifetime: HumanDuration,
    /// The API base URL. Change it only for a local emulator or a proxy.
    #[serde(default = "default_api_url")]
    #[schemars(length(min = 1))]
    pub api_url: String,
    /// Network egress of the microVM: `deny-all` (default) or `allow-all`.
    #[serde(default)]
    pub network_policy: NetworkPolicy,
    /// With `deny-all`: domains the microVM may still reach (e.g. `"*.npmjs.org"`).
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// The shell each command runs with: "bash" (the default; `/bin/bash -c`) or "sh" (POSIX
    /// `/bin/sh -c`). With "bash", a runtime image without `/bin/bash` fails the first
    /// sandbox's setup and makes the backend unhealthy, naming the runtime.
    #[serde(default)]
    pub shell: Shell,
    /// The `PATH` each command starts with (default "/usr/bin:/bin", as on every backend). Its
    /// other variables are the same everywhere too (`HOME=/tmp`, `LANG=C.UTF-8`, `TERM=dumb`,
    /// `TZ=UTC`, ...); list a runtime's own tool folders here (`/usr/local/bin:/usr/bin:/bin`).
    #[serde(default)]
    pub path: CommandPath,
    /// Keep a session's sandbox across idle periods and restarts: a persistent Vercel sandbox
    /// whose session is stopped when idle (the vendor snapshots its filesystem) and resumed by
    /// name on the next call, `/tmp` included.
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
    /// How long a stopped (paused) sandbox is kept before the host deletes it.
    #[serde(default = "default_paused_retention")]
    pub paused_retention: HumanDuration,
    /// How long the vendor keeps the snapshot of a stopped persistent sandbox (its
    /// `snapshotExpiration`); after that a resume finds nothing and starts afresh. Unset: the
    /// same as `paused_retention`, so a sandbox this host loses track of stops costing storage
    /// when the host would have deleted it. "0s" keeps snapshots without expiry.
    #[serde(default)]
    pub snapshot_expiration: Option<HumanDuration>,
}

fn default_paused_retention() -> HumanDuration {
    HumanDuration(atlas_sandbox_sdk::DEFAULT_PAUSED_RETENTION)
}

fn default_runtime() -> String {
    DEFAULT_RUNTIME.to_owned()
}

fn default_lifetime() -> HumanDuration {
    HumanDuration(DEFAULT_SANDBOX_LIFETIME)
}

fn default_api_url() -> String {
    DEFAULT_API_URL.to_owned()
}

fn default_request_timeout() -> HumanDuration {
    HumanDuration(DEFAULT_REQUEST_TIMEOUT)
}

impl Default for VercelConfig {
    fn default() -> Self {
        VercelConfig {
            token: None,
            oidc_token: None,
            team_id: None,
            project_id: None,
            runtime: default_runtime(),
            region: None,
            vcpus: None,
            timeout: default_request_timeout(),
            sandbox_lifetime: default_lifetime(),
            api_url: default_api_url(),
            network_policy: NetworkPolicy::DenyAll,
            allowed_domains: Vec::new(),
            shell: Shell::Bash,
            path: CommandPath::default(),
            persistent: false,
            pool_size: 0,
            pools: BTreeMap::new(),
            max_sandboxes: None,
            paused_retention: default_paused_retention(),
            snapshot_expiration: None,
        }
    }
}

/// The credential triple the API needs on every call.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    pub(crate) token: Secret,
    pub(crate) team_id: String,
    pub(crate) project_id: String,
    /// Which key the token came from, for auth errors.
    pub(crate) token_key: &'static str,
}

/// The claims of a Vercel OIDC token that name the team and project.
#[derive(Debug, Deserialize)]
struct OidcClaims {
    owner_id: Option<String>,
    project_id: Option<String>,
    exp: Option<u64>,
}

fn non_blank(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn config_error(message: impl Into<String>) -> Error {
    Error::config(format!("[plugins.{ID}]: {}", message.into())).with_backend(ID)
}

impl VercelConfig {
    /// Checks every key and resolves the credential triple. The three are validated together:
    /// a token without its team and project is refused here, not by the first API call.
    pub(crate) fn validate(&self) -> Result<Credentials> {
        let creds = self.credentials()?;
        if self.runtime.trim().is_empty() {
            return Err(config_error("runtime must not be empty (e.g. \"node24\")"));
        }
        if let Some(v) = self.vcpus
            && !(1..=8).contains(&v)
        {
            return Err(config_error(format!(
                "vcpus is {v}; it must be between 1 and 8"
            )));
        }
        let life = self.sandbox_lifetime.get();
        if !(MIN_SANDBOX_LIFETIME..=MAX_SANDBOX_LIFETIME).contains(&life) {
            return Err(config_error(format!(
                "sandbox_lifetime is {}; it must be between 1m and 5h",
                self.sandbox_lifetime
            )));
        }
        let t = self.timeout.get();
        if t.is_zero() || t > MAX_REQUEST_TIMEOUT {
            return Err(config_error(format!(
                "timeout is {}; it must be more than zero and at most 5m",
                self.timeout
            )));
        }
        let url = self.api_url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(config_error(format!(
                "api_url {url:?} must be an http(s) URL"
            )));
        }
        if self.network_policy == NetworkPolicy::AllowAll && !self.allowed_domains.is_empty() {
            return Err(config_error(
                "allowed_domains only applies with network_policy = \"deny-all\"",
            ));
        }
        if let Some(d) = self.allowed_domains.iter().find(|d| d.trim().is_empty()) {
            return Err(config_error(format!(
                "allowed_domains contains an empty entry ({d:?})"
            )));
        }
        self.checked_policy()?;
        Ok(creds)
    }

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

    /// [`VercelConfig::checked_policy`] of a validated config (the defaults if it is not).
    pub fn session_policy(&self) -> atlas_sandbox_sdk::SessionPolicy {
        self.checked_policy().unwrap_or_default()
    }

    /// The vendor's `snapshotExpiration` in milliseconds (0: never).
    pub(crate) fn snapshot_expiration_ms(&self) -> u64 {
        let d = self
            .snapshot_expiration
            .map_or(self.paused_retention.get(), HumanDuration::get);
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }

    fn credentials(&self) -> Result<Credentials> {
        let team = non_blank(&self.team_id);
        let project = non_blank(&self.project_id);
        if let Some(token) = &self.token {
            return with_ids(
                token,
                "VERCEL_TOKEN or plugins.vercel.token",
                team,
                project,
                |missing| {
                    format!(
                        "token is set but {missing} missing: the Vercel API needs token, team_id \
                         and project_id together"
                    )
                },
            );
        }
        if let Some(oidc) = &self.oidc_token {
            let claims = decode_oidc_claims(oidc)?;
            if let Some(exp) = claims.exp {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                if exp <= now {
                    return Err(config_error(
                        "oidc_token (VERCEL_OIDC_TOKEN) has expired; pull a fresh one with \
                         `vercel env pull`",
                    ));
                }
            }
            return with_ids(
                oidc,
                "VERCEL_OIDC_TOKEN or plugins.vercel.oidc_token",
                team.or(claims.owner_id),
                project.or(claims.project_id),
                |missing| format!("oidc_token carries no claim for {missing} and none is set"),
            );
        }
        let mut missing = vec!["token (VERCEL_TOKEN)"];
        missing.extend(missing_ids(&team, &project));
        Err(config_error(format!(
            "{} missing: set token, team_id and project_id together, or oidc_token \
             (VERCEL_OIDC_TOKEN)",
            join_missing(&missing)
        )))
    }
}

/// A token's credentials once its team and project are known; otherwise the error `explain`
/// words around the missing keys ("team_id (VERCEL_TEAM_ID) is"), since each token source
/// says differently where the ids should have come from.
fn with_ids(
    token: &Secret,
    token_key: &'static str,
    team: Option<String>,
    project: Option<String>,
    explain: impl FnOnce(&str) -> String,
) -> Result<Credentials> {
    match (team, project) {
        (Some(team_id), Some(project_id)) => Ok(Credentials {
            token: token.clone(),
            team_id,
            project_id,
            token_key,
        }),
        (team, project) => Err(config_error(explain(&join_missing(&missing_ids(
            &team, &project,
        ))))),
    }
}

/// The keys (with their environment variables) of the ids not yet known.
fn missing_ids(team: &Option<String>, project: &Option<String>) -> Vec<&'static str> {
    [
        team.is_none().then_some("team_id (VERCEL_TEAM_ID)"),
        project
            .is_none()
            .then_some("project_id (VERCEL_PROJECT_ID)"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn join_missing(keys: &[&str]) -> String {
    match keys {
        [] => String::new(),
        [one] => format!("{one} is"),
        many => format!("{} are", many.join(" and ")),
    }
}

/// Reads (without verifying: the API does that) the claims of an OIDC JWT, as the official
/// SDK's `getCredentialsFromOIDCToken` does.
fn decode_oidc_claims(token: &Secret) -> Result<OidcClaims> {
    let bad = || {
        config_error(
            "oidc_token (VERCEL_OIDC_TOKEN) is not a Vercel OIDC token (a JWT with owner_id and \
             project_id claims)",
        )
    };
    let mut parts = token.expose().trim().split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: serde_json::Value) -> VercelConfig {
        serde_json::from_value(json).unwrap()
    }

    /// The message `validate` refuses this config with.
    fn rejection(json: serde_json::Value) -> String {
        cfg(json).validate().unwrap_err().to_string()
    }

    fn jwt(claims: serde_json::Value) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.{}",
            e.encode(br#"{"alg":"RS256"}"#),
            e.encode(claims.to_string()),
            e.encode(b"sig")
        )
    }

    #[test]
    fn session_keys_follow_the_shared_rules() {
        let base = serde_json::json!({"token": "t", "team_id": "team_1", "project_id": "prj_1"});
        let with = |extra: serde_json::Value| {
            let mut v = base.clone();
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            rejection(v)
        };
        // Before, pool_size silently replaced pools.default.
        let e = with(serde_json::json!({"pool_size": 2, "pools": {"default": 1}}));
        assert!(e.contains("pool_size and pools.default"), "{e}");
        let e = with(serde_json::json!({"pool_size": 2, "max_sandboxes": 2}));
        assert!(e.contains("leaves no room for a session"), "{e}");
        let e = with(serde_json::json!({"paused_retention": "30s"}));
        assert!(e.contains("at least 1m"), "{e}");
    }

    #[test]
    fn token_needs_team_and_project() {
        let msg = rejection(serde_json::json!({"token": "t", "team_id": "team_1"}));
        assert!(msg.contains("project_id"), "{msg}");
        assert!(!msg.contains("team_id ("), "{msg}");
        let msg = rejection(serde_json::json!({"token": "t"}));
        assert!(
            msg.contains("team_id (VERCEL_TEAM_ID) and project_id (VERCEL_PROJECT_ID) are"),
            "{msg}"
        );
        let ok = cfg(serde_json::json!({"token": "t", "team_id": "team_1", "project_id": "prj_1"}))
            .validate()
            .unwrap();
        assert_eq!(
            (ok.team_id.as_str(), ok.project_id.as_str()),
            ("team_1", "prj_1")
        );
    }

    #[test]
    fn nothing_set_names_every_key() {
        let e = VercelConfig::default().validate().unwrap_err();
        let msg = e.to_string();
        for key in [
            "token (VERCEL_TOKEN)",
            "team_id",
            "project_id",
            "VERCEL_OIDC_TOKEN",
        ] {
            assert!(msg.contains(key), "{key} not in {msg}");
        }
        let e = rejection(serde_json::json!({"team_id": "team_1", "project_id": "p"}));
        assert!(e.contains("token (VERCEL_TOKEN) is missing"), "{e}");
    }

    #[test]
    fn oidc_claims_fill_team_and_project() {
        let t = jwt(
            serde_json::json!({"owner_id": "team_o", "project_id": "prj_o", "exp": 4_000_000_000u64}),
        );
        let c = cfg(serde_json::json!({"oidc_token": t}))
            .validate()
            .unwrap();
        assert_eq!(
            (c.team_id.as_str(), c.project_id.as_str()),
            ("team_o", "prj_o")
        );
        // Explicit ids win over claims.
        let c = cfg(serde_json::json!({"oidc_token": t, "project_id": "prj_x"}))
            .validate()
            .unwrap();
        assert_eq!(c.project_id, "prj_x");
        let expired = jwt(serde_json::json!({"owner_id": "a", "project_id": "b", "exp": 1}));
        let e = rejection(serde_json::json!({"oidc_token": expired}));
        assert!(e.contains("expired"), "{e}");
        let no_project = jwt(serde_json::json!({"owner_id": "a"}));
        let e = rejection(serde_json::json!({"oidc_token": no_project}));
        assert!(e.contains("project_id"), "{e}");
        let e = rejection(serde_json::json!({"oidc_token": "not-a-jwt"}));
        assert!(e.contains("not a Vercel OIDC token"), "{e}");
    }

    #[test]
    fn shape_limits_and_unknown_keys() {
        let base = serde_json::json!({"token": "t", "team_id": "a", "project_id": "b"});
        let with = |k: &str, v: serde_json::Value| {
            let mut j = base.clone();
            j[k] = v;
            cfg(j).validate()
        };
        // A refusal names the key, so the user knows which line of the config to fix.
        let names_key = |k: &str, v: serde_json::Value| {
            let msg = with(k, v).unwrap_err().to_string();
            assert!(msg.contains(k), "{msg}");
        };
        names_key("vcpus", 9.into());
        names_key("sandbox_lifetime", "10s".into());
        assert!(with("sandbox_lifetime", "6h".into()).is_err());
        names_key("timeout", "20m".into());
        assert!(with("timeout", "0s".into()).is_err());
        names_key("api_url", "vercel.com".into());
        assert!(with("network_policy", "allow-all".into()).is_ok());
        let mut j = base.clone();
        j["network_policy"] = "allow-all".into();
        j["allowed_domains"] = serde_json::json!(["x.com"]);
        assert!(cfg(j).validate().is_err());
        let mut j = base.clone();
        j["nope"] = 1.into();
        assert!(serde_json::from_value::<VercelConfig>(j).is_err());
        let c = cfg(base);
        assert_eq!(c.runtime, "node24");
        assert_eq!(c.network_policy, NetworkPolicy::DenyAll);
        assert_eq!(c.api_url, DEFAULT_API_URL);
    }

    #[test]
    fn secrets_stay_out_of_debug_and_errors() {
        let c = cfg(serde_json::json!({"token": "tok_very_secret", "team_id": "a"}));
        assert!(!format!("{c:?}").contains("very_secret"));
        assert!(
            !c.validate()
                .unwrap_err()
                .to_string()
                .contains("very_secret")
        );
    }
}
