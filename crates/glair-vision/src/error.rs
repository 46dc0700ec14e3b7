//! One error taxonomy for every front door (Rust, Python, Node, CLI).

use std::fmt;
use std::time::Duration;

use crate::field::Field;
use crate::response::FieldResults;

/// Input rejected before anything was sent. Names the field and what was wrong;
/// never echoes the value (it is personal data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    field: String,
    message: String,
}

impl ValidationError {
    pub fn new(field: Field, message: impl Into<String>) -> Self {
        ValidationError { field: field.wire_name().to_owned(), message: message.into() }
    }

    /// For input that is not one of the 16 fields (an unknown key from a binding).
    pub fn for_key(key: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError { field: key.into(), message: message.into() }
    }

    /// The wire name of the offending field (or the unknown key).
    pub fn field(&self) -> &str {
        &self.field
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}

/// An HTTP answer that is not a verification result.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// The `reason` (or gateway `error`/`message`) read from the body, if any.
    pub reason: Option<String>,
    /// The `Request-Id` response header, for GLAIR support.
    pub request_id: Option<String>,
    /// The start of the raw body (at most [`BODY_EXCERPT_LIMIT`] bytes).
    pub body: String,
    /// How long the server asked us to wait (429/503 `Retry-After`).
    pub retry_after: Option<Duration>,
    /// The per-field result carried by some errors (503: all null).
    pub result: Option<FieldResults>,
}

/// How much of an error body is kept for diagnostics.
pub const BODY_EXCERPT_LIMIT: usize = 512;

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        match &self.reason {
            Some(reason) => write!(f, ": {reason}")?,
            None if self.body.is_empty() => f.write_str(" (empty body)")?,
            None => f.write_str(" (unreadable body)")?,
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

/// A failure below HTTP: no answer was received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    pub message: String,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every way a verification can fail. A 200 whose `verification_status` is false
/// is a result, not an error.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input, caught before sending.
    #[error("{0}")]
    Validation(ValidationError),
    /// The client is not configured to send (missing credentials, bad base URL).
    #[error("configuration error: {0}")]
    Configuration(String),
    /// 400 (and other 4xx not listed below).
    #[error("bad request: {0}")]
    BadRequest(ApiError),
    /// 401.
    #[error("authentication failed: {0}")]
    Authentication(ApiError),
    /// 403.
    #[error("permission denied: {0}")]
    PermissionDenied(ApiError),
    /// 404: usually a wrong base URL or API version.
    #[error("not found: {0}")]
    NotFound(ApiError),
    /// 429.
    #[error("rate limited: {0}")]
    RateLimited(ApiError),
    /// 503: Dukcapil is down.
    #[error("service unavailable: {0}")]
    ServiceUnavailable(ApiError),
    /// Any other 5xx.
    #[error("server error: {0}")]
    Server(ApiError),
    /// A 2xx whose body is not the documented shape.
    #[error("could not decode response: {0}")]
    Decode(ApiError),
    /// The connect or total deadline passed.
    #[error("timed out: {0}")]
    Timeout(TransportError),
    /// DNS, refused, reset, TLS.
    #[error("connection failed: {0}")]
    Connection(TransportError),
    /// The call was cancelled (a batch stopped, Ctrl-C) before it finished.
    #[error("cancelled")]
    Cancelled,
}

/// The kind of an [`Error`], with a stable code shared by the bindings.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Validation,
    Configuration,
    BadRequest,
    Authentication,
    PermissionDenied,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Server,
    Decode,
    Timeout,
    Connection,
    Cancelled,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::Validation,
        ErrorKind::Configuration,
        ErrorKind::BadRequest,
        ErrorKind::Authentication,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::RateLimited,
        ErrorKind::ServiceUnavailable,
        ErrorKind::Server,
        ErrorKind::Decode,
        ErrorKind::Timeout,
        ErrorKind::Connection,
        ErrorKind::Cancelled,
    ];

    /// Stable snake_case code, used in CLI output, conformance vectors and bindings.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::Validation => "validation",
            ErrorKind::Configuration => "configuration",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Authentication => "authentication",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ServiceUnavailable => "service_unavailable",
            ErrorKind::Server => "server",
            ErrorKind::Decode => "decode",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::Cancelled => "cancelled",
        }
    }

    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether the client retries this kind by default.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::ServiceUnavailable
                | ErrorKind::Server
                | ErrorKind::Timeout
                | ErrorKind::Connection
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Validation(_) => ErrorKind::Validation,
            Error::Configuration(_) => ErrorKind::Configuration,
            Error::BadRequest(_) => ErrorKind::BadRequest,
            Error::Authentication(_) => ErrorKind::Authentication,
            Error::PermissionDenied(_) => ErrorKind::PermissionDenied,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::RateLimited(_) => ErrorKind::RateLimited,
            Error::ServiceUnavailable(_) => ErrorKind::ServiceUnavailable,
            Error::Server(_) => ErrorKind::Server,
            Error::Decode(_) => ErrorKind::Decode,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Connection(_) => ErrorKind::Connection,
            Error::Cancelled => ErrorKind::Cancelled,
        }
    }

    /// The HTTP details, for errors that got an HTTP answer.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::BadRequest(e)
            | Error::Authentication(e)
            | Error::PermissionDenied(e)
            | Error::NotFound(e)
            | Error::RateLimited(e)
            | Error::ServiceUnavailable(e)
            | Error::Server(e)
            | Error::Decode(e) => Some(e),
            _ => None,
        }
    }

    pub fn validation(&self) -> Option<&ValidationError> {
        match self {
            Error::Validation(e) => Some(e),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        self.api().map(|e| e.status)
    }

    pub fn request_id(&self) -> Option<&str> {
        self.api().and_then(|e| e.request_id.as_deref())
    }

    pub fn reason(&self) -> Option<&str> {
        self.api().and_then(|e| e.reason.as_deref())
    }

    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }

    /// Classifies a non-2xx HTTP answer.
    pub fn from_status(api: ApiError) -> Error {
        match api.status {
            401 => Error::Authentication(api),
            403 => Error::PermissionDenied(api),
            404 => Error::NotFound(api),
            429 => Error::RateLimited(api),
            503 => Error::ServiceUnavailable(api),
            500..=599 => Error::Server(api),
            _ => Error::BadRequest(api),
        }
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Error::Validation(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
