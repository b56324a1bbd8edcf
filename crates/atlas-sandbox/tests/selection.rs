//! Backend selection with in-test plugins: priority order, create fall-through, pins failing
//! closed, production refusing just-bash, the one overall health deadline, and the cache.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use atlas_sandbox::config::{Origin, SandboxSettings};
use atlas_sandbox::{Host, PluginSlot};
use atlas_sandbox_sdk::{
    Error, ExecOutput, ExecRequest, HealthStatus, Result, Sandbox, SandboxPlugin, SecurityProfile,
    SemanticLayer, async_trait,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Health {
    Healthy,
    Unhealthy,
    Hangs,
    Panics,
    BlocksThread,
}

#[derive(Debug, Default)]
struct Counters {
    creates: AtomicUsize,
    closes: AtomicUsize,
}

#[derive(Debug)]
struct Fake {
    id: &'static str,
    priority: i32,
    health: Health,
    create_fails: bool,
    exec_unavailable: bool,
    counters: Arc<Counters>,
}

#[derive(Debug)]
struct FakeSandbox {
    id: &'static str,
    exec_unavailable: bool,
    counters: Arc<Counters>,
}

#[async_trait]
impl SandboxPlugin for Fake {
    fn id(&self) -> &'static str {
        self.id
    }
    fn priority(&self) -> i32 {
        self.priority
    }
    fn security(&self) -> SecurityProfile {
        SecurityProfile {
            network_isolation: self.id != "just-bash",
            filesystem_isolation: true,
            unprivileged_execution: true,
            description: format!("fake {}", self.id),
            caveats: vec![],
        }
    }
    async fn health_check(&self) -> HealthStatus {
        match self.health {
            Health::Healthy => HealthStatus::healthy("ok", Duration::from_millis(1)),
            Health::Unhealthy => {
                HealthStatus::unhealthy("service unreachable", Duration::from_millis(1))
            }
            Health::Panics => panic!("bug in a health check"),
            Health::BlocksThread => {
                std::thread::sleep(Duration::from_secs(1));
                HealthStatus::healthy("late", Duration::from_secs(1))
            }
            Health::Hangs => {
                std::future::pending::<()>().await;
                HealthStatus::healthy("never", Duration::ZERO)
            }
        }
    }
    async fn create(&self, _layer: &SemanticLayer) -> Result<Box<dyn Sandbox>> {
        self.counters.creates.fetch_add(1, Ordering::SeqCst);
        if self.create_fails {
            return Err(Error::unavailable("quota exceeded").with_backend(self.id));
        }
        Ok(Box::new(FakeSandbox {
            id: self.id,
            exec_unavailable: self.exec_unavailable,
            counters: self.counters.clone(),
        }))
    }
}

#[async_trait]
impl Sandbox for FakeSandbox {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        request.validate()?;
        if self.exec_unavailable {
            return Err(Error::unavailable("cannot build the jail").with_backend(self.id));
        }
        Ok(ExecOutput {
            stdout: self.id.as_bytes().to_vec(),
            stderr: Vec::new(),
            exit_code: 0,
            timed_out: false,
            stdout_truncated: false,
            stderr_truncated: false,
            duration: Duration::ZERO,
        })
    }
    async fn close(&self) -> Result<()> {
        self.counters.closes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    settings: SandboxSettings,
    counters: Vec<(&'static str, Arc<Counters>)>,
    slots: Vec<PluginSlot>,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("semantic");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("catalog.yml"), "name: shop\n").unwrap();
        Setup {
            settings: SandboxSettings::new(&root),
            _dir: dir,
            root,
            counters: Vec::new(),
            slots: Vec::new(),
        }
    }

    fn plugin(
        mut self,
        id: &'static str,
        priority: i32,
        health: Health,
        create_fails: bool,
    ) -> Self {
        let counters = Arc::new(Counters::default());
        self.counters.push((id, counters.clone()));
        self.slots.push(PluginSlot::ready(Box::new(Fake {
            id,
            priority,
            health,
            create_fails,
            exec_unavailable: false,
            counters,
        })));
        self
    }

    /// A backend whose sandboxes cannot run anything (`exec` says `Unavailable`).
    fn broken_exec(mut self, id: &'static str, priority: i32) -> Self {
        let counters = Arc::new(Counters::default());
        self.counters.push((id, counters.clone()));
        self.slots.push(PluginSlot::ready(Box::new(Fake {
            id,
            priority,
            health: Health::Healthy,
            create_fails: false,
            exec_unavailable: true,
            counters,
        })));
        self
    }

    fn closes(&self, id: &str) -> usize {
        self.counters
            .iter()
            .find(|(i, _)| *i == id)
            .unwrap()
            .1
            .closes
            .load(Ordering::SeqCst)
    }

    fn one_shot(&mut self) -> Host {
        Host::deferred(self.settings.clone(), std::mem::take(&mut self.slots))
    }

    fn creates(&self, id: &str) -> usize {
        self.counters
            .iter()
            .find(|(i, _)| *i == id)
            .unwrap()
            .1
            .creates
            .load(Ordering::SeqCst)
    }

    async fn start(&mut self) -> Host {
        Host::start(self.settings.clone(), std::mem::take(&mut self.slots)).await
    }
}

