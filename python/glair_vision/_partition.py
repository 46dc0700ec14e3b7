# mypy: disable-error-code="import-untyped, import-not-found"
# (pyarrow and pandas ship no type information; they are optional extras.)
"""What the Dask and Spark adapters share: a client shipped to workers without
showing its credentials, one client per worker process, the result schema, and
the checkpoint journal that keeps an engine's task retry from calling a row twice.

The verification itself is ``Identity.verify_table`` (Rust, over Arrow batches);
nothing here loops over rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from . import _native, _storage
from ._client import Vision
from ._tables import RateLimit
from .errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

#: Rows per journal entry of a checkpointed partition (see `verify`'s docs): 1
#: to 100,000, the range the core checks.
DEFAULT_CHECKPOINT_ROWS = 1000

# One client per (configuration, process): every partition a worker process runs
# shares its connection pool and its adaptive pacing state.
_VISIONS: Dict[str, Vision] = {}
_VISIONS_LOCK = threading.Lock()


class ShippedVision:
    """A :class:`Vision` on its way to workers. Pickles as the client's own
    pickle (its configuration, credentials included, so that workers without the
    environment variables can call) under a key; a worker process rebuilds it once
    and reuses it for every later partition. Its repr, which task graphs and
    plans print, is the client's repr: no credentials."""

    __slots__ = ("key", "_payload", "_vision")

    def __init__(self, vision: Vision) -> None:
        if not isinstance(vision, Vision):
            raise TypeError(f"expected a glair_vision.Vision, got {type(vision).__name__}")
        self._payload = pickle.dumps(vision)
        self.key = hashlib.sha256(self._payload).hexdigest()
        self._vision: Optional[Vision] = vision

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_arrive, (self.key, _Sealed(self._payload)))

    def vision(self) -> Vision:
        if self._vision is None:
            self._vision = _arrive(self.key, _Sealed(self._payload))._vision
        assert self._vision is not None
        return self._vision

    def __repr__(self) -> str:
        return repr(self.vision())


class _Sealed(bytes):
    """The pickled client: bytes whose repr does not show them."""

    def __repr__(self) -> str:
        return "<glair_vision client configuration>"

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_Sealed, (bytes(self),))


def _arrive(key: str, payload: bytes) -> ShippedVision:
    with _VISIONS_LOCK:
        vision = _VISIONS.get(key)
        if vision is None:
            vision = pickle.loads(payload)
            _VISIONS[key] = vision
    shipped = ShippedVision.__new__(ShippedVision)
    shipped.key = key
    shipped._payload = payload
    shipped._vision = vision
    return shipped


