//! The tree-walking interpreter over brush-parser's AST. Synchronous by design: everything is
//! in-process CPU and local I/O, and the deadline is checked at every command, loop iteration,
//! expansion step and file visited.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use brush_parser::ast;
use brush_parser::word::{self, Parameter, ParameterExpr, SpecialParameter, WordPiece};

use crate::limits::Limits;
use crate::memory::{Held, Meter, OverBudget, str_cost, strs_cost};
use crate::vfs::{self, FsError, Kind, Vfs};

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
}

/// Result of interpreter steps.
pub type R<T> = Result<T, Flow>;

/// A simple command's items, sorted: its assignments, its redirects and its words.
#[derive(Default)]
struct SimpleParts<'c> {
    assigns: Vec<&'c ast::Assignment>,
    redirs: Vec<ast::IoRedirect>,
    words: Vec<&'c ast::Word>,
}

impl<'c> SimpleParts<'c> {
    /// Files one prefix or suffix item. After the command name an assignment is an ordinary word
    /// (`export A=1`).
    fn add(&mut self, item: &'c ast::CommandPrefixOrSuffixItem, after_name: bool) -> R<()> {
        match item {
            ast::CommandPrefixOrSuffixItem::AssignmentWord(_, w) if after_name => {
                self.words.push(w)
            }
            ast::CommandPrefixOrSuffixItem::AssignmentWord(a, _) => self.assigns.push(a),
            ast::CommandPrefixOrSuffixItem::IoRedirect(r) => self.redirs.push(r.clone()),
            ast::CommandPrefixOrSuffixItem::Word(w) => self.words.push(w),
            ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                return abort(
                    UNSUPPORTED_EXIT,
                    "bash: process substitution is not supported in this sandbox",
                );
            }
        }
        Ok(())
    }
}

/// Settles one pass of a loop body into `st`: `Ok(true)` goes round again, `Ok(false)` leaves
/// the loop. `break N` and `continue N` count enclosing loops, so this loop takes one level and
/// hands the rest outward.
fn loop_pass(pass: R<i32>, st: &mut i32) -> R<bool> {
    match pass {
        Ok(s) => {
            *st = s;
            Ok(true)
        }
        Err(Flow::Break(n)) if n > 1 => Err(Flow::Break(n - 1)),
        Err(Flow::Break(_)) => Ok(false),
        Err(Flow::Continue(n)) if n > 1 => Err(Flow::Continue(n - 1)),
        Err(Flow::Continue(_)) => Ok(true),
        Err(e) => Err(e),
    }
}

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

/// Standard input of a command: the remaining bytes of a buffer shared by a compound command.
#[derive(Debug, Clone, Default)]
pub struct Input {
    data: Arc<Vec<u8>>,
    pos: usize,
}

impl Input {
    /// Input over `data`.
    pub fn new(data: Arc<Vec<u8>>) -> Self {
        Input { data, pos: 0 }
    }

    /// Everything not yet consumed, consuming it.
    pub fn take_all(&mut self) -> &[u8] {
        let start = self.pos.min(self.data.len());
        self.pos = self.data.len();
        &self.data[start..]
    }

    /// One line (without its newline), or `None` at the end.
    pub fn read_line(&mut self) -> Option<(&[u8], bool)> {
        if self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                let start = self.pos;
                self.pos += i + 1;
                Some((&self.data[start..start + i], true))
            }
            None => {
                let start = self.pos;
                self.pos = self.data.len();
                Some((&self.data[start..], false))
            }
        }
    }
}

const NULL_FD: usize = usize::MAX;

/// Deepest `(` nesting handed to brush-parser. Its PEG grammar backtracks without memoisation:
/// each unclosed `(` inside `((...))` doubles the work (about 1.7x per level measured), so 40
/// levels parse for minutes. Real commands stay far below this.
const MAX_PAREN_DEPTH: usize = 16;

/// Most unmatched `{` in one word handed to the brace-expansion parser, which backtracks
/// exponentially on them (18 unmatched braces take seconds). Above this the word stays literal.
const MAX_UNMATCHED_BRACES: usize = 8;

/// Where a command's fd 1 and fd 2 go: indexes into `bufs` (0 = the caller's stdout, 1 = the
/// caller's stderr, 2.. = redirect files), or nowhere.
#[derive(Debug)]
pub struct Io {
    bufs: Vec<Vec<u8>>,
    fd1: usize,
    fd2: usize,
    cap: usize,
    /// A buffer hit the cap and dropped bytes.
    pub overflow: bool,
    /// The exec's memory budget, charged as the buffers grow (released when `Io` is dropped).
    meter: Option<Meter>,
    charged: u64,
}

impl Drop for Io {
    fn drop(&mut self) {
        if let Some(m) = &self.meter {
            m.release(self.charged);
        }
    }
}

impl Io {
    /// A fresh pair of streams capped at `cap` bytes each.
    pub fn new(cap: usize) -> Self {
        Io {
            bufs: vec![Vec::new(), Vec::new()],
            fd1: 0,
            fd2: 1,
            cap,
            overflow: false,
            meter: None,
            charged: 0,
        }
    }

    /// A fresh pair of streams whose bytes count towards `meter`.
    pub fn metered(cap: usize, meter: &Meter) -> Self {
        let mut io = Io::new(cap);
        io.meter = Some(meter.clone());
        io
    }

    fn push(&mut self, idx: usize, b: &[u8]) {
        self.push_metered(idx, b, true);
    }

    fn push_metered(&mut self, idx: usize, b: &[u8], metered: bool) {
        if idx == NULL_FD {
            return;
        }
        let buf = &mut self.bufs[idx];
        let room = self.cap.saturating_sub(buf.len());
        if let Some(m) = self.meter.as_ref().filter(|_| metered) {
            let n = b.len().min(room) as u64;
            // Past the budget the bytes are dropped; the meter stays tripped and the shell stops
            // the script with 126 at its next step.
            if m.charge(n).is_err() {
                return;
            }
            self.charged += n;
        }
        if b.len() > room {
            buf.extend_from_slice(&b[..room]);
            self.overflow = true;
        } else {
            buf.extend_from_slice(b);
        }
    }

    /// Writes to fd 1.
    pub fn out(&mut self, b: &[u8]) {
        self.push(self.fd1, b);
    }

    /// Writes to fd 2.
    pub fn err(&mut self, b: &[u8]) {
        self.push(self.fd2, b);
    }

    /// Writes a line to fd 2.
    pub fn errln(&mut self, s: &str) {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(b'\n');
        // Messages get through even past the memory budget (they say why the script stopped);
        // the stream's cap still bounds them.
        self.push_metered(self.fd2, &v, false);
    }

    /// The two streams (their bytes stop counting: the caller holds them now).
    pub fn into_streams(mut self) -> (Vec<u8>, Vec<u8>) {
        let err = std::mem::take(&mut self.bufs[1]);
        let out = std::mem::take(&mut self.bufs[0]);
        (out, err)
    }
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
}

#[derive(Debug, Clone)]
enum Var {
    Str(String),
    Arr(Vec<String>),
}

struct State {
    vars: HashMap<String, Var>,
    exported: HashSet<String>,
    functions: HashMap<String, Rc<ast::FunctionBody>>,
    positional: Vec<String>,
    cwd: String,
    opts: Opts,
    vars_bytes: u64,
    pos_bytes: u64,
    /// The copy's bytes, charged while it is kept.
    held: Held,
}

fn var_cost(name: &str, v: &Var) -> u64 {
    name.len() as u64
        + match v {
            Var::Str(s) => str_cost(s),
            Var::Arr(a) => strs_cost(a),
        }
}

/// Stops the script with exit 126 and the budget's message.
pub(crate) fn over_budget<T>(o: OverBudget) -> R<T> {
    abort(LIMIT_EXIT, o.message("bash"))
}

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
    locals: Vec<Vec<(String, Option<Var>)>>,
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
    cond_depth: u32,
    parse_opts: brush_parser::ParserOptions,
    status_from_subst: Option<i32>,
    pending_err: Vec<u8>,
    /// The exec's memory budget.
    pub meter: Meter,
    /// Bytes of `vars` and of `positional`, as charged to the meter.
    vars_bytes: u64,
    pos_bytes: u64,
    /// The `trap … EXIT` action, run when the script ends.
    exit_trap: Option<String>,
    /// Subshells entered and not yet left (a trap set inside one is refused).
    subshells: std::cell::Cell<u32>,
}

/// Escapes glob metacharacters so a quoted string matches literally.
pub fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '*' | '?' | '[' | ']' | '\\' | '(' | ')' | '|' | '!' | '+' | '@'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether `${x-…}`, `${x=…}`, `${x?…}` and `${x+…}` treat the parameter as absent: unset, or
/// with the colon form (`${x:-…}`) also empty.
fn param_missing(test_type: &word::ParameterTestType, values: &Option<Vec<String>>) -> bool {
    match test_type {
        word::ParameterTestType::UnsetOrNull => match values {
            None => true,
            Some(vals) => vals.is_empty() || (vals.len() == 1 && vals[0].is_empty()),
        },
        word::ParameterTestType::Unset => values.is_none(),
    }
}

