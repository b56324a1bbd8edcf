//! One Daytona sandbox per semantic layer: created and filled in as few round trips as the
//! protocol allows, commands run through the session API, recreated once if it vanishes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atlas_sandbox_cloud::{SessionSlot, spawn_cleanup};
use atlas_sandbox_sdk::{
    CappedBuffer, CommandPath, Error, ErrorKind, ExecOutput, ExecRequest, Result, Sandbox, Shell,
    TIMEOUT_EXIT_CODE, async_trait, shell_quote, truncation_notice,
};

use crate::ID;
use crate::client::{
    Api, BuildInfo, CreateSandbox, Logs, SandboxDto, UploadFile, poll_interval, start_failed,
};
use crate::error::DaytonaError;

/// The semantic root in the sandbox, relative to the daemon's working directory (the sandbox
/// user's home in Daytona's images). Uploads resolve relative paths against that directory and
/// session shells start in it, so both agree without an extra round trip to ask for it.
pub(crate) const SEMANTIC_DIR: &str = "semantic";

/// Label that identifies one create call, so a create whose response was lost can be found and
/// deleted instead of leaking.
const CREATE_LABEL: &str = "atlas-create-id";

/// Appended by our command wrapper to both streams after the command ends. The daemon's log
/// labellers add a newline to a last line that had none; the marker lets us remove exactly what
/// we added and keep the command's bytes as they were.
const END_MARK: &str = "__atlas_sandbox_end_8d1c__";

/// How often at most the sandbox's auto-stop clock is reset while in use.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(60);

/// What every sandbox of a plugin shares.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) api: Api,
    pub(crate) snapshot: Option<String>,
    pub(crate) image: Option<String>,
    pub(crate) target: Option<String>,
    pub(crate) labels: std::collections::BTreeMap<String, String>,
    pub(crate) auto_stop_minutes: u32,
    pub(crate) network_block_all: bool,
    pub(crate) create_timeout: Duration,
    pub(crate) max_timeout: Option<Duration>,
    pub(crate) upload_timeout: Duration,
    pub(crate) shell: Shell,
    /// The `PATH` of the environment every command starts with.
    pub(crate) path: CommandPath,
    /// Auto-delete of a persistent sandbox, in minutes after it stopped (`paused_retention`).
    pub(crate) auto_delete_minutes: i64,
    /// Auto-archive of a stopped persistent sandbox, in minutes (`None`: Daytona's default).
    pub(crate) auto_archive_minutes: Option<u32>,
    /// Set when a sandbox could not run the configured shell: the health check then reports the
    /// backend unhealthy with this reason.
    pub(crate) shell_missing: Mutex<Option<String>>,
}

/// The layer as it is sent: files under [`SEMANTIC_DIR`], then the script that gives the copy
/// what the upload does not carry (empty directories, modes, modification times).
pub(crate) struct Payload {
    pub(crate) files: Arc<Vec<UploadFile>>,
    pub(crate) restore: Vec<String>,
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("files", &self.files.len())
            .field(
                "bytes",
                &self.files.iter().map(|x| x.contents.len()).sum::<usize>(),
            )
            .field("restore_chunks", &self.restore.len())
            .finish()
    }
}

impl Payload {
    pub(crate) fn from_layer(layer: &atlas_sandbox_sdk::CollectedLayer) -> Self {
        let files: Vec<UploadFile> = layer
            .files
            .iter()
            .map(|f| UploadFile {
                path: format!("{SEMANTIC_DIR}/{}", f.path),
                contents: f.contents.clone(),
            })
            .collect();
        Payload {
            files: Arc::new(files),
            // Relative, like the upload's paths: the session's shell runs in the home directory.
            restore: layer.restore_script(SEMANTIC_DIR),
        }
    }
}

/// A started, filled sandbox and its idle shell sessions.
#[derive(Debug)]
pub(crate) struct Remote {
    pub(crate) id: String,
    toolbox: String,
    idle_sessions: Mutex<Vec<String>>,
    /// Set on a sandbox just started again, whose sessions died with the stop: its first
    /// command runs through `process/execute` while a session opens beside it (see
    /// [`wrap_execute`]).
    first_after_wake: AtomicBool,
}

impl Remote {
    fn take_idle(&self) -> Option<String> {
        self.idle_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
    }

    fn put_idle(&self, session: String) {
        self.idle_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(session);
    }
}

fn new_session_id() -> String {
    format!("atlas-{}", uuid::Uuid::new_v4().simple())
}

/// Label naming the session a persistent sandbox belongs to.
pub(crate) const OWNER_LABEL: &str = "atlas-sandbox-owner";
/// Label marking a sandbox created to be stopped and started again.
pub(crate) const PERSISTENT_LABEL: &str = "atlas-sandbox-persistent";

/// What a new sandbox is for: one handle's lifetime, or a session that outlives it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lifecycle<'a> {
    /// Deleted as soon as it stops.
    Ephemeral,
    /// Stopped when idle and started again; deleted `paused_retention` after it stopped.
    Persistent { owner: &'a str },
}

/// Creates a sandbox, waits until it is started (with a deadline), uploads the layer in one
/// request while opening the first shell session, and deletes the sandbox on any failure.
pub(crate) async fn provision(
    settings: &Settings,
    tags: &std::collections::BTreeMap<String, String>,
    payload: &Payload,
    lifecycle: Lifecycle<'_>,
) -> Result<Remote> {
    let create_id = uuid::Uuid::new_v4().to_string();
    let mut labels = settings.labels.clone();
    labels.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    labels.insert(CREATE_LABEL.to_owned(), create_id.clone());
    let (auto_delete_interval, auto_archive_interval) = match lifecycle {
        // Deleted as soon as it stops: an abandoned sandbox costs at most auto_stop_minutes.
        Lifecycle::Ephemeral => (0, None),
        // Stopping is pausing: the vendor keeps the files, bills no compute, and deletes it
        // paused_retention later even if this host never comes back.
        Lifecycle::Persistent { owner } => {
            labels.insert(OWNER_LABEL.to_owned(), owner.to_owned());
            labels.insert(PERSISTENT_LABEL.to_owned(), "true".to_owned());
            (settings.auto_delete_minutes, settings.auto_archive_minutes)
        }
    };
    let body = CreateSandbox {
        snapshot: settings.snapshot.clone(),
        build_info: settings.image.as_ref().map(|i| BuildInfo {
            dockerfile_content: format!("FROM {i}\n"),
        }),
        env: Default::default(),
        labels,
        public: false,
        target: settings.target.clone(),
        auto_stop_interval: settings.auto_stop_minutes,
        auto_delete_interval,
        auto_archive_interval,
        network_block_all: settings.network_block_all,
    };
    let started = Instant::now();
    let dto = match settings.api.create_sandbox(&body).await {
        Ok(dto) => dto,
        Err(e) => {
            if might_have_created(&e) {
                delete_by_create_label(&settings.api, &create_id).await;
            }
            if e.kind() == ErrorKind::SandboxGone {
                // A 404 on create is about what we asked for, not a sandbox that vanished.
                return Err(Error::config(format!(
                    "Daytona could not create a sandbox: {} (check [plugins.daytona] snapshot, image and api_url)",
                    e.message()
                ))
                .with_backend(ID));
            }
            return Err(e);
        }
    };
    let id = dto.id.clone();
    match finish_provision(settings, dto, started, payload).await {
        Ok(remote) => {
            tracing::debug!(sandbox_id = %id, elapsed = ?started.elapsed(), "daytona sandbox ready");
            Ok(remote)
        }
        Err(e) => {
            if let Err(del) = settings.api.delete_sandbox(&id).await {
                tracing::warn!(sandbox_id = %id, error = %del, "could not delete a sandbox that failed to start; sweep will find it");
            }
            Err(e.with_context("sandbox_id", &id))
        }
    }
}

