//! The Daytona backend against the local Daytona emulator: the contract suite, behaviour the
//! user sees (split streams, exit codes, timeouts with partial output, quoting), each injected
//! fault, cleanup, and the round-trip count.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use atlas_emulator_daytona::{Control, CreateFault};
use atlas_emulator_kit::Kit;
use atlas_sandbox_cloud::RetryPolicy;
use atlas_sandbox_daytona::{DaytonaConfig, DaytonaPlugin};
use atlas_sandbox_sdk::{
    ErrorKind, ExecRequest, HumanDuration, PluginContext, Sandbox, SandboxPlugin, Secret,
    SemanticLayer,
};
use atlas_sandbox_testkit::{contract, plugin_factory};

use common::{Env, KEY, env};

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
    }
}

fn config(e: &Env) -> DaytonaConfig {
    let mut c = DaytonaConfig::new(Secret::new(KEY));
    c.api_url = e.control.api_url();
    c.create_timeout = HumanDuration(Duration::from_secs(5));
    c
}

fn plugin_with(c: DaytonaConfig) -> DaytonaPlugin {
    let ctx = PluginContext {
        instance_id: "test-instance".to_owned(),
        ..PluginContext::default()
    };
    DaytonaPlugin::with_retry(c, &ctx, fast_retry()).unwrap()
}

fn plugin(e: &Env) -> DaytonaPlugin {
    plugin_with(config(e))
}

/// A small layer with awkward names: spaces, a quote, a `$`, an empty directory.
fn awkward_layer() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("semantic");
    std::fs::create_dir_all(root.join("dir with space/it's")).unwrap();
    std::fs::create_dir_all(root.join("empty dir")).unwrap();
    std::fs::write(root.join("catalog.yml"), "name: shop\n").unwrap();
    std::fs::write(root.join("dir with space/it's/$HOME.yml"), "quoted: true\n").unwrap();
    std::fs::write(
        root.join("orders.yml"),
        "name: orders\ncolumns:\n  - customer_id\n",
    )
    .unwrap();
    (tmp, root)
}

async fn create(p: &DaytonaPlugin, root: &PathBuf) -> Box<dyn Sandbox> {
    p.create(&SemanticLayer::open(root).unwrap()).await.unwrap()
}

