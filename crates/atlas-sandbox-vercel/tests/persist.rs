//! Sessions that last, against the Vercel emulator through the plugin's `Persistence`: a
//! persistent sandbox's stopped session is snapshotted and resumed by name with its files, the
//! vendor refuses commands on the stopped session, the snapshot expiry set from config fires,
//! and every failure is an error the host can fall back on.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{ErrorKind, ExecRequest, RemoteState, Sandbox, SandboxPlugin};
use common::eventually;

fn persistent(c: atlas_sandbox_vercel::VercelConfig) -> atlas_sandbox_vercel::VercelConfig {
    let mut c = c;
    c.persistent = true;
    c
}

async fn run(sb: &dyn Sandbox, cmd: &str) -> String {
    let out = sb.exec(ExecRequest::new(cmd)).await.expect("exec");
    assert_eq!(out.exit_code, 0, "{cmd}: {}", out.stderr_str());
    out.stdout_str().into_owned()
}

async fn state_in_list(s: &common::Setup, name: &str) -> RemoteState {
    let all = s.plugin.persistence().unwrap().list().await.unwrap();
    all.into_iter()
        .find(|r| r.id == name)
        .expect("listed")
        .state
}

/// A command straight to the vendor on a session id, as any client would send it.
async fn raw_run(s: &common::Setup, session_id: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!(
            "{}/v2/sandboxes/sessions/{session_id}/cmd?teamId=team_test",
            s.running.base_url
        ))
        .bearer_auth(common::TOKEN)
        .json(&serde_json::json!({"command": "cat", "args": ["keep.txt"], "cwd": "/tmp", "wait": true, "logs": true}))
        .send()
        .await
        .unwrap()
        .status()
}

