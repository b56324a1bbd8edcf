//! Shell semantics that models rely on, each checked against what bash 5.2 printed for it
//! (recorded here by hand from `bash -c`: stdout, exit status, whether stderr is empty).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use common::{Case, Runner};

/// (script, stdout, exit status, stderr is non-empty)
const CASES: &[Case] = &[
    (
        "x='it'\\''s'; y=a\\ b; z=\"c\\d\"; case $x in it\\'s) echo m;; esac; echo \"$x|$y|$z\"",
        "m\nit's|a b|c\\d\n",
        0,
        false,
    ),
    (
        "f() { local x=$(echo a  b); echo \"$x\"; }; f",
        "a b\n",
        0,
        false,
    ),
    (
        "declare -a arr=(1 2 3); echo \"${#arr[@]} ${arr[2]}\"",
        "3 3\n",
        0,
        false,
    ),
    (
        "a=(); for x in \"${a[@]}\"; do echo \"item\"; done; echo done",
        "done\n",
        0,
        false,
    ),
    (
        "IFS=:; u=; for w in ${u:-a:b:c}; do echo \"$w\"; done",
        "a\nb\nc\n",
        0,
        false,
    ),
    (
        "declare d; echo \"[${d-default}]\"",
        "[default]\n",
        0,
        false,
    ),
    (
        "(echo ${unset_var:?must be set}); echo \"exit=$?\"",
        "exit=1\n",
        0,
        true,
    ),
    (
        "for i in 1 2; do for j in 1 2; do break 5; done; echo no; done; echo \"after $?\"",
        "after 0\n",
        0,
        false,
    ),
    (
        "i=0; while i=$((i+1)); [ $i -lt 5 ] || break; do :; done; echo $i",
        "5\n",
        0,
        false,
    ),
    ("declare -i n=5; n+=3; echo $n", "8\n", 0, false),
    ("declare -r ro=1; ro=2; echo \"same line\"", "", 1, true),
    (
        "readonly R=1; R=2\necho \"next line $?\"",
        "next line 1\n",
        0,
        true,
    ),
    (
        "set -- -a -b val rest; while getopts ab: o; do echo \"$o ${OPTARG-}\"; done; shift $((OPTIND-1)); echo \"$*\"",
        "a \nb val\nrest\n",
        0,
        false,
    ),
    (
        "printf 'x\\ny\\nz\\n' > /tmp/m; mapfile -t m < /tmp/m; echo \"${#m[@]} ${m[2]}\"",
        "3 z\n",
        0,
        false,
    ),
    ("cat <(echo one) <(echo two)", "one\ntwo\n", 0, false),
    (
        "while read -r l; do echo \"> $l\"; done < <(printf 'a\\nb\\n')",
        "> a\n> b\n",
        0,
        false,
    ),
    (
        "printf '%#x %.5x %u\\n' 255 255 -1",
        "0xff 000ff 18446744073709551615\n",
        0,
        false,
    ),
    (
        "type -t cd; type -t ls; type -t if; f() { :; }; type -t f",
        "builtin\nfile\nkeyword\nfunction\n",
        0,
        false,
    ),
    ("x=a; y=\"1 2\"; export E=$y; printenv E", "1 2\n", 0, false),
    ("set -x; echo traced", "traced\n", 0, true),
    ("[ -d \"\" ]; echo $?", "1\n", 0, false),
    ("echo {01..03}", "01 02 03\n", 0, false),
    (
        "[[ \"orders.yml\" =~ ^(.*)\\.yml$ ]] && echo \"${BASH_REMATCH[1]}\"",
        "orders\n",
        0,
        false,
    ),
    (
        "shopt -s extglob; x=order_items; echo ${x%%+(_items)}",
        "order\n",
        0,
        false,
    ),
    (
        "a=(1 2 3); declare -p a",
        "declare -a a=([0]=\"1\" [1]=\"2\" [2]=\"3\")\n",
        0,
        false,
    ),
    (
        "set -- 1 2 3; for i in ; do echo $i; done; echo end",
        "end\n",
        0,
        false,
    ),
    ("set -- 1 2; for i; do echo $i; done", "1\n2\n", 0, false),
    (
        "echo μ; set -- q; f() { for x in\ndo echo \"[$x]\"; done; echo f; }; f",
        "μ\nf\n",
        0,
        false,
    ),
    (
        "exec 3>&1; (exec 3>&-); { echo a; echo b >&3; echo c; } 2>/dev/null",
        "a\nb\nc\n",
        0,
        false,
    ),
    (
        "set -e; { false && echo x; }; echo \"group: $?\"",
        "group: 1\n",
        0,
        false,
    ),
    (
        "set -e; f() { false && echo x; }; f; echo unreached",
        "",
        1,
        false,
    ),
    (
        "echo $(( 1 / 0 )); echo same line\necho next line",
        "next line\n",
        0,
        true,
    ),
    (
        "s=abc; echo \"[${s: -10}]\" \"[${s: -10:2}]\" \"[${s: -3}]\"",
        "[] [] [abc]\n",
        0,
        false,
    ),
    (
        "mkdir -p /tmp/q/a/b && touch /tmp/q/a/b/f && find /tmp/q -depth; find /tmp/q -delete; echo \"rc=$?\"; ls /tmp/q",
        "/tmp/q/a/b/f\n/tmp/q/a/b\n/tmp/q/a\n/tmp/q\nrc=0\n",
        2,
        true,
    ),
    (
        "printf '%s\\n' 0123456789 > /tmp/w; wc -l nosuch /tmp/w",
        " 1 /tmp/w\n 1 total\n",
        1,
        true,
    ),
    (
        "export LC_ALL=C\necho $'\\u00e9' $'\\u41'; echo -e '\\U1F600'; printf '\\u41%b\\n' '\\u00e9'",
        "\\u00E9 A\n\\U0001F600\nA\\u00E9\n",
        0,
        false,
    ),
    (
        "echo $'\\u00e9' $'\\cA' | od -c | head -1; echo -e '\\u263a'",
        "0000000 303 251     001  \\n\n\u{263a}\n",
        0,
        false,
    ),
    (
        "printf 'a\\nb\\nc\\n' > /tmp/f1; printf 'x\\ny\\n' > /tmp/f2; awk '{print FILENAME, FNR; nextfile}' /tmp/f1 /tmp/f2; awk 'FNR==2{nextfile} {n++} END{print n, NR}' /tmp/f1 /tmp/f2; awk '{exit 4} END{exit}' /tmp/f1; echo $?; awk 'END{print NR}' /tmp/nosuch /tmp/f1; echo $?",
        "/tmp/f1 1\n/tmp/f2 1\n2 4\n4\n2\n",
        0,
        true,
    ),
    (
        "echo '[1.50, 1.0, 100000000000000000000, 0.00001]' | jq -c '[.[]|tostring], (.[0]|@text)'",
        "[\"1.5\",\"1\",\"1e+20\",\"1e-05\"]\n\"1.5\"\n",
        0,
        false,
    ),
    (
        "echo \"[$(date %x)]\"; echo rc=$?; date 'next tuesday'; echo rc=$?",
        "[]\nrc=0\nrc=1\n",
        0,
        true,
    ),
    (
        "mkdir -p /tmp/q && touch /tmp/q/a && find /tmp/q -name a -quit -print; echo ---; find /tmp/q -name a -print -quit",
        "---\n/tmp/q/a\n",
        0,
        false,
    ),
    // A syntax error in `[[ ]]` ends the script with the last status, but an unclosed `(` in
    // a `=~` regex on the first line is an end-of-file error: 2.
    ("[[ a =~ (b ]]", "", 2, true),
    ("echo x; [[ a =~ (b ]]; echo $?", "", 2, true),
    ("false\n[[ a =~ (b ]]", "", 1, true),
    ("false; [[ a -eq ]]", "", 0, true),
];

