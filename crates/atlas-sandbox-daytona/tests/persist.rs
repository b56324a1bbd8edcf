//! Sessions that last, against the Daytona emulator through the plugin's `Persistence`: stop
//! keeps the files and bills nothing, the toolbox refuses a stopped sandbox, start brings it
//! back, the auto-stop / auto-archive / auto-delete intervals set at creation fire, and every
//! failure is an error the host can fall back on.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use atlas_emulator_kit::Kit;
use atlas_sandbox_daytona::{DaytonaConfig, DaytonaPlugin};
use atlas_sandbox_sdk::{
    ErrorKind, ExecRequest, HumanDuration, RemoteState, Sandbox, SandboxPlugin, Secret,
    SemanticLayer,
};

use common::{Env, KEY, env, plugin_with};

fn config(e: &Env) -> DaytonaConfig {
    let mut c = DaytonaConfig::new(Secret::new(KEY));
    c.api_url = e.control.api_url();
    c.create_timeout = HumanDuration(Duration::from_secs(5));
    c.persistent = true;
    c
}

fn layer() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("semantic");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("catalog.yml"), "name: shop\n").unwrap();
    (tmp, root)
}

async fn create(p: &DaytonaPlugin, root: &PathBuf, owner: &str) -> Box<dyn Sandbox> {
    p.persistence()
        .unwrap()
        .create_persistent(&SemanticLayer::open(root).unwrap(), owner)
        .await
        .unwrap()
}

async fn run(sb: &dyn Sandbox, cmd: &str) -> String {
    let out = sb.exec(ExecRequest::new(cmd)).await.unwrap();
    assert_eq!(out.exit_code, 0, "{cmd}: {}", out.stderr_str());
    out.stdout_str().into_owned()
}

/// A toolbox request straight to the vendor, as any client would send it.
async fn raw_execute(e: &Env, id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/{id}/process/execute", e.control.toolbox_url()))
        .bearer_auth(KEY)
        .json(&serde_json::json!({"command": "cat ${TMPDIR:-/tmp}/keep.txt"}))
        .send()
        .await
        .unwrap()
}

