//! What a command asks for and what it gives back.

use std::path::{Component, Path};
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};

/// The default wall-clock limit of one command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default cap of each output stream, in bytes.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// The longest command accepted, in characters (Atlas's REST limit).
pub const MAX_COMMAND_CHARS: usize = 4000;
/// The longest timeout a request may ask for. Longer is a clear error rather than a deadline
/// arithmetic overflow somewhere in a backend.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// The exit code a command gets when it is killed at its deadline (as GNU `timeout`).
pub const TIMEOUT_EXIT_CODE: i32 = 124;
/// How much output past the cap a command may write before a backend stops it, as a multiple of
/// the cap, per stream. A command slightly over the cap keeps its real exit status; `yes` is
/// stopped at once. Every backend uses this one factor so they all stop `yes` alike.
pub const OVERFLOW_KILL_FACTOR: u64 = 8;

/// How many bytes a stream may carry before a backend stops the command: [`OVERFLOW_KILL_FACTOR`]
/// × the cap, and never less than 8 × 64 KiB, so a small cap still lets an ordinary command (a
/// `head -c 100000`) end by itself with its real exit status, while `yes` stops within a moment.
pub fn overflow_limit(max_output_bytes: usize) -> u64 {
    (max_output_bytes as u64)
        .max(64 * 1024)
        .saturating_mul(OVERFLOW_KILL_FACTOR)
}

/// One command to run in a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    /// The shell command: run as `sh -c <command>` or interpreted by just-bash.
    pub command: String,
    /// The working directory, relative to the semantic root (`None` = the root).
    pub cwd: Option<String>,
    /// Wall-clock limit; on expiry the command is killed and reported with exit 124.
    pub timeout: Duration,
    /// Cap of each of stdout and stderr, in bytes.
    pub max_output_bytes: usize,
}

impl ExecRequest {
    /// A request with the SDK defaults (10 s, 1 MiB per stream, cwd = semantic root).
    pub fn new(command: impl Into<String>) -> Self {
        ExecRequest {
            command: command.into(),
            cwd: None,
            timeout: DEFAULT_TIMEOUT,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }

    /// Sets the working directory (relative to the semantic root).
    #[must_use]
    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }

    /// Sets the timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the per-stream output cap.
    #[must_use]
    pub fn max_output_bytes(mut self, bytes: usize) -> Self {
        self.max_output_bytes = bytes;
        self
    }

    /// Checks the request before any backend work: the command is non-empty, within
    /// [`MAX_COMMAND_CHARS`], has no NUL byte; the cwd stays inside the root; the timeout and cap
    /// are non-zero. Every backend calls this first.
    pub fn validate(&self) -> Result<()> {
        if self.command.trim().is_empty() {
            return Err(Error::invalid_request("the command is empty"));
        }
        let chars = self.command.chars().count();
        if chars > MAX_COMMAND_CHARS {
            return Err(Error::invalid_request(format!(
                "the command is {chars} characters long; the limit is {MAX_COMMAND_CHARS}"
            )));
        }
        if self.command.contains('\0') {
            return Err(Error::invalid_request("the command contains a NUL byte"));
        }
        if self.timeout.is_zero() {
            return Err(Error::invalid_request(
                "the timeout must be greater than zero",
            ));
        }
        if self.max_output_bytes == 0 {
            return Err(Error::invalid_request(
                "max_output_bytes must be greater than zero",
            ));
        }
        if let Some(cwd) = &self.cwd {
            normalize_relative(cwd)?;
        }
        Ok(())
    }

    /// The cwd as a clean relative path (`""` for the root), after [`ExecRequest::validate`].
    pub fn relative_cwd(&self) -> Result<String> {
        match &self.cwd {
            None => Ok(String::new()),
            Some(c) => normalize_relative(c),
        }
    }
}

