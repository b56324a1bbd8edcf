//! The vendor's error shape and the body parsing whose failures answer with it: every handler
//! returns through these so that a refusal looks the same whichever route made it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

/// A vendor-shaped error response, on the `Err` side of handlers and their helpers so that
/// `?` answers with it (boxed: a `Response` is large).
pub(crate) struct Reject(Box<Response>);

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// What a handler answers.
pub(crate) type Answer = Result<Response, Reject>;

pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Reject {
    Reject(Box::new(
        (
            status,
            axum::Json(json!({"error": {"code": code, "message": message.into()}})),
        )
            .into_response(),
    ))
}

pub(crate) fn bad_request(message: impl Into<String>) -> Reject {
    error(StatusCode::BAD_REQUEST, "bad_request", message)
}

/// A 404 for an unknown `what` ("Sandbox", "Session", "Command").
pub(crate) fn not_found(what: &str) -> Reject {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("{what} not found"),
    )
}

pub(crate) fn sandbox_stopped() -> Reject {
    error(
        StatusCode::GONE,
        "sandbox_stopped",
        "The sandbox session is stopped",
    )
}

pub(crate) fn internal_error(message: impl Into<String>) -> Reject {
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
}

/// A 200 with a JSON body.
pub(crate) fn reply(body: Value) -> Answer {
    Ok(axum::Json(body).into_response())
}
pub(crate) fn parse_json(body: &Bytes) -> Result<Value, Reject> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid JSON body: {e}")))
}

/// A body field decoded as `T`: its default when absent or null, `invalid` as a 400 when it
/// does not decode.
pub(crate) fn optional_field<T: serde::de::DeserializeOwned + Default>(
    v: &Value,
    key: &str,
    invalid: &str,
) -> Result<T, Reject> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(x) => serde_json::from_value(x.clone()).map_err(|_| bad_request(invalid)),
    }
}
