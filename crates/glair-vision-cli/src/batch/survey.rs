//! A first pass over the input, offline: which rows are valid, why the others are
//! not, and which valid rows repeat an earlier record (for `--dry-run` and
//! `--dedupe`). The counting is the core's (`glair_vision::survey`); this reads
//! the CLI's rows into it.

use glair_vision::survey::{Duplicates, Survey, Surveyor};
use glair_vision::VerificationRequest;

use crate::batch::input::{InputRow, RowReader};

/// Why a row would fail before being sent, as (field, reason); else its
/// normalised request. A cell the reader could not read is its own reason.
pub fn check(row: &InputRow) -> Result<VerificationRequest, (String, String)> {
    let request = row
        .request
        .as_ref()
        .map_err(|e| (e.field.clone().unwrap_or_else(|| "(row)".into()), e.message.clone()))?;
    glair_vision::survey::check(Ok(request), row.request_id.as_deref())
}

/// Reads every row once. `skip` names rows a real run would not send (already done);
/// `dedupe` says whether duplicates would be sent; `pairs` whether to keep which row
/// each duplicate repeats.
pub fn survey(
    mut reader: RowReader,
    skip: impl Fn(u64) -> bool,
    dedupe: bool,
    pairs: bool,
) -> Result<(Survey, Duplicates), String> {
    let mut s = Surveyor::new(dedupe, pairs);
    while let Some(row) = reader.next(|_| false) {
        let row = row?;
        s.add(row.row, check(&row), skip(row.row));
    }
    Ok(s.finish())
}
