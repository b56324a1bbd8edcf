//! The memory budget of an exec and of the process.
//!
//! Everything an exec builds from its input (shell strings, arrays, positional parameters, awk
//! values and fields, jq/yq values, pipeline buffers, files of the write layer) is charged to a
//! [`Meter`] when it is made and released when it is dropped. A charge past the exec's budget or
//! past the process budget (shared by every sandbox and every concurrent exec of the process)
//! fails, and the caller stops the script with exit 126 before it allocates.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bytes charged by every exec of the process, together.
static PROCESS_USED: AtomicU64 = AtomicU64::new(0);

/// The bytes every live exec of this process holds, together.
pub fn process_used() -> u64 {
    PROCESS_USED.load(Ordering::Relaxed)
}

/// A charge that did not fit: which budget and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverBudget {
    /// `limits.max_exec_memory_bytes`.
    Exec(u64),
    /// `limits.max_total_memory_bytes`.
    Process(u64),
}

impl OverBudget {
    /// The message printed on stderr (the command's name in front, just-bash style).
    pub fn message(&self, who: &str) -> String {
        match self {
            OverBudget::Exec(n) => format!(
                "{who}: memory limit exceeded ({n} bytes per exec), increase limits.max_exec_memory_bytes"
            ),
            OverBudget::Process(n) => format!(
                "{who}: memory limit exceeded ({n} bytes for all execs of the process), increase limits.max_total_memory_bytes"
            ),
        }
    }
}

#[derive(Debug)]
struct Inner {
    used: AtomicU64,
    limit: u64,
    total_limit: u64,
    /// A charge failed: later checks fail too, even after releases, so `try`/`catch` in a
    /// filter or `||` in a script cannot turn a budget overrun into a normal result.
    tripped: AtomicBool,
    /// Which budget tripped it: the process's (true) or the exec's.
    process: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Whatever the exec still holds goes back to the process when the exec ends.
        PROCESS_USED.fetch_sub(*self.used.get_mut(), Ordering::Relaxed);
    }
}

/// One exec's memory counter; clones share it (it crosses to jq's thread). `None` is the
/// unmetered meter of [`Meter::unmetered`]: every charge fits and nothing is counted.
#[derive(Debug, Clone)]
pub struct Meter(Option<Arc<Inner>>);

impl Meter {
    /// A meter with a budget of `limit` bytes for this exec and `total_limit` for the process.
    pub fn new(limit: u64, total_limit: u64) -> Self {
        Meter(Some(Arc::new(Inner {
            used: AtomicU64::new(0),
            limit,
            total_limit,
            tripped: AtomicBool::new(false),
            process: AtomicBool::new(false),
        })))
    }

    /// A meter that counts nothing: the accounting's off switch, which exists only so the
    /// compare bench can price the accounting against the same engine without it.
    #[doc(hidden)]
    pub fn unmetered() -> Self {
        Meter(None)
    }

    /// Charges `n` bytes, or fails (charging nothing) when either budget would be passed.
    pub fn charge(&self, n: u64) -> Result<(), OverBudget> {
        let Some(inner) = &self.0 else {
            return Ok(());
        };
        if n == 0 && !inner.tripped.load(Ordering::Relaxed) {
            return Ok(());
        }
        if inner.tripped.load(Ordering::Relaxed) {
            return Err(self.over());
        }
        let used = inner.used.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        if used > inner.limit {
            inner.used.fetch_sub(n, Ordering::Relaxed);
            inner.tripped.store(true, Ordering::Relaxed);
            return Err(OverBudget::Exec(inner.limit));
        }
        let total = PROCESS_USED
            .fetch_add(n, Ordering::Relaxed)
            .saturating_add(n);
        if total > inner.total_limit {
            PROCESS_USED.fetch_sub(n, Ordering::Relaxed);
            inner.used.fetch_sub(n, Ordering::Relaxed);
            inner.process.store(true, Ordering::Relaxed);
            inner.tripped.store(true, Ordering::Relaxed);
            return Err(OverBudget::Process(inner.total_limit));
        }
        Ok(())
    }

    /// Gives back `n` bytes charged earlier.
    pub fn release(&self, n: u64) {
        let Some(inner) = &self.0 else {
            return;
        };
        if n == 0 {
            return;
        }
        let n = n.min(inner.used.load(Ordering::Relaxed));
        inner.used.fetch_sub(n, Ordering::Relaxed);
        PROCESS_USED.fetch_sub(n, Ordering::Relaxed);
    }

    /// Charges the change from `old` to `new` bytes (a value replaced by a bigger or smaller one).
    pub fn rebalance(&self, old: u64, new: u64) -> Result<(), OverBudget> {
        if new > old {
            self.charge(new - old)
        } else {
            self.release(old - new);
            Ok(())
        }
    }

