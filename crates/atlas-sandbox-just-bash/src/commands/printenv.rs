//! `printenv` (GNU coreutils): the exported environment, or the value of each name given
//! (exit 1 when one is not set).

use super::Ctx;
use super::opts::{Arg, Spec};
use crate::interp::R;

const SPEC: Spec = Spec::new("printenv", "0", &[("null", '0', Arg::No)])
    .gnu("0", &["null", "help", "version"])
    .status(2);

pub(super) fn printenv(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, names) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let zero = !flags.is_empty();
    let end = if zero { '\0' } else { '\n' };
    // bash gives each command it runs `_`, the command's path, after the rest.
    let mut env = ctx.sh.env_pairs_bash_order();
    env.push(("_".to_owned(), "/usr/bin/printenv".to_owned()));
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
