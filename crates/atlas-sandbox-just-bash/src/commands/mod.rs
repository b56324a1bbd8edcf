//! The built-in commands, each over the virtual filesystem. None of them runs a program.

use std::sync::Arc;

use crate::interp::{Input, Io, R, Shell};
use crate::vfs::{self, FsError};
use printf_int::{IntArg, parse_printf_int};

mod awk;
mod base64;
mod bc;
mod chmod;
mod cksum;
mod cmp;
mod column;
mod comm;
mod date;
mod date_fmt;
mod date_parse;
mod diff;
mod diff_seq;
mod du;
mod expand;
mod expr;
mod files;
mod fmt;
mod fold;
mod grep;
mod id;
mod join;
pub(crate) use grep::posix_to_regex;
mod hashsum;
mod hexdump;
mod jq;
mod jq_bound;
mod long_double;
mod longest;
mod ls;
mod matcher;
mod mktemp;
mod od;
mod opts;
mod paste;
mod paths;
mod printenv;
mod printf_int;
mod rand;
mod sed;
mod sed_script;
mod shuf;
mod sink;
mod sort;
mod split;
mod strings;
mod text;
mod timeout;
mod touch;
mod tree;
mod uname;
mod walk;
mod which;
mod xargs;
mod xxd;
mod yes;

/// What a command sees: the shell (filesystem, cwd, env, limits), stdin and its two streams.
pub struct Ctx<'s, 'a> {
    /// The shell.
    pub sh: &'s mut Shell<'a>,
    /// Standard input.
    pub stdin: &'s mut Input,
    /// Standard output and error.
    pub io: &'s mut Io,
}

/// A named operand and its bytes.
pub type Operand = (String, Arc<Vec<u8>>);

/// Flags (with their values) and operands.
pub(crate) type Parsed = (Vec<(char, Option<String>)>, Vec<String>);

/// A command: arguments (without the name) → exit status.
pub type CommandFn = fn(&mut Ctx<'_, '_>, &[String]) -> R<i32>;

/// The command registry.
pub fn lookup(name: &str) -> Option<CommandFn> {
    Some(match name {
        "cat" => text::cat,
        "head" => text::head,
        "tail" => text::tail,
        "wc" => text::wc,
        "sort" => sort::sort,
        "split" => split::split,
        "uniq" => text::uniq,
        "cut" => text::cut,
        "tr" => text::tr,
        "tee" => text::tee,
        "tac" => text::tac,
        "expand" => expand::expand,
        "rev" => text::rev,
        "nl" => text::nl,
        "seq" => text::seq,
        "grep" => grep::grep,
        "sed" => sed::sed,
        "jq" => jq::jq,
        "diff" => diff::diff,
        "yq" => jq::yq,
        "awk" | "gawk" | "mawk" => awk::awk,
        "file" => files::file,
        "egrep" => grep::egrep,
        "fgrep" => grep::fgrep,
        "find" => walk::find,
        "ls" => ls::ls,
        "tree" => tree::tree,
        "basename" => files::basename,
        "dirname" => files::dirname,
        "mkdir" => files::mkdir,
        "touch" => files::touch,
        "rm" => files::rm,
        "rmdir" => files::rmdir,
        "cp" => files::cp,
        "mv" => files::mv,
        "stat" => files::stat,
        "env" => files::env,
        "printenv" => printenv::printenv,
        "xargs" => xargs::xargs,
        "realpath" => paths::realpath,
        "readlink" => paths::readlink,
        "id" => id::id,
        "whoami" => |c, _| {
            c.io.out(b"user\n");
            Ok(0)
        },
        "hostname" => |c, _| {
            c.io.out(b"sandbox\n");
            Ok(0)
        },
        "sleep" => files::sleep,
        "timeout" => timeout::timeout,
        "echo" => |c, a| {
            let utf8 = utf8_locale(c);
            echo(a, c.io, utf8);
            Ok(0)
        },
        "printf" => printf_cmd,
        "md5sum" => hashsum::md5sum,
        "sha1sum" => hashsum::sha1sum,
        "sha224sum" => hashsum::sha224sum,
        "sha256sum" => hashsum::sha256sum,
        "sha384sum" => hashsum::sha384sum,
        "sha512sum" => hashsum::sha512sum,
        "base64" => base64::base64,
        "paste" => paste::paste,
        "comm" => comm::comm,
        "column" => column::column,
        "expr" => expr::expr,
        "od" => od::od,
        "xxd" => xxd::xxd,
        "du" => du::du,
        "bc" => bc::bc,
        "which" => which::which,
        "cmp" => cmp::cmp,
        "chmod" => chmod::chmod,
        "fold" => fold::fold,
        "date" => date::date,
        // The overlay holds no links; refused rather than copied, so nothing later is wrong.
        "ln" => |c, _| Ok(opts::unsupported(c, "ln", "creating links")),
        "strings" => strings::strings,
        "cksum" => cksum::cksum,
        "fmt" => fmt::fmt,
        "hexdump" => hexdump::hexdump,
        "join" => join::join,
        "mktemp" => mktemp::mktemp,
        "shuf" => shuf::shuf,
        "uname" => uname::uname,
        "yes" => yes::yes,
        _ => return None,
    })
}

