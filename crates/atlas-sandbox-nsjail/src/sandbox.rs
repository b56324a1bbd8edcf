//! One sandbox: a private directory holding the generated nsjail config (and the policy), a
//! fresh jail per exec, and with `layer = "overlay"` the state its jails share (`state.rs`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use atlas_sandbox_sdk::process::{self, Ending, ProcessSpec};
use atlas_sandbox_sdk::{
    ExecOutput, ExecRequest, Result, Sandbox, SemanticLayer, Shell, TIMEOUT_EXIT_CODE, async_trait,
};
use tempfile::TempDir;

use crate::ID;
use crate::access;
use crate::config::{LayerMode, Seccomp};
use crate::error::NsjailError;
use crate::jail::{SEMANTIC_MOUNT, exec_args};
use crate::log::{JailOutcome, parse};
use crate::plugin::{EXPLORE_POLICY, NsjailPlugin};
use crate::state::{SessionState, StateSpec};

/// The file names inside the sandbox directory.
const CONFIG_FILE: &str = "jail.cfg";
const POLICY_FILE: &str = "explore.kafel";

/// A sandbox over one semantic layer. No command runs between execs (with `layer = "overlay"`
/// a holder process keeps the sandbox's namespace); `close` ends it and removes the directory.
#[derive(Debug)]
pub struct NsjailSandbox {
    /// Its namespaces, which every jail is started in. Declared (so dropped) before `state`,
    /// and emptied by `close` first: see [`SessionState`]'s drop.
    namespaces: Mutex<Vec<std::sync::Arc<std::os::fd::OwnedFd>>>,
    /// The kept state (`layer = "overlay"`): dropped, it is gone.
    state: Mutex<Option<SessionState>>,
    nsjail: PathBuf,
    root: PathBuf,
    dir_path: PathBuf,
    config_file: PathBuf,
    /// The text of `config_file` (a prestarted nsjail gets it through a pipe).
    config_text: String,
    dir: Mutex<Option<TempDir>>,
    closed: AtomicBool,
    next_exec: AtomicU64,
    time_limit: Duration,
    shell: Shell,
}

/// Removes a per-exec log file when the exec ends, however it ends (a dropped future too).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn workdir_err(path: &Path) -> impl FnOnce(std::io::Error) -> NsjailError + '_ {
    move |source| NsjailError::Workdir {
        path: path.to_path_buf(),
        source,
    }
}

/// How long the setup probe of `create` may take, whatever the configured time_limit.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

