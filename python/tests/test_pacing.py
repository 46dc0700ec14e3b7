"""Adaptive pacing from Python, against a sandbox that limits the account as a
gateway does (a token bucket per API key, 429 with ``Retry-After``) and answers
with a latency spread: batches finish with no failed rows and no rate given,
each outcome says what it took, ``vision.pacing()`` shows the client's state."""

from __future__ import annotations

import asyncio
import json
import math
import os
import pickle
import subprocess
import sys
import textwrap
from typing import Any, Dict, Iterator, List

import pytest

from glair_vision import (
    AsyncVision,
    GlairVisionError,
    PacingState,
    RateLimitError,
    Sandbox,
    ValidationError,
    Verification,
    Vision,
)

from conftest import FAULT, SITI

# 100 requests/s per key, burst 10, 5 ms mean latency (2 ms spread).
LIMIT = 100.0
BURST = 10


@pytest.fixture
def limited() -> Iterator[Sandbox]:
    with Sandbox(rate_limit=LIMIT, burst=BURST, latency=0.005, latency_spread=0.002, seed=3) as sb:
        yield sb


def rows(sb: Sandbox, n: int) -> List[Dict[str, str]]:
    """`n` records over the registry's people (each answered 200)."""
    people = sb.records()
    return [{"nik": people[i % len(people)]["nik"]} for i in range(n)]


def failed(outcomes: List[Any]) -> List[GlairVisionError]:
    return [o for o in outcomes if isinstance(o, GlairVisionError)]


def test_a_batch_larger_than_the_burst_finishes_with_no_failed_rows(limited: Sandbox) -> None:
    vision = limited.vision()
    outcomes = vision.identity.verification_batch(rows(limited, 600), concurrency=64)
    assert failed(outcomes) == []
    pacing = vision.pacing()
    assert limited.throttled > 0, "64 calls at once into a burst of 10 are throttled"
    assert pacing.throttled == limited.throttled, "the client saw every 429 the server sent"
    assert pacing.succeeded == 600
    assert pacing.rate is not None and pacing.ceiling is None, "pacing engaged after the first 429"
    # Each outcome says what it took, and they add up to the client's counts.
    assert all(isinstance(o, Verification) and o.attempts == o.throttled + 1 for o in outcomes)
    assert sum(o.throttled for o in outcomes) == pacing.throttled
    assert sum(o.attempts for o in outcomes) == pacing.sent
    assert any(o.throttled for o in outcomes)


def test_the_async_iterator_paces_too_and_reports_throttling(limited: Sandbox) -> None:
    async def run() -> List[Any]:
        async with limited.async_vision() as avision:
            got = [pair async for pair in avision.identity.verification_batch_iter(rows(limited, 250), concurrency=64)]
            assert avision.pacing().throttled == sum(o.throttled for _, o in got)
            return got

    pairs = asyncio.run(run())
    assert sorted(i for i, _ in pairs) == list(range(250))
    assert failed([o for _, o in pairs]) == []
    assert limited.throttled > 0
    assert sum(o.throttled for _, o in pairs) == limited.throttled


# The same account (API key) from another process: a batch, then its outcome counts.
CHILD = textwrap.dedent(
    """
    import json, os, sys
    from glair_vision import GlairVisionError, Vision

    config = json.loads(os.environ["PACING_CHILD"])
    vision = Vision(**config["client"])
    outcomes = vision.identity.verification_batch(config["rows"], concurrency=32)
    bad = [o for o in outcomes if isinstance(o, GlairVisionError)]
    print(json.dumps({
        "rows": len(outcomes),
        "failed": len(bad),
        "first": repr(bad[0]) if bad else None,
        "throttled": vision.pacing().throttled,
    }))
    """
)


def test_two_processes_sharing_one_account_both_finish_with_no_failed_rows(limited: Sandbox) -> None:
    config = {"client": {"base_url": limited.url, **limited.credentials}, "rows": rows(limited, 300)}
    env = {**os.environ, "PACING_CHILD": json.dumps(config)}
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    reports = []
    for child in children:
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        reports.append(json.loads(out))
    assert [(r["rows"], r["failed"]) for r in reports] == [(300, 0), (300, 0)], reports
    assert limited.throttled > 0, "two clients into one bucket are throttled"
    assert sum(r["throttled"] for r in reports) == limited.throttled


