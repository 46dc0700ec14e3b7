//! What a caller's tracing needs of a call: the W3C trace context it sends to
//! GLAIR (`traceparent`, `tracestate`: the caller's span becomes the parent of
//! whatever GLAIR records), and a report of what the call did (attempts, 429s,
//! time waiting for the pacer, the last status). The Python and Node packages
//! make OpenTelemetry spans and metrics of these; in Rust the same shows on the
//! `glair_vision.verification` span (`tracing`, which `tracing-opentelemetry`
//! exports), and [`crate::Identity::verification_with_report`] returns the report.
//!
//! Nothing here holds personal data: ids, counts, durations and statuses only.

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderValue;

use crate::error::{Error, Result, ValidationError};

/// The longest `tracestate` sent (the W3C limit is 512 characters).
pub const MAX_TRACESTATE_LEN: usize = 512;

/// A W3C trace context (https://www.w3.org/TR/trace-context/), checked.
#[derive(Clone, PartialEq, Eq)]
pub struct TraceContext {
    traceparent: HeaderValue,
    tracestate: Option<HeaderValue>,
}

impl TraceContext {
    /// `traceparent` as `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`
    /// (lower case; neither id all zeros; version `ff` is invalid), and an
    /// optional `tracestate` of at most 512 visible ASCII characters. Anything else
    /// is an [`Error::Validation`] naming the header.
    pub fn new(traceparent: &str, tracestate: Option<&str>) -> Result<TraceContext> {
        TraceContext::checked(traceparent, tracestate).map_err(Error::Validation)
    }

    fn checked(
        traceparent: &str,
        tracestate: Option<&str>,
    ) -> std::result::Result<TraceContext, ValidationError> {
        let bad = |key: &str, why: &str| ValidationError::for_key(key, why);
        if !valid_traceparent(traceparent) {
            return Err(bad("traceparent", "must be a W3C traceparent: 00-<32 hex>-<16 hex>-<2 hex>"));
        }
        let tracestate = match tracestate.filter(|s| !s.is_empty()) {
            None => None,
            Some(s) if s.len() > MAX_TRACESTATE_LEN => {
                return Err(bad("tracestate", "must be at most 512 characters"))
            }
            Some(s) if !s.bytes().all(|b| (0x20..=0x7e).contains(&b)) => {
                return Err(bad("tracestate", "must be visible ASCII characters"))
            }
            Some(s) => {
                Some(HeaderValue::from_str(s).map_err(|_| bad("tracestate", "is not a valid header value"))?)
            }
        };
        let traceparent = HeaderValue::from_str(traceparent).expect("checked: lower-case hex and dashes");
        Ok(TraceContext { traceparent, tracestate })
    }

    /// A record's own trace context (a batch row's `traceparent` and
    /// `tracestate` keys): `None` without a `traceparent`; a `tracestate` alone
    /// is refused, as is anything [`TraceContext::new`] refuses.
    pub fn of_record(
        traceparent: Option<&str>,
        tracestate: Option<&str>,
    ) -> std::result::Result<Option<TraceContext>, ValidationError> {
        match (traceparent, tracestate) {
            (Some(parent), state) => TraceContext::checked(parent, state).map(Some),
            (None, Some(_)) => Err(ValidationError::for_key("tracestate", "needs a traceparent")),
            (None, None) => Ok(None),
        }
    }

    pub fn traceparent(&self) -> &str {
        self.traceparent.to_str().expect("ASCII")
    }

    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_ref().map(|v| v.to_str().expect("ASCII"))
    }

    pub(crate) fn headers(&self) -> (&HeaderValue, Option<&HeaderValue>) {
        (&self.traceparent, self.tracestate.as_ref())
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceContext")
            .field("traceparent", &self.traceparent())
            .field("tracestate", &self.tracestate())
            .finish()
    }
}

fn valid_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex =
        |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let zeros = |s: &str| s.bytes().all(|b| b == b'0');
    matches!(parts.as_slice(), [version, trace_id, parent_id, flags]
        if hex(version, 2) && *version != "ff" && hex(trace_id, 32) && !zeros(trace_id)
            && hex(parent_id, 16) && !zeros(parent_id) && hex(flags, 2)
            // Version 00 has exactly these four fields.
            && (*version != "00" || value.len() == 55))
}

/// What one call did, for spans and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallReport {
    /// Attempts sent: the first and every retry (0 if refused before sending).
    pub attempts: u32,
    /// Of those, the ones answered 429.
    pub throttled: u32,
    /// Time spent waiting for the pacer's send slots, over every attempt.
    pub pacer_wait: Duration,
    /// The HTTP status of the last answer, if any attempt was answered.
    pub status: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_records_own_context_needs_a_traceparent() {
        assert_eq!(TraceContext::of_record(None, None).unwrap(), None);
        let own = TraceContext::of_record(Some(PARENT), Some("a=b")).unwrap().unwrap();
        assert_eq!((own.traceparent(), own.tracestate()), (PARENT, Some("a=b")));
        assert_eq!(TraceContext::of_record(None, Some("a=b")).unwrap_err().field(), "tracestate");
        assert_eq!(TraceContext::of_record(Some("00-zz"), None).unwrap_err().field(), "traceparent");
    }

    #[test]
    fn w3c_examples_pass_and_malformed_contexts_are_refused() {
        let context = TraceContext::new(PARENT, Some("congo=t61rcWkgMzE")).unwrap();
        assert_eq!(context.traceparent(), PARENT);
        assert_eq!(context.tracestate(), Some("congo=t61rcWkgMzE"));
        assert_eq!(TraceContext::new(PARENT, Some("")).unwrap().tracestate(), None);
        // Only the four fields of a traceparent are sent (a later version's extra ones are refused).
        assert!(
            TraceContext::new("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ext", None).is_err()
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nx: y",
        ] {
            let err = TraceContext::new(bad, None).unwrap_err();
            assert_eq!(err.validation().map(|v| v.field()), Some("traceparent"), "{bad:?}");
        }
        assert!(TraceContext::new(PARENT, Some(&"a".repeat(513))).is_err());
        assert!(TraceContext::new(PARENT, Some("a=b\n")).is_err());
    }
}
