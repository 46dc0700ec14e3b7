//! Arrow record batches in, result batches out (feature `arrow`): what Python's
//! `verify_table`, the CLI's Parquet files and the Dask/Spark partitions run on.
//!
//! The result table is the kept columns (the caller's order, their input names and
//! Arrow types, the input arrays themselves) followed by
//! [`RESULT_COLUMNS`](crate::tables::RESULT_COLUMNS):
//!
//! | column | Arrow type | meaning |
//! |---|---|---|
//! | `outcome` | utf8 | `verified`, `not_verified` or `error` |
//! | `verification_status` | bool, null on error | every field sent matched |
//! | `reason` | utf8, nullable | the API's reason (also on API errors) |
//! | `result_nik` ... `result_rw` | bool, nullable | one per field, null when not sent or not checked |
//! | `error_kind` | utf8, nullable | [`crate::ErrorKind`] code (`rate_limited`, `validation`, ...) |
//! | `error_message` | utf8, nullable | never repeats an input value |
//! | `request_id` | utf8, nullable | the API's `Request-Id` |
//!
//! Input cells become fields as follows (checked for the whole schema before
//! anything is sent; any other type is refused, naming the column and its type):
//!
//! | Arrow type | read as |
//! |---|---|
//! | utf8, large_utf8, utf8_view, a dictionary of those | the text; blank text is unset |
//! | int8 ... int64, uint8 ... uint64 | the number's digits (a NIK as int64, `rt`/`rw` as ints) |
//! | float32, float64 | a whole number's digits; NaN is unset; a fraction fails that row |
//! | date32, date64, timestamp (`date_of_birth` only) | the calendar date, in the timestamp's own zone (UTC, a fixed offset or an Indonesian zone) |
//! | null | unset |
//!
//! A null cell (and a float NaN) is an unset field, never the text "nan". The
//! correlation id column may be text or integers.
//!
//! [`verify_batches`] runs batches through the client's batch machinery
//! ([`crate::Identity::verification_stream`]: bounded concurrency, adaptive pacing,
//! retries) and yields result batches in input order, one per input batch.
//! [`survey_reader`] reads the same rows offline and counts what a run would
//! send ([`crate::survey`]).

mod read;
mod stream;
mod survey;
mod write;

pub use read::{check_schema, requests_from_batch, resolve_schema, RowRequest};
pub use stream::{verify_batches, verify_reader};
pub use survey::survey_reader;
pub use write::{result_schema, results_to_batch};
