//! The shell corpus (testkit `corpus/commands.txt`, over 1,000 commands) on just-bash against
//! what real bash printed (`corpus/bash.json`, replayed: CI needs no bash).
//!
//! Prints `N/M identical, S silently wrong` and every case that is not identical, and fails when
//! a case is worse than the committed baseline (`corpus/baseline/just-bash.txt`): identical ->
//! anything else, or anything -> silently wrong. After a fix, ratchet the baseline:
//! `ATLAS_UPDATE_BASELINE=1 cargo test -p atlas-sandbox-just-bash --test differential`

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use atlas_sandbox_just_bash::{JustBashConfig, JustBashFactory};
use atlas_sandbox_sdk::{PluginContext, PluginFactory};
use atlas_sandbox_testkit::differential::{self, DiffOptions, Recording};
use atlas_sandbox_testkit::plugin_factory;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_corpus_against_recorded_bash() {
    let recording = Recording::load().unwrap_or_else(|e| panic!("{e}"));
    // The layer sits where bash saw it, so printed paths compare as they are.
    let config = JustBashConfig {
        mount_point: differential::ROOT.to_owned(),
        ..JustBashConfig::default()
    };
    let plugin = JustBashFactory::build(config, &PluginContext::default()).unwrap();
    let report = differential::run(
        "just-bash",
        plugin_factory(plugin.as_ref()),
        &recording,
        DiffOptions::new(),
    )
    .await;
    report.check_baseline();
}
