//! Reading the input file one row at a time (never whole), CSV or JSONL.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use glair_vision::{Field, VerificationRequest};

use crate::args::InputFormat;
use crate::output::ErrorJson;

/// One data row: its 1-based number, the request (or why it could not be read),
/// and its correlation id from `--request-id-column` (empty means none).
pub struct InputRow {
    pub row: u64,
    pub request: Result<VerificationRequest, ErrorJson>,
    pub request_id: Option<String>,
}

/// What a CSV column holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Column {
    Field(Field),
    /// The `--request-id-column`.
    RequestId,
}

/// The format from `--format`, else from the file's extension.
pub fn detect_format(path: &Path, given: Option<InputFormat>) -> Result<InputFormat, String> {
    if let Some(f) = given {
        return Ok(f);
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "csv" => Ok(InputFormat::Csv),
        "jsonl" | "ndjson" => Ok(InputFormat::Jsonl),
        _ => Err(format!(
            "{}: cannot tell the format from the extension; name it .csv or .jsonl, or pass --format",
            path.display()
        )),
    }
}

/// A streaming reader of data rows.
pub enum RowReader {
    Csv { reader: csv::Reader<File>, header: Vec<Column>, record: csv::ByteRecord, row: u64 },
    Jsonl { reader: BufReader<File>, buf: Vec<u8>, row: u64, id_key: Option<String> },
}

fn open_file(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn csv_reader(file: File) -> csv::Reader<File> {
    // Lengths are checked per row, so one short row is a row error, not the end.
    csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(file)
}

impl RowReader {
    /// Opens the input and checks the CSV header (columns must be wire field names,
    /// `nik` among them, plus `id_column` if given): a bad header is a usage error
    /// before anything is sent.
    pub fn open(path: &Path, format: InputFormat, id_column: Option<&str>) -> Result<RowReader, String> {
        let file = open_file(path)?;
        match format {
            InputFormat::Jsonl => Ok(RowReader::Jsonl {
                reader: BufReader::with_capacity(64 * 1024, file),
                buf: Vec::new(),
                row: 0,
                id_key: id_column.map(str::to_owned),
            }),
            InputFormat::Csv => {
                let mut reader = csv_reader(file);
                let header = parse_header(
                    reader
                        .byte_headers()
                        .map_err(|e| format!("{}: cannot read the header: {e}", path.display()))?,
                    id_column,
                )
                .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(RowReader::Csv { reader, header, record: csv::ByteRecord::new(), row: 0 })
            }
        }
    }

    /// The next row whose number `skip` does not claim (rows already done are not
    /// even converted). `None` at the end; `Some(Err)` when the file cannot be read.
    pub fn next(&mut self, skip: impl Fn(u64) -> bool) -> Option<Result<InputRow, String>> {
        match self {
            RowReader::Csv { reader, header, record, row } => loop {
                match reader.read_byte_record(record) {
                    Ok(false) => return None,
                    Err(e) => return Some(Err(format!("cannot read row {}: {e}", *row + 1))),
                    Ok(true) => {
                        *row += 1;
                        if skip(*row) {
                            continue;
                        }
                        let (request, request_id) = csv_row(header, record);
                        return Some(Ok(InputRow { row: *row, request, request_id }));
                    }
                }
            },
            RowReader::Jsonl { reader, buf, row, id_key } => loop {
                buf.clear();
                match reader.read_until(b'\n', buf) {
                    Ok(0) => return None,
                    Err(e) => return Some(Err(format!("cannot read line after row {row}: {e}"))),
                    Ok(_) => {
                        if buf.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        *row += 1;
                        if skip(*row) {
                            continue;
                        }
                        let (request, request_id) = json_row(buf, id_key.as_deref());
                        return Some(Ok(InputRow { row: *row, request, request_id }));
                    }
                }
            },
        }
    }
}

/// Counts the data rows (for progress and ETA), streaming.
pub fn count_rows(path: &Path, format: InputFormat) -> Result<u64, String> {
    let file = open_file(path)?;
    let mut n = 0u64;
    match format {
        InputFormat::Csv => {
            let mut reader = csv_reader(file);
            let mut record = csv::ByteRecord::new();
            while reader.read_byte_record(&mut record).map_err(|e| format!("{}: {e}", path.display()))? {
                n += 1;
            }
        }
        InputFormat::Jsonl => {
            let mut reader = BufReader::with_capacity(64 * 1024, file);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                if reader.read_until(b'\n', &mut buf).map_err(|e| format!("{}: {e}", path.display()))? == 0 {
                    break;
                }
                if !buf.iter().all(u8::is_ascii_whitespace) {
                    n += 1;
                }
            }
        }
    }
    Ok(n)
}

