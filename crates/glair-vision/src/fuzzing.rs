//! Entry points for the fuzz targets (`fuzz/`) and the property tests
//! (`tests/properties.rs`): the parts of reading an answer that the client keeps
//! private, reachable without an HTTP server. Not part of the API: hidden from
//! the docs and free to change with the client.

use crate::error::{ApiError, Error};
use crate::request::VerificationRequest;
use crate::response::Verification;
use crate::wire;

/// Decodes a 2xx answer's body as the client does: the verification, or a
/// [`Error::Decode`] carrying the status, the `Request-Id` and the body excerpt.
pub fn decode_success(status: u16, body: &[u8], request_id: Option<String>) -> Result<Verification, Error> {
    // Mirrors `Identity::send_once` in client.rs, which decodes inline.
    Verification::from_body(body, request_id.clone()).ok_or_else(|| {
        Error::Decode(ApiError {
            status,
            reason: Some("response body is not a verification result".to_owned()),
            request_id,
            body: wire::excerpt(&String::from_utf8_lossy(body)),
            retry_after: None,
            result: None,
        })
    })
}

/// Reads a non-2xx answer's body as the client does, classified by its status.
pub fn decode_error(status: u16, body: &[u8], request_id: Option<String>) -> Error {
    Error::from_status(wire::read_error_body(status, body, request_id))
}

/// The `multipart/form-data` body the client sends for `request` (as given: the
/// client normalises first).
pub fn multipart_body(request: &VerificationRequest, boundary: &str) -> Vec<u8> {
    wire::multipart_body(request, boundary)
}

/// A fresh boundary, as the client draws one per request.
pub fn new_boundary() -> String {
    wire::new_boundary()
}
