#!/usr/bin/env bash
# The pacing scenario of issue 10 (see bench/pacing.py): builds the release CLI and
# bench-rust, the Python wheel (installed into bench/.work/venv with aiohttp, as
# bench/run.sh does) and the Node package (a copy of node/ in bench/.work/node-pkg),
# then runs every contender against its own rate-limited sandbox on 127.0.0.1.
# Result: bench/results/pacing-latest.md.
#
#   bash bench/pacing.sh                      # 20,000 rows each (~2 min per contender)
#   bash bench/pacing.sh --rows 5000 --only cli,rust,python
#   BENCH_SKIP_BUILD=1 bash bench/pacing.sh   # reuse the last builds
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORK="$ROOT/bench/.work"
VENV="$WORK/venv"
PY="$VENV/bin/python"
NODE_PKG="$WORK/node-pkg"
say() { printf '==> %s\n' "$*" >&2; }

mkdir -p "$WORK"
if [ ! -x "$PY" ]; then
    say "creating $VENV"
    python3 -m venv "$VENV"
fi
if ! "$PY" -c 'import aiohttp, maturin' 2>/dev/null; then
    say "installing aiohttp, maturin"
    "$PY" -m pip install --quiet --disable-pip-version-check aiohttp "maturin>=1.16,<1.17"
fi

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    say "building glair-vision-cli and bench-rust (release)"
    cargo build --release -q -p glair-vision-cli -p glair-vision-bench --bin glair-vision --bin bench-rust

    say "building the Python wheel (release) into $WORK/wheels"
    rm -rf "$WORK/wheels"
    (cd "$ROOT/python" && "$VENV/bin/maturin" build --release --quiet --out "$WORK/wheels" >/dev/null)
    "$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WORK"/wheels/glair_vision-*.whl

    # A copy, so that the bench never touches the node/ working tree.
    say "building the Node package (release) in $NODE_PKG"
    mkdir -p "$NODE_PKG"
    rm -rf "$NODE_PKG/lib" "$NODE_PKG/scripts"
    tar -C "$ROOT/node" --exclude=./node_modules --exclude=./test --exclude='*.node' \
        --exclude=./native.js --exclude=./native.d.ts -cf - . | tar -C "$NODE_PKG" -xf -
    if [ ! -x "$NODE_PKG/node_modules/.bin/napi" ]; then
        (cd "$NODE_PKG" && npm install --ignore-scripts --no-audit --no-fund --silent)
    fi
    (cd "$NODE_PKG" && npx napi build --platform --release \
        --manifest-path "$ROOT/bindings/node/Cargo.toml" --output-dir . --no-js >/dev/null)
fi
exec "$PY" bench/pacing.py "$@"
