//! awk's user-defined functions and the gawk extensions models use (`gensub`, `asort`,
//! `asorti`, `split`'s separators, `ENVIRON`, `CONVFMT`, regex `RS`, paragraph mode with any
//! FS, `RT`), each run over the example layer and checked against what real bash 5.2 with
//! gawk 5.2.1 printed for it (`LC_ALL=C TZ=UTC HOME=/tmp`, a fresh copy of the layer): stdout,
//! exit status, and whether stderr is empty. Then what stays refused, and hostile programs
//! that must end quickly with a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use std::time::{Duration, Instant};

use common::{Case, Runner};

/// (script, stdout, exit status, stderr is non-empty), as bash printed them.
const CASES: &[Case] = &[
    (
        "awk 'function fib(n){return n<2?n:fib(n-1)+fib(n-2)} BEGIN{print fib(20)}'",
        "6765\n",
        0,
        false,
    ),
    (
        "awk 'function fact(n){ if (n<=1) return 1; return n*fact(n-1)} BEGIN{print fact(10), fact(20)}'",
        "3628800 2432902008176640000\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print f(1)} function f(a,  l){l[1]=a; return l[1]*2}'",
        "2\n",
        0,
        false,
    ),
    (
        "awk 'func g(a){return a*2} BEGIN{print g(3)}'",
        "6\n",
        0,
        false,
    ),
    (
        "awk 'function f(x){x=x+1; return x} BEGIN{y=5; print f(y), y}'",
        "6 5\n",
        0,
        false,
    ),
    (
        "awk 'function f(a){a[1]=5} BEGIN{f(x); print x[1]}'",
        "5\n",
        0,
        false,
    ),
    (
        "awk 'function r(a, n){if(n==0) return; a[n]=n*n; r(a, n-1)} BEGIN{r(sq, 4); for(k in sq) s = s k \"=\" sq[k] \" \"; print s}'",
        "1=1 2=4 3=9 4=16 \n",
        0,
        false,
    ),
    (
        "awk 'function f(a, l){l[1]=a; if (a>0) f(a-1); return l[1]} BEGIN{print f(3)}'",
        "3\n",
        0,
        false,
    ),
    (
        "awk 'function f(a){delete a; a[\"x\"]=1} BEGIN{b[1]=1; f(b); for(k in b) print k}'",
        "x\n",
        0,
        false,
    ),
    (
        "awk 'function f(a){return length(a)} BEGIN{b[1]=1;b[2]=2; print f(b)}'",
        "2\n",
        0,
        false,
    ),
    (
        "awk 'function f(a, s){return split(s, a, \",\")} BEGIN{n=f(arr, \"a,b,c\"); print n, arr[3]}'",
        "3 c\n",
        0,
        false,
    ),
    (
        "awk 'function f(a){return} BEGIN{x=f(1); print x+0, \"[\" x \"]\"}'",
        "0 []\n",
        0,
        false,
    ),
    (
        "awk 'function trim(s){gsub(/^[ \\t]+|[ \\t]+$/, \"\", s); return s} /name:/{split($0, p, \":\"); print trim(p[2])}' entities/*.yml | sort | head -5",
        "acquisition_channel\nactive_members\nattempted_at\navailable_units\naverage_list_price\n",
        0,
        false,
    ),
    (
        "awk 'function max(a,b){return a>b?a:b} {m=max(m, length($0))} END{print m}' catalog.yml",
        "101\n",
        0,
        false,
    ),
    (
        "awk 'function f(){next} {f(); print \"no\"} END{print NR}' catalog.yml",
        "135\n",
        0,
        false,
    ),
    (
        "awk 'function f(a){exit 3} BEGIN{f(1); print \"no\"}'",
        "",
        3,
        false,
    ),
    ("awk 'BEGIN{f(1)}'", "", 2, true),
    (
        "awk 'function f(a){return a} function f(b){return b} BEGIN{print f(1)}'",
        "",
        1,
        true,
    ),
    ("awk 'BEGIN{return 1}'", "", 1, true),
    (
        "awk 'function f(NR){return 1} BEGIN{print f(1)}'",
        "",
        1,
        true,
    ),
    (
        "awk 'function f(f){return 1} BEGIN{print f(1)}'",
        "",
        1,
        true,
    ),
    (
        "awk 'function f(a,a){return 1} BEGIN{print f(1)}'",
        "",
        1,
        true,
    ),
    (
        "awk 'function f(a){return a} BEGIN{print f (1)}'",
        "",
        1,
        true,
    ),
    ("awk 'function length(a){return 1} BEGIN{}'", "", 1, true),
    (
        "awk 'function f(a){return a} BEGIN{print f(1,2)}'",
        "1\n",
        0,
        true,
    ),
    (
        "awk 'function f(a){return a+1} BEGIN{x[1]; print f(x)}'",
        "",
        2,
        true,
    ),
    (
        "awk 'function f(a){a=1} BEGIN{f(x); x[1]=2; print x[1]}'",
        "",
        2,
        true,
    ),
    ("awk 'function f(a){print a[1]} BEGIN{f(1)}'", "", 2, true),
    (
        "awk 'BEGIN{print gensub(/(a)(b)?/, \"<\\\\1|\\\\2|\\\\0|&|\\\\&|\\\\\\\\>\", \"g\", \"xaby a\")}'",
        "x<a|b|ab|ab|&|\\>y <a||a|a|&|\\>\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{s=\"abcabc\"; print gensub(/b/, \"X\", 2, s), gensub(/b/,\"X\",\"G\",s), gensub(/b/,\"X\",5,s), s}'",
        "abcaXc aXcaXc abcabc abcabc\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print gensub(/b/,\"X\",0,\"abc\")}'",
        "aXc\n",
        0,
        true,
    ),
    (
        "echo \"foo bar\" | awk '{print gensub(/o/, \"0\", \"g\"); print}'",
        "f00 bar\nfoo bar\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print gensub(/x*/, \"-\", \"g\", \"abc\"), gensub(/b*/, \"-\", \"g\", \"abc\")}'",
        "-a-b-c- -a-c-\n",
        0,
        false,
    ),
    (
        "awk '/name:/{print gensub(/.*name: *\"?([^\"]*)\"?/, \"\\\\1\", 1)}' entities/*.yml | sort | head -3",
        "acquisition_channel\nactive_members\nattempted_at\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{a[1]=10;a[2]=9;a[3]=\"abc\";a[4]=\"10x\";a[5]=\"\";a[6]=\"Abc\"; a[7]=-1; n=asort(a); for(i=1;i<=n;i++) printf \"[%s]\", a[i]; print \"\"}'",
        "[-1][9][10][][10x][Abc][abc]\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{split(\"10 9 abc 10x -1 2.5\", b, \" \"); n=asort(b,c); for(i=1;i<=n;i++) printf \"[%s]\", c[i]; print \"\", length(b)}'",
        "[-1][2.5][9][10][10x][abc] 6\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{a[1];a[2];a[10];a[\"b\"];a[\"B\"];a[-1]; n=asorti(a, d); for(i=1;i<=n;i++) printf \"[%s]\", d[i]; print \"\", length(a)}'",
        "[-1][1][10][2][B][b] 6\n",
        0,
        false,
    ),
    (
        "awk -F': ' '/^ *- name:/{names[$2]=1} END{n=asorti(names, s); for(i=1;i<=n;i++) print s[i]}' entities/*.yml | head -5",
        "acquisition_channel\nactive_members\nattempted_at\navailable_units\naverage_list_price\n",
        0,
        false,
    ),
    ("awk 'BEGIN{x=1; print asort(x)}'", "", 2, true),
    (
        "awk 'BEGIN{n=split(\"  a b\\tc  \", p, \" \", s); printf \"%d\", n; for(i=0;i<=n;i++) printf \" %d<%s>\", i, s[i]; print \"\"}'",
        "3 0<  > 1< > 2<\t> 3<  >\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{n=split(\"a12b345c\", p, /[0-9]+/, s); print n, s[1], s[2], length(s)}'",
        "3 12 345 2\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{CONVFMT=\"%.2f\"; x=3.14159; a[x]=1; for(k in a) print k; print x, x \"\"; CONVFMT=\"%d\"; print 2.7 \"\"}'",
        "3.14\n3.14159 3.14\n2\n",
        0,
        false,
    ),
    (
        "awk -v CONVFMT=%.1f 'BEGIN{print 1.26 \"\", 17 \"\"}'",
        "1.3 17\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print CONVFMT, 0.1 + 0.2 \"\"}'",
        "%.6g 0.3\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print ENVIRON[\"HOME\"], ENVIRON[\"NOPE\"] \"x\", ENVIRON[\"_\"]}'",
        "/tmp x /usr/bin/awk\n",
        0,
        false,
    ),
    (
        "FOO=bar awk 'BEGIN{print ENVIRON[\"FOO\"]}'",
        "bar\n",
        0,
        false,
    ),
    (
        "Q=1; awk 'BEGIN{print \"[\" ENVIRON[\"Q\"] \"]\", (\"Q\" in ENVIRON)}'",
        "[] 1\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{RS=\"- name: \"} NR>1{print NR\": \"$1}' entities/*.yml | head -5",
        "2: cart_id\n3: customer_id\n4: created_at\n5: converted_order_id\n6: cart_count\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{RS=\"\"; FS=\": \"} {print NF, $1}' metrics/*.yml | head -5",
        "11 metrics:\n- id\n21 metrics:\n- id\n21 metrics:\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{RS=\"\";FS=\":\"}{printf \"%d\", NF; for(i=1;i<=NF;i++) printf \"[%s]\", $i; print \"\"}' <<< $'a:b\\nc:d\\n\\n\\ne f\\ng'",
        "4[a][b][c][d]\n2[e f][g]\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{RS=\"\";FS=\"[:]+\"}{print NF}' <<< $'a:b\\nc:d\\n\\n\\ne f\\ng'",
        "3\n1\n",
        0,
        false,
    ),
    (
        "printf 'x-- y--z\\n--' | awk 'BEGIN{RS=\"-+\"}{printf \"<%s|%s>\\n\", $0, RT}'",
        "<x|-->\n< y|-->\n<z\n|-->\n",
        0,
        false,
    ),
    (
        "printf 'a\\nb' | awk '{printf \"<%s|%s>\\n\", $0, RT}'",
        "<a|\n>\n<b|>\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{RS=\"name: \"; while ((getline line < \"catalog.yml\") > 0) n++; print n}'",
        "21\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{RS=\"[^a-z]+\"} END{print NR, $0}' catalog.yml",
        "556 yml\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN { CONVFMT = \"%.2f\"; x = 3.14159; print (x \"\") }'",
        "3.14\n",
        0,
        false,
    ),
    (
        "printf 'a;b\\nc;d\\n' | awk 'NR==1{RS=\";\"} {print NR\": \"$0}'",
        "1: a;b\n2: c\n3: d\n\n",
        0,
        false,
    ),
    (
        "printf 'a b\\n\\nc d\\n' | awk 'NR==1{RS=\"\"} {print NR\": \"$0}'",
        "1: a b\n2: c d\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print split(\"a b c\", x, \" \", x)}'",
        "",
        2,
        true,
    ),
    (
        "awk 'BEGIN{CONVFMT=\"%.2f\"; printf \"%s|%d|%s\\n\", 3.14159, 3.7, 17}'",
        "3.14|3|17\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{CONVFMT=\"%.2f\"; x = 3.14159; print (x == \"3.14\"), length(x), index(x, \"4\")}'",
        "1 4 4\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{CONVFMT=\"%.2f\"; OFMT=\"%.1f\"; x = 3.14159; print x, x \"\"; $0 = \"a b\"; $2 = x; print}'",
        "3.1 3.14\na 3.14\n",
        0,
        false,
    ),
    (
        "awk 'function f(a){return length(a)} BEGIN{print f(x); x[1]=1; print length(x)}'",
        "0\n",
        2,
        true,
    ),
    (
        "awk 'function f(  arr){ arr[\"a\"]=1; return g(arr) } function g(b){ return length(b) } BEGIN{print f(), f()}'",
        "1 1\n",
        0,
        false,
    ),
    (
        "awk 'function f(a) { a[1]=1 } BEGIN { f(NF) }'",
        "",
        2,
        true,
    ),
    (
        "awk 'function g(b){b[\"z\"]=9} function f(a){g(a); return length(a)} BEGIN{print f(arr), arr[\"z\"]}'",
        "1 9\n",
        0,
        false,
    ),
    (
        "awk 'function f(a){a[\"x\"]=1; delete a; return length(a)} BEGIN{print f(z), length(z)}'",
        "0 0\n",
        0,
        false,
    ),
    (
        "awk 'function f(i){for(i=0;i<3;i++) ; return i} BEGIN{i=10; print f(), i}'",
        "3 10\n",
        0,
        false,
    ),
    (
        "awk 'function f(a){ a = 1; return a } BEGIN{ print f(y); y[1] = 1 }'",
        "1\n",
        2,
        true,
    ),
    (
        "awk 'function f(a) { getline a; return a } { print f() }' <<< $'1\\n2\\n3\\n4'",
        "2\n4\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print gensub(/(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)/, \"\\\\10\", 1, \"abcdefghij\")}'",
        "a0\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print gensub(/a/, \"b\", \"global\", \"aaa\"), gensub(/a/, \"b\", \"2\", \"aaa\"), gensub(/a/, \"b\", 1.7, \"aaa\")}'",
        "bbb aba baa\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{a[3]; a[1]; a[2]; n = asorti(a); print n, a[1], a[2], a[3]}'",
        "3 1 2 3\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{RS=\"\\n\\n+\"} {print NR\": \"$0\"|\"RT\"|\"}' <<< $'a\\n\\n\\nb\\nc\\n\\n'",
        "1: a|\n\n\n|\n2: b\nc|\n\n\n|\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{RS=\"\"} {print NR\": \"$0\"|\"RT\"|\"}' <<< $'\\n\\n\\na\\nb\\n\\n\\nc'",
        "1: a\nb|\n\n\n|\n2: c|\n|\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{RS=\"\"; FS=\"\\t\"} {print NF}' <<< $'a\\tb\\nc'",
        "3\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{RS=\"\"; FS=\"\\\\|\"} {print NF}' <<< $'a|b\\nc'",
        "2\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{RS=\"x\"} {getline line; print $0 \"-\" line \"-\" RT}' <<< 'aaxbbxccxdd'",
        "aa-bb-x\ncc-dd\n-\n",
        0,
        false,
    ),
    (
        "awk 'function f(a,) {return 1} BEGIN{print f(1)}'",
        "",
        1,
        true,
    ),
    ("awk 'BEGIN{next}'", "", 1, true),
    ("awk 'BEGIN{break}'", "", 1, true),
    ("awk '{continue}' catalog.yml", "", 1, true),
    ("awk 'function f(){next} END{f()}' catalog.yml", "", 2, true),
    (
        "awk 'function f(){while(1) break; return 1} BEGIN{print f()}'",
        "1\n",
        0,
        false,
    ),
    (
        "awk 'function f(a) {return a} {x = f($1); print (x == 3)}' <<< '3.0'",
        "1\n",
        0,
        false,
    ),
    (
        "awk 'function f(a, b) {b = 3; return a} BEGIN{x = f(1, y); y[1] = 2; print x, y[1]}'",
        "",
        2,
        true,
    ),
    (
        "awk 'BEGIN{for(i=0;i<100000;i++) printf \"rec%d--\", i}' | awk 'BEGIN{RS=\"-+\"} {n += length($0)} END{print NR, n, $0}'",
        "100000 788890 rec99999\n",
        0,
        false,
    ),
];

