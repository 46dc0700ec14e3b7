#!/usr/bin/env bash
# Every test in every language, on a fresh machine: installs what it needs
# (Python venv, npm packages) and builds the bindings itself: this machine's
# release artifacts (scripts/dist.sh --native), which the Python and Node suites
# then test, and which are install-tested in environments without a Rust
# toolchain (tests/install/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each section's heading says how long the suite has run so far (CI's budget is 30 minutes).
section() { printf '\n=== %s (at %dm%02ds)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

section "One version (Cargo workspace = npm package)"
python3 scripts/version.py --check

section "Rust: format and lints"
cargo fmt --all --check
# The `arrow` feature (tables::arrow and its tests) is off by default: lint and test it too.
cargo clippy --workspace --all-targets --locked --features glair-vision/arrow -- -D warnings

section "Test servers: redis-server for the pacing store's tests (the OS package, when missing)"
REDIS_BIN="$(bash scripts/ensure-redis.sh)"
if [ -n "$REDIS_BIN" ]; then
    export PATH="$REDIS_BIN:$PATH"
fi

section "Rust: tests (core, sandbox, CLI, conformance vectors)"
cargo test --locked --features glair-vision/arrow

section "Rust: the CLI without Parquet (cargo feature parquet off: CSV and JSONL only)"
cargo clippy --locked -p glair-vision-cli --no-default-features --bins -- -D warnings
cargo test --locked -p glair-vision-cli --no-default-features --bin glair-vision

section "Contract: Schemathesis against the sandbox's OpenAPI document"
bash tests/contract/run.sh

section "Release artifacts: this machine's wheel, npm packages and static CLI (scripts/dist.sh --native)"
bash scripts/dist.sh --native

section "Release inspection: scripts/inspect_dist.py over fixtures of every artifact kind (tests/dist)"
# dist.sh's tool venv has what the inspection needs (pyelftools, auditwheel, zig).
target/dist-tools/bin/python -m pip install --quiet --disable-pip-version-check "pytest>=7"
target/dist-tools/bin/python -m pytest -q tests/dist

# The language suites test the release builds that ship (a second build of
# each would double the compile time).
section "Python"
GLAIR_VISION_WHEEL="$(ls dist/glair_vision-*-manylinux*_x86_64.whl)" \
    GLAIR_VISION_CLI="$(ls "$PWD"/dist/glair-vision-*-x86_64-unknown-linux-musl)" bash python/test.sh --durations=15

section "Node"
GLAIR_VISION_ADDON="$PWD/target/npm-build/linux-x64-gnu/glair-vision.linux-x64-gnu.node" bash node/test.sh

section "Install tests: dist/ into fresh environments without Rust, README examples"
bash tests/install/run.sh

section "All suites passed"
