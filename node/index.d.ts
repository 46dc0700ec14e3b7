/// <reference lib="es2018" />
// Types of the `glair-vision` package (hand-written for the JS layer; the
// native addon's own generated types are in native.d.ts).

/** The 16 wire field names of the KTP Basic Verification endpoint. */
export type FieldName =
  | 'nik'
  | 'name'
  | 'date_of_birth'
  | 'no_kk'
  | 'mother_maiden_name'
  | 'place_of_birth'
  | 'address'
  | 'gender'
  | 'marital_status'
  | 'job_type'
  | 'province'
  | 'city'
  | 'district'
  | 'subdistrict'
  | 'rt'
  | 'rw';

/** This package's version: the same as the Rust core's and the Python package's. */
export declare const version: string;

/** The 16 wire field names, in documentation order. */
export declare const FIELDS: readonly FieldName[];

/**
 * What to verify. `nik` is required; every other field is optional and only the
 * fields you set are sent. `undefined` and `null` mean "not set".
 */
export interface VerificationParams {
  /** 16-digit NIK (spaces and dashes are stripped). */
  nik: string;
  name?: string | null;
  /**
   * dd-mm-yyyy (also dd/mm/yyyy or ISO yyyy-mm-dd), or a JS `Date`: its
   * **local** calendar date is sent (getFullYear/getMonth/getDate).
   */
  date_of_birth?: string | Date | null;
  /** 16-digit family card (KK) number. */
  no_kk?: string | null;
  mother_maiden_name?: string | null;
  place_of_birth?: string | null;
  address?: string | null;
  /** LAKI-LAKI / PEREMPUAN (also L/P, male/female, M/F, any case). */
  gender?: string | null;
  /** BELUM KAWIN, KAWIN, CERAI HIDUP, CERAI MATI (also single, married, divorced, widowed). */
  marital_status?: string | null;
  job_type?: string | null;
  province?: string | null;
  city?: string | null;
  district?: string | null;
  subdistrict?: string | null;
  /** 1-3 digits, sent zero-padded to 3. */
  rt?: string | null;
  /** 1-3 digits, sent zero-padded to 3. */
  rw?: string | null;
}

/** Per-field status: true matches, false does not, null not sent or not checked. */
export type FieldResults = { [F in FieldName]: boolean | null };

/** The answer of one verification (wire keys, plus `requestId`). */
export interface VerificationResult {
  /** True when every field sent matched the registry. */
  verification_status: boolean;
  /** The API's explanation, e.g. "Verification Success", "Name does not match". */
  reason: string;
  /** One entry per field (all 16 present). */
  result: FieldResults;
  /** The `Request-Id` response header, for GLAIR support. */
  requestId: string | null;
  /** Your correlation id (the `requestId` option), sent as `x-request-id`, or null. */
  clientRequestId: string | null;
}

