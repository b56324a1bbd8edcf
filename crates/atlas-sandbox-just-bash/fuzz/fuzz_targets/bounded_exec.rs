//! Every input ends within its deadline and its memory budget. The first byte picks a prefix
//! that puts the rest of the input where memory is made (a doubled string, `set --`, an awk
//! program, a jq filter, a YAML document, `eval`); the exec runs with an 8 MiB budget and a
//! 200 ms deadline, and must return within the deadline plus one second, with 124 only when it
//! timed out, giving back every byte it charged.
//! Run: `cargo +nightly fuzz run bounded_exec -- -rss_limit_mb=256 -timeout=2` in
//! crates/atlas-sandbox-just-bash/fuzz (libFuzzer's own per-input RSS and time limits back
//! these up from outside).

#![no_main]

use std::time::{Duration, Instant};

use atlas_sandbox_just_bash::{Engine, JustBashConfig, memory};
use libfuzzer_sys::fuzz_target;

const PREFIXES: &[&str] = &[
    "",
    "s=x; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do s=$s$s; done; ",
    "set -- a b c; set -- \"$@\" \"$@\" \"$@\"; ",
    "f(){ f \"$1$1\" \"$@\"; }; ",
    "awk '",
    "jq -n '",
    "echo '[1,2,3,[4,5,{\"a\":\"xyz\"}]]' | jq -c '",
    "printf 'a: &a [x, y]\\nb: [*a, *a]\\n' | yq -c '",
    "eval '",
    "echo a b c | awk '{",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let prefix = PREFIXES[pick as usize % PREFIXES.len()];
    let mut script = String::from(prefix);
    script.push_str(&String::from_utf8_lossy(rest));
    if prefix.ends_with('\'') {
        script.push('\'');
    } else if prefix.ends_with('{') {
        script.push_str("}'");
    }
    let mut config = JustBashConfig::default();
    config.limits.max_exec_memory_bytes = 8 << 20;
    config.limits.max_output_bytes = 1 << 16;
    config.limits.max_memory_bytes = 1 << 20;
    let Ok(engine) = Engine::new(None, &config) else {
        return;
    };
    let before = memory::process_used();
    let start = Instant::now();
    let deadline = Duration::from_millis(200);
    if let Ok(out) = engine.exec_script(&script, "", deadline, 1 << 16) {
        assert!(start.elapsed() <= deadline + Duration::from_secs(1), "past the deadline");
        assert!(out.exit_code != 124 || out.timed_out, "124 without timed_out");
    }
    drop(engine);
    assert_eq!(memory::process_used(), before, "bytes left charged");
});
