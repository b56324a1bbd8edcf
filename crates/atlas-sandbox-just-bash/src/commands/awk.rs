//! A useful subset of POSIX `awk`: BEGIN/END, pattern-action rules (expressions, regexes,
//! ranges), fields and `NF`/`NR`/`FS`/`OFS`/`ORS`, associative arrays, `print`/`printf`,
//! `if`/`while`/`do`/`for`/`for-in`, `next`/`exit`/`break`/`continue`/`delete`, and the string
//! and math built-ins, `print > file`/`>> file` (open until `close`, as in awk), `getline` from
//! the input or `< file`, user-defined functions (scalars by value, arrays by reference,
//! recursion to a bounded depth), and gawk's `gensub`, `asort`/`asorti`, `split`'s separators,
//! `ENVIRON`, `CONVFMT`, regex `RS`, `RT`. Not supported (clear error, exit 2): pipes
//! (`cmd | getline`, `print | cmd`), `system()` with a command (`system("")` only flushes),
//! and the gawk features the lexer names.

use std::collections::HashMap;
use std::time::Instant;

mod ast;
mod builtins;
mod eval;
mod format;
mod func;
mod gawk;
mod io;
mod lex;
mod parse;
mod parse_func;
mod random;
mod re;
mod records;
mod sprintf;
mod state;
mod value;
use ast::{Pattern, Stmt};
use io::{MainInput, Streams};
use lex::lex;
use parse::P;
use re::{LATIN1, to_latin1, unescape_awk_string};
use records::next_record;
use value::Val;

use super::opts::{Arg, Spec};
use super::{Ctx, or_stdin};
use crate::interp::R;
use crate::memory::Held;
pub(crate) use value::fmt_g;

enum Flow {
    Next,
    NextFile,
    Exit(i32),
    Break,
    Continue,
    Return(Val),
}

struct Awk<'c, 's, 'a> {
    /// The shell: files for redirections and `getline`, stderr.
    ctx: &'c mut Ctx<'s, 'a>,
    streams: Streams,
    main: Option<MainInput>,
    /// More input files follow the one being read.
    more_files: bool,
    /// Running BEGIN: a plain `getline` there would open the first input file.
    in_begin: bool,
    /// The status of the last `exit N`: an `exit` without one (in END) keeps it, as gawk does.
    exit_status: i32,
    /// Looked up several times per record (`NR`, `FNR`, `FS`, `OFS`...): a seeded fast hasher
    /// rather than SipHash; the keys are names from the program text.
    vars: HashMap<String, Val, foldhash::fast::RandomState>,
    arrays: HashMap<String, HashMap<String, Val>>,
    fields: Vec<String>,
    record: String,
    nf: usize,
    out: Vec<u8>,
    steps: u64,
    max_steps: u64,
    /// The exec's deadline: awk loops run inside one shell command, between the shell's checks.
    deadline: Instant,
    rng: random::GawkRandom,
    /// What `srand` returns next: the seed before it (gawk starts at 1).
    seed: i64,
    /// Bytes of variables, arrays, the record and its fields, kept up to date as they change.
    bytes: u64,
    /// Those bytes plus the pending output, charged to the exec's memory budget.
    held: Held,
    /// The C locale: `length` counts bytes.
    c_locale: bool,
    funcs: HashMap<String, std::rc::Rc<ast::Func>>,
    /// Parameters given an array (or an untyped name): the name they stand for.
    aliases: HashMap<String, String>,
    /// User function calls under way, and how many may nest.
    depth: usize,
    max_depth: usize,
    uses_rt: bool,
    /// `RS` was assigned since the main input last looked (every assignment goes through
    /// `set_var`), so the next record is read under the new one.
    rs_changed: bool,
    /// `RS` is empty: a newline also ends a field of a one-character FS.
    paragraph: bool,
}

impl Awk<'_, '_, '_> {
    /// Characters; in the C locale text is Latin-1 inside, so that is bytes.
    fn text_len(&self, s: &str) -> usize {
        s.chars().count()
    }
}

type ER<T> = Result<T, Result<Flow, String>>;

fn err<T>(msg: impl Into<String>) -> ER<T> {
    Err(Err(msg.into()))
}

