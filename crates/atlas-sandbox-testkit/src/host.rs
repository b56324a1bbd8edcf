//! Host-side observation: real bash, the process table, memory, file trees, randomness.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::process::{ProcessSpec, run};
use atlas_sandbox_sdk::{Error, ExecOutput, ExecRequest, Sandbox};
use futures::FutureExt;

/// Where the reference shell lives.
pub(crate) const BASH: &str = "/bin/bash";

/// A hex token from the kernel's random source (unguessable by the command under test).
pub(crate) fn random_token() -> String {
    let mut buf = [0u8; 12];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if read.is_err() {
        // No /dev/urandom: fall back to something that still differs per run.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let seed = nanos ^ (u128::from(std::process::id()) << 64);
        buf.copy_from_slice(&seed.to_le_bytes()[..12]);
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `sleep` argument of `secs` seconds that no other process on the host carries:
/// `"<secs>.<12 random digits>"`.
pub(crate) fn unique_sleep_arg(secs: u32) -> String {
    let digits: String = random_token()
        .bytes()
        .map(|b| char::from(b'0' + b % 10))
        .take(12)
        .collect();
    format!("{secs}.{digits}")
}

/// Whether `needle` occurs in `hay`.
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && hay.len() >= needle.len()
        && hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs `command` with the real `/bin/bash` in `cwd` (LC_ALL=C, clean env), or `None` if there
/// is no bash here.
pub(crate) async fn real_bash(command: &str, cwd: &Path) -> Option<std::io::Result<ExecOutput>> {
    if !Path::new(BASH).exists() {
        return None;
    }
    let spec = ProcessSpec::new(BASH)
        .arg("-c")
        .arg(command)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LC_ALL", "C")
        .env("HOME", cwd)
        .cwd(cwd)
        .timeout(Duration::from_secs(20))
        .max_output_bytes(8 * 1024 * 1024);
    Some(run(&spec).await.map(|r| r.output))
}

/// The result of one exec attempt, with the backend's own failure kept as data.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// The command ran (any exit code).
    Ran(ExecOutput),
    /// The backend returned an error.
    Refused(Error),
    /// The backend did not answer within the request's timeout plus the grace.
    Hung(Duration),
    /// The backend panicked.
    Panicked(String),
}

impl Attempt {
    /// Everything the caller of the sandbox sees: stdout, stderr, or the error text.
    pub(crate) fn visible_bytes(&self) -> Vec<u8> {
        match self {
            Attempt::Ran(o) => {
                let mut v = o.stdout.clone();
                v.extend_from_slice(&o.stderr);
                v
            }
            Attempt::Refused(e) => e.to_string().into_bytes(),
            Attempt::Hung(_) | Attempt::Panicked(_) => Vec::new(),
        }
    }

    pub(crate) fn output(&self) -> Option<&ExecOutput> {
        match self {
            Attempt::Ran(o) => Some(o),
            _ => None,
        }
    }

    /// A short description for a report.
    pub(crate) fn summary(&self) -> String {
        match self {
            Attempt::Ran(o) => format!(
                "exit {}{}",
                o.exit_code,
                if o.timed_out { " (timed out)" } else { "" }
            ),
            Attempt::Refused(e) => format!("error: {e}"),
            Attempt::Hung(d) => format!("no answer within {d:?}"),
            Attempt::Panicked(m) => format!("the backend panicked: {m}"),
        }
    }
}

/// How long past the request's own timeout an exec may take before it counts as hung.
pub(crate) const HANG_GRACE: Duration = Duration::from_secs(30);

/// Runs one request, never waiting forever and surviving a panicking backend.
pub(crate) async fn attempt(sandbox: &dyn Sandbox, request: ExecRequest) -> Attempt {
    let limit = request.timeout + HANG_GRACE;
    let exec = AssertUnwindSafe(sandbox.exec(request)).catch_unwind();
    match atlas_sandbox_sdk::timeout::with_deadline(limit, exec).await {
        Ok(Ok(Ok(o))) => Attempt::Ran(o),
        Ok(Ok(Err(e))) => Attempt::Refused(e),
        Ok(Err(panic)) => Attempt::Panicked(panic_message(panic.as_ref())),
        Err(_) => Attempt::Hung(limit),
    }
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a non-string panic".to_owned())
}

/// One process of the host's process table.
#[derive(Debug, Clone)]
pub(crate) struct Proc {
    pub(crate) pid: i32,
    pub(crate) ppid: i32,
    pub(crate) state: char,
    pub(crate) cmdline: Vec<u8>,
}

/// The host's processes (as far as this process can see them in `/proc`).
pub(crate) fn processes() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name is in parentheses and may itself contain spaces and parentheses.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = rest.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        out.push(Proc {
            pid,
            ppid,
            state,
            cmdline,
        });
    }
    out
}

/// The descendants of `root` (children, grandchildren, ...), by pid.
pub(crate) fn descendants(root: i32) -> BTreeMap<i32, Proc> {
    let all = processes();
    let mut out = BTreeMap::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for p in all.iter().filter(|p| p.ppid == parent) {
            if out.insert(p.pid, p.clone()).is_none() {
                frontier.push(p.pid);
            }
        }
    }
    out
}

