//! Requests and errors: what every handler takes besides its path, query and body, and the
//! vendor's error bodies (the API's NestJS shape and the toolbox daemon's) built from it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use atlas_emulator_kit::SandboxDir;
use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Shared;
use crate::process::{cut_body, session_of};
use crate::session::{self, SharedSession};
use crate::state::EmuSandbox;

/// What every handler needs besides its path, query and body: the emulator, the credentials, and
/// the method and URI that the vendor's error bodies echo.
///
/// Taking it never fails and handlers authorize explicitly, so axum's own rejections of a bad
/// path, query or body still come before a 401.
pub(crate) struct Call {
    pub(crate) c: Shared,
    pub(crate) headers: HeaderMap,
    method: Method,
    uri: Uri,
}

impl FromRequestParts<Shared> for Call {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Infallible> {
        Ok(Call {
            c: state.clone(),
            headers: parts.headers.clone(),
            method: parts.method.clone(),
            uri: parts.uri.clone(),
        })
    }
}

/// A handler's answer. The error is the vendor's error response, so `?` can answer early.
pub(crate) type Answer = Result<Response, Response>;

/// Control plane.
impl Call {
    /// The API's NestJS `AllExceptionsFilter` body.
    pub(crate) fn api_error(&self, status: StatusCode, message: &str) -> Response {
        let body = json!({
            "path": self.uri.path(),
            "timestamp": atlas_emulator_kit::rfc3339_millis(SystemTime::now()),
            "statusCode": status.as_u16(),
            "error": status.canonical_reason().unwrap_or("Error"),
            "message": message,
        });
        (status, Json(body)).into_response()
    }

    pub(crate) fn authorize(&self) -> Result<(), Response> {
        let token = self
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        let expected = self.c.lock().api_key.clone();
        let ok = match expected {
            Some(k) => token == k,
            None => !token.is_empty(),
        };
        if ok {
            Ok(())
        } else {
            Err(self.api_error(StatusCode::UNAUTHORIZED, "Unauthorized"))
        }
    }

    pub(crate) fn sandbox_not_found(&self, id: &str) -> Response {
        self.api_error(
            StatusCode::NOT_FOUND,
            &format!("Sandbox with ID or name {id} not found"),
        )
    }

    /// Runs `f` on sandbox `id` under the state lock, or answers the API's 404.
    pub(crate) fn with_sandbox<R>(
        &self,
        id: &str,
        f: impl FnOnce(&mut EmuSandbox) -> R,
    ) -> Result<R, Response> {
        let mut st = self.c.lock();
        match st.sandboxes.get_mut(id) {
            Some(sb) => Ok(f(sb)),
            None => Err(self.sandbox_not_found(id)),
        }
    }
}

/// Toolbox.
impl Call {
    /// The daemon's `ErrorResponse`.
    pub(crate) fn toolbox_error(&self, status: StatusCode, code: &str, message: &str) -> Response {
        let body = json!({
            "statusCode": status.as_u16(),
            "message": message,
            "code": code,
            "path": self.uri.path(),
            "method": self.method.as_str(),
            "timestamp": atlas_emulator_kit::rfc3339_millis(SystemTime::now()),
            "source": "DAYTONA_DAEMON",
        });
        (status, Json(body)).into_response()
    }

    pub(crate) fn bad_request(&self, message: &str) -> Response {
        self.toolbox_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub(crate) fn not_found(&self, message: &str) -> Response {
        self.toolbox_error(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// Resolves the started sandbox a toolbox request is for, or the proxy's error. Like the
    /// proxy, a request counts as activity (it resets the auto-stop clock). A sandbox that is
    /// not running is refused with 503 and its state in `X-Daytona-Sandbox-State`: the request
    /// reaches no daemon.
    pub(crate) fn sandbox(&self, id: &str) -> Result<Arc<SandboxDir>, Response> {
        self.authorize()?;
        let mut st = self.c.lock();
        let Some(sb) = st.sandboxes.get_mut(id) else {
            return Err(self.not_found(&format!("sandbox {id} not found")));
        };
        let state = sb.state();
        if state != "started" {
            let mut resp = self.toolbox_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                &format!("sandbox is in {state} state"),
            );
            if let Ok(v) = axum::http::HeaderValue::from_str(state) {
                resp.headers_mut().insert("x-daytona-sandbox-state", v);
            }
            return Err(resp);
        }
        sb.active_at = Instant::now();
        sb.last_activity = SystemTime::now();
        Ok(sb.dir.clone())
    }

    /// The session `sid` of sandbox `id`, after the checks of [`Call::sandbox`].
    pub(crate) fn session(&self, id: &str, sid: &str) -> Result<SharedSession, Response> {
        self.sandbox(id)?;
        session_of(&self.c, id, sid).ok_or_else(|| self.not_found("session not found"))
    }

    /// Command `cid` of session `sid`, after the checks of [`Call::session`].
    pub(crate) async fn command(
        &self,
        id: &str,
        sid: &str,
        cid: &str,
    ) -> Result<session::SessionCommand, Response> {
        let session = self.session(id, sid)?;
        let cmd = session.lock().await.commands.get(cid).cloned();
        cmd.ok_or_else(|| self.not_found("command not found"))
    }

    /// A toolbox request body as JSON, or the daemon's 400 answer.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, body: &[u8]) -> Result<T, Response> {
        serde_json::from_slice(body).map_err(|e| {
            self.toolbox_error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_BODY",
                &format!("invalid request body: {e}"),
            )
        })
    }

    /// An output body, which a test may have asked to be cut short on this path.
    pub(crate) fn output(&self, content_type: &'static str, body: bytes::Bytes) -> Response {
        let body = match self.c.kit.take_stream_cut(self.uri.path()) {
            Some(after) => cut_body(body, after),
            None => axum::body::Body::from(body),
        };
        ([("content-type", content_type)], body).into_response()
    }
}
