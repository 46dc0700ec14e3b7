'use strict';

// A panic in native code never ends the Node process: it becomes an
// InternalError for the call (or is logged, for a detached task) and the
// process goes on. Proved in a child process with the test-only trigger
// `_testPanic` (tests/install/panics_node.js, which the install test also runs
// against the release packages), which refuses unless GLAIR_VISION_TEST_PANICS=1.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const glair = require('..');
const errors = require('../lib/errors');

const PKG = path.resolve(__dirname, '..');
const PROBE = path.resolve(PKG, '..', 'tests', 'install', 'panics_node.js');

test('every panic is an InternalError and the process goes on', (t) => {
  // The probe requires `glair-vision` by name: a project that has this package.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glair-vision-panics-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(PKG, path.join(dir, 'node_modules', 'glair-vision'), 'dir');
  fs.copyFileSync(PROBE, path.join(dir, 'panics_node.js'));
  const r = spawnSync(process.execPath, ['panics_node.js'], {
    cwd: dir,
    env: { ...process.env, GLAIR_VISION_TEST_PANICS: '1' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const report = `status ${r.status}, signal ${r.signal}\n${r.stdout}\n${r.stderr.slice(-4000)}`;
  assert.equal(r.signal, null, report);
  assert.equal(r.status, 0, report);
  for (const place of ['sync', 'async', 'stream', 'background']) {
    assert.match(r.stdout, new RegExp(`^ok ${place}: `, 'm'), report);
  }
  assert.match(r.stdout, /^ok verificationBatch concurrency 2 \*\* 62: /m, report);
  assert.match(r.stdout, /^ok verificationStream concurrency 2 \*\* 62: /m, report);
  assert.match(r.stdout, /^ok after: /m, report);
  // The panics did happen (Rust's hook prints each), and none aborted.
  assert.match(r.stderr, /test panic \(sync\)/, report);
  assert.doesNotMatch(r.stderr, /fatal runtime error|aborting/, report);
});

test('the trigger refuses without GLAIR_VISION_TEST_PANICS=1', async (t) => {
  const before = process.env.GLAIR_VISION_TEST_PANICS;
  t.after(() => {
    if (before === undefined) delete process.env.GLAIR_VISION_TEST_PANICS;
    else process.env.GLAIR_VISION_TEST_PANICS = before;
  });
  const refused = (e) =>
    e instanceof glair.ConfigurationError && /test-only trigger.*GLAIR_VISION_TEST_PANICS=1/.test(e.message);
  for (const value of [undefined, '', '0', 'true']) {
    if (value === undefined) delete process.env.GLAIR_VISION_TEST_PANICS;
    else process.env.GLAIR_VISION_TEST_PANICS = value;
    for (const place of ['sync', 'background', 'stream']) {
      assert.throws(() => glair._testPanic(place), refused, `${place} with ${value}`);
    }
    await assert.rejects(glair._testPanic('async'), refused, `async with ${value}`);
  }
  // Not part of the package's enumerable surface.
  assert.ok(!Object.keys(glair).includes('_testPanic'));
});

test('panic errors from the addon map to InternalError', () => {
  // napi-rs' own panic errors (a sync function's catch_unwind, an async one's poll).
  const raw = Object.assign(new Error('a semaphore may not have more than MAX_PERMITS permits'), {
    code: 'GenericFailure',
  });
  const e = errors.fromNative(raw);
  assert.ok(e instanceof glair.InternalError && e instanceof glair.GlairVisionError);
  assert.equal(e.code, 'internal');
  assert.equal(e.detail, 'a semaphore may not have more than MAX_PERMITS permits');
  assert.match(e.message, /^internal error in glair-vision \(a bug: please report it at .*\): a semaphore/);
  // The addon's own payload (a streaming batch's driver that panicked).
  const p = errors.fromNative(
    new Error('GLAIR_VISION_ERROR:{"code":"internal","message":"boom","detail":"boom"}'),
  );
  assert.ok(p instanceof glair.InternalError);
  assert.equal(p.detail, 'boom');
  assert.deepEqual(JSON.parse(JSON.stringify(p)).code, 'internal');
});
