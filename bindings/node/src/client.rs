//! `NativeVision`: the core `Vision` behind the package's `Vision` class, and
//! `BatchStream`, the engine of `verificationBatch` and `verificationStream`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use glair_vision::{BatchItem, BatchOptions, BatchRequest, Error, Verification, Vision};
use napi_derive::napi;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::convert::{
    deadline, opt_bool, opt_count_in, opt_millis_in, opt_rate_limit, opt_string, options_object, parse_json,
    parse_records, reject_unknown, request_from_value, request_options, retries, timeout, SETTINGS_KEYS,
};
use crate::errors::{config_error, error_payload, to_napi};
use crate::panics;
use crate::runtime::{init_logging, spawn};
use crate::types::verification_json;

/// Outcomes handed to JS per `next()` call of a stream, at most.
const STREAM_CHUNK: usize = 512;

/// `new Vision(...)`'s own options, besides the settings a call may override.
const VISION_KEYS: [&str; 4] = ["connectTimeoutMs", "readEnv", "rateLimit", "pacingUrl"];

/// `{ concurrency, rateLimit, ...per-call overrides }`, each within the core's
/// range (`glair_vision::limits`; `concurrency` 1 to 4096), checked before the
/// batch allocates anything.
fn batch_options(text: Option<String>) -> Result<BatchOptions, Error> {
    let mut obj = options_object(text, "batch options")?;
    let mut options = BatchOptions::default();
    if let Some(n) = opt_count_in(&obj, "concurrency", &glair_vision::limits::CONCURRENCY)? {
        options.concurrency = n as usize;
    }
    if let Some(r) = opt_rate_limit(&obj, "rateLimit")? {
        options.rate_limit = r;
    }
    obj.remove("concurrency");
    obj.remove("rateLimit");
    options.request_options = request_options(&obj)?;
    // The core's own check of the whole (nothing above can fail it: a backstop).
    options.check().map_err(|e| config_error(e.to_string()))?;
    Ok(options)
}

/// One batch outcome: `{index, value}` or `{index, error}`, with the attempts
/// sent for it and how many of them were answered 429 (0 and 0 for a record
/// refused before sending).
fn outcome_json(index: usize, outcome: &Result<Verification, Error>, attempts: u32, throttled: u32) -> Value {
    match outcome {
        Ok(v) => {
            json!({ "index": index, "value": verification_json(v), "attempts": attempts, "throttled": throttled })
        }
        Err(e) => {
            json!({ "index": index, "error": error_payload(e), "attempts": attempts, "throttled": throttled })
        }
    }
}

/// The NIK masked for display (`317101******0001`): region and last 4 kept,
/// the birth date hidden; other input is hidden whole. As Python's `mask_nik`.
#[napi(catch_unwind)]
pub fn mask_nik(nik: String) -> String {
    glair_vision::mask_nik(&nik)
}

// ---------------------------------------------------------------------------
// Vision

/// The native client behind the package's `Vision` class.
#[napi]
pub struct NativeVision {
    inner: Vision,
}

#[napi]
impl NativeVision {
    /// `options`: JSON of `{ apiKey, username, password, baseUrl, apiVersion,
    /// timeoutMs, connectTimeoutMs, maxRetries, readEnv, deadline, retryUnanswered,
    /// rateLimit, pacingUrl, caBundle, caBundleOnly, proxy, clientCert, clientKey }`.
    #[napi(constructor, catch_unwind)]
    pub fn new(options: Option<String>) -> napi::Result<Self> {
        init_logging();
        Self::build(options).map_err(|e| to_napi(&e))
    }

