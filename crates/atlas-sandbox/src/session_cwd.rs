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
//!
//! Most model commands cannot move the shell at all: one program and plain words (`grep -rn
//! customer_id .`). Such a line ([`keeps_directory`]) that would start where the sandbox starts
//! anyway (the session's *home*) runs unwrapped, so a backend that starts one-program lines
//! without bash (the jail, the sidecar) can do so. The home is learned once per session: the
//! first wrapped command with no `cd` prefix also prints the directory it starts in.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use atlas_sandbox_sdk::{CappedBuffer, ExecOutput, ExecRequest, shell_quote, truncation_notice};

/// Room reserved in the cap for the trailer: the marker and a path up to Linux's `PATH_MAX`.
const TRAILER_ROOM: usize = 4096 + 64;
const MARK: &[u8] = b"\x1eatlas-cwd:";
const HOME_MARK: &[u8] = b"\x1eatlas-home:";

/// First words that can move the shell's directory, by themselves or by running another
/// command in the same shell. Reserved words are here too, although a line of plain words
/// cannot open a compound command with them.
const MOVES: &[&str] = &[
    "cd", "pushd", "popd", "eval", "source", ".", "builtin", "command", "exec", "time", "enable",
    "coproc", "trap", "function", "select", "if", "while", "until", "for", "case", "then", "do",
    "else", "elif",
];

/// Whether `line` leaves the shell in the directory it started in: plain words separated by
/// blanks, not an assignment, and a first word that neither is nor runs a directory change.
pub(crate) fn keeps_directory(line: &str) -> bool {
    let Some(first) = line.split([' ', '\t']).find(|w| !w.is_empty()) else {
        return false;
    };
    line.bytes()
        .all(|b| b == b' ' || b == b'\t' || atlas_sandbox_sdk::is_plain_word_byte(b))
        && !first.contains('=')
        && !MOVES.contains(&first)
}

/// What a session knows of its shell's directory between commands.
#[derive(Debug, Default, Clone)]
pub(crate) struct Cwd {
    /// The directory the last reporting command ended in.
    pub(crate) carried: Option<String>,
    /// The directory a command starts in when nothing moves it (learned from the first wrapped
    /// command without a `cd` prefix).
    pub(crate) home: Option<String>,
}

impl Cwd {
    /// Whether a command with no `cwd` of its own starts in the home, as it would unwrapped.
    pub(crate) fn at_home(&self) -> bool {
        match (&self.carried, &self.home) {
            (None, _) => true,
            (Some(c), Some(h)) => c == h,
            (Some(_), None) => false,
        }
    }

    /// Takes in what an unwrapped command reported.
    pub(crate) fn update(&mut self, ended: Option<String>, home: Option<String>) {
        if let Some(h) = home {
            self.home.get_or_insert(h);
        }
        if let Some(c) = ended {
            self.carried = Some(c);
        }
    }
}

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

