//! The explore server wired to this host: its sessions, layers and backends behind the server
//! crate's `Engine`, and the `mcp` / `serve` subcommands' start-up.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use atlas_sandbox_sdk::{ErrorKind, ExecOutput, ExecRequest};
use atlas_sandbox_server::{
    Core, Engine, EngineError, EngineStats, Layer, ServerOptions, SessionRef, Token,
};

use crate::Host;
use crate::config::{Config, ServerSettings};
use crate::layers::{LayerSource, Layers, grant_allows};
use crate::session::{
    CloseReason, Session, SessionError, SessionKey, SessionSettings, SessionTable,
};

/// The host as the explore server's engine.
#[derive(Debug)]
pub struct HostEngine {
    table: Arc<SessionTable>,
    layers: Layers,
    reaper: tokio::task::JoinHandle<()>,
}

impl Drop for HostEngine {
    fn drop(&mut self) {
        self.reaper.abort();
    }
}

impl HostEngine {
    /// An engine over `host` with the `[server]` session bounds.
    pub fn new(host: Arc<Host>, layers: Layers, settings: &ServerSettings) -> Arc<HostEngine> {
        let table = SessionTable::new(
            host,
            SessionSettings {
                max_sessions: settings.max_sessions,
                idle_timeout: settings.idle_timeout,
                max_concurrent_per_session: settings.max_concurrent_per_session,
            },
        );
        let reaper = table.spawn_reaper();
        table.start_pools(&layers.fixed_roots());
        Arc::new(HostEngine {
            table,
            layers,
            reaper,
        })
    }

    /// The session table.
    pub fn table(&self) -> &Arc<SessionTable> {
        &self.table
    }
}

/// The server options of a validated `[server]` table.
pub fn server_options(s: &ServerSettings) -> ServerOptions {
    ServerOptions {
        tokens: s
            .tokens
            .iter()
            .map(|t| Token {
                name: t.name.clone(),
                secret: t.token.clone(),
                layers: t.layers.clone(),
            })
            .collect(),
        max_concurrent: s.max_concurrent,
        queue_size: s.queue_size,
        queue_timeout: s.queue_timeout,
        shutdown_grace: s.shutdown_grace,
        max_body_bytes: s.max_body_bytes,
    }
}

/// Starts the host (health checks, selection order) and the server core over it.
pub async fn start(config: &Config) -> Result<(Arc<Core>, Arc<HostEngine>), crate::ConfigErrors> {
    let host =
        Arc::new(Host::from_config_with_workers(config, config.server.just_bash_worker).await?);
    let engine = HostEngine::new(host, config.layers.clone(), &config.server);
    let core = Core::new(engine.clone(), server_options(&config.server));
    Ok((core, engine))
}

fn session_error(e: SessionError) -> EngineError {
    match e {
        SessionError::Closed => EngineError::Closed,
        SessionError::Full(_) => EngineError::Busy(e.to_string()),
        SessionError::Select(s) => EngineError::Unavailable(s.to_string()),
        SessionError::Backend(b) if b.kind() == ErrorKind::InvalidRequest => {
            EngineError::InvalidRequest(b.to_string())
        }
        SessionError::Backend(b) => EngineError::Backend(b.to_string()),
    }
}

async fn run_in(
    session: &Session,
    request: ExecRequest,
    slot_deadline: tokio::time::Instant,
) -> Result<(String, ExecOutput), EngineError> {
    let _permit = tokio::time::timeout_at(slot_deadline, session.permits().clone().acquire_owned())
        .await
        .map_err(|_| {
            EngineError::Busy(
                "this session already runs max_concurrent_per_session commands".into(),
            )
        })?
        .map_err(|_| EngineError::Closed)?;
    match session.exec(request).await {
        Ok(r) => Ok(r),
        Err(SessionError::Backend(b)) if b.kind() == ErrorKind::SandboxGone => {
            session.close(CloseReason::Explicit).await;
            Err(EngineError::Backend(format!(
                "{b} (the session was closed; the next call starts a new one)"
            )))
        }
        Err(e) => Err(session_error(e)),
    }
}

#[atlas_sandbox_sdk::async_trait]
impl Engine for HostEngine {
    fn resolve_layer(&self, reference: Option<&str>, grants: Option<&[String]>) -> Option<Layer> {
        let resolved = self.layers.resolve(reference).ok()?;
        if let Some(g) = grants
            && !g.iter().any(|g| grant_allows(g, &resolved.name))
        {
            return None;
        }
        Some(Layer {
            name: resolved.name,
            root: resolved.root,
        })
    }

    fn layer_names(&self, grants: Option<&[String]>) -> Vec<String> {
        self.layers
            .iter()
            .filter_map(|(name, src)| {
                let shown = match src {
                    LayerSource::Root(_) => name.to_owned(),
                    LayerSource::Pattern { .. } => format!("{name}/*"),
                };
                let probe = match src {
                    LayerSource::Root(_) => name.to_owned(),
                    LayerSource::Pattern { .. } => format!("{name}/x"),
                };
                let allowed = grants.is_none_or(|g| {
                    g.iter()
                        .any(|g| grant_allows(g, &probe) || g.starts_with(&format!("{name}/")))
                });
                allowed.then_some(shown)
            })
            .collect()
    }

    fn defaults(&self) -> (Duration, usize) {
        let s = self.table.host().settings();
        (s.timeout, s.max_output_bytes)
    }

    async fn exec(
        &self,
        session: SessionRef,
        layer: &Layer,
        request: ExecRequest,
        slot_deadline: tokio::time::Instant,
    ) -> Result<(String, ExecOutput), EngineError> {
        match session {
            SessionRef::Named { scope, id } => {
                let key = SessionKey {
                    scope,
                    layer: layer.name.clone(),
                    id,
                };
                let lease = self
                    .table
                    .lease(key, &layer.root)
                    .await
                    .map_err(session_error)?;
                run_in(lease.session(), request, slot_deadline).await
            }
            SessionRef::OneShot { scope } => {
                let key = SessionKey {
                    scope,
                    layer: layer.name.clone(),
                    id: format!("one-shot-{}", uuid_like()),
                };
                let s = self.table.one_shot(key, Path::new(&layer.root));
                // Closed even when the caller goes away mid-command.
                let guard = CloseOnDrop(Some(s.clone()));
                let r = run_in(&s, request, slot_deadline).await;
                drop(guard);
                r
            }
        }
    }

    async fn close_session(&self, scope: &str, id: &str) -> usize {
        self.table.close_id(scope, id).await
    }

    async fn backends(&self) -> serde_json::Value {
        serde_json::to_value(self.table.host().report().await).unwrap_or_default()
    }

    fn stats(&self) -> EngineStats {
        let s = self.table.stats();
        EngineStats {
            sessions_open: s.open as u64,
            sandboxes_created: s.sandboxes_created,
            sandboxes_closed: s.sandboxes_closed,
            sessions_expired: s.expired,
            sessions_evicted: s.evicted,
        }
    }

    async fn shutdown(&self) -> Vec<String> {
        let mut errors = self.table.close_all().await;
        errors.extend(self.table.host().shutdown().await);
        errors
    }
}

/// Closes a one-shot session when dropped (in a task: `Drop` cannot await).
struct CloseOnDrop(Option<Session>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(h) => {
                    h.spawn(async move {
                        s.close(CloseReason::Explicit).await;
                    });
                }
                Err(_) => tracing::warn!(session = %s.key(), "no runtime to close a session"),
            }
        }
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
