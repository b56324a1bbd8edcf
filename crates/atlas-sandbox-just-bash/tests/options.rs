//! The shared option parser, per command family: GNU's long forms (`--opt`, `--opt=value`,
//! unambiguous prefixes), clusters (`-rn`, `-n5`, `-A3`), `--` ending options, and an option the
//! sandbox lacks refused by name with exit 2, never ignored or read as a file. Expected outputs
//! are what bash + GNU tools print for the same commands.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};

/// Runs `script` over an empty layer with a few files made first; (stdout, stderr, status).
fn run(script: &str) -> (String, String, i32) {
    let engine = Engine::new(None, &JustBashConfig::default()).unwrap();
    let setup = "mkdir -p /tmp/t && cd /tmp/t && printf 'b\\na\\nb\\n\\n\\nc\\td\\n' > f.txt && \
                 printf 'x: 1\\ny: 22\\n' > g.yml && ";
    let out = engine
        .exec_script(
            &format!("{setup}{script}"),
            "",
            Duration::from_secs(10),
            1 << 20,
        )
        .unwrap();
    (
        out.stdout_str().into_owned(),
        out.stderr_str().into_owned(),
        out.exit_code,
    )
}

fn stdout(script: &str) -> String {
    let (o, e, st) = run(script);
    assert_eq!(st, 0, "{script}: {e}");
    o
}

/// The refusal every command gives for an option it lacks.
fn refused(script: &str, cmd: &str, opt: &str) {
    let (o, e, st) = run(script);
    assert_eq!(st, 2, "{script}: {o}{e}");
    let what = if cmd == "find" { "predicate" } else { "option" };
    assert_eq!(
        e.trim_end(),
        format!("{cmd}: {what} '{opt}' is not supported by this sandbox"),
        "{script}"
    );
}

#[test]
fn text_filters() {
    assert_eq!(
        stdout("cat --show-ends --squeeze-blank f.txt"),
        "b$\na$\nb$\n$\nc\td$\n"
    );
    assert_eq!(stdout("cat -sA f.txt | tail -n1"), "c^Id$\n");
    assert_eq!(stdout("head --lines=2 f.txt"), "b\na\n");
    assert_eq!(stdout("head -n1 -- f.txt"), "b\n");
    assert_eq!(stdout("tail -n+6 f.txt"), "c\td\n");
    assert_eq!(stdout("wc --lines f.txt g.yml | tail -1"), " 8 total\n");
    assert_eq!(stdout("sort --rev --uniq f.txt | head -2"), "c\td\nb\n");
    assert_eq!(stdout("sort -t: -k2,2n g.yml"), "x: 1\ny: 22\n");
    assert_eq!(stdout("uniq --count f.txt | head -1"), "      1 b\n");
    assert_eq!(stdout("cut -d: --fields=2 g.yml"), " 1\n 22\n");
    assert_eq!(stdout("echo a=b | cut -d= -f2"), "b\n");
    assert_eq!(stdout("seq -s, -w 9 11"), "09,10,11\n");
    assert_eq!(stdout("seq -f 'n%g' 2"), "n1\nn2\n");
    assert_eq!(stdout("seq 3 -1 1"), "3\n2\n1\n");
    assert_eq!(stdout("nl -ba f.txt | sed -n 4p"), "     4\t\n");
    refused("cat --number-lines f.txt", "cat", "--number-lines");
    refused("sort --files0-from=x f.txt", "sort", "--files0-from");
    refused("wc --total=never f.txt", "wc", "--total");
    // An option GNU lacks as well gets GNU's own usage error.
    let (_, e, st) = run("tail -r f.txt");
    assert_eq!(
        (st, e.lines().next().unwrap()),
        (1, "tail: invalid option -- 'r'")
    );
    let (_, e, st) = run("wc --bogus f.txt");
    assert_eq!(
        (st, e.lines().next().unwrap()),
        (1, "wc: unrecognized option '--bogus'")
    );
    let (_, e, st) = run("head -n");
    assert_eq!(
        (st, e.lines().next().unwrap()),
        (1, "head: option requires an argument -- 'n'")
    );
}

