//! awk I/O: the main input's records, `print > file` streams, and `getline`.

use std::collections::HashMap;
use std::sync::Arc;

use super::ast::Expr;
use super::re::to_latin1;
use super::records::{RecSep, next_record};
use super::value::Val;
use super::{Awk, ER, err};

/// Files named by `print > f`, `print >> f` and `getline < f`, open until `close(f)` as in awk.
#[derive(Default)]
pub(super) struct Streams {
    /// Output files and their pending bytes (written in steps of [`Streams::STEP`]).
    pub(super) out: HashMap<String, Vec<u8>>,
    /// Input files: their bytes and the read position.
    pub(super) inp: HashMap<String, (String, usize)>,
}

impl Streams {
    const STEP: usize = 64 * 1024;
    /// Open files at once: past this a program is refused rather than hold unbounded buffers.
    const MAX_OPEN: usize = 256;

    /// Bytes held: pending output and the text of files open for `getline`.
    pub(super) fn pending(&self) -> u64 {
        self.out.values().map(|b| b.len() as u64).sum::<u64>()
            + self.inp.values().map(|(t, _)| t.len() as u64).sum::<u64>()
    }
}

/// The main input of the file being read: its text, where the next record starts, and `RS`.
pub(super) struct MainInput {
    pub(super) text: String,
    pub(super) pos: usize,
    pub(super) rs: RecSep,
    /// The `RS` text `rs` was made from: a program may change `RS` between records.
    pub(super) rs_src: String,
}

/// Replaces the strings of `out` with `parts`, reusing the allocations it has.
pub(super) fn refill<'a>(out: &mut Vec<String>, parts: impl Iterator<Item = &'a str>) {
    let mut n = 0;
    for p in parts {
        if let Some(slot) = out.get_mut(n) {
            slot.clear();
            slot.push_str(p);
        } else {
            out.push(p.to_owned());
        }
        n += 1;
    }
    out.truncate(n);
}

/// Whether a multi-character FS (a regular expression) has no regex syntax in it, so it
/// matches only itself and splits as a plain string (`-F': '`), without the regex engine.
pub(super) fn is_literal(fs: &str) -> bool {
    !fs.contains([
        '\\', '.', '[', ']', '(', ')', '*', '+', '?', '{', '}', '|', '^', '$',
    ])
}

/// The character of a one-character FS other than `\\` (a literal separator, not a regex).
pub(super) fn single_char(fs: &str) -> Option<char> {
    let mut it = fs.chars();
    match (it.next(), it.next()) {
        (Some(c), None) if c != '\\' => Some(c),
        _ => None,
    }
}

