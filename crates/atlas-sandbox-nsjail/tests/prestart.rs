//! An nsjail started before the sandbox exists (`prestart`, the one-shot CLI's head start)
//! answers exactly as a normal run, is used only for the command it was started for, and never
//! outlives an exec that did not take it. One test: the prestarted nsjail is process-wide.

mod common;

use std::time::{Duration, Instant};

use atlas_sandbox_nsjail::{LayerMode, NsjailConfig, prestart};
use atlas_sandbox_sdk::{ExecRequest, Sandbox, Shell};
use common::{Fixture, eventually, nsjail_children};

fn req(cmd: &str) -> ExecRequest {
    ExecRequest::new(cmd).timeout(Duration::from_secs(10))
}

#[tokio::test]
async fn a_prestarted_nsjail_runs_only_its_command_and_never_outlives_the_exec() {
    let config = NsjailConfig {
        layer: LayerMode::ReadOnly,
        ..NsjailConfig::default()
    };
    let Some(f) = Fixture::new("prestart", config).await else {
        return;
    };
    let nsjail = f.sandbox.nsjail().to_path_buf();
    let no_children = || nsjail_children().is_empty();

    // The same answers as a normal run: output, status, cwd, descriptors.
    let cmd = "pwd; cat ../catalog.yml; ls /dev/fd/; echo err >&2; exit 7";
    let normal = f.run_req(req(cmd).cwd("entities")).await;
    prestart::start(&nsjail, Shell::Bash, cmd).unwrap();
    assert!(prestart::waiting());
    assert_eq!(nsjail_children().len(), 1, "the prestarted nsjail waits");
    let early = f.run_req(req(cmd).cwd("entities")).await;
    assert!(!prestart::waiting(), "the exec took it");
    assert_eq!(early.stdout_str(), normal.stdout_str());
    assert!(
        early
            .stdout_str()
            .starts_with("/semantic/entities\nname: shop\n")
    );
    assert_eq!(early.stderr, b"err\n");
    assert_eq!((early.exit_code, normal.exit_code), (7, 7));
    assert!(eventually(Duration::from_secs(5), no_children).await);

    // The request's timeout counts from when the config is sent, and ends it with 124.
    prestart::start(&nsjail, Shell::Bash, "sleep 30").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let out = f
        .run_req(ExecRequest::new("sleep 30").timeout(Duration::from_millis(800)))
        .await;
    assert!(out.timed_out, "{out:?}");
    assert_eq!(out.exit_code, 124);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(eventually(Duration::from_secs(5), no_children).await);

    // Another command, shell or binary: the prestarted one is killed and a normal run answers.
    for (shell, path, started_for) in [
        (Shell::Bash, nsjail.clone(), "echo prestarted"),
        (Shell::Sh, nsjail.clone(), "echo ran"),
        (
            Shell::Bash,
            std::path::PathBuf::from("/bin/true"),
            "echo ran",
        ),
    ] {
        prestart::start(&path, shell, started_for).unwrap();
        let out = f.run("echo ran").await;
        assert_eq!(
            out.stdout_str(),
            "ran\n",
            "{shell:?} {path:?} {started_for:?}"
        );
        assert!(!prestart::waiting());
        assert!(eventually(Duration::from_secs(5), no_children).await);
    }

    // Nobody takes it: `discard` kills it while it still waits for its config.
    prestart::start(&nsjail, Shell::Bash, "touch /tmp/never").unwrap();
    prestart::discard();
    assert!(eventually(Duration::from_secs(5), no_children).await);

    // An overlay sandbox (namespaces to join) never takes it.
    let overlay = Fixture::new("prestart", NsjailConfig::default())
        .await
        .expect("nsjail was found above");
    prestart::start(
        &nsjail,
        Shell::Bash,
        "echo x > /semantic/new; cat /semantic/new",
    )
    .unwrap();
    let out = overlay
        .run("echo x > /semantic/new; cat /semantic/new")
        .await;
    assert_eq!(out.stdout_str(), "x\n", "{out:?}");
    assert!(prestart::waiting(), "the overlay sandbox ran its own jail");
    prestart::discard();
    overlay.sandbox.close().await.unwrap();
    assert!(eventually(Duration::from_secs(5), no_children).await);
}
