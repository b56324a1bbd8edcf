//! The `[plugins.jail]` table.

use std::path::{Path, PathBuf};
use std::time::Duration;

use atlas_sandbox_just_bash::JustBashConfig;
use atlas_sandbox_sdk::{Error, HumanDuration, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ID;

/// Configuration of the warm jail. Every key is optional; the defaults give a jail with no
/// network, the semantic layer under a private overlay (the host's files read-only, writes kept
/// for the session), a 16 MiB `/tmp` shared with those writes, 64 processes, 512 MiB of address space
/// per process, Landlock required and the built-in seccomp filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct JailConfig {
    /// What runs a command inside the jailed worker: "bash" forks `/bin/bash -c` (the real
    /// GNU tools of the host's `/usr`, read-only); "just-bash" runs the in-process just-bash
    /// interpreter inside the jailed worker (no fork per command; its writes stay in the
    /// session's memory layer).
    pub engine: Engine,
    /// The interpreter's settings for `engine = "just-bash"` (the `[plugins.just-bash]` keys:
    /// mount_point, read_only, limits). Ignored by the bash engine.
    pub just_bash: JustBashConfig,
    /// Wall-clock limit of one command ("10s", "1500ms"). A request's own timeout applies when
    /// it is shorter.
    pub time_limit: HumanDuration,
    /// CPU-time limit of one command (RLIMIT_CPU, rounded up to whole seconds). Defaults to
    /// `time_limit`.
    pub cpu_time_limit: Option<HumanDuration>,
    /// Address-space limit of each process in MiB (RLIMIT_AS).
    pub memory_limit_mb: u64,
    /// Most processes of the jail user in the sandbox's user namespace (RLIMIT_NPROC).
    pub max_processes: u64,
    /// Largest file a command may write, in MiB (RLIMIT_FSIZE).
    pub max_file_size_mb: u64,
    /// Most open file descriptors per process (RLIMIT_NOFILE).
    pub max_open_files: u64,
    /// How the semantic layer appears at `/semantic` for the bash engine: "overlay" (an
    /// overlayfs over the host's layer: writes, deletes and renames succeed and stay in the
    /// sandbox, the host's files are never changed) or "read-only" (the host's layer bound
    /// read-only: every write fails). The just-bash engine always reads it read-only and keeps
    /// its writes in the interpreter's memory layer.
    pub layer: LayerMode,
    /// Size of the sandbox's private, writable `/tmp` (a tmpfs kept for the session) in MiB.
    /// With `layer = "overlay"` the layer's changes are kept in the same tmpfs and count
    /// against the same size.
    pub tmpfs_size_mb: u64,
    /// Most files and directories in the sandbox's `/tmp` (the tmpfs `nr_inodes`), shared with
    /// the layer's changes under `layer = "overlay"`.
    pub tmpfs_max_inodes: u64,
    /// More host paths to mount read-only (nosuid, nodev, noexec; Landlock read-only) into the
    /// jail.
    pub extra_ro_mounts: Vec<ExtraMount>,
    /// Whether a kernel without Landlock is unacceptable (the default). Set it to false to
    /// accept a jail confined by namespaces, seccomp and rlimits only; the security profile then
    /// says so.
    pub require_landlock: bool,
    /// The uid the command runs as inside the jail. When the host runs as root it is also the
    /// uid on the host (it must own nothing there); unprivileged, it maps to the caller's uid.
    pub jail_uid: u32,
    /// The gid the command runs as inside the jail (and on the host when running as root).
    pub jail_gid: u32,
    /// Whether the bash engine starts a line of one external program and plain words
    /// (`grep -rn customer_id .`) itself, as bash would, instead of starting bash to do it
    /// (see `atlas_sandbox_sdk::process::direct`). The program, argv and environment are the
    /// ones bash gives it; shell syntax, builtins and everything else still go through bash.
    pub direct_exec: bool,
}

/// What runs the command inside the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// `/bin/bash -c <command>`, forked by the worker in its own process group.
    #[default]
    Bash,
    /// The just-bash interpreter, run by a long-lived process inside the jail.
    JustBash,
}

/// How the semantic layer is mounted in the jail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LayerMode {
    /// An overlayfs: the host's layer is its read-only lower layer, the changes live in the
    /// sandbox's tmpfs (with `/tmp`) until the sandbox is closed.
    #[default]
    Overlay,
    /// The host's layer bound read-only: a write fails with "Read-only file system".
    ReadOnly,
}

