//! The client plugin (atlas-sandbox-sidecar) against the real server binary.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{ErrorKind, ExecRequest, Sandbox, SandboxPlugin};
use atlas_sandbox_sidecar::{SidecarConfig, SidecarPlugin};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn descriptor_and_schema() {
    let d = atlas_sandbox_sidecar::descriptor();
    assert_eq!(d.id, "sidecar");
    assert_eq!(d.default_priority, 50);
    assert_eq!(d.cargo_feature, "sidecar");
    assert!(d.requires_config);
    let schema = (d.schema)();
    let props = &schema["properties"];
    for key in ["url", "auth_token", "timeout", "max_retries", "unix_socket"] {
        assert!(props[key]["description"].is_string(), "{key}: {schema}");
    }
    assert_eq!(schema["additionalProperties"], false);
    let sec = (d.default_security)();
    assert!(
        !sec.network_isolation,
        "the plugin cannot promise egress control"
    );
}

#[tokio::test]
async fn health_follows_the_server() {
    let (l, t, s) = serve(&[]);
    let h = plugin(&s.url(), Some(TOKEN)).health_check().await;
    assert!(h.healthy, "{h:?}");

    let h = plugin(&s.url(), Some("wrong")).health_check().await;
    assert!(!h.healthy);
    assert!(h.message.contains("401"), "{h:?}");

    // Nothing listens on this port: refused, unhealthy, selection moves on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let h = plugin(&dead, Some(TOKEN)).health_check().await;
    assert!(!h.healthy);
    assert!(h.message.contains("unreachable"), "{h:?}");

    let s503 = start_default(&l.path().join("missing"), t.path());
    let h = plugin(&s503.url(), Some(TOKEN)).health_check().await;
    assert!(!h.healthy);
    assert!(
        h.message.contains("503") && h.message.contains("unreadable"),
        "{h:?}"
    );
}

#[tokio::test]
async fn exec_maps_the_protocol() {
    let (_l, _t, s) = serve(&[]);
    let p = plugin(&s.url(), Some(TOKEN));
    let sb = p.sandbox();
    let out = sb
        .exec(ExecRequest::new(
            "grep -rn customer_id . | sort; echo e >&2; exit 3",
        ))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 3);
    assert_eq!(out.stdout_str().lines().count(), 2);
    assert_eq!(out.stderr, b"e\n");
    let out = sb
        .exec(ExecRequest::new("printf '\\377\\376'; ls").cwd("entities"))
        .await
        .unwrap();
    assert_eq!(&out.stdout[..2], &[0xff, 0xfe], "lossless by default");
    assert!(out.stdout_str().contains("orders.yml"));
    let out = sb
        .exec(ExecRequest::new("yes").max_output_bytes(100))
        .await
        .unwrap();
    assert!(out.stdout_truncated);
    assert!(out.stdout.len() < 200);
    let out = sb
        .exec(ExecRequest::new("sleep 20").timeout(Duration::from_millis(300)))
        .await
        .unwrap();
    assert!(out.timed_out);
    assert_eq!(out.exit_code, 124);
    let e = sb
        .exec(ExecRequest::new("ls").cwd("../etc"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    let e = plugin(&s.url(), Some("wrong"))
        .sandbox()
        .exec(ExecRequest::new("ls"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(!e.to_string().contains("wrong"));
    sb.close().await.unwrap();
    sb.close().await.unwrap();
    let e = sb.exec(ExecRequest::new("ls")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SandboxGone);
}

#[tokio::test]
async fn busy_server_is_retried_with_backoff() {
    // No queue, so the second request is refused at once and the client's retries are what
    // gets it through.
    let (_l, _t, s) = serve(&["--max-concurrent", "1", "--max-queue", "0"]);
    let hog = plugin(&s.url(), Some(TOKEN)).sandbox();
    let long = tokio::spawn(async move { hog.exec(ExecRequest::new("sleep 2")).await });
    // Until the hog holds the only slot.
    wait_for_health(&s, "the hog never started", |h| h.running == 1).await;

    let e = retrying_sandbox(&s, 0)
        .exec(ExecRequest::new("true"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));

    let out = retrying_sandbox(&s, 10)
        .exec(ExecRequest::new("echo through"))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"through\n");
    assert!(long.await.unwrap().unwrap().success());
}

/// A server that accepts and reads the request but never answers: the client's own deadline
/// must turn into exit 124. It also shows which path the client asked for.
#[tokio::test]
async fn http_timeout_is_exit_124_and_base_path_is_kept() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                break;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let line = String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send(line);
                tokio::time::sleep(Duration::from_secs(30)).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    let mut c = SidecarConfig::new(format!("http://{addr}/team/sidecar"));
    c.timeout = Duration::from_millis(200).into();
    let start = Instant::now();
    let out = SidecarPlugin::new(c)
        .unwrap()
        .sandbox()
        .exec(ExecRequest::new("ls").timeout(Duration::from_millis(300)))
        .await
        .unwrap();
    // Far below the silent server's 30 s, with room for a loaded machine.
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(out.timed_out);
    assert_eq!(out.exit_code, 124);
    assert_eq!(rx.recv().await.unwrap(), "POST /team/sidecar/exec HTTP/1.1");
}

#[tokio::test]
async fn an_enormous_timeout_runs_the_command_instead_of_panicking() {
    let (_l, _t, s) = serve(&[]);
    let sb = plugin(&s.url(), Some(TOKEN)).sandbox();
    let out = sb
        .exec(ExecRequest::new("echo hi").timeout(atlas_sandbox_sdk::MAX_TIMEOUT))
        .await
        .unwrap();
    assert_eq!((out.exit_code, out.stdout_str().as_ref()), (0, "hi\n"));
}
