"""The raw-socket test servers of `misbehaving.py` speak enough HTTP for the
client: what it sends arrives intact, and scripted answers come back as the
client's usual results and errors."""

from __future__ import annotations

from conftest import SITI
from misbehaving import answer, client_for, form_fields, in_turn, json_answer, verified

from glair_vision import BadRequestError


def test_the_server_records_what_the_client_sends(misbehaving) -> None:
    server = misbehaving(verified("mis-42"))
    r = client_for(server).identity.verification(SITI["nik"], name=SITI["name"], rt="1")
    assert r.verification_status and r.request_id == "mis-42"
    (req,) = server.requests
    assert (req.method, req.path) == ("POST", "/identity/v1/verification")
    assert req.headers["x-api-key"] == "key-MIS-1"
    assert req.headers["authorization"].startswith("Basic ")
    assert form_fields(req) == {"nik": SITI["nik"], "name": SITI["name"], "rt": "001"}


def test_answers_in_turn(misbehaving) -> None:
    server = misbehaving(in_turn(json_answer(503, {"reason": "down"}), verified()))
    r = client_for(server, max_retries=1).identity.verification(SITI["nik"])
    assert r.verification_status
    assert len(server.requests) == 2


def test_a_malformed_error_body(misbehaving) -> None:
    server = misbehaving(answer(400, b'{"reason": "Invalid NIK number format",}'))
    try:
        client_for(server).identity.verification(SITI["nik"])
    except BadRequestError as e:
        assert e.status_code == 400 and e.reason == "Invalid NIK number format"
        assert e.request_id == "mis-0001"
    else:
        raise AssertionError("expected BadRequestError")
    assert len(server.requests) == 1  # a 400 is not retried