BAD_RATES = [
    ("fast", ValidationError),
    ("", ValidationError),
    ("AUTO", ValidationError),
    (0, ValidationError),
    (-1.5, ValidationError),
    (float("nan"), ValidationError),
    (float("inf"), ValidationError),
    (True, TypeError),
    (False, TypeError),
    (b"auto", TypeError),
    ([10], TypeError),
]


@pytest.mark.parametrize("rate,exc", BAD_RATES)
def test_bad_rate_limits_are_refused_and_nothing_is_sent(limited: Sandbox, rate: Any, exc: type) -> None:
    vision = limited.vision()
    records = rows(limited, 3)
    with pytest.raises(exc) as raised:
        vision.identity.verification_batch(records, rate_limit=rate)
    assert "rate_limit" in str(raised.value)
    with pytest.raises(exc):
        vision.identity.verification_batch_iter(records, rate_limit=rate)
    with pytest.raises(exc):
        Vision(base_url=limited.url, rate_limit=rate, **limited.credentials)

    async def run() -> None:
        avision = limited.async_vision()
        with pytest.raises(exc):
            await avision.identity.verification_batch(records, rate_limit=rate)
        with pytest.raises(exc):
            avision.identity.verification_batch_iter(records, rate_limit=rate)

    asyncio.run(run())
    assert limited.requests() == []
    assert vision.pacing().sent == 0


@pytest.mark.parametrize("rate", ["auto", None])
def test_auto_and_none_are_the_default(sandbox: Sandbox, rate: Any) -> None:
    vision = Vision(base_url=sandbox.url, rate_limit=rate, **sandbox.credentials)
    assert vision.rate_limit == "auto"
    out = vision.identity.verification_batch([{"nik": SITI["nik"]}] * 3, rate_limit=rate)
    assert all(isinstance(o, Verification) for o in out)
    assert vision.pacing().ceiling is None


def test_pacing_state_shape(sandbox: Sandbox) -> None:
    vision = sandbox.vision()
    state = vision.pacing()
    assert isinstance(state, PacingState)
    assert state == PacingState(None, None, 0, 0, 0, 0, False)
    assert state.to_dict() == {
        "rate": None,
        "ceiling": None,
        "sent": 0,
        "retries": 0,
        "throttled": 0,
        "succeeded": 0,
        "paused": False,
        "limit": None,
        "window": None,
        "model": "unpaced",
        "from_headers": False,
        "store_processes": None,
        "store_joined": None,
        "store_connected": None,
        "store_round_trips": None,
        "store_wait_p99": None,
    }
    assert repr(state) == (
        "PacingState(model='unpaced', rate=None, limit=None, ceiling=None, sent=0, retries=0, throttled=0, "
        "succeeded=0, paused=False)"
    )
    with pytest.raises(AttributeError):
        state.sent = 5  # type: ignore[misc]
    vision.identity.verification(nik=SITI["nik"])
    after = vision.pacing()
    assert (after.sent, after.succeeded, after.throttled) == (1, 1, 0)
    assert pickle.loads(pickle.dumps(after)) == after
    # One pacer per client: a client made with with_options shares it.
    vision.with_options(timeout=5).identity.verification(nik=SITI["nik"])
    assert vision.pacing().sent == 2


def test_a_fixed_client_rate_limit_is_the_ceiling(sandbox: Sandbox) -> None:
    vision = Vision(base_url=sandbox.url, rate_limit=250, **sandbox.credentials)
    assert vision.rate_limit == 250.0
    state = vision.pacing()
    assert (state.rate, state.ceiling) == (250.0, 250.0)
    assert "rate=250.0, limit=None, ceiling=250.0" in repr(state)
    # It survives pickling (by configuration).
    assert pickle.loads(pickle.dumps(vision)).pacing().ceiling == 250.0


def test_a_429_that_outlives_the_retries_reports_its_attempts(sandbox: Sandbox) -> None:
    # ...9429 always answers 429: a single call gives up after its retries; in a
    # batch the outcome is the exception, carrying what it took.
    vision = Vision(base_url=sandbox.url, max_retries=1, deadline=1.5, **sandbox.credentials)
    out = vision.identity.verification_batch([{"nik": FAULT + "9429"}, {"nik": "123"}])
    assert isinstance(out[0], RateLimitError)
    assert out[0].attempts is not None and out[0].attempts >= 1
    assert out[0].throttled == out[0].attempts
    assert pickle.loads(pickle.dumps(out[0])).throttled == out[0].throttled
    assert isinstance(out[1], ValidationError)
    assert (out[1].attempts, out[1].throttled) == (0, 0)
    pairs = dict(vision.identity.verification_batch_iter([{"nik": "123"}]))
    assert (pairs[0].attempts, pairs[0].throttled) == (0, 0)


