"""Every count, size and duration has one range, the core's (the same in Rust,
Node and the CLI): outside it a ValidationError naming the setting, raised
before anything is read, allocated or sent; a wrong type stays a TypeError."""

from __future__ import annotations

import asyncio
import math
from typing import Any, Iterator

import pytest
from conftest import SITI

from glair_vision import Sandbox, ValidationError, Verification, Vision
from glair_vision import _partition

#: Concurrencies that once panicked inside tokio (2**62: more than a semaphore's
#: permits) or grew until the kernel killed the process (2**31), the first past
#: the range, and nonsense.
BAD_CONCURRENCY = [2**62, 2**31, 4097, 65_537, 1_000_000, 0, -1, -(2**70), 2**200]
WRONG_TYPE_CONCURRENCY = [1.5, 8.0, float("nan"), float("inf"), "8", True, [8]]

BAD_SECONDS = [0, -1, 0.0009, 86_400.001, 10**9, float("nan"), float("inf"), -float("inf")]
BAD_RETRIES = [101, 1000, 2**31, 2**62, 2**64, -1]
BAD_RATES = [0, -1.5, 0.000999, 1 / 86_400, 1e-300, 1_000_001, float("nan"), float("inf")]


@pytest.fixture(scope="module")
def quiet() -> Iterator[Sandbox]:
    # A sandbox of this module's own: nothing may reach it.
    with Sandbox(synthetic=0) as sb:
        yield sb


def field_of(raised: pytest.ExceptionInfo) -> Any:
    return getattr(raised.value, "field", None)


@pytest.mark.parametrize("concurrency", BAD_CONCURRENCY)
def test_concurrency_outside_1_to_4096_is_refused_everywhere(quiet: Sandbox, concurrency: int) -> None:
    vision = quiet.vision()
    records = [{"nik": SITI["nik"]}]
    with pytest.raises(ValidationError) as raised:
        vision.identity.verification_batch(records, concurrency=concurrency)
    assert field_of(raised) == "concurrency"
    assert "from 1 to 4096" in str(raised.value)
    with pytest.raises(ValidationError):
        vision.identity.verification_batch_iter(records, concurrency=concurrency)
    pa = pytest.importorskip("pyarrow")
    with pytest.raises(ValidationError) as raised:
        vision.identity.verify_table(pa.table({"nik": [SITI["nik"]]}), concurrency=concurrency)
    assert field_of(raised) == "concurrency"

    async def run() -> None:
        avision = quiet.async_vision()
        with pytest.raises(ValidationError):
            await avision.identity.verification_batch(records, concurrency=concurrency)
        with pytest.raises(ValidationError):
            avision.identity.verification_batch_iter(records, concurrency=concurrency)
        with pytest.raises(ValidationError):
            await avision.identity.verify_table(pa.table({"nik": [SITI["nik"]]}), concurrency=concurrency)

    asyncio.run(run())
    assert quiet.requests() == []


@pytest.mark.parametrize("concurrency", WRONG_TYPE_CONCURRENCY)
def test_concurrency_of_the_wrong_type_is_a_type_error(quiet: Sandbox, concurrency: Any) -> None:
    with pytest.raises(TypeError):
        quiet.vision().identity.verification_batch([{"nik": SITI["nik"]}], concurrency=concurrency)
    assert quiet.requests() == []


def test_the_ends_of_the_concurrency_range_run(sandbox: Sandbox) -> None:
    vision = sandbox.vision()
    for concurrency in (1, 4096):
        out = vision.identity.verification_batch([{"nik": SITI["nik"]}] * 3, concurrency=concurrency)
        assert all(isinstance(o, Verification) and o.verification_status for o in out)
        pulled = list(vision.identity.verification_batch_iter([{"nik": SITI["nik"]}] * 3, concurrency=concurrency))
        assert len(pulled) == 3


@pytest.mark.parametrize("setting", ["timeout", "connect_timeout", "deadline"])
@pytest.mark.parametrize("seconds", BAD_SECONDS)
def test_durations_outside_1ms_to_a_day_are_refused(quiet: Sandbox, setting: str, seconds: float) -> None:
    with pytest.raises(ValidationError) as raised:
        Vision(base_url=quiet.url, **quiet.credentials, **{setting: seconds})
    assert field_of(raised) == setting
    assert "from 0.001 to 86400 seconds" in str(raised.value)
    if setting != "connect_timeout":  # per-call settings
        vision = quiet.vision()
        with pytest.raises(ValidationError) as raised:
            vision.identity.verification(SITI["nik"], **{setting: seconds})
        assert field_of(raised) == setting
        with pytest.raises(ValidationError):
            vision.with_options(**{setting: seconds})
        with pytest.raises(ValidationError):
            vision.identity.verification_batch([{"nik": SITI["nik"]}], **{setting: seconds})
    assert quiet.requests() == []


