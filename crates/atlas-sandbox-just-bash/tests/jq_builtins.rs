//! jq 1.6's builtins that jaq lacks or answers differently (`jq/defs.jq`, `jq/math.rs`), the
//! common builtins on ordinary values, `input`/`inputs` and folds over
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
    (
        "jq -nc '[last(empty)], [nth(5; empty)], [first(empty)], [limit(2; empty)]'",
        "[null]\n[null]\n[]\n[]\n",
        0,
        false,
    ),
    (
        "jq -nc '[nth(1,0; 10,20,30)], [nth(5; range(3))]'",
        "[20,10]\n[2]\n",
        0,
        false,
    ),
    (
        "jq -nc 'try nth(-1; 1,2) catch .'",
        "\"nth doesn't support negative indices\"\n",
        0,
        false,
    ),
    ("jq -n 'null | test(\"a\")'", "", 5, true),
    (
        "jq -n '{\"a\":\"bbbbbbbbbbbbbbbbbbbb\"} | test(\"a\")'",
        "",
        5,
        true,
    ),
    ("jq -n '1 | [match(\"a\")]'", "", 5, true),
    ("jq -n '\"a\" | floor'", "", 5, true),
    ("jq -n '[1] | sqrt'", "", 5, true),
    ("jq -n '{} | lgamma'", "", 5, true),
    (
        "jq -nc '[1, 0.5, 2.5, -1.5] | map(exp), map(log), map(sin), map(cos), map(nearbyint), map(rint), map(round)'",
        "[2.718281828459045,1.6487212707001282,12.182493960703473,0.22313016014842982]\n[0,-0.6931471805599453,0.9162907318741551,null]\n[0.8414709848078965,0.479425538604203,0.5984721441039565,-0.9974949866040544]\n[0.5403023058681398,0.8775825618903728,-0.8011436155469337,0.0707372016677029]\n[1,0,2,-2]\n[1,0,2,-2]\n[1,1,3,-2]\n",
        0,
        false,
    ),
    (
        "jq -nc '[0.5, 1, 5] | map(gamma), map(lgamma)'",
        "[0.5723649429247001,0,3.1780538303479458]\n[0.5723649429247001,0,3.1780538303479458]\n",
        0,
        false,
    ),
    ("jq -n '2 | pow10'", "", 5, true),
    (
        "jq -nc '[-0, 0, 8] | map(significand)'",
        "[-0,0,1]\n",
        0,
        false,
    ),
    (
        "jq -nc '\"a,b, c\" | [splits(\", *\")]'",
        "[\"a\",\"b\",\"c\"]\n",
        0,
        false,
    ),
    (
        "jq -nc '\"aXbxc\" | [splits(\"x\"; \"i\")]'",
        "[\"a\",\"b\",\"c\"]\n",
        0,
        false,
    ),
    (
        "jq -nc '\"AbC\" | ascii_downcase, ascii_upcase'",
        "\"abc\"\n\"ABC\"\n",
        0,
        false,
    ),
    (
        "jq -nc '\"héllo\" | explode, (explode | implode)'",
        "[104,233,108,108,111]\n\"héllo\"\n",
        0,
        false,
    ),
    (
        "jq -nc '[1,\"a\",null] | @text, @json'",
        "\"[1,\\\"a\\\",null]\"\n\"[1,\\\"a\\\",null]\"\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"a\":[1,2]} | tojson, (tojson|fromjson)'",
        "\"{\\\"a\\\":[1,2]}\"\n{\"a\":[1,2]}\n",
        0,
        false,
    ),
    (
        "jq -nc '[infinite, -infinite, nan] | map(isinfinite), map(isnan), map(isnormal)'",
        "[true,true,false]\n[false,false,true]\n[false,false,false]\n",
        0,
        false,
    ),
    ("jq -nc '[nan] | tostring'", "\"[null]\"\n", 0, false),
    (
        "jq -nc 'nan < 1, ([nan,1] | sort)'",
        "true\n[null,1]\n",
        0,
        false,
    ),
    ("jq -nc 'try error catch .'", "", 0, false),
    ("jq -nc 'try error(\"x\") catch .'", "\"x\"\n", 0, false),
    ("jq -nc 'try ({\"a\":1} | error) catch .a'", "1\n", 0, false),
    (
        "jq -nc '{\"a\":{\"b\":1}} | getpath([\"a\",\"b\"]), getpath([\"x\",\"y\"])'",
        "1\nnull\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"a\":{\"b\":1},\"c\":2} | [paths], [paths(type == \"number\")]'",
        "[[\"a\"],[\"a\",\"b\"],[\"c\"]]\n[[\"a\",\"b\"],[\"c\"]]\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"a\":1,\"b\":2} | to_entries, (to_entries|from_entries), with_entries(.value += 1)'",
        "[{\"key\":\"a\",\"value\":1},{\"key\":\"b\",\"value\":2}]\n{\"a\":1,\"b\":2}\n{\"a\":2,\"b\":3}\n",
        0,
        false,
    ),
    (
        "jq -nc '[{\"name\":\"a\",\"value\":1},{\"k\":\"b\",\"v\":2}] | from_entries'",
        "",
        5,
        true,
    ),
    (
        "jq -nc '{\"a\":1,\"b\":2,\"c\":3} | del(.a, .c), delpaths([[\"b\"]])'",
        "{\"b\":2}\n{\"a\":1,\"c\":3}\n",
        0,
        false,
    ),
    ("jq -nc '[1,2,3,4] | del(.[1,2])'", "[1,4]\n", 0, false),
    (
        "jq -nc '[[1,2],[3,4]] | [combinations]'",
        "[[1,3],[1,4],[2,3],[2,4]]\n",
        0,
        false,
    ),
    (
        "jq -nc '[0,1] | [combinations(2)]'",
        "[[0,0],[0,1],[1,0],[1,1]]\n",
        0,
        false,
    ),
    (
        "jq -nc '\"test 123 abc 45\" | test(\"\\\\d+\"), [match(\"\\\\d+\"; \"g\") | .string], [scan(\"\\\\d+\")]'",
        "true\n[\"123\",\"45\"]\n[\"123\",\"45\"]\n",
        0,
        false,
    ),
    (
        "jq -nc '\"Foo bar FOO\" | [match(\"foo\"; \"gi\") | .offset]'",
        "[0,8]\n",
        0,
        false,
    ),
    (
        "jq -nc '\"abc\" | capture(\"(?<x>a)(?<y>.)\")'",
        "{\"x\":\"a\",\"y\":\"b\"}\n",
        0,
        false,
    ),
    (
        "jq -nc '\"aaa bbb\" | sub(\"a\"; \"X\"), gsub(\"a\"; \"X\"), gsub(\"(?<l>[ab])\"; \"<\\(.l)>\")'",
        "\"Xaa bbb\"\n\"XXX bbb\"\n\"<a><a><a> <b><b><b>\"\n",
        0,
        false,
    ),
    (
        "jq -nc '\"Hello\" | gsub(\"l\"; \"L\"; \"g\"), sub(\"L\"; \"x\"; \"i\")'",
        "\"HeLLo\"\n\"Hexlo\"\n",
        0,
        false,
    ),
    (
        "jq -nc '\"abc\" | test(\"B\"; \"i\"), test(\"B\"; \"x\")'",
        "true\nfalse\n",
        0,
        false,
    ),
    (
        "jq -nc '1425599621 | todate, (todate | fromdate)'",
        "\"2015-03-05T23:53:41Z\"\n1425599621\n",
        0,
        false,
    ),
    (
        "jq -nc '\"2015-03-05T23:51:47Z\" | fromdate, fromdateiso8601, strptime(\"%Y-%m-%dT%H:%M:%SZ\")'",
        "1425599507\n1425599507\n[2015,2,5,23,51,47,4,63]\n",
        0,
        false,
    ),
    (
        "jq -nc '1425599621 | gmtime, (gmtime|mktime), strftime(\"%A, %B %d, %Y\")'",
        "[2015,2,5,23,53,41,4,63]\n1425599621\n\"Thursday, March 05, 2015\"\n",
        0,
        false,
    ),
    (
        "jq -nc '[{\"a\":3},{\"a\":1},{\"a\":2}] | min_by(.a), max_by(.a), sort_by(.a), group_by(.a > 1), unique_by(.a % 2)'",
        "{\"a\":1}\n{\"a\":3}\n[{\"a\":1},{\"a\":2},{\"a\":3}]\n[[{\"a\":1}],[{\"a\":3},{\"a\":2}]]\n[{\"a\":2},{\"a\":3}]\n",
        0,
        false,
    ),
    (
        "jq -nc '[] | min_by(.a), max_by(.a), min, max'",
        "null\nnull\nnull\nnull\n",
        0,
        false,
    ),
    (
        "jq -nc '[1,[2,{\"a\":3}]] | walk(if type == \"number\" then . + 1 else . end)'",
        "[2,[3,{\"a\":4}]]\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"b\":2,\"a\":1} | walk(.)'",
        "{\"b\":2,\"a\":1}\n",
        0,
        false,
    ),
    (
        "jq -nc '[limit(3; range(10))], [limit(0; 1, 2)], [limit(-1; 1, 2)]'",
        "[0,1,2]\n[1]\n[1,2]\n",
        0,
        false,
    ),
    (
        "jq -nc '[range(10)] | first, last, nth(3), first(.[]), last(.[]), nth(2; .[])'",
        "0\n9\n3\n0\n9\n2\n",
        0,
        false,
    ),
    (
        "jq -nc '[first(empty)], [nth(5; range(3))]'",
        "[]\n[2]\n",
        0,
        false,
    ),
    (
        "jq -nc 'try nth(-1; 1,2) catch .'",
        "\"nth doesn't support negative indices\"\n",
        0,
        false,
    ),
    (
        "jq -nc '\"abcabc\" | ltrimstr(\"ab\"), rtrimstr(\"bc\"), ltrimstr(1)'",
        "\"cabc\"\n\"abca\"\n\"abcabc\"\n",
        0,
        false,
    ),
    (
        "jq -nc '[1, \"1\", null] | map(ltrimstr(\"1\"))'",
        "[1,\"\",null]\n",
        0,
        false,
    ),
    (
        "jq -nc '\"a\\tb\\\"c\" | @csv \"\\([.])\", @tsv \"\\([.])\", @html, @uri, @sh, @base64, (@base64 | @base64d)'",
        "\"\\\"a\\tb\\\"\\\"c\\\"\"\n\"a\\\\tb\\\"c\"\n\"a\\tb&quot;c\"\n\"a%09b%22c\"\n\"'a\\tb\\\"c'\"\n\"YQliImM=\"\n\"a\\tb\\\"c\"\n",
        0,
        false,
    ),
    (
        "jq -nc '[1,\"a b\",null,true] | @csv, @tsv, @sh'",
        "\"1,\\\"a b\\\",,true\"\n\"1\\ta b\\t\\ttrue\"\n\"1 'a b' null true\"\n",
        0,
        false,
    ),
    (
        "jq -nc '\"<&>\\u0027\\\"\" | @html'",
        "\"&lt;&amp;&gt;&apos;&quot;\"\n",
        0,
        false,
    ),
    (
        "jq -nc '\"ü é/?=&\" | @uri'",
        "\"%C3%BC%20%C3%A9%2F%3F%3D%26\"\n",
        0,
        false,
    ),
    (
        "jq -nc '[1,[2,[3]]] | flatten, flatten(1)'",
        "[1,2,3]\n[1,2,[3]]\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"a\":1} | has(\"a\"), has(\"b\"), ([\"a\"] | index(\"a\"))'",
        "true\nfalse\n0\n",
        0,
        false,
    ),
    (
        "jq -nc '\"a-b-c\" | split(\"-\"), index(\"-\"), rindex(\"-\"), indices(\"-\")'",
        "[\"a\",\"b\",\"c\"]\n1\n3\n[1,3]\n",
        0,
        false,
    ),
    (
        "jq -nc '[1,2,1] | indices(1), indices([1,2])'",
        "[0,2]\n[0]\n",
        0,
        false,
    ),
    (
        "jq -nc '[3,1,2] | sort, reverse, unique, add, length, any(. > 2), all(. > 0)'",
        "[1,2,3]\n[2,1,3]\n[1,2,3]\n6\n3\ntrue\ntrue\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"a\":1} | keys, keys_unsorted, length, to_entries[0], ([.[]])'",
        "[\"a\"]\n[\"a\"]\n1\n{\"key\":\"a\",\"value\":1}\n[1]\n",
        0,
        false,
    ),
    (
        "jq -nc '\"x\" * 3, (\"abc\" / \"b\"), ({} * {\"a\":{\"b\":1}})'",
        "\"xxx\"\n[\"a\",\"c\"]\n{\"a\":{\"b\":1}}\n",
        0,
        false,
    ),
    (
        "jq -nc '[.[]?], (null | length), (\"abc\" | length), (-5 | length)'",
        "[]\n0\n3\n5\n",
        0,
        false,
    ),
    (
        "jq -nc '1 | [., tostring, tojson, (tostring|tonumber)]'",
        "[1,\"1\",\"1\",1]\n",
        0,
        false,
    ),
    (
        "jq -nc '[1.5, -1.5, 2.5] | map(floor), map(ceil), map(round), map(fabs), map(sqrt)'",
        "[1,-2,2]\n[2,-1,3]\n[2,-2,3]\n[1.5,1.5,2.5]\n[1.224744871391589,null,1.5811388300841898]\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"a\":[1,2,{\"b\":null}]} | [leaf_paths], [.. | numbers], [.. | scalars]'",
        "[[\"a\",0],[\"a\",1]]\n[1,2]\n[1,2,null]\n",
        0,
        false,
    ),
    (
        "jq -nc '[{\"a\":1,\"b\":2},{\"a\":3}] | map(.b // \"none\"), (.[0] | to_entries | map(\"\\(.key)=\\(.value)\") | join(\"&\"))'",
        "[2,\"none\"]\n\"a=1&b=2\"\n",
        0,
        false,
    ),
    (
        "jq -nc '$ENV | type, (env | type)'",
        "\"object\"\n\"object\"\n",
        0,
        false,
    ),
    ("jq -nc 'splits(\"a\")'", "", 5, true),
    ("jq -nc '[1,2] | getpath([\"a\"])'", "", 5, true),
    ("jq -nc '{\"a\":1} | getpath([0])'", "", 5, true),
    ("jq -nc '[paths(..)]'", "[]\n", 0, false),
    (
        "jq -nc '{} | .a.b.c = 1'",
        "{\"a\":{\"b\":{\"c\":1}}}\n",
        0,
        false,
    ),
    (
        "jq -nc '[1,2,3] | .[1:] = [\"x\"]'",
        "[1,\"x\"]\n",
        0,
        false,
    ),
    ("jq -nc 'input_line_number'", "0\n", 0, false),
    (
        "jq -nc '[splits(\"a\";\"g\")]' <<< '\"banana\"'",
        "",
        5,
        true,
    ),
    (
        "jq -c '[splits(\"a\")]' <<< '\"banana\"'",
        "[\"b\",\"n\",\"n\",\"\"]\n",
        0,
        false,
    ),
    ("jq -nc '\"abc\" | test(\"a\";\"gx\")'", "true\n", 0, false),
    (
        "jq -nc '\"aBc\" | [match(\"b\";\"gi\")] | length'",
        "1\n",
        0,
        false,
    ),
    (
        "jq -nc '\"abc\" | sub(\"(?<x>b)\"; \"[\\(.x)]\"; \"g\")'",
        "\"a[b]c\"\n",
        0,
        false,
    ),
    ("jq -nc '[1,2,3] | IN(2)'", "false\n", 0, false),
    (
        "jq -nc '\"1 2\" | [scan(\"(\\\\d) (\\\\d)\")]'",
        "[[\"1\",\"2\"]]\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"a\":1} | with_entries(.key |= ascii_upcase)'",
        "{\"A\":1}\n",
        0,
        false,
    ),
    (
        "jq -nc '[1,2] | tostream' ",
        "[[0],1]\n[[1],2]\n[[1]]\n",
        0,
        false,
    ),
    (
        "jq -nc '[1,2,3] | min_by(-.), max_by(-.)'",
        "3\n1\n",
        0,
        false,
    ),
    (
        "jq -nc '[{\"a\":{\"b\":1}}] | map(getpath([\"a\",\"b\"]))'",
        "[1]\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"a\":null} | .a // \"d\", (.a | values), ([.a] | map(values))'",
        "\"d\"\n[]\n",
        0,
        false,
    ),
    (
        "jq -nc '\"abc\" | .[1:], .[:-1], .[5:]'",
        "\"bc\"\n\"ab\"\n\"\"\n",
        0,
        false,
    ),
    (
        "jq -nc '[range(0;10;3)], [range(5;0;-2)], [range(3)]'",
        "[0,3,6,9]\n[5,3,1]\n[0,1,2]\n",
        0,
        false,
    ),
    ("jq -nc 'splits'", "", 3, true),
    ("jq -nc 'getpath([\"a\",0,\"b\"])'", "null\n", 0, false),
    (
        "jq -nc '[{\"a\":1}] | .[0].a |= . + 1 | .[0].b += 5'",
        "[{\"a\":2,\"b\":5}]\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"a\":[{\"b\":1},{\"b\":2}]} | [.a[].b] | add / length'",
        "1.5\n",
        0,
        false,
    ),
    ("jq -nc '\"x\" | error(null)'", "", 0, false),
    ("jq -nc 'try error(null) catch .'", "", 0, false),
    ("jq -nc '[.[]?] | error'", "", 5, true),
    ("jq -n 'builtins | length'", "217\n", 0, false),
    (
        "jq -c '[builtins[] | select(startswith(\"to\"))]' <<< 1",
        "[\"tostring/0\",\"tonumber/0\",\"tojson/0\",\"to_entries/0\",\"todateiso8601/0\",\"todate/0\",\"tostream/0\"]\n",
        0,
        false,
    ),
    (
        "jq -nc '[3,0.3,-0.5,-1.5,0,5] | map(lgamma_r)'",
        "[[0.6931471805599453,1],[1.0957979948180756,1],[1.2655121234846454,-1],[0.8600470153764809,1],[1.7976931348623157e+308,1],[3.1780538303479458,1]]\n",
        0,
        false,
    ),
    (
        "printf '1 2 3 4' | jq -n 'reduce range(3) as $i (0; . + input)'",
        "6\n",
        0,
        false,
    ),
    (
        "jq -nc 'reduce range(5) as $i (0; . + ($i | sin))'",
        "1.1350859243855171\n",
        0,
        false,
    ),
    ("yq -c 'input' catalog.yml", "", 5, true),
    ("yq -c 'input_line_number' catalog.yml", "1\n", 0, false),
    (
        "printf 'a: 1\\n---\\na: 2\\n' | yq -n 'reduce inputs as $d (0; . + $d.a)'",
        "0\n",
        0,
        false,
    ),
    (
        "printf 'a: 1\\n---\\na: 2\\n' | yq -nc '[inputs]' -",
        "[{\"a\":1},{\"a\":2}]\n",
        0,
        false,
    ),
    ("printf 'a: 1\\n' | yq -nc 'input'", "", 5, true),
    (
        "printf 'a: 1\\n---\\na: 2\\n' | yq -c '[., input]'",
        "[{\"a\":1},{\"a\":2}]\n",
        0,
        false,
    ),
    (
        "printf 'a: 1\\n---\\na: 2\\n' | yq -c '[input_line_number, input_filename]'",
        "[1,\"<stdin>\"]\n[2,\"<stdin>\"]\n",
        0,
        false,
    ),
    (
        "yq -nc '[inputs | keys]' catalog.yml",
        "[[\"description\",\"entities\",\"glossary\",\"metrics_dir\",\"name\",\"version\"]]\n",
        0,
        false,
    ),
    ("printf 'a: 1\\n---\\n- 2\\n' | yq '.a'", "1\n", 5, true),
    ("jq -nc '[1,-2] | map(abs)'", "", 3, true),
    ("jq -nc '{\"a\":1} | pick(.a)'", "", 3, true),
    ("jq -n '\" x \" | trim'", "", 3, true),
    ("jq -nc '[1] | add(.[])'", "", 3, true),
    ("jq -nc '1 | isarray'", "", 3, true),
    ("jq -n 'def abs: 1; abs'", "1\n", 0, false),
    ("jq -nc '{\"a\":1} | key_values'", "", 3, true),
    (
        "jq -c --stream . <<< '{\"a\":[1,2],\"b\":{}} 3 [] \"x\"'",
        "[[\"a\",0],1]\n[[\"a\",1],2]\n[[\"a\",1]]\n[[\"b\"],{}]\n[[\"b\"]]\n[[],3]\n[[],[]]\n[[],\"x\"]\n",
        0,
        false,
    ),
    (
        "jq -nc --stream 'fromstream(1|truncate_stream(inputs))' <<< '[{\"a\":1},{\"b\":2}]'",
        "{\"a\":1}\n{\"b\":2}\n",
        0,
        false,
    ),
    (
        "jq -c --stream -s . <<< '[1] 2'",
        "[[[0],1],[[0]],[[],2]]\n",
        0,
        false,
    ),
    (
        "echo '{\"a\":1}' | jq -c --stream 'input'",
        "[[\"a\"]]\n",
        0,
        false,
    ),
    ("jq -c --stream 'fromstream(.)' <<< '[1]'", "", 0, false),
    (
        "jq -nc '[fromstream([[0]])], [fromstream([[\"a\"],1],[[\"a\"]], [[\"b\"]])], [fromstream([[0],1],[[0,1]],[[0]])]'",
        "[]\n[{\"a\":1}]\n[[1]]\n",
        0,
        false,
    ),
    (
        "{ printf '%1000s' | tr ' ' '['; printf '%1000s' | tr ' ' ']'; } | jq -c --stream . | wc -l",
        "1000\n",
        0,
        false,
    ),
    (
        "jq -n '[range(200)|{id:.,name:\"customer_\\(.)\",tags:[\"a\",\"b\"],amount:(.*1.5)}]' | jq -c --stream 'select(length == 2) | .[0] | join(\".\")' | head -3",
        "\"0.id\"\n\"0.name\"\n\"0.tags.0\"\n",
        0,
        false,
    ),
    ("jq -nc '\"abc\" | flatten'", "", 5, true),
    (
        "jq -nc '{\"a\":[1,[2]],\"b\":3} | flatten'",
        "[1,2,3]\n",
        0,
        false,
    ),
    (
        "jq -nc '[[1,[2,[3]]]] | flatten(1.5), flatten(0), flatten(1)'",
        "[1,2,3]\n[[1,[2,[3]]]]\n[1,[2,[3]]]\n",
        0,
        false,
    ),
    ("jq -nc '[[1]] | flatten(\"a\")'", "", 5, true),
    ("jq -nc '[\"a\",[1]] | join(\",\")'", "", 5, true),
    ("jq -nc '[\"a\",\"b\"] | join(1)'", "", 5, true),
    (
        "jq -nc '[null,true,1.5,\"x\"] | join(\"-\")'",
        "\"-true-1.5-x\"\n",
        0,
        false,
    ),
    (
        "jq -nc '{\"a\":\"x\",\"b\":\"y\"} | join(\",\")'",
        "\"x,y\"\n",
        0,
        false,
    ),
    (
        "jq -nc '[\"abcdefghijklmnop\",{\"a\":1}] | join(\",\")'",
        "",
        5,
        true,
    ),
    (
        "jq -n '[range(1e5)|tostring] | join(\",\") | length'",
        "588889\n",
        0,
        false,
    ),
    (
        "jq -n '[range(1e5)|[.]] | flatten | length'",
        "100000\n",
        0,
        false,
    ),
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
        "jq -n '1 | @urid'",
        &indexed,
        // Their last digits differ from jq's C library (`exp10(3)` is 1000.0000000000001).
        "jq -n '3 | exp10'",
        "jq -n '27 | cbrt'",
        "jq -n '0.5 | tgamma'",
        "jq -n '3 | acosh'",
        "jq -n '[1, 2] | map(j0)'",
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
        // The condition runs once per value of the generator: 1e8 steps.
        "jq -n 'any(range(1000); [range(1e5)] | length < 0)'".to_owned(),
    ] {
        let start = std::time::Instant::now();
        let out = runner().run(&script);
        assert_eq!(out.exit_code, 126, "{script}: {}", out.stderr_str());
        assert!(out.stderr_str().contains("not run"), "{script}");
        assert!(start.elapsed().as_secs() < 5, "{script}");
    }
}

/// `--stream` repeats every path in its events: a deep input is refused before they are built.
#[test]
fn deep_streams_stop_at_the_memory_limit() {
    let out = runner().run(
        "{ printf '%3000s' | tr ' ' '['; printf '%3000s' | tr ' ' ']'; } | jq -c --stream . | wc -l",
    );
    assert_eq!(out.exit_code, 126, "{}", out.stderr_str());
    assert!(
        out.stderr_str().contains("--stream events"),
        "{}",
        out.stderr_str()
    );
}
