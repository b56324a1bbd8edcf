//! YAML documents as jq values for yq, and the checks made on the text before loading it.

use super::value::{J as Val, Map};

pub(super) fn yaml_to_val(y: &yaml_rust2::Yaml) -> Val {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Val::Null,
        Yaml::Boolean(b) => Val::Bool(*b),
        Yaml::Integer(i) => Val::Num(*i as f64),
        // YAML's `.inf`/`.nan` (PyYAML reads them as floats; jq prints them as its limits/null).
        Yaml::Real(s) => match s.trim_start_matches('+') {
            ".inf" | ".Inf" | ".INF" => Val::Num(f64::INFINITY),
            "-.inf" | "-.Inf" | "-.INF" => Val::Num(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => Val::Num(f64::NAN),
            _ => match s.parse::<f64>() {
                Ok(f) => Val::Num(f),
                Err(_) => Val::from(s.clone()),
            },
        },
        Yaml::String(s) => Val::from(s.clone()),
        Yaml::Array(a) => a.iter().map(yaml_to_val).collect(),
        Yaml::Hash(h) => {
            let map: Map = h
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        _ => "null".to_owned(),
                    };
                    (key.into(), yaml_to_val(v))
                })
                .collect();
            Val::obj(map)
        }
    }
}

/// The first plain scalar of `text` written as an integer with a leading zero (`012`): python
/// yq's loader reads it as octal (10, and `08` fails) where this loader reads decimal.
pub(super) fn leading_zero_integer(text: &str) -> Option<String> {
    use yaml_rust2::parser::{Event, Parser};
    use yaml_rust2::scanner::TScalarStyle;
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_token().ok()?.0 {
            Event::StreamEnd => return None,
            Event::Scalar(v, TScalarStyle::Plain, _, None) => {
                let digits = v.trim_start_matches(['-', '+']);
                if digits.len() > 1
                    && digits.starts_with('0')
                    && digits.bytes().all(|c| c.is_ascii_digit())
                {
                    return Some(v);
                }
            }
            _ => {}
        }
    }
}

/// When loading `text` would build more than `limit` bytes of nodes once aliases are expanded,
/// the bytes counted when it passed the limit. Bytes are estimated per node as the loader
/// and the conversion to jq values hold them.
pub(super) fn yaml_expansion_past(text: &str, limit: u64) -> Option<u64> {
    use yaml_rust2::parser::{Event, Parser};
    const NODE: u64 = 128;
    let mut parser = Parser::new_from_str(text);
    let mut anchors: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
    // Open collections: their anchor and the bytes counted inside them so far.
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut total: u64 = 0;
    loop {
        let (event, _) = parser.next_token().ok()?;
        let add = match event {
            Event::StreamEnd => return None,
            Event::Scalar(v, _, aid, _) => {
                let n = NODE + 2 * v.len() as u64;
                if aid > 0 {
                    anchors.insert(aid, n);
                }
                n
            }
            Event::Alias(id) => anchors.get(&id).copied().unwrap_or(NODE),
            Event::SequenceStart(aid, _) | Event::MappingStart(aid, _) => {
                open.push((aid, NODE));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (aid, n) = open.pop()?;
                if aid > 0 {
                    anchors.insert(aid, n);
                }
                // The collection's bytes were counted into `total` as its items came.
                if let Some(parent) = open.last_mut() {
                    parent.1 = parent.1.saturating_add(n);
                }
                continue;
            }
            _ => continue,
        };
        if let Some(parent) = open.last_mut() {
            parent.1 = parent.1.saturating_add(add);
        }
        total = total.saturating_add(add);
        if total > limit {
            return Some(total);
        }
    }
}
