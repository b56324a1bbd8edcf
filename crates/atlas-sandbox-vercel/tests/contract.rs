//! The contract suite and the applicable escape rows, against the backend + the emulator.

mod common;

use atlas_sandbox_testkit::{contract, escape, plugin_factory};

/// Vercel streams output as JSON strings: bytes that are not UTF-8 cannot travel through it.
const NOT_UTF8: &str = "Vercel's ndjson log lines carry text (JSON strings): bytes that are not \
                        UTF-8 arrive as U+FFFD, on the real service as in the emulator";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_suite_against_the_emulator() {
    let s = common::setup().await;
    // `pwd` is skipped: the emulator runs commands in a host temporary directory, so it cannot
    // print /vercel/sandbox/semantic (the real path, which the request's cwd names).
    let opts = contract::ContractOptions::new()
        .supports_writes(true)
        .shares_host_filesystem(false)
        .skip("non-UTF-8 output", NOT_UTF8);
    let report = contract::run("vercel", plugin_factory(&s.plugin), opts).await;
    report.print_table();
    report.assert_passed();
    assert_eq!(s.emu.running_sessions(), 0, "close() stopped the microVM");
    assert_eq!(s.emu.sandbox_count(), 0, "close() deleted the sandbox");
}

/// The rows that exercise this client (what it uploads, the environment and timeouts it sends,
/// the output cap, opening and closing sessions). The others attack the isolation itself, which
/// is Vercel's Firecracker microVM: the emulator runs commands in a host directory and cannot
/// stand in for it, so they are declared not applicable here rather than tested against the
/// wrong thing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_rows_that_the_client_owns() {
    let s = common::setup().await;
    let vm = "isolation is Vercel's microVM; the emulator runs commands on the host";
    let mut opts = escape::EscapeOptions::new()
        .t2_sessions(100)
        .t1_covered_by("faults.rs::dropped_sandbox_is_stopped_in_the_background");
    for row in ["F2", "F4", "F5", "P1", "P2", "N1", "R1", "R2", "R5"] {
        opts = opts.not_applicable(row, vm);
    }
    opts = opts.not_applicable("R6", NOT_UTF8).not_applicable(
        "I1",
        "reading host processes' /proc/*/environ tests the microVM, which the emulator does not \
         have; what the client owns (an empty env in every command, no token in `env`) is \
         faults.rs::commands_get_no_host_environment_or_token",
    );
    let report = escape::run("vercel", plugin_factory(&s.plugin), opts).await;
    report.print_table();
    report.assert_passed();
    assert_eq!(s.emu.running_sessions(), 0, "no microVM left running");
}
