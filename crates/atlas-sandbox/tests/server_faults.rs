//! The explore server's lifecycle faults, against the real binary:
//! - a client that goes away mid-`sleep 30` leaves no process, on every transport: `/v1/exec`,
//!   MCP over Streamable HTTP, and MCP over stdio (the client closing stdin, or the server killed);
//! - SIGTERM while commands run: every command in flight is answered with its real output, later
//!   callers get a clear refusal, the server exits 0 and leaves no sandbox (processes of the warm
//!   jail; sandboxes on the E2B emulator).
//!
//! Commands carry a unique `sleep` argument so the test can find their processes in `/proc`.

#![cfg(all(feature = "server", target_os = "linux"))]
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

mod common;

use common::wait_until;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `sleep` argument no other process on the machine has.
fn mark() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("30.{}{:09}", std::process::id() % 1000, nanos)
}

/// Processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(needle)
        {
            found.push(pid);
        }
    }
    found
}

/// `sleep <arg>` processes (not the shells around them).
fn sleepers(arg: &str) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let argv: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
            if argv.len() >= 2 && argv[0].ends_with(b"sleep") && argv[1] == arg.as_bytes() {
                n += 1;
            }
        }
    }
    n
}

/// Processes whose environment holds `ATLAS_FAULT_TEST=<tag>` (the server and its workers).
fn processes_tagged(tag: &str) -> Vec<u32> {
    let needle = format!("ATLAS_FAULT_TEST={tag}");
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(env) = std::fs::read(e.path().join("environ"))
            && env.split(|&b| b == 0).any(|v| v == needle.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

struct Server {
    child: Child,
    _dir: tempfile::TempDir,
    url: String,
    tag: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("atlas.toml");
    std::fs::write(
        &path,
        format!(
            "[sandbox]\nsemantic_root = {:?}\n{extra}\n[server]\nshutdown_grace = \"10s\"\n",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/semantic")
        ),
    )
    .unwrap();
    path
}

fn serve(extra: &str, tag: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), extra);
    let log = dir.path().join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_atlas-sandbox"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("ATLAS_FAULT_TEST", tag)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut s = Server {
        child,
        _dir: dir,
        url: String::new(),
        tag: tag.to_owned(),
    };
    wait_until("serve listens", Duration::from_secs(60), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(a) = text
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
        {
            s.url = format!("http://{a}");
            true
        } else {
            false
        }
    });
    s
}

