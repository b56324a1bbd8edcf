//! `od` (GNU coreutils): `-t a c d o u x` with sizes 1 2 4 8 and the `z` trailer, the
//! traditional `-b -c -d -o -x -i -l -s -h`, `-A o d x n`, `-j`, `-N`, `-w`, `-v`; fields padded
//! and aligned across types exactly as GNU computes them, repeated lines folded into `*`.
//! Floating-point types (`-t f`, `-f`, `-D`, `-F`, `-e`) are refused: their `%g` digits are not
//! reproduced here.

use super::Ctx;
use super::opts::{self, Arg, Spec as Options};
use super::sink::Sink;
use crate::interp::R;

const OPTIONS: Options = Options::new(
    "od",
    "t:A:j:N:w::vabcdosxhilfDFe",
    &[
        ("format", 't', Arg::Required),
        ("address-radix", 'A', Arg::Required),
        ("skip-bytes", 'j', Arg::Required),
        ("read-bytes", 'N', Arg::Required),
        ("width", 'w', Arg::Optional),
        ("output-duplicates", 'v', Arg::No),
    ],
)
.gnu(
    "AaBbcDdeFfHhIijLlNOoSstvwXx",
    &[
        "address-radix",
        "skip-bytes",
        "read-bytes",
        "strings",
        "format",
        "output-duplicates",
        "width",
        "endian",
        "traditional",
        "help",
        "version",
    ],
);

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Named,
    Char,
    Signed,
    Unsigned,
    Octal,
    Hex,
}

#[derive(Clone, Copy)]
struct Spec {
    kind: Kind,
    size: usize,
    trailer: bool,
}

impl Spec {
    /// Characters of the widest value (GNU's `field_width`, without the separating space).
    fn width(self) -> usize {
        match (self.kind, self.size) {
            (Kind::Named | Kind::Char, _) => 3,
            (Kind::Hex, n) => 2 * n,
            (Kind::Octal, 1) => 3,
            (Kind::Octal, 2) => 6,
            (Kind::Octal, 4) => 11,
            (Kind::Octal, _) => 22,
            (Kind::Unsigned, 1) => 3,
            (Kind::Unsigned, 2) => 5,
            (Kind::Unsigned, 4) => 10,
            (Kind::Unsigned, _) => 20,
            (Kind::Signed, 1) => 4,
            (Kind::Signed, 2) => 6,
            (Kind::Signed, 4) => 11,
            (Kind::Signed, _) => 20,
        }
    }

    fn format(self, v: u64) -> String {
        let w = self.width();
        match self.kind {
            Kind::Hex => format!("{v:0w$x}"),
            Kind::Octal => format!("{v:0w$o}"),
            Kind::Unsigned => v.to_string(),
            Kind::Signed => {
                let bits = self.size * 8;
                let s = if bits == 64 {
                    v as i64
                } else {
                    ((v << (64 - bits)) as i64) >> (64 - bits)
                };
                s.to_string()
            }
            Kind::Char => char_name(v as u8),
            Kind::Named => named(v as u8),
        }
    }
}

fn char_name(b: u8) -> String {
    match b {
        0 => "\\0".to_owned(),
        7 => "\\a".to_owned(),
        8 => "\\b".to_owned(),
        12 => "\\f".to_owned(),
        b'\n' => "\\n".to_owned(),
        b'\r' => "\\r".to_owned(),
        b'\t' => "\\t".to_owned(),
        11 => "\\v".to_owned(),
        0x20..=0x7e => (b as char).to_string(),
        _ => format!("{b:03o}"),
    }
}

fn named(b: u8) -> String {
    const NAMES: [&str; 33] = [
        "nul", "soh", "stx", "etx", "eot", "enq", "ack", "bel", "bs", "ht", "nl", "vt", "ff", "cr",
        "so", "si", "dle", "dc1", "dc2", "dc3", "dc4", "nak", "syn", "etb", "can", "em", "sub",
        "esc", "fs", "gs", "rs", "us", "sp",
    ];
    let b = b & 0x7f;
    match b {
        0..=0x20 => NAMES[b as usize].to_owned(),
        0x7f => "del".to_owned(),
        _ => (b as char).to_string(),
    }
}

