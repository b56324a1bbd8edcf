//! Running commands: scripts, lists, `&&`/`||`, pipelines, simple commands, the dispatch to
//! functions, builtins and the command registry, and command substitution.

use std::rc::Rc;
use std::sync::Arc;

use brush_parser::ast;

use crate::memory::strs_cost;

use super::*;

/// A simple command's items, sorted: its assignments, its redirects and its words.
#[derive(Default)]
pub(super) struct SimpleParts<'c> {
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

impl Shell<'_> {
    /// Runs a whole script; returns the exit status.
    pub fn run_script(&mut self, script: &str, stdin: &mut Input, io: &mut Io) -> i32 {
        let result = self
            .parse(script)
            .and_then(|p| self.run_program(&p, stdin, io));
        let code = match result {
            Ok(s) => s,
            Err(Flow::Exit(s)) | Err(Flow::Return(s)) => s,
            Err(Flow::Break(_)) | Err(Flow::Continue(_)) => self.status,
            Err(Flow::Abort { code, msg }) => {
                io.errln(&msg);
                return code;
            }
        };
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
            st = self.run_list(cc, stdin, io)?;
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

    pub(super) fn errexit_check(&self, st: i32, negated: bool) -> R<()> {
        if st != 0 && self.opts.errexit && self.cond_depth == 0 && !negated {
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

    pub(super) fn run_pipeline_inner(
        &mut self,
        p: &ast::Pipeline,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
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

    pub(super) fn run_simple(
        &mut self,
        s: &ast::SimpleCommand,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
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
        } else if super::builtins::is_builtin(name) {
            Some("builtin")
        } else if crate::commands::lookup(name).is_some() {
            Some("file")
        } else {
            None
        }
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
}