impl Ctx<'_, '_> {
    /// Resolves a path argument against the cwd.
    pub fn path(&self, p: &str) -> String {
        vfs::resolve(&self.sh.cwd, p)
    }

    /// Prints `cmd: msg` on stderr.
    pub fn warn(&mut self, cmd: &str, msg: impl AsRef<str>) {
        self.io.errln(&format!("{cmd}: {}", msg.as_ref()));
    }

    /// Reads a file operand (`-` is stdin).
    pub fn read_operand(&mut self, name: &str) -> Result<Arc<Vec<u8>>, FsError> {
        if name == "-" {
            return Ok(Arc::new(self.stdin.take_all().to_vec()));
        }
        let p = self.path(name);
        self.sh.fs.read(&p)
    }

    /// Reads every operand (or stdin when there is none), reporting failures GNU-style.
    pub fn read_all(&mut self, cmd: &str, files: &[String]) -> (Vec<Operand>, bool) {
        let mut out = Vec::new();
        let mut failed = false;
        if files.is_empty() {
            out.push(("-".to_owned(), Arc::new(self.stdin.take_all().to_vec())));
            return (out, false);
        }
        for f in files {
            match self.read_operand(f) {
                Ok(d) => out.push((f.clone(), d)),
                Err(e) => {
                    self.warn(cmd, format!("{f}: {e}"));
                    failed = true;
                }
            }
        }
        (out, failed)
    }
}

/// The file operands, or standard input (`-`) when there are none.
pub(crate) fn or_stdin(files: Vec<String>) -> Vec<String> {
    if files.is_empty() {
        vec!["-".to_owned()]
    } else {
        files
    }
}

/// bash's builtin `echo`.
pub(crate) fn echo(args: &[String], io: &mut Io, utf8: bool) {
    let mut newline = true;
    let mut escapes = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| matches!(c, 'n' | 'e' | 'E'))
        {
            for c in a[1..].chars() {
                match c {
                    'n' => newline = false,
                    'e' => escapes = true,
                    _ => escapes = false,
                }
            }
            i += 1;
        } else {
            break;
        }
    }
    let mut out = Vec::new();
    for (k, a) in args[i..].iter().enumerate() {
        if k > 0 {
            out.push(b' ');
        }
        if escapes {
            let (bytes, stop) = unescape_echo(a, utf8);
            out.extend_from_slice(&bytes);
            if stop {
                io.out(&out);
                return;
            }
        } else {
            out.extend_from_slice(a.as_bytes());
        }
    }
    if newline {
        out.push(b'\n');
    }
    io.out(&out);
}

/// `echo -e`/`printf %b` escapes; the flag is `\c` (stop output).
fn unescape_echo(s: &str, utf8: bool) -> (Vec<u8>, bool) {
    unescape_with(s, |c, b, i| match c {
        b'c' => Escape::Stop,
        b'u' | b'U' => unicode_escape(c, b, i, utf8),
        b'0' => Escape::Byte(take_digits(b, i, 8, 3, 0).0 as u8),
        b'x' => match take_digits(b, i, 16, 2, 0) {
            (_, 0) => Escape::Literal,
            (v, _) => Escape::Byte(v as u8),
        },
        _ => Escape::Literal,
    })
}

