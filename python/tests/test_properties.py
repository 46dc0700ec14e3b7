"""Property tests (hypothesis): whatever a caller passes to the verification
calls, the batch calls, the clients' settings or the NIK helper, the only
exceptions are the package's typed errors (`ValidationError`, also a ValueError,
for bad values; `ConfigurationError` for unusable settings; and Python's own
`TypeError` for a wrong type of setting or an unknown keyword), no message
repeats a value, and input that is rejected is never sent."""

from __future__ import annotations

import asyncio
import decimal
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from conftest import BUDI_NIK, SITI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glair_vision import (
    FIELDS,
    AsyncVision,
    ConfigurationError,
    GlairVisionError,
    Sandbox,
    ValidationError,
    Verification,
    Vision,
    mask_nik,
)

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    # (the suite's autouse fixture only clears GLAIR_* variables once per test)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# Settings a call may override (base_url is left out: a generated URL could
# point anywhere; its checks are the core's).
OPTIONS = (
    "api_key",
    "username",
    "password",
    "api_version",
    "timeout",
    "max_retries",
    "deadline",
    "retry_unanswered",
    "request_id",
)
# Every keyword some call takes (the generated unknown ones avoid them all).
KNOWN_KWARGS = set(FIELDS) | set(OPTIONS) | {"base_url", "connect_timeout", "concurrency", "rate_limit", "records", "self"}

LONE_SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "\ud83d"])

texts = st.one_of(
    st.text(max_size=30),
    # any code point, surrogates included
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=8), LONE_SURROGATES, st.text(max_size=8)),
    st.from_regex(r"\A[0-9 \-]{10,20}\Z"),
    st.sampled_from([SITI["nik"], BUDI_NIK, SITI["nik"] + "\x00", " " + SITI["nik"], SITI["nik"][:15], "1" * 16]),
    st.sampled_from(["05-08-1990", "1990-08-05", "31-02-1990", "05-08-2990", "L", "P", "KAWIN", "001", "1234"]),
    # huge strings
    st.sampled_from([10**5, 10**6, 4 * 10**6]).map(lambda n: "7" * n),
    st.sampled_from([10**5, 10**6]).map(lambda n: "SITI " * (n // 5)),
)

values = st.one_of(
    texts,
    st.binary(max_size=20),
    st.binary(max_size=5).map(bytearray),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), -0.0, 5e-324, 1e308]),
    st.none(),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.timedeltas(),
    st.decimals(allow_nan=True),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
    st.lists(st.integers(), max_size=3),
    st.tuples(st.text(max_size=3)),
    st.just(object()),
    st.just(decimal.Decimal("sNaN")),
)

field_kwargs = st.dictionaries(st.sampled_from(FIELDS), values, max_size=5)

# A setting's value: often plausible, often garbage; retries and timeouts stay
# small so that input which happens to be valid still ends quickly.
option_values = {
    "api_key": values,
    "username": values,
    "password": values,
    "api_version": st.one_of(values, st.sampled_from(["v1", "v2", "v1/../x", "v1?x", "\ud800"])),
    "timeout": st.one_of(values, st.floats(min_value=0.05, max_value=2)),
    "deadline": st.one_of(values, st.floats(min_value=0.05, max_value=3)),
    "retry_unanswered": st.one_of(values, st.booleans()),
    "request_id": st.one_of(values, st.from_regex(r"\A[!-~]{1,130}\Z"), st.sampled_from(["", " ", "a b", "\ud800"])),
    "max_retries": st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=2**32),
        st.integers(min_value=0, max_value=1),
        values.filter(lambda v: not isinstance(v, int) or isinstance(v, bool) or v < 0 or v > 1),
    ),
}
option_kwargs = st.fixed_dictionaries({}, optional={k: v for k, v in option_values.items()})

unknown_kwargs = st.dictionaries(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
        lambda k: k not in KNOWN_KWARGS
    ),
    values,
    min_size=1,
    max_size=2,
)

records = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS + ("request_id",)), values, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(FIELDS), texts, st.integers(), st.none()), values, max_size=3),
    values,
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(synthetic=0, slow_delay=0.05) as sb:
        yield sb


