'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { glair, FIXTURE_SITI } = require('./helpers');

const NUR = { nik: '3578054107000123', name: 'NUR AINI', date_of_birth: '01-07-2000', gender: 'PEREMPUAN' };

test('Sandbox: defaults, credentials, records, request log, stop', async () => {
  const sb = await glair.Sandbox.start({ records: [{ ...NUR, date_of_birth: new Date(2000, 6, 1) }] });
  try {
    assert.match(sb.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(sb.credentials, { apiKey: 'sandbox-api-key', username: 'sandbox', password: 'sandbox-password' });
    const people = await sb.records();
    assert.ok(people.length >= 100 + 3 + 1, `${people.length} people`);
    assert.ok(people.some((p) => p.nik === FIXTURE_SITI.nik && p.name === FIXTURE_SITI.name));
    assert.ok(people.some((p) => p.nik === NUR.nik));
    const vision = sb.vision();
    const r = await vision.identity.verification(NUR);
    assert.equal(r.verification_status, true, r.reason);
    const log = await sb.requests();
    assert.equal(log.length, 1);
    assert.equal(log[0].status, 200);
    assert.equal(log[0].request_id, r.requestId);
    await sb.clearRequests();
    assert.deepEqual(await sb.requests(), []);
  } finally {
    await sb.stop();
  }
  await sb.stop(); // twice is fine
  await assert.rejects(sb.records(), glair.ConfigurationError);
});

test('Sandbox: records from a file, custom credentials, synthetic size and seed', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glair-sb-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'people.jsonl');
  fs.writeFileSync(file, `${JSON.stringify(NUR)}\n`);
  const sb = await glair.Sandbox.start({ records: file, synthetic: 5, seed: 7, apiKey: 'k1', username: 'u1', password: 'p1' });
  t.after(() => sb.stop());
  assert.equal(sb.apiKey, 'k1');
  assert.equal((await sb.records()).length, 5 + 3 + 1);
  const r = await sb.vision().identity.verification(NUR);
  assert.equal(r.verification_status, true);
  const again = await glair.Sandbox.start({ synthetic: 5, seed: 7 });
  t.after(() => again.stop());
  const a = (await sb.records()).filter((p) => p.nik !== NUR.nik);
  assert.deepEqual(await again.records(), a, 'the same seed gives the same people');
});

test('Sandbox: latency, failure rate and slow NIKs are configurable', async (t) => {
  const sb = await glair.Sandbox.start({ synthetic: 0, failureRate: 1, slowDelayMs: 50, latencyMs: 1 });
  t.after(() => sb.stop());
  await assert.rejects(sb.vision({ maxRetries: 0 }).identity.verification(FIXTURE_SITI), glair.ServiceUnavailableError);
});

test('Sandbox: bad options are ConfigurationErrors', async () => {
  for (const options of [
    { records: 'no/such/file.jsonl' },
    { records: [{ name: 'no nik' }] },
    { records: 42 },
    { failureRate: 2 },
    { synthetic: -1 },
    { port: 70000 },
    { unknown: true },
  ]) {
    await assert.rejects(glair.Sandbox.start(options), glair.ConfigurationError, JSON.stringify(options));
  }
  assert.throws(() => new glair.Sandbox({}), TypeError);
});

test('Sandbox.openapi: the OpenAPI document ships with the package and is what the sandbox serves', async () => {
  const document = glair.Sandbox.openapi();
  assert.match(document.openapi, /^3\.1/);
  assert.ok(document.paths['/identity/v1/verification']);
  const sb = await glair.Sandbox.start({ synthetic: 0 });
  try {
    const served = await (await fetch(`${sb.url}/openapi.json`)).json();
    assert.deepEqual(served, document);
  } finally {
    await sb.stop();
  }
});
