'use strict';

// OpenTelemetry: a span per call (success, not verified, each error kind), the
// traceparent the sandbox receives naming that span, metrics, and the switches.
// Providers are given to the client; the global ones are registered in a child
// process (they can be registered once per process).

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const api = require('@opentelemetry/api');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { MeterProvider, InMemoryMetricExporter, PeriodicExportingMetricReader, AggregationTemporality } =
  require('@opentelemetry/sdk-metrics');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { glair, FIXTURE_SITI, FAULT } = require('./helpers');

api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

function otel() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3600000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const metrics = async () => {
    await reader.forceFlush();
    const points = {};
    for (const rm of metricExporter.getMetrics()) {
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) points[m.descriptor.name] = m.dataPoints;
      }
    }
    metricExporter.reset();
    return points;
  };
  return { exporter, tracerProvider, meterProvider, metrics };
}

const PERSONAL = [FIXTURE_SITI.nik, FIXTURE_SITI.name, 'NAMA YANG SALAH', FIXTURE_SITI.date_of_birth];

test('each call is a CLIENT span whose context reaches the server', async () => {
  const sb = await glair.Sandbox.start();
  const { exporter, tracerProvider, meterProvider, metrics } = otel();
  try {
    const vision = sb.vision({ tracerProvider, meterProvider, maxRetries: 1 });
    const app = tracerProvider.getTracer('app');
    let parent;
    const [verified, wrong] = await app.startActiveSpan('sign-up', async (span) => {
      parent = span;
      try {
        return [
          await vision.identity.verification({ nik: FIXTURE_SITI.nik, name: FIXTURE_SITI.name }, { requestId: 'order-9' }),
          await vision.identity.verification({ nik: FIXTURE_SITI.nik, name: 'NAMA YANG SALAH' }),
        ];
      } finally {
        span.end();
      }
    });
    assert.equal(verified.verification_status, true);
    assert.equal(wrong.verification_status, false);
    const spans = exporter.getFinishedSpans().filter((s) => s.name === 'POST');
    assert.equal(spans.length, 2);
    const [span] = spans;
    assert.equal(span.kind, api.SpanKind.CLIENT);
    assert.equal(span.parentSpanContext.spanId, parent.spanContext().spanId);
    const port = Number(new URL(sb.url).port);
    assert.deepEqual({ ...span.attributes, 'glair.pacer_wait_ms': 0 }, {
      'http.request.method': 'POST',
      'server.address': '127.0.0.1',
      'server.port': port,
      'url.full': `${sb.url}/identity/v1/verification`,
      'http.response.status_code': 200,
      'glair.client_request_id': 'order-9',
      'glair.request_id': verified.requestId,
      'glair.attempts': 1,
      'glair.throttled': 0,
      'glair.pacer_wait_ms': 0,
    });
    assert.equal(span.status.code, api.SpanStatusCode.UNSET);
    assert.equal(spans[1].status.code, api.SpanStatusCode.UNSET, 'not verified is a result, not an error');

    const received = await sb.requests();
    for (const [i, sent] of spans.entries()) {
      const c = sent.spanContext();
      assert.equal(received[i].traceparent, `00-${c.traceId}-${c.spanId}-0${c.traceFlags}`);
      assert.equal(received[i].tracestate, null);
    }
    const points = await metrics();
    const outcomes = points['glair_vision.calls'].map((p) => p.attributes['glair.outcome']).sort();
    assert.deepEqual(outcomes, ['not_verified', 'verified']);
    assert.equal(points['glair_vision.attempts'].reduce((n, p) => n + p.value, 0), 2);
    assert.equal(points['http.client.request.duration'][0].value.count, 2);
    const everything = JSON.stringify(spans.map((s) => s.attributes)) + JSON.stringify(points);
    for (const value of PERSONAL) assert.ok(!everything.includes(value), value);
  } finally {
    await sb.stop();
  }
});

