//! `join` (GNU coreutils 9.1): lines of two sorted files paired on a join field. The reading
//! order follows GNU's (groups of equal keys from each side, then the tails), because when the
//! "is not sorted" diagnostics appear depends on which lines have been read and whether an
//! unpairable line was seen before: `--check-order` makes the first one fatal, the default warns
//! once per file after an unpairable line and ends with status 1.

use std::cmp::Ordering;

use super::Ctx;
use super::opts::{self, Arg, Spec};
use super::sink::Sink;
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "join",
    "a:e:i1:2:j:o:t:v:z",
    &[
        ("ignore-case", 'i', Arg::No),
        ("check-order", 'C', Arg::No),
        ("nocheck-order", 'N', Arg::No),
        ("header", 'H', Arg::No),
        ("zero-terminated", 'z', Arg::No),
    ],
)
.gnu(
    "a:e:i1:2:j:o:t:v:z",
    &[
        "ignore-case",
        "check-order",
        "nocheck-order",
        "zero-terminated",
        "header",
        "help",
        "version",
    ],
);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    Default,
    On,
    Off,
}

/// Where the fields are split: blanks, a byte, or nowhere (`-t ''`: the line is one field).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sep {
    Blanks,
    Byte(u8),
    Whole,
}

struct Opts {
    jf: [usize; 2],
    sep: Sep,
    unpaired: [bool; 2],
    paired: bool,
    filler: Option<String>,
    ignore_case: bool,
    check: Check,
    header: bool,
    /// `(file, field)`: file 0 is the join field.
    format: Vec<(u8, usize)>,
    auto: bool,
    eol: u8,
}

/// One input line: its text (without the terminator) and its fields as ranges of it.
#[derive(Clone, Default)]
struct Line {
    text: Vec<u8>,
    fields: Vec<(usize, usize)>,
}

impl Line {
    fn field(&self, n: usize) -> &[u8] {
        self.fields
            .get(n)
            .map_or(&[][..], |&(a, b)| &self.text[a..b])
    }
}

fn split(text: &[u8], sep: Sep) -> Vec<(usize, usize)> {
    let mut f = Vec::new();
    if text.is_empty() {
        return f;
    }
    match sep {
        Sep::Whole => f.push((0, text.len())),
        Sep::Byte(t) => {
            let mut start = 0;
            for (i, &b) in text.iter().enumerate() {
                if b == t {
                    f.push((start, i));
                    start = i + 1;
                }
            }
            f.push((start, text.len()));
        }
        Sep::Blanks => {
            let blank = |b: u8| matches!(b, b' ' | b'\t' | b'\n');
            let mut i = 0;
            while i < text.len() && blank(text[i]) {
                i += 1;
            }
            if i == text.len() {
                return f;
            }
            loop {
                let start = i;
                while i < text.len() && !blank(text[i]) {
                    i += 1;
                }
                f.push((start, i));
                if i == text.len() {
                    return f;
                }
                while i < text.len() && blank(text[i]) {
                    i += 1;
                }
                if i == text.len() {
                    // Trailing blanks leave an empty last field, as in GNU.
                    f.push((i, i));
                    return f;
                }
            }
        }
    }
    f
}

/// One input file, read line by line with GNU's order check on each line read.
struct Input<'d> {
    name: String,
    data: &'d [u8],
    pos: usize,
    line_no: u64,
    prev: Option<Line>,
    warned: bool,
}

struct State {
    seen_unpairable: bool,
    /// Set when `--check-order` found a disorder: stop with status 1.
    fatal: bool,
}

fn keycmp(a: &Line, b: &Line, ja: usize, jb: usize, icase: bool) -> Ordering {
    let (x, y) = (a.field(ja), b.field(jb));
    match (x.is_empty(), y.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        _ => {}
    }
    if icase {
        x.iter()
            .map(u8::to_ascii_uppercase)
            .cmp(y.iter().map(u8::to_ascii_uppercase))
    } else {
        x.cmp(y)
    }
}

