'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { glair, FAULT, FIXTURE_SITI, sandboxFor } = require('./helpers');

const {
  GlairVisionError,
  ValidationError,
  ConfigurationError,
  APIError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  RateLimitError,
  ServiceUnavailableError,
  ServerError,
  DecodeError,
  APIConnectionError,
  APITimeoutError,
} = glair;

/** A loopback port with nothing listening on it. */
async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function rejection(promise) {
  try {
    const value = await promise;
    assert.fail(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    return err;
  }
}

function checkApiError(err, cls, code, status) {
  assert.ok(err instanceof cls, `${err && err.name} is not a ${cls.name}: ${err && err.message}`);
  assert.ok(err instanceof APIError);
  assert.ok(err instanceof GlairVisionError);
  assert.ok(err instanceof Error);
  assert.equal(err.code, code);
  assert.equal(cls.code, code);
  assert.equal(err.name, cls.name);
  assert.equal(err.status, status);
  assert.equal(typeof err.requestId, 'string');
  assert.match(err.requestId, /\S/);
  assert.equal(typeof err.body, 'string');
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.includes(String(status)), err.message);
  assert.ok(typeof err.stack === 'string');
}

test('every API error class, with its attributes', async (t) => {
  const sb = await sandboxFor(t, { slowDelayMs: 2000 });
  const vision = sb.vision({ maxRetries: 0 });
  const verify = (nik, overrides) => vision.identity.verification({ nik, name: 'SITI RAHAYU' }, overrides);

  let e = await rejection(verify(FAULT.s400));
  checkApiError(e, BadRequestError, 'bad_request', 400);
  assert.equal(e.reason, 'Invalid NIK number format', 'reason read from the malformed (trailing comma) body');

  e = await rejection(verify(FAULT.s401));
  checkApiError(e, AuthenticationError, 'authentication', 401);

  e = await rejection(verify(FAULT.s403));
  checkApiError(e, PermissionDeniedError, 'permission_denied', 403);
  assert.equal(e.reason, 'Access to this API has been disallowed');

  e = await rejection(verify(FAULT.s404));
  checkApiError(e, NotFoundError, 'not_found', 404);

  e = await rejection(verify(FAULT.s429));
  checkApiError(e, RateLimitError, 'rate_limited', 429);
  assert.equal(e.retryAfter, 1);

  e = await rejection(verify(FAULT.s503));
  checkApiError(e, ServiceUnavailableError, 'service_unavailable', 503);
  assert.equal(e.reason, 'Something wrong in Dukcapil server');
  assert.ok(e.result, '503 carries the (null) per-field result');
  assert.equal(e.result.nik, null);
  assert.equal(e.result.name, null);
  assert.equal(Object.keys(e.result).length, 16);

  for (const [nik, status] of [
    [FAULT.s500, 500],
    [FAULT.s502, 502],
    [FAULT.s504, 504],
  ]) {
    e = await rejection(verify(nik));
    checkApiError(e, ServerError, 'server', status);
  }
  assert.equal(e.body, '', '504 has an empty body');
  assert.equal(e.reason, null);

  e = await rejection(verify(FAULT.notJson));
  checkApiError(e, DecodeError, 'decode', 200);
  e = await rejection(verify(FAULT.noStatus));
  checkApiError(e, DecodeError, 'decode', 200);

  e = await rejection(verify(FAULT.slow, { timeoutMs: 200 }));
  assert.ok(e instanceof APITimeoutError, `${e.name}: ${e.message}`);
  assert.ok(e instanceof APIConnectionError);
  assert.ok(e instanceof GlairVisionError);
  assert.equal(e.code, 'timeout');
  assert.equal(e.status, undefined);

  e = await rejection(verify(FIXTURE_SITI.nik, { baseUrl: `http://127.0.0.1:${await closedPort()}` }));
  assert.ok(e instanceof APIConnectionError, `${e.name}: ${e.message}`);
  assert.ok(!(e instanceof APITimeoutError));
  assert.equal(e.code, 'connection');
});

test('the wrong credentials map to 401 and 403', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision({ maxRetries: 0 });
  let e = await rejection(vision.identity.verification(FIXTURE_SITI, { password: 'wrong' }));
  checkApiError(e, AuthenticationError, 'authentication', 401);
  e = await rejection(vision.identity.verification(FIXTURE_SITI, { apiKey: 'wrong' }));
  checkApiError(e, PermissionDeniedError, 'permission_denied', 403);
});

