//! A person in the sandbox registry, and loading people from files.

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use glair_vision::{Field, ValidationError, VerificationRequest};
use serde::{Deserialize, Serialize};

use crate::SandboxError;

/// One person: the 16 wire fields (at least `nik`), stored in wire form.
/// Serialises as a map of wire names, like a request. `Debug` hides the values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "VerificationRequest", into = "VerificationRequest")]
pub struct Record(VerificationRequest);

impl Record {
    /// Validates and normalises a person (NIK required, every field as a client would send it).
    pub fn new(fields: VerificationRequest) -> Result<Record, ValidationError> {
        fields.normalized().map(Record)
    }

    pub fn get(&self, field: Field) -> Option<&str> {
        self.0.get(field)
    }

    pub fn nik(&self) -> &str {
        self.0.nik()
    }

    /// The fields that are set, in documentation order.
    pub fn fields(&self) -> impl Iterator<Item = (Field, &str)> + '_ {
        self.0.fields()
    }

    /// The person as a request that matches every field.
    pub fn as_request(&self) -> &VerificationRequest {
        &self.0
    }
}

impl TryFrom<VerificationRequest> for Record {
    type Error = ValidationError;
    fn try_from(fields: VerificationRequest) -> Result<Record, ValidationError> {
        Record::new(fields)
    }
}

impl From<Record> for VerificationRequest {
    fn from(r: Record) -> VerificationRequest {
        r.0
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Record({:?})", self.0)
    }
}

/// The documented fixture people, always in the registry.
pub fn fixtures() -> &'static [Record] {
    static FIXTURES: OnceLock<Vec<Record>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        parse_records_json(include_str!("../data/fixtures.json")).expect("fixtures are valid")
    })
}

/// Reads a JSON array of person objects keyed by wire field names.
pub fn parse_records_json(text: &str) -> Result<Vec<Record>, SandboxError> {
    let values: Vec<serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| SandboxError::Records(format!("expected a JSON array of objects: {e}")))?;
    values.into_iter().enumerate().map(|(i, v)| from_json_value(v, &format!("record {}", i + 1))).collect()
}

/// Loads people from a `.jsonl`/`.ndjson` (one object a line), `.json` (an array) or
/// `.csv` file (a header of wire field names; empty cells are unset).
pub fn load_records(path: &Path) -> Result<Vec<Record>, SandboxError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let read = || {
        std::fs::read_to_string(path)
            .map_err(|e| SandboxError::Records(format!("cannot read {}: {e}", path.display())))
    };
    match ext.as_str() {
        "csv" => load_csv(path),
        "json" => parse_records_json(&read()?),
        "jsonl" | "ndjson" => read()?
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                let at = format!("line {}", i + 1);
                let value = serde_json::from_str(line)
                    .map_err(|e| SandboxError::Records(format!("{at}: not JSON: {e}")))?;
                from_json_value(value, &at)
            })
            .collect(),
        _ => Err(SandboxError::Records(format!(
            "{}: unknown format, use .csv, .json or .jsonl",
            path.display()
        ))),
    }
}

fn from_json_value(value: serde_json::Value, at: &str) -> Result<Record, SandboxError> {
    let fields: VerificationRequest =
        serde_json::from_value(value).map_err(|e| SandboxError::Records(format!("{at}: {e}")))?;
    Record::new(fields).map_err(|e| SandboxError::Records(format!("{at}: {e}")))
}

fn load_csv(path: &Path) -> Result<Vec<Record>, SandboxError> {
    let err = |e: &dyn fmt::Display| SandboxError::Records(format!("{}: {e}", path.display()));
    let mut reader = csv::Reader::from_path(path).map_err(|e| err(&e))?;
    let header: Vec<Field> = reader
        .headers()
        .map_err(|e| err(&e))?
        .iter()
        .map(|h| Field::from_wire_name(h.trim()).ok_or_else(|| err(&format!("unknown column `{h}`"))))
        .collect::<Result<_, _>>()?;
    let mut records = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| err(&e))?;
        let mut fields = VerificationRequest::default();
        for (field, cell) in header.iter().zip(row.iter()) {
            if !cell.trim().is_empty() {
                fields.set(*field, cell);
            }
        }
        records.push(Record::new(fields).map_err(|e| err(&format!("row {}: {e}", i + 1)))?);
    }
    Ok(records)
}
