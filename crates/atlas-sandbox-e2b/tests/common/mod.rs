//! Shared setup: an emulator, and a plugin configured against it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use atlas_emulator_e2b::{EmulatorOptions, EmulatorState, start_with};
use atlas_emulator_kit::{Kit, RunningEmulator};
use atlas_sandbox_e2b::{E2bConfig, E2bPlugin};
use atlas_sandbox_sdk::{PluginContext, Sandbox, SandboxPlugin, SemanticLayer};

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
