//! The MCP front end: one tool, `explore`, through rmcp (stdio and Streamable HTTP).

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};

use crate::api::{ExploreInput, ExploreOutput};
use crate::auth::Principal;
use crate::core::{Core, ExploreError, Transport};
use crate::{SESSION_HEADER, STDIO_SESSION, TOOL_NAME};

/// The MCP server handler. A stdio server has one principal and one implicit session; over
/// HTTP the principal and the `Atlas-Session` header come with each request.
#[derive(Debug, Clone)]
pub struct ExploreMcp {
    core: Arc<Core>,
    stdio: bool,
}

fn schema_object(v: serde_json::Value) -> Arc<JsonObject> {
    match v {
        serde_json::Value::Object(mut m) => {
            // The tool schemas are self-contained objects; the meta-schema URI and title are
            // noise in a tool listing.
            m.remove("$schema");
            m.remove("title");
            Arc::new(m)
        }
        _ => Arc::new(JsonObject::new()),
    }
}

/// The input schema of `explore`. Generated once: rmcp asks for the tool (to check a call's
/// `Mcp-Param-*` headers) on every Streamable HTTP request.
pub(crate) fn input_schema() -> Arc<JsonObject> {
    static SCHEMA: std::sync::LazyLock<Arc<JsonObject>> =
        std::sync::LazyLock::new(|| schema_object(schemars::schema_for!(ExploreInput).to_value()));
    SCHEMA.clone()
}

/// The output schema of `explore`, generated once.
pub(crate) fn output_schema() -> Arc<JsonObject> {
    static SCHEMA: std::sync::LazyLock<Arc<JsonObject>> =
        std::sync::LazyLock::new(|| schema_object(schemars::schema_for!(ExploreOutput).to_value()));
    SCHEMA.clone()
}

impl ExploreMcp {
    /// A handler for a stdio server.
    pub fn stdio(core: Arc<Core>) -> Self {
        ExploreMcp { core, stdio: true }
    }

    /// A handler for HTTP requests (the auth layer puts the principal in the request).
    pub fn http(core: Arc<Core>) -> Self {
        ExploreMcp { core, stdio: false }
    }

    fn principal(&self, ctx: &RequestContext<RoleServer>) -> Option<Principal> {
        if self.stdio {
            return Some(Principal::unrestricted(STDIO_SESSION));
        }
        ctx.extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<Principal>().cloned())
    }

    fn session_header(&self, ctx: &RequestContext<RoleServer>) -> Option<String> {
        let parts = ctx.extensions.get::<http::request::Parts>()?;
        let v = parts.headers.get(SESSION_HEADER)?.to_str().ok()?;
        Some(v.to_owned())
    }

    fn tool(&self, principal: &Principal) -> Tool {
        Tool::new_with_raw(
            TOOL_NAME,
            Some(self.core.description(principal).into()),
            input_schema(),
        )
        .with_title("Explore the semantic layer")
        .with_raw_output_schema(output_schema())
        .with_annotations(
            ToolAnnotations::new()
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        )
    }
}

fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

fn no_principal() -> McpError {
    McpError::internal_error("the request reached MCP without authentication", None)
}

impl ServerHandler for ExploreMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("atlas-sandbox", env!("CARGO_PKG_VERSION"))
                    .with_title("atlas-sandbox explore server"),
            )
            .with_instructions(
                "Use the explore tool to read the semantic layer (YAML files describing the \
                 database) with shell commands before writing SQL.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let principal = self.principal(&ctx).ok_or_else(no_principal)?;
        Ok(ListToolsResult::with_all_items(vec![self.tool(&principal)]))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        (name == TOOL_NAME).then(|| self.tool(&Principal::unrestricted(STDIO_SESSION)))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if request.name != TOOL_NAME {
            return Err(McpError::invalid_params(
                format!(
                    "unknown tool {:?}; this server has one tool, explore",
                    request.name
                ),
                None,
            ));
        }
        let principal = self.principal(&ctx).ok_or_else(no_principal)?;
        let args = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let input: ExploreInput = match serde_json::from_value(args) {
            Ok(i) => i,
            Err(e) => return Ok(tool_error(format!("invalid arguments: {e}")).into()),
        };
        let header = self.session_header(&ctx);
        let implicit = self.stdio.then_some(STDIO_SESSION);
        let transport = if self.stdio {
            Transport::Stdio
        } else {
            Transport::McpHttp
        };
        // The client going away (or cancelling) drops the call, which stops the command.
        let result = tokio::select! {
            r = self.core.explore(&principal, input, header, implicit, transport) => r,
            _ = ctx.ct.cancelled() => {
                return Err(McpError::internal_error("cancelled by the client", None));
            }
        };
        Ok(match result {
            Ok(out) => {
                let structured = serde_json::to_value(&out).map_err(|e| {
                    McpError::internal_error(format!("serializing the output: {e}"), None)
                })?;
                let mut r = CallToolResult::success(vec![ContentBlock::text(out.text())]);
                r.structured_content = Some(structured);
                r
            }
            Err(e @ ExploreError::Busy { .. }) => tool_error(e.to_string()),
            Err(e) => tool_error(e.to_string()),
        }
        .into())
    }
}

/// Serves MCP on stdin/stdout until the client closes stdin, then closes every session.
pub async fn serve_stdio(core: Arc<Core>) -> std::io::Result<()> {
    let running = ExploreMcp::stdio(core.clone())
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| std::io::Error::other(format!("MCP over stdio: {e}")))?;
    let quit = tokio::select! {
        r = running.waiting() => Some(r),
        _ = crate::http::shutdown_signal() => None,
    };
    core.begin_shutdown();
    let errors = core.engine().shutdown().await;
    for e in &errors {
        tracing::warn!(error = %e, "closing a session failed");
    }
    match quit {
        Some(Err(e)) => Err(std::io::Error::other(format!("MCP over stdio: {e}"))),
        _ => Ok(()),
    }
}
