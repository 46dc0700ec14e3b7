#!/usr/bin/env bash
# Issue 11's table targets (see bench/tables.py): builds the release CLI (the
# sandbox) and bench-rust, makes sure bench/.work/venv has pyarrow, pandas,
# requests, moto[server] (a local S3 server), boto3 and this tree's wheel, then runs every contender against one sandbox
# on 127.0.0.1. Result: bench/results/tables-latest.md.
#
#   bash bench/tables.sh                                   # 1,000,000 rows (verify_table, Rust batch)
#   bash bench/tables.sh --rows 100000 --slow-rows 1000    # a quick check
#   BENCH_SKIP_BUILD=1 bash bench/tables.sh ...            # reuse the last builds and wheel
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_venv pyarrow pandas requests "moto[server]" boto3
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    cargo build --release --quiet -p glair-vision-cli -p glair-vision-bench --bin glair-vision --bin bench-rust
    bench_wheel
fi
BENCH_COMMAND="bash bench/tables.sh${*:+ $*}" exec "$PY" bench/tables.py "$@"
