//! `serve` under bad input, wrong tokens, forbidden layers and load (20 clients x 500 calls).

#![cfg(all(feature = "server", feature = "just-bash"))]
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "tok-0123456789abcdef-a";
const OTHER: &str = "tok-0123456789abcdef-b";

// The temporary directory holds the config and lives as long as the server.
struct Serve(
    std::process::Child,
    #[allow(dead_code)] tempfile::TempDir,
    String,
);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve() -> Serve {
    serve_with("")
}

/// `serve` with `server_keys` added to its `[server]` table.
fn serve_with(server_keys: &str) -> Serve {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("secret.yml"), "x: 1\n").unwrap();
    std::fs::write(
        dir.path().join("atlas.toml"),
        format!(
            "[sandbox]\nbackend = \"just-bash\"\nsemantic_root = {:?}\n\n[layers.other]\nroot = \"other\"\n\n\
             [server]\nmax_concurrent = 8\nqueue_size = 1000\n{server_keys}\n\
             [[server.tokens]]\nname = \"a\"\ntoken = \"{TOKEN}\"\nlayers = [\"default\"]\n\n\
             [[server.tokens]]\nname = \"b\"\ntoken = \"{OTHER}\"\nlayers = [\"default\", \"other\"]\n",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/semantic")
        ),
    )
    .unwrap();
    let log = dir.path().join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_atlas-sandbox"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.path().join("atlas.toml"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut serve = Serve(child, dir, String::new());
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(a) = text
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
        {
            serve.2 = format!("http://{a}");
            return serve;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "serve did not start: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// POSTs `len` bytes to `/v1/exec` over a raw connection and reads the answer while the body is
/// still being written: a server that refuses an oversized body may answer (and close) before the
/// client has finished sending, which an HTTP client library reports as a broken pipe instead of
/// the answer the caller would see.
async fn post_oversized(url: &str, len: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST /v1/exec HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            wr.write_all(&chunk[..n]).await?;
            left -= n;
        }
        std::io::Result::Ok(())
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    // The head and a short body arrive well before the server would close.
    let read = async {
        loop {
            let n = rd.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.len() > 64 {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("an answer to an oversized body");
    writer.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (code, text)
}

async fn post(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, String) {
    let r = c
        .post(format!("{url}/v1/exec"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_wrong_tokens_and_forbidden_layers() {
    let s = serve();
    let c = reqwest::Client::new();
    let url = &s.2;
    let ok = r#"{"command":"ls catalog.yml"}"#;
    assert_eq!(post(&c, url, TOKEN, ok).await.0, 200);
    assert_eq!(post(&c, url, "wrong-token-0123456789", ok).await.0, 401);
    let (code, body) = post_oversized(url, 10 * 1024 * 1024).await;
    assert_eq!(code, 413, "{body}");
    let (code, body) = post(&c, url, TOKEN, "{not json").await;
    assert_eq!(code, 400, "{body}");
    let long = format!(r#"{{"command":"{}"}}"#, "x".repeat(5000));
    let (code, body) = post(&c, url, TOKEN, long).await;
    assert!(code == 400 && body.contains("4000"), "{code} {body}");
    // Malformed JSON-RPC at /mcp: an error answer, not a crash.
    let r = c
        .post(format!("{url}/mcp"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    // An unknown tool: a JSON-RPC error naming it (stateless /mcp needs no initialize).
    let r = c
        .post(format!("{url}/mcp"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"rm_rf","arguments":{}}}"#,
        )
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.contains("\"error\"") && text.contains("unknown tool") && text.contains("rm_rf"),
        "{text}"
    );
    // A forbidden layer and an unknown one get the same answer.
    let forbidden = post(&c, url, TOKEN, r#"{"command":"ls","layer":"other"}"#).await;
    let unknown = post(&c, url, TOKEN, r#"{"command":"ls","layer":"nope"}"#).await;
    assert_eq!(forbidden.0, 404);
    assert_eq!(
        forbidden.1.replace("other", "X"),
        unknown.1.replace("nope", "X")
    );
    let (code, body) = post(&c, url, OTHER, r#"{"command":"ls","layer":"other"}"#).await;
    assert!(code == 200 && body.contains("secret.yml"), "{body}");
    // Still serving.
    assert_eq!(post(&c, url, TOKEN, ok).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_clients_times_five_hundred_calls_without_error() {
    let s = serve();
    let url = s.2.clone();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                let c = reqwest::Client::new();
                let mut bad = 0;
                for j in 0..500 {
                    let body = format!(
                        r#"{{"command":"grep -c customer_id entities/orders.yml","session":"c{i}-{}"}}"#,
                        j % 5
                    );
                    let (code, text) = post(&c, &url, TOKEN, body).await;
                    if code != 200 || !text.contains("\"exit_code\":0") {
                        bad += 1;
                    }
                }
                bad
            })
        })
        .collect();
    let mut errors = 0;
    for t in tasks {
        errors += t.await.unwrap();
    }
    assert_eq!(errors, 0);
}

/// Worker mode (the default on Linux): a command that aborts the interpreter's process (an
/// allocation past the worker's RLIMIT_AS) ends that session's worker; the session's next call
/// starts a fresh one, other sessions and the server go on, and `backends` says so. A worker
/// per session here, so "other sessions" holds on any machine (shared workers, where a crash
/// ends the sessions of one worker, are the jail crate's tests/shared_worker.rs).
#[cfg(all(target_os = "linux", feature = "jail"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_session_ends_alone_and_the_server_keeps_serving() {
    let s = serve_with("just_bash_worker_memory_mb = 48\njust_bash_sessions_per_worker = 1\n");
    let c = reqwest::Client::new();
    let url = &s.2;
    let backends = c
        .get(format!("{url}/v1/backends"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(backends.contains("worker mode"), "{backends}");
    let (code, body) = post(
        &c,
        url,
        TOKEN,
        r#"{"command":"echo kept > /tmp/f; ls catalog.yml","session":"a"}"#,
    )
    .await;
    assert!(code == 200 && body.contains("catalog.yml"), "{code} {body}");
    let (code, _) = post(&c, url, TOKEN, r#"{"command":"cat /tmp/f","session":"b"}"#).await;
    assert_eq!(code, 200);
    let crash = r#"{"command":"awk 'BEGIN { for (i = 0; i < 60000; i++) a[i] = sprintf(\"%1000d\", i); print length(a) }'","session":"a"}"#;
    let (code, body) = post(&c, url, TOKEN, crash).await;
    assert!(code >= 500 && body.contains("gone"), "{code} {body}");
    // The session starts over (its /tmp is new); the other one and the server are fine.
    let (code, body) = post(&c, url, TOKEN, r#"{"command":"cat /tmp/f","session":"a"}"#).await;
    assert!(code == 200 && !body.contains("kept"), "{code} {body}");
    let (code, body) = post(
        &c,
        url,
        TOKEN,
        r#"{"command":"ls catalog.yml","session":"b"}"#,
    )
    .await;
    assert!(code == 200 && body.contains("catalog.yml"), "{code} {body}");
    let (code, _) = post(&c, url, TOKEN, r#"{"command":"true"}"#).await;
    assert_eq!(code, 200);
}
