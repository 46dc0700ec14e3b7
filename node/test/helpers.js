'use strict';

const path = require('node:path');
const glair = require('..');

const FIXTURE_SITI = Object.freeze({
  nik: '3171014508900001',
  name: 'SITI RAHAYU',
  date_of_birth: '05-08-1990',
  no_kk: '3171010101100001',
  mother_maiden_name: 'AMINAH',
  place_of_birth: 'JAKARTA',
  address: 'JL. MERDEKA NO. 1',
  gender: 'PEREMPUAN',
  marital_status: 'KAWIN',
  job_type: 'KARYAWAN SWASTA',
  province: 'DKI JAKARTA',
  city: 'JAKARTA PUSAT',
  district: 'GAMBIR',
  subdistrict: 'GAMBIR',
  rt: '001',
  rw: '002',
});

const FIXTURE_BUDI = Object.freeze({ nik: '3273012305850002', name: 'BUDI SANTOSO', date_of_birth: '23-05-1985' });

/** Scripted fault NIKs of the sandbox. */
const FAULT = Object.freeze({
  s503: '3171011001909503',
  s429: '3171011001909429',
  s502: '3171011001909502',
  slow: '3171011001909408',
  flaky: '3171011001909001',
  s400: '3171011001909400',
  s401: '3171011001909401',
  s403: '3171011001909403',
  s404: '3171011001909404',
  s500: '3171011001909500',
  s504: '3171011001909504',
  notJson: '3171011001909200',
  noStatus: '3171011001909201',
});

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Starts a sandbox for one test file; stops it when the file's tests end. */
async function sandboxFor(t, options = {}) {
  const sb = await glair.Sandbox.start({ synthetic: 10, ...options });
  if (t && typeof t.after === 'function') t.after(() => sb.stop());
  return sb;
}

/** The wire fields of a received request, as an object. */
function sentFields(req) {
  return Object.fromEntries(req.fields);
}

// ---- waiting for a moment instead of guessing a delay
//
// A test that must act while a call is in flight asks the sandbox to hold the
// answer (POST /_sandbox/hold), waits until the sandbox says it holds it, acts,
// and releases it. `maxMs` bounds the hold, so that a call which wrongly blocked
// the event loop fails the test instead of hanging it.

/** How long a test waits for a condition: a bound on a hang, never the mechanism. */
const PATIENCE_MS = 60000;

async function control(sb, method, path) {
  const res = await fetch(sb.url + path, { method });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status}`);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/** Holds the sandbox's answers after the next `after` (of `nik` only, if given). */
function hold(sb, { after = 0, nik, maxMs = PATIENCE_MS } = {}) {
  const query = `after=${after}&max_ms=${maxMs}` + (nik ? `&nik=${nik}` : '');
  return control(sb, 'POST', `/_sandbox/hold?${query}`);
}

function release(sb) {
  return control(sb, 'POST', '/_sandbox/release');
}

function sandboxStats(sb) {
  return control(sb, 'GET', '/_sandbox/stats');
}

/** Polls `done` (which may be async) until it holds; fails after PATIENCE_MS. */
async function waitUntil(what, done) {
  const deadline = Date.now() + PATIENCE_MS;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${PATIENCE_MS} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Runs `script` in a Node process of its own with `env`; resolves to the JSON it prints. */
function runNodeChild(script, env) {
  const { spawn } = require('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}`))));
  });
}

module.exports = {
  glair,
  runNodeChild,
  FIXTURE_SITI,
  FIXTURE_BUDI,
  FAULT,
  REPO_ROOT,
  sandboxFor,
  sentFields,
  hold,
  release,
  sandboxStats,
  waitUntil,
};
