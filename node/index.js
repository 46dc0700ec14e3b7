'use strict';

/**
 * glair-vision: GLAIR Vision KTP Basic Verification for Node.js, on a Rust core.
 * A drop-in for `@glair/vision`'s `Vision` (identity.verification).
 */

const errors = require('./lib/errors');
const { Vision, Identity, FIELDS: FIELD_LIST, iterateStream } = require('./lib/vision');

/** The 16 wire field names, in the endpoint's documentation order. */
const FIELDS = Object.freeze(FIELD_LIST.slice());
const { Sandbox } = require('./lib/sandbox');
const native = require('./lib/native');

/**
 * A NIK masked for logs and display, as the SDK's own logs show it:
 * `317101******0001` (region and last 4 kept, the birth date hidden); other
 * text is hidden whole. Throws ValidationError for a non-string.
 */
function maskNik(nik) {
  if (typeof nik !== 'string') {
    throw new errors.ValidationError(`invalid nik: must be a string, not ${nik === null ? 'null' : typeof nik}`, {
      field: 'nik',
    });
  }
  return errors.callSync(() => native.maskNik(nik));
}


/** `@glair/vision` compatibility: log levels. */
const LogLevel = Object.freeze({ DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3, SILENT: 4, 0: 'DEBUG', 1: 'INFO', 2: 'WARN', 3: 'ERROR', 4: 'SILENT' });

const LEVEL_NAMES = { 0: 'debug', 1: 'info', 2: 'warn', 3: 'error', 4: 'silent' };

/** A `LogLevel` (number) or a level name to the name the core knows. */
function levelName(level) {
  if (typeof level === 'number' && LEVEL_NAMES[level]) return LEVEL_NAMES[level];
  if (typeof level === 'string' && /^(trace|debug|info|warn|error|silent)$/i.test(level)) return level.toLowerCase();
  throw new errors.ConfigurationError(
    'log level must be a LogLevel or one of trace, debug, info, warn, error, silent',
  );
}

/**
 * Sends this package's log records to `logger` (a function, or null to stop):
 * it receives `{ level, target, message, fields }` for each record at `level`
 * or above (default: the level set before, `debug` at first). Records are
 * redacted where they are made: a NIK is masked (`317101******0001`), names and
 * credentials never appear. A logger that throws is ignored. Independent of the
 * GLAIR_LOG environment variable, which writes to stderr.
 */
function setLogger(logger, options = {}) {
  if (logger !== null && logger !== undefined && typeof logger !== 'function') {
    throw new errors.ConfigurationError('setLogger: the logger must be a function or null');
  }
  const level = options && options.level !== undefined && options.level !== null ? levelName(options.level) : undefined;
  const deliver = logger
    ? (text) => {
        try {
          logger(JSON.parse(text));
        } catch (_) {
          // A failing logger must not break (or crash) the calls it observes.
        }
      }
    : null;
  errors.callSync(() => native.setLogger(deliver, level));
}

/**
 * `@glair/vision` compatibility: the level of the logger set with `setLogger`
 * (kept for the next one when none is set). GLAIR_LOG (e.g. `GLAIR_LOG=debug`)
 * still turns on logging to stderr, separately.
 */
function setLogLevel(level) {
  errors.callSync(() => native.setLogLevel(levelName(level)));
}

/**
 * Test-only: panics in native code on purpose, to prove that a panic becomes an
 * `InternalError` and the process goes on. Refuses with a `ConfigurationError`
 * unless the environment has `GLAIR_VISION_TEST_PANICS=1`. `place`: `'sync'`
 * throws (panic on this thread); `'async'` returns a promise that rejects
 * (panic on a runtime worker thread); `'background'` returns undefined (a
 * detached task panics; it is logged to `setLogger`'s logger); `'stream'`
 * returns an async iterator whose first `next()` rejects (a streaming batch's
 * driver panics).
 */
function _testPanic(place) {
  if (place === 'async') return errors.call(() => native._testPanicAsync());
  const stream = errors.callSync(() => native._testPanic(place));
  return place === 'stream' ? iterateStream(stream, []) : undefined;
}

module.exports = {
  /** This package's version (the same as the Rust core's and the Python package's). */
  version: require('./package.json').version,
  Vision,
  Identity,
  Sandbox,
  FIELDS,
  LogLevel,
  setLogLevel,
  setLogger,
  maskNik,
  GlairVisionError: errors.GlairVisionError,
  ValidationError: errors.ValidationError,
  ConfigurationError: errors.ConfigurationError,
  APIError: errors.APIError,
  BadRequestError: errors.BadRequestError,
  AuthenticationError: errors.AuthenticationError,
  PermissionDeniedError: errors.PermissionDeniedError,
  NotFoundError: errors.NotFoundError,
  RateLimitError: errors.RateLimitError,
  ServiceUnavailableError: errors.ServiceUnavailableError,
  ServerError: errors.ServerError,
  DecodeError: errors.DecodeError,
  RedirectError: errors.RedirectError,
  IncompleteResponseError: errors.IncompleteResponseError,
  APIConnectionError: errors.APIConnectionError,
  APITimeoutError: errors.APITimeoutError,
  CancelledError: errors.CancelledError,
  InternalError: errors.InternalError,
};
// Test-only (see above): not enumerable, not in the types' public surface.
Object.defineProperty(module.exports, '_testPanic', { value: _testPanic, enumerable: false });
module.exports.default = module.exports;
