//! Things bash on a normal machine does that the jail's confinement once refused (the shell
//! corpus found them; each is pinned here with the cases around it). Every test runs as the
//! current user and, when that is root, again as an unprivileged user in a re-run of this
//! binary: the two differ in who owns the command's pipes and which uid the jail maps.

mod common;

use atlas_sandbox_jail::{Engine, JailConfig, JailSandbox};
use atlas_sandbox_sdk::Sandbox;

const ROLE: &str = "unprivileged";

/// Whether this process runs `test`'s body: the normal run, or the unprivileged re-run.
fn runs_here() -> bool {
    match common::child_role().as_deref() {
        None => true,
        Some(role) => role == ROLE,
    }
}

async fn jail(test: &str, config: JailConfig) -> Option<(tempfile::TempDir, JailSandbox)> {
    let plugin = common::plugin_or_skip(test, config)?;
    let (tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let sb = common::sandbox(&plugin, &root).await;
    Some((tmp, sb))
}

/// `>/dev/stdout`, `>/dev/stderr`, `/dev/fd/N` and `/dev/stdin` reopen the command's own
/// streams through `/proc/self/fd`, as in bash: the pipes the host made are open to the jail's
/// uid whoever the host is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_streams_reopen_by_path() {
    if !runs_here() {
        return;
    }
    let Some((_tmp, sb)) = jail("standard streams", JailConfig::default()).await else {
        return;
    };
    common::expect(&sb, "echo out >/dev/stdout", 0, "out\n", "").await;
    common::expect(&sb, "echo err >/dev/stderr", 0, "", "err\n").await;
    common::expect(
        &sb,
        "echo one >/dev/fd/1; echo two >/dev/fd/2",
        0,
        "one\n",
        "two\n",
    )
    .await;
    common::expect(
        &sb,
        "echo a >>/dev/stdout; echo b >>/dev/stderr",
        0,
        "a\n",
        "b\n",
    )
    .await;
    // Each reopening is a new open of the same pipe: no truncation, nothing lost.
    common::expect(
        &sb,
        "{ echo x; echo y >&2; } 2>/dev/stdout",
        0,
        "x\ny\n",
        "",
    )
    .await;
    common::expect(
        &sb,
        "{ echo x; echo y >&2; } >/dev/stderr 2>/dev/stdout",
        0,
        "",
        "x\ny\n",
    )
    .await;
    common::expect(
        &sb,
        "echo a >/dev/stdout | wc -l >/dev/stderr",
        0,
        "",
        "1\n",
    )
    .await;
    // stdin: a pipe bash made inside the jail, and the command's own stdin (`/dev/null`).
    common::expect(&sb, "echo hi | cat /dev/stdin", 0, "hi\n", "").await;
    common::expect(&sb, "echo hi | cat /dev/fd/0", 0, "hi\n", "").await;
    common::expect(&sb, "echo hi | cat < /dev/stdin", 0, "hi\n", "").await;
    common::expect(&sb, "cat < /dev/stdin; echo rc=$?", 0, "rc=0\n", "").await;
    common::expect(&sb, "cat /dev/stdin; echo rc=$?", 0, "rc=0\n", "").await;
    common::expect(&sb, "cat <(echo sub)", 0, "sub\n", "").await;
    let _ = sb.close().await;

    // The just-bash engine writes the same pipes (its `/dev/stdout` is the interpreter's own;
    // its `cat` has no `/dev/stdin`, in the jail or in-process, so that is not asked here).
    let config = JailConfig {
        engine: Engine::JustBash,
        ..JailConfig::default()
    };
    let Some((_tmp, jb)) = jail("standard streams (just-bash)", config).await else {
        return;
    };
    common::expect(&jb, "echo out >/dev/stdout", 0, "out\n", "").await;
    common::expect(&jb, "echo err >/dev/stderr", 0, "", "err\n").await;
    let _ = jb.close().await;
}

#[test]
fn standard_streams_reopen_by_path_unprivileged() {
    common::rerun_unprivileged_from_root("standard_streams_reopen_by_path", ROLE);
}

