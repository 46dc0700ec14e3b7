#!/usr/bin/env bash
# The benchmark, in one command: installs what it needs (under bench/.work/),
# builds the release binaries, the Python wheel and the Node addon, starts one
# sandbox on 127.0.0.1 and runs every contender against it in turn.
#
#   bash bench/run.sh            # full mode (~15 min on 2 cores, plus first-time builds)
#   bash bench/run.sh --quick    # under 3 minutes once built
#   bash bench/run.sh --only py-sdk-sync,py-requests   # investigate a few; nothing published
#
# Results: bench/results/<timestamp>-{quick,full}.{md,json} and latest.{md,json};
# the table in bench/README.md is replaced by the run's. Load only ever goes to
# 127.0.0.1. Set BENCH_SKIP_BUILD=1 to reuse the last builds.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COMMAND="bash bench/run.sh${*:+ $*}"

# --- Python: a venv with the peers and the project's wheel ----------------------
bench_venv requests httpx aiohttp

# --- Node: @glair/vision in its own npm dir ------------------------------------
NPM_DIR="$WORK/npm"
mkdir -p "$NPM_DIR"
if [ ! -f "$NPM_DIR/node_modules/@glair/vision/package.json" ]; then
    say "installing @glair/vision"
    [ -f "$NPM_DIR/package.json" ] || echo '{"name": "glair-vision-bench-peers", "private": true}' >"$NPM_DIR/package.json"
    (cd "$NPM_DIR" && npm install --no-audit --no-fund --silent @glair/vision)
fi

# --- a load generator: oha (cargo), else wrk (Debian) ----------------------------
OHA=""
WRK=""
if command -v oha >/dev/null 2>&1; then
    OHA="$(command -v oha)"
elif [ -x "$WORK/tools/bin/oha" ]; then
    OHA="$WORK/tools/bin/oha"
else
    say "installing oha (cargo install --locked)"
    if cargo install --locked --quiet --root "$WORK/tools" oha; then
        OHA="$WORK/tools/bin/oha"
    fi
fi
if [ -z "$OHA" ]; then
    if ! command -v wrk >/dev/null 2>&1; then
        say "oha is unavailable: installing wrk from Debian"
        (apt-get update -qq && apt-get install -y -qq wrk) || true
    fi
    WRK="$(command -v wrk || true)"
    [ -n "$WRK" ] || say "no load generator available: the ceiling rows will be missing"
fi

# The commit the builds come from (the tree is shared while others work in it).
BENCH_REVISION="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git -C "$ROOT" status --porcelain -- crates bindings python node bench 2>/dev/null)" ]; then
    BENCH_REVISION="$BENCH_REVISION (with uncommitted changes)"
fi
export BENCH_REVISION
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    # --- Rust: the CLI (sandbox + batch) and the bench binaries ----------------
    say "building glair-vision-cli and glair-vision-bench (release)"
    cargo build --release --quiet -p glair-vision-cli -p glair-vision-bench

    # --- the project's Python wheel and Node package, as python/test.sh and
    # node/test.sh build them ----------------------------------------------------
    bench_wheel
    bench_node_pkg --js native.js --dts native.d.ts
fi

# --- versions, tool paths -------------------------------------------------------
TOOLS="$WORK/tools.json"
"$PY" - "$TOOLS" <<EOF
import json, subprocess, sys
def v(*argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except Exception:
        return None
tools = {
    "cli": "$ROOT/target/release/glair-vision",
    "bench_rust": "$ROOT/target/release/bench-rust",
    "bench_axum": "$ROOT/target/release/bench-axum",
    "python": "$PY",
    "node": "$(command -v node)",
    "node_pkg": "$NODE_PKG",
    "oha": "$OHA" or None,
    "wrk": "$WRK" or None,
}
tools["versions"] = {
    "rustc": v("rustc", "-V"),
    "node": v("node", "--version"),
    "python": v("$PY", "--version"),
    "oha": v("$OHA", "--version") if "$OHA" else None,
    "wrk": v("$WRK", "--version") if "$WRK" else None,
    "glair-vision CLI": v("$ROOT/target/release/glair-vision", "--version"),
}
json.dump(tools, open(sys.argv[1], "w"), indent=1)
EOF

say "running the benchmark"
exec "$PY" "$ROOT/bench/harness.py" --tools "$TOOLS" --command "$COMMAND" "$@"
