//! The account's rate limit, as the gateway in front of the API applies it: the
//! model of [`crate::gateway`] (a token bucket by default, or the window, queue,
//! refusal and headers the sandbox was configured with) on the wall clock, per
//! API key. A refused request is answered 429 before any work is done.

use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use crate::gateway::{Admission, Gateway, GatewayConfig};

pub(crate) struct RateLimits {
    gateway: Mutex<Gateway>,
    started: Instant,
}

impl RateLimits {
    pub(crate) fn new(config: GatewayConfig) -> RateLimits {
        RateLimits { gateway: Mutex::new(Gateway::new(config, SystemTime::now())), started: Instant::now() }
    }

    /// Counts one call of `key` now and answers it.
    pub(crate) fn admit(&self, key: &[u8]) -> Admission {
        let mut gateway = self.gateway.lock().unwrap_or_else(|e| e.into_inner());
        gateway.admit(key, self.started.elapsed())
    }

    /// The gateway, and second by second of the wall clock since the start
    /// (from `start_unix_s`): the rate it allowed, the calls it accepted and
    /// those it refused (over every API key).
    pub(crate) fn timeline(&self) -> serde_json::Value {
        let gateway = self.gateway.lock().unwrap_or_else(|e| e.into_inner());
        let seconds: Vec<_> = gateway
            .timeline()
            .iter()
            .enumerate()
            .map(|(i, s)| serde_json::json!([gateway.allowed_in_second(i), s.accepted, s.refused]))
            .collect();
        serde_json::json!({
            "gateway": gateway.describe(),
            "start_unix_s": gateway.timeline_start_unix_s(),
            "seconds": seconds,
        })
    }

    /// Requests answered 429 by this limit so far.
    pub(crate) fn throttled(&self) -> u64 {
        self.gateway.lock().unwrap_or_else(|e| e.into_inner()).throttled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_refusals_with_a_whole_second_retry_after() {
        let limits = RateLimits::new(GatewayConfig::token_bucket(2.0, 3));
        for _ in 0..3 {
            assert!(limits.admit(b"a").accepted);
        }
        let refused = limits.admit(b"a");
        assert_eq!((refused.accepted, refused.retry_after), (false, Some(Duration::from_secs(1))));
        // Keys have buckets of their own.
        assert!(limits.admit(b"b").accepted);
        assert_eq!(limits.throttled(), 1);
    }

    #[test]
    fn a_slow_rate_asks_for_a_longer_wait() {
        let limits = RateLimits::new(GatewayConfig::token_bucket(0.2, 1));
        assert!(limits.admit(b"k").accepted);
        assert_eq!(limits.admit(b"k").retry_after, Some(Duration::from_secs(5)));
    }
}
