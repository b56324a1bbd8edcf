//! Session benchmark against the emulator with 50 ms of latency on every request: session setup
//! (create + upload 200 generated files + the first `ls`), 20 commands, close. This backend vs
//! the official `@vercel/sandbox` SDK used the way Atlas's plugin uses it
//! (`tests/fidelity-vercel/bench.mjs`), in one run, with the round trips each one made.
//!
//! `cargo bench -p atlas-sandbox-vercel --bench session` (`BENCH_ITERATIONS`, default 5).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atlas_emulator_kit::Kit;
use atlas_sandbox_cloud::RetryPolicy;
use atlas_sandbox_sdk::process::{ProcessSpec, find_in_path, run};
use atlas_sandbox_sdk::{ExecRequest, PluginContext, Sandbox, SandboxPlugin, SemanticLayer};
use atlas_sandbox_vercel::{VercelConfig, build_plugin};

const LATENCY: Duration = Duration::from_millis(50);

const COMMANDS: [&str; 21] = [
    "ls",
    "ls -la",
    "cat catalog.yml",
    "ls entities",
    "cat entities/entity_000.yml",
    "grep -rn customer_id . | head -20",
    "find . -name '*.yml' | wc -l",
    "find . -name '*.yml' | sort | head -30",
    "head -5 catalog.yml | sort",
    "wc -l entities/entity_001.yml",
    "grep -c revenue metrics/metric_003.yml",
    "ls metrics | head",
    "cat metrics/metric_010.yml",
    "grep -rl orders entities | sort | head",
    "ls groups/finance",
    "cat groups/finance/entity_004.yml",
    "grep -n dimensions entities/entity_005.yml",
    "find . -type d | sort",
    "tail -3 entities/entity_006.yml",
    "wc -c catalog.yml",
    "ls -R groups | head -40",
];

struct Run {
    setup: Duration,
    commands: Duration,
    close: Duration,
    round_trips: usize,
}

impl Run {
    fn total(&self) -> Duration {
        self.setup + self.commands + self.close
    }
}

fn generate_layer(root: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    std::fs::create_dir_all(root.join("entities"))?;
    std::fs::create_dir_all(root.join("metrics"))?;
    std::fs::create_dir_all(root.join("groups/finance"))?;
    std::fs::create_dir_all(root.join("groups/sales"))?;
    std::fs::write(
        root.join("catalog.yml"),
        "name: bench\ntables:\n  - orders\n  - customers\n",
    )?;
    n += 1;
    let body = |kind: &str, i: usize| {
        format!(
            "name: {kind}_{i:03}\ndescription: generated {kind} {i} for the benchmark\ntable: orders\n\
             dimensions:\n  - name: customer_id\n    type: string\n  - name: region\n    type: string\n\
             measures:\n  - name: revenue\n    sql: sum(amount)\n"
        )
    };
    for (prefix, kind, count) in [
        ("entities/entity", "entity", 100),
        ("metrics/metric", "metric", 60),
        ("groups/finance/entity", "finance", 20),
        ("groups/sales/entity", "sales", 19),
    ] {
        for i in 0..count {
            std::fs::write(root.join(format!("{prefix}_{i:03}.yml")), body(kind, i))?;
            n += 1;
        }
    }
    Ok(n)
}

async fn ours(kit: &Kit, api_url: &str, layer: &SemanticLayer) -> Result<Run, String> {
    let config: VercelConfig = serde_json::from_value(serde_json::json!({
        "token": "vercel_bench_token", "team_id": "team_bench", "project_id": "prj_bench",
        "api_url": api_url,
    }))
    .map_err(|e| e.to_string())?;
    let plugin = build_plugin(config, &PluginContext::default(), RetryPolicy::default())
        .map_err(|e| e.to_string())?;
    kit.clear();
    let t0 = Instant::now();
    let sb = plugin.create(layer).await.map_err(|e| e.to_string())?;
    exec_ok(sb.as_ref(), COMMANDS[0]).await?;
    let setup = t0.elapsed();
    let t1 = Instant::now();
    for c in &COMMANDS[1..] {
        exec_ok(sb.as_ref(), c).await?;
    }
    let commands = t1.elapsed();
    let t2 = Instant::now();
    sb.close().await.map_err(|e| e.to_string())?;
    let close = t2.elapsed();
    Ok(Run {
        setup,
        commands,
        close,
        round_trips: kit.requests().len(),
    })
}

/// Runs one command, failing the bench (with its stderr) if the command fails.
async fn exec_ok(sb: &dyn Sandbox, command: &str) -> Result<(), String> {
    let out = sb
        .exec(ExecRequest::new(command))
        .await
        .map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!("{command} failed: {}", out.stderr_str()));
    }
    Ok(())
}

