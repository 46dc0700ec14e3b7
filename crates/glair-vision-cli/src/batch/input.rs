//! Reading the input one row at a time (never whole), CSV, JSONL or Parquet: one
//! file, or the part files of a folder (or of an object-store prefix, copied here
//! by `stage`) read in name order as one table, rows numbered across them.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use glair_vision::tables::{ColumnMapping, ResolvedColumns};
use glair_vision::{Field, VerificationRequest};
use serde_json::Value;

use crate::args::InputFormat;
use crate::batch::columnar::ParquetRows;
use crate::output::ErrorJson;

/// One data row: its 1-based number, the request (or why it could not be read),
/// its correlation id from `--request-id-column` (empty means none), and the values
/// of the `--keep` columns, in that order (null where a row lacks one).
pub struct InputRow {
    pub row: u64,
    pub request: Result<VerificationRequest, ErrorJson>,
    pub request_id: Option<String>,
    pub keep: Vec<Value>,
}

/// What the user said about the columns (`--map`, `--keep`, `--request-id-column`,
/// `--ignore-unknown`), resolved by the core's [`ColumnMapping`].
#[derive(Clone, Debug, Default)]
pub struct Columns {
    map: Vec<(String, Field)>,
    /// The kept names, in the order asked for: the output's names for them.
    pub keep: Vec<String>,
    request_id: Option<String>,
    ignore_unknown: bool,
}

impl Columns {
    /// Parses `--map SRC=FIELD` pairs; a bad field name or pair is a usage error.
    pub fn new(
        map: &[String],
        keep: &[String],
        request_id: Option<&str>,
        ignore_unknown: bool,
    ) -> Result<Columns, String> {
        let mut pairs = Vec::with_capacity(map.len());
        for pair in map.iter().filter(|p| !p.trim().is_empty()) {
            let (source, field) = pair
                .split_once('=')
                .ok_or_else(|| format!("--map `{}`: expected SOURCE=FIELD", pair.trim()))?;
            // The core parses the field name and, if it is none, lists the ones there are.
            if let Err(e) = ColumnMapping::new().map_named(source.trim(), field) {
                return Err(format!("--map `{}`: {}", pair.trim(), message(&e)));
            }
            let field = Field::from_wire_name(field.trim()).expect("map_named accepted it");
            pairs.push((source.trim().to_owned(), field));
        }
        let keep: Vec<String> = keep.iter().map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect();
        Ok(Columns { map: pairs, keep, request_id: request_id.map(|c| c.trim().to_owned()), ignore_unknown })
    }

    /// The mapping for a table whose columns are all known (a Parquet schema).
    #[cfg(feature = "parquet")]
    pub fn mapping_all(&self) -> ColumnMapping {
        self.mapping(|_| true)
    }

    /// The mapping, with only the `--map` sources that `present` says exist (a JSONL
    /// line names only the keys it has).
    fn mapping(&self, present: impl Fn(&str) -> bool) -> ColumnMapping {
        let mut m = ColumnMapping::new().ignore_unknown(self.ignore_unknown);
        for (source, field) in self.map.iter().filter(|(s, _)| present(s)) {
            m = m.map(source.clone(), *field);
        }
        for k in &self.keep {
            m = m.keep(k.clone());
        }
        if let Some(id) = &self.request_id {
            m = m.request_id_column(id.clone());
        }
        m
    }

    /// Resolves a CSV header: a refusal is a usage error naming the columns.
    pub fn resolve(&self, header: &[&str]) -> Result<ResolvedColumns, String> {
        self.mapping(|_| true).resolve(header.iter().copied()).map_err(|e| message(&e))
    }

    /// Resolves one JSONL object's keys. Kept and id keys a line lacks, and a `nik`
    /// key when nothing feeds `nik`, are added as absent (null) columns after the
    /// line's own: a missing key is an unset value, not a refusal.
    fn resolve_keys(&self, keys: &[&str]) -> Result<(ResolvedColumns, usize), String> {
        let has = |name: &str| keys.iter().any(|k| k.trim() == name);
        let mut header: Vec<&str> = keys.to_vec();
        let own = header.len();
        for name in self.keep.iter().chain(&self.request_id) {
            if !has(name) && !header.contains(&name.as_str()) {
                header.push(name);
            }
        }
        let feeds_nik = self.map.iter().any(|(s, f)| *f == Field::Nik && has(s))
            || keys.iter().any(|k| {
                k.trim().eq_ignore_ascii_case("nik") && !self.map.iter().any(|(s, _)| s == k.trim())
            });
        if !feeds_nik {
            header.push("nik");
        }
        let resolved = self.mapping(has).resolve(header).map_err(|e| message(&e))?;
        Ok((resolved, own))
    }
}

