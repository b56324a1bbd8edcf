//! The commands and options added after a hunt over model-style commands: `join`, `mktemp`,
//! `fmt`, `cksum`, `shuf`, `hexdump`, `uname`, `yes`, `tree -J`, `sort -m`, `ls -w`, `xargs -a/-E`,
//! `uniq --group`, `wc --files0-from`, `realpath --relative-to`, and sed's `-z`, `r R w W F` and
//! `s///w`. Each case runs over the example layer and is checked against what bash 5.2 printed
//! with GNU coreutils 9.1, sed 4.9, findutils, util-linux 2.38 (hexdump) and tree 2.1
//! (`LC_ALL=C TZ=UTC`, recorded with `bash -c` in a fresh copy of the layer): stdout, exit
//! status, and whether stderr is empty. Random output (`shuf`, `mktemp` names) is checked
//! through what does not vary: sorted sets, counts, shapes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use std::time::{Duration, Instant};

use common::{Case, Runner};

/// (script, stdout, exit status, stderr is non-empty), as bash printed them.
const CASES: &[Case] = &[
    (
        "mkdir -p /tmp/t; printf 'b 1\\na 2\\nc 3\\n' > /tmp/t/u1; printf 'a x\\nc y\\n' > /tmp/t/u2; join /tmp/t/u1 /tmp/t/u2; echo rc=$?",
        "c 3 y\nrc=1\n",
        0,
        true,
    ),
    (
        "mkdir -p /tmp/t; printf 'a 1\\nc 3\\nb 2\\n' > /tmp/t/u3; printf 'a x\\n' > /tmp/t/u4; join /tmp/t/u3 /tmp/t/u4; join -a1 /tmp/t/u3 /tmp/t/u4; echo rc=$?",
        "a 1 x\na 1 x\nc 3\nb 2\nrc=0\n",
        0,
        false,
    ),
    (
        "mkdir -p /tmp/t; printf 'a 1\\nc 3\\nb 2\\n' > /tmp/t/u3; printf 'a x\\n' > /tmp/t/u4; join --check-order /tmp/t/u3 /tmp/t/u4; echo rc=$?",
        "a 1 x\nrc=1\n",
        0,
        true,
    ),
    (
        "mkdir -p /tmp/t; printf 'a 1\\nc 3\\nb 2\\n' > /tmp/t/u3; printf 'a x\\n' > /tmp/t/u4; join -t '\\0' /tmp/t/u3 /tmp/t/u4; echo rc=$?; join --nocheck-order -t '\\0' /tmp/t/u3 /tmp/t/u4; echo rc=$?",
        "rc=1\nrc=0\n",
        0,
        true,
    ),
    (
        "mkdir -p /tmp/t; printf 'id,name\\n1,ann\\n2,bob\\n4,dan\\n' > /tmp/t/a.csv; printf 'id,score\\n1,90\\n3,70\\n4,88\\n' > /tmp/t/b.csv; join -t, --header /tmp/t/a.csv /tmp/t/b.csv; join -t, --header -a1 -a2 -e NA -o auto /tmp/t/a.csv /tmp/t/b.csv; join -t, --header -v2 /tmp/t/a.csv /tmp/t/b.csv",
        "id,name,score\n1,ann,90\n4,dan,88\nid,name,score\n1,ann,90\n2,bob,NA\n3,NA,70\n4,dan,88\nid,name,score\n3,70\n",
        0,
        false,
    ),
    (
        "mkdir -p /tmp/t; printf 'x A 1\\ny b 2\\ny c 3\\n' > /tmp/t/k1; printf 'a foo\\nB bar\\nc baz\\n' > /tmp/t/k2; join -i -1 2 -2 1 /tmp/t/k1 /tmp/t/k2; join -1 2 -o 1.1,2.2,0 /tmp/t/k1 /tmp/t/k2; echo rc=$?",
        "A x 1 foo\nb y 2 bar\nc y 3 baz\ny baz c\nrc=1\n",
        0,
        true,
    ),
    (
        "mkdir -p /tmp/t; printf 'k 1\\nk 2\\nk 3\\n' > /tmp/t/m1; printf 'k a\\nk b\\n' > /tmp/t/m2; join /tmp/t/m1 /tmp/t/m2; join -v1 /tmp/t/m1 /tmp/t/m2; echo rc=$?",
        "k 1 a\nk 1 b\nk 2 a\nk 2 b\nk 3 a\nk 3 b\nrc=0\n",
        0,
        false,
    ),
    (
        "mkdir -p /tmp/t; printf '  a   1  \\n\\tb 2\\n\\n c\\n' > /tmp/t/w1; printf 'a X\\nb Y\\nc Z\\n' > /tmp/t/w2; join -a1 -e E -o auto /tmp/t/w1 /tmp/t/w2",
        "a 1 E X\nb 2 E Y\nE E E E\nc E E Z\n",
        0,
        false,
    ),
    (
        "mkdir -p /tmp/t; printf 'a 1\\nb 2' > /tmp/t/n1; printf 'a x\\nb y' > /tmp/t/n2; join -z /tmp/t/n1 /tmp/t/n2 | od -c",
        "0000000   a       1       b       2       x       b       y  \\0\n0000016\n",
        0,
        false,
    ),
    (
        "join /tmp/nonexist catalog.yml; echo rc=$?; join catalog.yml; echo rc=$?; join -o 3.1 a b; echo rc=$?; join -j 2 -1 1 a b; echo rc=$?; join -t ab a b; echo rc=$?; join - - ; echo rc=$?",
        "rc=1\nrc=1\nrc=1\nrc=1\nrc=1\nrc=1\n",
        0,
        true,
    ),
    (
        "for f in entities/*.yml; do printf '%s %s\\n' \"$(basename $f .yml)\" \"$(wc -l < $f)\"; done > /tmp/e1; ls metrics | sed 's/\\.yml$//' | sort | awk '{print $1, \"metric\"}' > /tmp/e2; join -a1 -a2 -e - -o 0,1.2,2.2 /tmp/e1 /tmp/e2",
        "carts 44 -\ncategories 31 -\nconversion - metric\ncustomers 69 metric\nfulfillment - metric\ninventory 39 metric\nmarketing - metric\nmarkets 48 -\norder_items 57 -\norders 100 metric\npayments 53 metric\nproducts 57 -\npromotions 39 -\nrefunds 55 metric\nretention - metric\nreturns 43 -\nrevenue - metric\nreviews 47 -\nshipments 56 -\nsubscriptions 45 metric\nsuppliers 31 -\nsupport - metric\nsupport_tickets 52 -\n",
        0,
        false,
    ),
    (
        "mktemp -u fooXX; echo rc=$?; mktemp /nonexist/aXXXXXX; echo rc=$?; mktemp -u a b; echo rc=$?; mktemp -u -p /tmp /abs/XXXX; echo rc=$?; mktemp -u -t a/bXXX; echo rc=$?; mktemp -u --suffix=/x aXXX; echo rc=$?; mktemp -u --suffix=.x aXXXb; echo rc=$?",
        "rc=1\nrc=1\nrc=1\nrc=1\nrc=1\nrc=1\nrc=1\n",
        0,
        true,
    ),
    (
        "f=$(mktemp); test -f $f && echo file; stat -c %a $f; d=$(mktemp -d); test -d $d && echo dir; stat -c %a $d; case $d in /tmp/tmp.??????????) echo ok;; esac; f=$(mktemp -p /tmp abcXXXXXX.txt); case $f in /tmp/abc??????.txt) echo ok;; esac",
        "file\n600\ndir\n700\nok\nok\n",
        0,
        false,
    ),
    (
        "a=$(mktemp -u); b=$(mktemp -u); [ \"$a\" != \"$b\" ] && echo differ; f=$(mktemp --suffix=.csv); case $f in /tmp/tmp.??????????.csv) echo ok;; esac; f=$(TMPDIR=/tmp/ mktemp -t zXXX); echo ${#f}",
        "differ\nok\n9\n",
        0,
        false,
    ),
    (
        "cksum catalog.yml glossary.yml; cksum < catalog.yml; cksum -a sysv catalog.yml; cksum -a bsd catalog.yml; cksum -a sha1 catalog.yml; cksum --untagged -a sha256 catalog.yml; cksum -a md5 - < glossary.yml",
        "2127116195 4058 catalog.yml\n3438266046 2209 glossary.yml\n2127116195 4058\n34344 8 catalog.yml\n49715     4 catalog.yml\nSHA1 (catalog.yml) = 5fef76c82d7968905b24722ee229d475d81526d8\ne257aef1f945985a2766a1f75786f552bf3e0cb1578283935c0797f505717302  catalog.yml\nMD5 (-) = 42289ffe404e3ef26b65d22758856a58\n",
        0,
        false,
    ),
    (
        "cksum nonexist catalog.yml; echo rc=$?; printf '' | cksum; printf 'a' | cksum -a bsd; printf 'a' | cksum -a sysv; cksum -a foo catalog.yml; echo rc=$?",
        "2127116195 4058 catalog.yml\nrc=1\n4294967295 0\n00097     1\n97 1\nrc=1\n",
        0,
        true,
    ),
    (
        "hexdump -C catalog.yml | head -4; hexdump catalog.yml | head -3; hexdump -n 20 -s 5 catalog.yml; hexdump -C -n 40 -s 2 glossary.yml; hexdump -C glossary.yml | tail -2",
        "00000000  23 20 49 6e 64 65 78 20  6f 66 20 74 68 65 20 41  |# Index of the A|\n00000010  63 6d 65 20 53 68 6f 70  20 73 65 6d 61 6e 74 69  |cme Shop semanti|\n00000020  63 20 6c 61 79 65 72 2e  20 53 74 61 72 74 20 68  |c layer. Start h|\n00000030  65 72 65 2e 0a 76 65 72  73 69 6f 6e 3a 20 27 31  |ere..version: '1|\n0000000 2023 6e49 6564 2078 666f 7420 6568 4120\n0000010 6d63 2065 6853 706f 7320 6d65 6e61 6974\n0000020 2063 616c 6579 2e72 5320 6174 7472 6820\n0000005 7865 6f20 2066 6874 2065 6341 656d 5320\n0000015 6f68 2070                              \n0000019\n00000002  42 75 73 69 6e 65 73 73  20 74 65 72 6d 73 2e 20  |Business terms. |\n00000012  73 74 61 74 75 73 3a 20  61 6d 62 69 67 75 6f 75  |status: ambiguou|\n00000022  73 20 6d 65 61 6e 73 20                           |s means |\n0000002a\n000008a0  0a                                                |.|\n000008a1\n",
        0,
        false,
    ),
    (
        "hexdump -x catalog.yml | head -2; hexdump -d catalog.yml | head -2; hexdump -o catalog.yml | head -2; hexdump -b catalog.yml | head -2; hexdump -c catalog.yml | head -2",
        "0000000    2023    6e49    6564    2078    666f    7420    6568    4120\n0000010    6d63    2065    6853    706f    7320    6d65    6e61    6974\n0000000   08227   28233   25956   08312   26223   29728   25960   16672\n0000010   28003   08293   26707   28783   29472   28005   28257   26996\n0000000  020043  067111  062544  020170  063157  072040  062550  040440\n0000010  066543  020145  064123  070157  071440  066545  067141  064564\n0000000 043 040 111 156 144 145 170 040 157 146 040 164 150 145 040 101\n0000010 143 155 145 040 123 150 157 160 040 163 145 155 141 156 164 151\n0000000   #       I   n   d   e   x       o   f       t   h   e       A\n0000010   c   m   e       S   h   o   p       s   e   m   a   n   t   i\n",
        0,
        false,
    ),
    (
        "printf 'abc' | hexdump; printf 'abc' | hexdump -C; printf '' | hexdump -C; echo rc=$?; printf '%0100d' 0 | tr 0 '\\0' | hexdump -C; printf '%040d' 0 | tr 0 '\\0' | hexdump -bc; printf 'ab\\tc\\n\\001\\377\\0' | hexdump -c",
        "0000000 6261 0063                              \n0000003\n00000000  61 62 63                                          |abc|\n00000003\nrc=0\n00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n00000060  00 00 00 00                                       |....|\n00000064\n0000000 000 000 000 000 000 000 000 000 000 000 000 000 000 000 000 000\n0000000  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0\n*\n0000020 000 000 000 000 000 000 000 000                                \n0000020  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0                                \n0000028\n0000000   a   b  \\t   c  \\n 001 377  \\0                                \n0000008\n",
        0,
        false,
    ),
    (
        "hexdump -s 1000000 catalog.yml; hexdump -n 0 catalog.yml; echo rc=$?; hexdump -n x catalog.yml; echo rc=$?; hexdump nonexist; echo rc=$?; hexdump catalog.yml nonexist | tail -1; echo rc=$?; hexdump -s 010 -n 2 catalog.yml",
        "0000fda\nrc=0\nrc=1\nrc=1\n0000fda\nrc=0\n0000008 666f                                   \n000000a\n",
        0,
        true,
    ),
    (
        "uname; uname -s; uname -o; uname -p; uname -i; uname x; echo rc=$?",
        "Linux\nLinux\nGNU/Linux\nunknown\nunknown\nrc=1\n",
        0,
        true,
    ),
    (
        "shuf -i 3-2; echo rc=$?; shuf -i 3-1; echo rc=$?; shuf -i a-3; echo rc=$?; shuf -n -1 -e a; echo rc=$?; shuf -n x -e a; echo rc=$?; shuf a b; echo rc=$?; shuf -e; echo rc=$?; shuf -i 5-5",
        "rc=0\nrc=1\nrc=1\nrc=1\nrc=1\nrc=1\nrc=0\n5\n",
        0,
        true,
    ),
    (
        "shuf -r -n 2 </dev/null; echo rc=$?; shuf -e -i 1-3; echo rc=$?; shuf -i 1-3 x; echo rc=$?; printf 'a\\nb' | shuf | sort; shuf -n 0 -e a; shuf -i 1-5 | sort -n; shuf -e a a b | sort; shuf -n 3 -i 1-10 -r | wc -l",
        "rc=1\nrc=1\nrc=1\na\nb\n1\n2\n3\n4\n5\na\na\nb\n3\n",
        0,
        true,
    ),
    (
        "shuf -n 2 -i 1-3 -n 1 | wc -l; shuf -z -e a b | sort -z | od -c; shuf -o /tmp/so -e x y; sort /tmp/so; ls entities | shuf | sort | head -3; shuf -n 4 -i 1-1000000000 | sort -u | wc -l",
        "1\n0000000   a  \\0   b  \\0\n0000004\nx\ny\ncarts.yml\ncategories.yml\ncustomers.yml\n4\n",
        0,
        false,
    ),
    (
        "fmt -w 40 catalog.yml | head -12; fmt -w 60 -u glossary.yml | tail -5; fmt -s -w 30 entities/orders.yml | head -8",
        "# Index of the Acme Shop semantic\nlayer. Start here.  version:\n'1.0' name: acme_shop description:\nSemantic layer of Acme Shop, an online\nretailer selling household goods in\nfive markets.\n  Most facts join to customers on\n  customer_id.\nentities: - name: customers\n  file: entities/customers.yml grain:\n  one row per registered customer\n  description: Registered shoppers.\n    units on the latest inventory snapshot.  tables: -\n    logistics.inventory_snapshots\n  market:\n    status: defined definition: A country storefront with\n    its own currency.  tables: - shop.markets\nname: orders\ntype: fact_table\ntable: shop.orders\ngrain: one row per order\n(a checkout)\ndescription: Placed\norders. Cancelled orders stay\nin the table with status =\n",
        0,
        false,
    ),
    (
        "grep -h description entities/*.yml | sed 's/^ *description: //' | fmt -w 50 | head -15; grep -h description metrics/*.yml | tr '\\n' ' ' | fmt -w 72 | head -5",
        "Shopping carts, including abandoned\nones. converted_order_id is set when checkout\nfinished.  Session cart id Known customer,\nnull for anonymous First item added Resulting\norder, if any Carts Carts that became orders\nWho the row belongs to 'Category tree (three\nlevels: department > category > subcategory).'\nSurrogate key Parent node, null for departments\nDisplay name 1 = department, 2 = category,\n3 = subcategory Registered shoppers. A guest\ncheckout creates a customer with is_guest\n= true.  Surrogate key of the customer Domain\npart of the e-mail address (the address itself\nis not exposed) Day the account was created\n(UTC) ISO 3166-1 alpha-2 country of the default\n  description: Carts that turned into an order.   description:\n  Distinct customer_id with a non-cancelled order in the period.\n  description: Customers whose first order falls in the period.\n  description: Parcels delivered within the promised window.\n  description: Mean days from carrier hand-off to delivery.\n",
        0,
        false,
    ),
    (
        "printf 'Hello world.  This is it. Yes! (paren) [x] \"q\" a, b; c: d\\n' | fmt -w 20; printf '\\tindented line one\\n\\tindented two words here\\n\\n  other para with   spaces\\n  and more\\n' | fmt -w 25",
        "Hello world.  This\nis it. Yes! (paren)\n[x] \"q\" a, b; c: d\n\tindented line\n\tone indented two\n\twords here\n\n  other para with\n  spaces and more\n",
        0,
        false,
    ),
    (
        "printf '# a b c d e f g h i j k l m n o p\\n# q r s\\nno prefix here\\n' | fmt -p '# ' -w 12; printf '  first\\nsecond line here\\nthird\\n' | fmt -t -w 12; printf '  first\\nsecond line here\\nthird\\n' | fmt -c -w 12",
        "# a b c d e\n# f g h i j\n# k l m n o\n# p q r s\nno prefix here\n  first\nsecond line\nhere third\n  first\nsecond line\nhere third\n",
        0,
        false,
    ),
    (
        "fmt -w x catalog.yml; echo rc=$?; fmt -w 3000 catalog.yml; echo rc=$?; fmt -g 80 catalog.yml; echo rc=$?; fmt -40 catalog.yml | head -3; fmt nonexist; echo rc=$?",
        "rc=1\nrc=1\nrc=1\n# Index of the Acme Shop semantic\nlayer. Start here.  version:\n'1.0' name: acme_shop description:\nrc=1\n",
        0,
        true,
    ),
    (
        "printf 'b\\na\\n' > /tmp/m1; printf 'a\\nc\\n' > /tmp/m2; sort -m /tmp/m1 /tmp/m2; sort -m -u /tmp/m1 /tmp/m2 /tmp/m1; sort -m -r /tmp/m1 /tmp/m2",
        "a\nb\na\nc\na\nb\na\nb\na\nc\nb\na\na\nc\n",
        0,
        false,
    ),
    (
        "printf '3\\n10\\n' > /tmp/n1; printf '2\\n20\\n' > /tmp/n2; sort -m -n /tmp/n1 /tmp/n2; sort --merge -nr /tmp/n2 /tmp/n1; sort --parallel=4 /tmp/n1; sort --parallel=0 /tmp/n1; echo rc=$?; sort --parallel=x /tmp/n1; echo rc=$?",
        "2\n3\n10\n20\n3\n10\n2\n20\n10\n3\nrc=2\nrc=2\n",
        0,
        true,
    ),
    (
        "ls entities | sort > /tmp/s1; ls metrics | sort > /tmp/s2; sort -m /tmp/s1 /tmp/s2 | uniq -d; sort -m -t. -k1,1 /tmp/s1 /tmp/s2 | tail -3",
        "customers.yml\ninventory.yml\norders.yml\npayments.yml\nrefunds.yml\nsubscriptions.yml\nsuppliers.yml\nsupport.yml\nsupport_tickets.yml\n",
        0,
        false,
    ),
    (
        "ls -w 40 entities; ls -C -w 0 entities; ls -w x; echo rc=$?; ls -C -w 30 metrics; COLUMNS=200 ls -C -w 30 metrics; ls -x -w 60 entities; ls -m -w 50 metrics; ls --width=100 -C entities",
        "carts.yml\ncategories.yml\ncustomers.yml\ninventory.yml\nmarkets.yml\norder_items.yml\norders.yml\npayments.yml\nproducts.yml\npromotions.yml\nrefunds.yml\nreturns.yml\nreviews.yml\nshipments.yml\nsubscriptions.yml\nsuppliers.yml\nsupport_tickets.yml\ncarts.yml  categories.yml  customers.yml  inventory.yml  markets.yml  order_items.yml  orders.yml  payments.yml  products.yml  promotions.yml  refunds.yml  returns.yml  reviews.yml  shipments.yml  subscriptions.yml  suppliers.yml  support_tickets.yml\nrc=2\nconversion.yml\ncustomers.yml\nfulfillment.yml\ninventory.yml\nmarketing.yml\norders.yml\npayments.yml\nrefunds.yml\nretention.yml\nrevenue.yml\nsubscriptions.yml\nsupport.yml\nconversion.yml\ncustomers.yml\nfulfillment.yml\ninventory.yml\nmarketing.yml\norders.yml\npayments.yml\nrefunds.yml\nretention.yml\nrevenue.yml\nsubscriptions.yml\nsupport.yml\ncarts.yml\tcategories.yml\t     customers.yml\ninventory.yml\tmarkets.yml\t     order_items.yml\norders.yml\tpayments.yml\t     products.yml\npromotions.yml\trefunds.yml\t     returns.yml\nreviews.yml\tshipments.yml\t     subscriptions.yml\nsuppliers.yml\tsupport_tickets.yml\nconversion.yml, customers.yml, fulfillment.yml,\ninventory.yml, marketing.yml, orders.yml,\npayments.yml, refunds.yml, retention.yml,\nrevenue.yml, subscriptions.yml, support.yml\ncarts.yml\tmarkets.yml\t products.yml\t reviews.yml\t    support_tickets.yml\ncategories.yml\torder_items.yml  promotions.yml  shipments.yml\ncustomers.yml\torders.yml\t refunds.yml\t subscriptions.yml\ninventory.yml\tpayments.yml\t returns.yml\t suppliers.yml\n",
        0,
        true,
    ),
    (
        "printf 'a b\\nSTOP c\\nd\\n' | xargs -E STOP echo; printf 'a b\\nSTOP c\\nd\\n' | xargs -E STOP -n1 echo; printf 'a\\0STOP\\0c\\0' | xargs -0 -E STOP echo; printf 'a b\\nSTOP\\nd\\n' | xargs -I{} -E STOP echo x{}; printf 'a b\\nSTOP c\\nd\\n' | xargs -L1 -E STOP echo",
        "a b\na\nb\na STOP c\nxa b\na b\n",
        0,
        true,
    ),
    (
        "printf 'a \"STOP\" b\\n' | xargs -E STOP echo; printf 'a _ b\\n' | xargs -e echo; printf 'a _ b\\n' | xargs -e_ echo; printf 'a _ b\\n' | xargs -E '' echo",
        "a\na _ b\na\na _ b\n",
        0,
        false,
    ),
    (
        "ls metrics > /tmp/af; xargs -a /tmp/af echo | wc -w; echo hi | xargs -a /tmp/nonexist echo; echo rc=$?; printf '' > /tmp/ae; echo hi | xargs -a /tmp/ae cat; xargs --arg-file=/tmp/af -n 4 echo",
        "12\nrc=1\nhi\nconversion.yml customers.yml fulfillment.yml inventory.yml\nmarketing.yml orders.yml payments.yml refunds.yml\nretention.yml revenue.yml subscriptions.yml support.yml\n",
        0,
        true,
    ),
    (
        "printf 'a\\na\\nb\\nc\\nc\\n' > /tmp/g; uniq --group /tmp/g; uniq --group=prepend /tmp/g; uniq --group=append /tmp/g; uniq --group=both /tmp/g; printf '' | uniq --group=both | wc -c",
        "a\na\n\nb\n\nc\nc\n\na\na\n\nb\n\nc\nc\na\na\n\nb\n\nc\nc\n\n\na\na\n\nb\n\nc\nc\n\n0\n",
        0,
        false,
    ),
    (
        "printf 'a\\na\\nb\\n' > /tmp/g; uniq --group=x /tmp/g; echo rc=$?; uniq --group -c /tmp/g; echo rc=$?; uniq --group -d /tmp/g; echo rc=$?; grep -h '^type:' entities/*.yml | sort | uniq --group",
        "rc=1\nrc=1\nrc=1\ntype: dimension_table\ntype: dimension_table\ntype: dimension_table\ntype: dimension_table\ntype: dimension_table\ntype: dimension_table\n\ntype: fact_table\ntype: fact_table\ntype: fact_table\ntype: fact_table\ntype: fact_table\ntype: fact_table\ntype: fact_table\ntype: fact_table\ntype: fact_table\ntype: fact_table\ntype: fact_table\n",
        0,
        true,
    ),
    (
        "printf 'catalog.yml\\0glossary.yml\\0' > /tmp/f0; wc --files0-from=/tmp/f0; wc -l --files0-from=/tmp/f0; printf 'catalog.yml\\0' | wc --files0-from=-; wc --files0-from=/tmp/f0 x; echo rc=$?",
        " 135  531 4058 catalog.yml\n  71  254 2209 glossary.yml\n 206  785 6267 total\n 135 catalog.yml\n  71 glossary.yml\n 206 total\n135 531 4058 catalog.yml\nrc=1\n",
        0,
        true,
    ),
    (
        "printf 'catalog.yml\\0\\0nonexist\\0' | wc -l --files0-from=-; echo rc=$?; printf '' | wc --files0-from=-; echo rc=$?; printf -- '-\\0' | wc --files0-from=-; echo rc=$?; wc --files0-from=/nonexist; echo rc=$?",
        "135 catalog.yml\n135 total\nrc=1\nrc=0\nrc=1\nrc=1\n",
        0,
        true,
    ),
    (
        "find metrics -name '*.yml' -print0 | wc -l --files0-from=- | tail -2; printf 'catalog.yml\\0glossary.yml\\0' > /tmp/f0; wc --files0-from=- < /tmp/f0",
        "28 metrics/refunds.yml\n296 total\n 135  531 4058 catalog.yml\n  71  254 2209 glossary.yml\n 206  785 6267 total\n",
        0,
        false,
    ),
    (
        "tree -J entities | head -5; tree -J -d --noreport .; tree -J -f -L 1 metrics | tail -4; tree -J -L 1",
        "[\n  {\"type\":\"directory\",\"name\":\"entities\",\"contents\":[\n    {\"type\":\"file\",\"name\":\"carts.yml\"},\n    {\"type\":\"file\",\"name\":\"categories.yml\"},\n    {\"type\":\"file\",\"name\":\"customers.yml\"},\n[\n  {\"type\":\"directory\",\"name\":\".\",\"contents\":[\n    {\"type\":\"directory\",\"name\":\"entities\"},\n    {\"type\":\"directory\",\"name\":\"groups\",\"contents\":[\n      {\"type\":\"directory\",\"name\":\"finance\",\"contents\":[\n        {\"type\":\"directory\",\"name\":\"entities\"}\n      ]}\n    ]},\n    {\"type\":\"directory\",\"name\":\"metrics\"}\n  ]}\n\n]\n  ]}\n,\n  {\"type\":\"report\",\"directories\":1,\"files\":12}\n]\n[\n  {\"type\":\"directory\",\"name\":\".\",\"contents\":[\n    {\"type\":\"file\",\"name\":\"catalog.yml\"},\n    {\"type\":\"directory\",\"name\":\"entities\"},\n    {\"type\":\"file\",\"name\":\"glossary.yml\"},\n    {\"type\":\"directory\",\"name\":\"groups\"},\n    {\"type\":\"directory\",\"name\":\"metrics\"}\n  ]}\n,\n  {\"type\":\"report\",\"directories\":4,\"files\":2}\n]\n",
        0,
        false,
    ),
    (
        "printf 'a\\0b\\0c' | sed -z 'N;l' | od -c; printf 'a\\0b\\0' | sed -z 'a foo' | od -c; printf 'a\\0b\\0' | sed -z 'G' | od -c; printf 'a\\nb\\n' | sed -z 's/\\n/,/g'",
        "0000000   a   \\   0   0   0   b   $  \\0   a  \\0   b  \\0   c\n0000015\n0000000   a  \\0   f   o   o  \\n   b  \\0   f   o   o  \\n\n0000014\n0000000   a  \\0  \\0   b  \\0  \\0\n0000006\na,b,",
        0,
        false,
    ),
    (
        "find entities -name 'c*.yml' -print0 | sort -z | sed -z 's/^entities\\///' | tr '\\0' '\\n'; printf 'a\\0b\\0' | sed -z '$!N;P;D' | od -c",
        "carts.yml\ncategories.yml\ncustomers.yml\n0000000   a  \\0   b  \\0\n0000004\n",
        0,
        false,
    ),
    (
        "printf 'x' > /tmp/rf; printf 'a\\nb\\n' | sed 'r /tmp/rf' | od -c; printf 'l1\\nl2' > /tmp/Rf; printf 'a\\nb\\nc\\n' | sed 'R /tmp/Rf' | od -c; printf 'a\\nb\\n' | sed 'r /tmp/nonexist'; printf 'a\\nb\\n' | sed 'r'; echo rc=$?",
        "0000000   a  \\n   x   b  \\n   x\n0000006\n0000000   a  \\n   l   1  \\n   b  \\n   l   2   c  \\n\n0000013\na\nb\nrc=1\n",
        0,
        true,
    ),
    (
        "printf 'a\\nb\\n' | sed -n $'/a/w /tmp/wout\\np'; cat /tmp/wout; printf 'a\\nb\\n' | sed 's/a/X/w /dev/stdout'; printf 'a\\nb\\n' | sed '1F;$='; printf 'a\\nb\\n' > /tmp/in1; sed F /tmp/in1 - < /tmp/in1",
        "a\nb\na\nX\nX\nb\n-\na\n2\nb\n/tmp/in1\na\n/tmp/in1\nb\n-\na\n-\nb\n",
        0,
        false,
    ),
    (
        "printf 'a\\nb\\n' | sed 'W /dev/stderr' 2>/dev/null; printf 'a\\nb\\n' | sed '2q; w /tmp/never' >/dev/null; cat /tmp/never; printf 'a\\nb' | sed 'w /tmp/wo2' ; od -c /tmp/wo2",
        "a\nb\na\na\nb0000000   a  \\n   b\n0000003\n",
        0,
        false,
    ),
    (
        "sed -n '/^name:/w /tmp/names.txt' entities/*.yml; wc -l < /tmp/names.txt; sed -n '1F' catalog.yml glossary.yml; sed -s -n '1F' catalog.yml glossary.yml; sed '2r glossary.yml' catalog.yml | sed -n '1,5p'",
        "17\ncatalog.yml\ncatalog.yml\nglossary.yml\n# Index of the Acme Shop semantic layer. Start here.\nversion: '1.0'\n# Business terms. status: ambiguous means ask the user before choosing a mapping.\nterms:\n  revenue:\n",
        0,
        false,
    ),
    (
        "printf 'a\\nb\\n' > /tmp/ip; sed -i 's/a/A/w /dev/stdout' /tmp/ip; cat /tmp/ip; printf 'a\\nb\\n' | sed 'w /nonexistdir/x'; echo rc=$?",
        "A\nA\nb\nrc=4\n",
        0,
        true,
    ),
    (
        "realpath --relative-to=entities metrics/orders.yml; realpath --relative-base=. catalog.yml; realpath --relative-to=. entities/orders.yml catalog.yml .; realpath --relative-to=metrics metrics",
        "../metrics/orders.yml\ncatalog.yml\nentities/orders.yml\ncatalog.yml\n.\n.\n",
        0,
        false,
    ),
    (
        "realpath --relative-to=entities --relative-base=. metrics/orders.yml; realpath --relative-to=nonexist catalog.yml; echo rc=$?; realpath -e --relative-to=catalog.yml entities; echo rc=$?",
        "../metrics/orders.yml\n../catalog.yml\nrc=0\nrc=1\n",
        0,
        true,
    ),
    (
        "printf 'a' | sed -n P | od -c; printf 'a\\nb' | sed -n 'N;P' | od -c; printf 'a' | sed -n 'P;p' | od -c; printf 'a' | sed -n 'W /dev/stdout' | od -c; printf 'a' | sed 'P' | od -c",
        "0000000   a\n0000001\n0000000   a  \\n\n0000002\n0000000   a  \\n   a\n0000003\n0000000   a\n0000001\n0000000   a  \\n   a\n0000003\n",
        0,
        false,
    ),
    (
        "printf 'a.b\\n' | sed -z 's/\\./\\n/;P;D' | od -c; printf 'a' | sed -n 'W /tmp/w1'; od -c /tmp/w1; printf 'a\\nb' | sed -n '$!N;W /tmp/w2'; od -c /tmp/w2; printf 'x\\ny' | sed '$!N;P;D' | od -c",
        "0000000   a  \\n   b  \\n\n0000004\n0000000   a\n0000001\n0000000   a  \\n\n0000002\n0000000   x  \\n   y\n0000003\n",
        0,
        false,
    ),
    (
        "cksum entities; echo rc=$?; cksum -a md5 entities catalog.yml; echo rc=$?; cksum -a sysv entities; echo rc=$?; cksum entities catalog.yml; echo rc=$?",
        "4294967295 0 entities\nrc=0\nMD5 (catalog.yml) = d7d82e1b19311c6bd144a3102829b555\nrc=1\nrc=1\n4294967295 0 entities\n2127116195 4058 catalog.yml\nrc=0\n",
        0,
        true,
    ),
    (
        "hexdump entities; echo rc=$?; hexdump entities catalog.yml | head -2; echo rc=$?; fmt entities; echo rc=$?; join entities catalog.yml; echo rc=$?; shuf entities; echo rc=$?",
        "rc=0\n0000000 2023 6e49 6564 2078 666f 7420 6568 4120\n0000010 6d63 2065 6853 706f 7320 6d65 6e61 6974\nrc=0\nrc=1\nrc=1\nrc=1\n",
        0,
        true,
    ),
    (
        "printf 'A\\na\\nb\\n' | uniq --group -i; printf 'x a\\ny a\\nz b\\n' | uniq --group=both -f1; printf '1\\n2\\n3\\n' > /tmp/s3; sed -s -n '$F' /tmp/s3 /tmp/s3; sed -n '2{F;=}' /tmp/s3 /tmp/s3",
        "A\na\n\nb\n\nx a\ny a\n\nz b\n\n/tmp/s3\n/tmp/s3\n/tmp/s3\n2\n",
        0,
        false,
    ),
    (
        "tree -J -a -L 2 --noreport entities | tail -3; tree -J -P 'o*' --prune; tree -J -I 'o*' metrics | tail -4; tree -J --dirsfirst -r -L 1",
        "  ]}\n\n]\n[\n  {\"type\":\"directory\",\"name\":\".\",\"contents\":[\n    {\"type\":\"directory\",\"name\":\"entities\",\"contents\":[\n      {\"type\":\"file\",\"name\":\"order_items.yml\"},\n      {\"type\":\"file\",\"name\":\"orders.yml\"}\n    ]},\n    {\"type\":\"directory\",\"name\":\"metrics\",\"contents\":[\n      {\"type\":\"file\",\"name\":\"orders.yml\"}\n    ]}\n  ]}\n,\n  {\"type\":\"report\",\"directories\":3,\"files\":3}\n]\n  ]}\n,\n  {\"type\":\"report\",\"directories\":1,\"files\":11}\n]\n[\n  {\"type\":\"directory\",\"name\":\".\",\"contents\":[\n    {\"type\":\"directory\",\"name\":\"metrics\"},\n    {\"type\":\"directory\",\"name\":\"groups\"},\n    {\"type\":\"directory\",\"name\":\"entities\"},\n    {\"type\":\"file\",\"name\":\"glossary.yml\"},\n    {\"type\":\"file\",\"name\":\"catalog.yml\"}\n  ]}\n,\n  {\"type\":\"report\",\"directories\":4,\"files\":2}\n]\n",
        0,
        false,
    ),
    (
        "mkdir -p /tmp/t; printf ' e\\nc,yy,x,yy\\n' > /tmp/t/a5; printf 'a,yy\\nc,x,2' > /tmp/t/b5; join -v1 -o 0,1.2,2.2 --check-order /tmp/t/a5 /tmp/t/b5; echo rc=$?",
        "e  \nrc=1\n",
        0,
        true,
    ),
    (
        "mkdir -p /tmp/t; printf 'a\\n' > /tmp/t/a; printf ' b\\t\\tx\\n b    2  \\n c 1 yy \\na\\tyy\\t\\nc,2,,yy\\n' > /tmp/t/b; join -v1 -v2 -i --check-order /tmp/t/a /tmp/t/b; echo rc=$?; join -v2 /tmp/t/a /tmp/t/b; echo rc=$?",
        "a\nb x\nb 2 \nc 1 yy \nrc=1\nb x\nb 2 \nc 1 yy \na yy \nc,2,,yy\nrc=1\n",
        0,
        true,
    ),
    (
        "mkdir -p /tmp/t; printf a > /tmp/t/f1; printf 'b\\n' > /tmp/t/f2; sed p /tmp/t/f1 /tmp/t/f2 | od -c; sed 'N;s/\\n/+/' /tmp/t/f1 /tmp/t/f2 | od -c; sed -n '$p' /tmp/t/f1 /tmp/t/f2 | od -c",
        "0000000   a  \\n   a  \\n   b  \\n   b  \\n\n0000010\n0000000   a   +   b  \\n\n0000004\n0000000   b  \\n\n0000002\n",
        0,
        false,
    ),
    (
        "printf 'c\\nb\\n\\na' | sed G | od -c; printf 'b' | sed 'g;s/\\n/,/g' | od -c; printf 'x\\nab\\nc' | sed -n 'x;s/a/X/w /dev/stdout' | od -c; printf 'a' | sed q | od -c; printf 'b\\nab' | sed 'p;2q;=' | od -c",
        "0000000   c  \\n  \\n   b  \\n  \\n  \\n  \\n   a  \\n  \\n\n0000013\n0000000  \\n\n0000001\n0000000   X   b  \\n\n0000003\n0000000   a  \\n\n0000002\n0000000   b  \\n   1  \\n   b  \\n   a   b  \\n   a   b  \\n\n0000014\n",
        0,
        false,
    ),
    (
        "printf 'c\\0c' | sed -z -s '=;2q' | od -c; printf '\\0a\\nb' | sed -z G | od -c; printf '\\0\\0a\\nb\\0a' | sed -z x | od -c",
        "0000000   1  \\0   c  \\0   2  \\0   c  \\0\n0000010\n0000000  \\0  \\0   a  \\n   b  \\0  \\0\n0000007\n0000000  \\0  \\0  \\0   a  \\n   b  \\0\n0000007\n",
        0,
        false,
    ),
];

