//! Input cells to requests: which Arrow types a column may have, and how each
//! cell becomes the text the core validates.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type,
    UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema, TimeUnit};

use crate::date::Date;
use crate::error::{Error, ValidationError};
use crate::field::Field;
use crate::request::VerificationRequest;
use crate::tables::{ColumnMapping, ResolvedColumns, RESULT_COLUMNS};

/// One input row: its request (or why it cannot be sent), and its correlation id.
pub type RowRequest = (Result<VerificationRequest, Error>, Option<String>);

/// How a column's cells are read.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Kind {
    Null,
    Text,
    Integer,
    Float,
    /// Date32 / Date64: days or milliseconds since the epoch.
    Date,
    /// Seconds east of UTC of the timestamp's zone.
    Timestamp(TimeUnit, i32),
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn kind_of(t: &DataType) -> Option<Kind> {
    Some(match t {
        DataType::Null => Kind::Null,
        t if is_text(t) => Kind::Text,
        DataType::Dictionary(key, value) if key.is_dictionary_key_type() && is_text(value) => Kind::Text,
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Kind::Integer,
        DataType::Float32 | DataType::Float64 => Kind::Float,
        DataType::Date32 | DataType::Date64 => Kind::Date,
        DataType::Timestamp(unit, zone) => Kind::Timestamp(*unit, zone_offset(zone.as_deref())?),
        _ => return None,
    })
}

