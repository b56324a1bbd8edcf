//! envd, the daemon inside each sandbox, as reached through E2B's proxy with the
//! `E2b-Sandbox-Id` / `E2b-Sandbox-Port` headers: `/health`, `/files`, and the Connect
//! `process.Process` service with the JSON codec.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use atlas_emulator_kit::{OutputChunk, StreamKind};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::{EmuSandbox, EmulatorState, api_error, lock};

/// The path prefix commands and relative file paths resolve against.
const HOME: &str = "/home/user";
/// Output chunk size in data events.
const CHUNK: usize = 32 * 1024;
/// The most output the emulator keeps per stream (envd itself has no cap; this bounds memory).
const EMULATOR_OUTPUT_CAP: usize = 16 * 1024 * 1024;
/// Commands without `Connect-Timeout-Ms` run at most this long.
const NO_DEADLINE: Duration = Duration::from_secs(24 * 3600);

/// Why a running command is being stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `SendSignal` SIGKILL/SIGTERM: the command ends with a signal status.
    Signal,
    /// The sandbox vanished: the connection just drops.
    Vanished,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The sandbox a request is routed to, with its access token checked.
fn route(
    st: &EmulatorState,
    headers: &HeaderMap,
    check_token: bool,
) -> Result<Arc<EmuSandbox>, Box<Response>> {
    let Some(id) = header_str(headers, "e2b-sandbox-id") else {
        return Err(Box::new(api_error(
            StatusCode::BAD_REQUEST,
            "missing E2b-Sandbox-Id header",
        )));
    };
    let Some(sb) = st.get(id) else {
        // What E2B's client proxy answers for a sandbox that is not running.
        return Err(Box::new(
            (
                StatusCode::BAD_GATEWAY,
                Json(json!({"sandboxId": id, "message": "The sandbox was not found", "code": 502})),
            )
                .into_response(),
        ));
    };
    if sb.is_paused() {
        // A paused sandbox (created without auto-resume) runs nothing until it is connected.
        return Err(Box::new(
            (
                StatusCode::BAD_GATEWAY,
                Json(json!({"sandboxId": id, "message": "The sandbox is paused", "code": 502})),
            )
                .into_response(),
        ));
    }
    if check_token && header_str(headers, "x-access-token") != Some(sb.token.as_str()) {
        return Err(Box::new(api_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized access, please provide a valid access token or method signing if supported",
        )));
    }
    Ok(sb)
}

/// `GET /health`: envd's (204) when routed to a sandbox, else the API's own.
pub(crate) async fn health(State(st): State<Arc<EmulatorState>>, headers: HeaderMap) -> Response {
    if header_str(&headers, "e2b-sandbox-id").is_none() {
        return (StatusCode::OK, "Health check successful").into_response();
    }
    match route(&st, &headers, false) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => *r,
    }
}

/// A vendor path, absolute or relative to the home directory.
fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{HOME}/{path}")
    }
}

fn query_param(query: &Option<String>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// `POST /files`: multipart (parts named `file`, filename = destination) or octet-stream with
/// `?path=`. Parents are created; existing files are overwritten.
pub(crate) async fn upload(
    State(st): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let sb = match route(&st, &headers, true) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let ctype = header_str(&headers, "content-type").unwrap_or("");
    let query_path = query_param(&query, "path");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(boundary) = crate::multipart::boundary(ctype) {
        let parts = match crate::multipart::parse(&body, &boundary) {
            Ok(p) => p,
            Err(e) => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid multipart body: {e}"),
                );
            }
        };
        let file_parts: Vec<_> = parts
            .into_iter()
            .filter(|p| p.name.as_deref() == Some("file"))
            .collect();
        let single = file_parts.len() == 1;
        for p in file_parts {
            let dest = match (&query_path, single, p.filename) {
                (Some(q), true, _) => q.clone(),
                (_, _, Some(f)) if !f.is_empty() => f,
                _ => {
                    return api_error(
                        StatusCode::BAD_REQUEST,
                        "a file part has no filename and no path was given",
                    );
                }
            };
            files.push((dest, p.data));
        }
    } else if ctype.starts_with("application/octet-stream") {
        let Some(q) = query_path else {
            return api_error(
                StatusCode::BAD_REQUEST,
                "the path query parameter is required for octet-stream uploads",
            );
        };
        files.push((q, body.to_vec()));
    } else {
        return api_error(
            StatusCode::BAD_REQUEST,
            format!("unsupported content type {ctype:?}"),
        );
    }
    let mut entries = Vec::new();
    for (dest, data) in files {
        let abs = absolute(&dest);
        let host = sb.dir.map(&abs);
        if host.is_dir() {
            return api_error(
                StatusCode::BAD_REQUEST,
                format!("path '{abs}' is a directory"),
            );
        }
        let written = host
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&host, &data));
        if let Err(e) = written {
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("error writing file '{abs}': {e}"),
            );
        }
        let name = abs.rsplit('/').next().unwrap_or("").to_owned();
        entries.push(json!({"name": name, "type": "file", "path": abs}));
    }
    Json(entries).into_response()
}

