//! Standard input, the output streams and redirections (files, fd duplication, here-documents).

use std::sync::Arc;

use brush_parser::ast;

use crate::memory::Meter;
use crate::vfs::{self, Kind};

use super::*;

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

    /// One record up to `delim` (without it; whether it was found), or `None` at the end.
    pub fn read_until(&mut self, delim: u8) -> Option<(&[u8], bool)> {
        if self.pos >= self.data.len() {
            return None;
        }
        let start = self.pos;
        let rest = &self.data[start..];
        match memchr::memchr(delim, rest) {
            Some(i) => {
                self.pos += i + 1;
                Some((&self.data[start..start + i], true))
            }
            None => {
                self.pos = self.data.len();
                Some((&self.data[start..], false))
            }
        }
    }

    /// Up to `n` characters (stopping after `delim` when given: `read -n`).
    pub fn read_chars(&mut self, n: usize, delim: Option<u8>) -> Option<(String, bool)> {
        if self.pos >= self.data.len() {
            return None;
        }
        let rest = String::from_utf8_lossy(&self.data[self.pos..]).into_owned();
        let mut out = String::new();
        let mut hit = false;
        let mut used = 0;
        for c in rest.chars().take(n) {
            used += c.len_utf8();
            if delim.is_some_and(|d| c as u32 == u32::from(d)) {
                hit = true;
                break;
            }
            out.push(c);
        }
        self.pos = (self.pos + used).min(self.data.len());
        let complete = hit || out.chars().count() == n;
        Some((out, complete))
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

pub(super) const NULL_FD: usize = usize::MAX;

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

impl Shell<'_> {
    /// Runs `f` with the redirects applied: fd 1/fd 2 rerouted into buffers, files written after.
    pub(super) fn with_redirects<F>(
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
    pub(super) fn display_path(&self, p: &str) -> String {
        p.to_owned()
    }

    pub(super) fn redirect_target(&mut self, w: &ast::Word) -> R<(String, String)> {
        let fields = self.expand_word(w)?;
        if fields.len() != 1 {
            return abort(1, format!("bash: {}: ambiguous redirect", w.value));
        }
        let name = fields.into_iter().next().unwrap_or_default();
        let path = vfs::resolve(&self.cwd, &name);
        Ok((name, path))
    }

    pub(super) fn apply_redirect(
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
                        if self.opts.noclobber
                            && matches!(kind, K::Write)
                            && self.fs.stat(&path).is_ok_and(|m| m.kind == Kind::File)
                        {
                            return abort(
                                1,
                                format!("bash: {name}: cannot overwrite existing file"),
                            );
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
                                return abort(
                                    UNSUPPORTED_EXIT,
                                    "bash: closing a file descriptor (>&-) is not supported in this sandbox",
                                );
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
                (K::DuplicateInput, target) => {
                    // `<&0`: stdin stays as it is. No other input fd is ever open here.
                    let n = match target {
                        T::Fd(n) => n.to_string(),
                        T::Duplicate(w) => self.expand_str(&w.value)?,
                        _ => "0".to_owned(),
                    };
                    if n == "-" {
                        return abort(
                            UNSUPPORTED_EXIT,
                            "bash: closing a file descriptor (<&-) is not supported in this sandbox",
                        );
                    }
                    if n != "0" {
                        return abort(1, format!("bash: {n}: Bad file descriptor"));
                    }
                }
                (K::Read, T::ProcessSubstitution(ast::ProcessSubstitutionKind::Read, sub_cmd)) => {
                    if fd.unwrap_or(0) != 0 {
                        return abort(
                            UNSUPPORTED_EXIT,
                            "bash: input redirection of fds other than 0 is not supported in this sandbox",
                        );
                    }
                    let data = self.process_output(sub_cmd)?;
                    *new_input = Some(Input::new(Arc::new(data)));
                }
                (_, T::ProcessSubstitution(..)) => {
                    return abort(
                        UNSUPPORTED_EXIT,
                        "bash: output process substitution >(…) is not supported in this sandbox",
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

    /// Runs the list of `<(…)` in a subshell and returns its stdout (its stderr goes where the
    /// shell's goes, through the pending buffer).
    pub(super) fn process_output(&mut self, sub: &ast::SubshellCommand) -> R<Vec<u8>> {
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
        let mut io = Io::metered(self.limits.max_output_bytes, &self.meter);
        let mut input = Input::default();
        let r = self.subshell(&mut io, |sh, io| sh.run_list(&sub.list, &mut input, io));
        self.subst_depth -= 1;
        match r {
            Ok(_) | Err(Flow::Exit(_) | Flow::Return(_) | Flow::Break(_) | Flow::Continue(_)) => {}
            Err(e) => return Err(e),
        }
        let overflow = io.overflow;
        let (out, err) = io.into_streams();
        self.pending_err.extend_from_slice(&err);
        if overflow {
            return abort(
                LIMIT_EXIT,
                "bash: process substitution: output size limit exceeded",
            );
        }
        Ok(out)
    }

    /// `<(…)` as a command word: its output in a file at `/dev/fd/N` (N from 63 down, as bash
    /// numbers them) for the command to read.
    pub(super) fn process_subst(
        &mut self,
        kind: &ast::ProcessSubstitutionKind,
        sub: &ast::SubshellCommand,
    ) -> R<String> {
        if !matches!(kind, ast::ProcessSubstitutionKind::Read) {
            return abort(
                UNSUPPORTED_EXIT,
                "bash: output process substitution >(…) is not supported in this sandbox",
            );
        }
        let data = self.process_output(sub)?;
        let _ = self.fs.mkdir("/dev/fd", true);
        let mut n = 63u32;
        while self.fs.exists(&format!("/dev/fd/{n}")) {
            n = n.saturating_sub(1);
            if n < 10 {
                return abort(
                    LIMIT_EXIT,
                    "bash: too many process substitutions in one command",
                );
            }
        }
        let path = format!("/dev/fd/{n}");
        if let Err(e) = self.fs.write(&path, &data, false) {
            return abort(1, format!("bash: {path}: {e}"));
        }
        Ok(path)
    }

    /// Removes the files of a command's `<(…)` words.
    pub(super) fn drop_psubs(&mut self, psubs: Vec<String>) {
        for p in psubs {
            let _ = self.fs.remove(&p, false);
        }
    }
}
