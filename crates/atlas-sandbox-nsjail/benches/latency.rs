//! Per-exec latency of the nsjail backend against the same nsjail configuration run directly,
//! and against plain `sh -c`; plus throughput with 2 concurrent callers.
//!
//! `cargo bench -p atlas-sandbox-nsjail` (BENCH_N sets the runs per row, default 200). The modes
//! are interleaved in rounds so a busy machine skews them alike. Skips loudly without nsjail.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_sandbox_nsjail::jail::exec_args;
use atlas_sandbox_nsjail::{NsjailConfig, NsjailPlugin};
use atlas_sandbox_sdk::process::{self, ProcessSpec};
use atlas_sandbox_sdk::{ExecRequest, PluginContext, Sandbox, SemanticLayer};

const ROUNDS: usize = 10;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run());
}

fn stats(ms: Vec<f64>) -> atlas_sandbox_testkit::stats::Summary {
    atlas_sandbox_testkit::stats::Summary::of(ms)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn make_layer(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for sub in ["entities", "metrics", "glossary"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    for i in 0..40 {
        let sub = ["entities", "metrics", "glossary"][i % 3];
        std::fs::write(
            dir.join(sub).join(format!("item_{i}.yml")),
            format!(
                "name: item_{i}\ndescription: benchmark file {i}\ncolumns:\n  - id\n  - name\n"
            ),
        )
        .expect("write");
    }
    std::fs::write(dir.join("catalog.yml"), "name: bench\n").expect("write");
    for p in [
        dir.to_path_buf(),
        dir.join("entities"),
        dir.join("metrics"),
        dir.join("glossary"),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

/// One run of `program args` through the SDK's runner (the same spawner the backend uses:
/// clean env, own process group, capped pipes), without the backend's config or log handling.
async fn spawn_once(program: &Path, args: &[OsString]) -> Duration {
    let spec = ProcessSpec::new(program)
        .args(args.iter().cloned())
        .timeout(Duration::from_secs(30));
    let t = Instant::now();
    let r = process::run(&spec).await.expect("spawn");
    let d = t.elapsed();
    assert_eq!(r.output.exit_code, 0, "{program:?} failed: {:?}", r.output);
    d
}

/// `n` runs of the nsjail argv from one `sh` loop; returns the mean per run.
async fn shell_loop(nsjail: &Path, args: &[OsString], n: usize) -> Duration {
    // The argv goes in as positional parameters, so no quoting is involved.
    let script = format!(
        "i=0; while [ $i -lt {n} ]; do \"$0\" \"$@\" >/dev/null 2>&1 || exit 1; i=$((i+1)); done"
    );
    let mut all: Vec<OsString> = vec!["-c".into(), script.into(), nsjail.into()];
    all.extend(args.iter().cloned());
    let spec = ProcessSpec::new("/bin/sh")
        .args(all)
        .timeout(Duration::from_secs(600));
    let t = Instant::now();
    let r = process::run(&spec).await.expect("sh");
    let d = t.elapsed();
    assert_eq!(r.output.exit_code, 0, "shell loop failed: {:?}", r.output);
    d / n as u32
}

async fn run() {
    let plugin = NsjailPlugin::new(NsjailConfig::default(), &PluginContext::default())
        .expect("default config is valid");
    let nsjail = match plugin.nsjail_binary() {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "SKIPPED: bench latency: nsjail not found (set NSJAIL_PATH or put it on PATH): {e}"
            );
            return;
        }
    };
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
        .max(ROUNDS);
    let per_round = n / ROUNDS;
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("semantic");
    make_layer(&root);
    let layer = SemanticLayer::open(&root).expect("layer");
    let sandbox = Arc::new(plugin.create_jail(&layer).await.expect("create"));
    let log = sandbox.dir().join("bench-direct.log");

    println!("nsjail: {}", nsjail.display());
    println!("load average at start: {}", load_average());
    println!("{n} runs per row, {ROUNDS} interleaved rounds; times in ms\n");
    println!("| command | mode | n | median | p10 | p90 | mean |");
    println!("|---|---|---|---|---|---|---|");
    let mut summary = Vec::new();
    for (label, cmd, plain) in [
        ("true", "true", "true"),
        (
            "ls /semantic",
            "ls /semantic",
            &*format!("ls {}", root.display()),
        ),
    ] {
        let args = exec_args(
            sandbox.config_file(),
            &log,
            Duration::from_secs(10),
            "",
            atlas_sandbox_sdk::Shell::Bash,
            cmd,
        );
        let sh_args: Vec<OsString> = vec!["-c".into(), plain.into()];
        let (mut sh, mut direct, mut backend, mut loop_means) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // Warm-up: page cache, nsjail's libraries.
        for _ in 0..5 {
            spawn_once(&nsjail, &args).await;
            sandbox.exec(ExecRequest::new(cmd)).await.expect("exec");
        }
        for _ in 0..ROUNDS {
            for _ in 0..per_round {
                sh.push(ms(spawn_once(Path::new("/bin/bash"), &sh_args).await));
            }
            for _ in 0..per_round {
                direct.push(ms(spawn_once(&nsjail, &args).await));
            }
            for _ in 0..per_round {
                let t = Instant::now();
                let out = sandbox.exec(ExecRequest::new(cmd)).await.expect("exec");
                let d = t.elapsed();
                assert_eq!(out.exit_code, 0, "{out:?}");
                backend.push(ms(d));
            }
            loop_means.push(ms(shell_loop(&nsjail, &args, per_round).await));
            let _ = std::fs::remove_file(&log);
        }
        let rows = [
            ("bash -c (no jail, the jail's shell)", stats(sh)),
            (
                "nsjail, same config and argv, via the SDK runner",
                stats(direct),
            ),
            ("nsjail, same config, from a sh loop (mean per run)", {
                let mut s = stats(loop_means.clone());
                s.n = per_round * ROUNDS;
                s
            }),
            ("backend exec (NsjailSandbox::exec)", stats(backend)),
        ];
        for (mode, s) in &rows {
            println!(
                "| `{label}` | {mode} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
                s.n, s.median, s.p10, s.p90, s.mean
            );
        }
        let bare = rows[1].1.median;
        let ours = rows[3].1.median;
        let loop_mean = rows[2].1.mean;
        summary.push(format!(
            "`{label}`: backend median {ours:.2} ms vs bare nsjail median {bare:.2} ms: {:+.2} ms \
             ({:+.1}%); backend mean vs the sh loop mean {loop_mean:.2} ms: {:+.2} ms",
            ours - bare,
            (ours / bare - 1.0) * 100.0,
            rows[3].1.mean - loop_mean
        ));
    }
    println!();
    for s in summary {
        println!("{s}");
    }

    // Sustained throughput, 2 concurrent callers.
    let total = n * 2;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let sb = Arc::clone(&sandbox);
        tasks.push(tokio::spawn(async move {
            for _ in 0..n {
                let out = sb
                    .exec(ExecRequest::new("ls /semantic"))
                    .await
                    .expect("exec");
                assert_eq!(out.exit_code, 0);
            }
        }));
    }
    for task in tasks {
        task.await.expect("caller");
    }
    let elapsed = t.elapsed();
    println!(
        "\nthroughput, 2 concurrent callers, `ls /semantic`: {total} execs in {:.2} s = {:.0} execs/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!("load average at end: {}", load_average());
    sandbox.close().await.expect("close");
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}
