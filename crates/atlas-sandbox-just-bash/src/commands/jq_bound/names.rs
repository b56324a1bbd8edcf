//! Names a filter may use that jq 1.6 does not have: jaq's own builtins (and the helpers this
//! sandbox's definitions are built from) answer where jq 1.6 stops with a compile error, and a
//! format jq 1.6 does not know is its runtime error.

/// jaq-std's and this sandbox's filters that jq 1.6 does not define, as `name/arity`.
const JAQ_ONLY: &[&str] = &[
    "abs/0",
    "add/1",
    "capture_of_match/0",
    "debug/1",
    "debug_empty/0",
    "decode_base64/0",
    "decode_uri/0",
    "encode_base64/0",
    "encode_uri/0",
    "error_empty/0",
    "escape_html/0",
    "escape_sh/0",
    "halt/1",
    "isarray/0",
    "isboolean/0",
    "isnumber/0",
    "isobject/0",
    "isstring/0",
    "key_values/0",
    "ltrim/0",
    "matches/2",
    "pick/1",
    "rtrim/0",
    "scan/2",
    "split_/2",
    "split_matches/2",
    "stderr_empty/0",
    "trim/0",
    "unescape_html/0",
];

/// Whether a call of `name` with `arity` arguments (not a local definition) names a filter jq
/// 1.6 lacks: jq would refuse the program as "not defined".
pub(super) fn jaq_only(name: &str, arity: usize) -> bool {
    // The sandbox's own helpers (`_rx`, `_jaq_test`...); jq 1.6's internal names differ.
    if name.starts_with('_') {
        return true;
    }
    JAQ_ONLY.contains(&format!("{name}/{arity}").as_str())
}

/// The formats jq 1.6 knows (`@base32` and `@base32d` are refused by name elsewhere).
pub(super) fn known_format(name: &str) -> bool {
    matches!(
        name,
        "@text"
            | "@json"
            | "@html"
            | "@uri"
            | "@csv"
            | "@tsv"
            | "@sh"
            | "@base64"
            | "@base64d"
            | "@base32"
            | "@base32d"
    )
}
