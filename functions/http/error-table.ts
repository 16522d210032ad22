import { CloudliteError, WriteOutcomeUnknownError } from '../core/errors';
import { jsonResponse, type HttpResponse } from './responses';

/**
 * The one table from error codes to HTTP statuses. Messages of these errors are written for
 * callers and are answered as they are (5xx included: a WRITE_OUTCOME_UNKNOWN with its write id
 * is what the caller needs). Anything not in this table is an unexpected failure: a generic 500
 * whose details, like every cause, go only to the log.
 */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  BAD_REQUEST: 400,
  SQL_ERROR: 400,
  MIGRATION_CHECKSUM_MISMATCH: 400,
  VERSION_READ_ONLY: 400,
  INVALID_DATABASE_FILE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  STATEMENT_NOT_ALLOWED: 403,
  DATABASE_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  WRITE_CONFLICT: 409,
  DATABASE_EXISTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  RESULT_TOO_LARGE: 413,
  DATABASE_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RESOURCE_LIMIT: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  CORRUPT_DATABASE: 500,
  STORAGE_UNAVAILABLE: 503,
  WRITE_OUTCOME_UNKNOWN: 503,
  NOT_READY: 503,
  SERVICE_UNAVAILABLE: 503,
  LOCK_TIMEOUT: 503,
  STATEMENT_TIMEOUT: 504,
  REQUEST_TIMEOUT: 504,
};

export interface ErrorBody {
  error: { code: string; message: string; request_id?: string; statement_index?: number; write_id?: string };
}

/** The answer to a failed request, and how its one log line should read. */
export interface ErrorAnswer {
  response: HttpResponse;
  code: string;
  /** info: the caller's mistake; warn: expected under load (lock busy, throttling); error: someone must look. */
  level: 'info' | 'warn' | 'error';
  /** For the log only: the error, its cause and stack. */
  details?: string;
}

export function errorAnswer(error: unknown, requestId?: string): ErrorAnswer {
  const status = error instanceof CloudliteError ? STATUS_BY_CODE[error.code] : undefined;
  if (!(error instanceof CloudliteError) || status === undefined) {
    const body: ErrorBody = { error: { code: 'INTERNAL', message: 'internal error; it has been logged with the request id', request_id: requestId } };
    return { response: jsonResponse(500, body), code: 'INTERNAL', level: 'error', details: describeError(error) };
  }
  const body: ErrorBody = { error: { code: error.code, message: error.message, request_id: requestId } };
  if (error.statementIndex !== undefined) body.error.statement_index = error.statementIndex;
  // The id the unknown write is stamped with in S3: what an operator searches for.
  if (error instanceof WriteOutcomeUnknownError && error.writeId !== undefined) body.error.write_id = error.writeId;
  const headers: Record<string, string> = {};
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  if (status === 401) headers['www-authenticate'] = 'Bearer realm="cloudlite"';
  const response = jsonResponse(status, body, headers);
  if (status < 500) return { response, code: error.code, level: 'info' };
  const expected = error.retryAfterSeconds !== undefined && !error.needsOperator;
  return { response, code: error.code, level: expected ? 'warn' : 'error', details: describeError(error) };
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (cause: ${error.cause.name}: ${error.cause.message})` : '';
  return `${error.name}: ${error.message}${cause}\n${error.stack ?? ''}`;
}
