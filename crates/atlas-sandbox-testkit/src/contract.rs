//! The contract suite: does a backend behave like `bash -c` with GNU coreutils?
//!
//! The suite copies the example layer to a temporary directory (the "host semantic root"),
//! creates one sandbox over it with the factory, and runs the cases below. Expected stdout is
//! not written down: it is what the real `/bin/bash` prints when it runs the same command in the
//! host semantic root with `LC_ALL=C`, measured at test time. Without `/bin/bash` those cases are
//! skipped (loudly); the cases with fixed expectations still run.
//!
//! | case | checks |
//! |---|---|
//! | `ls`, `ls -la`, `cat ...`, `grep ...`, `find ...`, `head ... \| sort`, `wc -l ...`, `&&` | stdout and exit code equal real bash's (`ls -la`: names and types only; `find`/`grep -r` without `sort`: order-insensitive unless [`ContractOptions::shares_host_filesystem`]) |
//! | `cwd entities`, `pwd` | the request's cwd is honoured; `pwd` prints [`ContractOptions::semantic_root`] |
//! | `exit 0/1/2/127` | `ls catalog.yml`, `grep nomatch catalog.yml`, `ls /nonexistent-dir`, `nosuchcmd` |
//! | `stderr ...` | `ls missing 1>/dev/null` and `echo err >&2` write to stderr only |
//! | `bash-only syntax` | [`BASH_ONLY`] (`set -o pipefail`, an array, `[[ ]]`, `<<<`) prints `Y` and `pipefail=1`: the backend runs bash, not sh |
//! | `timeout` | `sleep 30` with a 1 s timeout: exit 124, `timed_out`, returns within 1 s + slack |
//! | `output cap` | 12 KB of output with a 1000-byte cap: truncated flag, the SDK's notice, a true prefix |
//! | `endless output` | an endless `echo` loop (stderr and stdout) with a 1000-byte cap and a 60 s timeout is stopped for its output, not its deadline: both truncated, not `timed_out` |
//! | `non-UTF-8 output` | `printf '\377\376ok\n'` comes back byte for byte |
//! | `validation ...` | a 4001-character command and a cwd outside the root are `Err(InvalidRequest)` |
//! | `writes` | `echo x > catalog.yml; rm entities/orders.yml; touch new.yml` leave the host files byte-identical |
//! | `close twice`, `exec after close` | `close()` is idempotent; `exec` after it is an `Err` |

use std::path::Path;
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{
    ErrorKind, ExecOutput, ExecRequest, MAX_COMMAND_CHARS, Sandbox, SemanticLayer,
    TIMEOUT_EXIT_CODE, truncation_notice,
};

use crate::host::{Attempt, attempt, diff, real_bash, snapshot};
use crate::report::{Outcome, Report, Suite};
use crate::{SandboxFactory, example_layer};

/// How a backend is expected to behave.
#[derive(Debug, Clone)]
pub struct ContractOptions {
    /// The path of the semantic root inside the sandbox (`"/semantic"`, `"/home/user/semantic"`);
    /// `None` when it differs per sandbox (a temporary directory), which skips the `pwd` case.
    pub semantic_root: Option<String>,
    /// The sandbox reads the host's files in place (a bind mount), so `find` and `grep -r` list
    /// them in the host's directory order: their output must equal bash's byte for byte.
    /// Otherwise those two are compared ignoring line order.
    pub shares_host_filesystem: bool,
    /// Writes succeed inside the sandbox (into a private copy or overlay). When `false`, a write
    /// must fail. Either way the host's files must not change.
    pub supports_writes: bool,
    /// How much longer than its 1 s timeout the `timeout` case may take.
    pub timeout_slack: Duration,
    /// Cases the backend cannot run, with the reason: `(case id, why)`.
    pub skip: Vec<(String, String)>,
}

impl Default for ContractOptions {
    fn default() -> Self {
        ContractOptions {
            semantic_root: None,
            shares_host_filesystem: false,
            supports_writes: false,
            timeout_slack: Duration::from_secs(1),
            skip: Vec::new(),
        }
    }
}

impl ContractOptions {
    /// The defaults: root unknown, own filesystem, read-only, 1 s of timeout slack.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`ContractOptions::semantic_root`].
    #[must_use]
    pub fn semantic_root(mut self, path: impl Into<String>) -> Self {
        self.semantic_root = Some(path.into());
        self
    }

