"""A small forward proxy for tests, on 127.0.0.1 and an ephemeral port: CONNECT
tunnels (what https:// goes through) with Basic credentials checked (407 without
them), one thread per connection. ``requests`` records what it was asked."""

from __future__ import annotations

import base64
import select
import socket
import threading
from dataclasses import dataclass
from typing import List, Optional


@dataclass
class Asked:
    method: str
    target: str
    authorized: bool


class ForwardProxy:
    def __init__(self, credentials: Optional[str] = None) -> None:
        self.expected = None if credentials is None else "Basic " + base64.b64encode(credentials.encode()).decode()
        self.requests: List[Asked] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}"

    def close(self) -> None:
        self._open = False
        self._listener.close()

    def _accept(self) -> None:
        while self._open:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 16384:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            text, _, rest = head.partition(b"\r\n\r\n")
            lines = text.decode("latin-1").split("\r\n")
            method, target = (lines[0].split(" ") + ["", ""])[:2]
            authorization = next(
                (v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
                 if k.lower() == "proxy-authorization"),
                None,
            )
            authorized = self.expected is None or authorization == self.expected
            self.requests.append(Asked(method, target, authorized))
            if not authorized:
                client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                               b"Proxy-Authenticate: Basic realm=\"proxy\"\r\nContent-Length: 0\r\n\r\n")
                return
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n")
                return
            host, _, port = target.rpartition(":")
            try:
                upstream = socket.create_connection((host, int(port)))
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with upstream:
                client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
                _pipe(client, upstream)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    while True:
        readable, _, _ = select.select([a, b], [], [], 30)
        if not readable:
            return
        for s in readable:
            data = s.recv(65536)
            if not data:
                return
            (b if s is a else a).sendall(data)
