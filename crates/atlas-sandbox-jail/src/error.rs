//! The backend's own failures, mapped into the SDK's one error type.

use std::path::PathBuf;
use std::time::Duration;

use atlas_sandbox_sdk::{Error, ErrorKind};

use crate::ID;

/// What went wrong inside the backend (never the command's own exit status).
#[derive(Debug, thiserror::Error)]
pub(crate) enum JailError {
    #[error(
        "cannot start the jail worker ({WORKER}): {0}",
        WORKER = "/proc/self/exe"
    )]
    Spawn(#[source] std::io::Error),
    #[error("the jail could not be built: {0}")]
    Setup(String),
    #[error("the semantic layer {path} is not usable in the jail: {detail}")]
    Layer { path: PathBuf, detail: String },
    #[error("the jail worker did not report ready within {0:?} (is the host overloaded?)")]
    StartTimeout(Duration),
    #[error("the jail worker is gone ({0}); create a new sandbox")]
    WorkerGone(String),
    #[error("talking to the jail worker failed: {0}")]
    Io(String),
    #[error("the command could not be started in the jail: {0}")]
    SpawnFailed(String),
    #[error("the sandbox was closed")]
    Closed,
    #[error("cwd {0:?} is not a directory of the semantic layer")]
    BadCwd(String),
}

impl From<JailError> for Error {
    fn from(e: JailError) -> Self {
        let kind = match &e {
            JailError::Setup(_) => ErrorKind::Unavailable,
            JailError::StartTimeout(_) => ErrorKind::Timeout,
            JailError::Layer { .. } => ErrorKind::ConfigInvalid,
            JailError::WorkerGone(_) => ErrorKind::SandboxGone,
            JailError::Closed | JailError::BadCwd(_) => ErrorKind::InvalidRequest,
            JailError::Spawn(_) | JailError::Io(_) | JailError::SpawnFailed(_) => {
                ErrorKind::Backend
            }
        };
        Error::new(kind, e.to_string()).with_backend(ID)
    }
}
