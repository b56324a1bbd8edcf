//! `.../sessions/{sid}/cmd`: running commands, streaming their logs as NDJSON, and killing
//! them.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atlas_emulator_kit::{OutputChunk, StreamKind, cut_after};
use atlas_sandbox_sdk::process::Ending;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::error::{
    Answer, Reject, bad_request, not_found, optional_field, parse_json, reply, sandbox_stopped,
};
use crate::sessions::with_session;
use crate::state::{Cmd, Done, Log, new_id, now_ms};
use crate::{KILLED_EXIT_CODE, OUTPUT_CAP, SESSION_CWD, VercelEmulator};

/// Resolves a vendor path against a cwd (absolute) the way `path.posix` would.
pub(crate) fn resolve(cwd: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{}/{path}", cwd.trim_end_matches('/'))
    }
}

pub(crate) async fn run_command(
    State(emu): State<VercelEmulator>,
    Path(sid): Path<String>,
    uri: axum::http::Uri,
    body: Bytes,
) -> Answer {
    let v = parse_json(&body)?;
    let Some(name) = v.get("command").and_then(Value::as_str).map(str::to_owned) else {
        return Err(bad_request("command is required"));
    };
    let args: Vec<String> = optional_field(&v, "args", "args must be a list of strings")?;
    let env: BTreeMap<String, String> =
        optional_field(&v, "env", "env must map strings to strings")?;
    let cwd = resolve(
        SESSION_CWD,
        v.get("cwd").and_then(Value::as_str).unwrap_or(SESSION_CWD),
    );
    let wait = v.get("wait").and_then(Value::as_bool).unwrap_or(false);
    let logs = v.get("logs").and_then(Value::as_bool).unwrap_or(false);
    let timeout_ms = v.get("timeout").and_then(Value::as_u64);

    let (dir, remaining) = with_session(&emu, &sid, true, |s| {
        let dir = s.dir.clone()?;
        let remaining = s
            .started_at
            .saturating_add(s.timeout_ms)
            .saturating_sub(now_ms());
        Some((dir, remaining))
    })?
    .ok_or_else(sandbox_stopped)?;
    if !dir.map(&cwd).is_dir() {
        return Err(bad_request(format!("cwd {cwd} does not exist")));
    }
    // The argv as one shell line: `sh -c X` stays exactly that; anything else is quoted.
    let mut line = String::new();
    for (k, val) in &env {
        line.push_str(&format!(
            "export {k}={}; ",
            atlas_sandbox_sdk::shell_quote(val)
        ));
    }
    line.push_str("exec ");
    line.push_str(&atlas_sandbox_sdk::shell_quote(&name));
    for a in &args {
        line.push(' ');
        line.push_str(&atlas_sandbox_sdk::shell_quote(a));
    }
    let timeout = Duration::from_millis(timeout_ms.unwrap_or(remaining).max(1));
    let (kill_tx, kill_rx) = tokio::sync::oneshot::channel::<i32>();
    let cmd = Arc::new(Cmd {
        id: new_id("cmd"),
        name,
        args,
        cwd: cwd.clone(),
        session_id: sid.clone(),
        started_at: now_ms(),
        done: tokio::sync::watch::channel(None).0,
        kill: Mutex::new(Some(kill_tx)),
        log: Mutex::new(Log::default()),
        log_seq: tokio::sync::watch::channel(0).0,
    });
    with_session(&emu, &sid, true, |s| {
        s.commands.insert(cmd.id.clone(), cmd.clone());
    })?;
    let runner = cmd.clone();
    tokio::spawn(async move {
        let start = Instant::now();
        // Output reaches the log as it is read: the service streams logs while a command runs,
        // and a client that kills a command for its output volume must see that volume.
        let (tap_tx, mut tap_rx) = tokio::sync::mpsc::channel::<OutputChunk>(16);
        let run = dir.run_sh_streaming(&line, Some(&cwd), timeout, OUTPUT_CAP, Some(tap_tx));
        tokio::pin!(run);
        let mut kill_rx = kill_rx;
        let mut finished: Option<std::io::Result<atlas_sandbox_sdk::process::ProcessResult>> = None;
        let mut tap_open = true;
        let exit_code = loop {
            if !tap_open && let Some(r) = finished.take() {
                break match r {
                    Ok(p) if p.ending == Ending::TimedOut => KILLED_EXIT_CODE,
                    Ok(p) => p.output.exit_code,
                    Err(e) => {
                        runner.log_mut(|l| l.push(StreamKind::Stderr, format!("{e}\n").as_bytes()));
                        127
                    }
                };
            }
            tokio::select! {
                r = &mut run, if finished.is_none() => finished = Some(r),
                chunk = tap_rx.recv(), if tap_open => match chunk {
                    Some(c) => runner.log_mut(|l| l.push(c.stream, &c.data)),
                    None => tap_open = false,
                },
                // Leaving the loop drops the run, which kills its process group.
                // A kill after the command ended changes nothing; before, what was already read
                // still reaches the log.
                sig = &mut kill_rx, if finished.is_none() => {
                    while let Ok(c) = tap_rx.try_recv() {
                        runner.log_mut(|l| l.push(c.stream, &c.data));
                    }
                    break 128 + sig.unwrap_or(9);
                }
            }
        };
        runner.log_mut(Log::close);
        runner.done.send_replace(Some(Done {
            exit_code,
            duration_ms: start.elapsed().as_millis() as u64,
        }));
    });
    if !wait {
        return reply(json!({"command": cmd.json()}));
    }
    let cut = emu.inner.kit.take_stream_cut(uri.path());
    let stall = emu
        .inner
        .stalled_streams
        .fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |n| n.checked_sub(1),
        )
        .is_ok();
    Ok(ndjson(cut, move |tx| async move {
        tx.line(json!({"command": cmd.json()})).await?;
        if stall {
            // Hold the connection open without another byte until the client gives up.
            tx.tx.closed().await;
            return Err(());
        }
        if logs {
            send_logs(&tx, &cmd).await?;
        }
        cmd.finished().await;
        tx.line(json!({"command": cmd.json()})).await
    }))
}

