//! The committed corpus, the recorded bash results, and the pinned copy of the layer both run on.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Where the layer sits, for bash and for every backend: commands that print a path (`pwd`,
/// `find "$PWD"`, `realpath`, `readlink -f`) give the same bytes on both sides.
pub const ROOT: &str = "/semantic";

/// The environment bash is recorded with (what just-bash defines, plus nothing of the host's).
pub const RECORD_ENV: &[(&str, &str)] = &[
    ("PATH", "/usr/bin:/bin"),
    ("HOME", "/tmp"),
    ("LANG", "C.UTF-8"),
    ("USER", "user"),
    ("SHELL", "/bin/bash"),
    ("TERM", "dumb"),
    ("TZ", "UTC"),
];

/// The first line of every script, on bash and on the backend alike, so a backend whose own
/// environment differs (a cloud image's `LANG`, `HOME`) still runs in the pinned one.
pub const PROLOGUE: &str = "export LC_ALL=C TZ=UTC HOME=/tmp\n";

/// Every mtime of the pinned copy is this instant plus a per-file offset (2025-01-01T00:00:00Z).
const EPOCH_SECS: u64 = 1_735_689_600;

/// The script a corpus command is sent as: [`PROLOGUE`] then the command.
pub fn script(command: &str) -> String {
    format!("{PROLOGUE}{command}")
}

/// The corpus directory of this crate (`corpus/`).
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// One command of the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The `## group` it is listed under (the command or feature it exercises).
    pub group: String,
    /// The command line, exactly as a model would send it.
    pub command: String,
    /// Its group is marked `[writes]`: it changes files, so it gets a sandbox of its own.
    pub writes: bool,
}

/// Parses `corpus/commands.txt`: `## group` (optionally `## group [writes]`) starts a group,
/// `#` lines are comments, every other non-blank line is one command (`↵` stands for a newline
/// inside one, as in a here-document).
pub fn parse_corpus(text: &str) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    let mut group: Option<(String, bool)> = None;
    let mut seen = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if let Some(head) = line.strip_prefix("## ") {
            let head = head.trim();
            let (name, writes) = match head.strip_suffix("[writes]") {
                Some(name) => (name.trim(), true),
                None => (head, false),
            };
            if name.is_empty() {
                return Err(format!("commands.txt:{n}: empty group name"));
            }
            group = Some((name.to_owned(), writes));
            continue;
        }
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains('\t') {
            return Err(format!(
                "commands.txt:{n}: a literal tab (write $'\\t' or printf '\\t')"
            ));
        }
        let Some((g, writes)) = &group else {
            return Err(format!(
                "commands.txt:{n}: a command before the first ## group"
            ));
        };
        let command = line.replace('↵', "\n");
        if !seen.insert(command.clone()) {
            return Err(format!("commands.txt:{n}: duplicate command {line:?}"));
        }
        cases.push(Case {
            group: g.clone(),
            command,
            writes: *writes,
        });
    }
    Ok(cases)
}

/// The committed corpus.
///
/// # Panics
///
/// If `corpus/commands.txt` is missing or malformed (this is test setup).
pub fn load_corpus() -> Vec<Case> {
    let path = corpus_dir().join("commands.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_corpus(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// What bash printed for one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The command (without the prologue).
    pub command: String,
    /// Stdout when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// Stdout in base64 when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_base64: Option<String>,
    /// Stderr (lossy UTF-8, cut at 2,000 characters): only its emptiness is compared; the text is
    /// kept so a reader of a diff sees what bash said.
    pub stderr: String,
    /// The exit code.
    pub exit_code: i32,
}

impl Recorded {
    /// Stdout as bytes.
    pub fn stdout_bytes(&self) -> Vec<u8> {
        match (&self.stdout, &self.stdout_base64) {
            (Some(s), _) => s.as_bytes().to_vec(),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    }

    fn new(command: &str, stdout: &[u8], stderr: &[u8], exit_code: i32) -> Self {
        let (stdout, stdout_base64) = match std::str::from_utf8(stdout) {
            Ok(s) => (Some(s.to_owned()), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(stdout)),
            ),
        };
        let stderr: String = String::from_utf8_lossy(stderr).chars().take(2000).collect();
        Recorded {
            command: command.to_owned(),
            stdout,
            stdout_base64,
            stderr,
            exit_code,
        }
    }
}

/// `corpus/bash.json`: the recorded results and how they were made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recording {
    /// Versions of bash and of the tools the corpus calls, on the recording machine.
    pub recorded_with: Vec<String>,
    /// Where the layer was ([`ROOT`]).
    pub root: String,
    /// The environment bash started with, and the prologue every script began with.
    pub env: Vec<String>,
    /// The prologue.
    pub prologue: String,
    /// One entry per corpus command, in corpus order.
    pub cases: Vec<Recorded>,
}

