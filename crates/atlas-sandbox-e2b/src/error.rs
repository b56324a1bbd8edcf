//! Failures specific to the E2B wire protocol, mapped into the SDK's error.

use std::time::Duration;

use atlas_sandbox_sdk::{Error, ErrorKind};

use crate::ID;
use crate::connect::FrameError;

/// What can go wrong in our handling of E2B's protocol (HTTP statuses are mapped by
/// `atlas_sandbox_cloud::check`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum E2bError {
    #[error("the command's output stream is malformed: {0}")]
    Frame(#[from] FrameError),
    #[error("envd sent an invalid message: {0}")]
    BadMessage(String),
    #[error("the output stream ended before the command finished (no end-of-stream message)")]
    StreamCut,
    #[error("no output and no keepalive from the sandbox for {0:?}; it is probably dead")]
    Idle(Duration),
    #[error("envd reported {code}: {message}")]
    Rpc { code: String, message: String },
    #[error("the E2B API answered with an unexpected body: {0}")]
    BadResponse(String),
    #[error("reading the output stream failed")]
    Transport(#[source] reqwest::Error),
    #[error("the sandbox is not running (envd answered {0})")]
    EnvdGone(u16),
}

impl From<E2bError> for Error {
    fn from(e: E2bError) -> Self {
        let kind = match &e {
            E2bError::Frame(_) | E2bError::BadMessage(_) | E2bError::BadResponse(_) => {
                ErrorKind::Backend
            }
            E2bError::StreamCut | E2bError::Transport(_) => ErrorKind::Backend,
            E2bError::Idle(_) => ErrorKind::Timeout,
            E2bError::EnvdGone(_) => ErrorKind::SandboxGone,
            E2bError::Rpc { code, .. } => match code.as_str() {
                "deadline_exceeded" => ErrorKind::Timeout,
                "unauthenticated" | "permission_denied" => ErrorKind::Auth,
                "resource_exhausted" => ErrorKind::RateLimited,
                "not_found" | "unavailable" => ErrorKind::SandboxGone,
                "invalid_argument" => ErrorKind::InvalidRequest,
                _ => ErrorKind::Backend,
            },
        };
        let temporary = matches!(
            e,
            E2bError::StreamCut
                | E2bError::Transport(_)
                | E2bError::Idle(_)
                | E2bError::EnvdGone(_)
        ) || kind.default_temporary();
        let mut err = Error::new(kind, e.to_string())
            .with_backend(ID)
            .set_temporary(temporary);
        if let E2bError::Rpc { code, .. } = &e {
            err = err.with_context("error_code", code);
        }
        if let E2bError::Transport(source) = e {
            err = err.with_source(source.without_url());
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_temporariness() {
        let e: Error = E2bError::StreamCut.into();
        assert_eq!(e.kind(), ErrorKind::Backend);
        assert!(e.is_temporary());
        assert_eq!(e.backend(), "e2b");
        let e: Error = E2bError::EnvdGone(502).into();
        assert_eq!(e.kind(), ErrorKind::SandboxGone);
        let e: Error = E2bError::Rpc {
            code: "unauthenticated".into(),
            message: "bad token".into(),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(e.to_string().contains("error_code: unauthenticated"), "{e}");
    }
}