fn message(e: &glair_vision::Error) -> String {
    match e {
        glair_vision::Error::Configuration(m) => m.clone(),
        other => other.to_string(),
    }
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
        "parquet" | "pq" => Ok(InputFormat::Parquet),
        _ => Err(format!(
            "{}: cannot tell the format from the extension; name it .csv, .jsonl or .parquet, or pass --format",
            path.display()
        )),
    }
}

/// A streaming reader of data rows over the input's part files, in order: a part's
/// rows are numbered after the rows of the parts before it.
pub struct RowReader {
    parts: Vec<PathBuf>,
    format: InputFormat,
    columns: Columns,
    /// The part being read, and how many rows the parts before it held.
    current: Option<FileRows>,
    next_part: usize,
    offset: u64,
}

/// A streaming reader of the data rows of one file.
enum FileRows {
    Csv { reader: csv::Reader<File>, columns: ResolvedColumns, record: csv::ByteRecord, row: u64 },
    Parquet(Box<ParquetRows>),
    Jsonl { reader: BufReader<File>, buf: Vec<u8>, row: u64, columns: Columns, cache: KeyCache },
}

/// The last JSONL key list and its resolution: lines of one file nearly always
/// share their keys, so each line costs one comparison, not a resolution.
#[derive(Default)]
pub struct KeyCache {
    keys: Vec<String>,
    resolved: Option<Result<(ResolvedColumns, usize), String>>,
}

