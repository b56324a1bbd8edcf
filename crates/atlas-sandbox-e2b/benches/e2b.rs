//! Session setup (create + upload 200 files + first `ls`) + 20 commands + close, with 50 ms of
//! latency injected per request in the emulator: this backend vs the official `e2b` SDK doing
//! the same work the way Atlas's plugin does (tests/fidelity-e2b/bench.mjs), in one run.
//!
//! `cargo bench -p atlas-sandbox-e2b` prints a Markdown table (median of the runs).

use std::path::Path;
use std::time::{Duration, Instant};

use atlas_emulator_e2b::{EmulatorOptions, start_with};
use atlas_emulator_kit::Kit;
use atlas_sandbox_e2b::{E2bConfig, E2bPlugin};
use atlas_sandbox_sdk::process::{ProcessSpec, find_in_path, run};
use atlas_sandbox_sdk::{ExecRequest, PluginContext, SandboxPlugin, SemanticLayer};

const RUNS: usize = 5;
const LATENCY_MS: u64 = 50;

/// The injected latency: 50 ms, or `ATLAS_BENCH_LATENCY_MS` for exploring.
fn latency() -> Duration {
    let ms = std::env::var("ATLAS_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(LATENCY_MS);
    Duration::from_millis(ms)
}
const COMMANDS: [&str; 20] = [
    "ls -la",
    "cat catalog.yml",
    "cat entities/e00/model_00.yml",
    "grep -rn customer_id .",
    "find . -name '*.yml' | wc -l",
    "head -5 catalog.yml | sort",
    "ls entities",
    "grep -c name entities/e01/model_01.yml",
    "find . -name '*.yml' | sort | head -20",
    "wc -l entities/e02/model_02.yml",
    "grep -rl revenue . | sort",
    "cat entities/e03/model_03.yml | head -3",
    "ls -1 entities/e04",
    "grep -rn 'type: number' . | wc -l",
    "find entities -type d | sort",
    "cat entities/e05/model_05.yml",
    "grep -n description entities/e06/model_06.yml",
    "ls entities/e07 | wc -l",
    "grep -rn nonexistent_term .",
    "tail -3 entities/e09/model_19.yml",
];

#[derive(Debug, Clone, Copy, Default)]
struct Timing {
    setup: Duration,
    commands: Duration,
    close: Duration,
    requests_setup: usize,
    requests_total: usize,
}

fn generate_layer(root: &Path) -> usize {
    let mut n = 0;
    std::fs::write(
        root.join("catalog.yml"),
        "name: bench\nentities: generated\nowner: data team\n",
    )
    .expect("write catalog");
    n += 1;
    for d in 0..10 {
        let dir = root.join(format!("entities/e{d:02}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..20 {
            if n == 200 {
                return n;
            }
            let mut body =
                format!("name: model_{f:02}\ndescription: generated model {d}/{f}\ncolumns:\n");
            for c in 0..25 {
                let kind = if c % 3 == 0 { "number" } else { "string" };
                body.push_str(&format!("  - name: col_{c}\n    type: {kind}\n"));
            }
            if f % 4 == 0 {
                body.push_str("  - name: customer_id\n    type: string\nmetrics: [revenue]\n");
            }
            std::fs::write(dir.join(format!("model_{f:02}.yml")), body).expect("write model");
            n += 1;
        }
    }
    n
}

async fn ours(kit: &Kit, base_url: &str, layer: &SemanticLayer) -> Timing {
    let cfg: E2bConfig = serde_json::from_value(serde_json::json!({
        "api_key": "e2b_bench", "api_url": base_url, "sandbox_url": base_url,
    }))
    .expect("config");
    let plugin = E2bPlugin::new(cfg, &PluginContext::default()).expect("plugin");
    kit.clear();
    let t0 = Instant::now();
    let sb = plugin.create(layer).await.expect("create");
    let first = sb.exec(ExecRequest::new("ls")).await.expect("first ls");
    assert_eq!(first.exit_code, 0);
    let setup = t0.elapsed();
    let requests_setup = kit.requests().len();
    let t1 = Instant::now();
    for c in COMMANDS {
        sb.exec(ExecRequest::new(c)).await.expect("command");
    }
    let commands = t1.elapsed();
    let t2 = Instant::now();
    sb.close().await.expect("close");
    Timing {
        setup,
        commands,
        close: t2.elapsed(),
        requests_setup,
        requests_total: kit.requests().len(),
    }
}

async fn official(kit: &Kit, base_url: &str, layer: &Path, script_dir: &Path) -> Option<Timing> {
    let commands = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(
        commands.path(),
        serde_json::to_vec(&COMMANDS).expect("json"),
    )
    .expect("write");
    kit.clear();
    let node = node()?;
    let spec = ProcessSpec::new(node)
        .arg("bench.mjs")
        .arg(layer)
        .arg(commands.path())
        .cwd(script_dir)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("E2B_API_KEY", "e2b_bench")
        .env("E2B_API_URL", base_url)
        .env("E2B_SANDBOX_URL", base_url)
        .timeout(Duration::from_secs(300))
        .max_output_bytes(1 << 20);
    let out = run(&spec).await.ok()?.output;
    if out.exit_code != 0 {
        eprintln!("bench.mjs failed: {}", out.stderr_str());
        return None;
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim().lines().last()?).ok()?;
    let ms = |k: &str| Duration::from_secs_f64(v[k].as_f64().unwrap_or(0.0) / 1000.0);
    let reqs = kit.requests();
    // Setup = everything up to and including the first command's Start.
    let first_start = reqs.iter().position(|r| r.path.ends_with("/Start"))?;
    Some(Timing {
        setup: ms("setup_ms"),
        commands: ms("commands_ms"),
        close: ms("close_ms"),
        requests_setup: first_start + 1,
        requests_total: reqs.len(),
    })
}

fn node() -> Option<std::path::PathBuf> {
    find_in_path("node", std::env::var_os("PATH").as_deref())
}

fn median(v: Vec<Timing>) -> Timing {
    atlas_sandbox_testkit::stats::median_by_key(&v, |t| t.setup + t.commands + t.close)
        .expect("at least one run")
}

fn row(name: &str, t: &Timing) {
    let ms = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1000.0);
    println!(
        "| {name} | {} | {} | {} | {} | {} | {} |",
        ms(t.setup),
        ms(t.commands),
        ms(t.close),
        ms(t.setup + t.commands + t.close),
        t.requests_setup,
        t.requests_total
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("semantic");
        std::fs::create_dir_all(&root).expect("mkdir");
        let files = generate_layer(&root);
        let layer = SemanticLayer::open(&root).expect("layer");
        let kit = Kit::new();
        kit.set_latency(latency());
        // The emulator gets its own runtime (threads), as a remote service would: the client
        // under test must not share worker threads with the server it measures.
        let emu_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("emulator runtime");
        let (emu, state) = emu_rt
            .spawn(start_with(kit.clone(), EmulatorOptions::default(), None))
            .await
            .expect("emulator task")
            .expect("emulator");
        let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fidelity-e2b");
        let have_sdk = script_dir.join("node_modules/e2b/package.json").is_file()
            && node().is_some();

        let mut mine = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..RUNS {
            mine.push(ours(&kit, &emu.base_url, &layer).await);
            if have_sdk && let Some(t) = official(&kit, &emu.base_url, &root, &script_dir).await {
                theirs.push(t);
            }
        }
        println!(
            "\nE2B benchmark: {files} files, {} commands after the first `ls`, {} ms latency per request, median of {RUNS} runs\n",
            COMMANDS.len(),
            latency().as_millis()
        );
        println!("| client | setup ms (create+upload+ls) | 20 commands ms | close ms | total ms | requests to first result | requests total |");
        println!("|---|---|---|---|---|---|---|");
        row("atlas-sandbox-e2b (Rust)", &median(mine));
        if theirs.is_empty() {
            eprintln!("SKIPPED: official SDK side: node or tests/fidelity-e2b/node_modules missing");
        } else {
            row("official e2b SDK, as Atlas's plugin uses it", &median(theirs));
        }
        assert!(state.live_sandboxes().is_empty(), "the benchmark left sandboxes alive");
        let _ = emu_rt.spawn(emu.shutdown()).await;
        emu_rt.shutdown_background();
    });
}
