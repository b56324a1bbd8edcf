//! Files (F): the layer stays unchanged and nothing outside it can be reached through it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::ErrorKind;

use super::{
    Ctx, QUICK, RowResult, broke, distinctive_environ, held, hidden_echo, leaks, req, run_all,
    run_all_and_close, verdict,
};
use crate::host::{Attempt, attempt, diff, snapshot};
use crate::{SandboxFactory, example_layer};

impl<F: SandboxFactory> Ctx<'_, F> {
    /// F1: every kind of write leaves the host's source files byte-identical.
    pub(super) async fn f1(&self) -> RowResult {
        let (root, sb) = self.open_fresh("f1").await?;
        let before = snapshot(&root).map_err(|e| format!("cannot snapshot the layer: {e}"))?;
        let commands = [
            "echo pwned > catalog.yml",
            ": > glossary.yml",
            "printf x >> entities/customers.yml",
            "rm -f entities/orders.yml",
            "mv entities/products.yml entities/moved.yml",
            "chmod 000 entities/payments.yml",
            "sed -i 's/customer_id/pwned/g' entities/refunds.yml",
            "touch -d '2000-01-01' entities/returns.yml",
            "touch new.yml && mkdir -p newdir",
            "ln -s /etc/passwd entities/link.yml",
            "rm -rf metrics groups",
        ];
        let results = run_all(sb.as_ref(), &commands, QUICK).await;
        // The sandbox must still answer after the attempts (an error, not a crash).
        let after_all = attempt(sb.as_ref(), req("cat catalog.yml", QUICK)).await;
        let _ = sb.close().await;
        let after = snapshot(&root).map_err(|e| format!("cannot re-read the layer: {e}"))?;
        let mut reasons: Vec<String> = diff(&before, &after, 6)
            .into_iter()
            .map(|c| format!("host file {c}"))
            .collect();
        reasons.extend(leaks(&results, &[]));
        if broke(&after_all) {
            reasons.push(format!(
                "the sandbox broke after the writes: {}",
                after_all.summary()
            ));
        }
        Ok(verdict(&reasons, || {
            let refused = results
                .iter()
                .filter(|(_, a)| !matches!(a, Attempt::Ran(o) if o.exit_code == 0))
                .count();
            format!(
                "host files unchanged; {refused}/{} writes refused, any others changed only a private copy",
                results.len()
            )
        }))
    }

    /// F2: host secrets stay invisible.
    pub(super) async fn f2(&self) -> RowResult {
        let mut secrets = self.canary_secrets();
        let mut notes = Vec::new();
        // /etc/shadow: only lines with a password hash are secret (a container's own shadow
        // file may share the hash-less system lines with the host's).
        match std::fs::read_to_string("/etc/shadow") {
            Ok(s) => {
                let hashed: Vec<&str> = s
                    .lines()
                    .filter(|l| l.split(':').nth(1).is_some_and(|p| p.starts_with('$')))
                    .collect();
                if hashed.is_empty() {
                    notes.push("host /etc/shadow holds no password hash");
                }
                for line in hashed {
                    secrets.push((
                        "a password hash of the host's /etc/shadow".into(),
                        line.into(),
                    ));
                }
            }
            Err(_) => notes.push("host /etc/shadow unreadable by the test"),
        }
        let ssh_files = std::fs::read_dir("/root/.ssh")
            .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default();
        if ssh_files.is_empty() {
            notes.push("host has no /root/.ssh");
        }
        for path in ssh_files {
            if let Ok(text) = std::fs::read_to_string(&path) {
                for line in text.lines().filter(|l| l.trim().len() >= 20) {
                    secrets.push((
                        format!("a line of the host's {}", path.display()),
                        line.into(),
                    ));
                }
            }
        }
        for entry in distinctive_environ("/proc/1/environ") {
            secrets.push(("a variable of the host's /proc/1/environ".into(), entry));
        }
        if let Some(cfg) = &self.opts.host_config_path {
            match std::fs::read_to_string(cfg) {
                Ok(text) => {
                    for line in text
                        .lines()
                        .map(str::trim)
                        .filter(|l| l.len() >= 8 && !l.starts_with('#') && !l.starts_with('['))
                    {
                        secrets.push((format!("a line of {}", cfg.display()), line.into()));
                    }
                }
                Err(e) => notes.push(if e.kind() == std::io::ErrorKind::NotFound {
                    "host_config_path does not exist"
                } else {
                    "host_config_path unreadable by the test"
                }),
            }
        }
        let docker_socket = std::fs::symlink_metadata("/var/run/docker.sock")
            .map(|m| {
                use std::os::unix::fs::FileTypeExt;
                m.file_type().is_socket()
            })
            .unwrap_or(false);
        if docker_socket {
            secrets.push((
                "the host's Docker socket".into(),
                b"DOCKER-SOCKET-VISIBLE".to_vec(),
            ));
            secrets.push(("the host's Docker API".into(), b"ApiVersion".to_vec()));
        } else {
            notes.push("host has no Docker socket");
        }
        let mut commands: Vec<String> = vec![
            "cat /etc/shadow".into(),
            "ls -la /root/.ssh; cat /root/.ssh/* ~/.ssh/*".into(),
            "cat /proc/1/environ; tr '\\0' '\\n' < /proc/1/environ".into(),
            format!(
                "ls -la /var/run/docker.sock; [ -S /var/run/docker.sock ] && {}",
                hidden_echo("DOCKER-SOCKET-VISIBLE")
            ),
            "curl -s -m 3 --unix-socket /var/run/docker.sock http://localhost/version".into(),
            format!("cat {}", self.ws.canary_file.display()),
            format!("cat {}", self.ws.fake_config.display()),
            format!("grep -r api_key {}", self.ws.dir.display()),
        ];
        if let Some(cfg) = &self.opts.host_config_path {
            commands.push(format!("cat {}", cfg.display()));
        }
        let results = self.attack("f2", &commands, QUICK).await?;
        Ok(verdict(&leaks(&results, &secrets), || {
            format!("{} secrets checked; {}", secrets.len(), notes.join(", "))
        }))
    }

    /// F3: a layer with symlinks pointing out of it (absolute, `../`, a sibling
    /// `semantic_evil`, loops).
    pub(super) async fn f3(&self) -> RowResult {
        let base = self.ws.dir.join("f3");
        let root = base.join("semantic");
        build_f3_layer(&base, &root, &self.ws.canary_file, &self.ws.canary)
            .map_err(|e| format!("cannot build the symlink layer: {e}"))?;
        let sb = match self.open(&root).await {
            Ok(sb) => sb,
            // Refusing a hostile layer outright is confinement too.
            Err(e) => return Ok(held(format!("the backend refused the layer: {e}"))),
        };
        let commands = [
            "cat evil_abs.yml",
            "cat evil_rel.yml",
            "cat deep_rel.yml",
            "cat evil_dir/leak.yml",
            "cat evil_abs_dir/leak.yml",
            "ls -la etc_link/ | head -5",
            "grep -r ATLAS-CANARY .",
            "grep -rn leaked .",
            "find -L . -name '*.yml' | head -200",
            "ls -R | head -300",
            "cat loop_a",
            "cat self/self/self/catalog.yml | head -2",
        ];
        let results = run_all_and_close(sb, &commands, Duration::from_secs(8)).await;
        let mut reasons = leaks(&results, &self.canary_secrets());
        for (cmd, a) in &results {
            if matches!(a, Attempt::Ran(o) if o.timed_out) {
                reasons.push(format!("`{cmd}` did not end (timed out)"));
            }
        }
        Ok(verdict(&reasons, || {
            format!("{} commands over 8 hostile symlinks", results.len())
        }))
    }

    /// F4: `..` past the root, `/proc/self/root`, `/proc/1/root`, `//`, very long paths.
    pub(super) async fn f4(&self) -> RowResult {
        let (_root, sb) = self.open_fresh("f4").await?;
        let abs = self.ws.canary_file.display().to_string();
        let rel = abs.trim_start_matches('/').to_owned();
        let commands = vec![
            "cd .. && ls -la && cd .. && ls -la && cat canary_secret.txt".to_owned(),
            "cat ../../canary_secret.txt".to_owned(),
            format!("cd ../../../../../../../../../.. && pwd && cat {rel}"),
            format!("cat /proc/self/root{abs}"),
            format!("cat /proc/1/root{abs}"),
            "cat /proc/self/cwd/../../canary_secret.txt".to_owned(),
            format!("cat /{abs}; cat ///{abs}"),
            format!("cat {}{rel}", "../".repeat(600)),
            format!("cd / && cat .{abs}"),
            format!(
                "ls -la /proc/self/root{}",
                parent_display(&self.ws.canary_file)
            ),
        ];
        let results = run_all(sb.as_ref(), &commands, QUICK).await;
        let mut reasons = leaks(&results, &self.canary_secrets());
        for cwd in ["..", "../..", "entities/../../..", "/", "a\nb"] {
            match attempt(sb.as_ref(), req("ls", QUICK).cwd(cwd)).await {
                Attempt::Refused(e) if e.kind() == ErrorKind::InvalidRequest => {}
                other => reasons.push(format!(
                    "cwd {cwd:?} was not refused as an invalid request: {}",
                    other.summary()
                )),
            }
        }
        let _ = sb.close().await;
        Ok(verdict(&reasons, || {
            format!("{} path tricks, 5 cwd escapes refused", commands.len())
        }))
    }

    /// F5: a file and a directory swapped for symlinks out of the layer while commands run and
    /// while sandboxes are being created over the layer.
    pub(super) async fn f5(&self) -> RowResult {
        let base = self.ws.dir.join("f5");
        let root = base.join("semantic");
        let evil = base.join("evil");
        let setup = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(root.join("sub"))?;
            std::fs::create_dir_all(&evil)?;
            std::fs::copy(
                example_layer().join("catalog.yml"),
                root.join("catalog.yml"),
            )?;
            std::fs::write(root.join("race.yml"), "race: ok\n")?;
            std::fs::write(root.join("sub/ok.yml"), "ok: true\n")?;
            std::fs::write(
                evil.join("leak.yml"),
                format!("leaked: {}\n", self.ws.canary),
            )?;
            Ok(())
        })();
        setup.map_err(|e| format!("cannot build the race layer: {e}"))?;
        let swapper = Swapper::start(root.clone(), self.ws.canary_file.clone(), evil);
        let commands = [
            "cat race.yml",
            "cat sub/leak.yml sub/ok.yml",
            "grep -r ATLAS-CANARY .",
            "cat race.yml sub/* 2>&1 | head -20",
        ];
        if !swapper.wait_first_swap(Duration::from_secs(2)) {
            return Err("the swapping thread made no swap: the race was not run".into());
        }
        let mut reasons = Vec::new();
        let mut create_errors = 0;
        let mut execs = 0;
        let mut sandboxes = 0;
        // Creations race with the swaps too (backends that copy the layer when they start).
        let deadline = Instant::now() + Duration::from_secs(3);
        while (Instant::now() < deadline || sandboxes < 2) && sandboxes < 200 && reasons.is_empty()
        {
            // A fast (in-process) backend would otherwise finish before the swapper got going.
            tokio::time::sleep(Duration::from_millis(5)).await;
            sandboxes += 1;
            let sb = match self.open(&root).await {
                Ok(sb) => sb,
                Err(_) => {
                    create_errors += 1;
                    continue;
                }
            };
            for _ in 0..3 {
                let results = run_all(sb.as_ref(), &commands, QUICK).await;
                execs += results.len();
                reasons.extend(leaks(&results, &self.canary_secrets()));
            }
            let _ = sb.close().await;
        }
        let swaps = swapper.stop();
        reasons.dedup();
        Ok(verdict(&reasons, || {
            format!(
                "{execs} execs in {sandboxes} sandboxes during {swaps} swaps; {create_errors} creations refused"
            )
        }))
    }
}

