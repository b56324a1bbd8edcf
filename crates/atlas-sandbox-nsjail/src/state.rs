//! What a sandbox keeps between its jails (`layer = "overlay"`): the layer's changes and `/tmp`,
//! both in one tmpfs of `tmpfs_size_mb` / `tmpfs_max_inodes`.
//!
//! nsjail builds a new jail per command, and a tmpfs it mounts dies with that command. So the
//! state lives in a mount namespace of the sandbox's own, held by a small process (`cat` reading
//! a pipe nobody writes to): a private tmpfs on the sandbox's `state` directory holding `/tmp`
//! and an overlayfs whose lower layer is the host's layer and whose upper layer is in that
//! tmpfs. Every nsjail of the sandbox is started inside that namespace (the SDK runner `setns`
//! before the exec), so its jail binds the merged layer at `/semantic` and the kept `/tmp`.
//!
//! Nothing of it reaches the host's mount table, and nothing outlives the sandbox: the holder's
//! stdin is a pipe whose only writer is this process, so the holder ends when the sandbox is
//! closed, dropped, or the host dies in any way (the kernel closes the writer); with it go the
//! namespace, the tmpfs and the overlay. The host's layer is never written (escape row F1).
//!
//! As root the namespace is a mount namespace only, so nsjail runs as before (its cgroups
//! included). Unprivileged, it is a user namespace mapping the host user to root, as
//! `unshare --map-root-user` does, plus the mount namespace; the jail then maps its user to that
//! root, which is the host user, owner of the layer.

use std::ffi::{CString, c_int, c_void};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use rustix::process::{WaitId, WaitIdOptions};

/// Where the state lives, under the sandbox's private directory (empty on the host: the tmpfs
/// is mounted over it in the sandbox's namespace only).
const STATE_DIR: &str = "state";

/// Everything a holder is built from except where it lives: the same inputs build the same
/// state, which is how a sandbox knows it may adopt one built ahead for it (`prestart`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateSpec {
    /// The host's layer (canonical): the overlay's lower layer.
    pub(crate) lower: PathBuf,
    /// The tmpfs's size in bytes and its inode count.
    pub(crate) size_bytes: u64,
    pub(crate) inodes: u64,
    /// The mode of the layer's top directory: an overlay's top directory shows its upper
    /// directory's owner and mode, so the upper directory gets the lower one's mode.
    pub(crate) top_mode: u32,
    /// The top directory's access and modification times (seconds, nanoseconds), given to the
    /// upper directory for the same reason (`ls -la` shows `.`'s).
    pub(crate) top_times: [(i64, i64); 2],
    /// Root only: the owner given to the layer's top directory and to nothing else, so that the
    /// jail user can create files there as bash's user could in its own copy. Only given when
    /// the jail user may enter the layer anyway (else the top stays root's and unreadable).
    pub(crate) top_owner: Option<(u32, u32)>,
    /// Unprivileged: the host uid and gid to map to root in a new user namespace.
    pub(crate) map_root_to: Option<(u32, u32)>,
    /// Root only, when the jail user may enter the layer and is not its owner: the owner's ids
    /// and the jail user's, for an idmapped lower layer that shows the one as the other
    /// (`idmap.rs`).
    pub(crate) idmap: Option<((u32, u32), (u32, u32))>,
}

impl StateSpec {
    /// The inputs for `lower` under `config`, for a host running as `euid`/`egid`; `enter` is
    /// whether the jail user may enter the layer (see [`StateSpec::top_owner`]).
    pub(crate) fn new(
        config: &crate::NsjailConfig,
        lower: &Path,
        (euid, egid): (u32, u32),
        enter: bool,
    ) -> Self {
        use std::os::unix::fs::MetadataExt;
        let top = std::fs::metadata(lower).ok();
        let jail = (config.jail_uid, config.jail_gid);
        // Only when the jail user may enter the layer anyway: the idmap gives it the owner's
        // rights over its copy, never access the layer's own mode bits deny to others.
        let idmap = top
            .as_ref()
            .map(|m| (m.uid(), m.gid()))
            .filter(|owner| euid == 0 && enter && *owner != jail)
            .map(|owner| (owner, jail));
        StateSpec {
            lower: lower.to_path_buf(),
            size_bytes: config.tmpfs_size_mb.saturating_mul(1024 * 1024),
            inodes: config.tmpfs_max_inodes,
            top_mode: top.as_ref().map_or(0o755, |m| m.mode()),
            top_times: top.as_ref().map_or([(0, 0); 2], |m| {
                [(m.atime(), m.atime_nsec()), (m.mtime(), m.mtime_nsec())]
            }),
            top_owner: (euid == 0 && enter).then_some(jail),
            map_root_to: (euid != 0).then_some((euid, egid)),
            idmap,
        }
    }
}

