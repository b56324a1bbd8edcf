//! The shared contract suite (atlas-sandbox-testkit) against the nsjail backend.

mod common;

use atlas_sandbox_nsjail::{LayerMode, NsjailConfig};
use atlas_sandbox_testkit::{contract, plugin_factory};

#[tokio::test]
async fn testkit_contract_suite() {
    // The layer is bind-mounted (under the overlay too), so find/grep -r list files in the
    // host's order. The default overlay takes writes (never reaching the host); read-only
    // refuses them.
    for (layer, writes) in [(LayerMode::Overlay, true), (LayerMode::ReadOnly, false)] {
        let config = NsjailConfig {
            layer,
            ..NsjailConfig::default()
        };
        let Some(plugin) = common::plugin_or_skip("testkit_contract_suite", config) else {
            return;
        };
        // As root too: the overlay's lower layer is an idmapped clone in which the layer's
        // owner is the jail user, so changing the owner's files succeeds as in bash's copy.
        let opts = contract::ContractOptions::new()
            .semantic_root("/semantic")
            .shares_host_filesystem(true)
            .supports_writes(writes);
        let report = contract::run(
            &format!("nsjail (layer {layer:?})"),
            plugin_factory(&plugin),
            opts,
        )
        .await;
        report.print_table();
        report.assert_passed();
    }
}
