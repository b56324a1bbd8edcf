//! The shared contract suite against the E2B backend and the emulator.

mod common;

use atlas_sandbox_testkit::{contract, plugin_factory};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_suite_passes_against_the_emulator() {
    let env = common::setup(serde_json::json!({})).await;
    // The emulator runs commands in a host temporary directory, so `pwd` prints that path
    // rather than /home/user/semantic (semantic_root stays unset); writes land in the sandbox.
    let opts = contract::ContractOptions::new()
        .supports_writes(true)
        .shares_host_filesystem(false)
        .timeout_slack(std::time::Duration::from_secs(2));
    let report = contract::run("e2b", plugin_factory(&env.plugin), opts).await;
    report.print_table();
    report.assert_passed();
    env.assert_none_alive().await;
}