/// Live (non-zombie) host processes whose command line contains `marker`, other than us.
pub(crate) fn processes_with_marker(marker: &str) -> Vec<Proc> {
    let me = std::process::id() as i32;
    processes()
        .into_iter()
        .filter(|p| p.pid != me && p.state != 'Z' && contains(&p.cmdline, marker.as_bytes()))
        .collect()
}

/// This process's resident memory, in KiB (0 if unknown).
pub(crate) fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// A spec for a host helper program (clean env with a standard `PATH`).
pub(crate) fn host_program(program: &str) -> ProcessSpec {
    ProcessSpec::new(program)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .timeout(Duration::from_secs(10))
        .max_output_bytes(64 * 1024)
}

/// Spawns the host's `true` and measures how long it takes: the host is still responsive.
pub(crate) async fn host_responsive() -> Result<Duration, String> {
    let start = Instant::now();
    match run(&host_program("true")).await {
        Ok(r) if r.output.success() => Ok(start.elapsed()),
        Ok(r) => Err(format!(
            "host `true` gave exit {}{}",
            r.output.exit_code,
            if r.output.timed_out {
                " (no answer within 10 s)"
            } else {
                ""
            }
        )),
        Err(e) => Err(format!("host cannot spawn `true`: {e}")),
    }
}

/// Kills a host process by pid with the host's `kill -9` (used only on the battery's own
/// attack processes, found by their unique marker).
pub(crate) async fn kill_pid(pid: i32) {
    let _ = run(&host_program("kill").arg("-9").arg(pid.to_string())).await;
}

/// One entry of a file tree, as seen without following symlinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    File {
        bytes: Vec<u8>,
        mode: u32,
        mtime: (i64, i64),
    },
    Dir {
        mode: u32,
    },
    Link(PathBuf),
    Other,
}

/// A snapshot of every entry under a root (relative path → entry).
pub(crate) type Tree = BTreeMap<String, Node>;

pub(crate) fn snapshot(root: &Path) -> std::io::Result<Tree> {
    let mut out = Tree::new();
    walk(root, root, &mut out)?;
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Tree) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let meta = std::fs::symlink_metadata(&path)?;
        let mode = meta.permissions().mode() & 0o7777;
        let node = if meta.file_type().is_symlink() {
            Node::Link(std::fs::read_link(&path)?)
        } else if meta.is_dir() {
            walk(root, &path, out)?;
            Node::Dir { mode }
        } else if meta.is_file() {
            Node::File {
                // A file made unreadable by a `chmod 000` that leaked through still counts as
                // changed: its mode differs.
                bytes: std::fs::read(&path).unwrap_or_default(),
                mode,
                mtime: (meta.mtime(), meta.mtime_nsec()),
            }
        } else {
            Node::Other
        };
        out.insert(rel, node);
    }
    Ok(())
}

/// What changed between two snapshots, one line per entry (at most `max` lines).
pub(crate) fn diff(before: &Tree, after: &Tree, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (path, old) in before {
        match after.get(path) {
            None => out.push(format!("{path} was deleted")),
            Some(new) if new != old => out.push(format!("{path} {}", describe_change(old, new))),
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        out.push(format!("{path} appeared"));
    }
    let total = out.len();
    if total > max {
        out.truncate(max);
        out.push(format!("... and {} more", total - max));
    }
    out
}

fn describe_change(old: &Node, new: &Node) -> &'static str {
    match (old, new) {
        (Node::File { bytes: a, .. }, Node::File { bytes: b, .. }) if a != b => "changed content",
        (Node::File { mode: a, .. }, Node::File { mode: b, .. }) if a != b => "changed mode",
        (Node::Dir { .. }, Node::Dir { .. }) => "changed mode",
        (Node::File { .. }, Node::File { .. }) => "changed mtime",
        _ => "changed type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_each_change() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join("a"), "1").unwrap();
        std::fs::write(root.join("b"), "2").unwrap();
        std::fs::create_dir(root.join("d")).unwrap();
        let before = snapshot(root).unwrap();
        assert!(diff(&before, &snapshot(root).unwrap(), 10).is_empty());
        std::fs::write(root.join("a"), "x").unwrap();
        std::fs::remove_file(root.join("b")).unwrap();
        std::fs::write(root.join("d/new"), "").unwrap();
        let d = diff(&before, &snapshot(root).unwrap(), 10);
        assert_eq!(d, ["a changed content", "b was deleted", "d/new appeared"]);
    }

    #[tokio::test]
    async fn process_table_sees_our_child() {
        let marker = unique_sleep_arg(7);
        let spec = host_program("sleep")
            .arg(&marker)
            .timeout(Duration::from_secs(7));
        let task = tokio::spawn(async move { run(&spec).await });
        let mut found = Vec::new();
        for _ in 0..50 {
            found = processes_with_marker(&marker);
            if !found.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(found.len(), 1, "{found:?}");
        let kids = descendants(std::process::id() as i32);
        assert!(kids.contains_key(&found[0].pid), "{kids:?}");
        // Dropping the runner kills the process group: nothing outlives the test.
        task.abort();
        let _ = task.await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(processes_with_marker(&marker).is_empty());
        assert!(rss_kib() > 0);
        assert_ne!(random_token(), random_token());
    }

    #[tokio::test]
    async fn host_programs_run() {
        assert!(host_responsive().await.is_ok());
    }
}