    fn build(options: Option<String>) -> Result<Self, Error> {
        let obj = options_object(options, "Vision options")?;
        reject_unknown(&obj, &[&SETTINGS_KEYS, &VISION_KEYS, &crate::network::NETWORK_KEYS], "Vision")?;
        let mut b = Vision::builder().client_name("node");
        if let Some(v) = opt_string(&obj, "apiKey")? {
            b = b.api_key(v);
        }
        if let Some(v) = opt_string(&obj, "username")? {
            b = b.username(v);
        }
        if let Some(v) = opt_string(&obj, "password")? {
            b = b.password(v);
        }
        if let Some(v) = opt_string(&obj, "baseUrl")?.filter(|v| !v.is_empty()) {
            b = b.base_url(v);
        }
        if let Some(v) = opt_string(&obj, "apiVersion")?.filter(|v| !v.is_empty()) {
            b = b.api_version(v);
        }
        if let Some(d) = timeout(&obj)? {
            b = b.timeout(d);
        }
        if let Some(d) = opt_millis_in(&obj, "connectTimeoutMs", &glair_vision::limits::CONNECT_TIMEOUT)? {
            b = b.connect_timeout(d);
        }
        if let Some(n) = retries(&obj)? {
            b = b.max_retries(n);
        }
        if let Some(d) = deadline(&obj)? {
            b = b.deadline(d);
        }
        if let Some(v) = opt_bool(&obj, "retryUnanswered")? {
            b = b.retry_unanswered(v);
        }
        if let Some(v) = opt_bool(&obj, "readEnv")? {
            b = b.read_env(v);
        }
        if let Some(r) = opt_rate_limit(&obj, "rateLimit")? {
            b = b.rate_limit(r);
        }
        if let Some(v) = opt_string(&obj, "pacingUrl")? {
            b = b.pacing_url(v);
        }
        b = b.network(crate::network::settings(&obj)?);
        Ok(NativeVision { inner: b.build()? })
    }

    #[napi(getter, catch_unwind)]
    pub fn base_url(&self) -> String {
        self.inner.base_url().to_owned()
    }

    #[napi(getter, catch_unwind)]
    pub fn api_version(&self) -> String {
        self.inner.api_version().to_owned()
    }

    #[napi(getter, catch_unwind)]
    pub fn timeout_ms(&self) -> f64 {
        self.inner.timeout().as_secs_f64() * 1000.0
    }

    /// The whole call's deadline (attempts and waits), in milliseconds.
    #[napi(getter, catch_unwind)]
    pub fn deadline_ms(&self) -> f64 {
        self.inner.deadline().as_secs_f64() * 1000.0
    }

    #[napi(getter, catch_unwind)]
    pub fn max_retries(&self) -> u32 {
        self.inner.retry_policy().max_retries
    }

    /// The client-wide ceiling of calls per second, or `null` (`'auto'`).
    #[napi(getter, catch_unwind)]
    pub fn rate_limit(&self) -> Option<f64> {
        self.inner.pacing().ceiling
    }

    /// The pacing store's URL with its credentials redacted, or `null`.
    #[napi(getter, catch_unwind)]
    pub fn pacing_url(&self) -> Option<String> {
        self.inner.pacing_url().map(|u| u.redacted())
    }

    /// The pacer's state now (shared by every call of this client), as JSON:
    /// `{rate, ceiling, limit, window, model, fromHeaders, sent, retries, throttled,
    /// succeeded, paused, store}` (`store`: `{joined, connected, processes}` or null).
    #[napi(catch_unwind)]
    pub fn pacing(&self) -> String {
        let p = self.inner.pacing();
        json!({
            "rate": p.rate,
            "ceiling": p.ceiling,
            "limit": p.limit,
            "window": p.window.map(|w| w.as_secs_f64()),
            "model": p.model.as_str(),
            "fromHeaders": p.from_headers,
            "sent": p.sent,
            "retries": p.retries,
            "throttled": p.throttled,
            "succeeded": p.succeeded,
            "paused": p.paused,
            "store": p.store.map(|s| json!({
                "joined": s.joined,
                "connected": s.connected,
                "processes": s.processes,
                "roundTrips": s.round_trips,
                "waitP99": s.wait_p99.as_secs_f64(),
            })),
        })
        .to_string()
    }

    #[napi(getter, catch_unwind)]
    pub fn user_agent(&self) -> String {
        self.inner.user_agent().to_owned()
    }

    /// One verification. `record`: JSON object of wire names; `overrides`: JSON of
    /// the per-call settings. Resolves to the result as JSON text.
    #[napi(catch_unwind)]
    pub async fn verification(&self, record: String, overrides: Option<String>) -> napi::Result<String> {
        let run = async {
            let request = request_from_value(&parse_json(&record, "record")?)?;
            let options = request_options(&options_object(overrides, "per-call options")?)?;
            let v = self.inner.identity().verification_with(&request, &options).await?;
            Ok::<_, Error>(verification_json(&v).to_string())
        };
        run.await.map_err(|e| to_napi(&e))
    }

