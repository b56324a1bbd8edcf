//! The HTTP protocol of the real server binary: auth, limits, errors, timeouts, disconnects,
//! overload and shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use atlas_sandbox_sidecar::protocol::{ErrorBody, ExecResponse, HealthBody, VersionBody};
use common::*;
use serde_json::json;

async fn exec_json(
    server: &Server,
    token: Option<&str>,
    body: serde_json::Value,
) -> reqwest::Response {
    exec_request(server, token, &body).send().await.unwrap()
}

async fn exec_ok(server: &Server, body: serde_json::Value) -> ExecResponse {
    let r = exec_json(server, Some(TOKEN), body).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn auth_is_required_and_compared() {
    let (_l, _t, s) = serve(&[]);
    let body = json!({"command": "echo hi"});
    let r = exec_json(&s, None, body.clone()).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let e: ErrorBody = r.json().await.unwrap();
    assert_eq!(e.error, "Unauthorized");
    assert_eq!(
        exec_json(&s, Some("wrong"), body.clone()).await.status(),
        401
    );
    let almost = format!("{TOKEN}x");
    assert_eq!(
        exec_json(&s, Some(&almost), body.clone()).await.status(),
        401
    );
    let r = exec_ok(&s, body).await;
    assert_eq!(r.stdout, "hi\n");
    assert_eq!(r.exit_code, 0);
    // The token is never logged.
    assert!(!s.stderr().contains(TOKEN), "{}", s.stderr());
}

#[tokio::test]
async fn refuses_to_start_without_a_token() {
    let l = layer();
    let (mut cmd, _logs, stderr) = bare_command("127.0.0.1:0", &semantic(&l), &[]);
    let status = cmd.status().unwrap();
    assert_eq!(status.code(), Some(2));
    let err = std::fs::read_to_string(stderr).unwrap();
    assert!(err.contains("SIDECAR_AUTH_TOKEN"), "{err}");

    // Auth disabled is refused on a non-loopback address...
    let (mut cmd, _logs, stderr) =
        bare_command("0.0.0.0:0", &semantic(&l), &[("SIDECAR_AUTH_DISABLE", "1")]);
    assert_eq!(cmd.status().unwrap().code(), Some(2));
    assert!(
        std::fs::read_to_string(stderr)
            .unwrap()
            .contains("loopback")
    );
    // ...and a value other than 1/true does not disable it.
    let (mut cmd, _logs, _) = bare_command(
        "127.0.0.1:0",
        &semantic(&l),
        &[("SIDECAR_AUTH_DISABLE", "yes")],
    );
    assert_ne!(cmd.status().unwrap().code(), Some(0));
}

#[tokio::test]
async fn auth_disabled_binds_loopback_and_warns() {
    let (l, t) = (layer(), tmp_root());
    let s = start(&semantic(&l), t.path(), &["--auth-disabled"], &[]);
    assert!(s.addr.starts_with("127.0.0.1:"));
    let r = exec_json(&s, None, json!({"command": "echo open"})).await;
    assert_eq!(r.status(), 200);
    assert!(s.stderr().contains("AUTH DISABLED"), "{}", s.stderr());
}

#[tokio::test]
async fn bad_requests_get_400_413_404_with_messages() {
    let (_l, _t, s) = serve(&["--max-body-bytes", "1024"]);
    let url = format!("{}/exec", s.url());
    let post = |body: Vec<u8>| {
        http()
            .post(&url)
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
    };
    let r = post(b"{not json".to_vec()).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let e: ErrorBody = r.json().await.unwrap();
    assert!(e.error.contains("invalid JSON"), "{}", e.error);
    for bad in [
        json!({}),
        json!({"command": 5}),
        json!({"command": ""}),
        json!({"command": "ls", "timeout_ms": 0}),
        json!({"command": "ls", "cwd": "../.."}),
        json!({"command": "ls", "cwd": "/etc"}),
        json!({"command": "ls", "extra": true}),
    ] {
        let r = post(serde_json::to_vec(&bad).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let e: ErrorBody = r.json().await.unwrap();
        assert!(!e.error.is_empty());
    }
    let big = serde_json::to_vec(&json!({"command": "a".repeat(5000)})).unwrap();
    let r = post(big).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let e: ErrorBody = r.json().await.unwrap();
    assert!(e.error.contains("1024"), "{}", e.error);

    for (method, path) in [("GET", "/nope"), ("GET", "/exec"), ("POST", "/health")] {
        let r = http()
            .request(method.parse().unwrap(), format!("{}{path}", s.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
        let e: ErrorBody = r.json().await.unwrap();
        assert_eq!(e.error, "Not found");
    }
}

#[tokio::test]
async fn health_version_and_503() {
    let (l, t, s) = serve(&[]);
    let r = get(&s, "/health").await;
    assert_eq!(r.status(), 200);
    let h: HealthBody = r.json().await.unwrap();
    assert_eq!(h.status, "ok");
    assert!(h.shell_available && h.semantic_readable);
    let v: VersionBody = get_json(&s, "/version").await;
    assert_eq!(v.version, env!("CARGO_PKG_VERSION"));

    let missing = l.path().join("nope");
    let s2 = start_default(&missing, t.path());
    let r = get(&s2, "/health").await;
    assert_eq!(r.status(), 503);
    let h: HealthBody = r.json().await.unwrap();
    assert!(h.reason.unwrap().contains("unreadable"));

    let s3 = start_authed(&semantic(&l), t.path(), &["--shell", "/nonexistent/bash"]);
    let r = get(&s3, "/health").await;
    assert_eq!(r.status(), 503);
    let h: HealthBody = r.json().await.unwrap();
    assert!(!h.shell_available);
    assert!(h.reason.unwrap().contains("shell"));
}

#[tokio::test]
async fn environment_home_and_temp_dirs() {
    let (l, t, s) = serve_with(&[], &[("ATLAS_DATASOURCE_URL", "postgres://secret")]);
    let a = exec_ok(
        &s,
        json!({"command": "env; pwd; id -u; touch $HOME/x && echo wrote"}),
    )
    .await;
    assert!(!a.stdout.contains(TOKEN), "{}", a.stdout);
    assert!(!a.stdout.contains("postgres://secret"));
    assert!(!a.stdout.contains("SIDECAR_"));
    assert!(a.stdout.contains("LANG=C.UTF-8"));
    assert!(a.stdout.contains("wrote"));
    let home = a
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("HOME="))
        .unwrap()
        .to_owned();
    assert!(home.starts_with(t.path().to_str().unwrap()));
    assert!(a.stdout.contains(semantic(&l).to_str().unwrap()));
    assert_ne!(
        a.stdout.lines().nth_back(1),
        Some("0"),
        "commands must not run as root"
    );
    let b = exec_ok(&s, json!({"command": "echo $HOME"})).await;
    assert_ne!(b.stdout.trim(), home);
    assert!(
        wait_until(Duration::from_secs(5), || leftovers(t.path()).is_empty()),
        "{:?}",
        leftovers(t.path())
    );
    // Writes to the semantic layer fail for the unprivileged user.
    let w = exec_ok(&s, json!({"command": "echo x >> catalog.yml"})).await;
    assert_ne!(w.exit_code, 0);
    let c = exec_ok(
        &s,
        json!({"command": "cat catalog.yml", "cwd": "entities/.."}),
    )
    .await;
    assert_eq!(c.stdout, "name: shop\nentities: [orders, customers]\n");
    let g = exec_ok(
        &s,
        json!({"command": "grep -rn customer_id .", "cwd": "/semantic/entities"}),
    )
    .await;
    assert_eq!(g.stdout.lines().count(), 2, "{}", g.stdout);
}

#[tokio::test]
async fn timeout_output_cap_and_binary() {
    let (_l, _t, s) = serve(&[]);
    let start = Instant::now();
    let r = exec_ok(&s, json!({"command": "sleep 30", "timeout_ms": 300})).await;
    // Far below the command's 30 s, with room for a loaded machine.
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(r.exit_code, 124);
    assert!(r.timed_out);

    let r = exec_ok(
        &s,
        json!({"command": "yes | head -c 100000; echo err >&2", "max_output_bytes": 1000}),
    )
    .await;
    assert!(r.truncated && r.stdout_truncated && !r.stderr_truncated);
    assert!(r.stdout.contains("[output truncated: exceeded 1000 bytes]"));
    assert_eq!(r.stderr, "err\n");

    let r = exec_ok(
        &s,
        json!({"command": "printf '\\377\\000\\303'", "encoding": "base64"}),
    )
    .await;
    assert_eq!(r.into_output().unwrap().stdout, vec![0xff, 0x00, 0xc3]);
    let r = exec_ok(&s, json!({"command": "printf '\\377'"})).await;
    assert_eq!(r.stdout, "\u{FFFD}");
    let r = exec_ok(&s, json!({"command": "exit 7"})).await;
    assert_eq!(r.exit_code, 7);
}

#[tokio::test]
async fn disconnect_kills_the_command() {
    let (_l, t, s) = serve(&[]);
    let marker = tmp_root();
    let pidfile = marker.path().join("pid");
    let cmd = format!("sleep 60 & echo $! > {}; wait", pidfile.display());
    // A raw connection, so the test controls exactly when the client hangs up.
    let body = serde_json::to_string(&json!({"command": cmd, "timeout_ms": 50000})).unwrap();
    let mut conn = tokio::net::TcpStream::connect(&s.addr).await.unwrap();
    let head = format!(
        "POST /exec HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut conn, head.as_bytes())
        .await
        .unwrap();
    assert!(wait_until(Duration::from_secs(20), || pidfile.exists()));
    drop(conn);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || !process_alive(pid)),
        "sleep {pid} survived the client's disconnect"
    );
    assert!(wait_until(Duration::from_secs(5), || descendants(s.pid()).is_empty()));
    assert!(wait_until(Duration::from_secs(5), || leftovers(t.path()).is_empty()));
    assert!(
        wait_until(Duration::from_secs(5), || s
            .stderr()
            .contains("client disconnected while its command ran")),
        "the kill is not logged: {}",
        s.stderr()
    );
}

#[tokio::test]
async fn overload_without_a_queue_gets_429_with_retry_after() {
    let (_l, _t, s) = serve(&["--max-concurrent", "2", "--max-queue", "0"]);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        // Long enough that all six arrive while the first two run, even on a loaded machine.
        let request = exec_request(&s, Some(TOKEN), &json!({"command": "sleep 3"}));
        tasks.push(tokio::spawn(async move { request.send().await.unwrap() }));
    }
    let mut ok = 0;
    let mut busy = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status().as_u16() {
            200 => ok += 1,
            429 => {
                assert_eq!(r.headers()["retry-after"], "1");
                let e: ErrorBody = r.json().await.unwrap();
                assert!(e.error.contains("max-concurrent"));
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 2);
    assert_eq!(busy, 4);
}

/// Past the running limit requests wait; only past the line's bound, or its timeout, is there
/// a 429 (with Retry-After and a message naming the flag).
#[tokio::test]
async fn overload_waits_in_a_bounded_queue() {
    let (_l, _t, s) = serve(&["--max-concurrent", "2", "--max-queue", "2"]);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let request = exec_request(&s, Some(TOKEN), &json!({"command": "sleep 2; echo done"}));
        tasks.push(tokio::spawn(async move { request.send().await.unwrap() }));
    }
    let (mut ok, mut busy) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status().as_u16() {
            200 => {
                let body: ExecResponse = r.json().await.unwrap();
                assert_eq!(body.stdout, "done\n");
                ok += 1;
            }
            429 => {
                assert_eq!(r.headers()["retry-after"], "1");
                let e: ErrorBody = r.json().await.unwrap();
                assert!(e.error.contains("--max-queue"), "{}", e.error);
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        (ok, busy),
        (4, 2),
        "two run, two wait and run, two are refused"
    );

    let (_l, _t, s) = serve(&["--max-concurrent", "1", "--queue-timeout", "300ms"]);
    let long = exec_request(&s, Some(TOKEN), &json!({"command": "sleep 3"}));
    let long = tokio::spawn(async move { long.send().await.unwrap() });
    wait_running(&s, 1).await;
    let r = exec_request(&s, Some(TOKEN), &json!({"command": "true"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let e: ErrorBody = r.json().await.unwrap();
    assert!(e.error.contains("--queue-timeout"), "{}", e.error);
    assert_eq!(long.await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn sigterm_finishes_in_flight_commands_then_exits() {
    let (_l, t, mut s) = serve(&[]);
    let request = exec_request(
        &s,
        Some(TOKEN),
        &json!({"command": "sleep 1; echo finished"}),
    );
    let inflight = tokio::spawn(request.send());
    wait_running(&s, 1).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(s.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let r = inflight.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    let body: ExecResponse = r.json().await.unwrap();
    assert_eq!(body.stdout, "finished\n");
    let status = tokio::task::spawn_blocking(move || {
        let st = s.child.wait().unwrap();
        (st, s)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "{:?}", status.0);
    assert!(status.1.stderr().contains("shutting down"));
    assert!(leftovers(t.path()).is_empty());
    // Nothing listens any more.
    let after = http()
        .get(format!("{}/health", status.1.url()))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(after.is_err());
}

#[tokio::test]
async fn sigterm_kills_commands_that_outlive_the_grace() {
    let (_l, _t, mut s) = serve(&["--max-timeout", "1s"]);
    let body = json!({"command": "sleep 30", "timeout_ms": 60000});
    let inflight = tokio::spawn(exec_request(&s, Some(TOKEN), &body).send());
    wait_running(&s, 1).await;
    let start = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(s.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    // The request's timeout was clamped to --max-timeout, so the command ends at 1 s (124).
    let r = inflight.await.unwrap().unwrap();
    let body: ExecResponse = r.json().await.unwrap();
    assert_eq!(body.exit_code, 124);
    let st = tokio::task::spawn_blocking(move || s.child.wait().unwrap())
        .await
        .unwrap();
    assert!(st.success());
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// `sidecar up` starts the server as the unprivileged container user, so nothing drops
/// privileges (which would also make it undumpable): a command running as the same uid must
/// still not read the token from the server's /proc environ.
#[tokio::test]
async fn commands_cannot_read_the_token_from_the_server_process() {
    use std::os::unix::process::CommandExt as _;
    let (l, t) = (layer(), tmp_root());
    let s = start_with(
        &semantic(&l),
        t.path(),
        &[],
        &[("SIDECAR_AUTH_TOKEN", TOKEN)],
        |cmd| {
            if nix::unistd::Uid::effective().is_root() {
                cmd.uid(65534).gid(65534);
            }
        },
    );
    let r = exec_ok(
        &s,
        json!({"command": "id -u; echo ppid=$PPID; tr '\\0' '\\n' < /proc/$PPID/environ"}),
    )
    .await;
    assert!(
        r.stdout.contains(&format!("ppid={}\n", s.pid())),
        "the command's parent is the server: {r:?}"
    );
    assert!(!r.stdout.contains(TOKEN), "token readable: {}", r.stdout);
}
