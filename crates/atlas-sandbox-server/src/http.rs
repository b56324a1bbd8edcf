//! `serve`: Streamable HTTP MCP at `/mcp`, the JSON API at `/v1`, `/healthz`, `/metrics`,
//! bearer-token authentication, body limits and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::SESSION_HEADER;
use crate::api::{ErrorBody, ErrorDetail, ExploreInput};
use crate::auth::{Principal, authenticate};
use crate::core::{Core, ExploreError, Transport};
use crate::mcp::ExploreMcp;

/// Whether `addr` only accepts local connections.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message: message.into(),
        },
    };
    (status, axum::Json(body)).into_response()
}

fn explore_error(e: &ExploreError) -> Response {
    match e {
        ExploreError::Busy { retry_after, .. } => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "busy", e.to_string());
            if let Ok(v) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        ExploreError::Layer(m) => error(StatusCode::NOT_FOUND, "not_found", m.clone()),
        ExploreError::Invalid(m) => error(StatusCode::BAD_REQUEST, "invalid_request", m.clone()),
        ExploreError::Unavailable(m) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m.clone())
        }
        ExploreError::ShuttingDown => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            e.to_string(),
        ),
        ExploreError::Backend(m) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "backend_error",
            m.clone(),
        ),
    }
}

async fn auth(State(core): State<Arc<Core>>, mut req: Request, next: Next) -> Response {
    let tokens = &core.options().tokens;
    let principal = if tokens.is_empty() {
        Some(Principal::unrestricted("anonymous"))
    } else {
        let h = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        authenticate(tokens, h)
    };
    match principal {
        Some(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        None => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong bearer token (Authorization: Bearer <token>)",
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
    }
}

fn session_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Runs one command (in a session when one is named).
#[utoipa::path(
    post,
    tag = "exec",
    path = "/v1/exec",
    request_body = ExploreInput,
    params(("Atlas-Session" = Option<String>, Header, description = "Session id (the body's `session` wins)")),
    responses(
        (status = 200, description = "The command ran (any exit code)", body = crate::api::ExploreOutput),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "Unknown or forbidden layer (one answer for both)", body = ErrorBody),
        (status = 413, description = "Body larger than server.max_body_bytes", body = ErrorBody),
        (status = 429, description = "Busy; retry after the Retry-After header", body = ErrorBody),
        (status = 500, description = "The backend failed", body = ErrorBody),
        (status = 503, description = "No backend, or shutting down", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn exec(
    State(core): State<Arc<Core>>,
    axum::Extension(principal): axum::Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let input: ExploreInput = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("the body is not a valid exec request: {e}"),
            );
        }
    };
    // Dropped when the client disconnects, which stops the command.
    match core
        .explore(
            &principal,
            input,
            session_header(&headers),
            None,
            Transport::Json,
        )
        .await
    {
        Ok(out) => axum::Json(out).into_response(),
        Err(e) => explore_error(&e),
    }
}

/// The backends: configured, healthy, selected, and why.
#[utoipa::path(
    get,
    tag = "exec",
    path = "/v1/backends",
    responses((status = 200, description = "The `atlas-sandbox backends --json` report", body = Object)),
    security(("bearer" = []))
)]
pub(crate) async fn backends(State(core): State<Arc<Core>>) -> Response {
    axum::Json(core.engine().backends().await).into_response()
}

/// Closes a session of the caller and its sandbox.
#[utoipa::path(
    delete,
    tag = "sessions",
    path = "/v1/sessions/{id}",
    params(("id" = String, Path, description = "The session id")),
    responses(
        (status = 204, description = "Closed (its sandbox too)"),
        (status = 404, description = "No such session of this caller", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn close_session(
    State(core): State<Arc<Core>>,
    axum::Extension(principal): axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    if core.engine().close_session(&principal.name, &id).await > 0 {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no open session {id:?}"),
        )
    }
}

/// Liveness: 200 while serving, 503 once shutdown began.
#[utoipa::path(
    get,
    tag = "operations",
    path = "/healthz",
    responses(
        (status = 200, description = "Serving"),
        (status = 503, description = "Shutting down"),
    )
)]
pub(crate) async fn healthz(State(core): State<Arc<Core>>) -> Response {
    if core.is_shutting_down() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else {
        (StatusCode::OK, "ok\n").into_response()
    }
}

