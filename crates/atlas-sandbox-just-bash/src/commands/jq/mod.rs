//! `jq` on jaq (a jq clone in Rust): JSON in, filter, JSON out, with `-r`, `-c`, `-n`, `-s`,
//! `-e`, `-S`, `--arg`, `--argjson`. The step budget is the number of outputs (jaq has no fuel).

mod checks;
mod feed;
mod funs;
mod joins;
mod math;
mod measure;
mod stream;
mod syntax16;
mod text;
mod value;
mod yaml_in;
mod yaml_load;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx as JCtx, Vars, data};

use super::Ctx;
use super::jq_bound::{self, TooBig, V};
use crate::interp::R;
use checks::{
    constant_division_by_zero, jq_builtin_not_here, partial_date_strptime, unbounded_construct,
};
use measure::Measure;
use value::{J as Val, Map};
use yaml_in::{leading_zero_integer, yaml_expansion_past, yaml_to_val};

fn usage(ctx: &mut Ctx<'_, '_>, msg: &str) -> R<i32> {
    ctx.io.errln(&format!("jq: error: {msg}"));
    ctx.io
        .errln("Use jq --help for help with command-line options,");
    ctx.io
        .errln("or see the jq manpage, or online docs  at https://stedolan.github.io/jq");
    Ok(2)
}

pub(super) fn jq(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    run(ctx, args, false)
}

/// `yq` as the Python `yq` wrapper does it: YAML documents in, the jq filter, JSON out.
pub(super) fn yq(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    if args.iter().any(|a| {
        matches!(
            a.as_str(),
            "-y" | "--yaml-output" | "-Y" | "--yaml-roundtrip" | "-i" | "--in-place"
        )
    }) {
        ctx.io.errln(
            "yq: YAML output (-y/-Y) and -i are not supported in this sandbox; the output is JSON",
        );
        return Ok(2);
    }
    run(ctx, args, true)
}

/// Deepest JSON/YAML input accepted (jq 1.6 refuses past 10000 as well).
const MAX_INPUT_DEPTH: usize = 10_000;
/// Exit code for refused filters: the sandbox's refusal (2), not jq's compile error (3), which
/// would read as the agent's own mistake.
const UNSUPPORTED_JQ: i32 = crate::interp::UNSUPPORTED_EXIT;

/// jq's formats that jaq leaves out, as jq 1.6 writes them: `@csv` (strings quoted, `"`
/// doubled) and `@tsv` (`\\`, tab, newline and return escaped); other values print as
/// `tostring`, `null` as nothing.
const JQ_ONLY_DEFS: &str = r#"
def @csv: if type == "array" then map(
    if type == "string" then "\"" + (split("\"") | join("\"\"")) + "\""
    elif type == "null" then ""
    elif type == "number" or type == "boolean" then tostring
    else error("\(type) (\(tojson)) is not valid in a csv row") end) | join(",")
  else error("\(type) (\(tojson)) cannot be csv-formatted, only array") end;
def @tsv: if type == "array" then map(
    if type == "string" then split("\\") | join("\\\\") | split("\t") | join("\\t")
      | split("\n") | join("\\n") | split("\r") | join("\\r")
    elif type == "null" then ""
    elif type == "number" or type == "boolean" then tostring
    else error("\(type) (\(tojson)) is not valid in a tsv row") end) | join("\t")
  else error("\(type) (\(tojson)) cannot be tsv-formatted, only array") end;
"#;

fn jq_only_defs() -> impl Iterator<Item = jaq_core::load::parse::Def<&'static str>> {
    let parse = |code| {
        jaq_core::load::parse(code, |p| p.defs())
            .unwrap_or_default()
            .into_iter()
    };
    parse(JQ_ONLY_DEFS).chain(parse(include_str!("defs.jq")))
}

