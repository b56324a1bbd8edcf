//! Failures specific to Daytona, mapped into the SDK's error kinds.

use std::time::Duration;

use atlas_sandbox_sdk::{Error, ErrorKind};

use crate::ID;

/// What can go wrong talking to Daytona beyond an HTTP error status (those are mapped by
/// `atlas_sandbox_cloud::check`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DaytonaError {
    /// The sandbox reached a failed state while starting.
    #[error("sandbox {id} failed to start (state {state}): {reason}")]
    StartFailed {
        id: String,
        state: String,
        reason: String,
    },
    /// The sandbox did not reach `started` in time.
    #[error("sandbox {id} was still {state} after {waited:?} (create_timeout); it was deleted")]
    StartTimeout {
        id: String,
        state: String,
        waited: Duration,
    },
    /// A response did not have the shape the protocol promises.
    #[error("unexpected response from {what}: {detail}")]
    BadResponse { what: &'static str, detail: String },
    /// The toolbox rejected part of the upload.
    #[error("the semantic layer upload was rejected: {0}")]
    UploadRejected(String),
}

impl From<DaytonaError> for Error {
    fn from(e: DaytonaError) -> Self {
        let kind = match &e {
            DaytonaError::StartFailed { .. } => ErrorKind::Backend,
            DaytonaError::StartTimeout { .. } => ErrorKind::Timeout,
            DaytonaError::BadResponse { .. } => ErrorKind::Backend,
            DaytonaError::UploadRejected(_) => ErrorKind::Backend,
        };
        let mut err = Error::new(kind, e.to_string()).with_backend(ID);
        match &e {
            DaytonaError::StartFailed { id, .. } | DaytonaError::StartTimeout { id, .. } => {
                err = err.with_context("sandbox_id", id);
            }
            _ => {}
        }
        if let DaytonaError::StartFailed { .. } = e {
            err = err.set_temporary(true);
        }
        err
    }
}
