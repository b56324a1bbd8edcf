//! Every limit stops the script with a clear message, exit 126 (124 for the deadline), and keeps
//! the output produced before it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::time::{Duration, Instant};

use atlas_sandbox_just_bash::{Engine, JustBashConfig};
use atlas_sandbox_sdk::ExecOutput;

fn run_with(config: &JustBashConfig, script: &str) -> ExecOutput {
    let engine = Engine::new(None, config).unwrap();
    engine
        .exec_script(script, "", Duration::from_secs(10), 1 << 20)
        .unwrap()
}

fn run(script: &str) -> ExecOutput {
    run_with(&JustBashConfig::default(), script)
}

#[test]
fn loop_iterations() {
    let mut c = JustBashConfig::default();
    c.limits.max_commands = u64::MAX;
    let out = run_with(&c, "echo start; while :; do :; done; echo never");
    assert_eq!(out.exit_code, 126);
    assert_eq!(out.stdout, b"start\n");
    assert!(
        out.stderr_str()
            .contains("too many loop iterations (>10000)"),
        "{out:?}"
    );
}

#[test]
fn command_count() {
    let mut c = JustBashConfig::default();
    c.limits.max_loop_iterations = u64::MAX;
    c.limits.max_commands = 50;
    let out = run_with(&c, "for i in $(seq 100); do echo $i; done");
    assert_eq!(out.exit_code, 126);
    assert!(
        out.stderr_str()
            .contains("too many commands executed (>50)"),
        "{out:?}"
    );
    assert!(
        out.stdout_str().starts_with("1\n2\n"),
        "output before the limit is kept"
    );
}

#[test]
fn call_depth_stops_fork_bomb_style_recursion() {
    let out = run("f() { f | f; }; f");
    assert_eq!(out.exit_code, 126, "{out:?}");
    assert!(
        out.stderr_str()
            .contains("maximum recursion depth (100) exceeded"),
        "{out:?}"
    );
}

#[test]
fn substitution_depth() {
    let mut script = String::from("echo x");
    for _ in 0..60 {
        script = format!("echo $({script})");
    }
    let out = run(&script);
    assert_eq!(out.exit_code, 126, "{out:?}");
    assert!(out.stderr_str().contains("substitution depth"), "{out:?}");
}

#[test]
fn string_length() {
    let mut c = JustBashConfig::default();
    c.limits.max_string_length = 1000;
    let out = run_with(&c, "x=a; while :; do x=$x$x; done");
    assert_eq!(out.exit_code, 126);
    assert!(out.stderr_str().contains("string length limit"), "{out:?}");
}

#[test]
fn memory_layer_bytes() {
    let mut c = JustBashConfig::default();
    c.limits.max_memory_bytes = 10_000;
    let out = run_with(&c, "seq 100000 > /tmp/big; echo rc=$?");
    assert_eq!(out.stdout, b"rc=1\n");
    assert!(
        out.stderr_str().contains("No space left on device"),
        "{out:?}"
    );
}

#[test]
fn output_bytes() {
    let mut c = JustBashConfig::default();
    c.limits.max_output_bytes = 1000;
    let out = run_with(&c, "seq 10000");
    assert_eq!(out.exit_code, 126, "{out:?}");
    assert!(out.stdout.starts_with(b"1\n2\n3\n"));
    assert!(out.stdout.len() <= 1000);
    assert!(
        out.stderr_str().contains("output size limit exceeded"),
        "{out:?}"
    );
}