/// What stays refused: the host's kernel (`uname -r/-v/-a`), digests and checks cksum does
/// not do here, hexdump's format strings and seeking a pipe, sed's `e`, tree's JSON where the
/// real tree prints broken JSON, and times the overlay does not keep.
const REFUSED: &[&str] = &[
    "uname -a",
    "uname -r",
    "uname -v",
    "cksum -a blake2b catalog.yml",
    "cksum -c catalog.yml",
    "cksum -l 128 catalog.yml",
    "hexdump -e '\"%x\"' catalog.yml",
    "hexdump -s 2 < catalog.yml",
    "hexdump -s 1k catalog.yml",
    "sed 'e echo' catalog.yml",
    "sed 's/a/b/e' catalog.yml",
    "tree -J -s",
    "tree -J catalog.yml",
    "shuf --random-source=x -e a",
    "shuf -r -o /tmp/x -e a",
    "join -o 1.1 2.1 a b c",
    "stat -c %x catalog.yml",
    "stat -c %W catalog.yml",
];

fn runner() -> Runner {
    Runner::example_layer().prologue("export LC_ALL=C TZ=UTC HOME=/tmp\n")
}

#[test]
fn new_commands_and_options_match_bash() {
    runner().assert_like_bash(CASES);
}

#[test]
fn what_is_left_is_refused() {
    runner().assert_refused(REFUSED);
}

