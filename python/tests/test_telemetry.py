"""OpenTelemetry: a span per call (sync and async; success, not verified, each
error kind), the traceparent the sandbox receives naming that span, metrics, and
the switches. Providers are given to the client (the global ones are set only in
a subprocess: they can be set once per process)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from conftest import FAULT, SITI

from glair_vision import AsyncVision, GlairVisionError, Sandbox, Vision

trace_sdk = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

PERSONAL = [SITI["nik"], SITI["name"], "NAMA YANG SALAH", SITI["date_of_birth"]]


@pytest.fixture
def otel() -> Iterator[Tuple[Any, InMemorySpanExporter, Any, InMemoryMetricReader]]:
    exporter = InMemorySpanExporter()
    tracer_provider = trace_sdk.TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield tracer_provider, exporter, meter_provider, reader
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(slow_delay=0.001) as sandbox:
        yield sandbox


def metric_points(reader: InMemoryMetricReader) -> Dict[str, List[Any]]:
    points: Dict[str, List[Any]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    return points


def test_each_call_is_a_client_span_whose_context_reaches_the_server(sb: Sandbox, otel: Any) -> None:
    tracer_provider, exporter, meter_provider, reader = otel
    vision = sb.vision(tracer_provider=tracer_provider, meter_provider=meter_provider, max_retries=1)
    sb.clear_requests()
    parent_tracer = tracer_provider.get_tracer("app")
    with parent_tracer.start_as_current_span("sign-up") as parent:
        verified = vision.identity.verification(nik=SITI["nik"], name=SITI["name"], request_id="order-9")
        wrong = vision.identity.verification(nik=SITI["nik"], name="NAMA YANG SALAH")
    assert verified.verification_status and not wrong.verification_status
    spans = [s for s in exporter.get_finished_spans() if s.name == "POST"]
    assert len(spans) == 2
    span = spans[0]
    assert span.kind == trace.SpanKind.CLIENT
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    attributes = dict(span.attributes or {})
    port = int(sb.url.rsplit(":", 1)[1])
    assert attributes == {
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": port,
        "url.full": f"{sb.url}/identity/v1/verification",
        "http.response.status_code": 200,
        "glair.client_request_id": "order-9",
        "glair.request_id": verified.request_id,
        "glair.attempts": 1,
        "glair.throttled": 0,
        "glair.pacer_wait_ms": attributes["glair.pacer_wait_ms"],
    }
    assert span.status.status_code == trace.StatusCode.UNSET
    assert spans[1].status.status_code == trace.StatusCode.UNSET, "not verified is a result, not an error"

    # The server got each span's own context.
    received = sb.requests()
    for request, sent in zip(received, spans):
        context = sent.get_span_context()
        assert request["traceparent"] == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"

    points = metric_points(reader)
    outcomes = sorted(p.attributes["glair.outcome"] for p in points["glair_vision.calls"])
    assert outcomes == ["not_verified", "verified"]
    assert sum(p.value for p in points["glair_vision.attempts"]) == 2
    (duration,) = points["http.client.request.duration"]
    assert duration.count == 2 and duration.attributes["http.response.status_code"] == 200
    assert any(p.value for p in points.get("glair_vision.pacer.rate", [])) or "glair_vision.pacer.rate" not in points
    everything = repr([s.to_json() for s in spans]) + repr(points)
    for value in PERSONAL:
        assert value not in everything


@pytest.mark.parametrize(
    "nik, kind, status",
    [(FAULT + "9429", "rate_limited", 429), (FAULT + "9503", "service_unavailable", 503),
     (FAULT + "9404", "not_found", 404), (FAULT + "9401", "authentication", 401),
     (FAULT + "9502", "server", 502), (FAULT + "9200", "decode", 200)],
)
def test_each_error_kind_is_an_error_span(sb: Sandbox, otel: Any, nik: str, kind: str, status: int) -> None:
    tracer_provider, exporter, meter_provider, reader = otel
    vision = sb.vision(tracer_provider=tracer_provider, meter_provider=meter_provider, max_retries=1)
    with pytest.raises(GlairVisionError) as caught:
        vision.identity.verification(nik=nik, name=SITI["name"])
    assert caught.value.code == kind
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == trace.StatusCode.ERROR and span.status.description == kind
    attributes = dict(span.attributes or {})
    assert attributes["error.type"] == kind and attributes["http.response.status_code"] == status
    retried = kind in ("rate_limited", "service_unavailable", "server")
    assert attributes["glair.attempts"] == (2 if retried else 1)
    assert attributes.get("http.request.resend_count") == (1 if retried else None)
    assert attributes["glair.throttled"] == (2 if kind == "rate_limited" else 0)
    (calls,) = metric_points(reader)["glair_vision.calls"]
    assert calls.attributes["glair.outcome"] == "error" and calls.attributes["error.type"] == kind
    if kind == "rate_limited":
        assert sum(p.value for p in metric_points(reader)["glair_vision.throttled"]) == 2


def test_connection_and_validation_errors(otel: Any) -> None:
    tracer_provider, exporter, meter_provider, reader = otel
    with Sandbox() as gone:
        url = gone.url
    vision = Vision(base_url=url, api_key="k", username="u", password="p", max_retries=0,
                    tracer_provider=tracer_provider, meter_provider=meter_provider)
    with pytest.raises(GlairVisionError) as caught:
        vision.identity.verification(nik=SITI["nik"])
    assert caught.value.code == "connection"
    with pytest.raises(GlairVisionError) as invalid:
        vision.identity.verification(nik="12")
    assert invalid.value.code == "validation"
    connection, validation = exporter.get_finished_spans()
    assert connection.attributes["error.type"] == "connection" and "http.response.status_code" not in connection.attributes
    assert validation.attributes["error.type"] == "validation" and validation.attributes["glair.attempts"] == 0


def test_async_calls_make_the_same_spans(sb: Sandbox, otel: Any) -> None:
    tracer_provider, exporter, meter_provider, _ = otel

    async def run() -> None:
        async with AsyncVision(base_url=sb.url, **sb.credentials, tracer_provider=tracer_provider,
                               meter_provider=meter_provider, max_retries=1) as vision:
            with tracer_provider.get_tracer("app").start_as_current_span("batch-job"):
                await asyncio.gather(*(vision.identity.verification(nik=SITI["nik"]) for _ in range(3)))
            with pytest.raises(GlairVisionError):
                await vision.identity.verification(nik=FAULT + "9404")

    asyncio.run(run())
    spans = [s for s in exporter.get_finished_spans() if s.name == "POST"]
    assert len(spans) == 4
    parents = {s.parent.span_id for s in spans[:3] if s.parent is not None}
    assert len(parents) == 1, "each under the caller's span, in its own task"
    assert spans[3].attributes["error.type"] == "not_found"


def test_off_by_switch_and_without_a_provider(sb: Sandbox, otel: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    tracer_provider, exporter, meter_provider, _ = otel
    sb.clear_requests()
    sb.vision(telemetry=False, tracer_provider=tracer_provider).identity.verification(nik=SITI["nik"])
    monkeypatch.setenv("GLAIR_VISION_TELEMETRY", "0")
    sb.vision(tracer_provider=tracer_provider).identity.verification(nik=SITI["nik"])
    monkeypatch.delenv("GLAIR_VISION_TELEMETRY")
    sb.vision().identity.verification(nik=SITI["nik"])  # no provider set in this process
    assert exporter.get_finished_spans() == ()
    assert [r["traceparent"] for r in sb.requests()] == [None, None, None]
    with pytest.raises(TypeError):
        sb.vision(telemetry="yes")


def test_the_global_provider_and_a_pickled_client(sb: Sandbox, tmp_path: Any) -> None:
    # Set globally, as an application does; in a process of its own.
    script = textwrap.dedent(f"""
        import pickle
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from glair_vision import Vision
        vision = Vision(base_url={sb.url!r}, api_key={sb.api_key!r}, username={sb.username!r},
                        password={sb.password!r})
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)  # after the client was made: read at each call
        vision.identity.verification(nik={SITI["nik"]!r})
        pickle.loads(pickle.dumps(vision)).identity.verification(nik={SITI["nik"]!r})
        off = pickle.loads(pickle.dumps(Vision(base_url={sb.url!r}, api_key="k", username="u", password="p",
                                               telemetry=False)))
        assert off._telemetry.on() is False
        print(len(exporter.get_finished_spans()))
    """)
    env = {k: v for k, v in os.environ.items() if k != "GLAIR_VISION_TELEMETRY"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"


def test_a_batch_is_one_span_with_its_counts(sb: Sandbox, otel: Any) -> None:
    tracer_provider, exporter, meter_provider, reader = otel
    vision = sb.vision(tracer_provider=tracer_provider, meter_provider=meter_provider, max_retries=0)
    sb.clear_requests()
    records = [{"nik": SITI["nik"], "name": SITI["name"]}, {"nik": SITI["nik"], "name": "NAMA YANG SALAH"},
               {"nik": FAULT + "9404"}, {"nik": "12"}]
    outcomes = vision.identity.verification_batch(records, concurrency=2)
    assert [getattr(o, "code", None) for o in outcomes] == [None, None, "not_found", "validation"]
    (span,) = exporter.get_finished_spans()
    assert span.name == "glair_vision.batch"
    attributes = dict(span.attributes or {})
    assert {k: v for k, v in attributes.items() if k.startswith("glair.batch.")} == {
        "glair.batch.records": 4, "glair.batch.verified": 1, "glair.batch.not_verified": 1,
        "glair.batch.failed": 2, "glair.batch.attempts": 3, "glair.batch.throttled": 0,
    }
    context = span.get_span_context()
    assert {r["traceparent"] for r in sb.requests()} == {
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    }
    calls = metric_points(reader)["glair_vision.calls"]
    assert sum(p.value for p in calls) == 4

    async def run() -> List[Any]:
        async with AsyncVision(base_url=sb.url, **sb.credentials, tracer_provider=tracer_provider) as v:
            return await v.identity.verification_batch(records[:2])

    assert len(asyncio.run(run())) == 2
    assert [s.name for s in exporter.get_finished_spans()] == ["glair_vision.batch"] * 2


def traceparent_of(span: Any) -> str:
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


ROWS = [{"nik": SITI["nik"], "name": SITI["name"], "request_id": "row-0"},
        {"nik": SITI["nik"], "name": "NAMA YANG SALAH", "request_id": "row-1"},
        {"nik": FAULT + "9404", "request_id": "row-2"}, {"nik": "12", "request_id": "row-3"}]


def check_row_spans(sb: Sandbox, exporter: InMemorySpanExporter, parent: Any) -> None:
    spans = exporter.get_finished_spans()
    (batch,) = [s for s in spans if s.name == "glair_vision.batch"]
    assert batch.parent is not None and batch.parent.span_id == parent.get_span_context().span_id
    rows = {dict(s.attributes or {})["glair.client_request_id"]: s for s in spans if s.name == "POST"}
    assert sorted(rows) == ["row-0", "row-1", "row-2", "row-3"]
    for row in rows.values():
        assert row.kind == trace.SpanKind.CLIENT
        assert row.parent is not None and row.parent.span_id == batch.get_span_context().span_id
        assert batch.start_time <= row.start_time <= row.end_time <= batch.end_time
    assert dict(rows["row-0"].attributes or {})["http.response.status_code"] == 200
    assert dict(rows["row-0"].attributes or {})["glair.attempts"] == 1
    assert rows["row-0"].status.status_code == trace.StatusCode.UNSET
    missing = dict(rows["row-2"].attributes or {})
    assert (missing["error.type"], missing["http.response.status_code"]) == ("not_found", 404)
    assert rows["row-2"].status.status_code == trace.StatusCode.ERROR
    assert dict(rows["row-3"].attributes or {})["error.type"] == "validation"
    # Each row sent reached the server with its own span's trace context.
    sent = {r["client_request_id"]: r["traceparent"] for r in sb.requests()}
    assert sent == {key: traceparent_of(rows[key]) for key in ("row-0", "row-1", "row-2")}
    for span in spans:
        text = repr(dict(span.attributes or {}))
        assert not any(value in text for value in PERSONAL), text


def test_row_spans_when_asked_for_each_sending_its_own_context(sb: Sandbox, otel: Any) -> None:
    tracer_provider, exporter, meter_provider, reader = otel
    vision = sb.vision(tracer_provider=tracer_provider, meter_provider=meter_provider, max_retries=0)
    app = tracer_provider.get_tracer("app")
    sb.clear_requests()
    with app.start_as_current_span("re-kyc") as parent:
        outcomes = vision.identity.verification_batch(ROWS, concurrency=2, row_spans=True)
    assert [getattr(o, "code", None) for o in outcomes] == [None, None, "not_found", "validation"]
    assert outcomes[0].verification_status and not outcomes[1].verification_status
    check_row_spans(sb, exporter, parent)
    assert sum(p.value for p in metric_points(reader)["glair_vision.calls"]) == 4

    exporter.clear()
    sb.clear_requests()

    async def run() -> List[Any]:
        async with AsyncVision(base_url=sb.url, **sb.credentials, tracer_provider=tracer_provider,
                               max_retries=0) as v:
            with app.start_as_current_span("re-kyc") as parent:
                outcomes = await v.identity.verification_batch(ROWS, concurrency=2, row_spans=True)
            check_row_spans(sb, exporter, parent)
            return outcomes

    assert [getattr(o, "code", None) for o in asyncio.run(run())] == [None, None, "not_found", "validation"]
    with pytest.raises(TypeError, match="row_spans"):
        vision.identity.verification_batch(ROWS, row_spans="yes")  # type: ignore[arg-type]


def test_an_iterated_batch_is_one_span_ending_when_the_iterator_does(sb: Sandbox, otel: Any) -> None:
    tracer_provider, exporter, _, _ = otel
    vision = sb.vision(tracer_provider=tracer_provider, max_retries=0)
    sb.clear_requests()
    pairs = list(vision.identity.verification_batch_iter(iter(ROWS), concurrency=2))
    assert sorted(position for position, _ in pairs) == [0, 1, 2, 3]
    (span,) = exporter.get_finished_spans()
    assert span.name == "glair_vision.batch"
    counts = {k: v for k, v in dict(span.attributes or {}).items() if k.startswith("glair.batch.")}
    assert (counts["glair.batch.records"], counts["glair.batch.failed"], counts["glair.batch.verified"]) == (4, 2, 1)
    assert {r["traceparent"] for r in sb.requests()} == {traceparent_of(span)}

    # Row spans, and a consumer that stops early: the batch span ends with what was counted.
    exporter.clear()
    rows = vision.identity.verification_batch_iter(iter(ROWS * 5), concurrency=1, row_spans=True)
    next(rows)
    rows.close()  # type: ignore[attr-defined]
    spans = exporter.get_finished_spans()
    (batch,) = [s for s in spans if s.name == "glair_vision.batch"]
    assert dict(batch.attributes or {})["glair.batch.records"] == 1
    assert batch.status.status_code == trace.StatusCode.UNSET
    assert [s.name for s in spans].count("POST") >= 1

    async def run() -> int:
        exporter.clear()
        async with AsyncVision(base_url=sb.url, **sb.credentials, tracer_provider=tracer_provider,
                               max_retries=0) as v:
            count = 0
            async for _ in v.identity.verification_batch_iter(ROWS, concurrency=2, row_spans=True):
                count += 1
            return count

    assert asyncio.run(run()) == 4
    names = [s.name for s in exporter.get_finished_spans()]
    assert (names.count("glair_vision.batch"), names.count("POST")) == (1, 4)


def test_a_record_may_carry_its_own_trace_context(sb: Sandbox) -> None:
    vision = sb.vision(max_retries=0)
    own = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
    sb.clear_requests()
    outcomes = vision.identity.verification_batch(
        [{"nik": SITI["nik"], "traceparent": own, "tracestate": "a=b"}, {"nik": SITI["nik"], "tracestate": "a=b"},
         {"nik": SITI["nik"], "traceparent": "00-zz"}])
    assert outcomes[0].verification_status
    assert [getattr(o, "field", None) for o in outcomes[1:]] == ["tracestate", "traceparent"]
    assert [(r["traceparent"], r["tracestate"]) for r in sb.requests()] == [(own, "a=b")]
