//! The Daytona emulator the integration tests run against, with the API key it accepts.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use atlas_emulator_daytona::Control;
use atlas_emulator_kit::{Kit, RunningEmulator};

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