impl Recording {
    /// Reads `corpus/bash.json`.
    pub fn load() -> Result<Self, String> {
        let path = corpus_dir().join("bash.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "cannot read {}: {e} (record it: see docs/testing.md, \"The shell corpus\")",
                path.display()
            )
        })?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The recorded result of `command`.
    pub fn get(&self, command: &str) -> Option<&Recorded> {
        self.cases.iter().find(|c| c.command == command)
    }

    /// Corpus commands with no recording, and recordings of commands no longer in the corpus.
    pub fn mismatch(&self, corpus: &[Case]) -> (Vec<String>, Vec<String>) {
        let recorded: BTreeSet<&str> = self.cases.iter().map(|c| c.command.as_str()).collect();
        let listed: BTreeSet<&str> = corpus.iter().map(|c| c.command.as_str()).collect();
        let missing = listed
            .difference(&recorded)
            .map(|s| (*s).to_owned())
            .collect();
        let stale = recorded
            .difference(&listed)
            .map(|s| (*s).to_owned())
            .collect();
        (missing, stale)
    }
}

/// Copies the example layer to `dst` and pins what `ls -l`, `ls -t`, `find -newer`, `stat -c`
/// and `du` see: modes 0644/0755, and fixed, distinct access and modification times (pairs of
/// files share a second and differ by half a second, so `ls -t` must honour sub-second order).
pub fn pin_layer_copy(dst: &Path) -> io::Result<()> {
    crate::copy_tree(&crate::example_layer(), dst)?;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    walk(dst, &mut files, &mut dirs)?;
    files.sort();
    dirs.sort();
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_SECS);
    for (k, file) in files.iter().enumerate() {
        // A permutation of the sorted order (97 is prime), so mtime order is not name order.
        let slot = (k as u64 * 7919) % 97;
        let at = base
            + Duration::from_secs((slot / 2) * 3600 + 600)
            + Duration::from_millis((slot % 2) * 500);
        set_mode(file, 0o644)?;
        set_times(file, at)?;
    }
    // Directories last (and deepest first), so copying into them does not move their times.
    for (k, dir) in dirs.iter().enumerate().rev() {
        set_mode(dir, 0o755)?;
        set_times(dir, base + Duration::from_secs(k as u64 * 60))?;
    }
    set_mode(dst, 0o755)?;
    set_times(dst, base)?;
    Ok(())
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, dirs: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, files, dirs)?;
            dirs.push(path);
        } else {
            files.push(path);
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

fn set_times(path: &Path, at: SystemTime) -> io::Result<()> {
    let times = std::fs::FileTimes::new().set_accessed(at).set_modified(at);
    std::fs::File::open(path)?.set_times(times)
}

/// A fresh pinned copy in a temporary directory: `(dir, <dir>/semantic)`.
pub fn pinned_copy() -> io::Result<(tempfile::TempDir, PathBuf)> {
    let tmp = tempfile::Builder::new()
        .prefix("atlas-corpus-layer-")
        .tempdir()?;
    let root = tmp.path().join("semantic");
    pin_layer_copy(&root)?;
    Ok((tmp, root))
}

pub(crate) fn recorded(command: &str, stdout: &[u8], stderr: &[u8], code: i32) -> Recorded {
    Recorded::new(command, stdout, stderr, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_commands_and_writes_flags() {
        let cases =
            parse_corpus("# c\n## ls\nls\nls -la\n\n## sed -i [writes]\nsed -i s/a/b/ x↵y\n")
                .unwrap();
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].group, "ls");
        assert!(!cases[1].writes);
        assert_eq!(cases[2].group, "sed -i");
        assert!(cases[2].writes);
        assert_eq!(cases[2].command, "sed -i s/a/b/ x\ny");
    }

    #[test]
    fn rejects_duplicates_tabs_and_orphans() {
        assert!(
            parse_corpus("## a\nls\nls\n")
                .unwrap_err()
                .contains("duplicate")
        );
        assert!(parse_corpus("## a\nls\tx\n").unwrap_err().contains("tab"));
        assert!(
            parse_corpus("ls\n")
                .unwrap_err()
                .contains("before the first")
        );
    }

    #[test]
    fn non_utf8_stdout_round_trips() {
        let r = Recorded::new("x", b"\xff\xfeok\n", b"", 0);
        assert!(r.stdout.is_none());
        assert_eq!(r.stdout_bytes(), b"\xff\xfeok\n");
    }

    #[test]
    fn pinned_copy_has_fixed_distinct_times() {
        let (_tmp, root) = pinned_copy().unwrap();
        let t = |p: &str| std::fs::metadata(root.join(p)).unwrap().modified().unwrap();
        let (_tmp2, root2) = pinned_copy().unwrap();
        let t2 = |p: &str| {
            std::fs::metadata(root2.join(p))
                .unwrap()
                .modified()
                .unwrap()
        };
        assert_eq!(t("catalog.yml"), t2("catalog.yml"));
        assert_eq!(t("entities"), t2("entities"));
        assert_ne!(t("catalog.yml"), t("glossary.yml"));
    }
}
