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
    /// The `Location` header of a 3xx answer ([`Error::Redirect`] only).
    pub location: Option<String>,
    /// The caller's correlation id, sent as `x-request-id` ([`crate::RequestOptions::request_id`]).
    pub client_request_id: Option<String>,
}

impl ApiError {
    /// An error for `status` with nothing read yet; fill in what is known.
    pub fn new(status: u16) -> ApiError {
        ApiError {
            status,
            reason: None,
            request_id: None,
            body: String::new(),
            retry_after: None,
            result: None,
            location: None,
            client_request_id: None,
        }
    }
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
        if let Some(location) = &self.location {
            write!(f, " (Location: {location})")?;
        }
        write_ids(f, self.request_id.as_deref(), self.client_request_id.as_deref())
    }
}

/// ` [request id X, client request id Y]`, or less, or nothing.
fn write_ids(f: &mut fmt::Formatter<'_>, request_id: Option<&str>, client: Option<&str>) -> fmt::Result {
    match (request_id, client) {
        (Some(id), Some(c)) => write!(f, " [request id {id}, client request id {c}]"),
        (Some(id), None) => write!(f, " [request id {id}]"),
        (None, Some(c)) => write!(f, " [client request id {c}]"),
        (None, None) => Ok(()),
    }
}

/// A failure below HTTP: no answer was received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    pub message: String,
    /// The caller's correlation id, sent as `x-request-id`.
    pub client_request_id: Option<String>,
    /// Whether the request may have reached the server. False for connect, DNS
    /// and TLS-handshake failures and connect timeouts: the server never saw the
    /// call, so retrying it cannot bill twice.
    pub request_sent: bool,
    /// A failure that retrying cannot mend: the TLS handshake failed on a
    /// certificate (the server's is not trusted, or the client's was refused).
    pub permanent: bool,
}

impl TransportError {
    pub fn new(message: impl Into<String>, request_sent: bool) -> TransportError {
        TransportError { message: message.into(), client_request_id: None, request_sent, permanent: false }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        write_ids(f, None, self.client_request_id.as_deref())
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
    /// A 2xx whose body is not the documented shape, or any answer whose body
    /// exceeds [`crate::VisionBuilder::max_response_bytes`].
    #[error("could not decode response: {0}")]
    Decode(ApiError),
    /// A 3xx answer. Redirects are never followed (they would carry the
    /// credentials and personal data to another origin); `location` names where
    /// the server pointed.
    #[error("redirected: {0}")]
    Redirect(ApiError),
    /// The status line arrived, then the body failed (connection dropped, per-attempt
    /// timeout or call deadline while reading). Never retried: the server may have
    /// processed, and billed, the call. Holds the status, Request-Id and the body
    /// read so far.
    #[error("incomplete response: {0}")]
    IncompleteResponse(ApiError),
    /// The connect, per-attempt or call deadline passed before any answer arrived.
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
    Redirect,
    IncompleteResponse,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 15] = [
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
        ErrorKind::Redirect,
        ErrorKind::IncompleteResponse,
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
            ErrorKind::Redirect => "redirect",
            ErrorKind::IncompleteResponse => "incomplete_response",
        }
    }

    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether some errors of this kind are retried (which ones: [`Error::is_retryable`]).
    /// Redirect, IncompleteResponse, Decode and 4xx other than 429 never are.
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

/// `Some` of the [`ApiError`] inside every variant that got an HTTP answer (by
/// reference or mutably, as `$error` is borrowed).
macro_rules! with_api_error {
    ($error:expr) => {
        match $error {
            Error::BadRequest(e)
            | Error::Authentication(e)
            | Error::PermissionDenied(e)
            | Error::NotFound(e)
            | Error::RateLimited(e)
            | Error::ServiceUnavailable(e)
            | Error::Server(e)
            | Error::Decode(e)
            | Error::Redirect(e)
            | Error::IncompleteResponse(e) => Some(e),
            _ => None,
        }
    };
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
            Error::Redirect(_) => ErrorKind::Redirect,
            Error::IncompleteResponse(_) => ErrorKind::IncompleteResponse,
        }
    }

    /// The HTTP details, for errors that got an HTTP answer.
    pub fn api(&self) -> Option<&ApiError> {
        with_api_error!(self)
    }

    fn api_mut(&mut self) -> Option<&mut ApiError> {
        with_api_error!(self)
    }

    /// The transport details, for errors that got no HTTP answer.
    pub fn transport(&self) -> Option<&TransportError> {
        match self {
            Error::Timeout(e) | Error::Connection(e) => Some(e),
            _ => None,
        }
    }

    /// The caller's correlation id sent as `x-request-id`, if one was given.
    pub fn client_request_id(&self) -> Option<&str> {
        match self {
            Error::Timeout(e) | Error::Connection(e) => e.client_request_id.as_deref(),
            _ => self.api().and_then(|a| a.client_request_id.as_deref()),
        }
    }

    /// How long the server asked the caller to wait (`Retry-After` of a 429/503).
    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(|a| a.retry_after)
    }

    /// Records the caller's correlation id on an API or transport error.
    pub(crate) fn with_client_request_id(mut self, id: Option<&str>) -> Error {
        let Some(id) = id else { return self };
        match &mut self {
            Error::Timeout(e) | Error::Connection(e) => e.client_request_id = Some(id.to_owned()),
            other => {
                if let Some(a) = other.api_mut() {
                    a.client_request_id = Some(id.to_owned());
                }
            }
        }
        self
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

    /// Whether the default policy retries this error: 429, 502, 503, 504, and
    /// transport failures before the request was sent (but not a certificate the
    /// handshake refused: [`TransportError::permanent`]). Ambiguous failures (see
    /// [`Error::is_unanswered`]) are retried only with
    /// [`crate::RetryPolicy::retry_unanswered`].
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited(_) | Error::ServiceUnavailable(_) => true,
            Error::Server(a) => matches!(a.status, 502 | 504),
            Error::Timeout(t) | Error::Connection(t) => !t.request_sent && !t.permanent,
            _ => false,
        }
    }

    /// A failure after the request was sent and before any sign that it was not
    /// processed: a timeout or reset before any answer byte, or a 500 (or another
    /// 5xx that is not 502/503/504). The server may have processed, and billed, it.
    pub fn is_unanswered(&self) -> bool {
        match self {
            Error::Server(a) => !matches!(a.status, 502 | 504),
            Error::Timeout(t) | Error::Connection(t) => t.request_sent,
            _ => false,
        }
    }

    /// Classifies a non-2xx HTTP answer.
    pub fn from_status(api: ApiError) -> Error {
        match api.status {
            300..=399 => Error::Redirect(api),
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