/// Whether a failed create may still have made a sandbox: the request may have reached the
/// server (timeouts, dropped connections, 5xx), as opposed to a definite refusal.
fn might_have_created(e: &Error) -> bool {
    match e.kind() {
        ErrorKind::Auth
        | ErrorKind::RateLimited
        | ErrorKind::InvalidRequest
        | ErrorKind::ConfigInvalid => false,
        ErrorKind::Unavailable | ErrorKind::SandboxGone => false,
        _ => e.is_temporary() || e.kind() == ErrorKind::Timeout,
    }
}

async fn delete_by_create_label(api: &Api, create_id: &str) {
    let filter =
        std::collections::BTreeMap::from([(CREATE_LABEL.to_owned(), create_id.to_owned())]);
    match api.list_sandboxes(&filter, 10).await {
        Ok(found) => {
            for sb in found {
                tracing::warn!(sandbox_id = %sb.id, "deleting the sandbox of a create that failed");
                if let Err(e) = api.delete_sandbox(&sb.id).await {
                    tracing::warn!(sandbox_id = %sb.id, error = %e, "could not delete it; sweep will find it");
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not look for the sandbox of a failed create; sweep will find it")
        }
    }
}

/// Polls a sandbox until `done` says its state is reached, failing on a state in `fails`, or
/// when `create_timeout` (counted from `started`) passes.
pub(crate) async fn wait_for_state(
    settings: &Settings,
    mut dto: SandboxDto,
    started: Instant,
    done: impl Fn(&str) -> bool,
    fails: &[&str],
) -> Result<SandboxDto> {
    let mut attempt = 0u32;
    loop {
        if done(dto.state()) {
            return Ok(dto);
        }
        if fails.contains(&dto.state()) {
            return Err(start_failed(&dto));
        }
        let waited = started.elapsed();
        if waited >= settings.create_timeout {
            return Err(DaytonaError::StartTimeout {
                id: dto.id.clone(),
                state: dto.state().to_owned(),
                waited,
            }
            .into());
        }
        // 100 ms steps at first (sandboxes from a warm pool start fast), then up to 1 s.
        let step = Duration::from_millis(if attempt < 20 { 100 } else { 1000 });
        tokio::time::sleep(step.min(settings.create_timeout - waited)).await;
        attempt += 1;
        dto = settings.api.get_sandbox(&dto.id).await?;
    }
}

/// The toolbox base of a started sandbox.
async fn toolbox_of(settings: &Settings, dto: &SandboxDto) -> Result<String> {
    let proxy = match dto.toolbox_proxy_url.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => u.to_owned(),
        None => settings.api.toolbox_proxy_url(&dto.id).await?,
    };
    Ok(format!("{}/{}", proxy.trim_end_matches('/'), dto.id))
}

/// States in which a sandbox keeps its files and bills no compute: what "paused" is here.
pub(crate) fn is_paused_state(state: &str) -> bool {
    matches!(state, "stopped" | "archived" | "archiving" | "paused")
}

/// Starts a persistent sandbox again (stopped, archived, or already started) and waits until it
/// runs. Its shell sessions died with it; its first command does not wait for a new one: it runs
/// through `process/execute` while the session opens beside it. A sandbox that is gone, or being
/// destroyed, is `SandboxGone`.
pub(crate) async fn wake(settings: &Settings, id: &str) -> Result<Remote> {
    let started = Instant::now();
    let gone = |state: &str| {
        Error::new(
            ErrorKind::SandboxGone,
            format!("the Daytona sandbox {id} is {state}: it cannot be resumed"),
        )
        .with_backend(ID)
        .with_context("sandbox_id", id)
        .set_temporary(false)
    };
    // Start first: Daytona answers a started sandbox as it is and starts a stopped or archived
    // one, so the usual resume is one request before the session's. Only a refused start
    // (the sandbox is mid-change, or in a state start does not take) reads the state.
    let mut dto = match settings.api.start_sandbox(id).await {
        Ok(dto) => dto,
        Err(e) if e.kind() == atlas_sandbox_sdk::ErrorKind::SandboxGone => return Err(e),
        Err(e) => {
            tracing::debug!(sandbox_id = %id, error = %e, "daytona start refused; reading the state");
            settings.api.get_sandbox(id).await?
        }
    };
    if matches!(dto.state(), "destroyed" | "destroying") {
        return Err(gone(dto.state()));
    }
    if dto.state() == "stopping" {
        dto = wait_for_state(settings, dto, started, is_paused_state, FAILED_STATES).await?;
    }
    if dto.state() != "started" {
        if is_paused_state(dto.state()) {
            dto = settings.api.start_sandbox(id).await?;
        }
        dto = wait_for_state(settings, dto, started, |s| s == "started", FAILED_STATES)
            .await
            .map_err(|e| e.with_context("operation", "resume sandbox"))?;
    }
    let toolbox = toolbox_of(settings, &dto).await?;
    tracing::debug!(sandbox_id = %id, elapsed = ?started.elapsed(), "daytona sandbox resumed");
    Ok(Remote {
        id: dto.id,
        toolbox,
        idle_sessions: Mutex::new(Vec::new()),
        first_after_wake: AtomicBool::new(true),
    })
}

/// Stops a sandbox and waits until it is stopped. One that is already stopped or archived is
/// left as it is; one that is gone is `SandboxGone`.
pub(crate) async fn stop_and_wait(settings: &Settings, id: &str) -> Result<()> {
    let started = Instant::now();
    let mut dto = settings.api.get_sandbox(id).await?;
    if matches!(dto.state(), "destroyed" | "destroying") {
        return Err(Error::new(
            ErrorKind::SandboxGone,
            format!("the Daytona sandbox {id} is {}", dto.state()),
        )
        .with_backend(ID)
        .with_context("sandbox_id", id)
        .set_temporary(false));
    }
    if matches!(dto.state(), "starting" | "restoring" | "creating") {
        dto = wait_for_state(settings, dto, started, |s| s == "started", FAILED_STATES).await?;
    }
    if dto.state() == "started" {
        dto = settings.api.stop_sandbox(id).await?;
    }
    wait_for_state(settings, dto, started, is_paused_state, FAILED_STATES)
        .await
        .map_err(|e| e.with_context("operation", "pause sandbox"))?;
    tracing::debug!(sandbox_id = %id, elapsed = ?started.elapsed(), "daytona sandbox stopped");
    Ok(())
}

/// States a sandbox does not come back from by waiting.
const FAILED_STATES: &[&str] = &["error", "build_failed", "destroyed", "destroying"];

async fn finish_provision(
    settings: &Settings,
    dto: SandboxDto,
    started: Instant,
    payload: &Payload,
) -> Result<Remote> {
    let dto = wait_for_state(settings, dto, started, |s| s == "started", FAILED_STATES).await?;
    let toolbox = toolbox_of(settings, &dto).await?;
    let first_session = new_session_id();
    let upload = async {
        if !payload.files.is_empty() {
            settings
                .api
                .bulk_upload(&toolbox, payload.files.clone(), settings.upload_timeout)
                .await?;
        }
        Ok::<(), Error>(())
    };
    // The first shell session opens, and probes the shell, while the layer uploads.
    let session = async {
        settings
            .api
            .create_session(&toolbox, &first_session)
            .await?;
        probe_shell(settings, &toolbox, &first_session).await
    };
    let (up, sess) = tokio::join!(upload, session);
    up?;
    sess?;
    restore_metadata(settings, &toolbox, &first_session, &payload.restore).await?;
    Ok(Remote {
        id: dto.id,
        toolbox,
        idle_sessions: Mutex::new(vec![first_session]),
        first_after_wake: AtomicBool::new(false),
    })
}

/// Gives the uploaded copy the layer's directories, modes and modification times (the upload
/// carries only contents), one `/bin/sh -c` per chunk in the first session.
async fn restore_metadata(
    settings: &Settings,
    toolbox: &str,
    session: &str,
    chunks: &[String],
) -> Result<()> {
    for chunk in chunks {
        let line = format!("/bin/sh -c {}", shell_quote(chunk));
        let done = settings
            .api
            .session_exec_sync(toolbox, session, &line, Duration::from_secs(60))
            .await?;
        if done.exit_code != Some(0) {
            let status = done
                .exit_code
                .map_or("unknown".to_owned(), |c| c.to_string());
            let text = done.output.or(done.stderr).unwrap_or_default();
            return Err(atlas_sandbox_sdk::restore_failed(
                ID, &status, &text, "image",
            ));
        }
    }
    Ok(())
}

/// Runs `<shell> -c 'exit 0'` in the new sandbox's first session: an image without the
/// configured shell fails here (and marks the backend unhealthy) instead of every command
/// failing, or running in a shell the operator did not choose.
async fn probe_shell(settings: &Settings, toolbox: &str, session: &str) -> Result<()> {
    let shell = settings.shell;
    let probe = format!("{} -c 'exit 0'", shell.program());
    let detail = match settings
        .api
        .session_exec_sync(toolbox, session, &probe, Duration::from_secs(15))
        .await
    {
        Ok(done) if done.exit_code == Some(0) => return Ok(()),
        Ok(done) => Shell::probe_detail(
            done.exit_code
                .map_or("unknown".to_owned(), |c| c.to_string()),
            &done.output.or(done.stderr).unwrap_or_default(),
        ),
        Err(e) => return Err(e),
    };
    let place = match (&settings.snapshot, &settings.image) {
        (Some(s), _) => format!("Daytona snapshot {s:?}"),
        (None, Some(i)) => format!("Daytona image {i:?}"),
        (None, None) => "the default Daytona snapshot".to_owned(),
    };
    let err = shell.missing(ID, &place, &detail);
    if let Ok(mut slot) = settings.shell_missing.lock() {
        *slot = Some(err.message().to_owned());
    }
    Err(err)
}

/// The text handed to the session shell. The daemon sources it in the session's own shell, so
/// it runs in a subshell (a `cd` or `exit` of the command cannot change or end the session), with
/// the command as one quoted `<shell> -c` argument, from the quoted cwd.
///
/// Each stream goes through a limiter, `head -c <limit>` reading a FIFO: a session exec answers
/// only when the command ends, so without a bound in the sandbox `yes` would fill the session log
/// until the deadline. Past the limit `head` exits and the command dies of SIGPIPE (exit 141),
/// stopped at the same limit as on the other backends. `head` runs under `stdbuf -o0` because it
/// otherwise holds its output in stdio until it exits, which would lose the partial output of a
/// timed-out command (`dd` is no help: it stops after one short read). The limiters run as
/// background jobs with known pids so that, 200 ms after the command exits, they can be stopped:
/// a job the command left in the background (`sleep 100 &`) still holds the FIFOs, and would
/// otherwise keep the exec open until the deadline (the SDK runner gives such jobs the same
/// grace). Without `stdbuf`, `mktemp` or `mkfifo` (not GNU coreutils) the command runs unbounded,
/// as before. After it, the end marker goes to both streams and the subshell exits with the
/// command's status. The command's shell gets the environment of every backend
/// ([`CommandPath::assignments`]: `PATH=… HOME=/tmp … /bin/bash -c …`, nothing of the host's):
/// a session execute request has no field for it.
pub(crate) fn wrap_command(
    shell: Shell,
    path: &CommandPath,
    command: &str,
    cwd_rel: &str,
    limit: u64,
) -> String {
    let dir = if cwd_rel.is_empty() {
        SEMANTIC_DIR.to_owned()
    } else {
        format!("{SEMANTIC_DIR}/{cwd_rel}")
    };
    let cmd = shell_quote(command);
    format!(
        "( if cd -- {dir}; then {fresh} \
if command -v stdbuf >/dev/null 2>&1 && __atlas_d=$(mktemp -d 2>/dev/null) && mkfifo \"$__atlas_d/o\" \"$__atlas_d/e\"; then \
stdbuf -o0 head -c {limit} < \"$__atlas_d/o\" & __atlas_po=$!; \
stdbuf -o0 head -c {limit} < \"$__atlas_d/e\" >&2 & __atlas_pe=$!; \
{env} {shell} -c {cmd} > \"$__atlas_d/o\" 2> \"$__atlas_d/e\"; __atlas_ec=$?; \
( sleep 0.2; kill $__atlas_po $__atlas_pe ) >/dev/null 2>&1 & __atlas_k=$!; \
wait $__atlas_po $__atlas_pe 2>/dev/null; kill $__atlas_k 2>/dev/null; rm -rf \"$__atlas_d\"; \
else {env} {shell} -c {cmd}; __atlas_ec=$?; fi; \
else __atlas_ec=$?; fi; \
printf '%s\\n' {mark}; printf '%s\\n' {mark} >&2; exit ${{__atlas_ec:-1}} )",
        dir = shell_quote(&dir),
        mark = shell_quote(END_MARK),
        shell = shell.program(),
        fresh = FRESH_SHELL,
        env = path.assignments(),
    )
}

/// Run after the wrapper's own `cd`, before the command's shell starts: that `cd` set
/// `OLDPWD` (so `cd -` in the command would lead back to the session's directory instead of
/// failing, as in a shell started afresh) and the session's shell counts as a level
/// (`$SHLVL` would read 2). The command's shell starts as one started by a program would.
const FRESH_SHELL: &str = "unset OLDPWD; SHLVL=0; export SHLVL;";

/// Printed by the execute script just before it starts the command: without it in the answer,
/// the command provably did not run.
const RUN_MARK: &str = "__atlas_sandbox_run_8d1c__";
/// Heads the execute script's envelope: `<mark> <status> <shell status|-> <stdout bytes>
/// <stderr bytes>`, then one base64 line per stream, then [`DONE_MARK`].
const ENVELOPE_MARK: &str = "__atlas_sandbox_envelope_8d1c__";
/// Ends the execute script's envelope.
const DONE_MARK: &str = "__atlas_sandbox_done_8d1c__";
/// How far past the command's timeout the daemon's own limit and the HTTP wait of
/// `process/execute` reach (the SDK waits `timeout + 5 s` too).
const EXECUTE_GRACE: Duration = Duration::from_secs(5);

/// The script `process/execute` runs for the first command after a wake. The daemon merges the
/// script's stdout and stderr and, at its own deadline, drops them; so the script keeps the
/// command's streams apart and bounded in the sandbox and prints them framed:
///
/// - it needs `mktemp`, `mkfifo`, `stdbuf`, `timeout` and `base64` (GNU coreutils); without one it
///   prints nothing and runs nothing, and the client runs the command in a session instead.
///   Otherwise it prints [`RUN_MARK`] first, so an answer without it proves the command never ran;
/// - each stream goes through the same limiter as in a session, `stdbuf -o0 head -c <limit>`
///   reading a FIFO, into a file in a private `mktemp -d` directory (a writer past the limit
///   dies of SIGPIPE, exit 141), and the limiters get the same 200 ms after the command;
/// - under `timeout -k 1 <timeout>`, which kills its whole process group at our deadline, inside
///   the sandbox, so the partial output survives, a `<shell>` changes to the quoted cwd (a
///   failing `cd` reports the shell's message on stderr and its status, as in a session) and runs
///   the command as `<shell> -c <command>`, then writes that shell's status to a file: a command
///   that exited 124 is thus told from one that was cut off (no status written). stdin is
///   `/dev/null`: the daemon feeds the script itself on its shell's stdin;
/// - then one line `ENVELOPE_MARK <status> <shell status or -> <stdout bytes> <stderr bytes>`,
///   the first `keep` bytes (cap + 1: enough to tell truncation) of each stream in base64 on a
///   line of its own, and [`DONE_MARK`]. The directory is removed.
///
/// The script is one line: the shell reads it whole before running it.
pub(crate) fn wrap_execute(
    shell: Shell,
    path: &CommandPath,
    command: &str,
    cwd_rel: &str,
    limit: u64,
    keep: u64,
    timeout: Duration,
) -> String {
    let dir = if cwd_rel.is_empty() {
        SEMANTIC_DIR.to_owned()
    } else {
        format!("{SEMANTIC_DIR}/{cwd_rel}")
    };
    let secs = format!("{:.3}", timeout.as_secs_f64());
    format!(
        "__atlas_d=$(mktemp -d 2>/dev/null) && mkfifo \"$__atlas_d/o\" \"$__atlas_d/e\" && \
command -v stdbuf >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1 && command -v base64 >/dev/null 2>&1 && \
printf '%s\\n' {run} && {{ \
stdbuf -o0 head -c {limit} < \"$__atlas_d/o\" > \"$__atlas_d/O\" & __atlas_po=$!; \
stdbuf -o0 head -c {limit} < \"$__atlas_d/e\" > \"$__atlas_d/E\" & __atlas_pe=$!; \
timeout -k 1 {secs} {shell} -c 'cd -- \"$1\" || exit; {fresh} {env} {shell} -c \"$2\" < /dev/null; echo $? > \"$3\"' {shell} {dir} {cmd} \"$__atlas_d/x\" \
> \"$__atlas_d/o\" 2> \"$__atlas_d/e\" < /dev/null; __atlas_ec=$?; \
( sleep 0.2; kill $__atlas_po $__atlas_pe ) >/dev/null 2>&1 & __atlas_k=$!; \
wait $__atlas_po $__atlas_pe 2>/dev/null; kill $__atlas_k 2>/dev/null; \
__atlas_x=$(cat \"$__atlas_d/x\" 2>/dev/null); \
printf '%s %s %s %s %s\\n' {envelope} \"$__atlas_ec\" \"${{__atlas_x:--}}\" \"$(wc -c < \"$__atlas_d/O\")\" \"$(wc -c < \"$__atlas_d/E\")\"; \
head -c {keep} \"$__atlas_d/O\" | base64 -w 0; echo; \
head -c {keep} \"$__atlas_d/E\" | base64 -w 0; echo; \
printf '%s\\n' {done}; }}; \
[ -n \"$__atlas_d\" ] && rm -rf \"$__atlas_d\"",
        fresh = FRESH_SHELL,
        env = path.assignments(),
        run = shell_quote(RUN_MARK),
        envelope = shell_quote(ENVELOPE_MARK),
        done = shell_quote(DONE_MARK),
        dir = shell_quote(&dir),
        cmd = shell_quote(command),
        shell = shell.program(),
    )
}

/// What the execute script reported.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Envelope {
    /// The status of `timeout` (124: it killed the command; else the status of the `cd`).
    pub(crate) exit: i32,
    /// The status of the command's shell, when it ended by itself.
    pub(crate) status: Option<i32>,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

/// Reads the execute script's answer: `Ok(None)` when it has no [`RUN_MARK`] (the command never
/// started), `Err` when it started but the envelope is missing or malformed.
pub(crate) fn parse_envelope(
    result: &str,
    keep: u64,
) -> std::result::Result<Option<Envelope>, String> {
    use base64::Engine as _;
    let run_line = format!("{RUN_MARK}\n");
    let Some(run_at) = result.find(&run_line) else {
        return Ok(None);
    };
    let after = &result[run_at + run_line.len()..];
    let head = format!("{ENVELOPE_MARK} ");
    let Some(env_at) = after.rfind(&head) else {
        return Err("the command started but no envelope followed".to_owned());
    };
    if env_at > 0 {
        tracing::debug!(noise = %&after[..env_at.min(500)], "the execute script printed more than its envelope");
    }
    let mut lines = after[env_at + head.len()..].split('\n');
    let fields: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let [exit, status, out_len, err_len] = fields[..] else {
        return Err(format!("envelope header {fields:?}"));
    };
    let int = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| format!("not a number in the envelope: {s:?}"))
    };
    let exit = i32::try_from(int(exit)?).map_err(|e| e.to_string())?;
    let status = match status {
        "-" => None,
        s => Some(i32::try_from(int(s)?).map_err(|e| e.to_string())?),
    };
    let mut stream = |total: &str, name: &str| -> std::result::Result<Vec<u8>, String> {
        let total = u64::try_from(int(total)?).map_err(|e| e.to_string())?;
        let b64 = lines.next().ok_or_else(|| format!("no {name} line"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim_end_matches('\r'))
            .map_err(|e| format!("{name}: {e}"))?;
        // A job the command left in the background may still add bytes between the count and
        // the copy, never remove them.
        let got = bytes.len() as u64;
        if got < total.min(keep) || got > keep {
            return Err(format!("{name}: {got} bytes of {total}"));
        }
        Ok(bytes)
    };
    let stdout = stream(out_len, "stdout")?;
    let stderr = stream(err_len, "stderr")?;
    if lines.next() != Some(DONE_MARK) {
        return Err("no end marker".to_owned());
    }
    Ok(Some(Envelope {
        exit,
        status,
        stdout,
        stderr,
    }))
}