test('each error kind is an error span; async tasks keep their parent', async () => {
  const sb = await glair.Sandbox.start({ slowDelayMs: 1 });
  const { exporter, tracerProvider, meterProvider, metrics } = otel();
  try {
    const vision = sb.vision({ tracerProvider, meterProvider, maxRetries: 1 });
    const cases = [[FAULT.s429, 'rate_limited', 429], [FAULT.s503, 'service_unavailable', 503],
      [FAULT.s404, 'not_found', 404], [FAULT.s401, 'authentication', 401], [FAULT.s502, 'server', 502],
      [FAULT.notJson, 'decode', 200]];
    for (const [nik, kind, status] of cases) {
      exporter.reset();
      await assert.rejects(vision.identity.verification({ nik }), (err) => err.code === kind);
      const [span] = exporter.getFinishedSpans();
      assert.equal(span.status.code, api.SpanStatusCode.ERROR, kind);
      assert.equal(span.status.message, kind);
      assert.equal(span.attributes['error.type'], kind);
      assert.equal(span.attributes['http.response.status_code'], status, kind);
      const retried = ['rate_limited', 'service_unavailable', 'server'].includes(kind);
      assert.equal(span.attributes['glair.attempts'], retried ? 2 : 1, kind);
      assert.equal(span.attributes['http.request.resend_count'], retried ? 1 : undefined, kind);
    }
    const points = await metrics();
    const errors = points['glair_vision.calls'].map((p) => p.attributes['error.type']).sort();
    assert.deepEqual(errors, cases.map((c) => c[1]).sort());
    assert.equal(points['glair_vision.throttled'].reduce((n, p) => n + p.value, 0), 2);

    exporter.reset();
    await assert.rejects(vision.identity.verification({ nik: '12' }), (err) => err.code === 'validation');
    assert.equal(exporter.getFinishedSpans()[0].attributes['error.type'], 'validation');

    exporter.reset();
    const app = tracerProvider.getTracer('app');
    await app.startActiveSpan('batch-job', async (span) => {
      await Promise.all([1, 2, 3].map(() => vision.identity.verification({ nik: FIXTURE_SITI.nik })));
      span.end();
    });
    const parents = new Set(exporter.getFinishedSpans().filter((s) => s.name === 'POST').map((s) => s.parentSpanContext.spanId));
    assert.equal(parents.size, 1, 'each call under the caller span');
  } finally {
    await sb.stop();
  }
});

test('off by option, by GLAIR_VISION_TELEMETRY=0, and without a provider', async () => {
  const sb = await glair.Sandbox.start();
  const { exporter, tracerProvider } = otel();
  try {
    await sb.vision({ telemetry: false, tracerProvider }).identity.verification({ nik: FIXTURE_SITI.nik });
    process.env.GLAIR_VISION_TELEMETRY = '0';
    try {
      await sb.vision({ tracerProvider }).identity.verification({ nik: FIXTURE_SITI.nik });
    } finally {
      delete process.env.GLAIR_VISION_TELEMETRY;
    }
    await sb.vision().identity.verification({ nik: FIXTURE_SITI.nik }); // nothing registered globally
    assert.equal(exporter.getFinishedSpans().length, 0);
    assert.deepEqual((await sb.requests()).map((r) => r.traceparent), [null, null, null]);
    assert.throws(() => sb.vision({ telemetry: 'yes' }), glair.ConfigurationError);
  } finally {
    await sb.stop();
  }
});

test('a globally registered provider is used (in a process of its own)', async () => {
  const sb = await glair.Sandbox.start();
  try {
    const script = `
      const api = require('@opentelemetry/api');
      const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
      const glair = require(${JSON.stringify(path.join(__dirname, '..'))});
      const vision = new glair.Vision(${JSON.stringify({ baseUrl: sb.url, ...sb.credentials, readEnv: false })});
      const exporter = new InMemorySpanExporter();
      api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
      vision.identity.verification({ nik: ${JSON.stringify(FIXTURE_SITI.nik)} })
        .then(() => console.log(exporter.getFinishedSpans().length));
    `;
    const env = { ...process.env };
    delete env.GLAIR_VISION_TELEMETRY;
    const out = execFileSync(process.execPath, ['-e', script], { env, cwd: path.join(__dirname, '..') }).toString();
    assert.equal(out.trim(), '1');
    assert.ok((await sb.requests())[0].traceparent);
  } finally {
    await sb.stop();
  }
});