/// jq 1.7's options that this sandbox does not implement, as the one the word names (a short
/// cluster names its first such letter).
fn jq_option_not_here(word: &str) -> Option<String> {
    const LONG: &[&str] = &[
        "--color-output",
        "--ascii-output",
        "--raw-input",
        "--indent",
        "--raw-output0",
        "--seq",
        "--stream-errors",
        "--args",
        "--jsonargs",
        "--rawfile",
        "--slurpfile",
        "--from-file",
        "--unbuffered",
        "--library-path",
        "--help",
        "--version",
        "--build-configuration",
    ];
    if let Some(long) = word.strip_prefix("--") {
        let name = long.split('=').next().unwrap_or(long);
        let full = format!("--{name}");
        return LONG.contains(&full.as_str()).then_some(full);
    }
    word[1..]
        .chars()
        .find(|c| "CaRfLhV".contains(*c))
        .map(|c| format!("-{c}"))
}

fn run(ctx: &mut Ctx<'_, '_>, args: &[String], yaml: bool) -> R<i32> {
    // Deep (but accepted) inputs and outputs recurse in the parser, the writer and in drops.
    stacker::grow(128 << 20, || run_inner(ctx, args, yaml))
}

fn run_inner(ctx: &mut Ctx<'_, '_>, args: &[String], yaml: bool) -> R<i32> {
    let cmd = if yaml { "yq" } else { "jq" };
    // The versions the answers are made to match: Debian 12's jq 1.6 and python yq (which
    // reports 0.0.0 there).
    if args.iter().any(|a| a == "--version") && args.iter().all(|a| a.starts_with('-')) {
        ctx.io.out(if yaml { b"yq 0.0.0\n" } else { b"jq-1.6\n" });
        return Ok(0);
    }
    let (mut raw, mut compact, mut null_input, mut slurp, mut exit_status, mut sort_keys, mut join) =
        (false, false, false, false, false, false, false);
    let mut tab = false;
    let mut stream = false;
    let mut filter: Option<String> = None;
    let mut files = Vec::new();
    let mut opt_after_filter: Option<String> = None;
    let mut vars: Vec<(String, Val)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        // Python yq hands an option met between the filter and the first file to jq with the
        // files after it, so jq reads a file name as its filter; not worth copying.
        if yaml && filter.is_some() && files.is_empty() && a.starts_with('-') && a.len() > 1 {
            opt_after_filter.get_or_insert_with(|| a.clone());
        }
        match a.as_str() {
            "-r" | "--raw-output" => raw = true,
            "-j" | "--join-output" => {
                raw = true;
                join = true;
            }
            "-c" | "--compact-output" => compact = true,
            "-n" | "--null-input" => null_input = true,
            "-s" | "--slurp" => slurp = true,
            "-e" | "--exit-status" => exit_status = true,
            "-S" | "--sort-keys" => sort_keys = true,
            "--tab" => tab = true,
            "--stream" if yaml => {
                ctx.io
                    .errln("yq: option '--stream' is not supported by this sandbox");
                return Ok(2);
            }
            "--stream" => stream = true,
            // jq 1.6 ends its options at `--` only once it has the filter (before it, jq prints
            // its usage); python yq's argparse takes it anywhere.
            "--" if !yaml && filter.is_none() => return usage(ctx, "Unknown arguments: --"),
            "--" => {
                for rest in &args[i + 1..] {
                    if filter.is_none() {
                        filter = Some(rest.clone());
                    } else {
                        files.push(rest.clone());
                    }
                }
                break;
            }
            "-M" | "--monochrome-output" => {}
            "--arg" | "--argjson" => {
                let (Some(name), Some(value)) = (args.get(i + 1), args.get(i + 2)) else {
                    return usage(
                        ctx,
                        &format!("{a} takes two parameters (e.g. {a} varname value)"),
                    );
                };
                let v = if a == "--arg" {
                    Val::from(value.clone())
                } else {
                    match text::Reader::new(value.as_bytes()).all() {
                        (vals, None) if vals.len() == 1 => {
                            vals.into_iter().next().map(|(v, _)| v).unwrap_or_default()
                        }
                        _ => {
                            return usage(ctx, "Invalid JSON text passed to --argjson");
                        }
                    }
                };
                vars.push((name.clone(), v));
                i += 3;
                continue;
            }
            s if s.starts_with('-')
                && s.len() > 1
                && s[1..].chars().all(|c| "rcnseSjM".contains(c)) =>
            {
                for c in s[1..].chars() {
                    match c {
                        'r' => raw = true,
                        'c' => compact = true,
                        'n' => null_input = true,
                        's' => slurp = true,
                        'e' => exit_status = true,
                        'S' => sort_keys = true,
                        'j' => {
                            raw = true;
                            join = true;
                        }
                        _ => {}
                    }
                }
            }
            // jq 1.6 takes a word for an option only when a letter or `-` follows the dash:
            // `-1 | sqrt` and `-0` are filters.
            s if s.starts_with('-')
                && s[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '-') =>
            {
                // An option jq has but this sandbox does not is refused by name; anything
                // else gets jq's own answer.
                if let Some(opt) = jq_option_not_here(s) {
                    ctx.io.errln(&format!(
                        "{cmd}: option '{opt}' is not supported by this sandbox"
                    ));
                    return Ok(2);
                }
                ctx.io.errln(&format!("{cmd}: Unknown option: {s}"));
                ctx.io
                    .errln("Use jq --help for help with command-line options,");
                ctx.io
                    .errln("or see the jq manpage, or online docs  at https://jqlang.github.io/jq");
                return Ok(2);
            }
            _ => {
                if filter.is_none() {
                    filter = Some(a.clone());
                } else {
                    if let Some(opt) = &opt_after_filter {
                        ctx.io.errln(&format!(
                            "yq: option '{opt}' between the filter and the files is not supported in this sandbox; put options first"
                        ));
                        return Ok(UNSUPPORTED_JQ);
                    }
                    files.push(a.clone());
                }
            }
        }
        i += 1;
    }
    // Without a filter, jq 1.6 (its output not a terminal) runs `.`.
    let code = filter.unwrap_or_else(|| ".".to_owned());
    if code.contains("?//") {
        ctx.io.errln(&format!(
            "{cmd}: error: the destructuring alternative `?//` is not supported in this sandbox"
        ));
        return Ok(UNSUPPORTED_JQ);
    }
    if syntax16::if_without_else(&code) {
        ctx.io.errln(&format!(
            "jq: error: syntax error, unexpected end (Unix shell quoting issues?) at <top-level>, line 1:\n{code}\njq: 1 compile error"
        ));
        return Ok(3);
    }
    // jaq has no fuel: a filter that loops or builds values internally cannot be interrupted by
    // the deadline or the limits. Refuse the constructs that do that.
    if let Some(word) = unbounded_construct(&code) {
        ctx.io.errln(&format!(
            "{cmd}: error: `{word}` is not supported in this sandbox (it cannot be bounded by the execution limits)"
        ));
        return Ok(UNSUPPORTED_JQ);
    }
    if let Some(f) = checks::inexact_math(&code) {
        ctx.io.errln(&format!(
            "{cmd}: error: `{f}` is not supported in this sandbox (its last digits differ from jq's C library)"
        ));
        return Ok(UNSUPPORTED_JQ);
    }
    if let Some(fmt) = partial_date_strptime(&code) {
        ctx.io.errln(&format!(
            "{cmd}: error: `strptime(\"{fmt}\")` (a format without a full date: jq leaves the missing fields 0 and its weekday/yearday markers) is not supported in this sandbox"
        ));
        return Ok(UNSUPPORTED_JQ);
    }
    if let Some(e) = constant_division_by_zero(&code) {
        ctx.io.errln(&format!(
            "jq: error: Division by zero? at <top-level>, line 1:\n{code}\njq: 1 compile error"
        ));
        let _ = e;
        return Ok(3);
    }
    // Inputs, each with the input line jq's parser had reached when it was read (the `N` of
    // a later error's `(at <stdin>:N)`).
    let mut inputs: Vec<feed::Item> = Vec::new();
    let mut parse_error = None;
    // `-n` reads nothing unless the filter asks for input (jq reads lazily).
    // Python yq with `-n` hands jq no documents unless files are named.
    let yq_reads_nothing = yaml && null_input && files.is_empty();
    let mut yaml_docs = 0;
    if (!null_input || slurp || feed::asks_for_input(&code)) && !yq_reads_nothing {
        let (datas, failed) = ctx.read_all(cmd, &files);
        if failed {
            return Ok(2);
        }
        for (name, d) in &datas {
            if crate::interp::bracket_depth(&String::from_utf8_lossy(d)) > MAX_INPUT_DEPTH {
                ctx.io.errln(&format!(
                    "{cmd}: error: {name}: input nested deeper than {MAX_INPUT_DEPTH} levels"
                ));
                return Ok(2);
            }
            if yaml {
                let text = String::from_utf8_lossy(d);
                // The loader copies the anchored node at every alias: a few lines of nested
                // aliases expand to gigabytes. Count the expansion on the event stream first.
                let room = ctx.sh.meter.room();
                if let Some(expanded) = yaml_expansion_past(&text, room) {
                    return crate::interp::abort(
                        crate::interp::LIMIT_EXIT,
                        format!(
                            "yq: error: {name}: YAML aliases expand to more than {expanded} bytes, past the {room} bytes left of limits.max_exec_memory_bytes"
                        ),
                    );
                }
                if let Some(v) = leading_zero_integer(&text) {
                    ctx.io.errln(&format!(
                        "yq: the integer `{v}` with a leading zero (python yq reads it as octal) is not supported in this sandbox"
                    ));
                    return Ok(UNSUPPORTED_JQ);
                }
                match yaml_load::load(&text) {
                    // jq reads what python yq writes: one document per line of its stdin.
                    Ok(docs) => inputs.extend(docs.iter().map(|d| {
                        yaml_docs += 1;
                        feed::Item {
                            val: yaml_to_val(d),
                            file: None,
                            line: yaml_docs,
                            at_eof: false,
                        }
                    })),
                    Err(yaml_load::LoadError::Scan(e)) => {
                        ctx.io.errln(&format!(
                            "yq: Error running jq: ScannerError: {e} in {name}"
                        ));
                        return Ok(1);
                    }
                    Err(yaml_load::LoadError::Python(e)) => {
                        ctx.io.errln(&format!("yq: Error running jq: {e}."));
                        return Ok(1);
                    }
                }
                continue;
            }
            let (vals, err) = text::Reader::new(d).all();
            let file: Option<std::rc::Rc<str>> = (name != "-").then(|| name.as_str().into());
            let ends_in_value = d.last().is_some_and(|c| !c.is_ascii_whitespace());
            let count = vals.len();
            inputs.extend(
                vals.into_iter()
                    .enumerate()
                    .map(|(i, (val, line))| feed::Item {
                        val,
                        file: file.clone(),
                        line,
                        at_eof: ends_in_value && i + 1 == count,
                    }),
            );
            // jq 1.6 filters the values read before text that is not JSON, then stops with
            // exit 4 (the recorded reference).
            if let Some(e) = err {
                let _ = name;
                parse_error = Some(e);
                break;
            }
        }
    }
    // jq 1.6 slurps the whole input before filtering: text that is not JSON leaves nothing to
    // run the filter on.
    if slurp
        && !null_input
        && let Some(e) = &parse_error
    {
        ctx.io.errln(&format!("parse error: {e}"));
        return Ok(4);
    }
    if stream {
        // jq's streaming parser has already given the events before the bad text (and its line
        // count differs from the whole-value parser's): not reproduced.
        let why = if parse_error.is_some() {
            Some("`--stream` on input that is not valid JSON")
        } else if code.contains("input_line_number") {
            Some("`input_line_number` with `--stream`")
        } else {
            None
        };
        if let Some(why) = why {
            ctx.io.errln(&format!(
                "{cmd}: error: {why} is not supported in this sandbox"
            ));
            return Ok(UNSUPPORTED_JQ);
        }
        let bytes: f64 = inputs.iter().map(|it| stream::size(&it.val)).sum();
        let room = ctx.sh.meter.room() as f64;
        if bytes > room {
            return crate::interp::abort(
                crate::interp::LIMIT_EXIT,
                format!(
                    "{cmd}: error: the --stream events of this input take about {bytes:.0} bytes, past the {room:.0} bytes left of limits.max_exec_memory_bytes"
                ),
            );
        }
        inputs = inputs
            .into_iter()
            .flat_map(|it| {
                stream::events(&it.val)
                    .into_iter()
                    .map(move |val| feed::Item {
                        val,
                        file: it.file.clone(),
                        line: it.line,
                        at_eof: false,
                    })
            })
            .collect();
    }
    let inputs: Vec<feed::Item> = if slurp {
        let (file, line) = inputs
            .last()
            .map_or((None, 0), |it| (it.file.clone(), it.line));
        vec![feed::Item {
            val: inputs.into_iter().map(|it| it.val).collect::<Val>(),
            file,
            line,
            at_eof: false,
        }]
    } else {
        inputs
    };
    // The filter runs once per input, or once on `null` with `-n` (the inputs are then only
    // what `input`/`inputs` read).
    let runs = if null_input { 1 } else { inputs.len() };
    let input_count = inputs.len() as f64;
    // The parsed inputs are charged while the filter runs; the filter itself is bounded
    // before it runs (jaq cannot be interrupted or metered once started).
    let mut measured = Measure::default();
    if null_input {
        measured.input(&Val::Null);
    }
    for it in &inputs {
        measured.input(&it.val);
    }
    let _inputs_held = match ctx.sh.meter.hold(measured.total as u64) {
        Ok(h) => h,
        Err(o) => return crate::interp::abort(crate::interp::LIMIT_EXIT, o.message(cmd)),
    };
    // `env` and `$ENV` are the shell's exported variables as jq run by it sees them (never
    // this process's own environment).
    let mut env_pairs = ctx.sh.env_pairs_bash_order();
    env_pairs.push(("_".to_owned(), "/usr/bin/jq".to_owned()));
    let env_val = Val::obj(
        env_pairs
            .into_iter()
            .map(|(k, v)| (k.into(), Val::from(v)))
            .collect::<Map>(),
    );
    funs::env::set(env_val.clone());
    vars.insert(0, ("ENV".to_owned(), env_val));
    // `$__loc__` is where it is written: one global variable serves when every use is on the
    // same line (otherwise it stays undefined, refused by name).
    let loc_lines: Vec<usize> = code
        .match_indices("$__loc__")
        .map(|(i, _)| code[..i].matches('\n').count() + 1)
        .collect();
    if let Some(&line) = loc_lines.first()
        && loc_lines.iter().all(|&l| l == line)
    {
        let loc: Map = [
            ("file".into(), Val::from("<top-level>".to_owned())),
            ("line".into(), Val::from(line)),
        ]
        .into_iter()
        .collect();
        vars.push(("__loc__".to_owned(), Val::obj(loc)));
    }
    let var_bounds: Vec<(String, V)> = vars
        .iter()
        .map(|(n, v)| {
            let mut m = Measure::default();
            m.input(v);
            (format!("${n}"), m.bound())
        })
        .collect();
    let max_steps =
        ctx.sh.limits.max_loop_iterations.saturating_mul(100) as f64 / runs.max(1) as f64;
    let room = ctx.sh.meter.room() as f64;
    match jq_bound::check(
        &code,
        measured.bound(),
        measured.depth as f64,
        &var_bounds,
        max_steps,
        room,
        input_count,
    ) {
        Ok(()) => {}
        // Like every other limit, these stop the script (exit 126), not just this command.
        Err(TooBig::Steps(n)) => {
            return crate::interp::abort(
                crate::interp::LIMIT_EXIT,
                format!(
                    "{cmd}: error: this filter may take up to {n:.0} steps on this input, past the limit of {max_steps:.0} (increase limits.max_loop_iterations); it was not run"
                ),
            );
        }
        // jaq answers for these; jq 1.6 does not know them.
        Err(TooBig::Undefined(what)) => {
            ctx.io.errln(&format!(
                "jq: error: {what} is not defined at <top-level>, line 1:\n{code}\njq: 1 compile error"
            ));
            return Ok(3);
        }
        Err(TooBig::Unsupported(what)) => {
            ctx.io.errln(&format!(
                "{cmd}: error: {what} is not supported in this sandbox"
            ));
            return Ok(UNSUPPORTED_JQ);
        }
        Err(TooBig::Bytes(n)) => {
            return crate::interp::abort(
                crate::interp::LIMIT_EXIT,
                format!(
                    "{cmd}: error: this filter may build values of up to {n:.0} bytes on this input, past the {room:.0} bytes left of limits.max_exec_memory_bytes; it was not run"
                ),
            );
        }
    }
    let var_names: Vec<String> = vars.iter().map(|(n, _)| format!("${n}")).collect();
    let program = File {
        code: code.as_str(),
        path: (),
    };
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jq_only_defs());
    // Natives resolve first match first: jq 1.6's before jaq's.
    let funs = funs::funs().chain(jaq_core::funs()).chain(jaq_std::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = match loader.load(&arena, program) {
        Ok(m) => m,
        Err(errs) => {
            ctx.io.errln(&format!(
                "jq: error: syntax error in filter: {} error(s)",
                errs.len()
            ));
            ctx.io.errln("jq: 1 compile error");
            return Ok(3);
        }
    };
    let filter = match Compiler::default()
        .with_funs(funs)
        .with_global_vars(var_names.iter().map(String::as_str))
        .compile(modules)
    {
        Ok(f) => f,
        Err(errs) => {
            // A jq builtin that jaq lacks is a missing feature, not the user's mistake: say so
            // by name with the "not supported" code instead of jq's compile error.
            let missing = errs
                .iter()
                .flat_map(|(_, undefined)| undefined.iter())
                .find_map(|(name, kind)| jq_builtin_not_here(name, kind));
            if let Some(what) = missing {
                ctx.io.errln(&format!(
                    "{cmd}: error: `{what}` is not supported in this sandbox"
                ));
                return Ok(UNSUPPORTED_JQ);
            }
            // jq 1.6 names each undefined filter or variable, then counts them; `2>&1` shows it.
            let undefined: Vec<String> = errs
                .iter()
                .flat_map(|(_, undefined)| undefined.iter())
                .filter_map(|(name, kind)| match kind {
                    jaq_core::compile::Undefined::Filter(arity) => Some(format!("{name}/{arity}")),
                    jaq_core::compile::Undefined::Var if name.starts_with('$') => {
                        Some((*name).to_owned())
                    }
                    jaq_core::compile::Undefined::Var => Some(format!("${name}")),
                    _ => None,
                })
                .collect();
            let count = errs.iter().map(|(_, u)| u.len()).sum::<usize>();
            if !code.contains('\n') && !undefined.is_empty() && undefined.len() == count {
                for what in &undefined {
                    ctx.io.errln(&format!(
                        "jq: error: {what} is not defined at <top-level>, line 1:\n{code}"
                    ));
                }
                let plural = if count == 1 { "" } else { "s" };
                ctx.io.errln(&format!("jq: {count} compile error{plural}"));
                return Ok(3);
            }
            ctx.io.errln(&format!(
                "jq: error: {} compile error(s) in filter",
                errs.len()
            ));
            ctx.io.errln("jq: 1 compile error");
            return Ok(3);
        }
    };
    let style = text::Style {
        indent: if compact {
            None
        } else if tab {
            Some("\t".to_owned())
        } else {
            Some("  ".to_owned())
        },
        sort_keys,
    };
    let mut out: Vec<u8> = Vec::new();
    let mut last: Option<bool> = None;
    let mut st = 0;
    let budget = ctx.sh.limits.max_loop_iterations.saturating_mul(100);
    let mut produced = 0u64;
    let mut halted: Option<i32> = None;
    funs::side::begin(ctx.sh.limits.max_output_bytes);
    let _feed = feed::Running::begin(inputs, slurp);
    let mut first = null_input.then_some(Val::Null);
    'inputs: while let Some(input) = if null_input {
        first.take()
    } else {
        feed::next()
    } {
        // jq 1.6's exit status is the last input's: an error on an earlier one is printed
        // but does not make the status 5.
        st = 0;
        let ctx_j = JCtx::<data::JustLut<Val>>::new(
            &filter.lut,
            Vars::new(vars.iter().map(|(_, v)| v.clone())),
        );
        for r in filter.id.run((ctx_j, input)) {
            // `halt` is an exception jaq would end the process with; it ends this command.
            let r = match r {
                Ok(v) => Ok(v),
                Err(exn) => match exn.get_err() {
                    Ok(e) => Err(e),
                    Err(exn) => {
                        halted = Some(exn.get_halt().unwrap_or(5));
                        break 'inputs;
                    }
                },
            };
            // jq's stderr is unbuffered and its stdout a stdio buffer, so with `2>&1` what a
            // filter says comes before the results still held: write it at once, keep `out`.
            let said = funs::side::take();
            if !said.is_empty() {
                ctx.io.err(&said);
            }
            produced += 1;
            if produced > budget {
                ctx.io.out(&out);
                ctx.warn("jq", format!("error: too many outputs (>{budget})"));
                return Ok(5);
            }
            if produced.is_multiple_of(1024) {
                ctx.sh.tick()?;
            }
            match r {
                Ok(v) => {
                    last = Some(!matches!(v, Val::Null | Val::Bool(false)));
                    match (&v, raw) {
                        (Val::Str(s), true) => out.extend_from_slice(s.as_bytes()),
                        _ => {
                            let mut s = String::new();
                            text::write(&mut s, &style, 0, &v);
                            out.extend_from_slice(s.as_bytes());
                        }
                    }
                    if !join {
                        out.push(b'\n');
                    }
                }
                Err(e) => {
                    // Like what the filter says: before the results stdio still holds.
                    let v = e.into_val();
                    let msg = match &v {
                        Val::Str(s) => format!("jq: error (at {}): {s}", feed::position()),
                        v => format!(
                            "jq: error (at {}) (not a string): {}",
                            feed::position(),
                            text::compact(v)
                        ),
                    };
                    ctx.io.errln(&msg);
                    // jq goes on with the next input after an error.
                    st = 5;
                    break;
                }
            }
            if out.len() > 1 << 16 {
                ctx.io.out(&std::mem::take(&mut out));
            }
        }
    }
    ctx.io.out(&out);
    ctx.io.err(&funs::side::take());
    if let Some(e) = parse_error {
        ctx.io.errln(&format!("parse error: {e}"));
        return Ok(4);
    }
    if let Some(code) = halted {
        return Ok(code);
    }
    if st != 0 {
        return Ok(st);
    }
    if exit_status {
        return Ok(match last {
            Some(true) => 0,
            Some(false) => 1,
            None => 4,
        });
    }
    Ok(0)
}
