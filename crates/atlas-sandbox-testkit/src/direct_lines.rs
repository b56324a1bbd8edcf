//! Lines for the tests that compare a backend's start of one-program lines without bash (the
//! SDK's `process::direct`: the sidecar, the jail's bash engine) with the same lines through
//! bash. Each backend's test adds the lines only it can run (its environment, its `/tmp`).

/// Lines bash would run as one external program in place of itself: the direct start takes
/// them. Operands relative to the example layer's root; a missing file and a bad option are the
/// program's own errors.
pub const DIRECT: &[&str] = &[
    "cat catalog.yml",
    "cat  entities/orders.yml\tcatalog.yml",
    "cat missing.yml",
    "grep -rn customer_id .",
    "grep -c name catalog.yml entities/orders.yml",
    "grep -q nothing-like-this catalog.yml",
    "ls",
    "ls -la entities",
    "ls -R",
    "wc -l catalog.yml entities/customers.yml",
    "head -n 1 catalog.yml",
    "find . -name orders.yml",
    "sort -r catalog.yml",
    "stat -c %n:%s catalog.yml",
    "cat /proc/self/cmdline",
    "id -u",
    "date -d @0 +%F",
    "ls --no-such-option",
    "nice -n 1 cat catalog.yml",
    "tr a b",
    "cat",
    // Builtins whose coreutils program answers these words as the builtin does.
    "true",
    "false",
    "echo",
    "echo hi  there",
    "echo a=b x/y 1,2 @%+",
];

/// Lines bash keeps: builtins, shell syntax, a missing program, an assignment, the environment.
pub const SHELL: &[&str] = &[
    "true --help",
    "false --version",
    "echo -n hi",
    "echo hi -e",
    "echo --help",
    "pwd",
    "nosuchcommand-x a",
    "cat catalog.yml | wc -l",
    "printenv SHLVL",
    "X=1 cat catalog.yml",
    "cat *.yml",
];
