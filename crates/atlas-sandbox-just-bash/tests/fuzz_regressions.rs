//! Minimised inputs found by the cargo-fuzz target `parse_exec` (see docs/backends/just-bash.md,
//! "Fuzzing"). Each one panicked, hung past the deadline or exhausted memory before its fix.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::time::{Duration, Instant};

use atlas_sandbox_just_bash::{Engine, JustBashConfig};
use atlas_sandbox_sdk::ExecOutput;

fn run(script: &str) -> ExecOutput {
    let engine = Engine::new(
        Some(&atlas_sandbox_testkit::example_layer()),
        &JustBashConfig::default(),
    )
    .unwrap();
    let start = Instant::now();
    let out = engine
        .exec_script(script, "", Duration::from_secs(2), 1 << 16)
        .unwrap();
    // Generous for a loaded CI machine, far below the minutes the exponential cases took.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{script:?} took {:?}",
        start.elapsed()
    );
    out
}

fn stderr(out: &ExecOutput) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn sed_multibyte_invalid_option_does_not_split_a_char() {
    // Panicked: `&s[1..2]` cut the two-byte 'é'.
    let out = run("sed -é 's/a/b/' catalog.yml");
    assert_eq!(out.exit_code, 1);
    assert!(stderr(&out).contains("invalid option -- 'é'"), "{out:?}");
}

#[test]
fn printf_huge_precision_or_width_is_refused() {
    // Panicked ("Formatting argument out of range"), or allocated a gigabyte for the width.
    for script in [
        "printf '%.999999999f' 1",
        "printf '%999999999d' 1",
        "printf '%*d' 999999999 1",
        "printf '%.99999999999999999999999s' x",
    ] {
        let out = run(script);
        assert_eq!(out.exit_code, 1, "{script}");
        assert!(stderr(&out).contains("too large"), "{script}: {out:?}");
        assert!(out.stdout.len() < 1024, "{script}");
    }
    assert_eq!(run("printf '%.3f|%05d' 1.5 42").stdout, b"1.500|00042");
}

#[test]
fn printf_and_awk_format_i64_min() {
    // `i64::MIN.abs()` overflowed (a panic with debug assertions, "--9..." without).
    let out = run("printf '%d\\n' -9223372036854775808");
    assert_eq!(out.stdout, b"-9223372036854775808\n");
    let out = run("awk 'BEGIN { printf \"%d %.99999999d|\\n\", -9223372036854775808, 1 }' | wc -c");
    assert_eq!(out.exit_code, 0, "{out:?}");
}

#[test]
fn brace_sequence_with_out_of_range_bounds() {
    // brush-parser unwrapped the i64 parse of the bound and panicked.
    let out = run("echo {1..99999999999999999999}");
    assert_eq!(out.stdout, b"{1..99999999999999999999}\n");
    // Fits in i64 but the span overflowed `end - start` while counting.
    let out = run("echo {-9223372036854775807..9223372036854775807}");
    assert_eq!(out.exit_code, 126, "{out:?}");
    assert!(stderr(&out).contains("brace expansion"), "{out:?}");
    let out = run("echo {9223372036854775806..9223372036854775807} {z..x..4294967295}");
    assert_eq!(out.stdout, b"9223372036854775806 9223372036854775807 z\n");
}

#[test]
fn unmatched_braces_do_not_backtrack_exponentially() {
    // 40 unmatched `{` before a `}` took minutes in brush-parser's brace parser.
    let script = format!("echo x{}y}}", "{".repeat(40));
    let out = run(&script);
    assert_eq!(out.exit_code, 0);
    assert_eq!(out.stdout, format!("x{}y}}\n", "{".repeat(40)).as_bytes());
    assert_eq!(
        run("echo a{b,c}d{1..3}").stdout,
        b"abd1 abd2 abd3 acd1 acd2 acd3\n"
    );
}

