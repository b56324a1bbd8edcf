//! Shared fixtures of the integration tests: the plugin, re-running this test binary as a child
//! (unprivileged, or under a seccomp filter, or to be killed), and the process table.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};

use atlas_sandbox_jail::{JailConfig, JailPlugin, JailSandbox};
use atlas_sandbox_sdk::{PluginContext, SemanticLayer};
pub use atlas_sandbox_testkit::skip;

/// The uid/gid an unprivileged re-run uses when the tests run as root (`nobody`).
pub const UNPRIVILEGED: (u32, u32) = (65534, 65534);
/// Set in a child re-run: the name of the role it plays.
pub const CHILD_ROLE: &str = "ATLAS_JAIL_TEST_CHILD";

pub fn plugin(config: JailConfig) -> JailPlugin {
    JailPlugin::new(config, &PluginContext::default()).expect("valid config")
}

/// The plugin, or `None` after a loud skip when this machine cannot run the jail.
pub fn plugin_or_skip(test: &str, config: JailConfig) -> Option<JailPlugin> {
    let p = plugin(config);
    match p.diagnose() {
        Ok(_) => Some(p),
        Err(why) => {
            skip(test, &why);
            None
        }
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

pub async fn sandbox(plugin: &JailPlugin, root: &std::path::Path) -> JailSandbox {
    let layer = SemanticLayer::open(root).expect("open layer");
    plugin.create_jail(&layer).await.expect("create")
}

/// The role this process plays when it is a re-run child (None in the normal test run).
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ROLE).ok()
}

/// Re-runs `test` of this binary as [`UNPRIVILEGED`] with the role `role` and checks that it
/// ran and passed there.
#[allow(dead_code)] // not every test binary re-runs unprivileged
pub fn rerun_unprivileged(test: &str, role: &str) {
    let mut rerun = Rerun::new(test, role);
    rerun.as_user = Some(UNPRIVILEGED);
    let out = rerun.run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{test} failed unprivileged");
    assert!(
        stdout.contains("1 passed"),
        "the unprivileged re-run did not run {test}"
    );
}

/// As root (and not already a re-run), re-runs `test` as [`UNPRIVILEGED`]; otherwise nothing.
pub fn rerun_unprivileged_from_root(test: &str, role: &str) {
    if child_role().is_some() || !is_root() {
        return;
    }
    rerun_unprivileged(test, role);
}

/// Runs `command`; a failure to run it fails the test.
pub async fn run(sb: &JailSandbox, command: &str) -> atlas_sandbox_sdk::ExecOutput {
    use atlas_sandbox_sdk::Sandbox;
    sb.exec(atlas_sandbox_sdk::ExecRequest::new(command))
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"))
}

/// Runs `command` and checks its exit code, stdout and stderr.
pub async fn expect(sb: &JailSandbox, command: &str, code: i32, stdout: &str, stderr: &str) {
    let out = run(sb, command).await;
    assert_eq!(
        (
            out.exit_code,
            String::from_utf8_lossy(&out.stdout).as_ref(),
            String::from_utf8_lossy(&out.stderr).as_ref()
        ),
        (code, stdout, stderr),
        "{command}"
    );
}

/// How to re-run this test binary for one test.
pub struct Rerun {
    pub test: String,
    pub role: String,
    pub env: Vec<(String, String)>,
    pub as_user: Option<(u32, u32)>,
    pub seccomp_filter: Option<Vec<seccompiler::BpfProgram>>,
}

impl Rerun {
    pub fn new(test: &str, role: &str) -> Self {
        Rerun {
            test: test.into(),
            role: role.into(),
            env: Vec::new(),
            as_user: None,
            seccomp_filter: None,
        }
    }

    pub fn command(self) -> Command {
        let exe = std::env::current_exe().expect("current exe");
        let mut cmd = Command::new(exe);
        cmd.args([
            self.test.as_str(),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ROLE, &self.role)
        .envs(self.env)
        .stdin(Stdio::null());
        if let Some((uid, gid)) = self.as_user {
            // std clears the supplementary groups when root switches uid.
            cmd.uid(uid).gid(gid).env("HOME", "/tmp");
        }
        if let Some(filters) = self.seccomp_filter {
            // SAFETY: prctl and seccomp are async-signal-safe; the programs were built before
            // the fork.
            unsafe {
                cmd.pre_exec(move || {
                    rustix::thread::set_no_new_privs(true)?;
                    for f in &filters {
                        seccompiler::apply_filter(f).map_err(std::io::Error::other)?;
                    }
                    Ok(())
                });
            }
        }
        cmd
    }

    pub fn run(self) -> Output {
        let test = self.test.clone();
        let out = self.command().output().expect("re-run the test binary");
        eprintln!(
            "--- child {test}: {}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// Every live descendant of this process (zombies included), by pid.
pub fn descendants() -> BTreeSet<i32> {
    descendants_of(std::process::id() as i32)
}

/// Every live descendant of `me` (zombies included), by pid.
pub fn descendants_of(me: i32) -> BTreeSet<i32> {
    let mut parent = std::collections::HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // The command name is in parentheses and may contain spaces.
            if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r)
                && let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok())
            {
                parent.insert(pid, ppid);
            }
        }
    }
    parent
        .keys()
        .copied()
        .filter(|&pid| {
            let mut p = pid;
            for _ in 0..64 {
                match parent.get(&p) {
                    Some(&pp) if pp == me => return true,
                    Some(&pp) if pp > 1 => p = pp,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

/// Pids whose command line contains `needle`.
pub fn processes_with(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                if cmd.contains(needle) {
                    out.push(pid);
                }
            }
        }
    }
    out
}

/// Polls `cond` for up to `secs` seconds.
pub async fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    cond()
}

/// Starts this binary re-run as a host (`role` in `test`) and reads the keeper pid it prints
/// (`KEEPER <pid>`). The child is piped, so kill it when done.
pub fn start_host_child(rerun: Rerun) -> (std::process::Child, i32) {
    use std::io::{BufRead, BufReader};
    let mut child = rerun
        .command()
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the host child");
    let keeper = child.stdout.take().and_then(|stdout| {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                // libtest prints the test's name on the same line first.
                line.split_once("KEEPER ")
                    .and_then(|(_, pid)| pid.trim().parse().ok())
            })
    });
    match keeper {
        Some(pid) => (child, pid),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the host child printed no keeper pid");
        }
    }
}

/// The body of a host child: opens a sandbox with `config`, prints its keeper pid and runs
/// `command` (which should last) until it is killed.
pub fn host_child(config: JailConfig, command: String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        use atlas_sandbox_sdk::{ExecRequest, Sandbox};
        let plugin = plugin(config);
        let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
        let sb = sandbox(&plugin, &root).await;
        println!("KEEPER {}", sb.worker_pid().expect("pid"));
        let _ = sb
            .exec(ExecRequest::new(command).timeout(std::time::Duration::from_secs(60)))
            .await;
    });
}
