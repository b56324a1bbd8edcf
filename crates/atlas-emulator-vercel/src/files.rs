//! `.../sessions/{sid}/fs`: mkdir, write (a gzipped tar) and read.

use std::sync::Arc;

use atlas_emulator_kit::SandboxDir;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::commands::resolve;
use crate::error::{
    Answer, Reject, bad_request, error, internal_error, parse_json, reply, sandbox_stopped,
};
use crate::sessions::with_session;
use crate::{SESSION_CWD, VercelEmulator};

fn session_dir(emu: &VercelEmulator, sid: &str) -> Result<Arc<SandboxDir>, Reject> {
    with_session(emu, sid, true, |s| s.dir.clone())?.ok_or_else(sandbox_stopped)
}

/// Runs `op` on the file that an `fs` body's `path` (against its `cwd`) names, with `path` as
/// sent for messages. The session's directory is held until `op` returns, so that a concurrent
/// stop cannot delete it mid-operation.
fn on_session_file(
    emu: &VercelEmulator,
    sid: &str,
    body: &Bytes,
    op: impl FnOnce(&std::path::Path, &str) -> Answer,
) -> Answer {
    let v = parse_json(body)?;
    let Some(path) = v.get("path").and_then(Value::as_str) else {
        return Err(bad_request("path is required"));
    };
    let cwd = v.get("cwd").and_then(Value::as_str).unwrap_or(SESSION_CWD);
    let dir = session_dir(emu, sid)?;
    op(&dir.map(&resolve(cwd, path)), path)
}

pub(crate) async fn mkdir(
    State(emu): State<VercelEmulator>,
    Path(sid): Path<String>,
    body: Bytes,
) -> Answer {
    on_session_file(&emu, &sid, &body, |target, path| {
        if target.is_dir() {
            return reply(json!({}));
        }
        // Not recursive, like mkdir(2): the parent must exist.
        match std::fs::create_dir(target) {
            Ok(()) => reply(json!({})),
            Err(e) => Err(bad_request(format!("cannot create directory {path}: {e}"))),
        }
    })
}

pub(crate) async fn write_files(
    State(emu): State<VercelEmulator>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let extract_dir = headers
        .get("x-cwd")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/")
        .to_owned();
    if !extract_dir.starts_with('/') {
        return Err(bad_request("x-cwd must be an absolute path"));
    }
    let dir = session_dir(&emu, &sid)?;
    let result = tokio::task::spawn_blocking(move || extract(&dir, &extract_dir, &body)).await;
    match result {
        Ok(Ok(())) => reply(json!({})),
        Ok(Err(msg)) => Err(bad_request(msg)),
        Err(e) => Err(internal_error(e.to_string())),
    }
}

/// Extracts a gzip-compressed tar under `extract_dir`, creating parent directories.
pub(crate) fn extract(dir: &SandboxDir, extract_dir: &str, body: &[u8]) -> Result<(), String> {
    let gz = flate2::read::GzDecoder::new(body);
    let mut archive = tar::Archive::new(gz);
    let entries = archive
        .entries()
        .map_err(|e| format!("the body is not a gzip-compressed tar: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("bad tar entry: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("bad tar entry name: {e}"))?
            .to_string_lossy()
            .into_owned();
        let target = dir.map(&resolve(extract_dir, &path));
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(|e| format!("{path}: {e}"))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| format!("{path}: {e}"))?;
                }
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut data)
                    .map_err(|e| format!("{path}: {e}"))?;
                std::fs::write(&target, &data).map_err(|e| format!("{path}: {e}"))?;
                let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode | 0o400))
                    .map_err(|e| format!("{path}: {e}"))?;
            }
            other => return Err(format!("{path}: unsupported tar entry type {other:?}")),
        }
    }
    Ok(())
}

pub(crate) async fn read_file(
    State(emu): State<VercelEmulator>,
    Path(sid): Path<String>,
    body: Bytes,
) -> Answer {
    on_session_file(&emu, &sid, &body, |target, path| {
        match std::fs::read(target) {
            Ok(data) => {
                Ok(([(header::CONTENT_TYPE, "application/octet-stream")], data).into_response())
            }
            Err(_) => Err(error(
                StatusCode::NOT_FOUND,
                "file_not_found",
                format!("{path} not found"),
            )),
        }
    })
}
