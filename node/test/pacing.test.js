'use strict';

// Adaptive pacing from Node, against a sandbox that limits the account as a
// gateway does (a token bucket per API key, 429 with Retry-After) and answers
// with a latency spread: batches finish with no failed rows and no rate given,
// each outcome says what it took, `vision.pacing()` shows the client's state.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { glair, runNodeChild, FIXTURE_SITI, FAULT } = require('./helpers');

// 100 requests/s per key, burst 10, 5 ms mean latency (2 ms spread).
const LIMITED = { rateLimit: 100, burst: 10, latencyMs: 5, latencySpreadMs: 2, seed: 3 };

async function limited(t, options = LIMITED) {
  const sb = await glair.Sandbox.start(options);
  t.after(() => sb.stop());
  return sb;
}

/** `n` records over the registry's people (each answered 200). */
async function rows(sb, n) {
  const people = await sb.records();
  return Array.from({ length: n }, (_, i) => ({ nik: people[i % people.length].nik }));
}

test('a batch larger than the burst finishes with no failed rows, and each outcome says what it took', async (t) => {
  const sb = await limited(t);
  const vision = sb.vision();
  const outcomes = await vision.identity.verificationBatch(await rows(sb, 600), { concurrency: 64 });
  const failed = outcomes.filter((o) => o.status !== 'fulfilled');
  assert.deepEqual(failed, []);
  const pacing = vision.pacing();
  assert.ok(sb.throttled > 0, '64 calls at once into a burst of 10 are throttled');
  assert.equal(pacing.throttled, sb.throttled, 'the client saw every 429 the server sent');
  assert.equal(pacing.succeeded, 600);
  assert.equal(typeof pacing.rate, 'number', 'pacing engaged after the first 429');
  assert.equal(pacing.ceiling, null);
  for (const o of outcomes) assert.equal(o.attempts, o.throttled + 1);
  assert.equal(outcomes.reduce((n, o) => n + o.throttled, 0), pacing.throttled);
  assert.equal(outcomes.reduce((n, o) => n + o.attempts, 0), pacing.sent);
});

test('the stream paces too and reports throttling per item', async (t) => {
  const sb = await limited(t);
  const vision = sb.vision();
  const items = [];
  for await (const item of vision.identity.verificationStream(await rows(sb, 250), { concurrency: 64, rateLimit: 'auto' })) {
    items.push(item);
  }
  assert.deepEqual(
    items.map((i) => i.index).sort((a, b) => a - b),
    Array.from({ length: 250 }, (_, i) => i),
  );
  assert.deepEqual(items.filter((i) => i.error), []);
  assert.ok(sb.throttled > 0);
  assert.equal(items.reduce((n, i) => n + i.throttled, 0), sb.throttled);
  assert.equal(vision.pacing().throttled, sb.throttled);
});