    /// Sets [`ContractOptions::shares_host_filesystem`].
    #[must_use]
    pub fn shares_host_filesystem(mut self, yes: bool) -> Self {
        self.shares_host_filesystem = yes;
        self
    }

    /// Sets [`ContractOptions::supports_writes`].
    #[must_use]
    pub fn supports_writes(mut self, yes: bool) -> Self {
        self.supports_writes = yes;
        self
    }

    /// Sets [`ContractOptions::timeout_slack`].
    #[must_use]
    pub fn timeout_slack(mut self, slack: Duration) -> Self {
        self.timeout_slack = slack;
        self
    }

    /// Declares that case `id` cannot run on this backend, and why.
    #[must_use]
    pub fn skip(mut self, id: impl Into<String>, why: impl Into<String>) -> Self {
        self.skip.push((id.into(), why.into()));
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Exact,
    /// Exact when the backend shares the host filesystem, else ignoring line order.
    DirOrder,
    /// `ls -l` style: the type letter and the name of each entry.
    LongListing,
}

/// What agents write and POSIX sh (dash) cannot run: `set -o pipefail`, an array, `[[ ]]` and a
/// here-string. Every backend runs `bash -c`, so this prints `Y` and `pipefail=1`.
pub const BASH_ONLY: &str = "set -o pipefail; a=(x y z); [[ ${#a[@]} -eq 3 && ${a[2]} == z ]] \
     && tr a-z A-Z <<< \"${a[1]}\"; false | true; echo \"pipefail=$?\"";

/// `cat` of [`crate::NON_ASCII_FILE`] (a unit test keeps the two in step).
const NON_ASCII_CAT: &str = "cat entities/markets.yml";

/// The explore commands compared with real bash: (id, command, cwd, comparison).
const EXPLORE: &[(&str, &str, &str, Compare)] = &[
    ("ls", "ls", "", Compare::Exact),
    ("ls -la", "ls -la", "", Compare::LongListing),
    ("cat catalog.yml", "cat catalog.yml", "", Compare::Exact),
    (
        "cat entities/orders.yml",
        "cat entities/orders.yml",
        "",
        Compare::Exact,
    ),
    (
        "grep -rn customer_id .",
        "grep -rn customer_id .",
        "",
        Compare::DirOrder,
    ),
    (
        "grep -c customer_id entities/orders.yml",
        "grep -c customer_id entities/orders.yml",
        "",
        Compare::Exact,
    ),
    (
        "find . -name '*.yml' | wc -l",
        "find . -name '*.yml' | wc -l",
        "",
        Compare::Exact,
    ),
    (
        "find . -name '*.yml' | sort",
        "find . -name '*.yml' | sort",
        "",
        Compare::Exact,
    ),
    (
        "find . -name '*.yml'",
        "find . -name '*.yml'",
        "",
        Compare::DirOrder,
    ),
    (
        "head -5 catalog.yml | sort",
        "head -5 catalog.yml | sort",
        "",
        Compare::Exact,
    ),
    (
        "wc -l glossary.yml",
        "wc -l glossary.yml",
        "",
        Compare::Exact,
    ),
    (
        "ls entities && cat catalog.yml | head -3",
        "ls entities && cat catalog.yml | head -3",
        "",
        Compare::Exact,
    ),
    (
        "ls groups/finance/entities",
        "ls groups/finance/entities",
        "",
        Compare::Exact,
    ),
    ("non-ASCII cat", NON_ASCII_CAT, "", Compare::Exact),
    (
        "non-ASCII grep",
        "grep -n '顧客' entities/markets.yml",
        "",
        Compare::Exact,
    ),
    (
        "cwd entities",
        "ls -1 && pwd | tail -c 10",
        "entities",
        Compare::Exact,
    ),
];

/// Runs the contract suite against the sandboxes `factory` creates.
///
/// `name` labels the report. The factory is called once, with a [`SemanticLayer`] over a private
/// copy of the example layer.
pub async fn run<F: SandboxFactory>(name: &str, factory: F, opts: ContractOptions) -> Report {
    let mut report = Report::new(Suite::Contract, name);
    let (_tmp, host_root) = match crate::copy_layer(&example_layer()) {
        Ok(x) => x,
        Err(e) => {
            let why = format!("cannot copy the example layer: {e}");
            report.push(
                "setup",
                "copy the example layer",
                Outcome::Failed(why),
                Duration::ZERO,
            );
            return report;
        }
    };
    let before = match snapshot(&host_root) {
        Ok(s) => s,
        Err(e) => {
            let why = format!("cannot read the layer copy: {e}");
            report.push(
                "setup",
                "snapshot the layer",
                Outcome::Failed(why),
                Duration::ZERO,
            );
            return report;
        }
    };
    let layer = match SemanticLayer::open(&host_root) {
        Ok(l) => l,
        Err(e) => {
            report.push(
                "setup",
                "open the layer",
                Outcome::Failed(e.to_string()),
                Duration::ZERO,
            );
            return report;
        }
    };
    let start = Instant::now();
    let sandbox = match factory.create(layer).await {
        Ok(s) => s,
        Err(e) => {
            report.push(
                "create",
                "create a sandbox over the example layer",
                Outcome::Failed(e.to_string()),
                start.elapsed(),
            );
            return report;
        }
    };
    let sb: &dyn Sandbox = sandbox.as_ref();
    let mut suite = Runner {
        report,
        opts: &opts,
    };

    for &(id, command, cwd, compare) in EXPLORE {
        let title = if cwd.is_empty() {
            "same stdout and exit code as bash".to_owned()
        } else {
            format!("same as bash in cwd {cwd}: `{command}`")
        };
        let started = Instant::now();
        let outcome = if let Some(why) = suite.skipped(id) {
            Outcome::Skipped(why)
        } else {
            explore_case(sb, &host_root, command, cwd, compare, &opts).await
        };
        suite.record(id, &title, outcome, started);
    }

    if let Some(root) = opts.semantic_root.clone() {
        let started = Instant::now();
        let outcome = match suite.skipped("pwd") {
            Some(why) => Outcome::Skipped(why),
            None => {
                let want = format!("{root}\n");
                match attempt(sb, ExecRequest::new("pwd")).await {
                    Attempt::Ran(o) if o.stdout == want.as_bytes() && o.success() => {
                        Outcome::Passed(String::new())
                    }
                    Attempt::Ran(o) => Outcome::Failed(format!(
                        "expected {want:?}, got {:?} (exit {})",
                        o.stdout_str(),
                        o.exit_code
                    )),
                    other => Outcome::Failed(other.summary()),
                }
            }
        };
        suite.record(
            "pwd",
            "`pwd` prints the in-sandbox semantic root",
            outcome,
            started,
        );
    } else {
        suite.record(
            "pwd",
            "`pwd` prints the in-sandbox semantic root",
            Outcome::Skipped("the in-sandbox semantic root differs per sandbox".into()),
            Instant::now(),
        );
    }

    let fixed: &[(&str, &str, i32, StreamRule)] = &[
        ("exit 0", "ls catalog.yml", 0, StreamRule::StdoutOnly),
        ("exit 1", "grep nomatch catalog.yml", 1, StreamRule::Silent),
        ("exit 2", "ls /nonexistent-dir", 2, StreamRule::StderrOnly),
        ("exit 127", "nosuchcmd", 127, StreamRule::StderrOnly),
        (
            "stderr: ls missing 1>/dev/null",
            "ls missing 1>/dev/null",
            2,
            StreamRule::StderrOnly,
        ),
        (
            "stderr: echo err >&2",
            "echo err >&2",
            0,
            StreamRule::Exact(b"", b"err\n"),
        ),
        (
            "bash-only syntax",
            BASH_ONLY,
            0,
            StreamRule::Exact(b"Y\npipefail=1\n", b""),
        ),
    ];
    for &(id, command, code, rule) in fixed {
        let started = Instant::now();
        let outcome = match suite.skipped(id) {
            Some(why) => Outcome::Skipped(why),
            None => fixed_case(sb, command, code, rule).await,
        };
        suite.record(id, &format!("`{command}` exits {code}"), outcome, started);
    }

    suite
        .case("timeout", "`sleep 30` with a 1 s timeout", || {
            timeout_case(sb, &opts)
        })
        .await;
    suite
        .case("output cap", "output past a 1000-byte cap", || {
            cap_case(sb, &host_root)
        })
        .await;
    suite
        .case(
            "endless output",
            "an endless writer is stopped by the cap, not the deadline",
            || endless_case(sb),
        )
        .await;
    suite
        .case(
            "non-UTF-8 output",
            "`printf '\\377\\376ok\\n'` is byte-exact",
            || bytes_case(sb),
        )
        .await;
    suite
        .case(
            "validation: 4001 chars",
            "a 4001-character command is Err(InvalidRequest)",
            || validation_case(sb, ExecRequest::new(long_command())),
        )
        .await;
    suite
        .case(
            "validation: cwd outside root",
            "cwd `../` is Err(InvalidRequest)",
            || validation_case(sb, ExecRequest::new("ls").cwd("../")),
        )
        .await;
    suite
        .case("writes", "writes never reach the host's files", || {
            writes_case(sb, &host_root, &before, &opts)
        })
        .await;
    suite
        .case("close twice", "close() twice is Ok", || async {
            match (sb.close().await, sb.close().await) {
                (Ok(()), Ok(())) => Outcome::Passed(String::new()),
                (Err(e), _) => Outcome::Failed(format!("first close: {e}")),
                (_, Err(e)) => Outcome::Failed(format!("second close: {e}")),
            }
        })
        .await;
    suite
        .case("exec after close", "exec after close() is Err", || async {
            match attempt(sb, ExecRequest::new("ls")).await {
                Attempt::Refused(e) => Outcome::Passed(format!("{}", e.kind())),
                other => Outcome::Failed(format!("expected an error, got {}", other.summary())),
            }
        })
        .await;
    suite.report
}

struct Runner<'a> {
    report: Report,
    opts: &'a ContractOptions,
}

