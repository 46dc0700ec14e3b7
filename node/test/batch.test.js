'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  glair,
  FIXTURE_SITI,
  FIXTURE_BUDI,
  FAULT,
  sandboxFor,
  sentFields,
  hold,
  release,
  sandboxStats,
  waitUntil,
} = require('./helpers');

function mixedRecords(people) {
  const records = [];
  for (let i = 0; i < 60; i++) {
    const p = people[i % people.length];
    switch (i % 6) {
      case 0:
        records.push({ nik: p.nik, name: p.name, date_of_birth: p.date_of_birth });
        break;
      case 1:
        records.push({ nik: p.nik, name: 'NAMA YANG SALAH SEKALI' });
        break;
      case 2:
        records.push({ nik: FAULT.s503 });
        break;
      case 3:
        records.push({ nik: '12' });
        break;
      case 4:
        records.push({ nik: 42 });
        break;
      default:
        records.push({ nik: FAULT.s400 });
    }
  }
  return records;
}

function checkOutcome(record, outcome, i) {
  const kind = i % 6;
  if (kind === 0) {
    assert.equal(outcome.status, 'fulfilled', `#${i}: ${outcome.reason}`);
    assert.equal(outcome.value.verification_status, true);
  } else if (kind === 1) {
    assert.equal(outcome.status, 'fulfilled', `#${i}: ${outcome.reason}`);
    assert.equal(outcome.value.verification_status, false);
    assert.equal(outcome.value.result.name, false);
  } else if (kind === 2) {
    assert.equal(outcome.status, 'rejected');
    assert.ok(outcome.reason instanceof glair.ServiceUnavailableError);
    assert.equal(outcome.reason.status, 503);
  } else if (kind === 3 || kind === 4) {
    assert.equal(outcome.status, 'rejected');
    assert.ok(outcome.reason instanceof glair.ValidationError, `#${i}: ${outcome.reason}`);
    assert.equal(outcome.reason.field, 'nik');
  } else {
    assert.equal(outcome.status, 'rejected');
    assert.ok(outcome.reason instanceof glair.BadRequestError);
  }
}

test('verificationBatch: settled outcomes in input order, mixed failures', async (t) => {
  const sb = await sandboxFor(t);
  const people = (await sb.records()).filter((r) => r.name && r.date_of_birth && !r.nik.startsWith('317101100190'));
  assert.ok(people.length >= 5);
  const records = mixedRecords(people);
  const vision = sb.vision();
  const outcomes = await vision.identity.verificationBatch(records, { concurrency: 8, maxRetries: 0 });
  assert.equal(outcomes.length, records.length);
  outcomes.forEach((o, i) => checkOutcome(records[i], o, i));
  // Validation failures were never sent: 4 of every 6 records reached the sandbox.
  assert.equal((await sb.requests()).length, 40);
  // Each verified record got the answer for its own NIK.
  const log = await sb.requests();
  const byRequestId = new Map(log.map((r) => [r.request_id, sentFields(r).nik]));
  outcomes.forEach((o, i) => {
    if (o.status === 'fulfilled') assert.equal(byRequestId.get(o.value.requestId), records[i].nik);
  });
});

test('verificationBatch matches single calls', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision({ maxRetries: 0 });
  const records = [FIXTURE_SITI, FIXTURE_BUDI, { ...FIXTURE_BUDI, date_of_birth: '24-05-1985' }, { nik: FAULT.s404 }];
  const outcomes = await vision.identity.verificationBatch(records, { concurrency: 2, rateLimit: 1000 });
  for (let i = 0; i < records.length; i++) {
    let single;
    try {
      single = { status: 'fulfilled', value: await vision.identity.verification(records[i]) };
    } catch (e) {
      single = { status: 'rejected', reason: e };
    }
    assert.equal(outcomes[i].status, single.status);
    if (single.status === 'fulfilled') {
      assert.equal(outcomes[i].value.reason, single.value.reason);
      assert.deepEqual(outcomes[i].value.result, single.value.result);
    } else {
      assert.equal(outcomes[i].reason.constructor, single.reason.constructor);
      assert.equal(outcomes[i].reason.status, single.reason.status);
    }
  }
});

test('verificationBatch: empty input, iterables, bad options', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  assert.deepEqual(await vision.identity.verificationBatch([]), []);
  const set = new Set([FIXTURE_SITI, FIXTURE_BUDI]);
  const outcomes = await vision.identity.verificationBatch(set.values());
  assert.equal(outcomes.length, 2);
  assert.ok(outcomes.every((o) => o.status === 'fulfilled'));
  await assert.rejects(vision.identity.verificationBatch([FIXTURE_SITI], { concurrency: 0 }), glair.ConfigurationError);
});