/// printf's `%b`: echo's escapes, and octal also without the leading 0 (`\101` is A).
fn unescape_printf_b(s: &str, utf8: bool) -> (Vec<u8>, bool) {
    unescape_with(s, |c, b, i| match c {
        b'c' => Escape::Stop,
        b'u' | b'U' => unicode_escape(c, b, i, utf8),
        b'0' => Escape::Byte(take_digits(b, i, 8, 3, 0).0 as u8),
        b'1'..=b'7' => Escape::Byte(take_digits(b, i, 8, 2, u32::from(c - b'0')).0 as u8),
        b'x' => match take_digits(b, i, 16, 2, 0) {
            (_, 0) => Escape::Literal,
            (v, _) => Escape::Byte(v as u8),
        },
        _ => Escape::Literal,
    })
}

/// `$'...'` quoting.
pub(crate) fn unescape_ansi(s: &str) -> String {
    String::from_utf8_lossy(&unescape_ansi_bytes(s)).into_owned()
}

/// bash's `$'...'` quoting: [`unescape_ansi_bytes`] plus `\uXXXX`/`\UXXXXXXXX` and `\cX`.
pub(crate) fn unescape_dollar_quote(s: &str, utf8: bool) -> String {
    let bytes = unescape_with(s, |c, b, i| match c {
        b'\'' | b'"' => Escape::Byte(c),
        b'0'..=b'7' => Escape::Byte(take_digits(b, i, 8, 2, u32::from(c - b'0')).0 as u8),
        b'x' => Escape::Byte(take_digits(b, i, 16, 2, 0).0 as u8),
        b'u' | b'U' => unicode_escape(c, b, i, utf8),
        // `\cX` is the control character of X (`\c?` is DEL), as bash reads it.
        b'c' => match b.get(*i) {
            Some(&x) => {
                *i += 1;
                Escape::Byte(if x == b'?' {
                    127
                } else {
                    x.to_ascii_uppercase() & 0x1f
                })
            }
            None => Escape::Literal,
        },
        _ => Escape::Literal,
    })
    .0;
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `\uXXXX` (up to 4 hex digits) or `\UXXXXXXXX` (up to 8) as bash expands it: an ASCII code
/// point is its character in any locale; another is its UTF-8 bytes in a UTF-8 locale, and in
/// the C locale the escape again, with upper-case digits padded to 4 or 8 (`\u00E9`).
fn unicode_escape(kind: u8, b: &[u8], i: &mut usize, utf8: bool) -> Escape {
    let max = if kind == b'u' { 4 } else { 8 };
    match take_digits_u64(b, i, max) {
        (_, 0) => Escape::Literal,
        (v, _) => Escape::Bytes(unicode_bytes(kind, v, utf8)),
    }
}

/// The bytes of code point `v` for [`unicode_escape`] and `printf`.
pub(crate) fn unicode_bytes(kind: u8, v: u64, utf8: bool) -> Vec<u8> {
    if v < 0x80 {
        return vec![v as u8];
    }
    if utf8 && let Some(c) = u32::try_from(v).ok().and_then(char::from_u32) {
        return c.to_string().into_bytes();
    }
    let width = if kind == b'u' { 4 } else { 8 };
    format!("\\{}{v:0width$X}", kind as char).into_bytes()
}

/// Up to `max` hex digits from `b[*i..]` (eight of them overflow a `u32`).
fn take_digits_u64(b: &[u8], i: &mut usize, max: usize) -> (u64, usize) {
    let mut v = 0u64;
    let mut n = 0;
    while n < max
        && let Some(d) = b.get(*i).and_then(|&c| char::from(c).to_digit(16))
    {
        v = v * 16 + u64::from(d);
        *i += 1;
        n += 1;
    }
    (v, n)
}

/// `$'...'` escapes, as bytes (`\377` stays one byte).
pub(crate) fn unescape_ansi_bytes(s: &str) -> Vec<u8> {
    unescape_with(s, |c, b, i| match c {
        b'\'' | b'"' => Escape::Byte(c),
        b'0'..=b'7' => Escape::Byte(take_digits(b, i, 8, 2, u32::from(c - b'0')).0 as u8),
        b'x' => Escape::Byte(take_digits(b, i, 16, 2, 0).0 as u8),
        _ => Escape::Literal,
    })
    .0
}

/// What a backslash escape outside the shared table stands for in one dialect.
enum Escape {
    Byte(u8),
    /// A character of several bytes (`\u00e9` in a UTF-8 locale).
    Bytes(Vec<u8>),
    /// `\c`: no more output.
    Stop,
    /// Not an escape here: the backslash and the character stay.
    Literal,
}

/// Decodes backslash escapes: the table every dialect shares, then `dialect`, which is given the
/// escape letter and the position after it (to take any digits that follow). Returns the bytes
/// and whether a `\c` stopped them.
fn unescape_with(s: &str, dialect: impl Fn(u8, &[u8], &mut usize) -> Escape) -> (Vec<u8>, bool) {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        let escape = match control_escape(c) {
            Some(byte) => Escape::Byte(byte),
            None => dialect(c, b, &mut i),
        };
        match escape {
            Escape::Byte(byte) => out.push(byte),
            Escape::Bytes(bytes) => out.extend_from_slice(&bytes),
            Escape::Stop => return (out, true),
            Escape::Literal => out.extend_from_slice(&[b'\\', c]),
        }
    }
    (out, false)
}

