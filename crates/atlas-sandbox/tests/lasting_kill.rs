//! A real `atlas-sandbox serve` with persistent E2B sessions and a warm pool, killed with
//! SIGKILL: `atlas-sandbox sessions` then lists the session's sandbox (owned by the store) and the
//! two pooled ones (owned by nobody now), `sweep` finds exactly the pooled ones and deletes
//! them, and a restarted server resumes the session's sandbox with its files.

#![cfg(all(feature = "e2b", feature = "server"))]
// The host binary is the thing under test: it is started, killed and run as a user would, with
// std's process API (as in server_faults.rs), not through the SDK's command runner.
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

mod common;

use common::wait_until;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(config: &Path, log: &Path) -> Server {
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

fn cli(config: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_atlas-sandbox"))
        .args(["--json", "--config"])
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn exec(url: &str, session: &str, command: &str) -> String {
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

fn ids(v: &serde_json::Value, pick: impl Fn(&serde_json::Value) -> bool) -> Vec<String> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_after_kill_9_finds_exactly_the_unowned_sandboxes() {
    let kit = atlas_emulator_kit::Kit::new();
    let (emu, state) =
        atlas_emulator_e2b::start_with(kit, atlas_emulator_e2b::EmulatorOptions::default(), None)
            .await
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config: PathBuf = dir.path().join("atlas.toml");
    std::fs::write(
        &config,
        format!(
            "[sandbox]\nsemantic_root = {:?}\nbackend = \"e2b\"\nstate_path = \"state/sessions.db\"\n\n\
             [plugins.e2b]\napi_key = \"e2b_test_0123456789abcdef\"\napi_url = {:?}\n\
             sandbox_url = {:?}\npersistent = true\npool_size = 2\n",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/semantic"),
            emu.base_url,
            emu.base_url
        ),
    )
    .unwrap();
    let log = dir.path().join("serve.log");
    let mut s = serve(&config, &log);
    exec(&s.url, "kept", "echo one > ${TMPDIR:-/tmp}/f").await;
    // The session's sandbox came from the pool, which refills to two.
    wait_until("a refilled pool", Duration::from_secs(30), || {
        state.live_sandboxes().len() == 3
    });
    s.child.kill().unwrap(); // SIGKILL: no shutdown, no pause, no pool drain.
    s.child.wait().unwrap();
    assert_eq!(
        state.live_sandboxes().len(),
        3,
        "nothing ended with the host"
    );

    let rows = cli(&config, &["sessions"]);
    let owned = ids(&rows, |r| r["role"] == "session");
    let pooled = ids(&rows, |r| r["role"] == "pooled");
    assert_eq!(owned.len(), 1, "{rows}");
    assert_eq!(pooled.len(), 2, "{rows}");
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] == "running" && r["age_secs"].is_u64()),
        "{rows}"
    );
    let session = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "session")
        .unwrap();
    assert!(
        session["session"].as_str().unwrap().ends_with("kept"),
        "{session}"
    );

    let dry = cli(
        &config,
        &[
            "sweep",
            "--backend",
            "e2b",
            "--older-than",
            "0s",
            "--dry-run",
        ],
    );
    let found = ids(&dry["sandboxes"], |_| true);
    assert_eq!(found, pooled, "exactly the unowned ones: {dry}");
    assert_eq!(state.live_sandboxes().len(), 3, "a dry run deletes nothing");
    let swept = cli(
        &config,
        &["sweep", "--backend", "e2b", "--older-than", "0s"],
    );
    assert_eq!(ids(&swept["sandboxes"], |r| r["killed"] == true), pooled);
    assert_eq!(state.live_sandboxes(), owned);

    // A restarted server resumes the session's sandbox, files and all.
    let s = serve(&config, &dir.path().join("serve2.log"));
    assert_eq!(exec(&s.url, "kept", "cat ${TMPDIR:-/tmp}/f").await, "one\n");
    assert!(state.live_sandboxes().contains(&owned[0]));
    drop(s);
}
