"""A panic in glair-vision's native code never ends the process: it reaches the
caller as glair_vision.InternalError (a GlairVisionError), or is logged when no
caller waits for it, and the process goes on. Panics on purpose through the
test-only trigger glair_vision._native._test_panic in every place, then checks
that the SDK still verifies against the in-process sandbox. Prints one line per
check; exits 0 only when all pass.

    GLAIR_VISION_TEST_PANICS=1 python panics_python.py

Run by tests/install/run.sh against the wheel from dist/ (as shipped) and by
python/tests/test_panics.py against the wheel under test.
"""

import asyncio
import logging
import os
import sys
import time

import glair_vision
from glair_vision import AsyncVision, GlairVisionError, InternalError, Sandbox
from glair_vision import _native

SITI = {"nik": "3171014508900001", "name": "SITI RAHAYU", "date_of_birth": "05-08-1990"}


def check_internal(place, error):
    assert type(error) is InternalError, (place, type(error), error)
    assert isinstance(error, GlairVisionError) and isinstance(error, Exception)
    assert error.code == "internal"
    assert f"test panic ({place})" in str(error), str(error)
    assert "internal error in glair-vision" in str(error) and "please report it" in str(error), str(error)
    assert f"test panic ({place})" in error.detail
    print(f"ok {place}: {type(error).__name__}: {error}", flush=True)


def raises_internal(place, call):
    try:
        call()
    except Exception as e:  # noqa: BLE001 - InternalError must be an Exception
        check_internal(place, e)
    else:
        raise AssertionError(f"{place}: no error")


async def awaits_internal(place, awaitable):
    try:
        await awaitable
    except Exception as e:  # noqa: BLE001
        check_internal(place, e)
    else:
        raise AssertionError(f"{place}: no error")


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def main():
    assert os.environ.get("GLAIR_VISION_TEST_PANICS") == "1", "run with GLAIR_VISION_TEST_PANICS=1"

    # In the calling thread, and in a future on a runtime worker thread.
    raises_internal("sync", lambda: _native._test_panic("sync"))
    raises_internal("async", lambda: _native._test_panic("async"))

    # asyncio: the awaitable raises, the event loop goes on.
    async def asyncio_part():
        await awaits_internal("awaitable", _native._test_panic("awaitable"))
        session = _native._test_panic("stream")
        await awaits_internal("stream", session.wait_async())
        assert await session.wait_async() is None

    asyncio.run(asyncio_part())

    # A batch session whose driver panics: `wait` raises, then the session ends.
    session = _native._test_panic("stream")
    raises_internal("stream", session.wait)
    assert session.wait() is None

    # The Arrow results' stream (read by pyarrow through the C stream interface).
    try:
        import pyarrow as pa
    except ImportError:
        print("skip arrow: pyarrow is not installed", flush=True)
    else:
        reader = pa.RecordBatchReader.from_stream(_native._test_panic("arrow"))
        try:
            reader.read_next_batch()
        except Exception as e:  # noqa: BLE001 - pyarrow's own error, carrying ours
            assert "InternalError" in str(e) and "test panic (arrow)" in str(e), (type(e), str(e))
            print(f"ok arrow: {type(e).__name__}: {e}", flush=True)
        else:
            raise AssertionError("arrow: no error")

    # A detached task: nobody to raise to, so it is logged (logger glair_vision).
    records = Records()
    logger = logging.getLogger("glair_vision")
    logger.addHandler(records)
    logger.setLevel(logging.ERROR)
    glair_vision.refresh_logging()
    assert _native._test_panic("background") is None
    deadline = time.monotonic() + 10
    while not any("test panic (background)" in m for m in records.messages):
        assert time.monotonic() < deadline, f"background: not logged; records: {records.messages}"
        time.sleep(0.01)
    print(f"ok background: logged: {records.messages[-1]}", flush=True)

    # The process goes on: the runtime, its worker threads and the clients work.
    with Sandbox() as sb:
        vision = sb.vision()
        result = vision.identity.verification(**SITI)
        assert result.verification_status, result
        batch = vision.identity.verification_batch([SITI] * 8, concurrency=4)
        assert all(o.verification_status for o in batch), batch
        streamed = list(vision.identity.verification_batch_iter([SITI] * 8, concurrency=4))
        assert len(streamed) == 8, streamed

        async def after():
            async_vision = sb.async_vision()
            r = await async_vision.identity.verification(**SITI)
            assert r.verification_status, r
            assert isinstance(async_vision, AsyncVision)

        asyncio.run(after())
    print("ok after: verification, batch, streaming batch and async verification still work", flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
