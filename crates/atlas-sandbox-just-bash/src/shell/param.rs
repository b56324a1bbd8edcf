//! Parameter expansion: `$x`, `${x:-…}`, `${#x}`, `${x%…}`, `${x/…/…}`, `${x:o:l}`, `${x@Q}`…

use brush_parser::word::{self, Parameter, ParameterExpr, SpecialParameter};

use crate::memory::strs_cost;

use super::arrays::Sub;
use super::expand::{Acc, FIELD_COST};
use super::*;

/// Whether `${x-…}`, `${x=…}`, `${x?…}` and `${x+…}` treat the parameter as absent: unset, or
/// with the colon form (`${x:-…}`) also empty.
pub(super) fn param_missing(
    test_type: &word::ParameterTestType,
    values: &Option<Vec<String>>,
) -> bool {
    match test_type {
        word::ParameterTestType::UnsetOrNull => match values {
            None => true,
            Some(vals) => vals.is_empty() || (vals.len() == 1 && vals[0].is_empty()),
        },
        // `$@` and `${a[@]}` with no elements count as unset.
        word::ParameterTestType::Unset => values.as_ref().is_none_or(|v| v.is_empty()),
    }
}

/// Pattern matching tries every cut of the value (a regex match over up to the whole value
/// each): check the deadline as it goes, since a 10 MiB value is millions of tries.
pub(super) fn every_32(sh: &Shell<'_>, n: &mut u32) -> R<()> {
    *n = n.wrapping_add(1);
    if n.is_multiple_of(32) {
        sh.tick()?;
    }
    Ok(())
}

pub(super) fn remove_affix(
    sh: &Shell<'_>,
    v: &str,
    re: &regex::Regex,
    suffix: bool,
    largest: bool,
) -> R<String> {
    let mut tries = 0u32;
    let mut bounds: Vec<usize> = v.char_indices().map(|(i, _)| i).collect();
    bounds.push(v.len());
    if suffix {
        let iter: Box<dyn Iterator<Item = &usize>> = if largest {
            Box::new(bounds.iter())
        } else {
            Box::new(bounds.iter().rev())
        };
        for &i in iter {
            every_32(sh, &mut tries)?;
            if re.is_match(&v[i..]) {
                return Ok(v[..i].to_owned());
            }
        }
    } else {
        let iter: Box<dyn Iterator<Item = &usize>> = if largest {
            Box::new(bounds.iter().rev())
        } else {
            Box::new(bounds.iter())
        };
        for &i in iter {
            every_32(sh, &mut tries)?;
            if re.is_match(&v[..i]) {
                return Ok(v[i..].to_owned());
            }
        }
    }
    Ok(v.to_owned())
}

pub(super) fn replace_pattern(
    sh: &Shell<'_>,
    v: &str,
    pat: &str,
    rep: &str,
    kind: &word::SubstringMatchKind,
) -> R<String> {
    let mut tries = 0u32;
    let Some(re) = sh.shell_regex(pat)? else {
        return Ok(v.to_owned());
    };
    let mut bounds: Vec<usize> = v.char_indices().map(|(i, _)| i).collect();
    bounds.push(v.len());
    match kind {
        word::SubstringMatchKind::Prefix => {
            for &j in bounds.iter().rev() {
                every_32(sh, &mut tries)?;
                if re.is_match(&v[..j]) {
                    return Ok(format!("{rep}{}", &v[j..]));
                }
            }
            Ok(v.to_owned())
        }
        word::SubstringMatchKind::Suffix => {
            for &i in &bounds {
                every_32(sh, &mut tries)?;
                if re.is_match(&v[i..]) {
                    return Ok(format!("{}{rep}", &v[..i]));
                }
            }
            Ok(v.to_owned())
        }
        word::SubstringMatchKind::FirstOccurrence | word::SubstringMatchKind::Anywhere => {
            let all = matches!(kind, word::SubstringMatchKind::Anywhere);
            let mut out = String::new();
            let mut i = 0;
            let mut replaced = false;
            while i < bounds.len() - 1 {
                let start = bounds[i];
                let mut found = None;
                if !replaced || all {
                    for j in (i + 1..bounds.len()).rev() {
                        every_32(sh, &mut tries)?;
                        if re.is_match(&v[start..bounds[j]]) {
                            found = Some(j);
                            break;
                        }
                    }
                }
                match found {
                    Some(j) => {
                        // `${x//?/$big}`: the result grows by the replacement per match.
                        sh.fits(2 * (out.len() + rep.len()) as u64)?;
                        sh.check_len(&out)?;
                        out.push_str(rep);
                        i = j;
                        replaced = true;
                    }
                    None => {
                        out.push_str(&v[start..bounds[i + 1]]);
                        i += 1;
                    }
                }
            }
            Ok(out)
        }
    }
}

