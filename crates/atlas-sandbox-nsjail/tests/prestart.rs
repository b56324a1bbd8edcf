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

    // An overlay sandbox (namespaces to join) never takes one started outside them.
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
    assert!(
        !prestart::waiting(),
        "started in no namespace, it was killed; the overlay sandbox ran its own jail"
    );
    overlay.sandbox.close().await.unwrap();
    assert!(eventually(Duration::from_secs(5), no_children).await);

    // With the overlay, the state is built ahead for the guessed layer and the sandbox over
    // that layer adopts it: one holder, the waiting nsjail runs the first command, and what it
    // writes is kept for the next, as in a sandbox that built its own state.
    let no_holders = || children_named("cat").is_empty();
    assert!(eventually(Duration::from_secs(5), no_holders).await);
    let cmd = "echo kept > /semantic/new; cat /semantic/new; ls /dev/fd/";
    let layer = common::Layer::new();
    assert!(prestart::start_for(
        &NsjailConfig::default(),
        cmd,
        Some(&layer.root)
    ));
    assert_eq!(children_named("cat").len(), 1, "the state's holder");
    let plugin = common::plugin_or_skip("prestart", NsjailConfig::default()).unwrap();
    let adopted = common::Fixture::with_layer(plugin, layer).await.unwrap();
    assert_eq!(children_named("cat").len(), 1, "adopted, not built twice");
    assert!(prestart::waiting(), "create leaves the nsjail to the exec");
    let out = adopted.run(cmd).await;
    assert!(!prestart::waiting(), "the exec took it");
    assert!(out.stdout_str().starts_with("kept\n0\n1\n2\n"), "{out:?}");
    assert_eq!(
        adopted.run(cmd).await.stdout_str(),
        out.stdout_str(),
        "as a normal run"
    );
    assert_eq!(
        adopted.run("cat /semantic/new").await.stdout_str(),
        "kept\n"
    );
    assert!(
        !adopted.layer.root.join("new").exists(),
        "the host's layer is untouched"
    );
    adopted.sandbox.close().await.unwrap();
    assert!(eventually(Duration::from_secs(5), no_holders).await);
    assert!(eventually(Duration::from_secs(5), no_children).await);

    // Built for another layer: not adopted; the sandbox builds its own, the waiting nsjail and
    // its holder are killed at the first exec, and nothing stays.
    let guessed = common::Layer::new();
    assert!(prestart::start_for(
        &NsjailConfig::default(),
        "cat catalog.yml",
        Some(&guessed.root)
    ));
    let other = common::Fixture::new("prestart", NsjailConfig::default())
        .await
        .unwrap();
    assert_eq!(children_named("cat").len(), 2, "its own holder");
    let out = other.run("cat catalog.yml").await;
    assert!(out.stdout_str().starts_with("name: shop\n"), "{out:?}");
    assert!(!prestart::waiting());
    assert!(eventually(Duration::from_secs(5), || children_named("cat").len() == 1).await);
    other.sandbox.close().await.unwrap();
    assert!(eventually(Duration::from_secs(5), no_holders).await);
    assert!(eventually(Duration::from_secs(5), no_children).await);
}

/// This process's live children called `comm` (the state's holder is a `cat`).
fn children_named(comm: &str) -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("list /proc").flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let mut rest = stat[close + 1..].split_whitespace();
        let (state, ppid) = (rest.next(), rest.next());
        if &stat[open + 1..close] == comm && ppid == Some(me.as_str()) && state != Some("Z") {
            out.push(entry.file_name().to_string_lossy().parse().unwrap_or(0));
        }
    }
    out
}
