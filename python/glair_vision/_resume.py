# mypy: disable-error-code="import-untyped, import-not-found"
# (pyarrow ships no type information; it is an optional extra.)
"""``verify_table(..., checkpoint=...)``: a table verified chunk by chunk, each
chunk's results journaled before the next starts, so that a run killed midway
and started again calls only the rows no earlier run finished.

The journal is the one the Dask and Spark adapters keep for a task retry
(``_partition._Journal``), as partition 0: the same files, the same rules. A row
is identified by its position: chunk ``k`` holds rows ``k * checkpoint_rows`` on,
and its results are reused only when the chunk's rows (every column, in order)
and the settings are the same as when they were written. An input that changed
never gets a stale result: a changed row calls its chunk again, and a row
inserted or removed moves every later chunk, which are all called again.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from . import _partition, _tables

if TYPE_CHECKING:  # pragma: no cover
    from ._client import Vision


def _checkpoint_path(job: _tables.TableJob) -> None:
    if not isinstance(job.checkpoint, (str, os.PathLike)):
        raise TypeError(
            "checkpoint must be a directory path or an object-store URL (str or os.PathLike), "
            f"not {type(job.checkpoint).__name__}"
        )


def verify_table(vision: "Vision", data: Any, job: _tables.TableJob) -> Any:
    """The results of ``data`` as ``verify_table`` gives them (the same kind of
    table; a reader stays lazy), journaled in ``job.checkpoint``. Arguments are
    checked, and the result schema found, before any row is read or sent."""
    _checkpoint_path(job)
    # verify_table's own checks first (a keep of one str is refused, as there).
    job.arguments()
    given = _tables._input(data)
    pa = _tables._pyarrow("verify_table with a checkpoint")
    reader = pa.RecordBatchReader.from_stream(given.stream)
    s, schema = job.settings(vision, reader.schema)
    batches = _partition.verify_batches(s, reader.schema, reader, 0)
    return given.finish(pa.RecordBatchReader.from_batches(schema, batches))


def dry_run(vision: "Vision", data: Any, job: _tables.TableJob) -> Any:
    """The dry run of a checkpointed ``verify_table``: the rows of chunks already
    journaled count as done (``already_done``), not as calls. Nothing is sent or
    written. The input is read twice (the journal, then the rows), so it must be
    a table, not a one-shot reader."""
    _checkpoint_path(job)
    job.arguments()
    pa = _tables._pyarrow("verify_table with a checkpoint")
    _tables.read_twice(data, "a dry run over a checkpoint (the journal, then the rows)")
    given = _tables._input(data)
    schema = pa.RecordBatchReader.from_stream(given.stream).schema
    s, _ = job.settings(vision, schema)
    done = _partition.journaled_rows(s, schema, pa.RecordBatchReader.from_stream(given.stream))
    return _tables.survey_table(pa.RecordBatchReader.from_stream(given.stream), job, done)
