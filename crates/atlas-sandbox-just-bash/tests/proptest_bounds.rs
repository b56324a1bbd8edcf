//! Property test: scripts assembled from allocating and nesting constructs, with random sizes
//! and random glue, under small limits. Whatever the script, the exec returns (no panic, no
//! abort), within its deadline plus one second, with 124 only when it timed out, and gives every
//! byte it charged back to the process budget. The process's peak RSS stays under 256 MB.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::time::{Duration, Instant};

use atlas_sandbox_just_bash::{Engine, JustBashConfig, memory};
use atlas_sandbox_sdk::HumanDuration;
use proptest::prelude::*;

fn fragment() -> impl Strategy<Value = String> {
    let n = 1u32..40;
    prop_oneof![
        n.clone()
            .prop_map(|n| format!("s=x; for i in $(seq {n}); do s=$s$s; done; echo ${{#s}}")),
        n.clone().prop_map(|n| format!(
            "set -- x; for i in $(seq {n}); do set -- \"$@\" \"$@\"; done; echo $#"
        )),
        n.clone().prop_map(|n| format!(
            "f(){{ [ ${{#1}} -gt $((1<<{n})) ] && return; f \"$1$1\" \"$@\"; }}; f x"
        )),
        n.clone().prop_map(|n| format!(
            "a=(); for i in $(seq {n}); do a+=(\"${{a[@]}}\" x); done; echo ${{#a[@]}}"
        )),
        n.clone().prop_map(|n| format!(
            "awk 'BEGIN{{s=\"x\"; for(i=0;i<{n};i++) s=s s; a[1]=s; print length(s)}}'"
        )),
        n.clone()
            .prop_map(|n| format!("echo a b | awk '{{NF={}; print NF}}'", 1u64 << n.min(30))),
        n.clone()
            .prop_map(|n| format!("jq -n '\"x\" * {}' | wc -c", 1u64 << n.min(34))),
        n.clone().prop_map(|n| format!(
            "jq -n '[{}] | length'",
            vec!["(1,2,3)"; n as usize].join("|")
        )),
        n.clone().prop_map(|n| format!(
            "echo '[{}]' | jq -c '[.[] as $a | .[] as $b | $a+$b] | length'",
            vec!["1"; n as usize * 10].join(",")
        )),
        n.clone()
            .prop_map(|n| format!("eval '{}'", "case x in x) ".repeat(n as usize))),
        n.clone().prop_map(|n| format!(
            "x=$({}echo hi{})",
            "$(".repeat(n as usize),
            ")".repeat(n as usize)
        )),
        n.clone().prop_map(|n| format!(
            "printf '%{}s' x > /tmp/f; wc -c < /tmp/f",
            1u64 << n.min(24)
        )),
        n.prop_map(|n| format!(
            "yes | head -n {} | sort | uniq -c | wc -l",
            1u64 << n.min(22)
        )),
        Just("while true; do :; done".to_owned()),
    ]
}

fn script() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(fragment(), 1..4),
        prop_oneof![Just("; "), Just(" && "), Just(" | "), Just("\n")],
    )
        .prop_map(|(parts, glue)| parts.join(glue))
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        // A fixed seed: the same scripts on every run, so CI is stable.
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_b0b5),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_script_ends_bounded(script in script()) {
        let mut config = JustBashConfig::default();
        config.limits.max_exec_memory_bytes = 32 << 20;
        config.limits.deadline = HumanDuration(Duration::from_secs(1));
        let engine = Engine::new(None, &config).unwrap();
        let before = memory::process_used();
        let start = Instant::now();
        let out = engine.exec_script(&script, "", Duration::from_secs(1), 4096).unwrap();
        let took = start.elapsed();
        prop_assert!(took <= Duration::from_secs(2), "{script:?} took {took:?}");
        prop_assert!(out.exit_code != 124 || out.timed_out, "{script:?}: 124 without timed_out");
        // This is the binary's only test: every byte the exec charged is given back.
        drop(engine);
        let after = memory::process_used();
        prop_assert_eq!(after, before, "{:?}: bytes still charged", script);
        prop_assert!(vm_hwm_kib() <= 256 * 1024, "{script:?}: peak RSS {} KiB", vm_hwm_kib());
    }
}