#[test]
fn grep_family() {
    assert_eq!(stdout("grep -c b f.txt"), "2\n");
    assert_eq!(stdout("grep --count --invert-match b f.txt"), "4\n");
    assert_eq!(stdout("grep -nA1 a f.txt"), "2:a\n3-b\n");
    assert_eq!(stdout("grep -A 1 --max-count=1 a f.txt"), "a\nb\n");
    assert_eq!(stdout("grep --regexp=a --line-number f.txt"), "2:a\n");
    assert_eq!(stdout("grep -e -x -- f.txt g.yml || echo none"), "none\n");
    assert_eq!(stdout("grep -rn 'y:' g.yml"), "2:y: 22\n");
    assert_eq!(stdout("grep -oP '\\w+(?=: 22)' g.yml"), "y\n");
    assert_eq!(stdout("grep -oP 'x: \\K\\d' g.yml"), "1\n");
    assert_eq!(stdout("grep -lZ x g.yml | tr '\\0' '|'"), "g.yml|");
    let (_, e, st) = run("grep -P '(?<=a+)b' f.txt");
    assert_eq!(
        (st, e.as_str()),
        (2, "grep: lookbehind assertion is not fixed length\n")
    );
    refused("grep --label=x y f.txt", "grep", "--label");
    refused("egrep -D skip x f.txt", "grep", "-D");
}

/// Field splitting by each kind of separator, including records whose field counts go down
/// (the fields' storage is reused from record to record). Outputs from gawk 5.2.1.
#[test]
fn awk_field_separators() {
    assert_eq!(
        stdout("printf 'a: b: c\\nd\\ne: f\\n' | awk -F': ' '{print NF, $2, $3}'"),
        "3 b c\n1  \n2 f \n"
    );
    assert_eq!(
        stdout("printf 'aaa\\nxaay\\n' | awk -F'aa' '{print NF\"|\"$1\"|\"$2}'"),
        "2||a\n2|x|y\n"
    );
    assert_eq!(
        stdout("printf '1 2 3 4\\n5\\n6 7\\n' | awk '{print NF, $3\"|\"}'"),
        "4 3|\n1 |\n2 |\n"
    );
    assert_eq!(stdout("printf 'a.b.c\\n' | awk -F'.' '{print $2}'"), "b\n");
    assert_eq!(
        stdout("printf 'a1b22c\\n' | awk -F'[0-9]+' '{print $3}'"),
        "c\n"
    );
    assert_eq!(
        stdout("printf 'abc\\n' | awk -F '' '{print NF, $2, $3}'"),
        "3 b c\n"
    );
}

#[test]
fn sed_awk_jq_diff() {
    assert_eq!(stdout("sed --quiet --expression=2p f.txt"), "a\n");
    assert_eq!(stdout("sed -ne 1p -e 3p f.txt"), "b\nb\n");
    assert_eq!(stdout("sed -s -n 1p f.txt g.yml"), "b\nx: 1\n");
    assert_eq!(stdout("awk -F: -v k=2 '{print $k}' g.yml"), " 1\n 22\n");
    assert_eq!(
        stdout("awk --field-separator=: '{print $1}' g.yml"),
        "x\ny\n"
    );
    assert_eq!(stdout("awk -- '{print NR}' g.yml"), "1\n2\n");
    assert_eq!(stdout("echo '{\"a\":1}' | jq -c ."), "{\"a\":1}\n");
    assert_eq!(stdout("diff -u f.txt f.txt; echo $?"), "0\n");
    assert_eq!(
        stdout("diff --brief f.txt g.yml; echo $?"),
        "Files f.txt and g.yml differ\n1\n"
    );
    refused("sed --debug p f.txt", "sed", "--debug");
    refused("awk -f prog.awk f.txt", "awk", "-f");
    refused("diff -y f.txt g.yml", "diff", "-y");
    refused("echo 1 | jq -C .", "jq", "-C");
    refused("echo 1 | jq --indent 4 .", "jq", "--indent");
}