/// A running holder. Dropping it ends it (and its namespace).
pub(crate) struct SessionState {
    pidfd: Option<OwnedFd>,
    /// The writer of the holder's stdin; never written to.
    _lifeline: OwnedFd,
    namespaces: Vec<Arc<OwnedFd>>,
    layer: PathBuf,
    tmp: PathBuf,
}

impl std::fmt::Debug for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionState")
            .field("layer", &self.layer)
            .field("tmp", &self.tmp)
            .finish_non_exhaustive()
    }
}

/// Why the holder could not be built: the step and the errno.
#[derive(Debug)]
pub(crate) struct StateError {
    pub(crate) step: &'static str,
    pub(crate) source: io::Error,
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.step, self.source)
    }
}

/// The steps of the holder, in order; the child reports the index of the one that failed.
const STEPS: &[&str] = &[
    "setting up the holder process",
    "creating the sandbox's namespace (unshare)",
    "mapping the host user into its user namespace",
    "making its mounts private",
    "mounting the state tmpfs",
    "creating the state directories",
    "idmapping the layer for the jail user (open_tree, mount_setattr, move_mount)",
    "mounting the layer's overlay",
    "starting the holder (exec)",
];

impl SessionState {
    /// Starts the holder for `spec` in the sandbox directory `dir` and returns once its
    /// namespace is built (or says which step failed).
    ///
    /// When the layer cannot be idmapped (a kernel or filesystem without idmapped mounts, or
    /// overlayfs over one), the state is built without it, as before: the layer's owner's
    /// files are then readable but not writable to the jail user (docs/backends/nsjail.md).
    pub(crate) fn start(dir: &Path, spec: &StateSpec) -> Result<SessionState, StateError> {
        let Some((from, to)) = spec.idmap else {
            return Self::start_with(dir, spec, None);
        };
        let tried = crate::idmap::mapping_namespace(from, to)
            .map_err(|e| StateError {
                step: STEPS[6],
                source: e,
            })
            .and_then(|ns| Self::start_with(dir, spec, Some(&ns)));
        match tried {
            Err(e) if e.step == STEPS[6] => {
                tracing::warn!(
                    "nsjail: the layer's overlay is built without an idmapped lower layer ({e}); \
                     the jail user cannot change the layer owner's files"
                );
                Self::start_with(dir, spec, None)
            }
            other => other,
        }
    }