/// A pipeline writer past its output cap is cut there. A reader that stops short of the cut
/// (`head`, `grep -m`, `read`) gives bash's answer, and the writer's status is bash's SIGPIPE
/// death; a reader that wanted everything (`wc`, `sort`, `cat`) gets the limit's error and
/// none of the writer's bytes reach stdout.
#[test]
fn a_writer_past_its_cap_feeding_a_reader_that_stops_short() {
    let mut c = JustBashConfig::default();
    c.limits.max_output_bytes = 4096;
    for (script, stdout) in [
        (
            "seq 100000000 | head -2; echo ${PIPESTATUS[@]}",
            "1\n2\n141 0\n",
        ),
        (
            "seq 100000000 | head -c 5; echo \" ${PIPESTATUS[@]}\"",
            "1\n2\n3 141 0\n",
        ),
        (
            "seq 100000000 | grep -m2 7; echo ${PIPESTATUS[@]}",
            "7\n17\n141 0\n",
        ),
        ("seq 100000000 | { read a; read b; echo $a $b; }", "1 2\n"),
        (
            "set -o pipefail; seq 100000000 | head -1; echo $?",
            "1\n141\n",
        ),
        ("seq 100000000 | true; echo ${PIPESTATUS[@]}", "141 0\n"),
        (
            "seq 100000000 | awk 'NR==3{print; exit}'; echo ${PIPESTATUS[@]}",
            "3\n141 0\n",
        ),
        (
            "seq 100000000 | sed 2q; echo ${PIPESTATUS[@]}",
            "1\n2\n141 0\n",
        ),
    ] {
        let out = run_with(&c, script);
        assert_eq!(
            (out.stdout_str().as_ref(), out.exit_code),
            (stdout, 0),
            "{script}: {out:?}"
        );
        assert!(out.stderr.is_empty(), "{script}: {out:?}");
    }
    for script in [
        "seq 100000000 | wc -l",
        "seq 100000000 | sort | head -2",
        "seq 100000000 | { head -1; cat; } | wc -l",
        "seq 100000000 | cat | head -2",
        "seq 100000000 | head -n 100000",
        "seq 100000000 | awk 'END{print NR}'",
    ] {
        let out = run_with(&c, script);
        assert_eq!(out.exit_code, 126, "{script}: {out:?}");
        assert!(out.stdout.len() <= 4096, "{script}: {out:?}");
        assert!(
            !out.stdout_str()
                .starts_with("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11"),
            "{script}: the writer's bytes leaked: {out:?}"
        );
        assert!(
            out.stderr_str().contains("output size limit exceeded"),
            "{script}: {out:?}"
        );
    }
}

#[test]
fn deadline() {
    let mut c = JustBashConfig::default();
    c.limits.max_loop_iterations = u64::MAX;
    c.limits.max_commands = u64::MAX;
    c.limits.deadline = atlas_sandbox_sdk::HumanDuration(Duration::from_millis(300));
    let start = Instant::now();
    let out = run_with(&c, "echo early; while :; do :; done");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(out.exit_code, 124);
    assert!(out.timed_out);
    assert_eq!(out.stdout, b"early\n");
    assert!(
        out.stderr_str().contains("execution deadline (300ms)"),
        "{out:?}"
    );
}

#[test]
fn sleep_is_cut_at_the_request_timeout() {
    let engine = Engine::new(None, &JustBashConfig::default()).unwrap();
    let start = Instant::now();
    let out = engine
        .exec_script("sleep 100", "", Duration::from_millis(200), 1 << 20)
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(out.exit_code, 124);
    assert!(out.timed_out);
}

#[test]
fn brace_expansion_and_source_size() {
    let out = run("echo {1..100000}");
    assert_eq!(out.exit_code, 126);
    assert!(out.stderr_str().contains("brace expansion"), "{out:?}");
    let mut c = JustBashConfig::default();
    c.limits.max_source_bytes = 100;
    let out = run_with(&c, &"echo x; ".repeat(50));
    assert_eq!(out.exit_code, 126);
    assert!(out.stderr_str().contains("script too large"), "{out:?}");
}

#[test]
fn deep_nesting_is_refused_before_parsing() {
    let script = format!("{}echo x{}", "(".repeat(5000), ")".repeat(5000));
    let out = run(&script);
    assert_eq!(out.exit_code, 126, "{out:?}");
    assert!(out.stderr_str().contains("nested too deeply"), "{out:?}");
}

