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
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{ExecRequest, Sandbox, SemanticLayer};
use futures::future::BoxFuture;

use crate::host::{
    Attempt, attempt, contains, host_program, host_responsive, processes_with_marker, random_token,
    unique_sleep_arg,
};
use crate::report::{Outcome, Report, Suite};
use crate::{SandboxFactory, copy_tree, example_layer};

// One module per section of the checklist; each adds its rows to `Ctx` and keeps the helpers
// only its rows use.
mod files;
mod information;
mod lifetime;
mod network;
mod privileges;
mod resources;

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
}

fn short(command: &str) -> String {
    clip(command, 70)
}

fn clip(s: &str, max: usize) -> String {
    crate::contract::clip(s, max)
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

#[cfg(test)]
mod tests {
    use super::files::build_f3_layer;
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