/// The backend `serve` selected, from one command.
async fn backend_of(url: &str) -> String {
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/v1/exec"))
        .json(&serde_json::json!({"command": "true"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["backend"].as_str().unwrap_or_default().to_owned()
}

/// A server on the warm jail, or `None` after a SKIPPED line when the jail is not usable here.
async fn jail_server(test: &str) -> Option<Server> {
    let s = serve("backend = \"jail\"\n", &mark());
    let backend = backend_of(&s.url).await;
    if backend != "jail" {
        eprintln!("SKIPPED: {test}: the warm jail is not healthy here (answered by {backend:?})");
        return None;
    }
    Some(s)
}

async fn assert_dropped_call_leaves_no_process(
    url: &str,
    body: serde_json::Value,
    path: &str,
    m: &str,
) {
    let client = reqwest::Client::new();
    let send = client
        .post(format!("{url}{path}"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&body)
        .send();
    let call = tokio::spawn(send);
    let m2 = m.to_owned();
    tokio::task::spawn_blocking(move || {
        wait_until("the command runs", Duration::from_secs(30), || {
            sleepers(&m2) > 0
        });
    })
    .await
    .unwrap();
    call.abort();
    let _ = call.await;
    let m2 = m.to_owned();
    tokio::task::spawn_blocking(move || {
        wait_until(
            "the dropped call's processes are gone",
            Duration::from_secs(10),
            || processes_with(&m2).is_empty(),
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_http_caller_leaves_no_process() {
    let Some(s) = jail_server("a_dropped_http_caller_leaves_no_process").await else {
        return;
    };
    // The JSON API, one-shot and in a named session.
    let m = mark();
    assert_dropped_call_leaves_no_process(
        &s.url,
        serde_json::json!({"command": format!("sleep {m}")}),
        "/v1/exec",
        &m,
    )
    .await;
    let m = mark();
    assert_dropped_call_leaves_no_process(
        &s.url,
        serde_json::json!({"command": format!("sleep {m}"), "session": "s1"}),
        "/v1/exec",
        &m,
    )
    .await;
    // MCP over Streamable HTTP.
    let m = mark();
    assert_dropped_call_leaves_no_process(
        &s.url,
        serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "explore", "arguments": {"command": format!("sleep {m}"), "session": "s2"}}
        }),
        "/mcp",
        &m,
    )
    .await;
    // The server still serves.
    assert_eq!(backend_of(&s.url).await, "jail");
}

fn mcp_stdio(tag: &str) -> (Child, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "backend = \"jail\"\n");
    let child = Command::new(env!("CARGO_BIN_EXE_atlas-sandbox"))
        .args(["mcp", "--config"])
        .arg(&config)
        .env("ATLAS_FAULT_TEST", tag)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child, dir)
}

fn rpc(stdin: &mut impl Write, v: serde_json::Value) {
    writeln!(stdin, "{v}").unwrap();
    stdin.flush().unwrap();
}

/// Starts `sleep <m>` through MCP on stdio; returns once it runs (false: not on the jail).
fn start_stdio_sleep(child: &mut Child, m: &str) -> bool {
    let stdin = child.stdin.as_mut().unwrap();
    rpc(
        stdin,
        serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "fault-test", "version": "0"}}}),
    );
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("\"result\""), "initialize: {line}");
    let stdin = child.stdin.as_mut().unwrap();
    rpc(
        stdin,
        serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    rpc(
        stdin,
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "explore", "arguments": {"command": "echo $BASH_VERSION"}}}),
    );
    line.clear();
    out.read_line(&mut line).unwrap();
    if !line.contains("\\\"backend\\\":\\\"jail\\\"") && !line.contains("\"backend\":\"jail\"") {
        eprintln!("SKIPPED: stdio fault test: the warm jail is not healthy here: {line}");
        return false;
    }
    let stdin = child.stdin.as_mut().unwrap();
    rpc(
        stdin,
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "explore", "arguments": {"command": format!("sleep {m}")}}}),
    );
    wait_until("the command runs", Duration::from_secs(30), || {
        sleepers(m) > 0
    });
    // Keep stdout open (a closed pipe would be a different fault).
    std::mem::forget(out);
    true
}

#[test]
fn an_mcp_stdio_client_that_leaves_or_a_killed_server_leaves_no_process() {
    // The client closes stdin mid-command: the server stops the command and exits.
    let tag = mark();
    let (mut child, _dir) = mcp_stdio(&tag);
    let m = mark();
    if !start_stdio_sleep(&mut child, &m) {
        let _ = child.kill();
        let _ = child.wait();
        return;
    }
    drop(child.stdin.take());
    wait_until(
        "mcp exits after stdin closes",
        Duration::from_secs(15),
        || child.try_wait().unwrap().is_some(),
    );
    wait_until("no process is left", Duration::from_secs(10), || {
        processes_with(&m).is_empty() && processes_tagged(&tag).is_empty()
    });

    // The server is killed outright (SIGKILL): its jail dies with it.
    let tag = mark();
    let (mut child, _dir) = mcp_stdio(&tag);
    let m = mark();
    assert!(start_stdio_sleep(&mut child, &m));
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("no process is left", Duration::from_secs(10), || {
        processes_with(&m).is_empty() && processes_tagged(&tag).is_empty()
    });
}