#[test]
fn unsupported_features_fail_loudly_with_exit_2() {
    for script in [
        "sleep 1 &",
        "coproc cat",
        "echo x > >(cat)",
        "trap 'echo x' ERR",
        "exec 3<>/tmp/out; echo x >&3",
        "declare -n r=x",
        "declare -A m=([a b]=1)",
    ] {
        let out = run(script);
        assert_eq!(out.exit_code, 2, "{script}: {out:?}");
        assert!(
            out.stderr_str().contains("not supported"),
            "{script}: {out:?}"
        );
    }
}

#[test]
fn read_only_mode_makes_writes_shell_errors() {
    let c = JustBashConfig {
        read_only: true,
        ..Default::default()
    };
    let out = run_with(
        &c,
        "echo x > /tmp/f; echo rc=$?; mkdir /tmp/d; echo rc=$?; echo ok > /dev/null; echo rc=$?",
    );
    assert_eq!(out.stdout_str(), "rc=1\nrc=1\nrc=0\n");
    assert!(
        out.stderr_str()
            .contains("bash: line 1: /tmp/f: Read-only file system"),
        "{out:?}"
    );
    assert!(
        out.stderr_str()
            .contains("mkdir: cannot create directory ‘/tmp/d’: Read-only file system"),
        "{out:?}"
    );
}

/// The deepest scripts the limits allow must run on a 2 MiB thread (tokio's blocking-pool
/// default) without overflowing the stack, which would abort the host process.
#[test]
fn allowed_depths_fit_a_2_mib_stack() {
    let n = JustBashConfig::default().limits.max_nesting_depth - 1;
    let scripts = [
        format!(
            "{}echo nest{}",
            "if true; then ".repeat(n),
            "; fi".repeat(n)
        ),
        format!("{}echo g;{}", "{ ".repeat(n), " }".repeat(n)),
        format!(
            "{}echo w; break {};{}",
            "while true; do ".repeat(n / 2),
            n / 2,
            " done".repeat(n / 2)
        ),
        "f() { [ $1 -gt 0 ] && f $(( $1 - 1 )); echo $1; }; f 98 | tail -1".to_owned(),
        format!("echo {}x{}", "$(echo ".repeat(48), ")".repeat(48)),
        "f() { f; }; f".to_owned(),
        "f() { echo $(f); }; f".to_owned(),
        "f() { eval f; }; f".to_owned(),
    ];
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let engine = Engine::new(None, &JustBashConfig::default()).unwrap();
            scripts
                .iter()
                .map(|s| {
                    engine
                        .exec_script(s, "", Duration::from_secs(20), 1 << 20)
                        .unwrap()
                        .exit_code
                })
                .collect::<Vec<_>>()
        })
        .unwrap();
    let codes = handle.join().expect("no stack overflow");
    assert_eq!(&codes[..5], &[0, 0, 0, 0, 0], "{codes:?}");
    assert!(codes[5..].iter().all(|c| *c == 126), "{codes:?}");
}

/// Directories nested as deep as paths allow do not overflow the walkers' stacks.
#[test]
fn deep_directories_fit_a_2_mib_stack() {
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let engine = Engine::new(None, &JustBashConfig::default()).unwrap();
            let deep = "d/".repeat(1500);
            let script = format!(
                "cd /tmp && mkdir -p {deep} && touch {deep}f && find . -name f | wc -l && grep -rc x . | wc -l && cp -r d e && ls -R e | wc -l > /dev/null && tree | tail -1"
            );
            engine.exec_script(&script, "", Duration::from_secs(30), 1 << 20).unwrap()
        })
        .unwrap();
    let out = handle.join().expect("no stack overflow");
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(
        out.stdout_str(),
        // tree 2.1 counts the root among the directories: 1500 + 1500 + 1.
        "1\n1\n3001 directories, 2 files\n",
        "{out:?}"
    );
}

