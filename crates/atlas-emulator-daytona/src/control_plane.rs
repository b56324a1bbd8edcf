//! The control-plane API (`{base}/api/sandbox...`): create, get, list, delete, the lifecycle
//! intervals, start, stop, archive, and the toolbox proxy URL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use atlas_emulator_kit::SandboxDir;
use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::WORK_DIR;
use crate::call::{Answer, Call};
use crate::state::{EmuSandbox, Life};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    pub(crate) name: Option<String>,
    pub(crate) snapshot: Option<String>,
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) target: Option<String>,
    pub(crate) auto_stop_interval: Option<i64>,
    pub(crate) auto_archive_interval: Option<i64>,
    pub(crate) auto_delete_interval: Option<i64>,
    pub(crate) network_block_all: Option<bool>,
}

pub(crate) async fn create_sandbox(call: Call, body: axum::body::Bytes) -> Answer {
    call.authorize()?;
    let body: CreateBody = serde_json::from_slice(&body)
        .map_err(|e| call.api_error(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")))?;
    if body.snapshot.as_deref() == Some("missing-snapshot") {
        return Err(call.api_error(
            StatusCode::NOT_FOUND,
            "Snapshot missing-snapshot not found. Did you add it through the Daytona Dashboard?",
        ));
    }
    let dir = SandboxDir::new()
        .map_err(|e| call.api_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
    if std::fs::create_dir_all(dir.map(WORK_DIR)).is_err() {
        return Err(call.api_error(StatusCode::INTERNAL_SERVER_ERROR, "cannot create home"));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mut st = call.c.lock();
    let fault = st.create_faults.pop_front();
    let sb = EmuSandbox {
        id: id.clone(),
        name: body.name.unwrap_or_else(|| id.clone()),
        labels: body.labels,
        env: body.env,
        target: body.target.unwrap_or_else(|| "us".to_owned()),
        snapshot: body.snapshot,
        network_block_all: body.network_block_all.unwrap_or(false),
        auto_stop_interval: body.auto_stop_interval.unwrap_or(15).max(0),
        auto_archive_interval: body.auto_archive_interval.unwrap_or(10080).max(0),
        auto_delete_interval: body.auto_delete_interval.unwrap_or(-1),
        life: Life::Booting,
        active_at: Instant::now(),
        compute: Duration::ZERO,
        running_since: None,
        created_at: SystemTime::now(),
        created: Instant::now(),
        start_delay: st.start_delay,
        fault,
        last_activity: SystemTime::now(),
        sessions: BTreeMap::new(),
        dir: Arc::new(dir),
    };
    let dto = sb.dto(&call.c.toolbox_url());
    st.sandboxes.insert(id, sb);
    Ok((StatusCode::OK, Json(dto)).into_response())
}

pub(crate) async fn get_sandbox(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    let toolbox_url = call.c.toolbox_url();
    call.with_sandbox(&id, |sb| Json(sb.dto(&toolbox_url)).into_response())
}

pub(crate) async fn delete_sandbox(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    let removed = call.c.lock().sandboxes.remove(&id);
    let sb = removed.ok_or_else(|| call.sandbox_not_found(&id))?;
    let mut dto = sb.dto(&call.c.toolbox_url());
    dto["state"] = json!("destroying");
    dto["desiredState"] = json!("destroyed");
    // Dropping the sessions kills their shells; dropping the directory removes it.
    drop(sb);
    Ok(Json(dto).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    pub(crate) labels: Option<String>,
    pub(crate) limit: Option<usize>,
    cursor: Option<String>,
}

pub(crate) async fn list_sandboxes(call: Call, Query(q): Query<ListQuery>) -> Answer {
    call.authorize()?;
    let filter: BTreeMap<String, String> = match q.labels.as_deref() {
        None | Some("") => BTreeMap::new(),
        Some(text) => serde_json::from_str(text)
            .map_err(|_| call.api_error(StatusCode::BAD_REQUEST, "Invalid labels format"))?,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 200);
    let st = call.c.lock();
    let matching: Vec<&EmuSandbox> = st
        .sandboxes
        .values()
        .filter(|s| filter.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .filter(|s| q.cursor.as_deref().is_none_or(|cur| s.id.as_str() > cur))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .take(limit)
        .map(|s| s.dto(&call.c.toolbox_url()))
        .collect();
    let next = if matching.len() > limit {
        matching.get(limit - 1).map(|s| Value::String(s.id.clone()))
    } else {
        None
    };
    Ok(Json(json!({"items": page, "nextCursor": next.unwrap_or(Value::Null)})).into_response())
}

pub(crate) async fn last_activity(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    call.with_sandbox(&id, |sb| {
        sb.last_activity = SystemTime::now();
        sb.active_at = Instant::now();
        StatusCode::CREATED.into_response()
    })
}

pub(crate) async fn set_autostop(call: Call, Path((id, interval)): Path<(String, i64)>) -> Answer {
    call.authorize()?;
    call.with_sandbox(&id, |sb| {
        sb.auto_stop_interval = interval.max(0);
        // The clock restarts with the new interval, as a fresh activity would.
        sb.active_at = Instant::now();
        StatusCode::OK.into_response()
    })
}

pub(crate) async fn set_autoarchive(
    call: Call,
    Path((id, interval)): Path<(String, i64)>,
) -> Answer {
    call.authorize()?;
    let toolbox_url = call.c.toolbox_url();
    call.with_sandbox(&id, |sb| {
        sb.auto_archive_interval = interval.max(0);
        Json(sb.dto(&toolbox_url)).into_response()
    })
}

pub(crate) async fn set_autodelete(
    call: Call,
    Path((id, interval)): Path<(String, i64)>,
) -> Answer {
    call.authorize()?;
    let toolbox_url = call.c.toolbox_url();
    call.with_sandbox(&id, |sb| {
        sb.auto_delete_interval = interval;
        Json(sb.dto(&toolbox_url)).into_response()
    })
}

/// The API service's state-machine refusals (`SandboxError`, a 400).
fn sandbox_error(call: &Call, message: &str) -> Response {
    call.api_error(StatusCode::BAD_REQUEST, message)
}

/// `start`: a started sandbox is answered as it is; a stopped, archiving or archived one
/// starts (restoring from archive), and anything mid-change is refused.
pub(crate) async fn start_sandbox(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    let toolbox_url = call.c.toolbox_url();
    let mut st = call.c.lock();
    let delay = st.start_delay;
    let minute = st.minute.unwrap_or(Duration::from_secs(60));
    let sb = st
        .sandboxes
        .get_mut(&id)
        .ok_or_else(|| call.sandbox_not_found(&id))?;
    match sb.state() {
        "started" => {}
        "stopped" | "archived" => {
            let from_archive = sb.state() == "archived";
            sb.life = Life::Starting {
                until: Instant::now() + delay,
                from_archive,
            };
            // The daemon restarts with no sessions and nothing running.
            sb.sessions.clear();
        }
        "starting" | "restoring" | "stopping" => {
            return Err(sandbox_error(&call, "State change in progress"));
        }
        _ => return Err(sandbox_error(&call, "Sandbox is not in valid state")),
    }
    // A start that is already due is applied now, so a zero delay answers `started`.
    let _ = sb.tick(minute);
    let sb = st
        .sandboxes
        .get(&id)
        .ok_or_else(|| call.sandbox_not_found(&id))?;
    Ok(Json(sb.dto(&toolbox_url)).into_response())
}

/// `stop`: only a started sandbox; its processes die and its files stay. With an auto-delete
/// interval of 0 the sandbox is destroyed instead.
pub(crate) async fn stop_sandbox(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    let toolbox_url = call.c.toolbox_url();
    let mut st = call.c.lock();
    let sb = st
        .sandboxes
        .get_mut(&id)
        .ok_or_else(|| call.sandbox_not_found(&id))?;
    match sb.state() {
        "started" => {}
        "starting" | "restoring" => return Err(sandbox_error(&call, "State change in progress")),
        _ => return Err(sandbox_error(&call, "Sandbox is not started")),
    }
    sb.stop_at(Instant::now());
    let mut dto = sb.dto(&toolbox_url);
    if sb.auto_delete_interval == 0 {
        dto["state"] = json!("destroying");
        dto["desiredState"] = json!("destroyed");
        st.sandboxes.remove(&id);
    }
    Ok(Json(dto).into_response())
}

/// `archive`: only a stopped sandbox that is not ephemeral.
pub(crate) async fn archive_sandbox(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    let toolbox_url = call.c.toolbox_url();
    call.with_sandbox(&id, |sb| match sb.life {
        Life::Stopped { since } if sb.auto_delete_interval != 0 => {
            sb.life = Life::Archived { since };
            Ok(Json(sb.dto(&toolbox_url)).into_response())
        }
        Life::Stopped { .. } => Err("Ephemeral sandboxes cannot be archived"),
        _ => Err("Sandbox is not stopped"),
    })?
    .map_err(|m| sandbox_error(&call, m))
}

pub(crate) async fn toolbox_proxy_url(call: Call, Path(id): Path<String>) -> Answer {
    call.authorize()?;
    call.with_sandbox(&id, |_| ())?;
    Ok(Json(json!({"url": call.c.toolbox_url()})).into_response())
}
