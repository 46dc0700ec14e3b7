//! Parquet in and out of `batch`, on the core's Arrow conversion
//! (`glair_vision::tables::arrow`).
//!
//! In: the file is read batch by batch (row group by row group, 1,024 rows at a
//! time), each batch's rows converted by the core into requests; kept columns
//! travel as JSON values (arrow-json), like a JSONL input's.
//!
//! Out: lines go, as they complete, to a JSONL journal beside the output
//! (`FILE.parquet.partial.jsonl`, the same resumable file as a JSONL output: a kill
//! loses nothing written, a re-run skips the rows it holds). When every row is
//! done the Parquet file is written from it in row order (an index of line
//! offsets, 8 bytes a row, and a read window: completions are nearly in order)
//! into `FILE.parquet.tmp`, synced, renamed over `FILE.parquet`, and the journal
//! removed. Columns: the kept ones (their input types; text from CSV/JSONL
//! input), `row`, `duplicate_of` (with `--dedupe`), then the core's result columns.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field as ArrowField, FieldRef, Schema, SchemaRef};
use glair_vision::tables::arrow::{requests_from_batch, resolve_schema, result_schema};
use glair_vision::tables::{ResolvedColumns, ResultRow};
use glair_vision::ErrorKind;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::batch::input::{Columns, InputRow};
use crate::batch::parquet_journal as journal_path;
use crate::batch::record::{Layout, RowResult};
use crate::output::ErrorJson;

/// This build reads and writes Parquet (`columnar_off.rs` is the build without).
pub fn supported() -> Result<(), String> {
    Ok(())
}

/// A Parquet output's columns, as `prepare_output` found them.
pub struct OutputSchema(SchemaRef);

/// Rows per batch read from the input.
const READ_BATCH: usize = 1024;
/// Rows per batch written to the output, and per row group: measured on 1,000,000
/// rows, larger ones cost the writer tens of MiB more peak memory (65,536-row groups
/// and 8,192-row batches: 84 MiB; these: 54 MiB).
const WRITE_BATCH: usize = 1024;
const ROW_GROUP: usize = 16 * 1024;

/// The rows of a Parquet input, one at a time.
pub struct ParquetRows {
    reader: ParquetRecordBatchReader,
    resolved: ResolvedColumns,
    queue: VecDeque<InputRow>,
    row: u64,
}

fn builder(path: &Path, file: File) -> Result<ParquetRecordBatchReaderBuilder<File>, String> {
    ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| format!("{}: not a readable Parquet file: {e}", path.display()))
}

pub fn count_rows(path: &Path, file: File) -> Result<u64, String> {
    let rows = builder(path, file)?.metadata().file_metadata().num_rows();
    Ok(u64::try_from(rows).unwrap_or(0))
}

/// The schema of a Parquet input (for the kept columns' types).
fn schema(path: &Path) -> Result<SchemaRef, String> {
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(builder(path, file)?.schema().clone())
}

impl ParquetRows {
    /// Resolves the file's schema as a CSV header is (plus the core's type checks):
    /// a refusal names the columns.
    pub fn open(path: &Path, file: File, columns: &Columns) -> Result<ParquetRows, String> {
        let builder = builder(path, file)?;
        let resolved = resolve_schema(&columns.mapping_all(), builder.schema()).map_err(|e| match e {
            glair_vision::Error::Configuration(m) => format!("{}: {m}", path.display()),
            other => format!("{}: {other}", path.display()),
        })?;
        let reader = builder
            .with_batch_size(READ_BATCH)
            .build()
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Ok(ParquetRows { reader, resolved, queue: VecDeque::new(), row: 0 })
    }

    /// The rows read so far, queued ones included.
    pub fn rows_read(&self) -> u64 {
        self.row
    }

