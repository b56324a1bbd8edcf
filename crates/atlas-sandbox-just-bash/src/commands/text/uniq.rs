//! `uniq`.

use super::super::Ctx;
use super::super::opts::{Arg, Spec};
use super::usage;
use crate::interp::R;

const UNIQ: Spec = Spec::new(
    "uniq",
    "cdDf:is:uw:z",
    &[
        ("count", 'c', Arg::No),
        ("repeated", 'd', Arg::No),
        ("all-repeated", 'D', Arg::Optional),
        ("zero-terminated", 'z', Arg::No),
        ("skip-fields", 'f', Arg::Required),
        ("ignore-case", 'i', Arg::No),
        ("skip-chars", 's', Arg::Required),
        ("unique", 'u', Arg::No),
        ("check-chars", 'w', Arg::Required),
        ("group", 'G', Arg::Optional),
    ],
)
.gnu("cdDf:is:uw:z", &["help", "version"]);

/// How `uniq -D` delimits groups.
#[derive(PartialEq)]
enum AllRepeated {
    None,
    Prepend,
    Separate,
}

pub(crate) fn uniq(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&UNIQ, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let (mut count, mut dups, mut uniques, mut icase) = (false, false, false, false);
    let mut skip_fields = 0usize;
    let mut skip_chars = 0usize;
    let mut check_chars = usize::MAX;
    let mut all_repeated: Option<AllRepeated> = None;
    // `--group`: (a blank line before the first group, after the last).
    let mut group: Option<(bool, bool)> = None;
    let mut eol = b'\n';
    for (c, v) in &flags {
        let n = || -> Result<usize, String> {
            let v = v.as_deref().unwrap_or_default();
            v.parse::<usize>().or_else(|e| match e.kind() {
                std::num::IntErrorKind::PosOverflow => Ok(usize::MAX),
                _ => Err(v.to_owned()),
            })
        };
        let what = match c {
            'f' => "number of fields to skip",
            's' => "number of bytes to skip",
            'w' => "number of bytes to compare",
            _ => "",
        };
        match c {
            'c' => count = true,
            'd' => dups = true,
            'u' => uniques = true,
            'i' => icase = true,
            'z' => eol = b'\0',
            'D' => {
                all_repeated = Some(match v.as_deref() {
                    None | Some("none") => AllRepeated::None,
                    Some("prepend") => AllRepeated::Prepend,
                    Some("separate") => AllRepeated::Separate,
                    Some(other) => {
                        ctx.warn(
                            "uniq",
                            format!("invalid argument '{other}' for '--all-repeated'"),
                        );
                        ctx.io.errln(
                            "Valid arguments are:\n  - 'none'\n  - 'prepend'\n  - 'separate'",
                        );
                        super::super::opts::try_help(ctx, "uniq");
                        return Ok(1);
                    }
                });
            }
            'G' => {
                group = Some(match v.as_deref() {
                    None | Some("separate") => (false, false),
                    Some("prepend") => (true, false),
                    Some("append") => (false, true),
                    Some("both") => (true, true),
                    Some(other) => {
                        ctx.warn("uniq", format!("invalid argument '{other}' for '--group'"));
                        ctx.io.errln(
                            "Valid arguments are:\n  - 'prepend'\n  - 'append'\n  - 'separate'\n  - 'both'",
                        );
                        super::super::opts::try_help(ctx, "uniq");
                        return Ok(1);
                    }
                });
            }
            'f' | 's' | 'w' => match n() {
                Ok(k) if *c == 'f' => skip_fields = k,
                Ok(k) if *c == 's' => skip_chars = k,
                Ok(k) => check_chars = k,
                Err(v) => {
                    ctx.warn("uniq", format!("{v}: invalid {what}"));
                    return Ok(1);
                }
            },
            other => return usage(ctx, "uniq", &format!("invalid option -- '{other}'")),
        }
    }
    if group.is_some() && (count || dups || uniques || all_repeated.is_some()) {
        return usage(
            ctx,
            "uniq",
            "--group is mutually exclusive with -c/-d/-D/-u",
        );
    }
    let input = files.first().cloned().unwrap_or_else(|| "-".to_owned());
    let data = match ctx.read_operand(&input) {
        Ok(d) => d,
        Err(e) => {
            ctx.warn("uniq", format!("{input}: {e}"));
            return Ok(1);
        }
    };
    if all_repeated.is_some() && count {
        return usage(
            ctx,
            "uniq",
            "printing all duplicated lines and repeat counts is meaningless",
        );
    }
    let mut ls: Vec<&[u8]> = data.split(|b| *b == eol).collect();
    if ls.last().is_some_and(|l| l.is_empty()) {
        ls.pop();
    }
    let key = |l: &[u8]| -> Vec<u8> {
        let mut s = l;
        for _ in 0..skip_fields {
            let t = s
                .iter()
                .position(|b| *b != b' ' && *b != b'\t')
                .unwrap_or(s.len());
            s = &s[t..];
            let e = s
                .iter()
                .position(|b| *b == b' ' || *b == b'\t')
                .unwrap_or(s.len());
            s = &s[e..];
        }
        s = &s[skip_chars.min(s.len())..];
        s = &s[..check_chars.min(s.len())];
        if icase {
            s.to_ascii_lowercase()
        } else {
            s.to_vec()
        }
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < ls.len() {
        let k = key(ls[i]);
        let mut j = i + 1;
        while j < ls.len() && key(ls[j]) == k {
            j += 1;
        }
        let n = j - i;
        if let Some((before, after)) = group {
            // Blank lines between groups, and around them as asked.
            if i > 0 || before {
                out.push(eol);
            }
            for l in &ls[i..j] {
                out.extend_from_slice(l);
                out.push(eol);
            }
            if j == ls.len() && after {
                out.push(eol);
            }
            i = j;
            continue;
        }
        if let Some(how) = &all_repeated {
            // Every line of each repeated group; with `-u` GNU drops the first of each.
            if n > 1 {
                let sep = match how {
                    AllRepeated::Prepend => true,
                    AllRepeated::Separate => !out.is_empty(),
                    AllRepeated::None => false,
                };
                if sep {
                    out.push(eol);
                }
                for l in &ls[i + usize::from(uniques)..j] {
                    out.extend_from_slice(l);
                    out.push(eol);
                }
            }
            i = j;
            continue;
        }
        let show = (!dups || n > 1) && (!uniques || n == 1);
        if show {
            if count {
                out.extend_from_slice(format!("{n:>7} ").as_bytes());
            }
            out.extend_from_slice(ls[i]);
            out.push(eol);
        }
        i = j;
    }
    match files.get(1) {
        Some(o) => {
            if let Err(e) = ctx.write_named(o, &out, false) {
                ctx.warn("uniq", format!("{o}: {e}"));
                return Ok(1);
            }
        }
        None => ctx.io.out(&out),
    }
    Ok(0)
}
