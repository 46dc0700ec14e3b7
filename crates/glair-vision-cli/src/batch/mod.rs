//! `glair-vision batch`: verify every row of a CSV/JSONL file into a JSONL file,
//! streaming (memory stays flat), with bounded concurrency and the client's adaptive
//! pacing (or a fixed ceiling), resumable after any kill.

mod input;
mod pace;
mod progress;
mod resume;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::StreamExt;
use glair_vision::{
    BatchOptions, BatchRequest, Error, FieldResults, RequestOptions, Verification, VerificationRequest,
};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::args::BatchArgs;
use crate::output::{self, ErrorJson, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK};
use crate::sandbox;
use crate::signals::Shutdown;
use input::{InputRow, RowReader};
use progress::{format_duration, Progress};
use resume::{Repair, Tally};

/// One output line. Holds statuses, reasons and request ids only: never a
/// credential, a NIK or a name (the row number, or the row's own correlation id,
/// joins it back to the input).
#[derive(Serialize)]
struct Line<'a> {
    row: u64,
    outcome: &'static str,
    /// The row's `--request-id-column` value, sent as `x-request-id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_request_id: Option<&'a str>,
    #[serde(flatten)]
    verification: Option<VerificationFields<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ErrorJson>,
}

/// A verification's fields in a line (its client id is the line's own).
#[derive(Serialize)]
struct VerificationFields<'a> {
    verification_status: bool,
    reason: &'a str,
    result: &'a FieldResults,
    request_id: Option<&'a str>,
}

impl<'a> From<&'a Verification> for VerificationFields<'a> {
    fn from(v: &'a Verification) -> Self {
        VerificationFields {
            verification_status: v.verification_status,
            reason: &v.reason,
            result: &v.result,
            request_id: v.request_id.as_deref(),
        }
    }
}

/// A row in flight: its number, its row-level error, its correlation id.
type Pending = (u64, Option<ErrorJson>, Option<String>);

/// Stream index -> the row, for the calls in flight only.
type InFlight = Arc<Mutex<HashMap<usize, Pending>>>;

/// How the reader thread ended.
enum ReaderEnd {
    /// Every row of the input was read (and handed over or skipped).
    Eof,
    /// The batch stopped taking rows.
    Stopped,
    /// The input could not be read any further.
    Failed(String),
}

fn usage_error(msg: &str) -> u8 {
    eprintln!("error: {}", output::one_line(msg));
    EXIT_INPUT
}

