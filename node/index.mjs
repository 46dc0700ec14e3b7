// ESM entry point: the same classes as the CommonJS one (one copy, so
// `instanceof` works across `require` and `import`).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const glair = require('./index.js');

export const {
  version,
  Vision,
  Identity,
  Sandbox,
  FIELDS,
  LogLevel,
  setLogLevel,
  setLogger,
  maskNik,
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
} = glair;
export default glair;