@pytest.mark.parametrize("retries", BAD_RETRIES)
def test_max_retries_outside_0_to_100_is_refused(quiet: Sandbox, retries: int) -> None:
    with pytest.raises(ValidationError) as raised:
        Vision(base_url=quiet.url, max_retries=retries, **quiet.credentials)
    assert field_of(raised) == "max_retries"
    assert "from 0 to 100" in str(raised.value)
    vision = quiet.vision()
    with pytest.raises(ValidationError):
        vision.identity.verification(SITI["nik"], max_retries=retries)
    with pytest.raises(ValidationError):
        vision.with_options(max_retries=retries)
    with pytest.raises(ValidationError):
        vision.identity.verification_batch([{"nik": SITI["nik"]}], max_retries=retries)
    with pytest.raises(TypeError):
        vision.identity.verification(SITI["nik"], max_retries=1.0)
    assert quiet.requests() == []


@pytest.mark.parametrize("rate", BAD_RATES)
def test_rate_limits_outside_0_001_to_a_million_per_second_are_refused(quiet: Sandbox, rate: float) -> None:
    with pytest.raises(ValidationError) as raised:
        Vision(base_url=quiet.url, rate_limit=rate, **quiet.credentials)
    assert field_of(raised) == "rate_limit"
    with pytest.raises(ValidationError) as raised:
        quiet.vision().identity.verification_batch([{"nik": SITI["nik"]}], rate_limit=rate)
    assert field_of(raised) == "rate_limit"
    assert quiet.requests() == []


def test_the_ends_of_the_other_ranges_are_accepted(sandbox: Sandbox) -> None:
    for settings in (
        dict(timeout=0.001, connect_timeout=0.001, deadline=0.001, max_retries=0),
        dict(timeout=86_400, connect_timeout=86_400, deadline=86_400, max_retries=100),
        dict(rate_limit=0.001),
        dict(rate_limit=1_000_000),
    ):
        vision = sandbox.vision(**settings)
        for key, value in settings.items():
            if key != "connect_timeout":  # not shown by the client
                assert math.isclose(getattr(vision, key), value), key
    assert sandbox.vision().identity.verification(SITI["nik"], max_retries=100, timeout=86_400, deadline=86_400)


@pytest.mark.parametrize("rows", [0, -1, 100_001, 2**31, 2**62])
def test_checkpoint_rows_outside_1_to_100000_are_refused(sandbox: Sandbox, rows: int) -> None:
    pa = pytest.importorskip("pyarrow")
    common: Any = dict(
        tasks_at_once=1,
        columns=None,
        keep=(),
        request_id_column=None,
        ignore_unknown=False,
        concurrency=4,
        rate_limit=None,
        options=None,
        checkpoint="/nonexistent",
    )
    schema = pa.schema([("nik", pa.string())])
    with pytest.raises(ValidationError) as raised:
        _partition.settings(sandbox.vision(), schema, checkpoint_rows=rows, **common)
    assert field_of(raised) == "checkpoint_rows"
    assert "from 1 to 100000" in str(raised.value)
    with pytest.raises(TypeError):
        _partition.settings(sandbox.vision(), schema, checkpoint_rows="1000", **common)  # type: ignore[arg-type]
    s, _ = _partition.settings(sandbox.vision(), schema, checkpoint_rows=100_000, **common)
    assert s.checkpoint_rows == 100_000


def test_a_cluster_rate_is_checked_and_so_is_each_tasks_share() -> None:
    assert _partition.per_task_rate(None, 4) == "auto"
    assert _partition.per_task_rate("auto", 4) == "auto"
    assert _partition.per_task_rate(100, 4) == 25
    for bad in (0, -1, float("nan"), 1e7, "fast"):
        with pytest.raises(ValidationError) as raised:
            _partition.per_task_rate(bad, 4)
        assert field_of(raised) == "rate_limit"
    with pytest.raises(TypeError):
        _partition.per_task_rate(True, 4)  # type: ignore[arg-type]
    # 0.004 calls per second for the whole cluster cannot be split among 8 tasks.
    with pytest.raises(ValidationError) as raised:
        _partition.per_task_rate(0.004, 8)
    assert field_of(raised) == "rate_limit" and "8 tasks" in str(raised.value)


@pytest.mark.parametrize(
    "settings",
    [dict(synthetic=2**40), dict(synthetic=100_001), dict(latency=86_401), dict(slow_delay=10**9), dict(burst=0)],
)
def test_sandbox_settings_that_size_memory_or_waits_are_bounded(settings: dict) -> None:
    with pytest.raises(ValueError):
        Sandbox(**settings).start()
