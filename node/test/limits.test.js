'use strict';

// Every count and duration option has one range, the Rust core's (the same in
// Python, Rust and the CLI): outside it a ConfigurationError naming the option,
// before anything is allocated or sent. `concurrency: 2 ** 62` once panicked
// inside tokio and aborted Node; `2 ** 31` grew until the kernel killed it.

const test = require('node:test');
const assert = require('node:assert/strict');
const { glair, FIXTURE_SITI, sandboxFor } = require('./helpers');

const { ConfigurationError } = glair;

const RECORDS = [{ nik: FIXTURE_SITI.nik }];
const shown = (v) => (typeof v === 'bigint' ? `${v}n` : typeof v === 'number' ? String(v) : JSON.stringify(v));

/** Out of range or not an integer: both name the option and the range. */
const BAD_CONCURRENCY = [2 ** 62, 2 ** 31, 4097, 65537, 1_000_000, 2 ** 53, 1e300, 0, -1, -(2 ** 62), 1.5, NaN, Infinity, -Infinity];
const BAD_RETRIES = [101, 1000, 2 ** 32, 2 ** 62, -1, 1.5, NaN, Infinity];
const BAD_MS = [0, -1, 0.5, 86_400_001, 1e9, 1e300, NaN, Infinity, -Infinity];
const BAD_RATES = [0, -1, 0.000999, 1 / 86_400, 1e-300, 1_000_001, NaN, Infinity];
const WRONG_TYPES = ['8', true, [8], { n: 8 }, 8n];

function namesOption(option) {
  return (e) => {
    assert.ok(e instanceof ConfigurationError, `${e && e.name}: ${e && e.message}`);
    assert.ok(e.message.includes(`\`${option}\``), e.message);
    return true;
  };
}

test('concurrency outside 1-4096 is refused by batches and streams, and nothing is sent', async (t) => {
  const sb = await sandboxFor(t, { synthetic: 0 });
  const vision = sb.vision();
  for (const concurrency of [...BAD_CONCURRENCY, ...WRONG_TYPES]) {
    const label = `concurrency ${shown(concurrency)}`;
    await assert.rejects(vision.identity.verificationBatch(RECORDS, { concurrency }), namesOption('concurrency'), label);
    assert.throws(() => vision.identity.verificationStream(RECORDS, { concurrency }), namesOption('concurrency'), label);
  }
  const e = await vision.identity.verificationBatch(RECORDS, { concurrency: 4097 }).catch((err) => err);
  assert.match(e.message, /must be an integer from 1 to 4096/);
  assert.deepEqual(await sb.requests(), []);
  assert.equal(vision.pacing().sent, 0);
});

test('the ends of the concurrency range run', async (t) => {
  const sb = await sandboxFor(t, { synthetic: 0 });
  const vision = sb.vision();
  for (const concurrency of [1, 4096]) {
    const outcomes = await vision.identity.verificationBatch([...RECORDS, ...RECORDS], { concurrency });
    assert.deepEqual(
      outcomes.map((o) => o.status === 'fulfilled' && o.value.verification_status),
      [true, true],
      `concurrency ${concurrency}`,
    );
  }
});

test('maxRetries outside 0-100 is refused by the client, a call and a batch', async (t) => {
  const sb = await sandboxFor(t, { synthetic: 0 });
  const vision = sb.vision();
  for (const option of ['maxRetries', 'retries']) {
    for (const value of [...BAD_RETRIES, ...WRONG_TYPES]) {
      const label = `${option} ${shown(value)}`;
      assert.throws(() => sb.vision({ [option]: value }), namesOption(option), label);
      await assert.rejects(vision.identity.verification(RECORDS[0], { [option]: value }), namesOption(option), label);
      await assert.rejects(vision.identity.verificationBatch(RECORDS, { [option]: value }), namesOption(option), label);
    }
  }
  assert.throws(() => sb.vision({ maxRetries: 101 }), /must be an integer from 0 to 100/);
  assert.equal(sb.vision({ maxRetries: 100 }).maxRetries, 100);
  assert.equal(sb.vision({ maxRetries: 0 }).maxRetries, 0);
  assert.deepEqual(await sb.requests(), []);
});

test('durations outside 1 ms to a day are refused', async (t) => {
  const sb = await sandboxFor(t, { synthetic: 0 });
  const vision = sb.vision();
  for (const option of ['timeoutMs', 'timeout', 'connectTimeoutMs', 'deadline']) {
    for (const value of [...BAD_MS, ...WRONG_TYPES]) {
      const label = `${option} ${shown(value)}`;
      assert.throws(() => sb.vision({ [option]: value }), namesOption(option), label);
      if (option === 'connectTimeoutMs') continue; // a client setting only
      await assert.rejects(vision.identity.verification(RECORDS[0], { [option]: value }), namesOption(option), label);
      await assert.rejects(vision.identity.verificationBatch(RECORDS, { [option]: value }), namesOption(option), label);
    }
  }
  assert.throws(() => sb.vision({ timeoutMs: 0 }), /must be from 1 to 86400000 milliseconds/);
  const longest = sb.vision({ timeoutMs: 86_400_000, connectTimeoutMs: 86_400_000, deadline: 86_400_000 });
  assert.equal(longest.timeoutMs, 86_400_000);
  assert.equal(longest.deadline, 86_400_000);
  assert.equal(sb.vision({ timeoutMs: 1, deadline: 1 }).timeoutMs, 1);
  assert.deepEqual(await sb.requests(), []);
});

test('rate limits outside 0.001 to 1000000 per second are refused', async (t) => {
  const sb = await sandboxFor(t, { synthetic: 0 });
  const vision = sb.vision();
  for (const rateLimit of [...BAD_RATES, 'fast', true, 10n]) {
    const label = `rateLimit ${shown(rateLimit)}`;
    assert.throws(() => sb.vision({ rateLimit }), namesOption('rateLimit'), label);
    await assert.rejects(vision.identity.verificationBatch(RECORDS, { rateLimit }), namesOption('rateLimit'), label);
  }
  assert.equal(sb.vision({ rateLimit: 0.001 }).rateLimit, 0.001);
  assert.equal(sb.vision({ rateLimit: 1_000_000 }).rateLimit, 1_000_000);
  assert.deepEqual(await sb.requests(), []);
});

test('sandbox settings that size its memory or its waits are bounded', async () => {
  for (const options of [
    { synthetic: 2 ** 40 },
    { synthetic: 100_001 },
    { burst: 1_000_001 },
    { rateLimit: 1e7 },
    { latencyMs: 86_400_001 },
    { slowDelayMs: 1e15 },
  ]) {
    await assert.rejects(glair.Sandbox.start(options), ConfigurationError, JSON.stringify(options));
  }
});