/// One extra read-only mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtraMount {
    /// The absolute host path.
    pub source: PathBuf,
    /// The absolute path inside the jail; defaults to `source`. Must not be `/`, `/semantic`,
    /// `/tmp`, `/proc`, `/dev` or `/usr`, nor lie under or above them.
    pub target: Option<PathBuf>,
}

impl ExtraMount {
    /// Where it appears in the jail.
    pub fn target(&self) -> &Path {
        self.target.as_deref().unwrap_or(&self.source)
    }
}

impl Default for JailConfig {
    fn default() -> Self {
        JailConfig {
            engine: Engine::Bash,
            just_bash: JustBashConfig::default(),
            time_limit: HumanDuration(Duration::from_secs(10)),
            cpu_time_limit: None,
            memory_limit_mb: 512,
            max_processes: 64,
            max_file_size_mb: 8,
            max_open_files: 64,
            layer: LayerMode::Overlay,
            tmpfs_size_mb: 16,
            tmpfs_max_inodes: 1024,
            extra_ro_mounts: Vec::new(),
            require_landlock: true,
            jail_uid: 99_999,
            jail_gid: 99_999,
            direct_exec: true,
        }
    }
}

/// Paths the jail owns; an extra mount must not cover them.
const RESERVED_TARGETS: &[&str] = &["/semantic", "/tmp", "/proc", "/dev", "/usr"];

fn bad(key: &str, why: impl std::fmt::Display) -> Error {
    Error::config(format!("[plugins.{ID}] {key}: {why}")).with_backend(ID)
}

