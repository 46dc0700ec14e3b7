//! # glair-vision
//!
//! Verify Indonesian ID cards (KTP) against the population registry (Dukcapil)
//! through GLAIR Vision's Basic Verification endpoint,
//! `POST /identity/v1/verification`.
//!
//! ```no_run
//! # async fn run() -> Result<(), glair_vision::Error> {
//! use glair_vision::{Vision, VerificationRequest};
//!
//! let vision = Vision::from_env()?; // GLAIR_API_KEY, GLAIR_USERNAME, GLAIR_PASSWORD
//! let request = VerificationRequest::new("3171014508900001")
//!     .name("SITI RAHAYU")
//!     .date_of_birth("05-08-1990");
//! let verification = vision.identity().verification(&request).await?;
//! println!("{} ({})", verification.verification_status, verification.reason);
//! # Ok(()) }
//! ```
//!
//! Input is validated before anything is sent ([`Error::Validation`] names the
//! field); API failures come back as one typed [`Error`] carrying the HTTP status,
//! reason and `Request-Id`. Retryable failures (429, 5xx, timeouts, connection
//! errors) are retried with backoff. NIKs, names and credentials never appear in
//! `Debug` output or logs.

mod batch;
mod client;
pub mod date;
mod error;
mod field;
#[cfg(feature = "env-log")]
pub mod logging;
pub mod nik;
pub mod normalize;
pub mod pacing;
mod request;
mod response;
mod retry;
mod wire;

pub use batch::{BatchItem, BatchOptions, BatchRequest, RateLimiter};
pub use client::{
    request_id_header, Credentials, Identity, RequestOptions, Vision, VisionBuilder, DEFAULT_API_VERSION,
    DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT,
    ENV_API_KEY, ENV_BASE_URL, ENV_PASSWORD, ENV_USERNAME, MAX_REQUEST_ID_LEN,
};
pub use date::Date;
pub use error::{ApiError, Error, ErrorKind, Result, TransportError, ValidationError, BODY_EXCERPT_LIMIT};
pub use field::Field;
pub use nik::{mask_nik, Gender, Nik, NikConsistency};
pub use pacing::{PacingSnapshot, RateLimit};
pub use request::{VerificationRequest, VerificationRequestBuilder};
pub use response::{FieldResults, Verification};
pub use retry::RetryPolicy;

/// The crate version, as sent in the User-Agent.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