impl Input<'_> {
    fn next(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        o: &Opts,
        which: usize,
        st: &mut State,
    ) -> Option<Line> {
        if self.pos >= self.data.len() || st.fatal {
            return None;
        }
        let rest = &self.data[self.pos..];
        let len = memchr::memchr(o.eol, rest).unwrap_or(rest.len());
        self.pos += (len + 1).min(rest.len());
        let text = rest[..len].to_vec();
        let fields = split(&text, o.sep);
        let line = Line { text, fields };
        self.line_no += 1;
        if let Some(prev) = &self.prev
            && o.check != Check::Off
            && (o.check == Check::On || st.seen_unpairable)
            && !self.warned
            && keycmp(prev, &line, o.jf[which], o.jf[which], o.ignore_case) == Ordering::Greater
        {
            ctx.warn(
                "join",
                format!(
                    "{}:{}: is not sorted: {}",
                    self.name,
                    self.line_no,
                    String::from_utf8_lossy(&line.text)
                ),
            );
            self.warned = true;
            if o.check == Check::On {
                // GNU exits inside its line reader: this line is never used.
                st.fatal = true;
                return None;
            }
        }
        self.prev = Some(line.clone());
        Some(line)
    }
}

pub(super) fn join(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut o = Opts {
        jf: [usize::MAX; 2],
        sep: Sep::Blanks,
        unpaired: [false; 2],
        paired: true,
        filler: None,
        ignore_case: false,
        check: Check::Default,
        header: false,
        format: Vec::new(),
        auto: false,
        eol: b'\n',
    };
    let mut sep_set = false;
    for (c, v) in flags {
        let v = v.unwrap_or_default();
        let res: Result<(), String> = (|| {
            match c {
                'a' | 'v' => {
                    if c == 'v' {
                        o.paired = false;
                    }
                    match v.trim_start().parse::<u64>() {
                        Ok(1) => o.unpaired[0] = true,
                        Ok(2) => o.unpaired[1] = true,
                        _ => return Err(format!("invalid field number: '{v}'")),
                    }
                }
                'e' => {
                    if o.filler.as_ref().is_some_and(|f| *f != v) {
                        return Err("conflicting empty-field replacement strings".to_owned());
                    }
                    o.filler = Some(v);
                }
                'i' => o.ignore_case = true,
                '1' => set_field(&mut o.jf[0], field_number(&v)?)?,
                '2' => set_field(&mut o.jf[1], field_number(&v)?)?,
                'j' => {
                    let n = field_number(&v)?;
                    set_field(&mut o.jf[0], n)?;
                    set_field(&mut o.jf[1], n)?;
                }
                'o' if v == "auto" => o.auto = true,
                'o' => {
                    for item in v.split([',', ' ', '\t']) {
                        o.format.push(field_spec(item)?);
                    }
                }
                't' => {
                    let new = match v.as_bytes() {
                        [] => Sep::Whole,
                        [b] => Sep::Byte(*b),
                        _ if v == "\\0" => Sep::Byte(0),
                        _ => return Err(format!("multi-character tab '{v}'")),
                    };
                    if sep_set && new != o.sep {
                        return Err("incompatible tabs".to_owned());
                    }
                    sep_set = true;
                    o.sep = new;
                }
                'C' => o.check = Check::On,
                'N' => o.check = Check::Off,
                'H' => o.header = true,
                _ => o.eol = b'\0',
            }
            Ok(())
        })();
        if let Err(msg) = res {
            ctx.warn("join", msg);
            return Ok(1);
        }
    }
    match ops.len() {
        0 => return Ok(opts::usage(ctx, "join", "missing operand", 1)),
        1 => {
            return Ok(opts::usage(
                ctx,
                "join",
                format!("missing operand after '{}'", ops[0]),
                1,
            ));
        }
        2 => {}
        // GNU may read a third word as part of an earlier -o or -j1/-j2.
        _ if args
            .iter()
            .any(|a| a.starts_with("-o") || a.starts_with("-j")) =>
        {
            return Ok(opts::unsupported(
                ctx,
                "join",
                "an -o or -j value split over several words",
            ));
        }
        _ => {
            return Ok(opts::usage(
                ctx,
                "join",
                format!("extra operand '{}'", ops[2]),
                1,
            ));
        }
    }
    for j in &mut o.jf {
        if *j == usize::MAX {
            *j = 0;
        }
    }
    if ops[0] == "-" && ops[1] == "-" {
        ctx.warn("join", "both files cannot be standard input");
        return Ok(1);
    }
    let mut data = Vec::new();
    for f in &ops {
        match ctx.read_operand(f) {
            Ok(d) => data.push(d),
            Err(e @ crate::vfs::FsError::IsDir) => {
                ctx.warn("join", format!("read error: {e}"));
                return Ok(1);
            }
            Err(e) => {
                ctx.warn("join", format!("{f}: {e}"));
                return Ok(1);
            }
        }
    }
    let mut ins = [
        Input {
            name: ops[0].clone(),
            data: &data[0],
            pos: 0,
            line_no: 0,
            prev: None,
            warned: false,
        },
        Input {
            name: ops[1].clone(),
            data: &data[1],
            pos: 0,
            line_no: 0,
            prev: None,
            warned: false,
        },
    ];
    let mut st = State {
        seen_unpairable: false,
        fatal: false,
    };
    let mut out = Out {
        sink: Sink::new(),
        auto: [0, 0],
        full: false,
    };
    run(ctx, &o, &mut ins, &mut st, &mut out)?;
    out.sink.flush(ctx)?;
    if st.fatal {
        return Ok(1);
    }
    if ins[0].warned || ins[1].warned {
        ctx.warn("join", "input is not in sorted order");
        return Ok(1);
    }
    Ok(0)
}

