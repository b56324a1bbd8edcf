//! Bearer tokens and the principal a request runs as.

use atlas_sandbox_sdk::Secret;
use subtle::ConstantTimeEq;

/// A configured bearer token and the layers it may use.
#[derive(Debug, Clone)]
pub struct Token {
    /// Its label (logs, metrics, session ownership).
    pub name: String,
    /// The token.
    pub secret: Secret,
    /// Layer grants: `name`, `name/org`, `name/*`, `*`.
    pub layers: Vec<String>,
}

/// Who a request runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's label, `anonymous` without tokens, `stdio` for a stdio server.
    pub name: String,
    /// The layers it may use; `None` = all.
    pub grants: Option<Vec<String>>,
}

impl Principal {
    /// Everything allowed (no tokens configured, or stdio).
    pub fn unrestricted(name: &str) -> Self {
        Principal {
            name: name.to_owned(),
            grants: None,
        }
    }
}

/// The principal for an `Authorization` header value, comparing against every token in
/// constant time. `None`: missing or wrong.
pub(crate) fn authenticate(tokens: &[Token], header: Option<&str>) -> Option<Principal> {
    let presented = header?.strip_prefix("Bearer ")?.trim();
    let mut found = None;
    for t in tokens {
        let same: bool = t
            .secret
            .expose()
            .as_bytes()
            .ct_eq(presented.as_bytes())
            .into();
        if same && found.is_none() {
            found = Some(Principal {
                name: t.name.clone(),
                grants: Some(t.layers.clone()),
            });
        }
    }
    found
}
