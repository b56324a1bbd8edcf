//! Standard input, the output streams and redirections (files, fd duplication, here-documents).

use std::sync::Arc;

use brush_parser::ast;

use crate::memory::Meter;
use crate::vfs::{self, Kind};

use super::*;

thread_local! {
    /// What bash puts before a shell message of a `bash -c` script: `bash: line N: ` (or
    /// `environment: line N: ` inside a function), for the top-level command running now.
    pub(super) static LINE_PREFIX: std::cell::RefCell<Option<String>> =
        const { std::cell::RefCell::new(None) };
}

/// Standard input of a command: the remaining bytes of a buffer shared by a compound command.
#[derive(Debug, Clone, Default)]
pub struct Input {
    data: Arc<Vec<u8>>,
    pos: usize,
    /// Opened from a regular file (`< file`), so a command may seek back over what it read but
    /// did not use, as GNU head does; pipes, here-documents and here-strings cannot.
    seekable: bool,
    /// A read went up to the end of `data` (or asked past it). For a pipe whose writer was cut
    /// short, this tells whether the reader could have wanted what the writer never wrote.
    reached_end: bool,
}

impl Input {
    /// Input over `data` that behaves as a pipe.
    pub fn new(data: Arc<Vec<u8>>) -> Self {
        Input {
            data,
            pos: 0,
            seekable: false,
            reached_end: false,
        }
    }

    /// Input over the contents of a regular file.
    pub fn file(data: Arc<Vec<u8>>) -> Self {
        Input {
            data,
            pos: 0,
            seekable: true,
            reached_end: false,
        }
    }

    /// Whether every read so far stopped short of the end of the data: a reader that is done
    /// and says so never needed anything past it.
    pub fn stopped_short(&self) -> bool {
        !self.reached_end
    }

    fn note_end(&mut self) {
        if self.pos >= self.data.len() {
            self.reached_end = true;
        }
    }

    /// Whether this is a regular file (which has a size and an offset that can move back).
    pub fn is_seekable(&self) -> bool {
        self.seekable
    }

    /// Gives the last `n` consumed bytes back when the input is a regular file (GNU `head` and
    /// `grep -m` leave the offset just after what they used); a pipe keeps them consumed.
    /// On a pipe the bytes stay consumed, but the reader did stop before the end (GNU `head`
    /// on a pipe exits there, and its writer gets SIGPIPE at its next write).
    pub fn unread(&mut self, n: usize) {
        if self.seekable {
            self.pos = self.pos.saturating_sub(n);
        }
        if n > 0 {
            self.reached_end = false;
        }
    }

    /// The reader is done before the end of what it took (awk's `exit`, sed's `q`), without
    /// giving anything back: a regular file's offset stays where the reader's buffer left it.
    pub fn stop_short(&mut self) {
        self.reached_end = false;
    }

    /// Everything not yet consumed, consuming it.
    pub fn take_all(&mut self) -> &[u8] {
        let start = self.pos.min(self.data.len());
        self.pos = self.data.len();
        self.reached_end = true;
        &self.data[start..]
    }

    /// One record up to `delim` (without it; whether it was found), or `None` at the end.
    pub fn read_until(&mut self, delim: u8) -> Option<(&[u8], bool)> {
        self.note_end();
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
                self.reached_end = true;
                Some((&self.data[start..], false))
            }
        }
    }

    /// Up to `n` characters (stopping after `delim` when given: `read -n`).
    pub fn read_chars(&mut self, n: usize, delim: Option<u8>) -> Option<(String, bool)> {
        self.note_end();
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
        self.note_end();
        let complete = hit || out.chars().count() == n;
        Some((out, complete))
    }

    /// One line (without its newline), or `None` at the end.
    pub fn read_line(&mut self) -> Option<(&[u8], bool)> {
        self.note_end();
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
                self.reached_end = true;
                Some((&self.data[start..], false))
            }
        }
    }
}