/// The one-letter escapes that `echo -e`, `printf` and `$'...'` agree on.
fn control_escape(c: u8) -> Option<u8> {
    Some(match c {
        b'n' => b'\n',
        b't' => b'\t',
        b'r' => b'\r',
        b'a' => 7,
        b'b' => 8,
        b'f' => 12,
        b'v' => 11,
        b'e' | b'E' => 27,
        b'\\' => b'\\',
        _ => return None,
    })
}

/// Reads up to `max` digits in `radix` from `b[*i..]` onto `value`; returns it and how many
/// digits it took.
fn take_digits(b: &[u8], i: &mut usize, radix: u32, max: usize, mut value: u32) -> (u32, usize) {
    let mut n = 0;
    while n < max
        && let Some(d) = b.get(*i).and_then(|&c| char::from(c).to_digit(radix))
    {
        value = value * radix + d;
        *i += 1;
        n += 1;
    }
    (value, n)
}

/// `printf FORMAT [ARGS...]` (bash builtin semantics: the format is reused for extra args).
pub(crate) fn printf_cmd(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut args = args;
    let mut var: Option<String> = None;
    if args.first().map(String::as_str) == Some("-v") {
        var = args.get(1).cloned();
        args = args.get(2..).unwrap_or(&[]);
    }
    if args.first().map(String::as_str) == Some("--") {
        args = &args[1..];
    }
    let Some(fmt) = args.first() else {
        ctx.io
            .errln("printf: usage: printf [-v var] format [arguments]");
        return Ok(2);
    };
    let rest = &args[1..];
    let mut out = Vec::new();
    let mut st = 0;
    let mut idx = 0;
    loop {
        let (consumed, stop) = format_once(fmt, rest, &mut idx, &mut out, &mut st, ctx);
        if stop || !consumed || idx >= rest.len() {
            break;
        }
        // Past both caps the rest cannot be kept anyway (stdout and `-v` enforce their own
        // limit and notice on what is passed on): stop before 10 000 wide fields fill memory.
        if out.len()
            > ctx
                .sh
                .limits
                .max_output_bytes
                .max(ctx.sh.limits.max_string_length)
        {
            break;
        }
        ctx.sh.tick()?;
    }
    match var {
        Some(v) => ctx
            .sh
            .set_var(&v, String::from_utf8_lossy(&out).into_owned())?,
        None => ctx.io.out(&out),
    }
    Ok(st)
}

