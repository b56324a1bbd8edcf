//! Classes of silently wrong answers found by running model-style commands against bash 5.2 and
//! GNU tools: each case is what real bash printed (stdout, exit status, whether stderr was
//! non-empty) under `LC_ALL=C`, recorded with `bash -c`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use common::{Case, Runner};

/// (script, stdout, exit status, stderr is non-empty)
const CASES: &[Case] = &[
    // GNU `\W` and `\S` in sed and awk regexes (they failed to compile).
    (
        "sed 's/\\S\\+/W/g; s/\\W/-/g' <<< 'a  bb, c'",
        "W--W-W\n",
        0,
        false,
    ),
    (
        "awk '{gsub(/\\W/,\"-\"); print; gsub(/\\S+/, \"W\"); print}' <<< 'hi, there!'",
        "hi--there-\nW\n",
        0,
        false,
    ),
    (
        "printf 'a\\xe9b c\\n' | sed 's/\\S\\+/X/g'",
        "X X\n",
        0,
        false,
    ),
    // sed keeps the blanks after `a\`, `i\`, `c\` (it dropped them).
    (
        "sed 'i\\  two spaces' <<< x; sed $'a\\\\\\n   text' <<< y; sed 'a \\ttab' <<< z; sed '1i   skipped' <<< w",
        "  two spaces\nx\ny\n   text\nz\nttab\nskipped\nw\n",
        0,
        false,
    ),
    // printf %d/%x read a number's leading part, as strtoimax does (3.5 printed 0, '7 ' 7 quietly).
    (
        "printf '%d|%x\\n' 3.5 3.5 12abc 12abc 0x1g 0x1g '7 ' '7 '; echo rc=$?",
        "3|3\n12|c\n1|1\n7|7\nrc=1\n",
        0,
        true,
    ),
    (
        "printf '%d|%x|%u\\n' 99999999999999999999 99999999999999999999 -1; echo rc=$?",
        "9223372036854775807|ffffffffffffffff|18446744073709551615\nrc=0\n",
        0,
        true,
    ),
    (
        "printf '%d %d %o\\n' 08 ' -0x10' 0x1F; echo rc=$?",
        "0 -16 37\nrc=1\n",
        0,
        true,
    ),
    // awk: gawk's match() capture array (it was ignored) and builtin arity (extra arguments
    // were ignored).
    (
        "awk 'BEGIN{print match(\"xaby\", /(q)?a(b)/, m); for (k in m) print k \"=\" m[k]}' | sort | od -c | sed 's/  */ /g'",
        "0000000 0 034 l e n g t h = 2 \\n 0 034 s t a\n0000020 r t = 2 \\n 0 = a b \\n 2 \\n 2 034 l e\n0000040 n g t h = 1 \\n 2 034 s t a r t = 3\n0000060 \\n 2 = b \\n\n0000065\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{m[\"z\"]=1; match(\"abc\", /q/, m); print length(m); match(\"a10\", /[0-9]+/, m); print (m[0] < 9), m[0, \"start\"]}'",
        "0\n0 2\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{x=1; print match(\"abc\", /b/, x)}'; echo rc=$?",
        "rc=2\n",
        0,
        true,
    ),
    (
        "awk 'BEGIN{print substr(\"abc\", 1, 1, 1)}'; echo rc=$?; awk 'BEGIN{print index(\"a\", \"b\", \"c\")}'; echo rc=$?; awk 'BEGIN{print toupper()}'; echo rc=$?; awk 'BEGIN{print sprintf()}'; echo rc=$?",
        "rc=1\nrc=1\nrc=1\nrc=2\n",
        0,
        true,
    ),
    // awk rand() gives gawk's numbers (it was another generator) and srand() returns the
    // previous seed (it returned 0).
    (
        "awk 'BEGIN{print rand(); srand(42); print rand(), int(rand() * 100)}'",
        "0.924046\n0.24632 39\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{x = srand(3.7); y = srand(); z = srand(-1); print x, y, rand()}'",
        "1 3 0.796873\n",
        0,
        false,
    ),
    (
        "seq 5 | awk 'BEGIN{srand(7)} {print rand() < 0.5 ? \"lo\" : \"hi\", $1}'",
        "lo 1\nlo 2\nlo 3\nlo 4\nlo 5\n",
        0,
        false,
    ),
    // awk: a literal zero divisor is gawk's parse-time error (status 1, nothing runs); any
    // other is fatal when reached (status 2).
    (
        "awk 'BEGIN{print \"x\"} END{print 1/0}' /dev/null; echo rc=$?; awk 'BEGIN{print 1 % -0}'; echo rc=$?",
        "rc=1\nrc=1\n",
        0,
        true,
    ),
    (
        "awk 'BEGIN{print \"x\"; print 1/(0)}'; echo rc=$?; awk 'BEGIN{print \"y\"; z = 0; print 1/z}'; echo rc=$?",
        "x\nrc=2\ny\nrc=2\n",
        0,
        true,
    ),
    // `hash` reports an empty table and unknown names (it printed nothing and returned 0).
    (
        "hash; echo rc=$?; hash nosuch; echo rc=$?; hash echo cd; echo rc=$?",
        "hash: hash table empty\nrc=0\nrc=1\nrc=0\n",
        0,
        true,
    ),
    (
        "echo hi | cat >/dev/null; hash -r; hash",
        "hash: hash table empty\n",
        0,
        false,
    ),
    // `${!prefix*}` names bash's own variables too (HOSTNAME, SECONDS, UID... were missing).
    (
        "echo ${!HO*}; echo ${!S*}; echo ${!BASH_V*}; x=1; echo ${!x*}; for v in \"${!U@}\"; do echo \"$v\"; done",
        "HOME HOSTNAME HOSTTYPE\nSECONDS SHELL SHELLOPTS SHLVL SRANDOM\nBASH_VERSINFO BASH_VERSION\nx\nUID\nUSER\n",
        0,
        false,
    ),
    // printf: %b reads octal without the leading 0 and keeps raw bytes; %c of nothing is a NUL.
    (
        "printf '%b|' '\\101' '\\0101' '\\1011' '\\400' | od -c",
        "0000000   A   |   A   |   A   1   |  \\0   |\n0000011\n",
        0,
        false,
    ),
    (
        "printf '%c|%3c|' '' | od -c; printf '%-3b|%b' '\\377' '\\376' | od -c",
        "0000000  \\0   |          \\0   |\n0000006\n0000000 377           | 376\n0000005\n",
        0,
        false,
    ),
    // `command -v/-V` fail only when no name is found (a missing one made them fail).
    (
        "command -v cd nosuch; echo rc=$?; command -v nosuch; echo rc=$?; command -V nosuch cd; echo rc=$?",
        "cd\nrc=0\nrc=1\ncd is a shell builtin\nrc=0\n",
        0,
        true,
    ),
    // awk's printf flags as C has them: `#` on g/f/e, `0` after a blank sign or `0x`, no `0` with
    // an integer precision, no digit for a zero at `.0` (printf's `%.0d` too).
    (
        "awk 'BEGIN{printf \"%#g|%#.3g|%#.0f|%#.0e|% 05d|%#06x|%08.3d|%.0d|%.3x|%5.0u|\\n\", 1, 2, 5, 5, 42, 255, -5, 0, 10, 0}'; printf '%.0d|%+.0d|\\n' 0 0",
        "1.00000|2.00|5.|5.e+00| 0042|0x00ff|    -005||00a|     |\n|+|\n",
        0,
        false,
    ),
    // awk's `\y` is gawk's word boundary (it matched nothing).
    (
        "awk '{gsub(/\\y/, \"|\"); print; print ($0 ~ /\\ycd\\y/)}' <<< 'ab cd'",
        "|ab| |cd|\n1\n",
        0,
        false,
    ),
    // yq loads YAML as PyYAML does: Null/NULL, repeated keys (last value, first place), `<<`
    // merges, tags on quoted scalars (yaml-rust2's loader failed or kept strings).
    (
        "yq -c . <<< '[Null, NULL, \"Null\", !!int \"3\", !!bool \"yes\", !!null x, !Ref y]'",
        "[null,null,\"Null\",3,true,null,\"y\"]\n",
        0,
        false,
    ),
    (
        "yq -c . <<< $'a: 1\\nb: 2\\na: 3'",
        "{\"a\":3,\"b\":2}\n",
        0,
        false,
    ),
    (
        "yq -c .b <<< $'a: {x: 1}\\nb: {<<: [{x: 2, y: 2}, {y: 3, z: 3}], w: 0, x: 9}'",
        "{\"y\":2,\"z\":3,\"x\":9,\"w\":0}\n",
        0,
        false,
    ),
    (
        "yq -c . <<< 'a: !!int \"x\"'; echo rc=$?; yq -c . <<< $'a: &x [1]\\nb:\\n  <<: *x'; echo rc=$?",
        "rc=1\nrc=1\n",
        0,
        true,
    ),
    // `( (cmd) )` and `((cmd) )` are subshells in a subshell; only touching `((`...`))` is
    // arithmetic (they were arithmetic syntax errors).
    (
        "( ( echo nested ) ); ((echo b) ); x=1; ( (x=2; echo $x) ); echo $x; ( ( ( exit 3 ) ) ); echo rc=$?",
        "nested\nb\n2\n1\nrc=3\n",
        0,
        false,
    ),
    (
        "((echo hi)); echo rc=$?; (( x = 2 )); echo $x",
        "rc=1\n2\n",
        0,
        true,
    ),
    // The environment bash gives: `_` is the command's path, OLDPWD is exported from the start
    // (unset until `cd`), and `export -p`/`declare -p` show an exported name with no value.
    (
        "printenv _; env | grep '^_='; export -p | grep -c OLDPWD; declare -p OLDPWD; cd /tmp; env | grep -c '^OLDPWD='",
        "/usr/bin/printenv\n_=/usr/bin/env\n1\ndeclare -x OLDPWD\n1\n",
        0,
        false,
    ),
    (
        "export FOO; export -p | grep FOO; declare -p FOO; echo ${FOO-unset}",
        "declare -x FOO\ndeclare -x FOO\nunset\n",
        0,
        false,
    ),
    // A subshell runs its own EXIT trap as it exits, not the parent's (it ran at the script's
    // end), and `return` in a subshell ends the subshell (it returned from the function).
    (
        "(trap 'echo sub' EXIT); echo main; trap 'echo parent' EXIT; (trap 'echo \"child $?\"' EXIT; exit 3); echo \"rc=$?\"; x=$(trap 'echo t' EXIT; echo a); echo \"[$x]\"",
        "sub\nmain\nchild 3\nrc=3\n[a\nt]\nparent\n",
        0,
        false,
    ),
    (
        "f() { (trap 'echo fn' EXIT; return 2); echo \"f=$?\"; }; f; g() { echo $(return 4; echo no); echo \"r=$?\"; }; g",
        "fn\nf=2\n\nr=0\n",
        0,
        false,
    ),
    // `${v@Q}` takes bash's `$'...'` form for control characters (and non-ASCII in C); the raw
    // characters inside single quotes split and printed differently.
    (
        "echo ${IFS@Q}; x=$'a\\tb'; echo \"${x@Q}\"; x=é; echo \"${x@Q}\"; x=\"it's\"; echo \"${x@Q}\"",
        "$' \\t\\n'\n$'a\\tb'\n$'\\303\\251'\n'it'\\''s'\n",
        0,
        false,
    ),
    // grep --group-separator=SEP and --no-group-separator (they were rejected as unknown).
    (
        "printf 'a\\nx\\nb\\ny\\nz\\nc\\n' > /tmp/g; grep --group-separator=XX -A1 '[ab]' /tmp/g; grep --no-group-separator -A1 '[ac]' /tmp/g; grep --group-separator= -B1 '[bc]' /tmp/g",
        "a\nx\nb\ny\na\nx\nc\nx\nb\n\nz\nc\n",
        0,
        false,
    ),
    // awk's FILENAME is `-` for standard input (it was empty).
    (
        "printf 'x\\n' | awk 'BEGIN{print FILENAME \"|\"} {print FILENAME \"|\"}'; printf 'y\\n' | awk 'END{print FILENAME}' -",
        "|\n-|\n-\n",
        0,
        false,
    ),
    // sort -g reads C's hexadecimal numbers as strtod does (0x10 sorted as 0).
    (
        "printf '0x10\\n0x1p3\\n9\\n10\\n-0x2\\n0x.8\\n1e2\\n' | sort -g",
        "-0x2\n0x.8\n0x1p3\n9\n10\n0x10\n1e2\n",
        0,
        false,
    ),
    // `file` with several operands lines the descriptions up, as GNU file does.
    (
        "mkdir -p /tmp/d; echo x > /tmp/d/a.txt; echo y > /tmp/d/longer_name.txt; cd /tmp/d; file a.txt longer_name.txt nosuch .; file -b a.txt",
        "a.txt:           ASCII text\nlonger_name.txt: ASCII text\nnosuch:          cannot open `nosuch' (No such file or directory)\n.:               directory\nASCII text\n",
        0,
        false,
    ),
    // bash runs the lines before a syntax error (nothing ran); inside `[[ ]]` the error leaves the
    // last status (it was 2).
    ("echo a\nif then\necho never", "a\n", 2, true),
    ("echo a\n[[ 1 -eq 1 ]", "a\n", 0, true),
    ("false\n[[ x = ]]", "", 1, true),
    ("trap 'echo T' EXIT\n[[ a b ]]", "T\n", 0, true),
    ("echo a\nexit 3\nif then", "a\n", 3, false),
    // `read a[1]` and `printf -v 'm[k]'` set that element (read refused the name, printf -v
    // made a variable nobody could read).
    (
        "arr=(a b); read arr[5] <<< q; echo \"${arr[@]}\" ${!arr[@]}; printf -v 'arr[1]' %s B; declare -A h; printf -v 'h[k]' %s z; echo \"${arr[1]} ${h[k]}\"; read 'x[1+1]' <<< v; echo ${x[2]}",
        "a b q 0 1 5\nB z\nv\n",
        0,
        false,
    ),
    // `shopt -s nocaseglob` globs without case (it was ignored), and nl ends an unterminated last
    // line with a newline.
    (
        "mkdir -p /tmp/ncg && touch /tmp/ncg/Alpha.txt /tmp/ncg/beta.txt && cd /tmp/ncg && echo [ab]*; shopt -s nocaseglob; echo [ab]* A*",
        "beta.txt\nAlpha.txt beta.txt Alpha.txt\n",
        0,
        false,
    ),
    (
        "printf 'a\\nb' | nl | od -c",
        "0000000                       1  \\t   a  \\n                       2  \\t\n0000020   b  \\n\n0000022\n",
        0,
        false,
    ),
    // xargs: of -I, -n and -L the last wins, with GNU's warning for each dropped (-I always won,
    // silently).
    (
        "printf 'a\\nb\\nc\\n' | xargs -I{} -n 2 echo {} 2>&1; printf 'a\\nb\\nc\\n' | xargs -n 2 -I{} echo {} 2>&1; printf 'a\\nb\\nc\\n' | xargs -n1 -L2 echo 2>&1",
        "xargs: warning: options --replace and --max-args/-n are mutually exclusive, ignoring previous --replace value\n{} a b\n{} c\nxargs: warning: options --max-args and --replace/-I/-i are mutually exclusive, ignoring previous --max-args value\na\nb\nc\nxargs: warning: options --max-args and -L are mutually exclusive, ignoring previous --max-args value\na b\nc\n",
        0,
        false,
    ),
    // env and printenv list the environment in bash's variable-table order (it was sorted).
    (
        "export A=1 B=2 ZED=3; env | grep -v PWD; printenv | grep -v PWD; env X=1 | grep -v PWD",
        "SHELL=/bin/bash\nZED=3\nTZ=UTC\nB=2\nA=1\nHOME=/tmp\nLANG=C.UTF-8\nTERM=dumb\nUSER=user\nSHLVL=1\nLC_ALL=C\nPATH=/usr/bin:/bin\n_=/usr/bin/env\nSHELL=/bin/bash\nZED=3\nTZ=UTC\nB=2\nA=1\nHOME=/tmp\nLANG=C.UTF-8\nTERM=dumb\nUSER=user\nSHLVL=1\nLC_ALL=C\nPATH=/usr/bin:/bin\n_=/usr/bin/printenv\nSHELL=/bin/bash\nZED=3\nTZ=UTC\nB=2\nA=1\nHOME=/tmp\nLANG=C.UTF-8\nTERM=dumb\nUSER=user\nSHLVL=1\nLC_ALL=C\nPATH=/usr/bin:/bin\n_=/usr/bin/env\nX=1\n",
        0,
        false,
    ),
    // bash execs a script's last simple command in its place, one SHLVL lower (also the last of
    // `&&`/`||`, of a subshell, of `$(...)`); not in a function, a pipeline, or with a trap.
    (
        "printenv SHLVL; (printenv SHLVL); echo $(printenv SHLVL); f() { printenv SHLVL; }; f; env | grep SHLVL; true && printenv SHLVL",
        "1\n0\n0\n1\nSHLVL=1\n1\n",
        0,
        false,
    ),
    ("trap 'echo t' EXIT; printenv SHLVL", "1\nt\n", 0, false),
    ("printenv SHLVL > /dev/stdout", "1\n", 0, false),
    (
        "env | grep -c . >/dev/null; printenv SHLVL",
        "0\n",
        0,
        false,
    ),
    // A bare `0x` in arithmetic is 0 (it was a syntax error).
    (
        "echo $((0x)) $((0x + 2)) $((0X)); x=0x; echo $((x))",
        "0 2 0\n0\n",
        0,
        false,
    ),
    // tr's `[c*n]` and `[c*]` repeats in SET2 (they were taken as the characters `[`, `c`,
    // `*`...), and `[=c=]`.
    (
        "printf abc | tr abc '[x*3]'; echo; printf hello | tr abcdefgh '[x*2][y*]z'; echo; printf hello | tr a-z '[x*010]Y'",
        "xxx\nzyllo\nxxYYY",
        0,
        false,
    ),
    (
        "printf hello | tr a-z '[*]A'; echo; printf hello | tr a-z 'A[*]'; echo; echo abcdef | tr -c abc '[x*]y'",
        "AAAAA\n]]]]]\nabcxxxx",
        0,
        false,
    ),
    (
        "echo abcdef | tr abcdef '[x*0]y'; echo abcdef | tr abc '[x*5]y'; echo aabbccdd | tr -s ab '[x*]'; echo hello | tr '[=l=]' L",
        "xxxxxy\nxxxdef\nxccdd\nheLLo\n",
        0,
        false,
    ),
    ("echo abc | tr '[a*]' x; echo rc=$?", "rc=1\n", 0, true),
    (
        "echo abcdef | tr abcdef '[x*]y[z*]'; echo rc=$?",
        "rc=1\n",
        0,
        true,
    ),
    (
        "echo abcdef | tr abcdef '[x*2z]'; echo rc=$?",
        "rc=1\n",
        0,
        true,
    ),
    // gawk fixes a name as scalar or array at its first use; the other use is fatal (exit 2). Both
    // uses went through quietly.
    ("awk 'BEGIN{print \"a\"; x=1; x[1]=2}'", "a\n", 2, true),
    ("awk 'BEGIN{print \"a\"; x[1]=1; print x}'", "a\n", 2, true),
    ("awk 'BEGIN{print \"a\"; x[1]=1; x=2}'", "a\n", 2, true),
    (
        "awk 'BEGIN{print \"a\"; if (0) x=1; x[1]=2; print \"b\"}'",
        "a\nb\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{x[1]=1; print length(x); n=split(\"a b\",x); print n; print (1 in x); x=3 }'",
        "1\n2\n1\n",
        2,
        true,
    ),
    ("awk 'BEGIN{NR[1]=1}'", "", 2, true),
    ("awk 'BEGIN { x[1]=1; delete x; x=1}'", "", 2, true),
    (
        "awk 'BEGIN { print length(x); x[1]=1; print length(x)}'",
        "0\n",
        2,
        true,
    ),
    ("awk 'BEGIN{print x; x[1]=1; print \"ok\"}'", "\n", 2, true),
    ("awk 'BEGIN{split(\"\", a); a=1}'", "", 2, true),
    // `-N` on a missing file is false (an existing one is refused: no access times are kept).
    (
        "test -N /nonexistent; echo $?; [[ -N /nonexistent ]]; echo $?",
        "1\n1\n",
        0,
        false,
    ),
    // jq: @base64d skipped characters that are not base64 (jq: "is not valid base64 data") and a
    // lone trailing one ("trailing base64 byte found"); significand, logb and isfinite failed
    // with a division by zero (jaq-std's `infinite`).
    (
        "jq -c '@base64d' <<< '\"aGk\"'; jq '@base64d' <<< '\"a\"'; echo rc=$?; jq '@base64d' <<< '\"aGk\\n\"'; echo rc=$?",
        "\"hi\"\nrc=5\nrc=5\n",
        0,
        true,
    ),
    (
        "jq -c '[.[] | significand], [.[] | logb]' <<< '[8, 0, 1.5, -3, -0.1]'",
        "[1,0,1.5,-1.5,-1.6]\n[3,-1.7976931348623157e+308,0,1,-4]\n",
        0,
        false,
    ),
    (
        "jq -c '[.[] | isfinite]' <<< '[1, \"a\", null]'",
        "[true,false,false]\n",
        0,
        false,
    ),
    (
        "jq -c 'strptime(\"%d %b %Y\"), (\"2024-01-05\" | strptime(\"%F\") | mktime)' <<< '\"05 Mar 2024\"'",
        "[2024,2,5,0,0,0,2,64]\n1704412800\n",
        0,
        false,
    ),
];

