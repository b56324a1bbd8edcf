//! Sessions on a cloud backend, counted on the E2B emulator: each session is one remote
//! sandbox, reused by its commands (files and the working directory carry); LRU eviction, idle
//! expiry and shutdown each delete the sandbox they close, so zero are left alive.

#![cfg(feature = "e2b")]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_emulator_e2b::{EmulatorOptions, start_with};
use atlas_emulator_kit::Kit;
use atlas_sandbox::config::SandboxSettings;
use atlas_sandbox::{Host, PluginSlot, SessionKey, SessionSettings, SessionTable};
use atlas_sandbox_sdk::{ExecRequest, PluginContext};
use common::example;

fn key(id: &str) -> SessionKey {
    common::key_in("a", id)
}

async fn run(t: &SessionTable, id: &str, root: &Path, cmd: &str) -> String {
    let lease = t.lease(key(id), root).await.unwrap();
    let (backend, out) = lease.exec(ExecRequest::new(cmd)).await.unwrap();
    assert_eq!(backend, "e2b");
    assert_eq!(out.exit_code, 0, "{cmd}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_expiry_and_shutdown_leave_no_sandbox_on_the_emulator() {
    let (_d, root) = example();
    let kit = Kit::new();
    let (emu, state) = start_with(kit, EmulatorOptions::default(), None)
        .await
        .unwrap();
    let d = atlas_sandbox::registry::compiled_in()
        .into_iter()
        .find(|d| d.id == "e2b")
        .unwrap();
    let config = serde_json::json!({
        "api_key": "e2b_test_0123456789abcdef",
        "api_url": emu.base_url,
        "sandbox_url": emu.base_url,
    });
    let plugin = (d.build)(config, &PluginContext::default()).unwrap();
    let host =
        Arc::new(Host::start(SandboxSettings::new(&root), vec![PluginSlot::ready(plugin)]).await);
    let settings = SessionSettings {
        max_sessions: 2,
        idle_timeout: Duration::from_millis(400),
        max_concurrent_per_session: 1,
    };
    let table = SessionTable::new(host, settings);

    // One remote sandbox per session, reused: a file and the cwd carry to the next command.
    run(&table, "1", &root, "cd entities && echo kept > /tmp/note").await;
    assert_eq!(
        run(&table, "1", &root, "basename \"$PWD\"; cat /tmp/note").await,
        "entities\nkept\n"
    );
    run(&table, "2", &root, "true").await;
    assert_eq!(state.live_sandboxes().len(), 2);
    // A third session evicts the least recently used (1): its sandbox is deleted.
    run(&table, "3", &root, "true").await;
    let s = table.stats();
    assert_eq!(
        (s.open, s.evicted, s.sandboxes_created, s.sandboxes_closed),
        (2, 1, 3, 1)
    );
    assert_eq!(state.live_sandboxes().len(), 2);

    // Idle expiry deletes the other two.
    let reaper = table.spawn_reaper();
    let t0 = Instant::now();
    while !state.live_sandboxes().is_empty() && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reaper.abort();
    let s = table.stats();
    assert_eq!((s.open, s.expired, s.sandboxes_closed), (0, 2, 3));
    assert_eq!(state.live_sandboxes(), Vec::<String>::new());

    // Shutdown closes what is open.
    run(&table, "4", &root, "true").await;
    run(&table, "5", &root, "true").await;
    assert_eq!(state.live_sandboxes().len(), 2);
    assert!(table.close_all().await.is_empty());
    assert_eq!(state.live_sandboxes(), Vec::<String>::new());
    assert_eq!(
        table.stats().sandboxes_closed,
        table.stats().sandboxes_created
    );
}
