"""The client against hostile servers (issue 12): redirects are not followed,
bodies are capped, a deadline covers the whole call, an answer that began is never
sent again, half answers are Decode errors, and the caller's correlation id goes
out as x-request-id and comes back on results and errors. Sync and async."""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
import textwrap
import time
from typing import Any, Callable

import pytest
from conftest import SITI, closed_url
from misbehaving import (
    MisbehavingServer,
    answer,
    client_for,
    drop_after_status_line,
    drop_mid_body,
    endless_body,
    huge_body,
    in_turn,
    json_answer,
    redirect,
    silence,
    stall_mid_body,
    verified,
)

from glair_vision import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncVision,
    BadRequestError,
    DecodeError,
    GlairVisionError,
    IncompleteResponseError,
    RateLimitError,
    RedirectError,
    ServerError,
    ValidationError,
    Verification,
    Vision,
)

MIB = 1024 * 1024
CAP = 256 * 1024


def both(server: MisbehavingServer, **options: Any) -> list:
    """Runs one verification of SITI's NIK sync and async against `server`,
    returning each outcome (a Verification or the exception) with its time."""
    out: list = []
    call_options = {k: options.pop(k) for k in ("deadline", "request_id", "retry_unanswered") if k in options}
    sync = client_for(server, **options)
    started = time.monotonic()
    try:
        out.append((sync.identity.verification(SITI["nik"], **call_options), time.monotonic() - started))
    except GlairVisionError as e:
        out.append((e, time.monotonic() - started))
    options.setdefault("max_retries", 0)
    av = AsyncVision(api_key="key-MIS-1", username="user-mis", password="pw-MIS-2", base_url=server.url, **options)

    async def call() -> Any:
        return await av.identity.verification(SITI["nik"], **call_options)

    started = time.monotonic()
    try:
        out.append((asyncio.run(call()), time.monotonic() - started))
    except GlairVisionError as e:
        out.append((e, time.monotonic() - started))
    return out


# ------------------------------------------------------------------ 1. redirects


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_an_error_and_nothing_goes_onwards(misbehaving, status: int) -> None:
    elsewhere = misbehaving(verified())
    target = elsewhere.url + "/identity/v1/verification"
    server = misbehaving(redirect(status, target))
    for outcome, _ in both(server, max_retries=2):
        assert type(outcome) is RedirectError, outcome
        assert isinstance(outcome, APIError) and outcome.code == "redirect"
        assert outcome.status_code == status and outcome.location == target
        assert target in str(outcome)
        assert outcome.request_id == "mis-0001"
        copy = pickle.loads(pickle.dumps(outcome))
        assert type(copy) is RedirectError and copy.location == target and str(copy) == str(outcome)
    assert elsewhere.requests == []  # no credential, no personal data went there
    assert len(server.requests) == 2  # one per call: never retried


def test_a_redirect_without_location(misbehaving) -> None:
    server = misbehaving(redirect(302, None))
    for outcome, _ in both(server):
        assert type(outcome) is RedirectError and outcome.location is None


# ------------------------------------------------------------------ 2. body cap


@pytest.mark.parametrize(
    "make",
    [
        lambda: huge_body(200 * MIB),
        lambda: huge_body(200 * MIB, status=503),
        lambda: endless_body(),
        lambda: endless_body(chunked=True),
        lambda: endless_body(status=400, chunked=True),
    ],
    ids=["content-length-200MiB", "error-body-200MiB", "endless", "endless-chunked", "endless-chunked-400"],
)
def test_a_huge_body_is_a_decode_error_without_reading_it_all(misbehaving, make: Callable[[], Any]) -> None:
    server = misbehaving(make())
    for outcome, elapsed in both(server, max_retries=2):
        assert type(outcome) is DecodeError, outcome
        assert "exceeds 262144 bytes" in str(outcome)
        assert outcome.status_code in (200, 400, 503)
        assert outcome.request_id == "mis-0001"
        assert len(outcome.body) <= 1024
        assert elapsed < 10
    assert len(server.requests) == 2  # never retried, even a 503
    # What the client did not read stayed in the socket buffers or was never
    # written: far less than the body.
    assert server.bytes_sent < 40 * MIB


