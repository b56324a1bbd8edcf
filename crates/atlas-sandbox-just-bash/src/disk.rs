//! The read-only lower layer: the real semantic root, reached only through a directory fd.
//!
//! Every access resolves a relative path beneath the root fd through the SDK's
//! [`RootDir::open_beneath`]: `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)` where the kernel has it, and otherwise a walk of
//! the path one component at a time with `openat(O_NOFOLLOW)`. Either way the
//! kernel, not a string check, keeps us under the root, and no symlink is ever followed, so a
//! symlink swapped in while a command runs cannot lead outside (the race just-bash admits to).
//! Listing and stat go through the same fds, so they are confined too.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;

use atlas_sandbox_sdk::beneath::{Errno, OFlags, RootDir};
use rustix::fs::{AtFlags, FileType};

use crate::vfs::{FsError, Kind, Meta};

/// The real semantic root.
#[derive(Debug)]
pub(crate) struct DiskFs {
    root: RootDir,
    max_file_bytes: u64,
}

/// One entry of a real directory, in the order the kernel returned it.
#[derive(Debug, Clone)]
pub(crate) struct DiskEntry {
    pub(crate) name: String,
    pub(crate) kind: Kind,
}

fn kind_of(ft: FileType) -> Kind {
    match ft {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Special,
    }
}

fn map_errno(e: Errno) -> FsError {
    match e {
        Errno::NOENT => FsError::NotFound,
        Errno::NOTDIR => FsError::NotDir,
        Errno::ISDIR => FsError::IsDir,
        Errno::ACCESS | Errno::PERM => FsError::PermissionDenied,
        // ELOOP/EXDEV/EAGAIN come from a refused symlink or an attempt to leave the root: the
        // entry is treated as absent, as just-bash does with symlinks by default.
        Errno::LOOP | Errno::XDEV | Errno::AGAIN | Errno::MLINK => FsError::NotFound,
        Errno::NAMETOOLONG => FsError::NameTooLong,
        _ => FsError::Io(e.to_string()),
    }
}

impl DiskFs {
    pub(crate) fn open(root: &Path, max_file_bytes: u64) -> Result<Self, FsError> {
        Ok(DiskFs {
            root: RootDir::open(root).map_err(map_errno)?.no_xdev(true),
            max_file_bytes,
        })
    }

    /// Opens `rel` (a `/`-separated path without `.`/`..`/empty parts) beneath the root.
    fn open_beneath(&self, rel: &str, flags: OFlags) -> Result<OwnedFd, FsError> {
        self.root.open_beneath(rel, flags).map_err(map_errno)
    }

    /// `lstat`: symlinks are reported as symlinks, never followed.
    pub(crate) fn lstat(&self, rel: &str) -> Result<Meta, FsError> {
        let fd = self.open_beneath(rel, OFlags::PATH)?;
        let st = rustix::fs::fstat(&fd).map_err(map_errno)?;
        Ok(meta_of(&st))
    }

    /// Reads a regular file, refusing FIFOs, devices and files over the size limit.
    pub(crate) fn read(&self, rel: &str) -> Result<Vec<u8>, FsError> {
        // One open, then the type check on what was opened (no separate probe: a probe is a
        // second path walk per file, a third of `grep -r`'s time, and what it checked could be
        // swapped before the real open anyway). O_NONBLOCK: opening a FIFO does not wait for a
        // writer; O_NOCTTY: a terminal is never adopted. Nothing is read from anything but a
        // regular file. A device node would be opened before being refused; making one in the
        // layer takes CAP_MKNOD on the host, and commands here cannot make one at all.
        let fd = self.open_beneath(rel, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY)?;
        let st = rustix::fs::fstat(&fd).map_err(map_errno)?;
        match kind_of(FileType::from_raw_mode(st.st_mode)) {
            Kind::Dir => return Err(FsError::IsDir),
            Kind::Symlink => return Err(FsError::NotFound),
            Kind::Special => return Err(FsError::Special),
            Kind::File => {}
        }
        if st.st_size as u64 > self.max_file_bytes {
            return Err(FsError::TooBig);
        }
        let mut file = std::fs::File::from(fd);
        let limit = self.max_file_bytes;
        let mut buf = Vec::with_capacity((st.st_size as usize).min(limit as usize));
        (&mut file)
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| FsError::Io(e.to_string()))?;
        if buf.len() as u64 > limit {
            return Err(FsError::TooBig);
        }
        Ok(buf)
    }

    /// Lists a directory in the kernel's getdents order (what GNU find and grep -r print).
    pub(crate) fn read_dir(&self, rel: &str) -> Result<Vec<DiskEntry>, FsError> {
        let fd = self.open_beneath(rel, OFlags::RDONLY | OFlags::DIRECTORY)?;
        let dir = rustix::fs::Dir::read_from(&fd).map_err(map_errno)?;
        let mut out = Vec::new();
        for entry in dir {
            let entry = entry.map_err(map_errno)?;
            let bytes = entry.file_name().to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            // Names that are not UTF-8 cannot be addressed by a shell word here; leave them out.
            let Ok(name) = std::str::from_utf8(bytes) else {
                continue;
            };
            let mut kind = kind_of(entry.file_type());
            if entry.file_type() == FileType::Unknown {
                kind = rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map(|st| kind_of(FileType::from_raw_mode(st.st_mode)))
                    .unwrap_or(Kind::Special);
            }
            out.push(DiskEntry {
                name: name.to_owned(),
                kind,
            });
        }
        Ok(out)
    }
}

// The field types of `struct stat` differ between platforms; the casts are no-ops on some.
#[allow(clippy::unnecessary_cast)]
fn meta_of(st: &rustix::fs::Stat) -> Meta {
    Meta {
        kind: kind_of(FileType::from_raw_mode(st.st_mode)),
        size: st.st_size as u64,
        mode: st.st_mode & 0o7777,
        nlink: st.st_nlink as u64,
        mtime: st.st_mtime as i64,
        mtime_nsec: st.st_mtime_nsec as u32,
        blocks: st.st_blocks as u64,
        ino: st.st_ino as u64,
    }
}
