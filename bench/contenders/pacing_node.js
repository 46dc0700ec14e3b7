'use strict';

// The pacing scenario's Node contender: this SDK's batch over N rows, no rate
// given (`rateLimit: 'auto'`, the default) or a fixed one, through
// `verificationStream` so that the completion times give the pace.
//
// node pacing_node.js --pkg DIR --url U --rows 20000 --concurrency 64 [--rate-limit 190] [--t0 EPOCH_S]
// Prints one JSON line: rows, failed rows, attempts, 429s (the client's pacing
// counts), elapsed, pace after 5 s; with --t0 (a shared start, for several
// processes at once) also the rows done from t0 + 5 s on and the end, as epochs.

const path = require('node:path');

function args() {
  const out = { rows: 20000, concurrency: 64, rateLimit: 'auto', t0: null, pkg: path.resolve(__dirname, '../../node') };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--url') out.url = v;
    else if (k === '--rows') out.rows = Number(v);
    else if (k === '--concurrency') out.concurrency = Number(v);
    else if (k === '--rate-limit') out.rateLimit = v === 'auto' ? 'auto' : Number(v);
    else if (k === '--t0') out.t0 = Number(v);
    else if (k === '--pkg') out.pkg = path.resolve(v);
    else throw new Error(`unknown argument ${k}`);
  }
  if (!/^http:\/\/(127\.0\.0\.1|localhost):/.test(out.url || '')) throw new Error('refusing a non-local URL');
  return out;
}

const RECORD = { nik: '3171014508900001', name: 'SITI RAHAYU', date_of_birth: '05-08-1990' };

function* records(n) {
  for (let i = 0; i < n; i++) yield RECORD;
}

async function main() {
  const a = args();
  const { Vision } = require(a.pkg);
  const vision = new Vision({
    apiKey: 'sandbox-api-key',
    username: 'sandbox',
    password: 'sandbox-password',
    baseUrl: a.url,
    readEnv: false,
  });
  if (a.t0 !== null) await new Promise((r) => setTimeout(r, Math.max(0, a.t0 * 1000 - Date.now())));
  const started = Date.now() / 1000;
  const t0 = a.t0 !== null ? a.t0 : started;
  let failed = 0;
  let after = 0;
  for await (const item of vision.identity.verificationStream(records(a.rows), {
    concurrency: a.concurrency,
    rateLimit: a.rateLimit,
  })) {
    if (item.error) failed += 1;
    if (Date.now() / 1000 - t0 >= 5) after += 1;
  }
  const ended = Date.now() / 1000;
  const p = vision.pacing();
  const pace = ended - t0 > 5 ? after / (ended - t0 - 5) : null;
  process.stdout.write(
    `${JSON.stringify({
      rows: a.rows,
      failed,
      attempts: p.sent,
      throttled: p.throttled,
      elapsed_s: Math.round((ended - started) * 100) / 100,
      pace_after_5s: pace && Math.round(pace * 10) / 10,
      done_after_5s: after,
      ended,
      rate_now: p.rate && Math.round(p.rate * 10) / 10,
    })}\n`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
