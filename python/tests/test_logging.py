"""GLAIR_LOG (falling back to RUST_LOG) turns on the core's tracing on stderr,
and the core's records reach `logging.getLogger("glair_vision")`, both without
personal data or secrets."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from typing import Iterator

import pytest
from conftest import FAULT, SITI

import glair_vision
from glair_vision import Sandbox

SCRIPT = textwrap.dedent(
    """
    from glair_vision import Sandbox
    with Sandbox(synthetic=0, api_key="key-XYZ-123", password="pw-XYZ-456") as sb:
        v = sb.vision()
        v.identity.verification("3171014508900001", name="SITI RAHAYU")
        try:
            v.identity.verification("3171011001909503", name="SITI RAHAYU", max_retries=1)
        except Exception:
            pass
    print("done")
    """
)


def _run(env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GLAIR_LOG", "RUST_LOG")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("var", ["GLAIR_LOG", "RUST_LOG"])
def test_log_filter_enables_tracing_without_personal_data(var: str) -> None:
    proc = _run({var: "glair_vision=debug"})
    assert proc.returncode == 0, proc.stderr
    assert "done" in proc.stdout
    err = proc.stderr
    assert "glair_vision" in err, err
    assert "317101******0001" in err  # masked NIK appears ...
    for secret in ("3171014508900001", "3171011001909503", "SITI RAHAYU", "key-XYZ-123", "pw-XYZ-456"):
        assert secret not in err  # ... never the clear one, names or credentials


def test_logging_is_off_by_default() -> None:
    proc = _run({})
    assert proc.returncode == 0, proc.stderr
    assert "glair_vision" not in proc.stderr


def test_no_colour_codes_when_stderr_is_not_a_terminal() -> None:
    proc = _run({"GLAIR_LOG": "glair_vision=debug"})
    assert "glair_vision" in proc.stderr
    assert "\x1b[" not in proc.stderr


# ---------------------------------------------------------------- logging module

SECRETS = ("3171014508900001", "3171011001909503", "SITI RAHAYU", "sandbox-api-key", "sandbox-password")


def _record_text(record: logging.LogRecord) -> str:
    return record.getMessage() + repr(record.__dict__)


@pytest.fixture
def quiet_logger() -> Iterator[logging.Logger]:
    """The package logger, put back as it was (and the core told so) afterwards."""
    logger = logging.getLogger("glair_vision")
    level = logger.level
    yield logger
    logger.setLevel(level)
    glair_vision.refresh_logging()


def test_records_reach_the_logging_module_redacted(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, quiet_logger: logging.Logger
) -> None:
    caplog.set_level(logging.DEBUG, logger="glair_vision")
    vision = sandbox.vision()  # a new client reads the logger's level
    vision.identity.verification(SITI["nik"], name=SITI["name"], request_id="log-order-1")
    with pytest.raises(glair_vision.ServiceUnavailableError):
        vision.identity.verification(FAULT + "9503", name=SITI["name"], max_retries=1)
    records = [r for r in caplog.records if r.name == "glair_vision"]
    assert records, caplog.text
    assert logging.DEBUG in {r.levelno for r in records}
    text = "\n".join(_record_text(r) for r in records)
    assert "317101******0001" in text  # the masked NIK ...
    for secret in SECRETS:
        assert secret not in text  # ... never the clear one, names or credentials
    verified = [r for r in records if r.getMessage().startswith("verified")]
    assert verified and verified[0].glair_fields["client_request_id"] == "log-order-1"  # type: ignore[attr-defined]
    assert verified[0].client_request_id == "log-order-1"  # type: ignore[attr-defined]
    assert verified[0].nik == "317101******0001"  # type: ignore[attr-defined]
    assert any(r.getMessage().startswith("retrying") for r in records)


def test_the_core_follows_the_logger_level(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, quiet_logger: logging.Logger
) -> None:
    from glair_vision import _logging

    quiet_logger.setLevel(logging.WARNING)
    glair_vision.refresh_logging()
    assert _logging._current == logging.WARNING  # debug records are not even made
    caplog.set_level(logging.WARNING, logger="glair_vision")
    sandbox.vision().identity.verification(SITI["nik"])
    assert not [r for r in caplog.records if r.name == "glair_vision"]

    quiet_logger.setLevel(logging.DEBUG)
    glair_vision.refresh_logging()
    assert _logging._current == logging.DEBUG
    caplog.set_level(logging.DEBUG, logger="glair_vision")
    sandbox.vision().identity.verification(SITI["nik"])
    assert [r for r in caplog.records if r.name == "glair_vision"]

    logging.disable(logging.CRITICAL)
    try:
        glair_vision.refresh_logging()
        assert _logging._current is None  # the core's sink is off
    finally:
        logging.disable(logging.NOTSET)


def test_a_call_picks_up_a_level_change(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, quiet_logger: logging.Logger
) -> None:
    vision = sandbox.vision()
    quiet_logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="glair_vision")
    vision.identity.verification(SITI["nik"])  # no refresh_logging() call needed
    assert [r for r in caplog.records if r.name == "glair_vision"]
