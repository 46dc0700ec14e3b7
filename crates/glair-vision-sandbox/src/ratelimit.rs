//! A per-account rate limit, as an API gateway applies it: a token bucket per API
//! key (`rate` tokens a second, at most `burst` saved up); a request finding the
//! bucket empty is answered 429 with `Retry-After` before any work is done.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The buckets of every API key seen, and how many requests were refused.
pub(crate) struct RateLimits {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<Vec<u8>, Bucket>>,
    throttled: AtomicU64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimits {
    /// `None` when there is no limit (`rate` 0).
    pub(crate) fn new(rate: f64, burst: u32) -> Option<RateLimits> {
        (rate > 0.0).then(|| RateLimits {
            rate,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
            throttled: AtomicU64::new(0),
        })
    }

    /// Takes a token from `key`'s bucket, or says how long until one is there
    /// (whole seconds, rounded up, as `Retry-After` carries it: at least 1 s).
    pub(crate) fn take(&self, key: &[u8]) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = match buckets.get_mut(key) {
            Some(b) => b,
            None => buckets.entry(key.to_vec()).or_insert(Bucket { tokens: self.burst, at: now }),
        };
        let refilled = now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refilled).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - bucket.tokens) / self.rate;
        drop(buckets);
        self.throttled.fetch_add(1, Ordering::Relaxed);
        Err(wait.ceil().max(1.0) as u64)
    }

    /// Requests answered 429 by this limit so far.
    pub(crate) fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusals_with_a_whole_second_retry_after() {
        let limits = RateLimits::new(2.0, 3).unwrap();
        for _ in 0..3 {
            assert_eq!(limits.take(b"a"), Ok(()));
        }
        assert_eq!(limits.take(b"a"), Err(1));
        // Keys have buckets of their own.
        assert_eq!(limits.take(b"b"), Ok(()));
        assert_eq!(limits.throttled(), 1);
    }

    #[test]
    fn a_slow_rate_asks_for_a_longer_wait() {
        let limits = RateLimits::new(0.2, 1).unwrap();
        assert_eq!(limits.take(b"k"), Ok(()));
        assert_eq!(limits.take(b"k"), Err(5));
    }

    #[test]
    fn no_rate_no_limit() {
        assert!(RateLimits::new(0.0, 10).is_none());
    }
}