/** Client settings: `@glair/vision`'s `Settings`, plus timeout and retries. */
export interface Settings {
  /** Default: GLAIR_API_KEY. */
  apiKey?: string;
  /** Default: GLAIR_USERNAME. */
  username?: string;
  /** Default: GLAIR_PASSWORD. */
  password?: string;
  /** Default: GLAIR_BASE_URL, else https://api.vision.glair.ai. */
  baseUrl?: string;
  /** Default "v1". */
  apiVersion?: string;
  /** Deadline per attempt, connect to last byte, in milliseconds: 1 to 86400000 (a day). Default 30000. */
  timeoutMs?: number;
  /** Deadline for connecting, in milliseconds: 1 to 86400000. Default 10000. */
  connectTimeoutMs?: number;
  /** Retries after the first attempt on 429, 5xx, timeouts and connection errors: an integer, 0 to 100. Default 2. */
  maxRetries?: number;
  /** Whether unset settings are read from the GLAIR_* environment. Default true. */
  readEnv?: boolean;
  /** Deadline of the whole call (every attempt and every wait), in milliseconds: 1 to 86400000. Default 60000. */
  deadline?: number;
  /**
   * Retry failures that leave it unknown whether the call was processed (a timeout
   * or reset after sending, a 500): the call may then be billed twice. Default false.
   */
  retryUnanswered?: boolean;
  /**
   * How fast every call of this client may start, together: `'auto'` (the
   * default) finds the account's pace after the first 429; a number is a hard
   * ceiling of calls started per second. See `vision.pacing()`.
   */
  rateLimit?: RateLimit;
  /**
   * A pacing store, `redis://` or `rediss://` (Redis or Valkey; `user:password@`
   * and `/db` as Redis URLs have them): every process of the account that names
   * it, on any host, paces as one client. Default: GLAIR_VISION_PACING_URL.
   */
  pacingUrl?: string;
  /**
   * Certificate authorities trusted besides the system's roots: a path, PEM
   * text or a Buffer, or several. `NODE_EXTRA_CA_CERTS` and `SSL_CERT_FILE`
   * are honoured too.
   */
  caBundle?: PemSource | PemSource[];
  /** Trust only `caBundle`, not the system's roots (nor the variables above). Default false. */
  caBundleOnly?: boolean;
  /**
   * A proxy URL (`http://`, `https://`, `socks5://`, `socks5h://`; `user:password@`
   * if it asks), or `false` to connect directly. Default: HTTPS_PROXY, HTTP_PROXY or
   * ALL_PROXY; hosts in NO_PROXY are reached directly either way.
   */
  proxy?: string | false;
  /** A client certificate (chain) for gateways that require mutual TLS; with `clientKey`. */
  clientCert?: PemSource;
  /** The private key of `clientCert`. */
  clientKey?: PemSource;
  /**
   * OpenTelemetry spans and metrics of calls (`@opentelemetry/api`, an optional
   * peer dependency): on when a provider is registered globally or given below;
   * `false` turns them off (as does GLAIR_VISION_TELEMETRY=0). Default true.
   */
  telemetry?: boolean;
  /** A tracer provider to use instead of the global one. */
  tracerProvider?: { getTracer(name: string, version?: string): unknown };
  /** A meter provider to use instead of the global one. */
  meterProvider?: { getMeter(name: string, version?: string): unknown };
}

/**
 * `'auto'`: as fast as the account allows (unlimited until the first 429, then
 * the adaptive rate of the client's pacer); a number from 0.001 to 1000000: a
 * hard ceiling of calls started per second.
 */
export type RateLimit = 'auto' | number;

/** A PEM setting: a file path, PEM text (a string holding "-----BEGIN") or its bytes (a Buffer or Uint8Array). */
export type PemSource = string | Uint8Array;

/** The state of a client's pacer (`vision.pacing()`), for progress displays and logs. */
export interface PacingState {
  /** Calls started per second now; null while unlimited (no 429 seen, no ceiling). */
  rate: number | null;
  /** The configured ceiling (`rateLimit` a number), or null. */
  ceiling: number | null;
  /** What the pacer believes the account accepts, calls per second; null while unknown. */
  limit: number | null;
  /** The window of the quota the gateway announced, in seconds; null when none was. */
  window: number | null;
  /** Where the pacer stands. */
  model: 'unpaced' | 'searching' | 'measuring' | 'holding' | 'announced' | 'ceiling';
  /** Whether the limit comes from the gateway's rate-limit headers. */
  fromHeaders: boolean;
  /** Attempts sent (first attempts and retries). */
  sent: number;
  /** Of those, retries. */
  retries: number;
  /** Attempts answered 429. */
  throttled: number;
  /** Attempts answered with a result: the calls billed. */
  succeeded: number;
  /** Whether a pause (refusals in a row, or an announced quota spent) holds every call back now. */
  paused: boolean;
  /** With a pacing store (`pacingUrl`), how the pace is shared; null without one. */
  store: PacingStoreState | null;
}

/** How a client shares its account's pace through a pacing store. */
export interface PacingStoreState {
  /** Whether this process paces from the store's state (it joins at its first 429, or when the account is already paced there). */
  joined: boolean;
  /** False while the store cannot be reached: the process paces alone meanwhile. */
  connected: boolean;
  /** Processes that shared the account's pace lately, this one included. */
  processes: number;
  /** Round trips to the store so far (reads and exchanges of leases). */
  roundTrips: number;
  /** What the store added to this process's attempts at the 99th percentile, in seconds (the wait for an exchange before an attempt's slot). */
  waitP99: number;
}

