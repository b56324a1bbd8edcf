//! `/v2/sandboxes` and `/v3/sandboxes`: create (and resume), list, get and delete, the calls
//! that act on the named sandbox rather than one of its sessions.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use atlas_emulator_kit::SandboxDir;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::error::{
    Answer, Reject, bad_request, error, internal_error, not_found, optional_field, parse_json,
    reply,
};
use crate::state::{SandboxRec, Session, new_id, now_ms};
use crate::{DEFAULT_TIMEOUT_MS, SESSION_CWD, VercelEmulator};

/// The response shape of a network policy (the SDK's `NetworkPolicyResponseValidator`).
fn policy_response(req: Option<&Value>) -> Result<Value, Reject> {
    match req {
        None => Ok(json!({"mode": "allow-all"})),
        Some(v) => match v.get("mode").and_then(Value::as_str) {
            Some("allow-all") => Ok(json!({"mode": "allow-all"})),
            Some("deny-all") => Ok(json!({"mode": "deny-all"})),
            Some(other) => Err(bad_request(format!(
                "unknown network policy mode {other:?}"
            ))),
            None => {
                let allow = v.get("allow");
                let domains: Vec<Value> = match allow {
                    Some(Value::Array(a)) => a.clone(),
                    Some(Value::Object(o)) => o.keys().map(|k| json!(k)).collect(),
                    None => Vec::new(),
                    Some(_) => return Err(bad_request("networkPolicy.allow must be a list")),
                };
                Ok(json!({"mode": "custom", "allowedDomains": domains}))
            }
        },
    }
}

fn new_session(
    sandbox: &SandboxRec,
    timeout_ms: u64,
    restored: Option<Arc<SandboxDir>>,
) -> Result<Session, Reject> {
    let dir = match restored {
        Some(dir) => dir,
        None => {
            let dir = SandboxDir::new()
                .map_err(|e| internal_error(format!("cannot create the sandbox directory: {e}")))?;
            std::fs::create_dir_all(dir.map(SESSION_CWD))
                .map_err(|e| internal_error(format!("cannot create {SESSION_CWD}: {e}")))?;
            Arc::new(dir)
        }
    };
    let now = now_ms();
    Ok(Session {
        id: new_id("sbx"),
        sandbox: sandbox.name.clone(),
        status: "running".to_owned(),
        memory: sandbox.vcpus * 2048,
        vcpus: sandbox.vcpus,
        region: sandbox.region.clone(),
        runtime: sandbox.runtime.clone(),
        timeout_ms,
        requested_at: now,
        started_at: now,
        stopped_at: None,
        updated_at: now,
        network_policy: sandbox.network_policy.clone(),
        dir: Some(dir),
        commands: HashMap::new(),
    })
}

pub(crate) async fn create(State(emu): State<VercelEmulator>, body: Bytes) -> Answer {
    let v = parse_json(&body)?;
    let Some(project_id) = v.get("projectId").and_then(Value::as_str) else {
        return Err(bad_request("projectId is required"));
    };
    if v.get("runtime").is_some() && v.get("image").is_some() {
        return Err(bad_request("runtime and image cannot be used together"));
    }
    let timeout_ms = match v.get("timeout") {
        None | Some(Value::Null) => DEFAULT_TIMEOUT_MS,
        Some(t) => match t.as_u64() {
            Some(ms) if ms > 0 => ms,
            _ => {
                return Err(bad_request(
                    "timeout must be a positive number of milliseconds",
                ));
            }
        },
    };
    let vcpus = match v.pointer("/resources/vcpus") {
        None => 2,
        Some(n) => match n.as_u64() {
            Some(n) if (1..=8).contains(&n) => n,
            _ => return Err(bad_request("resources.vcpus must be between 1 and 8")),
        },
    };
    let network_policy = policy_response(v.get("networkPolicy"))?;
    let tags: BTreeMap<String, String> =
        optional_field(&v, "tags", "tags must map strings to strings")?;
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| new_id("sandbox"));
    let mut d = emu.data();
    if d.sandboxes.contains_key(&name) {
        return Err(error(
            StatusCode::CONFLICT,
            "sandbox_already_exists",
            format!("A sandbox named {name} already exists"),
        ));
    }
    let now = now_ms();
    let mut rec = SandboxRec {
        name: name.clone(),
        project_id: project_id.to_owned(),
        persistent: v.get("persistent").and_then(Value::as_bool).unwrap_or(true),
        region: v
            .get("region")
            .and_then(Value::as_str)
            .unwrap_or("iad1")
            .to_owned(),
        vcpus,
        runtime: v.get("runtime").and_then(Value::as_str).map(str::to_owned),
        timeout_ms,
        network_policy,
        tags,
        created_at: now,
        updated_at: now,
        current_session_id: String::new(),
        snapshot_expiration: match v.get("snapshotExpiration") {
            None | Some(Value::Null) => None,
            Some(e) => Some(e.as_u64().ok_or_else(|| {
                bad_request("snapshotExpiration must be a non-negative number of milliseconds")
            })?),
        },
        keep_last_snapshots: match v.get("keepLastSnapshots") {
            None | Some(Value::Null) => None,
            Some(k) => {
                let count = k.get("count").and_then(Value::as_u64);
                if !count.is_some_and(|c| (1..=10).contains(&c)) {
                    return Err(bad_request(
                        "keepLastSnapshots.count must be between 1 and 10",
                    ));
                }
                Some(k.clone())
            }
        },
        snapshot: None,
        snapshot_lost: false,
    };
    let session = new_session(&rec, timeout_ms, None)?;
    rec.current_session_id = session.id.clone();
    let body = json!({
        "sandbox": Value::Null, "session": session.json(), "routes": [],
    });
    d.sessions.insert(session.id.clone(), session);
    d.created += 1;
    let mut body = body;
    body["sandbox"] = d.sandbox_json(&rec);
    d.sandboxes.insert(name, rec);
    reply(body)
}

