//! `uname` (GNU coreutils) as the sandbox answers it: kernel `Linux`, node `sandbox` (what
//! `hostname` says), the machine of the host's architecture, processor and platform `unknown`
//! (as Debian's uname prints them) and `GNU/Linux`. The kernel release and version would be the
//! host's, which the sandbox does not reveal, so `-r`, `-v` and `-a` are refused.

use super::Ctx;
use super::opts::{self, Arg, Spec};
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "uname",
    "snmpio",
    &[
        ("kernel-name", 's', Arg::No),
        ("nodename", 'n', Arg::No),
        ("machine", 'm', Arg::No),
        ("processor", 'p', Arg::No),
        ("hardware-platform", 'i', Arg::No),
        ("operating-system", 'o', Arg::No),
    ],
)
.gnu(
    "asnrvmpio",
    &[
        "all",
        "kernel-name",
        "nodename",
        "kernel-release",
        "kernel-version",
        "machine",
        "processor",
        "hardware-platform",
        "operating-system",
        "help",
        "version",
    ],
);

pub(super) fn uname(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, ops) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    if let Some(op) = ops.first() {
        return Ok(opts::usage(
            ctx,
            "uname",
            format!("extra operand '{op}'"),
            1,
        ));
    }
    let machine = match std::env::consts::ARCH {
        "x86" => "i686",
        a => a,
    };
    // GNU prints the fields in this order whatever the order of the options.
    let fields = [
        ('s', "Linux"),
        ('n', "sandbox"),
        ('m', machine),
        ('p', "unknown"),
        ('i', "unknown"),
        ('o', "GNU/Linux"),
    ];
    let wanted: Vec<char> = flags.iter().map(|f| f.0).collect();
    let out: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| wanted.contains(k) || (wanted.is_empty() && *k == 's'))
        .map(|f| f.1)
        .collect();
    ctx.io.out(format!("{}\n", out.join(" ")).as_bytes());
    Ok(0)
}