fn open_file(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn csv_reader(file: File) -> csv::Reader<File> {
    // Lengths are checked per row, so one short row is a row error, not the end.
    csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(file)
}

impl RowReader {
    /// Opens the input's parts and resolves their columns: a CSV header, a Parquet
    /// schema or a first JSONL object's keys that the mapping refuses, in any part,
    /// is a usage error before anything is sent.
    pub fn open(parts: &[PathBuf], format: InputFormat, columns: &Columns) -> Result<RowReader, String> {
        // Every part but the first is checked here and opened again when reached:
        // a header costs a few reads, and no part's rows are held open meanwhile.
        for part in parts.iter().skip(1) {
            FileRows::open(part, format, columns)?;
        }
        let current = match parts.first() {
            Some(first) => Some(FileRows::open(first, format, columns)?),
            None => None,
        };
        Ok(RowReader {
            parts: parts.to_vec(),
            format,
            columns: columns.clone(),
            current,
            next_part: 1,
            offset: 0,
        })
    }

    /// The next row whose number `skip` does not claim (rows already done are not
    /// even converted). `None` at the end; `Some(Err)` when the input cannot be read.
    pub fn next(&mut self, skip: impl Fn(u64) -> bool) -> Option<Result<InputRow, String>> {
        loop {
            let rows = self.current.as_mut()?;
            let offset = self.offset;
            match rows.next(|row| skip(offset + row)) {
                Some(Ok(mut row)) => {
                    row.row += offset;
                    return Some(Ok(row));
                }
                Some(Err(e)) => return Some(Err(self.in_part(e))),
                None => {}
            }
            self.offset += rows.rows_read();
            self.current = None;
            let part = self.parts.get(self.next_part)?;
            self.next_part += 1;
            match FileRows::open(part, self.format, &self.columns) {
                Ok(rows) => self.current = Some(rows),
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// An error of a part names the part when there are several.
    fn in_part(&self, e: String) -> String {
        match self.parts.get(self.next_part - 1) {
            Some(part) if self.parts.len() > 1 => format!("{}: {e}", part.display()),
            _ => e,
        }
    }
}

impl FileRows {
    /// Opens one file and resolves its columns.
    fn open(path: &Path, format: InputFormat, columns: &Columns) -> Result<FileRows, String> {
        let file = open_file(path)?;
        match format {
            InputFormat::Jsonl => {
                check_first_line(path, columns)?;
                Ok(FileRows::Jsonl {
                    reader: BufReader::with_capacity(64 * 1024, file),
                    buf: Vec::new(),
                    row: 0,
                    columns: columns.clone(),
                    cache: KeyCache::default(),
                })
            }
            InputFormat::Parquet => Ok(FileRows::Parquet(Box::new(ParquetRows::open(path, file, columns)?))),
            InputFormat::Csv => {
                let mut reader = csv_reader(file);
                let header = reader
                    .byte_headers()
                    .map_err(|e| format!("{}: cannot read the header: {e}", path.display()))?;
                let names: Vec<String> =
                    header.iter().map(|h| String::from_utf8_lossy(h).into_owned()).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                let resolved = columns.resolve(&names).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(FileRows::Csv { reader, columns: resolved, record: csv::ByteRecord::new(), row: 0 })
            }
        }
    }

    /// The rows read so far (all of them once `next` has said `None`).
    fn rows_read(&self) -> u64 {
        match self {
            FileRows::Parquet(rows) => rows.rows_read(),
            FileRows::Csv { row, .. } | FileRows::Jsonl { row, .. } => *row,
        }
    }

    fn next(&mut self, skip: impl Fn(u64) -> bool) -> Option<Result<InputRow, String>> {
        match self {
            FileRows::Parquet(rows) => rows.next(skip),
            FileRows::Csv { reader, columns, record, row } => loop {
                match reader.read_byte_record(record) {
                    Ok(false) => return None,
                    Err(e) => return Some(Err(format!("cannot read row {}: {e}", *row + 1))),
                    Ok(true) => {
                        *row += 1;
                        if skip(*row) {
                            continue;
                        }
                        return Some(Ok(csv_row(*row, columns, record)));
                    }
                }
            },
            FileRows::Jsonl { reader, buf, row, columns, cache } => loop {
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
                        return Some(Ok(json_row(*row, buf, columns, cache)));
                    }
                }
            },
        }
    }
}

/// A JSONL input's first object must resolve (a wrong `--map`, a missing `nik`,
/// unknown keys): refused up front like a CSV header. Later lines that do not are
/// row errors.
fn check_first_line(path: &Path, columns: &Columns) -> Result<(), String> {
    let mut reader = BufReader::new(open_file(path)?);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(|e| format!("{}: {e}", path.display()))? == 0 {
            return Ok(());
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // An unreadable first line is that row's error, not a usage error.
        let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<Value>(&buf) else { return Ok(()) };
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        return columns.resolve_keys(&keys).map(drop).map_err(|e| format!("{} line 1: {e}", path.display()));
    }
}

/// Counts the data rows of every part (for progress and ETA), streaming.
pub fn count_rows(parts: &[PathBuf], format: InputFormat) -> Result<u64, String> {
    parts.iter().try_fold(0u64, |n, part| Ok(n + count_file_rows(part, format)?))
}

fn count_file_rows(path: &Path, format: InputFormat) -> Result<u64, String> {
    let file = open_file(path)?;
    let mut n = 0u64;
    match format {
        InputFormat::Parquet => n = crate::batch::columnar::count_rows(path, file)?,
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

/// The row's request (or why not), its correlation id and kept values, the last
/// two read even when the rest of the row is bad, so the row's error line carries them.
fn csv_row(row: u64, columns: &ResolvedColumns, record: &csv::ByteRecord) -> InputRow {
    let text = |i: usize| record.get(i).map(|cell| String::from_utf8_lossy(cell).into_owned());
    let request_id =
        columns.request_id.and_then(text).map(|id| id.trim().to_owned()).filter(|id| !id.is_empty());
    let keep = columns.keep.iter().map(|&i| text(i).map_or(Value::Null, Value::String)).collect();
    InputRow { row, request: csv_request(columns, record), request_id, keep }
}

fn csv_request(
    columns: &ResolvedColumns,
    record: &csv::ByteRecord,
) -> Result<VerificationRequest, ErrorJson> {
    if record.len() != columns.roles.len() {
        return Err(ErrorJson::validation(
            None,
            format!("row has {} cells but the header has {} columns", record.len(), columns.roles.len()),
        ));
    }
    let mut request = VerificationRequest::default();
    for (i, field) in columns.fields() {
        let cell = record.get(i).unwrap_or_default();
        let text = std::str::from_utf8(cell).map_err(|_| {
            ErrorJson::validation(Some(field.wire_name().into()), format!("invalid {field}: not valid UTF-8"))
        })?;
        if !text.trim().is_empty() {
            request.set(field, text);
        }
    }
    Ok(request)
}

/// A JSON object keyed by column names (wire names, `--map` sources, kept and id
/// keys); `null` and `""` are unset, whole numbers are taken as their digits
/// (`"rt": 1`). Messages never echo the values.
fn json_row(row: u64, line: &[u8], columns: &Columns, cache: &mut KeyCache) -> InputRow {
    let mut out = InputRow {
        row,
        request: Err(ErrorJson::validation(None, String::new())),
        request_id: None,
        keep: vec![Value::Null; columns.keep.len()],
    };
    out.request = json_request(line, columns, cache, &mut out);
    out
}

fn json_request(
    line: &[u8],
    columns: &Columns,
    cache: &mut KeyCache,
    out: &mut InputRow,
) -> Result<VerificationRequest, ErrorJson> {
    let value: Value = serde_json::from_slice(line)
        .map_err(|e| ErrorJson::validation(None, format!("row is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ErrorJson::validation(None, "row is not a JSON object".into()));
    };
    let entries: Vec<(String, Value)> = map.into_iter().collect();
    let same = cache.resolved.is_some()
        && cache.keys.len() == entries.len()
        && cache.keys.iter().zip(&entries).all(|(a, (b, _))| a == b);
    if !same {
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        cache.resolved = Some(columns.resolve_keys(&keys));
        cache.keys = entries.iter().map(|(k, _)| k.clone()).collect();
    }
    let (resolved, own) = match cache.resolved.as_ref().expect("set above") {
        Ok(r) => r,
        Err(e) => return Err(ErrorJson::validation(None, e.clone())),
    };
    let value_at = |i: usize| if i < *own { Some(&entries[i].1) } else { None };
    for (slot, &i) in out.keep.iter_mut().zip(&resolved.keep) {
        *slot = value_at(i).cloned().unwrap_or(Value::Null);
    }
    if let Some(i) = resolved.request_id {
        match value_at(i) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => out.request_id = Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Some(Value::Number(n)) => out.request_id = Some(n.to_string()),
            Some(_) => {
                return Err(ErrorJson::validation(
                    Some("request_id".into()),
                    format!("invalid request_id: `{}` must be a string", entries[i].0),
                ))
            }
        }
    }
    let mut request = VerificationRequest::default();
    for (i, field) in resolved.fields() {
        let text = match value_at(i) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()).filter(|s| !s.trim().is_empty()).map(str::to_owned),
            Some(Value::Number(n)) if n.is_u64() => Some(n.to_string()),
            Some(_) => {
                return Err(ErrorJson::validation(
                    Some(field.wire_name().into()),
                    format!("invalid {field}: must be a string"),
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

    fn cols(map: &[&str], keep: &[&str], id: Option<&str>, ignore: bool) -> Columns {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Columns::new(&own(map), &own(keep), id, ignore).unwrap()
    }

    fn csv(columns: &Columns, header: &[&str], cells: &[&str]) -> InputRow {
        let resolved = columns.resolve(header).unwrap();
        csv_row(1, &resolved, &csv::ByteRecord::from(cells.to_vec()))
    }

    #[test]
    fn map_and_keep_read_indonesian_headers() {
        let c = cols(&["nama=name", "tanggal_lahir=date_of_birth"], &["customer_id"], None, false);
        let row = csv(
            &c,
            &["customer_id", "nik", "nama", "tanggal_lahir"],
            &["C-1", "3171014508900001", "SITI", "05-08-1990"],
        );
        let req = row.request.unwrap();
        assert_eq!(req.get(Field::Name), Some("SITI"));
        assert_eq!(req.get(Field::DateOfBirth), Some("05-08-1990"));
        assert_eq!(row.keep, vec![Value::String("C-1".into())]);
        let err = c.resolve(&["customer_id", "nik", "nama", "tanggal_lahir", "kota", "hp"]).unwrap_err();
        assert!(err.contains("`kota`") && err.contains("`hp`"), "{err}");
        let bad = Columns::new(&["nama=nama".into()], &[], None, false).unwrap_err();
        assert!(bad.contains("not a field"), "{bad}");
        assert!(Columns::new(&["nama".into()], &[], None, false).unwrap_err().contains("SOURCE=FIELD"));
    }

    #[test]
    fn csv_cells_empty_means_unset_and_short_rows_keep_what_they_have() {
        let c = cols(&[], &["ref"], Some("ref"), false);
        let row = csv(&c, &["nik", "name", "rt", "ref"], &["3171014508900001", " ", "1", " order-1 "]);
        let req = row.request.unwrap();
        assert_eq!(req.get(Field::Name), None);
        assert_eq!(req.get(Field::Rt), Some("1"));
        assert_eq!(req.fields().count(), 2, "the id is not a field");
        assert_eq!(row.request_id.as_deref(), Some("order-1"));
        let row = csv(&c, &["ref", "nik", "name"], &["order-2", "1"]);
        assert_eq!(row.request.unwrap_err().kind, "validation");
        assert_eq!(row.keep, vec![Value::String("order-2".into())]);
        assert!(cols(&[], &[], Some("ref"), false).resolve(&["nik"]).unwrap_err().contains("`ref`"));
    }

    fn json(columns: &Columns, line: &[u8]) -> InputRow {
        json_row(1, line, columns, &mut KeyCache::default())
    }

    #[test]
    fn json_rows_are_typed_and_never_echo_values() {
        let c = Columns::default();
        let req = json(&c, br#"{"nik":"3171014508900001","name":null,"rt":1,"rw":""}"#).request.unwrap();
        assert_eq!(req.get(Field::Rt), Some("1"));
        assert_eq!(req.get(Field::Name), None);
        assert_eq!(req.get(Field::Rw), None);
        let err = json(&c, br#"{"nik":"3171014508900001","nama":"SITI"}"#).request.unwrap_err();
        assert!(err.message.contains("`nama`") && !err.message.contains("SITI"), "{}", err.message);
        let err = json(&c, br#"{"nik":3171014508900001.5}"#).request.unwrap_err();
        assert_eq!(err.field.as_deref(), Some("nik"));
        assert!(!err.message.contains("3171014508900001"));
        let err = json(&c, br#""3171014508900001""#).request.unwrap_err();
        assert!(!err.message.contains("3171014508900001"));
        assert!(json(&c, b"{not json").request.is_err());
        let req = json(&c, br#"{"name":"SITI"}"#).request.unwrap();
        assert_eq!(req.get(Field::Nik), None, "a missing nik is left to validation");
    }

    #[test]
    fn json_rows_take_mapped_kept_and_id_keys() {
        let c = cols(&["nama=name"], &["cid", "segment"], Some("ref"), false);
        let row = json(&c, br#"{"nik":"3171014508900001","nama":"SITI","cid":7,"ref":"order-1"}"#);
        assert_eq!(row.request.unwrap().get(Field::Name), Some("SITI"));
        assert_eq!(row.request_id.as_deref(), Some("order-1"));
        assert_eq!(row.keep, vec![serde_json::json!(7), Value::Null], "a missing kept key is null");
        let row = json(&c, br#"{"nik":"3171014508900001","ref":[1]}"#);
        assert_eq!(row.request.unwrap_err().field.as_deref(), Some("request_id"));
        let ignoring = cols(&[], &[], None, true);
        assert!(json(&ignoring, br#"{"nik":"3171014508900001","x":{}}"#).request.is_ok());
        // The cache follows a change of keys.
        let mut cache = KeyCache::default();
        let c = Columns::default();
        assert!(json_row(1, br#"{"nik":"3171014508900001"}"#, &c, &mut cache).request.is_ok());
        assert!(json_row(2, br#"{"nik":"3171014508900001","x":1}"#, &c, &mut cache).request.is_err());
        assert!(json_row(3, br#"{"nik":"3171014508900001"}"#, &c, &mut cache).request.is_ok());
    }
}
