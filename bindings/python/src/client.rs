//! `Client`: the core `Vision` behind the Python `Vision`/`AsyncVision`, and
//! `BatchSession`, the engine of the batch iterators.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{Stream, StreamExt as _};
use glair_vision::telemetry::CallReport;
use glair_vision::{
    limits, BatchItem, BatchOptions, BatchRequest, Error, RequestOptions, Verification, VerificationRequest,
    Vision,
};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use pyo3::IntoPyObjectExt as _;
use tokio::sync::mpsc;

use crate::convert::{
    boolean, concurrency, opt_string, rate_limit, request_from_py, request_from_record, request_options,
    retries, seconds,
};
use crate::errors::{internal_pyerr, to_pyerr};
use crate::panics::{self, guard};
use crate::runtime::{block_on, future_into_py, runtime};
use crate::types::{py_repr, PyPacingState, PyVerification};

/// An outcome that raises its error when converted (single calls).
pub struct Raise(pub Result<Verification, Error>);

impl<'py> IntoPyObject<'py> for Raise {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(v) => Ok(Bound::new(py, PyVerification::from(v))?.into_any()),
            Err(e) => Err(to_pyerr(py, &e)),
        }
    }
}

/// A batch outcome, its error returned as an exception instance; both carry
/// `attempts` and `throttled` (what the core counted for that record).
pub struct Settled {
    outcome: Result<Verification, Error>,
    attempts: u32,
    throttled: u32,
}

impl Settled {
    /// A record refused before anything was sent.
    fn unsent(outcome: Result<Verification, Error>) -> Settled {
        Settled { outcome, attempts: 0, throttled: 0 }
    }
}

impl From<BatchItem> for Settled {
    fn from(item: BatchItem) -> Settled {
        Settled { outcome: item.outcome, attempts: item.attempts, throttled: item.throttled }
    }
}

impl<'py> IntoPyObject<'py> for Settled {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.outcome {
            Ok(inner) => Ok(Bound::new(
                py,
                PyVerification { inner, attempts: Some(self.attempts), throttled: Some(self.throttled) },
            )?
            .into_any()),
            Err(e) => {
                let exc = to_pyerr(py, &e).into_value(py).into_bound(py).into_any();
                exc.setattr("attempts", self.attempts)?;
                exc.setattr("throttled", self.throttled)?;
                Ok(exc)
            }
        }
    }
}

/// One call's outcome (as a batch's: a result or an exception instance, with
/// `attempts` and `throttled`) and its report as a dict, in a tuple.
pub struct Reported(pub (Result<Verification, Error>, CallReport));

impl<'py> IntoPyObject<'py> for Reported {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (outcome, report) = self.0;
        let settled = Settled { outcome, attempts: report.attempts, throttled: report.throttled };
        let details = PyDict::new(py);
        details.set_item("attempts", report.attempts)?;
        details.set_item("throttled", report.throttled)?;
        details.set_item("pacer_wait", report.pacer_wait.as_secs_f64())?;
        details.set_item("status", report.status)?;
        Ok(PyTuple::new(py, [settled.into_pyobject(py)?, details.into_any()])?.into_any())
    }
}

/// The default number of calls a batch has in flight.
const DEFAULT_CONCURRENCY: usize = 16;

fn batch_options(
    concurrency_arg: Option<&Bound<'_, PyAny>>,
    rate_limit_arg: Option<&Bound<'_, PyAny>>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<BatchOptions> {
    Ok(BatchOptions {
        concurrency: concurrency_arg.map(concurrency).transpose()?.unwrap_or(DEFAULT_CONCURRENCY),
        rate_limit: rate_limit(rate_limit_arg)?,
        request_options: request_options(options)?,
    })
}

/// [`batch_options`], and the core's own check of them (the ranges of
/// `glair_vision::limits`): raised once, before any record is read.
fn checked_batch_options(
    py: Python<'_>,
    concurrency_arg: Option<&Bound<'_, PyAny>>,
    rate_limit_arg: Option<&Bound<'_, PyAny>>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<BatchOptions> {
    let opts = batch_options(concurrency_arg, rate_limit_arg, options)?;
    opts.check().map_err(|e| to_pyerr(py, &e))?;
    Ok(opts)
}