impl Awk<'_, '_, '_> {
    /// `print > name` / `>> name`: the first `>` of an open truncates, later ones append.
    pub(super) fn write_stream(&mut self, name: &str, append: bool, bytes: Vec<u8>) -> ER<()> {
        match name {
            "/dev/stdout" | "-" => {
                self.out.extend_from_slice(&bytes);
                return self.account().map_err(Err);
            }
            "/dev/stderr" => {
                self.ctx.io.err(&bytes);
                return Ok(());
            }
            _ => {}
        }
        if !self.streams.out.contains_key(name) {
            if self.streams.out.len() >= Streams::MAX_OPEN {
                return err(format!(
                    "more than {} open output files is not supported in this sandbox",
                    Streams::MAX_OPEN
                ));
            }
            if !append {
                let path = self.ctx.path(name);
                if let Err(e) = self.ctx.sh.fs.write(&path, b"", false) {
                    return err(format!("cannot redirect to `{name}': {e}"));
                }
            }
            self.streams.out.insert(name.to_owned(), Vec::new());
        }
        let full = {
            let buf = self.streams.out.entry(name.to_owned()).or_default();
            buf.extend_from_slice(&bytes);
            buf.len() >= Streams::STEP
        };
        if full {
            self.flush_stream(name, false)?;
        }
        self.account().map_err(Err)
    }

    /// Writes what is pending for `name`; `close` also forgets the file (the next `>` truncates).
    pub(super) fn flush_stream(&mut self, name: &str, close: bool) -> ER<()> {
        let pending = if close {
            self.streams.out.remove(name)
        } else {
            self.streams.out.get_mut(name).map(std::mem::take)
        };
        if let Some(bytes) = pending
            && !bytes.is_empty()
        {
            let path = self.ctx.path(name);
            if let Err(e) = self.ctx.sh.fs.write(&path, &bytes, true) {
                return err(format!("cannot redirect to `{name}': {e}"));
            }
        }
        Ok(())
    }

    /// Writes every open output file (at the end of the program).
    pub(super) fn close_all(&mut self) -> ER<()> {
        let names: Vec<String> = self.streams.out.keys().cloned().collect();
        for n in names {
            self.flush_stream(&n, true)?;
        }
        Ok(())
    }

    /// `getline [var] [< file]`: 1 with a record, 0 at the end, -1 when the file cannot be read.
    pub(super) fn getline(&mut self, var: Option<&Expr>, file: Option<&Expr>) -> ER<Val> {
        let rs = self.rec_sep().map_err(Err)?;
        let record = match file {
            Some(f) => {
                let name = self.eval(f)?.str();
                // What this program wrote there is on disk before it is read back.
                self.flush_stream(&name, false)?;
                if !self.streams.inp.contains_key(&name) {
                    let data = if name == "-" || name == "/dev/stdin" {
                        Ok(Arc::new(self.ctx.stdin.take_all().to_vec()))
                    } else {
                        self.ctx.read_operand(&name)
                    };
                    match data {
                        Ok(d) => {
                            let d = if self.c_locale {
                                to_latin1(&d)
                            } else {
                                String::from_utf8_lossy(&d).into_owned()
                            };
                            if self.streams.inp.len() >= Streams::MAX_OPEN {
                                return err(format!(
                                    "more than {} open input files is not supported in this sandbox",
                                    Streams::MAX_OPEN
                                ));
                            }
                            self.streams.inp.insert(name.clone(), (d, 0));
                            self.account().map_err(Err)?;
                        }
                        Err(_) => return Ok(Val::Num(-1.0)),
                    }
                }
                let Some((text, pos)) = self.streams.inp.get_mut(&name) else {
                    return Ok(Val::Num(-1.0));
                };
                let mut p = *pos;
                let rec = next_record(text, &mut p, &rs).map(|(r, t)| (r.to_owned(), t.to_owned()));
                *pos = p;
                match rec {
                    Some((r, t)) => {
                        self.set_rt(&t);
                        r
                    }
                    None => return Ok(Val::Num(0.0)),
                }
            }
            None => {
                let Some(m) = self.main.as_mut() else {
                    if self.in_begin {
                        return err(
                            "getline from the main input in BEGIN is not supported in this sandbox",
                        );
                    }
                    // In END: nothing left to read.
                    return Ok(Val::Num(0.0));
                };
                let mut p = m.pos;
                let rec =
                    next_record(&m.text, &mut p, &rs).map(|(r, t)| (r.to_owned(), t.to_owned()));
                m.pos = p;
                match rec {
                    Some((r, t)) => {
                        self.set_rt(&t);
                        let nr = self.get("NR").num() + 1.0;
                        let fnr = self.get("FNR").num() + 1.0;
                        self.vars.insert("NR".into(), Val::Num(nr));
                        self.vars.insert("FNR".into(), Val::Num(fnr));
                        r
                    }
                    None if self.more_files => {
                        return err(
                            "getline past the end of one input file into the next is not supported in this sandbox",
                        );
                    }
                    None => return Ok(Val::Num(0.0)),
                }
            }
        };
        match var {
            Some(v) => self.assign(v, Val::StrNum(record))?,
            None => self.set_record(&record).map_err(Err)?,
        }
        Ok(Val::Num(1.0))
    }
}
