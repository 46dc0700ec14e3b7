#!/usr/bin/env bash
# Every test in every language, on a fresh machine: installs what it needs
# (Python venv, npm packages) and builds the bindings itself; then builds this
# machine's release artifacts (scripts/dist.sh --native) and install-tests them
# in environments without a Rust toolchain (tests/install/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n=== %s\n' "$*"; }

section "One version (Cargo workspace = npm package)"
python3 scripts/version.py --check

section "Rust: format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

section "Rust: tests (core, sandbox, CLI, conformance vectors)"
cargo test --locked

section "Contract: Schemathesis against the sandbox's OpenAPI document"
bash tests/contract/run.sh

section "Python"
bash python/test.sh

section "Node"
bash node/test.sh

section "Release artifacts: build this machine's, install them without Rust, run the README examples"
bash scripts/dist.sh --native
bash tests/install/run.sh

section "All suites passed"
