//! Summaries of benchmark samples, the same way in every bench: sorted samples, nearest-rank
//! quantiles (`(n - 1) × q`, rounded), so a "p95" means the same thing in every table.

use std::time::Duration;

/// Quantiles and mean of a set of samples, in the samples' unit (milliseconds for
/// [`Summary::of_durations`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Smallest.
    pub min: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 50th percentile.
    pub median: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Summary {
    /// Summarises `samples` (NaNs sort last). All fields are 0 for no samples.
    pub fn of(samples: impl IntoIterator<Item = f64>) -> Summary {
        let mut v: Vec<f64> = samples.into_iter().collect();
        v.sort_by(f64::total_cmp);
        let q = |q: f64| quantile(&v, q);
        Summary {
            n: v.len(),
            min: q(0.0),
            p10: q(0.1),
            median: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            max: q(1.0),
            mean: if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            },
        }
    }

    /// Summarises durations, in milliseconds.
    pub fn of_durations(samples: impl IntoIterator<Item = Duration>) -> Summary {
        Summary::of(samples.into_iter().map(millis))
    }
}

/// The nearest-rank quantile `q` (0..=1) of sorted samples; 0 for none.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    sorted[i]
}

/// A duration in milliseconds.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Milliseconds back to a duration (negative and NaN become zero).
pub fn from_millis(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or_default()
}

/// The median element of `items` by `key` (the upper one of an even count), for runs whose
/// phases are reported together.
pub fn median_by_key<T: Clone, K: Ord>(items: &[T], key: impl FnMut(&T) -> K) -> Option<T> {
    let mut v = items.to_vec();
    v.sort_by_key(key);
    v.get(v.len() / 2).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let s = Summary::of((1..=101).map(f64::from));
        assert_eq!((s.n, s.min, s.median, s.max), (101, 1.0, 51.0, 101.0));
        assert_eq!((s.p10, s.p90, s.p95, s.p99), (11.0, 91.0, 96.0, 100.0));
        assert_eq!(s.mean, 51.0);
        assert_eq!(Summary::of([]).median, 0.0);
        let d = Summary::of_durations([Duration::from_millis(3), Duration::from_millis(1)]);
        assert_eq!((d.min, d.max), (1.0, 3.0));
        assert_eq!(from_millis(d.max), Duration::from_millis(3));
        assert_eq!(median_by_key(&[3, 1, 2], |x| *x), Some(2));
    }
}
