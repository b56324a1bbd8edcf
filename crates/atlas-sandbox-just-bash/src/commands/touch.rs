//! `touch` (GNU coreutils 9.1): creates files and sets their modification time to now, to
//! `-d STRING` (read as `date -d` reads it), `-t [[CC]YY]MMDDhhmm[.ss]` or `-r FILE`'s. The
//! overlay keeps whole-second mtimes and no access time: `-a` alone leaves the mtime as it is,
//! and a time with nanoseconds (or `-r` of a file that has them) is refused rather than
//! truncated. `-h` (a symlink's own time) and `-d` relative to `-r` are refused too.

use super::Ctx;
use super::date::{date_error, zone_of};
use super::date_parse::{Instant, parse};
use super::opts::{Arg, Spec, unsupported, usage};
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "touch",
    "acd:fmr:t:",
    &[
        ("no-create", 'c', Arg::No),
        ("date", 'd', Arg::Required),
        ("reference", 'r', Arg::Required),
        ("time", 'T', Arg::Required),
    ],
)
.gnu(
    "acd:fhmr:t:",
    &[
        "no-create",
        "date",
        "no-dereference",
        "reference",
        "time",
        "help",
        "version",
    ],
);

/// `-t`'s `[[CC]YY]MMDDhhmm[.ss]`, in the zone `off` seconds east, the current year `year`.
fn posix_stamp(s: &str, year: i64, off: i64) -> Option<i64> {
    let (main, ss) = match s.split_once('.') {
        Some((m, ss)) if ss.len() == 2 && ss.bytes().all(|b| b.is_ascii_digit()) => {
            (m, ss.parse::<i64>().ok()?)
        }
        Some(_) => return None,
        None => (s, 0),
    };
    if !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize| main[a..a + 2].parse::<i64>().ok();
    let (y, rest) = match main.len() {
        8 => (year, 0),
        10 => {
            let yy = n(0)?;
            (yy + if yy < 69 { 2000 } else { 1900 }, 2)
        }
        12 => (n(0)? * 100 + n(2)?, 4),
        _ => return None,
    };
    let (mo, d, h, mi) = (n(rest)?, n(rest + 2)?, n(rest + 4)?, n(rest + 6)?);
    if h > 23 || mi > 59 || ss > 59 {
        return None;
    }
    let date = jiff::civil::Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(mo).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()?;
    let days = i64::from((date - jiff::civil::Date::constant(1970, 1, 1)).get_days());
    Some(days * 86400 + h * 3600 + mi * 60 + ss - off)
}

pub(super) fn touch(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let (mut no_create, mut atime, mut mtime) = (false, false, false);
    let (mut date, mut stamp, mut reference) = (None, None, None);
    for (c, v) in flags {
        match c {
            'c' => no_create = true,
            'a' => atime = true,
            'm' => mtime = true,
            'd' => date = v,
            't' => stamp = v,
            'r' => reference = v,
            'T' => {
                match v.as_deref().unwrap_or("") {
                    "access" | "atime" | "use" => atime = true,
                    "modify" | "mtime" => mtime = true,
                    w => {
                        ctx.warn("touch", format!("invalid argument '{w}' for '--time'"));
                        ctx.io.errln("Valid arguments are:\n  - 'atime', 'access', 'use'\n  - 'mtime', 'modify'");
                        ctx.io.errln("Try 'touch --help' for more information.");
                        return Ok(1);
                    }
                }
            }
            _ => {}
        }
    }
    if stamp.is_some() && (date.is_some() || reference.is_some()) {
        return Ok(usage(
            ctx,
            "touch",
            "cannot specify times from more than one source",
            1,
        ));
    }
    if date.is_some() && reference.is_some() {
        return Ok(unsupported(ctx, "touch", "'-d' together with '-r'"));
    }
    let zone = match zone_of(ctx.sh.get_var("TZ").as_deref()) {
        Ok(z) => z,
        Err(what) => return Ok(unsupported(ctx, "touch", &what)),
    };
    let off = i64::from(zone.off);
    let now = super::date::now();
    let mut when: Option<Instant> = None;
    if let Some(r) = &reference {
        let p = ctx.path(r);
        match ctx.sh.fs.stat(&p) {
            Ok(m) => {
                when = Some(Instant {
                    secs: m.mtime,
                    nsec: m.mtime_nsec,
                });
            }
            Err(e) => {
                ctx.warn("touch", format!("failed to get attributes of '{r}': {e}"));
                return Ok(1);
            }
        }
    }
    if let Some(d) = &date {
        match parse(d, now, off) {
            Ok(t) => when = Some(t),
            Err(super::date_parse::DateError::Invalid)
                if d.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'\'') =>
            {
                ctx.warn("touch", format!("invalid date format '{d}'"));
                return Ok(1);
            }
            Err(e) => return Ok(date_error(ctx, "touch", d, e)),
        }
    }
    if let Some(t) = &stamp {
        let year = super::date_fmt::Tm::year_of(now.secs, &zone).unwrap_or(1970);
        match posix_stamp(t, year, off) {
            Some(secs) => when = Some(Instant { secs, nsec: 0 }),
            None => {
                ctx.warn("touch", format!("invalid date format '{t}'"));
                return Ok(1);
            }
        }
    }
    if when.is_some_and(|w| w.nsec != 0) {
        return Ok(unsupported(ctx, "touch", "a time with nanoseconds"));
    }
    if ops.is_empty() {
        ctx.warn("touch", "missing file operand");
        ctx.io.errln("Try 'touch --help' for more information.");
        return Ok(1);
    }
    // The overlay has no access time: `-a` alone changes nothing on an existing file.
    let set_mtime = mtime || !atime;
    let mut st = 0;
    for f in &ops {
        let p = ctx.path(f);
        let exists = ctx.sh.fs.exists(&p);
        if !exists && no_create {
            continue;
        }
        let r = if !exists {
            ctx.sh.fs.write(&p, b"", false)
        } else if !set_mtime {
            Ok(())
        } else if when.is_none() && ctx.sh.fs.is_dir(&p) {
            continue;
        } else if when.is_none() {
            // Copy-up with a new mtime: the disk file stays untouched.
            ctx.sh.fs.write(&p, b"", true)
        } else {
            Ok(())
        };
        let r = match (r, when) {
            (Ok(()), Some(w)) if set_mtime => match ctx.sh.fs.set_mtime(&p, w.secs) {
                Err(crate::vfs::FsError::PermissionDenied) if ctx.sh.fs.is_dir(&p) => {
                    return Ok(unsupported(
                        ctx,
                        "touch",
                        "setting the time of a directory of the disk layer",
                    ));
                }
                r => r,
            },
            (r, _) => r,
        };
        if let Err(e) = r {
            ctx.warn("touch", format!("cannot touch '{f}': {e}"));
            st = 1;
        }
    }
    Ok(st)
}
