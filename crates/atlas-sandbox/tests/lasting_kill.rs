//! A real `atlas-sandbox serve` with persistent E2B sessions and a warm pool, killed with
//! SIGKILL: once its instance lease has lapsed, `atlas-sandbox sessions` lists the session's
//! sandbox (owned by the store) and the two pooled ones (owned by nobody now), `sweep` finds
//! exactly the pooled ones and deletes them, and a restarted server resumes the session's
//! sandbox with its files. (tests/sweep_lease.rs: what sweep spares while a host runs.)

#![cfg(all(feature = "e2b", feature = "server"))]
// The host binary is the thing under test: it is started, killed and run as a user would, with
// std's process API (as in server_faults.rs), not through the SDK's command runner.
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

mod common;

use common::serve::{age_lease, cli, exec, ids, serve};
use common::wait_until;
use std::path::PathBuf;
use std::time::Duration;

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
    let pid = s.child.id();
    s.kill_9(); // SIGKILL: no shutdown, no pause, no pool drain, no lease release.
    assert_eq!(
        state.live_sandboxes().len(),
        3,
        "nothing ended with the host"
    );
    // Its lease lapses 90 s after its last heartbeat; until then sweep takes it for running.
    age_lease(&dir.path().join("state/sessions.db"), pid);

    let rows = cli(&config, &["sessions"]);
    let owned = ids(&rows, |r| r["role"] == "session");
    let pooled = ids(&rows, |r| r["role"] == "pooled");
    assert_eq!(owned.len(), 1, "{rows}");
    assert_eq!(pooled.len(), 2, "{rows}");
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] == "running"
                && r["age_secs"].is_u64()
                && r["host_running"] == false),
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
    assert_eq!(dry["kept"], serde_json::json!([]), "{dry}");
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
