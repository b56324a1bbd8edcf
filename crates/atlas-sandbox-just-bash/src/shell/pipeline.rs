//! Running commands: scripts, lists, `&&`/`||`, pipelines, simple commands, the dispatch to
//! functions, builtins and the command registry, and command substitution.

use std::rc::Rc;
use std::sync::Arc;

use brush_parser::ast;

use crate::memory::strs_cost;
use crate::vfs::{self, Kind};

use super::trace::{thread_cpu, trace_quote};
use super::*;

/// The status bash reports for a pipeline writer killed by SIGPIPE (128 + 13).
const SIGPIPE_STATUS: i32 = 141;

const PIPE_OVERFLOW: &str = "bash: pipeline: output size limit exceeded";

/// A simple command's items, sorted: its assignments, its redirects and its words.
#[derive(Default)]
pub(super) struct SimpleParts<'c> {
    assigns: Vec<&'c ast::Assignment>,
    redirs: Vec<ast::IoRedirect>,
    words: Vec<WordItem<'c>>,
}

/// A word of a simple command: an ordinary word, or `<(…)` standing for a file of its output.
#[derive(Clone, Copy)]
pub(super) enum WordItem<'c> {
    Word(&'c ast::Word),
    /// `NAME=(…)` after `declare`/`local`/…: the builtin sees `NAME`, then the array is assigned.
    ArrayAssign(&'c ast::Assignment, &'c ast::Word),
    /// `NAME=value` after the command name: after `declare`/`local`/… the value is expanded as
    /// an assignment's (no splitting, no globbing); elsewhere it is an ordinary word.
    ScalarAssign(&'c ast::Assignment, &'c ast::Word),
    Psub(&'c ast::ProcessSubstitutionKind, &'c ast::SubshellCommand),
}

impl<'c> SimpleParts<'c> {
    /// Files one prefix or suffix item. After the command name an assignment is an ordinary word
    /// (`export A=1`).
    fn add(&mut self, item: &'c ast::CommandPrefixOrSuffixItem, after_name: bool) -> R<()> {
        match item {
            ast::CommandPrefixOrSuffixItem::AssignmentWord(a, w) if after_name => {
                if matches!(a.value, ast::AssignmentValue::Array(_)) {
                    self.words.push(WordItem::ArrayAssign(a, w))
                } else {
                    self.words.push(WordItem::ScalarAssign(a, w))
                }
            }
            ast::CommandPrefixOrSuffixItem::AssignmentWord(a, _) => self.assigns.push(a),
            ast::CommandPrefixOrSuffixItem::IoRedirect(r) => self.redirs.push(r.clone()),
            ast::CommandPrefixOrSuffixItem::Word(w) => self.words.push(WordItem::Word(w)),
            ast::CommandPrefixOrSuffixItem::ProcessSubstitution(kind, sub) => {
                self.words.push(WordItem::Psub(kind, sub))
            }
        }
        Ok(())
    }
}

