//! Core errors to a stable code + JSON payload carried in the napi error's
//! message; `node/lib/errors.js` turns it into the package's error classes.
//! Conversion only: the taxonomy is the core's.

use glair_vision::Error;
use napi::Status;
use serde_json::{json, Map, Value};

/// Prefix of every error message produced here; the JS layer parses what follows.
pub(crate) const ERROR_PREFIX: &str = "GLAIR_VISION_ERROR:";

/// The JSON payload the JS layer turns into an error class.
pub fn error_payload(err: &Error) -> Value {
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
        p.insert("retryAfter".into(), json!(err.retry_after().map(|d| d.as_secs_f64())));
        p.insert("result".into(), api.result.map_or(Value::Null, |r| json!(r)));
        p.insert("location".into(), json!(api.location));
    }
    p.insert("clientRequestId".into(), json!(err.client_request_id()));
    Value::Object(p)
}

/// The napi error (a rejected promise or a thrown error in JS) for a core error.
pub fn to_napi(err: &Error) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{ERROR_PREFIX}{}", error_payload(err)))
}

/// A `ConfigurationError`: a bad option or a misuse of the binding.
pub fn config_error(message: impl Into<String>) -> Error {
    Error::Configuration(message.into())
}
