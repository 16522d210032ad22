import { ApiError, CloudliteError, GatewayError, NetworkError, SqlError, TimeoutError } from './errors.ts';
import { isRetryable, parseRetryAfter, retryDelayMs, type BackoffPolicy } from './retry.ts';

/**
 * One HTTP exchange with retries: each attempt has its own timeout, a failed attempt is retried
 * only as `retry.ts` allows, and an answer that is not 2xx becomes a typed error.
 */

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface RetryEvent {
  /** 1 for the first retry. */
  retry: number;
  delayMs: number;
  error: CloudliteError;
  method: string;
  path: string;
}

export interface Progress {
  /** Bytes received (downloads) or sent (uploads) so far. */
  bytes: number;
  /** The whole size, when known. */
  total: number | undefined;
}

export interface TransportOptions {
  url: string;
  key: string;
  fetch: FetchLike;
  timeoutMs: number;
  retries: number;
  backoff: BackoffPolicy;
  onRetry: ((event: RetryEvent) => void) | undefined;
}

export interface Exchange {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON to send, or raw bytes with their content type. */
  json?: unknown;
  bytes?: { data: Uint8Array; contentType: string };
  /** A multipart form (a presigned S3 POST); fetch sets its content type. */
  form?: FormData;
  /** Declared a read: retried after any transient failure (see retry.ts). */
  read: boolean;
  idempotencyKey?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  onProgress?: (progress: Progress) => void;
  /** Send no Authorization header (a presigned URL carries its own signature). */
  absoluteUrl?: boolean;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** The request id the answer carried, if any. */
  requestId: string | undefined;
  /** The Idempotency-Key the request was sent with: an answer that cannot be read may still be of an applied write. */
  idempotencyKey: string | undefined;
}

const TIMED_OUT = Symbol('timed out');

export async function exchange(options: TransportOptions, spec: Exchange): Promise<Answer> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt(options, spec);
    } catch (error) {
      if (!(error instanceof CloudliteError) || retry >= options.retries) throw error;
      if (!isRetryable(error, { read: spec.read, idempotencyKey: spec.idempotencyKey !== undefined })) throw error;
      const delayMs = retryDelayMs(retry, error.retryAfterSeconds, options.backoff);
      if (delayMs === undefined) throw error;
      options.onRetry?.({ retry: retry + 1, delayMs, error, method: spec.method, path: spec.path });
      await sleep(delayMs, spec.signal);
    }
  }
}

async function attempt(options: TransportOptions, spec: Exchange): Promise<Answer> {
  spec.signal?.throwIfAborted();
  const timeoutMs = spec.timeoutMs ?? options.timeoutMs;
  const controller = new AbortController();
  // Until the answer starts, then between its chunks: a body that keeps arriving is an answer, however long it takes.
  let timer = setTimeout(() => controller.abort(TIMED_OUT), timeoutMs);
  const stillArriving = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(TIMED_OUT), timeoutMs);
  };
  const forwardAbort = () => controller.abort(spec.signal?.reason);
  spec.signal?.addEventListener('abort', forwardAbort, { once: true });
  try {
    const response = await options.fetch(requestUrl(options.url, spec), { ...requestInit(options.key, spec), signal: controller.signal });
    const body = await readBody(response, spec.onProgress, stillArriving);
    const requestId = response.headers.get('x-request-id') ?? response.headers.get('apigw-requestid') ?? undefined;
    if (!response.ok) throw errorFromAnswer(response, body, requestId, spec.idempotencyKey);
    return { status: response.status, headers: response.headers, body, requestId, idempotencyKey: spec.idempotencyKey };
  } catch (error) {
    const idempotencyKey = spec.idempotencyKey;
    if (controller.signal.reason === TIMED_OUT) throw new TimeoutError(timeoutMs, { idempotencyKey });
    if (spec.signal?.aborted) throw spec.signal.reason;
    if (error instanceof CloudliteError) throw error;
    throw new NetworkError(`${spec.method} ${where(options.url, spec)} failed: ${describeFailure(error)}`, { cause: error, idempotencyKey });
  } finally {
    clearTimeout(timer);
    spec.signal?.removeEventListener('abort', forwardAbort);
  }
}

/** Where a request went, for messages: a presigned URL without its signature. */
function where(base: string, spec: Exchange): string {
  return spec.absoluteUrl ? spec.path.split('?')[0]! : `${base.replace(/\/+$/, '')}${spec.path}`;
}

/** fetch says only "fetch failed"; what failed (ECONNREFUSED, a TLS error, ...) is in its cause. */
function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const detail = typeof cause?.message === 'string' && cause.message !== '' ? cause.message : typeof cause?.code === 'string' ? cause.code : undefined;
  return detail ? `${message} (${detail})` : message;
}

function requestUrl(base: string, spec: Exchange): string {
  const url = new URL(spec.absoluteUrl ? spec.path : `${base.replace(/\/+$/, '')}${spec.path}`);
  for (const [name, value] of Object.entries(spec.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  return url.toString();
}

function requestInit(key: string, spec: Exchange): RequestInit {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (!spec.absoluteUrl) headers.authorization = `Bearer ${key}`;
  if (spec.idempotencyKey !== undefined) headers['idempotency-key'] = spec.idempotencyKey;
  let body: string | Uint8Array | undefined;
  if (spec.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(spec.json);
  } else if (spec.bytes) {
    headers['content-type'] = spec.bytes.contentType;
    body = spec.bytes.data;
  }
  if (spec.form) return { method: spec.method, headers, body: spec.form };
  return { method: spec.method, headers, body: body as RequestInit['body'] };
}

async function readBody(response: Response, onProgress: ((progress: Progress) => void) | undefined, onChunk: () => void): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const length = Number(response.headers.get('content-length'));
  const total = Number.isFinite(length) && length > 0 ? length : undefined;
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onChunk();
    chunks.push(value);
    bytes += value.byteLength;
    onProgress?.({ bytes, total });
  }
  const body = new Uint8Array(bytes);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function errorFromAnswer(response: Response, body: Uint8Array, requestIdHeader: string | undefined, idempotencyKey: string | undefined): CloudliteError {
  const text = new TextDecoder().decode(body);
  const parsed = parseJson(text) as { error?: { code?: unknown; message?: unknown; statement_index?: unknown; request_id?: unknown; write_id?: unknown }; message?: unknown } | undefined;
  const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'));
  const status = response.status;
  const error = parsed?.error;
  if (error && typeof error.code === 'string') {
    const requestId = requestIdHeader ?? (typeof error.request_id === 'string' ? error.request_id : undefined);
    const statementIndex = typeof error.statement_index === 'number' ? error.statement_index : undefined;
    const writeId = typeof error.write_id === 'string' ? error.write_id : undefined;
    const ErrorClass = error.code === 'SQL_ERROR' ? SqlError : ApiError;
    return new ErrorClass(error.code, typeof error.message === 'string' ? error.message : error.code, { status, requestId, retryAfterSeconds, statementIndex, writeId, idempotencyKey });
  }
  // API Gateway's own answers: {"message": "Not Found"}, or no JSON at all from a proxy.
  const message = typeof parsed?.message === 'string' ? parsed.message : text.slice(0, 200) || response.statusText || `HTTP ${status}`;
  return new GatewayError(`HTTP_${status}`, message, { status, requestId: requestIdHeader, retryAfterSeconds, idempotencyKey });
}

export function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function decodeJson(answer: Answer): unknown {
  return parseJson(new TextDecoder().decode(answer.body));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
