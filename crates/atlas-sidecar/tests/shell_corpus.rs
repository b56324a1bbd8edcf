//! The shell corpus (testkit `corpus/commands.txt`) through the sidecar server, run as a local
//! process by this crate's own binary, against what real bash printed (`corpus/bash.json`).
//!
//! Bash was recorded with the layer at `/semantic` and a private `/tmp`; the server gets the
//! same: each one starts in its own mount namespace (`unshare --mount`, so root only) where the
//! layer is bound on `/semantic` and `/tmp` is a fresh tmpfs, as in the sidecar's container.
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

mod common;

use std::process::Command;

use atlas_sandbox_sdk::{Result, Sandbox, SemanticLayer};
use atlas_sandbox_testkit::differential::{self, DiffOptions, Recording};

/// Inside the new mount namespace: the layer on `/semantic`, a fresh `/tmp`, the server's own
/// temp root on a tmpfs at `/mnt` (out of the commands' sight), then the server itself.
const LAUNCHER: &str = "set -e; mount --bind \"$1\" /semantic; \
    mount -t tmpfs -o mode=1777,size=64m tmpfs /tmp; \
    mount -t tmpfs -o mode=0777,size=64m tmpfs /mnt; shift; exec \"$@\"";

/// Differences from bash the sidecar still has, with the reason (the list may only shrink).
const KNOWN: &[(&str, &str)] = &[
    (
        "echo x > newfile.yml; cat newfile.yml; ls newfile.yml",
        "commands run as nobody and cannot write the layer; bash wrote into its copy as root",
    ),
    (
        "sed -i 's/x/y/' catalog.yml; echo \"exit=$?\"; head -1 catalog.yml",
        "commands run as nobody and cannot write the layer; bash wrote into its copy as root",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_corpus_is_identical_to_bash() {
    if !nix::unistd::geteuid().is_root() {
        atlas_sandbox_testkit::skip(
            "shell_corpus",
            "needs root for a mount namespace with the layer on /semantic (as bash was recorded)",
        );
        return;
    }
    if let Err(e) = std::fs::create_dir_all(differential::ROOT) {
        panic!("cannot create the mount point {}: {e}", differential::ROOT);
    }
    let recording = Recording::load().unwrap_or_else(|e| panic!("{e}"));
    let opts = DiffOptions::new()
        .semantic_root(differential::ROOT)
        .fresh_sandbox_per_case(false)
        .concurrency(4);
    let report = differential::run("sidecar", namespaced_sandbox, &recording, opts).await;
    report.assert_all_identical_except(KNOWN);
}

/// A server of its own over `layer`, in a mount namespace of its own.
#[allow(clippy::unused_async)] // the harness takes a factory that returns a future
async fn namespaced_sandbox(layer: SemanticLayer) -> Result<Box<dyn Sandbox>> {
    let (inner, logs, stderr_path) = common::command(
        &[
            "--listen",
            "127.0.0.1:0",
            "--semantic-root",
            differential::ROOT,
            "--tmp-dir",
            "/mnt",
        ],
        &[("SIDECAR_AUTH_TOKEN", common::TOKEN)],
    );
    let mut cmd = Command::new("/usr/bin/unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        LAUNCHER,
        "sh",
    ])
    .arg(layer.root())
    .arg(inner.get_program())
    .args(inner.get_args())
    .env_clear()
    .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))))
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::fs::File::create(&stderr_path).unwrap());
    let server = common::launch(cmd, logs, stderr_path);
    let config = common::client_config(&server.url(), Some(common::TOKEN));
    let sandbox = atlas_sandbox_sidecar::SidecarPlugin::new(config)?.sandbox();
    Ok(Box::new(common::Owned {
        inner: sandbox,
        server: std::sync::Mutex::new(server),
    }))
}
