//! The shared contract suite (atlas-sandbox-testkit) against the nsjail backend.

use atlas_sandbox_nsjail::{NsjailConfig, NsjailPlugin};
use atlas_sandbox_sdk::PluginContext;
use atlas_sandbox_testkit::{contract, plugin_factory, skip};

#[tokio::test]
async fn testkit_contract_suite() {
    let plugin = NsjailPlugin::new(NsjailConfig::default(), &PluginContext::default())
        .expect("default config");
    if plugin.nsjail_binary().is_err() {
        skip(
            "testkit_contract_suite",
            "nsjail not found (set NSJAIL_PATH or put it on PATH)",
        );
        return;
    }
    // The layer is bind-mounted, so find/grep -r list files in the host's order; writes fail.
    let opts = contract::ContractOptions::new()
        .semantic_root("/semantic")
        .shares_host_filesystem(true)
        .supports_writes(false);
    let report = contract::run("nsjail", plugin_factory(&plugin), opts).await;
    report.print_table();
    report.assert_passed();
}
