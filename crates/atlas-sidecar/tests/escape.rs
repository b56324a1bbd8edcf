//! The testkit's escape battery against the server in real containers started through
//! `container::up` (one per row, as the battery asks). Its own test binary: the battery sets an
//! environment variable in this process (I1).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use atlas_sandbox_sdk::{ExecRequest, Sandbox};
use atlas_sandbox_sidecar::SidecarPlugin;
use atlas_sandbox_sidecar::container::{self, Docker};
use atlas_sandbox_testkit::escape;
use common::*;

const IMAGE: &str = "atlas-sidecar-test:escape";
/// The checklist's 100 sessions: each is a container started and removed (~0.25 s).
const T2_SESSIONS: usize = 100;

fn processes_running(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).replace('\0', " ").trim() == needle
            && process_alive(pid)
        {
            out.push(pid);
        }
    }
    out
}

/// T1: SIGKILL the server (the container's PID 1) while a command and its background job run;
/// nothing may survive on the host.
async fn t1(docker: Docker, state: PathBuf) -> Result<String, String> {
    let l = layer();
    let name = format!("atlas-sidecar-t1-{}", std::process::id());
    let cfg = container_config(IMAGE, &name, &semantic(&l), &state);
    let running = container::up(&docker, &cfg)
        .await
        .map_err(|e| e.to_string())?;
    let _guard = ContainerGuard(docker.clone(), cfg.clone());
    let sb = SidecarPlugin::new(running.plugin_config())
        .map_err(|e| e.to_string())?
        .sandbox();
    let secs = 7_000_000 + (std::process::id() % 1_000_000);
    let needle = format!("sleep {secs}");
    let cmd = format!("{needle} & {needle}; wait");
    let task = tokio::spawn(async move {
        sb.exec(ExecRequest::new(cmd).timeout(Duration::from_secs(50)))
            .await
    });
    let seen = wait_until(Duration::from_secs(10), || {
        processes_running(&needle).len() >= 2
    });
    if !seen {
        return Err(format!("the two `{needle}` never appeared on the host"));
    }
    container::kill(&docker, &cfg)
        .await
        .map_err(|e| e.to_string())?;
    let gone = wait_until(Duration::from_secs(10), || {
        processes_running(&needle).is_empty()
    });
    let answer = task.await.map_err(|e| e.to_string())?;
    if !gone {
        return Err(format!(
            "after SIGKILL of the server, {:?} still run",
            processes_running(&needle)
        ));
    }
    Ok(format!(
        "SIGKILL of the server (container PID 1) took the command and its background job with it; the client got {}",
        match answer {
            Ok(out) => format!("exit {}", out.exit_code),
            Err(e) => format!("an error ({})", e.kind()),
        }
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_battery_against_the_container() {
    let Some(docker) = docker_or_skip("escape_battery_against_the_container").await else {
        return;
    };
    build_test_image(&docker, IMAGE).await;
    let state = tempfile::tempdir().unwrap();
    let (d, s) = (docker.clone(), state.path().to_owned());
    let opts = escape::EscapeOptions::new()
        .t2_sessions(T2_SESSIONS)
        .watch_temp_dir(state.path())
        .timeout_slack(Duration::from_secs(2))
        .t1_hook(move || Box::pin(t1(d.clone(), s.clone())));
    let report = escape::run(
        "sidecar (container)",
        container_factory(docker.clone(), IMAGE, state.path().to_owned()),
        opts,
    )
    .await;
    report.print_table();
    report.assert_passed();
}
