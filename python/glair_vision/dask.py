# mypy: disable-error-code="import-untyped, import-not-found"
# (pyarrow and pandas ship no type information; they are optional extras.)
"""Verify a Dask DataFrame where it lives: each partition through
``Identity.verify_table`` on its worker.

    import dask.dataframe as dd
    from glair_vision import Vision
    from glair_vision.dask import verify

    ddf = dd.read_parquet("s3://bucket/customers/")
    results = verify(ddf, Vision(), columns={"nama": "name"}, keep=["customer_id"],
                     rate_limit=50)
    results.to_parquet("s3://bucket/verified/")

Needs ``glair-vision[dask]`` (dask[dataframe], distributed, pyarrow, pandas).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Sequence, Union

from . import _partition
from ._client import Vision

if TYPE_CHECKING:  # pragma: no cover
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow as pa

__all__ = ["verify", "tasks_at_once"]


def verify(
    ddf: "dd.DataFrame",
    vision: Vision,
    *,
    columns: Optional[Mapping[str, str]] = None,
    keep: Sequence[str] = (),
    concurrency: int = 64,
    rate_limit: _partition.RateLimit = None,
    request_id_column: Optional[str] = None,
    ignore_unknown: bool = False,
    options: Optional[Mapping[str, Any]] = None,
    checkpoint: Union[str, "os.PathLike[str]", None] = None,
    checkpoint_rows: int = _partition.DEFAULT_CHECKPOINT_ROWS,
) -> "dd.DataFrame":
    """A lazy Dask DataFrame of results, one row per input row, same partitions
    and index: the ``keep`` columns (their dtypes unchanged), then the result
    columns (``outcome``, ``verification_status``, ``reason``, ``result_<field>``,
    ``error_kind``, ``error_message``, ``request_id``; nullable ``boolean`` and
    ``string`` dtypes).

    ``columns``, ``keep``, ``request_id_column``, ``ignore_unknown`` and ``options``
    mean what they mean for ``verify_table``, and are checked now (no task runs
    with a bad mapping). ``vision`` travels to the workers by configuration (its
    repr, which task graphs print, shows no credentials); each worker process
    builds one client from it and reuses it for every partition it runs.

    ``concurrency`` is per task (1 to 4,096). ``rate_limit`` is the account's
    limit (calls per second, for the whole cluster): each task gets
    ``rate_limit`` divided by the tasks that run at once (see
    :func:`tasks_at_once`). Without it, each worker's adaptive pacing slows down
    on the API's 429s, which keeps the cluster under the account's limit.

    A task the engine retries (a worker lost, say) calls its rows again, unless
    ``checkpoint`` names a directory every worker can read and write: each
    partition is then verified ``checkpoint_rows`` rows at a time (1 to 100,000;
    default 1,000) and each chunk's results are written there before the next
    chunk starts, so a retried task calls only the rows no earlier attempt
    finished (a task killed mid-chunk calls that chunk's rows again). The files
    hold result columns only. Use a new directory per job: a later run over the
    same rows reuses the results.
    A directory may be an object-store URL (``s3://``, ``gs://``, ``az://``,
    ``abfss://``; through fsspec: the ``s3``, ``gcs`` and ``azure`` extras),
    with credentials from the filesystem's own chain and ``AWS_ENDPOINT_URL``.
    """
    import pyarrow as pa

    meta_arrow = pa.Schema.from_pandas(ddf._meta, preserve_index=False)
    s, result_schema = _partition.settings(
        vision,
        meta_arrow,
        tasks_at_once=tasks_at_once(ddf.npartitions),
        columns=columns,
        keep=keep,
        request_id_column=request_id_column,
        ignore_unknown=ignore_unknown,
        concurrency=concurrency,
        rate_limit=rate_limit,
        options=options,
        checkpoint=checkpoint,
        checkpoint_rows=checkpoint_rows,
    )
    meta = _result_frame(ddf._meta, s, result_schema.empty_table())
    return ddf.map_partitions(_verify_partition, s, meta=meta, align_dataframes=False, enforce_metadata=False)


def tasks_at_once(npartitions: Optional[int] = None) -> int:
    """How many partitions run at the same time: the threads of the active
    ``distributed`` client's workers (``sum(client.nthreads().values())``), else
    the local scheduler's workers; never more than ``npartitions``."""
    import dask

    slots: Optional[int] = None
    try:
        from distributed import default_client

        slots = sum(default_client().nthreads().values())
    except (ImportError, ValueError):
        scheduler = dask.config.get("scheduler", None)
        if scheduler in ("sync", "synchronous", "single-threaded"):
            slots = 1
        else:
            slots = dask.config.get("num_workers", None) or os.cpu_count() or 1
    slots = max(1, int(slots or 1))
    return min(slots, npartitions) if npartitions else slots


def _verify_partition(pdf: "pd.DataFrame", s: _partition.Settings, partition_info: Optional[Dict[str, Any]] = None) -> "pd.DataFrame":
    import pyarrow as pa

    number = int(partition_info["number"]) if partition_info else 0
    table = pa.Table.from_pandas(pdf, preserve_index=False)
    results = [b.select(list(s.result_names)) for b in _partition.verify_batches(s, table.schema, table.to_batches(), number)]
    return _result_frame(pdf, s, pa.Table.from_batches(results, schema=s.result_columns))


def _result_frame(pdf: "pd.DataFrame", s: _partition.Settings, results: "pa.Table") -> "pd.DataFrame":
    """The kept columns as they are in the partition (dtypes and index unchanged),
    then the result columns with fixed nullable dtypes (the same with or without
    rows, so every partition matches the meta)."""
    import pandas as pd

    result_part = results.select(list(s.result_names)).to_pandas(types_mapper=_dtype)
    result_part.index = pdf.index
    return pd.concat([pdf[list(s.keep)], result_part], axis=1)


def _dtype(arrow_type: "pa.DataType") -> Any:
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if _partition.is_text(arrow_type):
        return pd.StringDtype()
    return pd.ArrowDtype(arrow_type)
