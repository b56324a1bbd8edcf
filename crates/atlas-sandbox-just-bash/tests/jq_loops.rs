//! jq's looping constructs that the static bound accepts (`reduce`, `foreach`, `range`,
//! non-recursive `def`, `recurse`, `combinations`, `env`/`$ENV`), against jq 1.6, and the ones it
//! refuses by name or by limit. Each recorded case holds what `bash -c` printed with
//! `/usr/bin/jq` 1.6 (`LC_ALL=C.UTF-8 TZ=UTC`, an empty directory): stdout, stderr and exit
//! status, compared byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use std::time::{Duration, Instant};

use common::{Recorded, Runner};

const CASES: &[Recorded] = &[
    (
        "echo '[1,2,3]' | jq 'reduce .[] as $x (0; . + $x)'",
        "6\n",
        "",
        0,
    ),
    (
        "echo '[3,1,2]' | jq -c '[range(0; length)]'",
        "[0,1,2]\n",
        "",
        0,
    ),
    (
        "echo '[3,1,2]' | jq -c '. as $a | [range(0; length) | $a[.] * 10]'",
        "[30,10,20]\n",
        "",
        0,
    ),
    (
        "jq -nc 'reduce range(0;3) as $i ([]; . + [$i * 2])'",
        "[0,2,4]\n",
        "",
        0,
    ),
    ("jq -nc '[range(0;10;3)]'", "[0,3,6,9]\n", "", 0),
    ("jq -nc '[range(5;0;-2)]'", "[5,3,1]\n", "", 0),
    ("jq -nc '[range(0;10;0)]'", "[]\n", "", 0),
    ("jq -nc '[range(1.5)]'", "[0,1]\n", "", 0),
    (
        "jq -nc '[range(0,1;3,4)]'",
        "[0,1,2,0,1,2,3,1,2,1,2,3]\n",
        "",
        0,
    ),
    (
        "jq -nc '[range(0;\"a\")]'",
        "",
        "jq: error (at <unknown>): Range bounds must be numeric\n",
        5,
    ),
    (
        "jq -nc 'reduce range(0;100000) as $i (0; . + $i)'",
        "4999950000\n",
        "",
        0,
    ),
    (
        "jq -nc 'reduce range(0;20000) as $i ([]; . + [$i]) | length'",
        "20000\n",
        "",
        0,
    ),
    (
        "echo '[{\"k\":\"a\",\"v\":1},{\"k\":\"b\",\"v\":2},{\"k\":\"a\",\"v\":5}]' | jq -c 'reduce .[] as $x ({}; .[$x.k] += $x.v)'",
        "{\"a\":6,\"b\":2}\n",
        "",
        0,
    ),
    (
        "echo '[{\"k\":\"a\",\"v\":1},{\"k\":\"b\",\"v\":2}]' | jq -c 'reduce .[] as $x ({}; .[$x.k] = $x.v)'",
        "{\"a\":1,\"b\":2}\n",
        "",
        0,
    ),
    (
        "echo '[\"a\",\"b\",\"a\"]' | jq -c 'reduce .[] as $x ({}; .[$x] |= (. // 0) + 1)'",
        "{\"a\":2,\"b\":1}\n",
        "",
        0,
    ),
    (
        "echo '[[1,2],[3,4]]' | jq -c 'reduce .[] as [$a,$b] (0; . + $a * $b)'",
        "14\n",
        "",
        0,
    ),
    ("jq -nc 'reduce empty as $x (0; . + 1)'", "0\n", "", 0),
    (
        "jq -nc 'reduce range(5) as $i (\"\"; . + \"ab\")'",
        "\"ababababab\"\n",
        "",
        0,
    ),
    (
        "jq -nc '[foreach (1,2,3) as $x (0; . + $x; [$x, .])]'",
        "[[1,1],[2,3],[3,6]]\n",
        "",
        0,
    ),
    (
        "jq -nc '[foreach range(5) as $i (0; . + $i)]'",
        "[0,1,3,6,10]\n",
        "",
        0,
    ),
    ("jq -nc 'def f: . * 2; [1,2] | map(f)'", "[2,4]\n", "", 0),
    ("jq -nc 'def inc($n): . + $n; 5 | inc(3)'", "8\n", "", 0),
    (
        "jq -nc 'def app(f): [.[] | f]; [1,2] | app(. + 1)'",
        "[2,3]\n",
        "",
        0,
    ),
    ("jq -nc 'def f(g): g; 1 | f(f(.))'", "1\n", "", 0),
    (
        "jq -nc 'def sq: . * .; def quad: sq | sq; 3 | quad'",
        "81\n",
        "",
        0,
    ),
    (
        "jq -nc 'def f: reduce .[] as $x (0; . + $x); [1,2] | f'",
        "3\n",
        "",
        0,
    ),
    (
        "jq -nc 'def addvalue(f): f as $x | map(. + $x); [[1,2],[10,20]] | addvalue(.[0])'",
        "[[1,2,1,2],[10,20,1,2]]\n",
        "",
        0,
    ),
    (
        "echo '{\"a\":[{\"b\":1}],\"children\":[{\"children\":[]}]}' | jq -c '[recurse] | length'",
        "7\n",
        "",
        0,
    ),
    (
        "echo '{\"name\":\"r\",\"children\":[{\"name\":\"x\",\"children\":[{\"name\":\"y\"}]}]}' | jq -c '[recurse(.children[]?) | .name]'",
        "[\"r\",\"x\",\"y\"]\n",
        "",
        0,
    ),
    (
        "echo '[1,[2,[3]]]' | jq -c '[recurse(.[]?) | numbers]'",
        "[1,2,3]\n",
        "",
        0,
    ),
    (
        "echo '{\"a\":{\"b\":{\"c\":1}}}' | jq -c '[recurse | objects | keys[]]'",
        "[\"a\",\"b\",\"c\"]\n",
        "",
        0,
    ),
    (
        "jq -nc '[[1,2],[3,4]] | [combinations]'",
        "[[1,3],[1,4],[2,3],[2,4]]\n",
        "",
        0,
    ),
    (
        "jq -nc '[[1,2] | combinations(2)]'",
        "[[1,1],[1,2],[2,1],[2,2]]\n",
        "",
        0,
    ),
    ("jq -nc '[[], [1]] | [combinations]'", "[]\n", "", 0),
    ("jq -nc '$ENV | type'", "\"object\"\n", "", 0),
    ("jq -nc 'env | type'", "\"object\"\n", "", 0),
    ("jq -nc '[limit(3; range(10))]'", "[0,1,2]\n", "", 0),
    ("jq -nc 'first(range(10; 0; -1))'", "10\n", "", 0),
    (
        "jq -nc '[range(3)] | reduce .[] as [$a] (0; . + 1)'",
        "",
        "jq: error (at <unknown>): Cannot index number with number\n",
        5,
    ),
    ("jq -nc '[limit(-1; range(3))]'", "[0,1,2]\n", "", 0),
    ("jq -nc '[limit(0; range(3))]'", "[0]\n", "", 0),
    (
        "jq -nc 'def g: 1; def h: def g: 5; g; reduce (1,2) as $x (0; . + h)'",
        "10\n",
        "",
        0,
    ),
    (
        "jq -nc '[foreach (1,2,3) as $x (0; . + $x; select(. > 1))]'",
        "[3,6]\n",
        "",
        0,
    ),
    (
        "jq -nc '([range(1,2;4)] | reduce .[] as $x (0; . + $x)) as $n | [range($n)] | length'",
        "11\n",
        "",
        0,
    ),
    (
        "jq -nc '{\"a\":[1]} | combinations'",
        "",
        "jq: error (at <unknown>): Cannot index object with number\n",
        5,
    ),
    ("jq -nc '[] | [combinations]'", "[[]]\n", "", 0),
    (
        "jq -nc '[[1,2],{\"a\":3}] | [combinations]'",
        "[[1,3],[2,3]]\n",
        "",
        0,
    ),
];

