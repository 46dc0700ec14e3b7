"""A local GLAIR Vision sandbox for tests: the Rust sandbox server, in-process.

    from glair_vision import Sandbox

    with Sandbox() as sb:
        vision = sb.vision()
        result = vision.identity.verification(nik="3171014508900001", name="SITI RAHAYU")

It implements ``POST /identity/v1/verification`` as documented over a synthetic
registry (plus three fixture people and any records you load), checks the
credentials, and triggers every error path from reserved NIKs (last four digits
9xxx: ...9503 answers 503, ...9429 answers 429, ...9408 answers slowly, ...).
"""

from __future__ import annotations

import datetime
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import _native
from ._client import AsyncVision, Vision

__all__ = ["Sandbox"]

Seconds = Union[float, int, datetime.timedelta]


def _seconds(value: Optional[Seconds]) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return value


class Sandbox:
    """An in-process sandbox server on 127.0.0.1 and an ephemeral port.

    Use it as a context manager (``with Sandbox() as sb:``) or call
    :meth:`start` and :meth:`stop`. Options:

    - ``records``: extra people, a list of dicts keyed by wire field names, or the
      path of a ``.jsonl``, ``.json`` or ``.csv`` file;
    - ``synthetic``: how many synthetic people to generate (default 100), ``seed``;
    - ``api_key``, ``username``, ``password``: the credentials it accepts
      (defaults: ``sandbox-api-key``, ``sandbox``, ``sandbox-password``);
    - ``latency`` (mean seconds added to every answer) and ``latency_spread``
      (its standard deviation: each answer then waits a log-normal draw, seeded
      by ``seed``; default 0, a constant), ``failure_rate`` (share of
      answers that are 503), ``slow_delay`` (how long ...9408 NIKs wait, default 3 s),
      ``match_threshold`` (free-text similarity needed to match, default 0.85);
    - ``rate_limit`` (requests per second allowed per API key, as a gateway's
      token bucket; past it the answer is 429 with ``Retry-After``; default 0,
      no limit) and ``burst`` (requests an idle key may send at once, default 20).
      :attr:`throttled` counts the 429s it sent;
    - ``gateway``: another gateway instead of that token bucket, as text
      (``"model=fixed-window,limit=100,window=1s,headers=kong"``) or a dict
      (``{"model": "sliding-window", "limit": 600, "window": "60s",
      "retry_after": "absent", "changes": [(30, 0.5)]}``): the model
      (``token-bucket`` with ``rate``, ``burst``; ``fixed-window`` or
      ``sliding-window`` with ``limit``, ``window``; ``leaky-queue`` with
      ``rate``, ``depth``), ``retry_after`` (``exact``, ``absent``, ``date`` or
      whole seconds), ``headers`` (``none``, ``x-ratelimit``, ``kong``,
      ``ietf``) and ``changes`` (limit factors from a time on, in seconds);
    - ``tls``: serve HTTPS with a certificate from a CA the sandbox makes
      (:attr:`ca_file`; :meth:`vision` trusts it), ``tls_client_auth`` to require a
      client certificate it also makes (:attr:`client_cert_file`,
      :attr:`client_key_file`), ``tls_dir`` to keep the files there, ``tls_names``
      for more host names in the certificate.
    """

    def __init__(
        self,
        records: Union[Sequence[Mapping[str, Any]], str, "os.PathLike[str]", None] = None,
        *,
        synthetic: Optional[int] = None,
        seed: Optional[int] = None,
        api_key: Optional[str] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
        latency: Optional[Seconds] = None,
        latency_spread: Optional[Seconds] = None,
        rate_limit: Optional[float] = None,
        burst: Optional[int] = None,
        gateway: Union[str, Mapping[str, Any], None] = None,
        failure_rate: Optional[float] = None,
        slow_delay: Optional[Seconds] = None,
        match_threshold: Optional[float] = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        tls_client_auth: bool = False,
        tls_dir: Union[str, "os.PathLike[str]", None] = None,
        tls_names: Optional[Sequence[str]] = None,
    ) -> None:
        records_json: Optional[str] = None
        records_path: Optional[str] = None
        if records is None:
            pass
        elif isinstance(records, (str, os.PathLike)):
            records_path = os.fspath(records)
        else:
            records = list(records)
            for r in records:
                if not isinstance(r, Mapping):
                    raise TypeError("records must be dicts keyed by wire field names (or a file path)")
            records_json = json.dumps([dict(r) for r in records])
        self._config: Dict[str, Any] = dict(
            records_json=records_json,
            records_path=records_path,
            synthetic=synthetic,
            seed=seed,
            api_key=api_key,
            username=username,
            password=password,
            latency=_seconds(latency),
            latency_spread=_seconds(latency_spread),
            rate_limit=rate_limit,
            burst=burst,
            gateway=_gateway_spec(gateway),
            failure_rate=failure_rate,
            slow_delay=_seconds(slow_delay),
            match_threshold=match_threshold,
            host=host,
            port=port,
            tls=tls,
            tls_client_auth=tls_client_auth,
            tls_dir=None if tls_dir is None else os.fspath(tls_dir),
            tls_names=None if tls_names is None else list(tls_names),
        )
        self._server: Optional[_native.SandboxServer] = None

    # lifecycle -----------------------------------------------------------

    def start(self) -> "Sandbox":
        """Starts the server (no-op if running). Returns self."""
        if self._server is None or not self._server.running:
            self._server = _native.SandboxServer(**self._config)
        return self

    def stop(self) -> None:
        """Stops the server (idempotent)."""
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.running

    def _require(self) -> _native.SandboxServer:
        if self._server is None or not self._server.running:
            raise RuntimeError("the sandbox is not running: use `with Sandbox() as sb:` or call start()")
        return self._server

    # connection details --------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return self._require().url

    @property
    def api_key(self) -> str:
        return self._require().api_key

    @property
    def username(self) -> str:
        return self._require().username

    @property
    def password(self) -> str:
        return self._require().password

    @property
    def credentials(self) -> Dict[str, str]:
        """``{"api_key", "username", "password"}``, as accepted by the clients."""
        s = self._require()
        return {"api_key": s.api_key, "username": s.username, "password": s.password}

    @property
    def ca_file(self) -> Optional[str]:
        """With ``tls=True``: the sandbox's CA certificate (PEM), to trust as
        ``ca_bundle`` (or ``SSL_CERT_FILE``); removed when the sandbox stops unless
        ``tls_dir`` was given."""
        return self._require().ca_file

    @property
    def client_cert_file(self) -> Optional[str]:
        """With ``tls_client_auth=True``: the client certificate the sandbox requires."""
        return self._require().client_cert_file

    @property
    def client_key_file(self) -> Optional[str]:
        """With ``tls_client_auth=True``: that certificate's private key."""
        return self._require().client_key_file

    def _client_settings(self, options: Mapping[str, Any]) -> Dict[str, Any]:
        settings: Dict[str, Any] = {"base_url": self.url, **self.credentials}
        if self.ca_file is not None:
            settings["ca_bundle"] = self.ca_file
        if self.client_cert_file is not None:
            settings.update(client_cert=self.client_cert_file, client_key=self.client_key_file)
        return {**settings, **options}

    def vision(self, **options: Any) -> Vision:
        """A :class:`Vision` client for this sandbox (options: timeout, max_retries,
        ...); over TLS it trusts the sandbox's CA and shows its client certificate."""
        return Vision(**self._client_settings(options))

    def async_vision(self, **options: Any) -> AsyncVision:
        """An :class:`AsyncVision` client for this sandbox."""
        return AsyncVision(**self._client_settings(options))

    # inspection ----------------------------------------------------------

    @property
    def throttled(self) -> int:
        """Requests answered 429 by ``rate_limit`` so far."""
        return self._require().throttled

    def records(self) -> List[Dict[str, str]]:
        """Every person in the registry, as dicts keyed by wire field names."""
        return self._require().records()

    def requests(self) -> List[Dict[str, Any]]:
        """The verification requests received so far (oldest first, latest 10,000):
        dicts with ``fields`` (what was sent, by wire name), ``content_type``,
        ``user_agent``, ``request_id`` (the sandbox's ``Request-Id``),
        ``client_request_id`` (the caller's ``x-request-id``, or None), ``traceparent`` and
        ``tracestate`` (the W3C trace context it sent, or None) and ``status``."""
        return self._require().requests()

    @staticmethod
    def openapi() -> Dict[str, Any]:
        """The OpenAPI 3.1 document of the endpoint as the sandbox serves it (also
        at ``GET {url}/openapi.json``): every field, answer and header, for contract
        tests and code generators."""
        document: Dict[str, Any] = json.loads(_native.OPENAPI_DOCUMENT)
        return document

    def clear_requests(self) -> None:
        """Forgets the requests received so far."""
        self._require().clear_requests()

    def __repr__(self) -> str:
        if self.running:
            return f"Sandbox(url={self.url!r})"
        return "Sandbox(stopped)"


