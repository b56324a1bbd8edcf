//! Escape checklist rows this backend must hold (F1–F5, R6, I1), checked directly on the
//! engine with hostile layers. (The shared battery in tests/contract.rs runs them too.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};
use atlas_sandbox_sdk::ExecOutput;

const SECRET: &str = "TOPSECRET-4711";

fn layer() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("semantic");
    std::fs::create_dir_all(root.join("entities")).unwrap();
    std::fs::write(root.join("catalog.yml"), "name: shop\n").unwrap();
    std::fs::write(root.join("entities/orders.yml"), "name: orders\n").unwrap();
    std::fs::write(tmp.path().join("secret.txt"), SECRET).unwrap();
    let evil = tmp.path().join("semantic_evil");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::write(evil.join("leak.yml"), SECRET).unwrap();
    (tmp, root)
}

fn run(root: &Path, script: &str) -> ExecOutput {
    let engine = Engine::new(Some(root), &JustBashConfig::default()).unwrap();
    engine
        .exec_script(script, "", Duration::from_secs(10), 1 << 20)
        .unwrap()
}

fn assert_no_secret(out: &ExecOutput, what: &str) {
    let all = format!("{}{}", out.stdout_str(), out.stderr_str());
    assert!(!all.contains(SECRET), "{what} leaked the secret: {out:?}");
}

#[test]
fn f1_writes_never_reach_the_disk() {
    let (_t, root) = layer();
    let before = std::fs::read(root.join("catalog.yml")).unwrap();
    let out = run(
        &root,
        "echo x > catalog.yml; echo y >> entities/orders.yml; rm -r entities; mv catalog.yml c.yml; \
         sed -i s/shop/x/ c.yml; touch new.yml; mkdir d; cat c.yml; ls",
    );
    assert_eq!(out.stdout_str(), "x\nc.yml\nd\nnew.yml\n", "{out:?}");
    assert_eq!(std::fs::read(root.join("catalog.yml")).unwrap(), before);
    assert_eq!(
        std::fs::read_to_string(root.join("entities/orders.yml")).unwrap(),
        "name: orders\n"
    );
    assert!(!root.join("new.yml").exists() && !root.join("d").exists());
}

#[test]
fn f1_sessions_are_isolated_but_execs_share_their_sandbox() {
    let (_t, root) = layer();
    let a = Engine::new(Some(&root), &JustBashConfig::default()).unwrap();
    let b = Engine::new(Some(&root), &JustBashConfig::default()).unwrap();
    let d = Duration::from_secs(5);
    a.exec_script("echo mine > /tmp/note; rm catalog.yml", "", d, 1024)
        .unwrap();
    assert_eq!(
        a.exec_script("cat /tmp/note; ls", "", d, 1024)
            .unwrap()
            .stdout_str(),
        "mine\nentities\n"
    );
    let other = b.exec_script("cat /tmp/note; ls", "", d, 1024).unwrap();
    assert_eq!(other.stdout_str(), "catalog.yml\nentities\n");
    assert_eq!(other.exit_code, 0);
}

#[test]
fn f2_f4_host_paths_are_not_visible() {
    let (_t, root) = layer();
    for script in [
        "cat /etc/passwd",
        "cat ../../../../etc/passwd",
        "cat /proc/self/root/etc/passwd",
        "cat /proc/1/environ",
        "ls /root/.ssh",
        "cd ..; cd ..; cd ..; cat etc/shadow",
        "cat //etc//passwd",
        "cat /var/run/docker.sock",
    ] {
        let out = run(&root, script);
        assert_ne!(out.exit_code, 0, "{script}: {out:?}");
        assert!(!out.stdout_str().contains("root:"), "{script}: {out:?}");
    }
    let out = run(&root, "cd ../../..; pwd; ls");
    assert_eq!(
        out.stdout_str(),
        "/\nbin\ndev\nsemantic\ntmp\nusr\n",
        "the sandbox root is virtual: {out:?}"
    );
    let long = format!("cat {}", "a/".repeat(3000));
    assert_ne!(run(&root, &long).exit_code, 0);
}

