//! The testkit's escape battery against the server run as a plain local process (the
//! development mode, one server per sandbox). This mode has no isolation of its own, which is why
//! the client plugin claims none: the test prints the whole table (docs/security.md) and asserts
//! the rows the server itself must hold even here. Its own test binary: the battery sets an
//! environment variable in this process (I1).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use atlas_sandbox_testkit::Outcome;
use atlas_sandbox_testkit::escape;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_battery_against_the_server_process() {
    let opts = escape::EscapeOptions::new().timeout_slack(Duration::from_secs(2));
    let report = escape::run("sidecar (process)", process_sandbox, opts).await;
    report.print_table();
    // What the server guarantees without a container: the host's environment and its own token
    // stay out of commands, deadlines and caps hold, bytes are faithful, nothing leaks.
    for row in ["I1", "R3", "R4", "R6", "T2"] {
        let outcome = report.outcome(row);
        assert!(
            matches!(outcome, Some(Outcome::Passed(_))),
            "{row}: {outcome:?}"
        );
    }
}
