//! The Daytona emulator the integration tests run against, with the API key it accepts.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use atlas_emulator_daytona::Control;
use atlas_emulator_kit::{Kit, RunningEmulator};
use atlas_sandbox_cloud::RetryPolicy;
use atlas_sandbox_daytona::{DaytonaConfig, DaytonaPlugin};
use atlas_sandbox_sdk::PluginContext;

pub const KEY: &str = "dtn_test_key_0123456789";

/// A running emulator, its request record and its control handle.
pub struct Env {
    pub kit: Arc<Kit>,
    pub control: Arc<Control>,
    pub _emu: RunningEmulator,
}

/// Starts the emulator, accepting [`KEY`] only.
pub async fn env() -> Env {
    let kit = Kit::new();
    let (emu, control) = atlas_emulator_daytona::start_with_control(kit.clone()).await;
    control.set_api_key(Some(KEY));
    Env {
        kit,
        control,
        _emu: emu,
    }
}

/// The plugin over `c`, with short retries (a test's faults are injected, not flaky).
pub fn plugin_with(c: DaytonaConfig) -> DaytonaPlugin {
    let ctx = PluginContext {
        instance_id: "test-instance".to_owned(),
        ..PluginContext::default()
    };
    let retry = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    DaytonaPlugin::with_retry(c, &ctx, retry).unwrap()
}
