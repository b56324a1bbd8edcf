//! Parser + interpreter must never panic, and every limit must hold, on arbitrary input.
//! Run: `cargo +nightly fuzz run parse_exec` in crates/atlas-sandbox-just-bash/fuzz.

#![no_main]

use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(script) = std::str::from_utf8(data) else {
        return;
    };
    let mut config = JustBashConfig::default();
    config.limits.max_commands = 2_000;
    config.limits.max_loop_iterations = 2_000;
    config.limits.max_output_bytes = 1 << 16;
    config.limits.max_memory_bytes = 1 << 20;
    let Ok(engine) = Engine::new(None, &config) else {
        return;
    };
    if let Ok(out) = engine.exec_script(script, "", Duration::from_millis(200), 1 << 16) {
        // The SDK cap plus its notice bound the streams.
        assert!(out.stdout.len() <= (1 << 16) + 64);
        assert!(out.stderr.len() <= (1 << 16) + 64);
    }
});
