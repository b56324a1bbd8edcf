//! `sed`'s reading and writing of other files: `r`, `R`, `w`, `W`, `s///w` (in the overlay;
//! `/dev/stdout`, `/dev/stderr` and `/dev/stdin` as GNU sed treats them) and the `a`/`r`/`R`
//! output that waits for the end of the cycle.

use super::{Ctx, Machine};
use crate::commands::sed_script::{Cmd, Inst};

/// A `w` file's bytes, written when the run ends; like stdout, a last line without its newline
/// owes one before anything else is written there.
pub(super) struct WFile {
    pub(super) name: String,
    pub(super) data: Vec<u8>,
    pub(super) owe_nl: bool,
}

/// What waits for the end of the cycle: `a` text, an `r` file, an `R` line.
pub(super) enum Pending {
    Text(String),
    File(String),
    Raw(Vec<u8>),
}

impl Machine<'_, '_> {
    /// `w`: the pattern space (or its first line) into a file; the last line keeps its
    /// missing newline there too.
    pub(super) fn write_to(&mut self, ctx: &mut Ctx<'_, '_>, name: &str, first_only: bool) {
        let nl = self.nl;
        let text = if first_only {
            self.ps.split(nl).next().unwrap_or("").to_owned()
        } else {
            self.ps.clone()
        };
        // `W` of a pattern space without a delimiter is `w`.
        let missing = !(self.ps_chomped || first_only && self.ps.contains(nl));
        match name {
            "/dev/stdout" if !self.in_place => {
                self.emit(&text, !missing);
                if missing {
                    self.owe_nl = true;
                }
            }
            "/dev/stdout" | "/dev/stderr" => {
                let mut b = self.bytes(&text);
                if !missing {
                    b.push(nl as u8);
                }
                if name == "/dev/stdout" {
                    ctx.io.out(&b);
                } else {
                    ctx.io.err(&b);
                }
            }
            _ => {
                let b = self.bytes(&text);
                if let Some(w) = self.wfiles.iter_mut().find(|w| w.name == name) {
                    if w.owe_nl {
                        w.data.push(nl as u8);
                    }
                    w.data.extend_from_slice(&b);
                    if missing {
                        w.owe_nl = true;
                    } else {
                        w.owe_nl = false;
                        w.data.push(nl as u8);
                    }
                }
            }
        }
    }

    /// `R`: the next line of `name` (with its delimiter, if it has one), or nothing at its end.
    pub(super) fn read_next_line(&mut self, ctx: &mut Ctx<'_, '_>, name: &str) -> Option<Vec<u8>> {
        if !self.rfiles.iter().any(|r| r.0 == name) {
            let src = if name == "/dev/stdin" { "-" } else { name };
            let data = ctx.read_operand(src).unwrap_or_default();
            self.rfiles.push((name.to_owned(), data, 0));
        }
        let nl = self.nl as u8;
        let r = self.rfiles.iter_mut().find(|r| r.0 == name)?;
        let rest = &r.1[r.2..];
        if rest.is_empty() {
            return None;
        }
        let len = memchr::memchr(nl, rest).map_or(rest.len(), |i| i + 1);
        let line = rest[..len].to_vec();
        r.2 += len;
        Some(line)
    }

    pub(super) fn flush_append(&mut self, ctx: &mut Ctx<'_, '_>) {
        for p in std::mem::take(&mut self.append) {
            match p {
                Pending::Text(t) => self.emit_ended(&t, Some(b'\n')),
                Pending::Raw(b) => self.emit_raw(&b),
                // GNU skips a file it cannot read.
                Pending::File(f) => {
                    let src = if f == "/dev/stdin" { "-" } else { f.as_str() };
                    if let Ok(d) = ctx.read_operand(src) {
                        self.emit_raw(&d);
                    }
                }
            }
        }
    }

    fn emit_raw(&mut self, b: &[u8]) {
        if b.is_empty() {
            return;
        }
        if self.owe_nl {
            self.out.push(self.nl as u8);
            self.owe_nl = false;
        }
        self.out.extend_from_slice(b);
    }
}

/// Every `w` file of the program, emptied now as GNU opens them before reading any input;
/// `None` (the error printed) when one cannot be created.
pub(super) fn open_wfiles(ctx: &mut Ctx<'_, '_>, prog: &[Inst]) -> Option<Vec<WFile>> {
    // GNU opens (and empties) every `w` file before reading any input.
    let mut wfiles: Vec<WFile> = Vec::new();
    for name in prog.iter().filter_map(|i| match &i.cmd {
        Cmd::Write(f) | Cmd::WriteFirst(f) => Some(f),
        Cmd::Subst { write: Some(f), .. } => Some(f),
        _ => None,
    }) {
        if wfiles.iter().any(|w| w.name == *name) {
            continue;
        }
        if !matches!(name.as_str(), "/dev/stdout" | "/dev/stderr") {
            let path = ctx.path(name);
            if let Err(e) = ctx.sh.fs.write(&path, b"", false) {
                ctx.warn("sed", format!("couldn't open file {name}: {e}"));
                return None;
            }
        }
        wfiles.push(WFile {
            name: name.clone(),
            data: Vec::new(),
            owe_nl: false,
        });
    }
    Some(wfiles)
}

/// Writes the `w` files' bytes into the overlay; false when one failed.
pub(super) fn save_wfiles(ctx: &mut Ctx<'_, '_>, wfiles: &[WFile]) -> bool {
    let mut ok = true;
    for w in wfiles {
        if !matches!(w.name.as_str(), "/dev/stdout" | "/dev/stderr") {
            let path = ctx.path(&w.name);
            if let Err(e) = ctx.sh.fs.write(&path, &w.data, false) {
                ctx.warn("sed", format!("couldn't write to {}: {e}", w.name));
                ok = false;
            }
        }
    }
    ok
}