/// Refused with exit 2 and "not supported": gawk's answer depends on its read buffer (an
/// anchored or empty-matching `RS`), it crashes (`CONVFMT = "%s"`), or the feature is missing.
const REFUSED: &[&str] = &[
    "printf 'aXbXX' | awk 'BEGIN{RS=\"X*\"}{print}'",
    "printf 'abc' | awk 'BEGIN{RS=\"^a\"}{print}'",
    "awk 'BEGIN{CONVFMT=\"%s\"; print 0.5 \"\"}'",
    "awk 'BEGIN{a[1]=2; print asort(a, a, \"@val_num_desc\")}'",
    "awk 'BEGIN{print strftime(\"%Y\")}'",
    "awk 'BEGIN{print and(6, 3)}'",
    "awk 'BEGIN{print ARGV[0]}'",
    "echo 'ab cd' | awk 'BEGIN{RS=\"\\\\y\"}{print}'",
];

fn runner() -> Runner {
    Runner::example_layer().prologue("export LC_ALL=C TZ=UTC HOME=/tmp\n")
}

#[test]
fn awk_functions_and_gawk_builtins_match_gawk() {
    runner().assert_like_bash(CASES);
}

#[test]
fn what_awk_lacks_is_refused() {
    runner().assert_refused(REFUSED);
}

