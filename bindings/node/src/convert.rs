//! JS values (as JSON text from `node/lib/convert.js`) to core types. Wrong
//! types and unknown keys of a record become `ValidationError`s naming the
//! field; bad options become `ConfigurationError`s naming the option. Values
//! are never echoed.

use std::time::Duration;

use glair_vision::limits::{self, Count, DurationRange, OutOfRange};
use glair_vision::telemetry::TraceContext;
use glair_vision::{
    BatchRequest, Error, Field, RateLimit, RequestOptions, ValidationError, VerificationRequest,
};
use serde_json::{Map, Value};

use crate::errors::config_error;

/// Key of the `{TYPE_MARKER: kind}` objects the JS layer sends in place of a value
/// JSON cannot carry faithfully (a function, a bigint, NaN, text with a lone
/// UTF-16 surrogate) or that can only be a type error (an array in a field).
const TYPE_MARKER: &str = "\u{0}glair_type";
/// Marker kind of text holding a lone UTF-16 surrogate: it has no UTF-8 form.
const ILL_FORMED: &str = "ill-formed text";
const NOT_UNICODE: &str = "must be valid Unicode text (it holds a lone UTF-16 surrogate)";

/// Whether `v` is the JS layer's marker for text that is not valid Unicode.
fn is_ill_formed(v: &Value) -> bool {
    matches!(v, Value::Object(o) if o.get(TYPE_MARKER).and_then(Value::as_str) == Some(ILL_FORMED))
}

pub fn parse_json(text: &str, what: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| config_error(format!("{what} is not valid JSON: {e}")))
}

/// What a JS value was, for messages ("must be a string, not a number").
pub fn js_type(v: &Value) -> &'static str {
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
            Some("array") => "an array",
            Some("date") => "a Date",
            Some("string") | Some(ILL_FORMED) => "a string",
            Some("number") => "NaN or an infinite number",
            Some("boolean") => "a boolean",
            _ => "an object",
        },
    }
}

/// One record (an object of wire field names) to a request. Strings only:
/// `null` means unset (the JS layer already dropped `undefined` and turned
/// `Date`s into ISO dates).
pub fn request_from_value(value: &Value) -> Result<VerificationRequest, Error> {
    Ok(record_from_value(value, false)?.request)
}

/// A batch record: the fields, and its own correlation id under `requestId`.
fn batch_request_from_value(value: &Value) -> Result<BatchRequest, Error> {
    record_from_value(value, true)
}

fn record_from_value(value: &Value, with_request_id: bool) -> Result<BatchRequest, Error> {
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
    let (mut request_id, mut traceparent, mut tracestate) = (None, None, None);
    for (key, v) in obj {
        if with_request_id && key == "requestId" {
            request_id = request_id_value(v)?;
            continue;
        }
        // A batch row's own W3C trace context (a row span's).
        if with_request_id && key == "traceparent" {
            traceparent = text_value("traceparent", v)?;
            continue;
        }
        if with_request_id && key == "tracestate" {
            tracestate = text_value("tracestate", v)?;
            continue;
        }
        let field = Field::from_wire_name(key).ok_or_else(|| {
            ValidationError::for_key(
                key.as_str(),
                "is not a verification field (expected one of the 16 wire names, e.g. nik, name, date_of_birth)",
            )
        })?;
        match v {
            Value::Null => {}
            Value::String(s) => request.set(field, s.as_str()),
            other if is_ill_formed(other) => return Err(ValidationError::new(field, NOT_UNICODE).into()),
            other => {
                return Err(
                    ValidationError::new(field, format!("must be a string, not {}", js_type(other))).into()
                )
            }
        }
    }
    // The core checks the values (and that `nik` is there) and the request id.
    let mut batch_request = BatchRequest::new(request, request_id);
    batch_request.trace_context = TraceContext::of_record(traceparent.as_deref(), tracestate.as_deref())?;
    Ok(batch_request)
}

/// A correlation id (`requestId`): a string or unset; the core checks its characters.
fn request_id_value(v: &Value) -> Result<Option<String>, Error> {
    text_value("request_id", v)
}