fn format_once(
    fmt: &str,
    args: &[String],
    idx: &mut usize,
    out: &mut Vec<u8>,
    st: &mut i32,
    ctx: &mut Ctx<'_, '_>,
) -> (bool, bool) {
    let b = fmt.as_bytes();
    let mut i = 0;
    let mut consumed = false;
    let next_arg = |idx: &mut usize, consumed: &mut bool| -> Option<String> {
        *consumed = true;
        let a = args.get(*idx).cloned();
        *idx += 1;
        a
    };
    while i < b.len() {
        match b[i] {
            b'\\' => {
                // A backslash before a multi-byte character takes the whole character, so the
                // slice below ends on a char boundary.
                let mut end = (i + 2).min(b.len());
                while !fmt.is_char_boundary(end) {
                    end += 1;
                }
                // Octal and hex escapes may be longer.
                let mut j = end;
                if i + 1 < b.len() && (b[i + 1] == b'x' || b[i + 1].is_ascii_digit()) {
                    let max = if b[i + 1] == b'x' { i + 4 } else { i + 5 };
                    while j < b.len().min(max) && b[j].is_ascii_hexdigit() {
                        j += 1;
                    }
                }
                if i + 1 < b.len() && matches!(b[i + 1], b'u' | b'U') {
                    // `\uXXXX`: see `unicode_bytes`.
                    let max = if b[i + 1] == b'u' { 4 } else { 8 };
                    let mut k = i + 2;
                    while k < b.len() && k < i + 2 + max && b[k].is_ascii_hexdigit() {
                        k += 1;
                    }
                    if k > i + 2 {
                        let v = u64::from_str_radix(&fmt[i + 2..k], 16).unwrap_or(0);
                        out.extend_from_slice(&unicode_bytes(b[i + 1], v, utf8_locale(ctx)));
                        i = k;
                        continue;
                    }
                }
                let esc = &fmt[i..j];
                let (bytes, stop) = if esc.starts_with("\\0")
                    || esc.as_bytes().get(1).is_some_and(|c| c.is_ascii_digit())
                {
                    (unescape_ansi_bytes(esc), false)
                } else {
                    unescape_echo(esc, false)
                };
                out.extend_from_slice(&bytes);
                if stop {
                    return (consumed, true);
                }
                i = j;
            }
            b'%' => {
                if b.get(i + 1) == Some(&b'%') {
                    out.push(b'%');
                    i += 2;
                    continue;
                }
                let start = i;
                i += 1;
                let mut flags = String::new();
                while i < b.len() && matches!(b[i], b'-' | b'+' | b' ' | b'#' | b'0') {
                    flags.push(b[i] as char);
                    i += 1;
                }
                let width = field_text(b, &mut i, || next_arg(idx, &mut consumed));
                if b.get(i) == Some(&b'(') {
                    // `%(fmt)T`: a time (seconds since the epoch; -1 now) through strftime.
                    let Some(close) = fmt[i..].find(")T").map(|k| i + k) else {
                        ctx.io.errln("bash: printf: `(': invalid format character");
                        *st = 1;
                        return (consumed, true);
                    };
                    let tfmt = &fmt[i + 1..close];
                    i = close + 2;
                    let a = next_arg(idx, &mut consumed).unwrap_or_else(|| "-1".to_owned());
                    let secs = match a.trim().parse::<i64>() {
                        Ok(-1) | Ok(-2) => jiff::Timestamp::now().as_second(),
                        Ok(v) => v,
                        Err(_) => {
                            ctx.io.errln(&format!("bash: printf: {a}: invalid number"));
                            *st = 1;
                            0
                        }
                    };
                    let text = jiff::Timestamp::from_second(secs)
                        .ok()
                        .and_then(|t| {
                            let z = t.to_zoned(jiff::tz::TimeZone::UTC);
                            let mut buf = String::new();
                            jiff::fmt::strtime::BrokenDownTime::from(&z)
                                .format(tfmt, &mut buf)
                                .ok()
                                .map(|_| buf)
                        })
                        .unwrap_or_default();
                    let w = printf_field(width.trim_start_matches('-')).min(PRINTF_MAX_FIELD);
                    let pad = " ".repeat(w.saturating_sub(text.chars().count()));
                    if flags.contains('-') {
                        out.extend_from_slice(format!("{text}{pad}").as_bytes());
                    } else {
                        out.extend_from_slice(format!("{pad}{text}").as_bytes());
                    }
                    continue;
                }
                let mut prec: Option<String> = None;
                if i < b.len() && b[i] == b'.' {
                    i += 1;
                    prec = Some(field_text(b, &mut i, || next_arg(idx, &mut consumed)));
                }
                while i < b.len() && matches!(b[i], b'l' | b'h' | b'L' | b'j' | b'z' | b't') {
                    i += 1;
                }
                let Some(&conv) = b.get(i) else {
                    out.extend_from_slice(&b[start..]);
                    break;
                };
                i += 1;
                let width = printf_field(width.trim_start_matches('-'));
                // A negative `*` precision means "no precision", as in C.
                let prec_n = prec
                    .as_deref()
                    .filter(|p| !p.trim().starts_with('-'))
                    .map(printf_field);
                if width > PRINTF_MAX_FIELD || prec_n.is_some_and(|p| p > PRINTF_MAX_FIELD) {
                    // Real bash would try to allocate it; one huge field must not exhaust memory.
                    ctx.io.errln(&format!(
                        "bash: printf: field width or precision too large (max {PRINTF_MAX_FIELD})"
                    ));
                    *st = 1;
                    return (consumed, true);
                }
                let left = flags.contains('-');
                let zero = flags.contains('0') && !left;
                let arg = next_arg(idx, &mut consumed);
                let text: String = match conv {
                    b's' => {
                        let mut s = arg.unwrap_or_default();
                        if let Some(n) = prec_n {
                            if utf8_locale(ctx) {
                                s = s.chars().take(n).collect();
                            } else if let Some(t) = s.get(..n.min(s.len())) {
                                // The C locale counts bytes.
                                s = t.to_owned();
                            } else {
                                ctx.io.errln(
                                    "bash: printf: cutting a multibyte character into bytes (C locale) is not supported in this sandbox",
                                );
                                *st = 2;
                                return (consumed, true);
                            }
                        }
                        s
                    }
                    b'b' => {
                        let (bytes, stop) =
                            unescape_printf_b(&arg.unwrap_or_default(), utf8_locale(ctx));
                        match String::from_utf8(bytes) {
                            Ok(s) if !stop => s,
                            Ok(s) => {
                                out.extend_from_slice(s.as_bytes());
                                return (consumed, true);
                            }
                            Err(e) => {
                                // Bytes no character holds (`\377`) go out as they are, padded
                                // by bytes.
                                let raw = e.into_bytes();
                                let pad = vec![b' '; width.saturating_sub(raw.len())];
                                if flags.contains('-') {
                                    out.extend_from_slice(&raw);
                                    out.extend_from_slice(&pad);
                                } else {
                                    out.extend_from_slice(&pad);
                                    out.extend_from_slice(&raw);
                                }
                                if stop {
                                    return (consumed, true);
                                }
                                continue;
                            }
                        }
                    }
                    b'q' => printf_q(&arg.unwrap_or_default(), utf8_locale(ctx)),
                    // An empty (or missing) argument is a NUL byte, as C's `%c` of '\0'.
                    b'c' => arg
                        .and_then(|a| a.chars().next())
                        .unwrap_or('\0')
                        .to_string(),
                    b'd' | b'i' | b'u' | b'x' | b'X' | b'o' => {
                        let a = arg.unwrap_or_default();
                        let unsigned = matches!(conv, b'x' | b'X' | b'o' | b'u');
                        let (n, u, bad) = parse_printf_int(&a, unsigned);
                        match bad {
                            IntArg::Ok => {}
                            IntArg::OutOfRange => ctx.io.errln(&format!(
                                "bash: printf: warning: {a}: Numerical result out of range"
                            )),
                            IntArg::Invalid(kind) => {
                                ctx.io
                                    .errln(&format!("bash: printf: {a}: invalid {kind}number"));
                                *st = 1;
                            }
                        }
                        let mut s = match conv {
                            // Unsigned conversions see the 64-bit pattern (`%u -1` is 2^64-1),
                            // take the precision as a minimum digit count and `#`'s prefix.
                            b'x' | b'X' | b'o' | b'u' => {
                                let mut d = match conv {
                                    b'x' => format!("{u:x}"),
                                    b'X' => format!("{u:X}"),
                                    b'o' => format!("{u:o}"),
                                    _ => u.to_string(),
                                };
                                if let Some(p) = prec_n
                                    && d.len() < p
                                {
                                    d = format!("{}{d}", "0".repeat(p - d.len()));
                                }
                                if flags.contains('#') {
                                    match conv {
                                        b'x' if u != 0 => d.insert_str(0, "0x"),
                                        b'X' if u != 0 => d.insert_str(0, "0X"),
                                        b'o' if !d.starts_with('0') => d.insert(0, '0'),
                                        _ => {}
                                    }
                                }
                                d
                            }
                            _ => c_decimal(n, prec_n, sign_flag(&flags)),
                        };
                        // C ignores `0` for an integer given a precision.
                        if zero && prec_n.is_none() {
                            s = zero_fill(&s, width);
                        }
                        s
                    }
                    b'f' | b'F' | b'e' | b'E' | b'g' | b'G' => {
                        let a = arg.unwrap_or_default();
                        let body = a.trim().trim_start_matches(['+', '-']);
                        if body.starts_with("0x") || body.starts_with("0X") {
                            // strtold reads hexadecimal (0x1p3 is 8); Rust's parser does not.
                            ctx.io.errln(&format!(
                                "bash: printf: {a}: hexadecimal floating-point numbers are not supported in this sandbox"
                            ));
                            *st = 2;
                            return (consumed, true);
                        }
                        let num = float_prefix(a.trim());
                        if num.len() < a.trim().len() {
                            // strtold stops at the first byte that is no part of a number: bash
                            // complains but prints the number read up to there (`1,5` is 1).
                            ctx.io.errln(&format!("bash: printf: {a}: invalid number"));
                            *st = 1;
                        }
                        let v: f64 = num.parse().unwrap_or(0.0);
                        let p = prec_n.unwrap_or(6);
                        let exact = long_double::parse(num);
                        let mut s = match (&exact, conv) {
                            (None, _) if !v.is_finite() => {
                                let word = if v.is_nan() {
                                    "nan"
                                } else if v > 0.0 {
                                    "inf"
                                } else {
                                    "-inf"
                                };
                                if conv.is_ascii_uppercase() {
                                    word.to_uppercase()
                                } else {
                                    word.to_owned()
                                }
                            }
                            // bash rounds the long double it read (see `long_double`).
                            (Some(ld), b'e' | b'E') => ld.exponent(p, conv == b'E'),
                            (Some(ld), b'g' | b'G') => {
                                ld.general(p, conv == b'G', flags.contains('#'))
                            }
                            (Some(ld), _) => ld.fixed(p),
                            (None, b'e' | b'E') => c_exponent(v, p, conv == b'E'),
                            // C's %g: P significant digits, exponent form past them (1e+10).
                            (None, b'g') => awk::fmt_g(v, p),
                            (None, b'G') => awk::fmt_g(v, p).to_uppercase(),
                            (None, _) => format!("{v:.p$}"),
                        };
                        let negative = exact.as_ref().map_or(v < 0.0, |ld| ld.negative());
                        if flags.contains('+') && !negative {
                            s.insert(0, '+');
                        } else if flags.contains(' ') && !negative {
                            s.insert(0, ' ');
                        }
                        if zero && v.is_finite() {
                            s = zero_fill(&s, width);
                        }
                        s
                    }
                    b'a' | b'A' => {
                        ctx.io.errln("bash: printf: %a (hexadecimal floating point) is not supported in this sandbox");
                        *st = 2;
                        return (consumed, true);
                    }
                    other => {
                        ctx.io.errln(&format!(
                            "bash: printf: `{}': invalid format character",
                            other as char
                        ));
                        *st = 1;
                        return (consumed, true);
                    }
                };
                // Widths count characters in a UTF-8 locale, bytes in C.
                let len = if utf8_locale(ctx) {
                    text.chars().count()
                } else {
                    text.len()
                };
                if len < width {
                    let pad = " ".repeat(width - len);
                    if left {
                        out.extend_from_slice(text.as_bytes());
                        out.extend_from_slice(pad.as_bytes());
                    } else {
                        out.extend_from_slice(pad.as_bytes());
                        out.extend_from_slice(text.as_bytes());
                    }
                } else {
                    out.extend_from_slice(text.as_bytes());
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    (consumed, false)
}

/// The longest start of `t` that reads as a number (all of it when it is one).
fn float_prefix(t: &str) -> &str {
    if t.len() > 64 || t.parse::<f64>().is_ok() {
        return t;
    }
    let mut end = t.len();
    while end > 0 {
        end = t.floor_char_boundary(end - 1);
        if t[..end].parse::<f64>().is_ok() {
            break;
        }
    }
    &t[..end]
}

/// The `0` flag: zeros up to `width` after the sign (`-`, `+` or ` `) and a `0x` prefix.
fn zero_fill(s: &str, width: usize) -> String {
    if s.len() >= width {
        return s.to_owned();
    }
    let mut head = usize::from(s.starts_with(['-', '+', ' ']));
    if s[head..].starts_with("0x") || s[head..].starts_with("0X") {
        head += 2;
    }
    format!(
        "{}{}{}",
        &s[..head],
        "0".repeat(width - s.len()),
        &s[head..]
    )
}

/// Whether the shell's locale is UTF-8 (`LC_ALL`, then `LC_CTYPE`, then `LANG`).
fn utf8_locale(ctx: &Ctx<'_, '_>) -> bool {
    ctx.sh.utf8_locale()
}

/// C's `%d` (shared by `printf` and awk): the digits zero-filled to `prec`, then `-`, or
/// `positive_sign` (`+` or ` `) before a number that is not negative.
/// The sign C's printf puts before a non-negative signed conversion: `+` wins over ` `.
pub(crate) fn sign_flag(flags: &str) -> Option<char> {
    if flags.contains('+') {
        Some('+')
    } else if flags.contains(' ') {
        Some(' ')
    } else {
        None
    }
}

pub(crate) fn c_decimal(n: i64, prec: Option<usize>, positive_sign: Option<char>) -> String {
    // `unsigned_abs`: `i64::MIN.abs()` overflows.
    let mut s = n.unsigned_abs().to_string();
    if prec == Some(0) && n == 0 {
        // C prints no digit for a zero at precision 0.
        s.clear();
    } else if let Some(p) = prec
        && s.len() < p
    {
        s = format!("{}{s}", "0".repeat(p - s.len()));
    }
    if n < 0 {
        s.insert(0, '-');
    } else if let Some(sign) = positive_sign {
        s.insert(0, sign);
    }
    s
}

/// C's `%e`/`%E` (shared by `printf` and awk).
pub(crate) fn c_exponent(v: f64, prec: usize, upper: bool) -> String {
    let s = format!("{v:.prec$e}");
    // Rust prints `1.5e2`; C prints `1.5e+02`.
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let s = format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    if upper { s.to_uppercase() } else { s }
}

/// Widest field or precision `printf` formats (Rust's formatter rejects precisions above
/// `u16::MAX`, and a huge width would be allocated in full).
const PRINTF_MAX_FIELD: usize = 10_000;

/// A printf width or precision as written at `b[*i..]`: `*` takes the next argument (`star`),
/// anything else the digits there.
fn field_text(b: &[u8], i: &mut usize, star: impl FnOnce() -> Option<String>) -> String {
    if b.get(*i) == Some(&b'*') {
        *i += 1;
        return star().unwrap_or_default();
    }
    let start = *i;
    while *i < b.len() && b[*i].is_ascii_digit() {
        *i += 1;
    }
    b[start..*i].iter().map(|&c| char::from(c)).collect()
}

/// A printf width or precision: digits that overflow count as "too large", anything else as 0.
fn printf_field(s: &str) -> usize {
    let s = s.trim();
    match s.parse::<usize>() {
        Ok(n) => n,
        Err(_) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => usize::MAX,
        Err(_) => 0,
    }
}

/// bash's `$'...'` form (printf `%q`, `${v@Q}`) for a value with a control character, or in the
/// C locale a non-ASCII one; `None` when plain quoting will do.
pub(crate) fn ansi_c_quote(s: &str, utf8: bool) -> Option<String> {
    if !s
        .chars()
        .any(|c| c.is_ascii_control() || (!utf8 && !c.is_ascii()))
    {
        return None;
    }
    // bash switches to $'...' when a control character is in it.
    let mut out = String::from("$'");
    for c in s.chars() {
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x1b' => out.push_str("\\E"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if c.is_ascii_control() => out.push_str(&format!("\\{:03o}", c as u32)),
            c if !utf8 && !c.is_ascii() => {
                for b in c.encode_utf8(&mut [0; 4]).bytes() {
                    out.push_str(&format!("\\{b:03o}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    Some(out)
}

/// bash's `printf %q`: backslash-escapes what the shell would otherwise interpret.
/// `%q`; `utf8`: the locale prints non-ASCII characters as they are (C: as octal bytes).
fn printf_q(s: &str, utf8: bool) -> String {
    if s.is_empty() {
        return "''".to_owned();
    }
    if let Some(q) = ansi_c_quote(s, utf8) {
        return q;
    }
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in s.chars().enumerate() {
        // `#` and `~` are special only where a word starts.
        let plain = c.is_ascii_alphanumeric()
            || matches!(c, '_' | '-' | '.' | '/' | ',' | ':' | '@' | '%' | '+' | '=')
            || (i > 0 && matches!(c, '#' | '~'));
        if !plain && c.is_ascii() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
