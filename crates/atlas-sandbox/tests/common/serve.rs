//! A real `atlas-sandbox serve` process and the CLI, run as a user would (lasting_kill.rs,
//! sweep_lease.rs), with std's process API, not through the SDK's command runner.

#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atlas_sandbox::persist::{LEASE, Store, store::now_secs};

use super::wait_until;

/// A running `atlas-sandbox serve`; dropping it kills it with SIGKILL.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// SIGKILL: no shutdown, no pause, no pool drain, no lease release.
    pub(crate) fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits up to 30 s for the orderly shutdown to finish.
    pub(crate) fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let t0 = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "serve did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// Starts `atlas-sandbox serve` on a free port with `config`, its stderr in `log`, and waits
/// until it listens.
pub(crate) fn serve(config: &Path, log: &Path) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_atlas-sandbox"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let mut s = Server {
        child,
        url: String::new(),
    };
    wait_until("serve listens", Duration::from_secs(60), || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        match text
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
        {
            Some(a) => {
                s.url = format!("http://{a}");
                true
            }
            None => false,
        }
    });
    s
}

/// `atlas-sandbox --json --config <config> <args>`: it must succeed; its JSON output.
pub(crate) fn cli(config: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&cli_stdout(config, &["--json"], args)).unwrap()
}

/// `atlas-sandbox --config <config> <args>` (text output): it must succeed; its stdout.
pub(crate) fn cli_text(config: &Path, args: &[&str]) -> String {
    String::from_utf8(cli_stdout(config, &[], args)).unwrap()
}

fn cli_stdout(config: &Path, global: &[&str], args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_atlas-sandbox"))
        .args(global)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `command` in session `session` of the server at `url` (POST /v1/exec); it must exit 0.
/// Its stdout.
pub(crate) async fn exec(url: &str, session: &str, command: &str) -> String {
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/v1/exec"))
        .json(&serde_json::json!({"command": command, "session": session}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["exit_code"], 0, "{r}");
    r["stdout"].as_str().unwrap_or_default().to_owned()
}

/// The sorted `id`s of the rows of a JSON array that `pick` accepts.
pub(crate) fn ids(v: &serde_json::Value, pick: impl Fn(&serde_json::Value) -> bool) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| pick(r))
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

/// Ages the lease of the host that ran as `pid` (in the store at `store`) past [`LEASE`], as if
/// it had been gone that long: the tests do not wait 90 s. Returns its instance id.
pub(crate) fn age_lease(store: &Path, pid: u32) -> String {
    let store = Store::new(store);
    let (id, mut lease) = store
        .instances()
        .unwrap()
        .into_iter()
        .find(|(_, i)| i.pid == pid)
        .expect("the host wrote a lease");
    lease.heartbeat = now_secs() - LEASE.as_secs() - 1;
    store.heartbeat(&id, &lease).unwrap();
    assert!(!store.live_instances(LEASE).unwrap().contains(&id));
    id
}
