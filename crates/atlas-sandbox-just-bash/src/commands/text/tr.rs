//! `tr`.

use super::super::Ctx;
use super::super::opts::{Arg, Spec};
use super::usage;
use crate::interp::R;

/// One `tr` set: its bytes, and where a `[c*]` (or `[c*0]`) fill goes, which only SET2 may
/// hold and which GNU grows until SET2 is as long as SET1.
struct TrSet {
    bytes: Vec<u8>,
    fill: Option<(usize, u8)>,
}

/// A `[c*n]`: the byte, the count (`None` for `[c*]`) and the bytes the construct takes.
type TrRepeat = (u8, Option<usize>, usize);

/// `[c*n]` at `b[i..]`: the byte, the count (`None` for `[c*]` / `[c*0]`) and the bytes taken.
/// GNU reads n as decimal, or octal when it starts with 0, and refuses any other n.
fn tr_repeat(b: &[u8], i: usize) -> Option<Result<TrRepeat, String>> {
    if b.get(i) != Some(&b'[') || b.get(i + 2) != Some(&b'*') {
        return None;
    }
    let c = *b.get(i + 1)?;
    let close = b[i + 3..].iter().position(|x| *x == b']')? + i + 3;
    let digits = &b[i + 3..close];
    let text = String::from_utf8_lossy(digits).into_owned();
    let bad = || Err(format!("invalid repeat count ‘{text}’ in [c*n] construct"));
    if !digits.iter().all(u8::is_ascii_digit) {
        return Some(bad());
    }
    let n = if digits.is_empty() {
        0
    } else if digits[0] == b'0' {
        match usize::from_str_radix(&text, 8) {
            Ok(n) => n,
            Err(_) => return Some(bad()),
        }
    } else {
        match text.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return Some(bad()),
        }
    };
    Some(Ok((c, (n > 0).then_some(n), close + 1 - i)))
}