/// `ENVIRON` is the shell's exported environment, never the host process's.
#[test]
fn environ_is_the_shells_exports() {
    let out = runner().run(
        "LOCAL=1; export MINE=1; awk 'BEGIN{print ENVIRON[\"PATH\"] == \"'\"$PATH\"'\", ENVIRON[\"MINE\"], (\"CARGO\" in ENVIRON), (\"LOCAL\" in ENVIRON)}'",
    );
    assert_eq!(out.stdout_str(), "1 1 0 0\n", "{out:?}");
}

/// Programs gawk runs until it is killed (or out of memory) end here with an error, fast.
#[test]
fn hostile_awk_programs_end_with_a_clear_error() {
    for (script, says) in [
        (
            "awk 'function f(n){return f(n+1)} BEGIN{f(1)}'",
            "nested calls",
        ),
        (
            "awk 'function f(n){return g(n)} function g(n){return f(n)+1} BEGIN{f(1)}'",
            "nested calls",
        ),
        (
            "awk 'function f(n){return n <= 0 ? 1 : f(n-1)+f(n-1)} BEGIN{print f(40)}'",
            "too many steps",
        ),
        (
            "awk 'function f(a,n){a[n]=1; f(a,n+1)} BEGIN{f(x,1)}'",
            "nested calls",
        ),
        (
            "awk 'BEGIN{s=\"x\"; for(i=0;i<26;i++) s = s s; print length(gensub(/x/, \"yyyy\", \"g\", s))}'",
            "",
        ),
        (
            "awk 'BEGIN{s=\"ab\"; for(i=0;i<20;i++) s = s s; t = gensub(/./, \"&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&\", \"g\", s); print length(t)}'",
            "",
        ),
        (
            "awk 'BEGIN{for(i=0;i<100000000;i++) a[i]=i; print asort(a)}'",
            "",
        ),
    ] {
        let start = Instant::now();
        let out = runner().run(script);
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{script}: took {:?}",
            start.elapsed()
        );
        assert_ne!(out.exit_code, 0, "{script}: {out:?}");
        assert!(out.stderr_str().contains(says), "{script}: {out:?}");
        assert!(!out.stderr_str().is_empty(), "{script}: {out:?}");
    }
}
