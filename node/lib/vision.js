'use strict';

const util = require('node:util');
const native = require('./native');
const errors = require('./errors');
const { prepareRecord, prepareRow, prepareOptions } = require('./convert');
const { Telemetry } = require('./telemetry');

const TELEMETRY = Symbol('glair-vision.telemetry');
const VISION = Symbol('glair-vision.vision');
const NATIVE = Symbol('glair-vision.native');

const FIELDS = [
  'nik',
  'name',
  'date_of_birth',
  'no_kk',
  'mother_maiden_name',
  'place_of_birth',
  'address',
  'gender',
  'marital_status',
  'job_type',
  'province',
  'city',
  'district',
  'subdistrict',
  'rt',
  'rw',
];

/** The result with its keys in a stable order: wire keys, then `requestId`, `clientRequestId`. */
function shapeResult(v) {
  const result = {};
  for (const f of FIELDS) result[f] = v.result[f] === undefined ? null : v.result[f];
  return {
    verification_status: v.verification_status,
    reason: v.reason,
    result,
    requestId: v.requestId ?? null,
    clientRequestId: v.clientRequestId ?? null,
  };
}

function shapeError(p) {
  const e = errors.fromPayload(p);
  if (e.result) e.result = shapeResult({ result: e.result }).result;
  return e;
}

/** `{index, value | error, attempts, throttled}`: the attempts sent for the record and the 429s among them. */
function parseOutcome(item) {
  const counts = { attempts: item.attempts, throttled: item.throttled };
  if (item.error) return { index: item.index, error: shapeError(item.error), ...counts };
  return { index: item.index, value: shapeResult(item.value), ...counts };
}

/** How many records the async-iterator form hands to the core at a time. */
const PUSH_CHUNK = 256;
/** `vision.identity`: KTP Basic Verification. */
class Identity {
  constructor(nativeVision, telemetry, vision) {
    Object.defineProperty(this, NATIVE, { value: nativeVision, enumerable: false });
    Object.defineProperty(this, TELEMETRY, { value: telemetry, enumerable: false });
    Object.defineProperty(this, VISION, { value: vision, enumerable: false });
  }

  /**
   * Verifies one person against Dukcapil. `params` holds the 16 wire fields
   * (`nik` required); `overrides` changes settings for this call only.
   */
  async verification(params, overrides) {
    const telemetry = this[TELEMETRY];
    if (telemetry.on()) return this.tracedVerification(telemetry, params, overrides);
    const record = JSON.stringify(prepareRecord(params));
    const opts = prepareOptions(overrides);
    let text;
    try {
      text = await this[NATIVE].verification(record, opts);
    } catch (err) {
      const e = errors.fromNative(err);
      if (e.result) e.result = shapeResult({ result: e.result }).result;
      throw e;
    }
    return shapeResult(JSON.parse(text));
  }

  /** `verification` inside a span, sending its trace context (see telemetry.js). */
  async tracedVerification(telemetry, params, overrides) {
    const vision = this[VISION];
    const base = (overrides && overrides.baseUrl) || vision.baseUrl;
    const apiVersion = (overrides && overrides.apiVersion) || vision.apiVersion;
    const endpoint = `${base.replace(/\/+$/, '')}/identity/${apiVersion}/verification`;
    const requestId = (overrides && overrides.requestId) || (params && params.requestId) || null;
    return telemetry.call(vision, endpoint, requestId, async (context) => {
      const record = JSON.stringify(prepareRecord(params));
      const opts = prepareOptions({ ...(overrides || {}), ...context });
      let text;
      try {
        text = await this[NATIVE].verificationReported(record, opts);
      } catch (err) {
        throw errors.fromNative(err);
      }
      const outcome = JSON.parse(text);
      return outcome.error === undefined
        ? { value: shapeResult(outcome.value), report: outcome.report }
        : { error: shapeError(outcome.error), report: outcome.report };
    });
  }

  /**
   * Verifies every record with bounded concurrency. Resolves to settled
   * outcomes in input order, like `Promise.allSettled`: `{status: 'fulfilled',
   * value}` or `{status: 'rejected', reason}` with a GlairVisionError, each with
   * `attempts` (sent for that record; 0 if refused before sending) and
   * `throttled` (how many were answered 429). Never rejects because of one
   * record. `rateLimit: 'auto'` (the default) sends as fast as the account
   * allows: the client's pacer finds the pace after the first 429 and throttled
   * records are sent again behind it; a number is a hard ceiling of calls
   * started per second by this batch.
   */
  async verificationBatch(records, options) {
    if (records == null || typeof records[Symbol.iterator] !== 'function' || typeof records === 'string') {
      throw new errors.ValidationError('invalid records: must be an array (or iterable) of records', { field: 'records' });
    }
    // The streaming path underneath: only what is in flight lives in the addon,
    // so memory grows with the results kept, not with copies of the whole input.
    const out = Array.isArray(records) ? new Array(records.length) : [];
    for await (const item of this.verificationStream(records, options)) {
      const counts = { attempts: item.attempts, throttled: item.throttled };
      out[item.index] =
        item.error === undefined
          ? { status: 'fulfilled', value: item.value, ...counts }
          : { status: 'rejected', reason: item.error, ...counts };
    }
    return out;
  }

