//! Python values to core types. Wrong types and unknown keys become
//! `ValidationError`s naming the field; values are never echoed.

use std::time::Duration;

use glair_vision::limits::{self, Count, DurationRange, OutOfRange};
use glair_vision::telemetry::TraceContext;
use glair_vision::{BatchRequest, Field, RateLimit, RequestOptions, ValidationError, VerificationRequest};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyMapping, PyString, PyType};

use crate::errors::{to_pyerr, validation_pyerr};

static DATE_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATETIME_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

pub fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".to_owned())
}

/// One field's value as text: `str`, or for `date_of_birth` also a
/// `datetime.date`/`datetime.datetime` (sent as ISO, which the core accepts).
fn field_value(py: Python<'_>, field: Field, value: &Bound<'_, PyAny>) -> Result<String, ValidationError> {
    if let Ok(s) = value.cast::<PyString>() {
        return s
            .to_cow()
            .map(|c| c.into_owned())
            .map_err(|_| ValidationError::new(field, "must be valid Unicode text"));
    }
    if field == Field::DateOfBirth {
        let is = |cell: &PyOnceLock<Py<PyType>>, name: &str| -> bool {
            cell.import(py, "datetime", name).map(|t| value.is_instance(t).unwrap_or(false)).unwrap_or(false)
        };
        let date = if is(&DATETIME_TYPE, "datetime") {
            value.call_method0("date").ok()
        } else if is(&DATE_TYPE, "date") {
            Some(value.clone())
        } else {
            None
        };
        if let Some(date) = date {
            return date
                .call_method0("isoformat")
                .and_then(|s| s.extract::<String>())
                .map_err(|_| ValidationError::new(field, "is not a usable date"));
        }
        return Err(ValidationError::new(
            field,
            format!("must be a str or a datetime.date, not {}", type_name(value)),
        ));
    }
    Err(ValidationError::new(field, format!("must be a str, not {}", type_name(value))))
}

/// The key of a record that holds its own correlation id (sent as `x-request-id`).
const REQUEST_ID_KEY: &str = "request_id";
/// The keys of a record's own W3C trace context (a row span's).
const TRACEPARENT_KEY: &str = "traceparent";
const TRACESTATE_KEY: &str = "tracestate";

/// A record (a mapping of wire field names to values, and optionally a
/// `request_id`; `None` means unset) as a request. Validation of the values
/// themselves (the request id's too) is the core's.
pub fn request_from_record(
    py: Python<'_>,
    record: &Bound<'_, PyAny>,
) -> Result<BatchRequest, ValidationError> {
    let not_a_record = || {
        ValidationError::for_key(
            "record",
            format!("must be a dict of wire field names to values, not {}", type_name(record)),
        )
    };
    let items: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = if let Ok(dict) = record.cast::<PyDict>() {
        dict.iter().collect()
    } else if let Ok(mapping) = record.cast::<PyMapping>() {
        mapping
            .items()
            .and_then(|items| items.iter().map(|pair| pair.extract()).collect::<PyResult<Vec<_>>>())
            .map_err(|_| not_a_record())?
    } else {
        return Err(not_a_record());
    };
    let mut request = VerificationRequest::default();
    let (mut request_id, mut traceparent, mut tracestate) = (None, None, None);
    for (key, value) in items {
        let key = key
            .cast::<PyString>()
            .ok()
            .and_then(|k| k.to_cow().ok().map(|c| c.into_owned()))
            .ok_or_else(|| ValidationError::for_key("record", "field names must be str"))?;
        let own = match key.as_str() {
            REQUEST_ID_KEY => Some(&mut request_id),
            TRACEPARENT_KEY => Some(&mut traceparent),
            TRACESTATE_KEY => Some(&mut tracestate),
            _ => None,
        };
        if let Some(slot) = own {
            if !value.is_none() {
                *slot = Some(text_value(&key, &value)?);
            }
            continue;
        }
        let field = Field::from_wire_name(&key).ok_or_else(|| {
            ValidationError::for_key(
                key.clone(),
                "is not a verification field (expected a wire name such as nik, name, date_of_birth)",
            )
        })?;
        if value.is_none() {
            continue;
        }
        request.set(field, field_value(py, field, &value)?);
    }
    let mut batch_request = BatchRequest::new(request, request_id);
    batch_request.trace_context = TraceContext::of_record(traceparent.as_deref(), tracestate.as_deref())?;
    Ok(batch_request)
}

