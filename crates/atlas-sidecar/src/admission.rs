//! Admission: at most `max_concurrent` commands run; the next `max_queue` requests wait for a
//! slot (first come, first served) for up to `queue_timeout`; only beyond that bound, or after
//! that wait, is a request refused with 429 and `Retry-After`.
//!
//! Refusing at once past the running limit (Atlas's and our earlier behaviour) turned a burst of
//! 64 agents into hundreds of 429s that the clients then retried with backoff; a short queue
//! absorbs the burst at the cost of a little waiting, and the bound keeps memory and latency
//! finite.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a request got no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `max_queue` requests were already waiting.
    QueueFull,
    /// It waited `queue_timeout` without a slot coming free.
    WaitedTooLong,
    /// The client went away while it waited (nothing to answer).
    ClientGone,
}

/// The running slots and the waiting line.
#[derive(Debug)]
pub struct Admission {
    slots: Arc<Semaphore>,
    max_concurrent: usize,
    waiting: AtomicUsize,
    max_queue: usize,
    queue_timeout: Duration,
}

/// Counts a request as waiting until it is dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// `max_concurrent` running, up to `max_queue` waiting for at most `queue_timeout` each.
    pub fn new(max_concurrent: usize, max_queue: usize, queue_timeout: Duration) -> Self {
        Admission {
            slots: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            waiting: AtomicUsize::new(0),
            max_queue,
            queue_timeout,
        }
    }

    /// Commands running now.
    pub fn running(&self) -> usize {
        self.max_concurrent - self.slots.available_permits()
    }

    /// Requests waiting now.
    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// A running slot, waiting for one if needed. `client_gone` is polled every `poll` while
    /// waiting, so a request whose client hung up leaves the line instead of running a command
    /// nobody will read.
    pub async fn admit(
        &self,
        poll: Duration,
        client_gone: impl Fn() -> bool,
    ) -> Result<OwnedSemaphorePermit, Refused> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        // Reserve a place in line, or be refused: the bound is exact under races.
        let mut n = self.waiting.load(Ordering::Acquire);
        loop {
            if n >= self.max_queue {
                return Err(Refused::QueueFull);
            }
            match self
                .waiting
                .compare_exchange(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => n = now,
            }
        }
        let _waiting = Waiting(&self.waiting);
        let acquire = self.slots.clone().acquire_owned();
        tokio::pin!(acquire);
        let deadline = tokio::time::sleep(self.queue_timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + poll, poll);
        loop {
            tokio::select! {
                biased;
                p = &mut acquire => {
                    // The semaphore is never closed.
                    return p.map_err(|_| Refused::WaitedTooLong);
                }
                () = &mut deadline => return Err(Refused::WaitedTooLong),
                _ = tick.tick() => {
                    if client_gone() {
                        return Err(Refused::ClientGone);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLL: Duration = Duration::from_millis(10);

    #[tokio::test]
    async fn waits_in_line_then_refuses_past_the_bound() {
        let a = Arc::new(Admission::new(1, 2, Duration::from_secs(30)));
        let first = a.admit(POLL, || false).await.unwrap();
        let (a1, a2) = (a.clone(), a.clone());
        let w1 = tokio::spawn(async move { a1.admit(POLL, || false).await.map(|_| ()) });
        let w2 = tokio::spawn(async move { a2.admit(POLL, || false).await.map(|_| ()) });
        while a.queued() < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            a.admit(POLL, || false).await.err(),
            Some(Refused::QueueFull)
        );
        drop(first);
        assert_eq!(w1.await.unwrap(), Ok(()));
        assert_eq!(w2.await.unwrap(), Ok(()));
        assert_eq!(a.queued(), 0);
        assert_eq!(a.running(), 0);
    }

    #[tokio::test]
    async fn a_wait_ends_at_the_queue_timeout_or_when_the_client_leaves() {
        let a = Admission::new(1, 8, Duration::from_millis(50));
        let _held = a.admit(POLL, || false).await.unwrap();
        assert_eq!(
            a.admit(POLL, || false).await.err(),
            Some(Refused::WaitedTooLong)
        );
        let a = Admission::new(1, 8, Duration::from_secs(30));
        let _held = a.admit(POLL, || false).await.unwrap();
        assert_eq!(
            a.admit(POLL, || true).await.err(),
            Some(Refused::ClientGone)
        );
        assert_eq!(a.queued(), 0);
    }

    #[tokio::test]
    async fn a_zero_queue_refuses_at_once_as_before() {
        let a = Admission::new(1, 0, Duration::from_secs(30));
        let _held = a.admit(POLL, || false).await.unwrap();
        assert_eq!(
            a.admit(POLL, || false).await.err(),
            Some(Refused::QueueFull)
        );
    }
}
