//! `glair-vision batch`: verify every row of a CSV/JSONL file into a JSONL or CSV
//! file, streaming (memory stays flat), with bounded concurrency and the client's
//! adaptive pacing (or a fixed ceiling), resumable after any kill; `--retry-errors`
//! calls rows that ended in retryable errors again, `--dedupe` sends each distinct
//! record once, `--dry-run` checks everything offline.

// Parquet in and out (cargo feature `parquet`, on by default); without it, a
// Parquet input or output is a usage error that says so.
#[cfg_attr(not(feature = "parquet"), path = "columnar_off.rs")]
mod columnar;
mod dryrun;
mod input;
// Object stores for --input and --output (cargo feature `object-store`, on by
// default); without it, such a URL is a usage error that says so.
#[cfg_attr(not(feature = "object-store"), path = "objects_off.rs")]
mod objects;
mod pace;
mod progress;
mod record;
mod resume;
mod retry;
mod sink;
mod stage;
mod survey;
mod testpause;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::StreamExt;
use glair_vision::survey::Duplicates;
use glair_vision::tables::Outcome;
use glair_vision::{BatchOptions, BatchRequest, Error, RequestOptions, VerificationRequest};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::args::{BatchArgs, OutputFormat};
use crate::output::{self, ErrorJson, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK};
use crate::sandbox;
use crate::signals::Shutdown;
use input::{Columns, InputRow, RowReader};
use progress::{format_duration, Progress};
use record::{Entry, Layout, RowResult};
use resume::{Repair, RowSet, Tally};
use sink::Sink;

/// A row in flight: its number, its row-level error, its correlation id, its kept values.
struct Pending {
    row: u64,
    error: Option<ErrorJson>,
    request_id: Option<String>,
    keep: Vec<Value>,
}

/// Stream index -> the row, for the calls in flight only.
type InFlight = Arc<Mutex<HashMap<usize, Pending>>>;

/// A duplicate row (`--dedupe`): written with its first row's result.
struct Copy {
    row: u64,
    request_id: Option<String>,
    keep: Vec<Value>,
}

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
    say!("error: {}", output::one_line(msg));
    EXIT_INPUT
}

/// `--output-format`, else by extension (`.csv`, `.parquet`), else JSONL.
fn output_format(args: &BatchArgs) -> OutputFormat {
    let ext =
        |e: &str| args.output.as_ref().and_then(|p| p.extension()).is_some_and(|x| x.eq_ignore_ascii_case(e));
    args.output_format.unwrap_or(if ext("csv") {
        OutputFormat::Csv
    } else if ext("parquet") || ext("pq") {
        OutputFormat::Parquet
    } else {
        OutputFormat::Jsonl
    })
}

/// Lines written this run, and their tally.
struct Out {
    sink: Sink,
    path: PathBuf,
    written: u64,
    copies: u64,
    tally: Tally,
    error: Option<String>,
}

impl Out {
    /// Writes one line; false (and the error kept) if the file cannot be written.
    fn put(&mut self, progress: &mut Progress, entry: &Entry<'_>) -> bool {
        if let Err(e) = self.sink.write(entry) {
            self.error = Some(format!("cannot write {}: {e}", self.path.display()));
            return false;
        }
        self.written += 1;
        testpause::line(self.written);
        self.copies += u64::from(entry.duplicate_of.is_some());
        self.tally.add(entry.result.outcome.as_str(), entry.result.error_kind());
        progress.record(entry.result.outcome == Outcome::Error);
        true
    }
}

/// `--dedupe` during a run: duplicates are never sent; each is written once its
/// first row's result is known, holding that result only while duplicates of it
/// are still to come.
#[derive(Default)]
struct Dedupe {
    /// Duplicates still to write, per first row.
    remaining: HashMap<u64, u64>,
    /// First rows' results that duplicates still to come need.
    cache: HashMap<u64, RowResult>,
    /// Duplicates read before their first row's result.
    parked: HashMap<u64, Vec<Copy>>,
}

impl Dedupe {
    fn write(out: &mut Out, progress: &mut Progress, copy: &Copy, first: u64, result: &RowResult) -> bool {
        out.put(
            progress,
            &Entry {
                row: copy.row,
                duplicate_of: Some(first),
                keep: &copy.keep,
                client_request_id: copy.request_id.as_deref(),
                result,
            },
        )
    }