async fn run_on(host: &Host, root: &std::path::Path) -> std::result::Result<String, String> {
    let sb = host.sandbox_for(root).await.map_err(|e| e.to_string())?;
    let out = sb
        .exec(host.request("ls"))
        .await
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8(out.stdout).unwrap())
}

#[tokio::test]
async fn highest_priority_healthy_backend_wins() {
    let mut s = Setup::new()
        .plugin("just-bash", 0, Health::Healthy, false)
        .plugin("nsjail", 75, Health::Healthy, false)
        .plugin("e2b", 90, Health::Unhealthy, false)
        .plugin("sidecar", 50, Health::Healthy, false);
    let host = s.start().await;
    assert_eq!(run_on(&host, &s.root).await.unwrap(), "nsjail");
    let report = host.report().await;
    assert_eq!(report.selected.as_deref(), Some("nsjail"));
    let e2b = report.backends.iter().find(|b| b.id == "e2b").unwrap();
    assert!(e2b.reason.contains("service unreachable"), "{}", e2b.reason);
    let sidecar = report.backends.iter().find(|b| b.id == "sidecar").unwrap();
    assert!(
        sidecar.reason.contains("lower in the order"),
        "{}",
        sidecar.reason
    );
    assert_eq!(
        s.creates("e2b"),
        0,
        "an unhealthy backend is never asked to create"
    );
}

#[tokio::test]
async fn priority_override_and_explicit_list_reorder() {
    let mut s = Setup::new();
    s = s.plugin("nsjail", 75, Health::Healthy, false).plugin(
        "sidecar",
        50,
        Health::Healthy,
        false,
    );
    let sidecar = s.slots.pop().unwrap().with_priority(80);
    s.slots.push(sidecar);
    let host = s.start().await;
    assert_eq!(run_on(&host, &s.root).await.unwrap(), "sidecar");

    let mut s = Setup::new()
        .plugin("nsjail", 75, Health::Healthy, false)
        .plugin("sidecar", 50, Health::Healthy, false)
        .plugin("just-bash", 0, Health::Healthy, false);
    s.settings.priority = Some(vec!["just-bash".into(), "sidecar".into()]);
    let host = s.start().await;
    assert_eq!(run_on(&host, &s.root).await.unwrap(), "just-bash");
    let order: Vec<_> = host
        .report()
        .await
        .backends
        .iter()
        .filter_map(|b| b.order.map(|o| (o, b.id.clone())))
        .collect();
    assert_eq!(
        order,
        [
            (1, "just-bash".into()),
            (2, "sidecar".into()),
            (3, "nsjail".into())
        ]
    );
}

#[tokio::test]
async fn create_failure_falls_through_and_keeps_every_reason() {
    let mut s = Setup::new()
        .plugin("e2b", 90, Health::Healthy, true)
        .plugin("nsjail", 75, Health::Healthy, true)
        .plugin("sidecar", 50, Health::Healthy, false);
    let host = s.start().await;
    assert_eq!(run_on(&host, &s.root).await.unwrap(), "sidecar");
    assert_eq!((s.creates("e2b"), s.creates("nsjail")), (1, 1));

    let mut s = Setup::new()
        .plugin("e2b", 90, Health::Healthy, true)
        .plugin("nsjail", 75, Health::Unhealthy, false)
        .plugin("daytona", 85, Health::Healthy, true);
    let host = s.start().await;
    let err = host.sandbox_for(&s.root).await.unwrap_err();
    let reasons: Vec<_> = err.rejected.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(reasons, ["e2b", "daytona", "nsjail"]);
    let text = err.to_string();
    assert!(
        text.contains("e2b: create failed: e2b: unavailable: quota exceeded"),
        "{text}"
    );
    assert!(
        text.contains("nsjail: unhealthy: service unreachable"),
        "{text}"
    );
}

