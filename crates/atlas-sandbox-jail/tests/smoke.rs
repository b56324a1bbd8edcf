//! End-to-end basics of the warm jail: commands, isolation facts, and the worker's lifetime.

use atlas_sandbox_jail::{JailConfig, JailPlugin};
use atlas_sandbox_sdk::{ExecRequest, PluginContext, Sandbox, SandboxPlugin, SemanticLayer};

#[tokio::test]
async fn basics() {
    let plugin = JailPlugin::new(JailConfig::default(), &PluginContext::default()).unwrap();
    let h = plugin.health_check().await;
    println!("health: {h:?}");
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let layer = SemanticLayer::open(&root).unwrap();
    let t = std::time::Instant::now();
    let sb = plugin.create_jail(&layer).await.unwrap();
    println!("create {:?} landlock {}", t.elapsed(), sb.landlock_status());
    for cmd in [
        "ls",
        "id; pwd; hostname",
        "grep -rn customer_id . | head -3",
        "cat /proc/self/status | grep -E 'Cap|Seccomp|NoNew'",
        "ls -la /; ls /dev /proc",
        "echo hi > /tmp/x; cat /tmp/x; touch catalog.yml",
        "cat <(echo procsub)",
        "ls /etc",
        "true",
    ] {
        let t = std::time::Instant::now();
        let out = sb.exec(ExecRequest::new(cmd)).await.unwrap();
        println!(
            "--- {cmd} [{:?}] exit {}\n{}\nERR: {}",
            t.elapsed(),
            out.exit_code,
            out.stdout_str(),
            out.stderr_str()
        );
    }
    sb.close().await.unwrap();
}

#[tokio::test]
async fn timing_probe() {
    let plugin = JailPlugin::new(JailConfig::default(), &PluginContext::default()).unwrap();
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let layer = SemanticLayer::open(&root).unwrap();
    let sb = plugin.create_jail(&layer).await.unwrap();
    let mut v = Vec::new();
    for _ in 0..30 {
        let t = std::time::Instant::now();
        sb.exec(ExecRequest::new("true")).await.unwrap();
        v.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    v.sort_by(f64::total_cmp);
    println!("true: min {:.2} med {:.2} max {:.2}", v[0], v[15], v[29]);
    sb.close().await.unwrap();
}
