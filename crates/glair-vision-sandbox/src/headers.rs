//! Reading header values, shared by the server and the request log (below both,
//! so neither imports the other).

use axum::http::HeaderValue;

/// A header value as text ("" when absent or not visible ASCII).
pub(crate) fn header_str(value: Option<&HeaderValue>) -> &str {
    value.and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// A copy of `value` in an allocation of its own. Values parsed by hyper share the
/// buffer the whole request head was read into: a logged clone would keep that
/// buffer alive, so the log copies what it keeps.
pub(crate) fn owned(value: &HeaderValue) -> HeaderValue {
    let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| HeaderValue::from_static(""));
    copy.set_sensitive(value.is_sensitive());
    copy
}