/// A record's text setting (`requestId`, `traceparent`, `tracestate`): a string
/// or unset; the core checks its characters.
fn text_value(key: &str, v: &Value) -> Result<Option<String>, Error> {
    let bad = |why: String| Error::Validation(ValidationError::for_key(key, why));
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other if is_ill_formed(other) => Err(bad(NOT_UNICODE.to_owned())),
        other => Err(bad(format!("must be a string, not {}", js_type(other)))),
    }
}

/// Parses a JSON array of records; rows that are not requests become errors
/// in place (they never reach the API).
pub fn parse_records(text: &str) -> Result<Vec<Result<BatchRequest, Error>>, Error> {
    match parse_json(text, "records")? {
        Value::Array(rows) => Ok(rows.iter().map(batch_request_from_value).collect()),
        other => {
            Err(ValidationError::for_key("records", format!("must be an array, not {}", js_type(&other)))
                .into())
        }
    }
}

pub fn opt_string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) if is_ill_formed(other) => Err(config_error(format!("option `{key}` {NOT_UNICODE}"))),
        Some(other) => Err(config_error(format!("option `{key}` must be a string, not {}", js_type(other)))),
    }
}

pub fn opt_number(obj: &Map<String, Value>, key: &str) -> Result<Option<f64>, Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(config_error(format!("option `{key}` must be a number, not {}", js_type(other)))),
    }
}

/// A core range refusal as a `ConfigurationError` naming the option as the
/// caller spelled it (`maxRetries`, `timeoutMs`).
fn out_of_range(key: &str, e: OutOfRange) -> Error {
    config_error(format!("option `{key}` {}", e.message()))
}

/// A rate limit: `'auto'` (the client's pacer finds the account's pace) or a
/// number within the core's range (`limits::RATE_LIMIT`: 0.001 to 1,000,000
/// per second), a hard ceiling of calls started per second. Unset is `None`.
pub fn opt_rate_limit(obj: &Map<String, Value>, key: &str) -> Result<Option<RateLimit>, Error> {
    let bad = || config_error(format!("option `{key}` must be 'auto' or {}", limits::RATE_LIMIT.expected()));
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "auto" => Ok(Some(RateLimit::Auto)),
        Some(Value::Number(n)) => match n.as_f64().map(|r| limits::RATE_LIMIT.check(r)) {
            Some(Ok(r)) => Ok(Some(RateLimit::Fixed(r))),
            _ => Err(bad()),
        },
        Some(Value::String(_)) => Err(bad()),
        Some(other) => {
            Err(config_error(format!("option `{key}` must be 'auto' or a number, not {}", js_type(other))))
        }
    }
}

pub fn opt_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(config_error(format!("option `{key}` must be a boolean, not {}", js_type(other)))),
    }
}

/// A number of milliseconds within the core's `range` (`limits::TIMEOUT`, ...)
/// as a duration: `timeoutMs: 2500`. NaN and infinities arrive as type markers
/// (not numbers); negatives, fractions of a millisecond below the range and
/// values past it are out of range.
pub fn opt_millis_in(
    obj: &Map<String, Value>,
    key: &str,
    range: &DurationRange,
) -> Result<Option<Duration>, Error> {
    match opt_number(obj, key)? {
        None => Ok(None),
        Some(ms) => range.check_millis(ms).map(Some).map_err(|e| out_of_range(key, e)),
    }
}

/// An integer within the core's `range` (`limits::CONCURRENCY`, ...). A JS
/// number that is not an integer (1.5), negative or past the range (2 ** 62)
/// is out of range; NaN and infinities arrive as type markers.
pub fn opt_count_in(obj: &Map<String, Value>, key: &str, range: &Count) -> Result<Option<u64>, Error> {
    match opt_number(obj, key)? {
        None => Ok(None),
        Some(n) => range.check_f64(n).map(Some).map_err(|e| out_of_range(key, e)),
    }
}

/// A number of milliseconds, 0 or more (the sandbox's delays; the sandbox
/// bounds them itself), as a duration.
pub fn opt_duration_ms(obj: &Map<String, Value>, key: &str) -> Result<Option<Duration>, Error> {
    match opt_number(obj, key)? {
        None => Ok(None),
        // try_: a huge number (1e300) is an error, not a panic.
        Some(ms) if ms >= 0.0 => match Duration::try_from_secs_f64(ms / 1000.0) {
            Ok(d) => Ok(Some(d)),
            Err(_) => Err(config_error(format!("option `{key}` is too large"))),
        },
        Some(_) => Err(config_error(format!("option `{key}` must be a non-negative number of milliseconds"))),
    }
}

