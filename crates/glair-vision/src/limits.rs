//! The documented range of every count, size, duration and rate a caller can
//! set, in one place for every front door (Rust, Python, Node, CLI).
//!
//! | setting | range | default |
//! |---|---|---|
//! | `concurrency` (batches, streams, tables) | 1 to 4,096 calls in flight | 16 (tables: 64) |
//! | `max_retries` | 0 to 100 | 2 |
//! | `timeout`, `connect_timeout`, `deadline` | 1 ms to 1 day (86,400 s) | 30 s, 10 s, 60 s |
//! | `rate_limit` (a number) | 0.001 to 1,000,000 calls per second | `auto` |
//! | `max_response_bytes` | 1 KiB to 16 MiB | 256 KiB |
//! | [`crate::RetryPolicy`] `initial_backoff`, `max_backoff`, `max_retry_after` | 0 to 1 day | 0.5 s, 8 s, 60 s |
//! | `checkpoint_rows` (Dask, Spark) | 1 to 100,000 rows | 1,000 |
//!
//! Each is checked before anything is allocated or sent: by
//! [`crate::VisionBuilder::build`] (an [`Error::Configuration`] naming the
//! setting), by every call for its [`crate::RequestOptions`] and by every batch
//! for its [`crate::BatchOptions`] (an [`Error::Validation`] whose `field` is the
//! setting). The bindings check their arguments with these same ranges and
//! name the setting as their callers spell it (`maxRetries`, `timeoutMs`,
//! `--max-retries`). Memory never grows with a setting's value beyond its range:
//! a batch holds one task and one channel slot per call in flight, a response
//! body at most `max_response_bytes`, a checkpointed partition one chunk.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, ValidationError};
use crate::pacing::RateLimit;

/// A value outside its setting's range. `setting` is the core's name for it
/// (`max_retries`); [`OutOfRange::message`] says what is accepted, without
/// repeating the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutOfRange {
    setting: &'static str,
    expected: String,
}

impl OutOfRange {
    /// The setting as the core (and Python) spells it: `concurrency`, `max_retries`.
    pub fn setting(&self) -> &'static str {
        self.setting
    }

    /// What is accepted, in the core's units: `an integer from 1 to 4096`.
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// `must be an integer from 1 to 4096`.
    pub fn message(&self) -> String {
        format!("must be {}", self.expected)
    }

    /// The error a call or batch returns: [`Error::Validation`] naming the setting.
    pub fn validation(self) -> Error {
        Error::Validation(ValidationError::for_key(self.setting, self.message()))
    }

    /// The error a client's configuration returns: [`Error::Configuration`].
    pub fn configuration(self) -> Error {
        Error::Configuration(self.to_string())
    }
}

impl fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: must be {}", self.setting, self.expected)
    }
}

impl std::error::Error for OutOfRange {}

/// An integer setting's range, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    pub setting: &'static str,
    pub min: u64,
    pub max: u64,
}

impl Count {
    pub const fn contains(&self, n: u64) -> bool {
        n >= self.min && n <= self.max
    }

    /// `an integer from 1 to 4096`.
    pub fn expected(&self) -> String {
        format!("an integer from {} to {}", self.min, self.max)
    }

    /// Checks an integer of any width (a binding's big or negative integers
    /// included): the value, or [`OutOfRange`].
    pub fn check(&self, n: i128) -> Result<u64, OutOfRange> {
        u64::try_from(n)
            .ok()
            .filter(|n| self.contains(*n))
            .ok_or_else(|| OutOfRange { setting: self.setting, expected: self.expected() })
    }

    /// Checks a number that may not be an integer at all (a JS number): NaN,
    /// infinities and fractions are out of range too.
    pub fn check_f64(&self, n: f64) -> Result<u64, OutOfRange> {
        if !n.is_finite() || n.fract() != 0.0 {
            return Err(OutOfRange { setting: self.setting, expected: self.expected() });
        }
        // Saturating: 1e300 becomes i128::MAX, out of every range.
        self.check(n as i128)
    }
}

