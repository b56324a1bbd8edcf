//! The directory stack: `pushd`, `popd` and `dirs`.
//!
//! The stack lives in the `DIRSTACK` array, as in bash: element 0 is the working directory
//! (kept current by `cd`), the rest are the saved directories, newest first. A subshell's
//! changes are undone with its variables.

use crate::vfs::{self, Kind};

use super::*;

/// The stack's variable.
const DIRSTACK: &str = "DIRSTACK";

/// More saved directories than any script needs; past it `pushd` stops the script.
const MAX_DEPTH: usize = 10_000;

impl Shell<'_> {
    /// The saved directories (without the working directory), newest first.
    fn saved_dirs(&self) -> Vec<String> {
        match self.vars.get(DIRSTACK) {
            Some(Var::Arr(a)) => a.values().skip(1).cloned().collect(),
            _ => Vec::new(),
        }
    }

    fn set_saved_dirs(&mut self, saved: Vec<String>) -> R<()> {
        let mut all = Vec::with_capacity(saved.len() + 1);
        all.push(self.cwd.clone());
        all.extend(saved);
        self.put_var(DIRSTACK.to_owned(), Var::arr(all))
    }

    /// Keeps `DIRSTACK[0]` equal to the working directory after a `cd`.
    pub(super) fn dirstack_follow_cwd(&mut self) -> R<()> {
        if matches!(self.vars.get(DIRSTACK), Some(Var::Arr(_))) {
            let saved = self.saved_dirs();
            self.set_saved_dirs(saved)?;
        }
        Ok(())
    }

    /// Changes to `dir` for `pushd`/`popd` (their own name in messages); false on failure.
    fn dirstack_cd(&mut self, who: &str, dir: &str, io: &mut Io) -> R<bool> {
        let path = vfs::resolve(&self.cwd, dir);
        match self.fs.stat(&path) {
            Ok(m) if m.kind == Kind::Dir => {
                let old = self.cwd.clone();
                self.set_var("OLDPWD", old)?;
                self.set_var("PWD", path)?;
                Ok(true)
            }
            Ok(_) => {
                io.errln(&format!("bash: {who}: {dir}: Not a directory"));
                Ok(false)
            }
            Err(e) => {
                io.errln(&format!("bash: {who}: {dir}: {e}"));
                Ok(false)
            }
        }
    }

    /// The stack as `dirs` prints it: `~` for `$HOME` unless `long`.
    fn dirs_words(&self, long: bool) -> Vec<String> {
        let home = self.get_var("HOME").unwrap_or_default();
        let mut all = vec![self.cwd.clone()];
        all.extend(self.saved_dirs());
        all.into_iter()
            .map(|d| {
                if long || home.is_empty() || home == "/" {
                    return d;
                }
                if d == home {
                    "~".to_owned()
                } else if let Some(rest) = d.strip_prefix(&home).filter(|r| r.starts_with('/')) {
                    format!("~{rest}")
                } else {
                    d
                }
            })
            .collect()
    }

    fn print_dirs(&self, io: &mut Io) {
        let mut line = self.dirs_words(false).join(" ");
        line.push('\n');
        io.out(line.as_bytes());
    }

    /// `pushd DIR` (change to DIR, saving the old directory) and `pushd` (swap the top two).
    pub(super) fn pushd_cmd(&mut self, args: &[String], io: &mut Io) -> R<i32> {
        let args = match args.first() {
            Some(a) if a == "--" => &args[1..],
            _ => args,
        };
        if let Some(a) = args
            .first()
            .filter(|a| a.len() > 1 && a.starts_with(['-', '+']))
        {
            return abort(
                UNSUPPORTED_EXIT,
                format!(
                    "bash: pushd: {a}: rotating or not changing directory (-n, +N, -N) is not supported in this sandbox"
                ),
            );
        }
        if args.len() > 1 {
            io.errln("bash: pushd: too many arguments");
            return Ok(2);
        }
        let mut saved = self.saved_dirs();
        if saved.len() >= MAX_DEPTH {
            return abort(LIMIT_EXIT, "bash: pushd: directory stack too deep");
        }
        let old = self.cwd.clone();
        match args.first() {
            Some(dir) => {
                if !self.dirstack_cd("pushd", dir, io)? {
                    return Ok(1);
                }
                saved.insert(0, old);
            }
            None => {
                let Some(top) = saved.first().cloned() else {
                    io.errln("bash: pushd: no other directory");
                    return Ok(1);
                };
                if !self.dirstack_cd("pushd", &top, io)? {
                    return Ok(1);
                }
                saved[0] = old;
            }
        }
        self.set_saved_dirs(saved)?;
        self.print_dirs(io);
        Ok(0)
    }

    /// `popd`: back to the newest saved directory, dropping it.
    pub(super) fn popd_cmd(&mut self, args: &[String], io: &mut Io) -> R<i32> {
        if let Some(a) = args.iter().find(|a| *a != "--") {
            return abort(
                UNSUPPORTED_EXIT,
                format!(
                    "bash: popd: {a}: popd with arguments (-n, +N, -N) is not supported in this sandbox"
                ),
            );
        }
        let mut saved = self.saved_dirs();
        if saved.is_empty() {
            io.errln("bash: popd: directory stack empty");
            return Ok(1);
        }
        let top = saved.remove(0);
        if !self.dirstack_cd("popd", &top, io)? {
            return Ok(1);
        }
        self.set_saved_dirs(saved)?;
        self.print_dirs(io);
        Ok(0)
    }

    /// `dirs [-clpv]`.
    pub(super) fn dirs_cmd(&mut self, args: &[String], io: &mut Io) -> R<i32> {
        let (mut clear, mut long, mut per_line, mut numbered) = (false, false, false, false);
        for a in args {
            let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) else {
                return abort(
                    UNSUPPORTED_EXIT,
                    format!(
                        "bash: dirs: {a}: selecting an entry (+N, -N) is not supported in this sandbox"
                    ),
                );
            };
            for c in flags.chars() {
                match c {
                    'c' => clear = true,
                    'l' => long = true,
                    'p' => per_line = true,
                    'v' => numbered = true,
                    _ if flags.chars().all(|d| d.is_ascii_digit()) => {
                        return abort(
                            UNSUPPORTED_EXIT,
                            format!(
                                "bash: dirs: {a}: selecting an entry (+N, -N) is not supported in this sandbox"
                            ),
                        );
                    }
                    _ => {
                        io.errln(&format!("bash: dirs: -{c}: invalid option"));
                        io.errln("dirs: usage: dirs [-clpv] [+N] [-N]");
                        return Ok(2);
                    }
                }
            }
        }
        if clear {
            self.set_saved_dirs(Vec::new())?;
            return Ok(0);
        }
        let words = self.dirs_words(long);
        let mut out = String::new();
        for (i, w) in words.iter().enumerate() {
            if numbered {
                out.push_str(&format!("{i:2}  {w}\n"));
            } else if per_line {
                out.push_str(w);
                out.push('\n');
            } else {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(w);
            }
        }
        if !numbered && !per_line {
            out.push('\n');
        }
        io.out(out.as_bytes());
        Ok(0)
    }
}
