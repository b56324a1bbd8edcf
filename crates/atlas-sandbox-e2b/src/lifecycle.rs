//! Pause and resume, as the official `e2b` SDK (2.51.0) calls them: `POST
//! /sandboxes/{id}/pause` (204; 409 when it is already paused; 404 when it is gone) and `POST
//! /v2/sandboxes/{id}/connect` with `{"timeout": s}` (200 when it was running, 201 when it was
//! resumed, the `Sandbox` body of a create either way).

use atlas_sandbox_cloud::{Idempotent, send};
use atlas_sandbox_sdk::{Error, ErrorKind, Result};

use crate::ID;
use crate::client::{Client, CreatedSandbox, RemoteSandbox, lifetime_secs};
use crate::error::E2bError;

/// Whether a connect found the sandbox running or had to resume it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Connected {
    /// 200: it was running.
    Running,
    /// 201: it was paused and is running again.
    Resumed,
}

impl Client {
    /// Pauses a sandbox. `Ok(false)` when it was already paused (409, as the SDK reads it);
    /// a sandbox that is gone is `SandboxGone`.
    pub(crate) async fn pause(&self, id: &str) -> Result<bool> {
        // The SDK sends `{memory: keepMemory}`; unset, that serializes to `{}` (a full memory
        // snapshot, the vendor's default).
        let body = serde_json::json!({});
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            self.api(reqwest::Method::POST, &format!("/sandboxes/{id}/pause"))
                .json(&body)
        })
        .await
        .map_err(|e| e.with_context("operation", "pause sandbox"))?;
        if resp.status().as_u16() == 409 {
            return Ok(false);
        }
        self.checked(resp, "pause sandbox")
            .await
            .map_err(|e| e.with_context("sandbox", id))?;
        tracing::info!(sandbox = %id, "paused E2B sandbox");
        Ok(true)
    }

    /// Connects to a sandbox, resuming it when it is paused, with a fresh lifetime.
    pub(crate) async fn connect(&self, id: &str) -> Result<(RemoteSandbox, Connected)> {
        let body = serde_json::json!({ "timeout": lifetime_secs(self.cfg.lifetime) });
        // Connecting twice is harmless: the second finds it running.
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            self.api(
                reqwest::Method::POST,
                &format!("/v2/sandboxes/{id}/connect"),
            )
            .json(&body)
        })
        .await
        .map_err(|e| e.with_context("operation", "resume sandbox"))?;
        let how = match resp.status().as_u16() {
            201 => Connected::Resumed,
            _ => Connected::Running,
        };
        let resp = self
            .checked(resp, "resume sandbox")
            .await
            .map_err(|e| e.with_context("sandbox", id))?;
        let created: CreatedSandbox = resp.json().await.map_err(|e| {
            Error::from(E2bError::BadResponse(format!("connect: {e}")))
                .with_context("operation", "resume sandbox")
        })?;
        if created.sandbox_id != id {
            return Err(Error::new(
                ErrorKind::Backend,
                format!(
                    "connect to sandbox {id} answered for another sandbox ({})",
                    created.sandbox_id
                ),
            )
            .with_backend(ID));
        }
        tracing::info!(sandbox = %id, ?how, "connected to E2B sandbox");
        Ok((self.remote_of(created), how))
    }
}
