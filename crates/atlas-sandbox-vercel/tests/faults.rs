//! Each fault of cloud-backends.md, injected by the emulator: what the user sees, and that no
//! microVM is left running afterwards.

mod common;

use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{ErrorKind, ExecRequest, SandboxPlugin};
use common::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_zero_exit_keeps_code_stdout_and_stderr() {
    let s = common::setup().await;
    let sb = s.sandbox().await;
    let out = sb
        .exec(ExecRequest::new(
            "cat entities/orders.yml; echo oops >&2; exit 42",
        ))
        .await
        .expect("a non-zero exit is Ok");
    assert_eq!(out.exit_code, 42);
    assert_eq!(out.stdout_str(), "name: orders\n");
    assert_eq!(out.stderr_str(), "oops\n");
    assert!(!out.timed_out);
    s.close_and_assert_none_running(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_on_every_request() {
    let s = common::setup().await;
    s.kit.set_latency(Duration::from_millis(50));
    let t = Instant::now();
    let sb = s.sandbox().await;
    let out = sb
        .exec(ExecRequest::new("ls entities"))
        .await
        .expect("exec");
    assert_eq!(out.stdout_str(), "orders.yml\n");
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "3 round trips of 50 ms"
    );
    s.close_and_assert_none_running(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_is_retried_after_retry_after_then_reported() {
    let s = common::setup().await;
    let sb = s.sandbox().await;
    // The first command also sets the microVM up (and probes its shell): count from the next.
    sb.exec(ExecRequest::new("true")).await.expect("setup");
    let before = s.kit.count("POST", "/cmd");
    let body = common::error_body("rate_limited", "Too many requests");
    s.kit.fail_next("/cmd", 2, 429, Some(0), body.clone());
    let out = sb.exec(ExecRequest::new("echo ok")).await.expect("retried");
    assert_eq!(out.stdout_str(), "ok\n");
    assert_eq!(
        s.kit.count("POST", "/cmd") - before,
        3,
        "two 429s then the command"
    );

    // More 429s than retries: the user sees RateLimited with the vendor's message and wait.
    s.kit.fail_next("/cmd", 10, 429, Some(7), body);
    let e = sb
        .exec(ExecRequest::new("echo ok"))
        .await
        .expect_err("rate limited");
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert!(e.to_string().contains("Too many requests"), "{e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    s.kit.clear();
    s.close_and_assert_none_running(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_retry_only_what_is_safe() {
    let s = common::setup().await;
    // The upload is idempotent: a 503 is retried.
    s.fail_next("/fs/write", 1, 503, "internal", "busy");
    let sb = s.create().await.expect("upload retried");
    assert_eq!(s.kit.count("POST", "/fs/write"), 2);
    // A command is not: a 502 is reported (temporary), and it ran zero times, not twice.
    // (Setup ran one command already: the shell probe.)
    let before = s.kit.count("POST", "/cmd");
    s.fail_next("/cmd", 1, 502, "bad_gateway", "upstream");
    let e = sb
        .exec(ExecRequest::new("echo once >> /tmp/count"))
        .await
        .expect_err("502");
    assert_eq!(e.kind(), ErrorKind::Backend);
    assert!(e.is_temporary());
    assert_eq!(s.kit.count("POST", "/cmd") - before, 1, "never resent");
    let out = sb
        .exec(ExecRequest::new("echo fine"))
        .await
        .expect("next works");
    assert_eq!(out.stdout_str(), "fine\n");
    s.close_and_assert_nothing_left(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_create_is_looked_up_by_name_not_blindly_repeated() {
    let s = common::setup().await;
    // The first request is the create; a 503 leaves it unknown whether a microVM exists.
    s.fail_next("/v2/sandboxes", 1, 503, "internal", "oops");
    let sb = s.create().await.expect("create after lookup");
    let reqs = s.kit.requests();
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(
        reqs[1].method, "GET",
        "looked the name up before creating again"
    );
    let name = reqs[0].json().expect("body")["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reqs[1].path.ends_with(&name), "{} vs {name}", reqs[1].path);
    assert_eq!(
        reqs[2].json().expect("body")["name"],
        name.as_str(),
        "same name: no duplicate possible"
    );
    assert_eq!(s.emu.running_sessions(), 1, "exactly one microVM");
    s.close_and_assert_nothing_left(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_mid_way_is_recovered_from_wait_and_logs() {
    let s = common::setup().await;
    let sb = s.sandbox().await;
    // The first ndjson line (the command) fits in 400 bytes; the output is cut inside.
    s.kit.cut_stream_next("/cmd", 400);
    let out = sb
        .exec(ExecRequest::new("seq 1 3000; echo warn >&2; exit 3"))
        .await
        .expect("recovered");
    let want: String = (1..=3000).map(|i| format!("{i}\n")).collect();
    assert_eq!(out.stdout_str(), want);
    assert_eq!(out.stderr_str(), "warn\n");
    assert_eq!(out.exit_code, 3);
    assert_eq!(s.kit.count("GET", "/logs"), 1);
    assert!(
        s.any_request(
            |r| r.method == "GET" && r.query.as_deref().unwrap_or("").contains("wait=true")
        ),
        "waited for the command"
    );

    // Cut before the command line is complete: nothing to recover; a temporary error.
    s.kit.cut_stream_next("/cmd", 20);
    let e = sb
        .exec(ExecRequest::new("echo hi"))
        .await
        .expect_err("cut early");
    assert!(e.is_temporary(), "{e}");
    // And a cut log stream is read again.
    s.kit.cut_stream_next("/cmd", 400);
    s.kit.cut_stream_next("/logs", 300);
    let out = sb
        .exec(ExecRequest::new("seq 1 2000"))
        .await
        .expect("logs re-read");
    assert_eq!(out.stdout_str().lines().count(), 2000);
    s.close_and_assert_none_running(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_sandbox_is_recreated_once() {
    let s = common::setup().await;
    let sb = s.sandbox().await;
    assert_eq!(s.emu.stop_all_sessions(), 1);
    let out = sb
        .exec(ExecRequest::new("cat catalog.yml"))
        .await
        .expect("recreated");
    assert_eq!(
        out.stdout_str(),
        "tables: [orders]\n",
        "the layer was uploaded again"
    );
    assert_eq!(s.emu.created_count(), 2);
    assert_eq!(s.emu.running_sessions(), 1);
    // The stale record is deleted in the background.
    eventually("the stale sandbox deleted", || s.emu.sandbox_count() == 1).await;
    let out = sb
        .exec(ExecRequest::new("echo next"))
        .await
        .expect("the next command works");
    assert_eq!(out.stdout_str(), "next\n");

    // 422 sandbox_stopping is "gone" too.
    s.fail_next("/cmd", 1, 422, "sandbox_stopping", "stopping");
    let out = sb
        .exec(ExecRequest::new("echo again"))
        .await
        .expect("recreated after 422");
    assert_eq!(out.stdout_str(), "again\n");
    assert_eq!(s.emu.created_count(), 3);

    // Gone twice in a row: recreated once, then the error reaches the user.
    s.fail_next(
        "/cmd",
        2,
        410,
        "sandbox_stopped",
        "The sandbox session is stopped",
    );
    let e = sb
        .exec(ExecRequest::new("true"))
        .await
        .expect_err("gone twice");
    assert_eq!(e.kind(), ErrorKind::SandboxGone, "{e}");
    assert_eq!(s.emu.created_count(), 4, "exactly one recreation per exec");

    sb.close().await.expect("close");
    s.eventually_nothing_left("every microVM stopped and deleted")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upload_and_failed_upload() {
    let s = common::setup_with(|mut c| {
        c.timeout = "1s".parse().expect("duration");
        c
    })
    .await;
    // Slower than the 1 s request bound: the upload is idempotent, so it is sent again.
    s.kit.delay_next("/fs/write", Duration::from_millis(1500));
    let sb = s.create().await.expect("the retried upload works");
    assert_eq!(s.kit.count("POST", "/fs/write"), 2);
    let out = sb
        .exec(ExecRequest::new("cat catalog.yml"))
        .await
        .expect("exec");
    assert_eq!(out.stdout_str(), "tables: [orders]\n");
    sb.close().await.expect("close");

    // An upload that fails for good: the user sees the error, and the microVM is not leaked.
    s.fail_next("/fs/write", 5, 500, "internal", "disk");
    let e = s.create().await.expect_err("upload fails");
    assert!(e.to_string().contains("disk"), "{e}");
    s.assert_nothing_left();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_sandbox_is_stopped_in_the_background() {
    let s = common::setup().await;
    let sb = s.sandbox().await;
    sb.exec(ExecRequest::new("true")).await.expect("exec");
    drop(sb);
    s.eventually_nothing_left("the dropped sandbox stopped and deleted")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_124_whoever_enforces_them() {
    let s = common::setup().await;
    let sb = s.sandbox().await;
    let t = Instant::now();
    let out = sb
        .exec(ExecRequest::new("echo started; sleep 30").timeout(Duration::from_millis(800)))
        .await
        .expect("a timeout is Ok");
    assert_eq!((out.exit_code, out.timed_out), (124, true));
    // Well before our own deadline (0.8 s + 15 s): the vendor's kill was reported as 124.
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert_eq!(s.last_request_body()["timeout"], 800, "milliseconds");
    // A command that kills itself with SIGKILL quickly is not a timeout.
    let out = sb.exec(ExecRequest::new("kill -9 $$")).await.expect("exec");
    assert_eq!((out.exit_code, out.timed_out), (137, false));
    sb.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_commands_run_detached_with_wait_polling_and_logs() {
    let s = common::setup().await;
    let sb = s.sandbox().await;
    s.kit.clear();
    let out = sb
        .exec(
            ExecRequest::new("cat catalog.yml; echo e >&2; exit 5")
                .timeout(atlas_sandbox_vercel::STREAM_SWITCH + Duration::from_secs(60)),
        )
        .await
        .expect("exec");
    assert_eq!(
        (
            out.exit_code,
            out.stdout_str().as_ref(),
            out.stderr_str().as_ref()
        ),
        (5, "tables: [orders]\n", "e\n")
    );
    let reqs = s.kit.requests();
    let start = reqs
        .iter()
        .find(|r| r.path.ends_with("/cmd"))
        .and_then(|r| r.json())
        .expect("cmd");
    assert!(start.get("wait").is_none(), "detached: {start}");
    assert_eq!(start["timeout"], 300_000);
    assert!(
        reqs.iter()
            .any(|r| r.query.as_deref().unwrap_or("").contains("wait=true"))
    );
    assert_eq!(s.kit.count("GET", "/logs"), 1);
    sb.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifetime_is_extended_while_in_use() {
    let s = common::setup_with(|mut c| {
        c.sandbox_lifetime = "1m".parse().expect("duration");
        c
    })
    .await;
    let sb = s.sandbox().await;
    sb.exec(ExecRequest::new("true"))
        .await
        .expect("short command: no extension");
    assert_eq!(s.kit.count("POST", "/extend-timeout"), 0);
    sb.exec(ExecRequest::new("true").timeout(Duration::from_secs(40)))
        .await
        .expect("exec");
    let ext = s.requests_ending_with("/extend-timeout");
    assert_eq!(
        ext.len(),
        1,
        "a 40 s command does not fit in what is left of 1 min"
    );
    assert_eq!(
        ext[0].json().expect("body")["duration"],
        85_000,
        "40 s + grace + margin, in ms"
    );
    sb.exec(ExecRequest::new("true").timeout(Duration::from_secs(40)))
        .await
        .expect("exec");
    assert_eq!(
        s.kit.count("POST", "/extend-timeout"),
        1,
        "now there is room"
    );
    sb.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_get_no_host_environment_or_token() {
    let s = common::setup().await;
    let sb = s.sandbox().await;
    let out = sb.exec(ExecRequest::new("env")).await.expect("env");
    assert!(!out.stdout_str().contains(common::TOKEN));
    assert!(!out.stdout_str().contains("team_test"));
    // Only the constants every backend's commands start with are sent.
    let want = serde_json::Value::Object(
        atlas_sandbox_sdk::CommandPath::default()
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into()))
            .collect(),
    );
    assert_eq!(s.last_request_body()["env"], want);
    assert!(
        out.stdout_str().contains("TERM=dumb\n"),
        "{}",
        out.stdout_str()
    );
    sb.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_is_an_auth_error_naming_the_variable() {
    let s = common::setup().await;
    s.emu.expect_token(Some("a-different-token"));
    let e = s.create().await.expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Auth);
    let text = e.to_string();
    assert!(text.contains("VERCEL_TOKEN"), "{text}");
    assert!(!text.contains(common::TOKEN), "{text}");
    let h = s.plugin.health_check().await;
    assert!(!h.healthy);
    assert!(h.message.contains("VERCEL_TOKEN"), "{}", h.message);
    assert_eq!(s.emu.created_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_is_a_free_list_call() {
    let s = common::setup().await;
    let h = s.plugin.health_check().await;
    assert!(h.healthy, "{}", h.message);
    let reqs = s.kit.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("GET", "/v2/sandboxes")
    );
    assert_eq!(s.emu.created_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_finds_leaked_sandboxes_by_tag() {
    let s = common::setup().await;
    // Two leaks (as if the host crashed): never closed, never dropped.
    for _ in 0..2 {
        std::mem::forget(s.sandbox().await);
    }
    assert_eq!(s.emu.running_sessions(), 2);
    let r = s
        .plugin
        .sweep(Duration::from_secs(3600), false)
        .await
        .expect("sweep");
    assert!(r.sandboxes.is_empty(), "too young: {r:?}");
    let r = s.plugin.sweep(Duration::ZERO, true).await.expect("dry run");
    assert_eq!(r.sandboxes.len(), 2);
    assert!(r.sandboxes.iter().all(|x| !x.killed));
    assert_eq!(s.emu.running_sessions(), 2, "a dry run kills nothing");
    let r = s.plugin.sweep(Duration::ZERO, false).await.expect("sweep");
    assert_eq!(r.sandboxes.len(), 2);
    assert!(
        r.sandboxes.iter().all(|x| x.killed && x.error.is_none()),
        "{r:?}"
    );
    assert!(
        r.sandboxes
            .iter()
            .all(|x| x.tags["atlas-sandbox-instance"] == "test-instance")
    );
    s.assert_nothing_left();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_stream_ends_at_our_deadline_with_124_and_a_kill() {
    let s = common::setup().await;
    let sb = s.sandbox().await;
    s.emu.stall_next_streams(1);
    let t = Instant::now();
    let out = sb
        .exec(ExecRequest::new("sleep 30").timeout(Duration::from_millis(500)))
        .await
        .expect("a timeout is Ok");
    let took = t.elapsed();
    assert_eq!((out.exit_code, out.timed_out), (124, true));
    // The command's timeout plus the 15 s grace for the vendor to report it, and no more.
    assert!(took >= Duration::from_secs(15), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_eq!(s.kit.count("POST", "/kill"), 1, "the command was killed");
    let out = sb.exec(ExecRequest::new("echo after")).await.expect("next");
    assert_eq!(out.stdout_str(), "after\n");
    s.close_and_assert_none_running(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_giving_up_during_the_upload_leaks_no_microvm() {
    let s = common::setup().await;
    s.kit.delay_next("/fs/write", Duration::from_secs(3));
    let gave_up = tokio::time::timeout(Duration::from_millis(500), s.create()).await;
    assert!(gave_up.is_err(), "the create should still be uploading");
    assert_eq!(s.emu.created_count(), 1, "the microVM was created");
    s.eventually_nothing_left("the abandoned microVM stopped and deleted")
        .await;

    // Given up while the create is in flight: the name it chose is looked up (and whatever
    // carries it is stopped and deleted).
    s.kit.clear();
    s.kit.delay_next("/v2/sandboxes", Duration::from_secs(1));
    let gave_up = tokio::time::timeout(Duration::from_millis(300), s.create()).await;
    assert!(gave_up.is_err(), "the create should still be in flight");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let looked_up =
        s.any_request(|r| r.method == "GET" && r.path.starts_with("/v2/sandboxes/atlas-"));
    assert!(looked_up, "the lost create was looked up by its name");
    s.eventually_nothing_left("nothing left running").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enormous_timeout_runs_the_command_instead_of_panicking() {
    let s = common::setup().await;
    let sb = s.sandbox().await;
    let out = sb
        .exec(ExecRequest::new("echo hi").timeout(atlas_sandbox_sdk::MAX_TIMEOUT))
        .await
        .expect("exec");
    assert_eq!((out.exit_code, out.stdout_str().as_ref()), (0, "hi\n"));
    s.close_and_assert_none_running(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_keeps_failing_ambiguously_is_looked_up_once_more_afterwards() {
    let s = common::setup().await;
    // Every create (and lookup) answers 503: whether a microVM exists stays unknown.
    s.fail_next("/v2/sandboxes", 100, 503, "internal", "oops");
    let e = s.create().await.expect_err("the API keeps failing");
    assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
    let name = s
        .kit
        .requests()
        .iter()
        .find(|r| r.method == "POST")
        .and_then(|r| r.json())
        .and_then(|b| b["name"].as_str().map(str::to_owned))
        .expect("a create was sent");
    // The API recovers; the name is looked up in the background, so a microVM that the last
    // create did make would be stopped and deleted rather than left to its lifetime.
    s.kit.clear();
    eventually("the name was looked up after the failure", || {
        s.any_request(|r| r.method == "GET" && r.path.ends_with(&name))
    })
    .await;
    assert_eq!(s.emu.sandbox_count(), 0);
}