/// Whether the toolbox refused a `process/execute` before running anything: the daemon
/// rejected the request itself (400, 405, 501). Everything else (a 5xx from the proxy, a lost
/// answer, a 408 from the daemon's own limit) may follow a run.
fn refused_execute(e: &Error) -> bool {
    e.context()
        .iter()
        .any(|(k, v)| *k == "status" && matches!(v.as_str(), "400" | "405" | "501"))
}

/// Removes what our wrapper appended; `None` if the marker is missing (the command did not end).
fn strip_mark(stream: &mut Vec<u8>) -> bool {
    let tail = format!("{END_MARK}\n");
    if stream.ends_with(tail.as_bytes()) {
        stream.truncate(stream.len() - tail.len());
        true
    } else {
        false
    }
}

/// How a sandbox handle came to be, which decides what happens when it vanishes or is dropped.
#[derive(Debug)]
pub(crate) enum Kind {
    /// Deleted when the handle goes; recreated from the layer (once) if it vanishes.
    Ephemeral {
        tags: Arc<std::collections::BTreeMap<String, String>>,
        payload: Arc<Payload>,
    },
    /// Meant to be stopped and started again by id: never recreated behind the caller's back
    /// (its files would be lost without a word), started again if the vendor stopped it.
    Persistent { id: String },
}

