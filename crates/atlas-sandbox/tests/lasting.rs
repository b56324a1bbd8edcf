//! Cloud sessions that last, through the host library on the E2B emulator: idle → pause →
//! resume keeps /tmp; a restarted host resumes from the store; warm pools serve one session
//! each and refill; `max_sandboxes` holds under 50 concurrent sessions; a refused pause or a
//! failed resume falls back to a fresh sandbox with nothing leaked; sweep after a host that
//! vanished finds exactly the unowned sandboxes.
//!
//! The emulator runs commands in a host directory and maps only `$TMPDIR` and `$HOME` into
//! it, so the commands name `${TMPDIR:-/tmp}`: the sandbox's own /tmp there, plain /tmp at E2B.

#![cfg(feature = "e2b")]
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use atlas_emulator_e2b::EmulatorState;
use atlas_emulator_kit::{Kit, RunningEmulator};
use atlas_sandbox::config::SandboxSettings;
use atlas_sandbox::{Host, PluginSlot, SessionKey, SessionSettings, SessionTable};
use atlas_sandbox_sdk::{ExecRequest, PluginContext};
use common::{copy, key, run, wait_for};

struct Env {
    _emu: RunningEmulator,
    state: Arc<EmulatorState>,
    kit: Arc<Kit>,
    dir: tempfile::TempDir,
    root: PathBuf,
    url: String,
}

async fn env() -> Env {
    let kit = Kit::new();
    let (emu, state) = atlas_emulator_e2b::start_with(kit.clone(), Default::default(), None)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("semantic");
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/semantic"),
        &root,
    );
    Env {
        url: emu.base_url.clone(),
        _emu: emu,
        state,
        kit,
        dir,
        root,
    }
}

impl Env {
    fn store(&self) -> PathBuf {
        self.dir.path().join("state/sessions.db")
    }

    async fn host(&self, plugin: serde_json::Value) -> Arc<Host> {
        let mut table = serde_json::json!({
            "api_key": "e2b_test_key_0123456789",
            "api_url": self.url,
            "sandbox_url": self.url,
        });
        for (k, v) in plugin.as_object().unwrap() {
            table[k] = v.clone();
        }
        let d = atlas_sandbox::registry::compiled_in()
            .into_iter()
            .find(|d| d.id == "e2b")
            .unwrap();
        let plugin = (d.build)(table, &PluginContext::default()).unwrap();
        let mut settings = SandboxSettings::new(&self.root);
        settings.state_path = self.store();
        Arc::new(Host::start(settings, vec![PluginSlot::ready(plugin)]).await)
    }

    async fn table(&self, plugin: serde_json::Value, idle: Duration) -> Arc<SessionTable> {
        let settings = SessionSettings {
            idle_timeout: idle,
            ..SessionSettings::default()
        };
        SessionTable::new(self.host(plugin).await, settings)
    }

    fn pools(&self) -> BTreeMap<String, PathBuf> {
        BTreeMap::from([("default".to_owned(), self.root.clone())])
    }
}

#[tokio::test]
async fn idle_pauses_and_the_next_call_resumes_with_tmp_intact() {
    let e = env().await;
    let t = e
        .table(
            serde_json::json!({"persistent": true}),
            Duration::from_millis(100),
        )
        .await;
    run(&t, &e.root, "s1", "T=${TMPDIR:-/tmp}; echo kept > $T/note").await;
    let ids = e.state.live_sandboxes();
    assert_eq!(ids.len(), 1);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(t.reap_idle().await, 1);
    assert_eq!(e.state.is_paused(&ids[0]), Some(true));
    assert_eq!(t.stats().sandboxes_paused, 1);
    assert_eq!(
        run(&t, &e.root, "s1", "T=${TMPDIR:-/tmp}; cat $T/note").await,
        "kept\n"
    );
    assert_eq!(e.state.live_sandboxes(), ids, "the same sandbox, resumed");
    assert_eq!(e.state.is_paused(&ids[0]), Some(false));
    assert_eq!(t.stats().sandboxes_resumed, 1);
    // An explicit close ends the session for good: the sandbox is deleted and forgotten.
    assert!(t.close(&key("s1")).await);
    assert!(e.state.live_sandboxes().is_empty());
    assert!(t.lasting().unwrap().store().all().unwrap().is_empty());
}