#[tokio::test]
async fn a_pin_fails_closed() {
    // Unhealthy pin: no fallback although healthy backends exist.
    let mut s = Setup::new()
        .plugin("nsjail", 75, Health::Unhealthy, false)
        .plugin("just-bash", 0, Health::Healthy, false);
    s.settings.backend = Some((
        "nsjail".into(),
        Origin::Env {
            var: "ATLAS_SANDBOX".into(),
        },
    ));
    let host = s.start().await;
    let err = host.sandbox_for(&s.root).await.unwrap_err().to_string();
    assert!(
        err.contains("pinned (environment variable ATLAS_SANDBOX)"),
        "{err}"
    );
    assert!(err.contains("never falls back"), "{err}");
    assert_eq!(s.creates("just-bash"), 0);
    assert_eq!(host.report().await.selected, None);

    // Healthy pin whose create fails: refused too.
    let mut s = Setup::new()
        .plugin("e2b", 90, Health::Healthy, true)
        .plugin("nsjail", 75, Health::Healthy, false);
    s.settings.backend = Some(("e2b".into(), Origin::Default));
    let host = s.start().await;
    let err = host.sandbox_for(&s.root).await.unwrap_err().to_string();
    assert!(err.contains("create failed"), "{err}");
    assert_eq!(s.creates("nsjail"), 0);

    // A pin wins over higher priorities.
    let mut s = Setup::new()
        .plugin("e2b", 90, Health::Healthy, false)
        .plugin("nsjail", 75, Health::Healthy, false);
    s.settings.backend = Some(("nsjail".into(), Origin::Default));
    let host = s.start().await;
    assert_eq!(run_on(&host, &s.root).await.unwrap(), "nsjail");

    // Pinning a backend that is not there.
    let mut s = Setup::new().plugin("just-bash", 0, Health::Healthy, false);
    s.settings.backend = Some(("vercel".into(), Origin::Default));
    let host = s.start().await;
    let err = host.sandbox_for(&s.root).await.unwrap_err().to_string();
    assert!(err.contains("--features vercel"), "{err}");
}

#[tokio::test]
async fn production_refuses_just_bash_unless_allowed() {
    let mut s = Setup::new()
        .plugin("nsjail", 75, Health::Unhealthy, false)
        .plugin("just-bash", 0, Health::Healthy, false);
    s.settings.production = true;
    let host = s.start().await;
    let err = host.sandbox_for(&s.root).await.unwrap_err().to_string();
    assert!(err.contains("just-bash: refused: production mode"), "{err}");
    assert!(err.contains("nsjail: unhealthy"), "{err}");
    assert_eq!(s.creates("just-bash"), 0);

    let mut s = Setup::new()
        .plugin("nsjail", 75, Health::Unhealthy, false)
        .plugin("just-bash", 0, Health::Healthy, false);
    s.settings.production = true;
    s.settings.allow_just_bash_in_production = true;
    let host = s.start().await;
    assert_eq!(run_on(&host, &s.root).await.unwrap(), "just-bash");
    let report = host.report().await;
    assert!(
        report.selection.contains("SECURITY DEGRADATION"),
        "{}",
        report.selection
    );

    // Pinning just-bash in production is refused as well.
    let mut s = Setup::new().plugin("just-bash", 0, Health::Healthy, false);
    s.settings.production = true;
    s.settings.backend = Some(("just-bash".into(), Origin::Default));
    let host = s.start().await;
    assert!(host.sandbox_for(&s.root).await.is_err());
}

#[tokio::test]
async fn one_overall_deadline_bounds_hanging_health_checks() {
    let mut s = Setup::new()
        .plugin("vercel", 100, Health::Hangs, false)
        .plugin("e2b", 90, Health::Hangs, false)
        .plugin("daytona", 85, Health::Hangs, false)
        .plugin("nsjail", 75, Health::Hangs, false)
        .plugin("sidecar", 50, Health::Hangs, false)
        .plugin("just-bash", 0, Health::Healthy, false);
    s.settings.health_check_timeout = Duration::from_millis(300);
    let t0 = Instant::now();
    let host = s.start().await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1500),
        "five hanging checks took {took:?} with a 300ms overall deadline"
    );
    let report = host.report().await;
    let vercel = report.backends.iter().find(|b| b.id == "vercel").unwrap();
    let h = vercel.health.as_ref().unwrap();
    assert!(!h.healthy);
    assert!(
        h.message.contains("overall health-check deadline"),
        "{}",
        h.message
    );
    assert_eq!(run_on(&host, &s.root).await.unwrap(), "just-bash");
}

