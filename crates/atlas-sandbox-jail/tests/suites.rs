//! The testkit's contract suite (with the default overlay layer and with `layer = "read-only"`)
//! and escape battery against the warm jail, as the current user and (when that is root) again
//! as an unprivileged user in a re-run of this binary. Its own binary: the battery sets an
//! environment canary and compares the process table.

mod common;

use std::time::Duration;

use atlas_sandbox_jail::{JailConfig, LayerMode};
use atlas_sandbox_testkit::{contract, escape, plugin_factory};

async fn run_suites(who: &str) {
    let Some(plugin) = common::plugin_or_skip("suites", JailConfig::default()) else {
        return;
    };
    // The default layer is an overlay: writes succeed there and never reach the host.
    let opts = contract::ContractOptions::new()
        .semantic_root("/semantic")
        .shares_host_filesystem(true)
        .supports_writes(true);
    let contract = contract::run(&format!("jail ({who})"), plugin_factory(&plugin), opts).await;
    let read_only = common::plugin(JailConfig {
        layer: LayerMode::ReadOnly,
        ..JailConfig::default()
    });
    let opts = contract::ContractOptions::new()
        .semantic_root("/semantic")
        .shares_host_filesystem(true)
        .supports_writes(false);
    let contract_ro = contract::run(
        &format!("jail, layer = \"read-only\" ({who})"),
        plugin_factory(&read_only),
        opts,
    )
    .await;
    let host_config =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/atlas.toml");
    let opts = escape::EscapeOptions::new()
        .host_config_path(host_config)
        .timeout_slack(Duration::from_secs(1))
        .t1_covered_by(
            "tests/lifecycle.rs: t1_killing_the_host_kills_the_jail (as root and unprivileged)",
        );
    let escape = escape::run(&format!("jail ({who})"), plugin_factory(&plugin), opts).await;
    contract.print_table();
    contract_ro.print_table();
    escape.print_table();
    contract.assert_passed();
    contract_ro.assert_passed();
    escape.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suites() {
    match common::child_role().as_deref() {
        Some("unprivileged") => return run_suites("unprivileged").await,
        Some(_) => return,
        None => {}
    }
    let me = if common::is_root() {
        "root"
    } else {
        "unprivileged"
    };
    run_suites(me).await;
}

#[test]
fn suites_unprivileged() {
    if common::child_role().is_some() {
        return;
    }
    if !common::is_root() {
        // `suites` itself ran unprivileged.
        return;
    }
    common::rerun_unprivileged("suites", "unprivileged");
}