  /**
   * The streaming form: an async iterable of `{index, value}` or
   * `{index, error}`, yielded as calls complete (not in input order). `records`
   * may be an array, any iterable or an async iterable; it is read only as the
   * workers free up. Breaking out of the loop cancels what is in flight.
   *
   * With OpenTelemetry on, a batch or stream is one `glair_vision.batch` span
   * with its counts, ending when the last outcome is read (or the loop is left);
   * every record sends its trace context. `rowSpans: true` also makes each
   * record a CLIENT span under it (from when a worker takes it to its outcome),
   * whose trace context that record sends.
   */
  verificationStream(records, options) {
    const iterable =
      records != null &&
      typeof records !== 'string' &&
      (typeof records[Symbol.iterator] === 'function' || typeof records[Symbol.asyncIterator] === 'function');
    if (!iterable) {
      throw new errors.ValidationError('invalid records: must be an iterable or async iterable of records', {
        field: 'records',
      });
    }
    const { rowSpans, rest } = splitRowSpans(options);
    const opts = prepareOptions(rest);
    const stream = (() => {
      try {
        return this[NATIVE].verificationStream(opts);
      } catch (err) {
        throw errors.fromNative(err);
      }
    })();
    const telemetry = this[TELEMETRY];
    if (!telemetry.on()) return iterateStream(stream, records);
    // The batch span starts with the iteration (a stream never read leaves no
    // span open), and the rows carry its trace context (or their own span's).
    const vision = this[VISION];
    const endpoint = `${vision.baseUrl.replace(/\/+$/, '')}/identity/${vision.apiVersion}/verification`;
    const startTrace = () => telemetry.startBatch(vision, endpoint, rowSpans);
    // With row spans a record is handed over only when a worker is free, so its span starts with its call.
    return iterateStream(stream, records, startTrace, rowSpans ? concurrencyOf(rest) : null);
  }
}

/** The JS layer's own batch option `rowSpans` (a boolean), apart from the rest. */
function splitRowSpans(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options) || !('rowSpans' in options)) {
    return { rowSpans: false, rest: options };
  }
  const { rowSpans, ...rest } = options;
  if (rowSpans !== undefined && typeof rowSpans !== 'boolean') {
    throw new errors.ConfigurationError(`option \`rowSpans\` must be a boolean, not ${typeof rowSpans}`);
  }
  return { rowSpans: rowSpans === true, rest };
}

/** A batch's concurrency (checked by the core; the default is 16). */
function concurrencyOf(options) {
  const n = options && options.concurrency;
  return Number.isInteger(n) && n > 0 ? n : 16;
}

async function* iterateStream(stream, records, startTrace = null, window = null) {
  const trace = startTrace === null ? null : startTrace();
  // Rows the JS layer already rejected (an invalid Date): a placeholder keeps
  // the indices aligned in the core, and its outcome is replaced by this error.
  const replaced = new Map();
  let index = 0;
  let feedError = null;
  let closed = false;
  // With a window, at most that many records are in the core at once: the
  // feeder waits for an outcome before handing over the next.
  let inFlight = 0;
  let wake = null;
  const settle = () => {
    inFlight -= 1;
    if (wake !== null) {
      const w = wake;
      wake = null;
      w();
    }
  };
  // Sync iterables (arrays) go over in chunks; an async source record by
  // record, so a slow producer's records start at once.
  const isAsync = records != null && typeof records[Symbol.asyncIterator] === 'function';
  const chunkSize = isAsync || window !== null ? 1 : PUSH_CHUNK;
  const feeding = (async () => {
    let chunk = [];
    const flush = async () => {
      if (chunk.length === 0) return;
      const rows = chunk;
      chunk = [];
      await errors.call(() => stream.push(JSON.stringify(rows)));
    };
    try {
      for await (const record of records) {
        while (window !== null && inFlight >= window && !closed) await new Promise((resolve) => (wake = resolve));
        if (closed) break; // the consumer stopped: read no further
        const p = prepareRow(record);
        if (p.error) {
          replaced.set(index, p.error);
          chunk.push({ nik: '' }); // fails validation in the core: never sent
        } else {
          chunk.push(trace !== null ? trace.row(index, p.row) : p.row);
        }
        index += 1;
        inFlight += 1;
        if (chunk.length >= chunkSize) await flush();
        if (closed) break; // the consumer stopped: read no further
      }
    } catch (err) {
      feedError = err;
    }
    try {
      await flush(); // records read before a failing source still get outcomes
    } catch (_) {
      // the stream was closed
    } finally {
      stream.end();
    }
  })();
  let failure;
  try {
    for (;;) {
      const text = await errors.call(() => stream.next());
      if (text === null) break;
      for (const raw of JSON.parse(text)) {
        let item;
        if (replaced.has(raw.index)) {
          const error = replaced.get(raw.index);
          replaced.delete(raw.index);
          item = { index: raw.index, error, attempts: 0, throttled: 0 };
        } else {
          item = parseOutcome(raw);
        }
        if (trace !== null) trace.settled(item);
        settle();
        yield item;
      }
    }
    await feeding;
    if (feedError) throw feedError;
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    closed = true;
    if (wake !== null) wake();
    stream.close();
    if (trace !== null) trace.end(failure);
  }
}

