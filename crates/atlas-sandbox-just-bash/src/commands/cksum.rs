//! `cksum` (GNU coreutils 9.1): the POSIX CRC and length by default; `-a sysv|bsd` as `sum -s`
//! and `sum -r` print them; `-a md5|sha1|sha224|sha256|sha384|sha512` in the tagged form
//! (`MD5 (f) = ...`) or `--untagged` as md5sum prints it. blake2b, sm3, `-l` and `-c` are refused.

use super::Ctx;
use super::hashsum::{Algo, escape_name, hex};
use super::opts::{self, Arg, Spec};
use super::sink::Sink;
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "cksum",
    "a:z",
    &[
        ("algorithm", 'a', Arg::Required),
        ("tag", 'T', Arg::No),
        ("untagged", 'U', Arg::No),
        ("zero", 'z', Arg::No),
    ],
)
.gnu(
    "a:l:bctwz",
    &[
        "algorithm",
        "check",
        "length",
        "tag",
        "untagged",
        "zero",
        "ignore-missing",
        "quiet",
        "status",
        "strict",
        "warn",
        "debug",
        "help",
        "version",
    ],
);

enum Kind {
    Crc,
    Sysv,
    Bsd,
    Digest(Algo),
}

pub(super) fn cksum(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut kind = Kind::Crc;
    let (mut untagged, mut zero) = (false, false);
    for (c, v) in flags {
        match c {
            'T' => untagged = false,
            'U' => untagged = true,
            'z' => zero = true,
            _ => {
                let v = v.unwrap_or_default();
                kind = match v.as_str() {
                    "crc" => Kind::Crc,
                    "sysv" => Kind::Sysv,
                    "bsd" => Kind::Bsd,
                    "md5" => Kind::Digest(Algo::Md5),
                    "sha1" => Kind::Digest(Algo::Sha1),
                    "sha224" => Kind::Digest(Algo::Sha224),
                    "sha256" => Kind::Digest(Algo::Sha256),
                    "sha384" => Kind::Digest(Algo::Sha384),
                    "sha512" => Kind::Digest(Algo::Sha512),
                    "blake2b" | "sm3" => {
                        return Ok(opts::unsupported(ctx, "cksum", &format!("-a {v}")));
                    }
                    _ => {
                        ctx.warn("cksum", format!("invalid argument '{v}' for '--algorithm'"));
                        ctx.io.errln("Valid arguments are:\n  - 'bsd'\n  - 'sysv'\n  - 'crc'\n  - 'md5'\n  - 'sha1'\n  - 'sha224'\n  - 'sha256'\n  - 'sha384'\n  - 'sha512'\n  - 'blake2b'\n  - 'sm3'");
                        opts::try_help(ctx, "cksum");
                        return Ok(1);
                    }
                };
            }
        }
    }
    let files = super::or_stdin(files);
    let named = !(files.len() == 1 && files[0] == "-");
    let end = if zero { '\0' } else { '\n' };
    let mut sink = Sink::new();
    let mut st = 0;
    for f in &files {
        let data = match ctx.read_operand(f) {
            Ok(d) => d,
            // GNU's CRC loop stops at the directory's read error without reporting it: the
            // sum of no bytes, status 0.
            Err(crate::vfs::FsError::IsDir) if matches!(kind, Kind::Crc) => {
                std::sync::Arc::new(Vec::new())
            }
            Err(e) => {
                ctx.warn("cksum", format!("{f}: {e}"));
                st = 1;
                continue;
            }
        };
        let line = match &kind {
            Kind::Crc => {
                let tail = if named {
                    format!(" {f}")
                } else {
                    String::new()
                };
                format!("{} {}{tail}{end}", crc(&data), data.len())
            }
            Kind::Sysv => {
                let tail = if named {
                    format!(" {f}")
                } else {
                    String::new()
                };
                let s: u32 = data
                    .iter()
                    .map(|&b| u32::from(b))
                    .fold(0u32, u32::wrapping_add);
                let r = (s & 0xffff) + (s >> 16);
                let sum = (r & 0xffff) + (r >> 16);
                format!("{sum} {}{tail}{end}", data.len().div_ceil(512))
            }
            Kind::Bsd => {
                let tail = if named {
                    format!(" {f}")
                } else {
                    String::new()
                };
                let mut s: u32 = 0;
                for &b in data.iter() {
                    s = (s >> 1) + ((s & 1) << 15);
                    s = (s + u32::from(b)) & 0xffff;
                }
                format!("{s:05} {:5}{tail}{end}", data.len().div_ceil(1024))
            }
            Kind::Digest(a) => {
                let sum = hex(&a.digest(&data));
                let (escaped, name) = if zero {
                    (false, f.clone())
                } else {
                    escape_name(f)
                };
                let lead = if escaped { "\\" } else { "" };
                if untagged {
                    format!("{lead}{sum}  {name}{end}")
                } else {
                    format!("{lead}{} ({name}) = {sum}{end}", a.tag())
                }
            }
        };
        sink.put(ctx, line.as_bytes())?;
        ctx.sh.tick()?;
    }
    sink.flush(ctx)?;
    Ok(st)
}

/// POSIX cksum: CRC-32 (polynomial 0x04C11DB7, MSB first) over the bytes, then the length's
/// bytes least significant first, complemented.
fn crc(data: &[u8]) -> u32 {
    const fn table() -> [u32; 256] {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = (i as u32) << 24;
            let mut k = 0;
            while k < 8 {
                c = if c & 0x8000_0000 != 0 {
                    (c << 1) ^ 0x04C1_1DB7
                } else {
                    c << 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    }
    const T: [u32; 256] = table();
    let step = |c: u32, b: u8| (c << 8) ^ T[((c >> 24) as u8 ^ b) as usize];
    let mut c = data.iter().fold(0u32, |c, &b| step(c, b));
    let mut n = data.len() as u64;
    while n != 0 {
        c = step(c, (n & 0xff) as u8);
        n >>= 8;
    }
    !c
}