/// Whether a pattern (with `\` escapes) has an unescaped glob metacharacter.
pub fn has_glob(p: &str) -> bool {
    let mut esc = false;
    for c in p.chars() {
        if esc {
            esc = false;
            continue;
        }
        match c {
            '\\' => esc = true,
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// Removes the `\` escapes of a pattern.
pub fn unescape_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut esc = false;
    for c in p.chars() {
        if !esc && c == '\\' {
            esc = true;
            continue;
        }
        esc = false;
        out.push(c);
    }
    out
}

/// Compiles a shell pattern into an anchored regex.
pub fn pattern_regex(pattern: &str, extglob: bool) -> Option<regex::Regex> {
    let re = brush_parser::pattern::pattern_to_regex_str(pattern, extglob).ok()?;
    regex::RegexBuilder::new(&format!("^(?s:{re})$"))
        .size_limit(1 << 22)
        .build()
        .ok()
}

/// What one field of an expansion holds besides its text: the struct and two heap blocks.
const FIELD_COST: u64 = 2 * 56 + 2 * 32;

/// One field being built during word expansion.
#[derive(Debug, Default, Clone)]
struct Field {
    text: String,
    pat: String,
    glob: bool,
    keep: bool,
}

#[derive(Debug, Default)]
struct Acc {
    fields: Vec<Field>,
    cur: Field,
    /// Set by an unquoted expansion that ended on a separator: the next text starts a field.
    pending_break: bool,
    /// Bytes gathered so far (text and pattern), checked against the memory budget.
    bytes: u64,
}

impl Acc {
    fn flush_break(&mut self) {
        if self.pending_break {
            self.pending_break = false;
            let f = std::mem::take(&mut self.cur);
            if f.keep {
                self.fields.push(f);
            }
        }
    }

    fn lit(&mut self, s: &str, quoted: bool) {
        self.bytes += 2 * s.len() as u64;
        self.flush_break();
        self.cur.text.push_str(s);
        if quoted {
            self.cur.pat.push_str(&glob_escape(s));
            self.cur.keep = true;
        } else {
            self.cur.pat.push_str(s);
            if has_glob(s) {
                self.cur.glob = true;
            }
            if !s.is_empty() {
                self.cur.keep = true;
            }
        }
    }

    /// An unquoted expansion result: split on IFS.
    fn split(&mut self, s: &str, ifs: &str) {
        self.bytes += 2 * s.len() as u64;
        for c in s.chars() {
            if ifs.contains(c) {
                if c.is_whitespace() {
                    if self.cur.keep {
                        self.pending_break = true;
                    }
                } else {
                    self.pending_break = false;
                    let f = std::mem::take(&mut self.cur);
                    self.fields.push(f);
                }
            } else {
                self.flush_break();
                let mut b = [0u8; 4];
                let cs = c.encode_utf8(&mut b);
                self.cur.text.push_str(cs);
                if c == '\\' {
                    self.cur.pat.push_str("\\\\");
                } else {
                    self.cur.pat.push_str(cs);
                }
                if matches!(c, '*' | '?' | '[') {
                    self.cur.glob = true;
                }
                self.cur.keep = true;
            }
        }
    }

    fn new_field(&mut self) {
        self.bytes += FIELD_COST;
        self.pending_break = false;
        let f = std::mem::take(&mut self.cur);
        self.fields.push(f);
    }

    fn finish(mut self) -> Vec<Field> {
        if self.cur.keep {
            self.fields.push(self.cur);
        }
        self.fields
    }
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
        vars.insert("IFS".to_owned(), Var::Str(" \t\n".to_owned()));
        vars.insert("OPTIND".to_owned(), Var::Str("1".to_owned()));
        let vars_bytes = vars.iter().map(|(k, v)| var_cost(k, v)).sum::<u64>();
        let parse_opts = brush_parser::ParserOptions {
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
            cond_depth: 0,
            parse_opts,
            status_from_subst: None,
            pending_err: Vec::new(),
            vars_bytes: {
                let n = vars_bytes;
                // A handful of bytes: a budget this small fails the script's first step instead.
                let _ = meter.charge(n);
                n
            },
            meter,
            pos_bytes: 0,
            exit_trap: None,
            subshells: std::cell::Cell::new(0),
        }
    }

    /// The `trap … EXIT` action.
    pub fn exit_trap(&self) -> Option<&str> {
        self.exit_trap.as_deref()
    }

    /// Sets or clears the `trap … EXIT` action.
    pub fn set_exit_trap(&mut self, action: Option<String>) {
        self.exit_trap = action;
    }

    /// Whether a subshell (pipeline stage, `( … )`, `$( … )`) is running.
    pub fn in_subshell(&self) -> bool {
        self.subshells.get() > 0
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

    /// A scalar variable's value (an array's first element).
    pub fn get_var(&self, name: &str) -> Option<String> {
        match self.vars.get(name)? {
            Var::Str(s) => Some(s.clone()),
            Var::Arr(a) => a.first().cloned(),
        }
    }

    /// Sets a scalar variable.
    pub fn set_var(&mut self, name: &str, value: String) -> R<()> {
        self.check_len(&value)?;
        if name == "PWD" {
            self.cwd = vfs::resolve("/", &value);
        }
        self.put_var(name.to_owned(), Var::Str(value))
    }

    /// Stores a variable, charging its bytes (and giving back the old value's).
    fn put_var(&mut self, name: String, v: Var) -> R<()> {
        let new = var_cost(&name, &v);
        let old = self.vars.get(&name).map_or(0, |o| var_cost(&name, o));
        self.meter.rebalance(old, new).or_else(over_budget)?;
        self.vars_bytes = self.vars_bytes.saturating_sub(old) + new;
        self.vars.insert(name, v);
        Ok(())
    }

    /// Puts back a variable saved earlier (or removes it when it did not exist).
    fn restore_var(&mut self, name: &str, old: Option<Var>) {
        self.take_var(name);
        if let Some(v) = old {
            let cost = var_cost(name, &v);
            // Past the budget the meter trips and the script stops at its next step.
            if self.meter.charge(cost).is_ok() {
                self.vars_bytes += cost;
            }
            self.vars.insert(name.to_owned(), v);
        }
    }

    /// Removes a variable, giving back its bytes.
    fn take_var(&mut self, name: &str) -> Option<Var> {
        let v = self.vars.remove(name)?;
        let cost = var_cost(name, &v);
        self.meter.release(cost);
        self.vars_bytes = self.vars_bytes.saturating_sub(cost);
        Some(v)
    }

    /// Replaces the positional parameters, charging their bytes.
    pub fn set_positional(&mut self, v: Vec<String>) -> R<Vec<String>> {
        let new = strs_cost(&v);
        self.meter
            .rebalance(self.pos_bytes, new)
            .or_else(over_budget)?;
        self.pos_bytes = new;
        Ok(std::mem::replace(&mut self.positional, v))
    }

    /// Fails with 126 when `n` more bytes would pass the memory budget.
    pub fn fits(&self, n: u64) -> R<()> {
        self.meter.fits(n).or_else(over_budget)
    }

    /// The exported variables, sorted, as `env` prints them.
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .exported
            .iter()
            .filter_map(|k| self.get_var(k).map(|v| (k.clone(), v)))
            .collect();
        v.sort();
        v
    }

    fn save_state(&self) -> R<State> {
        let held = self
            .meter
            .hold(self.vars_bytes + self.pos_bytes)
            .or_else(over_budget)?;
        Ok(State {
            vars: self.vars.clone(),
            exported: self.exported.clone(),
            functions: self.functions.clone(),
            positional: self.positional.clone(),
            cwd: self.cwd.clone(),
            opts: self.opts.clone(),
            vars_bytes: self.vars_bytes,
            pos_bytes: self.pos_bytes,
            held,
        })
        .inspect(|_| self.subshells.set(self.subshells.get() + 1))
    }

    fn restore_state(&mut self, s: State) {
        // The saved copy becomes the live state: its charge stays, the discarded state's goes.
        self.subshells.set(self.subshells.get().saturating_sub(1));
        self.meter.release(self.vars_bytes + self.pos_bytes);
        s.held.keep();
        self.vars = s.vars;
        self.exported = s.exported;
        self.functions = s.functions;
        self.positional = s.positional;
        self.cwd = s.cwd;
        self.opts = s.opts;
        self.vars_bytes = s.vars_bytes;
        self.pos_bytes = s.pos_bytes;
    }

    // ---------------------------------------------------------------- entry points

    /// Parses a script, mapping failures to bash's message and exit 2.
    pub fn parse(&self, script: &str) -> R<ast::Program> {
        if script.len() > self.limits.max_source_bytes {
            return abort(
                LIMIT_EXIT,
                format!(
                    "bash: script too large ({} bytes; limit {})",
                    script.len(),
                    self.limits.max_source_bytes
                ),
            );
        }
        let depth = check_nesting(script, self.limits.max_nesting_depth)?;
        if let Some(msg) = number_overflow(script) {
            return abort(UNSUPPORTED_EXIT, msg);
        }
        if paren_depth(script) > MAX_PAREN_DEPTH {
            return abort(
                UNSUPPORTED_EXIT,
                format!(
                    "bash: syntax error: parentheses nested more than {MAX_PAREN_DEPTH} levels deep"
                ),
            );
        }
        let mut parser = brush_parser::Parser::new(std::io::Cursor::new(script), &self.parse_opts);
        // The PEG parser recurses per nesting level: give deep scripts a stack sized for them.
        let parsed = if depth > 16 {
            stacker::grow(STACK_SEGMENT + depth * 64 * 1024, || parser.parse_program())
        } else {
            parser.parse_program()
        };
        match parsed {
            Ok(p) => Ok(p),
            Err(e) => abort(UNSUPPORTED_EXIT, format!("bash: syntax error: {e}")),
        }
    }

    /// Runs a whole script; returns the exit status.
    pub fn run_script(&mut self, script: &str, stdin: &mut Input, io: &mut Io) -> i32 {
        let result = self
            .parse(script)
            .and_then(|p| self.run_program(&p, stdin, io));
        let mut code = match result {
            Ok(s) => s,
            Err(Flow::Exit(s)) | Err(Flow::Return(s)) => s,
            Err(Flow::Break(_)) | Err(Flow::Continue(_)) => self.status,
            Err(Flow::Abort { code, msg }) => {
                io.errln(&msg);
                return code;
            }
        };
        // As bash: the EXIT trap runs once, sees the script's status in `$?`, and changes the
        // exit code only through its own `exit N`.
        if let Some(action) = self.exit_trap.take().filter(|a| !a.is_empty())
            && !self.meter.tripped()
        {
            self.status = code;
            let r = self
                .parse(&action)
                .and_then(|p| self.run_program(&p, stdin, io));
            match r {
                Err(Flow::Exit(s)) => code = s,
                Err(Flow::Abort { code, msg }) => {
                    io.errln(&msg);
                    return code;
                }
                _ => {}
            }
        }
        // A budget passed in the last step (or one a command caught) still fails the exec.
        if self.meter.tripped() {
            io.errln(&self.meter.over().message("bash"));
            return LIMIT_EXIT;
        }
        code
    }

    fn run_program(&mut self, p: &ast::Program, stdin: &mut Input, io: &mut Io) -> R<i32> {
        let mut st = 0;
        for cc in &p.complete_commands {
            st = self.run_list(cc, stdin, io)?;
        }
        Ok(st)
    }

    fn run_list(&mut self, list: &ast::CompoundList, stdin: &mut Input, io: &mut Io) -> R<i32> {
        let mut st = self.status;
        for item in &list.0 {
            if matches!(item.1, ast::SeparatorOperator::Async) {
                return abort(
                    UNSUPPORTED_EXIT,
                    "bash: background jobs (&) are not supported in this sandbox",
                );
            }
            st = self.run_and_or(&item.0, stdin, io)?;
        }
        Ok(st)
    }

    fn run_and_or(&mut self, list: &ast::AndOrList, stdin: &mut Input, io: &mut Io) -> R<i32> {
        let n = list.additional.len();
        // Every pipeline but the last is a condition for errexit purposes.
        if n > 0 {
            self.cond_depth += 1;
        }
        let first = self.run_pipeline(&list.first, stdin, io);
        if n > 0 {
            self.cond_depth -= 1;
        }
        let mut st = first?;
        for (i, ao) in list.additional.iter().enumerate() {
            let last = i + 1 == n;
            let (run, p) = match ao {
                ast::AndOr::And(p) => (st == 0, p),
                ast::AndOr::Or(p) => (st != 0, p),
            };
            if run {
                if !last {
                    self.cond_depth += 1;
                }
                let r = self.run_pipeline(p, stdin, io);
                if !last {
                    self.cond_depth -= 1;
                }
                st = r?;
            }
        }
        Ok(st)
    }

    fn errexit_check(&self, st: i32, negated: bool) -> R<()> {
        if st != 0 && self.opts.errexit && self.cond_depth == 0 && !negated {
            return Err(Flow::Exit(st));
        }
        Ok(())
    }

    fn run_pipeline(&mut self, p: &ast::Pipeline, stdin: &mut Input, io: &mut Io) -> R<i32> {
        if p.timed.is_some() {
            return abort(
                UNSUPPORTED_EXIT,
                "bash: time: not supported in this sandbox",
            );
        }
        if p.bang {
            self.cond_depth += 1;
        }
        let r = self.run_pipeline_inner(p, stdin, io);
        if p.bang {
            self.cond_depth -= 1;
        }
        if io.overflow {
            return abort(LIMIT_EXIT, "bash: output size limit exceeded");
        }
        let st = r?;
        let st = if p.bang { i32::from(st == 0) } else { st };
        self.status = st;
        self.errexit_check(st, p.bang)?;
        Ok(st)
    }

    fn run_pipeline_inner(&mut self, p: &ast::Pipeline, stdin: &mut Input, io: &mut Io) -> R<i32> {
        if p.seq.len() == 1 {
            let st = self.run_command(&p.seq[0], stdin, io)?;
            self.put_var("PIPESTATUS".into(), Var::Arr(vec![st.to_string()]))?;
            return Ok(st);
        }
        let mut statuses = Vec::with_capacity(p.seq.len());
        let mut data: Option<Arc<Vec<u8>>> = None;
        let n = p.seq.len();
        for (i, cmd) in p.seq.iter().enumerate() {
            self.tick()?;
            let mut input = match &data {
                None => std::mem::take(stdin),
                Some(d) => Input::new(d.clone()),
            };
            let mut stage = Io::metered(self.limits.max_output_bytes, &self.meter);
            // Each stage of a multi-command pipeline runs in a subshell.
            let saved = self.save_state()?;
            let r = self.run_command(cmd, &mut input, &mut stage);
            self.restore_state(saved);
            if data.is_none() {
                *stdin = input;
            }
            let overflow = stage.overflow;
            let (out, err) = stage.into_streams();
            io.err(&err);
            let st = match r {
                Ok(s) => s,
                Err(Flow::Exit(s)) | Err(Flow::Return(s)) => s,
                Err(Flow::Break(_)) | Err(Flow::Continue(_)) => 0,
                Err(abort @ Flow::Abort { .. }) => {
                    io.out(&out);
                    return Err(abort);
                }
            };
            statuses.push(st);
            if overflow {
                io.out(&out);
                return abort(LIMIT_EXIT, "bash: pipeline: output size limit exceeded");
            }
            if i + 1 == n {
                io.out(&out);
            } else {
                data = Some(Arc::new(out));
            }
        }
        let last = statuses.last().copied().unwrap_or(0);
        let st = if self.opts.pipefail {
            statuses
                .iter()
                .rev()
                .find(|s| **s != 0)
                .copied()
                .unwrap_or(0)
        } else {
            last
        };
        self.put_var(
            "PIPESTATUS".into(),
            Var::Arr(statuses.iter().map(|s| s.to_string()).collect()),
        )?;
        Ok(st)
    }

    fn run_command(&mut self, cmd: &ast::Command, stdin: &mut Input, io: &mut Io) -> R<i32> {
        // The interpreter recurses once per nesting level; when the thread's stack runs low
        // (tokio's blocking threads have 2 MiB), continue on a fresh heap-allocated segment
        // instead of overflowing, which would abort the host process.
        stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
            self.run_command_inner(cmd, stdin, io)
        })
    }

    fn run_command_inner(&mut self, cmd: &ast::Command, stdin: &mut Input, io: &mut Io) -> R<i32> {
        self.tick()?;
        match cmd {
            ast::Command::Simple(s) => self.run_simple(s, stdin, io),
            ast::Command::Compound(c, redirs) => {
                let redirs = redirs.as_ref().map(|r| r.0.as_slice()).unwrap_or(&[]);
                self.with_redirects(redirs, stdin, io, |sh, input, io| {
                    sh.run_compound(c, input, io)
                })
            }
            ast::Command::Function(f) => {
                self.functions
                    .insert(f.fname.value.clone(), Rc::new(f.body.clone()));
                Ok(0)
            }
            ast::Command::ExtendedTest(t, redirs) => {
                let redirs = redirs.as_ref().map(|r| r.0.as_slice()).unwrap_or(&[]);
                self.with_redirects(redirs, stdin, io, |sh, _input, io| {
                    let r = sh.ext_test(&t.expr);
                    match r {
                        Ok(b) => Ok(i32::from(!b)),
                        Err(Flow::Abort { code: 2, msg }) if !msg.is_empty() => {
                            io.errln(&msg);
                            Ok(2)
                        }
                        Err(e) => Err(e),
                    }
                })
            }
        }
    }

    fn count_command(&mut self) -> R<()> {
        self.commands += 1;
        if self.commands > self.limits.max_commands {
            return abort(
                LIMIT_EXIT,
                format!(
                    "bash: too many commands executed (>{}), increase limits.max_commands",
                    self.limits.max_commands
                ),
            );
        }
        Ok(())
    }

    fn loop_tick(&mut self) -> R<()> {
        self.loop_iters += 1;
        if self.loop_iters > self.limits.max_loop_iterations {
            return abort(
                LIMIT_EXIT,
                format!(
                    "bash: too many loop iterations (>{}), increase limits.max_loop_iterations",
                    self.limits.max_loop_iterations
                ),
            );
        }
        self.tick()
    }

    fn run_compound(&mut self, c: &ast::CompoundCommand, stdin: &mut Input, io: &mut Io) -> R<i32> {
        use ast::CompoundCommand as C;
        match c {
            C::BraceGroup(b) => self.run_list(&b.list, stdin, io),
            C::Subshell(s) => {
                let saved = self.save_state()?;
                let r = self.run_list(&s.list, stdin, io);
                self.restore_state(saved);
                match r {
                    Err(Flow::Exit(s)) => Ok(s),
                    other => other,
                }
            }
            C::IfClause(ic) => {
                self.cond_depth += 1;
                let c = self.run_list(&ic.condition, stdin, io);
                self.cond_depth -= 1;
                if c? == 0 {
                    return self.run_list(&ic.then, stdin, io);
                }
                if let Some(elses) = &ic.elses {
                    for e in elses {
                        match &e.condition {
                            Some(cond) => {
                                self.cond_depth += 1;
                                let c = self.run_list(cond, stdin, io);
                                self.cond_depth -= 1;
                                if c? == 0 {
                                    return self.run_list(&e.body, stdin, io);
                                }
                            }
                            None => return self.run_list(&e.body, stdin, io),
                        }
                    }
                }
                Ok(0)
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                let until = matches!(c, C::UntilClause(_));
                let mut st = 0;
                loop {
                    self.loop_tick()?;
                    self.cond_depth += 1;
                    let c = self.run_list(&w.0, stdin, io);
                    self.cond_depth -= 1;
                    let ok = c? == 0;
                    if ok == until {
                        break;
                    }
                    if !loop_pass(self.run_list(&w.1.list, stdin, io), &mut st)? {
                        break;
                    }
                }
                self.status = st;
                Ok(st)
            }
            C::ForClause(f) => {
                let values = match &f.values {
                    Some(ws) => self.expand_words(ws)?,
                    None => self.positional.clone(),
                };
                let mut st = 0;
                for v in values {
                    self.loop_tick()?;
                    self.set_var(&f.variable_name, v)?;
                    if !loop_pass(self.run_list(&f.body.list, stdin, io), &mut st)? {
                        break;
                    }
                }
                Ok(st)
            }
            C::ArithmeticForClause(f) => {
                if let Some(init) = &f.initializer {
                    self.arith_str(&init.value)?;
                }
                let mut st = 0;
                loop {
                    self.loop_tick()?;
                    if let Some(cond) = &f.condition
                        && self.arith_str(&cond.value)? == 0
                    {
                        break;
                    }
                    if !loop_pass(self.run_list(&f.body.list, stdin, io), &mut st)? {
                        break;
                    }
                    if let Some(upd) = &f.updater {
                        self.arith_str(&upd.value)?;
                    }
                }
                Ok(st)
            }
            C::CaseClause(cc) => {
                let value = self.expand_str(&cc.value.value)?;
                let mut i = 0;
                let mut fallthrough = false;
                let mut st = 0;
                while i < cc.cases.len() {
                    let item = &cc.cases[i];
                    let mut matched = fallthrough;
                    if !matched {
                        for p in &item.patterns {
                            let pat = self.expand_pattern(&p.value)?;
                            if pattern_match(&pat, &value) {
                                matched = true;
                                break;
                            }
                        }
                    }
                    if matched {
                        if let Some(cmd) = &item.cmd {
                            st = self.run_list(cmd, stdin, io)?;
                        }
                        match item.post_action {
                            ast::CaseItemPostAction::ExitCase => return Ok(st),
                            ast::CaseItemPostAction::UnconditionallyExecuteNextCaseItem => {
                                fallthrough = true;
                            }
                            ast::CaseItemPostAction::ContinueEvaluatingCases => {
                                fallthrough = false;
                            }
                        }
                    }
                    i += 1;
                }
                Ok(st)
            }
            C::Arithmetic(a) => {
                let v = self.arith_str(&a.expr.value);
                match v {
                    Ok(v) => Ok(i32::from(v == 0)),
                    Err(Flow::Abort { code: 1, msg }) => {
                        io.errln(&msg);
                        Ok(1)
                    }
                    Err(e) => Err(e),
                }
            }
            C::Coprocess(_) => abort(
                UNSUPPORTED_EXIT,
                "bash: coproc: not supported in this sandbox",
            ),
        }
    }

    // ---------------------------------------------------------------- redirects

    /// Runs `f` with the redirects applied: fd 1/fd 2 rerouted into buffers, files written after.
    fn with_redirects<F>(
        &mut self,
        redirs: &[ast::IoRedirect],
        stdin: &mut Input,
        io: &mut Io,
        f: F,
    ) -> R<i32>
    where
        F: FnOnce(&mut Self, &mut Input, &mut Io) -> R<i32>,
    {
        if redirs.is_empty() {
            return f(self, stdin, io);
        }
        let mut sub = Io::metered(self.limits.max_output_bytes, &self.meter);
        // Slots 0 and 1 stand for the caller's fd 1 and fd 2.
        let mut files: Vec<(String, bool)> = Vec::new();
        let mut new_input: Option<Input> = None;
        for r in redirs {
            match self.apply_redirect(r, &mut sub, &mut files, &mut new_input) {
                Ok(()) => {}
                Err(Flow::Abort { code: 1, msg }) => {
                    io.errln(&msg);
                    return Ok(1);
                }
                Err(e) => return Err(e),
            }
        }
        // Truncate `>` targets before the command runs, as the shell does.
        for (i, (path, append)) in files.iter().enumerate() {
            if !append && let Err(e) = self.fs.write(path, b"", false) {
                io.errln(&format!("bash: {}: {e}", self.display_path(path)));
                let _ = i;
                return Ok(1);
            }
        }
        let r = match new_input {
            Some(mut inp) => f(self, &mut inp, &mut sub),
            None => f(self, stdin, &mut sub),
        };
        let overflow = sub.overflow;
        let mut bufs = std::mem::take(&mut sub.bufs);
        io.out(&bufs[0]);
        io.err(&bufs[1]);
        let mut write_failed = false;
        for (i, (path, _)) in files.iter().enumerate() {
            let data = std::mem::take(&mut bufs[i + 2]);
            if let Err(e) = self.fs.write(path, &data, true) {
                io.errln(&format!("bash: {}: {e}", self.display_path(path)));
                write_failed = true;
            }
        }
        if overflow {
            return abort(LIMIT_EXIT, "bash: output size limit exceeded");
        }
        match r {
            Ok(_) if write_failed => Ok(1),
            other => other,
        }
    }

    /// How a path appears in messages: relative paths are not rewritten by bash, so we keep the
    /// virtual absolute path only when the user wrote one.
    fn display_path(&self, p: &str) -> String {
        p.to_owned()
    }

    fn redirect_target(&mut self, w: &ast::Word) -> R<(String, String)> {
        let fields = self.expand_word(w)?;
        if fields.len() != 1 {
            return abort(1, format!("bash: {}: ambiguous redirect", w.value));
        }
        let name = fields.into_iter().next().unwrap_or_default();
        let path = vfs::resolve(&self.cwd, &name);
        Ok((name, path))
    }

    fn apply_redirect(
        &mut self,
        r: &ast::IoRedirect,
        sub: &mut Io,
        files: &mut Vec<(String, bool)>,
        new_input: &mut Option<Input>,
    ) -> R<()> {
        use ast::{IoFileRedirectKind as K, IoFileRedirectTarget as T, IoRedirect as IR};
        let set_fd = |sub: &mut Io, fd: i32, slot: usize| -> R<()> {
            match fd {
                1 => sub.fd1 = slot,
                2 => sub.fd2 = slot,
                _ => {
                    return abort(
                        UNSUPPORTED_EXIT,
                        format!(
                            "bash: redirecting file descriptor {fd} is not supported in this sandbox"
                        ),
                    );
                }
            }
            Ok(())
        };
        match r {
            IR::File(fd, kind, target) => match (kind, target) {
                (K::Read, T::Filename(w)) => {
                    if fd.unwrap_or(0) != 0 {
                        return abort(
                            UNSUPPORTED_EXIT,
                            "bash: input redirection of fds other than 0 is not supported in this sandbox",
                        );
                    }
                    let (name, path) = self.redirect_target(w)?;
                    match self.fs.read(&path) {
                        Ok(d) => *new_input = Some(Input::new(d)),
                        Err(e) => return abort(1, format!("bash: {name}: {e}")),
                    }
                }
                (K::Write | K::Clobber | K::Append, T::Filename(w)) => {
                    let (name, path) = self.redirect_target(w)?;
                    let slot = if path == "/dev/null" {
                        NULL_FD
                    } else if path == "/dev/stdout" {
                        sub.fd1
                    } else if path == "/dev/stderr" {
                        sub.fd2
                    } else {
                        if self.fs.is_dir(&path) {
                            return abort(1, format!("bash: {name}: Is a directory"));
                        }
                        let par = vfs::parent(&path);
                        if !self.fs.is_dir(par) {
                            return abort(1, format!("bash: {name}: No such file or directory"));
                        }
                        if let Err(e) = self.fs.write(&path, b"", true) {
                            return abort(1, format!("bash: {name}: {e}"));
                        }
                        files.push((path, matches!(kind, K::Append)));
                        sub.bufs.push(Vec::new());
                        sub.bufs.len() - 1
                    };
                    set_fd(sub, fd.unwrap_or(1), slot)?;
                }
                (K::DuplicateOutput, T::Fd(_)) | (K::DuplicateOutput, T::Duplicate(_)) => {
                    let n = match target {
                        T::Fd(n) => *n,
                        T::Duplicate(w) => {
                            let v = self.expand_str(&w.value)?;
                            if v == "-" {
                                set_fd(sub, fd.unwrap_or(1), NULL_FD)?;
                                return Ok(());
                            }
                            match v.parse::<i32>() {
                                Ok(n) => n,
                                Err(_) => {
                                    // `>&file` is `&>file`.
                                    let (_, path) = self.redirect_target(w)?;
                                    files.push((path, false));
                                    sub.bufs.push(Vec::new());
                                    let slot = sub.bufs.len() - 1;
                                    sub.fd1 = slot;
                                    sub.fd2 = slot;
                                    return Ok(());
                                }
                            }
                        }
                        _ => 1,
                    };
                    let slot = match n {
                        1 => sub.fd1,
                        2 => sub.fd2,
                        _ => return abort(1, format!("bash: {n}: Bad file descriptor")),
                    };
                    set_fd(sub, fd.unwrap_or(1), slot)?;
                }
                (K::DuplicateInput, _) => {
                    // `<&0` and friends: stdin stays as it is.
                }
                (_, T::ProcessSubstitution(..)) => {
                    return abort(
                        UNSUPPORTED_EXIT,
                        "bash: process substitution is not supported in this sandbox",
                    );
                }
                _ => {
                    return abort(
                        UNSUPPORTED_EXIT,
                        format!("bash: redirection `{r}` is not supported in this sandbox"),
                    );
                }
            },
            IR::HereDocument(fd, doc) => {
                if fd.unwrap_or(0) != 0 {
                    return abort(
                        UNSUPPORTED_EXIT,
                        "bash: here-documents on fds other than 0 are not supported in this sandbox",
                    );
                }
                let mut body = doc.doc.value.clone();
                if doc.remove_tabs {
                    body = body
                        .split_inclusive('\n')
                        .map(|l| l.trim_start_matches('\t'))
                        .collect();
                }
                let text = if doc.requires_expansion {
                    self.expand_heredoc(&body)?
                } else {
                    body
                };
                self.check_len(&text)?;
                *new_input = Some(Input::new(Arc::new(text.into_bytes())));
            }
            IR::HereString(fd, w) => {
                if fd.unwrap_or(0) != 0 {
                    return abort(
                        UNSUPPORTED_EXIT,
                        "bash: here-strings on fds other than 0 are not supported in this sandbox",
                    );
                }
                let mut s = self.expand_str(&w.value)?;
                s.push('\n');
                *new_input = Some(Input::new(Arc::new(s.into_bytes())));
            }
            IR::OutputAndError(w, append) => {
                let (name, path) = self.redirect_target(w)?;
                let slot = if path == "/dev/null" {
                    NULL_FD
                } else {
                    if let Err(e) = self.fs.write(&path, b"", true) {
                        return abort(1, format!("bash: {name}: {e}"));
                    }
                    files.push((path, *append));
                    sub.bufs.push(Vec::new());
                    sub.bufs.len() - 1
                };
                sub.fd1 = slot;
                sub.fd2 = slot;
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- simple commands

    fn run_simple(&mut self, s: &ast::SimpleCommand, stdin: &mut Input, io: &mut Io) -> R<i32> {
        self.count_command()?;
        let mut parts = SimpleParts::default();
        for item in s.prefix.iter().flat_map(|p| p.0.iter()) {
            parts.add(item, false)?;
        }
        if let Some(w) = &s.word_or_name {
            parts.words.push(w);
        }
        for item in s.suffix.iter().flat_map(|p| p.0.iter()) {
            parts.add(item, true)?;
        }
        let SimpleParts {
            assigns,
            redirs,
            words,
        } = parts;
        self.status_from_subst = None;
        let argv = self.expand_words_refs(&words);
        let pending = self.take_pending_err();
        io.err(&pending);
        let argv = argv?;
        // The arguments live until the command returns (a function's copy is charged apart).
        let _argv_held = self.meter.hold(strs_cost(&argv)).or_else(over_budget)?;
        if argv.is_empty() {
            // Assignments only (redirects still create/truncate their files).
            for a in &assigns {
                self.assign(a)?;
            }
            let st = self.status_from_subst.take().unwrap_or(0);
            if !redirs.is_empty() {
                return self.with_redirects(&redirs, stdin, io, |_, _, _| Ok(st));
            }
            return Ok(st);
        }
        // Prefix assignments apply to this command only.
        let mut saved: Vec<(String, Option<Var>, bool)> = Vec::new();
        let (mut saved_bytes, mut saved_hold) = (0, self.meter.hold(0).or_else(over_budget)?);
        for a in &assigns {
            let name = match &a.name {
                ast::AssignmentName::VariableName(n) => n.clone(),
                ast::AssignmentName::ArrayElementName(n, _) => n.clone(),
            };
            let was_exported = self.exported.contains(&name);
            let old = self.vars.get(&name).cloned();
            if let Some(o) = &old {
                saved_bytes += var_cost(&name, o);
                saved_hold.resize(saved_bytes).or_else(over_budget)?;
            }
            saved.push((name.clone(), old, was_exported));
            self.assign(a)?;
            self.exported.insert(name);
        }
        let r = self.with_redirects(&redirs, stdin, io, |sh, input, io| {
            sh.dispatch(&argv, input, io)
        });
        for (name, old, was_exported) in saved {
            self.restore_var(&name, old);
            if !was_exported {
                self.exported.remove(&name);
            }
        }
        let st = r?;
        self.status = st;
        Ok(st)
    }

    fn assign(&mut self, a: &ast::Assignment) -> R<()> {
        match (&a.name, &a.value) {
            (ast::AssignmentName::VariableName(n), ast::AssignmentValue::Scalar(w)) => {
                let v = self.expand_str(&w.value)?;
                let v = if a.append {
                    self.get_var(n).unwrap_or_default() + &v
                } else {
                    v
                };
                self.set_var(n, v)
            }
            (ast::AssignmentName::VariableName(n), ast::AssignmentValue::Array(items)) => {
                let mut new_vals = Vec::new();
                for (idx, w) in items {
                    if idx.is_some() {
                        return abort(
                            UNSUPPORTED_EXIT,
                            "bash: indexed array literals ([i]=v) are not supported in this sandbox",
                        );
                    }
                    new_vals.extend(self.expand_word(w)?);
                }
                // `a+=(...)` grows the array in place (a copy per append would be quadratic).
                let vals = if a.append {
                    let mut vals = match self.take_var(n) {
                        Some(Var::Arr(v)) => v,
                        Some(Var::Str(s)) => vec![s],
                        None => Vec::new(),
                    };
                    vals.extend(new_vals);
                    vals
                } else {
                    new_vals
                };
                self.put_var(n.clone(), Var::Arr(vals))
            }
            (ast::AssignmentName::ArrayElementName(n, idx), ast::AssignmentValue::Scalar(w)) => {
                let i = self.arith_str(idx)?;
                let v = self.expand_str(&w.value)?;
                if !(0..=100_000).contains(&i) {
                    return abort(1, format!("bash: {n}[{idx}]: bad array subscript"));
                }
                let mut arr = match self.take_var(n) {
                    Some(Var::Arr(a)) => a,
                    Some(Var::Str(s)) => vec![s],
                    None => Vec::new(),
                };
                let i = i as usize;
                if arr.len() <= i {
                    self.fits((i + 1 - arr.len()) as u64 * str_cost(""))?;
                    arr.resize(i + 1, String::new());
                }
                arr[i] = if a.append {
                    std::mem::take(&mut arr[i]) + &v
                } else {
                    v
                };
                self.check_len(&arr[i])?;
                self.put_var(n.clone(), Var::Arr(arr))
            }
            _ => abort(
                UNSUPPORTED_EXIT,
                "bash: this assignment form is not supported in this sandbox",
            ),
        }
    }

    /// Runs one command by name: function, builtin, then the command registry.
    pub fn dispatch(&mut self, argv: &[String], stdin: &mut Input, io: &mut Io) -> R<i32> {
        let name = argv[0].as_str();
        // Commands with their own recursive parsers (awk, jq, sed, find, test) get arguments
        // built at run time too: bound their nesting like the script's.
        if let Some(a) = argv
            .iter()
            .find(|a| bracket_depth(a) > self.limits.max_nesting_depth)
        {
            io.errln(&format!(
                "bash: {name}: argument nested too deeply (more than {} levels): {}...",
                self.limits.max_nesting_depth,
                a.chars().take(20).collect::<String>()
            ));
            return Ok(UNSUPPORTED_EXIT);
        }
        if let Some(f) = self.functions.get(name).cloned() {
            return self.call_function(&f, argv, stdin, io);
        }
        if let Some(st) = crate::builtins::run_builtin(self, argv, stdin, io)? {
            return Ok(st);
        }
        // `/bin/ls` and `/usr/bin/ls` are the built-in `ls`: nothing here ever runs a program.
        let base = match name.rsplit_once('/') {
            Some(("/bin" | "/usr/bin" | "/usr/local/bin" | "/sbin" | "/usr/sbin", b)) => b,
            Some(_) => {
                io.errln(&format!("bash: {name}: No such file or directory"));
                return Ok(127);
            }
            None => name,
        };
        if let Some(cmd) = crate::commands::lookup(base) {
            let mut ctx = crate::commands::Ctx {
                sh: self,
                stdin,
                io,
            };
            return cmd(&mut ctx, &argv[1..]);
        }
        if base != name {
            io.errln(&format!("bash: {name}: No such file or directory"));
        } else {
            io.errln(&format!("bash: {name}: command not found"));
        }
        Ok(127)
    }

    /// Whether `name` is something `dispatch` can run.
    pub fn is_runnable(&self, name: &str) -> Option<&'static str> {
        if self.functions.contains_key(name) {
            Some("function")
        } else if crate::builtins::is_builtin(name) {
            Some("builtin")
        } else if crate::commands::lookup(name).is_some() {
            Some("file")
        } else {
            None
        }
    }

    fn call_function(
        &mut self,
        f: &ast::FunctionBody,
        argv: &[String],
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        if self.call_depth >= self.limits.max_call_depth {
            return abort(
                LIMIT_EXIT,
                format!(
                    "bash: {}: maximum recursion depth ({}) exceeded",
                    argv[0], self.limits.max_call_depth
                ),
            );
        }
        // The caller's parameters stay alive (and charged) while the function runs.
        let args = argv[1..].to_vec();
        let args_bytes = strs_cost(&args);
        self.meter.charge(args_bytes).or_else(over_budget)?;
        let saved_bytes = std::mem::replace(&mut self.pos_bytes, args_bytes);
        let saved_pos = std::mem::replace(&mut self.positional, args);
        self.call_depth += 1;
        self.locals.push(Vec::new());
        let redirs = f.1.as_ref().map(|r| r.0.as_slice()).unwrap_or(&[]);
        let r = self.with_redirects(redirs, stdin, io, |sh, input, io| {
            sh.run_compound(&f.0, input, io)
        });
        if let Some(frame) = self.locals.pop() {
            for (name, old) in frame.into_iter().rev() {
                if let Some(v) = &old {
                    self.meter.release(var_cost(&name, v));
                }
                self.restore_var(&name, old);
            }
        }
        self.meter.release(self.pos_bytes);
        self.positional = saved_pos;
        self.pos_bytes = saved_bytes;
        self.call_depth -= 1;
        match r {
            Err(Flow::Return(s)) => Ok(s),
            other => other,
        }
    }

    /// `local NAME[=VALUE]`.
    pub fn declare_local(&mut self, name: &str, value: Option<String>) -> R<bool> {
        let Some(frame) = self.locals.last_mut() else {
            return Ok(false);
        };
        let old = self.vars.get(name).cloned();
        if let Some(v) = &old {
            // The saved value lives in the frame until the function returns.
            if let Err(e) = self.meter.charge(var_cost(name, v)) {
                return over_budget(e);
            }
        }
        frame.push((name.to_owned(), old));
        match value {
            Some(v) => self.set_var(name, v)?,
            None => {
                self.put_var(name.to_owned(), Var::Str(String::new()))?;
            }
        }
        Ok(true)
    }

    /// Runs a script text in this shell (for `eval`, `source`, `bash -c`).
    pub fn run_nested(&mut self, script: &str, stdin: &mut Input, io: &mut Io) -> R<i32> {
        if self.subst_depth >= self.limits.max_substitution_depth {
            return abort(
                LIMIT_EXIT,
                format!(
                    "bash: maximum nesting depth ({}) exceeded",
                    self.limits.max_substitution_depth
                ),
            );
        }
        self.subst_depth += 1;
        let r = self
            .parse(script)
            .and_then(|p| self.run_program(&p, stdin, io));
        self.subst_depth -= 1;
        r
    }

    /// Runs `bash -c SCRIPT ARGS...` in a subshell.
    pub fn run_subshell_script(
        &mut self,
        script: &str,
        args: &[String],
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        let saved = self.save_state()?;
        self.set_positional(args.get(1..).map(|a| a.to_vec()).unwrap_or_default())?;
        let r = self.run_nested(script, stdin, io);
        self.restore_state(saved);
        match r {
            Err(Flow::Exit(s)) | Err(Flow::Return(s)) => Ok(s),
            Err(Flow::Abort {
                code: UNSUPPORTED_EXIT,
                msg,
            }) => {
                io.errln(&msg);
                Ok(UNSUPPORTED_EXIT)
            }
            other => other,
        }
    }

    /// Sets `set -e`/`-u`/`-o pipefail`... Returns false for an unknown option.
    pub fn set_option(&mut self, name: &str, on: bool) -> bool {
        match name {
            "e" | "errexit" => self.opts.errexit = on,
            "u" | "nounset" => self.opts.nounset = on,
            "f" | "noglob" => self.opts.noglob = on,
            "pipefail" => self.opts.pipefail = on,
            "globstar" => self.opts.globstar = on,
            "nullglob" => self.opts.nullglob = on,
            "dotglob" => self.opts.dotglob = on,
            "x" | "xtrace" | "v" | "verbose" | "extglob" | "failglob" | "nocaseglob"
            | "expand_aliases" | "H" | "histexpand" | "B" | "braceexpand" | "h" | "hashall"
            | "posix" | "o" => {}
            _ => return false,
        }
        true
    }

    /// Drops the first `n` positional parameters (`shift`); false when there are fewer.
    pub fn shift_positional(&mut self, n: usize) -> bool {
        if n > self.positional.len() {
            return false;
        }
        let freed: u64 = self.positional.drain(..n).map(|s| str_cost(&s)).sum();
        self.meter.release(freed);
        self.pos_bytes = self.pos_bytes.saturating_sub(freed);
        true
    }

    /// Unsets a variable or function.
    pub fn unset(&mut self, name: &str, function: bool) {
        if function {
            self.functions.remove(name);
        } else {
            self.take_var(name);
            self.exported.remove(name);
        }
    }

    /// Marks a variable exported.
    pub fn export(&mut self, name: &str) {
        self.exported.insert(name.to_owned());
    }

    /// The last status.
    pub fn last_status(&self) -> i32 {
        self.status
    }

    // ---------------------------------------------------------------- expansion

    fn parse_word(&self, s: &str) -> R<Vec<word::WordPieceWithSource>> {
        if let Some(msg) = number_overflow(s) {
            return abort(UNSUPPORTED_EXIT, msg);
        }
        match word::parse(s, &self.parse_opts) {
            Ok(p) => Ok(p),
            Err(e) => abort(UNSUPPORTED_EXIT, format!("bash: bad substitution: {e}")),
        }
    }

    fn expand_words_refs(&mut self, words: &[&ast::Word]) -> R<Vec<String>> {
        let mut out = Vec::new();
        // Fields already expanded stay charged while the next word expands.
        let mut held = self.meter.hold(0).or_else(over_budget)?;
        let mut bytes = 0;
        for w in words {
            let fields = self.expand_word(w)?;
            bytes += strs_cost(&fields);
            held.resize(bytes).or_else(over_budget)?;
            out.extend(fields);
        }
        Ok(out)
    }

    /// Full expansion of words into fields (brace, tilde, parameters, substitutions, splitting,
    /// globbing, quote removal).
    pub fn expand_words(&mut self, words: &[ast::Word]) -> R<Vec<String>> {
        let refs: Vec<&ast::Word> = words.iter().collect();
        self.expand_words_refs(&refs)
    }

    fn expand_word(&mut self, w: &ast::Word) -> R<Vec<String>> {
        self.tick()?;
        let texts = self.brace_expand(&w.value)?;
        let mut out = Vec::new();
        for t in texts {
            let pieces = self.parse_word(&t)?;
            let mut acc = Acc::default();
            self.expand_pieces(&pieces, false, &mut acc)?;
            for f in acc.finish() {
                if f.glob && !self.opts.noglob {
                    let matches = self.glob(&f.pat)?;
                    if matches.is_empty() {
                        if !self.opts.nullglob {
                            out.push(f.text);
                        }
                    } else {
                        out.extend(matches);
                    }
                } else {
                    out.push(f.text);
                }
            }
        }
        Ok(out)
    }

    fn brace_expand(&mut self, s: &str) -> R<Vec<String>> {
        if !s.contains('{') || !s.contains('}') {
            return Ok(vec![s.to_owned()]);
        }
        if !brace_parse_is_safe(s) {
            return Ok(vec![s.to_owned()]);
        }
        let parsed = match word::parse_brace_expansions(s, &self.parse_opts) {
            Ok(Some(p)) => p,
            _ => return Ok(vec![s.to_owned()]),
        };
        let limit = self.limits.max_brace_expansion;
        let out = brace_items(&parsed, limit).ok_or_else(|| Flow::Abort {
            code: LIMIT_EXIT,
            msg: format!("bash: brace expansion: too many results (>{limit})"),
        })?;
        Ok(out)
    }

    /// Expansion without splitting or globbing (assignments, `case` words, here-strings).
    pub fn expand_str(&mut self, s: &str) -> R<String> {
        let pieces = self.parse_word(s)?;
        let mut acc = Acc::default();
        self.expand_pieces(&pieces, true, &mut acc)?;
        let fields = acc.finish();
        let mut out = String::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&f.text);
        }
        Ok(out)
    }

    /// Expansion into a glob pattern: quoted parts are escaped.
    pub fn expand_pattern(&mut self, s: &str) -> R<String> {
        let pieces = self.parse_word(s)?;
        let mut acc = Acc::default();
        self.expand_pieces_pattern(&pieces, &mut acc)?;
        let fields = acc.finish();
        Ok(fields
            .into_iter()
            .map(|f| f.pat)
            .collect::<Vec<_>>()
            .join(" "))
    }

    fn expand_pieces_pattern(
        &mut self,
        pieces: &[word::WordPieceWithSource],
        acc: &mut Acc,
    ) -> R<()> {
        // Unquoted expansions keep their glob characters active; nothing is split.
        for p in pieces {
            match &p.piece {
                WordPiece::Text(t) => acc.lit(t, false),
                WordPiece::ParameterExpansion(_)
                | WordPiece::CommandSubstitution(_)
                | WordPiece::BackquotedCommandSubstitution(_)
                | WordPiece::ArithmeticExpression(_) => {
                    let mut inner = Acc::default();
                    self.expand_pieces(std::slice::from_ref(p), true, &mut inner)?;
                    let s: Vec<String> = inner.finish().into_iter().map(|f| f.text).collect();
                    acc.lit(&s.join(" "), false);
                }
                _ => self.expand_pieces(std::slice::from_ref(p), false, acc)?,
            }
        }
        Ok(())
    }

    fn expand_heredoc(&mut self, body: &str) -> R<String> {
        let pieces = match word::parse_heredoc(body, &self.parse_opts) {
            Ok(p) => p,
            Err(e) => return abort(UNSUPPORTED_EXIT, format!("bash: bad here-document: {e}")),
        };
        let mut acc = Acc::default();
        self.expand_pieces(&pieces, true, &mut acc)?;
        Ok(acc
            .finish()
            .into_iter()
            .map(|f| f.text)
            .collect::<Vec<_>>()
            .join(" "))
    }

    fn ifs(&self) -> String {
        self.get_var("IFS").unwrap_or_else(|| " \t\n".to_owned())
    }

    fn expand_pieces(
        &mut self,
        pieces: &[word::WordPieceWithSource],
        quoted: bool,
        acc: &mut Acc,
    ) -> R<()> {
        for p in pieces {
            match &p.piece {
                WordPiece::Text(t) => acc.lit(t, quoted),
                WordPiece::SingleQuotedText(t) => acc.lit(t, true),
                WordPiece::AnsiCQuotedText(t) => acc.lit(&crate::commands::unescape_ansi(t), true),
                WordPiece::EscapeSequence(e) => {
                    let ch = e.strip_prefix('\\').unwrap_or(e);
                    if quoted && !matches!(ch, "$" | "`" | "\"" | "\\" | "\n") {
                        acc.lit(e, true);
                    } else if ch == "\n" {
                    } else {
                        acc.lit(ch, true);
                    }
                }
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    acc.lit("", true);
                    self.expand_pieces(inner, true, acc)?;
                }
                WordPiece::TildeExpansion(t) => {
                    let v = match t {
                        word::TildeExpr::Home => self.get_var("HOME").unwrap_or_default(),
                        word::TildeExpr::WorkingDir => self.cwd.clone(),
                        word::TildeExpr::OldWorkingDir => {
                            self.get_var("OLDPWD").unwrap_or_default()
                        }
                        word::TildeExpr::UserHome(u) => format!("~{u}"),
                        _ => "~".to_owned(),
                    };
                    acc.lit(&v, true);
                }
                WordPiece::ParameterExpansion(pe) => self.expand_param(pe, quoted, acc)?,
                WordPiece::CommandSubstitution(s) | WordPiece::BackquotedCommandSubstitution(s) => {
                    let s = if matches!(p.piece, WordPiece::BackquotedCommandSubstitution(_)) {
                        unescape_backquoted(s)
                    } else {
                        s.clone()
                    };
                    let v = self.command_subst(&s)?;
                    self.push_value(&v, quoted, acc)?;
                }
                WordPiece::ArithmeticExpression(e) => {
                    let v = self.arith_str(&e.value)?;
                    self.push_value(&v.to_string(), quoted, acc)?;
                }
            }
        }
        Ok(())
    }

    fn push_value(&self, v: &str, quoted: bool, acc: &mut Acc) -> R<()> {
        // The text lands twice (the field and its glob pattern) beside what is gathered already.
        self.fits(acc.bytes + 2 * v.len() as u64)?;
        if quoted {
            acc.lit(v, true);
        } else {
            let ifs = self.ifs();
            acc.split(v, &ifs);
        }
        Ok(())
    }

    /// Runs `$(...)`: a subshell whose stdout, minus trailing newlines, is the value.
    pub fn command_subst(&mut self, script: &str) -> R<String> {
        if self.subst_depth >= self.limits.max_substitution_depth {
            return abort(
                LIMIT_EXIT,
                format!(
                    "bash: maximum command substitution depth ({}) exceeded",
                    self.limits.max_substitution_depth
                ),
            );
        }
        self.subst_depth += 1;
        let saved = self.save_state()?;
        let mut io = Io::metered(self.limits.max_output_bytes, &self.meter);
        let mut input = Input::default();
        let r = self
            .parse(script)
            .and_then(|p| self.run_program(&p, &mut input, &mut io));
        self.restore_state(saved);
        self.subst_depth -= 1;
        let st = match r {
            Ok(s) | Err(Flow::Exit(s)) | Err(Flow::Return(s)) => s,
            Err(Flow::Break(_)) | Err(Flow::Continue(_)) => 0,
            Err(e) => return Err(e),
        };
        self.status = st;
        self.status_from_subst = Some(st);
        let overflow = io.overflow;
        let (out, err) = io.into_streams();
        // Errors of the substitution go to the caller's stderr; we have no handle here, so they
        // are carried in a side buffer flushed by the caller.
        self.pending_err.extend_from_slice(&err);
        if overflow {
            return abort(
                LIMIT_EXIT,
                "bash: command substitution: output size limit exceeded",
            );
        }
        let mut s = String::from_utf8_lossy(&out).into_owned();
        while s.ends_with('\n') {
            s.pop();
        }
        self.check_len(&s)?;
        Ok(s)
    }

    /// Takes the stderr that command substitutions produced.
    pub fn take_pending_err(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending_err)
    }

    fn param_values(&mut self, p: &Parameter) -> R<(Option<Vec<String>>, bool)> {
        // Returns (values, is_multi). None = unset.
        Ok(match p {
            Parameter::Positional(0) => (Some(vec!["bash".to_owned()]), false),
            Parameter::Positional(n) => (
                self.positional
                    .get(*n as usize - 1)
                    .map(|v| vec![v.clone()]),
                false,
            ),
            Parameter::Special(sp) => match sp {
                SpecialParameter::AllPositionalParameters { .. } => {
                    self.fits(self.pos_bytes)?;
                    (Some(self.positional.clone()), true)
                }
                SpecialParameter::PositionalParameterCount => {
                    (Some(vec![self.positional.len().to_string()]), false)
                }
                SpecialParameter::LastExitStatus => (Some(vec![self.status.to_string()]), false),
                SpecialParameter::CurrentOptionFlags => {
                    let mut f = String::from("h");
                    if self.opts.errexit {
                        f.push('e');
                    }
                    if self.opts.nounset {
                        f.push('u');
                    }
                    f.push('B');
                    (Some(vec![f]), false)
                }
                SpecialParameter::ProcessId => (Some(vec!["1".to_owned()]), false),
                SpecialParameter::LastBackgroundProcessId => (None, false),
                SpecialParameter::ShellName => (Some(vec!["bash".to_owned()]), false),
            },
            Parameter::Named(n) => match n.as_str() {
                "RANDOM" => (
                    Some(vec![
                        (self.commands.wrapping_mul(1103515245).wrapping_add(12345) % 32768)
                            .to_string(),
                    ]),
                    false,
                ),
                "SECONDS" => (Some(vec!["0".to_owned()]), false),
                _ => (self.get_var(n).map(|v| vec![v]), false),
            },
            Parameter::NamedWithIndex { name, index } => {
                let i = self.arith_str(index)?;
                let v = match self.vars.get(name) {
                    Some(Var::Arr(a)) => {
                        let idx = if i < 0 { a.len() as i64 + i } else { i };
                        if idx < 0 {
                            None
                        } else {
                            a.get(idx as usize).cloned()
                        }
                    }
                    Some(Var::Str(s)) if i == 0 => Some(s.clone()),
                    _ => None,
                };
                (v.map(|v| vec![v]), false)
            }
            Parameter::NamedWithAllIndices { name, .. } => match self.vars.get(name) {
                Some(Var::Arr(a)) => {
                    self.fits(strs_cost(a))?;
                    (Some(a.clone()), true)
                }
                Some(Var::Str(s)) => (Some(vec![s.clone()]), true),
                None => (Some(Vec::new()), true),
            },
        })
    }

    fn param_name(p: &Parameter) -> String {
        match p {
            Parameter::Positional(n) => n.to_string(),
            Parameter::Special(s) => s.to_string(),
            Parameter::Named(n) => n.clone(),
            Parameter::NamedWithIndex { name, index } => format!("{name}[{index}]"),
            Parameter::NamedWithAllIndices { name, concatenate } => {
                format!("{name}[{}]", if *concatenate { "*" } else { "@" })
            }
        }
    }

    fn expand_param(&mut self, pe: &ParameterExpr, quoted: bool, acc: &mut Acc) -> R<()> {
        use ParameterExpr as P;
        let (param, indirect) = match pe {
            P::Parameter {
                parameter,
                indirect,
            }
            | P::UseDefaultValues {
                parameter,
                indirect,
                ..
            }
            | P::AssignDefaultValues {
                parameter,
                indirect,
                ..
            }
            | P::IndicateErrorIfNullOrUnset {
                parameter,
                indirect,
                ..
            }
            | P::UseAlternativeValue {
                parameter,
                indirect,
                ..
            }
            | P::ParameterLength {
                parameter,
                indirect,
            }
            | P::RemoveSmallestSuffixPattern {
                parameter,
                indirect,
                ..
            }
            | P::RemoveLargestSuffixPattern {
                parameter,
                indirect,
                ..
            }
            | P::RemoveSmallestPrefixPattern {
                parameter,
                indirect,
                ..
            }
            | P::RemoveLargestPrefixPattern {
                parameter,
                indirect,
                ..
            }
            | P::Substring {
                parameter,
                indirect,
                ..
            }
            | P::Transform {
                parameter,
                indirect,
                ..
            }
            | P::UppercaseFirstChar {
                parameter,
                indirect,
                ..
            }
            | P::UppercasePattern {
                parameter,
                indirect,
                ..
            }
            | P::LowercaseFirstChar {
                parameter,
                indirect,
                ..
            }
            | P::LowercasePattern {
                parameter,
                indirect,
                ..
            }
            | P::ReplaceSubstring {
                parameter,
                indirect,
                ..
            } => (parameter, *indirect),
            P::VariableNames { .. } | P::MemberKeys { .. } => {
                return abort(
                    UNSUPPORTED_EXIT,
                    "bash: ${!prefix*} and ${!array[@]} are not supported in this sandbox",
                );
            }
        };
        let (mut values, mut multi) = self.param_values(param)?;
        if indirect {
            let target = values
                .as_ref()
                .and_then(|v| v.first().cloned())
                .unwrap_or_default();
            match word::parse_parameter(&target, &self.parse_opts) {
                Ok(p2) => {
                    let (v, m) = self.param_values(&p2)?;
                    values = v;
                    multi = m;
                }
                Err(_) => return abort(1, format!("bash: {target}: invalid indirect expansion")),
            }
        }
        let joined = |v: &Option<Vec<String>>, sh: &Self| -> Option<String> {
            v.as_ref().map(|vals| {
                let sep = sh
                    .ifs()
                    .chars()
                    .next()
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                vals.join(&sep)
            })
        };
        let name = Self::param_name(param);
        match pe {
            P::Parameter { parameter, .. } => {
                if values.is_none()
                    && self.opts.nounset
                    && !matches!(parameter, Parameter::Special(_))
                {
                    return abort(127, format!("bash: {name}: unbound variable"));
                }
                let concat = matches!(
                    parameter,
                    Parameter::Special(SpecialParameter::AllPositionalParameters {
                        concatenate: true
                    }) | Parameter::NamedWithAllIndices {
                        concatenate: true,
                        ..
                    }
                );
                if multi && !concat {
                    let vals = values.unwrap_or_default();
                    if quoted {
                        for (i, v) in vals.iter().enumerate() {
                            if i > 0 {
                                acc.new_field();
                            }
                            acc.lit(v, true);
                        }
                    } else {
                        let ifs = self.ifs();
                        for (i, v) in vals.iter().enumerate() {
                            if i > 0 && acc.cur.keep {
                                acc.pending_break = true;
                            }
                            acc.split(v, &ifs);
                        }
                    }
                } else {
                    let v = joined(&values, self).unwrap_or_default();
                    self.push_value(&v, quoted, acc)?;
                }
            }
            P::UseDefaultValues {
                test_type,
                default_value,
                ..
            } => {
                let use_default = param_missing(test_type, &values);
                if use_default {
                    self.expand_operand(default_value.as_deref().unwrap_or(""), quoted, acc)?;
                } else {
                    let v = joined(&values, self).unwrap_or_default();
                    self.push_value(&v, quoted, acc)?;
                }
            }
            P::AssignDefaultValues {
                test_type,
                default_value,
                ..
            } => {
                let use_default = param_missing(test_type, &values);
                let v = if use_default {
                    let v = self.expand_str(default_value.as_deref().unwrap_or(""))?;
                    match param {
                        Parameter::Named(n) => self.set_var(n, v.clone())?,
                        _ => return abort(1, format!("bash: ${name}: cannot assign in this way")),
                    }
                    v
                } else {
                    joined(&values, self).unwrap_or_default()
                };
                self.push_value(&v, quoted, acc)?;
            }
            P::IndicateErrorIfNullOrUnset {
                test_type,
                error_message,
                ..
            } => {
                let bad = param_missing(test_type, &values);
                if bad {
                    let msg = match error_message {
                        Some(m) => self.expand_str(m)?,
                        None => "parameter null or not set".to_owned(),
                    };
                    return abort(127, format!("bash: {name}: {msg}"));
                }
                let v = joined(&values, self).unwrap_or_default();
                self.push_value(&v, quoted, acc)?;
            }
            P::UseAlternativeValue {
                test_type,
                alternative_value,
                ..
            } => {
                let use_alt = !param_missing(test_type, &values);
                if use_alt {
                    self.expand_operand(alternative_value.as_deref().unwrap_or(""), quoted, acc)?;
                }
            }
            P::ParameterLength { .. } => {
                let n = if multi {
                    values.map(|v| v.len()).unwrap_or(0)
                } else {
                    if values.is_none() && self.opts.nounset {
                        return abort(127, format!("bash: {name}: unbound variable"));
                    }
                    joined(&values, self)
                        .map(|s| s.chars().count())
                        .unwrap_or(0)
                };
                self.push_value(&n.to_string(), quoted, acc)?;
            }
            P::RemoveSmallestSuffixPattern { pattern, .. }
            | P::RemoveLargestSuffixPattern { pattern, .. }
            | P::RemoveSmallestPrefixPattern { pattern, .. }
            | P::RemoveLargestPrefixPattern { pattern, .. } => {
                let pat = self.expand_pattern(pattern.as_deref().unwrap_or(""))?;
                let re = pattern_regex(&pat, false);
                let (suffix, largest) = match pe {
                    P::RemoveSmallestSuffixPattern { .. } => (true, false),
                    P::RemoveLargestSuffixPattern { .. } => (true, true),
                    P::RemoveSmallestPrefixPattern { .. } => (false, false),
                    _ => (false, true),
                };
                let vals = values.unwrap_or_default();
                let out: Vec<String> = vals
                    .iter()
                    .map(|v| match &re {
                        Some(re) => remove_affix(self, v, re, suffix, largest),
                        None => Ok(v.clone()),
                    })
                    .collect::<R<_>>()?;
                self.push_multi(out, multi, quoted, acc)?;
            }
            P::Substring { offset, length, .. } => {
                let off = self.arith_str(&offset.value)?;
                let len = match length {
                    Some(l) => Some(self.arith_str(&l.value)?),
                    None => None,
                };
                if multi {
                    let vals = values.unwrap_or_default();
                    let n = vals.len() as i64;
                    let start = if off < 0 {
                        (n + off).max(0)
                    } else {
                        (off - 1).max(0).min(n)
                    };
                    let start = if matches!(param, Parameter::NamedWithAllIndices { .. }) {
                        if off < 0 {
                            (n + off).max(0)
                        } else {
                            off.min(n)
                        }
                    } else {
                        start
                    };
                    let end = match len {
                        Some(l) if l < 0 => (n + l).max(start),
                        Some(l) => (start + l).min(n),
                        None => n,
                    };
                    let out = vals[start as usize..end.max(start) as usize].to_vec();
                    self.push_multi(out, true, quoted, acc)?;
                } else {
                    let v = joined(&values, self).unwrap_or_default();
                    let chars: Vec<char> = v.chars().collect();
                    let n = chars.len() as i64;
                    let start = if off < 0 {
                        (n + off).max(0)
                    } else {
                        off.min(n)
                    };
                    let end = match len {
                        Some(l) if l < 0 => {
                            let e = n + l;
                            if e < start {
                                return abort(1, format!("bash: {l}: substring expression < 0"));
                            }
                            e
                        }
                        Some(l) => (start + l).min(n),
                        None => n,
                    };
                    let s: String = chars[start as usize..end as usize].iter().collect();
                    self.push_value(&s, quoted, acc)?;
                }
            }
            P::Transform { op, .. } => {
                let vals = values.unwrap_or_default();
                let out: Vec<String> = vals
                    .iter()
                    .map(|v| match op {
                        word::ParameterTransformOp::ToUpperCase => v.to_uppercase(),
                        word::ParameterTransformOp::ToLowerCase => v.to_lowercase(),
                        word::ParameterTransformOp::CapitalizeInitial => capitalize(v),
                        word::ParameterTransformOp::Quoted => shell_quote(v),
                        word::ParameterTransformOp::ExpandEscapeSequences => {
                            crate::commands::unescape_ansi(v)
                        }
                        _ => v.clone(),
                    })
                    .collect();
                self.push_multi(out, multi, quoted, acc)?;
            }
            P::UppercaseFirstChar { .. }
            | P::UppercasePattern { .. }
            | P::LowercaseFirstChar { .. }
            | P::LowercasePattern { .. } => {
                let vals = values.unwrap_or_default();
                let out: Vec<String> = vals
                    .iter()
                    .map(|v| match pe {
                        P::UppercaseFirstChar { .. } => capitalize(v),
                        P::UppercasePattern { .. } => v.to_uppercase(),
                        P::LowercaseFirstChar { .. } => {
                            let mut c = v.chars();
                            match c.next() {
                                Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
                                None => String::new(),
                            }
                        }
                        _ => v.to_lowercase(),
                    })
                    .collect();
                self.push_multi(out, multi, quoted, acc)?;
            }
            P::ReplaceSubstring {
                pattern,
                replacement,
                match_kind,
                ..
            } => {
                let pat = self.expand_pattern(pattern)?;
                let rep = match replacement {
                    Some(r) => self.expand_str(r)?,
                    None => String::new(),
                };
                let vals = values.unwrap_or_default();
                let out: Vec<String> = vals
                    .iter()
                    .map(|v| replace_pattern(self, v, &pat, &rep, match_kind))
                    .collect::<R<_>>()?;
                self.push_multi(out, multi, quoted, acc)?;
            }
            P::VariableNames { .. } | P::MemberKeys { .. } => {}
        }
        Ok(())
    }

    fn push_multi(&self, vals: Vec<String>, multi: bool, quoted: bool, acc: &mut Acc) -> R<()> {
        if multi && quoted {
            let text: u64 = vals.iter().map(|v| 2 * v.len() as u64).sum();
            self.fits(acc.bytes + vals.len() as u64 * FIELD_COST + text + strs_cost(&vals))?;
            // Each value is dropped once copied, so the copy does not double the peak.
            for (i, v) in vals.into_iter().enumerate() {
                if i > 0 {
                    acc.new_field();
                }
                acc.lit(&v, true);
            }
            Ok(())
        } else {
            self.fits(strs_cost(&vals))?;
            self.push_value(&vals.join(" "), quoted, acc)
        }
    }

    fn expand_operand(&mut self, s: &str, quoted: bool, acc: &mut Acc) -> R<()> {
        let pieces = self.parse_word(s)?;
        self.expand_pieces(&pieces, quoted, acc)
    }

    // ---------------------------------------------------------------- globbing

    /// Expands a glob pattern (with `\` escapes) against the filesystem, sorted.
    pub fn glob(&mut self, pat: &str) -> R<Vec<String>> {
        let absolute = pat.starts_with('/');
        let segs: Vec<&str> = pat.split('/').filter(|s| !s.is_empty()).collect();
        // (virtual dir, displayed prefix)
        let mut cur: Vec<(String, String)> = vec![if absolute {
            ("/".to_owned(), "/".to_owned())
        } else {
            (self.cwd.clone(), String::new())
        }];
        let mut visited = 0u64;
        let trailing_slash = pat.ends_with('/') && pat.len() > 1;
        for (i, seg) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            let mut next = Vec::new();
            if *seg == "**" && self.opts.globstar {
                for (dir, disp) in &cur {
                    let mut stack = vec![(dir.clone(), disp.clone())];
                    while let Some((d, p)) = stack.pop() {
                        self.visit(&mut visited)?;
                        next.push((d.clone(), p.clone()));
                        let Ok(mut entries) = self.fs.read_dir(&d) else {
                            continue;
                        };
                        entries.sort_by(|a, b| b.name.cmp(&a.name));
                        for e in entries {
                            if e.name.starts_with('.') && !self.opts.dotglob {
                                continue;
                            }
                            if last {
                                next.push((vfs::child_path(&d, &e.name), format!("{p}{}", e.name)));
                            }
                            if e.kind == Kind::Dir {
                                stack.push((
                                    vfs::child_path(&d, &e.name),
                                    format!("{p}{}/", e.name),
                                ));
                            }
                        }
                    }
                }
                if last {
                    // `**` alone matches files and directories (the empty match is dropped).
                    next.retain(|(_, p)| !p.is_empty());
                    next = next
                        .into_iter()
                        .map(|(d, p)| (d, p.trim_end_matches('/').to_owned()))
                        .collect();
                }
            } else if has_glob(seg) {
                let Some(re) = pattern_regex(seg, false) else {
                    return Ok(Vec::new());
                };
                let explicit_dot = seg.starts_with('.') || seg.starts_with("\\.");
                for (dir, disp) in &cur {
                    let Ok(entries) = self.fs.read_dir(dir) else {
                        continue;
                    };
                    for e in entries {
                        self.visit(&mut visited)?;
                        if e.name.starts_with('.') && !explicit_dot && !self.opts.dotglob {
                            continue;
                        }
                        if !re.is_match(&e.name) {
                            continue;
                        }
                        if !last && e.kind != Kind::Dir {
                            continue;
                        }
                        let sep = if last { "" } else { "/" };
                        next.push((
                            vfs::child_path(dir, &e.name),
                            format!("{disp}{}{sep}", e.name),
                        ));
                    }
                }
            } else {
                let lit = unescape_pattern(seg);
                for (dir, disp) in &cur {
                    let path = vfs::child_path(dir, &lit);
                    let ok = if last {
                        self.fs.exists(&path)
                    } else {
                        self.fs.is_dir(&path)
                    };
                    if ok {
                        let sep = if last { "" } else { "/" };
                        next.push((path, format!("{disp}{lit}{sep}")));
                    }
                }
            }
            cur = next;
            if cur.is_empty() {
                return Ok(Vec::new());
            }
        }
        let mut out: Vec<String> = cur
            .into_iter()
            .filter(|(d, _)| !trailing_slash || self.fs.is_dir(d))
            .map(|(_, p)| if trailing_slash { format!("{p}/") } else { p })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    // ---------------------------------------------------------------- arithmetic

    /// Expands and evaluates an arithmetic expression.
    pub fn arith_str(&mut self, s: &str) -> R<i64> {
        let expanded = self.expand_str(s)?;
        let t = expanded.trim();
        if t.is_empty() {
            return Ok(0);
        }
        let expr = match brush_parser::arithmetic::parse(t) {
            Ok(e) => e,
            Err(_) => return abort(1, format!("bash: {t}: syntax error in expression")),
        };
        self.arith(&expr, 0)
    }

    fn arith_var(&mut self, name: &str, depth: u32) -> R<i64> {
        let v = self.get_var(name).unwrap_or_default();
        let t = v.trim();
        if t.is_empty() {
            return Ok(0);
        }
        if let Ok(n) = t.parse::<i64>() {
            return Ok(n);
        }
        if depth > 10 {
            return abort(
                1,
                format!("bash: {name}: expression recursion level exceeded"),
            );
        }
        match brush_parser::arithmetic::parse(t) {
            Ok(e) => self.arith(&e, depth + 1),
            Err(_) => abort(1, format!("bash: {t}: syntax error in expression")),
        }
    }

    fn arith_target_get(&mut self, t: &ast::ArithmeticTarget, depth: u32) -> R<i64> {
        match t {
            ast::ArithmeticTarget::Variable(n) => self.arith_var(n, depth),
            ast::ArithmeticTarget::ArrayElement(n, idx) => {
                let i = self.arith(idx, depth)?;
                let v = match self.vars.get(n) {
                    Some(Var::Arr(a)) => a.get(i.max(0) as usize).cloned().unwrap_or_default(),
                    Some(Var::Str(s)) if i == 0 => s.clone(),
                    _ => String::new(),
                };
                Ok(v.trim().parse().unwrap_or(0))
            }
        }
    }

    fn arith_target_set(&mut self, t: &ast::ArithmeticTarget, v: i64, depth: u32) -> R<()> {
        match t {
            ast::ArithmeticTarget::Variable(n) => self.set_var(n, v.to_string()),
            ast::ArithmeticTarget::ArrayElement(n, idx) => {
                let i = self.arith(idx, depth)?;
                if !(0..=100_000).contains(&i) {
                    return abort(1, format!("bash: {n}: bad array subscript"));
                }
                let mut arr = match self.take_var(n) {
                    Some(Var::Arr(a)) => a,
                    Some(Var::Str(s)) => vec![s],
                    None => Vec::new(),
                };
                if arr.len() <= i as usize {
                    self.fits((i as usize + 1 - arr.len()) as u64 * str_cost(""))?;
                    arr.resize(i as usize + 1, String::new());
                }
                arr[i as usize] = v.to_string();
                self.put_var(n.clone(), Var::Arr(arr))
            }
        }
    }

    fn arith(&mut self, e: &ast::ArithmeticExpr, depth: u32) -> R<i64> {
        use ast::ArithmeticExpr as A;
        use ast::BinaryOperator as B;
        Ok(match e {
            A::Literal(n) => *n,
            A::Reference(t) => self.arith_target_get(t, depth)?,
            A::UnaryOp(op, x) => {
                let v = self.arith(x, depth)?;
                match op {
                    ast::UnaryOperator::UnaryPlus => v,
                    ast::UnaryOperator::UnaryMinus => v.wrapping_neg(),
                    ast::UnaryOperator::BitwiseNot => !v,
                    ast::UnaryOperator::LogicalNot => i64::from(v == 0),
                }
            }
            A::BinaryOp(op, a, b) => {
                match op {
                    B::LogicalAnd => {
                        return Ok(i64::from(
                            self.arith(a, depth)? != 0 && self.arith(b, depth)? != 0,
                        ));
                    }
                    B::LogicalOr => {
                        return Ok(i64::from(
                            self.arith(a, depth)? != 0 || self.arith(b, depth)? != 0,
                        ));
                    }
                    _ => {}
                }
                let x = self.arith(a, depth)?;
                let y = self.arith(b, depth)?;
                binop(op, x, y)?
            }
            A::Conditional(c, a, b) => {
                if self.arith(c, depth)? != 0 {
                    self.arith(a, depth)?
                } else {
                    self.arith(b, depth)?
                }
            }
            A::Assignment(t, x) => {
                let v = self.arith(x, depth)?;
                self.arith_target_set(t, v, depth)?;
                v
            }
            A::BinaryAssignment(op, t, x) => {
                let cur = self.arith_target_get(t, depth)?;
                let y = self.arith(x, depth)?;
                let v = binop(op, cur, y)?;
                self.arith_target_set(t, v, depth)?;
                v
            }
            A::UnaryAssignment(op, t) => {
                let cur = self.arith_target_get(t, depth)?;
                let (new, ret) = match op {
                    ast::UnaryAssignmentOperator::PrefixIncrement => {
                        (cur.wrapping_add(1), cur.wrapping_add(1))
                    }
                    ast::UnaryAssignmentOperator::PrefixDecrement => {
                        (cur.wrapping_sub(1), cur.wrapping_sub(1))
                    }
                    ast::UnaryAssignmentOperator::PostfixIncrement => (cur.wrapping_add(1), cur),
                    ast::UnaryAssignmentOperator::PostfixDecrement => (cur.wrapping_sub(1), cur),
                };
                self.arith_target_set(t, new, depth)?;
                ret
            }
        })
    }

    // ---------------------------------------------------------------- [[ ]]

    fn ext_test(&mut self, e: &ast::ExtendedTestExpr) -> R<bool> {
        use ast::ExtendedTestExpr as E;
        Ok(match e {
            E::And(a, b) => self.ext_test(a)? && self.ext_test(b)?,
            E::Or(a, b) => self.ext_test(a)? || self.ext_test(b)?,
            E::Not(a) => !self.ext_test(a)?,
            E::Parenthesized(a) => self.ext_test(a)?,
            E::UnaryTest(pred, w) => {
                let v = self.expand_str(&w.value)?;
                crate::builtins::unary_test(self, pred, &v)
            }
            E::BinaryTest(pred, l, r) => {
                use ast::BinaryPredicate as BP;
                let lv = self.expand_str(&l.value)?;
                match pred {
                    BP::StringExactlyMatchesPattern | BP::StringDoesNotExactlyMatchPattern => {
                        let pat = self.expand_pattern(&r.value)?;
                        let m = pattern_match(&pat, &lv);
                        if matches!(pred, BP::StringExactlyMatchesPattern) {
                            m
                        } else {
                            !m
                        }
                    }
                    BP::StringMatchesRegex => {
                        let re_src = self.expand_regex_operand(&r.value)?;
                        match regex::RegexBuilder::new(&re_src)
                            .size_limit(1 << 22)
                            .build()
                        {
                            Ok(re) => match re.captures(&lv) {
                                Some(c) => {
                                    let groups: Vec<String> = c
                                        .iter()
                                        .map(|m| {
                                            m.map(|m| m.as_str().to_owned()).unwrap_or_default()
                                        })
                                        .collect();
                                    self.put_var("BASH_REMATCH".into(), Var::Arr(groups))?;
                                    true
                                }
                                None => {
                                    self.put_var("BASH_REMATCH".into(), Var::Arr(Vec::new()))?;
                                    false
                                }
                            },
                            Err(_) => return abort(2, String::new()),
                        }
                    }
                    _ => {
                        let rv = self.expand_str(&r.value)?;
                        match crate::builtins::binary_test(self, pred, &lv, &rv) {
                            Ok(b) => b,
                            Err(msg) => return abort(2, msg),
                        }
                    }
                }
            }
        })
    }

    fn expand_regex_operand(&mut self, s: &str) -> R<String> {
        let pieces = self.parse_word(s)?;
        let mut out = String::new();
        for p in &pieces {
            match &p.piece {
                WordPiece::Text(t) => out.push_str(t),
                _ => {
                    let mut acc = Acc::default();
                    self.expand_pieces(std::slice::from_ref(p), true, &mut acc)?;
                    let v: Vec<String> = acc.finish().into_iter().map(|f| f.text).collect();
                    out.push_str(&regex::escape(&v.join(" ")));
                }
            }
        }
        Ok(out)
    }
}