#[test]
fn files_and_listing() {
    assert_eq!(stdout("ls --reverse --sort=size"), "g.yml\nf.txt\n");
    assert_eq!(stdout("ls -1 --almost-all"), "f.txt\ng.yml\n");
    assert_eq!(stdout("stat --printf='%s %n\\n' g.yml"), "11 g.yml\n");
    assert_eq!(stdout("stat -c '%s' -- g.yml"), "11\n");
    assert_eq!(stdout("basename --suffix=.yml /a/g.yml"), "g\n");
    assert_eq!(stdout("basename -a x/y z/w"), "y\nw\n");
    assert_eq!(stdout("realpath missing; echo $?"), "/tmp/t/missing\n0\n");
    assert_eq!(
        stdout("realpath -e missing 2>&1; echo $?"),
        "realpath: missing: No such file or directory\n1\n"
    );
    assert_eq!(stdout("readlink -f ./g.yml"), "/tmp/t/g.yml\n");
    assert_eq!(
        stdout("printf 'a b\\nc\\n' | xargs -L1 echo x"),
        "x a b\nx c\n"
    );
    assert_eq!(
        stdout("printf 'a\\nb\\n' | xargs -t -n1 echo 2>&1"),
        "echo a\na\necho b\nb\n"
    );
    assert_eq!(stdout("echo a | xargs -I{} echo [{}] -n"), "[a] -n\n");
    assert_eq!(
        stdout("mkdir -pv d/e | head -1"),
        "mkdir: created directory 'd'\n"
    );
    // GNU's layouts off a terminal: 80 columns or an exported COLUMNS, tab stops every 8
    // (recorded from GNU ls 9.1).
    let files =
        "mkdir lay && cd lay && touch alpha beta_long_name gamma delta_x epsilon_yy zeta && ";
    assert_eq!(
        stdout(&format!("{files}COLUMNS=30 ls -C")),
        "alpha\t\tepsilon_yy\nbeta_long_name\tgamma\ndelta_x\t\tzeta\n"
    );
    assert_eq!(
        stdout(&format!("{files}export COLUMNS=30; ls -x")),
        "alpha\t beta_long_name\ndelta_x  epsilon_yy\ngamma\t zeta\n"
    );
    assert_eq!(
        stdout(&format!("{files}COLUMNS=30 ls -m")),
        "alpha, beta_long_name,\ndelta_x, epsilon_yy, gamma,\nzeta\n"
    );
    // Not exported: not seen.
    assert_eq!(
        stdout(&format!("{files}COLUMNS=30; ls -CQF")),
        "\"alpha\"  \"beta_long_name\"  \"delta_x\"  \"epsilon_yy\"  \"gamma\"  \"zeta\"\n"
    );
    refused("ls --tabsize=4", "ls", "--tabsize");
    // expand and tac -s/-b as GNU coreutils 9.1 print them.
    assert_eq!(
        stdout(
            "printf 'a\\tb\\tc\\n12345678\\ty\\nab\\bc\\td\\n' | expand -t 2,5 | od -c | head -2"
        ),
        "0000000   a       b           c  \\n   1   2   3   4   5   6   7   8    \n0000020   y  \\n   a   b  \\b   c               d  \\n\n"
    );
    assert_eq!(
        stdout("printf '  \\ta\\tb\\n' | expand -i"),
        "        a\tb\n"
    );
    assert_eq!(stdout("printf 'a,b,c\\n' | tac -s,"), "c\nb,a,");
    assert_eq!(stdout("printf 'a,b,c\\n' | tac -b -s,"), ",c\n,ba");
    assert_eq!(stdout("printf 'a\\nb\\n' | tac -b"), "\n\nba");
    refused("tac -r -s x", "tac", "-r");
    refused(
        "ls --time-style=locale-xyz",
        "ls",
        "--time-style=locale-xyz",
    );
    refused("stat -t g.yml", "stat", "-t");
    refused("touch -h g.yml", "touch", "-h");
    refused("rm -i g.yml", "rm", "-i");
    refused("xargs -s 10 echo < f.txt", "xargs", "-s");
    refused("env -C /tmp pwd", "env", "-C");
    let (_, e, st) = run("stat -c %x g.yml");
    assert_eq!(
        (st, e.as_str()),
        (
            2,
            "stat: format directive '%x' is not supported by this sandbox\n"
        )
    );
}

