//! `sweep` never deletes what a running host uses. Two real `atlas-sandbox serve` processes share
//! one session store on the E2B emulator: A with non-persistent sessions, B with non-persistent
//! sessions and a warm pool. No store entry owns any of their sandboxes (only persistent
//! sessions are recorded), so before instance leases `sweep --older-than 0s` deleted them all
//! from under the running servers. Now:
//!
//! - while both run, `sweep --older-than 0s` deletes nothing and reports every sandbox as kept,
//!   `sessions` shows them as belonging to a running host, and A's session still has its file;
//! - after `kill -9` of A, its lease holds for `LEASE` (90 s), then its sandbox is swept, and
//!   B's are still kept;
//! - B, stopped with SIGTERM, deletes its sandboxes and releases its lease itself.

#![cfg(all(feature = "e2b", feature = "server"))]
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

mod common;

use atlas_sandbox::persist::{LEASE, Store};
use common::serve::{age_lease, cli, cli_text, exec, ids, serve};
use common::wait_until;
use std::path::Path;
use std::time::Duration;

const INSTANCE_TAG: &str = atlas_sandbox_sdk::INSTANCE_TAG;

fn write_config(path: &Path, url: &str, extra: &str) {
    std::fs::write(
        path,
        format!(
            "[sandbox]\nsemantic_root = {:?}\nbackend = \"e2b\"\nstate_path = \"state/sessions.db\"\n\n\
             [plugins.e2b]\napi_key = \"e2b_test_0123456789abcdef\"\napi_url = {url:?}\n\
             sandbox_url = {url:?}\n{extra}",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/semantic"),
        ),
    )
    .unwrap();
}