/// Wraps `request` to start in the carried directory (unless the request names its own `cwd` or
/// it is the home) and report the directory it ends in; and the one it starts in while the home
/// is unknown.
pub(crate) fn wrap(request: &mut ExecRequest, cwd: &Cwd) -> Wrapped {
    let nonce = nonce();
    let mut prefix = String::new();
    let moved = request.cwd.is_some() || !cwd.at_home();
    if request.cwd.is_none()
        && let Some(dir) = &cwd.carried
        && !cwd.at_home()
    {
        prefix.push_str(&format!("cd -- {} 2>/dev/null; ", shell_quote(dir)));
    }
    if !moved && cwd.home.is_none() {
        prefix.push_str(&format!(
            "printf '\\036atlas-home:{nonce}:%s\\036' \"$PWD\" 2>/dev/null; "
        ));
    }
    prefix.push_str(&format!(
        "trap 'printf \"\\036atlas-cwd:{nonce}:%s\\036\" \"$PWD\" 2>/dev/null' EXIT; "
    ));
    request.command.insert_str(0, &prefix);
    let cap = request.max_output_bytes;
    request.max_output_bytes = cap.saturating_add(2 * TRAILER_ROOM);
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

    /// Cuts the trailer (and the home marker) out of `out`, restores the caller's cap, and
    /// returns the final directory and the starting one when the command reported them.
    pub(crate) fn unwrap(
        &self,
        mut out: ExecOutput,
    ) -> (ExecOutput, Option<String>, Option<String>) {
        let raised = self.cap.saturating_add(2 * TRAILER_ROOM);
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
        // Printed before anything of the command's, so the first one with this nonce.
        let mut home = None;
        let mut mark = HOME_MARK.to_vec();
        mark.extend_from_slice(self.nonce.as_bytes());
        mark.push(b':');
        if stdout.starts_with(&mark)
            && let Some(len) = stdout[mark.len()..].iter().position(|&b| b == 0x1e)
        {
            home = std::str::from_utf8(&stdout[mark.len()..mark.len() + len])
                .ok()
                .filter(|h| h.starts_with('/'))
                .map(str::to_owned);
            stdout.drain(..mark.len() + len + 1);
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
        (out, cwd.filter(|c| c.starts_with('/')), home)
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
        let away = Cwd {
            carried: Some("/semantic/it's".into()),
            home: Some("/semantic".into()),
        };
        let w = wrap(&mut r, &away);
        assert!(
            r.command
                .starts_with("cd -- '/semantic/it'\\''s' 2>/dev/null; trap ")
        );
        assert!(r.command.ends_with("; echo hi"));
        let forged = "\x1eatlas-cwd:0000:/etc\x1e";
        let real = format!("\x1eatlas-cwd:{}:/semantic/x\x1e", w.nonce);
        let out = output(format!("hi\n{forged}{real}").as_bytes(), b"");
        let (out, cwd, _) = w.unwrap(out);
        assert_eq!(cwd.as_deref(), Some("/semantic/x"));
        assert_eq!(out.stdout, format!("hi\n{forged}").as_bytes());
    }

    #[test]
    fn truncation_is_the_callers_cap() {
        let mut r = ExecRequest::new("yes").max_output_bytes(10);
        let w = wrap(&mut r, &Cwd::default());
        // Under the raised cap but over the caller's: cut at 10 with the caller's notice.
        let body = "y\n".repeat(20);
        let real = format!("\x1eatlas-cwd:{}:/s\x1e", w.nonce);
        let (out, cwd, _) = w.unwrap(output(format!("{body}{real}").as_bytes(), b""));
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
        let (out, cwd, _) = w.unwrap(o);
        assert_eq!(cwd, None);
        assert_eq!(
            out.stdout,
            format!("{}{}", "y".repeat(10), truncation_notice(10)).as_bytes()
        );
    }

    #[test]
    fn the_prefix_leaves_stderr() {
        let mut r = ExecRequest::new("echo )");
        let w = wrap(&mut r, &Cwd::default());
        let err = format!(
            "bash: -c: line 1: syntax error near unexpected token `)'\nbash: -c: line 1: `{}echo )'\n",
            w.prefix
        );
        let (out, cwd, _) = w.unwrap(output(b"", err.as_bytes()));
        assert_eq!(cwd, None);
        assert_eq!(
            out.stderr,
            b"bash: -c: line 1: syntax error near unexpected token `)'\nbash: -c: line 1: `echo )'\n"
        );
    }

    #[test]
    fn only_plain_lines_that_cannot_move_keep_the_directory() {
        for keeps in [
            "grep -rn customer_id .",
            "cat catalog.yml",
            "ls -la entities",
            "  wc -l metrics/a.yml\t",
            "find . -name x.yml",
            "xargs",
        ] {
            assert!(keeps_directory(keeps), "{keeps}");
        }
        for moves in [
            "cd entities",
            "pushd /tmp",
            "popd",
            "eval cd x",
            "source x.sh",
            ". x.sh",
            "builtin cd x",
            "command cd x",
            "exec ls",
            "time cd x",
            "PWD=/tmp",
            "OLDPWD=/ ls",
            "ls; cd x",
            "ls && cd x",
            "ls | cat",
            "ls $HOME",
            "ls 'a b'",
            "ls *",
            "ls > x",
            "ls\ncd x",
            "cd",
            "",
            "   ",
        ] {
            assert!(!keeps_directory(moves), "{moves:?}");
        }
    }

    #[test]
    fn the_home_is_learned_once_and_cut_from_stdout() {
        let mut r = ExecRequest::new("ls").max_output_bytes(100);
        let mut cwd = Cwd::default();
        assert!(cwd.at_home());
        let w = wrap(&mut r, &cwd);
        assert!(
            r.command.starts_with("printf '\\036atlas-home:"),
            "{}",
            r.command
        );
        let home = format!("\x1eatlas-home:{}:/semantic\x1e", w.nonce);
        let end = format!("\x1eatlas-cwd:{}:/semantic\x1e", w.nonce);
        let (out, ended, learned) = w.unwrap(output(format!("{home}a.yml\n{end}").as_bytes(), b""));
        assert_eq!(out.stdout, b"a.yml\n");
        assert_eq!(learned.as_deref(), Some("/semantic"));
        cwd.update(ended, learned);
        assert!(cwd.at_home());
        // Known now: no marker, and no `cd` back to where a command starts anyway.
        let mut r = ExecRequest::new("ls | wc -l");
        let w = wrap(&mut r, &cwd);
        assert!(r.command.starts_with("trap "), "{}", r.command);
        // A forged home marker that is not first stays in the output.
        let forged = format!("x\x1eatlas-home:{}:/etc\x1e", w.nonce);
        let (out, _, learned) = w.unwrap(output(forged.as_bytes(), b""));
        assert_eq!(learned, None);
        assert_eq!(out.stdout, forged.as_bytes());
        // Moved away: back with `cd`, and not at home.
        cwd.update(Some("/semantic/entities".into()), None);
        assert!(!cwd.at_home());
        let mut r = ExecRequest::new("ls");
        wrap(&mut r, &cwd);
        assert!(
            r.command.starts_with("cd -- '/semantic/entities' "),
            "{}",
            r.command
        );
    }
}
