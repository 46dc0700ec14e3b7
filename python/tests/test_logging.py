"""GLAIR_LOG (falling back to RUST_LOG) turns on the core's tracing on stderr,
without personal data or secrets."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

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
