#!/usr/bin/env bash
# Every test in every language, on a fresh machine: installs what it needs
# (Python venv, npm packages) and builds the bindings itself.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n=== %s\n' "$*"; }

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

section "All suites passed"
