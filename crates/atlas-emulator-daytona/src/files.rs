//! The toolbox's filesystem calls: bulk upload, create folder, and the home and work dirs.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Multipart, Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::WORK_DIR;
use crate::call::{Answer, Call};

/// A path as the daemon resolves it: absolute as is, relative against its working directory.
pub(crate) fn vendor_path(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{WORK_DIR}/{path}")
    }
}

pub(crate) async fn bulk_upload(
    call: Call,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> Answer {
    let dir = call.sandbox(&id)?;
    let mut dests: BTreeMap<String, String> = BTreeMap::new();
    let mut errors: Vec<String> = Vec::new();
    let mut files: Vec<Value> = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                errors.push(format!("reading part: {e}"));
                break;
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let index = name
            .trim_start_matches("files[")
            .trim_end_matches("].path")
            .trim_end_matches("].file")
            .to_owned();
        let data = match field.bytes().await {
            Ok(d) => d,
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        if name.ends_with(".path") {
            let dest = String::from_utf8_lossy(&data).trim().to_owned();
            if dest.is_empty() {
                errors.push(format!("path[{index}]: empty path"));
            } else {
                dests.insert(index, dest);
            }
        } else if name.ends_with(".file") {
            let Some(dest) = dests.get(&index) else {
                errors.push(format!("file[{index}]: missing .path metadata"));
                continue;
            };
            let host = dir.map(&vendor_path(dest));
            if let Some(parent) = host.parent()
                && let Err(e) = std::fs::create_dir_all(parent)
            {
                errors.push(format!("{dest}: mkdir: {e}"));
                continue;
            }
            match std::fs::write(&host, &data) {
                Ok(()) => files.push(json!({"path": dest, "bytes": data.len()})),
                Err(e) => errors.push(format!("{dest}: create: {e}")),
            }
        }
    }
    if errors.is_empty() {
        Ok(Json(json!({"files": files})).into_response())
    } else {
        Ok((
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": errors, "files": files})),
        )
            .into_response())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct FolderQuery {
    pub(crate) path: String,
    mode: Option<String>,
}

pub(crate) async fn create_folder(
    call: Call,
    Path(id): Path<String>,
    Query(q): Query<FolderQuery>,
) -> Answer {
    let dir = call.sandbox(&id)?;
    let _ = q.mode;
    std::fs::create_dir_all(dir.map(&vendor_path(&q.path)))
        .map_err(|e| call.bad_request(&e.to_string()))?;
    Ok(StatusCode::CREATED.into_response())
}

/// `work-dir` and `user-home-dir`: the daemon works in the user's home.
pub(crate) async fn home_dir(call: Call, Path(id): Path<String>) -> Answer {
    call.sandbox(&id)?;
    Ok(Json(json!({"dir": WORK_DIR})).into_response())
}
