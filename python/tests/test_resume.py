"""verify_table(..., checkpoint=...) against the sandbox, the sandbox counting
calls: a run killed midway (SIGKILL, in a child process) and run again calls
only the rows no earlier run finished; a second run over the same input calls
nobody; a changed row calls its own chunk again and no other; a dry run counts
what a run would call (and what the checkpoint already holds) and sends
nothing; bad arguments raise with nothing sent."""

from __future__ import annotations

import asyncio
import collections
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any, Dict, List

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import SITI
from test_tables import VERIFY, arrow_table, people, result_part

from glair_vision import AsyncVision, ConfigurationError, Sandbox, ValidationError, Vision

CHUNK = 50


def calls_by_row(sandbox: Sandbox) -> collections.Counter:
    """Answered (not 429) calls per row, by the row's request id (its `ref`)."""
    return collections.Counter(r["client_request_id"] for r in sandbox.requests() if r["status"] != 429)


def sendable(rows: List[Dict[str, Any]]) -> List[str]:
    # The rows verify_table sends (an invalid or missing NIK is an error row, never sent).
    return [r["ref"] for r in rows if r["nik"] not in (None, "12345")]


def journal_files(checkpoint: pathlib.Path) -> List[pathlib.Path]:
    return sorted(checkpoint.glob("part-*/*.arrow"))


def test_a_second_run_reuses_every_result_and_calls_nobody(
    sandbox: Sandbox, vision: Vision, tmp_path: pathlib.Path
) -> None:
    rows = people(sandbox, 230)
    frame = pd.DataFrame(rows, index=[f"c{i}" for i in range(len(rows))])
    sandbox.clear_requests()
    plain = vision.identity.verify_table(frame, **VERIFY)
    sandbox.clear_requests()
    checkpoint = tmp_path / "job"
    first = vision.identity.verify_table(frame, **VERIFY, checkpoint=checkpoint, checkpoint_rows=CHUNK)
    assert isinstance(first, pd.DataFrame) and list(first.index) == list(frame.index)
    assert list(first.columns) == list(plain.columns)
    assert [result_part(r) for r in first.to_dict("records")] == [result_part(r) for r in plain.to_dict("records")]
    calls = calls_by_row(sandbox)
    assert sorted(calls) == sorted(sendable(rows)) and set(calls.values()) == {1}
    assert len(journal_files(checkpoint)) == 5  # 230 rows in chunks of 50
    for path in journal_files(checkpoint):  # result columns only: no NIK, no name
        data = path.read_bytes()
        assert SITI["nik"].encode() not in data and b"SOMEONE ELSE" not in data

    sandbox.clear_requests()
    again = vision.identity.verify_table(frame, **VERIFY, checkpoint=str(checkpoint), checkpoint_rows=CHUNK)
    assert len(sandbox.requests()) == 0
    pd.testing.assert_frame_equal(again, first)


def test_a_run_killed_midway_resumes_calling_only_the_rows_not_finished(
    sandbox: Sandbox, vision: Vision, tmp_path: pathlib.Path
) -> None:
    rows = people(sandbox, 600)
    source = tmp_path / "customers.parquet"
    pq.write_table(arrow_table(rows), source)
    checkpoint = tmp_path / "job"
    child = textwrap.dedent(
        f"""
        import pandas as pd
        from glair_vision import Vision
        vision = Vision(base_url={sandbox.url!r}, api_key={sandbox.api_key!r},
                        username={sandbox.username!r}, password={sandbox.password!r})
        frame = pd.read_parquet({str(source)!r})
        # 600 rows at 60 a second: ten seconds, killed well before the end.
        vision.identity.verify_table(frame, columns={VERIFY["columns"]!r}, keep=["customer_id"],
                                     request_id_column="ref", rate_limit=60,
                                     checkpoint={str(checkpoint)!r}, checkpoint_rows={CHUNK})
        """
    )
    sandbox.clear_requests()
    process = subprocess.Popen([sys.executable, "-c", child])
    try:
        deadline = time.monotonic() + 60
        while len(journal_files(checkpoint)) < 3:
            assert process.poll() is None, "the child finished or failed before it was killed"
            assert time.monotonic() < deadline, "no chunk journaled in time"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    done_before = len(journal_files(checkpoint))
    assert 3 <= done_before < 12
    called_before = calls_by_row(sandbox)

    results = vision.identity.verify_table(
        pd.read_parquet(source), **VERIFY, checkpoint=checkpoint, checkpoint_rows=CHUNK
    )
    assert len(results) == 600 and list(results["customer_id"]) == [r["customer_id"] for r in rows]
    assert (results["error_kind"] != "rate_limited").all()
    calls = calls_by_row(sandbox)
    assert sorted(calls) == sorted(sendable(rows)), "every sendable row answered, nothing else"
    twice = [ref for ref, n in calls.items() if n > 1]
    assert all(n <= 2 for n in calls.values())
    # Only the chunk in flight when the child died is called again.
    assert len(twice) <= CHUNK, f"{len(twice)} rows called twice"
    finished = {r["ref"] for r in rows[: done_before * CHUNK]}
    assert not [ref for ref in twice if ref in finished], "a journaled row was called again"
    assert sum(called_before.values()) >= done_before * CHUNK * 0.5
    assert len(journal_files(checkpoint)) == 12