def per_task_rate(rate_limit: Union[None, str, float], tasks_at_once: int) -> RateLimit:
    """The account-wide ``rate_limit`` as one task's share; ``None`` and
    ``"auto"`` leave every worker's adaptive pacing to find the limit. The rate
    and the share are checked against the range of every rate limit (0.001 to
    1,000,000 per second): a ``ValidationError`` naming ``rate_limit``
    (a wrong type: ``TypeError``)."""
    rate = _native.check_rate_limit(rate_limit)
    if rate is None:
        return "auto"
    tasks = max(1, tasks_at_once)
    share = rate / tasks
    try:
        _native.check_rate_limit(share)
    except ValidationError as e:
        raise ValidationError(
            f"invalid rate_limit: {rate:g} calls per second shared by {tasks} tasks at once is below "
            "the slowest rate limit per task (0.001 calls per second)",
            field="rate_limit",
            detail=e.detail,
        ) from None
    return share


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything a partition needs besides its rows; pickled into each task."""

    shipped: ShippedVision
    columns: Optional[Mapping[str, str]]
    keep: Tuple[str, ...]
    request_id_column: Optional[str]
    ignore_unknown: bool
    concurrency: int
    rate_limit: RateLimit
    options: Optional[Mapping[str, Any]]
    checkpoint: Optional[str]
    checkpoint_rows: int
    #: The result columns (after the kept ones), from the probe.
    result_columns: Optional["pa.Schema"] = None

    def __repr__(self) -> str:
        # Task graphs print their arguments: the client's repr (no credentials),
        # and the names of the options, never their values.
        return (
            f"glair_vision.verify_table settings({self.shipped!r}, columns={self.columns!r}, keep={list(self.keep)!r}, "
            f"concurrency={self.concurrency}, rate_limit={self.rate_limit!r}, options={sorted(self.options or ())!r}, "
            f"checkpoint={self.checkpoint!r})"
        )

    @property
    def result_names(self) -> Tuple[str, ...]:
        return tuple(self.result_columns.names) if self.result_columns is not None else ()

    def verify(self, data: Any) -> Any:
        return self.shipped.vision().identity.verify_table(  # type: ignore[attr-defined, unused-ignore]
            data,
            columns=dict(self.columns) if self.columns is not None else None,
            keep=self.keep,
            request_id_column=self.request_id_column,
            ignore_unknown=self.ignore_unknown,
            concurrency=self.concurrency,
            rate_limit=self.rate_limit,
            options=dict(self.options) if self.options is not None else None,
        )

    def fingerprint(self) -> str:
        """What a journal entry's results depend on besides the rows: the column
        mapping, the options and the endpoint (never the credentials)."""
        from . import __version__

        vision = self.shipped.vision()
        described = json.dumps(
            {
                "columns": sorted((self.columns or {}).items()),
                "keep": list(self.keep),
                "request_id_column": self.request_id_column,
                "ignore_unknown": self.ignore_unknown,
                "options": sorted((k, repr(v)) for k, v in (self.options or {}).items()),
                "base_url": vision.base_url,
                "api_version": vision.api_version,
                "version": __version__,
            },
            sort_keys=True,
        )
        return hashlib.sha256(described.encode()).hexdigest()


def settings(
    vision: Vision,
    input_schema: "pa.Schema",
    *,
    tasks_at_once: int,
    columns: Optional[Mapping[str, str]],
    keep: Sequence[str],
    request_id_column: Optional[str],
    ignore_unknown: bool,
    concurrency: int,
    rate_limit: Union[None, str, float],
    options: Optional[Mapping[str, Any]],
    checkpoint: Union[str, "os.PathLike[str]", None],
    checkpoint_rows: int,
) -> Tuple[Settings, "pa.Schema"]:
    """The settings every task gets and the result schema (kept columns, then the
    result columns). The schema comes from ``verify_table`` itself over no rows:
    the column mapping is checked here, before any task runs, and no call is made.
    Each task gets the account-wide ``rate_limit`` divided by ``tasks_at_once``."""
    rate_limit = per_task_rate(rate_limit, tasks_at_once)
    if isinstance(keep, str):
        keep = (keep,)
    # 1 to 100,000 (the core's range): a chunk is what a partition holds at a time.
    checkpoint_rows = _native.check_checkpoint_rows(checkpoint_rows)
    s = Settings(
        shipped=ShippedVision(vision),
        columns=dict(columns) if columns is not None else None,
        keep=tuple(keep),
        request_id_column=request_id_column,
        ignore_unknown=ignore_unknown,
        concurrency=concurrency,
        rate_limit=rate_limit,
        options=dict(options) if options is not None else None,
        checkpoint=os.fspath(checkpoint) if checkpoint is not None else None,
        checkpoint_rows=checkpoint_rows,
    )
    if s.checkpoint is not None:
        _storage.check(s.checkpoint)  # a URL nothing can open is refused before any task
    probe = s.verify(normalize_schema(input_schema).empty_table())
    schema = probe.schema
    import pyarrow as pa

    s = dataclasses.replace(s, result_columns=pa.schema(list(schema)[len(s.keep) :]))
    return s, schema


def normalize_schema(schema: "pa.Schema") -> "pa.Schema":
    """A column of nulls only (pandas' object column of None, an empty partition)
    has Arrow type null; as text it is simply unset, like any null value."""
    import pyarrow as pa

    return pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema])


def is_text(arrow_type: "pa.DataType") -> bool:
    """Text of any Arrow layout (the result columns' text may come in any)."""
    import pyarrow as pa

    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type))


def normalize_batch(batch: "pa.RecordBatch") -> "pa.RecordBatch":
    import pyarrow as pa

    if not any(pa.types.is_null(f.type) for f in batch.schema):
        return batch
    return batch.cast(normalize_schema(batch.schema))


def verify_batches(
    s: Settings, schema: "pa.Schema", batches: Iterable["pa.RecordBatch"], partition: int
) -> Iterator["pa.RecordBatch"]:
    """One partition's results, in input order, as record batches of the result
    schema (kept columns, then result columns). Without a checkpoint the whole
    partition streams through one ``verify_table`` call; with one, see
    :class:`_Journal`."""
    import pyarrow as pa

    schema = normalize_schema(schema)
    batches = (normalize_batch(b) for b in batches)
    if s.checkpoint is None:
        reader = pa.RecordBatchReader.from_batches(schema, batches)
        verified = s.verify(reader)
        if not isinstance(verified, pa.RecordBatchReader):  # any Arrow C stream
            verified = pa.RecordBatchReader.from_stream(verified)
        yield from verified
        return
    journal = _Journal(s, partition)
    for chunk in _chunks(batches, s.checkpoint_rows):
        yield journal.verified(chunk)


