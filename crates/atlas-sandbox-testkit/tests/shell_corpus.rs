//! The shell corpus itself: large enough, covering what issue 14 names, and fully recorded.
//!
//! Re-record what real bash prints (root, Linux, bash + GNU coreutils/grep/sed/gawk/findutils,
//! jq, yq, tree, bc, xxd; see docs/testing.md):
//! `ATLAS_RECORD_CORPUS=1 cargo test -p atlas-sandbox-testkit --test shell_corpus`

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use atlas_sandbox_testkit::differential::{self, Recording};

/// What the corpus must exercise: every command, option and feature issue 14 names, each as a
/// fragment that some corpus command contains.
const REQUIRED: &[&str] = &[
    "grep -r",
    "grep -R",
    "grep -P",
    "grep -E",
    "grep -o",
    "grep -c",
    "grep -l",
    "grep -w",
    "grep -i",
    "$(<",
    "declare -a",
    "local -a",
    "read -a",
    "${a[@]}",
    "set -x",
    "type -t",
    "printenv",
    "time ",
    "paste",
    "comm",
    "column -t",
    "du ",
    "which",
    "md5sum",
    "sha256sum",
    "base64",
    "expr",
    "od ",
    "xxd",
    "bc",
    "tree",
    "cat -A",
    "cat -E",
    "cat -T",
    "cat -v",
    "ls -t",
    "stat",
    "-newer",
    "-mtime",
    "-printf",
    ",+",
    "sed -n 'n;p'",
    "1~2p",
    "seq -w",
    "wc ",
    "awk '/[\\[\\]]/'",
    "[\\t ]",
    "-F'[\\\\[\\\\]]'",
    "print > \"/tmp",
    "getline",
    "@tsv",
    "@csv",
    "@sh",
    "@base64",
    "jq -e",
    "printf '%#x",
    "printf '%.5x",
    "printf '%u",
    "printf -v",
    "break",
    "continue",
    "break 2",
    "extglob",
    "mapfile",
    "readarray",
    "declare -p",
    "getopts",
    "<(",
    ">(",
    "exec 3<",
    "3>&1",
    "${u:-a:b:c}",
    "unset -f",
    "[ -d \"\" ]",
    "-ot",
    "[ -c",
    "$_",
    "declare -i",
    "${d-default}",
    "${unset_var:?",
    "./r.sh",
    "set -o pipefail",
    "<<<",
    "[[",
    "missing.yml",
    "--bogus",
    "nomatch",
    "yq ",
    "xargs",
    "find ",
    "sort",
    "uniq",
    "cut ",
    "tr ",
    "head",
    "tail",
    "ls",
    "cat ",
];

#[test]
fn corpus_is_large_grouped_and_covers_the_issue() {
    let corpus = differential::load_corpus();
    assert!(corpus.len() >= 1000, "only {} commands", corpus.len());
    let groups: std::collections::BTreeSet<&str> =
        corpus.iter().map(|c| c.group.as_str()).collect();
    assert!(groups.len() >= 40, "only {} groups", groups.len());
    let missing: Vec<&&str> = REQUIRED
        .iter()
        .filter(|f| !corpus.iter().any(|c| c.command.contains(**f)))
        .collect();
    assert!(missing.is_empty(), "no corpus command contains {missing:?}");
    for c in &corpus {
        assert!(
            differential::script(&c.command).chars().count() < atlas_sandbox_sdk::MAX_COMMAND_CHARS,
            "too long for an ExecRequest: {}",
            c.command
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_command_is_recorded() {
    let corpus = differential::load_corpus();
    if std::env::var_os("ATLAS_RECORD_CORPUS").is_some() {
        let recording = differential::record_bash(&corpus)
            .await
            .unwrap_or_else(|e| panic!("recording failed: {e}"));
        let path = differential::corpus_dir().join("bash.json");
        let json = serde_json::to_string_pretty(&recording).unwrap();
        std::fs::write(&path, json + "\n").unwrap();
        eprintln!(
            "recorded {} commands to {}",
            recording.cases.len(),
            path.display()
        );
    }
    let recording = Recording::load().unwrap_or_else(|e| panic!("{e}"));
    let (missing, stale) = recording.mismatch(&corpus);
    assert!(
        missing.is_empty() && stale.is_empty(),
        "bash.json is out of date (re-record with ATLAS_RECORD_CORPUS=1): {} not recorded {:?}, {} no longer listed {:?}",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        stale.len(),
        stale.iter().take(5).collect::<Vec<_>>()
    );
    assert_eq!(recording.root, differential::ROOT);
    assert_eq!(recording.prologue, differential::PROLOGUE);
}
