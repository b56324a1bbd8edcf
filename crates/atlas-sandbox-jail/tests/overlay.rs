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

use atlas_sandbox_jail::{JailConfig, LayerMode};
use atlas_sandbox_sdk::Sandbox;

const ROLE: &str = "unprivileged";

fn runs_here() -> bool {
    match common::child_role().as_deref() {
        None => true,
        Some(role) => role == ROLE,
    }
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

/// A copy of the example layer, what its files are before the test, and the jail's plugin over
/// it (`None`: not run here, or skipped).
struct Layer {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    before: BTreeMap<String, String>,
    plugin: atlas_sandbox_jail::JailPlugin,
}

impl Layer {
    fn new(test: &str, config: JailConfig) -> Option<Layer> {
        if !runs_here() {
            return None;
        }
        let plugin = common::plugin_or_skip(test, config)?;
        let (tmp, root) = atlas_sandbox_testkit::copy_example_layer();
        let before = snapshot(&root);
        Some(Layer {
            _tmp: tmp,
            root,
            before,
            plugin,
        })
    }

    async fn sandbox(&self) -> atlas_sandbox_jail::JailSandbox {
        common::sandbox(&self.plugin, &self.root).await
    }

    /// The host's copy is byte for byte, mode, time and owner what it was.
    fn assert_unchanged(&self) {
        assert_eq!(
            snapshot(&self.root),
            self.before,
            "the host's layer changed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_stay_in_the_sandbox() {
    let Some(layer) = Layer::new("overlay writes", JailConfig::default()) else {
        return;
    };
    let a = layer.sandbox().await;
    let b = layer.sandbox().await;
    common::expect(
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
    common::expect(
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
    common::expect(
        &b,
        "ls newfile.yml new link.yml 2>&1 | wc -l; test -f entities/orders.yml && \
         test -d metrics && test -f glossary.yml && echo intact; stat -c '%a' entities/payments.yml",
        0,
        "3\nintact\n644\n",
        "",
    )
    .await;
    // The overlay's upper and work directories are nowhere in the jail's view.
    common::expect(&a, "ls -A /tmp | wc -l", 0, "0\n", "").await;
    // The layer stays noexec, written scripts included.
    common::expect(
        &a,
        "printf '#!/bin/sh\\necho ran\\n' > s.sh; chmod +x s.sh; ./s.sh; echo rc=$?",
        0,
        "rc=126\n",
        "/bin/bash: line 1: ./s.sh: Permission denied\n",
    )
    .await;
    let _ = a.close().await;
    let _ = b.close().await;
    layer.assert_unchanged();
}

#[test]
fn writes_stay_in_the_sandbox_unprivileged() {
    common::rerun_unprivileged_from_root("writes_stay_in_the_sandbox", ROLE);
}

/// The layer's changes live in the sandbox's tmpfs with `/tmp`: one size and one inode budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_changes_share_the_tmp_bound() {
    let config = JailConfig {
        tmpfs_size_mb: 2,
        max_file_size_mb: 8,
        ..JailConfig::default()
    };
    let Some(layer) = Layer::new("overlay bound", config) else {
        return;
    };
    let sb = layer.sandbox().await;
    common::expect(
        &sb,
        "head -c 3000000 /dev/zero > big.yml 2>/dev/null; echo rc=$?",
        0,
        "rc=1\n",
        "",
    )
    .await;
    // What /tmp holds leaves that much less for the layer, and back.
    common::expect(
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
    layer.assert_unchanged();
}

#[test]
fn the_changes_share_the_tmp_bound_unprivileged() {
    common::rerun_unprivileged_from_root("the_changes_share_the_tmp_bound", ROLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_layer_refuses_writes() {
    let config = JailConfig {
        layer: LayerMode::ReadOnly,
        ..JailConfig::default()
    };
    let Some(layer) = Layer::new("read-only layer", config) else {
        return;
    };
    let sb = layer.sandbox().await;
    common::expect(
        &sb,
        "echo x > newfile.yml",
        1,
        "",
        "/bin/bash: line 1: newfile.yml: Read-only file system\n",
    )
    .await;
    common::expect(
        &sb,
        "rm catalog.yml",
        1,
        "",
        "rm: cannot remove 'catalog.yml': Read-only file system\n",
    )
    .await;
    common::expect(&sb, "echo t > /tmp/t; cat /tmp/t", 0, "t\n", "").await;
    let _ = sb.close().await;
    layer.assert_unchanged();
}

#[test]
fn read_only_layer_refuses_writes_unprivileged() {
    common::rerun_unprivileged_from_root("read_only_layer_refuses_writes", ROLE);
}
