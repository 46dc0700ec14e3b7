'use strict';

// Runs every case of tests/conformance/*.json (the vectors the Rust and Python
// suites run too) against a sandbox, through the public Node API.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { glair, REPO_ROOT, sentFields } = require('./helpers');

const DIR = process.env.GLAIR_CONFORMANCE_DIR || path.join(REPO_ROOT, 'tests', 'conformance');
const files = fs.existsSync(DIR)
  ? fs
      .readdirSync(DIR)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];

const OPTION_NAMES = {
  max_retries: 'maxRetries',
  timeout_ms: 'timeoutMs',
  api_key: 'apiKey',
  username: 'username',
  password: 'password',
  base_url: 'baseUrl',
  api_version: 'apiVersion',
};

const SANDBOX_NAMES = {
  records: 'records',
  slow_delay_ms: 'slowDelayMs',
  match_threshold: 'matchThreshold',
  latency_ms: 'latencyMs',
  failure_rate: 'failureRate',
  synthetic: 'synthetic',
  seed: 'seed',
  api_key: 'apiKey',
  username: 'username',
  password: 'password',
};

function rename(obj, names, what) {
  const out = {};
  for (const [k, v] of Object.entries(obj || {})) {
    assert.ok(k in names, `unknown ${what} key in a conformance vector: ${k}`);
    out[names[k]] = v;
  }
  return out;
}

test('conformance vectors exist', () => {
  assert.ok(files.length > 0, `no conformance vectors in ${DIR}`);
  let cases = 0;
  for (const f of files) cases += JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')).cases.length;
  assert.ok(cases > 0, 'the conformance vectors hold no case');
});

for (const file of files) {
  const spec = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'));
  test(`conformance: ${file}`, async (t) => {
    const sb = await glair.Sandbox.start(rename(spec.sandbox, SANDBOX_NAMES, 'sandbox'));
    t.after(() => sb.stop());
    const vision = sb.vision();
    // Cases run in order against one sandbox (some faults keep per-NIK state).
    for (const c of spec.cases) {
      await t.test(c.name, async () => {
        const before = (await sb.requests()).length;
        const overrides = c.options ? rename(c.options, OPTION_NAMES, 'options') : undefined;
        let value;
        let error;
        try {
          value = await vision.identity.verification(c.request, overrides);
        } catch (e) {
          error = e;
        }
        const exp = c.expect;
        if ('error' in exp) {
          assert.ok(error, `expected a ${exp.error} error, got a result: ${JSON.stringify(value)}`);
          assert.ok(error instanceof glair.GlairVisionError, `not a GlairVisionError: ${error}`);
          assert.equal(error.code, exp.error, `wrong kind: ${error.name}: ${error.message}`);
          if ('status' in exp) assert.equal(error.status, exp.status);
          if ('reason' in exp) assert.equal(error.reason, exp.reason);
          if ('field' in exp) assert.equal(error.field, exp.field);
          if ('retry_after' in exp) assert.equal(error.retryAfter, exp.retry_after);
          if (error.status != null) {
            assert.ok(error instanceof glair.APIError);
            assert.equal(typeof error.requestId, 'string', 'API errors carry the Request-Id');
            assert.ok(error.requestId.length > 0);
          }
        } else {
          assert.ifError(error);
          if ('verification_status' in exp) assert.equal(value.verification_status, exp.verification_status);
          if ('reason' in exp) assert.equal(value.reason, exp.reason);
          if ('result' in exp) {
            const expected = Object.fromEntries(glair.FIELDS.map((f) => [f, exp.result[f] ?? null]));
            assert.deepEqual(value.result, expected);
          }
          assert.equal(typeof value.requestId, 'string', 'results carry the Request-Id');
        }
        if (c.sent) {
          const log = await sb.requests();
          if ('attempts' in c.sent) assert.equal(log.length - before, c.sent.attempts, 'HTTP requests received');
          if ('fields' in c.sent) {
            assert.ok(log.length > before, 'nothing reached the sandbox');
            assert.deepEqual(sentFields(log[log.length - 1]), c.sent.fields);
          }
        }
      });
    }
  });
}
