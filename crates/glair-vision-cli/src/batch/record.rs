//! One row's result as `batch` writes it (a JSONL line or a CSV row) and reads it
//! back (resume, `--retry-errors`, `--dedupe`).

use glair_vision::tables::{Outcome, ResultRow, RESULT_COLUMNS};
use glair_vision::{ErrorKind, Field, FieldResults, Verification};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::args::OutputFormat;
use crate::output::ErrorJson;

/// How a row ended, with what the output shows of it. Holds statuses, reasons and
/// request ids only: never a credential, a NIK or a name.
#[derive(Clone, Debug, PartialEq)]
pub struct RowResult {
    pub outcome: Outcome,
    pub verification_status: Option<bool>,
    pub reason: Option<String>,
    pub fields: FieldResults,
    /// The API's `Request-Id` (of the answer, or of the error's answer).
    pub request_id: Option<String>,
    pub error: Option<ErrorJson>,
}

impl RowResult {
    pub fn from_verification(v: &Verification) -> RowResult {
        RowResult {
            outcome: if v.verification_status { Outcome::Verified } else { Outcome::NotVerified },
            verification_status: Some(v.verification_status),
            reason: Some(v.reason.clone()),
            fields: v.result,
            request_id: v.request_id.clone(),
            error: None,
        }
    }

    pub fn from_error(e: ErrorJson) -> RowResult {
        RowResult {
            outcome: Outcome::Error,
            verification_status: None,
            reason: e.reason.clone(),
            fields: FieldResults::default(),
            request_id: e.request_id.clone(),
            error: Some(e),
        }
    }

    pub fn error_kind(&self) -> Option<&'static str> {
        self.error.as_ref().map(|e| e.kind)
    }

    /// The row of the shared result schema (the CSV columns after `row`).
    pub fn result_row(&self) -> ResultRow<'_> {
        ResultRow {
            outcome: self.outcome,
            verification_status: self.verification_status,
            reason: self.reason.as_deref(),
            fields: self.fields,
            error_kind: self.error.as_ref().and_then(|e| ErrorKind::from_code(e.kind)),
            error_message: self.error.as_ref().map(|e| e.message.clone()),
            request_id: self.request_id.as_deref(),
        }
    }
}

/// Whether a recorded error kind is one `--retry-errors` calls again.
pub fn is_retryable_kind(kind: &str) -> bool {
    ErrorKind::from_code(kind).is_some_and(ErrorKind::is_retryable)
}

/// The shape of the output file: its format, the kept columns, and whether lines
/// carry `duplicate_of` (a CSV column only with `--dedupe`).
#[derive(Clone, Debug)]
pub struct Layout {
    pub format: OutputFormat,
    pub keep: Vec<String>,
    pub dedupe: bool,
}

/// One output line: a row, its kept values and its result.
pub struct Entry<'a> {
    pub row: u64,
    pub duplicate_of: Option<u64>,
    pub keep: &'a [Value],
    pub client_request_id: Option<&'a str>,
    pub result: &'a RowResult,
}

impl Layout {
    /// The CSV header: kept columns, `row`, `duplicate_of` (with --dedupe), then the
    /// result columns.
    pub fn csv_header(&self) -> Vec<&str> {
        let mut h: Vec<&str> = self.keep.iter().map(String::as_str).collect();
        h.push("row");
        if self.dedupe {
            h.push("duplicate_of");
        }
        h.extend(RESULT_COLUMNS);
        h
    }

    /// The CSV header line (with its newline); nothing for JSONL.
    pub fn header_line(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.format == OutputFormat::Csv {
            let mut w =
                csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(&mut out);
            w.write_record(self.csv_header()).expect("writes to memory");
            w.flush().expect("writes to memory");
        }
        out
    }

    /// A kept column named like an output column would make the CSV ambiguous.
    pub fn check(&self) -> Result<(), String> {
        if self.format == OutputFormat::Csv {
            let fixed = ["row", "duplicate_of"];
            if let Some(k) =
                self.keep.iter().find(|k| fixed.contains(&k.as_str()) || RESULT_COLUMNS.contains(&k.as_str()))
            {
                return Err(format!("--keep `{k}`: the CSV output has a column of that name already"));
            }
        }
        Ok(())
    }

