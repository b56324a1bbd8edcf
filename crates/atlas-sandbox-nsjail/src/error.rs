//! The backend's own failures, mapped into the SDK's one error type.

use std::path::PathBuf;

use atlas_sandbox_sdk::{Error, ErrorKind};

use crate::ID;

/// What went wrong inside the backend (never the command's own exit status).
#[derive(Debug, thiserror::Error)]
pub(crate) enum NsjailError {
    #[error("{0}")]
    NotFound(String),
    #[error("cannot prepare the sandbox directory {path}: {source}")]
    Workdir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start nsjail ({path}): {source}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("nsjail could not set up the jail (nsjail {status}): {messages}")]
    Setup { status: String, messages: String },
    #[error("nsjail ended ({status}) before reporting how the command ended{messages}")]
    Interrupted { status: String, messages: String },
    #[error("cgroup limits are on (cgroups = \"on\") but cannot be used: {0}")]
    Cgroups(String),
    #[error("the semantic layer {path} is not readable by the jail user (uid {uid}): {detail}")]
    LayerUnreadable {
        path: PathBuf,
        uid: u32,
        detail: String,
    },
    #[error("the setup probe jail did not finish within {0:?} (is the host overloaded?)")]
    ProbeTimeout(std::time::Duration),
    #[error(
        "the layer's overlay (layer = \"overlay\") could not be built, {0}; set layer = \"read-only\" in [plugins.nsjail] to run with the layer read-only and nothing kept between commands"
    )]
    State(String),
    #[error("the sandbox was closed")]
    Closed,
    #[error("cwd {0:?} is not a directory of the semantic layer")]
    BadCwd(String),
}

impl From<NsjailError> for Error {
    fn from(e: NsjailError) -> Self {
        let kind = match &e {
            // A jail that cannot be built: the command never ran, and no command will.
            NsjailError::NotFound(_)
            | NsjailError::Cgroups(_)
            | NsjailError::Setup { .. }
            | NsjailError::State(_) => ErrorKind::Unavailable,
            NsjailError::ProbeTimeout(_) => ErrorKind::Timeout,
            NsjailError::LayerUnreadable { .. } => ErrorKind::ConfigInvalid,
            NsjailError::Closed | NsjailError::BadCwd(_) => ErrorKind::InvalidRequest,
            NsjailError::Workdir { .. }
            | NsjailError::Spawn { .. }
            | NsjailError::Interrupted { .. } => ErrorKind::Backend,
        };
        Error::new(kind, e.to_string()).with_backend(ID)
    }
}
