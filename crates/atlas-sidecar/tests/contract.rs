//! The testkit's contract suite against the server as a local process and, with Docker, against
//! the server in a real container started through `container::up`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use atlas_sandbox_testkit::contract;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_against_the_server_process() {
    let opts = contract::ContractOptions::new().shares_host_filesystem(true);
    let report = contract::run("sidecar (process)", process_sandbox, opts).await;
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
