//! What the commands parsed with `lexopt` share: GNU's option forms (`--long`, `--opt=value`,
//! `-abc` clusters, `-w5`, `--`), one refusal for an option this sandbox does not implement, and
//! an output buffer that flushes in steps (so a long dump is capped, metered and checks the
//! deadline as it goes instead of being built whole).

use lexopt::Parser;

use super::Ctx;
use crate::interp::{R, UNSUPPORTED_EXIT};

/// A `lexopt` parser over a command's arguments (without its name).
pub(crate) fn parser(args: &[String]) -> Parser {
    Parser::from_args(args.iter().map(String::as_str))
}

/// The text of an option value (arguments are UTF-8 here: they come from the shell's strings).
pub(crate) fn text(p: &mut Parser) -> Result<String, lexopt::Error> {
    Ok(p.value()?.to_string_lossy().into_owned())
}

/// Reports a parse failure GNU-style and returns the exit status: an option this sandbox does not
/// implement (or that does not exist) is refused with exit 2 naming it; a missing or unwanted
/// value is GNU's usage error (exit `usage_exit`).
pub(crate) fn report(ctx: &mut Ctx<'_, '_>, cmd: &str, e: lexopt::Error, usage_exit: i32) -> i32 {
    match e {
        lexopt::Error::UnexpectedOption(o) => {
            ctx.warn(
                cmd,
                format!("option '{o}' is not supported by this sandbox"),
            );
            return UNSUPPORTED_EXIT;
        }
        lexopt::Error::MissingValue { option: Some(o) } => {
            if let Some(short) = o.strip_prefix('-').filter(|s| !s.starts_with('-')) {
                ctx.warn(cmd, format!("option requires an argument -- '{short}'"));
            } else {
                ctx.warn(cmd, format!("option '{o}' requires an argument"));
            }
        }
        lexopt::Error::UnexpectedValue { option, .. } => {
            ctx.warn(cmd, format!("option '{option}' doesn't allow an argument"));
        }
        other => ctx.warn(cmd, other.to_string()),
    }
    try_help(ctx, cmd);
    usage_exit
}

/// GNU's second usage line.
pub(crate) fn try_help(ctx: &mut Ctx<'_, '_>, cmd: &str) {
    ctx.io
        .errln(&format!("Try '{cmd} --help' for more information."));
}

/// Refuses a feature (an option value, a form) this sandbox does not implement: exit 2.
pub(crate) fn unsupported(ctx: &mut Ctx<'_, '_>, cmd: &str, what: &str) -> i32 {
    ctx.warn(cmd, format!("{what} is not supported by this sandbox"));
    UNSUPPORTED_EXIT
}

/// Output built in steps: every [`Sink::STEP`] bytes it goes to stdout (capped and metered
/// there) and the deadline is checked.
pub(crate) struct Sink {
    buf: Vec<u8>,
}

impl Sink {
    const STEP: usize = 32 * 1024;

    pub(crate) fn new() -> Self {
        Sink {
            buf: Vec::with_capacity(1024),
        }
    }

    /// Appends bytes, flushing when a step is full. `Ok(false)` once stdout is past its cap:
    /// nothing more can be kept, so the caller may stop.
    pub(crate) fn put(&mut self, ctx: &mut Ctx<'_, '_>, b: &[u8]) -> R<bool> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= Self::STEP {
            self.flush(ctx)?;
        }
        Ok(!ctx.io.overflow)
    }

    /// Writes what is buffered and checks the deadline and the memory budget.
    pub(crate) fn flush(&mut self, ctx: &mut Ctx<'_, '_>) -> R<()> {
        if !self.buf.is_empty() {
            ctx.io.out(&self.buf);
            self.buf.clear();
        }
        ctx.sh.tick()
    }
}

/// Charges a buffer of `len` bytes to the exec's memory budget for as long as the guard lives.
pub(crate) fn hold(ctx: &Ctx<'_, '_>, len: usize) -> R<crate::memory::Held> {
    ctx.sh
        .meter
        .hold(crate::memory::bytes_cost(len))
        .or_else(crate::interp::over_budget)
}
