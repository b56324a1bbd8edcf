//! The toolbox daemon's shell sessions: one long-lived shell per session, commands written to its
//! stdin wrapped so that stdout and stderr lines land in one log file with the vendor's 3-byte
//! stream prefixes, and the exit code in a file once the output is flushed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin};

/// Prefix of every stdout line in a command log.
pub const STDOUT_PREFIX: &[u8] = &[1, 1, 1];
/// Prefix of every stderr line in a command log.
pub const STDERR_PREFIX: &[u8] = &[2, 2, 2];

/// One command run in a session.
#[derive(Debug, Clone)]
pub(crate) struct SessionCommand {
    pub(crate) id: String,
    pub(crate) command: String,
    dir: PathBuf,
}

impl SessionCommand {
    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.join("output.log")
    }

    fn exit_path(&self) -> PathBuf {
        self.dir.join("exit_code")
    }

    /// The exit code once the command (and its log labellers) finished.
    pub(crate) fn exit_code(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.exit_path()).ok()?;
        text.trim().parse().ok()
    }

    /// The log so far (empty before the first line).
    pub(crate) fn log(&self) -> Vec<u8> {
        std::fs::read(self.log_path()).unwrap_or_default()
    }
}

/// A live session: its shell and the commands it was given.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: String,
    dir: PathBuf,
    shell: Child,
    stdin: ChildStdin,
    pub(crate) commands: BTreeMap<String, SessionCommand>,
    pub(crate) order: Vec<String>,
}

fn shell_program() -> &'static str {
    if Path::new("/bin/bash").exists() {
        "/bin/bash"
    } else {
        "/bin/sh"
    }
}

impl Session {
    /// Starts the session's shell in its own process group, in `cwd` with `home` as `$HOME` and
    /// `tmp` as `$TMPDIR`, behind `prefix` (the kit's [`atlas_emulator_kit::private_tmp_prefix`],
    /// which mounts `tmp` on `/tmp` for it) when the machine allows one.
    // The daemon's session is a long-lived shell fed through its stdin; the SDK's runner runs a
    // process to completion and has no such mode, so this test-support code spawns directly.
    #[allow(
        clippy::disallowed_methods,
        clippy::disallowed_types,
        reason = "a persistent interactive shell, which atlas_sandbox_sdk::process cannot run"
    )]
    pub(crate) fn start(
        id: &str,
        dir: PathBuf,
        cwd: &Path,
        home: &Path,
        tmp: &Path,
        prefix: Option<&[std::ffi::OsString]>,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        std::fs::create_dir_all(tmp)?;
        let mut cmd = match prefix {
            Some(p) => {
                let mut c = tokio::process::Command::new(&p[0]);
                c.args(&p[1..]).arg(shell_program());
                c
            }
            None => tokio::process::Command::new(shell_program()),
        };
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", home)
            .env("TMPDIR", tmp)
            .env("USER", "daytona")
            .env("LANG", "C.UTF-8")
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        let mut shell = cmd.spawn()?;
        let stdin = shell
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("the session shell has no stdin"))?;
        Ok(Session {
            id: id.to_owned(),
            dir,
            shell,
            stdin,
            commands: BTreeMap::new(),
            order: Vec::new(),
        })
    }

    /// Hands a command to the shell. It runs after the commands before it, as in the daemon:
    /// one session runs one command at a time.
    pub(crate) async fn execute(&mut self, command: &str) -> std::io::Result<SessionCommand> {
        let id = uuid::Uuid::new_v4().to_string();
        let dir = self.dir.join(&id);
        std::fs::create_dir_all(&dir)?;
        let cmd = SessionCommand {
            id: id.clone(),
            command: command.to_owned(),
            dir: dir.clone(),
        };
        std::fs::write(dir.join("cmd.sh"), command)?;
        std::fs::write(cmd.log_path(), b"")?;
        let script = wrapper(&dir);
        self.stdin.write_all(script.as_bytes()).await?;
        self.stdin.flush().await?;
        self.commands.insert(id.clone(), cmd.clone());
        self.order.push(id);
        Ok(cmd)
    }

    /// Kills the shell's whole process group (the shell and whatever it is running).
    pub(crate) fn kill(&mut self) {
        if let Some(pid) = self.shell.id()
            && let Ok(pid) = i32::try_from(pid)
        {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.shell.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The text written to the session shell for one command. The command is sourced from a file in
/// the current shell (so `cd` and variables persist in the session, as with the vendor), its
/// stdout and stderr go through two FIFOs whose readers prefix each line, and the exit code is
/// written only after both readers drained, so a client that sees the exit code sees all output.
fn wrapper(dir: &Path) -> String {
    let d = atlas_sandbox_sdk::shell_quote(&dir.to_string_lossy());
    format!(
        r#"{{
__atlas_d={d}
rm -f "$__atlas_d/o.fifo" "$__atlas_d/e.fifo"
mkfifo "$__atlas_d/o.fifo" "$__atlas_d/e.fifo"
( while IFS= read -r __l || [ -n "$__l" ]; do printf '\001\001\001%s\n' "$__l"; done < "$__atlas_d/o.fifo" ) >> "$__atlas_d/output.log" &
__atlas_r1=$!
( while IFS= read -r __l || [ -n "$__l" ]; do printf '\002\002\002%s\n' "$__l"; done < "$__atlas_d/e.fifo" ) >> "$__atlas_d/output.log" &
__atlas_r2=$!
{{ . "$__atlas_d/cmd.sh"; }} < /dev/null > "$__atlas_d/o.fifo" 2> "$__atlas_d/e.fifo"
__atlas_ec=$?
wait "$__atlas_r1" "$__atlas_r2"
echo "$__atlas_ec" > "$__atlas_d/exit_code"
rm -f "$__atlas_d/o.fifo" "$__atlas_d/e.fifo"
}}
"#
    )
}

/// Splits a prefixed log into stdout and stderr, as the daemon and the SDK do: each marker
/// starts a chunk of its stream that runs to the next marker.
pub fn demux(log: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut pos = 0;
    let marker_at = |i: usize| -> Option<bool> {
        let w = log.get(i..i + 3)?;
        if w == STDOUT_PREFIX {
            Some(true)
        } else if w == STDERR_PREFIX {
            Some(false)
        } else {
            None
        }
    };
    while pos < log.len() {
        let Some(is_out) = marker_at(pos) else {
            pos += 1;
            continue;
        };
        let start = pos + 3;
        let mut end = start;
        while end < log.len() && marker_at(end).is_none() {
            end += 1;
        }
        if is_out {
            out.extend_from_slice(&log[start..end]);
        } else {
            err.extend_from_slice(&log[start..end]);
        }
        pos = end;
    }
    (out, err)
}

/// The log with the stream prefixes removed (the "combined output" old SDKs get).
pub fn strip_prefixes(log: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(log.len());
    let mut i = 0;
    while i < log.len() {
        if let Some(w) = log.get(i..i + 3)
            && (w == STDOUT_PREFIX || w == STDERR_PREFIX)
        {
            i += 3;
            continue;
        }
        out.push(log[i]);
        i += 1;
    }
    out
}

/// A shared session handle.
pub(crate) type SharedSession = Arc<tokio::sync::Mutex<Session>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demux_splits_streams() {
        let log = b"\x01\x01\x01out1\n\x02\x02\x02err1\n\x01\x01\x01out2\n";
        let (o, e) = demux(log);
        assert_eq!(o, b"out1\nout2\n");
        assert_eq!(e, b"err1\n");
        assert_eq!(strip_prefixes(log), b"out1\nerr1\nout2\n");
    }
}
