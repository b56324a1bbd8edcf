//! The tree-walking interpreter over brush-parser's AST. Synchronous by design: everything is
//! in-process CPU and local I/O, and the deadline is checked at every command, loop iteration,
//! expansion step and file visited.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Instant;

use brush_parser::ast;

use crate::limits::Limits;
use crate::memory::{Held, Meter, OverBudget, str_cost};
use crate::vfs::{FsError, Vfs};

mod arith;
mod arrays;
mod builtins;
mod cond;
mod control;
mod declare;
mod dirstack;
mod expand;
mod glob;
mod guard;
mod oneshot;
mod optlist;
mod param;
mod pipeline;
mod read;
mod redirect;
mod trace;
mod vars;

pub use glob::{glob_escape, has_glob, pattern_match, pattern_regex, unescape_pattern};
pub(crate) use guard::bracket_depth;
pub(crate) use pipeline::{absent_here, absent_lookup_message};
pub use redirect::{Input, Io};

/// Why the normal flow of a script stopped.
#[derive(Debug)]
pub enum Flow {
    /// `exit N` or `set -e`.
    Exit(i32),
    /// `break N`.
    Break(u32),
    /// `continue N`.
    Continue(u32),
    /// `return N`.
    Return(i32),
    /// A limit, the deadline, or an unsupported feature: stop everything with this message.
    Abort { code: i32, msg: String },
    /// A shell error that ends the current shell (`${x:?}`, `set -u`, failglob): the script
    /// with the code given (127 for expansion errors), a subshell or command substitution with
    /// 1, as bash does.
    Fatal(i32, String),
    /// An error that abandons the rest of the current line with status 1 (assigning a readonly
    /// variable): bash goes on with the next line.
    LineAbort(String),
}

/// Result of interpreter steps.
pub type R<T> = Result<T, Flow>;

/// Grow the stack when less than this is left.
const STACK_RED_ZONE: usize = 256 * 1024;

/// The size of each extra stack segment.
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

/// The exit code of a limit violation (as just-bash).
pub const LIMIT_EXIT: i32 = 126;
/// The exit code of syntax errors and unsupported features.
pub const UNSUPPORTED_EXIT: i32 = 2;

pub(crate) fn abort<T>(code: i32, msg: impl Into<String>) -> R<T> {
    Err(Flow::Abort {
        code,
        msg: msg.into(),
    })
}

