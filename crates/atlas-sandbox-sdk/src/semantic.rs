//! The semantic layer: where it is, and how to collect its files without leaving it.
//!
//! Collection is what every backend that copies files (the cloud ones) uses. It never follows a
//! symlink out of the root: a symlink is resolved and kept only if its target is inside the root
//! when compared component by component (so a sibling `semantic_evil` does not pass a
//! `semantic` root), directory cycles are broken by (device, inode), sockets, FIFOs and devices
//! are skipped, and totals are bounded.

use std::collections::HashSet;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The default maximum number of files collected.
pub(crate) const DEFAULT_MAX_FILES: usize = 10_000;
/// The default maximum total bytes collected.
pub(crate) const DEFAULT_MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
/// The default maximum size of one file.
pub(crate) const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// The default maximum directory depth.
pub(crate) const DEFAULT_MAX_DEPTH: usize = 64;

/// A semantic layer directory, resolved once to its canonical path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SemanticLayer {
    root: PathBuf,
}

impl SemanticLayer {
    /// Opens a semantic layer: the path must exist and be a directory. It is canonicalised, so
    /// later checks compare real paths.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let root = std::fs::canonicalize(path).map_err(|e| {
            Error::config(format!(
                "semantic root {} cannot be opened: {e}",
                path.display()
            ))
        })?;
        let meta = std::fs::metadata(&root).map_err(|e| {
            Error::config(format!(
                "semantic root {} cannot be read: {e}",
                root.display()
            ))
        })?;
        if !meta.is_dir() {
            return Err(Error::config(format!(
                "semantic root {} is not a directory",
                root.display()
            )));
        }
        std::fs::read_dir(&root).map_err(|e| {
            Error::config(format!(
                "semantic root {} cannot be listed: {e}",
                root.display()
            ))
        })?;
        Ok(SemanticLayer { root })
    }

    /// The canonical root path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Collects every regular file under the root, within `limits`.
    pub fn collect(&self, limits: &CollectLimits) -> Result<CollectedLayer> {
        collect(&self.root, limits)
    }

    /// [`Self::collect`] on tokio's blocking pool: a remote backend's `create` reads the whole
    /// layer from disk and must not stall the async workers meanwhile.
    pub async fn collect_off_runtime(&self, limits: CollectLimits) -> Result<CollectedLayer> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || collect(&root, &limits))
            .await
            .map_err(|e| {
                Error::backend_failure("collecting the semantic layer failed").with_source(e)
            })?
    }
}

/// Bounds on what [`SemanticLayer::collect`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectLimits {
    /// Most files.
    pub max_files: usize,
    /// Most bytes in total.
    pub max_total_bytes: u64,
    /// Largest single file; larger ones are an error (not silently skipped).
    pub max_file_bytes: u64,
    /// Deepest directory nesting.
    pub max_depth: usize,
}

impl Default for CollectLimits {
    fn default() -> Self {
        CollectLimits {
            max_files: DEFAULT_MAX_FILES,
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// One collected file.
#[derive(Clone, PartialEq, Eq)]
pub struct CollectedFile {
    /// The path relative to the root, `/`-separated (always UTF-8: other names are skipped).
    pub path: String,
    /// The exact bytes.
    pub contents: Vec<u8>,
    /// The permission bits (e.g. 0o644).
    pub mode: u32,
}

impl std::fmt::Debug for CollectedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectedFile")
            .field("path", &self.path)
            .field("len", &self.contents.len())
            .field("mode", &format_args!("{:o}", self.mode))
            .finish()
    }
}

/// Why an entry was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The path relative to the root (lossy if not UTF-8).
    pub path: String,
    /// Why.
    pub reason: String,
}

/// The result of a collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectedLayer {
    /// Regular files, in a stable (sorted) order.
    pub files: Vec<CollectedFile>,
    /// Directories (relative paths), sorted, including empty ones.
    pub dirs: Vec<String>,
    /// Entries left out, with the reason (each is also logged as a warning).
    pub skipped: Vec<SkippedEntry>,
    /// Sum of the file sizes.
    pub total_bytes: u64,
}

struct Walker<'a> {
    root: &'a Path,
    limits: &'a CollectLimits,
    out: CollectedLayer,
    visited: HashSet<(u64, u64)>,
}

