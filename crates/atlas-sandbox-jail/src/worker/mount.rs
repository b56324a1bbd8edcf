//! Builds the jail's root with the new mount API and pivots into it.
//!
//! Every source tree is cloned (`open_tree(OPEN_TREE_CLONE)`) *before* anything is mounted, so
//! no later mount can hide one. The semantic layer is the process's working directory: the host
//! started the worker there while it still had its own identity, and `unshare(CLONE_NEWNS)`
//! carried the cwd into the new namespace, so a layer under a directory the jail uid cannot
//! search (a root-only temp dir) still binds.
//!
//! With `layer = "overlay"` the layer is the lower layer of an overlayfs whose upper and work
//! directories live in the sandbox's own tmpfs, the one `/tmp` is a directory of: the layer's
//! changes and `/tmp` share one size and inode budget, outlive each command, die with the
//! sandbox, and never reach the host's files.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{CWD, Mode, OFlags};
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MountPropagationFlags, MoveMountFlags,
    OpenTreeFlags, UnmountFlags,
};

use crate::protocol::Plan;

/// Where the semantic layer appears in the jail (and the commands' default cwd).
pub(crate) const SEMANTIC: &str = "/semantic";
/// The device nodes bound into `/dev`.
pub(crate) const DEVICES: &[&str] = &["null", "zero", "urandom"];
/// The host's top-level entries that are links into `/usr` on merged-/usr systems (or real
/// directories elsewhere, then bound read-only like `/usr`).
/// Where Debian's alternatives links live; bound read-only when the host has it.
pub(crate) const ALTERNATIVES: &str = "/etc/alternatives";
/// The dynamic loader's cache; bound read-only when the host has it.
pub(crate) const LD_CACHE: &str = "/etc/ld.so.cache";
const ROOT_ENTRIES: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

type Step<T> = Result<T, String>;

fn at<T>(step: &str, r: rustix::io::Result<T>) -> Step<T> {
    r.map_err(|e| format!("{step}: {e}"))
}

fn clone_tree(path: &str, recursive: bool) -> Step<OwnedFd> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    at(
        &format!("clone the mount of {path}"),
        rustix::mount::open_tree(CWD, path, flags),
    )
}

fn new_fs(kind: &str, options: &[(&str, String)], attrs: MountAttrFlags) -> Step<OwnedFd> {
    let fs = at(
        &format!("fsopen({kind})"),
        rustix::mount::fsopen(kind, FsOpenFlags::FSOPEN_CLOEXEC),
    )?;
    for (k, v) in options {
        at(
            &format!("{kind} option {k}={v}"),
            rustix::mount::fsconfig_set_string(&fs, *k, v.as_str()),
        )?;
    }
    at(
        &format!("create the {kind}"),
        rustix::mount::fsconfig_create(&fs),
    )?;
    at(
        &format!("fsmount({kind})"),
        rustix::mount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs),
    )
}

fn attach(what: &OwnedFd, root: &OwnedFd, target: &str) -> Step<()> {
    at(
        &format!("mount at /{target}"),
        rustix::mount::move_mount(
            what,
            "",
            root,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        ),
    )
}

/// Makes a bind mount read-only (plus `extra`), keeping the flags the kernel locked on it (a
/// remount in a user namespace may not clear a flag the host set, such as nosuid or noatime).
fn remount_ro(path: &str, extra: MountFlags) -> Step<()> {
    use rustix::fs::StatVfsMountFlags as S;
    let have = at(&format!("statvfs {path}"), rustix::fs::statvfs(path))?.f_flag;
    let mut flags =
        MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | extra;
    for (s, m) in [
        (S::NOEXEC, MountFlags::NOEXEC),
        (S::NOATIME, MountFlags::NOATIME),
        (S::NODIRATIME, MountFlags::NODIRATIME),
        (S::RELATIME, MountFlags::RELATIME),
    ] {
        if have.contains(s) {
            flags |= m;
        }
    }
    at(
        &format!("remount {path} read-only"),
        rustix::mount::mount_remount(path, flags, ""),
    )
}

