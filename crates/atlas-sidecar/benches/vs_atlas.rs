//! Our sidecar server against Atlas's (`packages/sandbox-sidecar`, TypeScript on Bun), both on
//! their defaults, in one run: the same generated 200-file semantic layer, the same HTTP load
//! (N clients each sending `POST /exec` back to back over keep-alive connections), alternating
//! 0.5 s slices between the two servers so background load on a shared machine hits both alike.
//! Every answer is checked against what `bash -c` prints for the same command; a wrong answer,
//! a non-200 status or a transport error counts as an error.
//!
//! ```text
//! cargo bench -p atlas-sidecar --bench vs_atlas
//! ATLAS_SIDECAR_TS_DIR=/path/to/atlas/packages/sandbox-sidecar BUN=/path/to/bun cargo bench ...
//! ```
//!
//! Without `ATLAS_SIDECAR_TS_DIR` only our server and the direct runs are measured (a `SKIPPED:`
//! line says so). Atlas's server is run, never copied (AGPL): `bun run src/server.ts` in that
//! directory, as uid/gid 65534 like its Dockerfile, bound to loopback through a `--preload`
//! module that sets `hostname` on `Bun.serve`. Ours: the `atlas-sidecar` binary with no flags
//! beyond the listen address and the layer (started as root, it switches to `nobody` itself).
//!
//! `ATLAS_SIDECAR_VS_SECS` (default 3): seconds per side per load point; `ATLAS_SIDECAR_VS_ITERS`
//! (default 300): one-client latency samples per side and command.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::process::{ProcessSpec, run};

const TOKEN: &str = "vs-atlas-bench-token-0123456789abcdef";
const COMMANDS: [&str; 3] = ["true", "cat catalog.yml", "grep -rn customer_id ."];
const CLIENTS: [usize; 4] = [1, 4, 16, 64];
const SLICE: Duration = Duration::from_millis(500);
/// The uid/gid both servers' commands run as (`nobody`, as in both Dockerfiles).
const NOBODY: u32 = 65534;

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A semantic layer of exactly 200 files: catalog, glossary, 120 entities, 78 metrics.
fn make_layer(dir: &Path) -> PathBuf {
    let root = dir.join("semantic");
    std::fs::create_dir_all(root.join("entities")).unwrap();
    std::fs::create_dir_all(root.join("metrics")).unwrap();
    let mut catalog = String::from("name: bench_shop\ndescription: generated layer\nentities:\n");
    for i in 0..120 {
        catalog.push_str(&format!("  - entity_{i:03}\n"));
        let mut e = format!(
            "name: entity_{i:03}\ntable: public.entity_{i:03}\ndescription: Entity number {i} of \
             the generated shop.\ncolumns:\n  - name: id\n    type: integer\n    primary_key: true\n"
        );
        if i % 3 == 0 {
            e.push_str("  - name: customer_id\n    type: integer\n    references: customers.id\n");
        }
        for c in 0..12 {
            e.push_str(&format!(
                "  - name: attribute_{c}\n    type: text\n    description: Attribute {c} of entity {i}.\n"
            ));
        }
        std::fs::write(root.join(format!("entities/entity_{i:03}.yml")), e).unwrap();
    }
    for i in 0..78 {
        let mut m = format!(
            "name: metric_{i:03}\ndescription: Metric number {i}.\nsql: |\n  SELECT count(*)\n  \
             FROM public.entity_{:03}\n",
            i % 120
        );
        if i % 4 == 0 {
            m.push_str("  GROUP BY customer_id\ndimensions: [customer_id]\n");
        }
        std::fs::write(root.join(format!("metrics/metric_{i:03}.yml")), m).unwrap();
    }
    std::fs::write(root.join("catalog.yml"), catalog).unwrap();
    std::fs::write(
        root.join("glossary.yml"),
        "terms:\n  - term: customer\n    definition: someone with a customer_id\n",
    )
    .unwrap();
    let count = walk_count(&root);
    assert_eq!(count, 200, "the layer must have 200 files");
    // Both servers run commands as nobody: everything readable, nothing writable.
    for d in [dir, &root, &root.join("entities"), &root.join("metrics")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    root
}

fn walk_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            if e.file_type().unwrap().is_dir() {
                walk_count(&e.path())
            } else {
                1
            }
        })
        .sum()
}

