"""The sync client and the interpreter: GIL released during calls, threads, fork,
Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import SITI, SLOW_NIK

from glair_vision import AsyncVision, Sandbox, Vision


def test_other_threads_progress_during_a_slow_call(vision: Vision) -> None:
    done = threading.Event()
    outcome: list = []

    def slow() -> None:
        outcome.append(vision.identity.verification(SLOW_NIK))
        done.set()

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.2)
    assert not done.is_set(), "the slow call answers after slow_delay"
    # pure-Python work and other calls proceed while the slow call waits
    spins = 0
    fast_calls = 0
    while not done.is_set():
        spins += 1
        if fast_calls < 3:
            assert vision.identity.verification(SITI["nik"]).verification_status
            fast_calls += 1
    t.join()
    assert outcome and outcome[0].verification_status
    assert fast_calls == 3, "calls from another thread completed during the slow call"
    assert spins > 100


def test_shared_client_across_threads(vision: Vision) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: vision.identity.verification(SITI["nik"], name="SITI RAHAYU"), range(40)))
    assert all(r.verification_status for r in results)
    assert len({r.request_id for r in results}) == 40
    # results are shareable too
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(lambda r: r.result.name, results))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_child_after_fork_can_verify(vision: Vision, async_vision: AsyncVision) -> None:
    # The parent has used both clients (runtime and pools exist) before forking.
    assert vision.identity.verification(SITI["nik"]).verification_status
    assert asyncio.run(async_vision.identity.verification(SITI["nik"])).verification_status
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            r = vision.identity.verification(SITI["nik"], name="SITI RAHAYU")
            r2 = vision.identity.verification_batch([{"nik": SITI["nik"]}] * 3)
            r3 = asyncio.run(async_vision.identity.verification(SITI["nik"]))
            if r.verification_status and all(x.verification_status for x in r2) and r3.verification_status:
                code = 0
        except BaseException:
            code = 2
        os._exit(code)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the child hung after fork")
        time.sleep(0.05)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    # and the parent still works
    assert vision.identity.verification(SITI["nik"]).verification_status


CTRL_C_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from glair_vision import Sandbox
    with Sandbox(slow_delay=60) as sb:
        vision = sb.vision()
        print("ready", flush=True)
        try:
            vision.identity.verification("%s")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
        print("not interrupted", flush=True)
    """
    % SLOW_NIK
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX-only here")
def test_ctrl_c_interrupts_a_blocking_call(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "slow.py"
    script.write_text(CTRL_C_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # inside the call
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        out, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "interrupted" in out, (out, err)
    assert proc.returncode == 3, (proc.returncode, err)
    assert elapsed < 5, f"Ctrl-C took {elapsed:.1f}s"  # generous: the slow answer takes 60 s


def test_sandbox_and_client_in_threads_do_not_deadlock(sandbox: Sandbox) -> None:
    def work(_: int) -> bool:
        v = sandbox.vision()
        return all(r.verification_status for r in v.identity.verification_batch([{"nik": SITI["nik"]}] * 5))

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(work, range(8)))


EXIT_WITH_CALLS_IN_FLIGHT = textwrap.dedent(
    """
    import asyncio
    from glair_vision import AsyncVision, Sandbox

    async def main(url, key, user, password):
        vision = AsyncVision(api_key=key, username=user, password=password, base_url=url)
        # Slow answers: every call is still in flight when asyncio.run returns.
        for _ in range(32):
            asyncio.ensure_future(vision.identity.verification("%s"))
        await asyncio.sleep(0.3)

    sb = Sandbox(slow_delay=0.6).start()
    asyncio.run(main(sb.url, sb.api_key, sb.username, sb.password))
    print("left with calls in flight", flush=True)
    """
    % SLOW_NIK
)


def test_exit_with_async_calls_in_flight_is_clean(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "exit.py"
    script.write_text(EXIT_WITH_CALLS_IN_FLIGHT)
    # The answers arrive while the interpreter shuts down; repeat, the race is timing-dependent.
    for _ in range(5):
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
        assert "left with calls in flight" in proc.stdout
        assert "panicked" not in proc.stderr, proc.stderr[-2000:]
