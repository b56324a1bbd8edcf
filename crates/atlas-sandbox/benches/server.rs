//! The explore server, side by side in one run (issue 12's three measurements):
//!
//! 1. **MCP over stdio against the backend in-process**: `explore` of `true` and
//!    `grep -rn customer_id .` on just-bash through `atlas-sandbox mcp` (JSON-RPC lines over a
//!    pipe, one session), against `Sandbox::exec` of the same commands on the same layer from
//!    this process, with the server's just-bash in its default worker processes and kept in the
//!    server (`just_bash_worker = false`). Each server is measured against the backend it runs,
//!    called from Rust (a worker sandbox of the jail crate's `ContainedJustBash`, or just-bash
//!    in-process), and against just-bash in-process. Each round runs every side once, in
//!    rotating order, so background load hits all alike. Printed: p50 and p95 of each and the
//!    p50 differences (the MCP layer's cost; target < 0.3 ms).
//! 2. **`serve` against the sidecars**: `POST /v1/exec` and MCP `tools/call` on `serve` (warm jail:
//!    a `bash -c` per command, like both sidecars; each client is one session, as an agent's
//!    conversation is, so its jail is made once) against our `atlas-sidecar` and Atlas's own
//!    sidecar (TypeScript on Bun, started as in `crates/atlas-sidecar/benches/vs_atlas.rs`) at 1,
//!    4, 16 and 64 clients, alternating 0.5 s slices. Every answer is checked (status 200, exit
//!    0, the expected stdout); anything else is an error. Atlas's sidecar needs
//!    `ATLAS_SIDECAR_TS_DIR` and `BUN`; ours needs `ATLAS_SIDECAR_BIN` (default
//!    `target/<profile>/atlas-sidecar`, built by `cargo build -p atlas-sidecar --release`); a
//!    missing one prints `SKIPPED:`.
//! 3. **1,000 open just-bash sessions**: PSS of `serve` and its child processes (from
//!    `/proc/<pid>/smaps_rollup`) before and after opening them, and the time from their last call
//!    until the idle reaper has closed them all (`idle_timeout` `SERVER_BENCH_IDLE` s, default
//!    10, longer than opening them takes; `/metrics`). Three modes
//!    (`SERVER_BENCH_MODES`, default `0,1,2`): 0 the default (worker processes shared by up to
//!    64 sessions of a layer), 1 a worker per session, 2 just-bash in the server process.
//!
//! ```text
//! cargo bench -p atlas-sandbox --bench server
//! ATLAS_SIDECAR_TS_DIR=/work/ext/atlas-sidecar/packages/sandbox-sidecar BUN=/work/ext/bun/bun \
//!   ATLAS_SIDECAR_BIN=target/release/atlas-sidecar cargo bench -p atlas-sandbox --bench server
//! ```
//! `SERVER_BENCH_N` (default 300): samples per side and command in 1; `SERVER_BENCH_SECS`
//! (default 2): seconds per side per load point in 2; `SERVER_BENCH_PARTS` (default `1,2,3`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_types,
    clippy::disallowed_methods,
    clippy::zombie_processes
)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const TOKEN: &str = "server-bench-token-0123456789abcdef";
const CLIENTS: [usize; 4] = [1, 4, 16, 64];
const SLICE: Duration = Duration::from_millis(500);
const NOBODY: u32 = 65534;

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_atlas-sandbox"))
}

fn layer() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../config/semantic")
        .canonicalize()
        .unwrap()
}

