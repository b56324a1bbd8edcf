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
    // The shared lines, then one that only the sidecar's environment gives.
    let lines = atlas_sandbox_testkit::direct_lines::DIRECT
        .iter()
        .chain(atlas_sandbox_testkit::direct_lines::SHELL)
        .chain(&["env -u HOME -u TMPDIR"]);
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