/// Records to requests; a record that cannot be converted is settled at once
/// as a validation error. Returns the slots and the convertible requests with
/// their positions.
type Prepared = (Vec<Option<Settled>>, Vec<usize>, Vec<BatchRequest>);

fn prepare(py: Python<'_>, records: &Bound<'_, PyAny>) -> PyResult<Prepared> {
    let mut slots = Vec::new();
    let mut positions = Vec::new();
    let mut requests = Vec::new();
    for record in records.try_iter()? {
        let record = record?;
        match request_from_record(py, &record) {
            Ok(r) => {
                positions.push(slots.len());
                requests.push(r);
                slots.push(None);
            }
            Err(e) => slots.push(Some(Settled::unsent(Err(Error::Validation(e))))),
        }
    }
    Ok((slots, positions, requests))
}

fn settle(mut slots: Vec<Option<Settled>>, positions: Vec<usize>, items: Vec<BatchItem>) -> Vec<Settled> {
    for (pos, item) in positions.into_iter().zip(items) {
        slots[pos] = Some(item.into());
    }
    slots.into_iter().map(|o| o.unwrap_or_else(|| Settled::unsent(Err(Error::Cancelled)))).collect()
}

/// One call's request and options; a `request_id` key in the record counts as
/// the `request_id` option when that is not given.
fn single(
    py: Python<'_>,
    record: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<(VerificationRequest, RequestOptions)> {
    let item = request_from_py(py, record)?;
    let mut options = request_options(options)?;
    if options.request_id.is_none() {
        options.request_id = item.request_id;
    }
    Ok((item.request, options))
}

/// A configured GLAIR Vision client (the Rust core's `Vision`). Thread-safe; after
/// `fork()` the child transparently gets a fresh connection pool.
#[pyclass(frozen, module = "glair_vision._native", name = "Client")]
pub struct PyClient {
    state: Mutex<(u32, Vision)>,
}

impl PyClient {
    pub(crate) fn vision(&self) -> Vision {
        let pid = std::process::id();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 != pid {
            // The pool's connections belong to the parent's runtime: start afresh.
            let old = &state.1;
            let rebuilt = Vision::builder()
                .read_env(false)
                .credentials(old.credentials().clone())
                .base_url(old.base_url())
                .api_version(old.api_version())
                .timeout(old.timeout())
                .connect_timeout(old.connect_timeout())
                .deadline(old.deadline())
                .max_response_bytes(old.max_response_bytes())
                .retry_policy(old.retry_policy())
                .rate_limit(old.pacing().ceiling)
                .pacing_url(old.pacing_url().map_or("", |u| u.expose_secret()))
                .network(old.network().clone())
                .client_name("python")
                .build()
                .unwrap_or_else(|_| old.clone());
            let old = std::mem::replace(&mut *state, (pid, rebuilt));
            std::mem::forget(old);
        }
        state.1.clone()
    }
}

#[pymethods]
impl PyClient {
    #[new]
    #[pyo3(signature = (api_key=None, username=None, password=None, base_url=None, api_version=None,
        timeout=None, connect_timeout=None, max_retries=None, deadline=None, retry_unanswered=None, rate_limit=None,
        ca_bundle=None, ca_bundle_only=None, proxy=None, client_cert=None, client_key=None, pacing_url=None,
        read_env=true))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        api_key: Option<&Bound<'_, PyAny>>,
        username: Option<&Bound<'_, PyAny>>,
        password: Option<&Bound<'_, PyAny>>,
        base_url: Option<&Bound<'_, PyAny>>,
        api_version: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
        connect_timeout: Option<&Bound<'_, PyAny>>,
        max_retries: Option<&Bound<'_, PyAny>>,
        deadline: Option<&Bound<'_, PyAny>>,
        retry_unanswered: Option<&Bound<'_, PyAny>>,
        rate_limit: Option<&Bound<'_, PyAny>>,
        ca_bundle: Option<&Bound<'_, PyAny>>,
        ca_bundle_only: Option<&Bound<'_, PyAny>>,
        proxy: Option<&Bound<'_, PyAny>>,
        client_cert: Option<&Bound<'_, PyAny>>,
        client_key: Option<&Bound<'_, PyAny>>,
        pacing_url: Option<&Bound<'_, PyAny>>,
        read_env: bool,
    ) -> PyResult<Self> {
        guard(|| {
            let mut b = Vision::builder().client_name("python").read_env(read_env);
            if let Some(v) = opt_string("api_key", api_key)? {
                b = b.api_key(v);
            }
            if let Some(v) = opt_string("username", username)? {
                b = b.username(v);
            }
            if let Some(v) = opt_string("password", password)? {
                b = b.password(v);
            }
            if let Some(v) = opt_string("base_url", base_url)? {
                b = b.base_url(v);
            }
            if let Some(v) = opt_string("api_version", api_version)? {
                b = b.api_version(v);
            }
            if let Some(v) = timeout.filter(|v| !v.is_none()) {
                b = b.timeout(seconds(&limits::TIMEOUT, v)?);
            }
            if let Some(v) = connect_timeout.filter(|v| !v.is_none()) {
                b = b.connect_timeout(seconds(&limits::CONNECT_TIMEOUT, v)?);
            }
            if let Some(v) = max_retries.filter(|v| !v.is_none()) {
                b = b.max_retries(retries(v)?);
            }
            if let Some(v) = deadline.filter(|v| !v.is_none()) {
                b = b.deadline(seconds(&limits::DEADLINE, v)?);
            }
            if let Some(v) = retry_unanswered.filter(|v| !v.is_none()) {
                b = b.retry_unanswered(boolean("retry_unanswered", v)?);
            }
            b = b.rate_limit(crate::convert::rate_limit(rate_limit)?);
            if let Some(v) = opt_string("pacing_url", pacing_url)? {
                b = b.pacing_url(v);
            }
            b = b.network(crate::network::settings(
                ca_bundle,
                ca_bundle_only,
                proxy,
                client_cert,
                client_key,
            )?);
            let vision = b.build().map_err(|e| to_pyerr(py, &e))?;
            Ok(PyClient { state: Mutex::new((std::process::id(), vision)) })
        })
    }

    /// The pacing store's URL with its credentials redacted, or None.
    #[getter]
    fn pacing_url(&self) -> PyResult<Option<String>> {
        guard(|| Ok(self.vision().pacing_url().map(|u| u.redacted())))
    }
    #[getter]
    fn base_url(&self) -> PyResult<String> {
        guard(|| Ok(self.vision().base_url().to_owned()))
    }
    #[getter]
    fn api_version(&self) -> PyResult<String> {
        guard(|| Ok(self.vision().api_version().to_owned()))
    }
    /// Seconds.
    #[getter]
    fn timeout(&self) -> PyResult<f64> {
        guard(|| Ok(self.vision().timeout().as_secs_f64()))
    }
    /// Seconds.
    #[getter]
    fn connect_timeout(&self) -> PyResult<f64> {
        guard(|| Ok(self.vision().connect_timeout().as_secs_f64()))
    }
    #[getter]
    fn max_retries(&self) -> PyResult<u32> {
        guard(|| Ok(self.vision().retry_policy().max_retries))
    }
    /// Seconds: the longest a whole call may take, retries and waits included.
    #[getter]
    fn deadline(&self) -> PyResult<f64> {
        guard(|| Ok(self.vision().deadline().as_secs_f64()))
    }
    /// Whether calls that may have been processed are retried.
    #[getter]
    fn retry_unanswered(&self) -> PyResult<bool> {
        guard(|| Ok(self.vision().retry_policy().retry_unanswered))
    }
    /// The client-wide ceiling of calls per second, or None (`"auto"`).
    #[getter]
    fn rate_limit(&self) -> PyResult<Option<f64>> {
        guard(|| Ok(self.vision().pacing().ceiling))
    }
    /// The pacer's state now (shared by every call of this client).
    fn pacing(&self) -> PyResult<PyPacingState> {
        guard(|| Ok(self.vision().pacing().into()))
    }
    #[getter]
    fn user_agent(&self) -> PyResult<String> {
        guard(|| Ok(self.vision().user_agent().to_owned()))
    }

    /// The resolved configuration, credentials included (to re-create the client,
    /// e.g. when unpickling). Contains secrets: do not log it.
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        guard(|| {
            let v = self.vision();
            let d = PyDict::new(py);
            d.set_item("api_key", &v.credentials().api_key)?;
            d.set_item("username", &v.credentials().username)?;
            d.set_item("password", &v.credentials().password)?;
            d.set_item("base_url", v.base_url())?;
            d.set_item("api_version", v.api_version())?;
            d.set_item("timeout", v.timeout().as_secs_f64())?;
            d.set_item("connect_timeout", v.connect_timeout().as_secs_f64())?;
            d.set_item("max_retries", v.retry_policy().max_retries)?;
            d.set_item("deadline", v.deadline().as_secs_f64())?;
            d.set_item("retry_unanswered", v.retry_policy().retry_unanswered)?;
            d.set_item("rate_limit", v.pacing().ceiling)?;
            d.set_item("pacing_url", v.pacing_url().map(|u| u.expose_secret()))?;
            crate::network::arguments(py, v.network(), &d)?;
            Ok(d)
        })
    }

    /// Verifies one record, waiting with the GIL released; Ctrl-C aborts the call.
    #[pyo3(signature = (record, options=None))]
    fn verify(
        &self,
        py: Python<'_>,
        record: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyVerification> {
        guard(|| {
            let (request, options) = single(py, record, options)?;
            let vision = self.vision();
            let outcome =
                block_on(py, async move { vision.identity().verification_with(&request, &options).await })?;
            outcome.map(PyVerification::from).map_err(|e| to_pyerr(py, &e))
        })
    }

    /// Verifies one record; returns the result or the exception (not raised) and
    /// what the call did (`attempts`, `throttled`, `pacer_wait` in seconds,
    /// `status`): for the telemetry layer's spans and metrics.
    #[pyo3(signature = (record, options=None))]
    fn verify_reported<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (request, options) = single(py, record, options)?;
            let vision = self.vision();
            let reported =
                block_on(
                    py,
                    async move { vision.identity().verification_with_report(&request, &options).await },
                )?;
            Reported(reported).into_pyobject(py)
        })
    }

    /// `verify_reported`, awaitable.
    #[pyo3(signature = (record, options=None))]
    fn verify_reported_async<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (request, options) = single(py, record, options)?;
            let vision = self.vision();
            future_into_py(py, async move {
                Ok(Reported(vision.identity().verification_with_report(&request, &options).await))
            })
        })
    }

    /// Verifies one record; returns an asyncio awaitable. Cancelling it aborts the call.
    #[pyo3(signature = (record, options=None))]
    fn verify_async<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let (request, options) = single(py, record, options)?;
            let vision = self.vision();
            future_into_py(py, async move {
                Ok(Raise(vision.identity().verification_with(&request, &options).await))
            })
        })
    }

    /// Verifies every record; returns results and exception instances in input order.
    #[pyo3(signature = (records, concurrency=None, rate_limit=None, options=None))]
    fn verify_batch(
        &self,
        py: Python<'_>,
        records: &Bound<'_, PyAny>,
        concurrency: Option<&Bound<'_, PyAny>>,
        rate_limit: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Vec<Settled>> {
        guard(|| {
            let opts = checked_batch_options(py, concurrency, rate_limit, options)?;
            let (slots, positions, requests) = prepare(py, records)?;
            let vision = self.vision();
            let outcomes =
                block_on(
                    py,
                    async move { vision.identity().verification_batch_items(requests, opts).await },
                )?;
            Ok(settle(slots, positions, outcomes))
        })
    }

    /// Like `verify_batch`, as an asyncio awaitable.
    #[pyo3(signature = (records, concurrency=None, rate_limit=None, options=None))]
    fn verify_batch_async<'py>(
        &self,
        py: Python<'py>,
        records: &Bound<'py, PyAny>,
        concurrency: Option<&Bound<'py, PyAny>>,
        rate_limit: Option<&Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let opts = checked_batch_options(py, concurrency, rate_limit, options)?;
            let (slots, positions, requests) = prepare(py, records)?;
            let vision = self.vision();
            future_into_py(py, async move {
                let outcomes = vision.identity().verification_batch_items(requests, opts).await;
                Ok(settle(slots, positions, outcomes))
            })
        })
    }

    /// Starts a streaming batch: submit records as `capacity()` allows (twice
    /// the concurrency), collect `(submission index, outcome)` pairs as they complete.
    #[pyo3(signature = (concurrency=None, rate_limit=None, options=None))]
    fn batch_session(
        &self,
        py: Python<'_>,
        concurrency: Option<&Bound<'_, PyAny>>,
        rate_limit: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyBatchSession> {
        guard(|| {
            let opts = checked_batch_options(py, concurrency, rate_limit, options)?;
            // Bounded by the concurrency's range: at most 8,192 records queued.
            let buffer = opts.concurrency * 2;
            let (in_tx, mut in_rx) = mpsc::channel::<BatchRequest>(buffer);
            let input = futures_util::stream::poll_fn(move |cx| in_rx.poll_recv(cx));
            let items = self.vision().identity().verification_stream(input, opts);
            Ok(PyBatchSession::start(Some(in_tx), items))
        })
    }

    fn __repr__(&self) -> PyResult<String> {
        guard(|| {
            let v = self.vision();
            Ok(format!(
                "Client(base_url={}, api_version={}, timeout={}, deadline={}, max_retries={})",
                py_repr(Some(v.base_url())),
                py_repr(Some(v.api_version())),
                v.timeout().as_secs_f64(),
                v.deadline().as_secs_f64(),
                v.retry_policy().max_retries
            ))
        })
    }
}

