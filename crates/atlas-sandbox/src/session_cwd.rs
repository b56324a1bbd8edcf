//! The working directory a session carries from one command to the next.
//!
//! Every command is a new shell, so a `cd` would end with it. The session wraps each command:
//! a prefix (on the command's first line, so bash's line numbers do not move) returns to the
//! directory the previous command ended in and sets an EXIT trap that prints that shell's final
//! `$PWD` as a trailer on stdout; the session cuts the trailer out and keeps the path.
//!
//! What the caller sees is what the command alone gives:
//! - the trap changes no exit code (bash, dash and just-bash keep the script's status through
//!   an EXIT trap that does not call `exit`);
//! - the trailer carries a fresh random nonce per command, and only the last trailer with that
//!   nonce is cut, so a command that prints marker-like text keeps it;
//! - the cap is raised by the trailer's room and re-applied after the cut, so truncation (bytes
//!   and notice) is exactly the cap the caller asked for;
//! - the prefix text, which bash echoes back in a syntax error on line 1, is removed from stderr.
//!
//! A command that installs its own EXIT trap, `exec`s another program or is killed reports no
//! trailer: the session then keeps the directory it had. A directory that no longer exists is
//! left for the semantic root (or the request's own `cwd`), silently, as `cd` into it fails.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use atlas_sandbox_sdk::{CappedBuffer, ExecOutput, ExecRequest, shell_quote, truncation_notice};

/// Room reserved in the cap for the trailer: the marker and a path up to Linux's `PATH_MAX`.
const TRAILER_ROOM: usize = 4096 + 64;
const MARK: &[u8] = b"\x1eatlas-cwd:";

/// One wrapped command: how to read its output back.
#[derive(Debug)]
pub(crate) struct Wrapped {
    nonce: String,
    prefix: String,
    cap: usize,
}

fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded from the OS per process; the counter makes each command differ.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:016x}", h.finish())
}

/// Wraps `request` to start in `carried` (unless the request names its own `cwd`) and report the
/// directory it ends in.
pub(crate) fn wrap(request: &mut ExecRequest, carried: Option<&str>) -> Wrapped {
    let nonce = nonce();
    let mut prefix = String::new();
    if request.cwd.is_none()
        && let Some(dir) = carried
    {
        prefix.push_str(&format!("cd -- {} 2>/dev/null; ", shell_quote(dir)));
    }
    prefix.push_str(&format!(
        "trap 'printf \"\\036atlas-cwd:{nonce}:%s\\036\" \"$PWD\" 2>/dev/null' EXIT; "
    ));
    request.command.insert_str(0, &prefix);
    let cap = request.max_output_bytes;
    request.max_output_bytes = cap.saturating_add(TRAILER_ROOM);
    Wrapped { nonce, prefix, cap }
}

impl Wrapped {
    /// The longest command accepted once wrapped: the SDK's limit plus this prefix.
    pub(crate) fn prefix_chars(&self) -> usize {
        self.prefix.chars().count()
    }

    /// Whether the wrapped script was refused by an interpreter that parses a whole script
    /// before running any of it (just-bash's `bash: syntax error: …`, which names columns that
    /// the prefix moved): nothing ran, so the session runs the command again unwrapped for the
    /// interpreter's own message. bash and dash parse as they go and never say this; their
    /// messages name lines, which the prefix does not move.
    pub(crate) fn refused_unparsed(&self, out: &ExecOutput) -> bool {
        out.exit_code == 2
            && out.stdout.is_empty()
            && !out.timed_out
            && out.stderr.starts_with(b"bash: syntax error: ")
    }

    /// Cuts the trailer out of `out`, restores the caller's cap, and returns the final directory
    /// when the command reported one.
    pub(crate) fn unwrap(&self, mut out: ExecOutput) -> (ExecOutput, Option<String>) {
        let raised = self.cap.saturating_add(TRAILER_ROOM);
        let mut stdout = strip_notice(
            std::mem::take(&mut out.stdout),
            out.stdout_truncated,
            raised,
        );
        let mut stderr = strip_notice(
            std::mem::take(&mut out.stderr),
            out.stderr_truncated,
            raised,
        );
        let mut cwd = None;
        let mut mark = MARK.to_vec();
        mark.extend_from_slice(self.nonce.as_bytes());
        mark.push(b':');
        if let Some(start) = rfind(&stdout, &mark)
            && let Some(len) = stdout[start + mark.len()..].iter().position(|&b| b == 0x1e)
        {
            let path = &stdout[start + mark.len()..start + mark.len() + len];
            cwd = std::str::from_utf8(path).ok().map(str::to_owned);
            stdout.drain(start..start + mark.len() + len + 1);
        }
        let prefix = self.prefix.as_bytes();
        while let Some(at) = rfind(&stderr, prefix) {
            stderr.drain(at..at + prefix.len());
        }
        let (stdout, t_out) = recap(stdout, out.stdout_truncated, self.cap);
        let (stderr, t_err) = recap(stderr, out.stderr_truncated, self.cap);
        out.stdout = stdout;
        out.stderr = stderr;
        out.stdout_truncated = t_out;
        out.stderr_truncated = t_err;
        (out, cwd.filter(|c| c.starts_with('/')))
    }
}