    /// Appends one complete line (with its newline) to `out`.
    pub fn encode(&self, entry: &Entry<'_>, out: &mut Vec<u8>) {
        match self.format {
            // A Parquet output's lines go to its JSONL journal.
            OutputFormat::Jsonl | OutputFormat::Parquet => {
                serde_json::to_writer(&mut *out, &JsonLine::new(self, entry)).expect("serialisable");
                out.push(b'\n');
            }
            OutputFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::Any(b'\n'))
                    .buffer_capacity(1024)
                    .from_writer(out);
                w.write_record(self.csv_cells(entry)).expect("writes to memory");
                w.flush().expect("writes to memory");
            }
        }
    }

    fn csv_cells(&self, e: &Entry<'_>) -> Vec<String> {
        let cell = |b: Option<bool>| b.map_or(String::new(), |b| b.to_string());
        let mut cells: Vec<String> = e.keep.iter().map(kept_text).collect();
        cells.push(e.row.to_string());
        if self.dedupe {
            cells.push(e.duplicate_of.map_or(String::new(), |r| r.to_string()));
        }
        let r = e.result.result_row();
        cells.push(r.outcome.as_str().to_owned());
        cells.push(cell(r.verification_status));
        cells.push(r.reason.unwrap_or_default().to_owned());
        cells.extend(r.field_values().map(cell));
        cells.push(r.error_kind.map_or("", ErrorKind::code).to_owned());
        // One line per row: a message never spans lines.
        cells.push(r.error_message.as_deref().map(crate::output::one_line).unwrap_or_default());
        cells.push(r.request_id.unwrap_or_default().to_owned());
        debug_assert_eq!(cells.len(), self.csv_header().len());
        cells
    }

    /// The row number and result of a JSONL line; `None` if it is not one of ours.
    pub fn parse_json(line: &[u8]) -> Option<(u64, RowResult)> {
        let seen: SeenLine = serde_json::from_slice(line).ok()?;
        let outcome = Outcome::from_code(&seen.outcome)?;
        if seen.row < 1 {
            return None;
        }
        let error = seen.error.map(|e| ErrorJson {
            kind: static_kind(e.kind.as_deref()),
            status: e.status,
            reason: e.reason,
            request_id: e.request_id,
            client_request_id: e.client_request_id,
            retry_after: e.retry_after,
            field: e.field,
            message: e.message.unwrap_or_default(),
        });
        if outcome == Outcome::Error && error.is_none() {
            return None;
        }
        let result = RowResult {
            outcome,
            verification_status: seen.verification_status,
            reason: seen.reason.or_else(|| error.as_ref().and_then(|e| e.reason.clone())),
            fields: seen.result,
            request_id: seen.request_id.or_else(|| error.as_ref().and_then(|e| e.request_id.clone())),
            error,
        };
        Some((seen.row, result))
    }

    /// The row number and result of a CSV record laid out by [`Layout::csv_header`].
    pub fn parse_csv(&self, record: &csv::StringRecord) -> Option<(u64, RowResult)> {
        if record.len() != self.csv_header().len() {
            return None;
        }
        let k = self.keep.len();
        let row: u64 = record.get(k)?.parse().ok().filter(|r| *r >= 1)?;
        let base = k + 1 + usize::from(self.dedupe);
        let at = |i: usize| record.get(base + i).unwrap_or_default();
        let opt = |i: usize| Some(at(i).to_owned()).filter(|s| !s.is_empty());
        let boolean = |i: usize| match at(i) {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(()),
        };
        let outcome = Outcome::from_code(at(0))?;
        let mut fields = FieldResults::default();
        for (n, field) in Field::ALL.into_iter().enumerate() {
            fields.set(field, boolean(3 + n).ok()?);
        }
        let error = match outcome {
            Outcome::Error => Some(ErrorJson {
                kind: static_kind(opt(19).as_deref()),
                reason: opt(2),
                request_id: opt(21),
                message: at(20).to_owned(),
                ..ErrorJson::validation(None, String::new())
            }),
            _ => None,
        };
        let result = RowResult {
            outcome,
            verification_status: boolean(1).ok()?,
            reason: opt(2),
            fields,
            request_id: opt(21),
            error,
        };
        Some((row, result))
    }
}

fn static_kind(kind: Option<&str>) -> &'static str {
    kind.and_then(ErrorKind::from_code).map_or("unknown", ErrorKind::code)
}

/// A kept value as CSV text: strings as they are, null as an empty cell, other
/// JSON values (from a JSONL input) as JSON.
fn kept_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Serialize)]
struct JsonLine<'a> {
    row: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate_of: Option<u64>,
    outcome: &'static str,
    /// The row's `--request-id-column` value, sent as `x-request-id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_request_id: Option<&'a str>,
    #[serde(flatten)]
    verification: Option<VerificationFields<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ErrorJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep: Option<Kept<'a>>,
}

