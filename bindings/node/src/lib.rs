//! Node.js binding of `glair-vision` (napi-rs). Thin: converts JS values to core
//! types and back, and maps core errors to a stable code + JSON payload that the
//! package's JS layer (`node/lib/errors.js`) turns into `Error` subclasses.
//!
//! Values cross the boundary as JSON text: the JS layer turns `Date`s into ISO
//! dates and drops `undefined`, then `JSON.stringify`s; results come back as JSON
//! text that the JS layer parses. Type checks (a NIK given as a number, an object
//! for a name, an unknown key) happen here, before anything is sent.

#![deny(clippy::all)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use glair_vision::{
    BatchOptions, Credentials, Error, Field, RequestOptions, ValidationError, Verification,
    VerificationRequest, Vision,
};
use glair_vision_sandbox::{Sandbox, SandboxConfig};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

/// Prefix of every error message produced here; the JS layer parses what follows.
const ERROR_PREFIX: &str = "GLAIR_VISION_ERROR:";
/// Key the JS layer uses to mark a value JSON cannot carry (function, symbol, bigint).
const TYPE_MARKER: &str = "\u{0}glair_type";
/// Outcomes handed to JS per `next()` call of a stream, at most.
const STREAM_CHUNK: usize = 512;

// ---------------------------------------------------------------------------
// Logging

/// Turns on the core's stderr logging once when `GLAIR_LOG` (or `RUST_LOG`) is set.
fn init_logging() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        glair_vision::logging::init_from_env();
    });
}

// ---------------------------------------------------------------------------
// Errors

/// The JSON payload the JS layer turns into an error class.
fn error_payload(err: &Error) -> Value {
    let mut p = Map::new();
    p.insert("code".into(), json!(err.kind().code()));
    p.insert("message".into(), json!(err.to_string()));
    if let Some(v) = err.validation() {
        p.insert("field".into(), json!(v.field()));
    }
    if let Some(api) = err.api() {
        p.insert("status".into(), json!(api.status));
        p.insert("reason".into(), json!(api.reason));
        p.insert("requestId".into(), json!(api.request_id));
        p.insert("body".into(), json!(api.body));
        p.insert("retryAfter".into(), json!(api.retry_after.map(|d| d.as_secs_f64())));
        p.insert("result".into(), api.result.map_or(Value::Null, |r| json!(r)));
    }
    Value::Object(p)
}

fn to_napi(err: &Error) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{ERROR_PREFIX}{}", error_payload(err)))
}

fn config_error(message: impl Into<String>) -> Error {
    Error::Configuration(message.into())
}

// ---------------------------------------------------------------------------
// Conversions

fn parse_json(text: &str, what: &str) -> std::result::Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| config_error(format!("{what} is not valid JSON: {e}")))
}

fn js_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(o) => match o.get(TYPE_MARKER).and_then(Value::as_str) {
            Some("function") => "a function",
            Some("symbol") => "a symbol",
            Some("bigint") => "a bigint",
            _ => "an object",
        },
    }
}

/// One record (an object of wire field names) to a request. Strings only:
/// `null` means unset (the JS layer already dropped `undefined` and turned
/// `Date`s into ISO dates).
fn request_from_value(value: &Value) -> std::result::Result<VerificationRequest, Error> {
    let obj = match value {
        Value::Object(o) if !o.contains_key(TYPE_MARKER) => o,
        other => {
            return Err(ValidationError::for_key(
                "record",
                format!("must be an object of wire field names, not {}", js_type(other)),
            )
            .into())
        }
    };
    let mut request = VerificationRequest::default();
    for (key, v) in obj {
        let field = Field::from_wire_name(key).ok_or_else(|| {
            ValidationError::for_key(
                key.as_str(),
                "is not a verification field (expected one of the 16 wire names, e.g. nik, name, date_of_birth)",
            )
        })?;
        match v {
            Value::Null => {}
            Value::String(s) => request.set(field, s.as_str()),
            other => {
                return Err(
                    ValidationError::new(field, format!("must be a string, not {}", js_type(other))).into()
                )
            }
        }
    }
    Ok(request) // the core checks the values (and that `nik` is there)
}

fn opt_string(obj: &Map<String, Value>, key: &str) -> std::result::Result<Option<String>, Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(config_error(format!("option `{key}` must be a string, not {}", js_type(other)))),
    }
}

