//! `/v2/sandboxes/sessions/{sid}`: a session's status, stop and extend-timeout.

use axum::extract::{Path, State};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::VercelEmulator;
use crate::error::{Answer, Reject, bad_request, not_found, parse_json, reply, sandbox_stopped};
use crate::state::{Session, now_ms};

/// Runs `f` on a session: 404 if unknown, 410 `sandbox_stopped` if it is no longer running.
pub(crate) fn with_session<T>(
    emu: &VercelEmulator,
    sid: &str,
    need_running: bool,
    f: impl FnOnce(&mut Session) -> T,
) -> Result<T, Reject> {
    let mut d = emu.data();
    d.expire_all();
    let s = d
        .sessions
        .get_mut(sid)
        .ok_or_else(|| not_found("Session"))?;
    if need_running && !s.running() {
        return Err(sandbox_stopped());
    }
    Ok(f(s))
}

pub(crate) async fn get_session(
    State(emu): State<VercelEmulator>,
    Path(sid): Path<String>,
) -> Answer {
    let session = with_session(&emu, &sid, false, |s| s.json())?;
    reply(json!({"session": session, "routes": []}))
}

pub(crate) async fn stop_session(
    State(emu): State<VercelEmulator>,
    Path(sid): Path<String>,
) -> Answer {
    let sandbox_name = with_session(&emu, &sid, false, |s| s.sandbox.clone())?;
    let mut d = emu.data();
    d.stop_session(&sid);
    let session = d
        .sessions
        .get(&sid)
        .map(Session::json)
        .unwrap_or(Value::Null);
    let sandbox = d
        .sandboxes
        .get(&sandbox_name)
        .map(|rec| d.sandbox_json(rec));
    let mut body = json!({"session": session});
    if let Some(sb) = sandbox {
        body["sandbox"] = sb;
    }
    reply(body)
}

pub(crate) async fn extend_timeout(
    State(emu): State<VercelEmulator>,
    Path(sid): Path<String>,
    body: Bytes,
) -> Answer {
    let v = parse_json(&body)?;
    let Some(by) = v.get("duration").and_then(Value::as_u64).filter(|d| *d > 0) else {
        return Err(bad_request(
            "duration must be a positive number of milliseconds",
        ));
    };
    let session = with_session(&emu, &sid, true, |s| {
        s.timeout_ms = s.timeout_ms.saturating_add(by);
        s.updated_at = now_ms();
        s.json()
    })?;
    reply(json!({"session": session}))
}
