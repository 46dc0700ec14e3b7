"""What the Dask and Spark tests share: one rate-limited sandbox with credentials
that are easy to spot, the rows (ids, Indonesian column names, nulls, bad rows),
and the checks (every row once, results equal to single calls, nobody called twice)."""

from __future__ import annotations

import collections
import contextlib
import os
import pathlib
import sys
import tempfile
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional

import pytest
from conftest import FAULT, SITI

from glair_vision import GlairVisionError, Sandbox, Vision
from glair_vision import _partition

# Credentials the tests look for in task graphs and plans.
API_KEY = "key-CLUSTER-SECRET-7f3a"
USERNAME = "user-cluster"
PASSWORD = "pw-CLUSTER-SECRET-91c2"
SECRETS = (API_KEY, PASSWORD)

# The account's limit at the sandbox, and what the tests tell `verify` it is.
SANDBOX_RATE = 1000.0
SANDBOX_BURST = 50
ACCOUNT_RATE = 900.0

# Input columns: Indonesian names mapped to wire fields, an id kept and sent as
# each call's x-request-id.
COLUMNS = {"nama": "name", "tanggal_lahir": "date_of_birth"}
KEEP = ["id"]
NOT_FOUND_NIK = FAULT + "9404"
SITI_NIK = SITI["nik"]


def rate_limited_sandbox() -> Sandbox:
    """One sandbox for every worker of the cluster, in the test process."""
    return Sandbox(
        api_key=API_KEY,
        username=USERNAME,
        password=PASSWORD,
        rate_limit=SANDBOX_RATE,
        burst=SANDBOX_BURST,
    ).start()


@pytest.fixture(scope="module")
def limited() -> Iterator[Sandbox]:
    sb = rate_limited_sandbox()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def fresh(limited: Sandbox) -> Sandbox:
    limited.clear_requests()
    return limited


@contextlib.contextmanager
def injected_faults(prefix: str) -> Iterator[str]:
    """The checkpoint tests' fault (see _partition._FAULT_VARIABLE), set in the
    environment that workers inherit when they start; only checkpointed runs read
    it. Yields the marker directory."""
    with tempfile.TemporaryDirectory(prefix=prefix) as markers:
        os.environ[_partition._FAULT_VARIABLE] = f"2:{markers}"
        try:
            yield markers
        finally:
            del os.environ[_partition._FAULT_VARIABLE]


def local_spark(builder: Any, app: str, worker_env: Optional[Dict[str, str]] = None) -> Any:
    """A Spark session builder (classic or Connect) on loopback, running this
    venv's Python, with no UI, no progress bars and no speculative execution.

    ``worker_env`` reaches the Python workers as ``spark.executorEnv``: they do not
    inherit this process's environment as it is now, because one JVM serves every
    session of the test run and keeps the environment of the first."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    for name, value in (worker_env or {}).items():
        builder = builder.config(f"spark.executorEnv.{name}", value)
    return (
        builder.appName(app)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.speculation", "false")
    )


def client(sandbox: Sandbox) -> Vision:
    # Retries to spare: a 429 now and then must not turn into an error row.
    return sandbox.vision(max_retries=6)


def row(i: int, people: List[Dict[str, str]]) -> Dict[str, Any]:
    """Row i of every test table: mostly registry people (right or wrong name),
    with nulls, an invalid NIK (never sent) and an unknown NIK (an error row)."""
    person = people[i % len(people)]
    kind = i % 10
    nik: Optional[str] = person["nik"]
    nama: Optional[str] = person["name"]
    tanggal: Optional[str] = person.get("date_of_birth")
    if kind == 3:
        nama = "NAMA YANG SALAH"
    elif kind == 5:
        nama, tanggal = None, None
    elif kind == 7 and i % 20 == 7:
        nik = "12345"  # invalid: a validation error, no call
    elif kind == 9 and i % 30 == 9:
        nik = NOT_FOUND_NIK
    return {"id": f"r{i:05d}", "nik": nik, "nama": nama, "tanggal_lahir": tanggal}


def rows(n: int, people: List[Dict[str, str]]) -> List[Dict[str, Any]]:
    return [row(i, people) for i in range(n)]


def people(sandbox: Sandbox) -> List[Dict[str, str]]:
    everyone = sandbox.records()
    fixture = [p for p in everyone if p["nik"] == SITI["nik"]]
    return fixture + [p for p in everyone if p["nik"] != SITI["nik"]][:40]


def sent_ids(requests: Iterable[Mapping[str, Any]]) -> collections.Counter:
    """How many answered (not 429) calls each row id got."""
    return collections.Counter(r["client_request_id"] for r in requests if r["status"] != 429)


def check_every_row_once(results: List[Dict[str, Any]], inputs: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    by_id: Dict[str, Dict[str, Any]] = {}
    for r in results:
        assert r["id"] not in by_id, f"row {r['id']} twice in the results"
        by_id[r["id"]] = r
    assert set(by_id) == {x["id"] for x in inputs}, "rows lost or invented"
    return by_id


def check_few_throttled(sandbox: Sandbox) -> None:
    """Each task got ACCOUNT_RATE / (tasks at once): together under the sandbox's
    limit, so hardly any call was answered 429."""
    sent = sandbox.requests()
    throttled = sum(r["status"] == 429 for r in sent)
    assert throttled <= 0.02 * len(sent), f"{throttled} of {len(sent)} calls answered 429"


def check_journal(checkpoint: pathlib.Path, partitions: int) -> None:
    """One journal directory per partition, and no input value (NIK, name)
    written to the shared filesystem."""
    journal = sorted(p.name for p in checkpoint.iterdir())
    assert journal == [f"part-{i:05d}" for i in range(partitions)]
    for path in checkpoint.rglob("*.arrow"):
        data = path.read_bytes()
        assert b"NAMA YANG SALAH" not in data and SITI_NIK.encode() not in data


def check_calls(sandbox: Sandbox, inputs: List[Dict[str, Any]]) -> None:
    """Every row that should be sent was answered exactly once (429s aside), and
    no other call was made."""
    counts = sent_ids(sandbox.requests())
    expected = {x["id"] for x in inputs if x["nik"] != "12345"}
    twice = sorted(k for k, v in counts.items() if v > 1)
    assert not twice, f"{len(twice)} rows called more than once, e.g. {twice[:5]}"
    assert set(counts) == expected


def check_against_single_calls(vision: Vision, by_id: Mapping[str, Mapping[str, Any]], inputs: List[Dict[str, Any]]) -> None:
    """A sample of rows, each compared with a single call of the same record."""
    sample = [x for i, x in enumerate(inputs) if i < 10 or i % 97 == 0 or x["nik"] in ("12345", NOT_FOUND_NIK)][:60]
    kinds = set()
    for x in sample:
        got = by_id[x["id"]]
        fields = {COLUMNS.get(k, k): v for k, v in x.items() if k != "id" and v is not None}
        try:
            v = vision.identity.verification(**fields)
        except GlairVisionError as e:
            assert got["outcome"] == "error", x["id"]
            assert got["error_kind"] == e.code, x["id"]
            assert got["verification_status"] is None
            kinds.add("error")
            continue
        kinds.add("verified" if v.verification_status else "not_verified")
        assert got["outcome"] == ("verified" if v.verification_status else "not_verified"), x["id"]
        assert got["verification_status"] == v.verification_status
        assert got["reason"] == v.reason
        for name, value in v.result.to_dict().items():
            assert got[f"result_{name}"] == value, (x["id"], name)
        assert got["error_kind"] is None and got["request_id"]
    assert kinds == {"verified", "not_verified", "error"}, kinds


def no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
