//! Sessions that last, on the emulator (which maps `$TMPDIR`, not a literal `/tmp`, into the
//! sandbox: the commands name `${TMPDIR:-/tmp}`, which is /tmp at E2B): create with auto-pause, pause, resume by connect (files
//! in /tmp kept), list with state, delete; the lifetime timer pauses instead of killing; a paused
//! sandbox runs nothing and uses no compute time.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use atlas_sandbox_sdk::{ErrorKind, ExecRequest, RemoteState, SandboxPlugin};

#[tokio::test]
async fn pause_and_resume_keep_files() {
    let env = common::setup(serde_json::json!({"persistent": true})).await;
    let p = env.plugin.persistence().expect("e2b has persistence");
    assert!(env.plugin.session_policy().persistent);
    let sb = p
        .create_persistent(&env.layer, "t:default:s1")
        .await
        .unwrap();
    let id = sb.remote_id().expect("a persistent sandbox has an id");
    // Created eagerly, with auto-pause and the owner tag.
    let create = env
        .kit
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/v2/sandboxes")
        .unwrap();
    assert_eq!(create.json().unwrap()["autoPause"], true);
    assert_eq!(
        env.state.metadata(&id).unwrap()["atlas-sandbox-owner"],
        "t:default:s1"
    );
    let out = sb
        .exec(ExecRequest::new(
            "echo kept > ${TMPDIR:-/tmp}/note && ls catalog.yml",
        ))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    sb.pause().await.unwrap();
    assert_eq!(env.state.is_paused(&id), Some(true));
    // The spent handle runs nothing; the paused sandbox refuses envd calls.
    assert!(sb.exec(ExecRequest::new("true")).await.is_err());
    let c1 = env.state.compute_time(&id).unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        env.state.compute_time(&id).unwrap(),
        c1,
        "paused time is not billed"
    );

    let listed = p.list().await.unwrap();
    let me = listed.iter().find(|r| r.id == id).unwrap();
    assert_eq!(me.state, RemoteState::Paused);
    assert_eq!(me.tags["atlas-sandbox-owner"], "t:default:s1");

    let again = p.resume(&id).await.unwrap();
    assert_eq!(again.remote_id().as_deref(), Some(id.as_str()));
    let out = again
        .exec(ExecRequest::new("cat ${TMPDIR:-/tmp}/note; ls catalog.yml"))
        .await
        .unwrap();
    assert_eq!(out.stdout_str(), "kept\ncatalog.yml\n");
    assert_eq!(env.state.is_paused(&id), Some(false));
    // Pausing twice is fine (409 is "already paused").
    p.pause(&id).await.unwrap();
    p.pause(&id).await.unwrap();
    p.delete(&id).await.unwrap();
    p.delete(&id).await.unwrap();
    assert!(env.state.live_sandboxes().is_empty());
    let e = p.resume(&id).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SandboxGone, "{e}");
}

#[tokio::test]
async fn the_lifetime_timer_pauses_a_persistent_sandbox() {
    let env = common::setup(serde_json::json!({"persistent": true})).await;
    let p = env.plugin.persistence().unwrap();
    let sb = p.create_persistent(&env.layer, "owner").await.unwrap();
    let id = sb.remote_id().unwrap();
    sb.exec(ExecRequest::new("echo x > ${TMPDIR:-/tmp}/f"))
        .await
        .unwrap();
    env.state.expire_in(&id, Duration::ZERO);
    assert_eq!(
        env.state.is_paused(&id),
        Some(true),
        "auto-paused, not killed"
    );
    // The old handle sees the sandbox as not running, and does not replace it with a new one.
    let e = sb.exec(ExecRequest::new("true")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SandboxGone, "{e}");
    assert_eq!(env.state.live_sandboxes(), vec![id.clone()]);
    let again = p.resume(&id).await.unwrap();
    let out = again
        .exec(ExecRequest::new("cat ${TMPDIR:-/tmp}/f"))
        .await
        .unwrap();
    assert_eq!(out.stdout_str(), "x\n");
    again.close().await.unwrap();
    drop(sb);
    assert!(env.state.live_sandboxes().is_empty());
}

#[tokio::test]
async fn a_plain_sandbox_is_killed_by_its_timer_and_cannot_pause() {
    let env = common::setup(serde_json::json!({})).await;
    let sb = env.sandbox().await;
    sb.exec(ExecRequest::new("true")).await.unwrap();
    assert!(sb.remote_id().is_none());
    assert!(sb.pause().await.is_err());
    let id = env.state.live_sandboxes().pop().unwrap();
    env.state.expire_in(&id, Duration::ZERO);
    assert!(env.state.live_sandboxes().is_empty());
}

#[test]
fn session_keys_map_to_the_policy() {
    let cfg = |v: serde_json::Value| {
        atlas_sandbox_e2b::E2bPlugin::new(
            common::config("http://127.0.0.1:9", v),
            &atlas_sandbox_sdk::PluginContext::default(),
        )
    };
    let p = cfg(serde_json::json!({
        "persistent": true, "pool_size": 2, "pools": {"sales": 1},
        "max_sandboxes": 10, "paused_retention": "2h"
    }))
    .unwrap();
    let pol = p.session_policy();
    assert!(pol.persistent);
    assert_eq!(pol.pools.get("default"), Some(&2));
    assert_eq!(pol.pools.get("sales"), Some(&1));
    assert_eq!(pol.max_sandboxes, Some(10));
    assert_eq!(pol.paused_retention, Duration::from_secs(7200));
    let e = cfg(serde_json::json!({"pool_size": 3, "max_sandboxes": 3})).unwrap_err();
    assert!(e.to_string().contains("max_sandboxes"), "{e}");
    let e = cfg(serde_json::json!({"paused_retention": "1s"})).unwrap_err();
    assert!(e.to_string().contains("paused_retention"), "{e}");
    let e = cfg(serde_json::json!({"pool_size": 1, "pools": {"default": 1}})).unwrap_err();
    assert!(e.to_string().contains("pool_size"), "{e}");
}
