"""verify_table(..., dedupe=True) against the sandbox, the sandbox counting
calls: a record repeated (the same fields written another way) is called once
and every repeat carries its first row's results; the dry run announces the
calls the run makes; with a checkpoint a second run calls nobody; bad
arguments raise with nothing sent."""

from __future__ import annotations

import asyncio
import collections
import pathlib
from typing import Any, Dict, List

import pandas as pd
import pyarrow as pa
import pytest
from test_tables import VERIFY, arrow_table, people, result_part

from glair_vision import ConfigurationError, Sandbox, Vision

REPEATED = (0, 1, 2, 8)  # rows with a valid NIK (see test_tables.people)


def with_repeats(sandbox: Sandbox) -> List[Dict[str, Any]]:
    rows = people(sandbox, 60)
    for n, i in enumerate(REPEATED):
        nik = rows[i]["nik"]
        spaced = " ".join(nik[k : k + 4] for k in range(0, 16, 4))
        name = rows[i]["nama"]
        rows.append(
            dict(rows[i], customer_id=9000 + n, ref=f"again-{i}", nik=spaced, nama=None if name is None else f"  {name} ")
        )
    return rows


def calls(sandbox: Sandbox) -> collections.Counter:
    return collections.Counter(r["client_request_id"] for r in sandbox.requests() if r["status"] != 429)


def test_a_repeated_record_is_called_once_and_every_repeat_carries_its_results(
    sandbox: Sandbox, vision: Vision
) -> None:
    rows = with_repeats(sandbox)
    frame = pd.DataFrame(rows)
    sandbox.clear_requests()
    report = vision.identity.verify_table(frame, **VERIFY, dedupe=True, dry_run=True)
    assert report["dedupe"] is True and report["duplicate_rows"] == len(REPEATED)
    assert len(sandbox.requests()) == 0

    results = vision.identity.verify_table(frame, **VERIFY, dedupe=True)
    assert isinstance(results, pd.DataFrame) and len(results) == len(rows)
    assert list(results.columns[:2]) == ["customer_id", "duplicate_of"]
    sent = calls(sandbox)
    assert not [ref for ref in sent if ref.startswith("again-")], "a repeat was sent"
    assert set(sent.values()) == {1}
    assert sum(sent.values()) == report["calls"], "the dry run announced the calls made"
    out = results.to_dict("records")
    for n, i in enumerate(REPEATED):
        repeat = out[60 + n]
        assert repeat["customer_id"] == 9000 + n, "a repeat keeps its own kept columns"
        assert repeat["duplicate_of"] == i
        assert result_part(repeat) == result_part(out[i])
        assert repeat["request_id"] == out[i]["request_id"], "the one call's Request-Id"
    assert results["duplicate_of"].iloc[:60].isna().all()

    # The rows called are verified as without dedupe.
    plain = vision.identity.verify_table(frame.iloc[:60], **VERIFY)
    assert [result_part(r) for r in plain.to_dict("records")] == [result_part(r) for r in out[:60]]


def test_dedupe_with_a_checkpoint_resumes_and_the_async_client_dedupes_too(
    sandbox: Sandbox, vision: Vision, tmp_path: pathlib.Path
) -> None:
    rows = with_repeats(sandbox)
    table = arrow_table(rows)
    checkpoint = tmp_path / "job"
    sandbox.clear_requests()
    first = vision.identity.verify_table(table, **VERIFY, dedupe=True, checkpoint=checkpoint, checkpoint_rows=25)
    assert isinstance(first, pa.Table) and first.num_rows == len(rows)
    called = sum(calls(sandbox).values())
    sandbox.clear_requests()
    report = vision.identity.verify_table(
        table, **VERIFY, dedupe=True, checkpoint=checkpoint, checkpoint_rows=25, dry_run=True
    )
    assert report["already_done"] == 60 and report["calls"] == 0 and called > 0
    again = asyncio.run(
        sandbox.async_vision().identity.verify_table(
            table, **VERIFY, dedupe=True, checkpoint=checkpoint, checkpoint_rows=25
        )
    )
    assert len(sandbox.requests()) == 0, "every distinct row was journaled"
    assert again.to_pylist() == first.to_pylist()


def test_bad_dedupe_arguments_raise_before_anything_is_sent(sandbox: Sandbox, vision: Vision) -> None:
    table = arrow_table(people(sandbox, 10))
    sandbox.clear_requests()
    with pytest.raises(ConfigurationError, match="twice"):
        vision.identity.verify_table(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()), **VERIFY, dedupe=True)
    with pytest.raises(TypeError, match="dedupe"):
        vision.identity.verify_table(table, **VERIFY, dedupe=1)  # type: ignore[arg-type]
    renamed = table.rename_columns(["duplicate_of"] + table.column_names[1:])
    with pytest.raises(ConfigurationError, match="duplicate_of"):
        vision.identity.verify_table(renamed, columns=VERIFY["columns"], keep=["duplicate_of"], dedupe=True)
    with pytest.raises(ConfigurationError, match="not a field name"):
        vision.identity.verify_table(table, columns={"nama": "nama"}, dedupe=True)
    assert len(sandbox.requests()) == 0