/// A live Daytona sandbox.
#[derive(Debug)]
pub struct DaytonaSandbox {
    settings: Arc<Settings>,
    kind: Kind,
    slot: SessionSlot<Remote>,
    last_keepalive: Mutex<Instant>,
}

impl DaytonaSandbox {
    pub(crate) fn new(settings: Arc<Settings>, kind: Kind, remote: Remote) -> Self {
        DaytonaSandbox {
            settings,
            kind,
            slot: SessionSlot::with(remote),
            last_keepalive: Mutex::new(Instant::now()),
        }
    }

    async fn remote(&self) -> Result<Arc<Remote>> {
        let settings = self.settings.clone();
        match &self.kind {
            Kind::Ephemeral { tags, payload } => {
                let (tags, payload) = (tags.clone(), payload.clone());
                self.slot
                    .get_or_create(ID, || async move {
                        provision(&settings, &tags, &payload, Lifecycle::Ephemeral).await
                    })
                    .await
            }
            Kind::Persistent { id } => {
                let id = id.clone();
                self.slot
                    .get_or_create(ID, || async move { wake(&settings, &id).await })
                    .await
            }
        }
    }

    /// Runs a command once more after the vendor stopped a persistent sandbox under us (its
    /// auto-stop fired while this handle was idle): the sandbox is started again, as the
    /// vendor's SDK does, with its files.
    async fn run_after_wake(
        &self,
        stale: Arc<Remote>,
        request: &ExecRequest,
        timeout: Duration,
    ) -> Result<(ExecOutput, Arc<Remote>)> {
        tracing::info!(sandbox_id = %stale.id, "the Daytona sandbox was stopped by its auto-stop; starting it again");
        self.slot.invalidate(&stale).await;
        let fresh = self.remote().await?;
        self.run(&fresh, request, timeout).await.map(|o| (o, fresh))
    }