/// The instance id of the host running as `pid`, once its first heartbeat is in the store.
fn instance_of(store: &Store, pid: u32) -> String {
    let mut found = None;
    wait_until("the host's lease", Duration::from_secs(30), || {
        found = store
            .instances()
            .unwrap()
            .into_iter()
            .find(|(_, i)| i.pid == pid)
            .map(|(id, _)| id);
        found.is_some()
    });
    let id = found.unwrap();
    // atlas-sandbox-<pid>-<8 hex digits>: unique even where every server is pid 1.
    let random = id
        .strip_prefix(&format!("atlas-sandbox-{pid}-"))
        .unwrap_or_else(|| panic!("{id}"));
    assert!(
        random.len() == 8 && random.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_spares_the_sandboxes_of_running_hosts_and_takes_a_killed_hosts() {
    let kit = atlas_emulator_kit::Kit::new();
    let (emu, state) =
        atlas_emulator_e2b::start_with(kit, atlas_emulator_e2b::EmulatorOptions::default(), None)
            .await
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (config_a, config_b) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    write_config(&config_a, &emu.base_url, "");
    write_config(&config_b, &emu.base_url, "pool_size = 2\n");
    let store = Store::new(dir.path().join("state/sessions.db"));

    let mut a = serve(&config_a, &dir.path().join("a.log"));
    let mut b = serve(&config_b, &dir.path().join("b.log"));
    exec(&a.url, "s1", "echo from-a > ${TMPDIR:-/tmp}/f").await;
    exec(&b.url, "s1", "echo from-b > ${TMPDIR:-/tmp}/f").await;
    // A: its session's sandbox. B: its session's and a pool of two.
    wait_until("every sandbox", Duration::from_secs(30), || {
        state.live_sandboxes().len() == 4
    });
    let (id_a, id_b) = (
        instance_of(&store, a.child.id()),
        instance_of(&store, b.child.id()),
    );
    assert_ne!(id_a, id_b);
    let of = |instance: &str| -> Vec<String> {
        let mut v: Vec<String> = state
            .live_sandboxes()
            .into_iter()
            .filter(|sb| {
                state
                    .metadata(sb)
                    .is_some_and(|m| m.get(INSTANCE_TAG).map(String::as_str) == Some(instance))
            })
            .collect();
        v.sort();
        v
    };
    let (sb_a, sb_b) = (of(&id_a), of(&id_b));
    assert_eq!((sb_a.len(), sb_b.len()), (1, 3), "tagged with their host");
    let mut all = [sb_a.clone(), sb_b.clone()].concat();
    all.sort();

    // Both hosts run: nothing is unowned, and nothing is swept, however old.
    let rows = cli(&config_a, &["sessions"]);
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["host_running"] == true && r["role"] != "unowned"),
        "{rows}"
    );
    assert_eq!(ids(&rows, |r| r["role"] == "live-host"), sb_a, "{rows}");
    let swept = cli(
        &config_a,
        &["sweep", "--backend", "e2b", "--older-than", "0s"],
    );
    assert_eq!(swept["sandboxes"], serde_json::json!([]), "{swept}");
    assert_eq!(ids(&swept["kept"], |_| true), all, "{swept}");
    for k in swept["kept"].as_array().unwrap() {
        let instance = k["instance"].as_str().unwrap();
        assert!(instance == id_a || instance == id_b, "{k}");
        assert_eq!(k["reason"], format!("host {instance} is running"), "{k}");
    }
    let text = cli_text(
        &config_b,
        &["sweep", "--backend", "e2b", "--older-than", "0s"],
    );
    let line = text
        .lines()
        .find(|l| l.starts_with(&sb_a[0]))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.ends_with(&format!("kept: host {id_a} is running")),
        "{text}"
    );
    assert!(
        text.contains("0 sandbox(es) older than 0s; 4 kept"),
        "{text}"
    );
    assert_eq!(state.live_sandboxes(), all, "nothing was deleted");
    assert_eq!(
        exec(&a.url, "s1", "cat ${TMPDIR:-/tmp}/f").await,
        "from-a\n"
    );

    // A is killed. Its lease holds until it lapses (LEASE after its last heartbeat) ...
    let pid_a = a.child.id();
    a.kill_9();
    let swept = cli(
        &config_a,
        &["sweep", "--backend", "e2b", "--older-than", "0s"],
    );
    assert_eq!(swept["sandboxes"], serde_json::json!([]), "{swept}");
    assert_eq!(state.live_sandboxes(), all);
    // ... then its sandbox is a leftover like any other; B's are still spared.
    assert_eq!(age_lease(store.path(), pid_a), id_a);
    let rows = cli(&config_a, &["sessions"]);
    assert_eq!(ids(&rows, |r| r["role"] == "unowned"), sb_a, "{rows}");
    assert_eq!(ids(&rows, |r| r["host_running"] == true), sb_b, "{rows}");
    let swept = cli(
        &config_a,
        &["sweep", "--backend", "e2b", "--older-than", "0s"],
    );
    assert_eq!(
        ids(&swept["sandboxes"], |r| r["killed"] == true),
        sb_a,
        "{swept}"
    );
    assert_eq!(ids(&swept["kept"], |_| true), sb_b, "{swept}");
    assert_eq!(state.live_sandboxes(), sb_b);
    assert_eq!(
        exec(&b.url, "s1", "cat ${TMPDIR:-/tmp}/f").await,
        "from-b\n"
    );

    // B shuts down in order: its sandboxes go with it, and so does its lease.
    let pid_b = b.child.id();
    b.terminate();
    assert_eq!(state.live_sandboxes(), Vec::<String>::new());
    assert!(
        store.instances().unwrap().values().all(|i| i.pid != pid_b),
        "B released its lease: {:?}",
        store.instances()
    );
    assert!(!store.live_instances(LEASE).unwrap().contains(&id_b));
    let swept = cli(
        &config_a,
        &["sweep", "--backend", "e2b", "--older-than", "0s"],
    );
    assert_eq!(
        (swept["sandboxes"].clone(), swept["kept"].clone()),
        (serde_json::json!([]), serde_json::json!([])),
        "{swept}"
    );

    // A one-shot `exec` holds a lease only while it runs.
    let out = cli(&config_a, &["exec", "echo once"]);
    assert_eq!(out["stdout"], "once\n", "{out}");
    assert_eq!(state.live_sandboxes(), Vec::<String>::new());
    assert!(
        store.live_instances(LEASE).unwrap().is_empty(),
        "{:?}",
        store.instances()
    );
}
