//! Sandboxes that outlive a session: Daytona's stop keeps a sandbox's filesystem and bills no
//! compute, start brings it back (from archive storage too), and the auto-stop, auto-archive and
//! auto-delete intervals set at creation end one this host loses track of.

use std::sync::Arc;

use atlas_sandbox_cloud::{age_from_tags, sandbox_tags};
use atlas_sandbox_sdk::{
    CollectLimits, Persistence, RemoteSandbox, RemoteState, Result, Sandbox, SemanticLayer,
    async_trait,
};

use crate::sandbox::{Kind, Lifecycle, Payload, is_paused_state, provision, stop_and_wait, wake};
use crate::{DaytonaPlugin, DaytonaSandbox, ID, SWEEP_MAX};

/// The vendor's state as the host's coarse one.
pub(crate) fn remote_state(state: &str) -> RemoteState {
    match state {
        "started" => RemoteState::Running,
        s if is_paused_state(s) => RemoteState::Paused,
        other => RemoteState::Other(other.to_owned()),
    }
}

#[async_trait]
impl Persistence for DaytonaPlugin {
    async fn create_persistent(
        &self,
        layer: &SemanticLayer,
        owner: &str,
    ) -> Result<Box<dyn Sandbox>> {
        let collected = layer
            .collect_off_runtime(CollectLimits::default())
            .await
            .map_err(|e| e.with_backend(ID))?;
        let payload = Payload::from_layer(&collected);
        let tags = sandbox_tags(&self.ctx);
        let remote = provision(
            &self.settings,
            &tags,
            &payload,
            Lifecycle::Persistent { owner },
        )
        .await?;
        let id = remote.id.clone();
        Ok(Box::new(DaytonaSandbox::new(
            self.settings.clone(),
            Kind::Persistent { id },
            remote,
        )))
    }

    async fn resume(&self, id: &str) -> Result<Box<dyn Sandbox>> {
        let remote = wake(&self.settings, id).await?;
        Ok(Box::new(DaytonaSandbox::new(
            Arc::clone(&self.settings),
            Kind::Persistent { id: id.to_owned() },
            remote,
        )))
    }

    async fn pause(&self, id: &str) -> Result<()> {
        stop_and_wait(&self.settings, id).await
    }

    async fn delete(&self, id: &str) -> Result<()> {
        self.settings.api.delete_sandbox(id).await
    }

    async fn list(&self) -> Result<Vec<RemoteSandbox>> {
        let found = self
            .settings
            .api
            .list_sandboxes(&self.tags_base, SWEEP_MAX)
            .await?;
        Ok(found
            .into_iter()
            // Destroyed ones still listed for a while are not ours to count.
            .filter(|sb| !matches!(sb.state(), "destroyed" | "destroying"))
            .map(|sb| RemoteSandbox {
                state: remote_state(sb.state()),
                age: age_from_tags(&sb.labels),
                id: sb.id,
                tags: sb.labels,
            })
            .collect())
    }
}
