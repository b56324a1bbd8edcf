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

/// The `PATH` of [`COMMAND_ENV`]: where a command finds its programs on every backend.
pub const DEFAULT_COMMAND_PATH: &str = "/usr/bin:/bin";

/// The `path` key of a remote backend's table: the `PATH` its commands start with. A vendor's
/// image puts its own tools elsewhere (`/usr/local/bin`, a runtime's folder); the default is
/// [`DEFAULT_COMMAND_PATH`], so a command answers there as on every other backend, and an
/// operator whose template keeps tools elsewhere lists those folders here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommandPath(String);

impl CommandPath {
    /// The value, as `PATH` gets it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// [`COMMAND_ENV`] with this `PATH`: the environment a remote command is started with.
    /// Only these constants and the operator's `path` go to the sandbox, never the host's own.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        COMMAND_ENV
            .iter()
            .map(|&(k, v)| {
                (
                    k,
                    if k == "PATH" {
                        self.0.clone()
                    } else {
                        v.to_owned()
                    },
                )
            })
            .collect()
    }

    /// [`Self::env`] as `K=V` words, to put before a command (`PATH=/usr/bin:/bin HOME=/tmp …
    /// /bin/bash -c …`) for a backend that can only send a script. Every value is plain words
    /// ([`is_plain_word_byte`]), so the line needs no quoting and may sit inside quotes.
    pub fn assignments(&self) -> String {
        self.env()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl JsonSchema for CommandPath {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CommandPath".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^/[A-Za-z0-9_.,=+%@/-]*(:/[A-Za-z0-9_.,=+%@/-]*)*$",
            "description": "The PATH commands start with: absolute folders separated by ':' (default \"/usr/bin:/bin\", as on every backend).",
            "default": DEFAULT_COMMAND_PATH,
            "examples": ["/usr/bin:/bin", "/usr/local/bin:/usr/bin:/bin"]
        })
    }
}

impl Default for CommandPath {
    fn default() -> Self {
        CommandPath(DEFAULT_COMMAND_PATH.to_owned())
    }
}

impl TryFrom<String> for CommandPath {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if s.is_empty() {
            return Err("path must not be empty (the default is \"/usr/bin:/bin\")".to_owned());
        }
        if let Some(c) = s
            .chars()
            .find(|c| !c.is_ascii() || !is_plain_word_byte(*c as u8))
        {
            return Err(format!(
                "path may hold only letters, digits and `_ . / , : = + % @ -` (it is put on a \
                 command line unquoted); {c:?} is not allowed"
            ));
        }
        if let Some(bad) = s.split(':').find(|d| !d.starts_with('/')) {
            return Err(format!(
                "path must list absolute folders separated by ':'; {bad:?} is not absolute"
            ));
        }
        Ok(CommandPath(s))
    }
}

impl From<CommandPath> for String {
    fn from(p: CommandPath) -> String {
        p.0
    }
}

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
    fn command_path_is_validated_and_only_replaces_path() {
        let p = CommandPath::default();
        assert_eq!(p.as_str(), "/usr/bin:/bin");
        assert_eq!(p.env().len(), COMMAND_ENV.len());
        let custom: CommandPath = serde_json::from_str("\"/usr/local/bin:/usr/bin:/bin\"").unwrap();
        let env = custom.env();
        assert!(env.contains(&("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned())));
        assert!(env.contains(&("TERM", "dumb".to_owned())));
        assert_eq!(
            CommandPath::default().assignments(),
            "PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 USER=user SHELL=/bin/bash TERM=dumb TZ=UTC"
        );
        for bad in [
            "\"\"",
            "\"bin:/usr/bin\"",
            "\"/usr/bin:\"",
            "\"/a\\nb\"",
            "\"/a b\"",
            "\"/a'b\"",
            "\"/a$b\"",
        ] {
            let e = serde_json::from_str::<CommandPath>(bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("path"), "{bad}: {e}");
        }
    }

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
