//! The wire types of the Vercel Sandbox API, as `@vercel/sandbox` 3.5.0 sends and validates
//! them (`dist/api-client/api-client.js`, `validators.js`), and the `application/x-ndjson`
//! command stream.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The content type of command and log streams. The SDK compares it with `===`.
pub(crate) const NDJSON: &str = "application/x-ndjson";

/// The body of `POST /v2/sandboxes` (with a runtime) or `/v3/sandboxes`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateSandbox<'a> {
    pub(crate) project_id: &'a str,
    pub(crate) name: &'a str,
    pub(crate) ports: [u16; 0],
    /// The session lifetime in milliseconds.
    pub(crate) timeout: u64,
    pub(crate) persistent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resources: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) runtime: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) region: Option<&'a str>,
    pub(crate) network_policy: serde_json::Value,
    pub(crate) tags: &'a BTreeMap<String, String>,
    /// Milliseconds a snapshot of a stopped persistent sandbox is kept (0: no expiry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) snapshot_expiration: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) keep_last_snapshots: Option<KeepLastSnapshots>,
}

/// `keepLastSnapshots`: only the newest `count` snapshots are kept (evicted ones deleted).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeepLastSnapshots {
    pub(crate) count: u32,
}

/// The microVM size.
#[derive(Debug, Serialize)]
pub(crate) struct Resources {
    pub(crate) vcpus: u32,
}

/// `{sandbox, session, routes}`: the answer to create and get.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SandboxAndSession {
    pub(crate) sandbox: SandboxInfo,
    pub(crate) session: SessionInfo,
    /// Set by a resume: a new session was started (from the snapshot when persistent).
    #[serde(default)]
    pub(crate) resumed: Option<bool>,
}

/// The persistent "sandbox" record (its name identifies it).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SandboxInfo {
    pub(crate) name: String,
    pub(crate) status: String,
    /// Epoch milliseconds.
    pub(crate) created_at: u64,
    #[serde(default)]
    pub(crate) current_session_id: Option<String>,
    #[serde(default)]
    pub(crate) tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(crate) persistent: bool,
}

/// A running microVM ("session"); commands and files address it by id.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionInfo {
    pub(crate) id: String,
    /// The lifetime in milliseconds, counted from the start.
    pub(crate) timeout: u64,
}

/// `{session}`: the answer to extend-timeout.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SessionResponse {
    pub(crate) session: SessionInfo,
}

/// `{sandboxes, pagination}`: one page of the list.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SandboxList {
    pub(crate) sandboxes: Vec<SandboxInfo>,
    pub(crate) pagination: Pagination,
}

/// A cursor page.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Pagination {
    #[serde(default)]
    pub(crate) next: Option<String>,
}

/// The body of `POST .../cmd`. The command is argv-style: we always send `sh -c <command>`.
#[derive(Debug, Serialize)]
pub(crate) struct RunCommand<'a> {
    pub(crate) command: &'a str,
    pub(crate) args: [&'a str; 2],
    pub(crate) cwd: &'a str,
    /// `atlas_sandbox_sdk::COMMAND_ENV` with the configured `PATH`: constants only, so nothing
    /// of the host's environment (or its secrets) enters the microVM.
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) sudo: bool,
    /// `Some(true)` streams ndjson until the command ends; absent is the detached mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) wait: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) logs: Option<bool>,
    /// Milliseconds; the microVM SIGKILLs the command after it.
    pub(crate) timeout: u64,
}

/// One command, running (`exit_code: None`) or finished.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Command {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) exit_code: Option<i32>,
    #[serde(default)]
    pub(crate) duration_ms: Option<u64>,
}

/// `{command}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CommandResponse {
    pub(crate) command: Command,
}

/// The body of `POST .../cmd/{id}/kill`: a Linux signal number.
#[derive(Debug, Serialize)]
pub(crate) struct KillCommand {
    pub(crate) signal: i32,
}

/// SIGKILL, as the SDK's `resolveSignal` numbers it.
pub(crate) const SIGKILL: i32 = 9;

/// One line of a command or log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StreamItem {
    /// `{"command": {...}}`: first (running) and last (with its exit code) of a `wait` stream.
    Command(Command),
    /// `{"stream":"stdout","data":"..."}`.
    Stdout(String),
    /// `{"stream":"stderr","data":"..."}`.
    Stderr(String),
    /// `{"stream":"error","data":{"code","message"}}`: the server gave up on the stream.
    Error { code: String, message: String },
}

#[derive(Deserialize)]
struct RawLine {
    #[serde(default)]
    command: Option<Command>,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

/// A line that is not what the protocol allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed ndjson line: {0}")]
pub(crate) struct BadLine(pub(crate) String);

fn parse_line(line: &[u8]) -> Result<StreamItem, BadLine> {
    let raw: RawLine = serde_json::from_slice(line).map_err(|e| BadLine(e.to_string()))?;
    // The SDK recognises the command line by the presence of `command`, whatever else is there.
    if let Some(c) = raw.command {
        return Ok(StreamItem::Command(c));
    }
    match (raw.stream.as_deref(), raw.data) {
        (Some("stdout"), Some(serde_json::Value::String(s))) => Ok(StreamItem::Stdout(s)),
        (Some("stderr"), Some(serde_json::Value::String(s))) => Ok(StreamItem::Stderr(s)),
        (Some("error"), Some(d)) => Ok(StreamItem::Error {
            code: d
                .get("code")
                .and_then(|v| v.as_str())
                .unwrap_or("unknown")
                .to_owned(),
            message: d
                .get("message")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned(),
        }),
        (s, _) => Err(BadLine(format!("unexpected stream {s:?}"))),
    }
}

/// Splits an ndjson byte stream into items as chunks arrive, whatever their boundaries.
#[derive(Debug, Default)]
pub(crate) struct NdjsonDecoder {
    buf: Vec<u8>,
    max_line: usize,
}

impl NdjsonDecoder {
    /// A decoder that refuses lines longer than `max_line` bytes (a stuck or hostile server
    /// must not grow our memory without bound).
    pub(crate) fn new(max_line: usize) -> Self {
        NdjsonDecoder {
            buf: Vec::new(),
            max_line,
        }
    }

