'use strict';

// Property tests (fast-check): whatever a caller passes, verification,
// verificationBatch and maskNik either succeed or throw one of the package's
// typed errors (never a TypeError, a JSON error or a crash), and input that is
// invalid is never sent. Bounded runs, so the suite stays fast.

const test = require('node:test');
const assert = require('node:assert/strict');
const fc = require('fast-check');
const { glair, FIXTURE_SITI, sandboxFor } = require('./helpers');

const { GlairVisionError, ValidationError, FIELDS } = glair;

const RUNS = 200;
const HUGE = 'X'.repeat(1 << 20);

/** Text that holds at least one lone UTF-16 surrogate. */
const illFormed = fc
  .tuple(
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
    fc.string({ unit: 'binary', maxLength: 8 }),
  )
  .map(([a, s, b]) => {
    // A lone half stays lone only if its neighbours do not pair with it.
    const text = a.replace(/[\uD800-\uDFFF]/gu, '') + s + b.replace(/[\uD800-\uDFFF]/gu, '');
    return /[\uD800-\uDFFF]/u.test(text) ? text : `${text}\uD800`;
  });

/** Anything a JS caller might hand over. */
const anything = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  illFormed,
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.date({ noInvalidDate: false }),
  fc.bigInt(),
  fc.func(fc.string()),
  fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 5 }), illFormed), { maxLength: 3 }),
  fc.object({ maxDepth: 2, maxKeys: 3 }),
  fc.constant(HUGE),
  fc.constant(Symbol('x')),
);

/** A value no field accepts (null and undefined mean "unset", so they are not here). */
const invalidValue = fc.oneof(
  illFormed,
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.bigInt(),
  fc.func(fc.string()),
  fc.array(anything, { maxLength: 3 }),
  fc.object({ maxDepth: 2, maxKeys: 3 }),
  fc.constant(HUGE),
  fc.constant(Symbol('x')),
);

/** A record: the fixture with any fields changed, removed or added. */
const anyRecord = fc.oneof(
  fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ unit: 'binary', maxLength: 12 })), anything, {
    maxKeys: 5,
  }),
  fc
    .dictionary(fc.constantFrom(...FIELDS), anything, { maxKeys: 3 })
    .map((changes) => ({ ...FIXTURE_SITI, ...changes })),
  anything,
);

/** A record with one field that cannot be valid. */
const invalidRecord = fc.oneof(
  fc.tuple(fc.constantFrom(...FIELDS), invalidValue).map(([field, value]) => ({ ...FIXTURE_SITI, [field]: value })),
  fc.tuple(illFormed, fc.string()).map(([key, value]) => ({ ...FIXTURE_SITI, [key]: value })),
  fc.constantFrom(null, undefined, 'nik', 42, [FIXTURE_SITI], new Date(0)),
  fc.constant({ ...FIXTURE_SITI, nik: null }),
);

/** Per-call options, mostly of the right names. Never a base URL: nothing leaves 127.0.0.1. */
const anyOptions = fc.oneof(
  fc.constant(undefined),
  fc.dictionary(
    fc.constantFrom('timeoutMs', 'timeout', 'maxRetries', 'retries', 'apiVersion', 'concurrency', 'rateLimit', 'nope'),
    anything,
    { maxKeys: 3 },
  ),
  anything,
);

function isTyped(err) {
  return err instanceof GlairVisionError;
}

async function outcomeOf(promiseFn) {
  try {
    return { value: await promiseFn() };
  } catch (err) {
    return { err };
  }
}

test('verification: any input resolves or throws a typed error', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision({ maxRetries: 0 });
  await fc.assert(
    fc.asyncProperty(anyRecord, anyOptions, async (record, options) => {
      const { err, value } = await outcomeOf(() => vision.identity.verification(record, options));
      if (err) assert.ok(isTyped(err), `${err && err.name}: ${err && err.message}`);
      else assert.equal(typeof value.verification_status, 'boolean');
    }),
    { numRuns: RUNS },
  );
});

test('verification: invalid input is a ValidationError and is never sent', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision({ maxRetries: 0 });
  await fc.assert(
    fc.asyncProperty(invalidRecord, async (record) => {
      const { err } = await outcomeOf(() => vision.identity.verification(record));
      assert.ok(err instanceof ValidationError, `${err && err.name}: ${err && err.message}`);
      assert.ok(typeof err.field === 'string' && err.field.length > 0);
      assert.equal((await sb.requests()).length, 0, 'nothing reached the sandbox');
    }),
    { numRuns: RUNS },
  );
});

test('verificationBatch: any records settle one by one with typed errors', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision({ maxRetries: 0 });
  await fc.assert(
    fc.asyncProperty(fc.array(anyRecord, { maxLength: 6 }), anyOptions, async (records, options) => {
      const { err, value } = await outcomeOf(() => vision.identity.verificationBatch(records, options));
      if (err) {
        assert.ok(isTyped(err), `${err && err.name}: ${err && err.message}`);
        return;
      }
      assert.equal(value.length, records.length);
      for (const o of value) {
        if (o.status === 'rejected') assert.ok(isTyped(o.reason), `${o.reason && o.reason.name}: ${o.reason}`);
        else assert.equal(o.status, 'fulfilled');
      }
    }),
    { numRuns: RUNS },
  );
});

test('verificationBatch: invalid records are rejected in place and never sent', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision({ maxRetries: 0 });
  await fc.assert(
    fc.asyncProperty(fc.array(invalidRecord, { minLength: 1, maxLength: 8 }), async (records) => {
      const outcomes = await vision.identity.verificationBatch(records);
      assert.equal(outcomes.length, records.length);
      for (const o of outcomes) {
        assert.equal(o.status, 'rejected');
        assert.ok(o.reason instanceof ValidationError, `${o.reason && o.reason.name}: ${o.reason}`);
      }
      assert.equal((await sb.requests()).length, 0, 'nothing reached the sandbox');
    }),
    { numRuns: RUNS },
  );
  // Not an iterable of records at all.
  await fc.assert(
    fc.asyncProperty(
      anything.filter((v) => v == null || typeof v === 'string' || typeof v[Symbol.iterator] !== 'function'),
      async (records) => {
        const { err } = await outcomeOf(() => vision.identity.verificationBatch(records));
        assert.ok(err instanceof ValidationError, `${err && err.name}: ${err && err.message}`);
        assert.equal(err.field, 'records');
      },
    ),
    { numRuns: RUNS },
  );
  assert.equal((await sb.requests()).length, 0);
});

test('maskNik: any string gives a mask that hides the birth date; anything else a ValidationError', async () => {
  fc.assert(
    fc.property(anything, (value) => {
      let out;
      try {
        out = glair.maskNik(value);
      } catch (err) {
        assert.ok(err instanceof ValidationError, `${err && err.name}: ${err && err.message}`);
        assert.notEqual(typeof value, 'string');
        assert.equal(err.field, 'nik');
        return;
      }
      assert.equal(typeof value, 'string');
      assert.equal(typeof out, 'string');
      assert.ok([...out].length <= 16);
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9]{16}$/), (nik) => {
      const masked = glair.maskNik(nik);
      assert.equal(masked, `${nik.slice(0, 6)}******${nik.slice(12)}`);
    }),
    { numRuns: RUNS },
  );
});
