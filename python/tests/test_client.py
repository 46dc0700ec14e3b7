"""The sync client against the sandbox: fields, dates, types, overrides, env,
configuration, reprs and pickling."""

from __future__ import annotations

import datetime
import pickle

import pytest
from conftest import closed_url, BUDI_NIK, SITI

import glair_vision
from glair_vision import (
    FIELDS,
    AsyncVision,
    ConfigurationError,
    FieldResults,
    Sandbox,
    ValidationError,
    Verification,
    Vision,
)

SECRETS = ("sandbox-api-key", "sandbox-password")


def test_all_16_fields_reach_the_sandbox(sandbox: Sandbox, vision: Vision) -> None:
    assert len(FIELDS) == 16 and set(SITI) == set(FIELDS)
    before = len(sandbox.requests())
    r = vision.identity.verification(**SITI)
    assert r.verification_status is True
    assert r.reason == "Verification Success"
    assert all(getattr(r.result, f) is True for f in FIELDS)
    sent = sandbox.requests()[before:]
    assert len(sent) == 1
    assert sent[0]["fields"] == SITI
    assert sent[0]["content_type"].startswith("multipart/form-data")
    assert sent[0]["user_agent"] == f"glair-vision/{glair_vision.__version__} (python)"
    assert sent[0]["request_id"] == r.request_id


def test_only_set_fields_are_sent(sandbox: Sandbox, vision: Vision) -> None:
    before = len(sandbox.requests())
    r = vision.identity.verification(SITI["nik"], name="siti  rahayu", rt="1", address=None)
    assert sandbox.requests()[before:][0]["fields"] == {"nik": SITI["nik"], "name": "siti rahayu", "rt": "001"}
    assert r.result.to_dict() == {f: (True if f in ("nik", "name", "rt") else None) for f in FIELDS}
    assert r.result.address is None


@pytest.mark.parametrize(
    "dob",
    [
        datetime.date(1990, 8, 5),
        datetime.datetime(1990, 8, 5, 13, 45),
        "1990-08-05",
        "05-08-1990",
        "05/08/1990",
    ],
    ids=["date", "datetime", "iso", "dmy", "slashes"],
)
def test_date_of_birth_forms(sandbox: Sandbox, vision: Vision, dob: object) -> None:
    before = len(sandbox.requests())
    r = vision.identity.verification(SITI["nik"], date_of_birth=dob)  # type: ignore[arg-type]
    assert r.result.date_of_birth is True
    assert sandbox.requests()[before:][0]["fields"]["date_of_birth"] == "05-08-1990"


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"nik": 3171014508900001}, "nik"),
        ({"nik": SITI["nik"], "name": 42}, "name"),
        ({"nik": SITI["nik"], "date_of_birth": 19900805}, "date_of_birth"),
        ({"nik": SITI["nik"], "date_of_birth": datetime.time(1, 2)}, "date_of_birth"),
        ({"nik": SITI["nik"], "rt": 1}, "rt"),
        ({"nik": SITI["nik"], "gender": True}, "gender"),
        ({"nik": SITI["nik"], "address": b"JL. MERDEKA"}, "address"),
        ({"nik": SITI["nik"], "city": ["JAKARTA"]}, "city"),
        ({"nik": "3171014508900002X"}, "nik"),
        ({"nik": SITI["nik"], "date_of_birth": "31-02-1990"}, "date_of_birth"),
        ({"name": "SITI"}, "nik"),
    ],
)
def test_bad_input_is_a_validation_error_and_nothing_is_sent(
    sandbox: Sandbox, vision: Vision, kwargs: dict, field: str
) -> None:
    before = len(sandbox.requests())
    with pytest.raises(ValidationError) as info:
        vision.identity.verification(**kwargs)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)
    assert len(sandbox.requests()) == before, "nothing may be sent"


def test_unknown_keyword_is_a_type_error(vision: Vision) -> None:
    with pytest.raises(TypeError):
        vision.identity.verification(SITI["nik"], nama="SITI")  # type: ignore[call-arg]


def test_validation_errors_do_not_echo_values(vision: Vision) -> None:
    with pytest.raises(ValidationError) as info:
        vision.identity.verification("3171014508909999X", name="SITI RAHAYU")
    text = str(info.value) + repr(info.value)
    assert "3171014508909999" not in text and "SITI" not in text


def test_mismatch_is_a_result_not_an_error(vision: Vision) -> None:
    r = vision.identity.verification(BUDI_NIK, name="BUDI HARTONO", date_of_birth="23-05-1985")
    assert r.verification_status is False
    assert r.reason == "Name does not match"
    assert r.result.name is False and r.result.date_of_birth is True
    assert r.result.mismatched() == ["name"]
    assert r.result["name"] is False
    with pytest.raises(KeyError):
        r.result["nama"]


def test_result_objects(vision: Vision) -> None:
    r = vision.identity.verification(SITI["nik"], name=SITI["name"])
    d = r.to_dict()
    assert d["verification_status"] is True and d["reason"] == "Verification Success"
    assert d["request_id"] == r.request_id
    assert d["result"]["nik"] is True and d["result"]["rw"] is None and len(d["result"]) == 16
    assert pickle.loads(pickle.dumps(r)) == r
    assert pickle.loads(pickle.dumps(r.result)) == r.result
    again = Verification(r.verification_status, r.reason, d["result"], r.request_id)
    assert again == r
    assert FieldResults(nik=True) == FieldResults(nik=True) != FieldResults(nik=False)
    assert isinstance(r.result, FieldResults)


