//! When and how long to wait before trying again.

use std::time::{Duration, SystemTime};

/// Exponential backoff with jitter; a server's `Retry-After` wins, up to a cap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// The first backoff; it doubles with every retry.
    pub initial_backoff: Duration,
    /// The longest computed backoff.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; longer requests are cut to this.
    pub max_retry_after: Duration,
    /// Also retry failures that leave it unknown whether the server processed the
    /// call ([`crate::Error::is_unanswered`]: a timeout or reset after sending and
    /// before any answer byte, a 500). Off by default: each call is billed, and a
    /// retry of a processed call bills it twice.
    pub retry_unanswered: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            retry_unanswered: false,
        }
    }
}

impl RetryPolicy {
    /// Whether this policy retries `error` (attempts left aside).
    pub fn retries(&self, error: &crate::Error) -> bool {
        error.is_retryable() || (self.retry_unanswered && error.is_unanswered())
    }

    /// The wait before retry number `retry` (0-based), given the server's request.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_retry_after);
        }
        let exp = self.initial_backoff.saturating_mul(1u32 << retry.min(16)).min(self.max_backoff);
        // "Equal jitter": half fixed, half random, so clients spread out but never
        // retry immediately.
        let half = exp / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let p = RetryPolicy::default();
        for retry in 0..10 {
            let exp = Duration::from_millis(500 * (1u64 << retry)).min(p.max_backoff);
            let d = p.delay(retry, None);
            assert!(d >= exp / 2 && d <= exp, "retry {retry}: {d:?}");
        }
    }

    #[test]
    fn retry_after_wins_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(0, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(p.delay(0, Some(Duration::from_secs(3600))), p.max_retry_after);
    }

    #[test]
    fn parses_both_retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        let later = SystemTime::now() + Duration::from_secs(30);
        let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(d > Duration::from_secs(25) && d <= Duration::from_secs(30));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
