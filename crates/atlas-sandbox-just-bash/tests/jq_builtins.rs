//! jq 1.6's builtins that jaq lacks (written in `jq/defs.jq`), `input`/`inputs` and folds over
//! inputs of a real size (200 records: each `$x` bounded by one record, not the whole input),
//! each checked against what real jq 1.6 printed (`bash -c` with `LC_ALL=C TZ=UTC` in a copy
//! of the example layer): stdout, exit status, whether stderr is empty. Then what must stay
//! refused by name, and blow-ups that must stop at the limits without running.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use common::{Case, Runner};

fn runner() -> Runner {
    Runner::example_layer().prologue("export LC_ALL=C TZ=UTC HOME=/tmp\n")
}

/// (script, stdout, exit status, stderr is non-empty), as bash printed them.
const CASES: &[Case] = &[
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq 'reduce .[] as $r ({}; .[$r.name] = $r.amount) | length'",
        "200\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq 'reduce .[] as $x (0; . + $x.amount)'",
        "29850\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c '[.[] | select(.amount > 100)] | group_by(.id % 3) | map(length)'",
        "[44,45,44]\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c '[foreach .[] as $x (0; .+1; [$x.id, .])] | .[-1]'",
        "[199,200]\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq 'reduce .[] as $x ([]; . + [$x.id]) | length'",
        "200\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'reduce .[] as $x ({}; .[$x.tags[0]] += [$x.id]) | map_values(length)'",
        "{\"a\":200}\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq 'reduce .[] as {id:$i} (0; . + $i)'",
        "19900\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'to_entries | map(select(.value.amount > 290)) | map(.key)'",
        "[194,195,196,197,198,199]\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'reduce .[] as $r ({}; .[$r.tags[1]] += $r.amount)'",
        "{\"b\":29850}\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'INDEX(.name) | .customer_7'",
        "{\"id\":7,\"name\":\"customer_7\",\"tags\":[\"a\",\"b\"],\"amount\":10.5}\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq 'INDEX(.[]; .id) | keys | length'",
        "200\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c '[.[] | select(.id | IN(3, 5))] | map(.name)'",
        "[\"customer_3\",\"customer_5\"]\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c '[leaf_paths] | length'",
        "1000\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq 'fromstream(tostream) == .'",
        "true\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq '[tostream] | length'",
        "1401\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c '[limit(3; .[] | .name)]'",
        "[\"customer_0\",\"customer_1\",\"customer_2\"]\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'first(.[] | select(.amount > 50)) | .id'",
        "34\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'min_by(.amount).name, max_by(.amount).name'",
        "\"customer_0\"\n\"customer_199\"\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'map(.amount) | bsearch(15)'",
        "10\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c '[.[] | .name | ltrimstr(\"customer_\") | tonumber] | add'",
        "19900\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'map(select(.name | test(\"_1[0-9]$\"))) | length'",
        "10\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'group_by(.id % 7) | map({k: (.[0].id % 7), n: length})'",
        "[{\"k\":0,\"n\":29},{\"k\":1,\"n\":29},{\"k\":2,\"n\":29},{\"k\":3,\"n\":29},{\"k\":4,\"n\":28},{\"k\":5,\"n\":28},{\"k\":6,\"n\":28}]\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'walk(if type == \"number\" then . * 2 else . end) | .[3]'",
        "{\"id\":6,\"name\":\"customer_3\",\"tags\":[\"a\",\"b\"],\"amount\":9}\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'with_entries(select(.key | . < 2)) '",
        "",
        5,
        true,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'del(.[] | select(.id > 2))'",
        "[{\"id\":0,\"name\":\"customer_0\",\"tags\":[\"a\",\"b\"],\"amount\":0},{\"id\":1,\"name\":\"customer_1\",\"tags\":[\"a\",\"b\"],\"amount\":1.5},{\"id\":2,\"name\":\"customer_2\",\"tags\":[\"a\",\"b\"],\"amount\":3}]\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'reduce .[] as $x (null; .count += 1 | .total += $x.amount)'",
        "{\"count\":200,\"total\":29850}\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c '[paths(type == \"number\")] | length'",
        "400\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c 'unique_by(.id % 4) | map(.id)'",
        "[0,1,2,3]\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c '.[0:3] | map(tojson) | join(\";\")' -r",
        "{\"id\":0,\"name\":\"customer_0\",\"tags\":[\"a\",\"b\"],\"amount\":0};{\"id\":1,\"name\":\"customer_1\",\"tags\":[\"a\",\"b\"],\"amount\":1.5};{\"id\":2,\"name\":\"customer_2\",\"tags\":[\"a\",\"b\"],\"amount\":3}\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c '[.[] | .name] | combinations(1) | select(.[0] == \"customer_9\")'",
        "[\"customer_9\"]\n",
        0,
        false,
    ),
    (
        "printf '{\"n\":1}\\n{\"n\":5}\\n{\"n\":7}\\n' | jq -n 'reduce inputs as $x (0; . + $x.n)'",
        "13\n",
        0,
        false,
    ),
    ("printf '1 2 3' | jq -nc '[inputs]'", "[1,2,3]\n", 0, false),
    ("printf '1\\n2\\n3\\n' | jq -n 'input'", "1\n", 0, false),
    (
        "printf '1\\n2\\n3\\n' | jq -c '[., input]'",
        "[1,2]\n",
        5,
        true,
    ),
    (
        "printf '1\\n2\\n3\\n4\\n' | jq -c '[., input]'",
        "[1,2]\n[3,4]\n",
        0,
        false,
    ),
    ("echo 1 | jq -n 'input, input'", "1\n", 5, true),
    ("jq -n 'input' < /dev/null", "", 5, true),
    (
        "echo '1 2' | jq -n 'try (input, input, input) catch .'",
        "1\n2\n\"break\"\n",
        0,
        false,
    ),
    ("echo '1 2' | jq -nc '[inputs, 5]'", "[1,2,5]\n", 0, false),
    (
        "printf '1\\n2\\n3\\n' | jq 'input_line_number'",
        "1\n2\n3\n",
        0,
        false,
    ),
    (
        "printf '[1]\\n[2]\\n' | jq -c '[input_filename, input_line_number]'",
        "[\"<stdin>\",1]\n[\"<stdin>\",2]\n",
        0,
        false,
    ),
    ("jq -n 'input_filename'", "null\n", 0, false),
    (
        "printf '1 2 3' | jq -ns -c '[inputs]'",
        "[[1,2,3]]\n",
        0,
        false,
    ),
    (
        "printf '{\"a\":1}\\n{\"a\":2}\\n' | jq -nc '[inputs.a] | add'",
        "3\n",
        0,
        false,
    ),
    ("printf '1\\n\"a\"\\n3\\n' | jq '. + 1'", "2\n4\n", 0, true),
    ("printf '[1] [2]\\n[3]' | jq '.a'", "", 5, true),
    ("printf '{}\\n\\n[]\\n' | jq '.a'", "null\n", 5, true),
    (
        "jq -nc '$__loc__'",
        "{\"file\":\"<top-level>\",\"line\":1}\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"a\":[1,{\"b\":2}],\"c\":[]} | [tostream]'",
        "[[[\"a\",0],1],[[\"a\",1,\"b\"],2],[[\"a\",1,\"b\"]],[[\"a\",1]],[[\"c\"],[]],[[\"c\"]]]\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"a\":[1,{\"b\":2}],\"c\":[]} | fromstream(tostream)'",
        "{\"a\":[1,{\"b\":2}],\"c\":[]}\n",
        0,
        false,
    ),
    (
        "jq -nc '[1|truncate_stream([[0],1],[[1,0],2],[[1,0]],[[1]])]'",
        "[[[0],2],[[0]]]\n",
        0,
        false,
    ),
    (
        "jq -nc '[1,{\"a\":[]},[],\"x\"] | map(scalars_or_empty)'",
        "[1,[],\"x\"]\n",
        0,
        false,
    ),
    (
        "jq -nc '[1,2,3,5,8] | bsearch(5), bsearch(4), bsearch(0), bsearch(9)'",
        "3\n-4\n-1\n-6\n",
        0,
        false,
    ),
    ("jq -nc '\"a\" | bsearch(1)'", "", 5, true),
    (
        "jq -n '\"x\" | format(\"text\"), format(\"json\")'",
        "\"x\"\n\"\\\"x\\\"\"\n",
        0,
        false,
    ),
    ("jq -n '\"x\" | format(\"foo\")'", "", 5, true),
    (
        "jq -nc 'get_search_list'",
        "[\"~/.jq\",\"$ORIGIN/../lib/jq\",\"$ORIGIN/lib\"]\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"1\":\"x\"} as $i | [{\"id\":1},{\"id\":2}] | [JOIN($i; .[]; .id|tostring)]'",
        "[[{\"id\":1},\"x\"],[{\"id\":2},null]]\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"1\":\"x\"} as $i | [{\"id\":1},{\"id\":2}] | JOIN($i; .id|tostring)'",
        "[[{\"id\":1},\"x\"],[{\"id\":2},null]]\n",
        0,
        false,
    ),
    (
        "jq -nc '[{\"a\":1}|recurse_down]'",
        "[{\"a\":1},1]\n",
        0,
        false,
    ),
    ("jq -nc '2 | IN(1, 2), IN(5)'", "true\nfalse\n", 0, false),
    ("jq -nc 'IN([1,2,3][]; 5, 3)'", "true\n", 0, false),
];