impl Runner<'_> {
    fn skipped(&self, id: &str) -> Option<String> {
        self.opts
            .skip
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, why)| why.clone())
    }

    fn record(&mut self, id: &str, title: &str, outcome: Outcome, started: Instant) {
        self.report.push(id, title, outcome, started.elapsed());
    }

    async fn case<C, Fut>(&mut self, id: &str, title: &str, check: C)
    where
        C: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Outcome>,
    {
        let started = Instant::now();
        let outcome = match self.skipped(id) {
            Some(why) => Outcome::Skipped(why),
            None => check().await,
        };
        self.record(id, title, outcome, started);
    }
}

async fn explore_case(
    sb: &dyn Sandbox,
    host_root: &Path,
    command: &str,
    cwd: &str,
    compare: Compare,
    opts: &ContractOptions,
) -> Outcome {
    let expected = match real_bash(command, &host_root.join(cwd)).await {
        None => {
            return Outcome::Skipped(format!(
                "expectations unavailable: {} not found",
                crate::host::BASH
            ));
        }
        Some(Err(e)) => {
            return Outcome::Skipped(format!("expectations unavailable: bash failed: {e}"));
        }
        Some(Ok(o)) => o,
    };
    let mut request = ExecRequest::new(command);
    if !cwd.is_empty() {
        request = request.cwd(cwd);
    }
    let got = match attempt(sb, request).await {
        Attempt::Ran(o) => o,
        other => return Outcome::Failed(other.summary()),
    };
    if got.exit_code != expected.exit_code {
        return Outcome::Failed(format!(
            "exit {} (bash: {}); stderr: {:?}",
            got.exit_code,
            expected.exit_code,
            clip(&got.stderr_str(), 200)
        ));
    }
    let compare = match compare {
        Compare::DirOrder if opts.shares_host_filesystem => Compare::Exact,
        c => c,
    };
    let verdict = match compare {
        Compare::Exact => compare_exact(&expected.stdout, &got.stdout),
        Compare::DirOrder => compare_unordered(&expected.stdout, &got.stdout),
        Compare::LongListing => compare_long_listing(&expected.stdout, &got.stdout),
    };
    match verdict {
        Ok(()) => Outcome::Passed(format!("{} bytes", got.stdout.len())),
        Err(why) => Outcome::Failed(why),
    }
}