async fn wait_until_none_alive(control: &Control) {
    let start = Instant::now();
    while !control.live_sandboxes().is_empty() && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        control.live_sandboxes().is_empty(),
        "sandboxes left alive: {:?}",
        control.live_sandboxes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_suite() {
    let e = env().await;
    let p = plugin(&e);
    let opts = contract::ContractOptions::new().supports_writes(true);
    let report = contract::run("daytona", plugin_factory(&p), opts).await;
    report.print_table();
    report.assert_passed();
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_exit_codes_and_exact_bytes() {
    let e = env().await;
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    let sb = create(&p, &root).await;

    let out = sb
        .exec(ExecRequest::new("cat orders.yml; echo oops >&2; exit 3"))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 3);
    assert_eq!(
        out.stdout_str(),
        "name: orders\ncolumns:\n  - customer_id\n"
    );
    assert_eq!(out.stderr_str(), "oops\n");
    assert!(!out.timed_out);

    // A last line without a newline stays without one (the daemon adds one; we remove it).
    let out = sb
        .exec(ExecRequest::new("printf abc; printf err >&2"))
        .await
        .unwrap();
    assert_eq!(
        (out.stdout_str().as_ref(), out.stderr_str().as_ref()),
        ("abc", "err")
    );
    let out = sb.exec(ExecRequest::new("true")).await.unwrap();
    assert_eq!(
        (out.stdout.len(), out.stderr.len(), out.exit_code),
        (0, 0, 0)
    );
    let out = sb
        .exec(ExecRequest::new("nosuchcommand_xyz"))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 127);
    assert!(out.stderr_str().contains("not found"), "{out:?}");

    // `exit` and `cd` of one command do not end or move the session.
    let out = sb.exec(ExecRequest::new("cd /; exit 0")).await.unwrap();
    assert_eq!(out.exit_code, 0);
    let out = sb.exec(ExecRequest::new("ls")).await.unwrap();
    assert_eq!(
        out.stdout_str(),
        "catalog.yml\ndir with space\nempty dir\norders.yml\n"
    );

    // Paths with spaces, quotes and `$` reach the sandbox intact, as cwd too.
    let out = sb
        .exec(ExecRequest::new("cat ./*.yml").cwd("dir with space/it's"))
        .await
        .unwrap();
    assert_eq!(out.stdout_str(), "quoted: true\n", "{out:?}");
    let out = sb
        .exec(ExecRequest::new("ls -A 'empty dir' | wc -l"))
        .await
        .unwrap();
    assert_eq!(out.stdout_str().trim(), "0", "{out:?}");

    // Output cap with notice.
    let out = sb
        .exec(
            ExecRequest::new("i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done")
                .max_output_bytes(100),
        )
        .await
        .unwrap();
    assert!(out.stdout_truncated);
    assert!(out.stdout_str().starts_with("line0\nline1\n"));
    assert!(out.stdout_str().contains("output truncated"));

    sb.close().await.unwrap();
    sb.close().await.unwrap();
    let err = sb.exec(ExecRequest::new("ls")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SandboxGone);
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_job_does_not_hold_the_exec_open() {
    // The job keeps the command's stdout; the output limiters must still let the exec end when
    // the command itself does, not at the deadline.
    let e = env().await;
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    let sb = create(&p, &root).await;
    let out = sb
        .exec(ExecRequest::new("sleep 30 & echo started; exit 4").timeout(Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(!out.timed_out, "{out:?}");
    assert_eq!(out.exit_code, 4);
    assert_eq!(out.stdout_str(), "started\n");
    let out = sb.exec(ExecRequest::new("echo next")).await.unwrap();
    assert_eq!(out.stdout_str(), "next\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_keeps_partial_output_and_kills_the_command() {
    let e = env().await;
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    let sb = create(&p, &root).await;
    let id = e.control.live_sandboxes()[0].clone();
    let start = Instant::now();
    let out = sb
        .exec(
            ExecRequest::new("echo before; echo warn >&2; sleep 30; echo after")
                .timeout(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    let took = start.elapsed();
    assert!(out.timed_out);
    assert_eq!(out.exit_code, 124);
    assert_eq!(out.stdout_str(), "before\n");
    assert_eq!(out.stderr_str(), "warn\n");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // The timed-out command's session was deleted (its process group killed).
    assert_eq!(e.control.session_count(&id), 0);
    // The sandbox is still usable.
    let out = sb.exec(ExecRequest::new("echo again")).await.unwrap();
    assert_eq!(out.stdout_str(), "again\n");
    sb.close().await.unwrap();
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_request_is_tagged_and_locked_down() {
    let e = env().await;
    let mut c = config(&e);
    c.target = Some("eu".into());
    c.labels.insert("team".into(), "data".into());
    c.organization_id = Some("org-123".into());
    let p = plugin_with(c);
    let (_t, root) = awkward_layer();
    let sb = create(&p, &root).await;
    let create = e
        .kit
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/api/sandbox")
        .unwrap();
    assert_eq!(
        create.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    // JWT mode: the organization travels in a header, on every request.
    assert!(
        e.kit
            .requests()
            .iter()
            .all(|r| r.header("x-daytona-organization-id") == Some("org-123"))
    );
    let body = create.json().unwrap();
    assert_eq!(body["networkBlockAll"], true);
    assert_eq!(body["autoStopInterval"], 15);
    assert_eq!(body["autoDeleteInterval"], 0);
    assert_eq!(body["target"], "eu");
    assert_eq!(body["labels"]["atlas-sandbox"], "true");
    assert_eq!(body["labels"]["atlas-sandbox-instance"], "test-instance");
    assert!(body["labels"]["atlas-sandbox-created"].as_str().is_some());
    assert_eq!(body["labels"]["team"], "data");
    assert_eq!(
        body["env"],
        serde_json::json!({}),
        "nothing of ours reaches the sandbox's environment"
    );
    // The whole layer went up in one multipart request, to the relative semantic dir.
    assert_eq!(e.kit.count("POST", "/files/bulk-upload"), 1);
    let upload = e
        .kit
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/files/bulk-upload"))
        .unwrap();
    let text = String::from_utf8_lossy(&upload.body);
    assert!(
        text.contains("semantic/dir with space/it's/$HOME.yml"),
        "{text}"
    );
    sb.close().await.unwrap();
    wait_until_none_alive(&e.control).await;
}

fn session_creates(kit: &Kit) -> usize {
    kit.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/process/session"))
        .count()
}

/// Round trips: create, then upload and the first session together; then one per command (a
/// synchronous session exec returns the exit code and both streams).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_count() {
    let e = env().await;
    e.kit.set_latency(Duration::from_millis(50));
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    let sb = create(&p, &root).await;
    let setup = e.kit.requests().len();
    assert_eq!(e.kit.count("POST", "/api/sandbox"), 1);
    assert_eq!(e.kit.count("POST", "/files/bulk-upload"), 1);
    assert_eq!(session_creates(&e.kit), 1);
    // Besides the shell probe (`/bin/bash -c 'exit 0'` in the first session, while the layer
    // uploads), one command gives the copy its empty directory, modes and times.
    assert_eq!(e.kit.count("POST", "/files/folder"), 0);
    let execs: Vec<_> = e
        .kit
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/exec"))
        .collect();
    assert_eq!(execs.len(), 2);
    assert_eq!(execs[0].json().unwrap()["command"], "/bin/bash -c 'exit 0'");
    let restore = execs[1].json().unwrap()["command"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(restore.starts_with("/bin/sh -c 'set -e"), "{restore}");
    assert!(restore.contains("touch -c -d @"), "{restore}");
    assert_eq!(
        setup,
        5,
        "{:?}",
        e.kit
            .requests()
            .iter()
            .map(|r| (&r.method, &r.path))
            .collect::<Vec<_>>()
    );
    let commands = 10;
    for i in 0..commands {
        let out = sb
            .exec(ExecRequest::new(format!("echo {i}; echo e{i} >&2")))
            .await
            .unwrap();
        assert_eq!(out.stdout_str(), format!("{i}\n"));
        assert_eq!(out.stderr_str(), format!("e{i}\n"));
    }
    let total = e.kit.requests().len() - setup;
    eprintln!("round trips: setup {setup}, then {total} for {commands} commands");
    assert_eq!(total, commands, "one round trip per command");
    assert_eq!(
        e.kit.count("POST", "/exec"),
        commands + 2,
        "and the probe and the restore"
    );
    assert_eq!(session_creates(&e.kit), 1, "the session is reused");
    // Bytes that are not UTF-8 cost one more round trip (the exact log), never a wrong byte.
    e.kit.clear();
    let out = sb
        .exec(ExecRequest::new("printf '\\377ok\\n'"))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"\xffok\n");
    assert_eq!(e.kit.requests().len(), 2);
    e.kit.clear();
    sb.close().await.unwrap();
    assert_eq!(e.kit.requests().len(), 1, "close is one DELETE");
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_use_separate_sessions() {
    let e = env().await;
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    let sb = create(&p, &root).await;
    let start = Instant::now();
    let (a, b) = tokio::join!(
        sb.exec(ExecRequest::new("sleep 1; echo a")),
        sb.exec(ExecRequest::new("sleep 1; echo b"))
    );
    assert_eq!(a.unwrap().stdout_str(), "a\n");
    assert_eq!(b.unwrap().stdout_str(), "b\n");
    assert!(
        start.elapsed() < Duration::from_millis(1900),
        "ran one after the other"
    );
    sb.close().await.unwrap();
    wait_until_none_alive(&e.control).await;
}

// ----- faults ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_latency() {
    let e = env().await;
    e.kit.set_latency(Duration::from_millis(100));
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    let sb = create(&p, &root).await;
    let start = Instant::now();
    let out = sb.exec(ExecRequest::new("cat catalog.yml")).await.unwrap();
    assert_eq!(out.stdout_str(), "name: shop\n");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_millis(1000),
        "{took:?}"
    );
    sb.close().await.unwrap();
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_rate_limited_create_is_retried_after_retry_after() {
    let e = env().await;
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    e.kit.fail_next(
        "/api/sandbox",
        1,
        429,
        Some(1),
        serde_json::json!({"statusCode": 429, "error": "Too Many Requests", "message": "ThrottlerException: Too Many Requests"}),
    );
    let start = Instant::now();
    let sb = create(&p, &root).await;
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(e.kit.count("POST", "/api/sandbox"), 2);
    assert_eq!(e.control.live_sandboxes().len(), 1, "exactly one sandbox");
    sb.close().await.unwrap();

    // Throttled for longer than the retries: the user sees RateLimited with the message.
    e.kit.fail_next(
        "/api/sandbox",
        10,
        429,
        Some(0),
        serde_json::json!({"statusCode": 429, "error": "Too Many Requests", "message": "ThrottlerException: Too Many Requests"}),
    );
    let err = p
        .create(&SemanticLayer::open(&root).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.to_string().contains("ThrottlerException"), "{err}");
    e.kit.clear();
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_server_errors() {
    let e = env().await;
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    // A create answered with 500 is not repeated (it may have made a sandbox): the error is
    // reported, and a sandbox it made would be found by its create label and deleted.
    e.kit.fail_next(
        "/api/sandbox",
        1,
        500,
        None,
        serde_json::json!({"statusCode": 500, "error": "Internal Server Error", "message": "Sandbox resource limit reached (16)"}),
    );
    let err = p
        .create(&SemanticLayer::open(&root).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend);
    assert!(err.is_temporary());
    assert!(err.to_string().contains("resource limit"), "{err}");
    assert_eq!(e.kit.count("POST", "/api/sandbox"), 1);
    assert_eq!(
        e.kit.count("GET", "/api/sandbox"),
        1,
        "looked for a half-made sandbox"
    );
    wait_until_none_alive(&e.control).await;

    // 503 on idempotent polls (the sandbox starting) is retried transparently.
    e.control.set_start_delay(Duration::from_millis(200));
    e.kit.fail_next(
        "/api/sandbox/",
        2,
        503,
        None,
        serde_json::json!({"statusCode": 503, "message": "unavailable"}),
    );
    let sb = create(&p, &root).await;
    e.control.set_start_delay(Duration::ZERO);
    let out = sb.exec(ExecRequest::new("echo fine")).await.unwrap();
    assert_eq!(out.stdout_str(), "fine\n");
    // 502 on the exec itself is not retried: the user gets a temporary error, the next command works.
    e.kit.fail_next(
        "/exec",
        1,
        502,
        None,
        serde_json::json!({"statusCode": 502, "message": "bad gateway"}),
    );
    let err = sb.exec(ExecRequest::new("echo once")).await.unwrap_err();
    assert!(err.is_temporary(), "{err}");
    let out = sb.exec(ExecRequest::new("echo next")).await.unwrap();
    assert_eq!(out.stdout_str(), "next\n");
    sb.close().await.unwrap();
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_stream_cut_midway() {
    let e = env().await;
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    let sb = create(&p, &root).await;
    // The exec answer is cut: the command is found in its session and its log read back.
    e.kit.cut_stream_next("/exec", 20);
    let out = sb
        .exec(ExecRequest::new("cat orders.yml; echo e >&2; exit 5"))
        .await
        .unwrap();
    assert_eq!(
        out.stdout_str(),
        "name: orders\ncolumns:\n  - customer_id\n"
    );
    assert_eq!(out.stderr_str(), "e\n");
    assert_eq!(out.exit_code, 5);
    assert_eq!(e.kit.count("GET", "/logs"), 1, "recovered from the log");
    // A log body cut mid-way (read back after a timeout) is fetched again.
    e.kit.cut_stream_next("/logs", 7);
    let out = sb
        .exec(ExecRequest::new("echo partial; sleep 30").timeout(Duration::from_millis(700)))
        .await
        .unwrap();
    assert!(out.timed_out);
    assert_eq!(out.stdout_str(), "partial\n");
    assert!(
        e.kit.count("GET", "/logs") >= 3,
        "the cut body was fetched again"
    );
    let out = sb.exec(ExecRequest::new("echo next")).await.unwrap();
    assert_eq!(out.stdout_str(), "next\n");
    sb.close().await.unwrap();
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_sandbox_vanishes_and_is_recreated_once() {
    let e = env().await;
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    let sb = create(&p, &root).await;
    let first = e.control.live_sandboxes();
    assert_eq!(first.len(), 1);
    assert!(e.control.vanish(&first[0]));
    let out = sb.exec(ExecRequest::new("cat catalog.yml")).await.unwrap();
    assert_eq!(out.stdout_str(), "name: shop\n");
    let second = e.control.live_sandboxes();
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    assert_eq!(e.kit.count("POST", "/api/sandbox"), 2);
    let out = sb
        .exec(ExecRequest::new("ls 'dir with space'"))
        .await
        .unwrap();
    assert_eq!(out.stdout_str(), "it's\n");
    sb.close().await.unwrap();
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_slow_upload() {
    let e = env().await;
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    e.kit
        .delay_next("/files/bulk-upload", Duration::from_millis(1500));
    let start = Instant::now();
    let sb = create(&p, &root).await;
    assert!(start.elapsed() >= Duration::from_millis(1500));
    let out = sb.exec(ExecRequest::new("cat catalog.yml")).await.unwrap();
    assert_eq!(out.stdout_str(), "name: shop\n");
    sb.close().await.unwrap();
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_sandbox_stuck_in_starting_is_deleted_at_the_deadline() {
    let e = env().await;
    let mut c = config(&e);
    c.create_timeout = HumanDuration(Duration::from_secs(1));
    let p = plugin_with(c);
    let (_t, root) = awkward_layer();
    e.control.fail_next_create(CreateFault::StuckStarting);
    let start = Instant::now();
    let err = p
        .create(&SemanticLayer::open(&root).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.to_string().contains("starting"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(e.kit.count("GET", "/api/sandbox/") >= 2, "it polled");
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_create_that_errors() {
    let e = env().await;
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    e.control.set_start_delay(Duration::from_millis(300));
    e.control.fail_next_create(CreateFault::Error(
        "no runner available in region us".into(),
    ));
    let err = p
        .create(&SemanticLayer::open(&root).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend);
    assert!(err.to_string().contains("no runner available"), "{err}");
    wait_until_none_alive(&e.control).await;

    // A slow but healthy start is waited for.
    let sb = create(&p, &root).await;
    let out = sb.exec(ExecRequest::new("echo up")).await.unwrap();
    assert_eq!(out.stdout_str(), "up\n");
    sb.close().await.unwrap();

    // A snapshot that does not exist: the vendor's message names it.
    let mut c = config(&e);
    c.snapshot = Some("missing-snapshot".into());
    let err = plugin_with(c)
        .create(&SemanticLayer::open(&root).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(err.to_string().contains("missing-snapshot"), "{err}");
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_is_an_auth_error_naming_the_variable_and_hiding_the_key() {
    let e = env().await;
    let mut c = config(&e);
    c.api_key = Secret::new("dtn_wrong_secret_value");
    let p = plugin_with(c);
    let (_t, root) = awkward_layer();
    let err = p
        .create(&SemanticLayer::open(&root).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let text = format!("{err} {err:?} {p:?}");
    assert!(text.contains("DAYTONA_API_KEY"), "{text}");
    assert!(!text.contains("dtn_wrong_secret_value"), "{text}");
    let h = p.health_check().await;
    assert!(!h.healthy);
    assert!(h.message.contains("DAYTONA_API_KEY"), "{}", h.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_lists_and_never_creates() {
    let e = env().await;
    let p = plugin(&e);
    let h = p.health_check().await;
    assert!(h.healthy, "{}", h.message);
    assert_eq!(e.kit.count("POST", ""), 0);
    let list = e.kit.requests();
    assert_eq!(list.len(), 1);
    assert!(
        list[0].query.as_deref().unwrap_or("").contains("labels="),
        "{:?}",
        list[0].query
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_finds_only_ours_and_drop_deletes_in_background() {
    let e = env().await;
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    let a = create(&p, &root).await;
    let b = create(&p, &root).await;
    // A sandbox someone else made, without our labels.
    let foreign = reqwest::Client::new()
        .post(format!("{}/sandbox", e.control.api_url()))
        .bearer_auth(KEY)
        .json(&serde_json::json!({"labels": {"owner": "someone-else"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 200);
    assert_eq!(e.control.live_sandboxes().len(), 3);

    let report = p.sweep(Duration::from_secs(3600), false).await.unwrap();
    assert!(report.sandboxes.is_empty(), "nothing is an hour old");
    let report = p.sweep(Duration::ZERO, true).await.unwrap();
    assert_eq!(report.sandboxes.len(), 2);
    assert!(report.sandboxes.iter().all(|s| !s.killed));
    assert_eq!(e.control.live_sandboxes().len(), 3);
    let report = p.sweep(Duration::ZERO, false).await.unwrap();
    assert_eq!(report.sandboxes.len(), 2);
    assert!(report.sandboxes.iter().all(|s| s.killed));
    assert_eq!(
        e.control.live_sandboxes().len(),
        1,
        "the foreign sandbox stays"
    );
    drop((a, b));

    let c = create(&p, &root).await;
    assert_eq!(e.control.live_sandboxes().len(), 2);
    drop(c);
    let start = Instant::now();
    while e.control.live_sandboxes().len() > 1 && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        e.control.live_sandboxes().len(),
        1,
        "a dropped sandbox is deleted"
    );
}

/// The escape rows that our client decides (what is uploaded, how commands and paths are sent,
/// deadlines, output caps, cleanup). Isolation itself is Daytona's: the emulator runs commands
/// on this host, so the rows that attack the sandbox boundary are not observable here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_rows_decided_by_the_client() {
    use atlas_sandbox_testkit::escape;
    let e = env().await;
    let p = plugin(&e);
    let vendor = "isolation is Daytona's (a remote sandbox); the emulator runs commands on this host, so this row cannot be observed against it";
    let mut opts = escape::EscapeOptions::new()
        .t2_sessions(100)
        .t1_covered_by("remote sandboxes outlive a killed host only until auto-stop + auto-delete; `sweep` (tests/emulated.rs sweep_finds_only_ours...) removes them");
    for row in ["F2", "F4", "P1", "P2", "N1", "R1", "R2", "R5"] {
        opts = opts.not_applicable(row, vendor);
    }
    opts = opts
        .not_applicable(
            "I1",
            "the emulator's commands share this host's /proc (isolation is Daytona's); that we send no environment is checked in create_request_is_tagged_and_locked_down",
        )
        .not_applicable(
            "R6",
            "Daytona's session log is line-based (the daemon's labeller reads lines with `read`), which drops NUL bytes: a vendor limitation in the docs and security caveats; the other 255 byte values and a 4000-character command are checked in binary_bytes_and_huge_command",
        );
    let report = escape::run("daytona", plugin_factory(&p), opts).await;
    report.print_table();
    report.assert_passed();
    wait_until_none_alive(&e.control).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_bytes_and_huge_command() {
    let e = env().await;
    let p = plugin(&e);
    let (_t, root) = awkward_layer();
    let sb = create(&p, &root).await;
    // Every byte value but NUL (which the vendor's line labeller drops), on both streams.
    let script: String = (1u8..=255).map(|b| format!("\\{b:03o}")).collect();
    let out = sb
        .exec(ExecRequest::new(format!(
            "printf '{script}'; printf '{script}' >&2"
        )))
        .await
        .unwrap();
    let expected: Vec<u8> = (1u8..=255).collect();
    assert_eq!(out.stdout, expected);
    assert_eq!(out.stderr, expected);
    // A command at the 4000-character limit, quotes included.
    let filler = "x'y\"z".repeat(400);
    let cmd = format!("printf '%s' {} | wc -c", atlas_quote(&filler));
    let cmd = format!("{cmd}{}", " ".repeat(4000 - cmd.chars().count()));
    assert_eq!(cmd.chars().count(), 4000);
    let out = sb.exec(ExecRequest::new(cmd)).await.unwrap();
    assert_eq!(out.stdout_str().trim(), "2000", "{out:?}");
    sb.close().await.unwrap();
    wait_until_none_alive(&e.control).await;
}

fn atlas_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
