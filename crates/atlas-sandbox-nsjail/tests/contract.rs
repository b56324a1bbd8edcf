//! The backend contract against a real nsjail: what every backend must do (exit codes as data,
//! streams, cwd, caps, timeouts, concurrency, close), plus what is particular to nsjail (setup
//! failures are backend errors, a missing binary is "unavailable", create checks the layer).
//! Without nsjail the tests that need it print `SKIPPED: ...` and pass.

mod common;

use std::time::Duration;

use atlas_sandbox_nsjail::{CgroupMode, NsjailConfig, NsjailFactory, NsjailPlugin};
use atlas_sandbox_sdk::{
    ErrorKind, ExecRequest, PluginContext, PluginFactory, Sandbox, SandboxPlugin,
};
use common::{Fixture, Layer, is_root};

fn cfg() -> NsjailConfig {
    NsjailConfig::default()
}

#[tokio::test]
async fn explore_commands_work_over_the_layer() {
    let Some(f) = Fixture::new("explore_commands_work_over_the_layer", cfg()).await else {
        return;
    };
    let out = f.run("ls").await;
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(out.stdout_str(), "catalog.yml\nentities\nmetrics\n");
    let out = f.run("grep -rn 'name: id' . | sort").await;
    assert_eq!(
        out.stdout_str(),
        "./entities/customers.yml:4:  - name: id\n./entities/orders.yml:4:  - name: id\n"
    );
    let out = f.run("find . -name '*.yml' | wc -l").await;
    assert_eq!(out.stdout_str().trim(), "4");
    let out = f.run("head -n 1 entities/*.yml | sort | head -n 2").await;
    assert_eq!(out.exit_code, 0);
    let out = f.run("cat catalog.yml 2>/dev/null | wc -c").await;
    let len = std::fs::metadata(f.layer.root.join("catalog.yml"))
        .expect("meta")
        .len();
    assert_eq!(out.stdout_str().trim(), len.to_string());
    // awk is reached through /etc/alternatives on Debian.
    let out = f.run("awk '{ print $1 }' catalog.yml | head -n 1").await;
    assert_eq!(out.stdout_str(), "name:\n", "{out:?}");
    let out = f.run("pwd; id -u; id -g; hostname").await;
    assert_eq!(out.stdout_str(), "/semantic\n99999\n99999\natlas\n");
}

#[tokio::test]
async fn exit_codes_and_streams_are_data() {
    let Some(f) = Fixture::new("exit_codes_and_streams_are_data", cfg()).await else {
        return;
    };
    let out = f.run("echo out; echo err >&2; exit 3").await;
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(
        out.stderr, b"err\n",
        "nsjail's own log must not reach the command's stderr"
    );
    assert_eq!(out.exit_code, 3);
    assert!(!out.timed_out && !out.success());
    // 255 is also nsjail's setup-failure status: a command's 255 must still come back as data.
    let out = f.run("exit 255").await;
    assert_eq!(out.exit_code, 255);
    let out = f.run("cat nope.yml").await;
    assert_eq!(out.exit_code, 1);
    assert!(out.stderr_str().contains("No such file"), "{out:?}");
    let out = f.run("kill -TERM $$; sleep 1").await;
    assert!(!out.timed_out);
}

#[tokio::test]
async fn cwd_is_relative_to_the_layer() {
    let Some(f) = Fixture::new("cwd_is_relative_to_the_layer", cfg()).await else {
        return;
    };
    let out = f.run_req(ExecRequest::new("pwd; ls").cwd("entities")).await;
    assert_eq!(
        out.stdout_str(),
        "/semantic/entities\ncustomers.yml\norders.yml\n"
    );
    let out = f
        .run_req(ExecRequest::new("pwd").cwd("./metrics/../entities/"))
        .await;
    assert_eq!(out.stdout_str(), "/semantic/entities\n");
    std::os::unix::fs::symlink(&f.layer.secret_dir, f.layer.root.join("outside")).expect("symlink");
    for bad in ["../x", "/etc", "missing_dir", "catalog.yml", "outside"] {
        let e = f
            .sandbox
            .exec(ExecRequest::new("pwd").cwd(bad))
            .await
            .expect_err(bad);
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{bad}: {e}");
        assert_eq!(e.backend(), "nsjail");
    }
}