/// Eight commands in flight and four clients hammering: SIGTERM answers the eight with their
/// real output, refuses or drops the rest cleanly (never a wrong answer), and `serve` exits 0.
/// `running` says when the eight commands have reached the backend.
async fn sigterm_under_load(s: &mut Server, running: impl Fn(&str) -> bool + Send + 'static) {
    let client = reqwest::Client::new();
    let m = mark();
    let mut in_flight = Vec::new();
    for i in 0..8 {
        let c = client.clone();
        let url = s.url.clone();
        let cmd = format!("sleep 2.{}; echo answer-{i}", &m[3..]);
        in_flight.push(tokio::spawn(async move {
            c.post(format!("{url}/v1/exec"))
                .json(&serde_json::json!({"command": cmd, "session": format!("s{i}")}))
                .send()
                .await
                .unwrap()
        }));
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut hammer = Vec::new();
    for k in 0..4 {
        let c = client.clone();
        let url = s.url.clone();
        let stop = stop.clone();
        hammer.push(tokio::spawn(async move {
            let mut answered = 0u32;
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let r = c
                    .post(format!("{url}/v1/exec"))
                    .json(&serde_json::json!({"command": format!("echo {k}-{n}")}))
                    .send()
                    .await;
                let Ok(r) = r else {
                    break; // the listener closed
                };
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                match status {
                    200 => {
                        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                        assert_eq!(v["stdout"], format!("{k}-{n}\n"), "a wrong answer: {body}");
                        answered += 1;
                    }
                    503 => assert!(body.contains("shutting down"), "{body}"),
                    other => panic!("unexpected {other}: {body}"),
                }
            }
            answered
        }));
    }
    let sleep_mark = format!("2.{}", &m[3..]);
    let sm = sleep_mark.clone();
    tokio::task::spawn_blocking(move || {
        wait_until("eight commands run", Duration::from_secs(60), || {
            running(&sm)
        })
    })
    .await
    .unwrap();
    let pid = s.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    for (i, h) in in_flight.into_iter().enumerate() {
        let r = h.await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "command {i} in flight at SIGTERM");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["stdout"], format!("answer-{i}\n"), "{v}");
        assert_eq!(v["exit_code"], 0);
    }
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "serve did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answered = 0;
    for h in hammer {
        answered += h.await.unwrap();
    }
    assert!(answered > 0, "the hammering clients got no answer at all");
    assert!(status.success(), "serve exited with {status}");
    let tag = s.tag.clone();
    let sm = sleep_mark.clone();
    tokio::task::spawn_blocking(move || {
        wait_until("no process is left", Duration::from_secs(10), || {
            processes_tagged(&tag).is_empty() && processes_with(&format!("sleep {sm}")).is_empty()
        })
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_answers_what_runs_and_leaves_no_jail() {
    let Some(mut s) = jail_server("sigterm_under_load_answers_what_runs_and_leaves_no_jail").await
    else {
        return;
    };
    sigterm_under_load(&mut s, |m| sleepers(m) >= 8).await;
    drop(s);
}

#[cfg(feature = "e2b")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_leaves_no_sandbox_on_the_e2b_emulator() {
    let kit = atlas_emulator_kit::Kit::new();
    let (emu, state) =
        atlas_emulator_e2b::start_with(kit, atlas_emulator_e2b::EmulatorOptions::default(), None)
            .await
            .unwrap();
    let extra = format!(
        "backend = \"e2b\"\n\n[plugins.e2b]\napi_key = \"e2b_test_0123456789abcdef\"\n\
         api_url = {:?}\nsandbox_url = {:?}\n",
        emu.base_url, emu.base_url
    );
    let mut s = serve(&extra, &mark());
    assert_eq!(backend_of(&s.url).await, "e2b");
    // The emulator's processes are not plain `sleep` children here: count its sandboxes (eight
    // sessions, plus the hammering one-shots) and give the commands a moment to start.
    let t0 = Instant::now();
    let live = state.clone();
    sigterm_under_load(&mut s, move |_| {
        live.live_sandboxes().len() >= 8 && t0.elapsed() > Duration::from_millis(1500)
    })
    .await;
    assert_eq!(state.live_sandboxes(), Vec::<String>::new());
}
