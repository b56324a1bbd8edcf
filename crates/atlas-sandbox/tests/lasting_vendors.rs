//! Cloud sessions that last on Daytona and Vercel, through the host library and their emulators:
//! the same Lasting manager as on E2B (tests/lasting.rs) must hold for every vendor with
//! persistence. Each scenario runs once per vendor; what the vendor holds is read through the
//! plugin's own `Persistence::list`, the way `atlas-sandbox sessions` reads it.
//!
//! The emulators run commands in a host directory and map `$TMPDIR` into the sandbox, so the
//! commands name `${TMPDIR:-/tmp}`: the sandbox's own /tmp there, plain /tmp at the vendor.

#![cfg(all(feature = "daytona", feature = "vercel"))]
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use atlas_emulator_kit::{Kit, RunningEmulator};
use atlas_sandbox::config::SandboxSettings;
use atlas_sandbox::{Host, PluginSlot, SessionSettings, SessionTable};
use atlas_sandbox_sdk::{ExecRequest, PluginContext, RemoteSandbox, RemoteState};
use common::{copy, key, run, wait_for};

/// One vendor's emulator and what the scenarios need to know about its wire protocol.
struct Vendor {
    id: &'static str,
    kit: Arc<Kit>,
    _emu: RunningEmulator,
    table: serde_json::Value,
    /// The request that creates a sandbox: (method, exact paths).
    create: (&'static str, &'static [&'static str]),
    /// A path fragment only the pause (stop) request has.
    pause_path: &'static str,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl Vendor {
    /// The path fragment of the resume request of sandbox `id`, and how many answers to fail
    /// so that the client's retries give up (Vercel's resume is a retried GET on the same path
    /// as its delete, so exactly that many).
    fn resume_fault(&self, id: &str) -> (String, u32) {
        match self.id {
            "daytona" => (format!("/sandbox/{id}/start"), 10),
            _ => (format!("/v2/sandboxes/{id}"), 4),
        }
    }
}

async fn daytona() -> Vendor {
    const KEY: &str = "dtn_test_key_0123456789";
    let kit = Kit::new();
    let (emu, control) = atlas_emulator_daytona::start_with_control(kit.clone()).await;
    control.set_api_key(Some(KEY));
    Vendor {
        id: "daytona",
        kit,
        _emu: emu,
        table: serde_json::json!({ "api_key": KEY, "api_url": control.api_url() }),
        create: ("POST", &["/api/sandbox"]),
        pause_path: "/stop",
        _keep: Box::new(control),
    }
}

async fn vercel() -> Vendor {
    let kit = Kit::new();
    let (emu, state) = atlas_emulator_vercel::start_with(kit.clone(), None).await;
    Vendor {
        id: "vercel",
        kit,
        table: serde_json::json!({
            "token": "vercel_test_token_0123456789",
            "team_id": "team_test",
            "project_id": "prj_test",
            "api_url": emu.base_url,
        }),
        _emu: emu,
        // v2 with a runtime, v3 with an image, as the SDK chooses.
        create: ("POST", &["/v2/sandboxes", "/v3/sandboxes"]),
        pause_path: "/stop",
        _keep: Box::new(state),
    }
}

struct Env {
    v: Vendor,
    dir: tempfile::TempDir,
    root: PathBuf,
}

fn env(v: Vendor) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("semantic");
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/semantic"),
        &root,
    );
    Env { v, dir, root }
}

impl Env {
    fn store(&self) -> PathBuf {
        self.dir.path().join("state/sessions.db")
    }

    async fn host(&self, policy: serde_json::Value) -> Arc<Host> {
        let mut table = self.v.table.clone();
        for (k, v) in policy.as_object().unwrap() {
            table[k] = v.clone();
        }
        let d = atlas_sandbox::registry::compiled_in()
            .into_iter()
            .find(|d| d.id == self.v.id)
            .unwrap();
        let plugin = (d.build)(table, &PluginContext::default()).unwrap();
        let mut settings = SandboxSettings::new(&self.root);
        settings.state_path = self.store();
        Arc::new(Host::start(settings, vec![PluginSlot::ready(plugin)]).await)
    }

