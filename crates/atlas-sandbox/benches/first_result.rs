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

const RUNS: usize = 15;

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

/// Runs `ls` as a new session's first command; returns the time and the requests made
/// meanwhile.
async fn first(
    t: &SessionTable,
    v: &Vendor,
    root: &Path,
    id: &str,
) -> (Duration, Vec<atlas_emulator_kit::RecordedRequest>) {
    let before = v.kit.requests().len();
    let t0 = Instant::now();
    let lease = t.lease(key(id), root).await.expect("lease");
    let (_, out) = lease
        .exec(ExecRequest::new("ls catalog.yml"))
        .await
        .expect("exec");
    let took = t0.elapsed();
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(out.stdout_str(), "catalog.yml\n");
    (took, v.kit.requests()[before..].to_vec())
}

/// The ids of the pool's ready sandboxes, as the vendor lists them (by their owner tag).
async fn pooled_ids(t: &SessionTable) -> Vec<String> {
    let (_, plugin) = t.host().lasting_backend().expect("a lasting backend");
    let listed = plugin
        .persistence()
        .expect("persistence")
        .list()
        .await
        .expect("list");
    listed
        .into_iter()
        .filter(|r| {
            r.tags.get(atlas_sandbox_sdk::OWNER_TAG).map(String::as_str) == Some("pool:default")
        })
        .map(|r| r.id)
        .collect()
}

/// The names a vendor's requests use for one sandbox: its id, and for Vercel the id of its
/// running session too (commands go to `/v2/sandboxes/sessions/{session}`), read from the
/// vendor's own sandbox record.
async fn names_of(v: &Vendor, remote: &str) -> Vec<String> {
    let mut names = vec![remote.to_owned()];
    if v.id == "vercel" {
        let url = format!(
            "{}/v2/sandboxes/{remote}?teamId=team_bench&projectId=prj_bench",
            v.table["api_url"].as_str().unwrap_or_default()
        );
        let got: serde_json::Value = reqwest::Client::new()
            .get(url)
            .bearer_auth(v.table["token"].as_str().unwrap_or_default())
            .send()
            .await
            .expect("get the Vercel sandbox")
            .json()
            .await
            .expect("its JSON");
        let session = got["session"]["id"]
            .as_str()
            .or_else(|| got["sandbox"]["currentSessionId"].as_str())
            .expect("the sandbox's session id");
        names.push(session.to_owned());
    }
    names
}

/// The requests that name one of `names` (in the path or E2B's sandbox header): what a session
/// on a pooled sandbox waited on, apart from the refill running beside it.
fn naming(made: &[atlas_emulator_kit::RecordedRequest], names: &[String]) -> usize {
    made.iter()
        .filter(|r| {
            names.iter().any(|n| {
                r.path.split('/').any(|seg| seg == n) || r.header("e2b-sandbox-id") == Some(n)
            })
        })
        .count()
}

/// Waits until the pool holds its one sandbox, so no refill runs beside a measurement.
async fn pool_full(lasting: &atlas_sandbox::persist::Lasting) {
    while lasting.pooled().get("default").copied().unwrap_or(0) < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
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
        let (lo, hi) = (self.requests[0], self.requests[self.requests.len() - 1]);
        format!(
            "{:.0} ms ({:.0}–{:.0}) | {}",
            ms(self.times[self.times.len() / 2]),
            ms(self.times[0]),
            ms(self.times[self.times.len() - 1]),
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}–{hi}")
            }
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
        pool_full(&lasting).await;
        let (t, made) = first(&plain, &v, root, &format!("cold-{run}")).await;
        cold.times.push(t);
        cold.requests.push(made.len());
        plain.close(&key(&format!("cold-{run}"))).await;

        pool_full(&lasting).await;
        // The refill that starts once the sandbox is taken runs beside the session: only the
        // requests naming the session's sandbox are the session's.
        let ready = pooled_ids(&pool).await;
        assert_eq!(ready.len(), 1, "one pooled sandbox: {ready:?}");
        let names = names_of(&v, &ready[0]).await;
        let (t, made) = first(&pool, &v, root, &format!("pooled-{run}")).await;
        pooled.times.push(t);
        pooled.requests.push(naming(&made, &names));
        pool.close(&key(&format!("pooled-{run}"))).await;

        let id = format!("resumed-{run}");
        {
            let t = table(&v, root, &store, serde_json::json!({"persistent": true})).await?;
            first(&t, &v, root, &id).await;
            t.close_all().await;
        }
        let t2 = table(&v, root, &store, serde_json::json!({"persistent": true})).await?;
        pool_full(&lasting).await;
        let (t, made) = first(&t2, &v, root, &id).await;
        resumed.times.push(t);
        resumed.requests.push(made.len());
        t2.close(&key(&id)).await;
    }
    pool.close_all().await;
    let (_, plugin) = pool.host().lasting_backend()?;
    let left = plugin.persistence()?.list().await.expect("list");
    assert!(left.is_empty(), "{}: the bench leaked {left:?}", v.id);
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