    pub fn next(&mut self, skip: impl Fn(u64) -> bool) -> Option<Result<InputRow, String>> {
        loop {
            if let Some(row) = self.queue.pop_front() {
                return Some(Ok(row));
            }
            let batch = match self.reader.next()? {
                Ok(b) => b,
                Err(e) => return Some(Err(format!("cannot read the rows after row {}: {e}", self.row))),
            };
            let first = self.row + 1;
            self.row += batch.num_rows() as u64;
            if (first..=self.row).all(&skip) {
                continue; // done in an earlier run: not even converted
            }
            let requests = match requests_from_batch(&batch, &self.resolved) {
                Ok(r) => r,
                Err(e) => return Some(Err(e.to_string())),
            };
            let kept = match kept_values(&batch, &self.resolved.keep) {
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            for (i, ((request, request_id), keep)) in requests.into_iter().zip(kept).enumerate() {
                let row = first + i as u64;
                if !skip(row) {
                    let request = request.map_err(|e| ErrorJson::from_error(&e));
                    self.queue.push_back(InputRow { row, request, request_id, keep });
                }
            }
        }
    }
}

/// Each row's kept cells as JSON (dates and timestamps as ISO text, as arrow-json
/// writes them and reads them back).
fn kept_values(batch: &RecordBatch, keep: &[usize]) -> Result<Vec<Vec<Value>>, String> {
    if keep.is_empty() {
        return Ok(vec![Vec::new(); batch.num_rows()]);
    }
    let kept = batch.project(keep).map_err(|e| e.to_string())?;
    let mut writer = arrow_json::LineDelimitedWriter::new(Vec::new());
    writer.write(&kept).map_err(|e| format!("cannot read a kept column: {e}"))?;
    writer.finish().map_err(|e| e.to_string())?;
    let bytes = writer.into_inner();
    let names: Vec<&str> = kept.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
    let mut rows = Vec::with_capacity(batch.num_rows());
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let mut object: Map<String, Value> = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        rows.push(names.iter().map(|n| object.remove(*n).unwrap_or(Value::Null)).collect());
    }
    if rows.len() != batch.num_rows() {
        return Err("a kept column could not be written as JSON".into());
    }
    Ok(rows)
}

/// The output's columns: kept (as given), `row`, `duplicate_of` (with dedupe), results.
fn output_schema(kept: &[FieldRef], dedupe: bool) -> SchemaRef {
    let none = ResolvedColumns { roles: Vec::new(), keep: Vec::new(), request_id: None };
    let results = result_schema(&Schema::empty(), &none);
    let mut fields: Vec<FieldRef> = kept.to_vec();
    fields.push(Arc::new(ArrowField::new("row", DataType::UInt64, false)));
    if dedupe {
        fields.push(Arc::new(ArrowField::new("duplicate_of", DataType::UInt64, true)));
    }
    fields.extend(results.fields().iter().cloned());
    Arc::new(Schema::new(fields))
}

/// Kept columns of a CSV or JSONL input: text, nullable.
fn text_fields(names: &[String]) -> Vec<FieldRef> {
    names.iter().map(|n| Arc::new(ArrowField::new(n, DataType::Utf8, true))).collect()
}

/// The output's schema, or `None` when the output is already complete (it
/// exists, without its journal, with one row per input row). Kept columns keep
/// their types from a Parquet input, and are text from CSV or JSONL.
pub fn prepare_output(
    input: &Path,
    input_is_parquet: bool,
    keep: &[String],
    dedupe: bool,
    output: &Path,
    total: u64,
) -> Result<Option<OutputSchema>, String> {
    match existing_rows(output)? {
        Some(rows) if rows == total => return Ok(None),
        Some(rows) => {
            return Err(format!(
                "{} exists with {rows} rows, not the {total} of {}: use another --output or move it away",
                output.display(),
                input.display()
            ))
        }
        None => {}
    }
    let kept = if input_is_parquet {
        let schema = schema(input)?;
        keep.iter()
            .map(|name| {
                let clean = |n: &str| n.trim_start_matches('\u{feff}').trim().to_owned();
                schema
                    .fields()
                    .iter()
                    .find(|f| clean(f.name()) == clean(name))
                    .cloned()
                    .ok_or_else(|| format!("kept column `{name}` is not a column of {}", input.display()))
            })
            .collect::<Result<Vec<_>, String>>()?
    } else {
        text_fields(keep)
    };
    Ok(Some(OutputSchema(output_schema(&kept, dedupe))))
}

/// A Parquet output that exists without its journal is complete: its row count.
pub fn existing_rows(output: &Path) -> Result<Option<u64>, String> {
    if !output.exists() || journal_path(output).exists() {
        return Ok(None);
    }
    let file = File::open(output).map_err(|e| format!("cannot read {}: {e}", output.display()))?;
    count_rows(output, file).map(Some)
}

