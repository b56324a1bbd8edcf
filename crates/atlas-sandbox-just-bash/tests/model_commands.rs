//! Commands of the kind a model sends while exploring the semantic layer, each run over the
//! example layer (`config/semantic`) and checked against what real bash 5.2 printed for it
//! (GNU coreutils 9.1, grep 3.8, sed 4.9, gawk 5.2, jq 1.6, python yq; `LC_ALL=C TZ=UTC`,
//! recorded with `bash -c` in a fresh copy of the layer): stdout, exit status, and whether
//! stderr is empty. Many are the classes fixed after a hunt for silently wrong answers (gawk's
//! number output, printf flags and substr; sed's character escapes and `-i SUFFIX`; `tr -t`;
//! `printf %g`; jq 1.6's number printing); the last ones must be refused, not answered.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use common::{Case, Runner};

/// (script, stdout, exit status, stderr is non-empty), as bash printed them.
const CASES: &[Case] = &[
    (
        "awk 'BEGIN{printf \"%-10d|%+d|% d\\n\", 5, 5, 5}'",
        "5         |+5| 5\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print 1e6, 1e16, 123456789012, 0.1+0.2, 1/3}'",
        "1000000 10000000000000000 123456789012 0.3 0.333333\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print length(\"hello\"), substr(\"hello\", 2, 3), substr(\"hello\", 0), substr(\"hello\", -1, 3)}'",
        "5 ell hello hel\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{printf \"%G %E\\n\", 1e-10, 12.5}'",
        "1E-10 1.250000E+01\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{printf \"%#x %#o\\n\", 255, 8}'",
        "0xff 010\n",
        0,
        false,
    ),
    ("awk 'BEGIN{printf \"%s\\n\"}'", "", 2, true),
    (
        "awk 'BEGIN{exit 3} END{print \"end\"}'; echo \"rc=$?\"",
        "end\nrc=3\n",
        0,
        false,
    ),
    ("awk -F '' '{print $2}' <<< \"abc\"", "b\n", 0, false),
    (
        "awk 'BEGIN { print 0.1 * 3, 1e300 * 1e10, -1e300 * 1e10 }'",
        "0.3 +inf -inf\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN { print 3/2, 6/3, 2**10, 2^0.5 }'",
        "1.5 2 1024 1.41421\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN { print substr(\"abcdef\", 1.5, 2.3) }'",
        "ab\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN { s = \"a b  c\"; n = split(s, p, / /); print n }'",
        "4\n",
        0,
        false,
    ),
    (
        "sed -i.bak '1d' glossary.yml && ls glossary.yml* && head -1 glossary.yml",
        "glossary.yml\nglossary.yml.bak\nterms:\n",
        0,
        false,
    ),
    (
        "sed 's/$/\\r/' <<< \"a\" | od -c | head -1",
        "0000000   a  \\r  \\n\n",
        0,
        false,
    ),
    ("sed 's/\\x41/B/' <<< \"A\"", "B\n", 0, false),
    ("sed 's/a/\\x41/' <<< \"a\"", "A\n", 0, false),
    ("sed 's/\\o101/B/' <<< \"A\"", "B\n", 0, false),
    ("sed 's/\\d65/B/' <<< \"A\"", "B\n", 0, false),
    ("tr -t 'abc' 'xy' <<< \"abc\"", "xyc\n", 0, false),
    (
        "jq -n '1.0, 1.5, 100000000000000000000, 3e-5'",
        "1\n1.5\n1e+20\n3e-05\n",
        0,
        false,
    ),
    ("jq '.' <<< '100000000000000000001'", "1e+20\n", 0, false),
    (
        "jq '.' <<< '[1e1000]'",
        "[\n  1.7976931348623157e+308\n]\n",
        0,
        false,
    ),
    ("jq '.' <<< '0.00001'", "1e-05\n", 0, false),
    (
        "jq '1e19, 1e17, 12345678901234567' -n",
        "1e+19\n1e+17\n12345678901234568\n",
        0,
        false,
    ),
    ("printf '%g %g\\n' 0.0001 1e10", "0.0001 1e+10\n", 0, false),
    (
        "awk 'BEGIN{print 2^60, 2^70, -2^64, 1e20/10}'",
        "1152921504606846976 1180591620717411303424 -18446744073709551616 10000000000000000000\n",
        0,
        false,
    ),
    (
        "awk '{s += 1e15} END{print s}' catalog.yml",
        "135000000000000000\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{printf \"% .2f|% e|% g|%+.1e\\n\", 3.14159, 1234.5, 0.5, -2}'",
        " 3.14| 1.234500e+03| 0.5|-2.0e+00\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{printf \"%#X|%#o|%#x\\n\", 3054, 0, 0}'",
        "0XBEE|0|0\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{printf \"%G|%G\\n\", 0.000012345, 123456789}'",
        "1.2345E-05|1.23457E+08\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{printf \"%s %s\\n\", \"one\"}'; echo \"rc=$?\"",
        "rc=2\n",
        0,
        true,
    ),
    (
        "awk 'BEGIN{print substr(\"semantic\", 0, 3), substr(\"semantic\", -2, 4), substr(\"semantic\", 2.9, 1.9)}'",
        "sem sema e\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{n=0; exit 4} {n++} END{print \"lines\", n}' catalog.yml; echo \"rc=$?\"",
        "lines 0\nrc=4\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{x = 3 ** 2; x **= 2; print x}'",
        "81\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print \"a\\qb\", \"tab\\there\", \"\\101\\102\"}' 2>/dev/null",
        "aqb tab\there AB\n",
        0,
        false,
    ),
    (
        "awk -F '' '{print NF, $1, $NF}' <<< \"hello\"",
        "5 h o\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{n = split(\"x  y z\", a, / /); print n, \"[\" a[2] \"]\"}'",
        "4 []\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print -1e300 * 1e300, log(0)}' 2>/dev/null",
        "-inf -inf\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN { while ((getline line < \"catalog.yml\") > 0) n++; print n }'",
        "135\n",
        0,
        false,
    ),
    (
        "sed 's/\\t/ /g; s/ *$//' <<< $'a\\t\\tb  '",
        "a  b\n",
        0,
        false,
    ),
    ("sed 's/,/\\t/g' <<< \"a,b,c\" | cut -f2", "b\n", 0, false),
    ("sed 's/\\x20/_/g' <<< \"a b c\"", "a_b_c\n", 0, false),
    (
        "sed -E 's/(\\w+)/\\x22\\1\\x22/' <<< \"name\"",
        "\"name\"\n",
        0,
        false,
    ),
    ("sed 's/$/\\x27/' <<< \"it\"", "it'\n", 0, false),
    (
        "sed -n '/\\x3a/p' entities/markets.yml | head -2",
        "name: markets\ntype: dimension_table\n",
        0,
        false,
    ),
    (
        "sed -i.orig 's/^name: /NAME: /' entities/markets.yml && head -1 entities/markets.yml entities/markets.yml.orig",
        "==> entities/markets.yml <==\nNAME: markets\n\n==> entities/markets.yml.orig <==\nname: markets\n",
        0,
        false,
    ),
    (
        "sed -i -e '1d' entities/refunds.yml && ls entities/refunds.yml*",
        "entities/refunds.yml\n",
        0,
        false,
    ),
    ("tr -t 'a-z' 'AB' <<< \"abcd\"", "ABcd\n", 0, false),
    ("tr -t ':' '=' <<< \"a:b:c\"", "a=b=c\n", 0, false),
    (
        "printf '%g|%g|%g|%G\\n' 1234567 0.000012345 100 1e-20",
        "1.23457e+06|1.2345e-05|100|1E-20\n",
        0,
        false,
    ),
    (
        "printf '%.3g|%10.4g|%-8g|\\n' 3.14159 2.718281 1.5",
        "3.14|     2.718|1.5     |\n",
        0,
        false,
    ),
    ("printf '% d|% i|% .1f\\n' 7 -7 2", " 7|-7| 2.0\n", 0, false),
    (
        "jq -c '[.[] * 1e10]' <<< '[1, 100000, 0.5]'",
        "[10000000000,1000000000000000,5000000000]\n",
        0,
        false,
    ),
    (
        "jq -r '.[]' <<< '[1e17, 0.000001, 1.0, 2.50]'",
        "1e+17\n1e-06\n1\n2.5\n",
        0,
        false,
    ),
    (
        "jq -c '{a: 1e-5, b: 1e300, c: (1e308 * 10)}' -n",
        "{\"a\":1e-05,\"b\":1e+300,\"c\":1.7976931348623157e+308}\n",
        0,
        false,
    ),
    (
        "jq '[.[] | . / 7]' -c <<< '[1, 22]'",
        "[0.14285714285714285,3.142857142857143]\n",
        0,
        false,
    ),
    (
        "jq -c 'map(. * 1000000)' <<< '[123456789012, 0.1]'",
        "[123456789012000000,100000]\n",
        0,
        false,
    ),
    (
        "grep -rn \"customer_id\" entities | head -20",
        "entities/support_tickets.yml:12:- name: customer_id\nentities/support_tickets.yml:13:  sql: customer_id\nentities/support_tickets.yml:44:  'on': support_tickets.customer_id = customers.customer_id\nentities/markets.yml:36:  description: '売上 (¥): 値引き後の純売上、顧客ごとに customer_id で集計可能'\nentities/order_items.yml:20:- name: customer_id\nentities/order_items.yml:21:  sql: customer_id\nentities/order_items.yml:46:  'on': order_items.customer_id = customers.customer_id\nentities/returns.yml:16:- name: customer_id\nentities/returns.yml:17:  sql: customer_id\nentities/returns.yml:39:  'on': returns.customer_id = customers.customer_id\nentities/shipments.yml:16:- name: customer_id\nentities/shipments.yml:17:  sql: customer_id\nentities/shipments.yml:51:  'on': shipments.customer_id = customers.customer_id\nentities/subscriptions.yml:12:- name: customer_id\nentities/subscriptions.yml:13:  sql: customer_id\nentities/subscriptions.yml:31:  sql: case when cancelled_at is null then customer_id end\nentities/subscriptions.yml:40:  'on': subscriptions.customer_id = customers.customer_id\nentities/reviews.yml:16:- name: customer_id\nentities/reviews.yml:17:  sql: customer_id\nentities/reviews.yml:43:  'on': reviews.customer_id = customers.customer_id\n",
        0,
        false,
    ),
    (
        "grep -m2 \"name:\" entities/orders.yml",
        "name: orders\n- name: order_id\n",
        0,
        false,
    ),
    (
        "grep -- \"- to:\" entities/orders.yml",
        "- to: customers\n- to: order_items\n- to: payments\n- to: shipments\n- to: refunds\n- to: promotions\n- to: markets\n",
        0,
        false,
    ),
    ("grep -E \"a{2,}\" -r . | head -3", "", 0, false),
    (
        "printf 'abcabc\\n' | grep -ob \"b\"",
        "1:b\n4:b\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{s=\"a.b\"; gsub(\".\", \"x\", s); print s}'",
        "xxx\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print sqrt(16), exp(0), log(1), sin(0), atan2(0, -1)}'",
        "4 1 0 0 3.14159\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{printf \"%s\", \"no newline\"}'; echo \"|\"",
        "no newline|\n",
        0,
        false,
    ),
    (
        "awk '/\\<order\\>/' glossary.yml | head -3",
        "    definition: A customer_id with at least one non-cancelled, non-test order in the period.\n  order:\n    definition: 'Average order value: net revenue per non-cancelled order.'\n",
        0,
        false,
    ),
    ("sed 's/x/\\t/' <<< \"axb\"", "a\tb\n", 0, false),
    (
        "sed -n 'h;n;G;p' <<< $'1\\n2\\n3\\n4'",
        "2\n1\n4\n3\n",
        0,
        false,
    ),
    (
        "sed -E 's/.{3}/&|/g' <<< \"abcdefgh\"",
        "abc|def|gh\n",
        0,
        false,
    ),
    ("sed '/a/{s//X/;}' <<< \"bab\"", "bXb\n", 0, false),
    (
        "printf ' b\\na\\n  c\\n' | sort -b",
        "a\n b\n  c\n",
        0,
        false,
    ),
    (
        "printf 'a\\tb\\nc\\td\\n' | sort -t $'\\t' -k2r",
        "c\td\na\tb\n",
        0,
        false,
    ),
    ("cut -d: -f1,1 <<< \"a:b\"", "a\n", 0, false),
    ("tr -c '\\n' 'x' <<< \"abc\"", "xxx\n", 0, false),
    (
        "yq -r 'keys[]' catalog.yml",
        "description\nentities\nglossary\nmetrics_dir\nname\nversion\n",
        0,
        false,
    ),
    (
        "yq '[.dimensions[] | .type] | unique' entities/orders.yml",
        "[\n  \"date\",\n  \"integer\",\n  \"string\"\n]\n",
        0,
        false,
    ),
    (
        "yq -r '.dimensions[] | .name | sub(\"_id$\"; \"\")' entities/orders.yml | head -3",
        "order\ncustomer\norder_date\n",
        0,
        false,
    ),
    (
        "yq -r '.dimensions[] | select(.description | contains(\"ISO\")) | .name' entities/*.yml",
        "country_code\ncountry_code\ncurrency\n",
        0,
        false,
    ),
    (
        "jq -n '\"abc\" | ascii_downcase | explode'",
        "[\n  97,\n  98,\n  99\n]\n",
        0,
        false,
    ),
    (
        "jq 'group_by(.k) | map({k: .[0].k, n: length})' -c <<< '[{\"k\":1},{\"k\":2},{\"k\":1}]'",
        "[{\"k\":1,\"n\":2},{\"k\":2,\"n\":1}]\n",
        0,
        false,
    ),
    (
        "jq 'setpath([\"a\"]; 1)' -c <<< '{}'",
        "{\"a\":1}\n",
        0,
        false,
    ),
    ("jq 'ascii_downcase' <<< '\"ÀB\"'", "\"Àb\"\n", 0, false),
    ("jq 'first, last' <<< '[]' 2>&1", "null\nnull\n", 0, false),
    (
        "[[ \"orders.yml\" == *.yml ]] && echo match",
        "match\n",
        0,
        false,
    ),
    ("printf '%10.4e\\n' 3.14159", "3.1416e+00\n", 0, false),
    ("find nosuch; echo \"rc=$?\"", "rc=1\n", 0, true),
    ("head -q -n1 entities/m*.yml", "name: markets\n", 0, false),
    ("echo \"scale=3; 10/3\" | bc", "3.333\n", 0, false),
    ("echo err >&2; echo out", "out\n", 0, true),
    ("echo 'a\"b' \"c'd\"", "a\"b c'd\n", 0, false),
    // grep's `--` between context groups (across files too, and under -A0 and -o), an empty
    // file or pattern list matching nothing; awk's `var=value` operands (stdin still read after
    // them), octal constants and C-locale case mapping; `timeout`; jq 1.6's error wording.
    (
        "grep -n -A1 'name: order_id' entities/*.yml | head -8",
        "entities/order_items.yml:12:- name: order_id\nentities/order_items.yml-13-  sql: order_id\n--\nentities/orders.yml:8:- name: order_id\nentities/orders.yml-9-  sql: order_id\n--\nentities/payments.yml:13:- name: order_id\nentities/payments.yml-14-  sql: order_id\n",
        0,
        false,
    ),
    (
        "grep -A0 name <<< $'name\\nx\\nname'",
        "name\n--\nname\n",
        0,
        false,
    ),
    (
        "grep -o -C1 -n x <<< $'a x\\nb\\nc\\nd x x\\ne\\nf\\ng\\nh x'",
        "1:x\n4:x\n4:x\n--\n8:x\n",
        0,
        false,
    ),
    (
        "grep -B1 -h 'primary_key: true' entities/orders.yml entities/markets.yml",
        "  description: Surrogate key of the order\n  primary_key: true\n--\n  description: 'Market code: DE, JP, US, GB, FR'\n  primary_key: true\n",
        0,
        false,
    ),
    (
        "grep -m1 -A2 table: entities/orders.yml entities/markets.yml",
        "entities/orders.yml:table: shop.orders\nentities/orders.yml-grain: one row per order (a checkout)\nentities/orders.yml-description: Placed orders. Cancelled orders stay in the table with status = 'cancelled'; test orders\n--\nentities/markets.yml:table: shop.markets\nentities/markets.yml-grain: one row per storefront market\nentities/markets.yml-description: 'Storefront markets. Beschreibung: Länder-Shops mit eigener Währung. 説明: 国別ストアと通貨。'\n",
        0,
        false,
    ),
    ("grep '' /dev/null; echo $?", "1\n", 0, false),
    ("grep -c '' /dev/null", "0\n", 1, false),
    ("grep -f /dev/null catalog.yml; echo $?", "1\n", 0, false),
    ("grep -c -f /dev/null catalog.yml; echo $?", "1\n", 0, false),
    (
        "grep -vf /dev/null entities/markets.yml | wc -l",
        "48\n",
        0,
        false,
    ),
    (
        "grep -L -f /dev/null catalog.yml",
        "catalog.yml\n",
        1,
        false,
    ),
    ("grep -m0 -c name catalog.yml; echo $?", "1\n", 0, false),
    (
        "awk '{ print $1, $NF }' OFS=' -> ' <<< 'a b c'",
        "a -> c\n",
        0,
        false,
    ),
    ("awk '{print v}' v='a\\tb' <<< x", "a\tb\n", 0, false),
    ("echo 'a:b' | awk '{print $2}' FS=:", "b\n", 0, false),
    ("awk '{print x}' x=1 - x=2 <<< 'l'", "1\n", 0, false),
    (
        "awk 'BEGIN{print 017, 0x11, 018, 017.5, 00, 010e1}'",
        "15 17 18 17.5 0 100\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{print tolower(\"ÀB\"), toupper(\"àb\")}'",
        "Àb àB\n",
        0,
        false,
    ),
    ("timeout 10 grep -c name catalog.yml", "20\n", 0, false),
    ("timeout 5 cat nosuch; echo $?", "1\n", 0, true),
    ("timeout abc ls; echo $?", "125\n", 0, true),
    (
        "jq -n 'foo(1)' 2>&1",
        "jq: error: foo/1 is not defined at <top-level>, line 1:\nfoo(1)\njq: 1 compile error\n",
        3,
        false,
    ),
    (
        "jq -n '\"a\\tb\" | @tsv' 2>&1",
        "jq: error (at <unknown>): string (\"a\\tb\") cannot be tsv-formatted, only array\n",
        5,
        false,
    ),
    // bash's printf rounds the long double it read (0.45 is 0.4 to one place), zero-fills after
    // the sign, reads the number at the front of `1,5`; an arithmetic operand's value with a
    // leading 0 is octal; FUNCNAME is the call stack.
    (
        "printf '%.1f %.1f %.1f %.2f %.2f %.3f %.0f %.0f %.2f\\n' 0.45 0.35 0.25 2.355 2.345 1.0005 2.5 3.5 -0.001",
        "0.4 0.3 0.2 2.36 2.35 1.001 2 4 -0.00\n",
        0,
        false,
    ),
    (
        "printf '%.2e %.1e %g %g %.3g %G %#g\\n' 1.235 9.99 2.5e-5 123456789 1234.5 1e-10 1.5",
        "1.24e+00 1.0e+01 2.5e-05 1.23457e+08 1.23e+03 1E-10 1.50000\n",
        0,
        false,
    ),
    (
        "printf '%05d|% 05d|%#06x|%05.3d|%08.3f|% 08.2f|%+08.2f\\n' -42 7 255 7 -3.5 2.5 2.5",
        "-0042| 0007|0x00ff|  007|-003.500| 0002.50|+0002.50\n",
        0,
        false,
    ),
    ("printf '%f %F\\n' nan inf", "nan INF\n", 0, false),
    (
        "printf '%.2f\\n' 1,5 2>/dev/null; echo $?",
        "1.00\n1\n",
        0,
        false,
    ),
    ("x=010; echo $((x)) $((x+1))", "8 9\n", 0, false),
    ("x=08; echo $((x+1)); echo after", "", 1, true),
    (
        "f() { g; }; g() { echo \"${FUNCNAME[@]}\" ${#FUNCNAME[@]}; }; f; echo \"[${FUNCNAME[*]}]\"",
        "g f 2\n[]\n",
        0,
        false,
    ),
    // `[[ =~ ]]`: an unquoted expansion is a regex (only quoted text matches itself).
    (
        "re='^[a-z]+_[a-z]+$'; [[ \"net_revenue\" =~ $re ]] && echo snake",
        "snake\n",
        0,
        false,
    ),
    (
        "re='([a-z]+)_([a-z]+)'; [[ \"order_count\" =~ $re ]] && echo \"${BASH_REMATCH[2]} ${BASH_REMATCH[1]} ${#BASH_REMATCH[@]}\"",
        "count order 3\n",
        0,
        false,
    ),
    (
        "re='\\.yml$'; for f in catalog.yml x.yaml; do [[ $f =~ $re ]] && echo \"$f\"; done",
        "catalog.yml\n",
        1,
        false,
    ),
    (
        "[[ \"axb\" =~ a\".\"b ]] || echo partial-quote",
        "partial-quote\n",
        0,
        false,
    ),
    (
        "x='$'; [[ 'a$' =~ a\"$x\" ]] && echo dollar-literal",
        "dollar-literal\n",
        0,
        false,
    ),
    ("re='['; [[ a =~ $re ]]; echo $?", "2\n", 0, false),
    (
        "[[ \"2024-01-15\" =~ ^([0-9]{4})-([0-9]{2}) ]] && echo \"${BASH_REMATCH[1]}/${BASH_REMATCH[2]}\"",
        "2024/01\n",
        0,
        false,
    ),
    // A directory operand: wc prints zeros, grep -c/-L read it as empty, awk skips it, sed
    // stops there (exit 4). gawk in the C locale counts bytes in substr, index, match, printf.
    (
        "wc entities catalog.yml; echo $?",
        "      0       0       0 entities\n    135     531    4058 catalog.yml\n    135     531    4058 total\n1\n",
        0,
        true,
    ),
    (
        "grep -c x entities/ catalog.yml; echo $?",
        "entities/:0\ncatalog.yml:3\n2\n",
        0,
        true,
    ),
    ("grep -L x entities catalog.yml", "entities\n", 2, true),
    (
        "awk 'END{print NR}' entities catalog.yml; echo $?",
        "135\n0\n",
        0,
        true,
    ),
    (
        "sed -n 1p catalog.yml entities glossary.yml; echo $?",
        "# Index of the Acme Shop semantic layer. Start here.\n4\n",
        0,
        true,
    ),
    ("awk; echo $?", "1\n", 0, true),
    (
        "awk 'BEGIN{print substr(\"héllo\", 2, 2), substr(\"héllo\", 4), index(\"héllo\", \"l\")}'",
        "é llo 4\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{if (match(\"héllo\", /l+/)) print RSTART, RLENGTH}'",
        "4 2\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{printf \"%5s|%.3s|\\n\", \"é\", \"éa\"}'",
        "   é|éa|\n",
        0,
        false,
    ),
    (
        "awk -F': ' '/description/{printf \"%-60s|\\n\", $2}' entities/markets.yml | head -3",
        "'Storefront markets. Beschreibung                           |\n'Market code                                                |\nISO country; customers.country_code joins here              |\n",
        0,
        false,
    ),
    // sed: the delimiter inside a bracket expression is a member of it.
    ("sed 's/[/]/|/g' <<< 'a/b'", "a|b\n", 0, false),
    ("echo 'a\\b/c' | sed 's/[\\/]/X/g'", "aXbXc\n", 0, false),
    (
        "echo 'path/to/file.yml' | sed 's/[^/]*\\///g'",
        "file.yml\n",
        0,
        false,
    ),
    ("echo 'x|y' | sed 's|[|]|-|'", "x-y\n", 0, false),
    ("sed 'N;s/[\\n]/+/' <<< $'a\\nb'", "a+b\n", 0, false),
    (
        "printf 'a[:b\\n' | sed 's/[[:alpha:]/]/X/g'",
        "X[:X\n",
        0,
        false,
    ),
    // bash in the C locale: printf widths and ${x:o:l} count bytes, case changes are ASCII only.
    (
        "printf '%5s|%.3s|%-8s|\\n' 'é' 'éa' 'naïve'",
        "   é|éa|naïve  |\n",
        0,
        false,
    ),
    (
        "x='héllo'; echo ${#x} \"${x:0:3}\" \"${x:3}\" \"${x: -3}\" \"[${x: -10}]\"",
        "6 hé llo llo []\n",
        0,
        false,
    ),
    (
        "x=é; echo ${x^^} ${x^} ${x@U}; y=abé; echo ${y^^} ${y@u}; declare -u z=é; echo $z",
        "é é é\nABé Abé\né\n",
        0,
        false,
    ),
    ("x=ÉCOLE; echo ${x,,} ${x,}", "École ÉCOLE\n", 0, false),
    // printf %q: $'...' for control characters (and, in the C locale, non-ASCII bytes).
    (
        "printf '%q\\n' $'a\\tb' $'\\x01x' $'it\\'s\\t' $'\\e' 'é' '~x' 'x#' 'a~b' \"$IFS\"",
        "$'a\\tb'\n$'\\001x'\n$'it\\'s\\t'\n$'\\E'\n$'\\303\\251'\n\\~x\nx#\na~b\n$' \\t\\n'\n",
        0,
        false,
    ),
    // sed in the C locale reads bytes: `.` is one byte, \w and classes are ASCII, \U turns a
    // byte of 128 or more into 0xff as GNU sed 4.9 does, and a byte that is not UTF-8 survives.
    ("sed 's/./X/g' <<< 'hé'", "XXX\n", 0, false),
    ("sed -E 's/h(..)l/[\\1]/' <<< 'hél'", "[é]\n", 0, false),
    (
        "sed -E 's/^(.{30}).*/\\1/' entities/markets.yml | tail -1 | od -An -c",
        "   q   u   e   r   y   _   p   a   t   t   e   r   n   s   :    \n   [   ]  \\n\n",
        0,
        false,
    ),
    ("sed 's/[^a-z]/_/g' <<< 'aé b'", "a___b\n", 0, false),
    (
        "sed 's/\\w\\+/W/g' <<< 'café au lait'",
        "Wé W W\n",
        0,
        false,
    ),
    (
        "sed 's/.*/\\U&/' <<< 'héllo' | od -An -tx1",
        " 48 ff ff 4c 4c 4f 0a\n",
        0,
        false,
    ),
    (
        "sed -n '/^.\\{5\\}$/p' <<< $'héllo\\nhello'",
        "hello\n",
        0,
        false,
    ),
    (
        "printf 'a\\xffb\\n' | sed 's/b/c/' | od -An -tx1",
        " 61 ff 63 0a\n",
        0,
        false,
    ),
    // gawk in the C locale reads bytes: `.` is one byte, substr and split(s, a, "") cut
    // characters, %c of a number is the byte of its low 8 bits, \w is ASCII.
    (
        "awk 'BEGIN{print substr(\"héllo\", 2, 1)}' | od -An -tx1",
        " c3 0a\n",
        0,
        false,
    ),
    (
        "awk '{n=split($0, c, \"\"); print n, c[1]}' <<< 'héllo'",
        "6 h\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{printf \"%c|%c|%c\", 228, 256, 321}' | od -An -tx1",
        " e4 7c 00 7c 41\n",
        0,
        false,
    ),
    ("awk '/h.l/' <<< 'hél'; echo $?", "0\n", 0, false),
    (
        "awk 'BEGIN{s=\"aé\"; gsub(/./, \"[&]\", s); print s}' | od -An -tx1",
        " 5b 61 5d 5b c3 5d 5b a9 5d 0a\n",
        0,
        false,
    ),
    ("awk '$0 ~ /\\w+é/' <<< 'café'", "café\n", 0, false),
    (
        "printf 'a\\xffb\\n' | awk '{print length, $0}' | od -An -tx1",
        " 33 20 61 ff 62 0a\n",
        0,
        false,
    ),
    // sed's `a\`/`i\`/`c\` with no text print nothing; gawk's `%5%` is `%`; `cut -d ''` is NUL.
    ("sed 'i\\' <<< x; echo $?", "x\n0\n", 0, false),
    ("printf 'x\\ny\\n' | sed 'c\\'", "", 0, false),
    (
        "printf 'x\\n' | sed -e 'a\\' -e 'foo'",
        "x\nfoo\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{printf \"%5%|%-3%|%%|\\n\"}'",
        "%|%|%|\n",
        0,
        false,
    ),
    ("cut -d '' -f1 <<< abc; echo $?", "abc\n0\n", 0, false),
    ("printf 'a\\0b\\n' | cut -d '' -f2", "b\n", 0, false),
    // head/tail print a directory's header before failing on it; GNU's wording under 2>&1.
    (
        "head -n1 entities catalog.yml; echo rc=$?",
        "==> entities <==\n\n==> catalog.yml <==\n# Index of the Acme Shop semantic layer. Start here.\nrc=1\n",
        0,
        true,
    ),
    (
        "tail -n1 catalog.yml entities; echo rc=$?",
        "==> catalog.yml <==\nglossary: glossary.yml\n\n==> entities <==\nrc=1\n",
        0,
        true,
    ),
    (
        "head entities 2>&1; echo $?",
        "head: error reading 'entities': Is a directory\n1\n",
        0,
        false,
    ),
    (
        "tail -n2 entities glossary.yml 2>&1",
        "==> entities <==\ntail: error reading 'entities': Is a directory\n\n==> glossary.yml <==\n    tables:\n    - shop.markets\n",
        1,
        false,
    ),
    (
        "sort entities 2>&1; echo $?",
        "sort: read failed: entities: Is a directory\n2\n",
        0,
        false,
    ),
    (
        "head -n1 entities metrics catalog.yml",
        "==> entities <==\n\n==> metrics <==\n\n==> catalog.yml <==\n# Index of the Acme Shop semantic layer. Start here.\n",
        1,
        true,
    ),
    (
        "head -q -n1 entities catalog.yml",
        "# Index of the Acme Shop semantic layer. Start here.\n",
        1,
        true,
    ),
    // jq/yq --version give the reference versions.
    ("jq -r --version", "jq-1.6\n", 0, false),
    ("yq --version 2>&1 | head -1", "yq 0.0.0\n", 0, false),
    ("jq --version", "jq-1.6\n", 0, false),
    ("yq --version", "yq 0.0.0\n", 0, false),
    // Shell messages name the line as `bash -c` does (`environment: line N:` in a function),
    // seen under 2>&1.
    (
        "[ a -eq 1 ] 2>&1; echo $?",
        "bash: line 2: [: a: integer expression expected\n2\n",
        0,
        false,
    ),
    (
        "cd - 2>&1; pwd",
        "bash: line 2: cd: OLDPWD not set\n/semantic\n",
        0,
        false,
    ),
    (
        "printf '%.2f\\n' 1,5 2>&1; echo $?",
        "bash: line 2: printf: 1,5: invalid number\n1.00\n1\n",
        0,
        false,
    ),
    (
        "cd /nonexistent 2>&1",
        "bash: line 2: cd: /nonexistent: No such file or directory\n",
        1,
        false,
    ),
    (
        "nosuchcmd 2>&1",
        "bash: line 2: nosuchcmd: command not found\n",
        127,
        false,
    ),
    (
        "f() { cd /x; }; f 2>&1",
        "environment: line 2: cd: /x: No such file or directory\n",
        1,
        false,
    ),
    (
        "g() {\n  [ a -eq 1 ]\n}\ng 2>&1",
        "environment: line 3: [: a: integer expression expected\n",
        2,
        false,
    ),
    (
        "x=$(cd /nope2 2>&1); echo \"$x\"",
        "bash: line 2: cd: /nope2: No such file or directory\n",
        0,
        false,
    ),
    (
        "echo a\ncd /nope 2>&1\necho b",
        "a\nbash: line 3: cd: /nope: No such file or directory\nb\n",
        0,
        false,
    ),
    (
        "for i in 1; do\n  cd /q 2>&1\ndone",
        "bash: line 3: cd: /q: No such file or directory\n",
        1,
        false,
    ),
    (
        "set -u; echo $undefined_var 2>&1; echo after",
        "",
        127,
        true,
    ),
    ("echo $((1/0)) 2>&1", "", 1, true),
    ("shift 5 2>&1; echo $?", "1\n", 0, false),
    (
        "local x 2>&1",
        "bash: line 2: local: can only be used in a function\n",
        1,
        false,
    ),
    (
        "type nosuch 2>&1",
        "bash: line 2: type: nosuch: not found\n",
        1,
        false,
    ),
    (
        "source /nonexistent 2>&1",
        "bash: line 2: /nonexistent: No such file or directory\n",
        1,
        false,
    ),
    (
        "bash -c 'cd /z' 2>&1",
        "bash: line 1: cd: /z: No such file or directory\n",
        1,
        false,
    ),
    (
        "echo \"$(nosuch2 2>&1)\"",
        "bash: line 2: nosuch2: command not found\n",
        0,
        false,
    ),
    (
        "x=1; x=$(cd /w 2>&1); echo \"[$x]\"",
        "[bash: line 2: cd: /w: No such file or directory]\n",
        0,
        false,
    ),
    (
        "{ cd /v; } 2>&1",
        "bash: line 2: cd: /v: No such file or directory\n",
        1,
        false,
    ),
    (
        "(cd /u) 2>&1",
        "bash: line 2: cd: /u: No such file or directory\n",
        1,
        false,
    ),
    (
        "cd /t 2>&1 | cat",
        "bash: line 2: cd: /t: No such file or directory\n",
        0,
        false,
    ),
    // yq: YAML's .inf and .nan are floats (jq prints them as its limits and null).
    (
        "yq -c . <<< 'k: .inf'",
        "{\"k\":1.7976931348623157e+308}\n",
        0,
        false,
    ),
    (
        "yq -c '[.a, .b, .c]' <<< $'a: -.inf\\nb: .NaN\\nc: +.inf'",
        "[-1.7976931348623157e+308,null,1.7976931348623157e+308]\n",
        0,
        false,
    ),
    // ls -g leaves out the owner (it printed both owner and group).
    ("ls -g catalog.yml | awk '{print $4}'", "4058\n", 0, false),
    ("ls -o catalog.yml | awk '{print $4}'", "4058\n", 0, false),
    ("ls -lgo catalog.yml | awk '{print $3}'", "4058\n", 0, false),
    ("ls -gG catalog.yml | awk '{print $3}'", "4058\n", 0, false),
    (
        "ls -g entities | awk 'NR>1{print $4, $NF}' | head -3",
        "1127 carts.yml\n756 categories.yml\n2148 customers.yml\n",
        0,
        false,
    ),
    (
        "ls -go entities | tail -2 | awk '{print $3, $NF}'",
        "684 suppliers.yml\n1273 support_tickets.yml\n",
        0,
        false,
    ),
    ("ls -lG catalog.yml | awk '{print $4}'", "4058\n", 0, false),
    // A failed redirection reports to fd 2 as the redirections before it left it.
    ("cat catalog.yml 2>&1 >/nope/x | wc -l", "1\n", 0, false),
    (
        "x=$(ls 2>&1 >/no/such/file); echo \"[$x]\"",
        "[bash: line 2: /no/such/file: No such file or directory]\n",
        0,
        false,
    ),
    (
        "cat catalog.yml 2>/dev/null >/nope/x; echo rc=$?",
        "rc=1\n",
        0,
        false,
    ),
    (
        "cat catalog.yml 2>/tmp/e.txt >/nope/x; cat /tmp/e.txt",
        "bash: line 2: /nope/x: No such file or directory\n",
        0,
        false,
    ),
    (
        "echo x\n{\n  echo a\n} 2>&1 >/nope/x",
        "x\nbash: line 5: /nope/x: No such file or directory\n",
        1,
        false,
    ),
    // Only at the start of a command is `h[a b]=1` one word; as an argument it is two.
    ("echo h[a b]=1", "h[a b]=1\n", 0, false),
    // cut -b/-c --output-delimiter: between selected ranges (merged when they overlap, apart
    // when adjacent), and between the gaps under --complement.
    (
        "echo abcdef | cut -c1-2,4-5 --output-delimiter=:",
        "ab:de\n",
        0,
        false,
    ),
    (
        "echo abcdef | cut --complement -c1-2,4-5 --output-delimiter=:",
        "c:f\n",
        0,
        false,
    ),
    (
        "echo abc | cut -b1,3 --output-delimiter=- ; echo abcdef | cut -c1,2,3-4 --output-delimiter=.",
        "a-c\na.b.cd\n",
        0,
        false,
    ),
    // gawk warns on stderr for a domain/range error of log, sqrt and exp.
    (
        "awk 'BEGIN{print log(-1), exp(1000)}'",
        "-nan +inf\n",
        0,
        true,
    ),
    (
        "awk 'BEGIN{print sqrt(-4), exp(-1000), log(0)}'",
        "-nan 0 -inf\n",
        0,
        true,
    ),
    // `--` ends yq's options anywhere, jq 1.6's only after the filter.
    (
        "yq '.version' -- catalog.yml; yq -n '\"x\"' -r",
        "\"1.0\"\nx\n",
        0,
        false,
    ),
    ("echo 1 | jq -- .; echo $?", "2\n", 0, true),
    // jq -s runs nothing when the slurped text is not all JSON.
    ("echo '1 2 x' | jq -s length; echo $?", "4\n", 0, true),
    // jq 1.6 has no `if` without `else` (jq 1.7 does): a compile error, not an answer.
    (
        "jq 'if . then \"t\" end' <<< 'false'; echo $?",
        "3\n",
        0,
        true,
    ),
    (
        "echo 1 | jq -c 'if . == 1 then \"a\" elif . == 2 then \"b\" else \"c\" end'",
        "\"a\"\n",
        0,
        false,
    ),
    // find -printf %t is ctime's format with the sub-second part; %Tc has none.
    (
        "touch -d '2024-01-02 03:04:05' /tmp/h2_t && find /tmp/h2_t -printf '%t|%Tc\\n'",
        "Tue Jan  2 03:04:05.0000000000 2024|Tue Jan  2 03:04:05 2024\n",
        0,
        false,
    ),
    // A quoted leading-zero number stays a string; plain numbers are unaffected.
    (
        "printf 'a: \"012\"\\nb: 0\\nc: 10\\n' | yq -c .",
        "{\"a\":\"012\",\"b\":0,\"c\":10}\n",
        0,
        false,
    ),
    // gawk's unsigned conversions wrap negatives; past 64 bits %d prints the whole value and
    // %x falls back to %g; one length modifier is skipped, two print the directive as text.
    (
        "awk 'BEGIN{printf \"%u|%u|%d|%d|%x|%x|%o\\n\", -1, -5, 1e20, 2^63, -1, 2^64, -8}'",
        "18446744073709551615|18446744073709551611|100000000000000000000|9223372036854775808|ffffffffffffffff|1.84467e+19|1777777777777777777770\n",
        0,
        false,
    ),
    (
        "awk 'BEGIN{printf \"%5ld|%hd|%lu|%Lf|%lld|\\n\", 42, 7, 9, 1.5, 3}'",
        "   42|7|9|1.500000|%lld|\n",
        0,
        false,
    ),
    // GNU pads cmp -l's offsets to the digits of the largest it could print: 19 with two pipes.
    (
        "cmp -l <(echo ab) <(echo ac)",
        "                  2 142 143\n",
        1,
        false,
    ),
    (
        "echo ab | cmp -l - entities/orders.yml | head -2",
        "   1 141 156\n   2 142 141\n",
        0,
        true,
    ),
    (
        "cmp -l -n 5 catalog.yml glossary.yml",
        "3 111 102\n4 156 165\n5 144 163\n",
        1,
        false,
    ),
    // `set -o`/`shopt` list bash 5.2's options with its `bash -c` defaults and the script's
    // changes; options with no effect in a non-interactive shell are recorded.
    (
        "set -o | head -3",
        "allexport      \toff\nbraceexpand    \ton\nemacs          \toff\n",
        0,
        false,
    ),
    (
        "set -o pipefail; set +o | grep pipefail",
        "set -o pipefail\n",
        0,
        false,
    ),
    (
        "shopt -s globstar; shopt -p globstar; shopt | grep -c .",
        "shopt -s globstar\n57\n",
        0,
        false,
    ),
    (
        "shopt -s autocd; shopt autocd",
        "autocd         \ton\n",
        0,
        false,
    ),
    ("shopt -op errexit", "set +o errexit\n", 1, false),
    ("shopt -su extglob; echo $?", "1\n", 0, true),
    // POSIX matches are leftmost-longest: of the matches starting leftmost, the longest, not
    // the first alternative (the `regex` crate's Perl rule).
    (
        "grep -oE 'order|orders' catalog.yml | sort | uniq -c",
        "      6 order\n      3 orders\n",
        0,
        false,
    ),
    (
        "echo 'customer_id customer' | grep -oE 'customer|customer_id'",
        "customer_id\ncustomer\n",
        0,
        false,
    ),
    ("echo 'xyz' | grep -oE 'x(y|yz)?'", "xyz\n", 0, false),
    (
        "grep -oF -e order -e orders catalog.yml | sort | uniq -c",
        "      6 order\n      3 orders\n",
        0,
        false,
    ),
    (
        "echo 'x=1;y=22' | grep -oE '[0-9]|[0-9]+'",
        "1\n22\n",
        0,
        false,
    ),
    // awk's sub, gsub, match, split, FS and gensub match leftmost-longest too.
    (
        "echo abcd | awk '{sub(/a|ab/,\"X\"); print}'",
        "Xcd\n",
        0,
        false,
    ),
    (
        "echo abcd | awk '{gsub(/b|bc/,\"<&>\"); print}'",
        "a<bc>d\n",
        0,
        false,
    ),
    (
        "echo 'order_total' | awk '{match($0, /order|order_total/); print RSTART, RLENGTH}'",
        "1 11\n",
        0,
        false,
    ),
    (
        "echo 'a1b22c' | awk -F'[0-9]|[0-9]+' '{print NF, $2, $3}'",
        "3 b c\n",
        0,
        false,
    ),
    (
        "echo 'xabcx' | awk '{print gensub(/(a|ab)(c|bcd)?/, \"[\\\\1|\\\\2]\", \"g\")}'",
        "x[ab|c]x\n",
        0,
        false,
    ),
    // sed's s/// and addresses: leftmost-longest, groups of that match.
    ("echo abcd | sed -E 's/a|ab/X/'", "Xcd\n", 0, false),
    (
        "echo abcd | sed -E 's/(a|ab)(c|bcd)?/[\\1|\\2]/'",
        "[a|bcd]\n",
        0,
        false,
    ),
    (
        "echo 'order_total order' | sed -E 's/order|order_total/X/g'",
        "X X\n",
        0,
        false,
    ),
    // Backreferences in POSIX patterns select lines exactly (a backtracking engine).
    ("grep '\\(o\\)\\1' catalog.yml | wc -l", "3\n", 0, false),
    (
        "grep -c -E '([a-z])\\1' entities/orders.yml",
        "19\n",
        0,
        false,
    ),
    ("echo 'abab' | grep -E '^(ab)\\1$'", "abab\n", 0, false),
    ("grep -E '(a)\\2' catalog.yml", "", 2, true),
];

