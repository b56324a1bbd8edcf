//! `column` (util-linux 2.38): `-t` tables (`-s` separators, `-o` output separator, `-N` names,
//! `-R` right-aligned columns) and the default fill-columns mode (`-c` width, `-x` across), with
//! util-linux's rules: whitespace separators merge, `-s` ones do not; empty lines are dropped;
//! short rows get empty cells; under `LC_ALL=C` bytes outside ASCII print as `\xNN`.

use super::Ctx;
use super::opts::{self, Arg, Spec};
use super::sink::Sink;
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "column",
    "txs:o:N:R:c:",
    &[
        ("table", 't', Arg::No),
        ("fillrows", 'x', Arg::No),
        ("separator", 's', Arg::Required),
        ("output-separator", 'o', Arg::Required),
        ("table-columns", 'N', Arg::Required),
        ("table-right", 'R', Arg::Required),
        ("output-width", 'c', Arg::Required),
    ],
)
.gnu(
    "tnONlEdeHRTWLJripcosxhV",
    &[
        "table",
        "table-name",
        "table-order",
        "table-columns",
        "table-columns-limit",
        "table-noextreme",
        "table-noheadings",
        "table-header-repeat",
        "table-hide",
        "table-right",
        "table-truncate",
        "table-wrap",
        "keep-empty-lines",
        "json",
        "tree",
        "tree-id",
        "tree-parent",
        "output-width",
        "output-separator",
        "separator",
        "fillrows",
        "help",
        "version",
    ],
);

struct Opts {
    table: bool,
    separators: Option<Vec<u8>>,
    out_sep: String,
    names: Option<Vec<String>>,
    right: Option<String>,
    width: usize,
    across: bool,
    files: Vec<String>,
}

/// The options, or the `-c` value util-linux calls invalid.
fn parse(flags: Vec<(char, Option<String>)>, files: Vec<String>) -> Result<Opts, String> {
    let mut o = Opts {
        table: false,
        separators: None,
        out_sep: "  ".to_owned(),
        names: None,
        right: None,
        width: 80,
        across: false,
        files,
    };
    for (c, v) in flags {
        let v = v.unwrap_or_default();
        match c {
            't' => o.table = true,
            'x' => o.across = true,
            's' => o.separators = Some(v.into_bytes()),
            'o' => o.out_sep = v,
            'N' => o.names = Some(v.split(',').map(str::to_owned).collect()),
            'R' => o.right = Some(v),
            _ => o.width = v.parse().map_err(|_| v)?,
        }
    }
    Ok(o)
}

/// A cell as util-linux prints it in the C locale, and its width.
fn safe(cell: &[u8]) -> (String, usize) {
    let mut s = String::with_capacity(cell.len());
    let mut w = 0;
    for &b in cell {
        if b.is_ascii() {
            s.push(b as char);
            if !b.is_ascii_control() {
                w += 1;
            }
        } else {
            s.push_str(&format!("\\x{b:02x}"));
            w += 4;
        }
    }
    (s, w)
}

pub(super) fn column(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let (flags, files) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let o = match parse(flags, files) {
        Ok(o) => o,
        Err(v) => {
            ctx.warn("column", format!("invalid columns argument: '{v}'"));
            return Ok(1);
        }
    };
    if !o.table && (o.names.is_some() || o.right.is_some()) {
        return Ok(opts::unsupported(ctx, "column", "-N or -R without -t"));
    }
    let files = if o.files.is_empty() {
        vec!["-".to_owned()]
    } else {
        o.files.clone()
    };
    let mut parts = Vec::new();
    let mut st = 0;
    for f in &files {
        match ctx.read_operand(f) {
            Ok(d) => parts.push(d),
            Err(e) => {
                ctx.warn("column", format!("{f}: {e}"));
                st = 1;
            }
        }
    }
    // The joined input, and cells up to five times its size once escaped and split.
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let _held = super::sink::hold(ctx, total.saturating_mul(6))?;
    let mut input = Vec::with_capacity(total);
    for p in &parts {
        input.extend_from_slice(p);
    }
    let lines: Vec<&[u8]> = input
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
        .collect();
    let mut sink = Sink::new();
    if o.table {
        table(ctx, &o, &lines, &mut sink)?;
    } else {
        fill(ctx, &o, &lines, &mut sink)?;
    }
    sink.flush(ctx)?;
    Ok(st)
}

fn split_row<'l>(line: &'l [u8], seps: Option<&[u8]>) -> Vec<&'l [u8]> {
    match seps {
        Some(seps) => line.split(|b| seps.contains(b)).collect(),
        None => line
            .split(|b| matches!(b, b' ' | b'\t'))
            .filter(|c| !c.is_empty())
            .collect(),
    }
}

