//! The differential harness: the shell corpus on a backend against recorded real bash.
//!
//! `corpus/commands.txt` holds over a thousand one-line commands written the way language models
//! write them while exploring a semantic layer, grouped by command. `corpus/bash.json` holds
//! what `/bin/bash -c` + GNU tools printed for each over a pinned copy of the example layer at
//! [`ROOT`] (fixed modes and mtimes, [`RECORD_ENV`], [`PROLOGUE`]). [`run`] sends every command
//! to a backend over an identical pinned copy and compares stdout (byte for byte; readdir-order
//! walks as a multiset; `ls -l` owners excepted), the exit code, and whether stderr is empty.
//!
//! Each answer gets a [`Verdict`]: identical, refused (exit 2 with "not supported", or
//! `command not found`), error (the backend's own `Err`), or wrong. A backend's committed
//! baseline (`corpus/baseline/<backend>.txt`) is a ratchet: [`DiffReport::check_baseline`] fails
//! when a case gets worse (identical → anything else, anything → wrong) and lists what got better.
//!
//! Re-record bash (root, Linux, GNU tools; see docs/testing.md):
//! `ATLAS_RECORD_CORPUS=1 cargo test -p atlas-sandbox-testkit --test shell_corpus`.
//! Rewrite a baseline: `ATLAS_UPDATE_BASELINE=1` on the backend's differential test.

mod compare;
mod corpus;
mod record;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{ExecRequest, Sandbox, SemanticLayer};

pub use compare::{Verdict, is_quiet, is_refusal, is_unordered, judge, normalize};
pub use corpus::{
    Case, PROLOGUE, RECORD_ENV, ROOT, Recorded, Recording, corpus_dir, load_corpus, parse_corpus,
    pin_layer_copy, pinned_copy, script,
};
pub use record::record_bash;

use crate::SandboxFactory;

/// How to run the corpus on a backend.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// The layer's path inside the sandbox, when it is not [`ROOT`]: it is mapped back to
    /// [`ROOT`] in stdout before comparing.
    pub semantic_root: Option<String>,
    /// Ask every new sandbox where its layer is (`pwd` in the default working directory) and
    /// map that path back to [`ROOT`]: for backends whose root differs per sandbox (the cloud
    /// emulators keep each sandbox in its own host directory).
    pub discover_root: bool,
    /// A fresh sandbox for every command (cheap backends). Otherwise each worker reuses one
    /// sandbox, and only the commands of `[writes]` groups get one of their own.
    pub fresh_sandbox_per_case: bool,
    /// How many commands run at once (each worker with its own sandbox).
    pub concurrency: usize,
    /// The timeout of each command.
    pub timeout: Duration,
    /// Only the cases whose group is in this list (all when empty).
    pub groups: Vec<String>,
    /// Cases whose outcome this backend's test environment cannot hold steady, each `(text, why)`:
    /// a case whose command contains `text` is run and reported but never fails the baseline
    /// (a cloud emulator's `/` is the host's).
    pub unsteady: Vec<(String, String)>,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            semantic_root: None,
            discover_root: false,
            fresh_sandbox_per_case: true,
            concurrency: 1,
            // Every corpus command ends in well under a second on an idle machine; the timeout
            // only catches a hang. Debian's yq (Python) took 7 s to start on the shared 2-core
            // machine at load 26, so 10 s made a loaded run report timeouts as differences.
            timeout: Duration::from_secs(30),
            groups: Vec::new(),
            unsteady: Vec::new(),
        }
    }
}

impl DiffOptions {
    /// The defaults: root at [`ROOT`], a fresh sandbox per command, one at a time, 10 s each.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`DiffOptions::semantic_root`].
    #[must_use]
    pub fn semantic_root(mut self, root: impl Into<String>) -> Self {
        self.semantic_root = Some(root.into());
        self
    }

    /// Sets [`DiffOptions::discover_root`].
    #[must_use]
    pub fn discover_root(mut self, yes: bool) -> Self {
        self.discover_root = yes;
        self
    }

