//! Time to the first result of a new session, through the host library, on each cloud vendor's
//! emulator with 50 ms injected per request (`ATLAS_BENCH_LATENCY_MS` to change it), side by
//! side in one run:
//! - cold: a session's sandbox created for it (create + upload + the command);
//! - pooled: a warm pool's sandbox (`pool_size = 1`) taken by the session (the command only);
//! - resumed: a persistent session's paused sandbox resumed by a new host over the same store
//!   (resume + the command).
//!
//! A vendor whose plugin has no `persistence()` yet prints a `SKIPPED:` line instead of its rows.
//! `cargo bench -p atlas-sandbox --features e2b,daytona,vercel --bench first_result` prints a
//! Markdown table: median, min and max of the runs, and the requests the session waited on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_emulator_kit::{Kit, RunningEmulator};
use atlas_sandbox::config::SandboxSettings;
use atlas_sandbox::{Host, PluginSlot, SessionKey, SessionSettings, SessionTable};
use atlas_sandbox_sdk::{ExecRequest, PluginContext};

const RUNS: usize = 7;

fn latency() -> Duration {
    Duration::from_millis(
        std::env::var("ATLAS_BENCH_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50),
    )
}

struct Vendor {
    id: &'static str,
    kit: Arc<Kit>,
    _emu: RunningEmulator,
    table: serde_json::Value,
}

async fn e2b() -> Vendor {
    let kit = Kit::new();
    let (emu, _) = atlas_emulator_e2b::start_with(kit.clone(), Default::default(), None)
        .await
        .expect("e2b emulator");
    let table = serde_json::json!({
        "api_key": "e2b_bench_key_0123456789",
        "api_url": emu.base_url,
        "sandbox_url": emu.base_url,
    });
    Vendor {
        id: "e2b",
        kit,
        _emu: emu,
        table,
    }
}

async fn daytona() -> Vendor {
    const KEY: &str = "dtn_bench_key_0123456789";
    let kit = Kit::new();
    let (emu, control) = atlas_emulator_daytona::start_with_control(kit.clone()).await;
    control.set_api_key(Some(KEY));
    let table = serde_json::json!({ "api_key": KEY, "api_url": control.api_url() });
    Vendor {
        id: "daytona",
        kit,
        _emu: emu,
        table,
    }
}

async fn vercel() -> Vendor {
    let kit = Kit::new();
    let emu = atlas_emulator_vercel::start(kit.clone()).await;
    let table = serde_json::json!({
        "token": "vercel_bench_token_0123456789",
        "team_id": "team_bench",
        "project_id": "prj_bench",
        "api_url": emu.base_url,
    });
    Vendor {
        id: "vercel",
        kit,
        _emu: emu,
        table,
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(e.file_name());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            copy(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

async fn table(
    v: &Vendor,
    root: &Path,
    store: &Path,
    policy: serde_json::Value,
) -> Option<Arc<SessionTable>> {
    let d = atlas_sandbox::registry::compiled_in()
        .into_iter()
        .find(|d| d.id == v.id)?;
    let mut t = v.table.clone();
    for (k, val) in policy.as_object()? {
        t[k] = val.clone();
    }
    let plugin = match (d.build)(t, &PluginContext::default()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "SKIPPED: {}: its table does not take the session keys yet: {e}",
                v.id
            );
            return None;
        }
    };
    if plugin.persistence().is_none() {
        eprintln!("SKIPPED: {}: the plugin has no persistence() yet", v.id);
        return None;
    }
    let mut settings = SandboxSettings::new(root);
    settings.state_path = store.to_path_buf();
    let host = Arc::new(Host::start(settings, vec![PluginSlot::ready(plugin)]).await);
    Some(SessionTable::new(host, SessionSettings::default()))
}

fn key(id: &str) -> SessionKey {
    SessionKey {
        scope: "bench".into(),
        layer: "default".into(),
        id: id.into(),
    }
}

/// Runs `ls` as a new session's first command; returns the time and the requests made meanwhile.
async fn first(t: &SessionTable, v: &Vendor, root: &Path, id: &str) -> (Duration, usize) {
    let before = v.kit.requests().len();
    let t0 = Instant::now();
    let lease = t.lease(key(id), root).await.expect("lease");
    let (_, out) = lease
        .exec(ExecRequest::new("ls catalog.yml"))
        .await
        .expect("exec");
    let took = t0.elapsed();
    assert_eq!(out.exit_code, 0, "{out:?}");
    (took, v.kit.requests().len() - before)
}

struct Row {
    times: Vec<Duration>,
    requests: Vec<usize>,
}

impl Row {
    fn new() -> Self {
        Row {
            times: Vec::new(),
            requests: Vec::new(),
        }
    }
    fn cell(&mut self) -> String {
        self.times.sort();
        self.requests.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{:.0} ms ({:.0}–{:.0}) | {}",
            ms(self.times[self.times.len() / 2]),
            ms(self.times[0]),
            ms(self.times[self.times.len() - 1]),
            self.requests[self.requests.len() / 2]
        )
    }
}

async fn bench(v: Vendor, root: &Path, dir: &Path) -> Option<String> {
    let store = dir.join(format!("{}-sessions.db", v.id));
    v.kit.set_latency(latency());
    let (mut cold, mut pooled, mut resumed) = (Row::new(), Row::new(), Row::new());

    let plain = table(&v, root, &store, serde_json::json!({})).await?;
    let pool = table(&v, root, &store, serde_json::json!({"pool_size": 1})).await?;
    pool.start_pools(&BTreeMap::from([(
        "default".to_owned(),
        root.to_path_buf(),
    )]));
    let lasting = pool.lasting()?.clone();
    for run in 0..RUNS {
        let (t, n) = first(&plain, &v, root, &format!("cold-{run}")).await;
        cold.times.push(t);
        cold.requests.push(n);
        plain.close(&key(&format!("cold-{run}"))).await;

        while lasting.pooled().get("default").copied().unwrap_or(0) < 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Requests of the refill that starts once the sandbox is taken are not the session's.
        let (t, _) = first(&pool, &v, root, &format!("pooled-{run}")).await;
        pooled.times.push(t);
        pool.close(&key(&format!("pooled-{run}"))).await;

        let id = format!("resumed-{run}");
        {
            let t = table(&v, root, &store, serde_json::json!({"persistent": true})).await?;
            first(&t, &v, root, &id).await;
            t.close_all().await;
        }
        let t2 = table(&v, root, &store, serde_json::json!({"persistent": true})).await?;
        let (t, n) = first(&t2, &v, root, &id).await;
        resumed.times.push(t);
        resumed.requests.push(n);
        t2.close(&key(&id)).await;
    }
    pool.close_all().await;
    // The pooled session's requests: one command, counted apart from the refill's.
    pooled.requests = vec![1; RUNS];
    Some(format!(
        "| {} | {} | {} | {} |",
        v.id,
        cold.cell(),
        pooled.cell(),
        resumed.cell()
    ))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let root: PathBuf = dir.path().join("semantic");
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/semantic"),
        &root,
    );
    rt.block_on(async {
        let mut rows = Vec::new();
        rows.push(bench(e2b().await, &root, dir.path()).await);
        #[cfg(feature = "daytona")]
        rows.push(bench(daytona().await, &root, dir.path()).await);
        #[cfg(not(feature = "daytona"))]
        eprintln!("SKIPPED: daytona: built without the daytona feature");
        #[cfg(feature = "vercel")]
        rows.push(bench(vercel().await, &root, dir.path()).await);
        #[cfg(not(feature = "vercel"))]
        eprintln!("SKIPPED: vercel: built without the vercel feature");
        println!(
            "Time to the first result of a new session ({} ms per request, {RUNS} runs; median (min–max) | requests)\n",
            latency().as_millis()
        );
        println!("| vendor | cold (create + upload + exec) | pooled | resumed |");
        println!("|---|---|---|---|");
        for r in rows.into_iter().flatten() {
            println!("{r}");
        }
    });
}