// The same account (API key) from another process: a batch, then its counts.
const CHILD = `
const glair = require(${JSON.stringify(path.resolve(__dirname, '..'))});
const config = JSON.parse(process.env.PACING_CHILD);
(async () => {
  const vision = new glair.Vision({ ...config.client, readEnv: false });
  const outcomes = await vision.identity.verificationBatch(config.rows, { concurrency: 32 });
  const bad = outcomes.filter((o) => o.status !== 'fulfilled');
  process.stdout.write(JSON.stringify({
    rows: outcomes.length,
    failed: bad.length,
    first: bad.length ? String(bad[0].reason) : null,
    throttled: vision.pacing().throttled,
  }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

const runChild = (env) => runNodeChild(CHILD, env);

test('two processes sharing one account both finish with no failed rows', async (t) => {
  const sb = await limited(t);
  const config = { client: { baseUrl: sb.url, ...sb.credentials }, rows: await rows(sb, 300) };
  const env = { ...process.env, PACING_CHILD: JSON.stringify(config) };
  const reports = await Promise.all([runChild(env), runChild(env)]);
  assert.deepEqual(
    reports.map((r) => [r.rows, r.failed]),
    [
      [300, 0],
      [300, 0],
    ],
    JSON.stringify(reports),
  );
  assert.ok(sb.throttled > 0, 'two clients into one bucket are throttled');
  assert.equal(reports[0].throttled + reports[1].throttled, sb.throttled);
});

const BAD_RATES = ['fast', '', 'AUTO', 0, -1.5, NaN, Infinity, true, [10], { rate: 5 }, 10n];

test('bad rate limits are refused with a ConfigurationError and nothing is sent', async (t) => {
  const sb = await limited(t);
  const vision = sb.vision();
  const records = await rows(sb, 3);
  for (const rateLimit of BAD_RATES) {
    const shown = typeof rateLimit === 'bigint' ? `${rateLimit}n` : JSON.stringify(rateLimit);
    await assert.rejects(
      vision.identity.verificationBatch(records, { rateLimit }),
      (e) => e instanceof glair.ConfigurationError && /rateLimit/.test(e.message),
      `batch rateLimit ${shown}`,
    );
    assert.throws(
      () => vision.identity.verificationStream(records, { rateLimit }),
      glair.ConfigurationError,
      `stream rateLimit ${shown}`,
    );
    assert.throws(() => sb.vision({ rateLimit }), glair.ConfigurationError, `client rateLimit ${shown}`);
  }
  assert.deepEqual(await sb.requests(), []);
  assert.equal(vision.pacing().sent, 0);
});

test('pacing() state shape; a fixed client rate limit is the ceiling', async (t) => {
  const sb = await glair.Sandbox.start({ synthetic: 5 });
  t.after(() => sb.stop());
  const vision = sb.vision();
  assert.equal(vision.rateLimit, 'auto');
  assert.deepEqual(vision.pacing(), {
    rate: null,
    ceiling: null,
    limit: null,
    window: null,
    model: 'unpaced',
    fromHeaders: false,
    sent: 0,
    retries: 0,
    throttled: 0,
    succeeded: 0,
    paused: false,
    store: null,
  });
  await vision.identity.verification({ nik: FIXTURE_SITI.nik });
  const after = vision.pacing();
  assert.deepEqual([after.sent, after.succeeded, after.throttled, after.rate], [1, 1, 0, null]);

  const fixed = sb.vision({ rateLimit: 250 });
  assert.equal(fixed.rateLimit, 250);
  assert.deepEqual([fixed.pacing().rate, fixed.pacing().ceiling], [250, 250]);
  assert.equal(sb.vision({ rateLimit: 'auto' }).rateLimit, 'auto');
  assert.equal(sb.vision({ rateLimit: null }).rateLimit, 'auto');
});

test('outcomes carry their attempts: a record refused before sending has none; a 429 that outlives its deadline shows them', async (t) => {
  const sb = await glair.Sandbox.start({ synthetic: 5 });
  t.after(() => sb.stop());
  const vision = sb.vision({ maxRetries: 1, deadline: 1500 });
  const [throttled, refused, invalidDate, ok] = await vision.identity.verificationBatch([
    { nik: FAULT.s429 },
    { nik: '123' },
    { nik: FIXTURE_SITI.nik, date_of_birth: new Date(NaN) },
    { nik: FIXTURE_SITI.nik },
  ]);
  assert.equal(throttled.status, 'rejected');
  assert.ok(throttled.reason instanceof glair.RateLimitError);
  assert.ok(throttled.attempts >= 1);
  assert.equal(throttled.throttled, throttled.attempts);
  assert.deepEqual([refused.status, refused.attempts, refused.throttled], ['rejected', 0, 0]);
  assert.deepEqual([invalidDate.status, invalidDate.attempts, invalidDate.throttled], ['rejected', 0, 0]);
  assert.deepEqual([ok.status, ok.attempts, ok.throttled], ['fulfilled', 1, 0]);
});

test('Sandbox rate limit options', async (t) => {
  for (const options of [{ rateLimit: -1 }, { rateLimit: 'fast' }, { burst: 0 }, { burst: 1.5 }, { latencySpreadMs: -3 }]) {
    await assert.rejects(glair.Sandbox.start(options), glair.ConfigurationError, JSON.stringify(options));
  }
  const sb = await glair.Sandbox.start({ synthetic: 5, rateLimit: 1, burst: 2 });
  t.after(() => sb.stop());
  const vision = sb.vision({ maxRetries: 0 });
  await vision.identity.verification({ nik: FIXTURE_SITI.nik });
  await vision.identity.verification({ nik: FIXTURE_SITI.nik });
  await assert.rejects(
    vision.identity.verification({ nik: FIXTURE_SITI.nik }),
    (e) => e instanceof glair.RateLimitError && e.retryAfter === 1,
  );
  assert.equal(sb.throttled, 1);
  assert.equal(vision.pacing().throttled, 1);
});

const GATEWAYS = [
  'model=fixed-window,limit=50,window=1s',
  'model=sliding-window,limit=50,window=1s,retry-after=absent',
  { model: 'leaky-queue', rate: 50, depth: 10 },
  { model: 'token-bucket', rate: 50, burst: 5, retryAfter: 'date' },
];

test('each gateway model is paced with no failed rows', async (t) => {
  for (const gateway of GATEWAYS) {
    const sb = await limited(t, { gateway, latencyMs: 5 });
    const vision = sb.vision();
    const outcomes = await vision.identity.verificationBatch(await rows(sb, 200), { concurrency: 32 });
    assert.deepEqual(outcomes.filter((o) => o.status !== 'fulfilled'), [], JSON.stringify(gateway));
    const pacing = vision.pacing();
    assert.equal(pacing.succeeded, 200);
    assert.equal(pacing.throttled, sb.throttled);
    assert.ok(['searching', 'measuring', 'holding'].includes(pacing.model), JSON.stringify(pacing));
  }
});

test('with rate-limit headers the pacer paces from them; bad gateways are refused', async (t) => {
  const sb = await limited(t, { gateway: { model: 'fixed-window', limit: 50, window: '1s', headers: 'kong' }, latencyMs: 5 });
  const vision = sb.vision();
  const outcomes = await vision.identity.verificationBatch(await rows(sb, 150), { concurrency: 32 });
  assert.deepEqual(outcomes.filter((o) => o.status !== 'fulfilled'), []);
  const p = vision.pacing();
  assert.deepEqual([p.model, p.fromHeaders, p.limit, p.window], ['announced', true, 50, 1]);
  for (const gateway of ['model=gcra,rate=5', { model: 'fixed-window' }, { model: 'token-bucket', rate: [5] }, 5, { model: 'token-bucket', rate: 5, changes: [[1]] }]) {
    await assert.rejects(glair.Sandbox.start({ gateway }), glair.ConfigurationError, JSON.stringify(gateway));
  }
  await assert.rejects(glair.Sandbox.start({ gateway: 'model=token-bucket,rate=5', rateLimit: 5 }), /not both/);
});
