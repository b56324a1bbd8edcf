//! `cmp` (GNU diffutils 3.8): the first differing byte and its line, `-l` every difference,
//! `-b` the bytes shown, `-s` silent, `-n` limit, `-i` skips; exit 0 same, 1 different, 2 trouble.

use super::Ctx;
use super::opts::{self, Arg, Spec};
use super::sink::Sink;
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "cmp",
    "lbsn:i:",
    &[
        ("verbose", 'l', Arg::No),
        ("print-bytes", 'b', Arg::No),
        ("quiet", 's', Arg::No),
        ("silent", 's', Arg::No),
        ("bytes", 'n', Arg::Required),
        ("ignore-initial", 'i', Arg::Required),
    ],
)
.gnu(
    "bi:ln:s",
    &[
        "print-bytes",
        "ignore-initial",
        "verbose",
        "bytes",
        "quiet",
        "silent",
        "help",
        "version",
    ],
)
.status(2);

struct Opts {
    list: bool,
    print_bytes: bool,
    silent: bool,
    limit: Option<usize>,
    skip: (usize, usize),
    files: Vec<String>,
}

fn count(v: &str) -> Option<usize> {
    let (num, mult) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (
            &v[..i],
            match &v[i..] {
                "k" | "K" | "KiB" => 1024,
                "kB" | "KB" => 1000,
                "M" | "MiB" => 1 << 20,
                "MB" => 1_000_000,
                "G" | "GiB" => 1 << 30,
                _ => return None,
            },
        ),
        None => (v, 1),
    };
    num.parse::<usize>().ok()?.checked_mul(mult)
}

/// The options, or the value GNU calls invalid.
fn parse(flags: Vec<(char, Option<String>)>, files: Vec<String>) -> Result<Opts, String> {
    let mut o = Opts {
        list: false,
        print_bytes: false,
        silent: false,
        limit: None,
        skip: (0, 0),
        files,
    };
    for (c, v) in flags {
        let v = v.unwrap_or_default();
        match c {
            'l' => o.list = true,
            'b' => o.print_bytes = true,
            's' => o.silent = true,
            'n' => o.limit = Some(count(&v).ok_or(v)?),
            _ => {
                let (a, b) = match v.split_once(':') {
                    Some((a, b)) => (a.to_owned(), b.to_owned()),
                    None => (v.clone(), v.clone()),
                };
                o.skip = (count(&a).ok_or_else(|| v.clone())?, count(&b).ok_or(v)?);
            }
        }
    }
    Ok(o)
}

/// How `cmp -b` shows a byte: its octal value and the character (`^X`, `M-x` for the rest).
fn shown(b: u8) -> String {
    let mut s = String::new();
    let mut c = b;
    if c >= 128 {
        s.push_str("M-");
        c -= 128;
    }
    if c < 32 {
        s.push('^');
        s.push((c + 64) as char);
    } else if c == 127 {
        s.push_str("^?");
    } else {
        s.push(c as char);
    }
    format!("{b:3o} {s:<4}").trim_end().to_owned()
}

pub(super) fn cmp(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let o = match parse(flags, files) {
        Ok(o) => o,
        Err(v) => {
            ctx.warn("cmp", format!("invalid --bytes value '{v}'"));
            return Ok(2);
        }
    };
    if o.list && o.silent {
        ctx.warn("cmp", "options -l and -s are incompatible");
        opts::try_help(ctx, "cmp");
        return Ok(2);
    }
    let names: Vec<String> = match o.files.len() {
        0 => {
            ctx.warn("cmp", "missing operand after 'cmp'");
            opts::try_help(ctx, "cmp");
            return Ok(2);
        }
        1 => vec![o.files[0].clone(), "-".to_owned()],
        2 => o.files.clone(),
        3 | 4 => {
            return Ok(opts::unsupported(ctx, "cmp", "the SKIP1/SKIP2 operands"));
        }
        _ => {
            ctx.warn("cmp", format!("extra operand '{}'", o.files[4]));
            opts::try_help(ctx, "cmp");
            return Ok(2);
        }
    };
    // Pipes (stdin from a pipe, `<(...)`) have no size; see `width` below.
    let regular: Vec<bool> = names
        .iter()
        .map(|n| match n.as_str() {
            "-" | "/dev/stdin" => ctx.stdin.is_seekable(),
            _ => !ctx.path(n).starts_with("/dev/fd/"),
        })
        .collect();
    let mut data = Vec::new();
    for n in &names {
        match ctx.read_operand(n) {
            Ok(d) => data.push(d),
            Err(e) => {
                ctx.warn("cmp", format!("{n}: {e}"));
                return Ok(2);
            }
        }
    }
    let a = &data[0][o.skip.0.min(data[0].len())..];
    let b = &data[1][o.skip.1.min(data[1].len())..];
    let limit = o.limit.unwrap_or(usize::MAX);
    let (a, b) = (&a[..a.len().min(limit)], &b[..b.len().min(limit)]);
    let common = a.len().min(b.len());
    let mut sink = Sink::new();
    let mut differ = false;
    // GNU pads -l's offsets to the digits of the largest one it could print: the smallest size
    // left among the regular files, or -n; with only pipes, the largest file offset (19 digits).
    let skips = [o.skip.0, o.skip.1];
    let largest = (0..2)
        .filter(|&f| regular[f])
        .map(|f| data[f].len().saturating_sub(skips[f]) as u64)
        .chain(o.limit.map(|l| l as u64))
        .fold(i64::MAX as u64, u64::min);
    let width = largest.to_string().len();
    let mut line = 1usize;
    for i in 0..common {
        if i % 65536 == 0 {
            ctx.sh.tick()?;
        }
        if a[i] != b[i] {
            differ = true;
            if o.silent {
                return Ok(1);
            }
            if !o.list {
                let mut msg = format!(
                    "{} {} differ: {} {}, line {line}",
                    names[0],
                    names[1],
                    if o.print_bytes { "byte" } else { "char" },
                    i + 1
                );
                if o.print_bytes {
                    msg.push_str(&format!(" is {} {}", shown(a[i]), shown(b[i])));
                }
                msg.push('\n');
                sink.put(ctx, msg.as_bytes())?;
                sink.flush(ctx)?;
                return Ok(1);
            }
            let row = if o.print_bytes {
                format!("{:>width$} {:<8} {}\n", i + 1, shown(a[i]), shown(b[i]))
            } else {
                format!("{:>width$} {:3o} {:3o}\n", i + 1, a[i], b[i])
            };
            if !sink.put(ctx, row.as_bytes())? {
                break;
            }
        } else if a[i] == b'\n' {
            line += 1;
        }
    }
    sink.flush(ctx)?;
    if a.len() != b.len() {
        let (short, name) = if a.len() < b.len() {
            (a, &names[0])
        } else {
            (b, &names[1])
        };
        if !o.silent {
            if short.is_empty() {
                ctx.warn("cmp", format!("EOF on {name} which is empty"));
            } else if o.list {
                ctx.warn("cmp", format!("EOF on {name} after byte {}", short.len()));
            } else {
                let lines = short.iter().filter(|&&c| c == b'\n').count();
                if short.last() == Some(&b'\n') {
                    ctx.warn(
                        "cmp",
                        format!("EOF on {name} after byte {}, line {lines}", short.len()),
                    );
                } else {
                    ctx.warn(
                        "cmp",
                        format!(
                            "EOF on {name} after byte {}, in line {}",
                            short.len(),
                            lines + 1
                        ),
                    );
                }
            }
        }
        return Ok(1);
    }
    Ok(i32::from(differ))
}
