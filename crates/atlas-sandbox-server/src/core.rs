//! One `explore` call, whatever the transport: authorization of the layer, queueing, the session,
//! the command, metrics and the tracing span.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{ExecRequest, MAX_TIMEOUT};
use tracing::Instrument;

use crate::api::{ExploreInput, ExploreOutput};
use crate::auth::{Principal, Token};
use crate::engine::{Engine, EngineError, SessionRef};
use crate::limits::{Limiter, Refused};

/// The server's own settings (the `[server]` table without what the engine owns).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Bearer tokens; empty = no authentication.
    pub tokens: Vec<Token>,
    /// Commands running at once, server-wide.
    pub max_concurrent: usize,
    /// Callers that may wait for a slot.
    pub queue_size: usize,
    /// How long a caller waits for a slot.
    pub queue_timeout: Duration,
    /// How long running commands may finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// The largest HTTP body accepted.
    pub max_body_bytes: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            tokens: Vec::new(),
            max_concurrent: 64,
            queue_size: 256,
            queue_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// Why a call got no output.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExploreError {
    /// Retry after a while (queue full, queue wait over, session busy).
    #[error("busy, retry in {}s: {message}", retry_after.as_secs().max(1))]
    Busy {
        /// Why.
        message: String,
        /// A hint for `Retry-After`.
        retry_after: Duration,
    },
    /// The layer does not exist or is not granted (one answer for both).
    #[error("{0}")]
    Layer(String),
    /// The input is invalid.
    #[error("{0}")]
    Invalid(String),
    /// No backend can run commands.
    #[error("{0}")]
    Unavailable(String),
    /// The server is shutting down.
    #[error("the server is shutting down; retry on another instance")]
    ShuttingDown,
    /// The backend failed.
    #[error("{0}")]
    Backend(String),
}

impl ExploreError {
    fn outcome(&self) -> &'static str {
        match self {
            ExploreError::Busy { .. } => "busy",
            ExploreError::Layer(_) => "layer_refused",
            ExploreError::Invalid(_) => "invalid",
            ExploreError::Unavailable(_) => "unavailable",
            ExploreError::ShuttingDown => "shutting_down",
            ExploreError::Backend(_) => "backend_error",
        }
    }
}

/// The transport a call came in on (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Stdio,
    McpHttp,
    Json,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::Stdio => "mcp_stdio",
            Transport::McpHttp => "mcp_http",
            Transport::Json => "http_json",
        }
    }
}

/// The state every front end shares.
#[derive(Debug)]
pub struct Core {
    engine: Arc<dyn Engine>,
    opts: ServerOptions,
    limiter: Limiter,
    shutting_down: AtomicBool,
    running: AtomicUsize,
    descriptions: Mutex<HashMap<String, String>>,
}

struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Core {
    /// A core over `engine`.
    pub fn new(engine: Arc<dyn Engine>, opts: ServerOptions) -> Arc<Core> {
        crate::metrics::install();
        Arc::new(Core {
            limiter: Limiter::new(opts.max_concurrent, opts.queue_size, opts.queue_timeout),
            engine,
            opts,
            shutting_down: AtomicBool::new(false),
            running: AtomicUsize::new(0),
            descriptions: Mutex::new(HashMap::new()),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    /// The options.
    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }

    /// Calls in progress (running or queued).
    pub fn in_progress(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// Callers waiting for a slot.
    pub fn queue_depth(&self) -> usize {
        self.limiter.depth()
    }

    /// Refuses new calls from now on.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// Whether shutdown began.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Waits until no call is in progress or `grace` passes; true when all finished.
    pub async fn drain(&self, grace: Duration) -> bool {
        let until = Instant::now() + grace;
        while self.in_progress() > 0 {
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// The tool description for a caller, generated from the layers it may use (cached).
    pub fn description(&self, principal: &Principal) -> String {
        let names = self.engine.layer_names(principal.grants.as_deref());
        let key = names.join(",");
        if let Some(d) = self
            .descriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return d.clone();
        }
        let default = self.engine.resolve_layer(None, principal.grants.as_deref());
        let d = crate::describe::tool_description(default.as_ref(), &names);
        self.descriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, d.clone());
        d
    }

    fn request(&self, input: &ExploreInput) -> Result<ExecRequest, ExploreError> {
        let (timeout, cap) = self.engine.defaults();
        let mut req = ExecRequest::new(input.command.clone())
            .timeout(timeout)
            .max_output_bytes(cap);
        req.cwd = input.cwd.clone().filter(|c| !c.is_empty());
        if let Some(t) = input.timeout {
            if !(t.is_finite() && t > 0.0 && t <= MAX_TIMEOUT.as_secs_f64()) {
                return Err(ExploreError::Invalid(format!(
                    "timeout must be a number of seconds above 0 and at most {}; got {t}",
                    MAX_TIMEOUT.as_secs()
                )));
            }
            req.timeout = Duration::from_secs_f64(t);
        }
        if let Some(s) = &input.session
            && (s.is_empty() || s.chars().count() > 128 || s.chars().any(char::is_control))
        {
            return Err(ExploreError::Invalid(
                "session must be 1 to 128 characters without control characters".into(),
            ));
        }
        // Validated here too so a bad request never creates a sandbox.
        req.validate()
            .map_err(|e| ExploreError::Invalid(e.to_string()))?;
        Ok(req)
    }

    /// Runs one call. `session_header` is the `Atlas-Session` header (the argument wins);
    /// `implicit` is the session of a caller that names none (`None`: a one-shot session).
    pub(crate) async fn explore(
        &self,
        principal: &Principal,
        input: ExploreInput,
        session_header: Option<String>,
        implicit: Option<&str>,
        transport: Transport,
    ) -> Result<ExploreOutput, ExploreError> {
        let session_id = input.session.clone().or(session_header);
        let span = tracing::info_span!(
            "explore",
            principal = %principal.name,
            transport = transport.label(),
            layer = tracing::field::Empty,
            session = tracing::field::Empty,
            backend = tracing::field::Empty,
            exit_code = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let t0 = Instant::now();
        let result = self
            .explore_inner(principal, input, session_id, implicit)
            .instrument(span.clone())
            .await;
        let elapsed = t0.elapsed();
        span.record("duration_ms", elapsed.as_secs_f64() * 1000.0);
        let (backend, outcome) = match &result {
            Ok(o) => {
                span.record("backend", o.backend.as_str());
                span.record("exit_code", o.exit_code);
                (
                    o.backend.clone(),
                    if o.exit_code == 0 {
                        "ok"
                    } else {
                        "nonzero_exit"
                    },
                )
            }
            Err(e) => (String::from("none"), e.outcome()),
        };
        span.in_scope(|| match &result {
            Ok(_) => tracing::info!(outcome, "explore finished"),
            Err(e) => tracing::info!(outcome, error = %e, "explore refused"),
        });
        crate::metrics::record_call(transport.label(), &backend, outcome, elapsed);
        result
    }

    async fn explore_inner(
        &self,
        principal: &Principal,
        input: ExploreInput,
        session_id: Option<String>,
        implicit: Option<&str>,
    ) -> Result<ExploreOutput, ExploreError> {
        if self.is_shutting_down() {
            return Err(ExploreError::ShuttingDown);
        }
        self.running.fetch_add(1, Ordering::AcqRel);
        let _running = Running(&self.running);
        let request = self.request(&input)?;
        let layer = self
            .engine
            .resolve_layer(input.layer.as_deref(), principal.grants.as_deref())
            .ok_or_else(|| {
                ExploreError::Layer(format!(
                    "layer {:?} does not exist or is not available to this caller",
                    input
                        .layer
                        .as_deref()
                        .unwrap_or(crate::describe::DEFAULT_LAYER)
                ))
            })?;
        let span = tracing::Span::current();
        span.record("layer", layer.name.as_str());
        let session = match session_id.as_deref().or(implicit) {
            Some(id) => {
                span.record("session", id);
                SessionRef::Named {
                    scope: principal.name.clone(),
                    id: id.to_owned(),
                }
            }
            None => SessionRef::OneShot {
                scope: principal.name.clone(),
            },
        };
        let busy = |message: &str| ExploreError::Busy {
            message: message.to_owned(),
            retry_after: self.retry_after(),
        };
        let queued = Instant::now();
        let _slot = self.limiter.acquire().await.map_err(|r| match r {
            Refused::QueueFull => busy("every slot is taken and the queue is full"),
            Refused::TimedOut => busy("no slot freed within queue_timeout"),
        })?;
        let slot_deadline = tokio::time::Instant::from_std(queued + self.limiter.queue_timeout());
        let (backend, out) = self
            .engine
            .exec(session, &layer, request, slot_deadline)
            .await
            .map_err(|e| match e {
                EngineError::Busy(m) => busy(&m),
                EngineError::InvalidRequest(m) => ExploreError::Invalid(m),
                EngineError::Unavailable(m) => ExploreError::Unavailable(m),
                EngineError::Closed => busy(&EngineError::Closed.to_string()),
                EngineError::Backend(m) => ExploreError::Backend(m),
            })?;
        Ok(ExploreOutput::new(backend, &out))
    }

    fn retry_after(&self) -> Duration {
        Duration::from_secs(1)
    }
}
