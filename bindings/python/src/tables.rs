//! `verify_arrow`: any Arrow C stream (`__arrow_c_stream__`) in, an object with
//! `__arrow_c_stream__` out, through the core's `tables::arrow` driver. Conversion
//! only: reading cells, order, bounds and pacing are the core's.
//!
//! The GIL: the work runs on the runtime with the GIL released. The input is read
//! on a blocking thread of the runtime; a Python-backed input (a generator behind
//! `pa.RecordBatchReader.from_batches`) takes the GIL there itself. The output's
//! next-batch callback may be called with or without the GIL (pyarrow releases it;
//! other consumers may not): it attaches, then detaches while it waits, so neither
//! case holds the GIL while the input needs it.

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use arrow_array::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use futures_util::{Stream, StreamExt, TryStreamExt};
use glair_vision::tables::arrow::{resolve_schema, result_schema, survey_reader, verify_reader};
use glair_vision::tables::ColumnMapping;
use glair_vision::{BatchOptions, Error};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList};

use crate::client::PyClient;
use crate::convert::{concurrency as concurrency_arg, rate_limit as rate_limit_arg, request_options};
use crate::errors::to_pyerr;
use crate::panics::guard;
use crate::runtime::{block_on, finalizing, future_into_py};

const STREAM_CAPSULE: &std::ffi::CStr = c"arrow_array_stream";

type ResultStream = Pin<Box<dyn Stream<Item = Result<RecordBatch, Error>> + Send>>;

/// What the results are read from: collected batches, or the running driver.
enum Source {
    Collected(Vec<RecordBatch>),
    Live(ResultStream),
}

/// The results of `verify_arrow`: an Arrow C stream, read once.
#[pyclass(frozen, module = "glair_vision._native", name = "ArrowResults")]
pub struct PyArrowResults {
    schema: SchemaRef,
    source: Mutex<Option<Source>>,
}

#[pymethods]
impl PyArrowResults {
    /// The Arrow PyCapsule stream interface. `requested_schema` is ignored (the
    /// result schema is fixed).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        guard(|| {
            let _ = requested_schema;
            let source = self.source.lock().unwrap_or_else(|e| e.into_inner()).take();
            let reader: Box<dyn RecordBatchReader + Send> = match source {
                None => return Err(PyRuntimeError::new_err("these results were already read")),
                Some(Source::Collected(batches)) => {
                    Box::new(RecordBatchIterator::new(batches.into_iter().map(Ok), self.schema.clone()))
                }
                Some(Source::Live(stream)) => Box::new(LiveReader {
                    schema: self.schema.clone(),
                    stream: Arc::new(tokio::sync::Mutex::new(stream)),
                    ended: false,
                }),
            };
            PyCapsule::new_with_value(py, FFI_ArrowArrayStream::new(reader), STREAM_CAPSULE)
        })
    }

    fn __repr__(&self) -> PyResult<String> {
        guard(|| {
            let columns: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
            Ok(format!("ArrowResults(columns={columns:?})"))
        })
    }
}

impl PyArrowResults {
    /// Results read from `stream` as they come, with an empty schema (for
    /// `_test_panic`).
    pub(crate) fn live(stream: ResultStream) -> PyArrowResults {
        PyArrowResults {
            schema: Arc::new(arrow_schema::Schema::empty()),
            source: Mutex::new(Some(Source::Live(stream))),
        }
    }
}

/// The running driver as a blocking reader, for the C stream's next-batch callback.
struct LiveReader {
    schema: SchemaRef,
    stream: Arc<tokio::sync::Mutex<ResultStream>>,
    ended: bool,
}

impl Iterator for LiveReader {
    type Item = Result<RecordBatch, ArrowError>;

    /// Called by the C stream's next-batch callback: a panic must not unwind
    /// into C (that aborts), so it ends the stream with `InternalError`.
    fn next(&mut self) -> Option<Self::Item> {
        if self.ended || finalizing() {
            return None;
        }
        let stream = self.stream.clone();
        // Attached (whether or not the caller held the GIL), then detached while waiting.
        let next =
            Python::attach(|py| guard(|| block_on(py, async move { stream.lock().await.next().await })));
        let item = match next {
            Ok(Some(Ok(batch))) => return Some(Ok(batch)),
            Ok(None) => None,
            Ok(Some(Err(e))) => Some(Err(ArrowError::ExternalError(Box::new(e)))),
            // Ctrl-C while waiting.
            Err(e) => Some(Err(ArrowError::ExternalError(Box::new(e)))),
        };
        self.ended = true;
        item
    }
}

