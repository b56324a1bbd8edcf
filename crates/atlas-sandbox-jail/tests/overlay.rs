//! `layer = "overlay"` (the default): writes, deletes and renames in `/semantic` succeed, stay
//! for the sandbox's later commands, are invisible to any other sandbox and never touch the
//! host's files; the changes share `/tmp`'s size bound; the layer stays noexec.
//! `layer = "read-only"` refuses every write as before. Each test runs as the current user and,
//! when that is root, again as an unprivileged user (root idmaps the layer, the unprivileged
//! host does not need to).

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use atlas_sandbox_jail::{JailConfig, JailSandbox, LayerMode};
use atlas_sandbox_sdk::{ExecOutput, ExecRequest, Sandbox};

const ROLE: &str = "unprivileged";

fn runs_here() -> bool {
    match common::child_role().as_deref() {
        None => true,
        Some(role) => role == ROLE,
    }
}

fn rerun_unprivileged(test: &str) {
    if common::child_role().is_some() || !common::is_root() {
        return;
    }
    common::rerun_unprivileged(test, ROLE);
}

async fn run(sb: &JailSandbox, command: &str) -> ExecOutput {
    sb.exec(ExecRequest::new(command))
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"))
}

async fn expect(sb: &JailSandbox, command: &str, code: i32, stdout: &str, stderr: &str) {
    let out = run(sb, command).await;
    assert_eq!(
        (
            out.exit_code,
            String::from_utf8_lossy(&out.stdout).as_ref(),
            String::from_utf8_lossy(&out.stderr).as_ref()
        ),
        (code, stdout, stderr),
        "{command}"
    );
}

/// Every entry under `root`, without following symlinks: bytes, mode, mtime, owner, link target.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let meta = std::fs::symlink_metadata(dir).expect("stat");
        out.insert(
            dir.strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .into_owned(),
            format!(
                "dir {:o} {}.{} {}:{}",
                meta.mode(),
                meta.mtime(),
                meta.mtime_nsec(),
                meta.uid(),
                meta.gid()
            ),
        );
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            if meta.is_dir() {
                walk(root, &path, out);
                continue;
            }
            let what = if meta.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&path).expect("readlink"))
            } else {
                format!("{:?}", std::fs::read(&path).expect("read"))
            };
            out.insert(
                path.strip_prefix(root)
                    .expect("under the root")
                    .to_string_lossy()
                    .into_owned(),
                format!(
                    "{:o} {}.{} {}:{} {what}",
                    meta.mode(),
                    meta.mtime(),
                    meta.mtime_nsec(),
                    meta.uid(),
                    meta.gid()
                ),
            );
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_stay_in_the_sandbox() {
    if !runs_here() {
        return;
    }
    let Some(plugin) = common::plugin_or_skip("overlay writes", JailConfig::default()) else {
        return;
    };
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let before = snapshot(&root);
    let a = common::sandbox(&plugin, &root).await;
    let b = common::sandbox(&plugin, &root).await;
    expect(
        &a,
        "echo x > newfile.yml; sed -i 's/^/# /' catalog.yml; rm entities/orders.yml; \
         mv entities/products.yml entities/moved.yml; mkdir -p new/deep; mv glossary.yml new/deep/; \
         chmod 600 entities/payments.yml; touch -d 2000-01-01 entities/returns.yml; \
         ln -s /etc/passwd link.yml; rm -rf metrics; echo done",
        0,
        "done\n",
        "",
    )
    .await;
    // A later command of the same sandbox sees every change.
    expect(
        &a,
        "cat newfile.yml; head -c 2 catalog.yml; echo; ls entities/orders.yml metrics 2>&1; \
         ls entities/moved.yml new/deep/glossary.yml; stat -c '%a' entities/payments.yml; \
         date -u -r entities/returns.yml +%Y; readlink link.yml; cat link.yml 2>&1; \
         test -e entities/products.yml || echo gone",
        0,
        "x\n# \nls: cannot access 'entities/orders.yml': No such file or directory\n\
         ls: cannot access 'metrics': No such file or directory\n\
         entities/moved.yml\nnew/deep/glossary.yml\n600\n2000\n/etc/passwd\n\
         cat: link.yml: No such file or directory\ngone\n",
        "",
    )
    .await;
    // Another sandbox over the same layer sees none of it.
    expect(
        &b,
        "ls newfile.yml new link.yml 2>&1 | wc -l; test -f entities/orders.yml && \
         test -d metrics && test -f glossary.yml && echo intact; stat -c '%a' entities/payments.yml",
        0,
        "3\nintact\n644\n",
        "",
    )
    .await;
    // The overlay's upper and work directories are nowhere in the jail's view.
    expect(&a, "ls -A /tmp | wc -l", 0, "0\n", "").await;
    // The layer stays noexec, written scripts included.
    expect(
        &a,
        "printf '#!/bin/sh\\necho ran\\n' > s.sh; chmod +x s.sh; ./s.sh; echo rc=$?",
        0,
        "rc=126\n",
        "/bin/bash: line 1: ./s.sh: Permission denied\n",
    )
    .await;
    let _ = a.close().await;
    let _ = b.close().await;
    assert_eq!(snapshot(&root), before, "the host's layer changed");
}

