#!/usr/bin/env bash
# Install test: installs what scripts/dist.sh put in dist/ the way a user would,
# in fresh environments whose PATH has no cargo or rustc, from dist/ only (no
# registry fetch of our own packages), and runs:
#   - the README's Python examples in a fresh venv (pip --no-index --find-links dist);
#   - the README's Node example as CommonJS and as ESM in a fresh npm project
#     (npm install of the main and this platform's tarballs, offline);
#   - the unsupported-platform error of the Node loader;
#   - panics in native code, on purpose (the test-only trigger, with
#     GLAIR_VISION_TEST_PANICS=1), in the installed wheel and npm package: each
#     must reach the caller as InternalError (or be logged) and the process go
#     on (tests/install/panics_python.py, panics_node.js); without the variable
#     the trigger refuses;
#   - the CLI (the static musl one on Linux) `verify --sandbox`;
#   - the three version strings, which must equal the workspace version.
# Needs dist/ from `bash scripts/dist.sh --native` (or the full run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIST="${DIST_DIR:-$ROOT/dist}"   # DIST_DIR: install from another folder
WORK="$ROOT/target/install-test"
PYTHON="$(command -v python3 || command -v python)"
VERSION="$("$PYTHON" "$ROOT/scripts/version.py" --print)"
HOST="$(rustc -vV 2>/dev/null | sed -n 's/^host: //p' || true)"
section() { printf '\n=== install test: %s\n' "$*"; }