pub fn opt_count(obj: &Map<String, Value>, key: &str) -> Result<Option<u64>, Error> {
    match opt_number(obj, key)? {
        None => Ok(None),
        Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 => Ok(Some(n as u64)),
        Some(_) => Err(config_error(format!("option `{key}` must be a non-negative integer"))),
    }
}

/// An options argument (JSON text of an object, or absent) as a map.
pub fn options_object(text: Option<String>, what: &str) -> Result<Map<String, Value>, Error> {
    match text {
        None => Ok(Map::new()),
        Some(text) => match parse_json(&text, what)? {
            Value::Null => Ok(Map::new()),
            Value::Object(o) => Ok(o),
            other => Err(config_error(format!("{what} must be an object, not {}", js_type(&other)))),
        },
    }
}

/// `known`: the accepted keys, in groups (the settings every door shares, then its own).
pub fn reject_unknown(obj: &Map<String, Value>, known: &[&[&str]], what: &str) -> Result<(), Error> {
    let known = known.iter().flat_map(|group| group.iter());
    match obj.keys().find(|k| !known.clone().any(|name| name == k)) {
        Some(k) => Err(config_error(format!(
            "unknown {what} option `{k}` (expected one of: {})",
            known.copied().collect::<Vec<_>>().join(", ")
        ))),
        None => Ok(()),
    }
}

/// `timeoutMs`, or its alias `timeout` (milliseconds, `limits::TIMEOUT`: 1 ms to 1 day).
pub fn timeout(obj: &Map<String, Value>) -> Result<Option<Duration>, Error> {
    match opt_millis_in(obj, "timeoutMs", &limits::TIMEOUT)? {
        Some(d) => Ok(Some(d)),
        None => opt_millis_in(obj, "timeout", &limits::TIMEOUT),
    }
}

/// `deadline` (milliseconds, `limits::DEADLINE`: 1 ms to 1 day).
pub fn deadline(obj: &Map<String, Value>) -> Result<Option<Duration>, Error> {
    opt_millis_in(obj, "deadline", &limits::DEADLINE)
}

/// `maxRetries`, or its alias `retries` (`limits::RETRIES`: 0 to 100).
pub fn retries(obj: &Map<String, Value>) -> Result<Option<u32>, Error> {
    let n = match opt_count_in(obj, "maxRetries", &limits::RETRIES)? {
        Some(n) => Some(n),
        None => opt_count_in(obj, "retries", &limits::RETRIES)?,
    };
    Ok(n.map(|n| n as u32))
}

/// Settings both `new Vision(...)` and a single call take.
pub const SETTINGS_KEYS: [&str; 11] = [
    "apiKey",
    "username",
    "password",
    "baseUrl",
    "apiVersion",
    "timeoutMs",
    "timeout",
    "maxRetries",
    "retries",
    "deadline",
    "retryUnanswered",
];

/// The official SDK's second argument (`Partial<Settings>`), plus timeout and retries.
pub fn request_options(obj: &Map<String, Value>) -> Result<RequestOptions, Error> {
    reject_unknown(obj, &[&SETTINGS_KEYS, &["requestId", "traceparent", "tracestate"]], "per-call")?;
    let max_retries = retries(obj)?;
    let trace_context = match opt_string(obj, "traceparent")? {
        Some(traceparent) => Some(
            TraceContext::new(&traceparent, opt_string(obj, "tracestate")?.as_deref())
                .map_err(|e| config_error(e.to_string()))?,
        ),
        None if obj.get("tracestate").is_some_and(|v| !v.is_null()) => {
            return Err(config_error("option `tracestate` needs `traceparent`"))
        }
        None => None,
    };
    Ok(RequestOptions {
        api_key: opt_string(obj, "apiKey")?,
        username: opt_string(obj, "username")?,
        password: opt_string(obj, "password")?,
        base_url: opt_string(obj, "baseUrl")?,
        api_version: opt_string(obj, "apiVersion")?,
        timeout: timeout(obj)?,
        max_retries,
        deadline: deadline(obj)?,
        retry_unanswered: opt_bool(obj, "retryUnanswered")?,
        request_id: match obj.get("requestId") {
            Some(v) => request_id_value(v)?,
            None => None,
        },
        trace_context,
    })
}
