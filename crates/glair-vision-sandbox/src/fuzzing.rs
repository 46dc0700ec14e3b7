//! Entry points for the fuzz targets (`fuzz/`) and the property tests
//! (`tests/properties.rs`): the request-body reader, reachable without a server.
//! Not part of the API: hidden from the docs and free to change with the server.

pub use crate::body::BodyError;

/// The fields of a request body, decoded as `content_type` says (multipart,
/// urlencoded or JSON), exactly as the endpoint reads them.
pub fn body_fields(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, BodyError> {
    crate::body::fields(content_type, body)
}