fn expand_tr_set(s: &str, is_set2: bool) -> Result<TrSet, String> {
    let b = crate::commands::unescape_ansi(s).into_bytes();
    let mut out = Vec::new();
    let mut fill = None;
    let mut i = 0;
    while i < b.len() {
        if let Some(rep) = tr_repeat(&b, i) {
            let (c, n, took) = rep?;
            match n {
                // A finite count is bounded by what the sandbox may hold: GNU would build the
                // set too, and past 256 entries only SET1's length can reach the tail.
                Some(n) => out.extend(std::iter::repeat_n(c, n.min(1 << 16))),
                None if !is_set2 => {
                    return Err("the [c*] repeat construct may not appear in string1".to_owned());
                }
                None if fill.is_some() => {
                    return Err("only one [c*] repeat construct may appear in string2".to_owned());
                }
                None => fill = Some((out.len(), c)),
            }
            i += took;
            continue;
        }
        // `[=c=]`: in the C locale a character's equivalence class is the character itself.
        if b[i] == b'['
            && b.get(i + 1) == Some(&b'=')
            && b.get(i + 3) == Some(&b'=')
            && b.get(i + 4) == Some(&b']')
        {
            out.push(b[i + 2]);
            i += 5;
            continue;
        }
        if b[i] == b'['
            && b.get(i + 1) == Some(&b':')
            && let Some(end) = b[i + 2..].windows(2).position(|w| w == b":]")
        {
            let class = std::str::from_utf8(&b[i + 2..i + 2 + end]).unwrap_or("");
            let range: Box<dyn Fn(u8) -> bool> = match class {
                "upper" => Box::new(|c: u8| c.is_ascii_uppercase()),
                "lower" => Box::new(|c: u8| c.is_ascii_lowercase()),
                "digit" => Box::new(|c: u8| c.is_ascii_digit()),
                "alpha" => Box::new(|c: u8| c.is_ascii_alphabetic()),
                "alnum" => Box::new(|c: u8| c.is_ascii_alphanumeric()),
                "space" => {
                    Box::new(|c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
                }
                "blank" => Box::new(|c: u8| c == b' ' || c == b'\t'),
                "punct" => Box::new(|c: u8| c.is_ascii_punctuation()),
                "xdigit" => Box::new(|c: u8| c.is_ascii_hexdigit()),
                "cntrl" => Box::new(|c: u8| c.is_ascii_control()),
                "print" => Box::new(|c: u8| (32..127).contains(&c)),
                "graph" => Box::new(|c: u8| (33..127).contains(&c)),
                _ => return Err(format!("invalid character class ‘{class}’")),
            };
            out.extend((0u8..=255).filter(|c| range(*c)));
            i += end + 4;
            continue;
        }
        if i + 2 < b.len() && b[i + 1] == b'-' {
            let (a, z) = (b[i], b[i + 2]);
            if z < a {
                return Err(format!(
                    "range-endpoints of ‘{}-{}’ are in reverse collating sequence order",
                    a as char, z as char
                ));
            }
            out.extend(a..=z);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    Ok(TrSet { bytes: out, fill })
}

const TR: Spec = Spec::new(
    "tr",
    "cCdst",
    &[
        ("complement", 'c', Arg::No),
        ("delete", 'd', Arg::No),
        ("squeeze-repeats", 's', Arg::No),
        ("truncate-set1", 't', Arg::No),
    ],
);

pub(crate) fn tr(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, sets) = match ctx.opts(&TR, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let (mut del, mut squeeze, mut comp, mut truncate) = (false, false, false, false);
    for (c, _) in &flags {
        match c {
            'd' => del = true,
            's' => squeeze = true,
            'c' | 'C' => comp = true,
            't' => truncate = true,
            other => return usage(ctx, "tr", &format!("invalid option -- '{other}'")),
        }
    }
    if sets.is_empty() {
        return usage(ctx, "tr", "missing operand");
    }
    let set1 = match expand_tr_set(&sets[0], false) {
        Ok(s) => s.bytes,
        Err(e) => {
            ctx.warn("tr", e);
            return Ok(1);
        }
    };
    let set2 = match sets.get(1).map(|s| expand_tr_set(s, true)) {
        Some(Ok(s)) => {
            let mut bytes = s.bytes;
            if let Some((at, c)) = s.fill {
                let len1 = if comp {
                    let mut seen = [false; 256];
                    set1.iter().for_each(|c| seen[*c as usize] = true);
                    seen.iter().filter(|x| !**x).count()
                } else {
                    set1.len()
                };
                let n = len1.saturating_sub(bytes.len());
                bytes.splice(at..at, std::iter::repeat_n(c, n));
            }
            Some(bytes)
        }
        Some(Err(e)) => {
            ctx.warn("tr", e);
            return Ok(1);
        }
        None => None,
    };
    if !del && !squeeze && set2.is_none() {
        ctx.warn("tr", format!("missing operand after ‘{}’", sets[0]));
        ctx.io.errln("Two strings must be given when translating.");
        ctx.io.errln("Try 'tr --help' for more information.");
        return Ok(1);
    }
    let mut in1 = [false; 256];
    for c in &set1 {
        in1[*c as usize] = true;
    }
    if comp {
        for v in in1.iter_mut() {
            *v = !*v;
        }
    }
    let mut map: [u8; 256] = std::array::from_fn(|i| i as u8);
    if !del
        && let Some(s2) = &set2
        && !s2.is_empty()
    {
        let mut src: Vec<u8> = if comp {
            (0u8..=255).filter(|c| in1[*c as usize]).collect()
        } else {
            set1.clone()
        };
        // -t: SET1 is cut to SET2's length instead of SET2 padded with its last character.
        if truncate {
            src.truncate(s2.len());
        }
        for (i, c) in src.iter().enumerate() {
            map[*c as usize] = *s2.get(i).unwrap_or(s2.last().unwrap_or(c));
        }
    }
    let squeeze_set: [bool; 256] = {
        let mut s = [false; 256];
        let src = if del || set2.is_none() {
            None
        } else {
            set2.as_ref()
        };
        match src {
            Some(s2) => s2.iter().for_each(|c| s[*c as usize] = true),
            None => {
                for (i, v) in in1.iter().enumerate() {
                    s[i] = *v;
                }
            }
        }
        if del && let Some(s2) = &set2 {
            s = [false; 256];
            s2.iter().for_each(|c| s[*c as usize] = true);
        }
        s
    };
    let data = ctx.stdin.take_all().to_vec();
    let mut out = Vec::with_capacity(data.len());
    let mut last: Option<u8> = None;
    for b in data {
        if del && in1[b as usize] {
            continue;
        }
        let c = if del {
            b
        } else if in1[b as usize] {
            map[b as usize]
        } else {
            b
        };
        if squeeze && squeeze_set[c as usize] && last == Some(c) {
            continue;
        }
        out.push(c);
        last = Some(c);
    }
    ctx.io.out(&out);
    Ok(0)
}