def test_single_calls_carry_no_attempt_counts_and_equality_ignores_them(sandbox: Sandbox) -> None:
    vision = sandbox.vision()
    single = vision.identity.verification(nik=SITI["nik"])
    assert (single.attempts, single.throttled) == (None, None)
    [batched] = vision.identity.verification_batch([{"nik": SITI["nik"]}])
    assert isinstance(batched, Verification)
    assert (batched.attempts, batched.throttled) == (1, 0)
    copy = pickle.loads(pickle.dumps(batched))
    assert (copy.attempts, copy.throttled) == (1, 0)
    assert batched == copy
    assert Verification(True, "ok", attempts=3, throttled=2) == Verification(True, "ok")
    with pytest.raises(RateLimitError) as raised:
        vision.identity.verification(nik=FAULT + "9429", max_retries=0)
    assert (raised.value.attempts, raised.value.throttled) == (None, None)


def test_sandbox_rate_limit_options(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError):
        Sandbox(rate_limit=-1).start()
    with pytest.raises(ValueError):
        Sandbox(rate_limit=math.nan).start()
    with pytest.raises(ValueError):
        Sandbox(burst=0).start()
    assert sandbox.throttled == 0, "no rate_limit: nothing throttled"
    with Sandbox(rate_limit=1, burst=2) as sb:
        vision = Vision(base_url=sb.url, max_retries=0, **sb.credentials)
        for _ in range(2):
            vision.identity.verification(nik=SITI["nik"])
        with pytest.raises(RateLimitError) as raised:
            vision.identity.verification(nik=SITI["nik"])
        assert raised.value.retry_after == 1.0
        assert sb.throttled == 1
        assert vision.pacing().throttled == 1


GATEWAYS = [
    "model=fixed-window,limit=50,window=1s",
    "model=sliding-window,limit=50,window=1s,retry-after=absent",
    "model=leaky-queue,rate=50,depth=10",
    {"model": "token-bucket", "rate": 50, "burst": 5, "retry_after": "date"},
]


@pytest.mark.parametrize("gateway", GATEWAYS, ids=["fixed", "sliding", "queue", "bucket"])
def test_each_gateway_model_is_paced_with_no_failed_rows(gateway: Any) -> None:
    with Sandbox(gateway=gateway, latency=0.005) as sb:
        vision = sb.vision()
        outcomes = vision.identity.verification_batch(rows(sb, 200), concurrency=32)
        assert failed(outcomes) == []
        pacing = vision.pacing()
        assert pacing.succeeded == 200
        assert pacing.throttled == sb.throttled
        assert pacing.model in ("searching", "measuring", "holding"), pacing
        assert pacing.limit is None or pacing.limit > 0


def test_with_rate_limit_headers_the_pacer_paces_from_them() -> None:
    gateway = {"model": "fixed-window", "limit": 50, "window": "1s", "headers": "ietf"}
    with Sandbox(gateway=gateway, latency=0.005) as sb:
        vision = sb.vision()
        assert failed(vision.identity.verification_batch(rows(sb, 150), concurrency=32)) == []
        pacing = vision.pacing()
        assert (pacing.model, pacing.from_headers, pacing.limit, pacing.window) == ("announced", True, 50.0, 1.0)
        assert pacing.to_dict()["model"] == "announced"


def test_a_moving_limit_and_bad_gateways() -> None:
    # A schedule is accepted in both forms; nonsense is refused before a server starts.
    with Sandbox(gateway={"model": "token-bucket", "rate": 100, "changes": [(0.5, 0.5)]}) as sb:
        assert failed(sb.vision().identity.verification_batch(rows(sb, 50))) == []
    for bad, exc in [
        ("model=gcra,rate=5", ValueError),
        ({"model": "fixed-window"}, ValueError),
        ({"model": "token-bucket", "rate": [5]}, TypeError),
        ({"model": "token-bucket", "rate": 5, "changes": [(1, "half")]}, TypeError),
        (5, TypeError),
    ]:
        with pytest.raises(exc):
            Sandbox(gateway=bad).start()
    with pytest.raises(ValueError, match="not both"):
        Sandbox(gateway="model=token-bucket,rate=5", rate_limit=5).start()
