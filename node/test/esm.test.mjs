// The suite itself, as an ES module: import by package name (self-reference).
import test from 'node:test';
import assert from 'node:assert/strict';
import { Vision, Sandbox, APIError, ServiceUnavailableError, GlairVisionError } from 'glair-vision';

test('ESM: Sandbox, Vision and error classes', async (t) => {
  const sb = await Sandbox.start({ synthetic: 0 });
  t.after(() => sb.stop());
  const vision = sb.vision({ maxRetries: 0 });
  assert.ok(vision instanceof Vision);
  const r = await vision.identity.verification({ nik: '3171014508900001', name: 'SITI RAHAYU' });
  assert.equal(r.verification_status, true);
  await assert.rejects(vision.identity.verification({ nik: '3171011001909503' }), (e) => {
    return e instanceof ServiceUnavailableError && e instanceof APIError && e instanceof GlairVisionError && e.status === 503;
  });
});
