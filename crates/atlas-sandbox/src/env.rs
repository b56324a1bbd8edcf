//! `[sandbox.env]`: environment variables every command sees, on every backend.
//!
//! The backends share no request field for an environment (just-bash is an interpreter, the
//! jails spawn processes, the cloud vendors each have their own), but every one of them runs the
//! command as a bash script. So the host puts `export NAME='value'; …` in front of the command,
//! on its first line (bash's line numbers do not move), the way the session carries its working
//! directory: what the command and the programs it starts see is what the vendors' own `envs`
//! would give them.
//!
//! The values come from the config file only, never from the host's environment, and
//! [`check`] refuses a name or a value that would hand the sandbox one of the host's secrets.

use std::collections::BTreeMap;
use std::sync::Arc;

use atlas_sandbox_sdk::{
    Error, ExecOutput, ExecRequest, MAX_COMMAND_CHARS, Result, Sandbox, async_trait,
};

/// The longest `export …;` prefix `[sandbox.env]` may make: commands are bounded
/// ([`MAX_COMMAND_CHARS`]), and the prefix takes from that bound.
pub const MAX_PREFIX_CHARS: usize = 1024;

/// Variables bash keeps read-only or sets itself: exporting them fails or lies to the command.
const SHELL_OWNED: &[&str] = &[
    "BASHOPTS",
    "BASH_VERSINFO",
    "EUID",
    "PPID",
    "SHELLOPTS",
    "UID",
    "PWD",
    "OLDPWD",
];

/// The `export …;` text for `env` (empty when there is none).
pub fn prefix(env: &BTreeMap<String, String>) -> String {
    env.iter()
        .map(|(k, v)| format!("export {k}={}; ", double_quote(v)))
        .collect()
}

/// `value` in double quotes, with the four characters special there escaped. Not the usual
/// `'…'\''…'` form: just-bash keeps the backslash of a `\'` in an assignment's value.
fn double_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Why `[sandbox.env]` cannot be used, one message per bad entry. `host_secret(value)` names the
/// host variable holding a secret equal to `value`, if any; `secret_names` are the variables the
/// host reads credentials from.
pub fn check(
    env: &BTreeMap<String, String>,
    secret_names: &[&str],
    host_secret: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut bad = Vec::new();
    for (k, v) in env {
        let valid = k
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            bad.push((
                k.clone(),
                "is not a variable name (letters, digits and _, not starting with a digit)"
                    .to_owned(),
            ));
        } else if SHELL_OWNED.contains(&k.as_str()) {
            bad.push((
                k.clone(),
                "is set by the shell itself (read-only or its working directory); it cannot be \
                 configured"
                    .to_owned(),
            ));
        } else if secret_names.contains(&k.as_str()) {
            bad.push((
                k.clone(),
                "names a variable the host reads credentials from; sandboxes never get the \
                 host's secrets"
                    .to_owned(),
            ));
        } else if v.contains('\0') {
            bad.push((k.clone(), "contains a NUL byte".to_owned()));
        } else if v.contains(['\n', '\r']) {
            // The exports share the command's first line, so bash's line numbers stay its own.
            bad.push((k.clone(), "contains a line break".to_owned()));
        } else if let Some(var) = host_secret(v) {
            bad.push((
                k.clone(),
                format!(
                    "holds the value of the host's {var}; sandboxes never get the host's secrets"
                ),
            ));
        }
    }
    let len = prefix(env).chars().count();
    if bad.is_empty() && len > MAX_PREFIX_CHARS {
        bad.push((
            String::new(),
            format!(
                "takes {len} characters of every command; at most {MAX_PREFIX_CHARS} (commands are \
                 at most {MAX_COMMAND_CHARS})"
            ),
        ));
    }
    bad
}

/// A sandbox whose commands run with `[sandbox.env]` exported.
#[derive(Debug)]
pub struct WithEnv {
    inner: Arc<dyn Sandbox>,
    prefix: Arc<str>,
}

/// `sandbox` with `env` exported in every command; `sandbox` itself when `env` is empty.
pub fn wrap(sandbox: Arc<dyn Sandbox>, env: &BTreeMap<String, String>) -> Arc<dyn Sandbox> {
    if env.is_empty() {
        return sandbox;
    }
    Arc::new(WithEnv {
        inner: sandbox,
        prefix: prefix(env).into(),
    })
}

/// [`wrap`] for a sandbox the caller owns.
pub fn wrap_box(sandbox: Box<dyn Sandbox>, env: &BTreeMap<String, String>) -> Box<dyn Sandbox> {
    if env.is_empty() {
        return sandbox;
    }
    Box::new(WithEnv {
        inner: Arc::from(sandbox),
        prefix: prefix(env).into(),
    })
}

#[async_trait]
impl Sandbox for WithEnv {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        request.validate()?;
        let p = self.prefix.chars().count();
        let chars = request.command.chars().count();
        if chars + p > MAX_COMMAND_CHARS {
            return Err(Error::invalid_request(format!(
                "the command is {chars} characters long; with [sandbox.env] the limit is {} (its \
                 exports take {p})",
                MAX_COMMAND_CHARS - p
            )));
        }
        let plain = request.clone();
        let mut wrapped = request;
        wrapped.command.insert_str(0, &self.prefix);
        let mut out = self.inner.exec(wrapped).await?;
        // just-bash parses a whole script before running any of it and names columns, which the
        // prefix moved: nothing ran, so run it again unwrapped for the interpreter's own words.
        if out.exit_code == 2
            && out.stdout.is_empty()
            && !out.timed_out
            && out.stderr.starts_with(b"bash: syntax error: ")
        {
            return self.inner.exec(plain).await;
        }
        // bash echoes line 1 back in a syntax error there: the caller's line, not ours.
        let prefix = self.prefix.as_bytes();
        while let Some(at) = out.stderr.windows(prefix.len()).rposition(|w| w == prefix) {
            out.stderr.drain(at..at + prefix.len());
        }
        Ok(out)
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }

    fn remote_id(&self) -> Option<String> {
        self.inner.remote_id()
    }

    async fn pause(&self) -> Result<()> {
        self.inner.pause().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_prefix_quotes_every_value() {
        assert_eq!(
            prefix(&env(&[("A", "it's \"$HOME\" `x` \\"), ("B", "")])),
            "export A=\"it's \\\"\\$HOME\\\" \\`x\\` \\\\\"; export B=\"\"; "
        );
    }

    #[test]
    fn bad_names_secrets_and_size_are_refused() {
        let names = ["E2B_API_KEY"];
        let secret = |v: &str| (v == "hunter2-secret").then(|| "VERCEL_TOKEN".to_owned());
        let bad = check(
            &env(&[
                ("1X", "a"),
                ("A-B", "a"),
                ("UID", "0"),
                ("E2B_API_KEY", "x"),
                ("OK", "hunter2-secret"),
                ("FINE", "plain"),
                ("NL", "a\nb"),
            ]),
            &names,
            secret,
        );
        let keys: Vec<&str> = bad.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["1X", "A-B", "E2B_API_KEY", "NL", "OK", "UID"]);
        assert!(bad[4].1.contains("VERCEL_TOKEN"), "{bad:?}");
        let big = env(&[("BIG", &"x".repeat(MAX_PREFIX_CHARS))]);
        let bad = check(&big, &names, |_| None);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].1.contains("at most 1024"), "{bad:?}");
        assert!(check(&env(&[("FINE", "plain")]), &names, |_| None).is_empty());
    }
}
