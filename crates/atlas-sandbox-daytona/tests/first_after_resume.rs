//! The first command after a resume runs through `process/execute` (one round trip after the
//! start) while the first shell session opens beside it; the second uses that session. The two
//! paths must give the same result for the same command: each case runs first on a freshly
//! resumed sandbox (the execute path), then again on the same handle (the session path), and
//! the outputs are compared.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use atlas_sandbox_daytona::{DaytonaConfig, DaytonaPlugin};
use atlas_sandbox_sdk::{
    ExecOutput, ExecRequest, HumanDuration, SandboxPlugin, Secret, SemanticLayer,
};

use common::{Env, KEY, env, plugin_with};

fn plugin(e: &Env) -> DaytonaPlugin {
    let mut c = DaytonaConfig::new(Secret::new(KEY));
    c.api_url = e.control.api_url();
    c.create_timeout = HumanDuration(Duration::from_secs(5));
    c.persistent = true;
    plugin_with(c)
}

fn layer() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("semantic");
    std::fs::create_dir_all(root.join("sub dir")).unwrap();
    std::fs::write(root.join("catalog.yml"), "name: shop\n").unwrap();
    std::fs::write(root.join("sub dir/x.txt"), "x\n").unwrap();
    (tmp, root)
}

/// A persistent sandbox, created and paused, and the means to resume it.
struct Fixture {
    e: Env,
    p: DaytonaPlugin,
    id: String,
    _t: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let e = env().await;
        let p = plugin(&e);
        let (t, root) = layer();
        let sb = p
            .persistence()
            .unwrap()
            .create_persistent(&SemanticLayer::open(&root).unwrap(), "session-f")
            .await
            .unwrap();
        let id = sb.remote_id().unwrap();
        sb.pause().await.unwrap();
        Fixture { e, p, id, _t: t }
    }

    fn count(&self, method: &str, what: &str) -> usize {
        self.e
            .kit
            .count(method, &format!("/toolbox/{}/process/{what}", self.id))
    }

    /// Resumes the sandbox and runs `req` as its first command (checked to take the execute
    /// path), then again as the second (checked to take the session path); pauses it again.
    async fn both(&self, req: ExecRequest) -> (ExecOutput, ExecOutput) {
        let sb = self
            .p
            .persistence()
            .unwrap()
            .resume(&self.id)
            .await
            .unwrap();
        let (ex, sess, exec) = (
            self.count("POST", "execute"),
            self.count("POST", "session"),
            self.count("POST", "session/atlas-"),
        );
        let first = sb.exec(req.clone()).await.unwrap();
        assert_eq!(
            self.count("POST", "execute"),
            ex + 1,
            "first: process/execute"
        );
        assert_eq!(
            self.count("POST", "session/atlas-"),
            exec,
            "first: no session exec"
        );
        // The session opened beside it (the create is `POST /process/session`).
        let created = self.count("POST", "session") - self.count("POST", "session/atlas-");
        assert_eq!(
            created,
            sess - exec + 1,
            "one session opened beside the first command"
        );
        let second = sb.exec(req).await.unwrap();
        assert_eq!(self.count("POST", "execute"), ex + 1, "second: no execute");
        assert_eq!(
            self.count("POST", "session/atlas-"),
            exec + 1,
            "second: one session exec"
        );
        let created2 = self.count("POST", "session") - self.count("POST", "session/atlas-");
        assert_eq!(
            created2, created,
            "second: the session opened beside the first"
        );
        sb.pause().await.unwrap();
        (first, second)
    }
}