/// Normalises a cwd relative to the semantic root: `a/./b/` → `a/b`; rejects absolute paths,
/// `..` that would leave the root, NUL bytes and newlines.
pub fn normalize_relative(path: &str) -> Result<String> {
    if path.contains('\0') || path.contains('\n') {
        return Err(Error::invalid_request(
            "cwd contains a NUL byte or a newline",
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for comp in Path::new(path).components() {
        match comp {
            Component::Normal(p) => parts.push(p.to_str().unwrap_or_default()),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(Error::invalid_request(format!(
                        "cwd {path:?} leaves the semantic root"
                    )));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(Error::invalid_request(format!(
                    "cwd {path:?} must be relative to the semantic root"
                )));
            }
        }
    }
    Ok(parts.join("/"))
}

/// What a command produced. A non-zero exit code is data, not an error.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ExecOutput {
    /// Standard output, capped, with the truncation notice appended when cut.
    #[serde(serialize_with = "ser_lossy")]
    pub stdout: Vec<u8>,
    /// Standard error, capped likewise.
    #[serde(serialize_with = "ser_lossy")]
    pub stderr: Vec<u8>,
    /// The exit status (128 + signal for a signal; 124 after a timeout).
    pub exit_code: i32,
    /// Whether the command was killed at its deadline.
    pub timed_out: bool,
    /// Whether stdout was cut at the cap.
    pub stdout_truncated: bool,
    /// Whether stderr was cut at the cap.
    pub stderr_truncated: bool,
    /// Wall-clock time of the exec as seen by the backend.
    #[serde(serialize_with = "ser_duration_ms", rename = "duration_ms")]
    pub duration: Duration,
}

fn ser_lossy<S: serde::Serializer>(b: &[u8], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

fn ser_duration_ms<S: serde::Serializer>(
    d: &Duration,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

impl std::fmt::Debug for ExecOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecOutput")
            .field("stdout", &String::from_utf8_lossy(&self.stdout))
            .field("stderr", &String::from_utf8_lossy(&self.stderr))
            .field("exit_code", &self.exit_code)
            .field("timed_out", &self.timed_out)
            .field("stdout_truncated", &self.stdout_truncated)
            .field("stderr_truncated", &self.stderr_truncated)
            .field("duration", &self.duration)
            .finish()
    }
}

impl ExecOutput {
    /// Builds an output from two capped streams.
    pub fn from_streams(
        stdout: CappedBuffer,
        stderr: CappedBuffer,
        exit_code: i32,
        timed_out: bool,
        duration: Duration,
    ) -> Self {
        let (stdout, stdout_truncated) = stdout.finish();
        let (stderr, stderr_truncated) = stderr.finish();
        ExecOutput {
            stdout,
            stderr,
            exit_code,
            timed_out,
            stdout_truncated,
            stderr_truncated,
            duration,
        }
    }

    /// stdout as text (lossy for invalid UTF-8).
    pub fn stdout_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// stderr as text (lossy for invalid UTF-8).
    pub fn stderr_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }

    /// Whether the command exited 0 and was not killed.
    pub fn success(&self) -> bool {
        self.exit_code == 0 && !self.timed_out
    }

    /// Re-applies a cap to an output that a remote side produced (a vendor may ignore ours).
    #[must_use]
    pub fn capped(self, limit: usize) -> Self {
        let mut out = CappedBuffer::new(limit);
        let mut err = CappedBuffer::new(limit);
        let already_out = self.stdout_truncated;
        let already_err = self.stderr_truncated;
        out.push(&self.stdout);
        err.push(&self.stderr);
        let (stdout, t_out) = if already_out && !out.is_truncated() {
            (self.stdout, true)
        } else {
            out.finish()
        };
        let (stderr, t_err) = if already_err && !err.is_truncated() {
            (self.stderr, true)
        } else {
            err.finish()
        };
        ExecOutput {
            stdout,
            stderr,
            stdout_truncated: t_out,
            stderr_truncated: t_err,
            ..self
        }
    }
}

/// The notice appended to a stream that was cut at `limit` bytes.
pub fn truncation_notice(limit: usize) -> String {
    format!("\n[output truncated: exceeded {limit} bytes]\n")
}

/// A byte buffer that keeps the first `limit` bytes pushed into it and counts the rest.
///
/// [`CappedBuffer::finish`] cuts at a UTF-8 character boundary (never inside a multi-byte
/// character) and appends [`truncation_notice`] when anything was dropped.
#[derive(Debug, Clone)]
pub struct CappedBuffer {
    buf: Vec<u8>,
    limit: usize,
    dropped: u64,
}

impl CappedBuffer {
    /// An empty buffer that keeps at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        CappedBuffer {
            buf: Vec::with_capacity(limit.min(64 * 1024)),
            limit,
            dropped: 0,
        }
    }

    /// Appends bytes, keeping what fits; returns how many bytes were dropped by this call.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let room = self.limit.saturating_sub(self.buf.len());
        let take = room.min(data.len());
        self.buf.extend_from_slice(&data[..take]);
        let dropped = data.len() - take;
        self.dropped += dropped as u64;
        dropped
    }

    /// Whether anything has been dropped so far.
    pub fn is_truncated(&self) -> bool {
        self.dropped > 0
    }

    /// How many bytes were dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Bytes kept so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was kept.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes kept so far (without the notice).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The kept bytes (cut at a character boundary and with the notice if truncated) and
    /// whether truncation happened.
    pub fn finish(mut self) -> (Vec<u8>, bool) {
        if self.dropped == 0 {
            return (self.buf, false);
        }
        let cut = complete_utf8_prefix(&self.buf);
        self.buf.truncate(cut);
        self.buf
            .extend_from_slice(truncation_notice(self.limit).as_bytes());
        (self.buf, true)
    }
}

