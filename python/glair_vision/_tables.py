"""``verify_table``: pyarrow, pandas and polars tables, and any object with the
Arrow PyCapsule stream interface (``__arrow_c_stream__``), verified row by row.

The rows are read, verified and written back by the Rust core (its
``tables::arrow`` module) over Arrow record batches, with the GIL released. This
module only checks arguments, recognises the kind of table given, and converts
pandas and polars to Arrow and back. pyarrow, pandas and polars are optional
(``glair-vision[arrow]``, ``[pandas]``, ``[polars]``): nothing here imports them
until a table that needs them is given.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Literal, Mapping, Optional, Tuple, Union

from . import _native
from .errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from ._client import Vision

#: How fast calls may start: ``"auto"`` (find the account's pace: unlimited until
#: the first 429, then the adaptive rate of the client's pacer) or a number, a
#: hard ceiling of calls started per second. ``None`` is ``"auto"``.
RateLimit = Union[Literal["auto"], float, None]

_FIELDS = tuple(_native.FIELDS)
DEFAULT_TABLE_CONCURRENCY = 64


def _type_name(value: Any) -> str:
    return type(value).__name__


def _pyarrow(why: str) -> Any:
    try:
        return importlib.import_module("pyarrow")
    except ImportError as e:  # pragma: no cover - the test venv has pyarrow
        raise ImportError(f"{why} needs pyarrow: pip install 'glair-vision[arrow]'") from e


def _loaded(module: str) -> Any:
    """A module if it is already imported: a table of its kind can only exist then."""
    return sys.modules.get(module)


class _Arguments:
    """``verify_table``'s arguments, checked (before any data is read or sent)."""

    def __init__(
        self,
        columns: Optional[Mapping[str, str]],
        keep: Iterable[str],
        request_id_column: Optional[str],
        ignore_unknown: bool,
        rate_limit: RateLimit,
    ) -> None:
        if columns is None:
            columns = {}
        if not isinstance(columns, Mapping):
            raise TypeError(
                f"columns must be a dict of column name -> field name, not {_type_name(columns)}"
            )
        self.columns: List[Tuple[str, str]] = []
        for source, field in columns.items():
            if not isinstance(source, str) or not isinstance(field, str):
                raise TypeError(
                    "columns must map column names (str) to field names (str), "
                    f"not {_type_name(source)} -> {_type_name(field)}"
                )
            if field.strip() not in _FIELDS:
                raise ConfigurationError(
                    f"`{field.strip()}` (for column `{source}`) is not a field name; "
                    f"the fields are: {', '.join(_FIELDS)}"
                )
            self.columns.append((source, field))
        if isinstance(keep, (str, bytes)) or not isinstance(keep, Iterable):
            raise TypeError(f"keep must be a list of column names, not {_type_name(keep)}")
        self.keep: List[str] = list(keep)
        for column in self.keep:
            if not isinstance(column, str):
                raise TypeError(f"keep must list column names (str), not {_type_name(column)}")
        if request_id_column is not None and not isinstance(request_id_column, str):
            raise TypeError(f"request_id_column must be a column name (str), not {_type_name(request_id_column)}")
        self.request_id_column = request_id_column
        if not isinstance(ignore_unknown, bool):
            raise TypeError(f"ignore_unknown must be a bool, not {_type_name(ignore_unknown)}")
        self.ignore_unknown = ignore_unknown
        # "auto", None or a number: checked by the native layer, as for batches
        # (before the input is read).
        self.rate_limit = rate_limit


@dataclasses.dataclass(frozen=True)
class TableJob:
    """``verify_table``'s arguments, as its resume, dry-run and dedupe paths
    pass them on (each checks them before anything is read or sent)."""

    columns: Optional[Mapping[str, str]]
    keep: Iterable[str]
    request_id_column: Optional[str]
    ignore_unknown: bool
    concurrency: int
    rate_limit: RateLimit
    options: Optional[Mapping[str, Any]]
    checkpoint: Union[str, "os.PathLike[str]", None]
    checkpoint_rows: int

    def arguments(self) -> "_Arguments":
        return _Arguments(self.columns, self.keep, self.request_id_column, self.ignore_unknown, self.rate_limit)

    def run(self, vision: "Vision", data: Any, **changes: Any) -> Any:
        """``vision.identity.verify_table`` over ``data`` with these arguments (and ``changes``)."""
        given = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return vision.identity.verify_table(data, **dict(given, **changes))

    def settings(self, vision: "Vision", schema: Any) -> Any:
        """The journal's settings and the result schema (``_partition.settings``), one task."""
        from . import _partition

        return _partition.settings(
            vision,
            schema,
            tasks_at_once=1,
            columns=self.columns,
            keep=self.arguments().keep,
            request_id_column=self.request_id_column,
            ignore_unknown=self.ignore_unknown,
            concurrency=self.concurrency,
            rate_limit=self.rate_limit,
            options=self.options,
            checkpoint=self.checkpoint,
            checkpoint_rows=self.checkpoint_rows,
        )


class _Input:
    """A table given to ``verify_table``: the Arrow stream to read, whether the
    results stream lazily, and how they become the caller's kind of table."""

    def __init__(self, stream: Any, lazy: bool, finish: Callable[[Any], Any]) -> None:
        self.stream = stream
        self.lazy = lazy
        self.finish = finish