test('a batch is one span with its counts; its rows send its context', async () => {
  const sb = await glair.Sandbox.start();
  const { exporter, tracerProvider, meterProvider, metrics } = otel();
  try {
    const vision = sb.vision({ tracerProvider, meterProvider, maxRetries: 0 });
    const records = [{ nik: FIXTURE_SITI.nik, name: FIXTURE_SITI.name }, { nik: FIXTURE_SITI.nik, name: 'NAMA YANG SALAH' },
      { nik: FAULT.s404 }, { nik: '12' }];
    const outcomes = await vision.identity.verificationBatch(records, { concurrency: 2 });
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    const [span] = exporter.getFinishedSpans();
    assert.equal(exporter.getFinishedSpans().length, 1);
    assert.equal(span.name, 'glair_vision.batch');
    const counts = Object.fromEntries(Object.entries(span.attributes).filter(([k]) => k.startsWith('glair.batch.')));
    assert.deepEqual(counts, { 'glair.batch.records': 4, 'glair.batch.verified': 1, 'glair.batch.not_verified': 1,
      'glair.batch.failed': 2, 'glair.batch.attempts': 3, 'glair.batch.throttled': 0 });
    const c = span.spanContext();
    const sent = new Set((await sb.requests()).map((r) => r.traceparent));
    assert.deepEqual([...sent], [`00-${c.traceId}-${c.spanId}-0${c.traceFlags}`]);
    const points = await metrics();
    assert.equal(points['glair_vision.calls'].reduce((n, p) => n + p.value, 0), 4);
  } finally {
    await sb.stop();
  }
});

const ROWS = [
  { nik: FIXTURE_SITI.nik, name: FIXTURE_SITI.name, requestId: 'row-0' },
  { nik: FIXTURE_SITI.nik, name: 'NAMA YANG SALAH', requestId: 'row-1' },
  { nik: FAULT.s404, requestId: 'row-2' },
  { nik: '12', requestId: 'row-3' },
];

