//! Entry points for the fuzz targets (`fuzz/`) and the property tests
//! (`tests/properties.rs`): the parts of reading an answer that the client keeps
//! private, reachable without an HTTP server. Not part of the API: hidden from
//! the docs and free to change with the client.

use crate::client::decode_answer;
use crate::error::{ApiError, Error};
use crate::request::VerificationRequest;
use crate::response::Verification;
use crate::wire;

/// Decodes a 2xx answer's body as the client does: the verification, or a
/// [`Error::Decode`] carrying the status, the `Request-Id` and the body excerpt.
pub fn decode_success(status: u16, body: &[u8], request_id: Option<String>) -> Result<Verification, Error> {
    decode_answer(answer_head(status, request_id), body)
}

/// Reads a non-2xx answer's body as the client does, classified by its status.
pub fn decode_error(status: u16, body: &[u8], request_id: Option<String>) -> Error {
    match decode_answer(answer_head(status, request_id), body) {
        Err(e) => e,
        Ok(_) => unreachable!("a non-2xx status is never a verification"),
    }
}

fn answer_head(status: u16, request_id: Option<String>) -> ApiError {
    let mut api = ApiError::new(status);
    api.request_id = request_id;
    api
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
