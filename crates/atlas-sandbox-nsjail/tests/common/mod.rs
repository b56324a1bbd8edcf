//! Shared fixtures of the integration tests: a semantic layer on disk, a sandbox over it, and
//! the loud skip when nsjail is absent.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atlas_sandbox_nsjail::{NsjailConfig, NsjailPlugin, NsjailSandbox};
use atlas_sandbox_sdk::{ExecOutput, ExecRequest, PluginContext, Sandbox, SemanticLayer};
/// Prints `SKIPPED: <test>: <why>`, the line the testkit suites print too.
pub use atlas_sandbox_testkit::skip;

/// The plugin with `config`, or `None` after printing the skip line when nsjail is absent.
pub fn plugin_or_skip(test: &str, config: NsjailConfig) -> Option<NsjailPlugin> {
    let plugin = NsjailPlugin::new(config, &PluginContext::default()).expect("valid config");
    match plugin.nsjail_binary() {
        Ok(_) => Some(plugin),
        Err(_) => {
            skip(test, "nsjail not found (set NSJAIL_PATH or put it on PATH)");
            None
        }
    }
}

/// Whether the tests run as root (then the jail uid is a real, separate uid on the host).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A small semantic layer in its own temp dir, next to a sibling `secret` dir that must never
/// be reachable from the jail.
pub struct Layer {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub secret_dir: PathBuf,
}

pub const SECRET: &str = "HOST-SECRET-7f3a9c";

impl Layer {
    pub fn new() -> Layer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("semantic");
        std::fs::create_dir_all(root.join("entities")).expect("mkdir");
        std::fs::create_dir_all(root.join("metrics")).expect("mkdir");
        for (path, text) in [
            ("catalog.yml", "name: shop\ndescription: the demo layer\n"),
            (
                "entities/orders.yml",
                "name: orders\ntable: public.orders\ncolumns:\n  - name: id\n  - name: total\n",
            ),
            (
                "entities/customers.yml",
                "name: customers\ntable: public.customers\ncolumns:\n  - name: id\n  - name: email\n",
            ),
            (
                "metrics/revenue.yml",
                "name: revenue\nsql: sum(orders.total)\n",
            ),
        ] {
            std::fs::write(root.join(path), text).expect("write");
        }
        let secret_dir = tmp.path().join("semantic_evil");
        std::fs::create_dir_all(&secret_dir).expect("mkdir");
        std::fs::write(secret_dir.join("leak.yml"), format!("secret: {SECRET}\n")).expect("write");
        Layer {
            tmp,
            root,
            secret_dir,
        }
    }

    pub fn open(&self) -> SemanticLayer {
        SemanticLayer::open(&self.root).expect("open layer")
    }

    /// Every file of the layer with its bytes and mode, to compare before and after.
    pub fn snapshot(&self) -> BTreeMap<String, (Vec<u8>, u32)> {
        use std::os::unix::fs::PermissionsExt;
        fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, (Vec<u8>, u32)>) {
            let mut entries: Vec<_> = std::fs::read_dir(dir)
                .expect("read_dir")
                .map(|e| e.expect("entry").path())
                .collect();
            entries.sort();
            for p in entries {
                let meta = std::fs::symlink_metadata(&p).expect("meta");
                let rel = p.strip_prefix(base).expect("prefix").display().to_string();
                if meta.is_dir() {
                    out.insert(format!("{rel}/"), (Vec::new(), meta.permissions().mode()));
                    walk(&p, base, out);
                } else if meta.file_type().is_symlink() {
                    let t = std::fs::read_link(&p).expect("link");
                    out.insert(rel, (t.display().to_string().into_bytes(), 0));
                } else {
                    out.insert(
                        rel,
                        (std::fs::read(&p).expect("read"), meta.permissions().mode()),
                    );
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.root, &self.root, &mut out);
        out
    }
}

/// A plugin, a layer and a live sandbox over it.
pub struct Fixture {
    pub plugin: NsjailPlugin,
    pub layer: Layer,
    pub sandbox: NsjailSandbox,
}

impl Fixture {
    pub async fn new(test: &str, config: NsjailConfig) -> Option<Fixture> {
        let plugin = plugin_or_skip(test, config)?;
        let layer = Layer::new();
        Self::with_layer(plugin, layer).await
    }

