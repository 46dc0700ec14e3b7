#!/usr/bin/env bash
# Contract test: Schemathesis generates requests from the sandbox's OpenAPI document
# (crates/glair-vision-sandbox/openapi.json), sends them to a running sandbox and
# checks every answer against the document: no 5xx, every status, content type,
# header and body as documented. About a minute; creates its own venv.
#
# Scripted faults: a valid NIK whose serial (last four digits) is 9000-9999 makes
# the sandbox answer 5xx (and malformed 200s) on purpose; the document lists them
# (x-sandbox-faults and the 5xx responses). The `nik` pattern of the request body
# leaves those serials out, so generated valid NIKs never reach a fault and
# `not_a_server_error` stays meaningful: any 5xx is a sandbox bug. (Negative cases
# violate the pattern and are not valid NIKs, so they get 400.)
#
# Environment: CONTRACT_EXAMPLES (examples per phase, default 50), CONTRACT_SEED
# (default 1, so a failure reproduces; set another to explore).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=$TARGET/contract-venv

if [ ! -x "$VENV/bin/schemathesis" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet 'schemathesis>=4,<5'
fi
cargo build --quiet --locked -p glair-vision-cli

WORK=$(mktemp -d)
"$TARGET/debug/glair-vision" sandbox --host 127.0.0.1 --port 0 >"$WORK/sandbox.out" 2>"$WORK/sandbox.err" &
SANDBOX=$!
stop_sandbox() {
    kill "$SANDBOX" 2>/dev/null || true
    wait "$SANDBOX" 2>/dev/null || true
    rm -rf "$WORK"
}
trap stop_sandbox EXIT

# The first line of stdout is `listening on URL`.
for _ in $(seq 300); do
    grep -q '^listening on ' "$WORK/sandbox.out" && break
    if ! kill -0 "$SANDBOX" 2>/dev/null; then
        echo "the sandbox did not start:" >&2
        cat "$WORK/sandbox.err" >&2
        exit 1
    fi
    sleep 0.1
done
URL=$(sed -n 's/^listening on //p' "$WORK/sandbox.out" | head -n 1)
[ -n "$URL" ] || { echo "the sandbox printed no URL" >&2; exit 1; }

# Run from the scratch directory: Schemathesis and Hypothesis keep state in the cwd.
(
    cd "$WORK"
    "$VENV/bin/schemathesis" run "$ROOT/crates/glair-vision-sandbox/openapi.json" \
        --url "$URL" \
        --auth sandbox:sandbox-password \
        --header "x-api-key: sandbox-api-key" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
        --max-examples "${CONTRACT_EXAMPLES:-50}" \
        --seed "${CONTRACT_SEED:-1}" \
        --request-timeout 10
)

# The sandbox's side: still running (no crash) and no 5xx in its own request log.
if ! kill -0 "$SANDBOX" 2>/dev/null; then
    echo "the sandbox exited during the contract test:" >&2
    cat "$WORK/sandbox.err" >&2
    exit 1
fi
"$VENV/bin/python" - "$URL" <<'PY'
import collections, json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/_sandbox/requests") as answer:
    log = json.load(answer)
statuses = collections.Counter(r["status"] for r in log)
print(f"sandbox answered {len(log)} requests: {dict(sorted(statuses.items()))}")
if not log or any(s >= 500 for s in statuses):
    sys.exit("contract: the sandbox answered 5xx (or received nothing)")
PY