    /// Sets [`DiffOptions::fresh_sandbox_per_case`].
    #[must_use]
    pub fn fresh_sandbox_per_case(mut self, yes: bool) -> Self {
        self.fresh_sandbox_per_case = yes;
        self
    }

    /// Adds one [`DiffOptions::unsteady`] entry.
    #[must_use]
    pub fn unsteady(mut self, text: &str, why: &str) -> Self {
        self.unsteady.push((text.to_owned(), why.to_owned()));
        self
    }

    /// The unsteady cases of a cloud emulator: it runs every sandbox's commands on this host, so
    /// `/tmp` is the host's (shared by concurrent cases and by earlier runs) unless
    /// `private_tmp` (the emulator mounts a `/tmp` of its own for each sandbox), `/` is the host's
    /// (whether a `/semantic` is there depends on what ran on the machine before). The layer's
    /// file times and modes are not among them: every cloud backend restores those after its
    /// upload, on the emulators as on the vendors.
    #[must_use]
    pub fn cloud_emulator(self, private_tmp: bool) -> Self {
        const TMP: &str = "the emulator shares the host's /tmp between sandboxes and runs";
        const ROOT_DIR: &str = "the emulator's / is the host's, not the sandbox's";
        let o = self.unsteady("cd / ", ROOT_DIR);
        if private_tmp {
            o
        } else {
            o.unsteady("/tmp", TMP)
        }
    }

    /// Sets [`DiffOptions::concurrency`] (at least 1).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets [`DiffOptions::timeout`].
    #[must_use]
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// One command's outcome on the backend.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    /// Its group in the corpus.
    pub group: String,
    /// The command.
    pub command: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it is not identical (empty when it is).
    pub why: String,
}

/// The corpus run on one backend.
#[derive(Debug, Clone)]
pub struct DiffReport {
    /// The backend's name.
    pub backend: String,
    /// One outcome per corpus command, in corpus order.
    pub cases: Vec<CaseOutcome>,
    /// Wall-clock time of the whole run.
    pub elapsed: Duration,
    /// [`DiffOptions::unsteady`] of the run.
    pub unsteady: Vec<(String, String)>,
}

/// Runs the corpus on the backend `factory` creates, against `recording`.
///
/// # Panics
///
/// If the pinned copy of the layer cannot be made, or a corpus command was never recorded
/// (re-record: see the module documentation).
pub async fn run<F: SandboxFactory>(
    backend: &str,
    factory: F,
    recording: &Recording,
    opts: DiffOptions,
) -> DiffReport {
    let started = Instant::now();
    let corpus: Vec<Case> = load_corpus()
        .into_iter()
        .filter(|c| opts.groups.is_empty() || opts.groups.contains(&c.group))
        .collect();
    let (missing, _) = recording.mismatch(&corpus);
    assert!(
        missing.is_empty(),
        "{} corpus commands are not recorded (re-record bash.json): {:?}",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );
    let (_tmp, root) = pinned_copy().unwrap_or_else(|e| panic!("cannot pin a layer copy: {e}"));
    let layer = SemanticLayer::open(&root).unwrap_or_else(|e| panic!("{e}"));
    let next = AtomicUsize::new(0);
    let writes = tokio::sync::Mutex::new(());
    let ctx = RunCtx {
        writes: &writes,
        factory: &factory,
        layer: &layer,
        recording,
        opts: &opts,
        corpus: &corpus,
        next: &next,
    };
    // Workers pull the next case from one counter; they interleave on this task (every exec
    // waits on a child process or a socket), so a factory need not be `Send`.
    let workers = (0..opts.concurrency.max(1)).map(|_| ctx.worker());
    let mut outcomes: Vec<(usize, CaseOutcome)> = futures::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
        .collect();
    outcomes.sort_by_key(|(i, _)| *i);
    DiffReport {
        backend: backend.to_owned(),
        cases: outcomes.into_iter().map(|(_, c)| c).collect(),
        elapsed: started.elapsed(),
        unsteady: opts.unsteady.clone(),
    }
}

/// A sandbox and where its layer is.
struct Held {
    sandbox: Box<dyn Sandbox>,
    root: Option<String>,
}