/// Runs `script`, which must end well inside `secs` seconds.
fn quick(script: &str, secs: u64) -> atlas_sandbox_sdk::ExecOutput {
    let start = Instant::now();
    let out = runner().run(script);
    assert!(
        start.elapsed() < Duration::from_secs(secs),
        "{script} took {:?}",
        start.elapsed()
    );
    out
}

/// A range is never built: five draws from a billion cost five entries; the largest ranges
/// are read as GNU reads them.
#[test]
fn shuf_never_allocates_its_range() {
    let out = quick("shuf -i 1-1000000000 -n 5 | sort -u | wc -l", 5);
    assert_eq!(out.stdout_str(), "5\n");
    let out = quick(
        "shuf -i 18446744073709551614-18446744073709551615 | sort; shuf -i 0-18446744073709551615 -n 1; echo rc=$?",
        5,
    );
    assert_eq!(
        out.stdout_str(),
        "18446744073709551614\n18446744073709551615\nrc=1\n"
    );
    // Without -n the permutation runs until stdout is past its cap, then stops.
    let out = quick("shuf -i 1-1000000000 > /dev/null; echo done", 30);
    assert!(out.stdout.len() <= (1 << 20) + 64, "{}", out.stdout.len());
    let out = quick("shuf -r -e a b | head -c 1000000 | wc -c", 30);
    assert!(out.exit_code != 0 || out.stdout_str() == "1000000\n");
}

