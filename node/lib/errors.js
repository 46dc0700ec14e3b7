'use strict';

/**
 * Error classes of glair-vision. The native core rejects with a message of the
 * form `GLAIR_VISION_ERROR:{json}`; `fromNative` turns it into one of these.
 * Every class has a stable `code` (the same codes as the Rust core, the Python
 * package and the CLI). Messages never contain a NIK, a name or a credential.
 */

const PREFIX = 'GLAIR_VISION_ERROR:';

/** Base class of every error this package throws. */
class GlairVisionError extends Error {
  constructor(message, options) {
    super(message, options && options.cause !== undefined ? { cause: options.cause } : undefined);
    Object.defineProperty(this, 'name', { value: new.target.name, enumerable: false, configurable: true, writable: true });
    /** @type {string} */
    this.code = new.target.code || 'error';
  }

  toJSON() {
    const out = { name: this.name, code: this.code, message: this.message };
    for (const key of Object.keys(this)) {
      if (key !== 'code') out[key] = this[key];
    }
    return out;
  }
}
GlairVisionError.code = 'error';

/** Bad input, caught before anything was sent. `field` names the offending field. */
class ValidationError extends GlairVisionError {
  constructor(message, { field = null } = {}) {
    super(message);
    /** @type {string | null} */
    this.field = field;
  }
}
ValidationError.code = 'validation';

/** The client cannot send: missing credentials, a bad base URL or option. */
class ConfigurationError extends GlairVisionError {}
ConfigurationError.code = 'configuration';

/** The API answered with an error (or a 2xx that is not a verification result). */
class APIError extends GlairVisionError {
  constructor(
    message,
    { status = null, reason = null, requestId = null, body = '', retryAfter = null, result = null, clientRequestId = null } = {},
  ) {
    super(message);
    /** HTTP status code. */
    this.status = status;
    /** The reason read from the body, if any. */
    this.reason = reason;
    /** The `Request-Id` response header, for GLAIR support. */
    this.requestId = requestId;
    /** The start of the raw response body. */
    this.body = body;
    /** Seconds the server asked us to wait (429/503 `Retry-After`), or null. */
    this.retryAfter = retryAfter;
    /** Per-field result carried by some errors (503: every sent field null), or null. */
    this.result = result;
    /** Your correlation id (the `requestId` option), sent as `x-request-id`, or null. */
    this.clientRequestId = clientRequestId;
  }
}
APIError.code = 'api_error';

/** 400 (and other 4xx not listed below). */
class BadRequestError extends APIError {}
BadRequestError.code = 'bad_request';
/** 401: wrong username or password. */
class AuthenticationError extends APIError {}
AuthenticationError.code = 'authentication';
/** 403: API key refused. */
class PermissionDeniedError extends APIError {}
PermissionDeniedError.code = 'permission_denied';
/** 404: usually a wrong base URL or API version. */
class NotFoundError extends APIError {}
NotFoundError.code = 'not_found';
/** 429: too many requests; see `retryAfter`. */
class RateLimitError extends APIError {}
RateLimitError.code = 'rate_limited';
/** 503: Dukcapil (the registry) is down. */
class ServiceUnavailableError extends APIError {}
ServiceUnavailableError.code = 'service_unavailable';
/** Any other 5xx. */
class ServerError extends APIError {}
ServerError.code = 'server';
/** A 2xx whose body is not a full verification result, or a body over the size cap. */
class DecodeError extends APIError {}
DecodeError.code = 'decode';
/**
 * A 3xx: redirects are never followed (they would carry the credentials and the
 * personal data elsewhere). `location` is the `Location` header, or null.
 */
class RedirectError extends APIError {
  constructor(message, options = {}) {
    super(message, options);
    /** Where the server pointed (the `Location` header), or null. */
    this.location = options.location ?? null;
  }
}
RedirectError.code = 'redirect';
/**
 * The status line arrived, then the body failed (dropped, or a timeout or the
 * deadline while reading). Never retried: the server may have processed, and
 * billed, the call.
 */
class IncompleteResponseError extends APIError {}
IncompleteResponseError.code = 'incomplete_response';

