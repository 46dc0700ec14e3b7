'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { glair, sandboxFor } = require('./helpers');

test('200 concurrent verifications never block the event loop', async (t) => {
  // Every answer takes 300 ms, so the run lasts at least that long; a timer
  // every 5 ms must keep firing throughout (a blocking call would starve it).
  const sb = await sandboxFor(t, { latencyMs: 300 });
  const people = (await sb.records()).filter((r) => r.name && !r.nik.startsWith('317101100190'));
  const vision = sb.vision();
  let ticks = 0;
  const timer = setInterval(() => {
    ticks += 1;
  }, 5);
  let results;
  try {
    results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const p = people[i % people.length];
        return vision.identity.verification({ nik: p.nik, name: p.name });
      }),
    );
  } finally {
    clearInterval(timer);
  }
  assert.equal(results.length, 200);
  assert.ok(results.every((r) => r.verification_status === true));
  assert.equal(new Set(results.map((r) => r.requestId)).size, 200);
  assert.ok(ticks >= 20, `the timer fired only ${ticks} times during the run`);
  assert.equal((await sb.requests()).length, 200);
});

test('a pending call does not block synchronous work', async (t) => {
  const sb = await sandboxFor(t, { latencyMs: 200 });
  const vision = sb.vision();
  let resolved = false;
  const p = vision.identity.verification({ nik: '3171014508900001' }).then((r) => {
    resolved = true;
    return r;
  });
  assert.equal(resolved, false, 'verification returns a pending promise at once');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(resolved, false);
  const r = await p;
  assert.equal(r.result.nik, true);
  assert.ok(glair);
});
