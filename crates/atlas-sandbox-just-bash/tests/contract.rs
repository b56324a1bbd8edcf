//! The shared contract suite and escape battery, run against this backend.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use atlas_sandbox_just_bash::{JustBashConfig, JustBashFactory};
use atlas_sandbox_sdk::{PluginContext, PluginFactory};
use atlas_sandbox_testkit::{contract, escape, plugin_factory};

fn plugin() -> Box<dyn atlas_sandbox_sdk::SandboxPlugin> {
    JustBashFactory::build(JustBashConfig::default(), &PluginContext::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_suite() {
    let plugin = plugin();
    let opts = contract::ContractOptions::new()
        .semantic_root("/semantic")
        .shares_host_filesystem(true)
        .supports_writes(true);
    let report = contract::run("just-bash", plugin_factory(plugin.as_ref()), opts).await;
    report.print_table();
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_battery() {
    // R3 checks the wall-clock deadline (exit 124). With the default limits a `while :` loop is
    // stopped earlier by max_loop_iterations (exit 126, covered in tests/limits.rs), so the
    // counting limits are lifted here to exercise the deadline path itself.
    let mut config = JustBashConfig::default();
    config.limits.max_loop_iterations = u64::MAX;
    config.limits.max_commands = u64::MAX;
    let plugin = JustBashFactory::build(config, &PluginContext::default()).unwrap();
    let opts = escape::EscapeOptions::new()
        .not_applicable("P1", "no process exists: setuid binaries, unshare, mount, ptrace and kill are not commands of this interpreter")
        .not_applicable("P2", "no tty and no ioctl: the interpreter has no terminal to inject into")
        .not_applicable("N1", "no network command exists (no curl, no /dev/tcp); the backend does not claim OS-level network isolation beyond that")
        .not_applicable("R1", "no fork: functions recursing are stopped by max_call_depth (see tests/limits.rs)")
        .not_applicable("R2", "the memory layer is capped by max_memory_bytes and strings by max_string_length (see tests/limits.rs)")
        .not_applicable("T1", "no child process exists to orphan: everything runs in the host process")
        .t2_sessions(100);
    let report = escape::run("just-bash", plugin_factory(plugin.as_ref()), opts).await;
    report.print_table();
    report.assert_passed();
}
