//! `tree -J`: tree 2.1's JSON, line for line (two spaces per level, an empty or unopened
//! directory without `contents`, the report after a lone comma). A root that is not a directory
//! is refused: tree 2.1 prints broken JSON for it.

use super::{Opts, Walk, listing};
use crate::commands::Ctx;
use crate::commands::opts;
use crate::commands::sink::Sink;
use crate::interp::{R, UNSUPPORTED_EXIT};
use crate::vfs::{self, Kind};

pub(super) fn tree(ctx: &mut Ctx<'_, '_>, o: &Opts, w: &mut Walk, sink: &mut Sink) -> R<i32> {
    for root in &o.roots {
        let path = ctx.path(root);
        if !ctx.sh.fs.stat(&path).is_ok_and(|m| m.kind == Kind::Dir) {
            return Ok(opts::unsupported(
                ctx,
                "tree",
                &format!("-J with '{root}', which is not a directory,"),
            ));
        }
    }
    sink.put(ctx, b"[\n")?;
    for (k, root) in o.roots.iter().enumerate() {
        if k > 0 {
            sink.put(ctx, b",\n")?;
        }
        let path = ctx.path(root);
        let before = w.dirs + w.files;
        dir(ctx, o, w, sink, &path, root, root, 1)?;
        // As in the text form, the root counts once it showed something.
        if w.dirs + w.files > before {
            w.dirs += 1;
        }
    }
    sink.put(ctx, b"\n")?;
    if !o.no_report {
        let files = if o.dirs_only {
            String::new()
        } else {
            format!(",\"files\":{}", w.files)
        };
        let report = format!(
            ",\n  {{\"type\":\"report\",\"directories\":{}{files}}}\n",
            w.dirs
        );
        sink.put(ctx, report.as_bytes())?;
    } else {
        sink.put(ctx, b"\n")?;
    }
    sink.put(ctx, b"]\n")?;
    sink.flush(ctx)?;
    if w.refused_links {
        ctx.warn(
            "tree",
            "symbolic links were listed as files: link targets are not supported by this sandbox",
        );
        return Ok(UNSUPPORTED_EXIT);
    }
    Ok(0)
}

/// One directory at `depth` (its entries are at that depth) and, unless it shows none, its
/// `contents`.
#[allow(clippy::too_many_arguments)]
fn dir(
    ctx: &mut Ctx<'_, '_>,
    o: &Opts,
    w: &mut Walk,
    sink: &mut Sink,
    path: &str,
    shown: &str,
    name: &str,
    depth: usize,
) -> R<()> {
    let pad = "  ".repeat(depth);
    let entries = if o.level.is_none_or(|l| depth <= l) {
        listing(ctx, o, w, path)?
    } else {
        Vec::new()
    };
    let head = format!("{pad}{{\"type\":\"directory\",\"name\":{}", quote(name));
    if entries.is_empty() {
        sink.put(ctx, format!("{head}}}").as_bytes())?;
        return Ok(());
    }
    sink.put(ctx, format!("{head},\"contents\":[\n").as_bytes())?;
    for (i, e) in entries.iter().enumerate() {
        ctx.sh.visit(&mut w.visited)?;
        if i > 0 {
            sink.put(ctx, b",\n")?;
        }
        let child = vfs::child_path(path, &e.name);
        let child_shown = format!("{shown}/{}", e.name);
        let label = if o.full_path { &child_shown } else { &e.name };
        if e.kind == Kind::Dir {
            w.dirs += 1;
            stacker::maybe_grow(256 * 1024, 4 << 20, || {
                dir(ctx, o, w, sink, &child, &child_shown, label, depth + 1)
            })?;
        } else {
            if e.kind == Kind::Symlink {
                w.refused_links = true;
            }
            w.files += 1;
            let line = format!("{pad}  {{\"type\":\"file\",\"name\":{}}}", quote(label));
            sink.put(ctx, line.as_bytes())?;
        }
    }
    sink.put(ctx, format!("\n{pad}]}}").as_bytes())?;
    Ok(())
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
