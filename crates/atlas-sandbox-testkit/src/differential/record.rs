//! Recording what the real bash prints for every corpus command.
//!
//! Each command runs as `/bin/bash -c` over a fresh pinned copy of the layer at [`ROOT`], with
//! [`RECORD_ENV`] and nothing else, behind `unshare --mount` with a private tmpfs on `/tmp` (so
//! a command that writes `/tmp/x` neither sees the host's files nor leaves its own behind).
//! It needs root: it creates [`ROOT`] and mounts. It refuses to touch a `/semantic` that holds
//! anything but a copy of the example layer.

use std::path::Path;
use std::time::Duration;

use atlas_sandbox_sdk::process::{ProcessSpec, run};

use super::corpus::{
    Case, PROLOGUE, RECORD_ENV, ROOT, Recording, pin_layer_copy, recorded, script,
};

/// Inside the private mount namespace: give bash its own `/tmp`, then become `bash -c <script>`
/// (exec, so `$0`, `$$`, `SHLVL` and the process tree are those of a plain `bash -c`).
const LAUNCHER: &str =
    "mount -t tmpfs -o mode=1777,size=64m tmpfs /tmp || exit 213; exec /bin/bash -c \"$1\"";

/// The tools whose versions the recording names (first line of `--version`).
const TOOLS: &[&str] = &[
    "bash", "ls", "grep", "sed", "gawk", "find", "jq", "yq", "tree", "bc", "xxd", "column",
];

/// Records every case. Returns the recording (the caller writes it to `corpus/bash.json`).
pub async fn record_bash(corpus: &[Case]) -> Result<Recording, String> {
    prepare_root()?;
    let mut cases = Vec::with_capacity(corpus.len());
    for (i, case) in corpus.iter().enumerate() {
        reset_root()?;
        let spec = launcher_spec(&script(&case.command));
        let r = run(&spec)
            .await
            .map_err(|e| format!("cannot run unshare/bash: {e}"))?;
        let out = r.output;
        if out.exit_code == 213 {
            return Err(format!(
                "unshare could not mount a private /tmp (recording needs root): {}",
                out.stderr_str()
            ));
        }
        if i % 100 == 0 {
            eprintln!("recording {}/{}", i, corpus.len());
        }
        cases.push(recorded(
            &case.command,
            &out.stdout,
            &out.stderr,
            out.exit_code,
        ));
    }
    reset_root()?;
    Ok(Recording {
        recorded_with: versions().await,
        root: ROOT.to_owned(),
        env: RECORD_ENV.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        prologue: PROLOGUE.to_owned(),
        cases,
    })
}

fn launcher_spec(script: &str) -> ProcessSpec {
    let mut spec = ProcessSpec::new("/usr/bin/unshare")
        .args(["--mount", "--propagation", "private", "/bin/bash", "-c"])
        .arg(LAUNCHER)
        .arg("/bin/bash")
        .arg(script)
        .cwd(ROOT)
        .timeout(Duration::from_secs(10))
        .max_output_bytes(1 << 20);
    for (k, v) in RECORD_ENV {
        spec = spec.env(*k, *v);
    }
    spec
}

/// `/semantic` must be absent, empty, or a copy of the example layer from an earlier recording.
fn prepare_root() -> Result<(), String> {
    let root = Path::new(ROOT);
    if root.exists() {
        let entries: Vec<_> = std::fs::read_dir(root)
            .map_err(|e| format!("cannot list {ROOT}: {e}"))?
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        if !entries.is_empty() && !root.join("catalog.yml").exists() {
            return Err(format!(
                "{ROOT} exists and is not a copy of the example layer; move it away to record"
            ));
        }
    }
    std::fs::create_dir_all(root).map_err(|e| {
        format!("cannot create {ROOT}: {e} (recording needs root, or a writable {ROOT})")
    })
}

fn reset_root() -> Result<(), String> {
    let root = Path::new(ROOT);
    for entry in std::fs::read_dir(root).map_err(|e| format!("cannot list {ROOT}: {e}"))? {
        let entry = entry.map_err(|e| format!("cannot list {ROOT}: {e}"))?;
        let path = entry.path();
        let gone = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        gone.map_err(|e| format!("cannot clear {}: {e}", path.display()))?;
    }
    pin_layer_copy(root).map_err(|e| format!("cannot copy the layer to {ROOT}: {e}"))
}

async fn versions() -> Vec<String> {
    let mut out = Vec::new();
    for tool in TOOLS {
        let flag = if *tool == "xxd" { "-v" } else { "--version" };
        let spec = ProcessSpec::new("/bin/bash")
            .arg("-c")
            .arg(format!("{tool} {flag} 2>&1 | head -1"))
            .env("PATH", "/usr/bin:/bin")
            .timeout(Duration::from_secs(5));
        let line = match run(&spec).await {
            Ok(r) => r.output.stdout_str().trim().to_owned(),
            Err(e) => format!("unavailable: {e}"),
        };
        out.push(format!("{tool}: {line}"));
    }
    out
}