test('verificationStream: every index exactly once, typed errors', async (t) => {
  const sb = await sandboxFor(t);
  const people = (await sb.records()).filter((r) => r.name && r.date_of_birth && !r.nik.startsWith('317101100190'));
  const records = mixedRecords(people);
  records[7] = { nik: FIXTURE_SITI.nik, date_of_birth: new Date('invalid') };
  const vision = sb.vision();
  const seen = new Map();
  for await (const item of vision.identity.verificationStream(records, { concurrency: 8, maxRetries: 0 })) {
    assert.equal(typeof item.index, 'number');
    assert.ok(!seen.has(item.index), `index ${item.index} yielded twice`);
    assert.ok(('value' in item) !== ('error' in item));
    seen.set(item.index, item);
  }
  assert.equal(seen.size, records.length);
  for (let i = 0; i < records.length; i++) {
    const item = seen.get(i);
    if (i === 7) {
      assert.ok(item.error instanceof glair.ValidationError);
      assert.equal(item.error.field, 'date_of_birth');
      continue;
    }
    const outcome = item.error ? { status: 'rejected', reason: item.error } : { status: 'fulfilled', value: item.value };
    checkOutcome(records[i], outcome, i);
  }
});

test('verificationStream reads an async iterable lazily and stops on break', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  // After 20 answers the sandbox holds the rest: what is in flight at the break stays in flight.
  await hold(sb, { after: 20 });
  let pulled = 0;
  let sourceClosed = false;
  async function* endless() {
    try {
      for (;;) {
        pulled += 1;
        yield { nik: FIXTURE_SITI.nik, name: FIXTURE_SITI.name };
      }
    } finally {
      sourceClosed = true;
    }
  }
  let got = 0;
  for await (const item of vision.identity.verificationStream(endless(), { concurrency: 4 })) {
    assert.ok(item.value, item.error && item.error.message);
    got += 1;
    if (got === 20) break;
  }
  assert.equal(got, 20);
  const pulledAtBreak = pulled;
  assert.ok(pulled < 5000, `the input was read lazily (pulled ${pulled})`);
  // Closed, the input can yield nothing more.
  await waitUntil('the input closed', () => sourceClosed);
  assert.equal(pulled, pulledAtBreak, 'nothing is read after the loop stopped');
  await release(sb);
  await waitUntil('the sandbox idle', async () => (await sandboxStats(sb)).in_flight === 0);
  const sent = (await sb.requests()).length;
  assert.ok(sent >= 20 && sent <= pulled, `${sent} sent for ${pulled} read: nothing is sent after the loop stopped`);
});

test('verificationStream: an error in the input iterable is raised', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  async function* broken() {
    yield FIXTURE_SITI;
    throw new Error('input broke');
  }
  const items = [];
  await assert.rejects(async () => {
    for await (const item of vision.identity.verificationStream(broken())) items.push(item);
  }, /input broke/);
  assert.equal(items.length, 1);
});

test('records that are not a list are a ValidationError', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  for (const bad of [null, undefined, 42, 'nik', { nik: FIXTURE_SITI.nik }]) {
    await assert.rejects(vision.identity.verificationBatch(bad), glair.ValidationError);
    assert.throws(() => vision.identity.verificationStream(bad), glair.ValidationError);
  }
  assert.equal((await sb.requests()).length, 0);
});

test('a batch larger than one slice keeps every record in its place', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  const n = 9000; // more than two 4096-record slices
  const records = Array.from({ length: n }, (_, i) => {
    if (i % 1000 === 999) return { nik: FIXTURE_SITI.nik, date_of_birth: new Date(NaN) };
    if (i % 1000 === 500) return { nik: 'bad' };
    return i % 2 ? { nik: FIXTURE_SITI.nik, name: FIXTURE_SITI.name } : { nik: FIXTURE_BUDI.nik, name: 'SIAPA' };
  });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const outcomes = await vision.identity.verificationBatch(records, { concurrency: 64 }).finally(() => clearInterval(timer));
  assert.equal(outcomes.length, n);
  outcomes.forEach((o, i) => {
    if (i % 1000 === 999) {
      assert.equal(o.reason.field, 'date_of_birth', `#${i}`);
    } else if (i % 1000 === 500) {
      assert.equal(o.reason.field, 'nik', `#${i}`);
    } else {
      assert.equal(o.status, 'fulfilled', `#${i}`);
      assert.equal(o.value.verification_status, i % 2 === 1, `#${i}`);
    }
  });
  assert.equal((await sb.requests()).length, n - 18);
  assert.ok(ticks > 0);
});