impl<'a> JsonLine<'a> {
    fn new(layout: &'a Layout, e: &Entry<'a>) -> JsonLine<'a> {
        let r = e.result;
        JsonLine {
            row: e.row,
            duplicate_of: e.duplicate_of,
            outcome: r.outcome.as_str(),
            client_request_id: e.client_request_id,
            verification: r.verification_status.map(|status| VerificationFields {
                verification_status: status,
                reason: r.reason.as_deref().unwrap_or_default(),
                result: &r.fields,
                request_id: r.request_id.as_deref(),
            }),
            error: r.error.as_ref(),
            keep: (!layout.keep.is_empty()).then_some(Kept { names: &layout.keep, values: e.keep }),
        }
    }
}

/// A verification's fields in a line (its client id is the line's own).
#[derive(Serialize)]
struct VerificationFields<'a> {
    verification_status: bool,
    reason: &'a str,
    result: &'a FieldResults,
    request_id: Option<&'a str>,
}

/// `"keep": {"customer_id": ...}` in the caller's order.
struct Kept<'a> {
    names: &'a [String],
    values: &'a [Value],
}

impl Serialize for Kept<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.names.len()))?;
        for (i, name) in self.names.iter().enumerate() {
            map.serialize_entry(name, self.values.get(i).unwrap_or(&Value::Null))?;
        }
        map.end()
    }
}

#[derive(Deserialize)]
struct SeenLine {
    row: u64,
    outcome: String,
    verification_status: Option<bool>,
    reason: Option<String>,
    #[serde(default)]
    result: FieldResults,
    request_id: Option<String>,
    error: Option<SeenError>,
}

#[derive(Deserialize)]
struct SeenError {
    kind: Option<String>,
    status: Option<u16>,
    reason: Option<String>,
    request_id: Option<String>,
    client_request_id: Option<String>,
    retry_after: Option<f64>,
    field: Option<String>,
    message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified() -> RowResult {
        let mut fields = FieldResults::default();
        fields.set(Field::Nik, Some(true));
        fields.set(Field::Name, Some(false));
        RowResult {
            outcome: Outcome::NotVerified,
            verification_status: Some(false),
            reason: Some("Name, does not match".into()),
            fields,
            request_id: Some("r-1".into()),
            error: None,
        }
    }

    fn failed() -> RowResult {
        RowResult::from_error(ErrorJson {
            kind: "rate_limited",
            status: Some(429),
            request_id: Some("r-2".into()),
            message: "rate limited: 429\nTry later".into(),
            ..ErrorJson::validation(None, String::new())
        })
    }

    fn line(layout: &Layout, row: u64, result: &RowResult) -> Vec<u8> {
        let keep = vec![Value::String("C,1".into()); layout.keep.len()];
        let mut out = Vec::new();
        let entry = Entry { row, duplicate_of: Some(1), keep: &keep, client_request_id: None, result };
        layout.encode(&entry, &mut out);
        out
    }

    #[test]
    fn json_lines_round_trip() {
        let layout = Layout { format: OutputFormat::Jsonl, keep: vec!["cid".into()], dedupe: true };
        for r in [verified(), failed()] {
            let bytes = line(&layout, 7, &r);
            assert!(bytes.ends_with(b"\n"));
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(v["keep"]["cid"], "C,1");
            assert_eq!(v["duplicate_of"], 1);
            assert_eq!(Layout::parse_json(&bytes).unwrap(), (7, r));
        }
        assert!(Layout::parse_json(b"{\"row\":0,\"outcome\":\"verified\"}").is_none());
        assert!(Layout::parse_json(b"{\"row\":1,\"outcome\":\"error\"}").is_none());
        assert!(is_retryable_kind("rate_limited") && !is_retryable_kind("validation"));
    }

    #[test]
    fn csv_rows_follow_the_shared_columns_and_round_trip() {
        let layout = Layout { format: OutputFormat::Csv, keep: vec!["cid".into()], dedupe: true };
        let header = layout.csv_header();
        assert_eq!(&header[..3], ["cid", "row", "duplicate_of"]);
        assert_eq!(&header[3..], RESULT_COLUMNS);
        for r in [verified(), failed()] {
            let bytes = line(&layout, 9, &r);
            assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1, "one line per row");
            let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(&bytes[..]);
            let record = reader.records().next().unwrap().unwrap();
            assert_eq!(&record[0], "C,1");
            let (row, back) = layout.parse_csv(&record).unwrap();
            assert_eq!(row, 9);
            assert_eq!(back.outcome, r.outcome);
            assert_eq!(back.fields, r.fields);
            assert_eq!(back.request_id, r.request_id);
            assert_eq!(back.error_kind(), r.error_kind());
        }
        let bad = Layout { format: OutputFormat::Csv, keep: vec!["outcome".into()], dedupe: false };
        assert!(bad.check().is_err());
    }
}