impl Shell<'_> {
    /// Runs a whole script; returns the exit status.
    pub fn run_script(&mut self, script: &str, stdin: &mut Input, io: &mut Io) -> i32 {
        super::redirect::LINE_PREFIX.with(|p| p.borrow_mut().take());
        let result = match self.parse(script) {
            Ok(p) => {
                self.oneshot = p
                    .complete_commands
                    .last()
                    .map_or(0, super::oneshot::candidate);
                self.run_program(&p, stdin, io)
            }
            Err(e) => self.run_until_syntax_error(script, e, stdin, io),
        };
        let mut code = match result {
            Ok(s) => s,
            Err(Flow::Exit(s)) | Err(Flow::Return(s)) => s,
            Err(Flow::Break(_)) | Err(Flow::Continue(_)) => self.status,
            Err(Flow::Fatal(code, msg)) => {
                io.errln(&msg);
                code
            }
            Err(Flow::LineAbort(msg)) => {
                io.errln(&msg);
                1
            }
            Err(Flow::Abort { code, msg }) => {
                io.errln(&msg);
                return code;
            }
        };
        // What went to `exec`-opened files before an error stopped the script.
        let _ = self.flush_sinks(io);
        if let Some(trap) = self.exit_trap.take() {
            self.status = code;
            match self.run_nested(&trap, &mut Input::default(), io) {
                Ok(_) | Err(Flow::Break(_) | Flow::Continue(_) | Flow::Return(_)) => {}
                Err(Flow::Exit(s)) => code = s,
                Err(Flow::Fatal(_, msg) | Flow::LineAbort(msg)) => io.errln(&msg),
                Err(Flow::Abort { code, msg }) => {
                    io.errln(&msg);
                    return code;
                }
            }
        }
        let _ = self.flush_sinks(io);
        // A budget passed in the last step (or one a command caught) still fails the exec.
        if self.meter.tripped() {
            io.errln(&self.meter.over().message("bash"));
            return LIMIT_EXIT;
        }
        code
    }

    pub(super) fn run_program(
        &mut self,
        p: &ast::Program,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        let mut st = 0;
        for cc in &p.complete_commands {
            st = match self.run_list(cc, stdin, io) {
                Err(Flow::LineAbort(msg)) => {
                    io.errln(&msg);
                    self.status = 1;
                    if self.opts.errexit {
                        return Err(Flow::Exit(1));
                    }
                    1
                }
                r => r?,
            };
        }
        Ok(st)
    }

    pub(super) fn run_list(
        &mut self,
        list: &ast::CompoundList,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
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

    pub(super) fn run_and_or(
        &mut self,
        list: &ast::AndOrList,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
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
        let mut ran_last = n == 0;
        for (i, ao) in list.additional.iter().enumerate() {
            let last = i + 1 == n;
            let (run, p) = match ao {
                ast::AndOr::And(p) => (st == 0, p),
                ast::AndOr::Or(p) => (st != 0, p),
            };
            if run {
                ran_last = last;
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
        if n > 0 {
            self.andor_exempt = st != 0 && !ran_last;
        }
        Ok(st)
    }

    pub(super) fn errexit_check(&self, st: i32, negated: bool) -> R<()> {
        if st != 0 && self.opts.errexit && self.cond_depth == 0 && !negated && !self.andor_exempt {
            return Err(Flow::Exit(st));
        }
        Ok(())
    }

    pub(super) fn run_pipeline(
        &mut self,
        p: &ast::Pipeline,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        if let Some(t) = &p.timed {
            let posix = matches!(t, ast::PipelineTimed::TimedWithPosixOutput(_));
            let start = std::time::Instant::now();
            let cpu = thread_cpu();
            let untimed = ast::Pipeline {
                timed: None,
                ..p.clone()
            };
            let r = self.run_pipeline(&untimed, stdin, io);
            let real = start.elapsed().as_secs_f64();
            let user = (thread_cpu() - cpu).max(0.0);
            let report = self.time_report(posix, real, user);
            io.err(report.as_bytes());
            return r;
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

    pub(super) fn run_pipeline_inner(
        &mut self,
        p: &ast::Pipeline,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        self.andor_exempt = false;
        if p.seq.len() == 1 {
            let st = self.run_command(&p.seq[0], stdin, io)?;
            self.put_var("PIPESTATUS".into(), Var::arr(vec![st.to_string()]))?;
            return Ok(st);
        }
        let mut statuses = Vec::with_capacity(p.seq.len());
        let mut data: Option<Arc<Vec<u8>>> = None;
        // A stage whose output passed its cap: what it wrote goes on to the next stage and the
        // error waits. If that reader stops short of the end, as `head` does, bash's writer
        // (still writing: it wrote past the cap) dies of SIGPIPE at its next write and the
        // answer is the same; otherwise the error stands. Other limits are exec-wide, so the
        // reader could not run anyway.
        let mut cut = false;
        let n = p.seq.len();
        for (i, cmd) in p.seq.iter().enumerate() {
            self.tick()?;
            let mut input = match &data {
                None => std::mem::take(stdin),
                Some(d) => Input::new(d.clone()),
            };
            let mut stage = Io::metered(self.limits.max_output_bytes, &self.meter);
            let proxies = stage.inherit_fds(io);
            // Each stage of a multi-command pipeline runs in a subshell (with `lastpipe`, all
            // but the last).
            let r = if self.opts.lastpipe && i + 1 == n {
                self.run_command(cmd, &mut input, &mut stage)
            } else {
                self.subshell(&mut stage, |sh, stage| {
                    sh.run_command(cmd, &mut input, stage)
                })
            };
            if data.is_none() {
                *stdin = input;
            } else if std::mem::take(&mut cut) {
                if !input.stopped_short() {
                    io.pass_up(&mut stage, &proxies);
                    let (_, err) = stage.into_streams();
                    io.err(&err);
                    return abort(LIMIT_EXIT, PIPE_OVERFLOW);
                }
                if let Some(st) = statuses.last_mut() {
                    *st = SIGPIPE_STATUS;
                }
            }
            io.pass_up(&mut stage, &proxies);
            let overflow = stage.overflow;
            let (out, err) = stage.into_streams();
            io.err(&err);
            let last = i + 1 == n;
            let st = match r {
                Ok(s) => s,
                Err(Flow::Exit(s)) | Err(Flow::Return(s)) => s,
                Err(Flow::Break(_)) | Err(Flow::Continue(_)) => 0,
                Err(abort @ (Flow::Abort { .. } | Flow::Fatal(..) | Flow::LineAbort(_))) => {
                    // Only the last stage's output reaches the caller; an earlier one's was
                    // going into a pipe.
                    if last {
                        io.out(&out);
                    }
                    return Err(abort);
                }
            };
            statuses.push(st);
            if overflow {
                if last {
                    io.out(&out);
                    return abort(LIMIT_EXIT, PIPE_OVERFLOW);
                }
                cut = true;
            }
            if last {
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
            Var::arr(statuses.iter().map(|s| s.to_string()).collect()),
        )?;
        Ok(st)
    }

    pub(super) fn run_command(
        &mut self,
        cmd: &ast::Command,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        // The interpreter recurses once per nesting level; when the thread's stack runs low
        // (tokio's blocking threads have 2 MiB), continue on a fresh heap-allocated segment
        // instead of overflowing, which would abort the host process.
        stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
            self.run_command_inner(cmd, stdin, io)
        })
    }

    pub(super) fn run_command_inner(
        &mut self,
        cmd: &ast::Command,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        self.tick()?;
        match cmd {
            ast::Command::Simple(s) => self.run_simple(s, stdin, io),
            ast::Command::Compound(c, redirs) => {
                let redirs = redirs.as_ref().map(|r| r.0.as_slice()).unwrap_or(&[]);
                self.line_from_redirects(redirs);
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
                self.line_from_redirects(redirs);
                self.with_redirects(redirs, stdin, io, |sh, _input, io| {
                    let r = sh.ext_test(&t.expr);
                    match r {
                        Ok(b) => Ok(i32::from(!b)),
                        // A bad regex or operand: status 2, and the script goes on.
                        Err(Flow::Abort { code: 2, msg }) if !msg.contains("not supported") => {
                            if !msg.is_empty() {
                                io.errln(&msg);
                            }
                            Ok(2)
                        }
                        // An arithmetic error in an operand (`[[ 1/0 -eq 1 ]]`): status 1.
                        Err(Flow::Abort { code: 1, msg }) => {
                            io.errln(&msg);
                            Ok(1)
                        }
                        Err(e) => Err(e),
                    }
                })
            }
        }
    }

    pub(super) fn count_command(&mut self) -> R<()> {
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

    /// A compound command's redirections fail with the line they are on, the command's last
    /// (`} > /no/such` on line 4: `bash: line 4: ...`), not the line of a command before it.
    fn line_from_redirects(&mut self, redirs: &[ast::IoRedirect]) {
        use ast::{IoFileRedirectTarget as T, IoRedirect as IR};
        if self.subst_depth != self.line_depth {
            return;
        }
        let line = redirs.iter().find_map(|r| match r {
            IR::File(_, _, T::Filename(w) | T::Duplicate(w))
            | IR::HereString(_, w)
            | IR::OutputAndError(w, _) => w.loc.as_ref().map(|l| l.start.line),
            _ => None,
        });
        if let Some(line) = line {
            self.set_error_line(line);
        }
    }

    /// The line this shell's error messages name from now on (`bash: line N: `, or
    /// `environment: line N: ` inside a function, as `bash -c` prints them).
    fn set_error_line(&self, line: usize) {
        let who = if self.call_depth > 0 {
            "environment"
        } else {
            "bash"
        };
        super::redirect::LINE_PREFIX
            .with(|p| *p.borrow_mut() = Some(format!("{who}: line {line}: ")));
    }

    pub(super) fn run_simple(
        &mut self,
        s: &ast::SimpleCommand,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        let now = self.is_oneshot(s);
        let was = std::mem::replace(&mut self.oneshot_now, now);
        let r = self.run_simple_inner(s, stdin, io);
        self.oneshot_now = was;
        r
    }

    fn run_simple_inner(
        &mut self,
        s: &ast::SimpleCommand,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        self.count_command()?;
        // Lines are known for the script's own commands, not for re-parsed text (`$(...)`,
        // `eval`), whose messages keep the line of the command that ran them.
        if self.subst_depth == self.line_depth
            && let Some(line) = command_line(s)
        {
            self.set_error_line(line);
        }
        let mut parts = SimpleParts::default();
        for item in s.prefix.iter().flat_map(|p| p.0.iter()) {
            parts.add(item, false)?;
        }
        if let Some(w) = &s.word_or_name {
            parts.words.push(WordItem::Word(w));
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
        let mut psubs = Vec::new();
        let argv = self.expand_items(&words, &mut psubs);
        let pending = self.take_pending_err();
        io.err(&pending);
        let argv = match argv {
            Ok(a) => a,
            Err(e) => {
                self.drop_psubs(psubs);
                return Err(e);
            }
        };
        // The arguments live until the command returns (a function's copy is charged apart).
        let _argv_held = self.meter.hold(strs_cost(&argv)).or_else(over_budget)?;
        if argv.is_empty() {
            // Assignments only (redirects still create/truncate their files).
            for a in &assigns {
                self.assign(a)?;
                if self.opts.xtrace {
                    self.trace_assignment(a, io);
                }
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
        if self.opts.xtrace {
            let mut line: Vec<String> = Vec::new();
            for a in &assigns {
                line.push(self.assignment_text(a));
            }
            line.extend(argv.iter().map(|a| trace_quote(a)));
            self.trace_line(&line.join(" "), io);
        }
        if argv.len() == 1 && argv[0] == "exec" && !redirs.is_empty() {
            let st = self.exec_redirects(&redirs, stdin, io)?;
            self.status = st;
            return Ok(st);
        }
        let decl = matches!(
            argv[0].as_str(),
            "declare" | "typeset" | "local" | "export" | "readonly"
        );
        let r = self.with_redirects(&redirs, stdin, io, |sh, input, io| {
            let st = sh.dispatch(&argv, input, io)?;
            if decl && st == 0 {
                for w in &words {
                    if let WordItem::ArrayAssign(a, _) = w {
                        // `declare -r a=(…)` made it readonly just now (an older readonly
                        // would have failed the builtin): the value still goes in.
                        let name = match &a.name {
                            ast::AssignmentName::VariableName(n)
                            | ast::AssignmentName::ArrayElementName(n, _) => n.clone(),
                        };
                        let ro = sh.attr(&name) & attr::READONLY;
                        sh.remove_attr(&name, ro);
                        let r = sh.assign(a);
                        sh.add_attr(&name, ro);
                        r?;
                        if argv[0] == "readonly" {
                            let name = match &a.name {
                                ast::AssignmentName::VariableName(n)
                                | ast::AssignmentName::ArrayElementName(n, _) => n.clone(),
                            };
                            sh.add_attr(&name, attr::READONLY);
                        }
                    }
                }
            }
            Ok(st)
        });
        self.drop_psubs(psubs);
        self.flush_sinks(io)?;
        if let Some(last) = argv.last() {
            self.last_arg = last.clone();
        }
        for (name, old, was_exported) in saved {
            self.restore_var(&name, old);
            if !was_exported {
                self.exported.remove(&name);
            }
        }
        let st = r?;
        self.status = st;
        // A function's status counts for `set -e` even when an `&&` list inside gave it.
        self.andor_exempt = false;
        Ok(st)
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
        if let Some(st) = super::builtins::run_builtin(self, argv, stdin, io)? {
            return Ok(st);
        }
        // `/bin/ls` and `/usr/bin/ls` are the built-in `ls`: nothing here ever runs a program.
        let base = match name.rsplit_once('/') {
            Some(("/bin" | "/usr/bin" | "/usr/local/bin" | "/sbin" | "/usr/sbin", b))
                if crate::commands::lookup(b).is_some() || super::builtins::is_builtin(b) =>
            {
                b
            }
            Some(_) => return self.run_script_file(argv, stdin, io),
            None => name,
        };
        if let Some(cmd) = crate::commands::lookup(base) {
            self.hashed |= base == name;
            let mark = io.err_mark();
            let mut ctx = crate::commands::Ctx {
                sh: self,
                stdin,
                io,
            };
            let st = cmd(&mut ctx, &argv[1..])?;
            // A command that refused a feature stops the script with 2: going on
            // (`sort -R | wc -l` printing 0) would give an answer bash does not give.
            if st != 0 && is_refusal(io.err_since(mark)) {
                return abort(UNSUPPORTED_EXIT, "");
            }
            return Ok(st);
        }
        if base != name {
            io.errln(&format!("bash: {name}: No such file or directory"));
        } else if split_subscript_assignment(argv) {
            // `h[a b]=1`: bash reads a subscript to its `]` across blanks and assigns; the
            // parser here split the word, and "h[a: command not found" would be a wrong answer.
            return abort(
                UNSUPPORTED_EXIT,
                format!(
                    "bash: {name} …]=…: an array assignment whose subscript holds a blank is not supported in this sandbox"
                ),
            );
        } else if ABSENT_HERE.contains(&name) {
            // bash would have run it (the reference system has it): carrying on without its
            // output (`perl -ne ... | head` printing nothing, exit 0) would be an answer bash
            // does not give, so the script stops as a clean refusal.
            return abort(
                127,
                format!("bash: {name}: command not found (this sandbox does not provide it)"),
            );
        } else {
            io.errln(&format!("bash: {name}: command not found"));
        }
        Ok(127)
    }

    /// Runs a command skipping functions (`command NAME`).
    pub(super) fn dispatch_no_functions(
        &mut self,
        argv: &[String],
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        let f = self.functions.remove(&argv[0]);
        let r = self.dispatch(argv, stdin, io);
        if let Some(f) = f {
            self.functions.insert(argv[0].clone(), f);
        }
        r
    }

    /// Whether `name` is something `dispatch` can run.
    pub fn is_runnable(&self, name: &str) -> Option<&'static str> {
        if self.functions.contains_key(name) {
            Some("function")
        } else if super::builtins::is_builtin(name) {
            Some("builtin")
        } else if super::builtins::is_keyword(name) {
            Some("keyword")
        } else if crate::commands::lookup(name).is_some() || super::builtins::is_shell_command(name)
        {
            Some("file")
        } else {
            None
        }
    }

    /// Runs a script text in this shell (for `eval`, `source`, `bash -c`).
    pub fn run_nested(&mut self, script: &str, stdin: &mut Input, io: &mut Io) -> R<i32> {
        // What `eval`/`source` run is never exec'd in place of the shell.
        let was = std::mem::replace(&mut self.oneshot_now, false);
        let r = self.run_nested_inner(script, stdin, io);
        self.oneshot_now = was;
        r
    }

    fn run_nested_inner(&mut self, script: &str, stdin: &mut Input, io: &mut Io) -> R<i32> {
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
        opts: &[(String, bool)],
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        let saved = self.save_state()?;
        let loops = std::mem::replace(&mut self.loop_depth, 0);
        // A new bash: its own options, no functions or unexported variables.
        for (o, on) in opts {
            self.set_option(o, *on)?;
        }
        let unexported: Vec<String> = self
            .vars
            .keys()
            .filter(|k| {
                !self.exported.contains(*k)
                    && !k.starts_with("BASH")
                    && *k != "IFS"
                    && *k != "OPTIND"
            })
            .cloned()
            .collect();
        for k in unexported {
            self.take_var(&k);
        }
        self.functions.clear();
        self.attrs.clear();
        let trace_depth = std::mem::replace(&mut self.trace_depth, 0);
        self.set_positional(args.get(1..).map(|a| a.to_vec()).unwrap_or_default())?;
        let arg0 = args.first().cloned();
        let line_depth = std::mem::replace(&mut self.line_depth, self.subst_depth + 1);
        let r = self.with_arg0(arg0, |sh| sh.run_nested(script, stdin, io));
        self.line_depth = line_depth;
        self.trace_depth = trace_depth;
        self.loop_depth = loops;
        self.restore_state(saved);
        match r {
            Err(Flow::Exit(s)) | Err(Flow::Return(s)) => Ok(s),
            // A new bash ends on a shell error with 127.
            Err(Flow::Fatal(_, msg)) => {
                io.errln(&msg);
                Ok(127)
            }
            Err(Flow::LineAbort(msg)) => {
                io.errln(&msg);
                Ok(1)
            }
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
        if let Some(file) = read_file_subst(script) {
            return self.file_subst(file);
        }
        self.subst_depth += 1;
        let mut io = Io::metered(self.limits.max_output_bytes, &self.meter);
        let mut input = Input::default();
        self.trace_depth += 1;
        let was = self.oneshot;
        let r = self.subshell(&mut io, |sh, io| {
            sh.parse(script).and_then(|p| {
                // The substitution execs its own last simple command.
                sh.oneshot = p
                    .complete_commands
                    .last()
                    .map_or(0, super::oneshot::candidate);
                sh.run_program(&p, &mut input, io)
            })
        });
        self.oneshot = was;
        self.trace_depth -= 1;
        self.subst_depth -= 1;
        let st = match r {
            Ok(s) | Err(Flow::Exit(s)) | Err(Flow::Return(s)) => s,
            Err(Flow::Break(_)) | Err(Flow::Continue(_)) => 0,
            Err(e) => {
                // What the substitution said before it stopped the script (a refusal names the
                // feature there) is the caller's stderr too.
                let (_, err) = io.into_streams();
                self.pending_err.extend_from_slice(&err);
                return Err(e);
            }
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

    /// Runs `f` with `$0` set to `arg0` (when given).
    fn with_arg0(&mut self, arg0: Option<String>, f: impl FnOnce(&mut Self) -> R<i32>) -> R<i32> {
        let Some(a) = arg0 else {
            return f(self);
        };
        let old = std::mem::replace(&mut self.arg0, a);
        let r = f(self);
        self.arg0 = old;
        r
    }

    /// Runs a script named by a path (`./x.sh`, `/tmp/s.sh`) as bash would run it: in a new
    /// shell (bash for any `#!` line: nothing else can run here), when the file is executable.
    fn run_script_file(&mut self, argv: &[String], stdin: &mut Input, io: &mut Io) -> R<i32> {
        let name = &argv[0];
        let path = vfs::resolve(&self.cwd, name);
        let meta = match self.fs.stat(&path) {
            Ok(m) => m,
            Err(_) => {
                io.errln(&format!("bash: {name}: No such file or directory"));
                return Ok(127);
            }
        };
        if meta.kind == Kind::Dir {
            io.errln(&format!("bash: {name}: Is a directory"));
            return Ok(126);
        }
        if meta.mode & 0o111 == 0 {
            io.errln(&format!("bash: {name}: Permission denied"));
            return Ok(126);
        }
        let data = match self.fs.read(&path) {
            Ok(d) => d,
            Err(e) => {
                io.errln(&format!("bash: {name}: {e}"));
                return Ok(126);
            }
        };
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some(first) = text.lines().next()
            && let Some(interp) = first.strip_prefix("#!")
        {
            let prog = interp.split_whitespace().next().unwrap_or("");
            let base = prog.rsplit('/').next().unwrap_or(prog);
            let base = if base == "env" {
                interp.split_whitespace().nth(1).unwrap_or("")
            } else {
                base
            };
            if !matches!(base, "bash" | "sh" | "dash") {
                return abort(
                    UNSUPPORTED_EXIT,
                    format!(
                        "bash: {name}: scripts for {prog} are not supported in this sandbox (only bash scripts run)"
                    ),
                );
            }
        }
        self.run_subshell_script(&text, argv, &[], stdin, io)
    }

    /// `$(<file)`: the file's contents, minus trailing newlines, without running anything.
    fn file_subst(&mut self, word: &str) -> R<String> {
        let fields = self.expand_word(&ast::Word {
            value: word.to_owned(),
            loc: None,
        })?;
        let st;
        let mut value = String::new();
        if fields.len() != 1 {
            self.pending_err
                .extend_from_slice(format!("bash: {word}: ambiguous redirect\n").as_bytes());
            st = 1;
        } else {
            let path = vfs::resolve(&self.cwd, &fields[0]);
            match self.fs.read(&path) {
                Ok(d) => {
                    self.fits(2 * d.len() as u64)?;
                    value = String::from_utf8_lossy(&d).into_owned();
                    while value.ends_with('\n') {
                        value.pop();
                    }
                    st = 0;
                }
                Err(e) => {
                    self.pending_err
                        .extend_from_slice(format!("bash: {}: {e}\n", fields[0]).as_bytes());
                    st = 1;
                }
            }
        }
        self.status = st;
        self.status_from_subst = Some(st);
        self.check_len(&value)?;
        Ok(value)
    }
}

/// Programs of every Debian system bash + GNU tools run on (coreutils, diffutils, gzip, tar,
/// perl-base, util-linux, bsdextrautils, less) that this sandbox does not implement.
const ABSENT_HERE: &[&str] = &[
    "arch",
    "b2sum",
    "base32",
    "basenc",
    "chcon",
    "chgrp",
    "chown",
    "chroot",
    "csplit",
    "dd",
    "df",
    "dir",
    "dircolors",
    "factor",
    "groups",
    "hostid",
    "install",
    "link",
    "logname",
    "mkfifo",
    "mknod",
    "nice",
    "nohup",
    "nproc",
    "numfmt",
    "pathchk",
    "pinky",
    "pr",
    "ptx",
    "runcon",
    "shred",
    "stdbuf",
    "stty",
    "sum",
    "sync",
    "truncate",
    "tsort",
    "tty",
    "unexpand",
    "unlink",
    "users",
    "vdir",
    "who",
    "diff3",
    "sdiff",
    "gzip",
    "gunzip",
    "zcat",
    "tar",
    "perl",
    "more",
    "getopt",
    "look",
    "col",
    "colrm",
    "ul",
    "less",
    "getconf",
    "iconv",
    "locale",
];

/// The line a simple command starts on: its first word's, or its first assignment's.
fn command_line(s: &ast::SimpleCommand) -> Option<usize> {
    use ast::CommandPrefixOrSuffixItem as I;
    let first_prefix = s
        .prefix
        .iter()
        .flat_map(|p| p.0.iter())
        .find_map(|i| match i {
            I::Word(w) | I::AssignmentWord(_, w) => w.loc.as_ref(),
            _ => None,
        });
    first_prefix
        .or(s.word_or_name.as_ref().and_then(|w| w.loc.as_ref()))
        .map(|l| l.start.line)
}

pub(super) fn is_refusal(err: &[u8]) -> bool {
    let err = String::from_utf8_lossy(err);
    err.contains("not supported in this sandbox") || err.contains("not supported by this sandbox")
}

/// The file of `$(<file)` / `$(< file)`, when the substitution is only that redirection.
fn read_file_subst(script: &str) -> Option<&str> {
    let t = script.trim();
    let rest = t.strip_prefix('<')?;
    if rest.starts_with(['<', '(', '&', '>']) {
        return None;
    }
    let rest = rest.trim_start();
    // One word: anything with an operator or a second word is a real command.
    if rest.is_empty()
        || rest.contains(|c: char| {
            c.is_whitespace() || matches!(c, ';' | '|' | '&' | '<' | '>' | '(' | ')' | '`')
        })
    {
        return None;
    }
    Some(rest)
}

/// Whether `argv` is an array assignment with a blank in its subscript that the parser split
/// into words (`h[a b]=1` as `h[a` `b]=1`): a name, `[` and no `]` in the first word, and a
/// later word with `]=` or `]+=`.
fn split_subscript_assignment(argv: &[String]) -> bool {
    let Some((name, sub)) = argv[0].split_once('[') else {
        return false;
    };
    let ident = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ident
        && !sub.contains(']')
        && argv[1..]
            .iter()
            .any(|w| w.contains("]=") || w.contains("]+="))
}

/// Whether `name` is a program bash's system has and this sandbox lacks (`ABSENT_HERE`): a
/// lookup of it (`which`, `command -v`, `type`) cannot give bash's answer, the path of a
/// program that is not here, so it is refused rather than answered "not found".
pub(crate) fn absent_here(name: &str) -> bool {
    ABSENT_HERE.contains(&name)
}

/// The refusal of a lookup of `name` (see [`absent_here`]), for `who`'s stderr.
pub(crate) fn absent_lookup_message(who: &str, name: &str) -> String {
    format!(
        "{who}: {name}: a program this sandbox does not provide; looking it up is not supported in this sandbox"
    )
}
