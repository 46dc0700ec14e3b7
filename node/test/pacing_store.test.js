'use strict';

// One account's pace across hosts through a pacing store, from Node: processes
// with separate state (as on separate hosts) that share only a real redis-server
// (started here on 127.0.0.1, an ephemeral port, a password; scripts/ensure-redis.sh
// installs it) pace as one; the option is checked; its password shows nowhere; a
// store that cannot be reached costs no row.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { glair, runNodeChild } = require('./helpers');

const PASSWORD = 'node-store-pass-4e7b';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRedis(t) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glair-redis-'));
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--requirepass', PASSWORD];
  const child = spawn('redis-server', [...args, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const failed = new Promise((_, reject) =>
    child.once('error', () => reject(new Error('redis-server must be on the PATH (scripts/ensure-redis.sh installs it)'))),
  );
  t.after(() => {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const listening = (async () => {
    for (let i = 0; i < 500; i += 1) {
      const up = await new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(s.end() && true)).once('error', () => resolve(false));
      });
      if (up) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`redis-server did not listen on ${port}`);
  })();
  await Promise.race([listening, failed]);
  const cli = (...more) =>
    execFileSync('redis-cli', ['-p', String(port), '-a', PASSWORD, '--no-auth-warning', '-n', '2', ...more], {
      encoding: 'utf8',
    });
  return { port, url: `redis://:${PASSWORD}@127.0.0.1:${port}/2`, cli };
}

async function rows(sb, n) {
  const people = await sb.records();
  return Array.from({ length: n }, (_, i) => ({ nik: people[i % people.length].nik }));
}

// A process of its own (its own pacing directory: nothing shared through the host).
const CHILD = `
const glair = require(${JSON.stringify(path.resolve(__dirname, '..'))});
const config = JSON.parse(process.env.STORE_CHILD);
(async () => {
  const vision = new glair.Vision({ ...config.client, readEnv: false });
  const outcomes = await vision.identity.verificationBatch(config.rows, { concurrency: 16 });
  const bad = outcomes.filter((o) => o.status !== 'fulfilled');
  const pacing = vision.pacing();
  process.stdout.write(JSON.stringify({
    failed: bad.length,
    first: bad.length ? String(bad[0].reason) : null,
    throttled: pacing.throttled,
    sent: pacing.sent,
    limit: pacing.limit,
    store: pacing.store,
    shown: require('node:util').inspect(vision) + JSON.stringify(pacing) + vision.pacingUrl,
  }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

const runChild = (env) => runNodeChild(CHILD, env);

test('processes on separate state share one pace through the store', async (t) => {
  const redis = await startRedis(t);
  const sb = await glair.Sandbox.start({ rateLimit: 120, burst: 10, latencyMs: 10, latencySpreadMs: 5, seed: 6 });
  t.after(() => sb.stop());
  const config = { client: { baseUrl: sb.url, ...sb.credentials, pacingUrl: redis.url }, rows: await rows(sb, 240) };
  const reports = await Promise.all(
    [0, 1, 2].map(() =>
      runChild({
        ...process.env,
        STORE_CHILD: JSON.stringify(config),
        GLAIR_VISION_PACING_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'glair-host-')),
      }),
    ),
  );
  assert.deepEqual(
    reports.map((r) => r.failed),
    [0, 0, 0],
    JSON.stringify(reports),
  );
  for (const r of reports) {
    const { roundTrips, waitP99, ...shared } = r.store;
    assert.deepEqual(shared, { joined: true, connected: true, processes: 3 }, JSON.stringify(r));
    assert.ok(roundTrips > 0 && roundTrips <= r.sent && waitP99 >= 0, JSON.stringify(r));
    assert.ok(!r.shown.includes(PASSWORD), r.shown);
  }
  const limits = reports.map((r) => r.limit);
  assert.ok(Math.max(...limits) <= 1.1 * Math.min(...limits), `one estimate: ${limits}`);
  assert.equal(
    reports.reduce((n, r) => n + r.throttled, 0),
    sb.throttled,
  );
  assert.ok(sb.throttled * 20 < 3 * 240, `${sb.throttled} 429s: one pace, not three`);
  const held = redis.cli('--scan') + redis.cli('HGETALL', redis.cli('--scan').split('\n').find((k) => !k.endsWith(':processes')));
  const { apiKey, username, password } = sb.credentials;
  for (const secret of [apiKey, username, password, PASSWORD, sb.url]) assert.ok(!held.includes(secret), secret);
});

test('the option is checked, shown redacted, and a store cut off costs no row', async (t) => {
  const redis = await startRedis(t);
  const sb = await glair.Sandbox.start({ rateLimit: 150, burst: 10, seed: 8 });
  t.after(() => sb.stop());
  const vision = sb.vision({ pacingUrl: redis.url });
  assert.equal(vision.pacingUrl, `redis://<redacted>@127.0.0.1:${redis.port}/2`);
  assert.ok(!util.inspect(vision).includes(PASSWORD) && !JSON.stringify(vision).includes(PASSWORD));
  assert.deepEqual(vision.pacing().store, { joined: false, connected: true, processes: 1, roundTrips: 0, waitP99: 0 });
  assert.equal(sb.vision().pacing().store, null);
  assert.equal(sb.vision().pacingUrl, null);
  for (const bad of [6379, true, { url: redis.url }, 'http://cache:6379', 'redis://', `memcached://:${PASSWORD}@h:1`]) {
    assert.throws(
      () => sb.vision({ pacingUrl: bad }),
      (err) => err.code === 'configuration' && !String(err.message).includes(PASSWORD),
      String(bad),
    );
  }
  assert.equal((await sb.requests()).length, 0, 'nothing was sent');

  const closed = await freePort();
  for (const url of [`redis://:${PASSWORD}@127.0.0.1:${closed}/0`, `redis://:wrong-pass-9931@127.0.0.1:${redis.port}/2`]) {
    const cutOff = sb.vision({ pacingUrl: url });
    const outcomes = await cutOff.identity.verificationBatch(await rows(sb, 300), { concurrency: 32 });
    assert.deepEqual(
      outcomes.filter((o) => o.status !== 'fulfilled'),
      [],
    );
    const pacing = cutOff.pacing();
    assert.equal(pacing.store.connected, false, JSON.stringify(pacing));
    assert.equal(typeof pacing.rate, 'number');
  }
});
