//! `tables::arrow` against the sandbox: every input type, nulls, kept columns,
//! order across many small batches in a bounded window, bad rows as error rows,
//! and every row's result equal to a single call's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, Int8Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Date64Array, Float32Array, Float64Array, Int32Array,
    Int64Array, LargeStringArray, NullArray, RecordBatch, RecordBatchIterator, StringArray, StringViewArray,
    TimestampMicrosecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt8Array,
};
use arrow_schema::{ArrowError, DataType, Schema};
use futures_util::{stream, StreamExt, TryStreamExt};
use glair_vision::tables::arrow::{
    requests_from_batch, resolve_schema, result_schema, verify_batches, verify_reader,
};
use glair_vision::tables::{ColumnMapping, ResolvedColumns, ResultRow, RESULT_COLUMNS};
use glair_vision::{BatchOptions, Error, ErrorKind, Field, Identity, RequestOptions, VerificationRequest};
use glair_vision_sandbox::faults::{example_nik, Fault};
use glair_vision_sandbox::{Sandbox, SandboxConfig};

fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    b.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"))
}

/// Each row's request (or the message of its error), read through `mapping`.
fn read(b: &RecordBatch, mapping: ColumnMapping) -> Vec<Result<VerificationRequest, String>> {
    let resolved = resolve_schema(&mapping, &b.schema()).unwrap();
    requests_from_batch(b, &resolved)
        .unwrap()
        .into_iter()
        .map(|(r, _)| r.map_err(|e| e.to_string()))
        .collect()
}

fn field_of(r: &Result<VerificationRequest, String>, field: Field) -> Option<String> {
    r.as_ref().unwrap().get(field).map(str::to_owned)
}

