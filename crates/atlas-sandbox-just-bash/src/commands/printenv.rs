//! `printenv` (GNU coreutils): the exported environment, or the value of each name given
//! (exit 1 when one is not set).

use lexopt::Arg;

use super::Ctx;
use super::cli;
use crate::interp::R;

pub(super) fn printenv(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut zero = false;
    let mut names = Vec::new();
    let mut p = cli::parser("printenv", args);
    loop {
        match p.next() {
            Ok(None) => break,
            Ok(Some(Arg::Short('0') | Arg::Long("null"))) => zero = true,
            Ok(Some(Arg::Value(v))) => names.push(v.to_string_lossy().into_owned()),
            Ok(Some(other)) => return Ok(cli::report(ctx, "printenv", other.unexpected(), 2)),
            Err(e) => return Ok(cli::report(ctx, "printenv", e, 2)),
        }
    }
    let end = if zero { '\0' } else { '\n' };
    let env = ctx.sh.env_pairs();
    let mut out = String::new();
    if names.is_empty() {
        for (k, v) in &env {
            out.push_str(&format!("{k}={v}{end}"));
        }
        ctx.io.out(out.as_bytes());
        return Ok(0);
    }
    let mut st = 0;
    for n in &names {
        // A name with `=` in it is never an environment variable's name.
        match env
            .iter()
            .find(|(k, _)| k == n)
            .filter(|_| !n.contains('='))
        {
            Some((_, v)) => out.push_str(&format!("{v}{end}")),
            None => st = 1,
        }
    }
    ctx.io.out(out.as_bytes());
    Ok(st)
}
