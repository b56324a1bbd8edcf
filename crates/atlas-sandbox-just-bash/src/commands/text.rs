//! Text filters with GNU coreutils output: cat head tail wc uniq cut tr tee tac rev nl seq.

mod cat;
mod cut;
mod head_tail;
mod nl;
mod seq;
mod tr;
mod uniq;
mod wc;

pub(super) use cat::{cat, rev, tac, tee};
pub(super) use cut::cut;
pub(super) use head_tail::{head, tail};
pub(super) use nl::nl;
pub(super) use seq::seq;
pub(super) use tr::tr;
pub(super) use uniq::uniq;
pub(super) use wc::wc;

use super::Ctx;
use crate::interp::R;

pub(super) fn usage(ctx: &mut Ctx<'_, '_>, cmd: &str, msg: &str) -> R<i32> {
    ctx.warn(cmd, msg);
    ctx.io
        .errln(&format!("Try '{cmd} --help' for more information."));
    Ok(1)
}

/// Splits into lines keeping the terminator, so a missing final newline survives.
fn lines(data: &[u8]) -> Vec<&[u8]> {
    lines_by(data, b'\n')
}

/// [`lines`] with another terminator (`-z`: NUL).
fn lines_by(data: &[u8], eol: u8) -> Vec<&[u8]> {
    data.split_inclusive(|b| *b == eol).collect()
}

fn strip_nl(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\n").unwrap_or(l)
}