/// A record's `str` value that is not a field (the request id).
fn text_value(key: &str, value: &Bound<'_, PyAny>) -> Result<String, ValidationError> {
    let text = value
        .cast::<PyString>()
        .map_err(|_| ValidationError::for_key(key, format!("must be a str, not {}", type_name(value))))?;
    text.to_cow()
        .map(|c| c.into_owned())
        .map_err(|_| ValidationError::for_key(key, "must be valid Unicode text"))
}

/// [`request_from_record`], raising `ValidationError`.
pub fn request_from_py(py: Python<'_>, record: &Bound<'_, PyAny>) -> PyResult<BatchRequest> {
    request_from_record(py, record).map_err(|e| validation_pyerr(py, &e))
}

/// A `ValidationError` naming a setting: the value is right in type but not
/// usable (it is never repeated: it may be a credential).
fn invalid(value: &Bound<'_, PyAny>, name: &str, detail: &str) -> PyErr {
    validation_pyerr(value.py(), &ValidationError::for_key(name, detail))
}

/// A core range refusal as a `ValidationError` naming the setting (Python
/// spells every setting as the core does).
fn out_of_range(value: &Bound<'_, PyAny>, e: OutOfRange) -> PyErr {
    invalid(value, e.setting(), &e.message())
}

/// A number of seconds (an int or float, not a bool) as f64. A wrong type is a
/// `TypeError`.
pub fn number_of_seconds(name: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!("{name} must be a number of seconds, not bool")));
    }
    value.extract().map_err(|_| {
        PyTypeError::new_err(format!("{name} must be a number of seconds, not {}", type_name(value)))
    })
}

/// Seconds as a duration within `range` (the core's: `limits::TIMEOUT`, ...).
/// A wrong type is a `TypeError`; a number outside the range (NaN, infinities
/// and negatives included) a `ValidationError` naming the setting.
pub fn seconds(range: &DurationRange, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let secs = number_of_seconds(range.setting, value)?;
    range.check_seconds(secs).map_err(|e| out_of_range(value, e))
}

/// An `int` that is not a `bool`, as i128 (wide enough for any range check).
fn integer(name: &str, value: &Bound<'_, PyAny>) -> PyResult<i128> {
    if value.is_instance_of::<pyo3::types::PyBool>() || !value.is_instance_of::<pyo3::types::PyInt>() {
        return Err(PyTypeError::new_err(format!("{name} must be an int, not {}", type_name(value))));
    }
    // Ints beyond i128 are out of every range: saturate, keeping the sign.
    Ok(value.extract::<i128>().unwrap_or_else(|_| {
        if value.lt(0i32).unwrap_or(false) {
            i128::MIN
        } else {
            i128::MAX
        }
    }))
}

/// An int within a core range ([`Count`]).
pub fn count(range: &Count, value: &Bound<'_, PyAny>) -> PyResult<u64> {
    let n = integer(range.setting, value)?;
    range.check(n).map_err(|e| out_of_range(value, e))
}

/// A retry count (`limits::RETRIES`: 0 to 100).
pub fn retries(value: &Bound<'_, PyAny>) -> PyResult<u32> {
    count(&limits::RETRIES, value).map(|n| n as u32)
}

/// A batch's concurrency (`limits::CONCURRENCY`: 1 to 4096).
pub fn concurrency(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    count(&limits::CONCURRENCY, value).map(|n| n as usize)
}

/// A rate limit: `"auto"` (or None) lets the client's pacer find the account's
/// pace; a number is a hard ceiling of calls started per second, within
/// `limits::RATE_LIMIT`. A wrong type (bool included) is a `TypeError`;
/// another string or a number outside the range is a `ValidationError`.
pub fn rate_limit(value: Option<&Bound<'_, PyAny>>) -> PyResult<RateLimit> {
    let Some(value) = value.filter(|v| !v.is_none()) else { return Ok(RateLimit::Auto) };
    if let Ok(text) = value.cast::<PyString>() {
        return match text.to_cow() {
            Ok(t) if t == "auto" => Ok(RateLimit::Auto),
            _ => Err(invalid(value, "rate_limit", "must be \"auto\" or a number of requests per second")),
        };
    }
    let wrong_type = || {
        PyTypeError::new_err(format!(
            "rate_limit must be \"auto\", a number or None, not {}",
            type_name(value)
        ))
    };
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(wrong_type());
    }
    let rate: f64 = value.extract().map_err(|_| wrong_type())?;
    limits::RATE_LIMIT.check(rate).map(RateLimit::Fixed).map_err(|e| out_of_range(value, e))
}

