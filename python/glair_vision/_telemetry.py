# mypy: disable-error-code="import-not-found, import-untyped, unused-ignore"
# (opentelemetry-api is an optional extra.)
"""OpenTelemetry spans and metrics of verification calls.

On when the application uses OpenTelemetry: ``opentelemetry-api`` is importable
(the ``otel`` extra) and a tracer or meter provider is set, globally or given to the
client (``tracer_provider=``, ``meter_provider=``). Off with
``GLAIR_VISION_TELEMETRY=0`` or a client's ``telemetry=False``; when off, a call
costs one check more than before.

Each call is a span of kind CLIENT under the caller's current span, named and
attributed as OpenTelemetry's HTTP client conventions say (``http.request.method``,
``server.address``, ``server.port``, ``url.full``, ``http.response.status_code``,
``error.type``, ``http.request.resend_count``), plus GLAIR's ``Request-Id``, the
caller's correlation id, the attempts, the 429s and the time spent waiting on the
pacer; its W3C ``traceparent`` (and ``tracestate``) is sent to GLAIR. Metrics: calls
by outcome and error type, attempts, 429s, the call duration as a histogram, and the
pacer's current rate. No NIK, name, date of birth, key or password is in any
attribute or label: only ids, counts, durations, statuses and the URL (no query).
"""

from __future__ import annotations

import os
import time
import urllib.parse
import weakref
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

if TYPE_CHECKING:
    from ._native import Client, Verification

try:
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
except ImportError:  # the extra is not installed: telemetry stays off
    _trace = None  # type: ignore[assignment]

ENV_SWITCH = "GLAIR_VISION_TELEMETRY"
if _trace is not None:
    # The API's global placeholder (what the getter returns before a provider is
    # set) has no public name.
    from opentelemetry.metrics import _internal as _metrics_internal

    _METER_PLACEHOLDERS: Tuple[type, ...] = tuple(
        t for t in (getattr(_metrics_internal, "_ProxyMeterProvider", None), _metrics.NoOpMeterProvider) if t
    )
_SCOPE = "glair_vision"
_Outcome = Any  # a Verification or an exception instance


def _version() -> str:
    from . import __version__

    return __version__


def _no_provider(provider: Any, placeholders: Tuple[type, ...]) -> bool:
    """Whether a global provider is the API's placeholder (none set yet: the
    global getter returns the set one once there is one) or its no-op."""
    return isinstance(provider, placeholders)