impl RecordBatchReader for LiveReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// Imports an object's Arrow C stream (nothing read but its schema).
fn import_stream(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<ArrowArrayStreamReader> {
    let capsule = data.call_method0("__arrow_c_stream__")?;
    let capsule = capsule.cast::<PyCapsule>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err("__arrow_c_stream__ did not return a PyCapsule")
    })?;
    let pointer = capsule.pointer_checked(Some(STREAM_CAPSULE))?;
    // SAFETY: a capsule named "arrow_array_stream" holds an ArrowArrayStream (the
    // PyCapsule interface); `from_raw` moves it out and marks the original released,
    // so the capsule's destructor does not release it again.
    unsafe { ArrowArrayStreamReader::from_raw(pointer.as_ptr().cast()) }.map_err(|e| {
        to_pyerr(py, &Error::Configuration(format!("cannot read the table's Arrow stream: {e}")))
    })
}

fn mapping(
    columns: Vec<(String, String)>,
    keep: Vec<String>,
    request_id_column: Option<String>,
    ignore_unknown: bool,
) -> Result<ColumnMapping, Error> {
    let mut m = ColumnMapping::new().ignore_unknown(ignore_unknown);
    for (source, field) in columns {
        m = m.map_named(source, &field)?;
    }
    for column in keep {
        m = m.keep(column);
    }
    if let Some(column) = request_id_column {
        m = m.request_id_column(column);
    }
    Ok(m)
}

/// Everything before the first call: options, mapping, the stream's schema
/// resolved. Refusals raise here, with nothing sent.
#[allow(clippy::too_many_arguments)]
fn prepare(
    py: Python<'_>,
    client: &Bound<'_, PyClient>,
    data: &Bound<'_, PyAny>,
    columns: Vec<(String, String)>,
    keep: Vec<String>,
    request_id_column: Option<String>,
    ignore_unknown: bool,
    concurrency: Option<&Bound<'_, PyAny>>,
    rate_limit: Option<&Bound<'_, PyAny>>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<(SchemaRef, ResultStream)> {
    let options = BatchOptions {
        concurrency: concurrency
            .map(concurrency_arg)
            .transpose()?
            .unwrap_or(BatchOptions::default().concurrency),
        rate_limit: rate_limit_arg(rate_limit)?,
        request_options: request_options(options)?,
    };
    let mapping = mapping(columns, keep, request_id_column, ignore_unknown).map_err(|e| to_pyerr(py, &e))?;
    let reader = import_stream(py, data)?;
    let resolved = resolve_schema(&mapping, &reader.schema()).map_err(|e| to_pyerr(py, &e))?;
    let schema = result_schema(&reader.schema(), &resolved);
    let identity = client.get().vision().identity();
    let stream = verify_reader(&identity, reader, &resolved, options).map_err(|e| to_pyerr(py, &e))?;
    Ok((schema, Box::pin(stream)))
}

/// Verifies every row of an Arrow C stream. `columns` maps input column names to
/// wire field names; `keep` lists the columns copied into the results. With
/// `lazy`, the results stream as they are read (errors then surface from the
/// reader); else every row is done here, with the GIL released, and an error
/// reading the input raises its `GlairVisionError`.
#[pyfunction]
#[pyo3(signature = (client, data, columns, keep, request_id_column=None, ignore_unknown=false,
    concurrency=None, rate_limit=None, options=None, lazy=false))]
#[allow(clippy::too_many_arguments)]
pub fn verify_arrow(
    py: Python<'_>,
    client: &Bound<'_, PyClient>,
    data: &Bound<'_, PyAny>,
    columns: Vec<(String, String)>,
    keep: Vec<String>,
    request_id_column: Option<String>,
    ignore_unknown: bool,
    concurrency: Option<&Bound<'_, PyAny>>,
    rate_limit: Option<&Bound<'_, PyAny>>,
    options: Option<&Bound<'_, PyDict>>,
    lazy: bool,
) -> PyResult<PyArrowResults> {
    guard(|| {
        let (schema, stream) = prepare(
            py,
            client,
            data,
            columns,
            keep,
            request_id_column,
            ignore_unknown,
            concurrency,
            rate_limit,
            options,
        )?;
        let source = if lazy {
            Source::Live(stream)
        } else {
            let batches = block_on(py, stream.try_collect::<Vec<RecordBatch>>())?;
            Source::Collected(batches.map_err(|e| to_pyerr(py, &e))?)
        };
        Ok(PyArrowResults { schema, source: Mutex::new(Some(source)) })
    })
}

