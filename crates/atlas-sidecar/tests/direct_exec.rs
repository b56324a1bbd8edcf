//! A one-program line run without bash answers byte for byte what bash gives: two servers over
//! the same layer, one with the direct path (the default) and one with `SIDECAR_DIRECT_EXEC=0`.
#![allow(clippy::unwrap_used)]

mod common;

use atlas_sandbox_sidecar::protocol::ExecResponse;
use common::*;
use serde_json::json;

async fn exec(server: &Server, command: &str) -> ExecResponse {
    let r = exec_request(server, Some(TOKEN), &json!({ "command": command }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{command}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn direct_lines_answer_as_bash_does() {
    let (l, t) = (layer(), tmp_root());
    let env = [
        ("SIDECAR_AUTH_TOKEN", TOKEN),
        ("RUST_LOG", "atlas_sidecar=debug"),
    ];
    let direct = start(&semantic(&l), t.path(), &[], &env);
    let shell = start(
        &semantic(&l),
        t.path(),
        &[],
        &[("SIDECAR_AUTH_TOKEN", TOKEN), ("SIDECAR_DIRECT_EXEC", "0")],
    );
    let lines = [
        // Lines the direct path takes.
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
        "cat /proc/self/cmdline",
        "stat -c %n:%s catalog.yml",
        "tr a b",
        "cat",
        "id -u",
        "date -d @0 +%F",
        "ls --no-such-option",
        "nice -n 1 cat catalog.yml",
        // Lines bash keeps: builtins, syntax, a missing program, the environment.
        "true",
        "echo hi",
        "pwd",
        "nosuchcommand-x a",
        "cat catalog.yml | wc -l",
        "printenv SHLVL",
        "env -u HOME -u TMPDIR",
        "X=1 cat catalog.yml",
        "cat *.yml",
    ];
    for line in lines {
        let (a, b) = (exec(&direct, line).await, exec(&shell, line).await);
        assert_eq!(
            (&a.stdout, &a.stderr, a.exit_code),
            (&b.stdout, &b.stderr, b.exit_code),
            "{line:?}: direct (left) and bash (right) differ"
        );
    }
    // The direct path was taken: the first line of the list ran without the shell.
    let log = direct.stderr();
    assert!(log.contains("ran without the shell"), "{log}");
    assert!(!shell.stderr().contains("ran without the shell"));
}