enum Bad {
    Type(String),
    Float(String),
    Number(String, &'static str),
    Radix(String),
}

/// Parses one `-t` argument (several types may follow each other: `-t x1z`, `-t cx1`).
fn parse_types(s: &str, out: &mut Vec<Spec>) -> Result<(), Bad> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.is_empty() {
        return Err(Bad::Type(s.to_owned()));
    }
    while i < b.len() {
        let kind = match b[i] {
            b'a' => Kind::Named,
            b'c' => Kind::Char,
            b'd' => Kind::Signed,
            b'u' => Kind::Unsigned,
            b'o' => Kind::Octal,
            b'x' => Kind::Hex,
            b'f' => return Err(Bad::Float(format!("-t {s}"))),
            _ => return Err(Bad::Type(s.to_owned())),
        };
        i += 1;
        let mut size = if matches!(kind, Kind::Named | Kind::Char) {
            1
        } else {
            4
        };
        if !matches!(kind, Kind::Named | Kind::Char) {
            match b.get(i) {
                Some(b'C') => {
                    size = 1;
                    i += 1;
                }
                Some(b'S') => {
                    size = 2;
                    i += 1;
                }
                Some(b'I') => {
                    size = 4;
                    i += 1;
                }
                Some(b'L') => {
                    size = 8;
                    i += 1;
                }
                Some(c) if c.is_ascii_digit() => {
                    let start = i;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                    size = s[start..i].parse().unwrap_or(0);
                    if !matches!(size, 1 | 2 | 4 | 8) {
                        return Err(Bad::Type(s.to_owned()));
                    }
                }
                _ => {}
            }
        }
        let trailer = b.get(i) == Some(&b'z');
        if trailer {
            i += 1;
        }
        out.push(Spec {
            kind,
            size,
            trailer,
        });
    }
    Ok(())
}

