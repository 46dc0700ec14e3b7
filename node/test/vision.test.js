'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const { glair, FIXTURE_SITI, FIXTURE_BUDI, FAULT, sandboxFor, sentFields } = require('./helpers');

const ENV_VARS = ['GLAIR_API_KEY', 'GLAIR_USERNAME', 'GLAIR_PASSWORD', 'GLAIR_BASE_URL'];

function withEnv(values, fn) {
  const saved = Object.fromEntries(ENV_VARS.map((k) => [k, process.env[k]]));
  for (const k of ENV_VARS) {
    if (values[k] === undefined) delete process.env[k];
    else process.env[k] = values[k];
  }
  const restore = () => {
    for (const k of ENV_VARS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
  try {
    const out = fn();
    if (out && typeof out.then === 'function') return out.finally(restore);
    restore();
    return out;
  } catch (e) {
    restore();
    throw e;
  }
}

test('all 16 fields reach the sandbox, normalised, and all match', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  const params = {
    ...FIXTURE_SITI,
    name: ' siti   rahayu ',
    date_of_birth: new Date(1990, 7, 5),
    gender: 'female',
    marital_status: 'married',
    rt: '1',
    rw: '2',
  };
  const r = await vision.identity.verification(params);
  assert.equal(r.verification_status, true, r.reason);
  assert.equal(r.reason, 'Verification Success');
  assert.deepEqual(Object.keys(r), ['verification_status', 'reason', 'result', 'requestId', 'clientRequestId']);
  assert.deepEqual(Object.keys(r.result), glair.FIELDS);
  for (const f of glair.FIELDS) assert.equal(r.result[f], true, f);
  assert.equal(typeof r.requestId, 'string');

  const log = await sb.requests();
  assert.equal(log.length, 1);
  const sent = sentFields(log[0]);
  assert.deepEqual(Object.keys(sent).sort(), [...glair.FIELDS].sort());
  assert.equal(sent.nik, FIXTURE_SITI.nik);
  assert.equal(sent.name, 'siti rahayu');
  assert.equal(sent.date_of_birth, '05-08-1990', 'a Date is sent as its local calendar date, dd-mm-yyyy');
  assert.equal(sent.gender, 'PEREMPUAN');
  assert.equal(sent.marital_status, 'KAWIN');
  assert.equal(sent.rt, '001');
  assert.equal(sent.rw, '002');
  assert.match(log[0].content_type, /^multipart\/form-data/);
  assert.match(log[0].user_agent, /^glair-vision\/\S+ \(node\)$/);
  assert.equal(log[0].request_id, r.requestId);
});

test('only the fields that are set are sent', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  const r = await vision.identity.verification({
    nik: FIXTURE_BUDI.nik,
    name: FIXTURE_BUDI.name,
    date_of_birth: undefined,
    address: null,
  });
  assert.equal(r.verification_status, true);
  assert.equal(r.result.nik, true);
  assert.equal(r.result.name, true);
  for (const f of glair.FIELDS.filter((f) => f !== 'nik' && f !== 'name')) assert.equal(r.result[f], null, f);
  const [req] = await sb.requests();
  assert.deepEqual(req.fields, [
    ['nik', FIXTURE_BUDI.nik],
    ['name', FIXTURE_BUDI.name],
  ]);
});

test('mismatches and unknown NIKs are results, not errors', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  let r = await vision.identity.verification({ ...FIXTURE_BUDI, name: 'JOKO WIDODO' });
  assert.equal(r.verification_status, false);
  assert.equal(r.reason, 'Name does not match');
  assert.equal(r.result.name, false);
  assert.equal(r.result.date_of_birth, true);
  r = await vision.identity.verification({ nik: '3171011001909999', name: 'X' });
  assert.equal(r.verification_status, false);
  assert.equal(r.reason, 'NIK not found on Dukcapil database');
  assert.equal(r.result.nik, false);
  assert.equal(r.result.name, null);
});

test('date_of_birth accepts dd-mm-yyyy, dd/mm/yyyy, ISO and Date', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  for (const dob of ['23-05-1985', '23/05/1985', '1985-05-23', new Date(1985, 4, 23), new Date(1985, 4, 23, 23, 59)]) {
    const r = await vision.identity.verification({ nik: FIXTURE_BUDI.nik, date_of_birth: dob });
    assert.equal(r.result.date_of_birth, true, String(dob));
  }
  const log = await sb.requests();
  assert.ok(log.every((req) => sentFields(req).date_of_birth === '23-05-1985'));
});