async fn official_sdk(
    kit: &Kit,
    api_url: &str,
    layer: &Path,
    script_dir: &Path,
) -> Result<Run, String> {
    kit.clear();
    let path_var = std::env::var_os("PATH");
    let node = find_in_path("node", path_var.as_deref()).ok_or("node is not installed")?;
    let spec = ProcessSpec::new(node)
        .arg("bench.mjs")
        .cwd(script_dir)
        .env("PATH", path_var.unwrap_or_default())
        .env("VERCEL_EMULATOR_URL", api_url)
        .env("BENCH_LAYER", layer)
        .env(
            "BENCH_COMMANDS",
            serde_json::to_string(&COMMANDS).map_err(|e| e.to_string())?,
        )
        .timeout(Duration::from_secs(300))
        .max_output_bytes(1 << 20);
    let out = run(&spec)
        .await
        .map_err(|e| format!("cannot run node: {e}"))?
        .output;
    if out.exit_code != 0 {
        return Err(format!(
            "bench.mjs failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value =
        serde_json::from_str(line.trim()).map_err(|e| format!("{e}: {line}"))?;
    let ms = |k: &str| Duration::from_secs_f64(v[k].as_f64().unwrap_or(0.0) / 1000.0);
    Ok(Run {
        setup: ms("setup_ms"),
        commands: ms("commands_ms"),
        close: ms("close_ms"),
        round_trips: kit.requests().len(),
    })
}

fn median(v: Vec<Duration>) -> Duration {
    use atlas_sandbox_testkit::stats::{Summary, from_millis};
    from_millis(Summary::of_durations(v).median)
}

fn row(name: &str, runs: &[Run]) -> String {
    let f = |g: fn(&Run) -> Duration| {
        format!(
            "{:.0} ms",
            median(runs.iter().map(g).collect()).as_secs_f64() * 1000.0
        )
    };
    format!(
        "| {name} | {} | {} | {} | {} | {} |",
        f(|r| r.setup),
        f(|r| r.commands),
        f(|r| r.close),
        f(Run::total),
        runs.first().map(|r| r.round_trips).unwrap_or(0)
    )
}

async fn bench() -> Result<(), String> {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let files = generate_layer(tmp.path()).map_err(|e| e.to_string())?;
    let layer = SemanticLayer::open(tmp.path()).map_err(|e| e.to_string())?;
    let kit = Kit::new();
    let (running, emu, stop) = emulator_on_its_own_runtime(kit.clone())?;
    kit.set_latency(LATENCY);

    let script_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fidelity-vercel");
    let mut sdk_note = if script_dir
        .join("node_modules/@vercel/sandbox/package.json")
        .is_file()
    {
        String::new()
    } else {
        format!(
            "SKIPPED: official SDK baseline: run `npm ci` in {}",
            script_dir.display()
        )
    };
    // Interleaved, so both clients see the same machine load.
    let mut mine = Vec::new();
    let mut sdk = Vec::new();
    let mut left_ours = 0;
    for _ in 0..iterations {
        let before = emu.sandbox_count();
        mine.push(ours(&kit, &running.base_url, &layer).await?);
        left_ours += emu.sandbox_count() - before;
        if sdk_note.is_empty() {
            match official_sdk(&kit, &running.base_url, tmp.path(), &script_dir).await {
                Ok(r) => sdk.push(r),
                Err(e) => sdk_note = format!("SKIPPED: official SDK baseline: {e}"),
            }
        }
    }
    let left_sdk = emu.sandbox_count() - left_ours;
    let _ = stop.send(());

    println!(
        "Vercel session benchmark: {files} files, 1 + 20 commands, {} ms latency per request, median of {iterations}",
        LATENCY.as_millis()
    );
    println!();
    println!(
        "| client | setup (create + upload + first `ls`) | 20 commands | close | total | round trips |"
    );
    println!("|---|---|---|---|---|---|");
    println!("{}", row("atlas-sandbox-vercel (this crate)", &mine));
    if sdk.is_empty() {
        eprintln!("{sdk_note}");
    } else {
        println!(
            "{}",
            row("@vercel/sandbox 3.5.0, as Atlas's plugin uses it", &sdk)
        );
    }
    println!();
    println!(
        "sandbox records left in the emulator: ours {left_ours}, Atlas-style {left_sdk} (it stops but never deletes)"
    );
    Ok(())
}

/// Where the emulator runs: its own thread and runtime, so that our client (in the bench's
/// runtime) and the Node client (its own process) compete with it the same way.
struct Remote {
    base_url: String,
}

/// The bench's and the emulator's runtimes are alike, so neither side gets more threads.
fn two_worker_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

fn emulator_on_its_own_runtime(
    kit: std::sync::Arc<Kit>,
) -> Result<
    (
        Remote,
        atlas_emulator_vercel::VercelEmulator,
        tokio::sync::oneshot::Sender<()>,
    ),
    String,
> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = match two_worker_runtime() {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return;
            }
        };
        rt.block_on(async move {
            let (running, emu) = atlas_emulator_vercel::start_with(kit, None).await;
            let _ = tx.send(Ok((running.base_url.clone(), emu)));
            let _ = stop_rx.await;
            running.shutdown().await;
        });
    });
    let (base_url, emu) = rx.recv().map_err(|e| e.to_string())??;
    Ok((Remote { base_url }, emu, stop_tx))
}

fn main() -> std::process::ExitCode {
    let rt = match two_worker_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(bench()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
