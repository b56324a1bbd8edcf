//! The jail's seccomp filters, built with `seccompiler`: the denylist of
//! `config/nsjail/explore.kafel` (EPERM), `clone3` answered with ENOSYS (seccomp cannot read its
//! flags; libc then falls back to `clone`, whose namespace flags are checked), and every
//! x32-ABI syscall killed (the kafel policy only assumes a kernel without x32).

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};

/// `CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET`, one bit each.
const CLONE_NEW_FLAGS: [u64; 7] = [
    0x0002_0000,
    0x0200_0000,
    0x0400_0000,
    0x0800_0000,
    0x1000_0000,
    0x2000_0000,
    0x4000_0000,
];
const AF_UNIX: u64 = 1;
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541c;

/// The syscalls refused outright with EPERM (the kafel policy's list).
fn denied() -> Vec<i64> {
    let mut v = vec![
        // Inspecting or controlling other processes.
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_kcmp,
        libc::SYS_pidfd_getfd,
        // Mounts, old and new API.
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_open_tree,
        libc::SYS_move_mount,
        libc::SYS_mount_setattr,
        // New namespaces.
        libc::SYS_unshare,
        libc::SYS_setns,
        // Kernel keyrings.
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        // Large kernel surfaces no explore command needs.
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_fanotify_init,
        libc::SYS_lookup_dcookie,
        // Host administration.
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_reboot,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_clock_adjtime,
        libc::SYS_adjtimex,
        libc::SYS_acct,
        libc::SYS_quotactl,
        libc::SYS_syslog,
        libc::SYS_vhangup,
        libc::SYS_personality,
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([
        libc::SYS_iopl,
        libc::SYS_ioperm,
        libc::SYS_uselib,
        libc::SYS_nfsservctl,
    ]);
    v
}

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, seccompiler::Error> {
    // Dword: the kernel reads these arguments as 32-bit ints, so only the low word is compared
    // (catches the 0x1_00005412 TIOCSTI variant of CVE-2019-10063).
    Ok(SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Dword,
        op,
        value,
    )?)
}

fn arch() -> Result<TargetArch, seccompiler::Error> {
    std::env::consts::ARCH
        .try_into()
        .map_err(seccompiler::Error::Backend)
}

/// The programs to install, in order (each is a separate filter; the kernel applies all).
pub(crate) fn programs() -> Result<Vec<BpfProgram>, seccompiler::Error> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for nr in denied() {
        rules.insert(nr, Vec::new());
    }
    let clone_rules = CLONE_NEW_FLAGS
        .iter()
        .map(|&bit| {
            // clone's flags are its first argument on x86_64 and aarch64.
            Ok(SeccompRule::new(vec![cond(
                0,
                SeccompCmpOp::MaskedEq(bit),
                bit,
            )?])?)
        })
        .collect::<Result<Vec<_>, seccompiler::Error>>()?;
    rules.insert(libc::SYS_clone, clone_rules);
    for nr in [libc::SYS_socket, libc::SYS_socketpair] {
        rules.insert(
            nr,
            vec![SeccompRule::new(vec![cond(0, SeccompCmpOp::Ne, AF_UNIX)?])?],
        );
    }
    rules.insert(
        libc::SYS_ioctl,
        vec![
            SeccompRule::new(vec![cond(1, SeccompCmpOp::Eq, TIOCSTI)?])?,
            SeccompRule::new(vec![cond(1, SeccompCmpOp::Eq, TIOCLINUX)?])?,
        ],
    );
    let deny: BpfProgram = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch()?,
    )?
    .try_into()?;

    let mut clone3 = BTreeMap::new();
    clone3.insert(libc::SYS_clone3, Vec::new());
    let clone3: BpfProgram = SeccompFilter::new(
        clone3,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch()?,
    )?
    .try_into()?;

    let mut out = vec![deny, clone3];
    if cfg!(target_arch = "x86_64") {
        out.push(no_x32());
    }
    Ok(out)
}

/// The extra filter of a worker that runs the just-bash interpreter: it never starts a
/// program or a process, so a bug that tries to is refused (EPERM) rather than obeyed.
pub(crate) fn interpreter_program() -> Result<BpfProgram, seccompiler::Error> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let mut nrs = vec![
        libc::SYS_execve,
        libc::SYS_execveat,
        libc::SYS_clone,
        libc::SYS_clone3,
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_connect,
        libc::SYS_bind,
    ];
    #[cfg(target_arch = "x86_64")]
    nrs.extend([libc::SYS_fork, libc::SYS_vfork]);
    for nr in nrs {
        rules.insert(nr, Vec::new());
    }
    SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch()?,
    )?
    .try_into()
    .map_err(seccompiler::Error::Backend)
}

/// Kills any syscall of the x32 ABI (numbers with bit 30 set, same audit arch as x86_64), which
/// a filter keyed by x86_64 numbers would otherwise let through on a kernel built with x32.
fn no_x32() -> BpfProgram {
    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_JMP_JGE_K: u16 = 0x35;
    const BPF_RET_K: u16 = 0x06;
    const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let ins = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    vec![
        // A = seccomp_data.nr
        ins(BPF_LD_W_ABS, 0, 0, 0),
        ins(BPF_JMP_JGE_K, 0, 1, X32_SYSCALL_BIT),
        ins(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        ins(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
}

/// Installs the filters on the calling thread (no_new_privs must already be set).
pub(crate) fn install(programs: &[BpfProgram]) -> Result<(), seccompiler::Error> {
    for p in programs {
        seccompiler::apply_filter(p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_compile_for_this_machine() {
        let p = programs().unwrap();
        assert!(p.len() >= 2);
        assert!(p[0].len() > denied().len());
        assert!(!interpreter_program().unwrap().is_empty());
    }
}
