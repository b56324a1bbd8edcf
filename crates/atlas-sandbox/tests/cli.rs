//! The `atlas-sandbox` binary end to end, with a clean environment and a scratch directory.

// Running the binary under test is the point here; the spawn rule is about sandboxed commands.
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

use std::path::Path;
use std::process::{Command, Output};

use atlas_sandbox::registry::compiled_in;

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atlas-sandbox"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_reports_every_problem_with_lines_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("atlas.toml"),
        "[sandbox]\ntimeout = \"2s\"\ntimout = \"3s\"\n\n[plugins.nsjial]\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["check"],
        &[("ATLAS_SANDBOX__MAX_OUTPUT_BYTES", "lots")],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let file = dir.path().join("atlas.toml");
    assert!(
        stdout.contains(&format!(
            "sandbox.timout ({}:3): unknown key",
            file.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("plugins.nsjial") && stdout.contains("known plugins: vercel, e2b"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "sandbox.max_output_bytes = \"lots\" (environment variable \
             ATLAS_SANDBOX__MAX_OUTPUT_BYTES): expected an integer"
        ),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 3, "{stdout}");

    let out = run(dir.path(), &["check", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["problems"].as_array().unwrap().len(), 2);
}

#[test]
fn schema_prints_valid_json_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["schema"], &[]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    jsonschema::validator_for(&v).unwrap();
    for d in compiled_in() {
        let out = run(dir.path(), &["schema", d.id], &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        jsonschema::validator_for(&v).unwrap();
    }
    let out = run(dir.path(), &["schema", "nope"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown backend 'nope'"));
}

#[test]
fn exec_without_a_config_uses_the_example_layer_or_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["exec", "ls"], &[]);
    if compiled_in().iter().any(|d| d.id == "just-bash") {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            !out.stdout.is_empty(),
            "ls of the example layer printed nothing"
        );
        let out = run(dir.path(), &["exec", "exit 3"], &[]);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        let out = run(
            dir.path(),
            &["exec", "--json", "--backend", "just-bash", "echo hi"],
            &[],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["exit_code"], 0);
        assert_eq!(v["stdout"], "hi\n");
        assert_eq!(v["backend"], "just-bash");
    } else if compiled_in().is_empty() {
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("no backend compiled in: build with --features just-bash"),
            "{}",
            text(&out.stderr)
        );
    } else {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!(
                "{}\n",
                format_args!(
                    "SKIPPED: exec_without_a_config: built without just-bash but with other backends"
                )
            ),
        );
    }
}

#[test]
fn backends_lists_every_known_backend() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["backends", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    for id in [
        "vercel",
        "e2b",
        "daytona",
        "jail",
        "nsjail",
        "sidecar",
        "just-bash",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert_eq!(v["semantic_root_source"]["kind"], "example_layer");
}

/// With no config at all on Linux the warm jail is enabled and, when the kernel allows it,
/// wins selection: the README's first command runs in the jail.
#[test]
fn with_no_config_the_jail_is_enabled_and_wins() {
    if !compiled_in().iter().any(|d| d.id == "jail") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["backends", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let jail = v["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "jail")
        .unwrap()
        .clone();
    assert_eq!(jail["configured"], true, "{jail}");
    assert_eq!(jail["enabled"], true, "{jail}");
    if jail["health"]["healthy"] != true {
        eprintln!(
            "SKIPPED: with_no_config_the_jail_is_enabled_and_wins: the jail is unhealthy here: {}",
            jail["health"]["message"]
        );
        return;
    }
    assert_eq!(v["selected"], "jail", "{v}");
    let out = run(dir.path(), &["exec", "--json", "echo hi; hostname"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["backend"], "jail", "{v}");
    assert_eq!(v["stdout"], "hi\natlas-jail\n", "{v}");
}

/// A reader that went away (`atlas-sandbox … | head -1`) ends the program quietly with 141, as
/// for a Unix filter killed by SIGPIPE: no panic, no "Broken pipe" error message.
#[test]
fn a_closed_stdout_exits_141_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<Vec<&str>> = vec![vec!["schema"], vec!["schema", "--list"], vec!["check"]];
    if compiled_in().iter().any(|d| d.id == "just-bash") {
        cases.push(vec!["exec", "--backend", "just-bash", "echo hi"]);
        cases.push(vec!["exec", "--json", "--backend", "just-bash", "echo hi"]);
    }
    for args in cases {
        // The read end is closed before the child starts, so its first write fails for certain.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_atlas-sandbox"))
            .args(&args)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.to_lowercase().contains("broken pipe"),
            "{args:?}: {stderr}"
        );
    }
}