    /// A first row's result is known: write its waiting duplicates, keep it for later ones.
    fn resolved(&mut self, first: u64, result: &RowResult, out: &mut Out, progress: &mut Progress) -> bool {
        let Some(left) = self.remaining.get_mut(&first) else { return true };
        for copy in self.parked.remove(&first).unwrap_or_default() {
            if !Dedupe::write(out, progress, &copy, first, result) {
                return false;
            }
            *left = left.saturating_sub(1);
        }
        if *left > 0 {
            self.cache.insert(first, result.clone());
        } else {
            self.remaining.remove(&first);
        }
        true
    }

    /// A duplicate was read: written now if its first row's result is known, else parked.
    fn arrived(&mut self, copy: Copy, first: u64, out: &mut Out, progress: &mut Progress) -> bool {
        let Some(result) = self.cache.get(&first) else {
            self.parked.entry(first).or_default().push(copy);
            return true;
        };
        if !Dedupe::write(out, progress, &copy, first, result) {
            return false;
        }
        let left = self.remaining.entry(first).or_default();
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.remaining.remove(&first);
            self.cache.remove(&first);
        }
        true
    }
}

pub async fn run(args: BatchArgs) -> u8 {
    // Signals first, so a Ctrl-C during setup is handled as a clean stop.
    let shutdown = Shutdown::install();
    if let Err(e) = testpause::init() {
        return usage_error(&e);
    }
    // Where the rows come from and go to on this machine (object stores are staged).
    let input = match stage::input(&args).await {
        Ok(i) => i,
        Err(e) => return usage_error(&e),
    };
    let output = match &args.output {
        Some(path) => match stage::output(path, &args).await {
            Ok(o) => Some(o),
            Err(e) => return usage_error(&e),
        },
        None => None,
    };
    let dry_run = args.dry_run;
    let code = run_staged(args, &input, output.as_ref(), shutdown).await;
    match output {
        Some(output) => output.finish(code, dry_run).await,
        None => code,
    }
}