/// A timestamp zone's offset from UTC. Only zones without daylight saving time are
/// known without a time zone database: UTC, fixed offsets and Indonesia's three.
fn zone_offset(zone: Option<&str>) -> Option<i32> {
    let zone = match zone {
        None => return Some(0),
        Some(z) => z.trim(),
    };
    match zone {
        "UTC" | "Etc/UTC" | "Z" | "GMT" | "Etc/GMT" => return Some(0),
        "Asia/Jakarta" | "Asia/Pontianak" => return Some(7 * 3600),
        "Asia/Makassar" | "Asia/Ujung_Pandang" => return Some(8 * 3600),
        "Asia/Jayapura" => return Some(9 * 3600),
        _ => {}
    }
    // `+07:00`, `+0700`, `-03:30`.
    let (sign, rest) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || rest.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// Resolves an Arrow schema's column names against `mapping` and checks that every
/// column read can be read ([`check_schema`]).
pub fn resolve_schema(mapping: &ColumnMapping, schema: &Schema) -> Result<ResolvedColumns, Error> {
    let resolved = mapping.resolve(schema.fields().iter().map(|f| f.name().as_str()))?;
    check_schema(schema, &resolved)?;
    Ok(resolved)
}

/// Refuses, before anything is sent, a schema whose columns cannot be read as
/// [`resolve_schema`]'s `resolved` says (all such columns named with their types),
/// and kept columns that would clash with a result column's name.
pub fn check_schema(schema: &Schema, resolved: &ResolvedColumns) -> Result<(), Error> {
    if schema.fields().len() != resolved.roles.len() {
        return Err(Error::Configuration(format!(
            "the table has {} columns where {} were resolved",
            schema.fields().len(),
            resolved.roles.len()
        )));
    }
    let mut refused = Vec::new();
    for (i, role) in resolved.roles.iter().enumerate() {
        let column = &schema.fields()[i];
        let kind = kind_of(column.data_type());
        if let Some(field) = role.field {
            let fits = match kind {
                Some(Kind::Date | Kind::Timestamp(..)) => field == Field::DateOfBirth,
                Some(_) => true,
                None => false,
            };
            if !fits {
                refused.push(format!(
                    "`{}` (read into `{}`) has type {}",
                    column.name(),
                    field.wire_name(),
                    column.data_type()
                ));
            }
        }
        if role.request_id && !matches!(kind, Some(Kind::Null | Kind::Text | Kind::Integer)) {
            refused.push(format!("`{}` (the request id) has type {}", column.name(), column.data_type()));
        }
    }
    if !refused.is_empty() {
        return Err(Error::Configuration(format!(
            "cannot read column{} {}: fields take text, integers, whole floats or nulls, \
             `date_of_birth` also dates and timestamps (UTC, a fixed offset or an Indonesian zone); \
             the request id takes text or integers",
            if refused.len() == 1 { "" } else { "s" },
            refused.join(", ")
        )));
    }
    for &i in &resolved.keep {
        let name = schema.fields()[i].name();
        if RESULT_COLUMNS.contains(&name.as_str()) {
            return Err(Error::Configuration(format!(
                "kept column `{name}` has the name of a result column; rename it before keeping it"
            )));
        }
    }
    Ok(())
}

/// The requests of a batch, one per row: fields read as the module docs say, an
/// unreadable cell (a fraction in a whole-number field, a date outside years
/// 1-9999) failing its row only. The whole batch is refused as [`check_schema`]
/// refuses its schema.
pub fn requests_from_batch(
    batch: &RecordBatch,
    resolved: &ResolvedColumns,
) -> Result<Vec<RowRequest>, Error> {
    check_schema(batch.schema_ref(), resolved)?;
    let rows = batch.num_rows();
    let mut requests = vec![VerificationRequest::default(); rows];
    let mut problems: Vec<Option<ValidationError>> = vec![None; rows];
    // Fields in documentation order, so a row's first problem is the one reported,
    // as `VerificationRequest::normalized` does.
    let mut fields: Vec<(usize, Field)> = resolved.fields().collect();
    fields.sort_by_key(|(_, f)| *f);
    for (column, field) in fields {
        let cells = cells(batch.column(column).as_ref(), field)?;
        for (row, cell) in cells.into_iter().enumerate() {
            match cell {
                Ok(Some(text)) => requests[row].set(field, text),
                Ok(None) => {}
                Err(message) => {
                    problems[row].get_or_insert_with(|| ValidationError::new(field, message));
                }
            }
        }
    }
    let ids: Vec<Option<String>> = match resolved.request_id {
        Some(column) => {
            cells(batch.column(column).as_ref(), Field::Nik)?.into_iter().map(|c| c.ok().flatten()).collect()
        }
        None => vec![None; rows],
    };
    Ok(requests
        .into_iter()
        .zip(problems)
        .zip(ids)
        .map(|((request, problem), id)| match problem {
            Some(p) => (Err(Error::Validation(p)), id),
            None => (Ok(request), id),
        })
        .collect())
}

/// A cell: its text, unset, or why it cannot be read (a message naming no value).
type Cell = Result<Option<String>, &'static str>;

/// Reads every cell of a column as `field`'s text.
fn cells(array: &dyn Array, field: Field) -> Result<Vec<Cell>, Error> {
    let kind = kind_of(array.data_type()).ok_or_else(|| {
        Error::Configuration(format!("cannot read a column of type {} into `{field}`", array.data_type()))
    })?;
    let rows = array.len();
    Ok(match kind {
        Kind::Null => vec![Ok(None); rows],
        Kind::Text => text_cells(array)
            .into_iter()
            .map(|c| Ok(c.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)))
            .collect(),
        Kind::Integer => integer_cells(array).into_iter().map(|c| Ok(c.map(|n| n.to_string()))).collect(),
        Kind::Float => float_cells(array).into_iter().map(whole_number).collect(),
        Kind::Date => date_cells(array).into_iter().map(|d| d.map_or(Ok(None), date_text)).collect(),
        Kind::Timestamp(unit, offset) => {
            let per_second: i64 = match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            };
            let raw = timestamp_values(array);
            raw.into_iter()
                .map(|v| {
                    v.map_or(Ok(None), |t| {
                        let seconds = t.div_euclid(per_second) + i64::from(offset);
                        date_text(seconds.div_euclid(86_400))
                    })
                })
                .collect()
        }
    })
}

fn timestamp_values(array: &dyn Array) -> Vec<Option<i64>> {
    use arrow_array::types::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
    };
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            array.as_primitive::<TimestampSecondType>().iter().collect()
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            array.as_primitive::<TimestampMillisecondType>().iter().collect()
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            array.as_primitive::<TimestampMicrosecondType>().iter().collect()
        }
        _ => array.as_primitive::<TimestampNanosecondType>().iter().collect(),
    }
}

/// Days since the epoch of 0001-01-01 and 9999-12-31: the dates with a wire form.
const FIRST_DAY: i64 = -719_162;
const LAST_DAY: i64 = 2_932_896;