#[test]
fn loops_answer_like_jq_1_6() {
    Runner::empty().assert_recorded(CASES);
}

/// Constructs with no sound bound: exit 2, naming the construct, quickly.
#[test]
fn unbounded_constructs_are_refused_by_name() {
    let runner = Runner::empty();
    for (script, names) in [
        ("jq -n 'def f: f; f'", "the recursive definition `f/0`"),
        (
            "jq -n 'def f: def g: f; g; f'",
            "the recursive definition `f/0`",
        ),
        (
            "jq -n 'def f(x): x | f(x); f(.)'",
            "the recursive definition `f/1`",
        ),
        (
            "jq -n 'reduce (1,2) as $x (0; . + $x, . * 10)'",
            "`reduce` whose update",
        ),
        (
            "jq -n 'reduce (1,2,3) as $x (0; if $x == 2 then empty else . + $x end)'",
            "`reduce` whose update",
        ),
        (
            "jq -nc '[foreach (1,2) as $x (0; . + $x, 0)]'",
            "`foreach` whose update",
        ),
        ("jq -n '{} | recurse(.a)'", "`recurse(f)`"),
        ("jq -n '[1] | [recurse(.[]?; . != 3)]'", "`recurse/2`"),
        ("jq -n '[limit(3; repeat(1))]'", "`repeat`"),
        ("jq -n '0 | until(. > 3; . + 1)'", "`until`"),
        ("jq -n '[0 | while(. < 3; . + 1)]'", "`while`"),
        ("jq -n '[range(0; 10; 1 + 1)]'", "`range/3` with a step"),
        // A local definition shadows the outer `g`: the update yields nothing.
        (
            "jq -n 'def g: 1; def h: def g: empty; g; reduce (1,2) as $x (0; h)'",
            "`reduce` whose update",
        ),
        ("jq -n '[[1,2]] | [combinations(-1)]'", "`combinations(n)`"),
        (
            "jq -n '[foreach try 1 catch 0 as $x (0; 1)]'",
            "`foreach` over a source that is not in parentheses",
        ),
        (
            "jq -n 'reduce if true then 1 else 2 end as $x (0; . + $x)'",
            "`reduce` over a source that is not in parentheses",
        ),
        // jq 1.6 runs the source on null for the init's later values.
        (
            "jq -n '[1,2] | reduce .[] as $x (0, 10; . + $x)'",
            "`reduce` whose initial value",
        ),
        (
            "jq -n '[1,2] | [foreach .[] as $x (0, 10; . + $x)]'",
            "`foreach` whose initial value",
        ),
        (
            "jq -n 'def f: f; reduce (1,2) as $x (0; f)'",
            "`reduce` whose update",
        ),
        (
            "jq -n --argjson n 2 '[[1,2]] | [combinations($n)]'",
            "`combinations(n)`",
        ),
    ] {
        let start = Instant::now();
        let out = runner.run(script);
        assert_eq!(out.exit_code, 2, "{script}: {out:?}");
        let err = out.stderr_str();
        assert!(
            err.contains(names) && err.contains("not supported in this sandbox"),
            "{script}: {out:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(2), "{script}");
    }
}

/// Hostile loops are refused by the limits before they run: exit 126, quickly.
#[test]
fn hostile_loops_are_refused_before_running() {
    let runner = Runner::empty();
    let wide = format!(
        "[{}]",
        vec!["[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19]"; 20].join(",")
    );
    let mut doubling = String::from("def f0: .;");
    for i in 1..=24 {
        doubling.push_str(&format!(" def f{i}: f{}, f{};", i - 1, i - 1));
    }
    // Looking into definitions for `reduce` multiplies (8^16 terms) and a long chain of them
    // is copied at every call: both are cut by the analysis's own budget.
    let mut wide_defs = String::from("def f0: 1;");
    for i in 1..=16 {
        let p = format!("f{}", i - 1);
        wide_defs.push_str(&format!(" def f{i}: {};", [p.as_str(); 8].join(" + ")));
    }
    let mut chain = String::from("def g0: .;");
    for i in 1..=400 {
        chain.push_str(&format!(" def g{i}: g{} | g{};", i - 1, i - 1));
    }
    let mut long = String::from("def h0: .;");
    for i in 1..=3000 {
        long.push_str(&format!(" def h{i}: h{};", i - 1));
    }
    for script in [
        format!("jq -n '{long} h3000'"),
        format!("jq -n '{long} reduce (1,2) as $x (0; h3000)'"),
        format!("jq -n '{wide_defs} reduce (1,2) as $x (0; f16)'"),
        format!("jq -n '{chain} g400'"),
        "jq -n '[limit(-1; range(1e8))] | length'".to_owned(),
        "jq -n 'reduce range(1e9) as $i (0; . + 1)'".to_owned(),
        // Numbers read from text or the clock are not bounded by the input's numbers.
        "jq -n '[range(0; \"1e18\" | tonumber)] | length'".to_owned(),
        "jq -n '[range(now)] | length'".to_owned(),
        "jq -n '[range(1e5)] | map(1e4) | \"x\" * add | length'".to_owned(),
        "jq -n '[range(1e18)] | length'".to_owned(),
        "jq -n 'reduce range(40) as $i ([1]; . + .) | length'".to_owned(),
        "jq -n 'reduce range(100) as $i (\"x\"; . * 2) | length'".to_owned(),
        "jq -n '[range(infinite)] | length'".to_owned(),
        format!("echo '{wide}' | jq '[combinations] | length'"),
        format!("jq -n '{doubling} [f24] | length'"),
    ] {
        let start = Instant::now();
        let out = runner.run(&script);
        assert!(
            out.exit_code == 126
                || (out.exit_code == 2 && out.stderr_str().contains("not supported")),
            "{script}: {out:?}"
        );
        assert!(out.stdout.is_empty(), "{script}: {out:?}");
        assert!(start.elapsed() < Duration::from_secs(5), "{script}");
    }
}

/// `env` and `$ENV` are the shell's exported variables, never the host process's environment.
#[test]
fn env_is_the_shells_environment() {
    let runner = Runner::empty();
    let out = runner.run("export FOO=bar; jq -nr 'env.FOO, $ENV.FOO, (env == $ENV)'");
    assert_eq!(out.stdout_str(), "bar\nbar\ntrue\n", "{out:?}");
    let out = runner.run("jq -nr 'env.HOME == $ENV.HOME' && printenv HOME && jq -nr 'env.HOME'");
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert_eq!((lines[0], lines[1]), ("true", lines[2]), "{out:?}");
    // The test process has these (cargo sets them); the shell does not export them.
    assert!(std::env::var_os("CARGO_PKG_NAME").is_some());
    let out =
        runner.run("jq -n 'env | has(\"CARGO_PKG_NAME\"), ($ENV | has(\"CARGO_MANIFEST_DIR\"))'");
    assert_eq!(out.stdout_str(), "false\nfalse\n", "{out:?}");
    let out = runner.run("unset FOO; FOO=1 jq -n 'env.FOO'; jq -n 'env.FOO'");
    assert_eq!(out.stdout_str(), "\"1\"\nnull\n", "{out:?}");
}
