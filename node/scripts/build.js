#!/usr/bin/env node
'use strict';

// Builds the native addon (release) for this machine with the napi CLI, for
// the repository's own tests: `napi build` compiles ../bindings/node and writes
// glair-vision.<platform>.node (which lib/native.js finds before any installed
// platform package) and native.d.ts here. Used by `npm run build` and by
// `prepare` (`npm ci` in this directory). Release packages are built by
// scripts/dist.sh instead: installing those never compiles anything. When the
// CLI (a dev dependency) is not installed, it installs the dev dependencies
// first. `--if-missing` skips the build when an addon is present.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const PKG = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const ifMissing = args.includes('--if-missing');
const debug = args.includes('--debug');

function run(cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, { cwd: PKG, stdio: 'inherit', shell: false });
  if (r.error) throw r.error;
  if (r.status !== 0) process.exit(r.status || 1);
}

if (ifMissing && fs.readdirSync(PKG).some((f) => /^glair-vision\..+\.node$/.test(f))) {
  process.exit(0);
}

if (!fs.existsSync(path.join(PKG, '..', 'bindings', 'node', 'Cargo.toml'))) {
  console.error('glair-vision: ../bindings/node is missing: build from a clone of the repository');
  process.exit(1);
}
const cargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' });
if (cargo.error || cargo.status !== 0) {
  console.error('glair-vision: building the native addon needs a Rust toolchain (cargo) on PATH: https://rustup.rs');
  process.exit(1);
}

const cliPath = () => {
  const local = path.join(PKG, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js');
  return fs.existsSync(local) ? local : null;
};
let cli = cliPath();
if (!cli) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  run(npm, ['install', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--no-save']);
  cli = cliPath();
  if (!cli) {
    console.error('glair-vision: could not install the napi CLI (@napi-rs/cli)');
    process.exit(1);
  }
}

const buildArgs = [
  cli,
  'build',
  '--platform',
  '--manifest-path',
  '../bindings/node/Cargo.toml',
  '--output-dir',
  '.',
  '--no-js',
  '--dts',
  'native.d.ts',
];
if (!debug) buildArgs.push('--release');
run(process.execPath, buildArgs);
