"""verify_table against the sandbox: every input kind (pyarrow Table, RecordBatch
and RecordBatchReader, pandas, polars, any ``__arrow_c_stream__`` object) with
nulls, bad rows and kept columns, compared row by row with single calls; a
reader larger than its batch size streamed lazily, in order, in bounded memory;
argument errors raised with nothing sent."""

from __future__ import annotations

import asyncio
import datetime
import faulthandler
import re
import subprocess
import sys
from typing import Any, Dict, Iterator, List, Optional

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from conftest import BUDI_NIK, FAULT, SITI, SLOW_NIK

from glair_vision import (
    FIELDS,
    AsyncVision,
    ConfigurationError,
    GlairVisionError,
    Sandbox,
    ValidationError,
    Vision,
)

RESULT_COLUMNS = (
    ["outcome", "verification_status", "reason"]
    + [f"result_{f}" for f in FIELDS]
    + ["error_kind", "error_message", "request_id"]
)
INDONESIAN = {"nama": "name", "tanggal_lahir": "date_of_birth"}


def _date(dmy: str) -> datetime.date:
    d, m, y = dmy.split("-")
    return datetime.date(int(y), int(m), int(d))


def people(sandbox: Sandbox, n: int) -> List[Dict[str, Any]]:
    """`n` rows as a re-KYC job has them: an id, Indonesian column names, a date,
    an int, nulls, wrong names, bad rows and fault NIKs."""
    registry = sandbox.records()
    rows = []
    for i in range(n):
        p = registry[i % len(registry)]
        nik: Optional[str] = p["nik"]
        if i % 17 == 3:
            nik = "12345"  # invalid: an error row, never sent
        elif i % 17 == 5:
            nik = None  # missing: an error row
        elif i % 17 == 7:
            nik = FAULT + "9404"  # the API answers 404: an error row
        name: Optional[str] = p.get("name")
        if i % 5 == 0:
            name = "SOMEONE ELSE"
        elif i % 5 == 1:
            name = None
        dob = _date(p["date_of_birth"]) if p.get("date_of_birth") and i % 4 != 2 else None
        rt = int(p["rt"]) if p.get("rt") and i % 3 != 1 else None
        rows.append(
            {"customer_id": 1000 + i, "nik": nik, "nama": name, "tanggal_lahir": dob, "rt": rt, "ref": f"ref-{i}"}
        )
    return rows