const G: &str =
    "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]'";

#[test]
fn jq_builtins_match_jq_1_6() {
    runner().assert_like_bash(CASES);
}

#[test]
fn unboundable_constructs_are_refused() {
    let indexed = format!("{G} | jq 'INDEX(.[]; .id, .name)'");
    runner().assert_refused(&[
        "jq -n '[limit(1e9; repeat(1))]'",
        "jq -n '[1] | until(length > 3; . + [1])'",
        "jq -n 'modulemeta'",
        &indexed,
    ]);
}

/// Blow-ups are stopped before they run (exit 126), quickly and without building anything.
#[test]
fn blowups_stop_at_the_limits() {
    for script in [
        "jq -n '[range(1e9)]'".to_owned(),
        "jq -n 'reduce range(1e6) as $i ([]; reduce range(1e6) as $j (.; . + [$j]))'".to_owned(),
        "jq -n 'reduce range(1e6) as $i ([]; . + [$i, $i])'".to_owned(),
        format!("{G} | jq 'reduce .[] as $x (.; . + .)'"),
        format!("{G} | jq '[.[] as $a | .[] as $b | .[] as $c | [$a.id, $b.id, $c.id]] | length'"),
        "seq 1000 | jq -n 'reduce inputs as $x ([]; . + [range($x)])'".to_owned(),
    ] {
        let start = std::time::Instant::now();
        let out = runner().run(&script);
        assert_eq!(out.exit_code, 126, "{script}: {}", out.stderr_str());
        assert!(out.stderr_str().contains("not run"), "{script}");
        assert!(start.elapsed().as_secs() < 5, "{script}");
    }
}
