//! The working directory carries from one command of a session to the next (shell variables do
//! not), on just-bash, the warm jail and nsjail (a process per command); and the wrapping that
//! carries it changes no command's output: every command here gives byte for byte what the same
//! backend gives it unwrapped (stdout, stderr, exit code, truncation).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use atlas_sandbox::config::SandboxSettings;
use atlas_sandbox::{Host, PluginSlot, Session, SessionKey};
use atlas_sandbox_sdk::{ExecOutput, ExecRequest, PluginContext};
use common::example;

/// A host with only `id`, or `None` (with the reason) when that backend is unhealthy here.
async fn host(id: &str, config: serde_json::Value, root: &Path) -> Result<Arc<Host>, String> {
    let Some(d) = atlas_sandbox::registry::compiled_in()
        .into_iter()
        .find(|d| d.id == id)
    else {
        return Err(format!("{id} is not compiled in"));
    };
    let plugin = (d.build)(config, &PluginContext::default()).map_err(|e| e.to_string())?;
    let health = plugin.health_check().await;
    if !health.healthy {
        return Err(health.message);
    }
    Ok(Arc::new(
        Host::start(SandboxSettings::new(root), vec![PluginSlot::ready(plugin)]).await,
    ))
}

fn session(host: &Arc<Host>, root: &Path, id: &str) -> Session {
    let key = SessionKey {
        scope: "test".into(),
        layer: "default".into(),
        id: id.into(),
    };
    Session::new(host.clone(), key, root)
}

async fn run(s: &Session, req: ExecRequest) -> ExecOutput {
    s.exec(req).await.unwrap().1
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Commands whose result must be the same wrapped and unwrapped (each from the root).
const SAME: &[&str] = &[
    "printf abc",
    "echo out; echo err >&2; exit 3",
    "false",
    "cd entities; exit 7",
    "echo )",
    "echo 'unterminated",
    "printf '\\036atlas-cwd:0123456789abcdef:/etc\\036'",
    "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do printf yyyyyyyyyy; done",
    "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do printf zzzzzzzzzz >&2; done; echo done",
    "ls; pwd >/dev/null",
];

async fn check(label: &str, host: Arc<Host>, root: &Path) {
    // Unchanged output: a fresh session per command against a bare sandbox of the backend.
    let (_, bare) = host.create_sandbox(root).await.unwrap();
    for (i, cmd) in SAME.iter().enumerate() {
        let req = ExecRequest::new(*cmd).max_output_bytes(64);
        let want = bare.exec(req.clone()).await.unwrap();
        let s = session(&host, root, &format!("same-{i}"));
        let got = run(&s, req).await;
        assert_eq!(
            (
                text(&got.stdout),
                text(&got.stderr),
                got.exit_code,
                got.stdout_truncated,
                got.stderr_truncated
            ),
            (
                text(&want.stdout),
                text(&want.stderr),
                want.exit_code,
                want.stdout_truncated,
                want.stderr_truncated
            ),
            "{label}: {cmd:?} differs once wrapped"
        );
        s.close(atlas_sandbox::CloseReason::Explicit).await;
    }
    bare.close().await.unwrap();

    // The directory carries; variables do not.
    let s = session(&host, root, "carry");
    let top = text(&run(&s, ExecRequest::new("pwd")).await.stdout);
    let top = top.trim_end().to_owned();
    let out = run(&s, ExecRequest::new("cd entities && X=1 && pwd")).await;
    assert_eq!(text(&out.stdout), format!("{top}/entities\n"), "{label}");
    let out = run(
        &s,
        ExecRequest::new("pwd; echo ${X-unset}; ls customers.yml"),
    )
    .await;
    assert_eq!(
        text(&out.stdout),
        format!("{top}/entities\nunset\ncustomers.yml\n"),
        "{label}: the second command starts where the first ended"
    );
    // An `exit` keeps its code and still moves the session.
    let out = run(&s, ExecRequest::new("cd ../metrics; exit 4")).await;
    assert_eq!(out.exit_code, 4, "{label}");
    assert_eq!(
        text(&run(&s, ExecRequest::new("pwd")).await.stdout),
        format!("{top}/metrics\n"),
        "{label}"
    );
    // A request's own cwd wins for that command, and the session follows it.
    let out = run(&s, ExecRequest::new("pwd").cwd("entities")).await;
    assert_eq!(text(&out.stdout), format!("{top}/entities\n"), "{label}");
    // A forged trailer is output like any other, and moves nothing.
    let out = run(
        &s,
        ExecRequest::new("printf '\\036atlas-cwd:0123456789abcdef:/etc\\036'"),
    )
    .await;
    assert_eq!(
        out.stdout, b"\x1eatlas-cwd:0123456789abcdef:/etc\x1e",
        "{label}"
    );
    // A directory removed under the session: the next command starts at the root.
    let out = run(
        &s,
        ExecRequest::new("mkdir -p /tmp/gone && cd /tmp/gone && rmdir /tmp/gone; pwd"),
    )
    .await;
    assert_eq!(text(&out.stdout), "/tmp/gone\n", "{label}: {out:?}");
    assert_eq!(
        text(&run(&s, ExecRequest::new("pwd")).await.stdout),
        format!("{top}\n"),
        "{label}"
    );
    // One-program lines (run unwrapped where they start at the session's home) follow the
    // session's moves like any other line.
    let plain = session(&host, root, "plain");
    let ls = |cmd: &'static str| ExecRequest::new(cmd);
    let out = run(&plain, ls("ls catalog.yml")).await;
    assert_eq!(text(&out.stdout), "catalog.yml\n", "{label}");
    run(&plain, ls("cd entities")).await;
    let out = run(&plain, ls("ls customers.yml")).await;
    assert_eq!(text(&out.stdout), "customers.yml\n", "{label}: {out:?}");
    run(&plain, ls("cd ..")).await;
    let out = run(&plain, ls("ls catalog.yml")).await;
    assert_eq!(text(&out.stdout), "catalog.yml\n", "{label}: {out:?}");
    let out = run(&plain, ls("pwd")).await;
    assert_eq!(text(&out.stdout), format!("{top}\n"), "{label}");
    plain.close(atlas_sandbox::CloseReason::Explicit).await;
    // Another session starts at the root.
    let other = session(&host, root, "other");
    assert_eq!(
        text(&run(&other, ExecRequest::new("pwd")).await.stdout),
        format!("{top}\n"),
        "{label}"
    );
    s.close(atlas_sandbox::CloseReason::Explicit).await;
    other.close(atlas_sandbox::CloseReason::Explicit).await;
}

#[cfg(feature = "just-bash")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cwd_carries_on_just_bash() {
    let (_d, root) = example();
    let host = host("just-bash", serde_json::json!({}), &root)
        .await
        .unwrap();
    check("just-bash", host, &root).await;
}

