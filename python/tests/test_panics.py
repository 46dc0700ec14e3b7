"""A panic in native code never ends the interpreter: every boundary of the
binding turns it into glair_vision.InternalError (a GlairVisionError, so
``except Exception`` sees it), or logs it when no caller waits, and the process
goes on. Proved with the test-only trigger ``glair_vision._native._test_panic``,
which refuses to run unless GLAIR_VISION_TEST_PANICS=1 is set."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from glair_vision import ConfigurationError, GlairVisionError, InternalError, errors
from glair_vision import _native

PROBE = Path(__file__).resolve().parents[2] / "tests" / "install" / "panics_python.py"
PLACES = ("sync", "async", "awaitable", "background", "stream", "arrow")


def test_every_panic_is_an_internal_error_and_the_process_goes_on() -> None:
    env = dict(os.environ, GLAIR_VISION_TEST_PANICS="1")
    proc = subprocess.run([sys.executable, str(PROBE)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr[-4000:])
    for place in PLACES:
        assert f"ok {place}:" in proc.stdout, proc.stdout
    assert "ok after:" in proc.stdout, proc.stdout
    # The panics did happen (Rust's hook prints each), and none aborted.
    assert "test panic (sync)" in proc.stderr, proc.stderr[-4000:]
    assert "fatal runtime error" not in proc.stderr and "aborting" not in proc.stderr, proc.stderr[-4000:]


@pytest.mark.parametrize("value", [None, "", "0", "true", "yes"])
def test_the_trigger_refuses_without_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    if value is None:
        monkeypatch.delenv("GLAIR_VISION_TEST_PANICS", raising=False)
    else:
        monkeypatch.setenv("GLAIR_VISION_TEST_PANICS", value)
    for place in PLACES:
        with pytest.raises(ConfigurationError, match="test-only trigger.*GLAIR_VISION_TEST_PANICS=1"):
            _native._test_panic(place)


def test_internal_error_is_a_glair_vision_error_that_pickles() -> None:
    e = errors._from_native("internal", "internal error in glair-vision: boom", {"detail": "boom"})
    assert type(e) is InternalError and isinstance(e, GlairVisionError) and isinstance(e, Exception)
    assert e.code == "internal" and e.detail == "boom"
    assert errors.error_class("internal") is InternalError
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is InternalError and str(back) == str(e) and back.detail == "boom"
