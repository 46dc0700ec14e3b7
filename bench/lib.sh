# Sourced by bench/run.sh, bench/pacing.sh and bench/tables.sh: the paths under
# bench/.work/ and the setup steps they share (the venv, the wheel, the Node package),
# so that the three scripts build them the same way.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$ROOT/bench/.work"
VENV="$WORK/venv"
PY="$VENV/bin/python"
WHEELS="$WORK/wheels"
NODE_PKG="$WORK/node-pkg"
mkdir -p "$WORK"
cd "$ROOT"

say() { printf '==> %s\n' "$*" >&2; }

# bench_venv MODULE...: bench/.work/venv with MODULE... and maturin importable
# (each MODULE is also its pip name).
bench_venv() {
    if [ ! -x "$PY" ]; then
        say "creating $VENV"
        python3 -m venv "$VENV"
    fi
    # Import names: the requirements without extras or versions (moto[server] -> moto).
    local imports="" req
    for req in "$@"; do imports+="${req%%[\[<>=]*}, "; done
    imports+="maturin"
    if ! "$PY" -c "import $imports" 2>/dev/null; then
        say "installing $imports"
        "$PY" -m pip install --quiet --disable-pip-version-check "$@" "maturin>=1.16,<1.17"
    fi
}

# bench_wheel: this tree's Python wheel (release), built into $WHEELS and installed
# into the venv. target/maturin is shared with python/test.sh: if a build there
# races ours, retry.
bench_wheel() {
    say "building the Python wheel (release) into $WHEELS"
    rm -rf "$WHEELS"
    local attempt
    for attempt in 1 2 3; do
        if (cd "$ROOT/python" && "$VENV/bin/maturin" build --release --quiet --out "$WHEELS" >/dev/null); then
            break
        fi
        [ "$attempt" = 3 ] && { echo "maturin build failed" >&2; exit 1; }
        say "maturin build failed (attempt $attempt), retrying"
        sleep 5
    done
    "$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/glair_vision-*.whl
}

# bench_node_pkg NAPI_ARG...: the project's Node package built (release) as
# node/test.sh does, in a copy at $NODE_PKG so that the bench never touches the
# node/ working tree; NAPI_ARG... choose the JS glue (--no-js, or --js/--dts).
bench_node_pkg() {
    say "building the Node package (release) in $NODE_PKG"
    mkdir -p "$NODE_PKG"
    rm -rf "$NODE_PKG/lib" "$NODE_PKG/scripts"
    tar -C "$ROOT/node" --exclude=./node_modules --exclude=./test --exclude='*.node' \
        --exclude=./native.js --exclude=./native.d.ts -cf - . | tar -C "$NODE_PKG" -xf -
    if [ ! -x "$NODE_PKG/node_modules/.bin/napi" ]; then
        (cd "$NODE_PKG" && npm install --ignore-scripts --no-audit --no-fund --silent)
    fi
    (cd "$NODE_PKG" && npx napi build --platform --release \
        --manifest-path "$ROOT/bindings/node/Cargo.toml" --output-dir . "$@" >/dev/null)
}
