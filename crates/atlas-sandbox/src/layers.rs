//! Named semantic layers: `[layers.<name>]` in `atlas.toml`, shared by the library and the
//! explore server.
//!
//! A layer is either one directory (`root = "..."`) or a family of directories, one per tenant,
//! named by a pattern (`pattern = "/data/.orgs/{org}"`), so thousands of orgs are one table. A
//! pattern layer is addressed as `<name>/<org>`. The `[sandbox] semantic_root` is always the
//! layer `default` unless a `[layers.default]` table replaces it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The name of the layer that `[sandbox] semantic_root` provides.
pub const DEFAULT_LAYER: &str = "default";
/// The placeholder a pattern layer replaces with the org id.
pub const ORG_PLACEHOLDER: &str = "{org}";

/// One `[layers.<name>]` table as written in `atlas.toml`: exactly one of `root` and `pattern`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LayerSection {
    /// One semantic layer directory. A relative path is resolved against the directory of the
    /// config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// A directory per tenant: a path containing `{org}` once, e.g. `/data/.orgs/{org}`. The layer
    /// is then addressed as `<name>/<org>`; an org is letters, digits, `_`, `-` and `.` (not
    /// leading), at most 128 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"\{org\}"))]
    pub pattern: Option<String>,
}

/// How a named layer finds its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerSource {
    /// One directory.
    Root(PathBuf),
    /// One directory per org: the text before and after `{org}`.
    Pattern {
        /// The path up to `{org}` (the tenants' common parent).
        prefix: String,
        /// The path after `{org}` (often empty).
        suffix: String,
    },
}

/// The resolved named layers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layers {
    layers: BTreeMap<String, LayerSource>,
}

/// A layer reference resolved to a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedLayer {
    /// The canonical reference: `name` or `name/org`.
    pub name: String,
    /// The directory (canonical).
    pub root: PathBuf,
}

/// Why a layer reference cannot be used. Unknown layers, unknown orgs and malformed references
/// share one message on purpose: a caller must not learn which tenants exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerError {
    /// The reference as given.
    pub reference: String,
}

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "layer {:?} does not exist or is not available to this caller",
            self.reference
        )
    }
}

impl std::error::Error for LayerError {}