    #[allow(unsafe_code)]
    fn start_with(
        dir: &Path,
        spec: &StateSpec,
        idmap: Option<&OwnedFd>,
    ) -> Result<SessionState, StateError> {
        let fail = |step: &'static str, source: io::Error| StateError { step, source };
        let lower = spec.lower.as_os_str().as_bytes();
        if lower.iter().any(|b| matches!(b, b',' | b':' | b'\\')) {
            return Err(fail(
                "mounting the layer's overlay",
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the layer's path {} holds ',', ':' or '\\', which overlayfs options \
                         cannot carry; move the layer or set layer = \"read-only\"",
                        spec.lower.display()
                    ),
                ),
            ));
        }
        let state = dir.join(STATE_DIR);
        match std::fs::create_dir(&state) {
            // Left by a try that failed (its mounts ended with its holder): empty on the host.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && idmap.is_none() => {}
            r => r.map_err(|e| fail(STEPS[5], e))?,
        }
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|_| nul(p));
        let upper = state.join("upper");
        let work = state.join("work");
        let layer = state.join("layer");
        let tmp = state.join("tmp");
        let lower_mnt = state.join("lower");
        let paths = [&state, &upper, &work, &layer, &tmp, &lower_mnt, &spec.lower]
            .map(|p| c(p))
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(STEPS[5], e))?;
        let tmpfs_opts = CString::new(format!(
            "size={},nr_inodes={},mode=0755",
            spec.size_bytes, spec.inodes
        ))
        .map_err(|_| fail(STEPS[4], nul(&state)))?;
        let mut overlay = format!(
            "lowerdir={},upperdir={},workdir={}",
            if idmap.is_some() {
                lower_mnt.display()
            } else {
                spec.lower.display()
            },
            upper.display(),
            work.display()
        );
        if spec.map_root_to.is_some() {
            // Mounted in a user namespace: the overlay's own xattrs live in user.*.
            overlay.push_str(",userxattr");
        }
        let overlay_opts = CString::new(overlay).map_err(|_| fail(STEPS[7], nul(&state)))?;
        let maps = spec.map_root_to.map(|(uid, gid)| {
            (
                format!("0 {uid} 1\n").into_bytes(),
                format!("0 {gid} 1\n").into_bytes(),
            )
        });
        let cat = ["/usr/bin/cat", "/bin/cat"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or_else(|| {
                fail(
                    STEPS[8],
                    io::Error::new(io::ErrorKind::NotFound, "no cat in /usr/bin or /bin"),
                )
            })?;
        let program = CString::new(cat).map_err(|_| fail(STEPS[8], nul(Path::new(cat))))?;
        let argv = [program.as_ptr(), std::ptr::null()];
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| fail(STEPS[0], e.into()))?;
        let devnull =
            OwnedFd::from(std::fs::File::open("/dev/null").map_err(|e| fail(STEPS[0], e))?);
        let args = HolderArgs {
            paths: [
                paths[0].as_ptr(),
                paths[1].as_ptr(),
                paths[2].as_ptr(),
                paths[3].as_ptr(),
                paths[4].as_ptr(),
                paths[5].as_ptr(),
                paths[6].as_ptr(),
            ],
            idmap: idmap.map_or(-1, AsRawFd::as_raw_fd),
            tmpfs_opts: tmpfs_opts.as_ptr(),
            overlay_opts: overlay_opts.as_ptr(),
            uid_map: maps
                .as_ref()
                .map_or((std::ptr::null(), 0), |m| (m.0.as_ptr(), m.0.len())),
            gid_map: maps
                .as_ref()
                .map_or((std::ptr::null(), 0), |m| (m.1.as_ptr(), m.1.len())),
            top_owner: spec.top_owner.map_or((u32::MAX, u32::MAX), |(u, g)| (u, g)),
            top_mode: spec.top_mode & 0o7777,
            top_times: spec.top_times.map(|(s, n)| libc::timespec {
                tv_sec: s,
                tv_nsec: n,
            }),
            stdin: read.as_raw_fd(),
            devnull: devnull.as_raw_fd(),
            program: program.as_ptr(),
            argv: argv.as_ptr(),
            envp: envp.as_ptr(),
            step: AtomicI32::new(-1),
            error: AtomicI32::new(0),
        };
        // SAFETY: `holder_main` only makes async-signal-safe calls on `args` (and what it points
        // to), all alive until this returns; it unblocks signals itself before its exec.
        let pid = atlas_sandbox_sdk::process::with_signals_blocked(|| unsafe {
            atlas_sandbox_sdk::process::clone_vfork(
                holder_main,
                std::ptr::from_ref(&args).cast_mut().cast(),
            )
        });
        drop(read);
        let pid = pid.map_err(|e| fail(STEPS[0], e))?;
        let step = args.step.load(Ordering::Acquire);
        if step >= 0 {
            let _ = rustix::process::waitpid(
                rustix::process::Pid::from_raw(pid),
                rustix::process::WaitOptions::empty(),
            );
            let errno = args.error.load(Ordering::Acquire);
            let step = usize::try_from(step).unwrap_or(0).min(STEPS.len() - 1);
            return Err(fail(STEPS[step], io::Error::from_raw_os_error(errno)));
        }
        // SAFETY: `pid` is our child, not yet reaped (it exec'd), so the id is still its own.
        let pidfd = match rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(pid)
                .ok_or_else(|| fail(STEPS[0], io::Error::other("pid 0")))?,
            rustix::process::PidfdFlags::empty(),
        ) {
            Ok(fd) => fd,
            Err(e) => {
                unsafe { libc::kill(pid, libc::SIGKILL) };
                let _ = rustix::process::waitpid(
                    rustix::process::Pid::from_raw(pid),
                    rustix::process::WaitOptions::empty(),
                );
                return Err(fail(STEPS[0], e.into()));
            }
        };
        let mut st = SessionState {
            pidfd: Some(pidfd),
            _lifeline: write,
            namespaces: Vec::new(),
            layer,
            tmp,
        };
        let kinds: &[&str] = if spec.map_root_to.is_some() {
            &["user", "mnt"]
        } else {
            &["mnt"]
        };
        for kind in kinds {
            let f = std::fs::File::open(format!("/proc/{pid}/ns/{kind}"))
                .map_err(|e| fail(STEPS[1], e))?;
            st.namespaces.push(Arc::new(OwnedFd::from(f)));
        }
        Ok(st)
    }

    /// The namespaces a jail of this sandbox is started in (user first, when there is one).
    pub(crate) fn namespaces(&self) -> &[Arc<OwnedFd>] {
        &self.namespaces
    }

    /// The merged layer, as a path inside the namespace.
    pub(crate) fn layer(&self) -> &Path {
        &self.layer
    }

    /// The kept `/tmp`, as a path inside the namespace.
    pub(crate) fn tmp(&self) -> &Path {
        &self.tmp
    }
}

