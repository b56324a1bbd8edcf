//! What is looked at in the filter's text before it is parsed: jq builtins jaq lacks, the
//! constructs no bound covers, and jq 1.6's compile-time answers jaq does not give.

/// The name jq 1.7 gives an undefined symbol of jaq's, when jq has it as a builtin (so a filter
/// using it is valid jq this sandbox cannot run).
pub(super) fn jq_builtin_not_here(
    name: &str,
    kind: &jaq_core::compile::Undefined,
) -> Option<String> {
    use jaq_core::compile::Undefined;
    // jq 1.7's builtins (`jq -n 'builtins'`, formats and special variables) that jaq 3 does not
    // define; `name/arity` as jq lists them.
    const FILTERS: &[&str] = &[
        "ascii/0",
        "date/0",
        "dateadd/2",
        "datesub/2",
        "get_jq_origin/0",
        "get_prog_origin/0",
        "have_decnum/0",
        "have_literal_numbers/0",
        "modulemeta/0",
        "@base32/0",
        "@base32d/0",
    ];
    const VARS: &[&str] = &["$__loc__", "$__prog_args"];
    // `$__loc__` is bound when every use is on one line (below).
    match kind {
        Undefined::Filter(arity) => {
            let full = format!("{name}/{arity}");
            FILTERS.contains(&full.as_str()).then_some(full)
        }
        Undefined::Var => {
            let var = if name.starts_with('$') {
                name.to_owned()
            } else {
                format!("${name}")
            };
            VARS.contains(&var.as_str()).then_some(var)
        }
        _ => None,
    }
}

/// The first construct of `code` that can loop or grow without bound inside jaq.
pub(super) fn unbounded_construct(code: &str) -> Option<&'static str> {
    // `reduce`, `foreach`, `range`, `def`, `recurse`, `combinations` are bounded (or refused by
    // name) by `jq_bound`; these have no bound it can compute.
    const WORDS: &[&str] = &["until", "while", "repeat"];
    let mut word = String::new();
    let check = |w: &str| WORDS.iter().find(|k| **k == w).copied();
    for c in code.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            word.push(c);
        } else {
            if let Some(k) = check(&word) {
                return Some(k);
            }
            word.clear();
        }
    }
    None
}

/// Math functions whose last digits differ from jq 1.6's here (jaq computes them with the
/// `libm` crate, jq with the C library: `exp10(3)` is `1000.0000000000001` in jq): refused by
/// name rather than answered a digit off.
pub(super) fn inexact_math(code: &str) -> Option<&'static str> {
    const WORDS: &[&str] = &["cbrt", "exp10", "tgamma", "acosh", "j0", "j1", "y0", "y1"];
    let mut word = String::new();
    for c in code.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            word.push(c);
        } else {
            if let Some(k) = WORDS.iter().find(|k| **k == word) {
                return Some(k);
            }
            word.clear();
        }
    }
    None
}

/// jq 1.6 folds arithmetic on number literals while compiling and refuses a division whose
/// folded value is infinite: `1/0` is the compile error "Division by zero?" (exit 3), while
/// `0/0` folds to NaN and `1 % 0` is left to run.
/// The literal format of a `strptime("...")` that lacks the year, the month or the day. jq
/// answers those with zeroed fields (`"10:30" | strptime("%H:%M")` is
/// `[1900,0,0,10,30,0,8,367]`), jaq's parser fails on them: refused by name instead.
pub(super) fn partial_date_strptime(code: &str) -> Option<String> {
    let mut rest = code;
    while let Some(i) = rest.find("strptime") {
        rest = &rest[i + "strptime".len()..];
        let Some(lit) = rest.trim_start().strip_prefix('(') else {
            continue;
        };
        let Some(lit) = lit.trim_start().strip_prefix('"') else {
            continue;
        };
        let Some(end) = lit.find('"') else {
            continue;
        };
        let fmt = &lit[..end];
        let has = |ds: &str| {
            let b = fmt.as_bytes();
            (0..b.len().saturating_sub(1))
                .any(|k| b[k] == b'%' && ds.as_bytes().contains(&b[k + 1]))
        };
        let whole = has("FDcxs");
        let dated = has("YyCG") && has("mbBh") && has("de");
        if !(whole || dated) {
            return Some(fmt.to_owned());
        }
    }
    None
}

pub(super) fn constant_division_by_zero(code: &str) -> Option<String> {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re = RE
        .get_or_init(|| {
            regex::Regex::new(
                r"(?:^|[^\w.$\])\x22])\s*([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*/\s*([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)(?:$|[^\w.\[])",
            )
            .ok()
        })
        .as_ref()?;
    for c in re.captures_iter(code) {
        let (a, b) = (c[1].parse::<f64>().ok()?, c[2].parse::<f64>().ok()?);
        if (a / b).is_infinite() {
            return Some(c[0].to_owned());
        }
    }
    None
}
