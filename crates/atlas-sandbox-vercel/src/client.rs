//! The HTTP client of the Vercel Sandbox API: one call per endpoint, with the SDK's headers and
//! query (`Authorization: Bearer`, `?teamId=` on every request), vendor errors mapped by
//! `atlas_sandbox_cloud`, and retries only where repeating a call cannot duplicate its effect.

use std::time::Duration;

use atlas_sandbox_cloud::{
    ErrorHints, Idempotent, RetryPolicy, check, parse_error_body, send, status_error,
    transport_error,
};
use atlas_sandbox_sdk::{Error, ErrorKind, Result};
use bytes::Bytes;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::ID;
use crate::config::Credentials;
use crate::error::VercelError;
use crate::protocol::{
    Command, CommandResponse, CreateSandbox, KillCommand, NDJSON, RunCommand, SandboxAndSession,
    SandboxList, SessionInfo, SessionResponse,
};

/// A client bound to one set of credentials and one API base.
#[derive(Debug, Clone)]
pub(crate) struct VercelClient {
    http: reqwest::Client,
    base: String,
    creds: Credentials,
    retry: RetryPolicy,
}

impl VercelClient {
    pub(crate) fn new(
        api_url: &str,
        creds: Credentials,
        request_timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Self> {
        Ok(VercelClient {
            http: atlas_sandbox_cloud::http_client(request_timeout)
                .map_err(|e| e.with_backend(ID))?,
            base: api_url.trim().trim_end_matches('/').to_owned(),
            creds,
            retry,
        })
    }

    pub(crate) fn project_id(&self) -> &str {
        &self.creds.project_id
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.creds.token.expose())
            .query(&[("teamId", self.creds.team_id.as_str())])
    }

    /// Maps an error status. Vercel answers 422 `sandbox_stopping`/`sandbox_snapshotting` (and
    /// 410) for a session that is going away: both mean "gone" to the caller, which recreates.
    async fn checked(&self, operation: &'static str, resp: Response) -> Result<Response> {
        let secrets = [&self.creds.token];
        let hints = ErrorHints {
            key_env_var: self.creds.token_key,
            secrets: &secrets,
            operation,
        };
        if resp.status() == StatusCode::UNPROCESSABLE_ENTITY {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            let err = status_error(ID, status, &body, None, &hints);
            return match parse_error_body(&body).0 {
                Some(code) if code.starts_with("sandbox_") => {
                    Err(Error::new(ErrorKind::SandboxGone, err.message().to_owned())
                        .with_backend(ID)
                        .with_context("status", status.as_u16())
                        .with_context("operation", operation)
                        .with_context("error_code", code))
                }
                _ => Err(err),
            };
        }
        check(ID, resp, &hints).await
    }

