//! A panic in native code never leaves the binding as pyo3's `PanicException`
//! (a `BaseException`, which `except Exception` misses) or pyo3-async-runtimes'
//! `RustPanic`, and never ends the interpreter: every boundary catches it and
//! the caller gets `glair_vision.InternalError` (a `GlairVisionError`) naming
//! the panic; the process goes on.
//!
//! The boundaries, each through one helper here:
//! - every `#[pyfunction]` and `#[pymethods]` entry that runs SDK code
//!   ([`guard`]; the value classes of `types.rs` only read and format fields);
//! - futures on the runtime, awaited by the sync client (`runtime::block_on`)
//!   or by asyncio (`runtime::future_into_py`), and their result's conversion
//!   ([`catch`], [`Guarded`]);
//! - a batch session's driver task (its panic is the next `wait`'s error) and
//!   the Arrow results' next-batch callback (called by C code, where an unwind
//!   would abort);
//! - detached tasks ([`spawn_logged`]) and the completions pyo3-async-runtimes
//!   runs on blocking threads: no caller to hand it to, so the panic is logged
//!   (`tracing` error, target `glair_vision::panic`, into `logging` like every
//!   record of the SDK).
//!
//! Rust's default panic hook still prints the panic and its location to stderr.
//!
//! [`test_panic`] (`glair_vision._native._test_panic`) panics on purpose, for
//! the tests that prove this against the wheel as shipped; it refuses to run
//! unless `GLAIR_VISION_TEST_PANICS=1` is set.

pub use glair_vision::panics::{catch, log, panic_text};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;
use pyo3::IntoPyObjectExt as _;

use crate::errors::{internal_pyerr, to_pyerr};
use crate::runtime::{block_on, future_into_py, runtime};

/// Runs a boundary's body; a panic in it becomes `InternalError`.
pub fn guard<T>(body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            let text = panic_text(payload);
            Err(Python::attach(|py| internal_pyerr(py, &text)))
        }
    }
}

/// Runs `fut` on the runtime, detached; a panic in it is logged.
pub fn spawn_logged<F>(what: &'static str, fut: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    runtime().spawn(async move {
        if let Err(text) = catch(fut).await {
            log(what, &text);
        }
    })
}

/// An async call's outcome on its way to asyncio: the value, or the panic that
/// replaced it. Converted (attached to Python) when the awaitable completes; a
/// panic during the conversion is caught too.
pub enum Guarded<T> {
    Value(T),
    Panicked(String),
}

impl<'py, T> IntoPyObject<'py> for Guarded<T>
where
    T: IntoPyObject<'py>,
{
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Guarded::Value(v) => guard(|| v.into_bound_py_any(py)),
            Guarded::Panicked(text) => Err(internal_pyerr(py, &text)),
        }
    }
}

const TEST_PANICS_ENV: &str = "GLAIR_VISION_TEST_PANICS";

/// Test-only: panics on purpose, to prove a panic reaches the caller as
/// `InternalError` and the process goes on. Refuses (`ConfigurationError`,
/// nothing panics) unless the environment has `GLAIR_VISION_TEST_PANICS=1`.
/// `place`: `"sync"` panics in the calling thread; `"async"` in a future on a
/// runtime worker thread that the caller waits for (as every sync call does);
/// `"awaitable"` returns an asyncio awaitable whose future panics there;
/// `"background"` returns None and panics in a detached task (logged);
/// `"stream"` returns a `BatchSession` whose driver panics (its `wait` raises);
/// `"arrow"` returns `ArrowResults` whose stream panics when read.
#[pyfunction]
#[pyo3(name = "_test_panic")]
pub fn test_panic<'py>(py: Python<'py>, place: &str) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        if std::env::var(TEST_PANICS_ENV).as_deref() != Ok("1") {
            return Err(to_pyerr(
                py,
                &glair_vision::Error::Configuration(format!(
                    "_test_panic is a test-only trigger: it runs only when {TEST_PANICS_ENV}=1 is set"
                )),
            ));
        }
        let message = format!("test panic ({place}) from _test_panic");
        match place {
            "sync" => panic!("{message}"),
            "async" => {
                block_on(py, async move { panic!("{message}") })?;
                Ok(py.None().into_bound(py))
            }
            "awaitable" => future_into_py(py, async move {
                if !message.is_empty() {
                    panic!("{message}");
                }
                Ok(())
            }),
            "background" => {
                spawn_logged("a background task (_test_panic)", async move { panic!("{message}") });
                Ok(py.None().into_bound(py))
            }
            "stream" => {
                let items = futures_util::stream::once(async move { panic!("{message}") });
                crate::client::PyBatchSession::running(items).into_bound_py_any(py)
            }
            "arrow" => {
                let batches = futures_util::stream::once(async move { panic!("{message}") });
                crate::tables::PyArrowResults::live(Box::pin(batches)).into_bound_py_any(py)
            }
            other => Err(pyo3::exceptions::PyValueError::new_err(format!(
                "_test_panic: unknown place {other:?} (sync, async, awaitable, background, stream, arrow)"
            ))),
        }
    })
}