impl JailConfig {
    /// Checks the values the schema cannot express; errors name the key.
    pub fn validate(&self) -> Result<()> {
        self.just_bash
            .validate()
            .map_err(|why| bad("just_bash", why))?;
        if self.time_limit.get().is_zero() {
            return Err(bad("time_limit", "must be greater than zero"));
        }
        if let Some(cpu) = self.cpu_time_limit
            && cpu.get().is_zero()
        {
            return Err(bad("cpu_time_limit", "must be greater than zero"));
        }
        if self.max_processes < 4 {
            return Err(bad(
                "max_processes",
                "must be at least 4 (a pipeline needs several)",
            ));
        }
        if self.max_open_files < 16 {
            return Err(bad("max_open_files", "must be at least 16"));
        }
        if self.memory_limit_mb < 16 {
            return Err(bad("memory_limit_mb", "must be at least 16 MiB"));
        }
        if self.max_file_size_mb == 0 {
            return Err(bad("max_file_size_mb", "must be greater than zero"));
        }
        if self.tmpfs_size_mb == 0 || self.tmpfs_max_inodes == 0 {
            return Err(bad(
                "tmpfs_size_mb/tmpfs_max_inodes",
                "must be greater than zero",
            ));
        }
        // Beyond these the limits stop meaning anything, and MiB would overflow bytes.
        for (key, v) in [
            ("memory_limit_mb", self.memory_limit_mb),
            ("tmpfs_size_mb", self.tmpfs_size_mb),
            ("max_file_size_mb", self.max_file_size_mb),
        ] {
            if v > 1 << 20 {
                return Err(bad(key, "must be at most 1048576 MiB"));
            }
        }
        if self.jail_uid == 0 || self.jail_gid == 0 {
            return Err(bad(
                "jail_uid/jail_gid",
                "must not be 0: the command would be root on the host's files",
            ));
        }
        for (i, m) in self.extra_ro_mounts.iter().enumerate() {
            let key = format!("extra_ro_mounts[{i}]");
            check_absolute(&format!("{key}.source"), &m.source)?;
            if !m.source.exists() {
                return Err(bad(
                    &format!("{key}.source"),
                    format!("{} does not exist", m.source.display()),
                ));
            }
            let target = m.target();
            check_absolute(&format!("{key}.target"), target)?;
            if target == Path::new("/")
                || RESERVED_TARGETS
                    .iter()
                    .any(|r| target.starts_with(r) || Path::new(r).starts_with(target))
            {
                return Err(bad(
                    &format!("{key}.target"),
                    format!(
                        "{} would cover a path the jail owns (/, /semantic, /tmp, /proc, /dev, /usr)",
                        target.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether `/semantic` is an overlay. Only the bash engine writes through the mount: the
    /// just-bash interpreter keeps its writes in its own memory layer, so it reads the layer
    /// bound read-only whatever `layer` says (an overlay would only add kernel surface).
    pub fn overlay(&self) -> bool {
        self.layer == LayerMode::Overlay && self.engine == Engine::Bash
    }

    /// The CPU-time limit, defaulting to the wall-time limit.
    pub fn cpu_limit(&self) -> Duration {
        self.cpu_time_limit.unwrap_or(self.time_limit).get()
    }
}

fn check_absolute(key: &str, path: &Path) -> Result<()> {
    if !path.is_absolute() {
        return Err(bad(
            key,
            format!("{} must be an absolute path", path.display()),
        ));
    }
    if path.components().any(|c| {
        matches!(
            c,
            std::path::Component::ParentDir | std::path::Component::CurDir
        )
    }) {
        return Err(bad(
            key,
            format!("{} must not contain . or ..", path.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> std::result::Result<JailConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn defaults_are_valid() {
        let c = parse("{}").unwrap();
        assert_eq!(c, JailConfig::default());
        c.validate().unwrap();
        assert_eq!(c.cpu_limit(), Duration::from_secs(10));
        assert_eq!(c.engine, Engine::Bash);
        assert_eq!(c.layer, LayerMode::Overlay);
        assert!(c.overlay());
        // The interpreter keeps its writes in memory: no overlay under it.
        let jb = JailConfig {
            engine: Engine::JustBash,
            ..JailConfig::default()
        };
        assert!(!jb.overlay());
        assert!(c.require_landlock);
    }

    #[test]
    fn unknown_keys_and_engines_are_rejected() {
        let e = parse(r#"{"time_limit_sec": 5}"#).unwrap_err();
        assert!(e.to_string().contains("time_limit_sec"), "{e}");
        let e = parse(r#"{"engine": "zsh"}"#).unwrap_err();
        assert!(e.to_string().contains("zsh"), "{e}");
        let e = parse(r#"{"layer": "writable"}"#).unwrap_err();
        assert!(e.to_string().contains("writable"), "{e}");
        let c = parse(r#"{"layer": "read-only"}"#).unwrap();
        assert_eq!(c.layer, LayerMode::ReadOnly);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (json, key) in [
            (r#"{"memory_limit_mb": 0}"#, "memory_limit_mb"),
            (r#"{"time_limit": "0s"}"#, "time_limit"),
            (r#"{"cpu_time_limit": "0s"}"#, "cpu_time_limit"),
            (r#"{"max_processes": 2}"#, "max_processes"),
            (r#"{"max_open_files": 3}"#, "max_open_files"),
            (r#"{"tmpfs_size_mb": 0}"#, "tmpfs_size_mb"),
            (r#"{"jail_uid": 0}"#, "jail_uid"),
            (r#"{"max_file_size_mb": 4294967296}"#, "max_file_size_mb"),
        ] {
            let c = parse(json).unwrap();
            let e = c.validate().unwrap_err();
            assert!(e.to_string().contains(key), "{json}: {e}");
        }
        let e = parse(r#"{"time_limit": "soon"}"#).unwrap_err();
        assert!(e.to_string().contains("10s"), "{e}");
    }

    #[test]
    fn extra_mounts_cannot_cover_jail_paths() {
        for target in [
            "/semantic",
            "/semantic/x",
            "/tmp",
            "/",
            "/dev/shm",
            "/usr/lib",
        ] {
            let c = JailConfig {
                extra_ro_mounts: vec![ExtraMount {
                    source: "/usr".into(),
                    target: Some(target.into()),
                }],
                ..Default::default()
            };
            let e = c.validate().unwrap_err();
            assert!(
                e.to_string().contains("extra_ro_mounts[0].target"),
                "{target}: {e}"
            );
        }
        let ok = JailConfig {
            extra_ro_mounts: vec![ExtraMount {
                source: "/usr/share".into(),
                target: Some("/opt/share".into()),
            }],
            ..Default::default()
        };
        ok.validate().unwrap();
        let relative = JailConfig {
            extra_ro_mounts: vec![ExtraMount {
                source: "usr".into(),
                target: None,
            }],
            ..Default::default()
        };
        assert!(
            relative
                .validate()
                .unwrap_err()
                .to_string()
                .contains("absolute")
        );
    }

    #[test]
    fn schema_describes_every_key() {
        let schema = atlas_sandbox_sdk::schema_of::<JailConfig>();
        let props = schema["properties"].as_object().unwrap();
        for (key, p) in props {
            assert!(
                p.get("description").is_some()
                    || p.get("$ref").is_some()
                    || p.get("allOf").is_some(),
                "{key}: {p}"
            );
        }
        assert_eq!(schema["additionalProperties"], serde_json::json!(false));
    }
}
