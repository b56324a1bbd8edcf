//! `xxd` (vim's, 2022): the hex dump (`-c` columns, `-g` group size, `-u`, `-s` seek, `-l`
//! length, `-o` offset), `-b` bits, `-p` plain, `-i` C include, and `-r` back to bytes (plain or
//! dump form). xxd's own long spellings (`-ps`, `-len`, `-cols`, ...) are accepted. An output
//! file operand, `-a`, `-e`, `-E`, `-C` and `-n` are refused.

use super::Ctx;
use super::opts::{self, Spec};
use super::sink::Sink;
use crate::interp::R;

/// xxd has no long options of GNU's kind: its long spellings are single-dash words, rewritten
/// to the letters first (`normalise`).
const SPEC: Spec = Spec::new("xxd", "pibruc:g:l:s:o:", &[]);

struct Opts {
    plain: bool,
    include: bool,
    bits: bool,
    revert: bool,
    upper: bool,
    cols: Option<usize>,
    group: Option<usize>,
    len: Option<u64>,
    seek: i64,
    offset: u64,
    file: Option<String>,
}

enum Bad {
    /// The parser's message lines and status.
    Usage(Vec<String>, i32),
    Number(String),
    Refused(String),
}

fn number(v: &str) -> Option<i64> {
    let (neg, body) = match v.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let n = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse().ok()?
    };
    Some(if neg { -n } else { n })
}

/// xxd spells its options with one dash and whole words; lexopt reads clusters, so the words
/// become their letters first.
fn normalise(args: &[String]) -> Vec<String> {
    args.iter()
        .map(|a| {
            let word = match a.as_str() {
                "-ps" | "-plain" | "-postscript" => "-p",
                "-len" => "-l",
                "-cols" => "-c",
                "-groupsize" => "-g",
                "-seek" => "-s",
                "-include" => "-i",
                "-bits" => "-b",
                "-revert" => "-r",
                "-upper" | "-uppercase" => "-u",
                "-autoskip" => "-a",
                _ => return a.clone(),
            };
            word.to_owned()
        })
        .collect()
}

fn parse(args: &[String]) -> Result<Opts, Bad> {
    let mut o = Opts {
        plain: false,
        include: false,
        bits: false,
        revert: false,
        upper: false,
        cols: None,
        group: None,
        len: None,
        seek: 0,
        offset: 0,
        file: None,
    };
    let args = normalise(args);
    let (flags, files) = opts::parse(&SPEC, &args).map_err(|e| Bad::Usage(e.lines, e.status))?;
    let value = |v: Option<String>| -> Result<i64, Bad> {
        let v = v.unwrap_or_default();
        number(&v).ok_or(Bad::Number(v))
    };
    for (c, v) in flags {
        match c {
            'p' => o.plain = true,
            'i' => o.include = true,
            'b' => o.bits = true,
            'r' => o.revert = true,
            'u' => o.upper = true,
            'c' => o.cols = Some(usize::try_from(value(v)?.max(0)).unwrap_or(0).min(256)),
            'g' => o.group = Some(usize::try_from(value(v)?.max(0)).unwrap_or(0)),
            'l' => o.len = Some(u64::try_from(value(v)?.max(0)).unwrap_or(0)),
            's' => o.seek = value(v)?,
            _ => o.offset = u64::try_from(value(v)?.max(0)).unwrap_or(0),
        }
    }
    if files.len() > 1 {
        return Err(Bad::Refused("an output file operand".to_owned()));
    }
    o.file = files.into_iter().next();
    Ok(o)
}