fn same(a: &ExecOutput, b: &ExecOutput) {
    assert_eq!(a.stdout, b.stdout, "stdout: {a:?} / {b:?}");
    assert_eq!(a.stderr, b.stderr, "stderr: {a:?} / {b:?}");
    assert_eq!(a.exit_code, b.exit_code, "exit: {a:?} / {b:?}");
    assert_eq!(a.timed_out, b.timed_out, "{a:?} / {b:?}");
    assert_eq!(a.stdout_truncated, b.stdout_truncated, "{a:?} / {b:?}");
    assert_eq!(a.stderr_truncated, b.stderr_truncated, "{a:?} / {b:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_command_after_resume_matches_the_session_path() {
    let f = Fixture::new().await;

    // Separate streams, exact bytes (no newline added), exit code, bash.
    let (a, b) = f
        .both(ExecRequest::new(
            "printf 'out\\nno newline'; printf 'err 1\\nerr 2' >&2; [[ -n $BASH_VERSION ]] && exit 3",
        ))
        .await;
    assert_eq!(a.stdout, b"out\nno newline");
    assert_eq!(a.stderr, b"err 1\nerr 2");
    assert_eq!(a.exit_code, 3);
    same(&a, &b);

    // Binary output: every byte but NUL (the session path drops NUL, see the docs).
    let (a, b) = f
        .both(ExecRequest::new(
            "for i in $(seq 1 255); do printf \"\\\\$(printf %o $i)\"; done; printf '\\377\\200' >&2",
        ))
        .await;
    let all: Vec<u8> = (1..=255u8).collect();
    assert_eq!(a.stdout, all);
    assert_eq!(a.stderr, [0xff, 0x80]);
    same(&a, &b);
    // The execute path keeps NUL bytes.
    let (a, _) = f.both(ExecRequest::new("printf 'a\\000b'")).await;
    assert_eq!(a.stdout, b"a\0b");

    // A command that exits 124 by itself did not time out.
    let (a, b) = f.both(ExecRequest::new("echo x; exit 124")).await;
    assert_eq!((a.exit_code, a.timed_out), (124, false));
    same(&a, &b);

    // The working directory (quoted), and a missing one.
    let (a, b) = f
        .both(ExecRequest::new("pwd; cat x.txt").cwd("sub dir"))
        .await;
    assert!(a.stdout.ends_with(b"/semantic/sub dir\nx\n"), "{a:?}");
    same(&a, &b);
    let (a, b) = f.both(ExecRequest::new("pwd").cwd("missing")).await;
    assert_ne!(a.exit_code, 0, "{a:?}");
    assert!(a.stdout.is_empty() && !a.stderr.is_empty(), "{a:?}");
    assert_eq!(a.exit_code, b.exit_code);

    // [sandbox.env] as the host sends it: exports before the command.
    let (a, b) = f
        .both(ExecRequest::new(
            "export QUOTE=\"it's \\\"q\\\" \\$x\"; export REGION=\"eu\"; echo \"$REGION $QUOTE\"",
        ))
        .await;
    assert_eq!(a.stdout_str(), "eu it's \"q\" $x\n");
    same(&a, &b);

    // A command that kills its own shell.
    let (a, b) = f.both(ExecRequest::new("echo before; kill -9 $$")).await;
    assert_eq!(a.stdout, b"before\n");
    assert_eq!(a.exit_code, 137);
    assert_eq!((b.stdout.as_slice(), b.exit_code), (&b"before\n"[..], 137));
    // Both paths carry the parent shell's job notice on stderr (its text names pids and paths).
    assert!(a.stderr_str().contains("Killed"), "{a:?}");
    assert!(b.stderr_str().contains("Killed"), "{b:?}");

    // A background job holding stdout does not hold the answer until the deadline.
    let t0 = Instant::now();
    let (a, b) = f
        .both(ExecRequest::new("sleep 30 & echo done").timeout(Duration::from_secs(10)))
        .await;
    assert_eq!(a.stdout, b"done\n");
    same(&a, &b);
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());

    f.p.persistence().unwrap().delete(&f.id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_command_after_resume_times_out_and_caps_like_a_session() {
    let f = Fixture::new().await;

    // The deadline, with the partial output of both streams.
    let req = ExecRequest::new("echo partial; echo perr >&2; sleep 20; echo never")
        .timeout(Duration::from_secs(1));
    let t0 = Instant::now();
    let (a, b) = f.both(req).await;
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    assert_eq!((a.exit_code, a.timed_out), (124, true), "{a:?}");
    assert_eq!(a.stdout, b"partial\n");
    assert_eq!(a.stderr, b"perr\n");
    same(&a, &b);

    // Over the cap but under the stop: the real status, the first bytes, truncated.
    let mut req = ExecRequest::new(
        "head -c 5000 /dev/zero | tr '\\0' a; head -c 3000 /dev/zero | tr '\\0' b >&2",
    );
    req.max_output_bytes = 1000;
    let (a, b) = f.both(req).await;
    assert_eq!(a.exit_code, 0);
    assert!(a.stdout_truncated && a.stderr_truncated, "{a:?}");
    assert!(a.stdout.starts_with(&[b'a'; 1000]), "{a:?}");
    assert!(a.stderr.starts_with(&[b'b'; 1000]), "{a:?}");
    same(&a, &b);

    // Exactly at the cap: not truncated.
    let mut req = ExecRequest::new("head -c 1000 /dev/zero | tr '\\0' a");
    req.max_output_bytes = 1000;
    let (a, b) = f.both(req).await;
    assert!(!a.stdout_truncated && a.stdout.len() == 1000, "{a:?}");
    same(&a, &b);

    // Endless output is stopped in the sandbox at the overflow limit (SIGPIPE), not timed out.
    let mut req = ExecRequest::new("yes").timeout(Duration::from_secs(20));
    req.max_output_bytes = 1000;
    let t0 = Instant::now();
    let (a, b) = f.both(req).await;
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    assert_eq!((a.exit_code, a.timed_out), (141, false), "{a:?}");
    assert!(a.stdout_truncated, "{a:?}");
    same(&a, &b);

    f.p.persistence().unwrap().delete(&f.id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_to_first_result_is_two_round_trips() {
    let f = Fixture::new().await;
    f.e.kit.set_latency(Duration::from_millis(50));
    let before = f.e.kit.requests().len();
    let t0 = Instant::now();
    let sb = f.p.persistence().unwrap().resume(&f.id).await.unwrap();
    let out = sb.exec(ExecRequest::new("cat catalog.yml")).await.unwrap();
    let took = t0.elapsed();
    assert_eq!(out.stdout_str(), "name: shop\n");
    let made: Vec<String> = f.e.kit.requests()[before..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    // start, then execute and the new session side by side: 3 requests, 2 round trips.
    assert_eq!(made.len(), 3, "{made:?}");
    assert!(made[0].ends_with("/start"), "{made:?}");
    assert!(
        made[1..].iter().any(|m| m.ends_with("/process/execute")),
        "{made:?}"
    );
    assert!(
        made[1..].iter().any(|m| m.ends_with("/process/session")),
        "{made:?}"
    );
    assert!(took >= Duration::from_millis(100), "{took:?}");
    f.e.kit.set_latency(Duration::ZERO);
    // Side by side, not one after the other: with 400 ms on each of the two, the first result
    // takes about 400 ms, not 800.
    sb.pause().await.unwrap();
    let sb = f.p.persistence().unwrap().resume(&f.id).await.unwrap();
    f.e.kit
        .delay_next("/process/execute", Duration::from_millis(400));
    f.e.kit
        .delay_next("/process/session", Duration::from_millis(400));
    let t0 = Instant::now();
    let out = sb.exec(ExecRequest::new("cat catalog.yml")).await.unwrap();
    let took = t0.elapsed();
    assert_eq!(out.stdout_str(), "name: shop\n");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(750),
        "{took:?}"
    );
    // A provably unrun first command (the daemon refused the request) runs in the session.
    sb.pause().await.unwrap();
    let sb = f.p.persistence().unwrap().resume(&f.id).await.unwrap();
    f.e.kit.fail_next(
        "/process/execute",
        1,
        400,
        None,
        serde_json::json!({"statusCode": 400, "message": "bad request", "code": "BAD_REQUEST"}),
    );
    let out = sb
        .exec(ExecRequest::new("echo once >> ../count; cat ../count"))
        .await
        .unwrap();
    assert_eq!(out.stdout_str(), "once\n", "{out:?}");
    f.p.persistence().unwrap().delete(&f.id).await.unwrap();
}