#[test]
fn gawk_features_this_awk_lacks_are_refused() {
    Runner::empty().assert_refused(&[
        "awk 'BEGIN{IGNORECASE=1} /x/' /dev/null",
        "awk 'BEGIN{print PROCINFO[\"version\"]}'",
    ]);
}

#[test]
fn expansions_the_parser_does_not_know_are_refused_not_printed() {
    let out = Runner::empty().run("s=aBc; echo \"${s~~}\"");
    assert_eq!(out.stdout_str(), "");
    assert_eq!(out.exit_code, 2);
    assert!(out.stderr_str().contains("${s~~}"), "{}", out.stderr_str());
    assert!(
        out.stderr_str().contains("not supported"),
        "{}",
        out.stderr_str()
    );
}

#[test]
fn a_refusal_inside_a_command_substitution_still_names_the_feature() {
    for script in [
        "echo \"[$(date 010112002020)]\"; echo after",
        "set -e; x=$(echo a; date 0101120020.30); echo \"$x\"",
        "echo \"$(echo a | sort -k1,1 --random-source=/dev/zero)\"",
        "cat <(date 010112002020); echo after",
    ] {
        let out = Runner::empty().run(script);
        assert_eq!(out.exit_code, 2, "{script}");
        assert_eq!(out.stdout_str(), "", "{script}");
        assert!(
            out.stderr_str().contains("not supported"),
            "{script}: {}",
            out.stderr_str()
        );
    }
}

#[test]
fn shell_semantics_match_bash() {
    Runner::empty().assert_like_bash(CASES);
}
