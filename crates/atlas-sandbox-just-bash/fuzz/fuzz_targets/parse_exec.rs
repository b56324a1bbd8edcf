//! Parser + interpreter must never panic, and every limit must hold, on arbitrary input.
//! Run: `cargo +nightly fuzz run parse_exec` in crates/atlas-sandbox-just-bash/fuzz.
//!
//! The example semantic layer (config/semantic) is the disk root when it exists, so file
//! commands (cat, grep -r, find, ls -R, globs) do real work instead of failing on an empty tree.

#![no_main]

use std::path::Path;
use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};
use libfuzzer_sys::fuzz_target;

const LAYER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../config/semantic");

fuzz_target!(|data: &[u8]| {
    // The API takes &str; lossy decoding keeps invalid-UTF-8 inputs useful instead of dropping them.
    let script = String::from_utf8_lossy(data);
    let mut config = JustBashConfig::default();
    config.limits.max_commands = 2_000;
    config.limits.max_loop_iterations = 2_000;
    config.limits.max_output_bytes = 1 << 16;
    config.limits.max_memory_bytes = 1 << 20;
    let root = Path::new(LAYER);
    let root = root.is_dir().then_some(root);
    let Ok(engine) = Engine::new(root, &config) else {
        return;
    };
    if let Ok(out) = engine.exec_script(&script, "", Duration::from_millis(200), 1 << 16) {
        // The SDK cap plus its notice bound the streams.
        assert!(out.stdout.len() <= (1 << 16) + 64);
        assert!(out.stderr.len() <= (1 << 16) + 64);
    }
});
