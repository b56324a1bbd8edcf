//! The testkit's contract suite against the server as a local process and, with Docker, against
//! the server in a real container started through `container::up`.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use atlas_sandbox_sdk::{Sandbox, SemanticLayer};
use atlas_sandbox_sidecar::{SidecarConfig, SidecarPlugin};
use atlas_sandbox_testkit::contract;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_against_the_server_process() {
    let factory = |layer: SemanticLayer| async move {
        // The server drops root to nobody, which must traverse the suite's private copy.
        if let Some(parent) = layer.root().parent() {
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711)).unwrap();
        }
        let tmp = tmp_root();
        let server = start_default(layer.root(), tmp.path());
        let mut c = SidecarConfig::new(server.url());
        c.auth_token = Some(atlas_sandbox_sdk::Secret::new(TOKEN));
        let inner = SidecarPlugin::new(c)?.sandbox();
        Ok(Box::new(Owned {
            inner,
            server: std::sync::Mutex::new((server, tmp)),
        }) as Box<dyn Sandbox>)
    };
    let opts = contract::ContractOptions::new().shares_host_filesystem(true);
    let report = contract::run("sidecar (process)", factory, opts).await;
    report.print_table();
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_against_the_container() {
    let Some(docker) = docker_or_skip("contract_against_the_container").await else {
        return;
    };
    const IMAGE: &str = "atlas-sidecar-test:contract";
    build_test_image(&docker, IMAGE).await;
    let state = tempfile::tempdir().unwrap();
    let opts = contract::ContractOptions::new()
        .semantic_root("/semantic")
        .shares_host_filesystem(true)
        .timeout_slack(Duration::from_secs(2));
    let report = contract::run(
        "sidecar (container)",
        container_factory(docker, IMAGE, state.path().to_owned()),
        opts,
    )
    .await;
    report.print_table();
    report.assert_passed();
}
