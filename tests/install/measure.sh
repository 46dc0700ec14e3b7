#!/usr/bin/env bash
# Figures for the README's Install section, measured on the installed artifacts:
# sizes in dist/, Python import time (-X importtime), Node require time, and the
# first verification in a fresh process (import + client + one call) against a
# sandbox running in another process (the static CLI's `sandbox`). Run after
# tests/install/run.sh, which leaves its venv and npm project in
# target/install-test. Prints the median of RUNS (default 7) runs of each.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIST="${DIST_DIR:-$ROOT/dist}"
WORK="$ROOT/target/install-test"
RUNS="${RUNS:-7}"
VERSION="$(python3 "$ROOT/scripts/version.py" --print)"
VPY="$WORK/venv/bin/python"
APP="$WORK/app"
CLI="$DIST/glair-vision-$VERSION-x86_64-unknown-linux-musl"
[ -x "$VPY" ] && [ -d "$APP/node_modules/glair-vision" ] || { echo "run tests/install/run.sh first" >&2; exit 1; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now_ms() { date +%s%3N; }

echo "## sizes"
for f in "$DIST"/*.whl "$DIST"/*.tgz "$DIST"/glair-vision-"$VERSION"-*-linux-musl; do
    [ -e "$f" ] && printf '%-80s %8.1f MB\n' "${f##*/}" "$(stat -c %s "$f" | awk '{print $1/1e6}')"
done
so="$(find "$WORK/venv" -name '_native*.so' | head -1)"
node_bin="$(find "$APP/node_modules" -name '*.node' | head -1)"
printf '%-80s %8.1f MB\n' "installed ${so##*/}" "$(stat -c %s "$so" | awk '{print $1/1e6}')"
printf '%-80s %8.1f MB\n' "installed ${node_bin##*/}" "$(stat -c %s "$node_bin" | awk '{print $1/1e6}')"

sandbox_log="$WORK/sandbox.out"
"$CLI" sandbox --port 0 --api-key api-key --username username --password password >"$sandbox_log" 2>&1 &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^listening on ' "$sandbox_log" && break; sleep 0.1; done
URL="$(sed -n 's/^listening on //p' "$sandbox_log" | head -1)"
echo "sandbox at $URL (pid $sandbox_pid)"

echo "## python -X importtime -c 'import glair_vision' (cumulative us of glair_vision)"
for _ in $(seq "$RUNS"); do
    (cd "$WORK" && "$VPY" -X importtime -c 'import glair_vision' 2>&1 | awk -F'|' '$3 ~ /^ glair_vision$/ {gsub(/ /, "", $2); print $2}')
done | median

echo "## Python first call in a fresh process (import + Vision() + one verification), ms"
for _ in $(seq "$RUNS"); do
    (cd "$WORK" && "$VPY" -c "
import time
t = time.perf_counter()
import glair_vision
v = glair_vision.Vision(api_key='api-key', username='username', password='password', base_url='$URL')
assert v.identity.verification(nik='3171014508900001', name='SITI RAHAYU').verification_status
print(round((time.perf_counter() - t) * 1000, 1))")
done | median

echo "## Python whole process (python -c, same program), ms"
for _ in $(seq "$RUNS"); do
    t0="$(now_ms)"
    (cd "$WORK" && "$VPY" -c "
import glair_vision
v = glair_vision.Vision(api_key='api-key', username='username', password='password', base_url='$URL')
assert v.identity.verification(nik='3171014508900001', name='SITI RAHAYU').verification_status")
    echo $(($(now_ms) - t0))
done | median

echo "## node: require('glair-vision'), ms"
for _ in $(seq "$RUNS"); do
    (cd "$APP" && node -e "
const t = process.hrtime.bigint();
require('glair-vision');
console.log((Number(process.hrtime.bigint() - t) / 1e6).toFixed(1));")
done | median

echo "## Node first call in a fresh process (require + new Vision + one verification), ms"
for _ in $(seq "$RUNS"); do
    (cd "$APP" && node -e "
const t = process.hrtime.bigint();
const { Vision } = require('glair-vision');
const v = new Vision({ apiKey: 'api-key', username: 'username', password: 'password', baseUrl: '$URL' });
v.identity.verification({ nik: '3171014508900001', name: 'SITI RAHAYU' }).then((r) => {
  if (!r.verification_status) process.exit(1);
  console.log((Number(process.hrtime.bigint() - t) / 1e6).toFixed(1));
});")
done | median

echo "## Node whole process (node -e, same program), ms"
for _ in $(seq "$RUNS"); do
    t0="$(now_ms)"
    (cd "$APP" && node -e "
const { Vision } = require('glair-vision');
new Vision({ apiKey: 'api-key', username: 'username', password: 'password', baseUrl: '$URL' })
  .identity.verification({ nik: '3171014508900001', name: 'SITI RAHAYU' }).then((r) => process.exit(r.verification_status ? 0 : 1));")
    echo $(($(now_ms) - t0))
done | median

echo "## static CLI whole process (verify --base-url), ms"
for _ in $(seq "$RUNS"); do
    t0="$(now_ms)"
    "$CLI" verify --base-url "$URL" --api-key api-key --username username --password password \
        --nik 3171014508900001 --name "SITI RAHAYU" >/dev/null
    echo $(($(now_ms) - t0))
done | median