/// `GET /files?path=`: the raw bytes.
pub(crate) async fn download(
    State(st): State<Arc<EmulatorState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let sb = match route(&st, &headers, true) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some(path) = query_param(&query, "path") else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "the path query parameter is required",
        );
    };
    let abs = absolute(&path);
    let host = sb.dir.map(&abs);
    if host.is_dir() {
        return api_error(
            StatusCode::BAD_REQUEST,
            format!("path '{abs}' is a directory"),
        );
    }
    match std::fs::read(&host) {
        Ok(data) => ([(header::CONTENT_TYPE, "application/octet-stream")], data).into_response(),
        Err(_) => api_error(
            StatusCode::NOT_FOUND,
            format!("path '{abs}' does not exist"),
        ),
    }
}

fn connect_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"code": code, "message": message.into()})),
    )
        .into_response()
}

/// `POST /process.Process/{method}`.
pub(crate) async fn process_rpc(
    State(st): State<Arc<EmulatorState>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sb = match route(&st, &headers, true) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match method.as_str() {
        "Start" => start(&st, sb, &headers, &body),
        "SendSignal" => send_signal(&sb, &headers, &body),
        other => connect_error(
            StatusCode::NOT_FOUND,
            "unimplemented",
            format!("process.Process/{other} is not implemented by the emulator"),
        ),
    }
}

fn send_signal(sb: &EmuSandbox, headers: &HeaderMap, body: &[u8]) -> Response {
    if !header_str(headers, "content-type").is_some_and(|c| c.starts_with("application/json")) {
        return connect_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unknown",
            "expected application/json",
        );
    }
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return connect_error(StatusCode::BAD_REQUEST, "invalid_argument", e.to_string()),
    };
    let Some(pid) = v.pointer("/process/pid").and_then(Value::as_u64) else {
        return connect_error(
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "process.pid is required",
        );
    };
    let tx = lock(&sb.processes).remove(&(pid as u32));
    match tx {
        Some(tx) => {
            let _ = tx.send(Stop::Signal);
            Json(json!({})).into_response()
        }
        None => connect_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("process with pid {pid} not found"),
        ),
    }
}

fn envelope(flags: u8, v: &Value) -> Bytes {
    let payload = serde_json::to_vec(v).unwrap_or_default();
    let mut out = BytesMut::with_capacity(payload.len() + 5);
    out.put_u8(flags);
    out.put_u32(payload.len() as u32);
    out.put_slice(&payload);
    out.freeze()
}

/// The line `sh` runs for a Start request: `exec` of the argv exactly as given, so the program
/// the client asked for (`/bin/bash -c ...`, `/bin/sh -c ...`) is the one that runs, as in a
/// real sandbox; one the image lacks fails (127) instead of quietly becoming `sh`.
fn script_of(cmd: &str, args: &[String], envs: &BTreeMap<String, String>) -> String {
    envs.iter()
        .map(|(k, v)| format!("export {k}={};", atlas_sandbox_sdk::shell_quote(v)))
        .chain(std::iter::once("exec".to_owned()))
        .chain(
            std::iter::once(cmd)
                .chain(args.iter().map(String::as_str))
                .map(atlas_sandbox_sdk::shell_quote),
        )
        .collect::<Vec<_>>()
        .join(" ")
}

/// The response body writer, applying an injected stream cut.
struct Out {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    cut: Option<usize>,
    sent: usize,
}

impl Out {
    /// Sends bytes; `false` when the client is gone or the stream was cut.
    async fn send(&mut self, data: Bytes) -> bool {
        let data = match self.cut {
            Some(after) => match atlas_emulator_kit::cut_after(data, &mut self.sent, after) {
                Some(d) if !d.is_empty() => d,
                _ => return false,
            },
            None => data,
        };
        let whole = self.cut.is_none_or(|after| self.sent < after);
        self.tx.send(Ok(data)).await.is_ok() && whole
    }
}

fn start(st: &EmulatorState, sb: Arc<EmuSandbox>, headers: &HeaderMap, body: &[u8]) -> Response {
    if !header_str(headers, "content-type")
        .is_some_and(|c| c.starts_with("application/connect+json"))
    {
        return connect_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unknown",
            "the emulator speaks application/connect+json",
        );
    }
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let out = Out {
        tx,
        cut: st.kit.take_stream_cut("/process.Process/Start"),
        sent: 0,
    };
    let timeout = header_str(headers, "connect-timeout-ms")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
    let keepalive = header_str(headers, "keepalive-ping-interval")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    let request = parse_start(body);
    let pid = st.next_pid.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(run_process(sb, pid, request, timeout, keepalive, out));
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (
        [(header::CONTENT_TYPE, "application/connect+json")],
        Body::from_stream(stream),
    )
        .into_response()
}

