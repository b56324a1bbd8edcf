//! The escape battery: every row of the escape checklist (`docs/escape-checklist.md`) that can
//! be observed through the [`Sandbox`] trait, run against the sandboxes a factory creates.
//!
//! Each row gets a fresh sandbox over a fresh copy of the example layer inside a private
//! workspace (a temporary directory that also holds canary secrets outside the layer). A row is
//! *held* when every attack in it was refused or harmless, *FAILED* with the first reasons
//! otherwise, and *not applicable* when the backend declared so (with the reason) or the row
//! cannot be observed here.
//!
//! Before the rows, a probe asks the sandbox whether it can read the command line of, or
//! signal, a host process the battery started. If it can, the sandbox shares the host's process
//! space: `kill -9 -1`, `mount`, and the fork, memory and disk bombs would hit the host itself,
//! so P1, R1, R2 and R5 are reported FAILED *without being run* (unless
//! [`EscapeOptions::force_resource_attacks`]).
//!
//! Checks rely on what the caller of a sandbox can observe (output bytes, exit codes, the host's
//! files, listeners and process table), so the same rows work for an in-process interpreter, a
//! jail, a container and a remote sandbox.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{ErrorKind, ExecRequest, Sandbox, SemanticLayer, TIMEOUT_EXIT_CODE};
use futures::future::BoxFuture;

use crate::host::{
    Attempt, attempt, contains, descendants, diff, host_program, host_responsive, kill_pid,
    processes_with_marker, random_token, rss_kib, snapshot, unique_sleep_arg,
};
use crate::report::{Outcome, Report, Suite};
use crate::{SandboxFactory, copy_tree, example_layer};

/// The environment variable the battery sets in its own process (I1): its value must never
/// reach a command.
pub const CANARY_ENV: &str = "ATLAS_TEST_CANARY_SECRET";

/// The rows, in order: (id, what is attacked).
pub const ROWS: &[(&str, &str)] = &[
    ("F1", "write/truncate/delete/rename/chmod the layer"),
    ("F2", "read host secrets"),
    ("F3", "symlinks out of the layer"),
    ("F4", "path tricks past the root"),
    ("F5", "file swapped for a symlink mid-run"),
    ("P1", "unshare, mount, kill -9 -1"),
    ("P2", "TIOCSTI keystroke injection"),
    ("I1", "read the host's environment"),
    ("N1", "network to the host's loopback"),
    ("R1", "fork bomb"),
    ("R2", "memory bomb"),
    ("R3", "sleep / CPU loop past the timeout"),
    ("R4", "unbounded output"),
    ("R5", "fill the disk / inodes"),
    ("R6", "huge command, binary bytes"),
    ("T1", "kill the host mid-command"),
    ("T2", "many sessions opened and closed"),
];

/// A check of T1 that the backend runs itself (it must kill a host process, which the battery
/// cannot do to its own process). `Ok(notes)` = held, `Err(reason)` = FAILED.
pub struct T1Hook(pub Box<dyn Fn() -> BoxFuture<'static, Result<String, String>> + Send + Sync>);

impl fmt::Debug for T1Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("T1Hook(..)")
    }
}

/// What the battery should know about a backend.
#[derive(Debug)]
pub struct EscapeOptions {
    /// Rows the backend cannot be attacked through, with the reason: `(row, why)`
    /// (e.g. `("N1", "no network commands exist")` for an interpreter).
    pub not_applicable: Vec<(String, String)>,
    /// The backend's config allows network: N1 is not applicable.
    pub network_allowed: bool,
    /// The host's real `atlas.toml` (F2 checks that none of its lines can be read).
    pub host_config_path: Option<PathBuf>,
    /// Who covers T1 when there is no [`EscapeOptions::t1_hook`] (e.g. `"tests/kill_host.rs"`).
    pub t1_covered_by: Option<String>,
    /// Runs T1 through the backend's own means.
    pub t1_hook: Option<T1Hook>,
    /// Directories where the backend creates per-sandbox temporary entries: after T2 none of
    /// them may hold more entries than before.
    pub watch_temp_dirs: Vec<PathBuf>,
    /// How many sessions T2 opens and closes.
    pub t2_sessions: usize,
    /// Run P1, R1, R2 and R5 even when the probe shows the sandbox sees host processes (for a
    /// backend that enforces process, memory and disk limits without a PID namespace).
    pub force_resource_attacks: bool,
    /// How much longer than its timeout a killed command may take to return.
    pub timeout_slack: Duration,
}

impl Default for EscapeOptions {
    fn default() -> Self {
        EscapeOptions {
            not_applicable: Vec::new(),
            network_allowed: false,
            host_config_path: None,
            t1_covered_by: None,
            t1_hook: None,
            watch_temp_dirs: Vec::new(),
            t2_sessions: 100,
            force_resource_attacks: false,
            timeout_slack: Duration::from_secs(1),
        }
    }
}

impl EscapeOptions {
    /// The defaults: no network, 100 T2 sessions, 1 s of timeout slack.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares row `row` not applicable to this backend, and why.
    #[must_use]
    pub fn not_applicable(mut self, row: impl Into<String>, why: impl Into<String>) -> Self {
        self.not_applicable.push((row.into(), why.into()));
        self
    }

    /// Sets [`EscapeOptions::network_allowed`].
    #[must_use]
    pub fn network_allowed(mut self, yes: bool) -> Self {
        self.network_allowed = yes;
        self
    }

    /// Sets [`EscapeOptions::host_config_path`].
    #[must_use]
    pub fn host_config_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.host_config_path = Some(path.into());
        self
    }

    /// Sets [`EscapeOptions::t1_covered_by`].
    #[must_use]
    pub fn t1_covered_by(mut self, by: impl Into<String>) -> Self {
        self.t1_covered_by = Some(by.into());
        self
    }

    /// Sets [`EscapeOptions::t1_hook`].
    #[must_use]
    pub fn t1_hook<H>(mut self, hook: H) -> Self
    where
        H: Fn() -> BoxFuture<'static, Result<String, String>> + Send + Sync + 'static,
    {
        self.t1_hook = Some(T1Hook(Box::new(hook)));
        self
    }

    /// Adds a directory to [`EscapeOptions::watch_temp_dirs`].
    #[must_use]
    pub fn watch_temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.watch_temp_dirs.push(dir.into());
        self
    }

    /// Sets [`EscapeOptions::t2_sessions`].
    #[must_use]
    pub fn t2_sessions(mut self, n: usize) -> Self {
        self.t2_sessions = n;
        self
    }

    /// Sets [`EscapeOptions::force_resource_attacks`].
    #[must_use]
    pub fn force_resource_attacks(mut self, yes: bool) -> Self {
        self.force_resource_attacks = yes;
        self
    }

    /// Sets [`EscapeOptions::timeout_slack`].
    #[must_use]
    pub fn timeout_slack(mut self, slack: Duration) -> Self {
        self.timeout_slack = slack;
        self
    }
}

/// The value of [`CANARY_ENV`] in this process, set once, before the first sandbox exists.
fn env_canary() -> &'static str {
    static VALUE: OnceLock<String> = OnceLock::new();
    VALUE.get_or_init(|| {
        let value = format!("atlas-env-canary-{}", random_token());
        // SAFETY: set_var races with concurrent getenv calls in other threads. The battery sets
        // it once, before it creates any sandbox; the I1 row needs the variable in this very
        // process, so it cannot be avoided. Tests that read the environment concurrently should
        // not share a binary with the battery.
        unsafe { std::env::set_var(CANARY_ENV, &value) };
        value
    })
}