test('per-call overrides: credentials, base URL, timeout, retries', async (t) => {
  const sb = await sandboxFor(t, { slowDelayMs: 1500 });
  const other = await sandboxFor(t, { apiKey: 'other-key', username: 'other-user', password: 'other-pass' });
  const vision = sb.vision();

  // Base URL and credentials for one call go to the other sandbox.
  const r = await vision.identity.verification(FIXTURE_SITI, {
    baseUrl: other.url,
    apiKey: 'other-key',
    username: 'other-user',
    password: 'other-pass',
  });
  assert.equal(r.verification_status, true);
  assert.equal((await other.requests()).length, 1);
  assert.equal((await sb.requests()).length, 0);
  // The client's own settings are unchanged afterwards.
  await vision.identity.verification(FIXTURE_SITI);
  assert.equal((await sb.requests()).length, 1);

  // Credentials alone.
  await assert.rejects(vision.identity.verification(FIXTURE_SITI, { password: 'nope' }), glair.AuthenticationError);

  // Timeout for one call.
  await assert.rejects(
    vision.identity.verification({ nik: FAULT.slow }, { timeoutMs: 200, maxRetries: 0 }),
    glair.APITimeoutError,
  );
  const slow = await vision.identity.verification({ nik: FAULT.slow }, { timeoutMs: 10000 });
  assert.equal(slow.verification_status, true);

  // Retries for one call: the flaky NIK fails its 1st attempt, succeeds on the 2nd.
  await sb.clearRequests();
  await assert.rejects(
    vision.identity.verification({ nik: FAULT.flaky }, { maxRetries: 0 }),
    glair.ServiceUnavailableError,
  );
  assert.equal((await sb.requests()).length, 1);
  await assert.rejects(vision.identity.verification({ nik: FAULT.s503 }, { maxRetries: 1 }), glair.ServiceUnavailableError);
  assert.equal((await sb.requests()).length, 3, 'one call plus one retry');

  // apiVersion override.
  await assert.rejects(vision.identity.verification(FIXTURE_SITI, { apiVersion: 'v9', maxRetries: 0 }), glair.NotFoundError);
});

test('default retries recover a flaky answer', async (t) => {
  const sb = await sandboxFor(t);
  const r = await sb.vision().identity.verification({ nik: FAULT.flaky });
  assert.equal(r.reason, 'Verification Success');
  assert.equal((await sb.requests()).length, 2);
});

test('GLAIR_* environment fallback', async (t) => {
  const sb = await sandboxFor(t, { apiKey: 'env-key', username: 'env-user', password: 'env-pass' });
  await withEnv(
    { GLAIR_API_KEY: 'env-key', GLAIR_USERNAME: 'env-user', GLAIR_PASSWORD: 'env-pass', GLAIR_BASE_URL: sb.url },
    async () => {
      const vision = new glair.Vision();
      assert.equal(vision.baseUrl, sb.url);
      const r = await vision.identity.verification(FIXTURE_SITI);
      assert.equal(r.verification_status, true);
      // Arguments win over the environment.
      const v2 = new glair.Vision({ password: 'arg-pass' });
      await assert.rejects(v2.identity.verification(FIXTURE_SITI, { maxRetries: 0 }), glair.AuthenticationError);
    },
  );
});

test('missing credentials: a clear ConfigurationError', () => {
  withEnv({}, () => {
    assert.throws(
      () => new glair.Vision(),
      (e) => e instanceof glair.ConfigurationError && /GLAIR_API_KEY/.test(e.message) && e.code === 'configuration',
    );
    assert.throws(() => new glair.Vision({ apiKey: 'k', username: 'u' }), (e) => e instanceof glair.ConfigurationError && /GLAIR_PASSWORD/.test(e.message));
    // The production API stays the default; the sandbox is never used by itself.
    const v = new glair.Vision({ apiKey: 'k', username: 'u', password: 'p' });
    assert.equal(v.baseUrl, 'https://api.vision.glair.ai');
    assert.equal(v.apiVersion, 'v1');
  });
});