struct StartReq {
    cmd: String,
    args: Vec<String>,
    /// `process.envs`: set for this process over the sandbox's own environment, as envd does.
    envs: BTreeMap<String, String>,
    cwd: Option<String>,
}

fn parse_start(body: &[u8]) -> Result<StartReq, String> {
    if body.len() < 5 {
        return Err("the request is not a Connect envelope".into());
    }
    if body[0] & 0x01 != 0 {
        return Err("compressed messages are not supported".into());
    }
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    let payload = body
        .get(5..5 + len)
        .ok_or("the request envelope is truncated")?;
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| format!("invalid StartRequest: {e}"))?;
    let cmd = v
        .pointer("/process/cmd")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or("process.cmd is required")?
        .to_owned();
    let args = v
        .pointer("/process/args")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let cwd = v
        .pointer("/process/cwd")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut envs = BTreeMap::new();
    if let Some(map) = v.pointer("/process/envs") {
        let map = map
            .as_object()
            .ok_or("process.envs must map strings to strings")?;
        for (k, val) in map {
            let val = val
                .as_str()
                .ok_or("process.envs must map strings to strings")?;
            let name_ok = k.bytes().next().is_some_and(|b| !b.is_ascii_digit())
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !name_ok || val.contains('\0') {
                return Err(format!("process.envs: cannot set {k:?}"));
            }
            envs.insert(k.clone(), val.to_owned());
        }
    }
    Ok(StartReq {
        cmd,
        args,
        envs,
        cwd,
    })
}

fn end_stream_error(code: &str, message: &str) -> Bytes {
    envelope(0x02, &json!({"error": {"code": code, "message": message}}))
}

async fn send_output(out: &mut Out, key: &str, data: &[u8]) -> bool {
    for chunk in data.chunks(CHUNK) {
        let ev = json!({"event": {"data": {key: STANDARD.encode(chunk)}}});
        if !out.send(envelope(0, &ev)).await {
            return false;
        }
    }
    true
}

fn signal_name(sig: i32) -> String {
    match sig {
        1 => "hangup".into(),
        2 => "interrupt".into(),
        9 => "killed".into(),
        13 => "broken pipe".into(),
        15 => "terminated".into(),
        s => format!("signal {s}"),
    }
}