fn date_text(days: i64) -> Cell {
    if !(FIRST_DAY..=LAST_DAY).contains(&days) {
        return Err("is a date outside the years 1-9999");
    }
    Ok(Some(Date::from_days_since_epoch(days).to_dmy()))
}

fn date_cells(array: &dyn Array) -> Vec<Option<i64>> {
    use arrow_array::types::{Date32Type, Date64Type};
    match array.data_type() {
        DataType::Date32 => array.as_primitive::<Date32Type>().iter().map(|d| d.map(i64::from)).collect(),
        _ => {
            array.as_primitive::<Date64Type>().iter().map(|d| d.map(|ms| ms.div_euclid(86_400_000))).collect()
        }
    }
}

/// 2^63: floats at or beyond it have no i64 value.
const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;

fn whole_number(cell: Option<f64>) -> Cell {
    match cell {
        None => Ok(None),
        Some(v) if v.is_nan() => Ok(None),
        Some(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < I64_LIMIT => {
            Ok(Some((v as i64).to_string()))
        }
        Some(_) => Err("is a number that is not whole; give text or a whole number"),
    }
}

fn float_cells(array: &dyn Array) -> Vec<Option<f64>> {
    match array.data_type() {
        DataType::Float32 => array.as_primitive::<Float32Type>().iter().map(|v| v.map(f64::from)).collect(),
        _ => array.as_primitive::<Float64Type>().iter().collect(),
    }
}

fn integer_cells(array: &dyn Array) -> Vec<Option<i128>> {
    macro_rules! read {
        ($t:ty) => {
            array.as_primitive::<$t>().iter().map(|v| v.map(i128::from)).collect()
        };
    }
    match array.data_type() {
        DataType::Int8 => read!(Int8Type),
        DataType::Int16 => read!(Int16Type),
        DataType::Int32 => read!(Int32Type),
        DataType::Int64 => read!(Int64Type),
        DataType::UInt8 => read!(UInt8Type),
        DataType::UInt16 => read!(UInt16Type),
        DataType::UInt32 => read!(UInt32Type),
        _ => read!(UInt64Type),
    }
}

/// The cells of a text column (plain, large, view or dictionary-encoded).
fn text_cells(array: &dyn Array) -> Vec<Option<&str>> {
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
        DataType::Utf8View => array.as_string_view().iter().collect(),
        _ => {
            let dictionary = array.as_any_dictionary();
            let values = text_cells(dictionary.values().as_ref());
            dictionary
                .normalized_keys()
                .into_iter()
                .enumerate()
                .map(|(row, key)| if dictionary.keys().is_null(row) { None } else { values[key] })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_without_daylight_saving() {
        assert_eq!(zone_offset(None), Some(0));
        assert_eq!(zone_offset(Some("UTC")), Some(0));
        assert_eq!(zone_offset(Some("Asia/Jakarta")), Some(25_200));
        assert_eq!(zone_offset(Some("+07:00")), Some(25_200));
        assert_eq!(zone_offset(Some("-0330")), Some(-12_600));
        assert_eq!(zone_offset(Some("Europe/Berlin")), None);
        assert_eq!(zone_offset(Some("+7")), None);
        assert_eq!(zone_offset(Some("+25:00")), None);
    }

    #[test]
    fn whole_numbers_only() {
        assert_eq!(whole_number(Some(3171014508900001.0)), Ok(Some("3171014508900001".into())));
        assert_eq!(whole_number(Some(f64::NAN)), Ok(None));
        assert!(whole_number(Some(1.5)).is_err());
        assert!(whole_number(Some(f64::INFINITY)).is_err());
        assert!(whole_number(Some(1e300)).is_err());
    }

    #[test]
    fn dates_outside_the_wire_form_fail_the_row() {
        assert_eq!(date_text(0), Ok(Some("01-01-1970".into())));
        assert_eq!(date_text(FIRST_DAY), Ok(Some("01-01-0001".into())));
        assert_eq!(date_text(LAST_DAY), Ok(Some("31-12-9999".into())));
        assert!(date_text(LAST_DAY + 1).is_err() && date_text(FIRST_DAY - 1).is_err());
    }
}