    /// One call and what it did, as JSON: `{ value | error, report: { attempts,
    /// throttled, pacerWaitMs, status } }` (an error as a batch outcome's is), for
    /// the telemetry layer. Bad JSON or options still reject.
    #[napi(catch_unwind)]
    pub async fn verification_reported(
        &self,
        record: String,
        overrides: Option<String>,
    ) -> napi::Result<String> {
        let run = async {
            let request = request_from_value(&parse_json(&record, "record")?)?;
            let options = request_options(&options_object(overrides, "per-call options")?)?;
            let (outcome, report) = self.inner.identity().verification_with_report(&request, &options).await;
            let report = json!({
                "attempts": report.attempts,
                "throttled": report.throttled,
                "pacerWaitMs": report.pacer_wait.as_secs_f64() * 1000.0,
                "status": report.status,
            });
            Ok::<_, Error>(match outcome {
                Ok(v) => json!({ "value": verification_json(&v), "report": report }),
                Err(e) => json!({ "error": error_payload(&e), "report": report }),
            })
        };
        run.await.map(|v| v.to_string()).map_err(|e| to_napi(&e))
    }

    /// Starts a streaming batch: push records with `BatchStream.push`, read
    /// outcomes (as they complete) with `BatchStream.next`.
    #[napi(catch_unwind)]
    pub fn verification_stream(&self, options: Option<String>) -> napi::Result<BatchStream> {
        let options = batch_options(options).map_err(|e| to_napi(&e))?;
        Ok(BatchStream::start(self.inner.clone(), options))
    }
}

// ---------------------------------------------------------------------------
// Streaming batch

type Row = (usize, Result<BatchRequest, Error>);

/// What the driver and the feeder hand over: an outcome (JSON), or the text of
/// a panic that stopped one of them.
type Out = Result<Value, String>;

/// The reading end of a stream: its outcomes, and a panic met while a `next`
/// was gathering outcomes (the following `next`'s error).
struct Output {
    rx: mpsc::Receiver<Out>,
    panicked: Option<String>,
}