/// Features this sandbox lacks: refused with exit 2 and "not supported", never answered.
const REFUSED: &[&str] = &[
    // Which match -o prints depends on the engine's preference; POSIX wants the longest.
    "grep -oE '(o)\\1' catalog.yml",
    // Options that change what bash does and are not implemented: refused, not ignored.
    "set +B; echo {a,b}",
    "set -a; x=1; env | grep -c ^x=",
    "shopt -s xpg_echo; echo 'a\\nb'",
    "shopt -s inherit_errexit; echo after",
    "timeout 0.1 sleep 1",
    "echo ~root",
    "printf '%.2f\\n' 0x1p3; echo after",
    "printf '%.1s|\\n' 'éa'; echo after",
    "echo 'héllo' | rev",
    "echo $UID",
    "echo \"$OSTYPE $MACHTYPE\"",
    "echo \"${PPID}\" $LINENO",
    "printf '%.1s|\\n' 'éa'",
    "x='héllo'; echo \"${x:0:2}\"",
    "awk 'BEGIN{getline line; print line}' catalog.yml; echo \"rc=$?\"",
    "awk 'BEGIN { print ARGC, ARGV[1] }' catalog.yml",
    "awk 'BEGINFILE { print FILENAME }' catalog.yml",
    "sed --posix 's/a\\+/X/' <<< aa+",
    "declare -A h; h[a b]=1; echo \"${h[a b]}\"",
    "a=(1 2); a[0 + 1]=5; echo \"${a[@]}\"",
    "which perl; echo \"rc=$?\"",
    "command -v perl || echo none",
    "type -t dd",
    // python yq gives jq the files after an option that follows the filter.
    "yq '.version' -r catalog.yml",
    "yq '.dimensions | length' -c entities/orders.yml",
    // python yq reads a leading-zero integer as octal.
    "printf 'a: 012\\n' | yq -c .",
    // -ok asks on stdin before each command.
    "find . -name catalog.yml -ok echo {} \\;",
];

