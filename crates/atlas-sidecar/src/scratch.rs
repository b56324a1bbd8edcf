//! Per-command scratch directories (the command's HOME and TMPDIR), reused when a command left
//! its directory as it found it.
//!
//! A fresh `mkdir` + `rm -r` per command cost as much as spawning the command on a disk-backed
//! `/tmp` (ext4 inode allocation and journal work on every request). Most explore commands
//! (`cat`, `grep`, `ls`) never touch HOME, so their directory goes back to a free list after a
//! check that it is exactly as handed out: still a directory (not a symlink), owned by us, mode
//! 0700, and empty. Anything else (a file written, a mode changed, the directory replaced) sends
//! it to removal off the async workers, and the next command gets a new one. The check runs
//! after the command's process group is dead, so nothing of the command can write into a
//! directory while it is being handed to the next one.
//!
//! Isolation between requests is what it was with a fresh directory each time: every command
//! starts in an empty, private (0700) directory no other command is using. (All commands share
//! the server's uid, so, as before, a concurrent command that guesses a path may reach another's
//! directory; the container's uid and tmpfs are the boundary, not the directory.)

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The mode of every scratch directory handed out.
const MODE: u32 = 0o700;

/// The pool of scratch directories under one temp root.
#[derive(Debug)]
pub struct ScratchPool {
    tmp_root: PathBuf,
    /// `<tmp_root>/atlas-sidecar-scratch-*`, created on first use, removed when the pool drops.
    base: OnceLock<PathBuf>,
    free: Mutex<Vec<PathBuf>>,
    /// Clean directories kept for reuse at most (the concurrency limit is enough).
    keep: usize,
}

impl ScratchPool {
    /// A pool under `tmp_root` that keeps up to `keep` clean directories.
    pub fn new(tmp_root: impl Into<PathBuf>, keep: usize) -> Self {
        ScratchPool {
            tmp_root: tmp_root.into(),
            base: OnceLock::new(),
            free: Mutex::new(Vec::new()),
            keep,
        }
    }

    fn base(&self) -> io::Result<&Path> {
        if let Some(b) = self.base.get() {
            return Ok(b);
        }
        let dir = tempfile::Builder::new()
            .prefix("atlas-sidecar-scratch-")
            .permissions(std::fs::Permissions::from_mode(MODE))
            .tempdir_in(&self.tmp_root)?
            .keep();
        if let Err(lost) = self.base.set(dir) {
            // Another request created one first: ours is empty, drop it.
            let _ = std::fs::remove_dir(lost);
        }
        Ok(self
            .base
            .get()
            .map(PathBuf::as_path)
            .unwrap_or(&self.tmp_root))
    }

    /// A clean directory for one command: reused if one is free, else created.
    pub fn acquire(self: &Arc<Self>) -> io::Result<Scratch> {
        let reused = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let path = match reused {
            Some(p) => p,
            None => tempfile::Builder::new()
                .prefix("h-")
                .permissions(std::fs::Permissions::from_mode(MODE))
                .tempdir_in(self.base()?)?
                .keep(),
        };
        Ok(Scratch {
            path: Some(path),
            pool: self.clone(),
        })
    }

    /// Directories currently free for reuse (for tests and health).
    pub fn free_count(&self) -> usize {
        self.free.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn release(&self, path: PathBuf) {
        if is_pristine(&path) {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            if free.len() < self.keep {
                free.push(path);
                return;
            }
        }
        // File-system work that can block (a disk-backed /tmp): off the async workers.
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(move || remove(&path));
            }
            Err(_) => remove(&path),
        }
    }
}

impl Drop for ScratchPool {
    fn drop(&mut self) {
        if let Some(base) = self.base.get() {
            remove(base);
        }
    }
}

/// A directory on loan to one command; goes back to its pool (or away) when dropped.
#[derive(Debug)]
pub struct Scratch {
    path: Option<PathBuf>,
    pool: Arc<ScratchPool>,
}

impl Scratch {
    /// Its path.
    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new("/nonexistent"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            self.pool.release(p);
        }
    }
}

/// Exactly as handed out: a real directory of ours, mode 0700, with nothing in it.
fn is_pristine(path: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    meta.is_dir()
        && meta.mode() & 0o7777 == MODE
        && meta.uid() == nix::unistd::geteuid().as_raw()
        && std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

fn remove(dir: &Path) {
    if std::fs::remove_dir_all(dir).is_ok() {
        return;
    }
    // A command may have left directories without write or search permission.
    make_owner_writable(dir);
    if let Err(e) = std::fs::remove_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), "could not remove a command's temp dir: {e}");
    }
}

fn make_owner_writable(dir: &Path) {
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                make_owner_writable(&entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_dirs_are_reused_and_dirty_ones_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Arc::new(ScratchPool::new(tmp.path(), 4));
        let a = pool.acquire().unwrap();
        let pa = a.path().to_path_buf();
        let mode = std::fs::metadata(&pa).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o700);
        drop(a);
        assert_eq!(pool.free_count(), 1);
        let b = pool.acquire().unwrap();
        assert_eq!(b.path(), pa, "an untouched dir is reused");
        std::fs::write(b.path().join("x"), "left behind").unwrap();
        drop(b);
        assert_eq!(pool.free_count(), 0, "a written dir is not reused");
        assert!(!pa.exists(), "and is removed");
        let c = pool.acquire().unwrap();
        assert_ne!(c.path(), pa);
        std::fs::set_permissions(c.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let pc = c.path().to_path_buf();
        drop(c);
        assert_eq!(
            pool.free_count(),
            0,
            "a dir whose mode changed is not reused"
        );
        assert!(!pc.exists());
    }

    #[test]
    fn a_dir_swapped_for_a_symlink_is_not_reused_and_the_target_survives() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), "k").unwrap();
        let pool = Arc::new(ScratchPool::new(tmp.path(), 4));
        let a = pool.acquire().unwrap();
        let pa = a.path().to_path_buf();
        std::fs::remove_dir(&pa).unwrap();
        std::os::unix::fs::symlink(outside.path(), &pa).unwrap();
        drop(a);
        assert_eq!(pool.free_count(), 0);
        assert!(outside.path().join("keep").exists());
    }

    #[test]
    fn the_pool_keeps_at_most_its_limit_and_removes_its_base_when_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Arc::new(ScratchPool::new(tmp.path(), 2));
        let held: Vec<Scratch> = (0..5).map(|_| pool.acquire().unwrap()).collect();
        drop(held);
        assert_eq!(pool.free_count(), 2);
        drop(pool);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
