'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const PKG = path.resolve(__dirname, '..');
const NAMES = [
  'Vision',
  'Sandbox',
  'FIELDS',
  'maskNik',
  'GlairVisionError',
  'ValidationError',
  'ConfigurationError',
  'APIError',
  'BadRequestError',
  'AuthenticationError',
  'PermissionDeniedError',
  'NotFoundError',
  'RateLimitError',
  'ServiceUnavailableError',
  'ServerError',
  'DecodeError',
  'APIConnectionError',
  'APITimeoutError',
  'InternalError',
];

test('CommonJS require by package name', () => {
  const out = execFileSync(
    process.execPath,
    ['-e', `const g = require('glair-vision'); console.log(JSON.stringify(${JSON.stringify(NAMES)}.filter((n) => !g[n])));`],
    { cwd: PKG, encoding: 'utf8' },
  );
  assert.deepEqual(JSON.parse(out), []);
});

test('ESM import by package name shares the CommonJS classes', () => {
  const script = `
    import { createRequire } from 'node:module';
    import * as esm from 'glair-vision';
    import glair, { Vision, ValidationError } from 'glair-vision';
    const cjs = createRequire(import.meta.url)('glair-vision');
    const missing = ${JSON.stringify(NAMES)}.filter((n) => !esm[n]);
    const same = esm.Vision === cjs.Vision && Vision === cjs.Vision && glair.Vision === Vision && ValidationError === cjs.ValidationError;
    console.log(JSON.stringify({ missing, same }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: PKG, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), { missing: [], same: true });
});

test('an ESM program verifies against the sandbox', () => {
  const script = `
    import { Sandbox, ValidationError } from 'glair-vision';
    const sb = await Sandbox.start({ synthetic: 0 });
    const vision = sb.vision();
    const r = await vision.identity.verification({ nik: '3273012305850002', name: 'BUDI SANTOSO' });
    let e;
    try { await vision.identity.verification({ nik: 42 }); } catch (err) { e = err; }
    await sb.stop();
    console.log(JSON.stringify({ status: r.verification_status, validation: e instanceof ValidationError }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: PKG, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), { status: true, validation: true });
});
