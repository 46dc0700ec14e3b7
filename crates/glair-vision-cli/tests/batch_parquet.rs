//! `batch` with Parquet in and out: typed columns (an integer id, a date of birth),
//! `--map`/`--keep`, rows in input order, resume after SIGKILL, and Parquet to and
//! from CSV; run as the real binary against a sandbox on 127.0.0.1.

mod common;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt64Type};
use arrow_array::{Array, ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field as ArrowField, Schema};
use common::*;
use glair_vision::tables::RESULT_COLUMNS;
use glair_vision_sandbox::SandboxConfig;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

const SITI: &str = "3171014508900001";
const BUDI: &str = "3273012305850002";
const DOWN: &str = "3171011001909503";

/// Days since 1970-01-01.
fn days(y: i32, m: u32, d: u32) -> i32 {
    // Civil-from-days inverse (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i32 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// customer_id (int64), NIK, nama, tanggal_lahir (date32), kota; `n` rows cycling
/// through SITI (right date), BUDI (wrong date), a 503 NIK, a short NIK, SITI with
/// no date.
fn write_input(path: &Path, n: usize, row_group: usize) {
    write_compressed_input(path, n, row_group, Compression::SNAPPY);
}

fn write_compressed_input(path: &Path, n: usize, row_group: usize, compression: Compression) {
    let schema = Arc::new(Schema::new(vec![
        ArrowField::new("customer_id", DataType::Int64, false),
        ArrowField::new("NIK", DataType::Utf8, true),
        ArrowField::new("nama", DataType::Utf8, true),
        ArrowField::new("tanggal_lahir", DataType::Date32, true),
        ArrowField::new("kota", DataType::Utf8, true),
    ]));
    let pattern = [
        (Some(SITI), Some("SITI RAHAYU"), Some(days(1990, 8, 5))),
        (Some(BUDI), Some("BUDI SANTOSO"), Some(days(1985, 5, 24))),
        (Some(DOWN), Some("A"), None),
        (Some("317101450890"), None, None),
        (Some(SITI), None, None),
    ];
    let rows: Vec<_> = (0..n).map(|i| pattern[i % pattern.len()]).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values((0..n as i64).map(|i| 1000 + i))),
        Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
        Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
        Arc::new(Date32Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
        Arc::new(StringArray::from(vec![Some("Jakarta"); n])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group))
        .set_compression(compression)
        .build();
    let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn read_output(path: &Path) -> RecordBatch {
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    arrow_select_concat(&batches)
}

/// Concatenates batches column by column (few rows in these tests).
fn arrow_select_concat(batches: &[RecordBatch]) -> RecordBatch {
    let schema = batches[0].schema();
    let mut decoder = arrow_json::ReaderBuilder::new(schema.clone()).build_decoder().unwrap();
    for b in batches {
        let mut w = arrow_json::LineDelimitedWriter::new(Vec::new());
        w.write(b).unwrap();
        w.finish().unwrap();
        decoder.decode(&w.into_inner()).unwrap();
    }
    decoder.flush().unwrap().unwrap()
}

fn text(batch: &RecordBatch, column: &str, row: usize) -> Option<String> {
    let a = batch.column_by_name(column).unwrap().as_string::<i32>();
    a.is_valid(row).then(|| a.value(row).to_owned())
}

const ARGS: [&str; 5] =
    ["--map", "nama=name,tanggal_lahir=date_of_birth", "--keep", "customer_id", "--ignore-unknown"];

#[test]
fn parquet_to_parquet_keeps_types_and_input_order() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let dir = scratch("parquet-basic");
    let input = dir.join("in.parquet");
    write_input(&input, 25, 10);
    let output = dir.join("out.parquet");

    let out = ts.batch(&input, &output, &[]).output().unwrap();
    assert_eq!(code(&out), 2, "unknown columns refused: {}", stderr(&out));
    assert!(stderr(&out).contains("`nama`") && stderr(&out).contains("`kota`"), "{}", stderr(&out));

    let out = ts.batch(&input, &output, &ARGS).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = read_output(&output);
    let names: Vec<String> = got.schema().fields().iter().map(|f| f.name().clone()).collect();
    let mut expected = vec!["customer_id".to_owned(), "row".to_owned()];
    expected.extend(RESULT_COLUMNS.iter().map(|c| c.to_string()));
    assert_eq!(names, expected);
    assert_eq!(got.schema().field(0).data_type(), &DataType::Int64, "kept columns keep their type");
    assert_eq!(got.num_rows(), 25);
    let ids = got.column(0).as_primitive::<Int64Type>();
    let rows = got.column(1).as_primitive::<UInt64Type>();
    for i in 0..25 {
        assert_eq!(ids.value(i), 1000 + i as i64, "input order");
        assert_eq!(rows.value(i), i as u64 + 1);
        let (outcome, kind) = (text(&got, "outcome", i).unwrap(), text(&got, "error_kind", i));
        match i % 5 {
            0 | 4 => assert_eq!(outcome, "verified", "row {}: {:?}", i + 1, text(&got, "reason", i)),
            1 => assert_eq!(outcome, "not_verified", "the date is read from a date32 column"),
            2 => assert_eq!(kind.as_deref(), Some("service_unavailable")),
            _ => assert_eq!(kind.as_deref(), Some("validation")),
        }
    }
    assert!(!dir.join("out.parquet.partial.jsonl").exists() && !dir.join("out.parquet.tmp").exists());
    // Run again: complete already, nothing sent.
    ts.sb().clear_received();
    let out = ts.batch(&input, &output, &ARGS).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing to do"), "{}", stderr(&out));
    assert!(ts.sb().received().is_empty());
    let out = cli()
        .args(["batch", "--dry-run", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args(ARGS)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["calls"], 0, "a dry run sees the complete Parquet output");
    let text_out = std::fs::read(&output).unwrap();
    for secret in [SITI.as_bytes(), BUDI.as_bytes(), b"SITI RAHAYU"] {
        assert!(!text_out.windows(secret.len()).any(|w| w == secret), "the output holds input data");
    }
}

#[test]
fn parquet_output_resumes_after_sigkill_without_calling_done_rows_again() {
    let killed = TestSandbox::start(SandboxConfig::default());
    let dir = scratch("parquet-kill");
    let input = dir.join("in.parquet");
    let n = 200;
    write_input(&input, n, 64);
    let output = dir.join("out.parquet");
    let journal = dir.join("out.parquet.partial.jsonl");
    let args = [&ARGS[..], &["--concurrency", "2", "--max-retries", "0"]].concat();
    let lines = |p: &Path| std::fs::read(p).map(|b| b.iter().filter(|c| **c == b'\n').count()).unwrap_or(0);
    // Killed once the 40th row is in the journal.
    kill_at(killed.batch(&input, &output, &args), "line:40", &dir.join("paused"));
    assert_eq!(lines(&journal), 40);
    assert!(!output.exists(), "no Parquet file before every row is done");
    let done = lines(&journal);
    let sendable = |rows: std::ops::Range<usize>| rows.filter(|i| i % 5 != 3).count();
    // The next run against a sandbox of its own: the calls the killed run had in
    // flight may still reach the first one, at any time, and are not this run's.
    let ts = TestSandbox::start(SandboxConfig::default());
    let out = ts.batch(&input, &output, &args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("resuming"), "{}", stderr(&out));
    let resent = ts.sb().received().len();
    assert!(resent <= sendable(0..n) - sendable(0..done) + 2, "{resent} calls after {done} rows were done");
    let got = read_output(&output);
    assert_eq!(got.num_rows(), n);
    let rows = got.column(1).as_primitive::<UInt64Type>();
    assert!((0..n).all(|i| rows.value(i) == i as u64 + 1), "every row once, in order");
    assert!(!journal.exists());
}

#[test]
fn parquet_to_csv_and_csv_to_parquet() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let dir = scratch("parquet-csv");
    let input = dir.join("in.parquet");
    write_input(&input, 10, 4);
    let csv_out = dir.join("out.csv");
    let out = ts.batch(&input, &csv_out, &[&ARGS[..], &["--dedupe"]].concat()).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut reader = csv::Reader::from_path(&csv_out).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..3], ["customer_id", "row", "duplicate_of"]);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 10);
    let by_row = |r: &str| records.iter().find(|rec| &rec[1] == r).unwrap().clone();
    assert_eq!(&by_row("1")[0], "1000", "an int64 kept column as text");
    assert_eq!(&by_row("6")[2], "1", "row 6 repeats row 1's record");

    // CSV in, Parquet out: kept columns are text.
    let csv_in = dir.join("in.csv");
    std::fs::write(&csv_in, format!("customer_id,nik,nama\nA1,{SITI},SITI RAHAYU\nA2,{BUDI},X\n")).unwrap();
    let pq_out = dir.join("from-csv.parquet");
    let out = ts.batch(&csv_in, &pq_out, &["--map", "nama=name", "--keep", "customer_id"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = read_output(&pq_out);
    assert_eq!(got.num_rows(), 2);
    assert_eq!(text(&got, "customer_id", 1).as_deref(), Some("A2"));
    assert_eq!(text(&got, "outcome", 0).as_deref(), Some("verified"));
    assert_eq!(text(&got, "outcome", 1).as_deref(), Some("not_verified"));

    // JSONL in, Parquet out: any kept JSON value lands as text.
    let jsonl_in = dir.join("in.jsonl");
    std::fs::write(
        &jsonl_in,
        format!("{{\"nik\":\"{SITI}\",\"ref\":{{\"a\":[1]}}}}\n{{\"nik\":\"{BUDI}\",\"ref\":7}}\n"),
    )
    .unwrap();
    let pq_out = dir.join("from-jsonl.parquet");
    let out = ts.batch(&jsonl_in, &pq_out, &["--keep", "ref"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = read_output(&pq_out);
    assert_eq!(text(&got, "ref", 0).as_deref(), Some("{\"a\":[1]}"));
    assert_eq!(text(&got, "ref", 1).as_deref(), Some("7"));

    // A Parquet dry run reads the same rows.
    let out = cli().args(["batch", "--dry-run", "--input"]).arg(&input).args(ARGS).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["rows"], 10);
    assert_eq!(report["invalid"], 2);
}

/// Parquet as the tools write it: polars defaults to zstd, Spark and pyarrow to
/// snappy, and gzip, lz4 and brotli are common in lakes.
#[test]
fn every_common_compression_is_read() {
    let dir = scratch("parquet-codecs");
    for compression in [
        Compression::SNAPPY,
        Compression::ZSTD(ZstdLevel::default()),
        Compression::GZIP(GzipLevel::default()),
        Compression::LZ4_RAW,
        Compression::BROTLI(BrotliLevel::default()),
        Compression::UNCOMPRESSED,
    ] {
        let input = dir.join(format!("{compression:?}.parquet").replace(['(', ')', ' '], "_"));
        write_compressed_input(&input, 10, 4, compression);
        let out = cli().args(["batch", "--dry-run", "--input"]).arg(&input).args(ARGS).output().unwrap();
        assert_eq!(code(&out), 0, "{compression:?}: {}", stderr(&out));
        let report = stdout_json(&out);
        assert_eq!(
            (report["rows"].as_u64(), report["invalid"].as_u64()),
            (Some(10), Some(2)),
            "{compression:?}"
        );
    }
}

/// For the benchmark: `GLAIR_BENCH_PARQUET=/path/big.parquet cargo test -p
/// glair-vision-cli --test batch_parquet -- --ignored` writes 1,000,000 rows in
/// one row group (as pyarrow does by default; `GLAIR_BENCH_ROW_GROUP` for others).
#[test]
#[ignore]
fn write_a_million_row_parquet_input() {
    let path = std::env::var("GLAIR_BENCH_PARQUET").expect("GLAIR_BENCH_PARQUET names the file");
    let group = std::env::var("GLAIR_BENCH_ROW_GROUP").ok().and_then(|g| g.parse().ok()).unwrap_or(1 << 20);
    write_input(Path::new(&path), 1_000_000, group);
}
