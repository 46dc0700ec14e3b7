'use strict';

// GLAIR's own SDK README example (Identity > Basic Verification), run as a new
// user would, with only the import changed from "@glair/vision" to "glair-vision".

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { sandboxFor } = require('./helpers');

const PKG = path.resolve(__dirname, '..');

const EXAMPLE = (nik, name, dob) => `import { Vision } from "glair-vision";

const vision = new Vision({
  apiKey: "api-key",
  username: "username",
  password: "password",
});

const resp = await vision.identity
  .verification({
    nik: "${nik}",
    name: "${name}",
    date_of_birth: "${dob}",
  })
  .catch((err) => console.error(err));
console.log(resp);
`;

async function runExample(t, source, env) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glair-readme-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // Install the package the way npm links a local dependency.
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(PKG, path.join(dir, 'node_modules', 'glair-vision'), 'dir');
  const file = path.join(dir, 'example.mjs');
  fs.writeFileSync(file, source);
  const childEnv = { ...process.env, ...env };
  delete childEnv.GLAIR_LOG;
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [file], { cwd: dir, env: childEnv });
  return { stdout, stderr };
}

test('README example, verbatim: the invalid sample NIK is caught before sending', async (t) => {
  const sb = await sandboxFor(t, { apiKey: 'api-key', username: 'username', password: 'password' });
  const { stdout, stderr } = await runExample(t, EXAMPLE('1234567890123456', 'John Doe', '01-01-2000'), {
    GLAIR_BASE_URL: sb.url,
  });
  assert.match(stderr, /ValidationError/);
  assert.match(stderr, /nik/);
  assert.ok(!stderr.includes('1234567890123456'), 'the NIK is not printed');
  assert.equal(stdout.trim(), 'undefined');
  assert.equal((await sb.requests()).length, 0, 'nothing was sent');
});

test('README example against the sandbox with a fixture person', async (t) => {
  const sb = await sandboxFor(t, { apiKey: 'api-key', username: 'username', password: 'password' });
  const { stdout, stderr } = await runExample(t, EXAMPLE('3171014508900001', 'SITI RAHAYU', '05-08-1990'), {
    GLAIR_BASE_URL: sb.url,
  });
  assert.equal(stderr, '');
  assert.match(stdout, /verification_status: true/);
  assert.match(stdout, /Verification Success/);
  const [req] = await sb.requests();
  assert.deepEqual(req.fields.map(([k]) => k), ['nik', 'name', 'date_of_birth']);
});