#[tokio::test]
async fn a_restarted_host_resumes_the_same_sandbox() {
    let e = env().await;
    let policy = serde_json::json!({"persistent": true});
    {
        let t = e.table(policy.clone(), Duration::from_secs(600)).await;
        run(&t, &e.root, "s1", "T=${TMPDIR:-/tmp}; echo one > $T/f").await;
        // Shutdown pauses, it does not delete.
        assert!(t.close_all().await.is_empty());
    }
    let ids = e.state.live_sandboxes();
    assert_eq!(ids.len(), 1);
    assert_eq!(e.state.is_paused(&ids[0]), Some(true));
    let creates = |kit: &Kit| {
        kit.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/v2/sandboxes")
            .count()
    };
    let before = creates(&e.kit);
    let t = e.table(policy, Duration::from_secs(600)).await;
    assert_eq!(
        run(&t, &e.root, "s1", "T=${TMPDIR:-/tmp}; cat $T/f").await,
        "one\n"
    );
    assert_eq!(creates(&e.kit), before, "no new sandbox");
    assert_eq!(e.state.live_sandboxes(), ids);
    t.close_all().await;
}

#[tokio::test]
async fn a_pool_of_three_serves_three_sessions_once_each_and_refills() {
    let e = env().await;
    let t = e
        .table(
            serde_json::json!({"pool_size": 3}),
            Duration::from_secs(600),
        )
        .await;
    t.start_pools(&e.pools());
    let l = t.lasting().unwrap().clone();
    wait_for("a full pool", || l.pooled().get("default") == Some(&3)).await;
    let pooled: Vec<String> = e.state.live_sandboxes();
    assert_eq!(pooled.len(), 3);
    e.kit.clear();
    for s in ["a", "b", "c"] {
        let before = e.kit.requests().len();
        // A pooled sandbox is fresh: nothing from another session in /tmp, the layer there.
        let out = run(
            &t,
            &e.root,
            s,
            "T=${TMPDIR:-/tmp}; ls -A $T; echo mine > $T/who; ls catalog.yml",
        )
        .await;
        assert_eq!(out, "catalog.yml\n");
        // Every request that touched a pooled sandbox (the refill's own are to new ones).
        let trips: Vec<_> = e.kit.requests()[before..]
            .iter()
            .filter(|r| {
                pooled.iter().any(|id| {
                    r.header("e2b-sandbox-id") == Some(id.as_str()) || r.path.contains(id.as_str())
                })
            })
            .map(|r| r.path.clone())
            .collect();
        assert_eq!(trips.len(), 1, "first result in one round trip: {trips:?}");
    }
    assert_eq!(t.stats().sandboxes_pooled, 3);
    // The three sessions hold the three pooled sandboxes; the pool refills with new ones.
    wait_for("a refilled pool", || l.pooled().get("default") == Some(&3)).await;
    let all = e.state.live_sandboxes();
    assert_eq!(all.len(), 6);
    for id in &pooled {
        assert!(all.contains(id));
    }
    // Closing the sessions deletes their sandboxes: a pooled sandbox is never handed on.
    for s in ["a", "b", "c"] {
        t.close(&key(s)).await;
    }
    let left = e.state.live_sandboxes();
    assert_eq!(left.len(), 3);
    assert!(left.iter().all(|id| !pooled.contains(id)));
    t.close_all().await;
    assert!(
        e.state.live_sandboxes().is_empty(),
        "shutdown deletes the pool"
    );
}