fn opt_number(obj: &Map<String, Value>, key: &str) -> std::result::Result<Option<f64>, Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(config_error(format!("option `{key}` must be a number, not {}", js_type(other)))),
    }
}

fn opt_bool(obj: &Map<String, Value>, key: &str) -> std::result::Result<Option<bool>, Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(config_error(format!("option `{key}` must be a boolean, not {}", js_type(other)))),
    }
}

fn opt_duration_ms(obj: &Map<String, Value>, key: &str) -> std::result::Result<Option<Duration>, Error> {
    match opt_number(obj, key)? {
        None => Ok(None),
        Some(ms) if ms.is_finite() && ms >= 0.0 => Ok(Some(Duration::from_secs_f64(ms / 1000.0))),
        Some(_) => Err(config_error(format!("option `{key}` must be a non-negative number of milliseconds"))),
    }
}

fn opt_count(obj: &Map<String, Value>, key: &str) -> std::result::Result<Option<u64>, Error> {
    match opt_number(obj, key)? {
        None => Ok(None),
        Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 => Ok(Some(n as u64)),
        Some(_) => Err(config_error(format!("option `{key}` must be a non-negative integer"))),
    }
}

fn options_object(text: Option<String>, what: &str) -> std::result::Result<Map<String, Value>, Error> {
    match text {
        None => Ok(Map::new()),
        Some(text) => match parse_json(&text, what)? {
            Value::Null => Ok(Map::new()),
            Value::Object(o) => Ok(o),
            other => Err(config_error(format!("{what} must be an object, not {}", js_type(&other)))),
        },
    }
}

fn reject_unknown(obj: &Map<String, Value>, known: &[&str], what: &str) -> std::result::Result<(), Error> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => {
            Err(config_error(format!("unknown {what} option `{k}` (expected one of: {})", known.join(", "))))
        }
        None => Ok(()),
    }
}

const OVERRIDE_KEYS: [&str; 9] = [
    "apiKey",
    "username",
    "password",
    "baseUrl",
    "apiVersion",
    "timeoutMs",
    "timeout",
    "maxRetries",
    "retries",
];

/// The official SDK's second argument (`Partial<Settings>`), plus timeout and retries.
fn request_options(obj: &Map<String, Value>) -> std::result::Result<RequestOptions, Error> {
    reject_unknown(obj, &OVERRIDE_KEYS, "per-call")?;
    let retries = match opt_count(obj, "maxRetries")? {
        Some(n) => Some(n),
        None => opt_count(obj, "retries")?,
    };
    Ok(RequestOptions {
        api_key: opt_string(obj, "apiKey")?,
        username: opt_string(obj, "username")?,
        password: opt_string(obj, "password")?,
        base_url: opt_string(obj, "baseUrl")?,
        api_version: opt_string(obj, "apiVersion")?,
        timeout: match opt_duration_ms(obj, "timeoutMs")? {
            Some(d) => Some(d),
            None => opt_duration_ms(obj, "timeout")?,
        },
        max_retries: retries.map(|n| n.min(u64::from(u32::MAX)) as u32),
        ..Default::default()
    })
}

/// `{ concurrency, rateLimit, ...per-call overrides }`.
fn batch_options(text: Option<String>) -> std::result::Result<BatchOptions, Error> {
    let mut obj = options_object(text, "batch options")?;
    let mut options = BatchOptions::default();
    if let Some(n) = opt_count(&obj, "concurrency")? {
        if n == 0 {
            return Err(config_error("option `concurrency` must be at least 1"));
        }
        options.concurrency = n as usize;
    }
    if let Some(r) = opt_number(&obj, "rateLimit")? {
        if !(r.is_finite() && r > 0.0) {
            return Err(config_error("option `rateLimit` must be a positive number of requests per second"));
        }
        options.rate_limit = glair_vision::RateLimit::Fixed(r);
    }
    obj.remove("concurrency");
    obj.remove("rateLimit");
    options.request_options = request_options(&obj)?;
    Ok(options)
}

fn verification_json(v: &Verification) -> Value {
    json!({
        "verification_status": v.verification_status,
        "reason": v.reason,
        "result": v.result,
        "requestId": v.request_id,
    })
}

