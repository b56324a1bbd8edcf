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
//! `bash: line N: ` becomes `bash: ` (recorded before the sandbox named lines; the replay
//! normalises the sandbox's answer the same way).
//!
//! Replay compares byte for byte, except that commands whose output follows the directory's
//! readdir order (`find`, `grep -r` without a `sort`) compare their lines as a multiset: a fresh
//! checkout lists the same directory in a different order than the recording machine did.
//! Commands in `known_failures.txt` are printed as known divergences instead of failing.
//!
//! Each recorded case is its own test (libtest-mimic), so a failure names its command and
//! `cargo test -p atlas-sandbox-just-bash --test fixtures -- awk` runs only the awk cases.

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

/// Replays one recorded case; `Err` describes the difference.
fn replay(case: &Recorded, layer: &Path) -> Result<(), String> {
    let engine = Engine::new(Some(layer), &JustBashConfig::default()).map_err(|e| e.to_string())?;
    let got = engine
        .exec_script(&case.command, "", Duration::from_secs(10), 1 << 20)
        .map_err(|e| e.to_string())?;
    // The sandbox names lines as bash does; the recording dropped them, so the replay does too.
    let stdout = normalize(&got.stdout_str(), "/semantic");
    let stderr = normalize(&got.stderr_str(), "/semantic");
    let same_out = if case.unordered {
        sorted_lines(&stdout) == sorted_lines(&case.stdout)
    } else {
        stdout == case.stdout
    };
    if same_out && stderr == case.stderr && got.exit_code == case.exit_code {
        return Ok(());
    }
    Err(format!(
        "`{}`\n  want exit {} stdout {:?} stderr {:?}\n  got  exit {} stdout {:?} stderr {:?}",
        case.command, case.exit_code, case.stdout, case.stderr, got.exit_code, stdout, stderr
    ))
}

/// One test per recorded case (named `NNN <command>`, so `cargo test --test fixtures -- grep`
/// runs the grep cases and a failure names its command), plus one that checks every listed
/// command is recorded.
fn main() -> std::process::ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let cases = read_list("cases.txt");
    if std::env::var_os("ATLAS_RECORD_FIXTURES").is_some() {
        record(&cases);
    }
    let text = std::fs::read_to_string(dir().join("recorded.json"))
        .expect("tests/fixtures/recorded.json exists (record it with ATLAS_RECORD_FIXTURES=1)");
    let file: FixtureFile = serde_json::from_str(&text).unwrap();
    let known: BTreeSet<String> = read_list("known_failures.txt").into_iter().collect();
    let layer = atlas_sandbox_testkit::example_layer();

    let listed = cases.clone();
    let recorded: BTreeSet<String> = file.cases.iter().map(|c| c.command.clone()).collect();
    let mut trials = vec![libtest_mimic::Trial::test(
        "every listed case is recorded",
        move || {
            if listed.len() < 300 {
                return Err(format!("only {} cases listed", listed.len()).into());
            }
            let missing: Vec<&String> = listed.iter().filter(|c| !recorded.contains(*c)).collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("cases not recorded yet (re-record): {missing:?}").into())
            }
        },
    )];
    for (i, case) in file.cases.into_iter().enumerate() {
        let name = format!("{i:03} {}", case.command.replace('\n', "↵"));
        let is_known = known.contains(&case.command);
        let layer = layer.clone();
        trials.push(libtest_mimic::Trial::test(name, move || {
            match (replay(&case, &layer), is_known) {
                (Ok(()), false) => Ok(()),
                (Err(e), false) => Err(e.into()),
                (Err(_), true) => {
                    eprintln!("KNOWN DIVERGENCE: {}", case.command);
                    Ok(())
                }
                (Ok(()), true) => {
                    eprintln!(
                        "NOW PASSING (remove from known_failures.txt): {}",
                        case.command
                    );
                    Ok(())
                }
            }
        }));
    }
    libtest_mimic::run(&args, trials).exit_code()
}