    pub async fn with_layer(plugin: NsjailPlugin, layer: Layer) -> Option<Fixture> {
        let sandbox = plugin
            .create_jail(&layer.open())
            .await
            .expect("create sandbox");
        Some(Fixture {
            plugin,
            layer,
            sandbox,
        })
    }

    pub async fn run(&self, cmd: &str) -> ExecOutput {
        self.sandbox
            .exec(ExecRequest::new(cmd).timeout(Duration::from_secs(10)))
            .await
            .unwrap_or_else(|e| panic!("exec {cmd:?} failed: {e}"))
    }

    /// Runs `cmd` and fails unless it exits non-zero.
    pub async fn run_refused(&self, cmd: &str) -> ExecOutput {
        let out = self.run(cmd).await;
        assert_ne!(out.exit_code, 0, "{cmd:?} succeeded: {out:?}");
        out
    }

    pub async fn run_req(&self, req: ExecRequest) -> ExecOutput {
        let cmd = req.command.clone();
        self.sandbox
            .exec(req)
            .await
            .unwrap_or_else(|e| panic!("exec {cmd:?} failed: {e}"))
    }
}

/// Every process in /proc with the text of its `/proc/<pid>/<file>`; those gone by the time
/// the file is read are left out.
fn proc_files(file: &str) -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let text = std::fs::read_to_string(e.path().join(file)).ok()?;
            Some((pid, text))
        })
        .collect()
}

/// Live (non-zombie) processes whose real uid is `uid`.
pub fn processes_of_uid(uid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for (pid, status) in proc_files("status") {
        let zombie = status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'));
        let real_uid = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|u| u.parse::<u32>().ok());
        if real_uid == Some(uid) && !zombie {
            out.push(pid);
        }
    }
    out
}

/// Direct children of this process that are nsjail.
pub fn nsjail_children() -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    for (pid, stat) in proc_files("stat") {
        // pid (comm) state ppid ...
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = &stat[stat.find('(').map_or(0, |i| i + 1)..close];
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().unwrap_or("");
        let ppid = rest.next().and_then(|p| p.parse::<u32>().ok());
        if comm == "nsjail" && ppid == Some(me) && state != "Z" {
            out.push(pid);
        }
    }
    out
}

/// The nsjail child of this process whose command line contains `needle`.
pub fn nsjail_child_with(needle: &str) -> Option<u32> {
    nsjail_children().into_iter().find(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(needle))
            .unwrap_or(false)
    })
}

/// Runs a host program through the SDK's runner (the only spawner the workspace allows).
pub async fn host_run(program: &str, args: &[&str], timeout: Duration) -> ExecOutput {
    let spec = atlas_sandbox_sdk::process::ProcessSpec::new(program)
        .args(args.iter().copied())
        .env("PATH", "/usr/bin:/bin")
        .timeout(timeout);
    atlas_sandbox_sdk::process::run(&spec)
        .await
        .unwrap_or_else(|e| panic!("{program}: {e}"))
        .output
}

/// Waits up to `limit` for `cond` to hold.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a program exists in the host's /usr (the jail sees the same /usr).
pub fn host_has(program: &str) -> bool {
    Path::new("/usr/bin").join(program).exists()
}

/// How long a jail's processes get to go away (or to show up) before a test fails.
pub const SETTLE: Duration = Duration::from_secs(3);

/// Fails with `what` unless at least `n` processes of `uid` show up in time.
pub async fn assert_processes_of_uid_start(uid: u32, n: usize, what: &str) {
    assert!(
        eventually(SETTLE, || processes_of_uid(uid).len() >= n).await,
        "{what}"
    );
}

/// Fails with `what` and the survivors unless every process of `uid` goes away in time.
pub async fn assert_processes_of_uid_end(uid: u32, what: &str) {
    assert!(
        eventually(SETTLE, || processes_of_uid(uid).is_empty()).await,
        "{what}: {:?}",
        processes_of_uid(uid)
    );
}

/// Fails with `what` unless every nsjail child of this process started with `config` (a
/// sandbox's config file: other tests of this binary run jails of their own meanwhile) goes
/// away in time.
pub async fn assert_nsjail_children_end(config: &std::path::Path, what: &str) {
    let needle = config.display().to_string();
    assert!(
        eventually(SETTLE, || nsjail_child_with(&needle).is_none()).await,
        "{what}"
    );
}
