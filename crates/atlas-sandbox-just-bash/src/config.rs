//! The `[plugins.just-bash]` table.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::limits::Limits;

/// Configuration of the in-process just-bash backend. Every key is optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JustBashConfig {
    /// Where the semantic layer appears inside the sandbox: an absolute path such as
    /// "/semantic". Commands start there; `/tmp` and `/dev/null` exist beside it in memory.
    #[serde(default = "default_mount_point")]
    pub mount_point: String,
    /// When true, every write (redirects, `rm`, `mkdir`, `touch`, `sed -i`...) fails with
    /// "Read-only file system" and exit 1, including under `/tmp`. When false, writes go to a
    /// per-sandbox memory layer and the files on disk are never modified either way.
    #[serde(default)]
    pub read_only: bool,
    /// Execution limits; the defaults are just-bash's "hardened" profile.
    #[serde(default)]
    pub limits: Limits,
}

fn default_mount_point() -> String {
    "/semantic".to_owned()
}

impl Default for JustBashConfig {
    fn default() -> Self {
        JustBashConfig {
            mount_point: default_mount_point(),
            read_only: false,
            limits: Limits::default(),
        }
    }
}

impl JustBashConfig {
    /// Checks the values serde cannot: the mount point's shape and the limits.
    pub fn validate(&self) -> Result<(), String> {
        let m = &self.mount_point;
        if !m.starts_with('/') || m == "/" {
            return Err(format!(
                "mount_point {m:?} must be an absolute path below / such as \"/semantic\""
            ));
        }
        if m.split('/').any(|p| p == ".." || p == ".") || m.contains('\0') || m.contains('\n') {
            return Err(format!(
                "mount_point {m:?} must not contain '.', '..', NUL or newlines"
            ));
        }
        let norm = crate::vfs::resolve("/", m);
        for reserved in ["/tmp", "/dev", "/bin", "/usr"] {
            if norm == reserved || norm.starts_with(&format!("{reserved}/")) {
                return Err(format!("mount_point {m:?} must not be inside {reserved}"));
            }
        }
        self.limits.validate()
    }
}
