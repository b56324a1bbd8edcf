//! What the recorded-case tests share: run a script on a fresh engine, compare it with what
//! bash printed, and check that a feature is refused by name.

#![allow(dead_code)] // each test binary uses a part

use std::path::{Path, PathBuf};
use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};
use atlas_sandbox_sdk::ExecOutput;

/// (script, stdout, exit status, stderr is non-empty), as bash printed them.
pub(crate) type Case = (&'static str, &'static str, i32, bool);

/// (script, stdout, stderr, exit status), as bash printed them, stderr's text included.
pub(crate) type Recorded = (&'static str, &'static str, &'static str, i32);

/// Where cases run: a layer (none: an empty one) and a first line every script gets.
#[derive(Default)]
pub(crate) struct Runner {
    layer: Option<PathBuf>,
    prologue: &'static str,
}

impl Runner {
    /// Runs every case and fails, listing each, unless stdout, stderr and the status are all
    /// byte for byte what was recorded.
    pub(crate) fn assert_recorded(&self, cases: &[Recorded]) {
        let mut failures = Vec::new();
        for (script, stdout, stderr, status) in cases {
            let out = self.run(script);
            if out.stdout_str() != *stdout
                || out.stderr_str() != *stderr
                || out.exit_code != *status
            {
                failures.push(format!(
                    "{script}\n  got  {:?} {:?} {}\n  want {stdout:?} {stderr:?} {status}",
                    out.stdout_str(),
                    out.stderr_str(),
                    out.exit_code
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} cases:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// Over an empty layer.
    pub(crate) fn empty() -> Self {
        Runner::default()
    }

    /// Over the example semantic layer (`config/semantic`).
    pub(crate) fn example_layer() -> Self {
        Runner {
            layer: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/semantic")),
            prologue: "",
        }
    }

    /// With `prologue` run before every script (`export LC_ALL=C ...\n`).
    pub(crate) fn prologue(mut self, prologue: &'static str) -> Self {
        self.prologue = prologue;
        self
    }

    /// Runs `script` on a new engine: every case gets its own files, so no case sees what
    /// another wrote.
    pub(crate) fn run(&self, script: &str) -> ExecOutput {
        let engine = Engine::new(self.layer.as_deref(), &JustBashConfig::default()).unwrap();
        engine
            .exec_script(
                &format!("{}{script}", self.prologue),
                "",
                Duration::from_secs(10),
                1 << 20,
            )
            .unwrap()
    }

    /// Fails with every case that differs from bash.
    pub(crate) fn assert_like_bash(&self, cases: &[Case]) {
        let mut failures = Vec::new();
        for (script, stdout, status, stderr) in cases {
            let out = self.run(script);
            if out.stdout_str() != *stdout
                || out.exit_code != *status
                || out.stderr.is_empty() == *stderr
            {
                failures.push(format!(
                    "{script}\n  got {:?} {} {:?}\n  bash {stdout:?} {status} stderr={stderr}",
                    out.stdout_str(),
                    out.exit_code,
                    out.stderr_str()
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Each script says what is not supported; it stops with exit 2 unless it echoes its own
    /// status afterwards (`...; echo rc=$?`).
    pub(crate) fn assert_refused(&self, scripts: &[&str]) {
        for script in scripts {
            let out = self.run(script);
            let err = out.stderr_str();
            assert!(
                err.contains("not supported") && (out.exit_code == 2 || script.contains("rc=")),
                "{script}: {} {err:?}",
                out.exit_code
            );
        }
    }
}
