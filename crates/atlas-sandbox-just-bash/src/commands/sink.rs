//! Output built in steps, so a long dump is capped, metered and checks the deadline as it goes
//! instead of being built whole; and the memory charge for a command's working buffers.

use super::Ctx;
use crate::interp::R;

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
