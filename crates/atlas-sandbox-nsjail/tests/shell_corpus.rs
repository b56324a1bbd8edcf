//! The shell corpus (testkit `corpus/commands.txt`) through nsjail against what real bash printed
//! (`corpus/bash.json`), with the layer at the same absolute path (`/semantic`). nsjail runs real
//! bash, so every command must be identical. `SKIPPED:` when nsjail is not installed.

mod common;

use atlas_sandbox_nsjail::NsjailConfig;
use atlas_sandbox_testkit::differential::{self, DiffOptions, Recording};
use atlas_sandbox_testkit::plugin_factory;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_corpus_is_identical_to_bash() {
    let Some(plugin) = common::plugin_or_skip("shell_corpus", NsjailConfig::default()) else {
        return;
    };
    let recording = Recording::load().unwrap_or_else(|e| panic!("{e}"));
    let opts = DiffOptions::new()
        .semantic_root(differential::ROOT)
        .fresh_sandbox_per_case(false)
        .concurrency(4);
    let report = differential::run("nsjail", plugin_factory(&plugin), &recording, opts).await;
    report.assert_all_identical_except(KNOWN);
}

/// Differences from bash this backend still has, with the reason (the list may only shrink).
/// Empty since the layer became a per-sandbox overlay: the corpus's two writes into the layer
/// now land in the sandbox's own copy, as bash's did in its.
const KNOWN: &[(&str, &str)] = &[];