#[test]
fn find_predicates_and_printf() {
    assert_eq!(
        stdout("find . -type f -printf '%f %s %d %h|%P\\n' | sort"),
        "f.txt 12 1 .|f.txt\ng.yml 11 1 .|g.yml\n"
    );
    assert_eq!(stdout("find . -type f -mtime -1 | wc -l"), "2\n");
    assert_eq!(stdout("find . -type f -mmin +60 | wc -l"), "0\n");
    assert_eq!(
        stdout("find . -newermt 2000-01-01 -name g.yml"),
        "./g.yml\n"
    );
    assert_eq!(stdout("find . -newer g.yml -name f.txt | wc -l"), "0\n");
    assert_eq!(
        stdout("find . -printf '%-6f|\\n' -name g.yml | sort | head -1"),
        ".     |\n"
    );
    assert_eq!(stdout("find . -quit"), "");
    refused("find . -atime 1", "find", "-atime");
    let (_, e, st) = run("find . -printf '%u\\n'");
    assert_eq!(
        (st, e.as_str()),
        (
            2,
            "find: -printf directive '%u' is not supported by this sandbox\n"
        )
    );
    let (_, e, st) = run("find . -bogus");
    assert_eq!((st, e.as_str()), (1, "find: unknown predicate `-bogus'\n"));
}

/// sed's cycle: outputs recorded from GNU sed 4.9.
#[test]
fn sed_cycle_hold_space_and_addresses() {
    let five = "printf '1\\n2\\n3\\n4\\n5\\n' > s5 && ";
    let sed = |s: &str| stdout(&format!("{five}{s}"));
    assert_eq!(sed("sed -n '$!{n;p}' s5"), "2\n4\n");
    assert_eq!(sed("sed '2,+1d' s5"), "1\n4\n5\n");
    assert_eq!(sed("sed -n '0~2p' s5"), "2\n4\n");
    assert_eq!(sed("sed ':a;N;$!ba;s/\\n/,/g' s5"), "1,2,3,4,5\n");
    assert_eq!(sed("echo ab | sed 's/\\(.*\\)/\\U&x\\E!/'"), "ABX!\n");
    assert_eq!(sed("printf 'a\\tb\\001\\n' | sed -n l"), "a\\tb\\001$\n");
    assert_eq!(sed("sed '$!N;P;D' s5 | head -3"), "1\n2\n3\n");
    assert_eq!(sed("printf 'a\\nb' | sed p"), "a\na\nb\nb");
    assert_eq!(sed("sed -n '/2/{=;x;p;x;p}' s5"), "2\n\n2\n");
    assert_eq!(
        sed("printf 'x\\nz\\n' | sed 's/x/y/;ta;s/$/!/;:a'"),
        "y\nz!\n"
    );
    assert_eq!(sed("sed '0,/[0-9]/s//N/' s5 | head -2"), "N\n2\n");
    let (_, e, st) = run("echo a | sed 'e echo'");
    assert_eq!(st, 2);
    assert!(
        e.contains("the `e' command is not supported by this sandbox"),
        "{e}"
    );
    // A loop that grows the pattern space stops at the string limit, never hangs.
    let mut config = JustBashConfig::default();
    config.limits.max_string_length = 4096;
    let engine = Engine::new(None, &config).unwrap();
    let out = engine
        .exec_script(
            "echo a | sed ':a;s/a*/&&/;ba'",
            "",
            Duration::from_secs(10),
            1 << 20,
        )
        .unwrap();
    assert_eq!(out.exit_code, 126, "{out:?}");
    assert!(
        out.stderr_str().contains("limits.max_string_length"),
        "{out:?}"
    );
}

