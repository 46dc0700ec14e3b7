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
from conftest import BUDI_NIK, SITI, hold, release, sandbox_stats, wait_until

from glair_vision import AsyncVision, Sandbox, Vision


def test_other_threads_progress_during_a_slow_call(sandbox: Sandbox, vision: Vision) -> None:
    done = threading.Event()
    outcome: list = []

    def slow() -> None:
        outcome.append(vision.identity.verification(BUDI_NIK))
        done.set()

    # The call's answer waits until released (or 60 s: were the GIL held during
    # the call, nothing here could run to release it, and the test fails then).
    hold(sandbox.url, nik=BUDI_NIK)
    t = threading.Thread(target=slow)
    t.start()
    try:
        wait_until("the call held by the sandbox", lambda: sandbox_stats(sandbox.url)["held"] == 1)
        # pure-Python work and other calls proceed while the call waits
        spins = sum(1 for _ in range(1000))
        fast_calls = 0
        for _ in range(3):
            assert vision.identity.verification(SITI["nik"]).verification_status
            fast_calls += 1
        assert not done.is_set(), "the held call is still waiting"
    finally:
        release(sandbox.url)
    t.join(timeout=60)
    assert outcome and outcome[0].verification_status
    assert fast_calls == 3 and spins == 1000, "work and calls from another thread completed during the call"


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
    import sys, urllib.request
    from glair_vision import Sandbox
    with Sandbox() as sb:
        vision = sb.vision()
        # Every answer held for 60 s: only Ctrl-C ends the call sooner.
        urllib.request.urlopen(urllib.request.Request(sb.url + "/_sandbox/hold?after=0&max_ms=60000", data=b""))
        print("ready", sb.url, flush=True)
        try:
            vision.identity.verification("%s")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
        print("not interrupted", flush=True)
    """
    % SITI["nik"]
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
        ready, url = proc.stdout.readline().split()
        assert ready == "ready"
        # Inside the call: its answer is held by the sandbox.
        wait_until("the call held by the sandbox", lambda: sandbox_stats(url)["held"] == 1)
        proc.send_signal(signal.SIGINT)
        # Well before the held answer would come (60 s): the interrupt ended the call.
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "interrupted" in out, (out, err)
    assert proc.returncode == 3, (proc.returncode, err)


def test_sandbox_and_client_in_threads_do_not_deadlock(sandbox: Sandbox) -> None:
    def work(_: int) -> bool:
        v = sandbox.vision()
        return all(r.verification_status for r in v.identity.verification_batch([{"nik": SITI["nik"]}] * 5))

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(work, range(8)))


EXIT_WITH_CALLS_IN_FLIGHT = textwrap.dedent(
    """
    import asyncio, json, urllib.request
    from glair_vision import AsyncVision, Sandbox

    async def main(url, key, user, password):
        vision = AsyncVision(api_key=key, username=user, password=password, base_url=url)
        # Answers held (for at most 2 s): every call is still in flight when asyncio.run returns.
        post = urllib.request.Request(url + "/_sandbox/hold?after=0&max_ms=2000", data=b"")
        urllib.request.urlopen(post)
        for _ in range(32):
            asyncio.ensure_future(vision.identity.verification("%s"))
        stats = lambda: json.load(urllib.request.urlopen(url + "/_sandbox/stats"))
        while stats()["held"] < 32:
            await asyncio.sleep(0.005)

    sb = Sandbox().start()
    asyncio.run(main(sb.url, sb.api_key, sb.username, sb.password))
    print("left with calls in flight", flush=True)
    """
    % SITI["nik"]
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