#[tokio::test]
async fn sandboxes_are_cached_per_root_and_closed_on_shutdown() {
    let mut s = Setup::new().plugin("nsjail", 75, Health::Healthy, false);
    let other = s._dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let host = s.start().await;
    run_on(&host, &s.root).await.unwrap();
    run_on(&host, &s.root).await.unwrap();
    run_on(&host, &s.root.join(".")).await.unwrap();
    assert_eq!(s.creates("nsjail"), 1, "one sandbox per semantic root");
    run_on(&host, &other).await.unwrap();
    assert_eq!(s.creates("nsjail"), 2);
    assert_eq!(host.report().await.in_use.len(), 2);
    assert!(host.shutdown().await.is_empty());
    let closes = s.counters[0].1.closes.load(Ordering::SeqCst);
    assert_eq!(closes, 2);
    assert!(host.report().await.in_use.is_empty());
}

#[tokio::test]
async fn no_backend_and_missing_root_give_clear_errors() {
    let mut s = Setup::new();
    let host = s.start().await;
    let err = host.sandbox_for(&s.root).await.unwrap_err().to_string();
    assert!(
        err.contains("no backend compiled in: build with --features just-bash"),
        "{err}"
    );

    let mut s = Setup::new().plugin("nsjail", 75, Health::Healthy, false);
    let host = s.start().await;
    let err = host
        .sandbox_for(&s.root.join("missing"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not usable"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_or_thread_blocking_health_check_is_contained() {
    let mut s = Setup::new()
        .plugin("e2b", 90, Health::Panics, false)
        .plugin("vercel", 100, Health::BlocksThread, false)
        .plugin("nsjail", 75, Health::Healthy, false);
    s.settings.health_check_timeout = Duration::from_millis(300);
    let t0 = Instant::now();
    let host = s.start().await;
    assert!(
        t0.elapsed() < Duration::from_millis(2000),
        "{:?}",
        t0.elapsed()
    );
    let report = host.report().await;
    let e2b = report.backends.iter().find(|b| b.id == "e2b").unwrap();
    assert!(!e2b.health.as_ref().unwrap().healthy);
    assert!(
        e2b.health.as_ref().unwrap().message.contains("failed"),
        "{:?}",
        e2b.health
    );
    assert_eq!(run_on(&host, &s.root).await.unwrap(), "nsjail");
}

/// One command runs no health check (a panicking or hanging one is never called), creates in
/// priority order, and falls through on a failed create as the eager host does.
#[tokio::test]
async fn a_one_shot_host_runs_no_health_checks() {
    let mut s = Setup::new()
        .plugin("vercel", 100, Health::Hangs, true)
        .plugin("nsjail", 75, Health::Panics, false)
        .plugin("just-bash", 0, Health::Unhealthy, false);
    let host = s.one_shot();
    let (id, out) = host.exec(&s.root, host.request("ls")).await.unwrap();
    assert_eq!(
        (id.as_str(), out.stdout.as_slice()),
        ("nsjail", &b"nsjail"[..])
    );
    assert_eq!(
        (
            s.creates("vercel"),
            s.creates("nsjail"),
            s.creates("just-bash")
        ),
        (1, 1, 0)
    );
    // The sandbox is cached for the next command on the same root.
    let (id, _) = host.exec(&s.root, host.request("ls")).await.unwrap();
    assert_eq!(id, "nsjail");
    assert_eq!(s.creates("nsjail"), 1);
    assert!(host.shutdown().await.is_empty());
}

/// A first command that could not run at all is a failed create: closed, passed over, the next
/// backend runs it, and the reason is kept; under a pin there is no fallback.
#[tokio::test]
async fn a_first_command_that_cannot_run_falls_through_unless_pinned() {
    let mut s =
        Setup::new()
            .broken_exec("nsjail", 75)
            .plugin("just-bash", 0, Health::Healthy, false);
    let host = s.one_shot();
    let (id, out) = host.exec(&s.root, host.request("ls")).await.unwrap();
    assert_eq!(
        (id.as_str(), out.stdout.as_slice()),
        ("just-bash", &b"just-bash"[..])
    );
    assert_eq!(s.closes("nsjail"), 1, "the unusable sandbox is closed");

    let mut s =
        Setup::new()
            .broken_exec("nsjail", 75)
            .plugin("just-bash", 0, Health::Healthy, false);
    s.settings.backend = Some(("nsjail".into(), Origin::Default));
    let host = s.one_shot();
    let e = host.exec(&s.root, host.request("ls")).await.unwrap_err();
    assert!(e.contains("cannot build the jail"), "{e}");
    assert_eq!(s.creates("just-bash"), 0, "a pin never falls back");

    // Nothing usable at all: every reason is listed.
    let mut s = Setup::new()
        .broken_exec("nsjail", 75)
        .broken_exec("sidecar", 50);
    let host = s.one_shot();
    let e = host.exec(&s.root, host.request("ls")).await.unwrap_err();
    assert!(e.contains("nsjail: the first command could not run"), "{e}");
    assert!(
        e.contains("sidecar: the first command could not run"),
        "{e}"
    );
}
