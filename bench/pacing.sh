#!/usr/bin/env bash
# The pacing scenario of issue 10 (see bench/pacing.py): builds the release CLI and
# bench-rust, then runs every contender against its own rate-limited sandbox on
# 127.0.0.1. Result: bench/results/pacing-latest.md.
#
#   bash bench/pacing.sh                      # 20,000 rows each (~2 min per contender)
#   bash bench/pacing.sh --rows 5000 --only cli,rust
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    cargo build --release -q -p glair-vision-cli -p glair-vision-bench --bin glair-vision --bin bench-rust
fi
python3 -c 'import aiohttp' 2>/dev/null || [ -x bench/.work/venv/bin/python ] || {
    echo "aiohttp missing: run bash bench/run.sh once (it creates bench/.work/venv), or pip install aiohttp" >&2
}
exec python3 bench/pacing.py "$@"