impl Drop for SessionState {
    fn drop(&mut self) {
        // Whoever closes a mount namespace's last reference tears its mounts down, which waits
        // for an RCU grace period (about a millisecond here). Closing ours before the holder is
        // killed leaves that to the holder's exit instead of the caller (a one-shot `exec` spent
        // it between nsjail's exit and its own).
        self.namespaces.clear();
        let Some(fd) = self.pidfd.take() else {
            return;
        };
        // Closing the lifeline (after this) would end it too; this does not wait for that.
        let _ = rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL);
        let reap = move || {
            let _ = rustix::process::waitid(WaitId::PidFd(fd.as_fd()), WaitIdOptions::EXITED);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => drop(h.spawn_blocking(reap)),
            Err(_) => reap(),
        }
    }
}

fn nul(p: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} holds a NUL byte", p.display()),
    )
}

/// What the holder needs, prepared by the parent (it shares the parent's memory until exec).
#[repr(C)]
struct HolderArgs {
    /// state, upper, work, layer, tmp, the idmapped lower's mount point, the host's layer.
    paths: [*const libc::c_char; 7],
    /// The mapping user namespace to idmap the layer with (-1: none).
    idmap: RawFd,
    tmpfs_opts: *const libc::c_char,
    overlay_opts: *const libc::c_char,
    uid_map: (*const u8, usize),
    gid_map: (*const u8, usize),
    top_owner: (u32, u32),
    top_mode: libc::mode_t,
    top_times: [libc::timespec; 2],
    stdin: RawFd,
    devnull: RawFd,
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    /// The index in [`STEPS`] that failed (-1: it exec'd), and its errno.
    step: AtomicI32,
    error: AtomicI32,
}

/// Writes `len` bytes at `buf` to the file `path` (a `/proc/self/*_map`).
///
/// # Safety
/// Async-signal-safe calls only; `path` is NUL-terminated and `buf` holds `len` bytes.
#[allow(unsafe_code)]
unsafe fn write_file(path: &[u8], buf: *const u8, len: usize) -> bool {
    // SAFETY: the caller's promises.
    unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let n = libc::write(fd, buf.cast(), len);
        libc::close(fd);
        n == len as isize
    }
}

