//! The server-wide slot pool: `max_concurrent` commands run, up to `queue_size` callers wait at
//! most `queue_timeout`, everyone else is told to retry.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub(crate) struct Limiter {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue_size: usize,
    queue_timeout: Duration,
}

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    QueueFull,
    TimedOut,
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limiter {
    pub(crate) fn new(max_concurrent: usize, queue_size: usize, queue_timeout: Duration) -> Self {
        Limiter {
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            waiting: AtomicUsize::new(0),
            queue_size,
            queue_timeout,
        }
    }

    pub(crate) fn queue_timeout(&self) -> Duration {
        self.queue_timeout
    }

    /// Callers waiting now.
    pub(crate) fn depth(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    pub(crate) async fn acquire(&self) -> Result<OwnedSemaphorePermit, Refused> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _w = Waiting(&self.waiting);
        if before >= self.queue_size {
            return Err(Refused::QueueFull);
        }
        match tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Refused::TimedOut),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn queue_bound_and_timeout() {
        let l = Limiter::new(1, 1, Duration::from_millis(100));
        let held = l.acquire().await.unwrap();
        let l = Arc::new(l);
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move { l.acquire().await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(l.depth(), 1);
        assert_eq!(l.acquire().await.unwrap_err(), Refused::QueueFull);
        assert_eq!(waiter.await.unwrap().unwrap_err(), Refused::TimedOut);
        drop(held);
        assert!(l.acquire().await.is_ok());
        assert_eq!(l.depth(), 0);
    }
}