async fn run_process(
    sb: Arc<EmuSandbox>,
    pid: u32,
    request: Result<StartReq, String>,
    timeout: Option<Duration>,
    keepalive: Option<Duration>,
    mut out: Out,
) {
    let req = match request {
        Ok(r) => r,
        Err(e) => {
            out.send(end_stream_error("invalid_argument", &e)).await;
            return;
        }
    };
    let cwd = absolute(req.cwd.as_deref().unwrap_or(HOME));
    if !sb.dir.map(&cwd).is_dir() {
        let msg = format!("error starting process: chdir {cwd}: no such file or directory");
        out.send(end_stream_error("internal", &msg)).await;
        return;
    }
    let (stop_tx, stop_rx) = oneshot::channel::<Stop>();
    lock(&sb.processes).insert(pid, stop_tx);
    let started = json!({"event": {"start": {"pid": pid}}});
    if !out.send(envelope(0, &started)).await {
        lock(&sb.processes).remove(&pid);
        return;
    }
    if sb.frozen.load(Ordering::SeqCst) {
        // A dead VM behind a live proxy: nothing more ever arrives.
        out.tx.closed().await;
        lock(&sb.processes).remove(&pid);
        return;
    }
    let script = script_of(&req.cmd, &req.args, &req.envs);
    let deadline = timeout.unwrap_or(NO_DEADLINE);
    // Output goes out as it is read, as envd streams it: a client that kills a command for its
    // output volume must see that volume while the command runs.
    let (tap_tx, mut tap_rx) = mpsc::channel::<OutputChunk>(16);
    let outcome = {
        let run = sb.dir.run_sh_streaming(
            &script,
            Some(&cwd),
            deadline,
            EMULATOR_OUTPUT_CAP,
            Some(tap_tx),
        );
        tokio::pin!(run);
        let mut stop_rx = stop_rx;
        let mut ticker =
            keepalive.map(|k| tokio::time::interval_at(tokio::time::Instant::now() + k, k));
        let mut finished = None;
        let mut tap_open = true;
        loop {
            if !tap_open && let Some(r) = finished.take() {
                break Ok(r);
            }
            tokio::select! {
                r = &mut run, if finished.is_none() => finished = Some(r),
                chunk = tap_rx.recv(), if tap_open => match chunk {
                    Some(c) => {
                        let key = match c.stream {
                            StreamKind::Stdout => "stdout",
                            StreamKind::Stderr => "stderr",
                        };
                        if !send_output(&mut out, key, &c.data).await {
                            // The client went away: dropping `run` kills the command's group.
                            lock(&sb.processes).remove(&pid);
                            return;
                        }
                    }
                    None => tap_open = false,
                },
                // A signal after the command ended changes nothing: its real end is reported.
                stop = &mut stop_rx, if finished.is_none() => break Err(stop.unwrap_or(Stop::Vanished)),
                _ = async {
                    match ticker.as_mut() {
                        Some(t) => { t.tick().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {
                    if !out.send(envelope(0, &json!({"event": {"keepalive": {}}}))).await {
                        // The client went away: dropping `run` kills the command's group.
                        lock(&sb.processes).remove(&pid);
                        return;
                    }
                }
            }
        }
    };
    lock(&sb.processes).remove(&pid);
    let result = match outcome {
        Err(Stop::Vanished) => return,
        Err(Stop::Signal) => {
            let end = json!({"event": {"end": {"exitCode": -1, "status": "signal: killed", "error": "signal: killed"}}});
            if out.send(envelope(0, &end)).await {
                out.send(envelope(0x02, &json!({}))).await;
            }
            return;
        }
        Ok(Err(e)) => {
            out.send(end_stream_error(
                "internal",
                &format!("error starting process: {e}"),
            ))
            .await;
            return;
        }
        Ok(Ok(r)) => r,
    };
    if result.output.timed_out && timeout.is_some() {
        out.send(end_stream_error(
            "deadline_exceeded",
            "context deadline exceeded",
        ))
        .await;
        return;
    }
    let end = match (result.raw_code, result.signal) {
        (_, Some(sig)) => {
            let status = format!("signal: {}", signal_name(sig));
            json!({"exitCode": -1, "status": status, "error": status})
        }
        (Some(0), None) => json!({"exited": true, "status": "exit status 0"}),
        (Some(c), None) => {
            let status = format!("exit status {c}");
            json!({"exitCode": c, "exited": true, "status": status, "error": status})
        }
        (None, None) => {
            json!({"exitCode": result.output.exit_code, "exited": true, "status": format!("exit status {}", result.output.exit_code)})
        }
    };
    if out.send(envelope(0, &json!({"event": {"end": end}}))).await {
        out.send(envelope(0x02, &json!({}))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_from_argv() {
        assert_eq!(
            script_of(
                "/bin/bash",
                &["-l".into(), "-c".into(), "ls -la".into()],
                &BTreeMap::new()
            ),
            "exec '/bin/bash' '-l' '-c' 'ls -la'"
        );
        assert_eq!(
            script_of(
                "/bin/mkdir",
                &["-p".into(), "a b".into(), "it's".into()],
                &BTreeMap::new()
            ),
            r"exec '/bin/mkdir' '-p' 'a b' 'it'\''s'"
        );
        let envs = BTreeMap::from([
            ("TERM".to_owned(), "dumb".to_owned()),
            ("X".to_owned(), "a'b".to_owned()),
        ]);
        assert_eq!(
            script_of("/bin/sh", &["-c".into(), "env".into()], &envs),
            r"export TERM='dumb'; export X='a'\''b'; exec '/bin/sh' '-c' 'env'"
        );
    }

    #[test]
    fn start_request_parses() {
        let payload = br#"{"process":{"cmd":"/bin/bash","args":["-l","-c","ls"],"cwd":"/home/user"},"stdin":false}"#;
        let mut body = vec![0u8];
        body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        body.extend_from_slice(payload);
        let r = parse_start(&body).unwrap();
        assert_eq!(
            (r.cmd.as_str(), r.args.len(), r.cwd.as_deref()),
            ("/bin/bash", 3, Some("/home/user"))
        );
        assert!(parse_start(&body[..10]).is_err());
        let with_envs = |envs: &str| {
            let payload = format!(r#"{{"process":{{"cmd":"/bin/sh","envs":{envs}}}}}"#);
            let mut body = vec![0u8];
            body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            body.extend_from_slice(payload.as_bytes());
            parse_start(&body)
        };
        assert_eq!(with_envs(r#"{"TZ":"UTC"}"#).unwrap().envs["TZ"], "UTC");
        assert!(with_envs(r#"{"A B":"x"}"#).is_err());
        assert!(with_envs(r#"{"A":1}"#).is_err());
    }
}
