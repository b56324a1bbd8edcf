//! `split` (GNU coreutils 9.1): a file cut into pieces by lines (`-l`), bytes (`-b`), whole
//! lines up to a size (`-C`) or a number of chunks (`-n N`, `K/N`, `l/N`, `l/K/N`), named as GNU
//! names them: PREFIX (`x`) + a suffix (`aa`, `ab`, …; `-d` digits, `-x` hex) + `--additional-suffix`.
//! Without `-a`, the suffix widens as GNU's does (`yz` is followed by `zaaa`). Round-robin chunks
//! (`r/N`) and `--filter` are refused.

use super::Ctx;
use super::opts::{Arg, Spec};
use crate::interp::{R, UNSUPPORTED_EXIT};

const SPEC: Spec = Spec::new(
    "split",
    "a:b:C:del:n:t:ux",
    &[
        ("suffix-length", 'a', Arg::Required),
        ("additional-suffix", 'A', Arg::Required),
        ("bytes", 'b', Arg::Required),
        ("line-bytes", 'C', Arg::Required),
        ("numeric-suffixes", 'D', Arg::Optional),
        ("hex-suffixes", 'X', Arg::Optional),
        ("elide-empty-files", 'e', Arg::No),
        ("lines", 'l', Arg::Required),
        ("number", 'n', Arg::Required),
        ("separator", 't', Arg::Required),
        ("unbuffered", 'u', Arg::No),
        ("verbose", 'V', Arg::No),
    ],
)
.gnu(
    "0123456789C:a:b:del:n:t:ux",
    &[
        "bytes",
        "line-bytes",
        "lines",
        "number",
        "additional-suffix",
        "filter",
        "numeric-suffixes",
        "hex-suffixes",
        "elide-empty-files",
        "suffix-length",
        "separator",
        "unbuffered",
        "verbose",
        "help",
        "version",
    ],
);

/// How the input is cut.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Lines(u64),
    Bytes(u64),
    LineBytes(u64),
    /// `-n`: N chunks by size, or by size without splitting lines; K alone goes to stdout.
    Chunks {
        lines: bool,
        k: u64,
        n: u64,
    },
}

/// Output file names, as GNU's `next_file_name` makes them.
struct Names {
    prefix: String,
    extra: String,
    alphabet: &'static [u8],
    index: Vec<usize>,
    widen: bool,
    started: bool,
}

impl Names {
    fn next(&mut self) -> Option<String> {
        if !self.started {
            self.started = true;
        } else if !self.bump() {
            return None;
        }
        let mut name = self.prefix.clone();
        name.extend(self.index.iter().map(|&i| self.alphabet[i] as char));
        name.push_str(&self.extra);
        Some(name)
    }

    fn bump(&mut self) -> bool {
        let last = self.alphabet.len() - 1;
        for i in (0..self.index.len()).rev() {
            self.index[i] += 1;
            // GNU keeps names sorting in creation order: once the first place reaches the last
            // letter, that letter joins the prefix and the suffix gets one place longer.
            if self.widen && i == 0 && self.index[0] == last {
                self.prefix.push(self.alphabet[last] as char);
                self.index = vec![0; self.index.len() + 1];
                return true;
            }
            if self.index[i] <= last {
                return true;
            }
            self.index[i] = 0;
        }
        false
    }
}

/// Where pieces go: files (opened in turn) or, for `-n K/N`, stdout.
struct Out<'n> {
    names: &'n mut Names,
    verbose: bool,
    elide: bool,
    current: Option<String>,
    failed: bool,
}

