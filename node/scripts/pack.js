#!/usr/bin/env node
'use strict';

// Packs the npm packages of a release (used by scripts/dist.sh):
//
//   node scripts/pack.js --out DIR [--main] [--addon KEY=FILE.node ...]
//
// --main      the main package `glair-vision`: the JS layer, the types and the
//             loader, with every platform package as an optionalDependency at
//             this version (npm installs only the one whose os/cpu/libc match);
//             no .node, no build script, nothing that compiles or downloads.
// --addon     a platform package `glair-vision-<KEY>` holding that one .node,
//             with `os`, `cpu` and `libc` set.
//
// Each package is staged in a fresh temporary folder from node/package.json
// (the version comes from there; scripts/version.py keeps it equal to Cargo's)
// and `npm pack`ed into DIR.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const PLATFORMS = require('./platforms');

const PKG = path.resolve(__dirname, '..');
const STAGE_ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'glair-vision-pack-'));
const source = JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8'));

function parseArgs(argv) {
  const opts = { out: null, main: false, addons: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') opts.out = path.resolve(argv[++i]);
    else if (a === '--main') opts.main = true;
    else if (a === '--addon') {
      const [key, file] = argv[++i].split('=');
      const platform = PLATFORMS.find((p) => p.key === key);
      if (!platform || !file) throw new Error(`--addon KEY=FILE, KEY one of ${PLATFORMS.map((p) => p.key).join(', ')}`);
      opts.addons.push({ platform, file: path.resolve(file) });
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!opts.out) throw new Error('--out DIR is required');
  return opts;
}

// What every package says about itself.
function common() {
  return {
    version: source.version,
    license: source.license,
    repository: source.repository,
    engines: source.engines,
  };
}

function stage(name, files, pkgJson) {
  const dir = path.join(STAGE_ROOT, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [from, to] of files) {
    fs.mkdirSync(path.dirname(path.join(dir, to)), { recursive: true });
    fs.copyFileSync(from, path.join(dir, to));
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkgJson, null, 2) + '\n');
  return dir;
}

function npmPack(dir, out) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['pack', '--ignore-scripts', '--pack-destination', out], {
    cwd: dir,
    encoding: 'utf8',
    shell: process.platform === 'win32',
  });
  if (r.status !== 0) throw new Error(`npm pack in ${dir} failed:\n${r.stdout}\n${r.stderr}`);
  const tarball = r.stdout.trim().split('\n').pop();
  console.log(`packed ${path.join(out, tarball)}`);
}

function mainPackage() {
  const files = [
    ['index.js', 'index.js'],
    ['index.mjs', 'index.mjs'],
    ['index.d.ts', 'index.d.ts'],
    ['README.md', 'README.md'],
  ];
  for (const f of fs.readdirSync(path.join(PKG, 'lib')).filter((f) => f.endsWith('.js'))) {
    files.push([`lib/${f}`, `lib/${f}`]);
  }
  const pkgJson = {
    name: source.name,
    ...common(),
    description: source.description,
    keywords: source.keywords,
    main: source.main,
    module: source.module,
    types: source.types,
    exports: source.exports,
    files: ['index.js', 'index.mjs', 'index.d.ts', 'lib/', 'README.md'],
    optionalDependencies: Object.fromEntries(PLATFORMS.map((p) => [`${source.name}-${p.key}`, source.version])),
  };
  return stage(
    source.name,
    files.map(([from, to]) => [path.join(PKG, from), to]),
    pkgJson,
  );
}

function platformPackage({ platform, file }) {
  if (!fs.existsSync(file)) throw new Error(`addon ${file} does not exist`);
  const name = `${source.name}-${platform.key}`;
  const nodeFile = `glair-vision.${platform.key}.node`;
  const pkgJson = {
    name,
    ...common(),
    description: `The ${platform.triple} native addon of glair-vision (installed by glair-vision; not used directly)`,
    main: nodeFile,
    files: [nodeFile, 'README.md'],
    os: [platform.os],
    cpu: [platform.cpu],
    ...(platform.libc ? { libc: [platform.libc] } : {}),
  };
  const dir = stage(name, [[file, nodeFile]], pkgJson);
  fs.writeFileSync(
    path.join(dir, 'README.md'),
    `# ${name}\n\nThe \`${platform.triple}\` native addon of [glair-vision](https://www.npmjs.com/package/glair-vision). ` +
      'Install `glair-vision`, which depends on this package on that platform.\n',
  );
  return dir;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(opts.out, { recursive: true });
  try {
    for (const addon of opts.addons) npmPack(platformPackage(addon), opts.out);
    if (opts.main) npmPack(mainPackage(), opts.out);
  } finally {
    fs.rmSync(STAGE_ROOT, { recursive: true, force: true });
  }
}

main();
