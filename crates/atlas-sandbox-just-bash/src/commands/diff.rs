//! `diff` (GNU normal format, `-u`/`-U N` unified, `-q`, `-s`) on the `similar` crate.

use similar::{DiffOp, TextDiff};

use super::Ctx;
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
    let mut files = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        match a.as_str() {
            "-u" | "--unified" => unified = Some(3),
            "-U" => {
                unified = args.get(i + 1).and_then(|v| v.parse().ok());
                i += 1;
            }
            "-q" | "--brief" => brief = true,
            "-s" | "--report-identical-files" => report_same = true,
            "-N" | "--new-file" | "-a" | "--text" => {}
            s if s.starts_with("-U") => unified = s[2..].parse().ok(),
            s if s.starts_with('-') && s.len() > 1 => {
                ctx.warn("diff", format!("unrecognized option '{s}'"));
                ctx.io
                    .errln("diff: Try 'diff --help' for more information.");
                return Ok(2);
            }
            _ => files.push(a.clone()),
        }
        i += 1;
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
                let m = ctx.sh.fs.stat(&p).map(|m| m.mtime).unwrap_or(0);
                super::walk::full_stamp(m)
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
