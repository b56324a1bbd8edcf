//! The `[plugins.nsjail]` table.

use std::path::{Path, PathBuf};
use std::time::Duration;

use atlas_sandbox_sdk::{Error, HumanDuration, Result, Shell};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ID;

/// Configuration of the nsjail backend. Every key is optional; the defaults give a jail with no
/// network, the semantic layer as a per-sandbox overlay, a 16 MiB `/tmp` kept between the
/// sandbox's commands, 64 processes, 512 MiB of address space and the shipped seccomp policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NsjailConfig {
    /// Path of the nsjail binary. When unset, `NSJAIL_PATH` and then `PATH` are searched.
    pub nsjail_path: Option<PathBuf>,
    /// Wall-clock limit of one command ("10s", "1500ms"). A request's own timeout applies when it
    /// is shorter. The backend enforces it with sub-second precision and nsjail's whole-second
    /// `time_limit` backs it up.
    pub time_limit: HumanDuration,
    /// CPU-time limit of one command (RLIMIT_CPU, rounded up to whole seconds). Defaults to
    /// `time_limit`.
    pub cpu_time_limit: Option<HumanDuration>,
    /// Address-space limit of each process in MiB (RLIMIT_AS); also the cgroup memory limit when
    /// cgroups are on.
    pub memory_limit_mb: u64,
    /// Most processes of the jail user (RLIMIT_NPROC); also the cgroup pids limit when cgroups
    /// are on.
    pub max_processes: u64,
    /// Largest file a command may write, in MiB (RLIMIT_FSIZE).
    pub max_file_size_mb: u64,
    /// Most open file descriptors per process (RLIMIT_NOFILE).
    pub max_open_files: u64,
    /// Size of the jail's private, writable `/tmp` (a tmpfs) in MiB; with `layer = "overlay"`
    /// the layer's changes count against it too (one budget per sandbox).
    pub tmpfs_size_mb: u64,
    /// Most files and directories in the jail's `/tmp` (the tmpfs `nr_inodes`), with the
    /// layer's changes under `layer = "overlay"`.
    pub tmpfs_max_inodes: u64,
    /// How `/semantic` and `/tmp` behave across a sandbox's commands: "overlay" (the default:
    /// writes to the layer and to `/tmp` succeed, stay in the sandbox's own tmpfs and are seen
    /// by its next commands; the host's files are never touched) or "read-only" (the host's
    /// layer bound read-only, a fresh `/tmp` per command, nothing kept between commands).
    pub layer: LayerMode,
    /// The seccomp policy: "on" (the shipped config/nsjail/explore.kafel), "off", or the path of
    /// a kafel policy file.
    pub seccomp: String,
    /// Cgroup limits (memory, pids, CPU) on top of the rlimits: "off", "on" (fail if cgroups
    /// cannot be used), or "auto" (use them when running as root and the controllers exist).
    pub cgroups: CgroupMode,
    /// CPU share of a jail when cgroups are on, in milliseconds of CPU time per second
    /// (1000 = one full core). 0 leaves CPU unlimited.
    pub cgroup_cpu_ms_per_sec: u32,
    /// Mount a fresh, read-only `/proc` of the jail's own PID namespace, with the `/dev/fd`,
    /// `/dev/stdin`, `/dev/stdout` and `/dev/stderr` links into it. On by default: bash's
    /// process substitution (`diff <(…) <(…)`, `mapfile < <(…)`) and `>/dev/stderr` need them.
    /// Off hides `/proc/self/mountinfo`, which names the layer's host path.
    pub proc: bool,
    /// Instead of the host's `/usr`, mount only this static binary (such as Debian's
    /// busybox-static, `/usr/bin/busybox`) at `/bin/busybox`, with `/bin/<applet>` links for the
    /// explore commands. A smaller, fixed set of programs in the jail.
    pub toolbox: Option<PathBuf>,
    /// More host paths to mount read-only (nosuid, nodev) into the jail.
    pub extra_ro_mounts: Vec<ExtraMount>,
    /// The uid the command runs as, inside the jail and (when nsjail runs as root) on the host.
    /// It must own nothing on the host.
    pub jail_uid: u32,
    /// The gid the command runs as, inside the jail and (when nsjail runs as root) on the host.
    pub jail_gid: u32,
    /// The shell each command runs with: "bash" (the default; `/bin/bash -c`) or "sh" (POSIX
    /// `/bin/sh -c`). With "bash" the backend is unhealthy when the jail has no bash: a
    /// `toolbox` jail (busybox has no bash) needs `shell = "sh"`.
    pub shell: Shell,
}