/// A duration setting's range, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationRange {
    pub setting: &'static str,
    pub min: Duration,
    pub max: Duration,
}

impl DurationRange {
    pub fn contains(&self, d: Duration) -> bool {
        d >= self.min && d <= self.max
    }

    /// `from 0.001 to 86400 seconds`.
    pub fn expected_seconds(&self) -> String {
        format!("from {} to {} seconds", self.min.as_secs_f64(), self.max.as_secs_f64())
    }

    /// `from 1 to 86400000 milliseconds`.
    pub fn expected_millis(&self) -> String {
        format!(
            "from {} to {} milliseconds",
            self.min.as_secs_f64() * 1000.0,
            self.max.as_secs_f64() * 1000.0
        )
    }

    fn out(&self, expected: String) -> OutOfRange {
        OutOfRange { setting: self.setting, expected }
    }

    pub fn check(&self, d: Duration) -> Result<Duration, OutOfRange> {
        if self.contains(d) {
            Ok(d)
        } else {
            Err(self.out(self.expected_seconds()))
        }
    }

    /// Checks a number of seconds (NaN, infinities and negatives are out of range).
    pub fn check_seconds(&self, secs: f64) -> Result<Duration, OutOfRange> {
        self.parse_f64(secs, 1.0).ok_or_else(|| self.out(self.expected_seconds()))
    }

    /// Checks a number of milliseconds (NaN, infinities and negatives are out of range).
    pub fn check_millis(&self, ms: f64) -> Result<Duration, OutOfRange> {
        self.parse_f64(ms, 1000.0).ok_or_else(|| self.out(self.expected_millis()))
    }

    fn parse_f64(&self, v: f64, per_second: f64) -> Option<Duration> {
        if !v.is_finite() || v < 0.0 {
            return None;
        }
        let d = Duration::try_from_secs_f64(v / per_second).ok()?;
        self.contains(d).then_some(d)
    }
}

/// A rate setting's range (calls per second), inclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateRange {
    pub setting: &'static str,
    pub min: f64,
    pub max: f64,
}

impl RateRange {
    pub fn contains(&self, r: f64) -> bool {
        r.is_finite() && r >= self.min && r <= self.max
    }

    /// `a number of calls per second from 0.001 to 1000000`.
    pub fn expected(&self) -> String {
        format!("a number of calls per second from {} to {}", self.min, self.max)
    }