/** A gateway for the sandbox, setting by setting (see `SandboxOptions.gateway`). */
export interface GatewaySettings {
  model: 'token-bucket' | 'fixed-window' | 'sliding-window' | 'leaky-queue';
  rate?: number;
  burst?: number;
  limit?: number;
  window?: string | number;
  depth?: number;
  retryAfter?: 'exact' | 'absent' | 'date' | number;
  headers?: 'none' | 'x-ratelimit' | 'kong' | 'ietf';
  changes?: Array<[number, number]>;
}

/** Per-call overrides (the second argument of `verification`, as in `@glair/vision`). */
export interface RequestOverrides {
  apiKey?: string;
  username?: string;
  password?: string;
  baseUrl?: string;
  apiVersion?: string;
  /** Deadline per attempt for this call, in milliseconds (1 to 86400000). */
  timeoutMs?: number;
  /** Retries for this call (0 to 100). */
  maxRetries?: number;
  /** Deadline of this call (attempts and waits), in milliseconds (1 to 86400000). */
  deadline?: number;
  /** Retry failures that leave it unknown whether the call was processed. */
  retryUnanswered?: boolean;
  /**
   * A W3C trace context to send (`00-<trace id>-<span id>-<flags>`) when you trace
   * without OpenTelemetry; with it, the call's span sets its own.
   */
  traceparent?: string;
  tracestate?: string;
  /**
   * Your correlation id, sent as `x-request-id` (1-128 visible ASCII characters)
   * and kept as `clientRequestId` on the result or error. In batches, per record
   * with a `requestId` key instead.
   */
  requestId?: string;
}

/** Options of `verificationBatch` and `verificationStream`: per-call overrides apply to every record. */
export interface BatchOptions extends RequestOverrides {
  /** Calls in flight at once: an integer from 1 to 4096. Default 16. */
  concurrency?: number;
  /**
   * `'auto'` (the default): as fast as the account allows, paced by the
   * client after the first 429 (throttled records are sent again, not failed).
   * A number: at most this many calls started per second by this batch, evenly
   * spaced across all workers.
   */
  rateLimit?: RateLimit;
  /**
   * With OpenTelemetry on, also make each record a CLIENT span under the
   * batch's `glair_vision.batch` span (from when a worker takes it to its
   * outcome), whose trace context that record sends. Default false: one span
   * per batch, whose trace context every record sends.
   */
  rowSpans?: boolean;
}

/** What one batch record took: attempts sent (0 if refused before sending), and how many were answered 429. */
export interface AttemptCounts {
  attempts: number;
  throttled: number;
}

/**
 * A batch record: the fields, and optionally its own correlation id
 * (`x-request-id`) and W3C trace context (sent instead of the batch's).
 */
export type BatchRecord = VerificationParams & {
  requestId?: string | null;
  traceparent?: string | null;
  tracestate?: string | null;
};

export interface BatchFulfilled extends AttemptCounts {
  status: 'fulfilled';
  value: VerificationResult;
}
export interface BatchRejected extends AttemptCounts {
  status: 'rejected';
  reason: GlairVisionError;
}
/** One settled outcome of `verificationBatch`, like `Promise.allSettled`'s. */
export type BatchOutcome = BatchFulfilled | BatchRejected;

/** One outcome of `verificationStream`, with its position in the input. */
export type StreamItem =
  | ({ index: number; value: VerificationResult; error?: undefined } & AttemptCounts)
  | ({ index: number; error: GlairVisionError; value?: undefined } & AttemptCounts);

