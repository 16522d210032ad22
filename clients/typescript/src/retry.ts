import { CloudliteError, GatewayError, NetworkError, TimeoutError } from './errors.ts';

/**
 * When a failed request may be sent again. A retry must never apply a write twice, so what
 * matters is whether the failed attempt may have applied something:
 *
 * | failure                                                        | read | write with key | write without key |
 * |----------------------------------------------------------------|------|----------------|-------------------|
 * | 409 WRITE_CONFLICT, 503 LOCK_TIMEOUT, 503 SERVICE_UNAVAILABLE, | yes  | yes            | yes (nothing applied) |
 * | gateway 429 (throttled)                                        |      |                |                   |
 * | 503 STORAGE_UNAVAILABLE, 500 INTERNAL, 504 REQUEST_TIMEOUT,    | yes  | yes            | no  (may have applied) |
 * | gateway 5xx, no answer                                         |      |                |                   |
 * | 503 WRITE_OUTCOME_UNKNOWN                                      | -    | yes            | no  (a write; the key settles it) |
 * | anything else (4xx, STATEMENT_TIMEOUT, CORRUPT_DATABASE, …)    | no   | no             | no  (same answer again) |
 *
 * With an idempotency key the server answers a repeated write with the first attempt's answer
 * and applies nothing, so a retry is safe whatever happened to the first one.
 */

export interface RetryRequest {
  /** Whether the caller declared the request a read (GET endpoints, `query`). */
  read: boolean;
  /** Whether it carries an `Idempotency-Key`. */
  idempotencyKey: boolean;
}

// SERVICE_UNAVAILABLE: the function could not read its keys, so nothing was authenticated or run.
const NOTHING_APPLIED = new Set(['WRITE_CONFLICT', 'LOCK_TIMEOUT', 'SERVICE_UNAVAILABLE']);
// REQUEST_TIMEOUT answers only requests that change nothing; treated like the others all the same.
const OUTCOME_UNKNOWN_TO_A_WRITER = new Set(['STORAGE_UNAVAILABLE', 'INTERNAL', 'REQUEST_TIMEOUT']);

export function isRetryable(error: CloudliteError, request: RetryRequest): boolean {
  if (NOTHING_APPLIED.has(error.code)) return true;
  if (error instanceof GatewayError && error.status === 429) return true;
  // Only a write can have an unknown outcome, whatever the caller declared.
  if (error.code === 'WRITE_OUTCOME_UNKNOWN') return request.idempotencyKey;
  const transient =
    error instanceof NetworkError ||
    error instanceof TimeoutError ||
    OUTCOME_UNKNOWN_TO_A_WRITER.has(error.code) ||
    (error instanceof GatewayError && error.status !== undefined && error.status >= 500);
  return transient && (request.read || request.idempotencyKey);
}

export interface BackoffPolicy {
  /** The first retry waits up to this long; each further one doubles it (full jitter). */
  baseDelayMs: number;
  /** No wait is longer; a `Retry-After` beyond it ends the retries instead. */
  maxDelayMs: number;
}

/**
 * How long to wait before retry number `retry` (0 for the first): exponential backoff with full
 * jitter, or the server's `Retry-After` plus up to one base delay of jitter, so clients told the
 * same moment do not all come back at once. `undefined` when the server asks for longer than
 * `maxDelayMs`: better to fail now with `retryAfterSeconds` than to hang.
 */
export function retryDelayMs(retry: number, retryAfterSeconds: number | undefined, policy: BackoffPolicy, random: () => number = Math.random): number | undefined {
  const jitter = (ceiling: number) => Math.floor(random() * ceiling);
  if (retryAfterSeconds !== undefined) {
    const asked = retryAfterSeconds * 1000;
    return asked > policy.maxDelayMs ? undefined : asked + jitter(policy.baseDelayMs);
  }
  return jitter(Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry));
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^[0-9]+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}