#[test]
fn writes_stay_in_the_sandbox_unprivileged() {
    rerun_unprivileged("writes_stay_in_the_sandbox");
}

/// The layer's changes live in the sandbox's tmpfs with `/tmp`: one size and one inode budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_changes_share_the_tmp_bound() {
    if !runs_here() {
        return;
    }
    let config = JailConfig {
        tmpfs_size_mb: 2,
        max_file_size_mb: 8,
        ..JailConfig::default()
    };
    let Some(plugin) = common::plugin_or_skip("overlay bound", config) else {
        return;
    };
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let before = snapshot(&root);
    let sb = common::sandbox(&plugin, &root).await;
    expect(
        &sb,
        "head -c 3000000 /dev/zero > big.yml 2>/dev/null; echo rc=$?",
        0,
        "rc=1\n",
        "",
    )
    .await;
    // What /tmp holds leaves that much less for the layer, and back.
    expect(
        &sb,
        "rm big.yml; head -c 1500000 /dev/zero > /tmp/f; \
         head -c 1000000 /dev/zero > big.yml 2>/dev/null; echo rc=$?; \
         rm /tmp/f; head -c 1000000 /dev/zero > big.yml; echo rc=$?",
        0,
        "rc=1\nrc=0\n",
        "",
    )
    .await;
    let _ = sb.close().await;
    assert_eq!(snapshot(&root), before, "the host's layer changed");
}

#[test]
fn the_changes_share_the_tmp_bound_unprivileged() {
    rerun_unprivileged("the_changes_share_the_tmp_bound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_layer_refuses_writes() {
    if !runs_here() {
        return;
    }
    let config = JailConfig {
        layer: LayerMode::ReadOnly,
        ..JailConfig::default()
    };
    let Some(plugin) = common::plugin_or_skip("read-only layer", config) else {
        return;
    };
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let before = snapshot(&root);
    let sb = common::sandbox(&plugin, &root).await;
    expect(
        &sb,
        "echo x > newfile.yml",
        1,
        "",
        "/bin/bash: line 1: newfile.yml: Read-only file system\n",
    )
    .await;
    expect(
        &sb,
        "rm catalog.yml",
        1,
        "",
        "rm: cannot remove 'catalog.yml': Read-only file system\n",
    )
    .await;
    expect(&sb, "echo t > /tmp/t; cat /tmp/t", 0, "t\n", "").await;
    let _ = sb.close().await;
    assert_eq!(snapshot(&root), before, "the host's layer changed");
}

#[test]
fn read_only_layer_refuses_writes_unprivileged() {
    rerun_unprivileged("read_only_layer_refuses_writes");
}
