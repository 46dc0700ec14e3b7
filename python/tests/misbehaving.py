"""Small misbehaving HTTP servers for tests: raw sockets on 127.0.0.1 and an
ephemeral port, one thread per connection, so every byte of every answer is under
the test's control (redirects, huge or endless bodies, long Retry-After, a
connection dropped after the status line, half answers).

    def test_something(misbehaving):
        server = misbehaving(answer(429, b"{}", {"Retry-After": "120"}))
        vision = client_for(server)
        ...
        assert len(server.requests) == 1

A handler gets the parsed request and a `Conn` to write to; when it returns, the
connection is closed (every answer is the last one on its connection). Servers
stop by themselves: endless bodies are bounded in bytes and time.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

import pytest

from glair_vision import Vision

# An endless body stops after this much, or this long, whichever comes first.
ENDLESS_BYTES = 512 * 1024 * 1024
ENDLESS_SECONDS = 30.0
CHUNK = 64 * 1024

REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Received:
    """One request as the server read it (header names lower-cased)."""

    method: str
    path: str
    headers: Dict[str, str]
    body: bytes


class Conn:
    """The server's end of one connection; counts what it wrote."""

    def __init__(self, sock: socket.socket, server: "MisbehavingServer") -> None:
        self._sock = sock
        self._server = server
        self.sent = 0

    def send(self, data: bytes) -> bool:
        """Writes all of `data`; False once the client has gone away."""
        try:
            self._sock.sendall(data)
        except OSError:
            return False
        self.sent += len(data)
        self._server._count_sent(len(data))
        return True

    @property
    def stopping(self) -> bool:
        """True once the test is over: long writers stop then."""
        return self._server.stopping

    def drop(self) -> None:
        """Closes the connection at once (no more bytes, no graceful end of body)."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


Handler = Callable[[Received, Conn], None]


class MisbehavingServer:
    """Serves every connection with `handler`, recording each request."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._lock = threading.Lock()
        self._requests: List[Received] = []
        self._bytes_sent = 0
        self._stopping = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._threads: List[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name=f"misbehaving-{self.port}", daemon=True)
        self._acceptor.start()

    @property
    def requests(self) -> List[Received]:
        with self._lock:
            return list(self._requests)

    @property
    def bytes_sent(self) -> int:
        """Bytes written to clients so far, over every connection."""
        with self._lock:
            return self._bytes_sent

    def _count_sent(self, n: int) -> None:
        with self._lock:
            self._bytes_sent += n

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        with sock:
            try:
                request = read_request(sock)
            except (OSError, ValueError):
                return
            if request is None:
                return
            with self._lock:
                self._requests.append(request)
            if self._stopping.is_set():
                return
            self._handler(request, Conn(sock, self))

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def close(self) -> None:
        self._stopping.set()
        self._listener.close()
        self._acceptor.join(timeout=5)
        for t in self._threads:
            t.join(timeout=5)


def _read_until(sock: socket.socket, buf: bytearray, marker: bytes, limit: int) -> int:
    while True:
        at = buf.find(marker)
        if at >= 0:
            return at
        if len(buf) > limit:
            raise ValueError("request head too long")
        data = sock.recv(CHUNK)
        if not data:
            raise ValueError("connection closed mid-request")
        buf += data


def _read_exactly(sock: socket.socket, buf: bytearray, n: int) -> None:
    while len(buf) < n:
        data = sock.recv(CHUNK)
        if not data:
            raise ValueError("connection closed mid-body")
        buf += data


def read_request(sock: socket.socket) -> Optional[Received]:
    """Reads one HTTP/1.1 request (body by Content-Length or chunked)."""
    buf = bytearray()
    try:
        end = _read_until(sock, buf, b"\r\n\r\n", 64 * 1024)
    except ValueError:
        if not buf:
            return None  # a connection opened and closed without a request
        raise
    head = bytes(buf[:end]).decode("latin-1")
    rest = bytearray(buf[end + 4 :])
    lines = head.split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: Dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            at = _read_until(sock, rest, b"\r\n", 1024)
            size = int(bytes(rest[:at]).split(b";")[0], 16)
            del rest[: at + 2]
            _read_exactly(sock, rest, size + 2)
            body += rest[:size]
            del rest[: size + 2]
            if size == 0:
                break
    else:
        length = int(headers.get("content-length", "0"))
        _read_exactly(sock, rest, length)
        body = rest[:length]
    return Received(method, path, headers, bytes(body))


def head(status: int, headers: Optional[Mapping[str, str]] = None, reason: Optional[str] = None) -> bytes:
    """A status line and headers, ending with the blank line."""
    lines = [f"HTTP/1.1 {status} {reason or REASONS.get(status, 'Status')}"]
    all_headers = {"Connection": "close", "Request-Id": "mis-0001"}
    all_headers.update(headers or {})
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# ----------------------------------------------------------------- handlers


def answer(status: int, body: bytes = b"", headers: Optional[Mapping[str, str]] = None) -> Handler:
    """A complete, well-formed answer."""

    def handle(_: Received, conn: Conn) -> None:
        h = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        h.update(headers or {})
        conn.send(head(status, h) + body)

    return handle


def json_answer(status: int, obj: Any, headers: Optional[Mapping[str, str]] = None) -> Handler:
    return answer(status, json.dumps(obj).encode(), headers)


