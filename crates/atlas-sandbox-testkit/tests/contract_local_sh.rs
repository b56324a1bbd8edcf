//! The contract suite against the unsandboxed `sh -c` baseline: it must pass.

mod common;

use atlas_sandbox_testkit::contract::{self, ContractOptions};

#[tokio::test]
async fn contract_suite_passes_against_local_sh() {
    let copies = tempfile::tempdir().unwrap();
    let opts = ContractOptions::new()
        // Each sandbox is a copy in a fresh temporary directory.
        .shares_host_filesystem(false)
        .supports_writes(true);
    let report = contract::run(
        "local-sh",
        |l| common::create(l, copies.path().to_owned()),
        opts,
    )
    .await;
    report.print_table();
    report.assert_passed();
    let (passed, failed, skipped) = report.counts();
    assert_eq!(failed, 0);
    assert!(passed >= 30, "only {passed} cases passed");
    // Only `pwd` is skipped: the baseline's root is a different temp dir per sandbox.
    assert_eq!(skipped, 1, "{}", report.table());
}

#[tokio::test]
async fn contract_suite_catches_a_wrong_backend() {
    let copies = tempfile::tempdir().unwrap();
    // The same baseline, but claiming to be read-only and rooted at /semantic: the suite must
    // notice both lies, so its checks can fail.
    let opts = ContractOptions::new()
        .semantic_root("/semantic")
        .supports_writes(false)
        .skip("timeout", "not under test here");
    let report = contract::run(
        "local-sh-misdeclared",
        |l| common::create(l, copies.path().to_owned()),
        opts,
    )
    .await;
    report.print_table();
    assert!(report.outcome("pwd").unwrap().is_failed());
    assert!(report.outcome("writes").unwrap().is_failed());
    assert!(report.outcome("timeout").unwrap().is_skipped());
    assert!(report.outcome("ls").unwrap().is_passed());
    let failed: Vec<&str> = report.failures().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(failed, ["pwd", "writes"], "{}", report.table());
}
