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
#   bash bench/pacing.sh --gateways [--seconds 25 --only cli,python,node,oracle]
#                                             # the gateways matrix (bench/gateways.py)
#   bash bench/pacing.sh --store [--seconds 30 --only token,fixed,fleet]
#                                             # processes apart, through a pacing store
#                                             # (Redis) and the oracle (bench/pacing_store.py)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [ "${1:-}" = "--store" ]; then
    # Only the CLI and a redis-server are needed.
    shift
    [ -n "${BENCH_SKIP_BUILD:-}" ] || cargo build --release -q -p glair-vision-cli --bin glair-vision
    REDIS_BIN="$(bash scripts/ensure-redis.sh)"
    [ -z "$REDIS_BIN" ] || export PATH="$REDIS_BIN:$PATH"
    exec python3 bench/pacing_store.py "$@"
fi
bench_venv aiohttp

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    say "building glair-vision-cli and bench-rust (release)"
    cargo build --release -q -p glair-vision-cli -p glair-vision-bench --bin glair-vision --bin bench-rust
    bench_wheel
    bench_node_pkg --no-js
fi
if [ "${1:-}" = "--gateways" ]; then
    shift
    exec "$PY" bench/gateways.py "$@"
fi
exec "$PY" bench/pacing.py "$@"