def _strings(obj: Any) -> Iterator[str]:
    """The text values in `obj` (not dict keys: an unknown key is named on purpose)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


def _keys(obj: Any) -> Iterator[str]:
    """The dict keys in `obj`, at any depth."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, str):
                yield k
            yield from _keys(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _keys(v)


def _assert_no_echo(exc: BaseException, given_values: Any) -> None:
    """No message or attribute of a typed error repeats a (long enough) value.
    A value that is also one of the input's keys is skipped: an error names an
    unknown key on purpose, and cannot tell it from the value it equals."""
    text = str(exc) + repr(exc) + repr(getattr(exc, "__dict__", {}))
    keys = set(_keys(given_values))
    for s in _strings(given_values):
        if len(s) >= 12 and s not in keys:
            assert s not in text


def _check_raised(exc: BaseException, sent: int, given_values: Any) -> None:
    """A call raised: it must be a typed error; if its input was rejected,
    nothing reached the server."""
    if isinstance(exc, (ValidationError, ConfigurationError)) or type(exc) is TypeError:
        assert sent == 0, f"{type(exc).__name__} raised but {sent} request(s) sent"
        if isinstance(exc, GlairVisionError):
            _assert_no_echo(exc, given_values)
        return
    if isinstance(exc, GlairVisionError):
        # The input was valid and the call failed later (e.g. a wrong credential):
        # a typed error, and the request was sent at most twice (max_retries <= 1).
        assert sent <= 2
        return
    raise AssertionError(f"untyped exception {type(exc).__name__}: {exc!r}") from exc


def _check_outcomes(outcomes: List[Any], n_records: int, sent: int, given_values: Any) -> None:
    assert len(outcomes) == n_records
    for o in outcomes:
        assert isinstance(o, (Verification, GlairVisionError)), type(o)
        if isinstance(o, ValidationError):
            _assert_no_echo(o, given_values)
    # Each record is sent at most once (max_retries=0), and only when valid.
    assert sent == sum(1 for o in outcomes if not isinstance(o, ValidationError))


def _sent(sandbox: Sandbox, before: int) -> int:
    return len(sandbox.requests()) - before


def _vision(sandbox: Sandbox, cls: type = Vision) -> Any:
    return cls(
        api_key=sandbox.api_key,
        username=sandbox.username,
        password=sandbox.password,
        base_url=sandbox.url,
        max_retries=0,
        timeout=5,
    )


# ------------------------------------------------------------------ single calls


def _call_args(fields: Dict[str, Any], options: Dict[str, Any]) -> Tuple[List[Any], Dict[str, Any]]:
    kwargs = dict(fields)
    kwargs.update(options)
    args: List[Any] = []
    if "nik" in kwargs and len(kwargs) % 2:  # sometimes positional
        args.append(kwargs.pop("nik"))
    return args, kwargs


@SETTINGS
@given(fields=field_kwargs, options=option_kwargs)
def test_verification_raises_only_typed_errors(sandbox: Sandbox, fields: Dict[str, Any], options: Dict[str, Any]) -> None:
    vision = _vision(sandbox)
    args, kwargs = _call_args(fields, options)
    before = len(sandbox.requests())
    try:
        result = vision.identity.verification(*args, **kwargs)
    except BaseException as e:  # noqa: B036 (the point is to catch everything)
        _check_raised(e, _sent(sandbox, before), (fields, options))
    else:
        assert isinstance(result, Verification)
        assert _sent(sandbox, before) == 1


@SETTINGS
@given(fields=field_kwargs, unknown=unknown_kwargs)
def test_unknown_keywords_are_type_errors_and_send_nothing(
    sandbox: Sandbox, fields: Dict[str, Any], unknown: Dict[str, Any]
) -> None:
    vision = _vision(sandbox)
    before = len(sandbox.requests())
    with pytest.raises(TypeError):
        vision.identity.verification(**fields, **unknown)
    with pytest.raises(TypeError):
        vision.identity.verification_batch([fields], **unknown)
    with pytest.raises(TypeError):
        vision.with_options(**unknown)
    assert _sent(sandbox, before) == 0


@SETTINGS
@given(fields=field_kwargs, options=option_kwargs)
def test_async_verification_raises_only_typed_errors(
    sandbox: Sandbox, fields: Dict[str, Any], options: Dict[str, Any]
) -> None:
    vision = _vision(sandbox, AsyncVision)
    args, kwargs = _call_args(fields, options)
    before = len(sandbox.requests())

    async def call() -> Any:
        return await vision.identity.verification(*args, **kwargs)

    try:
        result = asyncio.run(call())
    except BaseException as e:  # noqa: B036
        _check_raised(e, _sent(sandbox, before), (fields, options))
    else:
        assert isinstance(result, Verification)
        assert _sent(sandbox, before) == 1


# ------------------------------------------------------------------ settings


@SETTINGS
@given(options=option_kwargs, positional=st.lists(values, max_size=3))
def test_client_settings_raise_only_typed_errors(
    sandbox: Sandbox, options: Dict[str, Any], positional: List[Any]
) -> None:
    for cls in (Vision, AsyncVision):
        try:
            client = cls(*positional[:1], **{"base_url": sandbox.url, **options})
        except BaseException as e:  # noqa: B036
            _check_raised(e, 0, options)
        else:
            assert sandbox.url in repr(client)
        try:
            _vision(sandbox, cls).with_options(**options)
        except BaseException as e:  # noqa: B036
            _check_raised(e, 0, options)


# ------------------------------------------------------------------ batches


def _not_slow_rate(value: Any) -> bool:
    """Leaves out valid but slow rates (a batch would wait minutes between calls)."""
    if isinstance(value, (bool, str, bytes, bytearray)):
        return True
    try:
        rate = float(value)
    except (TypeError, ValueError, OverflowError):
        return True
    return not 0 < rate < 50


batch_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "concurrency": st.one_of(st.integers(min_value=1, max_value=8), values),
        "rate_limit": st.one_of(st.none(), st.floats(min_value=50, max_value=1e6), values.filter(_not_slow_rate)),
    },
)


