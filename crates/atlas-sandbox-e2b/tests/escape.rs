//! The escape rows that test this client (what it sends and copies), run against the emulator.
//! Rows that test the isolation of E2B's microVM itself cannot be observed here: the emulator
//! runs commands in a host directory, so they are declared not applicable, with the reason.

mod common;

use atlas_sandbox_testkit::{escape, plugin_factory};

const VM_ONLY: &str = "isolation of E2B's Firecracker VM; the emulator runs commands on the host, so this row would test the emulator, not the backend";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applicable_escape_rows_hold() {
    let env = common::setup(serde_json::json!({})).await;
    let opts = escape::EscapeOptions::new()
        .not_applicable("F2", VM_ONLY)
        .not_applicable("F4", VM_ONLY)
        .not_applicable("P1", VM_ONLY)
        .not_applicable("P2", VM_ONLY)
        .not_applicable(
            "I1",
            "the emulator's commands can read the host's /proc (a VM has its own); the client's part, \
             that only the constants of COMMAND_ENV are sent to the sandbox, is checked on the wire in tests/round_trips.rs",
        )
        .not_applicable("N1", VM_ONLY)
        .not_applicable("R1", VM_ONLY)
        .not_applicable("R2", VM_ONLY)
        .not_applicable("R5", VM_ONLY)
        .not_applicable(
            "T1",
            "nothing runs on the host: if the host dies, the remote VM expires at sandbox_lifetime and sweep finds it (tests/faults.rs)",
        )
        .t2_sessions(100);
    let report = escape::run("e2b", plugin_factory(&env.plugin), opts).await;
    report.print_table();
    report.assert_passed();
    env.assert_none_alive().await;
}