def arrow_table(rows: List[Dict[str, Any]]) -> Any:
    schema = pa.schema(
        [
            ("customer_id", pa.int64()),
            ("nik", pa.string()),
            ("nama", pa.string()),
            ("tanggal_lahir", pa.date32()),
            ("rt", pa.int64()),
            ("ref", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def single(vision: Vision, row: Dict[str, Any]) -> Dict[str, Any]:
    """The result columns a single call gives for `row` (the server's request id,
    different for every call, left out)."""
    fields = {
        "nik": row["nik"],
        "name": row["nama"],
        "date_of_birth": row["tanggal_lahir"],
        "rt": None if row["rt"] is None else str(row["rt"]),
    }
    try:
        v = vision.identity.verification(**{k: x for k, x in fields.items() if x is not None}, request_id=row["ref"])
    except GlairVisionError as e:
        return {
            "outcome": "error",
            "verification_status": None,
            "reason": getattr(e, "reason", None),
            **{f"result_{f}": None for f in FIELDS},
            "error_kind": e.code,
            "error_message": _scrub(str(e)),
        }
    return {
        "outcome": "verified" if v.verification_status else "not_verified",
        "verification_status": v.verification_status,
        "reason": v.reason,
        **{f"result_{f}": x for f, x in v.result.to_dict().items()},
        "error_kind": None,
        "error_message": None,
    }


def _scrub(message: Optional[str]) -> Optional[str]:
    return None if message is None else re.sub(r"request id [^,\]]+", "request id <id>", message, count=1)


def _clean(value: Any) -> Any:
    """pandas' missing values as None."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value


def result_part(row: Dict[str, Any]) -> Dict[str, Any]:
    out = {k: _clean(row[k]) for k in RESULT_COLUMNS if k != "request_id"}
    out["error_message"] = _scrub(out["error_message"])
    return out


def check_rows(
    sandbox: Sandbox, vision: Vision, rows: List[Dict[str, Any]], results: List[Dict[str, Any]], before: int
) -> None:
    """Every result row equals a single call's; each sendable row was sent once."""
    sent = [r["client_request_id"] for r in sandbox.requests()[before:]]
    assert len(results) == len(rows)
    kinds = set()
    for row, got in zip(rows, results):
        assert _clean(got["customer_id"]) == row["customer_id"]
        expected = single(vision, row)
        assert result_part(got) == expected, row["ref"]
        if expected["error_kind"] == "validation":
            assert row["ref"] not in sent, f"{row['ref']} was sent"
        else:
            assert sent.count(row["ref"]) == 1, f"{row['ref']} sent {sent.count(row['ref'])} times"
            assert got["request_id"], "the API's Request-Id"
        kinds.add(expected["outcome"] if expected["outcome"] != "error" else expected["error_kind"])
    assert kinds >= {"verified", "not_verified", "validation", "not_found"}, kinds
    # No input value ever reaches a request as the text of a missing value.
    for request in sandbox.requests()[before:]:
        for value in request["fields"].values():
            assert value not in ("nan", "NaN", "None", "<NA>", "NaT", "null"), request["fields"]


VERIFY = dict(columns=INDONESIAN, keep=["customer_id"], request_id_column="ref", concurrency=8)


def test_pyarrow_table(sandbox: Sandbox, vision: Vision) -> None:
    rows = people(sandbox, 120)
    sandbox.clear_requests()  # the log keeps the latest 10,000: count from empty
    before = 0
    out = vision.identity.verify_table(arrow_table(rows), **VERIFY)
    assert isinstance(out, pa.Table)
    assert out.column_names == ["customer_id"] + RESULT_COLUMNS
    assert out.schema.field("customer_id").type == pa.int64()
    check_rows(sandbox, vision, rows, out.to_pylist(), before)


def test_pyarrow_record_batch(sandbox: Sandbox, vision: Vision) -> None:
    rows = people(sandbox, 40)
    sandbox.clear_requests()  # the log keeps the latest 10,000: count from empty
    before = 0
    batch = arrow_table(rows).combine_chunks().to_batches()[0]
    out = vision.identity.verify_table(batch, **VERIFY)
    assert isinstance(out, pa.RecordBatch) and out.num_rows == 40
    check_rows(sandbox, vision, rows, out.to_pylist(), before)


def test_pandas_with_none_nan_and_pd_na(sandbox: Sandbox, vision: Vision) -> None:
    rows = people(sandbox, 90)
    frame = pd.DataFrame(rows)
    # Each kind of missing value pandas has: None (object), NaN (float), pd.NA (nullable Int64).
    names = [r["nama"] if r["nama"] is not None else (None if i % 2 else float("nan")) for i, r in enumerate(rows)]
    frame["nama"] = pd.Series(names, dtype=object)
    frame["rt"] = frame["rt"].astype("Int64")
    frame["tanggal_lahir"] = pd.to_datetime(frame["tanggal_lahir"])  # NaT where missing
    assert frame["nama"].map(lambda v: v is None).any() and frame["nama"].map(lambda v: v != v).any()
    assert frame["rt"].map(lambda v: v is pd.NA).any()
    frame.index = pd.RangeIndex(500, 590)
    sandbox.clear_requests()  # the log keeps the latest 10,000: count from empty
    before = 0
    out = vision.identity.verify_table(frame, **VERIFY)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["customer_id"] + RESULT_COLUMNS
    assert list(out.index) == list(frame.index), "the input's index, row for row"
    check_rows(sandbox, vision, rows, out.to_dict("records"), before)


def test_polars_with_nulls(sandbox: Sandbox, vision: Vision) -> None:
    rows = people(sandbox, 90)
    frame = pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.Int64,
            "nik": pl.Utf8,
            "nama": pl.Utf8,
            "tanggal_lahir": pl.Date,
            "rt": pl.Int32,
            "ref": pl.Utf8,
        },
    )
    sandbox.clear_requests()  # the log keeps the latest 10,000: count from empty
    before = 0
    out = vision.identity.verify_table(frame, **VERIFY)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == ["customer_id"] + RESULT_COLUMNS
    check_rows(sandbox, vision, rows, out.to_dicts(), before)


class ArrowStream:
    """Any library's table: only the Arrow PyCapsule stream interface."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self._table.__arrow_c_stream__(requested_schema)


def test_any_arrow_c_stream_object(sandbox: Sandbox, vision: Vision) -> None:
    rows = people(sandbox, 60)
    sandbox.clear_requests()  # the log keeps the latest 10,000: count from empty
    before = 0
    out = vision.identity.verify_table(ArrowStream(arrow_table(rows)), **VERIFY)
    assert isinstance(out, pa.Table)
    check_rows(sandbox, vision, rows, out.to_pylist(), before)


def test_date_of_birth_as_dates_and_timestamps(vision: Vision) -> None:
    day = datetime.date(1990, 8, 5)
    jakarta_midnight = datetime.datetime(1990, 8, 4, 17, tzinfo=datetime.timezone.utc)
    table = pa.table(
        {
            "nik": [SITI["nik"]] * 4,
            "text": ["05-08-1990"] * 4,
            "d32": pa.array([day] * 4, pa.date32()),
            "ts": pa.array([datetime.datetime(1990, 8, 5, 9, 30)] * 4, pa.timestamp("s")),
            "tz": pa.array([jakarta_midnight] * 4, pa.timestamp("ns", tz="Asia/Jakarta")),
        }
    )
    for column in ("text", "d32", "ts", "tz"):
        out = vision.identity.verify_table(
            table.select(["nik", column]), columns={column: "date_of_birth"}
        ).to_pylist()
        assert [r["result_date_of_birth"] for r in out] == [True] * 4, column


def test_reader_streams_lazily_in_order(sandbox: Sandbox, vision: Vision) -> None:
    schema = pa.schema([("id", pa.int64()), ("nik", pa.string())])
    pulled = []

    def batches() -> Iterator[Any]:
        for b in range(30):
            pulled.append(b)
            ids = list(range(b * 7, b * 7 + 7))
            niks = [SITI["nik"] if i % 3 else BUDI_NIK for i in ids]
            yield pa.record_batch([pa.array(ids, pa.int64()), pa.array(niks)], schema=schema)

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    out = vision.identity.verify_table(reader, keep=["id"], concurrency=7)
    assert isinstance(out, pa.RecordBatchReader)
    assert pulled == [], "nothing is read before the results are"
    ids: List[int] = []
    most_ahead = 0
    for batch in out:
        ids.extend(batch.column("id").to_pylist())
        assert set(batch.column("outcome").to_pylist()) <= {"verified", "not_verified"}
        most_ahead = max(most_ahead, len(pulled) - len(ids) // 7)
    assert ids == list(range(210))
    assert most_ahead <= 5, f"{most_ahead} input batches were read ahead of the output"


def test_consumers_with_or_without_the_gil_do_not_deadlock_a_python_backed_input(vision: Vision) -> None:
    """The input is a Python generator (its batches need the GIL); the results are
    read by pyarrow (which releases the GIL) and by polars (which reads the C
    stream from Rust, GIL held). Hung, the process is stopped with a traceback."""
    schema = pa.schema([("id", pa.int64()), ("nik", pa.string())])

    def reader() -> Any:
        def batches() -> Iterator[Any]:
            for b in range(20):
                ids = list(range(b * 5, b * 5 + 5))
                yield pa.record_batch([pa.array(ids, pa.int64()), pa.array([SITI["nik"]] * 5)], schema=schema)

        return pa.RecordBatchReader.from_batches(schema, batches())

    faulthandler.dump_traceback_later(120, exit=True)
    try:
        by_pyarrow = vision.identity.verify_table(reader(), keep=["id"], concurrency=3).read_all()
        by_polars = pl.from_arrow(vision.identity.verify_table(reader(), keep=["id"], concurrency=3))
        by_c_stream = pa.table(vision.identity.verify_table(reader(), keep=["id"], concurrency=3))
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert by_pyarrow.column("id").to_pylist() == list(range(100))
    assert isinstance(by_polars, pl.DataFrame) and by_polars["id"].to_list() == list(range(100))
    assert by_c_stream.column("outcome").to_pylist() == ["verified"] * 100


def test_a_reader_larger_than_memory_allows_streams_in_bounded_memory() -> None:
    """40,000 rows from a generator, 2,000 a batch, the first row slow (1.5 s):
    input batches are released as their results are read (pyarrow's pool never
    holds more than a few of the 20), and the input is pulled only a few batches
    ahead of the output, even while the first batch waits for its slow row."""
    # Its own sandbox: 40,000 calls would flood the shared one's request log.
    with Sandbox(slow_delay=1.5) as sandbox:
        _stream_batches(sandbox, sandbox.vision())


def _stream_batches(sandbox: Sandbox, vision: Vision) -> None:
    # 20 batches: holding them all (9 MB) would pass the bound of 8 below.
    total, size = 40_000, 2_000
    schema = pa.schema([("id", pa.int64()), ("nik", pa.string()), ("pad", pa.string())])
    niks = [p["nik"] for p in sandbox.records()[:50]]
    pad = "x" * 200  # 400 KB of padding a batch: kept around, it would show
    pulled = [0]

    def batches() -> Iterator[Any]:
        for start in range(0, total, size):
            pulled[0] += 1
            ids = pa.array(range(start, start + size), pa.int64())
            nik = [SLOW_NIK if i == 0 else niks[i % 50] for i in range(start, start + size)]
            yield pa.record_batch(
                [ids, pa.array(nik), pa.array([pad] * size)],
                schema=schema,
            )

    baseline = pa.total_allocated_bytes()
    reader = pa.RecordBatchReader.from_batches(schema, batches())
    out = vision.identity.verify_table(reader, keep=["id"], ignore_unknown=True, concurrency=64)
    seen = 0
    peak = 0
    most_ahead = 0
    for batch in out:
        ids = batch.column("id")
        assert ids[0].as_py() == seen and ids[len(ids) - 1].as_py() == seen + len(ids) - 1
        seen += len(ids)
        most_ahead = max(most_ahead, pulled[0] - seen // size)
        peak = max(peak, pa.total_allocated_bytes() - baseline)
        del batch, ids
    assert seen == total
    assert most_ahead <= 5, f"{most_ahead} batches read ahead"
    one_batch = size * (200 + 16 + 8)
    assert peak < 8 * one_batch, f"pyarrow held {peak} bytes ({peak / one_batch:.1f} input batches)"


def test_an_input_failure_surfaces_from_the_reader(vision: Vision) -> None:
    schema = pa.schema([("nik", pa.string())])

    def batches() -> Iterator[Any]:
        yield pa.record_batch([pa.array([SITI["nik"]])], schema=schema)
        raise RuntimeError("the export broke")

    out = vision.identity.verify_table(pa.RecordBatchReader.from_batches(schema, batches()))
    first = out.read_next_batch()
    assert first.column("outcome").to_pylist() == ["verified"]
    with pytest.raises(Exception, match="the export broke"):
        out.read_next_batch()


def test_bad_arguments_raise_before_anything_is_sent(sandbox: Sandbox, vision: Vision) -> None:
    table = arrow_table(people(sandbox, 5))
    pulled = []

    def generator_reader() -> Any:
        def batches() -> Iterator[Any]:
            pulled.append(1)
            yield from table.to_batches()

        return pa.RecordBatchReader.from_batches(table.schema, batches())

    sandbox.clear_requests()  # the log keeps the latest 10,000: count from empty
    before = 0
    verify = vision.identity.verify_table
    with pytest.raises(ConfigurationError, match="`nama`.*`tanggal_lahir`.*`ref`"):
        verify(table, keep=["customer_id"])  # unknown columns, all listed
    with pytest.raises(ConfigurationError, match="`nama`"):
        verify(generator_reader(), keep=["customer_id"])
    with pytest.raises(ConfigurationError, match="`nam`"):
        verify(table, columns={"nam": "name"}, ignore_unknown=True)  # no such column
    with pytest.raises(ConfigurationError, match="`nama_lengkap` .*not a field"):
        verify(table, columns={"nama": "nama_lengkap"}, ignore_unknown=True)
    with pytest.raises(ConfigurationError, match="`missing`"):
        verify(table, keep=["missing"], ignore_unknown=True)
    with pytest.raises(ConfigurationError, match=r"`flag` \(read into `name`\) has type Boolean"):
        verify(pa.table({"nik": [SITI["nik"]], "flag": [True]}), columns={"flag": "name"})
    with pytest.raises(TypeError, match="columns must be a dict"):
        verify(table, columns=[("nama", "name")])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="columns must map"):
        verify(table, columns={"nama": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="keep must be a list"):
        verify(table, keep="customer_id", ignore_unknown=True)
    with pytest.raises(TypeError, match="keep must list"):
        verify(table, keep=[1], ignore_unknown=True)  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="rate_limit"):
        verify(table, rate_limit="fast", ignore_unknown=True)
    with pytest.raises(TypeError, match="rate_limit"):
        verify(table, rate_limit=True, ignore_unknown=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ignore_unknown"):
        verify(table, ignore_unknown="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes a pyarrow Table"):
        verify([{"nik": SITI["nik"]}])
    with pytest.raises(TypeError, match="unknown option"):
        verify(table, ignore_unknown=True, options={"retries": 3})
    assert len(sandbox.requests()) == before, "nothing was sent"
    assert pulled == [], "no input batch was read"


def test_async_client(sandbox: Sandbox, async_vision: AsyncVision, vision: Vision) -> None:
    rows = people(sandbox, 50)

    async def main() -> Any:
        table = await async_vision.identity.verify_table(arrow_table(rows), **VERIFY)
        frame = await async_vision.identity.verify_table(pd.DataFrame(rows), **VERIFY)
        with pytest.raises(ConfigurationError):
            await async_vision.identity.verify_table(arrow_table(rows))
        return table, frame

    sandbox.clear_requests()  # the log keeps the latest 10,000: count from empty
    before = 0
    table, frame = asyncio.run(main())
    assert isinstance(table, pa.Table) and isinstance(frame, pd.DataFrame)
    sent = len(sandbox.requests()) - before
    assert table.to_pylist() and len(frame) == 50
    assert [result_part(r) for r in table.to_pylist()] == [result_part(r) for r in frame.to_dict("records")]
    assert sent == 2 * sum(1 for r in table.to_pylist() if r["error_kind"] != "validation")


def test_importing_the_package_imports_no_table_library() -> None:
    code = (
        "import sys, glair_vision; "
        "loaded = [m for m in ('pyarrow', 'pandas', 'polars') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
