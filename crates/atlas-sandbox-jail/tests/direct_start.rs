//! The bash engine's direct start: a line of one external program and plain words runs without
//! bash in between and answers byte for byte what bash gives. Two jails over the same layer, one
//! with `direct_exec` (the default) and one without, run the same lines; the first counts the
//! lines it started itself.

mod common;

use atlas_sandbox_jail::JailConfig;
use atlas_sandbox_sdk::{ExecRequest, Sandbox};

/// The shared lines (`atlas_sandbox_testkit::direct_lines`) plus what only the jail runs: its
/// own `/tmp`, the whole environment, a `cd`.
const DIRECT_HERE: &[&str] = &["touch /tmp/x", "ls /tmp"];
const SHELL_HERE: &[&str] = &["env", "cd entities && ls"];

#[tokio::test]
async fn direct_lines_answer_as_bash_does() {
    let Some(direct) = common::plugin_or_skip("direct_start", JailConfig::default()) else {
        return;
    };
    let shell = common::plugin(JailConfig {
        direct_exec: false,
        ..JailConfig::default()
    });
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let (a, b) = (
        common::sandbox(&direct, &root).await,
        common::sandbox(&shell, &root).await,
    );
    use atlas_sandbox_testkit::direct_lines::{DIRECT, SHELL};
    let direct: Vec<&str> = DIRECT.iter().chain(DIRECT_HERE).copied().collect();
    let lines = direct.iter().chain(SHELL).chain(SHELL_HERE);
    for (i, line) in lines.enumerate() {
        let before = a.direct_starts();
        for cwd in ["", "entities"] {
            let req = || ExecRequest::new(*line).cwd(cwd);
            let (x, y) = (a.exec(req()).await.unwrap(), b.exec(req()).await.unwrap());
            assert_eq!(
                (&x.stdout, &x.stderr, x.exit_code),
                (&y.stdout, &y.stderr, y.exit_code),
                "{line:?} in {cwd:?}: direct start (left) and bash (right) differ"
            );
        }
        // A line runs direct in both working directories or in neither (a relative operand
        // missing in one is the program's error, not bash's).
        let took = a.direct_starts() - before;
        if i < direct.len() {
            assert_eq!(took, 2, "{line:?} should start without bash");
        } else {
            assert_eq!(took, 0, "{line:?} must go through bash");
        }
    }
    assert_eq!(
        b.direct_starts(),
        0,
        "direct_exec = false starts bash always"
    );
}
