//! Core errors to the exception classes of `glair_vision.errors` (defined in Python
//! so they pickle with their attributes). Conversion only: the taxonomy is the core's.

use glair_vision::{Error, ValidationError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::types::PyFieldResults;

static FACTORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `glair_vision.errors._from_native(code, message, info)`.
fn factory(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    FACTORY.import(py, "glair_vision.errors", "_from_native")
}

fn build(py: Python<'_>, code: &str, message: &str, info: Bound<'_, PyDict>) -> PyErr {
    match factory(py).and_then(|f| f.call1((code, message, info))) {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// The exception for a core error.
pub fn to_pyerr(py: Python<'_>, err: &Error) -> PyErr {
    let info = PyDict::new(py);
    let filled: PyResult<()> = (|| {
        if let Some(v) = err.validation() {
            info.set_item("field", v.field())?;
            info.set_item("detail", v.message())?;
        }
        if let Some(api) = err.api() {
            info.set_item("status_code", api.status)?;
            info.set_item("reason", api.reason.as_deref())?;
            info.set_item("request_id", api.request_id.as_deref())?;
            info.set_item("body", api.body.as_str())?;
            info.set_item("retry_after", api.retry_after.map(|d| d.as_secs_f64()))?;
            let result = match &api.result {
                Some(r) => Some(Py::new(py, PyFieldResults::from(*r))?),
                None => None,
            };
            info.set_item("result", result)?;
            info.set_item("location", api.location.as_deref())?;
        }
        if let Some(t) = err.transport() {
            info.set_item("request_sent", t.request_sent)?;
        }
        info.set_item("client_request_id", err.client_request_id())?;
        Ok(())
    })();
    if let Err(e) = filled {
        return e;
    }
    build(py, err.kind().code(), &err.to_string(), info)
}

/// A `ValidationError` for input a binding rejects before the core sees it.
pub fn validation_pyerr(py: Python<'_>, err: &ValidationError) -> PyErr {
    to_pyerr(py, &Error::Validation(err.clone()))
}

/// Where a bug in glair-vision is reported.
pub const ISSUES: &str = "https://github.com/glair-vision/glair-vision/issues";

/// `InternalError` for a panic (`text`: what it said): a bug in glair-vision,
/// never the caller's input or the service's answer.
pub fn internal_pyerr(py: Python<'_>, text: &str) -> PyErr {
    let info = PyDict::new(py);
    if let Err(e) = info.set_item("detail", text) {
        return e;
    }
    let message = format!("internal error in glair-vision (a bug: please report it at {ISSUES}): {text}");
    build(py, "internal", &message, info)
}
