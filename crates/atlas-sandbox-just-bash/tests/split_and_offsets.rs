//! Standard input that is a regular file keeps an offset, as on Linux: GNU `head` and `grep -m`
//! leave it just after what they used, so the next command of a `{ …; } < file` group goes on
//! from there (a pipe gives no such offset). And `split`, GNU's file names and pieces. Each case
//! is what bash 5.2 with GNU coreutils 9.1 and grep 3.8 printed under `LC_ALL=C` (stdout, exit
//! status, whether stderr is empty), recorded by hand.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use common::{Case, Runner};

/// (script, stdout, exit status, stderr is non-empty)
const CASES: &[Case] = &[
    ("seq 5 > f; { head -1; head -1; } < f", "1\n2\n", 0, false),
    (
        "seq 5 > f; { head -c 2; cat; } < f",
        "1\n2\n3\n4\n5\n",
        0,
        false,
    ),
    (
        "seq 5 > f; { head -n 2 >/dev/null; head -n -1; } < f",
        "3\n4\n",
        0,
        false,
    ),
    ("seq 5 | { head -1; head -1; }", "1\n", 0, false),
    (
        "seq 20 > f; { grep -m1 1; grep -m1 1; cat | wc -l; } < f",
        "1\n10\n10\n",
        0,
        false,
    ),
    (
        "seq 20 > f; { grep -c -m2 1; head -1; } < f",
        "2\n11\n",
        0,
        false,
    ),
    (
        "seq 20 > f; while read -r a; do head -1; done < f | head -3",
        "2\n4\n6\n",
        0,
        false,
    ),
    (
        "seq 7 > f; split -l 3 f p_; for x in p_*; do echo \"$x:$(wc -l < $x)\"; done",
        "p_aa:3\np_ab:3\np_ac:1\n",
        0,
        false,
    ),
    (
        "printf 'a\\nbb\\nccc\\ndddd\\neeeee\\n' > g; split -C 4 g; for x in x*; do printf '%s:%s|' \"$x\" \"$(cat \"$x\")\"; done",
        "xaa:a|xab:bb|xac:ccc|xad:dddd|xae:|xaf:eeee|xag:e|",
        0,
        false,
    ),
    (
        "printf 'a\\nbb\\nccc\\ndddd\\neeeee\\n' > g; split -n l/4 g; ls x* | wc -l; split -n l/2/4 g",
        "4\nccc\ndddd\n",
        0,
        false,
    ),
    (
        "printf 'abcdefghij' > g; split -n 3 g; wc -c x*; split -n 2/3 g",
        " 3 xaa\n 3 xab\n 4 xac\n10 total\ndef",
        0,
        false,
    ),
    (
        "seq 700 > f; split -l1 f; ls x* | sed -n '650,651p'",
        "xyz\nxzaaa\n",
        0,
        false,
    ),
    ("seq 3 | split -n 2; echo $?", "1\n", 0, true),
    ("seq 3 > f; split -n 2 - q < f; cat qab", "\n3\n", 0, false),
    ("seq 3 > f; split -l 0 f; echo $?", "1\n", 0, true),
    (
        "seq 30 | split -a1 -l1; echo $?; ls x* | wc -l",
        "1\n26\n",
        0,
        true,
    ),
    (
        "seq 3 | split -l1 -a1 --numeric-suffixes=8; echo $?; ls",
        "1\nx8\nx9\n",
        0,
        true,
    ),
    (
        "seq 5 | split -l2 -d --additional-suffix=.txt --verbose - part_",
        "creating file 'part_00.txt'\ncreating file 'part_01.txt'\ncreating file 'part_02.txt'\n",
        0,
        false,
    ),
    ("seq 5 | split -2 - s; ls s*", "saa\nsab\nsac\n", 0, false),
    ("seq 5 | split -l 1 -b 2; echo $?", "1\n", 0, true),
];

#[test]
fn file_offsets_and_split_match_bash() {
    Runner::empty().assert_like_bash(CASES);
}

#[test]
fn round_robin_chunks_and_filters_are_refused_by_name() {
    Runner::empty().assert_refused(&["seq 4 | split -n r/2", "seq 4 | split --filter='cat'"]);
}
