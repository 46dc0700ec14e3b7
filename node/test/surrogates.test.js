'use strict';

// Text with a lone UTF-16 surrogate cannot become UTF-8 (the core's strings):
// it must be a ValidationError naming the field, as in Python, never a
// ConfigurationError about JSON, and never reach the API.

const test = require('node:test');
const assert = require('node:assert/strict');
const { glair, FIXTURE_SITI, sandboxFor, sentFields } = require('./helpers');

const { ValidationError, ConfigurationError, FIELDS } = glair;

/** Lone halves: high, low, reversed pair, high at the end. */
const ILL_FORMED = ['A\uD800', '\uDC00A', 'SITI \uDE00\uD83D RAHAYU', 'SITI RAHAYU\uDBFF'];

async function rejection(promise) {
  try {
    const value = await promise;
    assert.fail(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    return err;
  }
}

function checkValidation(e, field, what) {
  assert.ok(e instanceof ValidationError, `${what}: ${e && e.name}: ${e && e.message}`);
  assert.equal(e.code, 'validation');
  assert.equal(e.field, field, `${what}: ${e.message}`);
  assert.match(e.message, /valid Unicode/, what);
  assert.ok(!e.message.includes(FIXTURE_SITI.nik), 'the NIK is not echoed');
}

test('a lone surrogate in any field is a ValidationError naming it; nothing is sent', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  for (const field of FIELDS) {
    for (const bad of ILL_FORMED) {
      const e = await rejection(vision.identity.verification({ ...FIXTURE_SITI, [field]: bad }));
      checkValidation(e, field, `${field} = ${JSON.stringify(bad)}`);
    }
  }
  assert.equal((await sb.requests()).length, 0, 'nothing reached the sandbox');
});

test('a lone surrogate in a key, the record itself or a nested value is a ValidationError', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  let e = await rejection(vision.identity.verification({ ...FIXTURE_SITI, 'na\uD800me': 'SITI' }));
  assert.ok(e instanceof ValidationError, `${e.name}: ${e.message}`);
  assert.equal(e.field, 'na\uFFFDme', 'an unknown key, shown with U+FFFD for the lone half');
  assert.match(e.message, /not a verification field/);

  e = await rejection(vision.identity.verification('A\uD800'));
  assert.ok(e instanceof ValidationError, `${e.name}: ${e.message}`);
  assert.equal(e.field, 'record');

  for (const nested of [['A\uD800'], { first: 'A\uD800' }]) {
    e = await rejection(vision.identity.verification({ ...FIXTURE_SITI, name: nested }));
    assert.ok(e instanceof ValidationError, `${e.name}: ${e.message}`);
    assert.equal(e.field, 'name');
    assert.match(e.message, /must be a string/);
  }
  assert.equal((await sb.requests()).length, 0, 'nothing reached the sandbox');
});

test('a surrogate pair (an emoji) is valid text and is sent as is', async (t) => {
  const sb = await sandboxFor(t);
  const r = await sb.vision().identity.verification({ nik: FIXTURE_SITI.nik, name: 'SITI \u{1F600}' });
  assert.equal(r.result.name, false);
  const log = await sb.requests();
  assert.equal(log.length, 1);
  assert.equal(sentFields(log[0]).name, 'SITI \u{1F600}');
});

test('batch: a lone surrogate rejects only its row, naming the field', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  const records = [];
  for (const field of FIELDS) {
    records.push({ ...FIXTURE_SITI });
    records.push({ ...FIXTURE_SITI, [field]: ILL_FORMED[records.length % ILL_FORMED.length] });
  }
  records.push('A\uD800');
  const outcomes = await vision.identity.verificationBatch(records);
  assert.equal(outcomes.length, records.length);
  FIELDS.forEach((field, i) => {
    const good = outcomes[2 * i];
    assert.equal(good.status, 'fulfilled', `${field}: ${good.reason}`);
    assert.equal(good.value.verification_status, true);
    const bad = outcomes[2 * i + 1];
    assert.equal(bad.status, 'rejected', field);
    checkValidation(bad.reason, field, `batch row ${2 * i + 1}`);
  });
  const last = outcomes[outcomes.length - 1];
  assert.ok(last.reason instanceof ValidationError);
  assert.equal(last.reason.field, 'record');
  assert.equal((await sb.requests()).length, FIELDS.length, 'only the valid rows were sent');

  // The streaming form, from an async source, says the same.
  async function* source() {
    yield { ...FIXTURE_SITI, address: 'JL. \uD800' };
  }
  const items = [];
  for await (const item of vision.identity.verificationStream(source())) items.push(item);
  assert.equal(items.length, 1);
  checkValidation(items[0].error, 'address', 'stream');
  assert.equal((await sb.requests()).length, FIELDS.length);
});

test('a lone surrogate in an option is a ConfigurationError naming it', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  for (const key of ['apiKey', 'username', 'password', 'baseUrl', 'apiVersion']) {
    const e = await rejection(vision.identity.verification(FIXTURE_SITI, { [key]: 'x\uD800' }));
    assert.ok(e instanceof ConfigurationError, `${key}: ${e.name}: ${e.message}`);
    assert.match(e.message, new RegExp(`\`${key}\`.*valid Unicode`), key);
    assert.throws(
      () => sb.vision({ [key]: 'x\uD800' }),
      (err) => err instanceof ConfigurationError && err.message.includes(`\`${key}\``),
      key,
    );
  }
  const e = await rejection(vision.identity.verificationBatch([FIXTURE_SITI], { password: '\uDC00' }));
  assert.ok(e instanceof ConfigurationError, `${e.name}: ${e.message}`);
  assert.equal((await sb.requests()).length, 0, 'nothing reached the sandbox');
});