struct Out {
    sink: Sink,
    auto: [usize; 2],
    /// Stdout is past its cap: nothing more is kept, so the pairing stops.
    full: bool,
}

fn run(
    ctx: &mut Ctx<'_, '_>,
    o: &Opts,
    ins: &mut [Input<'_>; 2],
    st: &mut State,
    out: &mut Out,
) -> R<()> {
    let icase = o.ignore_case;
    let mut seq1: Vec<Line> = ins[0].next(ctx, o, 0, st).into_iter().collect();
    let mut seq2: Vec<Line> = ins[1].next(ctx, o, 1, st).into_iter().collect();
    if o.auto {
        out.auto = [
            seq1.first().map_or(0, |l| l.fields.len()),
            seq2.first().map_or(0, |l| l.fields.len()),
        ];
    }
    if o.header && (!seq1.is_empty() || !seq2.is_empty()) {
        emit(ctx, o, out, seq1.first(), seq2.first())?;
        // The header lines are not part of the order check.
        for (k, seq) in [&mut seq1, &mut seq2].into_iter().enumerate() {
            ins[k].prev = None;
            if !seq.is_empty() {
                *seq = ins[k].next(ctx, o, k, st).into_iter().collect();
            }
        }
    }
    while !seq1.is_empty() && !seq2.is_empty() && !st.fatal && !out.full {
        ctx.sh.tick()?;
        match keycmp(&seq1[0], &seq2[0], o.jf[0], o.jf[1], icase) {
            Ordering::Less => {
                if o.unpaired[0] {
                    emit(ctx, o, out, Some(&seq1[0]), None)?;
                }
                seq1 = ins[0].next(ctx, o, 0, st).into_iter().collect();
                st.seen_unpairable = true;
                continue;
            }
            Ordering::Greater => {
                if o.unpaired[1] {
                    emit(ctx, o, out, None, Some(&seq2[0]))?;
                }
                seq2 = ins[1].next(ctx, o, 1, st).into_iter().collect();
                st.seen_unpairable = true;
                continue;
            }
            Ordering::Equal => {}
        }
        // The run of equal keys on each side; the line that ends a run starts the next.
        let next1 = loop {
            match ins[0].next(ctx, o, 0, st) {
                None => break None,
                Some(l) if keycmp(&l, &seq2[0], o.jf[0], o.jf[1], icase).is_eq() => {
                    let _held = super::sink::hold(ctx, seq1.len() * 64 + l.text.len())?;
                    seq1.push(l);
                }
                Some(l) => break Some(l),
            }
        };
        let next2 = loop {
            match ins[1].next(ctx, o, 1, st) {
                None => break None,
                Some(l) if keycmp(&seq1[0], &l, o.jf[0], o.jf[1], icase).is_eq() => {
                    let _held = super::sink::hold(ctx, seq2.len() * 64 + l.text.len())?;
                    seq2.push(l);
                }
                Some(l) => break Some(l),
            }
        };
        if o.paired && !st.fatal {
            'pairs: for a in &seq1 {
                for b in &seq2 {
                    emit(ctx, o, out, Some(a), Some(b))?;
                    if out.full {
                        break 'pairs;
                    }
                }
            }
        }
        seq1 = next1.into_iter().collect();
        seq2 = next2.into_iter().collect();
    }
    if st.fatal || out.full {
        return Ok(());
    }
    let check_tail = o.check != Check::Off && !(ins[0].warned && ins[1].warned);
    for (k, input) in ins.iter_mut().enumerate() {
        let (mine, other) = if k == 0 {
            (&seq1, &seq2)
        } else {
            (&seq2, &seq1)
        };
        if !(o.unpaired[k] || check_tail) || mine.is_empty() {
            continue;
        }
        if o.unpaired[k] {
            let (a, b) = if k == 0 {
                (Some(&mine[0]), None)
            } else {
                (None, Some(&mine[0]))
            };
            emit(ctx, o, out, a, b)?;
        }
        if !other.is_empty() {
            st.seen_unpairable = true;
        }
        while let Some(l) = input.next(ctx, o, k, st) {
            ctx.sh.tick()?;
            if o.unpaired[k] {
                let (a, b) = if k == 0 {
                    (Some(&l), None)
                } else {
                    (None, Some(&l))
                };
                emit(ctx, o, out, a, b)?;
            }
            if out.full || (input.warned && !o.unpaired[k]) {
                break;
            }
        }
        if st.fatal || out.full {
            return Ok(());
        }
    }
    Ok(())
}