    fn keep_alive(&self, remote: &Arc<Remote>) {
        let mut last = self
            .last_keepalive
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if last.elapsed() < KEEPALIVE_EVERY {
            return;
        }
        *last = Instant::now();
        let settings = self.settings.clone();
        let id = remote.id.clone();
        spawn_cleanup("daytona keep-alive", async move {
            if let Err(e) = settings.api.refresh_activity(&id).await {
                tracing::debug!(sandbox_id = %id, error = %e, "keep-alive failed");
            }
        });
    }

    async fn run(
        &self,
        remote: &Remote,
        req: &ExecRequest,
        timeout: Duration,
    ) -> Result<ExecOutput> {
        let api = &self.settings.api;
        let mut session = remote.take_idle();
        if session.is_none() && remote.first_after_wake.swap(false, Ordering::AcqRel) {
            match self.run_first_after_wake(remote, req, timeout).await? {
                Some(out) => return Ok(out),
                // It provably did not run: the session path runs it, in the session that
                // opened beside it if it did.
                None => session = remote.take_idle(),
            }
        }
        let started = Instant::now();
        let deadline = started + timeout;
        let session = match session {
            Some(s) => s,
            None => {
                let s = new_session_id();
                api.create_session(&remote.toolbox, &s).await?;
                s
            }
        };
        let limit = atlas_sandbox_sdk::overflow_limit(req.max_output_bytes);
        let command = wrap_command(
            self.settings.shell,
            &self.settings.path,
            &req.command,
            &req.relative_cwd()?,
            limit,
        );
        // Both streams may carry `limit` bytes, and the labelled log adds 3 bytes a line: read
        // enough that a command stopped at the limit still has its other stream read back.
        let read_limit = usize::try_from(limit.saturating_mul(8))
            .unwrap_or(usize::MAX)
            .saturating_add(64 * 1024);
        // Fast path: one synchronous exec returns the exit code and the prefixed log. If our
        // deadline passes first, or the connection breaks, the command is found in the session
        // and followed by polling, as with an async exec.
        let sent = atlas_sandbox_sdk::timeout::with_deadline(
            timeout,
            api.session_exec_sync(&remote.toolbox, &session, &command, timeout),
        )
        .await;
        let cmd_id = match sent {
            Ok(Ok(done)) => match (done.exit_code, done.cmd_id) {
                (Some(code), cmd_id) => {
                    let logs = match exact_logs(&done.output, &done.stdout, &done.stderr) {
                        Some(logs) => logs,
                        None => {
                            // The JSON text replaced bytes that are not UTF-8: the logs endpoint
                            // returns them as they are.
                            let Some(cmd_id) = cmd_id else {
                                self.discard_session(remote, session);
                                return Err(DaytonaError::BadResponse {
                                    what: "session exec",
                                    detail: "no cmdId".to_owned(),
                                }
                                .into());
                            };
                            self.read_logs(remote, &session, &cmd_id, read_limit)
                                .await?
                        }
                    };
                    remote.put_idle(session);
                    return Ok(build_output(
                        logs,
                        code,
                        false,
                        req.max_output_bytes,
                        started.elapsed(),
                    ));
                }
                (None, Some(cmd_id)) => cmd_id,
                (None, None) => {
                    self.discard_session(remote, session);
                    return Err(DaytonaError::BadResponse {
                        what: "session exec",
                        detail: "neither exitCode nor cmdId".to_owned(),
                    }
                    .into());
                }
            },
            Ok(Err(e)) if e.context().iter().any(|(k, _)| *k == "status") => {
                // The daemon answered with an error status: it did not run the command.
                self.discard_session(remote, session);
                return Err(e);
            }
            Ok(Err(e)) => match api.find_command(&remote.toolbox, &session, &command).await {
                Ok(Some(id)) => {
                    tracing::debug!(error = %e, "session exec interrupted; following the command");
                    id
                }
                Ok(None) | Err(_) => {
                    self.discard_session(remote, session);
                    return Err(e);
                }
            },
            Err(_elapsed) => match api.find_command(&remote.toolbox, &session, &command).await {
                Ok(Some(id)) => id,
                Ok(None) | Err(_) => {
                    // Nothing to read back: the command is killed with its session.
                    self.discard_session(remote, session);
                    return Ok(build_output(
                        Logs::default(),
                        TIMEOUT_EXIT_CODE,
                        true,
                        req.max_output_bytes,
                        started.elapsed(),
                    ));
                }
            },
        };
        let mut attempt = 0u32;
        let exit_code = loop {
            let now = Instant::now();
            if now >= deadline {
                break None;
            }
            tokio::time::sleep(poll_interval(attempt).min(deadline - now)).await;
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break None;
            }
            match atlas_sandbox_sdk::timeout::with_deadline(
                left,
                api.get_command(&remote.toolbox, &session, &cmd_id),
            )
            .await
            {
                Err(_elapsed) => break None,
                Ok(Ok(dto)) => {
                    if let Some(code) = dto.exit_code {
                        break Some(code);
                    }
                }
                Ok(Err(e)) => {
                    self.discard_session(remote, session);
                    return Err(e);
                }
            }
        };
        match exit_code {
            Some(code) => {
                let logs = self
                    .read_logs(remote, &session, &cmd_id, read_limit)
                    .await?;
                remote.put_idle(session);
                Ok(build_output(
                    logs,
                    code,
                    false,
                    req.max_output_bytes,
                    started.elapsed(),
                ))
            }
            None => {
                // The deadline passed: keep what it printed, then delete the session, which
                // kills its process group (sessions have no server-side timeout).
                let logs = api
                    .command_logs(&remote.toolbox, &session, &cmd_id, read_limit)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "could not fetch the output of a timed-out command");
                        Logs::default()
                    });
                if let Err(e) = api.delete_session(&remote.toolbox, &session).await {
                    tracing::warn!(sandbox_id = %remote.id, error = %e, "could not delete the session of a timed-out command");
                }
                Ok(build_output(
                    logs,
                    TIMEOUT_EXIT_CODE,
                    true,
                    req.max_output_bytes,
                    started.elapsed(),
                ))
            }
        }
    }

    /// The first command after a wake, in one round trip: `process/execute` runs it through
    /// [`wrap_execute`] while the first shell session opens beside it (for the next command).
    /// `Ok(None)` means the command provably did not run (the script found no tools to run it
    /// bounded, or the daemon refused the request as malformed); the caller then runs it in a
    /// session. Any doubt (a broken envelope after the command started, a lost answer) is an
    /// error, never a second run.
    async fn run_first_after_wake(
        &self,
        remote: &Remote,
        req: &ExecRequest,
        timeout: Duration,
    ) -> Result<Option<ExecOutput>> {
        let api = &self.settings.api;
        let started = Instant::now();
        let limit = atlas_sandbox_sdk::overflow_limit(req.max_output_bytes);
        let keep = u64::try_from(req.max_output_bytes)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let script = wrap_execute(
            self.settings.shell,
            &self.settings.path,
            &req.command,
            &req.relative_cwd()?,
            limit,
            keep,
            timeout,
        );
        // The daemon's own limit (whole seconds) is a safety net past ours: the script kills the
        // command at `timeout` and still reports what it printed; a 408 would drop it.
        let server_secs = timeout
            .as_secs()
            .saturating_add(1)
            .saturating_add(EXECUTE_GRACE.as_secs());
        let wait = Duration::from_secs(server_secs) + EXECUTE_GRACE;
        let session = new_session_id();
        let (ran, opened) = tokio::join!(
            api.execute(&remote.toolbox, &script, server_secs, wait),
            api.create_session(&remote.toolbox, &session),
        );
        match opened {
            Ok(()) => remote.put_idle(session),
            Err(e) => {
                tracing::debug!(sandbox_id = %remote.id, error = %e, "the session opened beside the first command failed; the next command opens one")
            }
        }
        let done = match ran {
            Ok(done) => done,
            Err(e) if refused_execute(&e) => {
                tracing::debug!(sandbox_id = %remote.id, error = %e, "process/execute refused; running the command in a session");
                return Ok(None);
            }
            Err(e) => return Err(e.with_context("operation", "first command after resume")),
        };
        let result = done.result.unwrap_or_default();
        let envelope = match parse_envelope(&result, keep) {
            Ok(Some(env)) => env,
            Ok(None) => {
                tracing::debug!(sandbox_id = %remote.id, exit_code = ?done.exit_code.or(done.code), "the execute script did not start the command (tools missing); running it in a session");
                return Ok(None);
            }
            Err(detail) => {
                return Err(DaytonaError::BadResponse {
                    what: "process execute (the command may have run; it was not run again)",
                    detail,
                }
                .into());
            }
        };
        let elapsed = started.elapsed();
        let (exit_code, timed_out) = match envelope.status {
            // The command's shell ended and its status was written: it was not cut off.
            Some(code) => (code, false),
            // `timeout` killed it (124), or its status was never written at the deadline.
            None if envelope.exit == TIMEOUT_EXIT_CODE || elapsed >= timeout => {
                (TIMEOUT_EXIT_CODE, true)
            }
            // `cd` failed, or something killed the command's wrapper before the deadline.
            None => (envelope.exit, false),
        };
        let mut stdout = CappedBuffer::new(req.max_output_bytes);
        let mut stderr = CappedBuffer::new(req.max_output_bytes);
        stdout.push(&envelope.stdout);
        stderr.push(&envelope.stderr);
        Ok(Some(ExecOutput::from_streams(
            stdout, stderr, exit_code, timed_out, elapsed,
        )))
    }

    /// A finished command's log. When it cannot be read the session's state is unknown, so the
    /// session is discarded.
    async fn read_logs(
        &self,
        remote: &Remote,
        session: &str,
        cmd_id: &str,
        read_limit: usize,
    ) -> Result<Logs> {
        let logs = self
            .settings
            .api
            .command_logs(&remote.toolbox, session, cmd_id, read_limit)
            .await;
        if logs.is_err() {
            self.discard_session(remote, session.to_owned());
        }
        logs
    }

    /// Drops a session whose state is unknown (a failed call mid-command), killing it remotely
    /// in the background.
    fn discard_session(&self, remote: &Remote, session: String) {
        let settings = self.settings.clone();
        let toolbox = remote.toolbox.clone();
        spawn_cleanup("daytona session", async move {
            let _ = settings.api.delete_session(&toolbox, &session).await;
        });
    }
}

