'use strict';

// A panic in glair-vision's native code never ends the process: it reaches the
// caller as InternalError (a GlairVisionError), or is logged when no call waits
// for it, and the process goes on. Panics on purpose through the test-only
// trigger `_testPanic` in every place, checks that options which once panicked
// inside tokio (concurrency 2 ** 62) no longer end the process, then that the
// SDK still verifies against the in-process sandbox. Prints one line per check;
// exits 0 only when all pass.
//
//   GLAIR_VISION_TEST_PANICS=1 node panics_node.js
//
// Run by tests/install/run.sh against the npm packages from dist/ (the addon as
// shipped, linked by zig) and by node/test/panics.test.js against the addon
// under test; `glair-vision` resolves from the directory it runs in.

const assert = require('node:assert/strict');
const glair = require('glair-vision');

const { GlairVisionError, InternalError, Sandbox } = glair;
const SITI = { nik: '3171014508900001', name: 'SITI RAHAYU', date_of_birth: '05-08-1990' };

function checkInternal(place, e) {
  assert.ok(e instanceof InternalError, `${place}: ${e && e.name}: ${e && e.message}`);
  assert.ok(e instanceof GlairVisionError && e instanceof Error);
  assert.equal(e.code, 'internal');
  assert.equal(e.name, 'InternalError');
  assert.match(e.message, new RegExp(`test panic \\(${place}\\)`));
  assert.match(e.message, /internal error in glair-vision \(a bug: please report it at https:\/\/github\.com\//);
  assert.match(e.detail, new RegExp(`test panic \\(${place}\\)`));
  console.log(`ok ${place}: ${e.name}: ${e.message}`);
}

async function main() {
  assert.equal(process.env.GLAIR_VISION_TEST_PANICS, '1', 'run with GLAIR_VISION_TEST_PANICS=1');

  // On this (the main) thread: thrown by the sync call.
  try {
    glair._testPanic('sync');
    assert.fail('sync: no error');
  } catch (e) {
    checkInternal('sync', e);
  }

  // In a future on a runtime worker thread: the promise rejects.
  await glair._testPanic('async').then(
    () => assert.fail('async: no error'),
    (e) => checkInternal('async', e),
  );

  // A streaming batch whose driver (a detached task) panics: the iterator throws.
  try {
    for await (const item of glair._testPanic('stream')) assert.fail(`stream: yielded ${JSON.stringify(item)}`);
    assert.fail('stream: ended without an error');
  } catch (e) {
    checkInternal('stream', e);
  }

  // A detached task with no caller: logged (setLogger's logger gets it).
  const records = [];
  glair.setLogger((r) => records.push(r), { level: 'error' });
  assert.equal(glair._testPanic('background'), undefined);
  const deadline = Date.now() + 10_000;
  while (!records.some((r) => r.message.includes('test panic (background)'))) {
    assert.ok(Date.now() < deadline, `background: not logged; records: ${JSON.stringify(records)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const logged = records.find((r) => r.message.includes('test panic (background)'));
  assert.equal(logged.level, 'error');
  console.log(`ok background: logged: ${logged.target}: ${logged.message}`);
  glair.setLogger(null);

  const sb = await Sandbox.start({ synthetic: 0 });
  try {
    const vision = sb.vision();

    // Once a tokio panic on the main thread that aborted Node (issue 21): now a
    // typed error (the range check), and never the end of the process.
    for (const [name, run] of [
      ['verificationBatch', () => vision.identity.verificationBatch([SITI], { concurrency: 2 ** 62 })],
      [
        'verificationStream',
        async () => {
          for await (const item of vision.identity.verificationStream([SITI], { concurrency: 2 ** 62 })) {
            return item;
          }
        },
      ],
    ]) {
      await run().then(
        (v) => assert.fail(`${name} with concurrency 2 ** 62: no error (${JSON.stringify(v)})`),
        (e) => {
          assert.ok(e instanceof GlairVisionError, `${name}: ${e && e.name}: ${e && e.message}`);
          console.log(`ok ${name} concurrency 2 ** 62: ${e.name}: ${e.message}`);
        },
      );
    }

    // The process goes on: the runtime, its worker threads and the clients work.
    const r = await vision.identity.verification(SITI);
    assert.equal(r.verification_status, true);
    const batch = await vision.identity.verificationBatch(Array(8).fill(SITI), { concurrency: 4 });
    assert.equal(batch.length, 8);
    assert.ok(batch.every((o) => o.status === 'fulfilled' && o.value.verification_status), JSON.stringify(batch));
    let streamed = 0;
    for await (const item of vision.identity.verificationStream(Array(8).fill(SITI), { concurrency: 4 })) {
      assert.equal(item.value.verification_status, true);
      streamed += 1;
    }
    assert.equal(streamed, 8);
    console.log('ok after: verification, batch and streaming batch still work');
  } finally {
    await sb.stop();
  }
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (e) => {
    console.error(e);
    process.exitCode = 1;
  },
);
