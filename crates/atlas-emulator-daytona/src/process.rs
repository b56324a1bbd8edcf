//! The toolbox's process calls: `process/execute`, and sessions with their commands and logs
//! in the format the caller's SDK version selects.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::call::{Answer, Call};
use crate::files::vendor_path;
use crate::session::{self, Session, SharedSession, demux, strip_prefixes};
use crate::{Control, WORK_DIR};

#[derive(Debug, Deserialize)]
struct ExecuteBody {
    pub(crate) command: String,
    cwd: Option<String>,
    envs: Option<BTreeMap<String, String>>,
    pub(crate) timeout: Option<u64>,
}

fn valid_env_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `process/execute`: the daemon pipes the command to a shell with stdout and stderr in one
/// buffer; on timeout it kills the process group and answers 408, dropping the output.
pub(crate) async fn execute(call: Call, Path(id): Path<String>, body: axum::body::Bytes) -> Answer {
    let dir = call.sandbox(&id)?;
    let req: ExecuteBody = call.json(&body)?;
    if req.command.trim().is_empty() {
        return Err(call.bad_request("command cannot be empty or whitespace-only"));
    }
    let mut script = format!(
        "export HOME={}\nexec 2>&1\n",
        atlas_sandbox_sdk::shell_quote(&dir.map(WORK_DIR).to_string_lossy())
    );
    for (k, v) in req.envs.iter().flatten() {
        if !valid_env_key(k) {
            return Err(call.bad_request(&format!("invalid environment variable name: {k}")));
        }
        script.push_str(&format!(
            "export {k}={}\n",
            atlas_sandbox_sdk::shell_quote(v)
        ));
    }
    script.push_str(&req.command);
    let cwd = vendor_path(req.cwd.as_deref().unwrap_or(WORK_DIR));
    // No timeout field means no limit at the daemon; a day stands in for "none".
    let timeout = match req.timeout {
        Some(t) if t > 0 => Duration::from_secs(t),
        _ => Duration::from_secs(24 * 3600),
    };
    match dir
        .run_sh(&script, Some(&cwd), timeout, 256 * 1024 * 1024)
        .await
    {
        Ok(r) if r.output.timed_out => Err(call.toolbox_error(
            StatusCode::REQUEST_TIMEOUT,
            "PROCESS_EXECUTION_TIMEOUT",
            "command execution timeout",
        )),
        Ok(r) => Ok(Json(json!({
            "exitCode": r.output.exit_code,
            "result": String::from_utf8_lossy(&r.output.stdout),
        }))
        .into_response()),
        Err(e) => Ok(Json(json!({"exitCode": -1, "result": e.to_string()})).into_response()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSessionBody {
    session_id: String,
}

pub(crate) fn session_of(c: &Control, id: &str, sid: &str) -> Option<SharedSession> {
    c.lock().sandboxes.get(id)?.sessions.get(sid).cloned()
}

pub(crate) async fn create_session(
    call: Call,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Answer {
    let dir = call.sandbox(&id)?;
    let req: CreateSessionBody = call.json(&body)?;
    if session_of(&call.c, &id, &req.session_id).is_some() {
        return Err(call.toolbox_error(StatusCode::CONFLICT, "CONFLICT", "session already exists"));
    }
    let home = dir.map(WORK_DIR);
    let sdir = dir.map(&format!("/tmp/.daytona/sessions/{}", req.session_id));
    let tmp = dir.map("/tmp");
    let prefix = atlas_emulator_kit::private_tmp_prefix(&tmp).await;
    let session = Session::start(&req.session_id, sdir, &home, &home, &tmp, prefix.as_deref())
        .map_err(|e| {
            call.toolbox_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                &e.to_string(),
            )
        })?;
    let mut st = call.c.lock();
    let sb = st
        .sandboxes
        .get_mut(&id)
        .ok_or_else(|| call.not_found("sandbox not found"))?;
    sb.sessions
        .insert(req.session_id, Arc::new(tokio::sync::Mutex::new(session)));
    Ok(StatusCode::CREATED.into_response())
}

fn command_dto(cmd: &session::SessionCommand) -> Value {
    let mut v = json!({"id": cmd.id, "command": cmd.command});
    if let Some(code) = cmd.exit_code() {
        v["exitCode"] = json!(code);
    }
    v
}

async fn session_dto(s: &SharedSession) -> Value {
    let s = s.lock().await;
    let commands: Vec<Value> = s
        .order
        .iter()
        .filter_map(|id| s.commands.get(id))
        .map(command_dto)
        .collect();
    json!({"sessionId": s.id, "commands": commands})
}

pub(crate) async fn list_sessions(call: Call, Path(id): Path<String>) -> Answer {
    call.sandbox(&id)?;
    let sessions: Vec<SharedSession> = call
        .c
        .lock()
        .sandboxes
        .get(&id)
        .map(|s| s.sessions.values().cloned().collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for s in &sessions {
        out.push(session_dto(s).await);
    }
    Ok(Json(Value::Array(out)).into_response())
}

pub(crate) async fn get_session(call: Call, Path((id, sid)): Path<(String, String)>) -> Answer {
    let s = call.session(&id, &sid)?;
    Ok(Json(session_dto(&s).await).into_response())
}

pub(crate) async fn delete_session(call: Call, Path((id, sid)): Path<(String, String)>) -> Answer {
    call.sandbox(&id)?;
    let removed = call
        .c
        .lock()
        .sandboxes
        .get_mut(&id)
        .and_then(|s| s.sessions.remove(&sid));
    let s = removed.ok_or_else(|| call.not_found("session not found"))?;
    s.lock().await.kill();
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionExecBody {
    pub(crate) command: String,
    #[serde(default)]
    run_async: bool,
    #[serde(default, rename = "async")]
    legacy_async: bool,
}

/// How the daemon shapes session output for the caller, from its SDK version headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// JSON `{output, stdout, stderr}` split by the server (SDK >= 0.167).
    Json,
    /// The raw log with stream prefixes, for the client to split (SDK 0.27..0.167, or no SDK
    /// version with `X-Daytona-Split-Output: true`).
    Raw,
    /// Prefixes removed, streams merged (old SDKs, and callers that ask for nothing).
    Combined,
}

fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

pub(crate) fn log_format(headers: &HeaderMap) -> LogFormat {
    let sdk = headers
        .get("x-daytona-sdk-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    if sdk.is_empty() {
        let split = headers
            .get("x-daytona-split-output")
            .and_then(|v| v.to_str().ok())
            == Some("true");
        return if split {
            LogFormat::Raw
        } else {
            LogFormat::Combined
        };
    }
    if sdk.contains("dev") {
        return LogFormat::Json;
    }
    match parse_version(sdk) {
        Some(v) if v < (0, 27, 0) => LogFormat::Combined,
        Some(v) if v < (0, 167, 0) => LogFormat::Raw,
        Some(_) => LogFormat::Json,
        None => LogFormat::Raw,
    }
}

/// A command log as the JSON fields `output`, `stdout` and `stderr` in `format`: the streams are
/// split (and not null) only for the SDKs that read them from the server.
fn log_fields(log: &[u8], format: LogFormat) -> (Value, Value, Value) {
    match format {
        LogFormat::Combined => (
            json!(String::from_utf8_lossy(&strip_prefixes(log))),
            Value::Null,
            Value::Null,
        ),
        LogFormat::Raw => (
            json!(String::from_utf8_lossy(log)),
            Value::Null,
            Value::Null,
        ),
        LogFormat::Json => {
            let (out, err) = demux(log);
            (
                json!(String::from_utf8_lossy(log)),
                json!(String::from_utf8_lossy(&out)),
                json!(String::from_utf8_lossy(&err)),
            )
        }
    }
}

pub(crate) async fn session_exec(
    call: Call,
    Path((id, sid)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Answer {
    call.sandbox(&id)?;
    let req: SessionExecBody = call.json(&body)?;
    if req.command.trim().is_empty() {
        return Err(call.bad_request("command cannot be empty"));
    }
    let session =
        session_of(&call.c, &id, &sid).ok_or_else(|| call.not_found("session not found"))?;
    let cmd = session
        .lock()
        .await
        .execute(&req.command)
        .await
        .map_err(|e| call.bad_request(&format!("failed to write command: {e}")))?;
    if req.run_async || req.legacy_async {
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({"cmdId": cmd.id, "output": null, "stdout": null, "stderr": null, "exitCode": null})),
        )
            .into_response());
    }
    // Synchronous: wait for the exit code as the daemon does (no server-side deadline).
    let code = loop {
        if let Some(code) = cmd.exit_code() {
            break code;
        }
        if session_of(&call.c, &id, &sid).is_none() {
            return Err(call.bad_request("session cancelled"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (output, stdout, stderr) = log_fields(&cmd.log(), log_format(&call.headers));
    let resp = json!({
        "cmdId": cmd.id, "output": output, "stdout": stdout, "stderr": stderr, "exitCode": code,
    });
    Ok(call.output(
        "application/json; charset=utf-8",
        bytes::Bytes::from(resp.to_string()),
    ))
}

pub(crate) async fn get_command(
    call: Call,
    Path((id, sid, cid)): Path<(String, String, String)>,
) -> Answer {
    let cmd = call.command(&id, &sid, &cid).await?;
    Ok(Json(command_dto(&cmd)).into_response())
}

pub(crate) async fn command_logs(
    call: Call,
    Path((id, sid, cid)): Path<(String, String, String)>,
) -> Answer {
    let cmd = call.command(&id, &sid, &cid).await?;
    let log = cmd.log();
    let (content_type, body) = match log_format(&call.headers) {
        LogFormat::Json => {
            let (output, stdout, stderr) = log_fields(&log, LogFormat::Json);
            let v = json!({"output": output, "stdout": stdout, "stderr": stderr});
            (
                "application/json; charset=utf-8",
                bytes::Bytes::from(v.to_string()),
            )
        }
        LogFormat::Raw => ("text/plain; charset=utf-8", bytes::Bytes::from(log)),
        LogFormat::Combined => (
            "text/plain; charset=utf-8",
            bytes::Bytes::from(strip_prefixes(&log)),
        ),
    };
    Ok(call.output(content_type, body))
}

/// A body that stops after `after` bytes with an error, so the connection drops mid-response
/// (the client sees a truncated body, as when a proxy cuts a stream).
pub(crate) fn cut_body(body: bytes::Bytes, after: usize) -> axum::body::Body {
    let head = body.slice(..after.min(body.len()));
    let stream = futures::stream::iter(vec![
        Ok::<bytes::Bytes, std::io::Error>(head),
        Err(std::io::Error::other("stream cut by fault injection")),
    ]);
    axum::body::Body::from_stream(stream)
}