/// Byte-exact comparison with a readable account of the first difference.
pub(crate) fn compare_exact(expected: &[u8], got: &[u8]) -> Result<(), String> {
    if expected == got {
        return Ok(());
    }
    let e_lines: Vec<&[u8]> = expected.split(|b| *b == b'\n').collect();
    let g_lines: Vec<&[u8]> = got.split(|b| *b == b'\n').collect();
    let n = e_lines
        .iter()
        .zip(&g_lines)
        .take_while(|(a, b)| a == b)
        .count();
    let show = |lines: &[&[u8]]| {
        lines
            .get(n)
            .map(|l| clip(&String::from_utf8_lossy(l), 100))
            .unwrap_or_else(|| "<end of output>".to_owned())
    };
    Err(format!(
        "stdout differs from bash at line {}: bash {:?}, got {:?} ({} vs {} bytes)",
        n + 1,
        show(&e_lines),
        show(&g_lines),
        expected.len(),
        got.len()
    ))
}

/// Same lines, any order.
pub(crate) fn compare_unordered(expected: &[u8], got: &[u8]) -> Result<(), String> {
    let mut e: Vec<&[u8]> = expected.split(|b| *b == b'\n').collect();
    let mut g: Vec<&[u8]> = got.split(|b| *b == b'\n').collect();
    e.sort_unstable();
    g.sort_unstable();
    if e == g {
        return Ok(());
    }
    let missing: Vec<String> = e
        .iter()
        .filter(|l| !g.contains(l))
        .take(3)
        .map(|l| clip(&String::from_utf8_lossy(l), 80))
        .collect();
    let extra: Vec<String> = g
        .iter()
        .filter(|l| !e.contains(l))
        .take(3)
        .map(|l| clip(&String::from_utf8_lossy(l), 80))
        .collect();
    Err(format!(
        "lines differ from bash (order ignored): missing {missing:?}, extra {extra:?} ({} vs {} lines)",
        e.len(),
        g.len()
    ))
}

