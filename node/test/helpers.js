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

module.exports = { glair, FIXTURE_SITI, FIXTURE_BUDI, FAULT, REPO_ROOT, sandboxFor, sentFields };