/// The session id the emulator recorded for the last command on a sandbox.
fn last_session_id(s: &common::Setup) -> String {
    let r = s
        .kit
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/cmd"))
        .expect("a command was sent");
    r.path
        .trim_start_matches("/v2/sandboxes/sessions/")
        .trim_end_matches("/cmd")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_snapshots_refuses_commands_and_resume_restores_files() {
    let s = common::setup_with(persistent).await;
    assert!(s.plugin.session_policy().persistent);
    let persist = s.plugin.persistence().unwrap();
    let sb = persist
        .create_persistent(&s.layer, "session-a")
        .await
        .unwrap();
    let name = sb.remote_id().expect("a persistent sandbox has a name");

    // The safety nets travel with the create: a snapshot kept paused_retention (24 h), the
    // newest one only, and the session lifetime.
    let (expiration, keep) = s.emu.snapshot_settings(&name).unwrap();
    assert_eq!(expiration, Some(24 * 3600 * 1000));
    assert_eq!(keep, Some(serde_json::json!({"count": 1})));
    let tags = s.emu.tags(&name).unwrap();
    assert_eq!(
        tags.get("atlas-sandbox-owner").map(String::as_str),
        Some("session-a")
    );

    run(&*sb, "echo kept > ${TMPDIR:-/tmp}/keep.txt").await;
    assert_eq!(run(&*sb, "cat entities/orders.yml").await, "name: orders\n");
    let session_id = last_session_id(&s);
    assert_eq!(state_in_list(&s, &name).await, RemoteState::Running);

    sb.pause().await.unwrap();
    assert_eq!(s.emu.sandbox_status(&name).as_deref(), Some("stopped"));
    assert!(s.emu.has_snapshot(&name));
    assert_eq!(s.emu.running_sessions(), 0, "nothing bills while paused");
    assert_eq!(state_in_list(&s, &name).await, RemoteState::Paused);
    let err = sb.exec(ExecRequest::new("true")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SandboxGone, "{err}");
    assert_eq!(
        raw_run(&s, &session_id).await,
        410,
        "the vendor refuses the stopped session"
    );
    let billed = s.emu.compute_time(&name);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        s.emu.compute_time(&name),
        billed,
        "no compute while stopped"
    );
    persist.pause(&name).await.unwrap();

    let back = persist.resume(&name).await.unwrap();
    assert_eq!(back.remote_id().as_deref(), Some(name.as_str()));
    assert_eq!(run(&*back, "cat ${TMPDIR:-/tmp}/keep.txt").await, "kept\n");
    assert_eq!(
        run(&*back, "cat entities/orders.yml").await,
        "name: orders\n"
    );
    assert_eq!(state_in_list(&s, &name).await, RemoteState::Running);

    back.close().await.unwrap();
    s.assert_nothing_left();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_sandboxes_expired_snapshots_and_idempotent_delete() {
    let s = common::setup_with(|c| {
        let mut c = persistent(c);
        c.snapshot_expiration = Some(atlas_sandbox_sdk::HumanDuration(Duration::from_secs(60)));
        c
    })
    .await;
    let persist = s.plugin.persistence().unwrap();
    let sb = persist
        .create_persistent(&s.layer, "session-b")
        .await
        .unwrap();
    let name = sb.remote_id().unwrap();
    sb.pause().await.unwrap();

    // The vendor's clock: one minute lasts 60 ms here; the snapshot expires, resume is gone.
    s.emu.set_time_scale(1000);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!s.emu.has_snapshot(&name));
    let err = persist.resume(&name).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SandboxGone, "{err}");
    assert!(err.to_string().contains("snapshot"), "{err}");

    persist.delete(&name).await.unwrap();
    persist.delete(&name).await.unwrap();
    let err = persist.resume(&name).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SandboxGone, "{err}");
    let err = persist.pause(&name).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SandboxGone, "{err}");
    assert!(persist.list().await.unwrap().is_empty());
    s.assert_nothing_left();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_5xx_on_resume_is_an_error_not_a_hang() {
    let s = common::setup_with(persistent).await;
    let persist = s.plugin.persistence().unwrap();
    let sb = persist
        .create_persistent(&s.layer, "session-c")
        .await
        .unwrap();
    let name = sb.remote_id().unwrap();
    sb.pause().await.unwrap();

    s.fail_next(
        &format!("/v2/sandboxes/{name}"),
        100,
        503,
        "internal_error",
        "no capacity",
    );
    let started = Instant::now();
    let err = persist.resume(&name).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "bounded");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.is_temporary(), "{err}");
    assert!(err.to_string().contains("no capacity"), "{err}");
    assert_eq!(
        s.emu.running_sessions(),
        0,
        "nothing started behind the error"
    );
    s.kit.clear();
    persist.delete(&name).await.unwrap();
    s.assert_nothing_left();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifetime_timer_snapshots_and_the_live_handle_resumes() {
    let s = common::setup_with(persistent).await;
    let persist = s.plugin.persistence().unwrap();
    let sb = persist
        .create_persistent(&s.layer, "session-d")
        .await
        .unwrap();
    let name = sb.remote_id().unwrap();
    run(&*sb, "echo kept > ${TMPDIR:-/tmp}/keep.txt").await;

    // The 5 min lifetime runs out (a 300 ms clock here): the vendor stops and snapshots it.
    s.emu.set_time_scale(1000);
    eventually("the lifetime stops the session", || {
        s.emu.sandbox_status(&name).as_deref() == Some("stopped")
    })
    .await;
    assert!(s.emu.has_snapshot(&name));
    s.emu.set_time_scale(1);
    // The live handle resumes it from the snapshot on its next command.
    assert_eq!(run(&*sb, "cat ${TMPDIR:-/tmp}/keep.txt").await, "kept\n");
    assert_eq!(s.emu.running_sessions(), 1);

    // A dropped persistent handle is stopped (snapshotted), not deleted.
    drop(sb);
    eventually("the dropped handle's session stops", || {
        s.emu.running_sessions() == 0
    })
    .await;
    assert_eq!(s.emu.sandbox_count(), 1);
    let back = persist.resume(&name).await.unwrap();
    assert_eq!(run(&*back, "cat ${TMPDIR:-/tmp}/keep.txt").await, "kept\n");
    back.close().await.unwrap();
    s.assert_nothing_left();
}

#[test]
fn session_keys_map_to_the_policy() {
    let mut c = common::config("http://127.0.0.1:1");
    c.persistent = true;
    c.pool_size = 2;
    c.pools.insert("acme".into(), 1);
    c.max_sandboxes = Some(10);
    c.paused_retention = atlas_sandbox_sdk::HumanDuration(Duration::from_secs(7200));
    let p = c.session_policy();
    assert!(p.persistent);
    assert_eq!(p.pools.get("default"), Some(&2));
    assert_eq!(p.pools.get("acme"), Some(&1));
    assert_eq!(p.max_sandboxes, Some(10));
    assert_eq!(p.paused_retention, Duration::from_secs(7200));
    let d = common::config("http://127.0.0.1:1");
    assert_eq!(
        d.session_policy(),
        atlas_sandbox_sdk::SessionPolicy::default()
    );
}