@SETTINGS
@given(
    batch=st.one_of(
        st.lists(records, max_size=6),
        # not a list of records (short: a str or bytes batch is one record per item)
        st.one_of(st.integers(), st.none(), st.floats(), st.text(max_size=5), st.binary(max_size=5)),
        st.dictionaries(st.text(max_size=3), values, max_size=3),
    ),
    kwargs=batch_kwargs,
)
def test_verification_batch_raises_only_typed_errors(sandbox: Sandbox, batch: Any, kwargs: Dict[str, Any]) -> None:
    vision = _vision(sandbox)
    before = len(sandbox.requests())
    try:
        outcomes = vision.identity.verification_batch(batch, **kwargs)
    except BaseException as e:  # noqa: B036
        _check_raised(e, _sent(sandbox, before), (batch, kwargs))
        return
    n = len(batch) if isinstance(batch, list) else len(outcomes)
    _check_outcomes(outcomes, n, _sent(sandbox, before), batch)


@SETTINGS
@given(batch=st.lists(records, max_size=6), kwargs=batch_kwargs)
def test_verification_batch_iter_raises_only_typed_errors(
    sandbox: Sandbox, batch: List[Any], kwargs: Dict[str, Any]
) -> None:
    vision = _vision(sandbox)
    before = len(sandbox.requests())
    try:
        pairs = list(vision.identity.verification_batch_iter(iter(batch), **kwargs))
    except BaseException as e:  # noqa: B036
        _check_raised(e, _sent(sandbox, before), (batch, kwargs))
        return
    assert sorted(i for i, _ in pairs) == list(range(len(batch)))
    _check_outcomes([o for _, o in pairs], len(batch), _sent(sandbox, before), batch)


@SETTINGS
@given(batch=st.lists(records, max_size=6), kwargs=batch_kwargs)
def test_async_batches_raise_only_typed_errors(sandbox: Sandbox, batch: List[Any], kwargs: Dict[str, Any]) -> None:
    vision = _vision(sandbox, AsyncVision)

    async def ordered() -> List[Any]:
        return await vision.identity.verification_batch(batch, **kwargs)

    async def as_completed() -> List[Any]:
        return [o async for _, o in vision.identity.verification_batch_iter(batch, **kwargs)]

    for run in (ordered, as_completed):
        before = len(sandbox.requests())
        try:
            outcomes = asyncio.run(run())
        except BaseException as e:  # noqa: B036
            _check_raised(e, _sent(sandbox, before), (batch, kwargs))
            continue
        _check_outcomes(outcomes, len(batch), _sent(sandbox, before), batch)


# ------------------------------------------------------------------ NIK helper


@SETTINGS
@given(value=values)
def test_mask_nik_never_reveals_and_raises_only_type_errors(value: Any) -> None:
    try:
        masked = mask_nik(value)
    except BaseException as e:  # noqa: B036
        assert type(e) is TypeError and not isinstance(value, str), repr(e)
        return
    assert isinstance(value, str)
    assert isinstance(masked, str) and len(masked) <= 16
    if len(value) == 16:
        assert masked[6:12] == "******"
    else:
        assert set(masked) <= {"*"}


def test_mask_nik_examples() -> None:
    assert mask_nik(SITI["nik"]) == "317101******0001"
    assert mask_nik("\ud800" * 3) == "***"
    assert mask_nik("x" * 100) == "*" * 16
    assert mask_nik("") == ""
    with pytest.raises(TypeError):
        mask_nik(3171014508900001)  # type: ignore[arg-type]