/**
 * A GLAIR Vision client. Drop-in for `@glair/vision`'s `Vision`:
 * `new Vision({ apiKey, username, password, baseUrl, apiVersion })`, plus
 * `timeoutMs` and `maxRetries`. Unset credentials and base URL are read from
 * GLAIR_API_KEY, GLAIR_USERNAME, GLAIR_PASSWORD and GLAIR_BASE_URL.
 */
class Vision {
  constructor(settings) {
    // The telemetry options are the JS layer's: objects the core cannot take.
    const isObject = settings !== null && typeof settings === 'object' && !Array.isArray(settings);
    const { telemetry, tracerProvider, meterProvider, ...rest } = isObject ? settings : {};
    const opts = prepareOptions(isObject ? rest : settings);
    const tracing = new Telemetry({ telemetry, tracerProvider, meterProvider });
    let n;
    try {
      n = new native.NativeVision(opts);
    } catch (err) {
      throw errors.fromNative(err);
    }
    Object.defineProperty(this, NATIVE, { value: n, enumerable: false });
    Object.defineProperty(this, 'identity', { value: new Identity(n, tracing, this), enumerable: false });
  }

  /** The base URL in use (default https://api.vision.glair.ai). */
  get baseUrl() {
    return errors.callSync(() => this[NATIVE].baseUrl);
  }
  get apiVersion() {
    return errors.callSync(() => this[NATIVE].apiVersion);
  }
  get timeoutMs() {
    return errors.callSync(() => this[NATIVE].timeoutMs);
  }
  get maxRetries() {
    return errors.callSync(() => this[NATIVE].maxRetries);
  }
  /** The whole call's deadline (attempts and waits), in milliseconds. */
  get deadline() {
    return errors.callSync(() => this[NATIVE].deadlineMs);
  }
  get userAgent() {
    return errors.callSync(() => this[NATIVE].userAgent);
  }
  /** The client-wide ceiling of calls started per second, or `'auto'`. */
  get rateLimit() {
    const ceiling = errors.callSync(() => this[NATIVE].rateLimit);
    return ceiling === null || ceiling === undefined ? 'auto' : ceiling;
  }

  /** The pacing store this client shares its account's pace through (credentials redacted), or null. */
  get pacingUrl() {
    return errors.callSync(() => this[NATIVE].pacingUrl) ?? null;
  }

  /**
   * The state of this client's pacer now, shared by every call it makes:
   * `{ rate, ceiling, sent, retries, throttled, succeeded, paused }`. `rate` is
   * the calls started per second now (null while unlimited: no 429 seen and no
   * ceiling); the counts are attempts sent, retried, answered 429 and answered
   * with a result (the calls billed); `paused` while a Retry-After holds every
   * call back. For progress displays and logs.
   */
  pacing() {
    return JSON.parse(errors.callSync(() => this[NATIVE].pacing()));
  }

  toJSON() {
    return { baseUrl: this.baseUrl, apiVersion: this.apiVersion, timeoutMs: this.timeoutMs, maxRetries: this.maxRetries };
  }

  [util.inspect.custom](depth, options, inspect) {
    return `Vision ${(inspect || util.inspect)(this.toJSON(), options)}`;
  }
}

Identity.prototype[util.inspect.custom] = function inspectIdentity() {
  return 'Identity {}';
};
Identity.prototype.toJSON = function identityToJSON() {
  return {};
};

module.exports = { Vision, Identity, FIELDS, NATIVE, iterateStream };