/// Days since 1970-01-01 of a calendar date (Howard Hinnant's days_from_civil).
fn days(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[test]
fn every_text_and_integer_type_reads_as_text() {
    let mut dict = StringDictionaryBuilder::<Int8Type>::new();
    dict.append_value(" SITI  RAHAYU ");
    dict.append_null();
    dict.append_value(" SITI  RAHAYU ");
    let b = batch(vec![
        (
            "nik",
            Arc::new(Int64Array::from(vec![3171014508900001, 3273012305850002, 3171014508900001]))
                as ArrayRef,
        ),
        ("name", Arc::new(dict.finish())),
        ("no_kk", Arc::new(Float64Array::from(vec![Some(3171010101100001.0), Some(f64::NAN), None]))),
        ("place_of_birth", Arc::new(LargeStringArray::from(vec![Some("JAKARTA"), Some("  "), None]))),
        ("address", Arc::new(StringViewArray::from(vec![Some("JL. MERDEKA NO. 1"), None, Some("x")]))),
        ("city", Arc::new(NullArray::new(3))),
        ("rt", Arc::new(UInt8Array::from(vec![Some(1), None, Some(12)]))),
        ("rw", Arc::new(Float32Array::from(vec![Some(2.0), Some(f32::NAN), None]))),
        ("gender", Arc::new(StringArray::from(vec![Some("P"), None, Some("nan")]))),
    ]);
    let rows = read(&b, ColumnMapping::new());
    assert_eq!(rows.len(), 3);
    assert_eq!(field_of(&rows[0], Field::Nik).as_deref(), Some("3171014508900001"));
    assert_eq!(
        field_of(&rows[0], Field::Name).as_deref(),
        Some("SITI  RAHAYU"),
        "trimmed, normalised when sent"
    );
    assert_eq!(field_of(&rows[0], Field::NoKk).as_deref(), Some("3171010101100001"));
    assert_eq!(field_of(&rows[0], Field::PlaceOfBirth).as_deref(), Some("JAKARTA"));
    assert_eq!(field_of(&rows[0], Field::Address).as_deref(), Some("JL. MERDEKA NO. 1"));
    assert_eq!(field_of(&rows[0], Field::Rt).as_deref(), Some("1"));
    assert_eq!(field_of(&rows[0], Field::Rw).as_deref(), Some("2"));
    // Nulls, NaN, blank text and a null-typed column are unset, never "nan".
    let r1 = rows[1].as_ref().unwrap();
    assert_eq!(r1.fields().map(|(f, _)| f).collect::<Vec<_>>(), vec![Field::Nik]);
    assert_eq!(field_of(&rows[2], Field::Name).as_deref(), Some("SITI  RAHAYU"));
    assert_eq!(field_of(&rows[2], Field::NoKk), None);
    assert_eq!(field_of(&rows[2], Field::City), None);
    // Text that says "nan" is the caller's text: sent, and refused by validation.
    assert_eq!(field_of(&rows[2], Field::Gender).as_deref(), Some("nan"));
}

#[test]
fn date_of_birth_as_text_dates_and_timestamps() {
    let d = days(1990, 8, 5);
    let jakarta_midnight_utc = (d * 86_400 - 7 * 3600) * 1_000_000_000; // 1990-08-04T17:00Z
    let cases: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["1990-08-05"])),
        Arc::new(StringArray::from(vec!["05/08/1990"])),
        Arc::new(Date32Array::from(vec![d as i32])),
        Arc::new(Date64Array::from(vec![d * 86_400_000 + 3_600_000])),
        Arc::new(TimestampSecondArray::from(vec![d * 86_400 + 86_399])),
        Arc::new(TimestampNanosecondArray::from(vec![jakarta_midnight_utc]).with_timezone("Asia/Jakarta")),
        Arc::new(TimestampMicrosecondArray::from(vec![jakarta_midnight_utc / 1000]).with_timezone("+07:00")),
    ];
    for (i, dob) in cases.into_iter().enumerate() {
        let dt = dob.data_type().clone();
        let b = batch(vec![
            ("nik", Arc::new(StringArray::from(vec!["3171014508900001"])) as ArrayRef),
            ("dob", dob),
        ]);
        let rows = read(&b, ColumnMapping::new().map("dob", Field::DateOfBirth));
        let request = rows[0].as_ref().unwrap().normalized().unwrap();
        assert_eq!(request.get(Field::DateOfBirth), Some("05-08-1990"), "case {i}: {dt}");
    }
    // The same instant in UTC is the day before.
    let utc = TimestampNanosecondArray::from(vec![jakarta_midnight_utc]).with_timezone("UTC");
    let b = batch(vec![
        ("nik", Arc::new(StringArray::from(vec!["3171014508900001"])) as ArrayRef),
        ("date_of_birth", Arc::new(utc)),
    ]);
    assert_eq!(
        field_of(&read(&b, ColumnMapping::new())[0], Field::DateOfBirth).as_deref(),
        Some("04-08-1990")
    );
}

#[test]
fn unreadable_cells_fail_their_row_only() {
    let b = batch(vec![
        (
            "nik",
            Arc::new(Float64Array::from(vec![3171014508900001.0, 3171014508900001.5, 3171014508900001.0]))
                as ArrayRef,
        ),
        ("date_of_birth", Arc::new(Date32Array::from(vec![Some(0), Some(3_000_000), None]))),
    ]);
    let rows = read(&b, ColumnMapping::new());
    assert!(rows[0].is_ok());
    let e = rows[1].as_ref().unwrap_err();
    assert!(e.contains("nik") && e.contains("not whole"), "{e}");
    assert!(!e.contains("3171"), "no input value in the message: {e}");
    let e = rows[2 - 1].as_ref().unwrap_err();
    assert!(e.contains("nik"), "the first field's problem is the one reported: {e}");
    let b = batch(vec![
        ("nik", Arc::new(StringArray::from(vec!["3171014508900001"])) as ArrayRef),
        ("date_of_birth", Arc::new(Date32Array::from(vec![3_000_000]))),
    ]);
    let e = read(&b, ColumnMapping::new()).remove(0).unwrap_err();
    assert!(e.contains("date_of_birth") && e.contains("1-9999"), "{e}");
}

