//! The ordered, bounded driver: record batches in, result batches out in input
//! order, through the client's own batch machinery
//! ([`Identity::verification_stream`]: its workers, pacing and retries).
//!
//! A feeder turns input batches into requests for the workers; the rows that
//! cannot be sent (an unreadable cell) are settled on the spot. Each input batch
//! waits in a window until all its outcomes are in, then leaves it as a result
//! batch. A new input batch is read only while the window holds fewer than two
//! batches or fewer rows than `concurrency`: memory stays at about two input
//! batches plus the calls in flight, however long the input and however slow
//! one row is.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{Schema, SchemaRef};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::{mpsc, Notify};

use super::{check_schema, requests_from_batch, results_to_batch};
use crate::batch::{BatchItem, BatchOptions, BatchRequest};
use crate::client::Identity;
use crate::error::Error;
use crate::response::Verification;
use crate::tables::ResolvedColumns;

/// Verifies every row of `batches` (whose schema is `schema`, resolved as
/// `resolved`): one result batch per input batch, in input order (see
/// [`results_to_batch`]). Refused before anything is read or sent when the
/// schema cannot be read ([`check_schema`]). An input batch that fails to
/// arrive (or does not match `schema`) is yielded as an error in its place,
/// after which the stream ends. At most `options.concurrency` calls are in
/// flight, across batch boundaries; dropping the stream cancels them. Options
/// outside their ranges ([`BatchOptions::check`]) are refused first, before
/// the schema is looked at.
pub fn verify_batches<S>(
    identity: &Identity,
    schema: &Schema,
    batches: S,
    resolved: &ResolvedColumns,
    options: BatchOptions,
) -> Result<impl Stream<Item = Result<RecordBatch, Error>> + Send + 'static, Error>
where
    S: Stream<Item = Result<RecordBatch, Error>> + Send + 'static,
{
    options.check()?;
    check_schema(schema, resolved)?;
    let resolved = Arc::new(resolved.clone());
    let shared = Arc::new(Shared {
        window: Mutex::new(Window { pending: VecDeque::new(), rows: 0 }),
        room: Notify::new(),
        ready: Notify::new(),
        concurrency: options.concurrency.max(1),
    });
    let feeder = Feeder {
        schema: Arc::new(schema.clone()),
        batches: Box::pin(batches),
        queue: Vec::new().into_iter(),
        next_index: 0,
        ended: false,
        shared: shared.clone(),
        resolved: resolved.clone(),
    };
    let outcomes = identity.verification_stream(feed(feeder), options);
    let consumer =
        Consumer { outcomes: Box::pin(outcomes), outcomes_ended: false, finished: false, shared, resolved };
    Ok(results(consumer))
}

/// [`verify_batches`] over a blocking reader (a Parquet file, an Arrow C stream
/// from Python): it is read on a blocking thread of the runtime, one batch ahead.
pub fn verify_reader<R>(
    identity: &Identity,
    reader: R,
    resolved: &ResolvedColumns,
    options: BatchOptions,
) -> Result<impl Stream<Item = Result<RecordBatch, Error>> + Send + 'static, Error>
where
    R: RecordBatchReader + Send + 'static,
{
    let schema = reader.schema();
    verify_batches(identity, &schema, blocking_batches(reader), resolved, options)
}

/// The batches of a blocking reader, read on a blocking thread started at the
/// first poll; the thread stops when the stream is dropped (after the read it
/// is in, if any).
fn blocking_batches<R>(reader: R) -> impl Stream<Item = Result<RecordBatch, Error>> + Send + 'static
where
    R: RecordBatchReader + Send + 'static,
{
    let (sender, mut receiver) = mpsc::channel(1);
    let mut start = Some((reader, sender));
    stream::poll_fn(move |cx| {
        if let Some((reader, sender)) = start.take() {
            tokio::task::spawn_blocking(move || {
                for batch in reader {
                    let batch = batch
                        .map_err(|e| Error::Configuration(format!("reading the input table failed: {e}")));
                    if sender.blocking_send(batch).is_err() {
                        return;
                    }
                }
            });
        }
        receiver.poll_recv(cx)
    })
}

/// A batch between being read and being yielded.
enum Pending {
    Batch(InFlight),
    /// The input failed here: yielded in its place; nothing follows it.
    Failed(Error),
}

struct InFlight {
    input: RecordBatch,
    results: Vec<Option<Result<Verification, Error>>>,
    /// Outcomes still to come.
    waiting: usize,
    /// The request stream's index of this batch's first sent row.
    first_sent: usize,
    /// The input row of each sent request, in sending order.
    sent_rows: Vec<usize>,
}

struct Window {
    pending: VecDeque<Pending>,
    /// Input rows held in `pending`.
    rows: usize,
}

struct Shared {
    window: Mutex<Window>,
    /// A batch left the window: the feeder may read the next.
    room: Notify,
    /// A batch entered the window (it may already be complete: all rows unreadable).
    ready: Notify,
    concurrency: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn has_room(&self) -> bool {
        let w = self.lock();
        w.pending.len() < 2 || w.rows < self.concurrency
    }

    fn push(&self, pending: Pending) {
        let mut w = self.lock();
        if let Pending::Batch(b) = &pending {
            w.rows += b.input.num_rows();
        }
        w.pending.push_back(pending);
        drop(w);
        self.ready.notify_one();
    }

    /// Files an outcome under its batch and row.
    fn place(&self, item: BatchItem) {
        let mut w = self.lock();
        let batch = w.pending.iter_mut().find_map(|p| match p {
            Pending::Batch(b) if (b.first_sent..b.first_sent + b.sent_rows.len()).contains(&item.index) => {
                Some(b)
            }
            _ => None,
        });
        if let Some(b) = batch {
            let row = b.sent_rows[item.index - b.first_sent];
            if b.results[row].replace(item.outcome).is_none() {
                b.waiting -= 1;
            }
        }
    }