/// The holder, between clone and exec, in the host's memory.
#[allow(unsafe_code)]
extern "C" fn holder_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the parent's `HolderArgs`, alive until this process execs or exits;
    // every call is async-signal-safe and touches only that data and this stack.
    unsafe {
        let a = &*arg.cast::<HolderArgs>();
        let fail = |a: &HolderArgs, step: i32| -> c_int {
            a.error.store(*libc::__errno_location(), Ordering::Release);
            a.step.store(step, Ordering::Release);
            libc::_exit(127)
        };
        let dfl = [0u64; 4];
        for sig in 1..=64 {
            libc::syscall(libc::SYS_rt_sigaction, sig, dfl.as_ptr(), 0usize, 8usize);
        }
        if libc::setsid() < 0 {
            return fail(a, 0);
        }
        let user = !a.uid_map.0.is_null();
        let flags = if user {
            libc::CLONE_NEWUSER | libc::CLONE_NEWNS
        } else {
            libc::CLONE_NEWNS
        };
        if libc::unshare(flags) != 0 {
            return fail(a, 1);
        }
        if user
            && !(write_file(b"/proc/self/setgroups\0", b"deny".as_ptr(), 4)
                && write_file(b"/proc/self/uid_map\0", a.uid_map.0, a.uid_map.1)
                && write_file(b"/proc/self/gid_map\0", a.gid_map.0, a.gid_map.1))
        {
            return fail(a, 2);
        }
        let none = std::ptr::null::<libc::c_char>();
        if libc::mount(
            none,
            c"/".as_ptr(),
            none,
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return fail(a, 3);
        }
        let [state, upper, work, layer, tmp, lower_mnt, lower] = a.paths;
        if libc::mount(
            c"tmpfs".as_ptr(),
            state,
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            a.tmpfs_opts.cast(),
        ) != 0
        {
            return fail(a, 4);
        }
        for dir in [upper, work, layer, tmp] {
            if libc::mkdir(dir, 0o755) != 0 {
                return fail(a, 5);
            }
        }
        if libc::chmod(tmp, 0o1777) != 0 {
            return fail(a, 5);
        }
        if libc::chmod(upper, a.top_mode) != 0 {
            return fail(a, 5);
        }
        if a.top_owner.0 != u32::MAX && libc::chown(upper, a.top_owner.0, a.top_owner.1) != 0 {
            return fail(a, 5);
        }
        if libc::utimensat(libc::AT_FDCWD, upper, a.top_times.as_ptr(), 0) != 0 {
            return fail(a, 5);
        }
        if a.idmap >= 0 && !idmapped_clone(lower, lower_mnt, a.idmap) {
            return fail(a, 6);
        }
        if libc::mount(
            c"overlay".as_ptr(),
            layer,
            c"overlay".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            a.overlay_opts.cast(),
        ) != 0
        {
            return fail(a, 7);
        }
        if libc::dup2(a.stdin, 0) < 0
            || libc::dup2(a.devnull, 1) < 0
            || libc::dup2(a.devnull, 2) < 0
        {
            return fail(a, 8);
        }
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            for fd in 3..4096 {
                libc::close(fd);
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::execve(a.program, a.argv, a.envp);
        fail(a, 8)
    }
}

/// `struct mount_attr` of `<linux/mount.h>` (libc has no `mount_setattr` wrapper).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Mounts at `target` a detached, read-only clone of `source` idmapped through the user
/// namespace `userns`. In the holder, between clone and exec: raw syscalls only.
///
/// # Safety
/// Async-signal-safe calls only; both paths are NUL-terminated.
#[allow(unsafe_code)]
unsafe fn idmapped_clone(
    source: *const libc::c_char,
    target: *const libc::c_char,
    userns: RawFd,
) -> bool {
    const OPEN_TREE_CLONE: u32 = 1;
    const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;
    const MOUNT_ATTR_NOSUID: u64 = 0x0000_0002;
    const MOUNT_ATTR_NODEV: u64 = 0x0000_0004;
    const MOUNT_ATTR_NOEXEC: u64 = 0x0000_0008;
    const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
    const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x0000_0004;
    // SAFETY: the caller's promises; the kernel only reads `attr` and the paths.
    unsafe {
        let tree = libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            source,
            OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | libc::AT_RECURSIVE as u32,
        );
        if tree < 0 {
            return false;
        }
        let tree = tree as c_int;
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_IDMAP
                | MOUNT_ATTR_RDONLY
                | MOUNT_ATTR_NOSUID
                | MOUNT_ATTR_NODEV
                | MOUNT_ATTR_NOEXEC,
            attr_clr: 0,
            propagation: 0,
            userns_fd: userns as u64,
        };
        let ok = libc::syscall(
            libc::SYS_mount_setattr,
            tree,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &raw const attr,
            std::mem::size_of::<MountAttr>(),
        ) == 0
            && libc::mkdir(target, 0o755) == 0
            && libc::syscall(
                libc::SYS_move_mount,
                tree,
                c"".as_ptr(),
                libc::AT_FDCWD,
                target,
                MOVE_MOUNT_F_EMPTY_PATH,
            ) == 0;
        libc::close(tree);
        ok
    }
}
