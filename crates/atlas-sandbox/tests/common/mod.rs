//! What the host's session and server tests share: a copy of the example layer, session keys,
//! a command through a session table, polling until a condition holds, and a real `serve`
//! process with the CLI beside it ([`serve`]).

#![allow(dead_code, clippy::unwrap_used)] // each test binary uses a part

pub(crate) mod serve;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atlas_sandbox::{SessionKey, SessionTable};
use atlas_sandbox_sdk::ExecRequest;

/// Copies a directory tree.
pub(crate) fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A private copy of the example layer (`config/semantic`): the temp dir and the layer's root.
pub(crate) fn example() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/semantic");
    let root = dir.path().join("semantic");
    copy(&src, &root);
    (dir, root)
}

/// Session `id` of tenant `scope` on the default layer.
pub(crate) fn key_in(scope: &str, id: &str) -> SessionKey {
    SessionKey {
        scope: scope.into(),
        layer: "default".into(),
        id: id.into(),
    }
}

/// Session `id` of tenant `t` on the default layer.
pub(crate) fn key(id: &str) -> SessionKey {
    key_in("t", id)
}

/// Runs `cmd` in session `id` (tenant `t`); it must succeed. Its stdout.
pub(crate) async fn run(t: &SessionTable, root: &Path, id: &str, cmd: &str) -> String {
    let lease = t.lease(key(id), root).await.unwrap();
    let (_, out) = lease.exec(ExecRequest::new(cmd)).await.unwrap();
    assert_eq!(out.exit_code, 0, "{cmd}: {out:?}");
    out.stdout_str().into_owned()
}

/// Polls `f` every 25 ms for up to 20 s.
pub(crate) async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..800 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Polls `f` every 25 ms, blocking the thread, for up to `limit`.
pub(crate) fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}
