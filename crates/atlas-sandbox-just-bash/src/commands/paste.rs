//! `paste` (GNU coreutils): lines side by side, or one file per line with `-s`; `-d LIST` cycles
//! its delimiters (`\n \t \\ \0` escapes); every `-` operand takes the next line of one shared
//! standard input.

use std::sync::Arc;

use super::Ctx;
use super::opts::{Arg, Spec};
use super::sink::Sink;
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "paste",
    "szd:",
    &[
        ("serial", 's', Arg::No),
        ("zero-terminated", 'z', Arg::No),
        ("delimiters", 'd', Arg::Required),
    ],
)
.gnu(
    "dsz",
    &["delimiters", "serial", "zero-terminated", "help", "version"],
);

struct Opts {
    serial: bool,
    zero: bool,
    delims: Vec<Option<u8>>,
    files: Vec<String>,
}

/// The delimiter list: each entry one byte, or none for `\0`.
fn delimiters(s: &str) -> Vec<Option<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            out.push(match b[i + 1] {
                b'n' => Some(b'\n'),
                b't' => Some(b'\t'),
                b'b' => Some(8),
                b'f' => Some(12),
                b'r' => Some(b'\r'),
                b'v' => Some(11),
                b'0' => None,
                c => Some(c),
            });
            i += 2;
        } else {
            out.push(Some(b[i]));
            i += 1;
        }
    }
    out
}

fn parse(flags: Vec<(char, Option<String>)>, files: Vec<String>) -> Opts {
    let mut o = Opts {
        serial: false,
        zero: false,
        delims: vec![Some(b'\t')],
        files,
    };
    for (c, v) in flags {
        match c {
            's' => o.serial = true,
            'z' => o.zero = true,
            _ => {
                let d = delimiters(&v.unwrap_or_default());
                // `-d ''` is no delimiter at all.
                o.delims = if d.is_empty() { vec![None] } else { d };
            }
        }
    }
    if o.files.is_empty() {
        o.files.push("-".to_owned());
    }
    o
}

/// One input: its bytes and where the next line starts.
struct Source {
    data: Arc<Vec<u8>>,
    pos: usize,
}

impl Source {
    /// The next line without its terminator, or `None` at the end.
    fn next_line(&mut self, eol: u8) -> Option<&[u8]> {
        if self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        let (line, used) = match memchr::memchr(eol, rest) {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += used;
        Some(line)
    }
}

pub(super) fn paste(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let o = match ctx.opts(&SPEC, args) {
        Ok((flags, files)) => parse(flags, files),
        Err(st) => return Ok(st),
    };
    let eol = if o.zero { b'\0' } else { b'\n' };
    // Every operand is opened first, as GNU does: a missing one means no output at all.
    let mut sources: Vec<Source> = Vec::new();
    let mut stdin_source: Option<usize> = None;
    let mut order = Vec::new();
    for f in &o.files {
        if f == "-" {
            if let Some(i) = stdin_source {
                order.push(i);
                continue;
            }
            stdin_source = Some(sources.len());
        }
        match ctx.read_operand(f) {
            Ok(data) => {
                order.push(sources.len());
                sources.push(Source { data, pos: 0 });
            }
            Err(e) => {
                ctx.warn("paste", format!("{f}: {e}"));
                return Ok(1);
            }
        }
    }
    let mut sink = Sink::new();
    let mut line = Vec::new();
    if o.serial {
        for &s in &order {
            let mut d = 0;
            let mut first = true;
            while let Some(l) = sources[s].next_line(eol) {
                if !first {
                    if let Some(c) = o.delims[d % o.delims.len()] {
                        line.push(c);
                    }
                    d += 1;
                }
                first = false;
                line.extend_from_slice(l);
                if line.len() >= 1 << 15 {
                    sink.put(ctx, &line)?;
                    line.clear();
                }
            }
            line.push(eol);
            if !sink.put(ctx, &line)? {
                break;
            }
            line.clear();
        }
    } else {
        loop {
            let mut any = false;
            for (k, &s) in order.iter().enumerate() {
                if let Some(l) = sources[s].next_line(eol) {
                    any = true;
                    line.extend_from_slice(l);
                }
                if k + 1 < order.len()
                    && let Some(c) = o.delims[k % o.delims.len()]
                {
                    line.push(c);
                }
            }
            if !any {
                break;
            }
            line.push(eol);
            if !sink.put(ctx, &line)? {
                break;
            }
            line.clear();
        }
    }
    sink.flush(ctx)?;
    Ok(0)
}
