//! The request and response types shared by MCP and `/v1`; their schemas are the tool's input and
//! output schemas and the OpenAPI document's components.

use atlas_sandbox_sdk::ExecOutput;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One command to run over a semantic layer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExploreInput {
    /// The shell command (bash syntax; at most 4000 characters), run in the layer's root or
    /// `cwd`, e.g. `grep -rn customer_id entities`.
    pub command: String,
    /// The working directory, relative to the layer's root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The wall-clock limit in seconds (default: the server's); the command is killed and exits
    /// 124 when it passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.001, max = 86400.0))]
    #[schema(minimum = 0.001, maximum = 86400.0)]
    pub timeout: Option<f64>,
    /// The layer to run over (`name`, or `name/org` for a per-org layer); default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// A session id: files written by one call are there for the next call with the same id.
    /// Without one, a stdio server uses one session and an HTTP call gets a fresh sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    #[schema(min_length = 1, max_length = 128)]
    pub session: Option<String>,
}

/// What the command produced (a non-zero exit code is a result, not an error).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema, PartialEq)]
pub struct ExploreOutput {
    /// Standard output (invalid UTF-8 replaced), capped, with a notice when cut.
    pub stdout: String,
    /// Standard error, likewise.
    pub stderr: String,
    /// The exit status (124 after a timeout, 128+N after signal N).
    pub exit_code: i32,
    /// Whether the command was killed at its timeout.
    pub timed_out: bool,
    /// Whether stdout was cut at the cap.
    pub stdout_truncated: bool,
    /// Whether stderr was cut at the cap.
    pub stderr_truncated: bool,
    /// Wall-clock time of the command in milliseconds.
    pub duration_ms: f64,
    /// The backend that ran it.
    pub backend: String,
}

impl ExploreOutput {
    /// The output of `out` from `backend`.
    pub fn new(backend: String, out: &ExecOutput) -> Self {
        ExploreOutput {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            exit_code: out.exit_code,
            timed_out: out.timed_out,
            stdout_truncated: out.stdout_truncated,
            stderr_truncated: out.stderr_truncated,
            duration_ms: out.duration.as_secs_f64() * 1000.0,
            backend,
        }
    }

    /// The text a model reads: stdout, then stderr and the exit status when they say something.
    pub fn text(&self) -> String {
        let mut s = self.stdout.clone();
        if !self.stderr.is_empty() {
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str("[stderr]\n");
            s.push_str(&self.stderr);
        }
        if self.exit_code != 0 || self.timed_out {
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&format!("[exit code {}", self.exit_code));
            if self.timed_out {
                s.push_str(", timed out");
            }
            s.push(']');
        }
        s
    }
}

/// An error answer of the JSON API.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct ErrorDetail {
    /// A stable code: `invalid_request`, `unauthorized`, `not_found`, `busy`, `unavailable`,
    /// `shutting_down`, `backend_error`, `payload_too_large`.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
}