def _input(data: Any) -> _Input:
    pa = _loaded("pyarrow")
    if pa is not None:
        if isinstance(data, pa.Table):
            return _Input(data, False, lambda r: pa.RecordBatchReader.from_stream(r).read_all())
        if isinstance(data, pa.RecordBatchReader):
            # Streams in order as the caller reads it, in bounded memory.
            return _Input(data, True, pa.RecordBatchReader.from_stream)
        if isinstance(data, pa.RecordBatch):
            return _Input(pa.Table.from_batches([data]), False, lambda r: _one_batch(pa, r))
    pd = _loaded("pandas")
    if pd is not None and isinstance(data, pd.DataFrame):
        pa = _pyarrow("a pandas DataFrame")
        index = data.index

        def to_pandas(results: Any) -> Any:
            frame = pa.RecordBatchReader.from_stream(results).read_all().to_pandas()
            frame.index = index  # one result row per input row, in order
            return frame

        # NaN, None and pd.NA all become Arrow nulls: unset fields.
        return _Input(pa.Table.from_pandas(data, preserve_index=False), False, to_pandas)
    pl = _loaded("polars")
    if pl is not None and isinstance(data, pl.DataFrame):
        pa = _pyarrow("a polars DataFrame")
        return _Input(
            data.to_arrow(), False, lambda r: pl.from_arrow(pa.RecordBatchReader.from_stream(r).read_all())
        )
    if hasattr(type(data), "__arrow_c_stream__"):
        pa = _pyarrow("the results of an Arrow stream")
        return _Input(data, False, lambda r: pa.RecordBatchReader.from_stream(r).read_all())
    raise TypeError(
        "verify_table takes a pyarrow Table, RecordBatch or RecordBatchReader, a pandas or "
        f"polars DataFrame, or an object with __arrow_c_stream__; not {_type_name(data)}"
    )


def _one_batch(pa: Any, results: Any) -> Any:
    table = pa.RecordBatchReader.from_stream(results).read_all().combine_chunks()
    batches = table.to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


def _native_arguments(
    client: _native.Client,
    data: _Input,
    args: _Arguments,
    concurrency: int,
    options: Optional[Dict[str, Any]],
) -> Dict[str, Any]:
    return dict(
        client=client,
        data=data.stream,
        columns=args.columns,
        keep=args.keep,
        request_id_column=args.request_id_column,
        ignore_unknown=args.ignore_unknown,
        concurrency=concurrency,
        rate_limit=args.rate_limit,
        options=options,
    )


def verify_table(
    client: _native.Client,
    data: Any,
    columns: Optional[Mapping[str, str]],
    keep: Iterable[str],
    request_id_column: Optional[str],
    ignore_unknown: bool,
    concurrency: int,
    rate_limit: RateLimit,
    options: Optional[Dict[str, Any]],
) -> Any:
    args = _Arguments(columns, keep, request_id_column, ignore_unknown, rate_limit)
    given = _input(data)
    results = _native.verify_arrow(**_native_arguments(client, given, args, concurrency, options), lazy=given.lazy)
    return given.finish(results)


def read_twice(data: Any, what: str) -> None:
    """Refuses a one-shot reader where ``what`` (a dry run over a checkpoint,
    dedupe) reads its input twice."""
    pa = _loaded("pyarrow")
    if pa is not None and isinstance(data, pa.RecordBatchReader):
        raise ConfigurationError(
            f"{what} reads the input twice: give a table or a DataFrame, not a RecordBatchReader"
        )


def survey_table(
    data: Any,
    job: TableJob,
    skip: Optional[List[Tuple[int, int]]] = None,
    dedupe: bool = False,
) -> Dict[str, Any]:
    """``verify_table(dry_run=True)``: every row read and checked offline,
    nothing sent; the report (the CLI's ``--dry-run`` JSON) says what a run
    would do. ``skip``: ranges of rows a run would not send (journaled);
    ``dedupe``: a run would call each distinct record once."""
    args = job.arguments()
    _native.check_rate_limit(job.rate_limit)  # a dry run refuses what the run would
    given = _input(data)
    report = _native.survey_arrow(
        given.stream, args.columns, args.keep, args.request_id_column, args.ignore_unknown, skip or [], dedupe
    )
    already_done = sum(end - start for start, end in skip or [])
    return {
        "rows": report["rows"],
        "valid": report["valid"],
        "invalid": report["invalid"],
        "invalid_by": report["invalid_by"],
        "duplicate_rows": report["duplicate_rows"],
        "already_done": already_done,
        "dedupe": dedupe,
        "calls": report["calls"],
    }


async def verify_table_async(
    client: _native.Client,
    data: Any,
    columns: Optional[Mapping[str, str]],
    keep: Iterable[str],
    request_id_column: Optional[str],
    ignore_unknown: bool,
    concurrency: int,
    rate_limit: RateLimit,
    options: Optional[Dict[str, Any]],
) -> Any:
    args = _Arguments(columns, keep, request_id_column, ignore_unknown, rate_limit)
    given = _input(data)
    native = _native_arguments(client, given, args, concurrency, options)
    if given.lazy:
        # A reader is read by its consumer, batch by batch: nothing to await.
        return given.finish(_native.verify_arrow(**native, lazy=True))
    return given.finish(await _native.verify_arrow_async(**native))
