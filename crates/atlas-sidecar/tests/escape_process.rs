//! The testkit's escape battery against the server run as a plain local process (the
//! development mode, one server per sandbox). This mode has no isolation of its own, which is why
//! the client plugin claims none: the test prints the whole table (docs/security.md) and asserts
//! the rows the server itself must hold even here. Its own test binary: the battery sets an
//! environment variable in this process (I1).
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use atlas_sandbox_sdk::{Sandbox, SemanticLayer};
use atlas_sandbox_sidecar::{SidecarConfig, SidecarPlugin};
use atlas_sandbox_testkit::Outcome;
use atlas_sandbox_testkit::escape;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_battery_against_the_server_process() {
    let factory = |layer: SemanticLayer| async move {
        if let Some(parent) = layer.root().parent() {
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711)).unwrap();
        }
        let tmp = tmp_root();
        let server = start_default(layer.root(), tmp.path());
        let mut c = SidecarConfig::new(server.url());
        c.auth_token = Some(atlas_sandbox_sdk::Secret::new(TOKEN));
        let inner = SidecarPlugin::new(c)?.sandbox();
        Ok(Box::new(Owned {
            inner,
            server: std::sync::Mutex::new((server, tmp)),
        }) as Box<dyn Sandbox>)
    };
    let opts = escape::EscapeOptions::new().timeout_slack(Duration::from_secs(2));
    let report = escape::run("sidecar (process)", factory, opts).await;
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