struct Server {
    name: &'static str,
    url: String,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_ours(layer: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_atlas-sidecar"))
        .args(["--listen", "127.0.0.1:0", "--semantic-root"])
        .arg(layer)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("SIDECAR_AUTH_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("atlas-sidecar exited").unwrap();
        if let Some(a) = line.strip_prefix("atlas-sidecar listening on ") {
            break a.to_owned();
        }
    };
    Server {
        name: "ours",
        url: format!("http://{addr}"),
        child,
    }
}

fn start_atlas(dir: &Path, bun: &Path, layer: &Path, work: &Path) -> Server {
    let preload = work.join("loopback.mjs");
    std::fs::write(
        &preload,
        "const serve = Bun.serve;\nBun.serve = (o) => serve({ ...o, hostname: \"127.0.0.1\" });\n",
    )
    .unwrap();
    std::fs::set_permissions(work, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&preload, std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = free_port();
    let mut cmd = Command::new(bun);
    cmd.args(["run", "--preload"])
        .arg(&preload)
        .arg("src/server.ts")
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", work)
        .env("PORT", port.to_string())
        .env("SEMANTIC_DIR", layer)
        .env("SIDECAR_AUTH_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if nix::unistd::geteuid().is_root() {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    let child = cmd.spawn().unwrap();
    Server {
        name: "Atlas",
        url: format!("http://127.0.0.1:{port}"),
        child,
    }
}

/// One request; `Some(latency)` when it succeeded with exactly the expected stdout.
async fn one(client: &reqwest::Client, url: &str, cmd: &str, expect: &str) -> Option<Duration> {
    let t = Instant::now();
    let r = client
        .post(format!("{url}/exec"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "command": cmd }))
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    let v: serde_json::Value = r.json().await.ok()?;
    let code = v.get("exit_code").or_else(|| v.get("exitCode"))?.as_i64()?;
    (code == 0 && v.get("stdout")?.as_str()? == expect).then(|| t.elapsed())
}

async fn wait_ready(client: &reqwest::Client, s: &Server) {
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if one(client, &s.url, "echo ready", "ready\n").await.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} did not answer /exec at {} within 30 s", s.name, s.url);
}

#[derive(Default, Clone)]
struct Tally {
    ok: u64,
    errors: u64,
    busy: Duration,
}

/// `clients` loops against one server for `slice`.
async fn slice_run(
    client: &reqwest::Client,
    url: &str,
    cmd: &str,
    expect: &str,
    clients: usize,
    slice: Duration,
) -> Tally {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, cmd, expect, stop) = (
            client.clone(),
            url.to_owned(),
            cmd.to_owned(),
            expect.to_owned(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                match one(&client, &url, &cmd, &expect).await {
                    Some(_) => ok += 1,
                    None => errors += 1,
                }
            }
            (ok, errors)
        }));
    }
    tokio::time::sleep(slice).await;
    stop.store(true, Ordering::Relaxed);
    let mut t = Tally::default();
    for task in tasks {
        let (ok, errors) = task.await.unwrap();
        t.ok += ok;
        t.errors += errors;
    }
    t.busy = start.elapsed();
    t
}