fn parse_header(header: &csv::ByteRecord, id_column: Option<&str>) -> Result<Vec<Column>, String> {
    let mut fields = Vec::with_capacity(header.len());
    let mut has_id = false;
    for (i, raw) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(raw);
        let name = name.trim().trim_start_matches('\u{feff}').trim();
        if id_column.is_some_and(|c| c.trim() == name) {
            if has_id {
                return Err(format!("column `{name}` appears twice in the header"));
            }
            has_id = true;
            fields.push(Column::RequestId);
            continue;
        }
        let name = name.to_ascii_lowercase();
        let field = Field::from_wire_name(&name).ok_or_else(|| {
            format!(
                "column {} `{}` is not a field name; the header must use the wire names: {}",
                i + 1,
                name,
                Field::ALL.map(|f| f.wire_name()).join(", ")
            )
        })?;
        let column = Column::Field(field);
        if fields.contains(&column) {
            return Err(format!("column `{name}` appears twice in the header"));
        }
        fields.push(column);
    }
    if !fields.contains(&Column::Field(Field::Nik)) {
        return Err("the header has no `nik` column".into());
    }
    if let (Some(c), false) = (id_column, has_id) {
        return Err(format!("the header has no `{c}` column (--request-id-column)"));
    }
    Ok(fields)
}

/// The row's request (or why not) and its correlation id, read even when the rest
/// of the row is bad, so the row's error line carries it.
fn csv_row(
    header: &[Column],
    record: &csv::ByteRecord,
) -> (Result<VerificationRequest, ErrorJson>, Option<String>) {
    let request_id = header
        .iter()
        .position(|c| *c == Column::RequestId)
        .and_then(|i| record.get(i))
        .map(|cell| String::from_utf8_lossy(cell).trim().to_owned())
        .filter(|id| !id.is_empty());
    (csv_request(header, record), request_id)
}

fn csv_request(header: &[Column], record: &csv::ByteRecord) -> Result<VerificationRequest, ErrorJson> {
    if record.len() != header.len() {
        return Err(ErrorJson::validation(
            None,
            format!("row has {} cells but the header has {} columns", record.len(), header.len()),
        ));
    }
    let mut request = VerificationRequest::default();
    for (column, cell) in header.iter().zip(record.iter()) {
        let Column::Field(field) = column else { continue };
        let text = std::str::from_utf8(cell).map_err(|_| {
            ErrorJson::validation(Some(field.wire_name().into()), format!("invalid {field}: not valid UTF-8"))
        })?;
        if !text.trim().is_empty() {
            request.set(*field, text);
        }
    }
    Ok(request)
}

/// A JSON object keyed by wire names (and `id_key`, the correlation id); `null` and
/// `""` are unset, whole numbers are taken as their digits (`"rt": 1`). Messages
/// never echo the values.
fn json_row(line: &[u8], id_key: Option<&str>) -> (Result<VerificationRequest, ErrorJson>, Option<String>) {
    let mut request_id = None;
    let request = json_request(line, id_key, &mut request_id);
    (request, request_id)
}

