"""Every exception class, its attributes, the hierarchy, and pickling."""

from __future__ import annotations

import pickle

import pytest
from conftest import closed_url, FAULT, SITI

import glair_vision
from glair_vision import Vision, errors
from glair_vision.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    DecodeError,
    GlairVisionError,
    IncompleteResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    RequestCancelledError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
)


def test_hierarchy() -> None:
    for cls in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        RateLimitError,
        ServiceUnavailableError,
        ServerError,
        DecodeError,
        RedirectError,
        IncompleteResponseError,
    ):
        assert issubclass(cls, APIError) and issubclass(cls, GlairVisionError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APIConnectionError, GlairVisionError)
    assert not issubclass(APIConnectionError, APIError)
    assert issubclass(ValidationError, ValueError) and issubclass(ValidationError, GlairVisionError)
    assert issubclass(ConfigurationError, GlairVisionError)
    assert issubclass(RequestCancelledError, GlairVisionError)
    # importable from the package and from glair_vision.errors alike
    for name in errors.__all__:
        assert getattr(glair_vision, name) is getattr(errors, name)


CASES = [
    ("9400", BadRequestError, 400, "Invalid NIK number format"),
    ("9401", AuthenticationError, 401, None),
    ("9403", PermissionDeniedError, 403, "Access to this API has been disallowed"),
    ("9404", NotFoundError, 404, None),
    ("9429", RateLimitError, 429, None),
    ("9503", ServiceUnavailableError, 503, "Something wrong in Dukcapil server"),
    ("9500", ServerError, 500, None),
    ("9502", ServerError, 502, None),
    ("9504", ServerError, 504, None),
    ("9200", DecodeError, 200, None),
    ("9201", DecodeError, 200, None),
]


@pytest.mark.parametrize("suffix,cls,status,reason", CASES, ids=[c[0] for c in CASES])
def test_api_errors_carry_their_attributes(
    vision: Vision, suffix: str, cls: type, status: int, reason: object
) -> None:
    with pytest.raises(APIError) as info:
        vision.identity.verification(FAULT + suffix, name="SITI RAHAYU", max_retries=0)
    e = info.value
    assert type(e) is cls
    assert e.status_code == status
    assert e.request_id and e.request_id.startswith("sbx-")
    assert isinstance(e.body, str)
    if reason is not None:
        assert e.reason == reason
    assert e.request_id in str(e)
    text = str(e) + repr(e)
    assert FAULT + suffix not in text and "SITI" not in text and "sandbox-password" not in text
    copy = pickle.loads(pickle.dumps(e))
    assert type(copy) is cls
    assert (copy.status_code, copy.reason, copy.request_id, copy.body, copy.retry_after, str(copy)) == (
        e.status_code,
        e.reason,
        e.request_id,
        e.body,
        e.retry_after,
        str(e),
    )


def test_rate_limit_retry_after(vision: Vision) -> None:
    with pytest.raises(RateLimitError) as info:
        vision.identity.verification(FAULT + "9429", max_retries=0)
    assert info.value.retry_after == 1.0
    assert pickle.loads(pickle.dumps(info.value)).retry_after == 1.0


def test_service_unavailable_keeps_the_partial_result(vision: Vision) -> None:
    with pytest.raises(ServiceUnavailableError) as info:
        vision.identity.verification(FAULT + "9503", name="SITI RAHAYU", max_retries=0)
    e = info.value
    assert e.result is not None
    assert e.result.nik is None and e.result.name is None
    assert '"verification_status":false' in e.body.replace(" ", "")
    copy = pickle.loads(pickle.dumps(e))
    assert copy.result == e.result


def test_bad_request_with_malformed_body(vision: Vision) -> None:
    with pytest.raises(BadRequestError) as info:
        vision.identity.verification(FAULT + "9400")
    assert info.value.reason == "Invalid NIK number format"
    assert info.value.body  # the raw (invalid JSON) body is kept


def test_connection_and_timeout(vision: Vision) -> None:
    with pytest.raises(APIConnectionError) as info:
        vision.identity.verification(SITI["nik"], base_url=closed_url(), max_retries=0)
    assert type(info.value) is APIConnectionError
    with pytest.raises(APITimeoutError) as t:
        vision.identity.verification(FAULT + "9408", timeout=0.2, max_retries=0)
    for e in (info.value, t.value):
        copy = pickle.loads(pickle.dumps(e))
        assert type(copy) is type(e) and str(copy) == str(e)


def test_validation_error_attributes() -> None:
    v = Vision(api_key="k", username="u", password="p", base_url=closed_url())
    with pytest.raises(ValidationError) as info:
        v.identity.verification(SITI["nik"], rt="12345")
    e = info.value
    assert e.field == "rt" and e.detail and e.code == "validation"
    assert "rt" in str(e)
    copy = pickle.loads(pickle.dumps(e))
    assert (type(copy), copy.field, copy.detail, str(copy)) == (ValidationError, "rt", e.detail, str(e))
    with pytest.raises(ValueError):
        v.identity.verification(SITI["nik"], rt="12345")


def test_configuration_error_pickles() -> None:
    with pytest.raises(ConfigurationError) as info:
        Vision(api_key="k", username="u")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is ConfigurationError and str(copy) == str(info.value)


def test_every_class_pickles_when_built_by_hand() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        if issubclass(cls, APIError):
            e = cls("boom", status_code=418, reason="r", request_id="id", body="b", retry_after=2.5)
        elif cls is ValidationError:
            e = cls("boom", field="nik", detail="bad")
        else:
            e = cls("boom")
        copy = pickle.loads(pickle.dumps(e))
        assert type(copy) is cls and str(copy) == "boom"
        assert copy.__dict__ == e.__dict__


def test_new_attributes_pickle() -> None:
    e = RedirectError("moved", status_code=302, location="https://elsewhere.example/x", client_request_id="c-1")
    copy = pickle.loads(pickle.dumps(e))
    assert (copy.location, copy.client_request_id, copy.status_code) == ("https://elsewhere.example/x", "c-1", 302)
    assert "c-1" in repr(copy)
    t = APITimeoutError("late", client_request_id="c-2", request_sent=True)
    copy_t = pickle.loads(pickle.dumps(t))
    assert (type(copy_t), copy_t.client_request_id, copy_t.request_sent) == (APITimeoutError, "c-2", True)
    assert GlairVisionError("x").client_request_id is None
    assert errors.error_class("redirect") is RedirectError
    assert errors.error_class("incomplete_response") is IncompleteResponseError


def test_error_class_lookup() -> None:
    assert errors.error_class("rate_limited") is RateLimitError
    assert errors.error_class("timeout") is APITimeoutError
    assert errors.error_class("nonsense") is GlairVisionError
