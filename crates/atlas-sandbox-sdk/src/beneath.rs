//! Opening paths beneath a directory so that no open can leave it, whatever happens to the
//! tree meanwhile.
//!
//! A check-then-open (`canonicalize` + `starts_with`, then `open(O_NOFOLLOW)`) guards only the
//! last component: a directory swapped for a symlink between the check and the open leads
//! anywhere. [`RootDir::open_beneath`] lets the kernel resolve the whole path instead:
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` where the kernel has it
//! (Linux 5.6+), otherwise one `openat(O_NOFOLLOW)` per component, each relative to the directory
//! fd the previous one returned. Either way no symlink is followed at any depth and nothing
//! outside the root is reached; a swapped-in symlink makes the open fail (`ELOOP`), never
//! succeed elsewhere.
//!
//! Users: the SDK's layer collector ([`crate::SemanticLayer::collect`]) and just-bash's disk
//! layer.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

pub use rustix::fs::OFlags;
pub use rustix::io::Errno;

use rustix::fs::Mode;

/// A directory every open is confined to.
#[derive(Debug)]
pub struct RootDir {
    fd: OwnedFd,
    no_xdev: bool,
    /// Cleared the first time `openat2` turns out to be unavailable (old kernel, seccomp).
    openat2_ok: AtomicBool,
}

impl RootDir {
    /// Opens `path` (which may itself be reached through symlinks: it is the trusted part) as
    /// the root.
    pub fn open(path: &Path) -> Result<Self, Errno> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self::from_fd(fd))
    }

    /// A root from an open directory fd.
    pub fn from_fd(fd: OwnedFd) -> Self {
        RootDir {
            fd,
            no_xdev: false,
            openat2_ok: AtomicBool::new(cfg!(any(target_os = "linux", target_os = "android"))),
        }
    }

    /// Also refuses to cross a mount point beneath the root (`RESOLVE_NO_XDEV`; the fallback
    /// compares device numbers).
    #[must_use]
    pub fn no_xdev(mut self, yes: bool) -> Self {
        self.no_xdev = yes;
        self
    }

    /// The root's fd.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Whether opens still use `openat2` (false after it was found missing).
    pub fn uses_openat2(&self) -> bool {
        self.openat2_ok.load(Ordering::Relaxed)
    }

    /// Opens `rel` beneath the root with `flags` (plus `O_NOFOLLOW | O_CLOEXEC`). `rel` is
    /// `/`-separated and relative; `""` and `.` are the root itself. `.` components name the
    /// directory they are in and are skipped (a glob over `./*.yml` lists `.`); empty and `..`
    /// components are refused with `ENOENT` rather than interpreted, so callers normalise first.
    pub fn open_beneath(&self, rel: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
        let flags = flags | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let skipped;
        let rel = if rel.split('/').any(|p| p == ".") {
            skipped = rel
                .split('/')
                .filter(|p| *p != ".")
                .collect::<Vec<_>>()
                .join("/");
            skipped.as_str()
        } else {
            rel
        };
        if rel.is_empty() {
            return rustix::fs::openat(&self.fd, ".", flags, Mode::empty());
        }
        if rel.split('/').any(|p| p.is_empty() || p == "..") {
            return Err(Errno::NOENT);
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.openat2_ok.load(Ordering::Relaxed) {
            use rustix::fs::ResolveFlags;
            let mut resolve =
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
            if self.no_xdev {
                resolve |= ResolveFlags::NO_XDEV;
            }
            match rustix::fs::openat2(&self.fd, rel, flags, Mode::empty(), resolve) {
                Ok(fd) => return Ok(fd),
                Err(Errno::NOSYS) | Err(Errno::PERM) => {
                    // Seccomp filters often answer EPERM/ENOSYS for openat2: fall back for good.
                    self.openat2_ok.store(false, Ordering::Relaxed);
                }
                Err(Errno::AGAIN) => {
                    // RESOLVE_* may fail with EAGAIN under concurrent renames; the walk below is
                    // just as safe.
                }
                Err(e) => return Err(e),
            }
        }
        self.walk_open(rel, flags)
    }

    /// The portable fallback: one `openat(O_NOFOLLOW)` per component, each a directory.
    fn walk_open(&self, rel: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
        let root_dev = if self.no_xdev {
            Some(rustix::fs::fstat(&self.fd)?.st_dev)
        } else {
            None
        };
        let same_dev = |fd: &OwnedFd| -> Result<(), Errno> {
            match root_dev {
                Some(dev) if rustix::fs::fstat(fd)?.st_dev != dev => Err(Errno::XDEV),
                _ => Ok(()),
            }
        };
        let mut parts = rel.split('/').peekable();
        let mut dir: Option<OwnedFd> = None;
        while let Some(part) = parts.next() {
            let base = match &dir {
                Some(d) => d.as_fd(),
                None => self.fd.as_fd(),
            };
            if parts.peek().is_none() {
                let fd = rustix::fs::openat(base, part, flags, Mode::empty())?;
                same_dev(&fd)?;
                return Ok(fd);
            }
            let next = rustix::fs::openat(
                base,
                part,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            same_dev(&next)?;
            dir = Some(next);
        }
        Err(Errno::NOENT)
    }

    #[cfg(test)]
    fn force_fallback(&self) {
        self.openat2_ok.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, std::path::PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f.yml"), b"in").unwrap();
        std::fs::write(tmp.path().join("secret"), b"out").unwrap();
        symlink(tmp.path(), root.join("a/up")).unwrap();
        symlink("b", root.join("a/inner")).unwrap();
        symlink("../secret", root.join("rel")).unwrap();
        (tmp, root)
    }

    #[test]
    fn both_paths_stay_beneath_and_follow_no_symlink() {
        let (_t, root) = tree();
        for fallback in [false, true] {
            let dir = RootDir::open(&root).unwrap();
            if fallback {
                dir.force_fallback();
            }
            assert!(dir.open_beneath("a/b/f.yml", OFlags::RDONLY).is_ok());
            assert!(dir.open_beneath("", OFlags::RDONLY).is_ok());
            for bad in ["a/up/secret", "a/inner/f.yml", "rel", "a/up", "a/inner"] {
                // ELOOP from openat2 and for a final symlink; ENOTDIR from the walk when an
                // inner component is one.
                let e = dir.open_beneath(bad, OFlags::RDONLY).unwrap_err();
                assert!(
                    e == Errno::LOOP || e == Errno::NOTDIR,
                    "{bad} (fallback {fallback}): {e}"
                );
            }
            for bad in ["../secret", "a/../a/b/f.yml", "/etc/passwd", "a//b", "./.."] {
                assert!(dir.open_beneath(bad, OFlags::RDONLY).is_err(), "{bad}");
            }
            // `.` names the directory it is in (a glob over `./*.yml` lists `.`).
            for same in [".", "./a/b/f.yml", "a/./b/f.yml", "a/b/."] {
                assert!(dir.open_beneath(same, OFlags::RDONLY).is_ok(), "{same}");
            }
        }
    }

    #[test]
    fn a_symlink_can_still_be_opened_as_itself() {
        let (_t, root) = tree();
        let dir = RootDir::open(&root).unwrap();
        let fd = dir.open_beneath("rel", OFlags::PATH).unwrap();
        let st = rustix::fs::fstat(&fd).unwrap();
        assert_eq!(
            rustix::fs::FileType::from_raw_mode(st.st_mode),
            rustix::fs::FileType::Symlink
        );
    }
}
