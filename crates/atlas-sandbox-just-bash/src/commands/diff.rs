//! `diff` (GNU normal format, `-u`/`-U N` unified, `-c`/`-C N` context, `-q`, `-s`, `-r`, `-a`,
//! `-i`, `-b`, `-w`, `-B`), with GNU's own line matching ([`super::diff_seq`]) so the hunks are
//! GNU's.

use super::diff_seq::{self, Change, Equiv, Space};

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

/// Each line after `prefix`; a line without its newline gets GNU's marker.
fn push_lines(out: &mut Vec<u8>, prefix: &str, lines: &[&[u8]]) {
    for l in lines {
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(l);
        if !l.ends_with(b"\n") {
            out.extend_from_slice(b"\n\\ No newline at end of file\n");
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
    /// `-a`: files with a NUL byte are still compared as text.
    text: bool,
    /// `-i`, `-b`, `-w`: which lines count as equal.
    equiv: Equiv,
    /// `-B`: changes that only add or remove blank lines are not shown.
    ignore_blank: bool,
    /// The options as typed, for the `diff -r` header line of each pair.
    switches: String,
}

const SPEC: Spec = Spec::new(
    "diff",
    "uU:cC:qsaribwB",
    &[
        ("ignore-blank-lines", 'B', Arg::No),
        ("ignore-case", 'i', Arg::No),
        ("ignore-space-change", 'b', Arg::No),
        ("ignore-all-space", 'w', Arg::No),
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
        text: false,
        equiv: Equiv::default(),
        ignore_blank: false,
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
            'a' => o.text = true,
            'i' => o.equiv.ignore_case = true,
            'b' if o.equiv.space != Space::All => o.equiv.space = Space::Change,
            'w' => o.equiv.space = Space::All,
            'B' => o.ignore_blank = true,
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
    out: &mut Vec<u8>,
) -> R<i32> {
    let files = [fa.to_owned(), fb.to_owned()];
    let mut texts = Vec::new();
    for f in &files {
        match ctx.read_operand(f) {
            Ok(d) => texts.push(d),
            Err(e) => {
                ctx.warn("diff", format!("{f}: {e}"));
                return Ok(2);
            }
        }
    }
    let (a, b) = (texts[0].as_slice(), texts[1].as_slice());
    let exact = !o.equiv.ignore_case && o.equiv.space == Space::Exact && !o.ignore_blank;
    let identical = |out: &mut Vec<u8>| {
        if o.report_same {
            out.extend_from_slice(
                format!("Files {} and {} are identical\n", files[0], files[1]).as_bytes(),
            );
        }
        Ok(0)
    };
    if a == b {
        return identical(out);
    }
    // GNU looks for a NUL in the first block it reads of each file (4096 bytes, the usual
    // st_blksize); a hit makes the pair binary: compared as bytes, no script.
    let binary = |t: &[u8]| t[..t.len().min(4096)].contains(&0);
    if !o.text && (binary(a) || binary(b)) {
        let what = if o.brief { "Files" } else { "Binary files" };
        out.extend_from_slice(format!("{what} {} and {} differ\n", files[0], files[1]).as_bytes());
        return Ok(1);
    }
    // Without -i/-b/-w GNU compares `-q` operands as bytes; with them it needs the script.
    if o.brief && exact {
        out.extend_from_slice(format!("Files {} and {} differ\n", files[0], files[1]).as_bytes());
        return Ok(1);
    }
    let context = match o.format {
        Format::Normal => 0,
        Format::Unified(n) | Format::Context(n) => n,
    };
    let sh = &*ctx.sh;
    // The search keeps a few words per line (classes, diagonals, flags) and a copy of both texts.
    let lines = a.iter().chain(b).filter(|&&c| c == b'\n').count() as u64 + 2;
    let _held = sh
        .meter
        .hold(lines.saturating_mul(diff_seq::BYTES_PER_LINE) + (a.len() + b.len()) as u64)
        .or_else(crate::shell::over_budget)?;
    let changes = diff_seq::script(a, b, context, o.equiv, &mut || sh.tick())?;
    let old = diff_seq::lines(a);
    let new = diff_seq::lines(b);
    // With -B a change of blank lines only is ignorable: it alone is no difference.
    let ignorable: Vec<bool> = changes
        .iter()
        .map(|c| o.ignore_blank && blank_only(c, &old, &new, o.equiv.space))
        .collect();
    if ignorable.iter().all(|&i| i) {
        return identical(out);
    }
    if o.brief {
        out.extend_from_slice(format!("Files {} and {} differ\n", files[0], files[1]).as_bytes());
        return Ok(1);
    }
    if in_dirs {
        out.extend_from_slice(
            format!("diff {} {} {}\n", o.switches, files[0], files[1]).as_bytes(),
        );
    }
    // -u prints the full timestamp, -c the traditional one, as GNU does.
    let unified = matches!(o.format, Format::Unified(_));
    let stamp = |f: &str, ctx: &Ctx<'_, '_>| {
        let p = ctx.path(f);
        let (s, ns) = ctx
            .sh
            .fs
            .stat(&p)
            .map_or((0, 0), |m| (m.mtime, m.mtime_nsec));
        if unified {
            super::walk::full_stamp(s, ns)
        } else {
            super::walk::ctime_stamp(s, ns)
        }
    };
    let marks = match o.format {
        Format::Normal => None,
        Format::Context(_) => Some(("***", "---")),
        Format::Unified(_) => Some(("---", "+++")),
    };
    if let Some((m0, m1)) = marks {
        out.extend_from_slice(
            format!(
                "{m0} {}\t{}\n{m1} {}\t{}\n",
                files[0],
                stamp(&files[0], ctx),
                files[1],
                stamp(&files[1], ctx)
            )
            .as_bytes(),
        );
    }
    match o.format {
        Format::Normal => {
            for (c, _) in changes.iter().zip(&ignorable).filter(|(_, i)| !**i) {
                normal(out, c, &old, &new);
            }
        }
        Format::Unified(n) | Format::Context(n) => {
            for (h, ign) in hunks(&changes, &ignorable, n) {
                // A hunk of ignorable changes only is not printed; one with any other change
                // shows them all.
                if ign.iter().all(|&i| i) {
                    continue;
                }
                if matches!(o.format, Format::Unified(_)) {
                    unified_hunk(out, h, &old, &new, n);
                } else {
                    context_hunk(out, h, &old, &new, n);
                }
            }
        }
    }
    Ok(1)
}

/// Whether a change only deletes and inserts blank lines (`-B`); with `-b`/`-w` a line of blanks
/// is blank too.
fn blank_only(c: &Change, old: &[&[u8]], new: &[&[u8]], space: Space) -> bool {
    let blank = |l: &&[u8]| {
        let body = l.strip_suffix(b"\n").unwrap_or(l);
        match space {
            Space::Exact => body.is_empty(),
            Space::Change | Space::All => body.iter().all(|&b| diff_seq::is_space(b)),
        }
    };
    old[c.line0..c.line0 + c.deleted].iter().all(blank)
        && new[c.line1..c.line1 + c.inserted].iter().all(blank)
}

/// The default format: one `NcM`/`NaM`/`NdM` block per change.
fn normal(out: &mut Vec<u8>, c: &Change, old: &[&[u8]], new: &[&[u8]]) {
    let (r0, r1) = (range(c.line0, c.deleted), range(c.line1, c.inserted));
    let del = &old[c.line0..c.line0 + c.deleted];
    let ins = &new[c.line1..c.line1 + c.inserted];
    match (c.deleted, c.inserted) {
        (_, 0) => {
            out.extend_from_slice(format!("{r0}d{}\n", c.line1).as_bytes());
            push_lines(out, "< ", del);
        }
        (0, _) => {
            out.extend_from_slice(format!("{}a{r1}\n", c.line0).as_bytes());
            push_lines(out, "> ", ins);
        }
        _ => {
            out.extend_from_slice(format!("{r0}c{r1}\n").as_bytes());
            push_lines(out, "< ", del);
            out.extend_from_slice(b"---\n");
            push_lines(out, "> ", ins);
        }
    }
}

/// Changes grouped into hunks, with their ignorable flags: GNU starts a new hunk when more than
/// `2 * n` unchanged lines separate two changes, or `n` when the second is ignorable.
fn hunks<'c>(
    changes: &'c [Change],
    ignorable: &'c [bool],
    n: usize,
) -> Vec<(&'c [Change], &'c [bool])> {
    let mut out = Vec::new();
    let mut start = 0;
    for k in 1..=changes.len() {
        let split = changes.get(k).is_none_or(|next| {
            let prev = &changes[k - 1];
            let thresh = if ignorable[k] {
                n
            } else {
                n.saturating_mul(2).saturating_add(1)
            };
            next.line0 - (prev.line0 + prev.deleted) >= thresh
        });
        if split {
            out.push((&changes[start..k], &ignorable[start..k]));
            start = k;
        }
    }
    out
}

/// A hunk's lines in each file with `n` lines of context, as half-open ranges.
fn hunk_bounds(h: &[Change], old: usize, new: usize, n: usize) -> ((usize, usize), (usize, usize)) {
    let (first, last) = (h[0], h[h.len() - 1]);
    let lo0 = first.line0.saturating_sub(n);
    let lo1 = first.line1.saturating_sub(n);
    let hi0 = (last.line0 + last.deleted).saturating_add(n).min(old);
    let hi1 = (last.line1 + last.inserted).saturating_add(n).min(new);
    ((lo0, hi0), (lo1, hi1))
}

/// `-u`: `@@ -a,n +b,m @@`, then context, `-` and `+` lines in file order.
fn unified_hunk(out: &mut Vec<u8>, h: &[Change], old: &[&[u8]], new: &[&[u8]], n: usize) {
    let ((lo0, hi0), (lo1, hi1)) = hunk_bounds(h, old.len(), new.len(), n);
    // An empty range names the line before it, with a count of 0; one line, no count.
    let r = |lo: usize, hi: usize| match hi - lo {
        0 => format!("{lo},0"),
        1 => format!("{hi}"),
        len => format!("{},{len}", lo + 1),
    };
    out.extend_from_slice(format!("@@ -{} +{} @@\n", r(lo0, hi0), r(lo1, hi1)).as_bytes());
    let mut i = lo0;
    for c in h {
        push_lines(out, " ", &old[i..c.line0]);
        push_lines(out, "-", &old[c.line0..c.line0 + c.deleted]);
        push_lines(out, "+", &new[c.line1..c.line1 + c.inserted]);
        i = c.line0 + c.deleted;
    }
    push_lines(out, " ", &old[i..hi0]);
}

/// `-c`: the old side (`-` deleted, `!` changed) then the new side (`+`, `!`), each printed only
/// when it has a change.
fn context_hunk(out: &mut Vec<u8>, h: &[Change], old: &[&[u8]], new: &[&[u8]], n: usize) {
    let ((lo0, hi0), (lo1, hi1)) = hunk_bounds(h, old.len(), new.len(), n);
    out.extend_from_slice(b"***************\n");
    out.extend_from_slice(format!("*** {} ****\n", range(lo0, hi0 - lo0)).as_bytes());
    let side = |out: &mut Vec<u8>, lines: &[&[u8]], lo: usize, hi: usize, old_side: bool| {
        let mut k = 0;
        for i in lo..hi {
            let span = |c: &Change| {
                if old_side {
                    (c.line0, c.deleted, c.inserted)
                } else {
                    (c.line1, c.inserted, c.deleted)
                }
            };
            while k < h.len() && {
                let (s, len, _) = span(&h[k]);
                s + len <= i
            } {
                k += 1;
            }
            let mark = match h.get(k).map(span) {
                Some((s, _, other)) if s <= i => {
                    if other > 0 {
                        "! "
                    } else if old_side {
                        "- "
                    } else {
                        "+ "
                    }
                }
                _ => "  ",
            };
            push_lines(out, mark, &lines[i..=i]);
        }
    };
    if h.iter().any(|c| c.deleted > 0) {
        side(out, old, lo0, hi0, true);
    }
    out.extend_from_slice(format!("--- {} ----\n", range(lo1, hi1 - lo1)).as_bytes());
    if h.iter().any(|c| c.inserted > 0) {
        side(out, new, lo1, hi1, false);
    }
}