impl Out<'_> {
    /// GNU's `cwrite`: `new_file` closes the current piece and opens the next one.
    fn write(&mut self, ctx: &mut Ctx<'_, '_>, new_file: bool, data: &[u8]) -> R<bool> {
        ctx.sh.tick()?;
        if new_file {
            if data.is_empty() && self.elide {
                return Ok(true);
            }
            let Some(name) = self.names.next() else {
                ctx.warn("split", "output file suffixes exhausted");
                self.failed = true;
                return Ok(false);
            };
            if self.verbose {
                ctx.io.out(format!("creating file '{name}'\n").as_bytes());
            }
            if let Err(e) = ctx.write_named(&name, b"", false) {
                ctx.warn("split", format!("{name}: {e}"));
                self.failed = true;
                return Ok(false);
            }
            self.current = Some(name);
        }
        if !data.is_empty()
            && let Some(name) = self.current.clone()
            && let Err(e) = ctx.write_named(&name, data, true)
        {
            ctx.warn("split", format!("{name}: {e}"));
            self.failed = true;
            return Ok(false);
        }
        Ok(true)
    }
}

/// A value GNU reads with `xdectoimax`: digits after optional blanks and `+`, with `units` the
/// multipliers it takes (`-b`, `-C`).
fn number(s: &str, units: bool) -> Result<u64, &'static str> {
    let t = s.trim_start_matches([' ', '\t', '\n']);
    let t = t.strip_prefix('+').unwrap_or(t);
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err("");
    }
    let (num, rest) = t.split_at(digits);
    let mut v: u64 = num.parse().map_err(|_| TOO_LARGE)?;
    if rest.is_empty() {
        return Ok(v);
    }
    if !units {
        return Err("");
    }
    let mut chars = rest.chars();
    let unit = chars.next().unwrap_or_default();
    let tail = chars.as_str();
    let base: u64 = match tail {
        "" | "iB" => 1024,
        "B" if unit != 'b' => 1000,
        _ => return Err(""),
    };
    let power = match unit {
        'b' if tail.is_empty() => {
            return v.checked_mul(512).ok_or(TOO_LARGE);
        }
        'K' | 'k' => 1,
        'M' | 'm' => 2,
        'G' => 3,
        'T' => 4,
        'P' => 5,
        'E' => 6,
        'Z' | 'Y' => return Err(TOO_LARGE),
        _ => return Err(""),
    };
    for _ in 0..power {
        v = v.checked_mul(base).ok_or(TOO_LARGE)?;
    }
    Ok(v)
}

const TOO_LARGE: &str = "Value too large for defined data type";
const RANGE: &str = "Numerical result out of range";

