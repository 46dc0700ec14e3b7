'use strict';

// Runs the README's Node example, as CommonJS and as ESM, against the sandbox,
// with glair-vision resolved from the npm project this file is copied into
// (tests/install/run.sh makes a fresh one from the tarballs in dist/).
//
//   node readme_node.js README.md EXPECTED_VERSION

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const [readmePath, expectedVersion] = process.argv.slice(2);

async function main() {
  const t0 = process.hrtime.bigint();
  const glair = require('glair-vision');
  const requireMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const resolved = require.resolve('glair-vision');
  assert.ok(resolved.startsWith(path.join(__dirname, 'node_modules')), `resolved ${resolved}`);
  assert.equal(glair.version, expectedVersion);

  const text = fs.readFileSync(readmePath, 'utf8');
  const section = text.split('\n## Node\n')[1].split('\n## ')[0];
  const example = /```js\n([\s\S]*?)```/.exec(section)[1];
  const requireLine = "const { Vision } = require('glair-vision');";
  assert.ok(example.includes(requireLine), 'the README example requires glair-vision');

  // The README example's credentials, accepted by this sandbox.
  const sb = await glair.Sandbox.start({ apiKey: 'api-key', username: 'username', password: 'password' });
  try {
    const cjs = path.join(__dirname, 'example.cjs');
    fs.writeFileSync(cjs, `(async () => {\n${example}\n})().catch((e) => { console.error(e); process.exit(1); });\n`);
    const esm = path.join(__dirname, 'example.mjs');
    fs.writeFileSync(esm, example.replace(requireLine, "import { Vision } from 'glair-vision';"));
    for (const file of [cjs, esm]) {
      const env = { ...process.env, GLAIR_BASE_URL: sb.url };
      const t1 = process.hrtime.bigint();
      const out = execFileSync(process.execPath, [file], { cwd: __dirname, env, encoding: 'utf8' }).trim();
      const ms = Number(process.hrtime.bigint() - t1) / 1e6;
      assert.match(out, /^true Verification Success true sbx-\S+$/, `${path.basename(file)} printed ${out}`);
      console.log(`node: README example as ${path.extname(file) === '.cjs' ? 'CommonJS' : 'ESM'} passed (${ms.toFixed(0)} ms for the whole process)`);
    }
    assert.equal((await sb.requests()).length, 2);
  } finally {
    await sb.stop();
  }
  console.log(`node: glair-vision ${glair.version} from ${path.dirname(resolved)}; require ${requireMs.toFixed(0)} ms`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