/// Prometheus metrics.
#[utoipa::path(
    get,
    tag = "operations",
    path = "/metrics",
    responses((status = 200, description = "Prometheus text exposition format", body = String))
)]
pub(crate) async fn metrics(State(core): State<Arc<Core>>) -> Response {
    let text = crate::metrics::render(
        core.engine().stats(),
        core.queue_depth(),
        core.in_progress(),
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

async fn too_large(req: Request, next: Next) -> Response {
    let r = next.run(req).await;
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE
        && r.headers()
            .get(header::CONTENT_TYPE)
            .is_none_or(|v| !v.to_str().is_ok_and(|s| s.starts_with("application/json")))
    {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than server.max_body_bytes",
        );
    }
    r
}

/// The whole HTTP application. `loopback`: keep rmcp's Host-header check (DNS rebinding) on.
pub fn router(core: Arc<Core>, loopback: bool, cancel: CancellationToken) -> Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_cancellation_token(cancel)
        .with_max_request_body_bytes(core.options().max_body_bytes);
    if !loopback {
        // Tokens are required off loopback, and a browser tricked by DNS rebinding has none.
        config = config.disable_allowed_hosts();
    }
    let mcp_core = core.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(ExploreMcp::http(mcp_core.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let authed = Router::new()
        .route("/v1/exec", post(exec))
        .route("/v1/backends", get(backends))
        .route("/v1/sessions/{id}", delete(close_session))
        .nest_service("/mcp", mcp)
        .route_layer(middleware::from_fn_with_state(core.clone(), auth));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    crate::openapi::openapi_json(),
                )
            }),
        )
        .merge(authed)
        .layer(middleware::from_fn(too_large))
        .layer(DefaultBodyLimit::max(core.options().max_body_bytes))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            core.options().max_body_bytes,
        ))
        .with_state(core)
}

/// Resolves on SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Serves until SIGTERM/Ctrl-C (or `stop` resolves): stops accepting, lets running commands
/// finish within `shutdown_grace`, then closes every session. `ready` gets the bound address.
pub async fn serve_http(
    core: Arc<Core>,
    addr: SocketAddr,
    ready: impl FnOnce(SocketAddr),
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if !is_loopback(&addr) && core.options().tokens.is_empty() {
        return Err(std::io::Error::other(format!(
            "refusing to listen on {addr}, which is not a loopback address, without \
             [[server.tokens]]: anyone who can reach it could run commands. Add a token or \
             listen on 127.0.0.1"
        )));
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let cancel = CancellationToken::new();
    let app = router(core.clone(), is_loopback(&local), cancel.clone());
    ready(local);
    tracing::info!(%local, "serving MCP at /mcp and the JSON API at /v1");
    let signalled = CancellationToken::new();
    let s2 = signalled.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = shutdown_signal() => {},
            _ = stop => {},
        }
        s2.cancel();
    });
    let s3 = signalled.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { s3.cancelled().await });
    let mut server = std::pin::pin!(server.into_future());
    let mut finished = false;
    tokio::select! {
        r = &mut server => { r?; finished = true; }
        _ = signalled.cancelled() => {}
    }
    core.begin_shutdown();
    let grace = core.options().shutdown_grace;
    let drained = core.drain(grace).await;
    if !drained {
        tracing::warn!(
            still_running = core.in_progress(),
            "shutdown_grace passed; closing sessions stops the remaining commands"
        );
    }
    cancel.cancel();
    let errors = core.engine().shutdown().await;
    for e in &errors {
        tracing::warn!(error = %e, "closing a session failed");
    }
    // Connections still open (a command stopped by the close answers now) get a moment.
    if !finished {
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut server).await;
    }
    Ok(())
}
