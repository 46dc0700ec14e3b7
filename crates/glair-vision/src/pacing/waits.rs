//! How much later attempts went out for waiting on the pacing store, as a histogram: what sharing the
//! account's pace across hosts adds to a call's latency (its p99 for
//! [`crate::StorePace`]). Lock-free, fixed size: buckets of a quarter of an
//! octave of microseconds, so a quantile reads within 19% of the truth.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Quarter octaves from 1 µs up to about 17 s (2^24 µs); longer waits count in the last.
const BUCKETS: usize = 4 * 24 + 1;

pub(super) struct Waits {
    /// Calls that did not wait at all.
    none: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

impl Default for Waits {
    fn default() -> Self {
        Waits { none: AtomicU64::new(0), buckets: std::array::from_fn(|_| AtomicU64::new(0)) }
    }
}

/// The bucket of a wait of `us` microseconds (at least 1).
fn bucket(us: u64) -> usize {
    let quarter_octaves = (4.0 * (us.max(1) as f64).log2()).floor() as usize;
    quarter_octaves.min(BUCKETS - 1)
}

/// The largest wait a bucket holds, in microseconds.
fn upper_us(bucket: usize) -> f64 {
    2f64.powf((bucket + 1) as f64 / 4.0)
}

impl Waits {
    /// An attempt went out `waited` later for waiting on the store (zero: not at all).
    pub(super) fn record(&self, waited: Duration) {
        let us = waited.as_micros() as u64;
        if us == 0 {
            self.none.fetch_add(1, Ordering::Relaxed);
        } else {
            self.buckets[bucket(us)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The wait that `q` (0-1) of the calls did not exceed, at its bucket's upper
    /// bound; zero when that many calls did not wait at all (or none was recorded).
    pub(super) fn quantile(&self, q: f64) -> Duration {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let none = self.none.load(Ordering::Relaxed);
        let total = none + counts.iter().sum::<u64>();
        let rank = (q.clamp(0.0, 1.0) * total as f64).ceil() as u64;
        if rank <= none {
            return Duration::ZERO;
        }
        let mut seen = none;
        for (i, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_secs_f64(upper_us(i) / 1e6);
            }
        }
        Duration::from_secs_f64(upper_us(BUCKETS - 1) / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_read_within_a_quarter_octave() {
        let w = Waits::default();
        assert_eq!(w.quantile(0.99), Duration::ZERO, "nothing recorded");
        for _ in 0..90 {
            w.record(Duration::ZERO);
        }
        for _ in 0..9 {
            w.record(Duration::from_micros(300));
        }
        w.record(Duration::from_millis(40));
        assert_eq!(w.quantile(0.9), Duration::ZERO, "90 of 100 did not wait");
        let p99 = w.quantile(0.99).as_secs_f64() * 1e6;
        assert!((300.0..300.0 * 1.19).contains(&p99), "{p99}");
        let max = w.quantile(1.0).as_secs_f64() * 1e3;
        assert!((40.0..40.0 * 1.19).contains(&max), "{max}");
    }

    #[test]
    fn waits_past_the_last_bucket_count_in_it() {
        let w = Waits::default();
        w.record(Duration::from_secs(3600));
        assert!(w.quantile(1.0) >= Duration::from_secs(16));
    }
}