fn config(dir: &Path, backend: &str, server: &str) -> PathBuf {
    let path = dir.join("atlas.toml");
    std::fs::write(
        &path,
        format!(
            "[sandbox]\nbackend = \"{backend}\"\nsemantic_root = {:?}\n\n[server]\n{server}\n",
            layer()
        ),
    )
    .unwrap();
    path
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    if v.is_empty() {
        return Duration::ZERO;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

// ------------------------------------------------------------------------------------ part 1

struct Stdio2 {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
    id: u64,
}

impl Stdio2 {
    fn start(config: &Path) -> Stdio2 {
        let mut child = Command::new(bin())
            .args(["mcp", "--config"])
            .arg(config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut s = Stdio2 { child, out, id: 0 };
        s.call(
            "initialize",
            serde_json::json!({"protocolVersion": "2025-11-25", "capabilities": {},
                               "clientInfo": {"name": "bench", "version": "0"}}),
        );
        s.notify("notifications/initialized");
        s
    }

    fn notify(&mut self, method: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(
            stdin,
            "{}",
            serde_json::json!({"jsonrpc": "2.0", "method": method})
        )
        .unwrap();
        stdin.flush().unwrap();
    }

    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.id += 1;
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(
            stdin,
            "{}",
            serde_json::json!({"jsonrpc": "2.0", "id": self.id, "method": method, "params": params})
        )
        .unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            self.out.read_line(&mut line).unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v["id"] == self.id {
                return v;
            }
        }
    }

    fn explore(&mut self, command: &str) -> String {
        let v = self.call(
            "tools/call",
            serde_json::json!({"name": "explore", "arguments": {"command": command}}),
        );
        let s = &v["result"]["structuredContent"];
        assert_eq!(s["exit_code"], 0, "{v}");
        s["stdout"].as_str().unwrap().to_owned()
    }
}

impl Drop for Stdio2 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn part1(rt: &tokio::runtime::Runtime) {
    let n = env_num("SERVER_BENCH_N", 300) as usize;
    let dir = tempfile::tempdir().unwrap();
    // The server's default runs just-bash in worker processes (docs/server.md); the second
    // server keeps it in its own process, so the two rows separate the MCP layer's own cost
    // from the worker's process hop.
    let modes = [
        ("worker process (default)", ""),
        (
            "in the server (`just_bash_worker = false`)",
            "just_bash_worker = false",
        ),
    ];
    let mut servers: Vec<Stdio2> = modes
        .iter()
        .enumerate()
        .map(|(i, (_, extra))| {
            let sub = dir.path().join(i.to_string());
            std::fs::create_dir_all(&sub).unwrap();
            Stdio2::start(&config(&sub, "just-bash", extra))
        })
        .collect();
    let d = atlas_sandbox::registry::compiled_in()
        .into_iter()
        .find(|d| d.id == "just-bash")
        .unwrap();
    let plugin = (d.build)(serde_json::json!({}), &Default::default()).unwrap();
    let layer = atlas_sandbox_sdk::SemanticLayer::open(layer()).unwrap();
    let sandbox = rt.block_on(plugin.create(&layer)).unwrap();
    // What the default server runs, called from Rust: just-bash in a worker process (one
    // worker shared by sessions, as the server's default). Each server row is measured
    // against the backend it runs, and against in-process just-bash.
    #[cfg(all(feature = "jail", feature = "just-bash", target_os = "linux"))]
    let contained: Box<dyn atlas_sandbox_sdk::Sandbox> = {
        use atlas_sandbox_sdk::SandboxPlugin;
        let p = atlas_sandbox_jail::ContainedJustBash::new(
            atlas_sandbox_just_bash::JustBashConfig::default(),
            &Default::default(),
        )
        .unwrap();
        rt.block_on(p.create(&layer)).unwrap()
    };
    #[cfg(not(all(feature = "jail", feature = "just-bash", target_os = "linux")))]
    let contained: Box<dyn atlas_sandbox_sdk::Sandbox> =
        rt.block_on(plugin.create(&layer)).unwrap();
    let baselines = [&contained, &sandbox];
    println!("\n## 1. MCP over stdio vs the backend in-process (just-bash, {n} samples each)\n");
    println!(
        "| command | server's just-bash | same backend from Rust p50 | p95 | MCP stdio p50 | p95 | MCP adds (p50) | in-process just-bash p50 | MCP adds over it (p50) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for cmd in ["true", "grep -rn customer_id ."] {
        let want = rt
            .block_on(sandbox.exec(atlas_sandbox_sdk::ExecRequest::new(cmd)))
            .unwrap();
        let want = String::from_utf8_lossy(&want.stdout).into_owned();
        for s in servers.iter_mut() {
            assert_eq!(s.explore(cmd), want, "MCP and in-process differ on {cmd}");
        }
        let sides = baselines.len() + servers.len();
        let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(n); sides];
        // Each round runs every side once, starting from a different one each round, so
        // neither order nor background load favours a side.
        for round in 0..n {
            for k in 0..sides {
                let side = (round + k) % sides;
                let t = Instant::now();
                if let Some(b) = baselines.get(side) {
                    let o = rt
                        .block_on(b.exec(atlas_sandbox_sdk::ExecRequest::new(cmd)))
                        .unwrap();
                    samples[side].push(t.elapsed());
                    assert_eq!(o.exit_code, 0);
                    assert_eq!(o.stdout.len(), want.len());
                } else {
                    let out = servers[side - baselines.len()].explore(cmd);
                    samples[side].push(t.elapsed());
                    assert_eq!(out.len(), want.len());
                }
            }
        }
        let plain50 = pct(&mut samples[1], 0.5);
        // Server i runs baseline i's backend.
        for (i, (label, _)) in modes.iter().enumerate() {
            let (d50, d95) = (pct(&mut samples[i], 0.5), pct(&mut samples[i], 0.95));
            let k = baselines.len() + i;
            let (m50, m95) = (pct(&mut samples[k], 0.5), pct(&mut samples[k], 0.95));
            println!(
                "| `{cmd}` | {label} | {} ms | {} ms | {} ms | {} ms | {} ms | {} ms | {} ms |",
                ms(d50),
                ms(d95),
                ms(m50),
                ms(m95),
                ms(m50.saturating_sub(d50)),
                ms(plain50),
                ms(m50.saturating_sub(plain50))
            );
        }
    }
}

