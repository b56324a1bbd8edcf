//! Deadlines as `Duration`s.

use std::future::Future;
use std::time::Duration;

/// The deadline passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(pub Duration);

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "deadline of {:?} passed", self.0)
    }
}

impl std::error::Error for Elapsed {}

/// Runs `fut` with a deadline (on the tokio timer).
pub async fn with_deadline<F: Future>(deadline: Duration, fut: F) -> Result<F::Output, Elapsed> {
    tokio::time::timeout(deadline, fut)
        .await
        .map_err(|_| Elapsed(deadline))
}