fn json_request(
    line: &[u8],
    id_key: Option<&str>,
    request_id: &mut Option<String>,
) -> Result<VerificationRequest, ErrorJson> {
    let value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|e| ErrorJson::validation(None, format!("row is not valid JSON: {e}")))?;
    let serde_json::Value::Object(mut map) = value else {
        return Err(ErrorJson::validation(None, "row is not a JSON object".into()));
    };
    if let Some(key) = id_key {
        match map.remove(key) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(s)) => *request_id = Some(s).filter(|s| !s.is_empty()),
            Some(serde_json::Value::Number(n)) => *request_id = Some(n.to_string()),
            Some(_) => {
                return Err(ErrorJson::validation(
                    Some("request_id".into()),
                    format!("invalid request_id: `{key}` must be a string"),
                ))
            }
        }
    }
    let mut request = VerificationRequest::default();
    for (key, value) in map {
        let field = Field::from_wire_name(&key).ok_or_else(|| {
            ErrorJson::validation(
                Some(key.clone()),
                format!("unknown field `{key}`: keys must be wire field names"),
            )
        })?;
        let text = match value {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s).filter(|s| !s.trim().is_empty()),
            serde_json::Value::Number(n) if n.is_u64() => Some(n.to_string()),
            _ => {
                return Err(ErrorJson::validation(
                    Some(key.clone()),
                    format!("invalid {key}: must be a string"),
                ))
            }
        };
        if let Some(t) = text {
            request.set(field, t);
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_must_be_wire_names_with_nik() {
        let ok = parse_header(&csv::ByteRecord::from(vec!["\u{feff}nik", " Name ", "rt"]), None).unwrap();
        assert_eq!(ok, [Field::Nik, Field::Name, Field::Rt].map(Column::Field));
        let header = |cells: Vec<&str>| parse_header(&csv::ByteRecord::from(cells), None);
        assert!(header(vec!["nik", "nama"]).unwrap_err().contains("nama"));
        assert!(header(vec!["name"]).unwrap_err().contains("nik"));
        assert!(header(vec!["nik", "nik"]).unwrap_err().contains("twice"));
        let with_id = parse_header(&csv::ByteRecord::from(vec!["ref", "nik"]), Some("ref")).unwrap();
        assert_eq!(with_id, [Column::RequestId, Column::Field(Field::Nik)]);
        let missing = parse_header(&csv::ByteRecord::from(vec!["nik"]), Some("ref")).unwrap_err();
        assert!(missing.contains("`ref`"), "{missing}");
    }

    #[test]
    fn csv_cells_empty_means_unset() {
        let header = [Field::Nik, Field::Name, Field::Rt].map(Column::Field);
        let (req, id) = csv_row(&header, &csv::ByteRecord::from(vec!["3171014508900001", " ", "1"]));
        let req = req.unwrap();
        assert_eq!(req.get(Field::Name), None);
        assert_eq!(req.get(Field::Rt), Some("1"));
        assert_eq!(id, None);
        let err = csv_row(&header, &csv::ByteRecord::from(vec!["1", "2"])).0.unwrap_err();
        assert_eq!(err.kind, "validation");
        let header = [Column::Field(Field::Nik), Column::RequestId];
        let (req, id) = csv_row(&header, &csv::ByteRecord::from(vec!["3171014508900001", " order-1 "]));
        assert_eq!(req.unwrap().fields().count(), 1, "the id is not a field");
        assert_eq!(id.as_deref(), Some("order-1"));
    }

    #[test]
    fn json_rows_are_typed_and_never_echo_values() {
        let json_row = |line: &[u8]| json_row(line, None).0;
        let req = json_row(br#"{"nik":"3171014508900001","name":null,"rt":1,"rw":""}"#).unwrap();
        assert_eq!(req.get(Field::Rt), Some("1"));
        assert_eq!(req.get(Field::Name), None);
        assert_eq!(req.get(Field::Rw), None);
        let err = json_row(br#"{"nik":"3171014508900001","nama":"SITI"}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("nama"));
        let err = json_row(br#"{"nik":3171014508900001.5}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("nik"));
        assert!(!err.message.contains("3171014508900001"));
        let err = json_row(br#""3171014508900001""#).unwrap_err();
        assert!(!err.message.contains("3171014508900001"));
        assert!(json_row(b"{not json").is_err());
    }

    #[test]
    fn json_rows_take_the_request_id_key() {
        let (req, id) = json_row(br#"{"nik":"3171014508900001","ref":"order-1"}"#, Some("ref"));
        assert_eq!(req.unwrap().fields().count(), 1);
        assert_eq!(id.as_deref(), Some("order-1"));
        let (req, id) = json_row(br#"{"nik":"3171014508900001","ref":7}"#, Some("ref"));
        assert!(req.is_ok());
        assert_eq!(id.as_deref(), Some("7"));
        let (req, _) = json_row(br#"{"nik":"3171014508900001","ref":[1]}"#, Some("ref"));
        assert_eq!(req.unwrap_err().field.as_deref(), Some("request_id"));
        let (req, id) = json_row(br#"{"nik":"3171014508900001","ref":"x"}"#, None);
        assert_eq!(req.unwrap_err().field.as_deref(), Some("ref"), "an unknown key without the flag");
        assert_eq!(id, None);
    }
}
