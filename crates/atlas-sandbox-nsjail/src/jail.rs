//! The jail itself: the nsjail protobuf config written once per sandbox, and the short argv of
//! each exec. Both are pure functions of the config and of what was found on the host, so the
//! golden tests pin them byte for byte.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use atlas_sandbox_sdk::Shell;

use crate::config::NsjailConfig;

/// Where the semantic layer appears in the jail (and the command's default cwd).
pub const SEMANTIC_MOUNT: &str = "/semantic";
/// The jail's whole environment, the SDK's one for every backend: nothing of the host's.
pub const JAIL_ENV: &[(&str, &str)] = atlas_sandbox_sdk::COMMAND_ENV;
/// The links created in `/bin` of a toolbox jail (a static busybox answers to all of them).
pub const TOOLBOX_APPLETS: &[&str] = &[
    "sh",
    "ls",
    "cat",
    "grep",
    "egrep",
    "fgrep",
    "find",
    "head",
    "tail",
    "wc",
    "sort",
    "uniq",
    "cut",
    "tr",
    "xargs",
    "stat",
    "du",
    "true",
    "false",
    "echo",
    "printf",
    "test",
    "[",
    "env",
    "basename",
    "dirname",
    "awk",
    "sed",
    "od",
    "tac",
    "nl",
    "comm",
    "diff",
    "expr",
    "seq",
    "sleep",
    "yes",
    "id",
    "pwd",
    "readlink",
    "realpath",
    "md5sum",
    "sha256sum",
    "hexdump",
    "tree",
    "less",
    "more",
    "strings",
];
/// The nice level of the jailed command: below the host's services.
const NICE_LEVEL: i32 = 10;
/// The name of the cgroup directories the backend creates under each controller.
pub const CGROUP_PARENT: &str = "atlas-sandbox";

/// What one of the top-level library/binary paths is on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootEntry {
    /// A symlink (merged /usr: `/bin -> usr/bin`): recreated as the same link in the jail.
    Link { path: PathBuf, target: PathBuf },
    /// A real directory (a split-/usr system): bind-mounted read-only.
    Dir { path: PathBuf },
}

/// How cgroup limits are attached, when they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupLayout {
    /// cgroup v1: one hierarchy per controller.
    V1 {
        /// The memory controller's mount.
        memory: PathBuf,
        /// The pids controller's mount.
        pids: PathBuf,
        /// The cpu controller's mount.
        cpu: PathBuf,
    },
    /// cgroup v2: the unified hierarchy.
    V2 {
        /// Its mount.
        mount: PathBuf,
    },
}

/// What was found on the host that shapes the jail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// The effective uid nsjail runs with.
    pub euid: u32,
    /// The effective gid nsjail runs with.
    pub egid: u32,
    /// `/bin`, `/sbin`, `/lib`, `/lib64`, ... as they are on the host (absent ones left out).
    pub root_entries: Vec<RootEntry>,
    /// The cgroup limits to apply, if any.
    pub cgroups: Option<CgroupLayout>,
}

/// Everything the config file is rendered from.
#[derive(Debug, Clone)]
pub struct JailPlan<'a> {
    /// The backend config.
    pub config: &'a NsjailConfig,
    /// What the host looks like.
    pub host: &'a HostFacts,
    /// The canonical semantic root.
    pub semantic_root: &'a Path,
    /// The kafel policy file to load, if seccomp is on.
    pub seccomp_policy: Option<&'a Path>,
    /// With `layer = "overlay"`: the sandbox's kept state, which the jail binds instead of the
    /// host's layer and a fresh `/tmp` (paths inside the sandbox's namespace).
    pub state: Option<StatePaths<'a>>,
}

/// Where a sandbox's kept state is, in its own mount namespace.
#[derive(Debug, Clone, Copy)]
pub struct StatePaths<'a> {
    /// The overlay of the layer.
    pub layer: &'a Path,
    /// The kept `/tmp`.
    pub tmp: &'a Path,
}

/// A text-format string literal: printable ASCII as is, everything else octal-escaped, so any
/// path (quotes, newlines, non-UTF-8 bytes) reaches nsjail byte for byte.
pub fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\{b:03o}");
            }
        }
    }
    s.push('"');
    s
}

fn qp(p: &Path) -> String {
    quote(p.as_os_str().as_bytes())
}

fn qs(s: &str) -> String {
    quote(s.as_bytes())
}

/// Whole seconds, rounded up, at least 1 (nsjail's limits are whole seconds; 0 means none).
pub fn ceil_secs(d: Duration) -> u64 {
    let s = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    s.max(1)
}

