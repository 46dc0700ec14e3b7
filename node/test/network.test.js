'use strict';

// Corporate networks: the sandbox over TLS (a CA it makes), mutual TLS, caBundle
// in each form, NODE_EXTRA_CA_CERTS and SSL_CERT_FILE, and a CONNECT proxy the
// test starts (option, HTTPS_PROXY, NO_PROXY, proxy: false).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const { glair, FIXTURE_SITI } = require('./helpers');

const CALL = { nik: FIXTURE_SITI.nik, name: FIXTURE_SITI.name };
const NETWORK_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy',
  'NO_PROXY', 'no_proxy', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS'];
for (const name of NETWORK_VARIABLES) delete process.env[name];

/** Runs `fn` with the environment variables `vars` set, then removes them. */
async function withEnv(vars, fn) {
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const name of Object.keys(vars)) delete process.env[name];
  }
}

/** A CONNECT proxy on 127.0.0.1 that wants `credentials` (Basic); `asked` logs what it got. */
async function startProxy(credentials) {
  const expected = `Basic ${Buffer.from(credentials).toString('base64')}`;
  const asked = [];
  const server = net.createServer((client) => {
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      const [method, target] = lines[0].split(' ');
      const auth = lines.slice(1).find((l) => l.toLowerCase().startsWith('proxy-authorization:'));
      const authorized = auth !== undefined && auth.slice(auth.indexOf(':') + 1).trim() === expected;
      asked.push({ method, target, authorized });
      if (!authorized || method !== 'CONNECT') {
        client.end(`HTTP/1.1 ${authorized ? 501 : 407} No\r\nProxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
      const upstream = net.connect(port, host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head.subarray(end + 4));
        client.pipe(upstream).pipe(client);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    asked,
    url: (userinfo = '') => `http://${userinfo}127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => { server.close(resolve); server.unref(); }),
  };
}

function bare(sb, options = {}) {
  return new glair.Vision({ baseUrl: sb.url, ...sb.credentials, readEnv: false, ...options });
}

test('the sandbox serves HTTPS; caBundle in each form; an untrusted server says what to do', async () => {
  const sb = await glair.Sandbox.start({ tls: true });
  const other = await glair.Sandbox.start({ tls: true });
  try {
    assert.match(sb.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(sb.clientCertFile, null);
    assert.equal((await sb.vision().identity.verification(CALL)).verification_status, true);
    const pem = fs.readFileSync(sb.caFile);
    for (const caBundle of [sb.caFile, pem.toString(), pem, new Uint8Array(pem), [sb.caFile]]) {
      const r = await bare(sb, { caBundle }).identity.verification(CALL);
      assert.equal(r.verification_status, true);
    }
    assert.equal((await bare(sb, { caBundle: sb.caFile, caBundleOnly: true }).identity.verification(CALL)).verification_status, true);
    for (const vision of [bare(sb), bare(sb, { caBundle: other.caFile })]) {
      await assert.rejects(vision.identity.verification(CALL), (err) => {
        assert.ok(err instanceof glair.APIConnectionError, String(err));
        assert.match(err.message, /does not trust.*caBundle.*SSL_CERT_FILE/);
        return true;
      });
    }
  } finally {
    await sb.stop();
    await other.stop();
  }
});

test('NODE_EXTRA_CA_CERTS and SSL_CERT_FILE are honoured', async () => {
  const sb = await glair.Sandbox.start({ tls: true });
  try {
    for (const variable of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE']) {
      const r = await withEnv({ [variable]: sb.caFile }, () => bare(sb).identity.verification(CALL));
      assert.equal(r.verification_status, true, variable);
    }
    // A file Node could not read is skipped, as Node skips it.
    const missing = path.join(os.tmpdir(), 'glair-vision-no-such-ca.pem');
    await withEnv({ NODE_EXTRA_CA_CERTS: missing }, async () => {
      await assert.rejects(bare(sb).identity.verification(CALL), glair.APIConnectionError);
    });
  } finally {
    await sb.stop();
  }
});

test('mutual TLS needs the client certificate', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glair-vision-mtls-'));
  const sb = await glair.Sandbox.start({ tls: true, tlsClientAuth: true, tlsDir: dir });
  try {
    assert.equal(sb.caFile, path.join(dir, 'ca.pem'));
    assert.equal(sb.clientKeyFile, path.join(dir, 'client-key.pem'));
    assert.equal((await sb.vision().identity.verification(CALL)).verification_status, true);
    await assert.rejects(bare(sb, { caBundle: sb.caFile }).identity.verification(CALL), /client certificate/);
    assert.throws(() => bare(sb, { caBundle: sb.caFile, clientCert: sb.clientCertFile }), (err) => {
      assert.ok(err instanceof glair.ConfigurationError);
      assert.match(err.message, /go together/);
      return true;
    });
    assert.equal((await sb.requests()).length, 1);
  } finally {
    await sb.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('calls go through a proxy: the option, HTTPS_PROXY, NO_PROXY and proxy: false', async () => {
  const sb = await glair.Sandbox.start({ tls: true });
  const proxy = await startProxy('corp:pa55-w0rd');
  try {
    const good = proxy.url('corp:pa55-w0rd@');
    assert.equal((await sb.vision({ proxy: good }).identity.verification(CALL)).verification_status, true);
    assert.deepEqual(proxy.asked, [{ method: 'CONNECT', target: sb.url.replace('https://', ''), authorized: true }]);
    await withEnv({ HTTPS_PROXY: good }, async () => {
      await sb.vision().identity.verification(CALL);
      assert.equal(proxy.asked.length, 2);
      await sb.vision({ proxy: false }).identity.verification(CALL);
      assert.equal(proxy.asked.length, 2, 'proxy: false goes direct');
      await withEnv({ NO_PROXY: '127.0.0.1' }, () => sb.vision().identity.verification(CALL));
      assert.equal(proxy.asked.length, 2, 'NO_PROXY is honoured');
    });

    const wrong = sb.vision({ proxy: proxy.url('corp:not-the-pa55@'), maxRetries: 0 });
    await assert.rejects(wrong.identity.verification(CALL), (err) => {
      assert.ok(err instanceof glair.APIConnectionError);
      assert.match(err.message, /proxy authorization required/);
      assert.doesNotMatch(`${err.message} ${util.inspect(err)}`, /not-the-pa55/);
      return true;
    });
    assert.doesNotMatch(util.inspect(wrong), /not-the-pa55/);
  } finally {
    await proxy.close();
    await sb.stop();
  }
});

test('wrong types and bad settings are refused before anything is sent', async () => {
  const sb = await glair.Sandbox.start({ tls: true });
  try {
    for (const options of [{ caBundle: 5 }, { caBundle: [sb.caFile, {}] }, { proxy: true }, { proxy: 8080 },
      { caBundleOnly: 'yes' }, { clientCert: 1, clientKey: 2 }, { caBundle: '/nonexistent/corp.pem' },
      { caBundleOnly: true }, { proxy: 'ftp://u:secret-ftp@proxy:21' }]) {
      assert.throws(() => bare(sb, options), (err) => {
        assert.ok(err instanceof glair.ConfigurationError, `${util.inspect(options)}: ${err}`);
        assert.doesNotMatch(err.message, /secret-ftp/);
        return true;
      });
    }
    await assert.rejects(glair.Sandbox.start({ tlsClientAuth: true }), /need `tls: true`/);
    assert.equal((await sb.requests()).length, 0);
  } finally {
    await sb.stop();
  }
});
