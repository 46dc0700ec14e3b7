#!/usr/bin/env bash
# Issue 11's table targets (see bench/tables.py): builds the release CLI (the
# sandbox) and bench-rust, makes sure bench/.work/venv has pyarrow, pandas,
# requests and this tree's wheel, then runs every contender against one sandbox
# on 127.0.0.1. Result: bench/results/tables-latest.md.
#
#   bash bench/tables.sh                                   # 1,000,000 rows (verify_table, Rust batch)
#   bash bench/tables.sh --rows 100000 --slow-rows 1000    # a quick check
#   BENCH_SKIP_BUILD=1 bash bench/tables.sh ...            # reuse the last builds and wheel
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORK="$ROOT/bench/.work"
VENV="$WORK/venv"
PY="$VENV/bin/python"
mkdir -p "$WORK"
[ -x "$PY" ] || python3 -m venv "$VENV"
"$PY" -c 'import pyarrow, pandas, requests, maturin' 2>/dev/null ||
    "$PY" -m pip install --quiet --disable-pip-version-check pyarrow pandas requests "maturin>=1.16,<1.17"
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    cargo build --release --quiet -p glair-vision-cli -p glair-vision-bench --bin glair-vision --bin bench-rust
    rm -rf "$WORK/wheels"
    (cd "$ROOT/python" && "$VENV/bin/maturin" build --release --quiet --out "$WORK/wheels" >/dev/null)
    "$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WORK"/wheels/glair_vision-*.whl
fi
BENCH_COMMAND="bash bench/tables.sh${*:+ $*}" exec "$PY" bench/tables.py "$@"
