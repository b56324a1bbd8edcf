//! Shared setup of the backend's tests: the emulator on loopback and a plugin pointed at it.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use atlas_emulator_kit::{Kit, RunningEmulator};
use atlas_emulator_vercel::VercelEmulator;
use atlas_sandbox_cloud::RetryPolicy;
use atlas_sandbox_sdk::PluginContext;
use atlas_sandbox_vercel::{VercelConfig, VercelPlugin, build_plugin};

pub const TOKEN: &str = "vercel_test_token_abcdef";

pub struct Setup {
    pub kit: Arc<Kit>,
    pub running: RunningEmulator,
    pub emu: VercelEmulator,
    pub plugin: VercelPlugin,
}

/// The config a user would write, with the emulator's URL.
pub fn config(api_url: &str) -> VercelConfig {
    serde_json::from_value(serde_json::json!({
        "token": TOKEN,
        "team_id": "team_test",
        "project_id": "prj_test",
        "api_url": api_url,
        "sandbox_lifetime": "5m",
        "timeout": "10s",
    }))
    .expect("a valid config")
}

/// A short backoff so retry tests are quick; the policy's logic is the production one.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    }
}

pub async fn setup() -> Setup {
    setup_with(|c| c).await
}

pub async fn setup_with(edit: impl FnOnce(VercelConfig) -> VercelConfig) -> Setup {
    let kit = Kit::new();
    let (running, emu) = atlas_emulator_vercel::start_with(kit.clone(), None).await;
    emu.expect_token(Some(TOKEN));
    let ctx = PluginContext {
        instance_id: "test-instance".into(),
        ..PluginContext::default()
    };
    let plugin = build_plugin(edit(config(&running.base_url)), &ctx, fast_retry())
        .expect("the plugin builds");
    Setup {
        kit,
        running,
        emu,
        plugin,
    }
}

/// A small private semantic layer.
pub fn small_layer() -> (tempfile::TempDir, atlas_sandbox_sdk::SemanticLayer) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("entities")).expect("mkdir");
    std::fs::write(dir.path().join("catalog.yml"), "tables: [orders]\n").expect("write");
    std::fs::write(dir.path().join("entities/orders.yml"), "name: orders\n").expect("write");
    let layer = atlas_sandbox_sdk::SemanticLayer::open(dir.path()).expect("layer");
    (dir, layer)
}