// ------------------------------------------------------------------------------------ part 2

struct Server {
    name: String,
    url: String,
    child: Child,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Sidecar,
    ServeJson,
    ServeMcp,
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.kind != Kind::ServeMcp {
            let _ = self.child.kill();
        }
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

fn start_serve(config: &Path) -> (Child, String) {
    let log = config.with_file_name("serve.log");
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(a) = text
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
        {
            return (child, format!("http://{a}"));
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve did not start: {text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_sidecar(bin: &Path) -> Server {
    let mut child = Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--semantic-root"])
        .arg(layer())
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
        name: "atlas-sidecar (ours)".into(),
        url: format!("http://{addr}"),
        child,
        kind: Kind::Sidecar,
    }
}

fn start_atlas(dir: &Path, bun: &Path, work: &Path) -> Server {
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
        .env("SEMANTIC_DIR", layer())
        .env("SIDECAR_AUTH_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0 {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    Server {
        name: "Atlas sidecar (Bun)".into(),
        url: format!("http://127.0.0.1:{port}"),
        child: cmd.spawn().unwrap(),
        kind: Kind::Sidecar,
    }
}

/// One call; true when it answered 200, exit 0 and `expect` on stdout. `session`: the
/// caller's session on `serve` (an agent's conversation); the sidecars have none.
async fn one(
    c: &reqwest::Client,
    s: &(String, Kind),
    cmd: &str,
    expect: &str,
    session: Option<&str>,
) -> bool {
    let (url, kind) = s;
    let req = match kind {
        Kind::Sidecar => c
            .post(format!("{url}/exec"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "command": cmd })),
        Kind::ServeJson => c
            .post(format!("{url}/v1/exec"))
            .json(&serde_json::json!({ "command": cmd, "session": session })),
        Kind::ServeMcp => c
            .post(format!("{url}/mcp"))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(
                &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "explore", "arguments": {"command": cmd, "session": session}}}),
            ),
    };
    let Ok(r) = req.send().await else {
        return false;
    };
    if r.status() != 200 {
        return false;
    }
    let Ok(v) = r.json::<serde_json::Value>().await else {
        return false;
    };
    let v = if *kind == Kind::ServeMcp {
        v["result"]["structuredContent"].clone()
    } else {
        v
    };
    let code = v
        .get("exit_code")
        .or_else(|| v.get("exitCode"))
        .and_then(serde_json::Value::as_i64);
    code == Some(0) && v.get("stdout").and_then(|s| s.as_str()) == Some(expect)
}

async fn slice_run(
    c: &reqwest::Client,
    s: &(String, Kind),
    cmd: &str,
    expect: &str,
    clients: usize,
) -> (u64, u64, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..clients {
        let session = format!("bench-{k}");
        let (c, s, cmd, expect, stop) = (
            c.clone(),
            s.clone(),
            cmd.to_owned(),
            expect.to_owned(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut err) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                if one(&c, &s, &cmd, &expect, Some(&session)).await {
                    ok += 1;
                } else {
                    err += 1;
                }
            }
            (ok, err)
        }));
    }
    tokio::time::sleep(SLICE).await;
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut err) = (0, 0);
    for t in tasks {
        let (o, e) = t.await.unwrap();
        ok += o;
        err += e;
    }
    (ok, err, start.elapsed())
}

