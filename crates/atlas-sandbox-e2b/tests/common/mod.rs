//! Shared setup: an emulator, and a plugin configured against it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use atlas_emulator_e2b::{EmulatorOptions, EmulatorState, start_with};
use atlas_emulator_kit::{Kit, RecordedRequest, RunningEmulator};
use atlas_sandbox_e2b::{E2bConfig, E2bPlugin};
use atlas_sandbox_sdk::{
    ExecOutput, ExecRequest, PluginContext, Sandbox, SandboxPlugin, SemanticLayer, async_trait,
};

pub const KEY: &str = "e2b_test_0123456789abcdef";

pub struct Env {
    pub emu: RunningEmulator,
    pub state: Arc<EmulatorState>,
    pub kit: Arc<Kit>,
    pub plugin: E2bPlugin,
    pub layer_tmp: tempfile::TempDir,
    pub layer: SemanticLayer,
}

pub fn config(base_url: &str, extra: serde_json::Value) -> E2bConfig {
    let mut v = serde_json::json!({
        "api_key": KEY,
        "api_url": base_url,
        "sandbox_url": base_url,
    });
    if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in more {
            obj.insert(k.clone(), val.clone());
        }
    }
    serde_json::from_value(v).unwrap()
}

pub async fn setup(extra: serde_json::Value) -> Env {
    setup_with(EmulatorOptions::default(), extra).await
}

pub async fn setup_with(opts: EmulatorOptions, extra: serde_json::Value) -> Env {
    let kit = Kit::new();
    let (emu, state) = start_with(kit.clone(), opts, None).await.unwrap();
    let plugin = E2bPlugin::new(config(&emu.base_url, extra), &PluginContext::default()).unwrap();
    let (layer_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let layer = SemanticLayer::open(root).unwrap();
    Env {
        emu,
        state,
        kit,
        plugin,
        layer_tmp,
        layer,
    }
}

impl Env {
    pub async fn sandbox(&self) -> Box<dyn Sandbox> {
        self.plugin.create(&self.layer).await.unwrap()
    }

    /// The next `count` requests on `path` answer `status` with an E2B error body (and
    /// `Retry-After: retry_after_secs` when given).
    pub fn fail_next(
        &self,
        path: &str,
        count: u32,
        status: u16,
        retry_after_secs: Option<u64>,
        message: &str,
    ) {
        let body = serde_json::json!({"code": status, "message": message});
        self.kit
            .fail_next(path, count, status, retry_after_secs, body);
    }

    /// Closes `sb`, then waits until no sandbox is alive (see [`Env::assert_none_alive`]).
    pub async fn close_and_assert_none_alive(&self, sb: Box<dyn Sandbox>) {
        sb.close().await.unwrap();
        self.assert_none_alive().await;
    }

    /// Asserts that exactly `count` sandboxes are alive in the emulator, now.
    #[track_caller]
    pub fn assert_live(&self, count: usize, what: &str) {
        assert_eq!(self.state.live_sandboxes().len(), count, "{what}");
    }

    /// The requests received so far whose path ends with `suffix`, in order.
    pub fn requests_ending_with(&self, suffix: &str) -> Vec<RecordedRequest> {
        let mut requests = self.kit.requests();
        requests.retain(|r| r.path.ends_with(suffix));
        requests
    }

    /// The last envd `Start` request: the last command's, with its headers.
    pub fn last_start_request(&self) -> RecordedRequest {
        self.requests_ending_with("/Start").pop().unwrap()
    }

    /// Waits until the emulator has no live sandbox (background kills included).
    pub async fn assert_none_alive(&self) {
        for _ in 0..50 {
            if self.state.live_sandboxes().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("sandboxes left alive: {:?}", self.state.live_sandboxes());
    }
}

/// Running a command that must work.
#[async_trait]
pub trait RunOk {
    /// Runs `command`: the call must succeed and the command exit 0.
    async fn run_ok(&self, command: &str) -> ExecOutput;
}

#[async_trait]
impl RunOk for dyn Sandbox {
    async fn run_ok(&self, command: &str) -> ExecOutput {
        let out = self.exec(ExecRequest::new(command)).await.unwrap();
        assert_eq!(out.exit_code, 0, "{out:?}");
        out
    }
}