/// `ls -l` output reduced to (type letter, name) per entry; owners, sizes and times vary.
fn long_listing(out: &[u8]) -> Vec<(char, String)> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.starts_with("total ") && !l.is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let kind = l.chars().next().unwrap_or('?');
            let name = if fields.len() >= 9 {
                fields[8..].join(" ")
            } else {
                format!("<unparsed: {l}>")
            };
            (kind, name)
        })
        .collect()
}

pub(crate) fn compare_long_listing(expected: &[u8], got: &[u8]) -> Result<(), String> {
    let e = long_listing(expected);
    let g = long_listing(got);
    if e == g {
        Ok(())
    } else {
        Err(format!(
            "entries (type, name) differ from bash: bash {e:?}, got {g:?}"
        ))
    }
}

#[derive(Debug, Clone, Copy)]
enum StreamRule {
    /// Output on stdout, nothing on stderr.
    StdoutOnly,
    /// Nothing on stdout, something on stderr.
    StderrOnly,
    /// Nothing at all.
    Silent,
    /// Exactly these bytes on (stdout, stderr).
    Exact(&'static [u8], &'static [u8]),
}

async fn fixed_case(sb: &dyn Sandbox, command: &str, code: i32, rule: StreamRule) -> Outcome {
    let o = match attempt(sb, ExecRequest::new(command)).await {
        Attempt::Ran(o) => o,
        other => return Outcome::Failed(other.summary()),
    };
    if o.exit_code != code {
        return Outcome::Failed(format!(
            "exit {} (expected {code}); stderr: {:?}",
            o.exit_code,
            clip(&o.stderr_str(), 200)
        ));
    }
    let ok = match rule {
        StreamRule::StdoutOnly => !o.stdout.is_empty() && o.stderr.is_empty(),
        StreamRule::StderrOnly => o.stdout.is_empty() && !o.stderr.is_empty(),
        StreamRule::Silent => o.stdout.is_empty() && o.stderr.is_empty(),
        StreamRule::Exact(out, err) => o.stdout == out && o.stderr == err,
    };
    if ok {
        Outcome::Passed(String::new())
    } else {
        Outcome::Failed(format!(
            "streams wrong for {rule:?}: stdout {:?}, stderr {:?}",
            clip(&o.stdout_str(), 100),
            clip(&o.stderr_str(), 100)
        ))
    }
}

async fn timeout_case(sb: &dyn Sandbox, opts: &ContractOptions) -> Outcome {
    let timeout = Duration::from_secs(1);
    let start = Instant::now();
    let got = attempt(sb, ExecRequest::new("sleep 30").timeout(timeout)).await;
    let took = start.elapsed();
    let Attempt::Ran(o) = got else {
        return Outcome::Failed(got.summary());
    };
    let limit = timeout + opts.timeout_slack;
    if o.exit_code != TIMEOUT_EXIT_CODE || !o.timed_out {
        Outcome::Failed(format!(
            "exit {}, timed_out {} (expected {TIMEOUT_EXIT_CODE}, true)",
            o.exit_code, o.timed_out
        ))
    } else if took > limit {
        Outcome::Failed(format!("returned after {took:?}, more than {limit:?}"))
    } else {
        Outcome::Passed(format!("returned after {:.2} s", took.as_secs_f64()))
    }
}

