//! Daytona's wire protocol: the control-plane API (`{api_url}/sandbox...`) and the toolbox daemon
//! behind the proxy URL the API returns (`{toolboxProxyUrl}/{sandboxId}/...`).
//!
//! Every call goes through `atlas_sandbox_cloud::send` (retries that never repeat a create or an
//! exec blindly) and `check` (vendor error bodies mapped to SDK error kinds, secrets scrubbed).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use atlas_sandbox_cloud::{ErrorHints, Idempotent, RetryPolicy, check, send, transport_error};
use atlas_sandbox_sdk::{Error, Result, Secret};
use reqwest::{Method, RequestBuilder};
use serde::{Deserialize, Serialize};

use crate::ID;
use crate::error::DaytonaError;

/// The variable or key a user fixes when the credentials are rejected.
const KEY_HINT: &str = "DAYTONA_API_KEY or plugins.daytona.api_key";

/// The header Daytona's runner sets on a toolbox answer for a sandbox that is not running
/// (`stopped`, ...): the request reached no daemon.
pub(crate) const SANDBOX_STATE_HEADER: &str = "x-daytona-sandbox-state";

/// Prefix of stdout chunks in a session command log.
pub(crate) const STDOUT_PREFIX: [u8; 3] = [1, 1, 1];
/// Prefix of stderr chunks in a session command log.
pub(crate) const STDERR_PREFIX: [u8; 3] = [2, 2, 2];

/// `CreateSandbox`, with the fields we set.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateSandbox {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) snapshot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) build_info: Option<BuildInfo>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) public: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) target: Option<String>,
    /// Minutes; 0 disables.
    pub(crate) auto_stop_interval: u32,
    /// Minutes; 0 deletes the sandbox as soon as it stops, negative never.
    pub(crate) auto_delete_interval: i64,
    /// Minutes a stopped sandbox waits before it is archived; 0 means the vendor's maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) auto_archive_interval: Option<u32>,
    pub(crate) network_block_all: bool,
}

/// `buildInfo` of a create from an image.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BuildInfo {
    pub(crate) dockerfile_content: String,
}

/// The parts of the `Sandbox` DTO we read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SandboxDto {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) state: Option<String>,
    #[serde(default)]
    pub(crate) error_reason: Option<String>,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) toolbox_proxy_url: Option<String>,
}

impl SandboxDto {
    pub(crate) fn state(&self) -> &str {
        self.state.as_deref().unwrap_or("unknown")
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListSandboxesResponse {
    #[serde(default)]
    items: Vec<SandboxDto>,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ToolboxUrl {
    url: String,
}

/// The answer to a synchronous session exec: the command id, its exit code and its log (with
/// the stream prefixes, since we ask for split output and send no SDK version).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionExecDone {
    #[serde(default)]
    pub(crate) cmd_id: Option<String>,
    #[serde(default)]
    pub(crate) exit_code: Option<i32>,
    #[serde(default)]
    pub(crate) output: Option<String>,
    #[serde(default)]
    pub(crate) stdout: Option<String>,
    #[serde(default)]
    pub(crate) stderr: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecuteDone {
    #[serde(default)]
    pub(crate) exit_code: Option<i32>,
    /// The legacy name of `exitCode` (the SDK falls back to it).
    #[serde(default)]
    pub(crate) code: Option<i32>,
    #[serde(default)]
    pub(crate) result: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionDto {
    #[serde(default)]
    commands: Vec<SessionCommandDto>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionCommandDto {
    id: String,
    #[serde(default)]
    command: String,
}

/// `Command`: `exitCode` stays absent while it runs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CommandDto {
    #[serde(default)]
    pub(crate) exit_code: Option<i32>,
}

#[derive(Debug, Deserialize)]
struct LogsJson {
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    stderr: Option<String>,
}

/// One file of the bulk upload: destination (relative to the daemon's working directory) and
/// bytes.
#[derive(Debug, Clone)]
pub(crate) struct UploadFile {
    pub(crate) path: String,
    pub(crate) contents: Vec<u8>,
}

/// A session command's output so far.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Logs {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    /// The response was larger than we were willing to read.
    pub(crate) cut: bool,
}

/// The API client of one plugin: one pooled HTTP client, the base URL and the credentials.
#[derive(Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    api_url: String,
    key: Secret,
    organization_id: Option<String>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("api_url", &self.api_url)
            .field("organization_id", &self.organization_id)
            .finish_non_exhaustive()
    }
}

impl Api {
    pub(crate) fn new(
        http: reqwest::Client,
        api_url: &str,
        key: Secret,
        organization_id: Option<String>,
        retry: RetryPolicy,
    ) -> Self {
        Api {
            http,
            api_url: api_url.trim().trim_end_matches('/').to_owned(),
            key,
            organization_id,
            retry,
        }
    }

