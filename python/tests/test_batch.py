"""verification_batch (ordered list) and verification_batch_iter (as completed)."""

from __future__ import annotations

import itertools
from typing import Dict, Iterator

import pytest
from conftest import closed_url, BUDI_NIK, FAULT, SITI, SLOW_NIK

from glair_vision import (
    APIConnectionError,
    GlairVisionError,
    PermissionDeniedError,
    Sandbox,
    ServiceUnavailableError,
    ValidationError,
    Verification,
    Vision,
)

MIXED = [
    {"nik": SITI["nik"], "name": "SITI RAHAYU", "date_of_birth": "05-08-1990"},  # 0 ok
    {"nik": BUDI_NIK, "name": "SOMEONE ELSE"},  # 1 mismatch (a result)
    {"nik": "12345"},  # 2 invalid NIK
    {"nik": SITI["nik"], "nama": "SITI"},  # 3 unknown key
    {"nik": SITI["nik"], "rt": 7},  # 4 wrong value type
    {"nik": FAULT + "9503"},  # 5 503
    "not a dict",  # 6 not a record
    {"nik": FAULT + "9001"},  # 7 fails once, retried
    {"nik": SITI["nik"], "date_of_birth": None, "name": None},  # 8 None = unset
]


def _kinds(outcomes: list) -> list:
    return [type(o).__name__ for o in outcomes]


def test_ordered_batch_with_mixed_outcomes(sandbox: Sandbox, vision: Vision) -> None:
    before = len(sandbox.requests())
    out = vision.identity.verification_batch(MIXED, concurrency=4)
    assert _kinds(out) == [
        "Verification",
        "Verification",
        "ValidationError",
        "ValidationError",
        "ValidationError",
        "ServiceUnavailableError",
        "ValidationError",
        "Verification",
        "Verification",
    ]
    assert out[0].verification_status and not out[1].verification_status
    assert out[2].field == "nik" and out[3].field == "nama" and out[4].field == "rt" and out[6].field == "record"
    assert out[5].status_code == 503 and out[5].request_id
    assert out[8].result.to_dict()["name"] is None
    sent = sandbox.requests()[before:]
    # invalid rows were never sent; 503 was retried twice; 9001 once
    niks = [r["fields"]["nik"] for r in sent]
    assert "12345" not in niks
    assert niks.count(FAULT + "9503") == 3
    assert niks.count(FAULT + "9001") == 2
    assert len(sent) == 3 + 3 + 2  # rows 0, 1, 8 + 503 x3 + 9001 x2


def test_batch_per_call_overrides(vision: Vision) -> None:
    out = vision.identity.verification_batch([{"nik": SITI["nik"]}] * 3, api_key="wrong")
    assert all(isinstance(o, PermissionDeniedError) for o in out)
    out = vision.identity.verification_batch([{"nik": FAULT + "9503"}], max_retries=0)
    assert isinstance(out[0], ServiceUnavailableError)
    out = vision.identity.verification_batch([{"nik": SITI["nik"]}], base_url=closed_url(), max_retries=0)
    assert isinstance(out[0], APIConnectionError)


def test_large_batch_keeps_order(sandbox: Sandbox, vision: Vision) -> None:
    people = sandbox.records()[:50]
    records = [{"nik": p["nik"], "name": p["name"]} for p in people] * 4
    out = vision.identity.verification_batch(records, concurrency=32)
    assert len(out) == 200
    for rec, o in zip(records, out):
        assert isinstance(o, Verification) and o.verification_status, (o, rec["nik"][:6])


def test_empty_batch(vision: Vision) -> None:
    assert vision.identity.verification_batch([]) == []
    assert list(vision.identity.verification_batch_iter([])) == []


def test_iterator_yields_every_index_once(vision: Vision) -> None:
    seen: Dict[int, object] = {}
    for index, outcome in vision.identity.verification_batch_iter(MIXED, concurrency=3):
        assert index not in seen
        seen[index] = outcome
    assert sorted(seen) == list(range(len(MIXED)))
    ordered = vision.identity.verification_batch(MIXED, concurrency=3)
    for i, o in enumerate(ordered):
        assert type(seen[i]) is type(o)
        if isinstance(o, Verification):
            assert seen[i].verification_status == o.verification_status  # type: ignore[attr-defined]
            assert seen[i].reason == o.reason  # type: ignore[attr-defined]


def test_iterator_yields_as_completed(vision: Vision) -> None:
    records = [{"nik": SLOW_NIK}] + [{"nik": SITI["nik"]}] * 5
    order = [i for i, _ in vision.identity.verification_batch_iter(records, concurrency=6)]
    assert sorted(order) == list(range(6))
    assert order[-1] == 0, "the slow call completes last"


def test_iterator_reads_input_lazily(vision: Vision) -> None:
    pulled = 0

    def endless() -> Iterator[dict]:
        nonlocal pulled
        for _ in itertools.count():
            pulled += 1
            yield {"nik": SITI["nik"]}

    it = vision.identity.verification_batch_iter(endless(), concurrency=4)
    got = [next(it) for _ in range(10)]
    it.close()  # cancels what is in flight
    assert len(got) == 10
    assert pulled < 10 + 4 * 2 + 10, f"pulled {pulled} records for 10 results"


def test_rate_limit(sandbox: Sandbox, vision: Vision) -> None:
    # 10/s: five calls take at least ~0.4 s (no upper bound asserted)
    import time

    start = time.monotonic()
    out = vision.identity.verification_batch([{"nik": SITI["nik"]}] * 5, concurrency=5, rate_limit=10)
    assert all(isinstance(o, Verification) for o in out)
    assert time.monotonic() - start >= 0.35


@pytest.mark.parametrize(
    "kwargs,exc",
    [
        ({"concurrency": 0}, ValidationError),
        ({"concurrency": 10**30}, ValidationError),
        ({"concurrency": 2**64 - 1}, ValidationError),
        ({"concurrency": "8"}, TypeError),
        ({"concurrency": True}, TypeError),
        ({"concurrency": 8.0}, TypeError),
        ({"rate_limit": 0}, ValidationError),
        ({"rate_limit": -1.5}, ValidationError),
        ({"rate_limit": float("nan")}, ValidationError),
        ({"rate_limit": 1e-300}, ValidationError),
        ({"rate_limit": "fast"}, ValidationError),
        ({"rate_limit": [10]}, TypeError),
        ({"max_retries": -1}, ValidationError),
        ({"timeout": float("inf")}, ValidationError),
        ({"bogus": 1}, TypeError),
        ({"timeout": "slow"}, TypeError),
    ],
)
def test_bad_batch_options(vision: Vision, kwargs: dict, exc: type) -> None:
    with pytest.raises(exc):
        vision.identity.verification_batch([{"nik": SITI["nik"]}], **kwargs)
    with pytest.raises(exc):
        list(vision.identity.verification_batch_iter([{"nik": SITI["nik"]}], **kwargs))


def test_records_may_be_any_mapping(vision: Vision) -> None:
    import collections
    import types

    out = vision.identity.verification_batch(
        [types.MappingProxyType({"nik": SITI["nik"]}), collections.OrderedDict(nik=SITI["nik"], name="SITI RAHAYU")]
    )
    assert all(isinstance(o, Verification) and o.verification_status for o in out)


def test_outcomes_are_exceptions_not_raised(vision: Vision) -> None:
    out = vision.identity.verification_batch([{"nik": "1"}, {"nik": SITI["nik"]}])
    assert isinstance(out[0], ValidationError) and isinstance(out[0], GlairVisionError)
    assert isinstance(out[1], Verification)
