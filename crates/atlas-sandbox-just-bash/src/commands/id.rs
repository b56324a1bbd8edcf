//! `id` (GNU coreutils) for the sandbox's one user, the owner `ls -l` and `stat` show for every
//! file (`user`, uid and gid 1000), so the answers agree with each other.

use super::Ctx;
use super::opts::{Arg, Spec};
use crate::interp::R;

const NAME: &str = "user";
const ID: u32 = 1000;

const SPEC: Spec = Spec::new(
    "id",
    "agGnruzZ",
    &[
        ("group", 'g', Arg::No),
        ("groups", 'G', Arg::No),
        ("name", 'n', Arg::No),
        ("real", 'r', Arg::No),
        ("user", 'u', Arg::No),
        ("zero", 'z', Arg::No),
        ("context", 'Z', Arg::No),
    ],
)
.gnu("agGnruzZ", &["help", "version"]);

pub(super) fn id(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, users) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let has = |c: char| flags.iter().any(|(f, _)| *f == c);
    if has('Z') {
        ctx.warn(
            "id",
            "--context (-Z) works only on an SELinux-enabled kernel",
        );
        return Ok(1);
    }
    let picks = ['u', 'g', 'G'].iter().filter(|c| has(**c)).count();
    if picks > 1 {
        ctx.warn("id", "cannot print \"only\" of more than one choice");
        return Ok(1);
    }
    let (names, zero) = (has('n'), has('z'));
    if picks == 0 {
        if names || has('r') {
            ctx.warn(
                "id",
                "cannot print only names or real IDs in default format",
            );
            return Ok(1);
        }
        if zero {
            ctx.warn("id", "option --zero not permitted in default format");
            return Ok(1);
        }
    }
    let line = if picks == 0 {
        format!("uid={ID}({NAME}) gid={ID}({NAME}) groups={ID}({NAME})\n")
    } else {
        let value = if names {
            NAME.to_owned()
        } else {
            ID.to_string()
        };
        format!("{value}{}", if zero { "\0" } else { "\n" })
    };
    if users.is_empty() {
        ctx.io.out(line.as_bytes());
        return Ok(0);
    }
    let mut st = 0;
    for u in &users {
        if u == NAME || *u == ID.to_string() {
            ctx.io.out(line.as_bytes());
        } else {
            ctx.warn("id", format!("'{u}': no such user"));
            st = 1;
        }
    }
    Ok(st)
}
