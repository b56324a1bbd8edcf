//! Loading YAML the way python yq (PyYAML, YAML 1.1) loads it, where yaml-rust2's own loader
//! differs: `Null`/`NULL` are null, a repeated key keeps its first place and takes the last
//! value, `<<` merges mappings, and `!!int`/`!!float`/`!!bool`/`!!null` convert quoted scalars
//! too. Everything else resolves as yaml-rust2 resolves it.

use std::collections::HashMap;

use yaml_rust2::parser::{MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Event, Yaml};

/// Why a text did not load: the scanner's error, or python's (a bad `!!int` value, a merge of
/// something that is not a mapping), each printed as yq prints it.
pub(super) enum LoadError {
    Scan(yaml_rust2::ScanError),
    Python(String),
}

enum Frame {
    Seq(Vec<Yaml>),
    Map {
        /// Key/value pairs in document order, `<<` values apart.
        pairs: Vec<(Yaml, Yaml)>,
        merges: Vec<Yaml>,
        /// The key waiting for its value, and whether it is a plain `<<`.
        key: Option<(Yaml, bool)>,
    },
}

#[derive(Default)]
struct Loader {
    docs: Vec<Yaml>,
    stack: Vec<(Frame, usize)>,
    anchors: HashMap<usize, Yaml>,
    error: Option<String>,
}

pub(super) fn load(text: &str) -> Result<Vec<Yaml>, LoadError> {
    let mut loader = Loader::default();
    Parser::new_from_str(text)
        .load(&mut loader, true)
        .map_err(LoadError::Scan)?;
    match loader.error {
        Some(e) => Err(LoadError::Python(e)),
        None => Ok(loader.docs),
    }
}

/// Sets `k` to `v`: a new key goes last, a known one keeps its place (a python dict).
fn put(h: &mut Hash, k: Yaml, v: Yaml) {
    match h.get_mut(&k) {
        Some(slot) => *slot = v,
        None => {
            h.insert(k, v);
        }
    }
}

/// PyYAML's `flatten_mapping`: merged pairs first (of a list, the earlier mapping wins), then
/// the mapping's own, which win over merged ones.
fn build_map(pairs: Vec<(Yaml, Yaml)>, merges: Vec<Yaml>) -> Result<Yaml, String> {
    let mut h = Hash::new();
    for m in merges {
        match m {
            Yaml::Hash(src) => src.into_iter().for_each(|(k, v)| put(&mut h, k, v)),
            Yaml::Array(list) => {
                for item in list.into_iter().rev() {
                    let Yaml::Hash(src) = item else {
                        return Err("ConstructorError: while constructing a mapping: expected a mapping for merging".to_owned());
                    };
                    src.into_iter().for_each(|(k, v)| put(&mut h, k, v));
                }
            }
            _ => {
                return Err(
                    "ConstructorError: while constructing a mapping: expected a mapping or list of mappings for merging".to_owned(),
                );
            }
        }
    }
    for (k, v) in pairs {
        put(&mut h, k, v);
    }
    Ok(Yaml::Hash(h))
}

fn python_int(v: &str) -> Option<i64> {
    let t: String = v.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    let n = if let Some(h) = body.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = body.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse().ok()?
    };
    Some(if neg { -n } else { n })
}

/// A scalar with a `tag:yaml.org,2002:` tag, as PyYAML's constructors build it (yq gives the
/// other types, `!!binary` and `!!timestamp` among them, as their text).
fn tagged(v: String, suffix: &str) -> Result<Yaml, String> {
    Ok(match suffix {
        "null" => Yaml::Null,
        "bool" => match v.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" => Yaml::Boolean(true),
            "no" | "false" | "off" => Yaml::Boolean(false),
            _ => return Err(format!("KeyError: '{}'", v.to_ascii_lowercase())),
        },
        "int" => match python_int(&v) {
            Some(n) => Yaml::Integer(n),
            None => {
                return Err(format!(
                    "ValueError: invalid literal for int() with base 10: '{v}'"
                ));
            }
        },
        "float" => {
            let t: String = v.chars().filter(|c| *c != '_').collect();
            let lower = t.to_ascii_lowercase();
            if t.parse::<f64>().is_ok()
                || matches!(lower.trim_start_matches(['+', '-']), ".inf" | ".nan")
            {
                Yaml::Real(t)
            } else {
                return Err(format!(
                    "ValueError: could not convert string to float: '{v}'"
                ));
            }
        }
        _ => Yaml::String(v),
    })
}

fn scalar(v: String, style: TScalarStyle, tag: Option<Tag>) -> Result<Yaml, String> {
    match tag {
        Some(Tag { handle, suffix }) if handle == "tag:yaml.org,2002:" => tagged(v, &suffix),
        Some(_) => Ok(Yaml::String(v)),
        None if style != TScalarStyle::Plain => Ok(Yaml::String(v)),
        None if v == "Null" || v == "NULL" => Ok(Yaml::Null),
        None => Ok(Yaml::from_str(&v)),
    }
}

impl Loader {
    fn insert(&mut self, node: Yaml, aid: usize, merge_key: bool) {
        if aid > 0 {
            self.anchors.insert(aid, node.clone());
        }
        match self.stack.last_mut() {
            None => self.stack.push((Frame::Seq(vec![node]), usize::MAX)),
            Some((Frame::Seq(v), _)) => v.push(node),
            Some((Frame::Map { pairs, merges, key }, _)) => match key.take() {
                None => *key = Some((node, merge_key)),
                Some((_, true)) => merges.push(node),
                Some((k, false)) => pairs.push((k, node)),
            },
        }
    }

    fn event(&mut self, ev: Event) -> Result<(), String> {
        match ev {
            Event::DocumentEnd => match self.stack.pop() {
                // The document's root sits alone in a marker frame.
                Some((Frame::Seq(mut v), usize::MAX)) => {
                    self.docs.push(v.pop().unwrap_or(Yaml::BadValue))
                }
                Some(_) => self.docs.push(Yaml::BadValue),
                None => self.docs.push(Yaml::BadValue),
            },
            Event::SequenceStart(aid, _) => self.stack.push((Frame::Seq(Vec::new()), aid)),
            Event::MappingStart(aid, _) => self.stack.push((
                Frame::Map {
                    pairs: Vec::new(),
                    merges: Vec::new(),
                    key: None,
                },
                aid,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some((frame, aid)) = self.stack.pop() else {
                    return Ok(());
                };
                let node = match frame {
                    Frame::Seq(v) => Yaml::Array(v),
                    Frame::Map { pairs, merges, .. } => build_map(pairs, merges)?,
                };
                self.insert(node, aid, false);
            }
            Event::Scalar(v, style, aid, tag) => {
                let merge_key = style == TScalarStyle::Plain && tag.is_none() && v == "<<";
                let node = scalar(v, style, tag)?;
                self.insert(node, aid, merge_key);
            }
            Event::Alias(id) => {
                let n = self.anchors.get(&id).cloned().unwrap_or(Yaml::BadValue);
                self.insert(n, 0, false);
            }
            _ => {}
        }
        Ok(())
    }
}

impl MarkedEventReceiver for Loader {
    fn on_event(&mut self, ev: Event, _mark: Marker) {
        if self.error.is_none()
            && let Err(e) = self.event(ev)
        {
            self.error = Some(e);
        }
    }
}