fn collect(root: &Path, limits: &CollectLimits) -> Result<CollectedLayer> {
    let root_meta = std::fs::metadata(root).map_err(|e| {
        Error::config(format!(
            "semantic root {} cannot be read: {e}",
            root.display()
        ))
    })?;
    let mut w = Walker {
        root,
        limits,
        out: CollectedLayer::default(),
        visited: HashSet::from([(root_meta.dev(), root_meta.ino())]),
    };
    w.walk_dir(root, "", 0)?;
    w.out.files.sort_by(|a, b| a.path.cmp(&b.path));
    w.out.dirs.sort();
    Ok(w.out)
}

impl Walker<'_> {
    fn skip(&mut self, rel: &str, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::warn!(path = rel, %reason, "skipping semantic layer entry");
        self.out.skipped.push(SkippedEntry {
            path: rel.to_owned(),
            reason,
        });
    }

    fn walk_dir(&mut self, dir: &Path, rel: &str, depth: usize) -> Result<()> {
        if depth > self.limits.max_depth {
            return Err(Error::config(format!(
                "semantic layer is nested deeper than {} directories at {rel:?}",
                self.limits.max_depth
            )));
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                self.skip(rel, format!("directory cannot be listed: {e}"));
                return Ok(());
            }
        };
        let mut names: Vec<_> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            let Some(name_str) = name.to_str() else {
                let lossy = join_rel(rel, &name.to_string_lossy());
                self.skip(&lossy, "file name is not UTF-8");
                continue;
            };
            if name_str.contains('\n') {
                let r = join_rel(rel, name_str);
                self.skip(&r, "file name contains a newline");
                continue;
            }
            let child_rel = join_rel(rel, name_str);
            let path = dir.join(&name);
            let lmeta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.skip(&child_rel, format!("cannot be read: {e}"));
                    continue;
                }
            };
            let ft = lmeta.file_type();
            if ft.is_symlink() {
                self.visit_symlink(&path, &child_rel, depth)?;
            } else if ft.is_dir() {
                self.enter_dir(&path, &child_rel, &lmeta, depth)?;
            } else if ft.is_file() {
                self.read_file(&path, &child_rel, &lmeta, false)?;
            } else {
                self.skip(
                    &child_rel,
                    "not a regular file or directory (socket, FIFO or device)",
                );
            }
        }
        Ok(())
    }

    fn enter_dir(&mut self, path: &Path, rel: &str, meta: &Metadata, depth: usize) -> Result<()> {
        if !self.visited.insert((meta.dev(), meta.ino())) {
            self.skip(rel, "directory already visited (symlink cycle)");
            return Ok(());
        }
        self.out.dirs.push(rel.to_owned());
        self.walk_dir(path, rel, depth + 1)
    }

    fn visit_symlink(&mut self, path: &Path, rel: &str, depth: usize) -> Result<()> {
        let real = match std::fs::canonicalize(path) {
            Ok(r) => r,
            Err(e) => {
                self.skip(rel, format!("symlink cannot be resolved: {e}"));
                return Ok(());
            }
        };
        // Component-wise containment: `/x/semantic_evil` does not start with `/x/semantic`.
        if !real.starts_with(self.root) {
            let target = std::fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            self.skip(
                rel,
                format!("symlink escapes the semantic root (-> {target})"),
            );
            return Ok(());
        }
        let meta = match std::fs::metadata(&real) {
            Ok(m) => m,
            Err(e) => {
                self.skip(rel, format!("symlink target cannot be read: {e}"));
                return Ok(());
            }
        };
        if meta.is_dir() {
            self.enter_dir(&real, rel, &meta, depth)
        } else if meta.is_file() {
            self.read_file(&real, rel, &meta, true)
        } else {
            self.skip(rel, "symlink to a socket, FIFO or device");
            Ok(())
        }
    }

    fn read_file(&mut self, path: &Path, rel: &str, meta: &Metadata, via_link: bool) -> Result<()> {
        if self.out.files.len() >= self.limits.max_files {
            return Err(Error::config(format!(
                "semantic layer has more than {} files (limit max_files)",
                self.limits.max_files
            )));
        }
        if meta.len() > self.limits.max_file_bytes {
            return Err(Error::config(format!(
                "semantic layer file {rel:?} is {} bytes; the limit is {} (max_file_bytes)",
                meta.len(),
                self.limits.max_file_bytes
            )));
        }
        // O_NOFOLLOW: if the entry was swapped for a symlink since we looked, the open fails
        // instead of reading whatever the new link points at. O_NONBLOCK: a FIFO swapped in does
        // not block us.
        let file = File::options()
            .read(true)
            .custom_flags(libc_flags::O_NOFOLLOW | libc_flags::O_NONBLOCK)
            .open(path);
        let mut file = match file {
            Ok(f) => f,
            Err(e) => {
                self.skip(rel, format!("cannot be opened: {e}"));
                return Ok(());
            }
        };
        let fmeta = match file.metadata() {
            Ok(m) => m,
            Err(e) => {
                self.skip(rel, format!("cannot be read: {e}"));
                return Ok(());
            }
        };
        if !fmeta.is_file() || fmeta.dev() != meta.dev() || fmeta.ino() != meta.ino() {
            self.skip(rel, "changed while being collected");
            return Ok(());
        }
        if via_link {
            // The target was inside the root when resolved; make sure it still is.
            match std::fs::canonicalize(path) {
                Ok(again) if again.starts_with(self.root) => {}
                _ => {
                    self.skip(rel, "symlink target moved out of the semantic root");
                    return Ok(());
                }
            }
        }
        let mut contents = Vec::with_capacity(fmeta.len() as usize);
        let limit = self.limits.max_file_bytes;
        if let Err(e) = (&mut file).take(limit + 1).read_to_end(&mut contents) {
            self.skip(rel, format!("cannot be read: {e}"));
            return Ok(());
        }
        if contents.len() as u64 > limit {
            return Err(Error::config(format!(
                "semantic layer file {rel:?} grew past {limit} bytes (max_file_bytes)"
            )));
        }
        self.out.total_bytes += contents.len() as u64;
        if self.out.total_bytes > self.limits.max_total_bytes {
            return Err(Error::config(format!(
                "semantic layer is larger than {} bytes (limit max_total_bytes)",
                self.limits.max_total_bytes
            )));
        }
        self.out.files.push(CollectedFile {
            path: rel.to_owned(),
            contents,
            mode: fmeta.mode() & 0o7777,
        });
        Ok(())
    }
}