/// Runs the escape battery against the sandboxes `factory` creates.
pub async fn run<F: SandboxFactory>(name: &str, factory: F, opts: EscapeOptions) -> Report {
    let mut report = Report::new(Suite::Escape, name);
    let env_canary = env_canary();
    let ws = match Workspace::new() {
        Ok(ws) => ws,
        Err(e) => {
            report.push(
                "setup",
                "build the battery's workspace",
                Outcome::Failed(format!("cannot build the workspace: {e}")),
                Duration::ZERO,
            );
            return report;
        }
    };
    let sentinel = Sentinel::spawn().await;
    let mut ctx = Ctx {
        factory: &factory,
        opts: &opts,
        ws,
        env_canary,
        sentinel,
        confinement: Confinement::default(),
    };
    ctx.confinement = ctx.probe().await;

    for &(id, title) in ROWS {
        let started = Instant::now();
        let declared = opts
            .not_applicable
            .iter()
            .find(|(row, _)| row == id)
            .map(|(_, why)| why.clone());
        let outcome = match declared {
            Some(why) => Outcome::Skipped(why),
            None => Box::pin(ctx.row(id)).await,
        };
        report.push(id, title, outcome, started.elapsed());
    }
    report
}

/// The private directory the battery attacks from.
struct Workspace {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    /// A random token written in every canary file.
    canary: String,
    /// `<dir>/canary_secret.txt`: a host secret outside every layer.
    canary_file: PathBuf,
    /// `<dir>/atlas.toml`: a fake host config with the canary as its API key.
    fake_config: PathBuf,
}

impl Workspace {
    fn new() -> std::io::Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix("atlas-testkit-escape-")
            .tempdir()?;
        // Canonical, so paths planted in symlinks are the real ones.
        let dir = std::fs::canonicalize(tmp.path())?;
        let canary = format!("ATLAS-CANARY-{}", random_token());
        let canary_file = dir.join("canary_secret.txt");
        std::fs::write(&canary_file, format!("{canary}\n"))?;
        let fake_config = dir.join("atlas.toml");
        std::fs::write(
            &fake_config,
            format!("[plugins.e2b]\napi_key = \"{canary}\"\n"),
        )?;
        Ok(Workspace {
            _tmp: tmp,
            dir,
            canary,
            canary_file,
            fake_config,
        })
    }

    /// A fresh copy of the example layer at `<dir>/<name>/semantic`.
    fn fresh_layer(&self, name: &str) -> std::io::Result<PathBuf> {
        let root = self.dir.join(name).join("semantic");
        copy_tree(&example_layer(), &root)?;
        Ok(root)
    }
}

/// A host process the sandbox must not see or signal: `sleep` with a unique argument, run by
/// the SDK's runner on a task (aborting the task kills it).
struct Sentinel {
    task: tokio::task::JoinHandle<()>,
    pid: i32,
    marker: String,
    /// A pid that surely exists no more: a check that `kill -0` is real, not a stub.
    dead_pid: Option<i32>,
}

