//! Runs the example host binary as a user would: the outside plugin is validated, health-checked,
//! ordered by its priority (60) and selected next to the compiled-in just-bash.

// The test drives the built binary and compares with `bash -c`, as a user would.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn layer() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../config/semantic")
        .canonicalize()
        .unwrap()
}

/// Runs the host in an empty directory with `atlas.toml` = `config` and no ATLAS_ variables.
fn host(config: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("atlas.toml");
    std::fs::write(
        &file,
        // The warm jail (78, on by default on Linux) would outrank the outside plugin (60); it
        // stays out so these tests see the outside plugin against just-bash alone.
        format!(
            "[sandbox]\nsemantic_root = {:?}\n[plugins.jail]\nenabled = false\n{config}",
            layer()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atlas-bwrap-host"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ATLAS_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(dir.path())
        .arg("--config")
        .arg(&file)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn report(config: &str, env: &[(&str, &str)]) -> Value {
    let out = host(config, env, &["backends"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn backend<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id)
        .unwrap_or_else(|| panic!("{id} missing from {report:#}"))
}

fn bwrap_works() -> bool {
    Command::new("bwrap")
        .args(["--unshare-all", "--ro-bind", "/", "/", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_outside_plugin_sits_next_to_the_compiled_in_ones() {
    let r = report("[plugins.bwrap]\n", &[]);
    let b = backend(&r, "bwrap");
    assert_eq!(b["default_priority"], 60, "{b:#}");
    assert_eq!(b["priority"], 60);
    assert_eq!(b["configured"], true);
    assert_eq!(b["compiled_in"], true);
    assert_eq!(b["cargo_feature"], "atlas-sandbox-example-bwrap");
    let jb = backend(&r, "just-bash");
    if b["health"]["healthy"] == true {
        assert_eq!(
            b["selected"], true,
            "priority 60 beats just-bash's 0: {r:#}"
        );
        assert!(b["order"].as_u64() < jb["order"].as_u64());
    } else {
        // Unhealthy says why and how to fix it, and selection falls through.
        let msg = b["health"]["message"].as_str().unwrap();
        assert!(msg.contains("bwrap"), "{msg}");
        assert_eq!(jb["selected"], true, "{r:#}");
    }
}

#[test]
fn its_config_is_validated_like_any_backend() {
    let out = host("[plugins.bwrap]\nno_such_key = 1\n", &[], &["backends"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("plugins.bwrap") && err.contains("no_such_key"),
        "{err}"
    );

    // Environment overrides reach it (`ATLAS_PLUGINS__BWRAP__*`), as do priority overrides.
    let r = report(
        "[plugins.bwrap]\npriority = 7\n",
        &[("ATLAS_PLUGINS__BWRAP__BWRAP_PATH", "/nonexistent/bwrap")],
    );
    let b = backend(&r, "bwrap");
    assert_eq!(b["priority"], 7);
    assert_eq!(b["health"]["healthy"], false);
    assert!(
        b["health"]["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/bwrap"),
        "{b:#}"
    );
    assert_eq!(backend(&r, "just-bash")["selected"], true);
}

#[test]
fn it_can_be_pinned_by_id() {
    let out = host(
        "[plugins.bwrap]\nbwrap_path = \"/nonexistent/bwrap\"\n",
        &[("ATLAS_SANDBOX", "bwrap")],
        &["exec", "true"],
    );
    // A pin never falls back: the unusable plugin is named, just-bash is not used.
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bwrap") && err.contains("pinned"), "{err}");
    let out = host("", &[("ATLAS_SANDBOX", "nosuch")], &["backends"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("known backends") && err.contains("bwrap"),
        "{err}"
    );
}

#[test]
fn it_runs_commands_like_bash() {
    if !bwrap_works() {
        println!(
            "SKIPPED: it_runs_commands_like_bash: bwrap missing or user namespaces refused (apt-get install bubblewrap)"
        );
        return;
    }
    let command = "ls entities | head -3 && grep -c customer_id entities/orders.yml";
    let out = host("[plugins.bwrap]\n", &[], &["exec", command]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bash = Command::new("bash")
        .args(["-c", command])
        .current_dir(layer())
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert_eq!(got["backend"], "bwrap");
    assert_eq!(
        got["stdout"],
        String::from_utf8_lossy(&bash.stdout).as_ref()
    );
    assert_eq!(got["exit_code"], 0);
}
