//! Sessions over the real just-bash backend: writes persist within a session and never cross
//! to another; the table evicts the least recently used session and expires idle ones, closing
//! their sandboxes; a closed session refuses commands.

#![cfg(feature = "just-bash")]
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use atlas_sandbox::config::SandboxSettings;
use atlas_sandbox::{Host, PluginSlot, SessionError, SessionKey, SessionSettings, SessionTable};
use atlas_sandbox_sdk::{ExecRequest, PluginContext};
use common::copy;

async fn host(root: &std::path::Path) -> Arc<Host> {
    let d = atlas_sandbox::registry::compiled_in()
        .into_iter()
        .find(|d| d.id == "just-bash")
        .unwrap();
    let plugin = (d.build)(serde_json::json!({}), &PluginContext::default()).unwrap();
    Arc::new(Host::start(SandboxSettings::new(root), vec![PluginSlot::ready(plugin)]).await)
}

fn key(scope: &str, id: &str) -> SessionKey {
    SessionKey {
        scope: scope.into(),
        layer: "default".into(),
        id: id.into(),
    }
}

fn example() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/semantic");
    let root = dir.path().join("semantic");
    copy(&src, &root);
    (dir, root)
}

async fn run(t: &SessionTable, k: SessionKey, root: &std::path::Path, cmd: &str) -> String {
    let lease = t.lease(k, root).await.unwrap();
    let (_, out) = lease.exec(ExecRequest::new(cmd)).await.unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn writes_stay_in_their_session() {
    let (_d, root) = example();
    let table = SessionTable::new(host(&root).await, SessionSettings::default());
    run(&table, key("a", "s1"), &root, "echo hello > notes.txt").await;
    assert_eq!(
        run(&table, key("a", "s1"), &root, "cat notes.txt").await,
        "hello\n"
    );
    // Another session id, and the same id under another owner, see none of it.
    for k in [key("a", "s2"), key("b", "s1")] {
        let lease = table.lease(k, &root).await.unwrap();
        let (_, out) = lease.exec(ExecRequest::new("cat notes.txt")).await.unwrap();
        assert_ne!(out.exit_code, 0);
    }
    // The host's files are untouched.
    assert!(!root.join("notes.txt").exists());
    let s = table.stats();
    assert_eq!((s.open, s.sandboxes_created), (3, 3));
    assert!(table.close_all().await.is_empty());
    assert_eq!(table.stats().sandboxes_closed, 3);
    assert_eq!(table.stats().open, 0);
}

#[tokio::test]
async fn lru_eviction_and_idle_expiry_close_sandboxes() {
    let (_d, root) = example();
    let settings = SessionSettings {
        max_sessions: 2,
        idle_timeout: Duration::from_millis(200),
        max_concurrent_per_session: 1,
    };
    let table = SessionTable::new(host(&root).await, settings);
    run(&table, key("a", "1"), &root, "touch one").await;
    run(&table, key("a", "2"), &root, "true").await;
    run(&table, key("a", "1"), &root, "true").await; // 2 is now the least recently used
    run(&table, key("a", "3"), &root, "true").await;
    let s = table.stats();
    assert_eq!((s.open, s.evicted, s.sandboxes_closed), (2, 1, 1));
    // 1 survived with its file.
    assert_eq!(run(&table, key("a", "1"), &root, "ls one").await, "one\n");

    let reaper = table.spawn_reaper();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let s = table.stats();
    assert_eq!((s.open, s.expired, s.sandboxes_closed), (0, 2, 3));
    reaper.abort();
}

#[tokio::test]
async fn a_held_session_is_not_evicted_and_a_closed_one_refuses() {
    let (_d, root) = example();
    let settings = SessionSettings {
        max_sessions: 1,
        ..SessionSettings::default()
    };
    let table = SessionTable::new(host(&root).await, settings);
    let held = table.lease(key("a", "1"), &root).await.unwrap();
    let err = table.lease(key("a", "2"), &root).await.unwrap_err();
    assert!(matches!(err, SessionError::Full(1)), "{err}");
    held.exec(ExecRequest::new("true")).await.unwrap();
    assert_eq!(table.close_id("a", "1").await, 1);
    let err = held.exec(ExecRequest::new("true")).await.unwrap_err();
    assert!(matches!(err, SessionError::Closed), "{err}");
    drop(held);
    assert_eq!(table.close_id("a", "1").await, 0);
}
