#!/usr/bin/env bash
# Builds the glair-vision wheel (or takes the one GLAIR_VISION_WHEEL names) and
# the CLI (or takes the one GLAIR_VISION_CLI names), installs the wheel into
# python/.venv, checks the type stubs against the native module, and runs the
# pytest suite. Idempotent; runs from any directory. Extra arguments go to
# pytest (e.g. `-k batch -x`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/python/.venv"
PY="$VENV/bin/python"
WHEELS="$ROOT/target/python-wheels"

if [ ! -x "$PY" ]; then
    echo "==> creating $VENV"
    python3 -m venv "$VENV"
fi

# The optional dependencies the suite exercises (the package's extras: tables
# for verify_table). Add a suite's extra libraries here.
TEST_EXTRAS=("pyarrow>=15" "pandas>=2.2" "polars>=1" "fsspec>=2023.1" "s3fs>=2023.1"
    "opentelemetry-api>=1.23" "opentelemetry-sdk>=1.23")

echo "==> installing build and test tools"
"$PY" -m pip install --quiet --disable-pip-version-check "maturin>=1.16,<1.17" "pytest>=7" "mypy>=1.10" "hypothesis>=6.100" \
    "${TEST_EXTRAS[@]}"
# The local S3 server (moto, with boto3) after them, boto3 at most the botocore
# s3fs's aiobotocore pinned: asked for in one go, pip walked back through every
# boto3 release (each needs its own botocore) to find it, minutes of resolving.
botocore="$("$PY" -c 'import botocore; print(botocore.__version__)')"
"$PY" -m pip install --quiet --disable-pip-version-check "moto[server]>=5,<6" "boto3<=$botocore"

# The extras `dask` and `spark` of pyproject.toml (the cluster tests, marked
# `cluster`): dask[dataframe], distributed, and the Spark the `spark` extra leaves
# to its user: pyspark with its Connect client's gRPC libraries (pyspark is a
# ~456 MB source archive built once, then from pip's cache).
echo "==> installing the Dask and Spark test dependencies (extras dask, spark; pyspark[connect])"
mapfile -t cluster_deps < <("$PY" -c 'import sys, tomllib; x = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]; print("\n".join(sorted(set(x["dask"] + x["spark"]))))' "$ROOT/python/pyproject.toml")
"$PY" -m pip install --quiet --disable-pip-version-check "${cluster_deps[@]}" "pyspark[connect]>=3.5"

shopt -s nullglob
if [ -n "${GLAIR_VISION_WHEEL:-}" ]; then
    # A wheel already built (scripts/test.sh passes the release wheel that
    # scripts/dist.sh --native made, so the suite tests what ships).
    wheels=($GLAIR_VISION_WHEEL)
else
    echo "==> building the wheel (release, abi3)"
    rm -rf "$WHEELS"
    (cd "$ROOT/python" && "$VENV/bin/maturin" build --release --out "$WHEELS")
    wheels=("$WHEELS"/glair_vision-*.whl)
fi
if [ "${#wheels[@]}" -ne 1 ]; then
    echo "expected exactly one wheel, found ${#wheels[@]}: ${wheels[*]:-none}" >&2
    exit 1
fi

# The CLI that the pacing store's mixed test runs beside a Python process
# (scripts/test.sh names the static one dist.sh made; else a debug build here).
if [ -z "${GLAIR_VISION_CLI:-}" ]; then
    echo "==> building the glair-vision CLI (debug)"
    cargo build --quiet --locked -p glair-vision-cli --bin glair-vision
    GLAIR_VISION_CLI="$ROOT/target/debug/glair-vision"
fi
export GLAIR_VISION_CLI

echo "==> installing ${wheels[0]##*/}"
"$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "${wheels[0]}"

# Run the checks from outside python/ so that the installed package (with its
# native module) is imported, not the source tree.
mkdir -p "$ROOT/target"
cd "$ROOT/target"

echo "==> checking the type stubs against the native module"
"$PY" -m mypy.stubtest glair_vision._native

echo "==> type-checking the package"
"$PY" -m mypy --no-incremental --cache-dir=/dev/null -p glair_vision

echo "==> running the tests"
"$PY" -m pytest "$ROOT/python/tests" "$@"
