//! `diff` picks the same edit script as GNU diff where several minimal ones exist. Each expected
//! output was recorded from GNU diffutils 3.8 under `LC_ALL=C` (bash 5.2, the files written by
//! the same `printf`); the pairs are ones where the former matching (the `similar` crate) printed
//! other hunks, or exercise `-i`/`-b`/`-w`/`-B`. The `-u`/`-c` cases drop the two header lines (they
//! carry modification times). The example layer's cases (`config/semantic`) include the one that
//! showed the bug: `entities/customers.yml` against `metrics/customers.yml` is `1,63c1,9` /
//! `65,69c11,31` in GNU, not `1,63c1,23` / `65,69c25,31`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::path::Path;
use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};

/// (script, stdout of bash with GNU diff 3.8)
const PAIRS: &[(&str, &str)] = &[
    (
        "printf ' x y\\n x y\\na\\n x y\\nd\\nd\\nd\\n' > a; printf 'x  y\\n\\nx  y\\n x y\\n x y\\na\\nd\\nx y ' > b; diff  a b > o; s=$?; cat o; echo \"exit $s\"",
        "0a1,3\n> x  y\n> \n> x  y\n4,6d6\n<  x y\n< d\n< d\n7a8\n> x y \n\\ No newline at end of file\nexit 1\n",
    ),
    (
        "printf 'b\\nb\\nA\\nA\\nA\\nA\\nX Y\\nb\\nu272863\\nX Y\\nu163084\\n' > a; printf 'b\\nA\\nd\\nX Y\\nb\\nu272863\\nX Y\\nb\\nB\\nB\\nB\\na\\n' > b; diff -u a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -1,11 +1,12 @@\n b\n-b\n-A\n-A\n-A\n A\n+d\n X Y\n b\n u272863\n X Y\n-u163084\n+b\n+B\n+B\n+B\n+a\nexit 1\n",
    ),
    (
        "printf 'd\\nd\\nc\\nc\\nc\\nc\\nd\\nx\\ty\\nx\\ty\\nc\\ne\\nd\\n' > a; printf 'x\\ty\\nB\\nb\\nB\\nx\\ty\\nx\\ty\\nx y \\nb' > b; diff -c a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "***************\n*** 1,12 ****\n- d\n- d\n- c\n- c\n- c\n- c\n- d\n  x\ty\n  x\ty\n! c\n! e\n! d\n--- 1,8 ----\n  x\ty\n+ B\n+ b\n+ B\n  x\ty\n! x\ty\n! x y \n! b\n\\ No newline at end of file\nexit 1\n",
    ),
    (
        "printf 'u437421\\nx\\ty\\nb\\nx\\ty\\nx\\ty\\nb\\nb\\nx\\ty\\nx\\ty\\nx\\ty\\nb\\nb' > a; printf 'd\\nx\\ty\\nb\\nb\\nx\\ty\\nu63739\\nu272125\\nx\\ty\\nx\\ty\\nu437421\\nx\\ty\\nb\\nb\\nb\\n' > b; diff -U1 a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -1,5 +1,2 @@\n-u437421\n-x\ty\n-b\n-x\ty\n+d\n x\ty\n@@ -8,5 +5,10 @@\n x\ty\n+u63739\n+u272125\n x\ty\n x\ty\n+u437421\n+x\ty\n+b\n+b\n b\n-b\n\\ No newline at end of file\nexit 1\n",
    ),
    (
        "printf 'u113954\\n x y\\nA\\n' > a; printf 'x y \\nx y \\nd\\nx y \\nx y \\nx y \\nA\\nA\\nA\\nx y \\n' > b; diff -C0 a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "***************\n*** 1,2 ****\n! u113954\n!  x y\n--- 1,6 ----\n! x y \n! x y \n! d\n! x y \n! x y \n! x y \n***************\n*** 3 ****\n--- 8,10 ----\n+ A\n+ A\n+ x y \nexit 1\n",
    ),
    (
        "printf 'c\\n\\nf\\nA\\nf\\nc\\n' > a; printf '\\nx y\\nX Y\\nX Y\\nx y\\nc\\nA\\nc\\nf\\nc\\nc\\n' > b; diff -U0 a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -1 +0,0 @@\n-c\n@@ -3 +2,5 @@\n-f\n+x y\n+X Y\n+X Y\n+x y\n+c\n@@ -4,0 +8 @@\n+c\n@@ -5,0 +10 @@\n+c\nexit 1\n",
    ),
    (
        "printf 'X Y\\nf\\nB\\nB\\nd\\nX Y\\nf\\nd\\n' > a; printf 'X Y\\nf\\nB\\nd\\n x y\\nB\\nA\\nd\\n' > b; diff -w a b > o; s=$?; cat o; echo \"exit $s\"",
        "4d3\n< B\n6,7c5,7\n< X Y\n< f\n---\n>  x y\n> B\n> A\nexit 1\n",
    ),
    (
        "printf '\\nb\\nb\\n\\n\\nx y \\nb\\nc\\nx y \\nc\\nb\\n' > a; printf '\\nc\\nu822059\\nx y\\nx y\\nx y\\nx y\\nu703588\\nx y \\nb\\nx y \\nb\\n\\n\\nb\\nc\\n' > b; diff -b -u a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -1,11 +1,16 @@\n \n+c\n+u822059\n+x y\n+x y\n+x y\n+x y\n+u703588\n+x y \n b\n+x y \n b\n \n \n-x y \n b\n c\n-x y \n-c\n-b\nexit 1\n",
    ),
    (
        "printf 'a\\na\\na\\nf\\na\\na\\na\\nf\\n' > a; printf ' x y\\nf\\nu32643\\n x y\\nx y\\ne\\nx y \\ne\\nf\\na\\n' > b; diff -i a b > o; s=$?; cat o; echo \"exit $s\"",
        "1,3c1\n< a\n< a\n< a\n---\n>  x y\n5,7c3,8\n< a\n< a\n< a\n---\n> u32643\n>  x y\n> x y\n> e\n> x y \n> e\n8a10\n> a\nexit 1\n",
    ),
    (
        "printf 'x  y\\nx  y\\ne\\nx  y\\nx\\ty\\ne\\nx\\ty' > a; printf 'x y\\nx y\\nx y\\nX Y\\nB\\nx y\\nB\\n' > b; diff -B a b > o; s=$?; cat o; echo \"exit $s\"",
        "1,7c1,7\n< x  y\n< x  y\n< e\n< x  y\n< x\ty\n< e\n< x\ty\n\\ No newline at end of file\n---\n> x y\n> x y\n> x y\n> X Y\n> B\n> x y\n> B\nexit 1\n",
    ),
    (
        "printf '\\nA\\nA\\n\\nA\\nA\\nA\\n\\nu934866\\nA\\nu814499\\n\\n' > a; printf '\\nA\\n\\nx y \\nA\\nA\\nd\\nx y \\nx y \\nA\\n' > b; diff -B -u a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -1,12 +1,10 @@\n \n A\n-A\n \n+x y \n A\n A\n+d\n+x y \n+x y \n A\n-\n-u934866\n-A\n-u814499\n-\nexit 1\n",
    ),
    (
        "printf 'b\\nx  y\\nb\\nx  y\\nb\\n' > a; printf 'u422628\\n\\nx y\\nd\\nx y\\n\\nA\\nx y\\n' > b; diff -B -w -c a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "***************\n*** 1,5 ****\n! b\n  x  y\n! b\n  x  y\n- b\n--- 1,8 ----\n! u422628\n! \n  x y\n! d\n! x y\n! \n! A\n  x y\nexit 1\n",
    ),
    (
        "printf 'f\\nx y\\nf\\nf\\n' > a; printf 'x y\\nx y\\nx\\ty\\ne\\nc\\nx y\\n\\nx y\\n\\n\\nf\\n' > b; diff  a b > o; s=$?; cat o; echo \"exit $s\"",
        "1d0\n< f\n3c2,10\n< f\n---\n> x y\n> x\ty\n> e\n> c\n> x y\n> \n> x y\n> \n> \nexit 1\n",
    ),
    (
        "printf 'd\\nx  y\\nx  y\\nd\\n\\n\\nd\\nd\\nd\\nd\\n\\nd\\n' > a; printf 'd\\nx  y\\nd\\n\\nd\\nd\\n\\nd\\n\\nd\\n\\n' > b; diff -u a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -1,12 +1,11 @@\n d\n x  y\n-x  y\n d\n \n-\n-d\n d\n d\n+\n d\n \n d\n+\nexit 1\n",
    ),
    (
        "printf 'b\\nd\\nd\\ne\\nd\\nd\\nd\\nd\\nd\\nd\\ne\\ne\\nb\\n' > a; printf 'd\\nd\\nd\\nb\\nd\\nd\\ne\\nd\\nd\\nd\\ne\\nx y\\nb\\n' > b; diff -c a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "***************\n*** 1,13 ****\n- b\n  d\n  d\n- e\n  d\n  d\n  d\n  d\n  d\n  d\n  e\n! e\n  b\n--- 1,13 ----\n  d\n  d\n  d\n+ b\n  d\n  d\n+ e\n  d\n  d\n  d\n  e\n! x y\n  b\nexit 1\n",
    ),
    (
        "printf 'X Y\\nb\\nx y\\nx y\\nX Y\\nX Y\\nx y\\n' > a; printf 'x y\\nx y\\n x y\\n x y\\nb\\n' > b; diff -U1 a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -1,7 +1,5 @@\n-X Y\n-b\n-x y\n x y\n-X Y\n-X Y\n x y\n+ x y\n+ x y\n+b\nexit 1\n",
    ),
    (
        "printf 'b\\nb\\nx y \\nb\\nb\\nx y \\nu876242\\nx y \\nb\\nx y \\nb\\nu377067\\n' > a; printf 'b\\nx y \\nu876242\\nx y\\nx y \\nb\\nb\\nx y \\nb\\nx y \\nb\\nu377067\\n' > b; diff -C0 a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "***************\n*** 2 ****\n! b\n--- 2,4 ----\n! x y \n! u876242\n! x y\n***************\n*** 6,7 ****\n- x y \n- u876242\n--- 7 ----\nexit 1\n",
    ),
    (
        "printf 'a\\na\\nx  y\\na\\na\\n' > a; printf 'A\\na\\na\\na\\nf\\na\\nx y\\nx  y\\na\\na\\n x y\\nx  y\\na\\nu832744\\na\\n' > b; diff -U0 a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -0,0 +1 @@\n+A\n@@ -2,0 +4,8 @@\n+a\n+f\n+a\n+x y\n+x  y\n+a\n+a\n+ x y\n@@ -4,0 +14 @@\n+u832744\nexit 1\n",
    ),
    (
        "printf 'b\\nb\\nx y\\nx y\\nb\\ne\\nu858088\\nx y\\nb\\nb\\nx y\\nu167606\\nx y\\n' > a; printf 'f\\nc\\ne\\ne\\ne\\nf\\nf\\nc\\n' > b; diff -w a b > o; s=$?; cat o; echo \"exit $s\"",
        "1,5c1,2\n< b\n< b\n< x y\n< x y\n< b\n---\n> f\n> c\n7,13c4,8\n< u858088\n< x y\n< b\n< b\n< x y\n< u167606\n< x y\n---\n> e\n> e\n> f\n> f\n> c\nexit 1\n",
    ),
    (
        "printf 'x y\\nc\\nx y\\n' > a; printf 'd\\na\\nB\\nb\\n' > b; diff -b -u a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -1,3 +1,4 @@\n-x y\n-c\n-x y\n+d\n+a\n+B\n+b\nexit 1\n",
    ),
    (
        "printf 'c\\nu799751\\nc\\nu170741\\nu420680\\na\\na\\nd\\na\\na\\n' > a; printf 'x y\\nu799751\\nc\\nu170741\\nu420680\\na\\na\\nd\\na\\nx y \\n' > b; diff -i a b > o; s=$?; cat o; echo \"exit $s\"",
        "1c1\n< c\n---\n> x y\n10c10\n< a\n---\n> x y \nexit 1\n",
    ),
    (
        "printf 'A\\nA\\nA\\nx y\\nf\\nf\\nA\\nf\\n' > a; printf 'A\\nA\\nA\\nx y\\nf\\n' > b; diff -B a b > o; s=$?; cat o; echo \"exit $s\"",
        "6,8d5\n< f\n< A\n< f\nexit 1\n",
    ),
    (
        "printf 'a\\ne\\nu335017\\ne\\nu149976\\na\\nx  y\\nx  y\\ne\\na\\nx  y\\nx  y\\ne' > a; printf 'x y\\nx y \\nx y\\nB\\nx y\\n' > b; diff -B -u a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -1,13 +1,5 @@\n-a\n-e\n-u335017\n-e\n-u149976\n-a\n-x  y\n-x  y\n-e\n-a\n-x  y\n-x  y\n-e\n\\ No newline at end of file\n+x y\n+x y \n+x y\n+B\n+x y\nexit 1\n",
    ),
    (
        "printf 'x y \\nx y \\na\\nX Y\\nf\\nf\\n' > a; printf 'a\\nf\\nx  y\\nx y \\na\\nB\\nf\\n' > b; diff -B -w -c a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "***************\n*** 1,6 ****\n  x y \n  x y \n  a\n! X Y\n! f\n  f\n--- 1,7 ----\n+ a\n+ f\n  x  y\n  x y \n  a\n! B\n  f\nexit 1\n",
    ),
    (
        "printf 'u54703\\nx y\\nf\\nx  y\\nx  y\\nx  y\\n' > a; printf 'x  y\\n\\n' > b; diff  a b > o; s=$?; cat o; echo \"exit $s\"",
        "1,5d0\n< u54703\n< x y\n< f\n< x  y\n< x  y\n6a2\n> \nexit 1\n",
    ),
    (
        "printf 'B\\nx y\\nB\\nf\\nx y\\nx y\\nx y\\nf\\n' > a; printf 'B\\nx\\ty\\nB\\nf\\nx y\\n' > b; diff -u a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -1,8 +1,5 @@\n B\n-x y\n+x\ty\n B\n f\n x y\n-x y\n-x y\n-f\nexit 1\n",
    ),
    (
        "printf 'x  y\\nB\\n\\nu436347\\n\\n\\n\\nd\\n\\nu611299\\n' > a; printf 'u436347\\n\\n\\n\\nx  y\\nA\\n\\nd\\n\\nu611299\\n' > b; diff -c a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "***************\n*** 1,10 ****\n- x  y\n- B\n- \n  u436347\n  \n  \n  \n  d\n  \n  u611299\n--- 1,10 ----\n  u436347\n  \n  \n  \n+ x  y\n+ A\n+ \n  d\n  \n  u611299\nexit 1\n",
    ),
    (
        "printf 'x y\\nx y\\nu258920\\nf\\nf\\nu303452\\nx\\ty\\nx\\ty\\nu155465\\nx\\ty\\n' > a; printf 'u303452\\nx y\\nf\\nf\\nd\\nx\\ty\\n' > b; diff -U1 a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -1,10 +1,6 @@\n+u303452\n x y\n-x y\n-u258920\n f\n f\n-u303452\n-x\ty\n-x\ty\n-u155465\n+d\n x\ty\nexit 1\n",
    ),
    (
        "printf 'x  y\\nB\\nx\\ty\\nx  y\\nx\\ty\\nx  y\\nc\\n' > a; printf 'x  y\\ne\\nu29281\\ne\\nx  y\\na\\n x y\\na\\n' > b; diff -C0 a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "***************\n*** 2,3 ****\n! B\n! x\ty\n--- 2,4 ----\n! e\n! u29281\n! e\n***************\n*** 5,7 ****\n! x\ty\n! x  y\n! c\n--- 6,8 ----\n! a\n!  x y\n! a\nexit 1\n",
    ),
    (
        "printf 'f\\nc\\nc\\nf\\nc\\nx  y\\nf\\nf\\nc\\nc\\nx  y\\nx  y\\nx  y\\n' > a; printf 'd\\nd\\n\\nf\\nd\\nu659299\\nf\\nd\\n\\nf\\n\\nd\\n' > b; diff -U0 a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -0,0 +1,3 @@\n+d\n+d\n+\n@@ -2,2 +5,2 @@\n-c\n-c\n+d\n+u659299\n@@ -5,2 +8,2 @@\n-c\n-x  y\n+d\n+\n@@ -8,6 +11,2 @@\n-f\n-c\n-c\n-x  y\n-x  y\n-x  y\n+\n+d\nexit 1\n",
    ),
    (
        "printf 'x y \\nx y \\nA\\nx y \\nu750804\\nA\\nA\\nA\\nA\\n' > a; printf 'A\\nb\\nf\\nb\\nA\\nB\\na\\na\\nA\\nA\\n' > b; diff -w a b > o; s=$?; cat o; echo \"exit $s\"",
        "1,5d0\n< x y \n< x y \n< A\n< x y \n< u750804\n6a2,4\n> b\n> f\n> b\n7a6,8\n> B\n> a\n> a\nexit 1\n",
    ),
    (
        "printf 'a\\nd\\n x y\\na\\n x y\\na\\nu638028\\na\\nf\\n' > a; printf ' x y\\n x y\\ne\\nb\\ne\\nb\\nx y\\ne\\n x y\\nb\\ne\\n x y\\ne\\n' > b; diff -b -u a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -1,9 +1,13 @@\n-a\n-d\n  x y\n-a\n  x y\n-a\n-u638028\n-a\n-f\n+e\n+b\n+e\n+b\n+x y\n+e\n+ x y\n+b\n+e\n+ x y\n+e\nexit 1\n",
    ),
    (
        "printf '\\n\\nx y\\n' > a; printf '\\n\\n' > b; diff -i a b > o; s=$?; cat o; echo \"exit $s\"",
        "3d2\n< x y\nexit 1\n",
    ),
    (
        "printf 'x  y\\nx  y\\nu436984\\nb\\nb\\nx  y\\nx  y\\nx  y\\nx  y\\nb\\nb\\nb\\nx  y\\n' > a; printf 'x  y\\nb\\nx  y\\nx  y\\nx  y\\n x y\\nx  y\\nx  y\\ne\\nb\\nb\\nx  y\\n' > b; diff -B a b > o; s=$?; cat o; echo \"exit $s\"",
        "2,4d1\n< x  y\n< u436984\n< b\n8a6\n>  x y\n10c8,9\n< b\n---\n> x  y\n> e\nexit 1\n",
    ),
    (
        "printf 'B\\nx  y\\nx  y\\nB\\nx  y\\nx  y\\nB\\n' > a; printf 'B\\nx  y\\nx  y\\nB\\nx  y\\n x y\\nB\\n' > b; diff -B -u a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "@@ -3,5 +3,5 @@\n x  y\n B\n x  y\n-x  y\n+ x y\n B\nexit 1\n",
    ),
    (
        "printf 'u669818\\nx\\ty\\n\\n\\n x y\\n\\nx\\ty\\n' > a; printf 'x y \\n\\nx\\ty\\n' > b; diff -B -w -c a b > o; s=$?; tail -n +3 o; echo \"exit $s\"",
        "***************\n*** 1,7 ****\n- u669818\n- x\ty\n- \n- \n   x y\n  \n  x\ty\n--- 1,3 ----\nexit 1\n",
    ),
];