def _gateway_spec(gateway: Union[str, Mapping[str, Any], None]) -> Optional[str]:
    """The gateway as the sandbox's text form (the core parses and checks it)."""
    if gateway is None or isinstance(gateway, str):
        return gateway
    if not isinstance(gateway, Mapping):
        raise TypeError(f"gateway must be a str or a dict, not {type(gateway).__name__}")
    parts = []
    for key, value in gateway.items():
        if not isinstance(key, str):
            raise TypeError("gateway keys must be str")
        name = key.replace("_", "-")
        if name in ("changes", "change", "schedule"):
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise TypeError("gateway changes must be a list of (seconds, factor) pairs")
            for change in value:
                if isinstance(change, (str, bytes)) or not isinstance(change, Sequence) or len(change) != 2:
                    raise TypeError("gateway changes must be a list of (seconds, factor) pairs")
                at, factor = change
                for number in (at, factor):
                    if isinstance(number, bool) or not isinstance(number, (int, float)):
                        raise TypeError("gateway changes must be a list of (seconds, factor) pairs")
                parts.append(f"change={float(at)}s:{float(factor)}")
        elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError(f"gateway {key} must be a str or a number, not {type(value).__name__}")
        else:
            if isinstance(value, str) and "," in value:
                raise ValueError(f"gateway {key} must not contain a comma")
            parts.append(f"{name}={value}")
    return ",".join(parts)