    /// Feeds a chunk; returns the complete lines it finished, parsed. Blank lines are skipped.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<Vec<StreamItem>, BadLine> {
        let mut out = Vec::new();
        let mut rest = chunk;
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            self.buf.extend_from_slice(&rest[..nl]);
            rest = &rest[nl + 1..];
            let line = std::mem::take(&mut self.buf);
            let trimmed = line.trim_ascii();
            if !trimmed.is_empty() {
                out.push(parse_line(trimmed)?);
            }
        }
        self.buf.extend_from_slice(rest);
        if self.buf.len() > self.max_line {
            return Err(BadLine(format!("a line exceeds {} bytes", self.max_line)));
        }
        Ok(out)
    }

    /// Ends the stream: a last line without its newline still counts.
    pub(crate) fn finish(&mut self) -> Result<Option<StreamItem>, BadLine> {
        let line = std::mem::take(&mut self.buf);
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return Ok(None);
        }
        parse_line(trimmed).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = concat!(
        r#"{"command":{"id":"cmd_1","name":"sh","args":["-c","x"],"cwd":"/","sessionId":"s","exitCode":null,"startedAt":1}}"#,
        "\n",
        r#"{"stream":"stdout","data":"héllo\n"}"#,
        "\n\n",
        r#"{"stream":"stderr","data":"warn\n"}"#,
        "\n",
        r#"{"command":{"id":"cmd_1","name":"sh","args":["-c","x"],"cwd":"/","sessionId":"s","exitCode":3,"startedAt":1,"durationMs":12}}"#,
        "\n"
    );

    fn expected() -> Vec<StreamItem> {
        vec![
            StreamItem::Command(Command {
                id: "cmd_1".into(),
                exit_code: None,
                duration_ms: None,
            }),
            StreamItem::Stdout("héllo\n".into()),
            StreamItem::Stderr("warn\n".into()),
            StreamItem::Command(Command {
                id: "cmd_1".into(),
                exit_code: Some(3),
                duration_ms: Some(12),
            }),
        ]
    }

    #[test]
    fn decodes_whatever_the_chunk_boundaries() {
        let bytes = STREAM.as_bytes();
        for size in [1, 2, 3, 7, 50, bytes.len()] {
            let mut d = NdjsonDecoder::new(1 << 20);
            let mut items = Vec::new();
            for chunk in bytes.chunks(size) {
                items.extend(d.push(chunk).unwrap());
            }
            assert_eq!(d.finish().unwrap(), None);
            assert_eq!(items, expected(), "chunk size {size}");
        }
    }

    #[test]
    fn last_line_without_newline_and_errors() {
        let mut d = NdjsonDecoder::new(1 << 20);
        assert!(
            d.push(
                br#"{"stream":"error","data":{"code":"sandbox_stream_closed","message":"bye"}}"#
            )
            .unwrap()
            .is_empty()
        );
        assert_eq!(
            d.finish().unwrap(),
            Some(StreamItem::Error {
                code: "sandbox_stream_closed".into(),
                message: "bye".into()
            })
        );
        let mut d = NdjsonDecoder::new(1 << 20);
        assert!(d.push(b"{\"stream\":\"stdin\",\"data\":\"x\"}\n").is_err());
        let mut d = NdjsonDecoder::new(1 << 20);
        assert!(d.push(b"not json\n").is_err());
        let mut d = NdjsonDecoder::new(8);
        assert!(d.push(b"{\"stream\":\"stdout\"").is_err());
    }

    #[test]
    fn request_bodies_match_the_sdk() {
        let tags = BTreeMap::from([("atlas-sandbox".to_owned(), "true".to_owned())]);
        let body = CreateSandbox {
            project_id: "prj",
            name: "atlas-x",
            ports: [],
            timeout: 600_000,
            persistent: false,
            resources: Some(Resources { vcpus: 2 }),
            runtime: Some("node24"),
            region: None,
            network_policy: serde_json::json!({"mode": "deny-all"}),
            tags: &tags,
            snapshot_expiration: None,
            keep_last_snapshots: None,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({
                "projectId": "prj", "name": "atlas-x", "ports": [], "timeout": 600000,
                "persistent": false, "resources": {"vcpus": 2}, "runtime": "node24",
                "networkPolicy": {"mode": "deny-all"}, "tags": {"atlas-sandbox": "true"}
            })
        );
        let cmd = RunCommand {
            command: "sh",
            args: ["-c", "ls"],
            cwd: "/vercel/sandbox/semantic",
            env: BTreeMap::new(),
            sudo: false,
            wait: Some(true),
            logs: Some(true),
            timeout: 10_000,
        };
        assert_eq!(
            serde_json::to_value(&cmd).unwrap(),
            serde_json::json!({
                "command": "sh", "args": ["-c", "ls"], "cwd": "/vercel/sandbox/semantic",
                "env": {}, "sudo": false, "wait": true, "logs": true, "timeout": 10000
            })
        );
    }
}