/// One output line: `a` from file 1, `b` from file 2; `None` is GNU's blank line, the side an
/// unpaired line lacks.
fn emit(
    ctx: &mut Ctx<'_, '_>,
    o: &Opts,
    out: &mut Out,
    a: Option<&Line>,
    b: Option<&Line>,
) -> R<()> {
    let sep = match o.sep {
        Sep::Blanks => b' ',
        Sep::Byte(t) => t,
        Sep::Whole => b'\n',
    };
    let blank = Line::default();
    let (a_line, b_line) = (a.unwrap_or(&blank), b.unwrap_or(&blank));
    let mut line: Vec<u8> = Vec::new();
    let put = |line: &mut Vec<u8>, l: &Line, n: usize| {
        let f = l.field(n);
        if !f.is_empty() {
            line.extend_from_slice(f);
        } else if let Some(fill) = &o.filler {
            line.extend_from_slice(fill.as_bytes());
        }
    };
    // The join field comes from file 1's line unless that side is the blank one.
    let (jl, jn) = match a {
        Some(l) => (l, o.jf[0]),
        None => (b_line, o.jf[1]),
    };
    if o.format.is_empty() {
        put(&mut line, jl, jn);
        for (k, l) in [(0usize, a_line), (1, b_line)] {
            let n = if o.auto { out.auto[k] } else { l.fields.len() };
            for i in (0..n).filter(|&i| i != o.jf[k]) {
                line.push(sep);
                put(&mut line, l, i);
            }
        }
    } else {
        for (i, &(file, field)) in o.format.iter().enumerate() {
            if i > 0 {
                line.push(sep);
            }
            match file {
                0 => put(&mut line, jl, jn),
                1 => put(&mut line, a_line, field),
                _ => put(&mut line, b_line, field),
            }
        }
    }
    line.push(o.eol);
    if !out.sink.put(ctx, &line)? {
        out.full = true;
    }
    Ok(())
}

/// A 1-based field number as GNU reads it: too large saturates, 0 or non-digits are errors.
fn field_number(s: &str) -> Result<usize, String> {
    let t = s.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid field number: '{s}'"));
    }
    match t.parse::<u64>() {
        Ok(0) => Err(format!("invalid field number: '{s}'")),
        Ok(n) => Ok(usize::try_from(n - 1).unwrap_or(usize::MAX - 1)),
        Err(_) => Ok(usize::MAX - 1),
    }
}

fn set_field(var: &mut usize, val: usize) -> Result<(), String> {
    if *var != usize::MAX && *var != val {
        return Err(format!(
            "incompatible join fields {}, {}",
            var.saturating_add(1),
            val.saturating_add(1)
        ));
    }
    *var = val;
    Ok(())
}

fn field_spec(s: &str) -> Result<(u8, usize), String> {
    match s.as_bytes().first() {
        Some(b'0') if s.len() == 1 => Ok((0, 0)),
        Some(b'0') => Err(format!("invalid field specifier: '{s}'")),
        Some(&d @ (b'1' | b'2')) => match s.as_bytes().get(1) {
            Some(b'.') => Ok((d - b'0', field_number(&s[2..])?)),
            _ => Err(format!("invalid field specifier: '{s}'")),
        },
        _ => Err(format!("invalid file number in field spec: '{s}'")),
    }
}