struct RunCtx<'a, F> {
    /// Held while a `[writes]` case runs: they write fixed names (`/tmp/s.sh`), which on a
    /// backend sharing one `/tmp` among its sandboxes must not interleave.
    writes: &'a tokio::sync::Mutex<()>,
    factory: &'a F,
    layer: &'a SemanticLayer,
    recording: &'a Recording,
    opts: &'a DiffOptions,
    corpus: &'a [Case],
    next: &'a AtomicUsize,
}

impl<F: SandboxFactory> RunCtx<'_, F> {
    async fn worker(&self) -> Vec<(usize, CaseOutcome)> {
        let mut shared: Option<Held> = None;
        let mut done = Vec::new();
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(case) = self.corpus.get(i) else {
                break;
            };
            let Some(want) = self.recording.get(&case.command) else {
                continue;
            };
            let outcome = if self.opts.fresh_sandbox_per_case || case.writes {
                let _one_writer = if case.writes {
                    Some(self.writes.lock().await)
                } else {
                    None
                };
                match self.create().await {
                    Ok(held) => {
                        let r = exec_one(&held, case, want, self.opts).await;
                        let _ = held.sandbox.close().await;
                        r
                    }
                    Err(e) => error_outcome(case, format!("create: {e}")),
                }
            } else {
                if shared.is_none() {
                    match self.create().await {
                        Ok(held) => shared = Some(held),
                        Err(e) => {
                            done.push((i, error_outcome(case, format!("create: {e}"))));
                            continue;
                        }
                    }
                }
                match &shared {
                    Some(held) => exec_one(held, case, want, self.opts).await,
                    None => error_outcome(case, "no sandbox".to_owned()),
                }
            };
            done.push((i, outcome));
        }
        if let Some(held) = shared {
            let _ = held.sandbox.close().await;
        }
        done
    }

    async fn create(&self) -> Result<Held, String> {
        let sandbox = self
            .factory
            .create(self.layer.clone())
            .await
            .map_err(|e| e.to_string())?;
        let root = if self.opts.discover_root {
            let out = sandbox
                .exec(ExecRequest::new("pwd").timeout(self.opts.timeout))
                .await
                .map_err(|e| format!("pwd: {e}"))?;
            let pwd = out.stdout_str().trim_end_matches('\n').to_owned();
            if out.exit_code != 0 || !pwd.starts_with('/') {
                let _ = sandbox.close().await;
                return Err(format!("pwd printed {pwd:?} (exit {})", out.exit_code));
            }
            Some(pwd)
        } else {
            self.opts.semantic_root.clone()
        };
        Ok(Held { sandbox, root })
    }
}

async fn exec_one(held: &Held, case: &Case, want: &Recorded, opts: &DiffOptions) -> CaseOutcome {
    let command = compare::place_root(&case.command, held.root.as_deref());
    let request = ExecRequest::new(script(&command))
        .timeout(opts.timeout)
        .max_output_bytes(1 << 20);
    match held.sandbox.exec(request).await {
        Ok(out) => {
            let (verdict, why) = judge(
                want,
                &out.stdout,
                &out.stderr,
                out.exit_code,
                held.root.as_deref(),
            );
            CaseOutcome {
                group: case.group.clone(),
                command: case.command.clone(),
                verdict,
                why,
            }
        }
        Err(e) => error_outcome(case, e.to_string()),
    }
}

fn error_outcome(case: &Case, why: String) -> CaseOutcome {
    CaseOutcome {
        group: case.group.clone(),
        command: case.command.clone(),
        verdict: Verdict::Error,
        why,
    }
}

/// How a run compares with the committed baseline.
#[derive(Debug, Clone, Default)]
pub struct BaselineCheck {
    /// Cases that got worse: `(command, was, now, why)`.
    pub worse: Vec<(String, String, Verdict, String)>,
    /// Cases that got better: `(command, was, now)`.
    pub better: Vec<(String, String, Verdict)>,
    /// Cases that got worse but are unsteady on this backend: `(command, why)`.
    pub unsteady: Vec<(String, String)>,
}