/// A count or offset as GNU reads it: decimal, `0x` hex or leading-`0` octal, with an optional
/// `b` (512), `k`/`K` (1024), `m`/`M` multiplier.
fn parse_count(s: &str) -> Option<u64> {
    let (num, mult) = match s.as_bytes().last()? {
        b'b' if !s.starts_with("0x") => (&s[..s.len() - 1], 512),
        b'k' | b'K' => (&s[..s.len() - 1], 1024),
        b'm' | b'M' => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    let v = if let Some(h) = num.strip_prefix("0x").or_else(|| num.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if num.len() > 1 && num.starts_with('0') {
        u64::from_str_radix(&num[1..], 8).ok()?
    } else {
        num.parse().ok()?
    };
    v.checked_mul(mult)
}

struct Opts {
    specs: Vec<Spec>,
    radix: Option<u32>,
    skip: u64,
    limit: Option<u64>,
    width: usize,
    all: bool,
    files: Vec<String>,
}

fn parse(flags: Vec<(char, Option<String>)>, files: Vec<String>) -> Result<Opts, Bad> {
    let mut o = Opts {
        specs: Vec::new(),
        radix: Some(8),
        skip: 0,
        limit: None,
        width: 16,
        all: false,
        files,
    };
    let trad = |kind, size| Spec {
        kind,
        size,
        trailer: false,
    };
    for (c, v) in flags {
        let v = v.unwrap_or_default();
        match c {
            't' => parse_types(&v, &mut o.specs)?,
            'A' => {
                o.radix = match v.as_str() {
                    "o" => Some(8),
                    "d" => Some(10),
                    "x" => Some(16),
                    "n" => None,
                    _ => return Err(Bad::Radix(v)),
                };
            }
            'j' => o.skip = parse_count(&v).ok_or(Bad::Number(v, "skip"))?,
            'N' => o.limit = Some(parse_count(&v).ok_or(Bad::Number(v, "read-bytes"))?),
            // `-w` alone is 32 columns.
            'w' if v.is_empty() => o.width = 32,
            'w' => {
                o.width = parse_count(&v)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0 && n <= 4096)
                    .ok_or(Bad::Number(v, "width"))?;
            }
            'v' => o.all = true,
            'a' => o.specs.push(trad(Kind::Named, 1)),
            'b' => o.specs.push(trad(Kind::Octal, 1)),
            'c' => o.specs.push(trad(Kind::Char, 1)),
            'd' => o.specs.push(trad(Kind::Unsigned, 2)),
            'o' => o.specs.push(trad(Kind::Octal, 2)),
            's' => o.specs.push(trad(Kind::Signed, 2)),
            'x' | 'h' => o.specs.push(trad(Kind::Hex, 2)),
            'i' => o.specs.push(trad(Kind::Signed, 4)),
            'l' => o.specs.push(trad(Kind::Signed, 8)),
            other => return Err(Bad::Float(format!("-{other}"))),
        }
    }
    if o.specs.is_empty() {
        o.specs.push(trad(Kind::Octal, 2));
    }
    Ok(o)
}

pub(super) fn od(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&OPTIONS, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let o = match parse(flags, files) {
        Ok(o) => o,
        Err(Bad::Type(t)) => {
            ctx.warn("od", format!("invalid type string '{t}'"));
            return Ok(1);
        }
        Err(Bad::Float(what)) => {
            return Ok(opts::unsupported(
                ctx,
                "od",
                &format!("floating-point output ({what})"),
            ));
        }
        Err(Bad::Number(v, what)) => {
            ctx.warn("od", format!("invalid {what} argument '{v}'"));
            return Ok(1);
        }
        Err(Bad::Radix(v)) => {
            ctx.warn(
                "od",
                format!("invalid output address radix '{v}'; it must be one character from [doxn]"),
            );
            return Ok(1);
        }
    };
    let files = if o.files.is_empty() {
        vec!["-".to_owned()]
    } else {
        o.files.clone()
    };
    let mut parts = Vec::new();
    let mut failed = false;
    for f in &files {
        match ctx.read_operand(f) {
            Ok(d) => parts.push(d),
            Err(e) => {
                ctx.warn("od", format!("{f}: {e}"));
                failed = true;
            }
        }
    }
    if parts.is_empty() {
        return Ok(1);
    }
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let _held = super::sink::hold(ctx, total)?;
    let mut data = Vec::with_capacity(total);
    for p in &parts {
        data.extend_from_slice(p);
    }
    let skip = usize::try_from(o.skip).unwrap_or(usize::MAX);
    if skip > data.len() {
        ctx.warn("od", "cannot skip past end of combined input");
        return Ok(1);
    }
    let mut data = &data[skip..];
    if let Some(n) = o.limit {
        data = &data[..usize::try_from(n).unwrap_or(usize::MAX).min(data.len())];
    }
    dump(ctx, &o, data, o.skip)?;
    Ok(i32::from(failed))
}

fn address(radix: Option<u32>, at: u64) -> String {
    match radix {
        Some(8) => format!("{at:07o}"),
        Some(10) => format!("{at:07}"),
        Some(16) => format!("{at:06x}"),
        _ => String::new(),
    }
}

fn dump(ctx: &mut Ctx<'_, '_>, o: &Opts, data: &[u8], start: u64) -> R<()> {
    // Every size must divide the line width (GNU rounds the width up to their common multiple).
    let lcm = o.specs.iter().fold(1usize, |l, s| {
        let (mut a, mut b) = (l, s.size);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        l / a * s.size
    });
    let per_line = o.width.div_ceil(lcm) * lcm;
    let width_per_block = o
        .specs
        .iter()
        .map(|s| (s.width() + 1) * (per_line / s.size))
        .max()
        .unwrap_or(0);
    let addr_width = address(o.radix, 0).len();
    let mut sink = Sink::new();
    let mut prev: Option<&[u8]> = None;
    let mut starred = false;
    let mut off = 0usize;
    let mut line = String::new();
    while off < data.len() {
        let block = &data[off..(off + per_line).min(data.len())];
        if !o.all && block.len() == per_line && prev == Some(block) {
            if !starred {
                sink.put(ctx, b"*\n")?;
                starred = true;
            }
            off += per_line;
            continue;
        }
        starred = false;
        prev = Some(block);
        for (k, spec) in o.specs.iter().enumerate() {
            line.clear();
            if k == 0 {
                line.push_str(&address(o.radix, start + off as u64));
            } else {
                line.push_str(&" ".repeat(addr_width));
            }
            let fields = per_line / spec.size;
            let pad = width_per_block - spec.width() * fields;
            let present = block.len().div_ceil(spec.size);
            let mut pad_remaining = pad;
            for i in 0..present {
                let left = fields - i;
                let next_pad = pad * (left - 1) / fields;
                let w = pad_remaining - next_pad + spec.width();
                pad_remaining = next_pad;
                let mut bytes = [0u8; 8];
                let chunk = &block[i * spec.size..((i + 1) * spec.size).min(block.len())];
                bytes[..chunk.len()].copy_from_slice(chunk);
                let v = u64::from_le_bytes(bytes);
                let text = spec.format(v);
                line.push_str(&format!("{text:>w$}"));
            }
            if spec.trailer {
                let blank = fields - present;
                line.push_str(&" ".repeat(blank * (spec.width() + 1)));
                line.push_str("  >");
                for &b in block {
                    line.push(if (0x20..0x7f).contains(&b) {
                        b as char
                    } else {
                        '.'
                    });
                }
                line.push('<');
            }
            line.push('\n');
            if !sink.put(ctx, line.as_bytes())? {
                sink.flush(ctx)?;
                return Ok(());
            }
        }
        off += per_line;
    }
    if o.radix.is_some() {
        let end = format!("{}\n", address(o.radix, start + data.len() as u64));
        sink.put(ctx, end.as_bytes())?;
    }
    sink.flush(ctx)
}
