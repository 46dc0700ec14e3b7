#!/usr/bin/env bash
# Builds the Node package (native addon in release mode via the napi CLI) and
# runs its node:test suite and the TypeScript check. Works from any directory,
# on a fresh machine (needs Node >= 18, npm and a Rust toolchain), and can be
# re-run. Exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

npm run build

tests=(test/*.test.js test/*.test.mjs)
node --test "${tests[@]}"

npx tsc --noEmit -p test/tsconfig.json
echo "node: type check passed"