fn parent_display(p: &Path) -> String {
    p.parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

pub(super) fn build_f3_layer(
    base: &Path,
    root: &Path,
    canary_file: &Path,
    canary: &str,
) -> std::io::Result<()> {
    use std::os::unix::fs::symlink;
    std::fs::create_dir_all(root.join("entities"))?;
    std::fs::copy(
        example_layer().join("catalog.yml"),
        root.join("catalog.yml"),
    )?;
    std::fs::copy(
        example_layer().join("entities/orders.yml"),
        root.join("entities/orders.yml"),
    )?;
    let evil = base.join("semantic_evil");
    std::fs::create_dir_all(&evil)?;
    std::fs::write(evil.join("leak.yml"), format!("leaked: {canary}\n"))?;
    std::fs::write(base.join("secret.txt"), format!("{canary}\n"))?;
    let depth = "../".repeat(20);
    let canary_rel = canary_file.display().to_string();
    symlink(canary_file, root.join("evil_abs.yml"))?;
    symlink("../secret.txt", root.join("evil_rel.yml"))?;
    symlink(
        format!("{depth}{}", canary_rel.trim_start_matches('/')),
        root.join("deep_rel.yml"),
    )?;
    symlink("../semantic_evil", root.join("evil_dir"))?;
    symlink(&evil, root.join("evil_abs_dir"))?;
    symlink(format!("{depth}etc"), root.join("etc_link"))?;
    symlink("loop_b", root.join("loop_a"))?;
    symlink("loop_a", root.join("loop_b"))?;
    symlink(".", root.join("self"))?;
    Ok(())
}

/// Swaps `race.yml` and `sub/` of a layer for symlinks out of it, over and over, on a thread.
struct Swapper {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Swapper {
    fn start(root: PathBuf, canary_file: PathBuf, evil_dir: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicUsize::new(0));
        let (s, n) = (stop.clone(), swaps.clone());
        let thread = std::thread::spawn(move || {
            use std::os::unix::fs::symlink;
            let race = root.join("race.yml");
            let sub = root.join("sub");
            let sub_real = root.join(".sub_real");
            while !s.load(Ordering::Relaxed) {
                let lnk = root.join(".race_lnk");
                let _ = symlink(&canary_file, &lnk);
                let _ = std::fs::rename(&lnk, &race);
                let _ = std::fs::rename(&sub, &sub_real);
                let _ = symlink(&evil_dir, &sub);
                std::thread::sleep(Duration::from_micros(300));
                let tmp = root.join(".race_tmp");
                let _ = std::fs::write(&tmp, "race: ok\n");
                let _ = std::fs::rename(&tmp, &race);
                let _ = std::fs::remove_file(&sub);
                let _ = std::fs::rename(&sub_real, &sub);
                n.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(300));
            }
        });
        Swapper {
            stop,
            swaps,
            thread: Some(thread),
        }
    }

    /// Waits until the thread has swapped once (it may start late on a busy machine).
    fn wait_first_swap(&self, patience: Duration) -> bool {
        let until = Instant::now() + patience;
        while self.swaps.load(Ordering::Relaxed) == 0 {
            if Instant::now() > until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Stops the thread and returns how many swap cycles it made.
    fn stop(mut self) -> usize {
        self.halt();
        self.swaps.load(Ordering::Relaxed)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        self.halt();
    }
}
