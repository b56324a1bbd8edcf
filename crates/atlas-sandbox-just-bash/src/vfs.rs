//! The sandbox's filesystem: a small in-memory root (`/tmp`, `/dev/null`) with the semantic layer
//! mounted as an overlay (reads from the kernel-confined disk layer, writes and deletes kept in
//! memory with whiteouts), so the files on disk are never modified.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::disk::DiskFs;

/// The kind of a filesystem entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (listed, never followed).
    Symlink,
    /// A FIFO, socket or device (listed, never opened).
    Special,
}

/// What `stat` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// The kind.
    pub kind: Kind,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Hard links.
    pub nlink: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds past `mtime` (`ls -t` orders by them, `stat %.3Y` and `find -printf %T@` show them).
    pub mtime_nsec: u32,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    /// Inode number (0 for memory entries).
    pub ino: u64,
}

impl Meta {
    /// What a listing knows of an entry it did not (or could not) stat: only its kind.
    pub(crate) fn kind_only(kind: Kind) -> Self {
        Meta {
            kind,
            size: 0,
            mode: 0,
            nlink: 1,
            mtime: 0,
            mtime_nsec: 0,
            blocks: 0,
            ino: 0,
        }
    }
}

/// A filesystem failure, shown like the matching `strerror`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    /// ENOENT.
    #[error("No such file or directory")]
    NotFound,
    /// ENOTDIR.
    #[error("Not a directory")]
    NotDir,
    /// EISDIR.
    #[error("Is a directory")]
    IsDir,
    /// EEXIST.
    #[error("File exists")]
    Exists,
    /// ENOTEMPTY.
    #[error("Directory not empty")]
    NotEmpty,
    /// EROFS.
    #[error("Read-only file system")]
    ReadOnly,
    /// EACCES.
    #[error("Permission denied")]
    PermissionDenied,
    /// EFBIG: over the per-file read limit.
    #[error("File too large")]
    TooBig,
    /// ENOSPC: the memory layer is full.
    #[error("No space left on device")]
    NoSpace,
    /// ENAMETOOLONG.
    #[error("File name too long")]
    NameTooLong,
    /// A FIFO, socket or device: refused so nothing blocks or has side effects.
    #[error("Operation not permitted (special file)")]
    Special,
    /// EINVAL.
    #[error("Invalid argument")]
    Invalid,
    /// Anything else from the kernel.
    #[error("{0}")]
    Io(String),
}

/// The longest virtual path accepted (as Linux's PATH_MAX).
const MAX_PATH: usize = 4096;

