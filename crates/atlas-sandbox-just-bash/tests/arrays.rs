//! Indexed (sparse) and associative arrays, and `exec n>file`, each checked against what
//! bash 5.2 printed for it: stdout, exit status and whether stderr was empty were recorded
//! from `/bin/bash -c` (GNU bash 5.2, `LC_ALL=C`) by a comparison script run over both.
//! Associative arrays list their keys in bash's hash-table order, which these pin down.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::time::Duration;

mod common;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};
use common::{Case, Runner};

/// (script, stdout, exit status, stderr is non-empty), as bash 5.2 gave them.
const CASES: &[Case] = &[
    (
        "LC_ALL=C; declare -a arr; arr[5]=x; echo \"${#arr[@]} ${arr[5]}\"",
        "1 x\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); unset 'a[1]'; echo \"${a[@]}\" \"${#a[@]}\"",
        "1 3 2\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=([2]=b [0]=a); echo \"${a[@]}\"",
        "a b\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=([2]=b [0]=a); echo \"${!a[@]}\"",
        "0 2\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); unset 'a[1]'; echo \"${!a[@]}\"",
        "0 2\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); unset 'a[1]'; a+=(x); declare -p a",
        "declare -a a=([0]=\"1\" [2]=\"3\" [3]=\"x\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); echo \"${a[-1]} ${a[-2]} ${a[-3]}\"",
        "3 2 1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); echo \"${a[-4]}\"; echo \"st=$?\"",
        "\nst=0\n",
        0,
        true,
    ),
    (
        "LC_ALL=C; a=(1 2 3); unset 'a[0]'; declare -p a",
        "declare -a a=([1]=\"2\" [2]=\"3\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); unset 'a[-1]'; declare -p a",
        "declare -a a=([0]=\"1\" [1]=\"2\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3 4 5); unset 'a[1]' 'a[3]'; echo ${a[@]:1:2}",
        "3 5\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3 4 5); unset 'a[1]' 'a[3]'; echo ${a[@]: -2}",
        "5\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3 4 5); unset 'a[1]' 'a[3]'; echo ${a[*]:2}",
        "3 5\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3 4 5); echo \"${a[@]:1:2}\" \"${a[@]:3}\" \"${a[@]: -2:1}\"",
        "2 3 4 5 4\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); a[10]=z; echo ${#a[@]} ${!a[@]}; declare -p a",
        "4 0 1 2 10\ndeclare -a a=([0]=\"1\" [1]=\"2\" [2]=\"3\" [10]=\"z\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); a[-1]=last; echo ${a[@]}",
        "1 2 last\n",
        0,
        false,
    ),
    ("LC_ALL=C; a=(1 2 3); a[-5]=x; echo st=$?", "", 1, true),
    (
        "LC_ALL=C; a=(p q); a+=([0]=x [5]=y z); declare -p a",
        "declare -a a=([0]=\"x\" [1]=\"q\" [5]=\"y\" [6]=\"z\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); a+=([-1]=x); declare -p a",
        "declare -a a=([0]=\"1\" [1]=\"2\" [2]=\"x\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -a a; declare -p a",
        "declare -a a\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(); declare -p a; echo ${#a[@]}",
        "declare -a a=()\n0\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=([3]=c [1]=a); a+=(d e); declare -p a; echo \"[${a}]\"",
        "declare -a a=([1]=\"a\" [3]=\"c\" [4]=\"d\" [5]=\"e\")\n[]\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(x y z); for i in \"${!a[@]}\"; do echo \"$i=${a[$i]}\"; done",
        "0=x\n1=y\n2=z\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(x y z); unset 'a[1]'; for i in \"${!a[@]}\"; do echo \"$i=${a[i]}\"; done",
        "0=x\n2=z\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); unset a; echo \"${#a[@]}\" \"${a[@]-unset}\"",
        "0 unset\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); unset 'a[@]'; declare -p a 2>&1; echo $?",
        "declare -a a=()\n0\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(10 20 30); echo $(( a[0] + a[2] )); (( a[1] += 5 )); echo ${a[1]}",
        "40\n25\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(10 20 30); (( a[7] = 3 )); declare -p a",
        "declare -a a=([0]=\"10\" [1]=\"20\" [2]=\"30\" [7]=\"3\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(10 20 30); i=1; echo $(( a[i+1] * 2 ))",
        "60\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); echo ${#a[1]} ${#a[@]} ${#a[*]}",
        "1 3 3\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(one two three); echo \"${a[@]^}\" \"${a[@]%e}\" \"${a[@]/o/0}\"",
        "One Two Three on two thre 0ne tw0 three\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(one two three); unset 'a[1]'; echo \"${a[@]^^}\" \"${a[*]#o}\"",
        "ONE THREE ne three\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(a b c); echo \"${a[*]}\"; IFS=,; echo \"${a[*]}\"",
        "a b c\na,b,c\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(a b c); b=(\"${a[@]}\"); b[5]=f; echo \"${b[@]}\" ${#b[@]}",
        "a b c f 4\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(5 3 9 1); max=${a[0]}; for x in \"${a[@]}\"; do (( x > max )) && max=$x; done; echo $max",
        "9\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); sum=0; for x in \"${a[@]}\"; do sum=$((sum + x)); done; echo $sum",
        "6\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); a[1]+=x; echo ${a[@]}",
        "1 2x 3\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -i a=(1+1 2); a+=([0]=3); declare -p a",
        "declare -ai a=([0]=\"3\" [1]=\"2\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(x); a[3]=y; echo \"${a[@]:1}\" \"${#a[@]}\"",
        "y 2\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(x y); echo \"${a}\" \"${a[0]}\" \"$a\"",
        "x x x\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); unset 'a[5]'; echo ${#a[@]}",
        "3\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); unset 'a[-5]'; echo st=$?",
        "st=1\n",
        0,
        true,
    ),
    (
        "LC_ALL=C; a=(1 2 3); [[ -v a[1] ]] && echo set1; unset 'a[1]'; [[ -v a[1] ]] || echo unset1; [[ -v a[-1] ]] && echo last",
        "set1\nunset1\nlast\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); test -v 'a[2]' && echo yes; test -v 'a[3]' || echo no",
        "yes\nno\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(); a[100]=x; a[50]=y; echo \"${a[@]}\"; echo \"${!a[@]}\"",
        "y x\n50 100\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; read -ra w <<< \"a b c d\"; unset 'w[2]'; declare -p w",
        "declare -a w=([0]=\"a\" [1]=\"b\" [3]=\"d\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(3 1 2); IFS=$'\\n' sorted=($(sort <<<\"${a[*]}\")); unset IFS; echo \"${sorted[@]}\"",
        "1 2 3\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(a b c); echo \"${a[@]:0:0}|\" \"${a[@]:5}|\"",
        "| |\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(a b c); echo \"${a[@]: -5}|\"",
        "|\n",
        0,
        false,
    ),
    ("LC_ALL=C; a=(a b c); echo \"${a[@]:1:-1}\"", "", 1, true),
    (
        "LC_ALL=C; a=(1 2 3); a=(\"${a[@]:1}\"); declare -p a",
        "declare -a a=([0]=\"2\" [1]=\"3\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); unset 'a[1]'; a=(\"${a[@]}\"); declare -p a",
        "declare -a a=([0]=\"1\" [1]=\"3\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=([5]=five); echo \"${a[5]}\" \"${a[-1]}\" \"${#a[@]}\"",
        "five five 1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(x y z); echo \"${!a[*]}\"",
        "0 1 2\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(x y z); unset \"a[0]\"; echo \"${a:-empty}\"",
        "empty\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; arr=(one two); arr[${#arr[@]}]=three; echo \"${arr[@]}\"",
        "one two three\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); echo \"${a[@]@Q}\"",
        "'1' '2' '3'\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(\"with space\" 'quo\"te' 'dollar$'); declare -p a",
        "declare -a a=([0]=\"with space\" [1]=\"quo\\\"te\" [2]=\"dollar\\$\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -a a=(1 2); declare -p a; declare -ar r=(x); declare -p r",
        "declare -a a=([0]=\"1\" [1]=\"2\")\ndeclare -ar r=([0]=\"x\")\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); b=${a[@]}; echo \"$b\"",
        "1 2 3\n",
        0,
        false,
    ),
    ("LC_ALL=C; a=(1 2); x=a[1]; echo ${!x}", "2\n", 0, false),
    (
        "LC_ALL=C; f() { local -a arr=(x y); arr[4]=z; declare -p arr; }; f; declare -p arr 2>/dev/null; echo $?",
        "declare -a arr=([0]=\"x\" [1]=\"y\" [4]=\"z\")\n1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); printf '%s\\n' \"${a[@]}\" | wc -l",
        "3\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); set -u; echo \"${a[5]:-d}\"; echo ${a[1]}",
        "d\n2\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([k]=v); echo \"${m[k]}\"",
        "v\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; m[key]=val; echo \"${m[key]}\" \"${#m[@]}\"",
        "val 1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([k]=v); declare -p m",
        "declare -A m=([k]=\"v\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; declare -p m",
        "declare -A m\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=(); declare -p m",
        "declare -A m=()\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1 [b]=2 [c]=3); echo \"${!m[@]}\"",
        "c b a\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1 [b]=2 [c]=3); echo \"${m[@]}\"",
        "3 2 1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; for k in a b c d e foo bar; do m[$k]=1; done; echo ${!m[@]}",
        "e d c b a foo bar\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; for k in apple banana cherry date elderberry fig grape; do m[$k]=${#k}; done; for k in \"${!m[@]}\"; do echo \"$k ${m[$k]}\"; done",
        "cherry 6\ngrape 5\nelderberry 10\napple 5\nfig 3\ndate 4\nbanana 6\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1 [b]=2); unset 'm[a]'; declare -p m",
        "declare -A m=([b]=\"2\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1); [[ -v m[a] ]] && echo yes; [[ -v m[b] ]] || echo no",
        "yes\nno\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=(k1 v1 k2 v2 k3); declare -p m",
        "declare -A m=([k1]=\"v1\" [k2]=\"v2\" [k3]=\"\" )\n",
        0,
        false,
    ),
    ("LC_ALL=C; a=(x y); declare -A a; echo $?", "1\n", 0, true),
    (
        "LC_ALL=C; declare -A m=([x]=1); m=(y 2); declare -p m",
        "declare -A m=([y]=\"2\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([x]=1); m+=([y]=2); m[x]+=5; declare -p m",
        "declare -A m=([y]=\"2\" [x]=\"15\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1); m+=([a]=2 [b]=3); declare -p m",
        "declare -A m=([b]=\"3\" [a]=\"2\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; m=([a]=1 [a]=2); declare -p m",
        "declare -A m=([a]=\"2\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; m[a]=1; ((m[a]++)); ((m[b c]+=2)); w=x.y; ((m[$w]++)); declare -p m; echo $(( m[a] + 1 ))",
        "declare -A m=([x.y]=\"1\" [\"b c\"]=\"2\" [a]=\"2\" )\n3\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; m[x]=1; echo ${m[@]:0:1} ${#m[x]} ${m[x]:-d} ${m[y]:-d}",
        "1 1 1 d\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([b]=2 [a]=1); echo ${m[@]:1}",
        "2 1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A counts; for w in a b a c b a; do counts[$w]=$(( ${counts[$w]:-0} + 1 )); done; for k in \"${!counts[@]}\"; do echo \"$k ${counts[$k]}\"; done",
        "c 1\nb 2\na 3\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A counts; for w in a b a c b a; do ((counts[$w]++)); done; declare -p counts",
        "declare -A counts=([c]=\"1\" [b]=\"2\" [a]=\"3\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; m[\"a b\"]=1; m['c d']=2; for k in \"${!m[@]}\"; do echo \"[$k]=${m[$k]}\"; done",
        "[c d]=2\n[a b]=1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; k='it'\"'\"'s'; m[$k]=1; declare -p m; echo \"${m[$k]}\"",
        "declare -A m=([\"it's\"]=\"1\" )\n1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; f() { local -A m=([x]=1); m[y]=2; declare -p m; }; f; declare -p m 2>/dev/null; echo $?",
        "declare -A m=([y]=\"2\" [x]=\"1\" )\n1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; f() { local -A m; m[a]=1; echo ${#m[@]}; }; f; f",
        "1\n1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1); unset m; declare -p m 2>/dev/null; echo $?",
        "1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1 [b]=2); unset 'm[@]'; echo \"${#m[@]}\"",
        "2\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1 [b]=2); echo \"${!m[*]}\" \"${m[*]}\"",
        "b a 2 1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([one]=1 [two]=2 [three]=3); for k in \"${!m[@]}\"; do printf '%s=%s\\n' \"$k\" \"${m[$k]}\"; done | sort",
        "one=1\nthree=3\ntwo=2\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([one]=1 [two]=2 [three]=3); sum=0; for v in \"${m[@]}\"; do ((sum+=v)); done; echo $sum",
        "6\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([x]=5); echo $(( m[x] * 2 )); (( m[x] *= 3 )); echo ${m[x]}",
        "10\n15\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([x]=5); m[x]=$(( m[x] + 1 )); echo ${m[x]}",
        "6\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; m[0]=zero; echo \"$m\" \"${m[0]}\"",
        "zero zero\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1); echo \"${m}\"; echo \"${m[b]-unset}\"",
        "\nunset\n",
        0,
        false,
    ),
    ("LC_ALL=C; declare -A m; m[]=x; echo st=$?", "", 1, true),
    (
        "LC_ALL=C; declare -A m=([k]=v); echo \"${m[k]^^}\" \"${m[@]/v/w}\" \"${#m[k]}\"",
        "V w 1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([k]=v); [[ ${m[k]} == v ]] && echo match",
        "match\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([k]=v); if [[ -n ${m[nope]} ]]; then echo y; else echo n; fi",
        "n\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([k]=v); test -v 'm[k]' && echo set",
        "set\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; key=\"a.b/c\"; m[$key]=1; echo \"${!m[@]}\"",
        "a.b/c\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; for i in $(seq 1 40); do m[k$i]=$i; done; echo \"${!m[@]}\"",
        "k28 k29 k22 k23 k20 k21 k26 k27 k24 k25 k8 k9 k4 k5 k6 k7 k1 k2 k3 k39 k38 k35 k34 k37 k36 k31 k30 k33 k32 k40 k17 k16 k15 k14 k13 k12 k11 k10 k19 k18\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; for i in $(seq 1 40); do m[$i]=$i; done; echo \"${m[@]}\"",
        "34 35 36 37 30 31 32 33 38 39 9 8 7 6 5 4 3 2 1 27 26 25 24 23 22 21 20 29 28 40 18 19 12 13 10 11 16 17 14 15\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; for i in $(seq 1 20); do m[k$i]=$i; done; for i in 3 5 7; do unset \"m[k$i]\"; done; m[k5]=new; echo \"${!m[@]}\"",
        "k20 k8 k9 k4 k5 k6 k1 k2 k17 k16 k15 k14 k13 k12 k11 k10 k19 k18\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([é]=1 [x]=2 [ü]=3); echo \"${!m[@]}\"",
        "x ü é\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1); m[b]=2; declare -p m; declare -A n=([b]=2 [a]=1); declare -p n",
        "declare -A m=([b]=\"2\" [a]=\"1\" )\ndeclare -A n=([b]=\"2\" [a]=\"1\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; declare -p m; m[x]=1; declare -p m",
        "declare -A m\ndeclare -A m=([x]=\"1\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -Ai m; m[a]=1+2; m[a]+=3; declare -p m",
        "declare -Ai m=([a]=\"6\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -Al m; m[a]=HeLLo; echo ${m[a]}",
        "hello\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([x]=1); readonly m; m[y]=2; echo st=$?",
        "",
        1,
        true,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=x [b]=y); keys=(\"${!m[@]}\"); echo \"${#keys[@]}\"; IFS=$'\\n' sorted=($(sort <<<\"${keys[*]}\")); echo \"${sorted[@]}\"",
        "2\na b\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1 [b]=2); for k in $(printf '%s\\n' \"${!m[@]}\" | sort); do echo \"$k=${m[$k]}\"; done",
        "a=1\nb=2\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1); m[a]+=2; echo \"${m[a]}\"",
        "12\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1); echo \"${m[@]:-none}\"; declare -A e; echo \"${e[@]:-none}\"",
        "1\nnone\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; echo \"${#m[@]}\" \"${!m[@]}|\"",
        "0 |\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; typeset -A m=([k]=v); typeset -p m",
        "declare -A m=([k]=\"v\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([x]=1 [y]=2); declare -p m | sed 's/declare/D/' ",
        "D -A m=([y]=\"2\" [x]=\"1\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([k]=\"line1\nline2\"); declare -p m",
        "declare -A m=([k]=$'line1\\nline2' )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([k]=v); echo ${!m[k]}",
        "\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([10]=a [9]=b [x]=c); echo \"${!m[@]}\"; echo \"${m[9]}\"",
        "9 x 10\nb\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; i=3; m[i]=x; m[$i]=y; declare -p m",
        "declare -A m=([3]=\"y\" [i]=\"x\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; m[a]=1; m[b]=2; m[c]=3; unset 'm[b]'; m[b]=4; echo \"${!m[@]}\" \"${m[@]}\"",
        "c b a 3 4 1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([k]=v); unset 'm[nope]'; echo st=$? ${#m[@]}",
        "st=0 1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; m[x]=1; x=5; echo $(( m[x] + x ))",
        "6\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A a=([one]=1 [two]=2); declare -A b; for k in \"${!a[@]}\"; do b[${a[$k]}]=$k; done; declare -p b",
        "declare -A b=([2]=\"two\" [1]=\"one\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([k]=v); for v in \"${m[@]}\"; do echo \"<$v>\"; done",
        "<v>\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m; m[k]=$(echo hi); echo \"${m[k]}\"",
        "hi\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1); f() { m[b]=2; }; f; declare -p m",
        "declare -A m=([b]=\"2\" [a]=\"1\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; f() { declare -A m=([z]=1); echo ${m[z]}; }; f; echo \"[${m[z]}]\"",
        "1\n[]\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1 [b]=2 [c]=3); echo ${m[@]:0:1} / ${m[@]:1:1} / ${m[@]:2} / ${m[@]: -1} / ${m[@]:3} / ${m[@]: -3:2}/ ${m[@]:0}",
        "3 / 3 / 2 1 / 1 / 1 / 3 2/ 3 2 1\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([a]=1 [b]=2 [c]=3); unset \"m[@]\"; declare -p m",
        "declare -A m=([c]=\"3\" [b]=\"2\" [a]=\"1\" )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; a=(1 2 3); unset \"a[*]\"; declare -p a",
        "declare -a a=()\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; LC_ALL=C; x=$'\\303\\251\\001'; declare -p x; a=($'t\\tab'); declare -p a",
        "declare -- x=$'\\303\\251\\001'\ndeclare -a a=([0]=$'t\\tab')\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; declare -A m=([k]=$'t\\tab' [j]=$'\\e'); declare -p m",
        "declare -A m=([k]=$'t\\tab' [j]=$'\\E' )\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; f() { declare x=1; declare -a y=(1); }; f; echo \"[$x][${y[@]}]\"",
        "[][]\n",
        0,
        false,
    ),
    (
        "LC_ALL=C; f() { declare -g G=1; }; f; echo \"[$G]\"",
        "[1]\n",
        0,
        false,
    ),
];