pub(crate) async fn list(
    State(emu): State<VercelEmulator>,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    let get = |k: &str| q.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
    let tags: Vec<(&str, &str)> = q
        .iter()
        .filter(|(k, _)| k == "tags")
        .filter_map(|(_, v)| v.split_once(':'))
        .collect();
    let limit: usize = get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let offset: usize = get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut d = emu.data();
    d.expire_all();
    let mut matching: Vec<&SandboxRec> = d
        .sandboxes
        .values()
        .filter(|s| get("project").is_none_or(|p| p == s.project_id))
        .filter(|s| get("namePrefix").is_none_or(|p| s.name.starts_with(p)))
        .filter(|s| {
            tags.iter()
                .all(|(k, v)| s.tags.get(*k).is_some_and(|x| x == v))
        })
        .collect();
    matching.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.name.cmp(&b.name)));
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| d.sandbox_json(s))
        .collect();
    let next = (offset + limit < matching.len()).then(|| (offset + limit).to_string());
    reply(json!({
        "sandboxes": page,
        "pagination": {"count": matching.len(), "next": next},
    }))
}

pub(crate) async fn get_sandbox(
    State(emu): State<VercelEmulator>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let mut d = emu.data();
    d.expire_all();
    let rec = d.sandboxes.get(&name).ok_or_else(|| not_found("Sandbox"))?;
    let sid = rec.current_session_id.clone();
    let stopped = d.sessions.get(&sid).is_none_or(|s| !s.running());
    let mut resumed = false;
    if stopped && q.get("resume").map(String::as_str) == Some("true") {
        if rec.persistent && rec.snapshot_lost {
            return Err(error(
                StatusCode::GONE,
                "snapshot_not_found",
                format!("The snapshot of sandbox {name} has expired"),
            ));
        }
        // A persistent sandbox's new session starts from its snapshot.
        let restored = match d.sandboxes.get_mut(&name) {
            Some(rec) if rec.persistent => rec.snapshot.take().map(|s| s.dir),
            _ => None,
        };
        let rec = d.sandboxes.get(&name).ok_or_else(|| not_found("Sandbox"))?;
        let session = new_session(rec, rec.timeout_ms, restored)?;
        let new_sid = session.id.clone();
        d.sessions.insert(new_sid.clone(), session);
        if let Some(rec) = d.sandboxes.get_mut(&name) {
            rec.current_session_id = new_sid;
            rec.updated_at = now_ms();
        }
        resumed = true;
    }
    let rec = d.sandboxes.get(&name).ok_or_else(|| not_found("Sandbox"))?;
    let session = d
        .sessions
        .get(&rec.current_session_id)
        .map(Session::json)
        .unwrap_or(Value::Null);
    reply(json!({
        "sandbox": d.sandbox_json(rec), "session": session, "routes": [], "resumed": resumed,
    }))
}

pub(crate) async fn delete_sandbox(
    State(emu): State<VercelEmulator>,
    Path(name): Path<String>,
) -> Answer {
    let mut d = emu.data();
    let rec = d
        .sandboxes
        .remove(&name)
        .ok_or_else(|| not_found("Sandbox"))?;
    let body = d.sandbox_json(&rec);
    // Deleting the sandbox deletes its sessions and their files.
    let ids: Vec<String> = d
        .sessions
        .iter()
        .filter(|(_, s)| s.sandbox == name)
        .map(|(id, _)| id.clone())
        .collect();
    for id in ids {
        if let Some(mut s) = d.sessions.remove(&id) {
            s.stop();
        }
    }
    reply(json!({"sandbox": body, "routes": []}))
}