#[tokio::test]
async fn unsupported_types_are_refused_up_front_naming_column_and_type() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let vision = sb.vision_builder().build().unwrap();
    let b = batch(vec![
        ("nik", Arc::new(StringArray::from(vec!["3171014508900001"])) as ArrayRef),
        ("nama", Arc::new(BooleanArray::from(vec![true]))),
        ("kota", Arc::new(Date32Array::from(vec![1]))),
        ("dob", Arc::new(StringArray::from(vec!["05-08-1990"]))),
    ]);
    let mapping =
        ColumnMapping::new().map("nama", Field::Name).map("kota", Field::City).map("dob", Field::DateOfBirth);
    let message = match resolve_schema(&mapping, &b.schema()) {
        Err(Error::Configuration(m)) => m,
        other => panic!("expected a configuration error, got {other:?}"),
    };
    assert!(message.contains("`nama` (read into `name`) has type Boolean"), "{message}");
    assert!(message.contains("`kota` (read into `city`) has type Date32"), "{message}");
    assert!(!message.contains("`dob`"), "{message}");

    // The driver refuses too, before reading or sending anything.
    let resolved = mapping.resolve(["nik", "nama", "kota", "dob"]).unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counted = counting(stream::iter(vec![Ok(b.clone())]), pulled.clone());
    let refused =
        verify_batches(&vision.identity(), &b.schema(), counted, &resolved, BatchOptions::default());
    assert!(matches!(refused, Err(Error::Configuration(_))));
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
    assert!(sb.received().is_empty());

    // A kept column may be of any type, but not named like a result column.
    let b = batch(vec![
        ("nik", Arc::new(StringArray::from(vec!["3171014508900001"])) as ArrayRef),
        ("request_id", Arc::new(StringArray::from(vec!["x"]))),
    ]);
    let e = resolve_schema(&ColumnMapping::new().keep("request_id"), &b.schema()).unwrap_err();
    assert!(e.to_string().contains("result column"), "{e}");
}

fn counting<S>(
    input: S,
    pulled: Arc<AtomicUsize>,
) -> impl futures_util::Stream<Item = Result<RecordBatch, Error>> + Send
where
    S: futures_util::Stream<Item = Result<RecordBatch, Error>> + Send,
{
    input.inspect(move |_| {
        pulled.fetch_add(1, Ordering::SeqCst);
    })
}

/// A table of `n` rows over the registry's people, in the shape a re-KYC job has:
/// an id, Indonesian column names, a date column, ints and floats, some nulls,
/// some wrong names, some bad rows and some fault NIKs.
fn people_table(sb: &Sandbox, n: usize) -> RecordBatch {
    let people = sb.records();
    let mut nik = Vec::new();
    let mut nama = Vec::new();
    let mut tanggal_lahir = Vec::new();
    let mut no_kk = Vec::new();
    let mut rt = Vec::new();
    let mut reference = Vec::new();
    for i in 0..n {
        let p = &people[i % people.len()];
        nik.push(match i % 29 {
            3 => Some(example_nik(Fault::NotFound)),
            5 => Some("12345".to_owned()),
            7 => None,
            11 => Some(example_nik(Fault::Unauthorized)),
            _ => Some(p.nik().to_owned()),
        });
        nama.push(match i % 5 {
            0 => Some("SOMEONE ELSE".to_owned()),
            1 => None,
            _ => p.get(Field::Name).map(str::to_owned),
        });
        tanggal_lahir.push(p.get(Field::DateOfBirth).filter(|_| i % 4 != 2).map(|dob| {
            let (d, m, y) = (&dob[0..2], &dob[3..5], &dob[6..10]);
            days(y.parse().unwrap(), m.parse().unwrap(), d.parse().unwrap()) as i32
        }));
        no_kk.push(match i % 13 {
            4 => Some(1.5),
            6 => Some(f64::NAN),
            _ => p.get(Field::NoKk).map(|k| k.parse::<f64>().unwrap()),
        });
        rt.push(p.get(Field::Rt).filter(|_| i % 3 != 1).map(|r| r.parse::<i32>().unwrap()));
        reference.push(format!("ref-{i}"));
    }
    batch(vec![
        ("customer_id", Arc::new(Int64Array::from_iter_values(0..n as i64)) as ArrayRef),
        ("nik", Arc::new(StringArray::from(nik))),
        ("nama", Arc::new(StringArray::from(nama))),
        ("tanggal_lahir", Arc::new(Date32Array::from(tanggal_lahir))),
        ("no_kk", Arc::new(Float64Array::from(no_kk))),
        ("rt", Arc::new(Int32Array::from(rt))),
        ("ref", Arc::new(StringArray::from(reference))),
    ])
}

