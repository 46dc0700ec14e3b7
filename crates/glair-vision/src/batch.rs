//! Many verifications at once: bounded concurrency, the client's adaptive pacing
//! (and an optional fixed ceiling of the batch's own), results as they complete
//! with their input index, memory flat however long the input. Dropping the
//! stream cancels what is in flight.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{Stream, StreamExt};
use tokio::sync::{mpsc, Mutex};
use tokio::time::Instant;

use crate::client::{request_id_header, Attempts, Identity, RequestOptions};
use crate::error::{Error, Result};
use crate::limits::{self, OutOfRange};
use crate::pacing::RateLimit;
use crate::request::VerificationRequest;
use crate::response::Verification;
use crate::telemetry::TraceContext;

/// How a batch runs.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchOptions {
    /// Calls in flight at once: 1 to 4,096 ([`crate::limits::CONCURRENCY`]).
    /// Default 16.
    pub concurrency: usize,
    /// [`RateLimit::Auto`] (the default): as fast as the account allows, found by
    /// the client's pacer after the first 429 (a batch row's 429s are retried
    /// behind it while the call's deadline allows, so throttling does not fail
    /// rows). [`RateLimit::Fixed`]: also at most this many calls started per
    /// second by this batch, evenly spaced (0.001 to 1,000,000:
    /// [`crate::limits::RATE_LIMIT`]).
    pub rate_limit: RateLimit,
    /// Per-call overrides applied to every item.
    pub request_options: RequestOptions,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            concurrency: 16,
            rate_limit: RateLimit::Auto,
            request_options: RequestOptions::default(),
        }
    }
}

impl BatchOptions {
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }
    /// A number is a fixed ceiling of calls per second; or a [`RateLimit`].
    pub fn rate_limit(mut self, limit: impl Into<RateLimit>) -> Self {
        self.rate_limit = limit.into();
        self
    }

    /// Checks `concurrency`, `rate_limit` and the per-call settings against their
    /// ranges ([`crate::limits`]): an [`Error::Validation`] naming the setting.
    /// A batch or stream whose options fail this sends nothing and starts no
    /// workers: every item's outcome is that error. Bindings call it first, to
    /// raise the error once.
    pub fn check(&self) -> Result<()> {
        limits::check_concurrency(self.concurrency).map_err(OutOfRange::validation)?;
        limits::check_rate_limit(self.rate_limit).map_err(OutOfRange::validation)?;
        self.request_options.check()
    }
}

/// One batch input: a request and, optionally, its own correlation id (sent as
/// `x-request-id` instead of [`RequestOptions::request_id`]) and its own W3C
/// trace context (sent instead of [`RequestOptions::trace_context`]: a row
/// span's, when the caller traces rows one by one). A plain
/// [`VerificationRequest`] converts into one with neither.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchRequest {
    pub request: VerificationRequest,
    pub request_id: Option<String>,
    pub trace_context: Option<TraceContext>,
}

impl BatchRequest {
    pub fn new(request: VerificationRequest, request_id: Option<String>) -> BatchRequest {
        BatchRequest { request, request_id, trace_context: None }
    }

    /// This item's own trace context.
    pub fn trace_context(mut self, context: TraceContext) -> BatchRequest {
        self.trace_context = Some(context);
        self
    }
}

impl From<VerificationRequest> for BatchRequest {
    fn from(request: VerificationRequest) -> BatchRequest {
        BatchRequest::new(request, None)
    }
}

/// One item's outcome, with its position in the input and what it took: the
/// attempts sent for it (the first and every retry; 0 for a row refused before
/// sending) and how many of them were answered 429. A row that succeeded after
/// being throttled shows it here; the client-wide counts are in
/// [`crate::Vision::pacing`].
#[derive(Debug)]
pub struct BatchItem {
    pub index: usize,
    pub outcome: Result<Verification>,
    pub attempts: u32,
    pub throttled: u32,
}