    /// Whether `n` more bytes would fit, without charging them (for values about to be made).
    pub fn fits(&self, n: u64) -> Result<(), OverBudget> {
        let Some(inner) = &self.0 else {
            return Ok(());
        };
        if inner.tripped.load(Ordering::Relaxed) {
            return Err(self.over());
        }
        if inner.used.load(Ordering::Relaxed).saturating_add(n) > inner.limit {
            inner.tripped.store(true, Ordering::Relaxed);
            return Err(OverBudget::Exec(inner.limit));
        }
        if PROCESS_USED.load(Ordering::Relaxed).saturating_add(n) > inner.total_limit {
            inner.process.store(true, Ordering::Relaxed);
            inner.tripped.store(true, Ordering::Relaxed);
            return Err(OverBudget::Process(inner.total_limit));
        }
        Ok(())
    }

    /// Bytes this exec holds now.
    pub fn used(&self) -> u64 {
        self.0
            .as_ref()
            .map_or(0, |i| i.used.load(Ordering::Relaxed))
    }

    /// The exec's budget.
    pub fn limit(&self) -> u64 {
        self.0.as_ref().map_or(u64::MAX, |i| i.limit)
    }

    /// Bytes left before the exec's budget (ignoring the process budget).
    pub fn room(&self) -> u64 {
        self.limit().saturating_sub(self.used())
    }

    /// Whether a charge has failed in this exec.
    pub fn tripped(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|i| i.tripped.load(Ordering::Relaxed))
    }

    /// The budget that a failed charge passed (meaningful once [`Meter::tripped`]).
    pub fn over(&self) -> OverBudget {
        match &self.0 {
            Some(i) if i.process.load(Ordering::Relaxed) => OverBudget::Process(i.total_limit),
            Some(i) => OverBudget::Exec(i.limit),
            None => OverBudget::Exec(u64::MAX),
        }
    }

    /// Marks the budget as passed (a component found a value too big before making it).
    pub fn trip(&self) {
        if let Some(i) = &self.0 {
            i.tripped.store(true, Ordering::Relaxed);
        }
    }

    /// Charges `n` bytes until the returned guard is dropped.
    pub fn hold(&self, n: u64) -> Result<Held, OverBudget> {
        self.charge(n)?;
        Ok(Held {
            meter: self.clone(),
            n,
        })
    }
}

/// Bytes charged for as long as this guard lives.
#[derive(Debug)]
pub struct Held {
    meter: Meter,
    n: u64,
}

impl Held {
    /// The meter this guard charges.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }
    /// Leaves the bytes charged after the guard is gone (someone else owns them now).
    pub fn keep(mut self) {
        self.n = 0;
    }

    /// Grows or shrinks the charge to `n` bytes.
    pub fn resize(&mut self, n: u64) -> Result<(), OverBudget> {
        self.meter.rebalance(self.n, n)?;
        self.n = n;
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.meter.release(self.n);
    }
}

/// The bytes a string takes in memory, as charged: its header plus its heap block as the
/// allocator hands it out (8 bytes of bookkeeping, 16-byte steps, 32 at least).
pub fn str_cost(s: &str) -> u64 {
    bytes_cost(s.len())
}

/// The bytes a heap buffer of `len` bytes takes, header included.
pub fn bytes_cost(len: usize) -> u64 {
    if len == 0 {
        24
    } else {
        24 + ((len as u64 + 8 + 15) & !15).max(32)
    }
}

/// The bytes a list of strings takes, with the slack a growing `Vec` keeps.
pub fn strs_cost(v: &[String]) -> u64 {
    v.iter().map(|s| str_cost(s) + 24).sum::<u64>() + 24
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_fail_past_the_exec_budget_and_stay_failed() {
        let m = Meter::new(100, u64::MAX);
        assert!(m.charge(60).is_ok());
        assert_eq!(m.charge(60), Err(OverBudget::Exec(100)));
        assert_eq!(m.used(), 60);
        m.release(60);
        assert!(m.charge(1).is_err(), "a tripped meter stays tripped");
    }

    #[test]
    fn the_process_budget_is_shared_and_returned_on_drop() {
        let before = process_used();
        let a = Meter::new(1 << 40, u64::MAX);
        a.charge(1000).unwrap();
        assert!(process_used() >= before + 1000);
        {
            let _held = a.hold(10).unwrap();
        }
        assert_eq!(a.used(), 1000);
        drop(a);
        let b = Meter::new(1 << 40, process_used() + 50);
        assert!(matches!(b.charge(1 << 30), Err(OverBudget::Process(_))));
    }
}