#[derive(Deserialize)]
struct Extra {
    #[serde(default)]
    keep: Map<String, Value>,
    duplicate_of: Option<u64>,
}

/// Writes the Parquet output from the complete journal (rows 1..=total), in row
/// order, atomically; then removes the journal.
pub fn write_output(output: &Path, schema: OutputSchema, kept: usize, total: u64) -> Result<(), String> {
    let OutputSchema(schema) = schema;
    let journal = journal_path(output);
    let offsets = index(&journal, total)?;
    let mut tmp = output.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let werr = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", tmp.display());
    let file = File::create(&tmp).map_err(|e| werr(&e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| werr(&e))?;
    let mut lines = Window::open(&journal)?;
    let kept_schema = Arc::new(Schema::new(schema.fields()[..kept].to_vec()));
    let dedupe = schema.fields().get(kept + 1).is_some_and(|f| f.name() == "duplicate_of");
    let mut start = 0usize;
    while start < offsets.len() {
        let end = (start + WRITE_BATCH).min(offsets.len());
        let mut results = Vec::with_capacity(end - start);
        let mut extras = Vec::with_capacity(end - start);
        for (i, &offset) in offsets[start..end].iter().enumerate() {
            let line = lines.line(offset)?;
            let bad = || format!("{} row {}: unreadable line", journal.display(), start + i + 1);
            let (_, result) = Layout::parse_json(line).ok_or_else(bad)?;
            let extra: Extra = serde_json::from_slice(line).map_err(|_| bad())?;
            results.push(result);
            extras.push(extra);
        }
        let batch = to_batch(&schema, &kept_schema, dedupe, start as u64 + 1, &results, &extras)?;
        writer.write(&batch).map_err(|e| werr(&e))?;
        start = end;
    }
    let file = writer.into_inner().map_err(|e| werr(&e))?;
    file.sync_all().map_err(|e| werr(&e))?;
    drop(file);
    std::fs::rename(&tmp, output).map_err(|e| format!("cannot replace {}: {e}", output.display()))?;
    crate::batch::retry::sync_dir(output);
    std::fs::remove_file(&journal).map_err(|e| format!("cannot remove {}: {e}", journal.display()))?;
    crate::batch::retry::sync_dir(output);
    Ok(())
}

fn to_batch(
    schema: &SchemaRef,
    kept_schema: &SchemaRef,
    dedupe: bool,
    first_row: u64,
    results: &[RowResult],
    extras: &[Extra],
) -> Result<RecordBatch, String> {
    let n = results.len();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    if !kept_schema.fields().is_empty() {
        let mut decoder = arrow_json::ReaderBuilder::new(kept_schema.clone())
            .with_coerce_primitive(true)
            .build_decoder()
            .map_err(|e| e.to_string())?;
        // A text column (from CSV or JSONL input) takes any JSON value a JSONL line
        // held, as its JSON text.
        let text: Vec<bool> = kept_schema.fields().iter().map(|f| f.data_type() == &DataType::Utf8).collect();
        let as_text = |(name, v): (&String, &Value)| {
            let is_text = kept_schema.index_of(name).is_ok_and(|i| text[i]);
            let v = match v {
                Value::Array(_) | Value::Object(_) if is_text => Value::String(v.to_string()),
                v => v.clone(),
            };
            (name.clone(), v)
        };
        let rows: Vec<Map<String, Value>> =
            extras.iter().map(|e| e.keep.iter().map(as_text).collect()).collect();
        decoder.serialize(&rows).map_err(|e| format!("cannot write a kept column: {e}"))?;
        let kept = decoder.flush().map_err(|e| format!("cannot write a kept column: {e}"))?;
        let kept = kept.ok_or("cannot write the kept columns")?;
        columns.extend(kept.columns().iter().cloned());
    }
    let mut row = UInt64Builder::with_capacity(n);
    for i in 0..n as u64 {
        row.append_value(first_row + i);
    }
    columns.push(Arc::new(row.finish()));
    if dedupe {
        let mut dup = UInt64Builder::with_capacity(n);
        for e in extras {
            dup.append_option(e.duplicate_of);
        }
        columns.push(Arc::new(dup.finish()));
    }
    let rows: Vec<ResultRow<'_>> = results.iter().map(RowResult::result_row).collect();
    let text = |value: &dyn Fn(&ResultRow<'_>) -> Option<String>| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(n, n * 16);
        for r in &rows {
            b.append_option(value(r));
        }
        Arc::new(b.finish())
    };
    let boolean = |value: &dyn Fn(&ResultRow<'_>) -> Option<bool>| -> ArrayRef {
        let mut b = BooleanBuilder::with_capacity(n);
        for r in &rows {
            b.append_option(value(r));
        }
        Arc::new(b.finish())
    };
    // In the order of RESULT_COLUMNS (the schema checks it).
    columns.push(text(&|r| Some(r.outcome.as_str().to_owned())));
    columns.push(boolean(&|r| r.verification_status));
    columns.push(text(&|r| r.reason.map(str::to_owned)));
    for i in 0..glair_vision::Field::ALL.len() {
        columns.push(boolean(&|r| r.field_values()[i]));
    }
    columns.push(text(&|r| r.error_kind.map(|k: ErrorKind| k.code().to_owned())));
    columns.push(text(&|r| r.error_message.clone()));
    columns.push(text(&|r| r.request_id.map(str::to_owned)));
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| format!("cannot build the result table: {e}"))
}

