//! Per-command latency of the warm jail (both engines) against its peers, side by side in one
//! run: bare `bash -c` (the SDK's process runner, no isolation), just-bash in-process, just-bash
//! in a plain worker (the containment fallback without user namespaces), and the nsjail
//! backend when nsjail is on PATH/NSJAIL_PATH; plus `create` (worker start) of each kind and
//! the throughput of 2 concurrent callers on one sandbox. The last lines are the ratios the
//! targets are stated in.
//!
//! `cargo bench -p atlas-sandbox-jail` (BENCH_N sets the runs per row, default 200). The modes
//! are interleaved in rounds so a busy machine skews them alike.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_sandbox_jail::{ContainedJustBash, Engine, JailConfig, JailPlugin};
use atlas_sandbox_just_bash::JustBashConfig;
use atlas_sandbox_sdk::process::{self, ProcessSpec};
use atlas_sandbox_sdk::{
    ExecRequest, PluginContext, PluginDescriptor, Sandbox, SandboxPlugin, SemanticLayer,
};

const ROUNDS: usize = 10;
const COMMANDS: &[&str] = &["true", "ls /semantic", "grep -rn customer_id ."];

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run());
}

struct Stats {
    median: f64,
    p95: f64,
    n: usize,
}

fn stats(mut ms: Vec<f64>) -> Stats {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Stats {
        median: at(0.5),
        p95: at(0.95),
        n: ms.len(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `ls /semantic` means the layer root outside a jail.
fn outside(cmd: &str, root: &Path) -> String {
    cmd.replace("/semantic", &root.display().to_string())
}

async fn bare(cmd: &str, root: &Path) -> Duration {
    let t = Instant::now();
    let spec = ProcessSpec::new("/bin/bash")
        .arg("-c")
        .arg(outside(cmd, root))
        // The jail's environment, so both run the tools in the same locale.
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/tmp")
        .env("LANG", "C.UTF-8")
        .cwd(root);
    let r = process::run(&spec).await.expect("bash");
    assert_eq!(r.output.exit_code, 0, "{cmd}");
    t.elapsed()
}

async fn through(sb: &dyn Sandbox, cmd: &str) -> Duration {
    let t = Instant::now();
    let out = sb.exec(ExecRequest::new(cmd)).await.expect("exec");
    assert_eq!(out.exit_code, 0, "{cmd}: {out:?}");
    t.elapsed()
}

fn nsjail_plugin() -> Option<Box<dyn SandboxPlugin>> {
    let d: PluginDescriptor = atlas_sandbox_nsjail::descriptor();
    let p = (d.build)(serde_json::json!({}), &PluginContext::default()).ok()?;
    let found = atlas_sandbox_nsjail::NsjailPlugin::new(
        atlas_sandbox_nsjail::NsjailConfig::default(),
        &PluginContext::default(),
    )
    .ok()?
    .nsjail_binary()
    .is_ok();
    found.then_some(p)
}

async fn run() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let per_round = n.div_ceil(ROUNDS);
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let layer = SemanticLayer::open(&root).expect("layer");
    let jail = JailPlugin::new(JailConfig::default(), &PluginContext::default()).expect("plugin");
    if let Err(why) = jail.diagnose() {
        eprintln!("SKIPPED: jail bench: {why}");
        return;
    }
    let jb = (atlas_sandbox_just_bash::descriptor().build)(
        serde_json::json!({}),
        &PluginContext::default(),
    )
    .expect("just-bash");
    let jb_sb: Arc<dyn Sandbox> = Arc::from(jb.create(&layer).await.expect("just-bash create"));
    let ns = nsjail_plugin();
    let ns_sb: Option<Arc<dyn Sandbox>> = match &ns {
        Some(p) => Some(Arc::from(p.create(&layer).await.expect("nsjail create"))),
        None => {
            eprintln!("SKIPPED: nsjail rows: nsjail not found (set NSJAIL_PATH or PATH)");
            None
        }
    };
    let jail_sb: Arc<dyn Sandbox> = Arc::new(jail.create_jail(&layer).await.expect("create"));
    let jail_jb = JailPlugin::new(
        JailConfig {
            engine: Engine::JustBash,
            ..JailConfig::default()
        },
        &PluginContext::default(),
    )
    .expect("plugin");
    let jail_jb_sb: Arc<dyn Sandbox> = Arc::new(jail_jb.create_jail(&layer).await.expect("create"));
    let plain = ContainedJustBash::new(JustBashConfig::default(), &PluginContext::default())
        .expect("contained")
        .plain_only();
    let plain_sb: Arc<dyn Sandbox> =
        Arc::new(plain.create_contained(&layer).await.expect("create"));
    // Warm-up.
    for c in COMMANDS {
        through(&*jail_sb, c).await;
        through(&*jail_jb_sb, c).await;
        through(&*plain_sb, c).await;
        through(&*jb_sb, c).await;
        bare(c, &root).await;
    }

    let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
    let mut row = |name: String, d: Duration| {
        if let Some(r) = rows.iter_mut().find(|(n, _)| *n == name) {
            r.1.push(ms(d));
        } else {
            rows.push((name, vec![ms(d)]));
        }
    };
    let mut creates = Vec::new();
    let mut creates_jb = Vec::new();
    let mut creates_plain = Vec::new();
    for _ in 0..ROUNDS {
        for c in COMMANDS {
            for _ in 0..per_round {
                row(
                    format!("jail (bash)       {c}"),
                    through(&*jail_sb, c).await,
                );
                row(format!("bare bash -c      {c}"), bare(c, &root).await);
                row(
                    format!("jail (just-bash)  {c}"),
                    through(&*jail_jb_sb, c).await,
                );
                row(
                    format!("plain worker (jb) {c}"),
                    through(&*plain_sb, c).await,
                );
                row(format!("just-bash         {c}"), through(&*jb_sb, c).await);
            }
            if let Some(ns) = &ns_sb {
                for _ in 0..per_round.div_ceil(4) {
                    row(format!("nsjail            {c}"), through(&**ns, c).await);
                }
            }
        }
        for _ in 0..2 {
            let t = Instant::now();
            let sb = jail.create_jail(&layer).await.expect("create");
            creates.push(ms(t.elapsed()));
            sb.close().await.expect("close");
            let t = Instant::now();
            let sb = jail_jb.create_jail(&layer).await.expect("create");
            creates_jb.push(ms(t.elapsed()));
            sb.close().await.expect("close");
            let t = Instant::now();
            let sb = plain.create_contained(&layer).await.expect("create");
            creates_plain.push(ms(t.elapsed()));
            sb.close().await.expect("close");
        }
    }
    println!("{:<46} {:>9} {:>9} {:>6}", "row (ms)", "median", "p95", "n");
    let mut medians = std::collections::HashMap::new();
    for (name, v) in rows {
        let s = stats(v);
        println!("{name:<46} {:>9.3} {:>9.3} {:>6}", s.median, s.p95, s.n);
        medians.insert(name, s.median);
    }
    for (what, v) in [
        ("jail (bash) create (worker start)", creates),
        ("jail (just-bash) create (worker start)", creates_jb),
        ("plain worker (jb) create", creates_plain),
    ] {
        let s = stats(v);
        println!("{what:<46} {:>9.3} {:>9.3} {:>6}", s.median, s.p95, s.n);
    }
    let m = |row: &str, c: &str| {
        medians
            .iter()
            .find(|(k, _)| k.starts_with(row) && k.ends_with(c))
            .map(|(_, v)| *v)
    };
    for c in COMMANDS {
        if let (Some(j), Some(b)) = (m("jail (bash)", c), m("bare bash -c", c)) {
            println!(
                "ratio jail (bash) / bare bash -c      {c:<26} {:.2}x",
                j / b
            );
        }
        if let (Some(j), Some(n)) = (m("jail (bash)", c), m("nsjail", c)) {
            println!(
                "ratio nsjail / jail (bash)            {c:<26} {:.2}x",
                n / j
            );
        }
        if let (Some(j), Some(i)) = (m("jail (just-bash)", c), m("just-bash ", c)) {
            println!(
                "jail (just-bash) - in-process         {c:<26} {:+.3} ms",
                j - i
            );
        }
        if let (Some(j), Some(i)) = (m("plain worker (jb)", c), m("just-bash ", c)) {
            println!(
                "plain worker (jb) - in-process        {c:<26} {:+.3} ms",
                j - i
            );
        }
    }

    // Throughput: 2 callers on one sandbox for 2 s each.
    for (name, sb) in [
        ("jail (bash)", Arc::clone(&jail_sb)),
        ("jail (just-bash)", Arc::clone(&jail_jb_sb)),
        ("plain worker (jb)", Arc::clone(&plain_sb)),
        ("just-bash", Arc::clone(&jb_sb)),
    ]
    .into_iter()
    .chain(ns_sb.clone().map(|s| ("nsjail", s)))
    {
        let end = Instant::now() + Duration::from_secs(2);
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let sb = Arc::clone(&sb);
            tasks.push(tokio::spawn(async move {
                let mut done = 0u32;
                while Instant::now() < end {
                    through(&*sb, "ls /semantic").await;
                    done += 1;
                }
                done
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.expect("task");
        }
        println!(
            "2-client throughput {name:<17} `ls /semantic`: {:.0} commands/s",
            f64::from(total) / 2.0
        );
    }
    let end = Instant::now() + Duration::from_secs(2);
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let root = root.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u32;
            while Instant::now() < end {
                bare("ls /semantic", &root).await;
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    println!(
        "2-client throughput bare bash -c `ls /semantic`: {:.0} commands/s",
        f64::from(total) / 2.0
    );
    for sb in [jail_sb, jail_jb_sb, plain_sb] {
        sb.close().await.expect("close");
    }
}