fn join_rel(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}

/// The two open flags we need, without pulling libc into the SDK's default features.
mod libc_flags {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(super) const O_NOFOLLOW: i32 = 0o400000;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(super) const O_NONBLOCK: i32 = 0o4000;
    #[cfg(target_os = "macos")]
    pub(super) const O_NOFOLLOW: i32 = 0x0100;
    #[cfg(target_os = "macos")]
    pub(super) const O_NONBLOCK: i32 = 0x0004;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn layer() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("semantic");
        std::fs::create_dir_all(root.join("entities")).unwrap();
        std::fs::write(root.join("catalog.yml"), b"name: shop\n").unwrap();
        std::fs::write(
            root.join("entities/orders.yml"),
            "name: orders # Bestellungen ü\n",
        )
        .unwrap();
        std::fs::write(root.join("bin.dat"), [0u8, 159, 146, 150, 255]).unwrap();
        (tmp, root)
    }

    /// The layer at `root` collected with the default limits, which every fixture fits.
    fn collect_default(root: &Path) -> CollectedLayer {
        SemanticLayer::open(root)
            .unwrap()
            .collect(&CollectLimits::default())
            .unwrap()
    }

    fn paths(c: &CollectedLayer) -> Vec<&str> {
        c.files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn collects_exact_bytes_sorted() {
        let (_t, root) = layer();
        let c = collect_default(&root);
        assert_eq!(paths(&c), ["bin.dat", "catalog.yml", "entities/orders.yml"]);
        assert_eq!(c.files[0].contents, [0u8, 159, 146, 150, 255]);
        assert_eq!(c.dirs, ["entities"]);
        assert!(c.skipped.is_empty());
    }

    #[test]
    fn f3_absolute_symlink_out_is_skipped() {
        let (tmp, root) = layer();
        std::fs::write(tmp.path().join("secret.txt"), b"TOPSECRET").unwrap();
        symlink(tmp.path().join("secret.txt"), root.join("abs.yml")).unwrap();
        symlink("/etc", root.join("etc")).unwrap();
        let c = collect_default(&root);
        assert!(
            !paths(&c)
                .iter()
                .any(|p| p.starts_with("abs") || p.starts_with("etc"))
        );
        assert!(
            c.files
                .iter()
                .all(|f| !f.contents.windows(9).any(|w| w == b"TOPSECRET"))
        );
        assert_eq!(c.skipped.len(), 2);
        assert!(c.skipped.iter().all(|s| s.reason.contains("escapes")));
    }

    #[test]
    fn f3_relative_dotdot_symlink_is_skipped() {
        let (_t, root) = layer();
        symlink(
            "../../../../../../etc/passwd",
            root.join("entities/passwd.yml"),
        )
        .unwrap();
        symlink("../..", root.join("entities/up")).unwrap();
        let c = collect_default(&root);
        assert_eq!(paths(&c), ["bin.dat", "catalog.yml", "entities/orders.yml"]);
        assert_eq!(c.skipped.len(), 2);
    }

    #[test]
    fn f3_sibling_prefix_collision_is_skipped() {
        let (tmp, root) = layer();
        let evil = tmp.path().join("semantic_evil");
        std::fs::create_dir_all(&evil).unwrap();
        std::fs::write(evil.join("leak.yml"), b"leaked: true\n").unwrap();
        symlink(&evil, root.join("evil_dir")).unwrap();
        symlink(evil.join("leak.yml"), root.join("leak.yml")).unwrap();
        let c = collect_default(&root);
        assert!(
            !paths(&c)
                .iter()
                .any(|p| p.contains("evil") || p.contains("leak"))
        );
        assert_eq!(c.skipped.len(), 2);
    }

    #[test]
    fn f3_symlink_loops_end() {
        let (_t, root) = layer();
        symlink(".", root.join("entities/self")).unwrap();
        symlink("..", root.join("entities/parent")).unwrap();
        symlink("loop_b", root.join("loop_a")).unwrap();
        symlink("loop_a", root.join("loop_b")).unwrap();
        let c = collect_default(&root);
        assert_eq!(paths(&c), ["bin.dat", "catalog.yml", "entities/orders.yml"]);
        assert_eq!(c.skipped.len(), 4, "{:?}", c.skipped);
    }

    #[test]
    fn symlinks_inside_the_root_are_followed() {
        let (_t, root) = layer();
        symlink("entities/orders.yml", root.join("orders_link.yml")).unwrap();
        symlink("entities", root.join("ents")).unwrap();
        let c = collect_default(&root);
        assert_eq!(
            paths(&c),
            [
                "bin.dat",
                "catalog.yml",
                "entities/orders.yml",
                "orders_link.yml"
            ],
            "the entities dir is visited once (ents is the same inode)"
        );
    }

    #[test]
    #[allow(clippy::disallowed_types, clippy::disallowed_methods)] // creates a FIFO fixture
    fn fifo_is_skipped_and_does_not_block() {
        let (_t, root) = layer();
        let fifo = root.join("pipe.yml");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if status.map(|s| s.success()).unwrap_or(false) {
            let c = collect_default(&root);
            assert!(!paths(&c).contains(&"pipe.yml"));
            assert!(c.skipped.iter().any(|s| s.path == "pipe.yml"));
        } else {
            eprintln!("skipped: mkfifo not available");
        }
    }

    #[test]
    fn limits_give_clear_errors() {
        let (_t, root) = layer();
        let l = SemanticLayer::open(&root).unwrap();
        // Each limit alone is under what the fixture needs, and the error names that limit.
        for (limits, name) in [
            (
                CollectLimits {
                    max_files: 2,
                    ..Default::default()
                },
                "max_files",
            ),
            (
                CollectLimits {
                    max_total_bytes: 10,
                    ..Default::default()
                },
                "max_total_bytes",
            ),
            (
                CollectLimits {
                    max_file_bytes: 5,
                    ..Default::default()
                },
                "max_file_bytes",
            ),
        ] {
            let e = l.collect(&limits).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn open_rejects_missing_and_files() {
        let (_t, root) = layer();
        assert!(SemanticLayer::open(root.join("nope")).is_err());
        let e = SemanticLayer::open(root.join("catalog.yml")).unwrap_err();
        assert!(e.to_string().contains("not a directory"));
    }
}
