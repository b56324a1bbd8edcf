//! Whether the jail user can list and enter the semantic layer, decided on the host without
//! running a jail when the file's owner and mode bits decide it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The answer of the host-side check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The mode bits grant read and search and no ACL can change that.
    Yes,
    /// The bits deny it, or an ACL is present: only a jail can tell (an ACL may grant what
    /// the bits deny, or deny a named user what "other" allows).
    AskAJail,
}

/// As the kernel decides for a process with exactly `uid`/`gid` (the jail user has no
/// supplementary groups as root maps it; unprivileged, it is the caller, whose own rights
/// `faccessat` checks exactly, ACLs included).
pub(crate) fn jail_can_enter(root: &Path, uid: u32, gid: u32, mapped: bool) -> Access {
    if !mapped {
        use rustix::fs::{Access as A, AtFlags, CWD, accessat};
        return match accessat(CWD, root, A::READ_OK | A::EXEC_OK, AtFlags::EACCESS) {
            Ok(()) => Access::Yes,
            Err(_) => Access::AskAJail,
        };
    }
    let Ok(meta) = std::fs::metadata(root) else {
        return Access::AskAJail;
    };
    let mode = meta.mode();
    let bits = if meta.uid() == uid {
        (mode >> 6) & 0o7
    } else if meta.gid() == gid {
        (mode >> 3) & 0o7
    } else {
        mode & 0o7
    };
    if bits & 0o5 != 0o5 || has_acl(root) {
        return Access::AskAJail;
    }
    Access::Yes
}

fn has_acl(path: &Path) -> bool {
    let mut buf = [0u8; 0];
    match rustix::fs::getxattr(path, "system.posix_acl_access", &mut buf[..]) {
        // Present (its size does not matter).
        Ok(_) => true,
        Err(e) if e == rustix::io::Errno::NODATA || e == rustix::io::Errno::NOTSUP => false,
        // ERANGE means present but longer than our empty buffer; anything else: be careful.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn mode_bits_decide_for_the_mapped_jail_user() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let me = nix::unistd::geteuid().as_raw();
        let my_gid = nix::unistd::getegid().as_raw();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(jail_can_enter(p, 99_999, 99_999, true), Access::Yes);
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert_eq!(jail_can_enter(p, 99_999, 99_999, true), Access::AskAJail);
        assert_eq!(
            jail_can_enter(p, 99_999, my_gid, true),
            Access::Yes,
            "group bits"
        );
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            jail_can_enter(p, me, 99_999, true),
            Access::Yes,
            "owner bits"
        );
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o744)).unwrap();
        assert_eq!(
            jail_can_enter(p, 99_999, 99_999, true),
            Access::AskAJail,
            "read without search is not enough"
        );
    }

    #[test]
    fn a_missing_root_is_left_to_a_jail() {
        assert_eq!(
            jail_can_enter(Path::new("/nonexistent/layer"), 1, 1, true),
            Access::AskAJail
        );
    }
}
