//! Sandboxes that outlive a session ([`Persistence`]): created with auto-pause, paused and
//! resumed by id, listed with their state, deleted.

use std::collections::BTreeMap;

use atlas_sandbox_cloud::{TAG_MARKER, TAG_OWNER, age_from_tags, sandbox_tags};
use atlas_sandbox_sdk::{
    CollectLimits, ErrorKind, Persistence, RemoteSandbox, RemoteState, Result, Sandbox,
    SemanticLayer, async_trait,
};

use crate::ID;
use crate::sandbox::{E2bPlugin, age_of_rfc3339};

/// The most sandboxes one listing reads (100 pages of 100).
const LIST_MAX_PAGES: usize = 100;

#[async_trait]
impl Persistence for E2bPlugin {
    async fn create_persistent(
        &self,
        layer: &SemanticLayer,
        owner: &str,
    ) -> Result<Box<dyn Sandbox>> {
        let collected = layer
            .collect_off_runtime(CollectLimits::default())
            .await
            .map_err(|e| e.with_backend(ID))?;
        let mut tags = sandbox_tags(&self.ctx);
        // E2B metadata values are bounded; a session key is short, but never trust it to be.
        tags.insert(TAG_OWNER.to_owned(), owner.chars().take(512).collect());
        let remote = self.client.create_session(&tags, &collected, true).await?;
        Ok(Box::new(self.sandbox_bound(remote)))
    }

    async fn resume(&self, id: &str) -> Result<Box<dyn Sandbox>> {
        let (remote, _how) = self.client.connect(id).await?;
        Ok(Box::new(self.sandbox_bound(remote)))
    }

    async fn pause(&self, id: &str) -> Result<()> {
        self.client.pause(id).await.map(|_| ())
    }

    async fn delete(&self, id: &str) -> Result<()> {
        self.client.kill(id).await.map(|_| ())
    }

    async fn list(&self) -> Result<Vec<RemoteSandbox>> {
        let filter = BTreeMap::from([(TAG_MARKER.to_owned(), "true".to_owned())]);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..LIST_MAX_PAGES {
            let (items, next) = self.client.list(&filter, 100, token.as_deref()).await?;
            for sb in items {
                let tags = sb.metadata.unwrap_or_default();
                let age = age_from_tags(&tags)
                    .or_else(|| sb.started_at.as_deref().and_then(age_of_rfc3339));
                let state = match sb.state.as_deref() {
                    Some("running") | None => RemoteState::Running,
                    Some("paused") => RemoteState::Paused,
                    Some(other) => RemoteState::Other(other.to_owned()),
                };
                out.push(RemoteSandbox {
                    id: sb.sandbox_id,
                    state,
                    age,
                    tags,
                });
            }
            match next {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
        Err(atlas_sandbox_sdk::Error::new(
            ErrorKind::Backend,
            format!(
                "more than {} tagged E2B sandboxes; listing stopped",
                LIST_MAX_PAGES * 100
            ),
        )
        .with_backend(ID))
    }
}
