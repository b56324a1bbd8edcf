//! Project automation: `cargo xtask <task>`.
//!
//! - `schemas [--check]`: regenerate `config/schemas/*.json` (or fail when they are stale);
//! - `check-backends [--live] [--config FILE]`: every existing backend builds alone, lints
//!   clean, is registered, has a current schema and a docs page; `config/atlas.toml` validates;
//!   `--live` adds each configured backend's health check;
//! - `deps`: unused dependencies (`cargo shear`) and banned crates, licenses and sources
//!   (`cargo deny`, `deny.toml`), with the tools installed under `target/` on first use;
//! - `test`: the project's test command (prerequisites, `deps`, `cargo test --workspace
//!   --all-features`, `check-backends`).
//!
//! Schemas and checks come from the real binary (`cargo run -p atlas-sandbox --all-features --
//! ...`) so this crate stays small and quick to build.

// xtask drives cargo, apt-get, dockerd and npm; the workspace's "only the SDK spawns" rule is
// about sandboxed commands, not build tooling.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

mod deps;

/// Every backend id the project knows (mirror of `atlas_sandbox::registry::KNOWN_BACKENDS`;
/// `crates/atlas-sandbox/tests/drift.rs` keeps the two in step).
// One line, as the drift test reads it.
#[rustfmt::skip]
const BACKENDS: &[&str] = &["vercel", "e2b", "daytona", "jail", "nsjail", "sidecar", "just-bash"];

