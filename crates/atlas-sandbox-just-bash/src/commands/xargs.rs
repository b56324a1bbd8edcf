//! `xargs` (GNU findutils): items split as GNU splits them (quotes and backslashes, `-0`, `-d`,
//! lines for `-I` and `-L`), `-n -L -I -r -t -P`, `-a FILE` and `-E`/`-e`; each command runs in
//! this shell, one after another.

use super::opts::{Arg, Spec};
use super::{Ctx, walk};
use crate::interp::R;

const XARGS: Spec = Spec::new(
    "xargs",
    "0a:d:E:e::I:i::L:l::n:P:rt",
    &[
        ("null", '0', Arg::No),
        ("arg-file", 'a', Arg::Required),
        ("eof", 'e', Arg::Optional),
        ("delimiter", 'd', Arg::Required),
        ("replace", 'i', Arg::Optional),
        ("max-lines", 'l', Arg::Optional),
        ("max-args", 'n', Arg::Required),
        ("max-procs", 'P', Arg::Required),
        ("no-run-if-empty", 'r', Arg::No),
        ("verbose", 't', Arg::No),
    ],
)
.gnu(
    "0a:d:E:e::I:i::L:l::n:oP:prs:tx",
    &[
        "interactive",
        "max-chars",
        "open-tty",
        "exit",
        "process-slot-var",
        "show-limits",
        "help",
        "version",
    ],
)
.posix();