    async fn json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        resp: Response,
    ) -> Result<T> {
        let resp = self.checked(operation, resp).await?;
        let bytes = resp.bytes().await.map_err(|e| transport_error(ID, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|source| VercelError::BadResponse { operation, source }.into())
    }

    /// Creates a sandbox named `body.name`. A create is never repeated blindly (a repeated
    /// create can leak a paid microVM): after an ambiguous failure (5xx, a dropped connection),
    /// the client looks the name up and adopts the sandbox if the first attempt made it, and
    /// only creates again when the name is free. Names are unique, so two microVMs can never
    /// come out of one call.
    pub(crate) async fn create(&self, body: &CreateSandbox<'_>) -> Result<SandboxAndSession> {
        // The SDK's endpoint choice: `runtime` is a v2 field; v3 takes `image` instead.
        let path = if body.runtime.is_some() {
            "/v2/sandboxes"
        } else {
            "/v3/sandboxes"
        };
        let mut attempt = 0u32;
        loop {
            let sent = send(ID, &self.retry, Idempotent::No, || {
                self.request(Method::POST, path).json(body)
            })
            .await;
            let ambiguous = match sent {
                Ok(resp) if resp.status().is_server_error() => {
                    let e = self.checked("create sandbox", resp).await;
                    e.err()
                }
                Ok(resp) => return self.json("create sandbox", resp).await,
                // A connection that never opened carried no request.
                Err(e) if e.kind() == ErrorKind::Unavailable => return Err(e),
                Err(e) => Some(e),
            };
            let Some(first_error) = ambiguous else {
                continue;
            };
            if attempt >= self.retry.max_retries {
                return Err(first_error);
            }
            tokio::time::sleep(self.retry.backoff(attempt, None)).await;
            attempt += 1;
            tracing::warn!(name = body.name, error = %first_error, "create failed ambiguously; looking the sandbox up by name");
            if let Some(found) = self.get_sandbox(body.name).await? {
                tracing::info!(
                    name = body.name,
                    "adopting the sandbox the failed create made"
                );
                return Ok(found);
            }
        }
    }

    /// The sandbox called `name`, or `None` if there is none.
    pub(crate) async fn get_sandbox(&self, name: &str) -> Result<Option<SandboxAndSession>> {
        self.get_sandbox_with(name, false).await
    }

    /// `GET /v2/sandboxes/{name}?resume=true`: the sandbox with a running session, started
    /// (from its snapshot when persistent) if it had none. `None` if there is no such sandbox;
    /// 410 `snapshot_not_found` when its snapshot expired.
    pub(crate) async fn resume(&self, name: &str) -> Result<Option<SandboxAndSession>> {
        self.get_sandbox_with(name, true).await
    }

    async fn get_sandbox_with(
        &self,
        name: &str,
        resume: bool,
    ) -> Result<Option<SandboxAndSession>> {
        let path = format!("/v2/sandboxes/{}", seg(name));
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            let r = self
                .request(Method::GET, &path)
                .query(&[("projectId", self.project_id())]);
            if resume {
                r.query(&[("resume", "true")])
            } else {
                r
            }
        })
        .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.json("get sandbox", resp).await.map(Some)
    }

    /// Uploads a gzip-compressed tar, extracted at `/` (entry names are relative to it; the
    /// server creates parent directories). Idempotent: it overwrites the same files.
    pub(crate) async fn write_files(&self, session_id: &str, tar_gz: Bytes) -> Result<()> {
        let path = format!("/v2/sandboxes/sessions/{session_id}/fs/write");
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            self.request(Method::POST, &path)
                .header(reqwest::header::CONTENT_TYPE, "application/gzip")
                .header("x-cwd", "/")
                .body(tar_gz.clone())
        })
        .await?;
        let _: serde_json::Value = self.json("upload files", resp).await?;
        Ok(())
    }

    /// Starts a command in `wait` mode: the response is the ndjson stream of the command, its
    /// output and its end. `bound` limits the whole response, stream included.
    pub(crate) async fn run_streaming(
        &self,
        session_id: &str,
        body: &RunCommand<'_>,
        bound: Duration,
    ) -> Result<Response> {
        let path = format!("/v2/sandboxes/sessions/{session_id}/cmd");
        let resp = send(ID, &self.retry, Idempotent::No, || {
            self.request(Method::POST, &path).json(body).timeout(bound)
        })
        .await?;
        let resp = self.checked("run command", resp).await?;
        expect_ndjson("run command", &resp)?;
        Ok(resp)
    }

    /// Starts a command detached: the answer is the running command.
    pub(crate) async fn run_detached(
        &self,
        session_id: &str,
        body: &RunCommand<'_>,
    ) -> Result<Command> {
        let path = format!("/v2/sandboxes/sessions/{session_id}/cmd");
        let resp = send(ID, &self.retry, Idempotent::No, || {
            self.request(Method::POST, &path).json(body)
        })
        .await?;
        let r: CommandResponse = self.json("run command", resp).await?;
        Ok(r.command)
    }

    /// The command's state; with `wait`, the server holds the request until it finished (or
    /// the request's `bound` passes, or the edge cuts it).
    pub(crate) async fn get_command(
        &self,
        session_id: &str,
        cmd_id: &str,
        wait: bool,
        bound: Duration,
    ) -> Result<Command> {
        let path = format!("/v2/sandboxes/sessions/{session_id}/cmd/{cmd_id}");
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            let r = self.request(Method::GET, &path).timeout(bound);
            if wait {
                r.query(&[("wait", "true")])
            } else {
                r
            }
        })
        .await?;
        let r: CommandResponse = self.json("get command", resp).await?;
        Ok(r.command)
    }

    /// The ndjson log stream of a command (all of it, from the start).
    pub(crate) async fn logs(
        &self,
        session_id: &str,
        cmd_id: &str,
        bound: Duration,
    ) -> Result<Response> {
        let path = format!("/v2/sandboxes/sessions/{session_id}/cmd/{cmd_id}/logs");
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            self.request(Method::GET, &path).timeout(bound)
        })
        .await?;
        let resp = self.checked("get logs", resp).await?;
        expect_ndjson("get logs", &resp)?;
        Ok(resp)
    }

    /// Sends a signal to a command.
    pub(crate) async fn kill(&self, session_id: &str, cmd_id: &str, signal: i32) -> Result<()> {
        let path = format!("/v2/sandboxes/sessions/{session_id}/cmd/{cmd_id}/kill");
        let body = KillCommand { signal };
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            self.request(Method::POST, &path).json(&body)
        })
        .await?;
        let _: CommandResponse = self.json("kill command", resp).await?;
        Ok(())
    }

    /// Extends the session's lifetime by `by`.
    pub(crate) async fn extend_timeout(
        &self,
        session_id: &str,
        by: Duration,
    ) -> Result<SessionInfo> {
        let path = format!("/v2/sandboxes/sessions/{session_id}/extend-timeout");
        let body = serde_json::json!({ "duration": millis(by) });
        let resp = send(ID, &self.retry, Idempotent::No, || {
            self.request(Method::POST, &path).json(&body)
        })
        .await?;
        let r: SessionResponse = self.json("extend timeout", resp).await?;
        Ok(r.session)
    }

    /// Stops the session (the microVM). Stopping a stopped session is harmless.
    pub(crate) async fn stop(&self, session_id: &str) -> Result<()> {
        let path = format!("/v2/sandboxes/sessions/{session_id}/stop");
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            // No body, but the SDK still declares JSON.
            self.request(Method::POST, &path)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
        })
        .await?;
        let _: serde_json::Value = self.json("stop session", resp).await?;
        Ok(())
    }

    /// Deletes the sandbox record.
    pub(crate) async fn delete(&self, name: &str) -> Result<()> {
        self.delete_with(name, false).await
    }

    /// Deletes the sandbox record; with `snapshots`, the snapshots only it used go too
    /// (`deleteOrphanSnapshots=true`).
    pub(crate) async fn delete_with(&self, name: &str, snapshots: bool) -> Result<()> {
        let path = format!("/v2/sandboxes/{}", seg(name));
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            let r = self
                .request(Method::DELETE, &path)
                .query(&[("projectId", self.project_id())]);
            if snapshots {
                r.query(&[("deleteOrphanSnapshots", "true")])
            } else {
                r
            }
        })
        .await?;
        let _: serde_json::Value = self.json("delete sandbox", resp).await?;
        Ok(())
    }

    /// One page of the project's sandboxes carrying `tag` (`key:value`). Free: used for the
    /// health check and the sweep.
    pub(crate) async fn list(
        &self,
        tag: Option<&str>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<SandboxList> {
        let limit = limit.to_string();
        let resp = send(ID, &self.retry, Idempotent::Yes, || {
            let mut r = self
                .request(Method::GET, "/v2/sandboxes")
                .query(&[("project", self.project_id()), ("limit", limit.as_str())]);
            if let Some(t) = tag {
                r = r.query(&[("tags", t)]);
            }
            if let Some(c) = cursor {
                r = r.query(&[("cursor", c)]);
            }
            r
        })
        .await?;
        self.json("list sandboxes", resp).await
    }
}

fn expect_ndjson(operation: &'static str, resp: &Response) -> Result<()> {
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case(NDJSON) {
        Ok(())
    } else {
        Err(VercelError::NotNdjson {
            operation,
            got: ct.to_owned(),
        }
        .into())
    }
}

/// A name as one path segment (the SDK's `encodeURIComponent`).
fn seg(name: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(name, SEGMENT).to_string()
}

/// A duration in the API's unit, milliseconds.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
