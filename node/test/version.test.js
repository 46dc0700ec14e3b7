'use strict';

// One version (package.json = Cargo workspace = what the package reports), and
// the loader's error on a platform without a binary.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const PKG = path.resolve(__dirname, '..');
const PLATFORMS = require('../scripts/platforms');

function workspaceVersion() {
  const cargo = fs.readFileSync(path.join(PKG, '..', 'Cargo.toml'), 'utf8');
  const m = /\[workspace\.package\][^[]*?\nversion\s*=\s*"([^"]+)"/.exec(cargo);
  assert.ok(m, 'no [workspace.package] version in Cargo.toml');
  return m[1];
}

test('version is package.json\'s, which is the Cargo workspace version', () => {
  const glair = require('glair-vision');
  assert.equal(glair.version, require('../package.json').version);
  assert.equal(glair.version, workspaceVersion());
});

test('ESM exports the same version', async () => {
  const esm = await import('glair-vision');
  assert.equal(esm.version, workspaceVersion());
});

function requireAs(platform, arch) {
  const script = `
    Object.defineProperty(process, 'platform', { value: ${JSON.stringify(platform)} });
    Object.defineProperty(process, 'arch', { value: ${JSON.stringify(arch)} });
    try { require('glair-vision'); console.log('loaded'); }
    catch (e) { console.log(JSON.stringify({ code: e.code, platform: e.platform, supported: e.supported, message: e.message })); }
  `;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: PKG, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('on a platform without a binary, require fails naming it and the supported list', () => {
  const out = requireAs('linux', 'riscv64');
  assert.notEqual(out, 'loaded');
  const e = JSON.parse(out);
  assert.equal(e.code, 'GLAIR_VISION_UNSUPPORTED_PLATFORM');
  assert.equal(e.platform, 'linux-riscv64-gnu');
  assert.deepEqual(e.supported, PLATFORMS.map((p) => p.key));
  assert.match(e.message, /linux-riscv64-gnu/);
  assert.match(e.message, new RegExp(`Supported platforms: ${PLATFORMS.map((p) => p.key).join(', ')}\\.`));
  assert.match(e.message, /No binary is published for this platform/);
});

test('on a supported platform whose package is missing, the error names the package', () => {
  const e = JSON.parse(requireAs('darwin', 'arm64'));
  assert.equal(e.platform, 'darwin-arm64');
  assert.match(e.message, /glair-vision-darwin-arm64/);
  assert.match(e.message, /--omit=optional/);
});
