//! The explore server: atlas-sandbox as an MCP server (stdio and Streamable HTTP, through the
//! official Rust SDK `rmcp`) and a plain JSON API, over the host's sessions and layers.
//!
//! This crate holds the front ends only: transports, bearer-token authentication, queueing
//! (`max_concurrent`, `queue_size`, `queue_timeout`), metrics, the OpenAPI document and the
//! tool description. Sessions, layers and backend selection belong to the host library; the host
//! plugs them in through [`Engine`] (the host depends on this crate, not the other way round).

mod api;
mod auth;
mod core;
mod describe;
mod engine;
mod http;
mod limits;
mod mcp;
mod metrics;
mod openapi;

pub use crate::api::{ErrorBody, ErrorDetail, ExploreInput, ExploreOutput};
pub use crate::auth::{Principal, Token};
pub use crate::core::{Core, ExploreError, ServerOptions};
pub use crate::describe::describe_layer;
pub use crate::engine::{Engine, EngineError, EngineStats, Layer, SessionRef};
pub use crate::http::{is_loopback, router, serve_http};
pub use crate::mcp::{ExploreMcp, serve_stdio};
pub use crate::openapi::openapi_json;

/// The header that names a session (the `session` argument wins when both are given).
pub const SESSION_HEADER: &str = "atlas-session";
/// The session of a stdio server when the caller names none.
pub const STDIO_SESSION: &str = "stdio";
/// The tool's name.
pub const TOOL_NAME: &str = "explore";
