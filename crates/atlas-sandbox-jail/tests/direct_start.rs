//! The bash engine's direct start: a line of one external program and plain words runs without
//! bash in between and answers byte for byte what bash gives. Two jails over the same layer, one
//! with `direct_exec` (the default) and one without, run the same lines; the first counts the
//! lines it started itself.

mod common;

use atlas_sandbox_jail::JailConfig;
use atlas_sandbox_sdk::{ExecRequest, Sandbox};

/// Lines the direct start takes (bash would exec their program in place of itself).
const DIRECT: &[&str] = &[
    "cat catalog.yml",
    "cat  entities/orders.yml\tcatalog.yml",
    "cat missing.yml",
    "grep -rn customer_id .",
    "grep -c name catalog.yml entities/orders.yml",
    "grep -q nothing-like-this catalog.yml",
    "ls",
    "ls -la entities",
    "ls -R",
    "wc -l catalog.yml entities/customers.yml",
    "head -n 1 catalog.yml",
    "find . -name orders.yml",
    "sort -r catalog.yml",
    "stat -c %n:%s catalog.yml",
    "cat /proc/self/cmdline",
    "id -u",
    "date -d @0 +%F",
    "ls --no-such-option",
    "nice -n 1 cat catalog.yml",
    "tr a b",
    "cat",
    "touch /tmp/x",
    "ls /tmp",
];

/// Lines bash keeps: builtins, shell syntax, a missing program, the environment.
const SHELL: &[&str] = &[
    "true",
    "echo hi",
    "pwd",
    "nosuchcommand-x a",
    "cat catalog.yml | wc -l",
    "printenv SHLVL",
    "env",
    "X=1 cat catalog.yml",
    "cat *.yml",
    "cd entities && ls",
];

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
    for (i, line) in DIRECT.iter().chain(SHELL).enumerate() {
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
        if i < DIRECT.len() {
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