fn mapping() -> ColumnMapping {
    ColumnMapping::new()
        .map_named("nama", "name")
        .unwrap()
        .map_named("tanggal_lahir", "date_of_birth")
        .unwrap()
        .keep("customer_id")
        .keep("nik")
        .request_id_column("ref")
}

/// The same row built by hand, as a caller of the single-call API would.
fn single_request(table: &RecordBatch, row: usize) -> Option<VerificationRequest> {
    let text = |name: &str| {
        let a = column(table, name).as_string::<i32>();
        a.is_valid(row).then(|| a.value(row).to_owned())
    };
    let mut r = VerificationRequest::default();
    if let Some(v) = text("nik") {
        r.set(Field::Nik, v);
    }
    if let Some(v) = text("nama") {
        r.set(Field::Name, v);
    }
    let dob = column(table, "tanggal_lahir").as_primitive::<arrow_array::types::Date32Type>();
    if dob.is_valid(row) {
        let d = glair_vision::date::Date::from_days_since_epoch(i64::from(dob.value(row)));
        r.set(Field::DateOfBirth, d.to_string());
    }
    let kk = column(table, "no_kk").as_primitive::<arrow_array::types::Float64Type>();
    if kk.is_valid(row) && !kk.value(row).is_nan() {
        if kk.value(row).fract() != 0.0 {
            return None; // not a request a single call could make
        }
        r.set(Field::NoKk, format!("{}", kk.value(row) as i64));
    }
    let rt = column(table, "rt").as_primitive::<Int32Type>();
    if rt.is_valid(row) {
        r.set(Field::Rt, rt.value(row).to_string());
    }
    Some(r)
}

/// Comparable parts of a result row: everything but the server's request id
/// (each call gets its own), which is also cut out of error messages.
fn comparable(row: &ResultRow<'_>) -> String {
    let mut message = row.error_message.clone().unwrap_or_default();
    if let Some(id) = row.request_id {
        message = message.replace(id, "<id>");
    }
    format!(
        "{:?} {:?} {:?} {:?} {:?} {message}",
        row.outcome,
        row.verification_status,
        row.reason,
        row.field_values(),
        row.error_kind
    )
}

/// Reads a result batch's row back into a `ResultRow`-shaped string.
fn comparable_output(out: &RecordBatch, row: usize) -> String {
    let text = |name: &str| {
        let a = column(out, name).as_string::<i32>();
        a.is_valid(row).then(|| a.value(row).to_owned())
    };
    let boolean = |name: &str| {
        let a = column(out, name).as_boolean();
        a.is_valid(row).then(|| a.value(row))
    };
    let mut message = text("error_message").unwrap_or_default();
    if let Some(id) = text("request_id") {
        message = message.replace(&id, "<id>");
    }
    let outcome = match text("outcome").unwrap().as_str() {
        "verified" => "Verified",
        "not_verified" => "NotVerified",
        _ => "Error",
    };
    let fields: Vec<Option<bool>> =
        Field::ALL.iter().map(|f| boolean(&format!("result_{}", f.wire_name()))).collect();
    let kind = text("error_kind").map(|k| ErrorKind::from_code(&k).unwrap());
    format!(
        "{outcome} {:?} {:?} {:?} {:?} {message}",
        boolean("verification_status"),
        text("reason").as_deref(),
        fields,
        kind
    )
}

fn slices(table: &RecordBatch, size: usize) -> Vec<RecordBatch> {
    (0..table.num_rows()).step_by(size).map(|at| table.slice(at, size.min(table.num_rows() - at))).collect()
}

