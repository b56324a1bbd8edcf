//! The `explore` tool's description, generated from the layer it serves, so a model knows where
//! to look without a first `ls`.

use std::path::Path;

use crate::engine::Layer;

/// The layer used when a call names none.
pub(crate) const DEFAULT_LAYER: &str = "default";

/// How many top-level entries the description lists before it says "and N more".
const MAX_LISTED: usize = 30;

/// A summary of one layer: its top-level entries and how many entity and metric files it has.
pub fn describe_layer(root: &Path) -> String {
    let mut entries: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if name.starts_with('.') {
                return None;
            }
            let dir = e.file_type().ok()?.is_dir();
            Some(if dir { format!("{name}/") } else { name })
        })
        .collect();
    entries.sort();
    let entities = count_yaml_under(root, "entities", 0);
    let metrics = count_yaml_under(root, "metrics", 0);
    let mut s = String::new();
    let shown: Vec<&str> = entries
        .iter()
        .take(MAX_LISTED)
        .map(String::as_str)
        .collect();
    s.push_str(&format!("Top level: {}", shown.join(", ")));
    if entries.len() > MAX_LISTED {
        s.push_str(&format!(" and {} more", entries.len() - MAX_LISTED));
    }
    s.push_str(&format!(
        ". {entities} entity file(s) (entities/*.yml) and {metrics} metric file(s) (metrics/*.yml)."
    ));
    if root.join("catalog.yml").is_file() {
        s.push_str(" Start with catalog.yml (the index)");
        if root.join("glossary.yml").is_file() {
            s.push_str(" and glossary.yml (business terms)");
        }
        s.push('.');
    }
    s
}

/// YAML files inside directories named `dir` at any depth (bounded, no symlinks followed).
fn count_yaml_under(root: &Path, dir: &str, depth: usize) -> usize {
    if depth > 6 {
        return 0;
    }
    let mut n = 0;
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if !ft.is_dir() {
            continue;
        }
        let path = e.path();
        if e.file_name() == dir {
            n += std::fs::read_dir(&path)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|f| {
                    f.file_type().is_ok_and(|t| t.is_file())
                        && f.path()
                            .extension()
                            .is_some_and(|x| x == "yml" || x == "yaml")
                })
                .count();
        }
        n += count_yaml_under(&path, dir, depth + 1);
    }
    n
}

pub(crate) fn tool_description(default: Option<&Layer>, layers: &[String]) -> String {
    let mut s = String::from(
        "Run a read-only shell command over the semantic layer: YAML files that describe a \
         database (tables as entities, measures as metrics, business terms). Use it to find \
         the tables, columns, joins and metric definitions before writing SQL. Commands that \
         work: ls, cat, head, tail, grep (-r, -n, -i, -l, -c, -E), find, wc, sort, uniq, cut, \
         tr, awk, sed, jq, pipes, && and ||. Output is stdout, then stderr and the exit code \
         when they say something; files you write stay in your session only.",
    );
    match default {
        Some(l) => {
            s.push_str(&format!(
                "\n\nLayer \"{}\": {}",
                l.name,
                describe_layer(&l.root)
            ));
        }
        None => s.push_str("\n\nThere is no default layer: pass `layer`."),
    }
    let others: Vec<&String> = layers.iter().filter(|n| *n != DEFAULT_LAYER).collect();
    if !others.is_empty() {
        let list: Vec<&str> = others.iter().map(|s| s.as_str()).collect();
        s.push_str(&format!(
            "\n\nOther layers (pass `layer`; `name/<org>` for per-org layers): {}.",
            list.join(", ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn describes_the_example_layer() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/semantic");
        let d = describe_layer(&root);
        assert!(d.contains("catalog.yml"), "{d}");
        assert!(d.contains("entities/"), "{d}");
        // 17 top-level entities plus groups/finance/entities.
        let top = std::fs::read_dir(root.join("entities")).unwrap().count();
        let nested = std::fs::read_dir(root.join("groups/finance/entities"))
            .unwrap()
            .count();
        assert!(
            d.contains(&format!("{} entity file(s)", top + nested)),
            "{d}"
        );
        assert!(d.contains("Start with catalog.yml"), "{d}");
    }
}
