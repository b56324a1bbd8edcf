//! The hostile-input battery: each case runs in a fresh child process (this test binary run
//! again with the case's name in `HOSTILE_CASE`), so a crash, an abort or a runaway allocation
//! shows as that child's failure and its peak RSS (VmHWM) is the whole process's, not shared
//! with other tests. Each case asserts the exit code, that the exec ends within its timeout plus
//! one second (measured in the child around `exec_script`), and a peak RSS of at most 256 MB.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // test helpers

use std::time::{Duration, Instant};

use atlas_sandbox_just_bash::{Engine, JustBashConfig};
use atlas_sandbox_sdk::process::{ProcessSpec, run};

const MAX_RSS_KIB: u64 = 256 * 1024;

/// (name, script, allowed exit codes, timeout).
type Case = (&'static str, String, &'static [i32], Duration);

fn alias_bomb() -> String {
    let mut y = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(",");
        y.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    format!("cat > /tmp/bomb.yml <<'EOF'\n{y}EOF\nyq length /tmp/bomb.yml")
}

fn cases() -> Vec<Case> {
    let t2 = Duration::from_secs(2);
    let t10 = Duration::from_secs(10);
    let cross = ["(1,2,3,4,5,6,7,8,9,10)"; 9].join("|");
    vec![
        // The parser: unterminated `case` chains, direct and through eval.
        (
            "parser_case_chain",
            "case x in x) ".repeat(100),
            &[2],
            t10,
        ),
        (
            "eval_case_chain",
            "s=; for i in $(seq 3000); do s=\"$s case x in x) \"; done; eval \"$s\"".into(),
            &[2, 126],
            t10,
        ),
        (
            "eval_nested_cases",
            "s=; for i in $(seq 150); do s=\"$s case x in x) \"; done; for i in $(seq 150); do s=\"$s ;; esac \"; done; eval \"$s\"".into(),
            &[0, 126],
            t10,
        ),
        ("deep_parens", format!("{}{}", "(".repeat(5000), ")".repeat(5000)), &[2, 126], t10),
        ("deep_subst", format!("echo {}x{}", "$(echo ".repeat(400), ")".repeat(400)), &[2, 126], t10),
        ("deep_braces_eval", format!("eval '{}'", "{ ".repeat(3000)), &[2, 126], t10),
        ("recursive_function", "f(){ f; }; f".into(), &[126], t10),
        ("recursive_eval", "s='eval \"$s\"'; eval \"$s\"".into(), &[126], t10),
        ("recursive_source", "echo 'source /tmp/s.sh' > /tmp/s.sh; source /tmp/s.sh".into(), &[126], t10),
        ("deep_param_nesting", format!("echo {}x{}", "${a:-".repeat(300), "}".repeat(300)), &[0, 2, 126], t10),
        // Memory: every way of doubling a string or a list.
        ("function_args_doubling", "f(){ f \"$1$1\" \"$@\"; }; f x".into(), &[124, 126], t10),
        (
            "set_doubling",
            "set -- x; for i in $(seq 40); do set -- \"$@\" \"$@\"; done".into(),
            &[124, 126],
            t10,
        ),
        ("var_doubling", "s=x; while true; do s=$s$s; done".into(), &[124, 126], t10),
        (
            "many_big_vars",
            "s=$(printf '%10000s' x); s=$s$s$s$s$s$s$s$s; s=$s$s$s$s$s$s$s$s; for i in $(seq 5000); do eval \"v$i=\\$s\"; done".into(),
            &[124, 126],
            t10,
        ),
        (
            "array_append",
            "s=$(printf '%10000s' x); s=$s$s$s$s$s$s$s$s; a=(); while true; do a+=(\"$s\" \"$s\"); done".into(),
            &[124, 126],
            t10,
        ),
        (
            "subst_nesting_big",
            "s=$(printf '%10000s' x); s=$s$s$s$s$s$s$s$s$s$s; s=$s$s$s$s$s$s$s$s$s$s; f(){ local x=\"$s\"; echo \"$(f)\"; }; f".into(),
            &[124, 126],
            t10,
        ),
        ("awk_array_big_strings", "awk 'BEGIN{s=\"x\"; for(i=0;i<26;i++) s=s s; for(i=0;i<100;i++) a[i]=s s}'".into(), &[126], t10),
        ("awk_nf_huge", "echo a | awk '{NF=100000000; print length($0)}'".into(), &[126], t10),
        ("awk_split_big", "awk 'BEGIN{s=\"x\"; for(i=0;i<24;i++) s=s \" \" s; n=split(s, a); print n}'".into(), &[126], t10),
        ("awk_printf_loop", "awk 'BEGIN{while(1) printf \"%s\", \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}'".into(), &[2, 126], t10),
        ("yq_alias_bomb", alias_bomb(), &[126], t10),
        ("jq_string_repeat", "jq -n '\"x\" * 1000000000 | length'".into(), &[126], t10),
        ("jq_string_repeat_float", "jq -n '\"x\" * 1e9 | length'".into(), &[5, 126], t10),
        ("jq_repeat_from_input", "echo '{\"s\":\"x\",\"n\":1000000000}' | jq '.s * .n | length'".into(), &[126], t10),
        ("jq_cross_product", format!("jq -n '[{cross}] | length'"), &[126], t2),
        // Loops are bounded before they run: past the limits (126) or refused by name (2).
        ("jq_range", "jq -n '[range(1e9)] | length'".into(), &[2, 126], t10),
        ("jq_range_1e18", "jq -n '[range(1e18)] | length'".into(), &[126], t2),
        ("jq_reduce_1e9", "jq -n 'reduce range(1e9) as $i (0; . + 1)'".into(), &[126], t2),
        ("jq_reduce_doubling", "jq -n 'reduce range(40) as $i ([1]; . + .) | length'".into(), &[126], t2),
        ("jq_def_recursive", "jq -n 'def f: f; f'".into(), &[2], t2),
        ("jq_def_mutual", "jq -n 'def f: def g: f; g; f'".into(), &[2], t2),
        // A long chain of definitions: the analysis's copies of the scopes stay small.
        (
            "jq_def_chain",
            format!(
                "jq -n 'def h0: .;{} h3000'",
                (1..=3000).map(|i| format!(" def h{i}: h{};", i - 1)).collect::<String>()
            ),
            &[2],
            t2,
        ),
        (
            "jq_combinations_20x20",
            format!("echo '[{}]' | jq '[combinations] | length'", vec!["[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19]"; 20].join(",")),
            &[126],
            t2,
        ),
        ("jq_huge_index", "jq -n '.[100000000] = 1 | length'".into(), &[126], t10),
        (
            "jq_long_evaluation",
            format!("echo '[{}]' | jq '[.[] as $a | .[] as $b | .[] as $c | $a + $b + $c] | length'", vec!["1"; 300].join(",")),
            &[126, 124],
            t2,
        ),
        ("jq_gsub_growth", "jq -n '\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" | gsub(\"\"; \"yyyyyyyyyyyyyyyyyyyy\") | gsub(\"\"; \"yyyyyyyyyyyyyyyyyyyy\") | gsub(\"\"; \"yyyyyyyyyyyyyyyyyyyy\") | gsub(\"\"; \"yyyyyyyyyyyyyyyyyyyy\") | length'".into(), &[126], t10),
        // Parameter expansion: growth by replacement, and the per-cut pattern matching.
        (
            "param_replace_growth",
            "x=$(printf '%10000s' a); x=$x$x$x$x$x$x$x$x$x$x; y=${x// /$x}; echo ${#y}".into(),
            &[124, 126],
            t10,
        ),
        (
            "param_affix_quadratic",
            "x=$(printf '%10000s' a); x=$x$x$x$x$x$x$x$x$x$x; y=${x##*b}; echo ${#y}".into(),
            &[124],
            t2,
        ),
        // Commands that build their output in memory.
        (
            "sed_growth",
            "printf '%10000s' a > /tmp/a; for i in 1 2 3 4 5 6 7 8 9 10; do cat /tmp/a /tmp/a /tmp/a /tmp/a > /tmp/b; mv /tmp/b /tmp/a; done; sed 's/ /xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/g' /tmp/a | sed 's/x/yyyyyyyyyyyyyyyyyy/g' | wc -c".into(),
            &[1, 124, 126],
            t10,
        ),
        ("seq_sort", "seq 1 100000000 | sort | wc -l".into(), &[124, 126], t10),
        // Output and write layer.
        ("endless_output", "while true; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done".into(), &[126], t10),
        ("write_layer_fill", "s=$(printf '%10000s' x); s=$s$s$s$s$s$s$s$s$s$s; for i in $(seq 1000); do echo \"$s\" > /tmp/f$i; done".into(), &[1, 124, 126], t10),
        ("pipeline_buffers", "seq 1 5000000 | cat | cat | wc -l".into(), &[124, 126], t10),
        // The commands that compute or dump: digits, nesting, loops and big inputs stay bounded.
        ("bc_huge_power", "echo '2^99999999' | bc".into(), &[2], t10),
        ("bc_squaring_growth", "echo 'x=2; while (1) x = x*x' | bc".into(), &[2], t10),
        ("bc_huge_scale", "echo 'scale=100000; 1/3' | bc".into(), &[2], t10),
        ("bc_endless_loop", "echo 'while (1) { x = x + 1 }' | bc".into(), &[124], t2),
        ("bc_deep_parens", "printf '(%.0s' $(seq 5000) > /tmp/p; echo 1 >> /tmp/p; bc /tmp/p".into(), &[2], t10),
        ("expr_deep_parens", "expr $(printf '( %.0s' $(seq 3000)) 1".into(), &[3], t10),
        ("xxd_reverse_gap", "echo 'ffffffffff: 41' | xxd -r | wc -c".into(), &[0], t10),
        ("base64_round_trip_big", "seq 1 3000000 | base64 -w0 | base64 -d | wc -c".into(), &[0, 124, 126], t10),
        ("od_big", "seq 1 2000000 | od -c | tail -1".into(), &[0, 124, 126], t10),
        ("column_big", "seq 1 2000000 | paste - - - - | column -t | wc -l".into(), &[0, 124, 126], t10),
        ("comm_big", "seq 1000000 > /tmp/a; seq 2 1000001 > /tmp/b; comm -3 /tmp/a /tmp/b | wc -l".into(), &[0, 124, 126], t10),
        ("tree_deep", "p=; for i in $(seq 300); do p=$p/d; done; mkdir -p /tmp$p; tree /tmp | tail -1".into(), &[0, 1, 126], t10),
        // The deadline.
        ("busy_loop_deadline", "while true; do :; done".into(), &[124, 126], t2),
        ("sleepy_deadline", "sleep 100".into(), &[124], t2),
    ]
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The child's side: runs one case and prints `exit=<code> ms=<elapsed> rss=<kib> timed_out=<b>`.
#[test]
fn hostile_case_child() {
    let Ok(name) = std::env::var("HOSTILE_CASE") else {
        return;
    };
    let (_, script, _, timeout) = cases().into_iter().find(|c| c.0 == name).unwrap();
    let engine = Engine::new(None, &JustBashConfig::default()).unwrap();
    let start = Instant::now();
    let out = engine.exec_script(&script, "", timeout, 4096).unwrap();
    let ms = start.elapsed().as_millis();
    println!(
        "HOSTILE exit={} ms={ms} rss={} timed_out={} stderr={:?}",
        out.exit_code,
        vm_hwm_kib(),
        out.timed_out,
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("")
    );
}

#[test]
fn hostile_inputs_are_bounded() {
    if std::env::var("HOSTILE_CASE").is_ok() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut failures = Vec::new();
    for (name, _, codes, timeout) in cases() {
        let spec = ProcessSpec::new(&exe)
            .args([
                "--exact",
                "hostile_case_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("HOSTILE_CASE", name)
            .timeout(timeout + Duration::from_secs(30))
            .max_output_bytes(1 << 20);
        let out = rt.block_on(run(&spec)).unwrap().output;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(line) = stdout
            .lines()
            .find_map(|l| l.find("HOSTILE ").map(|i| &l[i..]))
        else {
            failures.push(format!(
                "{name}: the child died (exit {}): {}",
                out.exit_code,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
            continue;
        };
        let field = |k: &str| -> String {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{k}=")))
                .unwrap_or("")
                .to_owned()
        };
        let exit: i32 = field("exit").parse().unwrap();
        let ms: u128 = field("ms").parse().unwrap();
        let rss: u64 = field("rss").parse().unwrap();
        let timed_out = field("timed_out") == "true";
        println!("{name}: exit {exit}, {ms} ms, peak RSS {} MB", rss / 1024);
        if !codes.contains(&exit) {
            failures.push(format!(
                "{name}: exit {exit}, expected one of {codes:?}: {line}"
            ));
        }
        if ms > (timeout + Duration::from_secs(1)).as_millis() {
            failures.push(format!(
                "{name}: took {ms} ms, past its timeout {timeout:?} + 1 s"
            ));
        }
        if rss > MAX_RSS_KIB {
            failures.push(format!("{name}: peak RSS {} MB > 256 MB", rss / 1024));
        }
        if exit == 124 && !timed_out {
            failures.push(format!("{name}: exit 124 without timed_out"));
        }
    }
    assert!(
        failures.is_empty(),
        "hostile cases failed:\n{}",
        failures.join("\n")
    );
}