fn outcome_json(index: usize, outcome: &std::result::Result<Verification, Error>) -> Value {
    match outcome {
        Ok(v) => json!({ "index": index, "value": verification_json(v) }),
        Err(e) => json!({ "index": index, "error": error_payload(e) }),
    }
}

/// Parses a JSON array of records; rows that are not requests become errors
/// in place (they never reach the API).
fn parse_records(
    text: &str,
) -> std::result::Result<Vec<std::result::Result<VerificationRequest, Error>>, Error> {
    match parse_json(text, "records")? {
        Value::Array(rows) => Ok(rows.iter().map(request_from_value).collect()),
        other => {
            Err(ValidationError::for_key("records", format!("must be an array, not {}", js_type(&other)))
                .into())
        }
    }
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
    /// timeoutMs, connectTimeoutMs, maxRetries, readEnv }`.
    #[napi(constructor)]
    pub fn new(options: Option<String>) -> napi::Result<Self> {
        init_logging();
        Self::build(options).map_err(|e| to_napi(&e))
    }

    fn build(options: Option<String>) -> std::result::Result<Self, Error> {
        let obj = options_object(options, "Vision options")?;
        reject_unknown(
            &obj,
            &[
                "apiKey",
                "username",
                "password",
                "baseUrl",
                "apiVersion",
                "timeoutMs",
                "timeout",
                "connectTimeoutMs",
                "maxRetries",
                "retries",
                "readEnv",
            ],
            "Vision",
        )?;
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
        let timeout = match opt_duration_ms(&obj, "timeoutMs")? {
            Some(d) => Some(d),
            None => opt_duration_ms(&obj, "timeout")?,
        };
        if let Some(d) = timeout {
            b = b.timeout(d);
        }
        if let Some(d) = opt_duration_ms(&obj, "connectTimeoutMs")? {
            b = b.connect_timeout(d);
        }
        let retries = match opt_count(&obj, "maxRetries")? {
            Some(n) => Some(n),
            None => opt_count(&obj, "retries")?,
        };
        if let Some(n) = retries {
            b = b.max_retries(n.min(u64::from(u32::MAX)) as u32);
        }
        if let Some(v) = opt_bool(&obj, "readEnv")? {
            b = b.read_env(v);
        }
        Ok(NativeVision { inner: b.build()? })
    }

    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.inner.base_url().to_owned()
    }

    #[napi(getter)]
    pub fn api_version(&self) -> String {
        self.inner.api_version().to_owned()
    }

    #[napi(getter)]
    pub fn timeout_ms(&self) -> f64 {
        self.inner.timeout().as_secs_f64() * 1000.0
    }

    #[napi(getter)]
    pub fn max_retries(&self) -> u32 {
        self.inner.retry_policy().max_retries
    }

    #[napi(getter)]
    pub fn user_agent(&self) -> String {
        self.inner.user_agent().to_owned()
    }

    /// One verification. `record`: JSON object of wire names; `overrides`: JSON of
    /// the per-call settings. Resolves to the result as JSON text.
    #[napi]
    pub async fn verification(&self, record: String, overrides: Option<String>) -> napi::Result<String> {
        let run = async {
            let request = request_from_value(&parse_json(&record, "record")?)?;
            let options = request_options(&options_object(overrides, "per-call options")?)?;
            let v = self.inner.identity().verification_with(&request, &options).await?;
            Ok::<_, Error>(verification_json(&v).to_string())
        };
        run.await.map_err(|e| to_napi(&e))
    }

    /// Starts a streaming batch: push records with `BatchStream.push`, read
    /// outcomes (as they complete) with `BatchStream.next`.
    #[napi]
    pub fn verification_stream(&self, options: Option<String>) -> napi::Result<BatchStream> {
        let options = batch_options(options).map_err(|e| to_napi(&e))?;
        Ok(BatchStream::start(self.inner.clone(), options))
    }
}

// ---------------------------------------------------------------------------
// Streaming batch

type Row = (usize, std::result::Result<VerificationRequest, Error>);

