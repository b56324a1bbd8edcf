//! The shell corpus (testkit `corpus/commands.txt`) through Daytona and its emulator (each
//! command a local process) against what real bash printed. The emulator keeps each sandbox in a
//! host directory (mapped back to `/semantic` in the output) and gives it a `/tmp` of its own
//! where the machine allows it (`atlas_emulator_kit::private_tmp_prefix`), so a committed
//! baseline (`corpus/baseline/daytona.txt`) ratchets what differs. A test binary of its own:
//! beside the escape battery (tests/emulated.rs) its processes would count as T2's leftovers.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use atlas_emulator_kit::Kit;
use atlas_sandbox_cloud::RetryPolicy;
use atlas_sandbox_daytona::{DaytonaConfig, DaytonaPlugin};
use atlas_sandbox_sdk::{HumanDuration, PluginContext, Secret};
use atlas_sandbox_testkit::differential::{DiffOptions, Recording, run};
use atlas_sandbox_testkit::plugin_factory;

const KEY: &str = "dtn_test_key_0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_corpus_against_recorded_bash() {
    let (_emu, control) = atlas_emulator_daytona::start_with_control(Kit::new()).await;
    control.set_api_key(Some(KEY));
    let mut c = DaytonaConfig::new(Secret::new(KEY));
    c.api_url = control.api_url();
    c.create_timeout = HumanDuration(Duration::from_secs(5));
    let ctx = PluginContext {
        instance_id: "test-instance".to_owned(),
        ..PluginContext::default()
    };
    let retry = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
    };
    let p = DaytonaPlugin::with_retry(c, &ctx, retry).unwrap();
    let recording = Recording::load().unwrap_or_else(|e| panic!("{e}"));
    let opts = DiffOptions::new()
        .discover_root(true)
        .fresh_sandbox_per_case(false)
        .cloud_emulator(atlas_emulator_kit::private_tmp_available().await)
        // Each Daytona command is a session exec with a log read-back: wider, to keep CI short.
        .concurrency(8);
    let report = run("daytona", plugin_factory(&p), &recording, opts).await;
    report.check_baseline();
}