/// join's output and buffers stay bounded: a cross product of two 3,000-line runs of one key
/// (nine million lines) stops at the output cap; 200,000 pairable lines join quickly.
#[test]
fn join_is_bounded() {
    let out = quick(
        "seq -f 'k %g' 1 3000 > /tmp/a; join /tmp/a /tmp/a > /tmp/out; echo rc=$?",
        30,
    );
    assert!(out.stdout.len() < 64, "{}", out.stdout_str());
    let out = quick(
        "seq -f '%g x' 1 200000 > /tmp/a; join /tmp/a /tmp/a | wc -l",
        30,
    );
    assert_eq!(out.stdout_str(), "200000\n");
}

/// `yes` stops once stdout is past its cap instead of running forever.
#[test]
fn yes_stops_at_the_output_cap() {
    let out = quick("yes abc", 10);
    assert!(out.stdout_str().starts_with("abc\nabc\n"));
    assert!(
        out.stdout.len() <= (1 << 20) + (64 << 10),
        "{}",
        out.stdout.len()
    );
}

/// Hostile inputs end without a panic: one 20,000-byte word, a 1000-word paragraph cut at its
/// cheapest break, a huge template, hexdump of a large file.
#[test]
fn hostile_inputs_end() {
    let out = quick(
        "printf '%09000d%09000d\\n' 0 0 | tr 0 x | fmt -w 30 | wc -c",
        10,
    );
    assert_eq!(out.stdout_str(), "18001\n");
    let out = quick("seq 1 3000 | tr '\\n' ' ' | fmt -w 40 | wc -l", 10);
    assert_eq!(out.exit_code, 0);
    let out = quick(
        "t=$(printf '%05000d' 0 | tr 0 X); mktemp -u \"/tmp/$t\" | wc -c",
        10,
    );
    // As on Linux: a name past 255 bytes is too long, even for -u.
    assert_eq!(out.stdout_str(), "0\n");
    let out = quick("seq 1 300000 > /tmp/big; hexdump -C /tmp/big | tail -1", 30);
    assert!(out.exit_code == 0 || !out.stderr.is_empty());
}