#[derive(Debug, Clone, Default)]
struct Opts {
    errexit: bool,
    pipefail: bool,
    nounset: bool,
    globstar: bool,
    nullglob: bool,
    noglob: bool,
    dotglob: bool,
    xtrace: bool,
    noclobber: bool,
    failglob: bool,
    extglob: bool,
    nocaseglob: bool,
    nocasematch: bool,
    lastpipe: bool,
    /// Options with no effect here that a script moved off their default (`optlist::Effect`).
    inert: Vec<(&'static str, bool)>,
}

/// Attributes `declare` gives a variable.
pub(super) mod attr {
    pub(crate) const INTEGER: u8 = 1;
    pub(crate) const READONLY: u8 = 2;
    pub(crate) const LOWER: u8 = 4;
    pub(crate) const UPPER: u8 = 8;
    pub(crate) const ARRAY: u8 = 16;
    pub(crate) const ASSOC: u8 = 32;
}

#[derive(Debug, Clone)]
enum Var {
    Str(String),
    Arr(arrays::Indexed),
    Assoc(arrays::Assoc),
}

impl Var {
    /// A dense indexed array of these values.
    fn arr(v: Vec<String>) -> Var {
        Var::Arr(arrays::Indexed::from_vec(v))
    }
}

struct State {
    vars: HashMap<String, Var>,
    exported: HashSet<String>,
    functions: HashMap<String, Rc<ast::FunctionBody>>,
    positional: Vec<String>,
    cwd: String,
    opts: Opts,
    attrs: HashMap<String, u8>,
    aliases: std::collections::BTreeMap<String, String>,
    vars_bytes: u64,
    pos_bytes: u64,
    in_fds: [Option<Input>; redirect::FDS],
    out_files: [Option<redirect::OutFile>; redirect::FDS],
    /// The copy's bytes, charged while it is kept.
    held: Held,
}

fn var_cost(name: &str, v: &Var) -> u64 {
    name.len() as u64
        + match v {
            Var::Str(s) => str_cost(s),
            Var::Arr(a) => a.cost(),
            Var::Assoc(m) => m.cost(),
        }
}

/// Stops the script with exit 126 and the budget's message.
pub(crate) fn over_budget<T>(o: OverBudget) -> R<T> {
    abort(LIMIT_EXIT, o.message("bash"))
}

/// A function's saved variable: its name, the value and attributes it had outside.
type Local = (String, Option<Var>, Option<u8>);

/// One exec's interpreter.
pub struct Shell<'a> {
    /// The filesystem (shared by every exec of the sandbox).
    pub fs: &'a mut Vfs,
    /// The limits.
    pub limits: &'a Limits,
    deadline: Instant,
    deadline_label: String,
    vars: HashMap<String, Var>,
    exported: HashSet<String>,
    locals: Vec<Vec<Local>>,
    functions: HashMap<String, Rc<ast::FunctionBody>>,
    positional: Vec<String>,
    /// The working directory (absolute, virtual).
    pub cwd: String,
    status: i32,
    opts: Opts,
    commands: u64,
    loop_iters: u64,
    call_depth: u32,
    subst_depth: u32,
    /// The `subst_depth` whose commands' lines name messages: 0 for the script, deeper inside
    /// `bash -c` (a new script, counted from its own line 1).
    line_depth: u32,
    cond_depth: u32,
    parse_opts: brush_parser::ParserOptions,
    status_from_subst: Option<i32>,
    pending_err: Vec<u8>,
    /// Loops enclosing the running command in this shell (a subshell or function starts at 0):
    /// `break N` past them leaves the outermost one, and with none it is an error, as in bash.
    loop_depth: u32,
    /// `declare` attributes by name; a name here and not in `vars` is declared but unset.
    attrs: HashMap<String, u8>,
    /// `alias` definitions (bash -c does not expand them; `alias` and `type` show them).
    aliases: std::collections::BTreeMap<String, String>,
    /// The `trap … EXIT` command.
    exit_trap: Option<String>,
    /// Signal traps by number (kept and listed; no signal reaches the interpreter).
    signal_traps: std::collections::BTreeMap<u32, (String, String)>,
    /// `$_`: the last argument of the previous simple command.
    last_arg: String,
    /// A command was looked up in PATH: bash's `hash` table is no longer empty.
    hashed: bool,
    /// The simple command bash would exec in place of the shell (see `oneshot.rs`), by address.
    oneshot: usize,
    /// That command is running now.
    oneshot_now: bool,
    /// Subshell nesting, for the `+` prefix of `set -x` traces.
    trace_depth: usize,
    /// `$0`.
    arg0: String,
    /// `source` nesting (`return` is allowed in a sourced file).
    source_depth: u32,
    /// `getopts`' place: the OPTIND it last set and the next option letter's index in that word.
    getopts_at: (usize, usize),
    /// The exec's memory budget.
    pub meter: Meter,
    /// Bytes of `vars` and of `positional`, as charged to the meter.
    vars_bytes: u64,
    pos_bytes: u64,
    /// Input descriptors 3-9 (`exec 3<file`, `3< <(…)`), read by `read -u`/`mapfile -u`
    /// and `<&3`; 0-2 are never here.
    in_fds: [Option<Input>; redirect::FDS],
    /// Files `exec n>file` opened, by descriptor.
    out_files: [Option<redirect::OutFile>; redirect::FDS],
    /// Associative-array keys met in the arithmetic being evaluated (see `arith_text`).
    arith_keys: Vec<String>,
    /// The last status came from an `&&`/`||` list cut short (`false && x`), possibly as the
    /// last command of a `{ }` group or `if`: `set -e` ignores it there, as bash does.
    andor_exempt: bool,
}

