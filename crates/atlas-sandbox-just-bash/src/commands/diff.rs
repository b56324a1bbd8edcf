//! `diff` (GNU normal format, `-u`/`-U N` unified, `-c`/`-C N` context, `-q`, `-s`, `-r`) on the
//! `similar` crate.

use similar::{DiffOp, TextDiff};

use super::Ctx;
use super::opts::{self, Arg, Spec};
use crate::interp::R;
use crate::vfs::Kind;

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

/// The output format.
#[derive(Clone, Copy)]
enum Format {
    Normal,
    /// `-u`/`-U N`: unified, N lines of context.
    Unified(usize),
    /// `-c`/`-C N`: context, N lines.
    Context(usize),
}

struct Opts {
    format: Format,
    brief: bool,
    report_same: bool,
    recursive: bool,
    /// The options as typed, for the `diff -r` header line of each pair.
    switches: String,
}

const SPEC: Spec = Spec::new(
    "diff",
    "uU:cC:qsar",
    &[
        ("unified", 'u', Arg::Optional),
        ("context", 'c', Arg::Optional),
        ("brief", 'q', Arg::No),
        ("report-identical-files", 's', Arg::No),
        ("text", 'a', Arg::No),
        ("recursive", 'r', Arg::No),
    ],
)
.status(2);

