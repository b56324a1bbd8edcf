//! Whole-process cost of a one-shot `atlas-sandbox exec true`, side by side with what it cannot
//! beat: `atlas-sandbox --version` (process start, no work) and, with the `nsjail` feature and
//! an nsjail on PATH/NSJAIL_PATH, one bare nsjail run of the same jail (the config file the
//! backend generates for the same layer, the same argv, `true`).
//!
//! ```text
//! cargo bench -p atlas-sandbox --bench startup                      # just-bash only
//! cargo bench -p atlas-sandbox --bench startup --features nsjail    # and nsjail
//! ```
//!
//! Each round runs every mode once, in rotating order, so background load on a shared machine
//! hits them alike. `STARTUP_BENCH_N` (default 200) sets the rounds. Printed: median, p10/p90
//! and the ratio of medians to the reference each target names.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use atlas_sandbox_testkit::stats::Summary;

struct Mode {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    samples: Vec<Duration>,
}

impl Mode {
    fn new(name: &str, program: &Path, args: &[&str]) -> Self {
        Mode {
            name: name.to_owned(),
            program: program.to_owned(),
            args: args.iter().map(OsString::from).collect(),
            samples: Vec::new(),
        }
    }

    fn run_once(&mut self, cwd: &Path, env: &[(String, String)]) {
        let t = Instant::now();
        let status = Command::new(&self.program)
            .args(&self.args)
            .current_dir(cwd)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        self.samples.push(t.elapsed());
        assert!(status.success(), "{} failed: {status}", self.name);
    }

    fn summary(&self) -> Summary {
        Summary::of_durations(self.samples.iter().copied())
    }

    fn median(&self) -> f64 {
        self.summary().median
    }
}

fn main() {
    let rounds: usize = std::env::var("STARTUP_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_atlas-sandbox"));
    // No atlas.toml here: the example layer and the defaults, as a new user runs it.
    let cwd = tempfile::tempdir().unwrap();
    let mut env = vec![("PATH".to_owned(), std::env::var("PATH").unwrap_or_default())];
    if let Ok(p) = std::env::var("NSJAIL_PATH") {
        env.push(("NSJAIL_PATH".to_owned(), p));
    }
    let mut modes = vec![
        Mode::new("atlas-sandbox --version", &bin, &["--version"]),
        Mode::new(
            "atlas-sandbox exec --backend just-bash true",
            &bin,
            &["exec", "--backend", "just-bash", "true"],
        ),
    ];
    #[cfg(feature = "nsjail")]
    let _jail = nsjail_modes(&bin, &mut modes);

    for m in &mut modes {
        m.run_once(cwd.path(), &env); // warm the page cache
        m.samples.clear();
    }
    for r in 0..rounds {
        let n = modes.len();
        for k in 0..n {
            modes[(r + k) % n].run_once(cwd.path(), &env);
        }
    }

    println!("{rounds} rounds, every mode once per round in rotating order\n");
    println!("| mode | median (ms) | p10 (ms) | p90 (ms) |");
    println!("|---|---|---|---|");
    for m in &modes {
        println!(
            "| `{}` | {:.2} | {:.2} | {:.2} |",
            m.name,
            m.median(),
            m.summary().p10,
            m.summary().p90
        );
    }
    let find = |name: &str| modes.iter().find(|m| m.name.starts_with(name));
    println!();
    if let (Some(v), Some(j)) = (
        find("atlas-sandbox --version"),
        find("atlas-sandbox exec --backend just-bash"),
    ) {
        println!(
            "just-bash exec / --version: {:.2}× (target ≤ 2×)",
            j.median() / v.median()
        );
    }
    if let Some(bare) = find("bare nsjail") {
        for m in modes
            .iter()
            .filter(|m| m.name.contains("nsjail") && m.name != bare.name)
        {
            println!(
                "{} / bare nsjail: {:.2}× (target ≤ 1.3×)",
                m.name,
                m.median() / bare.median()
            );
        }
    }
}

/// Adds `exec --backend nsjail true`, unpinned `exec true` (the highest-priority backend) and one
/// bare nsjail run of the jail the backend builds for the same layer. Returns what keeps that
/// jail's config file alive.
#[cfg(feature = "nsjail")]
fn nsjail_modes(bin: &Path, modes: &mut Vec<Mode>) -> Option<Box<dyn std::any::Any>> {
    use atlas_sandbox_nsjail::jail::exec_args;
    use atlas_sandbox_nsjail::{NsjailConfig, NsjailPlugin};
    use atlas_sandbox_sdk::{PluginContext, SemanticLayer};

    let Ok(nsjail) = atlas_sandbox_nsjail::locate::find_nsjail_here(None) else {
        println!(
            "SKIPPED: the nsjail rows: nsjail not found on PATH or NSJAIL_PATH (see \
             docs/backends/nsjail.md)"
        );
        return None;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let layer = std::fs::canonicalize(atlas_sandbox::config::EXAMPLE_SEMANTIC_ROOT).unwrap();
    // The bare run is the plain jail (`layer = "read-only"`): with the default overlay the
    // config binds paths that exist only in the sandbox's own namespace, which a bare nsjail
    // started on the host cannot see. The overlay's own cost shows in the rows below.
    let plugin = NsjailPlugin::new(
        NsjailConfig {
            layer: atlas_sandbox_nsjail::LayerMode::ReadOnly,
            ..NsjailConfig::default()
        },
        &PluginContext::default(),
    )
    .unwrap();
    let sandbox = rt
        .block_on(plugin.create_jail(&SemanticLayer::open(&layer).unwrap()))
        .unwrap();
    let log = sandbox.dir().join("bare.log");
    let args = exec_args(
        sandbox.config_file(),
        &log,
        atlas_sandbox_sdk::DEFAULT_TIMEOUT,
        "",
        atlas_sandbox_sdk::Shell::default(),
        "true",
    );
    modes.push(Mode {
        name: "bare nsjail (same config and argv)".into(),
        program: nsjail,
        args,
        samples: Vec::new(),
    });
    modes.push(Mode::new(
        "atlas-sandbox exec --backend nsjail true",
        bin,
        &["exec", "--backend", "nsjail", "true"],
    ));
    // The same with a config file, as a deployment runs it: `[sandbox]` pins nsjail and names
    // the layer, so that table is read and checked. Then the same jail as the bare row
    // (`layer = "read-only"`, no holder process), which also makes the nsjail table checked.
    let pinned =
        format!("[sandbox]\nbackend = \"nsjail\"\nsemantic_root = {layer:?}\ntimeout = \"10s\"\n");
    for (file, extra, label) in [
        (
            "bench-atlas.toml",
            "",
            "atlas-sandbox exec --config <file pinning nsjail> true",
        ),
        (
            "bench-atlas-ro.toml",
            "\n[plugins.nsjail]\nlayer = \"read-only\"\n",
            "atlas-sandbox exec --config <file pinning nsjail, layer read-only> true",
        ),
    ] {
        let path = sandbox.dir().join(file);
        std::fs::write(&path, format!("{pinned}{extra}")).unwrap();
        let path = path.to_string_lossy().into_owned();
        modes.push(Mode::new(label, bin, &["exec", "--config", &path, "true"]));
    }
    // Unpinned, the highest-priority backend that comes up wins: the warm jail when it is
    // compiled in (the default features), else nsjail. Not an nsjail row, so no ratio to it.
    modes.push(Mode::new(
        "atlas-sandbox exec true (unpinned)",
        bin,
        &["exec", "true"],
    ));
    Some(Box::new((rt, sandbox)))
}
