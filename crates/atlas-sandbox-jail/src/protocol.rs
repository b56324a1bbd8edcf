//! The messages between the host and the jailed worker, one per `SOCK_SEQPACKET` datagram (the
//! socket keeps message boundaries, so no framing is needed). The worker is the host binary
//! itself, so both ends always speak the same version.

use serde::{Deserialize, Serialize};

/// The longest message either side accepts (a command is at most 4000 characters).
pub(crate) const MAX_MESSAGE: usize = 64 * 1024;

/// What the host tells a fresh worker about the jail to build (the first message, JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Plan {
    /// The host's pid: the worker checks it is still its parent after changing identity.
    pub host_pid: i32,
    /// The uid/gid the commands run as inside the jail.
    pub jail_uid: u32,
    pub jail_gid: u32,
    /// When the host is root: the unprivileged host uid/gid the worker becomes before it
    /// creates its user namespace (the jail ids then map to these).
    pub drop_to: Option<(u32, u32)>,
    /// Whether `/semantic` is an overlay over the host's layer (writes kept in the sandbox's
    /// tmpfs) rather than the host's layer bound read-only.
    pub overlay: bool,
    pub tmpfs_size_bytes: u64,
    pub tmpfs_max_inodes: u64,
    pub memory_limit_bytes: u64,
    pub max_processes: u64,
    pub max_file_size_bytes: u64,
    pub max_open_files: u64,
    /// RLIMIT_CPU of each command, whole seconds.
    pub cpu_seconds: u64,
    /// Extra read-only mounts: (host source, jail target).
    pub extra_ro: Vec<(String, String)>,
    /// Fail the setup when Landlock cannot be enforced.
    pub require_landlock: bool,
    /// What runs a command.
    pub engine: PlanEngine,
    /// How the worker is confined.
    pub mode: Mode,
    /// The semantic layer's host path (the plain worker reads it in place; the jail mounts it
    /// at `/semantic`).
    pub root: String,
    /// The bash engine's direct start: what the host learned of `/bin/bash` (its builtins and
    /// the environment it gives a program), so a line of one external program runs without
    /// bash in between. `None`: every line goes through bash.
    pub direct: Option<atlas_sandbox_sdk::process::direct::DirectExec>,
}

/// What runs a command in the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum PlanEngine {
    /// A fork of `/bin/bash -c` per command.
    Bash,
    /// The just-bash interpreter in one long-lived process of the worker, with this config.
    JustBash(Box<atlas_sandbox_just_bash::JustBashConfig>),
}

/// How the worker is confined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum Mode {
    /// The full jail: namespaces, pivot_root, Landlock, seccomp, rlimits.
    Jail,
    /// A plain child of the host (where user namespaces are unavailable): rlimits,
    /// no_new_privs and the seccomp filter; only for the just-bash engine.
    Plain,
}

/// Host → worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// Run `command` in `/semantic/<cwd>`; stdout and stderr are the two fds sent with it.
    /// The just-bash engine also takes it without fds and answers the output in `Output`
    /// replies instead (the host does so for every just-bash command).
    /// The just-bash engine bounds itself by `timeout_ms` and writes at most one byte more
    /// than `max_output` per stream (the host caps and adds the notice). `session` picks the
    /// interpreter (its memory layer) among those a shared just-bash worker holds; the bash
    /// engine has one jail per worker and ignores it.
    Exec {
        id: u64,
        session: u64,
        cwd: String,
        command: String,
        timeout_ms: u64,
        max_output: u64,
    },
    /// Kill the process group of exec `id`.
    Kill { id: u64 },
    /// Drop the interpreter of `session` and its memory layer (the session was closed while
    /// other sessions keep the worker).
    Forget { session: u64 },
}

/// Worker → host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// The jail is built and confined; `landlock` says how far Landlock is enforced.
    Ready { landlock: String },
    /// The jail could not be built; the message names the step and the error.
    SetupFailed { message: String },
    /// The command of exec `id` ended: `code` for an exit, `signal` for a kill;
    /// `timed_out` when the engine itself stopped it at its deadline (just-bash); `direct`
    /// when the bash engine started the line's program itself (the direct start; bash ran it
    /// after all only if that program could not be exec'd).
    Exited {
        id: u64,
        code: Option<i32>,
        signal: Option<i32>,
        timed_out: bool,
        direct: bool,
    },
    /// The command of exec `id` could not be started.
    SpawnFailed { id: u64, message: String },
    /// Part of the output of exec `id` (`stderr` false: stdout), sent before its `Exited` when
    /// the request carried no pipes: the just-bash engine holds a command's whole output in
    /// memory when it ends, so handing it over in the reply costs the host no pipes, no
    /// descriptor passing and no extra wake-ups. At most [`OUTPUT_CHUNK`] bytes each.
    Output {
        id: u64,
        stderr: bool,
        data: Vec<u8>,
    },
}

/// The most output bytes one `Output` message carries (the rest of [`MAX_MESSAGE`] is room for
/// its header).
pub(crate) const OUTPUT_CHUNK: usize = MAX_MESSAGE - 64;

const EXEC: u8 = 1;
const KILL: u8 = 2;
const FORGET: u8 = 3;
const READY: u8 = 10;
const SETUP_FAILED: u8 = 11;
const EXITED: u8 = 12;
const SPAWN_FAILED: u8 = 13;
const OUTPUT: u8 = 14;

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(i32::from_le_bytes)
    }
    fn str(&mut self) -> Option<String> {
        let n = self
            .take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)? as usize;
        self.take(n)
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

