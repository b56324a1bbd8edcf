//! The semantic layer: where it is, and how to collect its files without leaving it.
//!
//! Collection is what every backend that copies files (the cloud ones) uses. It never reads
//! outside the root: every open goes through [`RootDir::open_beneath`] (`openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or a no-follow walk), so a directory swapped for a
//! symlink mid-collection fails the open instead of leading out. A symlink is resolved one
//! component at a time beneath the root and kept only if it stays inside (so `..` past the root,
//! or a sibling `semantic_evil` of a `semantic` root, is an escape); directory cycles are broken
//! by (device, inode), sockets, FIFOs and devices are skipped, and totals are bounded.

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use crate::beneath::{Errno, OFlags, RootDir};
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
    /// When it was last modified, to the nanosecond: a copy keeps it, so `ls -t`, `find -newer`
    /// and `stat` in the sandbox answer what they answer over the layer itself.
    pub mtime: FileTime,
}

impl std::fmt::Debug for CollectedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectedFile")
            .field("path", &self.path)
            .field("len", &self.contents.len())
            .field("mode", &format_args!("{:o}", self.mode))
            .field("mtime", &self.mtime)
            .finish()
    }
}

/// One collected directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectedDir {
    /// The path relative to the root, `/`-separated (empty for the root itself).
    pub path: String,
    /// The permission bits (e.g. 0o755).
    pub mode: u32,
    /// When its listing last changed.
    pub mtime: FileTime,
}

/// A modification time as the kernel keeps it: seconds since the epoch (negative before it)
/// and the nanoseconds past that second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileTime {
    /// Whole seconds since 1970-01-01 UTC, rounded down.
    pub secs: i64,
    /// Nanoseconds past `secs`, below 1,000,000,000.
    pub nanos: u32,
}

impl FileTime {
    /// The modification time in a `stat`.
    // The field types of `struct stat` differ between platforms; the casts are no-ops on some.
    #[allow(clippy::unnecessary_cast)]
    pub(crate) fn mtime_of(st: &rustix::fs::Stat) -> Self {
        FileTime {
            secs: st.st_mtime as i64,
            nanos: u32::try_from(st.st_mtime_nsec)
                .unwrap_or(0)
                .min(999_999_999),
        }
    }

    /// The exact time in the form GNU `touch -d` and `date -d` read: `@` and a decimal number
    /// of seconds (`@1735690200.500000000`, `@-0.250000000`).
    pub fn touch_arg(&self) -> String {
        if self.secs < 0 && self.nanos > 0 {
            // secs + nanos/1e9 is negative: print its magnitude, -(|secs| - 1) - (1e9 - nanos).
            let whole = self.secs.unsigned_abs() - 1;
            format!("@-{whole}.{:09}", 1_000_000_000 - self.nanos)
        } else {
            format!("@{}.{:09}", self.secs, self.nanos)
        }
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
    /// Directories, sorted by path, including empty ones.
    pub dirs: Vec<CollectedDir>,
    /// The root directory itself (its path is empty); `None` only in a layer built by hand.
    pub root: Option<CollectedDir>,
    /// Entries left out, with the reason (each is also logged as a warning).
    pub skipped: Vec<SkippedEntry>,
    /// Sum of the file sizes.
    pub total_bytes: u64,
}

struct Walker<'a> {
    /// The canonical root path: for messages and for absolute symlink targets.
    root: &'a Path,
    /// Every open goes through it, so nothing outside the root is ever read.
    dir: RootDir,
    limits: &'a CollectLimits,
    out: CollectedLayer,
    visited: HashSet<(u64, u64)>,
}

/// Symlink hops allowed while resolving one entry (Linux's own limit).
const MAX_SYMLINK_HOPS: usize = 40;

fn collect(root: &Path, limits: &CollectLimits) -> Result<CollectedLayer> {
    let unreadable = |e: Errno| {
        Error::config(format!(
            "semantic root {} cannot be read: {}",
            root.display(),
            std::io::Error::from(e)
        ))
    };
    let dir = RootDir::open(root).map_err(unreadable)?;
    let root_st = rustix::fs::fstat(dir.as_fd()).map_err(unreadable)?;
    let mut w = Walker {
        root,
        dir,
        limits,
        out: CollectedLayer::default(),
        visited: HashSet::from([dev_ino(&root_st)]),
    };
    w.out.root = Some(CollectedDir {
        path: String::new(),
        mode: root_st.st_mode & 0o7777,
        mtime: FileTime::mtime_of(&root_st),
    });
    w.walk_dir("", "", 0)?;
    w.out.files.sort_by(|a, b| a.path.cmp(&b.path));
    w.out.dirs.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(w.out)
}