/// jq's formats jaq leaves out; outputs recorded from jq 1.6.
#[test]
fn jq_csv_tsv_formats() {
    assert_eq!(
        stdout(
            r#"echo '[{"id":1,"n":"a,b\"q"},{"id":2,"n":"c"}]' | jq -r '.[] | [.id, .n] | @csv'"#
        ),
        "1,\"a,b\"\"q\"\n2,\"c\"\n"
    );
    assert_eq!(
        stdout(r#"echo '["a\tb\\c",null,true,1.5]' | jq -r '@tsv'"#),
        "a\\tb\\\\c\t\ttrue\t1.5\n"
    );
    assert_eq!(
        stdout(r#"echo '[1,"a",null,true]' | jq -r '@csv'"#),
        "1,\"a\",,true\n"
    );
    assert_eq!(stdout(r#"echo '"x y"' | jq -r '@sh'"#), "'x y'\n");
    assert_eq!(stdout(r#"echo '"hi"' | jq -r '@base64'"#), "aGk=\n");
    let (_, e, st) = run(r#"echo '{"a":1}' | jq -r '@csv'"#);
    assert_eq!(st, 5, "{e}");
}

/// awk's regex dialect, `-F` as a string, paragraph mode and the C locale; outputs recorded
/// from gawk 5.2, GNU wc and grep under `LC_ALL=C`.
#[test]
fn awk_regex_fields_and_c_locale() {
    assert_eq!(
        stdout(r"printf 'a[1]\nplain\nb]\n' | awk '/[\[\]]/'"),
        "a[1]\nb]\n"
    );
    assert_eq!(
        stdout(r"echo 'key[idx]rest' | awk -F'[\\[\\]]' '{print $2}'"),
        "idx\n"
    );
    assert_eq!(stdout(r"echo 'a|b|c' | awk -F '\\|' '{print $2}'"), "b\n");
    assert_eq!(
        stdout(r"printf 'x\ty z\n' | awk -F'[\t ]' '{print $3}'"),
        "z\n"
    );
    assert_eq!(
        stdout(r#"printf 'a\nb\n\n\nc\n' | awk 'BEGIN{RS=""}{print NR": "$0}'"#),
        "1: a\nb\n2: c\n"
    );
    assert_eq!(
        stdout(r#"LC_ALL=C awk 'BEGIN{print length("日本")}'"#),
        "6\n"
    );
    assert_eq!(
        stdout(r"printf 'caf\303\251 \342\200\224 x\n' | LC_ALL=C wc"),
        "      1       2      12\n"
    );
    assert_eq!(
        stdout("echo 'ÄNDER änder' | LC_ALL=C grep -io 'änder'"),
        "änder\n"
    );
    let (_, _, st) = run("awk '{print' /dev/null");
    assert_eq!(st, 1);
    // Outputs recorded from gawk 5.2.1.
    assert_eq!(
        stdout(
            "awk '{print > \"/tmp/x\"}' f.txt; awk '{print $1 >> \"/tmp/x\"}' g.yml; cat /tmp/x"
        ),
        "b\na\nb\n\n\nc\td\nx:\ny:\n"
    );
    assert_eq!(
        stdout(
            "awk 'BEGIN{while ((getline l < \"f.txt\") > 0) n++; print n, getline x < \"nope\"}'"
        ),
        "6 -1\n"
    );
    assert_eq!(
        stdout("awk 'NR==1{getline; print NR\": \"$0} END{print NR}' g.yml"),
        "2: y: 22\n2\n"
    );
    assert_eq!(
        stdout(
            "awk '{print $1 > (NR%2 ? \"/tmp/o\" : \"/tmp/e\")} END{close(\"/tmp/o\"); while ((getline l < \"/tmp/o\") > 0) print \"o:\" l}' f.txt"
        ),
        "o:b\no:b\no:\n"
    );
    refused_contains("awk 'BEGIN{\"echo hi\" | getline x}'", "not supported");
    refused_contains("awk '{print | \"sort\"}' f.txt", "not supported");
    refused_contains("awk 'BEGIN{system(\"ls\")}'", "not supported");
}

fn refused_contains(script: &str, what: &str) {
    let (o, e, st) = run(script);
    assert_eq!(st, 2, "{script}: {o}{e}");
    assert!(e.contains(what), "{script}: {e}");
}

/// Options of the text and listing commands; outputs recorded from GNU coreutils 9.1.
#[test]
fn coreutils_details() {
    assert_eq!(stdout("printf 'abc\\nabd\\n' | uniq -w2"), "abc\n");
    assert_eq!(stdout("printf 'xa\\nya\\n' | uniq -s1 -c"), "      2 xa\n");
    let (_, e, st) = run("tail -1 f.txt g.yml");
    assert_eq!(
        (st, e.as_str()),
        (1, "tail: option used in invalid context -- 1\n")
    );
    assert_eq!(
        stdout("tail -n -1 f.txt g.yml"),
        "==> f.txt <==\nc\td\n\n==> g.yml <==\ny: 22\n"
    );
    assert_eq!(stdout("sort -o /dev/stdout g.yml"), "x: 1\ny: 22\n");
    assert_eq!(
        stdout("nl -w3 -s': ' f.txt | head -3"),
        "  1: b\n  2: a\n  3: b\n"
    );
    assert_eq!(stdout("nl -ba -nrz -w3 f.txt | sed -n 4p"), "004\t\n");
    assert_eq!(stdout("ls -X"), "f.txt\ng.yml\n");
    assert_eq!(stdout("ls -s1 | head -1"), "total 8\n");
}