impl DiffReport {
    /// How many cases got `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.cases.iter().filter(|c| c.verdict == verdict).count()
    }

    /// How many cases are silently wrong (wrong or flagged).
    pub fn silently_wrong(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| c.verdict.is_silently_wrong())
            .count()
    }

    /// `N/M identical, S silently wrong`, then the split of S, the refusals and backend errors.
    pub fn summary(&self) -> String {
        format!(
            "{}/{} identical, {} silently wrong ({} with no hint, {} with a refusal message but \
             not a clean refusal), {} refused, {} backend errors",
            self.count(Verdict::Identical),
            self.cases.len(),
            self.silently_wrong(),
            self.count(Verdict::Wrong),
            self.count(Verdict::Flagged),
            self.count(Verdict::Refused),
            self.count(Verdict::Error),
        )
    }

    /// Prints the summary line, a per-group table, and every case that is not identical.
    pub fn print(&self) {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\n== shell corpus on {} ({:.1?}) ==",
            self.backend, self.elapsed
        );
        let mut groups: BTreeMap<&str, [usize; 5]> = BTreeMap::new();
        for c in &self.cases {
            groups.entry(&c.group).or_default()[c.verdict as usize] += 1;
        }
        let _ = writeln!(
            s,
            "{:<34} {:>5} {:>5} {:>5} {:>5} {:>5}",
            "group", "ident", "refus", "error", "flag", "wrong"
        );
        for (g, n) in &groups {
            let [wrong, flagged, error, refused, identical] = *n;
            let _ = writeln!(
                s,
                "{g:<34} {identical:>5} {refused:>5} {error:>5} {flagged:>5} {wrong:>5}"
            );
        }
        for c in self
            .cases
            .iter()
            .filter(|c| c.verdict != Verdict::Identical)
        {
            let _ = writeln!(
                s,
                "{:<9} [{}] {}\n          {}",
                c.verdict.word().to_uppercase(),
                c.group,
                compare::clip(&c.command.replace('\n', "↵"), 120),
                c.why
            );
        }
        eprint!("{s}");
        // Straight to the process's stderr, past the test harness's capture: CI logs show it.
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("shell corpus on {}: {}\n", self.backend, self.summary()),
        );
    }

    /// The baseline file's text: one `verdict<TAB>command` line per case.
    pub fn baseline_text(&self) -> String {
        let mut s = format!(
            "# Shell corpus baseline of {}: {}\n# Rewrite with ATLAS_UPDATE_BASELINE=1 (see docs/testing.md). A case may only get better.\n",
            self.backend,
            self.summary()
        );
        for c in &self.cases {
            let _ = writeln!(s, "{}\t{}", c.verdict.word(), c.command.replace('\n', "↵"));
        }
        s
    }

    /// Compares with the baseline at `path`. A case is worse when its verdict went down the order
    /// identical > refused > error > flagged > wrong (so identical -> anything else, and anything
    /// -> silently wrong); a case missing from the baseline is worse only when silently wrong.
    pub fn compare_baseline(&self, path: &Path) -> Result<BaselineCheck, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the baseline {}: {e}", path.display()))?;
        let mut was: BTreeMap<String, Verdict> = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (word, cmd) = line
                .split_once('\t')
                .ok_or_else(|| format!("{}:{}: no tab", path.display(), n + 1))?;
            let v = Verdict::parse(word)
                .ok_or_else(|| format!("{}:{}: unknown verdict {word:?}", path.display(), n + 1))?;
            was.insert(cmd.replace('↵', "\n"), v);
        }
        let mut check = BaselineCheck::default();
        for c in &self.cases {
            let old = was.get(&c.command).copied();
            let worse = match old {
                Some(o) => c.verdict < o,
                None => c.verdict.is_silently_wrong(),
            };
            let old_word = old.map_or("absent", Verdict::word).to_owned();
            if let Some((_, why)) = self
                .unsteady
                .iter()
                .find(|(text, _)| c.command.contains(text.as_str()))
                && worse
            {
                check.unsteady.push((c.command.clone(), why.clone()));
            } else if worse {
                check
                    .worse
                    .push((c.command.clone(), old_word, c.verdict, c.why.clone()));
            } else if old.is_some_and(|o| c.verdict > o) {
                check.better.push((c.command.clone(), old_word, c.verdict));
            }
        }
        Ok(check)
    }

    /// The CI check: prints the report, rewrites the baseline when `ATLAS_UPDATE_BASELINE` is
    /// set, and otherwise panics if any case got worse than `corpus/baseline/<backend>.txt`.
    ///
    /// # Panics
    ///
    /// When a case regressed, or the baseline is missing or malformed.
    pub fn check_baseline(&self) {
        self.print();
        let path = baseline_path(&self.backend);
        if std::env::var_os("ATLAS_UPDATE_BASELINE").is_some() {
            std::fs::write(&path, self.baseline_text())
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            eprintln!("baseline rewritten: {}", path.display());
            return;
        }
        let check = self
            .compare_baseline(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        for (cmd, was, now) in &check.better {
            eprintln!(
                "BETTER than the baseline ({was} -> {}): {} (ratchet it: ATLAS_UPDATE_BASELINE=1)",
                now.word(),
                cmd.replace('\n', "↵")
            );
        }
        for (cmd, why) in &check.unsteady {
            eprintln!(
                "UNSTEADY here, not counted ({why}): {}",
                cmd.replace('\n', "↵")
            );
        }
        let worse: Vec<String> = check
            .worse
            .iter()
            .map(|(cmd, was, now, why)| {
                format!(
                    "  {was} -> {}: {}\n      {why}",
                    now.word(),
                    cmd.replace('\n', "↵")
                )
            })
            .collect();
        assert!(
            worse.is_empty(),
            "{} corpus case(s) on {} got worse than {}:\n{}",
            worse.len(),
            self.backend,
            path.display(),
            worse.join("\n")
        );
    }

    /// The check for a backend that runs real bash: prints the report and panics unless every
    /// case is identical, except the `known` differences, each `(command, why)`: a known case
    /// that became identical fails too, so the list only shrinks.
    ///
    /// # Panics
    ///
    /// When a case outside `known` differs, or a `known` case is identical or not in the corpus.
    pub fn assert_all_identical_except(&self, known: &[(&str, &str)]) {
        self.print();
        let is_known = |cmd: &str| known.iter().any(|(k, _)| *k == cmd);
        let off: Vec<String> = self
            .cases
            .iter()
            .filter(|c| c.verdict != Verdict::Identical && !is_known(&c.command))
            .map(|c| {
                format!(
                    "  {}: {}\n      {}",
                    c.verdict.word(),
                    c.command.replace('\n', "↵"),
                    c.why
                )
            })
            .collect();
        let stale: Vec<&str> = known
            .iter()
            .filter(|(k, _)| {
                !self
                    .cases
                    .iter()
                    .any(|c| c.command == *k && c.verdict != Verdict::Identical)
            })
            .map(|(k, _)| *k)
            .collect();
        assert!(
            off.is_empty(),
            "{} of {} corpus cases on {} differ from bash:\n{}",
            off.len(),
            self.cases.len(),
            self.backend,
            off.join("\n")
        );
        assert!(
            stale.is_empty(),
            "known differences on {} that are identical now (or gone from the corpus); \
             remove them from the list: {stale:?}",
            self.backend
        );
    }

    /// The silently-wrong cases, grouped: `group -> commands`.
    pub fn wrong_by_group(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for c in self.cases.iter().filter(|c| c.verdict.is_silently_wrong()) {
            m.entry(&c.group).or_default().push(&c.command);
        }
        m
    }

    /// The groups in the report.
    pub fn groups(&self) -> BTreeSet<&str> {
        self.cases.iter().map(|c| c.group.as_str()).collect()
    }
}

/// `corpus/baseline/<backend>.txt`.
pub fn baseline_path(backend: &str) -> PathBuf {
    corpus_dir().join("baseline").join(format!("{backend}.txt"))
}
