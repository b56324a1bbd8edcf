//! Recorded fixtures from real bash, replayed through the interpreter (CI needs no bash).
//!
//! `tests/fixtures/cases.txt` lists the commands (one per line, `↵` for a newline inside one, as
//! in here-documents; `#` comments). Each runs over
//! the example semantic layer (`config/semantic`). `recorded.json` holds what GNU bash +
//! coreutils printed for each: stdout, stderr, exit code.
//!
//! Record (needs `/bin/bash` and GNU coreutils/grep/findutils):
//! `ATLAS_RECORD_FIXTURES=1 cargo test -p atlas-sandbox-just-bash --test fixtures`
//! Each command runs as `bash -c` in a private copy of the layer, with a clean environment
//! (`LANG=C.UTF-8`, `TZ=UTC`), through the SDK's process runner. Two normalisations are applied
//! to what bash printed: the copy's path becomes `/semantic` (the sandbox's mount point), and
//! `bash: line N: ` becomes `bash: ` (the sandbox reports errors without line numbers).
//!
//! Replay compares byte for byte, except that commands whose output follows the directory's
//! readdir order (`find`, `grep -r` without a `sort`) compare their lines as a multiset: a fresh
//! checkout lists the same directory in a different order than the recording machine did.
//! Commands in `known_failures.txt` are printed as known divergences instead of failing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Recorded {
    command: String,
    stdout: String,
    stderr: String,
    exit_code: i32,
    unordered: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct FixtureFile {
    recorded_with: String,
    layer: String,
    cases: Vec<Recorded>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_list(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir().join(name)).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.replace('↵', "\n"))
        .collect()
}

fn is_unordered(cmd: &str) -> bool {
    let walks = cmd.contains("find ")
        || cmd
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w[0].ends_with("grep") && w[1].starts_with('-') && w[1].contains(['r', 'R']));
    walks
        && !cmd.contains("| sort")
        && !cmd.contains("| wc")
        && !cmd.contains("| head")
        && !cmd.contains("| tail")
}

fn normalize(text: &str, root: &str) -> String {
    let replaced = text.replace(root, "/semantic");
    let mut out = String::with_capacity(replaced.len());
    for line in replaced.split_inclusive('\n') {
        let rest = line
            .strip_prefix("/bin/bash: line ")
            .or_else(|| line.strip_prefix("bash: line "));
        match rest {
            Some(rest) => match rest.split_once(": ") {
                Some((n, tail)) if n.chars().all(|c| c.is_ascii_digit()) => {
                    out.push_str("bash: ");
                    out.push_str(tail);
                }
                _ => out.push_str(line),
            },
            None => out.push_str(line),
        }
    }
    out
}

fn record(cases: &[String]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let version = rt
        .block_on(atlas_sandbox_sdk::process::run(
            &atlas_sandbox_sdk::process::ProcessSpec::new("/bin/bash").arg("--version"),
        ))
        .map(|r| {
            r.output
                .stdout_str()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for cmd in cases {
        let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
        let root_str = root.to_string_lossy().into_owned();
        let mut spec = atlas_sandbox_sdk::process::ProcessSpec::new("/bin/bash")
            .arg("-c")
            .arg(cmd);
        spec.env = [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/tmp"),
            ("LANG", "C.UTF-8"),
            ("TZ", "UTC"),
            ("USER", "user"),
        ]
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
        spec.cwd = Some(root.clone());
        spec.timeout = Duration::from_secs(10);
        let r = rt
            .block_on(atlas_sandbox_sdk::process::run(&spec))
            .expect("bash runs");
        out.push(Recorded {
            command: cmd.clone(),
            stdout: normalize(&r.output.stdout_str(), &root_str),
            stderr: normalize(&r.output.stderr_str(), &root_str),
            exit_code: r.output.exit_code,
            unordered: is_unordered(cmd),
        });
    }
    let file = FixtureFile {
        recorded_with: version,
        layer: "config/semantic".to_owned(),
        cases: out,
    };
    let json = serde_json::to_string_pretty(&file).unwrap();
    std::fs::write(dir().join("recorded.json"), json + "\n").unwrap();
}

fn sorted_lines(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort_unstable();
    v
}

#[test]
fn fixtures_match_real_bash() {
    let cases = read_list("cases.txt");
    assert!(cases.len() >= 300, "only {} cases listed", cases.len());
    if std::env::var_os("ATLAS_RECORD_FIXTURES").is_some() {
        record(&cases);
    }
    let text = std::fs::read_to_string(dir().join("recorded.json"))
        .expect("tests/fixtures/recorded.json exists (record it with ATLAS_RECORD_FIXTURES=1)");
    let file: FixtureFile = serde_json::from_str(&text).unwrap();
    let recorded: BTreeSet<&str> = file.cases.iter().map(|c| c.command.as_str()).collect();
    let missing: Vec<&String> = cases
        .iter()
        .filter(|c| !recorded.contains(c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "cases not recorded yet (re-record): {missing:?}"
    );
    let known: BTreeSet<String> = read_list("known_failures.txt").into_iter().collect();
    let layer = atlas_sandbox_testkit::example_layer();
    let mut failures = Vec::new();
    let mut divergences = 0;
    let mut now_passing = Vec::new();
    for case in &file.cases {
        let engine = Engine::new(Some(&layer), &JustBashConfig::default()).unwrap();
        let got = engine
            .exec_script(&case.command, "", Duration::from_secs(10), 1 << 20)
            .unwrap();
        let stdout = got.stdout_str().into_owned();
        let stderr = got.stderr_str().into_owned();
        let same_out = if case.unordered {
            sorted_lines(&stdout) == sorted_lines(&case.stdout)
        } else {
            stdout == case.stdout
        };
        let ok = same_out && stderr == case.stderr && got.exit_code == case.exit_code;
        if known.contains(&case.command) {
            if ok {
                now_passing.push(case.command.clone());
            } else {
                divergences += 1;
                eprintln!("KNOWN DIVERGENCE: {}", case.command);
            }
            continue;
        }
        if !ok {
            failures.push(format!(
                "`{}`\n  want exit {} stdout {:?} stderr {:?}\n  got  exit {} stdout {:?} stderr {:?}",
                case.command, case.exit_code, case.stdout, case.stderr, got.exit_code, stdout, stderr
            ));
        }
    }
    for c in &now_passing {
        eprintln!("NOW PASSING (remove from known_failures.txt): {c}");
    }
    eprintln!(
        "{} fixtures: {} passed, {} known divergences, {} failed",
        file.cases.len(),
        file.cases.len() - divergences - failures.len(),
        divergences,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} fixture(s) differ from real bash:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