pub(super) const NULL_FD: usize = usize::MAX;
/// A closed output descriptor: writes to it go nowhere (only fds 3-9 are ever closed).
pub(super) const CLOSED_FD: usize = usize::MAX - 1;
/// Descriptors 0-9, the ones a script can name in a redirection.
pub(super) const FDS: usize = 10;
/// `SINK + n`: the file `exec n>file` opened. Writes wait in [`Io::sink_data`] only until
/// the command is done ([`Shell::flush_sinks`]), so the next command reads them in the file.
pub(super) const SINK: usize = usize::MAX - 2 - FDS;

fn is_sink(slot: usize) -> bool {
    (SINK..SINK + FDS).contains(&slot)
}

/// A file `exec n>file` (or `n>>file`) opened: where the next write goes (`None`: its end).
/// A subshell's copy shares the offset, as a forked descriptor does.
#[derive(Debug, Clone)]
pub(super) struct OutFile {
    pub(super) path: String,
    pub(super) pos: Option<std::rc::Rc<std::cell::Cell<usize>>>,
}

/// Where a command's output descriptors go: `fds[n]` is an index into `bufs` (at the top,
/// 0 = stdout and 1 = stderr; in a redirected command, the caller's buffers come first, then
/// the redirect files), [`NULL_FD`] or [`CLOSED_FD`]. `fds[0]` is unused (input is [`Input`]).
#[derive(Debug)]
pub struct Io {
    bufs: Vec<Vec<u8>>,
    fds: [usize; FDS],
    cap: usize,
    /// A buffer hit the cap and dropped bytes.
    pub overflow: bool,
    /// The exec's memory budget, charged as the buffers grow (released when `Io` is dropped).
    meter: Option<Meter>,
    charged: u64,
    /// Bytes written to `exec`-opened files, by descriptor, in order, not yet in the files.
    sink_data: Vec<(usize, Vec<u8>)>,
    sink_bytes: usize,
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
        let mut fds = [CLOSED_FD; FDS];
        fds[1] = 0;
        fds[2] = 1;
        Io {
            bufs: vec![Vec::new(), Vec::new()],
            fds,
            cap,
            overflow: false,
            meter: None,
            charged: 0,
            sink_data: Vec::new(),
            sink_bytes: 0,
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
        if idx == NULL_FD || idx == CLOSED_FD {
            return;
        }
        if is_sink(idx) {
            self.push_sink(idx - SINK, b);
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

    fn push_sink(&mut self, fd: usize, b: &[u8]) {
        let room = self.cap.saturating_sub(self.sink_bytes);
        let b = if b.len() > room {
            self.overflow = true;
            &b[..room]
        } else {
            b
        };
        self.sink_bytes += b.len();
        match self.sink_data.last_mut() {
            Some((f, d)) if *f == fd => d.extend_from_slice(b),
            _ => self.sink_data.push((fd, b.to_vec())),
        }
    }

    /// Takes the bytes waiting for `exec`-opened files.
    pub(super) fn take_sinks(&mut self) -> Vec<(usize, Vec<u8>)> {
        self.sink_bytes = 0;
        std::mem::take(&mut self.sink_data)
    }

    /// Moves another stream's waiting file bytes behind this one's.
    fn adopt_sinks(&mut self, other: &mut Io) {
        for (fd, d) in other.take_sinks() {
            self.push_sink(fd, &d);
        }
    }

    /// Writes to fd 1.
    pub fn out(&mut self, b: &[u8]) {
        self.push(self.fds[1], b);
    }

    /// Writes to fd 2.
    pub fn err(&mut self, b: &[u8]) {
        self.push(self.fds[2], b);
    }

    /// How many bytes fd 2's buffer holds (`None` when fd 2 goes nowhere).
    pub(super) fn err_mark(&self) -> Option<usize> {
        self.bufs.get(self.fds[2]).map(Vec::len)
    }

    /// What fd 2 got since [`Io::err_mark`] returned `mark`.
    pub(super) fn err_since(&self, mark: Option<usize>) -> &[u8] {
        match (mark, self.bufs.get(self.fds[2])) {
            (Some(m), Some(b)) => b.get(m..).unwrap_or_default(),
            _ => &[],
        }
    }

    /// Writes a line to fd 2.
    pub fn errln(&mut self, s: &str) {
        // A refusal whose message is already out stops the script with an empty one.
        if s.is_empty() {
            return;
        }
        // `bash: cd: x: No such file or directory` is `bash: line 2: cd: ...` from `bash -c`.
        let prefixed = match s.strip_prefix("bash: ") {
            Some(rest) if !rest.starts_with("line ") => {
                LINE_PREFIX.with(|p| p.borrow().as_ref().map(|p| format!("{p}{rest}")))
            }
            _ => None,
        };
        let s = prefixed.as_deref().unwrap_or(s);
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(b'\n');
        // Messages get through even past the memory budget (they say why the script stopped);
        // the stream's cap still bounds them.
        self.push_metered(self.fds[2], &v, false);
    }

    /// Gives a child's streams (a pipeline stage) the parent's descriptors 3-9: each goes to
    /// the child's stderr when the parent's does, else to a buffer of its own that
    /// [`Io::pass_up`] hands to the parent's buffer. Returns those (child, parent) pairs.
    pub(super) fn inherit_fds(&mut self, parent: &Io) -> Vec<(usize, usize)> {
        let mut proxies: Vec<(usize, usize)> = Vec::new();
        for fd in 3..FDS {
            let p = parent.fds[fd];
            self.fds[fd] = if p == NULL_FD || p == CLOSED_FD || is_sink(p) {
                p
            } else if p == parent.fds[2] {
                self.fds[2]
            } else if let Some((k, _)) = proxies.iter().find(|(_, q)| *q == p) {
                *k
            } else {
                self.bufs.push(Vec::new());
                proxies.push((self.bufs.len() - 1, p));
                self.bufs.len() - 1
            };
        }
        proxies
    }

    /// Moves what a child wrote to inherited descriptors into this (the parent's) buffers.
    pub(super) fn pass_up(&mut self, child: &mut Io, proxies: &[(usize, usize)]) {
        for (k, p) in proxies {
            let data = std::mem::take(&mut child.bufs[*k]);
            self.push(*p, &data);
        }
        self.adopt_sinks(child);
    }

    /// The output descriptors, to put back after a subshell changed them with `exec`.
    pub(super) fn fd_table(&self) -> [usize; FDS] {
        self.fds
    }

    /// Puts back descriptors saved with [`Io::fd_table`].
    pub(super) fn set_fd_table(&mut self, fds: [usize; FDS]) {
        self.fds = fds;
    }

    /// The two streams (their bytes stop counting: the caller holds them now).
    pub fn into_streams(mut self) -> (Vec<u8>, Vec<u8>) {
        let err = std::mem::take(&mut self.bufs[1]);
        let out = std::mem::take(&mut self.bufs[0]);
        (out, err)
    }
}

/// What one command's redirections change: its output descriptors (`io`), the files to
/// write after it, its stdin (and the input descriptor it was taken from), and, for a
/// command (not `exec`), the input descriptors to give back after it.
pub(super) struct Redir<'r> {
    io: &'r mut Io,
    files: &'r mut Vec<(usize, String, bool)>,
    new_input: &'r mut Option<(Input, Option<usize>)>,
    saved_in: Option<&'r mut Vec<(usize, Option<Input>)>>,
    stdin: &'r Input,
}

/// Descriptors past 9 (and output to fd 0): bash has them, this sandbox does not.
fn unsupported_fd<T>(fd: usize) -> R<T> {
    abort(
        UNSUPPORTED_EXIT,
        format!("bash: redirecting file descriptor {fd} is not supported in this sandbox"),
    )
}

impl Shell<'_> {
    /// Runs `f` with the redirects applied: output descriptors rerouted into buffers (files
    /// written after), input descriptors 3-9 given for the command and taken back after.
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
        // The command's buffers start as one per distinct buffer of the caller (so writes that
        // end in the same place keep their order), then come the redirect files.
        sub.bufs.clear();
        let mut proxies: Vec<usize> = Vec::new();
        for fd in 1..FDS {
            let slot = io.fds[fd];
            sub.fds[fd] = if slot == NULL_FD || slot == CLOSED_FD || is_sink(slot) {
                slot
            } else if let Some(k) = proxies.iter().position(|p| *p == slot) {
                k
            } else {
                proxies.push(slot);
                sub.bufs.push(Vec::new());
                proxies.len() - 1
            };
        }
        let mut files: Vec<(usize, String, bool)> = Vec::new();
        let mut new_input: Option<(Input, Option<usize>)> = None;
        let mut saved_in: Vec<(usize, Option<Input>)> = Vec::new();
        let mut failed = None;
        for r in redirs {
            let mut target = Redir {
                io: &mut sub,
                files: &mut files,
                new_input: &mut new_input,
                saved_in: Some(&mut saved_in),
                stdin,
            };
            match self.apply_redirect(r, &mut target) {
                Ok(()) => {}
                Err(Flow::Abort { code: 1, msg }) => {
                    failed = Some(msg);
                    break;
                }
                Err(e) => {
                    self.restore_in_fds(saved_in);
                    return Err(e);
                }
            }
        }
        // Truncate `>` targets before the command runs, as the shell does (on a failed
        // redirection, those opened before it).
        for (_, path, append) in &files {
            if !append && let Err(e) = self.fs.write(path, b"", false) {
                io.errln(&format!("bash: {}: {e}", self.display_path(path)));
                self.restore_in_fds(saved_in);
                return Ok(1);
            }
        }
        let r = match (failed, new_input) {
            // The command does not run. The message goes where fd 2 points once the
            // redirections before the failed one are applied: `2>&1 >/no/such` puts it on
            // stdout, `2>/dev/null` drops it, `2>err.txt` writes it to the file.
            (Some(msg), _) => {
                sub.errln(&msg);
                Ok(1)
            }
            (None, new_input) => match new_input {
                Some((mut inp, from)) => {
                    let r = f(self, &mut inp, &mut sub);
                    // `<&3` reads through fd 3: what the command consumed is gone from fd 3 too.
                    if let Some(fd) = from
                        && let Some(orig) = self.in_fds[fd].as_mut()
                    {
                        *orig = inp;
                    }
                    r
                }
                None => f(self, stdin, &mut sub),
            },
        };
        self.restore_in_fds(saved_in);
        io.adopt_sinks(&mut sub);
        let overflow = sub.overflow;
        let mut bufs = std::mem::take(&mut sub.bufs);
        for (k, slot) in proxies.iter().enumerate() {
            io.push(*slot, &bufs[k]);
        }
        let mut write_failed = false;
        for (slot, path, _) in &files {
            let data = std::mem::take(&mut bufs[*slot]);
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

    /// Puts back the input descriptors a command's redirects replaced.
    fn restore_in_fds(&mut self, saved: Vec<(usize, Option<Input>)>) {
        for (fd, old) in saved.into_iter().rev() {
            self.in_fds[fd] = old;
        }
    }

    /// `exec` with redirections only: they change this shell's descriptors for the rest of
    /// the script (or subshell). `exec n>file`/`n>>file` open the file for good: writes to it
    /// reach the file when each command is done.
    pub(super) fn exec_redirects(
        &mut self,
        redirs: &[ast::IoRedirect],
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        use ast::{IoFileRedirectKind as K, IoFileRedirectTarget as T, IoRedirect as IR};
        self.flush_sinks(io)?;
        let mut rest = Vec::new();
        for r in redirs {
            match r {
                IR::File(fd, kind @ (K::Write | K::Clobber | K::Append), T::Filename(w)) => {
                    let (name, path) = self.redirect_target(w)?;
                    if matches!(path.as_str(), "/dev/null" | "/dev/stdout" | "/dev/stderr") {
                        rest.push(r.clone());
                        continue;
                    }
                    let fd = match fd.unwrap_or(1) {
                        n @ 1..=9 => n as usize,
                        n => return unsupported_fd(n as usize),
                    };
                    if let Err(msg) = self.open_out_file(
                        &name,
                        &path,
                        matches!(kind, K::Write),
                        matches!(kind, K::Append),
                    ) {
                        io.errln(&msg);
                        return Ok(1);
                    }
                    self.out_files[fd] = Some(OutFile {
                        path,
                        pos: (!matches!(kind, K::Append)).then(Default::default),
                    });
                    if fd >= 3 {
                        self.in_fds[fd] = None;
                    }
                    io.fds[fd] = SINK + fd;
                }
                IR::File(_, K::ReadAndWrite, T::Filename(_)) => {
                    return abort(
                        UNSUPPORTED_EXIT,
                        "bash: exec with a read-write descriptor (`exec 3<>file`) is not supported in this sandbox",
                    );
                }
                IR::OutputAndError(w, _) => {
                    let (_, path) = self.redirect_target(w)?;
                    if !matches!(path.as_str(), "/dev/null" | "/dev/stdout" | "/dev/stderr") {
                        return abort(
                            UNSUPPORTED_EXIT,
                            "bash: exec with output and errors to a file (`exec &>file`) is not supported in this sandbox",
                        );
                    }
                    rest.push(r.clone());
                }
                IR::File(_, _, T::ProcessSubstitution(ast::ProcessSubstitutionKind::Write, _)) => {
                    return abort(
                        UNSUPPORTED_EXIT,
                        "bash: output process substitution >(…) is not supported in this sandbox",
                    );
                }
                _ => rest.push(r.clone()),
            }
        }
        let redirs = &rest;
        let mut files = Vec::new();
        let mut new_input = None;
        for r in redirs {
            let mut target = Redir {
                io,
                files: &mut files,
                new_input: &mut new_input,
                saved_in: None,
                stdin,
            };
            match self.apply_redirect(r, &mut target) {
                Ok(()) => {}
                Err(Flow::Abort { code: 1, msg }) => {
                    io.errln(&msg);
                    return Ok(1);
                }
                Err(e) => return Err(e),
            }
        }
        if let Some((inp, _)) = new_input {
            *stdin = inp;
        }
        Ok(0)
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

    /// Gives input descriptor `fd` (3-9) the stream `inp` (`None` closes it), remembering the
    /// old one when the change is for one command.
    fn set_in_fd(&mut self, t: &mut Redir<'_>, fd: usize, inp: Option<Input>) {
        if let Some(saved) = t.saved_in.as_deref_mut() {
            saved.push((fd, self.in_fds[fd].take()));
        }
        self.in_fds[fd] = inp;
        // The number now names an input: output to it fails, as in bash.
        t.io.fds[fd] = CLOSED_FD;
    }

    /// Where input redirected to `fd` goes: stdin for 0, descriptors 3-9 for the others.
    fn redirect_input(&mut self, t: &mut Redir<'_>, fd: usize, inp: Input) -> R<()> {
        match fd {
            0 => *t.new_input = Some((inp, None)),
            3..FDS => self.set_in_fd(t, fd, Some(inp)),
            _ => return unsupported_fd(fd),
        }
        Ok(())
    }

    pub(super) fn apply_redirect(&mut self, r: &ast::IoRedirect, t: &mut Redir<'_>) -> R<()> {
        use ast::{IoFileRedirectKind as K, IoFileRedirectTarget as T, IoRedirect as IR};
        let out_fd = |fd: &Option<i32>| -> R<usize> {
            match fd.unwrap_or(1) {
                n @ 1..=9 => Ok(n as usize),
                n => unsupported_fd(n as usize),
            }
        };
        let in_fd = |fd: &Option<i32>| -> R<usize> {
            match fd.unwrap_or(0) {
                n @ 0..=9 => Ok(n as usize),
                n => unsupported_fd(n as usize),
            }
        };
        match r {
            IR::File(fd, kind, target) => match (kind, target) {
                (K::Read, T::Filename(w)) => {
                    let fd = in_fd(fd)?;
                    let (name, path) = self.redirect_target(w)?;
                    match self.fs.read(&path) {
                        Ok(d) => self.redirect_input(t, fd, Input::file(d))?,
                        Err(e) => return abort(1, format!("bash: {name}: {e}")),
                    }
                }
                (K::Write | K::Clobber | K::Append, T::Filename(w)) => {
                    let fd = out_fd(fd)?;
                    let (name, path) = self.redirect_target(w)?;
                    let slot = if path == "/dev/null" {
                        NULL_FD
                    } else if path == "/dev/stdout" {
                        t.io.fds[1]
                    } else if path == "/dev/stderr" {
                        t.io.fds[2]
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
                        t.io.bufs.push(Vec::new());
                        let slot = t.io.bufs.len() - 1;
                        t.files.push((slot, path, matches!(kind, K::Append)));
                        slot
                    };
                    if fd >= 3 && t.saved_in.is_some() {
                        self.set_in_fd(t, fd, None);
                    }
                    t.io.fds[fd] = slot;
                }
                (K::DuplicateOutput, T::Fd(_)) | (K::DuplicateOutput, T::Duplicate(_)) => {
                    let fd = out_fd(fd)?;
                    let n = match target {
                        T::Fd(n) => *n,
                        T::Duplicate(w) => {
                            let v = self.expand_str(&w.value)?;
                            if v == "-" {
                                if fd < 3 {
                                    return abort(
                                        UNSUPPORTED_EXIT,
                                        "bash: closing standard output or error (>&-) is not supported in this sandbox",
                                    );
                                }
                                t.io.fds[fd] = CLOSED_FD;
                                if t.saved_in.is_none() {
                                    // `exec 3>&-` closes an `exec`-opened file for good.
                                    self.out_files[fd] = None;
                                }
                                return Ok(());
                            }
                            match v.parse::<i32>() {
                                Ok(n) => n,
                                Err(_) => {
                                    // `>&file` is `&>file`.
                                    let (_, path) = self.redirect_target(w)?;
                                    t.io.bufs.push(Vec::new());
                                    let slot = t.io.bufs.len() - 1;
                                    t.files.push((slot, path, false));
                                    t.io.fds[1] = slot;
                                    t.io.fds[2] = slot;
                                    return Ok(());
                                }
                            }
                        }
                        _ => 1,
                    };
                    let slot = match n {
                        1..=9 if t.io.fds[n as usize] != CLOSED_FD => t.io.fds[n as usize],
                        0 => {
                            return abort(
                                UNSUPPORTED_EXIT,
                                "bash: writing to standard input (>&0) is not supported in this sandbox",
                            );
                        }
                        10.. => return unsupported_fd(n as usize),
                        _ => return abort(1, format!("bash: {n}: Bad file descriptor")),
                    };
                    t.io.fds[fd] = slot;
                }
                (K::DuplicateInput, target) => {
                    let fd = in_fd(fd)?;
                    let n = match target {
                        T::Fd(n) => n.to_string(),
                        T::Duplicate(w) => self.expand_str(&w.value)?,
                        _ => "0".to_owned(),
                    };
                    if n == "-" {
                        if fd < 3 {
                            return abort(
                                UNSUPPORTED_EXIT,
                                "bash: closing standard input (<&-) is not supported in this sandbox",
                            );
                        }
                        self.set_in_fd(t, fd, None);
                        return Ok(());
                    }
                    let src = match n.parse::<usize>() {
                        Ok(0) if fd == 0 => return Ok(()),
                        Ok(0) => match t.new_input.as_ref() {
                            Some((inp, _)) => inp.clone(),
                            None => t.stdin.clone(),
                        },
                        Ok(m @ 3..FDS) => match self.in_fds[m].clone() {
                            Some(inp) => {
                                if fd == 0 {
                                    *t.new_input = Some((inp, Some(m)));
                                    return Ok(());
                                }
                                inp
                            }
                            None => return abort(1, format!("bash: {n}: Bad file descriptor")),
                        },
                        Ok(m @ FDS..) => return unsupported_fd(m),
                        _ => return abort(1, format!("bash: {n}: Bad file descriptor")),
                    };
                    self.redirect_input(t, fd, src)?;
                }
                (K::Read, T::ProcessSubstitution(ast::ProcessSubstitutionKind::Read, sub_cmd)) => {
                    let fd = in_fd(fd)?;
                    let data = self.process_output(sub_cmd)?;
                    self.redirect_input(t, fd, Input::new(Arc::new(data)))?;
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
                let fd = in_fd(fd)?;
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
                self.redirect_input(t, fd, Input::new(Arc::new(text.into_bytes())))?;
            }
            IR::HereString(fd, w) => {
                let fd = in_fd(fd)?;
                let mut s = self.expand_str(&w.value)?;
                s.push('\n');
                self.redirect_input(t, fd, Input::new(Arc::new(s.into_bytes())))?;
            }
            IR::OutputAndError(w, append) => {
                let (name, path) = self.redirect_target(w)?;
                let slot = if path == "/dev/null" {
                    NULL_FD
                } else {
                    if let Err(e) = self.fs.write(&path, b"", true) {
                        return abort(1, format!("bash: {name}: {e}"));
                    }
                    t.io.bufs.push(Vec::new());
                    let slot = t.io.bufs.len() - 1;
                    t.files.push((slot, path, *append));
                    slot
                };
                t.io.fds[1] = slot;
                t.io.fds[2] = slot;
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
        let was = std::mem::replace(&mut self.oneshot, super::oneshot::candidate(&sub.list));
        let r = self.subshell(&mut io, |sh, io| sh.run_list(&sub.list, &mut input, io));
        self.oneshot = was;
        self.subst_depth -= 1;
        match r {
            Ok(_) | Err(Flow::Exit(_) | Flow::Return(_) | Flow::Break(_) | Flow::Continue(_)) => {}
            Err(e) => {
                // Its stderr so far (a refusal's message) is the caller's, as in `$(…)`.
                let (_, err) = io.into_streams();
                self.pending_err.extend_from_slice(&err);
                return Err(e);
            }
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

impl Shell<'_> {
    /// Opens a file for `exec n>file`: the checks `>` makes, then truncation (`>`) or
    /// creation (`>>`). The error is bash's message.
    fn open_out_file(
        &mut self,
        name: &str,
        path: &str,
        write: bool,
        append: bool,
    ) -> Result<(), String> {
        if self.fs.is_dir(path) {
            return Err(format!("bash: {name}: Is a directory"));
        }
        if self.opts.noclobber && write && self.fs.stat(path).is_ok_and(|m| m.kind == Kind::File) {
            return Err(format!("bash: {name}: cannot overwrite existing file"));
        }
        if !self.fs.is_dir(vfs::parent(path)) {
            return Err(format!("bash: {name}: No such file or directory"));
        }
        self.fs
            .write(path, b"", append)
            .map_err(|e| format!("bash: {name}: {e}"))
    }

    /// Writes what commands sent to `exec`-opened files into them, at each file's offset.
    pub(super) fn flush_sinks(&mut self, io: &mut Io) -> R<()> {
        for (fd, data) in io.take_sinks() {
            let Some(f) = self.out_files[fd].as_ref() else {
                continue;
            };
            let path = f.path.clone();
            let r = match &f.pos {
                None => self.fs.write(&path, &data, true),
                Some(at) => {
                    let pos = at.get();
                    at.set(pos + data.len());
                    match self.fs.read(&path) {
                        // Nobody else wrote: the offset is the end.
                        Ok(old) if old.len() == pos => self.fs.write(&path, &data, true),
                        Ok(old) => {
                            let mut new = old.as_ref().clone();
                            if new.len() < pos {
                                new.resize(pos, 0);
                            }
                            let end = (pos + data.len()).min(new.len());
                            new.splice(pos..end, data.iter().copied());
                            self.fs.write(&path, &new, false)
                        }
                        Err(_) => self.fs.write(&path, &data, true),
                    }
                }
            };
            if let Err(e) = r {
                let shown = self.display_path(&path);
                io.errln(&format!("bash: {shown}: {e}"));
            }
        }
        Ok(())
    }
}