/// The streams of a synchronous exec's answer, unless the JSON text lost bytes (invalid UTF-8
/// becomes U+FFFD when the daemon encodes it).
fn exact_logs(
    output: &Option<String>,
    stdout: &Option<String>,
    stderr: &Option<String>,
) -> Option<Logs> {
    let lossy = |s: &Option<String>| s.as_deref().is_some_and(|t| t.contains('\u{FFFD}'));
    if lossy(output) || lossy(stdout) || lossy(stderr) {
        return None;
    }
    let (stdout, stderr) = match (stdout, stderr, output) {
        (Some(o), Some(e), _) => (o.clone().into_bytes(), e.clone().into_bytes()),
        (_, _, Some(raw)) => crate::client::demux(raw.as_bytes()),
        _ => (Vec::new(), Vec::new()),
    };
    Some(Logs {
        stdout,
        stderr,
        cut: false,
    })
}

fn build_output(
    mut logs: Logs,
    exit_code: i32,
    timed_out: bool,
    cap: usize,
    elapsed: Duration,
) -> ExecOutput {
    let out_marked = strip_mark(&mut logs.stdout);
    let err_marked = strip_mark(&mut logs.stderr);
    if !(timed_out || logs.cut || (out_marked && err_marked)) {
        tracing::debug!("session log without the end marker; output kept as the daemon gave it");
    }
    let mut stdout = CappedBuffer::new(cap);
    let mut stderr = CappedBuffer::new(cap);
    stdout.push(&logs.stdout);
    stderr.push(&logs.stderr);
    let mut out = ExecOutput::from_streams(stdout, stderr, exit_code, timed_out, elapsed);
    if logs.cut && !out.stdout_truncated && !out.stderr_truncated {
        // We stopped reading a huge log before either stream reached its cap.
        out.stdout
            .extend_from_slice(truncation_notice(cap).as_bytes());
        out.stdout_truncated = true;
    }
    out
}