impl BatchItem {
    fn new(index: usize, (outcome, attempts): (Result<Verification>, Attempts)) -> BatchItem {
        BatchItem { index, outcome, attempts: attempts.sent, throttled: attempts.throttled }
    }
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
        if !(per_second.is_finite() && per_second > 0.0) {
            return None;
        }
        // A rate so small that its interval overflows a Duration is no rate.
        let interval = Duration::try_from_secs_f64(1.0 / per_second).ok()?;
        Some(RateLimiter { interval, next: Mutex::new(None) })
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

/// A spawned task that is aborted when dropped, so dropping the stream cancels
/// what is in flight.
struct AbortOnDrop<T = ()>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The input shared by the workers, with the index of the next request.
type SharedInput<S> = Arc<Mutex<(Pin<Box<futures_util::stream::Fuse<S>>>, usize)>>;

/// Spawns the workers: the receiving end of their outcomes, and their tasks.
type Start = Box<dyn FnOnce() -> (mpsc::Receiver<BatchItem>, Vec<AbortOnDrop>) + Send>;

/// The outcomes of a running batch. Workers start on the first poll (inside the
/// caller's runtime) and stop when this is dropped.
struct Outcomes {
    start: Option<Start>,
    receiver: Option<mpsc::Receiver<BatchItem>>,
    workers: Vec<AbortOnDrop>,
}

impl Outcomes {
    /// Once every worker has let go of its sender: each returned or panicked. A
    /// worker's panic is passed on to the consumer (as `verification_batch`
    /// does), so a panic never ends the stream as if its item had been done.
    fn finish(&mut self, cx: &mut Context<'_>) -> Poll<Option<BatchItem>> {
        while let Some(worker) = self.workers.last_mut() {
            match std::future::Future::poll(Pin::new(&mut worker.0), cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) if e.is_panic() => {
                    self.workers.pop();
                    std::panic::resume_unwind(e.into_panic());
                }
                Poll::Ready(_) => {
                    self.workers.pop();
                }
            }
        }
        Poll::Ready(None)
    }
}

impl Stream for Outcomes {
    type Item = BatchItem;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<BatchItem>> {
        if let Some(start) = self.start.take() {
            let (receiver, workers) = start();
            self.receiver = Some(receiver);
            self.workers = workers;
        }
        match self.receiver.as_mut().map(|receiver| receiver.poll_recv(cx)) {
            Some(Poll::Ready(None)) => self.finish(cx),
            Some(polled) => polled,
            None => Poll::Ready(None),
        }
    }
}

/// One of `concurrency` workers: takes the next request, verifies it, hands the
/// outcome over, until the input ends or the consumer goes away. Long-lived
/// workers and a channel let the consumer take many outcomes per wake-up.
/// With `refused` (the batch's options are out of range), every item's outcome
/// is that error, and nothing is sent.
async fn work<S>(
    input: SharedInput<S>,
    identity: Identity,
    limiter: Option<Arc<RateLimiter>>,
    options: Arc<RequestOptions>,
    refused: Option<Error>,
    outcomes: mpsc::Sender<BatchItem>,
) where
    S: Stream + Send + 'static,
    S::Item: Into<BatchRequest> + Send,
{
    loop {
        let (index, request) = {
            let mut guard = input.lock().await;
            let (requests, next) = &mut *guard;
            let Some(request) = requests.next().await else { return };
            *next += 1;
            (*next - 1, request.into())
        };
        let outcome = match &refused {
            Some(e) => (Err(e.clone()), Attempts::default()),
            None => verify_item(&identity, limiter.as_deref(), &options, request).await,
        };
        if outcomes.send(BatchItem::new(index, outcome)).await.is_err() {
            return;
        }
    }
}

/// One batch item: validated first, so a bad row never waits for (or uses up) a
/// rate slot; then sent as a single call would be. Returns what it sent too.
async fn verify_item(
    identity: &Identity,
    limiter: Option<&RateLimiter>,
    options: &RequestOptions,
    item: BatchRequest,
) -> (Result<Verification>, Attempts) {
    let mut attempts = Attempts::default();
    let outcome = async {
        let request = item.request.normalized()?;
        if let Some(id) = &item.request_id {
            request_id_header(id)?;
        }
        if let Some(l) = limiter {
            l.acquire().await;
        }
        // Only a row with a trace context of its own pays for a copy of the options.
        let row_options;
        let options = match item.trace_context {
            Some(context) => {
                row_options = RequestOptions { trace_context: Some(context), ..options.clone() };
                &row_options
            }
            None => options,
        };
        identity.send_normalized(&request, options, item.request_id.as_deref(), true, &mut attempts).await
    }
    .await;
    (outcome, attempts)
}

