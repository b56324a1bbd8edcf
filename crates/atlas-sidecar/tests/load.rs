//! Load: 20 concurrent clients × 500 commands against one server. No errors besides the
//! deliberate 429s (absorbed by the client's retries), no leaked processes or temp dirs, and the
//! server's memory stays bounded.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{ErrorKind, ExecRequest, Sandbox};
use common::*;

const CLIENTS: usize = 20;

fn per_client() -> usize {
    std::env::var("ATLAS_SIDECAR_LOAD_COMMANDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_clients_five_hundred_commands_each() {
    let (_l, t, s) = serve_with(&["--max-concurrent", "8"], &[("RUST_LOG", "warn")]);
    let n = per_client();
    let rss_before = rss_kib(s.pid());
    let peak = Arc::new(AtomicUsize::new(0));
    let rate_limited = Arc::new(AtomicUsize::new(0));
    let start_time = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let sb = retrying_sandbox(&s, 12);
        let (peak, rate_limited, pid) = (peak.clone(), rate_limited.clone(), s.pid());
        tasks.push(tokio::spawn(async move {
            let mut other_errors = Vec::new();
            for i in 0..n {
                let cmd = if i % 50 == 0 {
                    "grep -rn customer_id . | wc -l".to_owned()
                } else {
                    format!("echo {client}-{i}")
                };
                match sb.exec(ExecRequest::new(&cmd)).await {
                    Ok(out) => {
                        let want = if i % 50 == 0 {
                            "2\n".to_owned()
                        } else {
                            format!("{client}-{i}\n")
                        };
                        if out.exit_code != 0 || out.stdout_str() != want {
                            other_errors.push(format!("{cmd}: {out:?}"));
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::RateLimited => {
                        rate_limited.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => other_errors.push(format!("{cmd}: {e}")),
                }
                if i % 100 == 0 {
                    peak.fetch_max(rss_kib(pid) as usize, Ordering::Relaxed);
                }
            }
            other_errors
        }));
    }
    let mut errors = Vec::new();
    for task in tasks {
        errors.extend(task.await.unwrap());
    }
    let elapsed = start_time.elapsed();
    let total = CLIENTS * n;
    let limited = rate_limited.load(Ordering::Relaxed);
    let peak_kib = (peak.load(Ordering::Relaxed) as u64).max(rss_kib(s.pid()));
    eprintln!(
        "load: {total} commands from {CLIENTS} clients in {elapsed:.1?} ({:.0}/s); 429 after retries: {limited}; server RSS {rss_before} KiB -> peak {peak_kib} KiB",
        total as f64 / elapsed.as_secs_f64()
    );
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert!(
        limited * 100 <= total,
        "too many requests gave up on 429: {limited}"
    );
    assert!(peak_kib < 256 * 1024, "server RSS grew to {peak_kib} KiB");
    assert!(
        wait_until(Duration::from_secs(5), || descendants(s.pid()).is_empty()),
        "leaked processes: {:?}",
        descendants(s.pid())
    );
    assert!(
        wait_until(Duration::from_secs(5), || leftovers(t.path()).is_empty()),
        "leaked temp dirs: {}",
        leftovers(t.path()).len()
    );
}
