//! The shared escape battery (atlas-sandbox-testkit) against the nsjail backend. Its own binary:
//! the battery sets an environment canary in this process.

mod common;

use atlas_sandbox_nsjail::NsjailConfig;
use atlas_sandbox_testkit::{escape, plugin_factory};

#[tokio::test]
async fn testkit_escape_battery() {
    let Some(plugin) = common::plugin_or_skip("testkit_escape_battery", NsjailConfig::default())
    else {
        return;
    };
    let host_config =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/atlas.toml");
    let opts = escape::EscapeOptions::new()
        .host_config_path(host_config)
        .t1_covered_by(
            "tests/escape.rs: t1_a_dropped_exec_leaves_no_jailed_process and \
         t1_killing_nsjail_kills_the_jail",
        );
    let report = escape::run("nsjail", plugin_factory(&plugin), opts).await;
    report.print_table();
    report.assert_passed();
}
