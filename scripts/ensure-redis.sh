#!/usr/bin/env bash
# The pacing store's tests start a real redis-server (and use redis-cli). When they
# are missing, install Debian's redis-server package: system-wide as root (or with
# passwordless sudo), else unpacked into target/redis without root (apt-get with its
# lists and cache under target/redis, dpkg -x), behind wrappers in target/redis/bin.
# Prints the directory to put first on PATH (empty when the system's are used).
# Nothing is skipped: without them, those tests fail and say so.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCAL="$PWD/target/redis"
if [ -x "$LOCAL/bin/redis-server" ] && [ -x "$LOCAL/bin/redis-cli" ]; then
    echo "$LOCAL/bin"
    exit 0
fi
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "scripts/ensure-redis.sh: install redis-server and redis-cli (Redis 6+ or Valkey) for the pacing store tests" >&2
    exit 1
fi
SUDO=()
if [ "$(id -u)" != 0 ] && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
fi
if [ "$(id -u)" = 0 ] || [ "${#SUDO[@]}" -gt 0 ]; then
    "${SUDO[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends redis-server >&2
    # The package starts a system-wide server; the tests start their own.
    ("${SUDO[@]}" service redis-server stop || "${SUDO[@]}" systemctl stop redis-server) >/dev/null 2>&1 || true
    exit 0
fi
# No root: the packages' files under target/redis.
rm -rf "$LOCAL"
mkdir -p "$LOCAL/lists/partial" "$LOCAL/cache/archives/partial" "$LOCAL/debs" "$LOCAL/root" "$LOCAL/bin"
APT=(apt-get -qq -o "Dir::State::Lists=$LOCAL/lists" -o "Dir::Cache=$LOCAL/cache" -o "Debug::NoLocking=1")
"${APT[@]}" update >&2
(cd "$LOCAL/debs" && "${APT[@]}" download redis-server redis-tools libjemalloc2 liblzf1 >&2)
for deb in "$LOCAL"/debs/*.deb; do
    dpkg -x "$deb" "$LOCAL/root"
done
LIBS="$(dirname "$(find "$LOCAL/root" -name 'libjemalloc.so.2' | head -n 1)")"
for tool in redis-server redis-cli; do
    real="$LOCAL/root/usr/bin/$tool"
    [ -x "$real" ] || { echo "scripts/ensure-redis.sh: $tool missing from the packages" >&2; exit 1; }
    printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s" "$@"\n' "$LIBS" "$real" \
        > "$LOCAL/bin/$tool"
    chmod +x "$LOCAL/bin/$tool"
done
"$LOCAL/bin/redis-server" --version >&2
echo "$LOCAL/bin"