def test_reprs_show_no_personal_data_or_secrets(sandbox: Sandbox, vision: Vision) -> None:
    r = vision.identity.verification(**SITI)
    shown = " ".join(
        [repr(r), str(r), repr(r.result), repr(vision), str(vision), repr(vision.identity), repr(sandbox)]
    )
    for value in list(SITI.values()) + list(SECRETS):
        if len(value) > 3:  # skip "001"-like values that can occur by chance
            assert value not in shown, value
    assert sandbox.url in repr(vision)


def test_per_call_overrides(sandbox: Sandbox, vision: Vision) -> None:
    with pytest.raises(glair_vision.PermissionDeniedError):
        vision.identity.verification(SITI["nik"], api_key="wrong")
    with pytest.raises(glair_vision.AuthenticationError):
        vision.identity.verification(SITI["nik"], username="nobody")
    with pytest.raises(glair_vision.NotFoundError):
        vision.identity.verification(SITI["nik"], api_version="v2")
    with pytest.raises(glair_vision.APIConnectionError):
        vision.identity.verification(SITI["nik"], base_url=closed_url(), max_retries=0)
    with pytest.raises(glair_vision.APITimeoutError):
        vision.identity.verification("3171011001909408", timeout=0.2, max_retries=0)
    # the client itself is unchanged
    assert vision.identity.verification(SITI["nik"]).verification_status


def test_with_options(sandbox: Sandbox) -> None:
    base = Vision(base_url=closed_url(), api_key="k", username="u", password="p", max_retries=0)
    good = base.with_options(base_url=sandbox.url, **sandbox.credentials)
    assert good.base_url == sandbox.url
    assert good.identity.verification(SITI["nik"]).verification_status
    with pytest.raises(glair_vision.APIConnectionError):
        base.identity.verification(SITI["nik"])
    fast = good.with_options(timeout=0.2)
    assert fast.timeout == 0.2 and good.timeout == 30.0
    with pytest.raises(glair_vision.APITimeoutError):
        fast.identity.verification("3171011001909408")
    assert "wrong" not in repr(good.with_options(password="wrong"))
    with pytest.raises(TypeError):
        good.with_options(timeout="slow")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        good.with_options(max_retries=-1)


def test_environment_fallback(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLAIR_API_KEY", sandbox.api_key)
    monkeypatch.setenv("GLAIR_USERNAME", sandbox.username)
    monkeypatch.setenv("GLAIR_PASSWORD", sandbox.password)
    monkeypatch.setenv("GLAIR_BASE_URL", sandbox.url)
    v = Vision()
    assert v.base_url == sandbox.url
    assert v.identity.verification(SITI["nik"]).verification_status
    # arguments win over the environment
    with pytest.raises(glair_vision.PermissionDeniedError):
        Vision(api_key="other").identity.verification(SITI["nik"])


def test_defaults_to_production(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Vision(api_key="k", username="u", password="p")
    assert v.base_url == "https://api.vision.glair.ai" == glair_vision.DEFAULT_BASE_URL
    assert v.api_version == "v1" and v.timeout == 30.0 and v.max_retries == 2


@pytest.mark.parametrize("missing", ["api_key", "username", "password"])
def test_missing_credentials(missing: str) -> None:
    creds = {"api_key": "k", "username": "u", "password": "p"}
    del creds[missing]
    for cls in (Vision, AsyncVision):
        with pytest.raises(ConfigurationError) as info:
            cls(**creds)
        assert f"GLAIR_{missing.upper()}" in str(info.value)
        assert isinstance(info.value, glair_vision.GlairVisionError)


def test_bad_configuration() -> None:
    creds = {"api_key": "k", "username": "u", "password": "p"}
    with pytest.raises(ConfigurationError):
        Vision(base_url="ftp://example.com", **creds)
    with pytest.raises(ConfigurationError):
        Vision(api_version="../v1", **creds)
    with pytest.raises(TypeError):
        Vision(timeout="30", **creds)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Vision(timeout=-1, **creds)
    with pytest.raises(TypeError):
        Vision(api_key=123, username="u", password="p")  # type: ignore[arg-type]


def test_vision_pickles_by_configuration(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    v = sandbox.vision(timeout=12.5, max_retries=1).with_options(api_version="v1")
    data = pickle.dumps(v)
    copy = pickle.loads(data)
    assert isinstance(copy, Vision)
    assert (copy.base_url, copy.timeout, copy.max_retries) == (sandbox.url, 12.5, 1)
    assert copy.identity.verification(SITI["nik"]).verification_status
    a = pickle.loads(pickle.dumps(sandbox.async_vision()))
    assert isinstance(a, AsyncVision) and a.base_url == sandbox.url


def test_masking_helper() -> None:
    assert glair_vision.mask_nik("3171014508900001") == "317101******0001"
