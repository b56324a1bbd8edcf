//! Running a one-program command without the shell in between, exactly as bash would run it.
//!
//! `bash -c 'cat catalog.yml'` parses the line, finds `cat` in `PATH` and, because the line is
//! one simple command, replaces itself with `cat` (no fork). What the program sees is its argv
//! as typed, the environment bash exports (the caller's, plus `PWD`, `SHLVL` and `_`), the same
//! descriptors, working directory, process group and limits. Starting bash for that costs as
//! much as the command itself on a small file, so a server that runs many such commands (the
//! sidecar) can do bash's work itself for the lines where that work is trivial, and hand every
//! other line to bash.
//!
//! A line qualifies only when nothing in it is shell syntax: words of plain characters
//! separated by blanks, no quoting, expansion, globbing, redirection, operator, comment or
//! assignment, and a first word that names neither a builtin nor a reserved word of this
//! shell (asked of the shell itself, `compgen -b -k`) and that is found as an executable file
//! in `PATH`. Three builtins are the exception where their coreutils program prints and exits
//! the same for the words given (`true`, `false`, `echo` without options; see
//! `has_program_twin`): a program costs a third of a bash start. What bash adds to the environment is learned from the shell once, by running
//! `cat /proc/self/environ` through it; if the shell adds anything but `PWD`, `SHLVL` and `_`,
//! or the probe fails, there is no fast path.
//!
//! One difference remains and is why two words are excluded: the standard library passes the
//! environment sorted by name, where bash passes it in its own hash order. The variables and
//! values are the same; only a program that prints the whole environment shows the order, so
//! `env` and `printenv` and any word naming an `environ` file go through bash.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ProcessSpec, run};
use crate::is_plain_word_byte as plain;

/// What bash adds to the environment of a program it runs as its whole command line.
const ADDED_BY_SHELL: [&str; 3] = ["PWD", "SHLVL", "_"];

/// A line bash would run as one external program: the file found in `PATH` and the words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectPlan {
    /// The program's file, as bash's `PATH` search finds it.
    pub program: PathBuf,
    /// The words of the line; the first is `argv[0]` as typed.
    pub argv: Vec<String>,
}

/// What the shell was found to do, learned once by [`DirectExec::probe`]. It serializes, so a
/// process that probes can hand the answer to another that plans (the jail's worker).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DirectExec {
    /// Builtins and reserved words of the shell: a line starting with one is the shell's.
    shell_words: HashSet<String>,
    /// `SHLVL` as the shell exports it to a program it execs in place of itself.
    shlvl: String,
}

impl DirectExec {
    /// Asks `shell` (bash) for its builtins and reserved words and for the environment it
    /// gives a program, with `env` as the environment both runs get. `None` when the shell
    /// cannot answer (not bash, no `cat`, no `/proc`) or adds variables this module does not
    /// reproduce: then every line goes through the shell.
    pub async fn probe(shell: &Path, env: &[(String, String)], cwd: &Path) -> Option<DirectExec> {
        let spec = |line: &str| {
            let mut s = ProcessSpec::new(shell)
                .arg("-c")
                .arg(line)
                .cwd(cwd)
                .timeout(Duration::from_secs(5));
            for (k, v) in env {
                s = s.env(k, v);
            }
            s
        };
        let words = run(&spec("compgen -b; compgen -k")).await.ok()?;
        if words.output.exit_code != 0 {
            return None;
        }
        let shell_words: HashSet<String> = String::from_utf8_lossy(&words.output.stdout)
            .lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        // A bash answers with its ~60 builtins and ~20 reserved words; anything short of the
        // basics means this is not a shell whose grammar the planner below knows.
        if !["cd", "echo", "test", "[", "if", "[[", "time"]
            .iter()
            .all(|w| shell_words.contains(*w))
        {
            return None;
        }
        let environ = run(&spec("cat /proc/self/environ")).await.ok()?;
        if environ.output.exit_code != 0 || environ.output.stdout_truncated {
            return None;
        }
        let mut shlvl = None;
        let environ = String::from_utf8_lossy(&environ.output.stdout).into_owned();
        for entry in environ.split('\0').filter(|e| !e.is_empty()) {
            let (k, v) = entry.split_once('=')?;
            let given = env.iter().find(|(gk, _)| gk == k);
            match (given, k) {
                (Some((_, gv)), _) if gv == v => {}
                (None, "SHLVL") => shlvl = Some(v.to_owned()),
                (None, "PWD" | "_") => {}
                // The shell changed or added something else: not reproducible here.
                _ => return None,
            }
        }
        Some(DirectExec {
            shell_words,
            shlvl: shlvl?,
        })
    }

