'use strict';

/**
 * glair-vision: GLAIR Vision KTP Basic Verification for Node.js, on a Rust core.
 * A drop-in for `@glair/vision`'s `Vision` (identity.verification).
 */

const errors = require('./lib/errors');
const { Vision, Identity, FIELDS: FIELD_LIST } = require('./lib/vision');

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
  return native.maskNik(nik);
}


/** `@glair/vision` compatibility: log levels. */
const LogLevel = Object.freeze({ DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3, SILENT: 4, 0: 'DEBUG', 1: 'INFO', 2: 'WARN', 3: 'ERROR', 4: 'SILENT' });

/**
 * `@glair/vision` compatibility. This package logs nothing by default and never
 * logs personal data; its logs (from the Rust core) are turned on with the
 * GLAIR_LOG environment variable (e.g. `GLAIR_LOG=debug`), read once when the
 * first client is created. Calling this has no effect.
 */
function setLogLevel(_level) {}

module.exports = {
  Vision,
  Identity,
  Sandbox,
  FIELDS,
  LogLevel,
  setLogLevel,
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
  APIConnectionError: errors.APIConnectionError,
  APITimeoutError: errors.APITimeoutError,
  CancelledError: errors.CancelledError,
};
module.exports.default = module.exports;