impl Request {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Request::Exec {
                id,
                session,
                cwd,
                command,
                timeout_ms,
                max_output,
            } => {
                out.push(EXEC);
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&session.to_le_bytes());
                put_str(&mut out, cwd);
                put_str(&mut out, command);
                out.extend_from_slice(&timeout_ms.to_le_bytes());
                out.extend_from_slice(&max_output.to_le_bytes());
            }
            Request::Kill { id } => {
                out.push(KILL);
                out.extend_from_slice(&id.to_le_bytes());
            }
            Request::Forget { session } => {
                out.push(FORGET);
                out.extend_from_slice(&session.to_le_bytes());
            }
        }
        out
    }

    pub(crate) fn decode(buf: &[u8]) -> Option<Request> {
        let mut r = Reader(buf);
        let msg = match r.u8()? {
            EXEC => Request::Exec {
                id: r.u64()?,
                session: r.u64()?,
                cwd: r.str()?,
                command: r.str()?,
                timeout_ms: r.u64()?,
                max_output: r.u64()?,
            },
            KILL => Request::Kill { id: r.u64()? },
            FORGET => Request::Forget { session: r.u64()? },
            _ => return None,
        };
        r.done().then_some(msg)
    }
}

fn opt(v: Option<i32>) -> i32 {
    v.unwrap_or(i32::MIN)
}

fn unopt(v: i32) -> Option<i32> {
    (v != i32::MIN).then_some(v)
}

impl Reply {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Reply::Ready { landlock } => {
                out.push(READY);
                put_str(&mut out, landlock);
            }
            Reply::SetupFailed { message } => {
                out.push(SETUP_FAILED);
                put_str(&mut out, message);
            }
            Reply::Exited {
                id,
                code,
                signal,
                timed_out,
                direct,
            } => {
                out.push(EXITED);
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&opt(*code).to_le_bytes());
                out.extend_from_slice(&opt(*signal).to_le_bytes());
                out.push(u8::from(*timed_out));
                out.push(u8::from(*direct));
            }
            Reply::SpawnFailed { id, message } => {
                out.push(SPAWN_FAILED);
                out.extend_from_slice(&id.to_le_bytes());
                put_str(&mut out, message);
            }
            Reply::Output { id, stderr, data } => {
                out.reserve(10 + data.len());
                out.push(OUTPUT);
                out.extend_from_slice(&id.to_le_bytes());
                out.push(u8::from(*stderr));
                // The data runs to the end of the message.
                out.extend_from_slice(data);
            }
        }
        out
    }

    pub(crate) fn decode(buf: &[u8]) -> Option<Reply> {
        let mut r = Reader(buf);
        let msg = match r.u8()? {
            READY => Reply::Ready { landlock: r.str()? },
            SETUP_FAILED => Reply::SetupFailed { message: r.str()? },
            EXITED => Reply::Exited {
                id: r.u64()?,
                code: unopt(r.i32()?),
                signal: unopt(r.i32()?),
                timed_out: r.u8()? != 0,
                direct: r.u8()? != 0,
            },
            SPAWN_FAILED => Reply::SpawnFailed {
                id: r.u64()?,
                message: r.str()?,
            },
            OUTPUT => {
                let id = r.u64()?;
                let stderr = match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => return None,
                };
                let data = r.rest().to_vec();
                return (data.len() <= OUTPUT_CHUNK).then_some(Reply::Output { id, stderr, data });
            }
            _ => return None,
        };
        r.done().then_some(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for req in [
            Request::Exec {
                id: 7,
                session: 3,
                cwd: "entities".into(),
                command: "grep -rn é .".into(),
                timeout_ms: 10_000,
                max_output: 1 << 20,
            },
            Request::Kill { id: u64::MAX },
            Request::Forget { session: 9 },
        ] {
            assert_eq!(Request::decode(&req.encode()), Some(req));
        }
        for rep in [
            Reply::Ready {
                landlock: "fully enforced".into(),
            },
            Reply::SetupFailed {
                message: "unshare: EPERM".into(),
            },
            Reply::Exited {
                id: 1,
                code: Some(0),
                signal: None,
                timed_out: false,
                direct: true,
            },
            Reply::Exited {
                id: 2,
                code: None,
                signal: Some(9),
                timed_out: true,
                direct: false,
            },
            Reply::SpawnFailed {
                id: 3,
                message: "fork: EAGAIN".into(),
            },
            Reply::Output {
                id: 4,
                stderr: false,
                data: b"catalog.yml\n".to_vec(),
            },
            Reply::Output {
                id: 5,
                stderr: true,
                data: Vec::new(),
            },
            Reply::Output {
                id: 6,
                stderr: false,
                data: vec![0xff; OUTPUT_CHUNK],
            },
        ] {
            assert_eq!(Reply::decode(&rep.encode()), Some(rep));
        }
    }

    #[test]
    fn garbage_is_rejected_not_panicked_on() {
        assert_eq!(Request::decode(&[]), None);
        assert_eq!(Request::decode(&[EXEC, 1, 2]), None);
        assert_eq!(Request::decode(&[KILL, 0, 0, 0, 0, 0, 0, 0, 0, 9]), None);
        let mut huge = vec![EXEC];
        huge.extend_from_slice(&1u64.to_le_bytes());
        huge.extend_from_slice(&0u64.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(Request::decode(&huge), None);
        assert_eq!(Reply::decode(&[99]), None);
        let mut bad_stream = vec![OUTPUT];
        bad_stream.extend_from_slice(&1u64.to_le_bytes());
        bad_stream.push(2);
        assert_eq!(Reply::decode(&bad_stream), None);
        let mut too_long = vec![OUTPUT];
        too_long.extend_from_slice(&1u64.to_le_bytes());
        too_long.push(0);
        too_long.extend(std::iter::repeat_n(b'x', OUTPUT_CHUNK + 1));
        assert_eq!(Reply::decode(&too_long), None);
    }
}