fn binop(op: &ast::BinaryOperator, x: i64, y: i64) -> R<i64> {
    use ast::BinaryOperator as B;
    Ok(match op {
        B::Power => {
            if y < 0 {
                return abort(1, "bash: exponent less than 0");
            }
            x.wrapping_pow(y.min(u32::MAX as i64) as u32)
        }
        B::Multiply => x.wrapping_mul(y),
        B::Divide | B::Modulo => {
            if y == 0 {
                return abort(1, "bash: division by 0");
            }
            if matches!(op, B::Divide) {
                x.wrapping_div(y)
            } else {
                x.wrapping_rem(y)
            }
        }
        B::Comma => y,
        B::Add => x.wrapping_add(y),
        B::Subtract => x.wrapping_sub(y),
        B::ShiftLeft => x.wrapping_shl(y as u32),
        B::ShiftRight => x.wrapping_shr(y as u32),
        B::LessThan => i64::from(x < y),
        B::LessThanOrEqualTo => i64::from(x <= y),
        B::GreaterThan => i64::from(x > y),
        B::GreaterThanOrEqualTo => i64::from(x >= y),
        B::Equals => i64::from(x == y),
        B::NotEquals => i64::from(x != y),
        B::BitwiseAnd => x & y,
        B::BitwiseXor => x ^ y,
        B::BitwiseOr => x | y,
        B::LogicalAnd => i64::from(x != 0 && y != 0),
        B::LogicalOr => i64::from(x != 0 || y != 0),
    })
}

