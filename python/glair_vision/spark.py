# mypy: disable-error-code="import-untyped, import-not-found"
# (pyarrow and pandas ship no type information; they are optional extras.)
"""Verify a Spark DataFrame where it lives: each partition's Arrow batches through
``Identity.verify_table`` on its executor (``DataFrame.mapInArrow``).

    from glair_vision import Vision
    from glair_vision.spark import verify

    df = spark.read.parquet("s3://bucket/customers/")
    results = verify(df, Vision(), columns={"nama": "name"}, keep=["customer_id"],
                     rate_limit=50)
    results.write.parquet("s3://bucket/verified/")   # one action: each action calls again

Works on classic sessions and on Spark Connect sessions alike (Databricks
serverless and shared-access compute, ``SparkSession.builder.remote(...)``): it
uses only what both offer (the DataFrame API, ``mapInArrow``, ``spark.conf``).

Needs ``glair-vision[spark]`` (pyarrow, pandas) and the Spark you run: the
extra brings no pyspark, so a Databricks runtime's own (or databricks-connect)
is never shadowed; elsewhere ``pip install pyspark`` (``pyspark[connect]`` for
Spark Connect). Keep speculative execution off
(``spark.speculation=false``, the default): a speculative copy of a task calls
its rows a second time.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional, Sequence, Union

from . import _partition
from ._client import Vision
from .errors import ConfigurationError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["verify", "tasks_at_once"]


def verify(
    df: "DataFrame",
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
    tasks_at_once: Optional[int] = None,
) -> "DataFrame":
    """A lazy Spark DataFrame of results, one row per input row: the ``keep``
    columns (types unchanged), then the result columns (``outcome``,
    ``verification_status``, ``reason``, ``result_<field>``, ``error_kind``,
    ``error_message``, ``request_id``).

    Every action on the result runs the verification again (a ``count()`` and
    then a ``collect()`` call every row twice): write it out in one action, or
    ``cache()``/``persist()`` it first.

    ``columns``, ``keep``, ``request_id_column``, ``ignore_unknown`` and ``options``
    mean what they mean for ``verify_table`` and are checked now, on the driver.
    ``vision`` travels to the executors by configuration (plans show no
    credentials); each Python worker process builds one client from it and
    reuses it for every partition it runs.

    ``concurrency`` is per task (1 to 4,096). ``rate_limit`` is the account's
    limit (calls per second, for the whole cluster): each task gets
    ``rate_limit`` divided by the tasks that run at once, ``tasks_at_once`` when
    given, else what the session's configuration says (see :func:`tasks_at_once`).
    Without it, each worker's adaptive pacing slows down on the API's 429s, which
    keeps the cluster under the account's limit.

    A task Spark retries calls its rows again, unless ``checkpoint`` names a
    directory every executor can read and write: each partition is then verified
    ``checkpoint_rows`` rows at a time (1 to 100,000; default 1,000) and each
    chunk's results are written there before the next chunk starts, so a retried
    task calls only the rows no earlier attempt finished (a task killed
    mid-chunk calls that chunk's rows again). The files hold result columns
    only. Use a new directory per job: a later run over the same rows reuses the
    results.
    A directory may be an object-store URL (``s3://``, ``gs://``, ``az://``,
    ``abfss://``; through fsspec: the ``s3``, ``gcs`` and ``azure`` extras),
    with credentials from the filesystem's own chain and ``AWS_ENDPOINT_URL``.
    """
    try:
        from pyspark.sql.pandas.types import to_arrow_schema
        from pyspark.sql.types import StructField, StructType
    except ImportError as e:  # pragma: no cover - the test venv has pyspark
        raise ImportError(
            "glair_vision.spark needs pyspark, which glair-vision[spark] leaves to you so that a "
            "Databricks runtime's own is not replaced: pip install pyspark (pyspark[connect] for Spark Connect)"
        ) from e

    spark = df.sparkSession
    if tasks_at_once is not None:
        tasks = _checked_tasks(tasks_at_once)
    elif _partition.per_task_rate(rate_limit, 1) == "auto":
        tasks = 1  # adaptive pacing: no share to compute
    else:
        tasks = _session_tasks(spark)
    try:
        input_schema = to_arrow_schema(df.schema, timezone="UTC")
    except TypeError:  # pyspark 3.5: no timezone argument
        input_schema = to_arrow_schema(df.schema)
    s, _ = _partition.settings(
        vision,
        input_schema,
        tasks_at_once=tasks,
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
    assert s.result_columns is not None
    kept = [df.schema[name] for name in s.keep]
    results = [StructField(f.name, _spark_type(f.type), nullable=True) for f in s.result_columns]
    schema = StructType(kept + results)
    return df.mapInArrow(_Partition(s), schema)


def tasks_at_once(spark: "SparkSession") -> int:
    """The tasks a session's cluster runs at once: a classic session's
    ``sparkContext.defaultParallelism``; on Spark Connect (which has no
    ``sparkContext``), what its configuration says: ``spark.default.parallelism``,
    else executors times cores per executor (``spark.executor.instances``, or
    ``spark.dynamicAllocation.maxExecutors`` with dynamic allocation, times
    ``spark.executor.cores``), else a local master's threads (``local[4]``; ``*``:
    this machine's CPUs). A ``ConfigurationError`` when nothing says (pass
    ``tasks_at_once=`` to ``verify``): a guess too low would send the cluster past
    its ``rate_limit``."""
    return _session_tasks(spark)


def _session_tasks(spark: "SparkSession") -> int:
    # (`verify`'s argument of the same name hides `tasks_at_once` inside it.)
    try:
        return int(spark.sparkContext.defaultParallelism)
    except Exception:  # Spark Connect: no sparkContext
        pass
    conf = spark.conf

    def setting(key: str) -> Optional[str]:
        try:
            value = conf.get(key, None)
        except Exception:  # a key the server does not expose to this client
            return None
        return value.strip() if isinstance(value, str) and value.strip() else None

    def whole(key: str) -> Optional[int]:
        value = setting(key)
        return int(value) if value is not None and value.isdigit() and int(value) > 0 else None

    parallelism = whole("spark.default.parallelism")
    if parallelism is not None:
        return parallelism
    dynamic = (setting("spark.dynamicAllocation.enabled") or "").lower() == "true"
    executors = whole("spark.dynamicAllocation.maxExecutors") if dynamic else whole("spark.executor.instances")
    cores = whole("spark.executor.cores")
    if executors is not None and cores is not None:
        return executors * cores
    local = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?", setting("spark.master") or "")
    if local is not None:
        threads = local.group(1) or "1"
        return (os.cpu_count() or 1) if threads == "*" else max(1, int(threads))
    raise ConfigurationError(
        "cannot tell how many Spark tasks run at once from this session's configuration (no "
        "spark.default.parallelism, spark.executor.instances with spark.executor.cores, or local master): "
        "pass tasks_at_once= to glair_vision.spark.verify, or leave rate_limit unset for adaptive pacing"
    )


def _checked_tasks(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"tasks_at_once must be an int, got {type(value).__name__}")
    if not 1 <= value <= 1_000_000:
        raise ValidationError(
            f"invalid tasks_at_once: {value} (1 to 1,000,000 tasks)",
            field="tasks_at_once",
            detail="out of range: 1 to 1,000,000",
        )
    return value


def _spark_type(arrow_type: "pa.DataType") -> Any:
    """The Spark type of a result column (text of any Arrow layout is a string)."""
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import StringType

    if _partition.is_text(arrow_type):
        return StringType()
    return from_arrow_type(arrow_type)


class _Partition:
    """The function ``mapInArrow`` runs for each partition (a class so that its
    repr, which plans may print, is the client's: no credentials)."""

    def __init__(self, s: _partition.Settings) -> None:
        self.s = s

    def __call__(self, batches: Iterator["pa.RecordBatch"]) -> Iterator["pa.RecordBatch"]:
        from pyspark import TaskContext

        context = TaskContext.get()
        number = context.partitionId() if context is not None else 0
        first = next(batches, None)
        if first is None:
            return
        schema = first.schema

        def rows() -> Iterator["pa.RecordBatch"]:
            yield first
            yield from batches

        yield from _partition.verify_batches(self.s, schema, rows(), number)

    def __repr__(self) -> str:
        return f"glair_vision.spark.verify({self.s.shipped!r})"
