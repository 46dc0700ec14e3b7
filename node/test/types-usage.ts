// Type-checked (tsc --noEmit) against the shipped index.d.ts; never run.
import {
  Vision,
  Sandbox,
  FIELDS,
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
  APIConnectionError,
  APITimeoutError,
  maskNik,
  setLogger,
  RedirectError,
  IncompleteResponseError,
  LogLevel,
} from 'glair-vision';
import type {
  Settings,
  RequestOverrides,
  VerificationParams,
  VerificationResult,
  FieldResults,
  FieldName,
  BatchOutcome,
  StreamItem,
  SandboxRequest,
  PacingState,
  RateLimit,
} from 'glair-vision';

export async function usage(): Promise<void> {
  const settings: Settings = { apiKey: 'k', username: 'u', password: 'p', baseUrl: 'http://x', apiVersion: 'v1', timeoutMs: 5000, maxRetries: 2 };
  const vision = new Vision(settings);
  const params: VerificationParams = {
    nik: '3171014508900001',
    name: 'SITI RAHAYU',
    date_of_birth: new Date(1990, 7, 5),
    no_kk: '3171010101100001',
    mother_maiden_name: 'AMINAH',
    place_of_birth: 'JAKARTA',
    address: 'JL. MERDEKA NO. 1',
    gender: 'PEREMPUAN',
    marital_status: 'KAWIN',
    job_type: 'KARYAWAN SWASTA',
    province: 'DKI JAKARTA',
    city: 'JAKARTA PUSAT',
    district: 'GAMBIR',
    subdistrict: 'GAMBIR',
    rt: '001',
    rw: '002',
  };
  const overrides: RequestOverrides = { apiKey: 'x', username: 'y', password: 'z', baseUrl: 'http://y', timeoutMs: 100, maxRetries: 0 };
  const r: VerificationResult = await vision.identity.verification(params, overrides);
  const ok: boolean = r.verification_status;
  const reason: string = r.reason;
  const id: string | null = r.requestId;
  const results: FieldResults = r.result;
  const nameMatched: boolean | null = results.name;
  const field: FieldName = FIELDS[0];
  void [ok, reason, id, nameMatched, field];

  // @ts-expect-error: nik is required
  await vision.identity.verification({ name: 'x' });
  // @ts-expect-error: nik is a string
  await vision.identity.verification({ nik: 3171014508900001 });
  // @ts-expect-error: unknown field
  await vision.identity.verification({ nik: 'x', nama: 'x' });

  try {
    await vision.identity.verification({ nik: '3171014508900001' });
  } catch (e) {
    if (e instanceof ValidationError) {
      const f: string | null = e.field;
      const code: 'validation' = e.code;
      void [f, code];
    } else if (e instanceof RateLimitError) {
      const wait: number | null = e.retryAfter;
      void wait;
    } else if (e instanceof APIError) {
      const status: number = e.status;
      const reasonText: string | null = e.reason;
      const requestId: string | null = e.requestId;
      const body: string = e.body;
      void [status, reasonText, requestId, body];
    } else if (e instanceof APITimeoutError || e instanceof APIConnectionError || e instanceof ConfigurationError) {
      const code: string = e.code;
      void code;
    } else if (e instanceof GlairVisionError) {
      const message: string = e.message;
      void message;
    }
  }
  const classes = [BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError, ServiceUnavailableError, ServerError, DecodeError];
  void classes;

  const outcomes: BatchOutcome[] = await vision.identity.verificationBatch([params, { nik: '3273012305850002' }], { concurrency: 8, rateLimit: 50 });
  for (const o of outcomes) {
    if (o.status === 'fulfilled') {
      const s: boolean = o.value.verification_status;
      void s;
    } else {
      const err: GlairVisionError = o.reason;
      void err;
    }
  }
  for await (const item of vision.identity.verificationStream([params], { concurrency: 4 })) {
    const it: StreamItem = item;
    if (it.error) {
      const code: string = it.error.code;
      void code;
    } else {
      const v: VerificationResult = it.value;
      void [v, it.index];
    }
  }

  const sb = await Sandbox.start({ records: [{ nik: '3578054107000123', name: 'NUR AINI' }], synthetic: 10, seed: 1, latencyMs: 0 });
  const url: string = sb.url;
  const v2: Vision = sb.vision({ maxRetries: 0 });
  const log: SandboxRequest[] = await sb.requests();
  const people = await sb.records();
  void [url, v2, log, people, sb.apiKey, sb.username, sb.password];
  const masked: string = maskNik('3171014508900001');
  setLogger((r) => void [r.level, r.target, r.message, r.fields['nik']], { level: 'info' });
  setLogger(null, { level: LogLevel.WARN });
  try {
    const r = await v2.identity.verification(params, { deadline: 2000, retryUnanswered: false, requestId: 'order-1' });
    const c: string | null = r.clientRequestId;
    void c;
  } catch (e) {
    if (e instanceof RedirectError) void (e.location ?? '');
    if (e instanceof IncompleteResponseError) void [e.status, e.clientRequestId];
  }
  void (await v2.identity.verificationBatch([{ ...params, requestId: 'row-1' }], { deadline: 5000 }));
  void masked;

  // Pacing: 'auto' or a number, client-wide and per batch; the pacer's state;
  // what each outcome took.
  const paced = new Vision({ ...settings, rateLimit: 'auto' });
  const fixed: RateLimit = new Vision({ ...settings, rateLimit: 190 }).rateLimit;
  const state: PacingState = paced.pacing();
  const rate: number | null = state.rate;
  void [fixed, rate, state.ceiling, state.sent, state.retries, state.throttled, state.succeeded, state.paused];
  // @ts-expect-error: 'auto' or a number only
  void new Vision({ rateLimit: 'fast' });
  for (const o of await paced.identity.verificationBatch([params], { rateLimit: 'auto' })) {
    const n: number = o.attempts + o.throttled;
    void n;
  }
  for await (const item of paced.identity.verificationStream([params], { rateLimit: 50 })) {
    const n: number = item.attempts - item.throttled;
    void n;
  }
  const limited = await Sandbox.start({ rateLimit: 200, burst: 20, latencyMs: 50, latencySpreadMs: 20 });
  const throttled: number = limited.throttled;
  void throttled;
  await limited.stop();
  await sb.stop();
}