[ -d "$DIST" ] || { echo "no $DIST: run bash scripts/dist.sh --native first" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK"

section "a PATH without a Rust toolchain"
clean=""
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
    if [ -e "$d/cargo" ] || [ -e "$d/rustc" ] || [ -e "$d/cargo.exe" ] || [ -e "$d/rustc.exe" ]; then
        echo "dropped $d"
        continue
    fi
    clean="${clean:+$clean:}$d"
done
export PATH="$clean"
export CARGO_HOME="$WORK/no-cargo" RUSTUP_HOME="$WORK/no-rustup"
if command -v cargo >/dev/null 2>&1 || command -v rustc >/dev/null 2>&1; then
    echo "cargo or rustc is still on PATH: $(command -v cargo rustc)" >&2
    exit 1
fi
echo "command -v cargo: none; command -v rustc: none"

section "Python: fresh venv, wheel from dist/ only"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
[ -x "$VPY" ] || VPY="$WORK/venv/Scripts/python.exe"
# --only-binary: a wheel must match this platform; the sdist is never built here.
"$VPY" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$DIST" \
    --only-binary :all: "glair-vision==$VERSION"
"$VPY" -m pip show glair-vision | sed -n 's/^\(Name\|Version\|Location\): /  \1: /p'
(cd "$WORK" && "$VPY" "$ROOT/tests/install/readme_python.py" "$ROOT/README.md" "$VERSION")
PY_VERSION="$(cd "$WORK" && "$VPY" -c 'import glair_vision; print(glair_vision.__version__)')"

section "Python: a panic in native code is an InternalError, and the process goes on"
(cd "$WORK" && GLAIR_VISION_TEST_PANICS=1 "$VPY" "$ROOT/tests/install/panics_python.py")
(cd "$WORK" && env -u GLAIR_VISION_TEST_PANICS "$VPY" -c '
from glair_vision import ConfigurationError, _native
try:
    _native._test_panic("sync")
except ConfigurationError as e:
    print("without GLAIR_VISION_TEST_PANICS=1 the trigger refuses:", e)
else:
    raise SystemExit("the trigger ran without GLAIR_VISION_TEST_PANICS=1")
')

section "Node: fresh npm project, tarballs from dist/ only"
KEY="$(node -e '
  const fs = require("node:fs");
  let musl = false;
  try { musl = fs.readFileSync("/usr/bin/ldd", "latin1").includes("musl"); } catch {}
  const { platform, arch } = process;
  console.log(platform === "linux" ? `linux-${arch}-${musl ? "musl" : "gnu"}` : platform === "win32" ? `win32-${arch}-msvc` : `${platform}-${arch}`);
')"
MAIN_TGZ="$DIST/glair-vision-$VERSION.tgz"
PLATFORM_TGZ="$DIST/glair-vision-$KEY-$VERSION.tgz"
[ -f "$MAIN_TGZ" ] && [ -f "$PLATFORM_TGZ" ] || { echo "missing $MAIN_TGZ or $PLATFORM_TGZ" >&2; ls "$DIST" >&2; exit 1; }
APP="$WORK/app"
mkdir -p "$APP"
cp "$ROOT/tests/install/readme_node.js" "$APP/"
(
    cd "$APP"
    npm init -y >/dev/null
    # Offline, with an unreachable registry and an empty cache: the other
    # platforms' optional packages cannot be fetched (npm skips them, as it does
    # on a real install for a platform that does not match), and ours come
    # only from the tarballs.
    npm install --offline --registry=http://127.0.0.1:9 --cache "$WORK/npm-cache" \
        --no-audit --no-fund --foreground-scripts "$MAIN_TGZ" "$PLATFORM_TGZ" 2>&1 | tail -n 3
    echo "installed: $(ls node_modules | tr '\n' ' ')"
    node readme_node.js "$ROOT/README.md" "$VERSION"
)
NODE_VERSION="$(cd "$APP" && node -p 'require("glair-vision").version')"

section "Node: a panic in native code is an InternalError, and the process goes on"
cp "$ROOT/tests/install/panics_node.js" "$APP/"
(cd "$APP" && GLAIR_VISION_TEST_PANICS=1 node panics_node.js)
(cd "$APP" && env -u GLAIR_VISION_TEST_PANICS node -e '
  const { ConfigurationError, _testPanic } = require("glair-vision");
  try {
    _testPanic("sync");
  } catch (e) {
    if (!(e instanceof ConfigurationError)) throw e;
    console.log(`without GLAIR_VISION_TEST_PANICS=1 the trigger refuses: ${e.message}`);
    process.exit(0);
  }
  throw new Error("the trigger ran without GLAIR_VISION_TEST_PANICS=1");
')

section "Node: a platform without a binary fails at require, naming it and the supported list"
set +e
msg="$(cd "$APP" && node -e '
  Object.defineProperty(process, "arch", { value: "riscv64" });
  require("glair-vision");
' 2>&1)"
rc=$?
set -e
echo "$msg" | grep -m1 'glair-vision:'
if [ "$rc" -eq 0 ] || ! grep -q "linux-riscv64" <<<"$msg" || ! grep -q "Supported platforms: linux-x64-gnu, linux-arm64-gnu, linux-x64-musl, linux-arm64-musl, darwin-x64, darwin-arm64, win32-x64-msvc" <<<"$msg"; then
    echo "expected a clear unsupported-platform error, got (exit $rc): $msg" >&2
    exit 1
fi

section "CLI"
CLI="$DIST/glair-vision-$VERSION-x86_64-unknown-linux-musl"
case "$HOST" in
    x86_64-unknown-linux-*) ;;
    *windows*) CLI="$DIST/glair-vision-$VERSION-$HOST.exe" ;;
    ?*) CLI="$DIST/glair-vision-$VERSION-$HOST" ;;
esac
out="$(cd "$WORK" && "$CLI" verify --sandbox --nik 3171014508900001 --name "SITI RAHAYU" --date-of-birth 05-08-1990)"
echo "$out"
grep -q '"verification_status": true' <<<"$out" || { echo "CLI verify --sandbox did not verify" >&2; exit 1; }
CLI_VERSION="$("$CLI" --version | awk '{print $2}')"

section "one version"
echo "workspace $VERSION, glair_vision.__version__ $PY_VERSION, require('glair-vision').version $NODE_VERSION, glair-vision --version $CLI_VERSION"
[ "$PY_VERSION" = "$VERSION" ] && [ "$NODE_VERSION" = "$VERSION" ] && [ "$CLI_VERSION" = "$VERSION" ] \
    || { echo "versions disagree" >&2; exit 1; }

section "passed"