#[test]
fn what_cannot_be_answered_is_refused() {
    // bash lists hit counts in its hash buckets' order, which is not kept here.
    Runner::empty().assert_refused(&["cat /dev/null; hash", "hash -t ls"]);
    Runner::empty().assert_refused(&["printf '%a\\n' 1"]);
    // bash's variables whose values are not kept here (they read as empty).
    Runner::empty().assert_refused(&[
        "echo $HISTCMD",
        "echo \"$BASH_EXECUTION_STRING\"",
        "echo ${DIRSTACK[@]}",
        "echo ${GROUPS[0]}",
        // bash's own readonly variables lead `readonly -p`.
        "readonly -p",
        // A character range over quoting characters failed as a bad substitution.
        "echo {a..C}",
        "echo {Z..a}",
    ]);
    // GNU stat's default form shows the device and the access, change and birth times, which the
    // overlay does not keep (it printed a shortened form); `-N` needs the access time.
    Runner::example_layer().assert_refused(&[
        "stat catalog.yml",
        "stat -L entities",
        "[ -N catalog.yml ]",
        "[[ -N catalog.yml ]]",
        "test -N catalog.yml",
        // jq fills what such a format leaves out with zeros and markers; jaq fails on it.
        "jq 'strptime(\"%H:%M\")' <<< '\"10:30\"'",
    ]);
}

#[test]
fn ls_n_prints_the_ids_stat_prints() {
    // `ls -n` printed the owner's name; its columns are the uid and gid `stat` reports.
    let out = Runner::empty().run(
        "touch /tmp/f; ls -n /tmp/f | awk '{print $3, $4}'; stat -c '%u %g' /tmp/f; ls -ln /tmp/f | awk '{print $3}'",
    );
    let text = out.stdout_str().into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout_str());
    assert_eq!(lines[0], lines[1]);
    assert_eq!(lines[2], lines[1].split(' ').next().unwrap_or(""));
}

#[test]
fn silent_classes_match_bash() {
    Runner::empty()
        .prologue("export LC_ALL=C TZ=UTC HOME=/tmp\n")
        .assert_like_bash(CASES);
}