/// Whether `value` matches the shell pattern `pat` (with `\` escapes).
pub fn pattern_match(pat: &str, value: &str) -> bool {
    if !has_glob(pat) {
        return unescape_pattern(pat) == value;
    }
    pattern_regex(pat, false).is_some_and(|re| re.is_match(value))
}

/// Pattern matching tries every cut of the value (a regex match over up to the whole value
/// each): check the deadline as it goes, since a 10 MiB value is millions of tries.
fn every_32(sh: &Shell<'_>, n: &mut u32) -> R<()> {
    *n = n.wrapping_add(1);
    if n.is_multiple_of(32) {
        sh.tick()?;
    }
    Ok(())
}

fn remove_affix(
    sh: &Shell<'_>,
    v: &str,
    re: &regex::Regex,
    suffix: bool,
    largest: bool,
) -> R<String> {
    let mut tries = 0u32;
    let mut bounds: Vec<usize> = v.char_indices().map(|(i, _)| i).collect();
    bounds.push(v.len());
    if suffix {
        let iter: Box<dyn Iterator<Item = &usize>> = if largest {
            Box::new(bounds.iter())
        } else {
            Box::new(bounds.iter().rev())
        };
        for &i in iter {
            every_32(sh, &mut tries)?;
            if re.is_match(&v[i..]) {
                return Ok(v[..i].to_owned());
            }
        }
    } else {
        let iter: Box<dyn Iterator<Item = &usize>> = if largest {
            Box::new(bounds.iter().rev())
        } else {
            Box::new(bounds.iter())
        };
        for &i in iter {
            every_32(sh, &mut tries)?;
            if re.is_match(&v[..i]) {
                return Ok(v[i..].to_owned());
            }
        }
    }
    Ok(v.to_owned())
}

