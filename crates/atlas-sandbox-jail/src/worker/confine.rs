//! Dropping privileges once the root is built: capabilities, no_new_privs, Landlock, seccomp;
//! and the rlimits each command gets.

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope,
};
use rustix::process::{Resource, Rlimit};
use rustix::thread::{CapabilitySet, CapabilitySets};

use super::mount::{ALTERNATIVES, DEVICES, LD_CACHE, SEMANTIC};
use crate::protocol::Plan;

/// The newest Landlock ABI whose rights the ruleset names (best effort below it).
const LANDLOCK_ABI: ABI = ABI::V6;

/// Drops every capability: bounding set, ambient set, then effective/permitted/inheritable.
pub(crate) fn drop_capabilities() -> Result<(), String> {
    for bit in 0..64u32 {
        match rustix::thread::remove_capability_from_bounding_set(CapabilitySet::from_bits_retain(
            1 << bit,
        )) {
            Ok(()) => {}
            // Past the kernel's last capability.
            Err(rustix::io::Errno::INVAL) => break,
            Err(e) => return Err(format!("drop capability {bit} from the bounding set: {e}")),
        }
    }
    rustix::thread::clear_ambient_capability_set()
        .map_err(|e| format!("clear the ambient capabilities: {e}"))?;
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: CapabilitySet::empty(),
            permitted: CapabilitySet::empty(),
            inheritable: CapabilitySet::empty(),
        },
    )
    .map_err(|e| format!("capset(0): {e}"))
}

/// Applies the Landlock ruleset: listing every directory, read+execute on `/usr` (and the host's
/// top-level dirs bound beside it), read on `/semantic` (and, when it is an overlay, what
/// writing, removing and renaming files there needs) and the extra mounts, read, write and
/// execute on `/tmp`, read-write on the device nodes; nothing else. Abstract unix sockets and
/// signals are scoped to the jail where the kernel supports it. Returns how far it is enforced.
pub(crate) fn landlock(plan: &Plan) -> Result<String, String> {
    let abi = LANDLOCK_ABI;
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let read_exec = read | AccessFs::Execute;
    // Every right on the session's /tmp, execute included, so that a script or program a
    // command wrote there runs as bash runs it on any machine. That does not widen what a
    // command can do: bash, awk, perl and python3 in /usr already run arbitrary code (perl's
    // `syscall`, python's ctypes make any system call with any argument), and whatever runs
    // from /tmp runs as the same process would, under the same seccomp filter, rlimits,
    // namespaces, this ruleset and no capabilities; the mount stays nosuid and no_new_privs is
    // set, so no exec can gain privilege.
    let tmp = AccessFs::from_all(abi);
    // Under an overlay the layer's changes stay in the sandbox (the host's files are its
    // read-only lower layer), so a command may create, change, remove and rename files and
    // directories there and make symlinks (they resolve in the jail's view). Not execute (the
    // mount is noexec as well) and no device, fifo or socket nodes: bash needs none of them for
    // a file edit.
    let layer = if plan.overlay {
        read | AccessFs::WriteFile
            | AccessFs::Truncate
            | AccessFs::MakeReg
            | AccessFs::MakeDir
            | AccessFs::MakeSym
            | AccessFs::RemoveFile
            | AccessFs::RemoveDir
            | AccessFs::Refer
    } else {
        read
    };
    let dev_rw = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev;
    // Best effort: an older kernel enforces the rights it knows; a kernel without Landlock
    // enforces none, which `require_landlock` turns into a setup failure below.
    let level = CompatLevel::BestEffort;
    let err = |e: landlock::RulesetError| format!("landlock: {e}");
    let path = |p: &str| PathFd::new(p).map_err(|e| format!("landlock: open {p}: {e}"));
    let mut rules: Vec<(String, landlock::BitFlags<AccessFs>)> = vec![
        // Listing only, so that `ls /`, `ls ..` from /semantic and `find / -maxdepth 1` work as
        // in bash. A Landlock rule covers the whole hierarchy beneath its directory (there is
        // no rule for one directory alone), so this lets every directory of the jail's view be
        // listed; what that adds is names the jail itself chose or the command may see anyway:
        // `/` (a tmpfs the init built with only its mount points), `/dev` (the three device
        // nodes and the fd links), `/etc` (alternatives, ld.so.cache) and the jail's own `/proc`
        // (`subset=pid`: pid directories only; `hidepid=invisible`: only processes the command
        // may ptrace-read, i.e. its own sandbox's commands, not the non-dumpable init; in each,
        // the kernel's fixed names, fd numbers and its own mapping ranges). No file there
        // becomes readable (no ReadFile), and nothing becomes writable or executable.
        ("/".into(), AccessFs::ReadDir.into()),
        ("/usr".into(), read_exec),
        (SEMANTIC.into(), layer),
        ("/tmp".into(), tmp),
    ];
    for name in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let p = format!("/{name}");
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            rules.push((p, read_exec));
        }
    }
    if std::fs::metadata(ALTERNATIVES).is_ok() {
        rules.push((ALTERNATIVES.into(), read));
    }
    if std::fs::metadata(LD_CACHE).is_ok() {
        rules.push((LD_CACHE.into(), read));
    }
    for d in DEVICES {
        rules.push((
            format!("/dev/{d}"),
            if *d == "null" {
                dev_rw
            } else {
                AccessFs::ReadFile | AccessFs::IoctlDev
            },
        ));
    }
    for (_, target) in &plan.extra_ro {
        rules.push((target.clone(), read));
    }
    let mut ruleset = Ruleset::default()
        .set_compatibility(level)
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?
        .scope(Scope::AbstractUnixSocket | Scope::Signal)
        .map_err(err)?
        .create()
        .map_err(err)?;
    for (p, access) in rules {
        // Only the rights a file can have apply to a file (the device nodes).
        let access = if std::fs::metadata(&p).is_ok_and(|m| m.is_dir()) {
            access
        } else {
            access & AccessFs::from_file(abi)
        };
        ruleset = ruleset
            .add_rule(PathBeneath::new(path(&p)?, access))
            .map_err(err)?;
    }
    let status = ruleset.restrict_self().map_err(err)?;
    let text = match status.ruleset {
        RulesetStatus::FullyEnforced => "fully enforced",
        RulesetStatus::PartiallyEnforced => "partially enforced (older kernel ABI)",
        RulesetStatus::NotEnforced => "not enforced (the kernel has no Landlock)",
    };
    if plan.require_landlock && status.ruleset == RulesetStatus::NotEnforced {
        return Err(
            "landlock: the kernel does not enforce Landlock and require_landlock is on".into(),
        );
    }
    Ok(text.to_owned())
}

fn limit(resource: Resource, value: u64) -> Result<(), rustix::io::Errno> {
    rustix::process::setrlimit(
        resource,
        Rlimit {
            current: Some(value),
            maximum: Some(value),
        },
    )
}

/// The limits of one command, set in its process before `exec` (inherited by its children).
pub(crate) fn command_rlimits(plan: &Plan) -> Result<(), rustix::io::Errno> {
    limit(Resource::As, plan.memory_limit_bytes)?;
    limit(Resource::Nproc, plan.max_processes)?;
    limit(Resource::Fsize, plan.max_file_size_bytes)?;
    limit(Resource::Nofile, plan.max_open_files)?;
    limit(Resource::Cpu, plan.cpu_seconds)?;
    limit(Resource::Core, 0)?;
    Ok(())
}
