//! The shell corpus (testkit `corpus/commands.txt`) through the warm jail against what real bash
//! printed (`corpus/bash.json`), with the layer at the same absolute path (`/semantic`). The
//! jail runs real bash, so every command must be identical.

mod common;

use atlas_sandbox_jail::JailConfig;
use atlas_sandbox_testkit::differential::{self, DiffOptions, Recording};
use atlas_sandbox_testkit::plugin_factory;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_corpus_is_identical_to_bash() {
    if common::child_role().is_some() {
        return;
    }
    let Some(plugin) = common::plugin_or_skip("shell_corpus", JailConfig::default()) else {
        return;
    };
    let recording = Recording::load().unwrap_or_else(|e| panic!("{e}"));
    let opts = DiffOptions::new()
        .semantic_root(differential::ROOT)
        .fresh_sandbox_per_case(false)
        .concurrency(4);
    let report = differential::run("jail", plugin_factory(&plugin), &recording, opts).await;
    report.assert_all_identical_except(KNOWN);
}

/// Differences from bash the jail still has, with the reason (the list may only shrink). Each
/// is the jail's own setup (`src/`), left to the jail's owners. Writes into the layer land in
/// the sandbox's overlay (`layer = "overlay"`, the default), as they landed in bash's copy.
const KNOWN: &[(&str, &str)] = &[];
