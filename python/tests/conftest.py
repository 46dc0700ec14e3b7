"""Shared fixtures: one sandbox per session (tests that need special settings
start their own), clients for it, and a clean GLAIR_* environment."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import urllib.request
from typing import Any, Callable, Dict, Iterator, Optional

import pytest

from glair_vision import AsyncVision, Sandbox, Vision

# The raw-socket misbehaving servers' fixture, for every test module.
from misbehaving import misbehaving  # noqa: F401

# Fixture people of the sandbox (always in its registry).
SITI = {
    "nik": "3171014508900001",
    "name": "SITI RAHAYU",
    "date_of_birth": "05-08-1990",
    "no_kk": "3171010101100001",
    "mother_maiden_name": "AMINAH",
    "place_of_birth": "JAKARTA",
    "address": "JL. MERDEKA NO. 1",
    "gender": "PEREMPUAN",
    "marital_status": "KAWIN",
    "job_type": "KARYAWAN SWASTA",
    "province": "DKI JAKARTA",
    "city": "JAKARTA PUSAT",
    "district": "GAMBIR",
    "subdistrict": "GAMBIR",
    "rt": "001",
    "rw": "002",
}
BUDI_NIK = "3273012305850002"
FAULT = "317101100190"  # + 4 digits: scripted faults
SLOW_NIK = FAULT + "9408"
SLOW_DELAY = 2.0

ENV_VARS = ("GLAIR_API_KEY", "GLAIR_USERNAME", "GLAIR_PASSWORD", "GLAIR_BASE_URL")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(slow_delay=SLOW_DELAY) as sb:
        yield sb


@pytest.fixture
def vision(sandbox: Sandbox) -> Vision:
    return sandbox.vision()


@pytest.fixture
def async_vision(sandbox: Sandbox) -> AsyncVision:
    return sandbox.async_vision()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


def closed_url() -> str:
    """A loopback URL where nothing listens (a port just released by the OS)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def sent_since(sandbox: Sandbox, before: int) -> list:
    return sandbox.requests()[before:]


def count(sandbox: Sandbox) -> int:
    return len(sandbox.requests())


# ---- waiting for a moment instead of guessing a delay
#
# A test that must act while a call is in flight asks the sandbox to hold the
# answer (POST /_sandbox/hold), waits until the sandbox says it holds it, acts,
# and releases it. `max_ms` bounds the hold, so that a call which wrongly blocks
# the test's own thread (the GIL, the event loop) fails the test instead of
# hanging it.

PATIENCE = 60.0  # seconds: a bound on a hang, never the mechanism


def _control(url: str, method: str, path: str) -> Optional[Dict[str, Any]]:
    request = urllib.request.Request(url + path, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=PATIENCE) as response:
        body = response.read()
    return json.loads(body) if body else None


def hold(url: str, after: int = 0, nik: Optional[str] = None, max_ms: int = 60_000) -> None:
    """Holds the sandbox's answers after the next `after` (of `nik` only, if given)."""
    query = f"after={after}&max_ms={max_ms}" + (f"&nik={nik}" if nik else "")
    _control(url, "POST", "/_sandbox/hold?" + query)


def release(url: str) -> None:
    _control(url, "POST", "/_sandbox/release")


def sandbox_stats(url: str) -> Dict[str, Any]:
    stats = _control(url, "GET", "/_sandbox/stats")
    assert stats is not None
    return stats


def wait_until(what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {PATIENCE} s")
        time.sleep(0.005)


async def await_until(what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {PATIENCE} s")
        await asyncio.sleep(0.005)


assert os  # (imported for fixtures' users)
