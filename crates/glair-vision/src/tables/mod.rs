//! Tables of records in, tables of results out: the pieces every tabular front
//! door shares (CLI CSV/Parquet, Python `verify_table`, Dask, Spark).
//!
//! - [`ColumnMapping`] decides what each input column is: a wire field (by name, or
//!   renamed with [`ColumnMapping::map`]), a column the caller keeps, the row's
//!   correlation id, or an unknown column (refused, with every such name listed,
//!   unless [`ColumnMapping::ignore_unknown`]).
//! - [`ResultRow`] is one row of the result schema, [`RESULT_COLUMNS`] its column
//!   names in order. Kept columns come first (the caller's, by name), then:
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `outcome` | text | `verified`, `not_verified` or `error` |
//! | `verification_status` | bool, null on error | every field sent matched |
//! | `reason` | text, nullable | the API's reason (also on API errors) |
//! | `result_nik` ... `result_rw` | bool, nullable | one per field, null when not sent or not checked |
//! | `error_kind` | text, nullable | [`crate::ErrorKind`] code (`rate_limited`, `validation`, ...) |
//! | `error_message` | text, nullable | never repeats an input value |
//! | `request_id` | text, nullable | the API's `Request-Id` |
//!
//! No NIK, name or other input value is ever copied into a result row: only a
//! column the caller keeps on purpose carries input data.
//!
//! With the `arrow` feature, [`arrow`] reads Arrow record batches into requests
//! and writes the results back as record batches, streamed in input order.

#[cfg(feature = "arrow")]
pub mod arrow;
mod columns;
mod result_row;

pub use columns::{ColumnMapping, ColumnRole, ResolvedColumns};
pub use result_row::{field_result_column, Outcome, ResultRow, RESULT_COLUMNS};