    /// The next batch to yield, if it is complete.
    fn take_head(&self, resolved: &ResolvedColumns, outcomes_ended: bool) -> Head {
        let mut w = self.lock();
        if outcomes_ended {
            // Every outcome is in; a row still waiting was cancelled with its runtime.
            for p in w.pending.iter_mut() {
                if let Pending::Batch(b) = p {
                    b.results
                        .iter_mut()
                        .filter(|r| r.is_none())
                        .for_each(|r| *r = Some(Err(Error::Cancelled)));
                    b.waiting = 0;
                }
            }
        }
        let head = match w.pending.front() {
            None if outcomes_ended => return Head::Ended,
            Some(Pending::Batch(b)) if b.waiting == 0 => w.pending.pop_front(),
            Some(Pending::Failed(_)) => w.pending.pop_front(),
            _ => return Head::NotYet,
        };
        match head {
            Some(Pending::Batch(b)) => {
                w.rows -= b.input.num_rows();
                drop(w);
                self.room.notify_one();
                let results: Vec<Result<Verification, Error>> =
                    b.results.into_iter().map(|r| r.unwrap_or(Err(Error::Cancelled))).collect();
                Head::Batch(results_to_batch(&b.input, resolved, &results))
            }
            Some(Pending::Failed(e)) => Head::Failed(e),
            None => Head::NotYet,
        }
    }
}

enum Head {
    Batch(RecordBatch),
    Failed(Error),
    NotYet,
    Ended,
}

struct Feeder<S> {
    /// The input's schema: every batch must have its columns.
    schema: SchemaRef,
    batches: Pin<Box<S>>,
    /// The sendable requests of the batch being fed.
    queue: std::vec::IntoIter<BatchRequest>,
    next_index: usize,
    ended: bool,
    shared: Arc<Shared>,
    resolved: Arc<ResolvedColumns>,
}

/// The requests for the workers, batch after batch, waiting for room in the window.
fn feed<S>(feeder: Feeder<S>) -> impl Stream<Item = BatchRequest> + Send + 'static
where
    S: Stream<Item = Result<RecordBatch, Error>> + Send + 'static,
{
    stream::unfold(feeder, |mut f| async move {
        loop {
            if let Some(request) = f.queue.next() {
                return Some((request, f));
            }
            if f.ended {
                return None;
            }
            while !f.shared.has_room() {
                // A notification sent before this wait is kept as a permit: none is lost.
                f.shared.room.notified().await;
            }
            let batch = match f.batches.next().await {
                None => {
                    f.ended = true;
                    continue;
                }
                Some(batch) => batch.and_then(|b| {
                    same_columns(&f.schema, b.schema_ref())?;
                    requests_from_batch(&b, &f.resolved).map(|rows| (b, rows))
                }),
            };
            let (input, rows) = match batch {
                Ok(b) => b,
                Err(e) => {
                    f.ended = true;
                    f.shared.push(Pending::Failed(e));
                    continue;
                }
            };
            let mut results = Vec::with_capacity(rows.len());
            let mut sent_rows = Vec::new();
            let mut queue = Vec::new();
            for (row, (request, id)) in rows.into_iter().enumerate() {
                match request {
                    Ok(request) => {
                        results.push(None);
                        sent_rows.push(row);
                        queue.push(BatchRequest::new(request, id));
                    }
                    Err(e) => results.push(Some(Err(e))),
                }
            }
            let first_sent = f.next_index;
            f.next_index += sent_rows.len();
            let waiting = sent_rows.len();
            f.shared.push(Pending::Batch(InFlight { input, results, waiting, first_sent, sent_rows }));
            f.queue = queue.into_iter();
        }
    })
}

/// A batch is read by column position: its names and types must be the schema's
/// (nullability and metadata aside), or the results would mean other columns.
fn same_columns(schema: &Schema, batch: &Schema) -> Result<(), Error> {
    let columns = |s: &Schema| -> Vec<(String, arrow_schema::DataType)> {
        s.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect()
    };
    if columns(schema) == columns(batch) {
        return Ok(());
    }
    let names =
        |s: &Schema| s.fields().iter().map(|f| format!("{} {}", f.name(), f.data_type())).collect::<Vec<_>>();
    Err(Error::Configuration(format!(
        "a batch's columns ({}) differ from the table's ({})",
        names(batch).join(", "),
        names(schema).join(", ")
    )))
}

struct Consumer<O> {
    outcomes: Pin<Box<O>>,
    outcomes_ended: bool,
    finished: bool,
    shared: Arc<Shared>,
    resolved: Arc<ResolvedColumns>,
}

/// Result batches in input order, as each completes.
fn results<O>(consumer: Consumer<O>) -> impl Stream<Item = Result<RecordBatch, Error>> + Send + 'static
where
    O: Stream<Item = BatchItem> + Send + 'static,
{
    stream::unfold(consumer, |mut c| async move {
        if c.finished {
            return None;
        }
        loop {
            match c.shared.take_head(&c.resolved, c.outcomes_ended) {
                Head::Batch(batch) => return Some((Ok(batch), c)),
                Head::Failed(e) => {
                    c.finished = true;
                    return Some((Err(e), c));
                }
                Head::Ended => return None,
                Head::NotYet => {}
            }
            tokio::select! {
                item = c.outcomes.next() => match item {
                    Some(item) => c.shared.place(item),
                    None => c.outcomes_ended = true,
                },
                () = c.shared.ready.notified() => {}
            }
        }
    })
}
