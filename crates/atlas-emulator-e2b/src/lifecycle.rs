//! Pause and connect (resume), with E2B's answers: pause is 204, 409 when the sandbox is
//! already paused, 404 when it does not exist; connect is 200 for a running sandbox (its TTL
//! only extended), 201 for a resumed one, 404 when it does not exist.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::{EmulatorState, api_error, check_api_key, lock, not_found, sandbox_body};

pub(crate) async fn pause(
    State(st): State<Arc<EmulatorState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_api_key(&st, &headers) {
        return *r;
    }
    // The body is optional (`{memory?: bool}`); a body that is there must be JSON.
    if !body.is_empty() && serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return api_error(StatusCode::BAD_REQUEST, "invalid body: not JSON");
    }
    let Some(sb) = st.get(&id) else {
        return not_found(&id);
    };
    if sb.pause() {
        tracing::info!(sandbox = %id, "emulated sandbox paused");
        StatusCode::NO_CONTENT.into_response()
    } else {
        api_error(
            StatusCode::CONFLICT,
            format!("sandbox \"{id}\" is already paused"),
        )
    }
}

pub(crate) async fn connect(
    State(st): State<Arc<EmulatorState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_api_key(&st, &headers) {
        return *r;
    }
    // The spec marks `timeout` required, but e2b 2.51.0's `Sandbox.connect(id)` without
    // `timeoutMs` sends `{}`: the sandbox then keeps its TTL (or gets the server default when
    // resumed). A body that is not JSON, or a `timeout` that is not a count, is refused.
    let v = if body.is_empty() {
        serde_json::json!({})
    } else {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => v,
            Err(e) => return api_error(StatusCode::BAD_REQUEST, format!("invalid body: {e}")),
        }
    };
    let timeout = match v.get("timeout") {
        None | Some(serde_json::Value::Null) => None,
        Some(t) => match t.as_u64() {
            Some(t) => Some(t),
            None => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "timeout must be a non-negative integer",
                );
            }
        },
    };
    let Some(sb) = st.get(&id) else {
        return not_found(&id);
    };
    let until =
        SystemTime::now() + Duration::from_secs(timeout.unwrap_or(crate::DEFAULT_TIMEOUT_SECS));
    let resumed = {
        let mut life = lock(&sb.life);
        if life.is_paused() {
            life.running_since = Some(std::time::Instant::now());
            true
        } else {
            false
        }
    };
    let mut end = lock(&sb.end_at);
    if resumed {
        *end = until;
    } else if timeout.is_some() && *end < until {
        // "TTL is only extended."
        *end = until;
    }
    drop(end);
    let status = if resumed {
        tracing::info!(sandbox = %id, "emulated sandbox resumed");
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(sandbox_body(&sb))).into_response()
}
