#!/usr/bin/env python3
"""Runs the Oils project's bash conformance cases (spec/*.test.sh) through just-bash and real
bash and reports, per area, how many cases give the same stdout and exit status.

Not part of CI and nothing of the suite is kept in this repository: the suite is fetched at run
time (a shallow git clone into target/oils-spec), or taken from --suite DIR (a checkout whose
spec/ folder holds the *.test.sh files).

    python3 tests/conformance/oils_spec.py [--suite DIR] [--area NAME] [--show-failures]

Each case runs as a script, after a small prelude that gives both shells the suite's helpers
(`argv.py`, `printenv.py` as shell functions) and SH=bash. A case passes when stdout and the exit
status are identical; it is "refused" when just-bash exits 2 saying "not supported"; any other
difference is "wrong". Cases that need programs neither side has (python, other shells) fail
on both sides alike and count as passes only when both outputs agree.
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPO = "https://github.com/oils-for-unix/oils"

# Area -> spec files (the bash features; Oils' own language YSH is left out).
AREAS = {
    "arrays": ["array-basic", "array-literal", "array-assign", "array", "array-compat"],
    "assignment": ["assign", "assign-extended", "append"],
    "word splitting": ["word-split", "word-eval"],
    "quoting": ["quote"],
    "parameter expansion": ["var-sub", "var-sub-quote", "var-op-test", "var-op-strip",
                            "var-op-len", "var-op-patsub", "var-op-slice", "var-num"],
    "arith": ["arith", "dparen", "let"],
    "here-docs": ["here-doc"],
    "case/if/loops": ["case_", "if_", "loop", "for-expr"],
    "functions": ["func-parsing", "sh-func"],
    "command substitution": ["command-sub", "process-sub"],
    "redirects": ["redirect"],
    "conditionals": ["dbracket", "builtin-bracket"],
    "globs": ["glob", "extglob-match", "brace-expansion"],
    "builtins": ["builtin-echo", "builtin-printf", "builtin-read", "builtin-set",
                 "builtin-getopts", "builtin-type", "builtin-vars", "builtin-eval-source",
                 "builtin-misc", "builtin-special", "builtin-trap"],
    "errexit/status": ["errexit", "exit-status", "fatal-errors"],
    "pipelines/subshells": ["pipeline", "subshell"],
}

PRELUDE = r"""
argv.py() { local __o='[' __s='' __a; for __a in "$@"; do __a=${__a//\\/\\\\}; __a=${__a//\'/\\\'}; __o+="$__s'$__a'"; __s=', '; done; printf '%s]\n' "$__o"; }
printenv.py() { local __n; for __n in "$@"; do if [ -n "${!__n+x}" ]; then printf '%s\n' "${!__n}"; else echo None; fi; done; }
SH=bash
TMP=/tmp
"""


def fetch_suite(dest):
    if not os.path.isdir(os.path.join(dest, "spec")):
        subprocess.run(["git", "clone", "--depth", "1", REPO, dest], check=True)
    return dest


def cases(path):
    """(name, code) for each `#### name` block, without the `## ...` annotations."""
    out, name, lines, in_block = [], None, [], False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("#### "):
                if name is not None:
                    out.append((name, "".join(lines)))
                name, lines, in_block = line[5:].strip(), [], False
            elif name is not None:
                if in_block:
                    in_block = line.strip() != "## END"
                    continue
                if line.startswith("## "):
                    # `## STDOUT:` (and `## OK bash STDOUT:`…) open an expected-output block.
                    in_block = line.rstrip().endswith(":")
                    continue
                lines.append(line)
    if name is not None:
        out.append((name, "".join(lines)))
    # Anything after an `## END` block belongs to no code; annotations are dropped above.
    return out


def run_bash(code, timeout):
    with tempfile.TemporaryDirectory() as d:
        try:
            p = subprocess.run(["bash", "-c", PRELUDE + code], cwd=d, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=timeout,
                               env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LC_ALL": "C"})
        except subprocess.TimeoutExpired:
            return b"<timeout>", 124, b""
        return p.stdout, p.returncode, p.stderr


def run_jb(binary, code, timeout):
    with tempfile.TemporaryDirectory() as d:
        try:
            p = subprocess.run([binary, d, PRELUDE + code], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=timeout + 5)
        except subprocess.TimeoutExpired:
            return b"<timeout>", 124, b""
        out = p.stdout
        m = re.search(rb"\[exit (-?\d+)\]\n?$", out)
        if not m:
            return out, -1, p.stderr
        return out[: m.start()], int(m.group(1)), p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", help="an Oils checkout (default: clone into target/oils-spec)")
    ap.add_argument("--jb", help="the just-bash example runner binary")
    ap.add_argument("--area", action="append", help="only these areas")
    ap.add_argument("--show-failures", action="store_true")
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args()

    suite = args.suite or fetch_suite(os.path.join(ROOT, "target", "oils-spec"))
    binary = args.jb or os.path.join(ROOT, "target", "debug", "examples", "run")
    if not args.jb:
        subprocess.run(["cargo", "build", "-q", "-p", "atlas-sandbox-just-bash", "--example", "run"],
                       cwd=ROOT, check=True)

    totals = collections.Counter()
    rows = []
    for area, files in AREAS.items():
        if args.area and area not in args.area:
            continue
        c = collections.Counter()
        for f in files:
            path = os.path.join(suite, "spec", f + ".test.sh")
            if not os.path.exists(path):
                continue
            for name, code in cases(path):
                b_out, b_st, _ = run_bash(code, args.timeout)
                j_out, j_st, j_err = run_jb(binary, code, args.timeout)
                c["total"] += 1
                if b_out == j_out and b_st == j_st:
                    c["pass"] += 1
                elif j_st == 2 and b"not supported" in j_err:
                    c["refused"] += 1
                else:
                    c["wrong"] += 1
                    if args.show_failures:
                        print(f"WRONG [{area}] {f}: {name}\n  bash {b_st}: {b_out[:200]!r}\n"
                              f"  jb   {j_st}: {j_out[:200]!r}\n  jb stderr: {j_err[:200]!r}")
        rows.append((area, c))
        totals.update(c)
    print(f"{'area':24} {'pass':>5} {'total':>6} {'rate':>6} {'refused':>8} {'wrong':>6}")
    for area, c in rows + [("ALL", totals)]:
        rate = 100.0 * c["pass"] / c["total"] if c["total"] else 0.0
        print(f"{area:24} {c['pass']:5} {c['total']:6} {rate:5.1f}% {c['refused']:8} {c['wrong']:6}")


if __name__ == "__main__":
    sys.exit(main())
