'use strict';

// Issue 12 in Node, against small misbehaving servers started here on
// 127.0.0.1:0: redirects not followed, bodies capped, the call deadline, no
// retry after an answer began, half answers refused, correlation ids, setLogger.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { glair, FIXTURE_SITI, FIXTURE_BUDI, sandboxFor, waitUntil } = require('./helpers');

const { RedirectError, IncompleteResponseError, DecodeError, RateLimitError, BadRequestError, ValidationError } = glair;

const NIK = FIXTURE_SITI.nik;
const GOOD_BODY = JSON.stringify({ verification_status: true, reason: 'Verification Success', result: { nik: true } });

/** Starts `server` on 127.0.0.1:0; closes it when the test ends. Resolves to its base URL. */
async function listen(t, server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    if (server.closeAllConnections) server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${server.address().port}`;
}

/** An HTTP server: `handler(req, res, body)` after the request body is read; counts requests. */
async function httpServer(t, handler) {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  const url = await listen(t, server);
  return { url, seen };
}

/** A raw TCP server: `onRequest(socket)` once a request's headers and body have arrived. */
async function rawServer(t, onRequest) {
  const state = { requests: 0, written: 0 };
  const server = net.createServer((socket) => {
    let data = '';
    let answered = false;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (answered || end < 0) return;
      const length = Number((/content-length:\s*(\d+)/i.exec(data.slice(0, end)) || [])[1] || 0);
      if (data.length - end - 4 < length) return;
      answered = true;
      state.requests += 1;
      onRequest(socket, state);
    });
  });
  const url = await listen(t, server);
  return { url, state };
}

function client(url, options = {}) {
  return new glair.Vision({ baseUrl: url, apiKey: 'k', username: 'u', password: 'p', readEnv: false, ...options });
}

async function rejection(promise) {
  try {
    const value = await promise;
    assert.fail(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    return err;
  }
}

for (const status of [302, 307]) {
  test(`a ${status} is a RedirectError naming the Location; nothing is sent onwards`, async (t) => {
    const other = await httpServer(t, (req, res) => res.end(GOOD_BODY));
    const location = `${other.url}/identity/v1/verification`;
    const first = await httpServer(t, (req, res) => {
      res.writeHead(status, { Location: location, 'Request-Id': 'redir-1' });
      res.end();
    });
    const e = await rejection(client(first.url).identity.verification({ nik: NIK }));
    assert.ok(e instanceof RedirectError, `${e.name}: ${e.message}`);
    assert.equal(e.code, 'redirect');
    assert.equal(e.status, status);
    assert.equal(e.location, location);
    assert.equal(e.requestId, 'redir-1');
    assert.ok(e.message.includes(location), e.message);
    assert.equal(first.seen.length, 1, 'not retried');
    assert.equal(other.seen.length, 0, 'the other server received nothing');
  });
}

test('an endless body is a DecodeError past the cap, without reading it all', async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const { url, state } = await rawServer(t, (socket, st) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nRequest-Id: big-1\r\n\r\n');
    const pump = () => {
      while (!socket.destroyed && st.written < 512 * 1024 * 1024) {
        st.written += chunk.length;
        if (!socket.write(chunk)) return socket.once('drain', pump);
      }
      return undefined;
    };
    socket.on('close', () => {
      st.closed = true;
    });
    pump();
  });
  const started = Date.now();
  const e = await rejection(client(url).identity.verification({ nik: NIK }));
  assert.ok(e instanceof DecodeError, `${e.name}: ${e.message}`);
  assert.match(e.message, /exceeds 262144 bytes/);
  assert.equal(e.requestId, 'big-1');
  assert.equal(state.requests, 1);
  assert.ok(Date.now() - started < 20000);
  assert.ok(state.written < 64 * 1024 * 1024, `the client stopped reading early (server wrote ${state.written} bytes)`);
});

test('a Content-Length over the cap fails before the body is read', async (t) => {
  const { url, seen } = await httpServer(t, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(10 * 1024 * 1024) });
    res.write('{"verification_status": true'); // and never the rest
  });
  const started = Date.now();
  const e = await rejection(client(url).identity.verification({ nik: NIK }));
  assert.ok(e instanceof DecodeError, `${e.name}: ${e.message}`);
  assert.match(e.message, /exceeds 262144 bytes/);
  assert.ok(Date.now() - started < 10000);
  assert.equal(seen.length, 1);
});

test('retryUnanswered: a 500 (maybe processed) is retried only when asked', async (t) => {
  const { url, seen } = await httpServer(t, (req, res) => {
    res.writeHead(500, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'ERROR', reason: 'boom' }));
  });
  const vision = client(url, { maxRetries: 2 });
  let e = await rejection(vision.identity.verification({ nik: NIK }));
  assert.ok(e instanceof glair.ServerError, `${e.name}: ${e.message}`);
  assert.equal(seen.length, 1, 'not retried by default: it may have been billed');
  e = await rejection(vision.identity.verification({ nik: NIK }, { retryUnanswered: true }));
  assert.ok(e instanceof glair.ServerError);
  assert.equal(seen.length, 4, 'per call: retried twice');
  await rejection(client(url, { maxRetries: 1, retryUnanswered: true }).identity.verification({ nik: NIK }));
  assert.equal(seen.length, 6, 'per client: retried once');
});

test('Retry-After 120 with a 2 s deadline ends at once as RateLimitError', async (t) => {
  const { url, seen } = await httpServer(t, (req, res) => {
    res.writeHead(429, { 'Retry-After': '120', 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'RATE_LIMITED', reason: 'slow down' }));
  });
  const started = Date.now();
  const e = await rejection(client(url, { deadline: 2000 }).identity.verification({ nik: NIK }));
  const took = Date.now() - started;
  assert.ok(e instanceof RateLimitError, `${e.name}: ${e.message}`);
  assert.equal(e.retryAfter, 120);
  assert.ok(took < 5000, `ended after ${took} ms`);
  assert.equal(seen.length, 1, 'no wait past the deadline, so no second attempt');
  // Per call too.
  const e2 = await rejection(client(url).identity.verification({ nik: NIK }, { deadline: 1500 }));
  assert.ok(e2 instanceof RateLimitError);
  assert.equal(client(url, { deadline: 2000 }).deadline, 2000);
});

test('a drop after the status line is IncompleteResponseError, sent exactly once', async (t) => {
  const { url, state } = await rawServer(t, (socket) => {
    // Dropped once the partial answer is handed to the kernel.
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\nRequest-Id: cut-1\r\n\r\n{"verif', () =>
      socket.destroy(),
    );
  });
  const e = await rejection(client(url, { maxRetries: 3 }).identity.verification({ nik: NIK }));
  assert.ok(e instanceof IncompleteResponseError, `${e.name}: ${e.message}`);
  assert.equal(e.code, 'incomplete_response');
  assert.equal(e.status, 200);
  assert.equal(e.requestId, 'cut-1');
  // A retry would have been sent, and counted, before the call settled.
  assert.equal(state.requests, 1, 'never retried: the server may have billed it');
});

test('a half answer (verification_status true without result) is a DecodeError', async (t) => {
  const { url } = await httpServer(t, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ verification_status: true, reason: 'Verification Success' }));
  });
  const e = await rejection(client(url).identity.verification({ nik: NIK }));
  assert.ok(e instanceof DecodeError, `${e.name}: ${e.message}`);
  assert.ok(e.body.includes('verification_status'), 'carries the body excerpt');
});

test('requestId is sent as x-request-id and comes back on results and errors', async (t) => {
  const { url, seen } = await httpServer(t, (req, res) => {
    if (req.headers['x-request-id'] === 'bad-row') {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'BAD_REQUEST', reason: 'no' }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Request-Id': 'glair-1' });
    res.end(GOOD_BODY);
  });
  const vision = client(url, { maxRetries: 0 });
  const r = await vision.identity.verification({ nik: NIK }, { requestId: 'order-17' });
  assert.equal(r.clientRequestId, 'order-17');
  assert.equal(r.requestId, 'glair-1');
  assert.equal(seen[0].headers['x-request-id'], 'order-17');
  const plain = await vision.identity.verification({ nik: NIK });
  assert.equal(plain.clientRequestId, null);
  assert.equal(seen[1].headers['x-request-id'], undefined);

  const e = await rejection(vision.identity.verification({ nik: NIK }, { requestId: 'bad-row' }));
  assert.ok(e instanceof BadRequestError, `${e.name}: ${e.message}`);
  assert.equal(e.clientRequestId, 'bad-row');
  assert.ok(e.message.includes('bad-row'), e.message);

  const outcomes = await vision.identity.verificationBatch([
    { nik: NIK, requestId: 'row-0' },
    { nik: NIK, requestId: 'bad-row' },
    { nik: NIK },
  ]);
  assert.equal(outcomes[0].value.clientRequestId, 'row-0');
  assert.equal(outcomes[1].reason.clientRequestId, 'bad-row');
  assert.equal(outcomes[2].value.clientRequestId, null);
  const ids = seen.slice(3).map((s) => s.headers['x-request-id'] ?? null).sort();
  assert.deepEqual(ids, ['bad-row', 'row-0', null].sort());

  // A bad id is a ValidationError for request_id, before anything is sent.
  const before = seen.length;
  for (const bad of ['has space', '', 'x'.repeat(129), 'caf\u00e9', 'a\uD800', 42]) {
    const err = await rejection(vision.identity.verification({ nik: NIK }, { requestId: bad }));
    assert.ok(err instanceof ValidationError, `${JSON.stringify(bad)}: ${err.name}: ${err.message}`);
    assert.equal(err.field, 'request_id');
  }
  const rows = await vision.identity.verificationBatch([{ nik: NIK, requestId: 'has space' }]);
  assert.ok(rows[0].reason instanceof ValidationError);
  assert.equal(rows[0].reason.field, 'request_id');
  assert.equal(seen.length, before, 'nothing sent for a bad id');
});

test('setLogger receives redacted records; the level filters them; null stops them', async (t) => {
  const sb = await sandboxFor(t);
  const vision = sb.vision();
  const records = [];
  glair.setLogger((r) => records.push(r), { level: 'debug' });
  t.after(() => glair.setLogger(null));
  // A logger's records come through one queue, in order, and `verified` is a
  // call's last: once it is in, everything logged before it is in too.
  const verifiedOf = (list, id) => list.find((x) => x.message === 'verified' && x.fields.client_request_id === id);
  const arrived = (list, id) => waitUntil(`the records of ${id}`, () => verifiedOf(list, id));
  const r = await vision.identity.verification(FIXTURE_SITI, { requestId: 'log-1' });
  assert.equal(r.verification_status, true);
  await arrived(records, 'log-1');
  const verified = records.find((x) => x.message === 'verified');
  assert.ok(verified, JSON.stringify(records));
  assert.equal(verified.level, 'debug');
  assert.equal(typeof verified.target, 'string');
  assert.equal(verified.fields.client_request_id, 'log-1');
  assert.equal(verified.fields.nik, glair.maskNik(FIXTURE_SITI.nik));
  const text = JSON.stringify(records);
  assert.ok(!text.includes(FIXTURE_SITI.nik), 'no full NIK');
  assert.ok(!text.includes(FIXTURE_SITI.name), 'no name');
  assert.ok(!text.includes(sb.password) && !text.includes(sb.apiKey), 'no credential');

  // setLogLevel is the level of that logger: nothing at debug passes `error`.
  // A call at `debug` afterwards, for another NIK, is the mark: once its records
  // are in, any of the quiet call's (BUDI's NIK, masked in every record) would be too.
  const MARK = { nik: '5171031212920003' };
  const ofBudi = (list) => list.filter((x) => x.fields.nik === glair.maskNik(FIXTURE_BUDI.nik));
  glair.setLogLevel(glair.LogLevel.ERROR);
  records.length = 0;
  await vision.identity.verification(FIXTURE_BUDI, { requestId: 'quiet' });
  glair.setLogLevel('debug');
  await vision.identity.verification(MARK, { requestId: 'mark-1' });
  await arrived(records, 'mark-1');
  assert.deepEqual(ofBudi(records).filter((x) => x.level === 'debug'), []);

  // After setLogger(null) nothing more arrives: a second logger's mark call
  // comes after anything the first could still have been sent.
  glair.setLogger(null);
  records.length = 0;
  await vision.identity.verification(FIXTURE_BUDI, { requestId: 'gone' });
  const later = [];
  glair.setLogger((x) => later.push(x), { level: 'debug' });
  await vision.identity.verification(MARK, { requestId: 'mark-2' });
  await arrived(later, 'mark-2');
  assert.deepEqual(ofBudi(records), [], 'no records after setLogger(null)');
  assert.deepEqual(ofBudi(later), []);

  assert.throws(() => glair.setLogger('not a function'), glair.ConfigurationError);
  assert.throws(() => glair.setLogLevel('loud'), glair.ConfigurationError);
});