fn table(ctx: &mut Ctx<'_, '_>, o: &Opts, lines: &[&[u8]], sink: &mut Sink) -> R<()> {
    let mut rows: Vec<Vec<(String, usize)>> = Vec::with_capacity(lines.len() + 1);
    if let Some(names) = &o.names {
        rows.push(names.iter().map(|n| safe(n.as_bytes())).collect());
    }
    for (k, l) in lines.iter().enumerate() {
        if k % 4096 == 0 {
            ctx.sh.tick()?;
        }
        rows.push(
            split_row(l, o.separators.as_deref())
                .into_iter()
                .map(safe)
                .collect(),
        );
    }
    let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; ncols];
    for r in &rows {
        for (c, (_, w)) in r.iter().enumerate() {
            widths[c] = widths[c].max(*w);
        }
    }
    let mut right = vec![false; ncols];
    if let Some(spec) = &o.right {
        for name in spec.split(',') {
            let idx = match name.parse::<usize>() {
                Ok(n) if n >= 1 => Some(n - 1),
                _ => o
                    .names
                    .as_ref()
                    .and_then(|ns| ns.iter().position(|n| n == name)),
            };
            match idx {
                Some(i) if i < ncols => right[i] = true,
                _ => {
                    ctx.warn("column", format!("undefined column name '{name}'"));
                    return Ok(());
                }
            }
        }
    }
    let mut line = String::new();
    for r in &rows {
        line.clear();
        for c in 0..ncols {
            let (text, w) = r.get(c).map(|(t, w)| (t.as_str(), *w)).unwrap_or(("", 0));
            if c > 0 {
                line.push_str(&o.out_sep);
            }
            let pad = " ".repeat(widths[c] - w);
            if right[c] {
                line.push_str(&pad);
                line.push_str(text);
            } else {
                line.push_str(text);
                // The last column is not padded.
                if c + 1 < ncols {
                    line.push_str(&pad);
                }
            }
        }
        line.push('\n');
        if !sink.put(ctx, line.as_bytes())? {
            break;
        }
    }
    Ok(())
}

/// util-linux's columnate: entries in columns a tab stop wider than the longest, down first (or
/// across with `-x`), separated by tabs.
fn fill(ctx: &mut Ctx<'_, '_>, o: &Opts, lines: &[&[u8]], sink: &mut Sink) -> R<()> {
    let ents: Vec<(String, usize)> = lines.iter().map(|l| safe(l)).collect();
    let longest = ents.iter().map(|e| e.1).max().unwrap_or(0);
    if ents.is_empty() {
        return Ok(());
    }
    let maxlength = (longest + 8) & !7;
    if maxlength >= o.width {
        for (e, _) in &ents {
            sink.put(ctx, e.as_bytes())?;
            sink.put(ctx, b"\n")?;
        }
        return Ok(());
    }
    let numcols = (o.width / maxlength).max(1);
    let tabs_to = |out: &mut String, chcnt: &mut usize, endcol: usize| {
        loop {
            let cnt = (*chcnt + 8) & !7;
            if cnt > endcol {
                break;
            }
            out.push('\t');
            *chcnt = cnt;
        }
    };
    let mut out = String::new();
    if o.across {
        let (mut chcnt, mut col, mut endcol) = (0usize, 0usize, maxlength);
        for (k, (e, w)) in ents.iter().enumerate() {
            out.push_str(e);
            chcnt += w;
            if k + 1 == ents.len() {
                break;
            }
            col += 1;
            if col == numcols {
                chcnt = 0;
                col = 0;
                endcol = maxlength;
                out.push('\n');
            } else {
                tabs_to(&mut out, &mut chcnt, endcol);
                endcol += maxlength;
            }
            if out.len() > 1 << 15 {
                sink.put(ctx, out.as_bytes())?;
                out.clear();
            }
        }
        if chcnt > 0 {
            out.push('\n');
        }
    } else {
        let numrows = ents.len().div_ceil(numcols);
        for row in 0..numrows {
            let mut endcol = maxlength;
            let mut chcnt = 0;
            let mut base = row;
            for _ in 0..numcols {
                out.push_str(&ents[base].0);
                chcnt += ents[base].1;
                base += numrows;
                if base >= ents.len() {
                    break;
                }
                tabs_to(&mut out, &mut chcnt, endcol);
                endcol += maxlength;
            }
            out.push('\n');
            if out.len() > 1 << 15 {
                sink.put(ctx, out.as_bytes())?;
                out.clear();
            }
        }
    }
    sink.put(ctx, out.as_bytes())?;
    Ok(())
}