fn replace_pattern(
    sh: &Shell<'_>,
    v: &str,
    pat: &str,
    rep: &str,
    kind: &word::SubstringMatchKind,
) -> R<String> {
    let mut tries = 0u32;
    let Some(re) = pattern_regex(pat, false) else {
        return Ok(v.to_owned());
    };
    let mut bounds: Vec<usize> = v.char_indices().map(|(i, _)| i).collect();
    bounds.push(v.len());
    match kind {
        word::SubstringMatchKind::Prefix => {
            for &j in bounds.iter().rev() {
                every_32(sh, &mut tries)?;
                if re.is_match(&v[..j]) {
                    return Ok(format!("{rep}{}", &v[j..]));
                }
            }
            Ok(v.to_owned())
        }
        word::SubstringMatchKind::Suffix => {
            for &i in &bounds {
                every_32(sh, &mut tries)?;
                if re.is_match(&v[i..]) {
                    return Ok(format!("{}{rep}", &v[..i]));
                }
            }
            Ok(v.to_owned())
        }
        word::SubstringMatchKind::FirstOccurrence | word::SubstringMatchKind::Anywhere => {
            let all = matches!(kind, word::SubstringMatchKind::Anywhere);
            let mut out = String::new();
            let mut i = 0;
            let mut replaced = false;
            while i < bounds.len() - 1 {
                let start = bounds[i];
                let mut found = None;
                if !replaced || all {
                    for j in (i + 1..bounds.len()).rev() {
                        every_32(sh, &mut tries)?;
                        if re.is_match(&v[start..bounds[j]]) {
                            found = Some(j);
                            break;
                        }
                    }
                }
                match found {
                    Some(j) => {
                        // `${x//?/$big}`: the result grows by the replacement per match.
                        sh.fits(2 * (out.len() + rep.len()) as u64)?;
                        sh.check_len(&out)?;
                        out.push_str(rep);
                        i = j;
                        replaced = true;
                    }
                    None => {
                        out.push_str(&v[start..bounds[i + 1]]);
                        i += 1;
                    }
                }
            }
            Ok(out)
        }
    }
}

