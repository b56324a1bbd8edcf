//! The layer as the overlay's lower layer when the host is root: an idmapped clone in which the
//! layer's owner appears as the jail's uid/gid.
//!
//! Why: the jail's user namespace maps only the jail's own ids, so a layer owned by root shows
//! as `nobody` inside it. The command could then write none of it (DAC), and overlayfs could
//! not copy a file up anyway (the copy must be chowned to an owner the namespace cannot name:
//! EOVERFLOW). Only a process privileged over the host filesystem's user namespace may idmap
//! one of its mounts, so the keeper does it while it is still root, before it becomes the jail
//! user. The clone is read-only, detached (no one else can reach it) and only ever the overlay's
//! lower layer, which overlayfs never writes. Files of other owners stay unmapped, as they
//! would be to bash run as the layer's owner: readable, not writable.

use std::os::fd::{AsRawFd, OwnedFd};

use rustix::fs::CWD;
use rustix::mount::OpenTreeFlags;

/// `struct mount_attr` of `<linux/mount.h>` (rustix has no `mount_setattr`).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;
const MOUNT_ATTR_NOSUID: u64 = 0x0000_0002;
const MOUNT_ATTR_NODEV: u64 = 0x0000_0004;
const MOUNT_ATTR_NOEXEC: u64 = 0x0000_0008;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// A detached, read-only clone of the working directory (the layer) whose owner `(uid, gid)`
/// reads as `to` (the host ids the jail's ids map to). Must run as root, single-threaded.
pub(crate) fn layer_clone(to: (u32, u32)) -> Result<OwnedFd, String> {
    let st = rustix::fs::stat(".").map_err(|e| format!("stat the layer: {e}"))?;
    let userns = mapping_namespace((st.st_uid, st.st_gid), to)?;
    let tree = rustix::mount::open_tree(
        CWD,
        ".",
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    )
    .map_err(|e| format!("clone the mount of the layer: {e}"))?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP
            | MOUNT_ATTR_RDONLY
            | MOUNT_ATTR_NOSUID
            | MOUNT_ATTR_NODEV
            | MOUNT_ATTR_NOEXEC,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: `attr` is a valid `struct mount_attr` of the size passed, `tree` an open fd and
    // the path an empty C string; the kernel only reads them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!(
            "idmap the layer's mount for the overlay (mount_setattr MOUNT_ATTR_IDMAP, Linux \
             5.12 or later and a filesystem that supports idmapped mounts): {e}; set layer = \
             \"read-only\" to bind the layer read-only instead"
        ));
    }
    Ok(tree)
}

/// A user namespace mapping `from` (the layer's owner) to `to`, held by a short-lived child.
fn mapping_namespace(from: (u32, u32), to: (u32, u32)) -> Result<OwnedFd, String> {
    let (ready_r, ready_w) =
        rustix::pipe::pipe().map_err(|e| format!("pipe for the idmap namespace: {e}"))?;
    let (hold_r, hold_w) =
        rustix::pipe::pipe().map_err(|e| format!("pipe for the idmap namespace: {e}"))?;
    // SAFETY: this process is single-threaded (the keeper, a fresh exec).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            drop((ready_r, hold_w));
            let _ = rustix::process::set_parent_process_death_signal(Some(
                rustix::process::Signal::KILL,
            ));
            // SAFETY: single-threaded child sharing nothing.
            let ok =
                unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWUSER) }
                    .is_ok();
            let _ = rustix::io::write(&ready_w, &[u8::from(ok)]);
            // Held until the parent has opened the namespace (EOF when it closes its end).
            let _ = rustix::io::read(&hold_r, &mut [0u8; 1]);
            crate::exit_now(0)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop((ready_w, hold_r));
            let pid = child.as_raw();
            let result = (|| {
                let mut byte = [0u8; 1];
                match rustix::io::read(&ready_r, &mut byte) {
                    Ok(1) if byte[0] == 1 => {}
                    _ => return Err("unshare(CLONE_NEWUSER) for the idmap namespace".into()),
                }
                let write = |file: &str, text: String| {
                    std::fs::write(format!("/proc/{pid}/{file}"), &text)
                        .map_err(|e| format!("writing {text:?} to {file} of the idmap child: {e}"))
                };
                write("uid_map", format!("{} {} 1\n", from.0, to.0))?;
                write("gid_map", format!("{} {} 1\n", from.1, to.1))?;
                rustix::fs::open(
                    format!("/proc/{pid}/ns/user"),
                    rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .map_err(|e| format!("open the idmap namespace: {e}"))
            })();
            drop(hold_w);
            let _ = nix::sys::wait::waitpid(child, None);
            result.map_err(|e: String| format!("idmap the layer for the overlay: {e}"))
        }
        Err(e) => Err(format!("fork for the idmap namespace: {e}")),
    }
}