const MIB: u64 = 1024 * 1024;

impl JailPlan<'_> {
    /// Whether the identity map is one-to-one onto the jail uid on the host (as root), rather
    /// than onto nsjail's own uid (unprivileged: the only map the kernel allows).
    pub fn maps_to_jail_uid(&self) -> bool {
        self.host.euid == 0
    }

    /// The nsjail config file (protobuf text format).
    pub fn render(&self) -> String {
        let c = self.config;
        let mut o = String::with_capacity(4096);
        let mut line = |s: &str| {
            o.push_str(s);
            o.push('\n');
        };
        line("# Generated by atlas-sandbox-nsjail for one sandbox. Do not edit.");
        line("name: \"atlas-sandbox\"");
        line("mode: ONCE");
        line("hostname: \"atlas\"");
        line(&format!("cwd: {}", qs(SEMANTIC_MOUNT)));
        line(&format!(
            "time_limit: {}",
            ceil_secs(c.time_limit.get()) + 1
        ));
        line(&format!("nice_level: {NICE_LEVEL}"));
        line("log_level: INFO");
        line("");
        line("# Namespaces: all of them, including a new network namespace (no -N: without it the");
        line("# jail reaches host loopback services and abstract unix sockets).");
        for ns in ["net", "user", "ns", "pid", "ipc", "uts", "cgroup"] {
            line(&format!("clone_new{ns}: true"));
        }
        line("keep_caps: false");
        line("disable_no_new_privs: false");
        line("skip_setsid: false");
        line("");
        line("# Identity: an explicit one-to-one map. A bare --user as root maps to host root.");
        let (out_uid, out_gid) = if self.maps_to_jail_uid() {
            (c.jail_uid, c.jail_gid)
        } else if self.state.is_some() {
            // nsjail starts in the sandbox's user namespace, where the host user is root.
            (0, 0)
        } else {
            (self.host.euid, self.host.egid)
        };
        line(&format!(
            "uidmap {{ inside_id: \"{}\" outside_id: \"{out_uid}\" count: 1 }}",
            c.jail_uid
        ));
        line(&format!(
            "gidmap {{ inside_id: \"{}\" outside_id: \"{out_gid}\" count: 1 }}",
            c.jail_gid
        ));
        line("");
        line("# A clean environment.");
        line("keep_env: false");
        for (k, v) in JAIL_ENV {
            line(&format!("envar: {}", qs(&format!("{k}={v}"))));
        }
        line("");
        line("# Resource limits.");
        let rl = |name: &str, v: u64| format!("rlimit_{name}: {v}\nrlimit_{name}_type: VALUE");
        line(&rl("as", c.memory_limit_mb));
        line(&rl("cpu", ceil_secs(c.cpu_limit())));
        line(&rl("fsize", c.max_file_size_mb));
        line(&rl("nofile", c.max_open_files));
        line(&rl("nproc", c.max_processes));
        line(&rl("core", 0));
        line("");
        line("# Mounts: the root is an empty read-only tmpfs; only these appear in it.");
        match &c.toolbox {
            Some(tb) => {
                line(&format!(
                    "mount {{ src: {} dst: \"/bin/busybox\" is_bind: true rw: false is_dir: false nosuid: true nodev: true }}",
                    qp(tb)
                ));
                for applet in TOOLBOX_APPLETS {
                    line(&format!(
                        "mount {{ src: \"busybox\" dst: {} is_symlink: true }}",
                        qs(&format!("/bin/{applet}"))
                    ));
                }
            }
            None => {
                line(
                    "mount { src: \"/usr\" dst: \"/usr\" is_bind: true rw: false nosuid: true nodev: true }",
                );
                for e in &self.host.root_entries {
                    match e {
                        RootEntry::Link { path, target } => line(&format!(
                            "mount {{ src: {} dst: {} is_symlink: true }}",
                            qp(target),
                            qp(path)
                        )),
                        RootEntry::Dir { path } => line(&format!(
                            "mount {{ src: {0} dst: {0} is_bind: true rw: false nosuid: true nodev: true }}",
                            qp(path)
                        )),
                    }
                }
            }
        }
        match self.state {
            Some(st) => line(&format!(
                "mount {{ src: {} dst: {} is_bind: true rw: true is_dir: true nosuid: true nodev: true noexec: true }}",
                qp(st.layer),
                qs(SEMANTIC_MOUNT)
            )),
            None => line(&format!(
                "mount {{ src: {} dst: {} is_bind: true rw: false is_dir: true nosuid: true nodev: true noexec: true }}",
                qp(self.semantic_root),
                qs(SEMANTIC_MOUNT)
            )),
        }
        // Device nodes need dev semantics on their mount; read-only does not stop writes to them.
        for dev in ["/dev/null", "/dev/zero", "/dev/urandom"] {
            line(&format!(
                "mount {{ src: \"{dev}\" dst: \"{dev}\" is_bind: true rw: false is_dir: false nosuid: true noexec: true }}"
            ));
        }
        if c.proc {
            // What bash's process substitution (`<(…)`) and `>/dev/stdout` open: links into
            // the jail's own procfs, as on any Linux system.
            for (src, dst) in [
                ("/proc/self/fd", "/dev/fd"),
                ("/proc/self/fd/0", "/dev/stdin"),
                ("/proc/self/fd/1", "/dev/stdout"),
                ("/proc/self/fd/2", "/dev/stderr"),
            ] {
                line(&format!(
                    "mount {{ src: \"{src}\" dst: \"{dst}\" is_symlink: true }}"
                ));
            }
        }
        // Executable, unlike `/semantic`: an agent runs the script it just wrote (`./x.sh`), as
        // bash allows; noexec would stop nothing that `bash x.sh` or awk cannot already do.
        match self.state {
            Some(st) => line(&format!(
                "mount {{ src: {} dst: \"/tmp\" is_bind: true rw: true is_dir: true nosuid: true nodev: true }}",
                qp(st.tmp)
            )),
            None => line(&format!(
                "mount {{ dst: \"/tmp\" fstype: \"tmpfs\" options: \"size={},nr_inodes={},mode=1777\" rw: true is_dir: true nosuid: true nodev: true }}",
                c.tmpfs_size_mb.saturating_mul(MIB),
                c.tmpfs_max_inodes
            )),
        }
        for m in &c.extra_ro_mounts {
            line(&format!(
                "mount {{ src: {} dst: {} is_bind: true rw: false nosuid: true nodev: true }}",
                qp(&m.source),
                qp(m.target())
            ));
        }
        line(&format!("mount_proc: {}", c.proc));
        line("");
        match self.seccomp_policy {
            Some(p) => {
                line("# Seccomp (kafel).");
                line(&format!("seccomp_policy_file: {}", qp(p)));
            }
            None => line("# Seccomp: off by configuration."),
        }
        if let Some(cg) = &self.host.cgroups {
            line("");
            line("# Cgroup limits.");
            let mem = c.memory_limit_mb.saturating_mul(MIB);
            match cg {
                CgroupLayout::V1 { memory, pids, cpu } => {
                    line(&format!("cgroup_mem_max: {mem}"));
                    line(&format!("cgroup_mem_mount: {}", qp(memory)));
                    line(&format!("cgroup_mem_parent: {}", qs(CGROUP_PARENT)));
                    line(&format!("cgroup_pids_max: {}", c.max_processes));
                    line(&format!("cgroup_pids_mount: {}", qp(pids)));
                    line(&format!("cgroup_pids_parent: {}", qs(CGROUP_PARENT)));
                    if c.cgroup_cpu_ms_per_sec > 0 {
                        line(&format!(
                            "cgroup_cpu_ms_per_sec: {}",
                            c.cgroup_cpu_ms_per_sec
                        ));
                        line(&format!("cgroup_cpu_mount: {}", qp(cpu)));
                        line(&format!("cgroup_cpu_parent: {}", qs(CGROUP_PARENT)));
                    }
                }
                CgroupLayout::V2 { mount } => {
                    line("use_cgroupv2: true");
                    line(&format!("cgroupv2_mount: {}", qp(mount)));
                    line(&format!("cgroup_mem_max: {mem}"));
                    line(&format!("cgroup_pids_max: {}", c.max_processes));
                    if c.cgroup_cpu_ms_per_sec > 0 {
                        line(&format!(
                            "cgroup_cpu_ms_per_sec: {}",
                            c.cgroup_cpu_ms_per_sec
                        ));
                    }
                }
            }
        }
        o
    }
}

