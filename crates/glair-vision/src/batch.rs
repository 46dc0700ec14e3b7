//! Many verifications at once: bounded concurrency, a shared smooth rate limit,
//! results as they complete with their input index, memory flat however long the
//! input. Dropping the stream cancels what is in flight.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::client::{Identity, RequestOptions};
use crate::error::{Error, Result};
use crate::request::VerificationRequest;
use crate::response::Verification;

/// How a batch runs.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchOptions {
    /// Calls in flight at once (at least 1). Default 16.
    pub concurrency: usize,
    /// Calls started per second across all workers, evenly spaced; `None` for no limit.
    pub rate_limit: Option<f64>,
    /// Per-call overrides applied to every item.
    pub request_options: RequestOptions,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions { concurrency: 16, rate_limit: None, request_options: RequestOptions::default() }
    }
}

impl BatchOptions {
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }
    pub fn rate_limit(mut self, per_second: f64) -> Self {
        self.rate_limit = Some(per_second);
        self
    }
}

/// One item's outcome, with its position in the input.
#[derive(Debug)]
pub struct BatchItem {
    pub index: usize,
    pub outcome: Result<Verification>,
}

/// Spaces call starts evenly: each caller takes the next free slot.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// `None` when `per_second` is not a positive finite number.
    pub fn new(per_second: f64) -> Option<RateLimiter> {
        (per_second.is_finite() && per_second > 0.0).then(|| RateLimiter {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: Mutex::new(None),
        })
    }

    /// Waits for this caller's slot.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// A spawned call that is aborted when the batch stops waiting for it, so
/// dropping the stream cancels what is in flight.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = std::result::Result<T, tokio::task::JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Identity {
    /// Verifies every request of `requests`, at most `options.concurrency` at a
    /// time, yielding each outcome as it completes (not in input order; use
    /// `index`). Input is pulled only as slots free up, so an endless or huge input
    /// is fine. One failure never stops the rest; each item is retried as a single
    /// call would be.
    pub fn verification_stream<S>(
        &self,
        requests: S,
        options: BatchOptions,
    ) -> impl Stream<Item = BatchItem> + Send + 'static
    where
        S: Stream<Item = VerificationRequest> + Send + 'static,
    {
        let limiter = options.rate_limit.and_then(RateLimiter::new).map(Arc::new);
        let call_options = Arc::new(options.request_options);
        let identity = self.clone();
        requests
            .enumerate()
            .map(move |(index, request)| {
                let identity = identity.clone();
                let limiter = limiter.clone();
                let call_options = call_options.clone();
                async move {
                    // Validate first: a bad row never waits for (or uses up) a rate slot.
                    let request = match request.normalized() {
                        Err(e) => return BatchItem { index, outcome: Err(e.into()) },
                        Ok(request) => request,
                    };
                    // Each call is its own task, so responses are decoded on every
                    // worker thread rather than all in the task polling the stream.
                    let call = AbortOnDrop(tokio::spawn(async move {
                        if let Some(l) = &limiter {
                            l.acquire().await;
                        }
                        identity.verification_with(&request, &call_options).await
                    }));
                    let outcome = call.await.unwrap_or_else(|e| {
                        if e.is_panic() {
                            std::panic::resume_unwind(e.into_panic());
                        }
                        Err(Error::Cancelled)
                    });
                    BatchItem { index, outcome }
                }
            })
            .buffer_unordered(options.concurrency.max(1))
    }

    /// Verifies every request and returns the outcomes in input order.
    pub async fn verification_batch<I>(&self, requests: I, options: BatchOptions) -> Vec<Result<Verification>>
    where
        I: IntoIterator<Item = VerificationRequest>,
        I::IntoIter: Send + 'static,
    {
        let requests = requests.into_iter();
        let mut slots: Vec<Option<Result<Verification>>> = Vec::with_capacity(requests.size_hint().0);
        let mut items = std::pin::pin!(self.verification_stream(stream::iter(requests), options));
        while let Some(item) = items.next().await {
            if slots.len() <= item.index {
                slots.resize_with(item.index + 1, || None);
            }
            slots[item.index] = Some(item.outcome);
        }
        slots.into_iter().map(|o| o.expect("every index yields exactly once")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_slots_evenly() {
        let limiter = Arc::new(RateLimiter::new(10.0).unwrap());
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..5 {
            let l = limiter.clone();
            handles.push(tokio::spawn(async move {
                l.acquire().await;
                Instant::now()
            }));
        }
        let mut times: Vec<Duration> = Vec::new();
        for h in handles {
            times.push(h.await.unwrap() - start);
        }
        times.sort();
        assert_eq!(times, (0..5).map(|i| Duration::from_millis(100 * i)).collect::<Vec<_>>());
    }

    #[test]
    fn rejects_nonsense_rates() {
        assert!(RateLimiter::new(0.0).is_none());
        assert!(RateLimiter::new(-1.0).is_none());
        assert!(RateLimiter::new(f64::NAN).is_none());
    }
}