#[tokio::test]
async fn max_sandboxes_holds_under_fifty_concurrent_sessions() {
    let e = env().await;
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
    assert_eq!(e.state.live_sandboxes().len(), 5);
    // Paused sandboxes count; at the cap the least recently used paused one makes room.
    tokio::time::sleep(Duration::from_millis(150)).await;
    t.reap_idle().await;
    assert_eq!(e.state.paused_sandboxes().len(), 5);
    run(&t, &e.root, "new", "true").await;
    assert_eq!(e.state.live_sandboxes().len(), 5);
    assert_eq!(e.state.paused_sandboxes().len(), 4);
    t.close_all().await;
}

#[tokio::test]
async fn a_refused_pause_or_a_failed_resume_falls_back_to_a_fresh_sandbox() {
    let e = env().await;
    let t = e
        .table(
            serde_json::json!({"persistent": true}),
            Duration::from_millis(50),
        )
        .await;
    run(&t, &e.root, "s1", "T=${TMPDIR:-/tmp}; echo a > $T/f").await;
    e.kit.fail_next(
        "/pause",
        1,
        500,
        None,
        serde_json::json!({"code": 500, "message": "cannot pause"}),
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    t.reap_idle().await;
    assert!(e.state.live_sandboxes().is_empty(), "deleted, not leaked");
    assert!(t.lasting().unwrap().store().all().unwrap().is_empty());
    assert_eq!(
        run(&t, &e.root, "s1", "ls ${TMPDIR:-/tmp} | wc -l")
            .await
            .trim(),
        "0"
    );

    // Pause works; the resume answers 503 every time: a fresh sandbox, the old one deleted.
    tokio::time::sleep(Duration::from_millis(80)).await;
    t.reap_idle().await;
    let old = e.state.paused_sandboxes();
    assert_eq!(old.len(), 1);
    e.kit.fail_next(
        "/connect",
        10,
        503,
        None,
        serde_json::json!({"code": 503, "message": "busy"}),
    );
    assert_eq!(
        run(&t, &e.root, "s1", "ls ${TMPDIR:-/tmp} | wc -l")
            .await
            .trim(),
        "0"
    );
    let now = e.state.live_sandboxes();
    assert_eq!(now.len(), 1);
    assert!(!now.contains(&old[0]));
    t.close_all().await;
}

#[tokio::test]
async fn sweep_after_a_vanished_host_finds_exactly_the_unowned_sandboxes() {
    let e = env().await;
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
    assert_eq!(e.state.live_sandboxes().len(), 3);
    // The host vanishes without shutdown or drop (as under kill -9).
    let host = t.host().clone();
    std::mem::forget(t);
    std::mem::forget(l);
    let (_, plugin) = host.lasting_backend().unwrap();
    let store = atlas_sandbox::persist::Store::new(e.store());
    let dry =
        atlas_sandbox::persist::sweep_unowned("e2b", plugin.as_ref(), &store, Duration::ZERO, true)
            .await
            .unwrap();
    assert_eq!(dry.sandboxes.len(), 2, "the two pooled ones");
    assert!(
        dry.sandboxes
            .iter()
            .all(|s| !owned.contains(&s.id) && !s.killed)
    );
    let rows = atlas_sandbox::persist::sessions("e2b", plugin.as_ref(), &store)
        .await
        .unwrap();
    assert_eq!(rows.iter().filter(|r| r.role == "pooled").count(), 2);
    assert_eq!(rows.iter().filter(|r| r.role == "session").count(), 1);
    let swept = atlas_sandbox::persist::sweep_unowned(
        "e2b",
        plugin.as_ref(),
        &store,
        Duration::ZERO,
        false,
    )
    .await
    .unwrap();
    assert!(swept.sandboxes.iter().all(|s| s.killed));
    assert_eq!(
        e.state.live_sandboxes(),
        owned,
        "only the owned sandbox is left"
    );
}

/// The variables the other hosts read for E2B fill `template` and `sandbox_lifetime` (a bare
/// count of milliseconds, as they write it) when config does not set them; the plugin builds
/// with them; a value that is not a count is an error naming the variable.
#[test]
fn e2b_sandbox_template_and_timeout_variables_are_fallbacks() {
    use atlas_sandbox::config::{self, LoadOptions};
    let dir = tempfile::tempdir().unwrap();
    let opts = |env: &[(&str, &str)], file: Option<&str>| {
        let config_file = file.map(|t| {
            let p = dir.path().join("atlas.toml");
            std::fs::write(&p, t).unwrap();
            p
        });
        LoadOptions {
            config_file,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            cwd: dir.path().to_path_buf(),
            descriptors: atlas_sandbox::registry::compiled_in(),
            example_root: PathBuf::from(config::EXAMPLE_SEMANTIC_ROOT),
            only_backend: None,
        }
    };
    let e2b = |c: &config::Config| {
        c.plugins
            .iter()
            .find(|p| p.descriptor.id == "e2b")
            .and_then(|p| p.table.clone())
            .unwrap()
    };
    let vars = [
        ("E2B_API_KEY", "e2b_test_key_0123456789"),
        ("E2B_SANDBOX_TEMPLATE", "my-custom-template"),
        ("E2B_SANDBOX_TIMEOUT", "600000"),
    ];
    let c = config::load(&opts(&vars, None)).unwrap();
    let t = e2b(&c);
    assert_eq!(t["template"], "my-custom-template");
    assert_eq!(t["sandbox_lifetime"], "600000ms");
    atlas_sandbox::host::build_slots(&c, &Default::default()).unwrap();

    // Config wins over the variables.
    let c = config::load(&opts(
        &vars,
        Some("[plugins.e2b]\ntemplate = \"from-file\"\nsandbox_lifetime = \"20m\"\n"),
    ))
    .unwrap();
    let t = e2b(&c);
    assert_eq!(t["template"], "from-file");
    assert_eq!(t["sandbox_lifetime"], "20m");

    std::fs::remove_file(dir.path().join("atlas.toml")).unwrap();
    let e = config::load(&opts(
        &[
            ("E2B_API_KEY", "e2b_test_key_0123456789"),
            ("E2B_SANDBOX_TIMEOUT", "ten minutes"),
        ],
        None,
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("E2B_SANDBOX_TIMEOUT"), "{e}");
}

/// `[plugins.e2b.pools] <layer> = N` pools per host-level layer: a session of that layer takes
/// a sandbox loaded with that layer's files; a session of another layer gets a new one.
#[tokio::test]
async fn pools_are_per_layer() {
    let e = env().await;
    let t = e
        .table(
            serde_json::json!({"pools": {"acme": 1}}),
            Duration::from_secs(600),
        )
        .await;
    let acme = e.dir.path().join("acme");
    copy(&e.root, &acme);
    std::fs::write(acme.join("acme.yml"), "name: acme\n").unwrap();
    t.start_pools(&BTreeMap::from([
        ("acme".to_owned(), acme.clone()),
        ("default".to_owned(), e.root.clone()),
    ]));
    let l = t.lasting().unwrap().clone();
    wait_for("the acme pool", || l.pooled().get("acme") == Some(&1)).await;
    assert_eq!(l.pooled().get("default"), None, "no pool for default");

    run(&t, &e.root, "d", "ls catalog.yml").await;
    assert_eq!(
        t.stats().sandboxes_pooled,
        0,
        "a default session is created"
    );
    let key = SessionKey {
        scope: "t".into(),
        layer: "acme".into(),
        id: "a".into(),
    };
    let lease = t.lease(key, &acme).await.unwrap();
    let (_, out) = lease.exec(ExecRequest::new("cat acme.yml")).await.unwrap();
    assert_eq!(out.stdout_str(), "name: acme\n");
    assert_eq!(
        t.stats().sandboxes_pooled,
        1,
        "the acme session took the pool's"
    );
    drop(lease);
    t.close_all().await;
    assert!(e.state.live_sandboxes().is_empty());
}