const USAGE: &str = "usage: cargo xtask <task>
  schemas [--check]                      regenerate config/schemas/*.json and docs/openapi.json (--check: fail if stale)
  check-backends [--live] [--config FILE] check every existing backend (and its health with --live)
  deps                                   unused dependencies (cargo shear), bans/licenses/sources (cargo deny)
  test                                   prerequisites, deps, cargo test --workspace --all-features, check-backends";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("schemas") => schemas(&args[1..]),
        Some("check-backends") => check_backends(&args[1..]),
        Some("deps") => deps::check(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Set by `cargo xtask test`: a one-shot run gains nothing from incremental caches, which would
/// otherwise double the disk a fresh clone needs.
static ONE_SHOT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    if ONE_SHOT.load(std::sync::atomic::Ordering::Relaxed)
        && std::env::var_os("CARGO_INCREMENTAL").is_none()
    {
        c.env("CARGO_INCREMENTAL", "0");
    }
    c
}

/// Free space where the build goes, as `df` prints it; printed before and after the test run so a
/// full disk is diagnosed from the log rather than from a linker error.
fn disk_report(when: &str) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let dir = if target.exists() { target } else { root() };
    match Command::new("df").args(["-Pk"]).arg(&dir).output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let avail_kib = text
                .lines()
                .nth(1)
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<u64>().ok());
            let used = dir_size(&dir.join("debug"));
            match avail_kib {
                Some(kib) => {
                    println!(
                        "disk {when}: {:.1} GiB free at {}, target/debug {:.1} GiB",
                        kib as f64 / 1_048_576.0,
                        dir.display(),
                        used as f64 / 1_073_741_824.0
                    );
                    // A fresh build of the workspace and its tests took 5.4 GiB of target/debug (a
                    // fresh-clone rehearsal on 2026-12-03, with the server, the jail and the MCP clients).
                    if when == "before" && kib < 7 * 1_048_576 {
                        loud(&format!(
                            "only {:.1} GiB free for the build; a fresh test build needs about 7 GiB (5.4 GiB of target/debug when measured)",
                            kib as f64 / 1_048_576.0
                        ));
                    }
                }
                None => println!("disk {when}: cannot read `df` output"),
            }
        }
        _ => println!("disk {when}: `df` unavailable"),
    }
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

/// `cargo run -q -p atlas-sandbox --all-features -- <args>`: (exit ok, stdout, stderr).
fn host(args: &[&str]) -> Result<(bool, String, String)> {
    let out = cargo()
        .args(["run", "-q", "-p", "atlas-sandbox", "--all-features", "--"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running cargo run -p atlas-sandbox")?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn host_ok(args: &[&str]) -> Result<String> {
    let (ok, stdout, stderr) = host(args)?;
    if !ok {
        bail!("atlas-sandbox {} failed:\n{stderr}", args.join(" "));
    }
    Ok(stdout)
}

fn existing_backends() -> Vec<&'static str> {
    BACKENDS
        .iter()
        .copied()
        .filter(|id| {
            root()
                .join(format!("crates/atlas-sandbox-{id}/Cargo.toml"))
                .is_file()
        })
        .collect()
}

/// The generated schema files: `(file name, contents)`.
fn generate_schemas() -> Result<Vec<(String, String)>> {
    let ids = host_ok(&["schema", "--list"])?;
    let mut out = vec![("atlas.schema.json".to_owned(), host_ok(&["schema"])?)];
    for id in ids.lines().map(str::trim).filter(|l| !l.is_empty()) {
        out.push((format!("{id}.schema.json"), host_ok(&["schema", id])?));
    }
    Ok(out)
}

/// Compares the committed schema files with freshly generated ones; returns the stale names.
fn stale_schemas(generated: &[(String, String)]) -> Vec<String> {
    let dir = root().join("config/schemas");
    let mut stale: Vec<String> = generated
        .iter()
        .filter(|(name, text)| {
            std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(text)
        })
        .map(|(n, _)| n.clone())
        .collect();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".schema.json") && !generated.iter().any(|(n, _)| *n == name) {
                stale.push(format!("{name} (no backend generates it any more)"));
            }
        }
    }
    stale
}

fn schemas(args: &[String]) -> Result<bool> {
    let check = match args {
        [] => false,
        [a] if a == "--check" => true,
        _ => bail!("usage: cargo xtask schemas [--check]"),
    };
    let generated = generate_schemas()?;
    let stale = stale_schemas(&generated);
    if check {
        if stale.is_empty() {
            println!("schemas are current ({} files)", generated.len());
            return Ok(true);
        }
        eprintln!(
            "stale schema files in config/schemas: {}\nrun `cargo xtask schemas`",
            stale.join(", ")
        );
        return Ok(false);
    }
    let dir = root().join("config/schemas");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in &generated {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            println!("wrote config/schemas/{name}");
        }
    }
    let openapi = root().join("docs/openapi.json");
    let text = host_ok(&["schema", "openapi"])?;
    if std::fs::read_to_string(&openapi).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&openapi, text).with_context(|| format!("writing {}", openapi.display()))?;
        println!("wrote docs/openapi.json");
    }
    println!("schemas are current ({} files)", generated.len());
    Ok(true)
}

struct Row {
    backend: String,
    check: String,
    ok: bool,
    detail: String,
}

fn check_backends(args: &[String]) -> Result<bool> {
    let mut live = false;
    let mut config = "config/atlas.toml".to_owned();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--live" => live = true,
            "--config" => {
                config = it.next().cloned().context("--config needs a FILE")?;
            }
            other => bail!(
                "unknown argument {other}; usage: cargo xtask check-backends [--live] [--config FILE]"
            ),
        }
    }
    let root = root();
    let mut rows: Vec<Row> = Vec::new();
    let host_manifest =
        std::fs::read_to_string(root.join("crates/atlas-sandbox/Cargo.toml")).unwrap_or_default();
    let registry = std::fs::read_to_string(root.join("crates/atlas-sandbox/src/registry.rs"))
        .unwrap_or_default();

    let backends = existing_backends();
    for id in &backends {
        let krate = format!("atlas_sandbox_{}", id.replace('-', "_"));
        let registered = host_manifest
            .contains(&format!("\"{id}\" = [\"dep:atlas-sandbox-{id}\"]"))
            || host_manifest.contains(&format!("{id} = [\"dep:atlas-sandbox-{id}\"]"));
        let in_registry = registry.contains(&format!("{krate}::descriptor()"));
        rows.push(Row {
            backend: id.to_string(),
            check: "registered".into(),
            ok: registered && in_registry,
            detail: match (registered, in_registry) {
                (true, true) => "feature + registry.rs line".into(),
                (false, _) => format!("no `{id} = [\"dep:atlas-sandbox-{id}\"]` feature in crates/atlas-sandbox/Cargo.toml"),
                (_, false) => format!("no `{krate}::descriptor()` line in crates/atlas-sandbox/src/registry.rs"),
            },
        });
        let doc = root.join(format!("docs/backends/{id}.md"));
        rows.push(Row {
            backend: id.to_string(),
            check: "docs page".into(),
            ok: doc.is_file(),
            detail: format!("docs/backends/{id}.md"),
        });
        if !(registered && in_registry) {
            continue;
        }
        let t0 = Instant::now();
        let out = cargo()
            .args([
                "clippy",
                "-q",
                "-p",
                "atlas-sandbox",
                "--no-default-features",
                "--features",
                id,
                "--",
                "-D",
                "warnings",
            ])
            .stdin(Stdio::null())
            .output()
            .context("running cargo clippy")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        rows.push(Row {
            backend: id.to_string(),
            check: "builds alone, clippy clean".into(),
            ok: out.status.success(),
            detail: if out.status.success() {
                format!("{:.0}s", t0.elapsed().as_secs_f64())
            } else {
                eprintln!("--- clippy --features {id} ---\n{stderr}");
                first_error(&stderr)
            },
        });
    }

    let generated = generate_schemas();
    match &generated {
        Ok(g) => {
            let stale = stale_schemas(g);
            for id in backends
                .iter()
                .map(|s| s.to_string())
                .chain(["atlas".to_owned()])
            {
                let name = format!("{id}.schema.json");
                if !g.iter().any(|(n, _)| *n == name) {
                    continue;
                }
                let is_stale = stale.iter().any(|s| s.starts_with(&name));
                rows.push(Row {
                    backend: if id == "atlas" {
                        "(all)".into()
                    } else {
                        id.clone()
                    },
                    check: "schema current".into(),
                    ok: !is_stale,
                    detail: if is_stale {
                        format!("config/schemas/{name} is stale: run `cargo xtask schemas`")
                    } else {
                        format!("config/schemas/{name}")
                    },
                });
            }
        }
        Err(e) => rows.push(Row {
            backend: "(all)".into(),
            check: "schema current".into(),
            ok: false,
            detail: format!("{e:#}"),
        }),
    }

    let (ok, stdout, stderr) = host(&["check", "--config", &config])?;
    rows.push(Row {
        backend: "(all)".into(),
        check: format!("{config} validates"),
        ok,
        detail: if ok {
            stdout.trim().to_owned()
        } else {
            format!("{}{}", stdout.trim(), stderr.trim())
        },
    });

    if live {
        let (ok, stdout, stderr) = host(&["backends", "--json", "--config", &config])?;
        if !ok {
            rows.push(Row {
                backend: "(all)".into(),
                check: "health (live)".into(),
                ok: false,
                detail: stderr.trim().to_owned(),
            });
        } else {
            let report: serde_json::Value =
                serde_json::from_str(&stdout).context("parsing atlas-sandbox backends --json")?;
            for b in report["backends"].as_array().into_iter().flatten() {
                if b["configured"] != true || b["enabled"] != true {
                    continue;
                }
                let h = &b["health"];
                rows.push(Row {
                    backend: b["id"].as_str().unwrap_or("?").to_owned(),
                    check: "health (live)".into(),
                    ok: h["healthy"] == true,
                    detail: format!(
                        "{} ({:.0} ms)",
                        h["message"].as_str().unwrap_or("no result"),
                        h["latency_ms"].as_f64().unwrap_or(0.0)
                    ),
                });
            }
        }
    }

    println!("{:<10} {:<28} {:<6} DETAIL", "BACKEND", "CHECK", "RESULT");
    for r in &rows {
        println!(
            "{:<10} {:<28} {:<6} {}",
            r.backend,
            r.check,
            if r.ok { "ok" } else { "FAIL" },
            // A failed cargo run's first `error` line says more than its first line.
            r.detail
                .lines()
                .find(|l| l.trim_start().starts_with("error"))
                .or_else(|| r.detail.lines().next())
                .unwrap_or("")
        );
    }
    let failed = rows.iter().filter(|r| !r.ok).count();
    if backends.is_empty() {
        println!("no backend crate exists yet (crates/atlas-sandbox-<id>)");
    }
    if failed > 0 {
        println!("{failed} check(s) failed");
    }
    Ok(failed == 0)
}

fn first_error(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or("failed (see above)")
        .to_owned()
}

fn loud(msg: &str) {
    eprintln!("!!! PREREQUISITE MISSING: {msg}");
}

fn docker_ok() -> bool {
    Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run_status(cmd: &mut Command) -> bool {
    cmd.status().is_ok_and(|s| s.success())
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The GNU tools the shell corpus was recorded with (docs/testing.md): the process backends
/// (jail, nsjail, sidecar) run the host's own, so a machine with mawk and no tree would fail their
/// corpus tests for a reason that is not ours.
fn corpus_tools() {
    const TOOLS: &[(&str, &str)] = &[
        ("gawk", "gawk"),
        ("tree", "tree"),
        ("jq", "jq"),
        ("yq", "yq"),
        ("bc", "bc"),
        ("xxd", "xxd"),
        ("column", "bsdextrautils"),
    ];
    let missing: Vec<&str> = TOOLS
        .iter()
        .filter(|(program, _)| !have(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        println!("corpus tools: present");
        return;
    }
    if !is_root() {
        loud(&format!(
            "corpus tools missing and not root ({}); the process backends' corpus tests may differ",
            missing.join(" ")
        ));
        return;
    }
    println!("corpus tools: installing {}", missing.join(" "));
    let ok = run_status(Command::new("apt-get").arg("update").stdout(Stdio::null()))
        && run_status(
            Command::new("apt-get")
                .args(["install", "-y"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null()),
        );
    if !ok {
        loud(&format!(
            "apt-get install -y {} failed; the process backends' corpus tests may differ",
            missing.join(" ")
        ));
    }
}

fn prerequisites() {
    corpus_tools();
    // The sidecar's test image is FROM scratch with a static busybox (no registry here).
    let busybox = std::path::Path::new("/bin/busybox").exists();
    if !busybox && is_root() {
        println!("busybox: missing; installing busybox-static");
        let ok = run_status(Command::new("apt-get").arg("update").stdout(Stdio::null()))
            && run_status(
                Command::new("apt-get")
                    .args(["install", "-y", "busybox-static"])
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .stdout(Stdio::null()),
            );
        if !ok {
            loud(
                "apt-get install -y busybox-static failed; sidecar container tests will be skipped",
            );
        }
    } else if !busybox {
        loud("/bin/busybox missing and not root; sidecar container tests will be skipped");
    }
    if docker_ok() {
        println!("docker: available");
    } else if is_root() {
        if !have("dockerd") {
            println!("docker: not running; installing docker.io");
            let updated = run_status(Command::new("apt-get").arg("update").stdout(Stdio::null()));
            let installed = updated
                && run_status(
                    Command::new("apt-get")
                        .args(["install", "-y", "docker.io"])
                        .env("DEBIAN_FRONTEND", "noninteractive")
                        .stdout(Stdio::null()),
                );
            if !installed {
                loud("apt-get install -y docker.io failed; Docker tests will be skipped");
            }
        }
        if have("dockerd") {
            // dockerd keeps running after xtask exits, on purpose: later test runs reuse it.
            let log = std::fs::File::create(std::env::temp_dir().join("xtask-dockerd.log"));
            let mut cmd = Command::new("dockerd");
            cmd.stdin(Stdio::null());
            match log.and_then(|f| Ok((f.try_clone()?, f))) {
                Ok((a, b)) => {
                    cmd.stdout(a).stderr(b);
                }
                Err(_) => {
                    cmd.stdout(Stdio::null()).stderr(Stdio::null());
                }
            }
            match cmd.spawn() {
                Ok(_) => {
                    let t0 = Instant::now();
                    while t0.elapsed() < Duration::from_secs(30) && !docker_ok() {
                        std::thread::sleep(Duration::from_millis(500));
                    }
                    if docker_ok() {
                        println!("docker: started dockerd");
                    } else {
                        loud(
                            "dockerd did not answer `docker info` within 30 s (log: /tmp/xtask-dockerd.log); Docker tests will be skipped",
                        );
                    }
                }
                Err(e) => loud(&format!(
                    "cannot start dockerd: {e}; Docker tests will be skipped"
                )),
            }
        }
    } else {
        loud("docker is not running and we are not root; Docker tests will be skipped");
    }

    python_mcp_client();
    if have("node") && have("npm") {
        let tests = root().join("tests");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&tests)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("package.json").is_file() && p.join("package-lock.json").is_file())
            .collect();
        dirs.sort();
        for dir in dirs {
            println!("npm ci in {}", dir.display());
            if !run_status(Command::new("npm").arg("ci").current_dir(&dir)) {
                loud(&format!("npm ci failed in {}", dir.display()));
            }
        }
    } else {
        loud(
            "node/npm not found; tests that compare with the TypeScript reference will be skipped",
        );
    }
}

/// The official MCP Python SDK in a venv under target/, for crates/atlas-sandbox/tests/mcp_clients.rs.
fn python_mcp_client() {
    let venv = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("py-mcp");
    let python = venv.join("bin/python");
    let requirements = root().join("tests/mcp-python/requirements.txt");
    if !python.is_file() && !run_status(Command::new("python3").args(["-m", "venv"]).arg(&venv)) {
        loud("python3 -m venv failed; the MCP Python client tests will be skipped");
        return;
    }
    println!(
        "pip install -r tests/mcp-python/requirements.txt into {}",
        venv.display()
    );
    if !run_status(
        Command::new(&python)
            .args(["-m", "pip", "install", "-q", "-r"])
            .arg(&requirements),
    ) {
        loud(
            "pip install of the MCP Python SDK failed; the MCP Python client tests will be skipped",
        );
    }
}

fn test(args: &[String]) -> Result<bool> {
    if !args.is_empty() {
        bail!("usage: cargo xtask test");
    }
    ONE_SHOT.store(true, std::sync::atomic::Ordering::Relaxed);
    disk_report("before");
    prerequisites();
    println!("== cargo xtask deps");
    let deps_ok = deps::check(&[]).unwrap_or_else(|e| {
        eprintln!("deps: {e:#}");
        false
    });
    println!("== cargo test --workspace --all-features");
    let tests_ok =
        run_status(cargo().args(["test", "--workspace", "--all-features", "--no-fail-fast"]));
    println!("== cargo xtask check-backends");
    let checks_ok = check_backends(&[]).unwrap_or_else(|e| {
        eprintln!("check-backends: {e:#}");
        false
    });
    disk_report("after");
    println!(
        "== result: dependencies {}, tests {}, check-backends {}",
        if deps_ok { "ok" } else { "FAILED" },
        if tests_ok { "ok" } else { "FAILED" },
        if checks_ok { "ok" } else { "FAILED" }
    );
    Ok(deps_ok && tests_ok && checks_ok)
}
