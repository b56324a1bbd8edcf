//! `base64` (GNU coreutils): encode wrapped at 76 columns or `-w N`, decode with `-d` (`-i` skips
//! garbage). Decoding goes four characters at a time like GNU's, so bytes decoded before an
//! invalid quantum are written before `base64: invalid input`.

use super::Ctx;
use super::opts::{self, Arg, Spec};
use super::sink::Sink;
use crate::interp::R;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

const SPEC: Spec = Spec::new(
    "base64",
    "diw:",
    &[
        ("decode", 'd', Arg::No),
        ("ignore-garbage", 'i', Arg::No),
        ("wrap", 'w', Arg::Required),
    ],
)
.gnu(
    "diw:",
    &["decode", "ignore-garbage", "wrap", "help", "version"],
);

struct Opts {
    decode: bool,
    ignore_garbage: bool,
    wrap: usize,
    file: Option<String>,
}

pub(super) fn base64(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut o = Opts {
        decode: false,
        ignore_garbage: false,
        wrap: 76,
        file: None,
    };
    for (c, v) in flags {
        match c {
            'd' => o.decode = true,
            'i' => o.ignore_garbage = true,
            _ => {
                let v = v.unwrap_or_default();
                match v.parse() {
                    Ok(w) => o.wrap = w,
                    Err(_) => {
                        ctx.warn("base64", format!("invalid wrap size: '{v}'"));
                        return Ok(1);
                    }
                }
            }
        }
    }
    if let Some(extra) = files.get(1) {
        return Ok(opts::usage(
            ctx,
            "base64",
            format!("extra operand '{extra}'"),
            1,
        ));
    }
    o.file = files.into_iter().next();
    let name = o.file.clone().unwrap_or_else(|| "-".to_owned());
    let data = match ctx.read_operand(&name) {
        Ok(d) => d,
        Err(crate::vfs::FsError::IsDir) => {
            ctx.warn("base64", "read error: Is a directory");
            return Ok(1);
        }
        Err(e) => {
            ctx.warn("base64", format!("{name}: {e}"));
            return Ok(1);
        }
    };
    let mut sink = Sink::new();
    if o.decode {
        return decode(ctx, &mut sink, &data, o.ignore_garbage);
    }
    // Encoded in slices of whole 3-byte groups, so each slice's text continues the last.
    let mut col = 0usize;
    for chunk in data.chunks(3 * 4096) {
        let enc = STANDARD.encode(chunk);
        if o.wrap == 0 {
            if !sink.put(ctx, enc.as_bytes())? {
                break;
            }
            continue;
        }
        let mut rest = enc.as_bytes();
        while !rest.is_empty() {
            let take = (o.wrap - col).min(rest.len());
            sink.put(ctx, &rest[..take])?;
            col += take;
            rest = &rest[take..];
            if col == o.wrap {
                sink.put(ctx, b"\n")?;
                col = 0;
            }
        }
        if ctx.io.overflow {
            break;
        }
    }
    if o.wrap > 0 && col > 0 {
        sink.put(ctx, b"\n")?;
    }
    sink.flush(ctx)?;
    Ok(0)
}

fn is_alphabet(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

fn decode(ctx: &mut Ctx<'_, '_>, sink: &mut Sink, data: &[u8], ignore_garbage: bool) -> R<i32> {
    // Newlines are never part of the text; with -i neither is anything outside the alphabet.
    let _held = super::sink::hold(ctx, data.len())?;
    let text: Vec<u8> = data
        .iter()
        .copied()
        .filter(|&b| b != b'\n' && (!ignore_garbage || is_alphabet(b) || b == b'='))
        .collect();
    let mut out = [0u8; 3];
    for (n, quad) in text.chunks(4).enumerate() {
        if n % 4096 == 0 {
            ctx.sh.tick()?;
        }
        let pad = quad.iter().rev().take_while(|&&b| b == b'=').count();
        let body = &quad[..quad.len() - pad];
        let valid = body.iter().all(|&b| is_alphabet(b))
            && body.len() >= 2
            && (pad == 0 || quad.len() == 4)
            && pad <= 2;
        // A short last quantum without padding decodes what it holds, then is an error (GNU).
        let decoded = if valid && quad.len() == 4 && pad > 0 {
            STANDARD.decode_slice(quad, &mut out).ok()
        } else if valid {
            STANDARD_NO_PAD.decode_slice(body, &mut out).ok()
        } else {
            None
        };
        match decoded {
            Some(k) => {
                sink.put(ctx, &out[..k])?;
                if quad.len() < 4 {
                    return invalid(ctx, sink);
                }
            }
            None => return invalid(ctx, sink),
        }
    }
    sink.flush(ctx)?;
    Ok(0)
}

fn invalid(ctx: &mut Ctx<'_, '_>, sink: &mut Sink) -> R<i32> {
    sink.flush(ctx)?;
    ctx.warn("base64", "invalid input");
    Ok(1)
}