async fn run(
    identity: &Identity,
    table: &RecordBatch,
    size: usize,
    resolved: &ResolvedColumns,
    concurrency: usize,
) -> Vec<RecordBatch> {
    let input: Vec<Result<RecordBatch, Error>> = slices(table, size).into_iter().map(Ok).collect();
    verify_batches(
        identity,
        &table.schema(),
        stream::iter(input),
        resolved,
        BatchOptions::default().concurrency(concurrency),
    )
    .unwrap()
    .try_collect()
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_equal_single_calls_row_by_row() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let vision = sb.vision_builder().max_retries(0).build().unwrap();
    let table = people_table(&sb, 240);
    let resolved = resolve_schema(&mapping(), &table.schema()).unwrap();
    let out = run(&vision.identity(), &table, 7, &resolved, 8).await;

    assert_eq!(out.len(), slices(&table, 7).len(), "one result batch per input batch");
    let schema = result_schema(&table.schema(), &resolved);
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names[..2], ["customer_id", "nik"]);
    assert_eq!(names[2..], RESULT_COLUMNS);
    assert!(out.iter().all(|b| b.schema() == schema));
    let out = arrow_select_concat(&out);
    assert_eq!(out.num_rows(), table.num_rows());
    // Kept columns are the input's, in order, with their input types.
    assert_eq!(column(&out, "customer_id").as_ref(), table.column(0).as_ref());
    assert_eq!(column(&out, "nik").as_ref(), table.column(1).as_ref());

    let sent: HashMap<String, usize> = sb
        .received()
        .iter()
        .map(|r| (r.client_request_id.clone().expect("every call carries its row's id"), 1))
        .fold(HashMap::new(), |mut m, (id, n)| {
            *m.entry(id).or_default() += n;
            m
        });
    let (mut errors, mut verified, mut not_verified) = (0, 0, 0);
    for row in 0..table.num_rows() {
        let got = comparable_output(&out, row);
        match single_request(&table, row) {
            Some(request) => {
                let options = RequestOptions { request_id: Some(format!("ref-{row}")), ..Default::default() };
                let single = vision.identity().verification_with(&request, &options).await;
                let expected = comparable(&ResultRow::from_result(&single));
                assert_eq!(got, expected, "row {row}");
                let was_sent = request.normalized().is_ok();
                assert_eq!(
                    sent.get(&format!("ref-{row}")).copied(),
                    was_sent.then_some(1),
                    "row {row} sent once"
                );
                match single {
                    Ok(v) if v.verification_status => verified += 1,
                    Ok(_) => not_verified += 1,
                    Err(_) => errors += 1,
                }
            }
            None => {
                assert!(got.starts_with("Error None None"), "row {row}: {got}");
                assert!(got.contains("Some(Validation)") && got.contains("no_kk"), "row {row}: {got}");
                assert!(!sent.contains_key(&format!("ref-{row}")), "row {row} was not sent");
                errors += 1;
            }
        }
    }
    // The table exercises every outcome.
    assert!(verified > 10 && not_verified > 10 && errors > 20, "{verified} {not_verified} {errors}");
    let kinds: Vec<String> = (0..out.num_rows())
        .filter_map(|r| {
            let k = column(&out, "error_kind").as_string::<i32>();
            k.is_valid(r).then(|| k.value(r).to_owned())
        })
        .collect();
    for kind in ["validation", "not_found", "authentication"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} row in {kinds:?}");
    }
}