class Telemetry:
    """One client's instruments (or None of them when off)."""

    def __init__(self, enabled: bool, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        #: The client's switch, as given (kept across pickling).
        self.enabled = enabled
        self._enabled = enabled and _trace is not None
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._tracer: Any = None
        self._instruments: Any = None
        #: The native client this telemetry's calls go through (one per client
        #: object, shared with its with_options copies), for the pacer gauge.
        self.client: Optional["Client"] = None

    def on(self) -> bool:
        """Whether calls make spans or metrics now (the environment and the
        global providers are read each time: an application may set them late)."""
        if not self._enabled or os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "off", "no"):
            return False
        return self._tracing() is not None or self._metering() is not None

    def _tracing(self) -> Any:
        if self._tracer is None:
            provider = self._tracer_provider or _trace.get_tracer_provider()
            if self._tracer_provider is None and _no_provider(
                    provider, (_trace.ProxyTracerProvider, _trace.NoOpTracerProvider)):
                return None
            self._tracer = provider.get_tracer(_SCOPE, _version())
        return self._tracer

    def _metering(self) -> Any:
        if self._instruments is None:
            provider = self._meter_provider or _metrics.get_meter_provider()
            if self._meter_provider is None and _no_provider(provider, _METER_PLACEHOLDERS):
                return None
            self._instruments = _instruments(provider)
            self._instruments.telemetries.add(self)
        return self._instruments

    def call(self, client: "Client", endpoint: str, request_id: Optional[str],
             send: Callable[[Dict[str, str]], Tuple[_Outcome, Dict[str, Any]]]) -> "Verification":
        """One call: a span around ``send`` (given the trace context to send), then
        the metrics; raises the call's exception."""
        span, context = self._start(client, endpoint, request_id)
        started = time.perf_counter()
        try:
            outcome, report = send(context)
        except BaseException as e:  # refused before sending (bad input), or cancelled
            self._finish(span, endpoint, e, None, time.perf_counter() - started)
            raise
        return self._settle(span, endpoint, outcome, report, time.perf_counter() - started)

    async def call_async(self, client: "Client", endpoint: str, request_id: Optional[str],
                         send: Callable[[Dict[str, str]], Awaitable[Tuple[_Outcome, Dict[str, Any]]]]
                         ) -> "Verification":
        span, context = self._start(client, endpoint, request_id)
        started = time.perf_counter()
        try:
            outcome, report = await send(context)
        except BaseException as e:
            self._finish(span, endpoint, e, None, time.perf_counter() - started)
            raise
        return self._settle(span, endpoint, outcome, report, time.perf_counter() - started)

    def batch(self, client: "Client", endpoint: str, options: Optional[Dict[str, Any]],
              run: Callable[[Optional[Dict[str, Any]]], List[_Outcome]]) -> List[_Outcome]:
        """A batch run whole by the native client: one span (not one per row)
        with its counts; every row sends the batch span's trace context, and each
        outcome is counted in the metrics."""
        trace = self.start_batch(client, endpoint)
        try:
            outcomes = run(trace.options(options))
        except BaseException as e:
            trace.end(e)
            raise
        return trace.all_settled(outcomes)

    async def batch_async(self, client: "Client", endpoint: str, options: Optional[Dict[str, Any]],
                          run: Callable[[Optional[Dict[str, Any]]], Awaitable[List[_Outcome]]]) -> List[_Outcome]:
        trace = self.start_batch(client, endpoint)
        try:
            outcomes = await run(trace.options(options))
        except BaseException as e:
            trace.end(e)
            raise
        return trace.all_settled(outcomes)

    def start_batch(self, client: "Client", endpoint: str, row_spans: bool = False) -> "BatchTrace":
        """The telemetry of one batch, for the paths that see its rows one by
        one (streams, and batches with row spans): see :class:`BatchTrace`."""
        self.client = client
        instruments = self._metering()
        return BatchTrace(self._tracing(), instruments, endpoint, row_spans)

    def _start(self, client: "Client", endpoint: str, request_id: Optional[str]) -> Tuple[Any, Dict[str, str]]:
        self.client = client
        self._metering()  # registers this client with the pacer gauge
        tracer = self._tracing()
        if tracer is None:
            return None, {}
        attributes = _server_attributes(endpoint)
        attributes["url.full"] = endpoint
        if request_id is not None:
            attributes["glair.client_request_id"] = request_id
        span = tracer.start_span("POST", kind=_trace.SpanKind.CLIENT, attributes=attributes)
        return span, _w3c_context(span.get_span_context())

    def _settle(self, span: Any, endpoint: str, outcome: _Outcome, report: Dict[str, Any],
                seconds: float) -> "Verification":
        self._finish(span, endpoint, outcome, report, seconds)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    def _finish(self, span: Any, endpoint: str, outcome: Any, report: Optional[Dict[str, Any]],
                seconds: float) -> None:
        error_type = _error_type(outcome)
        if span is not None:
            _end_span(span, outcome, error_type, report)
        instruments = self._metering()
        if instruments is not None:
            status = report.get("status") if report else None
            instruments.record(_server_attributes(endpoint), outcome, error_type, status, report, seconds)