impl Identity {
    /// Verifies every request of `requests`, at most `options.concurrency` at a
    /// time, yielding each outcome as it completes (not in input order; use
    /// `index`). Input is pulled only as workers free up, so an endless or huge
    /// input is fine. One failure never stops the rest; each item is retried as a
    /// single call would be. Dropping the stream cancels the calls in flight.
    /// Items are [`VerificationRequest`]s, or [`BatchRequest`]s to give each its
    /// own correlation id. Options outside their ranges ([`BatchOptions::check`])
    /// start no workers and send nothing: every item's outcome is that error.
    pub fn verification_stream<S>(
        &self,
        requests: S,
        options: BatchOptions,
    ) -> impl Stream<Item = BatchItem> + Send + 'static
    where
        S: Stream + Send + 'static,
        S::Item: Into<BatchRequest> + Send,
    {
        let identity = self.clone();
        let start = move || {
            // Checked before anything is allocated: out of range, one worker
            // settles every item with the error.
            let refused = options.check().err();
            let concurrency = if refused.is_some() { 1 } else { options.concurrency };
            let limiter = options.rate_limit.ceiling().and_then(RateLimiter::new).map(Arc::new);
            let call_options = Arc::new(options.request_options);
            // Fused: a worker may ask again after another saw the input end.
            let input: SharedInput<S> = Arc::new(Mutex::new((Box::pin(requests.fuse()), 0)));
            let (sender, receiver) = mpsc::channel(concurrency);
            let workers = (0..concurrency)
                .map(|_| {
                    let worker = work(
                        input.clone(),
                        identity.clone(),
                        limiter.clone(),
                        call_options.clone(),
                        refused.clone(),
                        sender.clone(),
                    );
                    AbortOnDrop(tokio::spawn(worker))
                })
                .collect();
            (receiver, workers)
        };
        Outcomes { start: Some(Box::new(start)), receiver: None, workers: Vec::new() }
    }

    /// Verifies every request and returns the outcomes in input order (options
    /// as for [`Identity::verification_batch_items`]). The whole list is known, so workers take items from it directly and keep their
    /// outcomes until the end: no channel, no wake-up per item. Dropping the
    /// returned future cancels the calls in flight. Items as for
    /// [`Identity::verification_stream`].
    pub async fn verification_batch<I>(&self, requests: I, options: BatchOptions) -> Vec<Result<Verification>>
    where
        I: IntoIterator,
        I::Item: Into<BatchRequest> + Send,
        I::IntoIter: Send + 'static,
    {
        self.verification_batch_items(requests, options).await.into_iter().map(|item| item.outcome).collect()
    }

