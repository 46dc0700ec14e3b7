"""A real redis-server for the pacing store's tests: started on 127.0.0.1 with an
ephemeral port and a password (scripts/ensure-redis.sh installs Debian's package
when it is missing; without it these tests fail and say so)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from typing import Iterator, List

import pytest

PASSWORD = "py-store-pass-81d2"


class RedisServer:
    def __init__(self) -> None:
        if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
            pytest.fail("redis-server and redis-cli must be on the PATH (scripts/ensure-redis.sh installs them)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="glair-redis-")
        self.process: "subprocess.Popen[bytes] | None" = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--requirepass", PASSWORD,
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not listen on {self.port}")
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    @property
    def url(self) -> str:
        return f"redis://:{PASSWORD}@127.0.0.1:{self.port}/1"

    def cli(self, *args: str) -> List[str]:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.port), "-a", PASSWORD, "--no-auth-warning", "-n", "1", *args],
            check=True, capture_output=True,
        )
        return out.stdout.decode("utf-8", "replace").splitlines()

    def keys(self) -> List[str]:
        return self.cli("--scan")

    def processes(self) -> int:
        """Processes that shared an account's pace (the store's set of them)."""
        sets = [k for k in self.keys() if k.endswith(":processes")]
        return sum(int(self.cli("ZCARD", k)[0]) for k in sets)

    def dump(self) -> str:
        """Everything the store holds, keys and values, as text."""
        parts = []
        for key in self.keys():
            parts.append(key)
            kind = self.cli("TYPE", key)[0]
            parts += self.cli("HGETALL", key) if kind == "hash" else self.cli("ZRANGE", key, "0", "-1")
        return "\n".join(parts)

    def flush(self) -> None:
        self.cli("FLUSHDB")


@pytest.fixture(scope="module")
def redis_store() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)