/// (script run in the example layer, stdout of bash with GNU diff 3.8)
const LAYER: &[(&str, &str)] = &[
    (
        "diff entities/customers.yml metrics/customers.yml | grep -E '^[0-9]'; echo \"exit ${PIPESTATUS[0]}\"",
        "1,63c1,9\n65,69c11,31\nexit 1\n",
    ),
    (
        "diff entities/customers.yml metrics/customers.yml | md5sum; echo \"exit ${PIPESTATUS[0]}\"",
        "86559765b92c333cc65cd7a1881c5170  -\nexit 1\n",
    ),
    (
        "diff -u entities/customers.yml metrics/customers.yml | tail -n +3 | md5sum; echo \"exit ${PIPESTATUS[0]}\"",
        "98649f0d2e2f8d0aa99742ebc3857f70  -\nexit 1\n",
    ),
    (
        "diff -c entities/customers.yml metrics/customers.yml | tail -n +3 | md5sum; echo \"exit ${PIPESTATUS[0]}\"",
        "9a5e3c09ebb039582fc3d544eef05898  -\nexit 1\n",
    ),
    (
        "diff -U1 entities/orders.yml metrics/orders.yml | grep '^@@'; echo \"exit ${PIPESTATUS[0]}\"",
        "@@ -1,100 +1,40 @@\nexit 1\n",
    ),
    (
        "diff -r entities metrics | grep -v '^[<>]' | md5sum; echo \"exit ${PIPESTATUS[0]}\"",
        "972aee98fb2dc3b3af42c740129c3092  -\nexit 1\n",
    ),
];

fn check(root: Option<&Path>, cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (script, want) in cases {
        let engine = Engine::new(root, &JustBashConfig::default()).unwrap();
        let out = engine
            .exec_script(script, "", Duration::from_secs(10), 1 << 20)
            .unwrap();
        if out.stdout_str() != *want {
            failures.push(format!(
                "{script}\n  got  {:?}\n  want {want:?}\n  stderr {:?}",
                out.stdout_str(),
                out.stderr_str()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn small_pairs_match_gnu_diff() {
    check(None, PAIRS);
}

#[test]
fn example_layer_pairs_match_gnu_diff() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/semantic");
    check(Some(&root), LAYER);
}
