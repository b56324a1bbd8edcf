//! The one-shot path (`atlas-sandbox exec`) with the real nsjail backend: no health-check jail,
//! no jail for a backend that is not pinned, one jail per command, a broken nsjail passed over
//! (or refused under a pin), and the `backends` report still running the real check.
//!
//! nsjail here is a wrapper script that counts its runs: around the real nsjail when there is
//! one (PATH or NSJAIL_PATH), else a stand-in that fails the way a host without user namespaces
//! does. Tests needing the real one print `SKIPPED:` without it.
#![cfg(feature = "nsjail")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use atlas_sandbox::config::{self, LoadOptions};
use atlas_sandbox::{Config, Host, registry};

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("semantic");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("catalog.yml"), "name: shop\n").unwrap();
        for d in [dir.path(), root.as_path()] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(
            root.join("catalog.yml"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        Fixture { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("semantic")
    }

    fn count_file(&self) -> PathBuf {
        self.dir.path().join("nsjail-runs")
    }

    /// Runs of the wrapper so far.
    fn runs(&self) -> usize {
        std::fs::read_to_string(self.count_file())
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// A wrapper that records each run, then runs `real` (or fails as nsjail does when it
    /// cannot build a jail: exit 255, a fatal line on stderr).
    fn wrapper(&self, real: Option<&Path>) -> PathBuf {
        let path = self.dir.path().join("nsjail");
        let tail = match real {
            Some(r) => format!("exec {} \"$@\"\n", r.display()),
            None => {
                "echo '[F][2026-12-03T10:00:00+0000] clone(flags=CLONE_NEWUSER): Operation not \
                     permitted' >&2\nexit 255\n"
                    .to_owned()
            }
        };
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho run >> {}\n{tail}",
                self.count_file().display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn config(&self, nsjail: &Path, pin: Option<&str>) -> Config {
        let mut text = format!(
            // The warm jail (priority 78, on by default) stays out, so the backend after nsjail is
            // just-bash and the jail counts below are nsjail's alone.
            "[sandbox]\nsemantic_root = {:?}\n\n[plugins.jail]\nenabled = false\n\n\
             [plugins.nsjail]\nnsjail_path = {:?}\n",
            self.root().display().to_string(),
            nsjail.display().to_string()
        );
        if let Some(p) = pin {
            text = text.replacen("[sandbox]\n", &format!("[sandbox]\nbackend = {p:?}\n"), 1);
        }
        let file = self.dir.path().join("atlas.toml");
        std::fs::write(&file, text).unwrap();
        config::load(&LoadOptions {
            config_file: Some(file),
            env: Vec::new(),
            cwd: self.dir.path().to_path_buf(),
            descriptors: registry::compiled_in(),
            example_root: PathBuf::from(config::EXAMPLE_SEMANTIC_ROOT),
            only_backend: None,
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }
}

fn real_nsjail() -> Option<PathBuf> {
    atlas_sandbox_nsjail::locate::find_nsjail_here(None).ok()
}

async fn one_command(config: &Config, command: &str) -> Result<(String, String), String> {
    let host = Host::for_one_command(config).map_err(|e| e.to_string())?;
    let result = host
        .exec(&config.sandbox.semantic_root, host.request(command))
        .await;
    host.shutdown().await;
    result.map(|(id, out)| (id, String::from_utf8_lossy(&out.stdout).into_owned()))
}

#[tokio::test]
async fn a_pinned_backend_starts_no_jail_for_another() {
    let f = Fixture::new();
    let nsjail = f.wrapper(real_nsjail().as_deref());
    let (id, out) = one_command(&f.config(&nsjail, Some("just-bash")), "cat catalog.yml")
        .await
        .unwrap();
    assert_eq!((id.as_str(), out.as_str()), ("just-bash", "name: shop\n"));
    assert_eq!(f.runs(), 0, "nsjail ran although just-bash is pinned");
}

#[tokio::test]
async fn one_command_on_nsjail_runs_one_jail() {
    let Some(real) = real_nsjail() else {
        println!(
            "SKIPPED: one_command_on_nsjail_runs_one_jail: nsjail not found on PATH or \
             NSJAIL_PATH (see docs/backends/nsjail.md)"
        );
        return;
    };
    let f = Fixture::new();
    let nsjail = f.wrapper(Some(&real));
    for pin in [None, Some("nsjail")] {
        let before = f.runs();
        let (id, out) = one_command(&f.config(&nsjail, pin), "cat catalog.yml")
            .await
            .unwrap();
        assert_eq!((id.as_str(), out.as_str()), ("nsjail", "name: shop\n"));
        assert_eq!(
            f.runs() - before,
            1,
            "jails run for one command (pin {pin:?})"
        );
    }
}

#[tokio::test]
async fn a_broken_nsjail_is_passed_over_refused_under_a_pin_and_reported_unhealthy() {
    let f = Fixture::new();
    let broken = f.wrapper(None);

    // Unpinned: the first command could not run, so the next backend runs it.
    let (id, out) = one_command(&f.config(&broken, None), "cat catalog.yml")
        .await
        .unwrap();
    assert_eq!((id.as_str(), out.as_str()), ("just-bash", "name: shop\n"));
    assert_eq!(f.runs(), 1, "one attempt, no health-check jail");

    // Pinned: no fallback, and the reason is nsjail's own.
    let e = one_command(&f.config(&broken, Some("nsjail")), "cat catalog.yml")
        .await
        .unwrap_err();
    assert!(e.contains("could not set up the jail"), "{e}");
    assert!(e.contains("CLONE_NEWUSER"), "{e}");

    // The report still runs the real check and says nsjail is unhealthy, and why.
    let config = f.config(&broken, None);
    let host = Host::from_config(&config).await.unwrap();
    let report = host.report().await;
    let ns = report.backends.iter().find(|b| b.id == "nsjail").unwrap();
    let health = ns.health.as_ref().expect("nsjail was health-checked");
    assert!(!health.healthy, "{}", health.message);
    assert!(
        health.message.contains("CLONE_NEWUSER"),
        "{}",
        health.message
    );
    assert!(!ns.selected);
    assert_eq!(report.selected.as_deref(), Some("just-bash"));
}

#[tokio::test]
async fn a_healthy_nsjail_is_reported_healthy_by_a_real_jail() {
    let Some(real) = real_nsjail() else {
        println!(
            "SKIPPED: a_healthy_nsjail_is_reported_healthy_by_a_real_jail: nsjail not found on \
             PATH or NSJAIL_PATH"
        );
        return;
    };
    let f = Fixture::new();
    let nsjail = f.wrapper(Some(&real));
    let host = Host::from_config(&f.config(&nsjail, None)).await.unwrap();
    let report = host.report().await;
    let ns = report.backends.iter().find(|b| b.id == "nsjail").unwrap();
    assert!(ns.health.as_ref().unwrap().healthy);
    assert_eq!(f.runs(), 1, "the health check is one real jail");
    assert_eq!(report.selected.as_deref(), Some("nsjail"));
}