    fn hints<'a>(&'a self, operation: &'a str, secrets: &'a [&'a Secret]) -> ErrorHints<'a> {
        ErrorHints {
            key_env_var: KEY_HINT,
            secrets,
            operation,
        }
    }

    /// A request with our credentials. With a JWT the organization travels in a header; with an
    /// API key it is implied. `X-Daytona-Split-Output` asks the toolbox for session logs with
    /// the stream prefixes kept (we split them ourselves) instead of merged text.
    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        let mut b = self
            .http
            .request(method, url)
            .bearer_auth(self.key.expose())
            .header("X-Daytona-Source", "atlas-sandbox")
            .header("X-Daytona-Split-Output", "true");
        if let Some(org) = &self.organization_id {
            b = b.header("X-Daytona-Organization-ID", org);
        }
        b
    }

    async fn call(
        &self,
        operation: &str,
        idempotent: Idempotent,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<reqwest::Response> {
        let resp = send(ID, &self.retry, idempotent, build).await?;
        let secrets = [&self.key];
        let state = resp
            .headers()
            .get(SANDBOX_STATE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match (
            check(ID, resp, &self.hints(operation, &secrets)).await,
            state,
        ) {
            // The toolbox proxy refused because the sandbox is not running: say so, so a
            // persistent sandbox can be started again instead of reported as broken.
            (Err(e), Some(state)) => Err(e.with_context("sandbox_state", state)),
            (other, _) => other,
        }
    }

    async fn json<T: serde::de::DeserializeOwned>(
        what: &'static str,
        resp: reqwest::Response,
    ) -> Result<T> {
        let bytes = resp.bytes().await.map_err(|e| transport_error(ID, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            DaytonaError::BadResponse {
                what,
                detail: e.to_string(),
            }
            .into()
        })
    }

    // ----- control plane -------------------------------------------------------------------

    /// `POST /sandbox`. Never retried after the server may have acted (a repeated create can
    /// leak a paid sandbox); the caller finds a half-created one by its create label.
    pub(crate) async fn create_sandbox(&self, body: &CreateSandbox) -> Result<SandboxDto> {
        let url = format!("{}/sandbox", self.api_url);
        let resp = self
            .call("create sandbox", Idempotent::No, || {
                self.request(Method::POST, &url).json(body)
            })
            .await?;
        Self::json("create sandbox", resp).await
    }

    /// `GET /sandbox/{id}`.
    pub(crate) async fn get_sandbox(&self, id: &str) -> Result<SandboxDto> {
        let url = format!("{}/sandbox/{}", self.api_url, seg(id));
        let resp = self
            .call("get sandbox", Idempotent::Yes, || {
                self.request(Method::GET, &url)
            })
            .await?;
        Self::json("get sandbox", resp).await
    }

    /// `DELETE /sandbox/{id}`. A sandbox that is already gone counts as deleted.
    pub(crate) async fn delete_sandbox(&self, id: &str) -> Result<()> {
        let url = format!("{}/sandbox/{}", self.api_url, seg(id));
        match self
            .call("delete sandbox", Idempotent::Yes, || {
                self.request(Method::DELETE, &url)
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == atlas_sandbox_sdk::ErrorKind::SandboxGone => Ok(()),
            Err(e) => Err(e.with_context("sandbox_id", id)),
        }
    }

    /// `GET /sandbox?labels=<json>`, following `nextCursor`. `max` bounds how many are read.
    pub(crate) async fn list_sandboxes(
        &self,
        labels: &BTreeMap<String, String>,
        max: usize,
    ) -> Result<Vec<SandboxDto>> {
        let url = format!("{}/sandbox", self.api_url);
        let labels_json = serde_json::to_string(labels).unwrap_or_else(|_| "{}".to_owned());
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let limit = (max - out.len()).clamp(1, 100).to_string();
            let resp = self
                .call("list sandboxes", Idempotent::Yes, || {
                    let mut q: Vec<(&str, &str)> =
                        vec![("labels", labels_json.as_str()), ("limit", limit.as_str())];
                    if let Some(c) = &cursor {
                        q.push(("cursor", c.as_str()));
                    }
                    self.request(Method::GET, &url).query(&q)
                })
                .await?;
            let page: ListSandboxesResponse = Self::json("list sandboxes", resp).await?;
            let got = page.items.len();
            out.extend(page.items);
            match page.next_cursor {
                Some(c) if !c.is_empty() && got > 0 && out.len() < max => cursor = Some(c),
                _ => break,
            }
        }
        out.truncate(max);
        Ok(out)
    }

    /// `POST /sandbox/{id}/start`: starts a stopped or archived sandbox (a started one is
    /// answered as it is). Repeating it is harmless, so it is retried like a read.
    pub(crate) async fn start_sandbox(&self, id: &str) -> Result<SandboxDto> {
        let url = format!("{}/sandbox/{}/start", self.api_url, seg(id));
        let resp = self
            .call("start sandbox", Idempotent::Yes, || {
                self.request(Method::POST, &url)
            })
            .await
            .map_err(|e| e.with_context("sandbox_id", id))?;
        Self::json("start sandbox", resp).await
    }

    /// `POST /sandbox/{id}/stop`: stops a started sandbox, keeping its filesystem. Daytona
    /// refuses (400) a sandbox that is not started; callers read the state first.
    pub(crate) async fn stop_sandbox(&self, id: &str) -> Result<SandboxDto> {
        let url = format!("{}/sandbox/{}/stop", self.api_url, seg(id));
        let resp = self
            .call("stop sandbox", Idempotent::Yes, || {
                self.request(Method::POST, &url)
            })
            .await
            .map_err(|e| e.with_context("sandbox_id", id))?;
        Self::json("stop sandbox", resp).await
    }

    /// `POST /sandbox/{id}/last-activity`: resets the auto-stop clock.
    pub(crate) async fn refresh_activity(&self, id: &str) -> Result<()> {
        let url = format!("{}/sandbox/{}/last-activity", self.api_url, seg(id));
        self.call("keep sandbox alive", Idempotent::Yes, || {
            self.request(Method::POST, &url)
        })
        .await
        .map(|_| ())
    }

    /// `GET /sandbox/{id}/toolbox-proxy-url`, for a DTO that came without one.
    pub(crate) async fn toolbox_proxy_url(&self, id: &str) -> Result<String> {
        let url = format!("{}/sandbox/{}/toolbox-proxy-url", self.api_url, seg(id));
        let resp = self
            .call("get toolbox URL", Idempotent::Yes, || {
                self.request(Method::GET, &url)
            })
            .await?;
        let u: ToolboxUrl = Self::json("toolbox proxy URL", resp).await?;
        Ok(u.url)
    }

    // ----- toolbox -------------------------------------------------------------------------

    /// `POST /files/bulk-upload`: the whole semantic layer in one multipart request. Overwrites,
    /// so it is safe to retry.
    pub(crate) async fn bulk_upload(
        &self,
        toolbox: &str,
        files: Arc<Vec<UploadFile>>,
        timeout: Duration,
    ) -> Result<()> {
        let url = format!("{toolbox}/files/bulk-upload");
        let resp = self
            .call("upload semantic layer", Idempotent::Yes, || {
                let mut form = reqwest::multipart::Form::new();
                for (i, f) in files.iter().enumerate() {
                    form = form.text(format!("files[{i}].path"), f.path.clone()).part(
                        format!("files[{i}].file"),
                        reqwest::multipart::Part::bytes(f.contents.clone())
                            .file_name(f.path.clone()),
                    );
                }
                self.request(Method::POST, &url)
                    .multipart(form)
                    .timeout(timeout)
            })
            .await?;
        // A 200 may still list per-file errors in older daemons; a 400 lists them and was
        // already mapped by `check`.
        let body = resp.bytes().await.map_err(|e| transport_error(ID, e))?;
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
            && let Some(errs) = v
                .get("errors")
                .and_then(|e| e.as_array())
                .filter(|e| !e.is_empty())
        {
            return Err(DaytonaError::UploadRejected(
                errs.iter()
                    .filter_map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
            .into());
        }
        Ok(())
    }

    /// `POST /process/session`. A retry after a lost response would see 409; we only retry
    /// when the server said it did not act.
    pub(crate) async fn create_session(&self, toolbox: &str, session_id: &str) -> Result<()> {
        let url = format!("{toolbox}/process/session");
        let body = serde_json::json!({ "sessionId": session_id });
        self.call("create session", Idempotent::No, || {
            self.request(Method::POST, &url).json(&body)
        })
        .await
        .map(|_| ())
    }

    /// `POST /process/session/{sid}/exec`, synchronous: the daemon answers when the command has
    /// ended, with its exit code and log, in one round trip. The daemon has no deadline for it;
    /// `wait` bounds the HTTP request and the caller recovers the command if it runs longer.
    pub(crate) async fn session_exec_sync(
        &self,
        toolbox: &str,
        session_id: &str,
        command: &str,
        wait: Duration,
    ) -> Result<SessionExecDone> {
        let url = format!("{toolbox}/process/session/{}/exec", seg(session_id));
        let body = serde_json::json!({ "command": command, "runAsync": false });
        let resp = self
            .call("run command", Idempotent::No, || {
                self.request(Method::POST, &url).json(&body).timeout(wait)
            })
            .await?;
        Self::json("session exec", resp).await
    }

    /// `POST /process/execute`, the toolbox's one-shot exec, with the body the SDK's
    /// `executeCommand` sends (`{command, timeout}`; no `cwd` or `envs`: the script handles
    /// both). The daemon pipes `command` to its shell, merges stdout and stderr into `result`,
    /// and past `timeout_secs` kills the process group and answers 408 without the output.
    /// `wait` bounds the HTTP request. Never retried: the command may have run.
    pub(crate) async fn execute(
        &self,
        toolbox: &str,
        command: &str,
        timeout_secs: u64,
        wait: Duration,
    ) -> Result<ExecuteDone> {
        let url = format!("{toolbox}/process/execute");
        let body = serde_json::json!({ "command": command, "timeout": timeout_secs });
        let resp = self
            .call("run command", Idempotent::No, || {
                self.request(Method::POST, &url).json(&body).timeout(wait)
            })
            .await?;
        Self::json("process execute", resp).await
    }

    /// `GET /process/session/{sid}`: the id of the last command whose text is `command`.
    pub(crate) async fn find_command(
        &self,
        toolbox: &str,
        session_id: &str,
        command: &str,
    ) -> Result<Option<String>> {
        let url = format!("{toolbox}/process/session/{}", seg(session_id));
        let resp = self
            .call("find command", Idempotent::Yes, || {
                self.request(Method::GET, &url)
            })
            .await?;
        let s: SessionDto = Self::json("session", resp).await?;
        Ok(s.commands
            .into_iter()
            .rev()
            .find(|c| c.command == command)
            .map(|c| c.id))
    }

    /// `GET /process/session/{sid}/command/{cid}`.
    pub(crate) async fn get_command(
        &self,
        toolbox: &str,
        session_id: &str,
        cmd_id: &str,
    ) -> Result<CommandDto> {
        let url = format!(
            "{toolbox}/process/session/{}/command/{}",
            seg(session_id),
            seg(cmd_id)
        );
        let resp = self
            .call("poll command", Idempotent::Yes, || {
                self.request(Method::GET, &url)
            })
            .await?;
        Self::json("session command", resp).await
    }

    /// `GET /process/session/{sid}/command/{cid}/logs`, read up to `max_bytes` and split into
    /// stdout and stderr. A body cut mid-way is fetched again (the log file is still there).
    pub(crate) async fn command_logs(
        &self,
        toolbox: &str,
        session_id: &str,
        cmd_id: &str,
        max_bytes: usize,
    ) -> Result<Logs> {
        let url = format!(
            "{toolbox}/process/session/{}/command/{}/logs",
            seg(session_id),
            seg(cmd_id)
        );
        let mut attempt = 0u32;
        loop {
            let resp = self
                .call("fetch command logs", Idempotent::Yes, || {
                    self.request(Method::GET, &url)
                })
                .await?;
            match read_logs(resp, max_bytes).await {
                Ok(logs) => return Ok(logs),
                Err(e) if attempt < self.retry.max_retries => {
                    tracing::debug!(error = %e, attempt, "command logs cut; fetching again");
                    tokio::time::sleep(self.retry.backoff(attempt, None)).await;
                    attempt += 1;
                }
                Err(e) => return Err(transport_error(ID, e)),
            }
        }
    }

    /// `DELETE /process/session/{sid}`: kills the session's shell and everything it runs.
    pub(crate) async fn delete_session(&self, toolbox: &str, session_id: &str) -> Result<()> {
        let url = format!("{toolbox}/process/session/{}", seg(session_id));
        match self
            .call("delete session", Idempotent::Yes, || {
                self.request(Method::DELETE, &url)
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == atlas_sandbox_sdk::ErrorKind::SandboxGone => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Reads a logs body, at most `max_bytes`, in whichever format the daemon chose: JSON with split
/// streams, or the raw log with stream prefixes (what `X-Daytona-Split-Output` asks for).
async fn read_logs(mut resp: reqwest::Response, max_bytes: usize) -> Result<Logs, reqwest::Error> {
    let is_json = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let mut body = Vec::new();
    let mut cut = false;
    while let Some(chunk) = resp.chunk().await? {
        let room = max_bytes.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            cut = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    if is_json
        && !cut
        && let Ok(j) = serde_json::from_slice::<LogsJson>(&body)
    {
        let (stdout, stderr) = match (j.stdout, j.stderr, j.output) {
            (Some(o), Some(e), _) => (o.into_bytes(), e.into_bytes()),
            (_, _, Some(raw)) => demux(raw.as_bytes()),
            _ => (Vec::new(), Vec::new()),
        };
        return Ok(Logs {
            stdout,
            stderr,
            cut,
        });
    }
    let (stdout, stderr) = demux(&body);
    Ok(Logs {
        stdout,
        stderr,
        cut,
    })
}

/// Splits a session log into stdout and stderr: each 3-byte marker starts a chunk of its stream
/// that runs to the next marker. Bytes before the first marker (a daemon that merged the
/// streams) count as stdout.
pub(crate) fn demux(log: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let marker = |i: usize| -> Option<bool> {
        match log.get(i..i + 3)? {
            w if w == STDOUT_PREFIX => Some(true),
            w if w == STDERR_PREFIX => Some(false),
            _ => None,
        }
    };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut to_out = true;
    let mut pos = 0;
    let mut start = 0;
    while pos < log.len() {
        if let Some(is_out) = marker(pos) {
            let chunk = &log[start..pos];
            if to_out {
                out.extend_from_slice(chunk)
            } else {
                err.extend_from_slice(chunk)
            }
            to_out = is_out;
            pos += 3;
            start = pos;
        } else {
            pos += 1;
        }
    }
    let chunk = &log[start..];
    if to_out {
        out.extend_from_slice(chunk)
    } else {
        err.extend_from_slice(chunk)
    }
    (out, err)
}

/// RFC 3986's unreserved characters stay; everything else in an id is escaped.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes an id for use as one path segment.
fn seg(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, SEGMENT).to_string()
}

/// An error for a sandbox that reached a failed state.
pub(crate) fn start_failed(dto: &SandboxDto) -> Error {
    DaytonaError::StartFailed {
        id: dto.id.clone(),
        state: dto.state().to_owned(),
        reason: dto
            .error_reason
            .clone()
            .unwrap_or_else(|| "no reason given".to_owned()),
    }
    .into()
}

/// Polling intervals while waiting: quick at first, then backing off.
pub(crate) fn poll_interval(attempt: u32) -> Duration {
    const STEPS_MS: [u64; 6] = [0, 10, 25, 50, 100, 200];
    Duration::from_millis(STEPS_MS.get(attempt as usize).copied().unwrap_or(250))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demux_splits_and_keeps_unprefixed_as_stdout() {
        let (o, e) = demux(b"\x01\x01\x01a\n\x02\x02\x02b\n\x01\x01\x01c\n");
        assert_eq!((o.as_slice(), e.as_slice()), (&b"a\nc\n"[..], &b"b\n"[..]));
        let (o, e) = demux(b"plain\n");
        assert_eq!((o.as_slice(), e.as_slice()), (&b"plain\n"[..], &b""[..]));
        let (o, e) = demux(b"");
        assert!(o.is_empty() && e.is_empty());
        // A marker split across a cut is kept as bytes, never lost silently.
        let (o, _) = demux(b"\x01\x01\x01x\n\x02\x02");
        assert_eq!(o, b"x\n\x02\x02");
    }

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }
}
