//! The OpenAPI 3.1 document of the JSON API, generated from the handlers and types and committed
//! as `docs/openapi.json` (a test fails when it drifts).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "atlas-sandbox explore server",
        description = "Run shell commands over a semantic layer in a sandbox. The same service \
                       speaks MCP (Streamable HTTP) at /mcp; this is the plain JSON API.",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::http::exec,
        crate::http::backends,
        crate::http::close_session,
        crate::http::healthz,
        crate::http::metrics
    ),
    components(schemas(
        crate::api::ExploreInput,
        crate::api::ExploreOutput,
        crate::api::ErrorBody,
        crate::api::ErrorDetail
    )),
    modifiers(&Bearer)
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as pretty JSON with a trailing newline (the committed form). The version is
/// left out so a release does not make the committed file stale.
pub fn openapi_json() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = "1".into();
    let mut s = doc
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