/// The batch over local files: `input`'s parts into `output`'s local file.
async fn run_staged(
    args: BatchArgs,
    input: &stage::Input,
    output: Option<&stage::Output>,
    mut shutdown: Shutdown,
) -> u8 {
    let in_format = input.format;
    let out_format = output_format(&args);
    let parquet = out_format == OutputFormat::Parquet;
    if parquet || in_format == crate::args::InputFormat::Parquet {
        if let Err(e) = columnar::supported() {
            return usage_error(&e);
        }
    }
    let columns =
        match Columns::new(&args.map, &args.keep, args.request_id_column.as_deref(), args.ignore_unknown) {
            Ok(c) => c,
            Err(e) => return usage_error(&e),
        };
    // The header is checked before anything else happens.
    let open = |columns: &Columns| RowReader::open(&input.parts, in_format, columns);
    let reader = match open(&columns) {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    // A Parquet output is built from a JSONL journal: lines are written in that layout.
    let format = if parquet { OutputFormat::Jsonl } else { out_format };
    let layout = Layout { format, keep: columns.keep.clone(), dedupe: args.dedupe };
    let columns_check = Layout { format: if parquet { OutputFormat::Csv } else { format }, ..layout.clone() };
    if let Err(e) = columns_check.check() {
        return usage_error(&e);
    }
    if parquet && args.retry_errors {
        return usage_error(
            "--retry-errors works on JSONL and CSV outputs, not Parquet: write JSONL or CSV to retry rows",
        );
    }
    if args.dry_run {
        return dry_run(input, output.map(|o| o.local.as_path()), reader, &layout, parquet, args.dedupe);
    }
    let output = output.expect("clap requires --output without --dry-run");
    let output_path = output.local.clone();
    if input.parts.iter().any(|part| same_file(part, &output_path)) {
        return usage_error("--input and --output are the same file");
    }
    let client = match sandbox::client(&args.client).await {
        Ok(c) => c,
        Err(e) => {
            let error = ErrorJson::from_error(&e);
            say!("error: {}", output::one_line(&error.message));
            return output::exit_code(&e);
        }
    };
    if let Some(url) = client.sandbox_url() {
        say!("using the in-process sandbox at {url}");
    }
    let total = match input::count_rows(&input.parts, in_format) {
        Ok(n) => n,
        Err(e) => return usage_error(&e),
    };
    // Where lines go: the output itself, or the journal a Parquet output is built from.
    let lines_path = if parquet { parquet_journal(&output_path) } else { output_path.clone() };
    let parquet_schema = if parquet {
        let input_is_parquet = in_format == crate::args::InputFormat::Parquet;
        match columnar::prepare_output(
            &input.parts[0],
            input_is_parquet,
            &columns.keep,
            args.dedupe,
            &output_path,
            total,
        ) {
            Ok(Some(schema)) => Some(schema),
            Ok(None) => {
                say!("{} is complete: all {total} rows have an outcome; nothing to do", output.name);
                return EXIT_OK;
            }
            Err(e) => return usage_error(&e),
        }
    } else {
        None
    };
    let existing = match resume::scan(&lines_path, &layout, true, |_, _, _| {}) {
        Ok(e) => e,
        Err(e) => return usage_error(&e),
    };
    match existing.repair {
        Some(Repair::Truncated { bytes }) => say!(
            "repaired {}: removed a torn last line ({bytes} bytes); its row will be done again",
            lines_path.display()
        ),
        Some(Repair::NewlineAdded) => {
            say!("repaired {}: added the missing newline after the last line", lines_path.display())
        }
        None => {}
    }
    let extra = existing.done.count_above(total);
    if extra > 0 {
        say!(
            "warning: {} holds {extra} rows beyond the {total} rows of {}: is it the output of another input?",
            output.name,
            input.name
        );
    }
    // What to skip, and where new lines go: the output itself, or the journal.
    let (skip, sink_path) = if args.retry_errors {
        let journal = match retry::open_journal(&output_path, &layout) {
            Ok(j) => j,
            Err(e) => return usage_error(&e),
        };
        if let Some(j) = journal.as_ref().filter(|j| j.done.len() > 0) {
            say!(
                "resuming --retry-errors: {} rows already have a new outcome in {}; not calling them again",
                j.done.len(),
                retry::journal_path(&output_path).display()
            );
        }
        let skip = retry::skip_set(&existing, journal.as_ref());
        say!(
            "retrying: {} rows whose outcome is a retryable error, {} rows without an outcome",
            existing.retryable.without(&skip).len(),
            total.saturating_sub(existing.done.len())
        );
        (skip, retry::journal_path(&output_path))
    } else {
        if retry::journal_path(&output_path).exists() {
            say!(
                "warning: {} is left from an interrupted --retry-errors run; run with --retry-errors to finish it",
                retry::journal_path(&output_path).display()
            );
        }
        if existing.done.len() > 0 {
            say!(
                "resuming: {} of {total} rows already have an outcome in {}; skipping them",
                existing.done.len(),
                lines_path.display()
            );
        }
        (existing.done.clone(), lines_path.clone())
    };
    let mut dedupe = None;
    let mut duplicate_of = Duplicates::default();
    if args.dedupe {
        let (plan, pairs) = match open(&columns).and_then(|r| survey::survey(r, |_| true, true, true)) {
            Ok(s) => s,
            Err(e) => return usage_error(&e),
        };
        match prepare_dedupe(&pairs, &skip, &lines_path, &layout, args.retry_errors) {
            Ok(d) => dedupe = Some(d),
            Err(e) => return usage_error(&e),
        }
        if plan.duplicates > 0 {
            say!("dedupe: {} rows repeat an earlier record; they are not sent", plan.duplicates);
        }
        duplicate_of = pairs;
    }
    let sink = match Sink::open(&sink_path, &layout) {
        Ok(s) => s,
        Err(e) => return usage_error(&format!("cannot write {}: {e}", sink_path.display())),
    };
    let mut out =
        Out { sink, path: sink_path.clone(), written: 0, copies: 0, tally: Tally::default(), error: None };

    testpause::reached(testpause::Point::Calls);
    let before = skip.len();
    let before_errors =
        existing.tally.error_count().saturating_sub(existing.retryable.len() * u64::from(args.retry_errors));
    let skip = Arc::new(skip);

    // Reader thread -> bounded channel: the input is pulled only as calls finish.
    let (tx, mut rx) = mpsc::channel::<InputRow>(256);
    let reader_thread = {
        let skip = skip.clone();
        std::thread::Builder::new()
            .name("glair-batch-reader".into())
            .spawn(move || read_rows(reader, &skip, &tx))
            .expect("can spawn the reader thread")
    };

    // Stream index -> the row. Holds only what is in flight.
    let in_flight: InFlight = Arc::default();
    let (stop_tx, mut stop_rx) = watch::channel(false);
    // Duplicates are diverted here instead of being sent.
    let (copy_tx, mut copy_rx) = mpsc::unbounded_channel::<(Copy, u64)>();
    let requests = {
        let in_flight = in_flight.clone();
        let mut index = 0usize;
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
            .take_until(async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            })
            .filter_map(move |row: InputRow| {
                if let Some(first) = duplicate_of.first_of(row.row) {
                    let copy = Copy { row: row.row, request_id: row.request_id, keep: row.keep };
                    let _ = copy_tx.send((copy, first));
                    return std::future::ready(None);
                }
                let (request, error) = match row.request {
                    Ok(r) => (r, None),
                    // A row that could not be read: an empty request fails the core's
                    // validation at once (never sent, no rate slot), and the row's own
                    // error is reported instead.
                    Err(e) => (VerificationRequest::default(), Some(e)),
                };
                // Cloned only for rows that have an id: a run without ids allocates nothing more.
                let pending =
                    Pending { row: row.row, error, request_id: row.request_id.clone(), keep: row.keep };
                in_flight.lock().expect("not poisoned").insert(index, pending);
                index += 1;
                std::future::ready(Some(BatchRequest::new(request, row.request_id)))
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
    let mut progress = Progress::new(total, before, before_errors, args.quiet, args.progress_interval);
    let mut tick = tokio::time::interval(progress.tick_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dedupe_state = dedupe.unwrap_or_default();
    let mut lost = 0u64; // outcomes not written (cancelled calls)
    let mut stopping = false;
    let mut copies_open = true;
    let mut deadline: Option<tokio::time::Instant> = None;

    loop {
        tokio::select! {
            item = results.next() => {
                let Some(item) = item else { break };
                let p = in_flight.lock().expect("not poisoned").remove(&item.index).expect("every item was registered");
                let result = match (p.error, &item.outcome) {
                    (Some(e), _) => RowResult::from_error(e),
                    (None, Ok(v)) => RowResult::from_verification(v),
                    (None, Err(Error::Cancelled)) => {
                        lost += 1;
                        continue;
                    }
                    (None, Err(e)) => RowResult::from_error(ErrorJson::from_error(e)),
                };
                let entry = Entry {
                    row: p.row,
                    duplicate_of: None,
                    keep: &p.keep,
                    client_request_id: p.request_id.as_deref(),
                    result: &result,
                };
                if !out.put(&mut progress, &entry) || !dedupe_state.resolved(p.row, &result, &mut out, &mut progress) {
                    break;
                }
            }
            copy = copy_rx.recv(), if copies_open => {
                match copy {
                    Some((copy, first)) => {
                        if !dedupe_state.arrived(copy, first, &mut out, &mut progress) {
                            break;
                        }
                    }
                    None => copies_open = false,
                }
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
    // Duplicates diverted before the end whose first row's result is known.
    while let Ok((copy, first)) = copy_rx.try_recv() {
        if out.error.is_some() || !dedupe_state.arrived(copy, first, &mut out, &mut progress) {
            break;
        }
    }
    out.sink.sync();
    progress.finish();
    let (reader_end, sent) =
        reader_thread.join().unwrap_or((ReaderEnd::Failed("reader thread panicked".into()), 0));
    let pacing = client.vision.pacing();
    client.shutdown().await;

    let written = out.written;
    let complete = matches!(reader_end, ReaderEnd::Eof)
        && written == sent
        && abandoned == 0
        && lost == 0
        && out.error.is_none();
    let elapsed = started.elapsed().as_secs_f64();
    let mut all = existing.tally.clone();
    let mut with_outcome = before + written;
    if args.retry_errors && complete {
        if let Err(e) = retry::merge(&output_path, &layout) {
            return usage_error(&e);
        }
        match resume::scan(&output_path, &layout, false, |_, _, _| {}) {
            Ok(now) => {
                all = now.tally;
                with_outcome = now.done.len();
            }
            Err(e) => return usage_error(&e),
        }
    } else {
        all.merge(&out.tally);
    }
    if let (Some(schema), true) = (parquet_schema, complete) {
        if let Err(e) = columnar::write_output(&output_path, schema, columns.keep.len(), total) {
            return usage_error(&e);
        }
    }
    print_summary(&output.name, total, with_outcome, &all, written, out.copies, elapsed);
    say!("{}", pace::summary(&pacing, args.rate_limit, elapsed));
    if let Some(e) = out.error {
        return usage_error(&e);
    }
    if let ReaderEnd::Failed(e) = reader_end {
        return usage_error(&format!("{}: {e}", input.name));
    }
    if complete {
        EXIT_OK
    } else {
        let left = sent.saturating_sub(written) + total.saturating_sub(before + sent);
        let again = if args.retry_errors { " (with --retry-errors)" } else { "" };
        say!("interrupted: {left} rows still without a new outcome; run the same command{again} again to resume");
        EXIT_INTERRUPTED
    }
}

/// The JSONL journal a Parquet output is built from, beside it.
pub(crate) fn parquet_journal(output: &Path) -> PathBuf {
    let mut s = output.as_os_str().to_owned();
    s.push(".partial.jsonl");
    PathBuf::from(s)
}

/// `--dry-run`: the survey and its report; the output, if any, is only read.
fn dry_run(
    input: &stage::Input,
    output: Option<&Path>,
    reader: RowReader,
    layout: &Layout,
    parquet: bool,
    dedupe: bool,
) -> u8 {
    let done = match output {
        // A complete Parquet output: every row is done.
        Some(path) if parquet && matches!(columnar::existing_rows(path), Ok(Some(_))) => {
            let mut all = RowSet::default();
            let rows = columnar::existing_rows(path).ok().flatten().unwrap_or(0);
            (1..=rows).for_each(|r| {
                all.insert(r);
            });
            all
        }
        Some(path) => {
            let lines = if parquet { parquet_journal(path) } else { path.to_owned() };
            match resume::scan(&lines, layout, false, |_, _, _| {}) {
                Ok(e) => e.done,
                Err(e) => return usage_error(&e),
            }
        }
        None => RowSet::default(),
    };
    match survey::survey(reader, |row| done.contains(row), dedupe, false) {
        Ok((s, _)) => {
            dryrun::report(&s, done.len(), dedupe);
            EXIT_OK
        }
        Err(e) => usage_error(&format!("{}: {e}", input.name)),
    }
}

/// How many duplicates each first row still has to come (those not skipped), and
/// the results of first rows that are not called again but have such duplicates,
/// read back from the output (and, with `--retry-errors`, the journal).
fn prepare_dedupe(
    duplicate_of: &Duplicates,
    skip: &RowSet,
    output: &Path,
    layout: &Layout,
    retry: bool,
) -> Result<Dedupe, String> {
    let mut d = Dedupe::default();
    for (row, first) in duplicate_of.iter() {
        if !skip.contains(row) {
            *d.remaining.entry(first).or_default() += 1;
        }
    }
    let needed = |row: u64| skip.contains(row) && d.remaining.contains_key(&row);
    if !d.remaining.keys().any(|&first| needed(first)) {
        return Ok(d);
    }
    let mut cache = HashMap::new();
    let mut load = |path: &Path| {
        resume::scan(path, layout, false, |row, result, _| {
            if needed(row) {
                cache.insert(row, result.clone());
            }
        })
    };
    load(output)?;
    if retry {
        load(&retry::journal_path(output))?;
    }
    d.cache = cache;
    Ok(d)
}

/// Sends every row not yet done, blocking when the channel is full (back-pressure).
fn read_rows(mut reader: RowReader, skip: &RowSet, tx: &mpsc::Sender<InputRow>) -> (ReaderEnd, u64) {
    let mut sent = 0u64;
    loop {
        match reader.next(|row| skip.contains(row)) {
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

fn print_summary(
    output: &str,
    total: u64,
    with_outcome: u64,
    all: &Tally,
    written: u64,
    copies: u64,
    elapsed: f64,
) {
    let rate = if elapsed > 0.0 { written as f64 / elapsed } else { 0.0 };
    let kinds: Vec<String> = all.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let errors = if kinds.is_empty() { String::new() } else { format!(" ({})", kinds.join(", ")) };
    let before = with_outcome.saturating_sub(written);
    say!(
        "summary: {with_outcome} of {total} rows have an outcome in {} ({written} this run, {before} before)\n  \
         verified      {}\n  \
         not verified  {}\n  \
         errors        {}{errors}\n  \
         duplicates    {copies} rows copied from an identical earlier row this run (not sent)\n  \
         elapsed       {elapsed:.1}s ({rate:.1} rows/s this run)",
        output,
        all.verified,
        all.not_verified,
        all.error_count(),
    );
}