test('ValidationError names the field and nothing is sent', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  const cases = [
    [{ nik: '12345' }, 'nik'],
    [{ nik: 3171014508900001 }, 'nik'],
    [{ nik: '3171014508900001', name: { first: 'SITI' } }, 'name'],
    [{ nik: '3171014508900001', name: ['SITI'] }, 'name'],
    [{ nik: '3171014508900001', name: true }, 'name'],
    [{ nik: '3171014508900001', name: () => 'SITI' }, 'name'],
    [{ nik: '3171014508900001', rt: 12n }, 'rt'],
    [{ nik: '3171014508900001', nama: 'SITI' }, 'nama'],
    [{ nik: '3171014508900001', date_of_birth: '31-02-1990' }, 'date_of_birth'],
    [{ nik: '3171014508900001', date_of_birth: new Date('not a date') }, 'date_of_birth'],
    [{ nik: '3171014508900001', gender: 'X' }, 'gender'],
    [{ name: 'SITI RAHAYU' }, 'nik'],
  ];
  for (const [params, field] of cases) {
    const e = await rejection(vision.identity.verification(params));
    assert.ok(e instanceof ValidationError, `${JSON.stringify(Object.keys(params))}: ${e.name} ${e.message}`);
    assert.ok(e instanceof GlairVisionError);
    assert.equal(e.code, 'validation');
    assert.equal(e.field, field, e.message);
    assert.ok(!e.message.includes('3171014508900001'), 'the NIK is not echoed');
  }
  for (const bad of [null, undefined, 'nik', 42, [FIXTURE_SITI]]) {
    const e = await rejection(vision.identity.verification(bad));
    assert.ok(e instanceof ValidationError, `${String(bad)}: ${e.name} ${e.message}`);
  }
  assert.equal((await sb.requests()).length, 0, 'nothing reached the sandbox');
});

test('ConfigurationError for bad settings', async (t) => {
  const sb = await sandboxFor(t);
  const creds = { apiKey: 'k', username: 'u', password: 'p', readEnv: false };
  const bad = [
    { ...creds, timeoutMs: 'soon' },
    { ...creds, timeoutMs: -1 },
    { ...creds, maxRetries: 1.5 },
    { ...creds, apiKey: 42 },
    { ...creds, apikey: 'typo' },
    { ...creds, baseUrl: 'not a url' },
    // Too large for a duration (an error, not a panic), not finite, or a bigint.
    { ...creds, timeoutMs: 1e300 },
    { ...creds, deadline: 1e300 },
    { ...creds, timeoutMs: Infinity },
    { ...creds, deadline: NaN },
    { ...creds, maxRetries: 2n },
  ];
  for (const settings of bad) {
    assert.throws(
      () => new glair.Vision(settings),
      (e) => e instanceof ConfigurationError && e.code === 'configuration' && e instanceof GlairVisionError,
      JSON.stringify(Object.keys(settings)),
    );
  }
  const vision = sb.vision();
  for (const overrides of [{ timeoutMs: 'x' }, { retries: -1 }, { apikey: 'typo' }, 'str', { deadline: 1e300 }, { retryUnanswered: 'yes' }]) {
    const e = await rejection(vision.identity.verification({ nik: '3171014508900001' }, overrides));
    assert.ok(e instanceof ConfigurationError, `${JSON.stringify(overrides)}: ${e.name} ${e.message}`);
  }
  for (const options of [{ concurrency: 0 }, { rateLimit: -2 }, { concurrency: 'many' }]) {
    const e = await rejection(vision.identity.verificationBatch([{ nik: '3171014508900001' }], options));
    assert.ok(e instanceof ConfigurationError, `${JSON.stringify(options)}: ${e.name} ${e.message}`);
  }
  assert.equal((await sb.requests()).length, 0);
});

test('errors serialise without losing their attributes', async (t) => {
  const sb = await sandboxFor(t);
  const e = await rejection(sb.vision({ maxRetries: 0 }).identity.verification({ nik: FAULT.s503 }));
  const json = JSON.parse(JSON.stringify(e));
  assert.equal(json.name, 'ServiceUnavailableError');
  assert.equal(json.code, 'service_unavailable');
  assert.equal(json.status, 503);
  assert.equal(json.requestId, e.requestId);
  assert.equal(json.message, e.message);
});