pub async fn run(args: BatchArgs) -> u8 {
    // Signals first, so a Ctrl-C during setup is handled as a clean stop.
    let mut shutdown = Shutdown::install();
    let format = match input::detect_format(&args.input, args.format) {
        Ok(f) => f,
        Err(e) => return usage_error(&e),
    };
    // The header is checked before anything else happens.
    let reader = match RowReader::open(&args.input, format, args.request_id_column.as_deref()) {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    if same_file(&args.input, &args.output) {
        return usage_error("--input and --output are the same file");
    }
    let client = match sandbox::client(&args.client).await {
        Ok(c) => c,
        Err(e) => {
            let error = ErrorJson::from_error(&e);
            eprintln!("error: {}", output::one_line(&error.message));
            return output::exit_code(&e);
        }
    };
    if let Some(url) = client.sandbox_url() {
        eprintln!("using the in-process sandbox at {url}");
    }
    let total = match input::count_rows(&args.input, format) {
        Ok(n) => n,
        Err(e) => return usage_error(&e),
    };
    let existing = match resume::scan(&args.output) {
        Ok(e) => e,
        Err(e) => return usage_error(&e),
    };
    match existing.repair {
        Some(Repair::Truncated { bytes }) => eprintln!(
            "repaired {}: removed a torn last line ({bytes} bytes); its row will be done again",
            args.output.display()
        ),
        Some(Repair::NewlineAdded) => {
            eprintln!("repaired {}: added the missing newline after the last line", args.output.display())
        }
        None => {}
    }
    if existing.done.len() > 0 {
        eprintln!(
            "resuming: {} of {total} rows already have an outcome in {}; skipping them",
            existing.done.len(),
            args.output.display()
        );
    }
    let extra = existing.done.count_above(total);
    if extra > 0 {
        eprintln!(
            "warning: {} holds {extra} rows beyond the {total} rows of {}: is it the output of another input?",
            args.output.display(),
            args.input.display()
        );
    }
    let mut out = match OpenOptions::new().create(true).append(true).open(&args.output) {
        Ok(f) => f,
        Err(e) => return usage_error(&format!("cannot write {}: {e}", args.output.display())),
    };

    let before = existing.done.len();
    let before_tally = existing.tally.clone();
    let done = Arc::new(existing.done);

    // Reader thread -> bounded channel: the input is pulled only as calls finish.
    let (tx, mut rx) = mpsc::channel::<InputRow>(256);
    let reader_thread = {
        let done = done.clone();
        std::thread::Builder::new()
            .name("glair-batch-reader".into())
            .spawn(move || read_rows(reader, &done, &tx))
            .expect("can spawn the reader thread")
    };

    // Stream index -> (row, row-level error). Holds only what is in flight.
    let in_flight: InFlight = Arc::default();
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let requests = {
        let in_flight = in_flight.clone();
        let mut index = 0usize;
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
            .take_until(async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            })
            .map(move |row: InputRow| {
                let (request, error) = match row.request {
                    Ok(r) => (r, None),
                    // A row that could not be read: an empty request fails the core's
                    // validation at once (never sent, no rate slot), and the row's own
                    // error is reported instead.
                    Err(e) => (VerificationRequest::default(), Some(e)),
                };
                // Cloned only for rows that have an id: a run without ids allocates nothing more.
                in_flight
                    .lock()
                    .expect("not poisoned")
                    .insert(index, (row.row, error, row.request_id.clone()));
                index += 1;
                BatchRequest { request, request_id: row.request_id }
            })
    };
    let options = BatchOptions {
        concurrency: args.concurrency as usize,
        rate_limit: args.rate_limit,
        request_options: RequestOptions::default(),
    };
    // Boxed (not pinned on the stack) so that dropping it really cancels the calls.
    let mut results = Box::pin(client.vision.identity().verification_stream(requests, options));

    let started = Instant::now();
    let mut progress =
        Progress::new(total, before, before_tally.error_count(), args.quiet, args.progress_interval);
    let mut tick = tokio::time::interval(progress.tick_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tally = Tally::default();
    let mut written = 0u64;
    let mut lost = 0u64; // outcomes not written (cancelled calls)
    let mut stopping = false;
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut write_error: Option<String> = None;
    let mut line = String::new();

    loop {
        tokio::select! {
            item = results.next() => {
                let Some(item) = item else { break };
                let (row, row_error, client_request_id) =
                    in_flight.lock().expect("not poisoned").remove(&item.index).expect("every item was registered");
                let api_error;
                let (outcome, verification, error) = match (&row_error, &item.outcome) {
                    (Some(e), _) => ("error", None, Some(e)),
                    (None, Ok(v)) => {
                        (if v.verification_status { "verified" } else { "not_verified" }, Some(v.into()), None)
                    }
                    (None, Err(Error::Cancelled)) => {
                        lost += 1;
                        continue;
                    }
                    (None, Err(e)) => {
                        api_error = ErrorJson::from_error(e);
                        ("error", None, Some(&api_error))
                    }
                };
                line.clear();
                line.push_str(
                    &serde_json::to_string(&Line {
                        row,
                        outcome,
                        client_request_id: client_request_id.as_deref(),
                        verification,
                        error,
                    })
                    .expect("serialisable"),
                );
                line.push('\n');
                // One write per complete line: only a SIGKILL can tear it, and resume repairs that.
                if let Err(e) = write_line(&mut out, &line) {
                    write_error = Some(format!("cannot write {}: {e}", args.output.display()));
                    break;
                }
                written += 1;
                tally.add(outcome, error.map(|e| e.kind));
                progress.record(error.is_some());
            }
            signal = shutdown.recv() => {
                let pending = in_flight.lock().expect("not poisoned").len();
                if stopping {
                    progress.message(&format!("{signal}: abandoning {pending} calls in flight"));
                    break;
                }
                stopping = true;
                let _ = stop_tx.send(true);
                progress.message(&format!(
                    "{signal}: taking no new rows; letting {pending} calls in flight finish \
                     (up to {}; signal again to abandon them)",
                    format_duration(args.grace.as_secs_f64())
                ));
                deadline = Some(tokio::time::Instant::now() + args.grace);
            }
            _ = async { tokio::time::sleep_until(deadline.expect("guarded")).await }, if deadline.is_some() => {
                let pending = in_flight.lock().expect("not poisoned").len();
                progress.message(&format!("grace period over: abandoning {pending} calls in flight"));
                break;
            }
            _ = tick.tick() => {
                progress.pacing = pace::progress(&client.vision.pacing());
                progress.tick();
            }
        }
    }
    // Dropping the stream cancels what is still in flight (nothing of it is written)
    // and closes the channel, which ends the reader thread.
    let abandoned = in_flight.lock().expect("not poisoned").len() as u64;
    drop(results);
    let _ = out.sync_data();
    drop(out);
    progress.finish();
    let (reader_end, sent) =
        reader_thread.join().unwrap_or((ReaderEnd::Failed("reader thread panicked".into()), 0));
    let pacing = client.vision.pacing();
    client.shutdown().await;

    let complete = matches!(reader_end, ReaderEnd::Eof)
        && written == sent
        && abandoned == 0
        && lost == 0
        && write_error.is_none();
    let mut all = before_tally.clone();
    all.merge(&tally);
    let elapsed = started.elapsed().as_secs_f64();
    print_summary(&args, total, before, &all, written, elapsed);
    eprintln!("{}", pace::summary(&pacing, args.rate_limit, elapsed));
    if let Some(e) = write_error {
        return usage_error(&e);
    }
    if let ReaderEnd::Failed(e) = reader_end {
        return usage_error(&format!("{}: {e}", args.input.display()));
    }
    if complete {
        EXIT_OK
    } else {
        let left = total.saturating_sub(before + written);
        eprintln!("interrupted: {left} rows still without an outcome; run the same command again to resume");
        EXIT_INTERRUPTED
    }
}

fn write_line(out: &mut File, line: &str) -> std::io::Result<()> {
    out.write_all(line.as_bytes())?;
    out.flush()
}

/// Sends every row not yet done, blocking when the channel is full (back-pressure).
fn read_rows(mut reader: RowReader, done: &resume::RowSet, tx: &mpsc::Sender<InputRow>) -> (ReaderEnd, u64) {
    let mut sent = 0u64;
    loop {
        match reader.next(|row| done.contains(row)) {
            None => return (ReaderEnd::Eof, sent),
            Some(Err(e)) => return (ReaderEnd::Failed(e), sent),
            Some(Ok(row)) => {
                if tx.blocking_send(row).is_err() {
                    return (ReaderEnd::Stopped, sent);
                }
                sent += 1;
            }
        }
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn print_summary(args: &BatchArgs, total: u64, before: u64, all: &Tally, written: u64, elapsed: f64) {
    let rate = if elapsed > 0.0 { written as f64 / elapsed } else { 0.0 };
    let kinds: Vec<String> = all.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let errors = if kinds.is_empty() { String::new() } else { format!(" ({})", kinds.join(", ")) };
    eprintln!(
        "summary: {} of {total} rows have an outcome in {} ({written} this run, {before} before)\n  \
         verified      {}\n  \
         not verified  {}\n  \
         errors        {}{errors}\n  \
         elapsed       {elapsed:.1}s ({rate:.1} rows/s this run)",
        before + written,
        args.output.display(),
        all.verified,
        all.not_verified,
        all.error_count(),
    );
}
