//! The escape battery against the unsandboxed `sh -c` baseline. The baseline holds what a
//! private copy and the SDK's process runner give (F1, R3, R4, R6, T2) and nothing else: the
//! battery must report exactly that, which proves its checks can fail.

mod common;

use atlas_sandbox_testkit::Report;
use atlas_sandbox_testkit::escape::{self, EscapeOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn battery_reports_what_the_unsandboxed_baseline_cannot_hold() {
    let copies = tempfile::tempdir().unwrap();
    let opts = EscapeOptions::new()
        .watch_temp_dir(copies.path())
        .t1_covered_by("nothing (the baseline is not a backend)");
    let report = escape::run(
        "local-sh",
        |l| common::create(l, copies.path().to_owned()),
        opts,
    )
    .await;
    report.print_table();
    Report::print_matrix(&[&report]);

    let expect = |id: &str, want: &str| {
        let o = report
            .outcome(id)
            .unwrap_or_else(|| panic!("row {id} missing"));
        let got = o.label(report.suite);
        assert_eq!(got, want, "row {id}: {o:?}");
    };
    // Held: writes go to the private copy; the SDK runner enforces timeouts, caps and limits.
    for id in ["F1", "R3", "R4", "R6", "T2"] {
        expect(id, "held");
    }
    // Not held: the baseline reads the host's files, /proc, environment and network.
    for id in ["F2", "F3", "F4", "I1", "N1"] {
        expect(id, "FAILED");
    }
    // Not run: the probe sees the host's processes, so the destructive rows are refused.
    for id in ["P1", "R1", "R2", "R5"] {
        expect(id, "FAILED");
        let why = report.outcome(id).unwrap().detail();
        assert!(why.contains("not executed"), "{id}: {why}");
    }
    expect("T1", "not applicable");
    // P2 depends on python3/perl being present; F5 on the race's timing. Neither may pass
    // silently broken: P2 cannot fail without a terminal, F5 is printed above.
    assert!(
        !report.outcome("P2").unwrap().is_failed(),
        "{}",
        report.table()
    );
    assert!(report.failures().len() >= 9);
}

#[tokio::test]
async fn declared_rows_are_not_applicable_with_their_reason() {
    let copies = tempfile::tempdir().unwrap();
    let opts = EscapeOptions::new().t2_sessions(3).network_allowed(true);
    let opts = [
        "F1", "F2", "F3", "F4", "F5", "P1", "P2", "I1", "R1", "R2", "R3", "R4", "R5", "R6",
    ]
    .iter()
    .fold(opts, |o, id| o.not_applicable(*id, "declared by the test"));
    let report = escape::run(
        "local-sh-declared",
        |l| common::create(l, copies.path().to_owned()),
        opts,
    )
    .await;
    report.print_table();
    assert_eq!(
        report.outcome("F1").unwrap().detail(),
        "declared by the test"
    );
    assert!(report.outcome("N1").unwrap().is_skipped());
    assert!(
        report.outcome("T2").unwrap().is_passed(),
        "{}",
        report.table()
    );
}