/// A `str` setting; text that is not valid Unicode (a lone surrogate) is a
/// `ValidationError` that does not carry it (Python's own error would).
pub fn string(name: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    value
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("{name} must be a str, not {}", type_name(value))))?
        .to_cow()
        .map(|c| c.into_owned())
        .map_err(|_| invalid(value, name, "must be valid Unicode text"))
}

/// A `bool` setting (`True`/`False` only: `1` or `"yes"` are not guessed at).
pub fn boolean(name: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    value
        .cast::<pyo3::types::PyBool>()
        .map(|b| b.is_true())
        .map_err(|_| PyTypeError::new_err(format!("{name} must be a bool, not {}", type_name(value))))
}

/// An optional `str` setting (`None` is unset).
pub fn opt_string(name: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    value.filter(|v| !v.is_none()).map(|v| string(name, v)).transpose()
}

/// Per-call overrides from a dict of `api_key`, `username`, `password`, `base_url`,
/// `api_version`, `timeout` and `deadline` (seconds), `max_retries` (each within
/// its `glair_vision::limits` range),
/// `retry_unanswered`, `request_id`, and `traceparent` and `tracestate` (the W3C
/// trace context sent, which the telemetry layer sets); `None` values are ignored.
pub fn request_options(options: Option<&Bound<'_, PyDict>>) -> PyResult<RequestOptions> {
    let mut out = RequestOptions::default();
    let Some(options) = options else { return Ok(out) };
    let (mut traceparent, mut tracestate) = (None, None);
    for (key, value) in options.iter() {
        let key = string("option name", &key)?;
        if value.is_none() {
            continue;
        }
        match key.as_str() {
            "api_key" => out.api_key = Some(string(&key, &value)?),
            "username" => out.username = Some(string(&key, &value)?),
            "password" => out.password = Some(string(&key, &value)?),
            "base_url" => out.base_url = Some(string(&key, &value)?),
            "api_version" => out.api_version = Some(string(&key, &value)?),
            "timeout" => out.timeout = Some(seconds(&limits::TIMEOUT, &value)?),
            "max_retries" => out.max_retries = Some(retries(&value)?),
            "deadline" => out.deadline = Some(seconds(&limits::DEADLINE, &value)?),
            "retry_unanswered" => out.retry_unanswered = Some(boolean(&key, &value)?),
            "request_id" => out.request_id = Some(string(&key, &value)?),
            "traceparent" => traceparent = Some(string(&key, &value)?),
            "tracestate" => tracestate = Some(string(&key, &value)?),
            _ => return Err(PyTypeError::new_err(format!("unknown option {key:?}"))),
        }
    }
    out.trace_context = match traceparent {
        Some(traceparent) => Some(
            TraceContext::new(&traceparent, tracestate.as_deref()).map_err(|e| to_pyerr(options.py(), &e))?,
        ),
        None if tracestate.is_some() => return Err(PyTypeError::new_err("tracestate needs traceparent")),
        None => None,
    };
    Ok(out)
}

/// Rows per checkpoint chunk of the Dask and Spark adapters, within
/// `limits::CHECKPOINT_ROWS` (1 to 100,000): the chunk is what a partition holds
/// in memory at a time. A wrong type is a `TypeError`, a count outside the range
/// a `ValidationError` naming `checkpoint_rows`.
#[pyfunction]
pub fn check_checkpoint_rows(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    crate::panics::guard(|| count(&limits::CHECKPOINT_ROWS, value))
}

/// A rate limit as `verify_table` and the batches take it (`"auto"`, None or a
/// number within `limits::RATE_LIMIT`): None for `"auto"`, else the number.
/// For the Dask and Spark adapters, which divide the account's rate among tasks.
#[pyfunction]
pub fn check_rate_limit(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
    crate::panics::guard(|| Ok(rate_limit(value)?.ceiling()))
}