/// A running streaming batch. Input flows in through a bounded channel (so a
/// producer waits when the workers are busy); outcomes flow out as they
/// complete. Closing it (or dropping it) cancels what is in flight.
#[napi]
pub struct BatchStream {
    input: Arc<Mutex<Option<mpsc::Sender<Vec<Row>>>>>,
    output: Arc<tokio::sync::Mutex<mpsc::Receiver<Value>>>,
    pushed: Arc<Mutex<usize>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl BatchStream {
    fn start(vision: Vision, options: BatchOptions) -> BatchStream {
        let concurrency = options.concurrency.max(1);
        let (in_tx, mut in_rx) = mpsc::channel::<Vec<Row>>(2);
        let (out_tx, out_rx) = mpsc::channel::<Value>(concurrency.max(STREAM_CHUNK));
        // Index in the core stream -> index in the caller's input.
        let positions: Arc<Mutex<HashMap<usize, usize>>> = Arc::default();
        let (req_tx, req_rx) = mpsc::channel::<VerificationRequest>(concurrency);
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
                            if feeder_out.send(outcome_json(index, &Err(e))).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        };
        let requests = stream::unfold(req_rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
        let results = vision.identity().verification_stream(requests, options);
        let driver = async move {
            let mut results = std::pin::pin!(results);
            while let Some(item) = results.next().await {
                let index =
                    positions.lock().expect("positions lock").remove(&item.index).unwrap_or(item.index);
                if out_tx.send(outcome_json(index, &item.outcome)).await.is_err() {
                    return; // closed: dropping `results` cancels in-flight calls
                }
            }
        };
        let task = napi::bindgen_prelude::spawn(async move {
            // The driver ends when the feeder has dropped its sender and every
            // call has finished, or when the reader went away.
            let feeder = tokio::spawn(feeder);
            driver.await;
            feeder.abort();
        });
        BatchStream {
            input: Arc::new(Mutex::new(Some(in_tx))),
            output: Arc::new(tokio::sync::Mutex::new(out_rx)),
            pushed: Arc::default(),
            task: Mutex::new(Some(task)),
        }
    }
}

#[napi]
impl BatchStream {
    /// Adds records (a JSON array). Resolves when the batch has room for them,
    /// so a producer that awaits each push never runs ahead of the workers.
    #[napi]
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
    #[napi]
    pub fn end(&self) {
        self.input.lock().expect("input lock").take();
    }

    /// The next outcomes (JSON array of `{index, value}` / `{index, error}`, at
    /// least one), or `null` when every record has been answered.
    #[napi]
    pub async fn next(&self) -> napi::Result<Option<String>> {
        let mut rx = self.output.lock().await;
        let Some(first) = rx.recv().await else {
            return Ok(None);
        };
        let mut items = vec![first];
        while items.len() < STREAM_CHUNK {
            match rx.try_recv() {
                Ok(v) => items.push(v),
                Err(_) => break,
            }
        }
        Ok(Some(Value::Array(items).to_string()))
    }