#[test]
fn deep_unclosed_parens_in_arithmetic_are_refused_fast() {
    // `((` followed by 40 unclosed `(`: brush-parser's arithmetic rule backtracks per level.
    let script = format!("(({}1))", "(".repeat(40));
    let out = run(&script);
    assert_eq!(out.exit_code, 2, "{out:?}");
    assert!(stderr(&out).contains("nested"), "{out:?}");
    // Inside `$(...)` the body is checked when it is parsed on its own.
    let script = format!("echo $( (({}1)) )", "(".repeat(40));
    let out = run(&script);
    assert_ne!(out.exit_code, 0, "{out:?}");
    // Ordinary nesting still works, and parentheses in single quotes do not count.
    assert_eq!(run("echo $(( ((1+2)) * (3) ))").stdout, b"9\n");
    let quoted = format!("echo '{}'", "(".repeat(40));
    assert_eq!(run(&quoted).exit_code, 0);
}

#[test]
fn oversized_fd_number_and_tilde_index_are_refused() {
    // brush-parser unwrapped `i32` / `usize` parses of these and panicked.
    let out = run("echo x 88888888888888888888>>/tmp/f");
    assert_eq!(out.exit_code, 2, "{out:?}");
    assert!(
        stderr(&out).contains("file descriptor out of range"),
        "{out:?}"
    );
    let out = run("echo ~99999999999999999999999");
    assert_eq!(out.exit_code, 2, "{out:?}");
    assert!(stderr(&out).contains("directory stack"), "{out:?}");
    assert_eq!(run("echo hi 2>/dev/null").stdout, b"hi\n");
}

#[test]
fn awk_infinite_loop_stops_at_the_deadline() {
    let mut config = JustBashConfig::default();
    // Steps alone would allow a very long run: the deadline must stop it.
    config.limits.max_loop_iterations = u64::MAX / 1000;
    let engine = Engine::new(None, &config).unwrap();
    let start = Instant::now();
    let out = engine
        .exec_script(
            "awk 'BEGIN { while (1) x++ }'; echo after",
            "",
            Duration::from_millis(300),
            1 << 16,
        )
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.exit_code, 124, "{out:?}");
    assert!(out.timed_out);
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn backslash_before_a_multibyte_char_in_the_script() {
    // Found by `bounded_exec` (2026-12-03). Panicked before parsing: the open-`case` counter
    // skipped two bytes after a `\` and then sliced the script inside the character.
    let out = run("echo \\é \\€x; case a in a) echo ok;; esac");
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(out.stdout, "é €x\nok\n".as_bytes());
    // The fuzzer's form: invalid UTF-8 after a `\` decodes to U+FFFD (three bytes).
    let out = run("\\\u{fffd}\u{fffd}");
    assert_ne!(out.exit_code, 0, "{out:?}");
}

#[test]
fn printf_backslash_before_a_multibyte_char() {
    // Found by `bounded_exec` (2026-12-03). Panicked: the escape was cut as `fmt[i..i + 2]`,
    // inside the character. Like bash, an unknown escape prints as it is.
    let out = run("printf 'a\\é|\\€\\n'");
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(out.stdout, "a\\é|\\€\n".as_bytes());
    let out = run("printf 'b\\n\\\u{fffd}n'");
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(out.stdout, "b\n\\\u{fffd}n".as_bytes());
}

#[test]
fn percent_before_a_multibyte_char_in_every_format() {
    // Found by `parse_exec` (2026-12-03): `stat -c '%é'` sliced the format inside the
    // character after `%`. The same shape in every command that reads `%` directives: each
    // answers (or refuses by name) and none panics.
    let out = run("touch f; stat -c '%é' f");
    assert_eq!(out.exit_code, 2, "{out:?}");
    assert!(
        out.stderr_str().contains("'%é' is not supported"),
        "{out:?}"
    );
    for script in [
        "touch f; stat -c '%10é|%' f",
        "touch f; stat --printf '%\u{fffd}\\n' f",
        "touch f; find . -name f -printf '%é%\u{fffd}\\n'",
        "date -d @0 '+%é%\u{fffd}%'",
        "printf '%é\\n'",
        "printf '%5€'",
        "awk 'BEGIN { printf \"%é\\n\" }'",
        "echo 1 | jq -r '\"%é\"'",
        "seq -f '%é' 1 2",
    ] {
        let out = run(script);
        assert!(out.exit_code < 128, "{script}: {out:?}");
    }
}
