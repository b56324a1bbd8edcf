//! Failures of this backend that are not vendor HTTP statuses (those go through
//! `atlas_sandbox_cloud::check`), mapped into the SDK's one error type.

use atlas_sandbox_sdk::{Error, ErrorKind};

use crate::ID;
use crate::protocol::BadLine;

#[derive(Debug, thiserror::Error)]
pub(crate) enum VercelError {
    #[error("the command stream ended before the command started ({0})")]
    StreamEndedBeforeStart(&'static str),
    #[error("expected an application/x-ndjson stream from {operation}, got content-type {got:?}")]
    NotNdjson {
        operation: &'static str,
        got: String,
    },
    #[error("the server sent a malformed stream")]
    BadLine(#[from] BadLine),
    #[error("the server ended the stream: {code}: {message}")]
    Stream { code: String, message: String },
    #[error("cannot build the semantic layer archive")]
    Archive(#[source] std::io::Error),
    #[error("unexpected response to {operation}")]
    BadResponse {
        operation: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("the command did not finish and the sandbox no longer reports it")]
    Lost,
}

impl From<VercelError> for Error {
    fn from(e: VercelError) -> Self {
        let (kind, temporary) = match &e {
            VercelError::StreamEndedBeforeStart(_)
            | VercelError::Stream { .. }
            | VercelError::Lost => (ErrorKind::Backend, true),
            VercelError::NotNdjson { .. }
            | VercelError::BadLine(_)
            | VercelError::BadResponse { .. } => (ErrorKind::Backend, false),
            VercelError::Archive(_) => (ErrorKind::ConfigInvalid, false),
        };
        let message = e.to_string();
        let err = Error::new(kind, message)
            .with_backend(ID)
            .set_temporary(temporary);
        match e {
            VercelError::Archive(io) => err.with_source(io),
            VercelError::BadResponse { source, .. } => err.with_source(source),
            VercelError::BadLine(b) => err.with_source(b),
            _ => err,
        }
    }
}

impl From<BadLine> for Error {
    fn from(b: BadLine) -> Self {
        VercelError::BadLine(b).into()
    }
}