def test_a_changed_row_calls_its_own_chunk_again_and_no_other(
    sandbox: Sandbox, vision: Vision, tmp_path: pathlib.Path
) -> None:
    rows = people(sandbox, 200)
    checkpoint = tmp_path / "job"
    vision.identity.verify_table(arrow_table(rows), **VERIFY, checkpoint=checkpoint, checkpoint_rows=CHUNK)
    changed = [dict(r) for r in rows]
    changed[120]["nama"] = "ANOTHER NAME"  # chunk 2 (rows 100-149)
    sandbox.clear_requests()
    results = vision.identity.verify_table(arrow_table(changed), **VERIFY, checkpoint=checkpoint, checkpoint_rows=CHUNK)
    assert results.num_rows == 200
    assert sorted(calls_by_row(sandbox)) == sorted(sendable(changed[100:150]))
    # A different chunk size is a different journal: every row is called again.
    sandbox.clear_requests()
    vision.identity.verify_table(arrow_table(rows), **VERIFY, checkpoint=checkpoint, checkpoint_rows=40)
    assert sorted(calls_by_row(sandbox)) == sorted(sendable(rows))


def test_a_reader_stays_lazy_and_the_async_client_resumes_too(
    sandbox: Sandbox, vision: Vision, async_vision: AsyncVision, tmp_path: pathlib.Path
) -> None:
    rows = people(sandbox, 120)
    table = arrow_table(rows)
    checkpoint = tmp_path / "job"
    sandbox.clear_requests()
    reader = vision.identity.verify_table(
        pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=7)),
        **VERIFY,
        checkpoint=checkpoint,
        checkpoint_rows=CHUNK,
    )
    assert isinstance(reader, pa.RecordBatchReader)
    assert len(sandbox.requests()) == 0, "nothing called until the reader is read"
    first = reader.read_all()
    assert first.num_rows == 120 and len(journal_files(checkpoint)) == 3

    sandbox.clear_requests()
    again = asyncio.run(
        async_vision.identity.verify_table(table, **VERIFY, checkpoint=checkpoint, checkpoint_rows=CHUNK)
    )
    assert len(sandbox.requests()) == 0
    assert again.to_pylist() == first.to_pylist()


def test_bad_checkpoint_arguments_raise_before_anything_is_sent(
    sandbox: Sandbox, vision: Vision, tmp_path: pathlib.Path
) -> None:
    table = arrow_table(people(sandbox, 10))
    sandbox.clear_requests()
    with pytest.raises(TypeError, match="checkpoint"):
        vision.identity.verify_table(table, **VERIFY, checkpoint=123)  # type: ignore[arg-type]
    for rows in (0, -1, 100_001):
        with pytest.raises(ValidationError, match="checkpoint_rows"):
            vision.identity.verify_table(table, **VERIFY, checkpoint=tmp_path / "a", checkpoint_rows=rows)
    with pytest.raises(TypeError, match="checkpoint_rows"):
        vision.identity.verify_table(table, **VERIFY, checkpoint=tmp_path / "b", checkpoint_rows="50")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="keep"):
        vision.identity.verify_table(table, columns=VERIFY["columns"], keep="customer_id", checkpoint=tmp_path / "c")
    with pytest.raises(TypeError, match="verify_table takes"):
        vision.identity.verify_table([{"nik": "1"}], checkpoint=tmp_path / "d")
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    with pytest.raises(ConfigurationError, match="reads the input twice"):
        vision.identity.verify_table(reader, **VERIFY, checkpoint=tmp_path / "e", dry_run=True)
    assert not (tmp_path / "e").exists(), "a dry run writes nothing"
    assert len(sandbox.requests()) == 0


def test_a_dry_run_counts_rows_calls_and_duplicates_and_sends_nothing(
    sandbox: Sandbox, vision: Vision, tmp_path: pathlib.Path
) -> None:
    rows = people(sandbox, 170)
    rows[10] = dict(rows[0], customer_id=5000, ref="copy-of-0")  # the same record again
    frame = pd.DataFrame(rows)
    sandbox.clear_requests()
    report = vision.identity.verify_table(frame, **VERIFY, dry_run=True)
    assert len(sandbox.requests()) == 0
    # Invalid: NIK "12345" (i % 17 == 3) and no NIK (i % 17 == 5); never the value.
    invalid = sum(1 for r in rows if r["nik"] in (None, "12345"))
    assert report["rows"] == 170 and report["invalid"] == invalid and report["valid"] == 170 - invalid
    assert sum(x["rows"] for x in report["invalid_by"]) == invalid and len(report["invalid_by"]) == 2
    assert all(x["field"] == "nik" and "12345" not in x["reason"] for x in report["invalid_by"])
    assert report["duplicate_rows"] >= 1 and report["already_done"] == 0
    assert report["calls"] == len(sendable(rows))  # duplicates are called too (no dedupe)
    # The calls it announced are the calls a run makes.
    vision.identity.verify_table(frame, **VERIFY)
    assert sum(calls_by_row(sandbox).values()) == report["calls"]

    # Over a checkpoint: the journaled chunks are done, not calls; nothing written.
    checkpoint = tmp_path / "job"
    vision.identity.verify_table(frame.iloc[:100], **VERIFY, checkpoint=checkpoint, checkpoint_rows=CHUNK)
    files = journal_files(checkpoint)
    sandbox.clear_requests()
    report = vision.identity.verify_table(frame, **VERIFY, checkpoint=checkpoint, checkpoint_rows=CHUNK, dry_run=True)
    assert len(sandbox.requests()) == 0 and journal_files(checkpoint) == files
    assert report["already_done"] == 100
    assert report["calls"] == len(sendable(rows[100:]))
    # The async client's dry run says the same.
    async_report = asyncio.run(
        sandbox.async_vision().identity.verify_table(
            frame, **VERIFY, checkpoint=checkpoint, checkpoint_rows=CHUNK, dry_run=True
        )
    )
    assert async_report == report
    with pytest.raises(TypeError, match="dry_run"):
        vision.identity.verify_table(frame, **VERIFY, dry_run="yes")  # type: ignore[arg-type]
    assert len(sandbox.requests()) == 0
