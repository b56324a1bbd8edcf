//! `mktemp` (GNU coreutils): a new file (mode 0600) or directory (`-d`, 0700) in the overlay, its
//! name the template's last run of X's replaced by random letters and digits; `-u` only prints a
//! name, `-p DIR`/`--tmpdir`, `-t`, `--suffix`, `-q` as GNU reads them.

use super::Ctx;
use super::opts::{self, Arg, Spec};
use super::rand::Rng;
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "mktemp",
    "dup:qt",
    &[
        ("directory", 'd', Arg::No),
        ("dry-run", 'u', Arg::No),
        ("quiet", 'q', Arg::No),
        ("suffix", 'S', Arg::Required),
        ("tmpdir", 'p', Arg::Optional),
    ],
)
.gnu(
    "dp:qtuV",
    &[
        "directory",
        "quiet",
        "dry-run",
        "suffix",
        "tmpdir",
        "help",
        "version",
    ],
);

const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub(super) fn mktemp(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let (mut dir_mode, mut dry, mut quiet, mut dash_t) = (false, false, false, false);
    let mut suffix: Option<String> = None;
    // `Some(None)`: --tmpdir without a directory.
    let mut tmpdir: Option<Option<String>> = None;
    for (c, v) in flags {
        match c {
            'd' => dir_mode = true,
            'u' => dry = true,
            'q' => quiet = true,
            't' => dash_t = true,
            'S' => suffix = v,
            _ => tmpdir = Some(v.filter(|d| !d.is_empty())),
        }
    }
    if ops.len() > 1 {
        return Ok(opts::usage(ctx, "mktemp", "too many templates", 1));
    }
    let env_tmp = ctx.sh.get_var("TMPDIR").filter(|d| !d.is_empty());
    let (template, dir) = match ops.first() {
        None => (
            "tmp.XXXXXXXXXX".to_owned(),
            Some(tmpdir.clone().flatten().or(env_tmp.clone())),
        ),
        Some(t) if dash_t => {
            if t.contains('/') {
                ctx.warn(
                    "mktemp",
                    format!("invalid template, '{t}', contains directory separator"),
                );
                return Ok(1);
            }
            (
                t.clone(),
                Some(env_tmp.clone().or(tmpdir.clone().flatten())),
            )
        }
        Some(t) if tmpdir.is_some() => {
            if t.starts_with('/') {
                ctx.warn(
                    "mktemp",
                    format!("invalid template, '{t}'; with --tmpdir, it may not be absolute"),
                );
                return Ok(1);
            }
            (
                t.clone(),
                Some(tmpdir.clone().flatten().or(env_tmp.clone())),
            )
        }
        Some(t) => (t.clone(), None),
    };
    // Without --suffix, whatever follows the last X is the suffix.
    let (stem, suffix) = match suffix {
        Some(s) => {
            if s.contains('/') {
                ctx.warn(
                    "mktemp",
                    format!("invalid suffix '{s}', contains directory separator"),
                );
                return Ok(1);
            }
            if !template.ends_with('X') {
                ctx.warn(
                    "mktemp",
                    format!("with --suffix, template '{template}' must end in X"),
                );
                return Ok(1);
            }
            (template.clone(), s)
        }
        None => match template.rfind('X') {
            Some(i) => (template[..=i].to_owned(), template[i + 1..].to_owned()),
            None => (template.clone(), String::new()),
        },
    };
    if suffix.contains('/') {
        ctx.warn(
            "mktemp",
            format!("invalid suffix '{suffix}', contains directory separator"),
        );
        return Ok(1);
    }
    let xs = stem.len() - stem.trim_end_matches('X').len();
    if xs < 3 {
        ctx.warn("mktemp", format!("too few X's in template '{template}'"));
        return Ok(1);
    }
    let prefix = match dir {
        Some(d) => {
            let d = d.unwrap_or_else(|| "/tmp".to_owned());
            if d.ends_with('/') { d } else { format!("{d}/") }
        }
        None => String::new(),
    };
    let base = &stem[..stem.len() - xs];
    let mut rng = Rng::new();
    let what = if dir_mode { "directory" } else { "file" };
    for _ in 0..100 {
        let mut name = format!("{prefix}{base}");
        for _ in 0..xs {
            name.push(char::from(CHARS[rng.below(CHARS.len() as u64) as usize]));
        }
        name.push_str(&suffix);
        let path = ctx.path(&name);
        // Linux's limits: a name of more than 255 bytes, a path of more than 4095.
        if path.rsplit('/').next().is_some_and(|b| b.len() > 255) || path.len() > 4095 {
            if !quiet {
                ctx.warn(
                    "mktemp",
                    format!(
                        "failed to create {what} via template '{prefix}{template}': File name too long"
                    ),
                );
            }
            return Ok(1);
        }
        if ctx.sh.fs.exists(&path) {
            continue;
        }
        // GNU -u prints the name even when its directory is missing.
        if dry {
            ctx.io.out(format!("{name}\n").as_bytes());
            return Ok(0);
        }
        let made = if dir_mode {
            ctx.sh
                .fs
                .mkdir(&path, false)
                .and_then(|()| ctx.sh.fs.set_mode(&path, 0o700))
        } else {
            ctx.sh
                .fs
                .write(&path, b"", false)
                .and_then(|()| ctx.sh.fs.set_mode(&path, 0o600))
        };
        return Ok(match made {
            Ok(()) => {
                ctx.io.out(format!("{name}\n").as_bytes());
                0
            }
            Err(e) => {
                if !quiet {
                    ctx.warn(
                        "mktemp",
                        format!("failed to create {what} via template '{prefix}{template}': {e}"),
                    );
                }
                1
            }
        });
    }
    if !quiet {
        ctx.warn(
            "mktemp",
            format!("failed to create {what} via template '{prefix}{template}': File exists"),
        );
    }
    Ok(1)
}
