"""Every case of tests/conformance/*.json, through the sync and the async client.

Each file gets its own sandbox per client kind (cases run in order: some faults
keep per-NIK state). An empty or missing vector directory is a failure."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import glair_vision
from glair_vision import FIELDS, Sandbox, Verification
from glair_vision.errors import GlairVisionError, error_class

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "conformance"


def _load() -> List[Tuple[str, Dict[str, Any], int]]:
    cases = []
    for path in sorted(VECTORS.glob("*.json")):
        spec = json.loads(path.read_text())
        for i, _ in enumerate(spec["cases"]):
            cases.append((path.name, spec, i))
    return cases


CASES = _load()


def test_vectors_exist() -> None:
    assert VECTORS.is_dir(), f"{VECTORS} is missing"
    assert CASES, f"no conformance cases found in {VECTORS}"


_sandboxes: Dict[Tuple[str, str], Sandbox] = {}


def _sandbox(file: str, mode: str, spec: Dict[str, Any]) -> Sandbox:
    key = (file, mode)
    if key not in _sandboxes:
        cfg = spec.get("sandbox") or {}
        kwargs: Dict[str, Any] = {}
        if "records" in cfg:
            kwargs["records"] = cfg["records"]
        if "slow_delay_ms" in cfg:
            kwargs["slow_delay"] = cfg["slow_delay_ms"] / 1000
        if "match_threshold" in cfg:
            kwargs["match_threshold"] = cfg["match_threshold"]
        unknown = set(cfg) - {"records", "slow_delay_ms", "match_threshold"}
        assert not unknown, f"runner does not know sandbox keys {unknown}"
        _sandboxes[key] = Sandbox(**kwargs).start()
    return _sandboxes[key]


@pytest.fixture(scope="module", autouse=True)
def _stop_sandboxes():
    yield
    for sb in _sandboxes.values():
        sb.stop()
    _sandboxes.clear()


def _options(case: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in (case.get("options") or {}).items():
        if key == "timeout_ms":
            out["timeout"] = value / 1000
        else:
            assert key in ("max_retries", "api_key", "username", "password", "base_url", "api_version"), key
            out[key] = value
    return out


def _check(case: Dict[str, Any], outcome: Any) -> None:
    expect = case["expect"]
    if "error" in expect:
        assert isinstance(outcome, GlairVisionError), f"expected {expect['error']}, got {outcome!r}"
        cls = error_class(expect["error"])
        assert type(outcome) is cls, f"expected {cls.__name__}, got {outcome!r}"
        assert outcome.code == expect["error"]
        if "status" in expect:
            assert outcome.status_code == expect["status"]
            assert outcome.request_id, "errors with a status carry the Request-Id"
        if "reason" in expect:
            assert outcome.reason == expect["reason"]
        if "field" in expect:
            assert outcome.field == expect["field"]
        if "retry_after" in expect:
            assert outcome.retry_after == pytest.approx(expect["retry_after"])
        return
    assert isinstance(outcome, Verification), f"expected a result, got {outcome!r}"
    assert outcome.request_id, "results carry the Request-Id"
    if "verification_status" in expect:
        assert outcome.verification_status is expect["verification_status"]
    if "reason" in expect:
        assert outcome.reason == expect["reason"]
    if "result" in expect:
        expected = {f: expect["result"].get(f) for f in FIELDS}
        assert outcome.result.to_dict() == expected


def _check_sent(case: Dict[str, Any], sb: Sandbox, before: int) -> None:
    sent = case.get("sent")
    if not sent:
        return
    received = sb.requests()[before:]
    if "attempts" in sent:
        assert len(received) == sent["attempts"]
    if "fields" in sent:
        assert received, "nothing reached the sandbox"
        assert received[-1]["fields"] == sent["fields"]


def _run(mode: str, file: str, spec: Dict[str, Any], index: int) -> None:
    case = spec["cases"][index]
    sb = _sandbox(file, mode, spec)
    options = _options(case)
    before = len(sb.requests())
    outcome: Any
    if mode == "sync":
        try:
            outcome = sb.vision().identity.verification(**case["request"], **options)
        except GlairVisionError as e:
            outcome = e
    else:

        async def call() -> Any:
            try:
                return await sb.async_vision().identity.verification(**case["request"], **options)
            except GlairVisionError as e:
                return e

        outcome = asyncio.run(call())
    _check(case, outcome)
    _check_sent(case, sb, before)


@pytest.mark.parametrize(
    "file,spec,index", CASES, ids=[f"{f}:{s['cases'][i]['name']}" for f, s, i in CASES]
)
def test_sync(file: str, spec: Dict[str, Any], index: int) -> None:
    _run("sync", file, spec, index)


@pytest.mark.parametrize(
    "file,spec,index", CASES, ids=[f"{f}:{s['cases'][i]['name']}" for f, s, i in CASES]
)
def test_async(file: str, spec: Dict[str, Any], index: int) -> None:
    _run("async", file, spec, index)


def test_batch_matches_single_calls() -> None:
    """The validation and fields vectors through verification_batch give the same
    outcomes as single calls (stateless files only)."""
    for name in ("validation.json", "fields.json", "documented.json"):
        path = VECTORS / name
        if not path.exists():
            continue
        spec = json.loads(path.read_text())
        cases = [c for c in spec["cases"] if not c.get("options")]
        with Sandbox() as sb:
            outcomes = sb.vision().identity.verification_batch([c["request"] for c in cases], concurrency=8)
        assert len(outcomes) == len(cases)
        for case, outcome in zip(cases, outcomes):
            _check(case, outcome)


assert glair_vision