/// Whether `s` is a valid layer name (the `<name>` of `[layers.<name>]`).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `s` is a valid org id for a pattern layer: no separators, no `..`, no leading dot.
pub fn valid_org(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

impl Layers {
    /// Only the default layer, over `root`.
    pub fn single(root: impl Into<PathBuf>) -> Self {
        let mut layers = BTreeMap::new();
        layers.insert(DEFAULT_LAYER.to_owned(), LayerSource::Root(root.into()));
        Layers { layers }
    }

    /// Adds (or replaces) a layer.
    pub fn insert(&mut self, name: impl Into<String>, source: LayerSource) {
        self.layers.insert(name.into(), source);
    }

    /// A pattern source from `pattern` (which must contain `{org}` exactly once).
    pub fn pattern_source(pattern: &str) -> Option<LayerSource> {
        let (prefix, suffix) = pattern.split_once(ORG_PLACEHOLDER)?;
        if suffix.contains(ORG_PLACEHOLDER) {
            return None;
        }
        Some(LayerSource::Pattern {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }

    /// The layers by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &LayerSource)> {
        self.layers.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The layers with one fixed directory, by name (the ones a warm pool can be loaded with).
    pub fn fixed_roots(&self) -> BTreeMap<String, PathBuf> {
        self.layers
            .iter()
            .filter_map(|(k, v)| match v {
                LayerSource::Root(r) => Some((k.clone(), r.clone())),
                LayerSource::Pattern { .. } => None,
            })
            .collect()
    }

    /// The source of a layer by name.
    pub fn get(&self, name: &str) -> Option<&LayerSource> {
        self.layers.get(name)
    }

    /// Resolves `reference` (`name`, or `name/org` for a pattern layer; `None` = `default`) to
    /// an existing directory. A pattern layer's directory must stay under its prefix after
    /// symlinks are resolved, so a tenant directory that is a symlink cannot point at another
    /// tenant's layer.
    pub fn resolve(&self, reference: Option<&str>) -> Result<ResolvedLayer, LayerError> {
        let reference = reference.unwrap_or(DEFAULT_LAYER);
        let err = || LayerError {
            reference: reference.to_owned(),
        };
        let (name, org) = match reference.split_once('/') {
            Some((n, o)) => (n, Some(o)),
            None => (reference, None),
        };
        match (self.layers.get(name).ok_or_else(err)?, org) {
            (LayerSource::Root(root), None) => {
                let root = std::fs::canonicalize(root).map_err(|_| err())?;
                root.is_dir().then_some(()).ok_or_else(err)?;
                Ok(ResolvedLayer {
                    name: name.to_owned(),
                    root,
                })
            }
            (LayerSource::Pattern { prefix, suffix }, Some(org)) if valid_org(org) => {
                let path = PathBuf::from(format!("{prefix}{org}{suffix}"));
                let root = std::fs::canonicalize(&path).map_err(|_| err())?;
                let base = pattern_base(prefix);
                let base = std::fs::canonicalize(&base).map_err(|_| err())?;
                if !root.starts_with(&base) || root == base || !root.is_dir() {
                    return Err(err());
                }
                Ok(ResolvedLayer {
                    name: format!("{name}/{org}"),
                    root,
                })
            }
            _ => Err(err()),
        }
    }
}

/// The directory a pattern's tenants live in: the prefix up to its last `/`.
fn pattern_base(prefix: &str) -> PathBuf {
    match prefix.rfind('/') {
        Some(0) => PathBuf::from("/"),
        Some(i) => PathBuf::from(&prefix[..i]),
        None => PathBuf::from("."),
    }
}

/// Whether a grant (`name`, `name/org`, `name/*`, or `*`) allows the resolved layer `name`.
pub fn grant_allows(grant: &str, layer: &str) -> bool {
    if grant == "*" || grant == layer {
        return true;
    }
    match (grant.strip_suffix("/*"), layer.split_once('/')) {
        (Some(g), Some((n, _))) => g == n,
        _ => false,
    }
}

/// Resolves `[layers.*]` tables (already schema-checked) against `base_dir` (the config file's
/// directory); returns the layers and the problems as `(key, message)`.
pub fn from_sections(
    sections: &BTreeMap<String, LayerSection>,
    default_root: &Path,
    base_dir: &Path,
) -> (Layers, Vec<(String, String)>) {
    let mut layers = Layers::single(default_root);
    let mut problems = Vec::new();
    for (name, s) in sections {
        let key = format!("layers.{name}");
        if !valid_name(name) {
            problems.push((
                key,
                "a layer name is letters, digits, '_' and '-' (at most 64)".into(),
            ));
            continue;
        }
        match (&s.root, &s.pattern) {
            (Some(root), None) => {
                let root = base_dir.join(root);
                if !root.is_dir() {
                    problems.push((
                        format!("{key}.root"),
                        format!("{} is not a directory", root.display()),
                    ));
                    continue;
                }
                layers.insert(name.clone(), LayerSource::Root(root));
            }
            (None, Some(pattern)) => {
                let absolute = if Path::new(pattern).is_absolute() {
                    pattern.clone()
                } else {
                    format!("{}/{pattern}", base_dir.display())
                };
                match Layers::pattern_source(&absolute) {
                    Some(src @ LayerSource::Pattern { .. }) => {
                        if let LayerSource::Pattern { prefix, .. } = &src
                            && (!prefix.ends_with('/') || !pattern_base(prefix).is_dir())
                        {
                            problems.push((
                                format!("{key}.pattern"),
                                format!(
                                    "{{org}} must be a whole path component under an existing \
                                     directory (got {pattern:?})"
                                ),
                            ));
                            continue;
                        }
                        layers.insert(name.clone(), src);
                    }
                    _ => problems.push((
                        format!("{key}.pattern"),
                        format!("must contain {{org}} exactly once (got {pattern:?})"),
                    )),
                }
            }
            _ => problems.push((key, "set exactly one of `root` and `pattern`".into())),
        }
    }
    (layers, problems)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn roots_patterns_and_the_same_error_for_unknown_and_malformed() {
        let dir = tempfile::tempdir().unwrap();
        let orgs = dir.path().join(".orgs");
        std::fs::create_dir_all(orgs.join("acme")).unwrap();
        std::fs::create_dir_all(orgs.join("globex")).unwrap();
        std::fs::create_dir_all(dir.path().join("outside")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), orgs.join("evil")).unwrap();
        let mut layers = Layers::single(dir.path());
        layers.insert(
            "tenants",
            Layers::pattern_source(&format!("{}/{{org}}", orgs.display())).unwrap(),
        );
        assert_eq!(layers.resolve(None).unwrap().name, "default");
        let acme = layers.resolve(Some("tenants/acme")).unwrap();
        assert_eq!(acme.root, std::fs::canonicalize(orgs.join("acme")).unwrap());
        for bad in [
            "nope",
            "tenants",
            "tenants/",
            "tenants/..",
            "tenants/../x",
            "tenants/missing",
            "tenants/evil",
            "default/acme",
        ] {
            let e = layers.resolve(Some(bad)).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("layer {bad:?} does not exist or is not available to this caller")
            );
        }
    }

    #[test]
    fn grants() {
        assert!(grant_allows("*", "x"));
        assert!(grant_allows("tenants/*", "tenants/acme"));
        assert!(grant_allows("tenants/acme", "tenants/acme"));
        assert!(!grant_allows("tenants/acme", "tenants/globex"));
        assert!(!grant_allows("tenants", "tenants/acme"));
        assert!(!grant_allows("ten/*", "tenants/acme"));
        assert!(!grant_allows("default", "other"));
    }
}