/// The largest prefix length of `buf` that does not end inside a multi-byte UTF-8 character:
/// where to cut a capped stream, or how much of a chunk can be decoded before the rest of its
/// last character arrives. Bytes that are not UTF-8 at all are left alone: only an incomplete
/// trailing sequence is cut.
pub fn complete_utf8_prefix(buf: &[u8]) -> usize {
    let len = buf.len();
    // A UTF-8 sequence is at most 4 bytes: look back at most 3 for its leading byte.
    for back in 1..=3.min(len) {
        let b = buf[len - back];
        if b & 0b1100_0000 == 0b1000_0000 {
            continue; // continuation byte: keep looking for the lead
        }
        let need = if b & 0b1000_0000 == 0 {
            1
        } else if b & 0b1110_0000 == 0b1100_0000 {
            2
        } else if b & 0b1111_0000 == 0b1110_0000 {
            3
        } else if b & 0b1111_1000 == 0b1111_0000 {
            4
        } else {
            return len; // not a UTF-8 lead byte: binary data, cut where the cap fell
        };
        return if need > back { len - back } else { len };
    }
    len
}

/// Defaults that every backend inherits unless its config overrides them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecDefaults {
    /// Default per-command timeout.
    pub timeout: Duration,
    /// Default cap of each output stream.
    pub max_output_bytes: usize,
}

impl Default for ExecDefaults {
    fn default() -> Self {
        ExecDefaults {
            timeout: DEFAULT_TIMEOUT,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

impl ExecDefaults {
    /// A request for `command` with these defaults.
    pub fn request(&self, command: impl Into<String>) -> ExecRequest {
        ExecRequest::new(command)
            .timeout(self.timeout)
            .max_output_bytes(self.max_output_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_limit_has_a_floor() {
        assert_eq!(overflow_limit(1000), 8 * 64 * 1024);
        assert_eq!(overflow_limit(1 << 20), 8 << 20);
        assert_eq!(overflow_limit(usize::MAX), u64::MAX);
    }

    #[test]
    fn cap_keeps_prefix_and_appends_notice() {
        let mut b = CappedBuffer::new(5);
        b.push(b"hello world");
        let (out, t) = b.finish();
        assert!(t);
        assert_eq!(
            out,
            format!("hello{}", truncation_notice(5)).as_bytes().to_vec()
        );
    }

    #[test]
    fn cap_never_splits_a_character() {
        // "é" is 2 bytes, "€" 3, "😀" 4: cut every possible way.
        let s = "aé€😀z".repeat(3);
        for limit in 0..s.len() {
            let mut b = CappedBuffer::new(limit);
            b.push(s.as_bytes());
            let (out, t) = b.finish();
            assert!(t);
            let kept = &out[..out.len() - truncation_notice(limit).len()];
            assert!(std::str::from_utf8(kept).is_ok(), "limit {limit}");
            assert!(s.as_bytes().starts_with(kept));
            assert!(kept.len() + 3 >= limit.min(s.len()));
        }
    }

    #[test]
    fn cap_untouched_when_fits() {
        let mut b = CappedBuffer::new(10);
        b.push(b"abc");
        b.push(b"def");
        assert_eq!(b.finish(), (b"abcdef".to_vec(), false));
    }

    #[test]
    fn complete_prefix_holds_back_only_an_unfinished_char() {
        assert_eq!(complete_utf8_prefix(&[b'a', 0xe2, 0x82]), 1);
        assert_eq!(complete_utf8_prefix(&[b'a', 0xe2, 0x82, 0xac]), 4);
        assert_eq!(complete_utf8_prefix(&[0x80, 0x80, 0x80]), 3);
        assert_eq!(complete_utf8_prefix("né".as_bytes()), 3);
        assert_eq!(complete_utf8_prefix(&[0xf0, 0x9f, 0x98]), 0);
        assert_eq!(complete_utf8_prefix(&[]), 0);
    }

    #[test]
    fn binary_is_cut_at_the_cap() {
        let mut b = CappedBuffer::new(3);
        b.push(&[0xff, 0xfe, 0xfd, 0xfc]);
        let (out, _) = b.finish();
        assert_eq!(&out[..3], &[0xff, 0xfe, 0xfd]);
    }

    #[test]
    fn validate_limits() {
        assert!(ExecRequest::new("ls").validate().is_ok());
        assert!(ExecRequest::new("  ").validate().is_err());
        let long = "a".repeat(MAX_COMMAND_CHARS + 1);
        let err = ExecRequest::new(long).validate().unwrap_err();
        assert!(err.to_string().contains("4000"), "{err}");
        // 4000 multi-byte characters are fine: the limit counts characters.
        assert!(
            ExecRequest::new("é".repeat(MAX_COMMAND_CHARS))
                .validate()
                .is_ok()
        );
        assert!(ExecRequest::new("ls").cwd("../x").validate().is_err());
        assert!(ExecRequest::new("ls").cwd("/etc").validate().is_err());
        assert!(ExecRequest::new("ls").cwd("a/../..").validate().is_err());
        assert_eq!(
            ExecRequest::new("ls")
                .cwd("./a/b/../c/")
                .relative_cwd()
                .unwrap(),
            "a/c"
        );
        assert!(
            ExecRequest::new("ls")
                .timeout(Duration::ZERO)
                .validate()
                .is_err()
        );
    }
}