pub(super) fn split(ctx: &mut Ctx<'_, '_>, raw: &[String]) -> R<i32> {
    // `split -100 file` is GNU's old spelling of `-l 100`.
    let args: Vec<String> = raw
        .iter()
        .map(|a| match a.strip_prefix('-') {
            Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => format!("-l{d}"),
            _ => a.clone(),
        })
        .collect();
    let (flags, operands) = match ctx.opts(&SPEC, &args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut mode: Option<Mode> = None;
    let mut suffix_len: Option<usize> = None;
    let mut extra = String::new();
    let mut alphabet: &'static [u8] = b"abcdefghijklmnopqrstuvwxyz";
    let mut start: Option<String> = None;
    let mut elide = false;
    let mut verbose = false;
    let mut sep = b'\n';
    for (c, v) in flags {
        let v = v.unwrap_or_default();
        let bad = |ctx: &mut Ctx<'_, '_>, what: &str, why: &str| -> R<i32> {
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(": {why}")
            };
            ctx.warn("split", format!("{what}: '{v}'{why}"));
            Ok(1)
        };
        let new_mode = match c {
            'l' => match number(&v, false) {
                Ok(0) => return bad(ctx, "invalid number of lines", RANGE),
                Ok(n) => Some(Mode::Lines(n)),
                Err(why) => return bad(ctx, "invalid number of lines", why),
            },
            'b' | 'C' => match number(&v, true) {
                Ok(0) => return bad(ctx, "invalid number of bytes", RANGE),
                Ok(n) if c == 'b' => Some(Mode::Bytes(n)),
                Ok(n) => Some(Mode::LineBytes(n)),
                Err(why) => return bad(ctx, "invalid number of bytes", why),
            },
            'n' => {
                let (lines, rest) = if let Some(r) = v.strip_prefix("l/") {
                    (true, r)
                } else if v.starts_with("r/") {
                    ctx.warn(
                        "split",
                        "round-robin chunks (-n r/...) are not supported by this sandbox",
                    );
                    return Ok(UNSUPPORTED_EXIT);
                } else {
                    (false, v.as_str())
                };
                let (k, n) = match rest.split_once('/') {
                    Some((k, n)) => (Some(k), n),
                    None => (None, rest),
                };
                let n = match number(n, false) {
                    Ok(0) => {
                        ctx.warn("split", format!("invalid number of chunks: '{n}': {RANGE}"));
                        return Ok(1);
                    }
                    Ok(n) => n,
                    Err(why) => {
                        let why = if why.is_empty() {
                            String::new()
                        } else {
                            format!(": {why}")
                        };
                        ctx.warn("split", format!("invalid number of chunks: '{n}'{why}"));
                        return Ok(1);
                    }
                };
                let k = match k.map(|k| (k, number(k, false))) {
                    None => 0,
                    Some((_, Ok(k))) if k >= 1 && k <= n => k,
                    Some((k, Ok(_))) => {
                        ctx.warn("split", format!("invalid chunk number: '{k}': {RANGE}"));
                        return Ok(1);
                    }
                    Some((_, Err(_))) => {
                        ctx.warn("split", format!("invalid number of chunks: '{v}'"));
                        return Ok(1);
                    }
                };
                Some(Mode::Chunks { lines, k, n })
            }
            'a' => {
                match number(&v, false) {
                    Ok(n) => suffix_len = (n > 0).then_some(n.min(4096) as usize),
                    Err(why) => return bad(ctx, "invalid suffix length", why),
                }
                None
            }
            'A' => {
                if v.contains('/') {
                    ctx.warn(
                        "split",
                        format!("invalid suffix '{v}', contains directory separator"),
                    );
                    return Ok(1);
                }
                extra = v.clone();
                None
            }
            'd' | 'D' | 'x' | 'X' => {
                alphabet = if matches!(c, 'd' | 'D') {
                    b"0123456789"
                } else {
                    b"0123456789abcdef"
                };
                if matches!(c, 'D' | 'X') && !v.is_empty() {
                    if !v
                        .bytes()
                        .all(|b| alphabet.contains(&b.to_ascii_lowercase()))
                    {
                        let what = if c == 'D' { "numerical" } else { "hexadecimal" };
                        ctx.warn("split", format!("{what} suffix start value: '{v}'"));
                        return Ok(1);
                    }
                    start = Some(v.to_ascii_lowercase());
                } else {
                    start = None;
                }
                None
            }
            'e' => {
                elide = true;
                None
            }
            'V' => {
                verbose = true;
                None
            }
            't' => {
                let b = v.as_bytes();
                sep = match b {
                    [] => {
                        ctx.warn("split", "empty record separator");
                        return Ok(1);
                    }
                    [one] => *one,
                    b"\\0" => 0,
                    _ => {
                        ctx.warn("split", format!("multi-character separator '{v}'"));
                        return Ok(1);
                    }
                };
                None
            }
            // `-u` only changes buffering of `r/N`, which is refused.
            _ => None,
        };
        if let Some(m) = new_mode {
            if mode.is_some() {
                return super::text::usage(ctx, "split", "cannot split in more than one way");
            }
            mode = Some(m);
        }
    }
    if operands.len() > 2 {
        let msg = format!("extra operand '{}'", operands[2]);
        return super::text::usage(ctx, "split", &msg);
    }
    let mode = mode.unwrap_or(Mode::Lines(1000));
    let input = operands.first().cloned().unwrap_or_else(|| "-".to_owned());
    let prefix = operands.get(1).cloned().unwrap_or_else(|| "x".to_owned());

    // The suffix: GNU's set_suffix_length.
    let mut widen = suffix_len.is_none() && start.is_none();
    let mut len = suffix_len.unwrap_or(2);
    if let Mode::Chunks { n, .. } = mode {
        let mut end = n - 1;
        if let Some(s) = &start
            && let Ok(from) = u64::from_str_radix(s, alphabet.len() as u32)
            && from < n
        {
            end = end.saturating_add(from);
        }
        let mut needed = 0;
        loop {
            needed += 1;
            end /= alphabet.len() as u64;
            if end == 0 {
                break;
            }
        }
        match suffix_len {
            Some(l) if l < needed => {
                ctx.warn(
                    "split",
                    format!("the suffix length needs to be at least {needed}"),
                );
                return Ok(1);
            }
            Some(_) => {}
            None => len = len.max(needed),
        }
        widen = false;
    }
    let mut index = vec![0usize; len];
    if let Some(s) = &start {
        if s.len() > len {
            return super::text::usage(
                ctx,
                "split",
                "numerical suffix start value is too large for the suffix length",
            );
        }
        for (slot, b) in index[len - s.len()..].iter_mut().zip(s.bytes()) {
            *slot = alphabet.iter().position(|&a| a == b).unwrap_or(0);
        }
    }
    let mut names = Names {
        prefix,
        extra,
        alphabet,
        index,
        widen,
        started: false,
    };

    // A chunk count needs the input's size, which a pipe does not have.
    if matches!(mode, Mode::Chunks { .. }) && input == "-" && !ctx.stdin.is_seekable() {
        ctx.warn("split", "-: cannot determine file size");
        return Ok(1);
    }
    let data = match ctx.read_operand(&input) {
        Ok(d) => d,
        Err(e) => {
            ctx.warn("split", format!("cannot open '{input}' for reading: {e}"));
            return Ok(1);
        }
    };
    let mut out = Out {
        names: &mut names,
        verbose,
        elide,
        current: None,
        failed: false,
    };
    match mode {
        Mode::Lines(n) => {
            let mut count = 0u64;
            for rec in records(&data, sep) {
                if !out.write(ctx, count == 0, rec)? {
                    break;
                }
                count = (count + 1) % n;
            }
        }
        Mode::Bytes(n) => {
            for piece in data.chunks(usize::try_from(n).unwrap_or(usize::MAX)) {
                if !out.write(ctx, true, piece)? {
                    break;
                }
            }
        }
        Mode::LineBytes(n) => line_bytes(ctx, &mut out, &data, sep, n)?,
        Mode::Chunks { lines: false, k, n } => {
            let size = data.len() as u64;
            // Fewer bytes than chunks: GNU gives each chunk one byte until they run out.
            let each = (size / n).max(1);
            let bounds = |i: u64| -> (usize, usize) {
                let s = ((i - 1).saturating_mul(each)).min(size);
                let e = if i == n {
                    size
                } else {
                    i.saturating_mul(each).min(size)
                };
                (s as usize, e as usize)
            };
            if k > 0 {
                let (s, e) = bounds(k);
                ctx.io.out(&data[s..e]);
            } else {
                for i in 1..=n {
                    let (s, e) = bounds(i);
                    if !out.write(ctx, true, &data[s..e])? {
                        break;
                    }
                }
            }
        }
        Mode::Chunks { lines: true, k, n } => line_chunks(ctx, &mut out, &data, sep, k, n)?,
    }
    Ok(i32::from(out.failed))
}

