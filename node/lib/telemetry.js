'use strict';

/**
 * OpenTelemetry spans and metrics of verification calls, through
 * `@opentelemetry/api` (an optional peer dependency): on when the application
 * has it and has registered a tracer or meter provider (or gives the client
 * `tracerProvider` / `meterProvider`); off with `GLAIR_VISION_TELEMETRY=0` or the
 * client option `telemetry: false`. When off, a call costs one check.
 *
 * Each call is a span of kind CLIENT under the active span, named and attributed
 * as OpenTelemetry's HTTP client conventions say, plus GLAIR's Request-Id, the
 * caller's correlation id, the attempts, the 429s and the time spent waiting on
 * the pacer; its W3C `traceparent` (and `tracestate`) is sent to GLAIR. Metrics:
 * calls by outcome and error type, attempts, 429s, the call duration as a
 * histogram, the pacer's current rate. No NIK, name, date of birth, key or
 * password is in any attribute or label.
 */

let api = null;
try {
  api = require('@opentelemetry/api');
} catch {
  api = null; // not installed: telemetry stays off
}

const ENV_SWITCH = 'GLAIR_VISION_TELEMETRY';
const SCOPE = 'glair_vision';
const { version: VERSION } = require('../package.json');
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60];

/** One set of instruments per meter provider, shared by the clients that record to it. */
const instrumentsByProvider = new WeakMap();

function switchedOff() {
  const v = (process.env[ENV_SWITCH] || '').trim().toLowerCase();
  return v === '0' || v === 'false' || v === 'off' || v === 'no';
}

/** Whether the API's global provider is a real one (the proxy has a delegate). */
function registered(provider) {
  if (typeof provider.getDelegate !== 'function') return true;
  const delegate = provider.getDelegate();
  return delegate !== undefined && delegate.constructor && delegate.constructor.name !== 'NoopTracerProvider';
}

function meterRegistered() {
  // The API has no proxy for meters: the global one is a no-op until set.
  const provider = api.metrics.getMeterProvider();
  return provider.constructor && provider.constructor.name !== 'NoopMeterProvider';
}

/**
 * The span's W3C trace context, written directly: GLAIR reads W3C, whatever
 * propagators the application registered (none, by default, in Node).
 */
function w3cContext(c) {
  if (!api.isSpanContextValid(c)) return {};
  const out = { traceparent: `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, '0')}` };
  const state = c.traceState && c.traceState.serialize();
  if (state) out.tracestate = state;
  return out;
}

/** An error's code (its class name if it has none). */
function errorTypeOf(error) {
  return error.code || (error.constructor && error.constructor.name) || 'error';
}

function serverAttributes(endpoint) {
  const url = new URL(endpoint);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { 'http.request.method': 'POST', 'server.address': url.hostname.replace(/^\[|\]$/g, ''), 'server.port': port };
}

class Telemetry {
  constructor({ telemetry, tracerProvider, meterProvider } = {}) {
    if (telemetry !== undefined && telemetry !== null && typeof telemetry !== 'boolean') {
      const { ConfigurationError } = require('./errors');
      throw new ConfigurationError(`option \`telemetry\` must be a boolean, not ${typeof telemetry}`);
    }
    this.enabled = telemetry !== false && api !== null;
    this.tracerProvider = tracerProvider || null;
    this.meterProvider = meterProvider || null;
    this.tracer = null;
    this.instruments = null;
    /** The native client whose pacer the gauge reports. */
    this.client = null;
  }

  /** Whether calls make spans or metrics now (globals are read at each call). */
  on() {
    if (!this.enabled || switchedOff()) return false;
    return this.tracing() !== null || this.metering() !== null;
  }

  tracing() {
    if (this.tracer === null) {
      const provider = this.tracerProvider || api.trace.getTracerProvider();
      if (!this.tracerProvider && !registered(provider)) return null;
      this.tracer = provider.getTracer(SCOPE, VERSION);
    }
    return this.tracer;
  }

  metering() {
    if (this.instruments === null) {
      if (!this.meterProvider && !meterRegistered()) return null;
      const provider = this.meterProvider || api.metrics.getMeterProvider();
      let instruments = instrumentsByProvider.get(provider);
      if (!instruments) {
        instruments = new Instruments(provider.getMeter(SCOPE, VERSION));
        instrumentsByProvider.set(provider, instruments);
      }
      instruments.telemetries.add(new WeakRef(this));
      this.instruments = instruments;
    }
    return this.instruments;
  }