#[async_trait]
impl Sandbox for DaytonaSandbox {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        request.validate().map_err(|e| e.with_backend(ID))?;
        let timeout = match self.settings.max_timeout {
            Some(max) => request.timeout.min(max),
            None => request.timeout,
        };
        let remote = self.remote().await?;
        let result = match self.run(&remote, &request, timeout).await {
            Err(e) if matches!(self.kind, Kind::Persistent { .. }) && is_not_running(&e) => {
                self.run_after_wake(remote, &request, timeout).await
            }
            Err(e) if matches!(self.kind, Kind::Persistent { .. }) => Err(e),
            Err(e) if e.kind() == ErrorKind::SandboxGone => {
                tracing::warn!(sandbox_id = %remote.id, error = %e, "the Daytona sandbox vanished; creating a new one (once)");
                self.slot.invalidate(&remote).await;
                let settings = self.settings.clone();
                let old = remote.id.clone();
                spawn_cleanup("daytona sandbox", async move {
                    let _ = settings.api.delete_sandbox(&old).await;
                });
                let fresh = self.remote().await?;
                self.run(&fresh, &request, timeout)
                    .await
                    .map(|o| (o, fresh))
            }
            other => other.map(|o| (o, remote)),
        };
        let (out, used) = result?;
        self.keep_alive(&used);
        Ok(out)
    }

    async fn close(&self) -> Result<()> {
        let closed = self.slot.close().await;
        let id = match (&self.kind, closed) {
            (_, Some(remote)) => Some(remote.id.clone()),
            // A persistent sandbox is deleted by id even when no session is open on it.
            (Kind::Persistent { id }, None) => Some(id.clone()),
            (Kind::Ephemeral { .. }, None) => None,
        };
        if let Some(id) = id {
            self.settings.api.delete_sandbox(&id).await?;
            tracing::debug!(sandbox_id = %id, "daytona sandbox deleted");
        }
        Ok(())
    }

    fn remote_id(&self) -> Option<String> {
        match &self.kind {
            Kind::Persistent { id } => Some(id.clone()),
            Kind::Ephemeral { .. } => None,
        }
    }

    async fn pause(&self) -> Result<()> {
        let Kind::Persistent { id } = &self.kind else {
            return Err(Error::invalid_request(
                "this Daytona sandbox was not created persistent (plugins.daytona.persistent = true); it cannot be paused",
            )
            .with_backend(ID));
        };
        // The handle is spent whatever happens: its sessions die with the stop.
        let _ = self.slot.close().await;
        stop_and_wait(&self.settings, id).await
    }
}