/** `vision.identity`: KTP Basic Verification. */
export declare class Identity {
  private constructor();
  /** Verifies one person; rejects with a `GlairVisionError` subclass. */
  verification(params: VerificationParams, overrides?: RequestOverrides): Promise<VerificationResult>;
  /** Verifies every record; resolves to outcomes in input order (never rejects for one record). */
  verificationBatch(
    records: Iterable<BatchRecord>,
    options?: BatchOptions,
  ): Promise<BatchOutcome[]>;
  /** Verifies every record, yielding outcomes as they complete. Breaking out cancels the rest. */
  verificationStream(
    records: Iterable<BatchRecord> | AsyncIterable<BatchRecord>,
    options?: BatchOptions,
  ): AsyncGenerator<StreamItem, void, undefined>;
}

/** A GLAIR Vision client: a drop-in for `@glair/vision`'s `Vision`. */
export declare class Vision {
  /** Throws `ConfigurationError` when credentials are missing (argument and environment). */
  constructor(settings?: Settings);
  readonly identity: Identity;
  readonly baseUrl: string;
  readonly apiVersion: string;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** The whole call's deadline, in milliseconds. */
  readonly deadline: number;
  readonly userAgent: string;
  /** The client-wide ceiling of calls started per second, or 'auto'. */
  readonly rateLimit: RateLimit;
  /** The state of this client's pacer now (shared by every call it makes). */
  pacing(): PacingState;
  /** The pacing store in use (credentials redacted), or null. */
  readonly pacingUrl: string | null;
  toJSON(): { baseUrl: string; apiVersion: string; timeoutMs: number; maxRetries: number };
}

/** Options of `Sandbox.start`. */
export interface SandboxOptions {
  /** Extra people: objects keyed by the wire field names, or a .jsonl/.json/.csv file path. */
  records?: Array<Partial<Record<FieldName, string | Date>>> | string;
  /** Synthetic people generated, at most 100000 (default 100). */
  synthetic?: number;
  /** Seed of the synthetic registry (default 0). */
  seed?: number;
  /** Accepted username (default "sandbox"). */
  username?: string;
  /** Accepted password (default "sandbox-password"). */
  password?: string;
  /** Accepted API key (default "sandbox-api-key"). */
  apiKey?: string;
  /** Added to every answer, in milliseconds (default 0): the mean when `latencySpreadMs` is set. */
  latencyMs?: number;
  /** Standard deviation of that time: each answer waits a log-normal draw, seeded by `seed` (default 0: a constant). */
  latencySpreadMs?: number;
  /** Requests per second allowed per API key, as a gateway's token bucket; past it, 429 with Retry-After (default 0: no limit). */
  rateLimit?: number;
  /** Requests an idle API key may send at once before `rateLimit` applies (default 20). */
  burst?: number;
  /**
   * Another gateway instead of `rateLimit`'s token bucket, as text
   * (`'model=fixed-window,limit=100,window=1s,headers=kong'`) or settings:
   * the model (`token-bucket` with `rate`, `burst`; `fixed-window` or
   * `sliding-window` with `limit`, `window` such as `'1s'` or `'1m'`;
   * `leaky-queue` with `rate`, `depth`), `retryAfter` (`'exact'`, `'absent'`,
   * `'date'` or whole seconds), `headers` (`'none'`, `'x-ratelimit'`, `'kong'`,
   * `'ietf'`) and `changes` (`[[seconds, factor], ...]`: the limit moving).
   */
  gateway?: string | GatewaySettings;
  /** Share of answers that are 503, 0..1 (default 0). */
  failureRate?: number;
  /** How long NIKs ending 9408 wait, in milliseconds (default 3000). */
  slowDelayMs?: number;
  /** Free-text similarity threshold, 0..1 (default 0.85). */
  matchThreshold?: number;
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: an ephemeral port). */
  port?: number;
  /** Serve HTTPS with a certificate from a CA the sandbox makes (`caFile`). Default false. */
  tls?: boolean;
  /** With `tls`, require a client certificate the sandbox also makes (`clientCertFile`, `clientKeyFile`). */
  tlsClientAuth?: boolean;
  /** Where `tls` writes its PEM files (kept); default a temporary directory removed on `stop()`. */
  tlsDir?: string;
  /** More host names for the certificate, besides localhost, 127.0.0.1, ::1 and `host`. */
  tlsNames?: string[];
}