pub(super) fn diff(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut o = Opts {
        format: Format::Normal,
        brief: false,
        report_same: false,
        recursive: false,
        switches: args
            .iter()
            .filter(|a| !files.contains(a))
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
    };
    for (c, v) in flags {
        match c {
            'u' | 'U' | 'c' | 'C' => match v.as_deref().map_or(Ok(3), str::parse) {
                Ok(n) if matches!(c, 'u' | 'U') => o.format = Format::Unified(n),
                Ok(n) => o.format = Format::Context(n),
                Err(_) => {
                    return Ok(opts::usage(
                        ctx,
                        "diff",
                        format!("invalid context length '{}'", v.unwrap_or_default()),
                        2,
                    ));
                }
            },
            'q' => o.brief = true,
            's' => o.report_same = true,
            'r' => o.recursive = true,
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
        return Ok(opts::usage(ctx, "diff", msg, 2));
    }
    let dirs = (
        ctx.sh.fs.is_dir(&ctx.path(&files[0])),
        ctx.sh.fs.is_dir(&ctx.path(&files[1])),
    );
    let mut out = Vec::new();
    let st = match dirs {
        (true, true) => {
            let mut visited = 0u64;
            diff_dirs(ctx, &o, &files[0], &files[1], &mut out, &mut visited)?
        }
        // A directory and a file: the file of that name inside the directory.
        (true, false) | (false, true) => {
            let (d, f) = if dirs.0 { (0, 1) } else { (1, 0) };
            let base = files[f].rsplit('/').next().unwrap_or(&files[f]);
            let inner = format!("{}/{base}", files[d].trim_end_matches('/'));
            let (a, b) = if dirs.0 {
                (inner, files[1].clone())
            } else {
                (files[0].clone(), inner)
            };
            diff_files(ctx, &o, &a, &b, false, &mut out)?
        }
        (false, false) => diff_files(ctx, &o, &files[0], &files[1], false, &mut out)?,
    };
    ctx.io.out(&out);
    Ok(st)
}

/// `diff -r` over two directories: names in byte order, `Only in`, and each pair of files.
fn diff_dirs(
    ctx: &mut Ctx<'_, '_>,
    o: &Opts,
    a: &str,
    b: &str,
    out: &mut Vec<u8>,
    visited: &mut u64,
) -> R<i32> {
    ctx.sh.visit(visited)?;
    if !o.recursive {
        // Without -r GNU compares the files of the two directories and names subdirectories.
        return Ok(super::opts::unsupported(
            ctx,
            "diff",
            "comparing two directories without -r",
        ));
    }
    let list = |ctx: &Ctx<'_, '_>, d: &str| -> Vec<(String, Kind)> {
        let mut v: Vec<(String, Kind)> = ctx
            .sh
            .fs
            .read_dir(&ctx.path(d))
            .map(|es| es.into_iter().map(|e| (e.name, e.kind)).collect())
            .unwrap_or_default();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    let (la, lb) = (list(ctx, a), list(ctx, b));
    let mut names: Vec<&String> = la.iter().chain(lb.iter()).map(|(n, _)| n).collect();
    names.sort();
    names.dedup();
    let join = |d: &str, n: &str| format!("{}/{n}", d.trim_end_matches('/'));
    let mut st = 0;
    for n in names {
        let ka = la.iter().find(|(m, _)| m == n).map(|e| e.1);
        let kb = lb.iter().find(|(m, _)| m == n).map(|e| e.1);
        let (pa, pb) = (join(a, n), join(b, n));
        match (ka, kb) {
            (Some(_), None) => {
                out.extend_from_slice(format!("Only in {a}: {n}\n").as_bytes());
                st = st.max(1);
            }
            (None, Some(_)) => {
                out.extend_from_slice(format!("Only in {b}: {n}\n").as_bytes());
                st = st.max(1);
            }
            (Some(Kind::Dir), Some(Kind::Dir)) => {
                st = st.max(stacker::maybe_grow(64 * 1024, 1 << 20, || {
                    diff_dirs(ctx, o, &pa, &pb, out, visited)
                })?);
            }
            (Some(Kind::File), Some(Kind::File)) => {
                st = st.max(diff_files(ctx, o, &pa, &pb, true, out)?);
            }
            (Some(x), Some(y)) => {
                let what = |k: Kind| match k {
                    Kind::Dir => "directory",
                    Kind::File => "regular file",
                    Kind::Symlink => "symbolic link",
                    Kind::Special => "fifo",
                };
                if x == Kind::Dir || y == Kind::Dir {
                    out.extend_from_slice(
                        format!(
                            "File {pa} is a {} while file {pb} is a {}\n",
                            what(x),
                            what(y)
                        )
                        .as_bytes(),
                    );
                    st = st.max(1);
                } else {
                    return Ok(super::opts::unsupported(
                        ctx,
                        "diff",
                        &format!("comparing '{pa}' ({})", what(x)),
                    ));
                }
            }
            (None, None) => {}
        }
    }
    Ok(st)
}

/// Compares two files; `in_dirs` prints `diff -r`'s header line before a difference.
fn diff_files(
    ctx: &mut Ctx<'_, '_>,
    o: &Opts,
    fa: &str,
    fb: &str,
    in_dirs: bool,
    out_bytes: &mut Vec<u8>,
) -> R<i32> {
    let files = [fa.to_owned(), fb.to_owned()];
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
        if o.report_same {
            out_bytes.extend_from_slice(
                format!("Files {} and {} are identical\n", files[0], files[1]).as_bytes(),
            );
        }
        return Ok(0);
    }
    if o.brief {
        out_bytes
            .extend_from_slice(format!("Files {} and {} differ\n", files[0], files[1]).as_bytes());
        return Ok(1);
    }
    let diff = TextDiff::from_lines(a.as_str(), b.as_str());
    let old: Vec<&str> = a.split_inclusive('\n').collect();
    let new: Vec<&str> = b.split_inclusive('\n').collect();
    let mut out = String::new();
    if in_dirs {
        out.push_str(&format!("diff {} {} {}\n", o.switches, files[0], files[1]));
    }
    let stamp = |f: &str, ctx: &Ctx<'_, '_>| {
        let p = ctx.path(f);
        let (s, ns) = ctx
            .sh
            .fs
            .stat(&p)
            .map_or((0, 0), |m| (m.mtime, m.mtime_nsec));
        super::walk::full_stamp(s, ns)
    };
    match o.format {
        Format::Context(n) => {
            out.push_str(&format!(
                "*** {}\t{}\n--- {}\t{}\n",
                files[0],
                stamp(&files[0], ctx),
                files[1],
                stamp(&files[1], ctx)
            ));
            context_hunks(&mut out, &diff, &old, &new, n);
        }
        Format::Unified(n) => {
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
        Format::Normal => {
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
    out_bytes.extend_from_slice(out.as_bytes());
    Ok(1)
}

/// GNU's context range: `a,b`, one line `a`, no line the number before.
fn context_range(start: usize, len: usize) -> String {
    match len {
        0 => start.to_string(),
        1 => (start + 1).to_string(),
        _ => format!("{},{}", start + 1, start + len),
    }
}

/// The hunks of `diff -c`: old lines (`-` deleted, `!` changed) then new ones (`+`, `!`), each
/// side shown only when it has a change.
fn context_hunks(
    out: &mut String,
    diff: &TextDiff<'_, '_, '_, str>,
    old: &[&str],
    new: &[&str],
    n: usize,
) {
    for group in diff.grouped_ops(n) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (o0, n0) = (first.old_range().start, first.new_range().start);
        let (o1, n1) = (last.old_range().end, last.new_range().end);
        out.push_str("***************\n");
        out.push_str(&format!("*** {} ****\n", context_range(o0, o1 - o0)));
        let old_changes = group
            .iter()
            .any(|op| matches!(op, DiffOp::Delete { .. } | DiffOp::Replace { .. }));
        if old_changes {
            for op in &group {
                let mark = match op {
                    DiffOp::Equal { .. } => "  ",
                    DiffOp::Delete { .. } => "- ",
                    DiffOp::Replace { .. } => "! ",
                    DiffOp::Insert { .. } => continue,
                };
                push_lines(out, mark, &old[op.old_range()]);
            }
        }
        out.push_str(&format!("--- {} ----\n", context_range(n0, n1 - n0)));
        let new_changes = group
            .iter()
            .any(|op| matches!(op, DiffOp::Insert { .. } | DiffOp::Replace { .. }));
        if new_changes {
            for op in &group {
                let mark = match op {
                    DiffOp::Equal { .. } => "  ",
                    DiffOp::Insert { .. } => "+ ",
                    DiffOp::Replace { .. } => "! ",
                    DiffOp::Delete { .. } => continue,
                };
                push_lines(out, mark, &new[op.new_range()]);
            }
        }
    }
}
