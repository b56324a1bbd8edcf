//! The server in a real container started through bollard, as `atlas-sandbox sidecar up` does:
//! isolation properties, the plugin over the unix socket, and `down` cleaning up.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use atlas_sandbox_sdk::{ExecRequest, Sandbox, SandboxPlugin};
use atlas_sandbox_sidecar::SidecarPlugin;
use atlas_sandbox_sidecar::container::{self, ContainerConfig};
use common::*;

const IMAGE: &str = "atlas-sidecar-test:isolation";

async fn run(sb: &dyn Sandbox, cmd: &str) -> atlas_sandbox_sdk::ExecOutput {
    sb.exec(ExecRequest::new(cmd).timeout(Duration::from_secs(20)))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_is_locked_down() {
    let test = "container_is_locked_down";
    let Some(docker) = docker_or_skip(test).await else {
        return;
    };
    build_test_image(&docker, IMAGE).await;
    let l = layer();
    let state = tempfile::tempdir().unwrap();
    let name = format!("atlas-sidecar-test-{}", std::process::id());
    let cfg: ContainerConfig = container_config(IMAGE, &name, &semantic(&l), state.path());
    let running = container::up(&docker, &cfg).await.unwrap();
    let guard = Down(docker.clone(), cfg.clone());

    let st = container::status(&docker, &cfg).await.unwrap();
    assert_eq!(st.state, "running");
    assert!(st.health.is_ok(), "{st:?}");
    assert!(running.atlas_toml().contains("unix_socket"));

    let plugin = SidecarPlugin::new(running.plugin_config()).unwrap();
    let h = plugin.health_check().await;
    assert!(h.healthy, "{h:?}");
    let sb = plugin.sandbox();

    let out = run(&sb, "grep -rn customer_id . | sort").await;
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(out.stdout_str().lines().count(), 2);

    // Unprivileged, no capabilities, no new privileges.
    let out = run(
        &sb,
        "id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status",
    )
    .await;
    let text = out.stdout_str();
    assert!(text.starts_with("65534\n"), "{text}");
    assert!(text.contains("CapEff:\t0000000000000000"), "{text}");
    assert!(text.contains("CapBnd:\t0000000000000000"), "{text}");
    assert!(text.contains("NoNewPrivs:\t1"), "{text}");

    // The server (PID 1, the same uid as the commands) keeps its token to itself.
    let out = run(&sb, "echo ppid=$PPID; tr '\\0' '\\n' < /proc/1/environ").await;
    let text = out.stdout_str();
    assert!(text.starts_with("ppid=1\n"), "{text}");
    assert!(
        !text.contains(running.token.expose()),
        "token readable: {text}"
    );

    // The semantic layer and the root filesystem are read-only; /tmp is a small tmpfs.
    let out = run(
        &sb,
        "echo x >> catalog.yml; echo $?; touch /etc/x; echo $?; mount | grep ' /tmp '",
    )
    .await;
    let text = out.stdout_str();
    let codes: Vec<&str> = text.lines().take(2).collect();
    assert!(codes.iter().all(|c| *c != "0"), "{text}");
    assert!(
        text.contains("tmpfs") && text.contains("size=65536k"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(semantic(&l).join("catalog.yml")).unwrap(),
        "name: shop\nentities: [orders, customers]\n"
    );

    // No network at all: only loopback, nothing routes out.
    let out = run(&sb, "ls /sys/class/net; wget -q -T 2 -O- http://1.1.1.1/ ; echo wget=$?; nc -w 2 8.8.8.8 53 </dev/null; echo nc=$?").await;
    let text = out.stdout_str();
    assert!(text.starts_with("lo\n"), "{text}");
    assert!(!text.contains("wget=0") && !text.contains("nc=0"), "{text}");

    // A fork bomb hits the pids limit and the server survives it.
    let out = sb
        .exec(ExecRequest::new("b() { b | b & }; b; sleep 2").timeout(Duration::from_secs(5)))
        .await
        .unwrap();
    assert!(
        !out.success() || out.timed_out || !out.stderr.is_empty(),
        "{out:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let out = run(&sb, "echo alive").await;
    assert_eq!(out.stdout, b"alive\n");

    drop(sb);
    drop(guard);
    let removed = container::down(&docker, &cfg).await.unwrap();
    assert!(!removed, "the guard already removed it");
    let st = container::status(&docker, &cfg).await.unwrap();
    assert!(!st.exists);
    assert!(!cfg.socket_path().exists());
}

/// Removes the container even when an assertion fails.
struct Down(container::Docker, ContainerConfig);

impl Drop for Down {
    fn drop(&mut self) {
        down_blocking(&self.0, &self.1).unwrap();
    }
}