/// A running streaming batch. Input flows in through a bounded channel (so a
/// producer waits when the workers are busy); outcomes flow out as they
/// complete. Closing it (or dropping it) cancels what is in flight.
#[napi]
pub struct BatchStream {
    input: Arc<Mutex<Option<mpsc::Sender<Vec<Row>>>>>,
    output: Arc<tokio::sync::Mutex<Output>>,
    pushed: Arc<Mutex<usize>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl BatchStream {
    fn start(vision: Vision, options: BatchOptions) -> BatchStream {
        let concurrency = options.concurrency.max(1);
        BatchStream::start_with(concurrency, move |requests| {
            vision.identity().verification_stream(requests, options)
        })
    }

    /// A stream whose outcomes are `results(requests)`, `requests` being the
    /// records pushed (`concurrency` of them queued at most). A panic in the
    /// driver or the feeder (detached tasks) is handed to the reader after the
    /// outcomes before it: `next` rejects with an `internal` error rather than
    /// ending as if every record were answered.
    pub(crate) fn start_with<S>(
        concurrency: usize,
        results: impl FnOnce(stream::Fuse<BoxStream<'static, BatchRequest>>) -> S,
    ) -> BatchStream
    where
        S: Stream<Item = BatchItem> + Send + 'static,
    {
        let (in_tx, mut in_rx) = mpsc::channel::<Vec<Row>>(2);
        let (out_tx, out_rx) = mpsc::channel::<Out>(concurrency.max(STREAM_CHUNK));
        // Index in the core stream -> index in the caller's input.
        let positions: Arc<Mutex<HashMap<usize, usize>>> = Arc::default();
        let (req_tx, req_rx) = mpsc::channel::<BatchRequest>(concurrency);
        let feeder_out = out_tx.clone();
        let feeder_positions = positions.clone();
        let feeder = async move {
            let mut next_core = 0usize;
            while let Some(rows) = in_rx.recv().await {
                for (index, row) in rows {
                    match row {
                        Ok(request) => {
                            feeder_positions.lock().expect("positions lock").insert(next_core, index);
                            next_core += 1;
                            if req_tx.send(request).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            if feeder_out.send(Ok(outcome_json(index, &Err(e), 0, 0))).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        };
        // Fused: the core's workers may poll the input again after it ended, which
        // a bare `unfold` answers with a panic.
        let requests =
            stream::unfold(req_rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) }).boxed().fuse();
        let results = results(requests);
        let driver_out = out_tx.clone();
        let driver = async move {
            let mut results = std::pin::pin!(results);
            while let Some(item) = results.next().await {
                let index =
                    positions.lock().expect("positions lock").remove(&item.index).unwrap_or(item.index);
                if driver_out
                    .send(Ok(outcome_json(index, &item.outcome, item.attempts, item.throttled)))
                    .await
                    .is_err()
                {
                    return; // closed: dropping `results` cancels in-flight calls
                }
            }
        };
        let task = spawn(async move {
            // The driver ends when the feeder has dropped its sender and every
            // call has finished, or when the reader went away.
            let feeder_panic = out_tx.clone();
            let feeder = tokio::spawn(async move {
                if let Err(text) = panics::catch(feeder).await {
                    let _ = feeder_panic.send(Err(text)).await;
                }
            });
            if let Err(text) = panics::catch(driver).await {
                let _ = out_tx.send(Err(text)).await;
            }
            feeder.abort();
        });
        BatchStream {
            input: Arc::new(Mutex::new(Some(in_tx))),
            output: Arc::new(tokio::sync::Mutex::new(Output { rx: out_rx, panicked: None })),
            pushed: Arc::default(),
            task: Mutex::new(Some(task)),
        }
    }
}

#[napi]
impl BatchStream {
    /// Adds records (a JSON array). Resolves when the batch has room for them,
    /// so a producer that awaits each push never runs ahead of the workers.
    #[napi(catch_unwind)]
    pub async fn push(&self, records: String) -> napi::Result<()> {
        let rows = parse_records(&records).map_err(|e| to_napi(&e))?;
        let sender = self.input.lock().expect("input lock").clone();
        let Some(sender) = sender else {
            return Err(to_napi(&config_error("the batch stream is closed for input")));
        };
        let start = {
            let mut pushed = self.pushed.lock().expect("pushed lock");
            let start = *pushed;
            *pushed += rows.len();
            start
        };
        let rows: Vec<Row> = rows.into_iter().enumerate().map(|(i, r)| (start + i, r)).collect();
        sender.send(rows).await.map_err(|_| to_napi(&Error::Cancelled))
    }

    /// No more input: the stream ends once every pushed record has an outcome.
    #[napi(catch_unwind)]
    pub fn end(&self) {
        self.input.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// The next outcomes (JSON array of `{index, value}` / `{index, error}`, at
    /// least one), or `null` when every record has been answered.
    #[napi(catch_unwind)]
    pub async fn next(&self) -> napi::Result<Option<String>> {
        let mut output = self.output.lock().await;
        if let Some(text) = output.panicked.take() {
            return Err(panics::internal_error(&text));
        }
        let first = match output.rx.recv().await {
            None => return Ok(None),
            Some(Err(text)) => return Err(panics::internal_error(&text)),
            Some(Ok(first)) => first,
        };
        let mut items = vec![first];
        while items.len() < STREAM_CHUNK {
            match output.rx.try_recv() {
                Ok(Ok(v)) => items.push(v),
                Ok(Err(text)) => {
                    output.panicked = Some(text);
                    break;
                }
                Err(_) => break,
            }
        }
        Ok(Some(Value::Array(items).to_string()))
    }

    /// Stops the batch: no more input, in-flight calls are cancelled.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.input.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }
}

impl Drop for BatchStream {
    /// Runs in napi's finalizer, called from C: a panic must not unwind there
    /// (that aborts), so the locks shrug off poisoning and nothing else panics.
    fn drop(&mut self) {
        self.close();
    }
}