/** A request the sandbox received. */
export interface SandboxRequest {
  /** The form fields as sent, in order. */
  fields: Array<[string, string]>;
  content_type: string;
  user_agent: string | null;
  request_id: string;
  /** The caller's correlation id (`x-request-id`), or null. */
  client_request_id: string | null;
  /** The W3C trace context it sent, or null. */
  traceparent: string | null;
  tracestate: string | null;
  status: number;
}

/** A local GLAIR Vision sandbox running in this process. */
export declare class Sandbox {
  private constructor();
  static start(options?: SandboxOptions): Promise<Sandbox>;
  /** The OpenAPI 3.1 document of the endpoint as the sandbox serves it (also at `${url}/openapi.json`). */
  static openapi(): Record<string, any>;
  /** e.g. "http://127.0.0.1:41234" (no trailing slash). */
  readonly url: string;
  readonly apiKey: string;
  readonly username: string;
  readonly password: string;
  readonly credentials: { apiKey: string; username: string; password: string };
  /** Requests answered 429 by the `rateLimit` option so far. */
  readonly throttled: number;
  /** With `tls`: the CA certificate file (PEM) to trust; else null. */
  readonly caFile: string | null;
  /** With `tlsClientAuth`: the client certificate and key files (PEM); else null. */
  readonly clientCertFile: string | null;
  readonly clientKeyFile: string | null;
  /** A client pointed at this sandbox (GLAIR_* environment ignored; over TLS it trusts the sandbox). */
  vision(options?: Settings): Vision;
  /** Every person in the registry. */
  records(): Promise<Array<Partial<Record<FieldName, string>>>>;
  /** Requests received on the verification endpoint, oldest first. */
  requests(): Promise<SandboxRequest[]>;
  clearRequests(): Promise<void>;
  stop(): Promise<void>;
}

/** Stable error codes, shared with the Rust core, the Python package and the CLI. */
export type ErrorCode =
  | 'error'
  | 'validation'
  | 'configuration'
  | 'bad_request'
  | 'authentication'
  | 'permission_denied'
  | 'not_found'
  | 'rate_limited'
  | 'service_unavailable'
  | 'server'
  | 'decode'
  | 'timeout'
  | 'connection'
  | 'cancelled'
  | 'redirect'
  | 'incomplete_response'
  | 'internal';

/** Base class of every error this package throws. */
export declare class GlairVisionError extends Error {
  readonly code: ErrorCode | string;
  static readonly code: string;
}

/** Bad input, caught before anything was sent. */
export declare class ValidationError extends GlairVisionError {
  readonly code: 'validation';
  /** The offending wire field name (or unknown key). */
  readonly field: string | null;
}

/** Missing credentials, bad base URL or option. */
export declare class ConfigurationError extends GlairVisionError {
  readonly code: 'configuration';
}

