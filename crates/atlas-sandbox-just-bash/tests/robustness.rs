//! A deterministic, in-CI cousin of the cargo-fuzz target: thousands of random token soups and
//! byte strings through the parser and interpreter. None may panic; every result is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};

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

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_scripts_never_panic_and_stay_bounded() {
    let mut config = JustBashConfig::default();
    config.limits.max_commands = 500;
    config.limits.max_loop_iterations = 500;
    let engine = Engine::new(None, &config).unwrap();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..3000 {
        let n = 1 + (rng.next() % 12) as usize;
        let mut script = String::new();
        for _ in 0..n {
            script.push_str(TOKENS[(rng.next() % TOKENS.len() as u64) as usize]);
            script.push(if rng.next().is_multiple_of(4) {
                '\n'
            } else {
                ' '
            });
        }
        let out = engine
            .exec_script(&script, "", Duration::from_millis(500), 1 << 16)
            .unwrap();
        assert!(out.stdout.len() <= (1 << 16) + 64, "{script:?}");
        assert!(
            (0..=255).contains(&out.exit_code),
            "{script:?}: {}",
            out.exit_code
        );
    }
}

#[test]
fn random_bytes_never_panic() {
    let engine = Engine::new(None, &JustBashConfig::default()).unwrap();
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..2000 {
        let len = (rng.next() % 64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() % 128) as u8).collect();
        let script = String::from_utf8_lossy(&bytes).replace('\0', "");
        let _ = engine
            .exec_script(&script, "", Duration::from_millis(500), 1 << 16)
            .unwrap();
    }
}