pub(super) fn xxd(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let o = match parse(args) {
        Ok(o) => o,
        Err(Bad::Usage(lines, st)) => {
            for l in &lines {
                ctx.io.errln(l);
            }
            return Ok(st);
        }
        Err(Bad::Number(v)) => {
            ctx.warn("xxd", format!("invalid number '{v}'"));
            return Ok(1);
        }
        Err(Bad::Refused(what)) => return Ok(opts::unsupported(ctx, "xxd", &what)),
    };
    let name = o.file.clone().unwrap_or_else(|| "-".to_owned());
    let data = match ctx.read_operand(&name) {
        Ok(d) => d,
        Err(e) => {
            ctx.warn("xxd", format!("{name}: {e}"));
            return Ok(2);
        }
    };
    let mut sink = Sink::new();
    if o.revert {
        revert(ctx, &mut sink, &data, o.plain)?;
        sink.flush(ctx)?;
        return Ok(0);
    }
    let start = if o.seek < 0 {
        data.len().saturating_sub(o.seek.unsigned_abs() as usize)
    } else {
        usize::try_from(o.seek)
            .unwrap_or(usize::MAX)
            .min(data.len())
    };
    let mut body = &data[start..];
    if let Some(n) = o.len {
        body = &body[..usize::try_from(n).unwrap_or(usize::MAX).min(body.len())];
    }
    let hexd = |b: u8| {
        if o.upper {
            format!("{b:02X}")
        } else {
            format!("{b:02x}")
        }
    };
    if o.plain {
        let cols = o.cols.filter(|&c| c > 0).unwrap_or(30);
        for chunk in body.chunks(cols) {
            let mut line: String = chunk.iter().map(|&b| hexd(b)).collect();
            line.push('\n');
            if !sink.put(ctx, line.as_bytes())? {
                break;
            }
        }
    } else if o.include {
        include(
            ctx,
            &mut sink,
            body,
            o.file.as_deref(),
            o.cols.unwrap_or(12),
            o.upper,
        )?;
    } else {
        let cols = o
            .cols
            .filter(|&c| c > 0)
            .unwrap_or(if o.bits { 6 } else { 16 });
        let group = o.group.unwrap_or(if o.bits { 1 } else { 2 });
        let group = if group == 0 { cols } else { group.min(cols) };
        let per_byte = if o.bits { 8 } else { 2 };
        let area = cols * per_byte + cols.div_ceil(group);
        let mut at = start as u64 + o.offset;
        for chunk in body.chunks(cols) {
            let mut line = format!("{at:08x}: ");
            let mut hex_len = 0;
            for (i, &b) in chunk.iter().enumerate() {
                let cell = if o.bits { format!("{b:08b}") } else { hexd(b) };
                hex_len += cell.len();
                line.push_str(&cell);
                if (i + 1) % group == 0 || i + 1 == chunk.len() {
                    line.push(' ');
                    hex_len += 1;
                }
            }
            line.push_str(&" ".repeat(area - hex_len + 1));
            for &b in chunk {
                line.push(if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                });
            }
            line.push('\n');
            if !sink.put(ctx, line.as_bytes())? {
                break;
            }
            at += chunk.len() as u64;
        }
    }
    sink.flush(ctx)?;
    Ok(0)
}

/// `-i`: a C array; with a file its declaration and length around it, named as xxd names it.
fn include(
    ctx: &mut Ctx<'_, '_>,
    sink: &mut Sink,
    body: &[u8],
    file: Option<&str>,
    cols: usize,
    upper: bool,
) -> R<()> {
    let cols = if cols == 0 { 12 } else { cols };
    let ident = file.filter(|f| *f != "-").map(|f| {
        let mut s: String = f
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            s.insert(0, '_');
        }
        s
    });
    if let Some(id) = &ident {
        sink.put(ctx, format!("unsigned char {id}[] = {{\n").as_bytes())?;
    }
    let n = body.len();
    for (k, chunk) in body.chunks(cols).enumerate() {
        let mut line = String::from("  ");
        for (i, &b) in chunk.iter().enumerate() {
            if upper {
                line.push_str(&format!("0X{b:02X}"));
            } else {
                line.push_str(&format!("0x{b:02x}"));
            }
            let last = k * cols + i + 1 == n;
            if !last {
                line.push(',');
                if i + 1 < chunk.len() {
                    line.push(' ');
                }
            }
        }
        line.push('\n');
        if !sink.put(ctx, line.as_bytes())? {
            return Ok(());
        }
    }
    if let Some(id) = &ident {
        sink.put(
            ctx,
            format!("}};\nunsigned int {id}_len = {n};\n").as_bytes(),
        )?;
    }
    Ok(())
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `-r`: hex back to bytes. Plain: every pair of hex digits, whatever is between them. Dump
/// form: each line's `offset:` then its hex columns up to the two spaces before the text; a
/// gap between offsets is written as zeros (there is nothing to seek on a pipe).
fn revert(ctx: &mut Ctx<'_, '_>, sink: &mut Sink, data: &[u8], plain: bool) -> R<()> {
    if plain {
        let mut hi: Option<u8> = None;
        let mut out = Vec::new();
        for &b in data {
            let Some(v) = hex_val(b) else { continue };
            match hi.take() {
                Some(h) => out.push(h << 4 | v),
                None => hi = Some(v),
            }
            if out.len() >= 4096 {
                sink.put(ctx, &out)?;
                out.clear();
            }
        }
        sink.put(ctx, &out)?;
        return Ok(());
    }
    let mut written: u64 = 0;
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let addr = std::str::from_utf8(&line[..colon])
            .ok()
            .and_then(|s| u64::from_str_radix(s.trim(), 16).ok());
        let Some(addr) = addr else { continue };
        if addr > written {
            let gap = addr - written;
            if gap > ctx.sh.limits.max_output_bytes as u64 {
                ctx.warn("xxd", "offset gap larger than the output limit");
                return Ok(());
            }
            sink.put(ctx, &vec![0u8; gap as usize])?;
            written = addr;
        }
        let mut out = Vec::new();
        let rest = &line[colon + 1..];
        let mut i = 0;
        let mut spaces = 0;
        let mut hi: Option<u8> = None;
        while i < rest.len() {
            let b = rest[i];
            i += 1;
            if b == b' ' {
                spaces += 1;
                if spaces >= 2 && hi.is_none() && !out.is_empty() {
                    break;
                }
                continue;
            }
            spaces = 0;
            let Some(v) = hex_val(b) else { break };
            match hi.take() {
                Some(h) => out.push(h << 4 | v),
                None => hi = Some(v),
            }
        }
        written += out.len() as u64;
        if !sink.put(ctx, &out)? {
            break;
        }
    }
    Ok(())
}