/// How the semantic layer (and `/tmp`) live across a sandbox's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LayerMode {
    /// An overlayfs over the host's layer, its changes and `/tmp` in a tmpfs of the sandbox's
    /// own mount namespace, kept until the sandbox is closed.
    #[default]
    Overlay,
    /// The host's layer bound read-only (a write fails with "Read-only file system") and a new
    /// `/tmp` for every command.
    ReadOnly,
}

/// Whether to add cgroup limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CgroupMode {
    /// Rlimits only.
    #[default]
    Off,
    /// Cgroup limits when running as root with the controllers mounted; otherwise rlimits only.
    Auto,
    /// Cgroup limits, or the sandbox is not created.
    On,
}

/// One extra read-only mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtraMount {
    /// The absolute host path.
    pub source: PathBuf,
    /// The absolute path inside the jail; defaults to `source`. Must not be `/semantic`, `/tmp`,
    /// `/proc` or `/dev` or lie under them.
    pub target: Option<PathBuf>,
}

impl Default for NsjailConfig {
    fn default() -> Self {
        NsjailConfig {
            nsjail_path: None,
            time_limit: HumanDuration(Duration::from_secs(10)),
            cpu_time_limit: None,
            memory_limit_mb: 512,
            max_processes: 64,
            max_file_size_mb: 8,
            max_open_files: 64,
            tmpfs_size_mb: 16,
            tmpfs_max_inodes: 1024,
            layer: LayerMode::Overlay,
            seccomp: "on".to_owned(),
            cgroups: CgroupMode::Off,
            cgroup_cpu_ms_per_sec: 1000,
            proc: true,
            toolbox: None,
            extra_ro_mounts: Vec::new(),
            jail_uid: 99_999,
            jail_gid: 99_999,
            shell: Shell::Bash,
        }
    }
}

/// The seccomp choice after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seccomp {
    /// The policy shipped with the backend.
    Builtin,
    /// No policy.
    Off,
    /// A kafel file of the operator's.
    File(PathBuf),
}

/// Paths the jail owns; an extra mount must not shadow them.
const RESERVED_TARGETS: &[&str] = &["/semantic", "/tmp", "/proc", "/dev"];

fn bad(key: &str, why: impl std::fmt::Display) -> Error {
    Error::config(format!("[plugins.{ID}] {key}: {why}")).with_backend(ID)
}