/// Whether an error means the toolbox found the sandbox not running (stopped by the vendor).
fn is_not_running(e: &Error) -> bool {
    e.context()
        .iter()
        .any(|(k, v)| *k == "sandbox_state" && v != "started")
}

impl Drop for DaytonaSandbox {
    fn drop(&mut self) {
        let Some(remote) = self.slot.take_now() else {
            return;
        };
        let settings = self.settings.clone();
        match self.kind {
            // A dropped persistent handle is paused, not deleted: the host's store may still
            // name it, and Daytona deletes it paused_retention after it stopped.
            Kind::Persistent { .. } => spawn_cleanup("daytona sandbox", async move {
                if let Err(e) = stop_and_wait(&settings, &remote.id).await {
                    tracing::warn!(sandbox_id = %remote.id, error = %e, "could not stop a dropped persistent sandbox; it stops after auto_stop_minutes");
                }
            }),
            Kind::Ephemeral { .. } => spawn_cleanup("daytona sandbox", async move {
                if let Err(e) = settings.api.delete_sandbox(&remote.id).await {
                    tracing::warn!(sandbox_id = %remote.id, error = %e, "could not delete a dropped sandbox; it stops after auto_stop_minutes");
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_is_quoted_and_subshelled() {
        let w = wrap_command(
            Shell::Bash,
            &CommandPath::default(),
            "echo 'hi' && exit 3",
            "my dir/x",
            8000,
        );
        assert!(
            w.starts_with("( if cd -- 'semantic/my dir/x'; then "),
            "{w}"
        );
        assert_eq!(
            w.matches(" TZ=UTC /bin/bash -c 'echo '\\''hi'\\'' && exit 3'")
                .count(),
            2,
            "bounded and fallback runs: {w}"
        );
        assert_eq!(w.matches("stdbuf -o0 head -c 8000 < ").count(), 2, "{w}");
        assert!(w.ends_with("exit ${__atlas_ec:-1} )"), "{w}");
        assert!(!w.contains('\n'), "one line: {w}");
    }

    #[test]
    fn execute_script_is_one_line_and_quoted() {
        let w = wrap_execute(
            Shell::Bash,
            &CommandPath::default(),
            "echo 'hi'",
            "my dir",
            8000,
            1001,
            Duration::from_millis(2500),
        );
        assert!(!w.contains('\n'), "one line: {w}");
        assert!(w.contains("timeout -k 1 2.500 /bin/bash -c "), "{w}");
        assert!(
            w.contains(r#" /bin/bash 'semantic/my dir' 'echo '\''hi'\''' "#),
            "{w}"
        );
        assert_eq!(w.matches("stdbuf -o0 head -c 8000 < ").count(), 2, "{w}");
        assert_eq!(w.matches("head -c 1001 ").count(), 2, "{w}");
        // Nothing runs before the run mark is printed.
        let run = w.find(RUN_MARK).unwrap();
        assert!(w.find("timeout -k").unwrap() > run, "{w}");
    }

    #[test]
    fn envelope_is_parsed_strictly() {
        let ok = format!("{RUN_MARK}\n{ENVELOPE_MARK} 0 3 4 1\nYQBiYw==\nZQ==\n{DONE_MARK}\n");
        let env = parse_envelope(&ok, 100).unwrap().unwrap();
        assert_eq!(
            env,
            Envelope {
                exit: 0,
                status: Some(3),
                stdout: b"a\0bc".to_vec(),
                stderr: b"e".to_vec(),
            }
        );
        // Cut off: no status written.
        let cut = format!("{RUN_MARK}\n{ENVELOPE_MARK} 124 - 0 0\n\n\n{DONE_MARK}\n");
        let env = parse_envelope(&cut, 100).unwrap().unwrap();
        assert_eq!((env.exit, env.status), (124, None));
        // Never started: no run mark.
        assert_eq!(parse_envelope("sh: 1: mkfifo: not found\n", 100), Ok(None));
        // Started, then anything missing or wrong is an error, never a rerun.
        for bad in [
            format!("{RUN_MARK}\n"),
            format!("{RUN_MARK}\n{ENVELOPE_MARK} 0 0 4 0\nYQ==\n\n{DONE_MARK}\n"),
            format!("{RUN_MARK}\n{ENVELOPE_MARK} 0 0 1 0\n!!\n\n{DONE_MARK}\n"),
            format!("{RUN_MARK}\n{ENVELOPE_MARK} 0 0 1 0\nYQ==\n\n"),
            format!("{RUN_MARK}\n{ENVELOPE_MARK} x 0 1 0\nYQ==\n\n{DONE_MARK}\n"),
        ] {
            assert!(parse_envelope(&bad, 100).is_err(), "{bad:?}");
        }
        // Past `keep`, only `keep` bytes travel.
        let big = format!("{RUN_MARK}\n{ENVELOPE_MARK} 0 0 9000 0\nYWI=\n\n{DONE_MARK}\n");
        assert_eq!(parse_envelope(&big, 2).unwrap().unwrap().stdout, b"ab");
    }

    #[test]
    fn marker_is_removed_exactly() {
        let mut s = format!("abc{END_MARK}\n").into_bytes();
        assert!(strip_mark(&mut s));
        assert_eq!(s, b"abc");
        let mut s = format!("abc\n{END_MARK}\n").into_bytes();
        assert!(strip_mark(&mut s));
        assert_eq!(s, b"abc\n");
        let mut s = b"partial".to_vec();
        assert!(!strip_mark(&mut s));
    }
}
