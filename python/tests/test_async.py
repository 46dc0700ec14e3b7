"""AsyncVision on asyncio: parallel calls, errors, batch, cancellation."""

from __future__ import annotations

import asyncio
import datetime
import time

import pytest
from conftest import BUDI_NIK, FAULT, SITI, await_until, hold, release, sandbox_stats

from glair_vision import (
    AsyncVision,
    BadRequestError,
    RateLimitError,
    Sandbox,
    ServiceUnavailableError,
    ValidationError,
    Verification,
)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_parallel_calls(sandbox: Sandbox, async_vision: AsyncVision) -> None:
    async def main() -> list:
        return await asyncio.gather(
            *[
                async_vision.identity.verification(SITI["nik"], name="SITI RAHAYU", date_of_birth=datetime.date(1990, 8, 5))
                for _ in range(20)
            ]
        )

    before = len(sandbox.requests())
    results = run(main())
    assert len(results) == 20 and all(r.verification_status for r in results)
    assert len({r.request_id for r in results}) == 20
    assert len(sandbox.requests()) - before == 20


def test_all_fields_and_overrides(sandbox: Sandbox, async_vision: AsyncVision) -> None:
    async def main() -> Verification:
        return await async_vision.identity.verification(**SITI)

    before = len(sandbox.requests())
    r = run(main())
    assert r.verification_status and all(v is True for v in r.result.to_dict().values())
    sent = sandbox.requests()[before]
    assert sent["fields"] == SITI and sent["user_agent"].endswith("(python)")


def test_errors(async_vision: AsyncVision) -> None:
    async def main() -> None:
        with pytest.raises(ServiceUnavailableError) as info:
            await async_vision.identity.verification(FAULT + "9503", max_retries=0)
        assert info.value.status_code == 503 and info.value.request_id
        with pytest.raises(RateLimitError) as rl:
            await async_vision.identity.verification(FAULT + "9429", max_retries=0)
        assert rl.value.retry_after == 1.0
        with pytest.raises(BadRequestError):
            await async_vision.identity.verification(FAULT + "9400")
        with pytest.raises(ValidationError) as v:
            await async_vision.identity.verification(SITI["nik"], name=3)  # type: ignore[arg-type]
        assert v.value.field == "name"

    run(main())


def test_slow_call_does_not_block_the_event_loop(sandbox: Sandbox, async_vision: AsyncVision) -> None:
    # The call's answer waits until released (or 60 s: were the loop blocked by
    # the call, nothing could run to release it, and the test fails then).
    async def main() -> int:
        hold(sandbox.url, nik=BUDI_NIK)
        try:
            task = asyncio.ensure_future(async_vision.identity.verification(BUDI_NIK))
            await await_until("the call held by the sandbox", lambda: sandbox_stats(sandbox.url)["held"] == 1)
            ticks = 0
            while ticks < 20:
                assert not task.done(), "the held call is still waiting"
                ticks += 1
                await asyncio.sleep(0.01)
        finally:
            release(sandbox.url)
        assert (await task).verification_status
        return ticks

    assert run(main()) == 20


def test_cancellation(sandbox: Sandbox, async_vision: AsyncVision) -> None:
    async def main() -> None:
        hold(sandbox.url, nik=BUDI_NIK)
        try:
            task = asyncio.ensure_future(async_vision.identity.verification(BUDI_NIK))
            # Cancelled while its answer is held: in flight for certain.
            await await_until("the call held by the sandbox", lambda: sandbox_stats(sandbox.url)["held"] == 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            release(sandbox.url)
        # the client keeps working
        assert (await async_vision.identity.verification(SITI["nik"])).verification_status

    start = time.monotonic()
    run(main())
    assert time.monotonic() - start < 30


def test_batch_list_and_iterator(async_vision: AsyncVision) -> None:
    records = [{"nik": SITI["nik"], "name": "SITI RAHAYU"}, {"nik": "123"}, {"nik": FAULT + "9503"}, {"nik": SITI["nik"]}]

    async def main() -> None:
        out = await async_vision.identity.verification_batch(records, concurrency=4, max_retries=0)
        assert [type(o).__name__ for o in out] == [
            "Verification",
            "ValidationError",
            "ServiceUnavailableError",
            "Verification",
        ]
        seen = {}
        async for index, outcome in async_vision.identity.verification_batch_iter(records, concurrency=2, max_retries=0):
            assert index not in seen
            seen[index] = outcome
        assert sorted(seen) == [0, 1, 2, 3]
        assert [type(seen[i]) for i in range(4)] == [type(o) for o in out]

        async def agen():  # type: ignore[no-untyped-def]
            for r in records:
                await asyncio.sleep(0)
                yield r

        got = [i async for i, _ in async_vision.identity.verification_batch_iter(agen(), max_retries=0)]
        assert sorted(got) == [0, 1, 2, 3]

    run(main())


def test_runs_in_several_event_loops(async_vision: AsyncVision) -> None:
    for _ in range(3):
        assert run(async_vision.identity.verification(SITI["nik"])).verification_status