def _chunks(batches: Iterable["pa.RecordBatch"], rows: int) -> Iterator["pa.RecordBatch"]:
    """The rows in batches of exactly ``rows`` (the last one shorter), however the
    engine cut them: journal entries then do not depend on the engine's batching."""
    import pyarrow as pa

    pending: List[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        offset = 0
        while offset < batch.num_rows:
            take = min(rows - held, batch.num_rows - offset)
            pending.append(batch.slice(offset, take))
            held += take
            offset += take
            if held == rows:
                yield _concat(pending)
                pending, held = [], 0
    if held:
        yield _concat(pending)


def _concat(parts: List["pa.RecordBatch"]) -> "pa.RecordBatch":
    import pyarrow as pa

    if len(parts) == 1:
        return parts[0]
    return pa.Table.from_batches(parts).combine_chunks().to_batches()[0]


class _Journal:
    """A checkpointed partition: its rows go through ``verify_table`` in chunks of
    ``checkpoint_rows``, one chunk at a time, and each chunk's result columns are
    written to ``{checkpoint}/part-{partition}/{chunk}-{hash}.arrow`` (Arrow IPC,
    under a temporary name, then renamed) before the next chunk starts. The hash
    covers the chunk's rows and the settings, so a retried attempt of the same
    partition finds the chunks the earlier attempt finished and calls only the
    others; different rows never reuse a result. Only result columns are written:
    no input value (NIK, name) lands on the shared filesystem."""

    def __init__(self, s: Settings, partition: int, create: bool = True) -> None:
        self.s = s
        self.partition = partition
        self.directory = _storage.Directory(s.checkpoint or "").child(f"part-{partition:05d}")
        if create:  # (a dry run only looks)
            self.directory.make()
        self.fingerprint = s.fingerprint().encode()
        self.index = 0

    def _name(self, chunk: "pa.RecordBatch") -> str:
        name = f"{self.index:06d}-{self._hash(chunk)}.arrow"
        self.index += 1
        return name

    def verified(self, chunk: "pa.RecordBatch") -> "pa.RecordBatch":
        import pyarrow as pa

        name = self._name(chunk)
        results = self._read(name)
        if results is None:
            verified = pa.table(self.s.verify(pa.Table.from_batches([chunk])))
            results = verified.select(list(self.s.result_names)).combine_chunks()
            self._write(name, results)
            _fault_after_journal(self.directory.file(name), self.index)
        kept = [chunk.column(name) for name in self.s.keep]
        arrays = kept + [results.column(i).combine_chunks() for i in range(results.num_columns)]
        names = list(self.s.keep) + list(results.schema.names)
        return pa.RecordBatch.from_arrays(arrays, names=names)

    def done(self, chunk: "pa.RecordBatch") -> bool:
        """Whether the next chunk, ``chunk``, has its results journaled (and moves on)."""
        try:
            return self._read(self._name(chunk)) is not None
        except OSError:
            return False

    def _hash(self, chunk: "pa.RecordBatch") -> str:
        # Of the values, not of their Arrow buffers: the same rows batched
        # another way (a slice, a concatenation, a bitmap present or not) must
        # find the same entry. Names and types count; schema metadata does not.
        digest = hashlib.sha256(self.fingerprint)
        for field, column in zip(chunk.schema, chunk.columns):
            digest.update(json.dumps([field.name, str(field.type), column.to_pylist()], default=repr).encode())
        return digest.hexdigest()[:32]

    def _read(self, name: str) -> Optional["pa.Table"]:
        import pyarrow as pa

        data = self.directory.read(name)
        if data is None:
            return None
        table = pa.ipc.open_file(pa.py_buffer(data)).read_all()
        if tuple(table.schema.names) != self.s.result_names:
            return None
        return table

    def _write(self, name: str, results: "pa.Table") -> None:
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, results.schema) as writer:
            writer.write_table(results)
        self.directory.write(name, sink.getvalue().to_pybytes())


#: Test seam, read only when a checkpoint is used: "N:DIR" makes the first attempt
#: at each partition fail right after journaling its N-th chunk (DIR holds one
#: marker per partition so that the engine's retry gets through; no DIR, no
#: fault). The checkpoint tests use it to fail tasks half-way at a point they can check.
_FAULT_VARIABLE = "GLAIR_VISION_TEST_FAIL_AFTER_CHUNKS"


def _fault_after_journal(path: str, chunks_done: int) -> None:
    setting = os.environ.get(_FAULT_VARIABLE)
    if not setting:
        return
    count, _, markers = setting.partition(":")
    if chunks_done != int(count) or not os.path.isdir(markers):
        return
    partition = os.path.basename(os.path.dirname(path))
    marker = os.path.join(markers, f"{partition}-{os.path.basename(path)}")
    try:
        with open(marker, "x"):
            pass
    except FileExistsError:
        return
    raise RuntimeError(f"injected fault after chunk {chunks_done} of {partition} ({_FAULT_VARIABLE})")


def journaled_rows(s: Settings, schema: "pa.Schema", batches: Iterable["pa.RecordBatch"]) -> List[Tuple[int, int]]:
    """The rows (ranges from 1, end exclusive) of one partition whose chunks are
    journaled in ``s.checkpoint``, found without writing anything."""
    journal = _Journal(s, 0, create=False)
    ranges: List[Tuple[int, int]] = []
    start = 1
    for chunk in _chunks((normalize_batch(b) for b in batches), s.checkpoint_rows):
        if journal.done(chunk):
            ranges.append((start, start + chunk.num_rows))
        start += chunk.num_rows
    return ranges


__all__ = [
    "DEFAULT_CHECKPOINT_ROWS",
    "ShippedVision",
    "Settings",
    "settings",
    "per_task_rate",
    "is_text",
    "verify_batches",
]
