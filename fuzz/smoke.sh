#!/usr/bin/env bash
# A short run of every fuzz target, then a merge of what it found into the
# checked-in corpus (KEEP inputs per target, default 40).
# Usage: [KEEP=n] fuzz/smoke.sh [seconds per target] [target...]
# Needs a nightly toolchain and cargo-fuzz (see README.md).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
keep=${KEEP:-40}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(validation nik response_2xx response_error sandbox_body)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 seed_corpus.py "$work/seeds"
cargo +nightly fuzz build -s none
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "$work/new/$t" "$work/merged/$t"
  echo "== $t: ${secs}s"
  # New inputs go to the scratch directory; the corpus and the seeds are read.
  cargo +nightly fuzz run -s none "$t" "$work/new/$t" "corpus/$t" "$work/seeds/$t" -- \
    -max_total_time="$secs" -max_len=4096 -print_final_stats=1 2>&1 | tail -n 25
  # Keep the inputs that cover the most edges, at most $keep of them.
  cargo +nightly fuzz run -s none "$t" "$work/merged/$t" "corpus/$t" "$work/seeds/$t" "$work/new/$t" -- \
    -merge=1 -merge_control_file="$work/control-$t" 2>&1 | tail -n 1
  python3 trim_corpus.py "$work/control-$t" "$work/kept/$t" "$keep" "$work/seeds/$t"
  rm -f "corpus/$t"/*
  cp "$work/kept/$t"/* "corpus/$t"/
  echo "== $t: $(ls "corpus/$t" | wc -l) corpus files"
done