/// Joins `path` onto `cwd` and normalises it lexically: always absolute, `..` clamped at `/`.
pub fn resolve(cwd: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let full_iter = if path.starts_with('/') {
        path.split('/').collect::<Vec<_>>()
    } else {
        cwd.split('/').chain(path.split('/')).collect::<Vec<_>>()
    };
    for p in full_iter {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut out = String::with_capacity(path.len() + cwd.len() + 1);
    for p in parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The parent of a normalised absolute path (`/` for `/`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

#[derive(Debug, Clone)]
enum Node {
    File {
        data: Arc<Vec<u8>>,
        mode: u32,
        mtime: i64,
    },
    Dir {
        mode: u32,
        mtime: i64,
    },
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name.
    pub name: String,
    /// Its kind (without following symlinks).
    pub kind: Kind,
}

/// The overlay filesystem of one sandbox.
#[derive(Debug)]
pub struct Vfs {
    mount: String,
    lower: Option<DiskFs>,
    upper: BTreeMap<String, Node>,
    /// Lower paths deleted in this sandbox (each hides everything beneath it).
    whiteouts: BTreeSet<String>,
    /// Upper directories re-created over a whiteout: the lower directory stays hidden.
    opaque: BTreeSet<String>,
    read_only: bool,
    upper_bytes: u64,
    max_upper_bytes: u64,
    /// The running exec's memory budget: the write layer is part of it.
    meter: Option<crate::memory::Meter>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Vfs {
    /// A filesystem whose semantic layer at `mount` comes from `root` on disk.
    pub fn new(
        root: Option<&Path>,
        mount: &str,
        read_only: bool,
        max_file_bytes: u64,
        max_upper_bytes: u64,
    ) -> Result<Self, FsError> {
        let lower = match root {
            Some(r) => Some(DiskFs::open(r, max_file_bytes)?),
            None => None,
        };
        let mount = resolve("/", mount);
        let t = now();
        let mut upper = BTreeMap::new();
        upper.insert(
            "/".to_owned(),
            Node::Dir {
                mode: 0o755,
                mtime: t,
            },
        );
        for d in ["/tmp", "/dev", "/bin", "/usr", "/usr/bin"] {
            let mode = if d == "/tmp" { 0o1777 } else { 0o755 };
            upper.insert(d.to_owned(), Node::Dir { mode, mtime: t });
        }
        upper.insert(
            "/dev/null".to_owned(),
            Node::File {
                data: Arc::new(Vec::new()),
                mode: 0o666,
                mtime: t,
            },
        );
        // The mount point and its ancestors exist as directories of the memory root.
        let mut p = mount.clone();
        while p != "/" {
            upper.entry(p.clone()).or_insert(Node::Dir {
                mode: 0o755,
                mtime: t,
            });
            p = parent(&p).to_owned();
        }
        Ok(Vfs {
            mount,
            lower,
            upper,
            whiteouts: BTreeSet::new(),
            opaque: BTreeSet::new(),
            read_only,
            upper_bytes: 0,
            max_upper_bytes,
            meter: None,
        })
    }

    /// Where the semantic layer is mounted.
    pub fn mount(&self) -> &str {
        &self.mount
    }

    /// The path relative to the mount, if `path` is at or under it.
    fn rel<'p>(&self, path: &'p str) -> Option<&'p str> {
        if path == self.mount {
            Some("")
        } else if self.mount == "/" {
            Some(&path[1..])
        } else {
            path.strip_prefix(self.mount.as_str())
                .and_then(|r| r.strip_prefix('/'))
        }
    }

    /// Whether the lower layer may answer for `path`: not whiteouted, and no ancestor between
    /// the mount and it is whiteouted or opaque.
    fn lower_visible(&self, path: &str) -> Option<String> {
        self.lower.as_ref()?;
        let rel = self.rel(path)?;
        if self.whiteouts.is_empty() && self.opaque.is_empty() {
            return Some(rel.to_owned());
        }
        let mut prefix = self.mount.clone();
        if self.whiteouts.contains(&prefix) {
            return None;
        }
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            if self.opaque.contains(&prefix) {
                return None;
            }
            if prefix != "/" {
                prefix.push('/');
            }
            prefix.push_str(part);
            if self.whiteouts.contains(&prefix) {
                return None;
            }
        }
        Some(rel.to_owned())
    }

    fn check_path(path: &str) -> Result<(), FsError> {
        if path.len() > MAX_PATH {
            return Err(FsError::NameTooLong);
        }
        if path.contains('\0') {
            return Err(FsError::Invalid);
        }
        Ok(())
    }

    /// `lstat`.
    pub fn stat(&self, path: &str) -> Result<Meta, FsError> {
        Self::check_path(path)?;
        if let Some(node) = self.upper.get(path) {
            return Ok(match node {
                Node::File { data, mode, mtime } => Meta {
                    kind: Kind::File,
                    size: data.len() as u64,
                    mode: *mode,
                    nlink: 1,
                    mtime: *mtime,
                    mtime_nsec: 0,
                    blocks: (data.len() as u64).div_ceil(4096) * 8,
                    ino: 0,
                },
                Node::Dir { mode, mtime } => {
                    if path == self.mount
                        && let Some(l) = &self.lower
                        && !self.opaque.contains(path)
                        && let Ok(m) = l.lstat("")
                    {
                        return Ok(m);
                    }
                    Meta {
                        kind: Kind::Dir,
                        size: 4096,
                        mode: *mode,
                        nlink: 2,
                        mtime: *mtime,
                        mtime_nsec: 0,
                        blocks: 8,
                        ino: 0,
                    }
                }
            });
        }
        match (self.lower_visible(path), &self.lower) {
            (Some(rel), Some(l)) => l.lstat(&rel),
            _ => Err(FsError::NotFound),
        }
    }

    /// Whether `path` exists.
    pub fn exists(&self, path: &str) -> bool {
        self.stat(path).is_ok()
    }

    /// Whether `path` is a directory.
    pub fn is_dir(&self, path: &str) -> bool {
        matches!(self.stat(path), Ok(m) if m.kind == Kind::Dir)
    }

    /// Reads a whole file.
    pub fn read(&self, path: &str) -> Result<Arc<Vec<u8>>, FsError> {
        Self::check_path(path)?;
        match self.upper.get(path) {
            Some(Node::File { data, .. }) => return Ok(data.clone()),
            Some(Node::Dir { .. }) => return Err(FsError::IsDir),
            None => {}
        }
        match (self.lower_visible(path), &self.lower) {
            (Some(rel), Some(l)) => l.read(&rel).map(Arc::new),
            _ => {
                // Distinguish "parent is a file" for clearer messages.
                Err(FsError::NotFound)
            }
        }
    }

    /// Lists a directory: lower entries in the kernel's order, then memory-only entries sorted.
    pub fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let meta = self.stat(path)?;
        if meta.kind != Kind::Dir {
            return Err(FsError::NotDir);
        }
        let mut out: Vec<DirEntry> = Vec::new();
        let upper_children = self.upper_children(path);
        if let (Some(rel), Some(l)) = (self.lower_visible(path), &self.lower)
            && !self.opaque.contains(path)
        {
            let lower_entries = match l.read_dir(&rel) {
                Ok(v) => v,
                // A directory that exists only in memory has no lower counterpart.
                Err(FsError::NotFound | FsError::NotDir) => Vec::new(),
                Err(e) => return Err(e),
            };
            for e in lower_entries {
                if !self.whiteouts.is_empty() && self.whiteouts.contains(&child_path(path, &e.name))
                {
                    continue;
                }
                if let Some(kind) = upper_children.get(e.name.as_str()) {
                    out.push(DirEntry {
                        name: e.name,
                        kind: *kind,
                    });
                } else {
                    out.push(DirEntry {
                        name: e.name,
                        kind: e.kind,
                    });
                }
            }
        }
        if out.is_empty() {
            out.extend(upper_children.into_iter().map(|(n, k)| DirEntry {
                name: n.to_owned(),
                kind: k,
            }));
        } else {
            let seen: BTreeSet<String> = out.iter().map(|e| e.name.clone()).collect();
            for (n, k) in upper_children {
                if !seen.contains(n) {
                    out.push(DirEntry {
                        name: n.to_owned(),
                        kind: k,
                    });
                }
            }
        }
        Ok(out)
    }

    fn upper_children(&self, dir: &str) -> BTreeMap<&str, Kind> {
        let prefix = if dir == "/" {
            "/".to_owned()
        } else {
            format!("{dir}/")
        };
        let mut out = BTreeMap::new();
        for (k, v) in self.upper.range(prefix.clone()..) {
            let Some(rest) = k.strip_prefix(prefix.as_str()) else {
                break;
            };
            if rest.is_empty() || rest.contains('/') {
                continue;
            }
            let kind = match v {
                Node::File { .. } => Kind::File,
                Node::Dir { .. } => Kind::Dir,
            };
            out.insert(rest, kind);
        }
        out
    }

    fn writable(&self, path: &str) -> Result<(), FsError> {
        Self::check_path(path)?;
        if path == "/dev/null" {
            return Ok(());
        }
        if self.read_only {
            return Err(FsError::ReadOnly);
        }
        Ok(())
    }

    fn charge(&mut self, add: u64, remove: u64) -> Result<(), FsError> {
        let next = self.upper_bytes.saturating_sub(remove).saturating_add(add);
        if next > self.max_upper_bytes {
            return Err(FsError::NoSpace);
        }
        if let Some(m) = &self.meter {
            m.rebalance(self.upper_bytes, next)
                .map_err(|_| FsError::NoSpace)?;
        }
        self.upper_bytes = next;
        Ok(())
    }

    /// Counts the write layer in `meter` (the exec about to run) from now on, starting with
    /// what it holds already.
    pub(crate) fn attach_meter(
        &mut self,
        meter: crate::memory::Meter,
    ) -> Result<(), crate::memory::OverBudget> {
        meter.charge(self.upper_bytes)?;
        self.meter = Some(meter);
        Ok(())
    }

    /// Stops counting in the exec's meter (the exec ended).
    pub(crate) fn detach_meter(&mut self) {
        self.meter = None;
    }

    /// Writes (or appends to) a file in the memory layer.
    pub fn write(&mut self, path: &str, data: &[u8], append: bool) -> Result<(), FsError> {
        self.writable(path)?;
        if path == "/dev/null" {
            return Ok(());
        }
        let par = parent(path);
        match self.stat(par) {
            Ok(m) if m.kind == Kind::Dir => {}
            Ok(_) => return Err(FsError::NotDir),
            Err(e) => return Err(e),
        }
        let existing = match self.stat(path) {
            Ok(m) if m.kind == Kind::Dir => return Err(FsError::IsDir),
            Ok(m) if m.kind != Kind::File => return Err(FsError::Special),
            Ok(m) => Some(m),
            Err(FsError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let old_upper = match self.upper.get(path) {
            Some(Node::File { data, .. }) => data.len() as u64,
            _ => 0,
        };
        let mut content = if append && existing.is_some() {
            self.read(path)?.as_ref().clone()
        } else {
            Vec::new()
        };
        content.extend_from_slice(data);
        self.charge(content.len() as u64, old_upper)?;
        let mode = existing.map(|m| m.mode).unwrap_or(0o644);
        self.upper.insert(
            path.to_owned(),
            Node::File {
                data: Arc::new(content),
                mode,
                mtime: now(),
            },
        );
        Ok(())
    }

    /// Creates a directory.
    pub fn mkdir(&mut self, path: &str, parents: bool) -> Result<(), FsError> {
        self.writable(path)?;
        match self.stat(path) {
            Ok(m) if m.kind == Kind::Dir && parents => return Ok(()),
            Ok(_) => return Err(FsError::Exists),
            Err(FsError::NotFound) => {}
            Err(e) => return Err(e),
        }
        let par = parent(path).to_owned();
        if !self.is_dir(&par) {
            if parents && par != "/" {
                stacker::maybe_grow(64 * 1024, 1 << 20, || self.mkdir(&par, true))?;
            } else if self.exists(&par) {
                return Err(FsError::NotDir);
            } else {
                return Err(FsError::NotFound);
            }
        }
        self.charge(64, 0)?;
        if self.whiteouts.contains(path) {
            self.opaque.insert(path.to_owned());
        }
        self.upper.insert(
            path.to_owned(),
            Node::Dir {
                mode: 0o755,
                mtime: now(),
            },
        );
        Ok(())
    }

    /// Removes a file, or a directory (only empty unless `recursive`).
    pub fn remove(&mut self, path: &str, recursive: bool) -> Result<(), FsError> {
        self.writable(path)?;
        let meta = self.stat(path)?;
        if path == "/" || path == self.mount {
            return Err(FsError::PermissionDenied);
        }
        if meta.kind == Kind::Dir && !recursive && !self.read_dir(path)?.is_empty() {
            return Err(FsError::NotEmpty);
        }
        let prefix = format!("{path}/");
        let doomed: Vec<String> = self
            .upper
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .chain(std::iter::once(path.to_owned()))
            .collect();
        for k in doomed {
            if let Some(Node::File { data, .. }) = self.upper.remove(&k) {
                let freed = (data.len() as u64).min(self.upper_bytes);
                self.upper_bytes -= freed;
                if let Some(m) = &self.meter {
                    m.release(freed);
                }
            }
            self.opaque.remove(&k);
        }
        if self.rel(path).is_some() && self.lower.is_some() {
            self.whiteouts.insert(path.to_owned());
        }
        Ok(())
    }

    /// Sets the permission bits (`chmod`). A file of the lower layer is copied up first (its
    /// bytes are charged like a write); a lower-layer directory cannot be copied up.
    pub fn set_mode(&mut self, path: &str, mode: u32) -> Result<(), FsError> {
        let mode = mode & 0o7777;
        self.change_meta(path, |m, _| *m = mode)
    }

    /// Sets the modification time (`touch -d`), in whole seconds, copying up as
    /// [`Vfs::set_mode`] does.
    pub fn set_mtime(&mut self, path: &str, secs: i64) -> Result<(), FsError> {
        self.change_meta(path, |_, t| *t = secs)
    }

    /// Applies `change` to the mode and mtime of `path` in the upper layer, copying a lower-layer
    /// file up first (charged like a write); a lower-layer directory cannot be copied up.
    fn change_meta(
        &mut self,
        path: &str,
        change: impl FnOnce(&mut u32, &mut i64),
    ) -> Result<(), FsError> {
        self.writable(path)?;
        let meta = self.stat(path)?;
        if let Some(Node::File { mode, mtime, .. } | Node::Dir { mode, mtime, .. }) =
            self.upper.get_mut(path)
        {
            change(mode, mtime);
            return Ok(());
        }
        if meta.kind != Kind::File {
            return Err(FsError::PermissionDenied);
        }
        let data = self.read(path)?;
        self.charge(data.len() as u64, 0)?;
        let (mut mode, mut mtime) = (meta.mode, meta.mtime);
        change(&mut mode, &mut mtime);
        self.upper
            .insert(path.to_owned(), Node::File { data, mode, mtime });
        Ok(())
    }

    /// Copies a file (directories are not copied here; `cp -r` walks).
    pub fn copy_file(&mut self, from: &str, to: &str) -> Result<(), FsError> {
        let data = self.read(from)?;
        self.write(to, &data, false)
    }
}

/// `dir` + `/` + `name`, without doubling the slash at the root.
pub fn child_path(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_clamps_and_normalises() {
        assert_eq!(resolve("/semantic", "../../etc/passwd"), "/etc/passwd");
        assert_eq!(resolve("/semantic", "a/./b//c/.."), "/semantic/a/b");
        assert_eq!(resolve("/x", "/"), "/");
        assert_eq!(resolve("/x", "//y"), "/y");
    }

    #[test]
    fn memory_root_has_tmp_and_dev_null() {
        let mut fs = Vfs::new(None, "/semantic", false, 1 << 20, 1 << 20).unwrap();
        assert!(fs.is_dir("/tmp"));
        assert!(fs.is_dir("/semantic"));
        fs.write("/tmp/a", b"x", false).unwrap();
        fs.write("/tmp/a", b"y", true).unwrap();
        assert_eq!(fs.read("/tmp/a").unwrap().as_slice(), b"xy");
        fs.write("/dev/null", b"zzz", false).unwrap();
        assert_eq!(fs.read("/dev/null").unwrap().len(), 0);
        assert_eq!(fs.write("/nope/a", b"", false), Err(FsError::NotFound));
    }

    #[test]
    fn upper_layer_is_capped() {
        let mut fs = Vfs::new(None, "/semantic", false, 1 << 20, 10).unwrap();
        assert_eq!(fs.write("/tmp/a", &[0; 11], false), Err(FsError::NoSpace));
        fs.write("/tmp/a", &[0; 10], false).unwrap();
        fs.remove("/tmp/a", false).unwrap();
        fs.write("/tmp/b", &[0; 10], false).unwrap();
    }
}
