//! `diff` (GNU normal format, `-u`/`-U N` unified, `-q`, `-s`) on the `similar` crate.

use similar::{DiffOp, TextDiff};

use super::Ctx;
use super::opts::{Arg, Spec};
use crate::interp::R;

fn range(start: usize, len: usize) -> String {
    // 1-based; an empty range names the line before it.
    match len {
        0 => start.to_string(),
        1 => (start + 1).to_string(),
        _ => format!("{},{}", start + 1, start + len),
    }
}

fn push_lines(out: &mut String, prefix: &str, lines: &[&str]) {
    for l in lines {
        out.push_str(prefix);
        match l.strip_suffix('\n') {
            Some(body) => {
                out.push_str(body);
                out.push('\n');
            }
            None => {
                out.push_str(l);
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
}

pub(super) fn diff(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut unified: Option<usize> = None;
    let mut brief = false;
    let mut report_same = false;
    const SPEC: Spec = Spec::new(
        "diff",
        "uU:qsa",
        &[
            ("unified", 'u', Arg::Optional),
            ("brief", 'q', Arg::No),
            ("report-identical-files", 's', Arg::No),
            ("text", 'a', Arg::No),
        ],
    )
    .status(2);
    let (flags, files) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    for (c, v) in flags {
        match c {
            'u' | 'U' => match v.as_deref().map_or(Ok(3), str::parse) {
                Ok(n) => unified = Some(n),
                Err(_) => {
                    ctx.warn(
                        "diff",
                        format!("invalid context length '{}'", v.unwrap_or_default()),
                    );
                    ctx.io
                        .errln("diff: Try 'diff --help' for more information.");
                    return Ok(2);
                }
            },
            'q' => brief = true,
            's' => report_same = true,
            _ => {}
        }
    }
    if files.len() != 2 {
        let msg = if files.len() < 2 {
            format!(
                "missing operand after '{}'",
                files.last().cloned().unwrap_or_else(|| "diff".to_owned())
            )
        } else {
            format!("extra operand '{}'", files[2])
        };
        ctx.warn("diff", msg);
        ctx.io
            .errln("diff: Try 'diff --help' for more information.");
        return Ok(2);
    }
    let mut texts = Vec::new();
    for f in &files {
        match ctx.read_operand(f) {
            Ok(d) => texts.push(String::from_utf8_lossy(&d).into_owned()),
            Err(e) => {
                ctx.warn("diff", format!("{f}: {e}"));
                return Ok(2);
            }
        }
    }
    let (a, b) = (&texts[0], &texts[1]);
    if a == b {
        if report_same {
            ctx.io
                .out(format!("Files {} and {} are identical\n", files[0], files[1]).as_bytes());
        }
        return Ok(0);
    }
    if brief {
        ctx.io
            .out(format!("Files {} and {} differ\n", files[0], files[1]).as_bytes());
        return Ok(1);
    }
    let diff = TextDiff::from_lines(a.as_str(), b.as_str());
    let old: Vec<&str> = a.split_inclusive('\n').collect();
    let new: Vec<&str> = b.split_inclusive('\n').collect();
    let mut out = String::new();
    match unified {
        Some(n) => {
            let stamp = |f: &str, ctx: &Ctx<'_, '_>| {
                let p = ctx.path(f);
                let (s, ns) = ctx
                    .sh
                    .fs
                    .stat(&p)
                    .map_or((0, 0), |m| (m.mtime, m.mtime_nsec));
                super::walk::full_stamp(s, ns)
            };
            out.push_str(&format!(
                "--- {}\t{}\n+++ {}\t{}\n",
                files[0],
                stamp(&files[0], ctx),
                files[1],
                stamp(&files[1], ctx)
            ));
            let body = diff.unified_diff().context_radius(n).to_string();
            out.push_str(&body);
        }
        None => {
            for op in diff.ops() {
                match *op {
                    DiffOp::Equal { .. } => {}
                    DiffOp::Delete {
                        old_index,
                        old_len,
                        new_index,
                    } => {
                        out.push_str(&format!("{}d{}\n", range(old_index, old_len), new_index));
                        push_lines(&mut out, "< ", &old[old_index..old_index + old_len]);
                    }
                    DiffOp::Insert {
                        old_index,
                        new_index,
                        new_len,
                    } => {
                        out.push_str(&format!("{}a{}\n", old_index, range(new_index, new_len)));
                        push_lines(&mut out, "> ", &new[new_index..new_index + new_len]);
                    }
                    DiffOp::Replace {
                        old_index,
                        old_len,
                        new_index,
                        new_len,
                    } => {
                        out.push_str(&format!(
                            "{}c{}\n",
                            range(old_index, old_len),
                            range(new_index, new_len)
                        ));
                        push_lines(&mut out, "< ", &old[old_index..old_index + old_len]);
                        out.push_str("---\n");
                        push_lines(&mut out, "> ", &new[new_index..new_index + new_len]);
                    }
                }
            }
        }
    }
    ctx.io.out(out.as_bytes());
    Ok(1)
}