/** No answer: DNS failure, connection refused or reset, TLS error. */
class APIConnectionError extends GlairVisionError {
  constructor(message, { clientRequestId = null } = {}) {
    super(message);
    /** Your correlation id (the `requestId` option), or null. */
    this.clientRequestId = clientRequestId;
  }
}
APIConnectionError.code = 'connection';
/** The connect or per-attempt timeout, or the call's deadline, passed before an answer. */
class APITimeoutError extends APIConnectionError {}
APITimeoutError.code = 'timeout';
/** The call was cancelled (a batch was stopped) before it finished. */
class CancelledError extends GlairVisionError {}
CancelledError.code = 'cancelled';

/** Where a bug in glair-vision is reported. */
const ISSUES = 'https://github.com/glair-vision/glair-vision/issues';

/**
 * A bug in glair-vision, not in your code, input or the service: its native
 * code panicked. The call failed; the process goes on and the client still
 * works. Please report it (with the message) at
 * https://github.com/glair-vision/glair-vision/issues. `detail` is what the
 * panic said.
 */
class InternalError extends GlairVisionError {
  constructor(message, { detail = null } = {}) {
    super(message);
    /** What the panic said. */
    this.detail = detail ?? message;
  }

  /** The error for a panic in native code that said `detail`. */
  static fromPanic(detail) {
    const text = detail ? String(detail) : 'a panic in native code';
    return new InternalError(`internal error in glair-vision (a bug: please report it at ${ISSUES}): ${text}`, {
      detail: text,
    });
  }
}
InternalError.code = 'internal';

const BY_CODE = {};
for (const cls of [
  ValidationError,
  ConfigurationError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  RateLimitError,
  ServiceUnavailableError,
  ServerError,
  DecodeError,
  RedirectError,
  IncompleteResponseError,
  APIConnectionError,
  APITimeoutError,
  CancelledError,
  InternalError,
]) {
  BY_CODE[cls.code] = cls;
}

/** Builds the error class instance for a payload `{code, message, ...}` from the core. */
function fromPayload(p) {
  const cls = BY_CODE[p.code] || GlairVisionError;
  if (cls === ValidationError) return new ValidationError(p.message, { field: p.field ?? null });
  if (cls === InternalError) return InternalError.fromPanic(p.detail ?? p.message);
  if (cls.prototype instanceof APIError) {
    return new cls(p.message, {
      status: p.status ?? null,
      reason: p.reason ?? null,
      requestId: p.requestId ?? null,
      body: p.body ?? '',
      retryAfter: p.retryAfter ?? null,
      result: p.result ?? null,
      clientRequestId: p.clientRequestId ?? null,
      location: p.location ?? null,
    });
  }
  if (cls === APIConnectionError || cls.prototype instanceof APIConnectionError) {
    return new cls(p.message, { clientRequestId: p.clientRequestId ?? null });
  }
  return new cls(p.message);
}

/** Maps an error thrown by the native addon to this package's classes. */
function fromNative(err) {
  if (err instanceof GlairVisionError) return err;
  const message = err && typeof err.message === 'string' ? err.message : '';
  const at = message.indexOf(PREFIX);
  if (at >= 0) {
    try {
      return fromPayload(JSON.parse(message.slice(at + PREFIX.length)));
    } catch (_) {
      // fall through
    }
  }
  if (err && (err.code === 'InvalidArg' || err.code === 'NumberExpected' || err.code === 'StringExpected')) {
    return new ValidationError(message || 'invalid argument', { field: null });
  }
  // The addon's own errors all carry the prefix; a bare GenericFailure is a
  // panic napi-rs caught (a sync function's `catch_unwind`, an async one's
  // poll), its message the panic's text.
  if (err && err.code === 'GenericFailure') return InternalError.fromPanic(message);
  return err;
}

/** Runs a synchronous native call so it throws this package's classes. */
function callSync(fn) {
  try {
    return fn();
  } catch (err) {
    throw fromNative(err);
  }
}

/** Wraps a promise-returning native call so it rejects with this package's classes. */
async function call(fn) {
  try {
    return await fn();
  } catch (err) {
    throw fromNative(err);
  }
}

module.exports = {
  GlairVisionError,
  ValidationError,
  ConfigurationError,
  APIError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  RateLimitError,
  ServiceUnavailableError,
  ServerError,
  DecodeError,
  RedirectError,
  IncompleteResponseError,
  APIConnectionError,
  APITimeoutError,
  CancelledError,
  InternalError,
  fromPayload,
  fromNative,
  call,
  callSync,
};