const traceparentOf = (span) => {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-0${c.traceFlags}`;
};
const parentIdOf = (span) => (span.parentSpanContext ? span.parentSpanContext.spanId : span.parentSpanId);
const toMs = ([s, ns]) => s * 1e3 + ns / 1e6;
// The SDK stamps a span's start from Date.now() (whole milliseconds) and its end as that start plus a
// performance.now() duration, so two spans' times can disagree by up to 1 ms either way.
const CLOCK_GRAIN_MS = 1;
const within = (inner, outer) =>
  toMs(outer.startTime) - CLOCK_GRAIN_MS <= toMs(inner.startTime) && toMs(inner.endTime) <= toMs(outer.endTime) + CLOCK_GRAIN_MS;

async function checkRowSpans(sb, exporter, parent) {
  const spans = exporter.getFinishedSpans();
  const [batch, ...more] = spans.filter((s) => s.name === 'glair_vision.batch');
  assert.equal(more.length, 0);
  assert.equal(parentIdOf(batch), parent.spanContext().spanId);
  const rows = Object.fromEntries(spans.filter((s) => s.name === 'POST').map((s) => [s.attributes['glair.client_request_id'], s]));
  assert.deepEqual(Object.keys(rows).sort(), ['row-0', 'row-1', 'row-2', 'row-3']);
  for (const row of Object.values(rows)) {
    assert.equal(row.kind, api.SpanKind.CLIENT);
    assert.equal(parentIdOf(row), batch.spanContext().spanId);
    assert.ok(within(row, batch), `row ${row.startTime}..${row.endTime} outside batch ${batch.startTime}..${batch.endTime}`);
  }
  assert.equal(rows['row-0'].attributes['http.response.status_code'], 200);
  assert.equal(rows['row-0'].attributes['glair.attempts'], 1);
  assert.equal(rows['row-0'].status.code, api.SpanStatusCode.UNSET);
  assert.equal(rows['row-2'].attributes['error.type'], 'not_found');
  assert.equal(rows['row-2'].attributes['http.response.status_code'], 404);
  assert.equal(rows['row-2'].status.code, api.SpanStatusCode.ERROR);
  assert.equal(rows['row-3'].attributes['error.type'], 'validation');
  // Each row sent reached the server with its own span's trace context.
  const sent = Object.fromEntries((await sb.requests()).map((r) => [r.client_request_id, r.traceparent]));
  assert.deepEqual(sent, Object.fromEntries(['row-0', 'row-1', 'row-2'].map((k) => [k, traceparentOf(rows[k])])));
  for (const span of spans) {
    const text = JSON.stringify(span.attributes);
    for (const value of PERSONAL) assert.ok(!text.includes(value), text);
  }
}

test('row spans when asked for, each row sending its own context', async () => {
  const sb = await glair.Sandbox.start();
  const { exporter, tracerProvider, meterProvider, metrics } = otel();
  try {
    const vision = sb.vision({ tracerProvider, meterProvider, maxRetries: 0 });
    const app = tracerProvider.getTracer('app');
    let parent;
    const outcomes = await app.startActiveSpan('re-kyc', async (span) => {
      parent = span;
      try {
        return await vision.identity.verificationBatch(ROWS, { concurrency: 2, rowSpans: true });
      } finally {
        span.end();
      }
    });
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    await checkRowSpans(sb, exporter, parent);
    const points = await metrics();
    assert.equal(points['glair_vision.calls'].reduce((n, p) => n + p.value, 0), 4);
    await assert.rejects(vision.identity.verificationBatch(ROWS, { rowSpans: 'yes' }), { code: 'configuration' });
  } finally {
    await sb.stop();
  }
});

test('a stream is one span that ends with the loop; row spans too', async () => {
  const sb = await glair.Sandbox.start();
  const { exporter, tracerProvider } = otel();
  try {
    const vision = sb.vision({ tracerProvider, maxRetries: 0 });
    let count = 0;
    for await (const _ of vision.identity.verificationStream(ROWS, { concurrency: 2 })) count += 1;
    assert.equal(count, 4);
    const [span, ...more] = exporter.getFinishedSpans();
    assert.equal(more.length, 0);
    assert.equal(span.name, 'glair_vision.batch');
    assert.equal(span.attributes['glair.batch.records'], 4);
    assert.equal(span.attributes['glair.batch.failed'], 2);
    assert.deepEqual([...new Set((await sb.requests()).map((r) => r.traceparent))], [traceparentOf(span)]);

    // Left early: the batch span ends with what was read, the open row spans as cancelled.
    exporter.reset();
    const many = Array.from({ length: 20 }, (_, i) => ({ ...ROWS[0], requestId: `r${i}` }));
    for await (const _ of vision.identity.verificationStream(many, { concurrency: 1, rowSpans: true })) break;
    const spans = exporter.getFinishedSpans();
    const batches = spans.filter((s) => s.name === 'glair_vision.batch');
    assert.equal(batches.length, 1);
    assert.equal(batches[0].attributes['glair.batch.records'], 1);
    assert.equal(batches[0].status.code, api.SpanStatusCode.UNSET);
    assert.ok(spans.filter((s) => s.name === 'POST').length <= 2, 'one row in flight at a time');
  } finally {
    await sb.stop();
  }
});

test('a record may carry its own trace context', async () => {
  const sb = await glair.Sandbox.start();
  try {
    const vision = sb.vision({ telemetry: false, maxRetries: 0 });
    const own = '00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01';
    const outcomes = await vision.identity.verificationBatch([
      { nik: FIXTURE_SITI.nik, traceparent: own, tracestate: 'a=b' },
      { nik: FIXTURE_SITI.nik, tracestate: 'a=b' },
      { nik: FIXTURE_SITI.nik, traceparent: '00-zz' },
    ]);
    assert.equal(outcomes[0].status, 'fulfilled');
    assert.deepEqual(outcomes.slice(1).map((o) => o.reason.field), ['tracestate', 'traceparent']);
    assert.deepEqual((await sb.requests()).map((r) => [r.traceparent, r.tracestate]), [[own, 'a=b']]);
  } finally {
    await sb.stop();
  }
});
