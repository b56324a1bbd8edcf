//! The shared contract suite (atlas-sandbox-testkit) against the nsjail backend.

mod common;

use atlas_sandbox_nsjail::NsjailConfig;
use atlas_sandbox_testkit::{contract, plugin_factory};

#[tokio::test]
async fn testkit_contract_suite() {
    let Some(plugin) = common::plugin_or_skip("testkit_contract_suite", NsjailConfig::default())
    else {
        return;
    };
    // The layer is bind-mounted, so find/grep -r list files in the host's order; writes fail.
    let opts = contract::ContractOptions::new()
        .semantic_root("/semantic")
        .shares_host_filesystem(true)
        .supports_writes(false);
    let report = contract::run("nsjail", plugin_factory(&plugin), opts).await;
    report.print_table();
    report.assert_passed();
}