#[tokio::test]
async fn output_cap_and_deadline_come_from_the_request() {
    let Some(f) = Fixture::new("output_cap_and_deadline_come_from_the_request", cfg()).await else {
        return;
    };
    let out = f
        .run_req(ExecRequest::new("head -c 5000 /dev/zero | tr '\\0' a").max_output_bytes(100))
        .await;
    assert!(out.stdout_truncated);
    assert!(out.stdout.starts_with(&[b'a'; 100]));
    assert_eq!(
        out.exit_code, 0,
        "slightly over the cap keeps the real status"
    );
    let out = f
        .run_req(ExecRequest::new("sleep 5").timeout(Duration::from_millis(300)))
        .await;
    assert_eq!(out.exit_code, 124);
    assert!(out.timed_out);
    assert!(
        out.duration < Duration::from_millis(1500),
        "{:?}",
        out.duration
    );
}

#[tokio::test]
async fn concurrent_execs_are_independent() {
    // With the default overlay a sandbox's jails share its /tmp on purpose (tests/overlay.rs);
    // read-only, each jail has its own.
    let config = NsjailConfig {
        layer: atlas_sandbox_nsjail::LayerMode::ReadOnly,
        ..cfg()
    };
    let Some(f) = Fixture::new("concurrent_execs_are_independent", config).await else {
        return;
    };
    let f = std::sync::Arc::new(f);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let out = f
                .run(&format!("echo {i} > /tmp/mine; sleep 0.2; cat /tmp/mine"))
                .await;
            (i, out)
        }));
    }
    for t in tasks {
        let (i, out) = t.await.expect("task");
        assert_eq!(out.stdout_str().trim(), i.to_string(), "jails shared /tmp");
    }
}

#[tokio::test]
async fn close_is_idempotent_and_removes_everything() {
    let Some(f) = Fixture::new("close_is_idempotent_and_removes_everything", cfg()).await else {
        return;
    };
    let dir = f.sandbox.dir().to_path_buf();
    assert!(f.sandbox.config_file().is_file());
    f.run("true").await;
    let mut leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    leftovers.sort();
    // The config, the policy and the state's mount point (empty here: its tmpfs exists only in
    // the sandbox's own mount namespace).
    assert_eq!(
        leftovers,
        ["explore.kafel", "jail.cfg", "state"],
        "per-exec logs must be removed"
    );
    assert_eq!(
        std::fs::read_dir(dir.join("state")).expect("state").count(),
        0
    );
    f.sandbox.close().await.expect("close");
    f.sandbox.close().await.expect("close again");
    assert!(!dir.exists());
    let e = f
        .sandbox
        .exec(ExecRequest::new("true"))
        .await
        .expect_err("closed");
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
}

#[tokio::test]
async fn a_jail_that_cannot_be_built_is_unavailable_and_unhealthy() {
    let Some(_) = common::plugin_or_skip(
        "a_jail_that_cannot_be_built_is_unavailable_and_unhealthy",
        cfg(),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let policy = dir.path().join("broken.kafel");
    std::fs::write(
        &policy,
        "POLICY p { ERRNO(EPERM) { ptrace } } USE p DEFAULT ALLOW",
    )
    .expect("w");
    let plugin = NsjailPlugin::new(
        NsjailConfig {
            seccomp: policy.display().to_string(),
            ..cfg()
        },
        &PluginContext::default(),
    )
    .expect("config is valid; the policy only fails in nsjail");
    // The health check runs a real jail, so it tells the truth.
    let health = plugin.health_check().await;
    assert!(!health.healthy, "{}", health.message);
    assert!(health.message.contains("policy"), "{}", health.message);
    // `create` runs no jail when the mode bits decide the layer is readable; the first
    // command finds out, and says the command never ran (unavailable), with nsjail's reason.
    let layer = Layer::new();
    let sb = plugin
        .create_jail(&layer.open())
        .await
        .expect("create builds no jail");
    let e = sb
        .exec(ExecRequest::new("echo never"))
        .await
        .expect_err("broken policy");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("could not set up the jail"), "{msg}");
    assert!(
        msg.contains("policy"),
        "nsjail's own message must be reported: {msg}"
    );
    assert!(msg.contains("255"), "{msg}");
}

#[tokio::test]
async fn missing_nsjail_is_unavailable_with_the_reason() {
    let plugin = NsjailPlugin::new(
        NsjailConfig {
            nsjail_path: Some("/nonexistent/bin/nsjail".into()),
            ..cfg()
        },
        &PluginContext::default(),
    )
    .expect("building never needs the binary");
    let health = plugin.health_check().await;
    assert!(!health.healthy);
    assert!(
        health.message.contains("/nonexistent/bin/nsjail"),
        "{}",
        health.message
    );
    assert!(
        health.message.contains("docs/backends/nsjail.md"),
        "{}",
        health.message
    );
    let layer = Layer::new();
    let e = plugin.create(&layer.open()).await.expect_err("no binary");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert_eq!(e.backend(), "nsjail");
}