/// The corpus's environment (`differential::PROLOGUE`), over the example layer; a fresh engine
/// per case, so writes (`sed -i`) stay in one case's memory layer.
fn runner() -> Runner {
    Runner::example_layer().prologue("export LC_ALL=C TZ=UTC HOME=/tmp\n")
}

#[test]
fn model_commands_match_bash() {
    runner().assert_like_bash(CASES);
}

#[test]
fn missing_features_are_refused() {
    runner().assert_refused(REFUSED);
}

/// A program bash's system has and this sandbox lacks stops the script with 127 ("command not
/// found"): going on would print what bash does not (`perl ... | head` empty with exit 0). A
/// name no system has keeps bash's behaviour: 127 for that command, and the script goes on.
#[test]
fn absent_standard_programs_stop_the_script() {
    for script in [
        "perl -ne 'print if /name/' catalog.yml | head -2; echo after",
        "pr -t catalog.yml | head -3",
        "nproc || echo fallback",
        "ls entities | pr -3 -t | head -2",
    ] {
        let out = runner().run(script);
        assert_eq!(out.exit_code, 127, "{script}");
        assert_eq!(out.stdout_str(), "", "{script}");
        assert!(out.stderr_str().contains("command not found"), "{script}");
    }
    let out = runner().run("nosuchtool | head -1; echo \"rc=$?\"");
    assert_eq!(out.stdout_str(), "rc=0\n");
}
