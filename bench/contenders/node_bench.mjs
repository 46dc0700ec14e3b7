// The Node contenders: this SDK (sequential awaits; C concurrent promises;
// verificationBatch at C), global fetch + FormData (sequential; C concurrent), and
// GLAIR's own @glair/vision (sequential; C concurrent; its logger silenced).
//
// node node_bench.mjs --mode M --url U --duration S --max N --concurrency C --warmup W
// Prints one JSON line (see bench/src/lib.rs for the protocol). Environment:
// BENCH_NODE_PKG  directory of this project's Node package (for sdk-* modes)
// BENCH_NPM_DIR   directory whose node_modules holds @glair/vision (for glair-* modes)
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const NIK = '3171014508900001';
const NAME = 'SITI RAHAYU';
const DATE_OF_BIRTH = '05-08-1990';
const API_KEY = 'sandbox-api-key';
const USERNAME = 'sandbox';
const PASSWORD = 'sandbox-password';

function parseArgs(argv) {
  const a = { duration: 2, max: 1_000_000, concurrency: 64, warmup: 200 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[i + 1];
    a[k] = ['mode', 'url'].includes(k) ? v : Number(v);
  }
  if (!a.mode || !a.url) throw new Error('--mode and --url are required');
  if (!a.url.startsWith('http://127.0.0.1:')) throw new Error('load is only ever sent to 127.0.0.1');
  a.url = a.url.replace(/\/+$/, '');
  return a;
}

const args = parseArgs(process.argv.slice(2));
const versions = { node: process.versions.node };

function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function percentile(sorted, q) {
  const rank = Math.min(Math.max(Math.ceil(q * sorted.length), 1), sorted.length);
  return sorted[rank - 1];
}

function report(start, cpu0, requests, errors, latencies) {
  const elapsed = (performance.now() - start) / 1e3;
  const cpu = cpuSeconds() - cpu0;
  let p50 = null;
  let p99 = null;
  if (latencies && latencies.length) {
    const s = Float64Array.from(latencies).sort();
    p50 = percentile(s, 0.5);
    p99 = percentile(s, 0.99);
  }
  console.log(JSON.stringify({
    mode: args.mode, concurrency: args.concurrency, requests, errors,
    elapsed_s: elapsed, cpu_s: cpu, p50_ms: p50, p99_ms: p99, versions,
  }));
}

async function sequential(call) {
  for (let i = 0; i < args.warmup; i++) await call();
  const latencies = [];
  let errors = 0;
  const cpu0 = cpuSeconds();
  const start = performance.now();
  const deadline = start + args.duration * 1e3;
  while (latencies.length < args.max && performance.now() < deadline) {
    const t = performance.now();
    if (!(await call())) errors++;
    latencies.push(performance.now() - t);
  }
  report(start, cpu0, latencies.length, errors, latencies);
}

async function concurrent(call) {
  const run = async (budget, deadline) => {
    let taken = 0;
    let failed = 0;
    const worker = async () => {
      while (performance.now() < deadline && taken < budget) {
        taken++;
        if (!(await call())) failed++;
      }
    };
    await Promise.all(Array.from({ length: args.concurrency }, worker));
    return [taken, failed];
  };
  await run(args.warmup, Infinity);
  const cpu0 = cpuSeconds();
  const start = performance.now();
  const [n, errors] = await run(args.max, start + args.duration * 1e3);
  report(start, cpu0, n, errors, null);
}

/**
 * Batch APIs take a list: one warm-up batch, then batches of BATCH_CHUNK records
 * back to back until the duration (or request budget) is used up, as a user going
 * through a large file page by page would. The chunk bounds what the ordered
 * result list holds at once (memory), and costs one drain of the in-flight calls
 * per chunk (under 1% at these rates).
 */
const BATCH_CHUNK = 10_000;

async function chunkedBatch(runBatch) {
  await runBatch(Math.max(args.warmup, args.concurrency * 4));
  const cpu0 = cpuSeconds();
  const start = performance.now();
  const deadline = start + args.duration * 1e3;
  let n = 0;
  let errors = 0;
  do {
    const size = Math.min(BATCH_CHUNK, args.max - n);
    errors += await runBatch(size);
    n += size;
  } while (performance.now() < deadline && n < args.max);
  report(start, cpu0, n, errors, null);
}

const endpoint = `${args.url}/identity/v1/verification`;
const basic = `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}`;

async function fetchCall() {
  try {
    const form = new FormData();
    form.set('nik', NIK);
    form.set('name', NAME);
    form.set('date_of_birth', DATE_OF_BIRTH);
    const resp = await fetch(endpoint, {
      method: 'POST',
      headers: { Authorization: basic, 'x-api-key': API_KEY },
      body: form,
    });
    const json = await resp.json();
    return json.verification_status === true;
  } catch {
    return false;
  }
}

async function loadSdk() {
  const dir = process.env.BENCH_NODE_PKG;
  if (!dir) throw new Error('BENCH_NODE_PKG is not set');
  const require = createRequire(path.join(path.resolve(dir), 'package.json'));
  const pkg = require(path.resolve(dir));
  versions['glair-vision (Node)'] = require(path.join(path.resolve(dir), 'package.json')).version;
  return new pkg.Vision({ apiKey: API_KEY, username: USERNAME, password: PASSWORD, baseUrl: args.url });
}

async function loadGlair() {
  const dir = process.env.BENCH_NPM_DIR;
  if (!dir) throw new Error('BENCH_NPM_DIR is not set');
  const base = path.join(path.resolve(dir), 'node_modules', '@glair', 'vision');
  const mod = await import(pathToFileURL(path.join(base, 'lib', 'index.js')).href);
  const require = createRequire(path.join(base, 'package.json'));
  versions['@glair/vision'] = require(path.join(base, 'package.json')).version;
  mod.setLogLevel(mod.LogLevel.SILENT);
  return new mod.Vision({ apiKey: API_KEY, username: USERNAME, password: PASSWORD, baseUrl: args.url });
}

const request = { nik: NIK, name: NAME, date_of_birth: DATE_OF_BIRTH };

async function main() {
  switch (args.mode) {
    case 'fetch-seq':
      return sequential(fetchCall);
    case 'fetch-conc':
      return concurrent(fetchCall);
    case 'glair-seq':
    case 'glair-conc': {
      const vision = await loadGlair();
      const call = async () => {
        try {
          const r = await vision.identity.verification(request);
          return r.verification_status === true;
        } catch {
          return false;
        }
      };
      return args.mode === 'glair-seq' ? sequential(call) : concurrent(call);
    }
    case 'sdk-seq':
    case 'sdk-conc': {
      const vision = await loadSdk();
      const call = async () => {
        try {
          const r = await vision.identity.verification(request);
          return r.verification_status === true;
        } catch {
          return false;
        }
      };
      return args.mode === 'sdk-seq' ? sequential(call) : concurrent(call);
    }
    case 'sdk-batch': {
      const vision = await loadSdk();
      return chunkedBatch(async (n) => {
        const records = Array.from({ length: n }, () => request);
        const outcomes = await vision.identity.verificationBatch(records, { concurrency: args.concurrency });
        let errors = 0;
        for (const o of outcomes) if (o.status !== 'fulfilled' || o.value.verification_status !== true) errors++;
        return errors;
      });
    }
    default:
      throw new Error(`unknown mode ${args.mode}`);
  }
}

await main();
