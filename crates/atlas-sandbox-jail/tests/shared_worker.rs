//! just-bash sessions sharing a worker (`ContainedJustBash::with_sessions_per_worker`): each
//! session keeps its own files, a closed session's interpreter goes while the worker serves
//! the others, the worker ends with its last session, a crash ends the sessions of that worker
//! only, and the pool never puts more than `per_worker` sessions in one worker.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use atlas_sandbox_jail::{ContainedJustBash, Containment};
use atlas_sandbox_just_bash::JustBashConfig;
use atlas_sandbox_sdk::{ErrorKind, ExecRequest, PluginContext, Sandbox, SemanticLayer};

/// As in `just_bash_engine.rs`: within the interpreter's budgets, past a 48 MiB worker cap.
const ALLOCATES_PAST_THE_RLIMIT: &str =
    "awk 'BEGIN { for (i = 0; i < 60000; i++) a[i] = sprintf(\"%1000d\", i); print length(a) }'";

fn keeper_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

async fn shared(plain: bool) {
    let what = if plain {
        "plain workers"
    } else {
        "jailed workers"
    };
    let plugin = ContainedJustBash::new(JustBashConfig::default(), &PluginContext::default())
        .expect("valid config")
        .with_sessions_per_worker(3)
        .with_jail_config(|c| c.memory_limit_mb = 48)
        .expect("valid limits");
    let plugin = if plain { plugin.plain_only() } else { plugin };
    match plugin.containment() {
        Err(why) => return common::skip(what, &why),
        Ok(Containment::Plain(why)) if !plain => return common::skip(what, &why),
        Ok(_) => {}
    }
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let layer = SemanticLayer::open(&root).expect("layer");
    let mut sessions = Vec::new();
    for _ in 0..8 {
        sessions.push(plugin.create_contained(&layer).await.expect("create"));
    }
    let mut per_worker: BTreeMap<u32, usize> = BTreeMap::new();
    for s in &sessions {
        *per_worker.entry(s.worker_pid().expect("pid")).or_default() += 1;
    }
    assert!(
        per_worker.values().all(|n| *n <= 3) && per_worker.len() < sessions.len(),
        "{what}: sessions per worker {per_worker:?}"
    );
    // Each session sees its own files only, also when it shares a worker.
    for (i, s) in sessions.iter().enumerate() {
        let out = s
            .exec(ExecRequest::new(format!(
                "echo {i} > /tmp/mine; cat /tmp/mine"
            )))
            .await
            .expect("write");
        assert_eq!(out.stdout_str(), format!("{i}\n"), "{what}");
    }
    for (i, s) in sessions.iter().enumerate() {
        let out = s
            .exec(ExecRequest::new("cat /tmp/mine"))
            .await
            .expect("read");
        assert_eq!(out.stdout_str(), format!("{i}\n"), "{what}: session {i}");
    }
    // Closing one session of a shared worker leaves the worker serving the others.
    let (shared_pid, _) = per_worker
        .iter()
        .find(|(_, n)| **n > 1)
        .expect("a shared worker");
    let shared_pid = *shared_pid;
    let mut mates: Vec<_> = Vec::new();
    let mut rest = Vec::new();
    for s in sessions {
        if s.worker_pid() == Some(shared_pid) {
            mates.push(s);
        } else {
            rest.push(s);
        }
    }
    let first = mates.remove(0);
    first.close().await.expect("close");
    assert!(
        keeper_alive(shared_pid),
        "{what}: closing one session ended the worker"
    );
    first
        .exec(ExecRequest::new("true"))
        .await
        .expect_err("closed");
    // A crash in one session ends its worker's sessions, and only those.
    let e = match mates[0]
        .exec(ExecRequest::new(ALLOCATES_PAST_THE_RLIMIT).timeout(Duration::from_secs(20)))
        .await
    {
        Ok(o) => panic!(
            "{what}: the worker should have died, got exit {}",
            o.exit_code
        ),
        Err(e) => e,
    };
    assert_eq!(e.kind(), ErrorKind::SandboxGone, "{what}: {e}");
    for m in &mates {
        let e = m.exec(ExecRequest::new("true")).await.expect_err("gone");
        assert_eq!(e.kind(), ErrorKind::SandboxGone, "{what}: {e}");
    }
    for (i, s) in rest.iter().enumerate() {
        let out = s
            .exec(ExecRequest::new("ls /tmp"))
            .await
            .unwrap_or_else(|e| panic!("{what}: an unrelated session {i} failed: {e}"));
        assert_eq!(out.stdout_str(), "mine\n", "{what}");
    }
    // New sessions never join the dead worker.
    let fresh = plugin.create_contained(&layer).await.expect("create");
    assert_ne!(fresh.worker_pid(), Some(shared_pid), "{what}");
    let out = fresh
        .exec(ExecRequest::new("ls /tmp"))
        .await
        .expect("fresh");
    assert_eq!(
        out.stdout_str(),
        "",
        "{what}: a new session sees no one's files"
    );
    // The last session of a worker ends it.
    let pids: Vec<u32> = rest.iter().filter_map(|s| s.worker_pid()).collect();
    for s in rest.into_iter().chain(mates).chain([fresh]) {
        s.close().await.expect("close");
    }
    for pid in pids {
        let gone = common::eventually(5, || !keeper_alive(pid)).await;
        assert!(gone, "{what}: worker {pid} outlived its sessions");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_share_jailed_workers() {
    if common::child_role().is_some() {
        return;
    }
    shared(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_share_plain_workers() {
    if common::child_role().is_some() {
        return;
    }
    shared(true).await;
}

/// More sessions in one worker than a command may open files (`max_open_files`, 64): each
/// interpreter keeps a descriptor of the layer, and the worker has room for all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_holds_more_sessions_than_a_command_may_open_files() {
    if common::child_role().is_some() {
        return;
    }
    let plugin = ContainedJustBash::new(JustBashConfig::default(), &PluginContext::default())
        .expect("valid config")
        .with_sessions_per_worker(100);
    if let Err(why) = plugin.containment() {
        return common::skip("many sessions per worker", &why);
    }
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let layer = SemanticLayer::open(&root).expect("layer");
    // The first sessions spread over one worker per CPU; then workers fill evenly.
    let spread = std::thread::available_parallelism().map_or(1, usize::from);
    let mut sessions = Vec::new();
    for _ in 0..spread * 70 {
        sessions.push(plugin.create_contained(&layer).await.expect("create"));
    }
    let mut per_worker: BTreeMap<u32, usize> = BTreeMap::new();
    for s in &sessions {
        *per_worker.entry(s.worker_pid().expect("pid")).or_default() += 1;
    }
    assert!(
        per_worker.values().any(|n| *n > 64) && per_worker.values().all(|n| *n <= 100),
        "sessions per worker {per_worker:?}"
    );
    for (i, s) in sessions.iter().enumerate() {
        let out = s
            .exec(ExecRequest::new(format!(
                "echo {i} > /tmp/f; cat /tmp/f; ls catalog.yml"
            )))
            .await
            .expect("exec");
        assert_eq!(
            out.stdout_str(),
            format!("{i}\ncatalog.yml\n"),
            "session {i}: {}",
            out.stderr_str()
        );
    }
    for s in sessions {
        s.close().await.expect("close");
    }
}