impl Sentinel {
    async fn spawn() -> Option<Self> {
        let marker = unique_sleep_arg(600);
        let spec = host_program("sleep")
            .arg(&marker)
            .timeout(Duration::from_secs(600));
        let task = tokio::spawn(async move {
            let _ = atlas_sandbox_sdk::process::run(&spec).await;
        });
        let mut pid = None;
        for _ in 0..100 {
            if let Some(p) = processes_with_marker(&marker).first() {
                pid = Some(p.pid);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let Some(pid) = pid else {
            task.abort();
            return None;
        };
        let dead_pid =
            atlas_sandbox_sdk::process::run(&host_program("sh").arg("-c").arg("echo $$"))
                .await
                .ok()
                .and_then(|r| r.output.stdout_str().trim().parse().ok());
        Some(Sentinel {
            task,
            pid,
            marker,
            dead_pid,
        })
    }

    fn pid(&self) -> i32 {
        self.pid
    }

    fn alive(&self) -> bool {
        !processes_with_marker(&self.marker).is_empty()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the probe found out about the sandbox and the host's processes.
#[derive(Debug, Default, Clone)]
struct Confinement {
    sees_host: bool,
    can_signal: bool,
    /// The probe could not run: assume the worst.
    unknown: bool,
    detail: String,
}

impl Confinement {
    fn unconfined(&self) -> bool {
        self.sees_host || self.can_signal || self.unknown
    }

    fn unknown(detail: String) -> Self {
        Confinement {
            unknown: true,
            detail,
            ..Default::default()
        }
    }
}

struct Ctx<'a, F> {
    factory: &'a F,
    opts: &'a EscapeOptions,
    ws: Workspace,
    env_canary: &'static str,
    sentinel: Option<Sentinel>,
    confinement: Confinement,
}

/// A secret the output must not contain: (what it is, its bytes).
type Secret = (String, Vec<u8>);

/// A command and what came back from it.
type Tried = (String, Attempt);

/// What a row comes to. `Err` is a failure found before any verdict (the attack could not be
/// set up, or it would hit the host), so a row can bail out with `?`.
type RowResult = Result<Outcome, String>;

/// Long enough for a command that is refused or harmless; an attack still running by then is
/// cut off rather than waited for.
const QUICK: Duration = Duration::from_secs(5);

fn held(notes: impl Into<String>) -> Outcome {
    Outcome::Passed(notes.into())
}

fn failed(reasons: &[String]) -> Outcome {
    let mut shown: Vec<String> = reasons.iter().take(4).cloned().collect();
    if reasons.len() > 4 {
        shown.push(format!("and {} more", reasons.len() - 4));
    }
    Outcome::Failed(shown.join("; "))
}

/// Held when no reason was found. The notes are worked out only then: they describe a row that
/// held.
fn verdict(reasons: &[String], notes: impl FnOnce() -> String) -> Outcome {
    if reasons.is_empty() {
        held(notes())
    } else {
        failed(reasons)
    }
}

fn req(command: impl Into<String>, timeout: Duration) -> ExecRequest {
    ExecRequest::new(command)
        .timeout(timeout)
        .max_output_bytes(256 * 1024)
}

/// A shell snippet that prints `word` without the command itself containing it.
fn hidden_echo(word: &str) -> String {
    let (a, b) = word.split_at(word.len() / 2);
    format!("printf '%s%s\\n' '{a}' '{b}'")
}

/// A backend that hangs or panics has failed whatever the command was: refusing an attack must
/// not take the sandbox down.
fn broke(a: &Attempt) -> bool {
    matches!(a, Attempt::Hung(_) | Attempt::Panicked(_))
}

/// One attempt as a report shows it: "`command`: what came back".
fn attempt_note(command: &str, a: &Attempt) -> String {
    format!("`{}`: {}", short(command), a.summary())
}

/// Every attempt as a report shows it, for the notes of a row that held.
fn attempt_notes(results: &[Tried]) -> String {
    results
        .iter()
        .map(|(c, a)| attempt_note(c, a))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs each command in turn (with a short timeout) and returns what came back.
async fn run_all(sb: &dyn Sandbox, commands: &[impl AsRef<str>], timeout: Duration) -> Vec<Tried> {
    let mut out = Vec::new();
    for c in commands {
        let c = c.as_ref();
        out.push((c.to_owned(), attempt(sb, req(c, timeout)).await));
    }
    out
}

/// [`run_all`], then closes the sandbox: the verdict is formed from the host's side afterwards.
async fn run_all_and_close(
    sb: Box<dyn Sandbox>,
    commands: &[impl AsRef<str>],
    timeout: Duration,
) -> Vec<Tried> {
    let results = run_all(sb.as_ref(), commands, timeout).await;
    let _ = sb.close().await;
    results
}

/// Which secrets appear in which outputs; hangs and panics are failures too.
fn leaks(results: &[Tried], secrets: &[Secret]) -> Vec<String> {
    let mut out = Vec::new();
    for (cmd, a) in results {
        if broke(a) {
            out.push(attempt_note(cmd, a));
        }
        let seen = a.visible_bytes();
        for (what, bytes) in secrets {
            let line = format!("`{}` revealed {what}", short(cmd));
            if contains(&seen, bytes) && !out.contains(&line) {
                out.push(line);
            }
        }
    }
    out
}

/// The host must still spawn a process promptly after an attack on its resources; returns how
/// long that took.
async fn check_host_responsive(reasons: &mut Vec<String>) -> Option<Duration> {
    match host_responsive().await {
        Ok(took) => Some(took),
        Err(e) => {
            reasons.push(e);
            None
        }
    }
}

impl<F: SandboxFactory> Ctx<'_, F> {
    async fn open(&self, root: &Path) -> Result<Box<dyn Sandbox>, String> {
        let layer = SemanticLayer::open(root).map_err(|e| format!("cannot open the layer: {e}"))?;
        self.factory
            .create(layer)
            .await
            .map_err(|e| format!("could not create a sandbox: {e}"))
    }

    async fn open_fresh(&self, name: &str) -> Result<(PathBuf, Box<dyn Sandbox>), String> {
        let root = self
            .ws
            .fresh_layer(name)
            .map_err(|e| format!("cannot copy the layer: {e}"))?;
        let sb = self.open(&root).await?;
        Ok((root, sb))
    }

    /// Runs `commands` in a sandbox of its own over a fresh layer named `name`.
    async fn attack(
        &self,
        name: &str,
        commands: &[impl AsRef<str>],
        timeout: Duration,
    ) -> Result<Vec<Tried>, String> {
        let (_root, sb) = self.open_fresh(name).await?;
        Ok(run_all_and_close(sb, commands, timeout).await)
    }

    fn canary_secrets(&self) -> Vec<Secret> {
        vec![(
            "the canary secret".to_owned(),
            self.ws.canary.as_bytes().to_vec(),
        )]
    }

    /// Refuses to run an attack that would hit the host itself when the sandbox may share its
    /// processes.
    fn gate(&self) -> Result<(), String> {
        if self.confinement.unconfined() && !self.opts.force_resource_attacks {
            Err(format!(
                "not executed: the sandbox may share the host's processes ({}), so this attack \
                 would hit the host itself; set force_resource_attacks if the backend limits it",
                self.confinement.detail
            ))
        } else {
            Ok(())
        }
    }

    async fn probe(&self) -> Confinement {
        let Some(sentinel) = &self.sentinel else {
            return Confinement::unknown("no host sentinel process could be started".into());
        };
        let pid = sentinel.pid();
        let dead = sentinel
            .dead_pid
            .map(|p| {
                format!(
                    "kill -0 {p} 2>/dev/null && {};",
                    hidden_echo("DEAD-PID-SIGNALLED")
                )
            })
            .unwrap_or_default();
        let command = format!(
            "cat /proc/{pid}/cmdline 2>/dev/null; echo; kill -0 {pid} 2>/dev/null && {}; {dead} true",
            hidden_echo("SENTINEL-SIGNALLED")
        );
        let opened = match self.ws.fresh_layer("probe") {
            Ok(root) => self.open(&root).await,
            Err(e) => Err(e.to_string()),
        };
        let sb = match opened {
            Ok(sb) => sb,
            Err(e) => return Confinement::unknown(format!("the probe did not run: {e}")),
        };
        let a = attempt(sb.as_ref(), req(command, Duration::from_secs(10))).await;
        let _ = sb.close().await;
        if !matches!(a, Attempt::Ran(_)) {
            return Confinement::unknown(format!("the probe command gave {}", a.summary()));
        }
        let seen = a.visible_bytes();
        let sees_host = contains(&seen, sentinel.marker.as_bytes());
        let can_signal =
            contains(&seen, b"SENTINEL-SIGNALLED") && !contains(&seen, b"DEAD-PID-SIGNALLED");
        let mut detail = Vec::new();
        if sees_host {
            detail.push(format!("it read /proc/{pid}/cmdline of a host process"));
        }
        if can_signal {
            detail.push(format!("`kill -0 {pid}` reached a host process"));
        }
        Confinement {
            sees_host,
            can_signal,
            unknown: false,
            detail: detail.join(", "),
        }
    }

    async fn row(&mut self, id: &str) -> Outcome {
        let result = match id {
            "F1" => self.f1().await,
            "F2" => self.f2().await,
            "F3" => self.f3().await,
            "F4" => self.f4().await,
            "F5" => self.f5().await,
            "P1" => self.p1().await,
            "P2" => self.p2().await,
            "I1" => self.i1().await,
            "N1" => self.n1().await,
            "R1" => self.r1().await,
            "R2" => self.r2().await,
            "R3" => self.r3().await,
            "R4" => self.r4().await,
            "R5" => self.r5().await,
            "R6" => self.r6().await,
            "T1" => self.t1().await,
            "T2" => self.t2().await,
            other => Err(format!("unknown row {other}")),
        };
        result.unwrap_or_else(Outcome::Failed)
    }

    /// F1: every kind of write leaves the host's source files byte-identical.
    async fn f1(&self) -> RowResult {
        let (root, sb) = self.open_fresh("f1").await?;
        let before = snapshot(&root).map_err(|e| format!("cannot snapshot the layer: {e}"))?;
        let commands = [
            "echo pwned > catalog.yml",
            ": > glossary.yml",
            "printf x >> entities/customers.yml",
            "rm -f entities/orders.yml",
            "mv entities/products.yml entities/moved.yml",
            "chmod 000 entities/payments.yml",
            "sed -i 's/customer_id/pwned/g' entities/refunds.yml",
            "touch -d '2000-01-01' entities/returns.yml",
            "touch new.yml && mkdir -p newdir",
            "ln -s /etc/passwd entities/link.yml",
            "rm -rf metrics groups",
        ];
        let results = run_all(sb.as_ref(), &commands, QUICK).await;
        // The sandbox must still answer after the attempts (an error, not a crash).
        let after_all = attempt(sb.as_ref(), req("cat catalog.yml", QUICK)).await;
        let _ = sb.close().await;
        let after = snapshot(&root).map_err(|e| format!("cannot re-read the layer: {e}"))?;
        let mut reasons: Vec<String> = diff(&before, &after, 6)
            .into_iter()
            .map(|c| format!("host file {c}"))
            .collect();
        reasons.extend(leaks(&results, &[]));
        if broke(&after_all) {
            reasons.push(format!(
                "the sandbox broke after the writes: {}",
                after_all.summary()
            ));
        }
        Ok(verdict(&reasons, || {
            let refused = results
                .iter()
                .filter(|(_, a)| !matches!(a, Attempt::Ran(o) if o.exit_code == 0))
                .count();
            format!(
                "host files unchanged; {refused}/{} writes refused, any others changed only a private copy",
                results.len()
            )
        }))
    }

    /// F2: host secrets stay invisible.
    async fn f2(&self) -> RowResult {
        let mut secrets = self.canary_secrets();
        let mut notes = Vec::new();
        // /etc/shadow: only lines with a password hash are secret (a container's own shadow
        // file may share the hash-less system lines with the host's).
        match std::fs::read_to_string("/etc/shadow") {
            Ok(s) => {
                let hashed: Vec<&str> = s
                    .lines()
                    .filter(|l| l.split(':').nth(1).is_some_and(|p| p.starts_with('$')))
                    .collect();
                if hashed.is_empty() {
                    notes.push("host /etc/shadow holds no password hash");
                }
                for line in hashed {
                    secrets.push((
                        "a password hash of the host's /etc/shadow".into(),
                        line.into(),
                    ));
                }
            }
            Err(_) => notes.push("host /etc/shadow unreadable by the test"),
        }
        let ssh_files = std::fs::read_dir("/root/.ssh")
            .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default();
        if ssh_files.is_empty() {
            notes.push("host has no /root/.ssh");
        }
        for path in ssh_files {
            if let Ok(text) = std::fs::read_to_string(&path) {
                for line in text.lines().filter(|l| l.trim().len() >= 20) {
                    secrets.push((
                        format!("a line of the host's {}", path.display()),
                        line.into(),
                    ));
                }
            }
        }
        for entry in distinctive_environ("/proc/1/environ") {
            secrets.push(("a variable of the host's /proc/1/environ".into(), entry));
        }
        if let Some(cfg) = &self.opts.host_config_path {
            match std::fs::read_to_string(cfg) {
                Ok(text) => {
                    for line in text
                        .lines()
                        .map(str::trim)
                        .filter(|l| l.len() >= 8 && !l.starts_with('#') && !l.starts_with('['))
                    {
                        secrets.push((format!("a line of {}", cfg.display()), line.into()));
                    }
                }
                Err(e) => notes.push(if e.kind() == std::io::ErrorKind::NotFound {
                    "host_config_path does not exist"
                } else {
                    "host_config_path unreadable by the test"
                }),
            }
        }
        let docker_socket = std::fs::symlink_metadata("/var/run/docker.sock")
            .map(|m| {
                use std::os::unix::fs::FileTypeExt;
                m.file_type().is_socket()
            })
            .unwrap_or(false);
        if docker_socket {
            secrets.push((
                "the host's Docker socket".into(),
                b"DOCKER-SOCKET-VISIBLE".to_vec(),
            ));
            secrets.push(("the host's Docker API".into(), b"ApiVersion".to_vec()));
        } else {
            notes.push("host has no Docker socket");
        }
        let mut commands: Vec<String> = vec![
            "cat /etc/shadow".into(),
            "ls -la /root/.ssh; cat /root/.ssh/* ~/.ssh/*".into(),
            "cat /proc/1/environ; tr '\\0' '\\n' < /proc/1/environ".into(),
            format!(
                "ls -la /var/run/docker.sock; [ -S /var/run/docker.sock ] && {}",
                hidden_echo("DOCKER-SOCKET-VISIBLE")
            ),
            "curl -s -m 3 --unix-socket /var/run/docker.sock http://localhost/version".into(),
            format!("cat {}", self.ws.canary_file.display()),
            format!("cat {}", self.ws.fake_config.display()),
            format!("grep -r api_key {}", self.ws.dir.display()),
        ];
        if let Some(cfg) = &self.opts.host_config_path {
            commands.push(format!("cat {}", cfg.display()));
        }
        let results = self.attack("f2", &commands, QUICK).await?;
        Ok(verdict(&leaks(&results, &secrets), || {
            format!("{} secrets checked; {}", secrets.len(), notes.join(", "))
        }))
    }

    /// F3: a layer with symlinks pointing out of it (absolute, `../`, a sibling
    /// `semantic_evil`, loops).
    async fn f3(&self) -> RowResult {
        let base = self.ws.dir.join("f3");
        let root = base.join("semantic");
        build_f3_layer(&base, &root, &self.ws.canary_file, &self.ws.canary)
            .map_err(|e| format!("cannot build the symlink layer: {e}"))?;
        let sb = match self.open(&root).await {
            Ok(sb) => sb,
            // Refusing a hostile layer outright is confinement too.
            Err(e) => return Ok(held(format!("the backend refused the layer: {e}"))),
        };
        let commands = [
            "cat evil_abs.yml",
            "cat evil_rel.yml",
            "cat deep_rel.yml",
            "cat evil_dir/leak.yml",
            "cat evil_abs_dir/leak.yml",
            "ls -la etc_link/ | head -5",
            "grep -r ATLAS-CANARY .",
            "grep -rn leaked .",
            "find -L . -name '*.yml' | head -200",
            "ls -R | head -300",
            "cat loop_a",
            "cat self/self/self/catalog.yml | head -2",
        ];
        let results = run_all_and_close(sb, &commands, Duration::from_secs(8)).await;
        let mut reasons = leaks(&results, &self.canary_secrets());
        for (cmd, a) in &results {
            if matches!(a, Attempt::Ran(o) if o.timed_out) {
                reasons.push(format!("`{cmd}` did not end (timed out)"));
            }
        }
        Ok(verdict(&reasons, || {
            format!("{} commands over 8 hostile symlinks", results.len())
        }))
    }

    /// F4: `..` past the root, `/proc/self/root`, `/proc/1/root`, `//`, very long paths.
    async fn f4(&self) -> RowResult {
        let (_root, sb) = self.open_fresh("f4").await?;
        let abs = self.ws.canary_file.display().to_string();
        let rel = abs.trim_start_matches('/').to_owned();
        let commands = vec![
            "cd .. && ls -la && cd .. && ls -la && cat canary_secret.txt".to_owned(),
            "cat ../../canary_secret.txt".to_owned(),
            format!("cd ../../../../../../../../../.. && pwd && cat {rel}"),
            format!("cat /proc/self/root{abs}"),
            format!("cat /proc/1/root{abs}"),
            "cat /proc/self/cwd/../../canary_secret.txt".to_owned(),
            format!("cat /{abs}; cat ///{abs}"),
            format!("cat {}{rel}", "../".repeat(600)),
            format!("cd / && cat .{abs}"),
            format!(
                "ls -la /proc/self/root{}",
                parent_display(&self.ws.canary_file)
            ),
        ];
        let results = run_all(sb.as_ref(), &commands, QUICK).await;
        let mut reasons = leaks(&results, &self.canary_secrets());
        for cwd in ["..", "../..", "entities/../../..", "/", "a\nb"] {
            match attempt(sb.as_ref(), req("ls", QUICK).cwd(cwd)).await {
                Attempt::Refused(e) if e.kind() == ErrorKind::InvalidRequest => {}
                other => reasons.push(format!(
                    "cwd {cwd:?} was not refused as an invalid request: {}",
                    other.summary()
                )),
            }
        }
        let _ = sb.close().await;
        Ok(verdict(&reasons, || {
            format!("{} path tricks, 5 cwd escapes refused", commands.len())
        }))
    }

    /// F5: a file and a directory swapped for symlinks out of the layer while commands run and
    /// while sandboxes are being created over the layer.
    async fn f5(&self) -> RowResult {
        let base = self.ws.dir.join("f5");
        let root = base.join("semantic");
        let evil = base.join("evil");
        let setup = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(root.join("sub"))?;
            std::fs::create_dir_all(&evil)?;
            std::fs::copy(
                example_layer().join("catalog.yml"),
                root.join("catalog.yml"),
            )?;
            std::fs::write(root.join("race.yml"), "race: ok\n")?;
            std::fs::write(root.join("sub/ok.yml"), "ok: true\n")?;
            std::fs::write(
                evil.join("leak.yml"),
                format!("leaked: {}\n", self.ws.canary),
            )?;
            Ok(())
        })();
        setup.map_err(|e| format!("cannot build the race layer: {e}"))?;
        let swapper = Swapper::start(root.clone(), self.ws.canary_file.clone(), evil);
        let commands = [
            "cat race.yml",
            "cat sub/leak.yml sub/ok.yml",
            "grep -r ATLAS-CANARY .",
            "cat race.yml sub/* 2>&1 | head -20",
        ];
        if !swapper.wait_first_swap(Duration::from_secs(2)) {
            return Err("the swapping thread made no swap: the race was not run".into());
        }
        let mut reasons = Vec::new();
        let mut create_errors = 0;
        let mut execs = 0;
        let mut sandboxes = 0;
        // Creations race with the swaps too (backends that copy the layer when they start).
        let deadline = Instant::now() + Duration::from_secs(3);
        while (Instant::now() < deadline || sandboxes < 2) && sandboxes < 200 && reasons.is_empty()
        {
            // A fast (in-process) backend would otherwise finish before the swapper got going.
            tokio::time::sleep(Duration::from_millis(5)).await;
            sandboxes += 1;
            let sb = match self.open(&root).await {
                Ok(sb) => sb,
                Err(_) => {
                    create_errors += 1;
                    continue;
                }
            };
            for _ in 0..3 {
                let results = run_all(sb.as_ref(), &commands, QUICK).await;
                execs += results.len();
                reasons.extend(leaks(&results, &self.canary_secrets()));
            }
            let _ = sb.close().await;
        }
        let swaps = swapper.stop();
        reasons.dedup();
        Ok(verdict(&reasons, || {
            format!(
                "{execs} execs in {sandboxes} sandboxes during {swaps} swaps; {create_errors} creations refused"
            )
        }))
    }

    /// P1: `unshare`, `mount`, `kill -9 -1` fail or stay harmless.
    async fn p1(&mut self) -> RowResult {
        self.gate()?;
        let commands = [
            "unshare -r id",
            "mount -t tmpfs none /tmp; echo mount=$?",
            "find / -xdev -perm -4000 -type f 2>/dev/null | head -5",
            "kill -9 -1",
        ];
        let results = self.attack("p1", &commands, QUICK).await?;
        let mut reasons = leaks(&results, &[]);
        if let Some(s) = self.sentinel.as_ref()
            && !s.alive()
        {
            reasons.push("`kill -9 -1` killed a host process (the sentinel)".into());
        }
        match std::fs::read_to_string(&self.ws.canary_file) {
            Ok(s) if s.contains(&self.ws.canary) => {}
            _ => reasons.push("the host's /tmp changed under `mount -t tmpfs none /tmp`".into()),
        }
        Ok(verdict(&reasons, || attempt_notes(&results)))
    }

    /// P2: TIOCSTI through python3 or perl cannot inject keystrokes.
    async fn p2(&self) -> RowResult {
        let (_root, sb) = self.open_fresh("p2").await?;
        let which = attempt(
            sb.as_ref(),
            req("command -v python3; command -v perl", QUICK),
        )
        .await;
        let found = which
            .output()
            .map(|o| o.stdout_str().to_string())
            .unwrap_or_default();
        let has_python = found.contains("python3");
        let has_perl = found.contains("perl");
        if !has_python && !has_perl {
            let _ = sb.close().await;
            return Ok(Outcome::Skipped(
                "neither python3 nor perl exists in the sandbox".into(),
            ));
        }
        // The /dev/tty variants could reach the developer's terminal when the sandbox shares
        // the host's session; run them only when that cannot happen.
        let host_has_tty = std::fs::File::open("/dev/tty").is_ok();
        let try_tty = !(self.confinement.unconfined() && host_has_tty);
        let inject = hidden_echo("INJECTED");
        let mut commands = Vec::new();
        if has_python {
            commands.push(format!(
                "python3 -c 'import fcntl, termios; fcntl.ioctl(0, termios.TIOCSTI, b\"#\")' && {inject}"
            ));
            if try_tty {
                commands.push(format!(
                    "python3 -c 'import os, fcntl, termios; fd = os.open(\"/dev/tty\", os.O_RDWR); fcntl.ioctl(fd, termios.TIOCSTI, b\"#\")' && {inject}"
                ));
            }
        }
        if has_perl {
            commands.push(format!(
                "perl -e 'ioctl(STDIN, 0x5412, \"#\") or die \"refused: $!\\n\"' && {inject}"
            ));
            if try_tty {
                commands.push(format!(
                    "perl -e 'open(T, \"+<\", \"/dev/tty\") or die \"no tty: $!\\n\"; ioctl(T, 0x5412, \"#\") or die \"refused: $!\\n\"' && {inject}"
                ));
            }
        }
        let results = run_all_and_close(sb, &commands, QUICK).await;
        let secrets = [("a successful TIOCSTI".to_owned(), b"INJECTED".to_vec())];
        Ok(verdict(&leaks(&results, &secrets), || {
            let note = if try_tty {
                ""
            } else {
                "; the /dev/tty variants were not run (the host has a terminal the sandbox could reach)"
            };
            format!("{} injections refused{note}", commands.len())
        }))
    }

    /// I1: the environment of the host process is invisible.
    async fn i1(&self) -> RowResult {
        let me = std::process::id();
        let commands = vec![
            "env".to_owned(),
            "cat /proc/self/environ".to_owned(),
            format!("echo \"${CANARY_ENV}\""),
            "set".to_owned(),
            format!("tr '\\0' '\\n' < /proc/{me}/environ"),
            "cat /proc/$PPID/environ".to_owned(),
        ];
        let mut secrets: Vec<Secret> = vec![(
            format!("the host's {CANARY_ENV}"),
            self.env_canary.as_bytes().to_vec(),
        )];
        // The environment this process started with (what /proc/<pid>/environ shows).
        for entry in distinctive_environ("/proc/self/environ") {
            secrets.push(("a variable of the host process's environment".into(), entry));
        }
        for (key, value) in std::env::vars() {
            let upper = key.to_ascii_uppercase();
            let secretish = ["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"]
                .iter()
                .any(|w| upper.contains(w));
            if secretish && key != CANARY_ENV && value.len() >= 8 {
                secrets.push((format!("the host's {key}"), value.into_bytes()));
            }
        }
        let results = self.attack("i1", &commands, QUICK).await?;
        Ok(verdict(&leaks(&results, &secrets), || {
            format!("{} host values checked", secrets.len())
        }))
    }

    /// N1: listeners on the host's 127.0.0.1, ::1 (TCP), 127.0.0.1 (UDP) and an abstract unix
    /// socket accept nothing.
    async fn n1(&self) -> RowResult {
        if self.opts.network_allowed {
            return Ok(Outcome::Skipped(
                "the backend's config allows network".into(),
            ));
        }
        let listeners = Listeners::start()
            .await
            .map_err(|e| format!("cannot start the test listeners: {e}"))?;
        let (_root, sb) = self.open_fresh("n1").await?;
        let p = listeners.tcp4_port;
        let u = listeners.udp_port;
        let mut attacks: Vec<(&str, String)> = vec![
            (
                "tcp 127.0.0.1",
                format!("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{p}'"),
            ),
            ("tcp 127.0.0.1", format!("exec 3<>/dev/tcp/127.0.0.1/{p}")),
            (
                "tcp 127.0.0.1",
                format!("curl -s -m 3 http://127.0.0.1:{p}/"),
            ),
            ("tcp 127.0.0.1", format!("nc -z -w 2 127.0.0.1 {p}")),
            (
                "tcp 127.0.0.1",
                format!(
                    "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {p}), 3)'"
                ),
            ),
            (
                "tcp 127.0.0.1",
                format!(
                    "perl -MIO::Socket::INET -e 'IO::Socket::INET->new(PeerAddr => \"127.0.0.1:{p}\", Timeout => 3) or exit 1'"
                ),
            ),
            (
                "udp 127.0.0.1",
                format!("bash -c 'echo x > /dev/udp/127.0.0.1/{u}'"),
            ),
            (
                "udp 127.0.0.1",
                format!(
                    "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b\"x\", (\"127.0.0.1\", {u}))'"
                ),
            ),
            (
                "abstract unix socket",
                format!(
                    "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"\\0{}\")'",
                    listeners.abstract_name
                ),
            ),
        ];
        if let Some(q) = listeners.tcp6_port {
            attacks.extend([
                ("tcp ::1", format!("bash -c 'exec 3<>/dev/tcp/::1/{q}'")),
                ("tcp ::1", format!("curl -s -m 3 'http://[::1]:{q}/'")),
                ("tcp ::1", format!("nc -6 -z -w 2 ::1 {q}")),
                (
                    "tcp ::1",
                    format!(
                        "python3 -c 'import socket; socket.create_connection((\"::1\", {q}), 3)'"
                    ),
                ),
            ]);
        }
        let mut reasons = Vec::new();
        let mut last = 0;
        for (target, command) in &attacks {
            let a = attempt(sb.as_ref(), req(command.as_str(), QUICK)).await;
            if broke(&a) {
                reasons.push(attempt_note(command, &a));
            }
            // Give the accept loops a moment to see a connection that did get through.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = listeners.total();
            if now > last {
                reasons.push(format!(
                    "`{}` reached the host's {target} listener",
                    short(command)
                ));
                last = now;
            }
        }
        let _ = sb.close().await;
        let has_v6 = listeners.tcp6_port.is_some();
        listeners.stop();
        Ok(verdict(&reasons, || {
            let six = if has_v6 { "" } else { " (no ::1 on this host)" };
            format!("{} attempts, nothing accepted{six}", attacks.len())
        }))
    }

    /// R1: a fork bomb is contained; the host still spawns; nothing is left running.
    async fn r1(&self) -> RowResult {
        self.gate()?;
        let (_root, sb) = self.open_fresh("r1").await?;
        let marker = format!("ATLAS-R1-{}", random_token());
        let command = format!(": {marker}; bomb() {{ bomb | bomb & }}; bomb; sleep 5");
        let a = attempt(sb.as_ref(), req(command, Duration::from_secs(2))).await;
        let _ = sb.close().await;
        let mut reasons = leaks(&[("fork bomb".to_owned(), a)], &[]);
        let responsive = check_host_responsive(&mut reasons).await;
        let leftovers = wait_for_no_marker(&marker, Duration::from_secs(5)).await;
        if leftovers > 0 {
            reasons.push(format!(
                "{leftovers} fork-bomb processes still running 5 s later"
            ));
        }
        Ok(verdict(&reasons, || {
            let took = responsive.map(|d| d.as_millis()).unwrap_or_default();
            format!("host `true` took {took} ms; no process left")
        }))
    }

    /// R2: a memory bomb fails or times out; the host stays fine.
    async fn r2(&self) -> RowResult {
        self.gate()?;
        let (_root, sb) = self.open_fresh("r2").await?;
        let rss_before = rss_kib();
        // (command, what its stdout shows if the bomb went through unlimited). Pipelines report
        // their last stage's status, so success is judged by the byte count, not the exit code.
        let bombs: [(&str, &str); 3] = [
            ("head -c 4G /dev/zero | tail | wc -c", "4294967296"),
            (
                "s=x; i=0; while [ $i -lt 30 ]; do s=\"$s$s\"; i=$((i+1)); done; echo ${#s}",
                "1073741824",
            ),
            (
                "awk 'BEGIN { s = \"x\"; while (1) s = s s }'; echo awk=$?",
                "awk=0",
            ),
        ];
        let commands = bombs.map(|(c, _)| c);
        let results = run_all_and_close(sb, &commands, QUICK).await;
        let mut reasons = leaks(&results, &[]);
        for ((c, a), (_, through)) in results.iter().zip(bombs) {
            if let Attempt::Ran(o) = a
                && o.stdout_str().trim() == through
            {
                reasons.push(format!(
                    "`{}` completed: the memory was not limited",
                    short(c)
                ));
            }
        }
        check_host_memory(rss_before, &mut reasons);
        check_host_responsive(&mut reasons).await;
        Ok(verdict(&reasons, || attempt_notes(&results)))
    }

    /// R3: `sleep 1000` and a CPU loop are killed at a 1 s timeout with exit 124.
    async fn r3(&self) -> RowResult {
        let (_root, sb) = self.open_fresh("r3").await?;
        let timeout = Duration::from_secs(1);
        let limit = timeout + self.opts.timeout_slack;
        let mut reasons = Vec::new();
        let mut took_all = Vec::new();
        for command in ["sleep 1000", "while :; do :; done"] {
            let start = Instant::now();
            let a = attempt(sb.as_ref(), req(command, timeout)).await;
            let took = start.elapsed();
            took_all.push(format!("{:.2} s", took.as_secs_f64()));
            match &a {
                Attempt::Ran(o) if o.exit_code == TIMEOUT_EXIT_CODE && o.timed_out => {
                    if took > limit {
                        reasons.push(format!(
                            "`{command}` returned after {took:?} (limit {limit:?})"
                        ));
                    }
                }
                other => reasons.push(format!(
                    "`{command}` gave {} instead of exit 124 timed out",
                    other.summary()
                )),
            }
        }
        let _ = sb.close().await;
        Ok(verdict(&reasons, || {
            format!("both killed with 124 after {}", took_all.join(" and "))
        }))
    }

    /// R4: `yes` and `cat /dev/zero` are capped with the notice; our memory stays bounded.
    async fn r4(&self) -> RowResult {
        let (_root, sb) = self.open_fresh("r4").await?;
        let cap = 64 * 1024;
        let notice = atlas_sandbox_sdk::truncation_notice(cap);
        let rss_before = rss_kib();
        let mut reasons = Vec::new();
        let mut notes = Vec::new();
        for command in ["yes", "cat /dev/zero"] {
            let start = Instant::now();
            let a = attempt(
                sb.as_ref(),
                ExecRequest::new(command)
                    .timeout(Duration::from_secs(10))
                    .max_output_bytes(cap),
            )
            .await;
            notes.push(format!(
                "`{command}`: {} in {:.2} s",
                a.summary(),
                start.elapsed().as_secs_f64()
            ));
            match &a {
                Attempt::Ran(o) => {
                    if o.stdout.len() > cap + notice.len() || o.stderr.len() > cap + notice.len() {
                        reasons.push(format!(
                            "`{command}` returned {} bytes for a cap of {cap}",
                            o.stdout.len()
                        ));
                    }
                    if o.stdout_truncated && !o.stdout.ends_with(notice.as_bytes()) {
                        reasons.push(format!("`{command}` was cut without the notice"));
                    }
                    if command == "yes" && o.exit_code != 127 && !o.stdout_truncated {
                        reasons.push("`yes` was not reported as truncated".into());
                    }
                }
                Attempt::Refused(_) => {}
                other => reasons.push(format!("`{command}`: {}", other.summary())),
            }
        }
        let _ = sb.close().await;
        check_host_memory(rss_before, &mut reasons);
        Ok(verdict(&reasons, || notes.join(", ")))
    }

    /// R5: filling /tmp with data or inodes is stopped and never reaches the host's /tmp.
    async fn r5(&self) -> RowResult {
        self.gate()?;
        let (_root, sb) = self.open_fresh("r5").await?;
        let marker = format!("atlas-fill-{}", random_token());
        let commands = [
            format!("head -c 20G /dev/zero > /tmp/{marker}-data; echo status=$?"),
            format!(
                "i=0; while : > /tmp/{marker}-inode-$i; do i=$((i+1)); done; echo stopped at $i"
            ),
        ];
        let results = run_all(sb.as_ref(), &commands, Duration::from_secs(4)).await;
        let _ = attempt(
            sb.as_ref(),
            req(format!("rm -rf /tmp/{marker}-*"), Duration::from_secs(20)),
        )
        .await;
        let _ = sb.close().await;
        let mut reasons = leaks(&results, &[]);
        let host_tmp = std::env::temp_dir();
        let mut on_host = 0;
        for dir in [PathBuf::from("/tmp"), host_tmp] {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with(&marker) {
                        on_host += 1;
                        // Our own attack's debris, by its unique name.
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        if on_host > 0 {
            reasons.push(format!(
                "{on_host} files of the attack appeared in the host's /tmp"
            ));
        }
        check_host_responsive(&mut reasons).await;
        Ok(verdict(&reasons, || attempt_notes(&results)))
    }

    /// R6: a 1 MB command is a clear error (or a faithful result); binary bytes come back exact.
    async fn r6(&self) -> RowResult {
        let (_root, sb) = self.open_fresh("r6").await?;
        let mut reasons = Vec::new();
        let payload = "a".repeat(1024 * 1024);
        match attempt(
            sb.as_ref(),
            req(format!("echo {payload}"), Duration::from_secs(10)),
        )
        .await
        {
            Attempt::Refused(e) if e.kind() == ErrorKind::InvalidRequest => {}
            Attempt::Ran(o) if o.success() && o.stdout == format!("{payload}\n").as_bytes() => {}
            other => reasons.push(format!(
                "a 1 MB command gave {} (expected Err(InvalidRequest) or a faithful echo)",
                clip(&other.summary(), 120)
            )),
        }
        let all_bytes: String = (0u8..=255).map(|b| format!("\\{b:03o}")).collect();
        let expected: Vec<u8> = (0u8..=255).collect();
        let checks: Vec<(String, Vec<u8>, &str)> = vec![
            (
                format!("printf '{all_bytes}'"),
                expected,
                "all 256 byte values",
            ),
            (
                "printf '\\303\\050\\377\\376'".to_owned(),
                vec![0xc3, 0x28, 0xff, 0xfe],
                "invalid UTF-8",
            ),
            (
                "printf '%s' 'a\u{1}\u{7f}b'".to_owned(),
                b"a\x01\x7fb".to_vec(),
                "control bytes in the command",
            ),
        ];
        for (command, want, what) in &checks {
            match attempt(sb.as_ref(), req(command.as_str(), QUICK)).await {
                Attempt::Ran(o) if &o.stdout == want => {}
                Attempt::Ran(o) => reasons.push(format!(
                    "{what}: got {} bytes, not the {} expected",
                    o.stdout.len(),
                    want.len()
                )),
                other => reasons.push(format!("{what}: {}", other.summary())),
            }
        }
        let _ = sb.close().await;
        Ok(verdict(&reasons, || {
            "1 MB command refused or echoed; 256 byte values, invalid UTF-8 and control bytes exact"
                .into()
        }))
    }

    /// T1: needs the host killed, which this process cannot do to itself.
    async fn t1(&self) -> RowResult {
        if let Some(hook) = &self.opts.t1_hook {
            return (hook.0)().await.map(held);
        }
        let by = self
            .opts
            .t1_covered_by
            .as_deref()
            .unwrap_or("nothing: the backend must test it separately");
        Ok(Outcome::Skipped(format!(
            "not applicable here: killing the host cannot be done in-process; covered by {by}"
        )))
    }

    /// T2: many sessions leave no processes and no temporary directories behind.
    async fn t2(&self) -> RowResult {
        let root = self
            .ws
            .fresh_layer("t2")
            .map_err(|e| format!("cannot copy the layer: {e}"))?;
        let me = std::process::id() as i32;
        let procs_before = descendants(me);
        let dirs_before: Vec<usize> = self
            .opts
            .watch_temp_dirs
            .iter()
            .map(|d| count_entries(d))
            .collect();
        let mut reasons = Vec::new();
        let n = self.opts.t2_sessions;
        let start = Instant::now();
        for i in 0..n {
            let sb = match self.open(&root).await {
                Ok(sb) => sb,
                Err(e) => {
                    reasons.push(format!("session {i}: {e}"));
                    break;
                }
            };
            match attempt(sb.as_ref(), req("echo t2", Duration::from_secs(10))).await {
                Attempt::Ran(o) if o.stdout == b"t2\n" => {}
                other => reasons.push(format!("session {i}: `echo t2` gave {}", other.summary())),
            }
            if let Err(e) = sb.close().await {
                reasons.push(format!("session {i}: close failed: {e}"));
            }
            if reasons.len() > 3 {
                break;
            }
        }
        let took = start.elapsed();
        // Processes may take a moment to be reaped after close.
        let settle = Instant::now() + Duration::from_secs(5);
        let leaked = loop {
            let leaked = descendants(me)
                .into_values()
                .filter(|p| !procs_before.contains_key(&p.pid) && p.state != 'Z')
                .map(|p| {
                    format!(
                        "{} ({})",
                        p.pid,
                        String::from_utf8_lossy(&p.cmdline)
                            .replace('\0', " ")
                            .trim()
                    )
                })
                .collect::<Vec<_>>();
            if leaked.is_empty() || Instant::now() > settle {
                break leaked;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        if !leaked.is_empty() {
            reasons.push(format!(
                "{} processes leaked: {}",
                leaked.len(),
                leaked.join(", ")
            ));
        }
        for (dir, before) in self.opts.watch_temp_dirs.iter().zip(dirs_before) {
            let after = count_entries(dir);
            if after > before {
                reasons.push(format!(
                    "{} holds {} entries more than before",
                    dir.display(),
                    after - before
                ));
            }
        }
        Ok(verdict(&reasons, || {
            format!(
                "{n} sessions in {:.1} s; no process or temp entry left ({} dirs watched)",
                took.as_secs_f64(),
                self.opts.watch_temp_dirs.len()
            )
        }))
    }
}

fn count_entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn parent_display(p: &Path) -> String {
    p.parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

fn short(command: &str) -> String {
    clip(command, 70)
}

fn clip(s: &str, max: usize) -> String {
    crate::contract::clip(s, max)
}

/// Our memory must not grow by more than this while a sandbox produces unbounded output.
const MAX_RSS_GROWTH_KIB: u64 = 256 * 1024;

fn check_host_memory(before: u64, reasons: &mut Vec<String>) {
    let after = rss_kib();
    if after > before + MAX_RSS_GROWTH_KIB {
        reasons.push(format!(
            "the test process grew from {} MiB to {} MiB",
            before / 1024,
            after / 1024
        ));
    }
}

/// The distinctive `KEY=value` entries of a process environment file such as
/// `/proc/1/environ`: variables a sandbox's own processes commonly have too (`PATH`, `HOME`, ...)
/// and short values are left out, so only the host's own settings count.
fn distinctive_environ(path: &str) -> Vec<Vec<u8>> {
    const COMMON: &[&str] = &[
        "PATH",
        "HOME",
        "HOSTNAME",
        "TERM",
        "LANG",
        "LANGUAGE",
        "SHLVL",
        "PWD",
        "OLDPWD",
        "USER",
        "LOGNAME",
        "SHELL",
        "container",
        "DEBIAN_FRONTEND",
        "_",
        "TZ",
        "TMPDIR",
        "TMP",
        "TEMP",
        "MAIL",
        "EDITOR",
        "PAGER",
        "COLUMNS",
        "LINES",
    ];
    let Ok(raw) = std::fs::read(path) else {
        return Vec::new();
    };
    raw.split(|b| *b == 0)
        .filter(|e| {
            let text = String::from_utf8_lossy(e);
            match text.split_once('=') {
                Some((k, v)) => !COMMON.contains(&k) && !k.starts_with("LC_") && v.len() >= 6,
                None => false,
            }
        })
        .map(<[u8]>::to_vec)
        .collect()
}

/// Waits until no live process carries `marker`; kills what is left (our own attack's
/// processes, found by their unique marker) and returns how many there were.
async fn wait_for_no_marker(marker: &str, patience: Duration) -> usize {
    let until = Instant::now() + patience;
    loop {
        let left = processes_with_marker(marker);
        if left.is_empty() {
            return 0;
        }
        if Instant::now() > until {
            for p in &left {
                kill_pid(p.pid).await;
            }
            return left.len();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn build_f3_layer(
    base: &Path,
    root: &Path,
    canary_file: &Path,
    canary: &str,
) -> std::io::Result<()> {
    use std::os::unix::fs::symlink;
    std::fs::create_dir_all(root.join("entities"))?;
    std::fs::copy(
        example_layer().join("catalog.yml"),
        root.join("catalog.yml"),
    )?;
    std::fs::copy(
        example_layer().join("entities/orders.yml"),
        root.join("entities/orders.yml"),
    )?;
    let evil = base.join("semantic_evil");
    std::fs::create_dir_all(&evil)?;
    std::fs::write(evil.join("leak.yml"), format!("leaked: {canary}\n"))?;
    std::fs::write(base.join("secret.txt"), format!("{canary}\n"))?;
    let depth = "../".repeat(20);
    let canary_rel = canary_file.display().to_string();
    symlink(canary_file, root.join("evil_abs.yml"))?;
    symlink("../secret.txt", root.join("evil_rel.yml"))?;
    symlink(
        format!("{depth}{}", canary_rel.trim_start_matches('/')),
        root.join("deep_rel.yml"),
    )?;
    symlink("../semantic_evil", root.join("evil_dir"))?;
    symlink(&evil, root.join("evil_abs_dir"))?;
    symlink(format!("{depth}etc"), root.join("etc_link"))?;
    symlink("loop_b", root.join("loop_a"))?;
    symlink("loop_a", root.join("loop_b"))?;
    symlink(".", root.join("self"))?;
    Ok(())
}

/// Swaps `race.yml` and `sub/` of a layer for symlinks out of it, over and over, on a thread.
struct Swapper {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Swapper {
    fn start(root: PathBuf, canary_file: PathBuf, evil_dir: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicUsize::new(0));
        let (s, n) = (stop.clone(), swaps.clone());
        let thread = std::thread::spawn(move || {
            use std::os::unix::fs::symlink;
            let race = root.join("race.yml");
            let sub = root.join("sub");
            let sub_real = root.join(".sub_real");
            while !s.load(Ordering::Relaxed) {
                let lnk = root.join(".race_lnk");
                let _ = symlink(&canary_file, &lnk);
                let _ = std::fs::rename(&lnk, &race);
                let _ = std::fs::rename(&sub, &sub_real);
                let _ = symlink(&evil_dir, &sub);
                std::thread::sleep(Duration::from_micros(300));
                let tmp = root.join(".race_tmp");
                let _ = std::fs::write(&tmp, "race: ok\n");
                let _ = std::fs::rename(&tmp, &race);
                let _ = std::fs::remove_file(&sub);
                let _ = std::fs::rename(&sub_real, &sub);
                n.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(300));
            }
        });
        Swapper {
            stop,
            swaps,
            thread: Some(thread),
        }
    }

    /// Waits until the thread has swapped once (it may start late on a busy machine).
    fn wait_first_swap(&self, patience: Duration) -> bool {
        let until = Instant::now() + patience;
        while self.swaps.load(Ordering::Relaxed) == 0 {
            if Instant::now() > until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Stops the thread and returns how many swap cycles it made.
    fn stop(mut self) -> usize {
        self.halt();
        self.swaps.load(Ordering::Relaxed)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Host listeners that count every connection or datagram they receive.
struct Listeners {
    tcp4_port: u16,
    tcp6_port: Option<u16>,
    udp_port: u16,
    abstract_name: String,
    count: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Listeners {
    async fn start() -> std::io::Result<Self> {
        let count = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        let tcp4 = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let tcp4_port = tcp4.local_addr()?.port();
        tasks.push(accept_tcp(tcp4, count.clone()));
        let tcp6_port = match tokio::net::TcpListener::bind("[::1]:0").await {
            Ok(l) => {
                let port = l.local_addr()?.port();
                tasks.push(accept_tcp(l, count.clone()));
                Some(port)
            }
            Err(_) => None,
        };
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
        let udp_port = udp.local_addr()?.port();
        let c = count.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = [0u8; 64];
            while udp.recv_from(&mut buf).await.is_ok() {
                c.fetch_add(1, Ordering::SeqCst);
            }
        }));
        let abstract_name = format!("atlas-testkit-{}", random_token());
        {
            use std::os::linux::net::SocketAddrExt;
            let addr =
                std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())?;
            let std_listener = std::os::unix::net::UnixListener::bind_addr(&addr)?;
            std_listener.set_nonblocking(true)?;
            let listener = tokio::net::UnixListener::from_std(std_listener)?;
            let c = count.clone();
            tasks.push(tokio::spawn(async move {
                while listener.accept().await.is_ok() {
                    c.fetch_add(1, Ordering::SeqCst);
                }
            }));
        }
        Ok(Listeners {
            tcp4_port,
            tcp6_port,
            udp_port,
            abstract_name,
            count,
            tasks,
        })
    }

    fn total(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

fn accept_tcp(
    listener: tokio::net::TcpListener,
    count: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            count.fetch_add(1, Ordering::SeqCst);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hidden_echo_never_contains_the_word() {
        let cmd = hidden_echo("SENTINEL-SIGNALLED");
        assert!(!cmd.contains("SENTINEL-SIGNALLED"), "{cmd}");
        let out = atlas_sandbox_sdk::process::run(&host_program("sh").arg("-c").arg(&cmd))
            .await
            .unwrap();
        assert_eq!(out.output.stdout, b"SENTINEL-SIGNALLED\n");
    }

    #[tokio::test]
    async fn sentinel_is_found_and_dies_with_its_guard() {
        let s = Sentinel::spawn().await.unwrap();
        assert!(s.alive());
        let marker = s.marker.clone();
        assert_ne!(s.dead_pid, Some(s.pid()));
        drop(s);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(processes_with_marker(&marker).is_empty());
    }

    #[test]
    fn every_row_of_the_checklist_is_listed() {
        let ids: Vec<&str> = ROWS.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            [
                "F1", "F2", "F3", "F4", "F5", "P1", "P2", "I1", "N1", "R1", "R2", "R3", "R4", "R5",
                "R6", "T1", "T2"
            ]
        );
    }

    /// The checklist readers are pointed at is the one the battery runs: same rows, same ids.
    #[test]
    fn the_checklist_in_docs_has_exactly_the_battery_rows() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/escape-checklist.md"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let documented: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("| ")?.split_once(" |").map(|(id, _)| id))
            .filter(|id| id.len() == 2 && id.as_bytes()[1].is_ascii_digit())
            .collect();
        let battery: Vec<&str> = ROWS.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            documented, battery,
            "docs/escape-checklist.md vs escape::ROWS"
        );
    }

    #[test]
    fn f3_layer_has_every_kind_of_hostile_link() {
        let tmp = tempfile::tempdir().unwrap();
        let canary = tmp.path().join("c.txt");
        std::fs::write(&canary, "C").unwrap();
        let base = tmp.path().join("f3");
        build_f3_layer(&base, &base.join("semantic"), &canary, "C").unwrap();
        let read = |name: &str| std::fs::read_to_string(base.join("semantic").join(name));
        // From the host, the links really do point out: the battery's attack is real.
        assert_eq!(read("evil_abs.yml").unwrap(), "C");
        assert_eq!(read("evil_rel.yml").unwrap(), "C\n");
        assert_eq!(read("deep_rel.yml").unwrap(), "C");
        assert!(read("evil_dir/leak.yml").unwrap().contains("leaked"));
        assert!(read("loop_a").is_err());
    }
}