/// About 12 KB of numbered lines, with shell builtins only.
const CAP_COMMAND: &str =
    "i=0; while [ $i -lt 400 ]; do echo \"line $i of the output cap check\"; i=$((i+1)); done";
const CAP: usize = 1000;

async fn cap_case(sb: &dyn Sandbox, host_root: &Path) -> Outcome {
    let got = attempt(sb, ExecRequest::new(CAP_COMMAND).max_output_bytes(CAP)).await;
    let Attempt::Ran(o) = got else {
        return Outcome::Failed(got.summary());
    };
    let notice = truncation_notice(CAP);
    if !o.stdout_truncated {
        return Outcome::Failed(format!(
            "stdout_truncated is false ({} bytes returned)",
            o.stdout.len()
        ));
    }
    let Some(kept) = o.stdout.strip_suffix(notice.as_bytes()) else {
        return Outcome::Failed(format!(
            "stdout does not end with the notice {notice:?}: ...{:?}",
            clip_end(&o.stdout_str(), 80)
        ));
    };
    if kept.len() > CAP || kept.len() + 4 < CAP {
        return Outcome::Failed(format!("kept {} bytes for a cap of {CAP}", kept.len()));
    }
    let full = match real_bash(CAP_COMMAND, host_root).await {
        Some(Ok(full)) => full.stdout,
        // Without bash the prefix can still be checked against the known first line.
        _ => b"line 0 of the output cap check\n".to_vec(),
    };
    if !full.starts_with(kept) && !kept.starts_with(&full) {
        return Outcome::Failed("the kept bytes are not a prefix of the full output".into());
    }
    Outcome::Passed(format!("kept {} bytes + notice", kept.len()))
}

/// Writes to both streams until something stops it; builtins only, so every backend has it.
const ENDLESS_COMMAND: &str = "while :; do echo yyyyyyyyyyyyyyyy; echo zzzzzzzzzzzzzzzz >&2; done";

async fn endless_case(sb: &dyn Sandbox) -> Outcome {
    // The deadline is far away on purpose: a backend that only stops `yes` at its deadline fails
    // on `timed_out`, not on a measured time.
    let req = ExecRequest::new(ENDLESS_COMMAND)
        .max_output_bytes(CAP)
        .timeout(Duration::from_secs(60));
    let got = attempt(sb, req).await;
    let Attempt::Ran(o) = got else {
        return Outcome::Failed(got.summary());
    };
    if o.timed_out {
        return Outcome::Failed(format!(
            "ran until the deadline ({:.1} s): the output cap did not stop it",
            o.duration.as_secs_f64()
        ));
    }
    if !(o.stdout_truncated && o.stderr_truncated) {
        return Outcome::Failed(format!(
            "stdout_truncated {}, stderr_truncated {} (expected both)",
            o.stdout_truncated, o.stderr_truncated
        ));
    }
    if !o.stdout.starts_with(b"yyyyyyyyyyyyyyyy\n") || !o.stderr.starts_with(b"zzzzzzzzzzzzzzzz\n")
    {
        return Outcome::Failed(format!(
            "unexpected output: stdout {:?}..., stderr {:?}...",
            clip_end(&o.stdout_str(), 40),
            clip_end(&o.stderr_str(), 40)
        ));
    }
    Outcome::Passed(format!(
        "exit {} after {:.2} s",
        o.exit_code,
        o.duration.as_secs_f64()
    ))
}

async fn bytes_case(sb: &dyn Sandbox) -> Outcome {
    match attempt(sb, ExecRequest::new(r"printf '\377\376ok\n'")).await {
        Attempt::Ran(o) if o.stdout == [0xff, 0xfe, b'o', b'k', b'\n'] => {
            Outcome::Passed(String::new())
        }
        Attempt::Ran(o) => Outcome::Failed(format!("stdout bytes {:?}", o.stdout)),
        other => Outcome::Failed(other.summary()),
    }
}