impl NsjailSandbox {
    /// Writes the sandbox's nsjail config and checks that the jail user can read and enter the
    /// layer: from the file's owner and mode bits when they decide it, with a probe jail only
    /// when they do not (an ACL, or bits that say no). No jail runs in the common case, so a
    /// one-shot command costs one jail; a jail that cannot be built at all is reported by the
    /// first exec (as [`ErrorKind::Unavailable`](atlas_sandbox_sdk::ErrorKind), the command
    /// never ran) and by the health check, which runs a real jail.
    pub(crate) async fn create(
        plugin: &NsjailPlugin,
        nsjail: PathBuf,
        layer: &SemanticLayer,
    ) -> Result<Self> {
        plugin.check_shell()?;
        let root = layer.root().to_path_buf();
        // Re-checked here because the layer may have changed since it was opened.
        std::fs::read_dir(&root).map_err(|e| NsjailError::LayerUnreadable {
            path: root.clone(),
            uid: plugin.config().jail_uid,
            detail: e.to_string(),
        })?;
        let host = plugin.host_facts()?;
        let (uid, gid) = if host.euid == 0 {
            (plugin.config().jail_uid, plugin.config().jail_gid)
        } else {
            (host.euid, host.egid)
        };
        let enter = access::jail_can_enter(&root, uid, gid, host.euid == 0);
        let inputs = match plugin.config().layer {
            LayerMode::ReadOnly => None,
            LayerMode::Overlay => Some(StateSpec::new(
                plugin.config(),
                &root,
                (host.euid, host.egid),
                enter == access::Access::Yes,
            )),
        };
        // A one-shot command may have had this very state built while the host was still
        // reading its configuration (`prestart`): same inputs, same state, so it is taken over
        // instead of built twice.
        let adopted = inputs
            .as_ref()
            .and_then(|i| crate::prestart::adopt_state(&nsjail, i));
        let (dir, adopted) = match adopted {
            Some((dir, state)) => (dir, Some(state)),
            None => (
                work_dir().map_err(|source| NsjailError::Workdir {
                    path: std::env::temp_dir(),
                    source,
                })?,
                None,
            ),
        };
        let dir_path = dir.path().to_path_buf();
        let policy = match plugin.config().seccomp_choice()? {
            Seccomp::Builtin => {
                let p = dir_path.join(POLICY_FILE);
                std::fs::write(&p, EXPLORE_POLICY).map_err(workdir_err(&p))?;
                Some(p)
            }
            Seccomp::File(p) => Some(p),
            Seccomp::Off => None,
        };
        let state = match (adopted, &inputs) {
            (Some(state), _) => Some(state),
            (None, None) => None,
            (None, Some(inputs)) => Some(
                SessionState::start(&dir_path, inputs)
                    .map_err(|e| NsjailError::State(e.to_string()))?,
            ),
        };
        let paths = state.as_ref().map(|s| crate::jail::StatePaths {
            layer: s.layer(),
            tmp: s.tmp(),
        });
        let text = plugin.plan(&host, &root, policy.as_deref(), paths).render();
        let namespaces = state
            .as_ref()
            .map(|s| s.namespaces().to_vec())
            .unwrap_or_default();
        let config_file = dir_path.join(CONFIG_FILE);
        std::fs::write(&config_file, &text).map_err(workdir_err(&config_file))?;
        let sandbox = NsjailSandbox {
            namespaces: Mutex::new(namespaces),
            state: Mutex::new(state),
            nsjail,
            root: root.clone(),
            dir_path,
            config_file,
            config_text: text,
            dir: Mutex::new(Some(dir)),
            closed: AtomicBool::new(false),
            next_exec: AtomicU64::new(0),
            time_limit: plugin.config().time_limit.get(),
            shell: plugin.config().shell,
        };
        if enter == access::Access::Yes {
            return Ok(sandbox);
        }
        // The bits say no, or an ACL may change their answer: ask a jail, so that a layer the
        // jail user cannot read is reported by `create`, not by the first command.
        // The probe is not bound by the configured time_limit (which may be short): a loaded
        // host can take over a second to build a jail, and that is no reason to call the layer
        // unreadable.
        let probe = sandbox
            .run_jail(
                ExecRequest::new(format!(
                    "test -r {SEMANTIC_MOUNT} && test -x {SEMANTIC_MOUNT}"
                )),
                PROBE_TIMEOUT,
            )
            .await?;
        if probe.timed_out {
            let _ = sandbox.close().await;
            return Err(NsjailError::ProbeTimeout(PROBE_TIMEOUT).into());
        }
        if !probe.success() {
            let _ = sandbox.close().await;
            return Err(NsjailError::LayerUnreadable {
                path: root,
                uid: plugin.config().jail_uid,
                detail: format!(
                    "a jail could not list {SEMANTIC_MOUNT} (exit {}{}); make it readable and \
                     searchable by others (chmod o+rx)",
                    probe.exit_code,
                    if probe.stderr.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", probe.stderr_str().trim())
                    }
                ),
            }
            .into());
        }
        Ok(sandbox)
    }

    /// The generated nsjail config file.
    pub fn config_file(&self) -> &Path {
        &self.config_file
    }

    /// The sandbox's private directory (removed by `close`).
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// The nsjail binary it runs.
    pub fn nsjail(&self) -> &Path {
        &self.nsjail
    }
}

impl NsjailSandbox {
    /// One jail for `request`, whose timeout is clamped to `limit` (the configured time_limit
    /// for commands; a generous fixed one for the setup probe).
    async fn run_jail(&self, request: ExecRequest, limit: Duration) -> Result<ExecOutput> {
        request.validate().map_err(|e| e.with_backend(ID))?;
        if self.closed.load(Ordering::Acquire) {
            return Err(NsjailError::Closed.into());
        }
        let rel = request.relative_cwd().map_err(|e| e.with_backend(ID))?;
        // Resolved on the host without leaving the root: a symlinked cwd pointing outside would
        // not exist in the jail anyway, and its target is none of our business.
        if !rel.is_empty() {
            let inside = std::fs::canonicalize(self.root.join(&rel))
                .map(|p| p.starts_with(&self.root) && p.is_dir())
                .unwrap_or(false);
            if !inside {
                return Err(NsjailError::BadCwd(rel).into());
            }
        }
        let timeout = request.timeout.min(limit);
        let namespaces = lock(&self.namespaces).clone();
        if let Some(p) =
            crate::prestart::take(&self.nsjail, self.shell, &request.command, &namespaces)
        {
            return self
                .run_prestarted(p, &rel, timeout, request.max_output_bytes)
                .await;
        }
        let n = self.next_exec.fetch_add(1, Ordering::Relaxed);
        let log_path = self.dir_path.join(format!("exec-{n}.log"));
        let _log_guard = RemoveOnDrop(log_path.clone());
        let mut spec = ProcessSpec::new(&self.nsjail)
            .args(exec_args(
                &self.config_file,
                &log_path,
                timeout,
                &rel,
                self.shell,
                &request.command,
            ))
            .cwd("/")
            .timeout(timeout)
            .max_output_bytes(request.max_output_bytes);
        for ns in namespaces {
            spec = spec.namespace(ns);
        }
        let result = process::run(&spec)
            .await
            .map_err(|source| NsjailError::Spawn {
                path: self.nsjail.clone(),
                source,
            })?;
        // Read on this thread: the log is a few hundred bytes nsjail just wrote to the sandbox's
        // own directory (tmpfs when there is one), and `tokio::fs` would start a blocking-pool
        // thread for it, which costs a one-shot `exec` more than the read.
        outcome(result, || read_log(&log_path))
    }