/// The stream without the backend's truncation notice for the raised cap.
fn strip_notice(mut bytes: Vec<u8>, truncated: bool, raised: usize) -> Vec<u8> {
    let notice = truncation_notice(raised);
    if truncated && bytes.ends_with(notice.as_bytes()) {
        bytes.truncate(bytes.len() - notice.len());
    }
    bytes
}

/// The stream as the caller's cap would have cut it.
fn recap(bytes: Vec<u8>, was_truncated: bool, cap: usize) -> (Vec<u8>, bool) {
    if bytes.len() <= cap && !was_truncated {
        return (bytes, false);
    }
    let mut buf = CappedBuffer::new(cap);
    buf.push(&bytes);
    if was_truncated && !buf.is_truncated() {
        // Cut by the backend for the raised cap yet shorter than ours after the notice came off:
        // only possible when the backend's notice differs; keep what it sent, still truncated.
        let (b, _) = buf.finish();
        return (b, true);
    }
    buf.finish()
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn output(stdout: &[u8], stderr: &[u8]) -> ExecOutput {
        ExecOutput {
            stdout: stdout.to_vec(),
            stderr: stderr.to_vec(),
            exit_code: 0,
            timed_out: false,
            stdout_truncated: false,
            stderr_truncated: false,
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn the_last_trailer_is_cut_and_forged_text_stays() {
        let mut r = ExecRequest::new("echo hi").max_output_bytes(100);
        let w = wrap(&mut r, Some("/semantic/it's"));
        assert!(
            r.command
                .starts_with("cd -- '/semantic/it'\\''s' 2>/dev/null; trap ")
        );
        assert!(r.command.ends_with("; echo hi"));
        let forged = "\x1eatlas-cwd:0000:/etc\x1e";
        let real = format!("\x1eatlas-cwd:{}:/semantic/x\x1e", w.nonce);
        let out = output(format!("hi\n{forged}{real}").as_bytes(), b"");
        let (out, cwd) = w.unwrap(out);
        assert_eq!(cwd.as_deref(), Some("/semantic/x"));
        assert_eq!(out.stdout, format!("hi\n{forged}").as_bytes());
    }

    #[test]
    fn truncation_is_the_callers_cap() {
        let mut r = ExecRequest::new("yes").max_output_bytes(10);
        let w = wrap(&mut r, None);
        // Under the raised cap but over the caller's: cut at 10 with the caller's notice.
        let body = "y\n".repeat(20);
        let real = format!("\x1eatlas-cwd:{}:/s\x1e", w.nonce);
        let (out, cwd) = w.unwrap(output(format!("{body}{real}").as_bytes(), b""));
        assert_eq!(cwd.as_deref(), Some("/s"));
        assert!(out.stdout_truncated);
        let want = format!("{}{}", &body[..10], truncation_notice(10));
        assert_eq!(out.stdout, want.as_bytes());
        // Cut by the backend at the raised cap: re-cut at 10, no trailer.
        let mut o = output(b"", b"");
        o.stdout = format!(
            "{}{}",
            "y".repeat(r.max_output_bytes),
            truncation_notice(r.max_output_bytes)
        )
        .into_bytes();
        o.stdout_truncated = true;
        let (out, cwd) = w.unwrap(o);
        assert_eq!(cwd, None);
        assert_eq!(
            out.stdout,
            format!("{}{}", "y".repeat(10), truncation_notice(10)).as_bytes()
        );
    }

    #[test]
    fn the_prefix_leaves_stderr() {
        let mut r = ExecRequest::new("echo )");
        let w = wrap(&mut r, None);
        let err = format!(
            "bash: -c: line 1: syntax error near unexpected token `)'\nbash: -c: line 1: `{}echo )'\n",
            w.prefix
        );
        let (out, cwd) = w.unwrap(output(b"", err.as_bytes()));
        assert_eq!(cwd, None);
        assert_eq!(
            out.stderr,
            b"bash: -c: line 1: syntax error near unexpected token `)'\nbash: -c: line 1: `echo )'\n"
        );
    }
}
