//! `yes` (GNU coreutils): its operands joined by spaces (or `y`), line after line, until stdout
//! is past its cap; the cap is what bounds it here, as a closed pipe does on a real system.

use super::Ctx;
use super::opts::Spec;
use super::sink::Sink;
use crate::interp::R;

const SPEC: Spec = Spec::new("yes", "", &[]).gnu("", &["help", "version"]);

pub(super) fn yes(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (_, words) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut line = if words.is_empty() {
        "y".to_owned()
    } else {
        words.join(" ")
    };
    line.push('\n');
    // Whole lines in one block, so each put carries many of them.
    let mut block = Vec::with_capacity(8192 + line.len());
    while block.len() < 8192 {
        block.extend_from_slice(line.as_bytes());
    }
    let mut sink = Sink::new();
    while sink.put(ctx, &block)? {}
    sink.flush(ctx)?;
    Ok(0)
}
