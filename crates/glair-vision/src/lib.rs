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
//! reason and `Request-Id`. NIKs, names and credentials never appear in `Debug`
//! output or logs.
//!
//! Every call is billed and carries personal data, so the client:
//! - never follows a redirect (a 3xx is [`Error::Redirect`], naming the `Location`);
//! - reads at most [`VisionBuilder::max_response_bytes`] of a body (256 KiB), in
//!   chunks, and accepts a 2xx only if it is a full answer (else [`Error::Decode`]);
//! - bounds each call by [`VisionBuilder::deadline`] (60 s), attempts and waits
//!   together;
//! - retries only what was certainly not processed (429, 502, 503, 504, failures
//!   to connect), with backoff and `Retry-After`; never a call whose answer began
//!   ([`Error::IncompleteResponse`]); and failures that leave it unknown (a timeout
//!   or reset after sending, a 500) only with [`VisionBuilder::retry_unanswered`].
//!
//! Every count, size, duration and rate a caller sets has one range, checked
//! before anything is allocated or sent: see [`limits`].
//!
//! [`RequestOptions::request_id`] sends the caller's correlation id as
//! `x-request-id`; it is kept on the [`Verification`] and on errors
//! ([`Error::client_request_id`]) and logged with the call.

mod batch;
mod client;
pub mod date;
mod error;
mod field;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
#[cfg(feature = "env-log")]
pub mod logging;
pub mod network;
pub mod nik;
pub mod normalize;
pub mod pacing;
pub mod panics;
mod request;
mod response;
mod retry;
pub mod survey;
pub mod tables;
pub mod telemetry;
mod wire;

pub use batch::{BatchItem, BatchOptions, BatchRequest, RateLimiter};
pub use client::{
    request_id_header, Credentials, Identity, RequestOptions, Vision, VisionBuilder, DEFAULT_API_VERSION,
    DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT,
    ENV_API_KEY, ENV_BASE_URL, ENV_PACING_URL, ENV_PASSWORD, ENV_USERNAME, MAX_REQUEST_ID_LEN,
};
pub use date::Date;
pub use error::{ApiError, Error, ErrorKind, Result, TransportError, ValidationError, BODY_EXCERPT_LIMIT};
pub use field::Field;
pub use nik::{mask_nik, Gender, Nik, NikConsistency};
pub use pacing::{PacingModel, PacingSnapshot, PacingUrl, RateLimit, StorePace};
pub use request::{VerificationRequest, VerificationRequestBuilder};
pub use response::{FieldResults, Verification};
pub use retry::RetryPolicy;

/// The crate version, as sent in the User-Agent.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
