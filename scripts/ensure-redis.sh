#!/usr/bin/env bash
# The pacing store's tests start a real redis-server (and use redis-cli): install
# the OS package when they are missing (Debian/Ubuntu: redis-server, which brings
# redis-tools). Nothing is skipped: without them, those tests fail and say why.
set -euo pipefail
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then
    SUDO="sudo -n"
fi
if command -v apt-get >/dev/null; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    # The package starts a system-wide server; the tests start their own.
    ($SUDO service redis-server stop || $SUDO systemctl stop redis-server) >/dev/null 2>&1 || true
else
    echo "scripts/ensure-redis.sh: install redis-server (Redis 6+ or Valkey) for the pacing store tests" >&2
    exit 1
fi
command -v redis-server >/dev/null