def test_a_declared_length_over_the_cap_fails_before_reading(misbehaving) -> None:
    server = misbehaving(answer(200, b"{}", {"Content-Length": str(CAP + 1)}))
    for outcome, _ in both(server):
        assert type(outcome) is DecodeError
        assert "exceeds 262144 bytes" in str(outcome)


def test_memory_stays_flat_with_a_huge_body(misbehaving) -> None:
    server = misbehaving(huge_body(400 * MIB))
    script = textwrap.dedent(
        f"""
        import resource
        from glair_vision import Vision, DecodeError
        v = Vision(api_key="k", username="u", password="p", base_url={server.url!r}, max_retries=0)
        try:
            v.identity.verification("3171014508900001")
        except DecodeError:
            pass
        # This process's own peak: ru_maxrss also counts the parent's peak when
        # the parent (pytest, with every test module's imports) spawned it by vfork.
        try:
            print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")))
        except OSError:
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    peak_kib = int(proc.stdout.split()[-1])
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib} KiB"


# ------------------------------------------------------------------ 3. deadline


def test_a_long_retry_after_ends_the_call_at_once(misbehaving) -> None:
    server = misbehaving(json_answer(429, {"reason": "slow down"}, {"Retry-After": "120"}))
    for outcome, elapsed in both(server, max_retries=2, deadline=2):
        assert type(outcome) is RateLimitError, outcome
        assert outcome.retry_after == 120
        assert elapsed < 3
    assert len(server.requests) == 2  # one per call


def test_the_deadline_is_a_client_setting_too(misbehaving) -> None:
    server = misbehaving(json_answer(429, {"reason": "slow down"}, {"Retry-After": "120"}))
    vision = client_for(server, max_retries=5, deadline=2)
    assert vision.deadline == 2
    started = time.monotonic()
    with pytest.raises(RateLimitError):
        vision.identity.verification(SITI["nik"])
    assert time.monotonic() - started < 3
    derived = client_for(server, max_retries=5).with_options(deadline=1.5)
    assert derived.deadline == 1.5
    with pytest.raises(RateLimitError):
        derived.identity.verification(SITI["nik"])


def test_the_deadline_covers_a_silent_server(misbehaving) -> None:
    server = misbehaving(silence(10))
    for outcome, elapsed in both(server, timeout=30, deadline=1):
        assert type(outcome) is APITimeoutError, outcome
        assert "deadline" in str(outcome)
        assert elapsed < 3


def test_short_waits_within_the_deadline_still_retry(misbehaving) -> None:
    server = misbehaving(in_turn(json_answer(429, {}, {"Retry-After": "1"}), verified()))
    r = client_for(server, max_retries=2, deadline=10).identity.verification(SITI["nik"])
    assert r.verification_status and len(server.requests) == 2


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_a_bad_deadline_is_rejected(misbehaving, bad: float) -> None:
    server = misbehaving(verified())
    with pytest.raises(ValueError):
        client_for(server, deadline=bad)
    with pytest.raises(ValueError):
        client_for(server).identity.verification(SITI["nik"], deadline=bad)
    with pytest.raises(TypeError):
        client_for(server).identity.verification(SITI["nik"], deadline="2")  # type: ignore[arg-type]
    assert server.requests == []


# ------------------------------------------------------------------ 4. answered calls are never sent twice


def test_a_drop_mid_body_is_incomplete_and_not_retried(misbehaving) -> None:
    server = misbehaving(drop_mid_body())
    for outcome, _ in both(server, max_retries=2):
        assert type(outcome) is IncompleteResponseError, outcome
        assert isinstance(outcome, APIError) and outcome.code == "incomplete_response"
        assert outcome.status_code == 200 and outcome.request_id == "mis-0001"
        assert "verification_status" in outcome.body
        copy = pickle.loads(pickle.dumps(outcome))
        assert type(copy) is IncompleteResponseError and copy.status_code == 200
    assert len(server.requests) == 2  # exactly one per call


def test_a_drop_mid_error_body_is_not_retried_either(misbehaving) -> None:
    server = misbehaving(drop_mid_body(status=503, sent=b'{"reason": "Some'))
    for outcome, _ in both(server, max_retries=2):
        assert type(outcome) is IncompleteResponseError and outcome.status_code == 503
    assert len(server.requests) == 2


def test_a_drop_after_the_status_line_is_not_retried(misbehaving) -> None:
    server = misbehaving(drop_after_status_line())
    for outcome, _ in both(server, max_retries=2):
        # Before the headers are complete the HTTP client cannot tell a half-read
        # head from no answer at all: the call counts as sent, so it is not retried.
        assert isinstance(outcome, (IncompleteResponseError, APIConnectionError)), outcome
        if isinstance(outcome, APIConnectionError):
            assert outcome.request_sent is True
    assert len(server.requests) == 2  # exactly one per call


def test_a_timeout_while_reading_the_body_is_incomplete(misbehaving) -> None:
    server = misbehaving(stall_mid_body(5))
    for outcome, elapsed in both(server, max_retries=2, timeout=1):
        assert type(outcome) is IncompleteResponseError, outcome
        assert outcome.status_code == 200
        assert elapsed < 4
    assert len(server.requests) == 2


def test_unanswered_calls_are_retried_only_when_asked(misbehaving) -> None:
    server = misbehaving(silence(3))
    for outcome, _ in both(server, max_retries=1, timeout=0.5):
        assert type(outcome) is APITimeoutError
    assert len(server.requests) == 2  # not retried by default
    server = misbehaving(silence(3))
    for outcome, _ in both(server, max_retries=1, timeout=0.5, retry_unanswered=True):
        assert type(outcome) is APITimeoutError
    assert len(server.requests) == 4


@pytest.mark.parametrize("status,retried", [(500, False), (502, True), (503, True), (504, True)])
def test_which_statuses_are_retried(misbehaving, status: int, retried: bool) -> None:
    server = misbehaving(in_turn(json_answer(status, {"reason": "x"}), verified()))
    vision = client_for(server, max_retries=1)
    if retried:
        assert vision.identity.verification(SITI["nik"]).verification_status
        assert len(server.requests) == 2
    else:
        with pytest.raises(ServerError):
            vision.identity.verification(SITI["nik"])
        assert len(server.requests) == 1
        server = misbehaving(in_turn(json_answer(status, {"reason": "x"}), verified()))
        opted_in = client_for(server, max_retries=1, retry_unanswered=True)
        assert opted_in.retry_unanswered is True
        assert opted_in.identity.verification(SITI["nik"]).verification_status
        assert len(server.requests) == 2


def client_for_url(url: str) -> Vision:
    return Vision(api_key="k", username="u", password="p", base_url=url, max_retries=0)


def test_a_refused_connection_says_the_request_was_not_sent() -> None:
    with pytest.raises(APIConnectionError) as info:
        client_for_url(closed_url()).identity.verification(SITI["nik"])
    assert info.value.request_sent is False


# ------------------------------------------------------------------ 6. half answers

HALF_ANSWERS = [
    {"verification_status": True, "reason": "Verification Success"},
    {"verification_status": True, "reason": "ok", "result": {}},
    {"verification_status": True, "reason": "ok", "result": {"nik": True, "name": False}},
    {"verification_status": True, "reason": "ok", "result": {"nik": None}},
    {"verification_status": True, "reason": "ok", "result": {"nik": "yes"}},
    {"verification_status": "true", "reason": "ok", "result": {"nik": True}},
    {"verification_status": True, "result": {"nik": True}},
    {"verification_status": True, "reason": "ok", "result": [True]},
    [True],
]


@pytest.mark.parametrize("body", HALF_ANSWERS, ids=[str(i) for i in range(len(HALF_ANSWERS))])
def test_a_half_answer_is_a_decode_error(misbehaving, body: Any) -> None:
    server = misbehaving(json_answer(200, body))
    for outcome, _ in both(server, max_retries=2):
        assert type(outcome) is DecodeError, outcome
        assert outcome.status_code == 200 and outcome.body  # the excerpt, for support
    assert len(server.requests) == 2


def test_a_complete_answer_is_a_result(misbehaving) -> None:
    body = {"verification_status": False, "reason": "NIK not found", "data": {"nik": False, "name": None}}
    server = misbehaving(json_answer(200, body))
    for outcome, _ in both(server):
        assert isinstance(outcome, Verification) and not outcome.verification_status
        assert outcome.result.nik is False


# ------------------------------------------------------------------ 7. correlation id


def test_the_request_id_goes_out_and_comes_back(misbehaving) -> None:
    server = misbehaving(verified("glair-1"))
    for outcome, _ in both(server, request_id="order-42"):
        assert isinstance(outcome, Verification)
        assert outcome.client_request_id == "order-42" and outcome.request_id == "glair-1"
        assert outcome.to_dict()["client_request_id"] == "order-42"
        assert pickle.loads(pickle.dumps(outcome)) == outcome
    assert [r.headers.get("x-request-id") for r in server.requests] == ["order-42", "order-42"]


def test_without_a_request_id_no_header_is_sent(misbehaving) -> None:
    server = misbehaving(verified())
    r = client_for(server).identity.verification(SITI["nik"])
    assert r.client_request_id is None
    assert "x-request-id" not in server.requests[0].headers


def test_errors_carry_the_request_id(misbehaving) -> None:
    server = misbehaving(json_answer(400, {"reason": "Invalid NIK number format"}))
    for outcome, _ in both(server, request_id="order-43"):
        assert type(outcome) is BadRequestError
        assert outcome.client_request_id == "order-43"
        assert "order-43" in str(outcome) and "mis-0001" in str(outcome)
        assert pickle.loads(pickle.dumps(outcome)).client_request_id == "order-43"
    with pytest.raises(APIConnectionError) as info:
        client_for_url(closed_url()).identity.verification(SITI["nik"], request_id="order-44")
    assert info.value.client_request_id == "order-44"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 129, "caf\u00e9", "tab\there", "\ud800"])
def test_a_bad_request_id_is_a_validation_error(misbehaving, bad: str) -> None:
    server = misbehaving(verified())
    with pytest.raises(ValidationError) as info:
        client_for(server).identity.verification(SITI["nik"], request_id=bad)
    assert info.value.field == "request_id"
    outcomes = client_for(server).identity.verification_batch([{"nik": SITI["nik"], "request_id": bad}])
    assert type(outcomes[0]) is ValidationError and outcomes[0].field == "request_id"
    assert server.requests == []


def test_batch_records_carry_their_own_request_id(misbehaving) -> None:
    server = misbehaving(verified())
    vision = client_for(server)
    records = [{"nik": SITI["nik"], "request_id": f"row-{i}"} for i in range(3)] + [{"nik": SITI["nik"]}]
    outcomes = vision.identity.verification_batch(records, concurrency=2)
    assert [o.client_request_id for o in outcomes] == ["row-0", "row-1", "row-2", None]
    assert sorted(r.headers.get("x-request-id", "-") for r in server.requests) == ["-", "row-0", "row-1", "row-2"]
    pairs = dict(vision.identity.verification_batch_iter(records[:2]))
    assert {i: o.client_request_id for i, o in pairs.items()} == {0: "row-0", 1: "row-1"}

    async def run() -> list:
        av = AsyncVision(api_key="k", username="u", password="p", base_url=server.url, max_retries=0)
        return await av.identity.verification_batch(records[:1])

    assert [o.client_request_id for o in asyncio.run(run())] == ["row-0"]