    pub fn check(&self, r: f64) -> Result<f64, OutOfRange> {
        if self.contains(r) {
            Ok(r)
        } else {
            Err(OutOfRange { setting: self.setting, expected: self.expected() })
        }
    }
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const MILLISECOND: Duration = Duration::from_millis(1);

/// The most calls a batch, stream or table may have in flight.
pub const MAX_CONCURRENCY: usize = 4096;
/// The most retries after a call's first attempt.
pub const MAX_RETRIES: u32 = 100;
/// The longest timeout or deadline, and the longest backoff or `Retry-After` honoured.
pub const MAX_DURATION: Duration = DAY;
/// The shortest timeout or deadline.
pub const MIN_TIMEOUT: Duration = MILLISECOND;
/// The slowest fixed rate limit: one call every 1,000 seconds. A short decimal,
/// so that it reads back exactly from any JSON or text a binding passes on (a
/// fraction such as 1/86,400 may come back one unit in the last place off).
pub const MIN_RATE_LIMIT: f64 = 0.001;
/// The fastest fixed rate limit, in calls per second.
pub const MAX_RATE_LIMIT: f64 = 1_000_000.0;
/// The smallest and largest response body read.
pub const MIN_RESPONSE_BYTES: usize = 1024;
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// The most rows a checkpointed partition holds (and journals) at a time.
pub const MAX_CHECKPOINT_ROWS: u64 = 100_000;

pub const CONCURRENCY: Count = Count { setting: "concurrency", min: 1, max: MAX_CONCURRENCY as u64 };
pub const RETRIES: Count = Count { setting: "max_retries", min: 0, max: MAX_RETRIES as u64 };
pub const RESPONSE_BYTES: Count =
    Count { setting: "max_response_bytes", min: MIN_RESPONSE_BYTES as u64, max: MAX_RESPONSE_BYTES as u64 };
pub const CHECKPOINT_ROWS: Count = Count { setting: "checkpoint_rows", min: 1, max: MAX_CHECKPOINT_ROWS };

pub const TIMEOUT: DurationRange = DurationRange { setting: "timeout", min: MIN_TIMEOUT, max: MAX_DURATION };
pub const CONNECT_TIMEOUT: DurationRange =
    DurationRange { setting: "connect_timeout", min: MIN_TIMEOUT, max: MAX_DURATION };
pub const DEADLINE: DurationRange =
    DurationRange { setting: "deadline", min: MIN_TIMEOUT, max: MAX_DURATION };
pub const INITIAL_BACKOFF: DurationRange =
    DurationRange { setting: "initial_backoff", min: Duration::ZERO, max: MAX_DURATION };
pub const MAX_BACKOFF: DurationRange =
    DurationRange { setting: "max_backoff", min: Duration::ZERO, max: MAX_DURATION };
pub const MAX_RETRY_AFTER: DurationRange =
    DurationRange { setting: "max_retry_after", min: Duration::ZERO, max: MAX_DURATION };

pub const RATE_LIMIT: RateRange =
    RateRange { setting: "rate_limit", min: MIN_RATE_LIMIT, max: MAX_RATE_LIMIT };

/// `Auto`, or a fixed rate within [`RATE_LIMIT`].
pub fn check_rate_limit(limit: RateLimit) -> Result<RateLimit, OutOfRange> {
    match limit {
        RateLimit::Auto => Ok(RateLimit::Auto),
        RateLimit::Fixed(r) => RATE_LIMIT.check(r).map(RateLimit::Fixed),
    }
}

/// A batch's concurrency ([`CONCURRENCY`]).
pub fn check_concurrency(n: usize) -> Result<usize, OutOfRange> {
    CONCURRENCY.check(n as i128).map(|n| n as usize)
}

/// A retry count ([`RETRIES`]).
pub fn check_max_retries(n: u32) -> Result<u32, OutOfRange> {
    RETRIES.check(i128::from(n)).map(|n| n as u32)
}

/// The response body cap ([`RESPONSE_BYTES`]).
pub fn check_max_response_bytes(n: usize) -> Result<usize, OutOfRange> {
    RESPONSE_BYTES.check(n as i128).map(|n| n as usize)
}

/// Rows per checkpoint chunk ([`CHECKPOINT_ROWS`]).
pub fn check_checkpoint_rows(n: u64) -> Result<u64, OutOfRange> {
    CHECKPOINT_ROWS.check(i128::from(n))
}

/// Every duration and count of a retry policy.
pub fn check_retry_policy(p: &crate::RetryPolicy) -> Result<(), OutOfRange> {
    check_max_retries(p.max_retries)?;
    INITIAL_BACKOFF.check(p.initial_backoff)?;
    MAX_BACKOFF.check(p.max_backoff)?;
    MAX_RETRY_AFTER.check(p.max_retry_after)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accept_their_range_and_nothing_else() {
        assert_eq!(CONCURRENCY.check(1), Ok(1));
        assert_eq!(CONCURRENCY.check(4096), Ok(4096));
        for bad in [0, -1, 4097, 65_537, 1_000_000, 1 << 31, 1 << 62, i128::MAX, i128::MIN] {
            let e = CONCURRENCY.check(bad).unwrap_err();
            assert_eq!(e.setting(), "concurrency");
            assert_eq!(e.message(), "must be an integer from 1 to 4096");
        }
        assert_eq!(RETRIES.check(0), Ok(0));
        assert_eq!(RETRIES.check(100), Ok(100));
        assert!(RETRIES.check(101).is_err());
        assert!(RETRIES.check(-1).is_err());
        assert!(check_max_retries(u32::MAX).is_err());
        assert!(check_concurrency(usize::MAX).is_err());
        assert!(check_checkpoint_rows(0).is_err());
        assert!(check_checkpoint_rows(100_001).is_err());
        assert_eq!(check_checkpoint_rows(100_000), Ok(100_000));
        assert!(check_max_response_bytes(1023).is_err());
        assert!(check_max_response_bytes(16 * 1024 * 1024 + 1).is_err());
        assert_eq!(check_max_response_bytes(1024), Ok(1024));
    }

    #[test]
    fn counts_from_floats_refuse_what_is_not_an_integer() {
        assert_eq!(CONCURRENCY.check_f64(2.0), Ok(2));
        for bad in
            [0.0, -1.0, 1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 2f64.powi(62), 2f64.powi(31), 1e300]
        {
            assert!(CONCURRENCY.check_f64(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_accept_their_range_in_any_unit() {
        assert_eq!(TIMEOUT.check_seconds(0.001), Ok(MIN_TIMEOUT));
        assert_eq!(TIMEOUT.check_seconds(86_400.0), Ok(DAY));
        assert_eq!(TIMEOUT.check_millis(1.0), Ok(MIN_TIMEOUT));
        assert_eq!(DEADLINE.check_millis(2500.0), Ok(Duration::from_millis(2500)));
        for bad in [0.0, -1.0, 0.0009, 86_400.001, f64::NAN, f64::INFINITY, 1e300] {
            assert!(TIMEOUT.check_seconds(bad).is_err(), "{bad}");
        }
        let e = TIMEOUT.check_millis(0.0).unwrap_err();
        assert_eq!(e.message(), "must be from 1 to 86400000 milliseconds");
        let e = DEADLINE.check(Duration::MAX).unwrap_err();
        assert_eq!(e.to_string(), "invalid deadline: must be from 0.001 to 86400 seconds");
        assert_eq!(INITIAL_BACKOFF.check(Duration::ZERO), Ok(Duration::ZERO));
        assert!(MAX_RETRY_AFTER.check(DAY + MILLISECOND).is_err());
    }

    #[test]
    fn rates_are_positive_finite_and_bounded() {
        assert_eq!(
            RATE_LIMIT.check(0.0).unwrap_err().message(),
            "must be a number of calls per second from 0.001 to 1000000"
        );
        assert!(check_rate_limit(RateLimit::Auto).is_ok());
        assert!(check_rate_limit(RateLimit::Fixed(50.0)).is_ok());
        assert!(check_rate_limit(RateLimit::Fixed(MIN_RATE_LIMIT)).is_ok());
        assert!(check_rate_limit(RateLimit::Fixed(MAX_RATE_LIMIT)).is_ok());
        for bad in [0.0, -1.0, 1e-300, 0.000_999, 1.0 / 86_400.0, 1_000_000.5, f64::NAN, f64::INFINITY] {
            let e = check_rate_limit(RateLimit::Fixed(bad)).unwrap_err();
            assert_eq!(e.setting(), "rate_limit", "{bad}");
        }
    }

    #[test]
    fn errors_name_the_setting_as_validation_or_configuration() {
        let e = CONCURRENCY.check(0).unwrap_err().validation();
        assert_eq!(e.kind(), crate::ErrorKind::Validation);
        assert_eq!(e.validation().unwrap().field(), "concurrency");
        let e = RETRIES.check(1000).unwrap_err().configuration();
        assert_eq!(e.kind(), crate::ErrorKind::Configuration);
        assert!(e.to_string().contains("max_retries"), "{e}");
    }
}
