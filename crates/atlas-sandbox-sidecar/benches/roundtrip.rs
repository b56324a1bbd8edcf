//! Round trip through the plugin and the server on loopback vs. the same command run directly
//! (`sh -c` through the SDK's process runner, as the server runs it), and throughput at 1, 4 and
//! 16 concurrent clients. `cargo bench -p atlas-sandbox-sidecar` prints a markdown table.
//!
//! ATLAS_SIDECAR_BENCH_DISK_TMP=1 puts the per-command HOME dirs on disk instead of tmpfs.
//! ATLAS_SIDECAR_BENCH_ITERS (default 1000) and ATLAS_SIDECAR_BENCH_SECS (default 4: seconds per throughput point and side) scale it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::process::{ProcessSpec, run};
use atlas_sandbox_sdk::{ExecRequest, Sandbox, Secret};
use atlas_sandbox_sidecar::{SidecarConfig, SidecarPlugin, SidecarSandbox};
use atlas_sidecar::{Listen, ServerConfig};

const TOKEN: &str = "bench-token-0123456789";

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn example_layer() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/semantic");
    std::fs::canonicalize(&p).expect("config/semantic (the example layer) is missing")
}

/// The server's runtime, as `main` builds it (multi-threaded; a current-thread runtime measured
/// slower under concurrency).
fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts the server on its own runtime thread (the client gets the bench's runtime).
fn start_server(root: &Path, tmp: &Path) -> String {
    let mut cfg = ServerConfig::new(root, Some(TOKEN.as_bytes().to_vec()));
    cfg.max_concurrent = 64;
    cfg.tmp_root = tmp.to_owned();
    cfg.shell = PathBuf::from("/bin/sh");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = server_runtime();
        rt.block_on(async move {
            let listen: Listen = "127.0.0.1:0".parse().unwrap();
            atlas_sidecar::serve(&listen, cfg, std::future::pending(), |addr| {
                tx.send(addr.to_owned()).unwrap();
                Ok(())
            })
            .await
            .unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

fn direct_spec(root: &Path, tmp: &Path, cmd: &str) -> ProcessSpec {
    ProcessSpec::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .env("PATH", atlas_sidecar::COMMAND_PATH)
        .env("HOME", tmp)
        .env("TMPDIR", tmp)
        .env("LANG", "C.UTF-8")
        .cwd(root)
}

struct Lat {
    p50: Duration,
    p90: Duration,
    p99: Duration,
}

fn summarize(v: Vec<Duration>) -> Lat {
    use atlas_sandbox_testkit::stats::{Summary, from_millis};
    let s = Summary::of_durations(v);
    Lat {
        p50: from_millis(s.median),
        p90: from_millis(s.p90),
        p99: from_millis(s.p99),
    }
}

/// Latency of the direct run and of the sidecar round trip, alternating one of each so that
/// background load on a shared machine hits both alike.
async fn latency_pair(
    spec: &ProcessSpec,
    sb: &SidecarSandbox,
    cmd: &str,
    iters: u64,
) -> (Lat, Lat) {
    let mut d = Vec::with_capacity(iters as usize);
    let mut s = Vec::with_capacity(iters as usize);
    for _ in 0..iters {
        let t = Instant::now();
        let r = run(spec).await.unwrap();
        assert_eq!(r.output.exit_code, 0);
        d.push(t.elapsed());
        let t = Instant::now();
        let out = sb.exec(ExecRequest::new(cmd)).await.unwrap();
        assert_eq!(out.exit_code, 0);
        s.push(t.elapsed());
    }
    (summarize(d), summarize(s))
}

/// Commands completed and the time taken, with `clients` concurrent loops for `slice`.
async fn throughput<F, Fut>(clients: usize, slice: Duration, one: Arc<F>) -> (u64, Duration)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (one, stop, done) = (one.clone(), stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                one().await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(slice).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    (done.load(Ordering::Relaxed), start.elapsed())
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: keep that run short.
    let benching = std::env::args().any(|a| a == "--bench");
    let iters = if benching {
        env_num("ATLAS_SIDECAR_BENCH_ITERS", 1000)
    } else {
        20
    };
    let secs = if benching {
        env_num("ATLAS_SIDECAR_BENCH_SECS", 4)
    } else {
        1
    };
    let root = example_layer();
    // The per-command HOME dirs go where the container puts them: a tmpfs (/dev/shm here).
    // ATLAS_SIDECAR_BENCH_DISK_TMP=1 puts them on the disk-backed temp dir instead.
    let shm = Path::new("/dev/shm");
    let tmp = if shm.is_dir() && std::env::var_os("ATLAS_SIDECAR_BENCH_DISK_TMP").is_none() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let url = start_server(&root, tmp.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut cfg = SidecarConfig::new(url.clone());
        cfg.auth_token = Some(Secret::new(TOKEN));
        cfg.max_retries = 10;
        let plugin = SidecarPlugin::new(cfg).unwrap();
        let sb = Arc::new(plugin.sandbox());
        let grep = "grep -rn customer_id .";
        // Warm up the pool and the page cache.
        for _ in 0..20 {
            sb.exec(ExecRequest::new(grep)).await.unwrap();
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!("\nsidecar round trip on loopback, {cores} cores, {iters} iterations, {secs} s per throughput point and side, alternated in 0.5 s slices\n");
        println!("| command | direct sh -c p50 / p90 / p99 (ms) | via sidecar p50 / p90 / p99 (ms) | added at p50 (ms) |");
        println!("|---|---|---|---|");
        for cmd in ["true", grep] {
            let (d, s) = latency_pair(&direct_spec(&root, tmp.path(), cmd), &sb, cmd, iters).await;
            println!(
                "| `{cmd}` | {} / {} / {} | {} / {} / {} | {} |",
                ms(d.p50), ms(d.p90), ms(d.p99), ms(s.p50), ms(s.p90), ms(s.p99),
                ms(s.p50.saturating_sub(d.p50))
            );
        }
        // The protocol alone: authenticated POST /exec that the server rejects (400) before
        // spawning anything.
        let http = reqwest::Client::builder().no_proxy().tcp_nodelay(true).build().unwrap();
        let mut v = Vec::with_capacity(iters as usize);
        for _ in 0..iters {
            let t = Instant::now();
            let r = http
                .post(format!("{url}/exec"))
                .bearer_auth(TOKEN)
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400);
            r.bytes().await.unwrap();
            v.push(t.elapsed());
        }
        let h = summarize(v);
        println!(
            "| HTTP only (`POST /exec {{}}` → 400, nothing spawned) | — | {} / {} / {} | {} |",
            ms(h.p50), ms(h.p90), ms(h.p99), ms(h.p50)
        );
        println!("\n| clients | direct sh -c (cmd/s) | via sidecar (cmd/s) | sidecar / direct |");
        println!("|---|---|---|---|");
        for clients in [1usize, 4, 16] {
            let spec = Arc::new(direct_spec(&root, tmp.path(), "true"));
            let direct_one = Arc::new(move || {
                let spec = spec.clone();
                async move {
                    run(&spec).await.unwrap();
                }
            });
            let sb2 = sb.clone();
            let side_one = Arc::new(move || {
                let sb = sb2.clone();
                async move {
                    sb.exec(ExecRequest::new("true")).await.unwrap();
                }
            });
            // Alternating half-second slices, so both see the same background load.
            let slice = Duration::from_millis(500);
            let (mut dn, mut dt, mut sn, mut st) = (0, Duration::ZERO, 0, Duration::ZERO);
            for _ in 0..(secs * 2).max(1) {
                let (n, t) = throughput(clients, slice, direct_one.clone()).await;
                dn += n;
                dt += t;
                let (n, t) = throughput(clients, slice, side_one.clone()).await;
                sn += n;
                st += t;
            }
            let direct = dn as f64 / dt.as_secs_f64();
            let side = sn as f64 / st.as_secs_f64();
            println!(
                "| {clients} | {direct:.0} | {side:.0} | {:.0}% |",
                side / direct * 100.0
            );
        }
    });
}
