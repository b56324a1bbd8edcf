//! Shared setup of the backend's tests: the emulator on loopback and a plugin pointed at it.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use atlas_emulator_kit::{Kit, RecordedRequest, RunningEmulator};
use atlas_emulator_vercel::VercelEmulator;
use atlas_sandbox_cloud::RetryPolicy;
use atlas_sandbox_sdk::{PluginContext, Sandbox, SandboxPlugin, SemanticLayer};
use atlas_sandbox_vercel::{VercelConfig, VercelPlugin, build_plugin};

pub const TOKEN: &str = "vercel_test_token_abcdef";

pub struct Setup {
    pub kit: Arc<Kit>,
    pub running: RunningEmulator,
    pub emu: VercelEmulator,
    pub plugin: VercelPlugin,
    /// The [`small_layer`] that [`Setup::sandbox`] uploads, and the directory holding it.
    pub layer: SemanticLayer,
    pub layer_dir: tempfile::TempDir,
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
    let (layer_dir, layer) = small_layer();
    Setup {
        kit,
        running,
        emu,
        plugin,
        layer,
        layer_dir,
    }
}

/// The error body the Vercel API sends with a failing status.
pub fn error_body(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"error": {"code": code, "message": message}})
}

/// Polls `cond` every 20 ms, failing the test if it is still false after 10 s.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Setup {
    /// Creates a sandbox holding the small layer, as the user would.
    pub async fn create(&self) -> atlas_sandbox_sdk::Result<Box<dyn Sandbox>> {
        self.plugin.create(&self.layer).await
    }

    /// A sandbox holding the small layer; the test fails if it cannot be created.
    pub async fn sandbox(&self) -> Box<dyn Sandbox> {
        self.create().await.expect("create")
    }

    /// The next `count` requests on `path` answer `status` with a Vercel error body and no
    /// `Retry-After`.
    pub fn fail_next(&self, path: &str, count: u32, status: u16, code: &str, message: &str) {
        self.kit
            .fail_next(path, count, status, None, error_body(code, message));
    }

    /// Closes `sb` and asserts that no microVM is still running.
    pub async fn close_and_assert_none_running(&self, sb: Box<dyn Sandbox>) {
        sb.close().await.expect("close");
        assert_eq!(self.emu.running_sessions(), 0);
    }

    /// Closes `sb` and asserts that no microVM is running and no sandbox record is left.
    pub async fn close_and_assert_nothing_left(&self, sb: Box<dyn Sandbox>) {
        sb.close().await.expect("close");
        self.assert_nothing_left();
    }

    /// Asserts that no microVM is running and no sandbox record is left, now.
    #[track_caller]
    pub fn assert_nothing_left(&self) {
        assert_eq!(
            (self.emu.running_sessions(), self.emu.sandbox_count()),
            (0, 0)
        );
    }

    /// Waits (see [`eventually`]) until no microVM is running and no sandbox record is left.
    pub async fn eventually_nothing_left(&self, what: &str) {
        eventually(what, || {
            self.emu.running_sessions() == 0 && self.emu.sandbox_count() == 0
        })
        .await;
    }

    /// The JSON body of the last request the emulator received (the last command's, after an
    /// exec).
    pub fn last_request_body(&self) -> serde_json::Value {
        self.kit
            .requests()
            .last()
            .and_then(|r| r.json())
            .expect("cmd body")
    }

    /// The requests received so far whose path ends with `suffix`, in order.
    pub fn requests_ending_with(&self, suffix: &str) -> Vec<RecordedRequest> {
        self.kit
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with(suffix))
            .collect()
    }

    /// Whether any request received so far satisfies `pred`.
    pub fn any_request(&self, pred: impl Fn(&RecordedRequest) -> bool) -> bool {
        self.kit.requests().iter().any(pred)
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
