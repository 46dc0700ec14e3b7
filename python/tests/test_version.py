"""One version: the package's, the native core's and the workspace's agree."""

import re
from importlib.metadata import version as dist_version
from pathlib import Path

import glair_vision

CARGO_TOML = Path(__file__).resolve().parents[2] / "Cargo.toml"


def workspace_version() -> str:
    m = re.search(r'\[workspace\.package\][^\[]*?\nversion\s*=\s*"([^"]+)"', CARGO_TOML.read_text(), re.S)
    assert m, "no [workspace.package] version in Cargo.toml"
    return m.group(1)


def test_version_is_the_workspace_version() -> None:
    assert glair_vision.__version__ == workspace_version()


def test_version_is_the_installed_distribution_version() -> None:
    # maturin takes the wheel's version from the crate (pyproject.toml: dynamic).
    assert dist_version("glair-vision") == glair_vision.__version__