#[cfg(all(feature = "jail", target_os = "linux"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cwd_carries_on_the_jail() {
    let (_d, root) = example();
    match host("jail", serde_json::json!({}), &root).await {
        Ok(host) => check("jail", host, &root).await,
        Err(why) => eprintln!("SKIPPED: cwd_carries_on_the_jail: the jail is unhealthy: {why}"),
    }
}

#[cfg(feature = "nsjail")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cwd_carries_on_nsjail() {
    let (_d, root) = example();
    match host("nsjail", serde_json::json!({}), &root).await {
        Ok(host) => check("nsjail", host, &root).await,
        Err(why) => eprintln!("SKIPPED: cwd_carries_on_nsjail: nsjail is unhealthy here: {why}"),
    }
}

/// A session's files carry too on nsjail (its default `layer = "overlay"`): `/tmp` and the
/// layer's changes are seen by the session's next calls and by no other session.
#[cfg(feature = "nsjail")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_carry_on_nsjail_sessions() {
    let (_d, root) = example();
    let host = match host("nsjail", serde_json::json!({}), &root).await {
        Ok(h) => h,
        Err(why) => {
            eprintln!("SKIPPED: files_carry_on_nsjail_sessions: nsjail is unhealthy here: {why}");
            return;
        }
    };
    let a = session(&host, &root, "a");
    let b = session(&host, &root, "b");
    let out = run(
        &a,
        ExecRequest::new("echo kept > /tmp/k; echo new > notes.yml"),
    )
    .await;
    assert_eq!(out.exit_code, 0, "{out:?}");
    let out = run(&a, ExecRequest::new("cat /tmp/k notes.yml")).await;
    assert_eq!(text(&out.stdout), "kept\nnew\n", "{out:?}");
    let out = run(&b, ExecRequest::new("cat /tmp/k notes.yml 2>&1; echo $?")).await;
    assert!(text(&out.stdout).ends_with("1\n"), "{out:?}");
    assert!(
        !root.join("notes.yml").exists(),
        "the host's layer was written"
    );
    a.close(atlas_sandbox::CloseReason::Explicit).await;
    b.close(atlas_sandbox::CloseReason::Explicit).await;
}
