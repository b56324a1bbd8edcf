//! This backend's failures, mapped into the SDK's error type.

use atlas_sandbox_sdk::Error;

use crate::vfs::FsError;

/// What can go wrong in the backend itself (not in a command: those are exit codes).
#[derive(Debug, thiserror::Error)]
pub(crate) enum JustBashError {
    #[error("invalid [plugins.just-bash] config: {0}")]
    Config(String),
    #[error("cannot open the semantic layer root: {0}")]
    OpenRoot(FsError),
    #[error("the working directory {0:?} is not a directory of the semantic layer")]
    BadCwd(String),
    #[error("the sandbox is closed")]
    Closed,
    #[error("the interpreter thread failed: {0}")]
    Join(String),
}

impl From<JustBashError> for Error {
    fn from(e: JustBashError) -> Self {
        let msg = e.to_string();
        let err = match e {
            JustBashError::Config(_) => Error::config(msg),
            JustBashError::OpenRoot(_) => Error::unavailable(msg),
            JustBashError::BadCwd(_) => Error::invalid_request(msg),
            JustBashError::Closed => Error::new(atlas_sandbox_sdk::ErrorKind::SandboxGone, msg),
            JustBashError::Join(_) => Error::backend_failure(msg),
        };
        err.with_backend(crate::ID)
    }
}
