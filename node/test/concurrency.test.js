'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { glair, sandboxFor, hold, release, sandboxStats, waitUntil } = require('./helpers');

test('200 concurrent verifications never block the event loop', async (t) => {
  // Every answer is held by the sandbox until all 200 calls are in flight and a
  // timer has fired 20 times meanwhile (a blocking call would starve it; the
  // hold's 60 s bound then fails the test instead of hanging it).
  const sb = await sandboxFor(t);
  const people = (await sb.records()).filter((r) => r.name && !r.nik.startsWith('317101100190'));
  const vision = sb.vision();
  await hold(sb);
  let settled = 0;
  const all = Promise.all(
    Array.from({ length: 200 }, (_, i) => {
      const p = people[i % people.length];
      return vision.identity.verification({ nik: p.nik, name: p.name }).finally(() => {
        settled += 1;
      });
    }),
  );
  let ticks = 0;
  try {
    await waitUntil('200 calls held by the sandbox', async () => (await sandboxStats(sb)).held === 200);
    while (ticks < 20) {
      await new Promise((r) => setTimeout(r, 5));
      ticks += 1;
    }
    assert.equal(settled, 0, 'every call still in flight while the timer fired');
  } finally {
    await release(sb);
  }
  const results = await all;
  assert.equal(results.length, 200);
  assert.ok(results.every((r) => r.verification_status === true));
  assert.equal(new Set(results.map((r) => r.requestId)).size, 200);
  assert.equal(ticks, 20);
  assert.equal((await sb.requests()).length, 200);
});

test('a pending call does not block synchronous work', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  // The answer waits until released (or 60 s: were the loop blocked by the
  // call, nothing could run to release it, and the test fails then).
  await hold(sb);
  let resolved = false;
  const p = vision.identity.verification({ nik: '3171014508900001' }).then((r) => {
    resolved = true;
    return r;
  });
  assert.equal(resolved, false, 'verification returns a pending promise at once');
  await waitUntil('the call held by the sandbox', async () => (await sandboxStats(sb)).held === 1);
  assert.equal(resolved, false, 'still pending while its answer is held');
  await release(sb);
  const r = await p;
  assert.equal(r.result.nik, true);
  assert.ok(glair);
});