#[test]
fn exec_memory_budget_stops_with_126_and_says_which() {
    let mut c = JustBashConfig::default();
    c.limits.max_exec_memory_bytes = 4 << 20;
    c.limits.max_loop_iterations = u64::MAX;
    c.limits.max_commands = u64::MAX;
    // Many small variables: no single string passes max_string_length.
    let out = run_with(
        &c,
        "echo start; s=$(printf '%1000s' x); i=0; while :; do i=$((i+1)); eval \"v$i=\\$s\"; done",
    );
    assert_eq!(out.exit_code, 126, "{out:?}");
    assert_eq!(out.stdout, b"start\n");
    assert!(
        out.stderr_str().contains(
            "memory limit exceeded (4194304 bytes per exec), increase limits.max_exec_memory_bytes"
        ),
        "{out:?}"
    );
    // `||` cannot swallow it: the meter stays tripped.
    let out = run_with(
        &c,
        "set -- x; while :; do set -- \"$@\" \"$@\" || echo caught; done",
    );
    assert_eq!(out.exit_code, 126, "{out:?}");
    assert!(!out.stdout_str().contains("caught"), "{out:?}");
}

#[test]
fn awk_and_jq_values_count_towards_the_budget() {
    let mut c = JustBashConfig::default();
    c.limits.max_exec_memory_bytes = 8 << 20;
    let out = run_with(
        &c,
        "awk 'BEGIN{s=\"xxxxxxxxxxxxxxxx\"; for(i=0;i<20;i++) s=s s; a[1]=s; a[2]=s s}'",
    );
    assert_eq!(out.exit_code, 126, "{out:?}");
    let out = run_with(&c, "jq -n '\"x\" * 100000000'");
    assert_eq!(out.exit_code, 126, "{out:?}");
    assert!(out.stderr_str().contains("it was not run"), "{out:?}");
    let out = run_with(&c, "jq -n '\"x\" * 10 | length'");
    assert_eq!(out.stdout, b"10\n", "{out:?}");
}

#[test]
fn unterminated_case_chains_are_a_syntax_error_not_a_hang() {
    let start = Instant::now();
    let out = run(&format!("eval '{}'", "case x in x) ".repeat(40)));
    assert_eq!(out.exit_code, 2, "{out:?}");
    assert!(
        out.stderr_str().contains("unexpected end of file"),
        "{out:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    // Terminated nesting and `case` as a plain word still work.
    let out =
        run("case a in a) case b in b) echo in;; esac;; esac; echo case case case case case case");
    assert_eq!(
        out.stdout, b"in\ncase case case case case case\n",
        "{out:?}"
    );
}

/// Issue 11's exit codes: a refused feature of jq, yq or awk exits 2 and names the feature,
/// never jq's compile error 3 or runtime error 5; jq's own errors keep their codes.
#[test]
fn refused_features_exit_2_naming_the_feature() {
    for (script, names) in [
        ("jq -n '[limit(3; repeat(1))]'", "`repeat` is not supported"),
        (
            "jq -n 'def f: f; f'",
            "the recursive definition `f/0` (recursion cannot be bounded",
        ),
        (
            "jq -n 'get_jq_origin'",
            "`get_jq_origin/0` is not supported",
        ),
        ("jq -n 'modulemeta'", "`modulemeta/0` is not supported"),
        // One `$__loc__` per line could be bound; uses on two lines are not.
        ("jq -n '$__loc__,\n$__loc__'", "`$__loc__` is not supported"),
        ("jq -n '\"a\" | @base32d'", "`@base32d/0` is not supported"),
        ("jq --seq -n 1", "option '--seq' is not supported"),
        ("echo 'a: 1' | yq -y .", "not supported in this sandbox"),
        ("echo a | awk '{ print | \"cat\" }'", "not supported"),
        (
            "echo a | awk '{ print systime() }'",
            "systime is not supported",
        ),
    ] {
        let out = run(script);
        assert_eq!(out.exit_code, 2, "{script}: {out:?}");
        assert!(out.stderr_str().contains(names), "{script}: {out:?}");
    }
    // jq's own errors are not refusals.
    assert_eq!(run("jq -n 'no_such_function'").exit_code, 3);
    assert_eq!(run("jq -n '1 | .a'").exit_code, 5);
}