/// What the driver hands over: an outcome, or the panic that stopped it.
type Out = Result<BatchItem, String>;

/// A running streaming batch (see `Client.batch_session`).
#[pyclass(frozen, module = "glair_vision._native", name = "BatchSession")]
pub struct PyBatchSession {
    input: Mutex<Option<mpsc::Sender<BatchRequest>>>,
    output: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Out>>>,
    task: tokio::task::AbortHandle,
    submitted: AtomicUsize,
}

impl Drop for PyBatchSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PyBatchSession {
    /// A session handing over `items` (the core's stream over the records sent
    /// to `input`) as a driver task on the runtime produces them. A panic in
    /// the driver is handed over last, raised by `wait` as `InternalError`: the
    /// session never ends as if every record were done.
    fn start(
        input: Option<mpsc::Sender<BatchRequest>>,
        items: impl Stream<Item = BatchItem> + Send + 'static,
    ) -> PyBatchSession {
        let (out_tx, out_rx) = mpsc::unbounded_channel::<Out>();
        let task = runtime().spawn(async move {
            let forward = {
                let out_tx = out_tx.clone();
                async move {
                    let mut items = std::pin::pin!(items);
                    while let Some(item) = items.next().await {
                        if out_tx.send(Ok(item)).is_err() {
                            break;
                        }
                    }
                }
            };
            if let Err(panic) = panics::catch(forward).await {
                let _ = out_tx.send(Err(panic));
            }
        });
        PyBatchSession {
            input: Mutex::new(input),
            output: Arc::new(tokio::sync::Mutex::new(out_rx)),
            task: task.abort_handle(),
            submitted: AtomicUsize::new(0),
        }
    }

