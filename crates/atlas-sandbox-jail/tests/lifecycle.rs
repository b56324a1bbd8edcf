//! The worker's lifetime: nothing of a jail outlives what created it (a fork bomb, a timeout,
//! a dropped exec, a killed host, 100 sessions), and the worker keeps serving after a command
//! crashes, exhausts its rlimits or fills `/tmp`. Also: health on a machine that forbids user
//! namespaces, simulated by a seccomp filter on a re-run of this binary.

mod common;

use std::time::Duration;

use atlas_sandbox_jail::{JailConfig, JailPlugin};
use atlas_sandbox_sdk::{ExecRequest, Sandbox, SandboxPlugin};
use common::{Rerun, UNPRIVILEGED, descendants, eventually, processes_with};

/// The tests of this binary that look at the process table run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn plugin_or_skip(test: &str) -> Option<JailPlugin> {
    common::plugin_or_skip(test, JailConfig::default())
}

/// No descendant of this test process is left (the jail's processes are all descendants).
async fn nothing_left(what: &str) {
    let ok = eventually(5, || descendants().is_empty()).await;
    assert!(ok, "{what}: processes left: {:?}", descendants());
}

#[tokio::test]
async fn leftovers_after_fork_bomb_timeout_and_dropped_exec() {
    if common::child_role().is_some() {
        return;
    }
    let Some(plugin) = plugin_or_skip("leftovers") else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let sb = common::sandbox(&plugin, &root).await;

    let bomb = sb
        .exec(ExecRequest::new("b(){ b|b& }; b; sleep 30").timeout(Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(bomb.timed_out, "{bomb:?}");
    let after = sb.exec(ExecRequest::new("echo alive")).await.unwrap();
    assert_eq!(
        after.stdout, b"alive\n",
        "the worker serves after a fork bomb"
    );

    let slow = sb
        .exec(ExecRequest::new("sleep 100 & sleep 100").timeout(Duration::from_millis(300)))
        .await
        .unwrap();
    assert_eq!(slow.exit_code, 124);

    // A caller that stops waiting: the command's group is killed.
    let marker = "sleep 321.123";
    let dropped = tokio::time::timeout(
        Duration::from_millis(500),
        sb.exec(ExecRequest::new(marker)),
    )
    .await;
    assert!(dropped.is_err());
    assert!(
        eventually(5, || processes_with(marker).is_empty()).await,
        "a dropped exec left {marker} running"
    );
    // A process that left its group (setsid) dies once the jail is idle.
    let escaped = sb
        .exec(ExecRequest::new(
            "setsid sleep 432.1 > /dev/null 2>&1 & echo started",
        ))
        .await
        .unwrap();
    assert_eq!(escaped.stdout, b"started\n");
    assert!(
        eventually(5, || processes_with("sleep 432.1").is_empty()).await,
        "a setsid'd background job outlived its command"
    );
    let keeper = sb.worker_pid().expect("worker pid");
    sb.close().await.unwrap();
    assert!(processes_with("sleep 321.123").is_empty());
    assert!(
        !std::path::Path::new(&format!("/proc/{keeper}")).exists(),
        "the keeper process was not reaped"
    );
    nothing_left("after close").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_sessions_leave_nothing() {
    if common::child_role().is_some() {
        return;
    }
    let Some(plugin) = plugin_or_skip("hundred_sessions") else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    for i in 0..100 {
        let sb = common::sandbox(&plugin, &root).await;
        let out = sb.exec(ExecRequest::new("echo $((6*7))")).await.unwrap();
        assert_eq!(out.stdout, b"42\n", "session {i}");
        if i % 2 == 0 {
            sb.close().await.unwrap();
        } // odd ones are only dropped: Drop must clean up too
    }
    nothing_left("after 100 sessions").await;
}

#[tokio::test]
async fn worker_survives_crashes_rlimits_and_a_full_tmp() {
    if common::child_role().is_some() {
        return;
    }
    let Some(plugin) = plugin_or_skip("worker_survives") else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let sb = common::sandbox(&plugin, &root).await;
    let run = |cmd: &'static str| sb.exec(ExecRequest::new(cmd).timeout(Duration::from_secs(5)));
    // A crash (SIGSEGV) is the command's status, 128 + 11.
    let crash = run("kill -SEGV $$").await.unwrap();
    assert_eq!(crash.exit_code, 139, "{crash:?}");
    // Memory past RLIMIT_AS fails inside the command.
    let mem = run("head -c 900M /dev/zero | tr '\\0' x | sort > /dev/null; echo rc=$?")
        .await
        .unwrap();
    assert!(!mem.stdout_str().contains("rc=0"), "{mem:?}");
    // Descriptors past RLIMIT_NOFILE.
    let fds =
        run("for i in $(seq 10 200); do eval \"exec $i</dev/null\" || break; done; echo at=$i")
            .await
            .unwrap();
    assert!(fds.stdout_str().contains("at="), "{fds:?}");
    // A full /tmp: ENOSPC for the command, the next one still runs.
    let fill = run("head -c 64M /dev/zero > /tmp/fill; echo rc=$?")
        .await
        .unwrap();
    assert!(fill.stdout_str().contains("rc=1"), "{fill:?}");
    let inodes = run("i=0; while : > /tmp/f$i 2>/dev/null; do i=$((i+1)); done; echo files=$i")
        .await
        .unwrap();
    assert!(inodes.stdout_str().contains("files="), "{inodes:?}");
    // File size past RLIMIT_FSIZE: SIGXFSZ (153).
    let big = run("rm -f /tmp/*; head -c 20M /dev/zero > /tmp/big")
        .await
        .unwrap();
    assert_eq!(big.exit_code, 153, "{big:?}");
    let ok = run("echo still serving; ls /semantic | head -1")
        .await
        .unwrap();
    assert_eq!(ok.stdout_str(), "still serving\ncatalog.yml\n");
    sb.close().await.unwrap();
}

/// Run in a child under a seccomp filter refusing unshare and clone(CLONE_NEWUSER).
#[tokio::test]
async fn health_names_forbidden_user_namespaces() {
    match common::child_role().as_deref() {
        Some("no-userns") => {
            let plugin = common::plugin(JailConfig::default());
            let h = plugin.health_check().await;
            println!("HEALTH {h:?}");
            assert!(!h.healthy, "{h:?}");
            assert!(
                h.message.contains("user namespaces are forbidden"),
                "{}",
                h.message
            );
            assert!(h.message.contains("seccomp"), "{}", h.message);
            // And create fails closed, naming the step.
            let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
            let layer = atlas_sandbox_sdk::SemanticLayer::open(&root).unwrap();
            let e = plugin.create(&layer).await.unwrap_err();
            println!("CREATE {e}");
            assert!(e.to_string().contains("unshare"), "{e}");
            return;
        }
        Some(_) => return,
        None => {}
    }
    if plugin_or_skip("health_names_forbidden_user_namespaces").is_none() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let mut rerun = Rerun::new("health_names_forbidden_user_namespaces", "no-userns");
    rerun.seccomp_filter = Some(deny_userns_filter());
    let out = rerun.run();
    assert!(
        out.status.success(),
        "the child's health check did not say why"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("HEALTH"));
}

fn deny_userns_filter() -> Vec<seccompiler::BpfProgram> {
    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    };
    const CLONE_NEWUSER: u64 = 0x1000_0000;
    let mut rules = std::collections::BTreeMap::new();
    rules.insert(libc::SYS_unshare, vec![]);
    rules.insert(
        libc::SYS_clone,
        vec![
            SeccompRule::new(vec![
                SeccompCondition::new(
                    0,
                    SeccompCmpArgLen::Qword,
                    SeccompCmpOp::MaskedEq(CLONE_NEWUSER),
                    CLONE_NEWUSER,
                )
                .expect("a valid filter"),
            ])
            .expect("a valid filter"),
        ],
    );
    let arch = || std::env::consts::ARCH.try_into().expect("a valid filter");
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch(),
    )
    .expect("a valid filter");
    // As Docker's profile does: clone3 is ENOSYS so libc falls back to clone (threads work).
    let mut clone3 = std::collections::BTreeMap::new();
    clone3.insert(libc::SYS_clone3, vec![]);
    let clone3 = SeccompFilter::new(
        clone3,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch(),
    )
    .expect("a valid filter");
    vec![
        filter.try_into().expect("a valid filter"),
        clone3.try_into().expect("a valid filter"),
    ]
}

/// T1 of the escape checklist: a child process (this binary re-run) opens a sandbox, starts a
/// long command and prints the keeper's pid; it is then SIGKILLed. Nothing of the jail may
/// remain. Run as the current user and, when root, as an unprivileged one.
#[test]
fn t1_killing_the_host_kills_the_jail() {
    if let Some(role) = common::child_role() {
        if role == "t1-host" {
            t1_child();
        }
        return;
    }
    if common::plugin_or_skip("t1_killing_the_host_kills_the_jail", JailConfig::default()).is_none()
    {
        return;
    }
    let _serial = SERIAL.blocking_lock();
    let mut users = vec![None];
    if common::is_root() {
        users.push(Some(UNPRIVILEGED));
    }
    for user in users {
        let marker = format!("sleep 777.{}", std::process::id());
        let mut rerun = Rerun::new("t1_killing_the_host_kills_the_jail", "t1-host");
        rerun.env.push(("T1_MARKER".into(), marker.clone()));
        rerun.as_user = user;
        let (mut child, keeper) = common::start_host_child(rerun);
        let start = std::time::Instant::now();
        while processes_with(&marker).is_empty() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !processes_with(&marker).is_empty(),
            "the command never started"
        );
        child.kill().expect("kill the host");
        let _ = child.wait();
        let start = std::time::Instant::now();
        let gone = || {
            processes_with(&marker).is_empty()
                && !std::path::Path::new(&format!("/proc/{keeper}")).exists()
        };
        while !gone() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            gone(),
            "{user:?}: the jail outlived its host: {:?}",
            processes_with(&marker)
        );
    }
}