#[tokio::test]
async fn health_check_runs_echo_in_a_jail() {
    let Some(plugin) = common::plugin_or_skip("health_check_runs_echo_in_a_jail", cfg()) else {
        return;
    };
    let health = plugin.health_check().await;
    assert!(health.healthy, "{}", health.message);
    assert!(health.message.contains("ran echo"), "{}", health.message);
}

#[tokio::test]
async fn create_rejects_a_layer_the_jail_user_cannot_read() {
    let Some(plugin) =
        common::plugin_or_skip("create_rejects_a_layer_the_jail_user_cannot_read", cfg())
    else {
        return;
    };
    if !is_root() {
        common::skip(
            "create_rejects_a_layer_the_jail_user_cannot_read",
            "unprivileged, the jail user is the caller, who can read its own files",
        );
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let layer = Layer::new();
    std::fs::set_permissions(&layer.root, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let e = plugin
        .create_jail(&layer.open())
        .await
        .expect_err("unreadable");
    assert_eq!(e.kind(), ErrorKind::ConfigInvalid, "{e}");
    assert!(e.to_string().contains("chmod o+rx"), "{e}");
}

#[tokio::test]
async fn toolbox_jail_has_only_busybox() {
    let busybox = std::path::Path::new("/usr/bin/busybox");
    if !busybox.is_file() {
        common::skip(
            "toolbox_jail_has_only_busybox",
            "/usr/bin/busybox not installed",
        );
        return;
    }
    // Busybox has no bash: a toolbox jail runs POSIX sh only when the operator says so.
    let config = NsjailConfig {
        toolbox: Some(busybox.into()),
        shell: atlas_sandbox_sdk::Shell::Sh,
        ..cfg()
    };
    let Some(f) = Fixture::new("toolbox_jail_has_only_busybox", config).await else {
        return;
    };
    let out = f
        .run("ls /; ls /semantic | wc -l; grep -rn 'name: orders' .")
        .await;
    assert_eq!(out.exit_code, 0, "{out:?}");
    let text = out.stdout_str();
    assert!(!text.lines().any(|l| l == "usr"), "{text}");
    assert!(
        text.contains("./entities/orders.yml:1:name: orders"),
        "{text}"
    );
    let out = f.run("python3 -c 1 || perl -e 1 || bash -c true").await;
    assert_ne!(
        out.exit_code, 0,
        "interpreters of the host are not in a toolbox jail"
    );
}

#[tokio::test]
async fn cgroup_limits_apply_as_root() {
    let Some(plugin) = common::plugin_or_skip(
        "cgroup_limits_apply_as_root",
        NsjailConfig {
            cgroups: CgroupMode::Auto,
            ..cfg()
        },
    ) else {
        return;
    };
    let facts = plugin.host_facts().expect("facts");
    let Some(layout) = facts.cgroups else {
        common::skip(
            "cgroup_limits_apply_as_root",
            "not root or no cgroup controllers",
        );
        return;
    };
    // Memory via the cgroup only: the address-space rlimit is high, the cgroup limit low.
    let config = NsjailConfig {
        cgroups: CgroupMode::On,
        memory_limit_mb: 64,
        ..cfg()
    };
    let plugin = NsjailPlugin::new(config, &PluginContext::default()).expect("plugin");
    let layer = Layer::new();
    let sb = plugin.create_jail(&layer.open()).await.expect("create");
    let text = std::fs::read_to_string(sb.config_file()).expect("config");
    assert!(text.contains("cgroup_mem_max: 67108864"), "{text}");
    assert!(text.contains("cgroup_pids_max: 64"), "{text}");
    let out = sb
        .exec(ExecRequest::new("echo in-cgroup"))
        .await
        .expect("exec");
    assert_eq!(out.stdout_str(), "in-cgroup\n", "{out:?} ({layout:?})");
    sb.close().await.expect("close");
}

#[test]
fn factory_builds_without_the_binary() {
    let plugin = NsjailFactory::build(
        serde_json::from_value(serde_json::json!({"nsjail_path": "/nonexistent/nsjail"}))
            .expect("config"),
        &PluginContext::default(),
    )
    .expect("build must not need nsjail: selection moves on at health check");
    assert_eq!(plugin.priority(), 75);
    let sec = plugin.security();
    assert!(sec.network_isolation && sec.filesystem_isolation && sec.unprivileged_execution);
}