#[test]
fn f3_symlinks_out_of_the_layer_are_never_followed() {
    let (tmp, root) = layer();
    symlink(tmp.path().join("secret.txt"), root.join("abs.yml")).unwrap();
    symlink("../secret.txt", root.join("rel.yml")).unwrap();
    symlink("../../secret.txt", root.join("entities/deep.yml")).unwrap();
    symlink(tmp.path().join("semantic_evil"), root.join("evil_dir")).unwrap();
    symlink("loop_b", root.join("loop_a")).unwrap();
    symlink("loop_a", root.join("loop_b")).unwrap();
    symlink(".", root.join("entities/self")).unwrap();
    for script in [
        "cat abs.yml",
        "cat rel.yml entities/deep.yml",
        "cat evil_dir/leak.yml",
        "ls evil_dir",
        "cat loop_a",
        "grep -r TOPSECRET .",
        "grep -rn . evil_dir",
        "find . -type f | xargs cat",
        "find . -follow -name '*.yml' -exec cat {} +",
        "cat */*.yml *.yml",
        "cd evil_dir && cat leak.yml",
        "head -c 100 abs.yml; tail rel.yml; wc -c abs.yml; sort abs.yml; sed p abs.yml; awk 1 abs.yml",
        "ls -laR",
    ] {
        let out = run(&root, script);
        assert_no_secret(&out, script);
    }
    // Symlinks are listed (as links), never resolved.
    let out = run(&root, "ls -la");
    assert!(out.stdout_str().contains("abs.yml"), "{out:?}");
    assert!(
        out.stdout_str()
            .lines()
            .any(|l| l.starts_with('l') && l.ends_with("abs.yml")),
        "{out:?}"
    );
}

#[test]
fn f5_a_file_swapped_for_a_symlink_mid_run_stays_confined() {
    let (tmp, root) = layer();
    let dir = root.join("entities");
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = stop.clone();
        let dir = dir.clone();
        let outside = tmp.path().join("semantic_evil");
        std::thread::spawn(move || {
            let parked = dir.with_file_name("entities.real");
            while !stop.load(Ordering::Relaxed) {
                if std::fs::rename(&dir, &parked).is_ok() {
                    let _ = symlink(&outside, &dir);
                    std::thread::yield_now();
                    let _ = std::fs::remove_file(&dir);
                    let _ = std::fs::rename(&parked, &dir);
                }
            }
        })
    };
    let engine = Engine::new(Some(&root), &JustBashConfig::default()).unwrap();
    for _ in 0..300 {
        let out = engine
            .exec_script(
                "grep -r . entities; cat entities/leak.yml; ls entities",
                "",
                Duration::from_secs(5),
                1 << 20,
            )
            .unwrap();
        assert_no_secret(&out, "swap race");
    }
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
}

#[test]
fn fifos_and_large_files_are_refused_without_blocking() {
    let (_t, root) = layer();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("pipe.yml"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    std::fs::write(root.join("big.yml"), vec![b'x'; 5000]).unwrap();
    let mut config = JustBashConfig::default();
    config.limits.max_file_bytes = 1000;
    let engine = Engine::new(Some(&root), &config).unwrap();
    let out = engine
        .exec_script(
            "cat pipe.yml; echo rc=$?; grep -r x . | wc -l; cat big.yml; echo rc=$?",
            "",
            Duration::from_secs(5),
            1 << 20,
        )
        .unwrap();
    assert!(!out.timed_out, "{out:?}");
    assert!(out.stdout_str().starts_with("rc=1\n"), "{out:?}");
    assert!(
        out.stderr_str().contains("big.yml: File too large"),
        "{out:?}"
    );
}

#[test]
fn i1_host_environment_never_leaks() {
    // `set_var` is unsafe in edition 2024 (and this crate forbids unsafe), so check variables the
    // test process already has: cargo's own and the host's PATH.
    let host_path = std::env::var("PATH").unwrap_or_default();
    let (_t, root) = layer();
    let out = run(
        &root,
        "env; echo \"$PATH|$HOME|$CARGO_MANIFEST_DIR|$CARGO\"",
    );
    let text = out.stdout_str();
    assert!(
        text.contains("PATH=/usr/bin:/bin\n") && text.contains("HOME=/tmp\n"),
        "{out:?}"
    );
    assert!(!text.contains("CARGO"), "{out:?}");
    if host_path != "/usr/bin:/bin" {
        assert!(!text.contains(&host_path), "{out:?}");
    }
}

#[test]
fn r6_binary_and_invalid_utf8_are_faithful() {
    let (_t, root) = layer();
    std::fs::write(root.join("bin.dat"), [0u8, 159, 146, 150, 255, b'\n']).unwrap();
    let out = run(&root, "cat bin.dat; printf '\\377\\376ok\\n'");
    assert_eq!(
        out.stdout,
        [0u8, 159, 146, 150, 255, b'\n', 255, 254, b'o', b'k', b'\n']
    );
}