    /// Like [`Identity::verification_batch`], each outcome with what it took
    /// (attempts sent, 429s): the items in input order. Options outside their
    /// ranges ([`BatchOptions::check`]) send nothing: every item's outcome is
    /// that error.
    pub async fn verification_batch_items<I>(&self, requests: I, options: BatchOptions) -> Vec<BatchItem>
    where
        I: IntoIterator,
        I::Item: Into<BatchRequest> + Send,
        I::IntoIter: Send + 'static,
    {
        let requests = requests.into_iter();
        if let Err(refused) = options.check() {
            return requests
                .enumerate()
                .map(|(index, _)| BatchItem {
                    index,
                    outcome: Err(refused.clone()),
                    attempts: 0,
                    throttled: 0,
                })
                .collect();
        }
        let (expected, at_most) = requests.size_hint();
        // No more workers than items, when the input says how many there are.
        let workers_wanted = at_most.map_or(options.concurrency, |n| options.concurrency.min(n)).max(1);
        // A plain iterator never waits, so a short synchronous lock is enough.
        let input = Arc::new(std::sync::Mutex::new(requests.fuse().enumerate()));
        let limiter = options.rate_limit.ceiling().and_then(RateLimiter::new).map(Arc::new);
        let call_options = Arc::new(options.request_options);
        let workers: Vec<AbortOnDrop<Vec<BatchItem>>> = (0..workers_wanted)
            .map(|_| {
                let (input, identity) = (input.clone(), self.clone());
                let (limiter, call_options) = (limiter.clone(), call_options.clone());
                AbortOnDrop(tokio::spawn(async move {
                    let mut done = Vec::new();
                    loop {
                        let next = input.lock().unwrap_or_else(|e| e.into_inner()).next();
                        let Some((index, request)) = next else { return done };
                        let outcome =
                            verify_item(&identity, limiter.as_deref(), &call_options, request.into()).await;
                        done.push(BatchItem::new(index, outcome));
                    }
                }))
            })
            .collect();
        let mut slots: Vec<Option<BatchItem>> = Vec::with_capacity(expected);
        for mut worker in workers {
            let done = match (&mut worker.0).await {
                Ok(done) => done,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Vec::new(), // cancelled with its runtime: those items stay `Cancelled`
            };
            for item in done {
                let index = item.index;
                if slots.len() <= index {
                    slots.resize_with(index + 1, || None);
                }
                slots[index] = Some(item);
            }
        }
        slots
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                item.unwrap_or(BatchItem { index, outcome: Err(Error::Cancelled), attempts: 0, throttled: 0 })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client whose calls would go nowhere (port 9, discard): for inputs that
    /// are refused or break before anything is sent.
    fn offline_vision() -> crate::Vision {
        crate::Vision::builder()
            .read_env(false)
            .api_key("k")
            .username("u")
            .password("p")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap()
    }

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
        // 1/1e-300 seconds does not fit a Duration: no limiter, and no panic.
        assert!(RateLimiter::new(1e-300).is_none());
    }

    /// A stream that counts the polls it gets after it has ended (many streams,
    /// `unfold` among them, panic on those).
    struct Ending {
        left: usize,
        polled_after_end: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Stream for Ending {
        type Item = VerificationRequest;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            if self.left == 0 {
                self.polled_after_end.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                return Poll::Ready(None);
            }
            self.left -= 1;
            Poll::Ready(Some(VerificationRequest::new("not a nik")))
        }
    }

    #[tokio::test]
    async fn workers_never_poll_an_ended_input_again() {
        let vision = offline_vision();
        let polled_after_end = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let input = Ending { left: 3, polled_after_end: polled_after_end.clone() };
        let items: Vec<BatchItem> = vision
            .identity()
            .verification_stream(input, BatchOptions::default().concurrency(8))
            .collect()
            .await;
        assert_eq!(items.len(), 3);
        assert!(items.iter().all(|i| i.outcome.as_ref().unwrap_err().kind() == crate::ErrorKind::Validation));
        // The first end is seen once; every other worker finds the fused input ended.
        assert_eq!(polled_after_end.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// An input that panics when its third item is asked for.
    struct Panicking {
        given: usize,
    }

    impl Stream for Panicking {
        type Item = VerificationRequest;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            self.given += 1;
            assert!(self.given <= 2, "the input broke");
            Poll::Ready(Some(VerificationRequest::new("not a nik")))
        }
    }

    #[tokio::test]
    async fn a_worker_that_panics_passes_its_panic_on_at_the_end_of_the_stream() {
        let vision = offline_vision();
        let mut items = vision
            .identity()
            .verification_stream(Panicking { given: 0 }, BatchOptions::default().concurrency(1));
        // The items before the panic arrive; then the stream panics rather than ending.
        let mut seen = 0;
        let caught = loop {
            match futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(items.next())).await {
                Ok(Some(_)) => seen += 1,
                Ok(None) => panic!("the stream ended as if every item had been done"),
                Err(panic) => break panic,
            }
        };
        assert_eq!(seen, 2);
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"the input broke"));
    }
}