pub(super) fn capitalize(v: &str, utf8: bool) -> String {
    let mut c = v.chars();
    match c.next() {
        Some(f) => upper(f.encode_utf8(&mut [0; 4]), utf8) + c.as_str(),
        None => String::new(),
    }
}

/// Upper case as the locale has it: the C locale maps ASCII letters only (`é` stays).
pub(super) fn upper(v: &str, utf8: bool) -> String {
    if utf8 {
        v.to_uppercase()
    } else {
        v.to_ascii_uppercase()
    }
}

/// Lower case as the locale has it (see [`upper`]).
pub(super) fn lower(v: &str, utf8: bool) -> String {
    if utf8 {
        v.to_lowercase()
    } else {
        v.to_ascii_lowercase()
    }
}

// `${v@Q}` quotes a value the way the SDK quotes shell words.
use atlas_sandbox_sdk::shell_quote;

impl Shell<'_> {
    pub(super) fn param_values(&mut self, p: &Parameter) -> R<(Option<Vec<String>>, bool)> {
        // Returns (values, is_multi). None = unset.
        Ok(match p {
            Parameter::Positional(0) => (Some(vec![self.arg0.clone()]), false),
            Parameter::Positional(n) => (
                self.positional
                    .get(*n as usize - 1)
                    .map(|v| vec![v.clone()]),
                false,
            ),
            Parameter::Special(sp) => match sp {
                SpecialParameter::AllPositionalParameters { .. } => {
                    self.fits(self.pos_bytes)?;
                    (Some(self.positional.clone()), true)
                }
                SpecialParameter::PositionalParameterCount => {
                    (Some(vec![self.positional.len().to_string()]), false)
                }
                SpecialParameter::LastExitStatus => (Some(vec![self.status.to_string()]), false),
                SpecialParameter::CurrentOptionFlags => {
                    // In bash's order; `c` because the script came from `bash -c`.
                    let mut f = String::new();
                    for (c, on) in [
                        ('e', self.opts.errexit),
                        ('f', self.opts.noglob),
                        ('h', true),
                        ('u', self.opts.nounset),
                        ('x', self.opts.xtrace),
                        ('B', true),
                        ('C', self.opts.noclobber),
                    ] {
                        if on {
                            f.push(c);
                        }
                    }
                    f.push('c');
                    (Some(vec![f]), false)
                }
                SpecialParameter::ProcessId => (Some(vec!["1".to_owned()]), false),
                SpecialParameter::LastBackgroundProcessId => (None, false),
                SpecialParameter::ShellName => (Some(vec![self.arg0.clone()]), false),
            },
            Parameter::Named(n) => match n.as_str() {
                "RANDOM" => (
                    Some(vec![
                        (self.commands.wrapping_mul(1103515245).wrapping_add(12345) % 32768)
                            .to_string(),
                    ]),
                    false,
                ),
                "SECONDS" => (Some(vec!["0".to_owned()]), false),
                // bash always sets these; empty here would be a silent wrong answer.
                "OPTERR" if self.get_var(n).is_none() => (Some(vec!["1".to_owned()]), false),
                "PS4" if self.get_var(n).is_none() => (Some(vec!["+ ".to_owned()]), false),
                "EPOCHSECONDS" | "EPOCHREALTIME" if self.get_var(n).is_none() => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    let v = if n == "EPOCHSECONDS" {
                        now.as_secs().to_string()
                    } else {
                        format!("{}.{:06}", now.as_secs(), now.subsec_micros())
                    };
                    (Some(vec![v]), false)
                }
                n if self.special_not_kept(n) => {
                    return abort(
                        UNSUPPORTED_EXIT,
                        format!("bash: ${n}: not supported in this sandbox"),
                    );
                }
                "_" => (Some(vec![self.last_arg.clone()]), false),
                _ => (self.get_var(n).map(|v| vec![v]), false),
            },
            Parameter::NamedWithIndex { name, .. }
            | Parameter::NamedWithAllIndices { name, .. }
                if self.special_not_kept(name) =>
            {
                return abort(
                    UNSUPPORTED_EXIT,
                    format!("bash: ${{{name}[...]}}: not supported in this sandbox"),
                );
            }
            Parameter::NamedWithIndex { name, index } => {
                let v = match (self.subscript(name, index)?, self.vars.get(name)) {
                    (Sub::Key(k), Some(Var::Assoc(m))) => m.get(&k).cloned(),
                    (Sub::Index(i), Some(Var::Arr(a))) => match a.resolve(i) {
                        Some(i) => a.get(i).cloned(),
                        None => {
                            // bash reports it and expands to nothing.
                            let msg = format!("bash: {name}: bad array subscript\n");
                            self.pending_err.extend_from_slice(msg.as_bytes());
                            None
                        }
                    },
                    (Sub::Index(0 | -1), Some(Var::Str(s))) => Some(s.clone()),
                    _ => None,
                };
                (v.map(|v| vec![v]), false)
            }
            Parameter::NamedWithAllIndices { name, .. } => match self.vars.get(name) {
                Some(Var::Arr(a)) => {
                    self.fits(a.cost())?;
                    (Some(a.to_vec()), true)
                }
                Some(Var::Assoc(m)) => {
                    self.fits(m.cost())?;
                    (Some(m.values()), true)
                }
                Some(Var::Str(s)) => (Some(vec![s.clone()]), true),
                None => (Some(Vec::new()), true),
            },
        })
    }

    pub(super) fn param_name(p: &Parameter) -> String {
        match p {
            Parameter::Positional(n) => n.to_string(),
            Parameter::Special(s) => s.to_string(),
            Parameter::Named(n) => n.clone(),
            Parameter::NamedWithIndex { name, index } => format!("{name}[{index}]"),
            Parameter::NamedWithAllIndices { name, concatenate } => {
                format!("{name}[{}]", if *concatenate { "*" } else { "@" })
            }
        }
    }

    pub(super) fn expand_param(
        &mut self,
        pe: &ParameterExpr,
        quoted: bool,
        acc: &mut Acc,
    ) -> R<()> {
        use ParameterExpr as P;
        let (param, indirect) = match pe {
            P::Parameter {
                parameter,
                indirect,
            }
            | P::UseDefaultValues {
                parameter,
                indirect,
                ..
            }
            | P::AssignDefaultValues {
                parameter,
                indirect,
                ..
            }
            | P::IndicateErrorIfNullOrUnset {
                parameter,
                indirect,
                ..
            }
            | P::UseAlternativeValue {
                parameter,
                indirect,
                ..
            }
            | P::ParameterLength {
                parameter,
                indirect,
            }
            | P::RemoveSmallestSuffixPattern {
                parameter,
                indirect,
                ..
            }
            | P::RemoveLargestSuffixPattern {
                parameter,
                indirect,
                ..
            }
            | P::RemoveSmallestPrefixPattern {
                parameter,
                indirect,
                ..
            }
            | P::RemoveLargestPrefixPattern {
                parameter,
                indirect,
                ..
            }
            | P::Substring {
                parameter,
                indirect,
                ..
            }
            | P::Transform {
                parameter,
                indirect,
                ..
            }
            | P::UppercaseFirstChar {
                parameter,
                indirect,
                ..
            }
            | P::UppercasePattern {
                parameter,
                indirect,
                ..
            }
            | P::LowercaseFirstChar {
                parameter,
                indirect,
                ..
            }
            | P::LowercasePattern {
                parameter,
                indirect,
                ..
            }
            | P::ReplaceSubstring {
                parameter,
                indirect,
                ..
            } => (parameter, *indirect),
            P::VariableNames {
                prefix,
                concatenate,
            } => {
                // bash's own variables are names too, whether or not their values are kept.
                let mut names: Vec<String> = self
                    .vars
                    .keys()
                    .map(String::as_str)
                    .chain(BASH_SETS.iter().copied())
                    .filter(|k| k.starts_with(prefix.as_str()))
                    .map(str::to_owned)
                    .collect();
                names.sort();
                names.dedup();
                return self.push_keys(names, *concatenate, quoted, acc);
            }
            P::MemberKeys {
                variable_name,
                concatenate,
            } => {
                let keys: Vec<String> = match self.vars.get(variable_name) {
                    Some(Var::Arr(a)) => {
                        self.fits(a.len() as u64 * 48)?;
                        a.iter().map(|(i, _)| i.to_string()).collect()
                    }
                    Some(Var::Assoc(m)) => {
                        self.fits(m.cost())?;
                        m.keys()
                    }
                    Some(Var::Str(_)) => vec!["0".to_owned()],
                    None => Vec::new(),
                };
                return self.push_keys(keys, *concatenate, quoted, acc);
            }
        };
        let (mut values, mut multi) = self.param_values(param)?;
        if indirect {
            let target = values
                .as_ref()
                .and_then(|v| v.first().cloned())
                .unwrap_or_default();
            match word::parse_parameter(&target, &self.parse_opts) {
                Ok(p2) => {
                    let (v, m) = self.param_values(&p2)?;
                    values = v;
                    multi = m;
                }
                Err(_) => return abort(1, format!("bash: {target}: invalid indirect expansion")),
            }
        }
        let joined = |v: &Option<Vec<String>>, sh: &Self| -> Option<String> {
            v.as_ref().map(|vals| {
                let sep = sh
                    .ifs()
                    .chars()
                    .next()
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                vals.join(&sep)
            })
        };
        let name = Self::param_name(param);
        // Operators that use the value (not the -, =, ?, + tests) fail on an unset one under
        // `set -u`.
        if values.is_none()
            && self.opts.nounset
            && !matches!(param, Parameter::Special(_))
            && !matches!(
                pe,
                P::Parameter { .. }
                    | P::UseDefaultValues { .. }
                    | P::AssignDefaultValues { .. }
                    | P::IndicateErrorIfNullOrUnset { .. }
                    | P::UseAlternativeValue { .. }
                    | P::ParameterLength { .. }
            )
        {
            return Err(Flow::Fatal(127, format!("bash: {name}: unbound variable")));
        }
        match pe {
            P::Parameter { parameter, .. } => {
                if values.is_none()
                    && self.opts.nounset
                    && !matches!(parameter, Parameter::Special(_))
                {
                    return Err(Flow::Fatal(127, format!("bash: {name}: unbound variable")));
                }
                let concat = matches!(
                    parameter,
                    Parameter::Special(SpecialParameter::AllPositionalParameters {
                        concatenate: true
                    }) | Parameter::NamedWithAllIndices {
                        concatenate: true,
                        ..
                    }
                );
                // Unquoted, `$*` is fields like `$@` (then split); only "$*" joins them.
                if multi && (!concat || !quoted) {
                    let vals = values.unwrap_or_default();
                    if quoted && vals.is_empty() {
                        acc.empty_multi = true;
                    }
                    if quoted {
                        for (i, v) in vals.iter().enumerate() {
                            if i > 0 {
                                acc.new_field();
                            }
                            acc.lit(v, true);
                        }
                    } else {
                        let ifs = self.ifs();
                        for (i, v) in vals.iter().enumerate() {
                            if i > 0 && acc.cur.keep {
                                acc.pending_break = true;
                            }
                            acc.split(v, &ifs);
                        }
                    }
                } else {
                    let v = joined(&values, self).unwrap_or_default();
                    self.push_value(&v, quoted, acc)?;
                }
            }
            P::UseDefaultValues {
                test_type,
                default_value,
                ..
            } => {
                let use_default = param_missing(test_type, &values);
                if use_default {
                    self.expand_operand(default_value.as_deref().unwrap_or(""), quoted, acc)?;
                } else {
                    let v = joined(&values, self).unwrap_or_default();
                    self.push_value(&v, quoted, acc)?;
                }
            }
            P::AssignDefaultValues {
                test_type,
                default_value,
                ..
            } => {
                let use_default = param_missing(test_type, &values);
                let v = if use_default {
                    let v = self.expand_str(default_value.as_deref().unwrap_or(""))?;
                    match param {
                        Parameter::Named(n) => self.set_var(n, v.clone())?,
                        _ => return abort(1, format!("bash: ${name}: cannot assign in this way")),
                    }
                    v
                } else {
                    joined(&values, self).unwrap_or_default()
                };
                self.push_value(&v, quoted, acc)?;
            }
            P::IndicateErrorIfNullOrUnset {
                test_type,
                error_message,
                ..
            } => {
                let bad = param_missing(test_type, &values);
                if bad {
                    let msg = match error_message {
                        Some(m) => self.expand_str(m)?,
                        None => "parameter null or not set".to_owned(),
                    };
                    return Err(Flow::Fatal(127, format!("bash: {name}: {msg}")));
                }
                let v = joined(&values, self).unwrap_or_default();
                self.push_value(&v, quoted, acc)?;
            }
            P::UseAlternativeValue {
                test_type,
                alternative_value,
                ..
            } => {
                let use_alt = !param_missing(test_type, &values);
                if use_alt {
                    self.expand_operand(alternative_value.as_deref().unwrap_or(""), quoted, acc)?;
                }
            }
            P::ParameterLength { .. } => {
                let n = if multi {
                    values.map(|v| v.len()).unwrap_or(0)
                } else {
                    if values.is_none() && self.opts.nounset {
                        return Err(Flow::Fatal(127, format!("bash: {name}: unbound variable")));
                    }
                    // Characters in a UTF-8 locale, bytes in C (as bash counts).
                    let utf8 = self.utf8_locale();
                    joined(&values, self)
                        .map(|s| if utf8 { s.chars().count() } else { s.len() })
                        .unwrap_or(0)
                };
                self.push_value(&n.to_string(), quoted, acc)?;
            }
            P::RemoveSmallestSuffixPattern { pattern, .. }
            | P::RemoveLargestSuffixPattern { pattern, .. }
            | P::RemoveSmallestPrefixPattern { pattern, .. }
            | P::RemoveLargestPrefixPattern { pattern, .. } => {
                let pat = self.expand_pattern(pattern.as_deref().unwrap_or(""))?;
                let re = self.shell_regex(&pat)?;
                let (suffix, largest) = match pe {
                    P::RemoveSmallestSuffixPattern { .. } => (true, false),
                    P::RemoveLargestSuffixPattern { .. } => (true, true),
                    P::RemoveSmallestPrefixPattern { .. } => (false, false),
                    _ => (false, true),
                };
                let vals = values.unwrap_or_default();
                let out: Vec<String> = vals
                    .iter()
                    .map(|v| match &re {
                        Some(re) => remove_affix(self, v, re, suffix, largest),
                        None => Ok(v.clone()),
                    })
                    .collect::<R<_>>()?;
                self.push_multi(out, multi, quoted, acc)?;
            }
            P::Substring { offset, length, .. } => {
                let off = self.arith_str(&offset.value)?;
                let len = match length {
                    Some(l) => Some(self.arith_str(&l.value)?),
                    None => None,
                };
                let sparse = match param {
                    Parameter::NamedWithAllIndices { name, .. } if !indirect => {
                        match self.vars.get(name) {
                            Some(Var::Arr(a)) => Some(a),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                if let Some(a) = sparse {
                    // An indexed array's offset is an index (negative: from one past the
                    // highest), its length a count of the set elements from there.
                    if len.is_some_and(|l| l < 0) {
                        return Err(Flow::Fatal(
                            1,
                            format!("bash: {}: substring expression < 0", len.unwrap_or(0)),
                        ));
                    }
                    let start = if off < 0 {
                        a.end().checked_add(off)
                    } else {
                        Some(off)
                    };
                    let out: Vec<String> = match start {
                        Some(s) if s >= 0 => a
                            .starting_at(s)
                            .take(len.map_or(usize::MAX, |l| l as usize))
                            .cloned()
                            .collect(),
                        _ => Vec::new(),
                    };
                    self.push_multi(out, true, quoted, acc)?;
                } else if multi {
                    let mut vals = values.unwrap_or_default();
                    // `${@:0}` starts at `$0`: index the list with `$0` in front.
                    if matches!(
                        param,
                        Parameter::Special(SpecialParameter::AllPositionalParameters { .. })
                    ) {
                        vals.insert(0, self.arg0.clone());
                    }
                    let n = vals.len() as i64;
                    // An associative array's positive offsets count from 1, as bash's do
                    // (`${m[@]:1}` is every element).
                    let off = match param {
                        Parameter::NamedWithAllIndices { name, .. }
                            if off > 0 && !indirect && self.is_assoc(name) =>
                        {
                            off - 1
                        }
                        _ => off,
                    };
                    if off < 0 && n + off < 0
                        || matches!(param, Parameter::Special(_)) && off < 0 && n + off < 1
                    {
                        // An offset before the first element selects nothing.
                        return self.push_multi(Vec::new(), true, quoted, acc);
                    }
                    if len.is_some_and(|l| l < 0) {
                        return Err(Flow::Fatal(
                            1,
                            format!("bash: {}: substring expression < 0", len.unwrap_or(0)),
                        ));
                    }
                    let start = if off < 0 { n + off } else { off.min(n) };
                    let end = match len {
                        Some(l) => (start + l).min(n),
                        None => n,
                    };
                    let out = vals[start as usize..end.max(start) as usize].to_vec();
                    self.push_multi(out, true, quoted, acc)?;
                } else {
                    let v = joined(&values, self).unwrap_or_default();
                    if !v.is_ascii() && !self.utf8_locale() {
                        // The C locale counts bytes: the cut must fall between characters, since
                        // a string here holds no part of one.
                        let n = v.len() as i64;
                        let start = if off < 0 { n + off } else { off.min(n) };
                        let end = match len {
                            Some(l) if l < 0 => n + l,
                            Some(l) => start.saturating_add(l).min(n),
                            None => n,
                        };
                        if start < 0 {
                            return self.push_value("", quoted, acc);
                        }
                        if end < start {
                            return abort(
                                UNSUPPORTED_EXIT,
                                "bash: this substring of a non-ASCII value in the C locale is not supported in this sandbox".to_owned(),
                            );
                        }
                        return match v.get(start as usize..end as usize) {
                            Some(s) => self.push_value(s, quoted, acc),
                            None => abort(
                                UNSUPPORTED_EXIT,
                                "bash: cutting a multibyte character into bytes (C locale) is not supported in this sandbox".to_owned(),
                            ),
                        };
                    }
                    let chars: Vec<char> = v.chars().collect();
                    let n = chars.len() as i64;
                    if off < 0 && n + off < 0 {
                        // bash: a negative offset before the first character selects nothing
                        // (`s=abc; ${s: -10}` is empty, not `abc`).
                        return self.push_value("", quoted, acc);
                    }
                    let start = if off < 0 { n + off } else { off.min(n) };
                    let end = match len {
                        Some(l) if l < 0 => {
                            let e = n + l;
                            if e < start {
                                return Err(Flow::Fatal(
                                    1,
                                    format!("bash: {l}: substring expression < 0"),
                                ));
                            }
                            e
                        }
                        Some(l) => (start + l).min(n),
                        None => n,
                    };
                    let s: String = chars[start as usize..end as usize].iter().collect();
                    self.push_value(&s, quoted, acc)?;
                }
            }
            P::Transform { op, .. } => {
                let vals = values.unwrap_or_default();
                let utf8 = self.utf8_locale();
                let out: Vec<String> = vals
                    .iter()
                    .map(|v| match op {
                        word::ParameterTransformOp::ToUpperCase => upper(v, utf8),
                        word::ParameterTransformOp::ToLowerCase => lower(v, utf8),
                        word::ParameterTransformOp::CapitalizeInitial => capitalize(v, utf8),
                        // Control characters (and in C non-ASCII ones) take bash's `$'...'`.
                        word::ParameterTransformOp::Quoted => {
                            crate::commands::ansi_c_quote(v, utf8).unwrap_or_else(|| shell_quote(v))
                        }
                        word::ParameterTransformOp::ExpandEscapeSequences => {
                            crate::commands::unescape_ansi(v)
                        }
                        _ => v.clone(),
                    })
                    .collect();
                self.push_multi(out, multi, quoted, acc)?;
            }
            P::UppercaseFirstChar { .. }
            | P::UppercasePattern { .. }
            | P::LowercaseFirstChar { .. }
            | P::LowercasePattern { .. } => {
                let vals = values.unwrap_or_default();
                let utf8 = self.utf8_locale();
                let out: Vec<String> = vals
                    .iter()
                    .map(|v| match pe {
                        P::UppercaseFirstChar { .. } => capitalize(v, utf8),
                        P::UppercasePattern { .. } => upper(v, utf8),
                        P::LowercaseFirstChar { .. } => {
                            let mut c = v.chars();
                            match c.next() {
                                Some(f) => lower(f.encode_utf8(&mut [0; 4]), utf8) + c.as_str(),
                                None => String::new(),
                            }
                        }
                        _ => lower(v, utf8),
                    })
                    .collect();
                self.push_multi(out, multi, quoted, acc)?;
            }
            P::ReplaceSubstring {
                pattern,
                replacement,
                match_kind,
                ..
            } => {
                let pat = self.expand_pattern(pattern)?;
                let rep = match replacement {
                    Some(r) => self.expand_str(r)?,
                    None => String::new(),
                };
                let vals = values.unwrap_or_default();
                let out: Vec<String> = vals
                    .iter()
                    .map(|v| replace_pattern(self, v, &pat, &rep, match_kind))
                    .collect::<R<_>>()?;
                self.push_multi(out, multi, quoted, acc)?;
            }
            P::VariableNames { .. } | P::MemberKeys { .. } => {}
        }
        Ok(())
    }

    /// `${!a[@]}`/`${!prefix@}` (one field each when quoted) and their `*` forms (one word).
    fn push_keys(&self, keys: Vec<String>, concat: bool, quoted: bool, acc: &mut Acc) -> R<()> {
        if quoted && keys.is_empty() && !concat {
            acc.empty_multi = true;
            return Ok(());
        }
        if concat {
            let sep = self
                .ifs()
                .chars()
                .next()
                .map(String::from)
                .unwrap_or_default();
            return self.push_value(&keys.join(&sep), quoted, acc);
        }
        self.push_multi(keys, true, quoted, acc)
    }

    pub(super) fn push_multi(
        &self,
        vals: Vec<String>,
        multi: bool,
        quoted: bool,
        acc: &mut Acc,
    ) -> R<()> {
        if multi && quoted {
            let text: u64 = vals.iter().map(|v| 2 * v.len() as u64).sum();
            self.fits(acc.bytes + vals.len() as u64 * FIELD_COST + text + strs_cost(&vals))?;
            // Each value is dropped once copied, so the copy does not double the peak.
            for (i, v) in vals.into_iter().enumerate() {
                if i > 0 {
                    acc.new_field();
                }
                acc.lit(&v, true);
            }
            Ok(())
        } else {
            self.fits(strs_cost(&vals))?;
            self.push_value(&vals.join(" "), quoted, acc)
        }
    }
}

/// The variables every `bash -c` has before the script runs (beyond the environment).
const BASH_SETS: &[&str] = &[
    "BASH",
    "BASHOPTS",
    "BASHPID",
    "BASH_ALIASES",
    "BASH_ARGC",
    "BASH_ARGV",
    "BASH_ARGV0",
    "BASH_CMDS",
    "BASH_COMMAND",
    "BASH_EXECUTION_STRING",
    "BASH_LINENO",
    "BASH_LOADABLES_PATH",
    "BASH_SOURCE",
    "BASH_SUBSHELL",
    "BASH_VERSINFO",
    "BASH_VERSION",
    "COMP_WORDBREAKS",
    "DIRSTACK",
    "EPOCHREALTIME",
    "EPOCHSECONDS",
    "EUID",
    "GROUPS",
    "HISTCMD",
    "HOSTNAME",
    "HOSTTYPE",
    "IFS",
    "LINENO",
    "MACHTYPE",
    "OPTERR",
    "OPTIND",
    "OSTYPE",
    "PIPESTATUS",
    "PPID",
    "PS4",
    "PWD",
    "RANDOM",
    "SECONDS",
    "SHELLOPTS",
    "SHLVL",
    "SRANDOM",
    "UID",
    "_",
];

/// Those of bash's variables whose values this shell does not keep: read as empty they would
/// be wrong answers.
const NOT_KEPT: &[&str] = &[
    "PPID",
    "UID",
    "EUID",
    "LINENO",
    "BASH_SUBSHELL",
    "BASHPID",
    "HOSTTYPE",
    "OSTYPE",
    "MACHTYPE",
    "GROUPS",
    "SRANDOM",
    "BASH_COMMAND",
    "BASH_ARGV0",
    "BASH_ARGC",
    "BASHOPTS",
    "SHELLOPTS",
    "DIRSTACK",
    "COMP_WORDBREAKS",
    "HOSTNAME",
    "HISTCMD",
    "BASH_EXECUTION_STRING",
    "BASH_LOADABLES_PATH",
    "BASH_CMDS",
    "BASH_ALIASES",
];

impl Shell<'_> {
    fn special_not_kept(&self, name: &str) -> bool {
        NOT_KEPT.contains(&name) && self.get_var(name).is_none()
    }
}