/// Records ending in `sep` (the last may lack it).
fn records(data: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    data.split_inclusive(move |&b| b == sep)
}

/// `-C N`: as many whole records as fit in N bytes; a longer record is cut at N bytes, GNU's
/// `line_bytes_split` over one buffer holding the whole input.
fn line_bytes(ctx: &mut Ctx<'_, '_>, out: &mut Out<'_>, data: &[u8], sep: u8, n: u64) -> R<()> {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let mut n_out = 0usize;
    let mut hold: Vec<u8> = Vec::new();
    let mut split_line = false;
    let mut sob = 0usize;
    let mut left = data.len();
    while left > 0 {
        let mut split_rest = 0usize;
        let mut eoc = false;
        let eol = if n - n_out - hold.len() <= left {
            split_rest = n - n_out - hold.len();
            eoc = true;
            memchr::memrchr(sep, &data[sob..sob + split_rest])
        } else {
            memchr::memrchr(sep, &data[sob..sob + left])
        };
        if !hold.is_empty() && (eol.is_some() || n_out == 0) {
            let h = std::mem::take(&mut hold);
            if !out.write(ctx, n_out == 0, &h)? {
                return Ok(());
            }
            n_out += h.len();
        }
        if let Some(e) = eol {
            split_line = true;
            let w = e + 1;
            if !out.write(ctx, n_out == 0, &data[sob..sob + w])? {
                return Ok(());
            }
            n_out += w;
            left -= w;
            sob += w;
            if eoc {
                split_rest -= w;
            }
        }
        if left > 0 && !split_line {
            let w = if eoc { split_rest } else { left };
            if !out.write(ctx, n_out == 0, &data[sob..sob + w])? {
                return Ok(());
            }
            n_out += w;
            left -= w;
            sob += w;
            if eoc {
                split_rest -= w;
            }
        }
        if (eoc && split_rest > 0) || (!eoc && left > 0) {
            let b = if eoc { split_rest } else { left };
            hold.extend_from_slice(&data[sob..sob + b]);
            left -= b;
            sob += b;
        }
        if eoc {
            n_out = 0;
            split_line = false;
        }
    }
    if !hold.is_empty() {
        out.write(ctx, n_out == 0, &hold)?;
    }
    Ok(())
}