    /// Runs the command on an nsjail started before the configuration was read: hands it this
    /// sandbox's config with the command's `cwd` and `time_limit`, then collects it as a normal
    /// run.
    async fn run_prestarted(
        &self,
        mut p: crate::prestart::Prestarted,
        rel: &str,
        timeout: Duration,
        max_output_bytes: usize,
    ) -> Result<ExecOutput> {
        let (cwd, limit) = crate::jail::per_command_values(rel, timeout);
        let Some(text) = crate::prestart::per_command(
            &self.config_text,
            &format!("cwd: {}", crate::jail::quote(cwd.as_bytes())),
            &format!("time_limit: {limit}"),
        ) else {
            return Err(NsjailError::Setup {
                status: "not started".into(),
                messages: "the generated config lacks its cwd or time_limit line (a bug)".into(),
            }
            .into());
        };
        p.send_config(&text);
        let spec = p
            .spec
            .clone()
            .timeout(timeout)
            .max_output_bytes(max_output_bytes);
        let result =
            process::finish(p.process, &spec)
                .await
                .map_err(|source| NsjailError::Spawn {
                    path: self.nsjail.clone(),
                    source,
                })?;
        let log = p.log;
        outcome(result, || crate::prestart::read_log(&log))
    }
}

/// What one nsjail run means: the command's output, or the reason nsjail could not run it (from
/// its log, read by `log` only when the run ended by itself).
fn outcome(result: process::ProcessResult, log: impl FnOnce() -> Vec<u8>) -> Result<ExecOutput> {
    let mut output = result.output;
    match result.ending {
        // Killed by us: the log ends mid-run and the output already says what happened.
        Ending::TimedOut | Ending::OutputOverflow => return Ok(output),
        Ending::Exited => {}
    }
    let log = log();
    let status = match (result.raw_code, result.signal) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => "unknown status".to_owned(),
    };
    match parse(&String::from_utf8_lossy(&log)) {
        JailOutcome::Exited(_) | JailOutcome::Signaled(_) | JailOutcome::SeccompViolation => {
            Ok(output)
        }
        JailOutcome::TimeLimit => {
            output.exit_code = TIMEOUT_EXIT_CODE;
            output.timed_out = true;
            Ok(output)
        }
        JailOutcome::SetupFailed(mut messages) => {
            // Anything nsjail printed before it opened its log file went to stderr.
            let early = output.stderr_str().trim().to_owned();
            if !early.is_empty() {
                messages.push(early);
            }
            if messages.is_empty() {
                messages.push("no message in nsjail's log".to_owned());
            }
            Err(NsjailError::Setup {
                status,
                messages: messages.join("; "),
            }
            .into())
        }
        JailOutcome::Interrupted(messages) => Err(NsjailError::Interrupted {
            status,
            messages: if messages.is_empty() {
                String::new()
            } else {
                format!(": {}", messages.join("; "))
            },
        }
        .into()),
    }
}

#[async_trait]
impl Sandbox for NsjailSandbox {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        let limit = self.time_limit;
        self.run_jail(request, limit).await
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        // Ours go first, so that the holder is the namespace's last user and its exit, not this
        // call, tears the mounts down.
        lock(&self.namespaces).clear();
        let state = lock(&self.state).take();
        drop(state);
        let dir = match self.dir.lock() {
            Ok(mut g) => g.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(dir) = dir {
            let path = dir.path().to_path_buf();
            dir.close().map_err(workdir_err(&path))?;
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// nsjail's log of one run, at most its first MiB (nsjail writes it, never the command).
fn read_log(path: &std::path::Path) -> Vec<u8> {
    use std::io::Read;
    let mut log = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(1 << 20).read_to_end(&mut log);
    }
    log
}

/// The sandbox's private directory (nsjail's config, the policy, one log file per exec): in
/// `/dev/shm` when there is one, else the temp dir. Only nsjail (root) reads these files, and on
/// a disk-backed `/tmp` creating and removing them (ext4 inode and journal work) cost a one-shot
/// command about as much as the rest of the host's own work.
pub(crate) fn work_dir() -> std::io::Result<tempfile::TempDir> {
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("atlas-nsjail-");
        b
    };
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = builder.tempdir_in(shm)
    {
        return Ok(d);
    }
    builder.tempdir()
}