fn capitalize(v: &str) -> String {
    let mut c = v.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

// `${v@Q}` quotes a value the way the SDK quotes shell words.
use atlas_sandbox_sdk::shell_quote;

fn unescape_backquoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some('$' | '`' | '\\')) {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn brace_items(items: &[word::BraceExpressionOrText], limit: usize) -> Option<Vec<String>> {
    let mut acc: Vec<String> = vec![String::new()];
    for item in items {
        let alts: Vec<String> = match item {
            word::BraceExpressionOrText::Text(t) => vec![t.clone()],
            word::BraceExpressionOrText::Expr(members) => {
                let mut alts = Vec::new();
                for m in members {
                    match m {
                        word::BraceExpressionMember::NumberSequence {
                            start,
                            end,
                            increment,
                        } => {
                            // Wide arithmetic: `{-9223372036854775807..9223372036854775807}` must
                            // be refused by the limit, not overflow while counting.
                            let inc = u128::from(increment.unsigned_abs().max(1));
                            let count = u128::from(end.abs_diff(*start)) / inc + 1;
                            if count > limit as u128 {
                                return None;
                            }
                            let (start, step) = (i128::from(*start), inc as i128);
                            let step = if start <= i128::from(*end) {
                                step
                            } else {
                                -step
                            };
                            for k in 0..count as i128 {
                                alts.push((start + k * step).to_string());
                            }
                        }
                        word::BraceExpressionMember::CharSequence {
                            start,
                            end,
                            increment,
                        } => {
                            let inc = increment.unsigned_abs().max(1);
                            let (s, e) = (u64::from(*start as u32), u64::from(*end as u32));
                            let mut i = s;
                            loop {
                                if let Some(c) = u32::try_from(i).ok().and_then(char::from_u32) {
                                    alts.push(c.to_string());
                                }
                                if alts.len() > limit {
                                    return None;
                                }
                                if s <= e {
                                    match i.checked_add(inc) {
                                        Some(n) if n <= e => i = n,
                                        _ => break,
                                    }
                                } else {
                                    match i.checked_sub(inc) {
                                        Some(n) if n >= e => i = n,
                                        _ => break,
                                    }
                                }
                            }
                        }
                        word::BraceExpressionMember::Child(c) => {
                            alts.extend(brace_items(c, limit)?)
                        }
                    }
                }
                alts
            }
        };
        if acc.len().saturating_mul(alts.len()) > limit {
            return None;
        }
        let mut next = Vec::with_capacity(acc.len() * alts.len());
        for a in &acc {
            for b in &alts {
                next.push(format!("{a}{b}"));
            }
        }
        acc = next;
    }
    Some(acc)
}

/// brush-parser unwraps integer parses of redirect fd numbers (`99999999999>f`) and of
/// directory-stack tildes (`~99999999999999999999`), panicking on overflow; refuse such input
/// before it gets there.
fn number_overflow(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        // Digits are ASCII, so these byte offsets are char boundaries.
        let run = &s[start..i];
        if run.parse::<i32>().is_ok() {
            continue;
        }
        if matches!(b.get(i), Some(b'<' | b'>')) {
            return Some(format!("bash: {run}: file descriptor out of range"));
        }
        let tilde = match start.checked_sub(1).map(|p| b[p]) {
            Some(b'~') => true,
            Some(b'+' | b'-') => start >= 2 && b[start - 2] == b'~',
            _ => false,
        };
        if tilde {
            return Some(format!("bash: ~{run}: directory stack index out of range"));
        }
    }
    None
}