// The field types of `struct stat` differ between platforms; the casts are no-ops on some.
#[allow(clippy::unnecessary_cast)]
fn dev_ino(st: &rustix::fs::Stat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

fn file_type(st: &rustix::fs::Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

fn io_err(e: Errno) -> std::io::Error {
    std::io::Error::from(e)
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

    /// `lstat` of `real` (a symlink-free path beneath the root).
    fn lstat(&self, real: &str) -> std::result::Result<rustix::fs::Stat, Errno> {
        let fd = self.dir.open_beneath(real, OFlags::PATH)?;
        rustix::fs::fstat(&fd)
    }

    /// Lists the directory at `real` (symlink-free, beneath the root), reporting entries as
    /// `rel` (the path the user sees, which differs below a followed symlink).
    fn walk_dir(&mut self, real: &str, rel: &str, depth: usize) -> Result<()> {
        if depth > self.limits.max_depth {
            return Err(Error::config(format!(
                "semantic layer is nested deeper than {} directories at {rel:?}",
                self.limits.max_depth
            )));
        }
        let listing = self
            .dir
            .open_beneath(real, OFlags::RDONLY | OFlags::DIRECTORY)
            .and_then(|fd| {
                let mut names = Vec::new();
                for entry in rustix::fs::Dir::read_from(&fd)? {
                    let name = entry?.file_name().to_bytes().to_vec();
                    if name != b"." && name != b".." {
                        names.push(name);
                    }
                }
                Ok(names)
            });
        let mut names = match listing {
            Ok(n) => n,
            Err(Errno::LOOP) | Err(Errno::NOTDIR) => {
                self.skip(rel, "changed while being collected (a symlink now)");
                return Ok(());
            }
            Err(e) => {
                self.skip(rel, format!("directory cannot be listed: {}", io_err(e)));
                return Ok(());
            }
        };
        names.sort();
        for name in names {
            let Ok(name_str) = std::str::from_utf8(&name) else {
                let lossy = join_rel(rel, &String::from_utf8_lossy(&name));
                self.skip(&lossy, "file name is not UTF-8");
                continue;
            };
            if name_str.contains('\n') {
                let r = join_rel(rel, name_str);
                self.skip(&r, "file name contains a newline");
                continue;
            }
            let child_rel = join_rel(rel, name_str);
            let child_real = join_rel(real, name_str);
            let st = match self.lstat(&child_real) {
                Ok(st) => st,
                Err(e) => {
                    self.skip(&child_rel, format!("cannot be read: {}", io_err(e)));
                    continue;
                }
            };
            match file_type(&st) {
                FileType::Symlink => self.visit_symlink(&child_real, &child_rel, depth)?,
                FileType::Directory => self.enter_dir(&child_real, &child_rel, &st, depth)?,
                FileType::RegularFile => self.read_file(&child_real, &child_rel, &st)?,
                _ => self.skip(
                    &child_rel,
                    "not a regular file or directory (socket, FIFO or device)",
                ),
            }
        }
        Ok(())
    }

    fn enter_dir(
        &mut self,
        real: &str,
        rel: &str,
        st: &rustix::fs::Stat,
        depth: usize,
    ) -> Result<()> {
        if !self.visited.insert(dev_ino(st)) {
            self.skip(rel, "directory already visited (symlink cycle)");
            return Ok(());
        }
        self.out.dirs.push(CollectedDir {
            path: rel.to_owned(),
            mode: st.st_mode & 0o7777,
            mtime: FileTime::mtime_of(st),
        });
        self.walk_dir(real, rel, depth + 1)
    }

    /// Resolves the symlink at `real` to a symlink-free path beneath the root, one component at
    /// a time through [`RootDir`], so a target is judged by where it really leads: `..` past
    /// the root or an absolute path outside it is an escape.
    fn resolve(&self, real: &str) -> std::result::Result<String, String> {
        let mut todo: VecDeque<String> = real.split('/').map(str::to_owned).collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        let mut first_target: Option<String> = None;
        let escapes = |first: &Option<String>| {
            format!(
                "symlink escapes the semantic root (-> {})",
                first.as_deref().unwrap_or("?")
            )
        };
        while let Some(part) = todo.pop_front() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    if done.pop().is_none() {
                        return Err(escapes(&first_target));
                    }
                    continue;
                }
                _ => done.push(part),
            }
            let path = done.join("/");
            let fd = self
                .dir
                .open_beneath(&path, OFlags::PATH)
                .map_err(|e| format!("symlink cannot be resolved: {}", io_err(e)))?;
            let st = rustix::fs::fstat(&fd)
                .map_err(|e| format!("symlink cannot be resolved: {}", io_err(e)))?;
            if file_type(&st) != FileType::Symlink {
                continue;
            }
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return Err("symlink cannot be resolved: too many levels of symbolic links".into());
            }
            // An O_PATH fd of the link itself: reading it needs no second lookup by name.
            let target = rustix::fs::readlinkat(&fd, "", Vec::new())
                .map_err(|e| format!("symlink cannot be resolved: {}", io_err(e)))?;
            let target = String::from_utf8_lossy(target.as_bytes()).into_owned();
            first_target.get_or_insert_with(|| target.clone());
            done.pop();
            let rest: String = if let Some(abs) = target.strip_prefix('/') {
                // Component-wise: `/x/semantic_evil` is not under `/x/semantic`.
                match Path::new("/").join(abs).strip_prefix(self.root) {
                    Ok(inside) => {
                        done.clear();
                        inside.to_string_lossy().into_owned()
                    }
                    Err(_) => return Err(escapes(&first_target)),
                }
            } else {
                target
            };
            for p in rest.split('/').rev() {
                todo.push_front(p.to_owned());
            }
        }
        Ok(done.join("/"))
    }

    fn visit_symlink(&mut self, real: &str, rel: &str, depth: usize) -> Result<()> {
        let target = match self.resolve(real) {
            Ok(t) => t,
            Err(reason) => {
                self.skip(rel, reason);
                return Ok(());
            }
        };
        let st = match self.lstat(&target) {
            Ok(st) => st,
            Err(e) => {
                self.skip(rel, format!("symlink target cannot be read: {}", io_err(e)));
                return Ok(());
            }
        };
        match file_type(&st) {
            FileType::Directory => self.enter_dir(&target, rel, &st, depth),
            FileType::RegularFile => self.read_file(&target, rel, &st),
            _ => {
                self.skip(rel, "symlink to a socket, FIFO or device");
                Ok(())
            }
        }
    }

    fn read_file(&mut self, real: &str, rel: &str, st: &rustix::fs::Stat) -> Result<()> {
        if self.out.files.len() >= self.limits.max_files {
            return Err(Error::config(format!(
                "semantic layer has more than {} files (limit max_files)",
                self.limits.max_files
            )));
        }
        let size = u64::try_from(st.st_size).unwrap_or(0);
        if size > self.limits.max_file_bytes {
            return Err(Error::config(format!(
                "semantic layer file {rel:?} is {size} bytes; the limit is {} (max_file_bytes)",
                self.limits.max_file_bytes
            )));
        }
        // Beneath the root with no symlink at any depth: if anything on the path was swapped
        // for a symlink since we looked, the open fails instead of reading what it points at.
        // O_NONBLOCK: a FIFO swapped in does not block us.
        let fd = match self
            .dir
            .open_beneath(real, OFlags::RDONLY | OFlags::NONBLOCK)
        {
            Ok(fd) => fd,
            Err(Errno::LOOP) | Err(Errno::NOTDIR) => {
                self.skip(rel, "changed while being collected (a symlink now)");
                return Ok(());
            }
            Err(e) => {
                self.skip(rel, format!("cannot be opened: {}", io_err(e)));
                return Ok(());
            }
        };
        let fst = match rustix::fs::fstat(&fd) {
            Ok(m) => m,
            Err(e) => {
                self.skip(rel, format!("cannot be read: {}", io_err(e)));
                return Ok(());
            }
        };
        if file_type(&fst) != FileType::RegularFile || dev_ino(&fst) != dev_ino(st) {
            self.skip(rel, "changed while being collected");
            return Ok(());
        }
        let mut file = File::from(fd);
        let mut contents = Vec::with_capacity(usize::try_from(fst.st_size).unwrap_or(0));
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
            mode: fst.st_mode & 0o7777,
            mtime: FileTime::mtime_of(&fst),
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
        let dirs: Vec<&str> = c.dirs.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(dirs, ["entities"]);
        assert!(c.skipped.is_empty());
    }

    #[test]
    fn keeps_modes_and_nanosecond_mtimes() {
        use std::os::unix::fs::PermissionsExt;
        let (_t, root) = layer();
        let at =
            |secs: u64, nanos: u32| std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos);
        let set = |p: &Path, t| {
            let f = File::options()
                .write(true)
                .open(p)
                .unwrap_or_else(|_| File::open(p).unwrap());
            f.set_modified(t).unwrap();
        };
        std::fs::set_permissions(
            root.join("catalog.yml"),
            std::fs::Permissions::from_mode(0o751),
        )
        .unwrap();
        std::fs::set_permissions(
            root.join("entities"),
            std::fs::Permissions::from_mode(0o750),
        )
        .unwrap();
        set(&root.join("catalog.yml"), at(1_735_690_200, 500_000_000));
        set(&root.join("entities"), at(1_735_690_100, 0));
        set(&root, at(1_735_690_000, 7));
        let c = collect_default(&root);
        let cat = c.files.iter().find(|f| f.path == "catalog.yml").unwrap();
        assert_eq!(cat.mode, 0o751);
        assert_eq!(
            cat.mtime,
            FileTime {
                secs: 1_735_690_200,
                nanos: 500_000_000
            }
        );
        assert_eq!(
            c.dirs[0].mtime,
            FileTime {
                secs: 1_735_690_100,
                nanos: 0
            }
        );
        assert_eq!(c.dirs[0].mode, 0o750);
        let top = c.root.unwrap();
        assert_eq!((top.path.as_str(), top.mtime.nanos), ("", 7));
    }

    #[test]
    fn touch_arg_is_exact_on_both_sides_of_the_epoch() {
        let t = |secs, nanos| FileTime { secs, nanos }.touch_arg();
        assert_eq!(t(1_735_690_200, 500_000_000), "@1735690200.500000000");
        assert_eq!(t(0, 0), "@0.000000000");
        assert_eq!(t(-1, 750_000_000), "@-0.250000000");
        assert_eq!(t(-2, 0), "@-2.000000000");
        assert_eq!(t(-2, 1), "@-1.999999999");
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
    fn f3_directory_swapped_for_a_symlink_while_collecting_never_leaks() {
        // `root/dir` and a symlink to an outside directory trade places atomically
        // (renameat2(RENAME_EXCHANGE)) as fast as a thread can, while collections run. A
        // check-then-open collector reads `outside/a.yml` through the swapped-in link; every
        // collection here must see either the real directory or a skipped entry.
        let (tmp, root) = layer();
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(root.join("dir/sub")).unwrap();
        std::fs::create_dir_all(outside.join("sub")).unwrap();
        for name in ["a.yml", "b.yml", "sub/c.yml"] {
            std::fs::write(root.join("dir").join(name), b"inside\n").unwrap();
            std::fs::write(outside.join(name), b"TOPSECRET\n").unwrap();
        }
        symlink(&outside, root.join("swap")).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let (stop, root) = (stop.clone(), root.clone());
            std::thread::spawn(move || {
                let mut swaps = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    rustix::fs::renameat_with(
                        rustix::fs::CWD,
                        root.join("dir"),
                        rustix::fs::CWD,
                        root.join("swap"),
                        rustix::fs::RenameFlags::EXCHANGE,
                    )
                    .unwrap();
                    swaps += 1;
                }
                swaps
            })
        };
        let layer = SemanticLayer::open(&root).unwrap();
        let (mut saw_inside, mut saw_skip) = (0, 0);
        for _ in 0..400 {
            let c = layer.collect(&CollectLimits::default()).unwrap();
            for f in &c.files {
                assert!(
                    !f.contents.windows(9).any(|w| w == b"TOPSECRET"),
                    "{} was read from outside the root",
                    f.path
                );
            }
            saw_inside += usize::from(c.files.iter().any(|f| f.path.starts_with("dir/")));
            saw_skip += usize::from(!c.skipped.is_empty());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let swaps = swapper.join().unwrap();
        assert!(
            swaps > 0 && saw_inside > 0 && saw_skip > 0,
            "{swaps} swaps, {saw_inside} inside, {saw_skip} with skips"
        );
    }

    #[test]
    fn open_rejects_missing_and_files() {
        let (_t, root) = layer();
        assert!(SemanticLayer::open(root.join("nope")).is_err());
        let e = SemanticLayer::open(root.join("catalog.yml")).unwrap_err();
        assert!(e.to_string().contains("not a directory"));
    }
}
