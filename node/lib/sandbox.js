'use strict';

const util = require('node:util');
const native = require('./native');
const errors = require('./errors');
const { prepareRecord } = require('./convert');
const { Vision } = require('./vision');

const NATIVE = Symbol('glair-vision.sandbox');

/**
 * A local GLAIR Vision sandbox, running in this process on 127.0.0.1 and an
 * ephemeral port: the documented endpoint over a synthetic registry, the
 * fixture people and your own records, with scripted faults. For tests.
 */
class Sandbox {
  constructor(nativeSandbox) {
    if (!nativeSandbox || typeof nativeSandbox.url !== 'string') {
      throw new TypeError('use `await Sandbox.start(options)` to create a Sandbox');
    }
    Object.defineProperty(this, NATIVE, { value: nativeSandbox, enumerable: false });
  }

  /**
   * The OpenAPI 3.1 document of the endpoint as the sandbox serves it (also at
   * `GET ${url}/openapi.json`): every field, answer and header.
   */
  static openapi() {
    return JSON.parse(errors.callSync(() => native.openapiDocument()));
  }

  /**
   * Starts a sandbox. `records`: an array of objects keyed by the wire field
   * names, or a path to a .jsonl/.json/.csv file of them.
   */
  static async start(options = {}) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new errors.ConfigurationError('Sandbox.start options must be an object');
    }
    const opts = { ...options };
    if (typeof opts.records === 'string') {
      opts.recordsPath = opts.records;
      delete opts.records;
    } else if (opts.records !== undefined && opts.records !== null) {
      if (typeof opts.records[Symbol.iterator] !== 'function') {
        throw new errors.ConfigurationError('Sandbox records must be an array of records or a file path');
      }
      opts.records = Array.from(opts.records, prepareRecord);
    }
    const n = await errors.call(() => native.NativeSandbox.start(JSON.stringify(opts)));
    return new Sandbox(n);
  }

  /** The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  get url() {
    return errors.callSync(() => this[NATIVE].url);
  }
  get apiKey() {
    return errors.callSync(() => this[NATIVE].apiKey);
  }
  get username() {
    return errors.callSync(() => this[NATIVE].username);
  }
  get password() {
    return errors.callSync(() => this[NATIVE].password);
  }
  /** `{ apiKey, username, password }` the sandbox accepts. */
  get credentials() {
    return { apiKey: this.apiKey, username: this.username, password: this.password };
  }

  /** With `tls: true`: the sandbox's CA certificate file (PEM), to trust as `caBundle`. */
  get caFile() {
    return errors.callSync(() => this[NATIVE].caFile);
  }
  /** With `tlsClientAuth: true`: the client certificate file (PEM) the sandbox requires. */
  get clientCertFile() {
    return errors.callSync(() => this[NATIVE].clientCertFile);
  }
  /** That certificate's private key file (PEM). */
  get clientKeyFile() {
    return errors.callSync(() => this[NATIVE].clientKeyFile);
  }

  /**
   * A `Vision` client pointed at this sandbox (GLAIR_* environment ignored);
   * over TLS it trusts the sandbox's CA and shows its client certificate.
   */
  vision(options = {}) {
    const tls = {};
    if (this.caFile) tls.caBundle = this.caFile;
    if (this.clientCertFile) Object.assign(tls, { clientCert: this.clientCertFile, clientKey: this.clientKeyFile });
    return new Vision({
      baseUrl: this.url,
      apiKey: this.apiKey,
      username: this.username,
      password: this.password,
      readEnv: false,
      ...tls,
      ...options,
    });
  }

  /** Requests answered 429 by the `rateLimit` option so far. */
  get throttled() {
    return errors.callSync(() => this[NATIVE].throttled);
  }

  /** Every person in the registry (objects keyed by wire field names). */
  async records() {
    return JSON.parse(await errors.call(() => this[NATIVE].records()));
  }

  /**
   * The requests received on the verification endpoint, oldest first:
   * `{ fields: [[name, value], ...], content_type, user_agent, request_id, status }`.
   */
  async requests() {
    return JSON.parse(await errors.call(() => this[NATIVE].requests()));
  }

  /** Forgets the received-request log. */
  async clearRequests() {
    await errors.call(async () => this[NATIVE].clearRequests());
  }

  /** Stops the server. Safe to call twice. */
  async stop() {
    await errors.call(() => this[NATIVE].stop());
  }

  toJSON() {
    return { url: this.url };
  }

  [util.inspect.custom](depth, options, inspect) {
    return `Sandbox ${(inspect || util.inspect)(this.toJSON(), options)}`;
  }
}

if (Symbol.asyncDispose) {
  Sandbox.prototype[Symbol.asyncDispose] = function asyncDispose() {
    return this.stop();
  };
}

module.exports = { Sandbox };