    async fn table(&self, policy: serde_json::Value, idle: Duration) -> Arc<SessionTable> {
        let settings = SessionSettings {
            idle_timeout: idle,
            ..SessionSettings::default()
        };
        SessionTable::new(self.host(policy).await, settings)
    }

    fn pools(&self) -> BTreeMap<String, PathBuf> {
        BTreeMap::from([("default".to_owned(), self.root.clone())])
    }

    fn creates(&self) -> usize {
        let (m, p) = self.v.create;
        self.v
            .kit
            .requests()
            .iter()
            .filter(|r| r.method == m && p.contains(&r.path.as_str()))
            .count()
    }
}

/// What the vendor holds, as the plugin lists it.
async fn listed(t: &SessionTable) -> Vec<RemoteSandbox> {
    let (_, plugin) = t.host().lasting_backend().unwrap();
    let mut all = plugin.persistence().unwrap().list().await.unwrap();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    all
}

async fn ids_in(t: &SessionTable, state: RemoteState) -> Vec<String> {
    listed(t)
        .await
        .into_iter()
        .filter(|r| r.state == state)
        .map(|r| r.id)
        .collect()
}

async fn idle_pauses_and_the_next_call_resumes_with_tmp_intact(v: Vendor) {
    let e = env(v);
    let t = e
        .table(
            serde_json::json!({"persistent": true}),
            Duration::from_millis(100),
        )
        .await;
    run(&t, &e.root, "s1", "T=${TMPDIR:-/tmp}; echo kept > $T/note").await;
    let ids = ids_in(&t, RemoteState::Running).await;
    assert_eq!(ids.len(), 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(t.reap_idle().await, 1);
    assert_eq!(ids_in(&t, RemoteState::Paused).await, ids);
    assert_eq!(t.stats().sandboxes_paused, 1);
    let before = e.creates();
    assert_eq!(before, 1);
    assert_eq!(
        run(&t, &e.root, "s1", "T=${TMPDIR:-/tmp}; cat $T/note").await,
        "kept\n"
    );
    assert_eq!(e.creates(), before, "resumed, not created");
    assert_eq!(ids_in(&t, RemoteState::Running).await, ids, "the same one");
    assert_eq!(t.stats().sandboxes_resumed, 1);
    // An explicit close ends the session for good: the sandbox is deleted and forgotten.
    assert!(t.close(&key("s1")).await);
    assert!(listed(&t).await.is_empty());
    assert!(t.lasting().unwrap().store().all().unwrap().is_empty());
}

async fn a_restarted_host_resumes_the_same_sandbox(v: Vendor) {
    let e = env(v);
    let policy = serde_json::json!({"persistent": true});
    let ids = {
        let t = e.table(policy.clone(), Duration::from_secs(600)).await;
        run(&t, &e.root, "s1", "T=${TMPDIR:-/tmp}; echo one > $T/f").await;
        // Shutdown pauses, it does not delete.
        assert!(t.close_all().await.is_empty());
        let paused = ids_in(&t, RemoteState::Paused).await;
        assert_eq!(paused.len(), 1);
        assert_eq!(listed(&t).await.len(), 1);
        paused
    };
    let before = e.creates();
    assert_eq!(before, 1);
    let t = e.table(policy, Duration::from_secs(600)).await;
    assert_eq!(
        run(&t, &e.root, "s1", "T=${TMPDIR:-/tmp}; cat $T/f").await,
        "one\n"
    );
    assert_eq!(e.creates(), before, "no new sandbox");
    assert_eq!(ids_in(&t, RemoteState::Running).await, ids);
    t.close_all().await;
}

async fn a_pool_of_three_serves_three_sessions_once_each_and_refills(v: Vendor) {
    let e = env(v);
    let t = e
        .table(
            serde_json::json!({"pool_size": 3}),
            Duration::from_secs(600),
        )
        .await;
    t.start_pools(&e.pools());
    let l = t.lasting().unwrap().clone();
    wait_for("a full pool", || l.pooled().get("default") == Some(&3)).await;
    let pooled = ids_in(&t, RemoteState::Running).await;
    assert_eq!(pooled.len(), 3);
    for s in ["a", "b", "c"] {
        // A pooled sandbox is fresh: nothing from another session in /tmp, the layer there.
        let out = run(
            &t,
            &e.root,
            s,
            "T=${TMPDIR:-/tmp}; cat $T/who 2>/dev/null; echo mine > $T/who; ls catalog.yml",
        )
        .await;
        assert_eq!(out, "catalog.yml\n");
    }
    assert_eq!(t.stats().sandboxes_pooled, 3);
    // The three sessions hold the three pooled sandboxes; the pool refills with new ones.
    wait_for("a refilled pool", || l.pooled().get("default") == Some(&3)).await;
    let all = ids_in(&t, RemoteState::Running).await;
    assert_eq!(all.len(), 6);
    assert!(pooled.iter().all(|id| all.contains(id)));
    // Closing the sessions deletes their sandboxes: a pooled sandbox is never handed on.
    for s in ["a", "b", "c"] {
        t.close(&key(s)).await;
    }
    let left: Vec<String> = listed(&t).await.into_iter().map(|r| r.id).collect();
    assert_eq!(left.len(), 3);
    assert!(left.iter().all(|id| !pooled.contains(id)));
    t.close_all().await;
    assert!(listed(&t).await.is_empty(), "shutdown deletes the pool");
}

async fn max_sandboxes_holds_under_fifty_concurrent_sessions(v: Vendor) {
    let e = env(v);
    let t = e
        .table(
            serde_json::json!({"persistent": true, "max_sandboxes": 5}),
            Duration::from_millis(100),
        )
        .await;
    let runs = (0..50).map(|i| {
        let t = t.clone();
        let root = e.root.clone();
        async move {
            let lease = t.lease(key(&format!("s{i}")), &root).await.unwrap();
            lease.exec(ExecRequest::new("true")).await
        }
    });
    let results = futures::future::join_all(runs).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 5, "exactly the cap got a sandbox");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(r.to_string().contains("at capacity"), "{r}");
    }
    assert_eq!(e.creates(), 5, "no create past the cap");
    assert_eq!(ids_in(&t, RemoteState::Running).await.len(), 5);
    // Paused sandboxes count; at the cap the least recently used paused one makes room.
    tokio::time::sleep(Duration::from_millis(150)).await;
    t.reap_idle().await;
    assert_eq!(ids_in(&t, RemoteState::Paused).await.len(), 5);
    run(&t, &e.root, "new", "true").await;
    assert_eq!(ids_in(&t, RemoteState::Running).await.len(), 1);
    assert_eq!(ids_in(&t, RemoteState::Paused).await.len(), 4);
    assert_eq!(listed(&t).await.len(), 5);
    t.close_all().await;
}