    /// A session over `items` alone, closed for input (for `_test_panic`).
    pub(crate) fn running(items: impl Stream<Item = BatchItem> + Send + 'static) -> PyBatchSession {
        PyBatchSession::start(None, items)
    }
}

/// A session's next outcome as Python gets it: `(index, outcome)`, None once
/// every record is done, or the driver's panic raised as `InternalError`.
struct Next(Option<Out>);

impl<'py> IntoPyObject<'py> for Next {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            None => Ok(py.None().into_bound(py)),
            Some(Ok(item)) => (item.index, Settled::from(item)).into_bound_py_any(py),
            Some(Err(panic)) => Err(internal_pyerr(py, &panic)),
        }
    }
}

#[pymethods]
impl PyBatchSession {
    /// How many more records `submit` accepts right now.
    fn capacity(&self) -> PyResult<usize> {
        guard(|| {
            let input = self.input.lock().unwrap_or_else(|e| e.into_inner());
            Ok(input.as_ref().map_or(0, |tx| tx.capacity()))
        })
    }

    /// Queues a record; returns its submission index. Raises `ValidationError` if
    /// the record cannot be converted (nothing is queued then).
    fn submit(&self, py: Python<'_>, record: &Bound<'_, PyAny>) -> PyResult<usize> {
        guard(|| {
            let request = request_from_py(py, record)?;
            let input = self.input.lock().unwrap_or_else(|e| e.into_inner());
            let tx = input.as_ref().ok_or_else(|| PyRuntimeError::new_err("the batch input is closed"))?;
            tx.try_send(request).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => PyRuntimeError::new_err("the batch input is full"),
                mpsc::error::TrySendError::Closed(_) => PyRuntimeError::new_err("the batch has stopped"),
            })?;
            Ok(self.submitted.fetch_add(1, Ordering::SeqCst))
        })
    }

    /// No more records: the batch finishes once the queued ones are done.
    fn close(&self) -> PyResult<()> {
        guard(|| {
            self.input.lock().unwrap_or_else(|e| e.into_inner()).take();
            Ok(())
        })
    }

    /// A completed `(index, outcome)` if one is ready, else None (never blocks).
    fn poll(&self) -> PyResult<Next> {
        guard(|| {
            let Ok(mut out) = self.output.try_lock() else { return Ok(Next(None)) };
            Ok(Next(out.try_recv().ok()))
        })
    }

    /// The next completed `(index, outcome)`, waiting with the GIL released;
    /// None once the input is closed and every record is done.
    fn wait(&self, py: Python<'_>) -> PyResult<Next> {
        guard(|| {
            let output = self.output.clone();
            block_on(py, async move { Next(output.lock().await.recv().await) })
        })
    }

    /// `wait` as an asyncio awaitable.
    fn wait_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let output = self.output.clone();
            future_into_py(py, async move { Ok(Next(output.lock().await.recv().await)) })
        })
    }

    /// Stops the batch: calls in flight are abandoned.
    fn cancel(&self) -> PyResult<()> {
        guard(|| {
            self.input.lock().unwrap_or_else(|e| e.into_inner()).take();
            self.task.abort();
            Ok(())
        })
    }
}

/// Masks a NIK for display: `317101******0001`. Any `str` is accepted; a lone
/// surrogate counts as one character (as Python counts it).
#[pyfunction]
pub fn mask_nik(nik: &Bound<'_, PyString>) -> PyResult<String> {
    guard(|| match nik.to_cow() {
        Ok(text) => Ok(glair_vision::mask_nik(&text)),
        Err(_) => {
            let replaced = nik.call_method1("encode", ("utf-8", "replace"))?;
            let bytes: Vec<u8> = replaced.extract()?;
            Ok(glair_vision::mask_nik(&String::from_utf8_lossy(&bytes)))
        }
    })
}

/// Checks per-call overrides as a call would (for `with_options`, which
/// rejects bad values when the derived client is made).
#[pyfunction]
pub fn check_options(options: &Bound<'_, PyDict>) -> PyResult<()> {
    guard(|| request_options(Some(options)).map(|_| ()))
}
