//! The shell corpus (testkit `corpus/commands.txt`) through the E2B backend and its emulator
//! (which runs each command as a local process) against what real bash printed. The emulator
//! keeps each sandbox in a host directory (mapped back to `/semantic` in the output) and gives
//! it a `/tmp` of its own where the machine allows it (`atlas_emulator_kit::private_tmp_prefix`),
//! so a committed baseline (`corpus/baseline/e2b.txt`) ratchets what differs.

mod common;

use atlas_sandbox_testkit::differential::{DiffOptions, Recording, run};
use atlas_sandbox_testkit::plugin_factory;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_corpus_against_recorded_bash() {
    let env = common::setup(serde_json::json!({})).await;
    let recording = Recording::load().unwrap_or_else(|e| panic!("{e}"));
    let opts = DiffOptions::new()
        .discover_root(true)
        .fresh_sandbox_per_case(false)
        .cloud_emulator(atlas_emulator_kit::private_tmp_available().await)
        .concurrency(4);
    let report = run("e2b", plugin_factory(&env.plugin), &recording, opts).await;
    report.check_baseline();
}
