"""The Sandbox helper: lifecycle, options, records, the request log."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from conftest import SITI

from glair_vision import (
    AsyncVision,
    AuthenticationError,
    PermissionDeniedError,
    Sandbox,
    ServiceUnavailableError,
    Vision,
)

NUR = {"nik": "3578054107000123", "name": "NUR AINI", "date_of_birth": "01-07-2000", "gender": "PEREMPUAN"}


def test_context_manager() -> None:
    with Sandbox(synthetic=5) as sb:
        assert sb.running
        assert sb.url.startswith("http://127.0.0.1:") and not sb.url.endswith("/")
        assert (sb.api_key, sb.username, sb.password) == ("sandbox-api-key", "sandbox", "sandbox-password")
        assert isinstance(sb.vision(), Vision) and isinstance(sb.async_vision(), AsyncVision)
        assert sb.vision().identity.verification(SITI["nik"]).verification_status
        url = sb.url
        # the HTTP side says it is a sandbox
        with urllib.request.urlopen(url + "/_sandbox/records?limit=1") as resp:
            assert resp.headers["X-Glair-Sandbox"] == "true"
    assert not sb.running
    with pytest.raises(RuntimeError):
        sb.url
    with pytest.raises(Exception):
        urllib.request.urlopen(url + "/_sandbox/records?limit=1", timeout=2)


def test_start_stop_and_restart() -> None:
    sb = Sandbox(synthetic=0).start()
    try:
        assert sb.start() is sb  # idempotent
        assert sb.vision().identity.verification(SITI["nik"]).verification_status
    finally:
        sb.stop()
        sb.stop()
    assert "stopped" in repr(sb)


def test_records_and_synthetic() -> None:
    with Sandbox(synthetic=7, seed=42) as a, Sandbox(synthetic=7, seed=42) as b, Sandbox(synthetic=0) as c:
        assert a.records() == b.records()
        assert len(a.records()) == len(c.records()) + 7
        niks = {r["nik"] for r in c.records()}
        assert {SITI["nik"], "3273012305850002", "5171031212920003"} <= niks
        for person in a.records():
            r = a.vision().identity.verification(**person)
            assert r.verification_status, person["nik"][:6]


def test_records_from_dicts_and_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "people.jsonl"
    path.write_text(json.dumps(NUR) + "\n")
    csv = tmp_path / "people.csv"
    csv.write_text("nik,name,date_of_birth,gender\n" + ",".join(NUR.values()) + "\n")
    for source in ([NUR], str(path), path, csv):
        with Sandbox(records=source, synthetic=0) as sb:
            assert any(r["nik"] == NUR["nik"] for r in sb.records())
            r = sb.vision().identity.verification(**NUR)
            assert r.verification_status, source
    with pytest.raises(ValueError):
        Sandbox(records=str(tmp_path / "missing.jsonl")).start()
    with pytest.raises(TypeError):
        Sandbox(records=["nope"])  # type: ignore[list-item]


def test_custom_credentials() -> None:
    with Sandbox(api_key="k1", username="u1", password="p1", synthetic=0) as sb:
        assert sb.credentials == {"api_key": "k1", "username": "u1", "password": "p1"}
        assert sb.vision().identity.verification(SITI["nik"]).verification_status
        wrong = Vision(base_url=sb.url, api_key="sandbox-api-key", username="u1", password="p1")
        with pytest.raises(PermissionDeniedError):
            wrong.identity.verification(SITI["nik"])
        with pytest.raises(AuthenticationError):
            sb.vision(password="nope").identity.verification(SITI["nik"])


def test_request_log(sandbox: Sandbox) -> None:
    with Sandbox(synthetic=0) as sb:
        assert sb.requests() == []
        sb.vision().identity.verification(SITI["nik"], name="SITI RAHAYU")
        log = sb.requests()
        assert len(log) == 1
        assert log[0]["fields"] == {"nik": SITI["nik"], "name": "SITI RAHAYU"}
        assert log[0]["status"] == 200 and log[0]["request_id"].startswith("sbx-")
        assert log[0]["client_request_id"] is None
        sb.vision().identity.verification(SITI["nik"], request_id="order-42")
        assert sb.requests()[-1]["client_request_id"] == "order-42"
        sb.clear_requests()
        assert sb.requests() == []


def test_failure_rate_and_latency() -> None:
    with Sandbox(failure_rate=1.0, synthetic=0) as sb:
        with pytest.raises(ServiceUnavailableError):
            sb.vision(max_retries=0).identity.verification(SITI["nik"])
    with Sandbox(latency=0.05, synthetic=0) as sb:
        assert sb.vision().identity.verification(SITI["nik"]).verification_status


def test_slow_delay_and_match_threshold() -> None:
    with Sandbox(slow_delay=0.1, match_threshold=0.99, synthetic=0) as sb:
        v = sb.vision()
        assert v.identity.verification("3171011001909408", timeout=5).verification_status
        assert v.identity.verification(SITI["nik"], name="SITI RAHAYU").verification_status
        # "SITI RAHAYUU" is close but not 99% similar
        assert not v.identity.verification(SITI["nik"], name="SITI RAHAYUU").verification_status
    with Sandbox(match_threshold=0.5, synthetic=0) as sb:
        assert sb.vision().identity.verification(SITI["nik"], name="SITI RAHAYUU").verification_status


def test_bad_options() -> None:
    with pytest.raises(ValueError):
        Sandbox(failure_rate=2.0).start()
    with pytest.raises(ValueError):
        Sandbox(match_threshold=-1).start()
    with pytest.raises(TypeError):
        Sandbox(latency="slow").start()  # type: ignore[arg-type]


def test_async_client_from_sandbox() -> None:
    with Sandbox(synthetic=0) as sb:

        async def main() -> bool:
            r = await sb.async_vision().identity.verification(SITI["nik"])
            return r.verification_status

        assert asyncio.run(main())


def test_openapi_document_ships_and_is_served() -> None:

    document = Sandbox.openapi()
    assert document["openapi"].startswith("3.1")
    assert "/identity/v1/verification" in document["paths"]
    with Sandbox(synthetic=0) as sb:
        with urllib.request.urlopen(f"{sb.url}/openapi.json") as answer:
            assert json.load(answer) == document
