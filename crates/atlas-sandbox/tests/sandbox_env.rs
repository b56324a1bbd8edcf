//! `[sandbox.env]` reaches every command on every backend: just-bash in-process, and the E2B,
//! Daytona and Vercel emulators, through a one-shot command, a session, and a persistent
//! session's resumed sandbox. The command sees the variable, so do the programs it starts, and a
//! syntax error still names the caller's own line.

#![cfg(all(
    feature = "just-bash",
    feature = "e2b",
    feature = "daytona",
    feature = "vercel"
))]
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use atlas_emulator_kit::{Kit, RunningEmulator};
use atlas_sandbox::config::SandboxSettings;
use atlas_sandbox::{Host, PluginSlot, SessionKey, SessionSettings, SessionTable};
use atlas_sandbox_sdk::{ExecRequest, PluginContext};

const SCRIPT: &str = "echo \"$REGION|$QUOTED\"; sh -c 'echo child:$REGION'";
const WANT: &str = "eu-west|it's \"x\" $HOME \\ `id`\nchild:eu-west\n";

fn env() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("REGION".to_owned(), "eu-west".to_owned()),
        ("QUOTED".to_owned(), "it's \"x\" $HOME \\ `id`".to_owned()),
    ])
}

fn layer() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("semantic");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("catalog.yml"), "name: shop\n").unwrap();
    (dir, root)
}

async fn host(id: &str, table: serde_json::Value, root: &Path, store: &Path) -> Arc<Host> {
    host_with(id, table, root, store, env()).await
}

async fn host_with(
    id: &str,
    table: serde_json::Value,
    root: &Path,
    store: &Path,
    env: BTreeMap<String, String>,
) -> Arc<Host> {
    let d = atlas_sandbox::registry::compiled_in()
        .into_iter()
        .find(|d| d.id == id)
        .unwrap();
    let plugin = (d.build)(table, &PluginContext::default()).unwrap();
    let mut settings = SandboxSettings::new(root);
    settings.env = env;
    settings.state_path = store.to_path_buf();
    Arc::new(Host::start(settings, vec![PluginSlot::ready(plugin)]).await)
}

async fn emulator(id: &str) -> (RunningEmulator, serde_json::Value, Box<dyn std::any::Any>) {
    let kit = Kit::new();
    match id {
        "e2b" => {
            let (emu, state) = atlas_emulator_e2b::start_with(kit, Default::default(), None)
                .await
                .unwrap();
            let t = serde_json::json!({
                "api_key": "e2b_test_key_0123456789",
                "api_url": emu.base_url,
                "sandbox_url": emu.base_url,
            });
            (emu, t, Box::new(state))
        }
        "daytona" => {
            const KEY: &str = "dtn_test_key_0123456789";
            let (emu, control) = atlas_emulator_daytona::start_with_control(kit).await;
            control.set_api_key(Some(KEY));
            let t = serde_json::json!({ "api_key": KEY, "api_url": control.api_url() });
            (emu, t, Box::new(control))
        }
        _ => {
            let (emu, state) = atlas_emulator_vercel::start_with(kit, None).await;
            let t = serde_json::json!({
                "token": "vercel_test_token_0123456789",
                "team_id": "team_test",
                "project_id": "prj_test",
                "api_url": emu.base_url,
            });
            (emu, t, Box::new(state))
        }
    }
}

fn key() -> SessionKey {
    SessionKey {
        scope: "t".into(),
        layer: "default".into(),
        id: "s".into(),
    }
}

async fn one_shot(h: &Host, root: &Path) -> String {
    let (_, out) = h.exec(root, ExecRequest::new(SCRIPT)).await.unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    h.shutdown().await;
    out.stdout_str().into_owned()
}

async fn in_session(t: &SessionTable, root: &Path, cmd: &str) -> atlas_sandbox_sdk::ExecOutput {
    let lease = t.lease(key(), root).await.unwrap();
    lease.exec(ExecRequest::new(cmd)).await.unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn just_bash_sees_the_configured_variables() {
    let (dir, root) = layer();
    let store = dir.path().join("sessions.db");
    let h = host("just-bash", serde_json::json!({}), &root, &store).await;
    assert_eq!(one_shot(&h, &root).await, WANT);
    let t = SessionTable::new(h, SessionSettings::default());
    let out = in_session(&t, &root, SCRIPT).await;
    assert_eq!(out.stdout_str(), WANT);
    // just-bash names the column of a syntax error: the caller's, not one the exports moved.
    let bad = in_session(&t, &root, "echo (").await;
    let plain = host_with(
        "just-bash",
        serde_json::json!({}),
        &root,
        &store,
        BTreeMap::new(),
    )
    .await;
    let (_, want) = plain.exec(&root, ExecRequest::new("echo (")).await.unwrap();
    assert_eq!(bad.exit_code, want.exit_code);
    assert_eq!(bad.stderr_str(), want.stderr_str());
    t.close_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cloud_backend_sees_them_one_shot_in_a_session_and_after_a_resume() {
    for id in ["e2b", "daytona", "vercel"] {
        let (dir, root) = layer();
        let store = dir.path().join("sessions.db");
        let (_emu, table, _keep) = emulator(id).await;
        let h = host(id, table.clone(), &root, &store).await;
        assert_eq!(one_shot(&h, &root).await, WANT, "{id} one-shot");

        let mut persistent = table.clone();
        persistent["persistent"] = true.into();
        let settings = SessionSettings {
            idle_timeout: Duration::from_millis(50),
            ..SessionSettings::default()
        };
        let t = SessionTable::new(host(id, persistent, &root, &store).await, settings);
        let out = in_session(&t, &root, SCRIPT).await;
        assert_eq!(out.stdout_str(), WANT, "{id} session: {out:?}");
        // bash echoes line 1 of a syntax error; the exports on that line are not shown.
        let bad = in_session(&t, &root, "echo 'unterminated").await;
        assert_ne!(bad.exit_code, 0, "{id}");
        assert!(!bad.stderr_str().contains("REGION"), "{id}: {bad:?}");
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(t.reap_idle().await, 1);
        assert_eq!(t.stats().sandboxes_paused, 1, "{id}");
        let out = in_session(&t, &root, SCRIPT).await;
        assert_eq!(out.stdout_str(), WANT, "{id} resumed: {out:?}");
        assert_eq!(t.stats().sandboxes_resumed, 1, "{id}");
        assert!(t.close(&key()).await);
        t.close_all().await;
    }
}