impl<'a> Shell<'a> {
    /// A fresh shell (fresh variables, functions and cwd) over the sandbox's filesystem.
    pub fn new(
        fs: &'a mut Vfs,
        limits: &'a Limits,
        cwd: String,
        deadline: Instant,
        deadline_label: String,
        meter: Meter,
    ) -> Self {
        let mut vars = HashMap::new();
        let mut exported = HashSet::new();
        for (k, v) in [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/tmp"),
            ("LANG", "C.UTF-8"),
            ("USER", "user"),
            ("SHELL", "/bin/bash"),
            ("TERM", "dumb"),
            ("TZ", "UTC"),
        ] {
            vars.insert(k.to_owned(), Var::Str(v.to_owned()));
            exported.insert(k.to_owned());
        }
        vars.insert("PWD".to_owned(), Var::Str(cwd.clone()));
        exported.insert("PWD".to_owned());
        // bash exports OLDPWD, still unset, from the start: `cd` then puts it in the
        // environment of the commands that follow.
        exported.insert("OLDPWD".to_owned());
        vars.insert("IFS".to_owned(), Var::Str(" \t\n".to_owned()));
        vars.insert("OPTIND".to_owned(), Var::Str("1".to_owned()));
        // What scripts check to know they run under bash (the version the corpus recorded).
        vars.insert(
            "BASH_VERSION".to_owned(),
            Var::Str("5.2.15(1)-release".to_owned()),
        );
        vars.insert(
            "BASH_VERSINFO".to_owned(),
            Var::arr(
                ["5", "2", "15", "1", "release", "x86_64-pc-linux-gnu"]
                    .map(String::from)
                    .to_vec(),
            ),
        );
        vars.insert("BASH".to_owned(), Var::Str("/bin/bash".to_owned()));
        vars.insert("SHLVL".to_owned(), Var::Str("1".to_owned()));
        exported.insert("SHLVL".to_owned());
        let vars_bytes = vars.iter().map(|(k, v)| var_cost(k, v)).sum::<u64>();
        let parse_opts = brush_parser::ParserOptions {
            // Extglob groups are parsed on demand (see `guard::extglob_groups_allowed`).
            enable_extended_globbing: false,
            ..Default::default()
        };
        Shell {
            fs,
            limits,
            deadline,
            deadline_label,
            vars,
            exported,
            locals: Vec::new(),
            functions: HashMap::new(),
            positional: Vec::new(),
            cwd,
            status: 0,
            opts: Opts::default(),
            commands: 0,
            loop_iters: 0,
            call_depth: 0,
            subst_depth: 0,
            line_depth: 0,
            cond_depth: 0,
            parse_opts,
            status_from_subst: None,
            pending_err: Vec::new(),
            loop_depth: 0,
            attrs: HashMap::new(),
            aliases: std::collections::BTreeMap::new(),
            exit_trap: None,
            signal_traps: std::collections::BTreeMap::new(),
            last_arg: String::new(),
            hashed: false,
            oneshot: 0,
            oneshot_now: false,
            trace_depth: 0,
            arg0: "/bin/bash".to_owned(),
            getopts_at: (0, 0),
            source_depth: 0,
            vars_bytes: {
                let n = vars_bytes;
                // A handful of bytes: a budget this small fails the script's first step instead.
                let _ = meter.charge(n);
                n
            },
            meter,
            pos_bytes: 0,
            in_fds: Default::default(),
            arith_keys: Vec::new(),
            out_files: Default::default(),
            andor_exempt: false,
        }
    }

    /// Checks the wall-clock deadline and the memory budget.
    pub fn tick(&self) -> R<()> {
        if self.meter.tripped() {
            return over_budget(self.meter.over());
        }
        if Instant::now() >= self.deadline {
            return abort(
                atlas_sandbox_sdk::TIMEOUT_EXIT_CODE,
                format!(
                    "bash: execution exceeded execution deadline ({})",
                    self.deadline_label
                ),
            );
        }
        Ok(())
    }

    /// The exec's wall-clock deadline, for commands that loop without calling [`Shell::tick`].
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Charges `n` traversal steps (files visited) against the deadline.
    pub fn visit(&self, visited: &mut u64) -> R<()> {
        *visited += 1;
        if *visited > self.limits.max_traversal_entries {
            return abort(
                LIMIT_EXIT,
                format!(
                    "bash: too many directory entries visited (>{}), increase limits.max_traversal_entries",
                    self.limits.max_traversal_entries
                ),
            );
        }
        if visited.is_multiple_of(64) {
            self.tick()?;
        }
        Ok(())
    }

    fn check_len(&self, s: &str) -> R<()> {
        if s.len() > self.limits.max_string_length {
            return abort(
                LIMIT_EXIT,
                format!(
                    "bash: string length limit exceeded ({} bytes)",
                    self.limits.max_string_length
                ),
            );
        }
        Ok(())
    }

    // ---------------------------------------------------------------- variables

    // ---------------------------------------------------------------- entry points

    // ---------------------------------------------------------------- redirects

    // ---------------------------------------------------------------- simple commands

    // ---------------------------------------------------------------- expansion

    // ---------------------------------------------------------------- globbing

    // ---------------------------------------------------------------- arithmetic

    // ---------------------------------------------------------------- [[ ]]
}

impl FsError {
    /// Whether the error means the path does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FsError::NotFound)
    }
}
