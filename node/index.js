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
  /** This package's version (the same as the Rust core's and the Python package's). */
  version: require('./package.json').version,
  Vision,
  Identity,
  Sandbox,
  FIELDS,
  LogLevel,
  setLogLevel,
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