test('settings are reflected; timeoutMs and maxRetries', () => {
  const v = new glair.Vision({ apiKey: 'k', username: 'u', password: 'p', timeoutMs: 1234, maxRetries: 5, readEnv: false });
  assert.equal(v.timeoutMs, 1234);
  assert.equal(v.maxRetries, 5);
  assert.match(v.userAgent, /\(node\)$/);
});

test('inspect and JSON show no NIK, name or secret', async (t) => {
  const secret = { apiKey: 'key-SECRET-123', username: 'user-SECRET-456', password: 'pass-SECRET-789' };
  const sb = await sandboxFor(t, secret);
  const vision = sb.vision();
  const shown = [];
  const show = (x) => {
    shown.push(util.inspect(x, { depth: 10 }), util.inspect(x, { depth: 10, showHidden: true }), JSON.stringify(x) || '', String(x));
  };
  show(vision);
  show(vision.identity);
  show(sb);
  show(new glair.Vision({ ...secret, readEnv: false }));
  show(await vision.identity.verification(FIXTURE_SITI));
  for (const params of [
    { ...FIXTURE_SITI, nik: '3171014508909503' },
    { ...FIXTURE_SITI, nik: '317101450890000' },
    { ...FIXTURE_SITI, nik: 3171014508900001 },
    { ...FIXTURE_SITI, name: { x: 'SITI RAHAYU' } },
    { ...FIXTURE_SITI, date_of_birth: 'SITI RAHAYU' },
  ]) {
    try {
      await vision.identity.verification(params, { maxRetries: 0 });
      assert.fail('expected an error');
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      show(e);
      shown.push(e.stack);
    }
  }
  try {
    await vision.identity.verification(FIXTURE_SITI, { maxRetries: 0, password: 'pass-SECRET-000' });
  } catch (e) {
    show(e);
  }
  const text = shown.join('\n');
  for (const needle of [
    '3171014508900001',
    '3171014508909503',
    '317101450890000',
    'SITI RAHAYU',
    'siti rahayu',
    'AMINAH',
    'MERDEKA',
    'SECRET',
  ]) {
    assert.ok(!text.includes(needle), `${needle} appeared in:\n${text}`);
  }
  const batch = await vision.identity.verificationBatch([FIXTURE_SITI, { nik: 'SITI RAHAYU' }]);
  assert.ok(!util.inspect(batch, { depth: 10 }).includes('SITI RAHAYU'));
});

test('the module exports', () => {
  assert.equal(typeof glair.Vision, 'function');
  assert.equal(typeof glair.Sandbox.start, 'function');
  assert.equal(glair.FIELDS.length, 16);
  assert.equal(typeof glair.setLogLevel, 'function');
  glair.setLogLevel(glair.LogLevel.SILENT);
  assert.equal(glair.default, glair);
});

test('GLAIR_LOG turns on stderr logs, which carry no personal data', async (t) => {
  const { execFile } = require('node:child_process');
  const { promisify } = require('node:util');
  const script = `
    const { Sandbox } = require(${JSON.stringify(require.resolve('..'))});
    (async () => {
      const sb = await Sandbox.start({ synthetic: 0 });
      await sb.vision({ maxRetries: 1 }).identity.verification({ nik: '3171014508900001', name: 'SITI RAHAYU' });
      await sb.vision({ maxRetries: 0 }).identity.verification({ nik: '3171011001909503', name: 'SITI RAHAYU' }).catch(() => {});
      await sb.stop();
    })();
  `;
  const run = (env) => {
    const childEnv = { ...process.env, ...env };
    if (!('GLAIR_LOG' in env)) delete childEnv.GLAIR_LOG;
    if (!('RUST_LOG' in env)) delete childEnv.RUST_LOG;
    return promisify(execFile)(process.execPath, ['-e', script], { env: childEnv });
  };
  const quiet = await run({});
  assert.equal(quiet.stderr, '', 'off by default');
  const loud = await run({ GLAIR_LOG: 'debug' });
  assert.match(loud.stderr, /glair_vision/);
  assert.match(loud.stderr, /317101\*+0001/, 'the NIK shows masked');
  for (const needle of ['3171014508900001', '3171011001909503', 'SITI RAHAYU', 'sandbox-password', 'sandbox-api-key']) {
    assert.ok(!loud.stderr.includes(needle), `${needle} in the logs`);
  }
  const fallback = await run({ RUST_LOG: 'glair_vision=debug' });
  assert.match(fallback.stderr, /glair_vision/);
  assert.ok(t);
});
