//! The shell a process-based backend runs each command with.
//!
//! Agents write bash: `set -o pipefail`, `<<<`, `[[ ]]`, arrays, `$(<file)`. On Debian-based
//! images `sh` is dash, where every one of those is a syntax error or a different answer, and the
//! vendors' own SDKs run `bash -l -c`. So every backend that runs a real shell runs `bash -c`;
//! an image without bash makes the backend unhealthy (never a silent fall back to `sh`) unless
//! the operator chose `shell = "sh"` for it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The environment a command starts with on every backend, the one just-bash defines: a
/// command that reads `$USER`, `$SHELL`, `$TZ` or needs `$TERM` set (`tree -C` colours only
/// with a terminal type) answers alike everywhere. A backend that must point one of them
/// elsewhere (a sidecar's per-request `HOME`) overrides that one; nothing of the host's is added.
pub const COMMAND_ENV: &[(&str, &str)] = &[
    ("PATH", "/usr/bin:/bin"),
    ("HOME", "/tmp"),
    ("LANG", "C.UTF-8"),
    ("USER", "user"),
    ("SHELL", "/bin/bash"),
    ("TERM", "dumb"),
    ("TZ", "UTC"),
];

/// `shell = "bash" | "sh"` in a backend's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Shell {
    /// `/bin/bash -c <command>` (the default): what agents write, and what bash-only syntax
    /// needs. An image without `/bin/bash` makes the backend unhealthy.
    #[default]
    Bash,
    /// `/bin/sh -c <command>`: POSIX sh only (dash on Debian, busybox ash in a toolbox).
    /// Bash-only syntax then fails or answers differently; choose it only knowingly.
    Sh,
}

impl Shell {
    /// The absolute path of the program.
    pub fn program(self) -> &'static str {
        match self {
            Shell::Bash => "/bin/bash",
            Shell::Sh => "/bin/sh",
        }
    }

    /// The config value (`"bash"`, `"sh"`).
    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Sh => "sh",
        }
    }

    /// The argv that runs `command`: `[program, "-c", command]`.
    pub fn argv(self, command: &str) -> [String; 3] {
        [
            self.program().to_owned(),
            "-c".to_owned(),
            command.to_owned(),
        ]
    }

    /// What a failed shell probe said, for [`Shell::missing`]: its exit status and the first
    /// 200 characters of its (trimmed) error output.
    pub fn probe_detail(exit: impl std::fmt::Display, stderr: &str) -> String {
        let said: String = stderr.trim().chars().take(200).collect();
        format!("exit {exit}: {said}")
    }

    /// The error when `where_` (an image, a template, a jail) has no usable shell: kind
    /// unavailable, naming the program, the place and the way out.
    pub fn missing(self, backend: &'static str, where_: &str, detail: &str) -> Error {
        let hint = match self {
            Shell::Bash => format!(
                "install bash in it, or set shell = \"sh\" in [plugins.{backend}] to run POSIX sh \
                 knowingly (bash-only syntax such as pipefail, <<<, [[ ]] and arrays then fails)"
            ),
            Shell::Sh => "install a POSIX sh in it".to_owned(),
        };
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        };
        Error::unavailable(format!(
            "{} cannot run in {where_}{detail}: {hint}",
            self.program()
        ))
        .with_backend(backend)
    }
}

impl std::fmt::Display for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A byte that means nothing to bash inside a word: no quoting, expansion, globbing,
/// redirection, operator or comment. A line of such words separated by blanks is plain words to
/// bash (the direct start and the session's working-directory carry both ask this).
pub fn is_plain_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'_' | b'.' | b'/' | b',' | b':' | b'=' | b'+' | b'%' | b'@' | b'-'
        )
}

/// Quotes `s` as one POSIX shell word: single quotes, each `'` written as `'\''`. Any string
/// (spaces, `$`, backquotes, newlines) comes back from the shell byte for byte; also what
/// bash's `${v@Q}` prints for a plain value.
pub fn shell_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    out.push_str(&s.replace('\'', r"'\''"));
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_bash_and_parses_both() {
        assert_eq!(Shell::default(), Shell::Bash);
        let sh: Shell = serde_json::from_str("\"sh\"").unwrap();
        assert_eq!(sh.argv("ls"), ["/bin/sh", "-c", "ls"]);
        assert!(serde_json::from_str::<Shell>("\"zsh\"").is_err());
    }

    #[test]
    fn missing_names_program_place_and_the_way_out() {
        let e = Shell::Bash.missing("e2b", "template base", "exit 127");
        let text = e.to_string();
        assert!(
            text.contains("/bin/bash cannot run in template base (exit 127)"),
            "{text}"
        );
        assert!(text.contains("shell = \"sh\" in [plugins.e2b]"), "{text}");
        assert_eq!(e.kind(), crate::ErrorKind::Unavailable);
    }

    #[test]
    fn quotes_survive_the_shell_grammar() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$x `y` \\ \n"), "'$x `y` \\ \n'");
    }
}