impl NsjailConfig {
    /// Checks the values the schema cannot express; errors name the key.
    pub fn validate(&self) -> Result<()> {
        if self.time_limit.get().is_zero() {
            return Err(bad("time_limit", "must be greater than zero"));
        }
        if let Some(cpu) = self.cpu_time_limit
            && cpu.get().is_zero()
        {
            return Err(bad("cpu_time_limit", "must be greater than zero"));
        }
        for (key, v) in [
            ("memory_limit_mb", self.memory_limit_mb),
            ("max_processes", self.max_processes),
            ("max_file_size_mb", self.max_file_size_mb),
            ("max_open_files", self.max_open_files),
            ("tmpfs_size_mb", self.tmpfs_size_mb),
            ("tmpfs_max_inodes", self.tmpfs_max_inodes),
        ] {
            if v == 0 {
                return Err(bad(key, "must be greater than zero"));
            }
        }
        // The shell and a pipeline need a handful of processes and descriptors.
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
        // Beyond these the limits stop meaning anything, and u64 MiB would overflow bytes.
        if self.memory_limit_mb > 1 << 20 || self.tmpfs_size_mb > 1 << 20 {
            return Err(bad(
                "memory_limit_mb/tmpfs_size_mb",
                "must be at most 1048576 MiB",
            ));
        }
        if self.jail_uid == 0 || self.jail_gid == 0 {
            return Err(bad(
                "jail_uid/jail_gid",
                "must not be 0: the command would be root on the host's files",
            ));
        }
        self.seccomp_choice()?;
        if let Some(path) = &self.nsjail_path {
            check_absolute("nsjail_path", path)?;
        }
        if let Some(tb) = &self.toolbox {
            check_absolute("toolbox", tb)?;
            if !tb.is_file() {
                return Err(bad("toolbox", format!("{} is not a file", tb.display())));
            }
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
                        "{} would cover a path the jail owns (/, /semantic, /tmp, /proc, /dev)",
                        target.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The validated seccomp choice.
    pub fn seccomp_choice(&self) -> Result<Seccomp> {
        match self.seccomp.trim() {
            "on" => Ok(Seccomp::Builtin),
            "off" => Ok(Seccomp::Off),
            "" => Err(bad(
                "seccomp",
                "write \"on\", \"off\" or a policy file path",
            )),
            path => {
                let p = PathBuf::from(path);
                check_absolute("seccomp", &p)?;
                if !p.is_file() {
                    return Err(bad(
                        "seccomp",
                        format!("policy file {} does not exist", p.display()),
                    ));
                }
                Ok(Seccomp::File(p))
            }
        }
    }

    /// The CPU-time limit, defaulting to the wall-time limit.
    pub fn cpu_limit(&self) -> Duration {
        self.cpu_time_limit.unwrap_or(self.time_limit).get()
    }
}

impl ExtraMount {
    /// Where it appears in the jail.
    pub fn target(&self) -> &Path {
        self.target.as_deref().unwrap_or(&self.source)
    }
}

fn check_absolute(key: &str, path: &Path) -> Result<()> {
    if !path.is_absolute() {
        return Err(bad(
            key,
            format!("{} must be an absolute path", path.display()),
        ));
    }
    if path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(bad(key, format!("{} must not contain ..", path.display())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> std::result::Result<NsjailConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn defaults_are_valid() {
        let c = parse("{}").unwrap();
        assert_eq!(c, NsjailConfig::default());
        c.validate().unwrap();
        assert_eq!(c.seccomp_choice().unwrap(), Seccomp::Builtin);
        assert_eq!(c.cpu_limit(), Duration::from_secs(10));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = parse(r#"{"time_limit_sec": 5}"#).unwrap_err();
        assert!(e.to_string().contains("time_limit_sec"), "{e}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let c = parse(r#"{"memory_limit_mb": 0}"#).unwrap();
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("memory_limit_mb"), "{e}");
        let c = parse(r#"{"time_limit": "0s"}"#).unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("time_limit"));
        let e = parse(r#"{"time_limit": "soon"}"#).unwrap_err();
        assert!(e.to_string().contains("10s"), "{e}");
        let c = parse(r#"{"seccomp": "maybe"}"#).unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("seccomp"));
        let c = parse(r#"{"seccomp": "/nonexistent/p.kafel"}"#).unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
        let c = parse(r#"{"jail_uid": 0}"#).unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("jail_uid"));
        let c = parse(r#"{"nsjail_path": "nsjail"}"#).unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("absolute"));
        let e = parse(r#"{"cgroups": "sometimes"}"#).unwrap_err();
        assert!(e.to_string().contains("sometimes"), "{e}");
    }

    #[test]
    fn extra_mounts_cannot_cover_jail_paths() {
        for target in ["/semantic", "/semantic/x", "/tmp", "/", "/dev/shm"] {
            let c = NsjailConfig {
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
        let ok = NsjailConfig {
            extra_ro_mounts: vec![ExtraMount {
                source: "/usr/share".into(),
                target: Some("/opt/share".into()),
            }],
            ..Default::default()
        };
        ok.validate().unwrap();
        let missing = NsjailConfig {
            extra_ro_mounts: vec![ExtraMount {
                source: "/nonexistent/dir".into(),
                target: None,
            }],
            ..Default::default()
        };
        assert!(
            missing
                .validate()
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
    }

    #[test]
    fn schema_describes_every_key() {
        let schema = atlas_sandbox_sdk::schema_of::<NsjailConfig>();
        let props = schema["properties"].as_object().unwrap();
        for key in [
            "nsjail_path",
            "time_limit",
            "memory_limit_mb",
            "max_processes",
            "max_file_size_mb",
            "tmpfs_size_mb",
            "seccomp",
            "cgroups",
            "extra_ro_mounts",
        ] {
            let p = &props[key];
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
