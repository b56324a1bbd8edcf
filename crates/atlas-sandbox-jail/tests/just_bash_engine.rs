//! `engine = "just-bash"`: the in-process interpreter inside the jailed worker. The testkit's
//! contract suite and escape battery against it, and what containment promises: a command that
//! kills the interpreter ends that sandbox's worker only, its memory is bounded by RLIMIT_AS,
//! and nothing is left behind.

mod common;

use std::time::Duration;

use atlas_sandbox_jail::{Engine, JailConfig};
use atlas_sandbox_testkit::{contract, escape, plugin_factory};

fn config() -> JailConfig {
    JailConfig {
        engine: Engine::JustBash,
        ..JailConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_and_escape_battery() {
    if common::child_role().is_some() {
        return;
    }
    let Some(plugin) = common::plugin_or_skip("just-bash engine suites", config()) else {
        return;
    };
    let opts = contract::ContractOptions::new()
        .semantic_root("/semantic")
        .shares_host_filesystem(true)
        .supports_writes(true);
    let contract = contract::run("jail just-bash", plugin_factory(&plugin), opts).await;
    // R3 checks the wall-clock deadline (exit 124): lift the counting limits that would stop
    // a `while :` loop first (126), as the in-process battery does.
    let mut c = config();
    c.just_bash.limits.max_loop_iterations = u64::MAX;
    c.just_bash.limits.max_commands = u64::MAX;
    let deadline_plugin = common::plugin(c);
    let host_config =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/atlas.toml");
    let opts = escape::EscapeOptions::new()
        .host_config_path(host_config)
        .timeout_slack(Duration::from_secs(1))
        .t2_sessions(100)
        .t1_covered_by("tests/just_bash_engine.rs: killing_the_host_kills_the_interpreter");
    let escape = escape::run("jail just-bash", plugin_factory(&deadline_plugin), opts).await;
    contract.print_table();
    escape.print_table();
    contract.assert_passed();
    escape.assert_passed();
}

use atlas_sandbox_jail::ContainedJustBash;
use atlas_sandbox_just_bash::JustBashConfig;
use atlas_sandbox_sdk::{ErrorKind, ExecRequest, PluginContext, Sandbox, SemanticLayer};

/// A command the interpreter's budgets allow (exit 126 past them) but that needs more address
/// space than a worker capped at 48 MiB above its start has: the allocation fails and the
/// Rust runtime aborts the worker, a real abort and not a simulated one.
const ALLOCATES_PAST_THE_RLIMIT: &str =
    "awk 'BEGIN { for (i = 0; i < 60000; i++) a[i] = sprintf(\"%1000d\", i); print length(a) }'";

/// One worker per session (`tests/shared_worker.rs` covers sessions sharing a worker).
fn contained(plain: bool) -> ContainedJustBash {
    let c = ContainedJustBash::new(JustBashConfig::default(), &PluginContext::default())
        .expect("valid config")
        .with_sessions_per_worker(1)
        .with_jail_config(|c| c.memory_limit_mb = 48)
        .expect("valid limits");
    if plain { c.plain_only() } else { c }
}

/// The address-space limit of every process of a worker (its keeper and what it started).
fn address_space_limits(keeper: u32) -> Vec<(i32, u64)> {
    let mut pids = vec![keeper as i32];
    pids.extend(common::descendants_of(keeper as i32));
    pids.into_iter()
        .filter_map(|pid| {
            let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
            let line = limits
                .lines()
                .find(|l| l.starts_with("Max address space"))?;
            let soft = line.split_whitespace().nth(3)?;
            Some((pid, soft.parse().unwrap_or(u64::MAX)))
        })
        .collect()
}

/// The plugin for one kind of worker over a copy of the example layer, or `None` (after a
/// loud skip) when this machine cannot give that kind.
fn worker_kind(
    plain: bool,
) -> Option<(
    &'static str,
    ContainedJustBash,
    tempfile::TempDir,
    SemanticLayer,
)> {
    let what = if plain {
        "plain worker"
    } else {
        "jailed worker"
    };
    let plugin = contained(plain);
    match plugin.containment() {
        Err(why) => {
            common::skip(what, &why);
            return None;
        }
        Ok(atlas_sandbox_jail::Containment::Plain(why)) if !plain => {
            common::skip(what, &why);
            return None;
        }
        Ok(_) => {}
    }
    let (tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let layer = SemanticLayer::open(&root).expect("layer");
    Some((what, plugin, tmp, layer))
}

async fn crash_ends_one_session(plain: bool) {
    let Some((what, plugin, _tmp, layer)) = worker_kind(plain) else {
        return;
    };
    let a = plugin.create_contained(&layer).await.expect("create a");
    let b = plugin.create_contained(&layer).await.expect("create b");
    let keeper = a.worker_pid().expect("pid");
    // The interpreter's process carries the cap (the keeper of a jail does not run it).
    let limits = address_space_limits(keeper);
    assert!(
        limits.iter().any(|(_, l)| *l < 4 << 30),
        "{what}: no worker process has an address-space cap: {limits:?}"
    );
    let ok = a
        .exec(ExecRequest::new("echo before > /tmp/x; cat /tmp/x"))
        .await
        .expect("exec");
    assert_eq!(ok.stdout_str(), "before\n");
    let e = match a
        .exec(ExecRequest::new(ALLOCATES_PAST_THE_RLIMIT).timeout(Duration::from_secs(20)))
        .await
    {
        Ok(o) => panic!(
            "{what}: the worker should have died, got exit {} ({})",
            o.exit_code,
            o.stderr_str()
        ),
        Err(e) => e,
    };
    assert_eq!(e.kind(), ErrorKind::SandboxGone, "{what}: {e}");
    let e = a.exec(ExecRequest::new("true")).await.expect_err("gone");
    assert_eq!(e.kind(), ErrorKind::SandboxGone, "{what}: {e}");
    let gone = common::eventually(5, || {
        !std::path::Path::new(&format!("/proc/{keeper}")).exists()
            || std::fs::read_to_string(format!("/proc/{keeper}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    })
    .await;
    assert!(gone, "{what}: the crashed worker's keeper is still running");
    // The other session, and new ones, are untouched.
    let out = b
        .exec(ExecRequest::new("ls /semantic | wc -l"))
        .await
        .expect("b");
    assert_eq!(out.exit_code, 0, "{what}: {}", out.stderr_str());
    let c = plugin.create_contained(&layer).await.expect("create c");
    let out = c.exec(ExecRequest::new("echo fine")).await.expect("c");
    assert_eq!(out.stdout_str(), "fine\n");
    // The same command is within the interpreter's budgets: with the default cap it succeeds.
    let roomy = ContainedJustBash::new(JustBashConfig::default(), &PluginContext::default())
        .expect("valid config")
        .with_sessions_per_worker(1);
    let roomy = if plain { roomy.plain_only() } else { roomy };
    let d = roomy.create_contained(&layer).await.expect("create d");
    let out = d
        .exec(ExecRequest::new(ALLOCATES_PAST_THE_RLIMIT).timeout(Duration::from_secs(20)))
        .await
        .expect("d");
    assert_eq!(
        (out.exit_code, out.stdout_str().as_ref()),
        (0, "60000\n"),
        "{what}: {}",
        out.stderr_str()
    );
    for s in [a, b, c, d] {
        s.close().await.expect("close");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_ends_one_jailed_session() {
    if common::child_role().is_some() {
        return;
    }
    crash_ends_one_session(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_ends_one_plain_session() {
    if common::child_role().is_some() {
        return;
    }
    crash_ends_one_session(true).await;
}

/// T1 for this engine: a host (this binary re-run) opens a sandbox, starts a long command and
/// prints the keeper's pid; it is then SIGKILLed. The keeper, the jail's init and the
/// interpreter's process must all be gone.
#[test]
fn killing_the_host_kills_the_interpreter() {
    if let Some(role) = common::child_role() {
        if role == "t1-host" {
            t1_child();
        }
        return;
    }
    if common::plugin_or_skip("killing_the_host_kills_the_interpreter", config()).is_none() {
        return;
    }
    let (mut child, keeper) = common::start_host_child(common::Rerun::new(
        "killing_the_host_kills_the_interpreter",
        "t1-host",
    ));
    // The keeper, the init and the interpreter's process.
    let mut worker = vec![keeper];
    let start = std::time::Instant::now();
    while worker.len() < 3 && start.elapsed() < Duration::from_secs(10) {
        worker = std::iter::once(keeper)
            .chain(common::descendants_of(keeper))
            .collect();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(worker.len(), 3, "the worker's processes: {worker:?}");
    child.kill().expect("kill the host");
    let _ = child.wait();
    let alive = |pid: &i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
    };
    let start = std::time::Instant::now();
    while worker.iter().any(alive) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<_> = worker.iter().filter(|p| alive(p)).collect();
    assert!(left.is_empty(), "the worker outlived its host: {left:?}");
}

fn t1_child() {
    common::host_child(config(), "sleep 60".into());
}

/// The just-bash engine hands a command's output back in its replies, in chunks under the
/// socket's message size: several chunks on each stream arrive whole and in order, and the cap
/// still cuts at its byte and says so.
async fn output_in_chunks(plain: bool) {
    let Some((what, plugin, _tmp, layer)) = worker_kind(plain) else {
        return;
    };
    let sb = plugin.create_contained(&layer).await.expect("create");
    let lines = |n: u32| (1..=n).map(|i| format!("{i}\n")).collect::<String>();
    // About 340 KB on stdout and 160 KB on stderr: six and three chunks.
    let o = sb
        .exec(ExecRequest::new("seq 60000; seq 30000 >&2; exit 3"))
        .await
        .expect("exec");
    assert_eq!(o.exit_code, 3, "{what}");
    assert!(o.stdout == lines(60000).into_bytes(), "{what}: stdout");
    assert!(o.stderr == lines(30000).into_bytes(), "{what}: stderr");
    assert!(!o.stdout_truncated && !o.stderr_truncated, "{what}");
    let cap = 100_000;
    let o = sb
        .exec(ExecRequest::new("seq 60000; seq 5 >&2").max_output_bytes(cap))
        .await
        .expect("exec");
    assert!(o.stdout_truncated, "{what}: the cut is reported");
    assert!(
        o.stdout.starts_with(&lines(60000).as_bytes()[..cap]),
        "{what}: the kept stdout is the start of the output"
    );
    assert_eq!(o.stderr_str(), "1\n2\n3\n4\n5\n", "{what}");
    assert!(!o.stderr_truncated, "{what}");
    // The session goes on after both.
    let o = sb.exec(ExecRequest::new("echo ok")).await.expect("exec");
    assert_eq!(o.stdout_str(), "ok\n", "{what}");
    sb.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_comes_back_in_chunks_from_a_jailed_worker() {
    if common::child_role().is_some() {
        return;
    }
    output_in_chunks(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_comes_back_in_chunks_from_a_plain_worker() {
    if common::child_role().is_some() {
        return;
    }
    output_in_chunks(true).await;
}

/// Deep interpretation in a worker, where the jail hides `/proc` (the interpreter's stack
/// bounds are learnt before): recursion and nesting up to the interpreter's limits run, and
/// the worker stays up.
async fn deep_work(plain: bool) {
    let Some((what, plugin, _tmp, layer)) = worker_kind(plain) else {
        return;
    };
    let sb = plugin.create_contained(&layer).await.expect("create");
    for (cmd, want) in [
        (
            "f() { if [ $1 -gt 0 ]; then f $(( $1 - 1 )); else echo bottom; fi; }; f 95",
            "bottom\n",
        ),
        (
            "echo $(echo $(echo $(echo $(echo $(echo $(echo $(echo nested)))))))",
            "nested\n",
        ),
        (
            "(echo a; (echo b; (echo c; (cd entities && (ls | (head -1))))))",
            "a\nb\nc\ncarts.yml\n",
        ),
    ] {
        let o = sb.exec(ExecRequest::new(cmd)).await.expect("exec");
        assert_eq!(o.stdout_str(), want, "{what}: {cmd}: {}", o.stderr_str());
        assert_eq!(o.exit_code, 0, "{what}: {cmd}");
    }
    let o = sb.exec(ExecRequest::new("echo alive")).await.expect("exec");
    assert_eq!(o.stdout_str(), "alive\n", "{what}");
    sb.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_work_runs_in_a_jailed_worker() {
    if common::child_role().is_some() {
        return;
    }
    deep_work(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_work_runs_in_a_plain_worker() {
    if common::child_role().is_some() {
        return;
    }
    deep_work(true).await;
}
