//! Session setup (create + upload 200 generated files + first `ls`), 20 commands and close, with
//! 50 ms of latency injected per request into the Daytona emulator: this backend against the
//! official SDK used the way Atlas's plugin uses it (tests/fidelity-daytona/bench.mjs), in one
//! run. Prints a Markdown table of times and round trips.
//!
//! `cargo bench -p atlas-sandbox-daytona --bench daytona`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_emulator_kit::Kit;
use atlas_sandbox_daytona::{DaytonaConfig, DaytonaPlugin};
use atlas_sandbox_sdk::process::{ProcessSpec, find_in_path, run};
use atlas_sandbox_sdk::{ExecRequest, PluginContext, SandboxPlugin, Secret, SemanticLayer};

const LATENCY: Duration = Duration::from_millis(50);
const FILES: usize = 200;
const KEY: &str = "dtn_bench";

const COMMANDS: [&str; 20] = [
    "ls",
    "ls -la entities",
    "cat catalog.yml",
    "cat entities/d0/entity_0.yml",
    "grep -rn customer_id . | head -20",
    "grep -c name entities/d1/entity_1.yml",
    "find . -name '*.yml' | wc -l",
    "find . -name '*.yml' | sort | head -5",
    "head -5 catalog.yml | sort",
    "wc -l entities/d2/entity_2.yml",
    "ls entities && cat catalog.yml | head -3",
    "grep -rl revenue . | wc -l",
    "cat entities/d3/entity_3.yml | grep -n description",
    "find entities -type d | sort",
    "ls entities/d4 | head",
    "grep -rn 'sum(' entities | wc -l",
    "head -3 entities/d5/entity_5.yml",
    "du -s . | cut -f2",
    "grep -n dimensions entities/d6/entity_6.yml",
    "nosuchcommand || echo fallback",
];

#[derive(Debug, Default, Clone, Copy)]
struct Row {
    setup: Duration,
    commands: Duration,
    close: Duration,
    rt_setup: usize,
    rt_commands: usize,
    rt_close: usize,
}

fn generate_layer(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(
        root.join("catalog.yml"),
        "name: bench\ndescription: generated layer\nentities: 199\n",
    )
    .unwrap();
    for i in 0..FILES - 1 {
        let dir = root.join(format!("entities/d{}", i % 10));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("entity_{i}.yml")),
            format!(
                "name: entity_{i}\ndescription: generated entity {i}\ndimensions:\n  - name: customer_id\n    type: string\nmeasures:\n  - name: revenue\n    sql: sum(amount_{i})\n"
            ),
        )
        .unwrap();
    }
}

async fn ours(kit: &Arc<Kit>, api_url: &str, root: &Path) -> Row {
    let mut c = DaytonaConfig::new(Secret::new(KEY));
    c.api_url = api_url.to_owned();
    let plugin = DaytonaPlugin::new(c, &PluginContext::default()).unwrap();
    kit.clear();
    let t0 = Instant::now();
    let sb = plugin
        .create(&SemanticLayer::open(root).unwrap())
        .await
        .unwrap();
    let first = sb.exec(ExecRequest::new("ls")).await.unwrap();
    assert_eq!(first.exit_code, 0);
    let setup = t0.elapsed();
    let rt_setup = kit.requests().len();
    let t1 = Instant::now();
    for cmd in COMMANDS {
        let out = sb.exec(ExecRequest::new(cmd)).await.unwrap();
        assert!(!out.timed_out, "{cmd}");
    }
    let commands = t1.elapsed();
    let rt_commands = kit.requests().len() - rt_setup;
    let t2 = Instant::now();
    sb.close().await.unwrap();
    let close = t2.elapsed();
    let rt_close = kit.requests().len() - rt_setup - rt_commands;
    Row {
        setup,
        commands,
        close,
        rt_setup,
        rt_commands,
        rt_close,
    }
}

fn fidelity_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fidelity-daytona")
}

/// The official SDK, Atlas's way. `None` when node or the SDK is not installed.
async fn official(kit: &Arc<Kit>, api_url: &str, root: &Path) -> Option<Row> {
    let dir = fidelity_dir();
    let path = std::env::var_os("PATH");
    let Some(node) = find_in_path("node", path.as_deref()) else {
        eprintln!("SKIPPED: official SDK row: node is not installed");
        return None;
    };
    if !dir.join("node_modules/@daytonaio/sdk").is_dir() {
        eprintln!(
            "SKIPPED: official SDK row: run `npm ci` in {}",
            dir.display()
        );
        return None;
    }
    kit.clear();
    let spec = ProcessSpec::new(node)
        .arg("bench.mjs")
        .cwd(&dir)
        .env("PATH", path.unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("DAYTONA_API_URL", api_url)
        .env("DAYTONA_API_KEY", KEY)
        .env("DAYTONA_USE_DEPRECATED_POLLING", "true")
        .env("BENCH_LAYER", root)
        .env("BENCH_COMMANDS", serde_json::to_string(&COMMANDS).unwrap())
        .timeout(Duration::from_secs(600));
    let out = run(&spec).await.unwrap().output;
    assert!(out.success(), "bench.mjs failed: {}", out.stderr_str());
    let v: serde_json::Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    assert_eq!(v["failures"], 0, "{v}");
    // The script marks each phase with a list call filtered by a `bench-phase` label.
    let reqs = kit.requests();
    let mark = |p: &str| {
        reqs.iter()
            .position(|r| {
                r.query
                    .as_deref()
                    .is_some_and(|q| q.contains("bench-phase") && q.contains(p))
            })
            .unwrap()
    };
    let between = |a: &str, b: &str| mark(b) - mark(a) - 1;
    let ms = |k: &str| Duration::from_secs_f64(v[k].as_f64().unwrap() / 1000.0);
    Some(Row {
        setup: ms("setup_ms"),
        commands: ms("commands_ms"),
        close: ms("close_ms"),
        rt_setup: between("setup", "commands"),
        rt_commands: between("commands", "close"),
        rt_close: between("close", "end"),
    })
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn line(name: &str, r: &Row) -> String {
    format!(
        "| {name} | {} ({} RT) | {} ({} RT) | {} ({} RT) | {} ({} RT) |",
        secs(r.setup),
        r.rt_setup,
        secs(r.commands),
        r.rt_commands,
        secs(r.close),
        r.rt_close,
        secs(r.setup + r.commands + r.close),
        r.rt_setup + r.rt_commands + r.rt_close
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("semantic");
        generate_layer(&root);
        let kit = Kit::new();
        let (emu, control) = atlas_emulator_daytona::start_with_control(kit.clone()).await;
        control.set_api_key(Some(KEY));
        kit.set_latency(LATENCY);
        let api_url = control.api_url();

        let our = ours(&kit, &api_url, &root).await;
        let sdk = official(&kit, &api_url, &root).await;
        assert!(control.live_sandboxes().is_empty(), "the benchmark leaked a sandbox");

        println!(
            "\nDaytona emulator, {} ms latency per request, {FILES} files, 20 commands after the first `ls`\n",
            LATENCY.as_millis()
        );
        println!("| client | setup (create + upload + first ls) | 20 commands | close | total |");
        println!("|---|---|---|---|---|");
        println!("{}", line("atlas-sandbox-daytona (sessions, bulk upload)", &our));
        match sdk {
            Some(s) => println!("{}", line("@daytonaio/sdk 0.218.0, Atlas's way", &s)),
            None => println!("| @daytonaio/sdk 0.218.0, Atlas's way | skipped (no node/npm ci) | | | |"),
        }
        emu.shutdown().await;
    });
}
