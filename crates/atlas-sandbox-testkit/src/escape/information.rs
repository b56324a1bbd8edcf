//! Information (I): the host process's environment stays invisible.

use super::{CANARY_ENV, Ctx, QUICK, RowResult, Secret, distinctive_environ, leaks, verdict};
use crate::SandboxFactory;

impl<F: SandboxFactory> Ctx<'_, F> {
    /// I1: the environment of the host process is invisible.
    pub(super) async fn i1(&self) -> RowResult {
        let me = std::process::id();
        let commands = vec![
            "env".to_owned(),
            "cat /proc/self/environ".to_owned(),
            format!("echo \"${CANARY_ENV}\""),
            "set".to_owned(),
            format!("tr '\\0' '\\n' < /proc/{me}/environ"),
            "cat /proc/$PPID/environ".to_owned(),
        ];
        let mut secrets: Vec<Secret> = vec![(
            format!("the host's {CANARY_ENV}"),
            self.env_canary.as_bytes().to_vec(),
        )];
        // The environment this process started with (what /proc/<pid>/environ shows).
        for entry in distinctive_environ("/proc/self/environ") {
            secrets.push(("a variable of the host process's environment".into(), entry));
        }
        for (key, value) in std::env::vars() {
            let upper = key.to_ascii_uppercase();
            let secretish = ["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"]
                .iter()
                .any(|w| upper.contains(w));
            if secretish && key != CANARY_ENV && value.len() >= 8 {
                secrets.push((format!("the host's {key}"), value.into_bytes()));
            }
        }
        let results = self.attack("i1", &commands, QUICK).await?;
        Ok(verdict(&leaks(&results, &secrets), || {
            format!("{} host values checked", secrets.len())
        }))
    }
}
