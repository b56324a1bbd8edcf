//! `layer = "overlay"` (the default): a sandbox's writes to `/semantic` and `/tmp` succeed, are
//! seen by its later commands and by no other sandbox, stay within its tmpfs bound, never touch
//! the host's files, and go with the sandbox (no holder process, no mount left anywhere).
//! Without nsjail the tests print `SKIPPED: ...` and pass.

mod common;

use atlas_sandbox_nsjail::{LayerMode, NsjailConfig};
use atlas_sandbox_sdk::Sandbox;
use common::Fixture;

fn cfg() -> NsjailConfig {
    NsjailConfig {
        tmpfs_size_mb: 4,
        tmpfs_max_inodes: 200,
        ..NsjailConfig::default()
    }
}

/// The processes with a mount on the sandbox directory `dir` in their mount table: its holder
/// (and jails running in its namespace).
fn holders_of(dir: &std::path::Path) -> Vec<i32> {
    let dir = dir.display().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).is_ok_and(|m| m.contains(&dir))
        {
            out.push(pid);
        }
    }
    out
}

#[tokio::test]
async fn writes_are_kept_for_the_sandbox_and_the_host_files_are_untouched() {
    let Some(f) = Fixture::new("overlay_writes_are_kept", cfg()).await else {
        return;
    };
    if common::is_root() {
        // A file of another owner than the layer's: bash run by the layer's owner may read it
        // and not change it, and so may the jail user.
        std::os::unix::fs::chown(
            f.layer.root.join("metrics/revenue.yml"),
            Some(4242),
            Some(4242),
        )
        .expect("chown");
    }
    let before = f.layer.snapshot();
    // The corpus's two writes into the layer, as bash on its own copy answers them.
    let out = f
        .run("echo x > newfile.yml; cat newfile.yml; ls newfile.yml")
        .await;
    assert_eq!(out.stdout_str(), "x\nnewfile.yml\n", "{out:?}");
    let out = f
        .run("sed -i 's/name/NAME/' catalog.yml; echo \"exit=$?\"; head -1 catalog.yml")
        .await;
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert!(out.stdout_str().starts_with("exit=0\n"), "{out:?}");
    assert!(out.stdout_str().contains("NAME"), "{out:?}");
    // Later commands of the same sandbox see them, and /tmp.
    let out = f
        .run("echo kept > /tmp/t; mkdir -p notes && echo n > notes/a.txt")
        .await;
    assert_eq!(out.exit_code, 0, "{out:?}");
    let out = f
        .run("cat /tmp/t newfile.yml notes/a.txt; grep -c NAME catalog.yml")
        .await;
    assert_eq!(out.stdout_str(), "kept\nx\nn\n1\n", "{out:?}");
    // Another sandbox over the same layer sees none of it.
    let other = f
        .plugin
        .create_jail(&f.layer.open())
        .await
        .expect("second sandbox");
    let out = other
        .exec(atlas_sandbox_sdk::ExecRequest::new(
            "ls /tmp; ls newfile.yml notes 2>&1; grep -c NAME catalog.yml",
        ))
        .await
        .expect("exec");
    assert!(!out.stdout_str().contains("kept"), "{out:?}");
    assert!(out.stdout_str().contains("No such file"), "{out:?}");
    assert!(out.stdout_str().ends_with("0\n"), "{out:?}");
    other.close().await.expect("close");
    // The layer owner's files: as root the overlay's lower layer is an idmapped clone in which
    // that owner is the jail user; unprivileged, the host user owns the layer and the jail user
    // is that user. Either way changing them succeeds, as in bash's copy, and the host's file
    // stays as it was.
    let out = f
        .run("echo y > entities/orders.yml; echo \"exit=$?\"; cat entities/orders.yml; ls -ln entities/orders.yml")
        .await;
    assert!(out.stdout_str().starts_with("exit=0\ny\n"), "{out:?}");
    if common::is_root() {
        let jail = format!(
            " {} {} ",
            NsjailConfig::default().jail_uid,
            NsjailConfig::default().jail_gid
        );
        assert!(
            out.stdout_str().contains(&jail),
            "owned by the jail user: {out:?}"
        );
        let out = f
            .run("head -1 metrics/revenue.yml; echo z >> metrics/revenue.yml; echo \"exit=$?\"")
            .await;
        assert!(
            out.stdout_str().starts_with("name: revenue\nexit=1\n"),
            "{out:?}"
        );
        assert!(out.stderr_str().contains("Permission denied"), "{out:?}");
    }
    assert_eq!(f.layer.snapshot(), before, "the host's layer changed");
}

#[tokio::test]
async fn the_state_is_bounded_by_the_tmpfs() {
    let Some(f) = Fixture::new("overlay_state_is_bounded", cfg()).await else {
        return;
    };
    // 4 MiB for the layer's changes and /tmp together (files of at most 8 MiB each: the rlimit).
    let out = f
        .run("head -c 3M /dev/zero > /tmp/a; head -c 3M /dev/zero > big.bin; echo \"exit=$?\"")
        .await;
    assert!(out.stdout_str().contains("exit=1"), "{out:?}");
    assert!(out.stderr_str().contains("No space left"), "{out:?}");
    let out = f
        .run("for i in $(seq 300); do : > f$i || break; done; echo $i")
        .await;
    let made: u32 = out.stdout_str().trim().parse().expect("a number");
    assert!(made < 300, "inodes unbounded: {out:?}");
}

#[tokio::test]
async fn closing_ends_the_holder_and_leaves_nothing() {
    let Some(f) = Fixture::new("overlay_closing_ends_the_holder", cfg()).await else {
        return;
    };
    f.run("echo x > /tmp/x").await;
    let dir = f.sandbox.dir().to_path_buf();
    assert_eq!(holders_of(&dir).len(), 1, "one holder per sandbox");
    f.sandbox.close().await.expect("close");
    assert!(!dir.exists(), "the sandbox directory is left");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !holders_of(&dir).is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(holders_of(&dir).is_empty(), "a holder outlived its sandbox");
}

#[tokio::test]
async fn read_only_keeps_nothing_and_refuses_writes() {
    let config = NsjailConfig {
        layer: LayerMode::ReadOnly,
        ..cfg()
    };
    let Some(f) = Fixture::new("overlay_read_only_mode", config).await else {
        return;
    };
    let out = f.run("echo x > newfile.yml").await;
    assert_ne!(out.exit_code, 0);
    assert!(
        out.stderr_str().contains("Read-only file system"),
        "{out:?}"
    );
    f.run("echo kept > /tmp/t").await;
    let out = f.run("cat /tmp/t").await;
    assert_ne!(out.exit_code, 0, "{out:?}");
    assert!(holders_of(f.sandbox.dir()).is_empty());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(&f.sandbox.dir().display().to_string()));
}
