//! Time to the first result of a new session, cold (create + upload + first command) against
//! resumed (start a stopped persistent sandbox + first command), side by side in one run, with
//! 50 ms of latency injected per request into the Daytona emulator. Prints medians, spreads and
//! round trips.
//!
//! `cargo bench -p atlas-sandbox-daytona --bench resume` (`RESUME_BENCH_N`, default 15)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use atlas_emulator_kit::Kit;
use atlas_sandbox_daytona::{DaytonaConfig, DaytonaPlugin};
use atlas_sandbox_sdk::{ExecRequest, PluginContext, SandboxPlugin, Secret, SemanticLayer};

const LATENCY: Duration = Duration::from_millis(50);
const KEY: &str = "dtn_bench";

fn summary(name: &str, mut times: Vec<Duration>, rts: &[usize]) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let n = times.len();
    format!(
        "| {name} | {:.0} ms | {:.0}–{:.0} ms (p10–p90) | {}–{} |",
        ms(times[n / 2]),
        ms(times[n / 10]),
        ms(times[(n * 9) / 10]),
        rts.iter().min().unwrap(),
        rts.iter().max().unwrap(),
    )
}

fn main() {
    let n: usize = std::env::var("RESUME_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15)
        .max(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("semantic");
        std::fs::create_dir_all(root.join("entities")).unwrap();
        std::fs::write(root.join("catalog.yml"), "name: bench\n").unwrap();
        for i in 0..20 {
            std::fs::write(
                root.join(format!("entities/e{i}.yml")),
                format!("name: e{i}\n"),
            )
            .unwrap();
        }
        let layer = SemanticLayer::open(&root).unwrap();
        let kit = Kit::new();
        let (emu, control) = atlas_emulator_daytona::start_with_control(kit.clone()).await;
        control.set_api_key(Some(KEY));
        kit.set_latency(LATENCY);
        let mut c = DaytonaConfig::new(Secret::new(KEY));
        c.api_url = control.api_url();
        c.persistent = true;
        let plugin = DaytonaPlugin::new(c, &PluginContext::default()).unwrap();
        let persist = plugin.persistence().unwrap();

        let (mut cold, mut cold_rt, mut resumed, mut resumed_rt) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // Alternating, so both see the same machine load.
        for _ in 0..n {
            kit.clear();
            let t = Instant::now();
            let sb = persist.create_persistent(&layer, "bench").await.unwrap();
            let out = sb
                .exec(ExecRequest::new("ls entities | wc -l"))
                .await
                .unwrap();
            cold.push(t.elapsed());
            cold_rt.push(kit.requests().len());
            assert_eq!(out.stdout_str().trim(), "20");
            let id = sb.remote_id().unwrap();
            sb.pause().await.unwrap();

            kit.clear();
            let t = Instant::now();
            let back = persist.resume(&id).await.unwrap();
            let out = back
                .exec(ExecRequest::new("ls entities | wc -l"))
                .await
                .unwrap();
            resumed.push(t.elapsed());
            resumed_rt.push(kit.requests().len());
            assert_eq!(out.stdout_str().trim(), "20");
            back.close().await.unwrap();
        }
        assert!(
            control.live_sandboxes().is_empty(),
            "the benchmark leaked a sandbox"
        );
        println!(
            "\nDaytona emulator, {} ms latency per request, {n} runs each, alternating\n",
            LATENCY.as_millis()
        );
        println!("| first result of a session | median | spread | round trips |");
        println!("|---|---|---|---|");
        println!(
            "{}",
            summary("cold (create + upload + exec)", cold, &cold_rt)
        );
        println!(
            "{}",
            summary("resumed (start + exec)", resumed, &resumed_rt)
        );
        emu.shutdown().await;
    });
}