/** The API answered with an error. */
export declare class APIError extends GlairVisionError {
  /** HTTP status code. */
  readonly status: number;
  /** The reason read from the body, if any. */
  readonly reason: string | null;
  /** The `Request-Id` response header. */
  readonly requestId: string | null;
  /** The start of the raw response body. */
  readonly body: string;
  /** Seconds the server asked to wait (Retry-After), if any. */
  readonly retryAfter: number | null;
  /** Per-field result carried by some errors (503), if any. */
  readonly result: FieldResults | null;
  /** Your correlation id (the `requestId` option), if any. */
  readonly clientRequestId: string | null;
}
/** 400. */
export declare class BadRequestError extends APIError {
  readonly code: 'bad_request';
}
/** 401. */
export declare class AuthenticationError extends APIError {
  readonly code: 'authentication';
}
/** 403. */
export declare class PermissionDeniedError extends APIError {
  readonly code: 'permission_denied';
}
/** 404. */
export declare class NotFoundError extends APIError {
  readonly code: 'not_found';
}
/** 429. */
export declare class RateLimitError extends APIError {
  readonly code: 'rate_limited';
}
/** 503: Dukcapil is down. */
export declare class ServiceUnavailableError extends APIError {
  readonly code: 'service_unavailable';
}
/** Other 5xx. */
export declare class ServerError extends APIError {
  readonly code: 'server';
}
/** A 2xx that is not a verification result. */
export declare class DecodeError extends APIError {
  readonly code: 'decode';
}
/** A 3xx: redirects are never followed. */
export declare class RedirectError extends APIError {
  readonly code: 'redirect';
  /** The `Location` header, if any. */
  readonly location: string | null;
}
/** The answer began, then its body failed: never retried (the call may be billed). */
export declare class IncompleteResponseError extends APIError {
  readonly code: 'incomplete_response';
}
/** DNS, refused, reset, TLS: no answer. */
export declare class APIConnectionError extends GlairVisionError {
  readonly code: 'connection' | 'timeout';
  /** Your correlation id (the `requestId` option), if any. */
  readonly clientRequestId: string | null;
}
/** The connect or total deadline passed. */
export declare class APITimeoutError extends APIConnectionError {
  readonly code: 'timeout';
}
/** The call was cancelled before it finished. */
export declare class CancelledError extends GlairVisionError {
  readonly code: 'cancelled';
}
/**
 * A bug in glair-vision (its native code panicked), not in your code, input or
 * the service. The call failed; the process goes on and the client still works.
 * Please report it with the message: https://github.com/glair-vision/glair-vision/issues
 */
export declare class InternalError extends GlairVisionError {
  readonly code: 'internal';
  /** What the panic said. */
  readonly detail: string;
}

/** `@glair/vision` compatibility. */
export declare enum LogLevel {
  DEBUG = 0,
  INFO = 1,
  WARN = 2,
  ERROR = 3,
  SILENT = 4,
}
/** A level name accepted by `setLogger` and `setLogLevel`. */
export type LogLevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** One log record, already redacted (NIK masked; never a name or a credential). */
export interface LogRecord {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  /** Where it came from, e.g. `glair_vision::client`. */
  target: string;
  message: string;
  /** e.g. `{ nik: '317101******0001', client_request_id: 'order-17' }`. */
  fields: Record<string, string>;
}

/**
 * Sends the package's log records at `level` or above (default `debug`) to
 * `logger`; `null` stops. Separate from GLAIR_LOG (stderr).
 */
export declare function setLogger(
  logger: ((record: LogRecord) => void) | null,
  options?: { level?: LogLevel | LogLevelName },
): void;
/** `@glair/vision` compatibility: the level of the logger set with `setLogger`. */
export declare function setLogLevel(level: LogLevel | LogLevelName): void;

/**
 * A NIK masked for logs and display: `317101******0001` (region and last 4 kept,
 * the birth date hidden); other text is hidden whole. Throws `ValidationError`
 * for a non-string.
 */
export declare function maskNik(nik: string): string;

declare const glair: {
  Vision: typeof Vision;
  Identity: typeof Identity;
  Sandbox: typeof Sandbox;
  FIELDS: typeof FIELDS;
  LogLevel: typeof LogLevel;
  setLogLevel: typeof setLogLevel;
  setLogger: typeof setLogger;
  maskNik: typeof maskNik;
  GlairVisionError: typeof GlairVisionError;
  ValidationError: typeof ValidationError;
  ConfigurationError: typeof ConfigurationError;
  APIError: typeof APIError;
  BadRequestError: typeof BadRequestError;
  AuthenticationError: typeof AuthenticationError;
  PermissionDeniedError: typeof PermissionDeniedError;
  NotFoundError: typeof NotFoundError;
  RateLimitError: typeof RateLimitError;
  ServiceUnavailableError: typeof ServiceUnavailableError;
  ServerError: typeof ServerError;
  DecodeError: typeof DecodeError;
  RedirectError: typeof RedirectError;
  IncompleteResponseError: typeof IncompleteResponseError;
  APIConnectionError: typeof APIConnectionError;
  APITimeoutError: typeof APITimeoutError;
  CancelledError: typeof CancelledError;
  InternalError: typeof InternalError;
};
export default glair;
