//! Exit codes and the JSON shapes printed for results and errors.

use glair_vision::{Error, ErrorKind, NikConsistency, Verification};
use serde::Serialize;

/// Verified (verify) / every row has an outcome (batch) / valid NIK (nik).
pub const EXIT_OK: u8 = 0;
/// A 200 answer with `verification_status: false`.
pub const EXIT_NOT_VERIFIED: u8 = 1;
/// Bad input or usage (clap also exits 2 on usage errors).
pub const EXIT_INPUT: u8 = 2;
/// An API or transport error.
pub const EXIT_API: u8 = 3;
/// Missing credentials or other configuration problems.
pub const EXIT_CONFIG: u8 = 4;
/// A batch stopped by SIGINT/SIGTERM before every row had an outcome.
pub const EXIT_INTERRUPTED: u8 = 5;

/// The exit code of `verify` for an error.
pub fn exit_code(error: &Error) -> u8 {
    match error.kind() {
        ErrorKind::Validation => EXIT_INPUT,
        ErrorKind::Configuration => EXIT_CONFIG,
        _ => EXIT_API,
    }
}

/// `{"kind", "status", "reason", "request_id", "client_request_id", "retry_after",
/// "field", "message"}`: never holds personal data or credentials (the core's
/// messages don't echo values). `retry_after` is in seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorJson {
    pub kind: &'static str,
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
    pub retry_after: Option<f64>,
    pub field: Option<String>,
    pub message: String,
}

impl ErrorJson {
    pub fn from_error(error: &Error) -> ErrorJson {
        let api = error.api();
        ErrorJson {
            kind: error.kind().code(),
            status: api.map(|a| a.status),
            reason: api.and_then(|a| a.reason.clone()),
            request_id: api.and_then(|a| a.request_id.clone()),
            client_request_id: error.client_request_id().map(str::to_owned),
            retry_after: error.retry_after().map(|d| d.as_secs_f64()),
            field: error.validation().map(|v| v.field().to_owned()),
            message: error.to_string(),
        }
    }

    /// A row-level input problem found before the request could be built.
    pub fn validation(field: Option<String>, message: String) -> ErrorJson {
        ErrorJson {
            kind: ErrorKind::Validation.code(),
            status: None,
            reason: None,
            request_id: None,
            client_request_id: None,
            retry_after: None,
            field,
            message,
        }
    }
}

/// What `verify` prints on success: the verification plus, when the NIK disagrees
/// with the stated birth date or gender, the offline consistency check.
#[derive(Serialize)]
pub struct VerifyOutput<'a> {
    #[serde(flatten)]
    pub verification: &'a Verification,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nik_consistency: Option<NikConsistency>,
}

#[derive(Serialize)]
pub struct ErrorOutput<'a> {
    pub error: &'a ErrorJson,
}

/// Prints the JSON error object on stdout and a one-line message on stderr.
pub fn print_error(error: &ErrorJson) {
    show!("{}", serde_json::to_string_pretty(&ErrorOutput { error }).expect("serialisable"));
    say!("error: {}", one_line(&error.message));
}

pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use glair_vision::{ApiError, ValidationError};

    #[test]
    fn api_errors_carry_status_reason_and_request_id() {
        let error = Error::BadRequest(ApiError {
            reason: Some("Invalid NIK number format".into()),
            request_id: Some("req-1".into()),
            ..ApiError::new(400)
        });
        let json = serde_json::to_value(ErrorJson::from_error(&error)).unwrap();
        assert_eq!(json["kind"], "bad_request");
        assert_eq!(json["status"], 400);
        assert_eq!(json["reason"], "Invalid NIK number format");
        assert_eq!(json["request_id"], "req-1");
        assert!(json["field"].is_null());
        assert!(json["retry_after"].is_null() && json["client_request_id"].is_null());
        assert_eq!(exit_code(&error), EXIT_API);
    }

    #[test]
    fn rate_limits_carry_retry_after_in_seconds_and_the_callers_id() {
        let error = Error::RateLimited(ApiError {
            retry_after: Some(std::time::Duration::from_millis(1500)),
            client_request_id: Some("order-17".into()),
            ..ApiError::new(429)
        });
        let json = serde_json::to_value(ErrorJson::from_error(&error)).unwrap();
        assert_eq!(json["retry_after"], 1.5);
        assert_eq!(json["client_request_id"], "order-17");
    }

    #[test]
    fn validation_errors_name_the_field() {
        let error = Error::Validation(ValidationError::new(glair_vision::Field::Rt, "must be 1-3 digits"));
        let json = ErrorJson::from_error(&error);
        assert_eq!(json.field.as_deref(), Some("rt"));
        assert_eq!(json.kind, "validation");
        assert_eq!(exit_code(&error), EXIT_INPUT);
        assert_eq!(exit_code(&Error::Configuration("x".into())), EXIT_CONFIG);
    }
}