async fn a_refused_pause_or_a_failed_resume_falls_back_to_a_fresh_sandbox(v: Vendor) {
    let e = env(v);
    let t = e
        .table(
            serde_json::json!({"persistent": true}),
            Duration::from_millis(50),
        )
        .await;
    run(&t, &e.root, "s1", "T=${TMPDIR:-/tmp}; echo a > $T/f").await;
    e.v.kit.fail_next(
        e.v.pause_path,
        10,
        500,
        None,
        serde_json::json!({"code": 500, "message": "cannot pause"}),
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    t.reap_idle().await;
    e.v.kit.clear();
    assert!(listed(&t).await.is_empty(), "deleted, not leaked");
    assert!(t.lasting().unwrap().store().all().unwrap().is_empty());
    assert_eq!(
        run(
            &t,
            &e.root,
            "s1",
            "cat ${TMPDIR:-/tmp}/f 2>/dev/null | wc -l"
        )
        .await
        .trim(),
        "0"
    );

    // Pause works; the resume answers 503 until the client gives up: a fresh sandbox, the old
    // one deleted.
    tokio::time::sleep(Duration::from_millis(80)).await;
    t.reap_idle().await;
    let old = ids_in(&t, RemoteState::Paused).await;
    assert_eq!(old.len(), 1);
    let (path, n) = e.v.resume_fault(&old[0]);
    e.v.kit.fail_next(
        &path,
        n,
        503,
        None,
        serde_json::json!({"code": 503, "message": "busy"}),
    );
    assert_eq!(
        run(
            &t,
            &e.root,
            "s1",
            "cat ${TMPDIR:-/tmp}/f 2>/dev/null | wc -l"
        )
        .await
        .trim(),
        "0"
    );
    e.v.kit.clear();
    let now: Vec<String> = listed(&t).await.into_iter().map(|r| r.id).collect();
    assert_eq!(now.len(), 1, "the old one deleted, not leaked: {now:?}");
    assert!(!now.contains(&old[0]));
    t.close_all().await;
}

async fn sweep_after_a_vanished_host_finds_exactly_the_unowned_sandboxes(v: Vendor) {
    let e = env(v);
    let t = e
        .table(
            serde_json::json!({"persistent": true, "pool_size": 2}),
            Duration::from_millis(50),
        )
        .await;
    t.start_pools(&e.pools());
    let l = t.lasting().unwrap().clone();
    wait_for("a full pool", || l.pooled().get("default") == Some(&2)).await;
    run(&t, &e.root, "kept", "true").await;
    wait_for("a refilled pool", || l.pooled().get("default") == Some(&2)).await;
    let owned: Vec<String> = l
        .store()
        .all()
        .unwrap()
        .values()
        .map(|e| e.sandbox_id.clone())
        .collect();
    assert_eq!(owned.len(), 1);
    assert_eq!(listed(&t).await.len(), 3);
    // The host vanishes without shutdown or drop (as under kill -9).
    let host = t.host().clone();
    std::mem::forget(t);
    std::mem::forget(l);
    let (_, plugin) = host.lasting_backend().unwrap();
    let store = atlas_sandbox::persist::Store::new(e.store());
    let id = e.v.id;
    let dry =
        atlas_sandbox::persist::sweep_unowned(id, plugin.as_ref(), &store, Duration::ZERO, true)
            .await
            .unwrap();
    assert_eq!(dry.sandboxes.len(), 2, "the two pooled ones");
    assert!(
        dry.sandboxes
            .iter()
            .all(|s| !owned.contains(&s.id) && !s.killed)
    );
    let rows = atlas_sandbox::persist::sessions(id, plugin.as_ref(), &store)
        .await
        .unwrap();
    assert_eq!(rows.iter().filter(|r| r.role == "pooled").count(), 2);
    assert_eq!(rows.iter().filter(|r| r.role == "session").count(), 1);
    assert!(
        rows.iter()
            .all(|r| r.state == "running" && r.age_secs.is_some())
    );
    let swept =
        atlas_sandbox::persist::sweep_unowned(id, plugin.as_ref(), &store, Duration::ZERO, false)
            .await
            .unwrap();
    assert_eq!(swept.sandboxes.len(), 2);
    assert!(swept.sandboxes.iter().all(|s| s.killed));
    let left: Vec<String> = plugin
        .persistence()
        .unwrap()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, owned, "only the owned sandbox is left");
}

macro_rules! per_vendor {
    ($($name:ident),* $(,)?) => {
        mod daytona {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::daytona().await).await;
                }
            )*
        }
        mod vercel {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::vercel().await).await;
                }
            )*
        }
    };
}

per_vendor!(
    idle_pauses_and_the_next_call_resumes_with_tmp_intact,
    a_restarted_host_resumes_the_same_sandbox,
    a_pool_of_three_serves_three_sessions_once_each_and_refills,
    max_sandboxes_holds_under_fifty_concurrent_sessions,
    a_refused_pause_or_a_failed_resume_falls_back_to_a_fresh_sandbox,
    sweep_after_a_vanished_host_finds_exactly_the_unowned_sandboxes,
);