/// Follows a command's log from its first line until the command has ended and every line is
/// sent.
async fn send_logs(tx: &LineSender, cmd: &Cmd) -> Result<(), ()> {
    let mut seq = cmd.log_seq.subscribe();
    let mut next = 0;
    loop {
        // Marked seen before reading, so a line added after the read wakes the wait below.
        seq.borrow_and_update();
        let (lines, closed) = {
            let log = cmd.log.lock().unwrap_or_else(|p| p.into_inner());
            (log.lines[next..].to_vec(), log.closed)
        };
        next += lines.len();
        for (stream, data) in lines {
            tx.line(json!({"stream": stream, "data": data})).await?;
        }
        if closed {
            return Ok(());
        }
        if seq.changed().await.is_err() {
            return Ok(());
        }
    }
}

/// The sending half of an ndjson response; applies a stream cut from the kit.
struct LineSender {
    pub(crate) tx: tokio::sync::mpsc::Sender<Bytes>,
    cut: Option<usize>,
    pub(crate) sent: Mutex<usize>,
}

impl LineSender {
    async fn line(&self, v: Value) -> Result<(), ()> {
        let mut bytes = v.to_string().into_bytes();
        bytes.push(b'\n');
        let mut data = Bytes::from(bytes);
        if let Some(after) = self.cut {
            let mut sent = *self.sent.lock().unwrap_or_else(|p| p.into_inner());
            let piece = cut_after(data, &mut sent, after);
            *self.sent.lock().unwrap_or_else(|p| p.into_inner()) = sent;
            match piece {
                Some(p) if !p.is_empty() => data = p,
                _ => return Err(()),
            }
        }
        self.tx.send(data).await.map_err(|_| ())
    }
}

/// An `application/x-ndjson` response whose lines `produce` sends; it ends when `produce` does
/// (or at a cut: then the stream just stops, as a dropped connection).
fn ndjson<F, Fut>(cut: Option<usize>, produce: F) -> Response
where
    F: FnOnce(Arc<LineSender>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), ()>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let sender = Arc::new(LineSender {
        tx,
        cut,
        sent: Mutex::new(0),
    });
    tokio::spawn(async move {
        let _ = produce(sender).await;
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A command of a running session: a stopped session's commands are gone with it
/// (vercel/sandbox#338).
fn live_command(emu: &VercelEmulator, sid: &str, cid: &str) -> Result<Arc<Cmd>, Reject> {
    with_session(emu, sid, true, |s| s.commands.get(cid).cloned())?
        .ok_or_else(|| not_found("Command"))
}

pub(crate) async fn get_command(
    State(emu): State<VercelEmulator>,
    Path((sid, cid)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let cmd = live_command(&emu, &sid, &cid)?;
    if q.get("wait").map(String::as_str) == Some("true") {
        cmd.finished().await;
    }
    reply(json!({"command": cmd.json()}))
}

pub(crate) async fn command_logs(
    State(emu): State<VercelEmulator>,
    Path((sid, cid)): Path<(String, String)>,
    uri: axum::http::Uri,
) -> Answer {
    let cmd = live_command(&emu, &sid, &cid)?;
    let cut = emu.inner.kit.take_stream_cut(uri.path());
    Ok(ndjson(
        cut,
        move |tx| async move { send_logs(&tx, &cmd).await },
    ))
}

pub(crate) async fn kill_command(
    State(emu): State<VercelEmulator>,
    Path((sid, cid)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let v = parse_json(&body)?;
    let sig = v
        .get("signal")
        .and_then(Value::as_i64)
        .and_then(|s| i32::try_from(s).ok())
        .unwrap_or(15);
    if !(1..=64).contains(&sig) {
        return Err(bad_request("signal must be a signal number"));
    }
    let cmd = live_command(&emu, &sid, &cid)?;
    cmd.signal(sig);
    reply(json!({"command": cmd.json()}))
}