fn p50(v: Vec<Duration>) -> Duration {
    use atlas_sandbox_testkit::stats::{Summary, from_millis};
    from_millis(Summary::of_durations(v).median)
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn direct(shell: &str, layer: &Path, work: &Path, cmd: &str) -> ProcessSpec {
    ProcessSpec::new(shell)
        .arg("-c")
        .arg(cmd)
        .env(
            "PATH",
            "/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin",
        )
        .env("HOME", work)
        .env("TMPDIR", work)
        .env("LANG", "C.UTF-8")
        .cwd(layer)
}

fn main() {
    let secs = env_num("ATLAS_SIDECAR_VS_SECS", 3);
    let iters = env_num("ATLAS_SIDECAR_VS_ITERS", 300);
    let work = tempfile::tempdir().unwrap();
    let layer = make_layer(work.path());
    let atlas_dir = std::env::var_os("ATLAS_SIDECAR_TS_DIR").map(PathBuf::from);
    let bun = std::env::var_os("BUN").map_or_else(|| PathBuf::from("bun"), PathBuf::from);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut servers = vec![start_ours(&layer)];
    match &atlas_dir {
        Some(d) => servers.push(start_atlas(d, &bun, &layer, work.path())),
        None => println!(
            "SKIPPED: Atlas's sidecar: set ATLAS_SIDECAR_TS_DIR to its packages/sandbox-sidecar \
             directory (and BUN to a bun binary) to measure it side by side"
        ),
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(128)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    rt.block_on(async {
        for s in &servers {
            wait_ready(&client, s).await;
        }
        // What bash prints is the reference every answer is checked against.
        let mut expected = Vec::new();
        for cmd in COMMANDS {
            let r = run(&direct("/bin/bash", &layer, work.path(), cmd))
                .await
                .unwrap();
            assert_eq!(r.output.exit_code, 0, "{cmd} failed directly");
            expected.push(String::from_utf8(r.output.stdout).unwrap());
        }
        println!(
            "layer: 200 files; {} s per side per point in alternating {} ms slices; {iters} \
             one-client samples per side\n",
            secs,
            SLICE.as_millis()
        );

        println!("### One client: p50 latency (ms), alternating one request of each\n");
        let mut head = "| command | direct `bash -c` | direct `sh -c` |".to_owned();
        for s in &servers {
            head.push_str(&format!(" {} sidecar |", s.name));
        }
        head.push_str(" ours − direct bash |");
        println!("{head}");
        println!("{}", "|---".repeat(3 + servers.len() + 1) + "|");
        for (cmd, expect) in COMMANDS.iter().zip(&expected) {
            let (mut bash, mut sh) = (Vec::new(), Vec::new());
            let mut per: Vec<Vec<Duration>> = vec![Vec::new(); servers.len()];
            for _ in 0..iters {
                let t = Instant::now();
                run(&direct("/bin/bash", &layer, work.path(), cmd))
                    .await
                    .unwrap();
                bash.push(t.elapsed());
                let t = Instant::now();
                run(&direct("/bin/sh", &layer, work.path(), cmd))
                    .await
                    .unwrap();
                sh.push(t.elapsed());
                for (i, s) in servers.iter().enumerate() {
                    if let Some(d) = one(&client, &s.url, cmd, expect).await {
                        per[i].push(d);
                    }
                }
            }
            let bash = p50(bash);
            let mut row = format!("| `{cmd}` | {} | {} |", ms(bash), ms(p50(sh)));
            let mut ours = Duration::ZERO;
            for (i, v) in per.into_iter().enumerate() {
                let p = p50(v);
                if i == 0 {
                    ours = p;
                }
                row.push_str(&format!(" {} |", ms(p)));
            }
            let diff = ours.as_secs_f64() - bash.as_secs_f64();
            row.push_str(&format!(" {:+.3} |", diff * 1000.0));
            println!("{row}");
        }

        println!("\n### Throughput: successful requests/s (errors)\n");
        let mut head = "| command | clients |".to_owned();
        for s in &servers {
            head.push_str(&format!(" {} ok/s (errors) |", s.name));
        }
        if servers.len() == 2 {
            head.push_str(" ours / Atlas |");
        }
        println!("{head}");
        println!(
            "{}",
            "|---".repeat(2 + servers.len() + usize::from(servers.len() == 2)) + "|"
        );
        let slices = (secs * 1000 / SLICE.as_millis() as u64).max(1);
        for (cmd, expect) in COMMANDS.iter().zip(&expected) {
            for clients in CLIENTS {
                let mut tally = vec![Tally::default(); servers.len()];
                for k in 0..slices {
                    // Alternate which server goes first, so neither always follows the other.
                    let order: Vec<usize> = if k % 2 == 0 {
                        (0..servers.len()).collect()
                    } else {
                        (0..servers.len()).rev().collect()
                    };
                    for i in order {
                        let t =
                            slice_run(&client, &servers[i].url, cmd, expect, clients, SLICE).await;
                        tally[i].ok += t.ok;
                        tally[i].errors += t.errors;
                        tally[i].busy += t.busy;
                    }
                }
                let rate = |t: &Tally| t.ok as f64 / t.busy.as_secs_f64();
                let mut row = format!("| `{cmd}` | {clients} |");
                for t in &tally {
                    row.push_str(&format!(" {:.0} ({}) |", rate(t), t.errors));
                }
                if tally.len() == 2 {
                    row.push_str(&format!(" {:.2}× |", rate(&tally[0]) / rate(&tally[1])));
                }
                println!("{row}");
            }
        }
    });
}