/// The jail's `/` and every directory under it can be listed, as in bash (`ls /`, `ls ..` from
/// the layer, `find / -maxdepth 1`); listing only: no file that was unreadable becomes readable,
/// and the jail's init stays invisible in `/proc`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_can_be_listed() {
    if !runs_here() {
        return;
    }
    let Some((_tmp, sb)) = jail("listing /", JailConfig::default()).await else {
        return;
    };
    common::expect(&sb, "ls ../ > /dev/null; echo $?", 0, "0\n", "").await;
    common::expect(
        &sb,
        "cd .. && ls -d semantic tmp usr proc dev",
        0,
        "dev\nproc\nsemantic\ntmp\nusr\n",
        "",
    )
    .await;
    common::expect(
        &sb,
        "find / -maxdepth 1 -name '[dptu]*' -o -name semantic | sort",
        0,
        "/dev\n/proc\n/semantic\n/tmp\n/usr\n",
        "",
    )
    .await;
    common::expect(
        &sb,
        "ls -a /dev",
        0,
        ".\n..\nfd\nnull\nstderr\nstdin\nstdout\nurandom\nzero\n",
        "",
    )
    .await;
    // The jail's own processes only (the command's shell and `ls`); the init (pid 1) is not
    // one of them.
    common::expect(&sb, "ls /proc | grep -cx 1", 1, "0\n", "").await;
    // A command starts with its three streams and nothing else (here `ls` adds its own 3).
    common::expect(&sb, "ls /proc/self/fd", 0, "0\n1\n2\n3\n", "").await;
    common::expect(&sb, "ls /proc/$$/fd", 0, "0\n1\n2\n3\n", "").await;
    common::expect(&sb, "ls /dev/fd/ | wc -l", 0, "4\n", "").await;
    // Listing only.
    common::expect(
        &sb,
        "cat /proc/self/status",
        1,
        "",
        "cat: /proc/self/status: Permission denied\n",
    )
    .await;
    common::expect(
        &sb,
        "cat /proc/1/environ",
        1,
        "",
        "cat: /proc/1/environ: No such file or directory\n",
    )
    .await;
    common::expect(
        &sb,
        "touch /new",
        1,
        "",
        "touch: cannot touch '/new': Read-only file system\n",
    )
    .await;
    let _ = sb.close().await;
}

#[test]
fn the_root_can_be_listed_unprivileged() {
    common::rerun_unprivileged_from_root("the_root_can_be_listed", ROLE);
}

/// A script or program written to `/tmp` runs by path, as in bash (the session's `/tmp` is
/// executable); a file without the execute bit is still refused (126), and a script copied
/// into the layer's overlay does not run (the layer is noexec).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_in_tmp_run_by_path() {
    if !runs_here() {
        return;
    }
    let Some((_tmp, sb)) = jail("scripts in /tmp", JailConfig::default()).await else {
        return;
    };
    common::expect(
        &sb,
        "printf '#!/bin/bash\\necho from script\\n' > /tmp/s.sh; chmod +x /tmp/s.sh; /tmp/s.sh",
        0,
        "from script\n",
        "",
    )
    .await;
    // The same file by itself: the line the worker starts without bash.
    common::expect(&sb, "/tmp/s.sh", 0, "from script\n", "").await;
    common::expect(
        &sb,
        "printf '#!/bin/sh\\necho rel\\n' > /tmp/r.sh; chmod +x /tmp/r.sh; cd /tmp && ./r.sh",
        0,
        "rel\n",
        "",
    )
    .await;
    // No `#!`: execve says ENOEXEC and bash runs it itself.
    common::expect(
        &sb,
        "printf 'echo hi\\n' > /tmp/h.sh; chmod u+x /tmp/h.sh; /tmp/h.sh",
        0,
        "hi\n",
        "",
    )
    .await;
    common::expect(
        &sb,
        "cp /usr/bin/true /tmp/t && /tmp/t; echo rc=$?",
        0,
        "rc=0\n",
        "",
    )
    .await;
    common::expect(
        &sb,
        "echo 'echo no' > /tmp/n.sh; /tmp/n.sh; echo rc=$?",
        0,
        "rc=126\n",
        "/bin/bash: line 1: /tmp/n.sh: Permission denied\n",
    )
    .await;
    // The layer is writable (an overlay kept in the sandbox) but not executable.
    common::expect(
        &sb,
        "cp /tmp/s.sh ./s.sh && ./s.sh; echo rc=$?",
        0,
        "rc=126\n",
        "/bin/bash: line 1: ./s.sh: Permission denied\n",
    )
    .await;
    let _ = sb.close().await;
}

#[test]
fn scripts_in_tmp_run_by_path_unprivileged() {
    common::rerun_unprivileged_from_root("scripts_in_tmp_run_by_path", ROLE);
}
