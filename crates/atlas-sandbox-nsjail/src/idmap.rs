//! The user namespace through which a root host shows the layer's owner as the jail user
//! (`layer = "overlay"` as root; `state.rs` idmaps the overlay's lower layer with it).
//!
//! Why: as root, nsjail's user namespace maps only the jail user, so a layer owned by root
//! shows as `nobody` in the jail and the jail user may change none of it, where bash run by the
//! layer's owner in its own copy may change all of it. An idmapped clone of the layer, used only
//! as the overlay's read-only lower layer, shows the owner as the jail user; the host's files
//! are never written (overlayfs copies a changed file up into the sandbox's tmpfs). Files of
//! other owners stay unmapped, as they would be to bash run as the owner: readable, not
//! writable. The warm jail does the same for its overlay.
//!
//! A mapping namespace holds no process once it is open: it is built once per pair of ids and
//! kept for the life of the host (one descriptor each), so a server pays for it once.

use std::ffi::{c_int, c_void};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

/// `(uid, gid)` pairs.
type Ids = (u32, u32);

/// A built mapping: (owner, jail user) and the namespace.
type Built = ((Ids, Ids), Arc<OwnedFd>);

static NAMESPACES: Mutex<Vec<Built>> = Mutex::new(Vec::new());

/// A user namespace mapping `from` (the layer's owner) to `to` (the jail user's host ids), to
/// idmap a mount with. Root only.
pub(crate) fn mapping_namespace(from: Ids, to: Ids) -> io::Result<Arc<OwnedFd>> {
    let mut cache = NAMESPACES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, fd)) = cache.iter().find(|(k, _)| *k == (from, to)) {
        return Ok(fd.clone());
    }
    let fd = Arc::new(build(from, to)?);
    cache.push(((from, to), fd.clone()));
    Ok(fd)
}

/// What the child needs: the two pipe ends it keeps (every other descriptor it closes).
#[repr(C)]
struct ChildArgs {
    /// Written once the namespace exists (a byte: 1 done, 0 failed).
    ready: RawFd,
    /// Read until EOF: the child lives until the parent has opened its namespace.
    hold: RawFd,
}

/// The child's stack: it makes a handful of raw system calls.
const STACK_BYTES: usize = 16 * 1024;

/// Starts a child in a new user namespace, writes the mapping from here (the child cannot map
/// ids other than its own), opens the namespace and lets the child go.
///
/// The child shares this process's memory (`CLONE_VM`) and never execs: it unshares, reports,
/// waits for EOF and exits, a few microseconds of work where an exec'd helper costs a program
/// start (a `cat` here took about as long as the rest of building a sandbox's state).
#[allow(unsafe_code)]
fn build(from: Ids, to: Ids) -> io::Result<OwnedFd> {
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (hold_r, hold_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let args = ChildArgs {
        ready: ready_w.as_raw_fd(),
        hold: hold_r.as_raw_fd(),
    };
    // Never read as values, so left uninitialised.
    let mut stack: Vec<u8> = Vec::with_capacity(STACK_BYTES);
    // SAFETY: the end of our own buffer, rounded down to the 16 bytes the ABI wants; the buffer
    // outlives the child, which is reaped below before it is dropped.
    let top = unsafe { stack.as_mut_ptr().add(STACK_BYTES) };
    let top = (top as usize & !15) as *mut c_void;
    // SAFETY: `child_main` runs on its own stack, touches only `args` (alive until the child is
    // reaped) and makes raw system calls; every signal stays blocked in it (it inherits the mask
    // set around the clone and never changes it), so no handler of ours runs on its stack.
    let pid = atlas_sandbox_sdk::process::with_signals_blocked(|| unsafe {
        libc::clone(
            child_main,
            top,
            libc::CLONE_VM | libc::SIGCHLD,
            std::ptr::from_ref(&args).cast_mut().cast(),
        )
    });
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    drop((ready_w, hold_r));
    let result = (|| {
        let mut byte = [0u8; 1];
        match rustix::io::read(&ready_r, &mut byte) {
            Ok(1) if byte[0] == 1 => {}
            _ => {
                return Err(io::Error::other(
                    "unshare(CLONE_NEWUSER) failed in the child",
                ));
            }
        }
        std::fs::write(
            format!("/proc/{pid}/uid_map"),
            format!("{} {} 1\n", from.0, to.0),
        )?;
        std::fs::write(
            format!("/proc/{pid}/gid_map"),
            format!("{} {} 1\n", from.1, to.1),
        )?;
        Ok(OwnedFd::from(std::fs::File::open(format!(
            "/proc/{pid}/ns/user"
        ))?))
    })();
    // EOF: it exits at once (nothing to unmap: it shares our memory).
    drop(hold_w);
    // SAFETY: our own child, not reaped yet; it is on its way out.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    drop(stack);
    result
}

/// The child, in this process's memory, on its own stack. System calls only, no allocation, no
/// locks: it shares the cloning thread's thread-local storage, so the one thing it can touch
/// there is that thread's `errno` on a failed call, which that thread sets again with each call
/// of its own before it reads it.
#[allow(unsafe_code)]
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the parent's `ChildArgs`, alive until this process is reaped.
    unsafe {
        let a = &*arg.cast::<ChildArgs>();
        // It got copies of all the parent's descriptors (no CLONE_FILES): keep only its two, so
        // that it holds no other pipe open and sees EOF when the parent closes the hold pipe.
        let (lo, hi) = (a.ready.min(a.hold), a.ready.max(a.hold));
        libc::syscall(libc::SYS_close_range, 3u32, (lo - 1) as u32, 0u32);
        libc::syscall(
            libc::SYS_close_range,
            (lo + 1) as u32,
            (hi - 1) as u32,
            0u32,
        );
        libc::syscall(libc::SYS_close_range, (hi + 1) as u32, u32::MAX, 0u32);
        let ok = libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER) == 0;
        let byte = [u8::from(ok)];
        libc::syscall(libc::SYS_write, a.ready, byte.as_ptr(), 1usize);
        let mut buf = [0u8; 1];
        // Until EOF (or an error): the parent is done with the namespace.
        while libc::syscall(libc::SYS_read, a.hold, buf.as_mut_ptr(), 1usize) > 0 {}
        libc::syscall(libc::SYS_exit, 0);
        0
    }
}
