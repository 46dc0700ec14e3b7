//! The offline pass over record batches ([`crate::survey`]): what
//! `verify_table(dry_run=True)` reports, read the way a real run reads the rows.

use arrow_array::RecordBatchReader;

use crate::error::Error;
use crate::survey::{check, Duplicates, Survey, Surveyor};
use crate::tables::arrow::{check_schema, requests_from_batch};
use crate::tables::ResolvedColumns;

/// Reads every row of `reader` once, offline. `skip` names rows (numbered from
/// 1, in input order) a real run would not send (already done); `dedupe`: a
/// real run would send each distinct record once; `pairs`: keep which row each
/// duplicate repeats. A schema a run would refuse is refused here the same way;
/// a row it would fail is counted as invalid.
pub fn survey_reader<R>(
    reader: R,
    resolved: &ResolvedColumns,
    skip: impl Fn(u64) -> bool,
    dedupe: bool,
    pairs: bool,
) -> Result<(Survey, Duplicates), Error>
where
    R: RecordBatchReader,
{
    check_schema(&reader.schema(), resolved)?;
    let mut surveyor = Surveyor::new(dedupe, pairs);
    let mut row = 0;
    for batch in reader {
        let batch =
            batch.map_err(|e| Error::Configuration(format!("reading the input table failed: {e}")))?;
        for (request, id) in requests_from_batch(&batch, resolved)? {
            row += 1;
            surveyor.add(row, check(request.as_ref(), id.as_deref()), skip(row));
        }
    }
    Ok(surveyor.finish())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch, RecordBatchIterator, StringArray};
    use arrow_schema::{DataType, Field as ArrowField, Schema};

    use super::*;
    use crate::tables::arrow::resolve_schema;
    use crate::tables::ColumnMapping;

    #[test]
    fn a_table_is_counted_as_a_run_would_send_it() {
        let schema = Arc::new(Schema::new(vec![
            ArrowField::new("nik", DataType::Utf8, true),
            ArrowField::new("nama", DataType::Utf8, true),
        ]));
        let column = |v: Vec<Option<&str>>| Arc::new(StringArray::from(v)) as ArrayRef;
        let batch =
            |niks, names| RecordBatch::try_new(schema.clone(), vec![column(niks), column(names)]).unwrap();
        let batches = vec![
            batch(vec![Some("3171014508900001"), Some("12345")], vec![Some("Siti"), None]),
            batch(
                vec![Some("3171 0145 0890 0001"), None, Some("3171014508900002")],
                vec![Some(" Siti"), None, None],
            ),
        ];
        let mapping = ColumnMapping::new().map_named("nama", "name").unwrap();
        let resolved = resolve_schema(&mapping, &schema).unwrap();
        let read = || RecordBatchIterator::new(batches.clone().into_iter().map(Ok), schema.clone());
        let (s, pairs) = survey_reader(read(), &resolved, |_| false, false, true).unwrap();
        assert_eq!((s.rows, s.valid, s.invalid_count(), s.duplicates, s.to_send), (5, 3, 2, 1, 3));
        assert_eq!(pairs.iter().collect::<Vec<_>>(), [(3, 1)]);
        let (s, pairs) = survey_reader(read(), &resolved, |row| row == 5, true, false).unwrap();
        assert_eq!(s.to_send, 1, "row 3 repeats row 1 and row 5 is done");
        assert!(pairs.is_empty(), "not asked for");
        // A column the mapping does not know is refused as a run refuses it.
        let bare = resolve_schema(&ColumnMapping::new().ignore_unknown(true), &schema).unwrap();
        assert!(survey_reader(read(), &bare, |_| false, false, false).is_ok());
        assert!(resolve_schema(&ColumnMapping::new(), &schema).is_err());
    }
}