  /**
   * One call: `send(traceContext)` resolves to `{ value | error, report }`;
   * resolves to the value or rejects with the error, after the span and metrics.
   */
  async call(client, endpoint, requestId, send) {
    this.client = client;
    this.metering();
    const tracer = this.tracing();
    let span = null;
    const context = {};
    if (tracer !== null) {
      const attributes = { ...serverAttributes(endpoint), 'url.full': endpoint };
      if (requestId) attributes['glair.client_request_id'] = requestId;
      span = tracer.startSpan('POST', { kind: api.SpanKind.CLIENT, attributes }, api.context.active());
      Object.assign(context, w3cContext(span.spanContext()));
    }
    const started = performance.now();
    let outcome;
    try {
      outcome = await send(context);
    } catch (err) {
      this.finish(span, endpoint, { error: err }, (performance.now() - started) / 1000);
      throw err;
    }
    this.finish(span, endpoint, outcome, (performance.now() - started) / 1000);
    if (outcome.error !== undefined) throw outcome.error;
    return outcome.value;
  }

  /** The telemetry of one batch or stream (see `BatchTrace`). */
  startBatch(client, endpoint, rowSpans) {
    this.client = client;
    return new BatchTrace(this.tracing(), this.metering(), endpoint, rowSpans);
  }

  finish(span, endpoint, { value, error, report }, seconds) {
    const errorType = error === undefined ? null : errorTypeOf(error);
    const status = report ? report.status : null;
    if (span !== null) endSpan(span, value, error, errorType, report);
    const instruments = this.metering();
    if (instruments !== null) instruments.record(serverAttributes(endpoint), value, errorType, status, report, seconds);
  }
}

/** A call's (or a row's) CLIENT span: its answer attributes, status and end. */
function endSpan(span, value, error, errorType, report) {
  const status = report ? report.status : null;
  if (status !== null && status !== undefined) span.setAttribute('http.response.status_code', status);
  const requestId = error === undefined ? value && value.requestId : error.requestId;
  if (requestId) span.setAttribute('glair.request_id', requestId);
  if (report) {
    span.setAttribute('glair.attempts', report.attempts);
    span.setAttribute('glair.throttled', report.throttled);
    if (report.pacerWaitMs !== undefined) {
      span.setAttribute('glair.pacer_wait_ms', Math.round(report.pacerWaitMs * 1000) / 1000);
    }
    if (report.attempts > 1) span.setAttribute('http.request.resend_count', report.attempts - 1);
  }
  if (errorType !== null) {
    span.setAttribute('error.type', errorType);
    // The error's type only: an answer's excerpt in a message is GLAIR's to show.
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: errorType });
  }
  span.end();
}

/**
 * One batch's telemetry: a `glair_vision.batch` span (INTERNAL, under the
 * active span) that ends with the batch's counts, each row counted in the
 * metrics, and, only when asked for (`rowSpans`), a CLIENT span per row under
 * the batch span: a million rows must not make a million spans by default.
 * Without row spans every row sends the batch span's trace context; with them
 * each row sends its own span's.
 */
class BatchTrace {
  constructor(tracer, instruments, endpoint, rowSpans) {
    this.instruments = instruments;
    this.endpoint = endpoint;
    this.server = serverAttributes(endpoint);
    this.counts = { records: 0, verified: 0, not_verified: 0, failed: 0, attempts: 0, throttled: 0 };
    this.rows = new Map();
    this.span = null;
    this.context = {};
    this.rowTracer = null;
    if (tracer !== null) {
      const attributes = { ...this.server, 'url.full': endpoint };
      this.span = tracer.startSpan('glair_vision.batch', { kind: api.SpanKind.INTERNAL, attributes }, api.context.active());
      this.context = w3cContext(this.span.spanContext());
      if (rowSpans) {
        this.rowTracer = tracer;
        this.parent = api.trace.setSpan(api.context.active(), this.span);
      }
    }
  }

  /** Whether rows get spans of their own (and so are handed over one by one). */
  get rowSpans() {
    return this.rowTracer !== null;
  }

