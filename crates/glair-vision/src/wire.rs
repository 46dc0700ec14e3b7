//! The bytes on the wire: the multipart body we send and the error bodies we read.

use crate::error::{ApiError, BODY_EXCERPT_LIMIT};
use crate::request::VerificationRequest;
use crate::response::FieldResults;

/// A `multipart/form-data` body with one text part per set field. Built by hand:
/// the parts are short, known-length text, and one buffer is cheaper than a stream.
pub(crate) fn multipart_body(request: &VerificationRequest, boundary: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(64 + request.fields().count() * (boundary.len() + 96));
    for (field, value) in request.fields() {
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary.as_bytes());
        body.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
        body.extend_from_slice(field.wire_name().as_bytes());
        body.extend_from_slice(b"\"\r\n\r\n");
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"--\r\n");
    body
}

/// A boundary that cannot occur in normalised values (they hold no CR/LF, and the
/// random part makes a collision with user text practically impossible).
pub(crate) fn new_boundary() -> String {
    format!("glair-vision-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// What can be read from an error body, however broken it is: the docs' own 400
/// sample has a trailing comma, gateways answer HTML, some answers are empty.
pub(crate) fn read_error_body(status: u16, body: &[u8], request_id: Option<String>) -> ApiError {
    let text = String::from_utf8_lossy(body);
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let reason = json
        .as_ref()
        .and_then(|v| ["reason", "message", "error", "detail"].iter().find_map(|k| v.get(*k)?.as_str()))
        .map(str::to_owned)
        .or_else(|| ["reason", "message", "error"].iter().find_map(|k| scan_string_value(&text, k)))
        .or_else(|| html_title(&text));
    let result = json
        .as_ref()
        .and_then(|v| v.get("result").or_else(|| v.get("data")))
        .and_then(|r| serde_json::from_value::<FieldResults>(r.clone()).ok());
    ApiError { reason, request_id, body: excerpt(&text), result, ..ApiError::new(status) }
}

/// The first `BODY_EXCERPT_LIMIT` bytes, cut at a character boundary.
pub(crate) fn excerpt(text: &str) -> String {
    if text.len() <= BODY_EXCERPT_LIMIT {
        return text.to_owned();
    }
    let mut end = BODY_EXCERPT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Finds `"key": "value"` in text that is not valid JSON and decodes the value.
fn scan_string_value(text: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\"");
    let after_key = &text[text.find(&needle)? + needle.len()..];
    let after_colon = after_key.trim_start().strip_prefix(':')?.trim_start();
    let literal = after_colon.strip_prefix('"')?;
    let mut escaped = false;
    for (i, c) in literal.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => {
                return serde_json::from_str(&format!("\"{}\"", &literal[..i])).ok();
            }
            _ => escaped = false,
        }
    }
    None
}

/// The `<title>` of an HTML error page from a proxy.
fn html_title(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let title = text[start..end].trim();
    (!title.is_empty()).then(|| title.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Field;

    #[test]
    fn multipart_has_one_part_per_set_field() {
        let req = VerificationRequest::new("3171014508900001").name("Siti");
        let body = String::from_utf8(multipart_body(&req, "B")).unwrap();
        assert_eq!(
            body,
            "--B\r\nContent-Disposition: form-data; name=\"nik\"\r\n\r\n3171014508900001\r\n\
             --B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nSiti\r\n--B--\r\n"
        );
        assert!(!body.contains(Field::DateOfBirth.wire_name()));
    }

    #[test]
    fn reads_the_docs_malformed_400() {
        let body = b"{ \"verification_status\": false, \"reason\": \"Invalid NIK number format\", }";
        let e = read_error_body(400, body, Some("rid".into()));
        assert_eq!(e.reason.as_deref(), Some("Invalid NIK number format"));
        assert_eq!(e.request_id.as_deref(), Some("rid"));
        assert!(e.body.contains("Invalid NIK"));
    }

    #[test]
    fn reads_gateway_html_and_empty_bodies() {
        let e = read_error_body(403, br#"{"error": "Access to this API has been disallowed"}"#, None);
        assert_eq!(e.reason.as_deref(), Some("Access to this API has been disallowed"));
        let e = read_error_body(502, b"<html><head><title>502 Bad Gateway</title></head></html>", None);
        assert_eq!(e.reason.as_deref(), Some("502 Bad Gateway"));
        let e = read_error_body(500, b"", None);
        assert_eq!(e.reason, None);
        assert_eq!(e.body, "");
    }

    #[test]
    fn keeps_the_partial_result_of_a_503() {
        let body = br#"{"verification_status":false,"reason":"Something wrong in Dukcapil server","result":{"nik":null,"name":null}}"#;
        let e = read_error_body(503, body, None);
        assert_eq!(e.result, Some(FieldResults::default()));
    }

    #[test]
    fn excerpt_is_bounded_at_a_char_boundary() {
        let long = "é".repeat(600);
        let e = excerpt(&long);
        assert!(e.len() <= BODY_EXCERPT_LIMIT + "…".len());
    }
}
