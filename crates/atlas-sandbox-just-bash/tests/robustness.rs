//! An in-CI cousin of the cargo-fuzz target: thousands of random token soups and byte strings
//! (proptest) through the parser and interpreter. None may panic; every result is bounded.
//! `PROPTEST_CASES=N` changes the count.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const TOKENS: &[&str] = &[
    "echo",
    "ls",
    "cat",
    "grep",
    "-rn",
    "find",
    ".",
    "-name",
    "'*.yml'",
    "|",
    "&&",
    "||",
    ";",
    "(",
    ")",
    "{",
    "}",
    "$(",
    "`",
    "\"",
    "'",
    "$x",
    "${x:-a}",
    "${#x}",
    "$((1+",
    "))",
    "x=1",
    "for",
    "in",
    "do",
    "done",
    "if",
    "then",
    "fi",
    "else",
    "while",
    "case",
    "esac",
    ";;",
    "<<EOF",
    "EOF",
    "<",
    ">",
    ">>",
    "2>&1",
    "/dev/null",
    "*",
    "?",
    "[a-z]",
    "{1..3}",
    "!",
    "f()",
    "local",
    "return",
    "sed",
    "s/a/b/",
    "awk",
    "'{print $1}'",
    "head",
    "-5",
    "sort",
    "-n",
    "wc",
    "-l",
    "tr",
    "a-z",
    "A-Z",
    "cut",
    "-d:",
    "-f1",
    "printf",
    "%s\\n",
    "test",
    "-f",
    "[",
    "]",
    "[[",
    "]]",
    "=~",
    "\n",
    "xargs",
    "tee",
    "/tmp/x",
    "..",
    "/",
    "../../etc/passwd",
    "$'\\x00'",
    "\\",
    "#",
    "set",
    "-e",
    "-o",
    "pipefail",
];

/// One token followed by a space or (one time in four) a newline.
fn token() -> impl Strategy<Value = String> {
    (prop::sample::select(TOKENS), prop::bool::weighted(0.25))
        .prop_map(|(t, nl)| format!("{t}{}", if nl { '\n' } else { ' ' }))
}

/// Failures are shrunk and their seeds kept in `tests/robustness.regressions` (commit it):
/// every later run replays them first.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn random_scripts_never_panic_and_stay_bounded(
        script in prop::collection::vec(token(), 1..=12).prop_map(|v| v.concat())
    ) {
        let mut config = JustBashConfig::default();
        config.limits.max_commands = 500;
        config.limits.max_loop_iterations = 500;
        let engine = Engine::new(None, &config).unwrap();
        let out = engine
            .exec_script(&script, "", Duration::from_millis(500), 1 << 16)
            .unwrap();
        prop_assert!(out.stdout.len() <= (1 << 16) + 64);
        prop_assert!((0..=255).contains(&out.exit_code), "exit {}", out.exit_code);
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(0u8..128, 0..64)) {
        let engine = Engine::new(None, &JustBashConfig::default()).unwrap();
        let script = String::from_utf8_lossy(&bytes).replace('\0', "");
        let out = engine
            .exec_script(&script, "", Duration::from_millis(500), 1 << 16)
            .unwrap();
        prop_assert!((0..=255).contains(&out.exit_code), "exit {}", out.exit_code);
    }
}