fn part2(rt: &tokio::runtime::Runtime) {
    let secs = env_num("SERVER_BENCH_SECS", 2);
    let dir = tempfile::tempdir().unwrap();
    // One session-less call per request on the warm jail (its default concurrency).
    let cfg = config(
        dir.path(),
        "jail",
        "max_concurrent = 64\nqueue_size = 1024\nqueue_timeout = \"30s\"",
    );
    let (serve_child, serve_url) = start_serve(&cfg);
    let mut servers = vec![
        Server {
            name: "serve /v1/exec (jail)".into(),
            url: serve_url.clone(),
            child: serve_child,
            kind: Kind::ServeJson,
        },
        Server {
            name: "serve MCP tools/call (jail)".into(),
            url: serve_url,
            // The same process; only the first entry owns it.
            child: Command::new("true").spawn().unwrap(),
            kind: Kind::ServeMcp,
        },
    ];
    let sidecar_bin = std::env::var_os("ATLAS_SIDECAR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| bin().with_file_name("atlas-sidecar"));
    if sidecar_bin.exists() {
        servers.push(start_sidecar(&sidecar_bin));
    } else {
        println!(
            "SKIPPED: our atlas-sidecar: {} not found (cargo build --release -p atlas-sidecar, \
             or set ATLAS_SIDECAR_BIN)",
            sidecar_bin.display()
        );
    }
    let work = tempfile::tempdir().unwrap();
    match std::env::var_os("ATLAS_SIDECAR_TS_DIR") {
        Some(d) => {
            let bun = std::env::var_os("BUN").map_or_else(|| PathBuf::from("bun"), PathBuf::from);
            servers.push(start_atlas(Path::new(&d), &bun, work.path()));
        }
        None => println!(
            "SKIPPED: Atlas's sidecar: set ATLAS_SIDECAR_TS_DIR (and BUN) to measure it side by side"
        ),
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(128)
        .build()
        .unwrap();
    let targets: Vec<(String, Kind)> = servers.iter().map(|s| (s.url.clone(), s.kind)).collect();
    rt.block_on(async {
        for (s, t) in servers.iter().zip(&targets) {
            let until = Instant::now() + Duration::from_secs(30);
            while !one(&client, t, "echo ready", "ready\n", Some("bench-0")).await {
                assert!(Instant::now() < until, "{} did not answer", s.name);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let grep = Command::new("bash")
        .args(["-c", "grep -rn customer_id ."])
        .current_dir(layer())
        .output()
        .unwrap();
    let grep_out = String::from_utf8(grep.stdout).unwrap();
    println!(
        "\n## 2. serve vs the sidecars: requests/s (errors) at N clients, {secs} s per side and point\n"
    );
    for (cmd, expect) in [("true", ""), ("grep -rn customer_id .", grep_out.as_str())] {
        print!("\n`{cmd}`\n\n| clients |");
        for s in &servers {
            print!(" {} |", s.name);
        }
        print!("\n|---|");
        for _ in &servers {
            print!("---|");
        }
        println!();
        for clients in CLIENTS {
            let mut tallies = vec![(0u64, 0u64, Duration::ZERO); servers.len()];
            let rounds = (secs * 1000 / SLICE.as_millis() as u64).max(1);
            rt.block_on(async {
                for r in 0..rounds {
                    for k in 0..targets.len() {
                        let i = (k + r as usize) % targets.len();
                        let (ok, err, busy) =
                            slice_run(&client, &targets[i], cmd, expect, clients).await;
                        tallies[i].0 += ok;
                        tallies[i].1 += err;
                        tallies[i].2 += busy;
                    }
                }
            });
            print!("| {clients} |");
            for (ok, err, busy) in &tallies {
                print!(" {:.0} ({err}) |", *ok as f64 / busy.as_secs_f64());
            }
            println!();
        }
    }
    drop(servers);
}

// ------------------------------------------------------------------------------------ part 3

/// PSS of `pid` and its descendants in KiB, and how many processes that is.
fn pss_kib(pid: u32) -> (u64, usize) {
    let mut total = 0;
    let mut count = 0;
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) {
            count += 1;
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("Pss:") {
                    total += v
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0);
                }
            }
        }
        for t in std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(c) = std::fs::read_to_string(t.path().join("children")) {
                stack.extend(c.split_whitespace().filter_map(|x| x.parse::<u32>().ok()));
            }
        }
    }
    (total, count)
}

async fn sessions_open(c: &reqwest::Client, url: &str) -> Option<f64> {
    let text = c
        .get(format!("{url}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with("atlas_sessions_open"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
}

struct Sessions {
    before: (u64, usize),
    after: (u64, usize),
    opened: Duration,
    expired: Duration,
}

/// Opens 1,000 just-bash sessions on `serve` with `keys` in `[server]`, then waits for the
/// idle reaper to close them all.
fn thousand_sessions(rt: &tokio::runtime::Runtime, keys: &str, idle: u64) -> Sessions {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "just-bash",
        &format!(
            "idle_timeout = \"{idle}s\"\nmax_sessions = 1000\nmax_concurrent = 16\nqueue_size = 2000\n{keys}"
        ),
    );
    let (child, url) = start_serve(&cfg);
    let pid = child.id();
    // Killed and reaped however this ends (a failed assertion too): its workers follow.
    let _serve = Reap(child);
    let client = reqwest::Client::new();
    rt.block_on(async {
        let target = (url.clone(), Kind::ServeJson);
        assert!(one(&client, &target, "echo ready", "ready\n", None).await);
        let before = pss_kib(pid);
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for k in 0..8 {
            let (c, url) = (client.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                for i in (k..1000).step_by(8) {
                    let r = c
                        .post(format!("{url}/v1/exec"))
                        .json(&serde_json::json!({"command": "echo x > note; cat note",
                                                  "session": format!("s{i}")}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    let v: serde_json::Value = r.json().await.unwrap();
                    assert_eq!(v["stdout"], "x\n", "{v}");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let opened = t0.elapsed();
        let after = pss_kib(pid);
        let open = sessions_open(&client, &url).await;
        assert_eq!(
            open,
            Some(1000.0),
            "every session should still be open (raise SERVER_BENCH_IDLE above the {} s it took \
             to open them)",
            opened.as_secs()
        );
        let t1 = Instant::now();
        loop {
            if sessions_open(&client, &url).await == Some(0.0) {
                break;
            }
            assert!(
                t1.elapsed() < Duration::from_secs(120),
                "sessions never expired ({open:?} open)"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Sessions {
            before,
            after,
            opened,
            expired: t1.elapsed(),
        }
    })
}

struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn part3(rt: &tokio::runtime::Runtime) {
    let modes = [
        ("workers shared, 64 sessions each (default)", ""),
        ("a worker per session", "just_bash_sessions_per_worker = 1"),
        ("in-process (no worker)", "just_bash_worker = false"),
    ];
    let wanted = std::env::var("SERVER_BENCH_MODES").unwrap_or_else(|_| "0,1,2".into());
    let idle = env_num("SERVER_BENCH_IDLE", 10);
    let runs: Vec<(&str, Sessions)> = modes
        .iter()
        .enumerate()
        .filter(|(i, _)| wanted.split(',').any(|w| w.trim() == i.to_string()))
        .map(|(_, (name, keys))| (*name, thousand_sessions(rt, keys, idle)))
        .collect();
    println!("\n## 3. 1,000 open just-bash sessions (serve and its worker processes)\n");
    print!("| measure |");
    for (name, _) in &runs {
        print!(" {name} |");
    }
    print!("\n|---|");
    for _ in &runs {
        print!("---|");
    }
    println!();
    let row = |label: &str, f: &dyn Fn(&Sessions) -> String| {
        print!("| {label} |");
        for (_, s) in &runs {
            print!(" {} |", f(s));
        }
        println!();
    };
    row("PSS idle (before the first session)", &|s| {
        format!("{:.1} MB", s.before.0 as f64 / 1024.0)
    });
    row("PSS with 1,000 sessions open", &|s| {
        format!("{:.1} MB", s.after.0 as f64 / 1024.0)
    });
    row("processes with 1,000 sessions open", &|s| {
        s.after.1.to_string()
    });
    row("per session", &|s| {
        format!(
            "{:.1} KB",
            s.after.0.saturating_sub(s.before.0) as f64 / 1000.0
        )
    });
    row("opening them (8 clients)", &|s| {
        format!("{} ms", s.opened.as_millis())
    });
    row(
        &format!("from the last call until all are closed (idle_timeout {idle} s)"),
        &|s| format!("{} ms", s.expired.as_millis()),
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists targets; nothing to list here.
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let parts = std::env::var("SERVER_BENCH_PARTS").unwrap_or_else(|_| "1,2,3".into());
    for p in parts.split(',') {
        match p.trim() {
            "1" => part1(&rt),
            "2" => part2(&rt),
            "3" => part3(&rt),
            other => panic!("SERVER_BENCH_PARTS: unknown part {other:?} (1, 2 or 3)"),
        }
    }
}
