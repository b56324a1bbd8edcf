//! The wire protocol between the plugin and the `atlas-sidecar` server, shared by both so they
//! cannot drift apart. It keeps Atlas's shape (`POST /exec`, `GET /health`, bearer token) and adds
//! what Atlas lacked: `timed_out`, truncation flags, and a lossless (base64) output encoding.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use atlas_sandbox_sdk::ExecOutput;

/// The route that runs a command.
pub const EXEC_PATH: &str = "exec";
/// The route that reports whether the server can run commands.
pub const HEALTH_PATH: &str = "health";
/// The route that reports the server's version.
pub const VERSION_PATH: &str = "version";
/// The protocol version; bumped on an incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;
/// The environment variable holding the bearer token (the same name as Atlas's).
pub const TOKEN_ENV: &str = "SIDECAR_AUTH_TOKEN";

/// How stdout and stderr are carried in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputEncoding {
    /// UTF-8 text; bytes that are not UTF-8 become U+FFFD (lossy).
    #[default]
    Utf8,
    /// Standard base64 of the exact bytes (lossless).
    Base64,
}

impl OutputEncoding {
    /// Encodes bytes for the wire.
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            OutputEncoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            OutputEncoding::Base64 => B64.encode(bytes),
        }
    }

    /// Decodes a wire string back to bytes.
    pub fn decode(self, text: &str) -> Result<Vec<u8>, base64::DecodeError> {
        match self {
            OutputEncoding::Utf8 => Ok(text.as_bytes().to_vec()),
            OutputEncoding::Base64 => B64.decode(text),
        }
    }
}

/// The body of `POST /exec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecBody {
    /// The command, run as `sh -c <command>`.
    pub command: String,
    /// Wall-clock limit in milliseconds (the server clamps it to its maximum). Atlas's clients
    /// call it `timeout`; both names are accepted.
    #[serde(default, alias = "timeout", skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Working directory relative to the semantic root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Cap of each output stream in bytes (the server clamps it to its maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<usize>,
    /// How the response carries stdout and stderr.
    #[serde(default)]
    pub encoding: OutputEncoding,
}

/// The 200 answer of `POST /exec`. A non-zero exit is a 200 too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecResponse {
    /// Standard output in `encoding`.
    pub stdout: String,
    /// Standard error in `encoding`.
    pub stderr: String,
    /// Exit status (124 after a timeout, 128 + n for signal n).
    pub exit_code: i32,
    /// Whether the command was killed at its deadline.
    pub timed_out: bool,
    /// Whether either stream was cut at the cap.
    pub truncated: bool,
    /// Whether stdout was cut.
    #[serde(default)]
    pub stdout_truncated: bool,
    /// Whether stderr was cut.
    #[serde(default)]
    pub stderr_truncated: bool,
    /// The server-side wall-clock time of the command.
    #[serde(default)]
    pub duration_ms: u64,
    /// The encoding of `stdout` and `stderr`.
    #[serde(default)]
    pub encoding: OutputEncoding,
}

impl ExecResponse {
    /// The wire form of an output.
    pub fn from_output(out: &ExecOutput, encoding: OutputEncoding) -> Self {
        ExecResponse {
            stdout: encoding.encode(&out.stdout),
            stderr: encoding.encode(&out.stderr),
            exit_code: out.exit_code,
            timed_out: out.timed_out,
            truncated: out.stdout_truncated || out.stderr_truncated,
            stdout_truncated: out.stdout_truncated,
            stderr_truncated: out.stderr_truncated,
            duration_ms: u64::try_from(out.duration.as_millis()).unwrap_or(u64::MAX),
            encoding,
        }
    }

    /// Back to the SDK type.
    pub fn into_output(self) -> Result<ExecOutput, base64::DecodeError> {
        Ok(ExecOutput {
            stdout: self.encoding.decode(&self.stdout)?,
            stderr: self.encoding.decode(&self.stderr)?,
            exit_code: self.exit_code,
            timed_out: self.timed_out,
            // Older servers only send `truncated`; attribute it to stdout then.
            stdout_truncated: self.stdout_truncated || (self.truncated && !self.stderr_truncated),
            stderr_truncated: self.stderr_truncated,
            duration: Duration::from_millis(self.duration_ms),
        })
    }
}

/// The body of every non-200 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for a human.
    pub error: String,
}

/// The answer of `GET /health` (200 when `status` is `ok`, else 503).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthBody {
    /// `ok` or `error`.
    pub status: String,
    /// Why the server cannot run commands (absent when healthy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the shell exists and is executable.
    pub shell_available: bool,
    /// The absolute path of the shell commands run with (`/usr/bin/bash`). The client checks
    /// it against its `shell` key; a server that does not say is taken to run `sh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Whether the semantic directory can be listed.
    pub semantic_readable: bool,
    /// Commands running now.
    pub running: usize,
    /// The concurrency limit.
    pub max_concurrent: usize,
}

/// The answer of `GET /version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionBody {
    /// The server's crate version.
    pub version: String,
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_binary() {
        let out = ExecOutput {
            stdout: vec![0, 159, 146, 150, 255, b'\n'],
            stderr: "é".into(),
            exit_code: 3,
            timed_out: false,
            stdout_truncated: false,
            stderr_truncated: true,
            duration: Duration::from_millis(12),
        };
        let wire = ExecResponse::from_output(&out, OutputEncoding::Base64);
        assert!(wire.truncated);
        let json = serde_json::to_string(&wire).unwrap();
        let back: ExecResponse = serde_json::from_str(&json).unwrap();
        assert_eq!(back.into_output().unwrap(), out);
        let lossy = ExecResponse::from_output(&out, OutputEncoding::Utf8);
        assert!(lossy.stdout.contains('\u{FFFD}'));
    }

    #[test]
    fn exec_body_rejects_unknown_keys_and_defaults_encoding() {
        let b: ExecBody = serde_json::from_str(r#"{"command":"ls"}"#).unwrap();
        assert_eq!(b.encoding, OutputEncoding::Utf8);
        assert!(serde_json::from_str::<ExecBody>(r#"{"command":"ls","tmeout":5}"#).is_err());
        let atlas: ExecBody = serde_json::from_str(r#"{"command":"ls","timeout":5}"#).unwrap();
        assert_eq!(atlas.timeout_ms, Some(5));
    }
}