def verified(request_id: str = "mis-0001") -> Handler:
    """A documented 200: NIK and name match."""
    body = {"verification_status": True, "reason": "Verification Success", "result": {"nik": True, "name": True}}
    return json_answer(200, body, {"Request-Id": request_id})


def redirect(status: int, location: Optional[str]) -> Handler:
    headers = {"Content-Length": "0"}
    if location is not None:
        headers["Location"] = location
    return answer(status, b"", headers)


def _stream(conn: Conn, total: Optional[int], prefix: bytes) -> None:
    started = time.monotonic()
    chunk = b" " * CHUNK
    if not conn.send(prefix):
        return
    sent = len(prefix)
    limit = total if total is not None else ENDLESS_BYTES
    while sent < limit and time.monotonic() - started < ENDLESS_SECONDS and not conn.stopping:
        piece = chunk[: min(CHUNK, limit - sent)]
        if not conn.send(piece):
            return
        sent += len(piece)


def huge_body(size: int, status: int = 200) -> Handler:
    """`size` bytes announced by Content-Length, then streamed (JSON-ish start)."""

    def handle(_: Received, conn: Conn) -> None:
        h = {"Content-Type": "application/json", "Content-Length": str(size)}
        if conn.send(head(status, h)):
            _stream(conn, size, b'{"verification_status": true, "reason": "')

    return handle


def endless_body(status: int = 200, chunked: bool = False) -> Handler:
    """A body with no length that never ends (until the client leaves, or the
    server's own bounds): read-until-close, or chunked."""

    def handle(_: Received, conn: Conn) -> None:
        h = {"Content-Type": "application/json"}
        if chunked:
            h["Transfer-Encoding"] = "chunked"
        if not conn.send(head(status, h)):
            return
        if not chunked:
            _stream(conn, None, b'{"reason": "')
            return
        started = time.monotonic()
        piece = b"%x\r\n%s\r\n" % (CHUNK, b" " * CHUNK)
        sent = 0
        while sent < ENDLESS_BYTES and time.monotonic() - started < ENDLESS_SECONDS and not conn.stopping:
            if not conn.send(piece):
                return
            sent += CHUNK

    return handle


def drop_after_status_line(status: int = 200) -> Handler:
    """The status line, then the connection closes."""

    def handle(_: Received, conn: Conn) -> None:
        conn.send(f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n".encode())
        conn.drop()

    return handle


def drop_mid_body(status: int = 200, declared: int = 200, sent: bytes = b'{"verification_status": tr') -> Handler:
    """Headers announcing `declared` bytes, the first bytes of the body, then the
    connection closes."""

    def handle(_: Received, conn: Conn) -> None:
        h = {"Content-Type": "application/json", "Content-Length": str(declared)}
        conn.send(head(status, h) + sent)
        conn.drop()

    return handle


def stall_mid_body(seconds: float, status: int = 200, sent: bytes = b'{"verification_status": tr') -> Handler:
    """Headers and the first bytes of the body, then silence for `seconds`."""

    def handle(_: Received, conn: Conn) -> None:
        h = {"Content-Type": "application/json", "Content-Length": "200"}
        conn.send(head(status, h) + sent)
        time.sleep(seconds)
        conn.drop()

    return handle


def silence(seconds: float) -> Handler:
    """Reads the request, answers nothing for `seconds`, then closes."""

    def handle(_: Received, conn: Conn) -> None:
        time.sleep(seconds)
        conn.drop()

    return handle


def in_turn(*handlers: Handler) -> Handler:
    """The n-th request gets the n-th handler; the last one repeats."""
    lock = threading.Lock()
    state = {"n": 0}

    def handle(request: Received, conn: Conn) -> None:
        with lock:
            n = state["n"]
            state["n"] += 1
        handlers[min(n, len(handlers) - 1)](request, conn)

    return handle


# ----------------------------------------------------------------- fixtures


@dataclass
class Servers:
    """`misbehaving(handler)` starts a server; all are closed after the test."""

    started: List[MisbehavingServer] = field(default_factory=list)

    def __call__(self, handler: Handler) -> MisbehavingServer:
        server = MisbehavingServer(handler)
        self.started.append(server)
        return server


@pytest.fixture
def misbehaving() -> Iterator[Servers]:
    servers = Servers()
    try:
        yield servers
    finally:
        for s in servers.started:
            s.close()


def client_for(server: MisbehavingServer, **options: Any) -> Vision:
    """A Vision for `server` with dummy credentials (no retries unless asked)."""
    options.setdefault("max_retries", 0)
    return Vision(api_key="key-MIS-1", username="user-mis", password="pw-MIS-2", base_url=server.url, **options)


def form_fields(request: Received) -> Dict[str, str]:
    """The text parts of a multipart/form-data body."""
    ctype = request.headers.get("content-type", "")
    boundary = ctype.split("boundary=", 1)[1].strip('"')
    out: Dict[str, str] = {}
    for part in request.body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head_, _, value = part.partition(b"\r\n\r\n")
        name = head_.decode().split('name="', 1)[1].split('"', 1)[0]
        out[name] = value[: -2 if value.endswith(b"\r\n") else None].decode()
    return out