/// The deepest `(` nesting outside single quotes and backslash escapes, where brush-parser
/// sees parentheses as operators. `$(` does not count: its body is parsed (and checked) on its
/// own when it runs.
fn paren_depth(s: &str) -> usize {
    let (mut depth, mut peak) = (0usize, 0usize);
    let (mut quoted, mut escaped) = (false, false);
    // For each open `(`: whether it came right after `$`.
    let mut opens: Vec<bool> = Vec::new();
    let mut prev = '\0';
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\'' => quoted = !quoted,
            _ if quoted => {}
            '\\' => escaped = true,
            '(' => {
                let dollar = prev == '$';
                opens.push(dollar);
                if !dollar {
                    depth += 1;
                    peak = peak.max(depth);
                }
            }
            // The guard pops in every case; only a counted `(` lowers the depth.
            ')' if opens.pop() == Some(false) => depth -= 1,
            _ => {}
        }
        prev = c;
    }
    peak
}

/// Whether brush-parser's brace-expansion parser may see `s`: it unwraps `i64` parses of
/// sequence bounds (`{1..99999999999999999999}` would panic) and backtracks exponentially on
/// unmatched `{`. Bash leaves such words unexpanded too.
fn brace_parse_is_safe(s: &str) -> bool {
    let digits_fit = s
        .split(|c: char| !c.is_ascii_digit())
        .all(|run| run.is_empty() || run.parse::<i64>().is_ok());
    let mut open = 0usize;
    for c in s.chars() {
        match c {
            '{' => open += 1,
            '}' => open = open.saturating_sub(1),
            _ => {}
        }
    }
    digits_fit && open <= MAX_UNMATCHED_BRACES
}