async fn state_in_list(p: &DaytonaPlugin, id: &str) -> RemoteState {
    let all = p.persistence().unwrap().list().await.unwrap();
    all.into_iter().find(|s| s.id == id).unwrap().state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_keeps_files_refuses_commands_and_resume_brings_them_back() {
    let e = env().await;
    let p = plugin_with(config(&e));
    assert!(p.session_policy().persistent);
    let (_t, root) = layer();
    let sb = create(&p, &root, "session-a").await;
    let id = sb.remote_id().expect("a persistent sandbox has an id");

    // The safety nets travel with the create: stop after 15 idle minutes, archive at the
    // vendor's default, delete paused_retention (24 h) after it stopped.
    assert_eq!(e.control.intervals(&id), Some((15, 10080, 1440)));
    let labels = e.control.labels(&id).unwrap();
    assert_eq!(
        labels.get("atlas-sandbox-owner").map(String::as_str),
        Some("session-a")
    );

    run(&*sb, "echo kept > ${TMPDIR:-/tmp}/keep.txt").await;
    assert_eq!(run(&*sb, "cat catalog.yml").await, "name: shop\n");
    assert_eq!(state_in_list(&p, &id).await, RemoteState::Running);

    sb.pause().await.unwrap();
    assert_eq!(e.control.state_of(&id).as_deref(), Some("stopped"));
    assert_eq!(state_in_list(&p, &id).await, RemoteState::Paused);
    // The spent handle refuses without a round trip; the vendor refuses too.
    let err = sb.exec(ExecRequest::new("true")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SandboxGone, "{err}");
    let refused = raw_execute(&e, &id).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(
        refused
            .headers()
            .get("x-daytona-sandbox-state")
            .and_then(|v| v.to_str().ok()),
        Some("stopped")
    );
    // No compute while stopped.
    let billed = e.control.compute_time(&id).unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(e.control.compute_time(&id).unwrap(), billed);
    // Pausing again is harmless.
    p.persistence().unwrap().pause(&id).await.unwrap();

    let back = p.persistence().unwrap().resume(&id).await.unwrap();
    assert_eq!(back.remote_id().as_deref(), Some(id.as_str()));
    assert_eq!(run(&*back, "cat ${TMPDIR:-/tmp}/keep.txt").await, "kept\n");
    assert_eq!(run(&*back, "cat catalog.yml").await, "name: shop\n");
    assert_eq!(state_in_list(&p, &id).await, RemoteState::Running);
    // Resuming a running one finds it as it is.
    let again = p.persistence().unwrap().resume(&id).await.unwrap();
    assert_eq!(run(&*again, "cat ${TMPDIR:-/tmp}/keep.txt").await, "kept\n");

    back.close().await.unwrap();
    assert!(e.control.live_sandboxes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_is_one_start_and_a_start_in_progress_is_waited_for() {
    let e = env().await;
    let p = plugin_with(config(&e));
    let (_t, root) = layer();
    let sb = create(&p, &root, "session-r").await;
    let id = sb.remote_id().unwrap();
    run(&*sb, "echo kept > ${TMPDIR:-/tmp}/keep.txt").await;
    sb.pause().await.unwrap();

    // The usual resume: one start answers the sandbox; no state read before it.
    let api = |k: &Kit| k.count("", &format!("/sandbox/{id}"));
    let before = api(&e.kit);
    let all_before = e.kit.requests().len();
    let back = p.persistence().unwrap().resume(&id).await.unwrap();
    assert_eq!(api(&e.kit) - before, 1, "{:?}", e.kit.requests().last());
    assert_eq!(e.kit.count("POST", &format!("/sandbox/{id}/start")), 1);
    assert_eq!(run(&*back, "cat ${TMPDIR:-/tmp}/keep.txt").await, "kept\n");
    // Resume to first result: the start, then `process/execute` with the new session opening
    // beside it. Two round trips (three requests); no session exec waited on a new session.
    let made: Vec<String> = e.kit.requests()[all_before..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(made.len(), 3, "{made:?}");
    assert!(
        made[0].ends_with(&format!("/sandbox/{id}/start")),
        "{made:?}"
    );
    let mut side_by_side: Vec<&str> = made[1..]
        .iter()
        .map(|m| m.rsplit("/process/").next().unwrap())
        .collect();
    side_by_side.sort_unstable();
    assert_eq!(side_by_side, ["execute", "session"], "{made:?}");
    back.pause().await.unwrap();

    // Another client started it and the start is still under way: Daytona refuses a second
    // start, so the resume reads the state and waits for `started`.
    e.control.set_start_delay(Duration::from_millis(400));
    let started = reqwest::Client::new()
        .post(format!("{}/sandbox/{id}/start", e.control.api_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert!(started.status().is_success(), "{}", started.status());
    assert_eq!(e.control.state_of(&id).as_deref(), Some("starting"));
    let again = p.persistence().unwrap().resume(&id).await.unwrap();
    assert_eq!(e.control.state_of(&id).as_deref(), Some("started"));
    assert_eq!(run(&*again, "cat ${TMPDIR:-/tmp}/keep.txt").await, "kept\n");
    again.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_sandboxes_and_idempotent_delete() {
    let e = env().await;
    let p = plugin_with(config(&e));
    let persist = p.persistence().unwrap();
    let (_t, root) = layer();
    let sb = create(&p, &root, "session-b").await;
    let id = sb.remote_id().unwrap();
    sb.pause().await.unwrap();

    persist.delete(&id).await.unwrap();
    persist.delete(&id).await.unwrap();
    let err = persist.resume(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SandboxGone, "{err}");
    let err = persist.pause(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SandboxGone, "{err}");
    assert!(persist.list().await.unwrap().is_empty());
    let err = persist.resume("no-such-sandbox").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SandboxGone, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_5xx_on_resume_is_an_error_not_a_hang() {
    let e = env().await;
    let p = plugin_with(config(&e));
    let persist = p.persistence().unwrap();
    let (_t, root) = layer();
    let sb = create(&p, &root, "session-c").await;
    let id = sb.remote_id().unwrap();
    sb.pause().await.unwrap();

    e.kit.fail_next(
        "/start",
        100,
        503,
        None,
        serde_json::json!({"statusCode": 503, "error": "Service Unavailable", "message": "no runner available"}),
    );
    let started = Instant::now();
    let err = persist.resume(&id).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "bounded");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.is_temporary(), "{err}");
    assert!(err.to_string().contains("no runner available"), "{err}");
    // Nothing was started behind the error.
    assert_eq!(e.control.state_of(&id).as_deref(), Some("stopped"));
    persist.delete(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_timers_stop_archive_and_delete() {
    let e = env().await;
    // One emulated minute lasts 250 ms: wide enough windows between the timers on a loaded
    // machine; the states are polled, not slept for.
    e.control.set_minute(Duration::from_millis(250));
    let mut c = config(&e);
    c.auto_stop_minutes = 2;
    c.auto_archive_minutes = Some(3);
    c.paused_retention = HumanDuration(Duration::from_secs(10 * 60));
    let p = plugin_with(c);
    let persist = p.persistence().unwrap();
    let (_t, root) = layer();
    let sb = create(&p, &root, "session-d").await;
    let id = sb.remote_id().unwrap();
    assert_eq!(e.control.intervals(&id), Some((2, 3, 10)));
    run(&*sb, "echo kept > ${TMPDIR:-/tmp}/keep.txt").await;
    let reach = |state: Option<&'static str>, within: Duration| {
        let control = e.control.clone();
        let id = id.clone();
        async move {
            let t0 = Instant::now();
            while control.state_of(&id).as_deref() != state {
                assert!(
                    t0.elapsed() < within,
                    "{id} never reached {state:?}: {:?}",
                    control.state_of(&id)
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };

    // Idle past auto-stop: the vendor stops it; the live handle starts it again on its next
    // command, files intact.
    reach(Some("stopped"), Duration::from_secs(5)).await;
    assert_eq!(run(&*sb, "cat ${TMPDIR:-/tmp}/keep.txt").await, "kept\n");
    assert_eq!(e.control.state_of(&id).as_deref(), Some("started"));

    // Stopped past auto-archive: archived; resume restores it with its files.
    sb.pause().await.unwrap();
    reach(Some("archived"), Duration::from_secs(5)).await;
    assert_eq!(state_in_list(&p, &id).await, RemoteState::Paused);
    let back = persist.resume(&id).await.unwrap();
    assert_eq!(run(&*back, "cat ${TMPDIR:-/tmp}/keep.txt").await, "kept\n");

    // Stopped past auto-delete (paused_retention): the vendor deletes it on its own.
    back.pause().await.unwrap();
    reach(None, Duration::from_secs(10)).await;
    let err = persist.resume(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SandboxGone, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_persistent_handle_is_stopped_not_deleted() {
    let e = env().await;
    let p = plugin_with(config(&e));
    let (_t, root) = layer();
    let sb = create(&p, &root, "session-e").await;
    let id = sb.remote_id().unwrap();
    run(&*sb, "echo kept > ${TMPDIR:-/tmp}/keep.txt").await;
    drop(sb);
    let start = Instant::now();
    while e.control.state_of(&id).as_deref() != Some("stopped")
        && start.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(e.control.state_of(&id).as_deref(), Some("stopped"));
    let back = p.persistence().unwrap().resume(&id).await.unwrap();
    assert_eq!(run(&*back, "cat ${TMPDIR:-/tmp}/keep.txt").await, "kept\n");
    back.close().await.unwrap();
}

#[test]
fn session_keys_map_to_the_policy() {
    let c: DaytonaConfig = serde_json::from_value(serde_json::json!({
        "api_key": "k", "persistent": true, "pool_size": 2, "pools": {"acme": 1},
        "max_sandboxes": 10, "paused_retention": "2h"
    }))
    .unwrap();
    let p = c.session_policy();
    assert!(p.persistent);
    assert_eq!(p.pools.get("default"), Some(&2));
    assert_eq!(p.pools.get("acme"), Some(&1));
    assert_eq!(p.max_sandboxes, Some(10));
    assert_eq!(p.paused_retention, Duration::from_secs(7200));
    let d: DaytonaConfig = serde_json::from_value(serde_json::json!({"api_key": "k"})).unwrap();
    assert_eq!(
        d.session_policy(),
        atlas_sandbox_sdk::SessionPolicy::default()
    );
}
