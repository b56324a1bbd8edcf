//! `timeout DURATION COMMAND...`: runs the command under the sandbox's own deadline.
//!
//! A command that ends within DURATION gets exactly GNU's answer. One that runs longer would have
//! been killed part way (exit 124) with output this sandbox cannot reproduce, so that case is
//! refused after the fact rather than answered as if the command had been allowed to finish.

use std::time::{Duration, Instant};

use super::Ctx;
use super::opts::{Arg, Spec};
use crate::interp::R;

const PRESERVE: char = '\u{e000}';
const FOREGROUND: char = '\u{e001}';

const SPEC: Spec = Spec::new(
    "timeout",
    "k:s:v",
    &[
        ("kill-after", 'k', Arg::Required),
        ("signal", 's', Arg::Required),
        ("verbose", 'v', Arg::No),
        ("preserve-status", PRESERVE, Arg::No),
        ("foreground", FOREGROUND, Arg::No),
    ],
)
.gnu("k:s:v", &["help", "version"])
.status(125)
.posix();

/// GNU's DURATION: a non-negative decimal number with an optional s, m, h or d suffix.
fn duration(s: &str) -> Option<f64> {
    let (num, mult) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1.0),
        'm' => (&s[..s.len() - 1], 60.0),
        'h' => (&s[..s.len() - 1], 3600.0),
        'd' => (&s[..s.len() - 1], 86400.0),
        _ => (s, 1.0),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    num.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v * mult)
}

pub(super) fn timeout(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    for (c, v) in &flags {
        if *c == 'k' && v.as_deref().and_then(duration).is_none() {
            ctx.warn(
                "timeout",
                format!("invalid time interval '{}'", v.as_deref().unwrap_or("")),
            );
            ctx.io.errln("Try 'timeout --help' for more information.");
            return Ok(125);
        }
    }
    let Some((limit, command)) = ops.split_first() else {
        ctx.warn("timeout", "missing operand");
        ctx.io.errln("Try 'timeout --help' for more information.");
        return Ok(125);
    };
    let Some(secs) = duration(limit) else {
        ctx.warn("timeout", format!("invalid time interval '{limit}'"));
        ctx.io.errln("Try 'timeout --help' for more information.");
        return Ok(125);
    };
    if command.is_empty() {
        ctx.warn("timeout", "missing operand");
        ctx.io.errln("Try 'timeout --help' for more information.");
        return Ok(125);
    }
    let started = Instant::now();
    let st = ctx.sh.dispatch(command, ctx.stdin, ctx.io)?;
    // A DURATION of 0 disables the timeout.
    if secs > 0.0 && started.elapsed() > Duration::from_secs_f64(secs.min(1e9)) {
        ctx.warn(
            "timeout",
            format!(
                "the command ran past {limit}; stopping a command part way is not supported in this sandbox"
            ),
        );
        return Ok(2);
    }
    Ok(st)
}
