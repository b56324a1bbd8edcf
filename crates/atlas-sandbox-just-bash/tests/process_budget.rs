//! The process-wide memory budget, alone in its binary: the counter is shared by every exec of
//! the process, so other tests running beside it would change what is left.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig, memory};
use atlas_sandbox_sdk::ExecOutput;

fn run_with(config: &JustBashConfig, script: &str) -> ExecOutput {
    let engine = Engine::new(None, config).unwrap();
    engine
        .exec_script(script, "", Duration::from_secs(10), 1 << 20)
        .unwrap()
}

#[test]
fn process_memory_budget_is_shared_by_every_exec() {
    let mut c = JustBashConfig::default();
    c.limits.max_exec_memory_bytes = 1 << 30;
    c.limits.max_total_memory_bytes = 4 << 20;
    let out = run_with(
        &c,
        "set -- x; for i in $(seq 30); do set -- \"$@\" \"$@\"; done",
    );
    assert_eq!(out.exit_code, 126, "{out:?}");
    assert!(
        out.stderr_str()
            .contains("increase limits.max_total_memory_bytes"),
        "{out:?}"
    );
    // Everything the exec charged went back: the same budget fits a small exec again.
    assert_eq!(memory::process_used(), 0);
    let out = run_with(&c, "s=$(printf '%1000s' x); echo ${#s}");
    assert_eq!(out.stdout, b"1000\n", "{out:?}");
}