    /// The program and words of `line` when bash would run it as one external program found
    /// in `path` (a `PATH` value), else `None` (the line goes to the shell).
    pub fn plan(&self, line: &str, path: &str) -> Option<DirectPlan> {
        let words: Vec<&str> = line.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
        let first = *words.first()?;
        if !words.iter().all(|w| w.bytes().all(plain))
            || !first.bytes().all(|b| plain(b) && b != b'/' && b != b'=')
            || first.starts_with('-')
            || (self.shell_words.contains(first) && !has_program_twin(&words))
            || words.iter().any(|w| shows_environment(w))
        {
            return None;
        }
        let program = search_path(first, path)?;
        Some(DirectPlan {
            program,
            argv: words.into_iter().map(str::to_owned).collect(),
        })
    }

    /// The environment bash would give the planned program: `env`, then `PWD` (the working
    /// directory without symlinks, as bash's `getcwd` gives it), `SHLVL` and `_` (the file).
    pub fn environment(
        &self,
        plan: &DirectPlan,
        env: &[(OsString, OsString)],
        cwd: &Path,
    ) -> Option<Vec<(OsString, OsString)>> {
        let pwd = std::fs::canonicalize(cwd).ok()?;
        let mut out: Vec<(OsString, OsString)> = env
            .iter()
            .filter(|(k, _)| !ADDED_BY_SHELL.iter().any(|a| k == a))
            .cloned()
            .collect();
        out.push(("PWD".into(), pwd.into_os_string()));
        out.push(("SHLVL".into(), self.shlvl.clone().into()));
        out.push(("_".into(), plan.program.clone().into_os_string()));
        Some(out)
    }
}

/// Whether a line naming a builtin prints and exits exactly as the coreutils program of that
/// name does with the same words, so bash's work (start, parse, run the builtin) can be the
/// program's. Only where the two cannot differ: `true` and `false` alone (coreutils' answer
/// `--help` and `--version`, the builtins ignore their words), and `echo` with no word that
/// starts with `-` (its options, and coreutils' `--help`); plain words carry no backslash, so
/// no escape is interpreted by either.
fn has_program_twin(words: &[&str]) -> bool {
    match words {
        ["true" | "false"] => true,
        ["echo", rest @ ..] => rest.iter().all(|w| !w.starts_with('-')),
        _ => false,
    }
}

/// Words whose program prints the environment, whose order is bash's own (see the module).
fn shows_environment(word: &str) -> bool {
    word == "env" || word == "printenv" || word.contains("environ")
}