/// Byte offset of each row's line (rows 1..=total; the first line of a row wins).
fn index(journal: &Path, total: u64) -> Result<Vec<u64>, String> {
    #[derive(Deserialize)]
    struct RowOnly {
        row: u64,
    }
    let rerr = |e: std::io::Error| format!("cannot read {}: {e}", journal.display());
    let mut reader = BufReader::with_capacity(256 * 1024, File::open(journal).map_err(rerr)?);
    let mut offsets = vec![u64::MAX; usize::try_from(total).unwrap_or(0)];
    let (mut offset, mut buf) = (0u64, Vec::new());
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(rerr)?;
        if n == 0 {
            break;
        }
        if let Ok(RowOnly { row }) = serde_json::from_slice(buf.trim_ascii()) {
            if let Some(slot) = row.checked_sub(1).and_then(|r| offsets.get_mut(r as usize)) {
                if *slot == u64::MAX {
                    *slot = offset;
                }
            }
        }
        offset += n as u64;
    }
    if let Some(missing) = offsets.iter().position(|o| *o == u64::MAX) {
        return Err(format!("{}: row {} has no outcome", journal.display(), missing + 1));
    }
    Ok(offsets)
}

/// Reads lines by offset through a window of the file: rows in order are nearly
/// in file order, so most lines are already in it.
struct Window {
    file: File,
    start: u64,
    data: Vec<u8>,
    path: PathBuf,
}

const WINDOW: usize = 1 << 20;

impl Window {
    fn open(path: &Path) -> Result<Window, String> {
        let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(Window { file, start: 0, data: Vec::new(), path: path.to_owned() })
    }

    fn line(&mut self, offset: u64) -> Result<&[u8], String> {
        let found = |w: &Window| {
            let from = offset.checked_sub(w.start).map(|d| d as usize).filter(|d| *d < w.data.len())?;
            let len = w.data[from..].iter().position(|b| *b == b'\n')?;
            Some((from, len))
        };
        if found(self).is_none() {
            let rerr = |e: std::io::Error| format!("cannot read {}: {e}", self.path.display());
            self.file.seek(SeekFrom::Start(offset)).map_err(rerr)?;
            self.data.clear();
            (&mut self.file).take(WINDOW as u64).read_to_end(&mut self.data).map_err(rerr)?;
            self.start = offset;
            // A line longer than the window: read on until its end.
            while !self.data.contains(&b'\n') {
                let before = self.data.len();
                (&mut self.file).take(WINDOW as u64).read_to_end(&mut self.data).map_err(rerr)?;
                if self.data.len() == before {
                    break;
                }
            }
        }
        let (from, len) =
            found(self).ok_or_else(|| format!("{}: a line ends before its newline", self.path.display()))?;
        Ok(&self.data[from..from + len])
    }
}