/// Forms the sandbox refuses (exit 2, "not supported") rather than answer differently.
const REFUSED: &[&str] = &[
    "declare -A m=([a]=1 [b c]=2 [\"q\\\"x\"]=3 [d\\$]=4); declare -p m",
    "declare -A m=([a b]=1); echo \"${m[a b]}\"",
    "echo data >&-; echo \"exit=$?\"",
    "exec 3<>/tmp/fd12.txt; echo rw >&3; exec 3>&-; cat /tmp/fd12.txt",
    "printf x >&-; echo \"st=$?\"",
    "declare -A m=([a b]=1); declare -p m",
];

fn engine() -> Engine {
    Engine::new(None, &JustBashConfig::default()).unwrap()
}

#[test]
fn arrays_match_bash() {
    Runner::empty().assert_like_bash(CASES);
}

#[test]
fn unsupported_array_and_fd_forms_are_refused() {
    Runner::empty().assert_refused(REFUSED);
}

#[test]
fn exec_fd_writes_reach_the_file_before_the_next_command() {
    let engine = engine();
    let out = engine
        .exec_script(
            "exec 3>/tmp/f.txt; echo a >&3; cat /tmp/f.txt; echo b >&3; exec 3>&-; cat /tmp/f.txt; echo x >&3; echo \"st=$?\"",
            "",
            Duration::from_secs(10),
            1 << 20,
        )
        .unwrap();
    assert_eq!(out.stdout_str(), "a\na\nb\nst=1\n");
    assert!(!out.stderr.is_empty());
}

#[test]
fn a_big_associative_array_keeps_bash_order_after_growing() {
    // 3000 keys pass bash's first growth (2048 entries): md5 of the key list as bash printed it.
    let engine = engine();
    let out = engine
        .exec_script(
            "declare -A m; for i in $(seq 1 3000); do m[k$i]=$i; done; echo \"${!m[@]}\" | md5sum",
            "",
            Duration::from_secs(30),
            1 << 20,
        )
        .unwrap();
    assert_eq!(out.stdout_str(), BIG_MD5);
}

const BIG_MD5: &str = "2ed08ff6e29e5980982285ee0b4d05cf  -\n";