pub(super) fn awk(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    const SPEC: Spec = Spec::new(
        "awk",
        "F:v:",
        &[
            ("field-separator", 'F', Arg::Required),
            ("assign", 'v', Arg::Required),
        ],
    )
    .status(2)
    .posix();
    let (flags, mut files) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut fs: Option<String> = None;
    let mut assigns = Vec::new();
    for (c, v) in flags {
        match c {
            'F' => fs = v,
            _ => assigns.extend(v),
        }
    }
    let program = (!files.is_empty()).then(|| files.remove(0));
    let Some(src) = program else {
        ctx.io
            .errln("usage: awk [-F fs][-v var=value][prog | -f progfile][file ...]");
        // gawk 5.2 prints its usage and exits 1 when there is no program.
        return Ok(1);
    };
    // The C locale reads bytes: the program, its input and its variables become Latin-1 text
    // (one character per byte), so `.`, `length` and `substr` count bytes; output turns back.
    let c_locale = super::grep::c_locale(ctx);
    LATIN1.with(|l| l.set(c_locale));
    let latin1 = |s: String| {
        if c_locale { to_latin1(s.as_bytes()) } else { s }
    };
    let src = latin1(src);
    let fs = fs.map(latin1);
    let assigns: Vec<String> = assigns.into_iter().map(latin1).collect();
    let files: Vec<String> = files
        .into_iter()
        .map(|f| {
            if assignment(&f).is_some() {
                latin1(f)
            } else {
                f
            }
        })
        .collect();
    let toks = match lex(&src) {
        Ok(t) => t,
        Err(e) => {
            // gawk exits 1 on a syntax error; what the sandbox lacks is refused with 2.
            let refused = e.contains("not supported");
            ctx.warn("awk", e);
            return Ok(if refused { 2 } else { 1 });
        }
    };
    // `RT` is set for each record only when the program reads it.
    let uses_rt = toks
        .iter()
        .any(|t| matches!(t, lex::Tok::Ident(w) if w == "RT"));
    let mut p = P::new(toks);
    let items = match p.program() {
        Ok(it) => it,
        Err(e) => {
            // gawk exits 1 on a syntax error, 2 on its fatal ones (a function not defined);
            // what the sandbox lacks is refused with 2.
            let refused = e.contains("not supported") || e.starts_with("fatal:");
            ctx.warn("awk", e);
            return Ok(if refused { 2 } else { 1 });
        }
    };
    for w in std::mem::take(&mut p.warnings) {
        ctx.warn("awk", w);
    }
    let max_steps = ctx.sh.limits.max_loop_iterations.saturating_mul(100);
    let max_depth = (ctx.sh.limits.max_call_depth as usize).saturating_mul(10);
    let deadline = ctx.sh.deadline();
    let held = match ctx.sh.meter.hold(0) {
        Ok(h) => h,
        Err(o) => return crate::interp::over_budget(o),
    };
    let mut awk = Awk {
        ctx,
        streams: Streams::default(),
        main: None,
        more_files: false,
        in_begin: false,
        exit_status: 0,
        vars: HashMap::default(),
        arrays: HashMap::new(),
        fields: Vec::new(),
        record: String::new(),
        nf: 0,
        out: Vec::new(),
        steps: 0,
        max_steps,
        deadline,
        rng: random::GawkRandom::new(),
        seed: 1,
        bytes: 0,
        held,
        c_locale,
        funcs: std::mem::take(&mut p.funcs),
        aliases: HashMap::new(),
        depth: 0,
        max_depth,
        uses_rt,
        rs_changed: false,
        paragraph: false,
    };
    // `-F` is read as a string literal would be (`-F '\\|'` is the regex `\|`); `t` is a tab.
    let fs_val = fs.map(|f| {
        if f == "t" {
            "\t".to_owned()
        } else {
            unescape_awk_string(&f)
        }
    });
    awk.vars.insert(
        "FS".into(),
        Val::Str(fs_val.unwrap_or_else(|| " ".to_owned())),
    );
    awk.vars.insert("OFS".into(), Val::Str(" ".into()));
    awk.vars.insert("ORS".into(), Val::Str("\n".into()));
    awk.vars.insert("SUBSEP".into(), Val::Str("\x1c".into()));
    awk.vars.insert("NR".into(), Val::Num(0.0));
    value::CONVFMT.with(|c| *c.borrow_mut() = None);
    awk.vars.insert("CONVFMT".into(), Val::Str("%.6g".into()));
    let environ = awk.ctx.sh.env_pairs_bash_order();
    if let Err(e) = awk.set_environ(environ) {
        awk.ctx.warn("awk", e);
        return Ok(2);
    }
    for a in &assigns {
        if let Some((k, v)) = a.split_once('=') {
            let v = crate::commands::unescape_ansi(v);
            if k == "CONVFMT"
                && let Err(e) = state::set_convfmt(&v)
            {
                awk.ctx.warn("awk", e);
                return Ok(2);
            }
            if k == "RS" {
                awk.paragraph = v.is_empty();
            }
            awk.vars.insert(k.to_owned(), Val::StrNum(v));
        }
    }
    let mut exit_code: Option<i32> = None;
    let mut fatal: Option<String> = None;
    let run_items = |awk: &mut Awk,
                     begin: bool,
                     end: bool,
                     exit_code: &mut Option<i32>,
                     fatal: &mut Option<String>|
     -> bool {
        for (pat, action) in &items {
            let applies = match pat {
                Pattern::Begin => begin,
                Pattern::End => end,
                _ => false,
            };
            if !applies {
                continue;
            }
            if let Some(stmts) = action {
                for s in stmts {
                    match awk.exec(s) {
                        Ok(()) => {}
                        Err(Ok(Flow::Exit(c))) => {
                            *exit_code = Some(c);
                            return false;
                        }
                        Err(Ok(f @ (Flow::Next | Flow::NextFile))) => {
                            // Only a function can bring these here; the parser refuses them
                            // in the actions themselves.
                            let what = if matches!(f, Flow::Next) {
                                "next"
                            } else {
                                "nextfile"
                            };
                            let rule = if begin { "BEGIN" } else { "END" };
                            *fatal = Some(format!(
                                "fatal: `{what}' cannot be called from a `{rule}' rule"
                            ));
                            return false;
                        }
                        Err(Ok(_)) => break,
                        Err(Err(e)) => {
                            *fatal = Some(e);
                            return false;
                        }
                    }
                }
            }
        }
        true
    };
    let has_main = items
        .iter()
        .any(|(p, _)| !matches!(p, Pattern::Begin | Pattern::End));
    let has_end = items.iter().any(|(p, _)| matches!(p, Pattern::End));
    let st = 0;
    awk.in_begin = true;
    let begin_done = run_items(&mut awk, true, false, &mut exit_code, &mut fatal);
    awk.in_begin = false;
    if !begin_done && fatal.is_none() && exit_code.is_some() && has_end {
        // `exit` in BEGIN skips the input but still runs END (POSIX, gawk); a later `exit`
        // without a status keeps the first one.
        let saved_exit = exit_code;
        exit_code = None;
        run_items(&mut awk, false, true, &mut exit_code, &mut fatal);
        if exit_code.is_none() {
            exit_code = saved_exit;
        }
    }
    if begin_done && (has_main || has_end) {
        // Operands that are all `var=value` assignments leave stdin as the input, read after them.
        let only_assigns = !files.is_empty() && files.iter().all(|f| assignment(f).is_some());
        let mut inputs = or_stdin(files);
        if only_assigns {
            inputs.push("-".to_owned());
        }
        let mut lines_read = 0u64;
        let mut range_on = vec![false; items.len()];
        // A pattern without an action prints the record.
        let print_record = [Stmt::Print(Vec::new())];
        'files: for (fi, f) in inputs.iter().enumerate() {
            if let Some((k, v)) = assignment(f) {
                // Escapes are processed as in `-v` (`OFS='\t'` is a tab).
                let v = crate::commands::unescape_ansi(v);
                if k == "CONVFMT"
                    && let Err(e) = state::set_convfmt(&v)
                {
                    fatal = Some(e);
                    break 'files;
                }
                if k == "RS" {
                    awk.paragraph = v.is_empty();
                }
                awk.vars.insert(k.to_owned(), Val::StrNum(v));
                continue;
            }
            let data = match awk.ctx.read_operand(f) {
                Ok(d) => d,
                Err(crate::vfs::FsError::IsDir) => {
                    awk.ctx.warn(
                        "awk",
                        format!("warning: command line argument `{f}' is a directory: skipped"),
                    );
                    continue;
                }
                Err(e) => {
                    // gawk stops at an input file it cannot open: no later file, no END.
                    fatal = Some(format!("fatal: cannot open file `{f}' for reading: {e}"));
                    break 'files;
                }
            };
            awk.vars.insert(
                "FILENAME".into(),
                // Standard input is `-` to gawk, named or not.
                Val::Str(if awk.c_locale {
                    to_latin1(f.as_bytes())
                } else {
                    f.clone()
                }),
            );
            let text = if awk.c_locale {
                to_latin1(&data)
            } else {
                String::from_utf8_lossy(&data).into_owned()
            };
            let rs = match awk.rec_sep() {
                Ok(rs) => rs,
                Err(e) => {
                    awk.ctx.warn("awk", e);
                    return Ok(2);
                }
            };
            awk.vars.insert("FNR".into(), Val::Num(0.0));
            awk.more_files = fi + 1 < inputs.len();
            let rs_src = awk.vars.get("RS").map_or_else(|| "\n".to_owned(), Val::str);
            awk.main = Some(MainInput {
                text,
                pos: 0,
                rs,
                rs_src,
            });
            // `getline` reads on from the same place. The input is taken out while the
            // record is set, so the record is copied once, from the text, into `$0`.
            while let Some(mut m) = awk.main.take() {
                if std::mem::take(&mut awk.rs_changed)
                    && let Err(e) = m.follow_rs(awk.vars.get("RS"))
                {
                    fatal = Some(e);
                    break 'files;
                }
                let mut p = m.pos;
                let Some((found, rt)) = next_record(&m.text, &mut p, &m.rs) else {
                    awk.main = Some(m);
                    break;
                };
                let rt = rt.len();
                // `next_record` always answers a slice of the text it was given.
                let at = found.as_ptr() as usize - m.text.as_ptr() as usize;
                let range = at..at + found.len();
                m.pos = p;
                // NR may have been assigned or advanced by `getline`: count on from it.
                let nr = awk.get("NR").num() + 1.0;
                let fnr = awk.get("FNR").num() + 1.0;
                lines_read += 1;
                if lines_read.is_multiple_of(256) {
                    awk.ctx.sh.tick()?;
                }
                awk.set_counter("NR", nr);
                awk.set_counter("FNR", fnr);
                awk.set_rt(&m.text[range.end..range.end + rt]);
                let set = awk.set_record(&m.text[range]);
                awk.main = Some(m);
                if let Err(e) = set {
                    fatal = Some(e);
                    break 'files;
                }
                for (k, (pat, action)) in items.iter().enumerate() {
                    let matched = match pat {
                        Pattern::Begin | Pattern::End => continue,
                        Pattern::All => Ok(true),
                        Pattern::Expr(e) => awk.eval(e).map(|v| v.truthy()),
                        Pattern::Range(a, b) => {
                            if range_on[k] {
                                awk.eval(b).map(|v| {
                                    if v.truthy() {
                                        range_on[k] = false;
                                    }
                                    true
                                })
                            } else {
                                match awk.eval(a) {
                                    Ok(v) if v.truthy() => awk.eval(b).map(|end| {
                                        range_on[k] = !end.truthy();
                                        true
                                    }),
                                    Ok(_) => Ok(false),
                                    Err(e) => Err(e),
                                }
                            }
                        }
                    };
                    let matched = match matched {
                        Ok(m) => m,
                        Err(Err(e)) => {
                            fatal = Some(e);
                            break 'files;
                        }
                        Err(Ok(_)) => false,
                    };
                    if !matched {
                        continue;
                    }
                    let stmts: &[Stmt] = match action {
                        Some(s) => s,
                        None => &print_record,
                    };
                    let mut next_record = false;
                    for s in stmts {
                        match awk.exec(s) {
                            Ok(()) => {}
                            Err(Ok(Flow::Next)) => {
                                next_record = true;
                                break;
                            }
                            Err(Ok(Flow::NextFile)) => {
                                // No more records of this file: the loop moves to the next.
                                awk.main = None;
                                next_record = true;
                                break;
                            }
                            Err(Ok(Flow::Exit(c))) => {
                                exit_code = Some(c);
                                // Records left unread: a writer cut short never needed to
                                // write more (see `Input::stop_short`).
                                if f == "-"
                                    && awk.main.as_ref().is_some_and(|m| m.pos < m.text.len())
                                {
                                    awk.ctx.stdin.stop_short();
                                }
                                break 'files;
                            }
                            Err(Ok(_)) => break,
                            Err(Err(e)) => {
                                fatal = Some(e);
                                break 'files;
                            }
                        }
                    }
                    if next_record {
                        break;
                    }
                }
                if awk.out.len() > 1 << 16 {
                    awk.ctx.io.out(&std::mem::take(&mut awk.out));
                    let _ = awk.account();
                }
            }
        }
        if fatal.is_none() {
            let saved_exit = exit_code;
            run_items(&mut awk, false, true, &mut exit_code, &mut fatal);
            if exit_code.is_none() {
                exit_code = saved_exit;
            }
        }
    }
    awk.main = None;
    value::CONVFMT.with(|c| *c.borrow_mut() = None);
    if let Err(Err(e)) = awk.close_all()
        && fatal.is_none()
    {
        fatal = Some(e);
    }
    awk.ctx.io.out(&awk.out);
    if let Some(e) = fatal {
        awk.ctx.warn("awk", e);
        // A passed deadline stops the whole exec with 124, not just this awk.
        awk.ctx.sh.tick()?;
        return Ok(2);
    }
    Ok(exit_code.unwrap_or(st))
}

/// An operand `name=value` (a valid awk name before the `=`) is an assignment, not a file.
fn assignment(operand: &str) -> Option<(&str, &str)> {
    let (k, v) = operand.split_once('=')?;
    let mut chars = k.chars();
    let first = chars.next()?;
    ((first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then_some((k, v))
}