  /**
   * A prepared row about to be handed to the batch: with row spans its span
   * starts now (a worker is free) and the row sends that span's context;
   * without, the batch span's, unless it has its own.
   */
  row(index, row) {
    if (row === null || typeof row !== 'object') return row;
    if (this.rowTracer === null) return { ...this.context, ...row };
    const attributes = { ...this.server, 'url.full': this.endpoint };
    if (typeof row.requestId === 'string') attributes['glair.client_request_id'] = row.requestId;
    const span = this.rowTracer.startSpan('POST', { kind: api.SpanKind.CLIENT, attributes }, this.parent);
    this.rows.set(index, span);
    return { ...row, ...w3cContext(span.spanContext()) };
  }

  /** A row's outcome (`{index, value | error, attempts, throttled}`): counted, its span ended. */
  settled(item) {
    const failed = item.error !== undefined;
    const errorType = failed ? errorTypeOf(item.error) : null;
    const attempts = item.attempts || 0;
    const throttled = item.throttled || 0;
    this.counts.records += 1;
    this.counts[failed ? 'failed' : item.value.verification_status ? 'verified' : 'not_verified'] += 1;
    this.counts.attempts += attempts;
    this.counts.throttled += throttled;
    if (this.instruments !== null) this.instruments.count(this.server, item.value, errorType, attempts, throttled);
    const span = this.rows.get(item.index);
    if (span !== undefined) {
      this.rows.delete(item.index);
      const status = failed ? item.error.status : 200;
      endSpan(span, item.value, item.error, errorType, { status, attempts, throttled });
    }
  }

  /** The batch is over (done, stopped by its consumer, or failed with `error`). */
  end(error) {
    for (const span of this.rows.values()) {
      span.setAttribute('error.type', 'cancelled');
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: 'cancelled' });
      span.end();
    }
    this.rows.clear();
    if (this.span === null) return;
    for (const [key, value] of Object.entries(this.counts)) this.span.setAttribute(`glair.batch.${key}`, value);
    if (error !== undefined && error !== null) {
      const errorType = errorTypeOf(error);
      this.span.setAttribute('error.type', errorType);
      this.span.setStatus({ code: api.SpanStatusCode.ERROR, message: errorType });
    }
    this.span.end();
    this.span = null;
  }
}

class Instruments {
  constructor(meter) {
    this.telemetries = new Set();
    this.calls = meter.createCounter('glair_vision.calls', { unit: '{call}', description: 'Verification calls by outcome' });
    this.attempts = meter.createCounter('glair_vision.attempts', { unit: '{attempt}', description: 'Attempts sent (first tries and retries)' });
    this.throttled = meter.createCounter('glair_vision.throttled', { unit: '{attempt}', description: 'Attempts answered 429' });
    this.duration = meter.createHistogram('http.client.request.duration', {
      unit: 's',
      description: 'Duration of verification calls',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    const gauge = meter.createObservableGauge('glair_vision.pacer.rate', {
      unit: '{call}/s',
      description: "The pacer's current send rate (absent while unlimited)",
    });
    gauge.addCallback((result) => {
      const seen = new Set();
      for (const ref of this.telemetries) {
        const telemetry = ref.deref();
        if (telemetry === undefined) {
          this.telemetries.delete(ref);
          continue;
        }
        const client = telemetry.client;
        if (client === null || seen.has(client)) continue;
        seen.add(client);
        const rate = client.pacing().rate;
        if (rate !== null && rate !== undefined) result.observe(rate, serverAttributes(client.baseUrl));
      }
    });
  }

  /** A call's outcome, attempts and 429s (a batch row's too: rows have no duration). */
  count(server, value, errorType, attempts, throttled) {
    if (errorType !== null) {
      this.calls.add(1, { ...server, 'glair.outcome': 'error', 'error.type': errorType });
    } else {
      this.calls.add(1, { ...server, 'glair.outcome': value && value.verification_status ? 'verified' : 'not_verified' });
    }
    if (attempts) this.attempts.add(attempts, server);
    if (throttled) this.throttled.add(throttled, server);
  }

  record(server, value, errorType, status, report, seconds) {
    this.count(server, value, errorType, report ? report.attempts : 0, report ? report.throttled : 0);
    const labels = { ...server };
    if (status !== null && status !== undefined) labels['http.response.status_code'] = status;
    if (errorType !== null) labels['error.type'] = errorType;
    this.duration.record(seconds, labels);
  }
}

module.exports = { Telemetry, ENV_SWITCH };