fn long_command() -> String {
    let mut cmd = String::from("echo ");
    cmd.push_str(&"a".repeat(MAX_COMMAND_CHARS + 1 - cmd.len()));
    cmd
}

async fn validation_case(sb: &dyn Sandbox, request: ExecRequest) -> Outcome {
    match attempt(sb, request).await {
        Attempt::Refused(e) if e.kind() == ErrorKind::InvalidRequest => {
            Outcome::Passed(clip(&e.to_string(), 100))
        }
        Attempt::Refused(e) => Outcome::Failed(format!("error of kind {:?}: {e}", e.kind())),
        other => Outcome::Failed(format!(
            "expected Err(InvalidRequest), got {}",
            other.summary()
        )),
    }
}

async fn writes_case(
    sb: &dyn Sandbox,
    host_root: &Path,
    before: &crate::host::Tree,
    opts: &ContractOptions,
) -> Outcome {
    let mut results: Vec<(&str, Attempt)> = Vec::new();
    for command in [
        "echo x > catalog.yml",
        "rm entities/orders.yml",
        "touch new.yml",
    ] {
        results.push((command, attempt(sb, ExecRequest::new(command)).await));
    }
    let after = match snapshot(host_root) {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(format!("cannot re-read the host layer: {e}")),
    };
    let changes = diff(before, &after, 5);
    if !changes.is_empty() {
        return Outcome::Failed(format!("the host's files changed: {}", changes.join("; ")));
    }
    let exit = |a: &Attempt| a.output().map(|o: &ExecOutput| o.exit_code);
    let summary: Vec<String> = results
        .iter()
        .map(|(c, a)| format!("`{c}`: {}", a.summary()))
        .collect();
    if opts.supports_writes {
        if let Some((c, a)) = results.iter().find(|(_, a)| exit(a) != Some(0)) {
            return Outcome::Failed(format!(
                "supports_writes is set but `{c}` gave {}",
                a.summary()
            ));
        }
    } else if let Some((c, a)) = results.iter().find(|(_, a)| exit(a) == Some(0)) {
        return Outcome::Failed(format!(
            "supports_writes is false but `{c}` succeeded ({})",
            a.summary()
        ));
    }
    Outcome::Passed(summary.join(", "))
}

pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    } else {
        s.to_owned()
    }
}

fn clip_end(s: &str, max: usize) -> String {
    let n = s.chars().count();
    s.chars().skip(n.saturating_sub(max)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NON_ASCII_FILE;

    #[test]
    fn exact_comparison_names_the_first_differing_line() {
        assert!(compare_exact(b"a\nb\n", b"a\nb\n").is_ok());
        let e = compare_exact(b"a\nb\nc\n", b"a\nB\nc\n").unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("\"b\"") && e.contains("\"B\""),
            "{e}"
        );
    }

    #[test]
    fn unordered_comparison_ignores_order_only() {
        assert!(compare_unordered(b"./a\n./b\n", b"./b\n./a\n").is_ok());
        let e = compare_unordered(b"./a\n./b\n", b"./b\n./c\n").unwrap_err();
        assert!(e.contains("./a") && e.contains("./c"), "{e}");
    }

    #[test]
    fn long_listing_ignores_owner_size_and_time() {
        let a = b"total 8\ndrwxr-xr-x 2 root root 4096 Jan  1 10:00 .\n-rw-r--r-- 1 root root 12 Jan 1 10:00 a b.yml\n";
        let b = b"total 0\ndrwxr-xr-x 1 user user 0 Feb  2  2020 .\n-rw-r--r-- 1 user user 999 Feb 2 2020 a b.yml\n";
        assert!(compare_long_listing(a, b).is_ok());
        let c = b"drwxr-xr-x 1 u u 0 Feb 2 2020 .\nlrw-r--r-- 1 u u 9 Feb 2 2020 a b.yml\n";
        assert!(compare_long_listing(a, c).is_err());
    }

    #[test]
    fn non_ascii_case_reads_the_non_ascii_file() {
        assert_eq!(NON_ASCII_CAT, format!("cat {NON_ASCII_FILE}"));
        let text = std::fs::read_to_string(example_layer().join(NON_ASCII_FILE)).unwrap();
        assert!(!text.is_ascii());
    }

    #[test]
    fn long_command_is_one_past_the_limit() {
        assert_eq!(long_command().chars().count(), MAX_COMMAND_CHARS + 1);
    }
}