/// Rejects scripts nested deeper than `max` before they reach the recursive-descent parser,
/// so hostile input cannot overflow the stack.
/// The deepest bracket nesting in `s` (quotes not parsed: an upper bound).
pub(crate) fn bracket_depth(s: &str) -> usize {
    let (mut depth, mut peak) = (0usize, 0usize);
    for b in s.bytes() {
        match b {
            b'(' | b'{' | b'[' => {
                depth += 1;
                peak = peak.max(depth);
            }
            b')' | b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    peak
}

fn check_nesting(script: &str, max: usize) -> R<usize> {
    // Counts brackets and compound-command keywords; quotes are not parsed, so the count can
    // only be too high, never too low. The parser and the interpreter recurse once per level.
    // Keywords and brackets are counted apart: a `case` pattern's `)` closes no bracket, so it
    // must not cancel the `case` it belongs to.
    let too_deep = || {
        abort(
            LIMIT_EXIT,
            format!("bash: script nested too deeply (more than {max} levels)"),
        )
    };
    let (mut kw, mut br): (usize, usize) = (0, 0);
    let mut peak: usize = 0;
    let mut word = String::new();
    let flush = |word: &mut String, kw: &mut usize| {
        match word.as_str() {
            "if" | "while" | "until" | "for" | "case" | "select" | "function" => *kw += 1,
            "fi" | "done" | "esac" => *kw = kw.saturating_sub(1),
            _ => {}
        }
        word.clear();
    };
    for c in script.chars() {
        if c.is_ascii_alphabetic() {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            flush(&mut word, &mut kw);
        }
        match c {
            '(' | '{' | '[' => br += 1,
            ')' | '}' | ']' => br = br.saturating_sub(1),
            _ => {}
        }
        peak = peak.max(kw + br);
        if peak > max {
            return too_deep();
        }
    }
    flush(&mut word, &mut kw);
    peak = peak.max(kw + br);
    if peak > max {
        return too_deep();
    }
    let open = open_cases(script);
    if open > MAX_OPEN_CASES {
        return abort(
            UNSUPPORTED_EXIT,
            format!(
                "bash: syntax error: unexpected end of file ({open} `case` commands without `esac`)"
            ),
        );
    }
    Ok(peak)
}

/// Most `case` commands left open (no `esac`) handed to brush-parser: its PEG grammar retries
/// every alternative of an unterminated `case` inside the one before, doubling the work per
/// `case` (22 take minutes). Such a script is a syntax error in bash anyway.
const MAX_OPEN_CASES: usize = 4;

/// `case` words in command position minus `esac` words, outside quotes and comments.
fn open_cases(script: &str) -> usize {
    let (mut cases, mut esacs) = (0usize, 0usize);
    let bytes = script.as_bytes();
    let mut i = 0;
    // Whether the next word starts a command (so `case` there is the keyword).
    let mut command_start = true;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\\' => {
                i += 2;
                command_start = false;
                continue;
            }
            b'\'' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += 1;
                }
                command_start = false;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                command_start = false;
            }
            b'#' if command_start || i == 0 || bytes[i - 1].is_ascii_whitespace() => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'{' | b'}' | b'!' | b'`' => {
                command_start = true;
            }
            b' ' | b'\t' | b'\r' => {}
            _ => {
                let start = i;
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t'
                            | b'\r'
                            | b'\n'
                            | b';'
                            | b'&'
                            | b'|'
                            | b'('
                            | b')'
                            | b'\''
                            | b'"'
                    )
                {
                    i += 1;
                }
                let w = &script[start..i];
                if command_start {
                    match w {
                        "case" => cases += 1,
                        "esac" => esacs += 1,
                        _ => {}
                    }
                }
                // After these keywords another command follows; after any other word the
                // rest are its arguments.
                command_start = matches!(
                    w,
                    "then" | "do" | "else" | "elif" | "if" | "while" | "until" | "time"
                );
                continue;
            }
        }
        i += 1;
    }
    cases.saturating_sub(esacs)
}

impl FsError {
    /// Whether the error means the path does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FsError::NotFound)
    }
}