fn arrow_select_concat(batches: &[RecordBatch]) -> RecordBatch {
    // Kept small: concatenating by hand through the result schema's columns.
    let schema = batches[0].schema();
    let columns: Vec<ArrayRef> = (0..schema.fields().len())
        .map(|c| {
            let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
            concat(&parts)
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

fn concat(parts: &[&dyn Array]) -> ArrayRef {
    match parts[0].data_type() {
        DataType::Utf8 => {
            Arc::new(parts.iter().flat_map(|p| p.as_string::<i32>().iter()).collect::<StringArray>())
        }
        DataType::Boolean => {
            Arc::new(parts.iter().flat_map(|p| p.as_boolean().iter()).collect::<BooleanArray>())
        }
        DataType::Int64 => {
            Arc::new(parts.iter().flat_map(|p| p.as_primitive::<Int64Type>().iter()).collect::<Int64Array>())
        }
        other => panic!("no concat for {other}"),
    }
}

/// Batches of `size` rows whose first row is slow (the sandbox's 9408 NIK), the
/// rest quick; the input counts the batches pulled from it.
fn slow_headed(sb: &Sandbox, batches: usize, size: usize) -> RecordBatch {
    let people = sb.records();
    let n = batches * size;
    let nik: Vec<String> = (0..n)
        .map(|i| if i == 0 { example_nik(Fault::Slow) } else { people[i % people.len()].nik().to_owned() })
        .collect();
    batch(vec![
        ("id", Arc::new(Int64Array::from_iter_values(0..n as i64)) as ArrayRef),
        ("nik", Arc::new(StringArray::from(nik))),
    ])
}

async fn slow_sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig {
        slow_delay: Duration::from_millis(800),
        latency: Duration::from_millis(3),
        latency_spread: Duration::from_millis(3),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// Pulls the result stream, checking after every result batch how many input
/// batches were read ahead of it; returns the ids in output order and the most
/// read ahead.
async fn drain<S>(results: S, pulled: &AtomicUsize) -> (Vec<i64>, usize)
where
    S: futures_util::Stream<Item = Result<RecordBatch, Error>>,
{
    let mut results = std::pin::pin!(results);
    let (mut ids, mut ahead, mut received) = (Vec::new(), 0, 0);
    while let Some(b) = results.next().await {
        let b = b.unwrap();
        received += 1;
        ahead = ahead.max(pulled.load(Ordering::SeqCst) - received);
        ids.extend(column(&b, "id").as_primitive::<Int64Type>().values().iter().copied());
        assert!(column(&b, "outcome")
            .as_string::<i32>()
            .iter()
            .all(|o| o == Some("verified") || o == Some("not_verified")));
    }
    (ids, ahead)
}

/// `batches` batches of `size` rows, the first row slow, streamed through
/// `verify_batches` at `concurrency`: the ids in output order and the most input
/// batches read ahead of the output.
async fn slow_headed_run(batches: usize, size: usize, concurrency: usize) -> (Vec<i64>, usize) {
    let sb = slow_sandbox().await;
    let vision = sb.vision_builder().build().unwrap();
    let table = slow_headed(&sb, batches, size);
    let resolved = resolve_schema(&ColumnMapping::new().keep("id"), &table.schema()).unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let input = counting(stream::iter(slices(&table, size).into_iter().map(Ok)), pulled.clone());
    let results = verify_batches(
        &vision.identity(),
        &table.schema(),
        input,
        &resolved,
        BatchOptions::default().concurrency(concurrency),
    )
    .unwrap();
    drain(results, &pulled).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_batches_stay_in_order_within_two_batches_of_a_slow_row() {
    let (ids, ahead) = slow_headed_run(10, 30, 16).await;
    assert_eq!(ids, (0..300).collect::<Vec<i64>>());
    // While row 0 waits, the other 299 rows could all finish: the window stops
    // reading at two batches instead.
    assert!(ahead <= 2, "{ahead} input batches were read ahead of the output");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_small_batches_stay_in_order_within_the_concurrency_window() {
    let (ids, ahead) = slow_headed_run(150, 3, 12).await;
    assert_eq!(ids, (0..450).collect::<Vec<i64>>());
    // The window holds fewer rows than `concurrency` before it reads another batch.
    assert!(ahead <= 12 / 3 + 1, "{ahead} input batches were read ahead of the output");
    assert!(ahead >= 2, "small batches overlap: {ahead}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_reader_streams_in_order() {
    let sb = slow_sandbox().await;
    let vision = sb.vision_builder().build().unwrap();
    let table = slow_headed(&sb, 20, 15);
    let resolved = resolve_schema(&ColumnMapping::new().keep("id"), &table.schema()).unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let batches = slices(&table, 15).into_iter().map(move |b| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok::<_, ArrowError>(b)
    });
    let reader = RecordBatchIterator::new(batches, table.schema());
    let results =
        verify_reader(&vision.identity(), reader, &resolved, BatchOptions::default().concurrency(16))
            .unwrap();
    let (ids, ahead) = drain(results, &pulled).await;
    assert_eq!(ids, (0..300).collect::<Vec<i64>>());
    // Two in the window, one waiting in the channel, one being read.
    assert!(ahead <= 4, "{ahead} input batches were read ahead of the output");
}

/// Every item `verify_batches` yields for `input`, errors in their place.
async fn every_item(
    identity: &Identity,
    schema: &Schema,
    input: Vec<Result<RecordBatch, Error>>,
    resolved: &ResolvedColumns,
) -> Vec<Result<RecordBatch, Error>> {
    verify_batches(identity, schema, stream::iter(input), resolved, BatchOptions::default())
        .unwrap()
        .collect()
        .await
}

#[tokio::test]
async fn an_input_failure_is_yielded_in_its_place_and_ends_the_stream() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let vision = sb.vision_builder().build().unwrap();
    let nik = sb.records()[0].nik().to_owned();
    let good = batch(vec![("nik", Arc::new(StringArray::from(vec![nik.clone(), nik.clone()])) as ArrayRef)]);
    let other_schema = batch(vec![
        ("nik", Arc::new(Int32Array::from(vec![1])) as ArrayRef),
        ("x", Arc::new(Int32Array::from(vec![1]))),
    ]);
    let input = vec![
        Ok(good.clone()),
        Ok(good.slice(0, 0)),
        Err(Error::Configuration("the file ended early".into())),
        Ok(good.clone()),
    ];
    let resolved = resolve_schema(&ColumnMapping::new(), &good.schema()).unwrap();
    let out = every_item(&vision.identity(), &good.schema(), input, &resolved).await;
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].as_ref().unwrap().num_rows(), 2);
    assert_eq!(out[1].as_ref().unwrap().num_rows(), 0);
    assert!(out[2].as_ref().unwrap_err().to_string().contains("ended early"));

    // A batch whose columns differ from the schema is refused in its place:
    // another count, or the same count under other names.
    let renamed = batch(vec![("NIK", Arc::new(StringArray::from(vec![nik.clone()])) as ArrayRef)]);
    let input = vec![Ok(good.clone()), Ok(renamed)];
    let out = every_item(&vision.identity(), &good.schema(), input, &resolved).await;
    assert_eq!(out.len(), 2);
    assert!(out[1].as_ref().unwrap_err().to_string().contains("differ"), "{:?}", out[1]);
    let input = vec![Ok(good.clone()), Ok(other_schema)];
    let out = every_item(&vision.identity(), &good.schema(), input, &resolved).await;
    assert_eq!(out.len(), 2);
    assert!(matches!(out[1], Err(Error::Configuration(_))), "{:?}", out[1]);
}

#[tokio::test]
async fn a_batch_of_only_bad_rows_completes_without_a_call() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let vision = sb.vision_builder().build().unwrap();
    let bad = batch(vec![("nik", Arc::new(Float64Array::from(vec![0.5, 1.5, 2.5])) as ArrayRef)]);
    let resolved = resolve_schema(&ColumnMapping::new(), &bad.schema()).unwrap();
    let input: Vec<Result<RecordBatch, Error>> = (0..5).map(|_| Ok(bad.clone())).collect();
    let out: Vec<RecordBatch> = tokio::time::timeout(
        Duration::from_secs(10),
        verify_batches(
            &vision.identity(),
            &bad.schema(),
            stream::iter(input),
            &resolved,
            BatchOptions::default().concurrency(1),
        )
        .unwrap()
        .try_collect(),
    )
    .await
    .expect("no wait for outcomes that never come")
    .unwrap();
    assert_eq!(out.len(), 5);
    for b in out {
        assert!(column(&b, "error_kind").as_string::<i32>().iter().all(|k| k == Some("validation")));
        assert_eq!(column(&b, "verification_status").null_count(), 3);
    }
    assert!(sb.received().is_empty());
}