    /// Stops the batch: no more input, in-flight calls are cancelled.
    #[napi]
    pub fn close(&self) {
        self.input.lock().expect("input lock").take();
        if let Some(task) = self.task.lock().expect("task lock").take() {
            task.abort();
        }
    }
}

impl Drop for BatchStream {
    fn drop(&mut self) {
        self.close();
    }
}

// ---------------------------------------------------------------------------
// Sandbox

/// The in-process sandbox behind the package's `Sandbox` class.
#[napi]
pub struct NativeSandbox {
    inner: Arc<Mutex<Option<Sandbox>>>,
    url: String,
    credentials: Credentials,
}

fn sandbox_config(options: Option<String>) -> std::result::Result<SandboxConfig, Error> {
    let obj = options_object(options, "Sandbox options")?;
    reject_unknown(
        &obj,
        &[
            "records",
            "recordsPath",
            "synthetic",
            "seed",
            "username",
            "password",
            "apiKey",
            "latencyMs",
            "failureRate",
            "slowDelayMs",
            "matchThreshold",
            "host",
            "port",
        ],
        "Sandbox",
    )?;
    let mut config = SandboxConfig::default();
    if let Some(v) = obj.get("records").filter(|v| !v.is_null()) {
        let text = v.to_string();
        config.records = glair_vision_sandbox::parse_records_json(&text)
            .map_err(|e| config_error(format!("Sandbox records: {e}")))?;
    }
    if let Some(path) = opt_string(&obj, "recordsPath")? {
        let more = glair_vision_sandbox::load_records(std::path::Path::new(&path))
            .map_err(|e| config_error(format!("Sandbox records file: {e}")))?;
        config.records.extend(more);
    }
    if let Some(n) = opt_count(&obj, "synthetic")? {
        config.synthetic = n as usize;
    }
    if let Some(n) = opt_count(&obj, "seed")? {
        config.seed = n;
    }
    if let Some(v) = opt_string(&obj, "apiKey")? {
        config.credentials.api_key = v;
    }
    if let Some(v) = opt_string(&obj, "username")? {
        config.credentials.username = v;
    }
    if let Some(v) = opt_string(&obj, "password")? {
        config.credentials.password = v;
    }
    if let Some(d) = opt_duration_ms(&obj, "latencyMs")? {
        config.latency = d;
    }
    if let Some(d) = opt_duration_ms(&obj, "slowDelayMs")? {
        config.slow_delay = d;
    }
    if let Some(r) = opt_number(&obj, "failureRate")? {
        if !(0.0..=1.0).contains(&r) {
            return Err(config_error("option `failureRate` must be between 0 and 1"));
        }
        config.failure_rate = r;
    }
    if let Some(t) = opt_number(&obj, "matchThreshold")? {
        if !(0.0..=1.0).contains(&t) {
            return Err(config_error("option `matchThreshold` must be between 0 and 1"));
        }
        config.match_threshold = t;
    }
    if let Some(h) = opt_string(&obj, "host")? {
        config.host = h.parse().map_err(|_| config_error("option `host` must be an IP address"))?;
    }
    if let Some(p) = opt_count(&obj, "port")? {
        config.port = u16::try_from(p).map_err(|_| config_error("option `port` must be at most 65535"))?;
    }
    Ok(config)
}

#[napi]
impl NativeSandbox {
    /// Starts a sandbox on an ephemeral port (unless `port` is given).
    #[napi(factory)]
    pub async fn start(options: Option<String>) -> napi::Result<NativeSandbox> {
        init_logging();
        let config = sandbox_config(options).map_err(|e| to_napi(&e))?;
        let sandbox = Sandbox::start(config)
            .await
            .map_err(|e| to_napi(&config_error(format!("cannot start the sandbox: {e}"))))?;
        Ok(NativeSandbox {
            url: sandbox.url().to_owned(),
            credentials: sandbox.credentials().clone(),
            inner: Arc::new(Mutex::new(Some(sandbox))),
        })
    }

    #[napi(getter)]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    #[napi(getter)]
    pub fn api_key(&self) -> String {
        self.credentials.api_key.clone()
    }

    #[napi(getter)]
    pub fn username(&self) -> String {
        self.credentials.username.clone()
    }

    #[napi(getter)]
    pub fn password(&self) -> String {
        self.credentials.password.clone()
    }

    fn with<T>(&self, f: impl FnOnce(&Sandbox) -> T) -> napi::Result<T> {
        let guard = self.inner.lock().expect("sandbox lock");
        match guard.as_ref() {
            Some(sb) => Ok(f(sb)),
            None => Err(to_napi(&config_error("the sandbox has been stopped"))),
        }
    }

    /// Every person in the registry, as a JSON array of records.
    #[napi]
    pub async fn records(&self) -> napi::Result<String> {
        let records = self.with(|sb| sb.records())?;
        serde_json::to_string(&records).map_err(|e| napi::Error::from_reason(e.to_string()))
    }

    /// The log of requests received on the endpoint, as JSON.
    #[napi]
    pub async fn requests(&self) -> napi::Result<String> {
        let received = self.with(|sb| sb.received())?;
        serde_json::to_string(&received).map_err(|e| napi::Error::from_reason(e.to_string()))
    }

    #[napi]
    pub fn clear_requests(&self) -> napi::Result<()> {
        self.with(|sb| sb.clear_received())
    }

    /// Stops the server gracefully. Stopping twice is fine.
    #[napi]
    pub async fn stop(&self) -> napi::Result<()> {
        let sandbox = self.inner.lock().expect("sandbox lock").take();
        if let Some(sb) = sandbox {
            sb.stop().await;
        }
        Ok(())
    }
}