pub(super) fn xargs(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut max_args: Option<usize> = None;
    let mut max_lines: Option<usize> = None;
    let mut replace: Option<String> = None;
    let mut nul = false;
    let mut no_run_empty = false;
    let mut trace = false;
    let mut delim: Option<u8> = None;
    let mut arg_file: Option<String> = None;
    let mut eof: Option<String> = None;
    let (flags, cmd) = match ctx.opts(&XARGS, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let number = |ctx: &mut Ctx<'_, '_>, v: &Option<String>, min: usize| -> Option<usize> {
        let v = v.as_deref().unwrap_or("1");
        match v.parse::<usize>() {
            Ok(n) if n >= min => Some(n),
            _ => {
                ctx.warn("xargs", format!("invalid number \"{v}\" for -n option"));
                None
            }
        }
    };
    // Of -I/-i, -n and -L the last one given wins; GNU warns about each it drops.
    let drop = |ctx: &mut Ctx<'_, '_>, was: &str, now: &str| {
        ctx.warn(
            "xargs",
            format!(
                "warning: options {was} and {now} are mutually exclusive, ignoring previous {} value",
                was.split('/').next().unwrap_or(was)
            ),
        );
    };
    for (c, v) in &flags {
        match c {
            'n' => match number(ctx, v, 1) {
                Some(n) => {
                    if replace.take().is_some() {
                        drop(ctx, "--replace", "--max-args/-n");
                    }
                    if max_lines.take().is_some() {
                        drop(ctx, "--max-lines", "--max-args/-n");
                    }
                    max_args = Some(n);
                }
                None => return Ok(1),
            },
            'L' | 'l' => match number(ctx, v, 1) {
                Some(n) => {
                    if replace.take().is_some() {
                        drop(ctx, "--replace", "-L");
                    }
                    if max_args.take().is_some() {
                        drop(ctx, "--max-args", "-L");
                    }
                    max_lines = Some(n);
                }
                None => return Ok(1),
            },
            'I' | 'i' => {
                if max_args.take().is_some() {
                    drop(ctx, "--max-args", "--replace/-I/-i");
                }
                if max_lines.take().is_some() {
                    drop(ctx, "--max-lines", "--replace/-I/-i");
                }
                replace = if *c == 'I' {
                    v.clone()
                } else {
                    Some(v.clone().unwrap_or_else(|| "{}".to_owned()))
                };
            }
            'd' => {
                delim = v
                    .as_deref()
                    .and_then(|d| crate::commands::unescape_ansi(d).bytes().next());
            }
            '0' => nul = true,
            'a' => arg_file = v.clone(),
            // An empty end-of-file string is none.
            'E' | 'e' => eof = v.clone().filter(|e| !e.is_empty()),
            'r' => no_run_empty = true,
            't' => trace = true,
            // Commands run one after another: -P changes timing, not what they print.
            _ => {}
        }
    }
    let mut cmd = cmd;
    if cmd.is_empty() {
        cmd.push("echo".to_owned());
    }
    if eof.is_some() && (nul || delim.is_some()) {
        ctx.warn(
            "xargs",
            "warning: the -E option has no effect if -0 or -d is used.\n",
        );
        eof = None;
    }
    // With -a the items come from the file and the commands read xargs's own stdin.
    let input = match &arg_file {
        Some(f) => match ctx.read_operand(f) {
            Ok(d) => d.to_vec(),
            Err(e) => {
                ctx.warn("xargs", format!("Cannot open input file '{f}': {e}"));
                return Ok(1);
            }
        },
        None => ctx.stdin.take_all().to_vec(),
    };
    // `-L n`: the items of n non-blank input lines per command (a line ending in a blank
    // continues on the next, as GNU's does).
    let mut line_groups: Option<Vec<Vec<String>>> = None;
    if let Some(n) = max_lines
        && replace.is_none()
        && !nul
        && delim.is_none()
    {
        let text = String::from_utf8_lossy(&input);
        let mut lines: Vec<Vec<String>> = Vec::new();
        let mut pending: Vec<String> = Vec::new();
        let mut ended = false;
        for l in text.lines() {
            match split_xargs(l) {
                Ok(v) => {
                    for item in v {
                        if eof.as_ref() == Some(&item) {
                            ended = true;
                            break;
                        }
                        pending.push(item);
                    }
                }
                Err(e) => {
                    ctx.warn("xargs", e);
                    return Ok(1);
                }
            }
            if ended {
                break;
            }
            if l.ends_with([' ', '\t']) || pending.is_empty() {
                continue;
            }
            lines.push(std::mem::take(&mut pending));
        }
        if !pending.is_empty() {
            lines.push(pending);
        }
        line_groups = Some(lines.chunks(n).map(|c| c.concat()).collect());
    }
    let from_file = arg_file.is_some();
    let run = |ctx: &mut Ctx<'_, '_>, argv: &[String]| -> R<i32> {
        if trace {
            ctx.io.errln(&argv.join(" "));
        }
        if from_file {
            let mut sub = crate::interp::Io::new(ctx.sh.limits.max_output_bytes);
            let st = ctx.sh.dispatch(argv, ctx.stdin, &mut sub)?;
            let (o, e) = sub.into_streams();
            ctx.io.out(&o);
            ctx.io.err(&e);
            return Ok(st);
        }
        walk::run_argv(ctx, argv)
    };
    let items: Vec<String> = if line_groups.is_some() {
        line_groups.iter().flatten().flatten().cloned().collect()
    } else if nul || delim.is_some() {
        let d = if nul { 0 } else { delim.unwrap_or(b'\n') };
        let mut items: Vec<String> = input
            .split(|b| *b == d)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        // A delimiter at the end ends the last item; it does not start an empty one.
        if items.last().is_some_and(String::is_empty) {
            items.pop();
        }
        items
    } else if replace.is_some() {
        String::from_utf8_lossy(&input)
            .lines()
            .map(|l| l.trim_start().to_owned())
            .take_while(|l| eof.as_ref() != Some(l))
            .filter(|l| !l.is_empty())
            .collect()
    } else {
        match split_xargs(&String::from_utf8_lossy(&input)) {
            Ok(mut v) => {
                if let Some(at) = v.iter().position(|i| eof.as_ref() == Some(i)) {
                    v.truncate(at);
                }
                v
            }
            Err(e) => {
                ctx.warn("xargs", e);
                return Ok(1);
            }
        }
    };
    let mut st = 0;
    if items.is_empty() {
        if no_run_empty || replace.is_some() {
            return Ok(0);
        }
        let s = run(ctx, &cmd)?;
        return Ok(if s != 0 { 123 } else { 0 });
    }
    if let Some(r) = replace {
        for it in items {
            let argv: Vec<String> = cmd.iter().map(|a| a.replace(&r, &it)).collect();
            if run(ctx, &argv)? != 0 {
                st = 123;
            }
        }
        return Ok(st);
    }
    let chunk = max_args.unwrap_or(usize::MAX).max(1);
    let groups: Vec<Vec<String>> = match line_groups {
        Some(g) => g,
        None => items
            .chunks(chunk.min(items.len().max(1)))
            .map(<[String]>::to_vec)
            .collect(),
    };
    for group in groups {
        let mut argv = cmd.clone();
        argv.extend(group);
        let s = run(ctx, &argv)?;
        if s == 127 {
            return Ok(127);
        }
        if s != 0 {
            st = 123;
        }
    }
    Ok(st)
}

fn split_xargs(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                have = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\n') | None => {
                            let kind = if c == '\'' { "single" } else { "double" };
                            return Err(format!(
                                "unmatched {kind} quote; by default quotes are special to xargs unless you use the -0 option"
                            ));
                        }
                        Some(o) => cur.push(o),
                    }
                }
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    have = true;
                }
            }
            c if c.is_whitespace() => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                cur.push(c);
                have = true;
            }
        }
    }
    if have {
        out.push(cur);
    }
    Ok(out)
}