/// The jail's working directory and nsjail's `time_limit` (whole seconds) for one command.
pub(crate) fn per_command_values(rel_cwd: &str, timeout: Duration) -> (String, u64) {
    let cwd = if rel_cwd.is_empty() {
        SEMANTIC_MOUNT.to_owned()
    } else {
        format!("{SEMANTIC_MOUNT}/{rel_cwd}")
    };
    // One second past ours: the Rust deadline fires first and reports 124 precisely.
    (cwd, ceil_secs(timeout).saturating_add(1))
}

/// The argv of one exec: the sandbox's config file, then what changes per command (its log
/// file, its whole-second time limit, its cwd) and the command.
pub fn exec_args(
    config_file: &Path,
    log_file: &Path,
    timeout: Duration,
    rel_cwd: &str,
    shell: Shell,
    command: &str,
) -> Vec<OsString> {
    let (cwd, time_limit) = per_command_values(rel_cwd, timeout);
    vec![
        "--config".into(),
        config_file.into(),
        "--log".into(),
        log_file.into(),
        "--time_limit".into(),
        time_limit.to_string().into(),
        "--cwd".into(),
        cwd.into(),
        "--".into(),
        shell.program().into(),
        "-c".into(),
        command.into(),
    ]
}

/// Looks at `/bin`, `/sbin`, the `/lib*` directories and `/etc/alternatives` of the host.
/// The last holds only symlinks, and Debian reaches some tools through it (`awk` is
/// `/usr/bin/awk -> /etc/alternatives/awk -> /usr/bin/mawk`); the rest of `/etc` stays out.
pub fn scan_root_entries(root: &Path) -> Vec<RootEntry> {
    let mut out = Vec::new();
    for name in [
        "bin",
        "sbin",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "etc/alternatives",
    ] {
        let host = root.join(name);
        let jail = PathBuf::from("/").join(name);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(target) = std::fs::read_link(&host) {
                    out.push(RootEntry::Link { path: jail, target });
                }
            }
            Ok(m) if m.is_dir() => out.push(RootEntry::Dir { path: jail }),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ExtraMount, NsjailConfig};

    fn merged_usr() -> Vec<RootEntry> {
        let mut v: Vec<RootEntry> = ["bin", "sbin", "lib", "lib64"]
            .iter()
            .map(|n| RootEntry::Link {
                path: PathBuf::from("/").join(n),
                target: PathBuf::from("usr").join(n),
            })
            .collect();
        v.push(RootEntry::Dir {
            path: "/etc/alternatives".into(),
        });
        v
    }

    fn root_host() -> HostFacts {
        HostFacts {
            euid: 0,
            egid: 0,
            root_entries: merged_usr(),
            cgroups: None,
        }
    }

    /// Compares with the insta snapshot tests/golden/<name>.snap; review a change with
    /// `cargo insta review` (or accept it with `INSTA_UPDATE=always`).
    fn golden(name: &str, actual: &str) {
        insta::with_settings!({
            snapshot_path => "../tests/golden",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, actual);
        });
    }

    #[test]
    fn golden_default_as_root() {
        let cfg = NsjailConfig::default();
        let host = root_host();
        let plan = JailPlan {
            config: &cfg,
            host: &host,
            semantic_root: Path::new("/srv/atlas/semantic"),
            seccomp_policy: Some(Path::new("/run/atlas-nsjail-x/explore.kafel")),
            state: None,
        };
        let text = plan.render();
        golden("default-root.cfg", &text);
        // The properties the issue names, asserted directly as well as through the golden file.
        assert!(text.contains("uidmap { inside_id: \"99999\" outside_id: \"99999\" count: 1 }"));
        assert!(text.contains("clone_newnet: true"));
        assert!(text.contains("noexec: true }\nmount { src: \"/dev/null\""));
        assert!(text.contains("keep_env: false"));
        assert!(text.contains("rlimit_nproc_type: VALUE"));
        assert!(!text.contains("use_cgroupv2"));
    }

    #[test]
    fn golden_unprivileged_maps_to_own_uid() {
        let cfg = NsjailConfig::default();
        let host = HostFacts {
            euid: 1001,
            egid: 1001,
            ..root_host()
        };
        let plan = JailPlan {
            config: &cfg,
            host: &host,
            semantic_root: Path::new("/srv/atlas/semantic"),
            seccomp_policy: None,
            state: None,
        };
        let text = plan.render();
        golden("unprivileged-no-seccomp.cfg", &text);
        assert!(text.contains("outside_id: \"1001\""));
        assert!(!text.contains("seccomp_policy_file"));
    }

    #[test]
    fn golden_toolbox_cgroups_and_extras() {
        let cfg = NsjailConfig {
            toolbox: Some("/usr/bin/busybox".into()),
            proc: true,
            memory_limit_mb: 256,
            max_processes: 32,
            tmpfs_size_mb: 4,
            tmpfs_max_inodes: 200,
            cgroup_cpu_ms_per_sec: 500,
            extra_ro_mounts: vec![ExtraMount {
                source: "/usr/share/zoneinfo".into(),
                target: Some("/opt/zoneinfo".into()),
            }],
            ..Default::default()
        };
        let host = HostFacts {
            cgroups: Some(CgroupLayout::V1 {
                memory: "/sys/fs/cgroup/memory".into(),
                pids: "/sys/fs/cgroup/pids".into(),
                cpu: "/sys/fs/cgroup/cpu".into(),
            }),
            ..root_host()
        };
        let plan = JailPlan {
            config: &cfg,
            host: &host,
            semantic_root: Path::new("/srv/a \"quoted\"\n dir"),
            seccomp_policy: Some(Path::new("/etc/atlas/strict.kafel")),
            state: None,
        };
        let text = plan.render();
        golden("toolbox-cgroups-v1.cfg", &text);
        assert!(
            !text.contains("dst: \"/usr\""),
            "a toolbox jail has no /usr"
        );
        assert!(text.contains("src: \"/srv/a \\\"quoted\\\"\\012 dir\""));
        assert!(text.contains("cgroup_mem_max: 268435456"));

        let host_v2 = HostFacts {
            cgroups: Some(CgroupLayout::V2 {
                mount: "/sys/fs/cgroup".into(),
            }),
            ..root_host()
        };
        let text = JailPlan {
            host: &host_v2,
            ..plan
        }
        .render();
        assert!(text.contains("use_cgroupv2: true\ncgroupv2_mount: \"/sys/fs/cgroup\""));
    }

    #[test]
    fn split_usr_binds_directories() {
        let cfg = NsjailConfig::default();
        let host = HostFacts {
            root_entries: vec![RootEntry::Dir {
                path: "/lib64".into(),
            }],
            ..root_host()
        };
        let text = JailPlan {
            config: &cfg,
            host: &host,
            semantic_root: Path::new("/s"),
            seccomp_policy: None,
            state: None,
        }
        .render();
        assert!(text.contains(
            "mount { src: \"/lib64\" dst: \"/lib64\" is_bind: true rw: false nosuid: true nodev: true }"
        ));
    }

    #[test]
    fn golden_exec_argv() {
        let args = exec_args(
            Path::new("/tmp/atlas-nsjail-x/jail.cfg"),
            Path::new("/tmp/atlas-nsjail-x/exec-7.log"),
            Duration::from_millis(2500),
            "models/sub dir",
            Shell::Bash,
            "grep -rn 'name:' . | head",
        );
        let text: String = args
            .iter()
            .map(|a| format!("{}\n", a.to_string_lossy()))
            .collect();
        golden("exec-argv.txt", &text);
        let root = exec_args(
            Path::new("c"),
            Path::new("l"),
            Duration::from_secs(10),
            "",
            Shell::Sh,
            "ls",
        );
        assert_eq!(root[5], "11");
        assert_eq!(root[7], "/semantic");
        assert_eq!(root[9], "/bin/sh");
    }

    #[test]
    fn ceil_secs_rounds_up() {
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::ZERO), 1);
        assert_eq!(ceil_secs(Duration::from_secs(3)), 3);
        assert_eq!(ceil_secs(Duration::from_millis(3001)), 4);
        assert_eq!(ceil_secs(Duration::MAX), u64::MAX);
        let args = exec_args(
            Path::new("c"),
            Path::new("l"),
            Duration::MAX,
            "",
            Shell::Bash,
            "true",
        );
        assert!(args.contains(&OsString::from(u64::MAX.to_string())));
    }

    #[test]
    fn quote_escapes_everything_unprintable() {
        assert_eq!(quote(b"/a b"), "\"/a b\"");
        assert_eq!(quote(b"a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote(&[b'x', 0xff, b'\n']), "\"x\\377\\012\"");
    }

    #[test]
    fn scan_sees_links_and_dirs() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("usr")).unwrap();
        std::os::unix::fs::symlink("usr/bin", t.path().join("bin")).unwrap();
        std::fs::create_dir(t.path().join("lib64")).unwrap();
        std::fs::create_dir_all(t.path().join("etc/alternatives")).unwrap();
        std::fs::write(t.path().join("etc/shadow"), "x").unwrap();
        let got = scan_root_entries(t.path());
        assert_eq!(
            got,
            vec![
                RootEntry::Link {
                    path: "/bin".into(),
                    target: "usr/bin".into()
                },
                RootEntry::Dir {
                    path: "/lib64".into()
                },
                RootEntry::Dir {
                    path: "/etc/alternatives".into()
                },
            ]
        );
    }
}