/// Collected results, or the error that stopped them (raised when converted).
struct Collected(Result<PyArrowResults, Error>);

impl<'py> IntoPyObject<'py> for Collected {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(results) => Ok(Bound::new(py, results)?.into_any()),
            Err(e) => Err(to_pyerr(py, &e)),
        }
    }
}

/// `verify_arrow` collecting every row, as an asyncio awaitable (cancelling it
/// cancels the calls in flight).
#[pyfunction]
#[pyo3(signature = (client, data, columns, keep, request_id_column=None, ignore_unknown=false,
    concurrency=None, rate_limit=None, options=None))]
#[allow(clippy::too_many_arguments)]
pub fn verify_arrow_async<'py>(
    py: Python<'py>,
    client: &Bound<'py, PyClient>,
    data: &Bound<'py, PyAny>,
    columns: Vec<(String, String)>,
    keep: Vec<String>,
    request_id_column: Option<String>,
    ignore_unknown: bool,
    concurrency: Option<&Bound<'py, PyAny>>,
    rate_limit: Option<&Bound<'py, PyAny>>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let (schema, stream) = prepare(
            py,
            client,
            data,
            columns,
            keep,
            request_id_column,
            ignore_unknown,
            concurrency,
            rate_limit,
            options,
        )?;
        future_into_py(py, async move {
            let collected = stream.try_collect::<Vec<RecordBatch>>().await.map(|batches| PyArrowResults {
                schema,
                source: Mutex::new(Some(Source::Collected(batches))),
            });
            Ok(Collected(collected))
        })
    })
}

/// Reads every row of an Arrow C stream offline and counts what a run would do
/// (`verify_table(dry_run=True)`): a dict of `rows`, `valid`, `invalid`,
/// `invalid_by` (a list of `{field, reason, rows}`, the most frequent first),
/// `duplicate_rows` and `calls`, and with `pairs` `duplicate_of` (a list of
/// (row, first row), from 1). `skip` lists disjoint ranges of rows (from 1, inclusive,
/// exclusive) a run would not send; `dedupe`: a run would send each distinct
/// record once. Nothing is sent; the mapping and the schema are refused as a
/// run refuses them.
#[pyfunction]
#[pyo3(signature = (data, columns, keep, request_id_column=None, ignore_unknown=false, skip=Vec::new(), dedupe=false,
    pairs=false))]
#[allow(clippy::too_many_arguments)]
pub fn survey_arrow<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    columns: Vec<(String, String)>,
    keep: Vec<String>,
    request_id_column: Option<String>,
    ignore_unknown: bool,
    mut skip: Vec<(u64, u64)>,
    dedupe: bool,
    pairs: bool,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let mapping =
            mapping(columns, keep, request_id_column, ignore_unknown).map_err(|e| to_pyerr(py, &e))?;
        let reader = import_stream(py, data)?;
        let resolved = resolve_schema(&mapping, &reader.schema()).map_err(|e| to_pyerr(py, &e))?;
        // One range per journaled chunk (a thousand for a million rows): looked
        // up by binary search, not scanned for every row.
        skip.sort_unstable();
        let skipped = |row: u64| {
            let after = skip.partition_point(|&(from, _)| from <= row);
            after > 0 && row < skip[after - 1].1
        };
        // A Python-backed stream takes the GIL itself as it is read.
        let (survey, duplicates) = py
            .detach(|| survey_reader(reader, &resolved, skipped, dedupe, pairs))
            .map_err(|e| to_pyerr(py, &e))?;
        let report = PyDict::new(py);
        report.set_item("rows", survey.rows)?;
        report.set_item("valid", survey.valid)?;
        report.set_item("invalid", survey.invalid_count())?;
        let by = PyList::empty(py);
        for (field, reason, rows) in survey.invalid_by() {
            let entry = PyDict::new(py);
            entry.set_item("field", field)?;
            entry.set_item("reason", reason)?;
            entry.set_item("rows", rows)?;
            by.append(entry)?;
        }
        report.set_item("invalid_by", by)?;
        report.set_item("duplicate_rows", survey.duplicates)?;
        report.set_item("calls", survey.to_send)?;
        if pairs {
            report.set_item("duplicate_of", duplicates.iter().collect::<Vec<(u64, u64)>>())?;
        }
        Ok(report)
    })
}