fn t1_child() {
    let marker = std::env::var("T1_MARKER").expect("marker");
    common::host_child(JailConfig::default(), marker);
}

/// The explore tools beyond the contract suite's: awk (a Debian alternative), sed, jq if
/// installed, pipes, process substitution, /dev/null redirections.
#[tokio::test]
async fn explore_tools_work() {
    if common::child_role().is_some() {
        return;
    }
    let Some(plugin) = plugin_or_skip("explore_tools_work") else {
        return;
    };
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let sb = common::sandbox(&plugin, &root).await;
    for (cmd, want) in [
        (
            "awk -F: '/^name/ {print $2}' catalog.yml | head -1 | wc -l",
            "1\n",
        ),
        ("sed -n 1p catalog.yml | wc -l", "1\n"),
        ("cat <(echo sub) 2>/dev/null", "sub\n"),
        ("ls /semantic/entities | sort | head -1 | wc -l", "1\n"),
        ("echo $HOME:$PATH", "/tmp:/usr/bin:/bin\n"),
    ] {
        let out = sb.exec(ExecRequest::new(cmd)).await.unwrap();
        assert_eq!(out.stdout_str(), want, "{cmd}: {out:?}");
    }
    sb.close().await.unwrap();
}

/// A descriptor the host left open across exec (no O_CLOEXEC) never reaches a command.
#[tokio::test]
async fn inherited_descriptors_do_not_reach_the_jail() {
    if common::child_role().is_some() {
        return;
    }
    let Some(plugin) = plugin_or_skip("inherited_descriptors") else {
        return;
    };
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "LEAKED-SECRET\n").unwrap();
    // Deliberately without O_CLOEXEC.
    let fd = rustix::fs::open(
        &secret,
        rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let (_tmp, root) = atlas_sandbox_testkit::copy_example_layer();
    let sb = common::sandbox(&plugin, &root).await;
    let out = sb
        .exec(ExecRequest::new(format!(
            "cat <&{raw}; cat /dev/fd/{raw}; ls /dev/fd/"
        )))
        .await
        .unwrap();
    assert!(!out.stdout_str().contains("LEAKED"), "{out:?}");
    assert!(!out.stderr_str().contains("LEAKED"), "{out:?}");
    sb.close().await.unwrap();
    drop(fd);
}