class BatchTrace:
    """One batch's telemetry: a ``glair_vision.batch`` span (INTERNAL, under the
    caller's current span) that ends with the batch's counts, each row counted
    in the metrics, and, only when asked for, a CLIENT span per row under the
    batch span (a million rows must not make a million spans by default).
    Without row spans every row sends the batch span's trace context; with
    them each row sends its own span's (a row's ``traceparent`` key)."""

    def __init__(self, tracer: Any, instruments: Any, endpoint: str, row_spans: bool) -> None:
        self._instruments = instruments
        self._server = _server_attributes(endpoint)
        self._endpoint = endpoint
        self._tracer = tracer if row_spans else None
        self._rows: Dict[int, Any] = {}
        self.counts = {"records": 0, "verified": 0, "not_verified": 0, "failed": 0, "attempts": 0, "throttled": 0}
        self._span = None
        self._context: Dict[str, str] = {}
        if tracer is not None:
            self._span = tracer.start_span("glair_vision.batch", kind=_trace.SpanKind.INTERNAL,
                                           attributes={**self._server, "url.full": endpoint})
            self._context = _w3c_context(self._span.get_span_context())
            self._parent = _trace.set_span_in_context(self._span)

    def options(self, options: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
        """The batch's options with the batch span's trace context (every row's
        unless it has its own)."""
        return {**(options or {}), **self._context} if self._context else options

    def row(self, position: int, record: Any) -> Any:
        """A row about to be handed to the batch: with row spans, its span starts
        now (a worker is free) and the record gets that span's trace context;
        without, the batch span's, unless it has its own."""
        if not isinstance(record, Mapping):
            return record  # (refused by the native side)
        if self._tracer is None:
            return {**self._context, **record} if self._context else record
        attributes: Dict[str, Any] = {**self._server, "url.full": self._endpoint}
        request_id = record.get("request_id")
        if isinstance(request_id, str):
            attributes["glair.client_request_id"] = request_id
        span = self._tracer.start_span("POST", context=self._parent, kind=_trace.SpanKind.CLIENT,
                                       attributes=attributes)
        self._rows[position] = span
        return {**record, **_w3c_context(span.get_span_context())}

    def settled(self, position: Optional[int], outcome: _Outcome) -> None:
        """A row's outcome: counted, and its row span (if any) ended."""
        error_type = _error_type(outcome)
        attempts, throttled = getattr(outcome, "attempts", 0) or 0, getattr(outcome, "throttled", 0) or 0
        counts = self.counts
        counts["records"] += 1
        counts["failed" if error_type else ("verified" if outcome.verification_status else "not_verified")] += 1
        counts["attempts"] += attempts
        counts["throttled"] += throttled
        if self._instruments is not None:
            self._instruments.count(self._server, outcome, error_type, attempts, throttled)
        span = self._rows.pop(position, None) if position is not None else None
        if span is not None:
            status = getattr(outcome, "status_code", None) if error_type else 200
            _end_span(span, outcome, error_type, {"status": status, "attempts": attempts, "throttled": throttled})

    def all_settled(self, outcomes: List[_Outcome]) -> List[_Outcome]:
        """A whole batch's outcomes at once: counted, then the batch span ends."""
        for outcome in outcomes:
            self.settled(None, outcome)
        self.end()
        return outcomes

    def end(self, error: Optional[BaseException] = None) -> None:
        """The batch is over (done, stopped by its consumer, or failed with
        ``error``): row spans still open end unanswered, then the batch span."""
        for span in self._rows.values():
            span.set_attribute("error.type", "cancelled")
            span.set_status(_trace.Status(_trace.StatusCode.ERROR, "cancelled"))
            span.end()
        self._rows.clear()
        if self._span is None:
            return
        for key, value in self.counts.items():
            self._span.set_attribute(f"glair.batch.{key}", value)
        if error is not None:
            error_type = _error_type(error)
            self._span.set_attribute("error.type", error_type)
            self._span.set_status(_trace.Status(_trace.StatusCode.ERROR, error_type))
        self._span.end()
        self._span = None


def _end_span(span: Any, outcome: Any, error_type: Optional[str], report: Optional[Dict[str, Any]]) -> None:
    """A call's (or a row's) CLIENT span's answer attributes, status and end."""
    status = report.get("status") if report else None
    if status is not None:
        span.set_attribute("http.response.status_code", status)
    request_id = getattr(outcome, "request_id", None)
    if request_id:
        span.set_attribute("glair.request_id", request_id)
    if report:
        attempts = report["attempts"]
        span.set_attribute("glair.attempts", attempts)
        span.set_attribute("glair.throttled", report["throttled"])
        if "pacer_wait" in report:
            span.set_attribute("glair.pacer_wait_ms", round(report["pacer_wait"] * 1000.0, 3))
        if attempts > 1:
            span.set_attribute("http.request.resend_count", attempts - 1)
    if error_type is not None:
        span.set_attribute("error.type", error_type)
        # The error's type only: an answer's excerpt in a message is GLAIR's to show.
        span.set_status(_trace.Status(_trace.StatusCode.ERROR, error_type))
    span.end()


def _w3c_context(context: Any) -> Dict[str, str]:
    """The span's W3C trace context (its traceparent names this span), written
    directly: GLAIR reads W3C, whatever propagators the application configured."""
    if not context.is_valid:
        return {}
    out = {"traceparent": f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"}
    state = context.trace_state.to_header() if context.trace_state else ""
    if state:
        out["tracestate"] = state
    return out


def _error_type(outcome: Any) -> Optional[str]:
    """An exception's error code (its class name if it has none); None for a result."""
    if not isinstance(outcome, BaseException):
        return None
    return getattr(outcome, "code", None) or type(outcome).__name__


def _server_attributes(endpoint: str) -> Dict[str, Any]:
    url = urllib.parse.urlsplit(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    return {"http.request.method": "POST", "server.address": url.hostname or "", "server.port": port}


#: One set of instruments per meter provider, shared by every client that records to it.
_INSTRUMENTS: "weakref.WeakKeyDictionary[Any, _Instruments]" = weakref.WeakKeyDictionary()


def _instruments(provider: Any) -> "_Instruments":
    instruments = _INSTRUMENTS.get(provider)
    if instruments is None:
        instruments = _INSTRUMENTS[provider] = _Instruments(provider.get_meter(_SCOPE, _version()))
    return instruments


class _Instruments:
    def __init__(self, meter: Any) -> None:
        #: The clients whose pacers the gauge reports (through their telemetry).
        self.telemetries: "weakref.WeakSet[Telemetry]" = weakref.WeakSet()
        telemetries = self.telemetries
        self.calls = meter.create_counter("glair_vision.calls", unit="{call}",
                                          description="Verification calls by outcome")
        self.attempts = meter.create_counter("glair_vision.attempts", unit="{attempt}",
                                             description="Attempts sent (first tries and retries)")
        self.throttled = meter.create_counter("glair_vision.throttled", unit="{attempt}",
                                              description="Attempts answered 429")
        self.duration = meter.create_histogram(
            "http.client.request.duration", unit="s", description="Duration of verification calls",
            explicit_bucket_boundaries_advisory=[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5,
                                                 5, 7.5, 10, 30, 60],
        )

        def pacer_rates(_options: Any) -> Iterable[Any]:
            clients = {id(t.client): t.client for t in list(telemetries) if t.client is not None}
            for client in clients.values():
                rate = client.pacing().rate
                if rate is not None:
                    yield _metrics.Observation(rate, _server_attributes(client.base_url))

        meter.create_observable_gauge("glair_vision.pacer.rate", callbacks=[pacer_rates], unit="{call}/s",
                                      description="The pacer's current send rate (absent while unlimited)")

    def count(self, server: Dict[str, Any], outcome: Any, error_type: Optional[str], attempts: int,
              throttled: int) -> None:
        """A call's outcome, attempts and 429s (a batch row's too: rows have no duration)."""
        if error_type is not None:
            self.calls.add(1, {**server, "glair.outcome": "error", "error.type": error_type})
        else:
            verified = bool(getattr(outcome, "verification_status", False))
            self.calls.add(1, {**server, "glair.outcome": "verified" if verified else "not_verified"})
        if attempts:
            self.attempts.add(attempts, server)
        if throttled:
            self.throttled.add(throttled, server)

    def record(self, server: Dict[str, Any], outcome: Any, error_type: Optional[str], status: Optional[int],
               report: Optional[Dict[str, Any]], seconds: float) -> None:
        self.count(server, outcome, error_type, report["attempts"] if report else 0,
                   report["throttled"] if report else 0)
        labels = dict(server)
        if status is not None:
            labels["http.response.status_code"] = status
        if error_type is not None:
            labels["error.type"] = error_type
        self.duration.record(seconds, labels)

