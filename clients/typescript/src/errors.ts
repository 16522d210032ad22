/**
 * Every failure the client reports is a CloudliteError with a stable `code`:
 *
 * - ApiError: the service answered with its own error body (`{"error": {"code", …}}`); the code
 *   is the service's (README "Errors"). SqlError is the SQL_ERROR case, with `statementIndex`.
 * - GatewayError: an answer without the service's error body, which API Gateway gives by itself
 *   (`{"message": "Not Found"}`, a 429 throttle, a 502/503/504); code `HTTP_<status>`.
 * - NetworkError (`NETWORK_ERROR`) and TimeoutError (`TIMEOUT`): no answer at all.
 */

/** The codes the service answers with today; others may come, so `code` stays a string. */
export type ServiceErrorCode =
  | 'BAD_REQUEST'
  | 'SQL_ERROR'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'STATEMENT_NOT_ALLOWED'
  | 'DATABASE_NOT_FOUND'
  | 'VERSION_NOT_FOUND'
  | 'VERSION_READ_ONLY'
  | 'DATABASE_EXISTS'
  | 'WRITE_CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'RESULT_TOO_LARGE'
  | 'DATABASE_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'RESOURCE_LIMIT'
  | 'CORRUPT_DATABASE'
  | 'INTERNAL'
  | 'LOCK_TIMEOUT'
  | 'STORAGE_UNAVAILABLE'
  | 'WRITE_OUTCOME_UNKNOWN'
  | 'NOT_READY'
  | 'SERVICE_UNAVAILABLE'
  | 'STATEMENT_TIMEOUT'
  | 'REQUEST_TIMEOUT';

export interface ErrorDetails {
  status?: number;
  requestId?: string;
  retryAfterSeconds?: number;
  statementIndex?: number;
  writeId?: string;
  idempotencyKey?: string;
  cause?: unknown;
}

export class CloudliteError extends Error {
  /** HTTP status of the answer; undefined when there was none (network failure, timeout). */
  readonly status: number | undefined;
  /** The request's id (`x-request-id`, or the error body's `request_id`): quote it when asking for help. */
  readonly requestId: string | undefined;
  /** The `Retry-After` the answer carried, in seconds. */
  readonly retryAfterSeconds: number | undefined;
  /**
   * The Idempotency-Key the request was sent with (the client's own when it made one). After
   * WRITE_OUTCOME_UNKNOWN, a timeout or a network error, the same request sent again with this
   * key (`idempotencyKey` per call) answers the first attempt's answer if it was applied, and
   * applies it once if it was not.
   */
  readonly idempotencyKey: string | undefined;

  constructor(
    readonly code: ServiceErrorCode | (string & {}),
    message: string,
    details: ErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.status = details.status;
    this.requestId = details.requestId;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.idempotencyKey = details.idempotencyKey;
  }
}

export class ApiError extends CloudliteError {
  /** Which statement of the request failed, when one did. */
  readonly statementIndex: number | undefined;
  /** WRITE_OUTCOME_UNKNOWN: the id of the write whose outcome is unknown (its versions carry it). */
  readonly writeId: string | undefined;

  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
    this.statementIndex = details.statementIndex;
    this.writeId = details.writeId;
  }
}

/** SQLite refused a statement (syntax, no such table, a constraint); `statementIndex` names it. */
export class SqlError extends ApiError {}

export class GatewayError extends CloudliteError {}

export class NetworkError extends CloudliteError {
  constructor(message: string, details: ErrorDetails) {
    super('NETWORK_ERROR', message, details);
  }
}

export class TimeoutError extends CloudliteError {
  constructor(timeoutMs: number, details: ErrorDetails = {}) {
    super('TIMEOUT', `no answer within ${timeoutMs} ms`, details);
  }
}
