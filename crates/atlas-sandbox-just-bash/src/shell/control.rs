//! Compound commands (groups, subshells, if, loops, case, `((…))`), functions and shell options.

use brush_parser::ast;

use crate::memory::strs_cost;

use super::*;

impl Shell<'_> {
    /// Settles one pass of a loop body (or condition) into `st`: `Ok(true)` goes round again,
    /// `Ok(false)` leaves the loop. `break N` and `continue N` count enclosing loops: this loop
    /// takes one level and hands the rest outward, and the outermost loop takes whatever is left
    /// (`break 5` in two loops leaves both, as in bash).
    pub(super) fn loop_pass(&self, pass: R<i32>, st: &mut i32) -> R<bool> {
        let outermost = self.loop_depth <= 1;
        match pass {
            Ok(s) => {
                *st = s;
                Ok(true)
            }
            Err(Flow::Break(n)) if n > 1 && !outermost => Err(Flow::Break(n - 1)),
            Err(Flow::Break(_)) => Ok(false),
            Err(Flow::Continue(n)) if n > 1 && !outermost => Err(Flow::Continue(n - 1)),
            Err(Flow::Continue(_)) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Runs a loop with `loop_depth` raised for `break`/`continue`.
    fn in_loop(&mut self, f: impl FnOnce(&mut Self) -> R<i32>) -> R<i32> {
        self.loop_depth += 1;
        let r = f(self);
        self.loop_depth -= 1;
        r
    }

    /// Runs `f` as a subshell: state copied and restored, no enclosing loops, and a shell error
    /// (`${x:?}`) ends only the subshell, with status 1.
    pub(super) fn subshell(
        &mut self,
        io: &mut Io,
        f: impl FnOnce(&mut Self, &mut Io) -> R<i32>,
    ) -> R<i32> {
        let saved = self.save_state()?;
        let loops = std::mem::replace(&mut self.loop_depth, 0);
        // `exec 3>&1` inside changes only the subshell's descriptors.
        let fds = io.fd_table();
        // A subshell starts without the parent's EXIT trap, and runs its own as it exits.
        let parent_trap = self.exit_trap.take();
        let mut r = f(self, io);
        if let Some(trap) = self.exit_trap.take() {
            let code = match &r {
                Ok(s) | Err(Flow::Exit(s) | Flow::Return(s)) => Some(*s),
                Err(Flow::Fatal(..) | Flow::LineAbort(..)) => Some(1),
                _ => None,
            };
            if let Some(code) = code {
                self.status = code;
                match self.run_nested(&trap, &mut Input::default(), io) {
                    Err(Flow::Exit(s)) => r = Err(Flow::Exit(s)),
                    Err(e @ Flow::Abort { .. }) => r = Err(e),
                    _ => {}
                }
            }
        }
        self.exit_trap = parent_trap;
        io.set_fd_table(fds);
        // A subshell's status counts for `set -e` even when an `&&` list inside gave it.
        self.andor_exempt = false;
        self.loop_depth = loops;
        self.restore_state(saved);
        match r {
            // `return` in a subshell (in a function) ends the subshell, not the function.
            Err(Flow::Exit(s) | Flow::Return(s)) => Ok(s),
            Err(Flow::Fatal(_, msg) | Flow::LineAbort(msg)) => {
                io.errln(&msg);
                Ok(1)
            }
            other => other,
        }
    }

    pub(super) fn loop_tick(&mut self) -> R<()> {
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

    pub(super) fn run_compound(
        &mut self,
        c: &ast::CompoundCommand,
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        use ast::CompoundCommand as C;
        match c {
            C::BraceGroup(b) => self.run_list(&b.list, stdin, io),
            C::Subshell(s) => {
                // A subshell execs its own last simple command.
                let was = std::mem::replace(&mut self.oneshot, super::oneshot::candidate(&s.list));
                let r = self.subshell(io, |sh, io| sh.run_list(&s.list, stdin, io));
                self.oneshot = was;
                r
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
            C::WhileClause(w) | C::UntilClause(w) => self.in_loop(|sh| {
                let until = matches!(c, C::UntilClause(_));
                let mut st = 0;
                loop {
                    sh.loop_tick()?;
                    sh.cond_depth += 1;
                    let c = sh.run_list(&w.0, stdin, io);
                    sh.cond_depth -= 1;
                    // `break`/`continue` in the condition act on this loop too.
                    let ok = match c {
                        Err(f @ (Flow::Break(_) | Flow::Continue(_))) => {
                            let mut ignored = 0;
                            if sh.loop_pass(Err(f), &mut ignored)? {
                                continue;
                            }
                            break;
                        }
                        c => c? == 0,
                    };
                    if ok == until {
                        break;
                    }
                    let pass = sh.run_list(&w.1.list, stdin, io);
                    if !sh.loop_pass(pass, &mut st)? {
                        break;
                    }
                }
                sh.status = st;
                Ok(st)
            }),
            C::ForClause(f) => {
                let values = match &f.values {
                    Some(ws) => self.expand_words(ws)?,
                    None => self.positional.clone(),
                };
                self.in_loop(|sh| {
                    let mut st = 0;
                    for v in values {
                        sh.loop_tick()?;
                        if sh.opts.xtrace {
                            let words: Vec<String> = match &f.values {
                                Some(ws) => ws.iter().map(|w| w.value.clone()).collect(),
                                None => vec!["\"$@\"".to_owned()],
                            };
                            let line = format!("for {} in {}", f.variable_name, words.join(" "));
                            sh.trace_line(&line, io);
                        }
                        sh.set_var(&f.variable_name, v)?;
                        let pass = sh.run_list(&f.body.list, stdin, io);
                        if !sh.loop_pass(pass, &mut st)? {
                            break;
                        }
                    }
                    Ok(st)
                })
            }
            C::ArithmeticForClause(f) => {
                if let Some(init) = &f.initializer {
                    self.arith_str(&init.value)?;
                }
                self.in_loop(|sh| {
                    let mut st = 0;
                    loop {
                        sh.loop_tick()?;
                        // An empty condition (`for ((;;))`) is true.
                        if let Some(cond) = &f.condition
                            && !cond.value.trim().is_empty()
                            && sh.arith_str(&cond.value)? == 0
                        {
                            break;
                        }
                        let pass = sh.run_list(&f.body.list, stdin, io);
                        if !sh.loop_pass(pass, &mut st)? {
                            break;
                        }
                        if let Some(upd) = &f.updater {
                            sh.arith_str(&upd.value)?;
                        }
                    }
                    Ok(st)
                })
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
                            if self.pattern_matches(&pat, &value)? {
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
                    Err(Flow::Abort { code: 1, msg } | Flow::LineAbort(msg)) => {
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

    pub(super) fn call_function(
        &mut self,
        f: &ast::FunctionBody,
        argv: &[String],
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        // A function's commands are never exec'd in place of the shell.
        let was = std::mem::replace(&mut self.oneshot_now, false);
        let r = self.call_function_inner(f, argv, stdin, io);
        self.oneshot_now = was;
        r
    }

    fn call_function_inner(
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
        // FUNCNAME is the call stack, innermost first; it is unset again outside functions.
        let saved_funcname = self.vars.get("FUNCNAME").cloned();
        let mut stack = vec![argv[0].clone()];
        if self.call_depth > 0
            && let Some(Var::Arr(a)) = &saved_funcname
        {
            stack.extend(a.values().cloned());
        }
        self.put_var("FUNCNAME".into(), Var::arr(stack))?;
        // The caller's parameters stay alive (and charged) while the function runs.
        let args = argv[1..].to_vec();
        let args_bytes = strs_cost(&args);
        self.meter.charge(args_bytes).or_else(over_budget)?;
        let saved_bytes = std::mem::replace(&mut self.pos_bytes, args_bytes);
        let saved_pos = std::mem::replace(&mut self.positional, args);
        self.call_depth += 1;
        self.locals.push(Vec::new());
        let loops = std::mem::replace(&mut self.loop_depth, 0);
        let redirs = f.1.as_ref().map(|r| r.0.as_slice()).unwrap_or(&[]);
        let r = self.with_redirects(redirs, stdin, io, |sh, input, io| {
            sh.run_compound(&f.0, input, io)
        });
        self.loop_depth = loops;
        if let Some(frame) = self.locals.pop() {
            for (name, old, old_attr) in frame.into_iter().rev() {
                if let Some(v) = &old {
                    self.meter.release(var_cost(&name, v));
                }
                self.restore_var(&name, old);
                match old_attr {
                    Some(a) => self.attrs.insert(name, a),
                    None => self.attrs.remove(&name),
                };
            }
        }
        self.restore_var("FUNCNAME", saved_funcname);
        self.meter.release(self.pos_bytes);
        self.positional = saved_pos;
        self.pos_bytes = saved_bytes;
        self.call_depth -= 1;
        match r {
            Err(Flow::Return(s)) => Ok(s),
            other => other,
        }
    }

    /// Sets an option by its `set` letter, `set -o` or `shopt` name. `Ok(false)` for a name
    /// bash does not know; one that would change what bash does and is not implemented here is
    /// refused unless it keeps its default.
    pub fn set_option(&mut self, name: &str, on: bool) -> R<bool> {
        match name {
            "e" | "errexit" => self.opts.errexit = on,
            "u" | "nounset" => self.opts.nounset = on,
            "f" | "noglob" => self.opts.noglob = on,
            "pipefail" => self.opts.pipefail = on,
            "globstar" => self.opts.globstar = on,
            "nullglob" => self.opts.nullglob = on,
            "dotglob" => self.opts.dotglob = on,
            "x" | "xtrace" => self.opts.xtrace = on,
            "C" | "noclobber" => self.opts.noclobber = on,
            "failglob" => self.opts.failglob = on,
            "extglob" => self.opts.extglob = on,
            "nocaseglob" => self.opts.nocaseglob = on,
            "nocasematch" => self.opts.nocasematch = on,
            "lastpipe" => self.opts.lastpipe = on,
            _ => {
                let Some((long, default, effect)) = optlist::find(optlist::long_name(name)) else {
                    return Ok(false);
                };
                match effect {
                    optlist::Effect::Refused if on != default => {
                        let state = if default { "on" } else { "off" };
                        return abort(
                            UNSUPPORTED_EXIT,
                            format!(
                                "bash: the {long} option is not supported in this sandbox (only its default, {state})"
                            ),
                        );
                    }
                    optlist::Effect::Inert => {
                        self.opts.inert.retain(|(n, _)| *n != long);
                        if on != default {
                            self.opts.inert.push((long, on));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(true)
    }

    /// An option's state (`shopt NAME`, `set -o`, `$-`); `None` for a name we do not know.
    pub(super) fn option_value(&self, name: &str) -> Option<bool> {
        let o = &self.opts;
        Some(match name {
            "e" | "errexit" => o.errexit,
            "u" | "nounset" => o.nounset,
            "f" | "noglob" => o.noglob,
            "pipefail" => o.pipefail,
            "globstar" => o.globstar,
            "nullglob" => o.nullglob,
            "dotglob" => o.dotglob,
            "x" | "xtrace" => o.xtrace,
            "C" | "noclobber" => o.noclobber,
            "failglob" => o.failglob,
            "extglob" => o.extglob,
            "nocaseglob" => o.nocaseglob,
            "nocasematch" => o.nocasematch,
            "lastpipe" => o.lastpipe,
            _ => {
                let (long, default, _) = optlist::find(optlist::long_name(name))?;
                o.inert
                    .iter()
                    .find(|(n, _)| *n == long)
                    .map_or(default, |(_, v)| *v)
            }
        })
    }
}
