//! Each fault of cloud-backends.md, injected in the emulator: what the user sees, and that no
//! sandbox is left alive at the end.

mod common;

use std::time::{Duration, Instant};

use atlas_emulator_e2b::EmulatorOptions;
use atlas_sandbox_sdk::{ErrorKind, ExecRequest, SandboxPlugin};
use common::RunOk;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_zero_exit_keeps_code_stdout_and_stderr() {
    let env = common::setup(json!({})).await;
    let sb = env.sandbox().await;
    let out = sb
        .exec(ExecRequest::new("echo out; echo err >&2; exit 3"))
        .await
        .unwrap();
    assert_eq!(
        (
            out.exit_code,
            out.stdout_str().as_ref(),
            out.stderr_str().as_ref()
        ),
        (3, "out\n", "err\n")
    );
    let out = sb
        .exec(ExecRequest::new("grep -rn no-such-term-anywhere ."))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 1);
    let out = sb.exec(ExecRequest::new("kill -9 $$")).await.unwrap();
    assert_eq!(out.exit_code, 137, "a signal is 128 + n: {out:?}");
    env.close_and_assert_none_alive(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_is_exit_124_with_partial_output_and_the_cap_holds() {
    let env = common::setup(json!({})).await;
    let sb = env.sandbox().await;
    // The sandbox is made at the first command: keep its setup out of the measured time, whose
    // bound (our own deadline, 1 s + 3 s) leaves no room for it on a loaded machine.
    sb.exec(ExecRequest::new("true")).await.unwrap();
    let t = Instant::now();
    let out = sb
        .exec(ExecRequest::new("echo before; sleep 5").timeout(Duration::from_secs(1)))
        .await
        .unwrap();
    assert!(out.timed_out && out.exit_code == 124, "{out:?}");
    assert_eq!(out.stdout_str(), "before\n");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    let start = env.last_start_request();
    assert_eq!(start.header("connect-timeout-ms"), Some("1000"));

    let out = sb
        .exec(ExecRequest::new("yes | head -c 100000").max_output_bytes(1000))
        .await
        .unwrap();
    assert!(out.stdout_truncated, "{out:?}");
    assert!(out.stdout.len() < 1200);
    assert_eq!(out.exit_code, 0);
    env.close_and_assert_none_alive(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_tolerated() {
    let env = common::setup(json!({})).await;
    env.kit.set_latency(Duration::from_millis(150));
    let sb = env.sandbox().await;
    let t = Instant::now();
    sb.run_ok("ls entities").await;
    assert!(
        t.elapsed() >= Duration::from_millis(450),
        "three round trips of 150 ms"
    );
    env.close_and_assert_none_alive(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_create_honours_retry_after_then_succeeds() {
    let env = common::setup(json!({})).await;
    env.fail_next(
        "/v2/sandboxes",
        1,
        429,
        Some(1),
        "you have reached the maximum number of concurrent E2B sandboxes (20)",
    );
    let sb = env.sandbox().await;
    let t = Instant::now();
    sb.run_ok("ls").await;
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    assert_eq!(env.kit.count("POST", "/v2/sandboxes"), 2);
    env.assert_live(1, "one sandbox, not two");
    sb.close().await.unwrap();

    // Still limited after every retry: a RateLimited error with the vendor's message.
    env.fail_next("/v2/sandboxes", 10, 429, Some(0), "slow down");
    let sb = env.sandbox().await;
    let e = sb.exec(ExecRequest::new("ls")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert!(e.to_string().contains("slow down"), "{e}");
    env.kit.clear();
    env.assert_none_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_create_is_not_retried_upload_is() {
    let env = common::setup(json!({})).await;
    env.kit.fail_next(
        "/v2/sandboxes",
        1,
        503,
        None,
        json!({"code": 503, "message": "no capacity", "error_code": "sandbox_capacity_unavailable"}),
    );
    let sb = env.sandbox().await;
    let e = sb.exec(ExecRequest::new("ls")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend);
    assert!(e.is_temporary());
    assert!(
        e.to_string().contains("sandbox_capacity_unavailable"),
        "error_code kept: {e}"
    );
    assert_eq!(
        env.kit.count("POST", "/v2/sandboxes"),
        1,
        "a create is never blindly retried"
    );

    // The same sandbox object works on the next call; a 503 on the upload is retried.
    env.fail_next("/files", 1, 503, None, "busy");
    sb.run_ok("cat catalog.yml").await;
    assert_eq!(env.kit.count("POST", "/files"), 2);

    // An upload that keeps failing: the new sandbox is killed, not leaked.
    let sb2 = env.sandbox().await;
    env.fail_next("/files", 10, 500, None, "disk error");
    let e = sb2.exec(ExecRequest::new("ls")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
    env.assert_live(1, "only the first sandbox remains");
    sb.close().await.unwrap();
    env.kit.clear();
    env.assert_none_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_cut_mid_way_is_an_error_and_the_next_command_works() {
    let env = common::setup(json!({})).await;
    let sb = env.sandbox().await;
    sb.exec(ExecRequest::new("true")).await.unwrap();
    env.kit.cut_stream_next("/process.Process/Start", 40);
    let e = sb
        .exec(ExecRequest::new("cat catalog.yml"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
    assert!(e.is_temporary());
    assert!(e.to_string().contains("ended"), "{e}");
    sb.run_ok("cat catalog.yml").await;
    env.assert_live(1, "the same sandbox kept working");
    env.close_and_assert_none_alive(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanished_sandbox_is_recreated_once_and_the_command_works() {
    let env = common::setup(json!({})).await;
    let sb = env.sandbox().await;
    sb.exec(ExecRequest::new("true")).await.unwrap();
    let first = env.state.live_sandboxes();
    assert_eq!(first.len(), 1);
    assert!(env.state.vanish(&first[0]));
    let out = sb.run_ok("cat entities/orders.yml").await;
    assert!(!out.stdout.is_empty());
    let now = env.state.live_sandboxes();
    assert_eq!(now.len(), 1);
    assert_ne!(now, first);
    assert_eq!(env.kit.count("POST", "/v2/sandboxes"), 2);
    assert_eq!(
        env.kit.count("POST", "/files"),
        2,
        "the layer is uploaded again"
    );
    env.close_and_assert_none_alive(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upload_within_limits_works_and_a_timed_out_one_is_retried() {
    let env = common::setup(json!({"request_timeout": "1s"})).await;
    env.kit.delay_next("/files", Duration::from_millis(500));
    let sb = env.sandbox().await;
    sb.run_ok("ls").await;
    sb.close().await.unwrap();

    env.kit.clear();
    env.kit.delay_next("/files", Duration::from_secs(3));
    let sb = env.sandbox().await;
    sb.run_ok("ls").await;
    assert_eq!(
        env.kit.count("POST", "/files"),
        2,
        "the timed-out upload was sent again"
    );
    env.close_and_assert_none_alive(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_sandbox_does_not_hang_the_call_and_keepalives_keep_slow_commands_alive() {
    let env = common::setup(json!({"idle_timeout": "3s"})).await;
    let sb = env.sandbox().await;
    // envd is asked for a keepalive every second: a 4 s silent command survives a 3 s idle limit.
    let out = sb
        .exec(ExecRequest::new("sleep 4; echo done"))
        .await
        .unwrap();
    assert_eq!(out.stdout_str(), "done\n");
    let start = env.last_start_request();
    assert_eq!(start.header("keepalive-ping-interval"), Some("1"));

    let id = env.state.live_sandboxes().pop().unwrap();
    env.state.freeze(&id);
    let t = Instant::now();
    let e = sb
        .exec(ExecRequest::new("ls").timeout(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "idle timeout, not the 60 s deadline: {:?}",
        t.elapsed()
    );
    env.close_and_assert_none_alive(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_is_an_auth_error_naming_the_variable_and_never_the_key() {
    let opts = EmulatorOptions {
        api_key: Some("e2b_the_right_one".into()),
        ..Default::default()
    };
    let env = common::setup_with(opts, json!({})).await;
    let h = env.plugin.health_check().await;
    assert!(!h.healthy);
    assert!(h.message.contains("E2B_API_KEY"), "{h:?}");
    let sb = env.sandbox().await;
    let e = sb.exec(ExecRequest::new("ls")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.to_string().contains("E2B_API_KEY"), "{e}");
    assert!(!format!("{e} {e:?} {h:?}").contains(common::KEY));
    env.assert_none_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_template_is_a_config_error_naming_it() {
    let env = common::setup(json!({"template": "no-such-template"})).await;
    let sb = env.sandbox().await;
    let e = sb.exec(ExecRequest::new("ls")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid, "{e}");
    assert!(e.to_string().contains("no-such-template"), "{e}");
    env.assert_none_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_sandbox_is_killed_and_sweep_finds_leaks() {
    let env = common::setup(json!({})).await;
    let sb = env.sandbox().await;
    sb.exec(ExecRequest::new("true")).await.unwrap();
    drop(sb);
    env.assert_none_alive().await;

    // Two "leaked" sandboxes (never closed: leaked on purpose by forgetting them).
    let a = env.sandbox().await;
    let b = env.sandbox().await;
    a.exec(ExecRequest::new("true")).await.unwrap();
    b.exec(ExecRequest::new("true")).await.unwrap();
    std::mem::forget(a);
    std::mem::forget(b);
    let young = env
        .plugin
        .sweep(Duration::from_secs(3600), false)
        .await
        .unwrap();
    assert!(
        young.sandboxes.is_empty(),
        "younger than an hour: {young:?}"
    );
    let dry = env.plugin.sweep(Duration::ZERO, true).await.unwrap();
    assert_eq!(dry.sandboxes.len(), 2);
    assert!(
        dry.sandboxes
            .iter()
            .all(|s| !s.killed && s.tags["atlas-sandbox"] == "true")
    );
    env.assert_live(2, "a dry run kills nothing");
    let real = env.plugin.sweep(Duration::ZERO, false).await.unwrap();
    assert_eq!(real.sandboxes.iter().filter(|s| s.killed).count(), 2);
    env.assert_none_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifetime_is_extended_while_in_use() {
    let env = common::setup(json!({"sandbox_lifetime": "10s"})).await;
    let sb = env.sandbox().await;
    sb.exec(ExecRequest::new("true")).await.unwrap();
    assert_eq!(
        env.kit.count("POST", "/timeout"),
        0,
        "fresh: no extension yet"
    );
    // Past half the lifetime, the next command renews it (in the background).
    tokio::time::sleep(Duration::from_millis(5200)).await;
    sb.exec(ExecRequest::new("true")).await.unwrap();
    for _ in 0..50 {
        if env.kit.count("POST", "/timeout") > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ext = env.requests_ending_with("/timeout");
    assert_eq!(ext.len(), 1);
    assert_eq!(ext[0].json().unwrap(), json!({"timeout": 10}));
    assert_eq!(
        env.kit
            .requests()
            .iter()
            .filter(|r| r.path == "/v2/sandboxes")
            .count(),
        1
    );
    env.close_and_assert_none_alive(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_giving_up_during_setup_leaks_no_sandbox() {
    let env = common::setup(json!({})).await;
    // Cancelled during the upload: the sandbox exists and is killed in the background.
    env.kit.delay_next("/files", Duration::from_secs(2));
    let sb = env.sandbox().await;
    let r = tokio::time::timeout(Duration::from_millis(400), sb.exec(ExecRequest::new("ls"))).await;
    assert!(r.is_err(), "the caller gave up");
    env.assert_none_alive().await;

    // Cancelled while the create is in flight: whatever the server did, the client looks for a
    // sandbox carrying that create's nonce tag (and kills it if one exists).
    env.kit.delay_next("/v2/sandboxes", Duration::from_secs(1));
    let r = tokio::time::timeout(Duration::from_millis(300), sb.exec(ExecRequest::new("ls"))).await;
    assert!(r.is_err(), "the caller gave up");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let searched = env.kit.requests().iter().any(|r| {
        r.method == "GET"
            && r.path == "/v2/sandboxes"
            && r.query
                .as_deref()
                .unwrap_or("")
                .contains("atlas-sandbox-create-nonce")
    });
    assert!(searched, "the lost create was looked up by its nonce");
    env.assert_none_alive().await;

    // The sandbox object still works afterwards.
    sb.run_ok("ls").await;
    env.close_and_assert_none_alive(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_is_lost_is_found_by_its_nonce_and_killed() {
    let env = common::setup(json!({})).await;
    env.kit.cut_stream_next("/v2/sandboxes", 20);
    let sb = env.sandbox().await;
    let e = sb.exec(ExecRequest::new("ls")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
    env.assert_live(1, "the vendor did create it");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    env.assert_none_alive().await;
    assert_eq!(env.kit.count("DELETE", "/sandboxes/"), 1);
    assert_eq!(
        env.kit.count("POST", "/v2/sandboxes"),
        1,
        "and it was not blindly retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enormous_timeout_runs_the_command_instead_of_panicking() {
    // No `timeout` cap in the config: the request's own timeout reaches the deadline arithmetic.
    let env = common::setup(json!({})).await;
    let sb = env.sandbox().await;
    let out = sb
        .exec(ExecRequest::new("echo hi").timeout(atlas_sandbox_sdk::MAX_TIMEOUT))
        .await
        .unwrap();
    assert_eq!((out.exit_code, out.stdout_str().as_ref()), (0, "hi\n"));
    env.close_and_assert_none_alive(sb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_request_is_refused_before_any_request_and_names_the_backend() {
    let env = common::setup(json!({})).await;
    let sb = env.sandbox().await;
    for bad in [ExecRequest::new("  "), ExecRequest::new("ls").cwd("../etc")] {
        let e = sb.exec(bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
        assert_eq!(e.backend(), "e2b", "{e}");
    }
    assert!(
        env.kit.requests().is_empty(),
        "no sandbox for a bad request"
    );
    sb.close().await.unwrap();
}
