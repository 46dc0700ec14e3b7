#!/usr/bin/env bash
# Builds the Node package (native addon in release mode via the napi CLI; or
# takes the addon GLAIR_VISION_ADDON names) and runs its node:test suite and the
# TypeScript check. Works from any directory, on a fresh machine (needs Node >=
# 18, npm and, to build, a Rust toolchain), and can be re-run. Exits non-zero on
# any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

install=(npm install --no-audit --no-fund)
[ -f package-lock.json ] && install=(npm ci --no-audit --no-fund)

if [ -n "${GLAIR_VISION_ADDON:-}" ]; then
  # An addon already built (scripts/test.sh passes the release addon that
  # scripts/dist.sh --native made, so the suite tests what ships), placed where
  # lib/native.js looks first; `prepare` would build another, so it is skipped.
  "${install[@]}" --ignore-scripts
  cp "$GLAIR_VISION_ADDON" "./$(basename "$GLAIR_VISION_ADDON")"
else
  "${install[@]}"
  npm run build
fi

tests=(test/*.test.js test/*.test.mjs)
node --test "${tests[@]}"

npx tsc --noEmit -p test/tsconfig.json
echo "node: type check passed"