/// `-n l/N` and `l/K/N`: N chunks of about size/N bytes, each ending at the end of a record,
/// GNU's `lines_chunk_split` (empty files for chunks a long record skipped over).
fn line_chunks(
    ctx: &mut Ctx<'_, '_>,
    out: &mut Out<'_>,
    data: &[u8],
    sep: u8,
    k: u64,
    n: u64,
) -> R<()> {
    let size = data.len() as u64;
    let chunk = size / n;
    let mut chunk_no = 1u64;
    let mut chunk_end = chunk;
    let mut written = 0u64;
    let mut new_file = true;
    // Chunks given a file so far (an elided empty one counts): the rest are made empty at the end.
    let mut started = 0u64;
    let mut bp = 0usize;
    while bp < data.len() {
        let remaining = data.len() - bp;
        let skip = (chunk_end.saturating_sub(1).saturating_sub(written) as usize).min(remaining);
        let (to, mut next) = match memchr::memchr(sep, &data[bp + skip..]) {
            Some(i) => (bp + skip + i + 1, true),
            None => (data.len(), false),
        };
        let piece = &data[bp..to];
        if k == chunk_no {
            ctx.io.out(piece);
        } else if k == 0 {
            started += u64::from(new_file);
            if !out.write(ctx, new_file, piece)? {
                return Ok(());
            }
        }
        written += piece.len() as u64;
        bp = to;
        new_file = next;
        // A long record can run past whole chunks: each gets an empty file.
        while next || chunk_end <= written {
            if !next && bp == data.len() {
                break;
            }
            chunk_no += 1;
            if k > 0 && chunk_no > k {
                return Ok(());
            }
            chunk_end = if chunk_no == n {
                size
            } else {
                chunk_end + chunk
            };
            if chunk_end <= written {
                if k == 0 {
                    started += 1;
                    if !out.write(ctx, true, b"")? {
                        return Ok(());
                    }
                }
            } else {
                next = false;
            }
        }
    }
    while k == 0 && started < n {
        started += 1;
        if !out.write(ctx, true, b"")? {
            return Ok(());
        }
    }
    Ok(())
}
