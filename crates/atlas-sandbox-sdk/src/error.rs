//! The one error type every backend reports through.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// What went wrong, coarsely enough for the host to decide what to do next.
///
/// A command that exits non-zero is *not* an error: it is an [`crate::ExecOutput`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is invalid (bad key, bad value, missing credential).
    ConfigInvalid,
    /// The backend cannot run here (binary missing, service unreachable, no Docker).
    Unavailable,
    /// The vendor rejected the credentials.
    Auth,
    /// The vendor throttled us; see [`Error::retry_after`].
    RateLimited,
    /// An operation of the backend itself (not the command) took too long.
    Timeout,
    /// The remote sandbox disappeared (expired, killed, stopped).
    SandboxGone,
    /// The request itself is unacceptable (command too long, bad cwd).
    InvalidRequest,
    /// Anything else that failed inside the backend.
    Backend,
}

impl ErrorKind {
    /// A stable lowercase name, for logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ConfigInvalid => "config invalid",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Auth => "authentication failed",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Timeout => "timed out",
            ErrorKind::SandboxGone => "sandbox gone",
            ErrorKind::InvalidRequest => "invalid request",
            ErrorKind::Backend => "backend failure",
        }
    }

    /// Whether errors of this kind are usually worth retrying.
    pub fn default_temporary(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited | ErrorKind::Timeout | ErrorKind::SandboxGone
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error from a backend, with its kind, whether retrying may help, the backend id and context.
///
/// Context values must never contain secrets: backends add only ids, paths, status codes and
/// vendor messages that were scrubbed of credentials.
pub struct Error {
    kind: ErrorKind,
    temporary: bool,
    backend: Cow<'static, str>,
    message: String,
    context: Vec<(&'static str, String)>,
    retry_after: Option<Duration>,
    source: Option<Source>,
}

impl Error {
    /// A new error of `kind` with a human message; `temporary` defaults from the kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            temporary: kind.default_temporary(),
            backend: Cow::Borrowed(""),
            message: message.into(),
            context: Vec::new(),
            retry_after: None,
            source: None,
        }
    }

    /// Shorthand for [`ErrorKind::ConfigInvalid`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ConfigInvalid, message)
    }

    /// Shorthand for [`ErrorKind::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// Shorthand for [`ErrorKind::Backend`].
    pub fn backend_failure(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Backend, message)
    }

    /// Shorthand for [`ErrorKind::InvalidRequest`].
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    /// Names the backend the error came from (its plugin id).
    #[must_use]
    pub fn with_backend(mut self, backend: impl Into<Cow<'static, str>>) -> Self {
        self.backend = backend.into();
        self
    }

    /// Adds a key/value pair of context (never a secret).
    #[must_use]
    pub fn with_context(mut self, key: &'static str, value: impl fmt::Display) -> Self {
        self.context.push((key, value.to_string()));
        self
    }

    /// Overrides whether the error is temporary.
    #[must_use]
    pub fn set_temporary(mut self, temporary: bool) -> Self {
        self.temporary = temporary;
        self
    }

    /// Records the vendor's `Retry-After`.
    #[must_use]
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    /// The id of the backend that failed (empty if not set).
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// The human message, without backend or context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The key/value context.
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }

    /// How long the vendor asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.backend.is_empty() {
            write!(f, "{}: ", self.backend)?;
        }
        write!(f, "{}: {}", self.kind, self.message)?;
        if !self.context.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.context.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str(")")?;
        }
        if let Some(src) = &self.source {
            write!(f, ": {src}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("temporary", &self.temporary)
            .field("backend", &self.backend)
            .field("message", &self.message)
            .field("context", &self.context)
            .field("retry_after", &self.retry_after)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_backend_kind_and_context() {
        let e = Error::new(ErrorKind::RateLimited, "slow down")
            .with_backend("e2b")
            .with_context("status", 429)
            .with_retry_after(Duration::from_secs(2));
        assert_eq!(e.to_string(), "e2b: rate limited: slow down (status: 429)");
        assert!(e.is_temporary());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert!(!Error::config("x").is_temporary());
    }
}