/// A host top-level entry to recreate in the jail.
enum RootEntry {
    Link(&'static str, std::path::PathBuf),
    Dir(&'static str, OwnedFd),
}

/// The sandbox's tmpfs, attached at `/tmp/tmp` of this private namespace while the overlay is
/// assembled (the new root is attached at `/tmp`): `/tmp` is its `tmp` directory, the overlay's
/// upper and work directories are the others, which no command can name.
const STATE: &str = "/tmp/tmp";

/// Creates the overlay over `lower` with its upper and work directories in `state` and returns
/// it with the `/tmp` directory of `state`, both detached, ready to attach. Both sources are
/// attached under `root` only meanwhile: overlayfs takes private clones of its layers, so
/// detaching them afterwards leaves no path to the upper directory or to the raw layer.
fn overlay(lower: &OwnedFd, state: &OwnedFd, root: &OwnedFd) -> Step<(OwnedFd, OwnedFd)> {
    attach(lower, root, "semantic")?;
    attach(state, root, "tmp")?;
    for (name, mode) in [("upper", 0o755), ("work", 0o700), ("tmp", 0o1777)] {
        let path = format!("{STATE}/{name}");
        at(
            &format!("mkdir {path}"),
            rustix::fs::mkdirat(CWD, path.as_str(), Mode::from_raw_mode(mode)),
        )?;
        // The init's umask would take the sticky and group/other bits.
        at(
            &format!("chmod {path}"),
            rustix::fs::chmodat(
                CWD,
                path.as_str(),
                Mode::from_raw_mode(mode),
                rustix::fs::AtFlags::empty(),
            ),
        )?;
    }
    // A merged directory shows its upper directory's mode and times; for `/semantic` itself
    // that is `upper`, which must look like the layer's root did (`ls -la`, `stat .`).
    let st = at("stat the layer", rustix::fs::fstat(lower))?;
    let upper = format!("{STATE}/upper");
    at(
        "chmod the overlay's upper directory",
        rustix::fs::chmodat(
            CWD,
            upper.as_str(),
            Mode::from_raw_mode(st.st_mode & 0o7777),
            rustix::fs::AtFlags::empty(),
        ),
    )?;
    let time = |sec: i64, nsec: u64| rustix::fs::Timespec {
        tv_sec: sec,
        tv_nsec: nsec as _,
    };
    at(
        "set the times of the overlay's upper directory",
        rustix::fs::utimensat(
            CWD,
            upper.as_str(),
            &rustix::fs::Timestamps {
                last_access: time(st.st_atime as i64, st.st_atime_nsec as u64),
                last_modification: time(st.st_mtime as i64, st.st_mtime_nsec as u64),
            },
            rustix::fs::AtFlags::empty(),
        ),
    )?;

    let fs = at(
        "fsopen(overlay)",
        rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC),
    )?;
    for (k, v) in [
        ("lowerdir", "/tmp/semantic".to_owned()),
        ("upperdir", upper),
        ("workdir", format!("{STATE}/work")),
    ] {
        at(
            &format!("overlay option {k}={v}"),
            rustix::mount::fsconfig_set_string(&fs, k, v.as_str()),
        )?;
    }
    // In a user namespace the `trusted.` xattrs overlayfs keeps (opaque directories,
    // redirects) cannot be written; `user.` ones can (tmpfs has them since Linux 6.6).
    at(
        "overlay option userxattr",
        rustix::mount::fsconfig_set_flag(&fs, "userxattr"),
    )?;
    at("create the overlay", rustix::mount::fsconfig_create(&fs))?;
    let layer = at(
        "fsmount(overlay)",
        rustix::mount::fsmount(
            &fs,
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::MOUNT_ATTR_NOSUID
                | MountAttrFlags::MOUNT_ATTR_NODEV
                | MountAttrFlags::MOUNT_ATTR_NOEXEC,
        ),
    )?;
    let tmp = clone_tree(&format!("{STATE}/tmp"), false)?;
    at(
        "detach the overlay's state",
        rustix::mount::unmount(STATE, UnmountFlags::DETACH),
    )?;
    at(
        "detach the overlay's lower layer",
        rustix::mount::unmount("/tmp/semantic", UnmountFlags::DETACH),
    )?;
    Ok((layer, tmp))
}

/// Builds the root, pivots into it and leaves the process in `/`. Needs the capabilities of
/// the new user namespace. `lower` is the layer to mount (the keeper's idmapped clone when the
/// host is root and the layer is an overlay); `None` clones the working directory.
pub(crate) fn build(plan: &Plan, lower: Option<OwnedFd>) -> Step<()> {
    // Nothing mounted here may propagate back to the host.
    at(
        "make the mounts private",
        rustix::mount::mount_change(
            "/",
            MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
        ),
    )?;

    let semantic = match lower {
        Some(fd) => fd,
        None => clone_tree(".", true)?,
    };
    let usr = clone_tree("/usr", true)?;
    let mut entries = Vec::new();
    for name in ROOT_ENTRIES {
        let host = format!("/{name}");
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                let target =
                    std::fs::read_link(&host).map_err(|e| format!("readlink {host}: {e}"))?;
                entries.push(RootEntry::Link(name, target));
            }
            Ok(m) if m.is_dir() => entries.push(RootEntry::Dir(name, clone_tree(&host, true)?)),
            _ => {}
        }
    }
    // Debian reaches awk, editor and friends through /etc/alternatives (symlinks only).
    let alternatives = if std::fs::metadata(ALTERNATIVES).is_ok_and(|m| m.is_dir()) {
        Some(clone_tree(ALTERNATIVES, false)?)
    } else {
        None
    };
    // The loader's cache spares every exec a search of the library directories.
    let ld_cache = if std::fs::metadata(LD_CACHE).is_ok_and(|m| m.is_file()) {
        Some(clone_tree(LD_CACHE, false)?)
    } else {
        None
    };
    let devices = DEVICES
        .iter()
        .map(|d| clone_tree(&format!("/dev/{d}"), false))
        .collect::<Step<Vec<_>>>()?;
    let extras = plan
        .extra_ro
        .iter()
        .map(|(src, _)| clone_tree(src, true))
        .collect::<Step<Vec<_>>>()?;

    // Created while the host's /proc is still visible in this namespace: the kernel lets a user
    // namespace mount a proc only when a full one is already visible to it.
    let proc = new_fs(
        "proc",
        &[("subset", "pid".into()), ("hidepid", "invisible".into())],
        MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOEXEC,
    )?;
    // Executable, unlike `/semantic`: a command runs the script it just wrote (`/tmp/x.sh`,
    // `./x.sh`) as bash allows; see `confine::landlock` for why that widens nothing.
    let tmp = new_fs(
        "tmpfs",
        &[
            ("size", plan.tmpfs_size_bytes.to_string()),
            ("nr_inodes", plan.tmpfs_max_inodes.to_string()),
            // Under an overlay `/tmp` is a directory of it (made 1777 there).
            ("mode", if plan.overlay { "0755" } else { "1777" }.into()),
        ],
        MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NODEV,
    )?;
    let root = new_fs(
        "tmpfs",
        &[
            ("size", (1u64 << 20).to_string()),
            ("nr_inodes", "256".into()),
            ("mode", "0755".into()),
        ],
        MountAttrFlags::MOUNT_ATTR_NOSUID | MountAttrFlags::MOUNT_ATTR_NODEV,
    )?;
    // The new root must be attached somewhere before pivot_root; /tmp of this private
    // namespace is as good as any (every source is already cloned).
    at(
        "attach the new root",
        rustix::mount::move_mount(
            &root,
            "",
            CWD,
            "/tmp",
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        ),
    )?;

    let dir = |name: &str| {
        at(
            &format!("mkdir /{name}"),
            rustix::fs::mkdirat(&root, name, Mode::from_raw_mode(0o755)),
        )
    };
    for name in ["usr", "semantic", "tmp", "proc", "dev"] {
        dir(name)?;
    }
    attach(&usr, &root, "usr")?;
    if plan.overlay {
        let (layer, tmp) = overlay(&semantic, &tmp, &root)?;
        attach(&layer, &root, "semantic")?;
        attach(&tmp, &root, "tmp")?;
    } else {
        attach(&semantic, &root, "semantic")?;
        attach(&tmp, &root, "tmp")?;
    }
    attach(&proc, &root, "proc")?;
    for entry in &entries {
        match entry {
            RootEntry::Link(name, target) => at(
                &format!("symlink /{name}"),
                rustix::fs::symlinkat(target.as_path(), &root, *name),
            )?,
            RootEntry::Dir(name, fd) => {
                dir(name)?;
                attach(fd, &root, name)?;
            }
        }
    }
    if alternatives.is_some() || ld_cache.is_some() {
        dir("etc")?;
    }
    if let Some(fd) = &alternatives {
        dir("etc/alternatives")?;
        attach(fd, &root, "etc/alternatives")?;
    }
    if let Some(fd) = &ld_cache {
        drop(at(
            "create /etc/ld.so.cache",
            rustix::fs::openat(
                &root,
                "etc/ld.so.cache",
                OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            ),
        )?);
        attach(fd, &root, "etc/ld.so.cache")?;
    }
    for (name, fd) in DEVICES.iter().zip(&devices) {
        let path = format!("dev/{name}");
        drop(at(
            &format!("create /{path}"),
            rustix::fs::openat(
                &root,
                path.as_str(),
                OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o666),
            ),
        )?);
        attach(fd, &root, &path)?;
    }
    for (link, target) in [
        ("dev/fd", "/proc/self/fd"),
        ("dev/stdin", "/proc/self/fd/0"),
        ("dev/stdout", "/proc/self/fd/1"),
        ("dev/stderr", "/proc/self/fd/2"),
    ] {
        at(
            &format!("symlink /{link}"),
            rustix::fs::symlinkat(target, &root, link),
        )?;
    }
    for ((_, target), fd) in plan.extra_ro.iter().zip(&extras) {
        let rel = target.trim_start_matches('/');
        let mut sofar = String::new();
        for part in rel.split('/') {
            if !sofar.is_empty() {
                sofar.push('/');
            }
            sofar.push_str(part);
            match rustix::fs::mkdirat(&root, sofar.as_str(), Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(format!("mkdir /{sofar}: {e}")),
            }
        }
        attach(fd, &root, rel)?;
    }

    // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves the new.
    at(
        "chdir to the new root",
        rustix::process::fchdir(root.as_fd()),
    )?;
    at("pivot_root", rustix::process::pivot_root(".", "."))?;
    at(
        "detach the old root",
        rustix::mount::unmount(".", UnmountFlags::DETACH),
    )?;
    at("chdir /", rustix::process::chdir("/"))?;

    remount_ro("/usr", MountFlags::empty())?;
    // The overlay is writable by design; it was made nosuid, nodev, noexec.
    if !plan.overlay {
        remount_ro(SEMANTIC, MountFlags::NOEXEC)?;
    }
    for entry in &entries {
        if let RootEntry::Dir(name, _) = entry {
            remount_ro(&format!("/{name}"), MountFlags::empty())?;
        }
    }
    if alternatives.is_some() {
        remount_ro(ALTERNATIVES, MountFlags::NOEXEC)?;
    }
    if ld_cache.is_some() {
        remount_ro(LD_CACHE, MountFlags::NOEXEC)?;
    }
    for (_, target) in &plan.extra_ro {
        remount_ro(target, MountFlags::NOEXEC)?;
    }
    at(
        "remount / read-only",
        rustix::mount::mount_remount(
            "/",
            MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV,
            "",
        ),
    )?;
    Ok(())
}
