//! Outcomes to result batches: the kept input arrays, then the result columns.

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field as ArrowField, FieldRef, Schema, SchemaRef};

use crate::error::Error;
use crate::field::Field;
use crate::response::Verification;
use crate::tables::{ResolvedColumns, ResultRow, RESULT_COLUMNS};

/// The result table's schema for an input schema: the kept columns as they are
/// in the input, then [`RESULT_COLUMNS`] (text, booleans, text; all nullable).
/// The input's schema metadata (pandas' index description, say) is not carried
/// over: it describes columns the result may not have.
pub fn result_schema(input: &Schema, resolved: &ResolvedColumns) -> SchemaRef {
    let mut fields: Vec<FieldRef> = resolved.keep.iter().map(|&i| input.fields()[i].clone()).collect();
    fields.extend(RESULT_COLUMNS.iter().enumerate().map(|(i, name)| {
        let boolean = i == 1 || (3..3 + Field::ALL.len()).contains(&i);
        let data_type = if boolean { DataType::Boolean } else { DataType::Utf8 };
        Arc::new(ArrowField::new(*name, data_type, true))
    }));
    Arc::new(Schema::new(fields))
}

/// The result batch of `input`'s rows: `results[i]` is row `i`'s outcome.
///
/// # Panics
/// When `results` does not have one outcome per input row, or `input` is not
/// the batch `resolved` was resolved for.
pub fn results_to_batch(
    input: &RecordBatch,
    resolved: &ResolvedColumns,
    results: &[Result<Verification, Error>],
) -> RecordBatch {
    assert_eq!(results.len(), input.num_rows(), "one outcome per input row");
    let rows: Vec<ResultRow<'_>> = results.iter().map(ResultRow::from_result).collect();
    let text = |value: &dyn for<'r> Fn(&'r ResultRow<'_>) -> Option<&'r str>| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 8);
        for row in &rows {
            b.append_option(value(row));
        }
        Arc::new(b.finish())
    };
    let boolean = |value: &dyn Fn(&ResultRow<'_>) -> Option<bool>| -> ArrayRef {
        let mut b = BooleanBuilder::with_capacity(rows.len());
        for row in &rows {
            b.append_option(value(row));
        }
        Arc::new(b.finish())
    };

    let mut columns: Vec<ArrayRef> = resolved.keep.iter().map(|&i| input.column(i).clone()).collect();
    columns.push(text(&|r| Some(r.outcome.as_str())));
    columns.push(boolean(&|r| r.verification_status));
    columns.push(text(&|r| r.reason));
    for field in Field::ALL {
        columns.push(boolean(&|r| r.fields.get(field)));
    }
    columns.push(text(&|r| r.error_kind.map(|k| k.code())));
    columns.push(text(&|r| r.error_message.as_deref()));
    columns.push(text(&|r| r.request_id));
    RecordBatch::try_new(result_schema(input.schema_ref(), resolved), columns)
        .expect("result columns match the result schema")
}
