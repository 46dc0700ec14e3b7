"""Runs the README's Python examples against the in-process sandbox, with the
glair_vision installed in this interpreter's environment (tests/install/run.sh
runs it in a fresh venv that has only the wheel from dist/).

    python readme_python.py README.md EXPECTED_VERSION
"""

import contextlib
import io
import os
import re
import sys
import time

readme_path, expected_version = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
import glair_vision  # noqa: E402
from glair_vision import Sandbox  # noqa: E402

import_ms = (time.perf_counter() - t0) * 1000

# The installed package, not a source tree.
assert "site-packages" in glair_vision.__file__, glair_vision.__file__
assert glair_vision.__version__ == expected_version, (glair_vision.__version__, expected_version)

text = open(readme_path, encoding="utf-8").read()
section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```python\n(.*?)```", section, re.S)
main_example = next(b for b in blocks if "vision.identity.verification(" in b and "Sandbox" not in b)
sandbox_example = next(b for b in blocks if "Sandbox" in b)

with Sandbox() as sb:
    # The README's client reads GLAIR_* from the environment: point it at the sandbox.
    os.environ.update(
        GLAIR_API_KEY=sb.api_key, GLAIR_USERNAME=sb.username, GLAIR_PASSWORD=sb.password, GLAIR_BASE_URL=sb.url
    )
    out = io.StringIO()
    t1 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        exec(compile(main_example, "README.md (Python example)", "exec"), {})
    first_call_ms = (time.perf_counter() - t1) * 1000
    printed = out.getvalue().strip()
    assert re.fullmatch(r"True Verification Success True sbx-\S+", printed), printed
    assert len(sb.requests()) == 1

exec(compile(sandbox_example, "README.md (Python sandbox example)", "exec"), {})
print(f"python: README examples passed with glair_vision {glair_vision.__version__} from {glair_vision.__file__}")
print(f"python: import {import_ms:.0f} ms, first verification (client creation + call) {first_call_ms:.0f} ms")