/// Bash's search of `PATH` for a command name: the first regular file in a listed directory
/// that this process may execute. An empty entry is the working directory, which this module
/// does not reproduce.
fn search_path(name: &str, path: &str) -> Option<PathBuf> {
    for dir in path.split(':') {
        if dir.is_empty() || !dir.starts_with('/') {
            return None;
        }
        let candidate = Path::new(dir).join(name);
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if meta.is_file() && nix::unistd::access(&candidate, nix::unistd::AccessFlags::X_OK).is_ok()
        {
            return Some(candidate);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planner() -> DirectExec {
        DirectExec {
            shell_words: [
                "cd", "echo", "true", "false", "test", "[", "if", "time", "!", "[[",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect(),
            shlvl: "0".into(),
        }
    }

    #[test]
    fn plain_lines_plan_and_shell_syntax_does_not() {
        let d = planner();
        let p = d.plan("cat  catalog.yml", "/usr/bin:/bin").unwrap();
        assert_eq!(p.argv, ["cat", "catalog.yml"]);
        assert!(p.program.ends_with("cat"));
        assert!(d.plan("grep -rn customer_id .", "/usr/bin:/bin").is_some());
        for line in [
            "",
            "   ",
            "echo -n hi",
            "echo hi -e",
            "true --help",
            "false 1",
            "cd /tmp",
            "test -f a",
            "if",
            "cat a | wc -l",
            "cat a > b",
            "cat 'a b'",
            "cat \"a\"",
            "cat a\\ b",
            "cat $HOME",
            "cat ~/x",
            "cat *.yml",
            "cat a?",
            "cat {a,b}",
            "cat a; ls",
            "cat a & ls",
            "cat a # c",
            "X=1 cat a",
            "./run.sh",
            "/bin/cat a",
            "cat a\nls",
            "env",
            "printenv HOME",
            "cat /proc/self/environ",
            "timeout 1 env",
            "no-such-program-here x",
            "cat ä",
            "-cat",
        ] {
            assert!(d.plan(line, "/usr/bin:/bin").is_none(), "{line:?} planned");
        }
        // Builtins whose coreutils program answers the same words the same way.
        for line in ["true", "false", "echo", "echo hi there", "echo a=b x/y 1,2"] {
            let p = d.plan(line, "/usr/bin:/bin").unwrap();
            assert_eq!(
                p.program.file_name().unwrap(),
                line.split(' ').next().unwrap()
            );
        }
        // A relative or empty PATH entry is the working directory: bash's business.
        assert!(d.plan("cat a", ":/usr/bin").is_none());
    }

    #[test]
    fn environment_adds_what_bash_adds() {
        let d = planner();
        let p = d.plan("cat a", "/usr/bin:/bin").unwrap();
        let env = vec![
            (OsString::from("PATH"), OsString::from("/usr/bin:/bin")),
            (OsString::from("SHLVL"), OsString::from("7")),
        ];
        let e = d.environment(&p, &env, Path::new("/")).unwrap();
        let get = |k: &str| e.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("PWD").unwrap(), "/");
        assert_eq!(get("SHLVL").unwrap(), "0");
        assert_eq!(get("_").unwrap(), p.program.as_os_str());
        assert_eq!(e.iter().filter(|(n, _)| n == "SHLVL").count(), 1);
    }

    /// The environment a directly started program gets is the one bash gives it: the same
    /// variables with the same values (the order is the standard library's; see the module).
    #[tokio::test]
    async fn the_environment_is_bash_s() {
        let dir = tempfile::tempdir().unwrap();
        let env: Vec<(String, String)> = crate::COMMAND_ENV
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let Some(d) = DirectExec::probe(Path::new("/bin/bash"), &env, dir.path()).await else {
            panic!("bash did not answer the probe");
        };
        let spec_env: Vec<(OsString, OsString)> =
            env.iter().map(|(k, v)| (k.into(), v.into())).collect();
        let mut plan = d.plan("cat x", "/usr/bin:/bin").unwrap();
        plan.argv = vec!["cat".into(), "/proc/self/environ".into()];
        let mut direct = ProcessSpec::new(&plan.program)
            .arg0("cat")
            .arg("/proc/self/environ")
            .cwd(dir.path());
        direct.env = d.environment(&plan, &spec_env, dir.path()).unwrap();
        let mut shell = ProcessSpec::new("/bin/bash")
            .arg("-c")
            .arg("cat /proc/self/environ")
            .cwd(dir.path());
        shell.env = spec_env;
        let sorted = |out: Vec<u8>| {
            let mut v: Vec<Vec<u8>> = out.split(|b| *b == 0).map(<[u8]>::to_vec).collect();
            v.sort();
            v
        };
        let a = run(&direct).await.unwrap().output;
        let b = run(&shell).await.unwrap().output;
        assert_eq!(a.exit_code, 0);
        assert_eq!(sorted(a.stdout), sorted(b.stdout));
    }
}
